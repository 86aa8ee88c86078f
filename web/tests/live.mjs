// The live city in the viewer, in Debian's Chromium (headless, SwiftShader WebGL), driven by
// tile-server/tests/browser.rs (the test `viewer_shows_live_sensors_alarms_nowcast_and_reports`),
// which starts the server, seeds the observations and reports, and asserts on the JSON this
// script prints as its last line.
//
//   node web/tests/live.mjs <base url> <out dir> --token EDITOR_TOKEN --datastream DS
//     --look lon,lat --after ISO_TIME [--height M] [--photo-report lon,lat]
//
// Steps: open the viewer and wait for the sensors layer; look down at --look and click the
// sensor of Datastream DS (its icon's projected position): the info panel and the day and week
// charts (uPlot canvases: ink counted, points and observations read); post an observation
// (--after + 10 min, 3.05) and wait for the shown latest value to change without a reload;
// post one over the alarm level (--after + 20 min, 3.6) and wait for the alarm banner and the
// nowcast run shown (huetwin.shown); file an Open311 report and wait for it in the reports
// layer; click the report with a photo at --photo-report (its thumbnail), then the thumbnail
// (the full photo opens); then screenshot and read the pixels at each sensor icon's projected
// position.
import { launchChromium } from "./chromium.mjs";
import { pixelsAt, settle, watch } from "./page.mjs";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const [base, outDir, ...rest] = process.argv.slice(2);
const opt = {};
for (let i = 0; i < rest.length; i += 2) opt[rest[i].replace(/^--/, "")] = rest[i + 1];
if (!base || !outDir || !opt.token || !opt.datastream || !opt.look || !opt.after) {
  console.error("usage: live.mjs <base url> <out dir> --token T --datastream DS --look lon,lat --after ISO_TIME");
  process.exit(2);
}
const ds = Number(opt.datastream);
const look = opt.look.split(",").map(Number);
const after = Date.parse(opt.after);
const height = Number(opt.height || 5000);
mkdirSync(outDir, { recursive: true });

const W = 1000;
const H = 700;
const result = { errors: [], failedRequests: [], failedTiles: [], steps: [] };
const step = (s) => {
  result.steps.push(s);
  console.error(`live.mjs: ${s}`);
};

async function post(path, body, type = "application/json") {
  const r = await fetch(new URL(path, base), {
    method: "POST",
    headers: { Authorization: `Bearer ${opt.token}`, "Content-Type": type },
    body,
  });
  const text = await r.text();
  if (r.status !== 201) throw new Error(`${path}: ${r.status} ${text}`);
  return JSON.parse(text);
}

const observe = (minutes, value) =>
  post(`/v1.1/Datastreams(${ds})/Observations`, JSON.stringify({ phenomenonTime: new Date(after + minutes * 60_000).toISOString(), result: value }));

// Each sensor's icon on screen: its projected position and whether the globe's canvas is the
// element at its centre and corners (not a panel).
async function iconPositions(page) {
  return page.evaluate(() => {
    const h = window.huetwin;
    const canvas = h.viewer.scene.canvas;
    return Object.values(h.sensors.things).map((t) => {
      const w = Cesium.SceneTransforms.worldToWindowCoordinates(h.viewer.scene, Cesium.Cartesian3.fromDegrees(t.lon, t.lat, 3));
      if (!w) return { id: t.id, kind: t.kind, at: null };
      const at = [Math.round(w.x), Math.round(w.y)];
      // The whole icon's window clear of the panels and the banner.
      const onGlobe = [[0, 0], [-8, -8], [8, -8], [-8, 8], [8, 8]].every(([dx, dy]) => document.elementFromPoint(at[0] + dx, at[1] + dy) === canvas);
      return { id: t.id, kind: t.kind, at, onGlobe };
    });
  });
}

