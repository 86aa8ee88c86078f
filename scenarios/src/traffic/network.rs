//! The road network of the traffic model: nodes, directed links with BPR parameters, zones and
//! the generalized-cost weights of the TNTP format.
//!
//! Link cost (TNTP "generalized cost"):
//!
//! `c(x) = t0 * (1 + B * (x / cap)^P) + toll_factor * toll + distance_factor * length`
//!
//! where `t0` is the free-flow time, `x` the link flow and the two factors come from the
//! network file's metadata (`<TOLL FACTOR>`, `<DISTANCE FACTOR>`, default 0).

use std::collections::HashMap;

use crate::error::{Result, ScenarioError};

pub use super::roads::{from_roads, ClassDefaults, ComponentReport, RoadNetwork, RoadOptions};

/// A node of the network.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// External id (the TNTP node number, or a running number for networks built from roads).
    pub id: u64,
    /// Position in the project CRS (metres), when known.
    pub xy: Option<[f64; 2]>,
    /// Whether paths may pass through this node. TNTP zones numbered below `<FIRST THRU NODE>`
    /// are origins and destinations only.
    pub through: bool,
}

/// A directed link with BPR parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    /// Stable key used to align links between a baseline and a scenario: `"init-term"` for TNTP
    /// links (with `#k` appended for the k-th parallel duplicate), `"road:segment:dir"` for links
    /// built from roads, or the key given to an added link.
    pub key: String,
    /// Tail node (index into [`Network::nodes`]).
    pub from: usize,
    /// Head node (index into [`Network::nodes`]).
    pub to: usize,
    /// Capacity (flow units per period, e.g. veh/h).
    pub capacity: f64,
    /// Length (TNTP: file units; from roads: metres).
    pub length: f64,
    /// Free-flow time `t0` (TNTP: file units; from roads: minutes).
    pub free_flow_time: f64,
    /// BPR `B` (0.15 traditionally).
    pub b: f64,
    /// BPR power `P` (4 traditionally).
    pub power: f64,
    /// Speed limit (informative; TNTP files often carry 0).
    pub speed: f64,
    /// Toll (enters the cost through the toll factor).
    pub toll: f64,
    /// Link type (informative).
    pub link_type: i64,
    /// Closed links carry no flow and are skipped by every path search.
    pub closed: bool,
}

impl Link {
    /// Congested travel time `t0 * (1 + B * (x / cap)^P)` at flow `x`.
    #[inline]
    pub fn time(&self, x: f64) -> f64 {
        if self.b == 0.0 || x <= 0.0 {
            return self.free_flow_time;
        }
        self.free_flow_time * (1.0 + self.b * pow(x / self.capacity, self.power))
    }

    /// Derivative of [`Link::time`] with respect to the flow.
    #[inline]
    pub fn time_derivative(&self, x: f64) -> f64 {
        if self.b == 0.0 || x <= 0.0 || self.power == 0.0 {
            return 0.0;
        }
        self.free_flow_time * self.b * self.power * pow(x / self.capacity, self.power - 1.0)
            / self.capacity
    }

    /// Integral of [`Link::time`] from 0 to `x`: `t0 * (x + B * x^(P+1) / ((P+1) cap^P))`.
    #[inline]
    pub fn time_integral(&self, x: f64) -> f64 {
        if x <= 0.0 {
            return 0.0;
        }
        if self.b == 0.0 {
            return self.free_flow_time * x;
        }
        self.free_flow_time
            * (x + self.b * x * pow(x / self.capacity, self.power) / (self.power + 1.0))
    }
}

/// `r^p`, with `powi` for whole powers (BPR's 4 mostly).
#[inline]
fn pow(r: f64, p: f64) -> f64 {
    if p.fract() == 0.0 && p.abs() <= 64.0 {
        r.powi(p as i32)
    } else {
        r.powf(p)
    }
}

/// A road network: nodes, directed links, zones and the cost weights.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    /// Nodes; links refer to them by index.
    pub nodes: Vec<Node>,
    /// Directed links.
    pub links: Vec<Link>,
    /// Number of zones (TNTP `<NUMBER OF ZONES>`; zones are nodes `1..=zones`). Informative
    /// for networks built from roads (0 there).
    pub zones: usize,
    /// Weight of the toll in the generalized cost (TNTP `<TOLL FACTOR>`, default 0).
    pub toll_factor: f64,
    /// Weight of the length in the generalized cost (TNTP `<DISTANCE FACTOR>`, default 0).
    pub distance_factor: f64,
    index: HashMap<u64, usize>,
}

