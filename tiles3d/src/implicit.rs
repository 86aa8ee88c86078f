//! Implicit tiling (3D Tiles 1.1 `implicitTiling`, `QUADTREE`) of the vector layers (buildings,
//! heritage): the tree of tiles is the regular subdivision of the root `region` in longitude and
//! latitude, addressed `{level}/{x}/{y}` (x eastward from the west edge, y northward from the
//! south edge), and which tiles exist and have content is said by binary `.subtree` files, so
//! `tileset.json` stays the same size however large the layer grows (ADR 0017).
//!
//! Placement keeps every vertex inside its tile: a feature goes down the tree only while its
//! lon/lat box (padded) fits inside one child cell, so features that straddle a cell's split
//! lines stay in that cell (an MX-CIF quadtree). Geometric error halves per level, as implicit
//! tiling requires, from a root error chosen so that every tile's error is at least the size of
//! every feature below it; a feature also goes down only while its size fits the child cell.
//! Content is bounded like the explicit tree: a cell over `max_features` or `max_bytes` keeps
//! its straddling features and, up to `parent_features`, its largest others, and passes the rest
//! to its quadrants. Only straddling features can make a tile's content exceed the limits;
//! [`ImplicitStats`] counts such tiles.

use crate::tree::Limits;
use std::collections::HashMap;

/// One feature to place: its index in the layer, its box in the root's unit square
/// `[u0, v0, u1, v1]` (u eastward, v northward), its size in metres and estimated glTF bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct QItem {
    pub idx: u32,
    pub uv: [f64; 4],
    pub size: f32,
    pub bytes: u32,
}

/// A cell of the implicit quadtree that holds content.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct QCell {
    pub level: u32,
    pub x: u32,
    pub y: u32,
    /// Feature indices, ascending.
    pub content: Vec<u32>,
    /// Size (m) of its largest feature.
    pub max_size: f64,
    /// True when its content is over the limits (straddling features that cannot go down).
    pub over: bool,
}

/// The cell of `level` holding the whole box, if one does.
fn cell_of(uv: [f64; 4], level: u32) -> Option<(u32, u32)> {
    let n = (1u64 << level) as f64;
    let last = (1u64 << level) - 1;
    let c = |t: f64| ((t * n).floor().max(0.0) as u64).min(last);
    let (x0, x1, y0, y1) = (c(uv[0]), c(uv[2]), c(uv[1]), c(uv[3]));
    (x0 == x1 && y0 == y1).then_some((x0 as u32, y0 as u32))
}

/// Place `items` in the implicit quadtree of a root cell whose larger side is `root_m` metres;
/// returns the cells with content.
pub(crate) fn build(items: Vec<QItem>, root_m: f64, limits: &Limits) -> Vec<QCell> {
    let mut out = Vec::new();
    split(items, 0, 0, 0, root_m, limits, &mut out);
    out
}

