//! Static user-equilibrium assignment by path-based gradient projection (Jayakrishnan, Tsai,
//! Prashker and Rajadhyaksha 1994, "A faster path-based algorithm for traffic assignment",
//! TRR 1443), with the Newton step of Chen, Lee and Jayakrishnan (2002).
//!
//! Each iteration:
//! 1. link flows are re-summed from the path flows (no drift), costs are refreshed;
//! 2. one shortest-path tree per origin at the current costs, all origins in parallel (rayon);
//!    these trees give the shortest-path total cost (SPC) and so the relative gap
//!    `(TC - SPC) / TC`, where `TC = sum_a x_a c_a(x_a)` is the total generalized cost and
//!    `SPC = sum_od d_od * min-cost_od` (TSTT and SPTT when the cost is time only); each search
//!    stops once the origin's destinations are settled;
//! 3. the shortest path of each OD pair joins its path set when new (column generation);
//! 4. for each OD pair in turn (Gauss-Seidel), flow moves from every costlier path `p` to the
//!    cheapest path `s` of the set by the projected Newton step
//!    `min(f_p, (c_p - c_s) / sum_{a in p xor s} dc_a/dx)`, link flows and costs updated at once;
//!    paths left without flow leave the set;
//! 5. a few more such sweeps over the fixed path sets (no shortest paths; cheap).
//!
//! It stops when the gap reaches [`AssignOptions::target_gap`] or after
//! [`AssignOptions::max_iterations`]. OD pairs with no path are reported in
//! [`Assignment::unreachable`] and carry no flow.

use std::collections::BTreeMap;
use std::time::Instant;

use rayon::prelude::*;

use super::demand::{Demand, OdTrip};
use super::network::{Graph, Network};
use super::result::{Assignment, GapRecord, OdPaths, PathFlow};
use crate::error::{Result, ScenarioError};

/// Settings of [`assign`].
#[derive(Clone, Debug, PartialEq)]
pub struct AssignOptions {
    /// Stop at this relative gap (default 1e-8).
    pub target_gap: f64,
    /// Stop after this many iterations (shortest-path passes) whatever the gap (default 500).
    pub max_iterations: usize,
    /// At most this many extra equilibration sweeps over the fixed path sets per iteration
    /// (default 50).
    pub inner_sweeps: usize,
    /// The extra sweeps stop once the gap within the path sets (or bushes), `sum_p f_p (c_p -
    /// c_min) / TC`, falls below this fraction of the iteration's relative gap (default 0.1).
    pub inner_gap_ratio: f64,
    /// Shortest paths of all origins in parallel with rayon (default true).
    pub parallel: bool,
    /// The algorithm (default [`AssignMethod::Path`], the one that keeps the used paths of
    /// every OD pair, which scenario reports need).
    pub method: AssignMethod,
}

/// The equilibrium algorithm of [`assign`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AssignMethod {
    /// Path-based gradient projection (this module): keeps every OD pair's used paths in
    /// [`Assignment::od_paths`].
    #[default]
    Path,
    /// Origin-based Algorithm B (Dial 2006) on acyclic bushes ([`super::bush`]): much faster
    /// on large networks; keeps no paths ([`Assignment::od_paths`] lists the OD pairs and
    /// their demand with empty path sets).
    Bush,
}

impl std::str::FromStr for AssignMethod {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "path" => Ok(AssignMethod::Path),
            "bush" => Ok(AssignMethod::Bush),
            _ => Err(format!(
                "unknown assignment method {s:?} (expected path or bush)"
            )),
        }
    }
}

impl Default for AssignOptions {
    fn default() -> Self {
        AssignOptions {
            target_gap: 1e-8,
            max_iterations: 500,
            inner_sweeps: 50,
            inner_gap_ratio: 0.1,
            parallel: true,
            method: AssignMethod::Path,
        }
    }
}

/// One OD pair of an origin: destination node index, trips, used paths.
pub(super) struct Od {
    pub(super) dest: usize,
    pub(super) demand: f64,
    pub(super) paths: Vec<PathFlow>,
}

/// The OD pairs of one origin node.
pub(super) struct Origin {
    pub(super) node: usize,
    pub(super) ods: Vec<Od>,
}

