//! Sightlines by ray casting against triangles (terrain, buildings, a proposal) in a bounding
//! volume hierarchy.
//!
//! The BVH is this crate's own (about a hundred lines): a binary tree over triangle centroids,
//! split at the median of the widest axis, leaves of at most [`LEAF`] triangles, stored flat in
//! depth-first order so that a left child follows its parent, with f64 boxes and an any-hit
//! segment query. The `bvh` crate would bring nalgebra and f32 geometry; a sightline only asks
//! "is anything between these two points", which this answers with an early exit.
//!
//! Touching is not blocking. Each triangle belongs to a solid (a building's prism, the terrain,
//! a proposal). A segment that crosses a triangle's interior is blocked. One that meets
//! triangles only on their boundaries (within a relative 1e-9 of an edge) is blocked only when
//! it meets one solid at two different places along it (in through an edge, out through
//! another: a ray through the diagonal that splits a wall into two triangles). A sight line
//! that grazes a roof edge meets the roof and the wall at one point and passes, as
//! `gdal_viewshed` counts ties as visible; a millimetre lower it is blocked. A segment running
//! exactly along a roof (in its plane) meets the walls' top edges twice and counts as blocked.
//! Hits at the segment's own ends (a target on a surface) do not count.
//!
//! ```
//! use heritage::sight::{Scene, Tri};
//! // A unit square wall in the plane x = 5 (two triangles).
//! let w = |a: [f64; 3], b: [f64; 3], c: [f64; 3]| Tri::new(a, b, c);
//! let scene = Scene::new(vec![
//!     w([5.0, -1.0, 0.0], [5.0, 1.0, 0.0], [5.0, 1.0, 2.0]),
//!     w([5.0, -1.0, 0.0], [5.0, 1.0, 2.0], [5.0, -1.0, 2.0]),
//! ]);
//! assert!(scene.occluded([0.0, 0.3, 1.0], [10.0, 0.3, 1.0]));
//! // Through the diagonal shared by the two triangles: entering one solid at one place only.
//! assert!(!scene.occluded([0.0, 0.0, 1.0], [10.0, 0.0, 1.0]));
//! assert!(!scene.occluded([0.0, 0.0, 3.0], [10.0, 0.0, 3.0]));
//! ```

use crate::proposal::Proposal;
use geo_types::MultiPolygon;
use twin_core::model::Dem;
use twin_core::Twin;

/// Triangles per leaf at most.
pub const LEAF: usize = 4;

/// Relative tolerance of the boundary of a triangle and of the segment's ends.
const EPS: f64 = 1e-9;

/// A triangle, with its edges precomputed for the Möller–Trumbore test.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tri {
    /// First vertex.
    pub v0: [f64; 3],
    /// v1 − v0.
    pub e1: [f64; 3],
    /// v2 − v0.
    pub e2: [f64; 3],
    /// The solid it belongs to (see the module docs).
    pub solid: u32,
}

/// How a segment meets a triangle.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Meet {
    /// Not at all (or only at the segment's ends, or in the triangle's plane).
    No,
    /// Through its interior, at this parameter along the segment.
    Interior(f64),
    /// On its boundary, at this parameter along the segment.
    Boundary(f64),
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}
fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

impl Tri {
    /// The triangle (a, b, c) of solid 0.
    pub fn new(a: [f64; 3], b: [f64; 3], c: [f64; 3]) -> Tri {
        Tri::of(0, a, b, c)
    }

    /// The triangle (a, b, c) of a solid.
    pub fn of(solid: u32, a: [f64; 3], b: [f64; 3], c: [f64; 3]) -> Tri {
        Tri {
            v0: a,
            e1: sub(b, a),
            e2: sub(c, a),
            solid,
        }
    }

    fn vertex(&self, k: usize) -> [f64; 3] {
        match k {
            0 => self.v0,
            1 => [
                self.v0[0] + self.e1[0],
                self.v0[1] + self.e1[1],
                self.v0[2] + self.e1[2],
            ],
            _ => [
                self.v0[0] + self.e2[0],
                self.v0[1] + self.e2[1],
                self.v0[2] + self.e2[2],
            ],
        }
    }

