//! Demand from building floor area with a gravity model.
//!
//! * **Zones**: square cells of [`GravityParams::cell_size_m`] over the buildings. A building
//!   belongs to the cell of its footprint centroid. A zone's centroid node is the network node
//!   of the largest strongly connected component nearest to the floor-area-weighted centroid of
//!   its buildings (so every zone reaches every other on the unedited network). Cells whose
//!   nearest such node is farther than [`GravityParams::max_snap_m`] are dropped (reported).
//! * **Floor area** of a building: footprint area (m²) × storeys, storeys = `levels` when tagged,
//!   else `max(1, round(height / storey_height_m))`.
//! * **Productions and attractions**: both proportional to the zone's floor area
//!   (`P_i = A_i = floor area`; usage is too sparsely tagged in OSM to split homes from jobs).
//! * **Deterrence**: `f(t) = exp(-beta * t)` with `t` the free-flow travel time in minutes
//!   between the zone nodes on the unedited network; `f = 0` for intrazonal pairs (they never
//!   load the network) and for pairs without a path.
//! * **Balancing**: doubly constrained (Furness: `T_ij = a_i P_i b_j A_j f(t_ij)`, iterated until
//!   row and column sums match to [`GravityParams::balance_tolerance`]) or production
//!   constrained (`T_ij = P_i A_j f_ij / sum_k A_k f_ik`). With intrazonal trips excluded the
//!   doubly-constrained problem has a solution only when no zone holds half the floor area or
//!   more; otherwise the balancing stops at [`GravityParams::balance_iterations`] and
//!   [`GravityDemand::balance_error`] says how far the margins are off.
//! * **Total**: the matrix is scaled to [`GravityParams::total_trips`] (vehicle trips in the
//!   modelled period; the default is a stated peak-hour figure, not a calibrated one).

use std::collections::HashMap;

use geo::{Area, Centroid};
use twin_core::model::Building;

use super::demand::{Demand, OdTrip};
use super::network::Network;
use super::result::skim;
use super::roads::ComponentReport;
use crate::error::{Result, ScenarioError};

/// How the gravity model is balanced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Constraint {
    /// Row sums equal productions and column sums equal attractions (Furness balancing).
    Doubly,
    /// Row sums equal productions; attractions only weight destinations.
    Production,
}

/// Parameters of the gravity model (all stated; see the module documentation).
#[derive(Clone, Debug, PartialEq)]
pub struct GravityParams {
    /// Zone cell size in metres (default 1000).
    pub cell_size_m: f64,
    /// Deterrence parameter per minute of free-flow time in `exp(-beta t)` (default 0.1/min: a
    /// trip 10 minutes longer is e times less likely).
    pub beta: f64,
    /// Total vehicle trips of the period (default 20,000: an assumed evening peak hour of Huế's
    /// car and car-equivalent traffic, not calibrated).
    pub total_trips: f64,
    /// Storey height used when `levels` is not tagged (default 3.2 m).
    pub storey_height_m: f64,
    /// Balancing (default [`Constraint::Doubly`]).
    pub constraint: Constraint,
    /// Furness stops when every row and column sum is within this relative error (default 1e-6).
    pub balance_tolerance: f64,
    /// Furness stops after this many rounds (default 200).
    pub balance_iterations: usize,
    /// Zones whose floor-area centroid is farther than this from the network are dropped
    /// (default 500 m).
    pub max_snap_m: f64,
}

impl Default for GravityParams {
    fn default() -> Self {
        GravityParams {
            cell_size_m: 1000.0,
            beta: 0.1,
            total_trips: 20_000.0,
            storey_height_m: 3.2,
            constraint: Constraint::Doubly,
            balance_tolerance: 1e-6,
            balance_iterations: 200,
            max_snap_m: 500.0,
        }
    }
}

/// One zone of the gravity model.
#[derive(Clone, Debug, PartialEq)]
pub struct Zone {
    /// Grid cell (column, row) of [`GravityParams::cell_size_m`].
    pub cell: (i64, i64),
    /// Centroid node id in the network.
    pub node: u64,
    /// Floor area in m² (the production and attraction weight).
    pub floor_area: f64,
    /// Buildings in the zone.
    pub buildings: usize,
    /// Trips produced (row sum of the final matrix).
    pub productions: f64,
    /// Trips attracted (column sum of the final matrix).
    pub attractions: f64,
}

