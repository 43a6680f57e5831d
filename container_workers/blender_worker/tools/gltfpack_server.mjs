// A warm gltfpack: its WebAssembly module is compiled once, then it packs one request per line of stdin.
// Request: {"args": ["-i", "in.glb", "-o", "out.glb", ...]}; reply, one line: {"ok": true, "log": ...} or {"ok": false,
// "error": ...}. Run by the optimize stage (container_workers/blender_worker/gltfpack.py); ends when stdin closes.
import fs from "node:fs";
import readline from "node:readline";
import { pack } from "gltfpack";

const files = { read: (path) => fs.readFileSync(path), write: (path, data) => fs.writeFileSync(path, data) };
for await (const line of readline.createInterface({ input: process.stdin })) {
  let reply;
  try {
    reply = { ok: true, log: await pack(JSON.parse(line).args, files) };
  } catch (error) {
    reply = { ok: false, error: String((error && error.message) || error) };
  }
  process.stdout.write(JSON.stringify(reply) + "\n");
}
