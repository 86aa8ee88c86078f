//! The live store: `<twin>/live.sqlite` in WAL mode with `synchronous=FULL`, one writer thread
//! that commits writes in groups (every write of a group shares one transaction and one fsync,
//! and each is acknowledged only after that commit), readers on their own connections that
//! are never blocked by the writer. See ADR 0019.

use super::model::{Entity, EntitySet};
use super::time::{format_time, now_ms, parse_time, TimeValue};
use crate::error::{Result, TwinError};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Mutex};

/// Writes waiting for the writer thread at most (more wait in the sender).
const QUEUE: usize = 8192;
/// Observations in one group commit at most.
const GROUP_OBSERVATIONS: usize = 100_000;
/// Observations one read may return or scan at most.
pub const MAX_ROWS: usize = 1_000_000;

/// A write to the store.
#[derive(Debug, Clone)]
pub enum WriteOp {
    /// Create an entity (with deep insert of related entities given inline, links to those
    /// given by `@iot.id`). `parent` links it to the entity of the URL it was posted under
    /// (`Datastreams(7)/Observations`: `("Datastream", 7)`).
    Create {
        /// The set.
        set: EntitySet,
        /// The JSON body.
        body: Value,
        /// The link implied by the URL.
        parent: Option<(String, i64)>,
    },
    /// Change properties and links of an entity (PATCH).
    Update {
        /// The set.
        set: EntitySet,
        /// The entity.
        id: i64,
        /// The JSON body.
        body: Value,
    },
    /// Delete an entity and what depends on it (a Thing's Datastreams, a Datastream's
    /// Observations...).
    Delete {
        /// The set.
        set: EntitySet,
        /// The entity.
        id: i64,
    },
    /// Insert observations already checked (a `dataArray` batch, MQTT messages).
    Observations(Vec<NewObservation>),
    /// Observations delivered again (an MQTT message with its DUP flag: the first delivery
    /// may have been stored before its acknowledgement was lost): each is inserted unless an
    /// observation of its Datastream with the same phenomenon time and result is stored.
    Redelivered(Vec<NewObservation>),
    /// Delete the observations whose phenomenon time is before this instant (retention).
    Purge {
        /// Milliseconds since the epoch.
        before: i64,
    },
}

/// An observation to insert.
#[derive(Debug, Clone, PartialEq)]
pub struct NewObservation {
    /// Its Datastream.
    pub datastream: i64,
    /// Its phenomenon time.
    pub phenomenon: TimeValue,
    /// Its result.
    pub result: Value,
    /// Its result time.
    pub result_time: Option<i64>,
    /// Its feature of interest; none: the Thing's Location's.
    pub foi: Option<i64>,
    /// `resultQuality`, `validTime`, `parameters` when given.
    pub extra: Option<Map<String, Value>>,
}

/// What a write did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteOutcome {
    /// The id of the entity created (the top one of a deep insert).
    pub id: Option<i64>,
    /// Ids of observations inserted, in order.
    pub ids: Vec<i64>,
    /// Observations created, as stored (to publish on MQTT and to live clients).
    pub observations: Vec<Entity>,
    /// Rows deleted (Delete, Purge).
    pub deleted: u64,
}

/// Called with a write's result once its group is committed (or failed).
pub type Done = Box<dyn FnOnce(Result<WriteOutcome>) + Send>;

struct Job {
    op: WriteOp,
    done: Done,
}

/// Which observations a read wants.
#[derive(Debug, Clone, Default)]
pub struct ObsQuery {
    /// Of this Datastream.
    pub datastream: Option<i64>,
    /// Of this feature of interest.
    pub foi: Option<i64>,
    /// Phenomenon time (start) at or after, milliseconds.
    pub from: Option<i64>,
    /// Phenomenon time (start) before (exclusive), milliseconds.
    pub to: Option<i64>,
    /// Order.
    pub order: ObsOrder,
    /// Rows skipped.
    pub skip: usize,
    /// Rows returned at most.
    pub limit: usize,
}

/// The order of observations read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ObsOrder {
    /// By id, ascending (the default).
    #[default]
    IdAsc,
    /// By id, descending.
    IdDesc,
    /// By phenomenon time, ascending (then id).
    TimeAsc,
    /// By phenomenon time, descending (then id).
    TimeDesc,
}

/// Min, mean and max of numeric results in one interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    /// The interval's start, milliseconds.
    pub start: i64,
    /// Numeric results in it.
    pub count: u64,
    /// The smallest.
    pub min: f64,
    /// The mean.
    pub mean: f64,
    /// The largest.
    pub max: f64,
}

/// The live store of a twin (see the module docs).
pub struct LiveStore {
    path: PathBuf,
    tx: Mutex<Option<mpsc::SyncSender<Job>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    readers: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for LiveStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveStore")
            .field("path", &self.path)
            .finish()
    }
}

