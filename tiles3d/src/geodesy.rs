//! Coordinates for 3D Tiles: project CRS → WGS84 lon/lat through PROJ, orthometric → ellipsoidal
//! heights (the EGM96 geoid grid through PROJ, or the twin's constant offset), the exact WGS84
//! ellipsoid formulas to ECEF, east-north-up frames for tile transforms, and `region` bounding
//! volumes.

use crate::error::Result;
use twin_core::crs::{Crs, Reprojector, Transform, WGS84, WGS84_3D};

/// WGS84 semi-major axis, metres.
pub const WGS84_A: f64 = 6_378_137.0;
/// WGS84 flattening.
pub const WGS84_F: f64 = 1.0 / 298.257_223_563;
const E2: f64 = WGS84_F * (2.0 - WGS84_F);

/// The geoid grid file looked for (shipped by Debian's `proj-data`).
pub const GEOID_GRID: &str = "egm96_15.gtx";
/// A PROJ CRS whose heights are EGM96 orthometric heights; transformed to EPSG:4979 it turns an
/// orthometric height into an ellipsoidal one.
pub const GEOID_CRS: &str = "+proj=longlat +datum=WGS84 +geoidgrids=egm96_15.gtx +type=crs";

/// Geodetic (longitude, latitude in degrees, ellipsoidal height in metres) to ECEF metres.
pub fn geodetic_to_ecef(lon_deg: f64, lat_deg: f64, h: f64) -> [f64; 3] {
    let (lon, lat) = (lon_deg.to_radians(), lat_deg.to_radians());
    let (sl, cl) = lat.sin_cos();
    let n = WGS84_A / (1.0 - E2 * sl * sl).sqrt();
    [
        (n + h) * cl * lon.cos(),
        (n + h) * cl * lon.sin(),
        (n * (1.0 - E2) + h) * sl,
    ]
}

/// ECEF metres to geodetic (longitude, latitude in degrees, ellipsoidal height in metres), by
/// Bowring's method refined by iteration (sub-millimetre anywhere near the surface).
pub fn ecef_to_geodetic(p: [f64; 3]) -> (f64, f64, f64) {
    let [x, y, z] = p;
    let lon = y.atan2(x);
    let r = x.hypot(y);
    let mut lat = z.atan2(r * (1.0 - E2));
    let mut h = 0.0;
    for _ in 0..6 {
        let sl = lat.sin();
        let n = WGS84_A / (1.0 - E2 * sl * sl).sqrt();
        h = if lat.cos().abs() > 1e-9 {
            r / lat.cos() - n
        } else {
            z.abs() - n * (1.0 - E2)
        };
        lat = z.atan2(r * (1.0 - E2 * n / (n + h)));
    }
    (lon.to_degrees(), lat.to_degrees(), h)
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// An east-north-up frame at a point of the ellipsoid: the local frame of one tile.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Frame {
    /// The origin in ECEF.
    pub origin: [f64; 3],
    /// Unit east vector in ECEF.
    pub east: [f64; 3],
    /// Unit north vector in ECEF.
    pub north: [f64; 3],
    /// Unit up vector (the ellipsoid normal) in ECEF.
    pub up: [f64; 3],
}

impl Frame {
    /// The ENU frame at longitude/latitude (degrees) and ellipsoidal height (metres).
    pub fn enu(lon_deg: f64, lat_deg: f64, h: f64) -> Frame {
        let (lon, lat) = (lon_deg.to_radians(), lat_deg.to_radians());
        let (so, co) = lon.sin_cos();
        let (sa, ca) = lat.sin_cos();
        Frame {
            origin: geodetic_to_ecef(lon_deg, lat_deg, h),
            east: [-so, co, 0.0],
            north: [-sa * co, -sa * so, ca],
            up: [ca * co, ca * so, sa],
        }
    }

    /// ECEF to this frame's (east, north, up).
    pub fn to_local(&self, p: [f64; 3]) -> [f64; 3] {
        let d = sub(p, self.origin);
        [dot(d, self.east), dot(d, self.north), dot(d, self.up)]
    }

