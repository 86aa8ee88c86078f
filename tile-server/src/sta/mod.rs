//! OGC SensorThings API 1.1 (sensing part) under `/v1.1/`, over the twin's live store
//! ([`twin_core::live`]), and its MQTT extension ([`mqtt`]).
//!
//! | route | what |
//! | --- | --- |
//! | `GET /v1.1` | the service root: entity sets and conformance classes |
//! | `GET /v1.1/<Set>`, `/v1.1/<Set>(<id>)`, `/v1.1/<Set>(<id>)/<Nav>...`, `.../<property>[/$value]` | entities, with `$top $skip $count $orderby $select $expand $filter $resultFormat` |
//! | `POST /v1.1/<Set>`, `/v1.1/<Set>(<id>)/<Nav>` | create (deep insert; editor) |
//! | `PATCH`/`PUT /v1.1/<Set>(<id>)`, `DELETE /v1.1/<Set>(<id>)` | update, delete (editor) |
//! | `POST /v1.1/CreateObservations` | `dataArray` batches of observations (editor) |
//! | `GET /v1.1/Datastreams(<id>)/Series?from&to&interval` | min/mean/max per interval, for charts (an extension) |
//!
//! A write is answered only after the group commit that holds it (fsync): a 201 means the
//! entity survives a crash. New observations go to MQTT subscribers and live clients.
//! The twin's sensors layer is copied in at start: each sensor is a Thing (its `properties`
//! hold `twinId`, `kind`, `unit`) with its Location and one Datastream.

pub mod filter;
pub mod mqtt;
pub mod nowcast;
pub mod query;

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use filter::{eval, is_true, Expr, Val};
use query::{parse_query, Opts};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use twin_core::live::store::{id_of, observation_body};
use twin_core::live::time::{format_instant, parse_time};
use twin_core::live::{Entity, EntitySet, LiveStore, ObsOrder, ObsQuery, WriteOp, WriteOutcome};
use twin_core::Twin;

/// Observations a `$filter` that the store cannot answer by itself may scan at most.
pub const MAX_SCAN: usize = 200_000;

/// How the live part of the server runs (`ServerConfig::live`).
#[derive(Clone, Debug, Default)]
pub struct LiveConfig {
    /// The store file; none: `<twin>/live.sqlite` when the server knows the twin's folder,
    /// else no SensorThings API.
    pub store: Option<PathBuf>,
    /// The MQTT broker to bridge with, none for no MQTT.
    pub mqtt: Option<mqtt::MqttConfig>,
    /// Observations older than this are deleted (checked hourly); none: kept.
    pub retention: Option<std::time::Duration>,
    /// Live push streams (`GET /api/live/events`) served at once; none:
    /// [`crate::push::MAX_STREAMS`].
    pub push_streams: Option<usize>,
}

/// The state of the SensorThings routes.
pub struct Live {
    /// The store.
    pub store: Arc<LiveStore>,
    /// New observations as stored (MQTT publishing, live clients).
    pub events: tokio::sync::broadcast::Sender<Arc<Entity>>,
    /// `http` or `https`, for absolute links.
    pub scheme: &'static str,
    /// The nowcast watcher, when `<twin>/live.toml` binds gauges ([`nowcast`]).
    pub nowcast: std::sync::OnceLock<Arc<nowcast::Nowcast>>,
    /// The live push stream ([`crate::push`]): observations, alarms, nowcasts.
    pub hub: Arc<crate::push::Hub>,
}

impl Live {
    /// Open the store, copy the twin's sensors in, start retention (and nothing else).
    pub fn open(
        path: &std::path::Path,
        twin: &Twin,
        scheme: &'static str,
        hub: Arc<crate::push::Hub>,
    ) -> Result<Live, ApiError> {
        let store = Arc::new(LiveStore::open(path).map_err(ApiError::from)?);
        sync_sensors(&store, twin)?;
        let (events, _) = tokio::sync::broadcast::channel(65_536);
        Ok(Live {
            store,
            events,
            scheme,
            nowcast: std::sync::OnceLock::new(),
            hub,
        })
    }

    /// A write, awaited without blocking the runtime; new observations are then sent to
    /// [`Live::events`].
    pub async fn write(&self, op: WriteOp) -> Result<WriteOutcome, ApiError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit_blocking_ok(
            op,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        let out = rx
            .await
            .map_err(|_| ApiError::internal("the live store's writer stopped"))?
            .map_err(write_error)?;
        for o in &out.observations {
            let _ = self.events.send(Arc::new(o.clone()));
        }
        Ok(out)
    }
}

impl Live {
    /// Queue a write; when the queue is full, wait for room on a blocking thread (the
    /// runtime's threads are not blocked).
    pub fn submit_blocking_ok(&self, op: WriteOp, done: twin_core::live::store::Done) {
        if let Err((op, done)) = self.store.try_submit(op, done) {
            let store = self.store.clone();
            tokio::task::spawn_blocking(move || store.submit(op, done));
        }
    }
}

fn write_error(e: twin_core::TwinError) -> ApiError {
    match e {
        twin_core::TwinError::Invalid { .. } => ApiError::bad_request(e.to_string()),
        other => ApiError::internal(other.to_string()),
    }
}

/// The routes, with their own state (open the store and start the MQTT bridge first with
/// [`start`]).
pub fn routes<S: Clone + Send + Sync + 'static>(live: Option<Arc<Live>>) -> Router<S> {
    Router::new()
        .route("/v1.1", get(root))
        .route("/api/live/nowcast", get(nowcast_state))
        .route(
            "/v1.1/{*path}",
            get(get_path)
                .post(post_path)
                .patch(patch_path)
                .put(patch_path)
                .delete(delete_path),
        )
        .with_state(live)
}

/// Start the nowcast watcher of `<twin>/live.toml` (after the scenario runs exist).
pub fn start_nowcast(
    live: Option<&Arc<Live>>,
    runs: Option<Arc<crate::runs::Runs>>,
    twin: Arc<Twin>,
    twin_dir: Option<&std::path::Path>,
) -> Result<(), ApiError> {
    let (Some(live), Some(dir)) = (live, twin_dir) else {
        return Ok(());
    };
    if let Some(n) = nowcast::spawn(live.clone(), runs, twin, dir)? {
        let _ = live.nowcast.set(n);
    }
    Ok(())
}

