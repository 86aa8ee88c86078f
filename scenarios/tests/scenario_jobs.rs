//! Scenario files as stored jobs on the Huế sample twin (`data/hue`, copied to a temporary
//! folder so that `runs/` lands there): each file in `scenarios/examples/hue/` runs through
//! `scenarios::jobs`, and its impacts are checked against the per-feature tables read here
//! with the `csv` crate, the twin's own geometry and the assignment's link table.
//!
//! * `hue_flood_jobs`: the levee file runs its baseline (October 2025) and that one's
//!   (alarm 3) first; a higher stage never wets fewer buildings; the levee keeps the citadel
//!   drier and `compare.json` says so; the flooded-roads traffic file reuses the stored flood
//!   run and every road deeper than 0.3 m carries no flow.
//! * `hue_traffic_job_and_cancel`: the Trường Tiền closure puts 0 on the bridge and more on
//!   the other bridges; a flood run cancelled soon after its start ends `cancelled`.
//! * `bad_scenario_files`: missing or unknown model, unreadable baseline: the file, line and
//!   field are named.

use geo::{Centroid, Contains};
use geo_types::{LineString, Polygon};
use scenarios::jobs::results::UNSERVED_TRIP_PENALTY_MIN;
use scenarios::jobs::{
    read_compare, read_impacts, CompareBody, Impacts, Job, JobOptions, JobProgress, RunStore,
    ScenarioFile, Status,
};
use scenarios::output::{read_road_depths, RunDir};
use scenarios::ScenarioError;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use twin_core::Twin;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hue")
}

/// A copy of data/hue in a temporary folder, loaded; None (loudly) when data/hue is absent.
fn sample() -> Option<(tempfile::TempDir, PathBuf, Twin)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/hue");
    if !dir.join("twin.toml").exists() {
        eprintln!(
            "\n!!!!!!!! SKIPPED: {} has no twin.toml !!!!!!!!\n",
            dir.display()
        );
        return None;
    }
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("hue");
    twin_core::TwinDir::open(&dir)
        .unwrap()
        .copy_without_store(&copy)
        .unwrap();
    let twin = twin_core::TwinDir::open(&copy).unwrap().load().unwrap();
    Some((tmp, copy, twin))
}

/// id → max_depth_m from a stored buildings.csv / heritage.csv, read with the csv crate.
fn depths(path: &Path) -> HashMap<String, f64> {
    let mut rd = csv::Reader::from_path(path).unwrap();
    let h = rd.headers().unwrap().clone();
    let id = h.iter().position(|c| c == "id").unwrap();
    let d = h.iter().position(|c| c == "max_depth_m").unwrap();
    rd.records()
        .map(|r| {
            let r = r.unwrap();
            (r[id].to_string(), r[d].parse().unwrap())
        })
        .collect()
}

fn recorder() -> (Arc<Mutex<Vec<JobProgress>>>, JobOptions) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    let opts = JobOptions {
        progress: Some(Arc::new(move |p: &JobProgress| {
            l.lock().unwrap().push(p.clone())
        })),
        ..JobOptions::default()
    };
    (log, opts)
}

const WET: f64 = 0.01;
const TOL: f64 = 0.01;

