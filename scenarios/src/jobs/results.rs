//! What a run leaves besides the engine's own files: `links.csv` and `summary.json` for
//! traffic, `impacts.json` (totals) for both, and `compare.json` (a run against its baseline,
//! or any two runs of one model, from their stored tables).

use super::file::Model;
use crate::error::{Result, ScenarioError};
use crate::output::{FeatureRow, FeatureTable, LinkRow, RunDir};
use crate::traffic::scenario::TrafficReport;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// Largest depth changes below this (m) count as unchanged in comparisons.
pub const DEPTH_TOLERANCE_M: f64 = 1e-3;

/// How many links the traffic comparison lists.
pub const TOP_LINKS: usize = 20;

/// Minutes charged for each trip without a path in the penalised totals
/// ([`TrafficImpacts::tstt_penalised_scenario`]): two hours, about ten times a trip across
/// Huế at free flow, so that cutting trips off never reads as an improvement.
pub const UNSERVED_TRIP_PENALTY_MIN: f64 = 120.0;

/// A heritage site reached by water.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeritageHit {
    /// Feature id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Protection zone.
    pub zone: String,
    /// Largest depth around it (m).
    pub max_depth_m: f64,
    /// Longest time one of its cells stayed wet (s).
    pub wet_duration_s: f64,
    /// Longest time one of its cells stayed above the hazard depth (s).
    pub hazard_duration_s: f64,
}

/// Flood totals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FloodImpacts {
    /// Depth (m) above which a cell counts as wet.
    pub wet_depth_m: f64,
    /// Depth (m) above which a cell counts as hazardous and a road as impassable.
    pub hazard_depth_m: f64,
    /// Buildings assessed (inside the grid, with open cells around them).
    pub buildings: usize,
    /// Buildings with water deeper than the wet depth around them.
    pub buildings_wet: usize,
    /// Buildings with water deeper than the hazard depth around them.
    pub buildings_above_hazard_depth: usize,
    /// Heritage sites assessed.
    pub heritage_sites: usize,
    /// Heritage sites wetter than the wet depth, deepest first.
    pub heritage_hit: Vec<HeritageHit>,
    /// Road links assessed (bridges are not).
    pub roads: usize,
    /// Road links with some length deeper than the hazard depth.
    pub roads_flooded: usize,
    /// Their flooded length (m).
    pub roads_flooded_length_m: f64,
    /// Area ever wetter than the wet depth (m²).
    pub max_flooded_area_m2: f64,
    /// Relative water budget error of the solver.
    pub mass_balance_relative_error: f64,
}

/// A closed road.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClosedRoad {
    /// Road id.
    pub id: String,
    /// Name.
    pub name: Option<String>,
}

/// Traffic totals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrafficImpacts {
    /// Links of the network.
    pub links: usize,
    /// Total system travel time of the baseline (veh·min).
    pub tstt_baseline: f64,
    /// The same with the edits.
    pub tstt_scenario: f64,
    /// Scenario minus baseline.
    pub tstt_change: f64,
    /// The change in percent of the baseline, or `None` when the two assignments serve
    /// different trips (edits cut some off): the two TSTTs then sum over different trips, and a
    /// fall would read as an improvement. [`Self::tstt_penalised_change_pct`] compares them.
    pub tstt_change_pct: Option<f64>,
    /// Links the edits closed.
    pub closed_links: usize,
    /// Roads those links belong to.
    pub closed_roads: Vec<ClosedRoad>,
    /// Trips assigned in the baseline.
    pub assigned_trips_baseline: f64,
    /// Trips assigned with the edits.
    pub assigned_trips_scenario: f64,
    /// Trips without a path in the baseline.
    pub unreachable_trips_baseline: f64,
    /// Trips without a path with the edits.
    pub unreachable_trips_scenario: f64,
    /// Share (0-1) of the baseline's trips, intrazonal ones left out, without a path.
    #[serde(default)]
    pub unserved_share_baseline: f64,
    /// Share (0-1) of the trips without a path with the edits.
    #[serde(default)]
    pub unserved_share_scenario: f64,
    /// Minutes charged per unserved trip in the penalised totals
    /// ([`UNSERVED_TRIP_PENALTY_MIN`]).
    #[serde(default)]
    pub unserved_penalty_min: f64,
    /// Baseline TSTT plus the penalty for each of its unserved trips (veh·min).
    #[serde(default)]
    pub tstt_penalised_baseline: f64,
    /// The same with the edits.
    #[serde(default)]
    pub tstt_penalised_scenario: f64,
    /// Change of the penalised totals in percent of the baseline's.
    #[serde(default)]
    pub tstt_penalised_change_pct: f64,
    /// Relative gap reached by the baseline assignment.
    pub gap_baseline: f64,
    /// Relative gap reached with the edits.
    pub gap_scenario: f64,
}

