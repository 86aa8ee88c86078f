//! GeoJSON import of the Hue layers in ../shared/data/hue/geojson, checked against a plain
//! serde_json count and against the OSM PBF import of the same features.

mod common;
use common::*;
use geo::Area;
use std::collections::HashMap;
use twin_core::import::import_file;
use twin_core::LayerKind;

fn feature_count(rel: &str) -> usize {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(shared(rel)).unwrap()).unwrap();
    v["features"].as_array().unwrap().len()
}

fn with_layer(layer: LayerKind) -> twin_core::import::ImportOptions {
    let mut o = opts("EPSG:32648");
    o.layer = Some(layer);
    o
}

#[test]
fn hue_geojson_layers_have_the_file_counts() {
    for (rel, layer, count) in [
        (
            "hue/geojson/hue_building.geojson",
            LayerKind::Buildings,
            6_877,
        ),
        ("hue/geojson/hue_heritage.geojson", LayerKind::Heritage, 84),
        ("hue/geojson/hue_highway.geojson", LayerKind::Roads, 14_088),
        ("hue/geojson/hue_water.geojson", LayerKind::Water, 136),
    ] {
        assert_eq!(
            feature_count(rel),
            count,
            "{rel}: ../shared/data/README.md's figure"
        );
        let imp = import_file(&shared(rel), &with_layer(layer), &NO).unwrap();
        let got = imp
            .counts()
            .into_iter()
            .find(|(k, _)| *k == layer)
            .unwrap()
            .1;
        assert_eq!(got, count, "{rel}: {:?}", imp.notes);
    }
}

#[test]
fn geojson_and_pbf_give_the_same_buildings() {
    let gj = import_file(
        &shared("hue/geojson/hue_building.geojson"),
        &with_layer(LayerKind::Buildings),
        &NO,
    )
    .unwrap();
    let pbf = import_file(&shared("hue/hue.osm.pbf"), &opts("EPSG:32648"), &NO).unwrap();
    // osm_id "w123" in the GeoJSON is way/123 in the PBF.
    let by_id: HashMap<String, &twin_core::model::Building> = pbf
        .buildings
        .iter()
        .map(|b| (b.source_id.clone(), b))
        .collect();
    let mut compared = 0;
    for b in &gj.buildings {
        let key = match b.source_id.split_at(1) {
            ("w", n) => format!("way/{n}"),
            ("r", n) => format!("relation/{n}"),
            _ => continue,
        };
        let Some(o) = by_id.get(&key) else { continue };
        let (a1, a2) = (b.footprint.unsigned_area(), o.footprint.unsigned_area());
        assert!(
            (a1 - a2).abs() <= 1e-6 * a2.max(1.0),
            "{key}: {a1} vs {a2} m²"
        );
        assert_eq!(
            (b.height, &b.height_source),
            (o.height, &o.height_source),
            "{key}"
        );
        compared += 1;
    }
    assert!(compared >= 6_800, "only {compared} buildings matched by id");
}

#[test]
fn malformed_geojson_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "trunc.geojson",
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[107.5"#,
            "trunc.geojson",
        ),
        (
            "badgeom.geojson",
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"building":"yes"},"geometry":{"type":"Polygon","coordinates":[[1,2]]}}]}"#,
            "feature 0",
        ),
        (
            "dup.geojson",
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","id":"a","properties":{},"geometry":{"type":"Point","coordinates":[107.5,16.4]}},{"type":"Feature","id":"a","properties":{},"geometry":{"type":"Point","coordinates":[107.5,16.4]}}]}"#,
            "duplicate",
        ),
        (
            "far.geojson",
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"building":"yes"},"geometry":{"type":"Polygon","coordinates":[[[1000,2],[1001,2],[1001,3],[1000,2]]]}}]}"#,
            "feature 0",
        ),
    ];
    for (name, body, expect) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        let e = import_file(&p, &opts("EPSG:32648"), &NO)
            .unwrap_err()
            .to_string();
        assert!(e.contains(name) && e.contains(expect), "{name}: {e}");
    }
}

