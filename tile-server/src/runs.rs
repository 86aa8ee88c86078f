//! Scenario runs over HTTP: list the scenario files, `POST` one to run it as a job, follow its
//! progress by server-sent events, fetch its results, cancel it; results in the 3D Tiles.
//!
//! | route | what |
//! | --- | --- |
//! | `GET /api/scenarios` | the scenario files of the configured folders |
//! | `POST /api/runs` | run a scenario: JSON `{"scenario": "<file name>"}`, or the TOML itself (`application/toml`) |
//! | `GET /api/runs`, `GET /api/runs/<id>` | stored runs; one run with its impacts and comparison |
//! | `GET /api/runs/<id>/events` | progress as server-sent events (`progress`, then one `end`) |
//! | `DELETE /api/runs/<id>` | cancel a queued or running run |
//! | `POST /api/runs/<id>/rerun` | a new run of a stored run's inputs |
//! | `GET /api/runs/<a>/compare/<b>` | run b against run a (two done runs of one model) |
//! | `GET /api/runs/<id>/files/<name>` | a result file (CSV, JSON, GeoTIFF) |
//! | `GET /api/runs/<id>/water` | output times and their water-surface tilesets |
//! | `GET /api/runs/<id>/water/<time>/tileset.json`, `.../<tile>.glb` | the water surface at one output time |
//! | `GET /tiles/buildings/...?run=<id>` | building and heritage tiles with the run's depths in their `max_flood_depth` column |
//!
//! Runs are [`scenarios::jobs::Job`]s stored under the twin (`<twin>/runs/<id>/`); one runs at
//! a time (the others wait, `queued`, at most [`RunLimits::max_queued`] of them: 429 beyond),
//! each on its own thread, stopped and failed past [`RunLimits::time_limit`]. The files a
//! scenario names are read only from the scenario folders and the twin
//! ([`scenarios::files`]).
//!
//! With a run queue (`twin serve --queue`, [`crate::runs_queue`]) the same routes queue runs in
//! PostgreSQL for `twin worker`s, read runs back from there, stream their progress from
//! LISTEN/NOTIFY and serve their results from object storage: any replica answers for any run.

use super::body::{respond, CacheTier, CachedFile};
use super::error::{ApiError, ErrorBody};
use super::runs_queue::Remote;
use super::source::TilePath;
use super::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, KeepAliveStream, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::stream::{self, StreamExt};
use quick_cache::sync::Cache;
use scenarios::files::AllowedRoots;
use scenarios::jobs::queue::event_of;
use scenarios::jobs::results::{compare_dirs, read_json};
use scenarios::jobs::{
    read_compare, read_impacts, Job, JobOptions, JobProgress, RunInfo, RunStore, ScenarioFile,
    SolverChoice, Status,
};
use scenarios::output::{FeatureTable, Raster, RunDir};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tiles3d::results::{patch_results, FeatureResults};
use tiles3d::water::WaterTiles;
use tiles3d::TilesetOptions;
use tokio::sync::watch;
use utoipa::ToSchema;

/// What the progress stream of a run carries: the same event on one machine as the queue's
/// notifications carry between machines.
pub type RunEvent = scenarios::jobs::QueueEvent;

struct Active {
    cancel: Arc<AtomicBool>,
    events: watch::Sender<RunEvent>,
}

/// The bounds on the server's scenario runs (`ServerConfig::max_queued_runs`,
/// `ServerConfig::run_time_limit`).
#[derive(Clone, Copy, Debug)]
pub struct RunLimits {
    /// Runs that may wait for the runner beside the one running; `POST /api/runs` and
    /// `.../rerun` answer 429 beyond.
    pub max_queued: usize,
    /// Wall-clock time a run may take (its baseline runs included) before it is stopped and
    /// marked failed; None: no limit.
    pub time_limit: Option<Duration>,
}

/// A place in the run queue, given back when dropped (the run ended, or was never made).
struct Slot(Arc<Mutex<usize>>);

impl Drop for Slot {
    fn drop(&mut self) {
        let mut n = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *n = n.saturating_sub(1);
    }
}

/// The run side of the server.
pub struct Runs {
    twin_dir: PathBuf,
    store: RunStore,
    scenario_dirs: Vec<PathBuf>,
    /// Where the files a scenario names may come from: the scenario folders and the twin.
    roots: AllowedRoots,
    solver: SolverChoice,
    active: Mutex<HashMap<String, Active>>,
    /// One job at a time.
    runner: Arc<Mutex<()>>,
    /// Runs made and not ended (queued or running), bounded by `limits`.
    taken: Arc<Mutex<usize>>,
    limits: RunLimits,
    results: Cache<String, Arc<HashMap<String, FeatureResults>>>,
    water: Cache<String, Arc<WaterTiles>>,
    tile_opts: TilesetOptions,
    crs: twin_core::Crs,
    /// Runs queued in PostgreSQL and run by workers, results in object storage
    /// (`twin serve --queue`); None: runs go on this server's own threads.
    remote: Option<Remote>,
}

/// A scenario file the server can run (`GET /api/scenarios`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ScenarioEntry {
    /// The file name, what `POST /api/runs` takes.
    pub file: String,
    /// The scenario's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `flood` or `traffic`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub model: Option<scenarios::jobs::Model>,
    /// The name of the scenario it is compared with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
    /// Why the file cannot be run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `GET /api/scenarios`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScenarioList {
    /// False on a server that runs no scenarios.
    pub enabled: bool,
    /// The files.
    pub scenarios: Vec<ScenarioEntry>,
}

