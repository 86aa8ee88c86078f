//! The committed Hue sample twin (data/hue) builds with every layer, from a copy of its folder.

mod common;
use common::NO;
use std::path::PathBuf;
use twin_core::TwinDir;

fn features(dir: &std::path::Path, file: &str) -> usize {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap();
    v["features"].as_array().unwrap().len()
}

#[test]
fn the_sample_twin_builds_with_the_counts_of_its_sources() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/hue");
    let tmp = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x != "gpkg") {
            std::fs::copy(&p, tmp.path().join(p.file_name().unwrap())).unwrap();
        }
    }
    let dir = TwinDir::open(tmp.path()).unwrap();
    let reports = dir.build(&NO).unwrap();
    assert_eq!(reports.len(), dir.config.sources.len());
    let twin = dir.load().unwrap();
    assert_eq!(twin.buildings.len(), features(&src, "buildings.geojson"));
    assert_eq!(twin.heritage.len(), features(&src, "heritage.geojson"));
    assert_eq!(twin.roads.len(), features(&src, "roads.geojson"));
    assert_eq!(twin.water.len(), features(&src, "water.geojson"));
    assert_eq!(twin.landuse.len(), features(&src, "landuse.geojson"));
    assert!(twin
        .landuse
        .features()
        .iter()
        .all(|l| !l.kind.is_empty() && l.kind != "landuse"));
    let csv_rows = std::fs::read_to_string(src.join("sensors.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .count();
    assert_eq!(twin.sensors.len(), csv_rows);
    assert_eq!(twin.terrain.len(), 1);
    // The DEM's header, read here by hand.
    let asc = std::fs::read_to_string(src.join("dem.asc")).unwrap();
    let header = |k: &str| -> f64 {
        asc.lines()
            .find_map(|l| l.strip_prefix(k))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let d = &twin.terrain[0];
    assert_eq!(
        (d.ncols as f64, d.nrows as f64),
        (header("ncols"), header("nrows"))
    );
    assert_eq!(d.xmin, header("xllcorner"));
    // Every building sits on the DEM and gets a height from a rule it records.
    for b in twin.buildings.features() {
        use geo::Centroid;
        let c = b.footprint.centroid().unwrap();
        assert!(d.sample(c.x(), c.y()).is_some(), "{} off the DEM", b.id);
        assert!(b.height > 0.0);
    }
    // Ngo Mon's published position is inside Ngo Mon (and inside the protected zones around it).
    let t = twin_core::Transform::between("EPSG:4326", "EPSG:32648").unwrap();
    let (x, y) = t.apply(107.5792, 16.4677).unwrap();
    let inside = twin
        .heritage
        .query_radius(geo_types::Point::new(x, y), 0.0)
        .unwrap();
    let names: Vec<&str> = inside
        .iter()
        .filter_map(|(i, _)| twin.heritage.features()[*i].name.as_deref())
        .collect();
    assert!(names.contains(&"Meridian Gate"), "{names:?}"); // Ngọ Môn (name_vi)
    assert!(
        names.len() >= 2,
        "Ngo Mon lies in the citadel's protected zone too: {names:?}"
    );
}
