//! DEM importer (ESRI ASCII grid, GeoTIFF) against the shared samples (shared/data/dem/SOURCE.txt).
//!
//! The second route is GDAL: `gdalinfo -json -stats -hist` gives the size, the geotransform,
//! the minimum/maximum (full precision in the STATISTICS_* metadata) and a histogram whose
//! buckets add up to the number of valid cells. gdalinfo comes from Debian's gdal-bin, which
//! `scripts/setup.sh --test` installs; the tests fail (not skip) without it. GDAL_PAM_ENABLED=NO
//! keeps gdalinfo from writing .aux.xml files next to the shared data.

use std::path::{Path, PathBuf};
use std::process::Command;
use twin_core::crs::{Crs, Transform};
use twin_core::import::{dem, ImportOptions};
use twin_core::model::Dem;
use twin_core::model::Imported;
use twin_core::NoProgress;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/dem")
        .join(name)
}

fn opts(project: u32, source: Option<u32>) -> ImportOptions {
    let mut o = ImportOptions::new(Crs::epsg(project).unwrap());
    o.source_crs = source.map(|c| Crs::epsg(c).unwrap());
    o
}

fn import(path: &Path, opts: &ImportOptions) -> (Imported, Dem) {
    let imp = dem::import(path, opts, &NoProgress).unwrap_or_else(|e| panic!("{e}"));
    println!("{}: {:?}", path.display(), imp.notes);
    assert_eq!(imp.dems.len(), 1);
    let d = imp.dems[0].clone();
    (imp, d)
}

/// What gdalinfo says about band 1.
struct Gdal {
    size: (usize, usize),
    geotransform: [f64; 6],
    min: f64,
    max: f64,
    valid: u64,
    nodata: Option<f64>,
}

