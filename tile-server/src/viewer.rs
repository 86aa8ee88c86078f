//! The web viewer: `index.html`, `viewer.js` and `viewer.css` at `/` and CesiumJS's build at
//! `/cesium/`. By default they are embedded in the binary (gzipped once by `build.rs` from the
//! repository's `web/` folder, CesiumJS from `web/vendor/cesium` where `scripts/setup.sh` puts
//! it), so a `twin` binary copied anywhere serves its viewer. A web folder given instead
//! (`twin serve --web-dir`, for developing the viewer) is read at each request.
//!
//! Every response carries an ETag and `Cache-Control: no-cache`: a returning browser
//! revalidates and gets `304 Not Modified` instead of the bytes (the server's ETag rules:
//! [`crate::body`]). Embedded files go out gzipped
//! as stored to clients that accept gzip (nearly all), unpacked for the others.

use super::body::{etag_matches, etag_of};
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// The embedded files: (path under `/`, unpacked length, gzipped bytes), from `build.rs`.
static EMBEDDED: &[(&str, usize, &[u8])] = include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

/// Where the viewer's files come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WebSource {
    /// Compiled into the binary.
    Embedded,
    /// A folder with `index.html`, `viewer.js`, `viewer.css` and `vendor/cesium/`.
    Dir(PathBuf),
}

impl WebSource {
    /// Whether CesiumJS can be served (`cesium/Cesium.js`).
    pub fn has_cesium(&self) -> bool {
        match self {
            WebSource::Embedded => EMBEDDED.iter().any(|e| e.0 == "cesium/Cesium.js"),
            WebSource::Dir(d) => d.join("vendor/cesium/Cesium.js").is_file(),
        }
    }

    /// What is served from where, in a sentence.
    pub fn describe(&self) -> String {
        match self {
            WebSource::Embedded => {
                let gz: usize = EMBEDDED.iter().map(|(_, _, g)| g.len()).sum();
                let cesium = if self.has_cesium() {
                    format!(
                        "and CesiumJS ({} files)",
                        EMBEDDED
                            .iter()
                            .filter(|e| e.0.starts_with("cesium/"))
                            .count()
                    )
                } else {
                    "without CesiumJS (web/vendor/cesium was missing at build time: run \
                     scripts/setup.sh and rebuild, or give --web-dir)"
                        .into()
                };
                format!(
                    "viewer embedded in the binary: its page {cesium}, {:.1} MB gzipped",
                    gz as f64 / 1e6
                )
            }
            WebSource::Dir(d) => {
                let cesium = if self.has_cesium() {
                    "CesiumJS from vendor/cesium"
                } else {
                    "no CesiumJS (vendor/cesium/Cesium.js is missing)"
                };
                format!(
                    "viewer from the folder {}: its page and {cesium}",
                    d.display()
                )
            }
        }
    }
}

/// The viewer's files, ready to serve.
pub struct WebFiles {
    source: WebSource,
    /// Embedded files by path: index into [`EMBEDDED`] and ETag.
    embedded: HashMap<&'static str, (usize, HeaderValue)>,
}

fn etag(bytes: &[u8]) -> HeaderValue {
    HeaderValue::from_str(&etag_of(bytes)).expect("quoted hex is a valid header")
}

