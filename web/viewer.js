// The huetwin web viewer: CesiumJS with an offline base layer (Natural Earth II, shipped with
// Cesium), the twin's 3D Tiles layers from /tiles/, layer toggles, colouring of buildings by an
// attribute, feature details on click, and a flight to the Hue Citadel.
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
});

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

const LEGENDS = {
  none: [],
  height: [["#b2182b", "≥ 30 m"], ["#ef8a62", "15–30 m"], ["#fddbc7", "8–15 m"], ["#67a9cf", "4–8 m"], ["#2166ac", "< 4 m"]],
  use: [["#f6d55c", "residential"], ["#3caea3", "commercial"], ["#ed553b", "religious"], ["#20639b", "public"], ["#bbbbbb", "other"]],
  heritage_zone: [["#b2182b", "zone I"], ["#ef8a62", "zone II"], ["#fdae61", "other zone"], ["#cfcfcf", "none"]],
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
  return Object.values(huetwin.tilesets).every((t) => !t.show || t.tilesLoaded);
};

huetwin.pickAt = function (x, y) {
  const picked = huetwin.viewer.scene.pick(new Cesium.Cartesian2(x, y));
  showFeature(picked);
  return huetwin.selected;
};

async function baseLayer(params) {
  const url = params.get("imagery");
  if (url) {
    return new Cesium.ImageryLayer(new Cesium.UrlTemplateImageryProvider({ url }));
  }
  return Cesium.ImageryLayer.fromProviderAsync(
    Cesium.TileMapServiceImageryProvider.fromUrl(Cesium.buildModuleUrl("Assets/Textures/NaturalEarthII"))
  );
}

async function terrain(params) {
  const url = params.get("terrain");
  if (url) return Cesium.CesiumTerrainProvider.fromUrl(url);
  return new Cesium.EllipsoidTerrainProvider();
}

function addToggle(name, label, target) {
  const id = `layer-${name}`;
  const el = document.createElement("label");
  el.innerHTML = `<input type="checkbox" id="${id}" checked> ${escapeHtml(label)}`;
  $("layers").appendChild(el);
  $(id).addEventListener("change", (e) => {
    target.show = e.target.checked;
  });
}

async function main() {
  if (typeof Cesium === "undefined") {
    status("CesiumJS is missing: run scripts/setup.sh (it copies the npm cesium package to web/vendor/cesium).");
    huetwin.error = "no Cesium";
    return;
  }
  const params = new URLSearchParams(window.location.search);
  const viewer = new Cesium.Viewer("cesium", {
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
  viewer.scene.globe.depthTestAgainstTerrain = false;

  const info = await (await fetch("/api/layers")).json();
  $("title").textContent = `huetwin · ${info.twin}`;
  $("layers").innerHTML = "";
  const labels = { buildings: "Buildings", heritage: "Heritage sites", terrain: "Terrain", pointclouds: "Point clouds" };
  for (const layer of info.layers.filter((l) => l.tileset)) {
    const ts = await Cesium.Cesium3DTileset.fromUrl(layer.tileset, { maximumScreenSpaceError: 16 });
    ts.tileFailed.addEventListener((e) => {
      huetwin.failedTiles.push({ url: e.url, message: String(e.message) });
      status(`tile failed: ${e.url}`);
    });
    if (layer.name === "heritage") ts.style = new Cesium.Cesium3DTileStyle({ color: "color('#ffb000', 0.45)" });
    if (layer.name === "terrain") ts.style = new Cesium.Cesium3DTileStyle({ color: "color('#9fb58a')" });
    viewer.scene.primitives.add(ts);
    huetwin.tilesets[layer.name] = ts;
    addToggle(layer.name, `${labels[layer.name] || layer.name} (${layer.count})`, ts);
  }
  if (!Object.keys(huetwin.tilesets).length) $("layers").innerHTML = "<em>no 3D Tiles layers</em>";

  $("colour").addEventListener("change", (e) => applyColour(e.target.value));
  applyColour($("colour").value);
  $("citadel").addEventListener("click", () => flyToCitadel());
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
