//! Where tiles come from: the [`TileSource`] trait, the 3D Tiles generator behind the server
//! ([`GeneratedTiles`], planned once per layer from the twin), and the checked [`TilePath`] of
//! a request.

use super::error::ApiError;
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
    let p = std::rc::Rc::new(Projector::new(crs)?);
    PROJECTOR.with(|c| *c.borrow_mut() = Some((def.to_string(), p.clone())));
    Ok(p)
}

impl GeneratedTiles {
    /// Plan every layer the twin has. `fingerprint` identifies the twin's data (see
    /// [`twin_fingerprint`]); with the generator and the options it keys the disk cache.
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
            TilePath::Basemap { .. } => Ok(None),
            TilePath::LayerTileset(l) => match self.set(l) {
                None => Ok(None),
                Some(ts) => Ok(Some(tiles::tileset_bytes(&ts.tileset_json())?)),
            },
            TilePath::Subtree { layer, id } => Ok(self.set(layer).and_then(|ts| ts.subtree(id))),
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
    /// A basemap tile, `basemap/<z>/<x>/<y>.png` (`<y>@2x.png` at 512 pixels): made by the
    /// basemap's own source ([`crate::basemap`]), never by a 3D Tiles source.
    Basemap {
        /// Zoom.
        z: u8,
        /// Column.
        x: u32,
        /// Row.
        y: u32,
        /// 1, or 2 for 512-pixel tiles.
        scale: u8,
    },
    /// `<layer>/subtrees/<id>.subtree` of an implicit tileset, e.g.
    /// `buildings/subtrees/0/0/0.subtree` has id `0/0/0`.
    Subtree {
        /// The layer.
        layer: String,
        /// The subtree's root tile, `level/x/y`.
        id: String,
    },
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
            [layer, "subtrees", rest @ ..] if !rest.is_empty() => {
                match rest.join("/").strip_suffix(".subtree") {
                    Some(id) if !id.is_empty() => Ok(TilePath::Subtree {
                        layer: layer.to_string(),
                        id: id.to_string(),
                    }),
                    _ => Err(ApiError::not_found(format!("no tile file {path:?}"))),
                }
            }
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
            TilePath::Basemap { z, x, y, scale: 1 } => format!("basemap/{z}/{x}/{y}.png"),
            TilePath::Basemap { z, x, y, scale } => format!("basemap/{z}/{x}/{y}@{scale}x.png"),
            TilePath::Subtree { layer, id } => format!("{layer}/subtrees/{id}.subtree"),
        }
    }

    /// The layer, if the path is in one.
    pub fn layer(&self) -> Option<&str> {
        match self {
            TilePath::Root | TilePath::Basemap { .. } => None,
            TilePath::LayerTileset(l)
            | TilePath::Content { layer: l, .. }
            | TilePath::Subtree { layer: l, .. } => Some(l),
        }
    }

    /// The media type of the file.
    pub fn content_type(&self) -> &'static str {
        match self {
            TilePath::Content { .. } => "model/gltf-binary",
            TilePath::Basemap { .. } => "image/png",
            TilePath::Subtree { .. } => "application/octet-stream",
            _ => "application/json",
        }
    }
}

/// A short fingerprint of a twin folder's data (`twin.toml` and the store's size and
/// modification time): it changes when the twin is rebuilt, so the disk tile cache of an older
/// build is not served.
pub fn twin_fingerprint(dir: &twin_core::TwinDir) -> String {
    let mut h = blake3::Hasher::new();
    if let Ok(t) = std::fs::read(dir.dir.join("twin.toml")) {
        h.update(&t);
    }
    if let Ok(m) = std::fs::metadata(dir.store_path()) {
        h.update(&m.len().to_le_bytes());
        if let Ok(t) = m.modified().and_then(|t| {
            t.duration_since(std::time::UNIX_EPOCH)
                .map_err(std::io::Error::other)
        }) {
            h.update(&t.as_nanos().to_le_bytes());
        }
    }
    h.finalize().to_hex()[..16].to_string()
}