impl WebFiles {
    /// The files of `source`. A folder must hold `index.html`.
    pub fn new(source: WebSource) -> std::io::Result<WebFiles> {
        let embedded = match &source {
            WebSource::Embedded => EMBEDDED
                .iter()
                .enumerate()
                .map(|(i, (path, _, gz))| (*path, (i, etag(gz))))
                .collect(),
            WebSource::Dir(d) => {
                if !d.join("index.html").is_file() {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        format!("web folder {}: no index.html in it", d.display()),
                    ));
                }
                HashMap::new()
            }
        };
        Ok(WebFiles { source, embedded })
    }

    /// The response for `path` (relative to `/`: `index.html`, `cesium/Cesium.js`).
    fn respond(&self, path: &str, req: &HeaderMap) -> Response {
        match &self.source {
            WebSource::Embedded => {
                let Some((i, tag)) = self.embedded.get(path) else {
                    return not_found(path);
                };
                let (_, len, gz) = EMBEDDED[*i];
                if matches(req, tag) {
                    return not_modified(tag);
                }
                let gzip_ok = req
                    .get(header::ACCEPT_ENCODING)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
                let mut headers = base_headers(path, tag);
                headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
                if gzip_ok {
                    headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                    (headers, gz).into_response()
                } else {
                    let mut raw = Vec::with_capacity(len);
                    if let Err(e) = flate2::read::GzDecoder::new(gz).read_to_end(&mut raw) {
                        return (
                            StatusCode::INTERNAL_SERVER_ERROR,
                            format!("embedded {path}: {e}"),
                        )
                            .into_response();
                    }
                    (headers, raw).into_response()
                }
            }
            WebSource::Dir(d) => {
                let Some(file) = dir_file(d, path) else {
                    return not_found(path);
                };
                match std::fs::read(&file) {
                    Ok(bytes) => {
                        let tag = etag(&bytes);
                        if matches(req, &tag) {
                            return not_modified(&tag);
                        }
                        (base_headers(path, &tag), bytes).into_response()
                    }
                    Err(_) => not_found(path),
                }
            }
        }
    }
}

/// The file of a web folder serving `path`: the viewer's files at the top, CesiumJS under
/// `vendor/cesium`. None for anything but plain relative components (no `..`, no root).
fn dir_file(dir: &Path, path: &str) -> Option<PathBuf> {
    let (base, rest) = if let Some(rest) = path.strip_prefix("cesium/") {
        (dir.join("vendor/cesium"), rest)
    } else if let Some(rest) = path.strip_prefix("js/") {
        (dir.join("js"), rest)
    } else if let Some(rest) = path.strip_prefix("lib/") {
        (dir.join("vendor/lib"), rest)
    } else {
        match path {
            p if ["index.html", "viewer.js", "viewer.css"].contains(&p) => {
                (dir.to_path_buf(), path)
            }
            _ => return None,
        }
    };
    let rel = Path::new(rest);
    if rest.contains('\\') || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return None;
    }
    Some(base.join(rel))
}

fn matches(req: &HeaderMap, tag: &HeaderValue) -> bool {
    req.get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| etag_matches(v, tag.to_str().unwrap_or("")))
}

fn not_modified(tag: &HeaderValue) -> Response {
    let mut h = HeaderMap::new();
    h.insert(header::ETAG, tag.clone());
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    (StatusCode::NOT_MODIFIED, h).into_response()
}

fn not_found(path: &str) -> Response {
    (StatusCode::NOT_FOUND, format!("no viewer file {path:?}")).into_response()
}

fn base_headers(path: &str, tag: &HeaderValue) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    h.insert(header::ETAG, tag.clone());
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h
}

/// The media type of a viewer file by its extension.
fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "wasm" => "application/wasm",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "svg" => "image/svg+xml",
        "gif" => "image/gif",
        "xml" => "application/xml",
        "ktx2" => "image/ktx2",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        _ => "application/octet-stream",
    }
}

/// The viewer's routes (`/`, `/viewer.js`, `/viewer.css`, `/js/{*path}`, `/lib/{*path}`,
/// `/cesium/{*path}`), serving `files`.
pub fn router<S: Clone + Send + Sync + 'static>(files: Arc<WebFiles>) -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/viewer.js", get(viewer_js))
        .route("/viewer.css", get(viewer_css))
        .route("/cesium/{*path}", get(cesium))
        .route("/js/{*path}", get(module))
        .route("/lib/{*path}", get(library))
        .with_state(files)
}

/// `GET /`
#[utoipa::path(get, path = "/", tag = "viewer",
    responses((status = 200, description = "the viewer page", content_type = "text/html", body = String)))]
pub async fn index(State(w): State<Arc<WebFiles>>, headers: HeaderMap) -> Response {
    w.respond("index.html", &headers)
}

/// `GET /viewer.js`
#[utoipa::path(get, path = "/viewer.js", tag = "viewer",
    responses((status = 200, description = "the viewer's script", content_type = "application/javascript", body = String)))]
