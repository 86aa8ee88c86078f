//! Sightlines by ray casting against triangles (terrain, buildings, a proposal) in a bounding
//! volume hierarchy.
//!
//! The BVH is this crate's own (a few hundred lines): a binary tree built by the surface area
//! heuristic over binned triangle centroids, leaves of at most [`MAX_LEAF`] triangles (more
//! only where their centroids coincide), stored flat in depth-first order so that a left child
//! follows its parent, in 32-byte nodes whose f32 boxes (relative to the scene's centre) are
//! rounded outwards, walked nearer child first with an any-hit early exit. The triangle tests
//! stay in f64. The `bvh` crate would bring nalgebra and f32 geometry; a sightline only asks
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
        if det * det <= 1e-24 * dot(self.e1, self.e1) * dot(p, p) {
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

/// A node of the flattened tree: 32 bytes, two to a cache line. Its box is stored in f32
/// relative to the scene's centre, rounded outwards, so that it always contains its triangles
/// (a box test may say yes where the f64 box would say no, never the reverse).
#[derive(Clone, Copy, Debug)]
#[repr(C)]
struct Node {
    min: [f32; 3],
    /// Leaf: first triangle; inner: the right child (the left one is the next node).
    index: u32,
    max: [f32; 3],
    /// Leaf: triangle count; inner: [`INNER`].
    meta: u32,
}

/// The flag of an inner node in [`Node::meta`].
const INNER: u32 = 1 << 31;

/// Triangles in a BVH, for segment queries.
#[derive(Clone, Debug)]
pub struct Scene {
    tris: Vec<Tri>,
    nodes: Vec<Node>,
    /// The point the nodes' boxes are relative to.
    centre: [f64; 3],
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
        let (lo, hi) = bounds(&tris);
        let centre = if tris.is_empty() {
            [0.0; 3]
        } else {
            [0, 1, 2].map(|a| ((lo[a] + hi[a]) / 2.0).round())
        };
        let mut nodes = Vec::with_capacity(2 * tris.len() / 2 + 1);
        if !tris.is_empty() {
            let n = tris.len();
            build(&mut tris, 0, n, centre, &mut nodes);
        }
        Scene {
            tris,
            nodes,
            centre,
        }
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
    /// the caller then brute-forces). Both children's boxes are tested at their parent and the
    /// one the segment enters first is walked first, so that a blocked segment usually stops at
    /// its first leaves.
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
        // A zero component gives an infinite inverse; see `slab` on the NaN it can make.
        let inv = d.map(|x| 1.0 / x);
        let o = sub(a, self.centre);
        let tris = |n: &Node| &self.tris[n.index as usize..(n.index + n.meta) as usize];
        if slab(&self.nodes[0], o, inv).is_none() {
            return Some(false);
        }
        // Nodes whose boxes the segment meets, still to walk.
        let mut stack = [0u32; 96];
        let mut top = 0;
        let mut ni = 0usize;
        loop {
            let n = &self.nodes[ni];
            if n.meta & INNER == 0 {
                for t in tris(n) {
                    if visit(t.solid, t.meet(a, d)) {
                        return Some(true);
                    }
                }
            } else {
                let (l, r) = (ni + 1, n.index as usize);
                match (slab(&self.nodes[l], o, inv), slab(&self.nodes[r], o, inv)) {
                    (Some(tl), Some(tr)) => {
                        if top == stack.len() {
                            return None;
                        }
                        // The nearer entry first; the other waits on the stack.
                        let (near, far) = if tl <= tr { (l, r) } else { (r, l) };
                        stack[top] = far as u32;
                        top += 1;
                        ni = near;
                        continue;
                    }
                    (Some(_), None) => {
                        ni = l;
                        continue;
                    }
                    (None, Some(_)) => {
                        ni = r;
                        continue;
                    }
                    (None, None) => {}
                }
            }
            if top == 0 {
                return Some(false);
            }
            top -= 1;
            ni = stack[top] as usize;
        }
    }
}

