//! The ground under a footprint: where buildings, heritage volumes and rendered boxes stand
//! when their source gives no base height.
//!
//! ```
//! use twin_core::ground::lowest_ground;
//! use twin_core::model::Dem;
//! use geo_types::{polygon, MultiPolygon};
//!
//! // A 3 x 3 DEM of 10 m cells rising to the east: 1, 2, 3 m.
//! let dem = Dem {
//!     name: "slope".into(), ncols: 3, nrows: 3, xmin: 0.0, ymax: 30.0, cell_x: 10.0, cell_y: 10.0,
//!     values: (0..9).map(|i| Some((i % 3 + 1) as f32)).collect(),
//! };
//! let fp = MultiPolygon(vec![polygon![(x: 12.0, y: 12.0), (x: 28.0, y: 12.0), (x: 28.0, y: 18.0)]]);
//! let z = lowest_ground(&[dem], &fp).unwrap();
//! assert!(z >= 1.0 && z < 3.0);
//! assert_eq!(lowest_ground(&[], &fp), None);
//! ```

use crate::model::{Building, Dem};
use geo_types::MultiPolygon;

/// The lowest value of `dem` under the exterior vertices of `footprint`; none when the DEM
/// covers none of them.
pub fn lowest_on(dem: &Dem, footprint: &MultiPolygon<f64>) -> Option<f64> {
    let lowest = footprint
        .0
        .iter()
        .flat_map(|p| p.exterior().0.iter())
        .filter_map(|c| dem.sample(c.x, c.y))
        .fold(f64::INFINITY, f64::min);
    lowest.is_finite().then_some(lowest)
}

/// The lowest ground under `footprint` from the first DEM of `terrain` that covers any of its
/// exterior vertices; none without such a DEM.
pub fn lowest_ground(terrain: &[Dem], footprint: &MultiPolygon<f64>) -> Option<f64> {
    terrain.iter().find_map(|dem| lowest_on(dem, footprint))
}

/// A building's base height (orthometric metres): its own when the source gave one (not 0) or
/// the twin has no terrain, else the lowest ground under its footprint (0 when none).
pub fn building_base(terrain: &[Dem], b: &Building) -> f64 {
    if b.base_height != 0.0 || terrain.is_empty() {
        return b.base_height;
    }
    lowest_ground(terrain, &b.footprint).unwrap_or(0.0)
}
