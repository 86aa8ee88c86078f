//! The run store: one folder per run under `<twin>/runs/<run id>/`, described by `run.json`.
//!
//! `run.json` is rewritten atomically (a temporary file in the same folder, flushed, then
//! renamed over it) on every status change, so a reader (a server listing runs while one is
//! going) always sees a whole file, and a crash leaves the run `running` or `failed`, never a
//! torn file.

use super::file::{sha256_hex, Model};
use crate::error::{Result, ScenarioError};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

/// Where a run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Created, not started.
    Queued,
    /// Going.
    Running,
    /// Finished with results.
    Done,
    /// Stopped by an error (see [`RunInfo::error`]).
    Failed,
    /// Stopped by its caller.
    Cancelled,
}

impl Status {
    /// Done, failed or cancelled.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Done | Status::Failed | Status::Cancelled)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Done => "done",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        })
    }
}

/// A file stored with a run's inputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredInput {
    /// Path relative to the run folder (absolute when the scenario named an absolute path:
    /// such files are not copied).
    pub path: String,
    /// SHA-256 of its content (hex).
    pub sha256: String,
}

/// `run.json`: what a run is and where it stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// Run id: UTC time to the millisecond and a short hash, sortable and unique.
    pub id: String,
    /// Scenario name.
    pub name: String,
    /// Which engine.
    pub model: Model,
    /// The scenario file as given (for display).
    pub scenario_file: String,
    /// The stored copy of the scenario file that [`super::Job::rerun`] runs, relative to the
    /// run folder.
    pub input_file: String,
    /// SHA-256 over the scenario's inputs ([`super::ScenarioFile::hash`]).
    pub input_hash: String,
    /// Status.
    pub status: Status,
    /// 0..1.
    pub progress: f64,
    /// Current phase.
    pub phase: String,
    /// Last progress message.
    pub message: String,
    /// When the run was created (RFC 3339, UTC).
    pub created: String,
    /// When it started.
    pub started: Option<String>,
    /// When it ended (done, failed or cancelled).
    pub finished: Option<String>,
    /// The run of the baseline scenario it is compared with (flood what-ifs).
    pub baseline_run: Option<String>,
    /// The flood runs whose flooded roads a traffic run closed.
    #[serde(default)]
    pub flood_runs: Vec<String>,
    /// Which solver ran (flood).
    pub solver: Option<String>,
    /// The error, when failed.
    pub error: Option<String>,
    /// The inputs stored with the run.
    #[serde(default)]
    pub inputs: Vec<StoredInput>,
    /// The process that made the run and runs it (for people: ownership itself is the lock
    /// on `.lock` in the run folder, [`RunLock`]).
    #[serde(default)]
    pub owner_pid: Option<u32>,
    /// Queued runs ([`super::queue`]): which attempt this is (1 for the first), and so the
    /// object-storage folder of its results (`runs/<id>/a<attempt>/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// Queued runs: the worker that runs (or ran) it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
}

impl RunInfo {
    /// A run not yet in the store (no id, no times), status queued, with nothing recorded yet
    /// but what it runs: [`RunStore::create`] gives it its id and creation time.
    pub fn queued(name: &str, model: Model, scenario_file: &str, input_hash: &str) -> RunInfo {
        RunInfo {
            id: String::new(),
            name: name.into(),
            model,
            scenario_file: scenario_file.into(),
            input_file: String::new(),
            input_hash: input_hash.into(),
            status: Status::Queued,
            progress: 0.0,
            phase: "queued".into(),
            message: String::new(),
            created: String::new(),
            started: None,
            finished: None,
            baseline_run: None,
            flood_runs: Vec::new(),
            solver: None,
            error: None,
            inputs: Vec::new(),
            owner_pid: None,
            attempt: None,
            worker: None,
        }
    }
}

/// The name of the lock file in a run folder.
pub const LOCK_FILE: &str = ".lock";

/// Ownership of a run: an exclusive lock (`flock`) on `<run>/.lock`, held by the process that
/// runs it for as long as it may run it, and released by the operating system when that
/// process ends however it ends (kill -9 included). A run that is not final and whose lock
/// can be taken was interrupted ([`RunStore::mark_interrupted`]); a PID could not say so, as
/// a restarted server may get the PID of the one that died (PID 1 in a container).
#[derive(Debug)]
pub struct RunLock {
    _file: std::fs::File,
}

