//! Traffic scenarios on Huế: the real OSM roads and buildings (`shared/data/hue/hue.osm.pbf`)
//! and the sample twin (`data/hue`, OpenStreetMap roads), baseline vs the Trường Tiền bridge closed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use scenarios::traffic::close_flooded_roads;
use scenarios::traffic::network::{from_roads, RoadOptions};
use scenarios::traffic::scenario::{run_loaded, run_scenario, Scenario, TrafficReport};
use scenarios::twin_core::crs::Crs;
use scenarios::twin_core::import::{import_file, ImportOptions};
use scenarios::twin_core::NoProgress;

const TARGET_GAP: f64 = 1e-4;

fn hue_pbf() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/hue/hue.osm.pbf")
}

fn sample_twin() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/hue")
}

/// Vehicle-metres on the links of the roads named `name` (both directions), per flow vector.
fn veh_m(r: &TrafficReport, flows: &[f64], name: &str) -> f64 {
    r.link_roads
        .iter()
        .enumerate()
        .filter(|(_, lr)| lr.name.as_deref() == Some(name))
        .map(|(a, _)| flows[a] * r.network.links[a].length)
        .sum()
}

/// The checks shared by both data sets.
fn check(r: &TrafficReport, others: &[&str]) {
    let closed = "Cầu Trường Tiền";
    // Closed links: exactly the links of the bridge, and they carry nothing.
    let bridge: Vec<usize> = (0..r.link_roads.len())
        .filter(|&a| r.link_roads[a].name.as_deref() == Some(closed))
        .collect();
    assert!(!bridge.is_empty());
    assert_eq!(r.closed_links, bridge);
    let used = bridge
        .iter()
        .filter(|&&a| r.baseline.flows[a] > 0.0)
        .count();
    eprintln!(
        "{closed}: {} links, {used} used in the baseline",
        bridge.len()
    );
    assert!(used > 0, "the bridge is unused in the baseline");
    for &a in &bridge {
        assert_eq!(r.scenario.flows[a], 0.0);
    }
    // The other bridges take more traffic, in total and each.
    let (mut before, mut after) = (0.0, 0.0);
    for name in others {
        let (b, s) = (
            veh_m(r, &r.baseline.flows, name),
            veh_m(r, &r.scenario.flows, name),
        );
        eprintln!("{name}: {b:.0} -> {s:.0} veh·m");
        before += b;
        after += s;
    }
    assert!(after > before, "other bridges {before} -> {after}");
    // Convergence of both runs.
    for a in [&r.baseline, &r.scenario] {
        assert!(
            a.converged && a.relative_gap <= TARGET_GAP,
            "gap {}",
            a.relative_gap
        );
        // Independent recomputation of the gap's numerator terms: TSTT from flows and times.
        let tstt: f64 = a.flows.iter().zip(&a.times).map(|(x, t)| x * t).sum();
        assert!((tstt - a.tstt).abs() <= 1e-9 * a.tstt);
        // Every trip is assigned, unreachable (reported) or intrazonal.
        let total = a.assigned_trips + a.unreachable_trips() + a.intrazonal_trips;
        assert!(
            (total - r.trips).abs() <= 1e-6 * r.trips,
            "{total} vs {}",
            r.trips
        );
    }
    // Removing a link cannot lower the equilibrium cost when every pair stays connected
    // (Beckmann: the closed network's feasible set is a subset), up to the gaps.
    assert!(
        r.scenario.unreachable.is_empty(),
        "{:?}",
        r.scenario.unreachable
    );
    assert!(
        r.diff.d_tstt >= -2.0 * TARGET_GAP * r.baseline.tstt,
        "{}",
        r.diff.d_tstt
    );
    assert!(r.diff.d_beckmann >= -2.0 * TARGET_GAP * r.baseline.beckmann);
}

fn print(r: &TrafficReport, secs: f64) {
    eprintln!(
        "{}: {} nodes, {} links, {} zones, {:.0} trips; baseline {} it gap {:.2e} TSTT {:.0}; \
         scenario {} it gap {:.2e} TSTT {:.0} ({:+.0}); {:.1} s",
        r.name,
        r.network.nodes.len(),
        r.network.links.len(),
        r.zones,
        r.trips,
        r.baseline.iterations,
        r.baseline.relative_gap,
        r.baseline.tstt,
        r.scenario.iterations,
        r.scenario.relative_gap,
        r.scenario.tstt,
        r.diff.d_tstt,
        secs
    );
    for t in &r.top_links {
        eprintln!(
            "  {:<40} {:<28} {:>8.0} -> {:>8.0}",
            t.key,
            t.name.as_deref().unwrap_or("-"),
            t.base_flow,
            t.flow
        );
    }
    for a in &r.access {
        eprintln!(
            "  access {}: {:.2} -> {:.2} min (max {:.2} -> {:.2})",
            a.name, a.base_mean_min, a.mean_min, a.base_max_min, a.max_min
        );
    }
}

const SCENARIO: &str = r#"
name = "Truong Tien closed"
top_links = 8

[demand]
kind = "gravity"
cell_size_m = 1000.0
beta = 0.1
total_trips = 20000.0

[assign]
target_gap = 1e-4

[[edit]]
type = "close"
names = ["Cầu Trường Tiền"]

[[destination]]
name = "Hue Central Hospital"
lon = 107.5893
lat = 16.4624
"#;