/// Where the segment from `o` (relative to the scene's centre; t in [0, 1], direction inverse
/// `inv`) enters the node's box, None when it misses it. A zero direction component with `o`
/// exactly on a face of the box makes 0 · ∞ = NaN; boxes are padded by one f32 step beyond
/// their triangles (see [`round_out`]), so such a segment meets none of their triangles, and
/// whether the box is met does not matter.
#[inline(always)]
fn slab(n: &Node, o: [f64; 3], inv: [f64; 3]) -> Option<f64> {
    // Plain comparisons (one instruction each, where f64::min also handles NaN): a NaN here can
    // only make a box on whose padded face the segment lies be missed or met, both harmless.
    #[inline(always)]
    fn min(a: f64, b: f64) -> f64 {
        if a < b {
            a
        } else {
            b
        }
    }
    #[inline(always)]
    fn max(a: f64, b: f64) -> f64 {
        if a > b {
            a
        } else {
            b
        }
    }
    let lo = |a: usize| (n.min[a] as f64 - o[a]) * inv[a];
    let hi = |a: usize| (n.max[a] as f64 - o[a]) * inv[a];
    let (x0, x1, y0, y1, z0, z1) = (lo(0), hi(0), lo(1), hi(1), lo(2), hi(2));
    let t0 = max(max(max(min(x0, x1), min(y0, y1)), min(z0, z1)), 0.0);
    let t1 = min(min(min(max(x0, x1), max(y0, y1)), max(z0, z1)), 1.0);
    (t0 <= t1).then_some(t0)
}

/// Bins per axis of the surface area heuristic.
const BINS: usize = 16;
/// Triangles a leaf may hold when no split is worth it; more are split regardless (unless
/// their centroids coincide).
pub const MAX_LEAF: usize = 8;
/// The cost of visiting a node, against 1 for testing a triangle.
const TRAVERSAL: f64 = 1.0;
/// A triangle whose box has at least this share of its node's box's surface is "big" (see
/// `build`).
const BIG: f64 = 0.5;

fn half_area(lo: [f64; 3], hi: [f64; 3]) -> f64 {
    let d = [0, 1, 2].map(|a| (hi[a] - lo[a]).max(0.0));
    d[0] * d[1] + d[1] * d[2] + d[2] * d[0]
}

/// An f32 strictly below (`down`) or above `v`: the nearest on that side, one step further.
fn round_out(v: f64, down: bool) -> f32 {
    let f = v as f32;
    match (down, (f as f64).total_cmp(&v)) {
        (true, std::cmp::Ordering::Greater) => f.next_down().next_down(),
        (true, _) => f.next_down(),
        (false, std::cmp::Ordering::Less) => f.next_up().next_up(),
        (false, _) => f.next_up(),
    }
}