/// The link state while assigning: flows, costs and cost derivatives.
pub(super) struct Links<'a> {
    pub(super) net: &'a Network,
    pub(super) flow: Vec<f64>,
    pub(super) cost: Vec<f64>,
    pub(super) deriv: Vec<f64>,
}

impl<'a> Links<'a> {
    /// Zero flows, costs at zero flow.
    pub(super) fn new(net: &'a Network) -> Links<'a> {
        let m = net.links.len();
        Links {
            net,
            flow: vec![0.0; m],
            cost: (0..m).map(|a| net.cost(a, 0.0)).collect(),
            deriv: (0..m).map(|a| net.links[a].time_derivative(0.0)).collect(),
        }
    }

    /// Recomputes every cost and derivative from the flows.
    pub(super) fn update_costs(&mut self) {
        for a in 0..self.flow.len() {
            self.cost[a] = self.net.cost(a, self.flow[a]);
            self.deriv[a] = self.net.links[a].time_derivative(self.flow[a]);
        }
    }

    /// Adds `dx` to link `a`'s flow (clamped at 0) and refreshes its cost and derivative.
    #[inline]
    pub(super) fn add(&mut self, a: usize, dx: f64) {
        let x = (self.flow[a] + dx).max(0.0);
        self.flow[a] = x;
        self.cost[a] = self.net.cost(a, x);
        self.deriv[a] = self.net.links[a].time_derivative(x);
    }

    fn refresh(&mut self, origins: &[Origin]) {
        self.flow.iter_mut().for_each(|x| *x = 0.0);
        for o in origins {
            for od in &o.ods {
                for p in &od.paths {
                    for &a in &p.links {
                        self.flow[a as usize] += p.flow;
                    }
                }
            }
        }
        self.update_costs();
    }

    fn path_cost(&self, links: &[u32]) -> f64 {
        links.iter().map(|&a| self.cost[a as usize]).sum()
    }
}

/// Scratch marks for symmetric differences of two paths.
struct Marks {
    s: Vec<u32>,
    p: Vec<u32>,
    gen: u32,
}

/// Assigns `demand` on `net` to user equilibrium. Errors when the demand names a node the
/// network does not have or a trip count is negative or not finite.
pub fn assign(net: &Network, demand: &Demand, opts: &AssignOptions) -> Result<Assignment> {
    assign_with_progress(net, demand, opts, &mut |_| {})
}

/// [`assign`], calling `on_gap` with the gap record after every iteration (for progress bars).
pub fn assign_with_progress(
    net: &Network,
    demand: &Demand,
    opts: &AssignOptions,
    on_gap: &mut dyn FnMut(&GapRecord),
) -> Result<Assignment> {
    assign_with_control(net, demand, opts, on_gap, None)
}

/// [`assign_with_progress`] with a cancel flag, checked after every iteration: the assignment
/// stops with [`ScenarioError::Cancelled`] soon after `cancel` turns true.
pub fn assign_with_control(
    net: &Network,
    demand: &Demand,
    opts: &AssignOptions,
    on_gap: &mut dyn FnMut(&GapRecord),
    cancel: Option<&std::sync::atomic::AtomicBool>,
) -> Result<Assignment> {
    if opts.method == AssignMethod::Bush {
        return super::bush::assign_bush(net, demand, opts, on_gap, cancel);
    }
    let mut log = GapLog::new(on_gap, cancel);
    let graph = net.graph();
    let (mut origins, intrazonal) = group_demand(net, demand)?;
    let m = net.links.len();
    let mut links = Links::new(net);
    let mut marks = Marks {
        s: vec![0; m],
        p: vec![0; m],
        gen: 0,
    };
    let mut unreachable = Vec::new();
    let mut iteration = 0usize;
    let (sptt, gap) = loop {
        if iteration > 0 {
            links.refresh(&origins);
        }
        let mut pass = shortest_paths(&graph, &origins, &links.cost, opts.parallel);
        if iteration == 0 {
            unreachable = drop_unreachable(net, &mut origins, &mut pass);
        }
        let sptt: f64 = origins
            .iter()
            .zip(&pass)
            .flat_map(|(o, p)| o.ods.iter().zip(&p.dist).map(|(od, d)| od.demand * d))
            .sum();
        // Nothing is loaded before the first iteration: no gap to measure.
        let gap = if iteration == 0 {
            f64::INFINITY
        } else {
            relative_gap(total_cost(net, &links.flow, &links.cost), sptt)
        };
        log.record(iteration, gap)?;
        if gap <= opts.target_gap || iteration >= opts.max_iterations {
            break (sptt, gap);
        }
        for (o, p) in origins.iter_mut().zip(pass) {
            for (od, new_path) in o.ods.iter_mut().zip(p.paths) {
                add_path(&mut links, od, new_path);
                equilibrate(&mut links, &mut marks, od);
            }
        }
        // Sweeps over the fixed path sets until their own gap is well below the measured one.
        for _ in 0..opts.inner_sweeps {
            let mut excess = 0.0;
            for o in origins.iter_mut() {
                for od in o.ods.iter_mut() {
                    excess += equilibrate(&mut links, &mut marks, od);
                }
            }
            if sweeps_done(net, &links, excess, opts, gap) {
                break;
            }
        }
        iteration += 1;
    };
    // The reported state is exactly the one the gap was measured on.
    Ok(finish(
        net,
        links,
        Outcome {
            sptt,
            gap,
            iterations: iteration,
            converged: gap <= opts.target_gap,
            history: log.history,
            unreachable,
            intrazonal,
            od_paths: od_paths(net, origins),
            start: log.start,
        },
    ))
}

/// The relative gap `(TC - SPC) / TC` of a total cost and the shortest-path cost of the same
/// trips (0 when nothing costs anything).
pub(super) fn relative_gap(total: f64, sptt: f64) -> f64 {
    if total > 0.0 {
        ((total - sptt) / total).max(0.0)
    } else {
        0.0
    }
}

/// The gap history of an assignment, as both algorithms keep it: each iteration's record,
/// reported to the caller, then the cancel flag checked.
pub(super) struct GapLog<'a> {
    pub(super) history: Vec<GapRecord>,
    pub(super) start: Instant,
    on_gap: &'a mut dyn FnMut(&GapRecord),
    cancel: Option<&'a std::sync::atomic::AtomicBool>,
}

