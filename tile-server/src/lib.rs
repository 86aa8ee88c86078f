//! The HTTP server (`twin serve`): 3D Tiles generated on demand and cached, a JSON API in
//! WGS84 GeoJSON, an OpenAPI document, health and Prometheus metrics, and the CesiumJS viewer.
//!
//! | path | what |
//! | --- | --- |
//! | `/` | the web viewer (CesiumJS from `/cesium/`) |
//! | `/tiles/tileset.json`, `/tiles/<layer>/tileset.json`, `/tiles/<layer>/<id>.glb` | 3D Tiles ([`tiles`]) |
//! | `/api/layers`, `/api/layers/<layer>/features[/<id>]`, `.../nearest`, `.../within`, `.../intersects`, `/api/heritage/zones` | the JSON API ([`api`]) |
//! | `/api/openapi.json` | the OpenAPI 3.1 document, generated from the handlers |
//! | `/healthz`, `/metrics` | liveness, Prometheus metrics ([`metrics`]) |
//!
//! Every response to a bad request is a JSON error ([`error::ApiError`]); hostile paths (`..`
//! segments, encoded slashes, backslashes, NUL) are refused before routing; bodies are bounded;
//! a panic in a handler becomes a 500 and the server keeps serving.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use tile_server::{self as server, source::NoTiles, ServerConfig};
//! let twin = twin_core::TwinDir::open("data/hue".as_ref())?.load()?;
//! let app = server::app(Arc::new(twin), Arc::new(NoTiles), &ServerConfig::default())?;
//! let (addr, serving) = server::bind(app, "127.0.0.1:0".parse()?).await?;
//! println!("http://{addr}/");
//! serving.await?;
//! # Ok(()) }
//! ```

pub mod api;
pub mod body;
pub mod cache;
pub mod error;
pub mod metrics;
pub mod runs;
pub mod source;
pub mod tiles;
pub mod viewer;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Version};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use cache::TileCache;
use error::ApiError;
use source::TileSource;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::predicate::{Predicate, SizeAbove};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::cors::{Any, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;
use twin_core::Twin;
use utoipa::OpenApi;

/// How the server runs.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Address to listen on (loopback by default).
    pub addr: SocketAddr,
    /// The web folder holding `vendor/cesium` ([`viewer::default_web_dir`] by default).
    pub web_dir: PathBuf,
    /// Bytes of tiles kept in memory.
    pub cache_memory_bytes: u64,
    /// Folder of the disk tile cache (`<twin>/cache/tiles`), none to keep tiles in memory only.
    pub disk_cache: Option<PathBuf>,
    /// Largest request body accepted, bytes.
    pub max_body_bytes: usize,
    /// The twin folder: scenario runs are stored under it (`<twin>/runs`); no runs without it.
    pub twin_dir: Option<PathBuf>,
    /// Folders whose `*.toml` scenario files the server lists and runs.
    pub scenario_dirs: Vec<PathBuf>,
    /// The flood solver of runs, handed in by the caller (the CPU reference solver by default;
    /// `twin serve --gpu` passes `renderer::flood::gpu_solver`).
    pub flood_solver: scenarios::jobs::SolverChoice,
    /// Tile options (water-surface tilesets of runs).
    pub tile_opts: tiles3d::TilesetOptions,
    /// Scenario runs that may wait beside the one running (16 by default); more get 429.
    pub max_queued_runs: usize,
    /// Wall-clock time a scenario run may take before it is stopped and marked failed (2 h by
    /// default); None: no limit.
    pub run_time_limit: Option<std::time::Duration>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            web_dir: viewer::default_web_dir(),
            cache_memory_bytes: 256 << 20,
            disk_cache: None,
            max_body_bytes: 64 << 10,
            twin_dir: None,
            scenario_dirs: Vec::new(),
            flood_solver: scenarios::jobs::SolverChoice::cpu(),
            tile_opts: tiles3d::TilesetOptions::default(),
            max_queued_runs: 16,
            run_time_limit: Some(std::time::Duration::from_secs(2 * 3600)),
        }
    }
}

/// Shared state of the handlers.
pub struct AppState {
    /// The twin.
    pub twin: Arc<Twin>,
    /// Layer summaries, computed at start.
    pub layers: Arc<api::LayerList>,
    /// Names of the tilesets served.
    pub tile_layers: Vec<String>,
    /// The tile cache in front of the tile source.
    pub cache: TileCache,
    /// Request and cache metrics.
    pub metrics: metrics::Metrics,
    /// The OpenAPI document, serialised.
    pub openapi: String,
    /// Scenario runs, when the server knows the twin's folder.
    pub runs: Option<Arc<runs::Runs>>,
}

