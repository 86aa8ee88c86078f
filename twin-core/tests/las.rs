//! LAS / LAZ / COPC importer against the shared LiDAR samples (see shared/data/lidar/SOURCE.txt).
//!
//! The second route is the file bytes: the LAS header has fixed offsets, so the tests read the
//! point counts, scale/offset and bounds, and (for uncompressed files) every record's
//! classification, with plain byte parsing. Reprojection of the header bounds is done here with
//! `twin_core::crs::Transform` from EPSG codes, not with the CRS the importer found.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use twin_core::crs::{Crs, Transform};
use twin_core::import::{las, ImportOptions};
use twin_core::model::Imported;
use twin_core::model::PointCloud;
use twin_core::Progress;

const FOOT: f64 = 0.3048;
const US_FOOT: f64 = 1200.0 / 3937.0;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/lidar")
        .join(name)
}

fn utm10() -> ImportOptions {
    ImportOptions::new(Crs::epsg(32610).unwrap())
}

/// Counts what the importer reports, to check it reports every point.
#[derive(Default)]
struct Count {
    total: AtomicU64,
    done: AtomicU64,
}
impl Progress for Count {
    fn start(&self, _: &str, total: u64) {
        self.total.store(total, Ordering::Relaxed);
    }
    fn inc(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }
}

fn import(path: &Path, opts: &ImportOptions) -> (Imported, PointCloud) {
    let progress = Count::default();
    let imp = las::import(path, opts, &progress).unwrap_or_else(|e| panic!("{e}"));
    println!("{}: {:?}", path.display(), imp.notes);
    assert_eq!(imp.pointclouds.len(), 1);
    let pc = imp.pointclouds[0].clone();
    assert_eq!(
        progress.total.load(Ordering::Relaxed),
        pc.points.len() as u64
    );
    assert_eq!(
        progress.done.load(Ordering::Relaxed),
        pc.points.len() as u64
    );
    (imp, pc)
}

/// LAS public header fields at their fixed offsets (LAS 1.0–1.4 specification, table 3/4).
#[derive(Debug)]
struct RawHeader {
    minor: u8,
    header_size: u16,
    offset_to_points: u32,
    vlrs: u32,
    format: u8,
    record_len: u16,
    legacy_count: u32,
    count: u64,
    scale: [f64; 3],
    min: [f64; 3],
    max: [f64; 3],
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes(b[i..i + 2].try_into().unwrap())
}
fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(b[i..i + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(b[i..i + 8].try_into().unwrap())
}
fn f64_at(b: &[u8], i: usize) -> f64 {
    f64::from_le_bytes(b[i..i + 8].try_into().unwrap())
}

fn raw_header(b: &[u8]) -> RawHeader {
    assert_eq!(&b[0..4], b"LASF");
    let minor = b[25];
    let legacy_count = u32_at(b, 107);
    let count = if minor >= 4 {
        u64_at(b, 247)
    } else {
        u64::from(legacy_count)
    };
    RawHeader {
        minor,
        header_size: u16_at(b, 94),
        offset_to_points: u32_at(b, 96),
        vlrs: u32_at(b, 100),
        format: b[104] & 0x3f,
        record_len: u16_at(b, 105),
        legacy_count,
        count,
        scale: [f64_at(b, 131), f64_at(b, 139), f64_at(b, 147)],
        max: [f64_at(b, 179), f64_at(b, 195), f64_at(b, 211)],
        min: [f64_at(b, 187), f64_at(b, 203), f64_at(b, 219)],
    }
}

/// Byte offsets of each VLR header (54 bytes: reserved, user id [16], record id, length, description).
fn vlrs(b: &[u8], h: &RawHeader) -> Vec<(usize, String, u16)> {
    let mut at = h.header_size as usize;
    let mut out = Vec::new();
    for _ in 0..h.vlrs {
        let user = String::from_utf8_lossy(&b[at + 2..at + 18])
            .trim_end_matches('\0')
            .to_string();
        let record = u16_at(b, at + 18);
        let len = u16_at(b, at + 20) as usize;
        out.push((at, user, record));
        at += 54 + len;
    }
    out
}

/// Independent class count of an uncompressed file: the classification is the low 5 bits of
/// byte 15 of each record (formats 0–5) or byte 16 (formats 6–10).
fn class_counts_from_bytes(b: &[u8]) -> BTreeMap<u8, usize> {
    let h = raw_header(b);
    assert!(h.format <= 10);
    let mut counts = BTreeMap::new();
    for i in 0..h.count as usize {
        let rec = h.offset_to_points as usize + i * h.record_len as usize;
        let class = if h.format >= 6 {
            b[rec + 16]
        } else {
            b[rec + 15] & 0x1f
        };
        *counts.entry(class).or_insert(0) += 1;
    }
    counts
}

fn class_counts(pc: &PointCloud) -> BTreeMap<u8, usize> {
    let mut counts = BTreeMap::new();
    for p in &pc.points {
        *counts.entry(p.classification).or_insert(0) += 1;
    }
    counts
}

/// The header's x/y box, its four corners transformed, and the bounding box of those.
fn corner_box(h: &RawHeader, t: &Transform) -> ([(f64, f64); 4], [f64; 4]) {
    let corners = [
        (h.min[0], h.min[1]),
        (h.max[0], h.min[1]),
        (h.max[0], h.max[1]),
        (h.min[0], h.max[1]),
    ]
    .map(|(x, y)| t.apply(x, y).unwrap());
    let mut b = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for (x, y) in corners {
        b = [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)];
    }
    (corners, b)
}

