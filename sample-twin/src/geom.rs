//! Plane geometry in local metres (x east, y north) and the local frames the sample is drawn in.

use std::f64::consts::PI;

/// A point or vector in local metres.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct P {
    /// East, metres.
    pub x: f64,
    /// North, metres.
    pub y: f64,
}

/// Shorthand constructor.
pub const fn p(x: f64, y: f64) -> P {
    P { x, y }
}

impl std::ops::Add for P {
    type Output = P;
    fn add(self, o: P) -> P {
        p(self.x + o.x, self.y + o.y)
    }
}
impl std::ops::Sub for P {
    type Output = P;
    fn sub(self, o: P) -> P {
        p(self.x - o.x, self.y - o.y)
    }
}
impl std::ops::Mul<f64> for P {
    type Output = P;
    fn mul(self, k: f64) -> P {
        p(self.x * k, self.y * k)
    }
}

impl P {
    /// Dot product.
    pub fn dot(self, o: P) -> f64 {
        self.x * o.x + self.y * o.y
    }
    /// z of the cross product.
    pub fn cross(self, o: P) -> f64 {
        self.x * o.y - self.y * o.x
    }
    /// Length.
    pub fn len(self) -> f64 {
        self.x.hypot(self.y)
    }
    /// Distance to another point.
    pub fn dist(self, o: P) -> f64 {
        (self - o).len()
    }
    /// Unit vector (zero stays zero).
    pub fn unit(self) -> P {
        let l = self.len();
        if l > 0.0 {
            self * (1.0 / l)
        } else {
            self
        }
    }
    /// Rotated 90° counter-clockwise (to the left).
    pub fn left(self) -> P {
        p(-self.y, self.x)
    }
    /// Linear interpolation.
    pub fn lerp(self, o: P, t: f64) -> P {
        self + (o - self) * t
    }
}

/// Unit vector of a compass bearing (degrees clockwise from north).
pub fn bearing_vec(deg: f64) -> P {
    let r = deg * PI / 180.0;
    p(r.sin(), r.cos())
}

/// A local east-north tangent plane around an origin, on the WGS84 ellipsoid (meridional and
/// prime-vertical radii at the origin's latitude). Over the ~20 km of the sample the error
/// against a true projection stays under a metre, which is all the synthetic geometry needs.
#[derive(Clone, Copy, Debug)]
pub struct Frame {
    lon0: f64,
    lat0: f64,
    m_per_deg_lon: f64,
    m_per_deg_lat: f64,
}

impl Frame {
    /// A frame with its origin at (lon0, lat0).
    pub fn new(lon0: f64, lat0: f64) -> Frame {
        let a = 6_378_137.0;
        let f = 1.0 / 298.257_223_563;
        let e2 = f * (2.0 - f);
        let phi = lat0.to_radians();
        let w = 1.0 - e2 * phi.sin().powi(2);
        let m = a * (1.0 - e2) / w.powf(1.5);
        let n = a / w.sqrt();
        Frame {
            lon0,
            lat0,
            m_per_deg_lon: n * phi.cos() * PI / 180.0,
            m_per_deg_lat: m * PI / 180.0,
        }
    }
    /// WGS84 (lon, lat) to local metres.
    pub fn to_local(&self, lon: f64, lat: f64) -> P {
        p(
            (lon - self.lon0) * self.m_per_deg_lon,
            (lat - self.lat0) * self.m_per_deg_lat,
        )
    }
    /// Local metres to WGS84 (lon, lat).
    pub fn to_lonlat(&self, q: P) -> (f64, f64) {
        (
            self.lon0 + q.x / self.m_per_deg_lon,
            self.lat0 + q.y / self.m_per_deg_lat,
        )
    }
}

/// A rotated frame inside a [`Frame`]: `u` along a bearing and `v` 90° to its left, so that for
/// the citadel (bearing 143.5°, facing the river) `u` points south-east to the river and `v`
/// north-east.
#[derive(Clone, Copy, Debug)]
pub struct Axes {
    /// Origin in local metres.
    pub origin: P,
    /// Unit vector of `u`.
    pub eu: P,
    /// Unit vector of `v`.
    pub ev: P,
}

