//! Issue 19: beyond one machine. Debian's PostgreSQL (scripts/pg.sh) and moto's S3 server
//! (PyPI, scripts/s3_venv.sh) on 127.0.0.1; 2 `twin serve --queue` replicas and 2 `twin
//! worker`s as real processes; 8 runs posted through both replicas; one worker killed -9 in
//! the middle of a run. Asserted: every run finishes exactly once (one final NOTIFY, one SSE
//! `end` through the *other* replica, results only under the finishing attempt's prefix),
//! the killed run is requeued and finished by the other worker on its second attempt, and
//! every run's result files are byte-equal to the same scenario run on one machine
//! (`twin scenario run`), `compare.json` equal but for the run ids it names.

mod common;

use scenarios::jobs::{Listener, Queue, RunInfo, Status};
use scenarios::objects::Objects;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use testkit::services::{free_port, Moto, Pg, Proc};

/// One HTTP/1.1 request over a fresh connection: status and body.
fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &str,
    body: &[u8],
) -> Option<(u16, Vec<u8>)> {
    let mut t = TcpStream::connect(addr).ok()?;
    t.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    t.write_all(req.as_bytes()).ok()?;
    t.write_all(body).ok()?;
    let mut out = Vec::new();
    let _ = t.read_to_end(&mut out);
    let split = out.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&out[..split]).to_string();
    let status: u16 = head.split(' ').nth(1)?.parse().ok()?;
    let mut body = out[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Some((status, body))
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = b.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(String::from_utf8_lossy(&b[..i]).trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.extend_from_slice(&b[i + 2..i + 2 + n]);
        b = &b[i + 2 + n + 2..];
    }
    out
}