/// `impacts.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "lowercase")]
pub enum Impacts {
    /// A flood run.
    Flood(FloodImpacts),
    /// A traffic run.
    Traffic(TrafficImpacts),
}

/// One feature's largest depth in two runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DepthChange {
    /// Feature id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Largest depth in the baseline run (m).
    pub base_max_depth_m: f64,
    /// Largest depth in the run (m).
    pub max_depth_m: f64,
    /// Run minus baseline (m).
    pub change_m: f64,
}

/// Counts of a depth comparison over the features both runs assessed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DepthCounts {
    /// Features in both runs.
    pub compared: usize,
    /// Wet in the baseline.
    pub wet_baseline: usize,
    /// Wet in the run.
    pub wet: usize,
    /// Wet in the run, dry in the baseline.
    pub newly_wet: usize,
    /// Dry in the run, wet in the baseline.
    pub dried: usize,
    /// Above the hazard depth in the baseline.
    pub above_hazard_baseline: usize,
    /// Above the hazard depth in the run.
    pub above_hazard: usize,
    /// Deeper by more than the tolerance.
    pub deeper: usize,
    /// Shallower by more than the tolerance.
    pub shallower: usize,
}

/// A flood run against a baseline flood run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FloodCompare {
    /// Wet depth used (the run's).
    pub wet_depth_m: f64,
    /// Hazard depth used (the run's).
    pub hazard_depth_m: f64,
    /// Changes below this count as none (m).
    pub tolerance_m: f64,
    /// Building counts.
    pub buildings: DepthCounts,
    /// Heritage counts.
    pub heritage: DepthCounts,
    /// Every heritage site in both runs.
    pub heritage_changes: Vec<DepthChange>,
    /// Buildings whose largest depth changed by more than the tolerance, largest fall first.
    pub building_changes: Vec<DepthChange>,
    /// Road links flooded in the baseline / in the run.
    pub roads_flooded_baseline: usize,
    /// Road links flooded in the run.
    pub roads_flooded: usize,
}

/// One link's flow in two runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlowChange {
    /// Link key.
    pub key: String,
    /// Road id.
    pub road_id: String,
    /// Road name.
    pub name: String,
    /// Baseline flow (veh/h).
    pub base_flow: f64,
    /// Flow (veh/h).
    pub flow: f64,
    /// Flow minus baseline flow.
    pub d_flow: f64,
}

/// A traffic run against its baseline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrafficCompare {
    /// TSTT of the baseline (veh·min).
    pub tstt_baseline: f64,
    /// TSTT of the run.
    pub tstt: f64,
    /// Run minus baseline.
    pub tstt_change: f64,
    /// Trips without a path in the baseline.
    #[serde(default)]
    pub unserved_trips_baseline: f64,
    /// Trips without a path in the run.
    #[serde(default)]
    pub unserved_trips: f64,
    /// Change of TSTT plus [`UNSERVED_TRIP_PENALTY_MIN`] per unserved trip (veh·min): the
    /// figure to compare when the two serve different trips.
    #[serde(default)]
    pub tstt_penalised_change: f64,
    /// Links compared.
    pub links: usize,
    /// Links closed in the run and open in the baseline.
    pub closed_links: usize,
    /// The links with the largest absolute flow change, largest first.
    pub top_links: Vec<FlowChange>,
}

/// The two sides and the outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "lowercase")]
pub enum CompareBody {
    /// Flood.
    Flood(FloodCompare),
    /// Traffic.
    Traffic(TrafficCompare),
}

/// `compare.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Compare {
    /// The run.
    pub run: String,
    /// The run it is compared with; None: a traffic run's own unedited network.
    pub baseline_run: Option<String>,
    /// The outcome.
    #[serde(flatten)]
    pub body: CompareBody,
}

/// Writes JSON with a trailing newline.
pub fn write_json<T: Serialize>(path: &Path, v: &T) -> Result<()> {
    let mut text = serde_json::to_string_pretty(v)
        .map_err(|e| ScenarioError::invalid(path.display().to_string(), e))?;
    text.push('\n');
    std::fs::write(path, text).map_err(|e| ScenarioError::io(path, e))
}

/// Reads JSON, errors naming the file, line and column.
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| {
        ScenarioError::parse(path, format!("line {}, column {}", e.line(), e.column()), e)
    })
}

