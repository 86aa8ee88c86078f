//! The run queue against Debian's PostgreSQL (scripts/pg.sh) and object storage against moto's
//! S3 server (PyPI, scripts/s3_venv.sh), both started here on 127.0.0.1 (issue 19).

use scenarios::jobs::queue::{Queue, QueueEvent};
use scenarios::jobs::{Listener, Model, RunInfo, Status};
use scenarios::objects::Objects;
use std::time::{Duration, Instant};
use testkit::services::{Moto, Pg};

fn info(name: &str) -> RunInfo {
    RunInfo::queued(name, Model::Flood, &format!("{name}.toml"), "hash")
}

/// Two workers claim at once and never get the same run (SKIP LOCKED); heartbeats, progress
/// and finishing are fenced by the attempt; an orphan is requeued, then failed after its last
/// attempt; a queued run is cancelled at once, a running one flagged; every change notified.
#[test]
fn queue_claims_fences_requeues() {
    let pg = Pg::start();
    let a = Queue::connect(&pg.url, "a").unwrap();
    let b = Queue::connect(&pg.url, "b").unwrap();
    let mut listen = Listener::connect(&pg.url).unwrap();
    let mut ids = Vec::new();
    for k in 0..6 {
        ids.push(
            a.submit(info(&format!("r{k}")), "text", "r.toml", 2)
                .unwrap()
                .id,
        );
    }
    assert_eq!(a.queued_count().unwrap(), 6);
    // Claims from two sessions on two threads at once: six distinct runs, oldest first.
    let (ca, cb) = std::thread::scope(|s| {
        let ha = s.spawn(|| {
            (0..3)
                .map(|_| a.claim().unwrap().unwrap())
                .collect::<Vec<_>>()
        });
        let hb = s.spawn(|| {
            (0..3)
                .map(|_| b.claim().unwrap().unwrap())
                .collect::<Vec<_>>()
        });
        (ha.join().unwrap(), hb.join().unwrap())
    });
    let mut got: Vec<String> = ca.iter().chain(&cb).map(|c| c.info.id.clone()).collect();
    got.sort();
    assert_eq!(got, ids);
    assert!(a.claim().unwrap().is_none());
    let c = &ca[0];
    assert_eq!((c.attempt, c.info.status), (1, Status::Running));
    assert_eq!(c.info.worker.as_deref(), Some("a"));
    assert_eq!(c.scenario, "text");
    // Only the owner's heartbeat and progress count.
    assert!(a.heartbeat(&c.info.id, 1).unwrap().owned);
    assert!(!b.heartbeat(&c.info.id, 1).unwrap().owned);
    let ev = QueueEvent {
        run_id: c.info.id.clone(),
        status: Status::Running,
        reporting: c.info.id.clone(),
        phase: "flood".into(),
        fraction: 0.5,
        message: "half".into(),
    };
    assert!(a.progress(&c.info.id, 1, &ev).unwrap());
    assert!(!b.progress(&c.info.id, 1, &ev).unwrap());
    assert_eq!(a.get(&c.info.id).unwrap().unwrap().progress, 0.5);
    // Orphaned (no heartbeat for 0.3 s): requeued; the old attempt can no longer finish.
    std::thread::sleep(Duration::from_millis(400));
    for c in ca.iter().chain(&cb).skip(1) {
        a.heartbeat(&c.info.id, 1).ok();
        b.heartbeat(&c.info.id, 1).ok();
    }
    let requeued = b.requeue_orphans(Duration::from_millis(300)).unwrap();
    assert_eq!(requeued, vec![(c.info.id.clone(), Status::Queued)]);
    let mut done = c.info.clone();
    done.status = Status::Done;
    assert!(
        !a.finish(&done, 1, false).unwrap(),
        "a stale attempt cannot finish"
    );
    let c2 = b.claim().unwrap().unwrap();
    assert_eq!((c2.info.id.clone(), c2.attempt), (c.info.id.clone(), 2));
    assert!(!a.heartbeat(&c.info.id, 1).unwrap().owned);
    assert!(b.finish(&done, 2, false).unwrap());
    assert!(!b.finish(&done, 2, false).unwrap(), "finished once");
    let r = a.get(&c.info.id).unwrap().unwrap();
    assert_eq!((r.status, r.attempt), (Status::Done, Some(2)));
    // Last attempt orphaned: failed, interrupted.
    let d = &cb[0];
    let again = a.submit(info("last"), "t", "t.toml", 1).unwrap();
    let cl = a.claim().unwrap().unwrap();
    assert_eq!(cl.info.id, again.id);
    std::thread::sleep(Duration::from_millis(400));
    a.heartbeat(&d.info.id, 1).ok();
    for c in ca.iter().chain(&cb) {
        let _ = (a.heartbeat(&c.info.id, 1), b.heartbeat(&c.info.id, 1));
    }
    let out = a.requeue_orphans(Duration::from_millis(300)).unwrap();
    assert_eq!(out, vec![(again.id.clone(), Status::Failed)]);
    let f = a.get(&again.id).unwrap().unwrap();
    assert!(f.error.unwrap().starts_with("interrupted"));
    // A retryable failure with attempts left goes back to the queue.
    let mut failed = d.info.clone();
    failed.status = Status::Failed;
    failed.error = Some("disk full".into());
    assert!(b.finish(&failed, 1, true).unwrap());
    assert_eq!(a.get(&d.info.id).unwrap().unwrap().status, Status::Queued);
    // Cancel: queued at once; running flagged for its worker.
    assert_eq!(a.cancel(&d.info.id).unwrap(), Some(Status::Cancelled));
    let e = &cb[1];
    assert_eq!(a.cancel(&e.info.id).unwrap(), Some(Status::Running));
    assert!(b.heartbeat(&e.info.id, 1).unwrap().cancel);
    assert_eq!(a.cancel("nope").unwrap(), None);
    // The notifications: submitted (6 + 1), claimed, progressed, requeued, done once.
    let t = Instant::now();
    let mut evs = Vec::new();
    while t.elapsed() < Duration::from_secs(2) {
        evs.extend(listen.next_events(Duration::from_millis(100)).unwrap());
    }
    let of = |id: &str| -> Vec<(Status, String)> {
        evs.iter()
            .filter(|e| e.run_id == id)
            .map(|e| (e.status, e.phase.clone()))
            .collect()
    };
    assert_eq!(
        of(&c.info.id),
        vec![
            (Status::Queued, "queued".into()),
            (Status::Running, "claimed".into()),
            (Status::Running, "flood".into()),
            (Status::Queued, "requeued".into()),
            (Status::Running, "claimed".into()),
            (Status::Done, String::new()),
        ]
        .into_iter()
        .map(|(s, p)| (s, if p.is_empty() { done.phase.clone() } else { p }))
        .collect::<Vec<_>>()
    );
}

