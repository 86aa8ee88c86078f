//! Nowcasts: a gauge Datastream bound to a flood scenario's river-stage boundary. When an
//! observation reaches the alarm level (Kim Long alarm 3: 3.5 m) the server starts one run of
//! the scenario with that boundary's series replaced by the observed stages, through the
//! scenario job machinery ([`crate::runs::Runs`]), and marks it as the current nowcast.
//!
//! Configured in `<twin>/live.toml`:
//!
//! ```toml
//! [[nowcast]]
//! sensor = "sensor:gauge-kim-long"          # a sensor of the twin's layer (its Datastream)
//! scenario = "flood_alarm3.toml"            # a scenario file of the server's folders
//! stage = "Perfume River (Kim Long gauge)"  # the name of its [[stage]] boundary
//! alarm_m = 3.5
//! history_s = 10800                         # observed stages taken from before the crossing
//! ```
//!
//! The series: every observation from `history_s` before the crossing one up to it, in
//! phenomenon-time order, time 0 at the first of them; **the latest value is held** to the
//! end of the run (no extrapolation of the trend). One run per crossing: the alarm is armed
//! again only when a later observation is below the level.

use super::Live;
use crate::error::ApiError;
use crate::push::Push;
use crate::runs::Runs;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use twin_core::live::time::{format_instant, parse_time};
use twin_core::live::{Entity, EntitySet, ObsOrder, ObsQuery};

/// The file of the bindings in a twin folder.
pub const FILE: &str = "live.toml";

/// `<twin>/live.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveToml {
    /// Gauges bound to scenarios.
    #[serde(default)]
    pub nowcast: Vec<Binding>,
}

/// One gauge bound to a scenario's stage boundary.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Binding {
    /// The twin sensor id whose Datastream is watched.
    pub sensor: String,
    /// The scenario file (a name in the server's scenario folders).
    pub scenario: String,
    /// The name of the scenario's `[[stage]]` whose series the observations replace.
    pub stage: String,
    /// The alarm level, in the Datastream's unit (m).
    pub alarm_m: f64,
    /// Seconds of observations before the crossing put in the series.
    #[serde(default = "default_history")]
    pub history_s: f64,
}

fn default_history() -> f64 {
    3.0 * 3600.0
}

/// The state of one binding, as `GET /api/live/nowcast` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct NowcastState {
    /// The sensor.
    pub sensor: String,
    /// Its Datastream.
    pub datastream: i64,
    /// The alarm level.
    pub alarm_m: f64,
    /// The latest stage and its time.
    pub latest: Option<(String, f64)>,
    /// Whether the latest stage is at or above the alarm level.
    pub alarm: bool,
    /// The current nowcast run, when one was started.
    pub run: Option<String>,
    /// Why the last nowcast could not start, if it could not.
    pub error: Option<String>,
}

struct Watch {
    binding: Binding,
    datastream: i64,
    template: String,
    base: PathBuf,
    latest: Option<(i64, f64)>,
    armed: bool,
}

/// The nowcast watcher of a server.
pub struct Nowcast {
    states: Mutex<Vec<NowcastState>>,
}

