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
// Citizen reports: the public Open311 reports (/open311/v2/requests.json) as a clustered point
// layer; a click shows the report and its photo (metadata removed by the server).
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
  // Modules (web/js/*.js): functions called with /api/layers once the globe is up; click
  // handlers tried before the built-in ones (true: handled); entity layers by toggle name.
  modules: [],
  pickHandlers: [],
  dataSources: {},
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
  for (const handle of huetwin.pickHandlers) if (handle(feature)) return;
  const report = feature && feature.id instanceof Cesium.Entity && feature.id.properties && feature.id.properties.report;
  if (report) {
    showReport(report.getValue());
    return;
  }
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

// A citizen report (Open311, public fields only) and its photo, which opens full size.
function showReport(r) {
  huetwin.selected = r;
  const rows = [
    ["report", r.service_request_id],
    ["service", r.service_name],
    ["status", r.status + (r.status_notes ? ` (${r.status_notes})` : "")],
    ["filed", r.requested_datetime],
    ["description", r.description || "–"],
  ]
    .map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml(String(v))}</td></tr>`)
    .join("");
  // Signed in (a private server wants a token for the photo too): fetched with the token and
  // shown, and opened full size, from a blob URL; otherwise straight from its URL.
  const signed = !!token();
  const url = signed ? "" : escapeHtml(r.media_url || "");
  const photo = r.media_url
    ? `<a id="report-photo-link" href="${url || "#"}" target="_blank" rel="noopener"><img class="report-photo" id="report-photo" ${url ? `src="${url}"` : ""} alt="photo of report ${escapeHtml(r.service_request_id)}"></a>`
    : "";
  $("info").innerHTML = `<table>${rows}</table>${photo}`;
  if (r.media_url && signed) {
    fetch(r.media_url, { headers: authHeaders() })
      .then((res) => (res.ok ? res.blob() : Promise.reject(new Error(`${res.status} ${r.media_url}`))))
      .then((blob) => {
        if (huetwin.selected !== r) return;
        const blobUrl = URL.createObjectURL(blob);
        $("report-photo").src = blobUrl;
        $("report-photo-link").href = blobUrl;
      })
      .catch((e) => status(`photo: ${e.message}`));
  }
}

// Citizen reports (GET /open311/v2/requests.json: the last 90 days) as points, clustered when
// close on screen; open ones orange, closed ones grey. A twin served without its folder has no
// reports route (`/api/layers` says so in `reports`): no layer then, and no request.
async function loadReports(info) {
  if (!info || !info.reports) return;
  let reports;
  try {
    reports = await getJson("/open311/v2/requests.json");
  } catch (e) {
    return;
  }
  const ds = new Cesium.CustomDataSource("reports");
  ds.clustering.enabled = true;
  ds.clustering.pixelRange = 40;
  ds.clustering.minimumClusterSize = 2;
  for (const r of reports) addReport(ds, r);
  await huetwin.viewer.dataSources.add(ds);
  huetwin.reports = ds;
  // New reports from the live push stream (web/js/sensors.js).
  huetwin.addReport = (r) => {
    if (!ds.entities.getById(`report:${r.service_request_id}`)) addReport(ds, r);
    huetwin.viewer.scene.requestRender();
  };
  addToggle("reports", `Citizen reports (${reports.length})`);
}

