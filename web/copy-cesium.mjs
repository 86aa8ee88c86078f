// Copies CesiumJS's built files (node_modules/cesium/Build/Cesium) to web/vendor/cesium, where
// `twin serve` serves them at /cesium/. Run by scripts/setup.sh after `npm ci --prefix web`.
import { cpSync, existsSync, rmSync } from "node:fs";
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
