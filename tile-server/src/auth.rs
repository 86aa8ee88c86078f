//! Who may do what: bearer tokens with roles ([`twin_core::tokens`]), the `Host` check against
//! DNS rebinding, and CORS on write routes for configured origins only.
//!
//! Three middleware functions, applied around every route in [`crate::app`]:
//!
//! - [`check_host`]: a request whose `Host` is not a configured name, `localhost` or an IP
//!   address is answered 421 (a page on a rebinding domain cannot reach the server);
//! - [`cors_writes`]: the CORS headers of a write (or of its preflight) are kept only for the
//!   configured origins; reads keep `access-control-allow-origin: *`;
//! - [`guard`]: the role a request needs, by method and route ([`required_role`]): the
//!   [`WRITES`] table for writes, [`Role::Viewer`] for reads when the server is private.
//!   Missing or invalid token: 401 with `WWW-Authenticate: Bearer`; role too low: 403.
//!
//! Tokens are read from the twin's store at each request (a revoked token is refused at once);
//! the Argon2id check of a token runs once per token and store file, on a blocking thread, a
//! few at a time.

use crate::error::ApiError;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
pub use twin_core::tokens::Role;
use twin_core::tokens::{TokenInfo, Tokens};

/// The write routes (method, route as in the router) and the role each needs. A unit test in
/// the crate root checks every POST, DELETE, PUT and PATCH of the router is here or in
/// [`READS_WITH_BODY`].
pub const WRITES: &[(&str, &str, Role)] = &[
    ("POST", "/api/runs", Role::Planner),
    ("DELETE", "/api/runs/{id}", Role::Planner),
    ("POST", "/api/runs/{id}/rerun", Role::Planner),
    ("PATCH", "/open311/v2/requests/{file}", Role::Editor),
    // SensorThings (crate::sta): creating, changing and deleting entities and observations
    ("POST", "/v1.1/{*path}", Role::Editor),
    ("PATCH", "/v1.1/{*path}", Role::Editor),
    ("PUT", "/v1.1/{*path}", Role::Editor),
    ("DELETE", "/v1.1/{*path}", Role::Editor),
];

/// Reads that need more than a viewer token (the editors' view of citizen reports carries the
/// reporters' contact data). Like [`WRITES`], their CORS headers go to configured origins only.
pub const PROTECTED_READS: &[(&str, &str, Role)] = &[
    ("GET", "/open311/v2/moderation/requests.json", Role::Editor),
    ("GET", "/open311/v2/heritage/requests.json", Role::Editor),
];

/// Writes anyone may make (a viewer token on a private server): citizen reports, anonymous by
/// design, rate-limited per client and moderated by editors (`open311`).
pub const OPEN_WRITES: &[(&str, &str)] = &[("POST", "/open311/v2/requests.json")];

/// Routes with a non-GET method that only read (a query with a body): treated as reads.
pub const READS_WITH_BODY: &[(&str, &str)] = &[
    ("POST", "/api/layers/{layer}/intersects"),
    ("POST", "/api/heritage/check"),
    ("POST", "/api/heritage/viewshed"),
    ("POST", "/api/heritage/sightlines"),
];

/// Routes public even on a private server: the viewer's page and files (so people can sign
/// in) and the health check; CesiumJS (`/cesium/...`), the viewer's modules (`/js/...`) and its
/// npm libraries (`/lib/...`) too.
pub const PUBLIC: &[&str] = &["/", "/viewer.js", "/viewer.css", "/healthz"];

/// The role a request needs: `None` when it needs no token.
pub fn required_role(method: &Method, route: Option<&str>, private: bool) -> Option<Role> {
    let route = route.unwrap_or("");
    if let Some((_, _, role)) = WRITES
        .iter()
        .chain(PROTECTED_READS)
        .find(|(m, r, _)| *m == method.as_str() && *r == route)
    {
        return Some(*role);
    }
    let public = PUBLIC.contains(&route)
        || route.starts_with("/cesium")
        || route == "/js/{*path}"
        || route == "/lib/{*path}";
    (private && !public && !route.is_empty()).then_some(Role::Viewer)
}