fn gdalinfo(path: &Path) -> Gdal {
    let out = Command::new("gdalinfo")
        .args(["-json", "-stats", "-hist"])
        .arg(path)
        .env("GDAL_PAM_ENABLED", "NO")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "\n\n*** gdalinfo is needed by these tests and could not be run ({e}).\n\
                 *** Install it with `scripts/setup.sh --test` (Debian package gdal-bin).\n\n"
            )
        });
    assert!(
        out.status.success(),
        "gdalinfo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let band = &j["bands"][0];
    let stat = |k: &str| -> f64 { band["metadata"][""][k].as_str().unwrap().parse().unwrap() };
    let gt: Vec<f64> = j["geoTransform"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    Gdal {
        size: (
            j["size"][0].as_u64().unwrap() as usize,
            j["size"][1].as_u64().unwrap() as usize,
        ),
        geotransform: gt.try_into().unwrap(),
        min: stat("STATISTICS_MINIMUM"),
        max: stat("STATISTICS_MAXIMUM"),
        valid: band["histogram"]["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_u64().unwrap())
            .sum(),
        nodata: band["noDataValue"].as_f64(),
    }
}

/// Size, valid cells and min/max exactly; the extent to 1e-9 of the value (GDAL prints its
/// geotransform in decimal, which need not round-trip the last bit of a double).
fn assert_matches_gdal(d: &Dem, g: &Gdal) {
    assert_eq!((d.ncols, d.nrows), g.size);
    assert_eq!(d.valid_cells() as u64, g.valid);
    let (lo, hi) = d.min_max().unwrap();
    // GDAL prints 14 significant digits; rounded to f32 they are the f32 the band holds.
    assert_eq!(lo, g.min as f32);
    assert_eq!(hi, g.max as f32);
    let gt = g.geotransform;
    assert_eq!((gt[2], gt[4]), (0.0, 0.0));
    for (ours, gdal) in [
        (d.xmin, gt[0]),
        (d.cell_x, gt[1]),
        (d.ymax, gt[3]),
        (d.cell_y, -gt[5]),
    ] {
        assert!(
            (ours - gdal).abs() <= 1e-9 * gdal.abs().max(1.0),
            "{ours} vs GDAL {gdal}"
        );
    }
}

#[test]
fn srtm_asc_matches_gdal_without_warp() {
    let path = data("srtmgl3_boulder_creek_co.asc");
    let g = gdalinfo(&path);
    assert_eq!(g.nodata, Some(0.0));
    let (imp, d) = import(&path, &opts(4326, None));
    assert_eq!(d.name, "srtmgl3_boulder_creek_co");
    assert_matches_gdal(&d, &g);
    assert_eq!((d.ncols, d.nrows, d.valid_cells()), (240, 144, 240 * 144));
    // The .prj is ESRI WKT for WGS 84: PROJ's transformation to EPSG:4326 is the identity.
    assert!(
        imp.notes.iter().any(|n| n.contains("not warped")),
        "{:?}",
        imp.notes
    );
    assert!(
        imp.notes.iter().any(|n| n.contains(".prj")),
        "{:?}",
        imp.notes
    );
    assert!(imp.source_crs.unwrap().is_geographic());
}

#[test]
fn srtm_tif_matches_gdal_and_the_asc() {
    let tif = data("srtmgl3_boulder_creek_co.tif");
    let g = gdalinfo(&tif);
    let (imp, d) = import(&tif, &opts(4326, None));
    assert_matches_gdal(&d, &g);
    assert_eq!(imp.source_crs.unwrap().epsg_code(), Some(4326));
    assert!(
        imp.notes.iter().any(|n| n.contains("not warped")),
        "{:?}",
        imp.notes
    );

    let (_, asc) = import(&data("srtmgl3_boulder_creek_co.asc"), &opts(4326, None));
    assert_eq!((d.ncols, d.nrows), (asc.ncols, asc.nrows));
    assert!(d.values == asc.values, ".tif and .asc values differ");
    for (a, b) in d.extent().into_iter().zip(asc.extent()) {
        assert!(
            (a - b).abs() < 1e-9,
            "extent {:?} vs {:?}",
            d.extent(),
            asc.extent()
        );
    }
}

#[test]
fn west_bijou_matches_gdal_with_given_crs() {
    let path = data("west_bijou_gully.asc");
    let g = gdalinfo(&path);
    let (imp, d) = import(&path, &opts(26913, Some(26913)));
    assert_matches_gdal(&d, &g);
    assert_eq!((d.ncols, d.nrows, d.cell_x), (43, 89, 3.0));
    assert_eq!(d.valid_cells(), 1088);
    assert!(
        imp.notes.iter().any(|n| n.contains("not warped")),
        "{:?}",
        imp.notes
    );

    // Without a .prj or source_crs: an error that says so.
    let e = dem::import(&path, &opts(26913, None), &NoProgress)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("west_bijou_gully.asc") && e.contains("no CRS") && e.contains("--source-crs"),
        "{e}"
    );
}

/// The range of the source values within `r` cells of a point (lon, lat).
fn local_range(src: &Dem, x: f64, y: f64, r: isize) -> f64 {
    let c = ((x - src.xmin) / src.cell_x).floor() as isize;
    let row = ((src.ymax - y) / src.cell_y).floor() as isize;
    let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
    for dr in -r..=r {
        for dc in -r..=r {
            if let Some(v) = src.get((c + dc) as usize, (row + dr) as usize) {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
    }
    f64::from(hi - lo)
}

#[test]
fn srtm_warped_to_utm13() {
    let path = data("srtmgl3_boulder_creek_co.tif");
    let (_, src) = import(&path, &opts(4326, None));
    let (imp, w) = import(&path, &opts(32613, None));
    assert!(
        imp.notes
            .iter()
            .any(|n| n.contains("warped") && !n.contains("not warped")),
        "{:?}",
        imp.notes
    );

    // The warped extent contains the source corners transformed to UTM 13N.
    let t = Transform::between("EPSG:4326", "EPSG:32613").unwrap();
    let [x0, y0, x1, y1] = src.extent();
    let [wx0, wy0, wx1, wy1] = w.extent();
    for (x, y) in [(x0, y0), (x1, y0), (x1, y1), (x0, y1)] {
        let (u, v) = t.apply(x, y).unwrap();
        assert!(
            u >= wx0 && u <= wx1 && v >= wy0 && v <= wy1,
            "corner ({u}, {v}) outside {:?}",
            w.extent()
        );
    }
    // ... and not by much more than a cell on each side (the outline bulges a little, and the
    // corners are snapped outwards to whole cells).
    let (ll, ur) = (t.apply(x0, y0).unwrap(), t.apply(x1, y1).unwrap());
    assert!(
        wx1 - wx0 < (ur.0 - ll.0) + 4.0 * w.cell_x && wy1 - wy0 < (ur.1 - ll.1) + 4.0 * w.cell_y
    );

    // Cell size: 3 arc-seconds at 40.15° N on the GRS80/WGS84 ellipsoid, times the UTM scale
    // factor (0.9996 on the central meridian; this grid is 0.45° east of it, where k ≈ 0.99963).
    // Meridian radius M and normal radius N at φ: M = a(1−e²)/(1−e² sin²φ)^1.5, N = a/(1−e² sin²φ)^0.5.
    let (a, e2, phi) = (
        6_378_137.0_f64,
        0.006_694_379_990_14_f64,
        40.150_416_666_f64.to_radians(),
    );
    let s = 1.0 - e2 * phi.sin().powi(2);
    let m = a * (1.0 - e2) / s.powf(1.5);
    let n = a / s.sqrt();
    let step = src.cell_x.to_radians();
    let (want_x, want_y) = (n * phi.cos() * step * 0.99963, m * step * 0.99963);
    assert!(
        (w.cell_x / want_x - 1.0).abs() < 0.002,
        "cell x {} vs {want_x}",
        w.cell_x
    );
    assert!(
        (w.cell_y / want_y - 1.0).abs() < 0.002,
        "cell y {} vs {want_y}",
        w.cell_y
    );

    // Heights at interior points. The warped value at p is a bilinear mix of four warped cell
    // centres within one cell of p, each a bilinear mix of source cells within one source cell
    // of itself: every value used lies within 3 source cells of p (the UTM grid is turned by
    // under 0.3° here). So |warped(p) − source(p)| is at most the range of the source values
    // within 3 cells of p: a bound from the data, not a guess.
    let (mut sum_diff, mut sum_shifted, mut sum_range, mut n_pts) = (0.0, 0.0, 0.0, 0);
    for i in 1..20 {
        for j in 1..12 {
            let lon = x0 + (x1 - x0) * (i as f64 / 20.0);
            let lat = y0 + (y1 - y0) * (j as f64 / 12.0);
            let want = src.sample(lon, lat).unwrap();
            let (u, v) = t.apply(lon, lat).unwrap();
            let got = w
                .sample(u, v)
                .unwrap_or_else(|| panic!("no warped value at ({u}, {v})"));
            let range = local_range(&src, lon, lat, 3);
            assert!(
                (got - want).abs() <= range + 1e-3,
                "at ({lon}, {lat}): warped {got}, source {want}, local range {range}"
            );
            sum_diff += (got - want).abs();
            // The same comparison against the source half a cell east: what a registration
            // error of half a cell would give.
            sum_shifted += (got - src.sample(lon + src.cell_x / 2.0, lat).unwrap()).abs();
            sum_range += range;
            n_pts += 1;
        }
    }
    assert_eq!(n_pts, 19 * 11);
    println!(
        "warped {} x {} cells of {:.3} x {:.3} m; mean |warped - source| {:.2} m (half a cell off: {:.2} m), mean local range {:.1} m",
        w.ncols,
        w.nrows,
        w.cell_x,
        w.cell_y,
        sum_diff / 209.0,
        sum_shifted / 209.0,
        sum_range / 209.0
    );
    // Registration: were the warped grid off by half a cell, its mean difference would be
    // about that of the half-cell-shifted source; allow a quarter of it (about 1/8 of a cell).
    assert!(
        sum_diff < 0.25 * sum_shifted,
        "mean |diff| {} vs half-cell-shifted {}",
        sum_diff / 209.0,
        sum_shifted / 209.0
    );

    // The warp is a reusable function: the same result from the source grid directly.
    let again = dem::warp(
        &src,
        &Crs::epsg(4326).unwrap(),
        &Crs::epsg(32613).unwrap(),
        &NoProgress,
    )
    .unwrap();
    assert!(again == w);
}

fn expect_err(dir: &tempfile::TempDir, name: &str, text: &str, opts: &ImportOptions) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    let e = dem::import(&p, opts, &NoProgress)
        .err()
        .unwrap_or_else(|| panic!("{name} imported without error"))
        .to_string();
    println!("{e}");
    assert!(
        e.contains(&p.display().to_string()),
        "error does not name the file: {e}"
    );
    e
}

#[test]
fn malformed_asc_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(26913, Some(26913));
    let good = std::fs::read_to_string(data("west_bijou_gully.asc")).unwrap();
    let lines: Vec<&str> = good.lines().collect();
    assert!(lines[5].to_ascii_lowercase().starts_with("nodata_value"));
    let with = |i: usize, line: &str| {
        let mut l = lines.clone();
        l[i] = line;
        l.join("\n")
    };

    // A short row: line 20 (row 14) loses its last value.
    let short = lines[19].trim_end().rsplit_once(' ').unwrap().0.to_string();
    let e = expect_err(&dir, "short.asc", &with(19, &short), &o);
    assert!(
        e.contains("line 20") && e.contains("short row") && e.contains("42 values"),
        "{e}"
    );

    // A value that is not a number.
    let bad = lines[30].replacen("0", "x7", 1);
    let e = expect_err(&dir, "nan_value.asc", &with(30, &bad), &o);
    assert!(
        e.contains("line 31") && e.contains("`x7`") && e.contains("not a number"),
        "{e}"
    );

    // Missing rows: the last ten lines cut off.
    let cut = lines[..lines.len() - 10].join("\n");
    let e = expect_err(&dir, "cut.asc", &cut, &o);
    assert!(e.contains("ends after 79 of 89 rows"), "{e}");

    // Bad header: ncols not a number, an unknown key, NaN cell size, no cell size at all.
    let e = expect_err(&dir, "ncols.asc", &with(0, "ncols forty-three"), &o);
    assert!(e.contains("line 1") && e.contains("ncols"), "{e}");
    let e = expect_err(&dir, "key.asc", &with(2, "xllcrner 559705"), &o);
    assert!(
        e.contains("line 3") && e.contains("unknown header key"),
        "{e}"
    );
    let e = expect_err(&dir, "nan_cell.asc", &with(4, "cellsize NaN"), &o);
    assert!(
        e.contains("line 5") && e.contains("cellsize") && e.contains("positive finite"),
        "{e}"
    );
    let e = expect_err(&dir, "no_cell.asc", &with(4, ""), &o);
    assert!(e.contains("cellsize"), "{e}");

    // A huge grid is refused from the header, before anything is allocated.
    let huge = "ncols 100000\nnrows 100000\nxllcorner 0\nyllcorner 0\ncellsize 1\n1 2 3\n";
    let e = expect_err(&dir, "huge.asc", huge, &o);
    assert!(e.contains("100000 x 100000") && e.contains("limit"), "{e}");
    assert_eq!(dem::MAX_CELLS, 400_000_000);
}

/// Sample types, tiles, compressions, predictors, PixelIsPoint and a nodata value, written by
/// GDAL from the SRTM GeoTIFF: each read as GDAL reads it.
#[test]
fn geotiff_variants_match_gdal() {
    let dir = tempfile::tempdir().unwrap();
    let src = data("srtmgl3_boulder_creek_co.tif");
    let (_, reference) = import(&src, &opts(4326, None));
    let variants: &[(&str, &[&str])] = &[
        (
            "int16_tiled.tif",
            &[
                "-ot",
                "Int16",
                "-co",
                "TILED=YES",
                "-co",
                "BLOCKXSIZE=64",
                "-co",
                "BLOCKYSIZE=32",
                "-co",
                "COMPRESS=DEFLATE",
            ],
        ),
        (
            "uint16_lzw.tif",
            &["-ot", "UInt16", "-co", "COMPRESS=LZW", "-co", "PREDICTOR=2"],
        ),
        (
            "float32_fp.tif",
            &[
                "-ot",
                "Float32",
                "-co",
                "COMPRESS=DEFLATE",
                "-co",
                "PREDICTOR=3",
                "-co",
                "TILED=YES",
            ],
        ),
        ("float64.tif", &["-ot", "Float64"]),
        ("int32_strips.tif", &["-co", "BLOCKYSIZE=7"]),
        ("point.tif", &["-mo", "AREA_OR_POINT=Point"]),
        ("nodata.tif", &["-a_nodata", "2600"]),
    ];
    for (name, args) in variants {
        let out = dir.path().join(name);
        let status = Command::new("gdal_translate")
            .args(["-q"])
            .args(*args)
            .arg(&src)
            .arg(&out)
            .env("GDAL_PAM_ENABLED", "NO")
            .status()
            .expect("gdal_translate (Debian gdal-bin, scripts/setup.sh --test) is needed");
        assert!(status.success(), "gdal_translate {args:?} failed");
        let g = gdalinfo(&out);
        let (imp, d) = import(&out, &opts(4326, None));
        assert_matches_gdal(&d, &g);
        if *name == "nodata.tif" {
            assert_eq!(g.nodata, Some(2600.0));
            let cut: Vec<Option<f32>> = reference
                .values
                .iter()
                .map(|v| v.filter(|&z| z != 2600.0))
                .collect();
            assert!(cut.len() > d.valid_cells() && d.values == cut, "{name}");
        } else {
            assert!(
                d.values == reference.values,
                "{name}: values differ from the source"
            );
        }
        if *name == "point.tif" {
            assert!(
                imp.notes.iter().any(|n| n.contains("PixelIsPoint")),
                "{:?}",
                imp.notes
            );
        }
    }
}

/// A GeoTIFF georeferenced by ModelTransformationTag (written here with the `tiff` encoder),
/// checked against gdalinfo; then the same file rotated, and with a user-defined CRS.
#[test]
fn geotiff_model_transformation_and_bad_georeferencing() {
    use tiff::encoder::{colortype::Gray32Float, TiffEncoder};
    use tiff::tags::Tag;
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, matrix: [f64; 16], epsg: u16| -> PathBuf {
        let p = dir.path().join(name);
        let mut enc = TiffEncoder::new(std::fs::File::create(&p).unwrap()).unwrap();
        let mut img = enc.new_image::<Gray32Float>(5, 4).unwrap();
        img.encoder()
            .write_tag(Tag::ModelTransformationTag, &matrix[..])
            .unwrap();
        let keys: [u16; 16] = [1, 1, 0, 3, 1024, 0, 1, 1, 1025, 0, 1, 1, 3072, 0, 1, epsg];
        img.encoder()
            .write_tag(Tag::GeoKeyDirectoryTag, &keys[..])
            .unwrap();
        img.encoder().write_tag(Tag::GdalNodata, "-9999").unwrap();
        let mut v: Vec<f32> = (0..20).map(|i| 3.0 + 0.25 * i as f32).collect();
        v[7] = -9999.0;
        img.write_data(&v).unwrap();
        p
    };
    let m = [
        10.0,
        0.0,
        0.0,
        770_000.0,
        0.0,
        -5.0,
        0.0,
        1_823_000.0,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        1.0,
    ];
    let p = write("matrix.tif", m, 32648);
    let g = gdalinfo(&p);
    let (imp, d) = import(&p, &opts(32648, None));
    assert_matches_gdal(&d, &g);
    assert_eq!(
        (d.xmin, d.ymax, d.cell_x, d.cell_y),
        (770_000.0, 1_823_000.0, 10.0, 5.0)
    );
    assert_eq!(
        (d.valid_cells(), d.get(2, 1), d.get(1, 1)),
        (19, None, Some(4.5))
    );
    assert_eq!(imp.source_crs.unwrap().epsg_code(), Some(32648));

    let mut rotated = m;
    rotated[1] = 0.5;
    let p = write("rotated.tif", rotated, 32648);
    let e = dem::import(&p, &opts(32648, None), &NoProgress)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("rotated.tif") && e.contains("ModelTransformationTag") && e.contains("rotated"),
        "{e}"
    );

    let p = write("user.tif", m, 32767);
    let e = dem::import(&p, &opts(32648, None), &NoProgress)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("user.tif") && e.contains("user-defined") && e.contains("--source-crs"),
        "{e}"
    );
    // ... which source_crs settles.
    let (_, d2) = import(&p, &opts(32648, Some(32648)));
    assert!(d2.values == d.values && d2.extent() == d.extent());
}

