//! Scenario runs queued in PostgreSQL and run by workers on any machine (docs/adr/0029).
//!
//! One table, `huetwin_runs`: a row per run with the scenario text, its status, its
//! [`RunInfo`] (JSON) and the bookkeeping of the queue: `attempts`, `max_attempts`, `worker`,
//! `heartbeat`, `cancel_requested`.
//!
//! * A server [`Queue::submit`]s a run (status `queued`) and reads runs back
//!   ([`Queue::get`], [`Queue::list`]) for any replica to answer.
//! * A worker [`Queue::claim`]s the oldest queued run with `SELECT … FOR UPDATE SKIP LOCKED`
//!   (two workers never get the same row), which counts an attempt and records the worker; it
//!   then sends a heartbeat every few seconds ([`Queue::heartbeat`]).
//! * Every write of the worker is *fenced* by `(id, attempts, worker, status = 'running')`: a
//!   worker whose run was taken from it (its heartbeat stopped; another worker runs it now)
//!   can neither report on it nor finish it. [`Queue::finish`] is the one transition to a
//!   final status, so each run finishes exactly once.
//! * [`Queue::requeue_orphans`] (every worker calls it before claiming) puts a `running` run
//!   whose heartbeat is older than the orphan timeout back to `queued` (or `failed` once it
//!   has had `max_attempts` attempts).
//! * Progress and status changes are sent with `pg_notify` on [`CHANNEL`] as [`QueueEvent`]
//!   JSON; [`Listener`] hears them, so any server replica streams any run's progress.
//!
//! A worker's results go to object storage under `runs/<id>/a<attempt>/` ([`results_prefix`]):
//! an attempt never writes where another attempt's results are read from, and the attempt
//! that finishes is the one [`RunInfo::attempt`] names.

use super::store::{RunInfo, Status};
use crate::error::{Result, ScenarioError};
use postgres::{Client, NoTls};
use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use std::time::Duration;

/// The LISTEN/NOTIFY channel of the queue's events.
pub const CHANNEL: &str = "huetwin_runs";

/// A progress or status event of a queued run (the payload of a notification on
/// [`CHANNEL`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueueEvent {
    /// The run.
    pub run_id: String,
    /// Its status.
    pub status: Status,
    /// The run reporting (a baseline reports under its own id).
    pub reporting: String,
    /// Phase.
    pub phase: String,
    /// 0..1.
    pub fraction: f64,
    /// A line for people.
    pub message: String,
}

/// The object-storage folder of attempt `attempt` of run `id`'s results.
pub fn results_prefix(id: &str, attempt: u32) -> String {
    format!("runs/{id}/a{attempt}")
}

/// A run a worker has claimed.
#[derive(Clone, Debug)]
pub struct Claim {
    /// The run (status running, `attempt` and `worker` set).
    pub info: RunInfo,
    /// The scenario text.
    pub scenario: String,
    /// The scenario's file name (its relative paths are read against the worker's first
    /// scenario folder).
    pub scenario_name: String,
    /// This attempt (1 for the first): the fence of the worker's writes.
    pub attempt: u32,
}

/// What a heartbeat learnt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Heartbeat {
    /// The run is still this worker's (false: it was requeued or cancelled away; stop).
    pub owned: bool,
    /// Someone asked to cancel it.
    pub cancel: bool,
}

/// A connection to the run queue (one PostgreSQL session; its calls are serialised).
pub struct Queue {
    client: Mutex<Client>,
    url: String,
    name: String,
}

