//! The GeoPackage store, checked by GDAL's `ogrinfo` (installed by `scripts/setup.sh --test`),
//! and its all-or-nothing writes.

mod common;
use common::*;
use std::process::Command;
use twin_core::store::Store;
use twin_core::twin::SourceConfig;
use twin_core::LayerKind;
use twin_core::{Crs, TwinDir};

fn ogrinfo(args: &[&str]) -> String {
    let out = Command::new("ogrinfo")
        .args(args)
        .output()
        .expect("ogrinfo (Debian gdal-bin) must be installed: run scripts/setup.sh --test");
    assert!(
        out.status.success(),
        "ogrinfo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn hue_twin(dir: &std::path::Path) -> TwinDir {
    let mut t = TwinDir::create(dir, "hue-osm", Crs::epsg(32648).unwrap()).unwrap();
    let src = SourceConfig {
        path: shared("hue/hue.osm.pbf"),
        layer: None,
        crs: None,
        lod: None,
    };
    t.import(src, &NO).unwrap();
    t
}

#[test]
fn gdal_lists_the_layers_types_crs_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let t = hue_twin(dir.path());
    let twin = t.load().unwrap();
    let gpkg = t.store_path();
    let p = gpkg.to_str().unwrap();

    let list = ogrinfo(&["-ro", p]);
    assert!(list.contains("using driver `GPKG' successful"), "{list}");
    for (layer, ty) in [
        ("buildings", "(Multi Polygon)"),
        ("heritage", "(Multi Polygon)"),
        ("sensors", "(Point)"),
        ("roads", "(Line String)"),
    ] {
        assert!(
            list.contains(&format!("{layer} {ty}")),
            "{layer} {ty} missing in:\n{list}"
        );
    }
    for (layer, n) in [
        ("buildings", twin.buildings.len()),
        ("roads", twin.roads.len()),
        ("heritage", twin.heritage.len()),
    ] {
        let s = ogrinfo(&["-ro", "-so", p, layer]);
        assert!(
            s.contains(&format!("Feature Count: {n}")),
            "{layer}: {n} expected in\n{s}"
        );
        assert!(
            s.contains("UTM zone 48N") && s.contains("32648"),
            "{layer} CRS:\n{s}"
        );
        // The extent GDAL reads from gpkg_contents equals the R-tree's.
        let e = match layer {
            "buildings" => twin.buildings.extent(),
            "roads" => twin.roads.extent(),
            _ => twin.heritage.extent(),
        }
        .unwrap();
        let line = s
            .lines()
            .find(|l| l.starts_with("Extent:"))
            .unwrap()
            .to_string();
        let nums: Vec<f64> = line
            .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
            .filter_map(|x| x.parse().ok())
            .collect();
        assert_eq!(nums.len(), 4, "{line}");
        for (a, b) in nums.iter().zip([e[0], e[1], e[2], e[3]]) {
            assert!((a - b).abs() < 1e-3, "{line} vs {e:?}");
        }
    }
    // GDAL decodes our geometry blobs: the total footprint area it computes matches ours.
    let sql = ogrinfo(&[
        "-ro",
        "-q",
        p,
        "-sql",
        "SELECT SUM(ST_Area(geom)) AS a FROM buildings",
        "-dialect",
        "SQLite",
    ]);
    let gdal_area: f64 = sql
        .lines()
        .find_map(|l| l.trim().strip_prefix("a (Real) = "))
        .unwrap()
        .parse()
        .unwrap();
    use geo::Area;
    let ours: f64 = twin
        .buildings
        .features()
        .iter()
        .map(|b| b.footprint.unsigned_area())
        .sum();
    assert!(
        (gdal_area - ours).abs() / ours < 1e-9,
        "{gdal_area} vs {ours}"
    );
}

#[test]
fn reload_gives_back_what_was_written() {
    let dir = tempfile::tempdir().unwrap();
    let t = hue_twin(dir.path());
    let imported = twin_core::import::import_file(
        &shared("hue/hue.osm.pbf"),
        &t.options(&t.config.sources[0]).unwrap(),
        &NO,
    )
    .unwrap();
    let twin = t.load().unwrap();
    assert_eq!(twin.buildings.len(), imported.buildings.len());
    for (a, b) in imported.buildings.iter().zip(twin.buildings.features()) {
        assert_eq!(a, b);
    }
    for (a, b) in imported.roads.iter().zip(twin.roads.features()) {
        assert_eq!(a, b);
    }
    assert_eq!(imported.heritage, twin.heritage.features());
}