#[test]
fn hue_flood_jobs() {
    let Some((_tmp, twin_dir, twin)) = sample() else {
        return;
    };
    let store = RunStore::for_twin(&twin_dir);
    let (log, opts) = recorder();
    let t = Instant::now();
    let levee = Job::from_path(&twin_dir, &examples().join("flood_oct2025_levee.toml"))
        .unwrap()
        .run(&twin, &opts)
        .unwrap();
    eprintln!(
        "levee job with its two baselines: {:.1} s",
        t.elapsed().as_secs_f64()
    );
    assert_eq!(levee.status, Status::Done);
    // Three runs, each done: alarm 3, October 2025, the levee; each with its baseline.
    let runs = store.list().unwrap();
    assert_eq!(runs.len(), 3, "{runs:#?}");
    assert!(runs
        .iter()
        .all(|r| r.status == Status::Done && r.progress == 1.0));
    let by_name = |part: &str| {
        runs.iter()
            .find(|r| r.scenario_file.contains(part))
            .unwrap()
    };
    let alarm = by_name("flood_alarm3.toml");
    let oct = by_name("flood_oct2025.toml");
    assert_eq!(levee.baseline_run.as_deref(), Some(oct.id.as_str()));
    assert_eq!(oct.baseline_run.as_deref(), Some(alarm.id.as_str()));
    assert_eq!(alarm.baseline_run, None);
    // Ids sort in creation order; the baselines were created after the levee run.
    assert!(alarm.id > oct.id && oct.id > levee.id);
    // Progress: fractions within 0..1, the baselines announced.
    let events = log.lock().unwrap().clone();
    assert!(events.iter().all(|e| (0.0..=1.0).contains(&e.fraction)));
    assert!(events
        .iter()
        .any(|e| e.phase == "baseline" && e.message.contains("running it first")));
    assert_eq!(events.last().unwrap().fraction, 1.0);
    // The stored input hashes are the files' own.
    let f = ScenarioFile::load(&examples().join("flood_oct2025.toml")).unwrap();
    assert_eq!(oct.input_hash, f.hash);

    let dir = |id: &str| store.dir(id).unwrap();
    let a = depths(&dir(&alarm.id).join("buildings.csv"));
    let o = depths(&dir(&oct.id).join("buildings.csv"));
    let l = depths(&dir(&levee.id).join("buildings.csv"));
    let wet = |m: &HashMap<String, f64>| m.values().filter(|&&d| d > WET).count();
    let haz = |m: &HashMap<String, f64>| m.values().filter(|&&d| d > 0.3).count();
    eprintln!(
        "buildings assessed {}; wet (>1 cm): alarm 3 {}, Oct 2025 {}, levee {}; above 0.3 m: {} / {} / {}",
        a.len(),
        wet(&a),
        wet(&o),
        wet(&l),
        haz(&a),
        haz(&o),
        haz(&l)
    );
    // impacts.json agrees with the tables.
    for (run, m) in [(alarm, &a), (oct, &o), (&levee, &l)] {
        let Impacts::Flood(imp) = read_impacts(&store, &run.id).unwrap() else {
            panic!("not a flood run")
        };
        assert_eq!(imp.wet_depth_m, WET);
        assert_eq!(imp.buildings, m.len());
        assert_eq!(imp.buildings_wet, wet(m));
        assert_eq!(imp.buildings_above_hazard_depth, haz(m));
        assert!(imp.mass_balance_relative_error < 1e-9, "{imp:?}");
        let hz = depths(&dir(&run.id).join("heritage.csv"));
        assert_eq!(
            imp.heritage_hit.len(),
            hz.values().filter(|&&d| d > WET).count()
        );
        for h in &imp.heritage_hit {
            assert_eq!(h.max_depth_m, hz[&h.id]);
        }
        eprintln!(
            "{}: heritage hit {:?}, road links flooded {} of {}",
            run.name,
            imp.heritage_hit
                .iter()
                .map(|h| format!("{} {:.2} m", h.name, h.max_depth_m))
                .collect::<Vec<_>>(),
            imp.roads_flooded,
            imp.roads
        );
    }

    // A higher stage never wets fewer buildings: every building at least as deep.
    assert_eq!(a.len(), o.len());
    for (id, d) in &a {
        assert!(
            o[id] >= d - TOL,
            "{id}: {d} m at alarm 3, {} m in Oct 2025",
            o[id]
        );
    }
    assert!(wet(&o) > wet(&a) && haz(&o) > haz(&a));
    let c = read_compare(&store, &oct.id).unwrap().unwrap();
    assert_eq!(c.baseline_run.as_deref(), Some(alarm.id.as_str()));
    let CompareBody::Flood(fc) = &c.body else {
        panic!("not a flood comparison")
    };
    assert_eq!(fc.buildings.compared, a.len());
    assert_eq!(fc.buildings.wet_baseline, wet(&a));
    assert_eq!(fc.buildings.wet, wet(&o));
    assert_eq!(
        fc.buildings.newly_wet,
        a.iter().filter(|(id, &d)| d <= WET && o[*id] > WET).count()
    );
    assert_eq!(fc.buildings.dried, 0);
    assert_eq!(
        fc.buildings.shallower,
        a.iter().filter(|(id, &d)| d - o[*id] > 1e-3).count()
    );

    // The levee: buildings inside the citadel ring (centroids in the levee's polygon).
    let ring: Vec<(f64, f64)> = vec![
        (774531.0, 1821771.0),
        (774996.0, 1822015.0),
        (775325.0, 1822196.0),
        (775623.0, 1822411.0),
        (775919.0, 1822659.0),
        (776287.0, 1822978.0),
        (774863.0, 1824853.0),
        (773168.0, 1823565.0),
        (774531.0, 1821771.0),
    ];
    let poly = Polygon::new(LineString::from(ring), vec![]);
    let inside: Vec<String> = twin
        .buildings
        .features()
        .iter()
        .filter(|b| b.footprint.centroid().is_some_and(|c| poly.contains(&c)))
        .map(|b| b.id.clone())
        .filter(|id| o.contains_key(id) && l.contains_key(id))
        .collect();
    let in_wet = |m: &HashMap<String, f64>| inside.iter().filter(|id| m[*id] > WET).count();
    let in_haz = |m: &HashMap<String, f64>| inside.iter().filter(|id| m[*id] > 0.3).count();
    eprintln!(
        "behind the levee: {} buildings; wet {} -> {}, above 0.3 m {} -> {}",
        inside.len(),
        in_wet(&o),
        in_wet(&l),
        in_haz(&o),
        in_haz(&l)
    );
    assert!(
        inside.len() > 50,
        "{} buildings in the citadel",
        inside.len()
    );
    // No building behind the levee is deeper with it, but where the rain falling inside the
    // closed ring cannot drain and ponds a little higher than the river flood reached (a few
    // of the lowest spots, by centimetres).
    let deeper: Vec<(&String, f64)> = inside
        .iter()
        .map(|id| (id, l[id] - o[id]))
        .filter(|(_, d)| *d > TOL)
        .collect();
    eprintln!("deeper with the levee: {deeper:?}");
    assert!(
        deeper.len() * 100 <= inside.len() && deeper.iter().all(|(_, d)| *d < 0.05),
        "deeper with the levee: {deeper:?}"
    );
    assert!(in_haz(&l) < in_haz(&o));
    assert!(in_wet(&l) < in_wet(&o));
    let c = read_compare(&store, &levee.id).unwrap().unwrap();
    let CompareBody::Flood(lc) = &c.body else {
        panic!("not a flood comparison")
    };
    assert_eq!(c.baseline_run.as_deref(), Some(oct.id.as_str()));
    assert_eq!(lc.buildings.above_hazard_baseline, haz(&o));
    assert_eq!(lc.buildings.above_hazard, haz(&l));
    assert!(lc.buildings.above_hazard < lc.buildings.above_hazard_baseline);
    let changes: HashMap<&str, f64> = lc
        .building_changes
        .iter()
        .map(|c| (c.id.as_str(), c.change_m))
        .collect();
    let drier_inside = inside.iter().filter(|id| o[*id] - l[*id] > 1e-3).count();
    assert!(drier_inside > 0);
    for id in &inside {
        let d = l[id] - o[id];
        if d.abs() > 1e-3 {
            assert!((changes[id.as_str()] - d).abs() < 1e-9);
        }
    }

    // Traffic with the roads flooded in October 2025 closed: the stored flood run is reused.
    let (log, opts) = recorder();
    let tr = Job::from_path(&twin_dir, &examples().join("flood_roads_closed.toml"))
        .unwrap()
        .run(&twin, &opts)
        .unwrap();
    assert_eq!(tr.flood_runs, vec![oct.id.clone()]);
    assert_eq!(store.list().unwrap().len(), 4);
    assert!(log
        .lock()
        .unwrap()
        .iter()
        .any(|e| e.message.contains(&format!("reusing run {}", oct.id))));
    let depth: HashMap<String, f64> =
        read_road_depths(&RunDir::new(dir(&oct.id)).road_depths_path())
            .unwrap()
            .into_iter()
            .collect();
    let links = RunDir::new(dir(&tr.id)).read_links().unwrap();
    let road: Vec<String> = links.iter().map(|l| l.road_id.clone()).collect();
    let flow: Vec<f64> = links.iter().map(|l| l.flow).collect();
    let closed: Vec<&str> = links
        .iter()
        .map(|l| if l.closed { "true" } else { "false" })
        .collect();
    let mut n_deep = 0;
    let mut closed_roads = HashSet::new();
    for i in 0..road.len() {
        let deep = depth.get(&road[i]).is_some_and(|&d| d > 0.3);
        if deep {
            n_deep += 1;
            assert_eq!(flow[i], 0.0, "link {i} of road {} is flooded", road[i]);
        }
        assert_eq!(closed[i] == "true", deep, "link {i} of road {}", road[i]);
        if deep {
            closed_roads.insert(road[i].clone());
        }
    }
    let Impacts::Traffic(ti) = read_impacts(&store, &tr.id).unwrap() else {
        panic!("not a traffic run")
    };
    assert_eq!(ti.closed_links, n_deep);
    assert_eq!(ti.closed_roads.len(), closed_roads.len());
    eprintln!(
        "flooded roads closed: {} links of {} roads; TSTT {:.0} -> {:.0} veh·min; unreachable trips {:.0} -> {:.0}",
        ti.closed_links,
        closed_roads.len(),
        ti.tstt_baseline,
        ti.tstt_scenario,
        ti.unreachable_trips_baseline,
        ti.unreachable_trips_scenario
    );
    assert!(n_deep > 0);
    // The demand is the same: trips move from assigned to unreachable, none are lost.
    let total = |a: f64, u: f64| a + u;
    assert!(
        (total(ti.assigned_trips_scenario, ti.unreachable_trips_scenario)
            - total(ti.assigned_trips_baseline, ti.unreachable_trips_baseline))
        .abs()
            < 1e-6 * ti.assigned_trips_baseline
    );
    assert!(ti.unreachable_trips_scenario > ti.unreachable_trips_baseline);
    // Trips cut off are reported apart, never as a TSTT improvement: the plain change is left
    // out (the two TSTTs sum over different trips), the penalised one charges each unserved trip.
    assert_eq!(ti.tstt_change_pct, None);
    let share = ti.unreachable_trips_scenario
        / (ti.unreachable_trips_scenario + ti.assigned_trips_scenario);
    assert!((ti.unserved_share_scenario - share).abs() < 1e-12);
    assert_eq!(ti.unserved_penalty_min, UNSERVED_TRIP_PENALTY_MIN);
    let pen = |tstt: f64, unserved: f64| tstt + UNSERVED_TRIP_PENALTY_MIN * unserved;
    assert!(
        (ti.tstt_penalised_scenario - pen(ti.tstt_scenario, ti.unreachable_trips_scenario)).abs()
            < 1e-6 * ti.tstt_penalised_scenario
    );
    assert!(
        ti.tstt_penalised_change_pct > 0.0,
        "cutting {:.0} trips off is no improvement: {:+.2} %",
        ti.unreachable_trips_scenario,
        ti.tstt_penalised_change_pct
    );
}

