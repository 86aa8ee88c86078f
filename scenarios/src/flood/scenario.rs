//! The flood scenario file (TOML). Errors name the file, the line and the field.
//!
//! ```toml
//! name = "Perfume River at 4 m with 100 mm of rain"
//! twin = "../data/hue"            # the twin folder, relative to this file
//! resolution_m = 5.0               # grid cell (m); the DEM's own cell by default
//! duration_s = 21600
//! output_interval_s = 3600
//! # bbox = [xmin, ymin, xmax, ymax]   # clip the DEM (project CRS unless coordinates_crs)
//! # coordinates_crs = "EPSG:4326"    # CRS of every coordinate in this file
//!
//! [rain]                           # intensity (mm/h) from each time (s): a step hyetograph
//! series = [[0, 20], [3600, 50], [7200, 0]]
//! [[rain.zone]]                    # a polygon with its own hyetograph: it REPLACES the base
//!                                  # series (and earlier zones) on its cells, it does not add
//! polygon = [[x, y], ...]
//! series = [[0, 80], [3600, 0]]
//!
//! [[inflow]]                       # a point inflow: discharge (m³/s), linear in time
//! name = "An Cuu canal"
//! at = [x, y]
//! series = [[0, 0], [3600, 25], [10800, 0]]
//!
//! [[stage]]                        # a water level held on cells (a river gauge), linear
//! name = "Kim Long gauge"
//! edge = "west"                    # or line = [[x, y], ...], or water = "song-huong" (a twin feature)
//! csv = "kimlong.csv"              # or series = [[0, 1.2], [7200, 3.5]]; time_unit = "h"
//! fill = true                      # start with connected low ground filled to the first level
//!
//! [[levee]]                        # raise the ground along a line
//! line = [[x, y], ...]
//! crest_m = 4.5                    # or raise_m = 1.0 (above the ground)
//!
//! [[outflow]]                      # a free-outflow edge (edges are walls otherwise)
//! edge = "east"
//! kind = "normal"                  # normal depth (Manning; the default) or "critical"
//! slope = 0.001                    # normal: the energy slope; the local ground slope if left out
//!
//! [manning]                        # Manning's n by land cover, within [0, 1) (0: frictionless)
//! default = 0.035
//! water = 0.030
//! road = 0.016
//! [[manning.raster]]               # n from a raster in the project CRS (GeoTIFF or .asc)
//! file = "landcover.tif"
//! classes = { "1" = 0.03, "2" = 0.016, "3" = 0.1 }   # or n = 0.016 (a mask: value ≠ 0);
//!                                  # neither: the raster's values are n
//!
//! [buildings]
//! burn = true                      # buildings are blocked cells
//!
//! [solver]                         # theta, alpha, depth_threshold_m, max_dt_s, wet_depth_m, hazard_depth_m,
//!                                  # dt_every_steps (Δt set every 4 steps by default)
//! ```

use crate::error::{from_toml, line_of, Result, ScenarioError};
use crate::files::{AllowedRoots, SafePath};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// Coordinate pairs as written in the file.
pub type Coords = Vec<[f64; 2]>;

/// Rain intensity above which a hyetograph is refused (mm/h). The world's 1-minute record is
/// about 1,900 mm/h, the 1-hour record about 400 mm/h; a step hyetograph of flood modelling
/// holds its intensity for minutes to hours, so more than 1,000 mm/h is a typing error.
pub const MAX_RAIN_MM_H: f64 = 1_000.0;
/// Point inflow above which a hydrograph is refused (m³/s): the Amazon's mean discharge is
/// about 200,000 m³/s, the Perfume River's largest floods about 10,000 m³/s; a point inflow on
/// a city grid beyond 100,000 m³/s is a typing error.
pub const MAX_INFLOW_M3_S: f64 = 100_000.0;
/// Stage levels outside this range (m, the twin's vertical datum) are refused: below the Dead
/// Sea shore and above the highest summit; the model also refuses a stage more than
/// [`MAX_STAGE_ABOVE_GROUND_M`] above the domain's highest ground.
pub const STAGE_RANGE_M: (f64, f64) = (-500.0, 9_000.0);
/// How far above the domain's highest ground a stage may go (m).
pub const MAX_STAGE_ABOVE_GROUND_M: f64 = 100.0;
/// Longest simulated time (s): 31 days, longer than any flood event a city models in one run.
pub const MAX_DURATION_S: f64 = 31.0 * 86_400.0;