/// `GET /api/live/nowcast`: each bound gauge's latest stage, alarm state and current
/// nowcast run.
#[utoipa::path(get, path = "/api/live/nowcast", tag = "sensorthings",
    responses((status = 200, description = "{\"nowcast\": [{sensor, datastream, alarm_m, latest, alarm, run, error}]}")))]
pub async fn nowcast_state(State(live): State<Option<Arc<Live>>>) -> Result<Response, ApiError> {
    let live = live_of(&live)?;
    let states = live.nowcast.get().map(|n| n.states()).unwrap_or_default();
    Ok(json_response(StatusCode::OK, &json!({ "nowcast": states })))
}

/// Open the live store of a server (when it has one), start the MQTT bridge and retention.
/// The bridge and retention run on threads of their own.
pub fn start(
    cfg: &LiveConfig,
    twin_dir: Option<&std::path::Path>,
    twin: &Twin,
    scheme: &'static str,
    hub: Arc<crate::push::Hub>,
) -> Result<Option<Arc<Live>>, ApiError> {
    let Some(path) = cfg.store.clone().or_else(|| twin_dir.map(LiveStore::file)) else {
        return Ok(None);
    };
    let live = Arc::new(Live::open(&path, twin, scheme, hub)?);
    spawn_push(&live)?;
    if let Some(m) = &cfg.mqtt {
        mqtt::spawn(live.clone(), m.clone())?;
    }
    if let Some(keep) = cfg.retention {
        let store = live.store.clone();
        std::thread::Builder::new()
            .name("live-retention".into())
            .spawn(move || loop {
                let before = twin_core::live::time::now_ms() - keep.as_millis() as i64;
                match store.write(WriteOp::Purge { before }) {
                    Ok(o) => tracing::info!("retention: {} observations deleted", o.deleted),
                    Err(e) => tracing::warn!("retention: {e}"),
                }
                std::thread::sleep(std::time::Duration::from_secs(3600));
            })
            .map_err(|e| ApiError::internal(format!("retention thread: {e}")))?;
    }
    Ok(Some(live))
}

/// Datastreams whose Thing the push forwarder remembers at most (then it starts afresh).
const MAX_THING_CACHE: usize = 100_000;

/// Forward new observations (sent on [`Live::events`] after their commit) to the live push
/// stream, with the Thing of their Datastream (looked up once per Datastream).
fn spawn_push(live: &Arc<Live>) -> Result<(), ApiError> {
    let mut rx = live.events.subscribe();
    let store = live.store.clone();
    let hub = live.hub.clone();
    let mut things: HashMap<i64, Option<i64>> = HashMap::new();
    std::thread::Builder::new()
        .name("live-push".into())
        .spawn(move || loop {
            let o = match rx.blocking_recv() {
                Ok(o) => o,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(k)) => {
                    tracing::warn!("live push: {k} observations not forwarded (behind)");
                    continue;
                }
                Err(_) => return,
            };
            let Some(ds) = o.link("Datastream") else {
                continue;
            };
            if !hub.has_streams() {
                continue;
            }
            if things.len() > MAX_THING_CACHE {
                things.clear();
            }
            let thing = *things.entry(ds).or_insert_with(|| {
                store
                    .get(EntitySet::Datastreams, ds)
                    .ok()
                    .flatten()
                    .and_then(|d| d.link("Thing"))
            });
            hub.send(crate::push::Push::Observation {
                id: o.id,
                datastream: ds,
                thing,
                phenomenon_time: o
                    .props
                    .get("phenomenonTime")
                    .and_then(|t| t.as_str())
                    .unwrap_or_default()
                    .to_string(),
                result: o.props.get("result").cloned().unwrap_or(Value::Null),
            });
        })
        .map_err(|e| ApiError::internal(format!("live push thread: {e}")))?;
    Ok(())
}

/// Copy the twin's sensors in as Things (once per sensor id: those already there are left).
fn sync_sensors(store: &LiveStore, twin: &Twin) -> Result<(), ApiError> {
    if twin.sensors.is_empty() {
        return Ok(());
    }
    let to_wgs84 = twin_core::crs::Reprojector::new(&twin.crs, &twin_core::Crs::wgs84())?;
    let things = store.list(EntitySet::Things)?;
    let known: std::collections::HashSet<String> = things
        .iter()
        .filter_map(|t| {
            t.props
                .get("properties")?
                .get("twinId")?
                .as_str()
                .map(String::from)
        })
        .collect();
    let mut sensors_of_kind: HashMap<String, (i64, i64)> = HashMap::new();
    for s in twin.sensors.features() {
        if known.contains(&s.id) {
            continue;
        }
        let (lon, lat) = to_wgs84.apply(s.location.x(), s.location.y())?;
        let (sensor, prop) = match sensors_of_kind.get(&s.kind) {
            Some(ids) => *ids,
            None => {
                let sensor = store.write(WriteOp::Create {
                    set: EntitySet::Sensors,
                    parent: None,
                    body: json!({"name": s.kind, "description": format!("{} of the twin's sensors layer", s.kind),
                        "encodingType": "text/plain", "metadata": s.kind}),
                })?;
                let prop = store.write(WriteOp::Create {
                    set: EntitySet::ObservedProperties,
                    parent: None,
                    body: json!({"name": s.kind, "definition": format!("urn:huetwin:{}", s.kind), "description": s.kind}),
                })?;
                let ids = (sensor.id.unwrap_or(0), prop.id.unwrap_or(0));
                sensors_of_kind.insert(s.kind.clone(), ids);
                ids
            }
        };
        let name = s.name.clone().unwrap_or_else(|| s.id.clone());
        let mut props = Map::new();
        props.insert("twinId".into(), json!(s.id));
        props.insert("kind".into(), json!(s.kind));
        props.insert("unit".into(), json!(s.unit));
        for (k, v) in &s.attributes {
            props.insert(k.clone(), json!(v));
        }
        store.write(WriteOp::Create {
            set: EntitySet::Things,
            parent: None,
            body: json!({
                "name": name, "description": format!("{} ({})", s.kind, s.id), "properties": props,
                "Locations": [{"name": name, "description": format!("location of {}", s.id),
                    "encodingType": "application/geo+json", "location": {"type": "Point", "coordinates": [lon, lat]}}],
                "Datastreams": [{"name": format!("{name} {}", s.kind), "description": format!("{} readings of {}", s.kind, s.id),
                    "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
                    "unitOfMeasurement": {"name": s.unit, "symbol": s.unit, "definition": s.unit},
                    "properties": {"twinId": s.id},
                    "Sensor": {"@iot.id": sensor}, "ObservedProperty": {"@iot.id": prop}}]
            }),
        })?;
    }
    Ok(())
}

