//! Monument flood exposure across a twin's stored flood runs: a table monument × run (largest
//! depth, hours above the wet depth and above the hazard depth, first wet time), read through
//! `scenarios`' [`RunDir`] (each run's `heritage.csv`, where the depth is read on the monument's
//! own ground: the twin's water bodies inside its polygon left out), and a ranking by the
//! largest depth over all runs.
//!
//! A site with a floor or plinth level (`floor_m`, [`twin_core::model::HeritageSite::floor_m`],
//! metres above its ground) also gets the depth above its floor (the largest depth less the
//! floor, at least 0) and the hours above its floor. Runs keep their per-cell durations only
//! above the wet and the hazard depths, so the hours above a floor are read from the run's
//! depth snapshots (`depth_<t>s.tif`, one per output time): on the same cells as the row of
//! `heritage.csv` ([`scenarios::flood::impacts::own_ground_cells`]), each cell's time above the
//! floor with the depth taken as linear between two outputs, the longest over the cells. A
//! peak between two outputs is missed there (the largest depth is not: the run tracks it at
//! every step); a run without snapshots (`snapshots = false`) reports only the depth above the
//! floor.

use crate::error::Result;
use scenarios::flood::impacts::{ground_mask_on, own_ground_cells};
use scenarios::flood::model::GridSpec;
use scenarios::jobs::{Model, RunStore, Status};
use scenarios::output::{FeatureTable, Raster, RunDir};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use twin_core::Twin;

/// One monument in one run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Exposure {
    /// Largest depth on its ground (m).
    pub max_depth_m: f64,
    /// Longest time one of its cells stayed wet (h).
    pub hours_wet: f64,
    /// Longest time one of its cells stayed above the run's hazard depth (h).
    pub hours_above_hazard: f64,
    /// First time it got wet (h from the start), none when never.
    pub first_wet_h: Option<f64>,
    /// Largest depth above its floor (`max_depth_m − floor_m`, at least 0; m), none when its
    /// floor level is not known.
    pub above_floor_m: Option<f64>,
    /// Longest time one of its cells stayed deeper than its floor level (h), read from the
    /// run's depth snapshots; none when its floor level is not known or the run kept no
    /// snapshots.
    pub hours_above_floor: Option<f64>,
}

/// A stored flood run, a column of the table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunColumn {
    /// The run's id.
    pub id: String,
    /// Its scenario's name.
    pub name: String,
}

/// One monument's row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MonumentRow {
    /// Rank by the largest depth over all runs (1: the most exposed).
    pub rank: usize,
    /// The site's id.
    pub site: String,
    /// Its name.
    pub name: Option<String>,
    /// Its protection zone.
    pub zone: Option<String>,
    /// Its floor or plinth level above its ground (m), when the heritage layer gives one.
    pub floor_m: Option<f64>,
    /// Per run (in the order of [`ExposureTable::runs`]): its exposure, none when the run's
    /// grid does not reach it.
    pub runs: Vec<Option<Exposure>>,
    /// The largest depth over all runs (m).
    pub worst_depth_m: f64,
}

/// The table monument × run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExposureTable {
    /// The finished flood runs, oldest first.
    pub runs: Vec<RunColumn>,
    /// The monuments, the most exposed first.
    pub monuments: Vec<MonumentRow>,
}

/// The exposure of every monument across the finished flood runs of a twin folder
/// (`twin_dir`, loaded as `twin`: its heritage sites' floor levels and its water bodies).
pub fn exposure_table(twin: &Twin, twin_dir: &Path) -> Result<ExposureTable> {
    let store = RunStore::for_twin(twin_dir);
    let mut infos = store
        .list()
        .map_err(|e| crate::HeritageError::invalid("runs", e))?;
    infos.retain(|r| r.model == Model::Flood && r.status == Status::Done);
    infos.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
    let floors: BTreeMap<&str, (f64, &geo_types::MultiPolygon<f64>)> = twin
        .heritage
        .features()
        .iter()
        .filter_map(|h| Some((h.id.as_str(), (h.floor_m?, &h.polygon))))
        .collect();
    let mut rows: BTreeMap<String, MonumentRow> = BTreeMap::new();
    let n = infos.len();
    for (k, info) in infos.iter().enumerate() {
        let err = |e: scenarios::ScenarioError| {
            crate::HeritageError::invalid(format!("run {}", info.id), e)
        };
        let run = RunDir::new(store.dir(&info.id).map_err(err)?);
        let table = run.read_features(FeatureTable::Heritage).map_err(err)?;
        let floored: Vec<(&str, f64, &geo_types::MultiPolygon<f64>)> = table
            .iter()
            .filter_map(|f| floors.get_key_value(f.id.as_str()))
            .map(|(id, (floor, poly))| (*id, *floor, *poly))
            .collect();
        let secs = seconds_above_floors(twin, &run, &floored).map_err(err)?;
        for f in table {
            let floor = floors.get(f.id.as_str()).map(|(fl, _)| *fl);
            let row = rows.entry(f.id.clone()).or_insert_with(|| MonumentRow {
                rank: 0,
                site: f.id.clone(),
                name: f.name.clone(),
                zone: f.kind.clone(),
                floor_m: floor,
                runs: vec![None; n],
                worst_depth_m: 0.0,
            });
            row.worst_depth_m = row.worst_depth_m.max(f.max_depth_m);
            row.runs[k] = Some(Exposure {
                max_depth_m: f.max_depth_m,
                hours_wet: f.wet_duration_s / 3600.0,
                hours_above_hazard: f.hazard_duration_s / 3600.0,
                first_wet_h: f.first_wet_s.map(|s| s / 3600.0),
                above_floor_m: floor.map(|fl| (f.max_depth_m - fl).max(0.0)),
                hours_above_floor: secs.get(f.id.as_str()).map(|s| s / 3600.0),
            });
        }
    }
    let mut monuments: Vec<MonumentRow> = rows.into_values().collect();
    monuments.sort_by(|a, b| {
        b.worst_depth_m
            .total_cmp(&a.worst_depth_m)
            .then(a.site.cmp(&b.site))
    });
    for (i, m) in monuments.iter_mut().enumerate() {
        m.rank = i + 1;
    }
    Ok(ExposureTable {
        runs: infos
            .iter()
            .map(|r| RunColumn {
                id: r.id.clone(),
                name: r.name.clone(),
            })
            .collect(),
        monuments,
    })
}