pub async fn viewer_js(State(w): State<Arc<WebFiles>>, headers: HeaderMap) -> Response {
    w.respond("viewer.js", &headers)
}

/// `GET /viewer.css`
#[utoipa::path(get, path = "/viewer.css", tag = "viewer",
    responses((status = 200, description = "the viewer's style sheet", content_type = "text/css", body = String)))]
pub async fn viewer_css(State(w): State<Arc<WebFiles>>, headers: HeaderMap) -> Response {
    w.respond("viewer.css", &headers)
}

/// `GET /cesium/{path}`
#[utoipa::path(get, path = "/cesium/{path}", tag = "viewer",
    params(("path" = String, Path, description = "a CesiumJS build file (Cesium.js, Widgets/..., Assets/...)")),
    responses(
        (status = 200, description = "the file"),
        (status = 304, description = "the browser's copy is current (If-None-Match)"),
        (status = 404, description = "no such file")))]
pub async fn cesium(
    State(w): State<Arc<WebFiles>>,
    UrlPath(path): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    w.respond(&format!("cesium/{path}"), &headers)
}

/// `GET /js/{path}`: one of the viewer's own modules (`web/js/`).
#[utoipa::path(get, path = "/js/{path}", tag = "viewer",
    params(("path" = String, Path, description = "a module of the viewer (sensors.js, heritage.js, ...)")),
    responses(
        (status = 200, description = "the file"),
        (status = 304, description = "the browser's copy is current (If-None-Match)"),
        (status = 404, description = "no such file")))]
pub async fn module(
    State(w): State<Arc<WebFiles>>,
    UrlPath(path): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    w.respond(&format!("js/{path}"), &headers)
}

/// `GET /lib/{path}`: an npm library the viewer uses (copied to `web/vendor/lib/` by setup).
#[utoipa::path(get, path = "/lib/{path}", tag = "viewer",
    params(("path" = String, Path, description = "a library file (for example uplot/uPlot.iife.min.js)")),
    responses(
        (status = 200, description = "the file"),
        (status = 304, description = "the browser's copy is current (If-None-Match)"),
        (status = 404, description = "no such file")))]
pub async fn library(
    State(w): State<Arc<WebFiles>>,
    UrlPath(path): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    w.respond(&format!("lib/{path}"), &headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_paths_stay_in_the_folder() {
        let d = Path::new("/srv/web");
        assert_eq!(
            dir_file(d, "cesium/Widgets/widgets.css"),
            Some(d.join("vendor/cesium/Widgets/widgets.css"))
        );
        assert_eq!(dir_file(d, "index.html"), Some(d.join("index.html")));
        assert_eq!(dir_file(d, "js/sensors.js"), Some(d.join("js/sensors.js")));
        assert_eq!(
            dir_file(d, "lib/uplot/uPlot.iife.min.js"),
            Some(d.join("vendor/lib/uplot/uPlot.iife.min.js"))
        );
        for bad in [
            "cesium/../../etc/passwd",
            "cesium//etc/passwd",
            "cesium/a\\..\\b",
            "js/../../etc/passwd",
            "lib/../cesium/../../x",
            "secret.txt",
            "../index.html",
        ] {
            assert_eq!(dir_file(d, bad), None, "{bad}");
        }
    }

    #[test]
    fn embedded_files_revalidate_and_unpack() {
        let w = WebFiles::new(WebSource::Embedded).unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip, br"),
        );
        let r = w.respond("index.html", &h);
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[header::CONTENT_ENCODING], "gzip");
        let tag = r.headers()[header::ETAG].clone();
        h.insert(header::IF_NONE_MATCH, tag);
        assert_eq!(
            w.respond("index.html", &h).status(),
            StatusCode::NOT_MODIFIED
        );
        // Without gzip: the page itself.
        let r = w.respond("index.html", &HeaderMap::new());
        assert!(r.headers().get(header::CONTENT_ENCODING).is_none());
        assert_eq!(
            w.respond("nothing.txt", &HeaderMap::new()).status(),
            StatusCode::NOT_FOUND
        );
    }
}
