//! The monuments' visible area lost: points sampled over a monument's surfaces (walls and
//! roofs of its solids), the ones seen from a viewpoint (facing it, and not hidden by the
//! terrain, the buildings or the monument itself), and the share of those a proposal hides.
//!
//! A sample stands at the centre of a cell of about [`DEFAULT_SPACING_M`] on each wall (edge
//! length × height) and on each roof (a grid over the outline, cells whose centre is inside),
//! each with its outward normal. Cells are equal in area on a wall, so the share of samples is
//! the share of area (to within the cell size at the edges of what is hidden).
//!
//! ```
//! use geo_types::{polygon, MultiPolygon};
//! use heritage::sight::{prism, Scene};
//! use heritage::visible::{area_lost, prism_samples};
//! // A 40 m × 10 m wall facing an eye 100 m away; nothing in between: all of the front seen.
//! let fp = MultiPolygon(vec![polygon![(x: 100.0, y: -20.0), (x: 110.0, y: -20.0),
//!     (x: 110.0, y: 20.0), (x: 100.0, y: 20.0)]]);
//! let mut tris = Vec::new();
//! prism(&fp, 0.0, 10.0, 0, &mut tris);
//! let samples = prism_samples(&fp, 0.0, 10.0, 1.0);
//! let loss = area_lost(&[&Scene::new(tris)], &Scene::new(Vec::new()), [0.0, 0.0, 5.0], &samples);
//! assert_eq!((loss.visible, loss.lost), (400, 0));
//! ```

use crate::sight::Scene;
use geo::{Area, BoundingRect, Centroid, Contains};
use geo_types::{MultiPolygon, Point};
use rayon::prelude::*;
use serde::Serialize;
use twin_core::Twin;

/// The spacing of samples (m) unless a monument is so large that [`MAX_SAMPLES`] binds.
pub const DEFAULT_SPACING_M: f64 = 1.0;
/// The most samples over one monument (the spacing grows to keep within it).
pub const MAX_SAMPLES: usize = 40_000;

/// A point on a monument's surface with its outward unit normal.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// The point (x, y, orthometric z).
    pub p: [f64; 3],
    /// Its outward normal.
    pub n: [f64; 3],
}

/// A solid of a monument: an outline extruded from `base` to `top` (orthometric m).
#[derive(Clone, Debug, PartialEq)]
pub struct Solid {
    /// Outline (project CRS).
    pub footprint: MultiPolygon<f64>,
    /// Its base.
    pub base: f64,
    /// Its top.
    pub top: f64,
}

fn signed_area(r: &[(f64, f64)]) -> f64 {
    let n = r.len();
    (0..n)
        .map(|i| {
            let (a, b) = (r[i], r[(i + 1) % n]);
            a.0 * b.1 - b.0 * a.1
        })
        .sum::<f64>()
        / 2.0
}