fn live_of(live: &Option<Arc<Live>>) -> Result<&Arc<Live>, ApiError> {
    live.as_ref().ok_or_else(|| {
        ApiError::not_found("no SensorThings API on this server (it needs the twin's folder)")
    })
}

fn base(headers: &HeaderMap, live: &Live) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("{}://{host}/v1.1", live.scheme)
}

fn json_response(status: StatusCode, v: &Value) -> Response {
    let mut r = (status, v.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `GET /v1.1`: the service root.
#[utoipa::path(get, path = "/v1.1", tag = "sensorthings",
    responses((status = 200, description = "the entity sets and the conformance classes (OGC SensorThings API 1.1)")))]
pub async fn root(
    State(live): State<Option<Arc<Live>>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let live = live_of(&live)?;
    let b = base(&headers, live);
    let value: Vec<Value> = EntitySet::ALL
        .iter()
        .map(|s| json!({"name": s.name(), "url": format!("{b}/{}", s.name())}))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "value": value,
            "serverSettings": {
                "conformance": [
                    "http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel",
                    "http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities",
                    "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data",
                    "http://www.opengis.net/spec/iot_sensing/1.1/req/create-update-delete",
                    "http://www.opengis.net/spec/iot_sensing/1.1/req/data-array/data-array",
                    "http://www.opengis.net/spec/iot_sensing/1.1/req/create-observations-via-mqtt/observations-creation",
                    "http://www.opengis.net/spec/iot_sensing/1.1/req/receive-updates-via-mqtt/receive-updates"
                ],
                "http://www.opengis.net/spec/iot_sensing/1.1/req/create-observations-via-mqtt/observations-creation": {
                    "endpoints": live.store.path().file_name().map(|_| Vec::<String>::new())
                }
            }
        }),
    ))
}

/// A parsed resource path.
#[derive(Debug)]
enum Target {
    /// Entities of a set within a scope.
    Collection(EntitySet, Scope),
    /// One entity.
    One(Entity),
    /// A property of one entity (`$value`: raw).
    Property(Entity, String, bool),
}

/// Which entities of a set a collection holds.
#[derive(Debug, Clone)]
enum Scope {
    All,
    /// These ids (a stored to-many link).
    Ids(Vec<i64>),
    /// Those whose link `name` holds `id`.
    Linked(&'static str, i64),
}

fn segment(s: &str) -> Result<(&str, Option<i64>), ApiError> {
    match s.find('(') {
        Some(i) if s.ends_with(')') => {
            let inner = &s[i + 1..s.len() - 1];
            let id = id_of(&Value::String(inner.to_string()))
                .ok_or_else(|| ApiError::bad_request(format!("bad id in {s:?}")))?;
            Ok((&s[..i], Some(id)))
        }
        Some(_) => Err(ApiError::bad_request(format!("bad path segment {s:?}"))),
        None => Ok((s, None)),
    }
}

fn resolve(store: &LiveStore, path: &str) -> Result<Target, ApiError> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if segs.is_empty() || segs.len() > 12 {
        return Err(ApiError::not_found(format!("no resource {path:?}")));
    }
    let (name, id) = segment(segs[0])?;
    let set = EntitySet::parse(name)
        .ok_or_else(|| ApiError::not_found(format!("no entity set {name:?}")))?;
    let mut cur = Target::Collection(set, Scope::All);
    if let Some(id) = id {
        cur = Target::One(get_one(store, set, id)?);
    }
    for (i, s) in segs.iter().enumerate().skip(1) {
        let (name, id) = segment(s)?;
        cur = match cur {
            Target::One(e) => {
                if let Some(nav) = e.set.nav(name) {
                    let coll = if nav.stored {
                        let ids = e.links.get(nav.name).cloned().unwrap_or_default();
                        if !nav.many {
                            let one = ids.first().ok_or_else(|| {
                                ApiError::not_found(format!(
                                    "{}({}) has no {name}",
                                    e.set.name(),
                                    e.id
                                ))
                            })?;
                            if id.is_some() {
                                return Err(ApiError::bad_request(format!(
                                    "{name} is a single entity"
                                )));
                            }
                            Target::One(get_one(store, nav.target, *one)?)
                        } else {
                            Target::Collection(nav.target, Scope::Ids(ids))
                        }
                    } else {
                        Target::Collection(nav.target, Scope::Linked(nav.inverse, e.id))
                    };
                    match (coll, id) {
                        (Target::Collection(set, scope), Some(id)) => {
                            let one = get_one(store, set, id)?;
                            if !in_scope(&one, &scope) {
                                return Err(ApiError::not_found(format!(
                                    "{}({id}) is not in {path}",
                                    set.name()
                                )));
                            }
                            Target::One(one)
                        }
                        (c, _) => c,
                    }
                } else if name == "$ref" {
                    return Err(ApiError::bad_request("$ref is not supported"));
                } else {
                    let raw = segs.get(i + 1) == Some(&"$value");
                    if segs.len() > i + 1 + usize::from(raw) {
                        return Err(ApiError::not_found(format!("no resource {path:?}")));
                    }
                    if name != "id" && !e.set.properties().contains(&name) {
                        return Err(ApiError::not_found(format!(
                            "{} has no property {name}",
                            e.set.singular()
                        )));
                    }
                    return Ok(Target::Property(e, name.to_string(), raw));
                }
            }
            Target::Collection(set, _) => match id {
                _ if name == "$ref" => return Err(ApiError::bad_request("$ref is not supported")),
                _ => {
                    return Err(ApiError::not_found(format!(
                        "{} is a collection: name one entity before {name}",
                        set.name()
                    )))
                }
            },
            Target::Property(..) => {
                return Err(ApiError::not_found(format!("no resource {path:?}")))
            }
        };
    }
    Ok(cur)
}