/// The OpenAPI document of the server, generated from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(title = "huetwin", description = "huetwin digital twin server: 3D Tiles, GeoJSON features (WGS84, RFC 7946) and heritage zones"),
    paths(
        api::list_layers,
        api::features_bbox,
        api::feature_by_id,
        api::nearest,
        api::within,
        api::intersects,
        api::heritage_zones,
        healthz,
        metrics::metrics,
        openapi_doc,
        tile_doc,
        runs::list_scenarios,
        runs::post_run,
        runs::list_runs,
        runs::get_run,
        runs::cancel_run,
        runs::run_events,
        runs::rerun,
        runs::compare,
        runs::run_file,
        runs::water_index,
        runs::water_tile,
        viewer::index,
        viewer::viewer_js,
        viewer::viewer_css,
        cesium_doc,
    ),
    components(schemas(api::LayerList, api::LayerSummary, api::FeatureCollection, api::Link, error::ErrorBody, error::ErrorDetail,
        runs::ScenarioList, runs::ScenarioEntry, runs::RunStarted, runs::RunList, runs::RunDetail, runs::Cancelling,
        runs::WaterIndex, runs::WaterTime)),
    tags(
        (name = "features", description = "Vector layers as GeoJSON"),
        (name = "heritage", description = "Heritage sites and protection zones"),
        (name = "tiles", description = "OGC 3D Tiles 1.1"),
        (name = "runs", description = "Scenario runs: flood and traffic what-ifs as stored jobs"),
        (name = "viewer", description = "The CesiumJS web viewer"),
        (name = "server", description = "Health, metrics and this document"),
    )
)]
pub struct ApiDoc;

/// `GET /tiles/{path}`: documented here; served by [`tiles::get_tile`].
#[utoipa::path(get, path = "/tiles/{path}", tag = "tiles",
    params(("path" = String, Path, description = "tileset.json, <layer>/tileset.json or <layer>/<tile id>.glb (the layout of `twin tiles export`)"),
           ("If-None-Match" = Option<String>, Header, description = "an ETag from an earlier response: 304 when it still matches"),
           ("Range" = Option<String>, Header, description = "one byte range")),
    responses(
        (status = 200, description = "tileset JSON or glTF binary, with a strong ETag"),
        (status = 206, description = "the requested byte range"),
        (status = 304, description = "not modified"),
        (status = 400, description = "hostile or malformed path", body = error::ErrorBody),
        (status = 404, description = "no such tileset or tile", body = error::ErrorBody),
        (status = 416, description = "range not satisfiable", body = error::ErrorBody)))]
#[allow(dead_code)]
async fn tile_doc() {}

/// `GET /healthz`
#[utoipa::path(get, path = "/healthz", tag = "server",
    responses((status = 200, description = "the server is up", body = Object)))]
pub async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    (
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        axum::Json(serde_json::json!({"status": "ok", "twin": state.twin.name})),
    )
        .into_response()
}

/// `GET /cesium/{path}`: documented here; served from the web folder's `vendor/cesium`.
#[utoipa::path(get, path = "/cesium/{path}", tag = "viewer",
    params(("path" = String, Path, description = "a CesiumJS build file (Cesium.js, Widgets/..., Assets/...)")),
    responses(
        (status = 200, description = "the file"),
        (status = 404, description = "no such file")))]
#[allow(dead_code)]
async fn cesium_doc() {}

/// `GET /api/openapi.json`
#[utoipa::path(get, path = "/api/openapi.json", tag = "server",
    responses((status = 200, description = "this OpenAPI 3.1 document", body = Object)))]
async fn openapi_doc(State(state): State<Arc<AppState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        state.openapi.clone(),
    )
        .into_response()
}

async fn not_found(req: Request) -> ApiError {
    ApiError::not_found(format!("no route for {}", req.uri().path()))
}

/// Refuse paths that try to leave their folder: `.`/`..` segments (also percent-encoded),
/// encoded slashes or backslashes, backslashes and NUL.
pub fn hostile_path(raw: &str) -> Option<&'static str> {
    let lower = raw.to_ascii_lowercase();
    if lower.contains("%2f") || lower.contains("%5c") {
        return Some("encoded slashes are not allowed in paths");
    }
    if raw.contains('\\') || lower.contains("%00") || raw.contains('\0') {
        return Some("backslashes and NUL are not allowed in paths");
    }
    for seg in lower.split('/') {
        let seg = seg.replace("%2e", ".");
        if seg == "." || seg == ".." {
            return Some("'.' and '..' segments are not allowed in paths");
        }
    }
    None
}