fn store_err(path: &Path, e: impl std::fmt::Display) -> TwinError {
    TwinError::Store {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn bad(what: &str, m: impl std::fmt::Display) -> TwinError {
    TwinError::invalid(what, m)
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sta_entity(
    id INTEGER PRIMARY KEY,
    set_name TEXT NOT NULL,
    props TEXT NOT NULL,
    links TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS sta_entity_set ON sta_entity(set_name);
CREATE TABLE IF NOT EXISTS sta_observation(
    id INTEGER PRIMARY KEY,
    datastream INTEGER NOT NULL,
    t INTEGER NOT NULL,
    t_end INTEGER,
    result TEXT NOT NULL,
    result_num REAL,
    result_time INTEGER,
    foi INTEGER,
    extra TEXT);
CREATE INDEX IF NOT EXISTS sta_observation_ds_t ON sta_observation(datastream, t);
CREATE INDEX IF NOT EXISTS sta_observation_t ON sta_observation(t);
";

impl LiveStore {
    /// The store file of a twin folder.
    pub fn file(twin_dir: &Path) -> PathBuf {
        twin_dir.join("live.sqlite")
    }

    /// Open (creating when missing) the store at `path` and start its writer thread.
    pub fn open(path: &Path) -> Result<LiveStore> {
        let conn = Connection::open(path).map_err(|e| store_err(path, e))?;
        // WAL: readers go on while the writer commits; FULL: the WAL is fsynced at each
        // commit, so a committed (acknowledged) write survives power loss.
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=10000;",
        )
        .map_err(|e| store_err(path, e))?;
        conn.execute_batch(SCHEMA).map_err(|e| store_err(path, e))?;
        let (tx, rx) = mpsc::sync_channel::<Job>(QUEUE);
        let p = path.to_path_buf();
        let writer = std::thread::Builder::new()
            .name("live-writer".into())
            .spawn(move || writer_loop(conn, rx, p))
            .map_err(|e| store_err(path, e))?;
        Ok(LiveStore {
            path: path.to_path_buf(),
            tx: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(writer)),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queue a write; `done` is called from the writer thread after the commit that holds
    /// it (blocks while the queue is full).
    pub fn submit(&self, op: WriteOp, done: Done) {
        let tx = self.tx.lock().ok().and_then(|t| t.clone());
        match tx {
            Some(tx) => {
                if let Err(mpsc::SendError(job)) = tx.send(Job { op, done }) {
                    (job.done)(Err(store_err(&self.path, "the writer has stopped")));
                }
            }
            None => done(Err(store_err(&self.path, "the store is closed"))),
        }
    }

    /// Queue a write without waiting for room: gives the write back when the queue is full.
    #[allow(clippy::result_large_err)]
    pub fn try_submit(&self, op: WriteOp, done: Done) -> std::result::Result<(), (WriteOp, Done)> {
        let tx = self.tx.lock().ok().and_then(|t| t.clone());
        match tx {
            Some(tx) => match tx.try_send(Job { op, done }) {
                Ok(()) => Ok(()),
                Err(mpsc::TrySendError::Full(j)) => Err((j.op, j.done)),
                Err(mpsc::TrySendError::Disconnected(j)) => {
                    (j.done)(Err(store_err(&self.path, "the writer has stopped")));
                    Ok(())
                }
            },
            None => {
                done(Err(store_err(&self.path, "the store is closed")));
                Ok(())
            }
        }
    }

    /// A write, waiting for its commit (blocking).
    pub fn write(&self, op: WriteOp) -> Result<WriteOutcome> {
        let (tx, rx) = mpsc::channel();
        self.submit(
            op,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.recv()
            .map_err(|_| store_err(&self.path, "the writer has stopped"))?
    }

    /// Stop the writer after the writes queued so far.
    pub fn close(&self) {
        if let Ok(mut t) = self.tx.lock() {
            t.take();
        }
        if let Some(h) = self.writer.lock().ok().and_then(|mut w| w.take()) {
            let _ = h.join();
        }
    }

    fn with_reader<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let conn = self.readers.lock().ok().and_then(|mut r| r.pop());
        let conn = match conn {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(|e| store_err(&self.path, e))?;
                c.busy_timeout(std::time::Duration::from_secs(10))
                    .map_err(|e| store_err(&self.path, e))?;
                c
            }
        };
        let r = f(&conn).map_err(|e| store_err(&self.path, e));
        if let Ok(mut pool) = self.readers.lock() {
            if pool.len() < 8 {
                pool.push(conn);
            }
        }
        r
    }

    /// One entity.
    pub fn get(&self, set: EntitySet, id: i64) -> Result<Option<Entity>> {
        self.with_reader(|c| get_entity(c, set, id))
    }

    /// Every entity of a set other than Observations (those are read with
    /// [`LiveStore::observations`]).
    pub fn list(&self, set: EntitySet) -> Result<Vec<Entity>> {
        if set == EntitySet::Observations {
            return Err(bad(
                "entity set",
                "Observations are read with LiveStore::observations",
            ));
        }
        self.with_reader(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, props, links FROM sta_entity WHERE set_name = ?1 ORDER BY id",
            )?;
            let rows = st.query_map([set.name()], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, p, l) = row?;
                out.push(entity_from(set, id, &p, &l)?);
            }
            Ok(out)
        })
    }

    /// Observations (at most [`MAX_ROWS`] and `q.limit`).
    pub fn observations(&self, q: &ObsQuery) -> Result<Vec<Entity>> {
        let (sql, args) = obs_sql(
            "SELECT id, datastream, t, t_end, result, result_time, foi, extra FROM sta_observation",
            q,
            true,
        );
        self.with_reader(|c| {
            let mut st = c.prepare_cached(&sql)?;
            let rows = st.query_map(rusqlite::params_from_iter(args.iter()), obs_row)?;
            rows.collect()
        })
    }

    /// How many observations match (skip and limit ignored).
    pub fn count_observations(&self, q: &ObsQuery) -> Result<u64> {
        let (sql, args) = obs_sql("SELECT count(*) FROM sta_observation", q, false);
        self.with_reader(|c| {
            c.prepare_cached(&sql)?
                .query_row(rusqlite::params_from_iter(args.iter()), |r| {
                    r.get::<_, i64>(0)
                })
                .map(|n| n as u64)
        })
    }

    /// Min, mean and max of a Datastream's numeric results per `interval_ms` from `from` to
    /// `to` (exclusive), intervals aligned on `from`; empty intervals left out.
    pub fn aggregate(
        &self,
        datastream: i64,
        from: i64,
        to: i64,
        interval_ms: i64,
    ) -> Result<Vec<Bucket>> {
        if interval_ms <= 0 || to < from {
            return Err(bad("interval", "needs interval > 0 and from <= to"));
        }
        self.with_reader(|c| {
            let mut st = c.prepare_cached(
                "SELECT (t - ?2) / ?4 AS b, count(result_num), min(result_num), avg(result_num), max(result_num)
                 FROM sta_observation WHERE datastream = ?1 AND t >= ?2 AND t < ?3 AND result_num IS NOT NULL
                 GROUP BY b ORDER BY b",
            )?;
            let rows = st.query_map(params![datastream, from, to, interval_ms], |r| {
                Ok(Bucket {
                    start: from + r.get::<_, i64>(0)? * interval_ms,
                    count: r.get::<_, i64>(1)? as u64,
                    min: r.get(2)?,
                    mean: r.get(3)?,
                    max: r.get(4)?,
                })
            })?;
            rows.collect()
        })
    }
}

impl Drop for LiveStore {
    fn drop(&mut self) {
        self.close();
    }
}

fn obs_sql(select: &str, q: &ObsQuery, page: bool) -> (String, Vec<i64>) {
    let mut sql = String::from(select);
    let mut args = Vec::new();
    let mut conds = Vec::new();
    for (col, v, op) in [
        ("datastream", q.datastream, "="),
        ("foi", q.foi, "="),
        ("t", q.from, ">="),
        ("t", q.to, "<"),
    ] {
        if let Some(v) = v {
            args.push(v);
            conds.push(format!("{col} {op} ?{}", args.len()));
        }
    }
    if !conds.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conds.join(" AND "));
    }
    if page {
        sql.push_str(match q.order {
            ObsOrder::IdAsc => " ORDER BY id",
            ObsOrder::IdDesc => " ORDER BY id DESC",
            ObsOrder::TimeAsc => " ORDER BY t, id",
            ObsOrder::TimeDesc => " ORDER BY t DESC, id DESC",
        });
        args.push(q.limit.min(MAX_ROWS) as i64);
        sql.push_str(&format!(" LIMIT ?{}", args.len()));
        args.push(q.skip as i64);
        sql.push_str(&format!(" OFFSET ?{}", args.len()));
    }
    (sql, args)
}