fn wait_http(addr: &str, path: &str, what: &str) {
    let t = Instant::now();
    while http(addr, "GET", path, "", b"").is_none_or(|(s, _)| s >= 500) {
        assert!(
            t.elapsed() < Duration::from_secs(180),
            "{what} did not start"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// What one SSE stream of a run saw: progress fractions, and its `end` events' data.
#[derive(Default, Debug)]
struct Seen {
    progress: Vec<f64>,
    ends: Vec<serde_json::Value>,
}

/// Reads `/api/runs/<id>/events` from `addr` until the stream ends.
fn follow(addr: String, id: String, seen: Arc<Mutex<Seen>>) {
    let mut t = TcpStream::connect(&addr).unwrap();
    t.set_read_timeout(Some(Duration::from_secs(600))).unwrap();
    write!(
        t,
        "GET /api/runs/{id}/events HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut event = String::new();
    for line in BufReader::new(t).lines() {
        let Ok(line) = line else { break };
        if let Some(e) = line.strip_prefix("event: ") {
            event = e.trim().to_string();
        } else if let Some(d) = line.strip_prefix("data: ") {
            let v: serde_json::Value = serde_json::from_str(d).unwrap_or_default();
            let mut s = seen.lock().unwrap();
            match event.as_str() {
                "progress" => s.progress.push(v["fraction"].as_f64().unwrap_or(-1.0)),
                "end" => s.ends.push(v),
                _ => {}
            }
        }
    }
}

/// A planner token in the twin's store.
fn build_twin(dir: &Path, with_token: bool) -> Option<String> {
    common::copy_sample_twin(dir);
    let td = twin_core::TwinDir::open(dir).unwrap();
    td.build(&twin_core::NoProgress).unwrap();
    with_token.then(|| {
        twin_core::tokens::Tokens::open(&td.store_path())
            .unwrap()
            .create(twin_core::tokens::Role::Planner, "scale_out")
            .unwrap()
            .token
    })
}

fn flood(stage: f64, duration_s: u32) -> String {
    format!(
        "model = \"flood\"\nbaseline = \"none\"\nname = \"stage {stage} m, {duration_s} s\"\n\
         bbox = [772000, 1820000, 778000, 1825500]\nresolution_m = 60\nduration_s = {duration_s}\n\
         output_interval_s = {}\n[[stage]]\nwater = \"song-huong\"\nseries = [[0, {stage}]]\nfill = true\n\
         [buildings]\nburn = true\n",
        duration_s / 2
    )
}

const TRAFFIC: &str =
    "model = \"traffic\"\nbaseline = \"none\"\nname = \"bridge closed\"\ntop_links = 5\n\
[demand]\nkind = \"gravity\"\ncell_size_m = 500.0\nbeta = 0.1\ntotal_trips = 5000.0\n\
storey_height_m = 3.2\nconstraint = \"doubly\"\n[assign]\ntarget_gap = 1e-4\nmax_iterations = 100\n\
[[edit]]\ntype = \"close\"\nnames = [\"Cầu Trường Tiền\"]\n";

#[test]
fn two_replicas_two_workers_one_killed() {
    let tmp = tempfile::tempdir().unwrap();
    let pg = Pg::start();
    // moto's S3 server, in memory, plain HTTP, path-style.
    let moto = Moto::start("huetwin");
    let s3 = &moto.addr;
    let objects_url = format!("s3://huetwin?endpoint=http://{s3}");
    let aws = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_ALLOW_HTTP", "true"),
        ("AWS_REGION", "us-east-1"),
    ];
    for (k, v) in aws {
        // SAFETY-free in edition 2021; the test's own threads read them later.
        std::env::set_var(k, v);
    }

    // The servers' twin, the workers' twin (another machine's copy), one machine's twin.
    let (twin_s, twin_w, twin_1) = (
        tmp.path().join("serve"),
        tmp.path().join("worker"),
        tmp.path().join("one"),
    );
    let token = build_twin(&twin_s, true).unwrap();
    build_twin(&twin_w, false);
    build_twin(&twin_1, false);
    let scen = tmp.path().join("scen");
    std::fs::create_dir_all(&scen).unwrap();
    let files: [(&str, String); 4] = [
        ("f28.toml", flood(2.8, 7200)),
        ("f32.toml", flood(3.2, 10800)),
        ("f35.toml", flood(3.5, 28800)),
        ("bridge.toml", TRAFFIC.to_string()),
    ];
    for (name, text) in &files {
        std::fs::write(scen.join(name), text).unwrap();
    }

    // Every notification of the queue, heard from the start.
    let notes = Arc::new(Mutex::new(Vec::new()));
    {
        let mut l = Listener::connect(&pg.url).unwrap();
        let notes = notes.clone();
        std::thread::spawn(move || {
            while let Ok(evs) = l.next_events(Duration::from_millis(200)) {
                notes.lock().unwrap().extend(evs);
            }
        });
    }

    let bin = env!("CARGO_BIN_EXE_twin");
    let spawn = |args: Vec<String>, log: &str| {
        let log = std::fs::File::create(tmp.path().join(log)).unwrap();
        let mut c = Command::new(bin);
        c.args(&args)
            .envs(aws)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log);
        Proc(c.spawn().unwrap())
    };
    let replicas: Vec<String> = (0..2)
        .map(|_| format!("127.0.0.1:{}", free_port()))
        .collect();
    let mut procs = Vec::new();
    for (i, addr) in replicas.iter().enumerate() {
        procs.push(spawn(
            vec![
                "serve".into(),
                twin_s.display().to_string(),
                "--addr".into(),
                addr.clone(),
                "--scenarios".into(),
                scen.display().to_string(),
                "--queue".into(),
                pg.url.clone(),
                "--objects".into(),
                objects_url.clone(),
            ],
            &format!("serve{i}.log"),
        ));
    }
    let mut workers = BTreeMap::new();
    for w in ["w1", "w2"] {
        workers.insert(
            w,
            spawn(
                vec![
                    "worker".into(),
                    twin_w.display().to_string(),
                    "--queue".into(),
                    pg.url.clone(),
                    "--objects".into(),
                    objects_url.clone(),
                    "--scenarios".into(),
                    scen.display().to_string(),
                    "--name".into(),
                    w.into(),
                    "--heartbeat-s".into(),
                    "0.5".into(),
                    "--orphan-after-s".into(),
                    "3".into(),
                ],
                &format!("{w}.log"),
            ),
        );
    }
    for addr in &replicas {
        wait_http(addr, "/healthz", "twin serve");
    }

    // 8 runs, posted through both replicas in turn; each followed through the other one.
    let mut ids: Vec<(String, &str)> = Vec::new();
    let mut seen = BTreeMap::new();
    let mut followers = Vec::new();
    for k in 0..8 {
        let (name, _) = &files[k % 4];
        let body = format!("{{\"scenario\": \"{name}\"}}");
        let (st, resp) = http(
            &replicas[k % 2],
            "POST",
            "/api/runs",
            &format!("Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"),
            body.as_bytes(),
        )
        .unwrap();
        assert_eq!(st, 202, "{}", String::from_utf8_lossy(&resp));
        let v: serde_json::Value = serde_json::from_slice(&resp).unwrap();
        let id = v["run"]["id"].as_str().unwrap().to_string();
        assert_eq!(v["run"]["status"], "queued");
        let s = Arc::new(Mutex::new(Seen::default()));
        let (a, i2, s2) = (replicas[(k + 1) % 2].clone(), id.clone(), s.clone());
        followers.push(std::thread::spawn(move || follow(a, i2, s2)));
        seen.insert(id.clone(), s);
        ids.push((id, name));
    }
    // A write without a token is refused by a queue replica too.
    let (st, _) = http(
        &replicas[1],
        "POST",
        "/api/runs",
        "Content-Type: application/json\r\n",
        b"{\"scenario\": \"f28.toml\"}",
    )
    .unwrap();
    assert_eq!(st, 401);

    // Kill w1 -9 in the middle of a run (started, not near its end).
    let queue = Queue::connect(&pg.url, "test").unwrap();
    let t = Instant::now();
    let killed: RunInfo = loop {
        let running = queue.list().unwrap().into_iter().find(|r| {
            r.status == Status::Running
                && r.worker.as_deref() == Some("w1")
                && r.progress > 0.02
                && r.progress < 0.8
        });
        if let Some(r) = running {
            break r;
        }
        assert!(
            t.elapsed() < Duration::from_secs(300),
            "w1 never ran a run: {:?}",
            queue.list().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(workers.remove("w1")); // SIGKILL
    assert!(!killed.status.is_final());

    // All 8 end.
    let t = Instant::now();
    let runs = loop {
        let runs = queue.list().unwrap();
        if runs.len() == 8 && runs.iter().all(|r| r.status.is_final()) {
            break runs;
        }
        assert!(
            t.elapsed() < Duration::from_secs(900),
            "runs did not end: {:?}",
            runs.iter()
                .map(|r| (&r.id, r.status, r.progress, &r.worker))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    for f in followers {
        f.join().unwrap();
    }
    std::thread::sleep(Duration::from_millis(500));
    let by_id: BTreeMap<String, RunInfo> = runs.into_iter().map(|r| (r.id.clone(), r)).collect();
    for (id, _) in &ids {
        let r = &by_id[id];
        assert_eq!(r.status, Status::Done, "{id}: {:?}", r.error);
        if *id == killed.id {
            assert_eq!(
                r.attempt,
                Some(2),
                "the killed run's second attempt finished it"
            );
            assert_eq!(r.worker.as_deref(), Some("w2"));
        } else {
            assert!(r.attempt.is_some());
        }
    }
    // Exactly once: one final notification per run, `done`; the killed run was requeued once.
    let notes = notes.lock().unwrap().clone();
    for (id, _) in &ids {
        let finals: Vec<_> = notes
            .iter()
            .filter(|e| &e.run_id == id && e.status.is_final())
            .collect();
        assert_eq!(finals.len(), 1, "{id}: {finals:?}");
        assert_eq!(finals[0].status, Status::Done);
        let requeued = notes
            .iter()
            .filter(|e| &e.run_id == id && e.phase == "requeued")
            .count();
        assert_eq!(requeued, usize::from(*id == killed.id), "{id}");
    }
    // Progress and the one end, read through the replica the run was not posted to.
    let mut with_progress = 0;
    for (id, s) in &seen {
        let s = s.lock().unwrap();
        assert_eq!(s.ends.len(), 1, "{id}: {s:?}");
        assert_eq!(s.ends[0]["status"], "done", "{id}");
        assert_eq!(s.ends[0]["id"], id.as_str());
        if s.progress.iter().any(|f| *f > 0.0 && *f < 1.0) {
            with_progress += 1;
        }
    }
    assert!(
        with_progress >= 4,
        "mid-run progress of most runs streamed through the other replica: {seen:?}"
    );

    // Results: only under the finishing attempt; byte-equal to one machine's runs.
    let objects = Objects::open(&objects_url).unwrap().blocking().unwrap();
    let keys = objects.list("runs").unwrap();
    let mut one_machine: BTreeMap<&str, PathBuf> = BTreeMap::new();
    for (name, _) in &files {
        let out = common::twin(&[
            "scenario",
            "run",
            twin_1.to_str().unwrap(),
            scen.join(name).to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", common::text(&out));
        let r = scenarios::jobs::RunStore::for_twin(&twin_1)
            .list()
            .unwrap()
            .pop()
            .unwrap();
        one_machine.insert(name, twin_1.join("runs").join(&r.id));
    }
    let (mut compared, mut json_untimed) = (0, 0);
    for (id, name) in &ids {
        let prefix = format!("runs/{id}/a{}/", by_id[id].attempt.unwrap());
        let mine: BTreeSet<&String> = keys
            .iter()
            .filter(|k| k.starts_with(&format!("runs/{id}/")))
            .collect();
        assert!(
            mine.iter().all(|k| k.starts_with(&prefix)),
            "{id}: objects outside {prefix}: {mine:?}"
        );
        let local = &one_machine[name];
        let mut local_files = BTreeSet::new();
        for e in walk(local) {
            let rel = e.strip_prefix(local).unwrap().to_string_lossy().to_string();
            if rel.starts_with('.') || rel == "run.json" {
                continue;
            }
            local_files.insert(rel);
        }
        let remote_files: BTreeSet<String> = mine
            .iter()
            .map(|k| k[prefix.len()..].to_string())
            .filter(|k| k != "run.json")
            .collect();
        assert_eq!(remote_files, local_files, "{id} ({name}): the same files");
        for rel in &local_files {
            let a = std::fs::read(local.join(rel)).unwrap();
            let b = objects.get(&format!("{prefix}{rel}")).unwrap().unwrap();
            if rel.ends_with(".json") {
                // JSON names the run (compare.json) and times the solver (summary.json's
                // solver_wall_s, cell_updates_per_s): equal once those are taken out.
                assert_eq!(untimed(&a), untimed(&b), "{id} ({name}) {rel}");
                if a != b {
                    json_untimed += 1;
                }
            } else {
                assert!(
                    a == b,
                    "{id} ({name}) {rel}: differs from one machine's run"
                );
            }
            compared += 1;
        }
        // The replicas serve the stored results.
        let (st, body) = http(
            &replicas[0],
            "GET",
            &format!("/api/runs/{id}/files/impacts.json"),
            "",
            b"",
        )
        .unwrap();
        assert_eq!(st, 200);
        assert_eq!(
            body,
            objects
                .get(&format!("{prefix}impacts.json"))
                .unwrap()
                .unwrap()
        );
        let (st, body) = http(&replicas[1], "GET", &format!("/api/runs/{id}"), "", b"").unwrap();
        assert_eq!(st, 200);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(v["impacts"].is_object(), "{id}: {v}");
    }
    assert!(compared >= 8 * 4, "{compared} files compared");
    eprintln!(
        "scale_out: {compared} result files compared with one machine's runs, byte-equal but {json_untimed} JSON files equal without their run ids and solver timings"
    );
    // Both replicas list the same 8 runs.
    for addr in &replicas {
        let (_, body) = http(addr, "GET", "/api/runs", "", b"").unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let listed: BTreeSet<&str> = v["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        let want: BTreeSet<&str> = ids.iter().map(|(i, _)| i.as_str()).collect();
        assert_eq!(listed, want);
    }
    drop(procs);
    drop(workers);
}

/// A JSON file without what differs between two runs of the same inputs: the run ids it names
/// (`run`), the folder it was written in (`output_dir`) and wall-clock timings
/// (`solver_wall_s`, `cell_updates_per_s`, the traffic solver's `seconds`).
fn untimed(bytes: &[u8]) -> serde_json::Value {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                for k in [
                    "run",
                    "solver_wall_s",
                    "cell_updates_per_s",
                    "output_dir",
                    "seconds",
                ] {
                    m.remove(k);
                }
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    strip(&mut v);
    v
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out
}
