//! The XYZ tile scheme of web maps (Web Mercator, EPSG:3857): tile ids, their WGS84 bounds,
//! the tile maths ([`mercator`]), and the contract of a basemap drawer ([`BasemapDrawer`]).
//!
//! The drawer is a trait so that the HTTP server can serve the twin's basemap without
//! depending on the GPU crate (ADR 0006, ADR 0022): `renderer` implements it, the `twin`
//! binary hands the implementation to the server, as it does the GPU flood solver.

pub mod mercator;

use crate::error::{Result, TwinError};
use crate::Twin;

/// Lowest zoom a basemap draws.
pub const MIN_ZOOM: u8 = 10;
/// Highest zoom a basemap draws.
pub const MAX_ZOOM: u8 = 19;

/// One tile of the XYZ scheme (x to the east, y to the south, from the north-west corner).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TileId {
    /// Zoom, [`MIN_ZOOM`]..=[`MAX_ZOOM`].
    pub z: u8,
    /// Column, below 2^z.
    pub x: u32,
    /// Row, below 2^z.
    pub y: u32,
}

impl TileId {
    /// A checked tile id.
    ///
    /// ```
    /// use twin_core::xyz::TileId;
    /// assert!(TileId::new(14, 13088, 7431).is_ok());
    /// assert!(TileId::new(9, 0, 0).is_err());
    /// assert!(TileId::new(10, 1024, 0).is_err());
    /// ```
    pub fn new(z: u8, x: u32, y: u32) -> Result<TileId> {
        if !(MIN_ZOOM..=MAX_ZOOM).contains(&z) {
            return Err(TwinError::invalid(
                "basemap tile",
                format!("{z}/{x}/{y}: zoom must be in {MIN_ZOOM}..={MAX_ZOOM}"),
            ));
        }
        let n = 1u32 << z;
        if x >= n || y >= n {
            return Err(TwinError::invalid(
                "basemap tile",
                format!("{z}/{x}/{y}: x and y must be below 2^{z} = {n}"),
            ));
        }
        Ok(TileId { z, x, y })
    }

    /// WGS84 bounds (lon_min, lat_min, lon_max, lat_max).
    pub fn bounds(&self) -> [f64; 4] {
        let (w, n) = mercator::lon_lat(f64::from(self.x), f64::from(self.y), self.z, 1);
        let (e, s) = mercator::lon_lat(f64::from(self.x + 1), f64::from(self.y + 1), self.z, 1);
        [w, s, e, n]
    }

    /// The tiles of zoom `z` that cover a WGS84 box (lon_min, lat_min, lon_max, lat_max).
    ///
    /// ```
    /// use twin_core::xyz::TileId;
    /// let t = TileId::covering([107.5785, 16.4695, 107.5785, 16.4695], 14);
    /// assert_eq!((t[0].x, t[0].y), (13088, 7431));
    /// ```
    pub fn covering(bbox: [f64; 4], z: u8) -> Vec<TileId> {
        let (x0, y0) = mercator::world_pixel(bbox[0], bbox[3], z, 1);
        let (x1, y1) = mercator::world_pixel(bbox[2], bbox[1], z, 1);
        let max = (1u32 << z) - 1;
        let c = |v: f64| (v.floor().max(0.0) as u32).min(max);
        let mut out = Vec::new();
        for y in c(y0)..=c(y1) {
            for x in c(x0)..=c(x1) {
                out.push(TileId { z, x, y });
            }
        }
        out
    }
}

/// Draws basemap tiles of a twin as PNG. `renderer::basemap::Drawer` draws them with wgpu;
/// the server takes any implementation through its configuration and answers 503 when
/// [`BasemapDrawer::ready`] fails.
pub trait BasemapDrawer: Send + Sync + std::fmt::Debug {
    /// Make the drawer ready (open a device, build pipelines; lazily, once) and say what it
    /// draws on; an error means no tile can be drawn (no adapter).
    fn ready(&self) -> Result<String>;

    /// One tile of `twin`, `tile_size` pixels square (256, or 512 for `@2x`), as PNG bytes
    /// (RGBA, transparent where the twin has nothing).
    fn draw_png(&self, twin: &Twin, tile: TileId, tile_size: u32) -> Result<Vec<u8>>;
}
