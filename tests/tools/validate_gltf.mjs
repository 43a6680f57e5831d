// Validate a .glb/.gltf with the Khronos glTF validator; prints the JSON report's issues summary.
import fs from "node:fs";
import path from "node:path";
import validator from "gltf-validator";

const file = process.argv[2];
const data = new Uint8Array(fs.readFileSync(file));
const report = await validator.validateBytes(data, {
  uri: path.basename(file),
  maxIssues: 200,
  externalResourceFunction: (uri) =>
    new Promise((resolve, reject) => {
      try { resolve(new Uint8Array(fs.readFileSync(path.join(path.dirname(file), decodeURIComponent(uri))))); }
      catch (e) { reject(e.toString()); }
    }),
});
process.stdout.write(JSON.stringify({ issues: report.issues, info: report.info }));
