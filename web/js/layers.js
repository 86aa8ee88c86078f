// The twin's vector layers on the map (issue 17): roads by OSM class and the water (river and
// lake polygons, waterways as lines), draped on the ground, each with a toggle in the layer list
// and a legend; the basemap draped on the terrain tileset, so the river, roads and footprints
// show on the 3D ground that buildings and monuments stand on.
//
// Hooks from viewer.js: huetwin.dressTerrain(tileset) when the terrain tileset loads,
// huetwin.loadVectorLayers(info) after the tilesets, and the "huetwin:traffic" event (a traffic
// run shown or cleared: the class colours step aside for its v/c colours).
(function () {
  const huetwin = window.huetwin;

  // Roads by OSM highway class: [classes, colour, width px, legend label], first match wins.
  // Drawn as vector lines: the classes down to tertiary (a city has tens of thousands of minor
  // streets and paths, which the basemap under them already draws, and which would cost a
  // software-rendered browser minutes as ground lines).
  const ROAD_CLASSES = [
    [["motorway", "trunk", "motorway_link", "trunk_link"], "#d94f3d", 6, "motorway, trunk"],
    [["primary", "primary_link"], "#f08c2e", 5, "primary"],
    [["secondary", "secondary_link"], "#e8c228", 4, "secondary"],
    [["tertiary", "tertiary_link"], "#fff4c2", 3, "tertiary"],
  ];
  const OTHER_ROAD = [[], null, 0, "minor streets and paths (on the basemap)"];
  const WATER_FILL = "#5b9bd5";
  const WATERWAY_WIDTH = { river: 6, canal: 4, stream: 2.5, ditch: 2, drain: 2 };

  function roadClass(props) {
    const h = String((props && (props.highway || props.class || props.kind)) || "");
    return ROAD_CLASSES.find(([ks]) => ks.includes(h)) || OTHER_ROAD;
  }

  function lines(g) {
    if (!g) return [];
    if (g.type === "LineString") return [g.coordinates];
    if (g.type === "MultiLineString") return g.coordinates;
    return [];
  }

  function polygons(g) {
    if (!g) return [];
    if (g.type === "Polygon") return [g.coordinates];
    if (g.type === "MultiPolygon") return g.coordinates;
    return [];
  }

  function polyline(line, width, colour, id) {
    return new Cesium.GeometryInstance({
      geometry: new Cesium.GroundPolylineGeometry({ positions: Cesium.Cartesian3.fromDegreesArray(line.flatMap((p) => [p[0], p[1]])), width }),
      attributes: { color: Cesium.ColorGeometryInstanceAttribute.fromColor(Cesium.Color.fromCssColorString(colour)) },
      id,
    });
  }

  function linePrimitive(instances) {
    return new Cesium.GroundPolylinePrimitive({
      geometryInstances: instances,
      appearance: new Cesium.PolylineColorAppearance(),
    });
  }

  function legendHtml(title, rows) {
    return (
      `<div class="layer-legend"><div>${title}</div>` +
      rows.map(([c, label]) => `<div><span style="background:${c}"></span>${label}</div>`).join("") +
      "</div>"
    );
  }

  // Off by default: the basemap draped on the ground already shows the roads and the water,
  // and thousands of ground lines slow a software-rendered browser to minutes a frame
  // (measured in the browser test on SwiftShader); a check builds and shows them.
  function addLayerToggle(name, label, legend, onChange) {
    const id = `layer-${name}`;
    const el = document.createElement("label");
    el.innerHTML = `<input type="checkbox" id="${id}"> ${label}`;
    document.getElementById("layers").appendChild(el);
    if (legend) {
      const lg = document.createElement("div");
      lg.id = `legend-${name}`;
      lg.innerHTML = legend;
      document.getElementById("layers").appendChild(lg);
    }
    document.getElementById(id).addEventListener("change", (e) => onChange(e.target.checked));
  }

  // Roads by class: one ground polyline primitive. Counts per class for the tests and legend.
  async function loadRoads() {
    const feats = huetwin.roadFeatures || (await huetwin.allFeatures("roads"));
    huetwin.roadFeatures = feats;
    const instances = [];
    const counts = {};
    for (const f of feats) {
      const [, colour, width, label] = roadClass(f.properties);
      if (!colour) {
        counts[label] = (counts[label] || 0) + 1;
        continue;
      }
      let drawn = false;
      for (const line of lines(f.geometry)) {
        if (line.length < 2) continue;
        instances.push(polyline(line, width, colour, `road:${f.id}`));
        drawn = true;
      }
      if (drawn) counts[label] = (counts[label] || 0) + 1;
    }
    if (!instances.length) return;
    const layer = { primitive: null, counts, features: feats.length, userShow: false };
    huetwin.vectorLayers.roads = layer;
    const rows = ROAD_CLASSES.concat([OTHER_ROAD])
      .filter(([, , , label]) => counts[label])
      .map(([, c, , label]) => [c || "transparent", `${label} (${counts[label]})`]);
    addLayerToggle("roads", `Roads by class (${feats.length})`, legendHtml("Roads (OSM class)", rows), (on) => {
      layer.userShow = on;
      if (on && !layer.primitive) layer.primitive = huetwin.viewer.scene.primitives.add(linePrimitive(instances));
      if (layer.primitive) layer.primitive.show = on && !huetwin.traffic;
      huetwin.viewer.scene.requestRender();
    });
  }

  // Water: polygons as translucent ground primitives, waterways as lines over them.
  async function loadWater() {
    const feats = await huetwin.allFeatures("water");
    const fills = [];
    const ways = [];
    let areas = 0;
    let lineCount = 0;
    for (const f of feats) {
      let isArea = false;
      for (const rings of polygons(f.geometry)) {
        if (!rings.length || rings[0].length < 4) continue;
        const ring = (r) => Cesium.Cartesian3.fromDegreesArray(r.flatMap((p) => [p[0], p[1]]));
        const hierarchy = new Cesium.PolygonHierarchy(ring(rings[0]), rings.slice(1).map((h) => new Cesium.PolygonHierarchy(ring(h))));
        fills.push(
          new Cesium.GeometryInstance({
            geometry: new Cesium.PolygonGeometry({ polygonHierarchy: hierarchy }),
            attributes: { color: Cesium.ColorGeometryInstanceAttribute.fromColor(Cesium.Color.fromCssColorString(WATER_FILL).withAlpha(0.75)) },
            id: `water:${f.id}`,
          })
        );
        isArea = true;
      }
      // features, not polygon parts: the legend's counts add up to the layer's
      if (isArea) areas++;
      const kind = f.properties && (f.properties.waterway || f.properties.water || f.properties.kind);
      for (const line of lines(f.geometry)) {
        if (line.length < 2) continue;
        ways.push(polyline(line, WATERWAY_WIDTH[kind] || 2.5, WATER_FILL, `water:${f.id}`));
        lineCount++;
      }
    }
    const prims = [];
    const build = () => {
      if (fills.length) {
        prims.push(
          huetwin.viewer.scene.primitives.add(
            new Cesium.GroundPrimitive({
              geometryInstances: fills,
              appearance: new Cesium.PerInstanceColorAppearance({ flat: true, translucent: true }),
            })
          )
        );
      }
      if (ways.length) prims.push(huetwin.viewer.scene.primitives.add(linePrimitive(ways)));
    };
    if (!fills.length && !ways.length) return;
    huetwin.vectorLayers.water = { primitives: prims, areas, lines: lineCount, features: feats.length };
    addLayerToggle(
      "twin-water",
      `Water (${feats.length})`,
      legendHtml("Water", [[WATER_FILL, `rivers, lakes (${areas})`], [WATER_FILL, `waterways (${lineCount})`]]),
      (on) => {
        if (on && !prims.length) build();
        for (const p of prims) p.show = on;
        huetwin.viewer.scene.requestRender();
      }
    );
  }

  // The terrain tileset wears the twin's basemap (imagery draped on 3D Tiles), not a flat
  // colour; with no basemap it keeps a plain ground colour.
  huetwin.dressTerrain = function (ts) {
    // The @2x basemap where the viewer has it (sharper on terrain tiles, see baseLayer).
    const provider = huetwin.drapeProvider || huetwin.basemapProvider;
    if (!provider || !ts.imageryLayers) {
      ts.style = new Cesium.Cesium3DTileStyle({ color: "color('#9fb58a')" });
      return;
    }
    ts.imageryLayers.add(new Cesium.ImageryLayer(provider));
    huetwin.terrainDraped = true;
  };

  huetwin.vectorLayers = {};
  // Settled also waits for the vector layers' primitives (built in web workers), for at most
  // 60 s after they were added (huetwin.vectorLayersReady says whether they all came).
  const tilesSettled = huetwin.settled;
  huetwin.vectorLayersReady = function () {
    const v = huetwin.vectorLayers;
    const prims = (v.roads && v.roads.primitive ? [v.roads.primitive] : []).concat(v.water ? v.water.primitives : []);
    return prims.every((p) => !p.show || p.ready);
  };
  huetwin.settled = function () {
    const waited = huetwin.vectorLayersAddedAt && Date.now() - huetwin.vectorLayersAddedAt > 60000;
    return tilesSettled() && (waited || huetwin.vectorLayersReady());
  };
  huetwin.loadVectorLayers = async function (info) {
    const has = (name) => info.layers.some((l) => l.name === name && l.count > 0);
    if (has("water")) await loadWater().catch((e) => console.warn("water layer:", e));
    if (has("roads")) await loadRoads().catch((e) => console.warn("roads layer:", e));
    huetwin.vectorLayersAddedAt = Date.now();
    huetwin.viewer.scene.requestRender();
  };

  // A traffic run draws its own roads (by v/c): the class colours step aside meanwhile.
  window.addEventListener("huetwin:traffic", () => {
    const r = huetwin.vectorLayers.roads;
    if (r && r.primitive) r.primitive.show = r.userShow && !huetwin.traffic;
  });
})();
