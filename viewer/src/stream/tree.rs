//! A layer's 3D Tiles tree as the viewer reads it from `tileset.json`: explicit tiles, external
//! tilesets and implicit quadtrees (their `.subtree` files) turned into one list of nodes, each
//! with its bounding box in the viewer's local frame, its geometric error, how its children
//! refine it, its tile-to-ECEF matrix and its content URL; and the georeference that maps ECEF
//! into the local frame (the twin's project CRS less the floating origin, orthometric heights).

use super::client::{resolve, Client};
use super::content::{mul, mul_point, IDENTITY};
use crate::error::{Result, ViewerError};
use serde_json::Value;
use std::sync::Arc;
use tiles3d::geodesy::{ecef_to_geodetic, geodetic_to_ecef, GeoidChoice, GeoidLattice};
use twin_core::{Crs, Transform as CrsTransform};

/// The most tiles one layer's tree may have (external tilesets and implicit subtrees
/// included).
pub const MAX_TILES: usize = 200_000;
/// The most external tilesets and subtree files read for one layer.
pub const MAX_DOCUMENTS: usize = 4_096;

/// How a tile's children refine it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refine {
    /// Children draw with the parent.
    Add,
    /// Children draw instead of the parent.
    Replace,
}

/// One tile.
#[derive(Clone, Debug)]
pub struct Node {
    /// Its parent's index.
    pub parent: Option<usize>,
    /// Its children's indices.
    pub children: Vec<usize>,
    /// Metres of error when drawn without its descendants.
    pub geometric_error: f64,
    /// How its children refine it.
    pub refine: Refine,
    /// Column-major matrix from its content's frame to ECEF.
    pub world: [f64; 16],
    /// Its bounding box in the local frame (x east, y north, z up; min, max).
    pub bounds: ([f64; 3], [f64; 3]),
    /// The absolute URL of its glTF content.
    pub content: Option<String>,
}

/// The mapping of ECEF points into the viewer's local frame. Shareable; [`Georef::mapper`]
/// makes the per-thread PROJ object.
#[derive(Clone, Debug)]
pub struct Georef {
    /// The twin's project CRS.
    pub crs: Crs,
    /// The floating origin (project CRS x, y).
    pub origin: [f64; 2],
    /// The geoid undulations the server used (ellipsoidal − orthometric).
    pub geoid: Arc<GeoidLattice>,
}

/// [`Georef`] with its PROJ transformations (one per thread).
pub struct Mapper {
    g: Georef,
    to_crs: CrsTransform,
    to_lonlat: CrsTransform,
}

impl Georef {
    /// The mapper of this thread.
    pub fn mapper(&self) -> Result<Mapper> {
        let to_crs = CrsTransform::new(&Crs::wgs84(), &self.crs)
            .map_err(|e| ViewerError::invalid("project CRS", e))?;
        let to_lonlat = CrsTransform::new(&self.crs, &Crs::wgs84())
            .map_err(|e| ViewerError::invalid("project CRS", e))?;
        Ok(Mapper {
            g: self.clone(),
            to_crs,
            to_lonlat,
        })
    }
}

impl Mapper {
    /// An ECEF point in the local frame (project CRS less the origin; orthometric height).
    pub fn local(&self, p: [f64; 3]) -> Result<[f64; 3]> {
        let (lon, lat, h) = ecef_to_geodetic(p);
        self.lonlat_local(lon, lat, h)
    }

    /// A geodetic point (degrees, ellipsoidal height) in the local frame.
    pub fn lonlat_local(&self, lon: f64, lat: f64, h: f64) -> Result<[f64; 3]> {
        let (x, y) = self
            .to_crs
            .apply(lon, lat)
            .map_err(|e| ViewerError::invalid(format!("({lon}, {lat})"), e))?;
        Ok([
            x - self.g.origin[0],
            y - self.g.origin[1],
            h - self.g.geoid.at(x, y),
        ])
    }

    /// A local-frame point in ECEF.
    pub fn ecef(&self, l: [f64; 3]) -> Result<[f64; 3]> {
        let (x, y) = (l[0] + self.g.origin[0], l[1] + self.g.origin[1]);
        let (lon, lat) = self
            .to_lonlat
            .apply(x, y)
            .map_err(|e| ViewerError::invalid(format!("({x}, {y})"), e))?;
        Ok(geodetic_to_ecef(lon, lat, l[2] + self.g.geoid.at(x, y)))
    }

