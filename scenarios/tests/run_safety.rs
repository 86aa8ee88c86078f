//! Issue 14 at the engine level: the files a scenario names stay inside its allowed folders
//! (the command line's rule: the scenario's folder and the twin), absurd forcing is refused
//! with its line, and a flood solver stops inside one `advance_to` call once its cancel flag
//! is set, with results unchanged when it is not.

use scenarios::files::AllowedRoots;
use scenarios::flood::{
    CpuSolver, FloodModel, FloodSolver, Interp, LoadedScenario, Stage, TimeSeries,
};
use scenarios::jobs::ScenarioFile;
use scenarios::ScenarioError;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const HEAD: &str =
    "model = \"flood\"\nbaseline = \"none\"\nduration_s = 3600\noutput_interval_s = 600\n";

/// A twin-less folder layout: `<tmp>/scen/` holds the scenario, `<tmp>/private.csv` is
/// outside it.
fn layout() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let scen = tmp.path().join("scen");
    std::fs::create_dir_all(&scen).unwrap();
    std::fs::write(tmp.path().join("private.csv"), "time,value\nSECRET-ROW,1\n").unwrap();
    std::fs::write(scen.join("rain.csv"), "time,mm_h\n0,10\n").unwrap();
    (tmp, scen)
}

#[test]
fn scenario_inputs_stay_in_the_scenario_folder_and_the_twin() {
    let (tmp, scen) = layout();
    let path = scen.join("s.toml");
    let secret = tmp.path().join("private.csv");
    let mut messages = Vec::new();
    for written in [
        secret.display().to_string(),
        "../private.csv".to_string(),
        "/etc/shadow".into(),
        "/nonexistent".into(),
        "/dev/zero".into(),
        "missing.csv".into(),
    ] {
        let text = format!("{HEAD}[rain]\ncsv = \"{written}\"\n");
        let e = ScenarioFile::parse(&path, text).unwrap_err().to_string();
        assert!(!e.contains("SECRET"), "{e}");
        assert!(e.contains("line 6, field `csv`"), "{e}");
        messages.push(e.replace(&written, "<path>"));
        // The flood engine's own reader says the same.
        let sc =
            LoadedScenario::parse(&path, format!("{HEAD}[rain]\ncsv = \"{written}\"\n")).unwrap();
        let r = sc.scenario.rain.as_ref().unwrap();
        let e2 = sc
            .series(
                &r.series,
                &r.csv,
                &r.time_unit,
                "rain",
                scenarios::flood::scenario::SeriesKind::Rain,
            )
            .unwrap_err()
            .to_string();
        assert_eq!(e2.replace(&written, "<path>"), messages[0], "{e2}");
    }
    assert!(messages.iter().all(|m| m == &messages[0]), "{messages:?}");
    assert!(messages[0].contains("outside the allowed folders or missing"));
    // Inside: read.
    let f = ScenarioFile::parse(&path, format!("{HEAD}[rain]\ncsv = \"rain.csv\"\n")).unwrap();
    assert_eq!(f.inputs.len(), 1);
    // Baselines: forbidden and missing alike.
    let b = |w: &str| {
        ScenarioFile::parse(
            &path,
            HEAD.replace("baseline = \"none\"", &format!("baseline = \"{w}\"")),
        )
        .unwrap_err()
        .to_string()
        .replace(w, "<path>")
    };
    assert_eq!(b("/etc/shadow"), b("/nonexistent"));
    assert_eq!(b("../private.csv"), b("nowhere.toml"));
    // A server's roots: only what it allows, whatever the scenario's folder.
    let roots = AllowedRoots::new([tmp.path().join("elsewhere")]);
    assert!(
        ScenarioFile::parse_in(&path, format!("{HEAD}[rain]\ncsv = \"rain.csv\"\n"), &roots)
            .is_err()
    );
}

