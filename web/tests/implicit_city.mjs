// CesiumJS in Debian's Chromium on an implicit tileset folder served statically (by
// scripts/check_implicit_city.sh): a page with the viewer's CesiumJS and nothing else loads
// <tileset>, looks straight down from 1,200 m at its centre, waits until the view's tiles have
// loaded, then picks the building nearest the screen centre. Prints one JSON line: requests of
// subtrees and tiles, failures, time to load, the picked feature's id, height and position.
//
//   node web/tests/implicit_city.mjs <base url> <tileset path below base>
import { launchChromium } from "./chromium.mjs";

const [base, tileset] = process.argv.slice(2);
const out = { errors: [], subtrees: 0, glbs: 0 };
const html = `<!doctype html><html><head><meta charset="utf-8">
<script>window.CESIUM_BASE_URL = "${base}/cesium/";</script><script src="${base}/cesium/Cesium.js"></script>
<link href="${base}/cesium/Widgets/widgets.css" rel="stylesheet"></head>
<body style="margin:0"><div id="c" style="width:800px;height:600px"></div><script>
(async () => {
  try {
    const v = new Cesium.Viewer("c", { baseLayer: false, baseLayerPicker: false, geocoder: false, timeline: false,
      animation: false, homeButton: false, sceneModePicker: false, navigationHelpButton: false,
      fullscreenButton: false, infoBox: false, selectionIndicator: false, skyBox: false, skyAtmosphere: false });
    const ts = await Cesium.Cesium3DTileset.fromUrl("${base}/${tileset}");
    v.scene.primitives.add(ts);
    Object.assign(window, { v, ts, failed: [], loaded: 0 });
    ts.allTilesLoaded.addEventListener(() => window.loaded++);
    ts.tileFailed.addEventListener((e) => window.failed.push(e.url + " " + e.message));
    const c = Cesium.Cartographic.fromCartesian(ts.boundingSphere.center);
    v.camera.setView({ destination: Cesium.Cartesian3.fromRadians(c.longitude, c.latitude, 1200),
      orientation: { heading: 0, pitch: -Math.PI / 2, roll: 0 } });
    window.ready = true;
  } catch (e) { window.err = String((e && e.stack) || e); }
})();
</script></body></html>`;
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 800, height: 600 } });
  page.on("pageerror", (e) => out.errors.push(String(e)));
  page.on("response", (r) => {
    if (r.url().endsWith(".subtree")) out.subtrees++;
    if (r.url().endsWith(".glb")) out.glbs++;
    if (r.status() >= 400) out.errors.push(`${r.status()} ${r.url()}`);
  });
  const t0 = Date.now();
  // The page itself comes from the same origin as the tiles (no file to write).
  await page.route(`${base}/implicit-city.html`, (route) => route.fulfill({ contentType: "text/html", body: html }));
  await page.goto(`${base}/implicit-city.html`, { waitUntil: "load" });
  await page.waitForFunction(() => window.ready || window.err, null, { timeout: 60_000 });
  out.err = await page.evaluate(() => window.err || null);
  if (out.err) throw new Error(out.err);
  // Settled: every tile of the view loaded, nothing pending, three polls in a row (a first
  // allTilesLoaded can come before the finer tiles of the view are even requested).
  await page.waitForFunction(
    () => {
      const s = window.ts.statistics;
      const quiet = window.loaded > 0 && window.ts.tilesLoaded && s.numberOfPendingRequests === 0 && s.numberOfTilesProcessing === 0;
      window.quiet = quiet ? (window.quiet || 0) + 1 : 0;
      return window.quiet >= 3;
    },
    null,
    { timeout: 480_000, polling: 1000 }
  );
  out.loaded_ms = Date.now() - t0;
  out.failed = await page.evaluate(() => window.failed);
  out.pick = await page.evaluate(() => {
    const v = window.v;
    v.render();
    // The screen centre may fall between buildings: walk outwards until one is hit.
    for (let r = 0; r < 60; r += 2) {
      for (const [dx, dy] of [[r, 0], [0, r], [-r, 0], [0, -r]]) {
        const p = new Cesium.Cartesian2(400 + dx, 300 + dy);
        const f = v.scene.pick(p);
        if (!(f && f.getProperty)) continue;
        const c = Cesium.Cartographic.fromCartesian(v.scene.pickPosition(p));
        return { px: [p.x, p.y], id: f.getProperty("id"), height: f.getProperty("height"),
          lon: Cesium.Math.toDegrees(c.longitude), lat: Cesium.Math.toDegrees(c.latitude), h: c.height };
      }
    }
    return null;
  });
  out.stats = await page.evaluate(() => ({ selected: window.ts.statistics.selected,
    features: window.ts.statistics.numberOfFeaturesLoaded }));
} catch (e) {
  out.errors.push(`script: ${e}`);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
