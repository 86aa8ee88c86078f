//! One fuzz target per parser. A file parser gets the bytes written to a temporary file of the
//! name it expects (its extension chooses the format) and is called exactly as `twin import`,
//! the scenario runner or the server call it; a body parser gets the bytes themselves.
//!
//! Seeds: the tiny hand-written files in `fuzz/corpus/<target>/` (committed), the repository's
//! sample twin and scenario examples, and small files of `../shared/data` read at run time
//! (never copied into the repository: see `../shared/data/README.md`).

use crate::FuzzError;
use std::path::{Path, PathBuf};
use twin_core::crs::Crs;
use twin_core::import::{self, ImportOptions};
use twin_core::NoProgress;

/// A parser under test.
pub trait FuzzTarget {
    /// The target's name (`geojson`, `las`, `tntp_net`...).
    fn name(&self) -> &'static str;
    /// What it runs, in a few words.
    fn about(&self) -> &'static str;
    /// The seed inputs.
    fn seeds(&self) -> Vec<Vec<u8>>;
    /// Run the parser on `input`: `Ok` when it accepted it, `Err` with its message when it
    /// refused it. A panic is a crash (the engine catches it).
    fn run(&self, input: &[u8]) -> Result<(), String>;
}

/// The repository root (this crate's parent folder).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The shared data folder: `HUETWIN_SHARED_DATA`, else `../shared/data` beside the repository.
pub fn shared() -> PathBuf {
    std::env::var_os("HUETWIN_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/data"))
}

/// Seeds bigger than this are left out (each execution parses the whole input).
pub const MAX_SEED_BYTES: usize = 200 * 1024;

fn read_seeds(files: &[PathBuf]) -> Vec<Vec<u8>> {
    files
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .filter(|b| b.len() <= MAX_SEED_BYTES)
        .collect()
}

/// Every file in `fuzz/corpus/<name>/`, sorted.
fn corpus(name: &str) -> Vec<PathBuf> {
    let dir = repo().join("fuzz/corpus").join(name);
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// The first `keep` points of an uncompressed LAS file (header count patched): a small valid
/// seed from the 110,000-point autzen file.
fn las_head(path: &Path, keep: u32) -> Option<Vec<u8>> {
    let b = std::fs::read(path).ok()?;
    let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    if b.len() < 227 || &b[0..4] != b"LASF" || b[25] >= 4 {
        return None;
    }
    let start = u32_at(96) as usize;
    let rec = u16_at(105) as usize;
    let n = u32_at(107).min(keep);
    let end = start + rec * n as usize;
    let mut out = b.get(..end)?.to_vec();
    out[107..111].copy_from_slice(&n.to_le_bytes());
    Some(out)
}

type Parse = fn(&Path, &ImportOptions) -> Result<(), String>;

/// A parser that reads a file.
pub struct FileTarget {
    name: &'static str,
    about: &'static str,
    file_name: &'static str,
    seeds: fn() -> Vec<Vec<u8>>,
    parse: Parse,
    opts: ImportOptions,
    dir: tempfile::TempDir,
}

impl FileTarget {
    fn new(
        name: &'static str,
        about: &'static str,
        file_name: &'static str,
        (project, source): (u32, Option<u32>),
        seeds: fn() -> Vec<Vec<u8>>,
        parse: Parse,
    ) -> Result<FileTarget, FuzzError> {
        let crs = |c: u32| Crs::epsg(c).map_err(|e| FuzzError::Setup(e.to_string()));
        let mut opts = ImportOptions::new(crs(project)?);
        opts.source_crs = source.map(crs).transpose()?;
        Ok(FileTarget {
            name,
            about,
            file_name,
            seeds,
            parse,
            opts,
            dir: tempfile::tempdir().map_err(|e| FuzzError::Io {
                path: std::env::temp_dir(),
                error: e,
            })?,
        })
    }
}

impl FuzzTarget for FileTarget {
    fn name(&self) -> &'static str {
        self.name
    }
    fn about(&self) -> &'static str {
        self.about
    }
    fn seeds(&self) -> Vec<Vec<u8>> {
        let mut s = read_seeds(&corpus(self.name));
        s.extend((self.seeds)());
        s
    }
    fn run(&self, input: &[u8]) -> Result<(), String> {
        let path = self.dir.path().join(self.file_name);
        std::fs::write(&path, input).map_err(|e| format!("writing the input: {e}"))?;
        (self.parse)(&path, &self.opts)
    }
}