/// Checks the imported bounds against the header bounds transformed by `t`, with `z_unit` the
/// factor from the file's z unit to metres.
///
/// Containment: every point must lie inside the box of the four transformed header corners,
/// within 1 cm. The header box's edges become curves after the transformation, but over a
/// few km of Lambert→UTM their deviation from the chords is far below 1 mm; 1 cm also covers
/// the 0.01-unit coordinate quantum.
///
/// Match: the source CRS's grid is turned against UTM by θ (measured here from the transformed
/// bottom edge). The header box has a point on each of its four sides; after the rotation the
/// lowest point of the box is a corner, and a point on the bottom side lies at most w·sinθ
/// above it (w: the side's length in metres). So each imported y bound is within w·sinθ of the
/// transformed corners' box, each x bound within h·sinθ, plus the 1 cm above. (For Autzen,
/// θ ≈ 1.7° and w ≈ 359 m: up to about 11 m.)
fn check_bounds(pc: &PointCloud, h: &RawHeader, t: &Transform, z_unit: f64) {
    let (corners, b) = corner_box(h, t);
    let (lo, hi) = pc.bounds().unwrap();
    let eps = 0.01;
    for p in &pc.points {
        assert!(
            p.x >= b[0] - eps && p.x <= b[2] + eps && p.y >= b[1] - eps && p.y <= b[3] + eps,
            "point ({}, {}) outside the reprojected header box {b:?}",
            p.x,
            p.y
        );
    }
    let theta = (corners[1].1 - corners[0].1)
        .atan2(corners[1].0 - corners[0].0)
        .abs();
    let dist = |a: (f64, f64), b: (f64, f64)| (a.0 - b.0).hypot(a.1 - b.1);
    let (w, hh) = (dist(corners[0], corners[1]), dist(corners[1], corners[2]));
    let tol_x = hh * theta.sin() + eps;
    let tol_y = w * theta.sin() + eps;
    for (got, want, tol) in [
        (lo[0], b[0], tol_x),
        (hi[0], b[2], tol_x),
        (lo[1], b[1], tol_y),
        (hi[1], b[3], tol_y),
    ] {
        assert!(
            (got - want).abs() <= tol,
            "bound {got} vs reprojected header {want}: more than {tol} m apart"
        );
    }
    // z is only scaled: the header's z bounds × the unit, to half a quantum.
    let zq = h.scale[2] * z_unit / 2.0;
    assert!(
        (lo[2] - h.min[2] * z_unit).abs() <= zq,
        "z min {} vs header {}",
        lo[2],
        h.min[2] * z_unit
    );
    assert!(
        (hi[2] - h.max[2] * z_unit).abs() <= zq,
        "z max {} vs header {}",
        hi[2],
        h.max[2] * z_unit
    );
}