/// Flood totals from a run folder's tables and `summary.json`.
pub fn flood_impacts(dir: &Path, wet: f64, hazard: f64) -> Result<FloodImpacts> {
    let out = RunDir::new(dir);
    let b = out.read_features(FeatureTable::Buildings)?;
    let h = out.read_features(FeatureTable::Heritage)?;
    let flooded: Vec<f64> = out
        .read_roads()?
        .iter()
        .map(|r| r.flooded_length_m)
        .collect();
    let summary = out.read_summary()?;
    let mut heritage_hit: Vec<HeritageHit> = h
        .iter()
        .filter(|r| r.max_depth_m > wet)
        .map(|r| HeritageHit {
            id: r.id.clone(),
            name: r.name.clone().unwrap_or_default(),
            zone: r.kind.clone().unwrap_or_default(),
            max_depth_m: r.max_depth_m,
            wet_duration_s: r.wet_duration_s,
            hazard_duration_s: r.hazard_duration_s,
        })
        .collect();
    heritage_hit.sort_by(|a, b| b.max_depth_m.total_cmp(&a.max_depth_m));
    Ok(FloodImpacts {
        wet_depth_m: wet,
        hazard_depth_m: hazard,
        buildings: b.len(),
        buildings_wet: b.iter().filter(|r| r.max_depth_m > wet).count(),
        buildings_above_hazard_depth: b.iter().filter(|r| r.max_depth_m > hazard).count(),
        heritage_sites: h.len(),
        heritage_hit,
        roads: flooded.len(),
        roads_flooded: flooded.iter().filter(|&&l| l > 0.0).count(),
        roads_flooded_length_m: flooded.iter().filter(|l| l.is_finite()).sum(),
        max_flooded_area_m2: summary.max_flooded_area_m2.unwrap_or(f64::NAN),
        mass_balance_relative_error: summary
            .mass_balance
            .and_then(|m| m.relative_error)
            .unwrap_or(f64::NAN),
    })
}

/// Writes a traffic run's `links.csv` and `summary.json`, and returns its totals.
pub fn write_traffic(dir: &Path, r: &TrafficReport) -> Result<TrafficImpacts> {
    let out = RunDir::new(dir);
    let closed: std::collections::HashSet<usize> = r.closed_links.iter().copied().collect();
    out.write_links(r.network.links.iter().enumerate().map(|(a, l)| {
        let lr = &r.link_roads[a];
        let s = &r.scenario;
        LinkRow {
            key: l.key.clone(),
            road_id: lr.id.clone(),
            name: lr.name.clone().unwrap_or_default(),
            class: lr.class.clone(),
            bridge: lr.bridge,
            closed: l.closed || closed.contains(&a),
            capacity: l.capacity,
            flow: s.flows[a],
            vc: s.vc[a].is_finite().then_some(s.vc[a]),
            time_min: s.times[a],
            base_flow: r.baseline.flows[a],
            d_flow: s.flows[a] - r.baseline.flows[a],
        }
    }))?;
    let (b, s) = (&r.baseline, &r.scenario);
    let mut closed_roads: Vec<ClosedRoad> = Vec::new();
    for &a in &r.closed_links {
        let lr = &r.link_roads[a];
        if !closed_roads.iter().any(|c| c.id == lr.id) {
            closed_roads.push(ClosedRoad {
                id: lr.id.clone(),
                name: lr.name.clone(),
            });
        }
    }
    let (ub, us) = (b.unreachable_trips() + 0.0, s.unreachable_trips() + 0.0);
    let share = |unserved: f64, assigned: f64| {
        if unserved + assigned > 0.0 {
            unserved / (unserved + assigned)
        } else {
            0.0
        }
    };
    let pct = |from: f64, to: f64| {
        if from != 0.0 {
            100.0 * (to - from) / from
        } else {
            0.0
        }
    };
    let same_trips =
        (b.assigned_trips - s.assigned_trips).abs() <= 1e-9 * b.assigned_trips.max(1.0);
    let (pb, ps) = (
        b.tstt + UNSERVED_TRIP_PENALTY_MIN * ub,
        s.tstt + UNSERVED_TRIP_PENALTY_MIN * us,
    );
    let imp = TrafficImpacts {
        links: r.network.links.len(),
        tstt_baseline: b.tstt,
        tstt_scenario: s.tstt,
        tstt_change: s.tstt - b.tstt,
        tstt_change_pct: same_trips.then(|| pct(b.tstt, s.tstt)),
        closed_links: r.closed_links.len(),
        closed_roads,
        assigned_trips_baseline: b.assigned_trips,
        assigned_trips_scenario: s.assigned_trips,
        unreachable_trips_baseline: ub,
        unreachable_trips_scenario: us,
        unserved_share_baseline: share(ub, b.assigned_trips),
        unserved_share_scenario: share(us, s.assigned_trips),
        unserved_penalty_min: UNSERVED_TRIP_PENALTY_MIN,
        tstt_penalised_baseline: pb,
        tstt_penalised_scenario: ps,
        tstt_penalised_change_pct: pct(pb, ps),
        gap_baseline: b.relative_gap,
        gap_scenario: s.relative_gap,
    };
    let summary = serde_json::json!({
        "name": r.name,
        "nodes": r.network.nodes.len(),
        "links": r.network.links.len(),
        "roads_used": r.roads_used,
        "roads_skipped": r.roads_skipped,
        "zones": r.zones,
        "trips": r.trips,
        "baseline": {
            "tstt": b.tstt, "relative_gap": b.relative_gap, "iterations": b.iterations,
            "assigned_trips": b.assigned_trips, "unreachable_trips": b.unreachable_trips(),
            "seconds": b.seconds,
        },
        "scenario": {
            "tstt": s.tstt, "relative_gap": s.relative_gap, "iterations": s.iterations,
            "assigned_trips": s.assigned_trips, "unreachable_trips": s.unreachable_trips(),
            "seconds": s.seconds,
        },
        "closed_links": r.closed_links.len(),
        "access": r.access.iter().map(|a| serde_json::json!({
            "name": a.name, "node": a.node, "base_mean_min": a.base_mean_min,
            "mean_min": a.mean_min, "base_max_min": a.base_max_min, "max_min": a.max_min,
            "base_unreachable": a.base_unreachable, "unreachable": a.unreachable,
        })).collect::<Vec<_>>(),
    });
    out.write_summary(&summary, true)?;
    Ok(imp)
}