/// Issue 14: an `.asc` whose corner is absurd for its CRS (`xllcorner -99999999999` on the
/// SRTM grid in EPSG:4326, or on the 3 m grid in UTM 13N) was imported (PROJ wraps the
/// longitude); now it is an error naming the file and the header line.
#[test]
fn absurd_asc_corners_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (src, crs, project) in [
        ("srtmgl3_boulder_creek_co.asc", None, 4326),
        ("srtmgl3_boulder_creek_co.asc", None, 32613),
        ("west_bijou_gully.asc", Some(26913), 26913),
        ("west_bijou_gully.asc", Some(26913), 32613),
    ] {
        let good = std::fs::read_to_string(data(src)).unwrap();
        let lines: Vec<&str> = good.lines().collect();
        for (i, key, value) in [(2, "xllcorner", "-99999999999"), (3, "yllcorner", "1e300")] {
            assert!(lines[i].to_ascii_lowercase().starts_with(key));
            let mut l = lines.clone();
            let line = format!("{key} {value}");
            l[i] = &line;
            let name = format!("absurd_{key}_{project}_{src}");
            if crs.is_none() {
                std::fs::copy(
                    data("srtmgl3_boulder_creek_co.prj"),
                    dir.path().join(name.replace(".asc", ".prj")),
                )
                .unwrap();
            }
            let e = expect_err(&dir, &name, &l.join("\n"), &opts(project, crs));
            assert!(e.contains(key) || e.contains("extent"), "{e}");
        }
    }
}
