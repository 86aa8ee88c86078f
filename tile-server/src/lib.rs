//! The HTTP server (`twin serve`): 3D Tiles generated on demand and cached, a JSON API in
//! WGS84 GeoJSON, an OpenAPI document, health and Prometheus metrics, and the CesiumJS viewer.
//!
//! | path | what |
//! | --- | --- |
//! | `/` | the web viewer (CesiumJS from `/cesium/`) |
//! | `/tiles/tileset.json`, `/tiles/<layer>/tileset.json`, `/tiles/<layer>/<id>.glb` | 3D Tiles ([`tiles`]) |
//! | `/api/layers`, `/api/layers/<layer>/features[/<id>]`, `.../nearest`, `.../within`, `.../intersects`, `/api/heritage/zones` | the JSON API ([`api`]) |
//! | `/ogc`, `/ogc/conformance`, `/ogc/collections[/<layer>[/items[/<id>]]]` | OGC API – Features – Part 1 ([`ogc`]) |
//! | `/open311/v2/services.json`, `/open311/v2/requests.json`, `/open311/v2/requests/<id>.json`, ... | citizen reports, Open311 GeoReport v2 ([`open311`]) |
//! | `/api/openapi.json` | the OpenAPI 3.1 document, generated from the handlers |
//! | `/healthz`, `/metrics` | liveness, Prometheus metrics ([`metrics`]) |
//! | `/v1.1`, `/v1.1/<Set>...`, `/api/live/nowcast` | OGC SensorThings API 1.1, its MQTT bridge and nowcasts ([`sta`]) |
//! | `/api/live/events` | the live push stream: observations, alarms, nowcasts, new reports ([`push`]) |
//!
//! Writes need a bearer token of a high enough role, reads too on a private server; a foreign
//! `Host` is refused; write routes get CORS headers only for configured origins ([`auth`]).
//! [`bind`] serves with a header-read timeout and a connection limit ([`Limits`]), over TLS
//! (rustls) when given [`TlsFiles`].
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
pub mod auth;
pub mod basemap;
pub mod body;
pub mod cache;
pub mod error;
pub mod features;
pub mod heritage;
pub mod metrics;
pub mod ogc;
pub mod open311;
pub mod push;
pub mod runs;
pub mod runs_queue;
pub mod source;
pub mod sta;
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
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;
use twin_core::Twin;
use utoipa::OpenApi;

/// How the server runs.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Address to listen on (loopback by default).
    pub addr: SocketAddr,
    /// Where the viewer's files come from: embedded in the binary (the default) or a web folder
    /// with `vendor/cesium` (`twin serve --web-dir`).
    pub web: viewer::WebSource,
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
    /// The drawer of the basemap tiles (`/basemap/...`), handed in by the caller as the flood
    /// solver is (`twin serve` passes `renderer::basemap::Drawer`); none: basemap tiles
    /// answer 503 and the server needs no GPU (ADR 0006, ADR 0022).
    pub basemap: Option<Arc<dyn twin_core::xyz::BasemapDrawer>>,
    /// Tile options (water-surface tilesets of runs).
    pub tile_opts: tiles3d::TilesetOptions,
    /// Scenario runs that may wait beside the one running (16 by default); more get 429.
    pub max_queued_runs: usize,
    /// Wall-clock time a scenario run may take before it is stopped and marked failed (2 h by
    /// default); None: no limit.
    pub run_time_limit: Option<std::time::Duration>,
    /// The store file holding the API tokens (`<twin>/twin.gpkg`, [`twin_core::tokens`]);
    /// none: no token is valid, so every write is refused.
    pub tokens: Option<PathBuf>,
    /// The PostgreSQL database holding the API tokens, when the twin's store is there (then
    /// [`ServerConfig::tokens`] is unused and every replica reads the same tokens).
    pub token_db: Option<twin_core::store::pg::PgConfig>,
    /// Reads need a viewer token too (all but the viewer's page and files and `/healthz`).
    pub private: bool,
    /// Host names the server answers for beyond `localhost` and IP addresses (DNS
    /// rebinding: any other `Host` is refused with 421).
    pub allowed_hosts: Vec<String>,
    /// Origins (`https://maps.example.org`) given CORS headers on write routes; reads get `*`.
    pub cors_origins: Vec<String>,
    /// Timeouts and the connection limit of [`bind`] and [`run`].
    pub limits: Limits,
    /// Serve HTTPS with this certificate and key (rustls); none: plain HTTP.
    pub tls: Option<TlsFiles>,
    /// The SensorThings API's store, MQTT bridge and retention ([`sta`]).
    pub live: sta::LiveConfig,
    /// Object storage for tiles and run results (`--objects`: a folder, `file://` or
    /// `s3://bucket?endpoint=...`, [`scenarios::objects`]); none: tiles on local disk
    /// (`disk_cache`), run results in the twin's run folders.
    pub objects: Option<String>,
    /// The PostgreSQL run queue (`--queue postgres://...`, [`scenarios::jobs::queue`]): runs
    /// are queued there for `twin worker`s, and results read from `objects` (a folder under
    /// the twin when none is given); none: runs go on this server's threads.
    pub run_queue: Option<String>,
    /// Attempts a queued run gets (a worker dying mid-run costs one).
    pub run_attempts: u32,
}

