//! Building a traffic [`Network`] from the twin's road centrelines
//! ([`twin_core::model::Road`], coordinates in metres in the project CRS).
//!
//! * Nodes: every road vertex is snapped to vertices within [`RoadOptions::snap_tolerance`]
//!   (grid hashing + union-find). A snapped cluster becomes a node when it holds a road end or
//!   vertices of more than one road position (a junction on a shared interior vertex, as OSM
//!   ways meet). Roads are split into one segment between consecutive nodes.
//! * Links: one per direction of travel: [`Oneway::Forward`] along the line, [`Oneway::Backward`]
//!   against it, [`Oneway::No`] both; `motorway` is one-way along the line unless
//!   [`RoadOptions::motorway_implies_oneway`] is off (OSM's implied `oneway=yes`).
//! * Capacity, speed and lanes by OSM `highway` class from one table
//!   ([`ClassDefaults::table`]); a tagged `maxspeed` replaces the class speed and tagged `lanes`
//!   (both directions) replace the class lanes (split evenly on two-way roads, at least one).
//!   Classes outside the table (footway, cycleway, path, steps, track...) carry no cars and
//!   are skipped with a reason.
//! * Units: length in metres, free-flow time in minutes, capacity in vehicles per hour;
//!   BPR `B` = 0.15 and power 4 by default.
//! * Connectivity: strongly and weakly connected components are reported.

use std::collections::HashMap;

use twin_core::model::{Oneway, Road};

use super::network::{Link, Network};
use crate::error::{Result, ScenarioError};

/// Defaults for one OSM `highway` class.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassDefaults {
    /// OSM `highway` value.
    pub class: String,
    /// Capacity per lane (veh/h).
    pub capacity_per_lane: f64,
    /// Free-flow speed (km/h) when `maxspeed` is not tagged.
    pub speed_kmh: f64,
    /// Lanes per direction when `lanes` is not tagged.
    pub lanes_per_direction: f64,
}

impl ClassDefaults {
    /// The default table: (class, capacity veh/h/lane, speed km/h, lanes per direction).
    ///
    /// Capacities follow the usual planning values (about 2000 veh/h/lane on motorways, falling
    /// to a few hundred on residential and service streets where junctions, parking and mixed
    /// traffic govern); speeds are urban free-flow speeds at or below Vietnam's urban limits
    /// (50-60 km/h, Circular 31/2019/TT-BGTVT) except on motorways and trunks.
    pub fn table() -> Vec<ClassDefaults> {
        const T: &[(&str, f64, f64, f64)] = &[
            ("motorway", 2000.0, 90.0, 2.0),
            ("motorway_link", 1500.0, 50.0, 1.0),
            ("trunk", 1800.0, 70.0, 2.0),
            ("trunk_link", 1500.0, 40.0, 1.0),
            ("primary", 1500.0, 50.0, 1.0),
            ("primary_link", 1200.0, 40.0, 1.0),
            ("secondary", 1200.0, 40.0, 1.0),
            ("secondary_link", 1000.0, 30.0, 1.0),
            ("tertiary", 1000.0, 35.0, 1.0),
            ("tertiary_link", 900.0, 30.0, 1.0),
            ("unclassified", 800.0, 30.0, 1.0),
            ("residential", 600.0, 25.0, 1.0),
            ("road", 600.0, 25.0, 1.0),
            ("service", 400.0, 20.0, 1.0),
            ("living_street", 300.0, 10.0, 1.0),
        ];
        T.iter()
            .map(
                |&(class, capacity_per_lane, speed_kmh, lanes_per_direction)| ClassDefaults {
                    class: class.to_string(),
                    capacity_per_lane,
                    speed_kmh,
                    lanes_per_direction,
                },
            )
            .collect()
    }
}

/// Settings of [`from_roads`].
#[derive(Clone, Debug, PartialEq)]
pub struct RoadOptions {
    /// Vertices closer than this (metres) are one node (default 1.0).
    pub snap_tolerance: f64,
    /// The class table (default [`ClassDefaults::table`]).
    pub classes: Vec<ClassDefaults>,
    /// BPR `B` of every link (default 0.15).
    pub b: f64,
    /// BPR power of every link (default 4).
    pub power: f64,
    /// Treat untagged `motorway` as one-way along the line (OSM's implied oneway; default true).
    pub motorway_implies_oneway: bool,
}