impl Network {
    /// An empty network with the given cost weights.
    pub fn new(toll_factor: f64, distance_factor: f64) -> Network {
        Network {
            nodes: Vec::new(),
            links: Vec::new(),
            zones: 0,
            toll_factor,
            distance_factor,
            index: HashMap::new(),
        }
    }

    /// Adds a node (or returns the index of the node with this id, unchanged).
    pub fn add_node(&mut self, id: u64, xy: Option<[f64; 2]>, through: bool) -> usize {
        if let Some(&i) = self.index.get(&id) {
            return i;
        }
        let i = self.nodes.len();
        self.nodes.push(Node { id, xy, through });
        self.index.insert(id, i);
        i
    }

    /// Index of the node with external id `id`.
    pub fn node_index(&self, id: u64) -> Option<usize> {
        self.index.get(&id).copied()
    }

    /// Checks a link's parameters and appends it; returns its index.
    pub fn add_link(&mut self, link: Link) -> Result<usize> {
        let what = || format!("link {} ({} -> {})", link.key, link.from, link.to);
        if link.from >= self.nodes.len() || link.to >= self.nodes.len() {
            return Err(ScenarioError::invalid(what(), "node index out of range"));
        }
        check_link_values(&link).map_err(|m| ScenarioError::invalid(what(), m))?;
        self.links.push(link);
        Ok(self.links.len() - 1)
    }

    /// The fixed (flow-independent) part of link `a`'s cost:
    /// `toll_factor * toll + distance_factor * length`.
    #[inline]
    pub fn fixed_cost(&self, a: usize) -> f64 {
        let l = &self.links[a];
        let mut c = 0.0;
        if self.toll_factor != 0.0 {
            c += self.toll_factor * l.toll;
        }
        if self.distance_factor != 0.0 {
            c += self.distance_factor * l.length;
        }
        c
    }

    /// Generalized cost of link `a` at flow `x`.
    #[inline]
    pub fn cost(&self, a: usize, x: f64) -> f64 {
        self.links[a].time(x) + self.fixed_cost(a)
    }

    /// Beckmann objective `sum_a integral_0^{x_a} c_a(w) dw` of a link-flow vector (closed links
    /// count nothing).
    pub fn beckmann(&self, flows: &[f64]) -> f64 {
        self.links
            .iter()
            .enumerate()
            .filter(|(_, l)| !l.closed)
            .map(|(a, l)| l.time_integral(flows[a]) + self.fixed_cost(a) * flows[a])
            .sum()
    }

    /// Indices of the open links from node id `from` to node id `to`.
    pub fn links_between(&self, from: u64, to: u64) -> Vec<usize> {
        let (Some(f), Some(t)) = (self.node_index(from), self.node_index(to)) else {
            return Vec::new();
        };
        (0..self.links.len())
            .filter(|&a| self.links[a].from == f && self.links[a].to == t)
            .collect()
    }

    /// Index of the link with this key.
    pub fn link_by_key(&self, key: &str) -> Option<usize> {
        self.links.iter().position(|l| l.key == key)
    }

    /// The forward star (open links only) used by path searches.
    pub fn graph(&self) -> Graph {
        Graph::build(self)
    }
}

/// Checks a link's numbers; returns the complaint.
pub(crate) fn check_link_values(l: &Link) -> std::result::Result<(), String> {
    let finite = [
        ("capacity", l.capacity),
        ("length", l.length),
        ("free_flow_time", l.free_flow_time),
        ("b", l.b),
        ("power", l.power),
        ("toll", l.toll),
    ];
    for (name, v) in finite {
        if !v.is_finite() {
            return Err(format!("{name} is not finite ({v})"));
        }
    }
    if l.free_flow_time < 0.0 {
        return Err(format!("negative free-flow time {}", l.free_flow_time));
    }
    if l.b < 0.0 {
        return Err(format!("negative BPR B {}", l.b));
    }
    if l.b > 0.0 && l.capacity <= 0.0 {
        return Err(format!(
            "capacity {} must be positive when B > 0",
            l.capacity
        ));
    }
    if l.b > 0.0 && l.power < 1.0 {
        return Err(format!(
            "BPR power {} below 1 (the cost derivative would be infinite at zero flow)",
            l.power
        ));
    }
    Ok(())
}