/// The PEM files of TLS: the certificate chain (leaf first) and its private key (PKCS#8,
/// PKCS#1 or SEC1).
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The certificate chain.
    pub cert: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

impl TlsFiles {
    /// A rustls acceptor (ring provider, TLS 1.2 and 1.3, HTTP/2 and HTTP/1.1 by ALPN).
    pub fn acceptor(&self) -> std::io::Result<tokio_rustls::TlsAcceptor> {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        use tokio_rustls::rustls;
        let bad = |what: &std::path::Path, e: &dyn std::fmt::Display| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("TLS {}: {e}", what.display()),
            )
        };
        let certs = CertificateDer::pem_file_iter(&self.cert)
            .and_then(|i| i.collect::<Result<Vec<_>, _>>())
            .map_err(|e| bad(&self.cert, &e))?;
        if certs.is_empty() {
            return Err(bad(&self.cert, &"no certificate in the file"));
        }
        let key = PrivateKeyDer::from_pem_file(&self.key).map_err(|e| bad(&self.key, &e))?;
        // ring rather than aws-lc-rs: a small C build, no cmake. It has no post-quantum key
        // exchange, hence the deprecation rustls 0.23.48 puts on it.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad(&self.cert, &e))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| bad(&self.key, &e))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }
}

/// Bounds on connections: how long a client may take over its headers and its body, and how
/// many connections are served at once (more wait to be accepted).
#[derive(Clone, Debug)]
pub struct Limits {
    /// Time to send a request's headers (from the connection's start or the end of the last
    /// response); the connection is closed after it.
    pub header_timeout: std::time::Duration,
    /// Time to send a request's body.
    pub body_timeout: std::time::Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: std::time::Duration::from_secs(10),
            body_timeout: std::time::Duration::from_secs(30),
            max_connections: 1024,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            web: viewer::WebSource::Embedded,
            cache_memory_bytes: 256 << 20,
            disk_cache: None,
            max_body_bytes: 64 << 10,
            twin_dir: None,
            scenario_dirs: Vec::new(),
            flood_solver: scenarios::jobs::SolverChoice::cpu(),
            basemap: None,
            tile_opts: tiles3d::TilesetOptions::default(),
            max_queued_runs: 16,
            run_time_limit: Some(std::time::Duration::from_secs(2 * 3600)),
            tokens: None,
            token_db: None,
            private: false,
            allowed_hosts: Vec::new(),
            cors_origins: Vec::new(),
            limits: Limits::default(),
            tls: None,
            live: sta::LiveConfig::default(),
            objects: None,
            run_queue: None,
            run_attempts: 3,
        }
    }
}