fn obs_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Entity> {
    let id: i64 = r.get(0)?;
    let ds: i64 = r.get(1)?;
    let t = TimeValue {
        start: r.get(2)?,
        end: r.get(3)?,
    };
    let result: String = r.get(4)?;
    let result_time: Option<i64> = r.get(5)?;
    let foi: Option<i64> = r.get(6)?;
    let extra: Option<String> = r.get(7)?;
    let mut props = Map::new();
    props.insert("phenomenonTime".into(), Value::String(format_time(t)));
    props.insert(
        "result".into(),
        serde_json::from_str(&result).unwrap_or(Value::Null),
    );
    props.insert(
        "resultTime".into(),
        result_time
            .map(|t| Value::String(super::time::format_instant(t)))
            .unwrap_or(Value::Null),
    );
    if let Some(Ok(Value::Object(m))) = extra.map(|e| serde_json::from_str::<Value>(&e)) {
        props.extend(m);
    }
    let mut links = BTreeMap::new();
    links.insert("Datastream".into(), vec![ds]);
    if let Some(f) = foi {
        links.insert("FeatureOfInterest".into(), vec![f]);
    }
    Ok(Entity {
        set: EntitySet::Observations,
        id,
        props,
        links,
    })
}

fn entity_from(set: EntitySet, id: i64, props: &str, links: &str) -> rusqlite::Result<Entity> {
    let conv = |e: serde_json::Error| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    };
    Ok(Entity {
        set,
        id,
        props: serde_json::from_str(props).map_err(conv)?,
        links: serde_json::from_str(links).map_err(conv)?,
    })
}

