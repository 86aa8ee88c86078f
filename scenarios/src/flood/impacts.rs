//! Per-feature exposure: each building's and heritage site's largest depth and wet durations,
//! each road link's largest depth and flooded length.
//!
//! A building is burnt in as blocked cells, so its exposure is read on the open cells whose
//! centres lie within one cell size of its footprint (the ring of cells around it, plus any open
//! cell inside a footprint too small to be burnt). A heritage site is read the same way on its
//! outline, but only on its own ground: not on the twin's water bodies (cells inside a water
//! polygon, cells a waterway line passes through) nor on cells wet at the start of the run. A
//! site's polygon often takes in water (the Citadel's moats, the river a sightline corridor
//! crosses) whose depth is not the site's flooding. A site with no such ground cell is read on
//! all its cells. A road is sampled every half cell along its centreline.

use super::model::{FloodModel, GridSpec};
use super::raster::{cells_near, geometry_cells, sample_line};
use super::solver::FloodSummary;
use crate::output::{FeatureRow, RoadRow};
use geo_types::{Geometry, MultiPolygon};
use rayon::prelude::*;
use serde::Serialize;
use twin_core::Twin;

/// Exposure tables for a run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Impacts {
    /// Buildings.
    pub buildings: Vec<FeatureRow>,
    /// Heritage sites.
    pub heritage: Vec<FeatureRow>,
    /// Road links (bridges skipped).
    pub roads: Vec<RoadRow>,
}

/// The open cells of `cells`; with `ground` (a mask of the cells that are land: not a water
/// body of the twin), only the ground cells no deeper than the wet depth at the start of the
/// run, unless that leaves none.
fn cells_read(model: &FloodModel, cells: Vec<usize>, ground: Option<&[bool]>) -> Vec<usize> {
    let wet = model.params.wet_depth;
    select_cells(cells, |c| model.blocked[c], ground, |c| model.h0[c] > wet)
}

/// [`cells_read`] on masks: the cells of `cells` not `blocked`; with `ground`, only those that
/// are ground and not `wet_at_start`, unless that leaves none.
fn select_cells(
    cells: Vec<usize>,
    blocked: impl Fn(usize) -> bool,
    ground: Option<&[bool]>,
    wet_at_start: impl Fn(usize) -> bool,
) -> Vec<usize> {
    let open: Vec<usize> = cells.into_iter().filter(|&c| !blocked(c)).collect();
    let Some(ground) = ground else {
        return open;
    };
    let dry: Vec<usize> = open
        .iter()
        .copied()
        .filter(|&c| ground[c] && !wet_at_start(c))
        .collect();
    if dry.is_empty() {
        open
    } else {
        dry
    }
}

/// The cells a heritage site's exposure is read on (the cells of its row in `heritage.csv`),
/// from what a run's folder keeps: the open cells (not `blocked`: NaN in `max_depth.tif`)
/// whose centres lie within one cell size of the site's `polygon`; of those, the `ground`
/// cells ([`ground_mask_on`]) that were not `wet_at_start` (`first_wet_s.tif` is 0 exactly
/// there), unless that leaves none.
pub fn own_ground_cells(
    g: &GridSpec,
    polygon: &MultiPolygon<f64>,
    blocked: &[bool],
    ground: &[bool],
    wet_at_start: &[bool],
) -> Vec<usize> {
    let cells = cells_near(g, &Geometry::MultiPolygon(polygon.clone()), g.dx);
    select_cells(cells, |c| blocked[c], Some(ground), |c| wet_at_start[c])
}

/// The cells of the grid that are land: false on every cell of the twin's water features
/// (inside a water polygon, or on a waterway's line).
pub fn ground_mask(twin: &Twin, model: &FloodModel) -> Vec<bool> {
    ground_mask_on(twin, &model.grid)
}

/// [`ground_mask`] on a grid (a stored run's).
pub fn ground_mask_on(twin: &Twin, grid: &GridSpec) -> Vec<bool> {
    let mut ground = vec![true; grid.cells()];
    for w in twin.water.features() {
        for c in geometry_cells(grid, &w.geometry) {
            ground[c] = false;
        }
    }
    ground
}