fn in_scope(e: &Entity, scope: &Scope) -> bool {
    match scope {
        Scope::All => true,
        Scope::Ids(ids) => ids.contains(&e.id),
        Scope::Linked(link, id) => e.links.get(*link).is_some_and(|l| l.contains(id)),
    }
}

fn get_one(store: &LiveStore, set: EntitySet, id: i64) -> Result<Entity, ApiError> {
    store
        .get(set, id)?
        .ok_or_else(|| ApiError::not_found(format!("no {}({id})", set.name())))
}

/// Entities a request reads, with a cache of those it looked up on the way.
struct Reader<'a> {
    store: &'a LiveStore,
    base: String,
    cache: HashMap<(EntitySet, i64), Option<Entity>>,
    lists: HashMap<EntitySet, Arc<Vec<Entity>>>,
}

impl<'a> Reader<'a> {
    fn entity(&mut self, set: EntitySet, id: i64) -> Option<Entity> {
        if let Some(e) = self.cache.get(&(set, id)) {
            return e.clone();
        }
        let e = self.store.get(set, id).ok().flatten();
        if self.cache.len() < 100_000 {
            self.cache.insert((set, id), e.clone());
        }
        e
    }

    fn list(&mut self, set: EntitySet) -> Result<Arc<Vec<Entity>>, ApiError> {
        if let Some(l) = self.lists.get(&set) {
            return Ok(l.clone());
        }
        let l = Arc::new(self.store.list(set)?);
        self.lists.insert(set, l.clone());
        Ok(l)
    }

    /// The entities one navigation step from `e` leads to.
    fn follow(&mut self, e: &Entity, nav: &str, limit: usize) -> Result<Vec<Entity>, ApiError> {
        let Some(n) = e.set.nav(nav) else {
            return Ok(Vec::new());
        };
        if n.stored {
            let ids = e.links.get(n.name).cloned().unwrap_or_default();
            return Ok(ids
                .into_iter()
                .filter_map(|id| self.entity(n.target, id))
                .collect());
        }
        self.collection(
            n.target,
            &Scope::Linked(n.inverse, e.id),
            &Opts {
                top: Some(limit),
                ..Default::default()
            },
        )
        .map(|(v, _)| v)
    }

    /// The value of a property path on an entity (navigation links followed; a collection
    /// gives its first entity's value).
    fn value(&mut self, e: &Entity, path: &[String]) -> Val {
        let Some(first) = path.first() else {
            return Val::Null;
        };
        if first == "id" || first == "@iot.id" {
            return Val::Num(e.id as f64);
        }
        if e.set.nav(first).is_some() {
            let next = self.follow(e, first, 1).unwrap_or_default();
            return match next.first() {
                Some(n) => self.value(n, &path[1..]),
                None => Val::Null,
            };
        }
        let mut v = e.props.get(first.as_str());
        for p in &path[1..] {
            v = v.and_then(|x| x.get(p.as_str()));
        }
        to_val(v)
    }

    fn matches(&mut self, e: &Entity, f: &Expr) -> bool {
        is_true(&eval(f, &mut |p: &[String]| self.value(e, p)))
    }

    /// A collection: filtered, counted, ordered, paged.
    fn collection(
        &mut self,
        set: EntitySet,
        scope: &Scope,
        o: &Opts,
    ) -> Result<(Vec<Entity>, Option<u64>), ApiError> {
        if set == EntitySet::Observations {
            return self.observations(scope, o);
        }
        let all = self.list(set)?;
        let mut v: Vec<Entity> = Vec::new();
        for e in all.iter() {
            if !in_scope(e, scope) {
                continue;
            }
            if let Some(f) = &o.filter {
                if !self.matches(e, f) {
                    continue;
                }
            }
            v.push(e.clone());
        }
        let count = o.count.then_some(v.len() as u64);
        self.sort(&mut v, &o.orderby);
        let page = v.into_iter().skip(o.skip).take(o.top()).collect();
        Ok((page, count))
    }

    fn sort(&mut self, v: &mut Vec<Entity>, orderby: &[(Expr, bool)]) {
        if orderby.is_empty() {
            return;
        }
        let mut keyed: Vec<(Vec<Val>, Entity)> = v
            .drain(..)
            .map(|e| {
                let keys = orderby
                    .iter()
                    .map(|(x, _)| {
                        let k = eval(x, &mut |p: &[String]| self.value(&e, p));
                        // Times as text order as times.
                        match k {
                            Val::Str(s) => parse_time(&s)
                                .map(|t| Val::Time(t.start))
                                .unwrap_or(Val::Str(s)),
                            k => k,
                        }
                    })
                    .collect();
                (keys, e)
            })
            .collect();
        keyed.sort_by(|(a, ea), (b, eb)| {
            for ((x, y), (_, desc)) in a.iter().zip(b).zip(orderby) {
                let o = match (x, y) {
                    (Val::Null, Val::Null) => std::cmp::Ordering::Equal,
                    (Val::Null, _) => std::cmp::Ordering::Less,
                    (_, Val::Null) => std::cmp::Ordering::Greater,
                    _ => filter::compare(x, y).unwrap_or(std::cmp::Ordering::Equal),
                };
                let o = if *desc { o.reverse() } else { o };
                if o != std::cmp::Ordering::Equal {
                    return o;
                }
            }
            ea.id.cmp(&eb.id)
        });
        v.extend(keyed.into_iter().map(|(_, e)| e));
    }

