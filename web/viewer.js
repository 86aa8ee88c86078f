// The huetwin web viewer: CesiumJS over the twin's own basemap (raster tiles drawn by the
// server from the twin's layers, /basemap/), the twin's 3D Tiles layers from /tiles/, layer toggles, colouring of buildings by an
// attribute, feature details on click, and a flight to the Hue Citadel.
//
// Scenarios: the panel lists the server's scenario files (/api/scenarios), runs one
// (POST /api/runs), follows its progress (server-sent events), then shows a flood run: the
// buildings and heritage tilesets reloaded with ?run=<id> (their max_flood_depth column filled),
// coloured by depth, and the water surface of each output time on a slider.
//
// Sign in: writes (starting a run) need a token of the planner role or above, made by
// `twin token create`; pasted in the Sign in box, kept in sessionStorage (this tab only) and
// sent as `Authorization: Bearer` on the API requests, tiles and run events (a private server
// needs it on reads too).
//
// URL parameters (optional, for real data): ?imagery=<XYZ template, e.g. https://host/{z}/{x}/{y}.png>
// &terrain=<quantized-mesh terrain URL>. Without them nothing leaves this server.
"use strict";

// The Imperial City (Hoang Thanh) inside the Citadel of Hue.
const CITADEL = { lon: 107.5785, lat: 16.4695 };

// State for people and tests (the browser test reads it).
const huetwin = (window.huetwin = {
  ready: false,
  error: null,
  viewer: null,
  tilesets: {},
  failedTiles: [],
  selected: null,
  layerUrls: {},
  // The last run started here: { id, status, events: [fractions], end: run.json }.
  run: null,
  // The run shown: { id, info, times }.
  shown: null,
  water: null,
});

// Water depth classes (m) for buildings coloured by a run's max_flood_depth (-1: no data).
const DEPTH_CLASSES = [
  [1.0, "#08306b", "≥ 1 m"],
  [0.5, "#2171b5", "0.5–1 m"],
  [0.3, "#6baed6", "0.3–0.5 m"],
  [0.05, "#c6dbef", "0.05–0.3 m"],
];
const DRY = "#e6dfd1";
const NO_DATA = "#9a9a9a";

const STYLES = {
  none: { color: "color('#e6dfd1')" },
  height: {
    color: {
      conditions: [
        ["${height} >= 30", "color('#b2182b')"],
        ["${height} >= 15", "color('#ef8a62')"],
        ["${height} >= 8", "color('#fddbc7')"],
        ["${height} >= 4", "color('#67a9cf')"],
        ["true", "color('#2166ac')"],
      ],
    },
  },
  use: {
    color: {
      conditions: [
        ["${use} === 'residential' || ${use} === 'house' || ${use} === 'apartments' || ${use} === 'detached'", "color('#f6d55c')"],
        ["${use} === 'commercial' || ${use} === 'retail' || ${use} === 'office' || ${use} === 'hotel'", "color('#3caea3')"],
        ["${use} === 'temple' || ${use} === 'pagoda' || ${use} === 'church' || ${use} === 'religious' || ${use} === 'shrine'", "color('#ed553b')"],
        ["${use} === 'school' || ${use} === 'university' || ${use} === 'hospital' || ${use} === 'public' || ${use} === 'government'", "color('#20639b')"],
        ["true", "color('#bbbbbb')"],
      ],
    },
  },
  heritage_zone: {
    color: {
      conditions: [
        ["${heritage_zone} === 'I' || ${heritage_zone} === 'zone I'", "color('#b2182b')"],
        ["${heritage_zone} === 'II' || ${heritage_zone} === 'zone II'", "color('#ef8a62')"],
        ["Boolean(${heritage_zone})", "color('#fdae61')"],
        ["true", "color('#cfcfcf')"],
      ],
    },
  },
};

