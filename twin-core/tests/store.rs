//! The store, checked by GDAL's `ogrinfo` (installed by `scripts/setup.sh --test`), and its
//! all-or-nothing writes. The tests that are not about the GeoPackage file itself run on both
//! backends: the GeoPackage always, PostgreSQL/PostGIS when `HUETWIN_TEST_PG` names a cluster
//! (`scripts/test.sh` starts one).

mod common;
use common::*;
use std::process::Command;
use twin_core::model::HeritageSite;
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
    hue_twin_on(dir, &Backend::GeoPackage)
}

fn hue_twin_on(dir: &std::path::Path, b: &Backend) -> TwinDir {
    let mut t = b.create(dir, "hue-osm", Crs::epsg(32648).unwrap());
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
        ("landuse", "(Multi Polygon)"),
    ] {
        assert!(
            list.contains(&format!("{layer} {ty}")),
            "{layer} {ty} missing in:\n{list}"
        );
    }
    assert!(
        twin.landuse.len() > 1000,
        "{} land use areas",
        twin.landuse.len()
    );
    for (layer, n) in [
        ("buildings", twin.buildings.len()),
        ("roads", twin.roads.len()),
        ("heritage", twin.heritage.len()),
        ("landuse", twin.landuse.len()),
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
            "landuse" => twin.landuse.extent(),
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
    for b in Backend::all() {
        reload_on(&b);
    }
}

fn reload_on(b: &Backend) {
    let dir = tempfile::tempdir().unwrap();
    let t = hue_twin_on(dir.path(), b);
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
    assert_eq!(imported.heritage, twin.heritage.features(), "{}", b.name());
    assert_eq!(imported.sensors, twin.sensors.features(), "{}", b.name());
    assert_eq!(imported.water, twin.water.features(), "{}", b.name());
    assert!(!imported.landuse.is_empty());
    assert_eq!(imported.landuse, twin.landuse.features(), "{}", b.name());
    assert_eq!(imported.roads.len(), twin.roads.len());
    // A folder opened afresh finds the same store through twin.toml.
    let again = TwinDir::open(dir.path()).unwrap();
    assert_eq!(again.store, t.store, "{}", b.name());
    assert_eq!(
        again.load().unwrap().buildings.len(),
        imported.buildings.len()
    );
}

#[test]
fn a_failed_import_leaves_nothing_behind() {
    for b in Backend::all() {
        failed_import_on(&b);
    }
}

fn failed_import_on(b: &Backend) {
    let dir = tempfile::tempdir().unwrap();
    let mut t = hue_twin_on(dir.path(), b);
    let before = t.store.open(&t.crs).unwrap().counts().unwrap();
    let toml_before = std::fs::read_to_string(dir.path().join("twin.toml")).unwrap();

    // The same file again: every id clashes with one already stored; the transaction rolls back.
    let src = SourceConfig {
        path: shared("hue/hue.osm.pbf"),
        layer: None,
        crs: None,
        lod: None,
    };
    let e = t.import(src, &NO).unwrap_err().to_string();
    match b {
        Backend::GeoPackage => assert!(e.contains("twin.gpkg") && e.contains("UNIQUE"), "{e}"),
        Backend::Postgres(db) => assert!(
            e.contains(db.name()) && e.contains("unique constraint"),
            "{e}"
        ),
    }
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

    let after = t.store.open(&t.crs).unwrap().counts().unwrap();
    assert_eq!(before, after, "{}", b.name());
    let n = t.load().unwrap().buildings.len();
    assert!(
        n > 1000 && after.contains(&(LayerKind::Buildings, n)),
        "{after:?}"
    );
    assert_eq!(
        toml_before,
        std::fs::read_to_string(dir.path().join("twin.toml")).unwrap()
    );
    // A store in another CRS is refused rather than mixed.
    let e = t
        .store
        .open(&Crs::epsg(32649).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("EPSG:32648") && e.contains("EPSG:32649"), "{e}");
    if let Backend::GeoPackage = b {
        // The GeoPackage type itself says the same.
        let e = Store::open_or_create(&t.store_path(), &Crs::epsg(32649).unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("EPSG:32648") && e.contains("EPSG:32649"), "{e}");
    }
}

