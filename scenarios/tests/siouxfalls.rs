//! The traffic engine on the Sioux Falls network (shared/data/traffic/siouxfalls, TNTP files of
//! github.com/bstabler/TransportationNetworks). Reference numbers come from a second route:
//! the best-known flows of `SiouxFalls_flow.tntp` (parsed here by hand), the README's optimal
//! objective, the trips file's `<TOTAL OD FLOW>`, and plain re-parsing of the TNTP text.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use scenarios::traffic::{
    apply_edits, assign, skim, tntp, AssignOptions, Assignment, Demand, Edit, LinkRef, Network,
    NewLink,
};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/traffic/siouxfalls")
}

fn load() -> (Network, Demand) {
    let net = tntp::read_net(&dir().join("SiouxFalls_net.tntp")).expect("net");
    let trips = tntp::read_trips(&dir().join("SiouxFalls_trips.tntp")).expect("trips");
    (net, trips)
}

/// Best-known flows: (from, to) -> (volume, cost), from `SiouxFalls_flow.tntp` by plain parsing.
fn best_known() -> HashMap<(u64, u64), (f64, f64)> {
    let text = std::fs::read_to_string(dir().join("SiouxFalls_flow.tntp")).unwrap();
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                (f[0].parse().unwrap(), f[1].parse().unwrap()),
                (f[2].parse().unwrap(), f[3].parse().unwrap()),
            )
        })
        .collect()
}

fn ends(net: &Network, a: usize) -> (u64, u64) {
    let l = &net.links[a];
    (net.nodes[l.from].id, net.nodes[l.to].id)
}

fn baseline(net: &Network, trips: &Demand) -> Assignment {
    assign(net, trips, &AssignOptions::default()).expect("assign")
}

/// Independent count of the trips: the file's declared total and a plain sum of `d : f;` entries.
fn plain_trip_total() -> f64 {
    let text = std::fs::read_to_string(dir().join("SiouxFalls_trips.tntp")).unwrap();
    text.lines()
        .filter(|l| l.contains(':'))
        .flat_map(|l| l.split(';'))
        .filter_map(|e| e.split_once(':'))
        .map(|(_, f)| f.trim().parse::<f64>().unwrap())
        .sum()
}

