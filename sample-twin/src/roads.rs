//! The road network: the `highway` ways of the OpenStreetMap extract (ODbL, © OpenStreetMap
//! contributors) in the classes the traffic model knows, cut to the sample's extent, split at
//! the nodes they share (so links meet at shared vertices), and reduced to the largest
//! connected network.

use super::geom::P;
use super::water::Water;
use super::Ctx;
use std::collections::{BTreeMap, HashMap};
use twin_core::error::{Result, TwinError};
use twin_core::model::Imported;

/// The `highway` classes taken (the traffic model's; service roads, tracks, footways, paths
/// and steps are left out).
pub const CLASSES: [&str; 14] = [
    "motorway",
    "motorway_link",
    "trunk",
    "trunk_link",
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
    "tertiary",
    "tertiary_link",
    "unclassified",
    "residential",
    "living_street",
    "road",
];

/// The minor classes (`unclassified`, `residential`, `living_street`, `road`) are taken only
/// when named and inside this box (lon/lat: the citadel, the south bank's centre, Gia Hội and
/// Vĩnh Ninh), so that the network stays small enough for quick traffic runs.
pub const MINOR_BOX: [f64; 4] = [107.555, 16.445, 107.605, 16.490];

fn minor(class: &str) -> bool {
    matches!(
        class,
        "unclassified" | "residential" | "living_street" | "road"
    )
}

/// A road link between two junctions (or a junction and a dead end or the extent's edge).
#[derive(Clone, Debug)]
pub struct Link {
    /// The OSM way it is cut from (`way/…`).
    pub osm_id: String,
    /// OSM `highway` class.
    pub class: String,
    /// Street name.
    pub name: Option<String>,
    /// OSM `lanes`, when tagged.
    pub lanes: Option<String>,
    /// OSM `maxspeed`, when tagged.
    pub maxspeed: Option<String>,
    /// OSM `oneway`, when tagged.
    pub oneway: Option<String>,
    /// OSM `bridge` (any value but `no`).
    pub bridge: bool,
    /// Vertices as integer 1e-7 degrees (the extract's own precision), lon then lat.
    pub nodes: Vec<(i64, i64)>,
    /// Centreline, local metres.
    pub pts: Vec<P>,
}

fn key(lon: f64, lat: f64) -> (i64, i64) {
    ((lon * 1e7).round() as i64, (lat * 1e7).round() as i64)
}

/// The links of the sample, in the extract's order (way by way, along each way).
pub fn build(ctx: &Ctx, osm: &Imported, extent: [f64; 4]) -> Vec<Link> {
    let inside = |k: (i64, i64)| {
        let (lon, lat) = (k.0 as f64 * 1e-7, k.1 as f64 * 1e-7);
        lon >= extent[0] && lon <= extent[2] && lat >= extent[1] && lat <= extent[3]
    };
    // 1. The ways of the wanted classes, cut to runs of vertices inside the extent.
    let mut runs: Vec<(usize, Vec<(i64, i64)>)> = Vec::new();
    for (i, r) in osm.roads.iter().enumerate() {
        if !CLASSES.contains(&r.class.as_str()) {
            continue;
        }
        let in_box = |c: &geo_types::Coord<f64>| {
            c.x >= MINOR_BOX[0] && c.x <= MINOR_BOX[2] && c.y >= MINOR_BOX[1] && c.y <= MINOR_BOX[3]
        };
        if minor(&r.class) && (r.name.is_none() || !r.line.0.iter().all(in_box)) {
            continue;
        }
        let mut cur: Vec<(i64, i64)> = Vec::new();
        for c in &r.line.0 {
            let k = key(c.x, c.y);
            if inside(k) {
                if cur.last() != Some(&k) {
                    cur.push(k);
                }
            } else if !cur.is_empty() {
                runs.push((i, std::mem::take(&mut cur)));
            }
        }
        if !cur.is_empty() {
            runs.push((i, cur));
        }
    }
    runs.retain(|(_, r)| r.len() >= 2);
    // 2. Split at the nodes used more than once (by another way or twice by the same way).
    let mut uses: HashMap<(i64, i64), u32> = HashMap::new();
    for (_, r) in &runs {
        for k in r {
            *uses.entry(*k).or_default() += 1;
        }
    }
    let mut pieces: Vec<(usize, Vec<(i64, i64)>)> = Vec::new();
    for (i, r) in runs {
        let mut cur = vec![r[0]];
        for (j, k) in r.iter().enumerate().skip(1) {
            cur.push(*k);
            if j + 1 < r.len() && uses[k] > 1 {
                pieces.push((i, std::mem::replace(&mut cur, vec![*k])));
            }
        }
        pieces.push((i, cur));
    }
    // 3. The largest connected network (union-find over link ends).
    let mut ids: BTreeMap<(i64, i64), usize> = BTreeMap::new();
    for (_, p) in &pieces {
        for k in [p[0], p[p.len() - 1]] {
            let n = ids.len();
            ids.entry(k).or_insert(n);
        }
    }
    let mut parent: Vec<usize> = (0..ids.len()).collect();
    for (_, p) in &pieces {
        let (a, b) = (ids[&p[0]], ids[&p[p.len() - 1]]);
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        parent[ra] = rb;
    }
    let mut size: BTreeMap<usize, usize> = BTreeMap::new();
    for i in 0..parent.len() {
        *size.entry(find(&mut parent, i)).or_default() += 1;
    }
    let main = size
        .iter()
        .max_by_key(|&(r, c)| (*c, std::cmp::Reverse(*r)))
        .map(|(r, _)| *r)
        .unwrap_or(0);
    pieces
        .into_iter()
        .filter(|(_, p)| find(&mut parent, ids[&p[0]]) == main)
        .map(|(i, nodes)| {
            let r = &osm.roads[i];
            let tag = |k: &str| r.attributes.get(k).cloned();
            Link {
                osm_id: r.id.trim_start_matches("osm:").to_string(),
                class: r.class.clone(),
                name: r.name.clone(),
                lanes: tag("lanes"),
                maxspeed: tag("maxspeed"),
                oneway: tag("oneway"),
                bridge: r.bridge,
                pts: nodes
                    .iter()
                    .map(|&(x, y)| ctx.frame.to_local(x as f64 * 1e-7, y as f64 * 1e-7))
                    .collect(),
                nodes,
            }
        })
        .collect()
}

fn find(p: &mut [usize], x: usize) -> usize {
    let mut x = x;
    while p[x] != x {
        p[x] = p[p[x]];
        x = p[x];
    }
    x
}

/// Statistics of how the network meets the Perfume River's outline (OSM's river areas):
/// links that are bridges, and non-bridge links with a vertex inside the river.
pub fn river_report(links: &[Link], water: &Water) -> (usize, usize) {
    let bridges = links.iter().filter(|l| l.bridge).count();
    let wet = links
        .iter()
        .filter(|l| !l.bridge && l.pts.iter().any(|&q| water.in_river(q)))
        .count();
    (bridges, wet)
}

/// Check the network: one connected component, every link at least two distinct vertices.
pub fn check(links: &[Link]) -> Result<()> {
    if links.is_empty() {
        return Err(TwinError::invalid("roads", "no road links in the extent"));
    }
    for l in links {
        if l.nodes.len() < 2 || l.nodes[0] == l.nodes[l.nodes.len() - 1] && l.nodes.len() < 3 {
            return Err(TwinError::invalid(
                "roads",
                format!("degenerate link of {} ({:?})", l.osm_id, l.name),
            ));
        }
    }
    Ok(())
}
