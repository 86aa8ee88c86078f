// Helpers for browser tests of the viewer (used by live.mjs): record page errors and failed
// or foreign requests, wait until the globe and tilesets have settled, read screenshot pixels.
// The image work runs in the page itself (no image library needed).

// Record page errors, console errors, failed requests and responses >= 400 in `result`
// (`errors`, `failedRequests`), and refuse every request that would leave the server at `base`.
export async function watch(page, base, result) {
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
    if (r.status() >= 400) result.failedRequests.push({ url: r.url(), status: r.status() });
  });
  await page.route("**/*", (route) => {
    const u = new URL(route.request().url());
    if (u.origin === new URL(base).origin || u.protocol === "data:" || u.protocol === "blob:") return route.continue();
    result.failedRequests.push({ url: u.href, blocked: true });
    return route.abort();
  });
}

// Wait until the viewer has settled twice in a row, with at least two frames drawn since.
export async function settle(page, timeout = 180_000) {
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
    () => {
      const h = window.huetwin;
      h.viewer.scene.requestRender();
      const ok = h.settled() && h._frames >= 2;
      const prev = h._settledOnce;
      h._settledOnce = ok;
      return ok && prev;
    },
    null,
    { timeout, polling: 500 }
  );
}

// The RGB pixels of a (2r+1)² window around each screen point of a PNG screenshot.
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
        const d = ctx.getImageData(p[0] - r, p[1] - r, 2 * r + 1, 2 * r + 1).data;
        const px = [];
        for (let i = 0; i < d.length; i += 4) px.push([d[i], d[i + 1], d[i + 2]]);
        return px;
      });
    },
    [png.toString("base64"), points, r]
  );
}
