//! Per-feature exposure: each building's and heritage site's largest depth and wet durations,
//! each road link's largest depth and flooded length.
//!
//! A building is burnt in as blocked cells, so its exposure is read on the open cells whose
//! centres lie within one cell size of its footprint (the ring of cells around it, plus any open
//! cell inside a footprint too small to be burnt). A heritage site is read the same way on its
//! outline. A road is sampled every half cell along its centreline.

use super::model::FloodModel;
use super::raster::{cells_near, sample_line};
use super::solver::FloodSummary;
use crate::error::{Result, ScenarioError};
use geo_types::Geometry;
use rayon::prelude::*;
use serde::Serialize;
use std::path::Path;
use twin_core::Twin;

/// Exposure of one building or heritage site.
#[derive(Clone, Debug, Serialize)]
pub struct FeatureImpact {
    /// Feature id.
    pub id: String,
    /// Name.
    pub name: Option<String>,
    /// Use (buildings) or protection zone (heritage).
    pub kind: Option<String>,
    /// Open cells the exposure is read on.
    pub cells: usize,
    /// Largest depth (m) on those cells.
    pub max_depth_m: f64,
    /// Longest time (s) one of them stayed above the wet depth.
    pub wet_duration_s: f64,
    /// Longest time (s) one of them stayed above the hazard depth.
    pub hazard_duration_s: f64,
    /// Earliest wetting (s), None if never wet.
    pub first_wet_s: Option<f64>,
    /// Largest hazard rating d·(v + 0.5).
    pub max_hazard: f64,
}

/// Exposure of one road link.
#[derive(Clone, Debug, Serialize)]
pub struct RoadImpact {
    /// Road id.
    pub id: String,
    /// Name.
    pub name: Option<String>,
    /// Highway class.
    pub class: String,
    /// Length (m) inside the flood grid.
    pub length_m: f64,
    /// Largest depth (m) along it.
    pub max_depth_m: f64,
    /// Length (m) where the largest depth exceeded the hazard depth (impassable).
    pub flooded_length_m: f64,
    /// Earliest wetting along it (s).
    pub first_wet_s: Option<f64>,
}

/// Exposure tables for a run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Impacts {
    /// Buildings.
    pub buildings: Vec<FeatureImpact>,
    /// Heritage sites.
    pub heritage: Vec<FeatureImpact>,
    /// Road links (bridges skipped).
    pub roads: Vec<RoadImpact>,
}

fn read_cells(
    model: &FloodModel,
    s: &FloodSummary,
    cells: &[usize],
) -> (usize, f64, f64, f64, Option<f64>, f64) {
    let mut out = (0usize, 0.0f64, 0.0f64, 0.0f64, None::<f64>, 0.0f64);
    for &c in cells {
        if model.blocked[c] {
            continue;
        }
        out.0 += 1;
        out.1 = out.1.max(s.max_depth[c]);
        out.2 = out.2.max(s.wet_duration[c]);
        out.3 = out.3.max(s.hazard_duration[c]);
        if s.first_wet[c].is_finite() {
            out.4 = Some(out.4.map_or(s.first_wet[c], |t: f64| t.min(s.first_wet[c])));
        }
        out.5 = out.5.max(s.max_hazard[c]);
    }
    out
}

/// Compute the exposure of every building, heritage site and road of the twin.
pub fn impacts(twin: &Twin, model: &FloodModel, s: &FloodSummary) -> Impacts {
    let g = &model.grid;
    let ext = g.extent();
    let inside = |geom: &Geometry<f64>| {
        use geo::BoundingRect;
        geom.bounding_rect().is_some_and(|r| {
            r.max().x >= ext[0] && r.min().x <= ext[2] && r.max().y >= ext[1] && r.min().y <= ext[3]
        })
    };
    let feature = |id: &str, name: &Option<String>, kind: Option<String>, geom: Geometry<f64>| {
        if !inside(&geom) {
            return None;
        }
        let cells = cells_near(g, &geom, g.dx);
        let r = read_cells(model, s, &cells);
        (r.0 > 0).then(|| FeatureImpact {
            id: id.to_string(),
            name: name.clone(),
            kind,
            cells: r.0,
            max_depth_m: r.1,
            wet_duration_s: r.2,
            hazard_duration_s: r.3,
            first_wet_s: r.4,
            max_hazard: r.5,
        })
    };
    let buildings = twin
        .buildings
        .features()
        .par_iter()
        .filter_map(|b| {
            feature(
                &b.id,
                &b.name,
                b.usage.clone(),
                Geometry::MultiPolygon(b.footprint.clone()),
            )
        })
        .collect();
    let heritage = twin
        .heritage
        .features()
        .par_iter()
        .filter_map(|h| {
            feature(
                &h.id,
                &h.name,
                h.zone.clone(),
                Geometry::MultiPolygon(h.polygon.clone()),
            )
        })
        .collect();
    let hz = model.params.hazard_depth;
    let roads = twin
        .roads
        .features()
        .par_iter()
        .filter(|r| !r.bridge)
        .filter_map(|r| {
            let (mut len, mut maxd, mut flooded, mut first) = (0.0, 0.0f64, 0.0, None::<f64>);
            for (p, w) in sample_line(&r.line, g.dx / 2.0) {
                let Some((i, j)) = g.cell_of(p.x, p.y) else {
                    continue;
                };
                let c = j * g.nx + i;
                if model.blocked[c] {
                    continue;
                }
                len += w;
                maxd = maxd.max(s.max_depth[c]);
                if s.max_depth[c] > hz {
                    flooded += w;
                }
                if s.first_wet[c].is_finite() {
                    first = Some(first.map_or(s.first_wet[c], |t: f64| t.min(s.first_wet[c])));
                }
            }
            (len > 0.0).then(|| RoadImpact {
                id: r.id.clone(),
                name: r.name.clone(),
                class: r.class.clone(),
                length_m: len,
                max_depth_m: maxd,
                flooded_length_m: flooded,
                first_wet_s: first,
            })
        })
        .collect();
    Impacts {
        buildings,
        heritage,
        roads,
    }
}

fn csv_err(path: &Path, e: impl ToString) -> ScenarioError {
    ScenarioError::invalid(format!("table {}", path.display()), e)
}

/// Header of the buildings and heritage tables.
pub const FEATURE_HEADER: &[&str] = &[
    "id",
    "name",
    "kind",
    "cells",
    "max_depth_m",
    "wet_duration_s",
    "hazard_duration_s",
    "first_wet_s",
    "max_hazard",
];

/// Header of the roads table.
pub const ROAD_HEADER: &[&str] = &[
    "id",
    "name",
    "class",
    "length_m",
    "max_depth_m",
    "flooded_length_m",
    "first_wet_s",
];

/// Write a table as CSV: `header`, then one row per record (fields in the struct's order).
pub fn write_csv<T: Serialize>(path: &Path, header: &[&str], rows: &[T]) -> Result<()> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_path(path)
        .map_err(|e| csv_err(path, e))?;
    w.write_record(header).map_err(|e| csv_err(path, e))?;
    for r in rows {
        w.serialize(r).map_err(|e| csv_err(path, e))?;
    }
    w.flush().map_err(|e| ScenarioError::io(path, e))
}