#[test]
fn terrain_and_point_clouds_round_trip_through_the_store() {
    for b in Backend::all() {
        terrain_and_points_on(&b);
    }
}

fn terrain_and_points_on(b: &Backend) {
    let dir = tempfile::tempdir().unwrap();
    // Autzen (Oregon) in UTM 10N: a LAZ point cloud; the 3 m gully DEM given in UTM 13N would be
    // far away, so the DEM goes to its own twin below (a GeoPackage: one PostGIS database holds
    // one twin).
    let mut t = b.create(
        &dir.path().join("autzen"),
        "autzen",
        Crs::epsg(32610).unwrap(),
    );
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
    if let Backend::Postgres(_) = b {
        // A PostGIS database holds one twin (one CRS): the DEM twin below is a GeoPackage;
        // the grid itself goes through PostGIS in `dem_round_trips_through_postgis`.
        return;
    }

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

/// Heritage height limits and floor levels are REAL columns that GDAL sees as numbers; a store
/// written before the columns (the numbers strings among the attributes) gains them on open
/// and still loads the numbers as numbers.
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
    // A stored site's typed number and what its attributes keep under the same key.
    let number = |t: &TwinDir, id: &str, key: &str, field: fn(&HeritageSite) -> Option<f64>| {
        let twin = t.load().unwrap();
        let h = twin
            .heritage
            .features()
            .iter()
            .find(|h| h.id == id)
            .unwrap()
            .clone();
        (field(&h), h.attributes.get(key).cloned())
    };
    let limit = |t: &TwinDir, id: &str| number(t, id, "height_limit_m", |h| h.height_limit_m);
    let floor = |t: &TwinDir, id: &str| number(t, id, "floor_m", |h| h.floor_m);
    assert_eq!(limit(&t, "heritage:royal-axis"), (Some(14.0), None));
    assert_eq!(limit(&t, "heritage:ngo-mon"), (None, None));
    assert_eq!(floor(&t, "heritage:thai-hoa"), (Some(1.2), None));
    assert_eq!(floor(&t, "heritage:royal-axis"), (None, None));
    let store = t.store_path();
    let info = ogrinfo(&["-so", store.to_str().unwrap(), "heritage"]);
    assert!(info.contains("height_limit_m: Real"), "{info}");
    assert!(info.contains("floor_m: Real"), "{info}");
    // The store as an earlier version wrote it: no column, the limit a string attribute.
    {
        let c = rusqlite::Connection::open(&store).unwrap();
        c.execute_batch(
            "UPDATE heritage SET attributes = json_set(attributes, '$.height_limit_m', '14') WHERE id = 'heritage:royal-axis';
             UPDATE heritage SET attributes = json_set(attributes, '$.floor_m', '1.2') WHERE id = 'heritage:thai-hoa';
             ALTER TABLE heritage DROP COLUMN height_limit_m;
             ALTER TABLE heritage DROP COLUMN floor_m;",
        )
        .unwrap();
    }
    let t = TwinDir::open(dir.path()).unwrap();
    assert_eq!(limit(&t, "heritage:royal-axis"), (Some(14.0), None));
    assert_eq!(floor(&t, "heritage:thai-hoa"), (Some(1.2), None));
    let info = ogrinfo(&["-so", store.to_str().unwrap(), "heritage"]);
    assert!(info.contains("height_limit_m: Real"), "{info}");
    assert!(info.contains("floor_m: Real"), "{info}");
}