STYLES.depth = {
  color: {
    // No data (-1: no run, or outside the flood grid) reaches the style as undefined.
    conditions: [["${max_flood_depth} === undefined", `color('${NO_DATA}')`]]
      .concat(DEPTH_CLASSES.map(([d, c]) => [`\${max_flood_depth} >= ${d}`, `color('${c}')`]))
      .concat([["${max_flood_depth} >= 0", `color('${DRY}')`], ["true", `color('${NO_DATA}')`]]),
  },
};

// The colour class of a depth, as the depth style gives it (tests compare with it).
huetwin.depthColour = function (d) {
  if (d === undefined || d === null || d < 0) return NO_DATA;
  for (const [min, c] of DEPTH_CLASSES) if (d >= min) return c;
  return DRY;
};

const LEGENDS = {
  none: [],
  height: [["#b2182b", "≥ 30 m"], ["#ef8a62", "15–30 m"], ["#fddbc7", "8–15 m"], ["#67a9cf", "4–8 m"], ["#2166ac", "< 4 m"]],
  use: [["#f6d55c", "residential"], ["#3caea3", "commercial"], ["#ed553b", "religious"], ["#20639b", "public"], ["#bbbbbb", "other"]],
  heritage_zone: [["#b2182b", "zone I"], ["#ef8a62", "zone II"], ["#fdae61", "other zone"], ["#cfcfcf", "none"]],
  depth: DEPTH_CLASSES.map(([, c, label]) => [c, label]).concat([[DRY, "dry"], [NO_DATA, "no run / outside the flood grid"]]),
};

function $(id) {
  return document.getElementById(id);
}

