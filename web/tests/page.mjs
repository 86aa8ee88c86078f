// Helpers for browser tests of the viewer (used by live.mjs): record page errors and failed
// or foreign requests, wait until the globe and tilesets have settled, read screenshot pixels.
// The image work runs in the page itself (no image library needed).

// Record page errors, console errors, failed requests and responses >= 400 in `result`
// (`errors`, `failedRequests`), and refuse every request that would leave the server at `base`.
// `onResponse`, when given, sees every response too (to count tiles, say). Actions without a
// timeout of their own (screenshots, clicks) get 120 s: a SwiftShader screenshot on a loaded
// 2-core machine took over Playwright's default 30 s.
export async function watch(page, base, result, onResponse = null) {
  page.setDefaultTimeout(120_000);
  page.on("pageerror", (e) => result.errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") result.errors.push(`console: ${m.text()}`);
  });
  page.on("requestfailed", (r) => {
    // Event streams the viewer closes itself (a run's, after its end).
    if (r.url().endsWith("/events") && r.failure()?.errorText === "net::ERR_ABORTED") return;
    result.failedRequests.push({ url: r.url(), error: r.failure()?.errorText });
  });
  page.on("response", (r) => {
    if (onResponse) onResponse(r);
    if (r.status() >= 400) result.failedRequests.push({ url: r.url(), status: r.status() });
  });
  await page.route("**/*", (route) => {
    const u = new URL(route.request().url());
    if (u.origin === new URL(base).origin || u.protocol === "data:" || u.protocol === "blob:") return route.continue();
    result.failedRequests.push({ url: u.href, blocked: true });
    return route.abort();
  });
}

// Wait until the viewer has settled twice in a row, with at least two frames drawn since; the
// milliseconds it took. Frames are counted from the call on: a settle right after a change (a
// layer hidden) must see the change drawn, not the frame from before it (a flag left over from
// the previous settle let one return at once and screenshot the old frame, in a loaded CI run).
// With `dataSources`, the entities' geometry must be built too (draped polygons and lines are
// built in workers, after the frames that asked for them: the heritage panel's sightlines were
// missing from a screenshot taken without this and without the frame count).
export async function settle(page, timeout = 180_000, dataSources = false) {
  const t0 = Date.now();
  await page.evaluate(() => {
    const h = window.huetwin;
    h._settledOnce = false;
    h._frames = 0;
    if (!h._frameCounter) {
      h._frameCounter = () => h._frames++;
      h.viewer.scene.postRender.addEventListener(h._frameCounter);
    }
  });
  await page.waitForFunction(
    (dataSources) => {
      const h = window.huetwin;
      h.viewer.scene.requestRender();
      const ok = h.settled() && h._frames >= 2 && (!dataSources || h.viewer.dataSourceDisplay.ready);
      const prev = h._settledOnce;
      h._settledOnce = ok;
      return ok && prev;
    },
    dataSources,
    { timeout, polling: 500 }
  );
  return Date.now() - t0;
}

// The RGB pixels of a (2r+1)² window around each screen point of a PNG screenshot (null for a
// point that is null or whose window leaves the image).
export async function pixelsAt(page, png, points, r = 2) {
  return page.evaluate(
    async ([b64, pts, r]) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const c = document.createElement("canvas");
      c.width = img.width;
      c.height = img.height;
      const ctx = c.getContext("2d");
      ctx.drawImage(img, 0, 0);
      return pts.map((p) => {
        if (!p || p[0] < r || p[1] < r || p[0] >= img.width - r || p[1] >= img.height - r) return null;
        const d = ctx.getImageData(p[0] - r, p[1] - r, 2 * r + 1, 2 * r + 1).data;
        const px = [];
        for (let i = 0; i < d.length; i += 4) px.push([d[i], d[i + 1], d[i + 2]]);
        return px;
      });
    },
    [png.toString("base64"), points, r]
  );
}

// Where WGS84 points (on the ellipsoid) fall on screen, and the pixels of a 7 x 7 window of a
// screenshot around each: `{at, pixels}`, `at` and `pixels` null when off screen.
export async function sampleAt(page, png, points) {
  const at = await page.evaluate((pts) => pts.map(([lon, lat]) => {
    const w = Cesium.SceneTransforms.worldToWindowCoordinates(window.huetwin.viewer.scene, Cesium.Cartesian3.fromDegrees(lon, lat, 0));
    return w ? [Math.round(w.x), Math.round(w.y)] : null;
  }), points);
  const px = await pixelsAt(page, png, at, 3);
  return at.map((p, i) => ({ at: p, pixels: px[i] }));
}
