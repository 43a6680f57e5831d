// The 3D viewer: three.js renders a GLB with orbit controls, lights, a ground grid, framing and animation playback.
import * as THREE from "three";
import { GLTFLoader } from "three/addons/loaders/GLTFLoader.js";
import { DRACOLoader } from "three/addons/loaders/DRACOLoader.js";
import { MeshoptDecoder } from "three/addons/libs/meshopt_decoder.module.js";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";
import { RoomEnvironment } from "three/addons/environments/RoomEnvironment.js";

// Every compression the optimize stage writes: EXT_meshopt_compression (+ KHR_mesh_quantization, which GLTFLoader reads
// natively) and KHR_draco_mesh_compression, whose WebAssembly decoder is served from three's own package (no CDN).
const DRACO_DECODER_PATH = "/vendor/three/examples/jsm/libs/draco/gltf/";
const COMPRESSION_NAMES = {
  EXT_meshopt_compression: "meshopt-compressed",
  KHR_meshopt_compression: "meshopt-compressed",
  KHR_draco_mesh_compression: "Draco-compressed",
};
let loader = null;

/** The one GLTFLoader, with the meshopt and Draco decoders attached (the Draco worker starts on first use). */
function gltfLoader() {
  if (!loader) {
    const draco = new DRACOLoader().setDecoderPath(DRACO_DECODER_PATH);
    loader = new GLTFLoader().setDRACOLoader(draco).setMeshoptDecoder(MeshoptDecoder);
  }
  return loader;
}

/** Count the triangles of every mesh under an object. */
export function countTriangles(root) {
  let triangles = 0;
  root.traverse((node) => {
    if (!node.isMesh || !node.geometry) return;
    const geometry = node.geometry;
    const vertices = geometry.index ? geometry.index.count : (geometry.attributes.position?.count ?? 0);
    triangles += Math.floor(vertices / 3);
  });
  return triangles;
}

/** A viewer bound to a container element; `container.dataset.loaded` holds the triangle count once a model shows. */
export class Viewer {
  constructor(container) {
    this.container = container;
    this.canvas = document.createElement("canvas");
    this.info = document.createElement("div");
    this.info.className = "viewer-info";
    this.playButton = document.createElement("button");
    this.playButton.className = "viewer-play";
    this.playButton.hidden = true;
    this.playButton.addEventListener("click", () => this.togglePlay());
    container.append(this.canvas, this.info, this.playButton);

    this.renderer = new THREE.WebGLRenderer({ canvas: this.canvas, antialias: true, preserveDrawingBuffer: true });
    this.renderer.setPixelRatio(Math.min(window.devicePixelRatio, 2));
    this.renderer.outputColorSpace = THREE.SRGBColorSpace;
    this.renderer.toneMapping = THREE.ACESFilmicToneMapping;
    this.scene = new THREE.Scene();
    this.scene.background = new THREE.Color(0x1d2330);
    this.camera = new THREE.PerspectiveCamera(45, 1, 0.01, 1000);
    this.camera.position.set(2, 1.5, 3);
    this.controls = new OrbitControls(this.camera, this.canvas);
    this.controls.enableDamping = true;

    const pmrem = new THREE.PMREMGenerator(this.renderer); // soft reflections, so metallic materials are not black
    this.scene.environment = pmrem.fromScene(new RoomEnvironment(), 0.04).texture;
    this.scene.environmentIntensity = 0.15;
    pmrem.dispose();
    this.scene.add(new THREE.HemisphereLight(0xdfe6ff, 0x2a2f3a, 0.6));
    const sun = new THREE.DirectionalLight(0xfff4e5, 2.6);
    sun.position.set(-3, 5, 2);
    this.scene.add(sun);
    this.grid = new THREE.GridHelper(10, 20, 0x6b7a99, 0x394256);
    this.scene.add(this.grid);

    this.timer = new THREE.Timer();
    this.model = null;
    this.mixer = null;
    this.playing = false;
    this.resize();
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(container);
    this.renderer.setAnimationLoop((time) => this.frame(time));
    this.setInfo("Open a GLB to view it here.");
  }

