//! Heritage over HTTP on the sample twin (a copy of `data/hue`): height limits typed as
//! numbers in the API and the tiles, `POST .../intersects` with the server's own MultiPolygon
//! shapes, `POST /api/heritage/check` and `GET /api/heritage/breaches` (checked against a
//! brute-force query of the loaded twin).

mod common;

use geo::Intersects;
use serde_json::Value;
use std::sync::OnceLock;

struct Fx {
    base: String,
    dir: std::path::PathBuf,
    twin: std::sync::Arc<twin_core::Twin>,
}

fn fx() -> &'static Fx {
    static FX: OnceLock<Fx> = OnceLock::new();
    FX.get_or_init(|| {
        let (addr, dir, twin) = common::serve_sample_with_scenarios("heritage-test", |_| {});
        Fx {
            base: format!("http://{addr}"),
            dir,
            twin,
        }
    })
}

impl Fx {
    /// The rules the server resolved (the same file, resolved again).
    fn heritage_rules(&self) -> heritage::Rules {
        heritage::Rules::load(&self.dir, &self.twin).unwrap()
    }
}

async fn get_json(path: &str) -> (u16, Value) {
    let r = common::http_get(format!("{}{path}", fx().base))
        .await
        .unwrap();
    let s = r.status().as_u16();
    (
        s,
        serde_json::from_slice(&r.bytes().await.unwrap()).unwrap(),
    )
}

async fn post_json(path: &str, body: String) -> (u16, Value) {
    let r = common::http()
        .post(format!("{}{path}", fx().base))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (
        s,
        serde_json::from_slice(&r.bytes().await.unwrap()).unwrap(),
    )
}

#[tokio::test]
async fn height_limits_are_numbers_in_the_api() {
    let (s, v) = get_json("/api/layers/heritage/features?limit=1000").await;
    assert_eq!(s, 200, "{v}");
    let feats = v["features"].as_array().unwrap();
    // The source file, read independently: every site with a height_limit_m.
    let src: Value = serde_json::from_slice(
        &std::fs::read(common::repo().join("data/hue/heritage.geojson")).unwrap(),
    )
    .unwrap();
    // (site id, value) of every source feature with a number under `key`.
    let numbers = |key: &str| -> Vec<(String, f64)> {
        src["features"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| {
                Some((
                    f["properties"]["id"].as_str()?.to_string(),
                    f["properties"][key].as_f64()?,
                ))
            })
            .collect()
    };
    let limited = numbers("height_limit_m");
    assert!(!limited.is_empty());
    for (id, limit) in &limited {
        let f = feats
            .iter()
            .find(|f| f["id"] == format!("heritage:{id}"))
            .unwrap_or_else(|| panic!("{id} not served"));
        assert_eq!(
            f["properties"]["height_limit_m"].as_f64(),
            Some(*limit),
            "{f}"
        );
        assert!(f["properties"]["height_limit_m"].is_number());
    }
    // The floor levels too (the sample's illustrative `floor_m`): numbers, not strings, and
    // not left among the attributes.
    let floors = numbers("floor_m");
    assert!(floors.len() >= 3, "{floors:?}");
    for (id, floor) in &floors {
        let f = feats
            .iter()
            .find(|f| f["id"] == format!("heritage:{id}"))
            .unwrap();
        assert_eq!(f["properties"]["floor_m"].as_f64(), Some(*floor), "{f}");
        assert!(
            f["properties"]["attributes"].get("floor_m").is_none(),
            "{f}"
        );
    }
}

