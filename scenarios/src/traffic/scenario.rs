//! Traffic scenario files (TOML) and [`run_scenario`], which runs one against its baseline.
//!
//! ```toml
//! name = "Trường Tiền bridge closed"
//! twin = "../data/hue"            # twin folder, relative to this file
//! baseline = "none"               # "none": the unedited network (the only baseline so far)
//! top_links = 10                  # links with the largest flow change in the report
//!
//! [demand]                        # kind = "gravity" (default), "tntp" or "csv"
//! kind = "gravity"
//! cell_size_m = 1000.0            # zone grid
//! beta = 0.1                      # exp(-beta * free-flow minutes)
//! total_trips = 20000.0           # vehicle trips of the period
//! storey_height_m = 3.2
//! constraint = "doubly"           # or "production"
//! # kind = "csv"; file = "od.csv" (origin,destination,trips between network node ids)
//!
//! [assign]
//! target_gap = 1e-4
//! max_iterations = 200
//!
//! [[edit]]
//! type = "close"                  # close / open: roads by id and/or by exact name
//! names = ["Cầu Trường Tiền"]
//! ids = []
//! [[edit]]
//! type = "capacity"               # capacity per direction (veh/h) of the roads' links
//! names = ["Lê Lợi"]
//! capacity = 600.0
//! [[edit]]
//! type = "speed"                  # free-flow speed factor
//! ids = ["osm:way/123"]
//! factor = 0.5
//! [[edit]]
//! type = "demand_scale"
//! factor = 1.1
//! [[edit]]
//! type = "flooded"                # CSV road_id,max_depth_m (header optional)
//! file = "flood_depths.csv"
//! threshold_m = 0.3               # links of roads flooded deeper than this close
//! # or, run as a job (`twin scenario run`): the roads flooded in a flood scenario's run
//! # [[edit]]
//! # type = "flooded"
//! # scenario = "flood_oct2025.toml"
//! # depth_m = 0.3                   # the same as threshold_m
//!
//! [[destination]]                 # access times (congested, minutes) from every zone
//! name = "Bệnh viện Trung ương Huế"
//! lon = 107.5905
//! lat = 16.4627
//! ```
//!
//! Errors name the file and the line (TOML syntax, unknown fields, wrong types, and edits that
//! match no road).

use crate::files::{AllowedRoots, SafePath};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use serde::Deserialize;
use toml::Spanned;
use twin_core::crs::{Crs, Transform};
use twin_core::model::{Building, Road};
use twin_core::{Twin, TwinDir};

use super::assign::{assign_with_control, AssignOptions};
use super::edit::{apply_edits, close_flooded_roads, road_links, Edit, LinkRef};
use super::gravity::{gravity_demand, Constraint, GravityDemand, GravityParams};
use super::network::{from_roads, Network, RoadOptions};
use super::result::{Assignment, Diff, GapRecord, OdPaths};
use super::tntp;
use crate::error::{from_toml, line_of, Result, ScenarioError};

/// A scenario file as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    /// Display name (the file stem when absent).
    pub name: Option<String>,
    /// `"traffic"` in a scenario file run as a job ([`crate::jobs`]); not used here.
    pub model: Option<Spanned<String>>,
    /// The twin folder, relative to the scenario file.
    pub twin: Option<Spanned<String>>,
    /// `"none"` (default): the baseline is the unedited network.
    pub baseline: Option<Spanned<String>>,
    /// How many links with the largest flow change to report (default 10).
    pub top_links: Option<usize>,
    /// The demand (gravity from buildings by default).
    #[serde(default)]
    pub demand: DemandSpec,
    /// Assignment settings.
    #[serde(default)]
    pub assign: AssignSpec,
    /// Edits as written (each a table, read into [`EditSpec`] by [`Scenario::parse`] so that
    /// errors name the edit's own line).
    #[serde(default, rename = "edit")]
    pub edits: Vec<Spanned<toml::Value>>,
    /// Destinations for access times.
    #[serde(default, rename = "destination")]
    pub destinations: Vec<DestinationSpec>,
}

