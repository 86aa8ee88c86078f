//! Static user equilibrium by Algorithm B (Dial 2006, "A path-based user-equilibrium traffic
//! assignment algorithm that obviates path storage and enumeration", Transportation Research
//! B 40), the bush-based method selected by [`AssignMethod::Bush`](super::AssignMethod).
//!
//! Each origin keeps a *bush*: an acyclic set of links that every trip from that origin
//! travels on, with the origin's own flow on each link. It starts as the shortest-path tree at
//! free-flow costs, loaded all-or-nothing. Each iteration, for every origin in turn:
//! 1. links without flow from this origin leave the bush (but each node keeps its cheapest
//!    in-link, so every node stays reachable); flows of at most 1e-12 of the origin's trips
//!    count as none (rounding dust, dropped with the link);
//! 2. a network link `(i, j)` joins the bush when it shortens the longest bush path to `j`:
//!    `U_i + c_ij < U_j`, with `U` the longest-path labels over all bush links. All bush links
//!    go up in `U` (strictly for the added ones), so the bush stays acyclic;
//! 3. flows are equilibrated: nodes in decreasing topological order, the cheapest and the
//!    costliest *used* bush path to the node are followed back to where they split, and flow
//!    moves from the costly segment to the cheap one by the Newton step
//!    `min(min flow on the costly segment, (C_max - C_min) / sum dc/dx over both segments)`,
//!    link flows and costs updated at once.
//!
//! Then further equilibration passes over all bushes (fixed bush links, step 3 only), until
//! the bushes' own excess `sum_a x_a (L_i + c_a - L_j)` (flow times reduced cost over the bush
//! links `a = (i, j)`, `L` the shortest bush-path costs) falls below
//! [`AssignOptions::inner_gap_ratio`] times the measured gap or after
//! [`AssignOptions::inner_sweeps`] passes.
//!
//! Bushes are updated one origin after another (each sees the link costs the previous one
//! left: Gauss–Seidel); the shortest-path trees that measure the relative gap run for all
//! origins in parallel. The link flows are re-summed from the bushes before each gap
//! measurement, so the reported state is exactly the one measured.

use rayon::prelude::*;

use super::assign::{
    finish, group_demand, od_paths, relative_gap, sweeps_done, total_cost, AssignOptions, GapLog,
    Links, Od, Origin, Outcome,
};
use super::demand::{Demand, OdTrip};
use super::network::{Graph, Network};
use super::result::{Assignment, GapRecord};
use crate::error::{Result, ScenarioError};

const NONE: u32 = u32::MAX;

/// One origin's bush.
struct Bush {
    /// Origin node index.
    origin: usize,
    /// This origin's flow on each link (dense, indexed like the network's links).
    flow: Vec<f64>,
    /// Whether each link is in the bush.
    member: Vec<bool>,
    /// The bush's links.
    links: Vec<u32>,
    /// Destination nodes and their trips from this origin.
    dests: Vec<(u32, f64)>,
    /// Link flows at or below this (1e-12 of the origin's trips) count as unused: rounding
    /// dust that equilibration leaves and must not follow.
    dust: f64,
}

/// Per-node scratch of one bush pass (reused across bushes).
struct Scratch {
    /// Topological order of the bush's nodes (origin first).
    order: Vec<u32>,
    /// Position of each node in `order` (`NONE` when not in the bush).
    pos: Vec<u32>,
    /// Shortest bush-path cost and its last link.
    l: Vec<f64>,
    pred_l: Vec<u32>,
    /// Longest *used* bush-path cost and its last link (`-inf`/`NONE` at unused nodes).
    u: Vec<f64>,
    pred_u: Vec<u32>,
    /// Longest bush-path cost over all bush links (for acyclic growth).
    u_all: Vec<f64>,
    /// The bush links grouped by tail node (compressed rows).
    out_start: Vec<u32>,
    out_links: Vec<u32>,
    indeg: Vec<u32>,
    seg_min: Vec<u32>,
    seg_max: Vec<u32>,
}