/// put/get/list/put_dir/get_dir/delete against moto's S3 server, as against a folder.
#[test]
fn objects_on_moto_s3() {
    let moto = Moto::start("runs-test");
    let addr = &moto.addr;
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
    ] {
        std::env::set_var(k, v);
    }
    // Plain HTTP refused unless allowed.
    let o = Objects::open(&format!("s3://runs-test?endpoint=http://{addr}")).unwrap();
    assert!(o.blocking().unwrap().put("x", b"1".to_vec()).is_err());
    let o = Objects::open(&format!(
        "s3://runs-test/pre?endpoint=http://{addr}&allow_http=true"
    ))
    .unwrap();
    let b = o.blocking().unwrap();
    let tif: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    b.put("runs/r1/a1/depth.tif", tif.clone()).unwrap();
    b.put("runs/r1/a1/impacts.json", b"{\"a\":1}".to_vec())
        .unwrap();
    b.put("runs/r1/a2/impacts.json", b"{}".to_vec()).unwrap();
    assert_eq!(b.get("runs/r1/a1/depth.tif").unwrap().unwrap(), tif);
    assert_eq!(b.get("runs/r1/a1/none").unwrap(), None);
    assert_eq!(
        b.list("runs/r1").unwrap(),
        vec![
            "runs/r1/a1/depth.tif",
            "runs/r1/a1/impacts.json",
            "runs/r1/a2/impacts.json"
        ]
    );
    // Replacing is whole.
    b.put("runs/r1/a1/impacts.json", b"{\"a\":2}".to_vec())
        .unwrap();
    assert_eq!(
        b.get("runs/r1/a1/impacts.json").unwrap().unwrap(),
        b"{\"a\":2}"
    );
    let tmp = tempfile::tempdir().unwrap();
    assert_eq!(b.get_dir("runs/r1/a1", tmp.path()).unwrap(), 2);
    assert_eq!(std::fs::read(tmp.path().join("depth.tif")).unwrap(), tif);
    assert_eq!(b.put_dir("copy", tmp.path()).unwrap().len(), 2);
    assert_eq!(b.delete_prefix("runs/r1/a1").unwrap(), 2);
    assert_eq!(b.list("runs").unwrap(), vec!["runs/r1/a2/impacts.json"]);
    // The prefix holds: the bucket's own keys start with it.
    let o2 = Objects::open(&format!(
        "s3://runs-test?endpoint=http://{addr}&allow_http=true"
    ))
    .unwrap()
    .blocking()
    .unwrap();
    assert_eq!(
        o2.list("pre").unwrap(),
        vec![
            "pre/copy/depth.tif",
            "pre/copy/impacts.json",
            "pre/runs/r1/a2/impacts.json"
        ]
    );
}
