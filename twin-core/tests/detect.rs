//! Issue 20, defect 2: every shared source file is recognised by its content, also when copied
//! under a name that says nothing or says something else.

mod common;
use common::shared;
use std::time::Instant;
use twin_core::import::detect::{detect, Content};

#[test]
fn every_shared_file_is_recognised_by_its_content() {
    let dir = tempfile::tempdir().unwrap();
    for (rel, want) in [
        ("hue/hue.osm.pbf", Content::OsmPbf),
        ("hue/geojson/hue_building.geojson", Content::GeoJson),
        ("hue/geojson/hue_highway.geojson", Content::GeoJson),
        (
            "cityjson/3dbag_v20240420_3buildings.city.json",
            Content::CityJson,
        ),
        (
            "cityjson/3dbag_v20240420_3buildings.city.jsonl",
            Content::CityJsonSeq,
        ),
        // Its "type" comes after the whole CityObjects member.
        ("cityjson/delft_3dfier_lod1.city.json", Content::CityJson),
        (
            "cityjson/3dbag_v2103_10buildings_multilod.city.json",
            Content::CityJson,
        ),
        ("lidar/autzen_trim.las", Content::Las),
        ("lidar/autzen_trim.laz", Content::Las),
        ("lidar/simple.copc.laz", Content::Las),
        ("dem/srtmgl3_boulder_creek_co.tif", Content::Tiff),
        ("dem/srtmgl3_boulder_creek_co.asc", Content::AsciiGrid),
        ("dem/west_bijou_gully.asc", Content::AsciiGrid),
        (
            "traffic/siouxfalls/SiouxFallsCoordinates.geojson",
            Content::GeoJson,
        ),
    ] {
        let src = shared(rel);
        let t = Instant::now();
        let d = detect(&src).unwrap();
        let ms = t.elapsed().as_secs_f64() * 1e3;
        assert_eq!((d.content, d.by_content), (want, true), "{rel}");
        // The same bytes under a name that says nothing.
        let blind = dir.path().join("source.dat");
        std::fs::copy(&src, &blind).unwrap();
        let b = detect(&blind).unwrap();
        assert_eq!(
            (b.content, b.by_content, b.by_name),
            (want, true, None),
            "{rel} as .dat"
        );
        assert_eq!(b.note(&blind), None);
        let size = std::fs::metadata(&src).unwrap().len() as f64 / 1e6;
        eprintln!("{rel}: {} in {ms:.2} ms ({size:.2} MB)", want.describe());
    }
    // The sample twin's sensors CSV; a JSON array of sensors under a .csv name is JSON, with
    // a note saying so.
    let csv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/hue/sensors.csv");
    assert_eq!(detect(&csv).unwrap().content, Content::SensorsCsv);
    let json = dir.path().join("gauges.csv");
    std::fs::write(
        &json,
        r#"[{"id": "g1", "kind": "river_gauge", "unit": "m", "lon": 107.55, "lat": 16.45}]"#,
    )
    .unwrap();
    let d = detect(&json).unwrap();
    assert_eq!(
        (d.content, d.by_name),
        (Content::SensorsJson, Some(Content::SensorsCsv))
    );
    assert_eq!(
        d.note(&json).as_deref(),
        Some(
            "read as sensors JSON from its content (the name \"gauges.csv\" suggests sensors CSV)"
        )
    );
    // A truncated GeoJSON is still GeoJSON by its "type" (its importer reports the cut); JSON
    // malformed before any "type" says nothing, and the name decides.
    let cut = dir.path().join("cut.json");
    std::fs::write(&cut, "{\"type\": \"FeatureCollection\", \"features\": [").unwrap();
    let d = detect(&cut).unwrap();
    assert_eq!((d.content, d.by_content), (Content::GeoJson, true));
    let bad = dir.path().join("broken.geojson");
    std::fs::write(&bad, "{\"features\": [1,, \"type\": \"FeatureCollection\"}").unwrap();
    let d = detect(&bad).unwrap();
    assert_eq!((d.content, d.by_content), (Content::GeoJson, false));
}