/// Where the demand comes from.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DemandSpec {
    /// Gravity model from building floor area ([`GravityParams`]; absent fields take the
    /// defaults).
    Gravity {
        /// [`GravityParams::cell_size_m`].
        cell_size_m: Option<f64>,
        /// [`GravityParams::beta`].
        beta: Option<f64>,
        /// [`GravityParams::total_trips`].
        total_trips: Option<f64>,
        /// [`GravityParams::storey_height_m`].
        storey_height_m: Option<f64>,
        /// [`GravityParams::constraint`].
        constraint: Option<Constraint>,
    },
    /// A TNTP trip table between network node ids.
    Tntp {
        /// The file, relative to the scenario file.
        file: PathBuf,
    },
    /// A CSV `origin,destination,trips` between network node ids.
    Csv {
        /// The file, relative to the scenario file.
        file: PathBuf,
    },
}

impl Default for DemandSpec {
    fn default() -> Self {
        DemandSpec::Gravity {
            cell_size_m: None,
            beta: None,
            total_trips: None,
            storey_height_m: None,
            constraint: None,
        }
    }
}

impl DemandSpec {
    /// The gravity parameters (defaults where absent); `None` for file demand.
    pub fn gravity_params(&self) -> Option<GravityParams> {
        let DemandSpec::Gravity {
            cell_size_m,
            beta,
            total_trips,
            storey_height_m,
            constraint,
        } = self
        else {
            return None;
        };
        let d = GravityParams::default();
        Some(GravityParams {
            cell_size_m: cell_size_m.unwrap_or(d.cell_size_m),
            beta: beta.unwrap_or(d.beta),
            total_trips: total_trips.unwrap_or(d.total_trips),
            storey_height_m: storey_height_m.unwrap_or(d.storey_height_m),
            constraint: constraint.unwrap_or(d.constraint),
            ..d
        })
    }
}

/// Assignment settings of a scenario.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AssignSpec {
    /// Relative gap to reach (default 1e-4).
    pub target_gap: Option<f64>,
    /// Iteration limit (default 200).
    pub max_iterations: Option<usize>,
}

impl AssignSpec {
    /// The assignment options.
    pub fn options(&self) -> AssignOptions {
        AssignOptions {
            target_gap: self.target_gap.unwrap_or(1e-4),
            max_iterations: self.max_iterations.unwrap_or(200),
            ..AssignOptions::default()
        }
    }
}

/// One edit of a scenario file. Roads are chosen by id and/or exact name (either list may be
/// empty, not both); every link built from a chosen road is edited.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum EditSpec {
    /// Close the roads.
    Close {
        /// Road ids.
        #[serde(default)]
        ids: Vec<String>,
        /// Road names.
        #[serde(default)]
        names: Vec<String>,
    },
    /// Reopen the roads.
    Open {
        /// Road ids.
        #[serde(default)]
        ids: Vec<String>,
        /// Road names.
        #[serde(default)]
        names: Vec<String>,
    },
    /// Set the capacity (veh/h per direction) of the roads' links.
    Capacity {
        /// Road ids.
        #[serde(default)]
        ids: Vec<String>,
        /// Road names.
        #[serde(default)]
        names: Vec<String>,
        /// New capacity.
        capacity: f64,
    },
    /// Multiply the free-flow speed of the roads' links.
    Speed {
        /// Road ids.
        #[serde(default)]
        ids: Vec<String>,
        /// Road names.
        #[serde(default)]
        names: Vec<String>,
        /// Speed factor.
        factor: f64,
    },
    /// Multiply the demand.
    DemandScale {
        /// Factor.
        factor: f64,
    },
    /// Close the roads flooded deeper than `threshold_m` according to a CSV of
    /// `road_id,max_depth_m` (header optional), or to a flood scenario file's stored run
    /// (`scenario`, run or reused by [`crate::jobs`], which fills [`Scenario::flood_depths`]).
    Flooded {
        /// The CSV file, relative to the scenario file.
        file: Option<PathBuf>,
        /// Or a flood scenario file, relative to the scenario file.
        scenario: Option<PathBuf>,
        /// Depth threshold in metres (also spelt `depth_m`).
        #[serde(alias = "depth_m")]
        threshold_m: f64,
    },
}

/// A destination for access times.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DestinationSpec {
    /// Name.
    pub name: String,
    /// Longitude (WGS84).
    pub lon: f64,
    /// Latitude (WGS84).
    pub lat: f64,
}

