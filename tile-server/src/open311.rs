//! Citizen reports over Open311 GeoReport v2, under `/open311/v2/` (JSON only), over the
//! twin's report store ([`twin_core::reports`]).
//!
//! | route | who | what |
//! | --- | --- | --- |
//! | `GET /open311/v2/services.json` | anyone | the services (`[reports]` in `twin.toml`, or Huế's defaults) |
//! | `POST /open311/v2/requests.json` | anyone, rate-limited per client | file a report: form-encoded or multipart (a photo in the `media` part) |
//! | `GET /open311/v2/requests.json` | anyone | reports by `service_request_id`, `service_code`, `status`, `start_date`/`end_date`, and `bbox` (extension) |
//! | `GET /open311/v2/requests/<id>.json` | anyone | one report |
//! | `GET /open311/v2/media/<name>` | anyone | a report's photo, without metadata |
//! | `PATCH /open311/v2/requests/<id>.json` | editor | moderate: workflow state, `status_notes`, `agency_responsible` |
//! | `GET /open311/v2/moderation/requests.json` | editor | reports with their workflow state, heritage flag and contact data |
//! | `GET /open311/v2/heritage/requests.json` | editor | the same, only reports inside a heritage zone |
//!
//! Public answers never carry the reporter's contact data (email, phone, names, device and
//! account ids). `service_request_id` is a string, as in Open311's JSON schemas. Errors of
//! these routes are GeoReport's `[{"code": 400, "description": "..."}]` (401/403 of the token
//! check keep the server's error shape). A report is acknowledged (201) only once it and its
//! photo are on disk.

use crate::api::{parse_bbox, to_project};
use crate::auth::Caller;
use crate::body::{respond, CacheTier, CachedFile};
use crate::error::ApiError;
use crate::ServerConfig;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use tower_http::limit::RequestBodyLimitLayer;
use twin_core::reports::{
    self, photo, Contact, HeritageFlag, Moderation, NewReport, PublicStatus, Report, ReportQuery,
    ReportStore, ReportsConfig, ServiceDef, Workflow,
};
use twin_core::{Twin, TwinError};
use utoipa::{OpenApi, ToSchema};

/// Where the routes live.
pub const PREFIX: &str = "/open311/v2";

/// How far (metres, in the twin's CRS) outside the twin's extent a report may lie.
const AREA_MARGIN_M: f64 = 5_000.0;

/// Most form fields or multipart parts in one new report.
const MAX_FIELDS: usize = 64;

/// Clients remembered by the rate limiter before the idle ones are forgotten.
const MAX_CLIENTS: usize = 100_000;

/// The state of the Open311 routes.
pub struct Open311 {
    store: Arc<ReportStore>,
    twin: Arc<Twin>,
    config: ReportsConfig,
    services: Vec<ServiceDef>,
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    scheme: &'static str,
    hub: Arc<crate::push::Hub>,
}

impl std::fmt::Debug for Open311 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Open311")
            .field("store", &self.store.path())
            .field("services", &self.services.len())
            .finish()
    }
}

/// The routes under [`PREFIX`] and the largest request body they accept, for the server's
/// router (merged in [`crate::app`]); no routes when the server does not know the twin's folder
/// (reports are stored in it).
pub fn routes<S: Clone + Send + Sync + 'static>(
    twin: Arc<Twin>,
    cfg: &ServerConfig,
    hub: Arc<crate::push::Hub>,
) -> Result<(Router<S>, usize), ApiError> {
    let Some(dir) = &cfg.twin_dir else {
        return Ok((Router::new(), 0));
    };
    let config = twin_core::TwinDir::open(dir)
        .map_err(|e| ApiError::internal(format!("Open311: {e}")))?
        .config
        .reports;
    let store =
        ReportStore::open_in(dir).map_err(|e| ApiError::internal(format!("Open311: {e}")))?;
    let one = NonZeroU32::MIN;
    let quota = Quota::per_minute(NonZeroU32::new(config.per_minute).unwrap_or(one))
        .allow_burst(NonZeroU32::new(config.burst).unwrap_or(one));
    // The photo, and room for the text fields and multipart framing.
    let body_limit = usize::try_from(config.max_photo_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(64 << 10);
    let state = Arc::new(Open311 {
        store: Arc::new(store),
        twin,
        services: config.services(),
        limiter: RateLimiter::keyed(quota),
        config,
        scheme: if cfg.tls.is_some() { "https" } else { "http" },
        hub,
    });
    let router = Router::new()
        .route("/open311/v2/services.json", get(services))
        .route(
            "/open311/v2/requests.json",
            get(list_requests).post(post_request),
        )
        .route(
            "/open311/v2/requests/{file}",
            get(get_request).patch(moderate),
        )
        .route("/open311/v2/media/{name}", get(media))
        .route("/open311/v2/moderation/requests.json", get(moderation_list))
        .route("/open311/v2/heritage/requests.json", get(heritage_list))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(axum::middleware::map_response(georeport_errors))
        .with_state(state);
    Ok((router, body_limit))
}

// ---------------------------------------------------------------------------------------------
// Errors.

/// An error in GeoReport v2's shape: `[{"code": <HTTP status>, "description": "..."}]`.
#[derive(Debug, Clone)]
pub struct GeoError {
    /// The HTTP status (also the `code`).
    pub status: StatusCode,
    /// What went wrong, naming the field.
    pub description: String,
    /// Seconds to wait before trying again (429).
    pub retry_after: Option<u64>,
}

/// One error of a GeoReport v2 error answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GeoErrorItem {
    /// The HTTP status code.
    pub code: u16,
    /// What went wrong.
    pub description: String,
}

