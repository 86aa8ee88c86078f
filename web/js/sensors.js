// The live city in the viewer: the sensors layer (SensorThings Things with their Locations,
// icons by kind: river gauge, rain gauge, camera; clustered when close on screen), a click on a
// sensor shows its latest value with unit and time and charts of the last day and the last week
// (uPlot, from /lib/uplot/, over the Series aggregates), and one live push stream
// (/api/live/events) that updates values, the gauges' alarm banners, the nowcast run shown
// and the citizen reports layer without reloading.
//
// "Last day" and "last week" end at the sensor's latest reading (a replayed flood from 2025 is
// charted as it was), not at the clock.
//
// Uses only what viewer.js puts on window.huetwin: `lib` (getJson, followEvents, escapeHtml,
// showRunLive, addToggle), `dataSources`, `addReport`, `modules` (called with /api/layers
// once the globe is up) and `pickHandlers` (a click on an entity).
"use strict";

(function () {
  const h = window.huetwin;
  // What the module knows, for people and tests: things by id, their datastreams, latest
  // values, alarm states by datastream, the charts drawn.
  const S = (h.sensors = {
    things: {},
    byDatastream: {},
    latest: {},
    alarms: {},
    nowcastRun: null,
    events: { observation: 0, alarm: 0, nowcast: 0, report: 0, lagged: 0 },
    charts: null,
    selected: null,
    stream: null,
  });

  const KINDS = {
    river_gauge: { colour: "#1565c0", label: "river gauge" },
    rain_gauge: { colour: "#00897b", label: "rain gauge" },
    traffic_camera: { colour: "#455a64", label: "camera" },
    camera: { colour: "#455a64", label: "camera" },
  };
  const OTHER = { colour: "#8e24aa", label: "sensor" };
  const ICON_PX = 30;

  // One icon per kind, drawn on a canvas: a round badge in the kind's colour with a glyph
  // (waves for a river gauge, a drop for a rain gauge, a camera body for a camera).
  const icons = {};
  function icon(kind, alarm) {
    const key = `${kind}:${alarm ? 1 : 0}`;
    if (icons[key]) return icons[key];
    const c = document.createElement("canvas");
    c.width = c.height = ICON_PX * 2;
    const g = c.getContext("2d");
    g.scale(2, 2);
    const k = KINDS[kind] || OTHER;
    g.fillStyle = alarm ? "#d32f2f" : k.colour;
    g.strokeStyle = "#ffffff";
    g.lineWidth = 2;
    g.beginPath();
    g.arc(15, 15, 13, 0, 2 * Math.PI);
    g.fill();
    g.stroke();
    g.fillStyle = g.strokeStyle = "#ffffff";
    g.lineWidth = 2;
    if (kind === "river_gauge") {
      for (const y of [11, 16, 21]) {
        g.beginPath();
        g.moveTo(7, y);
        g.bezierCurveTo(10, y - 3, 12, y + 3, 15, y);
        g.bezierCurveTo(18, y - 3, 20, y + 3, 23, y);
        g.stroke();
      }
    } else if (kind === "rain_gauge") {
      g.beginPath();
      g.moveTo(15, 6);
      g.bezierCurveTo(19, 13, 21, 16, 21, 18);
      g.arc(15, 18, 6, 0, Math.PI);
      g.bezierCurveTo(9, 16, 11, 13, 15, 6);
      g.fill();
    } else if (kind === "traffic_camera" || kind === "camera") {
      g.fillRect(7, 11, 12, 9);
      g.beginPath();
      g.moveTo(19, 15);
      g.lineTo(24, 11);
      g.lineTo(24, 20);
      g.closePath();
      g.fill();
    } else {
      g.beginPath();
      g.arc(15, 15, 4, 0, 2 * Math.PI);
      g.fill();
    }
    icons[key] = c;
    return c;
  }

  const esc = (s) => h.lib.escapeHtml(String(s));
  const fmtValue = (v, unit) => (typeof v === "number" ? `${v.toLocaleString("en-GB", { maximumFractionDigits: 2 })} ${unit || ""}`.trim() : String(v));

  function kindOf(t) {
    return (t.properties && t.properties.kind) || "sensor";
  }

  // The Things with their Locations and Datastreams (one page of up to 1000: the twin's
  // sensors and those created over the API).
  async function loadThings() {
    const body = await h.lib.getJson("/v1.1/Things?$top=1000&$expand=Locations,Datastreams");
    return body.value || [];
  }

  function position(t) {
    const loc = (t.Locations || [])[0];
    const g = loc && loc.location;
    const c = g && (g.type === "Point" ? g.coordinates : g.geometry && g.geometry.coordinates);
    return c && c.length >= 2 ? c : null;
  }

  async function latestOf(ds) {
    const body = await h.lib.getJson(`/v1.1/Datastreams(${ds})/Observations?$top=1&$orderby=phenomenonTime%20desc&$select=phenomenonTime,result`);
    const o = (body.value || [])[0];
    return o ? { time: o.phenomenonTime, result: o.result } : null;
  }

  function startOfTime(t) {
    return Date.parse(String(t).split("/")[0]);
  }

  // Alarm states of the bound gauges (GET /api/live/nowcast), by Datastream.
  async function loadAlarms() {
    try {
      const body = await h.lib.getJson("/api/live/nowcast");
      for (const n of body.nowcast || []) {
        S.alarms[n.datastream] = {
          sensor: n.sensor,
          alarm_m: n.alarm_m,
          alarm: n.alarm,
          value: n.latest ? n.latest[1] : null,
          time: n.latest ? n.latest[0] : null,
        };
        if (n.run) S.nowcastRun = n.run;
      }
    } catch (e) {
      // no nowcast bindings
    }
  }

  function banner() {
    const el = document.getElementById("sensor-alarm");
    const on = Object.values(S.alarms).filter((a) => a.alarm);
    if (!on.length) {
      el.hidden = true;
      el.textContent = "";
      return;
    }
    el.hidden = false;
    el.innerHTML = on
      .map(
        (a) =>
          `<div class="alarm-row">⚠ ALARM ${esc(a.sensor)}: ${esc(fmtValue(a.value, "m"))} ≥ alarm level ${esc(a.alarm_m)} m at ${esc(a.time)}` +
          (S.nowcastRun ? ` · nowcast run ${esc(S.nowcastRun)}` : "") +
          `</div>`
      )
      .join("");
  }

  function refreshIcon(thingId) {
    const t = S.things[thingId];
    if (!t || !t.entity) return;
    const alarm = (t.datastreams || []).some((d) => S.alarms[d] && S.alarms[d].alarm);
    t.entity.billboard.image = icon(t.kind, alarm);
  }

  // --- charts --------------------------------------------------------------------------------

  // The Series aggregates of a Datastream over [to - span, to], `interval` seconds each.
  async function series(ds, toMs, spanS, intervalS) {
    const from = new Date(toMs - spanS * 1000 + 1).toISOString();
    const to = new Date(toMs + 1).toISOString();
    const body = await h.lib.getJson(`/v1.1/Datastreams(${ds})/Series?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&interval=${intervalS}`);
    return body.value || [];
  }

  function drawChart(el, title, rows, unit) {
    const xs = rows.map((r) => Date.parse(r.start) / 1000);
    // The mean drawn last, over the band of min and max.
    const data = [xs, rows.map((r) => r.min), rows.map((r) => r.max), rows.map((r) => r.mean)];
    const opts = {
      title,
      width: 236,
      height: 150,
      scales: { x: { time: true } },
      axes: [{ stroke: "#333" }, { stroke: "#333", label: unit || "" }],
      legend: { show: false },
      series: [
        {},
        { label: "min", stroke: "#90caf9", width: 1 },
        { label: "max", stroke: "#ef6c00", width: 1 },
        { label: "mean", stroke: "#1565c0", width: 2 },
      ],
    };
    return new uPlot(opts, data, el);
  }

  async function showSensor(thingId) {
    const t = S.things[thingId];
    if (!t) return;
    S.selected = thingId;
    h.selected = { sensor: thingId };
    const ds = t.datastreams[0];
    const latest = ds !== undefined ? S.latest[ds] : null;
    const a = ds !== undefined ? S.alarms[ds] : null;
    const k = KINDS[t.kind] || OTHER;
    const rows = [
      ["sensor", t.name],
      ["kind", k.label],
      ["latest", latest ? fmtValue(latest.result, t.unit) : "no readings"],
      ["at", latest ? latest.time : "–"],
    ];
    if (a) rows.push(["alarm level", `${a.alarm_m} m`]);
    const info = document.getElementById("info");
    info.innerHTML =
      `<table class="sensor-info"><tbody>${rows
        .map(([k2, v]) => `<tr><td>${esc(k2)}</td><td data-sensor="${esc(k2)}">${esc(v)}</td></tr>`)
        .join("")}</tbody></table>` +
      (a && a.alarm ? `<div class="sensor-alarm-here">⚠ above alarm level</div>` : "") +
      `<div id="chart-day" class="sensor-chart"></div><div id="chart-week" class="sensor-chart"></div>`;
    S.charts = null;
    if (ds === undefined || !latest || typeof uPlot === "undefined") return;
    const end = startOfTime(latest.time);
    const [day, week] = await Promise.all([series(ds, end, 86400, 300), series(ds, end, 7 * 86400, 3600)]);
    if (S.selected !== thingId) return;
    const unit = t.unit;
    S.charts = {
      thing: thingId,
      datastream: ds,
      day: { points: day.length, observations: day.reduce((n, r) => n + r.count, 0), plot: drawChart(document.getElementById("chart-day"), "last day (5 min mean, min, max)", day, unit) },
      week: { points: week.length, observations: week.reduce((n, r) => n + r.count, 0), plot: drawChart(document.getElementById("chart-week"), "last week (hourly)", week, unit) },
    };
  }

  // The shown latest value of the selected sensor, updated in place.
  function updateShown(thingId) {
    if (S.selected !== thingId) return;
    const t = S.things[thingId];
    const l = S.latest[t.datastreams[0]];
    if (!l) return;
    const v = document.querySelector('#info td[data-sensor="latest"]');
    const at = document.querySelector('#info td[data-sensor="at"]');
    if (v) v.textContent = fmtValue(l.result, t.unit);
    if (at) at.textContent = l.time;
  }

  // --- the live push stream -----------------------------------------------------------------

  function onObservation(o) {
    S.events.observation++;
    const prev = S.latest[o.datastream];
    if (prev && startOfTime(prev.time) > startOfTime(o.phenomenonTime)) return; // a late, older reading
    S.latest[o.datastream] = { time: o.phenomenonTime, result: o.result };
    const thingId = o.thing !== null && o.thing !== undefined ? o.thing : S.byDatastream[o.datastream];
    if (thingId === undefined || !S.things[thingId]) return;
    const t = S.things[thingId];
    if (t.entity) t.entity.label.text = fmtValue(o.result, t.unit);
    updateShown(thingId);
  }

  function onAlarm(a) {
    S.events.alarm++;
    S.alarms[a.datastream] = { sensor: a.sensor, alarm_m: a.alarm_m, alarm: a.alarm, value: a.value, time: a.time };
    banner();
    const thingId = S.byDatastream[a.datastream];
    if (thingId !== undefined) refreshIcon(thingId);
  }

  async function onNowcast(n) {
    S.events.nowcast++;
    S.nowcastRun = n.run;
    S.nowcastState = n.state;
    banner();
    // The run becomes the shown one as the runs select shows runs: its depths once it is done.
    await h.lib.showRunLive(n.run, n.state);
  }

  function connect() {
    const on = {
      observation: (m) => onObservation(JSON.parse(m.data)),
      alarm: (m) => onAlarm(JSON.parse(m.data)),
      nowcast: (m) => onNowcast(JSON.parse(m.data)).catch((e) => console.error(e)),
      report: (m) => {
        S.events.report++;
        h.addReport(JSON.parse(m.data).request);
      },
      // Events skipped (this client fell behind): the latest values read again, once a burst
      // is over.
      lagged: () => {
        S.events.lagged++;
        clearTimeout(S.relatest);
        S.relatest = setTimeout(() => loadLatest().catch((e) => console.error(e)), 2000);
      },
    };
    S.stream = h.lib.followEvents("/api/live/events", on, () => {
      // EventSource reconnects by itself; the fetch reader is started again after a pause.
      if (S.stream && S.stream.via === "fetch") setTimeout(connect, 3000);
    });
  }

  // --- the layer ----------------------------------------------------------------------------

  // The latest value of each sensor, read a few at a time (at start, and after the stream
  // skipped events: a value newer than the one shown is kept).
  async function loadLatest() {
    const ids = Object.keys(S.things);
    for (let i = 0; i < ids.length; i += 8) {
      await Promise.all(
        ids.slice(i, i + 8).map(async (id) => {
          const t = S.things[id];
          if (!t.datastreams.length) return;
          const l = await latestOf(t.datastreams[0]).catch(() => null);
          const prev = S.latest[t.datastreams[0]];
          if (l && (!prev || startOfTime(l.time) > startOfTime(prev.time))) {
            S.latest[t.datastreams[0]] = l;
            t.entity.label.text = fmtValue(l.result, t.unit);
            updateShown(t.id);
          }
        })
      );
    }
  }

  async function start(info) {
    if (!info.sensors) return; // no SensorThings API on this server (/api/layers says so)
    let things;
    try {
      things = await loadThings();
    } catch (e) {
      return; // no SensorThings API on this server
    }
    const bar = document.createElement("div");
    bar.id = "sensor-alarm";
    bar.hidden = true;
    document.body.appendChild(bar);
    await loadAlarms();
    const ds = new Cesium.CustomDataSource("sensors");
    ds.clustering.enabled = true;
    ds.clustering.pixelRange = 30;
    ds.clustering.minimumClusterSize = 3;
    // A cluster: a count in the colour of the kind most of its members are.
    ds.clustering.clusterEvent.addEventListener((entities, cluster) => {
      cluster.label.show = true;
      cluster.label.text = String(entities.length);
      cluster.label.font = "bold 13px sans-serif";
      cluster.label.fillColor = Cesium.Color.WHITE;
      cluster.label.outlineColor = Cesium.Color.BLACK;
      cluster.label.outlineWidth = 3;
      cluster.label.style = Cesium.LabelStyle.FILL_AND_OUTLINE;
      cluster.label.disableDepthTestDistance = Number.POSITIVE_INFINITY;
      cluster.label.pixelOffset = new Cesium.Cartesian2(0, 0);
      cluster.billboard.show = true;
      const kinds = {};
      for (const e of entities) kinds[e.properties.kind.getValue()] = (kinds[e.properties.kind.getValue()] || 0) + 1;
      const top = Object.entries(kinds).sort((a, b) => b[1] - a[1])[0][0];
      cluster.billboard.image = icon(top, false);
      cluster.billboard.width = 36;
      cluster.billboard.height = 36;
      cluster.billboard.disableDepthTestDistance = Number.POSITIVE_INFINITY;
    });
    for (const t of things) {
      const p = position(t);
      if (!p) continue;
      const id = t["@iot.id"];
      const kind = kindOf(t);
      const dss = (t.Datastreams || []).map((d) => d["@iot.id"]);
      const unit = (t.properties && t.properties.unit) || ((t.Datastreams || [])[0] || {}).unitOfMeasurement?.symbol || "";
      const rec = { id, name: t.name, kind, unit, datastreams: dss, lon: p[0], lat: p[1], entity: null };
      S.things[id] = rec;
      for (const d of dss) S.byDatastream[d] = id;
      rec.entity = ds.entities.add({
        id: `sensor:${id}`,
        position: Cesium.Cartesian3.fromDegrees(p[0], p[1], 3),
        billboard: {
          image: icon(kind, dss.some((d) => S.alarms[d] && S.alarms[d].alarm)),
          width: ICON_PX,
          height: ICON_PX,
          disableDepthTestDistance: Number.POSITIVE_INFINITY,
        },
        label: {
          text: "",
          font: "12px sans-serif",
          fillColor: Cesium.Color.WHITE,
          outlineColor: Cesium.Color.BLACK,
          outlineWidth: 3,
          style: Cesium.LabelStyle.FILL_AND_OUTLINE,
          pixelOffset: new Cesium.Cartesian2(0, 22),
          disableDepthTestDistance: Number.POSITIVE_INFINITY,
          distanceDisplayCondition: new Cesium.DistanceDisplayCondition(0, 8000),
        },
        properties: { thing: id, kind },
      });
    }
    await loadLatest();
    const ids = Object.keys(S.things);
    await h.viewer.dataSources.add(ds);
    h.dataSources.sensors = ds;
    h.lib.addToggle("sensors", `Sensors (${ids.length})`);
    banner();
    h.pickHandlers.push((picked) => {
      const e = picked && picked.id instanceof Cesium.Entity ? picked.id : null;
      const thing = e && e.properties && e.properties.thing;
      if (!thing) return false;
      showSensor(thing.getValue()).catch((err) => console.error(err));
      return true;
    });
    connect();
  }

  S.show = showSensor;
  h.modules.push(start);
})();