fn is_write(method: &Method, route: Option<&str>) -> bool {
    required_role(method, route, false).is_some()
}

/// The caller of a request that presented a valid token (a request extension, for handlers
/// and logs).
#[derive(Debug, Clone)]
pub struct Caller(pub TokenInfo);

/// What the middleware needs, built once from the [`crate::ServerConfig`].
#[derive(Debug)]
pub struct Security {
    /// The store file holding the tokens (`<twin>/twin.gpkg`); none: no token is valid.
    store: Option<PathBuf>,
    /// The PostgreSQL database holding the tokens instead (shared by every replica).
    db: Option<twin_core::store::pg::PgConfig>,
    /// Reads need a viewer token too.
    private: bool,
    /// Host names accepted beyond `localhost` and IP addresses, lower case, without port.
    hosts: Vec<String>,
    /// Origins given CORS headers on writes.
    origins: Vec<HeaderValue>,
    /// The open store, and the modification time and length of the file it was opened at
    /// (a store replaced by `twin build` is opened again).
    conn: Mutex<Option<(Tokens, Option<SystemTime>, u64)>>,
    /// Tokens whose Argon2id check passed: BLAKE3 of the token → the hash it matched.
    verified: Mutex<HashMap<[u8; 32], String>>,
    /// Argon2id checks at once (each takes 19 MiB).
    hashing: tokio::sync::Semaphore,
}

