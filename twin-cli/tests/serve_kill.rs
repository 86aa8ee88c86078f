//! Issue 14: `twin serve` killed with SIGKILL in the middle of a flood run. The run's lock
//! (`runs/<id>/.lock`) dies with the process, so the next server (here: the run store's
//! `mark_interrupted`, what `twin serve` calls at start) marks the run failed, interrupted;
//! while the server lives, the same call leaves its running run alone.

mod common;

use scenarios::jobs::{RunStore, Status};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// One HTTP/1.1 request over a fresh connection: the whole answer as text.
fn http(addr: &str, req: &str) -> Option<String> {
    let mut t = TcpStream::connect(addr).ok()?;
    t.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    t.write_all(req.as_bytes()).ok()?;
    let mut out = Vec::new();
    let _ = t.read_to_end(&mut out);
    Some(String::from_utf8_lossy(&out).to_string())
}

#[test]
fn serve_killed_mid_run_leaves_an_interrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let twin = tmp.path().join("hue");
    common::copy_sample_twin(&twin);
    // Runs need a planner token, kept in the twin's store.
    let td = twin_core::TwinDir::open(&twin).unwrap();
    td.build(&twin_core::NoProgress).unwrap();
    let token = twin_core::tokens::Tokens::open(&td.store_path())
        .unwrap()
        .create(twin_core::tokens::Role::Planner, "serve_kill")
        .unwrap()
        .token;
    let scen = tmp.path().join("scen");
    std::fs::create_dir_all(&scen).unwrap();
    std::fs::write(
        scen.join("slow.toml"),
        "model = \"flood\"\nbaseline = \"none\"\nbbox = [772000, 1820000, 778000, 1825500]\n\
         resolution_m = 60\nduration_s = 2000000\noutput_interval_s = 2000000\nsnapshots = false\n\
         [[stage]]\nwater = \"song-huong\"\nseries = [[0, 3.5]]\nfill = true\n",
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_twin"))
        .args([
            "serve",
            twin.to_str().unwrap(),
            "--addr",
            &addr,
            "--scenarios",
        ])
        .arg(&scen)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while http(
        &addr,
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .is_none_or(|r| !r.starts_with("HTTP/1.1 200"))
    {
        assert!(
            t.elapsed() < Duration::from_secs(180),
            "twin serve did not start"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let body = r#"{"scenario": "slow.toml"}"#;
    let answer = http(
        &addr,
        &format!(
            "POST /api/runs HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    let store = RunStore::for_twin(&twin);
    let id = store.list().unwrap().last().unwrap().id.clone();
    let t = Instant::now();
    while store.read(&id).unwrap().status != Status::Running {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the run did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    // Alive: its lock is held, nothing is marked.
    assert!(store.mark_interrupted().unwrap().is_empty());
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(store.read(&id).unwrap().status, Status::Running);
    assert_eq!(store.mark_interrupted().unwrap(), vec![id.clone()]);
    let r = store.read(&id).unwrap();
    assert_eq!(r.status, Status::Failed);
    assert!(r.error.unwrap().starts_with("interrupted"));
}