/// Shared state of the handlers.
pub struct AppState {
    /// The twin.
    pub twin: Arc<Twin>,
    /// Layer summaries, computed at start.
    pub layers: Arc<api::LayerList>,
    /// Every vector feature's GeoJSON text (WGS84), made at start ([`features`]).
    pub features: Arc<features::FeatureText>,
    /// `https` when the server speaks TLS, else `http`: the scheme of the OGC routes'
    /// absolute links.
    pub scheme: &'static str,
    /// Names of the tilesets served.
    pub tile_layers: Vec<String>,
    /// The tile cache in front of the tile source.
    pub cache: TileCache,
    /// The twin's own basemap (raster XYZ tiles), `None` for an empty twin.
    pub basemap: Option<basemap::BasemapState>,
    /// Request and cache metrics.
    pub metrics: metrics::Metrics,
    /// The OpenAPI document, serialised.
    pub openapi: String,
    /// Scenario runs, when the server knows the twin's folder.
    pub runs: Option<Arc<runs::Runs>>,
    /// The generation of the twin served (`twin.toml`'s import count when the server started;
    /// a later import or build is served after a restart), when the server knows the folder.
    pub generation: Option<u64>,
    /// The heritage rules of the twin (its zones and protected views), resolved at start.
    pub heritage: Arc<::heritage::Rules>,
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
        heritage::check,
        heritage::breaches,
        heritage::exposure,
        heritage::viewshed,
        heritage::sightlines,
        heritage::sightlines_with,
        ogc::landing,
        ogc::conformance,
        ogc::collections,
        ogc::one_collection,
        ogc::items,
        ogc::item,
        healthz,
        metrics::metrics,
        openapi_doc,
        tile_doc,
        basemap::get_tile,
        basemap::tilejson,
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
        viewer::cesium,
        viewer::module,
        viewer::library,
        sta::root,
        sta::get_path,
        sta::post_path,
        sta::patch_path,
        sta::put_path,
        sta::delete_path,
        sta::nowcast_state,
        push::events,
    ),
    components(schemas(push::Push, api::LayerList, api::LayerSummary, api::FeatureCollection, features::Link, ogc::Landing, ogc::Conformance, ogc::Collections, ogc::Collection, ogc::Extent, ogc::Spatial, error::ErrorBody, error::ErrorDetail,
        runs::ScenarioList, runs::ScenarioEntry, runs::RunStarted, runs::RunList, runs::RunDetail, runs::Cancelling,
        runs::WaterIndex, runs::WaterTime, heritage::ViewshedRequest, heritage::ViewshedFormat, heritage::SightlinesRequest)),
    tags(
        (name = "features", description = "Vector layers as GeoJSON"),
        (name = "ogc", description = "OGC API - Features - Part 1 (core, GeoJSON): the vector layers as collections, for QGIS and GDAL"),
        (name = "heritage", description = "Heritage sites and protection zones"),
        (name = "tiles", description = "OGC 3D Tiles 1.1"),
        (name = "runs", description = "Scenario runs: flood and traffic what-ifs as stored jobs"),
        (name = "sensorthings", description = "OGC SensorThings API 1.1: sensors, river gauges and their observations (live data), and flood nowcasts"),
        (name = "viewer", description = "The CesiumJS web viewer"),
        (name = "server", description = "Health, metrics and this document"),
    ),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// Adds the bearer security scheme to the OpenAPI document, and to each write route
/// ([`auth::WRITES`]) its security requirement and the 401 and 403 answers.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
        };
        use utoipa::openapi::{RefOr, ResponseBuilder};
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("ht_<id>_<secret> (twin token create)")
                        .description(Some("A token made by `twin token create --role R`: writes need one of a high enough role, reads too when the server is private"))
                        .build(),
                ),
            );
        let error = |d: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(d)
                    .content(
                        "application/json",
                        utoipa::openapi::ContentBuilder::new()
                            .schema(Some(utoipa::openapi::Ref::from_schema_name("ErrorBody")))
                            .build(),
                    )
                    .build(),
            )
        };
        for (method, route, role) in auth::WRITES.iter().chain(auth::PROTECTED_READS) {
            let path = route.replace("{*", "{");
            let Some(item) = doc.paths.paths.get_mut(&path) else {
                continue;
            };
            let op = match *method {
                "GET" => item.get.as_mut(),
                "POST" => item.post.as_mut(),
                "DELETE" => item.delete.as_mut(),
                "PUT" => item.put.as_mut(),
                "PATCH" => item.patch.as_mut(),
                _ => None,
            };
            let Some(op) = op else { continue };
            op.security = Some(vec![SecurityRequirement::new(
                "bearer",
                Vec::<String>::new(),
            )]);
            op.responses.responses.insert(
                "401".into(),
                error("no token, or not a valid one (`WWW-Authenticate: Bearer`)"),
            );
            op.responses.responses.insert(
                "403".into(),
                error(&format!("the token's role is below {role}")),
            );
        }
    }
}

