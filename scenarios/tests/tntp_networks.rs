//! The TNTP networks of the shared data beyond Sioux Falls (Barcelona, Winnipeg), the
//! bush-based assignment (Algorithm B) against their best-known solutions, and the CLI's
//! readers for networks (TNTP with cost factors, CSV polynomial networks) on files made from
//! `../shared/data/traffic`.

use std::path::{Path, PathBuf};

use scenarios::traffic::{assign, tntp, AssignMethod, AssignOptions, Assignment, Network};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/traffic")
}

/// Best-known link volumes from a `_flow.tntp` file, row by row (same order as the network
/// file; the ends are checked).
fn best_flows(net: &Network, path: &Path) -> Vec<f64> {
    let text = std::fs::read_to_string(path).unwrap();
    let rows: Vec<(u64, u64, f64)> = text
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows.len(), net.links.len(), "{}", path.display());
    rows.iter()
        .zip(&net.links)
        .map(|(&(i, j, v), l)| {
            assert_eq!((net.nodes[l.from].id, net.nodes[l.to].id), (i, j));
            v
        })
        .collect()
}

fn rmse(a: &[f64], b: &[f64]) -> f64 {
    (a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>() / a.len() as f64).sqrt()
}

fn bush(gap: f64) -> AssignOptions {
    AssignOptions {
        target_gap: gap,
        max_iterations: 10_000,
        method: AssignMethod::Bush,
        ..AssignOptions::default()
    }
}

fn read(name: &str, stem: &str) -> (Network, scenarios::traffic::Demand) {
    let d = data().join(name);
    (
        tntp::read_net(&d.join(format!("{stem}_net.tntp"))).unwrap(),
        tntp::read_trips(&d.join(format!("{stem}_trips.tntp"))).unwrap(),
    )
}

/// Checks an assignment against the best-known objective and flows; returns the flow RMSE.
fn check_best(net: &Network, r: &Assignment, best_obj: f64, flows: &Path, what: &str) -> f64 {
    assert!(r.converged, "{what}: gap {}", r.relative_gap);
    let rel = (r.beckmann - best_obj).abs() / best_obj;
    assert!(
        rel < 1e-9,
        "{what}: Beckmann {} vs best known {best_obj} (relative {rel:.2e})",
        r.beckmann
    );
    // The Beckmann objective is recomputed independently from the reported flows.
    assert!((net.beckmann(&r.flows) - r.beckmann).abs() <= 1e-12 * r.beckmann);
    // Equilibrium link flows are unique only on links whose cost rises with the flow (B > 0):
    // on constant-cost links (connectors, B = 0) equally cheap routes may share the flow in any
    // way. Compare there.
    let best = best_flows(net, flows);
    let rising: Vec<usize> = (0..net.links.len())
        .filter(|&a| net.links[a].b > 0.0 && net.links[a].power > 0.0)
        .collect();
    let ours: Vec<f64> = rising.iter().map(|&a| r.flows[a]).collect();
    let theirs: Vec<f64> = rising.iter().map(|&a| best[a]).collect();
    let e = rmse(&ours, &theirs);
    let mean = theirs.iter().sum::<f64>() / theirs.len() as f64;
    eprintln!(
        "{what}: gap {:.2e} in {} iterations, {:.2} s; Beckmann {:.6} (best {best_obj}, rel {rel:.2e}); \
         flow RMSE {e:.4} on the {} links with rising cost (mean flow {mean:.1}); all links {:.4}",
        r.relative_gap,
        r.iterations,
        r.seconds,
        r.beckmann,
        rising.len(),
        rmse(&r.flows, &best)
    );
    e
}

#[test]
fn bush_matches_sioux_falls_best_known_and_the_path_method() {
    let (net, trips) = read("siouxfalls", "SiouxFalls");
    let r = assign(&net, &trips, &bush(1e-10)).unwrap();
    let e = check_best(
        &net,
        &r,
        42.313_352_871_074_4e5,
        &data().join("siouxfalls/SiouxFalls_flow.tntp"),
        "Sioux Falls bush",
    );
    assert!(e < 0.01, "flow RMSE {e}");
    // Flow is conserved: every trip is assigned, none is lost in the bushes.
    assert!((r.assigned_trips - 360_600.0).abs() < 1e-6);
    let p = assign(
        &net,
        &trips,
        &AssignOptions {
            target_gap: 1e-10,
            ..AssignOptions::default()
        },
    )
    .unwrap();
    let d = rmse(&r.flows, &p.flows);
    assert!(d < 0.5, "bush and path flows differ by RMSE {d}");
    assert!((r.beckmann - p.beckmann).abs() < 1e-8 * p.beckmann);
    // The gap history falls to the target.
    assert!(r.history.last().unwrap().relative_gap <= 1e-10);
}

#[test]
fn bush_matches_barcelona_best_known() {
    let (net, trips) = read("barcelona", "Barcelona");
    let r = assign(&net, &trips, &bush(1e-8)).unwrap();
    let e = check_best(
        &net,
        &r,
        1_265_654.922_031_76,
        &data().join("barcelona/Barcelona_flow.tntp"),
        "Barcelona bush",
    );
    assert!(e < 0.05, "flow RMSE {e}");
}

#[test]
fn bush_matches_winnipeg_best_known() {
    let (net, trips) = read("winnipeg", "Winnipeg");
    let r = assign(&net, &trips, &bush(1e-8)).unwrap();
    let e = check_best(
        &net,
        &r,
        827_911.494_629_963,
        &data().join("winnipeg/Winnipeg_flow.tntp"),
        "Winnipeg bush",
    );
    assert!(e < 0.05, "flow RMSE {e}");
}

