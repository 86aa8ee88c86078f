//! Protected views' threshold planes (in the manner of London's View Management Framework):
//! the surface through the assessment point's eye and the landmark's protected height, above
//! which a building breaks the view.
//!
//! The sight line is a straight (refracted) ray. Over a curved Earth the datum falls away from
//! the ray by `d²/2R`; refraction bends the ray back by a fraction of that. As in
//! `gdal_viewshed`, both are one term, `cc·d²/(2a)`, with `a` the WGS84 semi-major axis and `cc`
//! the curvature coefficient: 0.85714 by default (`1 − k` with the refraction coefficient
//! `k = 1/7`), 1 for curvature without refraction, 0 for a flat Earth. A ray leaving the eye at
//! height `z_v` that reaches height `z_l` at horizontal distance `D` is, at distance `d` along
//! the view, at
//!
//! ```text
//! h(d) = z_v + (z_l − z_v)·d/D − cc·d·(D − d)/(2a)
//! ```
//!
//! above the datum: the straight chord between the two heights, lowered in the middle by the
//! curvature term (and raised beyond the landmark, where `d > D`).
//!
//! ```
//! use heritage::plane::{ThresholdPlane, CC_DEFAULT, EARTH_A};
//! let p = ThresholdPlane::new([0.0, 0.0], 101.6, [4000.0, 0.0], 20.0, CC_DEFAULT);
//! // Half way: the chord (60.8 m) less 0.85714 · 2000 · 2000 / (2 · 6378137).
//! let mid = p.height_at([2000.0, 50.0]).unwrap();
//! assert!((mid - (60.8 - CC_DEFAULT * 2000.0 * 2000.0 / (2.0 * EARTH_A))).abs() < 1e-9);
//! // Behind the assessment point: no plane.
//! assert!(p.height_at([-10.0, 0.0]).is_none());
//! ```

use serde::Serialize;

/// The WGS84 semi-major axis (m), the Earth radius of the curvature term (as `gdal_viewshed`).
pub const EARTH_A: f64 = 6_378_137.0;

/// `gdal_viewshed`'s default curvature coefficient: `1 − 1/7` (refraction coefficient 1/7).
pub const CC_DEFAULT: f64 = 0.85714;

/// The curvature term `cc·d²/(2a)`: how far the datum at horizontal distance `d` (m) drops
/// below the (refracted) sight line that leaves the eye level.
pub fn curvature_drop(d: f64, cc: f64) -> f64 {
    cc * d * d / (2.0 * EARTH_A)
}

/// A threshold plane between an assessment point and a landmark, in the project CRS
/// (orthometric heights).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ThresholdPlane {
    /// The assessment point (x, y).
    pub from: [f64; 2],
    /// Eye height there (orthometric m: ground plus eye height above ground).
    pub from_z: f64,
    /// The landmark point (x, y).
    pub to: [f64; 2],
    /// The landmark's protected height (orthometric m).
    pub to_z: f64,
    /// Curvature coefficient (see the module docs).
    pub cc: f64,
}

impl ThresholdPlane {
    /// The plane from `from` at `from_z` to `to` at `to_z`.
    pub fn new(from: [f64; 2], from_z: f64, to: [f64; 2], to_z: f64, cc: f64) -> ThresholdPlane {
        ThresholdPlane {
            from,
            from_z,
            to,
            to_z,
            cc,
        }
    }

    /// Horizontal distance from the assessment point to the landmark (m).
    pub fn length(&self) -> f64 {
        (self.to[0] - self.from[0]).hypot(self.to[1] - self.from[1])
    }

    /// Distance along the view (the projection of `p` on the line from the assessment point
    /// towards the landmark), m; negative behind the assessment point.
    pub fn along(&self, p: [f64; 2]) -> f64 {
        let l = self.length();
        if l <= 0.0 {
            return 0.0;
        }
        ((p[0] - self.from[0]) * (self.to[0] - self.from[0])
            + (p[1] - self.from[1]) * (self.to[1] - self.from[1]))
            / l
    }

    /// The plane's height (orthometric m) at horizontal distance `d` along the view.
    pub fn height_at_distance(&self, d: f64) -> f64 {
        let l = self.length();
        let chord = if l > 0.0 {
            self.from_z + (self.to_z - self.from_z) * d / l
        } else {
            self.from_z
        };
        chord - self.cc * d * (l - d) / (2.0 * EARTH_A)
    }

    /// The plane's height over `p` (orthometric m); none behind the assessment point.
    pub fn height_at(&self, p: [f64; 2]) -> Option<f64> {
        let d = self.along(p);
        (d > 0.0).then(|| self.height_at_distance(d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plane is the straight ray of the curvature model: at every distance its height
    /// above the curved datum plus the datum's drop lies on one straight line.
    #[test]
    fn the_plane_is_a_straight_ray_over_the_curved_datum() {
        let p = ThresholdPlane::new([100.0, 200.0], 110.0, [3100.0, 4200.0], 25.0, 1.0);
        assert!((p.length() - 5000.0).abs() < 1e-9);
        assert!((p.height_at_distance(0.0) - 110.0).abs() < 1e-12);
        assert!((p.height_at_distance(5000.0) - 25.0).abs() < 1e-12);
        // In the frame of the tangent plane at the eye the datum lies d²/2a below, so the
        // plane's height there, h(d) − d²/2a, is a straight line in d: the ray.
        let ray = |d: f64| p.height_at_distance(d) - curvature_drop(d, 1.0);
        let slope = (ray(5000.0) - ray(0.0)) / 5000.0;
        for d in [500.0, 1234.5, 2500.0, 4999.0, 6000.0] {
            assert!((ray(d) - (ray(0.0) + slope * d)).abs() < 1e-9, "{d}");
        }
        // Flat Earth: the chord.
        let flat = ThresholdPlane { cc: 0.0, ..p };
        assert!((flat.height_at_distance(2500.0) - 67.5).abs() < 1e-12);
        // The sag at the middle, 0.85714 · 2500² / 2a.
        let refr = ThresholdPlane {
            cc: CC_DEFAULT,
            ..p
        };
        let sag = flat.height_at_distance(2500.0) - refr.height_at_distance(2500.0);
        assert!((sag - 0.85714 * 2500.0 * 2500.0 / (2.0 * 6_378_137.0)).abs() < 1e-12);
        assert!((sag - 0.419_99).abs() < 1e-4, "{sag}");
        // Along the view: a point off the axis projects onto it.
        assert!(
            (p.along([
                100.0 + 0.6 * 1000.0 - 0.8 * 50.0,
                200.0 + 0.8 * 1000.0 + 0.6 * 50.0
            ]) - 1000.0)
                .abs()
                < 1e-9
        );
    }
}
