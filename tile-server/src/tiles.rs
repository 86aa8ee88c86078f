//! The 3D Tiles endpoints: `/tiles/tileset.json`, `/tiles/<layer>/tileset.json` and
//! `/tiles/<layer>/<tile id>.glb`, the same paths as a `twin tiles export` folder.
//!
//! The server asks a [`TileSource`] for a file's bytes the first time it is requested, then
//! keeps it in the [`TileCache`](super::cache::TileCache) (memory, then disk). Responses carry
//! a strong ETag (BLAKE3 of the bytes), answer `If-None-Match` with 304, and honour `Range`
//! (one range; `If-Range` with the ETag).

use super::cache::{CacheTier, CachedFile};
use super::error::ApiError;
use super::AppState;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::cell::RefCell;
use std::sync::Arc;
use tiles3d::{self as tiles, geodesy::Projector, Tileset, TilesetOptions};
use twin_core::Twin;

/// What the tile endpoints need from a 3D Tiles generator: the bytes of one file of the
/// tileset tree, produced on its own.
pub trait TileSource: Send + Sync + 'static {
    /// Names of the layer tilesets served (`buildings`, `heritage`, `terrain`...), in order.
    fn layers(&self) -> Vec<String>;

    /// A string that changes whenever any produced byte would change (generator version,
    /// options, data); it keys the disk cache.
    fn version(&self) -> String;

    /// The bytes of the file at `path`, or `Ok(None)` when the tree has no such file.
    /// Called on a blocking thread; may take a while.
    fn produce(&self, path: &TilePath) -> Result<Option<Vec<u8>>, ApiError>;
}

/// A tile source with nothing in it (a twin with nothing to tile).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoTiles;

impl TileSource for NoTiles {
    fn layers(&self) -> Vec<String> {
        Vec::new()
    }
    fn version(&self) -> String {
        "none".into()
    }
    fn produce(&self, _path: &TilePath) -> Result<Option<Vec<u8>>, ApiError> {
        Ok(None)
    }
}

/// The 3D Tiles generator of [`tiles3d`] behind the server: every layer the twin has is
/// planned once ([`Tileset::plan`]); tileset JSON and tile content are produced on request with
/// the same functions as `twin tiles export`, so the bytes are the same.
pub struct GeneratedTiles {
    twin: Arc<Twin>,
    sets: Vec<Tileset>,
    top: Option<Vec<u8>>,
    version: String,
}

thread_local! {
    static PROJECTOR: RefCell<Option<(String, std::rc::Rc<Projector>)>> = const { RefCell::new(None) };
}

fn projector(crs: &twin_core::Crs) -> Result<std::rc::Rc<Projector>, ApiError> {
    let def = crs.definition();
    if let Some(p) = PROJECTOR.with(|c| {
        c.borrow()
            .as_ref()
            .filter(|(d, _)| d == def)
            .map(|(_, p)| p.clone())
    }) {
        return Ok(p);
    }
    let p = std::rc::Rc::new(Projector::new(crs).map_err(|e| ApiError::internal(e.to_string()))?);
    PROJECTOR.with(|c| *c.borrow_mut() = Some((def.to_string(), p.clone())));
    Ok(p)
}

impl GeneratedTiles {
    /// Plan every layer the twin has. `fingerprint` identifies the twin's data (see
    /// [`super::twin_fingerprint`]); with the generator and the options it keys the disk cache.
    pub fn plan(
        twin: Arc<Twin>,
        opts: &TilesetOptions,
        fingerprint: &str,
    ) -> tiles3d::Result<GeneratedTiles> {
        let sets = tiles::TILE_LAYERS
            .into_iter()
            .filter(|l| twin.has(*l))
            .map(|l| Tileset::plan(&twin, l, opts))
            .collect::<tiles3d::Result<Vec<_>>>()?;
        let top = match sets.first() {
            None => None,
            Some(first) => {
                let roots: Vec<_> = sets
                    .iter()
                    .map(|t| (t.layer(), t.root().region, t.geometric_error()))
                    .collect();
                let v = tiles::top_tileset_json(&twin, &roots, &first.geoid().describe());
                Some(tiles::tileset_bytes(&v)?)
            }
        };
        let key = format!("{}\n{opts:?}\n{fingerprint}", tiles::GENERATOR);
        let version = blake3::hash(key.as_bytes()).to_hex()[..16].to_string();
        Ok(GeneratedTiles {
            twin,
            sets,
            top,
            version,
        })
    }

    /// The planned tilesets.
    pub fn tilesets(&self) -> &[Tileset] {
        &self.sets
    }

    fn set(&self, layer: &str) -> Option<&Tileset> {
        self.sets.iter().find(|t| t.layer().name() == layer)
    }
}

impl TileSource for GeneratedTiles {
    fn layers(&self) -> Vec<String> {
        self.sets
            .iter()
            .map(|t| t.layer().name().to_string())
            .collect()
    }