/// A parsed scenario with where it came from.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The file (for messages and relative paths).
    pub path: PathBuf,
    /// The parsed content.
    pub spec: ScenarioSpec,
    /// The edits, in order, with the byte offset of each in the file.
    pub edits: Vec<(usize, EditSpec)>,
    /// For `flooded` edits naming a flood `scenario`: its resolved path ([`Scenario::resolve`])
    /// → the `road_depths.csv` of a run of it. Filled by [`crate::jobs`]; empty otherwise.
    pub flood_depths: HashMap<PathBuf, PathBuf>,
    text: String,
    /// The folders the files it names may come from.
    files: AllowedRoots,
}

impl Scenario {
    /// Reads and parses a scenario file.
    pub fn read(path: &Path) -> Result<Scenario> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError::io(path, e))?;
        Scenario::parse(&text, path)
    }

    /// Parses scenario text; `path` names it in errors and anchors relative paths. The files it
    /// names may come from its own folder and the twin folder it names (the command line's
    /// rule; a server gives its own folders with [`Scenario::parse_in`]).
    pub fn parse(text: &str, path: &Path) -> Result<Scenario> {
        let mut sc = Scenario::parse_in(text, path, AllowedRoots::default())?;
        let mut dirs = vec![sc.resolve(Path::new(""))];
        if let Some(t) = &sc.spec.twin {
            dirs.push(sc.resolve(Path::new(t.get_ref())));
        }
        sc.files = AllowedRoots::new(dirs);
        Ok(sc)
    }

    /// [`Scenario::parse`] reading the files it names only from inside `roots`.
    pub fn parse_in(text: &str, path: &Path, roots: AllowedRoots) -> Result<Scenario> {
        let spec: ScenarioSpec = from_toml(path, text)?;
        let mut sc = Scenario {
            path: path.to_path_buf(),
            spec,
            edits: Vec::new(),
            flood_depths: HashMap::new(),
            text: text.to_string(),
            files: roots,
        };
        for (k, e) in sc.spec.edits.iter().enumerate() {
            let spec: EditSpec =
                e.get_ref()
                    .clone()
                    .try_into()
                    .map_err(|err: toml::de::Error| {
                        sc.err_at(e.span().start, format!("edit {}: {}", k + 1, err.message()))
                    })?;
            if let EditSpec::Flooded { file, scenario, .. } = &spec {
                if file.is_some() == scenario.is_some() {
                    let msg = format!(
                        "edit {}: a `flooded` edit needs either `file` (a depth CSV) \
                         or `scenario` (a flood scenario file)",
                        k + 1
                    );
                    return Err(sc.err_at(e.span().start, msg));
                }
            }
            sc.edits.push((e.span().start, spec));
        }
        if let Some(b) = &sc.spec.baseline {
            if b.get_ref() != "none" {
                return Err(sc.err_at(
                    b.span().start,
                    format!(
                        "baseline {:?}: only \"none\" (the unedited network) is supported",
                        b.get_ref()
                    ),
                ));
            }
        }
        Ok(sc)
    }

    /// An error at a byte offset of the file: "file: line N: message".
    pub fn err_at(&self, offset: usize, msg: impl ToString) -> ScenarioError {
        ScenarioError::parse(
            &self.path,
            format!("line {}", line_of(&self.text, offset)),
            msg,
        )
    }

    /// The folders the files it names may come from.
    pub fn allowed_roots(&self) -> &AllowedRoots {
        &self.files
    }

    /// A file the scenario names (`field` of the edit or section at byte `offset`, None for
    /// the file as a whole), resolved inside the allowed folders ([`crate::files`]); a missing
    /// file and one outside them get the same error.
    pub fn input(&self, p: &Path, field: &str, offset: Option<usize>) -> Result<SafePath> {
        self.files
            .resolve(self.path.parent().unwrap_or(Path::new(".")), p)
            .map_err(|r| {
                let msg = format!("field `{field}`: {}: {r}", p.display());
                match offset {
                    Some(at) => self.err_at(at, msg),
                    None => ScenarioError::parse(&self.path, "file", msg),
                }
            })
    }

    /// A path in the file, made relative to the file's folder (lexically: it names the file,
    /// [`Scenario::input`] reads it).
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            return p.to_path_buf();
        }
        self.path.parent().unwrap_or(Path::new(".")).join(p)
    }

    /// The display name.
    pub fn name(&self) -> String {
        self.spec.name.clone().unwrap_or_else(|| {
            self.path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "scenario".into())
        })
    }
}

