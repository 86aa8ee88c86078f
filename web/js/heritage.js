// The heritage panel of the huetwin viewer: the protection zones draped on the ground
// (clamped polygons, classified onto the globe, coloured by zone with a legend), a proposed
// building drawn on the map (a click per corner, a double-click to close, a height) or
// uploaded (GeoJSON Feature or CityJSON), checked by the server (POST /api/heritage/check),
// its verdict as a table, the protected sightlines with the proposal (POST
// /api/heritage/sightlines) as red (blocked) and green (clear) lines, and the viewshed from a
// clicked point (POST /api/heritage/viewshed, GeoJSON) draped as an overlay: seen cells green,
// cells the proposal hides red.
//
// State for people and tests on window.huetwin.heritage: zones (site id → colour), drawn
// ([lon, lat] corners), proposal (the GeoJSON sent), verdict, sightlines, viewshed.
"use strict";

(function () {
  const h = window.huetwin;
  // Zone colours: core (UNESCO zone I), buffer (zone II), and sites without a zone.
  const ZONE_COLOURS = { I: "#b2182b", II: "#ef8a62", other: "#fdae61" };
  const ZONE_ALPHA = 0.55;
  const VIEWSHED_RADIUS_M = 2000;
  const state = (h.heritage = {
    ready: false,
    zones: {},
    drawn: [],
    drawing: false,
    proposal: null,
    verdict: null,
    sightlines: null,
    viewshed: null,
    error: null,
  });

  function $(id) {
    return document.getElementById(id);
  }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  }
  function say(msg) {
    $("heritage-status").textContent = msg;
  }

  function zoneColour(zone) {
    return ZONE_COLOURS[zone] || ZONE_COLOURS.other;
  }

  function buildPanel() {
    const s = document.createElement("section");
    s.id = "heritage-panel";
    s.innerHTML = `
      <h2>Heritage</h2>
      <label><input type="checkbox" id="heritage-zones" checked> protection zones on the ground</label>
      <div id="heritage-legend">${Object.entries({ I: "zone I (core)", II: "zone II (buffer, view corridor)", other: "other site" })
        .map(([k, label]) => `<span class="swatch" style="background:${ZONE_COLOURS[k]}"></span>${label}`)
        .join("<br>")}</div>
      <h3>Proposal</h3>
      <label>height <input type="number" id="heritage-height" value="30" min="1" max="500" step="0.5"> m</label>
      <button id="heritage-draw" type="button">Draw footprint</button>
      <label>or upload <input type="file" id="heritage-file" accept=".json,.geojson,.city.json"></label>
      <button id="heritage-check" type="button" disabled>Check proposal</button>
      <button id="heritage-viewshed" type="button">Viewshed from a point</button>
      <button id="heritage-clear" type="button">Clear</button>
      <div id="heritage-status"></div>
      <div id="heritage-verdict"></div>`;
    const panel = $("panel");
    panel.insertBefore(s, $("sign-in-panel"));
  }

  async function loadZones() {
    const fc = await h.getJson("/api/layers/heritage/features?limit=1000");
    const ds = await Cesium.GeoJsonDataSource.load(fc, { clampToGround: true });
    for (const e of ds.entities.values) {
      const zone = e.properties && e.properties.zone ? e.properties.zone.getValue() : null;
      const colour = zoneColour(zone);
      state.zones[e.id] = colour;
      if (e.polygon) {
        e.polygon.material = Cesium.Color.fromCssColorString(colour).withAlpha(ZONE_ALPHA);
        e.polygon.classificationType = Cesium.ClassificationType.BOTH;
        e.polygon.outline = false;
      }
    }
    state.zoneSource = ds;
    await h.viewer.dataSources.add(ds);
    $("heritage-zones").addEventListener("change", (ev) => {
      ds.show = ev.target.checked;
      h.viewer.scene.requestRender();
    });
  }

  // The drawn footprint and the proposal's extrusion.
  let drawnEntity = null;
  function showDrawn() {
    if (drawnEntity) h.viewer.entities.remove(drawnEntity);
    drawnEntity = null;
    const pts = state.drawn;
    if (pts.length < 2) return;
    const flat = pts.flat();
    if (state.drawing || pts.length < 3) {
      drawnEntity = h.viewer.entities.add({
        polyline: {
          positions: Cesium.Cartesian3.fromDegreesArray(flat.concat(pts[0])),
          width: 3,
          material: Cesium.Color.YELLOW,
          clampToGround: true,
        },
      });
    } else {
      drawnEntity = h.viewer.entities.add({
        polygon: {
          hierarchy: Cesium.Cartesian3.fromDegreesArray(flat),
          extrudedHeight: +$("heritage-height").value,
          height: 0,
          material: Cesium.Color.YELLOW.withAlpha(0.8),
          outline: true,
          outlineColor: Cesium.Color.BLACK,
        },
      });
    }
    h.viewer.scene.requestRender();
  }

  // The point of the globe under a screen position, as [lon, lat].
  function lonLatAt(position) {
    const v = h.viewer;
    const ray = v.camera.getPickRay(position);
    const p = (ray && v.scene.globe.pick(ray, v.scene)) || v.camera.pickEllipsoid(position);
    if (!p) return null;
    const c = Cesium.Cartographic.fromCartesian(p);
    return [Cesium.Math.toDegrees(c.longitude), Cesium.Math.toDegrees(c.latitude)];
  }

  function setProposal(feature) {
    state.proposal = feature;
    $("heritage-check").disabled = !feature;
  }

  function drawnProposal() {
    const ring = state.drawn.concat([state.drawn[0]]);
    return {
      type: "Feature",
      properties: { name: "drawn proposal", height: +$("heritage-height").value },
      geometry: { type: "Polygon", coordinates: [ring] },
    };
  }

  function setupDrawing() {
    const v = h.viewer;
    // A double-click closes the footprint (not Cesium's fly-to-entity).
    v.cesiumWidget.screenSpaceEventHandler.removeInputAction(Cesium.ScreenSpaceEventType.LEFT_DOUBLE_CLICK);
    const handler = new Cesium.ScreenSpaceEventHandler(v.scene.canvas);
    let mode = null; // "draw" | "viewshed"
    handler.setInputAction((click) => {
      if (!mode) return;
      const p = lonLatAt(click.position);
      if (!p) return;
      if (mode === "viewshed") {
        mode = null;
        showViewshed(p).catch((e) => say(String(e)));
        return;
      }
      const last = state.drawn[state.drawn.length - 1];
      // The two clicks of a double-click land on one point: keep it once.
      if (last && Math.abs(last[0] - p[0]) < 1e-7 && Math.abs(last[1] - p[1]) < 1e-7) return;
      state.drawn.push(p);
      showDrawn();
    }, Cesium.ScreenSpaceEventType.LEFT_CLICK);
    handler.setInputAction(() => {
      if (mode !== "draw") return;
      if (state.drawn.length < 3) {
        say("a footprint needs at least three corners");
        return;
      }
      mode = null;
      state.drawing = false;
      setProposal(drawnProposal());
      showDrawn();
      say(`footprint of ${state.drawn.length} corners drawn`);
    }, Cesium.ScreenSpaceEventType.LEFT_DOUBLE_CLICK);
    $("heritage-draw").addEventListener("click", () => {
      clearAll();
      mode = "draw";
      state.drawing = true;
      say("click each corner on the map, double-click to close");
    });
    $("heritage-viewshed").addEventListener("click", () => {
      mode = "viewshed";
      say(`click the viewpoint (viewshed within ${VIEWSHED_RADIUS_M} m, 2 m above the ground)`);
    });
    $("heritage-height").addEventListener("change", () => {
      if (state.drawn.length >= 3 && !state.drawing) {
        setProposal(drawnProposal());
        showDrawn();
      }
    });
    $("heritage-file").addEventListener("change", async (ev) => {
      const f = ev.target.files[0];
      if (!f) return;
      try {
        const doc = JSON.parse(await f.text());
        clearAll();
        setProposal(doc);
        say(`${f.name}: ${doc.type === "CityJSON" ? "CityJSON" : "GeoJSON"} proposal loaded`);
      } catch (e) {
        say(`${f.name}: not JSON (${e.message})`);
      }
    });
    $("heritage-check").addEventListener("click", () => h.heritage.check().catch((e) => say(String(e))));
    $("heritage-clear").addEventListener("click", clearAll);
  }

  // Lines and overlays shown for the last check.
  let lines = [];
  let viewshedSource = null;
  function clearResults() {
    for (const l of lines) h.viewer.entities.remove(l);
    lines = [];
    if (viewshedSource) h.viewer.dataSources.remove(viewshedSource, true);
    viewshedSource = null;
    state.verdict = null;
    state.sightlines = null;
    state.viewshed = null;
    $("heritage-verdict").innerHTML = "";
  }
  function clearAll() {
    clearResults();
    state.drawn = [];
    state.drawing = false;
    setProposal(null);
    showDrawn();
    say("");
  }

  function verdictTable(v) {
    const rows = v.rules
      .map((r) => {
        const num = (x) => (x === null || x === undefined ? "" : (+x).toFixed(2));
        return `<tr class="${r.outcome}"><td>${esc(r.outcome.replace("_", " "))}</td><td>${esc(r.rule)}</td>
          <td>${esc(r.under)}</td><td>${num(r.value)}</td><td>${num(r.limit)}</td><td>${esc(r.detail)}</td></tr>`;
      })
      .join("");
    const zones = v.zones.length ? v.zones.map((z) => esc(z.name || z.site)).join(", ") : "none";
    return `<p id="heritage-outcome" class="${v.permitted ? "permitted" : "refused"}">${v.permitted ? "PERMITTED" : "REFUSED"}:
      ${(+v.proposal.height_m).toFixed(1)} m, top ${(+v.top_m).toFixed(2)} m, ${(+v.area_m2).toFixed(0)} m²; zones: ${zones}</p>
      <table id="heritage-rules"><thead><tr><th>outcome</th><th>rule</th><th>under</th><th>value</th><th>limit</th><th>detail</th></tr></thead>
      <tbody>${rows}</tbody></table>`;
  }

  async function postJson(url, body) {
    return h.getJson(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  }

  // Check the proposal: the verdict, then the sightlines with it.
  h.heritage.check = async function () {
    if (!state.proposal) throw new Error("no proposal: draw or upload one");
    clearResults();
    say("checking…");
    const v = await postJson("/api/heritage/check", state.proposal);
    state.verdict = v;
    $("heritage-verdict").innerHTML = verdictTable(v);
    const sl = await postJson("/api/heritage/sightlines", { proposal: state.proposal });
    state.sightlines = sl;
    for (const f of sl.features) {
      const blocked = f.properties.status !== "clear";
      lines.push(
        h.viewer.entities.add({
          id: `sightline:${f.id}`,
          polyline: {
            // Draped on the ground (the track seen on the map); the line's heights are in
            // the GeoJSON.
            positions: Cesium.Cartesian3.fromDegreesArray(f.geometry.coordinates.flatMap((c) => [c[0], c[1]])),
            clampToGround: true,
            width: 4,
            material: blocked ? Cesium.Color.RED : Cesium.Color.LIME,
          },
        })
      );
    }
    const nBlocked = sl.features.filter((f) => f.properties.status !== "clear").length;
    say(`${v.permitted ? "permitted" : "refused"}; ${nBlocked} of ${sl.features.length} sightlines blocked`);
    h.viewer.scene.requestRender();
    return v;
  };

  // The viewshed from a point, with what the proposal hides, draped.
  async function showViewshed(p) {
    say("viewshed…");
    const body = { lon: p[0], lat: p[1], height: 2, radius: VIEWSHED_RADIUS_M, format: "geojson" };
    if (state.proposal) body.proposal = state.proposal;
    const fc = await postJson("/api/heritage/viewshed", body);
    if (viewshedSource) h.viewer.dataSources.remove(viewshedSource, true);
    const ds = await Cesium.GeoJsonDataSource.load(fc, { clampToGround: true });
    for (const e of ds.entities.values) {
      if (!e.polygon) continue;
      const lost = e.properties.state.getValue() === "lost";
      e.polygon.material = (lost ? Cesium.Color.RED : Cesium.Color.LIME).withAlpha(lost ? 0.7 : 0.35);
      e.polygon.classificationType = Cesium.ClassificationType.BOTH;
    }
    viewshedSource = ds;
    await h.viewer.dataSources.add(ds);
    state.viewshed = { at: p, seen: fc.seen_cells, judged: fc.judged_cells, lost: fc.lost_cells };
    say(`viewshed: ${fc.seen_cells} of ${fc.judged_cells} cells of ${fc.cell_m} m seen` +
      (fc.lost_cells === null || fc.lost_cells === undefined ? "" : `, ${fc.lost_cells} hidden by the proposal`));
    h.viewer.scene.requestRender();
  }
  // (Not `viewshed`: that is the state's last result, set above and cleared by clearResults.)
  h.heritage.showViewshed = showViewshed;

  async function start() {
    // viewer.js builds the globe first.
    while (!h.ready) {
      if (h.error) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    buildPanel();
    setupDrawing();
    await loadZones();
    state.ready = true;
  }
  start().catch((e) => {
    state.error = String(e && e.stack ? e.stack : e);
    console.error(e);
  });
})();