    fn version(&self) -> String {
        self.version.clone()
    }

    fn produce(&self, path: &TilePath) -> Result<Option<Vec<u8>>, ApiError> {
        match path {
            TilePath::Root => Ok(self.top.clone()),
            TilePath::LayerTileset(l) => match self.set(l) {
                None => Ok(None),
                Some(ts) => tiles::tileset_bytes(&ts.tileset_json())
                    .map(Some)
                    .map_err(|e| ApiError::internal(e.to_string())),
            },
            TilePath::Content { layer, id } => {
                let Some(ts) = self.set(layer) else {
                    return Ok(None);
                };
                match ts.tile(id) {
                    Some(t) if t.content_uri().is_some() => {}
                    _ => return Ok(None),
                }
                let proj = projector(&self.twin.crs)?;
                ts.tile_content_with(&self.twin, id, &proj)
                    .map(Some)
                    .map_err(|e| ApiError::internal(format!("tile {layer}/{id}: {e}")))
            }
        }
    }
}

/// A checked path below `/tiles/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TilePath {
    /// `tileset.json`: every layer as an external tileset.
    Root,
    /// `<layer>/tileset.json`.
    LayerTileset(String),
    /// `<layer>/<id>.glb`, e.g. `buildings/3/2/5.glb` has id `3/2/5`.
    Content {
        /// The layer.
        layer: String,
        /// The tile id (slashes allowed).
        id: String,
    },
}

/// Longest path accepted below `/tiles/`.
pub const MAX_TILE_PATH: usize = 256;

fn safe_segment(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

impl TilePath {
    /// Parse a path below `/tiles/` (already percent-decoded). Only ASCII letters, digits,
    /// `_`, `-` and `.` in non-empty segments; no `.` or `..` segment.
    pub fn parse(path: &str) -> Result<TilePath, ApiError> {
        if path.len() > MAX_TILE_PATH {
            return Err(ApiError::bad_request(format!(
                "tile path longer than {MAX_TILE_PATH} bytes"
            )));
        }
        let segs: Vec<&str> = path.split('/').collect();
        if !segs.iter().all(|s| safe_segment(s)) {
            return Err(ApiError::bad_request(format!(
                "tile path {path:?}: segments must be non-empty, without '.' or '..', of letters, digits, '_', '-', '.'"
            )));
        }
        match segs.as_slice() {
            ["tileset.json"] => Ok(TilePath::Root),
            [layer, "tileset.json"] => Ok(TilePath::LayerTileset(layer.to_string())),
            [layer, rest @ ..] if !rest.is_empty() => {
                let joined = rest.join("/");
                match joined.strip_suffix(".glb") {
                    Some(id) if !id.is_empty() => Ok(TilePath::Content {
                        layer: layer.to_string(),
                        id: id.to_string(),
                    }),
                    _ => Err(ApiError::not_found(format!("no tile file {path:?}"))),
                }
            }
            _ => Err(ApiError::not_found(format!("no tile file {path:?}"))),
        }
    }

    /// The path relative to the tileset root (as in an export folder).
    pub fn relative(&self) -> String {
        match self {
            TilePath::Root => "tileset.json".into(),
            TilePath::LayerTileset(l) => format!("{l}/tileset.json"),
            TilePath::Content { layer, id } => format!("{layer}/{id}.glb"),
        }
    }

    /// The layer, if the path is in one.
    pub fn layer(&self) -> Option<&str> {
        match self {
            TilePath::Root => None,
            TilePath::LayerTileset(l) | TilePath::Content { layer: l, .. } => Some(l),
        }
    }

    /// The media type of the file.
    pub fn content_type(&self) -> &'static str {
        match self {
            TilePath::Content { .. } => "model/gltf-binary",
            _ => "application/json",
        }
    }
}

/// The query of a tile request.
#[derive(Debug, Default, serde::Deserialize)]
pub struct TileQuery {
    /// A done flood run whose per-feature depths go into building and heritage tiles
    /// (`max_flood_depth`, `flood_duration`); clients such as CesiumJS pass a tileset's query on to its tiles.
    pub run: Option<String>,
}

/// `GET /tiles/{*path}`: a tileset.json or a tile's glb (`?run=<id>`: with a run's results).
pub async fn get_tile(
    State(state): State<Arc<AppState>>,
    Path(path): Path<String>,
    Query(query): Query<TileQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let tp = TilePath::parse(&path)?;
    if let Some(l) = tp.layer() {
        if !state.tile_layers.iter().any(|x| x == l) {
            return Err(ApiError::not_found(format!(
                "no tileset {l:?} (tilesets: {})",
                if state.tile_layers.is_empty() {
                    "none".to_string()
                } else {
                    state.tile_layers.join(", ")
                }
            )));
        }
    }
    let (file, tier) = state.cache.get_or_produce(&tp).await?;
    state.metrics.cache(tier);
    let Some(file) = file else {
        return Err(ApiError::not_found(format!(
            "no tile file {:?}",
            tp.relative()
        )));
    };
    if let (Some(run), TilePath::Content { layer, .. }) = (&query.run, &tp) {
        if layer == "buildings" || layer == "heritage" {
            let patched = super::runs::with_results(&state, &file, run)?;
            return Ok(respond(&patched, &headers, tier));
        }
    }
    Ok(respond(&file, &headers, tier))
}