impl Axes {
    /// Axes with `u` along `bearing_deg` and `v` along `bearing_deg - 90°`.
    pub fn new(origin: P, bearing_deg: f64) -> Axes {
        Axes {
            origin,
            eu: bearing_vec(bearing_deg),
            ev: bearing_vec(bearing_deg - 90.0),
        }
    }
    /// (u, v) to local metres.
    pub fn at(&self, u: f64, v: f64) -> P {
        self.origin + self.eu * u + self.ev * v
    }
    /// Local metres to (u, v).
    pub fn uv(&self, q: P) -> (f64, f64) {
        let d = q - self.origin;
        (d.dot(self.eu), d.dot(self.ev))
    }
    /// A rectangle `u0..u1` × `v0..v1` as a counter-clockwise ring (open).
    pub fn rect(&self, u0: f64, u1: f64, v0: f64, v1: f64) -> Vec<P> {
        ccw(vec![
            self.at(u0, v0),
            self.at(u1, v0),
            self.at(u1, v1),
            self.at(u0, v1),
        ])
    }
}

/// Signed area of an open ring (positive when counter-clockwise).
pub fn signed_area(ring: &[P]) -> f64 {
    let n = ring.len();
    (0..n)
        .map(|i| ring[i].cross(ring[(i + 1) % n]))
        .sum::<f64>()
        / 2.0
}

/// The ring turned counter-clockwise.
pub fn ccw(mut ring: Vec<P>) -> Vec<P> {
    if signed_area(&ring) < 0.0 {
        ring.reverse();
    }
    ring
}

/// The ring turned clockwise (for holes).
pub fn cw(mut ring: Vec<P>) -> Vec<P> {
    if signed_area(&ring) > 0.0 {
        ring.reverse();
    }
    ring
}

/// A rectangle centred at `c`, `len` long along `dir` (unit) and `wid` wide, counter-clockwise.
pub fn rect_at(c: P, dir: P, len: f64, wid: f64) -> Vec<P> {
    let a = dir * (len / 2.0);
    let b = dir.left() * (wid / 2.0);
    ccw(vec![c - a - b, c + a - b, c + a + b, c - a + b])
}

