// What the API expects for an uploaded file: its asset kind and content type, guessed from the extension.

const TYPES = {
  png: ["IMAGE", "image/png"], jpg: ["IMAGE", "image/jpeg"], jpeg: ["IMAGE", "image/jpeg"], webp: ["IMAGE", "image/webp"],
  mp4: ["VIDEO", "video/mp4"], mov: ["VIDEO", "video/quicktime"], webm: ["VIDEO", "video/webm"],
  glb: ["MODEL_3D", "model/gltf-binary"], gltf: ["MODEL_3D", "model/gltf+json"], fbx: ["MODEL_3D", "application/octet-stream"],
  obj: ["MODEL_3D", "model/obj"], stl: ["MODEL_3D", "model/stl"], ply: ["MODEL_3D", "application/octet-stream"],
  usdz: ["MODEL_3D", "model/vnd.usdz+zip"], blend: ["MODEL_3D", "application/octet-stream"],
  bvh: ["ANIMATION", "application/octet-stream"],
};

/** The asset kinds a file may be uploaded as (the kind picker's choices). */
export const KINDS = [...new Set(Object.values(TYPES).map(([kind]) => kind))];

/** The accepted file extensions, for the file picker. */
export const ACCEPT = Object.keys(TYPES).map((ext) => "." + ext).join(",");

/** {kind, contentType} for a filename, or null when the extension is not accepted; `kind` overrides the guess. */
export function describeFile(filename, kind) {
  const ext = filename.includes(".") ? filename.split(".").pop().toLowerCase() : "";
  const known = TYPES[ext];
  if (!known) return null;
  return { kind: kind || known[0], contentType: known[1] };
}