impl GeoError {
    /// An error with a status.
    pub fn new(status: StatusCode, description: impl Into<String>) -> GeoError {
        GeoError {
            status,
            description: description.into(),
            retry_after: None,
        }
    }

    /// 400 naming a field.
    pub fn field(field: &str, why: impl std::fmt::Display) -> GeoError {
        GeoError::new(StatusCode::BAD_REQUEST, format!("{field}: {why}"))
    }
}

impl From<TwinError> for GeoError {
    fn from(e: TwinError) -> Self {
        match e {
            TwinError::Invalid { what, message } => GeoError::field(&what, message),
            other => {
                tracing::error!("Open311: {other}");
                GeoError::new(StatusCode::INTERNAL_SERVER_ERROR, other.to_string())
            }
        }
    }
}

impl From<ApiError> for GeoError {
    fn from(e: ApiError) -> Self {
        GeoError::new(e.status, e.message)
    }
}

impl From<tokio::task::JoinError> for GeoError {
    fn from(e: tokio::task::JoinError) -> Self {
        GeoError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("a background task failed: {e}"),
        )
    }
}

impl IntoResponse for GeoError {
    fn into_response(self) -> Response {
        let body = vec![GeoErrorItem {
            code: self.status.as_u16(),
            description: self.description,
        }];
        let mut r = (
            self.status,
            [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
            axum::Json(body),
        )
            .into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        r
    }
}

/// Middleware of these routes: an error answer that is not JSON yet (an extractor's
/// rejection, 405, 413 of the body limit) becomes a GeoReport error.
async fn georeport_errors(resp: Response) -> Response {
    let status = resp.status();
    let json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if status.as_u16() < 400 || json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_string();
    let mut out = GeoError::new(
        status,
        if text.is_empty() {
            status.canonical_reason().unwrap_or("error").to_string()
        } else {
            text
        },
    )
    .into_response();
    if let Some(allow) = parts.headers.get(header::ALLOW) {
        out.headers_mut().insert(header::ALLOW, allow.clone());
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Answers.

/// A service, as GeoReport v2's `services.json` lists it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Service {
    /// Its code.
    pub service_code: String,
    /// Its name.
    pub service_name: String,
    /// What to report under it.
    pub description: String,
    /// Whether it has extra attributes (never, here).
    pub metadata: bool,
    /// `realtime`: a report gets its id at once.
    #[serde(rename = "type")]
    pub kind: String,
    /// Search words, comma-separated.
    pub keywords: String,
    /// Its group.
    pub group: String,
}

/// The answer to a new report.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Created {
    /// The new report's id.
    pub service_request_id: String,
    /// What happens next.
    pub service_notice: String,
    /// The account id (none).
    pub account_id: Option<String>,
}

/// A report as anyone may see it (GeoReport v2's service request; no contact data).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ServiceRequest {
    /// Its id, a string.
    pub service_request_id: String,
    /// `open` or `closed`.
    pub status: String,
    /// Staff's note.
    pub status_notes: Option<String>,
    /// The service's name.
    pub service_name: String,
    /// The service's code.
    pub service_code: String,
    /// What the reporter wrote.
    pub description: Option<String>,
    /// Who handles it.
    pub agency_responsible: Option<String>,
    /// A notice (none).
    pub service_notice: Option<String>,
    /// When it was filed (W3C datetime, UTC).
    pub requested_datetime: String,
    /// When it last changed.
    pub updated_datetime: String,
    /// When it is expected to be handled (not estimated: null).
    pub expected_datetime: Option<String>,
    /// The address the reporter gave.
    pub address: Option<String>,
    /// An address id (none).
    pub address_id: Option<String>,
    /// A postcode (none).
    pub zipcode: Option<String>,
    /// WGS84 latitude.
    pub lat: f64,
    /// WGS84 longitude.
    pub long: f64,
    /// The photo's public URL (without metadata), or the URL the reporter gave.
    pub media_url: Option<String>,
}

