//! [`RunDir`]: the one typed writer and reader of a run's result folder. The file names, the
//! tables' column names and the layout of `summary.json` that other code reads live here and
//! nowhere else; the flood and traffic runs write through it, and jobs, the renderer, the
//! server and the traffic engine's `flooded` edit read through it.
//!
//! | file | written by | what |
//! | --- | --- | --- |
//! | `depth_<t>s.tif`, `velocity_<t>s.tif` | flood | snapshots at output time `t` (7 digits, s) |
//! | `max_depth.tif`, `first_wet_s.tif`, `wet_duration_s.tif`, `duration_above_<d>m_s.tif`, `max_speed.tif`, `max_hazard.tif`, `ground.tif` | flood | per-cell summaries and the grid's ground ([`Raster`]) |
//! | `buildings.csv`, `heritage.csv` | flood | per-feature exposure ([`FeatureRow`]) |
//! | `roads.csv` | flood | per-road depth and flooded length ([`RoadRow`]) |
//! | `road_depths.csv` | flood | `road_id,max_depth_m`, what the traffic `flooded` edit reads |
//! | `links.csv` | traffic | link flows, v/c and times ([`LinkRow`]) |
//! | `summary.json` | both | the run's report ([`SummaryHead`] is what readers take from it) |
//!
//! ```
//! use scenarios::output::{FeatureRow, FeatureTable, RunDir};
//! let tmp = tempfile::tempdir().unwrap();
//! let run = RunDir::new(tmp.path());
//! let rows = vec![FeatureRow {
//!     id: "ngo-mon".into(), name: Some("Ngọ Môn".into()), kind: Some("I".into()), cells: 12,
//!     max_depth_m: 0.8, wet_duration_s: 3600.0, hazard_duration_s: 0.0,
//!     first_wet_s: Some(1200.0), max_hazard: 0.4,
//! }];
//! run.write_features(FeatureTable::Heritage, &rows).unwrap();
//! assert_eq!(run.read_features(FeatureTable::Heritage).unwrap(), rows);
//! assert!(!run.is_flood());
//! ```

use crate::error::{Result, ScenarioError};
use crate::flood::geotiff::write_geotiff;
use crate::flood::model::GridSpec;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use twin_core::model::Dem;

/// `summary.json`.
pub const SUMMARY: &str = "summary.json";
/// `road_depths.csv`: `road_id,max_depth_m`.
pub const ROAD_DEPTHS: &str = "road_depths.csv";
/// `links.csv`: a traffic run's links.
pub const LINKS: &str = "links.csv";
/// `roads.csv`: a flood run's roads.
pub const ROADS: &str = "roads.csv";

/// A per-cell raster of a flood run (single band, float32, NaN where blocked).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Raster {
    /// Largest depth (m).
    MaxDepth,
    /// Time the cell first got wetter than the wet depth (s).
    FirstWet,
    /// Time it stayed wet (s).
    WetDuration,
    /// Time it stayed deeper than the hazard depth (s); the depth is in the name.
    HazardDuration {
        /// The hazard depth (m).
        depth_m: f64,
    },
    /// Largest speed (m/s).
    MaxSpeed,
    /// Largest hazard rating (depth × (speed + 0.5)).
    MaxHazard,
    /// The flood grid's ground with levees and buildings burnt in (m).
    Ground,
}

impl Raster {
    /// The file name.
    pub fn file_name(self) -> String {
        match self {
            Raster::MaxDepth => "max_depth.tif".into(),
            Raster::FirstWet => "first_wet_s.tif".into(),
            Raster::WetDuration => "wet_duration_s.tif".into(),
            Raster::HazardDuration { depth_m } => format!("duration_above_{depth_m}m_s.tif"),
            Raster::MaxSpeed => "max_speed.tif".into(),
            Raster::MaxHazard => "max_hazard.tif".into(),
            Raster::Ground => "ground.tif".into(),
        }
    }
}

