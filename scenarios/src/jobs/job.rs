//! Running a scenario file as a stored job: baseline first when it has no stored run, then the
//! what-if, then `impacts.json` and `compare.json`, with progress and cancellation.

use super::file::{join_lexical, sha256_hex, Model, Parsed, ScenarioFile};
use super::results::{
    compare_dirs, compare_flood, compare_traffic_own, flood_impacts, write_json, write_traffic,
    Compare, CompareBody, Impacts,
};
use super::store::{rfc3339, RunInfo, RunLock, RunStore, Status, StoredInput};
use crate::error::{Result, ScenarioError};
use crate::files::AllowedRoots;
use crate::flood::{run_loaded_with, FloodModel, FloodSolver, SolverParams};
use crate::traffic::scenario::{run_loaded_with as traffic_run, ProgressEvent};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use twin_core::Progress;
use twin_core::Twin;

/// A progress report: which run, which phase, how far (0..1), what is happening.
#[derive(Clone, Debug, PartialEq)]
pub struct JobProgress {
    /// The run reporting (a baseline run reports under its own id).
    pub run_id: String,
    /// Phase ("baseline", "flood", "traffic", "impacts"...).
    pub phase: String,
    /// 0..1 over the whole job.
    pub fraction: f64,
    /// A line for people.
    pub message: String,
}

/// A progress callback.
pub type ProgressFn = dyn Fn(&JobProgress) + Send + Sync;

/// A flood solver factory that can travel to a worker thread (the CPU one:
/// [`crate::flood::cpu_solver`]; the CLI passes `renderer::flood::gpu_solver` for `--gpu`).
pub type SharedSolverFactory =
    Arc<dyn Fn(&FloodModel) -> Result<Box<dyn FloodSolver>> + Send + Sync>;

/// A flood solver factory and the name runs report for it (`cpu`, `gpu`), chosen by whoever
/// starts the work (the CLI): the server and the job runner never pick a GPU themselves.
#[derive(Clone)]
pub struct SolverChoice {
    /// The name shown in run listings.
    pub name: &'static str,
    /// Makes the solvers.
    pub factory: SharedSolverFactory,
}

impl SolverChoice {
    /// A named factory.
    pub fn new(name: &'static str, factory: SharedSolverFactory) -> SolverChoice {
        SolverChoice { name, factory }
    }

    /// The CPU reference solver ([`crate::flood::cpu_solver`]).
    pub fn cpu() -> SolverChoice {
        SolverChoice::new("cpu", Arc::new(crate::flood::cpu_solver))
    }
}

impl Default for SolverChoice {
    fn default() -> Self {
        SolverChoice::cpu()
    }
}

impl std::fmt::Debug for SolverChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SolverChoice({})", self.name)
    }
}

/// How to run a job.
#[derive(Clone)]
pub struct JobOptions {
    /// Makes flood solvers.
    pub solver: SharedSolverFactory,
    /// Called on every progress step (often: throttle it for the network).
    pub progress: Option<Arc<ProgressFn>>,
    /// Set it to stop the job; it ends `cancelled` within about a second.
    pub cancel: Arc<AtomicBool>,
    /// Longest wall-clock time the job may run (its baseline runs included), counted from
    /// [`Job::run`]; past it the job is stopped as if cancelled and ends `failed` with
    /// [`ScenarioError::TimedOut`]. None: no limit.
    pub time_limit: Option<Duration>,
}

impl Default for JobOptions {
    fn default() -> Self {
        JobOptions {
            solver: Arc::new(crate::flood::cpu_solver),
            progress: None,
            cancel: Arc::new(AtomicBool::new(false)),
            time_limit: None,
        }
    }
}

/// A run created in the store (status queued), ready to [`Job::run`] or [`Job::spawn`].
pub struct Job {
    store: RunStore,
    file: ScenarioFile,
    info: RunInfo,
    /// Held from creation to the end of the run: the run is this process's.
    lock: RunLock,
}

/// A job going on a worker thread.
pub struct JobHandle {
    /// The run id.
    pub id: String,
    /// The job's cancel flag.
    pub cancel: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Result<RunInfo>>,
}