/// The server's OpenAPI document: [`ApiDoc`] and the Open311 routes' ([`open311::Open311Doc`]),
/// with the bearer scheme on every route that needs a role.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(open311::Open311Doc::openapi());
    utoipa::Modify::modify(&BearerAuth, &mut doc);
    doc
}

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
    responses((status = 200, description = "the server is up: the twin's name and the generation it serves (the number of imports its twin.toml records)", body = Object)))]
pub async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    (
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        axum::Json(serde_json::json!({
            "status": "ok",
            "twin": state.twin.name,
            "generation": state.generation,
        })),
    )
        .into_response()
}

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
    let mut layers = api::layer_list(&twin, &tile_layers, cfg.twin_dir.is_some())?;
    layers.attribution = match cfg.twin_dir.as_deref() {
        Some(dir) => {
            twin_core::twin::TwinConfig::load(dir)
                .map_err(|e| ApiError::internal(format!("twin.toml: {e}")))?
                .attribution
        }
        None => None,
    };
    let started = std::time::Instant::now();
    let features = Arc::new(features::FeatureText::build(&twin)?);
    tracing::info!(
        "GeoJSON of the vector layers: {:.1} MB in {:.2} s",
        features.bytes() as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    let openapi = openapi()
        .to_pretty_json()
        .map_err(|e| ApiError::internal(format!("OpenAPI document: {e}")))?;
    let tile_version = source.version();
    let objects = cfg
        .objects
        .as_deref()
        .map(scenarios::objects::Objects::open)
        .transpose()
        .map_err(|e| ApiError::internal(format!("--objects: {e}")))?;
    let mut cache = TileCache::new(source, cfg.cache_memory_bytes, cfg.disk_cache.as_deref());
    if let Some(o) = &objects {
        cache = cache.with_objects(o.clone());
    }
    let remote = match (&cfg.run_queue, &cfg.twin_dir) {
        (Some(url), Some(dir)) => {
            let o = match &objects {
                Some(o) => o.clone(),
                None => scenarios::objects::Objects::local(&dir.join("objects"))
                    .map_err(|e| ApiError::internal(e.to_string()))?,
            };
            Some(
                runs_queue::Remote::connect(
                    url,
                    o,
                    cfg.run_attempts,
                    dir.join("cache").join("runs"),
                )
                .map_err(|e| ApiError::internal(format!("--queue: {e}")))?,
            )
        }
        _ => None,
    };
    let hub = Arc::new(push::Hub::new(
        push::CAPACITY,
        cfg.live.push_streams.unwrap_or(push::MAX_STREAMS),
    ));
    let live = sta::start(
        &cfg.live,
        cfg.twin_dir.as_deref(),
        &twin,
        if cfg.tls.is_some() { "https" } else { "http" },
        hub.clone(),
    )?;
    layers.sensors = live.as_ref().map(|_| "/v1.1".to_string());
    let layers = Arc::new(layers);
    let crs = twin.crs.clone();
    let twin_dir = cfg
        .twin_dir
        .as_deref()
        .and_then(|d| twin_core::TwinDir::open(d).ok());
    let generation = twin_dir.as_ref().map(|d| d.config.generation);
    let basemap = basemap::BasemapState::new(
        twin.clone(),
        cfg.basemap.clone(),
        &twin_dir
            .as_ref()
            .map_or_else(|| tile_version.clone(), source::twin_fingerprint),
        cfg.cache_memory_bytes / 4,
        cfg.disk_cache.as_deref(),
        cfg.twin_dir.as_deref(),
    )?;
    let heritage_rules = Arc::new(heritage::load_rules(&twin, cfg.twin_dir.as_deref())?);
    let state = Arc::new(AppState {
        heritage: heritage_rules,
        generation,
        twin,
        layers,
        features,
        scheme: if cfg.tls.is_some() { "https" } else { "http" },
        tile_layers,
        cache,
        basemap,
        metrics: metrics::Metrics::new(),
        openapi,
        runs: cfg.twin_dir.as_ref().map(|dir| {
            let runs = runs::Runs::new(
                crs.clone(),
                dir.clone(),
                cfg.scenario_dirs.clone(),
                cfg.flood_solver.clone(),
                cfg.tile_opts.clone(),
                runs::RunLimits {
                    max_queued: cfg.max_queued_runs,
                    time_limit: cfg.run_time_limit,
                },
            );
            Arc::new(match remote {
                Some(q) => runs.with_remote(q),
                None => runs,
            })
        }),
    });
    sta::start_nowcast(
        live.as_ref(),
        state.runs.clone(),
        state.twin.clone(),
        cfg.twin_dir.as_deref(),
    )?;
    let web = Arc::new(
        viewer::WebFiles::new(cfg.web.clone())
            .map_err(|e| ApiError::internal(format!("the viewer's files: {e}")))?,
    );
    let security = Arc::new(
        auth::Security::new(
            cfg.tokens.clone(),
            cfg.private,
            &cfg.allowed_hosts,
            &cfg.cors_origins,
        )?
        .with_token_db(cfg.token_db.clone()),
    );
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::DELETE,
            Method::PATCH,
            Method::PUT,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::CONTENT_TYPE,
            header::RANGE,
            header::IF_NONE_MATCH,
            header::IF_RANGE,
            header::AUTHORIZATION,
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

    let (open311, open311_body) = open311::routes(state.twin.clone(), cfg, hub.clone())?;
    let router = Router::new()
        .merge(viewer::router(web))
        .merge(sta::routes(live.clone()))
        .merge(push::routes(hub))
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
        .route("/api/heritage/check", post(heritage::check))
        .route("/api/heritage/breaches", get(heritage::breaches))
        .route("/api/heritage/exposure", get(heritage::exposure))
        .route("/api/heritage/viewshed", post(heritage::viewshed))
        .route(
            "/api/heritage/sightlines",
            get(heritage::sightlines).post(heritage::sightlines_with),
        )
        .route("/ogc", get(ogc::landing))
        .route("/ogc/conformance", get(ogc::conformance))
        .route("/ogc/collections", get(ogc::collections))
        .route("/ogc/collections/{collectionId}", get(ogc::one_collection))
        .route("/ogc/collections/{collectionId}/items", get(ogc::items))
        .route(
            "/ogc/collections/{collectionId}/items/{*featureId}",
            get(ogc::item),
        )
        .route("/tiles/{*path}", get(tiles::get_tile))
        .route("/basemap/tilejson.json", get(basemap::tilejson))
        .route("/basemap/{z}/{x}/{y}", get(basemap::get_tile))
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
        .layer(RequestBodyLimitLayer::new(cfg.max_body_bytes))
        .merge(open311)
        .with_state(state.clone());

    Ok(router.layer(
        ServiceBuilder::new()
            .layer(TraceLayer::new_for_http())
            .layer(middleware::from_fn_with_state(state, edge))
            .layer(middleware::from_fn_with_state(
                security.clone(),
                auth::check_host,
            ))
            .layer(CatchPanicLayer::custom(panic_response))
            .layer(middleware::from_fn_with_state(
                security.clone(),
                auth::cors_writes,
            ))
            .layer(cors)
            .layer(middleware::from_fn_with_state(security, auth::guard))
            .layer(compression)
            .layer(RequestBodyTimeoutLayer::new(cfg.limits.body_timeout))
            // Each route's own limit is inside; this one only stops what no route accepts.
            .layer(RequestBodyLimitLayer::new(
                cfg.max_body_bytes.max(open311_body),
            )),
    ))
}