impl<'a> GapLog<'a> {
    /// A log starting its clock now.
    pub(super) fn new(
        on_gap: &'a mut dyn FnMut(&GapRecord),
        cancel: Option<&'a std::sync::atomic::AtomicBool>,
    ) -> Self {
        GapLog {
            history: Vec::new(),
            start: Instant::now(),
            on_gap,
            cancel,
        }
    }

    /// Records `iteration`'s gap and reports it; [`ScenarioError::Cancelled`] once the cancel
    /// flag is up.
    pub(super) fn record(&mut self, iteration: usize, gap: f64) -> Result<()> {
        let r = GapRecord {
            iteration,
            relative_gap: gap,
            seconds: self.start.elapsed().as_secs_f64(),
        };
        (self.on_gap)(&r);
        self.history.push(r);
        if self
            .cancel
            .is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed))
        {
            return Err(ScenarioError::Cancelled);
        }
        Ok(())
    }
}

/// Whether the inner sweeps of an iteration have done enough: their own gap, `excess` over the
/// total cost, is below [`AssignOptions::inner_gap_ratio`] of the iteration's `gap`.
pub(super) fn sweeps_done(
    net: &Network,
    links: &Links,
    excess: f64,
    opts: &AssignOptions,
    gap: f64,
) -> bool {
    let total = total_cost(net, &links.flow, &links.cost);
    total <= 0.0 || excess / total < opts.inner_gap_ratio * gap
}

/// Every OD pair of `origins` with its paths, by node id (a bush assignment keeps no paths:
/// its pairs come with none).
pub(super) fn od_paths(net: &Network, origins: Vec<Origin>) -> Vec<OdPaths> {
    origins
        .into_iter()
        .flat_map(|o| {
            let oid = net.nodes[o.node].id;
            o.ods.into_iter().map(move |od| OdPaths {
                origin: oid,
                destination: net.nodes[od.dest].id,
                demand: od.demand,
                paths: od.paths,
            })
        })
        .collect()
}

/// What an algorithm hands to [`finish`] besides the link state.
pub(super) struct Outcome {
    pub(super) sptt: f64,
    pub(super) gap: f64,
    pub(super) iterations: usize,
    pub(super) converged: bool,
    pub(super) history: Vec<GapRecord>,
    pub(super) unreachable: Vec<OdTrip>,
    pub(super) intrazonal: f64,
    pub(super) od_paths: Vec<OdPaths>,
    pub(super) start: Instant,
}

