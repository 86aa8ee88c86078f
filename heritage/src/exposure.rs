//! Monument flood exposure across a twin's stored flood runs: a table monument × run (largest
//! depth, hours above the wet depth and above the hazard depth, first wet time), read through
//! `scenarios`' [`RunDir`] (each run's `heritage.csv`, where the depth is read on the monument's
//! own ground: the twin's water bodies inside its polygon left out), and a ranking by the
//! largest depth over all runs.

use crate::error::Result;
use scenarios::jobs::{Model, RunStore, Status};
use scenarios::output::{FeatureTable, RunDir};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

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

/// The exposure of every monument across the finished flood runs of a twin folder.
pub fn exposure_table(twin_dir: &Path) -> Result<ExposureTable> {
    let store = RunStore::for_twin(twin_dir);
    let mut infos = store
        .list()
        .map_err(|e| crate::HeritageError::invalid("runs", e))?;
    infos.retain(|r| r.model == Model::Flood && r.status == Status::Done);
    infos.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
    let mut rows: BTreeMap<String, MonumentRow> = BTreeMap::new();
    let n = infos.len();
    for (k, info) in infos.iter().enumerate() {
        let dir = store
            .dir(&info.id)
            .map_err(|e| crate::HeritageError::invalid(format!("run {}", info.id), e))?;
        let table = RunDir::new(dir)
            .read_features(FeatureTable::Heritage)
            .map_err(|e| crate::HeritageError::invalid(format!("run {}", info.id), e))?;
        for f in table {
            let row = rows.entry(f.id.clone()).or_insert_with(|| MonumentRow {
                rank: 0,
                site: f.id.clone(),
                name: f.name.clone(),
                zone: f.kind.clone(),
                runs: vec![None; n],
                worst_depth_m: 0.0,
            });
            row.worst_depth_m = row.worst_depth_m.max(f.max_depth_m);
            row.runs[k] = Some(Exposure {
                max_depth_m: f.max_depth_m,
                hours_wet: f.wet_duration_s / 3600.0,
                hours_above_hazard: f.hazard_duration_s / 3600.0,
                first_wet_h: f.first_wet_s.map(|s| s / 3600.0),
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