/// A parser of bytes in memory (API request bodies and query strings).
pub struct BytesTarget {
    name: &'static str,
    about: &'static str,
    parse: fn(&[u8]) -> Result<(), String>,
}

impl FuzzTarget for BytesTarget {
    fn name(&self) -> &'static str {
        self.name
    }
    fn about(&self) -> &'static str {
        self.about
    }
    fn seeds(&self) -> Vec<Vec<u8>> {
        read_seeds(&corpus(self.name))
    }
    fn run(&self, input: &[u8]) -> Result<(), String> {
        (self.parse)(input)
    }
}

fn importer(path: &Path, opts: &ImportOptions) -> Result<(), String> {
    import::import_file(path, opts, &NoProgress)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn sh(rel: &str) -> PathBuf {
    shared().join(rel)
}

fn geojson_seeds() -> Vec<Vec<u8>> {
    read_seeds(&[
        repo().join("data/hue/heritage.geojson"),
        repo().join("data/hue/water.geojson"),
        sh("hue/geojson/hue_heritage.geojson"),
    ])
}

fn cityjson_seeds() -> Vec<Vec<u8>> {
    read_seeds(&[
        sh("cityjson/3dbag_v20240420_3buildings.city.json"),
        sh("cityjson/3dbag_v2103_10buildings_multilod.city.json"),
    ])
}

fn cityjsonseq_seeds() -> Vec<Vec<u8>> {
    read_seeds(&[sh("cityjson/3dbag_v20240420_3buildings.city.jsonl")])
}

fn las_seeds() -> Vec<Vec<u8>> {
    las_head(&sh("lidar/autzen_trim.las"), 300)
        .into_iter()
        .collect()
}

fn laz_seeds() -> Vec<Vec<u8>> {
    read_seeds(&[sh("lidar/simple.copc.laz")])
}

fn asc_seeds() -> Vec<Vec<u8>> {
    read_seeds(&[sh("dem/srtmgl3_boulder_creek_co.asc")])
}

fn tif_seeds() -> Vec<Vec<u8>> {
    read_seeds(&[sh("dem/srtmgl3_boulder_creek_co.tif")])
}

fn sensors_csv_seeds() -> Vec<Vec<u8>> {
    read_seeds(&[repo().join("data/hue/sensors.csv")])
}

fn none() -> Vec<Vec<u8>> {
    Vec::new()
}

fn tntp_net_seeds() -> Vec<Vec<u8>> {
    read_seeds(&[sh("traffic/siouxfalls/SiouxFalls_net.tntp")])
}

fn tntp_trips_seeds() -> Vec<Vec<u8>> {
    read_seeds(&[sh("traffic/siouxfalls/SiouxFalls_trips.tntp")])
}

fn flood_seeds() -> Vec<Vec<u8>> {
    let ex = repo().join("scenarios/examples");
    read_seeds(&[
        ex.join("hue/flood_alarm3.toml"),
        ex.join("hue/flood_oct2025_levee.toml"),
        ex.join("hue_river_flood.toml"),
    ])
}

fn traffic_seeds() -> Vec<Vec<u8>> {
    let ex = repo().join("scenarios/examples");
    read_seeds(&[
        ex.join("hue/truong_tien_closed.toml"),
        ex.join("traffic/truong_tien_closed.toml"),
    ])
}

fn tntp_net(path: &Path, _: &ImportOptions) -> Result<(), String> {
    scenarios::traffic::tntp::read_net(path)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn tntp_trips(path: &Path, _: &ImportOptions) -> Result<(), String> {
    scenarios::traffic::tntp::read_trips(path)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn text(path: &Path) -> Result<String, String> {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|e| e.to_string())
}

fn flood_scenario(path: &Path, _: &ImportOptions) -> Result<(), String> {
    scenarios::flood::scenario::LoadedScenario::parse(path, text(path)?)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn traffic_scenario(path: &Path, _: &ImportOptions) -> Result<(), String> {
    scenarios::traffic::scenario::Scenario::parse(&text(path)?, path)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn api_intersects(body: &[u8]) -> Result<(), String> {
    let g: geojson::Geometry = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    tile_server::api::polygon_from_body(&g.value)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn api_bbox(query: &[u8]) -> Result<(), String> {
    let s = std::str::from_utf8(query).map_err(|e| e.to_string())?;
    let b = tile_server::api::parse_bbox(s).map_err(|e| e.to_string())?;
    // The Huế twin's WGS84 extent, as the server clamps a query box to it.
    let hue = Some([107.46, 16.37, 107.72, 16.60]);
    twin_core::twin::clamp_wgs84_bbox(b, hue);
    Ok(())
}

fn report_photo(bytes: &[u8]) -> Result<(), String> {
    // As the Open311 route calls it on an uploaded photo (8 MiB, the default limit).
    twin_core::reports::photo::clean("media", bytes.to_vec(), 8 << 20)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Every target, in the order the script and the tests run them.
pub fn all() -> Result<Vec<Box<dyn FuzzTarget>>, FuzzError> {
    const HUE: (u32, Option<u32>) = (32648, None);
    let t: Vec<Box<dyn FuzzTarget>> = vec![
        Box::new(FileTarget::new(
            "geojson",
            "twin-core GeoJSON importer (.geojson)",
            "in.geojson",
            HUE,
            geojson_seeds,
            importer,
        )?),
        Box::new(FileTarget::new(
            "cityjson",
            "twin-core CityJSON importer (.city.json)",
            "in.city.json",
            (28992, None),
            cityjson_seeds,
            importer,
        )?),
        Box::new(FileTarget::new(
            "cityjsonseq",
            "twin-core CityJSONSeq importer (.city.jsonl)",
            "in.city.jsonl",
            (28992, None),
            cityjsonseq_seeds,
            importer,
        )?),
        Box::new(FileTarget::new(
            "las",
            "twin-core LAS importer (.las)",
            "in.las",
            (32610, None),
            las_seeds,
            importer,
        )?),
        Box::new(FileTarget::new(
            "laz",
            "twin-core LAZ/COPC importer (.laz)",
            "in.copc.laz",
            (32610, None),
            laz_seeds,
            importer,
        )?),
        Box::new(FileTarget::new(
            "dem_asc",
            "twin-core DEM importer, ESRI ASCII grid (.asc)",
            "in.asc",
            (4326, Some(4326)),
            asc_seeds,
            importer,
        )?),
        Box::new(FileTarget::new(
            "dem_tif",
            "twin-core DEM importer, GeoTIFF (.tif)",
            "in.tif",
            (4326, None),
            tif_seeds,
            importer,
        )?),
        Box::new(FileTarget::new(
            "sensors_csv",
            "twin-core sensors importer, CSV",
            "in.csv",
            HUE,
            sensors_csv_seeds,
            importer,
        )?),
        Box::new(FileTarget::new(
            "sensors_json",
            "twin-core sensors importer, JSON",
            "in.json",
            HUE,
            none,
            importer,
        )?),
        Box::new(FileTarget::new(
            "tntp_net",
            "scenarios TNTP network reader",
            "in_net.tntp",
            HUE,
            tntp_net_seeds,
            tntp_net,
        )?),
        Box::new(FileTarget::new(
            "tntp_trips",
            "scenarios TNTP trips reader",
            "in_trips.tntp",
            HUE,
            tntp_trips_seeds,
            tntp_trips,
        )?),
        Box::new(FileTarget::new(
            "scenario_flood",
            "scenarios flood scenario TOML",
            "in.toml",
            HUE,
            flood_seeds,
            flood_scenario,
        )?),
        Box::new(FileTarget::new(
            "scenario_traffic",
            "scenarios traffic scenario TOML",
            "in.toml",
            HUE,
            traffic_seeds,
            traffic_scenario,
        )?),
        Box::new(BytesTarget {
            name: "api_intersects",
            about: "tile-server POST .../intersects body",
            parse: api_intersects,
        }),
        Box::new(BytesTarget {
            name: "api_bbox",
            about: "tile-server bbox= query and clamp",
            parse: api_bbox,
        }),
        Box::new(BytesTarget {
            name: "report_photo",
            about: "twin-core report photo check and metadata removal (JPEG, PNG)",
            parse: report_photo,
        }),
    ];
    Ok(t)
}
