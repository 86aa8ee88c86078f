//! `twin flood` end to end on a small twin folder made here (a tilted valley DEM written
//! straight into the store): CPU and `--gpu` runs, their summaries and files.

mod common;

#[test]
fn flood_runs_on_cpu_and_gpu_and_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let twin = tmp.path().join("valley");
    std::fs::create_dir_all(&twin).unwrap();
    common::valley_twin(&twin);
    let sc = tmp.path().join("rise.toml");
    std::fs::write(
        &sc,
        "name = \"west stage to 1.5 m\"\nduration_s = 1200\noutput_interval_s = 600\n\n[rain]\nseries = [[0, 20], [600, 0]]\n\n[[stage]]\nedge = \"west\"\nseries = [[0, 0.0], [600, 1.5]]\n\n[solver]\ndepth_threshold_m = 1e-5\n",
    )
    .unwrap();
    let (ok, out) = common::twin_cli(&["flood", twin.to_str().unwrap(), sc.to_str().unwrap()]);
    assert!(ok, "{out}");
    assert!(out.contains("solver: cpu reference solver"), "{out}");
    assert!(out.contains("grid: 40 x 30 cells of 10 m"), "{out}");
    let cpu_dir = twin.join("results/rise");
    let cpu: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cpu_dir.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(cpu["frames"].as_array().unwrap().len(), 3);
    assert!(cpu_dir.join("depth_0001200s.tif").exists() && cpu_dir.join("max_depth.tif").exists());
    assert!(cpu["mass_balance"]["relative_error"].as_f64().unwrap() < 1e-9);

    let gpu_dir = tmp.path().join("gpu");
    let (ok, out) = common::twin_cli(&[
        "flood",
        twin.to_str().unwrap(),
        sc.to_str().unwrap(),
        "--gpu",
        "--out",
        gpu_dir.to_str().unwrap(),
    ]);
    assert!(
        ok,
        "the GPU run needs an adapter (mesa-vulkan-drivers): {out}"
    );
    assert!(out.contains("solver: gpu solver (wgpu, f32)"), "{out}");
    let gpu: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(gpu_dir.join("summary.json")).unwrap())
            .unwrap();
    for (a, b) in cpu["frames"]
        .as_array()
        .unwrap()
        .iter()
        .zip(gpu["frames"].as_array().unwrap())
    {
        let (va, vb) = (
            a["volume_m3"].as_f64().unwrap(),
            b["volume_m3"].as_f64().unwrap(),
        );
        assert!(
            (va - vb).abs() <= 1e-4 * va.max(1.0),
            "volumes {va} vs {vb}"
        );
        let (da, db) = (
            a["max_depth_m"].as_f64().unwrap(),
            b["max_depth_m"].as_f64().unwrap(),
        );
        assert!((da - db).abs() <= 1e-4, "max depths {da} vs {db}");
    }

    // A bad scenario names the line and the field.
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "duration_s = 100\noutput_interval_s = 0\n").unwrap();
    let (ok, out) = common::twin_cli(&["flood", twin.to_str().unwrap(), bad.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        out.contains("bad.toml: line 2, field `output_interval_s`: must be a positive number"),
        "{out}"
    );
}

/// Issue 14: `twin flood` on absurd rain (`[[0, 1e12]]` hung at 100 % CPU) is refused with its
/// line before anything runs, and a CSV outside the scenario's folder and the twin is not read.
#[test]
fn flood_refuses_absurd_rain_and_outside_files() {
    let tmp = tempfile::tempdir().unwrap();
    let twin = tmp.path().join("valley");
    std::fs::create_dir_all(&twin).unwrap();
    common::valley_twin(&twin);
    let scen = tmp.path().join("scen");
    std::fs::create_dir_all(&scen).unwrap();
    std::fs::write(tmp.path().join("private.csv"), "time,value\nSECRET,1\n").unwrap();
    for (body, needle) in [
        (
            "[rain]\nseries = [[0, 1e12]]\n",
            "line 5, field `series`: rain: point 1: rain intensity 1000000000000 mm/h is above 1000 mm/h",
        ),
        (
            "[rain]\ncsv = \"../private.csv\"\n",
            "line 5, field `csv`: ../private.csv: outside the allowed folders or missing",
        ),
        (
            "[rain]\ncsv = \"/dev/zero\"\n",
            "line 5, field `csv`: /dev/zero: outside the allowed folders or missing",
        ),
    ] {
        let sc = scen.join("bad.toml");
        std::fs::write(
            &sc,
            format!("duration_s = 1200\noutput_interval_s = 600\n\n{body}"),
        )
        .unwrap();
        let started = std::time::Instant::now();
        let (ok, out) = common::twin_cli(&["flood", twin.to_str().unwrap(), sc.to_str().unwrap()]);
        assert!(!ok, "{out}");
        assert!(out.contains(needle), "{out}");
        assert!(!out.contains("SECRET"), "{out}");
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
    }
}