/// Samples over a prism's walls and roof, at the centres of cells of about `spacing` m (a
/// whole number of cells along each wall and up it), the spacing grown so that there are at
/// most [`MAX_SAMPLES`].
pub fn prism_samples(
    footprint: &MultiPolygon<f64>,
    base: f64,
    top: f64,
    spacing: f64,
) -> Vec<Sample> {
    use twin_core::rings::clean_ring;
    let h = top - base;
    if !(h > 0.0 && spacing > 0.0 && spacing.is_finite()) {
        return Vec::new();
    }
    let perimeter: f64 = footprint
        .0
        .iter()
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        .map(|r| geo::Length::length(&geo::Euclidean, r))
        .sum();
    let estimate = (perimeter * h + footprint.unsigned_area()) / (spacing * spacing);
    let spacing = if estimate > MAX_SAMPLES as f64 {
        spacing * (estimate / MAX_SAMPLES as f64).sqrt() * 1.05
    } else {
        spacing
    };
    let cells = |len: f64| ((len / spacing - 1e-9).ceil().max(1.0)) as usize;
    let mut out = Vec::new();
    let nv = cells(h);
    for poly in &footprint.0 {
        let rings = std::iter::once((poly.exterior(), false))
            .chain(poly.interiors().iter().map(|r| (r, true)));
        for (ring, hole) in rings {
            let Some(r) = clean_ring(ring) else { continue };
            // Outward from the solid: right of the edges of a counter-clockwise outline, left
            // of a counter-clockwise hole's.
            let right = (signed_area(&r) > 0.0) != hole;
            for i in 0..r.len() {
                let (a, b) = (r[i], r[(i + 1) % r.len()]);
                let (dx, dy) = (b.0 - a.0, b.1 - a.1);
                let len = dx.hypot(dy);
                if len == 0.0 {
                    continue;
                }
                let n = if right {
                    [dy / len, -dx / len, 0.0]
                } else {
                    [-dy / len, dx / len, 0.0]
                };
                let nu = cells(len);
                for u in 0..nu {
                    let f = (u as f64 + 0.5) / nu as f64;
                    for v in 0..nv {
                        let z = base + h * (v as f64 + 0.5) / nv as f64;
                        out.push(Sample {
                            p: [a.0 + f * dx, a.1 + f * dy, z],
                            n,
                        });
                    }
                }
            }
        }
        let Some(bb) = poly.bounding_rect() else {
            continue;
        };
        let (nx, ny) = (cells(bb.width()), cells(bb.height()));
        for i in 0..nx {
            for j in 0..ny {
                let x = bb.min().x + bb.width() * (i as f64 + 0.5) / nx as f64;
                let y = bb.min().y + bb.height() * (j as f64 + 0.5) / ny as f64;
                if poly.contains(&Point::new(x, y)) {
                    out.push(Sample {
                        p: [x, y, top],
                        n: [0.0, 0.0, 1.0],
                    });
                }
            }
        }
    }
    out
}

/// What a proposal does to a monument's surface seen from a viewpoint.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct AreaLoss {
    /// Samples over the monument.
    pub samples: usize,
    /// Of those, seen from the viewpoint today.
    pub visible: usize,
    /// Of those, hidden by the proposal.
    pub lost: usize,
}

impl AreaLoss {
    /// The share of the visible surface lost (0 when none is visible).
    pub fn fraction(&self) -> f64 {
        if self.visible == 0 {
            0.0
        } else {
            self.lost as f64 / self.visible as f64
        }
    }
}

/// The samples seen from `eye` in the scenes `before` (facing it, nothing strictly between in
/// any of them), and how many of them the triangles of `proposal` hide.
pub fn area_lost(
    before: &[&Scene],
    proposal: &Scene,
    eye: [f64; 3],
    samples: &[Sample],
) -> AreaLoss {
    let (visible, lost) = samples
        .par_iter()
        .map(|s| {
            let to_eye = [eye[0] - s.p[0], eye[1] - s.p[1], eye[2] - s.p[2]];
            let facing = s.n[0] * to_eye[0] + s.n[1] * to_eye[1] + s.n[2] * to_eye[2] > 0.0;
            if !facing || before.iter().any(|b| b.occluded(eye, s.p)) {
                return (0usize, 0usize);
            }
            (1, proposal.occluded(eye, s.p) as usize)
        })
        .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    AreaLoss {
        samples: samples.len(),
        visible,
        lost,
    }
}

/// The solids of a monument (heritage site `site`): the twin's buildings whose footprint's
/// centroid lies inside the site's outline; when there is none, the outline itself as a prism
/// `default_height` m above its lowest ground.
pub fn monument_solids(twin: &Twin, site: usize, default_height: f64) -> Vec<Solid> {
    let outline = &twin.heritage.features()[site].polygon;
    let mut out: Vec<Solid> = twin
        .buildings
        .query_multipolygon(outline)
        .unwrap_or_default()
        .into_iter()
        .map(|i| &twin.buildings.features()[i])
        .filter(|b| b.footprint.centroid().is_some_and(|c| outline.contains(&c)))
        .map(|b| {
            let base = twin_core::ground::building_base(&twin.terrain, b);
            Solid {
                footprint: b.footprint.clone(),
                base,
                top: base + b.height,
            }
        })
        .collect();
    if out.is_empty() {
        if let Some(base) = twin_core::ground::lowest_ground(&twin.terrain, outline) {
            out.push(Solid {
                footprint: outline.clone(),
                base,
                top: base + default_height,
            });
        }
    }
    out
}