fn get_entity(c: &Connection, set: EntitySet, id: i64) -> rusqlite::Result<Option<Entity>> {
    if set == EntitySet::Observations {
        return c
            .prepare_cached(
                "SELECT id, datastream, t, t_end, result, result_time, foi, extra FROM sta_observation WHERE id = ?1",
            )?
            .query_row([id], obs_row)
            .optional();
    }
    let row = c
        .prepare_cached("SELECT props, links FROM sta_entity WHERE id = ?1 AND set_name = ?2")?
        .query_row(params![id, set.name()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .optional()?;
    row.map(|(p, l)| entity_from(set, id, &p, &l)).transpose()
}

fn writer_loop(mut conn: Connection, rx: mpsc::Receiver<Job>, path: PathBuf) {
    while let Ok(first) = rx.recv() {
        let mut weight = first.op.weight();
        let mut batch = vec![first];
        while weight < GROUP_OBSERVATIONS && batch.len() < QUEUE {
            match rx.try_recv() {
                Ok(j) => {
                    weight += j.op.weight();
                    batch.push(j);
                }
                Err(_) => break,
            }
        }
        let results = commit_group(&mut conn, &batch, &path);
        match results {
            Ok(results) => {
                for (job, r) in batch.into_iter().zip(results) {
                    (job.done)(r);
                }
            }
            Err(e) => {
                tracing::error!("live store commit failed: {e}");
                for job in batch {
                    (job.done)(Err(store_err(&path, &e)));
                }
            }
        }
    }
}

/// One transaction for the group, one savepoint per write (a failed write is rolled back
/// alone); the commit's fsync covers them all.
fn commit_group(
    conn: &mut Connection,
    batch: &[Job],
    path: &Path,
) -> rusqlite::Result<Vec<Result<WriteOutcome>>> {
    let mut tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut results = Vec::with_capacity(batch.len());
    for job in batch {
        // Observation batches check every Datastream before they insert anything, so they
        // need no savepoint of their own (one per message of an MQTT burst is measurable).
        if matches!(job.op, WriteOp::Observations(_) | WriteOp::Redelivered(_)) {
            results.push(apply(&tx, &job.op, path));
            continue;
        }
        let sp = tx.savepoint()?;
        let r = apply(&sp, &job.op, path);
        if r.is_ok() {
            sp.commit()?;
        } else {
            drop(sp);
        }
        results.push(r);
    }
    tx.commit()?;
    Ok(results)
}

impl WriteOp {
    fn weight(&self) -> usize {
        match self {
            WriteOp::Observations(v) | WriteOp::Redelivered(v) => v.len().max(1),
            _ => 1,
        }
    }
}

fn apply(c: &Connection, op: &WriteOp, path: &Path) -> Result<WriteOutcome> {
    let sql = |e: rusqlite::Error| store_err(path, e);
    match op {
        WriteOp::Create { set, body, parent } => {
            let mut out = WriteOutcome::default();
            let id = create(c, *set, body, parent.as_ref(), &mut out, path, 0)?;
            out.id = Some(id);
            Ok(out)
        }
        WriteOp::Update { set, id, body } => {
            update(c, *set, *id, body, path)?;
            Ok(WriteOutcome {
                id: Some(*id),
                ..Default::default()
            })
        }
        WriteOp::Delete { set, id } => {
            let deleted = delete(c, *set, *id, path)?;
            if deleted == 0 {
                return Err(TwinError::invalid(
                    "entity",
                    format!("no {}({id})", set.name()),
                ));
            }
            Ok(WriteOutcome {
                deleted,
                ..Default::default()
            })
        }
        WriteOp::Observations(rows) | WriteOp::Redelivered(rows) => {
            let redelivered = matches!(op, WriteOp::Redelivered(_));
            let mut out = WriteOutcome::default();
            // Every Datastream checked (and its default feature of interest found) first.
            let mut known = std::collections::HashMap::new();
            for o in rows {
                if let std::collections::hash_map::Entry::Vacant(e) = known.entry(o.datastream) {
                    e.insert(default_foi(c, o.datastream, path)?);
                }
            }
            for o in rows {
                let foi = known.get(&o.datastream).copied().flatten();
                if redelivered {
                    let stored = c
                        .prepare_cached(
                            "SELECT 1 FROM sta_observation WHERE datastream = ?1 AND t = ?2 AND result = ?3 LIMIT 1",
                        )
                        .and_then(|mut st| {
                            st.exists(params![o.datastream, o.phenomenon.start, o.result.to_string()])
                        })
                        .map_err(sql)?;
                    if stored {
                        continue;
                    }
                }
                let e = insert_observation(c, o, o.foi.or(foi)).map_err(sql)?;
                out.ids.push(e.id);
                out.observations.push(e);
            }
            Ok(out)
        }
        WriteOp::Purge { before } => {
            let n = c
                .execute("DELETE FROM sta_observation WHERE t < ?1", [before])
                .map_err(sql)?;
            Ok(WriteOutcome {
                deleted: n as u64,
                ..Default::default()
            })
        }
    }
}

fn insert_observation(
    c: &Connection,
    o: &NewObservation,
    foi: Option<i64>,
) -> rusqlite::Result<Entity> {
    let result = o.result.to_string();
    let num = o.result.as_f64();
    let extra = o
        .extra
        .as_ref()
        .map(|m| Value::Object(m.clone()).to_string());
    c.prepare_cached(
        "INSERT INTO sta_observation(datastream, t, t_end, result, result_num, result_time, foi, extra)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        o.datastream,
        o.phenomenon.start,
        o.phenomenon.end,
        result,
        num,
        o.result_time,
        foi,
        extra
    ])?;
    let id = c.last_insert_rowid();
    let mut props = Map::new();
    props.insert(
        "phenomenonTime".into(),
        Value::String(format_time(o.phenomenon)),
    );
    props.insert("result".into(), o.result.clone());
    props.insert(
        "resultTime".into(),
        o.result_time
            .map(|t| Value::String(super::time::format_instant(t)))
            .unwrap_or(Value::Null),
    );
    if let Some(m) = &o.extra {
        props.extend(m.clone());
    }
    let mut links = BTreeMap::new();
    links.insert("Datastream".into(), vec![o.datastream]);
    if let Some(f) = foi {
        links.insert("FeatureOfInterest".into(), vec![f]);
    }
    Ok(Entity {
        set: EntitySet::Observations,
        id,
        props,
        links,
    })
}

/// The feature of interest of a Datastream's observations given none: made once from the
/// Thing's (first) Location, and remembered in the Location's `FeatureOfInterest` link.
/// Checks the Datastream exists.
fn default_foi(c: &Connection, ds: i64, path: &Path) -> Result<Option<i64>> {
    let sql = |e: rusqlite::Error| store_err(path, e);
    let ds_e = get_entity(c, EntitySet::Datastreams, ds)
        .map_err(sql)?
        .ok_or_else(|| bad("Observation", format!("no Datastreams({ds})")))?;
    let Some(thing) = ds_e.link("Thing") else {
        return Ok(None);
    };
    let Some(thing) = get_entity(c, EntitySet::Things, thing).map_err(sql)? else {
        return Ok(None);
    };
    let Some(loc_id) = thing.link("Locations") else {
        return Ok(None);
    };
    let Some(mut loc) = get_entity(c, EntitySet::Locations, loc_id).map_err(sql)? else {
        return Ok(None);
    };
    if let Some(f) = loc.link("FeatureOfInterest") {
        return Ok(Some(f));
    }
    let mut props = Map::new();
    for k in ["name", "description", "encodingType"] {
        props.insert(k.into(), loc.props.get(k).cloned().unwrap_or(Value::Null));
    }
    props.insert(
        "feature".into(),
        loc.props.get("location").cloned().unwrap_or(Value::Null),
    );
    let foi =
        insert_entity(c, EntitySet::FeaturesOfInterest, &props, &BTreeMap::new()).map_err(sql)?;
    loc.links.insert("FeatureOfInterest".into(), vec![foi]);
    save_links(c, &loc).map_err(sql)?;
    Ok(Some(foi))
}

fn insert_entity(
    c: &Connection,
    set: EntitySet,
    props: &Map<String, Value>,
    links: &BTreeMap<String, Vec<i64>>,
) -> rusqlite::Result<i64> {
    c.prepare_cached("INSERT INTO sta_entity(set_name, props, links) VALUES (?1, ?2, ?3)")?
        .execute(params![
            set.name(),
            Value::Object(props.clone()).to_string(),
            serde_json::to_string(links).unwrap_or_else(|_| "{}".into())
        ])?;
    Ok(c.last_insert_rowid())
}

fn save_links(c: &Connection, e: &Entity) -> rusqlite::Result<()> {
    c.prepare_cached("UPDATE sta_entity SET props = ?2, links = ?3 WHERE id = ?1")?
        .execute(params![
            e.id,
            Value::Object(e.props.clone()).to_string(),
            serde_json::to_string(&e.links).unwrap_or_else(|_| "{}".into())
        ])?;
    Ok(())
}

/// Deep inserts nest at most this deep.
const MAX_DEPTH: usize = 6;

/// Resolve a related entity given in a body: `{"@iot.id": n}` links an existing one, an
/// object without `@iot.id` is created (deep insert).
fn related(
    c: &Connection,
    set: EntitySet,
    v: &Value,
    out: &mut WriteOutcome,
    path: &Path,
    depth: usize,
) -> Result<i64> {
    let obj = v
        .as_object()
        .ok_or_else(|| bad(set.singular(), "a related entity must be an object"))?;
    if let Some(id) = obj.get("@iot.id") {
        let id = id_of(id).ok_or_else(|| bad(set.singular(), "bad @iot.id"))?;
        let exists = get_entity(c, set, id)
            .map_err(|e| store_err(path, e))?
            .is_some();
        if !exists {
            return Err(bad(set.singular(), format!("no {}({id})", set.name())));
        }
        return Ok(id);
    }
    create(c, set, v, None, out, path, depth + 1)
}

/// An `@iot.id` value: a number, or a string holding one.
pub fn id_of(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.trim_matches('\'').parse().ok()))
}