    /// The local box of a region (radians, ellipsoidal metres): its boundary sampled.
    pub fn region_box(&self, r: &[f64; 6]) -> Result<([f64; 3], [f64; 3])> {
        let (mut lo, mut hi) = ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3]);
        const STEPS: usize = 4;
        for i in 0..=STEPS {
            for j in 0..=STEPS {
                if i != 0 && i != STEPS && j != 0 && j != STEPS {
                    continue;
                }
                let lon = r[0] + (r[2] - r[0]) * i as f64 / STEPS as f64;
                let lat = r[1] + (r[3] - r[1]) * j as f64 / STEPS as f64;
                for h in [r[4], r[5]] {
                    let p = self.lonlat_local(lon.to_degrees(), lat.to_degrees(), h)?;
                    for k in 0..3 {
                        lo[k] = lo[k].min(p[k]);
                        hi[k] = hi[k].max(p[k]);
                    }
                }
            }
        }
        Ok((lo, hi))
    }

    /// The local box of a bounding volume (`region`, `box` or `sphere`) under `world`.
    pub fn volume_box(&self, bv: &Value, world: &[f64; 16]) -> Result<([f64; 3], [f64; 3])> {
        let nums = |k: &str| -> Option<Vec<f64>> {
            bv.get(k)?
                .as_array()?
                .iter()
                .map(Value::as_f64)
                .collect::<Option<Vec<f64>>>()
        };
        if let Some(r) = nums("region").filter(|r| r.len() == 6) {
            return self.region_box(&[r[0], r[1], r[2], r[3], r[4], r[5]]);
        }
        let corners: Vec<[f64; 3]> = if let Some(b) = nums("box").filter(|b| b.len() == 12) {
            let mut c = Vec::with_capacity(8);
            for s in 0..8 {
                let f = |bit: usize| if s & (1 << bit) != 0 { 1.0 } else { -1.0 };
                c.push(
                    [0, 1, 2].map(|k| b[k] + f(0) * b[3 + k] + f(1) * b[6 + k] + f(2) * b[9 + k]),
                );
            }
            c
        } else if let Some(s) = nums("sphere").filter(|s| s.len() == 4) {
            let mut c = Vec::with_capacity(8);
            for i in 0..8 {
                let f = |bit: usize| if i & (1 << bit) != 0 { s[3] } else { -s[3] };
                c.push([s[0] + f(0), s[1] + f(1), s[2] + f(2)]);
            }
            c
        } else {
            return Err(ViewerError::invalid(
                "boundingVolume",
                "neither a region, a box nor a sphere",
            ));
        };
        let (mut lo, mut hi) = ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3]);
        for c in corners {
            let p = self.local(mul_point(world, c))?;
            for k in 0..3 {
                lo[k] = lo[k].min(p[k]);
                hi[k] = hi[k].max(p[k]);
            }
        }
        Ok((lo, hi))
    }
}

/// A layer's tree.
#[derive(Clone, Debug, Default)]
pub struct Tree {
    /// The tiles; the first is the root.
    pub nodes: Vec<Node>,
}

fn bad(url: &str, m: impl std::fmt::Display) -> ViewerError {
    ViewerError::Http {
        url: url.to_string(),
        message: m.to_string(),
    }
}

fn matrix(v: Option<&Value>) -> Option<[f64; 16]> {
    let a = v?.as_array()?;
    if a.len() != 16 {
        return None;
    }
    let mut m = [0.0; 16];
    for (k, x) in a.iter().enumerate() {
        m[k] = x.as_f64()?;
    }
    Some(m)
}

/// The root region of a tileset.json (radians, metres), when its root has one.
pub fn root_region(ts: &Value) -> Option<[f64; 6]> {
    let r = ts
        .get("root")?
        .get("boundingVolume")?
        .get("region")?
        .as_array()?;
    if r.len() != 6 {
        return None;
    }
    let mut out = [0.0; 6];
    for (k, x) in r.iter().enumerate() {
        out[k] = x.as_f64()?;
    }
    Some(out)
}

