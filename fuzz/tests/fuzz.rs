//! The fuzz harness as a test: (a) every saved crashing input in `fuzz/regressions/<target>/`
//! is replayed and must not panic; (b) every target runs for a short bounded count of mutated
//! inputs (`FUZZ_TEST_RUNS`, default 300, at most 5 s each) and must not crash, abort or hang.

use fuzz::engine::{run_one, Outcome};
use fuzz::targets;
use std::time::Duration;

#[test]
fn every_regression_file_is_handled_without_a_panic() {
    let all = targets::all().unwrap();
    let dir = fuzz::regressions_dir();
    let mut replayed = 0;
    let mut panics = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let sub = entry.unwrap().path();
        if !sub.is_dir() {
            continue;
        }
        let name = sub.file_name().unwrap().to_string_lossy().to_string();
        let target = all
            .iter()
            .find(|t| t.name() == name)
            .unwrap_or_else(|| panic!("{}: no fuzz target {name:?}", sub.display()));
        let mut files: Vec<_> = std::fs::read_dir(&sub)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "bin"))
            .collect();
        files.sort();
        for f in files {
            let input = std::fs::read(&f).unwrap();
            replayed += 1;
            if let Outcome::Panic { location, message } = run_one(target.as_ref(), &input) {
                panics.push(format!(
                    "{}: panicked at {location}: {message}",
                    f.display()
                ));
            }
        }
    }
    println!("{replayed} regression files replayed");
    assert!(panics.is_empty(), "{}", panics.join("\n"));
}

/// Each target in its own process (the `fuzz` binary, `--no-save`), so that an input that
/// aborts the process (a failed allocation) or does not end is reported as such: at most 5 s of
/// fuzzing, killed after 60 s.
#[test]
fn every_target_survives_a_short_run() {
    let runs = std::env::var("FUZZ_TEST_RUNS").unwrap_or_else(|_| "300".into());
    let mut failures = Vec::new();
    for t in targets::all().unwrap() {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fuzz"))
            .args([
                t.name(),
                "--runs",
                &runs,
                "--seconds",
                "5",
                "--seed",
                "14",
                "--no-save",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break Some(s);
            }
            if started.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let row = stdout
            .lines()
            .find(|l| l.starts_with(&format!("| {} |", t.name())))
            .unwrap_or("");
        println!("{row}");
        match status {
            None => failures.push(format!("{}: still running after 60 s (a hang)", t.name())),
            Some(s) if !s.success() => failures.push(format!(
                "{}: exit {s}: {}",
                t.name(),
                stderr
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("at "))
                    .take(6)
                    .collect::<Vec<_>>()
                    .join("\n")
            )),
            Some(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