fn create(
    c: &Connection,
    set: EntitySet,
    body: &Value,
    parent: Option<&(String, i64)>,
    out: &mut WriteOutcome,
    path: &Path,
    depth: usize,
) -> Result<i64> {
    if depth > MAX_DEPTH {
        return Err(bad(set.singular(), "deep insert nested too deep"));
    }
    let obj = body
        .as_object()
        .ok_or_else(|| bad(set.singular(), "the body must be a JSON object"))?;
    let mut props = Map::new();
    let mut links: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    // Entities to create after this one, linking back to it (a Thing's Datastreams).
    let mut children: Vec<(EntitySet, &'static str, &Value)> = Vec::new();
    for (k, v) in obj {
        if k.starts_with("@iot.") || k.ends_with("@iot.navigationLink") {
            continue;
        }
        if let Some(nav) = set.nav(k) {
            if nav.stored {
                let items: Vec<&Value> = match (nav.many, v) {
                    (true, Value::Array(a)) => a.iter().collect(),
                    (false, Value::Object(_)) => vec![v],
                    _ => {
                        return Err(bad(
                            set.singular(),
                            format!(
                                "`{k}` must be {}",
                                if nav.many { "an array" } else { "an object" }
                            ),
                        ))
                    }
                };
                let mut ids = Vec::new();
                for item in items {
                    ids.push(related(c, nav.target, item, out, path, depth)?);
                }
                links.insert(k.clone(), ids);
            } else {
                let a = v
                    .as_array()
                    .ok_or_else(|| bad(set.singular(), format!("`{k}` must be an array")))?;
                for item in a {
                    children.push((nav.target, nav.inverse, item));
                }
            }
            continue;
        }
        if !set.properties().contains(&k.as_str()) {
            return Err(bad(
                set.singular(),
                format!("unknown property `{k}` of {}", set.singular()),
            ));
        }
        props.insert(k.clone(), v.clone());
    }
    if let Some((name, id)) = parent {
        let nav = set
            .nav(name)
            .filter(|n| n.stored)
            .ok_or_else(|| bad(set.singular(), format!("cannot be created under {name}")))?;
        let exists = get_entity(c, nav.target, *id)
            .map_err(|e| store_err(path, e))?
            .is_some();
        if !exists {
            return Err(bad(
                set.singular(),
                format!("no {}({id})", nav.target.name()),
            ));
        }
        let ids = links.entry(name.clone()).or_default();
        if !ids.contains(id) {
            ids.push(*id);
        }
    }
    for p in set.required() {
        if props.get(*p).is_none_or(|v| v.is_null()) && set != EntitySet::Observations {
            return Err(bad(set.singular(), format!("missing `{p}`")));
        }
    }
    for nav in set.navigation().iter().filter(|n| n.stored && !n.many) {
        let optional = set == EntitySet::Observations && nav.name == "FeatureOfInterest";
        if !optional && !links.contains_key(nav.name) {
            return Err(bad(set.singular(), format!("missing `{}`", nav.name)));
        }
    }
    let id = if set == EntitySet::Observations {
        let o = observation_from(&props, &links)?;
        let foi = match o.foi {
            Some(f) => Some(f),
            None => default_foi(c, o.datastream, path)?,
        };
        let e = insert_observation(c, &o, foi).map_err(|e| store_err(path, e))?;
        let id = e.id;
        out.ids.push(id);
        out.observations.push(e);
        id
    } else {
        if set == EntitySet::HistoricalLocations {
            let t = props
                .get("time")
                .and_then(Value::as_str)
                .and_then(parse_time);
            if t.is_none() {
                return Err(bad("HistoricalLocation", "`time` is not an ISO 8601 time"));
            }
        }
        insert_entity(c, set, &props, &links).map_err(|e| store_err(path, e))?
    };
    // A Thing created with Locations gets a HistoricalLocation (STA 1.1, 8.2.3).
    if set == EntitySet::Things {
        if let Some(locs) = links.get("Locations").filter(|l| !l.is_empty()) {
            let mut hl = Map::new();
            hl.insert("time".into(), json!(super::time::format_instant(now_ms())));
            let mut hl_links = BTreeMap::new();
            hl_links.insert("Thing".to_string(), vec![id]);
            hl_links.insert("Locations".to_string(), locs.clone());
            insert_entity(c, EntitySet::HistoricalLocations, &hl, &hl_links)
                .map_err(|e| store_err(path, e))?;
        }
    }
    for (target, inverse, item) in children {
        let mut child = item.clone();
        if let Some(o) = child.as_object_mut() {
            o.insert(inverse.to_string(), json!({ "@iot.id": id }));
        }
        // An item given by id is linked (the inverse link set on it) rather than created.
        if let Some(cid) = item.get("@iot.id").and_then(id_of) {
            let mut e = get_entity(c, target, cid)
                .map_err(|e| store_err(path, e))?
                .ok_or_else(|| bad(target.singular(), format!("no {}({cid})", target.name())))?;
            let many = target.nav(inverse).is_some_and(|n| n.many);
            let l = e.links.entry(inverse.to_string()).or_default();
            if !many {
                l.clear();
            }
            l.push(id);
            save_links(c, &e).map_err(|e| store_err(path, e))?;
        } else {
            let entry = if target.nav(inverse).is_some_and(|n| n.many) {
                json!([{ "@iot.id": id }])
            } else {
                json!({ "@iot.id": id })
            };
            if let Some(o) = child.as_object_mut() {
                o.insert(inverse.to_string(), entry);
            }
            create(c, target, &child, None, out, path, depth + 1)?;
        }
    }
    Ok(id)
}

/// An observation from checked properties and links.
fn observation_from(
    props: &Map<String, Value>,
    links: &BTreeMap<String, Vec<i64>>,
) -> Result<NewObservation> {
    let datastream = links
        .get("Datastream")
        .and_then(|v| v.first().copied())
        .ok_or_else(|| bad("Observation", "missing `Datastream`"))?;
    let phenomenon = match props.get("phenomenonTime") {
        None | Some(Value::Null) => TimeValue {
            start: now_ms(),
            end: None,
        },
        Some(Value::String(s)) => parse_time(s).ok_or_else(|| {
            bad(
                "Observation",
                format!("`phenomenonTime` {s:?} is not ISO 8601"),
            )
        })?,
        Some(_) => return Err(bad("Observation", "`phenomenonTime` must be a string")),
    };
    let result_time = match props.get("resultTime") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(
            super::time::parse_instant(s)
                .ok_or_else(|| bad("Observation", format!("`resultTime` {s:?} is not ISO 8601")))?,
        ),
        Some(_) => return Err(bad("Observation", "`resultTime` must be a string")),
    };
    let result = props
        .get("result")
        .cloned()
        .ok_or_else(|| bad("Observation", "missing `result`"))?;
    let mut extra = Map::new();
    for k in ["resultQuality", "validTime", "parameters"] {
        if let Some(v) = props.get(k).filter(|v| !v.is_null()) {
            extra.insert(k.into(), v.clone());
        }
    }
    Ok(NewObservation {
        datastream,
        phenomenon,
        result,
        result_time,
        foi: links
            .get("FeatureOfInterest")
            .and_then(|v| v.first().copied()),
        extra: (!extra.is_empty()).then_some(extra),
    })
}