/// Bind `addr` and return the bound address (a port of 0 picks a free one) and the future
/// that serves until it fails, with the default [`Limits`].
pub async fn bind(
    app: Router,
    addr: SocketAddr,
) -> std::io::Result<(SocketAddr, impl Future<Output = std::io::Result<()>>)> {
    bind_with(app, addr, &Limits::default(), None).await
}

/// [`bind`] with the given limits, and TLS when `tls` names the files (read here: a bad
/// certificate or key is an error before anything is served).
pub async fn bind_with(
    app: Router,
    addr: SocketAddr,
    limits: &Limits,
    tls: Option<&TlsFiles>,
) -> std::io::Result<(SocketAddr, impl Future<Output = std::io::Result<()>>)> {
    let acceptor = tls.map(TlsFiles::acceptor).transpose()?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let limits = limits.clone();
    Ok((local, async move {
        serve(listener, app, limits, acceptor, std::future::pending()).await
    }))
}

/// Bind and serve until Ctrl-C, calling `ready` with the bound address first.
pub async fn run(
    app: Router,
    addr: SocketAddr,
    ready: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    run_with(app, addr, &Limits::default(), None, ready).await
}

/// [`run`] with the given limits, and TLS when `tls` names the files.
pub async fn run_with(
    app: Router,
    addr: SocketAddr,
    limits: &Limits,
    tls: Option<&TlsFiles>,
    ready: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    let acceptor = tls.map(TlsFiles::acceptor).transpose()?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    ready(listener.local_addr()?);
    serve(listener, app, limits.clone(), acceptor, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

/// The accept loop: at most `limits.max_connections` connections (more wait in the listen
/// backlog), each served by hyper (HTTP/1.1 or 2) with a header-read timeout, after a TLS
/// handshake (bounded by the same timeout) when there is an acceptor; on `stop`, no more
/// accepts, and open connections get a few seconds to finish.
async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: Limits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    stop: impl Future<Output = ()>,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(limits.header_timeout))
        .keep_alive_timeout(limits.header_timeout);
    let builder = Arc::new(builder);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut stop => break,
        };
        let (tcp, remote) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors and the like: wait a little rather than spin.
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let _ = tcp.set_nodelay(true);
        // The peer's address for handlers (`ConnectInfo`: Open311's rate limit per client).
        let svc = hyper_util::service::TowerToHyperService::new(
            tower_http::add_extension::AddExtension::new(
                app.clone(),
                axum::extract::ConnectInfo(remote),
            ),
        );
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let Some(acceptor) = tls.clone() else {
            let conn = builder
                .serve_connection_with_upgrades(TokioIo::new(tcp), svc)
                .into_owned();
            tokio::spawn(async move {
                let _ = watcher.watch(conn).await;
                drop(permit);
            });
            continue;
        };
        let handshake = limits.header_timeout;
        tokio::spawn(async move {
            match tokio::time::timeout(handshake, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => {
                    let conn = builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), svc)
                        .into_owned();
                    let _ = watcher.watch(conn).await;
                }
                Ok(Err(e)) => tracing::debug!("TLS handshake: {e}"),
                Err(_) => tracing::debug!("TLS handshake timed out"),
            }
            drop(permit);
        });
    }
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
    }
    Ok(())
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
        // The main router, and the viewer's (merged into it).
        let viewer_src = include_str!("viewer.rs");
        let vs = viewer_src.find("    Router::new()").unwrap();
        let ve = vs + viewer_src[vs..].find(".with_state(").unwrap();
        let router = format!("{}{}", &src[start..end], &viewer_src[vs..ve]);
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
            // Every write is in the auth table (or is a read with a body).
            for m in ["post", "delete", "put", "patch"] {
                let called = args
                    .match_indices(&format!("{m}("))
                    .any(|(i, _)| i == 0 || !args.as_bytes()[i - 1].is_ascii_alphanumeric());
                let route = call[1..].split('"').next().unwrap();
                let upper = m.to_uppercase();
                let listed = auth::WRITES
                    .iter()
                    .any(|(wm, wr, _)| *wm == upper && *wr == route)
                    || auth::READS_WITH_BODY
                        .iter()
                        .any(|(wm, wr)| *wm == upper && *wr == route);
                assert!(
                    !called || listed,
                    "{upper} {route} is in neither auth::WRITES nor auth::READS_WITH_BODY"
                );
            }
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