/// What [`run_scenario`] reports while it works.
#[derive(Clone, Copy, Debug)]
pub enum ProgressEvent<'a> {
    /// A phase starts ("loading the twin", "building the network", ...).
    Phase(&'a str),
    /// One assignment iteration of `run` ("baseline" or "scenario") is done.
    Gap {
        /// Which assignment.
        run: &'a str,
        /// Its gap record.
        record: &'a GapRecord,
        /// The target gap.
        target: f64,
    },
}

/// The road a link was built from.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkRoad {
    /// Road id.
    pub id: String,
    /// Road name.
    pub name: Option<String>,
    /// OSM highway class.
    pub class: String,
    /// On a bridge.
    pub bridge: bool,
}

/// One link in the list of largest flow changes.
#[derive(Clone, Debug, PartialEq)]
pub struct TopLink {
    /// Link index.
    pub link: usize,
    /// Link key.
    pub key: String,
    /// Road name.
    pub name: Option<String>,
    /// Baseline flow.
    pub base_flow: f64,
    /// Scenario flow.
    pub flow: f64,
}

/// Access time to one destination.
#[derive(Clone, Debug, PartialEq)]
pub struct AccessTime {
    /// Destination name.
    pub name: String,
    /// Its network node id (nearest node of the largest strongly connected component).
    pub node: u64,
    /// Distance from the given point to that node (m).
    pub snap_m: f64,
    /// Mean congested time (minutes) from the demand's origins, weighted by their trips, in
    /// the baseline (over origins that reach it).
    pub base_mean_min: f64,
    /// The same in the scenario.
    pub mean_min: f64,
    /// Largest time from an origin in the baseline.
    pub base_max_min: f64,
    /// The same in the scenario.
    pub max_min: f64,
    /// Origins that cannot reach it in the baseline.
    pub base_unreachable: usize,
    /// The same in the scenario.
    pub unreachable: usize,
}

/// The outcome of a scenario run.
#[derive(Clone, Debug)]
pub struct TrafficReport {
    /// Scenario name.
    pub name: String,
    /// The baseline network (the scenario's is this one with the edits).
    pub network: Network,
    /// The road of each link.
    pub link_roads: Vec<LinkRoad>,
    /// Roads used and left out (non-car classes, degenerate lines).
    pub roads_used: usize,
    /// Roads left out.
    pub roads_skipped: usize,
    /// Zones (gravity zones, or distinct origins and destinations of file demand).
    pub zones: usize,
    /// Trips of the baseline demand.
    pub trips: f64,
    /// The gravity model's outcome, when the demand is a gravity model.
    pub gravity: Option<GravityDemand>,
    /// Baseline assignment.
    pub baseline: Assignment,
    /// Scenario assignment.
    pub scenario: Assignment,
    /// Scenario minus baseline.
    pub diff: Diff,
    /// Links closed by the scenario (indices).
    pub closed_links: Vec<usize>,
    /// Links with the largest absolute flow change, largest first.
    pub top_links: Vec<TopLink>,
    /// Access times to the destinations.
    pub access: Vec<AccessTime>,
}

/// Reads the scenario file, loads its twin (the file's `twin` field) and runs it
/// ([`run_loaded`]).
pub fn run_scenario(path: &Path, progress: &mut dyn FnMut(ProgressEvent)) -> Result<TrafficReport> {
    run_scenario_on(None, path, progress)
}

/// [`run_scenario`] on the twin folder `twin` when given (it overrides the file's `twin`).
pub fn run_scenario_on(
    twin: Option<&Path>,
    path: &Path,
    progress: &mut dyn FnMut(ProgressEvent),
) -> Result<TrafficReport> {
    let sc = Scenario::read(path)?;
    progress(ProgressEvent::Phase("loading the twin"));
    let loaded = match (twin, &sc.spec.twin) {
        (Some(dir), _) => open_twin(dir).map_err(|e| ScenarioError::invalid("twin", e))?,
        (None, Some(t)) => open_twin(&sc.resolve(Path::new(t.get_ref())))
            .map_err(|e| sc.err_at(t.span().start, e))?,
        (None, None) => {
            return Err(ScenarioError::parse(path, "file", "missing field `twin`"));
        }
    };
    run_loaded(
        &sc,
        loaded.roads.features(),
        loaded.buildings.features(),
        &loaded.crs,
        progress,
    )
}