/// A per-feature table of a flood run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeatureTable {
    /// `buildings.csv`.
    Buildings,
    /// `heritage.csv` (the `kind` column holds the protection zone).
    Heritage,
}

impl FeatureTable {
    /// The file name.
    pub fn file_name(self) -> &'static str {
        match self {
            FeatureTable::Buildings => "buildings.csv",
            FeatureTable::Heritage => "heritage.csv",
        }
    }
}

/// One row of `buildings.csv` / `heritage.csv`: what the water did around one feature.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureRow {
    /// Feature id.
    pub id: String,
    /// Name.
    pub name: Option<String>,
    /// Building use, or a heritage site's protection zone.
    pub kind: Option<String>,
    /// Open cells read for it.
    pub cells: usize,
    /// Largest depth around it (m).
    pub max_depth_m: f64,
    /// Longest time one of its cells stayed wet (s).
    pub wet_duration_s: f64,
    /// Longest time one of its cells stayed above the hazard depth (s).
    pub hazard_duration_s: f64,
    /// First time one of its cells got wet (s), none when never.
    pub first_wet_s: Option<f64>,
    /// Largest hazard rating around it.
    pub max_hazard: f64,
}

/// One row of `roads.csv`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoadRow {
    /// Road id.
    pub id: String,
    /// Name.
    pub name: Option<String>,
    /// Road class (OSM highway value).
    pub class: String,
    /// Length inside the grid (m).
    pub length_m: f64,
    /// Largest depth along it (m).
    pub max_depth_m: f64,
    /// Length deeper than the hazard depth (m).
    pub flooded_length_m: f64,
    /// First time some of it got wet (s), none when never.
    pub first_wet_s: Option<f64>,
}

/// One link's volume/capacity and closure, as pictures read them from `links.csv` (files
/// without a `closed` column read as open).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct LinkState {
    /// The road the link belongs to.
    pub road_id: String,
    /// Volume / capacity; empty when the link has no capacity.
    pub vc: Option<f64>,
    /// Closed by the scenario's edits (or by flooding).
    #[serde(default)]
    pub closed: bool,
}

/// One row of `links.csv` (a traffic run).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkRow {
    /// Link key (stable across runs of one network).
    pub key: String,
    /// The road the link belongs to.
    pub road_id: String,
    /// Road name (empty when none).
    pub name: String,
    /// Road class.
    pub class: String,
    /// On a bridge.
    pub bridge: bool,
    /// Closed by an edit.
    pub closed: bool,
    /// Capacity (veh/h).
    pub capacity: f64,
    /// Assigned flow (veh/h).
    pub flow: f64,
    /// Volume over capacity; none where undefined.
    pub vc: Option<f64>,
    /// Travel time (min).
    pub time_min: f64,
    /// Flow of the unedited network (veh/h).
    pub base_flow: f64,
    /// `flow − base_flow`.
    pub d_flow: f64,
}

/// What readers take from `summary.json` (flood runs write a `FloodReport`, traffic runs their
/// own totals; both carry a name).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SummaryHead {
    /// The scenario's name.
    pub name: Option<String>,
    /// Area ever wetter than the wet depth (m², flood runs).
    pub max_flooded_area_m2: Option<f64>,
    /// The flood run's water budget.
    pub mass_balance: Option<BudgetHead>,
}

/// The part of a flood run's water budget readers take.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct BudgetHead {
    /// Relative water budget error.
    pub relative_error: Option<f64>,
}

/// A run's result folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunDir {
    dir: PathBuf,
}

fn table_err(path: &Path, e: impl ToString) -> ScenarioError {
    ScenarioError::invalid(format!("table {}", path.display()), e)
}