/// Builds the [`Assignment`] from the final link state (the one the gap was measured on).
pub(super) fn finish(net: &Network, links: Links, o: Outcome) -> Assignment {
    let flows = links.flow;
    let costs = links.cost;
    let times: Vec<f64> = net
        .links
        .iter()
        .zip(&flows)
        .map(|(l, &x)| l.time(x))
        .collect();
    let tstt = net
        .links
        .iter()
        .zip(flows.iter().zip(&times))
        .filter(|(l, _)| !l.closed)
        .map(|(_, (x, t))| x * t)
        .sum();
    let total_cost = total_cost(net, &flows, &costs);
    let vc = net
        .links
        .iter()
        .zip(&flows)
        .map(|(l, &x)| {
            if l.capacity > 0.0 {
                x / l.capacity
            } else {
                0.0
            }
        })
        .collect();
    let assigned_trips = o.od_paths.iter().map(|p| p.demand).sum();
    Assignment {
        keys: net.links.iter().map(|l| l.key.clone()).collect(),
        beckmann: net.beckmann(&flows),
        flows,
        times,
        costs,
        vc,
        tstt,
        total_cost,
        sptt: o.sptt,
        relative_gap: o.gap,
        iterations: o.iterations,
        converged: o.converged,
        history: o.history,
        unreachable: o.unreachable,
        assigned_trips,
        intrazonal_trips: o.intrazonal,
        od_paths: o.od_paths,
        seconds: o.start.elapsed().as_secs_f64(),
    }
}

pub(super) fn total_cost(net: &Network, flow: &[f64], cost: &[f64]) -> f64 {
    net.links
        .iter()
        .enumerate()
        .filter(|(_, l)| !l.closed)
        .map(|(a, _)| flow[a] * cost[a])
        .sum()
}

/// Groups the demand by origin node index (merging repeated pairs) and returns the
/// intrazonal total apart.
pub(super) fn group_demand(net: &Network, demand: &Demand) -> Result<(Vec<Origin>, f64)> {
    let mut by_origin: BTreeMap<usize, BTreeMap<usize, f64>> = BTreeMap::new();
    let mut intrazonal = 0.0;
    for (k, t) in demand.trips.iter().enumerate() {
        if !t.trips.is_finite() || t.trips < 0.0 {
            return Err(ScenarioError::invalid(
                format!("demand entry {} ({} -> {})", k + 1, t.origin, t.destination),
                format!("trips {} must be finite and non-negative", t.trips),
            ));
        }
        let o = net.node_index(t.origin).ok_or_else(|| {
            ScenarioError::invalid(
                format!("demand entry {}", k + 1),
                format!("origin node {} is not in the network", t.origin),
            )
        })?;
        let d = net.node_index(t.destination).ok_or_else(|| {
            ScenarioError::invalid(
                format!("demand entry {}", k + 1),
                format!("destination node {} is not in the network", t.destination),
            )
        })?;
        if t.trips == 0.0 {
            continue;
        }
        if o == d {
            intrazonal += t.trips;
            continue;
        }
        *by_origin.entry(o).or_default().entry(d).or_default() += t.trips;
    }
    let origins = by_origin
        .into_iter()
        .map(|(node, ds)| Origin {
            node,
            ods: ds
                .into_iter()
                .map(|(dest, demand)| Od {
                    dest,
                    demand,
                    paths: Vec::new(),
                })
                .collect(),
        })
        .collect();
    Ok((origins, intrazonal))
}

/// Shortest-path costs and paths of one origin's OD pairs (aligned with its `ods`).
pub(super) struct Pass {
    pub(super) dist: Vec<f64>,
    pub(super) paths: Vec<Vec<u32>>,
}

pub(super) fn shortest_paths(
    graph: &Graph,
    origins: &[Origin],
    cost: &[f64],
    parallel: bool,
) -> Vec<Pass> {
    let one = |o: &Origin| {
        let targets: Vec<usize> = o.ods.iter().map(|od| od.dest).collect();
        let tree = graph.tree_from_to(o.node, cost, &targets);
        let mut dist = Vec::with_capacity(o.ods.len());
        let mut paths = Vec::with_capacity(o.ods.len());
        for od in &o.ods {
            dist.push(tree.dist[od.dest]);
            let mut p = Vec::new();
            graph.path_to(&tree, od.dest, &mut p);
            paths.push(p);
        }
        Pass { dist, paths }
    };
    if parallel {
        origins.par_iter().map(one).collect()
    } else {
        origins.iter().map(one).collect()
    }
}