/// A run just started (`POST /api/runs`, `POST /api/runs/{id}/rerun`).
#[derive(Debug, Serialize, ToSchema)]
pub struct RunStarted {
    /// The run (`run.json`).
    #[schema(value_type = Object)]
    pub run: RunInfo,
    /// Its server-sent events.
    pub events: String,
    /// The flood solver (`cpu`, `gpu`), on a new run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub solver: Option<&'static str>,
}

/// 202 Accepted for a new run: its `Location`, and [`RunStarted`] with its events stream.
fn accepted(info: RunInfo, solver: Option<&'static str>) -> Response {
    let id = info.id.clone();
    (
        StatusCode::ACCEPTED,
        [(header::LOCATION, format!("/api/runs/{id}"))],
        Json(RunStarted {
            run: info,
            events: format!("/api/runs/{id}/events"),
            solver,
        }),
    )
        .into_response()
}

/// 202 Accepted for a cancellation asked of run `id`.
fn cancelling(id: String) -> Response {
    (
        StatusCode::ACCEPTED,
        Json(Cancelling {
            run: id,
            cancelling: true,
        }),
    )
        .into_response()
}

/// `GET /api/runs`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunList {
    /// Every stored run, newest first.
    #[schema(value_type = Vec<Object>)]
    pub runs: Vec<RunInfo>,
}

/// `GET /api/runs/{id}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunDetail {
    /// The run (`run.json`).
    #[schema(value_type = Object)]
    pub run: RunInfo,
    /// Its totals (`impacts.json`), once done.
    #[schema(value_type = Option<Object>)]
    pub impacts: Option<scenarios::jobs::Impacts>,
    /// Its comparison with its baseline (`compare.json`), once done.
    #[schema(value_type = Option<Object>)]
    pub compare: Option<scenarios::jobs::Compare>,
    /// Output times with a depth raster (s).
    pub water_times_s: Vec<u64>,
    /// The depth classes the water tiles are coloured by (least depth in metres, sRGB colour,
    /// label; deepest first), for a legend; empty when the run has no water.
    #[schema(value_type = Vec<Object>)]
    pub water_depth_classes: Vec<tiles3d::water::DepthClass>,
}

/// `DELETE /api/runs/{id}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Cancelling {
    /// The run.
    pub run: String,
    /// Always true: the run stops soon.
    pub cancelling: bool,
}

/// One output time of a run's water surface.
#[derive(Debug, Serialize, ToSchema)]
pub struct WaterTime {
    /// Model time (s).
    pub time_s: u64,
    /// Its tileset.
    pub tileset: String,
}

/// `GET /api/runs/{id}/water`.
#[derive(Debug, Serialize, ToSchema)]
pub struct WaterIndex {
    /// The run.
    pub run: String,
    /// The output times.
    pub times: Vec<WaterTime>,
    /// The depth classes the water tiles are coloured by (each vertex's `COLOR_0`; its depth
    /// is `_DEPTH_M`), deepest first.
    #[schema(value_type = Vec<Object>)]
    pub depth_classes: Vec<tiles3d::water::DepthClass>,
}

/// The `{id}` path parameter of the runs routes.
const RUN_ID: &str = "a run id (from GET /api/runs)";

/// Longest scenario text or JSON body accepted by `POST /api/runs`.
pub const MAX_SCENARIO_BYTES: usize = 64 << 10;

impl Runs {
    /// The twin folder whose runs these are.
    pub fn twin_dir(&self) -> &std::path::Path {
        &self.twin_dir
    }

    /// Runs stored under `twin_dir` (a twin in the project CRS `crs`), scenario files listed
    /// from `scenario_dirs` (the files a scenario names are read only from these folders and
    /// the twin's), floods solved by `solver`, runs bounded by `limits`.
    pub fn new(
        crs: twin_core::Crs,
        twin_dir: PathBuf,
        scenario_dirs: Vec<PathBuf>,
        solver: SolverChoice,
        tile_opts: TilesetOptions,
        limits: RunLimits,
    ) -> Runs {
        let store = RunStore::for_twin(&twin_dir);
        match store.mark_interrupted() {
            Ok(ids) => {
                for id in ids {
                    tracing::warn!("run {id} was interrupted (its process ended): marked failed");
                }
            }
            Err(e) => tracing::warn!("checking for interrupted runs: {e}"),
        }
        let mut dirs = scenario_dirs.clone();
        dirs.push(twin_dir.clone());
        Runs {
            store,
            roots: AllowedRoots::new(dirs),
            twin_dir,
            scenario_dirs,
            solver,
            active: Mutex::new(HashMap::new()),
            runner: Arc::new(Mutex::new(())),
            taken: Arc::new(Mutex::new(0)),
            limits,
            results: Cache::new(64),
            water: Cache::new(16),
            tile_opts,
            crs,
            remote: None,
        }
    }

    /// These runs queued in PostgreSQL and run by `twin worker`s ([`Remote`]).
    pub fn with_remote(mut self, remote: Remote) -> Runs {
        self.remote = Some(remote);
        self
    }

