// Draco-compress a GLB's meshes (KHR_draco_mesh_compression) with glTF-Transform and Google's draco3dgltf encoder.
// Usage: node draco.mjs <in.glb> <out.glb> <decoded.glb>; run by the optimize stage (blender_worker/gltfpack.py).
// <decoded.glb> is <out.glb> read back through the Draco decoder and written uncompressed, so what is delivered can be
// measured and validated.
import { NodeIO } from "@gltf-transform/core";
import { ALL_EXTENSIONS, KHRDracoMeshCompression } from "@gltf-transform/extensions";
import draco3d from "draco3dgltf";

const [input, output, decoded] = process.argv.slice(2);
if (!decoded) {
  console.error("usage: node draco.mjs <in.glb> <out.glb> <decoded.glb>");
  process.exit(2);
}
const io = new NodeIO().registerExtensions(ALL_EXTENSIONS).registerDependencies({
  "draco3d.encoder": await draco3d.createEncoderModule(),
  "draco3d.decoder": await draco3d.createDecoderModule(),
});
const document = await io.read(input);
document
  .createExtension(KHRDracoMeshCompression)
  .setRequired(true)
  .setEncoderOptions({ method: KHRDracoMeshCompression.EncoderMethod.EDGEBREAKER });
await io.write(output, document);
const readBack = await io.read(output);
for (const extension of readBack.getRoot().listExtensionsUsed()) {
  if (extension.extensionName === "KHR_draco_mesh_compression") extension.dispose();
}
await io.write(decoded, readBack);