    /// How the segment `o + t·d`, t in (0, 1), meets the triangle.
    #[inline]
    pub fn meet(&self, o: [f64; 3], d: [f64; 3]) -> Meet {
        let p = cross(d, self.e2);
        let det = dot(self.e1, p);
        // Parallel (or the segment in the triangle's plane): no crossing.
        if det.abs() <= 1e-12 * (dot(self.e1, self.e1) * dot(p, p)).sqrt() {
            return Meet::No;
        }
        let inv = 1.0 / det;
        let s = sub(o, self.v0);
        let u = dot(s, p) * inv;
        if !(-EPS..=1.0 + EPS).contains(&u) {
            return Meet::No;
        }
        let q = cross(s, self.e1);
        let v = dot(d, q) * inv;
        if v < -EPS || u + v > 1.0 + EPS {
            return Meet::No;
        }
        let t = dot(self.e2, q) * inv;
        if !(t > EPS && t < 1.0 - EPS) {
            return Meet::No;
        }
        if u > EPS && v > EPS && u + v < 1.0 - EPS {
            Meet::Interior(t)
        } else {
            Meet::Boundary(t)
        }
    }

    /// Whether the segment `o + t·d`, t in (0, 1), crosses the triangle's interior.
    #[inline]
    pub fn crosses(&self, o: [f64; 3], d: [f64; 3]) -> bool {
        matches!(self.meet(o, d), Meet::Interior(_))
    }
}

/// The brute-force answer of [`Scene::occluded`] over a list of triangles.
pub fn occluded_by(tris: &[Tri], a: [f64; 3], b: [f64; 3]) -> bool {
    let d = sub(b, a);
    let mut touches = Vec::new();
    for t in tris {
        match t.meet(a, d) {
            Meet::Interior(_) => return true,
            Meet::Boundary(u) => touches.push((t.solid, u)),
            Meet::No => {}
        }
    }
    two_touches(&mut touches)
}

/// The brute-force answer of [`Scene::first_hit`] over a list of triangles.
pub fn first_hit_by(tris: &[Tri], a: [f64; 3], b: [f64; 3]) -> Option<f64> {
    let d = sub(b, a);
    let mut first = f64::INFINITY;
    let mut touches = Vec::new();
    for t in tris {
        match t.meet(a, d) {
            Meet::Interior(u) => first = first.min(u),
            Meet::Boundary(u) => touches.push((t.solid, u)),
            Meet::No => {}
        }
    }
    first_blocking(first, &mut touches)
}

/// The nearest of an interior crossing (`first`) and the first touch of a solid touched at two
/// places; None when nothing blocks.
fn first_blocking(first: f64, touches: &mut [(u32, f64)]) -> Option<f64> {
    touches.sort_by(|x, y| x.0.cmp(&y.0).then(x.1.total_cmp(&y.1)));
    let mut best = first;
    for w in touches.windows(2) {
        if w[0].0 == w[1].0 && w[1].1 - w[0].1 > 1e-7 {
            best = best.min(w[0].1);
        }
    }
    best.is_finite().then_some(best)
}

/// Whether one solid is touched at two different places along the segment.
fn two_touches(touches: &mut [(u32, f64)]) -> bool {
    first_blocking(f64::INFINITY, touches).is_some()
}

#[derive(Clone, Copy, Debug)]
struct Node {
    min: [f64; 3],
    max: [f64; 3],
    /// Leaf: first triangle; inner: the right child (the left one is the next node).
    index: u32,
    /// Leaf: triangle count; inner: 0.
    count: u32,
}

/// Triangles in a BVH, for segment queries.
#[derive(Clone, Debug)]
pub struct Scene {
    tris: Vec<Tri>,
    nodes: Vec<Node>,
}