/// The geoid a huetwin tileset's heights were made with (`asset.extras.huetwin.geoid`): a
/// constant N when it says so, else the EGM96 grid through PROJ (as the server does when PROJ
/// finds it).
pub fn geoid_of(ts: &Value, crs: &Crs, extent: [f64; 4]) -> Result<GeoidLattice> {
    let said = ts
        .pointer("/asset/extras/huetwin/geoid")
        .and_then(Value::as_str)
        .unwrap_or("");
    let constant = said
        .strip_prefix("constant geoid offset N = ")
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse::<f64>().ok());
    let (choice, n) = match constant {
        Some(n) => (GeoidChoice::Constant, n),
        None if said.is_empty() => (GeoidChoice::Constant, 0.0),
        None => (GeoidChoice::Auto, 0.0),
    };
    GeoidLattice::new(crs, extent, choice, n).map_err(|e| ViewerError::invalid("geoid", e))
}

struct Builder<'a> {
    client: &'a Client,
    mapper: &'a Mapper,
    tree: Tree,
    documents: usize,
}

/// One availability of a subtree: all set, none set, or a bitstream.
enum Avail {
    Constant(bool),
    Bits(Vec<u8>),
}

impl Avail {
    fn get(&self, i: usize) -> bool {
        match self {
            Avail::Constant(b) => *b,
            Avail::Bits(v) => v.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0),
        }
    }
}

/// A parsed `.subtree` file.
struct Subtree {
    tiles: Avail,
    content: Avail,
    children: Avail,
}

fn parse_subtree(url: &str, b: &[u8]) -> Result<Subtree> {
    if b.len() < 24 || &b[0..4] != b"subt" {
        return Err(bad(url, "not a subtree file (no subt magic)"));
    }
    let u64_at = |o: usize| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[o..o + 8]);
        u64::from_le_bytes(a) as usize
    };
    let (jl, bl) = (u64_at(8), u64_at(16));
    if 24usize.saturating_add(jl).saturating_add(bl) > b.len() {
        return Err(bad(url, "truncated subtree file"));
    }
    let json: Value =
        serde_json::from_slice(&b[24..24 + jl]).map_err(|e| bad(url, format!("JSON: {e}")))?;
    let bin = &b[24 + jl..24 + jl + bl];
    let avail = |v: &Value| -> Result<Avail> {
        if let Some(c) = v.get("constant").and_then(Value::as_u64) {
            return Ok(Avail::Constant(c != 0));
        }
        let view = v
            .get("bitstream")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad(url, "availability without constant or bitstream"))?
            as usize;
        let bv = json
            .get("bufferViews")
            .and_then(|a| a.get(view))
            .ok_or_else(|| bad(url, format!("no buffer view {view}")))?;
        if bv.get("buffer").and_then(Value::as_u64) != Some(0) {
            return Err(bad(url, "external subtree buffers are not read"));
        }
        let off = bv.get("byteOffset").and_then(Value::as_u64).unwrap_or(0) as usize;
        let len = bv.get("byteLength").and_then(Value::as_u64).unwrap_or(0) as usize;
        bin.get(off..off + len)
            .map(|s| Avail::Bits(s.to_vec()))
            .ok_or_else(|| bad(url, "buffer view outside the subtree's binary"))
    };
    Ok(Subtree {
        tiles: avail(&json["tileAvailability"])?,
        content: avail(
            json.get("contentAvailability")
                .and_then(|c| c.get(0))
                .unwrap_or(&serde_json::json!({"constant": 0})),
        )?,
        children: avail(&json["childSubtreeAvailability"])?,
    })
}

/// Morton index of (x, y) within a level.
#[cfg(test)]
fn morton(x: u32, y: u32) -> usize {
    let mut m = 0usize;
    for b in 0..16 {
        m |= (((x >> b) & 1) as usize) << (2 * b);
        m |= (((y >> b) & 1) as usize) << (2 * b + 1);
    }
    m
}