#[test]
fn autzen_las_counts_classes_crs_and_bounds() {
    let path = data("autzen_trim.las");
    let bytes = std::fs::read(&path).unwrap();
    let h = raw_header(&bytes);
    assert_eq!((h.minor, h.format, h.count), (2, 3, 110_000));
    let (imp, pc) = import(&path, &utm10());

    assert_eq!(pc.name, "autzen_trim");
    assert_eq!(pc.points.len() as u64, h.count);
    // Classes: the importer against an independent count of the bytes; SOURCE.txt (laspy) agrees.
    let from_bytes = class_counts_from_bytes(&bytes);
    assert_eq!(class_counts(&pc), from_bytes);
    assert_eq!(from_bytes, BTreeMap::from([(1, 83_893), (2, 26_107)]));
    // Format 3 carries colour.
    assert!(pc.points.iter().all(|p| p.rgb.is_some()));

    // CRS: the WKT VLR (the GeoTIFF keys of this file are user-defined), NAD83(HARN) Lambert in feet.
    let crs = imp.source_crs.clone().unwrap();
    assert_eq!(crs.name(), "NAD_1983_HARN_Lambert_Conformal_Conic");
    assert_eq!(pc.source_crs, crs.short());
    assert!(
        imp.notes.iter().any(|n| n.contains("WKT")),
        "{:?}",
        imp.notes
    );
    assert!(
        imp.notes
            .iter()
            .any(|n| n.contains("foot") && n.contains("0.3048")),
        "{:?}",
        imp.notes
    );
    // That WKT is EPSG:2994, NAD83(HARN) / Oregon GIC Lambert (ft): both give the same UTM position.
    let by_wkt = Transform::new(&crs, &Crs::epsg(32610).unwrap()).unwrap();
    let by_epsg = Transform::between("EPSG:2994", "EPSG:32610").unwrap();
    for (x, y) in [(h.min[0], h.min[1]), (h.max[0], h.max[1])] {
        let (a, b) = (by_wkt.apply(x, y).unwrap(), by_epsg.apply(x, y).unwrap());
        assert!(
            (a.0 - b.0).abs() < 1e-3 && (a.1 - b.1).abs() < 1e-3,
            "{a:?} vs {b:?}"
        );
    }

    check_bounds(&pc, &h, &by_epsg, FOOT);
}

#[test]
fn las_and_laz_give_identical_points() {
    let (_, las_pc) = import(&data("autzen_trim.las"), &utm10());
    let laz = data("autzen_trim.laz");
    let h = raw_header(&std::fs::read(&laz).unwrap());
    let (imp, laz_pc) = import(&laz, &utm10());
    assert_eq!(laz_pc.points.len() as u64, h.count);
    assert_eq!(laz_pc.points.len(), las_pc.points.len());
    assert!(las_pc.points == laz_pc.points, "LAS and LAZ points differ");
    assert!(!imp.notes.iter().any(|n| n.contains("COPC")));
}

