//! The synthetic DEM: a low plain with gentle noise, the citadel slightly raised, hills to the
//! south and west, and the river channels cut below sea level; sampled on a grid in the
//! project CRS (EPSG:32648) through PROJ.

use super::facts;
use super::geom::{in_ring, nearest_on_ring, polyline_dist, ring_dist, smoothstep, P};
use super::water::Water;
use super::Ctx;
use twin_core::crs::Transform;
use twin_core::error::Result;

/// Cell size of the DEM, metres.
pub const CELL_M: f64 = 30.0;
/// Value written for cells without data (none in the sample, but the header needs one).
pub const NODATA: i32 = -9999;

/// The DEM grid.
#[derive(Clone, Debug)]
pub struct Grid {
    /// Columns.
    pub ncols: usize,
    /// Rows.
    pub nrows: usize,
    /// West edge, EPSG:32648 metres.
    pub xll: f64,
    /// South edge, EPSG:32648 metres.
    pub yll: f64,
    /// Elevations in centimetres, row-major from the north row.
    pub cm: Vec<i32>,
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A lattice value in [-1, 1].
fn lattice(ix: i64, iy: i64, seed: u64) -> f64 {
    let h = splitmix(
        (ix as u64).wrapping_mul(0x9E37_79B9)
            ^ (iy as u64).wrapping_mul(0x85EB_CA6B).rotate_left(17)
            ^ seed,
    );
    (h >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
}

/// Smooth value noise with lattice spacing `scale` metres, in [-1, 1].
pub fn value_noise(q: P, scale: f64, seed: u64) -> f64 {
    let (x, y) = (q.x / scale, q.y / scale);
    let (ix, iy) = (x.floor(), y.floor());
    let (fx, fy) = (x - ix, y - iy);
    let (sx, sy) = (fx * fx * (3.0 - 2.0 * fx), fy * fy * (3.0 - 2.0 * fy));
    let (ix, iy) = (ix as i64, iy as i64);
    let a = lattice(ix, iy, seed);
    let b = lattice(ix + 1, iy, seed);
    let c = lattice(ix, iy + 1, seed);
    let d = lattice(ix + 1, iy + 1, seed);
    let top = a + (b - a) * sx;
    let bot = c + (d - c) * sx;
    top + (bot - top) * sy
}

/// Three octaves of value noise, in [-1, 1].
pub fn fbm(q: P, scale: f64, seed: u64) -> f64 {
    0.6 * value_noise(q, scale, seed)
        + 0.3 * value_noise(q, scale / 2.1, seed ^ 1)
        + 0.1 * value_noise(q, scale / 4.3, seed ^ 2)
}

/// The land surface before the water is cut in.
pub struct Land {
    hills: Vec<(P, f64, f64, f64)>,
    wall: Vec<P>,
    /// The citadel's gates (public positions) moved onto the wall line.
    gates: Vec<P>,
    imperial_city: Vec<P>,
    nam_giao: P,
}

/// How much higher the Imperial City's terrace stands than the rest of the citadel's fill,
/// metres: calibrated so that the CPU solver's runs of `scenarios/examples/hue` flood the
/// Imperial City about 1.5 m deep at the 5.05 m Kim Long stage of 27 October 2025 and leave it
/// at most shallow at alarm 3 (3.5 m) (`scenarios/tests/hue_calibration.rs`).
pub const IMPERIAL_CITY_TERRACE_M: f64 = 0.15;

/// Half-width of a gate's opening in the wall ridge, metres (the ridge rises to its full height
/// over the next 30 m): wide enough for the 60 m grid of the flood scenarios to see the opening.
pub const GATE_OPEN_M: f64 = 30.0;

impl Land {
    /// The land model for the sample.
    pub fn new(ctx: &Ctx) -> Land {
        let f = &ctx.frame;
        Land {
            hills: facts::HILLS
                .iter()
                .map(|&(_, (lon, lat), h, s, k)| (f.to_local(lon, lat), h, s, k))
                .collect(),
            wall: ctx.wall.clone(),
            gates: facts::GATES
                .iter()
                .map(|g| nearest_on_ring(f.to_local(g.3 .0, g.3 .1), &ctx.wall))
                .collect(),
            imperial_city: ctx.imperial_city.clone(),
            nam_giao: f.to_local(facts::NAM_GIAO.0, facts::NAM_GIAO.1),
        }
    }

    /// The low plain: about 2.4–3.8 m, a little lower towards the lagoon in the north-east.
    pub fn plain(&self, q: P) -> f64 {
        3.1 + 0.7 * fbm(q, 900.0, 11) - 0.3 * smoothstep(2000.0, 5000.0, q.y + 0.5 * q.x)
    }

    /// Rolling foothills south and west of the city, metres above the plain: they start along a
    /// wavy line south of the An Cựu river, fade out to the east and near the Perfume River.
    pub fn foothills(&self, q: P, river_clear: &dyn Fn() -> f64) -> f64 {
        let wave = 500.0 * fbm(q, 2500.0, 5);
        let mut mask = smoothstep(-2300.0, -3500.0, q.y + wave)
            * (1.0 - smoothstep(2600.0, 3600.0, q.x - wave));
        if mask > 0.0 {
            mask *= smoothstep(80.0, 500.0, river_clear());
        }
        if mask > 0.0 {
            mask * (6.0 + 20.0 * (0.5 + 0.5 * fbm(q, 700.0, 23)))
        } else {
            0.0
        }
    }

    /// The named hills: the highest of their bell shapes at `q`, metres above sea level.
    pub fn named_hills(&self, q: P) -> f64 {
        self.hills.iter().fold(0.0, |z: f64, &(c, h, s, k)| {
            let r = q.dist(c) / s;
            if r > 4.0 {
                z
            } else {
                z.max(h * (-r.powf(k)).exp())
            }
        })
    }

    /// Height of the hills above the plain at `q` (0 on the plain).
    pub fn hills(&self, q: P, river_clear: &dyn Fn() -> f64) -> f64 {
        let plain = self.plain(q);
        (self.foothills(q, river_clear))
            .max(self.named_hills(q) - plain)
            .max(0.0)
    }

    /// Elevation of the land (no water), metres; `river_clear` is the distance from the
    /// Perfume River's banks (the foothills fade out next to it).
    pub fn elevation(&self, q: P, river_clear: &dyn Fn() -> f64) -> f64 {
        let mut z = self.plain(q) + self.hills(q, river_clear);
        // The citadel: the enclosure filled about 0.6 m above the plain, the walls a ridge.
        if in_ring(q, &self.wall) {
            z += 0.6;
        }
        if in_ring(q, &self.imperial_city) {
            z += IMPERIAL_CITY_TERRACE_M;
        }
        let dw = ring_dist(q, &self.wall);
        if dw < 60.0 {
            // The wall is a 5 m ridge, open at the gates: a flood gets into the citadel through
            // its gate passages, not over the wall.
            let gate = self
                .gates
                .iter()
                .map(|g| q.dist(*g))
                .fold(f64::INFINITY, f64::min);
            z += 5.0
                * (-(dw / 14.0).powi(2)).exp()
                * smoothstep(GATE_OPEN_M, GATE_OPEN_M + 30.0, gate);
        }
        // Nam Giao's terraces: a platform at 12 m fading out over 80 m.
        let d = (q - self.nam_giao).x.abs().max(0.0) - 132.0;
        let e = (q - self.nam_giao).y.abs() - 195.0;
        let outside = d.max(e).max(0.0);
        z.max(12.0 * (1.0 - smoothstep(0.0, 80.0, outside)))
    }
}

/// Depth of the Perfume River's bed below sea level at its banks and in mid-stream, metres:
/// the bed falls from the first to the second over [`RIVER_BED_RAMP_M`] from the bank.
pub const RIVER_BED_M: (f64, f64) = (-3.0, -6.0);
/// Distance from the bank over which the river's bed reaches its mid-stream depth, metres.
pub const RIVER_BED_RAMP_M: f64 = 120.0;
/// Bed of the other river and canal areas (An Cựu, Như Ý, Đông Ba...), m above sea level.
pub const CHANNEL_BED_M: f64 = -1.5;
/// How far a lake's, pond's or moat's surface lies below the land around it, metres.
pub const POND_DROP_M: f64 = 0.5;

/// The land with the water cut in. `in_river` says whether `q` is inside (or within 1 m of) the
/// Perfume River's outline.
pub fn elevation(land: &Land, water: &Water, q: P, in_river: bool) -> f64 {
    if in_river {
        let d = water.river_bank_dist(q, RIVER_BED_RAMP_M);
        let (bank, mid) = RIVER_BED_M;
        return bank + (mid - bank) * smoothstep(0.0, RIVER_BED_RAMP_M, d);
    }
    let river_clear = || water.river_bank_dist(q, 750.0);
    let mut z = land.elevation(q, &river_clear);
    let bank = water.river_bank_dist(q, 45.0);
    if bank < 45.0 {
        z = 0.8 + (z - 0.8) * smoothstep(0.0, 45.0, bank);
    }
    for l in water.lines_near(q, 30.0) {
        let Some((half_width, bed)) = l.channel() else {
            continue;
        };
        let m = half_width + 20.0;
        let d = polyline_dist(q, &l.pts);
        if d < m {
            z = z.min(bed + (z - bed) * smoothstep(half_width, m, d));
        }
    }
    for a in water.areas_near(q, 15.0) {
        let floor = if a.channel {
            CHANNEL_BED_M
        } else {
            z - POND_DROP_M
        };
        if a.contains(q) {
            z = z.min(floor);
        } else {
            let d = a.edge_dist(q);
            if d < 15.0 {
                z = z.min(floor + (z - floor) * smoothstep(0.0, 15.0, d));
            }
        }
    }
    z
}

/// Sample the DEM over the sample's extent on a grid in EPSG:32648.
pub fn build(ctx: &Ctx, water: &Water) -> Result<Grid> {
    let to_utm = Transform::between("EPSG:4326", "EPSG:32648")?;
    let to_ll = Transform::between("EPSG:32648", "EPSG:4326")?;
    let [lon0, lat0, lon1, lat1] = facts::EXTENT;
    let mut xmin = f64::INFINITY;
    let mut ymin = f64::INFINITY;
    let mut xmax = f64::NEG_INFINITY;
    let mut ymax = f64::NEG_INFINITY;
    for i in 0..=10 {
        let t = i as f64 / 10.0;
        for (lon, lat) in [
            (lon0 + (lon1 - lon0) * t, lat0),
            (lon0 + (lon1 - lon0) * t, lat1),
            (lon0, lat0 + (lat1 - lat0) * t),
            (lon1, lat0 + (lat1 - lat0) * t),
        ] {
            let (x, y) = to_utm.apply(lon, lat)?;
            xmin = xmin.min(x);
            ymin = ymin.min(y);
            xmax = xmax.max(x);
            ymax = ymax.max(y);
        }
    }
    let xll = (xmin / CELL_M).floor() * CELL_M;
    let yll = (ymin / CELL_M).floor() * CELL_M;
    let ncols = ((xmax - xll) / CELL_M).ceil() as usize;
    let nrows = ((ymax - yll) / CELL_M).ceil() as usize;
    let ytop = yll + nrows as f64 * CELL_M;

    // The river's rings in UTM, for an exact scanline inside test per row.
    let rings_utm: Vec<Vec<(f64, f64)>> = water
        .river
        .parts
        .iter()
        .flatten()
        .map(|ring| {
            ring.iter()
                .map(|&q| {
                    let (lon, lat) = ctx.frame.to_lonlat(q);
                    to_utm.apply(lon, lat)
                })
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<_>>()?;
    let land = Land::new(ctx);
    let mut cm = Vec::with_capacity(ncols * nrows);
    for row in 0..nrows {
        let y = ytop - (row as f64 + 0.5) * CELL_M;
        let mut xs: Vec<f64> = Vec::new();
        for ring in &rings_utm {
            let n = ring.len();
            for i in 0..n {
                let (a, b) = (ring[i], ring[(i + 1) % n]);
                if (a.1 > y) != (b.1 > y) {
                    xs.push(a.0 + (y - a.1) / (b.1 - a.1) * (b.0 - a.0));
                }
            }
        }
        xs.sort_by(f64::total_cmp);
        for col in 0..ncols {
            let x = xll + (col as f64 + 0.5) * CELL_M;
            let (lon, lat) = to_ll.apply(x, y)?;
            let q = ctx.frame.to_local(lon, lat);
            let inside = xs.iter().filter(|&&c| c < x).count() % 2 == 1
                || water.river_bank_dist(q, 1.0) < 1.0;
            let z = elevation(&land, water, q, inside);
            cm.push((z * 100.0).round() as i32);
        }
    }
    Ok(Grid {
        ncols,
        nrows,
        xll,
        yll,
        cm,
    })
}

impl Grid {
    /// The grid as an ESRI ASCII grid (values in metres with 2 decimals).
    pub fn to_asc(&self) -> String {
        let mut s = String::with_capacity(self.cm.len() * 6 + 200);
        s.push_str(&format!(
            "ncols {}\nnrows {}\nxllcorner {}\nyllcorner {}\ncellsize {}\nNODATA_value {}\n",
            self.ncols, self.nrows, self.xll, self.yll, CELL_M, NODATA
        ));
        for row in 0..self.nrows {
            for col in 0..self.ncols {
                if col > 0 {
                    s.push(' ');
                }
                s.push_str(&cm_str(self.cm[row * self.ncols + col]));
            }
            s.push('\n');
        }
        s
    }
}

/// Centimetres as metres with 2 decimals, trailing zeros trimmed, never "-0".
pub fn cm_str(v: i32) -> String {
    let neg = v < 0;
    let a = v.unsigned_abs();
    let (i, f) = (a / 100, a % 100);
    let mut s = if f == 0 {
        format!("{i}")
    } else if f % 10 == 0 {
        format!("{i}.{}", f / 10)
    } else {
        format!("{i}.{f:02}")
    };
    if neg {
        s.insert(0, '-');
    }
    s
}