/// A twin folder opened the one way ([`TwinDir::load`]), its error naming the folder.
fn open_twin(dir: &Path) -> std::result::Result<Twin, String> {
    TwinDir::open(dir)
        .and_then(|td| td.load())
        .map_err(|e| format!("twin {}: {e}", dir.display()))
}

/// Runs a parsed scenario on roads and buildings already loaded (project CRS `crs`).
pub fn run_loaded(
    sc: &Scenario,
    roads: &[Road],
    buildings: &[Building],
    crs: &Crs,
    progress: &mut dyn FnMut(ProgressEvent),
) -> Result<TrafficReport> {
    run_loaded_with(sc, roads, buildings, crs, progress, None)
}

/// [`run_loaded`] with a cancel flag, checked after every assignment iteration: the run stops
/// with [`ScenarioError::Cancelled`] soon after `cancel` turns true.
pub fn run_loaded_with(
    sc: &Scenario,
    roads: &[Road],
    buildings: &[Building],
    crs: &Crs,
    progress: &mut dyn FnMut(ProgressEvent),
    cancel: Option<&AtomicBool>,
) -> Result<TrafficReport> {
    progress(ProgressEvent::Phase("building the network"));
    let rn = from_roads(roads, &RoadOptions::default())?;
    let net = &rn.network;
    progress(ProgressEvent::Phase("demand"));
    let (demand, gravity) = match &sc.spec.demand {
        DemandSpec::Tntp { file } => (
            tntp::read_trips(sc.input(file, "demand.file", None)?.path())?,
            None,
        ),
        DemandSpec::Csv { file } => (
            tntp::read_od_csv(sc.input(file, "demand.file", None)?.path())?,
            None,
        ),
        g => {
            let p = g.gravity_params().expect("gravity");
            let gd = gravity_demand(net, buildings, &p)?;
            (gd.demand.clone(), Some(gd))
        }
    };
    let zones = match &gravity {
        Some(g) => g.zones.len(),
        None => {
            let mut z: Vec<u64> = demand
                .trips
                .iter()
                .flat_map(|t| [t.origin, t.destination])
                .collect();
            z.sort_unstable();
            z.dedup();
            z.len()
        }
    };
    // Edits.
    let mut edits: Vec<Edit> = Vec::new();
    for (at, e) in &sc.edits {
        let at = *at;
        let links_of = |ids: &[String], names: &[String]| -> Result<Vec<usize>> {
            if ids.is_empty() && names.is_empty() {
                return Err(sc.err_at(at, "edit names no road (give ids or names)"));
            }
            // Names match without their diacritics ("Truong Tien" is "Trường Tiền").
            use twin_core::names::{same_name, suggest};
            let named = |r: &Road, n: &str| r.name.as_deref().is_some_and(|rn| same_name(rn, n));
            let links = road_links(&rn, roads, |r| {
                ids.contains(&r.id) || names.iter().any(|n| named(r, n))
            });
            for id in ids {
                if !links.iter().any(|&a| roads[rn.link_road[a]].id == *id) {
                    return Err(sc.err_at(at, format!("no drivable road with id {id:?}")));
                }
            }
            for n in names {
                if !links.iter().any(|&a| named(&roads[rn.link_road[a]], n)) {
                    let close = suggest(
                        n,
                        rn.link_road
                            .iter()
                            .filter_map(|&r| roads[r].name.as_deref()),
                        3,
                    );
                    let hint = match close.as_slice() {
                        [] => String::new(),
                        c => format!(
                            "; did you mean {}?",
                            c.iter()
                                .map(|n| format!("{n:?}"))
                                .collect::<Vec<_>>()
                                .join(" or ")
                        ),
                    };
                    return Err(sc.err_at(at, format!("no drivable road named {n:?}{hint}")));
                }
            }
            Ok(links)
        };
        match e {
            EditSpec::Close { ids, names } => edits.extend(
                links_of(ids, names)?
                    .into_iter()
                    .map(|a| Edit::CloseLink(LinkRef::Index(a))),
            ),
            EditSpec::Open { ids, names } => edits.extend(
                links_of(ids, names)?
                    .into_iter()
                    .map(|a| Edit::OpenLink(LinkRef::Index(a))),
            ),
            EditSpec::Capacity {
                ids,
                names,
                capacity,
            } => edits.extend(
                links_of(ids, names)?
                    .into_iter()
                    .map(|a| Edit::SetCapacity {
                        link: LinkRef::Index(a),
                        capacity: *capacity,
                    }),
            ),
            EditSpec::Speed { ids, names, factor } => {
                edits.extend(links_of(ids, names)?.into_iter().map(|a| Edit::ScaleSpeed {
                    link: LinkRef::Index(a),
                    factor: *factor,
                }))
            }
            EditSpec::DemandScale { factor } => edits.push(Edit::ScaleDemand(*factor)),
            EditSpec::Flooded {
                file,
                scenario,
                threshold_m,
            } => {
                let csv = match (file, scenario) {
                    (Some(f), _) => sc.input(f, "file", Some(at))?.path().to_path_buf(),
                    (None, Some(f)) => {
                        let known = sc.flood_depths.get(&sc.resolve(f)).cloned();
                        known.ok_or_else(|| {
                            let msg = format!(
                                "flood scenario {}: no run of it is known here \
                                 (run this file with `twin scenario run`)",
                                f.display()
                            );
                            sc.err_at(at, msg)
                        })?
                    }
                    (None, None) => {
                        let msg = "a `flooded` edit needs `file` or `scenario`";
                        return Err(sc.err_at(at, msg));
                    }
                };
                let depths = crate::output::read_road_depths(&csv)?;
                let (close, _) = close_flooded_roads(&rn, roads, &depths, *threshold_m);
                edits.extend(close);
            }
        }
    }
    let (net2, demand2) = apply_edits(net, &demand, &edits)
        .map_err(|e| ScenarioError::parse(&sc.path, "edits", e.to_string()))?;
    let opts = sc.spec.assign.options();
    progress(ProgressEvent::Phase("baseline assignment"));
    let target = opts.target_gap;
    let baseline = assign_with_control(
        net,
        &demand,
        &opts,
        &mut |r| {
            progress(ProgressEvent::Gap {
                run: "baseline",
                record: r,
                target,
            })
        },
        cancel,
    )?;
    progress(ProgressEvent::Phase("scenario assignment"));
    let scenario = assign_with_control(
        &net2,
        &demand2,
        &opts,
        &mut |r| {
            progress(ProgressEvent::Gap {
                run: "scenario",
                record: r,
                target,
            })
        },
        cancel,
    )?;
    let diff = scenario.diff(&baseline);
    let link_roads: Vec<LinkRoad> = rn
        .link_road
        .iter()
        .map(|&r| LinkRoad {
            id: roads[r].id.clone(),
            name: roads[r].name.clone(),
            class: roads[r].class.clone(),
            bridge: roads[r].bridge,
        })
        .collect();
    let mut order: Vec<usize> = (0..net.links.len()).collect();
    order.sort_by(|&a, &b| {
        let da = (scenario.flows[a] - baseline.flows[a]).abs();
        let db = (scenario.flows[b] - baseline.flows[b]).abs();
        db.total_cmp(&da).then(a.cmp(&b))
    });
    let top_links = order
        .into_iter()
        .take(sc.spec.top_links.unwrap_or(10))
        .map(|a| TopLink {
            link: a,
            key: net.links[a].key.clone(),
            name: link_roads[a].name.clone(),
            base_flow: baseline.flows[a],
            flow: scenario.flows[a],
        })
        .collect();
    let closed_links = (0..net2.links.len())
        .filter(|&a| net2.links[a].closed && !net.links.get(a).is_some_and(|l| l.closed))
        .collect();
    progress(ProgressEvent::Phase("access times"));
    let access = access_times(sc, net, &net2, crs, &baseline, &scenario)?;
    Ok(TrafficReport {
        name: sc.name(),
        roads_used: roads.len() - rn.skipped.len(),
        roads_skipped: rn.skipped.len(),
        zones,
        trips: demand.total(),
        gravity,
        network: rn.network.clone(),
        link_roads,
        diff,
        baseline,
        scenario,
        closed_links,
        top_links,
        access,
    })
}