/// An inline series to check: the points, their time unit, what it is, its kind.
type InlineSeries<'a> = (
    &'a Spanned<Coords>,
    &'a Option<Spanned<String>>,
    String,
    SeriesKind,
);

/// What a time series carries, and so its units and bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeriesKind {
    /// Rain intensity (mm/h), 0 ..= [`MAX_RAIN_MM_H`].
    Rain,
    /// Point inflow (m³/s), 0 ..= [`MAX_INFLOW_M3_S`].
    Inflow,
    /// Water level (m), within [`STAGE_RANGE_M`].
    Stage,
}

impl SeriesKind {
    /// Why `v` is out of bounds, None when it is within them.
    fn check(self, v: f64) -> Option<String> {
        let (lo, hi, what, unit) = match self {
            SeriesKind::Rain => (0.0, MAX_RAIN_MM_H, "rain intensity", "mm/h"),
            SeriesKind::Inflow => (0.0, MAX_INFLOW_M3_S, "discharge", "m³/s"),
            SeriesKind::Stage => (STAGE_RANGE_M.0, STAGE_RANGE_M.1, "stage", "m"),
        };
        if v < lo {
            Some(format!("{what} {v} {unit} is below {lo} {unit}"))
        } else if v > hi {
            Some(format!(
                "{what} {v} {unit} is above {hi} {unit}, beyond anything physical"
            ))
        } else {
            None
        }
    }
}

/// The top level of a flood scenario file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FloodScenario {
    /// Display name.
    pub name: Option<String>,
    /// `"flood"` in a scenario file run as a job ([`crate::jobs`]); not used here.
    pub model: Option<Spanned<String>>,
    /// The scenario this one is compared with (another flood file, or `"none"`), read by
    /// [`crate::jobs`]; not used here.
    pub baseline: Option<Spanned<String>>,
    /// The twin folder (relative to the scenario file); may be given on the command line
    /// instead.
    pub twin: Option<Spanned<PathBuf>>,
    /// Which terrain grid of the twin (by name); the first by default.
    pub dem: Option<Spanned<String>>,
    /// Flood grid cell size (m); the DEM's cell by default.
    pub resolution_m: Option<Spanned<f64>>,
    /// Clip the domain to [xmin, ymin, xmax, ymax].
    pub bbox: Option<Spanned<[f64; 4]>>,
    /// CRS of the coordinates in this file (the twin's project CRS by default).
    pub coordinates_crs: Option<Spanned<String>>,
    /// Simulated time (s).
    pub duration_s: Spanned<f64>,
    /// Time between depth/velocity snapshots (s).
    pub output_interval_s: Spanned<f64>,
    /// Where results go (relative to the scenario file); `<twin>/results/<scenario stem>` by
    /// default.
    pub output_dir: Option<PathBuf>,
    /// Write depth and velocity snapshots at every output time (true by default).
    #[serde(default = "yes")]
    pub snapshots: bool,
    /// Scheme parameters.
    #[serde(default)]
    pub solver: SolverSection,
    /// Roughness.
    #[serde(default)]
    pub manning: ManningSection,
    /// Buildings.
    #[serde(default)]
    pub buildings: BuildingsSection,
    /// Rain.
    pub rain: Option<RainSection>,
    /// Point inflows.
    #[serde(default, rename = "inflow")]
    pub inflows: Vec<InflowSection>,
    /// Stage boundaries.
    #[serde(default, rename = "stage")]
    pub stages: Vec<StageSection>,
    /// Levee edits.
    #[serde(default, rename = "levee")]
    pub levees: Vec<LeveeSection>,
    /// Free-outflow edges (the other edges are walls).
    #[serde(default, rename = "outflow")]
    pub outflows: Vec<OutflowSection>,
}

fn yes() -> bool {
    true
}

