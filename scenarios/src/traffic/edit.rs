//! What-if edits on a network and its demand: close or add links, change capacity or
//! free-flow time, scale demand.
//!
//! Edits never renumber links: a closed link stays in [`Network::links`] with
//! [`Link::closed`] set (no flow, skipped by path searches) and an added link is appended, so a
//! scenario's results line up with its baseline's by index for the old links and by key for all.

use std::collections::HashMap;

use twin_core::model::Road;

use super::demand::Demand;
use super::network::{Link, Network};
use super::roads::RoadNetwork;
use crate::error::{Result, ScenarioError};

/// Which link(s) an edit applies to.
#[derive(Clone, Debug, PartialEq)]
pub enum LinkRef {
    /// By index into [`Network::links`].
    Index(usize),
    /// By key ([`Link::key`]).
    Key(String),
    /// Every link from node id `from` to node id `to` (parallel links included).
    Nodes {
        /// Tail node id.
        from: u64,
        /// Head node id.
        to: u64,
    },
}

/// A new link. Its end nodes are created (as through nodes) when the network lacks them.
#[derive(Clone, Debug, PartialEq)]
pub struct NewLink {
    /// Key; `"from-to+"` when `None`.
    pub key: Option<String>,
    /// Tail node id.
    pub from: u64,
    /// Head node id.
    pub to: u64,
    /// Capacity.
    pub capacity: f64,
    /// Length.
    pub length: f64,
    /// Free-flow time.
    pub free_flow_time: f64,
    /// BPR `B`.
    pub b: f64,
    /// BPR power.
    pub power: f64,
    /// Toll.
    pub toll: f64,
}

/// One what-if edit.
#[derive(Clone, Debug, PartialEq)]
pub enum Edit {
    /// Close the link(s): no flow, no path through them.
    CloseLink(LinkRef),
    /// Reopen closed link(s).
    OpenLink(LinkRef),
    /// Add a link.
    AddLink(NewLink),
    /// Set the capacity of the link(s).
    SetCapacity {
        /// Which link(s).
        link: LinkRef,
        /// New capacity (> 0).
        capacity: f64,
    },
    /// Set the free-flow time of the link(s).
    SetFreeFlowTime {
        /// Which link(s).
        link: LinkRef,
        /// New free-flow time (>= 0).
        free_flow_time: f64,
    },
    /// Multiply the free-flow speed of the link(s) by `factor` (the free-flow time is divided
    /// by it): 0.5 halves the speed.
    ScaleSpeed {
        /// Which link(s).
        link: LinkRef,
        /// Speed factor (> 0).
        factor: f64,
    },
    /// Multiply every OD entry by `factor` (>= 0).
    ScaleDemand(f64),
}

impl Network {
    /// Indices of the links `r` refers to; an error when none.
    pub fn resolve(&self, r: &LinkRef) -> Result<Vec<usize>> {
        let found = match r {
            LinkRef::Index(i) if *i < self.links.len() => vec![*i],
            LinkRef::Index(_) => Vec::new(),
            LinkRef::Key(k) => self.link_by_key(k).into_iter().collect(),
            LinkRef::Nodes { from, to } => self.links_between(*from, *to),
        };
        if found.is_empty() {
            return Err(ScenarioError::invalid(
                format!("link reference {r:?}"),
                "no such link in the network",
            ));
        }
        Ok(found)
    }
}

