//! Issue 14, "safe to put on a city network", through the real server on 127.0.0.1: a posted
//! scenario reads files only inside the scenario folders and the twin (no file's contents in
//! an error, none copied under `runs/<id>/input/`, no hash of `/etc/shadow`, one answer for a
//! missing and a forbidden file, devices refused), absurd forcing is refused with its line, a
//! run is cancelled within a second even inside a solver chunk, the run queue is bounded
//! (429), a run past its time limit fails, and a run left `running` by an earlier server with
//! the same PID is marked interrupted.

mod common;

use reqwest::header;
use scenarios::jobs::{Model, RunInfo, RunStore, Status};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

async fn send(r: reqwest::RequestBuilder) -> (u16, Value) {
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let body = r.bytes().await.unwrap();
    let v = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&body)));
    (status, v)
}

async fn post_toml(c: &reqwest::Client, base: &str, toml: &str) -> (u16, Value) {
    send(
        c.post(format!("{base}/api/runs"))
            .header(header::CONTENT_TYPE, "text/plain")
            .body(toml.to_string()),
    )
    .await
}

/// Every byte under `dir` as lossy text (run folders: run.json, input copies).
fn all_text(dir: &Path) -> String {
    let mut out = String::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.push_str(&all_text(&p));
        } else if let Ok(b) = std::fs::read(&p) {
            out.push_str(&String::from_utf8_lossy(&b));
        }
    }
    out
}

/// A flood scenario on the sample twin's 60 m grid with `extra` appended.
fn flood(extra: &str) -> String {
    format!(
        "model = \"flood\"\nbaseline = \"none\"\nbbox = [772000, 1820000, 778000, 1825500]\n\
         resolution_m = 60\nduration_s = 3600\noutput_interval_s = 1800\n{extra}"
    )
}