/// `[solver]`: every field optional (defaults in [`super::SolverParams`]).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SolverSection {
    /// θ weighting.
    pub theta: Option<Spanned<f64>>,
    /// Courant number α.
    pub alpha: Option<Spanned<f64>>,
    /// Flow depth threshold (m).
    pub depth_threshold_m: Option<Spanned<f64>>,
    /// Largest step (s).
    pub max_dt_s: Option<Spanned<f64>>,
    /// Wet depth (m).
    pub wet_depth_m: Option<Spanned<f64>>,
    /// Hazard depth (m).
    pub hazard_depth_m: Option<Spanned<f64>>,
    /// Steps between two settings of Δt.
    pub dt_every_steps: Option<Spanned<u32>>,
}

/// `[manning]`: Manning's n by land cover.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManningSection {
    /// Open ground (grass, bare soil, gardens): 0.035.
    #[serde(default = "n_default")]
    pub default: Spanned<f64>,
    /// Cells inside the twin's water polygons (rivers, lakes, canals): 0.030.
    #[serde(default = "n_water")]
    pub water: Spanned<f64>,
    /// Cells under the twin's road centrelines (asphalt): 0.016.
    #[serde(default = "n_road")]
    pub road: Spanned<f64>,
    /// Rasters (land cover, road masks) giving n cell by cell, applied after the defaults,
    /// water and roads and before the zones (later rasters win).
    #[serde(default, rename = "raster")]
    pub rasters: Vec<ManningRaster>,
    /// Polygons with their own n (later ones win).
    #[serde(default, rename = "zone")]
    pub zones: Vec<ManningZone>,
}

/// `[[manning.raster]]`: Manning's n from a raster (GeoTIFF or ESRI ASCII grid) in the project
/// CRS, read at each flood cell's centre (the raster cell holding it); cells outside the
/// raster or at its nodata keep their n. Either `classes` (a land-cover code → n table; other
/// codes keep their n), or `n` (a mask: cells whose value is not 0 get n, e.g. a road mask), or
/// neither (the raster's values are n themselves).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManningRaster {
    /// The raster file (relative to the scenario file).
    pub file: Spanned<PathBuf>,
    /// Land-cover code → n.
    pub classes: Option<Spanned<std::collections::BTreeMap<String, f64>>>,
    /// n for the cells where a mask raster is not 0.
    pub n: Option<Spanned<f64>>,
}

fn n_default() -> Spanned<f64> {
    Spanned::new(0..0, 0.035)
}
fn n_water() -> Spanned<f64> {
    Spanned::new(0..0, 0.030)
}
fn n_road() -> Spanned<f64> {
    Spanned::new(0..0, 0.016)
}

impl Default for ManningSection {
    fn default() -> Self {
        ManningSection {
            default: n_default(),
            water: n_water(),
            road: n_road(),
            rasters: Vec::new(),
            zones: Vec::new(),
        }
    }
}

/// `[[manning.zone]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManningZone {
    /// The polygon's ring.
    pub polygon: Spanned<Coords>,
    /// Manning's n inside.
    pub n: Spanned<f64>,
}

/// `[buildings]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildingsSection {
    /// Burn buildings in as blocked cells (true by default).
    #[serde(default = "yes")]
    pub burn: bool,
}

impl Default for BuildingsSection {
    fn default() -> Self {
        BuildingsSection { burn: true }
    }
}

/// A time series given inline or as a CSV file (`time,value` with a header line).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesFields {
    /// Inline points [time, value].
    pub series: Option<Spanned<Coords>>,
    /// A CSV file (relative to the scenario file).
    pub csv: Option<Spanned<PathBuf>>,
    /// Unit of the times: "s" (default), "min" or "h".
    pub time_unit: Option<Spanned<String>>,
}

/// `[rain]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RainSection {
    /// Inline hyetograph [time, mm/h].
    pub series: Option<Spanned<Coords>>,
    /// CSV hyetograph.
    pub csv: Option<Spanned<PathBuf>>,
    /// Time unit.
    pub time_unit: Option<Spanned<String>>,
    /// Zones with their own hyetograph.
    #[serde(default, rename = "zone")]
    pub zones: Vec<RainZone>,
}

