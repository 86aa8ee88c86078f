//! `twin worker`'s loop: claim a run from the PostgreSQL queue ([`super::queue`]), run it
//! here as a [`Job`] in the twin's own run folder, send heartbeats and progress, upload its
//! results to object storage under `runs/<id>/a<attempt>/`, and finish it (fenced: once).

use super::file::ScenarioFile;
use super::job::{Job, JobOptions, JobProgress, SolverChoice};
use super::queue::{display_url, results_prefix, Queue, QueueEvent};
use super::store::{RunStore, Status};
use crate::error::{Result, ScenarioError};
use crate::files::AllowedRoots;
use crate::objects::Objects;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use twin_core::Twin;

/// How a worker works.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// The twin folder (its `runs/` holds the runs while they run here).
    pub twin_dir: PathBuf,
    /// Folders the scenarios' relative paths are read from (the first anchors them), besides
    /// the twin folder.
    pub scenario_dirs: Vec<PathBuf>,
    /// The flood solver.
    pub solver: SolverChoice,
    /// Heartbeat interval.
    pub heartbeat: Duration,
    /// A running run whose heartbeat is older than this is requeued (by any worker).
    pub orphan_after: Duration,
    /// How often an idle worker looks for work.
    pub poll: Duration,
    /// Wall-clock limit of one run; None: none.
    pub time_limit: Option<Duration>,
    /// Stop after this many runs (None: run until stopped).
    pub max_runs: Option<usize>,
}

impl WorkerOptions {
    /// Defaults for `twin_dir`: heartbeat 2 s, orphaned after 15 s, poll 0.5 s, CPU solver,
    /// 2 h per run.
    pub fn new(twin_dir: PathBuf) -> WorkerOptions {
        WorkerOptions {
            twin_dir,
            scenario_dirs: Vec::new(),
            solver: SolverChoice::cpu(),
            heartbeat: Duration::from_secs(2),
            orphan_after: Duration::from_secs(15),
            poll: Duration::from_millis(500),
            time_limit: Some(Duration::from_secs(7200)),
            max_runs: None,
        }
    }
}

/// Errors worth another attempt (the machine, the network, the solver's device), not the
/// scenario's own.
fn retryable(e: &ScenarioError) -> bool {
    matches!(
        e,
        ScenarioError::Io { .. }
            | ScenarioError::Objects { .. }
            | ScenarioError::Queue { .. }
            | ScenarioError::Solver { .. }
    )
}

/// Runs queued runs until `stop` is set (checked between runs and while idle) or
/// `opts.max_runs` have been run; returns how many this worker finished.
pub fn run_worker(
    queue_url: &str,
    name: &str,
    objects: &Objects,
    twin: &Twin,
    opts: &WorkerOptions,
    stop: &AtomicBool,
) -> Result<usize> {
    let queue = Arc::new(Queue::connect(queue_url, name)?);
    let blocking = objects.blocking()?;
    let mut done = 0usize;
    tracing::info!("worker {name} on {}", display_url(queue_url));
    while !stop.load(Ordering::Relaxed) && opts.max_runs.is_none_or(|m| done < m) {
        queue.requeue_orphans(opts.orphan_after)?;
        let Some(claim) = queue.claim()? else {
            std::thread::sleep(opts.poll);
            continue;
        };
        let id = claim.info.id.clone();
        let attempt = claim.attempt;
        tracing::info!("run {id}: attempt {attempt} on {name}");
        let outcome = run_claim(&queue, queue_url, &blocking, twin, opts, claim);
        match outcome {
            Ok(true) => done += 1,
            Ok(false) => tracing::warn!("run {id}: taken from this worker; its results dropped"),
            Err(e) => tracing::warn!("run {id}: {e}"),
        }
    }
    Ok(done)
}

