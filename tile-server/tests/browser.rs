//! The web viewer in a real browser: Debian's Chromium, headless with SwiftShader WebGL, driven
//! by `web/tests/browser.mjs` (playwright-core) against the server started here on the real
//! Hue OpenStreetMap import. Checks: the tilesets load with no failed tile or request and
//! nothing leaves the loopback server; the Citadel view renders (screenshot statistics); a click
//! on a known building shows its id and height; the layer toggle hides the buildings (the click
//! then finds nothing and the screenshot changes where the building was).
//!
//! Needs `scripts/setup.sh --test` (chromium, `npm ci --prefix web`, CesiumJS copied to
//! `web/vendor/cesium`). Set `HUETWIN_SKIP_BROWSER=1` to skip it on a machine without them.

use geo::{Area, InteriorPoint};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tile_server::server::{self, tiles::GeneratedTiles, ServerConfig};
use tile_server::tiles::TilesetOptions;
use twin_core::crs::{Crs, Transform};
use twin_core::import::NoProgress;
use twin_core::twin::SourceConfig;
use twin_core::TwinDir;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn check_tools() -> Result<(), String> {
    let web = repo().join("web");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    for (what, path) in [
        ("Chromium", PathBuf::from(&chromium)),
        ("playwright-core", web.join("node_modules/playwright-core")),
        ("CesiumJS", web.join("vendor/cesium/Cesium.js")),
    ] {
        if !path.exists() {
            return Err(format!(
                "{what} is missing ({}): run scripts/setup.sh --test, or set HUETWIN_SKIP_BROWSER=1",
                path.display()
            ));
        }
    }
    Command::new("node")
        .arg("--version")
        .output()
        .map_err(|e| format!("node: {e}"))?;
    Ok(())
}

#[test]
fn viewer_loads_tiles_picks_a_building_and_toggles_layers() {
    if std::env::var("HUETWIN_SKIP_BROWSER").is_ok_and(|v| v == "1") {
        eprintln!("HUETWIN_SKIP_BROWSER=1: browser test skipped");
        return;
    }
    if let Err(e) = check_tools() {
        panic!("{e}");
    }
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-test");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let dir = root.join("hue");
    let mut td = TwinDir::create(&dir, "hue-osm", Crs::epsg(32648).unwrap()).unwrap();
    td.import(
        SourceConfig {
            path: repo().join("../shared/data/hue/hue.osm.pbf"),
            layer: None,
            crs: None,
            lod: None,
        },
        &NoProgress,
    )
    .unwrap();
    let twin = Arc::new(td.load().unwrap());

    // The known building: the largest footprint near the Citadel, clicked at a point inside it.
    let to_wgs = Transform::new(&twin.crs, &Crs::wgs84()).unwrap();
    let to_utm = Transform::new(&Crs::wgs84(), &twin.crs).unwrap();
    let (cx, cy) = to_utm.apply(107.5785, 16.4695).unwrap();
    let building = twin
        .buildings
        .features()
        .iter()
        .filter(|b| {
            let p = b.footprint.interior_point();
            p.is_some_and(|p| (p.x() - cx).hypot(p.y() - cy) < 1500.0)
        })
        .max_by(|a, b| {
            a.footprint
                .unsigned_area()
                .total_cmp(&b.footprint.unsigned_area())
        })
        .expect("a building near the Citadel");
    let inside = building.footprint.interior_point().unwrap();
    let (lon, lat) = to_wgs.apply(inside.x(), inside.y()).unwrap();

    let opts = TilesetOptions::for_config(&td.config);
    let source = GeneratedTiles::plan(twin.clone(), &opts, &server::twin_fingerprint(&td)).unwrap();
    let app = server::app(twin.clone(), Arc::new(source), &ServerConfig::default()).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let (addr, serving) = server::bind(app, "127.0.0.1:0".parse().unwrap())
                .await
                .unwrap();
            tx.send(addr).unwrap();
            let _ = serving.await;
        });
    });
    let addr = rx.recv().unwrap();

    let out = root.join("shots");
    let mut child = Command::new("node")
        .arg(repo().join("web/tests/browser.mjs"))
        .arg(format!("http://{addr}/"))
        .arg(&out)
        .arg("--click")
        .arg(format!("{lon},{lat}"))
        .current_dir(repo().join("web"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node");
    let start = Instant::now();
    let limit = Duration::from_secs(420);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("the browser test ran over {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let r: Value = serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    eprintln!("browser result: {r:#}");

    assert!(output.status.success(), "node failed: {stdout}");
    assert_eq!(
        r["errors"].as_array().unwrap().len(),
        0,
        "{:#}",
        r["errors"]
    );
    assert_eq!(
        r["failedTiles"].as_array().unwrap().len(),
        0,
        "{:#}",
        r["failedTiles"]
    );
    assert_eq!(
        r["failedRequests"].as_array().unwrap().len(),
        0,
        "{:#}",
        r["failedRequests"]
    );
    assert!(
        r["tileResponses"].as_u64().unwrap() >= 3,
        "{}",
        r["tileResponses"]
    );
    let sets: Vec<&str> = r["tilesets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        sets.contains(&"buildings") && sets.contains(&"heritage"),
        "{sets:?}"
    );

    // The Citadel view: the globe and the twin cover the centre, not a blank canvas.
    let c = &r["citadel"];
    assert!(c["centreNonBlack"].as_f64().unwrap() > 0.95, "{c}");
    let spread: f64 = c["std"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert!(spread > 5.0, "a flat picture: {c}");
    assert!(out.join("citadel.png").is_file());

    // The click shows the building's id and height (rounded to 0.1 m by the panel).
    assert_eq!(
        r["clicked"]["id"],
        building.id.as_str(),
        "{:#}",
        r["clicked"]
    );
    let h = r["clicked"]["height"].as_str().unwrap_or_default();
    assert_eq!(h, format!("{:.1} m", building.height), "{:#}", r["clicked"]);
    assert_eq!(r["heritageShown"], false);

    // The toggle hides the buildings: nothing to click, and the picture changed where the
    // building was.
    assert_eq!(r["buildingsShown"], false);
    assert!(
        r["clickedHidden"]["props"].is_null(),
        "{:#}",
        r["clickedHidden"]
    );
    let t = &r["toggle"];
    assert!(t["centreChanged"].as_f64().unwrap() > 0.2, "{t}");
    assert!(out.join("building.png").is_file() && out.join("buildings-hidden.png").is_file());
}
