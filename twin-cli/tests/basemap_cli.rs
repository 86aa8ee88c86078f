//! `twin basemap export` end to end on a copy of the sample twin (`data/hue`): the tile count
//! against the XYZ formulas, PNG sizes, the MBTiles file against the folder (TMS rows), GDAL
//! reading the MBTiles file, and plain errors for hostile arguments.
//!
//! Needs a GPU adapter (a GPU, or Mesa's software Vulkan from `scripts/setup.sh --test`) and
//! `gdalinfo` (gdal-bin, from the same script).

mod common;

use common::*;
use std::path::Path;

/// Tiles of zooms `z0..=z1` over a WGS84 box, by the XYZ formulas written out here
/// (x = (lon + 180)/360 · 2^z, y = (1 − asinh(tan φ)/π)/2 · 2^z).
fn xyz_count(b: [f64; 4], z0: u8, z1: u8) -> usize {
    (z0..=z1)
        .map(|z| {
            let n = 2f64.powi(i32::from(z));
            let col = |lon: f64| ((lon + 180.0) / 360.0 * n).floor() as usize;
            let row = |lat: f64| {
                ((1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n).floor()
                    as usize
            };
            (col(b[2]) - col(b[0]) + 1) * (row(b[1]) - row(b[3]) + 1)
        })
        .sum()
}

/// Width and height of a PNG.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    let r = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    (r.info().width, r.info().height)
}