// One report as a point (open orange, closed grey).
function addReport(ds, r) {
  ds.entities.add({
    id: `report:${r.service_request_id}`,
    position: Cesium.Cartesian3.fromDegrees(r.long, r.lat, 2),
    point: {
      pixelSize: 11,
      color: r.status === "closed" ? Cesium.Color.GRAY : Cesium.Color.ORANGE,
      outlineColor: Cesium.Color.WHITE,
      outlineWidth: 2,
      disableDepthTestDistance: Number.POSITIVE_INFINITY,
    },
    properties: { report: r },
  });
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
    huetwin.basemapProvider = new Cesium.UrlTemplateImageryProvider({ url });
    return new Cesium.ImageryLayer(huetwin.basemapProvider);
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
  const provider = (template, size) =>
    new Cesium.UrlTemplateImageryProvider({
      url: new Cesium.Resource({ url: template, headers: authHeaders() }),
      rectangle: Cesium.Rectangle.fromDegrees(w, s, e, n),
      minimumLevel: tj.minzoom,
      maximumLevel: tj.maxzoom,
      tileWidth: size,
      tileHeight: size,
      credit: tj.attribution ? new Cesium.Credit(tj.attribution, true) : undefined,
    });
  // On the globe Cesium picks the level whose texels match the screen.
  huetwin.basemapProvider = provider(tj.tiles[0], 256);
  // Draped on the terrain tileset (web/js/layers.js), Cesium picks the level from each
  // terrain tile's size, about one imagery tile per terrain tile, not from the screen: the
  // 512-pixel (@2x) tiles give twice the texels at that level (the terrain tiles refine for
  // them, tiles3d's terrain_drape_error), where 256-pixel ones blurred.
  huetwin.drapeProvider = provider(tj.tiles[0].replace(/\.png$/, "@2x.png"), 512);
  return new Cesium.ImageryLayer(huetwin.basemapProvider);
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
    const t = name === "water" ? huetwin.water : name === "reports" ? huetwin.reports : huetwin.dataSources[name] || huetwin.tilesets[name];
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
  if (name === "terrain") {
    if (huetwin.dressTerrain) huetwin.dressTerrain(ts);
    else ts.style = new Cesium.Cesium3DTileStyle({ color: "color('#9fb58a')" });
  }
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
// For the panels in web/js/: JSON from the server with the signed-in token.
huetwin.getJson = getJson;

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
    // Cancel: DELETE /api/runs/<id>; the run ends as "cancelled" through the same events.
    const cancel = $("cancel");
    cancel.hidden = false;
    cancel.onclick = () =>
      getJson(`/api/runs/${encodeURIComponent(id)}`, { method: "DELETE" }).catch((e) => runStatus(`cannot cancel: ${e.message}`));
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
      $("cancel").hidden = true;
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

// Volume/capacity classes of a traffic run's roads, as in the rendered pictures; a road with a
// closed link is drawn closed whatever its v/c, never in a free road's green.
const VC_CLASSES = [
  [(r) => r.closed, "#581878", "closed"],
  [(r) => r.vc === null, "#969696", "no v/c"],
  [(r) => r.vc >= 0.9, "#d62828", "v/c ≥ 0.9"],
  [(r) => r.vc >= 0.6, "#f0c424", "0.6 ≤ v/c < 0.9"],
  [() => true, "#2ea648", "v/c < 0.6"],
];

// One CSV table (RFC 4180: quoted fields, doubled quotes) as arrays of fields.
function parseCsv(text) {
  const rows = [];
  let row = [], field = "", quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { row.push(field); field = ""; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field); field = "";
      if (row.length > 1 || row[0] !== "") rows.push(row);
      row = [];
    } else field += c;
  }
  if (field !== "" || row.length) { row.push(field); rows.push(row); }
  return rows;
}

// Each road of a traffic run's links.csv: its largest v/c and whether a link of it is closed.
function roadStates(csv) {
  const [head, ...rows] = parseCsv(csv);
  const col = (n) => head.indexOf(n);
  const [ri, vi, ci] = [col("road_id"), col("vc"), col("closed")];
  if (ri < 0 || vi < 0) throw new Error("links.csv has no road_id or vc column");
  const roads = new Map();
  for (const r of rows) {
    const id = r[ri];
    const vc = r[vi] === "" ? null : Number(r[vi]);
    const closed = ci >= 0 && r[ci] === "true";
    const o = roads.get(id) || { vc: null, closed: false };
    if (vc !== null && isFinite(vc)) o.vc = o.vc === null ? vc : Math.max(o.vc, vc);
    o.closed = o.closed || closed;
    roads.set(id, o);
  }
  return roads;
}

// Every feature of a layer through OGC API Features, page by page.
huetwin.allFeatures = allFeatures;
async function allFeatures(layer) {
  let url = `/ogc/collections/${layer}/items?limit=10000`;
  const out = [];
  while (url) {
    const page = await getJson(url);
    out.push(...page.features);
    const next = (page.links || []).find((l) => l.rel === "next");
    url = next ? next.href : null;
  }
  return out;
}