/// A report as editors see it: the public fields, the workflow state, the heritage flag and
/// the reporter's contact data.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ModeratedRequest {
    /// The public fields.
    #[serde(flatten)]
    pub public: ServiceRequest,
    /// `new`, `acknowledged`, `in_progress` or `closed`.
    pub workflow: String,
    /// Whether it lies in a heritage zone (for heritage staff).
    pub heritage_flag: bool,
    /// The heritage sites holding it.
    #[schema(value_type = Vec<Object>)]
    pub heritage: Vec<HeritageFlag>,
    /// The reporter's contact data.
    #[schema(value_type = Object)]
    pub contact: Contact,
}

fn services_of(o: &Open311) -> Vec<Service> {
    o.services
        .iter()
        .map(|s| Service {
            service_code: s.code.clone(),
            service_name: s.name.clone(),
            description: s.description.clone(),
            metadata: false,
            kind: "realtime".into(),
            keywords: s.keywords.join(", "),
            group: s.group.clone(),
        })
        .collect()
}

fn public_view(o: &Open311, host: &str, r: &Report) -> ServiceRequest {
    let f = &r.filed;
    let media_url = f
        .photo
        .as_ref()
        .map(|p| format!("{}://{host}{PREFIX}/media/{p}", o.scheme))
        .or_else(|| f.media_url.clone());
    ServiceRequest {
        service_request_id: r.id.to_string(),
        status: r.workflow.public().as_str().into(),
        status_notes: r.status_notes.clone(),
        service_name: f.service_name.clone(),
        service_code: f.service_code.clone(),
        description: f.description.clone(),
        agency_responsible: f.agency_responsible.clone(),
        service_notice: None,
        requested_datetime: reports::format_time(r.requested),
        updated_datetime: reports::format_time(r.updated),
        expected_datetime: None,
        address: f.address.clone(),
        address_id: None,
        zipcode: None,
        lat: f.lat,
        long: f.lon,
        media_url,
    }
}

fn moderated_view(o: &Open311, host: &str, r: &Report) -> ModeratedRequest {
    ModeratedRequest {
        public: public_view(o, host, r),
        workflow: r.workflow.as_str().into(),
        heritage_flag: !r.filed.heritage.is_empty(),
        heritage: r.filed.heritage.clone(),
        contact: r.filed.contact.clone(),
    }
}

/// The `Host` the request was sent to (checked by [`crate::auth::check_host`]), for absolute
/// photo URLs.
fn host_of(headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        })
        .unwrap_or("localhost")
        .to_string()
}

fn no_store<T: Serialize>(status: StatusCode, body: T) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))],
        axum::Json(body),
    )
        .into_response()
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, GeoError> + Send + 'static,
) -> Result<T, GeoError> {
    tokio::task::spawn_blocking(f).await?
}

// ---------------------------------------------------------------------------------------------
// Routes.

/// `GET /open311/v2/services.json`
#[utoipa::path(get, path = "/open311/v2/services.json", tag = "open311",
    params(("jurisdiction_id" = Option<String>, Query, description = "this twin's jurisdiction (optional)")),
    responses((status = 200, description = "the services a report can be filed under", body = Vec<Service>)))]
pub async fn services(State(o): State<Arc<Open311>>, req: Request) -> Result<Response, GeoError> {
    let q = query_pairs(req.uri().query())?;
    check_jurisdiction(&o, &q)?;
    Ok(no_store(StatusCode::OK, services_of(&o)))
}

fn query_pairs(q: Option<&str>) -> Result<Vec<(String, String)>, GeoError> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(q.unwrap_or(""))
        .map_err(|e| GeoError::field("query", e))
}

fn check_jurisdiction(o: &Open311, fields: &[(String, String)]) -> Result<(), GeoError> {
    match fields.iter().find(|(k, _)| k == "jurisdiction_id") {
        Some((_, j)) if j.trim() != o.config.jurisdiction_id => Err(GeoError::new(
            StatusCode::NOT_FOUND,
            format!(
                "jurisdiction_id: {j:?} is not served here (this is {:?})",
                o.config.jurisdiction_id
            ),
        )),
        _ => Ok(()),
    }
}

/// The client's address: the connection's peer, or the last `X-Forwarded-For` entry when the
/// twin trusts its proxy.
fn client_ip(req: &Request, trust_forwarded: bool) -> IpAddr {
    if trust_forwarded {
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse::<IpAddr>().ok())
            .next_back();
        if let Some(ip) = forwarded {
            return ip;
        }
    }
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip())
}

/// A photo part of a multipart report.
struct Upload {
    file_name: Option<String>,
    bytes: Vec<u8>,
}