fn bounds(tris: &[Tri]) -> ([f64; 3], [f64; 3]) {
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    for t in tris {
        for k in 0..3 {
            let v = t.vertex(k);
            for a in 0..3 {
                lo[a] = lo[a].min(v[a]);
                hi[a] = hi[a].max(v[a]);
            }
        }
    }
    (lo, hi)
}

fn centroid(t: &Tri, a: usize) -> f64 {
    t.v0[a] + (t.e1[a] + t.e2[a]) / 3.0
}

impl Scene {
    /// A scene of these triangles (non-finite ones are dropped).
    pub fn new(tris: Vec<Tri>) -> Scene {
        let mut tris: Vec<Tri> = tris
            .into_iter()
            .filter(|t| (0..3).all(|k| t.vertex(k).iter().all(|v| v.is_finite())))
            .collect();
        let mut nodes = Vec::with_capacity(2 * tris.len() / LEAF + 1);
        if !tris.is_empty() {
            let n = tris.len();
            build(&mut tris, 0, n, &mut nodes);
        }
        Scene { tris, nodes }
    }

    /// Triangles in the scene.
    pub fn len(&self) -> usize {
        self.tris.len()
    }

    /// Whether the scene has no triangle.
    pub fn is_empty(&self) -> bool {
        self.tris.is_empty()
    }

    /// Whether anything lies strictly between `a` and `b` (see the module docs on touching).
    pub fn occluded(&self, a: [f64; 3], b: [f64; 3]) -> bool {
        let mut touches: Vec<(u32, f64)> = Vec::new();
        let walked = self.walk(a, b, |solid, m| match m {
            Meet::Interior(_) => true,
            Meet::Boundary(u) => {
                touches.push((solid, u));
                false
            }
            Meet::No => false,
        });
        match walked {
            Some(true) => true,
            Some(false) => two_touches(&mut touches),
            // Deeper than the stack (only for degenerate trees): brute force.
            None => occluded_by(&self.tris, a, b),
        }
    }

    /// Where the segment from `a` to `b` is first blocked: the parameter t in (0, 1) of the
    /// nearest crossing (see [`Scene::occluded`] on touching), None when it is clear. The point
    /// is `a + t·(b − a)`.
    pub fn first_hit(&self, a: [f64; 3], b: [f64; 3]) -> Option<f64> {
        let mut first = f64::INFINITY;
        let mut touches: Vec<(u32, f64)> = Vec::new();
        let walked = self.walk(a, b, |solid, m| {
            match m {
                Meet::Interior(u) => first = first.min(u),
                Meet::Boundary(u) => touches.push((solid, u)),
                Meet::No => {}
            }
            false
        });
        match walked {
            Some(_) => first_blocking(first, &mut touches),
            None => first_hit_by(&self.tris, a, b),
        }
    }

    /// Every triangle in the leaves whose boxes the segment from `a` to `b` passes through, as
    /// `visit(solid, how the segment meets it)`, until `visit` returns true: Some(whether it
    /// did), or None when the tree is deeper than the traversal stack (only degenerate trees;
    /// the caller then brute-forces).
    #[inline]
    fn walk(
        &self,
        a: [f64; 3],
        b: [f64; 3],
        mut visit: impl FnMut(u32, Meet) -> bool,
    ) -> Option<bool> {
        if self.nodes.is_empty() {
            return Some(false);
        }
        let d = sub(b, a);
        let inv = [1.0 / d[0], 1.0 / d[1], 1.0 / d[2]];
        let mut stack = [0u32; 64];
        let mut top = 1;
        while top > 0 {
            top -= 1;
            let ni = stack[top] as usize;
            let n = &self.nodes[ni];
            if !slab(n, a, inv) {
                continue;
            }
            if n.count > 0 {
                let first = n.index as usize;
                for t in &self.tris[first..first + n.count as usize] {
                    if visit(t.solid, t.meet(a, d)) {
                        return Some(true);
                    }
                }
            } else if top + 2 <= stack.len() {
                stack[top] = n.index;
                stack[top + 1] = ni as u32 + 1;
                top += 2;
            } else {
                return None;
            }
        }
        Some(false)
    }
}