// Draw a traffic run's roads on the ground, coloured by class (or remove them: runId null).
async function showTraffic(runId) {
  const viewer = huetwin.viewer;
  if (huetwin.traffic) {
    viewer.scene.primitives.remove(huetwin.traffic);
    huetwin.traffic = null;
  }
  huetwin.trafficStats = null;
  $("traffic-legend").innerHTML = "";
  window.dispatchEvent(new CustomEvent("huetwin:traffic", { detail: { runId } }));
  if (!runId) return;
  const r = await fetch(`/api/runs/${encodeURIComponent(runId)}/files/links.csv`, { headers: authHeaders() });
  if (!r.ok) throw new Error(`${r.status} links.csv of run ${runId}`);
  const states = roadStates(await r.text());
  huetwin.roadFeatures = huetwin.roadFeatures || (await allFeatures("roads"));
  const instances = [];
  const counts = Object.fromEntries(VC_CLASSES.map(([, , label]) => [label, 0]));
  const byRoad = {};
  for (const f of huetwin.roadFeatures) {
    const st = states.get(f.id);
    if (!st || !f.geometry) continue;
    const [, colour, label] = VC_CLASSES.find(([test]) => test(st));
    counts[label]++;
    byRoad[f.id] = label;
    const lines = f.geometry.type === "LineString" ? [f.geometry.coordinates] : f.geometry.type === "MultiLineString" ? f.geometry.coordinates : [];
    for (const line of lines) {
      if (line.length < 2) continue;
      instances.push(
        new Cesium.GeometryInstance({
          geometry: new Cesium.GroundPolylineGeometry({ positions: Cesium.Cartesian3.fromDegreesArray(line.flat()), width: label === "closed" ? 6 : 4 }),
          attributes: { color: Cesium.ColorGeometryInstanceAttribute.fromColor(Cesium.Color.fromCssColorString(colour)) },
          id: f.id,
        })
      );
    }
  }
  if (instances.length) {
    huetwin.traffic = viewer.scene.primitives.add(
      new Cesium.GroundPolylinePrimitive({ geometryInstances: instances, appearance: new Cesium.PolylineColorAppearance(), asynchronous: false })
    );
  }
  huetwin.trafficStats = { roads: Object.keys(byRoad).length, counts, byRoad };
  window.dispatchEvent(new CustomEvent("huetwin:traffic", { detail: { runId } }));
  $("traffic-legend").innerHTML =
    "<div>Roads of the run</div>" +
    VC_CLASSES.filter(([, , label]) => label !== "no v/c" || counts[label])
      .map(([, c, label]) => `<div><span style="background:${c}"></span>${escapeHtml(label)} (${counts[label]})</div>`)
      .join("");
  viewer.scene.requestRender();
}

// Links to a run's result files (GeoTIFF rasters, CSV tables, JSON totals).
const DOWNLOADS = {
  flood: [["max_depth.tif", "largest depth (GeoTIFF)"], ["first_wet_s.tif", "arrival time (GeoTIFF)"], ["buildings.csv", "buildings (CSV)"], ["heritage.csv", "monuments (CSV)"], ["road_depths.csv", "roads (CSV)"], ["impacts.json", "impacts (JSON)"]],
  traffic: [["links.csv", "links (CSV)"], ["summary.json", "summary (JSON)"], ["impacts.json", "impacts (JSON)"]],
};

function showDownloads(run) {
  const files = run ? DOWNLOADS[run.model] || [] : [];
  $("downloads").innerHTML = files
    .map(([f, label]) => `<a href="/api/runs/${encodeURIComponent(run.id)}/files/${f}" download>${escapeHtml(label)}</a>`)
    .join(" ");
}

// Two flood runs compared building by building: each building's largest depth in the shown
// run against the other run's (buildings.csv and heritage.csv of both). Wet from 0.05 m (the
// lowest depth class); depth changes under 1 cm count as unchanged.
const COMPARE_WET_M = 0.05;
const COMPARE_TOLERANCE_M = 0.01;
const COMPARE_CLASSES = [
  ["newly wet", "#d7301f"],
  ["deeper", "#fc8d59"],
  ["unchanged, wet", "#6baed6"],
  ["shallower", "#91cf60"],
  ["dried", "#1a9850"],
  ["dry in both", "#e6dfd1"],
  ["not in both runs", "#9a9a9a"],
];
const COMPARE_COLOUR = Object.fromEntries(COMPARE_CLASSES);

function compareClass(base, run) {
  if (base === undefined || run === undefined) return "not in both runs";
  const [wb, wr] = [base >= COMPARE_WET_M, run >= COMPARE_WET_M];
  if (!wb && !wr) return "dry in both";
  if (!wb) return "newly wet";
  if (!wr) return "dried";
  if (run - base > COMPARE_TOLERANCE_M) return "deeper";
  if (base - run > COMPARE_TOLERANCE_M) return "shallower";
  return "unchanged, wet";
}

