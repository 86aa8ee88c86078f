//! The 3D Tiles endpoints: `/tiles/tileset.json`, `/tiles/<layer>/tileset.json`,
//! `/tiles/<layer>/<tile id>.glb` and, for implicit tilesets (`twin serve --implicit`),
//! `/tiles/<layer>/subtrees/<level>/<x>/<y>.subtree`: the same paths as a `twin tiles export`
//! folder. Implicit tiles are made on demand from their subtree address like any other.
//!
//! The server asks a [`TileSource`] for a file's bytes the first time it is requested, then
//! keeps it in the [`TileCache`](super::cache::TileCache) (memory, then disk). Responses carry
//! a strong ETag (BLAKE3 of the bytes), answer `If-None-Match` with 304, and honour `Range`
//! (one range; `If-Range` with the ETag).

use super::body::respond;
use super::error::ApiError;
use super::source::TilePath;
use super::AppState;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use std::sync::Arc;

/// The query of a tile request.
#[derive(Debug, Default, serde::Deserialize)]
pub struct TileQuery {
    /// A done flood run whose per-feature depths go into building and heritage tiles
    /// (`max_flood_depth`, `flood_duration`); clients such as CesiumJS pass a tileset's query on to its tiles.
    pub run: Option<String>,
}

/// `GET /tiles/{*path}`: a tileset.json, a tile's glb (`?run=<id>`: with a run's results) or a
/// subtree file.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::etag_matches;
    use axum::http::StatusCode;

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
            TilePath::parse("buildings/subtrees/0/0/0.subtree").unwrap(),
            TilePath::Subtree {
                layer: "buildings".into(),
                id: "0/0/0".into()
            }
        );
        assert_eq!(
            TilePath::parse("buildings/subtrees/4/3/9.subtree")
                .unwrap()
                .relative(),
            "buildings/subtrees/4/3/9.subtree"
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