/// The outcome of [`gravity_demand`].
#[derive(Clone, Debug, PartialEq)]
pub struct GravityDemand {
    /// The OD matrix between zone nodes (only positive entries).
    pub demand: Demand,
    /// The zones.
    pub zones: Vec<Zone>,
    /// Total floor area of the buildings used (m²).
    pub floor_area: f64,
    /// Buildings left out (no area, or their cell too far from the network).
    pub buildings_dropped: usize,
    /// Furness rounds done (0 for production-constrained).
    pub balance_rounds: usize,
    /// Largest relative row/column error left by the balancing.
    pub balance_error: f64,
}

/// Floor area of a building: footprint area × storeys (levels, or height / storey height).
pub fn floor_area(b: &Building, storey_height_m: f64) -> f64 {
    let storeys = match b.levels {
        Some(l) if l > 0 => l as f64,
        _ => (b.height / storey_height_m).round().max(1.0),
    };
    b.footprint.unsigned_area() * storeys
}

/// Builds a gravity OD matrix from the buildings' floor area on `net` (free-flow times).
pub fn gravity_demand(
    net: &Network,
    buildings: &[Building],
    p: &GravityParams,
) -> Result<GravityDemand> {
    let bad = |field: &str, v: f64| {
        ScenarioError::invalid(
            format!("gravity parameter {field}"),
            format!("{v} must be finite and positive"),
        )
    };
    for (f, v) in [
        ("cell_size_m", p.cell_size_m),
        ("total_trips", p.total_trips),
        ("storey_height_m", p.storey_height_m),
        ("balance_tolerance", p.balance_tolerance),
        ("max_snap_m", p.max_snap_m),
    ] {
        if !(v.is_finite() && v > 0.0) {
            return Err(bad(f, v));
        }
    }
    if !(p.beta.is_finite() && p.beta >= 0.0) {
        return Err(ScenarioError::invalid(
            "gravity parameter beta",
            format!("{} must be finite and non-negative", p.beta),
        ));
    }
    // Floor area and its weighted centroid per cell.
    let mut cells: HashMap<(i64, i64), [f64; 4]> = HashMap::new();
    let mut dropped = 0usize;
    for b in buildings {
        let a = floor_area(b, p.storey_height_m);
        let Some(c) = b.footprint.centroid() else {
            dropped += 1;
            continue;
        };
        if !(a.is_finite() && a > 0.0 && c.x().is_finite() && c.y().is_finite()) {
            dropped += 1;
            continue;
        }
        let key = (
            (c.x() / p.cell_size_m).floor() as i64,
            (c.y() / p.cell_size_m).floor() as i64,
        );
        let e = cells.entry(key).or_insert([0.0; 4]);
        e[0] += a;
        e[1] += a * c.x();
        e[2] += a * c.y();
        e[3] += 1.0;
    }
    // Candidate centroid nodes: the largest strongly connected component.
    let comp = ComponentReport::of(net);
    let candidates: Vec<(usize, [f64; 2])> = net
        .nodes
        .iter()
        .enumerate()
        .filter(|(i, n)| comp.strong[*i] == 0 && n.through)
        .filter_map(|(i, n)| n.xy.map(|xy| (i, xy)))
        .collect();
    if candidates.is_empty() {
        return Err(ScenarioError::invalid(
            "gravity demand",
            "the network has no node with a position",
        ));
    }
    let tree = rstar::RTree::bulk_load(
        candidates
            .iter()
            .map(|&(i, xy)| rstar::primitives::GeomWithData::new(xy, i))
            .collect(),
    );
    let mut keys: Vec<(i64, i64)> = cells.keys().copied().collect();
    keys.sort();
    let mut zones: Vec<Zone> = Vec::new();
    let mut zone_node: Vec<usize> = Vec::new();
    let mut total_area = 0.0;
    for key in keys {
        let e = cells[&key];
        let c = [e[1] / e[0], e[2] / e[0]];
        let near = tree.nearest_neighbor(c).expect("non-empty tree");
        let xy = near.geom();
        if (xy[0] - c[0]).hypot(xy[1] - c[1]) > p.max_snap_m {
            dropped += e[3] as usize;
            continue;
        }
        let node = near.data;
        // Two cells snapping to the same node become one zone.
        if let Some(z) = zone_node.iter().position(|&n| n == node) {
            zones[z].floor_area += e[0];
            zones[z].buildings += e[3] as usize;
        } else {
            zone_node.push(node);
            zones.push(Zone {
                cell: key,
                node: net.nodes[node].id,
                floor_area: e[0],
                buildings: e[3] as usize,
                productions: 0.0,
                attractions: 0.0,
            });
        }
        total_area += e[0];
    }
    let n = zones.len();
    if n < 2 {
        return Err(ScenarioError::invalid(
            "gravity demand",
            format!("{n} zone(s) with floor area near the network; at least 2 are needed"),
        ));
    }
    // Free-flow times from every zone node to every zone node (reverse trees per destination).
    let t0: Vec<f64> = net.links.iter().map(|l| l.free_flow_time).collect();
    let ids: Vec<u64> = zones.iter().map(|z| z.node).collect();
    let sk = skim(net, &t0, &ids)?;
    let mut f = vec![0.0; n * n];
    for (j, col) in sk.cost.iter().enumerate() {
        for i in 0..n {
            let t = col[zone_node[i]];
            if i != j && t.is_finite() {
                f[i * n + j] = (-p.beta * t).exp();
            }
        }
    }
    let w: Vec<f64> = zones.iter().map(|z| z.floor_area / total_area).collect();
    let mut t = vec![0.0; n * n];
    let (mut rounds, mut err) = (0usize, 0.0f64);
    match p.constraint {
        Constraint::Production => {
            for i in 0..n {
                let s: f64 = (0..n).map(|j| w[j] * f[i * n + j]).sum();
                if s > 0.0 {
                    for j in 0..n {
                        t[i * n + j] = w[i] * w[j] * f[i * n + j] / s;
                    }
                }
            }
        }
        Constraint::Doubly => {
            let (mut a, mut b) = (vec![1.0; n], vec![1.0; n]);
            loop {
                for i in 0..n {
                    let s: f64 = (0..n).map(|j| b[j] * w[j] * f[i * n + j]).sum();
                    a[i] = if s > 0.0 { 1.0 / s } else { 0.0 };
                }
                for j in 0..n {
                    let s: f64 = (0..n).map(|i| a[i] * w[i] * f[i * n + j]).sum();
                    b[j] = if s > 0.0 { 1.0 / s } else { 0.0 };
                }
                rounds += 1;
                // Column sums are exact after the b update; check the rows.
                err = (0..n)
                    .map(|i| {
                        let s: f64 = (0..n).map(|j| b[j] * w[j] * f[i * n + j]).sum();
                        (a[i] * s - 1.0).abs()
                    })
                    .fold(0.0, f64::max);
                if err <= p.balance_tolerance || rounds >= p.balance_iterations {
                    break;
                }
            }
            for i in 0..n {
                for j in 0..n {
                    t[i * n + j] = a[i] * w[i] * b[j] * w[j] * f[i * n + j];
                }
            }
        }
    }
    let sum: f64 = t.iter().sum();
    if sum <= 0.0 {
        return Err(ScenarioError::invalid(
            "gravity demand",
            "no zone pair has a path (all deterrences are 0)",
        ));
    }
    let scale = p.total_trips / sum;
    let mut trips = Vec::new();
    for i in 0..n {
        for j in 0..n {
            let v = t[i * n + j] * scale;
            if v > 0.0 {
                zones[i].productions += v;
                zones[j].attractions += v;
                trips.push(OdTrip {
                    origin: zones[i].node,
                    destination: zones[j].node,
                    trips: v,
                });
            }
        }
    }
    Ok(GravityDemand {
        demand: Demand {
            trips,
            declared_total: Some(p.total_trips),
        },
        zones,
        floor_area: total_area,
        buildings_dropped: dropped,
        balance_rounds: rounds,
        balance_error: err,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traffic::network::Link;
    use geo_types::{polygon, MultiPolygon};
    use twin_core::model::HeightSource;

    fn building(x: f64, y: f64, side: f64, levels: Option<u32>, height: f64) -> Building {
        Building {
            id: format!("b{x}"),
            footprint: MultiPolygon(vec![polygon![
                (x: x, y: y),
                (x: x + side, y: y),
                (x: x + side, y: y + side),
                (x: x, y: y + side),
            ]]),
            height,
            base_height: 0.0,
            levels,
            usage: None,
            name: None,
            source_id: String::new(),
            height_source: HeightSource::Synthetic,
            solid: None,
            attributes: Default::default(),
        }
    }

    /// Three nodes on a line, 0 -- 1 -- 2, 2 minutes per link, both ways.
    fn line() -> Network {
        let mut net = Network::new(0.0, 0.0);
        for (i, x) in [50.0, 1050.0, 2050.0].into_iter().enumerate() {
            net.add_node(i as u64 + 1, Some([x, 50.0]), true);
        }
        for (f, t) in [(0, 1), (1, 0), (1, 2), (2, 1)] {
            net.add_link(Link {
                key: format!("{f}-{t}"),
                from: f,
                to: t,
                capacity: 1000.0,
                length: 1000.0,
                free_flow_time: 2.0,
                b: 0.15,
                power: 4.0,
                speed: 30.0,
                toll: 0.0,
                link_type: 0,
                closed: false,
            })
            .unwrap();
        }
        net
    }

    #[test]
    fn floor_area_from_levels_or_height() {
        assert_eq!(
            floor_area(&building(0.0, 0.0, 10.0, Some(3), 0.0), 3.2),
            300.0
        );
        // 8 m / 3.2 m = 2.5 storeys, rounded to 3 (round half away from zero).
        assert_eq!(floor_area(&building(0.0, 0.0, 10.0, None, 8.0), 3.2), 300.0);
        assert_eq!(floor_area(&building(0.0, 0.0, 10.0, None, 1.0), 3.2), 100.0);
    }

    #[test]
    fn production_constrained_matches_the_formula() {
        let net = line();
        // Floor areas 100, 200, 300 m² in the cells of nodes 1, 2, 3.
        let bs = vec![
            building(0.0, 0.0, 10.0, Some(1), 0.0),
            building(1000.0, 0.0, 10.0, Some(2), 0.0),
            building(2000.0, 0.0, 10.0, Some(3), 0.0),
        ];
        let p = GravityParams {
            constraint: Constraint::Production,
            total_trips: 600.0,
            beta: 0.1,
            ..GravityParams::default()
        };
        let g = gravity_demand(&net, &bs, &p).unwrap();
        assert_eq!(g.zones.len(), 3);
        let w = [100.0, 200.0, 300.0];
        let t: [[f64; 3]; 3] = [[0.0, 2.0, 4.0], [2.0, 0.0, 2.0], [4.0, 2.0, 0.0]];
        let f = |i: usize, j: usize| if i == j { 0.0 } else { (-0.1 * t[i][j]).exp() };
        // T_ij = P_i A_j f_ij / sum_k A_k f_ik; P = A = w; then scaled to 600 in total (here
        // the row sums are the w, which total 600 already).
        for i in 0..3 {
            let s: f64 = (0..3).map(|k| w[k] * f(i, k)).sum();
            for j in 0..3 {
                let want = w[i] * w[j] * f(i, j) / s;
                let got: f64 = g
                    .demand
                    .trips
                    .iter()
                    .filter(|o| o.origin == i as u64 + 1 && o.destination == j as u64 + 1)
                    .map(|o| o.trips)
                    .sum();
                assert!((got - want).abs() < 1e-9, "{i}->{j}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn doubly_constrained_meets_both_margins() {
        let net = line();
        let bs = vec![
            building(0.0, 0.0, 10.0, Some(1), 0.0),
            building(1000.0, 0.0, 10.0, Some(2), 0.0),
            building(2000.0, 0.0, 10.0, Some(2), 0.0),
        ];
        let g = gravity_demand(&net, &bs, &GravityParams::default()).unwrap();
        let total = GravityParams::default().total_trips;
        assert!((g.demand.total() - total).abs() < 1e-6);
        assert!(g.balance_error <= 1e-6);
        for z in &g.zones {
            let share = total * z.floor_area / 500.0;
            assert!((z.productions - share).abs() <= 1e-5 * share, "{z:?}");
            assert!((z.attractions - share).abs() <= 1e-5 * share, "{z:?}");
        }
        // A zone of one building only has no partner: an error, not an empty matrix.
        assert!(gravity_demand(&net, &bs[..1], &GravityParams::default()).is_err());
    }
}