    /// The run's result folder on this machine: its own run folder, or (queued runs) the
    /// local copy of its results in object storage.
    fn run_dir(&self, id: &str) -> Result<PathBuf, ApiError> {
        match &self.remote {
            None => {
                RunStore::check_id(id).map_err(|e| ApiError::bad_request(e.to_string()))?;
                Ok(self.store.root().join(id))
            }
            Some(q) => q.local_dir(&self.read(id)?),
        }
    }

    /// Queues scenario `file` (its text, `name` its file name) for the workers.
    fn submit(&self, file: &ScenarioFile, name: &str) -> Result<RunInfo, ApiError> {
        let q = self
            .remote
            .as_ref()
            .ok_or_else(|| ApiError::internal("no run queue"))?;
        let max_queued = self.limits.max_queued as u64;
        let (info, text, name, attempts) = (
            RunInfo::queued(
                &file.name,
                file.model,
                &file.path.display().to_string(),
                &file.hash,
            ),
            file.text.clone(),
            name.to_string(),
            q.max_attempts,
        );
        q.with(move |queue| {
            let n = queue.queued_count()?;
            if n > max_queued {
                return Ok(Err(n));
            }
            queue.submit(info, &text, &name, attempts).map(Ok)
        })?
        .map_err(|n| {
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "{n} runs wait in the queue, the most this server takes ({max_queued}): try again when one has ended"
                ),
            )
        })
    }

    pub(crate) fn read(&self, id: &str) -> Result<RunInfo, ApiError> {
        RunStore::check_id(id).map_err(|e| ApiError::bad_request(e.to_string()))?;
        if let Some(q) = &self.remote {
            return q.read(id);
        }
        let dir = self.store.root().join(id);
        if !dir.join("run.json").is_file() {
            return Err(ApiError::not_found(format!("no run {id:?}")));
        }
        Ok(self.store.read(id)?)
    }

    fn scenario_files(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for d in &self.scenario_dirs {
            if let Ok(rd) = std::fs::read_dir(d) {
                for e in rd.flatten() {
                    let p = e.path();
                    if p.extension().is_some_and(|x| x == "toml") {
                        files.push(p);
                    }
                }
            }
        }
        files.sort();
        files
    }

    fn find_scenario(&self, name: &str) -> Result<PathBuf, ApiError> {
        if !plain_file_name(name) {
            return Err(ApiError::bad_request(format!(
                "scenario {name:?}: a file name of letters, digits, '_', '-' and '.'"
            )));
        }
        let file = if name.ends_with(".toml") {
            name.to_string()
        } else {
            format!("{name}.toml")
        };
        self.scenario_files()
            .into_iter()
            .find(|p| p.file_name().is_some_and(|f| f == file.as_str()))
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "no scenario file {file:?} (GET /api/scenarios lists them)"
                ))
            })
    }

    /// A place in the run queue: 429 when `limits.max_queued` runs wait beside the one
    /// running.
    fn reserve(&self) -> Result<Slot, ApiError> {
        let mut n = self.taken.lock().unwrap_or_else(|e| e.into_inner());
        if *n > self.limits.max_queued {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "{} runs are queued or running, the most this server takes ({} queued beside the one running): try again when one has ended",
                    *n, self.limits.max_queued
                ),
            ));
        }
        *n += 1;
        Ok(Slot(self.taken.clone()))
    }

    /// Start `job` on its own thread; it waits for the runner when another job is going.
    fn start(self: &Arc<Self>, job: Job, twin: Arc<twin_core::Twin>, slot: Slot) -> RunInfo {
        let info = job.info().clone();
        let id = info.id.clone();
        let cancel = Arc::new(AtomicBool::new(false));
        let (tx, _) = watch::channel(RunEvent {
            run_id: id.clone(),
            status: Status::Queued,
            reporting: id.clone(),
            phase: "queued".into(),
            fraction: 0.0,
            message: "waiting for the runner".into(),
        });
        self.active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                id.clone(),
                Active {
                    cancel: cancel.clone(),
                    events: tx.clone(),
                },
            );
        let progress_tx = tx.clone();
        let run_id = id.clone();
        let opts = JobOptions {
            solver: self.solver.factory.clone(),
            progress: Some(Arc::new(move |p: &JobProgress| {
                progress_tx.send_replace(RunEvent {
                    run_id: run_id.clone(),
                    status: Status::Running,
                    reporting: p.run_id.clone(),
                    phase: p.phase.clone(),
                    fraction: p.fraction,
                    message: p.message.clone(),
                });
            })),
            cancel,
            time_limit: self.limits.time_limit,
        };
        let me = self.clone();
        std::thread::spawn(move || {
            let _slot = slot;
            let guard = me.runner.lock().unwrap_or_else(|e| e.into_inner());
            let outcome = job.run(&twin, &opts);
            drop(guard);
            let end = match (&outcome, me.store.read(&id)) {
                (_, Ok(info)) => event_of(&info),
                (Ok(info), Err(_)) => event_of(info),
                (Err(e), Err(_)) => RunEvent {
                    run_id: id.clone(),
                    status: Status::Failed,
                    reporting: id.clone(),
                    phase: "failed".into(),
                    fraction: 0.0,
                    message: e.to_string(),
                },
            };
            if let Err(e) = &outcome {
                tracing::warn!("run {id}: {e}");
            }
            tx.send_replace(end);
            // Late subscribers read the stored run.json; drop the channel.
            me.active
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
        });
        info
    }

    /// Start a run of scenario text, its relative paths read from `base` (as `POST /api/runs`
    /// with TOML does); `origin` says where the text came from. The SensorThings nowcast
    /// ([`crate::sta::nowcast`]) starts its runs here.
    pub fn start_text(
        self: &Arc<Self>,
        twin: Arc<twin_core::Twin>,
        text: &str,
        base: &std::path::Path,
        origin: &str,
    ) -> Result<RunInfo, ApiError> {
        if self.remote.is_some() {
            let path = base.join(format!("{origin}.toml"));
            let file = ScenarioFile::parse_in(&path, text.to_string(), &self.roots)
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            return self.submit(&file, &format!("{origin}.toml"));
        }
        let slot = self.reserve()?;
        let job = Job::from_text(&self.twin_dir, text, base, origin, &self.roots)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        Ok(self.start(job, twin, slot))
    }

    /// The path of scenario file `name` in the configured folders.
    pub fn scenario_path(&self, name: &str) -> Result<PathBuf, ApiError> {
        self.find_scenario(name)
    }

    /// Run `id`, which must be done (409 otherwise).
    fn read_done(&self, id: &str) -> Result<RunInfo, ApiError> {
        let info = self.read(id)?;
        if info.status != Status::Done {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("run {id} is {}, not done", info.status),
            ));
        }
        Ok(info)
    }

    /// Per-feature results of a done flood run for the tiles, read once.
    fn feature_results(&self, id: &str) -> Result<Arc<HashMap<String, FeatureResults>>, ApiError> {
        if let Some(r) = self.results.get(id) {
            return Ok(r);
        }
        self.read_done(id)?;
        let run = RunDir::new(self.run_dir(id)?);
        let mut map = HashMap::new();
        for table in [FeatureTable::Buildings, FeatureTable::Heritage] {
            if !run.has_features(table) {
                continue;
            }
            for r in run.read_features(table)? {
                map.insert(
                    r.id,
                    FeatureResults {
                        max_flood_depth: r.max_depth_m.is_finite().then_some(r.max_depth_m as f32),
                        flood_duration: r
                            .wet_duration_s
                            .is_finite()
                            .then_some((r.wet_duration_s / 3600.0) as f32),
                    },
                );
            }
        }
        if map.is_empty() {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("run {id} has no per-building results (not a flood run?)"),
            ));
        }
        let map = Arc::new(map);
        self.results.insert(id.to_string(), map.clone());
        Ok(map)
    }

    /// The depth rasters of a run by output time (s).
    fn depth_files(&self, id: &str) -> Vec<(u64, PathBuf)> {
        self.run_dir(id)
            .map(|d| RunDir::new(d).snapshots())
            .unwrap_or_default()
    }

    fn water_tiles(&self, id: &str, time: u64) -> Result<Arc<WaterTiles>, ApiError> {
        let key = format!("{id}/{time}");
        if let Some(w) = self.water.get(&key) {
            return Ok(w);
        }
        self.read_done(id)?;
        let files = self.depth_files(id);
        let Some((_, depth)) = files.iter().find(|(t, _)| *t == time) else {
            return Err(ApiError::not_found(format!(
                "run {id} has no depth raster at {time} s (times: {})",
                files
                    .iter()
                    .map(|(t, _)| t.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        let run = RunDir::new(self.run_dir(id)?);
        let ground = run.read_raster(&run.raster_path(Raster::Ground))?;
        let w = Arc::new(
            WaterTiles::plan(
                &self.crs,
                &ground,
                &run.read_raster(depth)?,
                &self.tile_opts,
            )
            .map_err(|e| {
                ApiError::internal(format!("water surface of run {id} at {time} s: {e}"))
            })?,
        );
        self.water.insert(key, w.clone());
        Ok(w)
    }
}

/// A file name without a folder: letters, digits, `_`, `-` and `.`, not hidden (no leading `.`).
fn plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

fn runs(state: &AppState) -> Result<&Arc<Runs>, ApiError> {
    state.runs.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "this server runs no scenarios (no twin folder was given)",
        )
    })
}

/// `GET /api/scenarios`: the scenario files the server can run, with their model and baseline;
/// files that do not parse are listed with their error. `enabled` is false (and the list empty)
/// on a server that runs no scenarios.
#[utoipa::path(get, path = "/api/scenarios", tag = "runs",
    responses((status = 200, description = "the scenario files", body = ScenarioList)))]
