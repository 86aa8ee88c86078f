//! The twin's own basemap over HTTP: `GET /basemap/{z}/{x}/{y}.png` (`{y}@2x.png` for
//! 512-pixel tiles) and `GET /basemap/tilejson.json` (TileJSON 3.0.0: template, zooms,
//! bounds, attribution), drawn by the [`BasemapDrawer`] handed in through
//! [`super::ServerConfig::basemap`] (`twin serve` hands in `renderer::basemap::Drawer`; the
//! server itself has no GPU code, ADR 0006). Without a drawer, or when the drawer has no
//! adapter, tiles answer 503.
//!
//! Tiles go through the same [`TileCache`] as the 3D Tiles (memory LRU, then
//! `<twin>/cache/tiles/<basemap version>/basemap/...`, strong ETags, 304 on `If-None-Match`,
//! `Cache-Control`), in a cache instance of their own whose producers are bounded to
//! [`MAX_RENDERS`] at once, so a burst of cold tiles cannot exhaust memory. One GPU device
//! serves every render; the drawer opens it on the first tile, not at start. Tiles that do not touch
//! the twin's extent answer 204 No Content without rendering.

use super::body::respond;
use super::cache::TileCache;
use super::error::ApiError;
use super::source::{TilePath, TileSource};
use super::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use twin_core::xyz::{BasemapDrawer, TileId, MAX_ZOOM, MIN_ZOOM};
use twin_core::Twin;

/// Cold basemap tiles rendered at once.
pub const MAX_RENDERS: usize = 2;

/// Changes whenever the drawing changes (with the twin's fingerprint, it keys the disk cache).
const STYLE_VERSION: &str = "basemap-3";

/// The basemap drawer behind the cache, with the twin it draws.
pub struct BasemapSource {
    twin: Arc<Twin>,
    drawer: Option<Arc<dyn BasemapDrawer>>,
    version: String,
}

impl BasemapSource {
    /// A source for `twin` drawn by `drawer` (none: every tile answers 503); `fingerprint`
    /// identifies the twin's data (see [`super::source::twin_fingerprint`]).
    pub fn new(
        twin: Arc<Twin>,
        drawer: Option<Arc<dyn BasemapDrawer>>,
        fingerprint: &str,
    ) -> BasemapSource {
        let h = blake3::hash(format!("{STYLE_VERSION}\n{fingerprint}").as_bytes());
        BasemapSource {
            twin,
            drawer,
            version: format!("basemap-{}", &h.to_hex()[..16]),
        }
    }

    fn drawer(&self) -> Result<&dyn BasemapDrawer, ApiError> {
        let unavailable = |m: String| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, m);
        let d = self.drawer.as_deref().ok_or_else(|| {
            unavailable("this server was started without a basemap drawer".to_string())
        })?;
        d.ready()
            .map_err(|e| unavailable(format!("basemap tiles need a GPU adapter: {e}")))?;
        Ok(d)
    }
}

impl TileSource for BasemapSource {
    fn layers(&self) -> Vec<String> {
        Vec::new()
    }

    fn version(&self) -> String {
        self.version.clone()
    }

    fn produce(&self, path: &TilePath) -> Result<Option<Vec<u8>>, ApiError> {
        let TilePath::Basemap { z, x, y, scale } = *path else {
            return Ok(None);
        };
        let tile = TileId::new(z, x, y).map_err(|e| ApiError::bad_request(e.to_string()))?;
        self.drawer()?
            .draw_png(&self.twin, tile, 256 * u32::from(scale))
            .map(Some)
            .map_err(|e| ApiError::internal(format!("basemap tile {z}/{x}/{y}: {e}")))
    }
}

/// The basemap's part of the server state.
pub struct BasemapState {
    /// The tile cache in front of the renderer.
    pub cache: TileCache,
    /// The twin's WGS84 extent (lon_min, lat_min, lon_max, lat_max).
    pub bounds: [f64; 4],
    /// The attribution the data need, if any.
    pub attribution: Option<String>,
}

impl BasemapState {
    /// The basemap of `twin`, drawn by `drawer`, with `memory_bytes` of tiles in memory and files under
    /// `disk_root`; `None` when the twin is empty. `twin_dir` (when known) decides the
    /// attribution: "© OpenStreetMap contributors" when a source is an OSM file or the twin's
    /// `twin.toml` names OpenStreetMap (a twin derived from OSM says so there).
    pub fn new(
        twin: Arc<Twin>,
        drawer: Option<Arc<dyn BasemapDrawer>>,
        fingerprint: &str,
        memory_bytes: u64,
        disk_root: Option<&std::path::Path>,
        twin_dir: Option<&std::path::Path>,
    ) -> Result<Option<BasemapState>, ApiError> {
        let Some(e) = twin.extent() else {
            return Ok(None);
        };
        let bounds = twin.extent_wgs84(e)?;
        let source = Arc::new(BasemapSource::new(twin, drawer, fingerprint));
        Ok(Some(BasemapState {
            cache: TileCache::new(source, memory_bytes, disk_root).with_producers(MAX_RENDERS),
            bounds,
            attribution: twin_dir.and_then(attribution),
        }))
    }
}