impl Default for RoadOptions {
    fn default() -> Self {
        RoadOptions {
            snap_tolerance: 1.0,
            classes: ClassDefaults::table(),
            b: 0.15,
            power: 4.0,
            motorway_implies_oneway: true,
        }
    }
}

/// Connected components of a network's nodes (open links).
#[derive(Clone, Debug, PartialEq)]
pub struct ComponentReport {
    /// Strongly connected component of each node (0 is the largest).
    pub strong: Vec<usize>,
    /// Node counts of the strongly connected components, largest first.
    pub strong_sizes: Vec<usize>,
    /// Weakly connected component of each node (0 is the largest).
    pub weak: Vec<usize>,
    /// Node counts of the weakly connected components, largest first.
    pub weak_sizes: Vec<usize>,
}

impl ComponentReport {
    /// Components of `net` (closed links ignored).
    pub fn of(net: &Network) -> ComponentReport {
        let n = net.nodes.len();
        // Weak: union-find over open links.
        let mut uf = UnionFind::new(n);
        for l in net.links.iter().filter(|l| !l.closed) {
            uf.union(l.from, l.to);
        }
        let weak_raw: Vec<usize> = (0..n).map(|i| uf.find(i)).collect();
        let (weak, weak_sizes) = relabel_by_size(&weak_raw);
        let (strong, strong_sizes) = relabel_by_size(&kosaraju(net));
        ComponentReport {
            strong,
            strong_sizes,
            weak,
            weak_sizes,
        }
    }
}

/// A network built from roads, with what it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct RoadNetwork {
    /// The network (node ids 1..=n, positions set, no zones).
    pub network: Network,
    /// For each link, the index of its road in the input slice.
    pub link_road: Vec<usize>,
    /// Roads left out, with the reason (id, reason).
    pub skipped: Vec<(String, String)>,
    /// Connected components of the network.
    pub components: ComponentReport,
}