/// Even-odd point-in-polygon for an open ring.
pub fn in_ring(q: P, ring: &[P]) -> bool {
    let mut inside = false;
    let n = ring.len();
    let mut j = n - 1;
    for i in 0..n {
        let (a, b) = (ring[i], ring[j]);
        if (a.y > q.y) != (b.y > q.y) && q.x < (b.x - a.x) * (q.y - a.y) / (b.y - a.y) + a.x {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// Distance from `q` to segment `a b` and the parameter of the nearest point.
pub fn seg_dist(q: P, a: P, b: P) -> (f64, f64) {
    let ab = b - a;
    let l2 = ab.dot(ab);
    let t = if l2 > 0.0 {
        ((q - a).dot(ab) / l2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    (q.dist(a + ab * t), t)
}

/// Distance from `q` to an open polyline.
pub fn polyline_dist(q: P, line: &[P]) -> f64 {
    line.windows(2)
        .map(|w| seg_dist(q, w[0], w[1]).0)
        .fold(f64::INFINITY, f64::min)
}

/// Distance from `q` to the boundary of an open ring.
pub fn ring_dist(q: P, ring: &[P]) -> f64 {
    let n = ring.len();
    (0..n)
        .map(|i| seg_dist(q, ring[i], ring[(i + 1) % n]).0)
        .fold(f64::INFINITY, f64::min)
}

/// The point of a closed ring nearest to `q` (`q` itself for an empty ring).
pub fn nearest_on_ring(q: P, ring: &[P]) -> P {
    let n = ring.len();
    (0..n)
        .map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            let (d, t) = seg_dist(q, a, b);
            (d, a.lerp(b, t))
        })
        .min_by(|x, y| x.0.total_cmp(&y.0))
        .map_or(q, |x| x.1)
}

/// Proper or touching intersection of segments `a b` and `c d`: parameters (t on ab, s on cd).
pub fn seg_intersect(a: P, b: P, c: P, d: P) -> Option<(f64, f64)> {
    let r = b - a;
    let s = d - c;
    let den = r.cross(s);
    if den.abs() < 1e-12 {
        return None;
    }
    let t = (c - a).cross(s) / den;
    let u = (c - a).cross(r) / den;
    (-1e-9..=1.0 + 1e-9).contains(&t).then_some(())?;
    (-1e-9..=1.0 + 1e-9)
        .contains(&u)
        .then_some((t.clamp(0.0, 1.0), u.clamp(0.0, 1.0)))
}

/// The part (outer ring first, then holes) whose outer ring encloses the most area.
pub fn largest_part(parts: &[Vec<Vec<P>>]) -> Option<&Vec<Vec<P>>> {
    parts.iter().max_by(|a, b| {
        signed_area(&a[0])
            .abs()
            .total_cmp(&signed_area(&b[0]).abs())
    })
}

/// Offset a convex counter-clockwise ring outward by `d` (inward when negative), mitred.
pub fn offset_ring(ring: &[P], d: f64) -> Vec<P> {
    let n = ring.len();
    (0..n)
        .map(|i| {
            let prev = ring[(i + n - 1) % n];
            let cur = ring[i];
            let next = ring[(i + 1) % n];
            // outward normal of a ccw ring is to the right of the edge direction
            let n1 = (cur - prev).unit().left() * -1.0;
            let n2 = (next - cur).unit().left() * -1.0;
            let m = (n1 + n2).unit();
            let cos = m.dot(n1).max(0.2);
            cur + m * (d / cos)
        })
        .collect()
}

/// Length of a polyline.
pub fn length(line: &[P]) -> f64 {
    line.windows(2).map(|w| w[0].dist(w[1])).sum()
}

/// Smoothstep from 0 at `e0` to 1 at `e1`.
pub fn smoothstep(e0: f64, e1: f64, x: f64) -> f64 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// A uniform grid of buckets over segments or boxes, for "what is near this point" queries.
/// It covers the sample's area in the local frame (points outside fall in the border buckets).
#[derive(Clone, Debug)]
pub struct Grid<T> {
    cell: f64,
    nx: usize,
    ny: usize,
    buckets: Vec<Vec<u32>>,
    /// The indexed items.
    pub items: Vec<T>,
}

/// South-west and north-east corners of the area grids cover, local metres.
const GRID_LO: P = p(-8000.0, -12500.0);
const GRID_HI: P = p(6500.0, 7000.0);

impl<T> Grid<T> {
    /// An empty grid with square cells of `cell` metres.
    pub fn new(cell: f64) -> Grid<T> {
        let nx = ((GRID_HI.x - GRID_LO.x) / cell).ceil() as usize + 1;
        let ny = ((GRID_HI.y - GRID_LO.y) / cell).ceil() as usize + 1;
        Grid {
            cell,
            nx,
            ny,
            buckets: vec![Vec::new(); nx * ny],
            items: Vec::new(),
        }
    }
    fn ix(&self, x: f64) -> usize {
        (((x - GRID_LO.x) / self.cell).floor().max(0.0) as usize).min(self.nx - 1)
    }
    fn iy(&self, y: f64) -> usize {
        (((y - GRID_LO.y) / self.cell).floor().max(0.0) as usize).min(self.ny - 1)
    }
    /// Add an item covering the box (min, max).
    pub fn insert(&mut self, item: T, min: P, max: P) {
        let id = self.items.len() as u32;
        self.items.push(item);
        for i in self.ix(min.x)..=self.ix(max.x) {
            for j in self.iy(min.y)..=self.iy(max.y) {
                self.buckets[j * self.nx + i].push(id);
            }
        }
    }
    /// Call `f` on every item whose box may come within `r` of `q` (some more than once), in a
    /// fixed order.
    pub fn for_each_near(&self, q: P, r: f64, mut f: impl FnMut(&T)) {
        for j in self.iy(q.y - r)..=self.iy(q.y + r) {
            for i in self.ix(q.x - r)..=self.ix(q.x + r) {
                for &id in &self.buckets[j * self.nx + i] {
                    f(&self.items[id as usize]);
                }
            }
        }
    }
    /// Items whose boxes may come within `r` of `q` (each once, ascending index).
    pub fn near(&self, q: P, r: f64) -> Vec<&T> {
        let mut ids: Vec<u32> = Vec::new();
        for j in self.iy(q.y - r)..=self.iy(q.y + r) {
            for i in self.ix(q.x - r)..=self.ix(q.x + r) {
                ids.extend(&self.buckets[j * self.nx + i]);
            }
        }
        ids.sort_unstable();
        ids.dedup();
        ids.into_iter().map(|i| &self.items[i as usize]).collect()
    }
}

/// Bounding box of points.
pub fn bbox(pts: &[P]) -> (P, P) {
    pts.iter().fold(
        (
            p(f64::INFINITY, f64::INFINITY),
            p(f64::NEG_INFINITY, f64::NEG_INFINITY),
        ),
        |(lo, hi), q| {
            (
                p(lo.x.min(q.x), lo.y.min(q.y)),
                p(hi.x.max(q.x), hi.y.max(q.y)),
            )
        },
    )
}