fn access_times(
    sc: &Scenario,
    net: &Network,
    net2: &Network,
    crs: &Crs,
    baseline: &Assignment,
    scenario: &Assignment,
) -> Result<Vec<AccessTime>> {
    if sc.spec.destinations.is_empty() {
        return Ok(Vec::new());
    }
    let t = Transform::new(&Crs::wgs84(), crs)
        .map_err(|e| ScenarioError::invalid("destinations", e))?;
    let comp = super::roads::ComponentReport::of(net);
    // Origins weighted by their trips.
    let mut weight: HashMap<u64, f64> = HashMap::new();
    for od in &baseline.od_paths {
        *weight.entry(od.origin).or_default() += od.demand;
    }
    for u in &baseline.unreachable {
        *weight.entry(u.origin).or_default() += u.trips;
    }
    let mut out = Vec::new();
    for d in &sc.spec.destinations {
        let (x, y) = t
            .apply(d.lon, d.lat)
            .map_err(|e| ScenarioError::invalid(format!("destination {}", d.name), e))?;
        let (node, snap) = net
            .nodes
            .iter()
            .enumerate()
            .filter(|(i, _)| comp.strong[*i] == 0)
            .filter_map(|(_, n)| n.xy.map(|p| (n.id, (p[0] - x).hypot(p[1] - y))))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .ok_or_else(|| {
                ScenarioError::invalid(format!("destination {}", d.name), "no network node")
            })?;
        let stats = |n: &Network, a: &Assignment| -> Result<(f64, f64, usize)> {
            let s = a.time_skim(n, &[node])?;
            let (mut sw, mut st, mut mx, mut un) = (0.0, 0.0, 0.0f64, 0usize);
            for (&o, &w) in &weight {
                let v = s.get(o, node).unwrap_or(f64::INFINITY);
                if v.is_finite() {
                    sw += w;
                    st += w * v;
                    mx = mx.max(v);
                } else {
                    un += 1;
                }
            }
            Ok((if sw > 0.0 { st / sw } else { f64::NAN }, mx, un))
        };
        let (bm, bx, bu) = stats(net, baseline)?;
        let (m, mx, u) = stats(net2, scenario)?;
        out.push(AccessTime {
            name: d.name.clone(),
            node,
            snap_m: snap,
            base_mean_min: bm,
            mean_min: m,
            base_max_min: bx,
            max_min: mx,
            base_unreachable: bu,
            unreachable: u,
        });
    }
    Ok(out)
}