#[test]
fn hue_osm_truong_tien_closed() {
    let t = Instant::now();
    let crs = Crs::epsg(32648).unwrap();
    let imp = import_file(&hue_pbf(), &ImportOptions::new(crs.clone()), &NoProgress).unwrap();
    eprintln!(
        "imported {} roads, {} buildings in {:.1} s",
        imp.roads.len(),
        imp.buildings.len(),
        t.elapsed().as_secs_f64()
    );
    let sc = Scenario::parse(SCENARIO, Path::new("hue_osm.toml")).unwrap();
    let t = Instant::now();
    let r = run_loaded(&sc, &imp.roads, &imp.buildings, &crs, &mut |_| {}).unwrap();
    print(&r, t.elapsed().as_secs_f64());
    check(&r, &["Cầu Phú Xuân", "Cầu Dã Viên", "Cầu Nguyễn Hoàng"]);

    // The gravity model: trips sum to the stated total, zones' floor areas sum to the total,
    // and (doubly constrained) each zone's productions and attractions are its floor-area share.
    let g = r.gravity.as_ref().unwrap();
    assert!((r.trips - 20000.0).abs() < 1e-6);
    assert_eq!(g.zones.len(), r.zones);
    let area: f64 = g.zones.iter().map(|z| z.floor_area).sum();
    assert!((area - g.floor_area).abs() <= 1e-9 * area);
    for z in &g.zones {
        let share = 20000.0 * z.floor_area / g.floor_area;
        assert!((z.productions - share).abs() <= 1e-4 * share + 1e-9);
        assert!((z.attractions - share).abs() <= 1e-4 * share + 1e-9);
    }
    // Every OD pair of the demand is connected on the unedited network.
    assert!(r.baseline.unreachable.is_empty());

    // The flood edit on the same roads: "flooding" the bridge deeper than the threshold closes
    // the same links as closing it by name; a shallower depth closes nothing.
    let rn = from_roads(&imp.roads, &RoadOptions::default()).unwrap();
    let depths: Vec<(String, f64)> = imp
        .roads
        .iter()
        .filter(|r| r.name.as_deref() == Some("Cầu Trường Tiền"))
        .map(|r| (r.id.clone(), 0.8))
        .collect();
    let (edits, ids) = close_flooded_roads(&rn, &imp.roads, &depths, 0.3);
    assert_eq!(edits.len(), r.closed_links.len());
    assert!(!ids.is_empty());
    let (edits, _) = close_flooded_roads(&rn, &imp.roads, &depths, 1.0);
    assert!(edits.is_empty());
}

#[test]
fn hue_sample_twin_truong_tien_closed() {
    let twin = sample_twin();
    if !twin.join("roads.geojson").exists() {
        eprintln!(
            "\n*** SKIPPED: {} is absent (the Huế sample twin) ***\n",
            twin.join("roads.geojson").display()
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("closed.toml");
    let text = format!(
        "twin = {:?}\n{}",
        twin.canonicalize().unwrap().display().to_string(),
        SCENARIO.replace("1000.0", "500.0")
    );
    std::fs::write(&path, text).unwrap();
    let t = Instant::now();
    let mut gaps: HashMap<String, usize> = HashMap::new();
    let r = run_scenario(&path, &mut |e| {
        if let scenarios::traffic::scenario::ProgressEvent::Gap { run, .. } = e {
            *gaps.entry(run.to_string()).or_default() += 1;
        }
    })
    .unwrap();
    print(&r, t.elapsed().as_secs_f64());
    // One progress event per iteration record (iteration 0 included).
    assert_eq!(gaps["baseline"], r.baseline.history.len());
    assert_eq!(gaps["scenario"], r.scenario.history.len());
    check(&r, &["Cầu Phú Xuân", "Cầu Dã Viên", "Cầu Nguyễn Hoàng"]);

    // The same closure as a flood: the bridge's road ids at 0.8 m in a depth CSV, threshold
    // 0.3 m, closes the same links and gives the same flows.
    let ids: Vec<&str> = r
        .closed_links
        .iter()
        .map(|&a| r.link_roads[a].id.as_str())
        .collect();
    let mut csv = String::from("road_id,max_depth_m\n");
    for id in &ids {
        csv += &format!("{id},0.8\n");
    }
    csv += "some-other-road,2.0\n";
    std::fs::write(dir.path().join("depths.csv"), csv).unwrap();
    let flooded = std::fs::read_to_string(&path).unwrap().replace(
        "type = \"close\"\nnames = [\"Cầu Trường Tiền\"]",
        "type = \"flooded\"\nfile = \"depths.csv\"\nthreshold_m = 0.3",
    );
    let fpath = dir.path().join("flooded.toml");
    std::fs::write(&fpath, &flooded).unwrap();
    let f = run_scenario(&fpath, &mut |_| {}).unwrap();
    assert_eq!(f.closed_links, r.closed_links);
    for (a, b) in f.scenario.flows.iter().zip(&r.scenario.flows) {
        assert!((a - b).abs() <= 1e-9 * (1.0 + b.abs()));
    }

    // An edit naming no road: the error names the file and the edit's line.
    let bad = std::fs::read_to_string(&path)
        .unwrap()
        .replace("Cầu Trường Tiền", "Cầu Không Có");
    let line = bad.lines().position(|l| l == "[[edit]]").unwrap() + 1;
    std::fs::write(&path, bad).unwrap();
    let e = run_scenario(&path, &mut |_| {}).unwrap_err().to_string();
    assert!(e.contains(&format!("closed.toml: line {line}: ")), "{e}");
    assert!(e.contains("Cầu Không Có"), "{e}");
}
