//! The live push stream: `GET /api/live/events`, one Server-Sent Events stream of what changes
//! in the live city, for maps, charts and panels that update without reloading.
//!
//! | event | data (JSON) | sent |
//! | --- | --- | --- |
//! | `observation` | [`Push::Observation`]: observation, Datastream and Thing ids, phenomenon time, result | after the group commit that stores it (HTTP, `dataArray`, MQTT) |
//! | `alarm` | [`Push::Alarm`]: a bound gauge's alarm state, level, value and time | when a gauge goes above or back below its alarm level |
//! | `nowcast` | [`Push::Nowcast`]: the gauge, the run, `started` or its final status | when a nowcast run starts and when it ends |
//! | `report` | [`Push::Report`]: the public fields of a new Open311 report | after the report is stored |
//! | `lagged` | the number of events this client missed | a client too slow for the channel skips ahead |
//!
//! One tokio broadcast channel ([`Hub`]) of bounded capacity: a client that falls behind
//! skips what it missed and gets a `lagged` marker; at most [`Hub::max_streams`] streams are
//! open at once (more get 503). Reads like every other read: public on a public server, a
//! viewer token on a private one (`auth::guard`).

use crate::error::ApiError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use serde_json::Value;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::{broadcast, Semaphore};
use utoipa::ToSchema;

/// Events the channel holds for the slowest client before it skips.
pub const CAPACITY: usize = 4096;
/// Streams open at once by default.
pub const MAX_STREAMS: usize = 256;

/// One event of the stream (its `type` is the SSE event name).
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Push {
    /// A new observation, durably stored.
    Observation {
        /// The observation's `@iot.id`.
        id: i64,
        /// Its Datastream's `@iot.id`.
        datastream: i64,
        /// The Thing of that Datastream.
        thing: Option<i64>,
        /// Its phenomenon time (ISO 8601, an instant or an interval).
        #[serde(rename = "phenomenonTime")]
        phenomenon_time: String,
        /// Its result.
        #[schema(value_type = Object)]
        result: Value,
    },
    /// A bound gauge went above its alarm level, or back below it.
    Alarm {
        /// The twin's sensor id.
        sensor: String,
        /// Its Datastream.
        datastream: i64,
        /// The alarm level (m).
        alarm_m: f64,
        /// Whether the gauge is at or above the level now.
        alarm: bool,
        /// The stage that changed the state.
        value: f64,
        /// Its phenomenon time.
        time: String,
    },
    /// A nowcast run started or ended.
    Nowcast {
        /// The twin's sensor id of the gauge.
        sensor: String,
        /// The run's id.
        run: String,
        /// `started`, then the run's final status (`done`, `failed`, `cancelled`).
        state: String,
    },
    /// A new citizen report: Open311's public fields only (no contact data).
    Report {
        /// The report as `GET /open311/v2/requests/<id>.json` shows it.
        #[schema(value_type = Object)]
        request: Value,
    },
}

impl Push {
    /// The SSE event name.
    pub fn name(&self) -> &'static str {
        match self {
            Push::Observation { .. } => "observation",
            Push::Alarm { .. } => "alarm",
            Push::Nowcast { .. } => "nowcast",
            Push::Report { .. } => "report",
        }
    }
}

/// The channel and the stream limit.
#[derive(Debug)]
pub struct Hub {
    tx: broadcast::Sender<Arc<Push>>,
    streams: Arc<Semaphore>,
    max_streams: usize,
}

impl Hub {
    /// A hub holding `capacity` events for slow clients and serving `max_streams` at once.
    pub fn new(capacity: usize, max_streams: usize) -> Hub {
        let (tx, _) = broadcast::channel(capacity.max(1));
        Hub {
            tx,
            streams: Arc::new(Semaphore::new(max_streams)),
            max_streams,
        }
    }

    /// Send an event to every open stream (none open: dropped).
    pub fn send(&self, p: Push) {
        let _ = self.tx.send(Arc::new(p));
    }

    /// Whether any stream is open (producers skip the work of an event nobody reads).
    pub fn has_streams(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// A receiver of the events sent from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Push>> {
        self.tx.subscribe()
    }

    /// Streams served at once at most.
    pub fn max_streams(&self) -> usize {
        self.max_streams
    }
}

/// The route, with its own state.
pub fn routes<S: Clone + Send + Sync + 'static>(hub: Arc<Hub>) -> Router<S> {
    Router::new()
        .route("/api/live/events", get(events))
        .with_state(hub)
}

/// `GET /api/live/events`: the live push stream (see the module docs).
#[utoipa::path(get, path = "/api/live/events", tag = "sensorthings",
    responses(
        (status = 200, description = "text/event-stream: `observation`, `alarm`, `nowcast` and `report` events (Push JSON, its `type` the event name), and `lagged` (the count a slow client missed)", content_type = "text/event-stream", body = Push),
        (status = 503, description = "too many streams open", body = crate::error::ErrorBody)))]
pub async fn events(
    State(hub): State<Arc<Hub>>,
) -> Result<Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let permit = hub.streams.clone().try_acquire_owned().map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "/api/live/events: {} streams open, the most this server serves; try again later",
                hub.max_streams
            ),
        )
    })?;
    let rx = hub.subscribe();
    let stream = futures_util::stream::unfold((rx, permit), |(mut rx, permit)| async move {
        use broadcast::error::RecvError;
        let ev = match rx.recv().await {
            Ok(p) => Event::default()
                .event(p.name())
                .data(serde_json::to_string(&*p).unwrap_or_default()),
            Err(RecvError::Lagged(n)) => Event::default().event("lagged").data(n.to_string()),
            Err(RecvError::Closed) => return None,
        };
        Some((Ok(ev), (rx, permit)))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_tagged_by_their_name() {
        let p = Push::Nowcast {
            sensor: "sensor:gauge-kim-long".into(),
            run: "r1".into(),
            state: "started".into(),
        };
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["type"], p.name());
        assert_eq!(v["run"], "r1");
        let o = Push::Observation {
            id: 3,
            datastream: 1,
            thing: Some(2),
            phenomenon_time: "2025-10-27T00:00:00Z".into(),
            result: 3.5.into(),
        };
        let v = serde_json::to_value(&o).unwrap();
        assert_eq!(
            (v["type"].as_str(), v["phenomenonTime"].as_str()),
            (Some("observation"), Some("2025-10-27T00:00:00Z"))
        );
    }

    #[tokio::test]
    async fn a_slow_client_skips_with_a_marker() {
        let hub = Hub::new(4, 1);
        let mut rx = hub.subscribe();
        for i in 0..10 {
            hub.send(Push::Nowcast {
                sensor: "s".into(),
                run: i.to_string(),
                state: "started".into(),
            });
        }
        assert!(matches!(
            rx.recv().await,
            Err(broadcast::error::RecvError::Lagged(6))
        ));
        let next = rx.recv().await.unwrap();
        assert!(matches!(&*next, Push::Nowcast { run, .. } if run == "6"));
    }
}