/// `[[rain.zone]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RainZone {
    /// Name.
    pub name: Option<String>,
    /// The polygon's ring.
    pub polygon: Spanned<Coords>,
    /// Inline hyetograph [time, mm/h].
    pub series: Option<Spanned<Coords>>,
    /// CSV hyetograph.
    pub csv: Option<Spanned<PathBuf>>,
    /// Time unit.
    pub time_unit: Option<Spanned<String>>,
}

/// `[[inflow]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InflowSection {
    /// Name.
    pub name: Option<String>,
    /// Where.
    pub at: Spanned<[f64; 2]>,
    /// Inline hydrograph [time, m³/s].
    pub series: Option<Spanned<Coords>>,
    /// CSV hydrograph.
    pub csv: Option<Spanned<PathBuf>>,
    /// Time unit.
    pub time_unit: Option<Spanned<String>>,
}

/// `[[stage]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageSection {
    /// Name (e.g. the gauge).
    pub name: Option<String>,
    /// Cells along a polyline...
    pub line: Option<Spanned<Coords>>,
    /// ...or along a grid edge: "north", "south", "east", "west"...
    pub edge: Option<Spanned<String>>,
    /// ...or on a water feature of the twin, by id (with or without its `water:` prefix) or
    /// name (a river polygon: the cells inside; a waterway line: the cells it crosses).
    pub water: Option<Spanned<String>>,
    /// Inline stage record [time, m].
    pub series: Option<Spanned<Coords>>,
    /// CSV stage record.
    pub csv: Option<Spanned<PathBuf>>,
    /// Time unit.
    pub time_unit: Option<Spanned<String>>,
    /// Start with the low ground connected to the boundary filled to the first level.
    #[serde(default)]
    pub fill: bool,
}

/// `[[outflow]]`: a free-outflow edge.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutflowSection {
    /// Name.
    pub name: Option<String>,
    /// "north", "south", "east" or "west".
    pub edge: Spanned<String>,
    /// "normal" (normal depth, Manning; the default) or "critical" (critical depth).
    pub kind: Option<Spanned<String>>,
    /// Energy slope S (m/m) of a "normal" outflow; the local ground slope at the edge when
    /// left out.
    pub slope: Option<Spanned<f64>>,
}

/// `[[levee]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeveeSection {
    /// Name.
    pub name: Option<String>,
    /// The crest line.
    pub line: Spanned<Coords>,
    /// Crest elevation (m): the ground along the line is raised to it.
    pub crest_m: Option<Spanned<f64>>,
    /// Or: height added to the ground along the line (m).
    pub raise_m: Option<Spanned<f64>>,
}

/// A scenario read from a file, with what is needed to point at its lines.
#[derive(Clone, Debug)]
pub struct LoadedScenario {
    /// The parsed scenario.
    pub scenario: FloodScenario,
    /// The file.
    pub path: PathBuf,
    text: String,
    /// The folders the files it names may come from.
    files: AllowedRoots,
}