/// Turn an error response that is not JSON yet (405, 413 from the body limit, rejections)
/// into the JSON error body. Compressed bodies are left as they are.
async fn json_error(resp: Response) -> Response {
    let status = resp.status();
    if status.as_u16() < 400 {
        return resp;
    }
    let h = resp.headers();
    let is_json = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json || h.contains_key(header::CONTENT_ENCODING) {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let message = match std::str::from_utf8(&text).map(str::trim) {
        Ok(t) if !t.is_empty() => t.to_string(),
        _ => status.canonical_reason().unwrap_or("error").to_string(),
    };
    let mut out = ApiError::new(status, message).into_response();
    // Keep headers such as Allow (405) and Content-Range (416).
    for (k, v) in parts.headers.iter() {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
            out.headers_mut().insert(k.clone(), v.clone());
        }
    }
    out
}

/// The outermost middleware, one future per request: refuse paths that try to leave their
/// folder, count and time the request under its route ([`metrics::track`]), give every error
/// a JSON body and tag the ETag of a compressed body.
async fn edge(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if let Some(why) = hostile_path(req.uri().path()) {
        let resp = ApiError::bad_request(format!("{why}: {:?}", req.uri().path())).into_response();
        state
            .metrics
            .request("unmatched", req.method(), resp.status(), 0.0);
        return resp;
    }
    metrics::track(&state, req, |req| async move {
        let mut resp = json_error(next.run(req).await).await;
        body::tag_encoded_etag(&mut resp);
        resp
    })
    .await
}

fn compressible(
    status: StatusCode,
    _v: Version,
    h: &HeaderMap,
    _e: &axum::http::Extensions,
) -> bool {
    if status == StatusCode::PARTIAL_CONTENT || h.contains_key(header::CONTENT_RANGE) {
        return false;
    }
    let ct = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    ct.starts_with("application/json")
        || ct.starts_with("application/geo+json")
        || ct.starts_with("text/")
        || ct.starts_with("application/javascript")
        || ct.starts_with("image/svg+xml")
}

fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    let msg = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into());
    ApiError::internal(format!("the request handler failed: {msg}")).into_response()
}

/// The application: routes and middleware over a loaded twin and a tile source.
pub fn app(
    twin: Arc<Twin>,
    source: Arc<dyn TileSource>,
    cfg: &ServerConfig,
) -> Result<Router, ApiError> {
    let tile_layers = source.layers();
    let layers = Arc::new(api::layer_list(&twin, &tile_layers)?);
    let openapi = ApiDoc::openapi()
        .to_pretty_json()
        .map_err(|e| ApiError::internal(format!("OpenAPI document: {e}")))?;
    let cache = TileCache::new(source, cfg.cache_memory_bytes, cfg.disk_cache.as_deref());
    let crs = twin.crs.clone();
    let state = Arc::new(AppState {
        twin,
        layers,
        tile_layers,
        cache,
        metrics: metrics::Metrics::new(),
        openapi,
        runs: cfg.twin_dir.as_ref().map(|dir| {
            Arc::new(runs::Runs::new(
                crs.clone(),
                dir.clone(),
                cfg.scenario_dirs.clone(),
                cfg.flood_solver.clone(),
                cfg.tile_opts.clone(),
                runs::RunLimits {
                    max_queued: cfg.max_queued_runs,
                    time_limit: cfg.run_time_limit,
                },
            ))
        }),
    });
    let cesium = ServeDir::new(viewer::cesium_dir(&cfg.web_dir));
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::CONTENT_TYPE,
            header::RANGE,
            header::IF_NONE_MATCH,
            header::IF_RANGE,
        ])
        .expose_headers([
            header::ETAG,
            header::CONTENT_RANGE,
            header::CONTENT_LENGTH,
            header::ACCEPT_RANGES,
        ])
        .max_age(std::time::Duration::from_secs(86_400));
    let compression = CompressionLayer::new()
        .quality(CompressionLevel::Precise(4))
        .compress_when(SizeAbove::new(256).and(compressible));

    let router = Router::new()
        .route("/", get(viewer::index))
        .route("/viewer.js", get(viewer::viewer_js))
        .route("/viewer.css", get(viewer::viewer_css))
        .nest_service("/cesium", cesium)
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::metrics))
        .route("/api/openapi.json", get(openapi_doc))
        .route("/api/layers", get(api::list_layers))
        .route("/api/layers/{layer}/features", get(api::features_bbox))
        .route(
            "/api/layers/{layer}/features/{*id}",
            get(api::feature_by_id),
        )
        .route("/api/layers/{layer}/nearest", get(api::nearest))
        .route("/api/layers/{layer}/within", get(api::within))
        .route("/api/layers/{layer}/intersects", post(api::intersects))
        .route("/api/heritage/zones", get(api::heritage_zones))
        .route("/tiles/{*path}", get(tiles::get_tile))
        .route("/api/scenarios", get(runs::list_scenarios))
        .route("/api/runs", get(runs::list_runs).post(runs::post_run))
        .route(
            "/api/runs/{id}",
            get(runs::get_run).delete(runs::cancel_run),
        )
        .route("/api/runs/{id}/events", get(runs::run_events))
        .route("/api/runs/{id}/rerun", post(runs::rerun))
        .route("/api/runs/{a}/compare/{b}", get(runs::compare))
        .route("/api/runs/{id}/files/{name}", get(runs::run_file))
        .route("/api/runs/{id}/water", get(runs::water_index))
        .route("/api/runs/{id}/water/{time}/{*path}", get(runs::water_tile))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(cfg.max_body_bytes))
        .with_state(state.clone());

    Ok(router.layer(
        ServiceBuilder::new()
            .layer(TraceLayer::new_for_http())
            .layer(middleware::from_fn_with_state(state, edge))
            .layer(CatchPanicLayer::custom(panic_response))
            .layer(cors)
            .layer(compression)
            .layer(RequestBodyLimitLayer::new(cfg.max_body_bytes)),
    ))
}