impl JobHandle {
    /// Asks the job to stop.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Whether the thread has ended.
    pub fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }

    /// Waits for the job: its final `run.json` when done, the error otherwise.
    pub fn join(self) -> Result<RunInfo> {
        self.thread.join().unwrap_or_else(|_| {
            Err(ScenarioError::Solver {
                solver: "job".into(),
                message: "the job thread panicked".into(),
            })
        })
    }
}

/// Where the stored copy of the top scenario file goes inside `input/`: deep enough that every
/// `..` of its inputs stays inside.
fn input_layout(file: &ScenarioFile) -> PathBuf {
    let mut up = 0usize;
    for i in &file.inputs {
        let mut depth = 0i64;
        let mut min = 0i64;
        for c in i.rel.components() {
            match c {
                Component::ParentDir => depth -= 1,
                Component::Normal(_) => depth += 1,
                _ => {}
            }
            min = min.min(depth);
        }
        up = up.max((-min) as usize);
    }
    let mut p = PathBuf::from("input");
    for k in 0..up {
        p.push(format!("d{}", k + 1));
    }
    p
}

/// Copies the scenario text and its inputs into the run folder; returns the stored scenario
/// file (relative to the run folder) and the stored inputs.
fn store_inputs(dir: &Path, file: &ScenarioFile) -> Result<(String, Vec<StoredInput>)> {
    let base = input_layout(file);
    let mk = |p: &Path| -> Result<()> {
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| ScenarioError::io(parent, e))?;
        }
        Ok(())
    };
    let top = base.join("scenario.toml");
    mk(&dir.join(&top))?;
    std::fs::write(dir.join(&top), &file.text).map_err(|e| ScenarioError::io(dir.join(&top), e))?;
    std::fs::write(dir.join("scenario.toml"), &file.text)
        .map_err(|e| ScenarioError::io(dir.join("scenario.toml"), e))?;
    let mut stored = vec![StoredInput {
        path: top.to_string_lossy().to_string(),
        sha256: sha256_hex(file.text.as_bytes()),
    }];
    for i in &file.inputs {
        let bytes = crate::files::read_bounded(&i.path)
            .map_err(|r| ScenarioError::parse(&i.rel, "file", r))?;
        if i.rel.is_absolute() {
            stored.push(StoredInput {
                path: i.rel.to_string_lossy().to_string(),
                sha256: sha256_hex(&bytes),
            });
            continue;
        }
        let rel = join_lexical(&base, &i.rel);
        let to = dir.join(&rel);
        mk(&to)?;
        std::fs::write(&to, &bytes).map_err(|e| ScenarioError::io(&to, e))?;
        stored.push(StoredInput {
            path: rel.to_string_lossy().to_string(),
            sha256: sha256_hex(&bytes),
        });
    }
    Ok((top.to_string_lossy().to_string(), stored))
}

/// Reports progress to the caller and into `run.json` (at most every 200 ms, and on every
/// phase change).
struct Reporter<'a> {
    store: &'a RunStore,
    info: Mutex<RunInfo>,
    user: &'a (dyn Fn(&JobProgress) + Sync),
    last_write: Mutex<Option<Instant>>,
}

impl Reporter<'_> {
    fn report(&self, phase: &str, fraction: f64, message: String) {
        let mut info = self.info.lock().unwrap_or_else(|p| p.into_inner());
        let changed = info.phase != phase;
        info.phase = phase.to_string();
        info.progress = fraction.clamp(0.0, 1.0);
        info.message = message;
        let ev = JobProgress {
            run_id: info.id.clone(),
            phase: info.phase.clone(),
            fraction: info.progress,
            message: info.message.clone(),
        };
        let mut last = self.last_write.lock().unwrap_or_else(|p| p.into_inner());
        if changed || last.is_none_or(|t| t.elapsed().as_millis() >= 200) {
            *last = Some(Instant::now());
            if let Err(e) = self.store.write(&info) {
                tracing::warn!("run.json: {e}");
            }
        }
        drop(last);
        drop(info);
        (self.user)(&ev);
    }

    fn update(&self, f: impl FnOnce(&mut RunInfo)) -> Result<RunInfo> {
        let mut info = self.info.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut info);
        self.store.write(&info)?;
        Ok(info.clone())
    }

    fn snapshot(&self) -> RunInfo {
        self.info.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Twin-core [`Progress`] → fractions of one span of the job.
struct FloodProgress<'a> {
    rep: &'a Reporter<'a>,
    span: (f64, f64),
    total: Mutex<(u64, u64)>,
}

