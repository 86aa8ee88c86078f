//! Polygon rings made ready for meshing: cleaned vertex lists, their signed area and their
//! triangulation. The 3D Tiles builder (`tile-server`) and the renderer (`renderer`) both extrude
//! building footprints from these.

use geo::TriangulateEarcut;
use geo_types::{Coord, LineString, Polygon};

/// Vertices closer than this (m) are one.
const SAME: f64 = 1e-3;

/// A ring's vertices without the closing one and without repeats (closer than 1 mm); None when
/// a coordinate is not finite or fewer than three vertices remain.
pub fn clean_ring(ring: &LineString<f64>) -> Option<Vec<(f64, f64)>> {
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(ring.0.len());
    for c in &ring.0 {
        if !(c.x.is_finite() && c.y.is_finite()) {
            return None;
        }
        if out
            .last()
            .is_none_or(|p| (p.0 - c.x).hypot(p.1 - c.y) > SAME)
        {
            out.push((c.x, c.y));
        }
    }
    while out.len() > 1 {
        let (f, l) = (out[0], out[out.len() - 1]);
        if (f.0 - l.0).hypot(f.1 - l.1) <= SAME {
            out.pop();
        } else {
            break;
        }
    }
    (out.len() >= 3).then_some(out)
}

/// Signed area of a ring (positive when counter-clockwise).
pub fn signed_area(r: &[(f64, f64)]) -> f64 {
    (0..r.len())
        .map(|i| {
            let (a, b) = (r[i], r[(i + 1) % r.len()]);
            a.0 * b.1 - b.0 * a.1
        })
        .sum::<f64>()
        / 2.0
}

/// Triangles (earcut) of a polygon given as cleaned rings, outer first, as indices into the
/// rings' vertices concatenated in order.
pub fn triangulate(rings: &[Vec<(f64, f64)>]) -> Vec<[usize; 3]> {
    let Some((outer, holes)) = rings.split_first() else {
        return Vec::new();
    };
    let ls = |r: &Vec<(f64, f64)>| LineString(r.iter().map(|&(x, y)| Coord { x, y }).collect());
    let poly = Polygon::new(ls(outer), holes.iter().map(ls).collect());
    poly.earcut_triangles_raw()
        .triangle_indices
        .chunks_exact(3)
        .map(|t| [t[0], t[1], t[2]])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(pts: &[(f64, f64)]) -> LineString<f64> {
        LineString::from(pts.to_vec())
    }

    #[test]
    fn rings_are_cleaned() {
        let r = ring(&[
            (0.0, 0.0),
            (10.0, 0.0),
            (10.0, 0.0005),
            (10.0, 10.0),
            (0.0, 0.0),
        ]);
        assert_eq!(
            clean_ring(&r),
            Some(vec![(0.0, 0.0), (10.0, 0.0), (10.0, 10.0)])
        );
        assert_eq!(
            clean_ring(&ring(&[(0.0, 0.0), (1.0, 0.0), (0.0, 0.0)])),
            None
        );
        assert_eq!(
            clean_ring(&ring(&[
                (0.0, 0.0),
                (f64::NAN, 1.0),
                (1.0, 1.0),
                (2.0, 0.0)
            ])),
            None
        );
    }

    #[test]
    fn a_square_with_a_hole_is_triangulated() {
        let outer = vec![(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)];
        let hole = vec![(4.0, 4.0), (4.0, 6.0), (6.0, 6.0), (6.0, 4.0)];
        assert_eq!(signed_area(&outer), 100.0);
        assert_eq!(signed_area(&hole), -4.0);
        let rings = vec![outer, hole];
        let flat: Vec<(f64, f64)> = rings.iter().flatten().copied().collect();
        let tris = triangulate(&rings);
        assert_eq!(tris.len(), 8);
        let area: f64 = tris
            .iter()
            .map(|t| signed_area(&t.map(|i| flat[i])).abs())
            .sum();
        assert!((area - 96.0).abs() < 1e-9, "{area}");
        assert!(triangulate(&[]).is_empty());
    }
}