/// Check an observation body (as posted or published on MQTT) for a known Datastream,
/// without writing it.
pub fn observation_body(body: &Value, datastream: Option<i64>) -> Result<NewObservation> {
    let obj = body
        .as_object()
        .ok_or_else(|| bad("Observation", "the body must be a JSON object"))?;
    let mut props = Map::new();
    let mut links = BTreeMap::new();
    for (k, v) in obj {
        match k.as_str() {
            "Datastream" => {
                let id = v
                    .get("@iot.id")
                    .and_then(id_of)
                    .ok_or_else(|| bad("Observation", "`Datastream` needs an @iot.id"))?;
                links.insert("Datastream".to_string(), vec![id]);
            }
            "FeatureOfInterest" => {
                let id = v
                    .get("@iot.id")
                    .and_then(id_of)
                    .ok_or_else(|| bad("Observation", "`FeatureOfInterest` needs an @iot.id"))?;
                links.insert("FeatureOfInterest".to_string(), vec![id]);
            }
            _ if k.starts_with("@iot.") => {}
            _ if EntitySet::Observations.properties().contains(&k.as_str()) => {
                props.insert(k.clone(), v.clone());
            }
            _ => return Err(bad("Observation", format!("unknown property `{k}`"))),
        }
    }
    if let Some(ds) = datastream {
        links.insert("Datastream".to_string(), vec![ds]);
    }
    observation_from(&props, &links)
}