fn split(
    mut items: Vec<QItem>,
    level: u32,
    x: u32,
    y: u32,
    root_m: f64,
    l: &Limits,
    out: &mut Vec<QCell>,
) {
    let bytes: usize = items.iter().map(|i| i.bytes as usize).sum();
    let cell = |content: &[QItem], over: bool| {
        let mut idx: Vec<u32> = content.iter().map(|i| i.idx).collect();
        idx.sort_unstable();
        QCell {
            level,
            x,
            y,
            content: idx,
            max_size: content.iter().map(|i| i.size as f64).fold(0.0, f64::max),
            over,
        }
    };
    if (items.len() <= l.max_features && bytes <= l.max_bytes) || level >= l.max_depth {
        if !items.is_empty() {
            out.push(cell(
                &items,
                level >= l.max_depth && items.len() > l.max_features,
            ));
        }
        return;
    }
    // Features that cannot go down: their box straddles a split line, or they are larger
    // than a child cell (the child's geometric error could not cover them).
    let child_m = root_m / (1u64 << (level + 1)) as f64;
    let fits = |it: &QItem| (it.size as f64) <= child_m && cell_of(it.uv, level + 1).is_some();
    let (mut movable, stuck): (Vec<QItem>, Vec<QItem>) = items.drain(..).partition(fits);
    movable.sort_by(|a, b| b.size.total_cmp(&a.size).then(a.idx.cmp(&b.idx)));
    let budget = l.max_bytes / 4;
    let mut used: usize = stuck.iter().map(|i| i.bytes as usize).sum();
    let mut keep = 0;
    while keep < movable.len() && stuck.len() + keep < l.parent_features {
        let b = movable[keep].bytes as usize;
        if stuck.len() + keep > 0 && used + b > budget {
            break;
        }
        used += b;
        keep += 1;
    }
    let rest = movable.split_off(keep);
    let mut content = stuck;
    content.extend(movable);
    if !content.is_empty() {
        let over = content.len() > l.max_features.max(l.parent_features) || used > l.max_bytes;
        out.push(cell(&content, over));
    }
    let mut quads: [Vec<QItem>; 4] = Default::default();
    for it in rest {
        if let Some((cx, cy)) = cell_of(it.uv, level + 1) {
            quads[((cy & 1) * 2 + (cx & 1)) as usize].push(it);
        }
    }
    for (q, sub) in quads.into_iter().enumerate() {
        if !sub.is_empty() {
            let (qx, qy) = ((q % 2) as u32, (q / 2) as u32);
            split(sub, level + 1, x * 2 + qx, y * 2 + qy, root_m, l, out);
        }
    }
}

/// The smallest root geometric error with which every tile's error (`root / 2^level`) is at
/// least the size of every feature below it: `max(size × 2^(level − 1))` over the cells below
/// the root, and at least the root's own largest feature.
pub(crate) fn root_error(cells: &[QCell]) -> f64 {
    cells
        .iter()
        .map(|c| match c.level {
            0 => c.max_size,
            l => c.max_size * (1u64 << (l - 1)) as f64,
        })
        .fold(0.0, f64::max)
        .max(1.0)
}

/// Levels per subtree file for `available` levels: at most 8 (a subtree's bitstreams stay
/// under 12 KiB), split evenly.
pub(crate) fn subtree_levels(available: u32) -> u32 {
    let files = available.div_ceil(8).max(1);
    available.div_ceil(files).max(1)
}

/// The x and y of a Morton (Z-order) index: x in the even bits, y in the odd bits.
pub(crate) fn demorton(m: u64) -> (u32, u32) {
    let take = |mut v: u64| {
        let mut out = 0u32;
        for b in 0..32 {
            out |= ((v & 1) as u32) << b;
            v >>= 2;
            if v == 0 {
                break;
            }
        }
        out
    };
    (take(m), take(m >> 1))
}

/// What implicit placement gave, for reports and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ImplicitStats {
    /// Levels with available tiles (`availableLevels`).
    pub available_levels: u32,
    /// Levels per subtree file (`subtreeLevels`).
    pub subtree_levels: u32,
    /// Tiles with content over `max_features`/`max_bytes` (features straddling split lines).
    pub over_limit_tiles: usize,
    /// Most features in one tile.
    pub max_tile_features: usize,
}

/// The implicit tree of a planned tileset: its addressing and what each subtree says.
#[derive(Clone, Debug)]
pub(crate) struct Implicit {
    pub stats: ImplicitStats,
    /// (level, x, y) → index of the tile in the tileset's tiles.
    pub at: HashMap<(u32, u32, u32), usize>,
}

/// One availability of a subtree: a constant when all bits agree, else a bitstream.
fn availability(bits: &[bool], views: &mut Vec<Vec<u8>>) -> serde_json::Value {
    let count = bits.iter().filter(|b| **b).count();
    if count == 0 {
        return serde_json::json!({"constant": 0});
    }
    if count == bits.len() {
        return serde_json::json!({"constant": 1});
    }
    let mut bytes = vec![0u8; bits.len().div_ceil(8)];
    for (i, _) in bits.iter().enumerate().filter(|(_, b)| **b) {
        bytes[i / 8] |= 1 << (i % 8);
    }
    views.push(bytes);
    serde_json::json!({"bitstream": views.len() - 1, "availableCount": count})
}