/// Takes the lock of run folder `dir` (made when missing); None when another open file (of
/// this process or another) holds it.
fn try_lock(dir: &Path) -> Result<Option<RunLock>> {
    let path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| ScenarioError::io(&path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(RunLock { _file: file })),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(ScenarioError::io(&path, e)),
    }
}

/// RFC 3339 UTC time (milliseconds) of `t`.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// The runs of one twin: `<twin>/runs/`.
#[derive(Clone, Debug)]
pub struct RunStore {
    root: PathBuf,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);
static LAST_MS: AtomicU64 = AtomicU64::new(0);

/// Now, to the millisecond, but later than any time this process gave before: run ids made
/// in the same millisecond still sort in creation order (their hash part is random).
fn next_millisecond() -> SystemTime {
    let now_ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut prev = LAST_MS.load(Ordering::Relaxed);
    loop {
        let ms = now_ms.max(prev + 1);
        match LAST_MS.compare_exchange_weak(prev, ms, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(ms),
            Err(p) => prev = p,
        }
    }
}

fn json_err(path: &Path, e: impl ToString) -> ScenarioError {
    ScenarioError::parse(path, "JSON", e)
}

impl RunStore {
    /// The store of the twin folder `twin_dir` (`<twin_dir>/runs`; made when a run is created).
    pub fn for_twin(twin_dir: &Path) -> RunStore {
        RunStore {
            root: twin_dir.join("runs"),
        }
    }

    /// The `runs` folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Checks that `id` is a run id (letters, digits, `-`, `.`; no path).
    pub fn check_id(id: &str) -> Result<()> {
        let ok = !id.is_empty()
            && id.len() <= 100
            && !id.starts_with('.')
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_');
        if ok {
            Ok(())
        } else {
            Err(ScenarioError::invalid(
                format!("run id {id:?}"),
                "not a run id",
            ))
        }
    }

    /// The folder of run `id`.
    pub fn dir(&self, id: &str) -> Result<PathBuf> {
        RunStore::check_id(id)?;
        Ok(self.root.join(id))
    }

    /// Makes a new run folder and its `run.json` (status queued); the id is the time and a
    /// short hash of `input_hash`, the clock and a counter. The run's lock is released at
    /// once: a run to be run is made with [`RunStore::create_locked`].
    pub fn create(&self, info: RunInfo) -> Result<RunInfo> {
        self.create_locked(info).map(|(info, _)| info)
    }