#[tokio::test]
async fn intersects_takes_the_servers_own_multipolygons() {
    let (_, v) = get_json("/api/layers/heritage/features?limit=1000").await;
    let sites = v["features"].as_array().unwrap();
    let axis = sites
        .iter()
        .find(|f| f["id"] == "heritage:royal-axis")
        .unwrap();
    assert_eq!(axis["geometry"]["type"], "MultiPolygon");
    let (s, found) = post_json(
        "/api/layers/heritage/intersects",
        axis["geometry"].to_string(),
    )
    .await;
    assert_eq!(s, 200, "{found}");
    let ids: Vec<&str> = found["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"heritage:royal-axis"), "{ids:?}");
    // The buildings in the corridor: the same as a brute-force query of the loaded twin.
    let (s, found) = post_json(
        "/api/layers/buildings/intersects?limit=1000",
        axis["geometry"].to_string(),
    )
    .await;
    assert_eq!(s, 200, "{found}");
    let corridor = &fx()
        .twin
        .heritage
        .features()
        .iter()
        .find(|h| h.id == "heritage:royal-axis")
        .unwrap()
        .polygon;
    let expected = fx()
        .twin
        .buildings
        .features()
        .iter()
        .filter(|b| b.footprint.intersects(corridor))
        .count();
    assert_eq!(found["numberMatched"].as_u64(), Some(expected as u64));
    // A MultiPolygon with two parts and a LineString (refused, naming what it is).
    let two = serde_json::json!({"type": "MultiPolygon", "coordinates": [
        [[[107.578, 16.467], [107.580, 16.467], [107.580, 16.469], [107.578, 16.467]]],
        [[[107.600, 16.440], [107.601, 16.440], [107.601, 16.441], [107.600, 16.440]]]
    ]});
    let (s, _) = post_json("/api/layers/heritage/intersects", two.to_string()).await;
    assert_eq!(s, 200);
    let line =
        serde_json::json!({"type": "LineString", "coordinates": [[107.5, 16.4], [107.6, 16.5]]});
    let (s, v) = post_json("/api/layers/heritage/intersects", line.to_string()).await;
    assert_eq!(s, 400);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not a GeoJSON Polygon or MultiPolygon but a LineString"),
        "{v}"
    );
}

/// The heritage tiles' metadata: every site's `height_limit` and `floor_m` (FLOAT32, the
/// twin's typed fields; no data -1 and [`tiles3d::schema::FLOOR_NO_DATA`]), the floor levels
/// checked against the sample's source file read independently.
#[tokio::test]
async fn the_tiles_carry_every_height_limit() {
    let f = fx();
    let td = twin_core::TwinDir::open(&f.dir).unwrap();
    let out = f.dir.join("heritage-tiles");
    let _ = std::fs::remove_dir_all(&out);
    tiles3d::export(
        &f.twin,
        &out,
        &[twin_core::LayerKind::Heritage],
        &tiles3d::TilesetOptions::for_config(&td.config),
        &twin_core::NoProgress,
    )
    .unwrap();
    let walk = common::walk_tileset(&out.join("heritage/tileset.json"));
    let mut seen = std::collections::BTreeMap::new();
    let mut floors = std::collections::BTreeMap::new();
    for g in &walk.glbs {
        let g = common::Glb::read(g);
        let ids = g.strings(0, "id");
        for (id, l) in ids.iter().zip(g.floats(0, "height_limit")) {
            seen.insert(id.clone(), l);
        }
        for (id, fl) in ids.into_iter().zip(g.floats(0, "floor_m")) {
            floors.insert(id, fl);
        }
    }
    // The floor levels of the source file (the sample's three illustrative ones), read
    // independently of the twin; every other site has none.
    let src: Value = serde_json::from_slice(
        &std::fs::read(common::repo().join("data/hue/heritage.geojson")).unwrap(),
    )
    .unwrap();
    let given: std::collections::BTreeMap<String, f64> = src["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| {
            Some((
                format!("heritage:{}", f["properties"]["id"].as_str()?),
                f["properties"]["floor_m"].as_f64()?,
            ))
        })
        .collect();
    assert!(
        [
            "heritage:ngo-mon",
            "heritage:thai-hoa",
            "heritage:phu-van-lau"
        ]
        .iter()
        .all(|id| given.contains_key(*id)),
        "{given:?}"
    );
    assert_eq!(floors.len(), f.twin.heritage.len());
    for (id, got) in &floors {
        match given.get(id) {
            Some(fl) => assert_eq!(*got, *fl as f32, "{id}"),
            None => assert_eq!(*got, tiles3d::schema::FLOOR_NO_DATA, "{id} (no data)"),
        }
    }
    eprintln!(
        "floor_m in the tiles: {:?}",
        floors
            .iter()
            .filter(|(id, _)| given.contains_key(*id))
            .collect::<Vec<_>>()
    );
    let mut with_limit = 0;
    for h in f.twin.heritage.features() {
        let got = seen[&h.id];
        match h.height_limit_m {
            Some(l) => {
                with_limit += 1;
                assert_eq!(got, l as f32, "{}", h.id);
            }
            None => assert_eq!(got, -1.0, "{} (no data)", h.id),
        }
    }
    assert_eq!(seen.len(), f.twin.heritage.len());
    assert!(with_limit >= 3, "{with_limit}");
}