pub async fn list_scenarios(
    State(state): State<Arc<AppState>>,
) -> Result<Json<ScenarioList>, ApiError> {
    let Some(r) = state.runs.clone() else {
        return Ok(Json(ScenarioList {
            enabled: false,
            scenarios: Vec::new(),
        }));
    };
    let scenarios = tokio::task::spawn_blocking(move || {
        r.scenario_files()
            .into_iter()
            .map(|p| {
                let file = p
                    .file_name()
                    .map(|f| f.to_string_lossy().to_string())
                    .unwrap_or_default();
                match ScenarioFile::load_in(&p, &r.roots) {
                    Ok(s) => ScenarioEntry {
                        file,
                        name: Some(s.name),
                        model: Some(s.model),
                        baseline: s.baseline.as_ref().map(|b| b.name.clone()),
                        error: None,
                    },
                    Err(e) => ScenarioEntry {
                        file,
                        name: None,
                        model: None,
                        baseline: None,
                        error: Some(e.to_string()),
                    },
                }
            })
            .collect::<Vec<_>>()
    })
    .await?;
    Ok(Json(ScenarioList {
        enabled: true,
        scenarios,
    }))
}

/// The JSON form of `POST /api/runs`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PostRun {
    /// A scenario file name from `GET /api/scenarios`.
    scenario: String,
}