    fn observations(
        &mut self,
        scope: &Scope,
        o: &Opts,
    ) -> Result<(Vec<Entity>, Option<u64>), ApiError> {
        let mut q = ObsQuery::default();
        match scope {
            Scope::All => {}
            Scope::Linked("Datastream", id) => q.datastream = Some(*id),
            Scope::Linked("FeatureOfInterest", id) => q.foi = Some(*id),
            Scope::Linked(..) | Scope::Ids(_) => return Ok((Vec::new(), o.count.then_some(0))),
        }
        // What the store can do itself: time bounds from the top-level `and`s of the filter.
        let mut residual = false;
        if let Some(f) = &o.filter {
            let mut terms = Vec::new();
            conjuncts(f, &mut terms);
            for t in terms {
                if !time_bound(t, &mut q) {
                    residual = true;
                }
            }
        }
        let simple_order = match o.orderby.as_slice() {
            [] => Some(ObsOrder::IdAsc),
            [(Expr::Path(p), d)] if p.len() == 1 && (p[0] == "id" || p[0] == "@iot.id") => {
                Some(if *d {
                    ObsOrder::IdDesc
                } else {
                    ObsOrder::IdAsc
                })
            }
            [(Expr::Path(p), d)] if p.len() == 1 && p[0] == "phenomenonTime" => Some(if *d {
                ObsOrder::TimeDesc
            } else {
                ObsOrder::TimeAsc
            }),
            _ => None,
        };
        if let (false, Some(order)) = (residual, simple_order) {
            q.order = order;
            let count = if o.count {
                Some(self.store.count_observations(&q)?)
            } else {
                None
            };
            q.skip = o.skip;
            q.limit = o.top();
            return Ok((self.store.observations(&q)?, count));
        }
        q.order = simple_order.unwrap_or(ObsOrder::IdAsc);
        q.limit = MAX_SCAN + 1;
        let rows = self.store.observations(&q)?;
        if rows.len() > MAX_SCAN {
            return Err(ApiError::bad_request(format!(
                "this $filter/$orderby would scan more than {MAX_SCAN} observations: narrow it by Datastream or phenomenonTime"
            )));
        }
        let mut v = Vec::new();
        for e in rows {
            if o.filter.as_ref().is_none_or(|f| self.matches(&e, f)) {
                v.push(e);
            }
        }
        let count = o.count.then_some(v.len() as u64);
        if simple_order.is_none() {
            self.sort(&mut v, &o.orderby);
        }
        Ok((v.into_iter().skip(o.skip).take(o.top()).collect(), count))
    }

    /// An entity as JSON, with `$select` and `$expand` applied.
    fn render(&mut self, e: &Entity, o: &Opts) -> Result<Value, ApiError> {
        let mut m = Map::new();
        let sel = |k: &str| o.select.as_ref().is_none_or(|s| s.iter().any(|x| x == k));
        let self_link = format!("{}/{}({})", self.base, e.set.name(), e.id);
        if sel("id") || sel("@iot.id") {
            m.insert("@iot.id".into(), json!(e.id));
        }
        if o.select.is_none() || sel("@iot.selfLink") {
            m.insert("@iot.selfLink".into(), json!(self_link));
        }
        for k in e.set.properties() {
            if !sel(k) {
                continue;
            }
            if let Some(v) = e.props.get(*k) {
                m.insert((*k).into(), v.clone());
            } else if e.set == EntitySet::Observations && *k == "resultTime" {
                m.insert((*k).into(), Value::Null);
            }
        }
        for nav in e.set.navigation() {
            if o.select.is_none() || sel(nav.name) {
                m.insert(
                    format!("{}@iot.navigationLink", nav.name),
                    json!(format!("{self_link}/{}", nav.name)),
                );
            }
        }
        for x in &o.expand {
            let nav = e.set.nav(&x.nav).ok_or_else(|| {
                ApiError::bad_request(format!("$expand: {} has no {}", e.set.singular(), x.nav))
            })?;
            if nav.many {
                let scope = if nav.stored {
                    Scope::Ids(e.links.get(nav.name).cloned().unwrap_or_default())
                } else {
                    Scope::Linked(nav.inverse, e.id)
                };
                let (items, count) = self.collection(nav.target, &scope, &x.opts)?;
                let total = items.len();
                let mut arr = Vec::with_capacity(total);
                for it in &items {
                    arr.push(self.render(it, &x.opts)?);
                }
                if let Some(c) = count {
                    m.insert(format!("{}@iot.count", nav.name), json!(c));
                }
                if total == x.opts.top() {
                    let next = format!(
                        "{self_link}/{}?$top={}&$skip={}",
                        nav.name,
                        x.opts.top(),
                        x.opts.skip + total
                    );
                    m.insert(format!("{}@iot.nextLink", nav.name), json!(next));
                }
                m.insert(nav.name.into(), Value::Array(arr));
            } else {
                let one = e.link(nav.name).and_then(|id| self.entity(nav.target, id));
                let v = match one {
                    Some(t) => self.render(&t, &x.opts)?,
                    None => Value::Null,
                };
                m.insert(nav.name.into(), v);
            }
        }
        Ok(Value::Object(m))
    }
}

fn conjuncts<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    match e {
        Expr::Bin(filter::Op::And, a, b) => {
            conjuncts(a, out);
            conjuncts(b, out);
        }
        other => out.push(other),
    }
}

