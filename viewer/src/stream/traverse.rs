//! The viewer's own traversal of a 3D Tiles tree: the screen-space error of each tile from its
//! geometric error and its distance to the camera, refinement `ADD` (children drawn with the
//! parent) and `REPLACE` (children drawn instead of the parent once all the visible ones are
//! loaded; until then the parent stays), frustum culling, and the loads to ask for, nearest and
//! coarsest first.

use super::tree::{Refine, Tree};

/// A box of the local frame: min and max corners.
pub type Aabb = ([f64; 3], [f64; 3]);

/// The camera as the traversal sees it (local frame, z up).
pub struct Eye<'a> {
    /// Position.
    pub pos: [f64; 3],
    /// Height of the picture in pixels.
    pub height_px: f64,
    /// Vertical field of view, radians.
    pub fov_y: f64,
    /// Whether a box (local frame, min and max) can be seen.
    pub visible: &'a dyn Fn(&Aabb) -> bool,
}

/// What a traversal found for one tree.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selection {
    /// Tiles to draw (their content is loaded).
    pub draw: Vec<usize>,
    /// Tiles whose content is wanted and not loaded: (priority, node), lower first.
    pub want: Vec<(f64, usize)>,
    /// Tiles visited whose content is loaded, drawn or not (a REPLACE parent standing in, or
    /// children waiting for a sibling): none of them may be unloaded.
    pub keep: Vec<usize>,
}

/// Distance (m) from a point to a box, 0 inside.
pub fn distance_to_box(p: [f64; 3], b: &Aabb) -> f64 {
    p.iter()
        .zip(b.0.iter().zip(&b.1))
        .map(|(&v, (&lo, &hi))| {
            let e = (lo - v).max(0.0).max(v - hi);
            e * e
        })
        .sum::<f64>()
        .sqrt()
}

impl Eye<'_> {
    /// The screen-space error (pixels) of `geometric_error` metres at `distance` metres.
    pub fn sse(&self, geometric_error: f64, distance: f64) -> f64 {
        geometric_error * self.height_px / (2.0 * distance.max(1e-3) * (self.fov_y / 2.0).tan())
    }
}

/// Traverse `tree` for `eye`: tiles refine while their screen-space error exceeds `max_sse`
/// pixels. `loaded(i)` says whether tile i's content is loaded (tiles without content count as
/// loaded).
pub fn select(tree: &Tree, eye: &Eye, max_sse: f64, loaded: &dyn Fn(usize) -> bool) -> Selection {
    let mut s = Selection::default();
    if !tree.nodes.is_empty() {
        visit(tree, 0, 0, eye, max_sse, loaded, &mut s);
    }
    s
}