fn update(c: &Connection, set: EntitySet, id: i64, body: &Value, path: &Path) -> Result<()> {
    let sql = |e: rusqlite::Error| store_err(path, e);
    let obj = body
        .as_object()
        .ok_or_else(|| bad(set.singular(), "the body must be a JSON object"))?;
    if set == EntitySet::Observations {
        let old = get_entity(c, set, id)
            .map_err(sql)?
            .ok_or_else(|| bad("Observation", format!("no Observations({id})")))?;
        let mut merged = Value::Object(old.props.clone());
        for (k, v) in obj {
            merged[k] = v.clone();
        }
        merged["Datastream"] = json!({"@iot.id": old.link("Datastream")});
        if let Some(f) = old.link("FeatureOfInterest") {
            if !obj.contains_key("FeatureOfInterest") {
                merged["FeatureOfInterest"] = json!({ "@iot.id": f });
            }
        }
        let o = observation_body(&merged, None)?;
        c.execute(
            "UPDATE sta_observation SET datastream=?2, t=?3, t_end=?4, result=?5, result_num=?6, result_time=?7, foi=?8, extra=?9 WHERE id=?1",
            params![id, o.datastream, o.phenomenon.start, o.phenomenon.end, o.result.to_string(), o.result.as_f64(), o.result_time, o.foi,
                o.extra.map(|m| Value::Object(m).to_string())],
        )
        .map_err(sql)?;
        return Ok(());
    }
    let mut e = get_entity(c, set, id)
        .map_err(sql)?
        .ok_or_else(|| bad(set.singular(), format!("no {}({id})", set.name())))?;
    for (k, v) in obj {
        if k.starts_with("@iot.") {
            continue;
        }
        if let Some(nav) = set.nav(k) {
            if !nav.stored {
                return Err(bad(set.singular(), format!("`{k}` cannot be changed here")));
            }
            let items: Vec<&Value> = match v {
                Value::Array(a) => a.iter().collect(),
                other => vec![other],
            };
            let mut ids = Vec::new();
            for item in items {
                let mut scratch = WriteOutcome::default();
                ids.push(related(c, nav.target, item, &mut scratch, path, 0)?);
            }
            e.links.insert(k.clone(), ids);
            continue;
        }
        if !set.properties().contains(&k.as_str()) {
            return Err(bad(set.singular(), format!("unknown property `{k}`")));
        }
        if v.is_null() && set.required().contains(&k.as_str()) {
            return Err(bad(set.singular(), format!("`{k}` is required")));
        }
        e.props.insert(k.clone(), v.clone());
    }
    save_links(c, &e).map_err(sql)
}