/// `phenomenonTime <op> <time>` (either side) as bounds of the query; true when taken.
fn time_bound(e: &Expr, q: &mut ObsQuery) -> bool {
    use filter::Op::*;
    let Expr::Bin(op, a, b) = e else {
        return false;
    };
    let lit = |x: &Expr| match x {
        Expr::Lit(Val::Time(t)) => Some(*t),
        Expr::Lit(Val::Str(s)) => parse_time(s).filter(|t| t.end.is_none()).map(|t| t.start),
        _ => None,
    };
    let is_pt = |x: &Expr| matches!(x, Expr::Path(p) if p.len() == 1 && p[0] == "phenomenonTime");
    let (op, t) = if is_pt(a) {
        match lit(b) {
            Some(t) => (*op, t),
            None => return false,
        }
    } else if is_pt(b) {
        match (lit(a), op) {
            (Some(t), Gt) => (Lt, t),
            (Some(t), Ge) => (Le, t),
            (Some(t), Lt) => (Gt, t),
            (Some(t), Le) => (Ge, t),
            (Some(t), Eq) => (Eq, t),
            _ => return false,
        }
    } else {
        return false;
    };
    let lower = |q: &mut ObsQuery, v: i64| q.from = Some(q.from.map_or(v, |f| f.max(v)));
    let upper = |q: &mut ObsQuery, v: i64| q.to = Some(q.to.map_or(v, |f| f.min(v)));
    // Intervals compare by their start here (the store indexes starts), as instants do.
    match op {
        Ge => lower(q, t),
        Gt => lower(q, t.saturating_add(1)),
        Lt => upper(q, t),
        Le => upper(q, t.saturating_add(1)),
        Eq => {
            lower(q, t);
            upper(q, t.saturating_add(1));
        }
        _ => return false,
    }
    true
}

fn to_val(v: Option<&Value>) -> Val {
    match v {
        None | Some(Value::Null) => Val::Null,
        Some(Value::Bool(b)) => Val::Bool(*b),
        Some(Value::Number(n)) => n.as_f64().map(Val::Num).unwrap_or(Val::Null),
        Some(Value::String(s)) => Val::Str(s.clone()),
        Some(o @ Value::Object(m)) => {
            let g = if m.contains_key("coordinates") || m.contains_key("geometries") {
                Some(o)
            } else {
                m.get("geometry")
            };
            g.and_then(|g| serde_json::from_value::<geojson::Geometry>(g.clone()).ok())
                .and_then(|g| geo_types::Geometry::<f64>::try_from(g).ok())
                .map(|g| Val::Geo(Box::new(g)))
                .unwrap_or(Val::Null)
        }
        Some(Value::Array(_)) => Val::Null,
    }
}

fn bad(e: String) -> ApiError {
    ApiError::bad_request(e)
}

/// `GET /v1.1/...`: entities, a collection, a property, or a Datastream's `Series`.
#[utoipa::path(get, path = "/v1.1/{path}", tag = "sensorthings",
    params(("path" = String, Path, description = "Set, Set(id), Set(id)/Nav[(id)]..., Set(id)/property[/$value], or Datastreams(id)/Series?from=&to=&interval=<s>"),
           ("$filter" = Option<String>, Query, description = "OData filter: eq ne gt ge lt le, and or not, add sub mul div mod, string, time and geo functions"),
           ("$expand" = Option<String>, Query, description = "navigation properties, nested with (...;...)"),
           ("$orderby" = Option<String>, Query, description = "expressions with asc/desc"),
           ("$select" = Option<String>, Query, description = "properties"),
           ("$top" = Option<usize>, Query, description = "page size (100 by default, at most 10000)"),
           ("$skip" = Option<usize>, Query, description = "entities skipped"),
           ("$count" = Option<bool>, Query, description = "add @iot.count"),
           ("$resultFormat" = Option<String>, Query, description = "dataArray for Observations")),
    responses((status = 200, description = "the entity, collection or property as JSON"),
              (status = 400, description = "a bad query option", body = crate::error::ErrorBody),
              (status = 404, description = "no such entity or path", body = crate::error::ErrorBody)))]
pub async fn get_path(
    State(live): State<Option<Arc<Live>>>,
    Path(path): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let live = live_of(&live)?.clone();
    if let Some(ds) = path
        .strip_prefix("Datastreams(")
        .and_then(|p| p.strip_suffix(")/Series"))
    {
        let id = id_of(&json!(ds)).ok_or_else(|| bad(format!("bad id {ds:?}")))?;
        return series(&live, id, raw.as_deref()).await;
    }
    let o = parse_query(raw.as_deref()).map_err(bad)?;
    let b = base(&headers, &live);
    tokio::task::spawn_blocking(move || {
        let mut r = Reader {
            store: &live.store,
            base: b.clone(),
            cache: HashMap::new(),
            lists: HashMap::new(),
        };
        match resolve(&live.store, &path)? {
            Target::One(e) => Ok(json_response(StatusCode::OK, &r.render(&e, &o)?)),
            Target::Property(e, name, raw) => {
                let v = if name == "id" {
                    json!(e.id)
                } else {
                    e.props.get(&name).cloned().unwrap_or(Value::Null)
                };
                if raw {
                    let text = match &v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    Ok((StatusCode::OK, text).into_response())
                } else {
                    Ok(json_response(StatusCode::OK, &json!({ name: v })))
                }
            }
            Target::Collection(set, scope) => {
                let (items, count) = r.collection(set, &scope, &o)?;
                let mut out = Map::new();
                if let Some(c) = count {
                    out.insert("@iot.count".into(), json!(c));
                }
                if items.len() == o.top() && o.top() > 0 {
                    let mut q: Vec<String> = raw
                        .unwrap_or_default()
                        .split('&')
                        .filter(|p| {
                            !p.is_empty() && !p.starts_with("$skip=") && !p.starts_with("$top=")
                        })
                        .map(String::from)
                        .collect();
                    q.push(format!("$top={}", o.top()));
                    q.push(format!("$skip={}", o.skip + items.len()));
                    out.insert(
                        "@iot.nextLink".into(),
                        json!(format!("{b}/{path}?{}", q.join("&"))),
                    );
                }
                if o.data_array && set == EntitySet::Observations {
                    out.insert("value".into(), data_array_of(&items));
                } else {
                    let mut arr = Vec::with_capacity(items.len());
                    for e in &items {
                        arr.push(r.render(e, &o)?);
                    }
                    out.insert("value".into(), Value::Array(arr));
                }
                Ok(json_response(StatusCode::OK, &Value::Object(out)))
            }
        }
    })
    .await?
}