fn depth_compare(
    base: &[FeatureRow],
    run: &[FeatureRow],
    wet: f64,
    hazard: f64,
) -> (DepthCounts, Vec<DepthChange>) {
    let bmap: HashMap<&str, &FeatureRow> = base.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut c = DepthCounts::default();
    let mut changes = Vec::new();
    for r in run {
        let Some(b) = bmap.get(r.id.as_str()) else {
            continue;
        };
        let (d0, d1) = (b.max_depth_m, r.max_depth_m);
        c.compared += 1;
        c.wet_baseline += usize::from(d0 > wet);
        c.wet += usize::from(d1 > wet);
        c.newly_wet += usize::from(d1 > wet && d0 <= wet);
        c.dried += usize::from(d1 <= wet && d0 > wet);
        c.above_hazard_baseline += usize::from(d0 > hazard);
        c.above_hazard += usize::from(d1 > hazard);
        c.deeper += usize::from(d1 - d0 > DEPTH_TOLERANCE_M);
        c.shallower += usize::from(d0 - d1 > DEPTH_TOLERANCE_M);
        changes.push(DepthChange {
            id: r.id.clone(),
            name: r.name.clone().unwrap_or_default(),
            base_max_depth_m: d0,
            max_depth_m: d1,
            change_m: d1 - d0,
        });
    }
    changes.sort_by(|a, b| a.change_m.total_cmp(&b.change_m).then(a.id.cmp(&b.id)));
    (c, changes)
}

/// Compares two flood run folders (`base` is the baseline); thresholds from the run's
/// `impacts.json`.
pub fn compare_flood(base: &Path, run: &Path) -> Result<FloodCompare> {
    let Impacts::Flood(imp) = read_json::<Impacts>(&run.join("impacts.json"))? else {
        return Err(ScenarioError::invalid(
            run.display().to_string(),
            "not a flood run",
        ));
    };
    let Impacts::Flood(bimp) = read_json::<Impacts>(&base.join("impacts.json"))? else {
        return Err(ScenarioError::invalid(
            base.display().to_string(),
            "not a flood run",
        ));
    };
    let (wet, hz) = (imp.wet_depth_m, imp.hazard_depth_m);
    let (base_dir, run_dir) = (RunDir::new(base), RunDir::new(run));
    let (buildings, mut bch) = depth_compare(
        &base_dir.read_features(FeatureTable::Buildings)?,
        &run_dir.read_features(FeatureTable::Buildings)?,
        wet,
        hz,
    );
    bch.retain(|c| c.change_m.abs() > DEPTH_TOLERANCE_M);
    let (heritage, hch) = depth_compare(
        &base_dir.read_features(FeatureTable::Heritage)?,
        &run_dir.read_features(FeatureTable::Heritage)?,
        wet,
        hz,
    );
    Ok(FloodCompare {
        wet_depth_m: wet,
        hazard_depth_m: hz,
        tolerance_m: DEPTH_TOLERANCE_M,
        buildings,
        heritage,
        heritage_changes: hch,
        building_changes: bch,
        roads_flooded_baseline: bimp.roads_flooded,
        roads_flooded: imp.roads_flooded,
    })
}