/// The files below `dir` ending in `.png`, relative (`z/x/y.png`).
fn pngs(dir: &Path) -> Vec<String> {
    files_ending(dir, ".png")
        .into_iter()
        .map(|p| {
            p.strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect()
}

/// The twin's WGS84 extent, as `twin serve` states it in its TileJSON.
fn extent(t: &Path) -> [f64; 4] {
    let twin = twin_core::TwinDir::open(t).unwrap().load().unwrap();
    twin.extent_wgs84(twin.extent().unwrap()).unwrap()
}

/// `gdalinfo -json` of a file.
fn gdalinfo(path: &Path) -> serde_json::Value {
    let o = std::process::Command::new("gdalinfo")
        .arg("-json")
        .arg(path)
        .output()
        .expect("gdalinfo (gdal-bin, from scripts/setup.sh --test)");
    assert!(o.status.success(), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn exports_a_folder_and_an_mbtiles_file_with_the_same_tiles() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("hue");
    copy_sample_twin(&t);
    let ts = t.to_str().unwrap();
    let b = extent(&t);
    let expected = xyz_count(b, 12, 14);

    // A folder: z/x/y.png, every tile of the extent.
    let folder = dir.path().join("tiles");
    let o = twin(&[
        "basemap",
        "export",
        ts,
        "--out",
        folder.to_str().unwrap(),
        "--zoom",
        "12-14",
    ]);
    let s = text(&o);
    assert!(o.status.success(), "{s}");
    eprintln!("{s}");
    assert!(s.contains(&format!("wrote {expected} tiles")), "{s}");
    let files = pngs(&folder);
    assert_eq!(files.len(), expected, "{files:?}");
    for f in &files {
        let parts: Vec<u32> = f
            .trim_end_matches(".png")
            .split('/')
            .map(|p| p.parse().unwrap())
            .collect();
        assert!((12..=14).contains(&parts[0]), "{f}");
    }
    let first = std::fs::read(folder.join(&files[0])).unwrap();
    assert_eq!(png_size(&first), (256, 256));

    // The same zooms as MBTiles: the second export reads the tiles the first drew, from the
    // server's disk cache under the twin.
    let mb = dir.path().join("out/hue.mbtiles");
    let o = twin(&[
        "basemap",
        "export",
        ts,
        "--out",
        mb.to_str().unwrap(),
        "--zoom",
        "12-14",
    ]);
    let s = text(&o);
    assert!(o.status.success(), "{s}");
    eprintln!("{s}");
    assert!(
        s.contains(&format!("0 drawn, {expected} from the cache")),
        "{s}"
    );
    assert!(t.join("cache/tiles").is_dir());
    let db = rusqlite::Connection::open(&mb).unwrap();
    let n: usize = db
        .query_row("SELECT count(*) FROM tiles", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, expected);
    let meta: std::collections::HashMap<String, String> = db
        .prepare("SELECT name, value FROM metadata")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(meta["format"], "png");
    assert_eq!(meta["minzoom"], "12");
    assert_eq!(meta["maxzoom"], "14");
    assert_eq!(
        meta["attribution"],
        "© OpenStreetMap contributors (ODbL 1.0)"
    );
    assert!(meta["name"].starts_with("Huế sample"), "{meta:?}");
    let bounds: Vec<f64> = meta["bounds"]
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect();
    for k in 0..4 {
        assert!((bounds[k] - b[k]).abs() < 1e-5, "{bounds:?} {b:?}");
    }
    // Every folder tile is in the file byte for byte, its row counted from the south.
    for f in &files {
        let p: Vec<u32> = f
            .trim_end_matches(".png")
            .split('/')
            .map(|p| p.parse().unwrap())
            .collect();
        let (z, x, y) = (p[0], p[1], p[2]);
        let tms = (1u32 << z) - 1 - y;
        let blob: Vec<u8> = db
            .query_row(
                "SELECT tile_data FROM tiles WHERE zoom_level = ?1 AND tile_column = ?2 AND tile_row = ?3",
                [z, x, tms],
                |r| r.get(0),
            )
            .unwrap_or_else(|e| panic!("{f} (row {tms}): {e}"));
        assert!(
            blob == std::fs::read(folder.join(f)).unwrap(),
            "{f} differs"
        );
    }

    // GDAL reads it: the MBTiles driver, Web Mercator pixels of the highest zoom, the bounds.
    let g = gdalinfo(&mb);
    eprintln!("gdalinfo: {} {}", g["driverShortName"], g["size"]);
    assert_eq!(g["driverShortName"], "MBTiles");
    let px = 2.0 * std::f64::consts::PI * 6_378_137.0 / (256.0 * 2f64.powi(14));
    let gt: Vec<f64> = serde_json::from_value(g["geoTransform"].clone()).unwrap();
    assert!(
        (gt[1] - px).abs() < 1e-6 && (gt[5] + px).abs() < 1e-6,
        "{gt:?}"
    );
    let merc = |lon: f64, lat: f64| {
        (
            lon.to_radians() * 6_378_137.0,
            lat.to_radians().tan().asinh() * 6_378_137.0,
        )
    };
    let (x0, y0) = merc(b[0], b[1]);
    let (x1, y1) = merc(b[2], b[3]);
    let size: Vec<f64> = serde_json::from_value(g["size"].clone()).unwrap();
    assert!(
        (size[0] - (x1 - x0) / px).abs() <= 2.0,
        "{size:?} vs {}",
        (x1 - x0) / px
    );
    assert!(
        (size[1] - (y1 - y0) / px).abs() <= 2.0,
        "{size:?} vs {}",
        (y1 - y0) / px
    );
    assert!(
        (gt[0] - x0).abs() <= px && (gt[3] - y1).abs() <= px,
        "{gt:?}"
    );
    assert_eq!(g["metadata"][""]["format"], "png");
}

#[test]
fn exports_512_pixel_tiles_of_a_box() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("hue");
    copy_sample_twin(&t);
    // Around the Imperial City.
    let b = [107.574, 16.466, 107.583, 16.473];
    let folder = dir.path().join("tiles2x");
    let o = twin(&[
        "basemap",
        "export",
        t.to_str().unwrap(),
        "--out",
        folder.to_str().unwrap(),
        "--zoom",
        "15-16",
        "--bbox",
        "107.574,16.466,107.583,16.473",
        "--scale",
        "2",
    ]);
    let s = text(&o);
    assert!(o.status.success(), "{s}");
    let files = pngs(&folder);
    assert_eq!(files.len(), xyz_count(b, 15, 16), "{files:?}");
    assert!(files.iter().all(|f| f.ends_with("@2x.png")), "{files:?}");
    for f in &files {
        let png = std::fs::read(folder.join(f)).unwrap();
        assert_eq!(png_size(&png), (512, 512), "{f}");
    }
}

#[test]
fn hostile_arguments_fail_plainly() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("hue");
    copy_sample_twin(&t);
    let ts = t.to_str().unwrap();
    let out = dir.path().join("o");
    let os = out.to_str().unwrap();
    let fails = |args: &[&str], says: &[&str]| {
        let mut a = vec!["basemap", "export", ts, "--out"];
        a.extend_from_slice(args);
        let o = twin(&a);
        let s = text(&o);
        assert!(!o.status.success(), "{args:?} succeeded: {s}");
        // 1 for the command's own errors, 2 for clap's; never a signal.
        assert!(matches!(o.status.code(), Some(1 | 2)), "{args:?}: {s}");
        assert!(!s.contains("panicked"), "{args:?}: {s}");
        for w in says {
            assert!(s.contains(w), "{args:?}: {s}");
        }
    };
    fails(&[os, "--zoom", "16-12"], &["--zoom", "10-19"]);
    fails(&[os, "--zoom", "3-5"], &["--zoom"]);
    fails(&[os, "--zoom", "12-25"], &["--zoom"]);
    fails(&[os, "--zoom", "twelve"], &["--zoom"]);
    fails(
        &[os, "--bbox", "NaN,16.4,107.6,16.5"],
        &["--bbox", "finite"],
    );
    fails(&[os, "--bbox", "107.5,16.4,107.6"], &["--bbox"]);
    fails(&[os, "--bbox", "170,80,200,89"], &["--bbox", "outside"]);
    fails(
        &[os, "--bbox", "-10,-10,10,10"],
        &["--bbox", "does not overlap"],
    );
    fails(&[os, "--scale", "3"], &["--scale"]);
    // More tiles than allowed (the city's zooms 10-19 are 53,701 tiles, under the default
    // 100,000), refused before drawing.
    fails(
        &[os, "--zoom", "12-16", "--max-tiles", "100"],
        &["more than --max-tiles 100;", "--zoom"],
    );
    assert!(!out.exists(), "nothing written for refused arguments");
    // Nowhere writable.
    fails(&["/proc/huetwin/tiles"], &["/proc/huetwin/tiles"]);
    fails(
        &["/proc/huetwin/tiles.mbtiles", "--zoom", "12"],
        &["cannot create"],
    );
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let under = file.join("tiles.mbtiles");
    fails(
        &[under.to_str().unwrap(), "--zoom", "12"],
        &["cannot create"],
    );
    // A folder where the file should be.
    std::fs::create_dir_all(dir.path().join("d.mbtiles")).unwrap();
    fails(
        &[
            dir.path().join("d.mbtiles").to_str().unwrap(),
            "--zoom",
            "12",
        ],
        &["is a folder"],
    );
    // A twin that is not there.
    let o = twin(&[
        "basemap",
        "export",
        dir.path().join("nope").to_str().unwrap(),
        "--out",
        os,
    ]);
    assert!(!o.status.success());
}