/// `postgres://user:secret@host:port/db` → `host:port/db` (for messages: no secrets).
pub fn display_url(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split('?').next().unwrap_or(rest).to_string()
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS huetwin_runs (
    id text PRIMARY KEY,
    scenario text NOT NULL,
    scenario_name text NOT NULL,
    status text NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL,
    worker text,
    heartbeat timestamptz,
    cancel_requested boolean NOT NULL DEFAULT false,
    info jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS huetwin_runs_queued ON huetwin_runs (id) WHERE status = 'queued';
CREATE INDEX IF NOT EXISTS huetwin_runs_running ON huetwin_runs (heartbeat) WHERE status = 'running';
";

/// The fence of a worker's writes: the run is still its attempt, running.
const FENCE: &str = "id = $1 AND attempts = $2 AND worker = $3 AND status = 'running'";

fn parse_info(v: serde_json::Value, id: &str) -> Result<RunInfo> {
    serde_json::from_value(v).map_err(|e| ScenarioError::Invalid {
        what: format!("run {id} in the queue"),
        message: format!("its info: {e}"),
    })
}

fn to_json(info: &RunInfo) -> serde_json::Value {
    serde_json::to_value(info).unwrap_or(serde_json::Value::Null)
}

impl Queue {
    /// Connects to `url` (`postgres://user@host:port/db`) and makes the table when missing;
    /// `name` names this process in the queue (a worker's name; a server's for its logs).
    pub fn connect(url: &str, name: &str) -> Result<Queue> {
        let q = Queue {
            client: Mutex::new(Queue::open(url)?),
            url: url.to_string(),
            name: name.to_string(),
        };
        q.with("making the queue table", |c| {
            // Two processes starting at once would race on CREATE TABLE IF NOT EXISTS.
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock(728190)", &[])?;
            tx.batch_execute(SCHEMA)?;
            tx.commit()
        })?;
        Ok(q)
    }

    fn open(url: &str) -> Result<Client> {
        let mut cfg: postgres::Config = url.parse().map_err(|e| ScenarioError::Queue {
            queue: display_url(url),
            what: "the URL".into(),
            message: format!("{e}"),
        })?;
        cfg.connect_timeout(Duration::from_secs(10));
        cfg.application_name("huetwin");
        cfg.connect(NoTls).map_err(|e| ScenarioError::Queue {
            queue: display_url(url),
            what: "connecting".into(),
            message: e.to_string(),
        })
    }

    /// This process's name in the queue.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `f` on the session, reconnecting first when it was closed (the database
    /// restarted).
    fn with<T>(
        &self,
        what: &str,
        f: impl FnOnce(&mut Client) -> std::result::Result<T, postgres::Error>,
    ) -> Result<T> {
        let mut c = self.client.lock().unwrap_or_else(|e| e.into_inner());
        if c.is_closed() {
            *c = Queue::open(&self.url)?;
        }
        f(&mut c).map_err(|e| ScenarioError::Queue {
            queue: display_url(&self.url),
            what: what.to_string(),
            message: e.to_string(),
        })
    }

    /// Queues a run of `scenario` (its text; `scenario_name` its file name) described by
    /// `info` (made by [`RunInfo::queued`]): gives it an id and its creation time, status
    /// queued, and notifies. At most `max_attempts` attempts (at least 1).
    pub fn submit(
        &self,
        mut info: RunInfo,
        scenario: &str,
        scenario_name: &str,
        max_attempts: u32,
    ) -> Result<RunInfo> {
        let (id, created) = super::store::RunStore::new_id(&info.input_hash);
        info.id = id;
        info.created = created;
        info.status = Status::Queued;
        info.phase = "queued".into();
        info.message = "waiting for a worker".into();
        let ev = event_of(&info);
        self.with(&format!("queueing run {}", info.id), |c| {
            let mut tx = c.transaction()?;
            tx.execute(
                "INSERT INTO huetwin_runs (id, scenario, scenario_name, status, max_attempts, info)
                 VALUES ($1, $2, $3, 'queued', $4, $5)",
                &[
                    &info.id,
                    &scenario,
                    &scenario_name,
                    &(max_attempts.max(1) as i32),
                    &to_json(&info),
                ],
            )?;
            notify(&mut tx, &ev)?;
            tx.commit()
        })?;
        Ok(info)
    }

    /// Run `id`; None when the queue has none.
    pub fn get(&self, id: &str) -> Result<Option<RunInfo>> {
        let row = self.with(&format!("reading run {id}"), |c| {
            c.query_opt("SELECT info FROM huetwin_runs WHERE id = $1", &[&id])
        })?;
        row.map(|r| parse_info(r.get(0), id)).transpose()
    }

    /// The scenario text and file name of run `id` (for a rerun); None: no such run.
    pub fn scenario(&self, id: &str) -> Result<Option<(String, String)>> {
        let row = self.with(&format!("reading run {id}"), |c| {
            c.query_opt(
                "SELECT scenario, scenario_name FROM huetwin_runs WHERE id = $1",
                &[&id],
            )
        })?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }

    /// Every run, oldest first.
    pub fn list(&self) -> Result<Vec<RunInfo>> {
        let rows = self.with("listing runs", |c| {
            c.query("SELECT id, info FROM huetwin_runs ORDER BY id", &[])
        })?;
        rows.into_iter()
            .map(|r| parse_info(r.get(1), r.get::<_, &str>(0)))
            .collect()
    }

    /// Runs waiting for a worker.
    pub fn queued_count(&self) -> Result<u64> {
        let row = self.with("counting queued runs", |c| {
            c.query_one(
                "SELECT count(*) FROM huetwin_runs WHERE status = 'queued'",
                &[],
            )
        })?;
        Ok(row.get::<_, i64>(0).max(0) as u64)
    }

    /// Cancels run `id`: a queued run ends cancelled here; a running one is flagged and its
    /// worker stops it at its next heartbeat. Its status after the call; None: no such run.
    pub fn cancel(&self, id: &str) -> Result<Option<Status>> {
        let now = super::store::rfc3339(std::time::SystemTime::now());
        let ev = self.with(&format!("cancelling run {id}"), |c| {
            let mut tx = c.transaction()?;
            let row = tx.query_opt(
                "UPDATE huetwin_runs SET status = 'cancelled',
                   info = info || jsonb_build_object('status', 'cancelled', 'phase', 'cancelled',
                     'message', 'cancelled before a worker took it', 'finished', $2::text)
                 WHERE id = $1 AND status = 'queued' RETURNING info",
                &[&id, &now],
            )?;
            let out = match row {
                Some(r) => Some(r.get::<_, serde_json::Value>(0)),
                None => {
                    tx.execute(
                        "UPDATE huetwin_runs SET cancel_requested = true
                         WHERE id = $1 AND status = 'running'",
                        &[&id],
                    )?;
                    None
                }
            };
            if let Some(v) = &out {
                if let Ok(info) = serde_json::from_value::<RunInfo>(v.clone()) {
                    notify(&mut tx, &event_of(&info))?;
                }
            }
            tx.commit()?;
            Ok(out)
        })?;
        let _ = ev;
        Ok(self.get(id)?.map(|r| r.status))
    }

    /// Puts runs whose worker stopped sending heartbeats for `orphan_after` back in the queue
    /// (or fails them when they have had all their attempts); returns (id, new status).
    pub fn requeue_orphans(&self, orphan_after: Duration) -> Result<Vec<(String, Status)>> {
        let secs = orphan_after.as_secs_f64();
        let rows = self.with("requeueing orphaned runs", |c| {
            let mut tx = c.transaction()?;
            let rows = tx.query(
                "UPDATE huetwin_runs SET
                   status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
                   info = info || jsonb_build_object(
                     'status', CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
                     'phase', CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'requeued' END,
                     'progress', 0,
                     'message', 'worker ' || coalesce(worker, '?') || ' stopped sending heartbeats (attempt ' || attempts || ' of ' || max_attempts || ')',
                     'error', CASE WHEN attempts >= max_attempts
                       THEN 'interrupted: its worker stopped sending heartbeats on the last of ' || max_attempts || ' attempts'
                       ELSE NULL END),
                   worker = NULL, heartbeat = NULL
                 WHERE status = 'running' AND heartbeat < now() - make_interval(secs => $1)
                 RETURNING id, info",
                &[&secs],
            )?;
            let mut out = Vec::new();
            for r in rows {
                let id: String = r.get(0);
                let v: serde_json::Value = r.get(1);
                if let Ok(info) = serde_json::from_value::<RunInfo>(v) {
                    notify(&mut tx, &event_of(&info))?;
                    out.push((id, info.status));
                }
            }
            tx.commit()?;
            Ok(out)
        })?;
        for (id, s) in &rows {
            tracing::warn!("run {id}: its worker stopped sending heartbeats; now {s}");
        }
        Ok(rows)
    }

    /// Claims the oldest queued run for this worker (`SELECT … FOR UPDATE SKIP LOCKED`):
    /// status running, one more attempt, heartbeat now. None when none waits.
    pub fn claim(&self) -> Result<Option<Claim>> {
        let now = super::store::rfc3339(std::time::SystemTime::now());
        let worker = self.name.clone();
        let row = self.with("claiming a run", |c| {
            let mut tx = c.transaction()?;
            let Some(r) = tx.query_opt(
                "SELECT id FROM huetwin_runs WHERE status = 'queued'
                 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
                &[],
            )?
            else {
                return Ok(None);
            };
            let id: String = r.get(0);
            let r = tx.query_one(
                "UPDATE huetwin_runs SET status = 'running', attempts = attempts + 1,
                   worker = $2, heartbeat = now(), cancel_requested = false,
                   info = info || jsonb_build_object('status', 'running', 'phase', 'claimed',
                     'progress', 0, 'worker', $2::text, 'attempt', attempts + 1,
                     'started', $3::text, 'message', 'claimed by ' || $2::text)
                 WHERE id = $1
                 RETURNING info, scenario, scenario_name, attempts",
                &[&id, &worker, &now],
            )?;
            let info: serde_json::Value = r.get(0);
            if let Ok(i) = serde_json::from_value::<RunInfo>(info.clone()) {
                notify(&mut tx, &event_of(&i))?;
            }
            let out = (
                id,
                info,
                r.get::<_, String>(1),
                r.get::<_, String>(2),
                r.get::<_, i32>(3),
            );
            tx.commit()?;
            Ok(Some(out))
        })?;
        let Some((id, info, scenario, scenario_name, attempt)) = row else {
            return Ok(None);
        };
        Ok(Some(Claim {
            info: parse_info(info, &id)?,
            scenario,
            scenario_name,
            attempt: attempt.max(0) as u32,
        }))
    }

    /// The heartbeat of this worker's attempt `attempt` of run `id`.
    pub fn heartbeat(&self, id: &str, attempt: u32) -> Result<Heartbeat> {
        let a = attempt as i32;
        let row = self.with(&format!("run {id}: heartbeat"), |c| {
            c.query_opt(
                &format!(
                    "UPDATE huetwin_runs SET heartbeat = now() WHERE {FENCE}
                     RETURNING cancel_requested"
                ),
                &[&id, &a, &self.name],
            )
        })?;
        Ok(match row {
            Some(r) => Heartbeat {
                owned: true,
                cancel: r.get(0),
            },
            None => Heartbeat {
                owned: false,
                cancel: true,
            },
        })
    }

    /// Records and notifies the progress of this worker's attempt; false when the run is no
    /// longer its own.
    pub fn progress(&self, id: &str, attempt: u32, ev: &QueueEvent) -> Result<bool> {
        let a = attempt as i32;
        let n = self.with(&format!("run {id}: progress"), |c| {
            let mut tx = c.transaction()?;
            let n = tx.execute(
                &format!(
                    "UPDATE huetwin_runs SET info = info || jsonb_build_object(
                       'progress', $4::float8, 'phase', $5::text, 'message', $6::text)
                     WHERE {FENCE}"
                ),
                &[&id, &a, &self.name, &ev.fraction, &ev.phase, &ev.message],
            )?;
            if n == 1 {
                notify(&mut tx, ev)?;
            }
            tx.commit()?;
            Ok(n)
        })?;
        Ok(n == 1)
    }

    /// Ends this worker's attempt with `info` (final status: done, failed or cancelled), or
    /// puts the run back in the queue when `retry` and it has attempts left. True when this
    /// call made the change (false: the run was no longer this attempt's, and nothing was
    /// written).
    pub fn finish(&self, info: &RunInfo, attempt: u32, retry: bool) -> Result<bool> {
        let a = attempt as i32;
        let id = info.id.clone();
        let mut info = info.clone();
        info.attempt = Some(attempt);
        info.worker = Some(self.name.clone());
        let n = self.with(&format!("run {id}: finishing"), |c| {
            let mut tx = c.transaction()?;
            let row = tx.query_opt(
                &format!(
                    "SELECT attempts < max_attempts FROM huetwin_runs WHERE {FENCE} FOR UPDATE"
                ),
                &[&id, &a, &self.name],
            )?;
            let Some(row) = row else {
                return Ok(0);
            };
            let again = retry && row.get::<_, bool>(0);
            if again {
                info.status = Status::Queued;
                info.phase = "requeued".into();
                info.progress = 0.0;
                info.message = format!(
                    "attempt {attempt} failed ({}); queued again",
                    info.error.clone().unwrap_or_default()
                );
                info.error = None;
                info.finished = None;
            }
            let n = tx.execute(
                &format!(
                    "UPDATE huetwin_runs SET status = $4, info = $5, heartbeat = NULL,
                       worker = CASE WHEN $4 = 'queued' THEN NULL ELSE worker END
                     WHERE {FENCE}"
                ),
                &[
                    &id,
                    &a,
                    &self.name,
                    &info.status.to_string(),
                    &to_json(&info),
                ],
            )?;
            if n == 1 {
                notify(&mut tx, &event_of(&info))?;
            }
            tx.commit()?;
            Ok(n)
        })?;
        Ok(n == 1)
    }
}

/// The event that says where `info` stands.
pub fn event_of(info: &RunInfo) -> QueueEvent {
    QueueEvent {
        run_id: info.id.clone(),
        status: info.status,
        reporting: info.id.clone(),
        phase: info.phase.clone(),
        fraction: info.progress,
        message: info.error.clone().unwrap_or_else(|| info.message.clone()),
    }
}

/// `pg_notify` of `ev` on [`CHANNEL`] (delivered when the transaction commits).
fn notify(
    tx: &mut postgres::Transaction,
    ev: &QueueEvent,
) -> std::result::Result<(), postgres::Error> {
    let mut ev = ev.clone();
    // NOTIFY payloads stop at 8000 bytes.
    if ev.message.len() > 2000 {
        let mut end = 2000;
        while !ev.message.is_char_boundary(end) {
            end -= 1;
        }
        ev.message.truncate(end);
    }
    let payload = serde_json::to_string(&ev).unwrap_or_default();
    tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload])?;
    Ok(())
}