/// A traffic result's totals: TSTT (veh·min) and trips without a path.
#[derive(Clone, Copy)]
struct Served {
    tstt: f64,
    unserved: f64,
}

impl Served {
    fn penalised(self) -> f64 {
        self.tstt + UNSERVED_TRIP_PENALTY_MIN * self.unserved
    }
}

fn traffic_compare(
    base: Served,
    this: Served,
    base_flow: &HashMap<String, (f64, bool)>,
    run: &[LinkRow],
) -> TrafficCompare {
    let mut rows: Vec<FlowChange> = Vec::new();
    let mut closed = 0;
    for l in run {
        let Some(&(b, bclosed)) = base_flow.get(&l.key) else {
            continue;
        };
        closed += usize::from(l.closed && !bclosed);
        rows.push(FlowChange {
            key: l.key.clone(),
            road_id: l.road_id.clone(),
            name: l.name.clone(),
            base_flow: b,
            flow: l.flow,
            d_flow: l.flow - b,
        });
    }
    let links = rows.len();
    rows.sort_by(|a, b| {
        b.d_flow
            .abs()
            .total_cmp(&a.d_flow.abs())
            .then(a.key.cmp(&b.key))
    });
    rows.truncate(TOP_LINKS);
    TrafficCompare {
        tstt_baseline: base.tstt,
        tstt: this.tstt,
        tstt_change: this.tstt - base.tstt,
        unserved_trips_baseline: base.unserved,
        unserved_trips: this.unserved,
        tstt_penalised_change: this.penalised() - base.penalised(),
        links,
        closed_links: closed,
        top_links: rows,
    }
}

/// A traffic run folder against its own unedited network (`base_flow` of `links.csv`).
pub fn compare_traffic_own(run: &Path) -> Result<TrafficCompare> {
    let Impacts::Traffic(imp) = read_json::<Impacts>(&run.join("impacts.json"))? else {
        return Err(ScenarioError::invalid(
            run.display().to_string(),
            "not a traffic run",
        ));
    };
    let l = RunDir::new(run).read_links()?;
    let base: HashMap<String, (f64, bool)> = l
        .iter()
        .map(|r| (r.key.clone(), (r.base_flow, false)))
        .collect();
    Ok(traffic_compare(
        Served {
            tstt: imp.tstt_baseline,
            unserved: imp.unreachable_trips_baseline,
        },
        Served {
            tstt: imp.tstt_scenario,
            unserved: imp.unreachable_trips_scenario,
        },
        &base,
        &l,
    ))
}

/// Two traffic run folders: `run`'s flows against `base`'s (both with their edits).
pub fn compare_traffic(base: &Path, run: &Path) -> Result<TrafficCompare> {
    let tstt = |dir: &Path| -> Result<Served> {
        match read_json::<Impacts>(&dir.join("impacts.json"))? {
            Impacts::Traffic(t) => Ok(Served {
                tstt: t.tstt_scenario,
                unserved: t.unreachable_trips_scenario,
            }),
            Impacts::Flood(_) => Err(ScenarioError::invalid(
                dir.display().to_string(),
                "not a traffic run",
            )),
        }
    };
    let (t0, t1) = (tstt(base)?, tstt(run)?);
    let b = RunDir::new(base).read_links()?;
    let base_flow: HashMap<String, (f64, bool)> = b
        .iter()
        .map(|r| (r.key.clone(), (r.flow, r.closed)))
        .collect();
    Ok(traffic_compare(
        t0,
        t1,
        &base_flow,
        &RunDir::new(run).read_links()?,
    ))
}

/// Compares two stored run folders of the same model.
pub fn compare_dirs(model: Model, base: &Path, run: &Path) -> Result<CompareBody> {
    Ok(match model {
        Model::Flood => CompareBody::Flood(compare_flood(base, run)?),
        Model::Traffic => CompareBody::Traffic(compare_traffic(base, run)?),
    })
}