#[tokio::test]
async fn check_and_breaches_over_http() {
    let (lon, lat) = (
        107.5809 + (107.5961 - 107.5809) * 0.6,
        16.4655 + (16.4418 - 16.4655) * 0.6,
    );
    let (dx, dy) = (10.0 / 106_700.0, 10.0 / 110_700.0);
    let proposal = serde_json::json!({"type": "Feature", "properties": {"height": 30, "name": "Hotel"},
        "geometry": {"type": "Polygon", "coordinates": [[
            [lon - dx, lat - dy], [lon + dx, lat - dy], [lon + dx, lat + dy], [lon - dx, lat + dy], [lon - dx, lat - dy]]]}});
    let (s, v) = post_json("/api/heritage/check", proposal.to_string()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["permitted"], false);
    let r = v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == "height_limit" && r["outcome"] == "fail")
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(
        (r["value"].as_f64(), r["limit"].as_f64()),
        (Some(30.0), Some(14.0))
    );
    assert_eq!(r["under"], "heritage:royal-axis");
    // Not a proposal: 400 naming what is missing.
    let (s, v) = post_json(
        "/api/heritage/check",
        r#"{"type": "Feature", "properties": {"height": 8}}"#.into(),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("geometry"),
        "{v}"
    );

    let (s, v) = get_json("/api/heritage/breaches").await;
    assert_eq!(s, 200, "{v}");
    let axis = v
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["under"] == "heritage:royal-axis" && b["rule"] == "height_limit")
        .count();
    let corridor = &fx()
        .twin
        .heritage
        .features()
        .iter()
        .find(|h| h.id == "heritage:royal-axis")
        .unwrap()
        .polygon;
    let expected = fx()
        .twin
        .buildings
        .features()
        .iter()
        .filter(|b| b.height > 14.0 && b.footprint.intersects(corridor))
        .count();
    assert_eq!(axis, expected);
}

#[tokio::test]
async fn monument_exposure_over_http() {
    let f = fx();
    // One flood run stored in the served twin's folder (alarm 3), run here directly.
    let scenario = common::repo().join("scenarios/examples/hue/flood_alarm3.toml");
    let dir = f.dir.clone();
    let twin = f.twin.clone();
    tokio::task::spawn_blocking(move || {
        scenarios::jobs::Job::from_path(&dir, &scenario)
            .unwrap()
            .run(&twin, &scenarios::jobs::JobOptions::default())
            .unwrap()
    })
    .await
    .unwrap();
    let (s, v) = get_json("/api/heritage/exposure").await;
    assert_eq!(s, 200, "{v}");
    let expected =
        serde_json::to_value(heritage::exposure::exposure_table(&f.twin, &f.dir).unwrap()).unwrap();
    assert_eq!(v, expected);
    assert_eq!(v["runs"].as_array().unwrap().len(), 1, "{v}");
    assert!(v["monuments"].as_array().unwrap().len() > 10);
    assert_eq!(v["monuments"][0]["rank"], 1);
    // A monument with a floor level: the depth and hours above it, typed.
    let pvl = v["monuments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["site"] == "heritage:phu-van-lau")
        .unwrap();
    let (floor, e) = (pvl["floor_m"].as_f64().unwrap(), &pvl["runs"][0]);
    let depth = e["max_depth_m"].as_f64().unwrap();
    assert_eq!(
        e["above_floor_m"].as_f64(),
        Some((depth - floor).max(0.0)),
        "{pvl}"
    );
    assert!(e["hours_above_floor"].is_number(), "{pvl}");
}

/// The sample's OSM-derived layers carry their licence's credit: `twin.toml`'s `attribution`
/// comes back in `/api/layers`, for the viewer to show.
#[tokio::test]
async fn layers_carry_the_twins_attribution() {
    let (s, v) = get_json("/api/layers").await;
    assert_eq!(s, 200, "{v}");
    let cfg = twin_core::twin::TwinConfig::load(&fx().dir).unwrap();
    let want = cfg.attribution.expect("data/hue names its attribution");
    assert!(want.contains("© OpenStreetMap contributors"), "{want}");
    assert_eq!(v["attribution"].as_str(), Some(want.as_str()), "{v}");
}

const NGU_BINH: (f64, f64) = (107.5961, 16.4418);
const NGO_MON: (f64, f64) = (107.5792, 16.4677);

fn lerp(a: (f64, f64), b: (f64, f64), t: f64) -> (f64, f64) {
    (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t)
}

/// A square footprint `side` m wide centred on (lon, lat), `height` m high.
fn square(lon: f64, lat: f64, side: f64, height: f64) -> Value {
    let (dx, dy) = (side / 2.0 / 106_700.0, side / 2.0 / 110_700.0);
    serde_json::json!({"type": "Feature", "properties": {"height": height},
        "geometry": {"type": "Polygon", "coordinates": [[
            [lon - dx, lat - dy], [lon + dx, lat - dy], [lon + dx, lat + dy], [lon - dx, lat + dy], [lon - dx, lat - dy]]]}})
}

async fn post_raw(path: &str, body: String) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let r = common::http()
        .post(format!("{}{path}", fx().base))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let (s, h) = (r.status().as_u16(), r.headers().clone());
    (s, h, r.bytes().await.unwrap().to_vec())
}