/// `path` when it is a file, else a not-found error saying `why`.
fn existing(path: PathBuf, why: &str) -> Result<PathBuf> {
    if path.is_file() {
        Ok(path)
    } else {
        Err(ScenarioError::io(
            &path,
            std::io::Error::new(std::io::ErrorKind::NotFound, why.to_string()),
        ))
    }
}

/// Writes `rows` as CSV with a header line (the fields of `T`, in order).
fn write_table<T: Serialize>(path: &Path, rows: impl IntoIterator<Item = T>) -> Result<()> {
    let mut w = csv::Writer::from_path(path).map_err(|e| table_err(path, e))?;
    for r in rows {
        w.serialize(r).map_err(|e| table_err(path, e))?;
    }
    w.flush().map_err(|e| ScenarioError::io(path, e))
}

/// Reads a CSV table with a header line into rows of `T` (columns by name, extra columns
/// ignored); errors name the file and the record.
fn read_table<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>> {
    let mut rd = csv::Reader::from_path(path).map_err(|e| ScenarioError::parse(path, "file", e))?;
    let mut out = Vec::new();
    for (k, r) in rd.deserialize().enumerate() {
        out.push(r.map_err(|e: csv::Error| {
            let place = match e.position() {
                Some(p) => format!("line {}", p.line()),
                None => format!("record {}", k + 1),
            };
            ScenarioError::parse(path, place, e)
        })?);
    }
    Ok(out)
}

