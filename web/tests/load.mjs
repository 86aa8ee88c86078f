// The viewer's load on a throttled line, in Debian's Chromium (headless, SwiftShader WebGL),
// through the Chrome DevTools Protocol: run by scripts/bench_viewer.sh, which starts the server.
//
//   node web/tests/load.mjs <base url> [--mbit 10] [--latency-ms 40] [--repeat]
//
// It opens the viewer with the browser cache empty and the line emulated (download and upload
// at --mbit, --latency-ms added to every request), and records the time from navigation to the
// first meaningful view: the globe and every tileset loaded for the opening camera (the
// viewer's own `huetwin.settled()`, true on two checks a render apart). Bytes fetched are
// summed by kind from the encoded (on-the-wire) lengths. With --repeat it loads the page a
// second time with the cache kept, as a returning browser: what revalidates (304) and what is
// fetched again. Prints one JSON line.
import { launchChromium } from "./chromium.mjs";

const [base, ...rest] = process.argv.slice(2);
if (!base) {
  console.error("usage: load.mjs <base url> [--mbit N] [--latency-ms N] [--repeat]");
  process.exit(2);
}
let mbit = 10;
let latency = 40;
let repeat = false;
for (let i = 0; i < rest.length; i++) {
  if (rest[i] === "--mbit") mbit = Number(rest[++i]);
  else if (rest[i] === "--latency-ms") latency = Number(rest[++i]);
  else if (rest[i] === "--repeat") repeat = true;
}

const browser = await launchChromium();

function kind(url) {
  const u = new URL(url);
  const p = u.pathname;
  if (p.endsWith(".glb")) return "tile content (glb)";
  if (p.startsWith("/tiles/")) return "tileset.json";
  if (p.includes("/Assets/Textures/NaturalEarthII")) return "imagery";
  if (p.startsWith("/basemap/")) return "imagery (basemap)";
  if (p.includes("/Assets/Textures/SkyBox")) return "sky box";
  if (p.startsWith("/cesium/Cesium.js")) return "CesiumJS bundle";
  if (p.startsWith("/cesium/Workers/") || p.startsWith("/cesium/ThirdParty/")) return "CesiumJS workers";
  if (p.startsWith("/cesium/")) return "CesiumJS other";
  if (p.startsWith("/api/")) return "API";
  return "viewer page";
}

async function load(context, throttle) {
  const page = await context.newPage();
  await page.setViewportSize({ width: 1280, height: 720 });
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  if (throttle) {
    await cdp.send("Network.emulateNetworkConditions", {
      offline: false,
      latency,
      downloadThroughput: (mbit * 1e6) / 8,
      uploadThroughput: (mbit * 1e6) / 8,
    });
  }
  const urls = new Map();
  const status = new Map();
  const bytes = {};
  const counts = {};
  let revalidated = 0;
  let total = 0;
  cdp.on("Network.responseReceived", (e) => {
    urls.set(e.requestId, e.response.url);
    status.set(e.requestId, e.response.status);
  });
  cdp.on("Network.loadingFinished", (e) => {
    const url = urls.get(e.requestId);
    if (!url || url.startsWith("data:")) return;
    const k = kind(url);
    bytes[k] = (bytes[k] || 0) + e.encodedDataLength;
    counts[k] = (counts[k] || 0) + 1;
    total += e.encodedDataLength;
    if (status.get(e.requestId) === 304) revalidated++;
  });
  const t0 = Date.now();
  await page.goto(base, { waitUntil: "commit" });
  await page.waitForFunction(
    () => {
      const h = window.huetwin;
      if (!h || !h.ready || !h.viewer) return false;
      h.viewer.scene.requestRender();
      const ok = h.settled();
      const prev = h._settledOnce;
      h._settledOnce = ok;
      return ok && prev;
    },
    null,
    { timeout: 300_000, polling: 100 }
  );
  const ms = Date.now() - t0;
  const buildings = await page.evaluate(() => {
    const t = window.huetwin.tilesets.buildings;
    let n = 0;
    if (t) t.root && (function visit(tile) {
      if (tile.contentReady && tile.content) n += tile.content.featuresLength || 0;
      for (const c of tile.children) visit(c);
    })(t.root);
    return n;
  });
  await page.close();
  return { ms, total, bytes, counts, revalidated, buildings };
}

const result = { mbit, latency };
try {
  const context = await browser.newContext();
  result.first = await load(context, true);
  if (repeat) result.returning = await load(context, true);
} catch (e) {
  result.error = String(e);
}
await browser.close();
console.log(JSON.stringify(result));