/// Builds the subtree of `tris[first..first + n]` by the surface area heuristic over
/// [`BINS`] centroid bins per axis, or the [`BIG`] triangles apart; a leaf when splitting costs more than testing its triangles
/// (and it has at most [`MAX_LEAF`]) or when their centroids coincide.
fn build(tris: &mut [Tri], first: usize, n: usize, centre: [f64; 3], nodes: &mut Vec<Node>) {
    let slice = &mut tris[first..first + n];
    let (lo, hi) = bounds(slice);
    let me = nodes.len();
    nodes.push(Node {
        min: [0, 1, 2].map(|a| round_out(lo[a] - centre[a], true)),
        index: first as u32,
        max: [0, 1, 2].map(|a| round_out(hi[a] - centre[a], false)),
        meta: n as u32,
    });
    if n <= 2 {
        return;
    }
    let (mut clo, mut chi) = ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3]);
    for t in slice.iter() {
        for a in 0..3 {
            clo[a] = clo[a].min(centroid(t, a));
            chi[a] = chi[a].max(centroid(t, a));
        }
    }
    // The best split: (cost, axis, bins on the left).
    let mut best: Option<(f64, usize, usize)> = None;
    let parent = half_area(lo, hi).max(f64::MIN_POSITIVE);
    for axis in 0..3 {
        let extent = chi[axis] - clo[axis];
        if extent <= 0.0 {
            continue;
        }
        let scale = BINS as f64 / extent;
        let bin = |t: &Tri| (((centroid(t, axis) - clo[axis]) * scale) as usize).min(BINS - 1);
        let mut count = [0usize; BINS];
        let mut blo = [[f64::INFINITY; 3]; BINS];
        let mut bhi = [[f64::NEG_INFINITY; 3]; BINS];
        for t in slice.iter() {
            let b = bin(t);
            count[b] += 1;
            for k in 0..3 {
                let v = t.vertex(k);
                for c in 0..3 {
                    blo[b][c] = blo[b][c].min(v[c]);
                    bhi[b][c] = bhi[b][c].max(v[c]);
                }
            }
        }
        // Sweeps: the right side's area and count for each split.
        let mut right = [(0.0, 0usize); BINS];
        let (mut rlo, mut rhi, mut rn) = ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3], 0);
        for b in (1..BINS).rev() {
            for c in 0..3 {
                rlo[c] = rlo[c].min(blo[b][c]);
                rhi[c] = rhi[c].max(bhi[b][c]);
            }
            rn += count[b];
            right[b] = (half_area(rlo, rhi), rn);
        }
        let (mut llo, mut lhi, mut ln) = ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3], 0);
        for b in 0..BINS - 1 {
            for c in 0..3 {
                llo[c] = llo[c].min(blo[b][c]);
                lhi[c] = lhi[c].max(bhi[b][c]);
            }
            ln += count[b];
            let (ra, rn) = right[b + 1];
            if ln == 0 || rn == 0 {
                continue;
            }
            let cost = TRAVERSAL + (half_area(llo, lhi) * ln as f64 + ra * rn as f64) / parent;
            if best.is_none_or(|(c, _, _)| cost < c) {
                best = Some((cost, axis, b + 1));
            }
        }
    }
    // One more candidate: the triangles nearly as large as the node (a ground plane of two
    // triangles under a city) alone on one side, which no centroid split can do.
    let big = |t: &Tri| {
        let (l, h) = bounds(std::slice::from_ref(t));
        half_area(l, h) >= BIG * parent
    };
    let n_big = slice.iter().filter(|t| big(t)).count();
    if n_big > 0 && n_big < n {
        let (mut blo, mut bhi) = ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3]);
        let (mut rlo, mut rhi) = (blo, bhi);
        for t in slice.iter() {
            let (l, h) = bounds(std::slice::from_ref(t));
            let (bl, bh) = if big(t) {
                (&mut blo, &mut bhi)
            } else {
                (&mut rlo, &mut rhi)
            };
            for c in 0..3 {
                bl[c] = bl[c].min(l[c]);
                bh[c] = bh[c].max(h[c]);
            }
        }
        let cost = TRAVERSAL
            + (half_area(blo, bhi) * n_big as f64 + half_area(rlo, rhi) * (n - n_big) as f64)
                / parent;
        if best.is_none_or(|(c, _, _)| cost < c) {
            best = Some((cost, usize::MAX, 0));
        }
    }
    let Some((cost, axis, left_bins)) = best else {
        return; // all centroids at one point: one leaf
    };
    if cost >= n as f64 && n <= MAX_LEAF {
        return;
    }
    let mut mid = 0;
    if axis == usize::MAX {
        for i in 0..n {
            if big(&slice[i]) {
                slice.swap(i, mid);
                mid += 1;
            }
        }
    } else {
        let scale = BINS as f64 / (chi[axis] - clo[axis]);
        for i in 0..n {
            let b = (((centroid(&slice[i], axis) - clo[axis]) * scale) as usize).min(BINS - 1);
            if b < left_bins {
                slice.swap(i, mid);
                mid += 1;
            }
        }
        if mid == 0 || mid == n {
            // Rounding put every centroid on one side: split at the median instead.
            mid = n / 2;
            slice.select_nth_unstable_by(mid, |p, q| {
                centroid(p, axis).total_cmp(&centroid(q, axis))
            });
        }
    }
    nodes[me].meta = INNER;
    build(tris, first, mid, centre, nodes);
    nodes[me].index = nodes.len() as u32;
    build(tris, first + mid, n - mid, centre, nodes);
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
        // Ground under it all: two triangles as large as the scene (the BVH's "big" split).
        let g = 1e6;
        tris.push(Tri::of(
            g as u32,
            [-100.0, -100.0, 0.0],
            [1000.0, -100.0, 0.0],
            [1000.0, 1000.0, 0.0],
        ));
        tris.push(Tri::of(
            g as u32,
            [-100.0, -100.0, 0.0],
            [1000.0, 1000.0, 0.0],
            [-100.0, 1000.0, 0.0],
        ));
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