  /** Fit the renderer and camera to the container's size. */
  resize() {
    const width = this.container.clientWidth || 640;
    const height = this.container.clientHeight || 400;
    this.renderer.setSize(width, height, false);
    this.camera.aspect = width / height;
    this.camera.updateProjectionMatrix();
  }

  frame(time) {
    this.timer.update(time);
    const delta = this.timer.getDelta();
    if (this.mixer && this.playing) this.mixer.update(delta);
    this.controls.update();
    this.renderer.render(this.scene, this.camera);
  }

  setInfo(text) {
    this.info.textContent = text;
  }

  /** Load a GLB from a URL, replacing the current model; resolves with the triangle count.
   * `container.dataset.extensions` lists the glTF extensions the file used (e.g. EXT_meshopt_compression). */
  async load(url, label) {
    delete this.container.dataset.loaded;
    delete this.container.dataset.error;
    delete this.container.dataset.extensions;
    this.setInfo(`Loading ${label}…`);
    let gltf;
    try {
      gltf = await gltfLoader().loadAsync(url);
    } catch (error) {
      this.container.dataset.error = String(error.message || error);
      this.setInfo(`Could not load ${label}: ${error.message || error}`);
      throw error;
    }
    this.clear();
    this.model = gltf.scene;
    this.scene.add(this.model);
    this.frameModel();
    const triangles = countTriangles(this.model);
    const clip = gltf.animations[0];
    if (clip) {
      this.mixer = new THREE.AnimationMixer(this.model);
      this.mixer.clipAction(clip).play();
      this.playing = true;
    }
    this.playButton.hidden = !clip;
    this.updatePlayButton();
    const animation = clip ? ` · animation “${clip.name || "clip 1"}” ${clip.duration.toFixed(1)} s` : "";
    const used = gltf.parser.json.extensionsUsed || [];
    const packed = used.find((name) => COMPRESSION_NAMES[name]);
    const compression = packed ? ` · ${COMPRESSION_NAMES[packed]}` : "";
    this.setInfo(`${label} · ${triangles.toLocaleString()} triangles${animation}${compression}`);
    this.container.dataset.extensions = used.join(" ");
    this.container.dataset.loaded = String(triangles);
    return triangles;
  }

  /** Remove the current model and free its GPU resources. */
  clear() {
    if (!this.model) return;
    this.scene.remove(this.model);
    this.model.traverse((node) => {
      if (node.geometry) node.geometry.dispose();
      const materials = Array.isArray(node.material) ? node.material : node.material ? [node.material] : [];
      materials.forEach((material) => {
        Object.values(material).forEach((value) => { if (value && value.isTexture) value.dispose(); });
        material.dispose();
      });
    });
    this.model = null;
    this.mixer = null;
    this.playing = false;
  }

  /** Stand the model on the grid, centred, and point the camera at it from a distance that shows it whole. */
  frameModel() {
    const box = new THREE.Box3().setFromObject(this.model, true);
    if (box.isEmpty()) return;
    const size = box.getSize(new THREE.Vector3());
    const center = box.getCenter(new THREE.Vector3());
    this.model.position.sub(new THREE.Vector3(center.x, box.min.y, center.z));
    const radius = Math.max(size.length() / 2, 1e-3);
    const distance = radius / Math.sin(THREE.MathUtils.degToRad(this.camera.fov / 2));
    const target = new THREE.Vector3(0, size.y / 2, 0);
    this.camera.position.copy(target).add(new THREE.Vector3(0.6, 0.45, 1).normalize().multiplyScalar(distance));
    this.camera.near = distance / 100;
    this.camera.far = distance * 100;
    this.camera.updateProjectionMatrix();
    this.controls.target.copy(target);
    this.controls.update();
    this.grid.scale.setScalar(Math.max(size.x, size.z, size.y) * 2 / 10);
  }

  /** Stop rendering and release the WebGL context (the page showing the viewer went away). */
  dispose() {
    this.renderer.setAnimationLoop(null);
    this.resizeObserver.disconnect();
    this.clear();
    this.controls.dispose();
    this.renderer.dispose();
  }

  /** Play or pause the model's animation. */
  togglePlay() {
    this.playing = !this.playing;
    this.updatePlayButton();
  }

  updatePlayButton() {
    this.playButton.textContent = this.playing ? "❚❚ Pause" : "▶ Play";
  }
}
