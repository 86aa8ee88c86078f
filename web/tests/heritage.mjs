// The viewer's heritage panel (web/js/heritage.js) in Debian's Chromium (headless,
// SwiftShader WebGL), driven by tile-server/tests/browser.rs, which starts the server and
// asserts on the JSON this script prints as its last line.
//
//   node web/tests/heritage.mjs <base url> <out dir> --refused lon,lat,side,height --permitted lon,lat,side,height
//     [--viewshed lon,lat]
//
// Steps: open the viewer and wait for the panel's zones; look straight down at the refused
// proposal's centre and read the screen pixel there with the zones shown and hidden (the zone's
// colour blends in where shown); draw the refused proposal by clicking its four corners on the
// screen (a double-click on the last closes it) with its height typed in, press Check, read the
// verdict from the page, and read the sightlines on screen with and without them; the same for
// the permitted one; screenshots of each. With --viewshed: the viewshed from that point made
// through the panel, the overlay's pixels read before and after.
import { launchChromium } from "./chromium.mjs";
import { pixelsAt, sampleAt, settle as settleView, watch } from "./page.mjs";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [base, outDir, ...rest] = process.argv.slice(2);
const cases = {};
for (let i = 0; i < rest.length; i++) {
  if (rest[i] === "--refused" || rest[i] === "--permitted" || rest[i] === "--viewshed") cases[rest[i].slice(2)] = rest[++i].split(",").map(Number);
}
if (!base || !outDir || !cases.refused || !cases.permitted) {
  console.error("usage: heritage.mjs <base url> <out dir> --refused lon,lat,side,height --permitted lon,lat,side,height");
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
const W = 800;
const H = 600;
const result = { errors: [], failedRequests: [] };

const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: W, height: H } });
  await watch(page, base, result);
  await page.goto(base + "/", { waitUntil: "load" });
  await page.waitForFunction(() => window.huetwin && (window.huetwin.error || (window.huetwin.heritage && (window.huetwin.heritage.ready || window.huetwin.heritage.error))), null, { timeout: 180_000 });
  const err = await page.evaluate(() => window.huetwin.error || window.huetwin.heritage.error);
  if (err) throw new Error(err);

  // Settled, with the draped zones, proposal and lines built.
  const settle = () => settleView(page, 180_000, true);

  // The pixel (RGB) of the canvas at CSS coordinates (x, y).
  async function pixel(x, y) {
    return page.evaluate(
      ([x, y]) => {
        const v = window.huetwin.viewer;
        v.render();
        const c = v.scene.canvas;
        const gl = v.scene.context._gl;
        const sx = Math.round((x * c.width) / c.clientWidth);
        const sy = c.height - 1 - Math.round((y * c.height) / c.clientHeight);
        const out = new Uint8Array(4);
        gl.readPixels(sx, sy, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, out);
        return [out[0], out[1], out[2]];
      },
      [x, y]
    );
  }

  // Screen position (CSS pixels, page) of a lon/lat on the ground.
  async function screenOf(lon, lat) {
    return page.evaluate(([lon, lat]) => {
      const v = window.huetwin.viewer;
      const w = Cesium.SceneTransforms.worldToWindowCoordinates(v.scene, Cesium.Cartesian3.fromDegrees(lon, lat, 0));
      const r = v.scene.canvas.getBoundingClientRect();
      return [w.x + r.left, w.y + r.top];
    }, [lon, lat]);
  }

  // Zones: the refused proposal's centre lies in the royal axis corridor.
  const [clon, clat] = cases.refused;
  await page.evaluate(([lon, lat]) => window.huetwin.lookDown(lon, lat, 400), [clon, clat]);
  await settle();
  const centre = await screenOf(clon, clat);
  const rect = await page.evaluate(() => {
    const r = window.huetwin.viewer.scene.canvas.getBoundingClientRect();
    return [r.left, r.top];
  });
  const cx = centre[0] - rect[0];
  const cy = centre[1] - rect[1];
  const zoneId = await page.evaluate(() => {
    const h = window.huetwin;
    const e = h.heritage.zoneSource.entities.values.find((e) => e.properties.id && e.properties.id.getValue() === "heritage:royal-axis") ||
      h.heritage.zoneSource.entities.values.find((e) => String(e.id).includes("royal-axis"));
    return e ? e.id : null;
  });
  result.zoneColour = await page.evaluate((id) => window.huetwin.heritage.zones[id], zoneId);
  result.zoneId = zoneId;
  result.pixelWithZones = await pixel(cx, cy);
  await page.click("#heritage-zones");
  await settle();
  result.pixelWithoutZones = await pixel(cx, cy);
  await page.screenshot({ path: join(outDir, "no-zones.png") });
  await page.click("#heritage-zones");
  await settle();
  await page.screenshot({ path: join(outDir, "zones.png") });

  // Draw a square proposal by clicking its corners, then check it.
  async function drawAndCheck(name, [lon, lat, side, height]) {
    await page.click("#heritage-clear");
    await page.evaluate(([lon, lat]) => window.huetwin.lookDown(lon, lat, 400), [lon, lat]);
    await settle();
    await page.fill("#heritage-height", String(height));
    await page.click("#heritage-draw");
    const dx = side / 2 / 106_700;
    const dy = side / 2 / 110_700;
    const corners = [
      [lon - dx, lat - dy],
      [lon + dx, lat - dy],
      [lon + dx, lat + dy],
      [lon - dx, lat + dy],
    ];
    for (let k = 0; k < corners.length; k++) {
      const [x, y] = await screenOf(...corners[k]);
      if (k < corners.length - 1) {
        await page.mouse.click(x, y);
        await page.waitForTimeout(400); // not a double-click
      } else {
        await page.mouse.dblclick(x, y);
      }
    }
    await page.waitForFunction(() => window.huetwin.heritage.proposal !== null, null, { timeout: 20_000 });
    await page.click("#heritage-check");
    await page.waitForFunction(() => window.huetwin.heritage.sightlines !== null, null, { timeout: 120_000 });
    await page.evaluate(() => window.huetwin.lookDown(window.huetwin.heritage.drawn[0][0], window.huetwin.heritage.drawn[0][1], 2500));
    await settle();
    const shot = await page.screenshot({ path: join(outDir, `${name}.png`) });
    const sightlinesOnScreen = await linesOnScreen(shot);
    const verdict = await page.evaluate(() => {
      const s = window.huetwin.heritage;
      return {
        proposal: s.proposal,
        drawn: s.drawn,
        outcome: document.getElementById("heritage-outcome").textContent.replace(/\s+/g, " ").trim(),
        rows: [...document.querySelectorAll("#heritage-rules tbody tr")].map((tr) => [...tr.children].map((td) => td.textContent.trim())),
        lines: s.sightlines.features.map((f) => ({ id: f.id, status: f.properties.status })),
        lineColours: s.sightlines.features.map((f) => {
          const e = window.huetwin.viewer.entities.getById(`sightline:${f.id}`);
          return e ? e.polyline.material.color.getValue().toCssHexString() : null;
        }),
      };
    });
    return { ...verdict, sightlinesOnScreen };
  }

  // Whether each sightline shows on screen in its colour: 24 points along it (on the ground,
  // where the draped line lies; the view looks straight down) read in the screenshot `shot`
  // and in one taken with the sightlines hidden. Per line: the points on the globe's canvas
  // (not under a panel), those whose 7 x 7 window changed (some pixel by more than 60 in RGB
  // sum), and of those the ones whose most changed pixel is nearer the line's colour than the
  // bare ground is.
  async function linesOnScreen(shot) {
    const lines = await page.evaluate(() =>
      window.huetwin.heritage.sightlines.features.map((f) => {
        const e = window.huetwin.viewer.entities.getById(`sightline:${f.id}`);
        return { id: f.id, status: f.properties.status, ends: f.geometry.coordinates, colour: e.polyline.material.color.getValue().toBytes().slice(0, 3) };
      })
    );
    const N = 24;
    const pts = lines.flatMap((l) =>
      Array.from({ length: N }, (_, k) => {
        const t = (k + 0.5) / N;
        return [l.ends[0][0] + t * (l.ends[1][0] - l.ends[0][0]), l.ends[0][1] + t * (l.ends[1][1] - l.ends[0][1])];
      })
    );
    const show = (on) =>
      page.evaluate((on) => {
        for (const e of window.huetwin.viewer.entities.values) if (String(e.id).startsWith("sightline:")) e.show = on;
        window.huetwin.viewer.scene.requestRender();
      }, on);
    await show(false);
    await settle();
    const bare = await page.screenshot();
    await show(true);
    await settle();
    const a = await sampleAt(page, shot, pts);
    const b = await sampleAt(page, bare, pts);
    const onCanvas = await page.evaluate((at) => at.map((p) => !!p && document.elementFromPoint(p[0], p[1])?.tagName === "CANVAS"), a.map((s) => s.at));
    const d = (x, y) => Math.abs(x[0] - y[0]) + Math.abs(x[1] - y[1]) + Math.abs(x[2] - y[2]);
    return lines.map((l, i) => {
      let onScreen = 0, changed = 0, inColour = 0;
      for (let k = i * N; k < (i + 1) * N; k++) {
        if (!onCanvas[k] || !a[k].pixels || !b[k].pixels) continue;
        onScreen++;
        let best = -1, bestD = 0;
        a[k].pixels.forEach((px, j) => {
          const dd = d(px, b[k].pixels[j]);
          if (dd > bestD) [best, bestD] = [j, dd];
        });
        if (bestD <= 60) continue;
        changed++;
        if (d(a[k].pixels[best], l.colour) < d(b[k].pixels[best], l.colour)) inColour++;
      }
      return { id: l.id, status: l.status, colour: l.colour, onScreen, changed, inColour };
    });
  }
  result.refused = await drawAndCheck("refused", cases.refused);
  result.permitted = await drawAndCheck("permitted", cases.permitted);

  // The viewshed overlay, as a user makes it: press "Viewshed from a point", click the point on
  // the map (the permitted proposal is still the one checked). A 40 x 30 grid of screen points
  // read before and after: the share that changed, and of those the share turned greener
  // (seen cells) or redder (cells the proposal hides).
  if (cases.viewshed) {
    const [vlon, vlat] = cases.viewshed;
    await page.evaluate(([lon, lat]) => window.huetwin.lookDown(lon, lat, 5000), [vlon, vlat]);
    await settle();
    const grid = [];
    for (let j = 0; j < 30; j++) for (let i = 0; i < 40; i++) grid.push([Math.round(((i + 0.5) * W) / 40), Math.round(((j + 0.5) * H) / 30)]);
    const onCanvas = await page.evaluate((pts) => pts.map(([x, y]) => document.elementFromPoint(x, y)?.tagName === "CANVAS"), grid);
    const before = await pixelsAt(page, await page.screenshot(), grid, 0);
    await page.click("#heritage-viewshed");
    const [x, y] = await screenOf(vlon, vlat);
    await page.mouse.click(x, y);
    await page.waitForFunction(() => window.huetwin.heritage.viewshed !== null, null, { timeout: 120_000 });
    await settle();
    const after = await pixelsAt(page, await page.screenshot({ path: join(outDir, "viewshed.png") }), grid, 0);
    let n = 0, changed = 0, greener = 0, redder = 0;
    grid.forEach((_, k) => {
      if (!onCanvas[k] || !before[k] || !after[k]) return;
      n++;
      const [a, b] = [before[k][0], after[k][0]];
      const dr = b[0] - a[0], dg = b[1] - a[1], db = b[2] - a[2];
      if (Math.abs(dr) + Math.abs(dg) + Math.abs(db) <= 30) return;
      changed++;
      if (dg > dr && dg > db) greener++;
      else if (dr > dg && dr > db) redder++;
    });
    result.viewshed = {
      state: await page.evaluate(() => window.huetwin.heritage.viewshed),
      proposal: await page.evaluate(() => window.huetwin.heritage.proposal),
      status: await page.evaluate(() => document.getElementById("heritage-status").textContent),
      points: n,
      changed,
      greener,
      redder,
    };
  }
} catch (e) {
  result.errors.push(String(e && e.stack ? e.stack : e));
} finally {
  await browser.close();
}
writeFileSync(join(outDir, "result.json"), JSON.stringify(result, null, 1));
console.log(JSON.stringify(result));
process.exit(result.errors.length ? 1 : 0);