    /// [`RunStore::create`], holding the run's lock ([`RunLock`]) from before its `run.json`
    /// exists: keep it for as long as this process may run the run.
    pub fn create_locked(&self, mut info: RunInfo) -> Result<(RunInfo, RunLock)> {
        std::fs::create_dir_all(&self.root).map_err(|e| ScenarioError::io(&self.root, e))?;
        for _ in 0..100 {
            let (id, created) = RunStore::new_id(&info.input_hash);
            let dir = self.root.join(&id);
            match std::fs::create_dir(&dir) {
                Ok(()) => {
                    let Some(lock) = try_lock(&dir)? else {
                        continue;
                    };
                    info.id = id;
                    info.created = created;
                    info.status = Status::Queued;
                    info.owner_pid = Some(std::process::id());
                    self.write(&info)?;
                    return Ok((info, lock));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(ScenarioError::io(&dir, e)),
            }
        }
        Err(ScenarioError::invalid(
            "run id",
            "no free id after 100 tries",
        ))
    }

    /// Makes the folder of a run whose id was given elsewhere (a run from the queue,
    /// [`super::queue`]) and writes its `run.json` (status queued), holding its lock. A folder
    /// left by an earlier attempt of the same run on this machine is removed first: a
    /// requeued run's partial outputs never mix with the new attempt's.
    pub fn create_locked_with_id(&self, mut info: RunInfo) -> Result<(RunInfo, RunLock)> {
        std::fs::create_dir_all(&self.root).map_err(|e| ScenarioError::io(&self.root, e))?;
        let dir = self.dir(&info.id)?;
        if dir.exists() {
            let Some(_old) = try_lock(&dir)? else {
                return Err(ScenarioError::invalid(
                    format!("run {}", info.id),
                    "its folder is held by a running job of this machine",
                ));
            };
            std::fs::remove_dir_all(&dir).map_err(|e| ScenarioError::io(&dir, e))?;
        }
        std::fs::create_dir(&dir).map_err(|e| ScenarioError::io(&dir, e))?;
        let Some(lock) = try_lock(&dir)? else {
            return Err(ScenarioError::invalid(
                format!("run {}", info.id),
                "its folder is held by another process",
            ));
        };
        info.status = Status::Queued;
        info.owner_pid = Some(std::process::id());
        self.write(&info)?;
        Ok((info, lock))
    }

    /// A new run id (the time to the millisecond and a short hash of `input_hash`, the clock
    /// and a counter), as [`RunStore::create`] gives, with its creation time; for runs made
    /// elsewhere than in a run folder (the queue).
    pub fn new_id(input_hash: &str) -> (String, String) {
        let now = next_millisecond();
        let stamp = rfc3339(now).replace(['-', ':'], "").replace('.', "");
        let nanos = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let salt = format!(
            "{input_hash}:{nanos}:{}:{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        (
            format!("{stamp}-{}", &sha256_hex(salt.as_bytes())[..8]),
            rfc3339(now),
        )
    }

    /// Writes `run.json` of `info.id` atomically (temporary file, flush, rename).
    pub fn write(&self, info: &RunInfo) -> Result<()> {
        let dir = self.dir(&info.id)?;
        let path = dir.join("run.json");
        let tmp = dir.join(format!(
            ".run.json.{}.{}.tmp",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let text = serde_json::to_string_pretty(info).map_err(|e| json_err(&path, e))?;
        let mut f = std::fs::File::create(&tmp).map_err(|e| ScenarioError::io(&tmp, e))?;
        f.write_all(text.as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(|e| ScenarioError::io(&tmp, e))?;
        drop(f);
        std::fs::rename(&tmp, &path).map_err(|e| ScenarioError::io(&path, e))
    }

    /// Reads `run.json` of run `id`.
    pub fn read(&self, id: &str) -> Result<RunInfo> {
        let path = self.dir(id)?.join("run.json");
        let text = std::fs::read_to_string(&path).map_err(|e| ScenarioError::io(&path, e))?;
        serde_json::from_str(&text).map_err(|e| {
            ScenarioError::parse(
                &path,
                format!("line {}, column {}", e.line(), e.column()),
                e,
            )
        })
    }

    /// Every run, oldest first (folders without a `run.json` are skipped).
    pub fn list(&self) -> Result<Vec<RunInfo>> {
        let rd = match std::fs::read_dir(&self.root) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(ScenarioError::io(&self.root, e)),
        };
        let mut ids = Vec::new();
        for e in rd {
            let e = e.map_err(|e| ScenarioError::io(&self.root, e))?;
            let name = e.file_name().to_string_lossy().to_string();
            if RunStore::check_id(&name).is_ok() && e.path().join("run.json").is_file() {
                ids.push(name);
            }
        }
        ids.sort();
        ids.iter().map(|id| self.read(id)).collect()
    }

    /// Marks the runs left queued or running by a process that has ended (a server or a
    /// `twin scenario run` stopped mid-run) as failed, "interrupted"; returns their ids. A run
    /// is owned while its [`RunLock`] is held: runs whose lock is held (by any process, this
    /// one included) are left as they are, whatever their PID.
    pub fn mark_interrupted(&self) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        for r in self.list()? {
            if r.status.is_final() {
                continue;
            }
            let dir = self.dir(&r.id)?;
            let Some(_lock) = try_lock(&dir)? else {
                continue;
            };
            // Read again under the lock: it may have ended since it was listed.
            let mut r = self.read(&r.id)?;
            if r.status.is_final() {
                continue;
            }
            let pid = r
                .owner_pid
                .map_or_else(String::new, |p| format!(" (pid {p})"));
            r.error = Some(format!(
                "interrupted: the process that ran it{pid} ended while it was {}",
                r.status
            ));
            r.status = Status::Failed;
            r.phase = "interrupted".into();
            r.finished = Some(rfc3339(SystemTime::now()));
            self.write(&r)?;
            ids.push(r.id);
        }
        Ok(ids)
    }

    /// The newest finished run of a `model` scenario with this input hash.
    pub fn newest_done(&self, model: Model, input_hash: &str) -> Result<Option<RunInfo>> {
        Ok(self
            .list()?
            .into_iter()
            .rev()
            .find(|r| r.status == Status::Done && r.model == model && r.input_hash == input_hash))
    }

    /// Deletes run `id` and its files.
    pub fn delete(&self, id: &str) -> Result<()> {
        let dir = self.dir(id)?;
        if !dir.join("run.json").is_file() {
            return Err(ScenarioError::invalid(format!("run {id}"), "no such run"));
        }
        std::fs::remove_dir_all(&dir).map_err(|e| ScenarioError::io(&dir, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(hash: &str) -> RunInfo {
        RunInfo {
            input_file: "input/scenario.toml".into(),
            ..RunInfo::queued("n", Model::Flood, "s.toml", hash)
        }
    }

    #[test]
    fn create_list_find_delete() {
        let tmp = tempfile::tempdir().unwrap();
        let store = RunStore::for_twin(tmp.path());
        assert!(store.list().unwrap().is_empty());
        let a = store.create(info("h1")).unwrap();
        let mut b = store.create(info("h1")).unwrap();
        let c = store.create(info("h2")).unwrap();
        assert!(a.id < b.id && b.id < c.id, "{} {} {}", a.id, b.id, c.id);
        assert_eq!(a.id.len(), "20261127T031500123Z-1a2b3c4d".len());
        assert!(humantime::parse_rfc3339(&a.created).is_ok());
        assert_eq!(store.newest_done(Model::Flood, "h1").unwrap(), None);
        b.status = Status::Done;
        store.write(&b).unwrap();
        assert_eq!(store.read(&b.id).unwrap(), b);
        assert_eq!(
            store.newest_done(Model::Flood, "h1").unwrap(),
            Some(b.clone())
        );
        assert_eq!(store.newest_done(Model::Traffic, "h1").unwrap(), None);
        // Only run.json in the folder: the temporary files were renamed over it.
        let mut names: Vec<String> = std::fs::read_dir(store.dir(&b.id).unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        names.sort();
        assert_eq!(names, vec![LOCK_FILE.to_string(), "run.json".to_string()]);
        store.delete(&a.id).unwrap();
        let ids: Vec<String> = store.list().unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(ids, vec![b.id.clone(), c.id.clone()]);
        assert!(store.delete(&a.id).is_err());
        assert!(store.read("../x").is_err() && store.dir("a/b").is_err());
    }

    /// A run left running or queued by a process that ended (its lock free) is marked failed,
    /// "interrupted", whatever PID it recorded (this process's own: a restarted server with
    /// the PID of the one that died); runs whose lock is held, and finished runs, are left.
    #[test]
    fn runs_whose_lock_is_free_are_marked_interrupted() {
        let tmp = tempfile::tempdir().unwrap();
        let store = RunStore::for_twin(tmp.path());
        let mut runs = Vec::new();
        let mut held = Vec::new();
        for (status, locked) in [
            (Status::Running, false),
            (Status::Queued, false),
            (Status::Running, true),
            (Status::Queued, true),
            (Status::Done, false),
        ] {
            let (mut r, lock) = store.create_locked(info("h")).unwrap();
            assert_eq!(r.owner_pid, Some(std::process::id()));
            r.status = status;
            store.write(&r).unwrap();
            if locked {
                held.push(lock);
            }
            runs.push(r);
        }
        // A lock cannot be taken twice, even by its own process.
        assert!(try_lock(&store.dir(&runs[2].id).unwrap())
            .unwrap()
            .is_none());
        let marked = store.mark_interrupted().unwrap();
        assert_eq!(marked, vec![runs[0].id.clone(), runs[1].id.clone()]);
        let r = store.read(&runs[0].id).unwrap();
        assert_eq!(r.status, Status::Failed);
        assert!(r.finished.is_some());
        assert_eq!(
            r.error.as_deref(),
            Some(
                format!(
                    "interrupted: the process that ran it (pid {}) ended while it was running",
                    std::process::id()
                )
                .as_str()
            )
        );
        for (r, want) in runs[2..]
            .iter()
            .zip([Status::Running, Status::Queued, Status::Done])
        {
            assert_eq!(store.read(&r.id).unwrap().status, want);
        }
        assert!(store.mark_interrupted().unwrap().is_empty());
        // Released (the process ended): interrupted.
        drop(held);
        assert_eq!(
            store.mark_interrupted().unwrap(),
            vec![runs[2].id.clone(), runs[3].id.clone()]
        );
    }
}