/// Runs one claimed run; true when this worker finished it.
fn run_claim(
    queue: &Arc<Queue>,
    queue_url: &str,
    objects: &crate::objects::BlockingObjects,
    twin: &Twin,
    opts: &WorkerOptions,
    claim: super::queue::Claim,
) -> Result<bool> {
    let id = claim.info.id.clone();
    let attempt = claim.attempt;
    let claim_info = claim.info.clone();
    let cancel = Arc::new(AtomicBool::new(false));
    let ended = Arc::new(AtomicBool::new(false));
    // Heartbeats on a session of their own, so a long progress write never delays them.
    let beat = {
        let (cancel, ended) = (cancel.clone(), ended.clone());
        let hb = Queue::connect(queue_url, queue.name())?;
        let (id, every) = (id.clone(), opts.heartbeat);
        std::thread::spawn(move || {
            while !ended.load(Ordering::Relaxed) {
                match hb.heartbeat(&id, attempt) {
                    Ok(h) if !h.owned || h.cancel => cancel.store(true, Ordering::Relaxed),
                    Ok(_) => {}
                    Err(e) => tracing::warn!("run {id}: heartbeat: {e}"),
                }
                let t = Instant::now();
                while t.elapsed() < every && !ended.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        })
    };
    let result = (|| -> Result<bool> {
        let base = opts
            .scenario_dirs
            .first()
            .cloned()
            .unwrap_or_else(|| opts.twin_dir.clone());
        let mut dirs = opts.scenario_dirs.clone();
        dirs.push(opts.twin_dir.clone());
        let roots = AllowedRoots::new(dirs);
        let file = match ScenarioFile::parse_in(
            &base.join(&claim.scenario_name),
            claim.scenario.clone(),
            &roots,
        ) {
            Ok(f) => f,
            Err(e) => {
                let mut info = claim.info.clone();
                info.status = Status::Failed;
                info.phase = "failed".into();
                info.error = Some(e.to_string());
                info.finished = Some(super::store::rfc3339(std::time::SystemTime::now()));
                return queue.finish(&info, attempt, false);
            }
        };
        let job = Job::create_with_info(&opts.twin_dir, file, claim.info.clone())?;
        let last = Mutex::new((Instant::now(), String::new()));
        let progress = {
            let (queue, id) = (queue.clone(), id.clone());
            move |p: &JobProgress| {
                let mut l = last.lock().unwrap_or_else(|e| e.into_inner());
                if l.1 == p.phase && l.0.elapsed() < Duration::from_millis(250) {
                    return;
                }
                *l = (Instant::now(), p.phase.clone());
                drop(l);
                let ev = QueueEvent {
                    run_id: id.clone(),
                    status: Status::Running,
                    reporting: p.run_id.clone(),
                    phase: p.phase.clone(),
                    fraction: p.fraction,
                    message: p.message.clone(),
                };
                if let Err(e) = queue.progress(&id, attempt, &ev) {
                    tracing::warn!("run {id}: progress: {e}");
                }
            }
        };
        let jopts = JobOptions {
            solver: opts.solver.factory.clone(),
            progress: Some(Arc::new(progress)),
            cancel: cancel.clone(),
            time_limit: opts.time_limit,
        };
        let outcome = job.run(twin, &jopts);
        let store = RunStore::for_twin(&opts.twin_dir);
        let mut info = store.read(&id)?;
        info.attempt = Some(attempt);
        info.worker = Some(queue.name().to_string());
        let prefix = results_prefix(&id, attempt);
        let retry = match &outcome {
            Ok(_) => {
                // Results first, then the one fenced transition that makes them the run's.
                objects.delete_prefix(&prefix)?;
                objects.put_dir(&prefix, &store.dir(&id)?)?;
                false
            }
            Err(e) => retryable(e),
        };
        let finished = queue.finish(&info, attempt, retry)?;
        if finished && info.status == Status::Done {
            // Earlier attempts' partial results, no longer anyone's.
            for k in 1..attempt {
                objects.delete_prefix(&results_prefix(&id, k))?;
            }
        } else if !finished {
            objects.delete_prefix(&prefix)?;
        }
        Ok(finished)
    })();
    ended.store(true, Ordering::Relaxed);
    let _ = beat.join();
    match result {
        Ok(finished) => Ok(finished),
        // Failed before its end was recorded (its folder, the upload): end it here, so it
        // does not wait for the orphan sweep; machine errors get another attempt.
        Err(e) => {
            let mut info = claim_info;
            info.status = Status::Failed;
            info.phase = "failed".into();
            info.error = Some(e.to_string());
            info.finished = Some(super::store::rfc3339(std::time::SystemTime::now()));
            queue.finish(&info, attempt, retryable(&e))?;
            Err(e)
        }
    }
}
