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

async fn get_json(path: &str) -> (u16, Value) {
    let r = reqwest::get(format!("{}{path}", fx().base)).await.unwrap();
    let s = r.status().as_u16();
    (
        s,
        serde_json::from_slice(&r.bytes().await.unwrap()).unwrap(),
    )
}

async fn post_json(path: &str, body: String) -> (u16, Value) {
    let r = reqwest::Client::new()
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
    let limited: Vec<(String, f64)> = src["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| {
            Some((
                f["properties"]["id"].as_str()?.to_string(),
                f["properties"]["height_limit_m"].as_f64()?,
            ))
        })
        .collect();
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
    for g in &walk.glbs {
        let g = common::Glb::read(g);
        for (id, l) in g
            .strings(0, "id")
            .into_iter()
            .zip(g.floats(0, "height_limit"))
        {
            seen.insert(id, l);
        }
    }
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
        serde_json::to_value(heritage::exposure::exposure_table(&f.dir).unwrap()).unwrap();
    assert_eq!(v, expected);
    assert_eq!(v["runs"].as_array().unwrap().len(), 1, "{v}");
    assert!(v["monuments"].as_array().unwrap().len() > 10);
    assert_eq!(v["monuments"][0]["rank"], 1);
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