    /// A direction (unit vector) in ECEF to this frame's (east, north, up).
    pub fn dir_to_local(&self, v: [f64; 3]) -> [f64; 3] {
        [dot(v, self.east), dot(v, self.north), dot(v, self.up)]
    }

    /// This frame's (east, north, up) to ECEF.
    pub fn to_world(&self, l: [f64; 3]) -> [f64; 3] {
        let mut out = self.origin;
        for (i, o) in out.iter_mut().enumerate() {
            *o += l[0] * self.east[i] + l[1] * self.north[i] + l[2] * self.up[i];
        }
        out
    }

    /// The 4×4 column-major matrix from this frame to ECEF (a 3D Tiles `transform`).
    pub fn matrix(&self) -> [f64; 16] {
        let (e, n, u, o) = (self.east, self.north, self.up, self.origin);
        [
            e[0], e[1], e[2], 0.0, n[0], n[1], n[2], 0.0, u[0], u[1], u[2], 0.0, o[0], o[1], o[2],
            1.0,
        ]
    }

    /// The column-major matrix from this frame to `parent`'s frame: the `transform` of a child
    /// tile whose parent's world transform is `parent` (3D Tiles multiplies them down the tree).
    pub fn relative_to(&self, parent: &Frame) -> [f64; 16] {
        let cols = [self.east, self.north, self.up];
        let mut m = [0.0; 16];
        for (c, v) in cols.iter().enumerate() {
            let l = parent.dir_to_local(*v);
            m[c * 4..c * 4 + 3].copy_from_slice(&l);
        }
        let t = parent.to_local(self.origin);
        m[12..15].copy_from_slice(&t);
        m[15] = 1.0;
        m
    }
}

/// glTF is y-up: a local (east, north, up) position becomes glTF (east, up, −north), which the
/// 3D Tiles runtime rotates back to z-up before the tile transform.
pub fn enu_to_gltf(l: [f64; 3]) -> [f32; 3] {
    [l[0] as f32, l[2] as f32, -l[1] as f32]
}

/// How orthometric heights became ellipsoidal ones.
#[derive(Clone, Debug, PartialEq)]
pub enum GeoidModel {
    /// A geoid grid applied through PROJ (the file name).
    Grid(String),
    /// The twin's constant undulation N (metres), `geoid_offset_m` in twin.toml.
    Constant(f64),
}

impl GeoidModel {
    /// A sentence for the CLI and `asset.extras`.
    pub fn describe(&self) -> String {
        match self {
            GeoidModel::Grid(g) => format!("EGM96 geoid grid {g} through PROJ"),
            GeoidModel::Constant(n) => {
                format!("constant geoid offset N = {n} m (twin.toml geoid_offset_m)")
            }
        }
    }
}

/// Which geoid to use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GeoidChoice {
    /// The EGM96 grid through PROJ when PROJ finds it, else the constant offset.
    #[default]
    Auto,
    /// Always the constant offset.
    Constant,
}

/// The EGM96 undulation at a lon/lat through PROJ, or None when PROJ does not find the grid
/// (PROJ then falls back to a transformation without it, which gives 0 everywhere).
fn grid_transform() -> Option<Transform> {
    let t = Transform::between(GEOID_CRS, WGS84_3D).ok()?;
    // Probe a few points on different continents; a missing grid leaves heights unchanged.
    let probes = [(0.0, 0.0), (107.58, 16.47), (4.37, 52.0), (-105.3, 40.0)];
    let moved = probes
        .iter()
        .filter_map(|&(lon, lat)| t.apply3(lon, lat, 0.0).ok())
        .any(|(_, _, n)| n.abs() > 1e-6);
    moved.then_some(t)
}

/// Project CRS → lon/lat, one per thread (PROJ objects are not shared between threads).
#[derive(Debug)]
pub struct Projector {
    to_lonlat: Reprojector,
}