const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: W, height: H } });
  await watch(page, base, result);
  await page.goto(base, { waitUntil: "load" });
  await page.waitForFunction(() => window.huetwin && (window.huetwin.ready || window.huetwin.error), null, { timeout: 120_000 });
  result.viewerError = await page.evaluate(() => window.huetwin.error);
  if (result.viewerError) throw new Error(result.viewerError);
  result.things = await page.evaluate(() => Object.keys(window.huetwin.sensors.things).length);
  result.layerToggle = await page.evaluate(() => !!document.querySelector("#layer-sensors"));
  step("viewer ready");

  await page.evaluate(([lon, lat, height]) => window.huetwin.lookDown(lon, lat, height), [...look, height]);
  await settle(page);
  const thing = await page.evaluate((d) => window.huetwin.sensors.byDatastream[d], ds);
  const before = await iconPositions(page);
  const mine = before.find((p) => p.id === thing);
  if (!mine || !mine.at || !mine.onGlobe) throw new Error(`the sensor of Datastream ${ds} is not on screen: ${JSON.stringify(before)}`);
  await page.mouse.click(mine.at[0], mine.at[1]);
  await page.waitForFunction((t) => window.huetwin.sensors.charts && window.huetwin.sensors.charts.thing === t, thing, { timeout: 60_000 });
  step("sensor clicked, charts drawn");
  result.info = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll("#info td[data-sensor]")].map((td) => [td.dataset.sensor, td.textContent])));
  result.charts = await page.evaluate(() => {
    const c = window.huetwin.sensors.charts;
    // Ink: canvas pixels drawn (alpha > 0), and those in the mean series' blue (#1565c0).
    const ink = (id) => {
      const cv = document.querySelector(`#${id} canvas`);
      const d = cv.getContext("2d").getImageData(0, 0, cv.width, cv.height).data;
      let drawn = 0;
      let blue = 0;
      for (let i = 0; i < d.length; i += 4) {
        if (d[i + 3] > 0) drawn++;
        if (d[i + 3] > 128 && Math.abs(d[i] - 0x15) < 40 && Math.abs(d[i + 1] - 0x65) < 40 && Math.abs(d[i + 2] - 0xc0) < 40) blue++;
      }
      return { drawn, blue, width: cv.width, height: cv.height };
    };
    const out = {};
    for (const k of ["day", "week"]) {
      const p = c[k].plot;
      out[k] = { points: c[k].points, observations: c[k].observations, xs: p.data[0].length, means: p.data[3].length, ink: ink(`chart-${k}`) };
    }
    return out;
  });
  await page.screenshot({ path: join(outDir, "chart.png") });

  // A new reading: the shown latest value changes, the page is not reloaded.
  await page.evaluate(() => (window.__notReloaded = true));
  await observe(10, 3.05);
  await page.waitForFunction(() => document.querySelector('#info td[data-sensor="latest"]')?.textContent === "3.05 m", null, { timeout: 60_000 });
  result.latestAfterPost = await page.evaluate(() => ({
    value: document.querySelector('#info td[data-sensor="latest"]').textContent,
    at: document.querySelector('#info td[data-sensor="at"]').textContent,
  }));
  step("latest value updated live");

  // Over the alarm level: the banner, then the nowcast run, shown once it is done.
  await observe(20, 3.6);
  await page.waitForFunction(() => {
    const b = document.querySelector("#sensor-alarm");
    return b && !b.hidden && b.textContent.includes("3.6");
  }, null, { timeout: 60_000 });
  result.banner = await page.evaluate(() => document.querySelector("#sensor-alarm").textContent);
  step("alarm banner shown");
  await page.waitForFunction(() => window.huetwin.sensors.nowcastRun, null, { timeout: 60_000 });
  result.nowcastRun = await page.evaluate(() => window.huetwin.sensors.nowcastRun);
  result.runStatusWhenStarted = await page.evaluate(() => document.querySelector("#run-status").textContent);
  await page.waitForFunction((id) => window.huetwin.shown && window.huetwin.shown.id === id, result.nowcastRun, { timeout: 900_000, polling: 1000 });
  result.shownRun = await page.evaluate(() => ({ id: window.huetwin.shown.id, times: window.huetwin.shown.times.length, select: document.querySelector("#runs").value }));
  result.colour = await page.evaluate(() => document.querySelector("#colour").value);
  step("nowcast run shown");

  // A citizen report filed now arrives in the reports layer.
  const form = new URLSearchParams({ service_code: "flooding", lat: String(look[1] + 0.004), long: String(look[0] + 0.006), description: "Water on the road (live test)" });
  const created = await post("/open311/v2/requests.json", form.toString(), "application/x-www-form-urlencoded");
  result.reportId = created[0].service_request_id;
  await page.waitForFunction((id) => !!window.huetwin.reports.entities.getById(`report:${id}`), result.reportId, { timeout: 60_000 });
  step("report arrived");
  // A report with a photo: a click shows its thumbnail; a click on that opens the full photo.
  if (opt["photo-report"]) {
    const [plon, plat] = opt["photo-report"].split(",").map(Number);
    const at = await page.evaluate(([lon, lat]) => {
      const w = Cesium.SceneTransforms.worldToWindowCoordinates(window.huetwin.viewer.scene, Cesium.Cartesian3.fromDegrees(lon, lat, 2));
      return [Math.round(w.x), Math.round(w.y)];
    }, [plon, plat]);
    await page.mouse.click(at[0], at[1]);
    await page.waitForFunction(() => {
      const img = document.querySelector("#report-photo");
      return img && img.complete && img.naturalWidth > 0;
    }, null, { timeout: 60_000 });
    result.photo = await page.evaluate(() => {
      const img = document.querySelector("#report-photo");
      return { width: img.naturalWidth, height: img.naturalHeight };
    });
    const [popup] = await Promise.all([page.waitForEvent("popup"), page.click("#report-photo")]);
    await popup.waitForLoadState();
    result.photo.opened = popup.url();
    result.photo.openedType = await popup.evaluate(() => document.contentType);
    result.photo.openedStatus = await popup.evaluate(async (u) => (await fetch(u)).status, popup.url());
    await popup.close();
    step("report photo opened");
  }
  result.notReloaded = await page.evaluate(() => window.__notReloaded === true);
  result.events = await page.evaluate(() => window.huetwin.sensors.events);

  // The picture: sensor icons at their projected positions.
  await page.evaluate(([lon, lat, height]) => window.huetwin.lookDown(lon, lat, height), [...look, height]);
  await settle(page);
  const shot = await page.screenshot({ path: join(outDir, "live.png") });
  const icons = await iconPositions(page);
  const onScreen = icons.filter((p) => p.at && p.onGlobe && p.at[0] >= 3 && p.at[1] >= 3 && p.at[0] < W - 3 && p.at[1] < H - 3);
  // A 13 x 13 window: the icon's badge colour around its white glyph.
  const px = await pixelsAt(page, shot, onScreen.map((p) => p.at), 6);
  result.icons = onScreen.map((p, i) => ({ ...p, pixels: px[i] }));
  result.thing = thing;
  result.failedTiles = await page.evaluate(() => window.huetwin.failedTiles);
  step("screenshot");
} catch (e) {
  result.failure = String(e && e.stack ? e.stack : e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(result.failure ? 1 : 0);
