//! The `twin` binary end to end: import, info, query, and clear errors on bad input.

mod common;
use common::{shared, text, twin};

#[test]
fn import_info_query_on_the_real_hue_extract() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("hue");
    let ts = t.to_str().unwrap();
    let o = twin(&[
        "import",
        shared("hue/hue.osm.pbf").to_str().unwrap(),
        "--into",
        ts,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("6877 buildings"), "{}", text(&o));

    let o = twin(&["info", ts, "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["crs"], "EPSG:32648");
    let layers = v["layers"].as_array().unwrap();
    let b = layers.iter().find(|l| l["layer"] == "buildings").unwrap();
    assert_eq!(b["count"], 6877);
    // The WGS84 extent of the buildings is Hue's (the extract's core: lon 107.46-107.72, lat 16.37-16.60).
    let e: Vec<f64> = b["extent_wgs84"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert!(
        e[0] > 107.4 && e[2] < 107.8 && e[1] > 16.3 && e[3] < 16.7,
        "{e:?}"
    );

    // The monument nearest to Ngo Mon's coordinates is Ngo Mon.
    let o = twin(&[
        "query",
        ts,
        "--layer",
        "heritage",
        "--near",
        "107.5791,16.4669",
        "--k",
        "1",
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["name"], "Ngọ Môn");
    assert!(v[0]["distance_m"].as_f64().unwrap() < 100.0);

    // A bbox query around the Flag Tower finds buildings, each inside or touching the box.
    let o = twin(&[
        "query",
        ts,
        "--bbox",
        "107.575,16.462,107.585,16.47",
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(!v.as_array().unwrap().is_empty());
}

#[test]
fn bad_input_gets_a_clear_error_and_a_nonzero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("t");
    let ts = t.to_str().unwrap();
    let junk = dir.path().join("junk.osm.pbf");
    std::fs::write(&junk, b"not a pbf").unwrap();
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, b"hello").unwrap();
    for (args, expect) in [
        (
            vec!["import", junk.to_str().unwrap(), "--into", ts],
            "junk.osm.pbf",
        ),
        (
            vec!["import", "/nonexistent/x.geojson", "--into", ts],
            "no such file",
        ),
        (
            vec![
                "import",
                junk.to_str().unwrap(),
                "--into",
                ts,
                "--crs",
                "EPSG:999999",
            ],
            "unknown CRS",
        ),
        (vec!["info", "/nonexistent-twin"], "twin.toml"),
        (
            vec!["import", notes.to_str().unwrap(), "--into", ts],
            "unknown source format",
        ),
    ] {
        let o = twin(&args);
        assert!(!o.status.success(), "{args:?} should fail");
        let msg = text(&o);
        assert!(msg.contains(expect), "{args:?}: {msg}");
        assert!(!msg.contains("panicked"), "{msg}");
        assert!(
            !t.exists(),
            "a failed first import must not leave a twin folder behind"
        );
    }
    let o = twin(&[
        "import",
        shared("hue/hue.osm.pbf").to_str().unwrap(),
        "--into",
        ts,
    ]);
    assert!(o.status.success());
    for q in [
        ["--bbox", "1,2,3"],
        ["--bbox", "NaN,1,2,3"],
        ["--near", "107.5,north"],
    ] {
        let o = twin(&["query", ts, q[0], q[1]]);
        assert!(
            !o.status.success() && text(&o).contains(q[0]),
            "{q:?}: {}",
            text(&o)
        );
    }
}

/// A small GeoJSON of three buildings in Huế (the Citadel), hand-written.
const THREE_BUILDINGS: &str = r#"{"type":"FeatureCollection","features":[
{"type":"Feature","id":"a","properties":{"building":"yes"},"geometry":{"type":"Polygon","coordinates":[[[107.578,16.468],[107.5782,16.468],[107.5782,16.4682],[107.578,16.4682],[107.578,16.468]]]}},
{"type":"Feature","id":"b","properties":{"building":"yes"},"geometry":{"type":"Polygon","coordinates":[[[107.58,16.47],[107.5802,16.47],[107.5802,16.4702],[107.58,16.4702],[107.58,16.47]]]}},
{"type":"Feature","id":"c","properties":{"building":"yes"},"geometry":{"type":"Polygon","coordinates":[[[107.59,16.46],[107.5902,16.46],[107.5902,16.4602],[107.59,16.4602],[107.59,16.46]]]}}]}"#;

/// Issue 14: `twin import` of a GeoJSON with a position `[0]` or `[]` panicked (exit 101) in
/// the geojson crate's conversion; now it exits 1 with a message naming the file and the
/// feature.
#[test]
fn import_of_short_positions_exits_1_naming_file_and_feature() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("t");
    for (name, position) in [("one.geojson", "[0]"), ("empty.geojson", "[]")] {
        let bad = THREE_BUILDINGS.replace("[107.5902,16.46]", position);
        let p = dir.path().join(name);
        std::fs::write(&p, bad).unwrap();
        let o = twin(&["import", p.to_str().unwrap(), "--into", t.to_str().unwrap()]);
        let msg = text(&o);
        assert_eq!(o.status.code(), Some(1), "{name}: {msg}");
        assert!(
            msg.contains(name) && msg.contains("feature 2") && msg.contains("position"),
            "{name}: {msg}"
        );
        assert!(!msg.contains("panicked"), "{msg}");
    }
}

/// Issue 14: `twin query --bbox -180,-90,180,90` found nothing (the world's corners do not
/// project to UTM); the box is clamped to the twin's extent first, so it finds every feature.
#[test]
fn query_with_a_world_bbox_finds_every_feature() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("t");
    let ts = t.to_str().unwrap();
    let p = dir.path().join("three.geojson");
    std::fs::write(&p, THREE_BUILDINGS).unwrap();
    let o = twin(&[
        "import",
        p.to_str().unwrap(),
        "--into",
        ts,
        "--layer",
        "buildings",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let count = |bbox: &str| {
        let o = twin(&["query", ts, "--bbox", bbox, "--json"]);
        assert!(o.status.success(), "{bbox}: {}", text(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v.as_array().unwrap().len()
    };
    assert_eq!(count("-180,-90,180,90"), 3);
    assert_eq!(count("107.0,16.0,108.0,17.0"), 3);
    assert_eq!(count("107.5799,16.4699,107.5803,16.4703"), 1);
    assert_eq!(count("-80,-60,-70,-50"), 0);
}
