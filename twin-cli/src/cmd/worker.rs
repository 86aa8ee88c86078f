//! `twin worker <twin> --queue postgres://... [--objects URL] [--scenarios DIR]...
//! [--name N] [--heartbeat-s S] [--orphan-after-s S] [--max-runs N] [--gpu]`: runs scenario
//! runs from the PostgreSQL queue (`scenarios::jobs::worker`) until Ctrl-C, their results put
//! in object storage for any `twin serve --queue` replica to serve.

use super::flood_solver;
use anyhow::{Context, Result};
use scenarios::jobs::{run_worker, WorkerOptions};
use scenarios::objects::Objects;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Arguments of `twin worker`.
#[derive(clap::Args)]
pub struct WorkerArgs {
    /// The twin folder (runs go to <twin>/runs while they run here).
    twin: PathBuf,
    /// The run queue: postgres://user@host:port/database.
    #[arg(long)]
    queue: String,
    /// Where results go: a folder, file:///path or s3://bucket?endpoint=http://host:port
    /// (default: <twin>/objects, for a single machine).
    #[arg(long)]
    objects: Option<String>,
    /// Folders the scenarios' relative paths are read from (as `twin serve --scenarios`;
    /// `<twin>/scenarios` when there is one).
    #[arg(long = "scenarios")]
    scenarios: Vec<PathBuf>,
    /// This worker's name in the queue (default: host-pid).
    #[arg(long)]
    name: Option<String>,
    /// Seconds between heartbeats.
    #[arg(long, default_value_t = 2.0)]
    heartbeat_s: f64,
    /// A running run whose heartbeat is older than this many seconds is requeued.
    #[arg(long, default_value_t = 15.0)]
    orphan_after_s: f64,
    /// Wall-clock seconds a run may take (0: no limit).
    #[arg(long, default_value_t = 7200)]
    run_time_limit_s: u64,
    /// Stop after this many runs (default: run until stopped).
    #[arg(long)]
    max_runs: Option<usize>,
    /// Solve floods on the GPU (wgpu).
    #[arg(long)]
    gpu: bool,
}

/// Works until Ctrl-C (the run in hand is finished first) or `--max-runs`.
pub fn run(a: WorkerArgs) -> Result<()> {
    let dir = twin_core::TwinDir::open(&a.twin)?;
    let twin = dir.load()?;
    let objects = match &a.objects {
        Some(u) => Objects::open(u)?,
        None => Objects::local(&dir.dir.join("objects"))?,
    };
    let mut scenarios = a.scenarios.clone();
    if scenarios.is_empty() && dir.dir.join("scenarios").is_dir() {
        scenarios.push(dir.dir.join("scenarios"));
    }
    let secs = |s: f64, what: &str| -> Result<Duration> {
        Duration::try_from_secs_f64(s)
            .ok()
            .filter(|d| !d.is_zero())
            .with_context(|| format!("--{what} {s}: a positive number of seconds"))
    };
    let opts = WorkerOptions {
        scenario_dirs: scenarios,
        solver: flood_solver(a.gpu),
        heartbeat: secs(a.heartbeat_s, "heartbeat-s")?,
        orphan_after: secs(a.orphan_after_s, "orphan-after-s")?,
        time_limit: (a.run_time_limit_s > 0).then(|| Duration::from_secs(a.run_time_limit_s)),
        max_runs: a.max_runs,
        ..WorkerOptions::new(dir.dir.clone())
    };
    let name = a.name.clone().unwrap_or_else(|| {
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "worker".into());
        format!("{host}-{}", std::process::id())
    });
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    // Ctrl-C: finish the run in hand, then stop.
    std::thread::spawn(move || {
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            let _ = rt.block_on(tokio::signal::ctrl_c());
            s.store(true, Ordering::Relaxed);
        }
    });
    eprintln!("worker {name}: results to {objects}");
    let n = run_worker(&a.queue, &name, &objects, &twin, &opts, &stop)?;
    eprintln!("worker {name}: {n} runs finished");
    Ok(())
}