/// `POST /api/runs`: start a run (202 with the run). The body is JSON naming a scenario file
/// (`{"scenario": "flood_alarm3.toml"}`) or the scenario TOML itself (`Content-Type:
/// application/toml`; its relative paths are read from the first scenario folder).
#[utoipa::path(post, path = "/api/runs", tag = "runs",
    request_body(content = String, description = "JSON {\"scenario\": \"<file>\"} (application/json), or a scenario TOML (application/toml, text/plain)"),
    responses(
        (status = 202, description = "the run is queued", body = RunStarted),
        (status = 400, description = "malformed body or scenario", body = ErrorBody),
        (status = 404, description = "no such scenario file", body = ErrorBody),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 415, description = "unsupported content type", body = ErrorBody),
        (status = 429, description = "too many runs queued", body = ErrorBody)))]
pub async fn post_run(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let r = runs(&state)?.clone();
    if body.len() > MAX_SCENARIO_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("scenario body over {MAX_SCENARIO_BYTES} bytes"),
        ));
    }
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("the body is not UTF-8"))?
        .to_string();
    let twin = state.twin.clone();
    if r.remote.is_some() {
        return post_queued(r, &ct, text).await;
    }
    let slot = r.reserve()?;
    let job = if ct.starts_with("application/json") {
        let req: PostRun =
            serde_json::from_str(&text).map_err(|e| ApiError::bad_request(format!("body: {e}")))?;
        let path = r.find_scenario(&req.scenario)?;
        let twin_dir = r.twin_dir.clone();
        let roots = r.roots.clone();
        tokio::task::spawn_blocking(move || Job::from_path_in(&twin_dir, &path, &roots))
    } else if ct.starts_with("application/toml") || ct.starts_with("text/plain") {
        let base = r
            .scenario_dirs
            .first()
            .cloned()
            .unwrap_or_else(|| r.twin_dir.clone());
        let twin_dir = r.twin_dir.clone();
        let roots = r.roots.clone();
        tokio::task::spawn_blocking(move || {
            Job::from_text(&twin_dir, &text, &base, "posted", &roots)
        })
    } else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send application/json ({\"scenario\": \"<file>\"}) or application/toml",
        ));
    }
    .await?
    .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let info = r.start(job, twin, slot);
    Ok(accepted(info, Some(r.solver.name)))
}

/// `POST /api/runs` on a server whose runs are queued: the scenario checked here, queued for
/// the workers.
async fn post_queued(r: Arc<Runs>, ct: &str, text: String) -> Result<Response, ApiError> {
    let json = ct.starts_with("application/json");
    if !json && !ct.starts_with("application/toml") && !ct.starts_with("text/plain") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send application/json ({\"scenario\": \"<file>\"}) or application/toml",
        ));
    }
    let r2 = r.clone();
    let info = tokio::task::spawn_blocking(move || -> Result<RunInfo, ApiError> {
        let (file, name) = if json {
            let req: PostRun = serde_json::from_str(&text)
                .map_err(|e| ApiError::bad_request(format!("body: {e}")))?;
            let path = r2.find_scenario(&req.scenario)?;
            let name = path
                .file_name()
                .map(|f| f.to_string_lossy().to_string())
                .unwrap_or_default();
            (ScenarioFile::load_in(&path, &r2.roots), name)
        } else {
            let base = r2
                .scenario_dirs
                .first()
                .cloned()
                .unwrap_or_else(|| r2.twin_dir.clone());
            (
                ScenarioFile::parse_in(&base.join("posted.toml"), text, &r2.roots),
                "posted.toml".to_string(),
            )
        };
        let file = file.map_err(|e| ApiError::bad_request(e.to_string()))?;
        r2.submit(&file, &name)
    })
    .await??;
    Ok(accepted(info, None))
}

/// `GET /api/runs`: every stored run, newest first (none on a server that runs no scenarios).
#[utoipa::path(get, path = "/api/runs", tag = "runs",
    responses((status = 200, description = "the stored runs", body = RunList)))]
pub async fn list_runs(State(state): State<Arc<AppState>>) -> Result<Json<RunList>, ApiError> {
    let Some(r) = state.runs.clone() else {
        return Ok(Json(RunList { runs: Vec::new() }));
    };
    let mut runs = match &r.remote {
        Some(q) => q.with(|queue| queue.list())?,
        None => tokio::task::spawn_blocking(move || r.store.list()).await??,
    };
    runs.sort_by(|a, b| b.id.cmp(&a.id));
    Ok(Json(RunList { runs }))
}

/// `GET /api/runs/<id>`: the run, its impacts and its comparison with the baseline (when
/// there).
#[utoipa::path(get, path = "/api/runs/{id}", tag = "runs",
    params(("id" = String, Path, description = RUN_ID)),
    responses(
        (status = 200, description = "the run", body = RunDetail),
        (status = 400, description = "malformed run id", body = ErrorBody),
        (status = 404, description = "no such run", body = ErrorBody)))]