/// A session that LISTENs on [`CHANNEL`].
pub struct Listener {
    client: Client,
}

impl Listener {
    /// Connects to `url` and listens.
    pub fn connect(url: &str) -> Result<Listener> {
        let mut client = Queue::open(url)?;
        client
            .batch_execute(&format!("LISTEN {CHANNEL}"))
            .map_err(|e| ScenarioError::Queue {
                queue: display_url(url),
                what: "LISTEN".into(),
                message: e.to_string(),
            })?;
        Ok(Listener { client })
    }

    /// The events that have arrived, waiting up to `timeout` for the first; an error when
    /// the session broke.
    pub fn next_events(&mut self, timeout: Duration) -> Result<Vec<QueueEvent>> {
        use postgres::fallible_iterator::FallibleIterator;
        let broke = |e: postgres::Error| ScenarioError::Queue {
            queue: "listener".into(),
            what: "waiting for notifications".into(),
            message: e.to_string(),
        };
        let mut notes = Vec::new();
        let mut n = self.client.notifications();
        let first = n.timeout_iter(timeout).next().map_err(broke)?;
        if let Some(first) = first {
            notes.push(first);
            let mut pending = n.iter();
            while notes.len() < 1024 {
                match pending.next().map_err(broke)? {
                    Some(note) => notes.push(note),
                    None => break,
                }
            }
        }
        let mut out = Vec::new();
        for note in notes {
            match serde_json::from_str::<QueueEvent>(note.payload()) {
                Ok(ev) => out.push(ev),
                Err(e) => tracing::warn!("a {CHANNEL} notification: {e}"),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_shown_without_secrets() {
        assert_eq!(
            display_url("postgres://u:secret@127.0.0.1:5432/db?sslmode=disable"),
            "127.0.0.1:5432/db"
        );
        assert_eq!(display_url("postgres://127.0.0.1/x"), "127.0.0.1/x");
        assert_eq!(results_prefix("r1", 2), "runs/r1/a2");
    }
}