/// `POST /api/heritage/viewshed` from Ngự Bình's summit within 3 km: the same cells as the
/// engine's viewshed over the twin's whole grid (the window changes nothing), as GeoTIFF (read
/// back by gdalinfo) and as GeoJSON whose runs add up to the seen cells; with a 60 m tower down
/// the axis, the cells it hides as the engine counts them; bounds refused with 400.
#[tokio::test]
async fn viewshed_over_http() {
    use heritage::viewshed::{proposal_difference, viewshed, Surface, ViewshedOptions};
    let f = fx();
    let radius = 3000.0;
    let (ox, oy) = twin_core::crs::Reprojector::new(&twin_core::Crs::wgs84(), &f.twin.crs)
        .unwrap()
        .apply(NGU_BINH.0, NGU_BINH.1)
        .unwrap();
    let o = ViewshedOptions {
        max_distance: Some(radius),
        ..ViewshedOptions::default()
    };
    let full = viewshed(&Surface::of_twin(&f.twin).unwrap(), ox, oy, &o).unwrap();
    let seen = full.iter().filter(|c| **c == Some(true)).count();
    let judged = full.iter().filter(|c| c.is_some()).count();
    // The disc of 3 km in 30 m cells: about π·100² cells.
    assert!(
        (judged as f64 - std::f64::consts::PI * 1e4).abs() < 400.0,
        "{judged}"
    );

    let req =
        serde_json::json!({"lon": NGU_BINH.0, "lat": NGU_BINH.1, "height": 2.0, "radius": radius});
    let (s, h, body) = post_raw("/api/heritage/viewshed", req.to_string()).await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(h["content-type"], "image/tiff");
    assert_eq!(h["x-seen-cells"].to_str().unwrap(), seen.to_string());
    assert_eq!(h["x-judged-cells"].to_str().unwrap(), judged.to_string());
    let tif = f.dir.join("viewshed-http.tif");
    std::fs::write(&tif, &body).unwrap();
    let info = std::process::Command::new("gdalinfo")
        .args(["-stats", "-json"])
        .arg(&tif)
        .output()
        .expect("gdalinfo (gdal-bin) runs");
    assert!(
        info.status.success(),
        "{}",
        String::from_utf8_lossy(&info.stderr)
    );
    let info: Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(info["size"], serde_json::json!([201, 201]));
    // GDAL's statistics over the band (NaN is no data): the mean is the share seen.
    let mean: f64 = info["bands"][0]["metadata"][""]["STATISTICS_MEAN"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((mean - seen as f64 / judged as f64).abs() < 1e-9, "{mean}");
    assert!(info["coordinateSystem"]["wkt"]
        .as_str()
        .unwrap()
        .contains("32648"));

    let req = serde_json::json!({"lon": NGU_BINH.0, "lat": NGU_BINH.1, "radius": radius, "format": "geojson"});
    let (s, v) = post_json("/api/heritage/viewshed", req.to_string()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["seen_cells"].as_u64(), Some(seen as u64));
    let cells: u64 = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["cells"].as_u64().unwrap())
        .sum();
    assert_eq!(cells, seen as u64);
    // Every polygon within the radius (and a cell) of the summit, in degrees.
    for f in v["features"].as_array().unwrap() {
        for p in f["geometry"]["coordinates"][0].as_array().unwrap() {
            let (dlon, dlat) = (
                p[0].as_f64().unwrap() - NGU_BINH.0,
                p[1].as_f64().unwrap() - NGU_BINH.1,
            );
            assert!(
                (dlon * 106_700.0).hypot(dlat * 110_700.0) < radius + 100.0,
                "{p}"
            );
        }
    }

    // With a 60 m tower a kilometre down the axis.
    let (lon, lat) = lerp(NGU_BINH, NGO_MON, 0.3);
    let tower = square(lon, lat, 40.0, 60.0);
    let p =
        heritage::Proposal::from_geojson(&tower.to_string(), &f.twin, &f.heritage_rules()).unwrap();
    let (_, lost) = proposal_difference(&f.twin, &p, ox, oy, &o).unwrap();
    let n_lost = lost.iter().filter(|l| **l).count();
    assert!(n_lost > 10, "{n_lost}");
    let req = serde_json::json!({"lon": NGU_BINH.0, "lat": NGU_BINH.1, "radius": radius, "format": "geojson", "proposal": tower});
    let (s, v) = post_json("/api/heritage/viewshed", req.to_string()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["lost_cells"].as_u64(), Some(n_lost as u64));
    let lost_runs: u64 = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["properties"]["state"] == "lost")
        .map(|f| f["properties"]["cells"].as_u64().unwrap())
        .sum();
    assert_eq!(lost_runs, n_lost as u64);

    // Bounded: radius over 10 km, a point off the terrain, a bad proposal.
    for (body, says) in [
        (
            serde_json::json!({"lon": NGU_BINH.0, "lat": NGU_BINH.1, "radius": 20000}),
            "at most 10000",
        ),
        (
            serde_json::json!({"lon": 106.0, "lat": 16.0, "radius": 500}),
            "outside the twin's terrain",
        ),
        (
            serde_json::json!({"lon": NGU_BINH.0, "lat": NGU_BINH.1, "radius": 500, "proposal": {"type": "Feature"}}),
            "geometry",
        ),
        (
            serde_json::json!({"lon": NGU_BINH.0, "lat": NGU_BINH.1}),
            "radius",
        ),
    ] {
        let (s, v) = post_json("/api/heritage/viewshed", body.to_string()).await;
        assert_eq!(s, 400, "{body}: {v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(says),
            "{v}"
        );
    }
}