/// `POST /open311/v2/requests.json`
#[utoipa::path(post, path = "/open311/v2/requests.json", tag = "open311",
    request_body(content_type = "application/x-www-form-urlencoded", description = "GeoReport v2 fields: service_code, lat, long, description, address_string, email, phone, first_name, last_name, device_id, account_id, media_url, jurisdiction_id; as multipart/form-data also a JPEG or PNG photo in the `media` part"),
    responses(
        (status = 201, description = "stored durably; its id", body = Vec<Created>),
        (status = 400, description = "a field is missing or wrong (named in the description)", body = Vec<GeoErrorItem>),
        (status = 404, description = "another jurisdiction", body = Vec<GeoErrorItem>),
        (status = 413, description = "the photo or body is too large", body = Vec<GeoErrorItem>),
        (status = 415, description = "neither form-encoded nor multipart", body = Vec<GeoErrorItem>),
        (status = 429, description = "too many reports from this client; Retry-After says when to try again", body = Vec<GeoErrorItem>)))]
pub async fn post_request(
    State(o): State<Arc<Open311>>,
    req: Request,
) -> Result<Response, GeoError> {
    let ip = client_ip(&req, o.config.trust_forwarded_for);
    if o.limiter.len() > MAX_CLIENTS {
        o.limiter.retain_recent();
    }
    if let Err(not_until) = o.limiter.check_key(&ip) {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let mut e = GeoError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "too many reports from {ip}: at most {} a minute (burst {}); try again in {secs} s",
                o.config.per_minute, o.config.burst
            ),
        );
        e.retry_after = Some(secs.max(1));
        return Err(e);
    }
    let host = host_of(req.headers());
    let ctype = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let (fields, upload) = if ctype.starts_with("multipart/form-data") {
        read_multipart(&o, req).await?
    } else if ctype.starts_with("application/x-www-form-urlencoded") {
        let bytes = Bytes::from_request(req, &())
            .await
            .map_err(|e| GeoError::new(e.status(), format!("body: {}", e.body_text())))?;
        let fields = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
            .map_err(|e| GeoError::field("body", format!("not form-encoded: {e}")))?;
        (fields, None)
    } else {
        return Err(GeoError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Type: {ctype:?}; send application/x-www-form-urlencoded, or multipart/form-data with a photo"),
        ));
    };
    if fields.len() > MAX_FIELDS {
        return Err(GeoError::field(
            "body",
            format!("{} fields, at most {MAX_FIELDS}", fields.len()),
        ));
    }
    check_jurisdiction(&o, &fields)?;
    let o2 = o.clone();
    let (id, heritage, stored) = blocking(move || {
        let mut report = new_report(&o2, &fields)?;
        // Every field checked before a photo is written (no photo without its report).
        report.check()?;
        if let Some(u) = upload {
            check_file_name(u.file_name.as_deref())?;
            let clean = photo::clean("media", u.bytes, o2.config.max_photo_bytes)?;
            tracing::info!(
                "Open311 photo {}x{} {}, {} metadata segments dropped",
                clean.size.0,
                clean.size.1,
                clean.format.media_type(),
                clean.dropped
            );
            // On disk before the report that names it.
            report.photo = Some(o2.store.save_photo(&clean)?);
            report.media_url = None;
        }
        let id = o2.store.insert(&report, reports::now())?;
        // Read back as stored: the live push stream gets the public view.
        let stored = o2.store.get(id)?;
        Ok((id, report.heritage, stored))
    })
    .await?;
    if let Some(r) = stored {
        if let Ok(request) = serde_json::to_value(public_view(&o, &host, &r)) {
            o.hub.send(crate::push::Push::Report { request });
        }
    }
    let mut notice =
        "Thank you: your report is stored and will be reviewed by city staff.".to_string();
    if let Some(h) = heritage.first() {
        notice.push_str(&format!(
            " It lies in a heritage zone ({}{}) and has been passed to heritage staff.",
            h.name.as_deref().unwrap_or(&h.site_id),
            h.zone
                .as_deref()
                .map(|z| format!(", zone {z}"))
                .unwrap_or_default()
        ));
    }
    tracing::info!("Open311 report {id} from {ip} (host {host})");
    let mut resp = (
        StatusCode::CREATED,
        axum::Json(vec![Created {
            service_request_id: id.to_string(),
            service_notice: notice,
            account_id: None,
        }]),
    )
        .into_response();
    if let Ok(loc) = HeaderValue::from_str(&format!("{PREFIX}/requests/{id}.json")) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}