/// Whether the segment from `o` (t in [0, 1], direction inverse `inv`) meets the box.
#[inline]
fn slab(n: &Node, o: [f64; 3], inv: [f64; 3]) -> bool {
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for a in 0..3 {
        let (mut lo, mut hi) = ((n.min[a] - o[a]) * inv[a], (n.max[a] - o[a]) * inv[a]);
        if lo > hi {
            std::mem::swap(&mut lo, &mut hi);
        }
        // NaN (a zero direction on a box face): keep the other axes' interval.
        if lo.is_nan() || hi.is_nan() {
            if o[a] < n.min[a] || o[a] > n.max[a] {
                return false;
            }
            continue;
        }
        t0 = t0.max(lo);
        t1 = t1.min(hi);
        if t0 > t1 {
            return false;
        }
    }
    true
}

fn build(tris: &mut [Tri], first: usize, n: usize, nodes: &mut Vec<Node>) {
    let slice = &mut tris[first..first + n];
    let (min, max) = bounds(slice);
    let me = nodes.len();
    nodes.push(Node {
        min,
        max,
        index: first as u32,
        count: n as u32,
    });
    if n <= LEAF {
        return;
    }
    let (mut clo, mut chi) = ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3]);
    for t in slice.iter() {
        for a in 0..3 {
            clo[a] = clo[a].min(centroid(t, a));
            chi[a] = chi[a].max(centroid(t, a));
        }
    }
    let axis = (0..3)
        .max_by(|&x, &y| (chi[x] - clo[x]).total_cmp(&(chi[y] - clo[y])))
        .unwrap_or(0);
    if chi[axis] - clo[axis] <= 0.0 {
        return; // all centroids at one point: one leaf
    }
    let mid = n / 2;
    slice.select_nth_unstable_by(mid, |p, q| centroid(p, axis).total_cmp(&centroid(q, axis)));
    nodes[me].count = 0;
    build(tris, first, mid, nodes);
    nodes[me].index = nodes.len() as u32;
    build(tris, first + mid, n - mid, nodes);
}

/// The triangles of a prism, solid `solid`: a footprint extruded from `base` to `top` (walls
/// and roof; no floor, which stands on the ground).
pub fn prism(footprint: &MultiPolygon<f64>, base: f64, top: f64, solid: u32, out: &mut Vec<Tri>) {
    use twin_core::rings::{clean_ring, triangulate};
    for p in &footprint.0 {
        let rings: Vec<Vec<(f64, f64)>> = std::iter::once(p.exterior())
            .chain(p.interiors())
            .filter_map(clean_ring)
            .collect();
        if rings.is_empty() {
            continue;
        }
        for r in &rings {
            for i in 0..r.len() {
                let (a, b) = (r[i], r[(i + 1) % r.len()]);
                out.push(Tri::of(
                    solid,
                    [a.0, a.1, base],
                    [b.0, b.1, base],
                    [b.0, b.1, top],
                ));
                out.push(Tri::of(
                    solid,
                    [a.0, a.1, base],
                    [b.0, b.1, top],
                    [a.0, a.1, top],
                ));
            }
        }
        let flat: Vec<(f64, f64)> = rings.iter().flatten().copied().collect();
        for t in triangulate(&rings) {
            let v = |k: usize| [flat[t[k]].0, flat[t[k]].1, top];
            out.push(Tri::of(solid, v(0), v(1), v(2)));
        }
    }
}