impl Progress for FloodProgress<'_> {
    fn start(&self, _phase: &str, total: u64) {
        *self.total.lock().unwrap_or_else(|p| p.into_inner()) = (total, 0);
    }
    fn inc(&self, n: u64) {
        let (total, done) = {
            let mut t = self.total.lock().unwrap_or_else(|p| p.into_inner());
            t.1 += n;
            *t
        };
        let f = if total > 0 {
            done as f64 / total as f64
        } else {
            0.0
        };
        self.rep.report(
            "flood",
            self.span.0 + f * (self.span.1 - self.span.0),
            format!("model time {done} s of {total} s"),
        );
    }
}

fn check_cancel(cancel: &AtomicBool) -> Result<()> {
    if cancel.load(Ordering::Relaxed) {
        Err(ScenarioError::Cancelled)
    } else {
        Ok(())
    }
}

fn solver_params(sc: &crate::flood::LoadedScenario) -> (f64, f64) {
    let d = SolverParams::default();
    let s = &sc.scenario.solver;
    (
        s.wet_depth_m.as_ref().map_or(d.wet_depth, |v| *v.get_ref()),
        s.hazard_depth_m
            .as_ref()
            .map_or(d.hazard_depth, |v| *v.get_ref()),
    )
}

impl Job {
    /// Creates a run of a parsed scenario file in the twin's store (`<twin_dir>/runs`),
    /// status queued, with its inputs copied.
    pub fn create(twin_dir: &Path, file: ScenarioFile) -> Result<Job> {
        let store = RunStore::for_twin(twin_dir);
        let (info, lock) = store.create_locked(RunInfo::queued(
            &file.name,
            file.model,
            &file.path.display().to_string(),
            &file.hash,
        ))?;
        let dir = store.dir(&info.id)?;
        let mut job = Job {
            store,
            file,
            info,
            lock,
        };
        match store_inputs(&dir, &job.file) {
            Ok((top, inputs)) => {
                job.info.input_file = top;
                job.info.inputs = inputs;
                job.store.write(&job.info)?;
                Ok(job)
            }
            Err(e) => {
                job.info.status = Status::Failed;
                job.info.error = Some(e.to_string());
                job.info.finished = Some(rfc3339(SystemTime::now()));
                job.store.write(&job.info)?;
                Err(e)
            }
        }
    }

    /// A job for a run made by the queue ([`super::queue`]): `info` carries its id, name and
    /// creation time; its folder under `<twin_dir>/runs` is made afresh (an earlier
    /// attempt's partial outputs on this machine removed) with the inputs copied.
    pub fn create_with_info(twin_dir: &Path, file: ScenarioFile, info: RunInfo) -> Result<Job> {
        let store = RunStore::for_twin(twin_dir);
        let (info, lock) = store.create_locked_with_id(info)?;
        let dir = store.dir(&info.id)?;
        let mut job = Job {
            store,
            file,
            info,
            lock,
        };
        let (top, inputs) = store_inputs(&dir, &job.file)?;
        job.info.input_file = top;
        job.info.inputs = inputs;
        job.store.write(&job.info)?;
        Ok(job)
    }

    /// [`Job::create`] from a scenario file; the files it names may come from its own folder
    /// and the twin folder (the command line's rule).
    pub fn from_path(twin_dir: &Path, path: &Path) -> Result<Job> {
        let base = path.parent().unwrap_or(Path::new("."));
        Job::from_path_in(twin_dir, path, &AllowedRoots::new([base, twin_dir]))
    }

    /// [`Job::create`] from a scenario file whose inputs may only come from inside `roots`
    /// (a server: its scenario folders and the twin).
    pub fn from_path_in(twin_dir: &Path, path: &Path, roots: &AllowedRoots) -> Result<Job> {
        Job::create(twin_dir, ScenarioFile::load_in(path, roots)?)
    }

    /// [`Job::create`] from scenario text (a server POST): relative paths in it are read
    /// against `base_dir`, only from inside `roots`, and `name` (e.g. "posted") names it in
    /// errors.
    pub fn from_text(
        twin_dir: &Path,
        text: &str,
        base_dir: &Path,
        name: &str,
        roots: &AllowedRoots,
    ) -> Result<Job> {
        let path = base_dir.join(format!("{name}.toml"));
        Job::create(
            twin_dir,
            ScenarioFile::parse_in(&path, text.to_string(), roots)?,
        )
    }