/// Forward and backward stars of the open links, in compressed-row form.
#[derive(Clone, Debug)]
pub struct Graph {
    /// `out_links[out_start[n]..out_start[n+1]]` are the open links leaving node `n`.
    pub out_start: Vec<usize>,
    /// Link indices grouped by tail node.
    pub out_links: Vec<u32>,
    /// `in_links[in_start[n]..in_start[n+1]]` are the open links entering node `n`.
    pub in_start: Vec<usize>,
    /// Link indices grouped by head node.
    pub in_links: Vec<u32>,
    /// Whether paths may pass through each node.
    pub through: Vec<bool>,
    /// Tail node of each link (all links, open or closed).
    pub tail: Vec<u32>,
    /// Head node of each link (all links, open or closed).
    pub head: Vec<u32>,
}

impl Graph {
    fn build(net: &Network) -> Graph {
        let n = net.nodes.len();
        let mut out_start = vec![0usize; n + 1];
        let mut in_start = vec![0usize; n + 1];
        for l in net.links.iter().filter(|l| !l.closed) {
            out_start[l.from + 1] += 1;
            in_start[l.to + 1] += 1;
        }
        for i in 0..n {
            out_start[i + 1] += out_start[i];
            in_start[i + 1] += in_start[i];
        }
        let mut out_links = vec![0u32; out_start[n]];
        let mut in_links = vec![0u32; in_start[n]];
        let mut op = out_start.clone();
        let mut ip = in_start.clone();
        for (a, l) in net.links.iter().enumerate().filter(|(_, l)| !l.closed) {
            out_links[op[l.from]] = a as u32;
            op[l.from] += 1;
            in_links[ip[l.to]] = a as u32;
            ip[l.to] += 1;
        }
        Graph {
            out_start,
            out_links,
            in_start,
            in_links,
            through: net.nodes.iter().map(|n| n.through).collect(),
            tail: net.links.iter().map(|l| l.from as u32).collect(),
            head: net.links.iter().map(|l| l.to as u32).collect(),
        }
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.through.len()
    }
}

/// A shortest-path tree from one origin (or, for [`Graph::tree_to`], towards one destination).
#[derive(Clone, Debug)]
pub struct Tree {
    /// Cost from the origin to each node (`f64::INFINITY` when unreachable).
    pub dist: Vec<f64>,
    /// The link entering each node on its shortest path (`u32::MAX` at the root and at
    /// unreachable nodes). For trees towards a destination, the link leaving the node.
    pub pred: Vec<u32>,
}

impl Graph {
    /// Dijkstra from `origin` with link weights `w` (all >= 0). Nodes that forbid through
    /// traffic are reached but not expanded (except the origin itself).
    pub fn tree_from(&self, origin: usize, w: &[f64]) -> Tree {
        self.dijkstra(origin, w, true)
    }

    /// [`Graph::tree_from`] that stops once every node of `targets` is settled: their costs and
    /// paths are final, other nodes' labels may not be (a target that cannot be reached leaves
    /// the search to run out, as in a full tree).
    pub fn tree_from_to(&self, origin: usize, w: &[f64], targets: &[usize]) -> Tree {
        self.search(origin, w, true, Some(targets))
    }

    /// Reverse Dijkstra: cost from every node to `dest` with link weights `w`.
    pub fn tree_to(&self, dest: usize, w: &[f64]) -> Tree {
        self.dijkstra(dest, w, false)
    }

    fn dijkstra(&self, root: usize, w: &[f64], forward: bool) -> Tree {
        self.search(root, w, forward, None)
    }

    fn search(&self, root: usize, w: &[f64], forward: bool, targets: Option<&[usize]>) -> Tree {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        let n = self.node_count();
        let mut dist = vec![f64::INFINITY; n];
        let mut pred = vec![u32::MAX; n];
        let mut done = vec![false; n];
        // Targets still to settle (0: search the whole graph).
        let mut want = vec![false; if targets.is_some() { n } else { 0 }];
        let mut left = 0usize;
        for &t in targets.unwrap_or(&[]) {
            if !want[t] {
                want[t] = true;
                left += 1;
            }
        }
        let mut heap = BinaryHeap::new();
        dist[root] = 0.0;
        heap.push(Reverse((OrdF64(0.0), root as u32)));
        while let Some(Reverse((OrdF64(d), u))) = heap.pop() {
            let u = u as usize;
            if done[u] {
                continue;
            }
            done[u] = true;
            if left > 0 && want[u] {
                left -= 1;
                if left == 0 {
                    break;
                }
            }
            if u != root && !self.through[u] {
                continue;
            }
            let (start, links, ends) = if forward {
                (&self.out_start, &self.out_links, &self.head)
            } else {
                (&self.in_start, &self.in_links, &self.tail)
            };
            for &a in &links[start[u]..start[u + 1]] {
                let v = ends[a as usize] as usize;
                let nd = d + w[a as usize];
                if nd < dist[v] {
                    dist[v] = nd;
                    pred[v] = a;
                    heap.push(Reverse((OrdF64(nd), v as u32)));
                }
            }
        }
        Tree { dist, pred }
    }