#[test]
fn hue_traffic_job_and_cancel() {
    let Some((_tmp, twin_dir, twin)) = sample() else {
        return;
    };
    let store = RunStore::for_twin(&twin_dir);
    let run = Job::from_path(&twin_dir, &examples().join("truong_tien_closed.toml"))
        .unwrap()
        .run(&twin, &JobOptions::default())
        .unwrap();
    let d = store.dir(&run.id).unwrap();
    // The renderer's columns are there.
    let header = std::fs::read_to_string(d.join("links.csv")).unwrap();
    let header = header.lines().next().unwrap();
    for c in [
        "road_id",
        "name",
        "class",
        "capacity",
        "flow",
        "vc",
        "time_min",
        "base_flow",
        "d_flow",
    ] {
        assert!(
            header.split(',').any(|h| h == c),
            "{c} missing from {header}"
        );
    }
    let t = RunDir::new(&d).read_links().unwrap();
    let name: Vec<String> = t.iter().map(|l| l.name.clone()).collect();
    let flow: Vec<f64> = t.iter().map(|l| l.flow).collect();
    let base: Vec<f64> = t.iter().map(|l| l.base_flow).collect();
    let cap: Vec<f64> = t.iter().map(|l| l.capacity).collect();
    let vc: Vec<f64> = t.iter().map(|l| l.vc.unwrap_or(f64::NAN)).collect();
    let sum = |n: &str, v: &[f64]| -> f64 {
        (0..name.len())
            .filter(|&i| name[i] == n)
            .map(|i| v[i])
            .sum()
    };
    let tt = "Cầu Trường Tiền";
    assert!(name.iter().any(|n| n == tt));
    assert_eq!(sum(tt, &flow), 0.0);
    assert!(sum(tt, &base) > 0.0);
    let others = ["Cầu Phú Xuân", "Cầu Dã Viên", "Cầu Nguyễn Hoàng"];
    let (b0, b1): (f64, f64) = (
        others.iter().map(|n| sum(n, &base)).sum(),
        others.iter().map(|n| sum(n, &flow)).sum(),
    );
    eprintln!(
        "Trường Tiền {:.0} -> 0 veh/h; Phú Xuân {:.0} -> {:.0}; other bridges {b0:.0} -> {b1:.0} veh/h",
        sum(tt, &base),
        sum("Cầu Phú Xuân", &base),
        sum("Cầu Phú Xuân", &flow)
    );
    assert!(b1 > b0);
    assert!(sum("Cầu Phú Xuân", &flow) > sum("Cầu Phú Xuân", &base));
    for i in 0..vc.len() {
        if cap[i] > 0.0 {
            assert!((vc[i] - flow[i] / cap[i]).abs() < 1e-6 * (1.0 + vc[i]));
        }
    }
    // compare.json: TSTT change as in impacts.json, the top link is the largest change.
    let Impacts::Traffic(imp) = read_impacts(&store, &run.id).unwrap() else {
        panic!("not a traffic run")
    };
    let c = read_compare(&store, &run.id).unwrap().unwrap();
    let CompareBody::Traffic(tc) = &c.body else {
        panic!("not a traffic comparison")
    };
    assert_eq!(c.baseline_run, None);
    assert_eq!(tc.tstt_change, imp.tstt_scenario - imp.tstt_baseline);
    assert!(imp.tstt_change > 0.0);
    // One bridge closed cuts no trip off: the plain TSTT change is given, and equals the
    // penalised one (no unserved trips on either side).
    if imp.unreachable_trips_scenario == imp.unreachable_trips_baseline {
        let pct = imp.tstt_change_pct.expect("the same trips served");
        assert!((pct - 100.0 * imp.tstt_change / imp.tstt_baseline).abs() < 1e-9);
        assert_eq!(tc.unserved_trips, tc.unserved_trips_baseline);
    }
    let biggest = (0..flow.len())
        .map(|i| (flow[i] - base[i]).abs())
        .fold(0.0, f64::max);
    assert!((tc.top_links[0].d_flow.abs() - biggest).abs() < 1e-9);
    assert_eq!(tc.closed_links, imp.closed_links);
    assert_eq!(
        imp.closed_links,
        (0..name.len()).filter(|&i| name[i] == tt).count()
    );
    eprintln!(
        "TSTT {:.0} -> {:.0} veh·min ({:?} %), closed links {}",
        imp.tstt_baseline, imp.tstt_scenario, imp.tstt_change_pct, imp.closed_links
    );

    // Cancel: a flood run stopped once it has started stepping.
    let opts = JobOptions::default();
    let started = Arc::new(Mutex::new(None::<Instant>));
    let s = started.clone();
    let cancel = opts.cancel.clone();
    let opts = JobOptions {
        progress: Some(Arc::new(move |p: &JobProgress| {
            if p.phase == "flood" && p.fraction > 0.0 {
                let mut s = s.lock().unwrap();
                if s.is_none() {
                    *s = Some(Instant::now());
                    cancel.store(true, Ordering::Relaxed);
                }
            }
        })),
        ..opts
    };
    let job = Job::from_path(&twin_dir, &examples().join("flood_alarm3.toml")).unwrap();
    let id = job.id().to_string();
    let handle = job.spawn(Arc::new(twin), opts);
    let t0 = Instant::now();
    while !handle.is_finished() {
        assert!(t0.elapsed() < Duration::from_secs(120));
        // run.json is always whole while the run goes.
        let info = store.read(&id).unwrap();
        assert!(matches!(
            info.status,
            Status::Queued | Status::Running | Status::Cancelled
        ));
        std::thread::sleep(Duration::from_millis(20));
    }
    let ended = Instant::now();
    let err = handle.join().unwrap_err();
    assert!(matches!(err, ScenarioError::Cancelled), "{err}");
    let info = store.read(&id).unwrap();
    assert_eq!(info.status, Status::Cancelled);
    assert!(info.finished.is_some() && info.error.is_none());
    let took = ended - started.lock().unwrap().expect("the flood started");
    eprintln!(
        "cancelled at {:.0}% in {:.3} s",
        100.0 * info.progress,
        took.as_secs_f64()
    );
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(info.progress < 0.5);
    // The parsed JSON is the one on disk: read it again with serde_json.
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(store.dir(&id).unwrap().join("run.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(v["status"], "cancelled");
    assert_eq!(v["id"], id.as_str());
}

#[test]
fn bad_scenario_files() {
    let tmp = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = tmp.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let flood = "duration_s = 600\noutput_interval_s = 300\n";
    let cases = [
        (
            write("no_model.toml", &format!("name = \"x\"\n{flood}")),
            "line 1, field `model`: missing",
        ),
        (
            write("bad_model.toml", &format!("name = \"x\"\nmodel = \"tsunami\"\n{flood}")),
            "line 2, field `model`: unknown model \"tsunami\"",
        ),
        (
            write(
                "bad_baseline.toml",
                &format!("model = \"flood\"\n\nbaseline = \"missing.toml\"\n{flood}"),
            ),
            "line 3, field `baseline`: cannot read the baseline scenario",
        ),
        (
            write(
                "traffic_baseline.toml",
                "model = \"traffic\"\nbaseline = \"other.toml\"\n",
            ),
            "line 2, field `baseline`: \"other.toml\": a traffic scenario is compared with its unedited network",
        ),
        (
            write(
                "flood_field.toml",
                &format!("model = \"flood\"\n{flood}resolution_m = -3\n"),
            ),
            "line 4, field `resolution_m`: must be a positive number",
        ),
    ];
    for (path, want) in &cases {
        let e = ScenarioFile::load(path).unwrap_err().to_string();
        let prefix = format!("{}: {want}", path.display());
        assert!(e.starts_with(&prefix), "{e}\nwanted {prefix}");
    }
    // A baseline of the other model.
    write("t.toml", "model = \"traffic\"\n");
    let p = write(
        "cross.toml",
        &format!("model = \"flood\"\nbaseline = \"t.toml\"\n{flood}"),
    );
    let e = ScenarioFile::load(&p).unwrap_err().to_string();
    assert!(
        e.contains("line 2, field `baseline`") && e.contains("is a traffic scenario"),
        "{e}"
    );
    // A job for a bad file makes no run.
    let twin = tmp.path().join("twin");
    assert!(Job::from_path(&twin, &cases[0].0).is_err());
    assert!(RunStore::for_twin(&twin).list().unwrap().is_empty());
}