/// Observations in the `dataArray` result format, grouped by Datastream.
fn data_array_of(items: &[Entity]) -> Value {
    let mut groups: Vec<(i64, Vec<Value>)> = Vec::new();
    for e in items {
        let ds = e.link("Datastream").unwrap_or(0);
        let row = json!([
            e.id,
            e.props.get("phenomenonTime"),
            e.props.get("result"),
            e.props.get("resultTime")
        ]);
        match groups.iter_mut().find(|g| g.0 == ds) {
            Some(g) => g.1.push(row),
            None => groups.push((ds, vec![row])),
        }
    }
    Value::Array(
        groups
            .into_iter()
            .map(|(ds, rows)| {
                json!({"Datastream@iot.navigationLink": format!("Datastreams({ds})"),
                    "components": ["id", "phenomenonTime", "result", "resultTime"],
                    "dataArray@iot.count": rows.len(), "dataArray": rows})
            })
            .collect(),
    )
}

/// `GET /v1.1/Datastreams(<id>)/Series?from=<time>&to=<time>&interval=<seconds>`: numeric
/// results' min, mean and max per interval (aligned on `from`), for charts.
async fn series(live: &Live, ds: i64, raw: Option<&str>) -> Result<Response, ApiError> {
    let mut from = None;
    let mut to = None;
    let mut interval = None;
    for part in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let v = query::decode(v).map_err(bad)?;
        let time = |v: &str| {
            twin_core::live::time::parse_instant(v)
                .ok_or_else(|| bad(format!("{k}: not an ISO 8601 time: {v:?}")))
        };
        match k {
            "from" => from = Some(time(&v)?),
            "to" => to = Some(time(&v)?),
            "interval" => {
                let s: f64 = v
                    .parse()
                    .map_err(|_| bad(format!("interval: seconds, not {v:?}")))?;
                if !(1.0..=366.0 * 86_400.0).contains(&s) {
                    return Err(bad("interval: 1 s to 366 days".into()));
                }
                interval = Some((s * 1000.0) as i64);
            }
            _ => return Err(bad(format!("unknown parameter {k} (from, to, interval)"))),
        }
    }
    let (Some(from), Some(to)) = (from, to) else {
        return Err(bad("from and to are required".into()));
    };
    let interval = interval.unwrap_or(3_600_000);
    if (to - from) / interval > 100_000 {
        return Err(bad("more than 100000 intervals: widen the interval".into()));
    }
    get_one(&live.store, EntitySet::Datastreams, ds)?;
    let store = live.store.clone();
    let buckets =
        tokio::task::spawn_blocking(move || store.aggregate(ds, from, to, interval)).await??;
    let rows: Vec<Value> = buckets
        .iter()
        .map(|b| json!({"start": format_instant(b.start), "count": b.count, "min": b.min, "mean": b.mean, "max": b.max}))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({"datastream": ds, "from": format_instant(from), "to": format_instant(to),
                "interval_s": interval as f64 / 1000.0, "value": rows}),
    ))
}

fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| bad(format!("the body is not JSON: {e}")))
}

/// `POST /v1.1/...`: create (deep insert), or `CreateObservations` (`dataArray`).
#[utoipa::path(post, path = "/v1.1/{path}", tag = "sensorthings",
    params(("path" = String, Path, description = "Set, Set(id)/Nav (a collection), or CreateObservations")),
    request_body(content = String, content_type = "application/json", description = "the entity (related entities inline or by @iot.id), or dataArray groups"),
    responses((status = 201, description = "created and committed (fsynced); Location names it"),
              (status = 400, description = "a bad entity", body = crate::error::ErrorBody)))]
pub async fn post_path(
    State(live): State<Option<Arc<Live>>>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let live = live_of(&live)?.clone();
    let body = parse_body(&body)?;
    let b = base(&headers, &live);
    if path == "CreateObservations" {
        return create_observations(&live, &b, body).await;
    }
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (set, parent) = match segs.as_slice() {
        [s] => {
            let (name, id) = segment(s)?;
            if id.is_some() {
                return Err(ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "POST to a collection",
                ));
            }
            (
                EntitySet::parse(name)
                    .ok_or_else(|| ApiError::not_found(format!("no entity set {name:?}")))?,
                None,
            )
        }
        [p, n] => {
            let (pname, pid) = segment(p)?;
            let pset = EntitySet::parse(pname)
                .ok_or_else(|| ApiError::not_found(format!("no entity set {pname:?}")))?;
            let pid = pid.ok_or_else(|| bad(format!("{pname}: name one entity")))?;
            let nav = pset
                .nav(n)
                .ok_or_else(|| ApiError::not_found(format!("{} has no {n}", pset.singular())))?;
            if nav.stored {
                return Err(bad(format!(
                    "create {n} on its own and link it from {pname}"
                )));
            }
            get_one(&live.store, pset, pid)?;
            (nav.target, Some((nav.inverse.to_string(), pid)))
        }
        _ => return Err(ApiError::not_found(format!("cannot POST to {path:?}"))),
    };
    let out = live.write(WriteOp::Create { set, body, parent }).await?;
    let id = out
        .id
        .ok_or_else(|| ApiError::internal("create returned no id"))?;
    let store = live.store.clone();
    let e = tokio::task::spawn_blocking(move || get_one(&store, set, id)).await??;
    let mut r = Reader {
        store: &live.store,
        base: b.clone(),
        cache: HashMap::new(),
        lists: HashMap::new(),
    };
    let v = r.render(&e, &Opts::default())?;
    let mut resp = json_response(StatusCode::CREATED, &v);
    if let Ok(h) = HeaderValue::from_str(&format!("{b}/{}({id})", set.name())) {
        resp.headers_mut().insert(header::LOCATION, h);
    }
    Ok(resp)
}