    /// A new run of a stored run's inputs (its `input/` copy), keeping its name.
    pub fn rerun(twin_dir: &Path, run_id: &str) -> Result<Job> {
        let store = RunStore::for_twin(twin_dir);
        let old = store.read(run_id)?;
        let path = store.dir(run_id)?.join(&old.input_file);
        // Its inputs were copied beside it, inside the twin.
        let mut file = ScenarioFile::load_in(&path, &AllowedRoots::new([twin_dir]))?;
        file.name = old.name.clone();
        let mut job = Job::create(twin_dir, file)?;
        job.info.scenario_file = old.scenario_file.clone();
        job.info.message = format!("rerun of {run_id}");
        job.store.write(&job.info)?;
        Ok(job)
    }

    /// The run id.
    pub fn id(&self) -> &str {
        &self.info.id
    }

    /// The run as created.
    pub fn info(&self) -> &RunInfo {
        &self.info
    }

    /// Runs the job on a worker thread.
    pub fn spawn(self, twin: Arc<Twin>, opts: JobOptions) -> JobHandle {
        let id = self.info.id.clone();
        let cancel = opts.cancel.clone();
        let thread = std::thread::spawn(move || self.run(&twin, &opts));
        JobHandle { id, cancel, thread }
    }

    /// Runs the job here: the final `run.json` when done; the error when it failed or was
    /// cancelled (`run.json` says so too).
    pub fn run(self, twin: &Twin, opts: &JobOptions) -> Result<RunInfo> {
        let user: &(dyn Fn(&JobProgress) + Sync) = match &opts.progress {
            Some(p) => p.as_ref(),
            None => &|_| {},
        };
        // The time limit: a watchdog sets the cancel flag (which the solvers and the
        // assignment watch) and says why; it ends with the job (its channel closes).
        let timed_out = Arc::new(AtomicBool::new(false));
        let (_done, done_rx) = std::sync::mpsc::channel::<()>();
        if let Some(limit) = opts.time_limit {
            let (cancel, flag) = (opts.cancel.clone(), timed_out.clone());
            std::thread::spawn(move || {
                if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = done_rx.recv_timeout(limit)
                {
                    flag.store(true, Ordering::Relaxed);
                    cancel.store(true, Ordering::Relaxed);
                }
            });
        }
        self.run_with(twin, opts, user, (0.0, 1.0), &timed_out)
    }

    fn run_with(
        self,
        twin: &Twin,
        opts: &JobOptions,
        user: &(dyn Fn(&JobProgress) + Sync),
        span: (f64, f64),
        timed_out: &AtomicBool,
    ) -> Result<RunInfo> {
        // The lock is held until this returns, the run's status final.
        let Job {
            store,
            file,
            info,
            lock: _lock,
        } = self;
        let map = move |f: f64| span.0 + f * (span.1 - span.0);
        let forward = |p: &JobProgress| {
            user(&JobProgress {
                fraction: map(p.fraction),
                ..p.clone()
            })
        };
        let rep = Reporter {
            store: &store,
            info: Mutex::new(info),
            user: &forward,
            last_write: Mutex::new(None),
        };
        rep.update(|i| {
            i.status = Status::Running;
            i.started = Some(rfc3339(SystemTime::now()));
        })?;
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_inner(&store, &file, twin, opts, &rep, timed_out)
        }))
        .unwrap_or_else(|p| {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            Err(ScenarioError::Solver {
                solver: "job".into(),
                message: format!("panicked: {msg}"),
            })
        });
        let now = rfc3339(SystemTime::now());
        match outcome {
            Ok(()) => {
                let info = rep.update(|i| {
                    i.status = Status::Done;
                    i.progress = 1.0;
                    i.phase = "done".into();
                    i.finished = Some(now);
                })?;
                forward(&JobProgress {
                    run_id: info.id.clone(),
                    phase: "done".into(),
                    fraction: 1.0,
                    message: "done".into(),
                });
                Ok(info)
            }
            Err(e) => {
                let e = match e {
                    ScenarioError::Cancelled if timed_out.load(Ordering::Relaxed) => {
                        ScenarioError::TimedOut {
                            limit_s: opts.time_limit.map_or(0, |d| d.as_secs()),
                        }
                    }
                    e => e,
                };
                let cancelled = matches!(e, ScenarioError::Cancelled);
                let info = rep.update(|i| {
                    i.status = if cancelled {
                        Status::Cancelled
                    } else {
                        Status::Failed
                    };
                    i.phase = i.status.to_string();
                    i.message = e.to_string();
                    i.error = (!cancelled).then(|| e.to_string());
                    i.finished = Some(now);
                })?;
                forward(&JobProgress {
                    run_id: info.id.clone(),
                    phase: info.phase.clone(),
                    fraction: info.progress,
                    message: e.to_string(),
                });
                Err(e)
            }
        }
    }
}