/// Applies `edits` in order to copies of `net` and `demand`. Errors name the edit (1-based)
/// and what is wrong with it; nothing is changed on error.
pub fn apply_edits(net: &Network, demand: &Demand, edits: &[Edit]) -> Result<(Network, Demand)> {
    let mut net = net.clone();
    let mut demand = demand.clone();
    for (k, e) in edits.iter().enumerate() {
        let what = || format!("edit {} ({e:?})", k + 1);
        let wrap = |err: ScenarioError| match err {
            ScenarioError::Invalid { message, .. } => ScenarioError::invalid(what(), message),
            other => other,
        };
        match e {
            Edit::CloseLink(r) => {
                for a in net.resolve(r).map_err(wrap)? {
                    net.links[a].closed = true;
                }
            }
            Edit::OpenLink(r) => {
                for a in net.resolve(r).map_err(wrap)? {
                    net.links[a].closed = false;
                }
            }
            Edit::AddLink(nl) => {
                let key = nl
                    .key
                    .clone()
                    .unwrap_or_else(|| format!("{}-{}+", nl.from, nl.to));
                if net.link_by_key(&key).is_some() {
                    return Err(ScenarioError::invalid(
                        what(),
                        format!("a link with key {key:?} exists"),
                    ));
                }
                let from = net.add_node(nl.from, None, true);
                let to = net.add_node(nl.to, None, true);
                net.add_link(Link {
                    key,
                    from,
                    to,
                    capacity: nl.capacity,
                    length: nl.length,
                    free_flow_time: nl.free_flow_time,
                    b: nl.b,
                    power: nl.power,
                    speed: 0.0,
                    toll: nl.toll,
                    link_type: 0,
                    closed: false,
                })
                .map_err(wrap)?;
            }
            Edit::SetCapacity { link, capacity } => {
                if !(capacity.is_finite() && *capacity > 0.0) {
                    return Err(ScenarioError::invalid(
                        what(),
                        "capacity must be finite and positive",
                    ));
                }
                for a in net.resolve(link).map_err(wrap)? {
                    net.links[a].capacity = *capacity;
                }
            }
            Edit::SetFreeFlowTime {
                link,
                free_flow_time,
            } => {
                if !(free_flow_time.is_finite() && *free_flow_time >= 0.0) {
                    return Err(ScenarioError::invalid(
                        what(),
                        "free-flow time must be finite and non-negative",
                    ));
                }
                for a in net.resolve(link).map_err(wrap)? {
                    net.links[a].free_flow_time = *free_flow_time;
                }
            }
            Edit::ScaleSpeed { link, factor } => {
                if !(factor.is_finite() && *factor > 0.0) {
                    return Err(ScenarioError::invalid(
                        what(),
                        "speed factor must be finite and positive",
                    ));
                }
                for a in net.resolve(link).map_err(wrap)? {
                    net.links[a].free_flow_time /= factor;
                    net.links[a].speed *= factor;
                }
            }
            Edit::ScaleDemand(f) => {
                if !(f.is_finite() && *f >= 0.0) {
                    return Err(ScenarioError::invalid(
                        what(),
                        "demand factor must be finite and non-negative",
                    ));
                }
                demand.scale(*f);
            }
        }
    }
    Ok((net, demand))
}

/// Indices of the links built from roads `pred` accepts (`roads` is the slice the
/// [`RoadNetwork`] was built from).
pub fn road_links(
    rn: &RoadNetwork,
    roads: &[Road],
    mut pred: impl FnMut(&Road) -> bool,
) -> Vec<usize> {
    let mut hit: HashMap<usize, bool> = HashMap::new();
    rn.link_road
        .iter()
        .enumerate()
        .filter(|&(_, &r)| *hit.entry(r).or_insert_with(|| pred(&roads[r])))
        .map(|(a, _)| a)
        .collect()
}

/// The edits that close every link made from a road flooded deeper than `threshold_m`:
/// `depths` holds (road id, maximum water depth in metres along the road), as the flood engine
/// produces them. Roads not in the network (footways, unknown ids) close nothing; the second
/// value lists the ids of the flooded roads that closed at least one link.
pub fn close_flooded_roads(
    rn: &RoadNetwork,
    roads: &[Road],
    depths: &[(String, f64)],
    threshold_m: f64,
) -> (Vec<Edit>, Vec<String>) {
    let flooded: HashMap<&str, f64> = depths
        .iter()
        .filter(|(_, d)| d.is_finite() && *d > threshold_m)
        .map(|(id, d)| (id.as_str(), *d))
        .collect();
    let links = road_links(rn, roads, |r| flooded.contains_key(r.id.as_str()));
    let mut closed: Vec<String> = links
        .iter()
        .map(|&a| roads[rn.link_road[a]].id.clone())
        .collect();
    closed.sort();
    closed.dedup();
    (
        links
            .into_iter()
            .map(|a| Edit::CloseLink(LinkRef::Index(a)))
            .collect(),
        closed,
    )
}