/// `POST /v1.1/CreateObservations`: the `dataArray` extension. Each Datastream's rows are one
/// write; the answer lists a selfLink per row, or `error` for a row (or a group) refused.
async fn create_observations(live: &Live, b: &str, body: Value) -> Result<Response, ApiError> {
    let groups = body
        .as_array()
        .ok_or_else(|| bad("CreateObservations: the body must be an array".into()))?;
    let mut answer: Vec<Value> = Vec::new();
    let mut waits = Vec::new();
    for (gi, g) in groups.iter().enumerate() {
        let ds = g
            .get("Datastream")
            .and_then(|d| d.get("@iot.id"))
            .and_then(id_of)
            .ok_or_else(|| bad(format!("[{gi}]: Datastream needs an @iot.id")))?;
        let comps: Vec<&str> = g
            .get("components")
            .and_then(Value::as_array)
            .ok_or_else(|| bad(format!("[{gi}]: missing components")))?
            .iter()
            .map(|c| c.as_str().unwrap_or(""))
            .collect();
        let rows = g
            .get("dataArray")
            .and_then(Value::as_array)
            .ok_or_else(|| bad(format!("[{gi}]: missing dataArray")))?;
        let mut slots = Vec::with_capacity(rows.len());
        let mut obs = Vec::with_capacity(rows.len());
        for row in rows {
            let Some(cells) = row.as_array().filter(|c| c.len() == comps.len()) else {
                slots.push(None);
                continue;
            };
            let mut m = Map::new();
            for (c, v) in comps.iter().zip(cells) {
                match *c {
                    "FeatureOfInterest/id" => {
                        m.insert("FeatureOfInterest".into(), json!({"@iot.id": v}));
                    }
                    "id" | "@iot.id" => {}
                    other => {
                        m.insert(other.to_string(), v.clone());
                    }
                }
            }
            match observation_body(&Value::Object(m), Some(ds)) {
                Ok(o) => {
                    slots.push(Some(obs.len()));
                    obs.push(o);
                }
                Err(_) => slots.push(None),
            }
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        live.submit_blocking_ok(
            WriteOp::Observations(obs),
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        waits.push((slots, rx));
    }
    for (slots, rx) in waits {
        let r = rx
            .await
            .map_err(|_| ApiError::internal("the live store's writer stopped"))?;
        match r {
            Ok(out) => {
                for s in slots {
                    answer.push(match s {
                        Some(i) => json!(format!("{b}/Observations({})", out.ids[i])),
                        None => json!("error"),
                    });
                }
                for o in out.observations {
                    let _ = live.events.send(Arc::new(o));
                }
            }
            Err(e) => {
                tracing::info!("CreateObservations: {e}");
                answer.extend(slots.iter().map(|_| json!("error")));
            }
        }
    }
    Ok(json_response(StatusCode::CREATED, &Value::Array(answer)))
}

/// A JSON Patch (RFC 6902, as `frost_sta_client` sends: `add`/`replace`/`remove` of a
/// top-level member) as the object of changes a PATCH takes; an object is taken as it is.
fn merge_patch(body: Value) -> Result<Value, ApiError> {
    let Value::Array(ops) = body else {
        return Ok(body);
    };
    let mut m = Map::new();
    for (i, op) in ops.iter().enumerate() {
        let kind = op.get("op").and_then(Value::as_str).unwrap_or("");
        let path = op.get("path").and_then(Value::as_str).unwrap_or("");
        let name = path
            .strip_prefix('/')
            .filter(|p| !p.is_empty() && !p.contains('/'))
            .ok_or_else(|| {
                bad(format!(
                    "JSON Patch [{i}]: only top-level paths (/name), not {path:?}"
                ))
            })?;
        let v = match kind {
            "add" | "replace" => op
                .get("value")
                .cloned()
                .ok_or_else(|| bad(format!("JSON Patch [{i}]: no value")))?,
            "remove" => Value::Null,
            other => return Err(bad(format!("JSON Patch [{i}]: op {other:?} not supported"))),
        };
        m.insert(name.replace("~1", "/").replace("~0", "~"), v);
    }
    Ok(Value::Object(m))
}

fn one_entity_path(path: &str) -> Result<(EntitySet, i64), ApiError> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let [s] = segs.as_slice() else {
        return Err(ApiError::not_found(format!("name one entity: {path:?}")));
    };
    let (name, id) = segment(s)?;
    let set = EntitySet::parse(name)
        .ok_or_else(|| ApiError::not_found(format!("no entity set {name:?}")))?;
    let id = id.ok_or_else(|| ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "name one entity"))?;
    Ok((set, id))
}

/// `PATCH` or `PUT /v1.1/<Set>(<id>)`.
#[utoipa::path(patch, path = "/v1.1/{path}", tag = "sensorthings",
    params(("path" = String, Path, description = "Set(id)")),
    request_body(content = String, content_type = "application/json", description = "properties and links to change"),
    responses((status = 200, description = "the entity as changed")))]
pub async fn patch_path(
    State(live): State<Option<Arc<Live>>>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let live = live_of(&live)?.clone();
    let (set, id) = one_entity_path(&path)?;
    let body = merge_patch(parse_body(&body)?)?;
    get_one(&live.store, set, id)?;
    live.write(WriteOp::Update { set, id, body }).await?;
    let e = get_one(&live.store, set, id)?;
    let mut r = Reader {
        store: &live.store,
        base: base(&headers, &live),
        cache: HashMap::new(),
        lists: HashMap::new(),
    };
    Ok(json_response(
        StatusCode::OK,
        &r.render(&e, &Opts::default())?,
    ))
}

/// `PUT /v1.1/<Set>(<id>)`: as `PATCH` (documented apart for OpenAPI).
#[utoipa::path(put, path = "/v1.1/{path}", tag = "sensorthings",
    params(("path" = String, Path, description = "Set(id)")),
    request_body(content = String, content_type = "application/json", description = "properties and links to change"),
    responses((status = 200, description = "the entity as changed")))]
pub async fn put_path(
    live: State<Option<Arc<Live>>>,
    path: Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    patch_path(live, path, headers, body).await
}

/// `DELETE /v1.1/<Set>(<id>)`.
#[utoipa::path(delete, path = "/v1.1/{path}", tag = "sensorthings",
    params(("path" = String, Path, description = "Set(id)")),
    responses((status = 200, description = "deleted, with what depended on it")))]
pub async fn delete_path(
    State(live): State<Option<Arc<Live>>>,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    let live = live_of(&live)?.clone();
    let (set, id) = one_entity_path(&path)?;
    get_one(&live.store, set, id)?;
    live.write(WriteOp::Delete { set, id }).await?;
    Ok(StatusCode::OK.into_response())
}