/// Removes the OD pairs without a path (from the origins and from the pass) and returns them.
pub(super) fn drop_unreachable(
    net: &Network,
    origins: &mut [Origin],
    pass: &mut [Pass],
) -> Vec<OdTrip> {
    let mut out = Vec::new();
    for (o, p) in origins.iter_mut().zip(pass.iter_mut()) {
        if p.dist.iter().all(|d| d.is_finite()) {
            continue;
        }
        let ods = std::mem::take(&mut o.ods);
        let dist = std::mem::take(&mut p.dist);
        let paths = std::mem::take(&mut p.paths);
        for ((od, d), path) in ods.into_iter().zip(dist).zip(paths) {
            if d.is_finite() {
                o.ods.push(od);
                p.dist.push(d);
                p.paths.push(path);
            } else {
                out.push(OdTrip {
                    origin: net.nodes[o.node].id,
                    destination: net.nodes[od.dest].id,
                    trips: od.demand,
                });
            }
        }
    }
    out
}

/// Adds `path` to the OD pair's set if new; the first path takes all the demand.
fn add_path(links: &mut Links, od: &mut Od, path: Vec<u32>) {
    if path.is_empty() || od.paths.iter().any(|p| p.links == path) {
        return;
    }
    let flow = if od.paths.is_empty() { od.demand } else { 0.0 };
    if flow > 0.0 {
        for &a in &path {
            links.add(a as usize, flow);
        }
    }
    od.paths.push(PathFlow { links: path, flow });
}

/// One projected-Newton sweep over an OD pair's path set: flow moves from each costlier path to
/// the cheapest one. Returns the excess cost `sum_p f_p (c_p - c_min)` found before the moves.
fn equilibrate(links: &mut Links, marks: &mut Marks, od: &mut Od) -> f64 {
    if od.paths.len() < 2 {
        return 0.0;
    }
    let mut excess = 0.0;
    let s = (0..od.paths.len())
        .map(|i| (i, links.path_cost(&od.paths[i].links)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
        .unwrap_or(0);
    let mut sp = od.paths.swap_remove(s);
    for p in od.paths.iter_mut() {
        if p.flow <= 0.0 {
            continue;
        }
        let diff = links.path_cost(&p.links) - links.path_cost(&sp.links);
        if diff <= 0.0 {
            continue;
        }
        excess += p.flow * diff;
        let g = marks.next();
        for &a in &sp.links {
            marks.s[a as usize] = g;
        }
        for &a in &p.links {
            marks.p[a as usize] = g;
        }
        // Second derivative of the objective along the move: the links of p xor s.
        let h: f64 = p
            .links
            .iter()
            .filter(|&&a| marks.s[a as usize] != g)
            .chain(sp.links.iter().filter(|&&a| marks.p[a as usize] != g))
            .map(|&a| links.deriv[a as usize])
            .sum();
        let delta = if h > 0.0 {
            (diff / h).min(p.flow)
        } else {
            p.flow
        };
        if delta <= 0.0 {
            continue;
        }
        p.flow = if delta >= p.flow { 0.0 } else { p.flow - delta };
        sp.flow += delta;
        for &a in &p.links {
            if marks.s[a as usize] != g {
                links.add(a as usize, -delta);
            }
        }
        for &a in &sp.links {
            if marks.p[a as usize] != g {
                links.add(a as usize, delta);
            }
        }
    }
    od.paths.retain(|p| p.flow > 0.0);
    od.paths.push(sp);
    excess
}

impl Marks {
    /// A fresh generation number (clearing the arrays when it wraps).
    fn next(&mut self) -> u32 {
        self.gen = self.gen.wrapping_add(1);
        if self.gen == 0 {
            self.s.iter_mut().for_each(|m| *m = 0);
            self.p.iter_mut().for_each(|m| *m = 0);
            self.gen = 1;
        }
        self.gen
    }
}