impl Builder<'_> {
    fn push(&mut self, n: Node) -> Result<usize> {
        if self.tree.nodes.len() >= MAX_TILES {
            return Err(ViewerError::invalid(
                "tileset",
                format!("more than {MAX_TILES} tiles"),
            ));
        }
        let i = self.tree.nodes.len();
        if let Some(p) = n.parent {
            self.tree.nodes[p].children.push(i);
        }
        self.tree.nodes.push(n);
        Ok(i)
    }

    fn document(&mut self) -> Result<()> {
        self.documents += 1;
        if self.documents > MAX_DOCUMENTS {
            return Err(ViewerError::invalid(
                "tileset",
                format!("more than {MAX_DOCUMENTS} external tilesets or subtrees"),
            ));
        }
        Ok(())
    }

    /// Add a tile of `doc_url`'s JSON and its descendants.
    fn tile(
        &mut self,
        doc_url: &str,
        t: &Value,
        parent: Option<usize>,
        parent_world: [f64; 16],
        parent_refine: Refine,
    ) -> Result<()> {
        let world = match matrix(t.get("transform")) {
            Some(m) => mul(&parent_world, &m),
            None => parent_world,
        };
        let refine = match t.get("refine").and_then(Value::as_str) {
            Some("ADD") => Refine::Add,
            Some("REPLACE") => Refine::Replace,
            _ => parent_refine,
        };
        let geometric_error = t
            .get("geometricError")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        let bounds = self.mapper.volume_box(
            t.get("boundingVolume")
                .ok_or_else(|| bad(doc_url, "a tile without boundingVolume"))?,
            &world,
        )?;
        let uri = t
            .get("content")
            .and_then(|c| c.get("uri").or_else(|| c.get("url")))
            .and_then(Value::as_str)
            .map(|u| resolve(doc_url, u));
        if let Some(imp) = t.get("implicitTiling") {
            let template = uri.ok_or_else(|| bad(doc_url, "implicit root without content"))?;
            return self.implicit(doc_url, t, imp, &template, parent, world, refine);
        }
        let external = uri
            .as_deref()
            .is_some_and(|u| u.split('?').next().unwrap_or("").ends_with(".json"));
        let me = self.push(Node {
            parent,
            children: Vec::new(),
            geometric_error,
            refine,
            world,
            bounds,
            content: uri.clone().filter(|_| !external),
        })?;
        if let (true, Some(u)) = (external, uri) {
            self.document()?;
            let ts = self.client.get_json(&u)?;
            let root = ts
                .get("root")
                .ok_or_else(|| bad(&u, "tileset.json without root"))?;
            self.tile(&u, root, Some(me), world, refine)?;
        }
        for c in t
            .get("children")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.tile(doc_url, c, Some(me), world, refine)?;
        }
        Ok(())
    }

    /// Expand an implicit quadtree rooted at `t`: subtrees read from the server, the region
    /// split in longitude and latitude, geometric error halving per level.
    #[allow(clippy::too_many_arguments)]
    fn implicit(
        &mut self,
        doc_url: &str,
        t: &Value,
        imp: &Value,
        template: &str,
        parent: Option<usize>,
        world: [f64; 16],
        refine: Refine,
    ) -> Result<()> {
        let scheme = imp.get("subdivisionScheme").and_then(Value::as_str);
        if scheme != Some("QUADTREE") {
            return Err(bad(doc_url, format!("implicit {scheme:?}: only QUADTREE")));
        }
        let region = t
            .get("boundingVolume")
            .and_then(|b| b.get("region"))
            .and_then(Value::as_array)
            .and_then(|a| a.iter().map(Value::as_f64).collect::<Option<Vec<f64>>>())
            .filter(|r| r.len() == 6)
            .ok_or_else(|| bad(doc_url, "implicit root without a region"))?;
        let levels = imp
            .get("subtreeLevels")
            .and_then(Value::as_u64)
            .unwrap_or(1)
            .clamp(1, 16) as u32;
        let available = imp
            .get("availableLevels")
            .and_then(Value::as_u64)
            .unwrap_or(1)
            .min(24) as u32;
        let sub_tpl = imp
            .get("subtrees")
            .and_then(|s| s.get("uri"))
            .and_then(Value::as_str)
            .map(|u| resolve(doc_url, u))
            .ok_or_else(|| bad(doc_url, "implicit tiling without subtrees.uri"))?;
        let fill = |tpl: &str, l: u32, x: u32, y: u32| {
            tpl.replace("{level}", &l.to_string())
                .replace("{x}", &x.to_string())
                .replace("{y}", &y.to_string())
        };
        let ge0 = t
            .get("geometricError")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        // Subtrees to read: (level, x, y, parent node of the subtree's root).
        let mut queue = vec![(0u32, 0u32, 0u32, parent)];
        while let Some((l0, x0, y0, par)) = queue.pop() {
            self.document()?;
            let url = fill(&sub_tpl, l0, x0, y0);
            let st = parse_subtree(&url, &self.client.get(&url)?)?;
            // Nodes of this subtree by (relative level, morton index).
            let mut index: std::collections::HashMap<(u32, usize), usize> =
                std::collections::HashMap::new();
            let mut bit = 0usize;
            for l in 0..levels {
                let level = l0 + l;
                if level >= available {
                    break;
                }
                for m in 0..(1usize << (2 * l)) {
                    let here = bit + m;
                    if !st.tiles.get(here) {
                        continue;
                    }
                    let (dx, dy) = demorton(m);
                    let (x, y) = ((x0 << l) + dx, (y0 << l) + dy);
                    let p = if l == 0 {
                        par
                    } else {
                        index.get(&(l - 1, m >> 2)).copied()
                    };
                    if l > 0 && p.is_none() {
                        continue;
                    }
                    let n = f64::from(1u32 << level);
                    let (w, s) = (region[0], region[1]);
                    let (dw, ds) = ((region[2] - w) / n, (region[3] - s) / n);
                    let r = [
                        w + dw * f64::from(x),
                        s + ds * f64::from(y),
                        w + dw * f64::from(x + 1),
                        s + ds * f64::from(y + 1),
                        region[4],
                        region[5],
                    ];
                    let bounds = self.mapper.region_box(&r)?;
                    let id = self.push(Node {
                        parent: p,
                        children: Vec::new(),
                        geometric_error: ge0 / n,
                        refine,
                        world,
                        bounds,
                        content: st.content.get(here).then(|| fill(template, level, x, y)),
                    })?;
                    index.insert((l, m), id);
                }
                bit += 1usize << (2 * l);
            }
            // Child subtrees below the last level.
            let last = levels - 1;
            for m in 0..(1usize << (2 * levels)) {
                if !st.children.get(m) || l0 + levels >= available {
                    continue;
                }
                let Some(&p) = index.get(&(last, m >> 2)) else {
                    continue;
                };
                let (dx, dy) = demorton(m);
                queue.push((
                    l0 + levels,
                    (x0 << levels) + dx,
                    (y0 << levels) + dy,
                    Some(p),
                ));
            }
        }
        Ok(())
    }
}

