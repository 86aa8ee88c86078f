// Copies CesiumJS's built files (node_modules/cesium/Build/Cesium) to web/vendor/cesium, where
// `twin serve` serves them at /cesium/, and the built files of the small npm libraries the
// viewer's modules use to web/vendor/lib/<name>/ (served at /lib/<name>/): uPlot (the sensor
// charts of web/js/sensors.js). Run by scripts/setup.sh after `npm ci --prefix web`.
import { cpSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const from = join(here, "node_modules", "cesium", "Build", "Cesium");
const to = join(here, "vendor", "cesium");
if (!existsSync(join(from, "Cesium.js"))) {
  console.error(`copy-cesium: ${from} is missing: run npm ci --prefix web first`);
  process.exit(1);
}
rmSync(to, { recursive: true, force: true });
cpSync(from, to, { recursive: true });
console.log(`copy-cesium: ${from} -> ${to}`);

// Small libraries: [package, files of the package, folder under vendor/lib].
const LIBS = [["uplot", ["dist/uPlot.iife.min.js", "dist/uPlot.min.css", "LICENSE"], "uplot"]];
for (const [pkg, names, dir] of LIBS) {
  const dest = join(here, "vendor", "lib", dir);
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest, { recursive: true });
  for (const n of names) {
    const src = join(here, "node_modules", pkg, n);
    if (!existsSync(src)) {
      console.error(`copy-cesium: ${src} is missing: run npm ci --prefix web first`);
      process.exit(1);
    }
    cpSync(src, join(dest, n.split("/").pop()));
  }
  console.log(`copy-cesium: ${pkg} -> ${dest}`);
}
