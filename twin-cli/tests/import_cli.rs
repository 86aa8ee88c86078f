//! Issue 20 (defects 2, 3, 7): `twin import` reads a file by its content whatever its name, a
//! file without a CRS gets an error that names `--source-crs` and the twin.toml key and guesses
//! CRSs from its coordinates, and the CLI's messages say each thing once and whole.

mod common;
use common::{repo, shared, text, twin};
use std::path::{Path, PathBuf};

/// A copy of a shared file under another name in `dir`.
fn copy_as(dir: &Path, from: &str, name: &str) -> PathBuf {
    let to = dir.join(name);
    std::fs::copy(shared(from), &to).unwrap();
    to
}

fn import(source: &Path, into: &Path, extra: &[&str]) -> (bool, String, String) {
    let mut args = vec![
        "import",
        source.to_str().unwrap(),
        "--into",
        into.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = twin(&args);
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Defect 2: a CityJSON named `zurich_subset_lod2.json` was read as a sensors file ("expected an
/// array of sensor objects"); formats now come from the content, the name only as a hint.
#[test]
fn files_are_read_by_their_content_not_their_name() {
    let dir = tempfile::tempdir().unwrap();

    // CityJSON under a sensors-like name: 3 buildings, and a note saying what happened.
    let cj = copy_as(
        dir.path(),
        "cityjson/3dbag_v20240420_3buildings.city.json",
        "zurich_subset_lod2.json",
    );
    let (ok, out, err) = import(&cj, &dir.path().join("a"), &["--crs", "EPSG:28992"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains(": 3 buildings (source CRS EPSG:7415"), "{out}");
    assert!(
        out.contains(
            "  note: read as CityJSON from its content (the name \"zurich_subset_lod2.json\" suggests sensors JSON)\n"
        ),
        "{out}"
    );

    // CityJSONSeq (a header line, then features) under a .json name: read as a sequence.
    let seq = copy_as(
        dir.path(),
        "cityjson/3dbag_v20240420_3buildings.city.jsonl",
        "buildings.json",
    );
    let (ok, out, err) = import(&seq, &dir.path().join("b"), &["--crs", "EPSG:28992"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains(": 3 buildings (source CRS EPSG:7415"), "{out}");
    assert!(
        out.contains("read as CityJSONSeq from its content (the name \"buildings.json\" suggests sensors JSON)"),
        "{out}"
    );

    // A GeoTIFF DEM named .dat (no format has that extension): the TIFF magic decides.
    let dem = copy_as(
        dir.path(),
        "dem/srtmgl3_boulder_creek_co.tif",
        "boulder.dat",
    );
    let (ok, out, err) = import(&dem, &dir.path().join("c"), &["--crs", "EPSG:26913"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("boulder.dat: 1 terrain"), "{out}");

    // A LAZ named like a sensors CSV: the LASF signature decides.
    let laz = copy_as(dir.path(), "lidar/autzen_trim.laz", "sensors.csv");
    let (ok, out, err) = import(&laz, &dir.path().join("d"), &["--crs", "EPSG:2994"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("sensors.csv: 1 pointclouds"), "{out}");
    assert!(
        out.contains(
            "read as LAS/LAZ from its content (the name \"sensors.csv\" suggests sensors CSV)"
        ),
        "{out}"
    );

    // Neither content nor name known: one clear error naming the file.
    let junk = dir.path().join("notes.txt");
    std::fs::write(&junk, "hello").unwrap();
    let (ok, _, err) = import(&junk, &dir.path().join("e"), &[]);
    assert!(!ok);
    assert!(
        err.starts_with(&format!(
            "error: {}: content: unknown source format: the content is none of OSM PBF, GeoJSON",
            junk.display()
        )),
        "{err}"
    );
}

/// The autzen LAS with its CRS VLRs renamed away (so it carries no CRS).
fn las_without_crs(dir: &Path) -> PathBuf {
    let mut bytes = std::fs::read(shared("lidar/autzen_trim.las")).unwrap();
    let user = b"LASF_Projection\0";
    let mut n = 0;
    for i in 0..bytes.len().saturating_sub(user.len()) {
        if &bytes[i..i + user.len()] == user {
            bytes[i..i + user.len()].copy_from_slice(b"nothing_here\0\0\0\0");
            n += 1;
        }
    }
    assert!(n > 0, "autzen_trim.las has CRS VLRs");
    let p = dir.join("autzen_no_crs.las");
    std::fs::write(&p, bytes).unwrap();
    p
}

const GIVE: &str =
    "the source's CRS is unknown: give it with --source-crs on `twin import` (in twin.toml: \
                    `crs = \"EPSG:...\"` in the source's [[sources]] entry)";

/// Defect 3: a file without a CRS said "give one with source_crs (e.g. EPSG:32648)" whatever
/// the file; the error now names the flag and the twin.toml key and guesses CRSs whose area of
/// use holds the coordinates, ranked by the twin's own area.
#[test]
fn a_missing_crs_names_the_flag_and_guesses_from_the_coordinates() {
    let dir = tempfile::tempdir().unwrap();

    // A LAS without CRS, for a twin in Oregon: Oregon GIC Lambert (ft) comes first.
    let las = las_without_crs(dir.path());
    let (ok, out, err) = import(&las, &dir.path().join("or"), &["--crs", "EPSG:2994"]);
    assert!(!ok, "{out}");
    let head = format!(
        "error: {}: header: the file has no CRS (no WKT or GeoTIFF-keys VLR); {GIVE}. Its coordinates span x ",
        las.display()
    );
    assert!(err.starts_with(&head), "{err}");
    assert!(
        err.contains(
            "Its coordinates span x 636001.76 .. 637179.22, y 848935.2 .. 849497.9; CRSs whose area \
             of use contains them (a guess from the numbers alone, check it): EPSG:2992 (NAD83 / Oregon \
             GIC Lambert (ft); on other datums: EPSG:2994, EPSG:3644, EPSG:6557, EPSG:6868; area of \
             use: United States (USA) - Oregon); EPSG:6841 (NAD83(CORS96) / Oregon Coast zone (ft)"
        ),
        "{err}"
    );
    // Importing it with the flag the message names works.
    let (ok, out, err) = import(
        &las,
        &dir.path().join("or"),
        &["--crs", "EPSG:2994", "--source-crs", "EPSG:2994"],
    );
    assert!(ok, "{out}{err}");

    // A Dutch CityJSON without metadata.referenceSystem, for a Dutch twin: RD New first.
    let mut doc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(shared("cityjson/3dbag_v20240420_3buildings.city.json")).unwrap(),
    )
    .unwrap();
    doc["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("referenceSystem")
        .expect("the 3D BAG file names its CRS");
    let cj = dir.path().join("delft_lod2.json");
    std::fs::write(&cj, doc.to_string()).unwrap();
    let (ok, out, err) = import(&cj, &dir.path().join("nl"), &["--crs", "EPSG:28992"]);
    assert!(!ok, "{out}");
    assert!(
        err.starts_with(&format!(
            "error: {}: metadata.referenceSystem: the file has no metadata.referenceSystem; {GIVE}. Its coordinates span x 84593.25 .. 85566.848, y 446459.603 .. 446832.491; ",
            cj.display()
        )),
        "{err}"
    );
    assert!(
        err.contains("(a guess from the numbers alone, check it): EPSG:28992 (Amersfoort / RD New; area of use: Netherlands - onshore"),
        "{err}"
    );
    assert!(!err.contains("source_crs"), "{err}");
}

/// Defect 3: PROJ's "Unknown error (code 4096)" reached the user for an unknown CRS.
#[test]
fn an_unknown_crs_is_a_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let cj = copy_as(
        dir.path(),
        "cityjson/3dbag_v20240420_3buildings.city.json",
        "b.city.json",
    );
    let (ok, _, err) = import(&cj, &dir.path().join("t"), &["--source-crs", "EPSG:999999"]);
    assert!(!ok);
    assert_eq!(
        err,
        "error: CRS error (EPSG:999999): unknown CRS: PROJ knows no CRS by this name (neither an \
         authority code in its database such as EPSG:32648, nor valid WKT or a PROJ string)\n"
    );
}

/// Defect 7: the missing file's reason twice, and "unknown layer" without the layers.
#[test]
fn cli_errors_say_each_thing_once_and_list_the_layers() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("t");
    let geo = shared("hue/geojson/hue_heritage.geojson");
    let (ok, out, err) = import(&geo, &t, &["--layer", "roofs"]);
    assert!(!ok, "{out}");
    assert_eq!(
        err,
        "error: unknown layer \"roofs\" (layers: buildings, heritage, sensors, roads, water, landuse)\n"
    );
    let (ok, out, err) = import(&geo, &t, &["--layer", "heritage"]);
    assert!(ok, "{out}{err}");
    let o = twin(&[
        "query",
        t.to_str().unwrap(),
        "--layer",
        "roofs",
        "--bbox",
        "107,16,108,17",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "error: unknown layer \"roofs\" (layers: buildings, heritage, sensors, roads, water, landuse)\n"
    );
    // A missing scenario file: its reason once.
    for cmd in ["flood", "traffic"] {
        let o = twin(&[cmd, t.to_str().unwrap(), "missing.toml"]);
        assert_eq!(
            String::from_utf8_lossy(&o.stderr),
            "error: missing.toml: No such file or directory (os error 2)\n",
            "{cmd}"
        );
    }
}

/// Defect 7: a road name typed without its diacritics found nothing and suggested nothing. Now
/// "cau truong tien" is the bridge "Cầu Trường Tiền", and "Truong Tien" suggests it.
#[test]
fn road_names_match_without_diacritics_and_suggest() {
    let dir = tempfile::tempdir().unwrap();
    let example =
        std::fs::read_to_string(repo().join("scenarios/examples/traffic/truong_tien_closed.toml"))
            .unwrap()
            // A light run: a coarse demand grid and a loose gap.
            .replace("cell_size_m = 500.0", "cell_size_m = 2000.0")
            .replace("target_gap = 1e-5", "target_gap = 1e-2");
    let hue = repo().join("data/hue");
    let hue = hue.to_str().unwrap();
    let run = |name: &str| {
        let p = dir.path().join("s.toml");
        std::fs::write(&p, example.replace("Cầu Trường Tiền", name)).unwrap();
        let o = twin(&["traffic", hue, p.to_str().unwrap()]);
        (
            o.status.success(),
            text(&o),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (ok, exact, _) = run("Cầu Trường Tiền");
    assert!(ok, "{exact}");
    let (ok, folded, _) = run("cau truong TIEN");
    assert!(ok, "{folded}");
    let closed = |t: &str| {
        t.lines()
            .find(|l| l.contains("closed"))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no closed-links line: {t}"))
    };
    assert_eq!(closed(&exact), closed(&folded));
    let (ok, _, err) = run("Truong Tien");
    assert!(!ok);
    // The best suggestion comes first (the others depend on the sample's OSM street names).
    assert!(
        err.contains(
            "s.toml: line 20: no drivable road named \"Truong Tien\"; did you mean \"Cầu Trường Tiền\""
        ) && err.ends_with("?\n"),
        "{err}"
    );
}