/// A GeoPackage written before the land use layer (no `landuse` table) opens without loss,
/// gains the table (registered for GDAL) and takes land use imports.
#[test]
fn old_stores_gain_the_landuse_table() {
    let dir = tempfile::tempdir().unwrap();
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/hue");
    let src = |file: &str, layer| SourceConfig {
        path: data.join(file),
        layer: Some(layer),
        crs: Some("EPSG:4326".into()),
        lod: None,
    };
    let mut t = TwinDir::create(dir.path(), "h", Crs::epsg(32648).unwrap()).unwrap();
    t.import(src("roads.geojson", LayerKind::Roads), &NO)
        .unwrap();
    let roads = t.load().unwrap().roads.features().to_vec();
    let store = t.store_path();
    {
        let c = rusqlite::Connection::open(&store).unwrap();
        c.execute_batch(
            "DROP TABLE landuse;
             DELETE FROM gpkg_geometry_columns WHERE table_name = 'landuse';
             DELETE FROM gpkg_contents WHERE table_name = 'landuse';",
        )
        .unwrap();
    }
    assert!(!ogrinfo(&["-ro", store.to_str().unwrap()]).contains("landuse"));
    let mut t = TwinDir::open(dir.path()).unwrap();
    let twin = t.load().unwrap();
    assert_eq!(twin.roads.features(), roads.as_slice());
    assert!(twin.landuse.is_empty());
    assert!(ogrinfo(&["-ro", store.to_str().unwrap()]).contains("landuse (Multi Polygon)"));
    t.import(src("landuse.geojson", LayerKind::LandUse), &NO)
        .unwrap();
    let twin = t.load().unwrap();
    assert_eq!(twin.roads.features(), roads.as_slice());
    let n = twin.landuse.len();
    assert!(n > 500, "{n}");
    let info = ogrinfo(&["-ro", "-so", store.to_str().unwrap(), "landuse"]);
    assert!(info.contains(&format!("Feature Count: {n}")), "{info}");
    let park = twin
        .landuse
        .features()
        .iter()
        .find(|l| l.kind == "park")
        .expect("a park");
    assert!(park.id.starts_with("landuse:l"), "{}", park.id);
}

/// The DEM grid through PostGIS (a database of its own, in the DEM's CRS).
#[test]
fn dem_round_trips_through_postgis() {
    let Some(db) = TestDb::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let b = Backend::Postgres(db);
    let mut d = b.create(dir.path(), "gully", Crs::epsg(26913).unwrap());
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
}

/// A bbox query on the store gives the features the in-memory R-tree gives, on both backends.
#[test]
fn bbox_queries_match_the_in_memory_index() {
    for b in Backend::all() {
        let dir = tempfile::tempdir().unwrap();
        let t = hue_twin_on(dir.path(), &b);
        let twin = t.load().unwrap();
        let store = t.store.open(&t.crs).unwrap();
        let e = twin.buildings.extent().unwrap();
        let (w, h) = (e[2] - e[0], e[3] - e[1]);
        let mut nonempty = 0;
        for (fx, fy, size) in [
            (0.5, 0.5, 0.05),
            (0.3, 0.6, 0.1),
            (0.7, 0.2, 0.02),
            (0.0, 0.0, 1.0),
        ] {
            let bbox = [
                e[0] + fx * w,
                e[1] + fy * h,
                e[0] + fx * w + size * w,
                e[1] + fy * h + size * h,
            ];
            let rect = geo_types::Rect::new((bbox[0], bbox[1]), (bbox[2], bbox[3]));
            for kind in [LayerKind::Buildings, LayerKind::Roads] {
                let want: Vec<String> = match kind {
                    LayerKind::Buildings => twin
                        .buildings
                        .query_bbox(rect)
                        .unwrap()
                        .into_iter()
                        .map(|i| twin.buildings.features()[i].id.clone())
                        .collect(),
                    _ => twin
                        .roads
                        .query_bbox(rect)
                        .unwrap()
                        .into_iter()
                        .map(|i| twin.roads.features()[i].id.clone())
                        .collect(),
                };
                let got = store.ids_in_bbox(kind, bbox).unwrap();
                assert_eq!(got, want, "{} {kind:?} {bbox:?}", b.name());
                nonempty += usize::from(!got.is_empty());
            }
        }
        assert!(nonempty >= 6, "{}: too few boxes hit anything", b.name());
        assert!(store
            .ids_in_bbox(LayerKind::Terrain, [0.0, 0.0, 1.0, 1.0])
            .is_err());
        assert!(store
            .ids_in_bbox(LayerKind::Buildings, [f64::NAN, 0.0, 1.0, 1.0])
            .is_err());
    }
}