pub async fn get_run(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<RunDetail>, ApiError> {
    let r = runs(&state)?.clone();
    tokio::task::spawn_blocking(move || {
        let info = r.read(&id)?;
        let (impacts, compare) = if info.status != Status::Done {
            (None, None)
        } else if r.remote.is_some() {
            let dir = r.run_dir(&id)?;
            let c = dir.join("compare.json");
            (
                read_json(&dir.join("impacts.json")).ok(),
                c.exists().then(|| read_json(&c).ok()).flatten(),
            )
        } else if info.status == Status::Done {
            (
                read_impacts(&r.store, &id).ok(),
                read_compare(&r.store, &id).ok().flatten(),
            )
        } else {
            (None, None)
        };
        let water_times_s: Vec<u64> = r.depth_files(&id).into_iter().map(|(t, _)| t).collect();
        let water_depth_classes = if water_times_s.is_empty() {
            Vec::new()
        } else {
            tiles3d::water::DEPTH_CLASSES.to_vec()
        };
        Ok(Json(RunDetail {
            run: info,
            impacts,
            compare,
            water_times_s,
            water_depth_classes,
        }))
    })
    .await?
}

/// `POST /api/runs/<id>/rerun`: a new run of a stored run's inputs (202 with the new run).
#[utoipa::path(post, path = "/api/runs/{id}/rerun", tag = "runs",
    params(("id" = String, Path, description = RUN_ID)),
    responses(
        (status = 202, description = "the new run is queued", body = RunStarted),
        (status = 404, description = "no such run", body = ErrorBody),
        (status = 429, description = "too many runs queued", body = ErrorBody)))]
pub async fn rerun(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let r = runs(&state)?.clone();
    r.read(&id)?;
    if let Some(q) = &r.remote {
        let old = id.clone();
        let (text, name) = q
            .with(move |queue| queue.scenario(&old))?
            .ok_or_else(|| ApiError::not_found(format!("no run {id:?}")))?;
        let r2 = r.clone();
        let info = tokio::task::spawn_blocking(move || -> Result<RunInfo, ApiError> {
            let base = r2
                .scenario_dirs
                .first()
                .cloned()
                .unwrap_or_else(|| r2.twin_dir.clone());
            let file = ScenarioFile::parse_in(&base.join(&name), text, &r2.roots)
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            r2.submit(&file, &name)
        })
        .await??;
        return Ok(accepted(info, None));
    }
    let slot = r.reserve()?;
    let twin_dir = r.twin_dir.clone();
    let job = tokio::task::spawn_blocking(move || Job::rerun(&twin_dir, &id))
        .await?
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let info = r.start(job, state.twin.clone(), slot);
    Ok(accepted(info, None))
}

/// `GET /api/runs/<a>/compare/<b>`: run `b` against run `a` (two done runs of one model), from
/// their stored tables.
#[utoipa::path(get, path = "/api/runs/{a}/compare/{b}", tag = "runs",
    params(("a" = String, Path, description = "the baseline run"), ("b" = String, Path, description = "the run")),
    responses(
        (status = 200, description = "the comparison (compare.json)", body = Object),
        (status = 404, description = "no such run", body = ErrorBody),
        (status = 409, description = "the runs cannot be compared (not done, other models)", body = ErrorBody)))]
pub async fn compare(
    State(state): State<Arc<AppState>>,
    Path((a, b)): Path<(String, String)>,
) -> Result<Json<scenarios::jobs::Compare>, ApiError> {
    let r = runs(&state)?.clone();
    r.read(&a)?;
    r.read(&b)?;
    if r.remote.is_some() {
        return tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
            let (ia, ib) = (r.read_done(&a)?, r.read_done(&b)?);
            if ia.model != ib.model {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    format!(
                        "a {} run cannot be compared with a {} run",
                        ia.model, ib.model
                    ),
                ));
            }
            let body = compare_dirs(ia.model, &r.run_dir(&a)?, &r.run_dir(&b)?)
                .map_err(|e| ApiError::new(StatusCode::CONFLICT, e.to_string()))?;
            Ok(Json(scenarios::jobs::Compare {
                run: b,
                baseline_run: Some(a),
                body,
            }))
        })
        .await?;
    }
    let c = tokio::task::spawn_blocking(move || scenarios::jobs::compare_runs(&r.store, &a, &b))
        .await?
        .map_err(|e| ApiError::new(StatusCode::CONFLICT, e.to_string()))?;
    Ok(Json(c))
}

/// `DELETE /api/runs/<id>`: cancel a queued or running run (202); 409 when it has ended.
#[utoipa::path(delete, path = "/api/runs/{id}", tag = "runs",
    params(("id" = String, Path, description = RUN_ID)),
    responses(
        (status = 202, description = "the run is being cancelled", body = Cancelling),
        (status = 404, description = "no such run", body = ErrorBody),
        (status = 409, description = "the run has ended", body = ErrorBody)))]
pub async fn cancel_run(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let r = runs(&state)?;
    let info = r.read(&id)?;
    if let Some(q) = &r.remote {
        if info.status.is_final() {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "run {id} is {}; only queued or running runs can be cancelled",
                    info.status
                ),
            ));
        }
        let id2 = id.clone();
        q.with(move |queue| queue.cancel(&id2))?;
        return Ok(cancelling(id));
    }
    let active = r.active.lock().unwrap_or_else(|e| e.into_inner());
    match active.get(&id) {
        Some(a) => {
            a.cancel.store(true, Ordering::Relaxed);
            Ok(cancelling(id))
        }
        None => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "run {id} is {}; only queued or running runs can be cancelled",
                info.status
            ),
        )),
    }
}