impl Security {
    /// The policy of a server: the tokens' store file, private or not, extra host names
    /// (`name` or `name:port`), origins allowed to write.
    pub fn new(
        store: Option<PathBuf>,
        private: bool,
        hosts: &[String],
        origins: &[String],
    ) -> Result<Security, ApiError> {
        let origins = origins
            .iter()
            .map(|o| {
                HeaderValue::from_str(o.trim_end_matches('/'))
                    .map_err(|_| ApiError::internal(format!("bad CORS origin {o:?}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Security {
            store,
            db: None,
            private,
            hosts: hosts
                .iter()
                .map(|h| host_name(h))
                .filter(|h| !h.is_empty())
                .collect(),
            origins,
            conn: Mutex::new(None),
            verified: Mutex::new(HashMap::new()),
            hashing: tokio::sync::Semaphore::new(4),
        })
    }

    /// Read the tokens from a PostgreSQL database (the twin's store) rather than a file.
    pub fn with_token_db(mut self, db: Option<twin_core::store::pg::PgConfig>) -> Security {
        if db.is_some() {
            self.db = db;
        }
        self
    }

    /// A token's row from the database; the connection is made again after an error.
    fn db_record(
        &self,
        db: &twin_core::store::pg::PgConfig,
        id: &str,
    ) -> Result<Option<twin_core::tokens::TokenRecord>, ApiError> {
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| ApiError::internal("token store lock poisoned"))?;
        let tokens = match conn.take() {
            Some(t) => conn.insert(t),
            None => conn.insert((
                Tokens::open_store(&twin_core::store::StoreLocation::Postgres(db.clone()))?,
                None,
                0,
            )),
        };
        match tokens.0.record(id) {
            Ok(r) => Ok(r),
            Err(e) => {
                *conn = None;
                Err(e.into())
            }
        }
    }

    /// Whether a `Host` value (with or without port) names this server.
    pub fn host_allowed(&self, host: &str) -> bool {
        let name = host_name(host);
        name == "localhost"
            || name
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok()
            || self.hosts.contains(&name)
    }

    /// The token's info when it is valid now (blocking: SQLite, maybe Argon2id).
    fn check(&self, token: &str) -> Result<Option<TokenInfo>, ApiError> {
        let Some((id, _)) = twin_core::tokens::parse(token) else {
            return Ok(None);
        };
        let record = if let Some(db) = &self.db {
            self.db_record(db, id)?
        } else {
            let Some(store) = &self.store else {
                return Ok(None);
            };
            let mut conn = self
                .conn
                .lock()
                .map_err(|_| ApiError::internal("token store lock poisoned"))?;
            let Some(now) = stamp(store) else {
                // No store (yet): no token can be valid.
                *conn = None;
                return Ok(None);
            };
            // Opened again when the file changed (a store rebuilt by `twin build` is a new
            // file; an open connection would keep reading the old one).
            let tokens = match conn.take() {
                Some((t, m, l)) if (m, l) == now => conn.insert((t, m, l)),
                _ => {
                    let t = Tokens::open(store)?;
                    let (m, l) = stamp(store).unwrap_or(now);
                    conn.insert((t, m, l))
                }
            };
            tokens.0.record(id)?
        };
        let Some(record) = record else {
            return Ok(None);
        };
        if record.info.revoked.is_some() {
            return Ok(None);
        }
        let digest = *blake3::hash(token.as_bytes()).as_bytes();
        let known = self
            .verified
            .lock()
            .map_err(|_| ApiError::internal("token cache lock poisoned"))?
            .get(&digest)
            .is_some_and(|h| *h == record.hash);
        if known {
            return Ok(Some(record.info));
        }
        if !record.accepts(token) {
            return Ok(None);
        }
        let mut verified = self
            .verified
            .lock()
            .map_err(|_| ApiError::internal("token cache lock poisoned"))?;
        if verified.len() >= 4096 {
            verified.clear();
        }
        verified.insert(digest, record.hash.clone());
        Ok(Some(record.info))
    }
}

/// A file's modification time and length, none when it is missing.
fn stamp(path: &std::path::Path) -> Option<(Option<SystemTime>, u64)> {
    std::fs::metadata(path)
        .ok()
        .map(|m| (m.modified().ok(), m.len()))
}

/// The name part of a `Host` value, lower case: `Example.org:8080` → `example.org`,
/// `[::1]:80` → `[::1]`.
fn host_name(host: &str) -> String {
    let host = host.trim().to_ascii_lowercase();
    if host.starts_with('[') {
        return host.split_inclusive(']').next().unwrap_or("").to_string();
    }
    host.rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host.clone(), |(name, _)| name.to_string())
}

fn unauthorized(message: &str, invalid: bool) -> Response {
    let mut r = ApiError::new(StatusCode::UNAUTHORIZED, message).into_response();
    let challenge = if invalid {
        "Bearer realm=\"huetwin\", error=\"invalid_token\""
    } else {
        "Bearer realm=\"huetwin\""
    };
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    r
}

fn route(req: &Request) -> Option<String> {
    req.extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
}

/// Middleware: the request's token must have the role its method and route need
/// ([`required_role`]); the caller is put in the request's extensions ([`Caller`]).
pub async fn guard(State(sec): State<Arc<Security>>, mut req: Request, next: Next) -> Response {
    let Some(need) = required_role(req.method(), route(&req).as_deref(), sec.private) else {
        return next.run(req).await;
    };
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split_once(' ')
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, t)| t.trim().to_string())
        });
    let Some(token) = token else {
        return unauthorized(
            &format!(
                "{} {} needs a {need} token: send Authorization: Bearer <token> (made by `twin token create`)",
                req.method(),
                req.uri().path()
            ),
            false,
        );
    };
    let who = {
        let Ok(_permit) = sec.hashing.acquire().await else {
            return ApiError::internal("token checks stopped").into_response();
        };
        let sec = sec.clone();
        match tokio::task::spawn_blocking(move || sec.check(&token)).await {
            Ok(Ok(who)) => who,
            Ok(Err(e)) => return e.into_response(),
            Err(e) => return ApiError::from(e).into_response(),
        }
    };
    let Some(who) = who else {
        return unauthorized(
            "the token is not valid (unknown, revoked or mistyped)",
            true,
        );
    };
    if who.role < need {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "token {} has the role {}; {} {} needs {need}",
                who.id,
                who.role,
                req.method(),
                req.uri().path()
            ),
        )
        .into_response();
    }
    if need > Role::Viewer {
        tracing::info!(
            "{} {} by token {} ({}, {})",
            req.method(),
            req.uri().path(),
            who.id,
            who.name,
            who.role
        );
    }
    req.extensions_mut().insert(Caller(who));
    next.run(req).await
}