/// What a job runs with: the twin, the options, and the flag its time limit sets.
struct RunEnv<'a> {
    twin: &'a Twin,
    opts: &'a JobOptions,
    timed_out: &'a AtomicBool,
}

/// A stored done run of `f`, or a new one (run now, reported as part of `span`).
fn ensure_run(
    store: &RunStore,
    f: &ScenarioFile,
    what: &str,
    env: &RunEnv,
    rep: &Reporter,
    span: (f64, f64),
) -> Result<String> {
    let RunEnv {
        twin,
        opts,
        timed_out,
    } = *env;
    if let Some(r) = store.newest_done(f.model, &f.hash)? {
        rep.report(
            what,
            span.1,
            format!("{what}: reusing run {} of {}", r.id, f.name),
        );
        return Ok(r.id);
    }
    rep.report(
        what,
        span.0,
        format!(
            "{what}: no stored run of {} with these inputs; running it first",
            f.name
        ),
    );
    let twin_dir = store
        .root()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let job = Job::create(&twin_dir, f.clone())?;
    let id = job.info.id.clone();
    let parent = |p: &JobProgress| {
        rep.report(
            what,
            p.fraction,
            format!("{what} run {}: {} {}", p.run_id, p.phase, p.message),
        )
    };
    job.run_with(twin, opts, &parent, span, timed_out)?;
    Ok(id)
}