/// `GET /api/runs/<id>/events`: server-sent events, `progress` while the run goes (JSON
/// [`RunEvent`]), then one `end` with the final run; a run that has ended gets `end` at once.
#[utoipa::path(get, path = "/api/runs/{id}/events", tag = "runs",
    params(("id" = String, Path, description = RUN_ID)),
    responses(
        (status = 200, description = "text/event-stream: `progress` events (RunEvent JSON), then one `end` with the run", content_type = "text/event-stream", body = String),
        (status = 404, description = "no such run", body = ErrorBody)))]
pub async fn run_events(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Sse<KeepAliveStream<EventStream>>, ApiError> {
    let r = runs(&state)?.clone();
    if let Some(q) = &r.remote {
        // Subscribed before the run is read: no event falls between.
        let rx = q.events.subscribe();
        let info = r.read(&id)?;
        return Ok(queued_events(r, info, rx));
    }
    // 404 for an unknown run, 400 for a malformed id.
    r.read(&id)?;
    let rx = r
        .active
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&id)
        .map(|a| a.events.subscribe());
    enum S {
        Live(watch::Receiver<RunEvent>, Arc<Runs>, String, bool),
        End(Arc<Runs>, String),
        Done,
    }
    // A run that is not going any more (ended, or left by an earlier server) gets its end.
    let start = match rx {
        Some(rx) => S::Live(rx, r, id, true),
        None => S::End(r, id),
    };
    let events = stream::unfold(start, |s| async move {
        match s {
            S::Live(mut rx, r, id, first) => {
                if !first && rx.changed().await.is_err() {
                    return Some((end_event(&r, &id), S::Done));
                }
                let ev = rx.borrow_and_update().clone();
                if ev.status.is_final() {
                    return Some((end_event(&r, &id), S::Done));
                }
                let data = serde_json::to_string(&ev).unwrap_or_default();
                Some((
                    Ok(Event::default().event("progress").data(data)),
                    S::Live(rx, r, id, false),
                ))
            }
            S::End(r, id) => Some((end_event(&r, &id), S::Done)),
            S::Done => None,
        }
    })
    // Safe to poll again after its end (the keep-alive timer may).
    .fuse()
    .boxed();
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(10))))
}

/// The event stream of a run's progress.
pub type EventStream = futures_util::stream::BoxStream<'static, Result<Event, Infallible>>;

fn progress_event(ev: &RunEvent) -> Result<Event, Infallible> {
    let data = serde_json::to_string(ev).unwrap_or_default();
    Ok(Event::default().event("progress").data(data))
}

/// The events of a queued run, from the queue's notifications (any worker, any replica):
/// where it stands now, then its progress, then its end.
fn queued_events(
    r: Arc<Runs>,
    info: RunInfo,
    rx: tokio::sync::broadcast::Receiver<scenarios::jobs::QueueEvent>,
) -> Sse<KeepAliveStream<EventStream>> {
    enum S {
        First(
            Box<RunInfo>,
            tokio::sync::broadcast::Receiver<scenarios::jobs::QueueEvent>,
        ),
        Live(tokio::sync::broadcast::Receiver<scenarios::jobs::QueueEvent>),
        End,
        Done,
    }
    let id = info.id.clone();
    let start = if info.status.is_final() {
        S::End
    } else {
        S::First(Box::new(info), rx)
    };
    let events = stream::unfold(start, move |s| {
        let (r, id) = (r.clone(), id.clone());
        async move {
            match s {
                S::First(info, rx) => {
                    let ev = event_of(&info);
                    Some((progress_event(&ev), S::Live(rx)))
                }
                S::Live(mut rx) => loop {
                    match rx.recv().await {
                        Ok(e) if e.run_id == id => {
                            if e.status.is_final() {
                                return Some((queued_end(&r, &id).await, S::Done));
                            }
                            return Some((progress_event(&e), S::Live(rx)));
                        }
                        Ok(_) => continue,
                        // Fell behind: where it stands now.
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                            let r2 = r.clone();
                            let id2 = id.clone();
                            match tokio::task::spawn_blocking(move || r2.read(&id2)).await {
                                Ok(Ok(info)) if info.status.is_final() => {
                                    return Some((queued_end(&r, &id).await, S::Done))
                                }
                                _ => continue,
                            }
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                            return Some((queued_end(&r, &id).await, S::Done))
                        }
                    }
                },
                S::End => Some((queued_end(&r, &id).await, S::Done)),
                S::Done => None,
            }
        }
    })
    .fuse()
    .boxed();
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(10)))
}

async fn queued_end(r: &Arc<Runs>, id: &str) -> Result<Event, Infallible> {
    let (r, id) = (r.clone(), id.to_string());
    tokio::task::spawn_blocking(move || end_event(&r, &id))
        .await
        .unwrap_or_else(|e| {
            Ok(Event::default()
                .event("end")
                .data(json!({"error": e.to_string()}).to_string()))
        })
}

fn end_event(r: &Runs, id: &str) -> Result<Event, Infallible> {
    let data = match r.read(id) {
        Ok(info) => serde_json::to_string(&info).unwrap_or_default(),
        Err(e) => json!({"error": e.message}).to_string(),
    };
    Ok(Event::default().event("end").data(data))
}

