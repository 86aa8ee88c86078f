//! Crash safety of `twin import` and `twin build`: the processes are killed (SIGKILL) at random
//! instants and at the two instants around the store's commit; every twin left behind must be
//! the state before or the state after, and `twin build` must reproduce it. Concurrent writers
//! must both land.
//!
//! `HUETWIN_KILL_RUNS` sets the number of random kills (default 50: 30 imports, 20 builds).

mod common;

use common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use twin_core::TwinDir;

/// What a twin holds: its sources (as `twin.toml` lists them once opened) and the feature
/// count of each layer.
#[derive(Clone, Debug, PartialEq, Eq)]
struct State {
    sources: Vec<PathBuf>,
    counts: BTreeMap<String, usize>,
}

fn state(dir: &Path) -> State {
    let td = TwinDir::open(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let twin = td
        .load()
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    State {
        sources: td.config.sources.iter().map(|s| s.path.clone()).collect(),
        counts: twin
            .info()
            .into_iter()
            .map(|l| (l.layer.to_string(), l.count))
            .collect(),
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.path().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// A small deterministic generator of kill instants.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn twin_cmd(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_twin"));
    c.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    c
}

/// Runs `args`, killing it after `after` (unless it ended first); true when it was killed.
fn run_and_kill(args: &[&str], after: Duration) -> bool {
    let mut child = twin_cmd(args).spawn().unwrap();
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if start.elapsed() >= after {
            child.kill().unwrap();
            child.wait().unwrap();
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn timed(args: &[&str]) -> Duration {
    let t = Instant::now();
    let o = twin(args);
    assert!(o.status.success(), "{args:?}: {}", text(&o));
    t.elapsed()
}

#[test]
fn killed_imports_and_builds_leave_the_state_before_or_after() {
    let runs: usize = std::env::var("HUETWIN_KILL_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let tmp = tempfile::tempdir().unwrap();
    let data = repo().join("data/hue");
    let heritage = data.join("heritage.geojson");
    let roads = data.join("roads.geojson");
    let (heritage, roads) = (heritage.to_str().unwrap(), roads.to_str().unwrap());

    // Before: a twin with the heritage sites; after: the roads imported too.
    let base = tmp.path().join("base");
    let b = base.to_str().unwrap();
    timed(&["import", heritage, "--into", b, "--layer", "heritage"]);
    let before = state(&base);
    let full = tmp.path().join("full");
    copy_dir(&base, &full);
    let f = full.to_str().unwrap();
    let import_time = timed(&["import", roads, "--into", f, "--layer", "roads"]);
    let after = state(&full);
    assert_ne!(before, after);
    let build_time = timed(&["build", f]);
    assert_eq!(state(&full), after, "a build reproduces the twin");

    // The two instants around the commit, deterministically.
    for (point, want) in [
        ("before-store-commit", &before),
        ("after-store-commit", &after),
    ] {
        let t = tmp.path().join(point);
        copy_dir(&base, &t);
        let ts = t.to_str().unwrap();
        let o = twin_cmd(&["import", roads, "--into", ts, "--layer", "roads"])
            .env("HUETWIN_CRASH_AT", point)
            .status()
            .unwrap();
        assert!(!o.success(), "the import was meant to crash at {point}");
        assert_eq!(&state(&t), want, "crashed at {point}");
        timed(&["build", ts]);
        assert_eq!(&state(&t), want, "rebuilt after a crash at {point}");
    }

    // Random instants: imports, then builds.
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let (mut n_before, mut n_after, mut killed) = (0, 0, 0);
    let imports = runs * 3 / 5;
    for i in 0..runs {
        let t = tmp.path().join(format!("kill{i}"));
        let ts = t.to_str().unwrap();
        let is_import = i < imports;
        let window = if is_import { import_time } else { build_time };
        // Within the time the command took alone, so that most runs are killed before their end.
        let after_d = window.mul_f64(0.8 * rng.next());
        let was_killed = if is_import {
            copy_dir(&base, &t);
            run_and_kill(
                &["import", roads, "--into", ts, "--layer", "roads"],
                after_d,
            )
        } else {
            copy_dir(&full, &t);
            run_and_kill(&["build", ts], after_d)
        };
        killed += usize::from(was_killed);
        let s = state(&t);
        if is_import {
            assert!(
                s == before || s == after,
                "import killed after {after_d:?}: {s:?}"
            );
        } else {
            assert_eq!(s, after, "build killed after {after_d:?}");
        }
        if s == before {
            n_before += 1;
        } else {
            n_after += 1;
        }
        timed(&["build", ts]);
        assert_eq!(state(&t), s, "the rebuild of kill {i} reproduces it");
        std::fs::remove_dir_all(&t).unwrap();
    }
    eprintln!(
        "{runs} runs ({imports} imports in {import_time:?} each, {} builds in {build_time:?}): \
         {killed} killed, {n_before} left the state before, {n_after} the state after",
        runs - imports
    );
    assert!(
        killed * 3 >= runs,
        "too few runs were killed ({killed} of {runs})"
    );
}

#[test]
fn concurrent_imports_both_land_and_concurrent_builds_both_succeed() {
    let tmp = tempfile::tempdir().unwrap();
    let data = repo().join("data/hue");
    let t = tmp.path().join("twin");
    let ts = t.to_str().unwrap();
    let heritage = data.join("heritage.geojson");
    timed(&[
        "import",
        heritage.to_str().unwrap(),
        "--into",
        ts,
        "--layer",
        "heritage",
    ]);
    let roads = data.join("roads.geojson");
    let water = data.join("water.geojson");
    let a = twin_cmd(&[
        "import",
        roads.to_str().unwrap(),
        "--into",
        ts,
        "--layer",
        "roads",
    ])
    .spawn()
    .unwrap();
    let b = twin_cmd(&[
        "import",
        water.to_str().unwrap(),
        "--into",
        ts,
        "--layer",
        "water",
    ])
    .spawn()
    .unwrap();
    for mut c in [a, b] {
        assert!(c.wait().unwrap().success());
    }
    let s = state(&t);
    assert_eq!(s.sources.len(), 3, "{s:?}");
    // Each import raised the twin's generation once.
    assert_eq!(TwinDir::open(&t).unwrap().config.generation, 3);
    assert!(s.counts["roads"] > 0 && s.counts["water"] > 0, "{s:?}");
    let builds: Vec<_> = (0..2)
        .map(|_| twin_cmd(&["build", ts]).spawn().unwrap())
        .collect();
    for mut c in builds {
        assert!(c.wait().unwrap().success());
    }
    assert_eq!(state(&t), s);
}