impl Scratch {
    fn new(n: usize) -> Scratch {
        Scratch {
            order: Vec::with_capacity(n),
            pos: vec![NONE; n],
            l: vec![f64::INFINITY; n],
            pred_l: vec![NONE; n],
            u: vec![f64::NEG_INFINITY; n],
            pred_u: vec![NONE; n],
            u_all: vec![f64::NEG_INFINITY; n],
            out_start: vec![0; n + 1],
            out_links: Vec::new(),
            indeg: vec![0; n],
            seg_min: Vec::new(),
            seg_max: Vec::new(),
        }
    }
}

/// Assigns by Algorithm B; see the module documentation.
pub(super) fn assign_bush(
    net: &Network,
    demand: &Demand,
    opts: &AssignOptions,
    on_gap: &mut dyn FnMut(&GapRecord),
    cancel: Option<&std::sync::atomic::AtomicBool>,
) -> Result<Assignment> {
    let mut log = GapLog::new(on_gap, cancel);
    let graph = net.graph();
    let n = graph.node_count();
    let m = net.links.len();
    let (origins, intrazonal) = group_demand(net, demand)?;
    let mut links = Links::new(net);
    // Free-flow shortest-path trees, all origins in parallel: reachability, and the initial
    // bushes.
    let cost = &links.cost;
    let one = |o: Origin| initial_bush(&graph, net, o, cost, m);
    let built: Vec<(Origin, Option<Bush>, Vec<OdTrip>)> = if opts.parallel {
        origins.into_par_iter().map(one).collect()
    } else {
        origins.into_iter().map(one).collect()
    };
    let mut origins = Vec::with_capacity(built.len());
    let mut bushes = Vec::with_capacity(built.len());
    let mut unreachable = Vec::new();
    for (o, b, u) in built {
        origins.push(o);
        bushes.extend(b);
        unreachable.extend(u);
    }
    let mut s = Scratch::new(n);
    sum_flows(&mut links, &bushes);
    let mut iteration = 0usize;
    let (sptt, gap) = loop {
        let sptt = sptt(&graph, &bushes, &links.cost, opts.parallel);
        let gap = relative_gap(total_cost(net, &links.flow, &links.cost), sptt);
        log.record(iteration, gap)?;
        if gap <= opts.target_gap || iteration >= opts.max_iterations {
            break (sptt, gap);
        }
        for b in bushes.iter_mut() {
            improve(&graph, b, &links, &mut s)?;
            labels(&graph, b, &links.cost, &mut s)?;
            shift(&graph, b, &mut links, &mut s);
        }
        for _ in 0..opts.inner_sweeps {
            let mut excess = 0.0;
            for b in bushes.iter_mut() {
                excess += labels(&graph, b, &links.cost, &mut s)?;
                shift(&graph, b, &mut links, &mut s);
            }
            if sweeps_done(net, &links, excess, opts, gap) {
                break;
            }
        }
        sum_flows(&mut links, &bushes);
        iteration += 1;
    };
    // The bush keeps no paths: its OD pairs come with none.
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

/// The shortest-path tree of `o` at `cost`, loaded with its trips all-or-nothing. The OD pairs
/// without a path leave `o` and come back as unreachable trips; no bush when none is left.
fn initial_bush(
    graph: &Graph,
    net: &Network,
    mut o: Origin,
    cost: &[f64],
    m: usize,
) -> (Origin, Option<Bush>, Vec<OdTrip>) {
    let tree = graph.tree_from(o.node, cost);
    let (reach, lost): (Vec<Od>, Vec<Od>) = std::mem::take(&mut o.ods)
        .into_iter()
        .partition(|od| tree.dist[od.dest].is_finite());
    o.ods = reach;
    let unreachable = lost
        .into_iter()
        .map(|od| OdTrip {
            origin: net.nodes[o.node].id,
            destination: net.nodes[od.dest].id,
            trips: od.demand,
        })
        .collect();
    if o.ods.is_empty() {
        return (o, None, unreachable);
    }
    let mut flow = vec![0.0; m];
    let mut member = vec![false; m];
    let mut links = Vec::new();
    for &p in &tree.pred {
        if p != NONE {
            member[p as usize] = true;
            links.push(p);
        }
    }
    for od in &o.ods {
        let mut v = od.dest;
        while tree.pred[v] != NONE {
            let a = tree.pred[v] as usize;
            flow[a] += od.demand;
            v = graph.tail[a] as usize;
        }
    }
    let bush = Bush {
        origin: o.node,
        flow,
        member,
        links,
        dests: o.ods.iter().map(|od| (od.dest as u32, od.demand)).collect(),
        dust: 1e-12 * o.ods.iter().map(|od| od.demand).sum::<f64>(),
    };
    (o, Some(bush), unreachable)
}

/// Link flows = the sum of the bushes' flows (no drift); costs refreshed.
fn sum_flows(links: &mut Links, bushes: &[Bush]) {
    links.flow.iter_mut().for_each(|x| *x = 0.0);
    for b in bushes {
        for &a in &b.links {
            links.flow[a as usize] += b.flow[a as usize];
        }
    }
    links.update_costs();
}

/// Shortest-path total `sum_od d_od * min-cost_od` at `cost`, one tree per origin in parallel.
fn sptt(graph: &Graph, bushes: &[Bush], cost: &[f64], parallel: bool) -> f64 {
    let one = |b: &Bush| {
        let targets: Vec<usize> = b.dests.iter().map(|&(d, _)| d as usize).collect();
        let t = graph.tree_from_to(b.origin, cost, &targets);
        b.dests
            .iter()
            .map(|&(d, q)| q * t.dist[d as usize])
            .sum::<f64>()
    };
    if parallel {
        bushes.par_iter().map(one).sum()
    } else {
        bushes.iter().map(one).sum()
    }
}

/// Topological order and labels of a bush: shortest (`l`), longest used (`u`) and longest
/// (`u_all`) bush-path costs with their last links. Returns the bush's excess
/// `sum_a x_a (L_i + c_a - L_j)` over its links `a = (i, j)`. Errors if the bush has a cycle (a bug: growth keeps it acyclic).
fn labels(graph: &Graph, b: &Bush, cost: &[f64], s: &mut Scratch) -> Result<f64> {
    let n = s.pos.len();
    // Bush links by tail, and in-degrees.
    s.out_start.iter_mut().for_each(|x| *x = 0);
    for &a in &b.links {
        s.out_start[graph.tail[a as usize] as usize + 1] += 1;
        s.indeg[graph.head[a as usize] as usize] += 1;
    }
    for i in 0..n {
        s.out_start[i + 1] += s.out_start[i];
    }
    s.out_links.resize(b.links.len(), 0);
    {
        // Fill using out_start as running cursors, then shift back.
        for &a in &b.links {
            let t = graph.tail[a as usize] as usize;
            s.out_links[s.out_start[t] as usize] = a;
            s.out_start[t] += 1;
        }
        for i in (1..=n).rev() {
            s.out_start[i] = s.out_start[i - 1];
        }
        s.out_start[0] = 0;
    }
    // Kahn from the origin; labels pushed forward in the same sweep.
    for &v in &s.order {
        let v = v as usize;
        s.pos[v] = NONE;
        s.l[v] = f64::INFINITY;
        s.u[v] = f64::NEG_INFINITY;
        s.u_all[v] = f64::NEG_INFINITY;
        s.pred_l[v] = NONE;
        s.pred_u[v] = NONE;
    }
    s.order.clear();
    let o = b.origin;
    s.order.push(o as u32);
    s.l[o] = 0.0;
    s.u[o] = 0.0;
    s.u_all[o] = 0.0;
    let mut k = 0;
    while k < s.order.len() {
        let i = s.order[k] as usize;
        s.pos[i] = k as u32;
        k += 1;
        let (li, ui, uai) = (s.l[i], s.u[i], s.u_all[i]);
        for e in s.out_start[i]..s.out_start[i + 1] {
            let a = s.out_links[e as usize] as usize;
            let j = graph.head[a] as usize;
            let c = cost[a];
            if li + c < s.l[j] {
                s.l[j] = li + c;
                s.pred_l[j] = a as u32;
            }
            // Used: carries more than rounding dust, from a node that is itself used (so the
            // longest used path has flow on every link).
            if b.flow[a] > b.dust && ui > f64::NEG_INFINITY && ui + c > s.u[j] {
                s.u[j] = ui + c;
                s.pred_u[j] = a as u32;
            }
            if uai + c > s.u_all[j] {
                s.u_all[j] = uai + c;
            }
            s.indeg[j] -= 1;
            if s.indeg[j] == 0 {
                s.order.push(j as u32);
            }
        }
    }
    if s.indeg.iter().any(|&d| d != 0) {
        s.indeg.iter_mut().for_each(|d| *d = 0);
        return Err(ScenarioError::invalid(
            format!("bush of origin node index {o}"),
            "the bush has a cycle (internal error of the bush-based assignment)",
        ));
    }
    // The bush's own excess cost: flow times reduced cost over its links, which is
    // `sum_p f_p (c_p - c_min)` over the bush's paths (0 at bush equilibrium).
    Ok(b.links
        .iter()
        .map(|&a| {
            let a = a as usize;
            let f = b.flow[a];
            if f > 0.0 {
                let (i, j) = (graph.tail[a] as usize, graph.head[a] as usize);
                f * (s.l[i] + cost[a] - s.l[j]).max(0.0)
            } else {
                0.0
            }
        })
        .sum())
}

/// Drops the links without flow (except each node's cheapest in-link) and adds the network
/// links that shorten the longest bush path to their head.
fn improve(graph: &Graph, b: &mut Bush, links: &Links, s: &mut Scratch) -> Result<()> {
    labels(graph, b, &links.cost, s)?;
    let (flow, member, dust) = (&mut b.flow, &mut b.member, b.dust);
    b.links.retain(|&a| {
        let au = a as usize;
        let keep = flow[au] > dust || s.pred_l[graph.head[au] as usize] == a;
        if !keep {
            // Rounding dust (at most 1e-12 of the origin's trips) leaves with the link.
            member[au] = false;
            flow[au] = 0.0;
        }
        keep
    });
    labels(graph, b, &links.cost, s)?;
    for k in 0..s.order.len() {
        let i = s.order[k] as usize;
        if i != b.origin && !graph.through[i] {
            continue;
        }
        let ui = s.u_all[i];
        for e in graph.out_start[i]..graph.out_start[i + 1] {
            let a = graph.out_links[e] as usize;
            if b.member[a] {
                continue;
            }
            let j = graph.head[a] as usize;
            if j == b.origin {
                continue;
            }
            if ui + links.cost[a] < s.u_all[j] || s.pos[j] == NONE {
                b.member[a] = true;
                b.links.push(a as u32);
            }
        }
    }
    Ok(())
}

/// One equilibration pass over a bush whose labels are in `s` (see the module docs, step 3).
fn shift(graph: &Graph, b: &mut Bush, links: &mut Links, s: &mut Scratch) {
    for k in (1..s.order.len()).rev() {
        let j = s.order[k] as usize;
        if s.pred_l[j] == s.pred_u[j] || s.pred_u[j] == NONE || s.u[j] - s.l[j] <= 0.0 {
            continue;
        }
        // Follow both paths back to where they split.
        s.seg_min.clear();
        s.seg_max.clear();
        let a = s.pred_l[j];
        s.seg_min.push(a);
        let mut x = graph.tail[a as usize] as usize;
        let a = s.pred_u[j];
        s.seg_max.push(a);
        let mut y = graph.tail[a as usize] as usize;
        while x != y {
            if s.pos[x] > s.pos[y] {
                let a = s.pred_l[x];
                s.seg_min.push(a);
                x = graph.tail[a as usize] as usize;
            } else {
                let a = s.pred_u[y];
                s.seg_max.push(a);
                y = graph.tail[a as usize] as usize;
            }
        }
        let mut c_min = 0.0;
        let mut c_max = 0.0;
        let mut h = 0.0;
        let mut room = f64::INFINITY;
        for &a in &s.seg_min {
            c_min += links.cost[a as usize];
            h += links.deriv[a as usize];
        }
        for &a in &s.seg_max {
            c_max += links.cost[a as usize];
            h += links.deriv[a as usize];
            room = room.min(b.flow[a as usize]);
        }
        let diff = c_max - c_min;
        if diff <= 0.0 || room <= 0.0 {
            continue;
        }
        let dx = if h > 0.0 { (diff / h).min(room) } else { room };
        for &a in &s.seg_max {
            let au = a as usize;
            let f = b.flow[au] - dx;
            // The link that limited the step empties exactly.
            b.flow[au] = if dx >= room && b.flow[au] <= room {
                0.0
            } else {
                f.max(0.0)
            };
            links.add(au, -dx);
        }
        for &a in &s.seg_min {
            b.flow[a as usize] += dx;
            links.add(a as usize, dx);
        }
    }
}