#[test]
fn sensors_from_geojson_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let gj = dir.path().join("gauges.geojson");
    std::fs::write(&gj, r#"{"type":"FeatureCollection","features":[{"type":"Feature","id":"kim-long","properties":{"kind":"river_gauge","unit":"m","name":"Kim Long"},"geometry":{"type":"Point","coordinates":[107.556,16.4655]}}]}"#).unwrap();
    let imp = import_file(&gj, &with_layer(LayerKind::Sensors), &NO).unwrap();
    assert_eq!(imp.sensors.len(), 1);
    assert_eq!(
        (imp.sensors[0].kind.as_str(), imp.sensors[0].unit.as_str()),
        ("river_gauge", "m")
    );

    let js = dir.path().join("cams.json");
    std::fs::write(&js, r#"[{"id":"c1","kind":"traffic_camera","unit":"veh/h","lon":107.59,"lat":16.46,"lanes":2},{"id":"c2","kind":"traffic_camera","unit":"veh/h","lon":107.6,"lat":16.47}]"#).unwrap();
    let imp = import_file(&js, &opts("EPSG:32648"), &NO).unwrap();
    assert_eq!(imp.sensors.len(), 2);
    assert_eq!(
        imp.sensors[0].attributes.get("lanes").map(String::as_str),
        Some("2")
    );
    // The same point from JSON and from a projection by hand agree.
    let t = twin_core::Transform::between("EPSG:4326", "EPSG:32648").unwrap();
    let (x, y) = t.apply(107.59, 16.46).unwrap();
    assert_eq!(
        (imp.sensors[0].location.x(), imp.sensors[0].location.y()),
        (x, y)
    );

    std::fs::write(
        &js,
        r#"[{"id":"c1","kind":"traffic_camera","lon":107.59,"lat":16.46}]"#,
    )
    .unwrap();
    let e = import_file(&js, &opts("EPSG:32648"), &NO)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cams.json") && e.contains("[0]") && e.contains("unit"),
        "{e}"
    );
}

/// Issue 14: positions with fewer than two numbers (`[0]`, `[]`) made the geojson crate's
/// conversion index out of bounds and the import panic; now each is an error naming the file
/// and the feature.
#[test]
fn short_positions_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let feature = |geometry: &str| {
        format!(
            r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{{"building":"yes"}},"geometry":{{"type":"Point","coordinates":[107.5,16.4]}}}},{{"type":"Feature","properties":{{"building":"yes"}},"geometry":{geometry}}}]}}"#
        )
    };
    let cases = [
        ("one.geojson", r#"{"type":"Point","coordinates":[0]}"#),
        ("empty.geojson", r#"{"type":"Point","coordinates":[]}"#),
        (
            "ring.geojson",
            r#"{"type":"Polygon","coordinates":[[[107.5,16.4],[107.6],[107.6,16.5],[107.5,16.4]]]}"#,
        ),
        (
            "line.geojson",
            r#"{"type":"LineString","coordinates":[[107.5,16.4],[]]}"#,
        ),
        (
            "multi.geojson",
            r#"{"type":"GeometryCollection","geometries":[{"type":"MultiPoint","coordinates":[[107.5,16.4],[1]]}]}"#,
        ),
    ];
    for (name, geometry) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, feature(geometry)).unwrap();
        let got = std::panic::catch_unwind(|| import_file(&p, &opts("EPSG:32648"), &NO));
        let e = got
            .unwrap_or_else(|_| panic!("{name}: the import panicked"))
            .err()
            .unwrap_or_else(|| panic!("{name}: imported without error"))
            .to_string();
        assert!(
            e.contains(name) && e.contains("feature 1") && e.contains("position"),
            "{name}: {e}"
        );
    }
}