impl RunDir {
    /// The result folder `dir` (not created).
    pub fn new(dir: impl Into<PathBuf>) -> RunDir {
        RunDir { dir: dir.into() }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// A file of the folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// True when the folder holds a flood result (`max_depth.tif`).
    pub fn is_flood(&self) -> bool {
        self.raster_path(Raster::MaxDepth).is_file()
    }

    /// True when the folder holds a traffic result (`links.csv`).
    pub fn is_traffic(&self) -> bool {
        self.file(LINKS).is_file()
    }

    // ---- rasters ------------------------------------------------------------------------

    /// The name of the depth snapshot at `time_s`.
    pub fn depth_name(time_s: f64) -> String {
        format!("depth_{:07}s.tif", time_s.max(0.0).round() as u64)
    }

    /// The name of the velocity snapshot (two bands: x, y) at `time_s`.
    pub fn velocity_name(time_s: f64) -> String {
        format!("velocity_{:07}s.tif", time_s.max(0.0).round() as u64)
    }

    /// The path of a summary raster.
    pub fn raster_path(&self, r: Raster) -> PathBuf {
        self.file(&r.file_name())
    }

    /// The path of the depth snapshot at `time_s` (whether or not it exists).
    pub fn depth_path(&self, time_s: f64) -> PathBuf {
        self.file(&Self::depth_name(time_s))
    }

    /// Writes a float32 GeoTIFF of `grid` (one band per slice) under `name`.
    pub fn write_raster(&self, name: &str, grid: &GridSpec, bands: &[&[f32]]) -> Result<()> {
        write_geotiff(&self.file(name), grid, bands)
    }

    /// The depth snapshots: (output time s, path), by time.
    pub fn snapshots(&self) -> Vec<(u64, PathBuf)> {
        let mut out: Vec<(u64, PathBuf)> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                let t = name.strip_prefix("depth_")?.strip_suffix("s.tif")?;
                Some((t.parse::<u64>().ok()?, e.path()))
            })
            .collect();
        out.sort();
        out
    }

    /// Reads a single-band raster of the folder as a grid in the project CRS.
    pub fn read_raster(&self, path: &Path) -> Result<Dem> {
        existing(path.to_path_buf(), "no such raster")?;
        Ok(twin_core::import::dem::read_geotiff(path, &twin_core::NoProgress)?.grid)
    }

    // ---- flood tables -------------------------------------------------------------------

    /// True when the folder has the table.
    pub fn has_features(&self, t: FeatureTable) -> bool {
        self.file(t.file_name()).is_file()
    }

    /// Writes `buildings.csv` or `heritage.csv`.
    pub fn write_features(&self, t: FeatureTable, rows: &[FeatureRow]) -> Result<()> {
        write_table(&self.file(t.file_name()), rows)
    }

    /// Reads `buildings.csv` or `heritage.csv`.
    pub fn read_features(&self, t: FeatureTable) -> Result<Vec<FeatureRow>> {
        read_table(&self.file(t.file_name()))
    }

    /// Largest depth (m) per feature id of a table.
    pub fn feature_depths(&self, t: FeatureTable) -> Result<HashMap<String, f64>> {
        Ok(self
            .read_features(t)?
            .into_iter()
            .map(|r| (r.id, r.max_depth_m))
            .collect())
    }

    /// Writes `roads.csv` and `road_depths.csv` (its `id` and `max_depth_m`, for the traffic
    /// `flooded` edit).
    pub fn write_roads(&self, rows: &[RoadRow]) -> Result<()> {
        write_table(&self.file(ROADS), rows)?;
        write_road_depths(
            &self.file(ROAD_DEPTHS),
            rows.iter().map(|r| (r.id.as_str(), r.max_depth_m)),
        )
    }

    /// Reads `roads.csv`.
    pub fn read_roads(&self) -> Result<Vec<RoadRow>> {
        read_table(&self.file(ROADS))
    }

    /// The `road_depths.csv` of the folder (for the traffic `flooded` edit; read it with
    /// [`read_road_depths`]).
    pub fn road_depths_path(&self) -> PathBuf {
        self.file(ROAD_DEPTHS)
    }

    // ---- traffic --------------------------------------------------------------------------

    /// Writes `links.csv`.
    pub fn write_links(&self, rows: impl IntoIterator<Item = LinkRow>) -> Result<()> {
        write_table(&self.file(LINKS), rows)
    }

    /// Reads `links.csv`.
    pub fn read_links(&self) -> Result<Vec<LinkRow>> {
        let path = existing(
            self.file(LINKS),
            "no such file (a traffic result folder holds links.csv)",
        )?;
        read_table(&path)
    }

    /// The road id, v/c and closure of every link of `links.csv` (only those columns are read,
    /// so a table with `road_id` and `vc` alone will do).
    pub fn read_link_vc(&self) -> Result<Vec<LinkState>> {
        let path = existing(
            self.file(LINKS),
            "no such file (a traffic result folder holds links.csv)",
        )?;
        read_table::<LinkState>(&path)
    }

    // ---- summary --------------------------------------------------------------------------

    /// Writes `summary.json` (pretty, with a trailing newline when `newline`).
    pub fn write_summary<T: Serialize>(&self, v: &T, newline: bool) -> Result<()> {
        let path = self.file(SUMMARY);
        let mut text = serde_json::to_string_pretty(v)
            .map_err(|e| ScenarioError::invalid(SUMMARY.to_string(), e))?;
        if newline {
            text.push('\n');
        }
        std::fs::write(&path, text).map_err(|e| ScenarioError::io(&path, e))
    }

    /// Reads what readers take from `summary.json`.
    pub fn read_summary(&self) -> Result<SummaryHead> {
        let path = self.file(SUMMARY);
        let text = std::fs::read_to_string(&path).map_err(|e| ScenarioError::io(&path, e))?;
        serde_json::from_str(&text).map_err(|e| {
            ScenarioError::parse(
                &path,
                format!("line {}, column {}", e.line(), e.column()),
                e,
            )
        })
    }
}

/// Writes `road_id,max_depth_m` rows with a header line.
pub fn write_road_depths<'a>(
    path: &Path,
    rows: impl IntoIterator<Item = (&'a str, f64)>,
) -> Result<()> {
    #[derive(Serialize)]
    struct Depth<'a> {
        road_id: &'a str,
        max_depth_m: f64,
    }
    write_table(
        path,
        rows.into_iter().map(|(road_id, max_depth_m)| Depth {
            road_id,
            max_depth_m,
        }),
    )
}