/// Builds a network from road centrelines (see the module documentation for the rules).
pub fn from_roads(roads: &[Road], opts: &RoadOptions) -> Result<RoadNetwork> {
    if !(opts.snap_tolerance.is_finite() && opts.snap_tolerance > 0.0) {
        return Err(ScenarioError::invalid(
            "road options snap_tolerance",
            format!("{} must be finite and positive", opts.snap_tolerance),
        ));
    }
    let classes: HashMap<&str, &ClassDefaults> =
        opts.classes.iter().map(|c| (c.class.as_str(), c)).collect();
    let mut skipped = Vec::new();
    // Roads kept, with their class defaults.
    let mut kept: Vec<(usize, &ClassDefaults)> = Vec::new();
    for (r, road) in roads.iter().enumerate() {
        let Some(c) = classes.get(road.class.as_str()) else {
            skipped.push((
                road.id.clone(),
                format!(
                    "highway class {:?} carries no cars (not in the table)",
                    road.class
                ),
            ));
            continue;
        };
        if road.line.0.len() < 2 {
            skipped.push((road.id.clone(), "line has fewer than 2 vertices".into()));
            continue;
        }
        if road
            .line
            .0
            .iter()
            .any(|p| !(p.x.is_finite() && p.y.is_finite()))
        {
            skipped.push((road.id.clone(), "line has a non-finite coordinate".into()));
            continue;
        }
        kept.push((r, c));
    }

    // All vertices of the kept roads, snapped by grid hashing + union-find.
    let mut first_vertex = Vec::with_capacity(kept.len() + 1);
    let mut pts: Vec<[f64; 2]> = Vec::new();
    for &(r, _) in &kept {
        first_vertex.push(pts.len());
        pts.extend(roads[r].line.0.iter().map(|p| [p.x, p.y]));
    }
    first_vertex.push(pts.len());
    let tol = opts.snap_tolerance;
    let cell = |p: [f64; 2]| ((p[0] / tol).floor() as i64, (p[1] / tol).floor() as i64);
    let mut grid: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
    let mut uf = UnionFind::new(pts.len());
    for (i, &p) in pts.iter().enumerate() {
        let (cx, cy) = cell(p);
        for dx in -1..=1 {
            for dy in -1..=1 {
                if let Some(v) = grid.get(&(cx + dx, cy + dy)) {
                    for &j in v {
                        let q = pts[j];
                        if (p[0] - q[0]).hypot(p[1] - q[1]) <= tol {
                            uf.union(i, j);
                        }
                    }
                }
            }
        }
        grid.entry((cx, cy)).or_default().push(i);
    }
    let root: Vec<usize> = (0..pts.len()).map(|i| uf.find(i)).collect();
    let mut members: HashMap<usize, usize> = HashMap::new();
    for &r in &root {
        *members.entry(r).or_default() += 1;
    }
    let mut is_node = vec![false; pts.len()];
    for k in 0..kept.len() {
        let (a, b) = (first_vertex[k], first_vertex[k + 1] - 1);
        is_node[root[a]] = true;
        is_node[root[b]] = true;
    }
    for (&r, &m) in &members {
        if m > 1 {
            is_node[r] = true;
        }
    }

    // Node per junction cluster, at the cluster's mean position.
    let mut node_of: HashMap<usize, usize> = HashMap::new();
    let mut sum: Vec<[f64; 3]> = Vec::new();
    for (i, &p) in pts.iter().enumerate() {
        let r = root[i];
        if !is_node[r] {
            continue;
        }
        let n = *node_of.entry(r).or_insert_with(|| {
            sum.push([0.0; 3]);
            sum.len() - 1
        });
        sum[n][0] += p[0];
        sum[n][1] += p[1];
        sum[n][2] += 1.0;
    }
    let mut net = Network::new(0.0, 0.0);
    for (n, s) in sum.iter().enumerate() {
        net.add_node(n as u64 + 1, Some([s[0] / s[2], s[1] / s[2]]), true);
    }

    let mut link_road = Vec::new();
    for (k, &(r, c)) in kept.iter().enumerate() {
        let road = &roads[r];
        let (a, b) = (first_vertex[k], first_vertex[k + 1]);
        let oneway = match road.oneway {
            Oneway::No if opts.motorway_implies_oneway && road.class == "motorway" => {
                Oneway::Forward
            }
            o => o,
        };
        let lanes_dir = match road.lanes {
            Some(l) if l > 0 => match oneway {
                Oneway::No => (l as f64 / 2.0).max(1.0),
                _ => l as f64,
            },
            _ => c.lanes_per_direction,
        };
        let speed = match road.maxspeed_kmh {
            Some(s) if s.is_finite() && s > 0.0 => s,
            _ => c.speed_kmh,
        };
        let capacity = lanes_dir * c.capacity_per_lane;
        let mut seg = 0usize;
        let mut start = node_of[&root[a]];
        let mut length = 0.0;
        for i in a + 1..b {
            length += (pts[i][0] - pts[i - 1][0]).hypot(pts[i][1] - pts[i - 1][1]);
            let Some(&end) = node_of.get(&root[i]) else {
                continue;
            };
            if end == start {
                // A loop back to the same node (or a vertex snapped onto it): no useful link.
                length = 0.0;
                continue;
            }
            let t0 = length / (speed * 1000.0 / 60.0);
            let mut push = |from: usize, to: usize, dir: &str| -> Result<()> {
                net.add_link(Link {
                    key: format!("{}:{}:{}", road.id, seg, dir),
                    from,
                    to,
                    capacity,
                    length,
                    free_flow_time: t0,
                    b: opts.b,
                    power: opts.power,
                    speed,
                    toll: 0.0,
                    link_type: 0,
                    closed: false,
                })?;
                link_road.push(r);
                Ok(())
            };
            match oneway {
                Oneway::Forward => push(start, end, "f")?,
                Oneway::Backward => push(end, start, "b")?,
                Oneway::No => {
                    push(start, end, "f")?;
                    push(end, start, "b")?;
                }
            }
            seg += 1;
            start = end;
            length = 0.0;
        }
    }
    let components = ComponentReport::of(&net);
    Ok(RoadNetwork {
        network: net,
        link_road,
        skipped,
        components,
    })
}

struct UnionFind {
    parent: Vec<usize>,
}

impl UnionFind {
    fn new(n: usize) -> Self {
        UnionFind {
            parent: (0..n).collect(),
        }
    }

    fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.parent[ra.max(rb)] = ra.min(rb);
        }
    }
}

/// Relabels component ids so that 0 is the largest; returns labels and sizes (largest first).
fn relabel_by_size(raw: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let mut count: HashMap<usize, usize> = HashMap::new();
    for &c in raw {
        *count.entry(c).or_default() += 1;
    }
    let mut order: Vec<(usize, usize)> = count.into_iter().collect();
    // Largest first; ties by smallest raw id, for a stable result.
    order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let label: HashMap<usize, usize> = order
        .iter()
        .enumerate()
        .map(|(i, &(c, _))| (c, i))
        .collect();
    (
        raw.iter().map(|c| label[c]).collect(),
        order.iter().map(|&(_, s)| s).collect(),
    )
}

