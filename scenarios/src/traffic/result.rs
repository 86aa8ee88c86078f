//! Results of an assignment: link flows and times, totals, convergence, unreachable demand,
//! differences from a baseline and travel-time skims.

use std::collections::HashMap;

use rayon::prelude::*;

use super::demand::OdTrip;
use super::network::Network;
use crate::error::{Result, ScenarioError};

/// The relative gap after one iteration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GapRecord {
    /// Iteration (0 = before any equilibration).
    pub iteration: usize,
    /// Relative gap `(TC - SPC) / TC` over generalized cost (`TC` the total cost, `SPC` its
    /// shortest-path total; TSTT and SPTT when the cost is time only). Infinite at iteration 0
    /// of the path method.
    pub relative_gap: f64,
    /// Seconds since the assignment started.
    pub seconds: f64,
}

/// One path and its flow.
#[derive(Clone, Debug, PartialEq)]
pub struct PathFlow {
    /// Link indices in travel order.
    pub links: Vec<u32>,
    /// Flow on the path.
    pub flow: f64,
}

/// The used paths of one OD pair.
#[derive(Clone, Debug, PartialEq)]
pub struct OdPaths {
    /// Origin node id.
    pub origin: u64,
    /// Destination node id.
    pub destination: u64,
    /// Trips of the pair (the path flows sum to it).
    pub demand: f64,
    /// Paths with positive flow (the cheapest one may carry none).
    pub paths: Vec<PathFlow>,
}

/// A user-equilibrium assignment. Vectors are indexed like [`Network::links`].
#[derive(Clone, Debug, PartialEq)]
pub struct Assignment {
    /// Link keys ([`super::network::Link::key`]), to align with other results.
    pub keys: Vec<String>,
    /// Link flows.
    pub flows: Vec<f64>,
    /// Link travel times `t0 * (1 + B (x/cap)^P)`.
    pub times: Vec<f64>,
    /// Link generalized costs (time plus toll and distance terms).
    pub costs: Vec<f64>,
    /// Volume / capacity.
    pub vc: Vec<f64>,
    /// Total system travel time `sum_a x_a t_a(x_a)`.
    pub tstt: f64,
    /// Total generalized cost `sum_a x_a c_a(x_a)` (equals `tstt` without tolls and distance
    /// weight); the numerator of the gap uses it.
    pub total_cost: f64,
    /// Shortest-path total `sum_od d_od * min-cost_od` at the final link costs.
    pub sptt: f64,
    /// Relative gap `(total_cost - sptt) / total_cost` of the reported flows.
    pub relative_gap: f64,
    /// Beckmann objective `sum_a integral_0^{x_a} c_a(w) dw`.
    pub beckmann: f64,
    /// Iterations done.
    pub iterations: usize,
    /// Whether the target gap was reached.
    pub converged: bool,
    /// The gap after each iteration.
    pub history: Vec<GapRecord>,
    /// OD pairs with demand but no path; their trips are not assigned.
    pub unreachable: Vec<OdTrip>,
    /// Trips assigned to the network (all OD pairs with a path).
    pub assigned_trips: f64,
    /// Trips with origin == destination (not put on the network).
    pub intrazonal_trips: f64,
    /// Path flows by OD pair.
    pub od_paths: Vec<OdPaths>,
    /// Wall time of the assignment in seconds.
    pub seconds: f64,
}

/// One link's change between a baseline and a scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkDiff {
    /// Link key.
    pub key: String,
    /// Baseline flow (0 for a link added by the scenario).
    pub base_flow: f64,
    /// Scenario flow (0 for a link the scenario lacks).
    pub flow: f64,
    /// Baseline travel time (`NaN` when the baseline lacks the link).
    pub base_time: f64,
    /// Scenario travel time (`NaN` when the scenario lacks the link).
    pub time: f64,
    /// Baseline volume / capacity (0 when absent).
    pub base_vc: f64,
    /// Scenario volume / capacity (0 when absent).
    pub vc: f64,
}

impl LinkDiff {
    /// Flow change, scenario minus baseline.
    pub fn d_flow(&self) -> f64 {
        self.flow - self.base_flow
    }

    /// Travel-time change, scenario minus baseline (`NaN` when either lacks the link).
    pub fn d_time(&self) -> f64 {
        self.time - self.base_time
    }
}

/// Differences of a scenario from its baseline.
#[derive(Clone, Debug, PartialEq)]
pub struct Diff {
    /// Every link of either result, scenario links first (in scenario order), then the links
    /// only the baseline has.
    pub links: Vec<LinkDiff>,
    /// Change of the total system travel time.
    pub d_tstt: f64,
    /// Change of the total generalized cost.
    pub d_total_cost: f64,
    /// Change of the Beckmann objective.
    pub d_beckmann: f64,
    /// Change of the assigned trips (scaled demand, newly cut-off or reconnected pairs).
    pub d_assigned_trips: f64,
}