/// The triangles of a DEM's surface within `bbox` ([xmin, ymin, xmax, ymax], project CRS), solid
/// `solid`: two per square of four neighbouring cell centres with values.
pub fn terrain(dem: &Dem, bbox: Option<[f64; 4]>, solid: u32, out: &mut Vec<Tri>) {
    let (c0, c1, r0, r1) = match bbox {
        None => (
            0,
            dem.ncols.saturating_sub(1),
            0,
            dem.nrows.saturating_sub(1),
        ),
        Some(b) => {
            let col = |x: f64| {
                ((x - dem.xmin) / dem.cell_x - 0.5)
                    .floor()
                    .clamp(0.0, dem.ncols as f64 - 1.0) as usize
            };
            let row = |y: f64| {
                ((dem.ymax - y) / dem.cell_y - 0.5)
                    .floor()
                    .clamp(0.0, dem.nrows as f64 - 1.0) as usize
            };
            (
                col(b[0]),
                (col(b[2]) + 1).min(dem.ncols - 1),
                row(b[3]),
                (row(b[1]) + 1).min(dem.nrows - 1),
            )
        }
    };
    let p = |c: usize, r: usize| -> Option<[f64; 3]> {
        let z = dem.get(c, r)?;
        Some([
            dem.xmin + (c as f64 + 0.5) * dem.cell_x,
            dem.ymax - (r as f64 + 0.5) * dem.cell_y,
            z as f64,
        ])
    };
    for r in r0..r1 {
        for c in c0..c1 {
            if let (Some(a), Some(b), Some(cc), Some(d)) =
                (p(c, r), p(c + 1, r), p(c + 1, r + 1), p(c, r + 1))
            {
                out.push(Tri::of(solid, a, b, cc));
                out.push(Tri::of(solid, a, cc, d));
            }
        }
    }
}