async fn read_multipart(
    o: &Open311,
    req: Request,
) -> Result<(Vec<(String, String)>, Option<Upload>), GeoError> {
    let mut mp = axum::extract::Multipart::from_request(req, &())
        .await
        .map_err(|e| GeoError::new(e.status(), format!("body: {}", e.body_text())))?;
    let mp_err = |e: axum::extract::multipart::MultipartError| {
        GeoError::new(e.status(), format!("body: {}", e.body_text()))
    };
    let mut fields = Vec::new();
    let mut upload: Option<Upload> = None;
    let mut parts = 0;
    while let Some(mut field) = mp.next_field().await.map_err(mp_err)? {
        parts += 1;
        if parts > MAX_FIELDS {
            return Err(GeoError::field(
                "body",
                format!("more than {MAX_FIELDS} parts"),
            ));
        }
        let name = field.name().unwrap_or("").to_string();
        if name == "media" {
            if upload.is_some() {
                return Err(GeoError::field("media", "one photo per report"));
            }
            let file_name = field.file_name().map(str::to_string);
            let mut bytes = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(mp_err)? {
                if (bytes.len() + chunk.len()) as u64 > o.config.max_photo_bytes {
                    return Err(GeoError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!(
                            "media: the photo is larger than {} bytes",
                            o.config.max_photo_bytes
                        ),
                    ));
                }
                bytes.extend_from_slice(&chunk);
            }
            upload = Some(Upload { file_name, bytes });
        } else {
            let text = field.text().await.map_err(mp_err)?;
            fields.push((name, text));
        }
    }
    Ok((fields, upload))
}

/// A sender's file name is never used, but one that tries to name a path is refused.
fn check_file_name(name: Option<&str>) -> Result<(), GeoError> {
    let Some(name) = name else { return Ok(()) };
    let hostile = name.contains(['/', '\\'])
        || name.chars().any(char::is_control)
        || name == "."
        || name == ".."
        || name.len() > 255;
    if hostile {
        return Err(GeoError::field(
            "media",
            format!("the file name {name:?} is not a plain file name"),
        ));
    }
    Ok(())
}