#[test]
fn a_failed_import_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = hue_twin(dir.path());
    let before = Store::open_or_create(&t.store_path(), &t.crs)
        .unwrap()
        .counts()
        .unwrap();
    let toml_before = std::fs::read_to_string(dir.path().join("twin.toml")).unwrap();

    // The same file again: every id clashes with one already stored; the transaction rolls back.
    let src = SourceConfig {
        path: shared("hue/hue.osm.pbf"),
        layer: None,
        crs: None,
        lod: None,
    };
    let e = t.import(src, &NO).unwrap_err().to_string();
    assert!(e.contains("twin.gpkg") && e.contains("UNIQUE"), "{e}");
    // A sensors file whose 3rd row is bad: nothing of the first two rows is stored.
    let csv = dir.path().join("sensors.csv");
    std::fs::write(
        &csv,
        "id,kind,unit,lon,lat\na,rain,mm,107.5,16.4\nb,rain,mm,107.6,16.4\nc,rain,mm,107.6,north\n",
    )
    .unwrap();
    let e = t
        .import(
            SourceConfig {
                path: csv,
                layer: None,
                crs: None,
                lod: None,
            },
            &NO,
        )
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("sensors.csv") && e.contains("line 4") && e.contains("`lat`"),
        "{e}"
    );

    let after = Store::open_or_create(&t.store_path(), &t.crs)
        .unwrap()
        .counts()
        .unwrap();
    assert_eq!(before, after);
    assert!(after.contains(&(LayerKind::Buildings, 6877)));
    assert_eq!(
        toml_before,
        std::fs::read_to_string(dir.path().join("twin.toml")).unwrap()
    );
    // A store in another CRS is refused rather than mixed.
    let e = Store::open_or_create(&t.store_path(), &Crs::epsg(32649).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("EPSG:32648") && e.contains("EPSG:32649"), "{e}");
}

#[test]
fn terrain_and_point_clouds_round_trip_through_the_store() {
    let dir = tempfile::tempdir().unwrap();
    // Autzen (Oregon) in UTM 10N: a LAZ point cloud; the 3 m gully DEM given in UTM 13N would be
    // far away, so the DEM goes to its own twin below.
    let mut t = TwinDir::create(
        &dir.path().join("autzen"),
        "autzen",
        Crs::epsg(32610).unwrap(),
    )
    .unwrap();
    let src = SourceConfig {
        path: shared("lidar/autzen_trim.laz"),
        layer: None,
        crs: None,
        lod: None,
    };
    let imported =
        twin_core::import::import_file(&src.path, &t.options(&src).unwrap(), &NO).unwrap();
    t.import(src, &NO).unwrap();
    let twin = t.load().unwrap();
    assert_eq!(twin.pointclouds.len(), 1);
    assert_eq!(twin.pointclouds[0], imported.pointclouds[0]);
    assert_eq!(twin.pointclouds[0].points.len(), 110_000);

    let mut d = TwinDir::create(
        &dir.path().join("gully"),
        "gully",
        Crs::epsg(26913).unwrap(),
    )
    .unwrap();
    let src = SourceConfig {
        path: shared("dem/west_bijou_gully.asc"),
        layer: None,
        crs: Some("EPSG:26913".into()),
        lod: None,
    };
    let imported =
        twin_core::import::import_file(&src.path, &d.options(&src).unwrap(), &NO).unwrap();
    d.import(src, &NO).unwrap();
    let twin = d.load().unwrap();
    assert_eq!(twin.terrain, imported.dems);
    assert_eq!((twin.terrain[0].ncols, twin.terrain[0].nrows), (43, 89));
    let list = ogrinfo(&["-ro", d.store_path().to_str().unwrap()]);
    assert!(
        list.contains("terrain (None)") && list.contains("pointclouds (None)"),
        "{list}"
    );
}

/// Heritage height limits are a REAL column that GDAL sees as a number; a store written before
/// the column (the limit a string among the attributes) gains it on open and still loads the
/// limit as a number.
#[test]
fn heritage_height_limits_are_typed_and_old_stores_migrate() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = TwinDir::create(dir.path(), "h", Crs::epsg(32648).unwrap()).unwrap();
    t.import(
        SourceConfig {
            path: std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../data/hue/heritage.geojson"),
            layer: Some(LayerKind::Heritage),
            crs: Some("EPSG:4326".into()),
            lod: None,
        },
        &NO,
    )
    .unwrap();
    let limit = |t: &TwinDir, id: &str| {
        let twin = t.load().unwrap();
        let h = twin
            .heritage
            .features()
            .iter()
            .find(|h| h.id == id)
            .unwrap()
            .clone();
        (
            h.height_limit_m,
            h.attributes.get("height_limit_m").cloned(),
        )
    };
    assert_eq!(limit(&t, "heritage:royal-axis"), (Some(14.0), None));
    assert_eq!(limit(&t, "heritage:ngo-mon"), (None, None));
    let store = t.store_path();
    let info = ogrinfo(&["-so", store.to_str().unwrap(), "heritage"]);
    assert!(info.contains("height_limit_m: Real"), "{info}");
    // The store as an earlier version wrote it: no column, the limit a string attribute.
    {
        let c = rusqlite::Connection::open(&store).unwrap();
        c.execute_batch(
            "UPDATE heritage SET attributes = json_set(attributes, '$.height_limit_m', '14') WHERE id = 'heritage:royal-axis';
             ALTER TABLE heritage DROP COLUMN height_limit_m;",
        )
        .unwrap();
    }
    let t = TwinDir::open(dir.path()).unwrap();
    assert_eq!(limit(&t, "heritage:royal-axis"), (Some(14.0), None));
    let info = ogrinfo(&["-so", store.to_str().unwrap(), "heritage"]);
    assert!(info.contains("height_limit_m: Real"), "{info}");
}