#[test]
fn absurd_forcing_is_refused_with_its_line() {
    let path = Path::new("s.toml");
    // Refused when parsed: a server refuses it when posted, `twin flood` before it runs.
    let e = LoadedScenario::parse(path, format!("{HEAD}[rain]\nseries = [[0, 1e12]]\n"))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "s.toml: line 6, field `series`: rain: point 1: rain intensity 1000000000000 mm/h is above 1000 mm/h, beyond anything physical"
    );
    let e = LoadedScenario::parse(path, HEAD.replace("3600", "1e9"))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("s.toml: line 3, field `duration_s`"), "{e}");
}

/// A basin with a deep lake filling from a stage: short steps, many of them.
fn busy_model() -> FloodModel {
    let (nx, ny) = (200, 200);
    let mut m = FloodModel::flat(nx, ny, 5.0, 0.0, 0.03);
    for k in 0..nx * ny {
        m.h0[k] = 20.0;
    }
    m.stages.push(Stage {
        name: "west".into(),
        cells: (0..ny).map(|j| j * nx).collect(),
        series: TimeSeries::new(&[(0.0, 25.0)], Interp::Linear, "stage").unwrap(),
    });
    m
}

#[test]
fn cpu_solver_stops_inside_advance_to_when_cancelled() {
    let m = busy_model();
    let mut s = CpuSolver::new(&m).unwrap();
    let flag = Arc::new(AtomicBool::new(false));
    s.set_cancel(flag.clone());
    let f = flag.clone();
    let setter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        f.store(true, Ordering::Relaxed);
        Instant::now()
    });
    // Years of model time: without the flag this call would not end.
    let out = s.advance_to(1e9);
    let ended = Instant::now();
    let set = setter.join().unwrap();
    assert!(matches!(out, Err(ScenarioError::Cancelled)), "{out:?}");
    assert!(ended.duration_since(set) < Duration::from_secs(1));
    assert!(s.time() > 0.0 && s.time() < 1e9);
}

#[test]
fn a_cancel_flag_never_set_changes_nothing() {
    let m = busy_model();
    let mut a = CpuSolver::new(&m).unwrap();
    let mut b = CpuSolver::new(&m).unwrap();
    b.set_cancel(Arc::new(AtomicBool::new(false)));
    for t in [7.0, 60.0, 61.5] {
        a.advance_to(t).unwrap();
        b.advance_to(t).unwrap();
    }
    let (sa, sb) = (a.state().unwrap(), b.state().unwrap());
    assert_eq!(a.steps(), b.steps());
    assert_eq!(sa.h, sb.h);
    assert_eq!(sa.qx, sb.qx);
    assert_eq!(sa.qy, sb.qy);
}

#[test]
fn traffic_inputs_stay_in_the_scenario_folder_and_the_twin() {
    let (_tmp, scen) = layout();
    let path = scen.join("t.toml");
    let head = "model = \"traffic\"\nbaseline = \"none\"\n";
    let mut demand = Vec::new();
    for w in ["/etc/shadow", "/nonexistent", "../private.csv", "/dev/zero"] {
        let text = format!("{head}[demand]\nkind = \"tntp\"\nfile = \"{w}\"\n");
        let e = ScenarioFile::parse(&path, text).unwrap_err().to_string();
        assert!(e.contains("field `demand.file`"), "{e}");
        assert!(!e.contains("SECRET"), "{e}");
        demand.push(e.replace(w, "<path>"));
        let text =
            format!("{head}\n[[edit]]\ntype = \"flooded\"\nfile = \"{w}\"\nthreshold_m = 0.3\n");
        let e = ScenarioFile::parse(&path, text).unwrap_err().to_string();
        assert!(e.contains("line 4: field `file`"), "{e}");
        assert!(e.contains("outside the allowed folders or missing"), "{e}");
        let text = format!(
            "{head}\n[[edit]]\ntype = \"flooded\"\nscenario = \"{w}\"\nthreshold_m = 0.3\n"
        );
        let e = ScenarioFile::parse(&path, text).unwrap_err().to_string();
        assert!(e.contains("line 4: field `scenario`"), "{e}");
        assert!(e.contains("outside the allowed folders or missing"), "{e}");
    }
    assert!(demand.iter().all(|m| m == &demand[0]), "{demand:?}");
}