/// Middleware: a request whose `Host` (or HTTP/2 `:authority`) does not name this server is
/// answered 421 Misdirected Request; one without a host, 400.
pub async fn check_host(State(sec): State<Arc<Security>>, req: Request, next: Next) -> Response {
    let host = req
        .uri()
        .authority()
        .map(|a| a.as_str().to_string())
        .or_else(|| {
            req.headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_string)
        });
    match host {
        None => ApiError::bad_request("the request names no Host").into_response(),
        Some(h) if !sec.host_allowed(&h) => ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            format!(
                "this server does not answer for the host {:?} (twin serve --allowed-host)",
                host_name(&h)
            ),
        )
        .into_response(),
        Some(_) => next.run(req).await,
    }
}

/// Middleware outside the CORS layer: on a write (or the preflight of one), keep the CORS
/// headers only for a configured origin, and name that origin rather than `*`.
pub async fn cors_writes(State(sec): State<Arc<Security>>, req: Request, next: Next) -> Response {
    let route = route(&req);
    let method = if req.method() == Method::OPTIONS {
        req.headers()
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
    } else {
        Some(req.method().clone())
    };
    let write = method.is_some_and(|m| is_write(&m, route.as_deref()));
    let origin = req.headers().get(header::ORIGIN).cloned();
    let mut resp = next.run(req).await;
    if !write {
        return resp;
    }
    let h = resp.headers_mut();
    match origin.filter(|o| sec.origins.contains(o)) {
        Some(o) => {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
            h.append(header::VARY, HeaderValue::from_static("origin"));
        }
        None => {
            for k in [
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                header::ACCESS_CONTROL_ALLOW_METHODS,
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                header::ACCESS_CONTROL_MAX_AGE,
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            ] {
                h.remove(k);
            }
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_by_method_and_route() {
        let (get, post, delete) = (Method::GET, Method::POST, Method::DELETE);
        assert_eq!(
            required_role(&post, Some("/api/runs"), false),
            Some(Role::Planner)
        );
        assert_eq!(
            required_role(&delete, Some("/api/runs/{id}"), false),
            Some(Role::Planner)
        );
        assert_eq!(required_role(&get, Some("/api/runs"), false), None);
        assert_eq!(
            required_role(&post, Some("/api/layers/{layer}/intersects"), false),
            None
        );
        assert_eq!(
            required_role(&get, Some("/api/layers"), true),
            Some(Role::Viewer)
        );
        assert_eq!(
            required_role(&get, Some("/tiles/{*path}"), true),
            Some(Role::Viewer)
        );
        for public in [
            "/",
            "/viewer.js",
            "/healthz",
            "/cesium/{*__private__axum_nest_tail_param}",
            "/js/{*path}",
            "/lib/{*path}",
        ] {
            assert_eq!(required_role(&get, Some(public), true), None, "{public}");
        }
        // The live push stream is a read: a viewer token on a private server.
        assert_eq!(
            required_role(&get, Some("/api/live/events"), true),
            Some(Role::Viewer)
        );
        assert_eq!(required_role(&get, Some("/api/live/events"), false), None);
        // Unmatched paths reach the 404 fallback either way.
        assert_eq!(required_role(&get, None, true), None);
    }

    #[test]
    fn host_names() {
        let sec = Security::new(None, false, &["Twin.Hue.gov.vn".into()], &[]).unwrap();
        for ok in [
            "localhost:8080",
            "localhost",
            "127.0.0.1:80",
            "[::1]:8080",
            "10.0.0.7",
            "twin.hue.gov.vn",
            "TWIN.hue.gov.vn:443",
        ] {
            assert!(sec.host_allowed(ok), "{ok}");
        }
        let empty = Security::new(None, false, &["".into()], &[]).unwrap();
        assert!(!empty.host_allowed("") && !empty.host_allowed(":80"));
        for bad in [
            "evil.example",
            "localhost.evil.example:8080",
            "",
            "127.0.0.1.evil.example",
        ] {
            assert!(!sec.host_allowed(bad), "{bad}");
        }
    }
}