#[test]
fn reads_the_files_as_their_headers_say() {
    let (net, trips) = load();
    // README: Zones 24, Nodes 24, Links 76, Trips 360,600.
    assert_eq!(net.zones, 24);
    assert_eq!(net.nodes.len(), 24);
    assert_eq!(net.links.len(), 76);
    assert_eq!(trips.declared_total, Some(360_600.0));
    assert!((trips.total() - 360_600.0).abs() < 1e-9);
    assert!((plain_trip_total() - trips.total()).abs() < 1e-9);
    // 24 * 24 entries minus the zeros.
    let text = std::fs::read_to_string(dir().join("SiouxFalls_trips.tntp")).unwrap();
    let nonzero = text
        .lines()
        .flat_map(|l| l.split(';'))
        .filter_map(|e| e.split_once(':'))
        .filter(|(_, f)| f.trim().parse::<f64>().unwrap() > 0.0)
        .count();
    assert_eq!(trips.trips.len(), nonzero);
    // The CSV copy of the OD matrix (header O,D,Ton) is the same matrix.
    let csv = tntp::read_od_csv(&dir().join("SiouxFalls_od.csv")).unwrap();
    let key = |d: &Demand| {
        let mut v: Vec<(u64, u64, u64)> = d
            .trips
            .iter()
            .map(|t| (t.origin, t.destination, t.trips.to_bits()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(key(&csv), key(&trips));
    // Link 1 -> 2 of the file: capacity 25900.20064, free-flow time 6, B 0.15, power 4.
    let a = net.links_between(1, 2)[0];
    let l = &net.links[a];
    assert_eq!(
        (l.capacity, l.free_flow_time, l.b, l.power),
        (25900.20064, 6.0, 0.15, 4.0)
    );
}

#[test]
fn equilibrium_matches_the_best_known_solution() {
    let (net, trips) = load();
    let best = best_known();
    assert_eq!(best.len(), 76);
    // Beckmann objective of the best-known flows, with the network's BPR parameters.
    let mut best_flows = vec![0.0; net.links.len()];
    for (a, x) in best_flows.iter_mut().enumerate() {
        *x = best[&ends(&net, a)].0;
    }
    let best_obj: f64 = net
        .links
        .iter()
        .zip(&best_flows)
        .map(|(l, &x)| {
            l.free_flow_time
                * (x + l.b * x.powf(l.power + 1.0) / ((l.power + 1.0) * l.capacity.powf(l.power)))
        })
        .sum();
    // The README states the optimum as 42.31335287107440 (in units of 1e5).
    assert!(
        (best_obj / 1e5 - 42.313_352_871_074_4).abs() < 1e-9,
        "{best_obj}"
    );

    let r = baseline(&net, &trips);
    assert!(r.converged, "gap {}", r.relative_gap);
    assert!(r.relative_gap <= 1e-8, "gap {}", r.relative_gap);
    // The reported gap is the definition, recomputed here from the parts.
    assert!(((r.total_cost - r.sptt) / r.total_cost - r.relative_gap).abs() < 1e-12);
    let rel = (r.beckmann - best_obj).abs() / best_obj;
    assert!(
        rel < 1e-6,
        "Beckmann {} vs {} (rel {rel:e})",
        r.beckmann,
        best_obj
    );
    // Beckmann and TSTT recomputed here from the flows.
    let tstt: f64 = (0..76)
        .map(|a| r.flows[a] * net.links[a].time(r.flows[a]))
        .sum();
    assert!((tstt - r.tstt).abs() < 1e-9 * tstt);
    assert!((net.beckmann(&r.flows) - r.beckmann).abs() < 1e-9 * r.beckmann);

    // Every link within 0.5% of the best-known flow (absolute floor 1 vehicle, for links
    // carrying almost nothing; Sioux Falls has none below 4,400), times within 0.1%.
    for a in 0..76 {
        let (x, c) = best[&ends(&net, a)];
        let tol = (0.005 * x).max(1.0);
        assert!(
            (r.flows[a] - x).abs() <= tol,
            "link {:?}: {} vs best-known {}",
            ends(&net, a),
            r.flows[a],
            x
        );
        assert!((r.times[a] - c).abs() <= 1e-3 * c);
        assert!((r.vc[a] - r.flows[a] / net.links[a].capacity).abs() < 1e-12);
    }
}

#[test]
fn flow_is_conserved_and_all_demand_assigned() {
    let (net, trips) = load();
    let r = baseline(&net, &trips);
    assert!(r.unreachable.is_empty());
    assert_eq!(r.intrazonal_trips, 0.0);
    // Path flows of each OD pair add up to its demand; the pairs add up to 360,600.
    let mut out_of_origins = 0.0;
    for od in &r.od_paths {
        let s: f64 = od.paths.iter().map(|p| p.flow).sum();
        assert!((s - od.demand).abs() < 1e-6 * od.demand.max(1.0));
        out_of_origins += s;
        // User equilibrium: every used path costs (nearly) the least.
        let costs: Vec<f64> = od
            .paths
            .iter()
            .map(|p| p.links.iter().map(|&a| r.costs[a as usize]).sum())
            .collect();
        let min = costs.iter().cloned().fold(f64::INFINITY, f64::min);
        for (p, c) in od.paths.iter().zip(&costs) {
            if p.flow > 1e-6 {
                assert!(
                    c - min <= 1e-4 * min,
                    "{}->{}: {c} vs {min}",
                    od.origin,
                    od.destination
                );
            }
        }
    }
    assert!((out_of_origins - 360_600.0).abs() < 1e-6);
    assert!((r.assigned_trips - 360_600.0).abs() < 1e-6);
    // Conservation at every node: outflow - inflow = trips produced - trips attracted.
    let mut net_out = [0.0; 24];
    for t in &trips.trips {
        net_out[(t.origin - 1) as usize] += t.trips;
        net_out[(t.destination - 1) as usize] -= t.trips;
    }
    let mut link_out = [0.0; 24];
    for (a, l) in net.links.iter().enumerate() {
        link_out[l.from] += r.flows[a];
        link_out[l.to] -= r.flows[a];
    }
    for n in 0..24 {
        assert!((link_out[n] - net_out[n]).abs() < 1e-6, "node {}", n + 1);
    }
}

#[test]
fn a_cut_off_zone_is_reported_not_dropped() {
    let (net, trips) = load();
    // Close every link into node 1 (1 <- 2, 1 <- 3): nothing can reach zone 1.
    let into_1: Vec<usize> = (0..net.links.len())
        .filter(|&a| ends(&net, a).1 == 1)
        .collect();
    assert_eq!(into_1.len(), 2);
    let edits: Vec<Edit> = into_1
        .iter()
        .map(|&a| Edit::CloseLink(LinkRef::Index(a)))
        .collect();
    let (cut, trips2) = apply_edits(&net, &trips, &edits).unwrap();
    let r = baseline(&cut, &trips2);
    let mut expected: Vec<(u64, f64)> = trips
        .trips
        .iter()
        .filter(|t| t.destination == 1 && t.origin != 1)
        .map(|t| (t.origin, t.trips))
        .collect();
    expected.sort_by_key(|e| e.0);
    let mut got: Vec<(u64, f64)> = r
        .unreachable
        .iter()
        .inspect(|t| assert_eq!(t.destination, 1))
        .map(|t| (t.origin, t.trips))
        .collect();
    got.sort_by_key(|e| e.0);
    assert_eq!(got, expected);
    let lost: f64 = expected.iter().map(|e| e.1).sum();
    assert!(lost > 0.0);
    assert!((r.unreachable_trips() - lost).abs() < 1e-9);
    assert!((r.assigned_trips + lost - 360_600.0).abs() < 1e-6);
    assert!(r.relative_gap <= 1e-8);
    for &a in &into_1 {
        assert_eq!(r.flows[a], 0.0);
    }
}

#[test]
fn what_if_edits_and_diffs() {
    let (net, trips) = load();
    let base = baseline(&net, &trips);
    // Closing 10 <-> 16 shrinks the feasible set: the Beckmann minimum cannot fall.
    let (closed, t2) = apply_edits(
        &net,
        &trips,
        &[
            Edit::CloseLink(LinkRef::Nodes { from: 10, to: 16 }),
            Edit::CloseLink(LinkRef::Key("16-10".into())),
        ],
    )
    .unwrap();
    let r = baseline(&closed, &t2);
    assert!(r.relative_gap <= 1e-8);
    assert!(r.beckmann >= base.beckmann * (1.0 - 1e-9));
    let d = r.diff(&base);
    assert_eq!(d.links.len(), 76);
    let l1016 = d.links.iter().find(|l| l.key == "10-16").unwrap();
    assert_eq!(l1016.flow, 0.0);
    assert!((l1016.d_flow() + base.flows[base.link("10-16").unwrap()]).abs() < 1e-9);
    assert!((d.d_tstt - (r.tstt - base.tstt)).abs() < 1e-9 * base.tstt);

    // Adding a parallel copy of a busy link widens the feasible set: Beckmann cannot rise.
    let a = net.links_between(10, 16)[0];
    let l = net.links[a].clone();
    let (added, t3) = apply_edits(
        &net,
        &trips,
        &[Edit::AddLink(NewLink {
            key: None,
            from: 10,
            to: 16,
            capacity: l.capacity,
            length: l.length,
            free_flow_time: l.free_flow_time,
            b: l.b,
            power: l.power,
            toll: 0.0,
        })],
    )
    .unwrap();
    let r = baseline(&added, &t3);
    assert!(r.beckmann <= base.beckmann * (1.0 + 1e-9));
    // Two identical parallel links share the flow equally.
    let b = r.link("10-16+").unwrap();
    assert!((r.flows[a] - r.flows[b]).abs() < 1e-3 * r.flows[a]);
    assert_eq!(r.diff(&base).links.len(), 77);

    // Doubling capacity of one link equals halving its B here (B (x/c)^4: 2^-4 = 1/16 of B).
    let (cap, t4) = apply_edits(
        &net,
        &trips,
        &[
            Edit::SetCapacity {
                link: LinkRef::Index(a),
                capacity: 2.0 * l.capacity,
            },
            Edit::ScaleSpeed {
                link: LinkRef::Index(a),
                factor: 2.0,
            },
        ],
    )
    .unwrap();
    assert_eq!(cap.links[a].free_flow_time, l.free_flow_time / 2.0);
    let r = baseline(&cap, &t4);
    assert!(r.flows[a] > base.flows[a]);

    // Demand scaled by 1.5: 1.5 times the trips assigned.
    let (n5, t5) = apply_edits(&net, &trips, &[Edit::ScaleDemand(1.5)]).unwrap();
    let r = baseline(&n5, &t5);
    assert!((r.assigned_trips - 1.5 * 360_600.0).abs() < 1e-6);
    assert!(r.diff(&base).d_tstt > 0.0);

    // Bad edits name themselves.
    let e = apply_edits(
        &net,
        &trips,
        &[
            Edit::ScaleDemand(1.0),
            Edit::CloseLink(LinkRef::Nodes { from: 1, to: 24 }),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("edit 2"), "{e}");
}

#[test]
fn skims_agree_with_equilibrium_path_costs() {
    let (net, trips) = load();
    let r = baseline(&net, &trips);
    let dests = [10u64, 20];
    let s = r.time_skim(&net, &dests).unwrap();
    for od in r.od_paths.iter().filter(|o| dests.contains(&o.destination)) {
        let min = od
            .paths
            .iter()
            .map(|p| p.links.iter().map(|&a| r.times[a as usize]).sum::<f64>())
            .fold(f64::INFINITY, f64::min);
        let k = s.get(od.origin, od.destination).unwrap();
        assert!(
            k <= min + 1e-9 && k >= min * (1.0 - 1e-6),
            "{} -> {}: {k} vs {min}",
            od.origin,
            od.destination
        );
    }
    assert_eq!(s.get(10, 10), Some(0.0));
    // Free-flow skim equals a forward Dijkstra.
    let t0: Vec<f64> = net.links.iter().map(|l| l.free_flow_time).collect();
    let s0 = skim(&net, &t0, &[7]).unwrap();
    let g = net.graph();
    for o in 1..=24u64 {
        let tree = g.tree_from(net.node_index(o).unwrap(), &t0);
        assert_eq!(s0.get(o, 7).unwrap(), tree.dist[net.node_index(7).unwrap()]);
    }
    assert!(skim(&net, &t0, &[99]).is_err());
}

#[test]
fn parse_errors_name_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(dir().join("SiouxFalls_net.tntp")).unwrap();
    // Break the row of link 3 -> 12: a letter in its capacity.
    let (idx, _) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.split_whitespace().take(2).collect::<Vec<_>>() == ["3", "12"])
        .unwrap();
    let broken: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == idx {
                l.replace("23403.47319", "23x03.4")
            } else {
                l.to_string()
            }
        })
        .collect();
    let p = tmp.path().join("broken_net.tntp");
    std::fs::write(&p, broken.join("\n")).unwrap();
    let e = tntp::read_net(&p).unwrap_err().to_string();
    assert!(e.contains("broken_net.tntp"), "{e}");
    assert!(e.contains(&format!("line {}", idx + 1)), "{e}");

    // A link row without its ';'.
    let p = tmp.path().join("nosemi_net.tntp");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[idx] = lines[idx].replace(';', "");
    std::fs::write(&p, lines.join("\n")).unwrap();
    let e = tntp::read_net(&p).unwrap_err().to_string();
    assert!(
        e.contains("nosemi_net.tntp") && e.contains(&format!("line {}", idx + 1)),
        "{e}"
    );

    // A trips entry with a bad flow.
    let trips = std::fs::read_to_string(dir().join("SiouxFalls_trips.tntp")).unwrap();
    let tl: Vec<&str> = trips.lines().collect();
    let k = tl.iter().position(|l| l.contains("1300.0")).unwrap();
    let mut t2: Vec<String> = tl.iter().map(|s| s.to_string()).collect();
    t2[k] = t2[k].replace("1300.0", "13o0.0");
    let p = tmp.path().join("bad_trips.tntp");
    std::fs::write(&p, t2.join("\n")).unwrap();
    let e = tntp::read_trips(&p).unwrap_err().to_string();
    assert!(
        e.contains("bad_trips.tntp") && e.contains(&format!("line {}", k + 1)),
        "{e}"
    );

    // A missing file names the file.
    let e = tntp::read_net(&tmp.path().join("none_net.tntp"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("none_net.tntp"), "{e}");
}

fn free_flow_all_pairs(net: &Network) -> Vec<Vec<f64>> {
    let g = net.graph();
    let t0: Vec<f64> = net.links.iter().map(|l| l.free_flow_time).collect();
    (0..net.nodes.len())
        .map(|o| g.tree_from(o, &t0).dist)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn closing_a_link_never_shortens_a_free_flow_path(picks in proptest::collection::vec(0usize..76, 1..4)) {
        let (net, trips) = load();
        let before = free_flow_all_pairs(&net);
        let edits: Vec<Edit> = picks.iter().map(|&a| Edit::CloseLink(LinkRef::Index(a))).collect();
        let (closed, _) = apply_edits(&net, &trips, &edits).unwrap();
        let after = free_flow_all_pairs(&closed);
        for o in 0..24 {
            for d in 0..24 {
                prop_assert!(after[o][d] >= before[o][d], "{} -> {}", o + 1, d + 1);
            }
        }
    }
}