impl LoadedScenario {
    /// Read and parse a scenario file.
    pub fn load(path: &Path) -> Result<LoadedScenario> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError::io(path, e))?;
        LoadedScenario::parse(path, text)
    }

    /// Parse scenario text; `path` is used for errors and relative paths. The files it names
    /// may come from its own folder and from the twin folder it names (the command line's
    /// rule; a server gives its own folders with [`LoadedScenario::parse_in`]).
    pub fn parse(path: &Path, text: String) -> Result<LoadedScenario> {
        let mut l = LoadedScenario::parse_in(path, text, AllowedRoots::default())?;
        let mut dirs = vec![l.base_dir()];
        dirs.extend(l.twin_dir());
        l.files = AllowedRoots::new(dirs);
        Ok(l)
    }

    /// [`LoadedScenario::parse`] reading the files it names only from inside `roots`.
    pub fn parse_in(path: &Path, text: String, roots: AllowedRoots) -> Result<LoadedScenario> {
        let scenario: FloodScenario = from_toml(path, &text)?;
        let l = LoadedScenario {
            scenario,
            path: path.to_path_buf(),
            text,
            files: roots,
        };
        l.check()?;
        Ok(l)
    }

    /// The folders the files it names may come from.
    pub fn allowed_roots(&self) -> &AllowedRoots {
        &self.files
    }

    /// Lets the files it names come from `dir` too (the twin folder given on a command line).
    pub fn allow(&mut self, dir: &Path) {
        self.files = self.files.with(dir);
    }

    /// A file named in field `field` at `v`, resolved inside the allowed folders; the error
    /// names the line and the field, never the file's contents, and is the same for a missing
    /// file and one outside the allowed folders.
    pub fn input(&self, v: &Spanned<PathBuf>, field: &str) -> Result<SafePath> {
        self.files
            .resolve(&self.base_dir(), v.get_ref())
            .map_err(|r| self.error_at(v, field, format!("{}: {r}", v.get_ref().display())))
    }

    /// The folder relative paths are read against.
    pub fn base_dir(&self) -> PathBuf {
        self.path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    }

    /// The twin folder named in the file (None when the file names none).
    pub fn twin_dir(&self) -> Option<PathBuf> {
        self.scenario
            .twin
            .as_ref()
            .map(|t| self.base_dir().join(t.get_ref()))
    }

    /// Where results go: the file's `output_dir` (relative to the file), else
    /// `<twin>/results/<file stem>`.
    pub fn output_dir(&self, twin_dir: &Path) -> PathBuf {
        match &self.scenario.output_dir {
            Some(d) => self.base_dir().join(d),
            None => twin_dir.join("results").join(
                self.path
                    .file_stem()
                    .map(|s| s.to_string_lossy().to_string())
                    .unwrap_or_else(|| "flood".into()),
            ),
        }
    }

    /// The text the scenario was parsed from.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The display name (the `name` field, else the file stem).
    pub fn name(&self) -> String {
        self.scenario.name.clone().unwrap_or_else(|| {
            self.path
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_else(|| "flood".into())
        })
    }

    /// An error at a field: "file: line N, field `f`: message".
    pub fn error_at<T>(&self, v: &Spanned<T>, field: &str, msg: impl ToString) -> ScenarioError {
        let place = if v.span().end > 0 {
            format!(
                "line {}, field `{field}`",
                line_of(&self.text, v.span().start)
            )
        } else {
            format!("field `{field}`")
        };
        ScenarioError::parse(&self.path, place, msg)
    }

    /// An error about a field that is absent or has no position.
    pub fn error_field(&self, field: &str, msg: impl ToString) -> ScenarioError {
        ScenarioError::parse(&self.path, format!("field `{field}`"), msg)
    }

    /// A positive finite number.
    pub fn positive(&self, v: &Spanned<f64>, field: &str) -> Result<f64> {
        let x = *v.get_ref();
        if x > 0.0 && x.is_finite() {
            Ok(x)
        } else {
            Err(self.error_at(v, field, format!("must be a positive number, not {x}")))
        }
    }

    fn check(&self) -> Result<()> {
        let s = &self.scenario;
        let dur = self.positive(&s.duration_s, "duration_s")?;
        if dur > MAX_DURATION_S {
            return Err(self.error_at(
                &s.duration_s,
                "duration_s",
                format!("{dur} s is longer than {MAX_DURATION_S} s (31 days)"),
            ));
        }
        let every = self.positive(&s.output_interval_s, "output_interval_s")?;
        if every > dur {
            return Err(self.error_at(
                &s.output_interval_s,
                "output_interval_s",
                format!("{every} s is longer than duration_s ({dur} s)"),
            ));
        }
        if dur / every > 10_000.0 {
            return Err(self.error_at(
                &s.output_interval_s,
                "output_interval_s",
                "more than 10000 outputs",
            ));
        }
        if let Some(r) = &s.resolution_m {
            self.positive(r, "resolution_m")?;
        }
        if let Some(b) = &s.bbox {
            let v = b.get_ref();
            if !(v.iter().all(|x| x.is_finite()) && v[0] < v[2] && v[1] < v[3]) {
                return Err(self.error_at(
                    b,
                    "bbox",
                    "must be [xmin, ymin, xmax, ymax] with min < max",
                ));
            }
        }
        for st in &s.stages {
            let given = [st.line.is_some(), st.edge.is_some(), st.water.is_some()];
            if given.iter().filter(|&&b| b).count() != 1 {
                return Err(self.error_field(
                    "stage",
                    format!(
                        "stage {:?}: give one of `line`, `edge` or `water`",
                        st.name.as_deref().unwrap_or("")
                    ),
                ));
            }
            if let Some(e) = &st.edge {
                if !["north", "south", "east", "west"].contains(&e.get_ref().as_str()) {
                    return Err(self.error_at(e, "edge", "must be north, south, east or west"));
                }
            }
        }
        // Inline series now, so that a server refuses them when posted (CSV series are
        // checked the same way when read).
        let mut inline: Vec<InlineSeries> = Vec::new();
        if let Some(r) = &s.rain {
            inline.extend(
                r.series
                    .as_ref()
                    .map(|v| (v, &r.time_unit, "rain".to_string(), SeriesKind::Rain)),
            );
            for (k, z) in r.zones.iter().enumerate() {
                let what = format!(
                    "rain.zone {}",
                    z.name.clone().unwrap_or_else(|| (k + 1).to_string())
                );
                inline.extend(
                    z.series
                        .as_ref()
                        .map(|v| (v, &z.time_unit, what, SeriesKind::Rain)),
                );
            }
        }
        for (k, f) in s.inflows.iter().enumerate() {
            let what = f
                .name
                .clone()
                .unwrap_or_else(|| format!("inflow {}", k + 1));
            inline.extend(
                f.series
                    .as_ref()
                    .map(|v| (v, &f.time_unit, what, SeriesKind::Inflow)),
            );
        }
        for (k, st) in s.stages.iter().enumerate() {
            let what = st
                .name
                .clone()
                .unwrap_or_else(|| format!("stage {}", k + 1));
            inline.extend(
                st.series
                    .as_ref()
                    .map(|v| (v, &st.time_unit, what, SeriesKind::Stage)),
            );
        }
        for (v, unit, what, kind) in inline {
            self.series(&Some(v.clone()), &None, unit, &what, kind)?;
        }
        for l in &s.levees {
            if l.crest_m.is_some() == l.raise_m.is_some() {
                return Err(self.error_at(&l.line, "levee", "give either `crest_m` or `raise_m`"));
            }
            if let Some(r) = &l.raise_m {
                self.positive(r, "raise_m")?;
            }
            if l.line.get_ref().len() < 2 {
                return Err(self.error_at(
                    &l.line,
                    "line",
                    "a levee line needs two points or more",
                ));
            }
        }
        Ok(())
    }

    /// Read a series given inline or as CSV: (time in seconds, value) points, every value
    /// within the bounds of its `kind` (the error names the line, or the CSV record).
    pub fn series(
        &self,
        series: &Option<Spanned<Coords>>,
        csv: &Option<Spanned<PathBuf>>,
        time_unit: &Option<Spanned<String>>,
        what: &str,
        kind: SeriesKind,
    ) -> Result<Vec<(f64, f64)>> {
        let k = match time_unit {
            None => 1.0,
            Some(u) => match u.get_ref().as_str() {
                "s" => 1.0,
                "min" => 60.0,
                "h" => 3600.0,
                other => {
                    return Err(self.error_at(
                        u,
                        "time_unit",
                        format!("unknown unit {other:?} (s, min or h)"),
                    ))
                }
            },
        };
        let pts: Vec<(f64, f64)> = match (series, csv) {
            (Some(s), None) => {
                let pts: Vec<(f64, f64)> = s.get_ref().iter().map(|p| (p[0] * k, p[1])).collect();
                check_points(&pts, kind)
                    .map_err(|m| self.error_at(s, "series", format!("{what}: {m}")))?;
                pts
            }
            (None, Some(c)) => {
                let safe = self.input(c, "csv")?;
                let bytes = safe.read().map_err(|r| {
                    self.error_at(c, "csv", format!("{}: {r}", c.get_ref().display()))
                })?;
                let p = self.base_dir().join(c.get_ref());
                let pts = parse_csv_series(&p, &bytes, k)?;
                check_points(&pts, kind).map_err(|m| {
                    self.error_at(c, "csv", format!("{what}, {}: {m}", c.get_ref().display()))
                })?;
                pts
            }
            (Some(s), Some(_)) => {
                return Err(self.error_at(
                    s,
                    "series",
                    format!("{what}: give `series` or `csv`, not both"),
                ))
            }
            (None, None) => {
                return Err(self.error_field(what, "needs a `series` or a `csv`"));
            }
        };
        Ok(pts)
    }
}