#[test]
fn toll_and_distance_factors_are_read_and_reported_as_declared() {
    let text = std::fs::read_to_string(data().join("siouxfalls/SiouxFalls_net.tntp")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // The original file has no factor tags: None, and the network uses 0.
    let (net, f) =
        tntp::read_net_with_factors(&data().join("siouxfalls/SiouxFalls_net.tntp")).unwrap();
    assert_eq!(f, tntp::DeclaredFactors::default());
    assert_eq!((net.toll_factor, net.distance_factor), (0.0, 0.0));
    // The same network with a distance factor: declared, and the generalized cost grows by
    // factor * length on every link.
    let tagged = text.replacen(
        "<END OF METADATA>",
        "<DISTANCE FACTOR> 0.5\n<END OF METADATA>",
        1,
    );
    let p = tmp.path().join("SiouxFallsD_net.tntp");
    std::fs::write(&p, tagged).unwrap();
    let (net_d, f) = tntp::read_net_with_factors(&p).unwrap();
    assert_eq!(
        f,
        tntp::DeclaredFactors {
            toll: None,
            distance: Some(0.5)
        }
    );
    for a in 0..net.links.len() {
        let want = net.cost(a, 1000.0) + 0.5 * net.links[a].length;
        assert!((net_d.cost(a, 1000.0) - want).abs() < 1e-12);
    }
    // Assigned, the total generalized cost is travel time plus 0.5 * vehicle-length: TSTT
    // stays pure time.
    let trips = tntp::read_trips(&data().join("siouxfalls/SiouxFalls_trips.tntp")).unwrap();
    let r = assign(&net_d, &trips, &bush(1e-8)).unwrap();
    let veh_len: f64 = r
        .flows
        .iter()
        .zip(&net_d.links)
        .map(|(x, l)| x * l.length)
        .sum();
    assert!((r.total_cost - (r.tstt + 0.5 * veh_len)).abs() < 1e-9 * r.total_cost);
    let tt: f64 = r.flows.iter().zip(&r.times).map(|(x, t)| x * t).sum();
    assert!((r.tstt - tt).abs() < 1e-9 * tt);
    // A factor that is not a number is an error naming the file and the line.
    let bad = text.replacen(
        "<END OF METADATA>",
        "<TOLL FACTOR> cheap\n<END OF METADATA>",
        1,
    );
    let p = tmp.path().join("bad_net.tntp");
    std::fs::write(&p, bad).unwrap();
    let e = tntp::read_net(&p).unwrap_err().to_string();
    assert!(
        e.contains("bad_net.tntp") && e.contains("TOLL FACTOR") && e.contains("line"),
        "{e}"
    );
}

#[test]
fn csv_network_reads_as_the_tntp_one() {
    let dir = data().join("siouxfalls");
    let csv = tntp::read_net_csv(&dir.join("SiouxFalls_net.csv")).unwrap();
    let net = tntp::read_net(&dir.join("SiouxFalls_net.tntp")).unwrap();
    assert_eq!(csv.links.len(), 76);
    for (c, t) in csv.links.iter().zip(&net.links) {
        assert_eq!(
            (csv.nodes[c.from].id, csv.nodes[c.to].id),
            (net.nodes[t.from].id, net.nodes[t.to].id)
        );
        // Same cost function at any flow (capacities recovered from a4 within rounding).
        for x in [0.0, 5_000.0, 20_000.0] {
            assert!(
                (c.time(x) - t.time(x)).abs() < 1e-6 * t.time(x),
                "{}: {} vs {}",
                c.key,
                c.time(x),
                t.time(x)
            );
        }
        assert!((c.capacity - t.capacity).abs() < 1e-3 * t.capacity);
    }
    // And assigns to the same equilibrium with the CSV trips.
    let od = tntp::read_od_csv(&dir.join("SiouxFalls_od.csv")).unwrap();
    let r = assign(&csv, &od, &bush(1e-9)).unwrap();
    assert!((r.beckmann - 42.313_352_871_074_4e5).abs() < 1e-6 * r.beckmann);
}

#[test]
fn csv_network_errors_name_the_file_line_and_column() {
    let text = std::fs::read_to_string(data().join("siouxfalls/SiouxFalls_net.csv")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    // Line 4 (the third link) gets a linear term too: not a BPR cost.
    let mut f: Vec<String> = lines[3].split(',').map(String::from).collect();
    f[4] = "0.001".into();
    lines[3] = f.join(",");
    let p = tmp.path().join("two_terms_net.csv");
    std::fs::write(&p, lines.join("\n")).unwrap();
    let e = tntp::read_net_csv(&p).unwrap_err().to_string();
    assert!(
        e.contains("two_terms_net.csv") && e.contains("line 4") && e.contains("more than one"),
        "{e}"
    );
    // A value that is not a number names its column.
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[5] = lines[5].replacen(",", ",x", 2);
    let p = tmp.path().join("nan_net.csv");
    std::fs::write(&p, lines.join("\n")).unwrap();
    let e = tntp::read_net_csv(&p).unwrap_err().to_string();
    assert!(e.contains("nan_net.csv") && e.contains("line 6"), "{e}");
    // A missing column is named.
    let p = tmp.path().join("nocol_net.csv");
    std::fs::write(&p, "LINK,A,B,a0\n0,1,2,6\n").unwrap();
    let e = tntp::read_net_csv(&p).unwrap_err().to_string();
    assert!(e.contains("nocol_net.csv") && e.contains("a1"), "{e}");
}