fn run_inner(
    store: &RunStore,
    file: &ScenarioFile,
    twin: &Twin,
    opts: &JobOptions,
    rep: &Reporter,
    timed_out: &AtomicBool,
) -> Result<()> {
    let cancel = opts.cancel.as_ref();
    let id = rep.snapshot().id;
    let dir = store.dir(&id)?;
    // Runs this one depends on.
    let mut deps: Vec<(&str, &ScenarioFile)> = Vec::new();
    if let Some(b) = &file.baseline {
        deps.push(("baseline", b));
    }
    for (_, f) in &file.flood_refs {
        deps.push(("flood", f));
    }
    let missing = deps
        .iter()
        .filter(|(_, f)| matches!(store.newest_done(f.model, &f.hash), Ok(None)))
        .count();
    let dep_share = if missing > 0 { 0.45 } else { 0.0 };
    let mut dep_ids = Vec::new();
    for (k, (what, f)) in deps.iter().enumerate() {
        check_cancel(cancel)?;
        let n = deps.len() as f64;
        let span = (dep_share * k as f64 / n, dep_share * (k + 1) as f64 / n);
        let env = RunEnv {
            twin,
            opts,
            timed_out,
        };
        dep_ids.push(ensure_run(store, f, what, &env, rep, span)?);
    }
    let mut k = 0;
    if file.baseline.is_some() {
        let b = dep_ids[0].clone();
        rep.update(|i| i.baseline_run = Some(b))?;
        k = 1;
    }
    let flood_ids: Vec<String> = dep_ids[k..].to_vec();
    rep.update(|i| i.flood_runs = flood_ids.clone())?;
    check_cancel(cancel)?;
    let work = (dep_share, 0.95);
    let at = |f: f64| work.0 + f * (work.1 - work.0);
    let impacts = match &file.parsed {
        Parsed::Flood(sc) => {
            rep.report("flood", at(0.0), "preparing the flood model".into());
            let progress = FloodProgress {
                rep,
                span: work,
                total: Mutex::new((0, 0)),
            };
            let make = |m: &FloodModel| (opts.solver)(m);
            let report = run_loaded_with(sc, twin, &dir, &make, &progress, Some(&opts.cancel))?;
            rep.update(|i| i.solver = Some(report.solver.clone()))?;
            rep.report("impacts", 0.96, "per-feature impacts".into());
            let (wet, hazard) = solver_params(sc);
            Impacts::Flood(flood_impacts(&dir, wet, hazard)?)
        }
        Parsed::Traffic(sc) => {
            let mut sc = (**sc).clone();
            for ((path, _), fid) in file.flood_refs.iter().zip(&flood_ids) {
                sc.flood_depths.insert(
                    path.clone(),
                    crate::output::RunDir::new(store.dir(fid)?).road_depths_path(),
                );
            }
            let mut part = 0.0;
            let mut progress = |e: ProgressEvent| match e {
                ProgressEvent::Phase(p) => {
                    part = match p {
                        "baseline assignment" => 0.1,
                        "scenario assignment" => 0.5,
                        "access times" => 0.9,
                        _ => part,
                    };
                    rep.report("traffic", at(part), p.to_string());
                }
                ProgressEvent::Gap {
                    run,
                    record,
                    target,
                } => {
                    let decades = (-target.log10()).max(1.0);
                    let done = if record.relative_gap.is_finite() && record.relative_gap > 0.0 {
                        ((-record.relative_gap.log10()) / decades).clamp(0.0, 1.0)
                    } else if record.relative_gap == 0.0 {
                        1.0
                    } else {
                        0.0
                    };
                    rep.report(
                        "traffic",
                        at(part + 0.4 * done),
                        format!(
                            "{run} assignment: iteration {} gap {:.2e} (target {:.0e})",
                            record.iteration, record.relative_gap, target
                        ),
                    );
                }
            };
            let r = traffic_run(
                &sc,
                twin.roads.features(),
                twin.buildings.features(),
                &twin.crs,
                &mut progress,
                Some(cancel),
            )?;
            rep.report("impacts", 0.96, "link table and totals".into());
            Impacts::Traffic(write_traffic(&dir, &r)?)
        }
    };
    write_json(&dir.join("impacts.json"), &impacts)?;
    check_cancel(cancel)?;
    rep.report("compare", 0.98, "comparing with the baseline".into());
    let info = rep.snapshot();
    let body = match (file.model, &info.baseline_run) {
        (Model::Flood, Some(b)) => Some(CompareBody::Flood(compare_flood(&store.dir(b)?, &dir)?)),
        (Model::Flood, None) => None,
        (Model::Traffic, _) => Some(CompareBody::Traffic(compare_traffic_own(&dir)?)),
    };
    if let Some(body) = body {
        write_json(
            &dir.join("compare.json"),
            &Compare {
                run: id.clone(),
                baseline_run: info.baseline_run.clone(),
                body,
            },
        )?;
    }
    Ok(())
}

/// Compares two stored runs of one model (`base` first): the comparison `compare.json` would
/// hold if `run`'s baseline were `base`.
pub fn compare_runs(store: &RunStore, base: &str, run: &str) -> Result<Compare> {
    let (a, b) = (store.read(base)?, store.read(run)?);
    for r in [&a, &b] {
        if r.status != Status::Done {
            return Err(ScenarioError::invalid(
                format!("run {}", r.id),
                format!("is {}, not done", r.status),
            ));
        }
    }
    if a.model != b.model {
        return Err(ScenarioError::invalid(
            format!("runs {} and {}", a.id, b.id),
            format!(
                "a {} run cannot be compared with a {} run",
                a.model, b.model
            ),
        ));
    }
    Ok(Compare {
        run: b.id.clone(),
        baseline_run: Some(a.id.clone()),
        body: compare_dirs(a.model, &store.dir(base)?, &store.dir(run)?)?,
    })
}

/// Reads a stored run's `impacts.json`.
pub fn read_impacts(store: &RunStore, id: &str) -> Result<Impacts> {
    super::results::read_json(&store.dir(id)?.join("impacts.json"))
}

/// Reads a stored run's `compare.json` (None when it has none: a flood run without baseline).
pub fn read_compare(store: &RunStore, id: &str) -> Result<Option<Compare>> {
    let p = store.dir(id)?.join("compare.json");
    if !p.exists() {
        return Ok(None);
    }
    super::results::read_json(&p).map(Some)
}