function status(msg) {
  $("status").textContent = msg || "";
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function applyColour(kind) {
  const ts = huetwin.tilesets.buildings;
  if (ts) ts.style = new Cesium.Cesium3DTileStyle(STYLES[kind] || STYLES.none);
  const hs = huetwin.tilesets.heritage;
  if (hs) {
    hs.style = new Cesium.Cesium3DTileStyle(
      kind === "depth" ? { color: { conditions: STYLES.depth.color.conditions.map(([c, col]) => [c, col.replace(")", ", 0.6)")]) } } : { color: "color('#ffb000', 0.45)" }
    );
  }
  $("legend").innerHTML = (LEGENDS[kind] || [])
    .map(([c, label]) => `<div><span style="background:${c}"></span>${escapeHtml(label)}</div>`)
    .join("");
}

function showFeature(feature) {
  huetwin.selected = null;
  if (!(feature instanceof Cesium.Cesium3DTileFeature)) {
    $("info").innerHTML = "<em>nothing here</em>";
    return;
  }
  const props = {};
  for (const id of feature.getPropertyIds()) props[id] = feature.getProperty(id);
  huetwin.selected = props;
  const fmt = (k, v) => {
    if (v === undefined || v === null || v === "") return "–";
    if (typeof v === "number" && (k.includes("height") || k.includes("depth"))) return `${v.toFixed(1)} m`;
    return String(v);
  };
  const rows = Object.entries(props)
    .map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td data-prop="${escapeHtml(k)}">${escapeHtml(fmt(k, v))}</td></tr>`)
    .join("");
  $("info").innerHTML = `<table>${rows}</table>`;
}

function flyToCitadel(duration) {
  huetwin.viewer.camera.flyTo({
    destination: Cesium.Cartesian3.fromDegrees(CITADEL.lon, CITADEL.lat - 0.021, 1700),
    orientation: { heading: 0, pitch: Cesium.Math.toRadians(-42), roll: 0 },
    duration: duration === undefined ? 2 : duration,
  });
}

// Look straight down at a point from `height` metres (tests click the screen centre).
huetwin.lookDown = function (lon, lat, height) {
  huetwin.viewer.camera.setView({
    destination: Cesium.Cartesian3.fromDegrees(lon, lat, height),
    orientation: { heading: 0, pitch: -Cesium.Math.PI_OVER_TWO, roll: 0 },
  });
};

// True when the globe and every shown tileset have finished loading for the current view.
huetwin.settled = function () {
  const v = huetwin.viewer;
  if (!v || !v.scene.globe.tilesLoaded) return false;
  const sets = Object.values(huetwin.tilesets).concat(huetwin.water ? [huetwin.water] : []);
  return sets.every((t) => !t.show || t.tilesLoaded);
};

huetwin.pickAt = function (x, y) {
  const picked = huetwin.viewer.scene.pick(new Cesium.Cartesian2(x, y));
  showFeature(picked);
  return huetwin.selected;
};

// The globe's colour where no imagery covers it (outside the twin's basemap).
const GLOBE_COLOUR = "#dfe3dc";

// The base imagery: ?imagery=<XYZ template> when given; else the twin's own basemap
// (/basemap/tilejson.json: raster tiles the server draws from the twin's layers) over the
// twin's rectangle, with a plain globe colour elsewhere. Nothing else is fetched (no Natural
// Earth); with no basemap (an empty twin) the globe is the plain colour.
async function baseLayer(params) {
  const url = params.get("imagery");
  if (url) {
    return new Cesium.ImageryLayer(new Cesium.UrlTemplateImageryProvider({ url }));
  }
  let tj = null;
  try {
    tj = await getJson("/basemap/tilejson.json");
  } catch (e) {
    console.warn("no basemap:", e);
  }
  if (!tj || !Array.isArray(tj.bounds)) return false;
  const [w, s, e, n] = tj.bounds;
  huetwin.basemap = tj;
  return new Cesium.ImageryLayer(
    new Cesium.UrlTemplateImageryProvider({
      url: new Cesium.Resource({ url: tj.tiles[0], headers: authHeaders() }),
      rectangle: Cesium.Rectangle.fromDegrees(w, s, e, n),
      minimumLevel: tj.minzoom,
      maximumLevel: tj.maxzoom,
      tileWidth: 256,
      tileHeight: 256,
      credit: tj.attribution ? new Cesium.Credit(tj.attribution, true) : undefined,
    })
  );
}

async function terrain(params) {
  const url = params.get("terrain");
  if (url) return Cesium.CesiumTerrainProvider.fromUrl(url);
  return new Cesium.EllipsoidTerrainProvider();
}

function addToggle(name, label) {
  const id = `layer-${name}`;
  const el = document.createElement("label");
  el.innerHTML = `<input type="checkbox" id="${id}" checked> ${escapeHtml(label)}`;
  $("layers").appendChild(el);
  $(id).addEventListener("change", (e) => {
    const t = name === "water" ? huetwin.water : huetwin.tilesets[name];
    if (t) t.show = e.target.checked;
  });
}

// Load (or reload, e.g. with ?run=<id>) the tileset of a layer, keeping its toggle's state.
async function loadTileset(name, url) {
  const viewer = huetwin.viewer;
  const ts = await Cesium.Cesium3DTileset.fromUrl(new Cesium.Resource({ url, headers: authHeaders() }), {
    maximumScreenSpaceError: 16,
  });
  ts.tileFailed.addEventListener((e) => {
    huetwin.failedTiles.push({ url: e.url, message: String(e.message) });
    status(`tile failed: ${e.url}`);
  });
  if (name === "terrain") ts.style = new Cesium.Cesium3DTileStyle({ color: "color('#9fb58a')" });
  const old = huetwin.tilesets[name];
  viewer.scene.primitives.add(ts);
  huetwin.tilesets[name] = ts;
  if (old) {
    ts.show = old.show;
    viewer.scene.primitives.remove(old);
  }
  return ts;
}

const TOKEN_KEY = "huetwin.token";

function token() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || "";
  } catch (e) {
    return "";
  }
}

// The Authorization header of the signed-in token, merged into `headers`.
function authHeaders(headers) {
  const t = token();
  return t ? { ...(headers || {}), Authorization: `Bearer ${t}` } : { ...(headers || {}) };
}

// The token is not checked here: the server says 401 or 403 on the first write it refuses.
function showSignedIn() {
  const t = token();
  $("sign-in-form").hidden = !!t;
  $("signed-in").hidden = !t;
  $("signed-in-as").textContent = t ? `signed in (token ${t.split("_")[1] || "?"})` : "";
  huetwin.signedIn = !!t;
}

function setupSignIn() {
  $("sign-in-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const t = $("token").value.trim();
    $("token").value = "";
    if (!t) return;
    try {
      sessionStorage.setItem(TOKEN_KEY, t);
    } catch (err) {
      status(`cannot keep the token: ${err}`);
    }
    showSignedIn();
    // A private server refused the first reads: load again with the token.
    if (huetwin.error) location.reload();
  });
  $("sign-out").addEventListener("click", () => {
    try {
      sessionStorage.removeItem(TOKEN_KEY);
    } catch (err) {
      // nothing kept
    }
    showSignedIn();
  });
  showSignedIn();
}

async function getJson(url, init) {
  init = { ...(init || {}) };
  init.headers = authHeaders(init.headers);
  const r = await fetch(url, init);
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error((body.error && body.error.message) || `${r.status} ${url}`);
  return body;
}

async function loadScenarios() {
  const sel = $("scenario");
  try {
    const body = await getJson("/api/scenarios");
    if (!body.enabled) {
      $("scenario-panel").hidden = true;
      return;
    }
    const list = body.scenarios;
    sel.innerHTML = list.length
      ? list
          .map((s) =>
            s.error
              ? `<option value="" disabled>${escapeHtml(s.file)}: ${escapeHtml(s.error)}</option>`
              : `<option value="${escapeHtml(s.file)}">${escapeHtml(s.name)} (${escapeHtml(s.model)})</option>`
          )
          .join("")
      : `<option value="">no scenario files (twin serve --scenarios DIR)</option>`;
  } catch (e) {
    sel.innerHTML = `<option value="">${escapeHtml(e.message)}</option>`;
    $("run").disabled = true;
  }
  await loadRuns();
}

async function loadRuns(select) {
  let runs = [];
  try {
    runs = (await getJson("/api/runs")).runs;
  } catch (e) {
    return;
  }
  const sel = $("runs");
  sel.innerHTML =
    `<option value="">none (the twin as it is)</option>` +
    runs
      .filter((r) => r.status === "done")
      .map((r) => `<option value="${escapeHtml(r.id)}">${escapeHtml(r.name)} · ${escapeHtml(r.model)} · ${escapeHtml(r.id)}</option>`)
      .join("");
  if (select) sel.value = select;
}

function runStatus(text) {
  $("run-status").textContent = text;
}

// Start the chosen scenario and follow it; resolves with the final run.json.
huetwin.runScenario = function (file) {
  return new Promise(async (resolve, reject) => {
    let started;
    try {
      started = await getJson("/api/runs", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ scenario: file }),
      });
    } catch (e) {
      runStatus(`cannot start: ${e.message}${token() ? "" : " (sign in with a planner token)"}`);
      return reject(e);
    }
    const id = started.run.id;
    huetwin.run = { id, status: "queued", events: [], end: null };
    runStatus(`run ${id} queued`);
    $("run-progress").value = 0;
    const es = followEvents(started.events, {
      progress: (m) => {
      const p = JSON.parse(m.data);
      huetwin.run.status = p.status;
      huetwin.run.events.push(p.fraction);
      $("run-progress").value = p.fraction;
      runStatus(`${(p.fraction * 100).toFixed(0)} % · ${p.phase}: ${p.message}`);
      },
      end: async (m) => {
      es.close();
      const info = JSON.parse(m.data);
      huetwin.run.status = info.status;
      huetwin.run.end = info;
      $("run-progress").value = info.status === "done" ? 1 : $("run-progress").value;
      runStatus(`run ${id}: ${info.status}${info.error ? ` (${info.error})` : ""}`);
      await loadRuns(info.status === "done" ? id : undefined);
      if (info.status === "done") await showRun(id);
      resolve(info);
      },
    }, () => {
      if (huetwin.run.end) return;
      runStatus(`run ${id}: connection lost; see /api/runs/${id}`);
    });
    huetwin.run.via = es.via;
  });
};

// Follow a server-sent event stream: `on` maps event names to handlers of { data }. Signed
// in, the stream is read through fetch with the token (EventSource cannot send headers, and a
// private server wants one on reads); otherwise through EventSource. Returns { close, via }.
function followEvents(url, on, onError) {
  if (!token()) {
    const es = new EventSource(url);
    for (const [name, fn] of Object.entries(on)) es.addEventListener(name, fn);
    es.onerror = onError;
    return { close: () => es.close(), via: "eventsource" };
  }
  const ctrl = new AbortController();
  (async () => {
    const r = await fetch(url, { headers: authHeaders({ Accept: "text/event-stream" }), signal: ctrl.signal });
    if (!r.ok || !r.body) throw new Error(`${r.status} ${url}`);
    const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value.replace(/\r\n/g, "\n");
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        let name = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const c = line.indexOf(":");
          const field = c < 0 ? line : line.slice(0, c);
          let v = c < 0 ? "" : line.slice(c + 1);
          if (v.startsWith(" ")) v = v.slice(1);
          if (field === "event") name = v;
          else if (field === "data") data.push(v);
        }
        if (data.length && on[name]) await on[name]({ data: data.join("\n") });
      }
    }
  })().catch((e) => {
    if (!ctrl.signal.aborted) onError(e);
  });
  return { close: () => ctrl.abort(), via: "fetch" };
}

// Impacts of a run as people read them: labels and units, the heritage sites hit, and trips cut
// off by closures reported apart from TSTT (never as a fall in travel time).
const num = (v, digits = 0) => (typeof v === "number" && isFinite(v) ? v.toLocaleString("en-GB", { maximumFractionDigits: digits, minimumFractionDigits: digits }) : "–");
const hours = (s) => `${num(s / 3600, 1)} h`;
const IMPACT_ROWS = {
  flood: [
    ["Flooded area (max)", (b) => `${num(b.max_flooded_area_m2 / 1e6, 2)} km²`],
    ["Buildings wet", (b) => `${num(b.buildings_wet)} of ${num(b.buildings)} (water over ${num(b.wet_depth_m, 2)} m)`],
    ["Buildings above hazard depth", (b) => `${num(b.buildings_above_hazard_depth)} (over ${num(b.hazard_depth_m, 2)} m)`],
    ["Roads impassable", (b) => `${num(b.roads_flooded)} of ${num(b.roads)} links, ${num(b.roads_flooded_length_m / 1000, 1)} km`],
    ["Heritage sites wet", (b) => `${num((b.heritage_hit || []).length)} of ${num(b.heritage_sites)}`],
    ["Water budget error", (b) => `${num(100 * b.mass_balance_relative_error, 4)} %`],
  ],
  traffic: [
    ["Travel time, all trips (TSTT)", (b) => `${num(b.tstt_baseline)} → ${num(b.tstt_scenario)} veh·min`],
    ["TSTT change", (b) => (b.tstt_change_pct === null || b.tstt_change_pct === undefined ? "not comparable: trips were cut off" : `${b.tstt_change_pct >= 0 ? "+" : ""}${num(b.tstt_change_pct, 2)} %`)],
    ["Trips cut off (no path)", (b) => `${num(b.unreachable_trips_scenario)} (${num(100 * (b.unserved_share_scenario || 0), 2)} % of trips; baseline ${num(b.unreachable_trips_baseline)})`],
    [
      "TSTT with cut-off trips charged",
      (b) => (b.unserved_penalty_min ? `${b.tstt_penalised_change_pct >= 0 ? "+" : ""}${num(b.tstt_penalised_change_pct, 2)} % (${num(b.unserved_penalty_min)} min per trip)` : "–"),
    ],
    ["Closed links", (b) => `${num(b.closed_links)} of ${num(b.links)} on ${num((b.closed_roads || []).length)} roads`],
    ["Relative gap", (b) => `${(b.gap_scenario ?? NaN).toExponential(1)}`],
  ],
};

function impactsTable(impacts) {
  if (!impacts) return "";
  const model = impacts.model || (impacts.flood ? "flood" : impacts.traffic ? "traffic" : null);
  const body = impacts.flood || impacts.traffic || impacts;
  const rows = (IMPACT_ROWS[model] || []).map(([label, f]) => `<tr><td>${escapeHtml(label)}</td><td>${escapeHtml(f(body))}</td></tr>`);
  let html = `<table>${rows.join("")}</table>`;
  const hit = body.heritage_hit || [];
  if (hit.length) {
    const items = hit
      .slice(0, 12)
      .map((h) => `<tr><td>${escapeHtml(h.name || h.id)}</td><td>${num(h.max_depth_m, 2)} m</td><td>${hours(h.wet_duration_s)}</td></tr>`)
      .join("");
    const more = hit.length > 12 ? `<tr><td colspan="3">and ${hit.length - 12} more</td></tr>` : "";
    html += `<table class="hits"><tr><th>Monument hit</th><th>max depth</th><th>wet for</th></tr>${items}${more}</table>`;
  }
  return html;
}

async function showWater(runId, time) {
  const viewer = huetwin.viewer;
  if (huetwin.water) {
    viewer.scene.primitives.remove(huetwin.water);
    huetwin.water = null;
  }
  if (!runId || time === undefined) return;
  const ts = await Cesium.Cesium3DTileset.fromUrl(
    new Cesium.Resource({ url: `/api/runs/${encodeURIComponent(runId)}/water/${time}/tileset.json`, headers: authHeaders() })
  );
  ts.tileFailed.addEventListener((e) => huetwin.failedTiles.push({ url: e.url, message: String(e.message) }));
  viewer.scene.primitives.add(ts);
  huetwin.water = ts;
  $("time-label").textContent = `${(time / 3600).toFixed(1)} h`;
}

// Show a run (or none): tiles with its depths, buildings coloured by depth, its water surface.
async function showRun(id) {
  const layers = ["buildings", "heritage"].filter((l) => huetwin.layerUrls[l]);
  if (!id) {
    huetwin.shown = null;
    for (const l of layers) await loadTileset(l, huetwin.layerUrls[l]);
    await showWater(null);
    $("impacts").innerHTML = "";
    $("time").disabled = true;
    applyColour($("colour").value === "depth" ? "none" : $("colour").value);
    return;
  }
  const r = await getJson(`/api/runs/${encodeURIComponent(id)}`);
  const shown = { id, info: r.run, times: r.water_times_s || [] };
  $("impacts").innerHTML = impactsTable(r.impacts);
  if (r.run.model === "flood") {
    for (const l of layers) await loadTileset(l, `${huetwin.layerUrls[l]}?run=${encodeURIComponent(id)}`);
    $("colour").value = "depth";
    applyColour("depth");
    const times = shown.times;
    const slider = $("time");
    slider.max = Math.max(0, times.length - 1);
    slider.value = slider.max;
    slider.disabled = times.length === 0;
    await showWater(id, times[times.length - 1]);
  }
  // Set last: tests wait for it.
  huetwin.shown = shown;
}

// Colours and depths of the loaded building/heritage features with a result (tests read it).
huetwin.featureDepths = function () {
  const out = {};
  for (const name of ["buildings", "heritage"]) {
    const ts = huetwin.tilesets[name];
    if (!ts) continue;
    const visit = (tile) => {
      const c = tile.content;
      if (c && c.featuresLength) {
        for (let i = 0; i < c.featuresLength; i++) {
          const f = c.getFeature(i);
          const id = f.getProperty("id");
          if (id === undefined) continue;
          const d = f.getProperty("max_flood_depth");
          out[id] = { layer: name, depth: d === undefined ? -1 : d, colour: f.color.toCssHexString().slice(0, 7) };
        }
      }
      for (const ch of tile.children) visit(ch);
    };
    visit(ts.root);
  }
  return out;
};

async function main() {
  if (typeof Cesium === "undefined") {
    status("CesiumJS is missing: run scripts/setup.sh (it copies the npm cesium package to web/vendor/cesium).");
    huetwin.error = "no Cesium";
    return;
  }
  const params = new URLSearchParams(window.location.search);
  // The first frame is already the city: no whole-Earth view (and its imagery) before it.
  Cesium.Camera.DEFAULT_VIEW_RECTANGLE = Cesium.Rectangle.fromDegrees(
    CITADEL.lon - 0.03, CITADEL.lat - 0.03, CITADEL.lon + 0.03, CITADEL.lat + 0.03
  );
  Cesium.Camera.DEFAULT_VIEW_FACTOR = 0;
  const viewer = new Cesium.Viewer("cesium", {
    // A city-scale view never shows the star field: its six images are not fetched.
    skyBox: false,
    baseLayer: await baseLayer(params),
    terrainProvider: await terrain(params),
    baseLayerPicker: false,
    geocoder: false,
    timeline: false,
    animation: false,
    sceneModePicker: false,
    navigationHelpButton: false,
    fullscreenButton: false,
    infoBox: false,
    selectionIndicator: false,
    homeButton: false,
    contextOptions: { webgl: { preserveDrawingBuffer: true } },
  });
  huetwin.viewer = viewer;
  viewer.scene.globe.baseColor = Cesium.Color.fromCssColorString(GLOBE_COLOUR);
  viewer.scene.globe.depthTestAgainstTerrain = false;
  // The opening camera before any tileset loads, so tiles come for that view, coarse first.
  flyToCitadel(0);

  setupSignIn();
  const info = await getJson("/api/layers");
  $("title").textContent = `huetwin · ${info.twin}`;
  $("layers").innerHTML = "";
  const labels = { buildings: "Buildings", heritage: "Heritage sites", terrain: "Terrain", pointclouds: "Point clouds" };
  for (const layer of info.layers.filter((l) => l.tileset)) {
    huetwin.layerUrls[layer.name] = layer.tileset;
    await loadTileset(layer.name, layer.tileset);
    addToggle(layer.name, `${labels[layer.name] || layer.name} (${layer.count})`);
  }
  if (!Object.keys(huetwin.tilesets).length) $("layers").innerHTML = "<em>no 3D Tiles layers</em>";

  $("colour").addEventListener("change", (e) => applyColour(e.target.value));
  applyColour($("colour").value);
  $("citadel").addEventListener("click", () => flyToCitadel());
  $("run").addEventListener("click", () => {
    const file = $("scenario").value;
    if (file) huetwin.runScenario(file).catch((e) => status(String(e)));
  });
  $("runs").addEventListener("change", (e) => showRun(e.target.value).catch((err) => status(String(err))));
  $("time").addEventListener("input", (e) => {
    const s = huetwin.shown;
    if (s) showWater(s.id, s.times[+e.target.value]).catch((err) => status(String(err)));
  });
  await loadScenarios();
  viewer.screenSpaceEventHandler.setInputAction((click) => {
    showFeature(viewer.scene.pick(click.position));
  }, Cesium.ScreenSpaceEventType.LEFT_CLICK);

  flyToCitadel(0);
  huetwin.ready = true;
}

main().catch((e) => {
  huetwin.error = String(e && e.stack ? e.stack : e);
  status(`viewer error: ${e}`);
  console.error(e);
});
