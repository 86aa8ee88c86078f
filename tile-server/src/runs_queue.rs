//! The runs of a server replica when runs are queued in PostgreSQL (`twin serve --queue`):
//! runs are submitted to the queue and run by `twin worker`s, read back from the queue, their
//! progress heard through LISTEN/NOTIFY, their results read from object storage (and copied
//! into a rebuildable local cache for the water tiles and result-coloured tiles). Any replica
//! answers for any run (docs/adr/0029).

use super::error::ApiError;
use scenarios::jobs::queue::{results_prefix, Listener, Queue, QueueEvent};
use scenarios::jobs::{RunInfo, Status};
use scenarios::objects::Objects;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// The queue, the object store and the events of a replica.
pub struct Remote {
    queue: Arc<Queue>,
    /// Where runs' results are.
    pub objects: Objects,
    /// Every queued run's progress and status changes (fed by a LISTEN session).
    pub events: broadcast::Sender<QueueEvent>,
    /// Attempts a run gets (a worker dying mid-run costs one).
    pub max_attempts: u32,
    /// The local copy of done runs' results (`<twin>/cache/runs`), rebuilt from object storage
    /// whenever missing.
    cache_dir: PathBuf,
    /// A runtime of its own (one worker thread, always driven) for the copies made from
    /// synchronous code: object storage's HTTP connections are shared with the server's
    /// runtime, so each runtime that holds some must keep running.
    rt: Option<tokio::runtime::Runtime>,
}

impl Drop for Remote {
    fn drop(&mut self) {
        // Dropped on the server's runtime, a runtime may not wait for its threads.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// Runs `f` on a thread of its own, outside any async runtime: the synchronous PostgreSQL
/// client and [`Objects::blocking`] run runtimes of their own, which tokio refuses inside
/// its tasks.
pub fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> Result<T, ApiError> {
    std::thread::scope(|s| {
        s.spawn(f)
            .join()
            .map_err(|_| ApiError::internal("a queue call panicked"))
    })
}

impl Remote {
    /// Connects to the queue at `queue_url` (making its table when missing), starts the LISTEN
    /// session's thread, and uses `objects` for results.
    pub fn connect(
        queue_url: &str,
        objects: Objects,
        max_attempts: u32,
        cache_dir: PathBuf,
    ) -> Result<Remote, scenarios::ScenarioError> {
        let name = format!("serve-{}", std::process::id());
        let url = queue_url.to_string();
        let queue = Arc::new(std::thread::scope(|s| {
            s.spawn(|| Queue::connect(&url, &name))
                .join()
                .unwrap_or_else(|_| {
                    Err(scenarios::ScenarioError::Invalid {
                        what: "the run queue".into(),
                        message: "connecting panicked".into(),
                    })
                })
        })?);
        let (events, _) = broadcast::channel(4096);
        let tx = events.clone();
        // The listener: one session, reconnected when it breaks; events to every subscriber.
        std::thread::Builder::new()
            .name("run-queue-listen".into())
            .spawn(move || loop {
                match Listener::connect(&url) {
                    Ok(mut l) => loop {
                        match l.next_events(Duration::from_secs(5)) {
                            Ok(evs) => {
                                for ev in evs {
                                    let _ = tx.send(ev);
                                }
                            }
                            Err(e) => {
                                tracing::warn!("run queue listener: {e}; reconnecting");
                                break;
                            }
                        }
                    },
                    Err(e) => tracing::warn!("run queue listener: {e}"),
                }
                std::thread::sleep(Duration::from_secs(1));
            })
            .map_err(|e| scenarios::ScenarioError::io("run-queue-listen thread", e))?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("objects-copy")
            .enable_all()
            .build()
            .map_err(|e| scenarios::ScenarioError::io("objects-copy runtime", e))?;
        Ok(Remote {
            rt: Some(rt),
            queue,
            objects,
            events,
            max_attempts: max_attempts.max(1),
            cache_dir,
        })
    }

    /// Runs `f` with the queue, off the async runtime.
    pub fn with<T: Send>(
        &self,
        f: impl FnOnce(&Queue) -> scenarios::Result<T> + Send,
    ) -> Result<T, ApiError> {
        let q = self.queue.clone();
        Ok(off_runtime(move || f(&q))??)
    }

    /// Run `id` from the queue; 404 when there is none.
    pub fn read(&self, id: &str) -> Result<RunInfo, ApiError> {
        let id2 = id.to_string();
        self.with(move |q| q.get(&id2))?
            .ok_or_else(|| ApiError::not_found(format!("no run {id:?}")))
    }

    /// The object-storage folder of a done run's results.
    pub fn prefix(info: &RunInfo) -> String {
        results_prefix(&info.id, info.attempt.unwrap_or(1))
    }

    /// The local folder holding a done run's results, copied from object storage on first use
    /// (a `.complete` marker says the copy is whole).
    pub fn local_dir(&self, info: &RunInfo) -> Result<PathBuf, ApiError> {
        if info.status != Status::Done {
            return Ok(self.cache_dir.join("none"));
        }
        let dir = self
            .cache_dir
            .join(&info.id)
            .join(format!("a{}", info.attempt.unwrap_or(1)));
        let marker = dir.join(".complete");
        if marker.exists() {
            return Ok(dir);
        }
        let prefix = Remote::prefix(info);
        let d = dir.clone();
        off_runtime(|| -> scenarios::Result<()> {
            let rt = self
                .rt
                .as_ref()
                .ok_or_else(|| scenarios::ScenarioError::Invalid {
                    what: "the object-storage runtime".into(),
                    message: "shut down".into(),
                })?;
            rt.block_on(self.objects.get_dir(&prefix, &d))?;
            std::fs::write(d.join(".complete"), b"")
                .map_err(|e| scenarios::ScenarioError::io(d.join(".complete"), e))
        })??;
        Ok(dir)
    }
}