/// Reads `road_id,max_depth_m` lines, header optional (a run's `road_depths.csv`, or a file
/// a planner wrote).
pub fn read_road_depths(path: &Path) -> Result<Vec<(String, f64)>> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| ScenarioError::parse(path, "file", e))?;
    let mut out = Vec::new();
    for (k, rec) in rdr.records().enumerate() {
        let line = format!("line {}", k + 1);
        let rec = rec.map_err(|e| ScenarioError::parse(path, &line, e))?;
        if rec.len() != 2 {
            return Err(ScenarioError::parse(
                path,
                line,
                format!("{} fields, expected road_id,max_depth_m", rec.len()),
            ));
        }
        match rec[1].parse::<f64>() {
            Ok(d) => out.push((rec[0].to_string(), d)),
            Err(_) if k == 0 => {} // header
            Err(e) => {
                return Err(ScenarioError::parse(
                    path,
                    line,
                    format!("the depth is not a number ({e})"),
                ))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_round_trip_with_their_headers() {
        let tmp = tempfile::tempdir().unwrap();
        let run = RunDir::new(tmp.path());
        let roads = vec![
            RoadRow {
                id: "osm:way/1".into(),
                name: Some("Lê Lợi".into()),
                class: "primary".into(),
                length_m: 120.5,
                max_depth_m: 0.42,
                flooded_length_m: 30.0,
                first_wet_s: None,
            },
            RoadRow {
                id: "osm:way/2".into(),
                name: None,
                class: "residential".into(),
                length_m: 80.0,
                max_depth_m: 0.0,
                flooded_length_m: 0.0,
                first_wet_s: Some(600.0),
            },
        ];
        run.write_roads(&roads).unwrap();
        assert_eq!(run.read_roads().unwrap(), roads);
        let text = std::fs::read_to_string(run.file(ROADS)).unwrap();
        assert_eq!(
            text.lines().next().unwrap(),
            "id,name,class,length_m,max_depth_m,flooded_length_m,first_wet_s"
        );
        assert_eq!(
            read_road_depths(&run.road_depths_path()).unwrap(),
            vec![
                ("osm:way/1".to_string(), 0.42),
                ("osm:way/2".to_string(), 0.0)
            ]
        );
        let links = vec![LinkRow {
            key: "1-2".into(),
            road_id: "osm:way/1".into(),
            name: "Lê Lợi".into(),
            class: "primary".into(),
            bridge: false,
            closed: true,
            capacity: 1800.0,
            flow: 0.0,
            vc: None,
            time_min: 1.5,
            base_flow: 900.0,
            d_flow: -900.0,
        }];
        run.write_links(links.clone()).unwrap();
        assert_eq!(run.read_links().unwrap(), links);
        assert!(run.is_traffic());
    }

    #[test]
    fn a_missing_column_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let run = RunDir::new(tmp.path());
        std::fs::write(run.file("buildings.csv"), "id,name\nb1,x\n").unwrap();
        let e = run.read_features(FeatureTable::Buildings).unwrap_err();
        assert!(e.to_string().contains("buildings.csv"), "{e}");
        assert!(e.to_string().contains("missing field `cells`"), "{e}");
    }

    #[test]
    fn snapshots_are_listed_by_time() {
        let tmp = tempfile::tempdir().unwrap();
        let run = RunDir::new(tmp.path());
        for t in [3600.0, 600.0] {
            std::fs::write(run.depth_path(t), b"").unwrap();
        }
        std::fs::write(run.file(&RunDir::velocity_name(600.0)), b"").unwrap();
        let times: Vec<u64> = run.snapshots().into_iter().map(|(t, _)| t).collect();
        assert_eq!(times, vec![600, 3600]);
        assert_eq!(RunDir::depth_name(600.0), "depth_0000600s.tif");
    }
}