impl Assignment {
    /// Index of the link with this key.
    pub fn link(&self, key: &str) -> Option<usize> {
        self.keys.iter().position(|k| k == key)
    }

    /// Total trips of the unreachable OD pairs.
    pub fn unreachable_trips(&self) -> f64 {
        self.unreachable.iter().map(|t| t.trips).sum()
    }

    /// Differences from `baseline`, links matched by key.
    pub fn diff(&self, baseline: &Assignment) -> Diff {
        let base: HashMap<&str, usize> = baseline
            .keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.as_str(), i))
            .collect();
        let mut seen = vec![false; baseline.keys.len()];
        let mut links = Vec::with_capacity(self.keys.len());
        for (a, key) in self.keys.iter().enumerate() {
            let b = base.get(key.as_str()).copied();
            if let Some(b) = b {
                seen[b] = true;
            }
            links.push(LinkDiff {
                key: key.clone(),
                base_flow: b.map_or(0.0, |b| baseline.flows[b]),
                flow: self.flows[a],
                base_time: b.map_or(f64::NAN, |b| baseline.times[b]),
                time: self.times[a],
                base_vc: b.map_or(0.0, |b| baseline.vc[b]),
                vc: self.vc[a],
            });
        }
        for (b, key) in baseline.keys.iter().enumerate() {
            if !seen[b] {
                links.push(LinkDiff {
                    key: key.clone(),
                    base_flow: baseline.flows[b],
                    flow: 0.0,
                    base_time: baseline.times[b],
                    time: f64::NAN,
                    base_vc: baseline.vc[b],
                    vc: 0.0,
                });
            }
        }
        Diff {
            links,
            d_tstt: self.tstt - baseline.tstt,
            d_total_cost: self.total_cost - baseline.total_cost,
            d_beckmann: self.beckmann - baseline.beckmann,
            d_assigned_trips: self.assigned_trips - baseline.assigned_trips,
        }
    }

    /// Travel time (congested link times of this assignment) from every node to each of
    /// `destinations` (node ids).
    pub fn time_skim(&self, net: &Network, destinations: &[u64]) -> Result<Skim> {
        skim(net, &self.times, destinations)
    }
}

/// Least costs from every node to chosen destination nodes.
#[derive(Clone, Debug, PartialEq)]
pub struct Skim {
    /// Node ids, in network order (the rows of each column of `cost`).
    pub node_ids: Vec<u64>,
    /// Destination node ids.
    pub destinations: Vec<u64>,
    /// `cost[k][i]`: least cost from node `node_ids[i]` to `destinations[k]`
    /// (`f64::INFINITY` when there is no path).
    pub cost: Vec<Vec<f64>>,
}

impl Skim {
    /// Least cost from node id `from` to destination id `to` (`None` when `from` is not a node
    /// or `to` not one of the destinations).
    pub fn get(&self, from: u64, to: u64) -> Option<f64> {
        let k = self.destinations.iter().position(|&d| d == to)?;
        let i = self.node_ids.iter().position(|&n| n == from)?;
        Some(self.cost[k][i])
    }
}

/// Least cost with link weights `weights` (one per link, >= 0) from every node to each of
/// `destinations` (node ids), one reverse Dijkstra per destination in parallel. Closed links are
/// skipped; zones that forbid through traffic are not passed through.
pub fn skim(net: &Network, weights: &[f64], destinations: &[u64]) -> Result<Skim> {
    if weights.len() != net.links.len() {
        return Err(ScenarioError::invalid(
            "skim weights",
            format!("{} weights for {} links", weights.len(), net.links.len()),
        ));
    }
    if let Some((a, w)) = weights
        .iter()
        .enumerate()
        .find(|(_, w)| !(w.is_finite() && **w >= 0.0))
    {
        return Err(ScenarioError::invalid(
            format!("skim weight of link {}", net.links[a].key),
            format!("{w} is not a finite non-negative number"),
        ));
    }
    let idx = destinations
        .iter()
        .map(|&d| {
            net.node_index(d).ok_or_else(|| {
                ScenarioError::invalid(
                    format!("skim destination {d}"),
                    "no such node in the network",
                )
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let g = net.graph();
    let cost = idx
        .par_iter()
        .map(|&d| g.tree_to(d, weights).dist)
        .collect();
    Ok(Skim {
        node_ids: net.nodes.iter().map(|n| n.id).collect(),
        destinations: destinations.to_vec(),
        cost,
    })
}