#[test]
fn copc_reads_every_point_with_its_compound_wkt_crs() {
    let path = data("simple.copc.laz");
    let bytes = std::fs::read(&path).unwrap();
    let h = raw_header(&bytes);
    assert_eq!(
        (h.minor, h.format, h.count, h.legacy_count),
        (4, 7, 1065, 1065)
    );
    let (imp, pc) = import(&path, &utm10());

    assert_eq!(pc.name, "simple");
    assert_eq!(pc.points.len() as u64, h.count);
    assert!(
        imp.notes.iter().any(|n| n.contains("COPC")),
        "{:?}",
        imp.notes
    );
    // Classes 1 and 2 only (SOURCE.txt); format 7 carries colour.
    let classes = class_counts(&pc);
    assert_eq!(classes.keys().copied().collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(classes.values().sum::<usize>(), 1065);
    assert!(pc.points.iter().all(|p| p.rgb.is_some()));

    // CRS: COMPD_CS "NAD83 / Oregon LCC (m) + NAVD88 height (ftUS)" from the WKT VLR: x/y in metres
    // (EPSG:2991), z in US survey feet.
    let crs = imp.source_crs.clone().unwrap();
    assert_eq!(crs.name(), "NAD83 / Oregon LCC (m) + NAVD88 height (ftUS)");
    assert!(
        imp.notes.iter().any(|n| n.contains("US survey foot")),
        "{:?}",
        imp.notes
    );
    let by_epsg = Transform::between("EPSG:2991", "EPSG:32610").unwrap();
    check_bounds(&pc, &h, &by_epsg, US_FOOT);
}

fn expect_err(path: &Path, opts: &ImportOptions) -> String {
    let e = las::import(path, opts, &twin_core::NoProgress)
        .err()
        .unwrap_or_else(|| panic!("{} imported without error", path.display()))
        .to_string();
    println!("{e}");
    assert!(
        e.contains(&path.display().to_string()),
        "error does not name the file: {e}"
    );
    e
}

fn write_temp(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn truncated_and_patched_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let opts = utm10();

    // Uncompressed, truncated 10.5 records before the end: 109,989 whole points remain.
    let las_bytes = std::fs::read(data("autzen_trim.las")).unwrap();
    let h = raw_header(&las_bytes);
    let cut = las_bytes.len() - 10 * h.record_len as usize - 17;
    let whole = (cut - h.offset_to_points as usize) / h.record_len as usize;
    assert_eq!(whole, 109_989);
    let p = write_temp(&dir, "cut.las", &las_bytes[..cut]);
    let e = expect_err(&p, &opts);
    assert!(e.contains("point 109990 of 110000"), "{e}");

    // Uncompressed, header count one larger than the data.
    let mut patched = las_bytes.clone();
    patched[107..111].copy_from_slice(&110_001u32.to_le_bytes());
    let e = expect_err(&write_temp(&dir, "plus1.las", &patched), &opts);
    assert!(e.contains("point 110001 of 110001"), "{e}");

    // LAZ cut in half: the decoder runs out of data somewhere in the middle.
    let laz_bytes = std::fs::read(data("autzen_trim.laz")).unwrap();
    let e = expect_err(
        &write_temp(&dir, "cut.laz", &laz_bytes[..laz_bytes.len() / 2]),
        &opts,
    );
    let at: u64 = e
        .split("point ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no point number in: {e}"));
    assert!(at > 1 && at < 110_000, "{e}");

    // LAZ, header count larger by 1 (inside the last chunk) and by 100,000 (beyond the chunks).
    for (extra, name) in [(1u32, "plus1.laz"), (100_000, "plus100k.laz")] {
        let mut patched = laz_bytes.clone();
        patched[107..111].copy_from_slice(&(110_000 + extra).to_le_bytes());
        let e = expect_err(&write_temp(&dir, name, &patched), &opts);
        assert!(e.contains("point 110001 of"), "{e}");
    }

    // COPC (variable-size chunks): count + 1 in both header fields, the legacy field alone, and
    // the file cut before its chunk table.
    let copc = std::fs::read(data("simple.copc.laz")).unwrap();
    let mut patched = copc.clone();
    patched[107..111].copy_from_slice(&1066u32.to_le_bytes());
    patched[247..255].copy_from_slice(&1066u64.to_le_bytes());
    let e = expect_err(&write_temp(&dir, "plus1.copc.laz", &patched), &opts);
    assert!(
        e.contains("point 1066 of 1066") && e.contains("chunk table holds 1065"),
        "{e}"
    );
    let mut patched = copc.clone();
    patched[107..111].copy_from_slice(&1066u32.to_le_bytes());
    let e = expect_err(&write_temp(&dir, "legacy.copc.laz", &patched), &opts);
    assert!(e.contains("disagree"), "{e}");
    let e = expect_err(
        &write_temp(&dir, "cut.copc.laz", &copc[..copc.len() * 2 / 3]),
        &opts,
    );
    assert!(e.contains("truncated"), "{e}");
}

#[test]
fn geotiff_keys_route_and_missing_crs() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(data("autzen_trim.las")).unwrap();
    let h = raw_header(&bytes);
    let v = vlrs(&bytes, &h);
    // Hide the WKT VLR (record 2112 → 2113): the GeoTIFF keys remain, and they are user-defined.
    let mut keys_only = bytes.clone();
    for (at, user, record) in &v {
        if user == "LASF_Projection" && *record == 2112 {
            keys_only[at + 18..at + 20].copy_from_slice(&2113u16.to_le_bytes());
        }
    }
    let p = write_temp(&dir, "keys_only.las", &keys_only);
    let e = expect_err(&p, &utm10());
    assert!(
        e.contains("user-defined") && e.contains("32767") && e.contains("--source-crs"),
        "{e}"
    );

    // With the CRS given, the import works and the points are where the WKT put them (1 mm).
    let mut opts = utm10();
    opts.source_crs = Some(Crs::epsg(2994).unwrap());
    let (imp, given) = import(&p, &opts);
    assert_eq!(
        imp.source_crs.as_ref().and_then(|c| c.epsg_code()),
        Some(2994)
    );
    let (_, by_wkt) = import(&data("autzen_trim.las"), &utm10());
    for (a, b) in given.points.iter().zip(&by_wkt.points).step_by(997) {
        assert!((a.x - b.x).abs() < 1e-3 && (a.y - b.y).abs() < 1e-3 && (a.z - b.z).abs() < 1e-9);
    }

    // Keys naming an EPSG code: set ProjectedCSTypeGeoKey (3072) to 2994.
    let (at, _, _) = v
        .iter()
        .find(|(_, u, r)| u == "LASF_Projection" && *r == 34735)
        .unwrap();
    let data_at = at + 54;
    let n_keys = u16_at(&keys_only, data_at + 6) as usize;
    let mut epsg_keys = keys_only.clone();
    let mut found = false;
    for k in 0..n_keys {
        let e = data_at + 8 + 8 * k;
        if u16_at(&epsg_keys, e) == 3072 {
            epsg_keys[e + 6..e + 8].copy_from_slice(&2994u16.to_le_bytes());
            found = true;
        }
    }
    assert!(found);
    let (imp, pc) = import(&write_temp(&dir, "epsg_keys.las", &epsg_keys), &utm10());
    assert_eq!(
        imp.source_crs.as_ref().and_then(|c| c.epsg_code()),
        Some(2994)
    );
    assert!(
        imp.notes
            .iter()
            .any(|n| n.contains("3076") && n.contains("foot")),
        "{:?}",
        imp.notes
    );
    check_bounds(
        &pc,
        &h,
        &Transform::between("EPSG:2994", "EPSG:32610").unwrap(),
        FOOT,
    );

    // No CRS VLR at all: a clear error asking for one.
    let mut none = keys_only.clone();
    for (at, user, _) in &v {
        if user == "LASF_Projection" {
            none[at + 2..at + 18].copy_from_slice(b"nothing_here\0\0\0\0");
        }
    }
    let e = expect_err(&write_temp(&dir, "no_crs.las", &none), &utm10());
    assert!(e.contains("no CRS") && e.contains("--source-crs"), "{e}");
}

