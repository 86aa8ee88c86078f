//! The quadtree of vector features (buildings, heritage sites): additive refinement, each
//! feature in exactly one tile. A cell that holds more than a leaf's worth of features (by count
//! or by bytes) keeps its largest features as its own content and hands the rest to its four
//! quadrants. A tile's geometric error is the size of the largest feature left to its
//! descendants: the error, in metres, of drawing the tile without them.

/// One feature to place: its index in the layer, a representative point, its size in metres and
/// its estimated glTF bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Item {
    pub idx: u32,
    pub x: f64,
    pub y: f64,
    pub size: f32,
    pub bytes: u32,
}

/// Limits of the tree.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub max_features: usize,
    pub max_bytes: usize,
    pub parent_features: usize,
    pub max_depth: u32,
}

/// A quadtree node.
#[derive(Debug)]
pub(crate) struct Node {
    pub level: u32,
    pub x: u32,
    pub y: u32,
    pub content: Vec<u32>,
    /// Size of the largest feature in the descendants (0 for a leaf).
    pub error: f64,
    /// The features left to the descendants, grouped by cell of a [`block_grid`]² grid over
    /// this node's cell (empty for a leaf): each group is drawn as one merged block until the
    /// descendants load (docs/adr/0026, "city mass").
    pub blocks: Vec<Vec<u32>>,
    pub children: Vec<Node>,
}

/// Build the tree over `items` in the square cell (xmin, ymin, size).
pub(crate) fn build(items: Vec<Item>, cell: (f64, f64, f64), limits: &Limits) -> Node {
    split(items, cell, 0, 0, 0, limits)
}

fn split(
    mut items: Vec<Item>,
    cell: (f64, f64, f64),
    level: u32,
    x: u32,
    y: u32,
    l: &Limits,
) -> Node {
    let bytes: usize = items.iter().map(|i| i.bytes as usize).sum();
    if (items.len() <= l.max_features && bytes <= l.max_bytes) || level >= l.max_depth {
        return Node {
            level,
            x,
            y,
            content: items.iter().map(|i| i.idx).collect(),
            error: 0.0,
            blocks: Vec::new(),
            children: Vec::new(),
        };
    }
    // The largest features stay here, within the parent's budget of count and bytes.
    items.sort_by(|a, b| b.size.total_cmp(&a.size).then(a.idx.cmp(&b.idx)));
    let budget = l.max_bytes / 4;
    let mut keep = 0;
    let mut used = 0usize;
    while keep < items.len() && keep < l.parent_features {
        let b = items[keep].bytes as usize;
        if keep > 0 && used + b > budget {
            break;
        }
        used += b;
        keep += 1;
    }
    let rest = items.split_off(keep);
    let error = rest.iter().map(|i| i.size as f64).fold(0.0, f64::max);
    let (x0, y0, s) = cell;
    let h = s / 2.0;
    let blocks = group_blocks(&rest, cell, block_grid(l));
    let mut quads: [Vec<Item>; 4] = Default::default();
    for it in rest {
        let qx = usize::from(it.x >= x0 + h);
        let qy = usize::from(it.y >= y0 + h);
        quads[qy * 2 + qx].push(it);
    }
    let mut children = Vec::new();
    for (q, sub) in quads.into_iter().enumerate() {
        if sub.is_empty() {
            continue;
        }
        let (qx, qy) = ((q % 2) as u32, (q / 2) as u32);
        let c = (x0 + qx as f64 * h, y0 + qy as f64 * h, h);
        children.push(split(sub, c, level + 1, x * 2 + qx, y * 2 + qy, l));
    }
    let mut content: Vec<u32> = items.iter().map(|i| i.idx).collect();
    content.sort_unstable();
    Node {
        level,
        x,
        y,
        content,
        error,
        blocks,
        children,
    }
}

/// Cells per side of the grid whose cells group a node's descendants into blocks: as many
/// blocks as a leaf may hold features (at most 32 × 32, at least 2 × 2).
pub(crate) fn block_grid(l: &Limits) -> u32 {
    ((l.max_features as f64).sqrt().floor() as u32).clamp(2, 32)
}

/// Group items by the `grid`² cell of `cell` holding their representative point; groups in
/// cell order (row by row), indices ascending.
fn group_blocks(items: &[Item], cell: (f64, f64, f64), grid: u32) -> Vec<Vec<u32>> {
    let (x0, y0, s) = cell;
    let g = grid as f64;
    let at = |v: f64, o: f64| (((v - o) / s * g).floor().clamp(0.0, g - 1.0)) as u32;
    let mut keyed: Vec<(u32, u32)> = items
        .iter()
        .map(|it| (at(it.y, y0) * grid + at(it.x, x0), it.idx))
        .collect();
    keyed.sort_unstable();
    let mut out: Vec<Vec<u32>> = Vec::new();
    let mut last = None;
    for (k, idx) in keyed {
        if last != Some(k) {
            out.push(Vec::new());
            last = Some(k);
        }
        if let Some(g) = out.last_mut() {
            g.push(idx);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(n: &Node) -> usize {
        n.content.len() + n.children.iter().map(count).sum::<usize>()
    }

    fn all(n: &Node) -> Vec<u32> {
        let mut v = n.content.clone();
        v.extend(n.children.iter().flat_map(all));
        v
    }

    fn check(n: &Node, l: &Limits) {
        if n.children.is_empty() {
            assert_eq!(n.error, 0.0);
            assert!(n.blocks.is_empty());
        } else {
            // The blocks hold exactly the descendants' features.
            let mut below: Vec<u32> = n.children.iter().flat_map(all).collect();
            let mut grouped: Vec<u32> = n.blocks.iter().flatten().copied().collect();
            below.sort_unstable();
            grouped.sort_unstable();
            assert_eq!(below, grouped);
            assert!(n.blocks.len() <= (block_grid(l) * block_grid(l)) as usize);
        }
        for c in &n.children {
            assert!(c.error <= n.error);
            assert_eq!(c.level, n.level + 1);
            check(c, l);
        }
        assert!(n.content.len() <= l.max_features.max(l.parent_features) || n.level == l.max_depth);
    }

    #[test]
    fn every_item_once_and_errors_fall() {
        let items: Vec<Item> = (0..10_000u32)
            .map(|i| Item {
                idx: i,
                x: ((i * 7919) % 1000) as f64,
                y: ((i * 104_729) % 997) as f64,
                size: (i % 50) as f32 + 1.0,
                bytes: 1000,
            })
            .collect();
        let l = Limits {
            max_features: 500,
            max_bytes: 1 << 20,
            parent_features: 100,
            max_depth: 12,
        };
        let root = build(items, (0.0, 0.0, 1000.0), &l);
        assert_eq!(count(&root), 10_000);
        assert_eq!(root.content.len(), 100);
        assert_eq!(root.error, 50.0);
        check(&root, &l);
        // All in one spot: depth is bounded.
        let same: Vec<Item> = (0..3000u32)
            .map(|i| Item {
                idx: i,
                x: 1.0,
                y: 1.0,
                size: 1.0,
                bytes: 10,
            })
            .collect();
        let root = build(same, (0.0, 0.0, 10.0), &l);
        assert_eq!(count(&root), 3000);
    }
}