/// Trips of OD pairs whose paths use link `a` (for "who used the closed bridge").
pub fn trips_through(od_paths: &[OdPaths], a: usize) -> f64 {
    od_paths
        .iter()
        .flat_map(|od| &od.paths)
        .filter(|p| p.links.contains(&(a as u32)))
        .map(|p| p.flow)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_names_lines_in_errors() {
        let text = "name = \"x\"\ntwin = \"t\"\n[demand]\nkind = \"gravity\"\nbeta = 0.2\n\n[[edit]]\ntype = \"close\"\nnames = [\"Cầu Trường Tiền\"]\n[[destination]]\nname = \"h\"\nlon = 107.5\nlat = 16.4\n";
        let sc = Scenario::parse(text, Path::new("s.toml")).unwrap();
        assert_eq!(sc.spec.demand.gravity_params().unwrap().beta, 0.2);
        assert_eq!(sc.edits.len(), 1);
        // An edit's span starts at its `[[edit]]` header.
        assert_eq!(line_of(text, sc.edits[0].0), 7);
        assert_eq!(
            sc.edits[0].1,
            EditSpec::Close {
                ids: vec![],
                names: vec!["Cầu Trường Tiền".into()]
            }
        );
        assert_eq!(sc.spec.destinations[0].lat, 16.4);
        // A wrong field in the 2nd edit: the error names its line.
        let bad = "twin = \"t\"\n[[edit]]\ntype = \"close\"\nids = [\"a\"]\n[[edit]]\ntype = \"speed\"\nids = [\"a\"]\nfactr = 2.0\n";
        let e = Scenario::parse(bad, Path::new("s.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("s.toml: line "), "{e}");
        let line: usize = e["s.toml: line ".len()..]
            .split(':')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!((5..=8).contains(&line), "{e}");
        assert!(e.contains("edit 2") && e.contains("factr"), "{e}");
        let e = Scenario::parse("twin = 3\n", Path::new("s.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("s.toml: line 1:"), "{e}");
        let e = Scenario::parse("twin = \"t\"\nbaseline = \"other\"\n", Path::new("s.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("s.toml: line 2:"), "{e}");
    }
}