/// A stored flood run's grid, its largest depths, and what picks a monument's own ground
/// cells on it ([`own_ground_cells`]: cells the run computed, not the twin's water bodies nor
/// wet from the start).
pub struct RunGround {
    /// The run's grid.
    pub grid: GridSpec,
    /// Its largest depths (m), per cell, row-major from the north row.
    pub max: twin_core::model::Dem,
    blocked: Vec<bool>,
    wet_at_start: Vec<bool>,
    ground: Vec<bool>,
}

impl RunGround {
    /// The run's grid and masks, read from its rasters and the twin's water bodies.
    pub fn open(twin: &Twin, run: &RunDir) -> scenarios::Result<RunGround> {
        let max = run.read_raster(&run.raster_path(Raster::MaxDepth))?;
        let first = run.read_raster(&run.raster_path(Raster::FirstWet))?;
        let grid = GridSpec {
            nx: max.ncols,
            ny: max.nrows,
            dx: max.cell_x,
            xmin: max.xmin,
            ymax: max.ymax,
            epsg: None,
        };
        let blocked = max
            .values
            .iter()
            .map(|v| !v.is_some_and(f32::is_finite))
            .collect();
        let wet_at_start = first.values.iter().map(|v| *v == Some(0.0)).collect();
        let ground = ground_mask_on(twin, &grid);
        Ok(RunGround {
            grid,
            max,
            blocked,
            wet_at_start,
            ground,
        })
    }

    /// The own ground cells of a site's polygon (indices into the grid).
    pub fn cells(&self, site: &geo_types::MultiPolygon<f64>) -> Vec<usize> {
        own_ground_cells(
            &self.grid,
            site,
            &self.blocked,
            &self.ground,
            &self.wet_at_start,
        )
    }

    /// The largest depth of a cell (m), None where the run computed none.
    pub fn depth(&self, cell: usize) -> Option<f32> {
        self.max.values[cell].filter(|v| v.is_finite())
    }
}

/// Time (s) a depth linear between `d0` and `d1` over `dt` seconds stays above `floor`.
pub fn time_above(d0: f64, d1: f64, dt: f64, floor: f64) -> f64 {
    match (d0 > floor, d1 > floor) {
        (true, true) => dt,
        (false, false) => 0.0,
        _ => dt * (d0.max(d1) - floor) / (d1 - d0).abs(),
    }
}

/// Seconds above its floor per site (id, floor m, polygon) in one run: for each site the
/// longest time one of its cells ([`own_ground_cells`]) stayed deeper than the floor, the
/// depth linear between the run's snapshots. Empty when no site has a floor or the run kept
/// fewer than two snapshots.
pub fn seconds_above_floors(
    twin: &Twin,
    run: &RunDir,
    sites: &[(&str, f64, &geo_types::MultiPolygon<f64>)],
) -> scenarios::Result<BTreeMap<String, f64>> {
    let mut out = BTreeMap::new();
    let snaps = run.snapshots();
    if sites.is_empty() || snaps.len() < 2 {
        return Ok(out);
    }
    let rg = RunGround::open(twin, run)?;
    let grid = &rg.grid;
    let cells: Vec<Vec<usize>> = sites.iter().map(|(_, _, poly)| rg.cells(poly)).collect();
    let mut seconds: Vec<Vec<f64>> = cells.iter().map(|c| vec![0.0; c.len()]).collect();
    let mut prev: Option<(u64, twin_core::model::Dem)> = None;
    for (t, path) in snaps {
        let depth = run.read_raster(&path)?;
        if depth.ncols != grid.nx || depth.nrows != grid.ny {
            return Err(scenarios::ScenarioError::invalid(
                path.display().to_string(),
                "the snapshot's grid is not the run's",
            ));
        }
        if let Some((t0, d0)) = &prev {
            let dt = (t - t0) as f64;
            let at = |d: &twin_core::model::Dem, c: usize| {
                d.values[c].filter(|v| v.is_finite()).map_or(0.0, f64::from)
            };
            for ((_, floor, _), (cs, secs)) in sites.iter().zip(cells.iter().zip(&mut seconds)) {
                for (c, s) in cs.iter().zip(secs.iter_mut()) {
                    *s += time_above(at(d0, *c), at(&depth, *c), dt, *floor);
                }
            }
        }
        prev = Some((t, depth));
    }
    for ((id, _, _), secs) in sites.iter().zip(seconds) {
        out.insert(id.to_string(), secs.into_iter().fold(0.0, f64::max));
    }
    Ok(out)
}