impl Nowcast {
    /// The bindings' states.
    pub fn states(&self) -> Vec<NowcastState> {
        self.states.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// Read `<twin>/live.toml` (none when missing).
pub fn read_config(twin_dir: &Path) -> Result<LiveToml, ApiError> {
    let path = twin_dir.join(FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text)
            .map_err(|e| ApiError::internal(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(LiveToml::default()),
        Err(e) => Err(ApiError::internal(format!("{}: {e}", path.display()))),
    }
}

/// The scenario text of a nowcast: `template` with the `[[stage]]` named `stage` given
/// `series` (seconds, metres), the last value held to the scenario's `duration_s`, and its
/// name saying so.
pub fn scenario_text(
    template: &str,
    stage: &str,
    series: &[(f64, f64)],
    title: &str,
) -> Result<String, String> {
    let mut doc: toml::Table = toml::from_str(template).map_err(|e| e.to_string())?;
    let duration = doc
        .get("duration_s")
        .and_then(|d| d.as_float().or_else(|| d.as_integer().map(|i| i as f64)))
        .ok_or("the scenario has no duration_s")?;
    let mut pts: Vec<toml::Value> = series
        .iter()
        .map(|(t, v)| toml::Value::Array(vec![toml::Value::Float(*t), toml::Value::Float(*v)]))
        .collect();
    let (last_t, last_v) = *series.last().ok_or("no observations")?;
    if last_t < duration {
        pts.push(toml::Value::Array(vec![
            toml::Value::Float(duration),
            toml::Value::Float(last_v),
        ]));
    }
    let stages = doc
        .get_mut("stage")
        .and_then(|s| s.as_array_mut())
        .ok_or("the scenario has no [[stage]]")?;
    let st = stages
        .iter_mut()
        .filter_map(|s| s.as_table_mut())
        .find(|s| s.get("name").and_then(|n| n.as_str()) == Some(stage))
        .ok_or_else(|| format!("the scenario has no [[stage]] named {stage:?}"))?;
    st.insert("series".into(), toml::Value::Array(pts));
    doc.insert("name".into(), toml::Value::String(title.into()));
    toml::to_string(&doc).map_err(|e| e.to_string())
}

/// The observed stage series of a crossing at `t_cross` (ms): seconds from the first.
pub fn observed_series(obs: &[Entity]) -> Vec<(f64, f64)> {
    let pts: Vec<(i64, f64)> = obs
        .iter()
        .filter_map(|o| {
            let t = parse_time(o.props.get("phenomenonTime")?.as_str()?)?.start;
            Some((t, o.props.get("result")?.as_f64()?))
        })
        .collect();
    let t0 = pts.first().map(|p| p.0).unwrap_or(0);
    pts.iter()
        .map(|(t, v)| ((t - t0) as f64 / 1000.0, *v))
        .collect()
}

/// Start watching the bindings of `<twin>/live.toml` (none: nothing is started).
pub fn spawn(
    live: Arc<Live>,
    runs: Option<Arc<Runs>>,
    twin: Arc<twin_core::Twin>,
    twin_dir: &Path,
) -> Result<Option<Arc<Nowcast>>, ApiError> {
    let cfg = read_config(twin_dir)?;
    if cfg.nowcast.is_empty() {
        return Ok(None);
    }
    let runs = runs.ok_or_else(|| {
        ApiError::internal("live.toml binds nowcasts but the server runs no scenarios")
    })?;
    let mut watches = Vec::new();
    let datastreams = live.store.list(EntitySet::Datastreams)?;
    for b in cfg.nowcast {
        let ds = datastreams
            .iter()
            .find(|d| {
                d.props
                    .get("properties")
                    .and_then(|p| p.get("twinId"))
                    .and_then(|v| v.as_str())
                    == Some(b.sensor.as_str())
            })
            .ok_or_else(|| {
                ApiError::internal(format!("live.toml: no Datastream of sensor {:?}", b.sensor))
            })?
            .id;
        let path = runs.scenario_path(&b.scenario)?;
        let template = std::fs::read_to_string(&path)
            .map_err(|e| ApiError::internal(format!("{}: {e}", path.display())))?;
        // Check the binding now rather than at the alarm.
        scenario_text(&template, &b.stage, &[(0.0, 0.0)], "check")
            .map_err(|e| ApiError::internal(format!("live.toml, {}: {e}", b.scenario)))?;
        let latest = live
            .store
            .observations(&ObsQuery {
                datastream: Some(ds),
                order: ObsOrder::TimeDesc,
                limit: 1,
                ..Default::default()
            })?
            .first()
            .and_then(|o| {
                Some((
                    parse_time(o.props.get("phenomenonTime")?.as_str()?)?.start,
                    o.props.get("result")?.as_f64()?,
                ))
            });
        let armed = latest.is_none_or(|(_, v)| v < b.alarm_m);
        watches.push(Watch {
            base: path.parent().map(Path::to_path_buf).unwrap_or_default(),
            binding: b,
            datastream: ds,
            template,
            latest,
            armed,
        });
    }
    let now = Arc::new(Nowcast {
        states: Mutex::new(watches.iter().map(state_of).collect()),
    });
    let mut rx = live.events.subscribe();
    let n = now.clone();
    std::thread::Builder::new()
        .name("nowcast".into())
        .spawn(move || loop {
            let o = match rx.blocking_recv() {
                Ok(o) => o,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(k)) => {
                    tracing::warn!("nowcast: {k} observations not looked at (behind)");
                    continue;
                }
                Err(_) => return,
            };
            for (i, w) in watches.iter_mut().enumerate() {
                if o.link("Datastream") != Some(w.datastream) {
                    continue;
                }
                let Some(t) = o
                    .props
                    .get("phenomenonTime")
                    .and_then(|t| t.as_str())
                    .and_then(parse_time)
                else {
                    continue;
                };
                let Some(v) = o.props.get("result").and_then(|r| r.as_f64()) else {
                    continue;
                };
                if w.latest.is_some_and(|(lt, _)| t.start < lt) {
                    // An older reading arriving late: not the river's state now.
                    continue;
                }
                let was_alarm = w.latest.is_some_and(|(_, lv)| lv >= w.binding.alarm_m);
                w.latest = Some((t.start, v));
                let is_alarm = v >= w.binding.alarm_m;
                if is_alarm != was_alarm {
                    live.hub.send(Push::Alarm {
                        sensor: w.binding.sensor.clone(),
                        datastream: w.datastream,
                        alarm_m: w.binding.alarm_m,
                        alarm: is_alarm,
                        value: v,
                        time: format_instant(t.start),
                    });
                }
                let mut error = None;
                let mut run = None;
                if v < w.binding.alarm_m {
                    w.armed = true;
                } else if w.armed {
                    w.armed = false;
                    match start_run(&live, &runs, &twin, w, t.start) {
                        Ok(id) => {
                            tracing::info!(
                                "nowcast: {} at {v} m (alarm {} m): run {id}",
                                w.binding.sensor,
                                w.binding.alarm_m
                            );
                            live.hub.send(Push::Nowcast {
                                sensor: w.binding.sensor.clone(),
                                run: id.clone(),
                                state: "started".into(),
                            });
                            watch_end(&live, &runs, &w.binding.sensor, &id);
                            run = Some(id);
                        }
                        Err(e) => {
                            tracing::warn!("nowcast of {}: {e}", w.binding.sensor);
                            error = Some(e.to_string());
                        }
                    }
                }
                if let Ok(mut s) = n.states.lock() {
                    let old = s[i].clone();
                    s[i] = state_of(w);
                    s[i].run = run.or(old.run.clone());
                    s[i].error = error.or(if s[i].run != old.run { None } else { old.error });
                }
            }
        })
        .map_err(|e| ApiError::internal(format!("nowcast thread: {e}")))?;
    Ok(Some(now))
}

/// How often the end of a nowcast run is looked for.
const END_POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// Send the run's end to the live push stream when it comes (a thread that reads the run's
/// stored state; it stops at the end, or when the run can no longer be read).
fn watch_end(live: &Arc<Live>, runs: &Arc<Runs>, sensor: &str, id: &str) {
    let (hub, runs, sensor, run) = (
        live.hub.clone(),
        runs.clone(),
        sensor.to_string(),
        id.to_string(),
    );
    let spawned = std::thread::Builder::new()
        .name("nowcast-end".into())
        .spawn(move || loop {
            std::thread::sleep(END_POLL);
            match runs.read(&run) {
                Ok(info) if info.status.is_final() => {
                    hub.send(Push::Nowcast {
                        sensor,
                        run,
                        state: info.status.to_string(),
                    });
                    return;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!("nowcast run {run}: {}", e.message);
                    return;
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("nowcast run {id}: no thread to watch its end ({e})");
    }
}

fn state_of(w: &Watch) -> NowcastState {
    NowcastState {
        sensor: w.binding.sensor.clone(),
        datastream: w.datastream,
        alarm_m: w.binding.alarm_m,
        latest: w.latest.map(|(t, v)| (format_instant(t), v)),
        alarm: w.latest.is_some_and(|(_, v)| v >= w.binding.alarm_m),
        run: None,
        error: None,
    }
}

fn start_run(
    live: &Live,
    runs: &Arc<Runs>,
    twin: &Arc<twin_core::Twin>,
    w: &Watch,
    t_cross: i64,
) -> Result<String, ApiError> {
    let from = t_cross - (w.binding.history_s * 1000.0) as i64;
    let obs = live.store.observations(&ObsQuery {
        datastream: Some(w.datastream),
        from: Some(from),
        to: Some(t_cross + 1),
        order: ObsOrder::TimeAsc,
        limit: 100_000,
        ..Default::default()
    })?;
    let series = observed_series(&obs);
    let title = format!(
        "Nowcast: {} reached {} m at {} (observed stages, latest held)",
        w.binding.sensor,
        w.binding.alarm_m,
        format_instant(t_cross)
    );
    let text = scenario_text(&w.template, &w.binding.stage, &series, &title)
        .map_err(ApiError::bad_request)?;
    let info = runs.start_text(twin.clone(), &text, &w.base, "nowcast")?;
    Ok(info.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_replaces_the_stage_and_holds_the_last_value() {
        let template = include_str!("../../../scenarios/examples/hue/flood_alarm3.toml");
        let text = scenario_text(
            template,
            "Perfume River (Kim Long gauge)",
            &[(0.0, 2.0), (1800.0, 3.6)],
            "t",
        )
        .unwrap();
        let doc: toml::Table = toml::from_str(&text).unwrap();
        let s = doc["stage"][0]["series"].as_array().unwrap();
        let pts: Vec<(f64, f64)> = s
            .iter()
            .map(|p| (p[0].as_float().unwrap(), p[1].as_float().unwrap()))
            .collect();
        assert_eq!(pts, vec![(0.0, 2.0), (1800.0, 3.6), (21600.0, 3.6)]);
        assert_eq!(doc["name"].as_str(), Some("t"));
        assert_eq!(doc["rain"]["series"].as_array().unwrap().len(), 5);
        assert!(scenario_text(template, "no such stage", &[(0.0, 1.0)], "t").is_err());
    }
}