fn read_cells(s: &FloodSummary, cells: &[usize]) -> (usize, f64, f64, f64, Option<f64>, f64) {
    let mut out = (0usize, 0.0f64, 0.0f64, 0.0f64, None::<f64>, 0.0f64);
    for &c in cells {
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
    let ground = ground_mask(twin, model);
    let feature = |id: &str,
                   name: &Option<String>,
                   kind: Option<String>,
                   geom: Geometry<f64>,
                   own_ground: bool| {
        if !inside(&geom) {
            return None;
        }
        let mask = own_ground.then_some(ground.as_slice());
        let cells = cells_read(model, cells_near(g, &geom, g.dx), mask);
        let r = read_cells(s, &cells);
        (r.0 > 0).then(|| FeatureRow {
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
                false,
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
                true,
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
            (len > 0.0).then(|| RoadRow {
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

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{polygon, MultiPolygon};
    use twin_core::crs::Crs;
    use twin_core::index::Layer;
    use twin_core::model::HeritageSite;

    fn site(id: &str, x0: f64, y0: f64, x1: f64, y1: f64) -> HeritageSite {
        HeritageSite {
            id: id.into(),
            name: Some(id.into()),
            polygon: MultiPolygon(vec![polygon![
                (x: x0, y: y0), (x: x1, y: y0), (x: x1, y: y1), (x: x0, y: y1), (x: x0, y: y0)
            ]]),
            zone: Some("I".into()),
            height_limit_m: None,
            floor_m: None,
            attributes: Default::default(),
        }
    }

    /// A heritage site is read on its cells that were dry at the start (standing water such as
    /// a moat is not the site's flooding), and on all its cells when none was.
    #[test]
    fn heritage_sites_are_read_on_the_ground_dry_at_the_start() {
        // 10 × 10 cells of 10 m; columns 1..=5 (x 10..60 m) hold 2 m of standing water.
        let mut m = FloodModel::flat(10, 10, 10.0, 0.0, 0.03);
        let n = m.grid.cells();
        let water = |k: usize| (1..=5).contains(&(k % 10));
        for k in (0..n).filter(|&k| water(k)) {
            m.h0[k] = 2.0;
        }
        let s = FloodSummary {
            max_depth: (0..n).map(|k| if water(k) { 3.0 } else { 0.25 }).collect(),
            first_wet: vec![0.0; n],
            wet_duration: vec![60.0; n],
            hazard_duration: vec![0.0; n],
            max_speed: vec![0.0; n],
            max_hazard: vec![0.0; n],
        };
        let mut twin = Twin::new("t", Crs::epsg(32648).unwrap()).unwrap();
        twin.heritage = Layer::new(vec![
            // Straddles the water's east bank (x 60 m): land and water cells.
            site("bank", 45.0, 40.0, 75.0, 60.0),
            // In the middle of the water: every cell it reads held water at the start.
            site("pavilion", 28.0, 40.0, 32.0, 60.0),
        ])
        .unwrap();
        let imp = impacts(&twin, &m, &s);
        let get = |id: &str| imp.heritage.iter().find(|h| h.id == id).unwrap();
        let bank = get("bank");
        assert_eq!(bank.max_depth_m, 0.25, "{bank:?}");
        // Within 10 m of it: columns 3..=8 (centres 35 … 85 m), rows with centres 35 … 65 m
        // (the four corners are 11.2 m off): 20 cells, 10 of them dry (columns 6, 7 and 8).
        assert_eq!(bank.cells, 10, "{bank:?}");
        let pavilion = get("pavilion");
        assert_eq!(pavilion.max_depth_m, 3.0, "{pavilion:?}");
        assert_eq!(pavilion.cells, 2 * 4, "{pavilion:?}");
    }

    /// A water body of the twin inside a site's polygon is not read even when it was dry at
    /// the start (a moat that the river fills during the run).
    #[test]
    fn heritage_sites_skip_the_twins_water_bodies() {
        use twin_core::model::Water;
        // 10 × 10 cells of 10 m, all dry at the start; a moat polygon over x 20..40 m.
        let m = FloodModel::flat(10, 10, 10.0, 0.0, 0.03);
        let n = m.grid.cells();
        let moat = |k: usize| (2..=3).contains(&(k % 10));
        let s = FloodSummary {
            max_depth: (0..n).map(|k| if moat(k) { 4.9 } else { 0.4 }).collect(),
            first_wet: (0..n)
                .map(|k| if moat(k) { 600.0 } else { 1800.0 })
                .collect(),
            wet_duration: vec![60.0; n],
            hazard_duration: vec![0.0; n],
            max_speed: vec![0.0; n],
            max_hazard: vec![0.0; n],
        };
        let mut twin = Twin::new("t", Crs::epsg(32648).unwrap()).unwrap();
        twin.water = Layer::new(vec![Water {
            id: "moat".into(),
            kind: "canal".into(),
            name: None,
            geometry: Geometry::Polygon(polygon![
                (x: 20.0, y: 0.0), (x: 40.0, y: 0.0), (x: 40.0, y: 100.0), (x: 20.0, y: 100.0), (x: 20.0, y: 0.0)
            ]),
        }])
        .unwrap();
        twin.heritage = Layer::new(vec![
            // The walls with the moat inside their polygon: read on land only.
            site("walls", 5.0, 40.0, 55.0, 60.0),
            // A site wholly on the moat: read on all its cells.
            site("moat-pavilion", 28.0, 45.0, 32.0, 55.0),
        ])
        .unwrap();
        let imp = impacts(&twin, &m, &s);
        let get = |id: &str| imp.heritage.iter().find(|h| h.id == id).unwrap();
        let walls = get("walls");
        assert_eq!(walls.max_depth_m, 0.4, "{walls:?}");
        assert_eq!(walls.first_wet_s, Some(1800.0), "{walls:?}");
        assert!(walls.cells > 0);
        let pav = get("moat-pavilion");
        assert_eq!(pav.max_depth_m, 4.9, "{pav:?}");
        assert_eq!(pav.first_wet_s, Some(600.0), "{pav:?}");
    }
}