/// Bind `addr` and return the bound address (a port of 0 picks a free one) and the future
/// that serves until it fails.
pub async fn bind(
    app: Router,
    addr: SocketAddr,
) -> std::io::Result<(SocketAddr, impl Future<Output = std::io::Result<()>>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((local, async move { axum::serve(listener, app).await }))
}

/// Bind and serve until Ctrl-C, calling `ready` with the bound address first.
pub async fn run(
    app: Router,
    addr: SocketAddr,
    ready: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    ready(listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every route this file's router serves (its `.route(...)` and `.nest_service(...)` calls,
    /// read from the source) is in the OpenAPI document, with each of its methods.
    #[test]
    fn every_route_is_in_the_openapi_document() {
        let doc: serde_json::Value =
            serde_json::from_str(&ApiDoc::openapi().to_json().unwrap()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        let src = include_str!("lib.rs");
        let start = src.find("let router = Router::new()").unwrap();
        let end = start + src[start..].find(".fallback(").unwrap();
        let router = &src[start..end];
        let mut checked = 0;
        for call in router.split(".route(").skip(1) {
            let call = call.trim_start();
            let path = call[1..].split('"').next().unwrap();
            // axum's `{*rest}` is OpenAPI's `{rest}`.
            let path = path.replace("{*", "{");
            let item = paths
                .get(&path)
                .unwrap_or_else(|| panic!("route {path} is not in /api/openapi.json"));
            let args = &call[..call.find("\n        .").unwrap_or(call.len())];
            let mut methods = 0;
            for m in ["get", "post", "delete", "put", "patch"] {
                let called = args
                    .match_indices(&format!("{m}("))
                    .any(|(i, _)| i == 0 || !args.as_bytes()[i - 1].is_ascii_alphanumeric());
                if called {
                    assert!(
                        item.get(m).is_some(),
                        "{} {path} is not documented",
                        m.to_uppercase()
                    );
                    methods += 1;
                }
            }
            assert!(methods > 0, "no method found for {path} in {args:?}");
            checked += 1;
        }
        for call in router.split(".nest_service(").skip(1) {
            let prefix = call.trim_start()[1..].split('"').next().unwrap();
            assert!(
                paths.keys().any(|p| p.starts_with(&format!("{prefix}/"))),
                "nothing under {prefix}/ is in /api/openapi.json"
            );
            checked += 1;
        }
        assert!(checked >= 24, "only {checked} routes found in the router");
    }

    #[test]
    fn hostile_paths() {
        for bad in [
            "/tiles/../twin.toml",
            "/tiles/%2e%2e/twin.toml",
            "/tiles/buildings%2F1.glb",
            "/cesium/..%5c..%5cetc",
            "/cesium/a\\b",
            "/x/%00",
            "/tiles/./tileset.json",
        ] {
            assert!(hostile_path(bad).is_some(), "{bad}");
        }
        for ok in [
            "/",
            "/tiles/buildings/3/1/2.glb",
            "/api/layers/buildings/features/osm:way/123",
            "/cesium/Cesium.js",
            "/tiles/a..b/x.glb",
        ] {
            assert!(hostile_path(ok).is_none(), "{ok}");
        }
    }
}