impl Implicit {
    /// The subtree files' roots: available tiles on levels that are multiples of the subtree
    /// levels, as (level, x, y).
    pub fn subtree_roots(&self) -> Vec<(u32, u32, u32)> {
        let s = self.stats.subtree_levels;
        let mut v: Vec<_> = self
            .at
            .keys()
            .filter(|(l, _, _)| l % s == 0)
            .copied()
            .collect();
        v.sort_unstable();
        v
    }

    /// The binary `.subtree` file rooted at (level, x, y), none when no subtree is rooted
    /// there. `has_content(i)` says whether tile `i` has content.
    pub fn subtree(
        &self,
        (level, x, y): (u32, u32, u32),
        has_content: impl Fn(usize) -> bool,
    ) -> Option<Vec<u8>> {
        let s = self.stats.subtree_levels;
        if level % s != 0 || !self.at.contains_key(&(level, x, y)) {
            return None;
        }
        let mut tiles = Vec::new();
        let mut content = Vec::new();
        for l in 0..s {
            for m in 0..(1u64 << (2 * l)) {
                let (dx, dy) = demorton(m);
                let key = (level + l, (x << l) + dx, (y << l) + dy);
                let t = self.at.get(&key);
                tiles.push(t.is_some());
                content.push(t.is_some_and(|&i| has_content(i)));
            }
        }
        let children: Vec<bool> = (0..(1u64 << (2 * s)))
            .map(|m| {
                let (dx, dy) = demorton(m);
                self.at
                    .contains_key(&(level + s, (x << s) + dx, (y << s) + dy))
            })
            .collect();
        let mut views = Vec::new();
        let tile_av = availability(&tiles, &mut views);
        let content_av = availability(&content, &mut views);
        let child_av = availability(&children, &mut views);
        let mut json = serde_json::json!({
            "tileAvailability": tile_av,
            "contentAvailability": [content_av],
            "childSubtreeAvailability": child_av,
        });
        let mut bin = Vec::new();
        if !views.is_empty() {
            let mut bv = Vec::new();
            for v in &views {
                bv.push(serde_json::json!({"buffer": 0, "byteOffset": bin.len(), "byteLength": v.len()}));
                bin.extend_from_slice(v);
                bin.resize(bin.len().next_multiple_of(8), 0);
            }
            json["buffers"] = serde_json::json!([{"byteLength": bin.len()}]);
            json["bufferViews"] = serde_json::Value::Array(bv);
        }
        let mut js = serde_json::to_vec(&json).ok()?;
        js.resize(js.len().next_multiple_of(8), b' ');
        let mut out = Vec::with_capacity(24 + js.len() + bin.len());
        out.extend_from_slice(b"subt");
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&(js.len() as u64).to_le_bytes());
        out.extend_from_slice(&(bin.len() as u64).to_le_bytes());
        out.extend_from_slice(&js);
        out.extend_from_slice(&bin);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_features: 100,
            max_bytes: 1 << 20,
            parent_features: 25,
            max_depth: 12,
        }
    }

    #[test]
    fn morton() {
        assert_eq!(demorton(0), (0, 0));
        assert_eq!(demorton(1), (1, 0));
        assert_eq!(demorton(2), (0, 1));
        assert_eq!(demorton(3), (1, 1));
        assert_eq!(demorton(0b0101), (3, 0));
        assert_eq!(demorton(0b1001), (1, 2));
        assert_eq!(demorton(0b110110), (0b110, 0b101));
    }

    #[test]
    fn subtree_levels_split_evenly() {
        assert_eq!(subtree_levels(1), 1);
        assert_eq!(subtree_levels(8), 8);
        assert_eq!(subtree_levels(9), 5);
        assert_eq!(subtree_levels(16), 8);
        assert_eq!(subtree_levels(17), 6);
    }

    #[test]
    fn features_stay_inside_their_cell_once_and_errors_cover_what_is_below() {
        // 5,000 boxes of 0.2–3 % of the root on a jittered grid: many straddle split lines.
        let n = 5000u32;
        let items: Vec<QItem> = (0..n)
            .map(|i| {
                let (cx, cy) = (
                    ((i * 7919) % 1000) as f64 / 1000.0,
                    ((i * 104_729) % 997) as f64 / 997.0,
                );
                let w = 0.002 + (i % 15) as f64 * 0.002;
                QItem {
                    idx: i,
                    uv: [cx, cy, (cx + w).min(1.0), (cy + w).min(1.0)],
                    size: (w * 1000.0) as f32,
                    bytes: 500,
                }
            })
            .collect();
        let l = limits();
        let cells = build(items.clone(), 1000.0, &l);
        let mut seen = vec![0u32; n as usize];
        for c in &cells {
            for &i in &c.content {
                seen[i as usize] += 1;
                let it = items[i as usize];
                // Inside the cell of its tile.
                assert_eq!(cell_of(it.uv, c.level), Some((c.x, c.y)), "item {i}");
            }
            assert!(c.content.len() <= l.max_features || c.over);
        }
        assert!(seen.iter().all(|&s| s == 1));
        let g = root_error(&cells);
        for c in &cells {
            for a in &cells {
                // Every ancestor's error covers this cell's features.
                if a.level < c.level
                    && (c.x >> (c.level - a.level), c.y >> (c.level - a.level)) == (a.x, a.y)
                {
                    assert!(g / (1u64 << a.level) as f64 >= c.max_size);
                }
            }
        }
        assert!(cells.iter().any(|c| c.level >= 3));
        // Deterministic.
        assert_eq!(build(items, 1000.0, &l), cells);
    }

    #[test]
    fn subtree_bytes_are_laid_out_as_the_spec_says() {
        // Root (content), its quadrant (1, 0) without content, and (2, 3, 0) below it with content.
        let mut at = HashMap::new();
        at.insert((0, 0, 0), 0);
        at.insert((1, 1, 0), 1);
        at.insert((2, 3, 0), 2);
        let imp = Implicit {
            stats: ImplicitStats {
                available_levels: 3,
                subtree_levels: 2,
                ..Default::default()
            },
            at,
        };
        assert_eq!(imp.subtree_roots(), vec![(0, 0, 0), (2, 3, 0)]);
        assert!(imp.subtree((1, 1, 0), |_| true).is_none());
        let b = imp.subtree((0, 0, 0), |i| i != 1).unwrap();
        assert_eq!(&b[..4], b"subt");
        assert_eq!(u32::from_le_bytes(b[4..8].try_into().unwrap()), 1);
        let jl = u64::from_le_bytes(b[8..16].try_into().unwrap()) as usize;
        let bl = u64::from_le_bytes(b[16..24].try_into().unwrap()) as usize;
        assert_eq!(jl % 8, 0);
        assert_eq!(b.len(), 24 + jl + bl);
        let j: serde_json::Value = serde_json::from_slice(&b[24..24 + jl]).unwrap();
        let bin = &b[24 + jl..];
        let bits = |av: &serde_json::Value| -> Vec<u8> {
            let v = &j["bufferViews"][av["bitstream"].as_u64().unwrap() as usize];
            let o = v["byteOffset"].as_u64().unwrap() as usize;
            assert_eq!(o % 8, 0);
            bin[o..o + v["byteLength"].as_u64().unwrap() as usize].to_vec()
        };
        // Tiles: bit 0 (root) and bit 1 + morton(1, 0) = 2.
        assert_eq!(bits(&j["tileAvailability"]), vec![0b0000_0101]);
        assert_eq!(j["tileAvailability"]["availableCount"], 2);
        assert_eq!(bits(&j["contentAvailability"][0]), vec![0b0000_0001]);
        // Child subtrees at level 2: morton(3, 0) = 5 of 16 bits.
        assert_eq!(bits(&j["childSubtreeAvailability"]), vec![0b0010_0000, 0]);
        let leaf = imp.subtree((2, 3, 0), |_| true).unwrap();
        let jl = u64::from_le_bytes(leaf[8..16].try_into().unwrap()) as usize;
        let j: serde_json::Value = serde_json::from_slice(&leaf[24..24 + jl]).unwrap();
        assert_eq!(j["childSubtreeAvailability"]["constant"], 0);
        assert_eq!(j["contentAvailability"][0]["availableCount"], 1);
        assert!(j.get("buffers").is_some());
    }
}
