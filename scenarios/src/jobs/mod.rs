//! Scenario files run as stored jobs: a flood or traffic scenario TOML with `model` and
//! `baseline` keys ([`ScenarioFile`]), runs stored under the twin ([`RunStore`]:
//! `<twin>/runs/<run id>/` with `run.json`, the inputs, the results, `impacts.json` and
//! `compare.json`), and the [`Job`] that runs one with progress and cancellation, its baseline
//! first when that has no stored run with the same inputs. Beyond one machine, runs wait in a
//! PostgreSQL queue ([`queue`]) for `twin worker` processes ([`worker`]), their results in
//! object storage ([`crate::objects`]).
//!
//! ```no_run
//! use scenarios::jobs::{Job, JobOptions, RunStore};
//! use std::path::Path;
//! let twin_dir = Path::new("data/hue");
//! let twin = twin_core::TwinDir::open(twin_dir).unwrap().load().unwrap();
//! let job = Job::from_path(twin_dir, Path::new("scenarios/examples/hue/flood_oct2025_levee.toml"))?;
//! let run = job.run(&twin, &JobOptions::default())?;
//! println!("{} {}", run.id, run.status);
//! for r in RunStore::for_twin(twin_dir).list()? {
//!     println!("{} {} {}", r.id, r.name, r.status);
//! }
//! # Ok::<(), scenarios::ScenarioError>(())
//! ```

pub mod file;
pub mod job;
pub mod queue;
pub mod results;
pub mod store;
pub mod worker;

pub use file::{Model, ScenarioFile};
pub use job::{
    compare_runs, read_compare, read_impacts, Job, JobHandle, JobOptions, JobProgress, ProgressFn,
    SharedSolverFactory, SolverChoice,
};
pub use queue::{Listener, Queue, QueueEvent};
pub use results::{Compare, CompareBody, Impacts};
pub use store::{RunInfo, RunLock, RunStore, Status};
pub use worker::{run_worker, WorkerOptions};
