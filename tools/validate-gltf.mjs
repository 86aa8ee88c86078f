// Validates glTF 2.0 binary files (.glb) with the Khronos glTF validator (npm gltf-validator).
//
//   node tools/validate-gltf.mjs PATH...   (files, or folders searched recursively for .glb)
//
// Prints one JSON object on stdout: {"files", "errors", "warnings", "reports": [{"file",
// "errors", "warnings", "infos", "issues": [{"code", "severity", "pointer", "message"}]}]}
// listing the errors and warnings of each file; exits 1 when any file has an error, 2 on bad use.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import validator from "gltf-validator";

function collect(path, out) {
  const st = statSync(path);
  if (st.isDirectory()) {
    for (const name of readdirSync(path).sort()) collect(join(path, name), out);
  } else if (path.toLowerCase().endsWith(".glb") || path.toLowerCase().endsWith(".gltf")) {
    out.push(path);
  }
}

const args = process.argv.slice(2);
if (args.length === 0) {
  console.error("usage: node validate-gltf.mjs PATH...");
  process.exit(2);
}
const files = [];
for (const a of args) collect(resolve(a), files);

const reports = [];
let errors = 0;
let warnings = 0;
for (const file of files) {
  const bytes = new Uint8Array(readFileSync(file));
  const report = await validator.validateBytes(bytes, {
    uri: file,
    maxIssues: 0,
    // External buffers and images are read relative to the file.
    externalResourceFunction: (uri) =>
      new Promise((ok, fail) => {
        try {
          ok(new Uint8Array(readFileSync(join(dirname(file), decodeURIComponent(uri)))));
        } catch (e) {
          fail(e.toString());
        }
      }),
  });
  const issues = report.issues.messages
    .filter((m) => m.severity <= 1)
    .map((m) => ({
      code: m.code,
      severity: m.severity === 0 ? "error" : "warning",
      pointer: m.pointer,
      message: m.message,
    }));
  errors += report.issues.numErrors;
  warnings += report.issues.numWarnings;
  reports.push({
    file,
    errors: report.issues.numErrors,
    warnings: report.issues.numWarnings,
    infos: report.issues.numInfos,
    issues,
  });
}
console.log(JSON.stringify({ files: files.length, errors, warnings, reports }));
process.exit(errors > 0 ? 1 : 0);