/// The samples over a monument's solids and the triangles of the solids themselves (which hide
/// their own far sides and recesses), solid by solid.
pub fn monument_samples(solids: &[Solid]) -> (Vec<Sample>, Scene) {
    let mut samples = Vec::new();
    let mut tris = Vec::new();
    for (k, m) in solids.iter().enumerate() {
        samples.extend(prism_samples(
            &m.footprint,
            m.base,
            m.top,
            DEFAULT_SPACING_M,
        ));
        crate::sight::prism(&m.footprint, m.base, m.top, k as u32, &mut tris);
    }
    (samples, Scene::new(tris))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sight::{prism, Tri};
    use geo_types::polygon;

    fn boxed(x0: f64, y0: f64, x1: f64, y1: f64) -> MultiPolygon<f64> {
        MultiPolygon(vec![
            polygon![(x: x0, y: y0), (x: x1, y: y0), (x: x1, y: y1), (x: x0, y: y1)],
        ])
    }

    fn ground(out: &mut Vec<Tri>) {
        out.push(Tri::of(
            9,
            [-1e4, -1e4, 0.0],
            [1e4, -1e4, 0.0],
            [1e4, 1e4, 0.0],
        ));
        out.push(Tri::of(
            9,
            [-1e4, -1e4, 0.0],
            [1e4, 1e4, 0.0],
            [-1e4, 1e4, 0.0],
        ));
    }

    /// A box hiding a known fraction of a wall, by similar triangles. The eye at (0, 0, 5); the
    /// monument a box 40 m wide (y −20..20), 10 m high, its front wall at x = 100 (the only
    /// face seen: the roof is above the eye, the side walls face away). A proposal 1 m thick
    /// half way (x 49.5..50.5) spanning y −5..2.5 and 6 m high throws a shadow twice its size
    /// on the wall: y −10..5 (15 of 40 m; its thickness widens it by 0.1 m, under half a cell)
    /// and up to z = 5 + 2·(6 − 5) = 7 m (7 of 10 m): 105 of 400 m², 26.25 %.
    #[test]
    fn a_box_hides_a_known_fraction_of_a_wall() {
        let monument = boxed(100.0, -20.0, 110.0, 20.0);
        let mut tris = Vec::new();
        prism(&monument, 0.0, 10.0, 0, &mut tris);
        ground(&mut tris);
        let before = Scene::new(tris);
        let mut p = Vec::new();
        prism(&boxed(49.5, -5.0, 50.5, 2.5), 0.0, 6.0, 1, &mut p);
        let proposal = Scene::new(p);
        let samples = prism_samples(&monument, 0.0, 10.0, 1.0);
        // Walls 2·(40 + 10)·10 cells of 1 m², the roof 40·10.
        assert_eq!(samples.len(), 1000 + 400);
        let loss = area_lost(&[&before], &proposal, [0.0, 0.0, 5.0], &samples);
        assert_eq!(loss.visible, 400);
        assert_eq!(loss.lost, 105);
        assert!((loss.fraction() - 0.2625).abs() < 1e-12);
        // Seen from above the roof (z 30) the roof is seen too, and a proposal beside the
        // line of sight hides nothing.
        let mut p = Vec::new();
        prism(&boxed(48.0, 40.0, 52.0, 45.0), 0.0, 60.0, 1, &mut p);
        let loss = area_lost(&[&before], &Scene::new(p), [0.0, 0.0, 30.0], &samples);
        assert_eq!((loss.visible, loss.lost), (800, 0));
    }

    /// A large outline: the spacing grows to keep within MAX_SAMPLES.
    #[test]
    fn samples_are_bounded() {
        let s = prism_samples(&boxed(0.0, 0.0, 2000.0, 2000.0), 0.0, 30.0, 1.0);
        assert!(
            s.len() <= MAX_SAMPLES && s.len() > MAX_SAMPLES / 2,
            "{}",
            s.len()
        );
        // Walls face outwards whichever way the outline turns.
        let cw = MultiPolygon(vec![
            polygon![(x: 0.0, y: 0.0), (x: 0.0, y: 10.0), (x: 10.0, y: 10.0), (x: 10.0, y: 0.0)],
        ]);
        for s in prism_samples(&cw, 0.0, 1.0, 1.0) {
            if s.n[2] == 0.0 {
                let out = [s.p[0] + s.n[0], s.p[1] + s.n[1]];
                assert!(!(0.0..=10.0).contains(&out[0]) || !(0.0..=10.0).contains(&out[1]));
            }
        }
    }
}