// id -> largest depth (m) of a run's buildings.csv and heritage.csv.
async function runDepths(runId) {
  const out = new Map();
  for (const f of ["buildings.csv", "heritage.csv"]) {
    const r = await fetch(`/api/runs/${encodeURIComponent(runId)}/files/${f}`, { headers: authHeaders() });
    if (!r.ok) continue;
    const [head, ...rows] = parseCsv(await r.text());
    const [ii, di] = [head.indexOf("id"), head.indexOf("max_depth_m")];
    for (const row of rows) if (row[di] !== "" && row[di] !== undefined) out.set(row[ii], Number(row[di]));
  }
  return out;
}

// Colour the loaded buildings and monuments by comparison class (or back to depth: baseId null).
async function showComparison(baseId) {
  const shown = huetwin.shown;
  huetwin.compared = null;
  $("compare-summary").innerHTML = "";
  if (!baseId || !shown || shown.info.model !== "flood") {
    applyColour($("colour").value);
    return;
  }
  const [base, run] = await Promise.all([runDepths(baseId), runDepths(shown.id)]);
  const counts = Object.fromEntries(COMPARE_CLASSES.map(([c]) => [c, 0]));
  const classOf = new Map();
  for (const id of new Set([...base.keys(), ...run.keys()])) {
    const c = compareClass(base.get(id), run.get(id));
    classOf.set(id, c);
    counts[c]++;
  }
  // A style whose colour is computed per feature (a custom expression), so tiles loaded later
  // get their class too, and the style engine keeps the colours.
  for (const name of ["buildings", "heritage"]) {
    const ts = huetwin.tilesets[name];
    if (!ts) continue;
    const alpha = name === "heritage" ? 0.6 : 1;
    const style = new Cesium.Cesium3DTileStyle();
    style.color = {
      evaluateColor: (feature, result) => {
        const c = Cesium.Color.fromCssColorString(COMPARE_COLOUR[classOf.get(feature.getProperty("id")) || "not in both runs"], result);
        c.alpha = alpha;
        return c;
      },
    };
    ts.style = style;
  }
  huetwin.compared = { base: baseId, run: shown.id, counts, classOf: Object.fromEntries(classOf) };
  $("legend").innerHTML = "";
  $("compare-summary").innerHTML =
    `<div>${escapeHtml(shown.info.name)} against ${escapeHtml($("compare").selectedOptions[0]?.textContent || baseId)}</div>` +
    COMPARE_CLASSES.filter(([c]) => counts[c] || c !== "not in both runs")
      .map(([c, col]) => `<div><span style="background:${col}"></span>${escapeHtml(c)}: ${counts[c]}</div>`)
      .join("");
  huetwin.viewer.scene.requestRender();
}

// Step the water surface through the run's output times, one after the other has loaded.
function togglePlay() {
  const btn = $("play");
  if (huetwin.playing) {
    huetwin.playing = false;
    btn.textContent = "▶ Play";
    return;
  }
  const s = huetwin.shown;
  if (!s || !s.times.length) return;
  huetwin.playing = true;
  btn.textContent = "❚❚ Pause";
  const slider = $("time");
  if (+slider.value >= s.times.length - 1) slider.value = 0;
  (async () => {
    while (huetwin.playing && huetwin.shown === s) {
      await showWater(s.id, s.times[+slider.value]);
      huetwin.framesShown = (huetwin.framesShown || 0) + 1;
      await new Promise((r) => setTimeout(r, 1200));
      if (+slider.value >= s.times.length - 1) break;
      slider.value = +slider.value + 1;
    }
    huetwin.playing = false;
    btn.textContent = "▶ Play";
  })().catch((e) => status(String(e)));
}

async function loadCompareChoices() {
  const sel = $("compare");
  const s = huetwin.shown;
  sel.disabled = !s || s.info.model !== "flood";
  if (sel.disabled) {
    sel.innerHTML = `<option value="">compare with another flood run…</option>`;
    return;
  }
  const runs = (await getJson("/api/runs")).runs.filter((r) => r.status === "done" && r.model === "flood" && r.id !== s.id);
  sel.innerHTML =
    `<option value="">compare with another flood run…</option>` +
    runs.map((r) => `<option value="${escapeHtml(r.id)}">${escapeHtml(r.name)} · ${escapeHtml(r.id)}</option>`).join("");
}