impl Projector {
    /// A projector from the twin's project CRS to WGS84 lon/lat.
    pub fn new(crs: &Crs) -> Result<Projector> {
        Ok(Projector {
            to_lonlat: Reprojector::new(crs, &Crs::parse(WGS84)?)?,
        })
    }

    /// Project CRS (x, y) to (lon, lat) degrees.
    pub fn lonlat(&self, x: f64, y: f64) -> Result<(f64, f64)> {
        Ok(self.to_lonlat.apply(x, y)?)
    }
}

/// The geoid undulation N sampled on a regular lattice over the layer's extent in the project
/// CRS and interpolated bilinearly, so every vertex gets a smooth, deterministic N without a
/// PROJ call (the EGM96 grid itself is 15′, about 27 km, so a sub-kilometre lattice loses
/// nothing).
#[derive(Clone, Debug)]
pub struct GeoidLattice {
    model: GeoidModel,
    x0: f64,
    y0: f64,
    step: f64,
    nx: usize,
    ny: usize,
    values: Vec<f64>,
}

impl GeoidLattice {
    /// Sample the geoid over `extent` (xmin, ymin, xmax, ymax in the project CRS).
    pub fn new(
        crs: &Crs,
        extent: [f64; 4],
        choice: GeoidChoice,
        offset_m: f64,
    ) -> Result<GeoidLattice> {
        let grid = match choice {
            GeoidChoice::Auto => grid_transform(),
            GeoidChoice::Constant => None,
        };
        let Some(grid) = grid else {
            return Ok(GeoidLattice {
                model: GeoidModel::Constant(offset_m),
                x0: extent[0],
                y0: extent[1],
                step: 1.0,
                nx: 1,
                ny: 1,
                values: vec![offset_m],
            });
        };
        let proj = Projector::new(crs)?;
        let (w, h) = (extent[2] - extent[0], extent[3] - extent[1]);
        // About 500 m, at most 256 nodes a side.
        let step = (w.max(h) / 255.0).max(500.0);
        let nx = (w / step).ceil() as usize + 2;
        let ny = (h / step).ceil() as usize + 2;
        let mut values = Vec::with_capacity(nx * ny);
        for j in 0..ny {
            for i in 0..nx {
                let (x, y) = (extent[0] + i as f64 * step, extent[1] + j as f64 * step);
                let (lon, lat) = proj.lonlat(x, y)?;
                values.push(grid.apply3(lon, lat, 0.0)?.2);
            }
        }
        Ok(GeoidLattice {
            model: GeoidModel::Grid(GEOID_GRID.into()),
            x0: extent[0],
            y0: extent[1],
            step,
            nx,
            ny,
            values,
        })
    }

    /// The model the lattice samples.
    pub fn model(&self) -> &GeoidModel {
        &self.model
    }

    fn node(&self, i: usize, j: usize) -> f64 {
        self.values[j * self.nx + i]
    }

    fn cell(&self, x: f64, y: f64) -> (usize, usize, f64, f64) {
        let fx = ((x - self.x0) / self.step).clamp(0.0, (self.nx - 1) as f64);
        let fy = ((y - self.y0) / self.step).clamp(0.0, (self.ny - 1) as f64);
        let i = (fx.floor() as usize).min(self.nx.saturating_sub(2));
        let j = (fy.floor() as usize).min(self.ny.saturating_sub(2));
        (i, j, fx - i as f64, fy - j as f64)
    }

    /// N (ellipsoidal − orthometric height, metres) at a point of the project CRS.
    pub fn at(&self, x: f64, y: f64) -> f64 {
        if self.values.len() == 1 {
            return self.values[0];
        }
        let (i, j, tx, ty) = self.cell(x, y);
        let a = self.node(i, j) * (1.0 - tx) + self.node(i + 1, j) * tx;
        let b = self.node(i, j + 1) * (1.0 - tx) + self.node(i + 1, j + 1) * tx;
        a * (1.0 - ty) + b * ty
    }