/// Strongly connected components (Kosaraju, iterative); raw component ids per node.
fn kosaraju(net: &Network) -> Vec<usize> {
    let g = net.graph();
    let n = g.node_count();
    let mut seen = vec![false; n];
    let mut order = Vec::with_capacity(n);
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for s in 0..n {
        if seen[s] {
            continue;
        }
        seen[s] = true;
        stack.push((s, g.out_start[s]));
        while let Some(&mut (u, ref mut next)) = stack.last_mut() {
            if *next < g.out_start[u + 1] {
                let v = g.head[g.out_links[*next] as usize] as usize;
                *next += 1;
                if !seen[v] {
                    seen[v] = true;
                    stack.push((v, g.out_start[v]));
                }
            } else {
                order.push(u);
                stack.pop();
            }
        }
    }
    let mut comp = vec![usize::MAX; n];
    let mut c = 0;
    let mut work = Vec::new();
    for &s in order.iter().rev() {
        if comp[s] != usize::MAX {
            continue;
        }
        comp[s] = c;
        work.push(s);
        while let Some(u) = work.pop() {
            for &a in &g.in_links[g.in_start[u]..g.in_start[u + 1]] {
                let v = g.tail[a as usize] as usize;
                if comp[v] == usize::MAX {
                    comp[v] = c;
                    work.push(v);
                }
            }
        }
        c += 1;
    }
    comp
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::LineString;

    fn road(
        id: &str,
        class: &str,
        pts: &[(f64, f64)],
        oneway: Oneway,
        lanes: Option<u32>,
        maxspeed: Option<f64>,
    ) -> Road {
        Road {
            id: id.into(),
            line: LineString::from(pts.to_vec()),
            class: class.into(),
            name: None,
            lanes,
            maxspeed_kmh: maxspeed,
            oneway,
            bridge: false,
            attributes: Default::default(),
        }
    }

    fn roads() -> Vec<Road> {
        vec![
            // a: two-way primary with an interior vertex at (100, 0).
            road(
                "a",
                "primary",
                &[(0.0, 0.0), (100.0, 0.0), (200.0, 0.0)],
                Oneway::No,
                None,
                None,
            ),
            // b: starts 0.3 m from a's interior vertex: a junction there.
            road(
                "b",
                "residential",
                &[(100.0, 0.3), (100.0, 100.0)],
                Oneway::No,
                None,
                None,
            ),
            // c: one-way along the line, 2 lanes, 30 km/h.
            road(
                "c",
                "secondary",
                &[(200.0, 0.0), (200.0, 100.0)],
                Oneway::Forward,
                Some(2),
                Some(30.0),
            ),
            // f: one-way against the line: (200,100) -> (100,100).
            road(
                "f",
                "tertiary",
                &[(100.0, 100.0), (200.0, 100.0)],
                Oneway::Backward,
                None,
                None,
            ),
            // g: one-way dead end out of (0,0).
            road(
                "g",
                "residential",
                &[(0.0, 0.0), (-100.0, 0.0)],
                Oneway::Forward,
                None,
                None,
            ),
            // d: no cars.
            road(
                "d",
                "footway",
                &[(0.0, 0.0), (0.0, 50.0)],
                Oneway::No,
                None,
                None,
            ),
            // e: an island.
            road(
                "e",
                "residential",
                &[(500.0, 500.0), (600.0, 500.0)],
                Oneway::No,
                Some(4),
                None,
            ),
            // h: untagged motorway: one-way by implication.
            road(
                "h",
                "motorway",
                &[(1000.0, 0.0), (2000.0, 0.0)],
                Oneway::No,
                None,
                None,
            ),
        ]
    }

    fn node_at(net: &Network, x: f64, y: f64) -> usize {
        net.nodes
            .iter()
            .position(|n| {
                let p = n.xy.unwrap();
                (p[0] - x).hypot(p[1] - y) < 1.0
            })
            .unwrap_or_else(|| panic!("no node at {x},{y}"))
    }

    #[test]
    fn builds_nodes_links_and_components() {
        let rn = from_roads(&roads(), &RoadOptions::default()).unwrap();
        let net = &rn.network;
        assert_eq!(rn.skipped.len(), 1);
        assert_eq!(rn.skipped[0].0, "d");
        // (0,0) (100,0) (200,0) (100,100) (200,100) (-100,0) (500,500) (600,500) (1000,0) (2000,0)
        assert_eq!(net.nodes.len(), 10);
        // a: 2 segments x 2 directions, b: 2, c: 1, f: 1, g: 1, e: 2, h: 1.
        assert_eq!(net.links.len(), 12);
        assert_eq!(rn.link_road.len(), 12);
        // The snapped junction sits at the mean of (100,0) and (100,0.3).
        let j = node_at(net, 100.0, 0.15);
        assert!((net.nodes[j].xy.unwrap()[1] - 0.15).abs() < 1e-12);

        let (n00, n100, n200) = (node_at(net, 0.0, 0.0), j, node_at(net, 200.0, 0.0));
        let (n_c, n_f) = (node_at(net, 200.0, 100.0), node_at(net, 100.0, 100.0));
        let find = |f: usize, t: usize| {
            net.links
                .iter()
                .position(|l| l.from == f && l.to == t)
                .map(|a| &net.links[a])
        };
        // Primary, untagged: 1 lane x 1500 veh/h, 50 km/h: 100 m in 0.12 min.
        let a = find(n00, n100).unwrap();
        assert_eq!((a.capacity, a.length), (1500.0, 100.0));
        assert!((a.free_flow_time - 0.12).abs() < 1e-12);
        assert!(find(n100, n00).is_some());
        assert!(find(n200, n100).is_some());
        // Secondary one-way with 2 lanes and 30 km/h: 2400 veh/h, 100 m in 0.2 min.
        let c = find(n200, n_c).unwrap();
        assert_eq!(c.capacity, 2400.0);
        assert!((c.free_flow_time - 0.2).abs() < 1e-12);
        assert!(find(n_c, n200).is_none());
        // Backward: only against the line.
        assert!(find(n_c, n_f).is_some());
        assert!(find(n_f, n_c).is_none());
        // Residential b from the junction: 99.7 m of line.
        let b = find(n100, n_f).unwrap();
        assert!((b.length - 99.7).abs() < 1e-9);
        // Two-way with 4 lanes: 2 per direction x 600.
        let e = find(node_at(net, 500.0, 500.0), node_at(net, 600.0, 500.0)).unwrap();
        assert_eq!(e.capacity, 1200.0);
        // Motorway: one direction only.
        let (m1, m2) = (node_at(net, 1000.0, 0.0), node_at(net, 2000.0, 0.0));
        assert!(find(m1, m2).is_some() && find(m2, m1).is_none());

        // Components: the core (0,0) (100,0) (200,0) (100,100) (200,100) is strongly connected;
        // (-100,0) hangs off it one way; the island and the motorway are apart.
        let comp = &rn.components;
        assert_eq!(comp.weak_sizes, vec![6, 2, 2]);
        assert_eq!(comp.strong_sizes, vec![5, 2, 1, 1, 1]);
        assert_eq!(comp.strong[n00], 0);
        assert_eq!(comp.strong[n_c], 0);
        assert_ne!(comp.strong[node_at(net, -100.0, 0.0)], 0);
        assert_eq!(comp.weak[node_at(net, -100.0, 0.0)], 0);
    }

    #[test]
    fn assigns_on_a_road_network() {
        use crate::traffic::{assign, AssignOptions, Demand, OdTrip};
        let rn = from_roads(&roads(), &RoadOptions::default()).unwrap();
        let net = &rn.network;
        let id = |x, y| net.nodes[node_at(net, x, y)].id;
        let demand = Demand {
            trips: vec![
                OdTrip {
                    origin: id(0.0, 0.0),
                    destination: id(200.0, 100.0),
                    trips: 100.0,
                },
                OdTrip {
                    origin: id(0.0, 0.0),
                    destination: id(500.0, 500.0),
                    trips: 7.0,
                },
            ],
            declared_total: None,
        };
        let r = assign(net, &demand, &AssignOptions::default()).unwrap();
        assert_eq!(r.unreachable.len(), 1);
        assert_eq!(r.unreachable[0].trips, 7.0);
        // Only route: (0,0) -> (100,0) -> (200,0) -> (200,100).
        assert_eq!(r.od_paths[0].paths.len(), 1);
        assert_eq!(r.od_paths[0].paths[0].links.len(), 3);
        assert!((r.assigned_trips - 100.0).abs() < 1e-12);
    }

    #[test]
    fn rejects_a_bad_tolerance() {
        let opts = RoadOptions {
            snap_tolerance: 0.0,
            ..RoadOptions::default()
        };
        assert!(from_roads(&roads(), &opts).is_err());
    }
}
