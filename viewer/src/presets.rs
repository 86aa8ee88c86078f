//! Camera presets: the whole city, the Citadel, the royal axis seen from Ngự Bình hill; and
//! the perspective cameras of the renderer crate turned into bevy transforms.

use crate::error::{Result, ViewerError};
use bevy::math::Vec3;
use bevy::transform::components::Transform;
use renderer::render::Camera;
use twin_core::{Crs, Transform as CrsTransform};

/// Ngự Bình hill, the royal screen of the Citadel (WGS84 lon, lat; public fact, also used by the
/// sample twin's generator).
pub const NGU_BINH_LONLAT: (f64, f64) = (107.5961, 16.4418);
/// Ngọ Môn, the Meridian Gate (WGS84 lon, lat).
pub const NGO_MON_LONLAT: (f64, f64) = (107.5792, 16.4677);
/// Eye height over Ngự Bình's ground (m): a person on the summit terrace.
pub const NGU_BINH_EYE_M: f64 = 25.0;

/// A named view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Preset {
    /// The whole twin from the south, high up.
    City,
    /// The Citadel along the royal axis from across the Perfume River (the renderer's
    /// `citadel` camera).
    Citadel,
    /// The royal axis from the summit of Ngự Bình towards Ngọ Môn.
    RoyalAxis,
}

/// What a preset needs of a scene: the project CRS, the extent, the floating origin and the
/// ground. A twin folder's scene and a server's stream both are one.
pub trait Place {
    /// The project CRS.
    fn crs(&self) -> &Crs;
    /// The extent (project CRS: xmin, ymin, xmax, ymax).
    fn extent(&self) -> [f64; 4];
    /// The floating origin (project CRS x, y).
    fn origin(&self) -> [f64; 2];
    /// The ground height (m, orthometric) at a point of the project CRS.
    fn ground(&self, x: f64, y: f64) -> f64;
    /// A title (the twin's name or the server's URL).
    fn title(&self) -> String;
}

/// A perspective view: eye in the project CRS, heading and pitch, vertical field of view.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct View {
    /// x, y (project CRS) and height (m) of the eye.
    pub eye: [f64; 3],
    /// Direction of view, degrees clockwise from north.
    pub heading_deg: f64,
    /// Degrees below the horizon.
    pub pitch_deg: f64,
    /// Vertical field of view, degrees.
    pub fov_deg: f64,
}

fn project(crs: &Crs, lonlat: (f64, f64)) -> Result<(f64, f64)> {
    let t = CrsTransform::new(&Crs::wgs84(), crs)
        .map_err(|e| ViewerError::invalid("project CRS", e))?;
    t.apply(lonlat.0, lonlat.1)
        .map_err(|e| ViewerError::invalid(format!("{lonlat:?}"), e))
}

impl View {
    /// The view of a renderer camera (perspective only).
    pub fn from_camera(c: &Camera) -> Option<View> {
        match *c {
            Camera::Perspective {
                eye,
                heading_deg,
                pitch_deg,
                fov_deg,
            } => Some(View {
                eye,
                heading_deg,
                pitch_deg,
                fov_deg,
            }),
            Camera::Map { .. } => None,
        }
    }

    /// The preset's view of a scene.
    pub fn preset(p: Preset, s: &dyn Place) -> Result<View> {
        match p {
            Preset::City => {
                let e = s.extent();
                let (cx, cy) = ((e[0] + e[2]) / 2.0, (e[1] + e[3]) / 2.0);
                let size = (e[2] - e[0]).max(e[3] - e[1]);
                let c = Camera::looking_at(
                    [cx, cy, s.ground(cx, cy)],
                    0.0,
                    0.75 * size,
                    0.55 * size,
                    50.0,
                );
                Ok(View::from_camera(&c).expect("looking_at is perspective"))
            }
            Preset::Citadel => {
                let c = Camera::citadel(s.crs())
                    .map_err(|e| ViewerError::scene("citadel preset", e))?;
                Ok(View::from_camera(&c).expect("citadel is perspective"))
            }
            Preset::RoyalAxis => {
                let (ex, ey) = project(s.crs(), NGU_BINH_LONLAT)?;
                let (tx, ty) = project(s.crs(), NGO_MON_LONLAT)?;
                let ez = s.ground(ex, ey) + NGU_BINH_EYE_M;
                let tz = s.ground(tx, ty) + 10.0;
                let (dx, dy) = (tx - ex, ty - ey);
                let dist = dx.hypot(dy);
                Ok(View {
                    eye: [ex, ey, ez],
                    heading_deg: dx.atan2(dy).to_degrees().rem_euclid(360.0),
                    pitch_deg: (ez - tz).atan2(dist).to_degrees(),
                    fov_deg: 30.0,
                })
            }
        }
    }

    /// Unit direction of view in the project frame (x east, y north, z up).
    pub fn direction(&self) -> [f64; 3] {
        let (h, p) = (self.heading_deg.to_radians(), self.pitch_deg.to_radians());
        [h.sin() * p.cos(), h.cos() * p.cos(), -p.sin()]
    }

    /// The camera's bevy transform in the local frame of a scene whose floating origin is
    /// `origin`.
    pub fn transform(&self, origin: [f64; 2]) -> Transform {
        let eye = Vec3::new(
            (self.eye[0] - origin[0]) as f32,
            self.eye[2] as f32,
            -(self.eye[1] - origin[1]) as f32,
        );
        let d = self.direction();
        let dir = Vec3::new(d[0] as f32, d[2] as f32, -d[1] as f32);
        Transform::from_translation(eye).looking_to(dir, Vec3::Y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_and_pitches_give_unit_directions() {
        let v = View {
            eye: [0.0; 3],
            heading_deg: 90.0,
            pitch_deg: 0.0,
            fov_deg: 40.0,
        };
        let d = v.direction();
        assert!((d[0] - 1.0).abs() < 1e-12 && d[1].abs() < 1e-12 && d[2].abs() < 1e-12);
        let v = View {
            pitch_deg: 90.0,
            ..v
        };
        assert!((v.direction()[2] + 1.0).abs() < 1e-12);
    }
}