    /// (min, max) of N over a rectangle (xmin, ymin, xmax, ymax): bilinear pieces take their
    /// extremes at the rectangle's corners or at lattice nodes inside it.
    pub fn range(&self, r: [f64; 4]) -> (f64, f64) {
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        let mut take = |v: f64| {
            lo = lo.min(v);
            hi = hi.max(v);
        };
        for (x, y) in [(r[0], r[1]), (r[2], r[1]), (r[0], r[3]), (r[2], r[3])] {
            take(self.at(x, y));
        }
        if self.values.len() > 1 {
            let (i0, j0, _, _) = self.cell(r[0], r[1]);
            let (i1, j1, _, _) = self.cell(r[2], r[3]);
            for j in j0..=(j1 + 1).min(self.ny - 1) {
                for i in i0..=(i1 + 1).min(self.nx - 1) {
                    let (x, y) = (
                        self.x0 + i as f64 * self.step,
                        self.y0 + j as f64 * self.step,
                    );
                    if x >= r[0] && x <= r[2] && y >= r[1] && y <= r[3] {
                        take(self.node(i, j));
                    }
                }
            }
        }
        (lo, hi)
    }
}

/// A 3D Tiles `region`: west, south, east, north in radians (EPSG:4979) and minimum and maximum
/// ellipsoidal heights in metres. Regions are not affected by tile transforms.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Region {
    /// West longitude, radians.
    pub west: f64,
    /// South latitude, radians.
    pub south: f64,
    /// East longitude, radians.
    pub east: f64,
    /// North latitude, radians.
    pub north: f64,
    /// Minimum ellipsoidal height, metres.
    pub min_h: f64,
    /// Maximum ellipsoidal height, metres.
    pub max_h: f64,
}

/// Metres added around every region: covers float32 positions, the slight curvature of projected
/// straight edges in lon/lat, and round-off.
pub const REGION_PAD_M: f64 = 1.0;

impl Region {
    /// The region of a rectangle of the project CRS between two ellipsoidal heights: its boundary
    /// is densified and projected (a smooth map takes its lon/lat extremes on the boundary), then
    /// padded by [`REGION_PAD_M`].
    pub fn from_rect(proj: &Projector, r: [f64; 4], min_h: f64, max_h: f64) -> Result<Region> {
        Region::from_rect_steps(proj, r, min_h, max_h, 8)
    }

    /// [`Region::from_rect`] with each side cut in `steps` (1: the corners only, enough for a
    /// feature's box, where a side's bow in lon/lat is far below the padding).
    pub fn from_rect_steps(
        proj: &Projector,
        r: [f64; 4],
        min_h: f64,
        max_h: f64,
        steps: usize,
    ) -> Result<Region> {
        let steps = steps.max(1);
        let mut lon = (f64::INFINITY, f64::NEG_INFINITY);
        let mut lat = (f64::INFINITY, f64::NEG_INFINITY);
        for k in 0..=steps {
            let t = k as f64 / steps as f64;
            let x = r[0] + (r[2] - r[0]) * t;
            let y = r[1] + (r[3] - r[1]) * t;
            for (px, py) in [(x, r[1]), (x, r[3]), (r[0], y), (r[2], y)] {
                let (lo, la) = proj.lonlat(px, py)?;
                lon = (lon.0.min(lo), lon.1.max(lo));
                lat = (lat.0.min(la), lat.1.max(la));
            }
        }
        let dlat = REGION_PAD_M / 6_335_000.0; // radians per metre northward, at the minimum radius
        let coslat = lat.0.abs().max(lat.1.abs()).to_radians().cos().max(1e-6);
        let dlon = dlat / coslat;
        Ok(Region {
            west: lon.0.to_radians() - dlon,
            south: lat.0.to_radians() - dlat,
            east: lon.1.to_radians() + dlon,
            north: lat.1.to_radians() + dlat,
            min_h: min_h - REGION_PAD_M,
            max_h: max_h + REGION_PAD_M,
        })
    }