/// Delete an entity and its dependants; the rows deleted.
fn delete(c: &Connection, set: EntitySet, id: i64, path: &Path) -> Result<u64> {
    let sql = |e: rusqlite::Error| store_err(path, e);
    if set == EntitySet::Observations {
        return Ok(c
            .execute("DELETE FROM sta_observation WHERE id = ?1", [id])
            .map_err(sql)? as u64);
    }
    if get_entity(c, set, id).map_err(sql)?.is_none() {
        return Ok(0);
    }
    let mut n = c
        .execute("DELETE FROM sta_entity WHERE id = ?1", [id])
        .map_err(sql)? as u64;
    match set {
        EntitySet::Datastreams => {
            n += c
                .execute("DELETE FROM sta_observation WHERE datastream = ?1", [id])
                .map_err(sql)? as u64;
        }
        EntitySet::FeaturesOfInterest => {
            n += c
                .execute("DELETE FROM sta_observation WHERE foi = ?1", [id])
                .map_err(sql)? as u64;
        }
        _ => {}
    }
    // Dependants: entities whose required to-one link points here (a Thing's Datastreams
    // and HistoricalLocations, a Sensor's Datastreams...); links held in lists are dropped.
    for nav in set.navigation().iter().filter(|n| !n.stored) {
        if nav.target == EntitySet::Observations {
            continue;
        }
        let target_nav = nav.target.nav(nav.inverse);
        let to_one = target_nav.is_some_and(|t| !t.many);
        let ids: Vec<i64> = {
            let mut st = c
                .prepare_cached("SELECT id, props, links FROM sta_entity WHERE set_name = ?1")
                .map_err(sql)?;
            let rows = st
                .query_map([nav.target.name()], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })
                .map_err(sql)?;
            let mut ids = Vec::new();
            for row in rows {
                let (tid, p, l) = row.map_err(sql)?;
                let mut e = entity_from(nav.target, tid, &p, &l).map_err(sql)?;
                let Some(list) = e.links.get_mut(nav.inverse) else {
                    continue;
                };
                if !list.contains(&id) {
                    continue;
                }
                if to_one {
                    ids.push(tid);
                } else {
                    list.retain(|x| *x != id);
                    save_links(c, &e).map_err(sql)?;
                }
            }
            ids
        };
        for tid in ids {
            n += delete(c, nav.target, tid, path)?;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_insert_observations_and_cascade() {
        let dir = tempfile::tempdir().unwrap();
        let s = LiveStore::open(&dir.path().join("live.sqlite")).unwrap();
        let thing = s
            .write(WriteOp::Create {
                set: EntitySet::Things,
                parent: None,
                body: json!({
                    "name": "Kim Long", "description": "river gauge",
                    "Locations": [{"name": "KL", "description": "bank", "encodingType": "application/geo+json",
                                   "location": {"type": "Point", "coordinates": [107.5579, 16.4560]}}],
                    "Datastreams": [{"name": "stage", "description": "river stage", "observationType": "OM_Measurement",
                        "unitOfMeasurement": {"name": "metre", "symbol": "m", "definition": "m"},
                        "Sensor": {"name": "radar", "description": "r", "encodingType": "text/plain", "metadata": "-"},
                        "ObservedProperty": {"name": "stage", "definition": "stage", "description": "water level"}}]
                }),
            })
            .unwrap()
            .id
            .unwrap();
        let ds = s.list(EntitySet::Datastreams).unwrap();
        assert_eq!(ds.len(), 1);
        assert_eq!(ds[0].link("Thing"), Some(thing));
        assert_eq!(s.list(EntitySet::HistoricalLocations).unwrap().len(), 1);
        let rows: Vec<NewObservation> = (0..10)
            .map(|i| NewObservation {
                datastream: ds[0].id,
                phenomenon: TimeValue {
                    start: i * 60_000,
                    end: None,
                },
                result: json!(1.0 + i as f64 * 0.5),
                result_time: None,
                foi: None,
                extra: None,
            })
            .collect();
        let out = s.write(WriteOp::Observations(rows)).unwrap();
        assert_eq!(out.ids.len(), 10);
        // The feature of interest was made from the Thing's Location.
        let fois = s.list(EntitySet::FeaturesOfInterest).unwrap();
        assert_eq!(fois.len(), 1);
        assert_eq!(
            out.observations[0].link("FeatureOfInterest"),
            Some(fois[0].id)
        );
        let b = s.aggregate(ds[0].id, 0, 600_000, 300_000).unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!((b[0].count, b[0].min, b[0].max), (5, 1.0, 3.0));
        assert!((b[0].mean - 2.0).abs() < 1e-12);
        assert_eq!((b[1].min, b[1].max), (3.5, 5.5));
        // An unknown Datastream is refused, and nothing of that write is kept.
        let e = s.write(WriteOp::Observations(vec![NewObservation {
            datastream: 999,
            phenomenon: TimeValue {
                start: 0,
                end: None,
            },
            result: json!(1),
            result_time: None,
            foi: None,
            extra: None,
        }]));
        assert!(e.is_err());
        let q = ObsQuery {
            datastream: Some(ds[0].id),
            limit: 100,
            ..Default::default()
        };
        assert_eq!(s.count_observations(&q).unwrap(), 10);
        // Retention: those before minute 4 go.
        let p = s.write(WriteOp::Purge { before: 240_000 }).unwrap();
        assert_eq!(p.deleted, 4);
        assert_eq!(s.count_observations(&q).unwrap(), 6);
        let first = s
            .observations(&ObsQuery {
                order: ObsOrder::TimeAsc,
                limit: 1,
                ..q.clone()
            })
            .unwrap();
        assert_eq!(first[0].props["phenomenonTime"], "1970-01-01T00:04:00Z");
        // Deleting the Thing deletes its Datastream and that one's observations.
        s.write(WriteOp::Delete {
            set: EntitySet::Things,
            id: thing,
        })
        .unwrap();
        assert!(s.list(EntitySet::Datastreams).unwrap().is_empty());
        assert_eq!(s.count_observations(&q).unwrap(), 0);
    }
}