    /// The links of the path from the tree's origin to `dest`, in travel order (empty when
    /// `dest` is the origin or unreachable).
    pub fn path_to(&self, tree: &Tree, dest: usize, out: &mut Vec<u32>) {
        out.clear();
        if !tree.dist[dest].is_finite() {
            return;
        }
        let mut v = dest;
        while tree.pred[v] != u32::MAX {
            let a = tree.pred[v];
            out.push(a);
            v = self.tail[a as usize] as usize;
        }
        out.reverse();
    }
}

/// A totally ordered f64 for the heap (costs are finite and non-negative there).
#[derive(Clone, Copy, Debug, PartialEq)]
struct OrdF64(f64);

impl Eq for OrdF64 {}

impl PartialOrd for OrdF64 {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrdF64 {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(from: usize, to: usize, t0: f64) -> Link {
        Link {
            key: format!("{from}-{to}"),
            from,
            to,
            capacity: 100.0,
            length: 1.0,
            free_flow_time: t0,
            b: 0.15,
            power: 4.0,
            speed: 0.0,
            toll: 0.0,
            link_type: 1,
            closed: false,
        }
    }

    #[test]
    fn bpr_derivative_and_integral_match_finite_differences() {
        let l = link(0, 1, 3.0);
        for x in [1.0, 50.0, 100.0, 250.0] {
            let h = 1e-4;
            let fd = (l.time(x + h) - l.time(x - h)) / (2.0 * h);
            assert!((fd - l.time_derivative(x)).abs() < 1e-6 * (1.0 + fd.abs()));
            let fi = (l.time_integral(x + h) - l.time_integral(x - h)) / (2.0 * h);
            assert!((fi - l.time(x)).abs() < 1e-6 * l.time(x));
        }
        assert_eq!(l.time(100.0), 3.0 * 1.15);
    }

    #[test]
    fn search_to_targets_agrees_with_the_full_tree_on_them() {
        let mut net = Network::new(0.0, 0.0);
        for id in 1..=6 {
            net.add_node(id, None, true);
        }
        // A chain 0 -> 1 -> ... -> 5 of 1-minute links and a 2.5-minute shortcut 0 -> 3.
        for i in 0..5 {
            net.add_link(link(i, i + 1, 1.0)).unwrap();
        }
        net.add_link(link(0, 3, 2.5)).unwrap();
        let g = net.graph();
        let w: Vec<f64> = net.links.iter().map(|l| l.free_flow_time).collect();
        let full = g.tree_from(0, &w);
        let part = g.tree_from_to(0, &w, &[3, 2]);
        let (mut p1, mut p2) = (Vec::new(), Vec::new());
        for t in [2, 3] {
            assert_eq!(part.dist[t], full.dist[t]);
            g.path_to(&full, t, &mut p1);
            g.path_to(&part, t, &mut p2);
            assert_eq!(p1, p2);
        }
        assert_eq!(part.dist[3], 2.5);
        // The search stopped before the far end of the chain.
        assert!(part.dist[5].is_infinite() && full.dist[5] == 4.5);
    }

    #[test]
    fn zones_are_not_passed_through() {
        let mut net = Network::new(0.0, 0.0);
        net.add_node(1, None, false);
        net.add_node(2, None, true);
        net.add_node(3, None, true);
        // 2 -> 1 -> 3 is short but passes zone 1; 2 -> 3 directly is long.
        net.add_link(link(1, 0, 1.0)).unwrap();
        net.add_link(link(0, 2, 1.0)).unwrap();
        net.add_link(link(1, 2, 10.0)).unwrap();
        let g = net.graph();
        let w: Vec<f64> = net.links.iter().map(|l| l.free_flow_time).collect();
        assert_eq!(g.tree_from(1, &w).dist[2], 10.0);
        assert_eq!(g.tree_to(2, &w).dist[1], 10.0);
        // From the zone itself the short way is fine.
        assert_eq!(g.tree_from(0, &w).dist[2], 1.0);
    }
}
