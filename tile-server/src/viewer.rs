//! The web viewer: `index.html`, `viewer.js` and `viewer.css` (compiled into the binary from
//! the repository's `web/` folder) at `/`, and CesiumJS's build at `/cesium/` from
//! `<web dir>/vendor/cesium` (copied there from the npm `cesium` package by
//! `scripts/setup.sh`).

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use std::path::{Path, PathBuf};

/// The viewer's page.
pub const INDEX_HTML: &str = include_str!("../../web/index.html");
/// The viewer's script.
pub const VIEWER_JS: &str = include_str!("../../web/viewer.js");
/// The viewer's style sheet.
pub const VIEWER_CSS: &str = include_str!("../../web/viewer.css");

/// The repository's `web/` folder as seen at build time (where `scripts/setup.sh` puts
/// CesiumJS), used when no `--web` folder is given.
pub fn default_web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../web")
}

/// Where CesiumJS's `Build/Cesium` is expected under a web folder.
pub fn cesium_dir(web: &Path) -> PathBuf {
    web.join("vendor/cesium")
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

/// `GET /`
#[utoipa::path(get, path = "/", tag = "viewer",
    responses((status = 200, description = "the viewer page", content_type = "text/html", body = String)))]
pub async fn index() -> Response {
    asset(INDEX_HTML, "text/html; charset=utf-8")
}

/// `GET /viewer.js`
#[utoipa::path(get, path = "/viewer.js", tag = "viewer",
    responses((status = 200, description = "the viewer's script", content_type = "application/javascript", body = String)))]
pub async fn viewer_js() -> Response {
    asset(VIEWER_JS, "text/javascript; charset=utf-8")
}

/// `GET /viewer.css`
#[utoipa::path(get, path = "/viewer.css", tag = "viewer",
    responses((status = 200, description = "the viewer's style sheet", content_type = "text/css", body = String)))]
pub async fn viewer_css() -> Response {
    asset(VIEWER_CSS, "text/css; charset=utf-8")
}