/// True when an `If-None-Match` header names this ETag (or `*`). Compressed variants
/// (`"<tag>-gzip"`, `"<tag>-br"`, see [`super::tag_encoded_etag`]) and weak forms match too.
pub fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    let bare = etag.trim_matches('"');
    if_none_match.split(',').any(|t| {
        let t = t.trim();
        if t == "*" {
            return true;
        }
        let t = t.strip_prefix("W/").unwrap_or(t).trim_matches('"');
        let t = t
            .strip_suffix("-gzip")
            .or_else(|| t.strip_suffix("-br"))
            .unwrap_or(t);
        t == bare
    })
}

/// The response for a cached file: 304 on a matching `If-None-Match`, 206 on a satisfiable
/// single `Range`, 416 on an unsatisfiable one, else 200 with the bytes.
pub fn respond(file: &CachedFile, headers: &HeaderMap, tier: CacheTier) -> Response {
    let mut common = HeaderMap::new();
    common.insert(header::ETAG, file.etag.clone());
    common.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600, must-revalidate"),
    );
    common.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    common.insert(
        "x-cache",
        HeaderValue::from_static(match tier {
            CacheTier::Memory => "memory",
            CacheTier::Disk => "disk",
            CacheTier::Produced => "miss",
        }),
    );
    let etag = file.etag.to_str().unwrap_or_default();
    if let Some(inm) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        if etag_matches(inm, etag) {
            return (StatusCode::NOT_MODIFIED, common).into_response();
        }
    }
    common.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.content_type),
    );
    let len = file.bytes.len() as u64;
    let range_applies = match headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok()) {
        Some(ir) => ir.trim() == etag,
        None => true,
    };
    if let (Some(range), true) = (
        headers.get(header::RANGE).and_then(|v| v.to_str().ok()),
        range_applies,
    ) {
        use http_range_header::RangeUnsatisfiableError as E;
        match http_range_header::parse_range_header(range).and_then(|r| r.validate(len)) {
            Ok(ranges) if ranges.len() == 1 => {
                let (start, end) = (*ranges[0].start(), *ranges[0].end());
                common.insert(
                    header::CONTENT_RANGE,
                    HeaderValue::from_str(&format!("bytes {start}-{end}/{len}"))
                        .expect("ascii digits"),
                );
                let part = file.bytes.slice(start as usize..=end as usize);
                return (StatusCode::PARTIAL_CONTENT, common, Body::from(part)).into_response();
            }
            // Several ranges (or none, for an empty file): answer the whole file (RFC 9110
            // allows ignoring Range), as does a malformed header (§14.2).
            Ok(_) | Err(E::Invalid(_)) => {}
            Err(e) => {
                common.insert(
                    header::CONTENT_RANGE,
                    HeaderValue::from_str(&format!("bytes */{len}")).expect("ascii digits"),
                );
                let mut r = ApiError::new(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    format!("range {range:?} for {len} bytes: {e}"),
                )
                .into_response();
                r.headers_mut().extend(common);
                return r;
            }
        }
    }
    (StatusCode::OK, common, Body::from(file.bytes.clone())).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(TilePath::parse("tileset.json").unwrap(), TilePath::Root);
        assert_eq!(
            TilePath::parse("buildings/tileset.json").unwrap(),
            TilePath::LayerTileset("buildings".into())
        );
        assert_eq!(
            TilePath::parse("buildings/3/2/5.glb").unwrap(),
            TilePath::Content {
                layer: "buildings".into(),
                id: "3/2/5".into()
            }
        );
        assert_eq!(
            TilePath::parse("terrain/d0/1/0/0.glb").unwrap().relative(),
            "terrain/d0/1/0/0.glb"
        );
        for bad in [
            "../etc/passwd",
            "buildings/../../x.glb",
            "buildings//1.glb",
            "buildings/./1.glb",
            "a\\b.glb",
            "buildings/1%2f2.glb",
            "",
        ] {
            let e = TilePath::parse(bad).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{bad}");
        }
        assert_eq!(
            TilePath::parse("buildings/1.png").unwrap_err().status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            TilePath::parse(&"a/".repeat(200)).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn etags() {
        assert!(etag_matches("\"abc\"", "\"abc\""));
        assert!(etag_matches("W/\"abc\"", "\"abc\""));
        assert!(etag_matches("\"x\", \"abc-gzip\"", "\"abc\""));
        assert!(etag_matches("*", "\"abc\""));
        assert!(!etag_matches("\"abd\"", "\"abc\""));
    }
}
