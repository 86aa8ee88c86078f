//! `twin scenario run|list|show|compare|rerun` end to end on a copy of the Huế sample twin
//! (`data/hue`) with the Trường Tiền closure (a traffic scenario, seconds): the run's table,
//! the listing, the stored run read back with serde_json, a rerun from the stored inputs with
//! the same impacts, and a comparison of the two; a bad file fails naming its line and field.

mod common;

use std::path::{Path, PathBuf};

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn scenario_run_list_show_rerun_compare() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let data = root.join("data/hue");
    if !data.join("twin.toml").exists() {
        eprintln!(
            "\n!!!!!!!! SKIPPED: {} is absent !!!!!!!!\n",
            data.display()
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let twin: PathBuf = tmp.path().join("hue");
    common::copy_sample_twin(&twin);
    let t = twin.to_str().unwrap();
    let file = root.join("scenarios/examples/hue/truong_tien_closed.toml");
    let (ok, out) = common::twin_cli(&["scenario", "run", t, file.to_str().unwrap()]);
    assert!(ok, "{out}");
    eprintln!("{out}");
    let runs: Vec<String> = std::fs::read_dir(twin.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(runs.len(), 1);
    let a = runs[0].clone();
    let info = json(&twin.join("runs").join(&a).join("run.json"));
    assert_eq!(info["status"], "done");
    assert_eq!(info["model"], "traffic");
    let imp = json(&twin.join("runs").join(&a).join("impacts.json"));
    // The printed table carries the run id and the stored TSTT figures.
    assert!(out.contains(&format!("run:       {a}")), "{out}");
    let tstt = imp["tstt_scenario"].as_f64().unwrap();
    assert!(
        out.contains(&format!("{tstt:.1}")),
        "{tstt:.1} not in\n{out}"
    );
    assert!(out.contains("Cầu Trường Tiền"), "{out}");

    // Rerun from the stored inputs: a new run with the same inputs and the same impacts.
    let (ok, out) = common::twin_cli(&["scenario", "rerun", t, &a]);
    assert!(ok, "{out}");
    let mut runs: Vec<String> = std::fs::read_dir(twin.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    runs.sort();
    assert_eq!(runs.len(), 2);
    let b = runs[1].clone();
    assert!(out.contains(&format!("rerun of {a}")), "{out}");
    let info_b = json(&twin.join("runs").join(&b).join("run.json"));
    assert_eq!(info_b["input_hash"], info["input_hash"]);
    assert_eq!(info_b["name"], info["name"]);
    let imp_b = json(&twin.join("runs").join(&b).join("impacts.json"));
    assert_eq!(imp_b, imp);
    assert_eq!(
        std::fs::read_to_string(twin.join("runs").join(&b).join("links.csv")).unwrap(),
        std::fs::read_to_string(twin.join("runs").join(&a).join("links.csv")).unwrap()
    );

    // list: both runs, done.
    let (ok, out) = common::twin_cli(&["scenario", "list", t]);
    assert!(ok, "{out}");
    for id in [&a, &b] {
        let line = out.lines().find(|l| l.starts_with(id.as_str())).unwrap();
        assert!(line.contains("traffic") && line.contains("done"), "{line}");
    }
    // show: the stored run.
    let (ok, out) = common::twin_cli(&["scenario", "show", t, &a]);
    assert!(ok, "{out}");
    assert!(out.contains("status:    done") && out.contains("Trường Tiền bridge closed"));
    // compare: the same flows, no TSTT change.
    let (ok, out) = common::twin_cli(&["scenario", "compare", t, &a, &b]);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("{tstt:.1} -> {tstt:.1} veh·min (+0.0)")),
        "{out}"
    );
    // Errors: an unknown run, and a scenario without a model (file, line and field named).
    let (ok, out) = common::twin_cli(&["scenario", "show", t, "no-such-run"]);
    assert!(!ok && out.contains("no-such-run"), "{out}");
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "name = \"x\"\nmodel = \"quake\"\n").unwrap();
    let (ok, out) = common::twin_cli(&["scenario", "run", t, bad.to_str().unwrap()]);
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!("{}: line 2, field `model`", bad.display())),
        "{out}"
    );
}