/// Issue 14: absurd header numbers were accepted: an x offset of 1e308 (every point landed at
/// latitude −90), a z scale of NaN or infinity (every height NaN or infinite). Each is now an
/// error naming the file and the header field.
#[test]
fn absurd_scales_and_offsets_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let opts = utm10();
    let las_bytes = std::fs::read(data("autzen_trim.las")).unwrap();
    let laz_bytes = std::fs::read(data("autzen_trim.laz")).unwrap();
    // Public header: scale x/y/z at 131/139/147, offset x/y/z at 155/163/171.
    for (k, case) in [
        (155, 1e308, "offset"),
        (155, -1e308, "offset"),
        (163, f64::NAN, "offset"),
        (147, f64::NAN, "scale"),
        (147, f64::INFINITY, "scale"),
        (131, 0.0, "scale"),
        (131, 1e300, "scale"),
    ]
    .into_iter()
    .enumerate()
    {
        let (at, value, field) = case;
        for (bytes, ext) in [(&las_bytes, "las"), (&laz_bytes, "laz")] {
            let mut patched = bytes.clone();
            patched[at..at + 8].copy_from_slice(&value.to_le_bytes());
            let name = format!("absurd_{k}_{at}.{ext}");
            let e = expect_err(&write_temp(&dir, &name, &patched), &opts);
            assert!(e.contains(field), "{name}: {e}");
        }
    }
}

/// Found by fuzzing (`fuzz`, target `laz`): sizes that `las`/`laz` allocate before reading
/// were taken from the file unchecked, and the process aborted on a failed allocation (34 GB
/// for a chunk table, 5.8e17 bytes for an extended VLR). Made here from the shared COPC file
/// (the fuzz inputs are copies of it, which the repository must not hold).
#[test]
fn damaged_sizes_are_errors_not_aborts() {
    let dir = tempfile::tempdir().unwrap();
    let opts = utm10();
    let copc = std::fs::read(data("simple.copc.laz")).unwrap();
    let u32_at = |b: &[u8], i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
    let u64_at = |b: &[u8], i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
    let data_start = u32_at(&copc, 96) as usize;
    let table = u64_at(&copc, data_start) as usize;
    let evlr = u64_at(&copc, 235) as usize;

    // The chunk table counts 2^31 chunks.
    let mut p = copc.clone();
    p[table + 4..table + 8].copy_from_slice(&0x8000_0000u32.to_le_bytes());
    let e = expect_err(&write_temp(&dir, "chunks.copc.laz", &p), &opts);
    assert!(e.contains("chunk table") && e.contains("2147483648"), "{e}");

    // The extended VLR's length runs past the end of the file.
    let mut p = copc.clone();
    p[evlr + 20..evlr + 28].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
    let e = expect_err(&write_temp(&dir, "evlr_len.copc.laz", &p), &opts);
    assert!(
        e.contains("extended VLR") && e.contains("past the end"),
        "{e}"
    );

    // The extended VLR starts past the end of the file.
    let mut p = copc.clone();
    p[235..243].copy_from_slice(&(copc.len() as u64 - 10).to_le_bytes());
    let e = expect_err(&write_temp(&dir, "evlr_start.copc.laz", &p), &opts);
    assert!(e.contains("truncated") || e.contains("extended VLR"), "{e}");
}