/// Result files a run may hold, by extension, with their media type.
fn result_type(name: &str) -> Option<&'static str> {
    let ext = name.rsplit('.').next()?;
    Some(match ext {
        "csv" => "text/csv; charset=utf-8",
        "json" => "application/json",
        "tif" => "image/tiff",
        "png" => "image/png",
        "toml" => "application/toml",
        _ => return None,
    })
}

/// `GET /api/runs/<id>/files/<name>`: one result file of the run's folder.
#[utoipa::path(get, path = "/api/runs/{id}/files/{name}", tag = "runs",
    params(("id" = String, Path, description = RUN_ID),
           ("name" = String, Path, description = "a plain file name ending in .csv, .json, .tif, .png or .toml")),
    responses(
        (status = 200, description = "the file (CSV, JSON, GeoTIFF, PNG or TOML), with a strong ETag"),
        (status = 400, description = "not a plain result file name", body = ErrorBody),
        (status = 404, description = "no such run or file", body = ErrorBody)))]
pub async fn run_file(
    State(state): State<Arc<AppState>>,
    Path((id, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let r = runs(&state)?;
    r.read(&id)?;
    let ok = plain_file_name(&name);
    let Some(ct) = result_type(&name).filter(|_| ok) else {
        return Err(ApiError::bad_request(format!(
            "file {name:?}: a plain file name ending in .csv, .json, .tif, .png or .toml"
        )));
    };
    let bytes = match &r.remote {
        Some(q) => {
            let info = r.read(&id)?;
            if info.status != Status::Done {
                return Err(ApiError::not_found(format!(
                    "run {id} is {}: its files are in object storage once done",
                    info.status
                )));
            }
            q.objects
                .get(&format!("{}/{name}", Remote::prefix(&info)))
                .await?
                .ok_or_else(|| ApiError::not_found(format!("run {id} has no file {name:?}")))?
        }
        None => {
            let path = r.store.root().join(&id).join(&name);
            tokio::fs::read(&path)
                .await
                .map_err(|_| ApiError::not_found(format!("run {id} has no file {name:?}")))?
        }
    };
    let file = CachedFile::new(bytes, ct);
    Ok(respond(&file, &headers, CacheTier::Disk))
}

/// `GET /api/runs/<id>/water`: the output times with a depth raster and their tilesets.
#[utoipa::path(get, path = "/api/runs/{id}/water", tag = "runs",
    params(("id" = String, Path, description = RUN_ID)),
    responses(
        (status = 200, description = "the output times", body = WaterIndex),
        (status = 404, description = "no such run", body = ErrorBody)))]
pub async fn water_index(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<WaterIndex>, ApiError> {
    let r = runs(&state)?;
    r.read(&id)?;
    let times = r
        .depth_files(&id)
        .into_iter()
        .map(|(t, _)| WaterTime {
            time_s: t,
            tileset: format!("/api/runs/{id}/water/{t}/tileset.json"),
        })
        .collect();
    Ok(Json(WaterIndex {
        run: id,
        times,
        depth_classes: tiles3d::water::DEPTH_CLASSES.to_vec(),
    }))
}

/// `GET /api/runs/<id>/water/<time>/<path>`: the water-surface tileset of one output time.
#[utoipa::path(get, path = "/api/runs/{id}/water/{time}/{path}", tag = "runs",
    params(("id" = String, Path, description = RUN_ID),
           ("time" = u64, Path, description = "an output time (s) from GET /api/runs/{id}/water"),
           ("path" = String, Path, description = "tileset.json or <tile id>.glb")),
    responses(
        (status = 200, description = "tileset JSON or glTF binary"),
        (status = 404, description = "no such run, time or tile", body = ErrorBody),
        (status = 409, description = "the run is not done", body = ErrorBody)))]
pub async fn water_tile(
    State(state): State<Arc<AppState>>,
    Path((id, time, path)): Path<(String, u64, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let r = runs(&state)?.clone();
    let tp = TilePath::parse(&format!("water/{path}"))?;
    let bytes = tokio::task::spawn_blocking(move || -> Result<Option<Vec<u8>>, ApiError> {
        let w = r.water_tiles(&id, time)?;
        match &tp {
            TilePath::Root | TilePath::LayerTileset(_) => Ok(Some(w.tileset_bytes()?)),
            TilePath::Content { id: tile, .. } => Ok(w.content(tile)?),
            // Water tilesets are explicit; basemap tiles have their own source.
            TilePath::Subtree { .. } | TilePath::Basemap { .. } => Ok(None),
        }
    })
    .await??;
    let Some(bytes) = bytes else {
        return Err(ApiError::not_found(format!("no water tile {path:?}")));
    };
    let ct = if path.ends_with(".glb") {
        "model/gltf-binary"
    } else {
        "application/json"
    };
    Ok(respond(
        &CachedFile::new(bytes, ct),
        &headers,
        CacheTier::Produced,
    ))
}

/// The bytes of a building or heritage tile with run `id`'s results patched in.
pub fn with_results(state: &AppState, file: &CachedFile, id: &str) -> Result<CachedFile, ApiError> {
    let r = runs(state)?;
    let results = r.feature_results(id)?;
    let mut bytes = file.bytes.to_vec();
    patch_results(&mut bytes, |fid| results.get(fid).copied())
        .map_err(|e| ApiError::internal(format!("results of run {id} into a tile: {e}")))?;
    Ok(CachedFile::new(bytes, file.content_type))
}