// Show a run (or none): tiles with its depths, buildings coloured by depth, its water surface.
async function showRun(id) {
  const layers = ["buildings", "heritage"].filter((l) => huetwin.layerUrls[l]);
  const clearFlood = async () => {
    for (const l of layers) await loadTileset(l, huetwin.layerUrls[l]);
    await showWater(null);
    $("water-legend").innerHTML = "";
    $("time").disabled = true;
    applyColour($("colour").value === "depth" ? "none" : $("colour").value);
  };
  huetwin.playing = false;
  if (huetwin.compared) await showComparison(null);
  $("compare").value = "";
  if (!id) {
    huetwin.shown = null;
    $("play").disabled = true;
    await loadCompareChoices();
    await clearFlood();
    await showTraffic(null);
    $("impacts").innerHTML = "";
    showDownloads(null);
    return;
  }
  const r = await getJson(`/api/runs/${encodeURIComponent(id)}`);
  const shown = { id, info: r.run, times: r.water_times_s || [] };
  $("impacts").innerHTML = impactsTable(r.impacts);
  showDownloads(r.run);
  if (r.run.model === "flood") {
    await showTraffic(null);
    for (const l of layers) await loadTileset(l, `${huetwin.layerUrls[l]}?run=${encodeURIComponent(id)}`);
    $("colour").value = "depth";
    applyColour("depth");
    const times = shown.times;
    const slider = $("time");
    slider.max = Math.max(0, times.length - 1);
    slider.value = slider.max;
    slider.disabled = times.length === 0;
    $("play").disabled = times.length < 2;
    // The water's colours by depth class, as the server's water tiles carry them.
    $("water-legend").innerHTML = (r.water_depth_classes || []).length
      ? "<div>Water depth</div>" +
        r.water_depth_classes.map((c) => `<div><span style="background:${escapeHtml(c.colour)}"></span>${escapeHtml(c.label)}</div>`).join("")
      : "";
    await showWater(id, times[times.length - 1]);
  } else if (r.run.model === "traffic") {
    // A traffic run: the last flood's depths and water go, the roads come by v/c class.
    if (huetwin.shown && huetwin.shown.info.model === "flood") await clearFlood();
    else await showWater(null);
    $("play").disabled = true;
    await showTraffic(id);
  }
  // Set last: tests wait for it.
  huetwin.shown = shown;
  await loadCompareChoices().catch(() => {});
}

// A run started by the server (a nowcast at a gauge's alarm): followed in the run panel, then,
// once done, chosen in the runs select and shown like any run (its depths).
async function showRunLive(id, state) {
  huetwin.liveRun = { id, state };
  runStatus(`nowcast run ${id}: ${state}`);
  if (state === "done") {
    await loadRuns(id);
    await showRun(id);
  }
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
  // The data's credit (twin.toml `attribution`, e.g. "© OpenStreetMap contributors", ODbL).
  if (info.attribution) viewer.creditDisplay.addStaticCredit(new Cesium.Credit(info.attribution, true));
  $("layers").innerHTML = "";
  const labels = { buildings: "Buildings", heritage: "Heritage sites", terrain: "Terrain", pointclouds: "Point clouds" };
  for (const layer of info.layers.filter((l) => l.tileset)) {
    huetwin.layerUrls[layer.name] = layer.tileset;
    await loadTileset(layer.name, layer.tileset);
    addToggle(layer.name, `${labels[layer.name] || layer.name} (${layer.count})`);
  }
  if (!Object.keys(huetwin.tilesets).length) $("layers").innerHTML = "<em>no 3D Tiles layers</em>";
  // Roads and water as map layers (web/js/layers.js).
  if (huetwin.loadVectorLayers) await huetwin.loadVectorLayers(info);

  $("colour").addEventListener("change", (e) => applyColour(e.target.value));
  applyColour($("colour").value);
  $("citadel").addEventListener("click", () => flyToCitadel());
  $("run").addEventListener("click", () => {
    const file = $("scenario").value;
    if (file) huetwin.runScenario(file).catch((e) => status(String(e)));
  });
  $("runs").addEventListener("change", (e) => showRun(e.target.value).catch((err) => status(String(err))));
  $("play").addEventListener("click", togglePlay);
  $("compare").addEventListener("change", (e) => showComparison(e.target.value).catch((err) => status(String(err))));
  $("time").addEventListener("input", (e) => {
    const s = huetwin.shown;
    if (s) showWater(s.id, s.times[+e.target.value]).catch((err) => status(String(err)));
  });
  await loadScenarios();
  await loadReports(info);
  huetwin.addReport = huetwin.addReport || (() => {});
  huetwin.lib = { getJson, followEvents, escapeHtml, addToggle, showRunLive };
  for (const start of huetwin.modules) await start(info).catch((e) => status(`module: ${e}`));
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