fn demorton(m: usize) -> (u32, u32) {
    let (mut x, mut y) = (0u32, 0u32);
    for b in 0..16 {
        x |= (((m >> (2 * b)) & 1) as u32) << b;
        y |= (((m >> (2 * b + 1)) & 1) as u32) << b;
    }
    (x, y)
}

impl Tree {
    /// Read a layer's tree from its tileset.json at `url` (already fetched as `ts`), expanding
    /// external tilesets and implicit subtrees (bounded by [`MAX_TILES`] and
    /// [`MAX_DOCUMENTS`]).
    pub fn read(client: &Client, mapper: &Mapper, url: &str, ts: &Value) -> Result<Tree> {
        let root = ts
            .get("root")
            .ok_or_else(|| bad(url, "tileset.json without root"))?;
        let mut b = Builder {
            client,
            mapper,
            tree: Tree::default(),
            documents: 0,
        };
        b.tile(url, root, None, IDENTITY, Refine::Replace)?;
        Ok(b.tree)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn morton_codes_round_trip() {
        for (x, y) in [(0, 0), (1, 0), (0, 1), (3, 5), (1023, 77)] {
            assert_eq!(demorton(morton(x, y)), (x, y));
        }
        assert_eq!(morton(1, 0), 1);
        assert_eq!(morton(0, 1), 2);
    }

    #[test]
    fn bit_availability_reads_least_significant_bit_first() {
        let a = Avail::Bits(vec![0b0000_0101]);
        assert!(a.get(0) && !a.get(1) && a.get(2) && !a.get(9));
        assert!(Avail::Constant(true).get(1000));
    }
}