fn check_points(pts: &[(f64, f64)], kind: SeriesKind) -> std::result::Result<(), String> {
    if pts.is_empty() {
        return Err("a series needs at least one [time, value] point".into());
    }
    for (i, p) in pts.iter().enumerate() {
        if !(p.0.is_finite() && p.1.is_finite()) {
            return Err(format!("point {} is not finite", i + 1));
        }
        if let Some(m) = kind.check(p.1) {
            return Err(format!("point {}: {m}", i + 1));
        }
        if i > 0 && p.0 <= pts[i - 1].0 {
            return Err(format!(
                "point {}: times must increase ({} after {})",
                i + 1,
                p.0,
                pts[i - 1].0
            ));
        }
    }
    Ok(())
}

/// Parse `time,value` rows (a header line first) of CSV `bytes` read from `path`; times are
/// multiplied by `k`. Errors name the record and the column, never the file's text.
pub fn parse_csv_series(path: &Path, bytes: &[u8], k: f64) -> Result<Vec<(f64, f64)>> {
    let mut rd = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(bytes);
    let mut out = Vec::new();
    for (i, rec) in rd.records().enumerate() {
        let place = || format!("record {}", i + 1);
        let rec = rec.map_err(|e| ScenarioError::parse(path, place(), e))?;
        if rec.len() < 2 {
            return Err(ScenarioError::parse(
                path,
                place(),
                "expected two columns: time,value",
            ));
        }
        let num = |s: &str, what: &str| {
            s.parse::<f64>().map_err(|_| {
                ScenarioError::parse(path, place(), format!("the {what} is not a number"))
            })
        };
        out.push((num(&rec[0], "time")? * k, num(&rec[1], "value")?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<LoadedScenario> {
        LoadedScenario::parse(Path::new("s.toml"), s.to_string())
    }

    #[test]
    fn errors_name_line_and_field() {
        let e = parse("twin = \"t\"\nduration_s = 100\noutput_interval_s = -5\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "s.toml: line 3, field `output_interval_s`: must be a positive number, not -5"
        );
        // Inline series are checked when the file is parsed.
        let err = parse("twin = \"t\"\nduration_s = 100\noutput_interval_s = 10\n[rain]\nseries = [[0, 1], [0, 2]]\n")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "s.toml: line 5, field `series`: rain: point 2: times must increase (0 after 0)"
        );
        let e = parse("twin = \"t\"\nduration_s = 100\noutput_interval_s = 10\nbogus = 1\n")
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("s.toml: line 4: unknown field `bogus`"),
            "{e}"
        );
        let e = parse("twin = \"t\"\nduration_s = 100\noutput_interval_s = 10\n[solver]\ndt_every_steps = -4\n")
            .unwrap_err();
        assert!(e.to_string().starts_with("s.toml: line 5"), "{e}");
        assert!(e.to_string().contains("`-4`"), "{e}");
        let e = parse("twin = \"t\"\nduration_s = 100\noutput_interval_s = 10\n[[stage]]\nseries = [[0, 1]]\n")
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("give one of `line`, `edge` or `water`"),
            "{e}"
        );
    }

    #[test]
    fn units_and_defaults() {
        let s = parse(
            "twin = \"t\"\nduration_s = 7200\noutput_interval_s = 600\n[[inflow]]\nat = [1, 2]\nseries = [[0, 0], [1, 5]]\ntime_unit = \"h\"\n",
        )
        .unwrap();
        let f = &s.scenario.inflows[0];
        assert_eq!(
            s.series(
                &f.series,
                &f.csv,
                &f.time_unit,
                "inflow",
                SeriesKind::Inflow
            )
            .unwrap(),
            vec![(0.0, 0.0), (3600.0, 5.0)]
        );
        assert_eq!(*s.scenario.manning.default.get_ref(), 0.035);
        assert!(s.scenario.buildings.burn && s.scenario.snapshots);
    }
}