/// Visit tile `i`; returns whether what it adds to `s.draw` covers it fully (no hole where
/// content is still loading).
fn visit(
    tree: &Tree,
    i: usize,
    depth: usize,
    eye: &Eye,
    max_sse: f64,
    loaded: &dyn Fn(usize) -> bool,
    s: &mut Selection,
) -> bool {
    let n = &tree.nodes[i];
    if !(eye.visible)(&n.bounds) {
        return true;
    }
    let d = distance_to_box(eye.pos, &n.bounds);
    let priority = depth as f64 * 1e7 + d;
    let has = n.content.is_some();
    let ready = !has || loaded(i);
    let refine = eye.sse(n.geometric_error, d) > max_sse && !n.children.is_empty();
    if has && !ready {
        s.want.push((priority, i));
    }
    if has && ready {
        s.keep.push(i);
    }
    if !refine {
        if has && ready {
            s.draw.push(i);
        }
        return ready;
    }
    match n.refine {
        Refine::Add => {
            if has && ready {
                s.draw.push(i);
            }
            for &c in &n.children {
                visit(tree, c, depth + 1, eye, max_sse, loaded, s);
            }
            ready
        }
        Refine::Replace => {
            let mark = s.draw.len();
            let mut all = true;
            for &c in &n.children {
                all &= visit(tree, c, depth + 1, eye, max_sse, loaded, s);
            }
            if all {
                return true;
            }
            if has && ready {
                // The parent stands in for its children until they are all loaded.
                s.draw.truncate(mark);
                s.draw.push(i);
                return true;
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::content::IDENTITY;
    use crate::stream::tree::Node;

    fn node(parent: Option<usize>, children: Vec<usize>, ge: f64, refine: Refine, x: f64) -> Node {
        Node {
            parent,
            children,
            geometric_error: ge,
            refine,
            world: IDENTITY,
            bounds: ([x, 0.0, 0.0], [x + 100.0, 100.0, 10.0]),
            content: Some(format!("t{x}")),
        }
    }

    /// A root over [0, 200] with two leaves [0, 100] and [100, 200].
    fn tree(refine: Refine) -> Tree {
        let mut root = node(None, vec![1, 2], 50.0, refine, 0.0);
        root.bounds.1[0] = 200.0;
        Tree {
            nodes: vec![
                root,
                node(Some(0), vec![], 0.0, refine, 0.0),
                node(Some(0), vec![], 0.0, refine, 100.0),
            ],
        }
    }

    fn eye(pos: [f64; 3]) -> Eye<'static> {
        Eye {
            pos,
            height_px: 1000.0,
            fov_y: std::f64::consts::FRAC_PI_2,
            visible: &|_| true,
        }
    }

    #[test]
    fn screen_space_error_follows_distance() {
        let e = eye([0.0; 3]);
        // 50 m of error at 1000 m, 1000 px over a 90° field: 50 * 1000 / (2 * 1000 * 1) = 25.
        assert!((e.sse(50.0, 1000.0) - 25.0).abs() < 1e-9);
        assert_eq!(
            distance_to_box([0.0, 0.0, 30.0], &([0.0; 3], [1.0, 1.0, 10.0])),
            20.0
        );
    }

    #[test]
    fn far_away_the_root_is_enough_and_near_it_refines() {
        let t = tree(Refine::Replace);
        let all = |_: usize| true;
        // 50 m at 10 km: 2.5 px.
        let s = select(&t, &eye([100.0, 50.0, 10_000.0]), 16.0, &all);
        assert_eq!(s.draw, vec![0]);
        let s = select(&t, &eye([100.0, 50.0, 500.0]), 16.0, &all);
        assert_eq!(s.draw, vec![1, 2]);
    }

    #[test]
    fn replace_keeps_the_parent_until_every_child_is_loaded() {
        let t = tree(Refine::Replace);
        let some = |i: usize| i != 2;
        let s = select(&t, &eye([100.0, 50.0, 500.0]), 16.0, &some);
        assert_eq!(s.draw, vec![0]);
        assert_eq!(s.want.len(), 1);
        assert_eq!(s.want[0].1, 2);
        // The loaded child waiting for its sibling is kept loaded with the parent.
        assert_eq!(s.keep, vec![0, 1]);
        // Nothing loaded: the root is wanted first (lower priority value).
        let none = |_: usize| false;
        let mut s = select(&t, &eye([100.0, 50.0, 500.0]), 16.0, &none);
        s.want.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert_eq!(
            s.want.iter().map(|w| w.1).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        assert!(s.draw.is_empty());
    }

    #[test]
    fn add_draws_the_parent_with_its_children_and_culling_skips_boxes() {
        let t = tree(Refine::Add);
        let all = |_: usize| true;
        let s = select(&t, &eye([100.0, 50.0, 500.0]), 16.0, &all);
        assert_eq!(s.draw, vec![0, 1, 2]);
        let left_only = |b: &([f64; 3], [f64; 3])| b.0[0] < 100.0;
        let e = Eye {
            visible: &left_only,
            ..eye([100.0, 50.0, 500.0])
        };
        assert_eq!(select(&t, &e, 16.0, &all).draw, vec![0, 1]);
    }
}