/// The scene of a twin: its buildings (extruded from their base), its first DEM within `bbox`
/// (all of it without one), and a proposal when given.
pub fn twin_scene(twin: &Twin, bbox: Option<[f64; 4]>, proposal: Option<&Proposal>) -> Scene {
    let mut tris = Vec::new();
    let n = twin.buildings.len() as u32;
    for (k, b) in twin.buildings.features().iter().enumerate() {
        let base = twin_core::ground::building_base(&twin.terrain, b);
        prism(&b.footprint, base, base + b.height, k as u32, &mut tris);
    }
    if let Some(dem) = twin.terrain.first() {
        terrain(dem, bbox, n, &mut tris);
    }
    if let Some(p) = proposal {
        prism(&p.footprint, p.base_m, p.top_m(), n + 1, &mut tris);
    }
    Scene::new(tris)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::polygon;

    fn boxed(x0: f64, y0: f64, x1: f64, y1: f64, h: f64) -> Scene {
        let fp = MultiPolygon(vec![
            polygon![(x: x0, y: y0), (x: x1, y: y0), (x: x1, y: y1), (x: x0, y: y1)],
        ]);
        let mut t = Vec::new();
        prism(&fp, 0.0, h, 0, &mut t);
        // Flat ground: a large square at z = 0.
        t.push(Tri::of(
            1,
            [-1e4, -1e4, 0.0],
            [1e4, -1e4, 0.0],
            [1e4, 1e4, 0.0],
        ));
        t.push(Tri::of(
            1,
            [-1e4, -1e4, 0.0],
            [1e4, 1e4, 0.0],
            [-1e4, 1e4, 0.0],
        ));
        Scene::new(t)
    }

    /// A box on flat ground: the ground behind it is hidden up to where the line from the eye
    /// over the box's far roof edge meets the ground (similar triangles), seen beyond.
    #[test]
    fn a_box_on_flat_ground_by_similar_triangles() {
        // Eye 20 m up at x = 0; a box 10 m high from x = 20 to 30 m, 40 m wide.
        let s = boxed(20.0, -20.0, 30.0, 20.0, 10.0);
        let eye = [0.0, 0.0, 20.0];
        // The shadow ends at x = 30 · 20 / (20 − 10) = 60 m.
        for (x, hidden) in [
            (31.0, true),
            (45.0, true),
            (59.99, true),
            (60.01, false),
            (80.0, false),
            (15.0, false),
        ] {
            assert_eq!(s.occluded(eye, [x, 0.0, 0.0]), hidden, "ground at x = {x}");
        }
        // Where it is blocked: the line to (45, 0, 0) falls to the roof (z 10) at x = 22.5,
        // halfway; the clear line to (80, 0, 0) has no hit.
        let t = s.first_hit(eye, [45.0, 0.0, 0.0]).unwrap();
        assert!((t - 0.5).abs() < 1e-12, "{t}");
        assert_eq!(s.first_hit(eye, [80.0, 0.0, 0.0]), None);
        // Off the axis the same law holds along each ray: y = 10 at x = 60 is the edge too.
        assert!(s.occluded(eye, [59.9, 10.0, 0.0]));
        assert!(!s.occluded(eye, [60.1, 10.0, 0.0]));
        // Eye below the roof: everything behind is hidden, however far.
        assert!(s.occluded([0.0, 0.0, 5.0], [1000.0, 0.0, 0.0]));
        // A target on top of a 5 m pole at x = 50: hidden up to 20 − 15·50/30 ... the ray from
        // the eye to (50, 0, z) passes x = 30 at 20 + (z − 20)·30/50: clear when that is ≥ 10,
        // z ≥ 20 − 10·50/30 = 3.333 m.
        assert!(s.occluded(eye, [50.0, 0.0, 3.3]));
        assert!(!s.occluded(eye, [50.0, 0.0, 3.34]));
    }

    /// A sight line that grazes the roof edge exactly is clear (ties visible); a millimetre
    /// lower it is blocked.
    #[test]
    fn a_sightline_grazing_a_roof_edge() {
        let s = boxed(20.0, -20.0, 30.0, 20.0, 10.0);
        let eye = [0.0, 0.0, 20.0];
        // Through (30, 0, 10) exactly: the far roof edge (binary-exact numbers).
        assert!(!s.occluded(eye, [60.0, 0.0, 0.0]));
        assert!(s.occluded(eye, [59.999, 0.0, 0.0]));
        // Obliquely over the far roof edge at (30, 3, 10): still one point, clear.
        assert!(!s.occluded(eye, [60.0, 6.0, 0.0]));
        assert!(s.occluded(eye, [59.999, 6.0, 0.0]));
        // Just under the roof, horizontally: blocked; along the roof's plane: in through one top
        // edge and out through the other, counted as blocked (see the module docs).
        assert!(s.occluded([0.0, 0.0, 9.999], [100.0, 0.0, 9.999]));
        assert!(s.occluded([0.0, 0.0, 10.0], [100.0, 0.0, 10.0]));
        // Through the centre of a wall, where its two triangles meet on their diagonal: in and
        // out of the box at two places, blocked.
        assert!(s.occluded([0.0, 0.0, 5.0], [100.0, 0.0, 5.0]));
        assert!(s.occluded([25.0, -100.0, 5.0], [25.0, 100.0, 5.0]));
    }

    /// The BVH answers as brute force over every triangle.
    #[test]
    fn the_bvh_matches_brute_force() {
        let mut tris = Vec::new();
        let mut seed = 12345u64;
        let mut rnd = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        for _ in 0..300 {
            let (x, y, h) = (rnd() * 900.0, rnd() * 900.0, 3.0 + rnd() * 30.0);
            let fp = MultiPolygon(vec![
                polygon![(x: x, y: y), (x: x + 12.0, y: y), (x: x + 12.0, y: y + 9.0), (x: x, y: y + 9.0)],
            ]);
            prism(&fp, 0.0, h, tris.len() as u32, &mut tris);
        }
        let all = tris.clone();
        let s = Scene::new(tris);
        let mut blocked = 0;
        for _ in 0..2000 {
            let a = [rnd() * 900.0, rnd() * 900.0, rnd() * 40.0];
            let b = [rnd() * 900.0, rnd() * 900.0, rnd() * 40.0];
            let brute = occluded_by(&all, a, b);
            assert_eq!(s.occluded(a, b), brute, "{a:?} -> {b:?}");
            let hit = s.first_hit(a, b);
            assert_eq!(hit.is_some(), brute, "{a:?} -> {b:?}");
            assert_eq!(hit, first_hit_by(&all, a, b));
            blocked += brute as usize;
        }
        assert!(blocked > 200 && blocked < 1900, "{blocked}");
    }
}