    /// The smallest region holding both.
    pub fn union(&self, o: &Region) -> Region {
        Region {
            west: self.west.min(o.west),
            south: self.south.min(o.south),
            east: self.east.max(o.east),
            north: self.north.max(o.north),
            min_h: self.min_h.min(o.min_h),
            max_h: self.max_h.max(o.max_h),
        }
    }

    /// True when the point (lon, lat in degrees, ellipsoidal height) is inside.
    pub fn contains(&self, lon_deg: f64, lat_deg: f64, h: f64) -> bool {
        let (lon, lat) = (lon_deg.to_radians(), lat_deg.to_radians());
        lon >= self.west
            && lon <= self.east
            && lat >= self.south
            && lat <= self.north
            && h >= self.min_h
            && h <= self.max_h
    }

    /// The centre (lon, lat in degrees, height in metres).
    pub fn centre(&self) -> (f64, f64, f64) {
        (
            ((self.west + self.east) / 2.0).to_degrees(),
            ((self.south + self.north) / 2.0).to_degrees(),
            (self.min_h + self.max_h) / 2.0,
        )
    }

    /// The six numbers of a 3D Tiles `region`.
    pub fn to_array(&self) -> [f64; 6] {
        [
            self.west, self.south, self.east, self.north, self.min_h, self.max_h,
        ]
    }

    /// The length of the region's diagonal on the ground, metres (roughly).
    pub fn diagonal_m(&self) -> f64 {
        let lat = (self.south + self.north) / 2.0;
        let dx = (self.east - self.west) * WGS84_A * lat.cos();
        let dy = (self.north - self.south) * WGS84_A;
        let dz = self.max_h - self.min_h;
        (dx * dx + dy * dy + dz * dz).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecef_round_trip_and_known_point() {
        // The equator at the prime meridian is (a, 0, 0); the pole is (0, 0, b).
        let p = geodetic_to_ecef(0.0, 0.0, 0.0);
        assert!((p[0] - WGS84_A).abs() < 1e-9 && p[1].abs() < 1e-9 && p[2].abs() < 1e-9);
        let b = WGS84_A * (1.0 - WGS84_F);
        assert!((geodetic_to_ecef(0.0, 90.0, 0.0)[2] - b).abs() < 1e-6);
        for (lon, lat, h) in [
            (107.5788, 16.4673, 12.3),
            (-105.3, 40.0, 1650.0),
            (4.37, 52.0, -3.0),
        ] {
            let (lo, la, hh) = ecef_to_geodetic(geodetic_to_ecef(lon, lat, h));
            assert!((lo - lon).abs() < 1e-10 && (la - lat).abs() < 1e-10 && (hh - h).abs() < 1e-6);
        }
    }

    #[test]
    fn enu_frame_is_orthonormal_and_relative_transforms_compose() {
        let a = Frame::enu(107.57, 16.46, 0.0);
        let b = Frame::enu(107.59, 16.48, 10.0);
        for v in [a.east, a.north, a.up] {
            assert!((dot(v, v) - 1.0).abs() < 1e-12);
        }
        assert!(dot(a.east, a.north).abs() < 1e-12 && dot(a.north, a.up).abs() < 1e-12);
        // b's local point through b -> a (relative) -> world equals b -> world.
        let m = b.relative_to(&a);
        let l = [12.0, -30.0, 5.0];
        let in_a = [
            m[0] * l[0] + m[4] * l[1] + m[8] * l[2] + m[12],
            m[1] * l[0] + m[5] * l[1] + m[9] * l[2] + m[13],
            m[2] * l[0] + m[6] * l[1] + m[10] * l[2] + m[14],
        ];
        let w1 = a.to_world(in_a);
        let w2 = b.to_world(l);
        for i in 0..3 {
            assert!((w1[i] - w2[i]).abs() < 1e-6, "{w1:?} {w2:?}");
        }
        // North of the origin is +north locally and −z in glTF.
        let n = a.to_local(geodetic_to_ecef(107.57, 16.461, 0.0));
        assert!(n[1] > 100.0 && n[0].abs() < 1e-6);
        assert!(enu_to_gltf(n)[2] < -100.0);
    }
}