/// GDAL's PostgreSQL driver lists the twin's layers with their geometry types, CRS and counts.
#[test]
fn ogrinfo_lists_the_postgis_layers() {
    let Some(db) = TestDb::new() else { return };
    let port = db.port();
    let name = db.name().to_string();
    let dir = tempfile::tempdir().unwrap();
    let b = Backend::Postgres(db);
    let t = hue_twin_on(dir.path(), &b);
    let twin = t.load().unwrap();
    let conn = format!("PG:host=127.0.0.1 port={port} user=postgres dbname={name}");
    let list = ogrinfo(&["-ro", &conn]);
    assert!(
        list.contains("using driver `PostgreSQL' successful"),
        "{list}"
    );
    for (layer, ty) in [
        ("buildings", "(Multi Polygon)"),
        ("heritage", "(Multi Polygon)"),
        ("sensors", "(Point)"),
        ("roads", "(Line String)"),
        ("landuse", "(Multi Polygon)"),
    ] {
        assert!(
            list.contains(&format!("{layer} {ty}")),
            "{layer} {ty} missing in:\n{list}"
        );
    }
    for (layer, n, e) in [
        ("buildings", twin.buildings.len(), twin.buildings.extent()),
        ("roads", twin.roads.len(), twin.roads.extent()),
        ("heritage", twin.heritage.len(), twin.heritage.extent()),
        ("water", twin.water.len(), twin.water.extent()),
        ("landuse", twin.landuse.len(), twin.landuse.extent()),
    ] {
        let s = ogrinfo(&["-ro", "-so", &conn, layer]);
        assert!(
            s.contains(&format!("Feature Count: {n}")),
            "{layer}: {n} expected in\n{s}"
        );
        assert!(
            s.contains("UTM zone 48N") && s.contains("32648"),
            "{layer}:\n{s}"
        );
        if let Some(e) = e {
            let line = s.lines().find(|l| l.starts_with("Extent:")).unwrap();
            let nums: Vec<f64> = line
                .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
                .filter_map(|x| x.parse().ok())
                .collect();
            assert_eq!(nums.len(), 4, "{line}");
            for (a, b) in nums.iter().zip(e) {
                assert!((a - b).abs() < 1e-3, "{layer}: {line} vs {e:?}");
            }
        }
    }
    // Typed columns, as in the GeoPackage.
    let s = ogrinfo(&["-ro", "-so", &conn, "buildings"]);
    for col in ["height: Real", "levels: Integer", "source_id: String"] {
        assert!(s.contains(col), "{col} missing in\n{s}");
    }
    // PostGIS computes the footprint area ours does.
    let sql = ogrinfo(&[
        "-ro",
        "-q",
        &conn,
        "-sql",
        "SELECT SUM(ST_Area(geom)) AS a FROM buildings",
    ]);
    let gdal_area: f64 = sql
        .lines()
        .find_map(|l| l.trim().strip_prefix("a (Real) = "))
        .unwrap_or_else(|| panic!("{sql}"))
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

/// Bad stores: a wrong URL, a refused connection, a database without PostGIS; the errors
/// name the URL without its password.
#[test]
fn bad_postgres_stores_are_refused_plainly() {
    use twin_core::store::pg::PgConfig;
    use twin_core::store::StoreLocation;
    let crs = Crs::epsg(32648).unwrap();
    let here = std::path::Path::new(".");
    for bad in [
        "postgres://",
        "postgres://:pw@/db",
        "postgresql://u:pw@h:notaport/db",
    ] {
        let e = StoreLocation::parse(bad, here).unwrap_err().to_string();
        assert!(!e.contains("pw@"), "{e}");
        assert!(e.contains("store URL"), "{e}");
    }
    let e = StoreLocation::parse("mysql://u:secret@h/db", here)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("mysql://u:***@h/db") && !e.contains("secret"),
        "{e}"
    );
    // A closed port on this machine: refused, quickly.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("postgres://huetwin:s3cret@127.0.0.1:{port}/hue");
    let t0 = std::time::Instant::now();
    let e = StoreLocation::parse(&url, here)
        .unwrap()
        .open(&crs)
        .unwrap_err()
        .to_string();
    assert!(t0.elapsed().as_secs() < 10);
    assert!(
        e.contains(&format!("postgres://huetwin:***@127.0.0.1:{port}/hue"))
            && e.contains("cannot connect")
            && !e.contains("s3cret"),
        "{e}"
    );
    // A database without PostGIS, opened by a user who may not add it.
    let Some(db) = TestDb::new() else { return };
    let mut admin = db.admin().connect().unwrap();
    let plain = format!("{}_plain", db.name());
    // (One statement per call: CREATE DATABASE cannot run inside a transaction block.)
    admin
        .batch_execute(&format!("CREATE ROLE {plain} LOGIN PASSWORD 'pw1234'"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {plain} OWNER {plain}"))
        .unwrap();
    let cfg = PgConfig::parse(&format!(
        "postgres://{plain}:pw1234@127.0.0.1:{}/{plain}",
        db.port()
    ))
    .unwrap();
    let e = StoreLocation::Postgres(cfg.clone())
        .open(&crs)
        .unwrap_err()
        .to_string();
    admin
        .batch_execute(&format!("DROP DATABASE {plain} WITH (FORCE)"))
        .unwrap();
    admin.batch_execute(&format!("DROP ROLE {plain}")).unwrap();
    assert!(
        e.contains("PostGIS")
            && e.contains(&format!("{plain}:***@127.0.0.1"))
            && !e.contains("pw1234"),
        "{e}"
    );
}

/// Tokens live in the database when the store does: one made through one connection (one
/// server replica) is valid through another, and a revocation is seen by both.
#[test]
fn tokens_in_postgres_are_shared() {
    use twin_core::store::StoreLocation;
    use twin_core::tokens::{Role, Tokens};
    let Some(db) = TestDb::new() else { return };
    let loc = StoreLocation::Postgres(db.config.clone());
    let (a, b) = (
        Tokens::open_store(&loc).unwrap(),
        Tokens::open_store(&loc).unwrap(),
    );
    let t1 = a.create(Role::Planner, "replica a").unwrap();
    let t2 = b.create(Role::Admin, "replica b").unwrap();
    assert_eq!(b.verify(&t1.token).unwrap().unwrap().role, Role::Planner);
    assert_eq!(a.verify(&t2.token).unwrap().unwrap().role, Role::Admin);
    let names: Vec<String> = a.list().unwrap().into_iter().map(|i| i.name).collect();
    assert_eq!(names, ["replica a", "replica b"]);
    b.revoke(&t1.info.id).unwrap();
    assert!(a.verify(&t1.token).unwrap().is_none());
    // Nothing secret in the table.
    let rec = a.record(&t2.info.id).unwrap().unwrap();
    assert!(rec.hash.starts_with("$argon2id$"));
    // Carried over (restore) without duplicates.
    let rows = a.records_all().unwrap();
    b.restore(&rows).unwrap();
    assert_eq!(b.list().unwrap().len(), 2);
    // A rebuild of the twin in the same database leaves the tokens alone.
    let dir = tempfile::tempdir().unwrap();
    let b = Backend::Postgres(db);
    let t = hue_twin_on(dir.path(), &b);
    t.build(&NO).unwrap();
    assert_eq!(a.verify(&t2.token).unwrap().unwrap().role, Role::Admin);
}