/// The fields of a new report, checked.
fn new_report(o: &Open311, fields: &[(String, String)]) -> Result<NewReport, GeoError> {
    let mut seen = std::collections::HashSet::new();
    for (k, _) in fields {
        if !k.starts_with("attribute[") && !seen.insert(k.as_str()) {
            return Err(GeoError::field(k, "given more than once"));
        }
    }
    let get = |k: &str| {
        fields
            .iter()
            .find(|(f, _)| f == k)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let code = get("service_code").ok_or_else(|| GeoError::field("service_code", "missing"))?;
    let service = o.services.iter().find(|s| s.code == code).ok_or_else(|| {
        GeoError::field(
            "service_code",
            format!(
                "{code:?} is not a service here (services.json lists: {})",
                o.services
                    .iter()
                    .map(|s| s.code.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })?;
    let coord = |k: &str, lo: f64, hi: f64| -> Result<f64, GeoError> {
        let v = get(k).ok_or_else(|| {
            GeoError::field(
                k,
                "missing (lat and long are required: an address alone is not geocoded)",
            )
        })?;
        let x: f64 = v
            .parse()
            .map_err(|_| GeoError::field(k, format!("{v:?} is not a number")))?;
        if !x.is_finite() || !(lo..=hi).contains(&x) {
            return Err(GeoError::field(
                k,
                format!("{v:?} is not a finite number within {lo}..{hi}"),
            ));
        }
        Ok(x)
    };
    let lat = coord("lat", -90.0, 90.0)?;
    let lon = coord("long", -180.0, 180.0)?;
    let p = to_project(&o.twin, &[(lon, lat)], "lat/long")?[0];
    if let Some([x0, y0, x1, y1]) = o.twin.extent() {
        let m = AREA_MARGIN_M;
        if p.x < x0 - m || p.x > x1 + m || p.y < y0 - m || p.y > y1 + m {
            return Err(GeoError::field(
                "lat/long",
                format!("({lat}, {lon}) is outside the area this twin covers"),
            ));
        }
    }
    let heritage = reports::heritage_at(&o.twin, geo_types::Point(p))?;
    let media_url = match get("media_url") {
        Some(u) if u.len() <= 2000 && (u.starts_with("https://") || u.starts_with("http://")) => {
            Some(u)
        }
        Some(u) => {
            return Err(GeoError::field(
                "media_url",
                format!("{u:?} is not an http(s) URL of at most 2000 characters"),
            ))
        }
        None => None,
    };
    let email = get("email");
    if let Some(e) = &email {
        if !e.contains('@') || e.contains(char::is_whitespace) {
            return Err(GeoError::field("email", format!("{e:?} is not an address")));
        }
    }
    Ok(NewReport {
        service_code: service.code.clone(),
        service_name: service.name.clone(),
        description: get("description"),
        lat,
        lon,
        address: get("address_string"),
        photo: None,
        media_url,
        contact: Contact {
            email,
            phone: get("phone"),
            first_name: get("first_name"),
            last_name: get("last_name"),
            device_id: get("device_id"),
            account_id: get("account_id"),
        },
        heritage,
        agency_responsible: (!service.agency.is_empty()).then(|| service.agency.clone()),
    })
}

/// A report query from GeoReport's parameters (and the editors' `workflow`).
fn report_query(
    o: &Open311,
    q: &[(String, String)],
    editor: bool,
) -> Result<ReportQuery, GeoError> {
    let get = |k: &str| {
        q.iter()
            .find(|(f, _)| f == k)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    let list = |v: &str| {
        v.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let limit = o.config.max_results as usize;
    // service_request_id overrides every other parameter (GeoReport v2).
    if let Some(ids) = get("service_request_id") {
        let ids = list(ids)
            .into_iter()
            .map(|i| {
                i.parse::<i64>().map_err(|_| {
                    GeoError::field("service_request_id", format!("{i:?} is not a report id"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if ids.len() > limit {
            return Err(GeoError::field(
                "service_request_id",
                format!("{} ids, at most {limit}", ids.len()),
            ));
        }
        return Ok(ReportQuery {
            ids: Some(ids),
            limit,
            ..ReportQuery::default()
        });
    }
    let status = get("status")
        .map(|s| {
            list(s)
                .iter()
                .map(|x| {
                    PublicStatus::parse(x).ok_or_else(|| {
                        GeoError::field("status", format!("{x:?}: use open or closed"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let workflow = match get("workflow") {
        Some(w) if editor => Some(
            list(w)
                .iter()
                .map(|x| {
                    Workflow::parse(x).ok_or_else(|| {
                        GeoError::field(
                            "workflow",
                            format!("{x:?}: use new, acknowledged, in_progress or closed"),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        _ => None,
    };
    let start = get("start_date")
        .map(|s| reports::parse_time("start_date", s))
        .transpose()?;
    let end = get("end_date")
        .map(|s| reports::parse_time("end_date", s))
        .transpose()?;
    let start = match (start, end) {
        (None, None) => Some(reports::now() - i64::from(o.config.default_days) * 86_400),
        (s, _) => s,
    };
    if let (Some(s), Some(e)) = (start, end) {
        if s > e {
            return Err(GeoError::field(
                "start_date",
                "is after end_date".to_string(),
            ));
        }
    }
    let bbox = get("bbox")
        .map(|b| parse_bbox(b).map_err(|e| GeoError::new(e.status, e.message)))
        .transpose()?;
    let codes = get("service_code").map(list);
    if let Some(codes) = &codes {
        if let Some(c) = codes
            .iter()
            .find(|c| !o.services.iter().any(|s| s.code == **c))
        {
            return Err(GeoError::field(
                "service_code",
                format!("{c:?} is not a service here"),
            ));
        }
    }
    Ok(ReportQuery {
        ids: None,
        service_codes: codes,
        status,
        workflow,
        start,
        end,
        bbox,
        heritage_only: false,
        limit,
    })
}

/// `GET /open311/v2/requests.json`
#[utoipa::path(get, path = "/open311/v2/requests.json", tag = "open311",
    params(
        ("service_request_id" = Option<String>, Query, description = "comma-separated ids; overrides every other parameter"),
        ("service_code" = Option<String>, Query, description = "comma-separated service codes"),
        ("status" = Option<String>, Query, description = "open, closed, or both comma-separated"),
        ("start_date" = Option<String>, Query, description = "filed at or after (W3C datetime); with no dates, the last 90 days"),
        ("end_date" = Option<String>, Query, description = "filed at or before (W3C datetime)"),
        ("bbox" = Option<String>, Query, description = "extension: min_lon,min_lat,max_lon,max_lat (WGS84, edges included)")),
    responses(
        (status = 200, description = "the reports, oldest first (at most 1000)", body = Vec<ServiceRequest>),
        (status = 400, description = "a bad parameter (named)", body = Vec<GeoErrorItem>)))]
pub async fn list_requests(
    State(o): State<Arc<Open311>>,
    req: Request,
) -> Result<Response, GeoError> {
    let q = query_pairs(req.uri().query())?;
    check_jurisdiction(&o, &q)?;
    let query = report_query(&o, &q, false)?;
    let host = host_of(req.headers());
    let o2 = o.clone();
    let out = blocking(move || {
        let found = o2.store.query(&query)?;
        Ok(found
            .iter()
            .map(|r| public_view(&o2, &host, r))
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(no_store(StatusCode::OK, out))
}

fn id_of_file(file: &str) -> Result<i64, GeoError> {
    let Some(id) = file.strip_suffix(".json") else {
        return Err(GeoError::new(
            StatusCode::NOT_FOUND,
            format!("{file:?}: only JSON is served (<id>.json)"),
        ));
    };
    id.parse::<i64>().map_err(|_| {
        GeoError::new(
            StatusCode::NOT_FOUND,
            format!("service_request_id: no report {id:?}"),
        )
    })
}

/// `GET /open311/v2/requests/{id}.json`
#[utoipa::path(get, path = "/open311/v2/requests/{file}", tag = "open311",
    params(("file" = String, Path, description = "<service_request_id>.json")),
    responses(
        (status = 200, description = "the report, as a one-element array", body = Vec<ServiceRequest>),
        (status = 404, description = "no such report", body = Vec<GeoErrorItem>)))]
pub async fn get_request(
    State(o): State<Arc<Open311>>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Response, GeoError> {
    let id = id_of_file(&file)?;
    let host = host_of(&headers);
    let o2 = o.clone();
    let r = blocking(move || Ok(o2.store.get(id)?)).await?;
    let r = r.ok_or_else(|| {
        GeoError::new(
            StatusCode::NOT_FOUND,
            format!("service_request_id: no report {id}"),
        )
    })?;
    Ok(no_store(StatusCode::OK, vec![public_view(&o, &host, &r)]))
}

/// An editor's change of a report.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModerationBody {
    /// The new workflow state: `new`, `acknowledged`, `in_progress` or `closed`.
    pub status: Option<String>,
    /// A note the public sees (empty clears it).
    pub status_notes: Option<String>,
    /// The agency now responsible.
    pub agency_responsible: Option<String>,
}

/// `PATCH /open311/v2/requests/{id}.json`
#[utoipa::path(patch, path = "/open311/v2/requests/{file}", tag = "open311",
    params(("file" = String, Path, description = "<service_request_id>.json")),
    request_body(content = ModerationBody, content_type = "application/json"),
    responses(
        (status = 200, description = "the report after the change, as editors see it", body = ModeratedRequest),
        (status = 400, description = "a bad field (named)", body = Vec<GeoErrorItem>),
        (status = 404, description = "no such report", body = Vec<GeoErrorItem>)))]
pub async fn moderate(
    State(o): State<Arc<Open311>>,
    Path(file): Path<String>,
    caller: Option<Extension<Caller>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, GeoError> {
    let id = id_of_file(&file)?;
    let b: ModerationBody = serde_json::from_slice(&body)
        .map_err(|e| GeoError::field("body", format!("not a moderation object: {e}")))?;
    let workflow = b
        .status
        .as_deref()
        .map(|s| {
            Workflow::parse(s.trim()).ok_or_else(|| {
                GeoError::field(
                    "status",
                    format!("{s:?}: use new, acknowledged, in_progress or closed"),
                )
            })
        })
        .transpose()?;
    let by = caller
        .map(|Extension(Caller(c))| format!("token {} ({})", c.id, c.name))
        .unwrap_or_else(|| "unknown".into());
    let m = Moderation {
        workflow,
        status_notes: b.status_notes,
        agency_responsible: b.agency_responsible,
        by,
    };
    let host = host_of(&headers);
    let o2 = o.clone();
    let r = blocking(move || Ok(o2.store.moderate(id, &m, reports::now())?)).await?;
    let r = r.ok_or_else(|| {
        GeoError::new(
            StatusCode::NOT_FOUND,
            format!("service_request_id: no report {id}"),
        )
    })?;
    tracing::info!("Open311 report {id} moderated: {}", r.workflow.as_str());
    Ok(no_store(StatusCode::OK, moderated_view(&o, &host, &r)))
}

async fn editor_list(o: Arc<Open311>, req: Request, heritage: bool) -> Result<Response, GeoError> {
    let q = query_pairs(req.uri().query())?;
    let mut query = report_query(&o, &q, true)?;
    query.heritage_only = heritage || query.heritage_only;
    let host = host_of(req.headers());
    let o2 = o.clone();
    let out = blocking(move || {
        let found = o2.store.query(&query)?;
        Ok(found
            .iter()
            .map(|r| moderated_view(&o2, &host, r))
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(no_store(StatusCode::OK, out))
}

/// `GET /open311/v2/moderation/requests.json`
#[utoipa::path(get, path = "/open311/v2/moderation/requests.json", tag = "open311",
    params(
        ("service_request_id" = Option<String>, Query, description = "comma-separated ids; overrides every other parameter"),
        ("workflow" = Option<String>, Query, description = "new, acknowledged, in_progress, closed (comma-separated)"),
        ("status" = Option<String>, Query, description = "open or closed"),
        ("start_date" = Option<String>, Query, description = "W3C datetime"),
        ("end_date" = Option<String>, Query, description = "W3C datetime"),
        ("bbox" = Option<String>, Query, description = "min_lon,min_lat,max_lon,max_lat")),
    responses((status = 200, description = "reports with workflow state, heritage flag and contact data", body = Vec<ModeratedRequest>)))]
pub async fn moderation_list(
    State(o): State<Arc<Open311>>,
    req: Request,
) -> Result<Response, GeoError> {
    editor_list(o, req, false).await
}

/// `GET /open311/v2/heritage/requests.json`
#[utoipa::path(get, path = "/open311/v2/heritage/requests.json", tag = "open311",
    params(
        ("workflow" = Option<String>, Query, description = "new, acknowledged, in_progress, closed (comma-separated)"),
        ("start_date" = Option<String>, Query, description = "W3C datetime"),
        ("end_date" = Option<String>, Query, description = "W3C datetime")),
    responses((status = 200, description = "reports inside a heritage zone, for heritage staff", body = Vec<ModeratedRequest>)))]
pub async fn heritage_list(
    State(o): State<Arc<Open311>>,
    req: Request,
) -> Result<Response, GeoError> {
    editor_list(o, req, true).await
}

/// `GET /open311/v2/media/{name}`
#[utoipa::path(get, path = "/open311/v2/media/{name}", tag = "open311",
    params(("name" = String, Path, description = "the photo's name, from a report's media_url")),
    responses(
        (status = 200, description = "the photo (JPEG or PNG) without EXIF/XMP metadata"),
        (status = 304, description = "not modified"),
        (status = 404, description = "no such photo", body = Vec<GeoErrorItem>)))]
pub async fn media(
    State(o): State<Arc<Open311>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, GeoError> {
    let Some(path) = o.store.photo_path(&name) else {
        return Err(GeoError::new(
            StatusCode::NOT_FOUND,
            format!("media: no photo {name:?}"),
        ));
    };
    let bytes = tokio::fs::read(&path).await.map_err(|e| {
        GeoError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("media {name}: {e}"),
        )
    })?;
    let kind =
        photo::PhotoFormat::sniff(&bytes).map_or("application/octet-stream", |f| f.media_type());
    Ok(respond(
        &CachedFile::new(bytes, kind),
        &headers,
        CacheTier::Disk,
    ))
}

/// The OpenAPI document of these routes (merged into the server's).
#[derive(OpenApi)]
#[openapi(
    paths(services, post_request, list_requests, get_request, moderate, moderation_list, heritage_list, media),
    components(schemas(Service, Created, ServiceRequest, ModeratedRequest, ModerationBody, GeoErrorItem)),
    tags((name = "open311", description = "Citizen reports: Open311 GeoReport v2 (JSON), moderated by editors")),
)]
pub struct Open311Doc;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every route of this module's router is in the OpenAPI document with its methods, and
    /// every write is in an `auth` table.
    #[test]
    fn routes_documented_and_authorised() {
        let doc: serde_json::Value =
            serde_json::from_str(&crate::openapi().to_json().unwrap()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        let src = include_str!("open311.rs");
        let start = src.find("let router = Router::new()").unwrap();
        let end = start + src[start..].find(".layer(").unwrap();
        let mut n = 0;
        for call in src[start..end].split(".route(").skip(1) {
            let route = call.trim_start()[1..].split('"').next().unwrap();
            let item = paths
                .get(route)
                .unwrap_or_else(|| panic!("{route} undocumented"));
            for m in ["get", "post", "patch", "delete", "put"] {
                if call.contains(&format!("{m}(")) {
                    assert!(item.get(m).is_some(), "{m} {route} undocumented");
                    let upper = m.to_uppercase();
                    if m != "get" {
                        let listed = crate::auth::WRITES
                            .iter()
                            .any(|(wm, wr, _)| *wm == upper && *wr == route)
                            || crate::auth::OPEN_WRITES
                                .iter()
                                .any(|(wm, wr)| *wm == upper && *wr == route);
                        assert!(listed, "{upper} {route} is in no auth table");
                    }
                }
            }
            n += 1;
        }
        assert_eq!(n, 6);
        // The editors' routes need the editor role.
        for r in [
            "/open311/v2/moderation/requests.json",
            "/open311/v2/heritage/requests.json",
        ] {
            assert_eq!(
                crate::auth::required_role(&axum::http::Method::GET, Some(r), false),
                Some(crate::auth::Role::Editor)
            );
        }
        assert_eq!(
            crate::auth::required_role(
                &axum::http::Method::POST,
                Some("/open311/v2/requests.json"),
                false
            ),
            None
        );
    }

    #[test]
    fn file_names() {
        assert!(check_file_name(Some("IMG 2025-10-27.jpg")).is_ok());
        for bad in ["../../etc/passwd", "a\\b.jpg", "x\0.jpg", "..", "a\nb"] {
            let e = check_file_name(Some(bad)).unwrap_err();
            assert!(e.description.starts_with("media:"), "{bad}");
        }
    }
}