/// The credit of the twin's data: `twin.toml`'s `attribution` when it names one, else "©
/// OpenStreetMap contributors" when the data come from OpenStreetMap.
pub fn attribution(dir: &std::path::Path) -> Option<String> {
    let cfg = twin_core::twin::TwinConfig::load(dir).ok();
    if let Some(a) = cfg.as_ref().and_then(|c| c.attribution.clone()) {
        return Some(a);
    }
    let osm = cfg.is_some_and(|c| {
        c.sources.iter().any(|s| {
            let p = s.path.to_string_lossy().to_ascii_lowercase();
            p.ends_with(".osm.pbf") || p.ends_with(".osm") || p.ends_with(".osm.xml")
        })
    }) || std::fs::read_to_string(dir.join("twin.toml"))
        .is_ok_and(|t| t.to_ascii_lowercase().contains("openstreetmap"));
    osm.then(|| "© OpenStreetMap contributors".to_string())
}

fn basemap(state: &AppState) -> Result<&BasemapState, ApiError> {
    state
        .basemap
        .as_ref()
        .ok_or_else(|| ApiError::not_found("this twin has no basemap (it is empty)"))
}

/// Parse `{y}.png` or `{y}@2x.png`.
fn parse_row(file: &str) -> Option<(u32, u8)> {
    let (row, scale) = match file.strip_suffix("@2x.png") {
        Some(r) => (r, 2),
        None => (file.strip_suffix(".png")?, 1),
    };
    if row.is_empty() || row.len() > 7 || !row.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((row.parse().ok()?, scale))
}

/// `GET /basemap/{z}/{x}/{y}.png`: one basemap tile.
#[utoipa::path(get, path = "/basemap/{z}/{x}/{y}", tag = "basemap",
    params(("z" = u8, Path, description = "zoom, 10..=19"),
           ("x" = u32, Path, description = "column, below 2^z"),
           ("y" = String, Path, description = "row and format: `<row>.png`, or `<row>@2x.png` for 512 pixels"),
           ("If-None-Match" = Option<String>, Header, description = "an ETag from an earlier response: 304 when it still matches")),
    responses(
        (status = 200, description = "PNG (RGBA; transparent where the twin has nothing), with a strong ETag", content_type = "image/png"),
        (status = 204, description = "the tile does not touch the twin"),
        (status = 304, description = "not modified"),
        (status = 400, description = "zoom, column or row out of range, or not a number", body = super::error::ErrorBody),
        (status = 503, description = "no basemap drawer, or no GPU adapter to draw with", body = super::error::ErrorBody)))]
pub async fn get_tile(
    State(state): State<Arc<AppState>>,
    Path((z, x, file)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let bad = || {
        ApiError::bad_request(format!(
            "basemap tile {z}/{x}/{file}: zoom {MIN_ZOOM}..={MAX_ZOOM}, x and y below 2^zoom, row as <y>.png or <y>@2x.png"
        ))
    };
    let zn: u8 = z.parse().map_err(|_| bad())?;
    let xn: u32 = x.parse().map_err(|_| bad())?;
    let (yn, scale) = parse_row(&file).ok_or_else(bad)?;
    let tile = TileId::new(zn, xn, yn).map_err(|_| bad())?;
    let bm = basemap(&state)?;
    let (t, b) = (tile.bounds(), bm.bounds);
    if t[0] > b[2] || t[2] < b[0] || t[1] > b[3] || t[3] < b[1] {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let path = TilePath::Basemap {
        z: zn,
        x: xn,
        y: yn,
        scale,
    };
    let (f, tier) = bm.cache.get_or_produce(&path).await?;
    state.metrics.cache(tier);
    let f = f.ok_or_else(|| ApiError::not_found(format!("no basemap tile {}", path.relative())))?;
    Ok(respond(&f, &headers, tier))
}

/// `GET /basemap/tilejson.json`: the basemap as TileJSON 3.0.0.
#[utoipa::path(get, path = "/basemap/tilejson.json", tag = "basemap",
    responses(
        (status = 200, description = "TileJSON 3.0.0: tile URL template (relative to the server), zooms, WGS84 bounds, attribution"),
        (status = 404, description = "the twin is empty", body = super::error::ErrorBody)))]
pub async fn tilejson(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let bm = basemap(&state)?;
    let mut v = serde_json::json!({
        "tilejson": "3.0.0",
        "name": state.twin.name,
        "scheme": "xyz",
        "tiles": ["/basemap/{z}/{x}/{y}.png"],
        "minzoom": MIN_ZOOM,
        "maxzoom": MAX_ZOOM,
        "bounds": bm.bounds,
    });
    if let Some(a) = &bm.attribution {
        v["attribution"] = a.clone().into();
    }
    Ok(axum::Json(v).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osm_attribution_from_the_sources() {
        let d = tempfile::tempdir().unwrap();
        let toml = |src: &str| {
            format!("name = \"t\"\ncrs = \"EPSG:32648\"\n\n[[source]]\npath = \"{src}\"\n")
        };
        std::fs::write(d.path().join("twin.toml"), toml("hue.osm.pbf")).unwrap();
        assert_eq!(
            attribution(d.path()).as_deref(),
            Some("© OpenStreetMap contributors")
        );
        std::fs::write(d.path().join("twin.toml"), toml("roads.geojson")).unwrap();
        assert_eq!(attribution(d.path()), None);
        // The sample twin states its own (`attribution` in twin.toml), which wins.
        let hue = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/hue");
        assert_eq!(
            attribution(&hue).as_deref(),
            Some("© OpenStreetMap contributors (ODbL 1.0)")
        );
    }

    #[test]
    fn rows() {
        assert_eq!(parse_row("7431.png"), Some((7431, 1)));
        assert_eq!(parse_row("7431@2x.png"), Some((7431, 2)));
        for bad in [
            "",
            ".png",
            "-1.png",
            "1.jpg",
            "1@3x.png",
            "12345678.png",
            "1 .png",
            "x.png",
        ] {
            assert_eq!(parse_row(bad), None, "{bad}");
        }
    }
}