/// `../` enough times from `from` to reach the root, then `to` (absolute).
fn dotdot(from: &Path, to: &Path) -> String {
    let ups = from.components().count();
    format!(
        "{}{}",
        "../".repeat(ups + 2),
        to.display().to_string().trim_start_matches('/')
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_files_stay_inside_the_allowed_folders() {
    let (addr, dir, _) = common::serve_sample_with_scenarios("runs-confined", |_| {});
    // A private file beside the twin, outside the scenario folder and the twin folder.
    let secret: PathBuf = dir.parent().unwrap().join("private.csv");
    std::fs::write(&secret, "time,value\nSECRET-ROW-4711,1\n").unwrap();
    let base = format!("http://{addr}");
    // Runs need a planner token.
    let c = common::client_with(&common::token(&dir, twin_core::tokens::Role::Planner));
    let scenario_dir = common::repo().join("scenarios/examples/hue");
    let relative = dotdot(&scenario_dir, &secret);
    let mut messages = Vec::new();
    for (field, path) in [
        ("csv", secret.display().to_string()),
        ("csv", relative.clone()),
        ("csv", "/etc/shadow".to_string()),
        ("csv", "/nonexistent".to_string()),
        ("csv", "/dev/zero".to_string()),
    ] {
        let started = Instant::now();
        let (s, v) = post_toml(
            &c,
            &base,
            &flood(&format!("[rain]\n{field} = \"{path}\"\n")),
        )
        .await;
        let msg = v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert_eq!(s, 400, "{path}: {v}");
        assert!(msg.contains("line 8, field `csv`"), "{path}: {msg}");
        assert!(!msg.contains("SECRET"), "{path}: {msg}");
        assert!(started.elapsed() < Duration::from_secs(10), "{path}");
        messages.push(msg.replace(&path, "<path>"));
    }
    // Missing, forbidden and outside: one answer (a device is outside the allowed folders too).
    for m in &messages[1..] {
        assert_eq!(m, &messages[0]);
    }
    assert!(
        messages[0].contains("outside the allowed folders or missing"),
        "{}",
        messages[0]
    );
    // The baseline: /etc/shadow and a missing file give the same error.
    let mut baseline = Vec::new();
    for path in [
        "/etc/shadow",
        "/nonexistent",
        "/dev/zero",
        relative.as_str(),
    ] {
        let text = flood("").replace("baseline = \"none\"", &format!("baseline = \"{path}\""));
        let (s, v) = post_toml(&c, &base, &text).await;
        assert_eq!(s, 400, "{path}: {v}");
        let msg = v["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains("line 2, field `baseline`"), "{msg}");
        baseline.push(msg.replace(path, "<path>"));
    }
    assert!(baseline.iter().all(|m| m == &baseline[0]), "{baseline:?}");
    // Nothing of the private file, nor a hash of /etc/shadow, reached the run store.
    let stored = all_text(&dir.join("runs"));
    assert!(
        !stored.contains("SECRET"),
        "the private file was copied into runs/"
    );
    if let Ok(shadow) = std::fs::read("/etc/shadow") {
        let h = scenarios::jobs::file::sha256_hex(&shadow);
        assert!(
            !stored.contains(&h),
            "run.json holds the hash of /etc/shadow"
        );
    }
    // A CSV inside the scenario folder's reach (the twin folder) is still read.
    std::fs::write(dir.join("rain.csv"), "time,mm_h\n0,10\n1800,0\n").unwrap();
    let (s, v) = post_toml(
        &c,
        &base,
        &flood(&format!(
            "[rain]\ncsv = \"{}\"\n",
            dir.join("rain.csv").display()
        )),
    )
    .await;
    assert_eq!(s, 202, "{v}");
}

/// Absurd forcing is refused when posted, with its line, before anything runs: the rain of
/// issue 14 (`[[0, 1e12]]`) stuck a run at 100 % CPU.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurd_forcing_is_refused_with_its_line() {
    let (addr, dir, _) = common::serve_sample_with_scenarios("runs-absurd", |_| {});
    let base = format!("http://{addr}");
    // Runs need a planner token.
    let c = common::client_with(&common::token(&dir, twin_core::tokens::Role::Planner));
    for (extra, needle) in [
        ("[rain]\nseries = [[0, 1e12]]\n", "line 8, field `series`: rain: point 1: rain intensity 1000000000000 mm/h is above 1000 mm/h"),
        (
            "[[inflow]]\nat = [775000, 1822000]\nseries = [[0, 1e9]]\n",
            "line 9, field `series`",
        ),
        (
            "[[stage]]\nedge = \"west\"\nseries = [[0, 2.0], [3600, 1e6]]\n",
            "line 9, field `series`",
        ),
    ] {
        let (s, v) = post_toml(&c, &base, &flood(extra)).await;
        assert_eq!(s, 400, "{extra}: {v}");
        let msg = v["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains(needle), "{extra}: {msg}");
    }
    let (s, v) = post_toml(
        &c,
        &base,
        &flood("").replace("duration_s = 3600", "duration_s = 1e9"),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("line 5, field `duration_s`"),
        "{v}"
    );
}

/// A flood scenario whose solver chunks each take many seconds: the stage holds the river
/// deep (short steps) and one output at the end makes each chunk a hundredth of 23 days.
fn slow_flood() -> String {
    "model = \"flood\"\nbaseline = \"none\"\nbbox = [772000, 1820000, 778000, 1825500]\n\
     resolution_m = 60\nduration_s = 2000000\noutput_interval_s = 2000000\nsnapshots = false\n\
     [[stage]]\nwater = \"song-huong\"\nseries = [[0, 3.5]]\nfill = true\n"
        .to_string()
}

async fn status_of(c: &reqwest::Client, base: &str, id: &str) -> Value {
    send(c.get(format!("{base}/api/runs/{id}"))).await.1["run"].clone()
}

/// Waits until run `id` has `status`, at most `limit`; its run.json.
async fn wait_for(
    c: &reqwest::Client,
    base: &str,
    id: &str,
    want: &[&str],
    limit: Duration,
) -> Value {
    let t = Instant::now();
    loop {
        let r = status_of(c, base, id).await;
        if want.iter().any(|w| r["status"] == *w) {
            return r;
        }
        assert!(
            t.elapsed() < limit,
            "run {id} not {want:?} after {limit:?}: {r}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// DELETE stops a run inside a long solver chunk within a second, and the next run starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_a_run_inside_a_solver_chunk() {
    let (addr, dir, _) = common::serve_sample_with_scenarios("runs-cancel-chunk", |_| {});
    let base = format!("http://{addr}");
    // Runs need a planner token.
    let c = common::client_with(&common::token(&dir, twin_core::tokens::Role::Planner));
    let (s, v) = post_toml(&c, &base, &slow_flood()).await;
    assert_eq!(s, 202, "{v}");
    let id = v["run"]["id"].as_str().unwrap().to_string();
    let r = wait_for(&c, &base, &id, &["running"], Duration::from_secs(60)).await;
    // Into the solver: the model is prepared in about a second.
    loop {
        let r = status_of(&c, &base, &id).await;
        if r["phase"] == "flood"
            && r["message"]
                .as_str()
                .unwrap_or("")
                .starts_with("model time")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
        assert_eq!(r["status"], "running", "{r}");
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (s, v) = send(c.delete(format!("{base}/api/runs/{id}"))).await;
    assert_eq!(s, 202, "{v} {r}");
    let t = Instant::now();
    let r = wait_for(
        &c,
        &base,
        &id,
        &["cancelled", "failed", "done"],
        Duration::from_secs(30),
    )
    .await;
    let took = t.elapsed();
    eprintln!("run {id}: cancelled {took:?} after DELETE answered");
    assert_eq!(r["status"], "cancelled", "{r}");
    assert!(
        took < Duration::from_millis(1500),
        "cancelled after {took:?}"
    );
    // The runner is free: the next run starts at once.
    let (s, v) = post_toml(&c, &base, &flood("[rain]\nseries = [[0, 10]]\n")).await;
    assert_eq!(s, 202, "{v}");
    let id2 = v["run"]["id"].as_str().unwrap().to_string();
    wait_for(&c, &base, &id2, &["done"], Duration::from_secs(60)).await;
}

/// At most `max_queued_runs` wait beside the one running (429 beyond, nothing made); a run
/// past `run_time_limit` ends failed, saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_queue_and_run_time_are_bounded() {
    let (addr, dir, _) = common::serve_sample_with_config(
        "runs-bounded",
        |_| {},
        |cfg| {
            cfg.max_queued_runs = 2;
            cfg.run_time_limit = Some(Duration::from_secs(4));
        },
    );
    let base = format!("http://{addr}");
    // Runs need a planner token.
    let c = common::client_with(&common::token(&dir, twin_core::tokens::Role::Planner));
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (s, v) = post_toml(&c, &base, &slow_flood()).await;
        assert_eq!(s, 202, "{v}");
        ids.push(v["run"]["id"].as_str().unwrap().to_string());
    }
    let before = RunStore::for_twin(&dir).list().unwrap().len();
    for _ in 0..3 {
        let (s, v) = post_toml(&c, &base, &slow_flood()).await;
        assert_eq!(s, 429, "{v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains("queued"),
            "{v}"
        );
        let (s, v) = send(c.post(format!("{base}/api/runs/{}/rerun", ids[0]))).await;
        assert_eq!(s, 429, "{v}");
    }
    assert_eq!(RunStore::for_twin(&dir).list().unwrap().len(), before);
    // The first run hits its time limit.
    let r = wait_for(
        &c,
        &base,
        &ids[0],
        &["failed", "done", "cancelled"],
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(r["status"], "failed", "{r}");
    assert!(
        r["error"].as_str().unwrap().contains("time limit of 4 s"),
        "{r}"
    );
    // Its place is free again.
    let (s, v) = post_toml(&c, &base, &slow_flood()).await;
    assert_eq!(s, 202, "{v}");
    ids.push(v["run"]["id"].as_str().unwrap().to_string());
    for id in &ids[1..] {
        let (s, _) = send(c.delete(format!("{base}/api/runs/{id}"))).await;
        assert_eq!(s, 202);
    }
    for id in &ids[1..] {
        let r = wait_for(
            &c,
            &base,
            id,
            &["cancelled", "failed"],
            Duration::from_secs(30),
        )
        .await;
        assert_eq!(r["status"], "cancelled", "{r}");
    }
}

/// A run left `running` by a server that died is marked interrupted at the next start even
/// when the new server has the same PID (here: this very process, as PID 1 in a container
/// would); a run this server is running is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_runs_are_found_by_their_lock_not_their_pid() {
    let mut stale = String::new();
    let (addr, dir, _) = common::serve_sample_with_scenarios("runs-same-pid", |dir| {
        let store = RunStore::for_twin(dir);
        let mut r = store
            .create(RunInfo::queued("old", Model::Flood, "old.toml", "0"))
            .unwrap();
        r.owner_pid = Some(std::process::id());
        r.status = Status::Running;
        store.write(&r).unwrap();
        stale = r.id;
    });
    let base = format!("http://{addr}");
    // Runs need a planner token.
    let c = common::client_with(&common::token(&dir, twin_core::tokens::Role::Planner));
    let r = status_of(&c, &base, &stale).await;
    assert_eq!(r["status"], "failed", "{r}");
    assert!(
        r["error"].as_str().unwrap().starts_with("interrupted"),
        "{r}"
    );
    // Ended: nothing to cancel.
    let (s, v) = send(c.delete(format!("{base}/api/runs/{stale}"))).await;
    assert_eq!(s, 409, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("is failed"),
        "{v}"
    );
    // A live run holds its lock: another look (a second server on the twin) leaves it.
    let (s, v) = post_toml(&c, &base, &slow_flood()).await;
    assert_eq!(s, 202, "{v}");
    let id = v["run"]["id"].as_str().unwrap().to_string();
    wait_for(&c, &base, &id, &["running"], Duration::from_secs(60)).await;
    assert!(RunStore::for_twin(&dir)
        .mark_interrupted()
        .unwrap()
        .is_empty());
    let (s, _) = send(c.delete(format!("{base}/api/runs/{id}"))).await;
    assert_eq!(s, 202);
    wait_for(&c, &base, &id, &["cancelled"], Duration::from_secs(30)).await;
}