/// `GET`/`POST /api/heritage/sightlines`: one line per viewpoint and monument, the status the
/// engine gives; with a 60 m tower on the axis the line to Ngọ Môn is blocked by it, where
/// the line meets the tower.
#[tokio::test]
async fn sightlines_over_http() {
    let f = fx();
    let rules = f.heritage_rules();
    let (s, v) = get_json("/api/heritage/sightlines").await;
    assert_eq!(s, 200, "{v}");
    let feats = v["features"].as_array().unwrap();
    assert_eq!(feats.len(), rules.sightlines.len());
    let casts = heritage::check::cast_sightlines(&f.twin, &rules, None);
    for (ft, c) in feats.iter().zip(&casts) {
        assert_eq!(ft["properties"]["site"], c.site.as_str());
        assert_eq!(ft["properties"]["blocked"], c.blocked_at.is_some());
        assert_eq!(ft["geometry"]["type"], "LineString");
    }
    let (lon, lat) = lerp(NGU_BINH, NGO_MON, 0.8);
    let body = serde_json::json!({"proposal": square(lon, lat, 20.0, 60.0)});
    let (s, v) = post_json("/api/heritage/sightlines", body.to_string()).await;
    assert_eq!(s, 200, "{v}");
    let gate = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["properties"]["site"] == "heritage:ngo-mon")
        .unwrap();
    assert_eq!(
        gate["properties"]["status"], "blocked_by_proposal",
        "{gate}"
    );
    let at = &gate["properties"]["proposal_blocks_at"];
    let (dlon, dlat) = (at[0].as_f64().unwrap() - lon, at[1].as_f64().unwrap() - lat);
    // On the tower's near wall: within its half-diagonal (14.2 m) of its centre.
    assert!((dlon * 106_700.0).hypot(dlat * 110_700.0) < 14.5, "{at}");
    // An empty body is the same as GET.
    let (s, v2) = post_json("/api/heritage/sightlines", String::new()).await;
    assert_eq!(s, 200);
    let (_, v1) = get_json("/api/heritage/sightlines").await;
    assert_eq!(v1, v2);
    // The OpenAPI document names the routes.
    let (_, doc) = get_json("/api/openapi.json").await;
    assert!(doc["paths"]["/api/heritage/viewshed"]["post"].is_object());
    assert!(doc["paths"]["/api/heritage/sightlines"]["post"].is_object());
    assert!(doc["components"]["schemas"]["ViewshedRequest"]["properties"]["radius"].is_object());
}
