//! Prometheus metrics (`GET /metrics`, text exposition format through `prometheus-client`):
//! requests by route, method and status, request latency by route, and tile cache lookups by
//! tier.

use super::cache::CacheTier;
use super::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Arc;
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

/// The server's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    cache: Family<TierLabels, Counter>,
    cache_bytes: Gauge<i64>,
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
        Metrics {
            registry,
            requests,
            latency,
            cache,
            cache_bytes,
        }
    }

    /// Count a cache lookup.
    pub fn cache(&self, tier: CacheTier) {
        self.cache
            .get_or_create(&TierLabels { tier: tier.label() })
            .inc();
    }

    /// Count a request.
    pub fn request(&self, route: &str, method: &str, status: StatusCode, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_string(),
                method: method.to_string(),
                status: status.as_u16(),
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                route: route.to_string(),
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

/// Middleware: time and count every request under its matched route (`unmatched` for the
/// fallback, so that hostile paths do not grow the label set).
pub async fn track(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = req.method().as_str().to_string();
    let method = match method.as_str() {
        "GET" | "HEAD" | "POST" | "OPTIONS" => method,
        _ => "other".to_string(),
    };
    let resp = next.run(req).await;
    state.metrics.request(
        &route,
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
