//! Prometheus metrics (`GET /metrics`, text exposition format through `prometheus-client`):
//! requests by route, method and status, request latency by route, and tile cache lookups by
//! tier.

use super::body::CacheTier;
use super::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Instant;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TierLabels {
    tier: &'static str,
}

fn latency_histogram() -> Histogram {
    // 50 µs .. ~13 s
    Histogram::new(exponential_buckets(0.00005, 2.0, 18))
}

/// The counter of each (method, status) and the latency histogram of one route, looked up
/// without allocating once the route has been seen.
#[derive(Default)]
struct RouteHandles {
    requests: HashMap<(&'static str, u16), Counter>,
    latency: Option<Histogram>,
}

/// The server's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    cache_bytes: Gauge<i64>,
    handles: RwLock<HashMap<String, RouteHandles>>,
    tiers: [Counter; 3],
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Fresh counters, registered.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("huetwin");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: Family<RouteLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        let cache = Family::<TierLabels, Counter>::default();
        let cache_bytes = Gauge::<i64>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from request to response headers, by route",
            latency.clone(),
        );
        registry.register(
            "tile_cache_lookups",
            "Tile and tileset lookups by where they were found (memory, disk, produced)",
            cache.clone(),
        );
        registry.register(
            "tile_cache_memory_bytes",
            "Bytes held in the tile memory cache",
            cache_bytes.clone(),
        );
        let tiers = [CacheTier::Memory, CacheTier::Disk, CacheTier::Produced]
            .map(|t| cache.get_or_create(&TierLabels { tier: t.label() }).clone());
        Metrics {
            registry,
            requests,
            latency,
            cache_bytes,
            handles: RwLock::new(HashMap::new()),
            tiers,
        }
    }

    /// Count a cache lookup.
    pub fn cache(&self, tier: CacheTier) {
        self.tiers[tier as usize].inc();
    }

    /// Count a request under `route` (a matched route pattern, or `unmatched`).
    pub fn request(&self, route: &str, method: &Method, status: StatusCode, seconds: f64) {
        let method = method_label(method);
        let key = (method, status.as_u16());
        {
            let handles = self.handles.read().unwrap_or_else(|e| e.into_inner());
            if let Some(h) = handles.get(route) {
                if let (Some(c), Some(l)) = (h.requests.get(&key), &h.latency) {
                    c.inc();
                    l.observe(seconds);
                    return;
                }
            }
        }
        // First request of this route, method and status: register its series.
        let mut handles = self.handles.write().unwrap_or_else(|e| e.into_inner());
        let h = handles.entry(route.to_string()).or_default();
        let c = h.requests.entry(key).or_insert_with(|| {
            self.requests
                .get_or_create(&RequestLabels {
                    route: route.to_string(),
                    method: method.to_string(),
                    status: key.1,
                })
                .clone()
        });
        c.inc();
        h.latency
            .get_or_insert_with(|| {
                self.latency
                    .get_or_create(&RouteLabels {
                        route: route.to_string(),
                    })
                    .clone()
            })
            .observe(seconds);
    }

    /// The text exposition.
    pub fn encode(&self, cache_memory_bytes: u64) -> String {
        self.cache_bytes
            .set(i64::try_from(cache_memory_bytes).unwrap_or(i64::MAX));
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::OPTIONS => "OPTIONS",
        Method::DELETE => "DELETE",
        _ => "other",
    }
}

/// Time and count a request under its matched route (`unmatched` for the fallback, so that
/// hostile paths do not grow the label set): `handle` runs it.
pub async fn track<F, Fut>(state: &AppState, req: Request, handle: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    let start = Instant::now();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let resp = handle(req).await;
    state.metrics.request(
        route.as_ref().map_or("unmatched", |m| m.as_str()),
        &method,
        resp.status(),
        start.elapsed().as_secs_f64(),
    );
    resp
}

/// `GET /metrics`: Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "server",
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain")))]
pub async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let body = state.metrics.encode(state.cache.memory_bytes());
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
}
