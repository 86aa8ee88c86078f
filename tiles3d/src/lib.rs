//! `tiles3d`: OGC 3D Tiles 1.1 from a twin, as a library (no HTTP, no async runtime, no GPU).
//!
//! A [`Tileset`] is planned once per layer ([`Tileset::plan`]): a tree of tiles with their
//! `region` bounding volumes, geometric errors, refinement and east-north-up transforms, and
//! which features, terrain cells or points each tile holds. From the plan, `tileset.json`
//! ([`Tileset::tileset_json`]) and any single tile's glTF binary ([`Tileset::tile_content`]) can
//! be produced on their own, which is what the HTTP server does on demand; [`export`] writes
//! every layer to a folder, one tile at a time (memory bounded by a tile per thread).
//!
//! Planning a tileset and making its files:
//!
//! ```
//! use geo_types::polygon;
//! use tiles3d::{Tileset, TilesetOptions};
//! use twin_core::model::{Building, HeightSource, Imported};
//! use twin_core::{Crs, LayerKind, Twin};
//!
//! // One 20 m × 20 m, 12 m high building in Huế (UTM 48N).
//! let mut twin = Twin::new("demo", Crs::epsg(32648).unwrap())?;
//! let (x, y) = (747_000.0, 1_823_000.0);
//! twin.add(Imported {
//!     buildings: vec![Building {
//!         id: "b1".into(),
//!         footprint: polygon![(x: x, y: y), (x: x + 20.0, y: y), (x: x + 20.0, y: y + 20.0),
//!                             (x: x, y: y + 20.0), (x: x, y: y)].into(),
//!         height: 12.0, base_height: 3.0, levels: Some(4), usage: None, name: None,
//!         source_id: "1".into(), height_source: HeightSource::Levels, solid: None,
//!         attributes: Default::default(),
//!     }],
//!     ..Default::default()
//! })?;
//! let set = Tileset::plan(&twin, LayerKind::Buildings, &TilesetOptions::default())?;
//! let root = set.root();
//! let glb = set.tile_content(&twin, &root.id)?;
//! assert_eq!(&glb[..4], b"glTF");
//! assert!(tiles3d::tileset_bytes(&set.tileset_json())?.starts_with(b"{"));
//! # Ok::<(), tiles3d::Error>(())
//! ```
//!
//! Layout of an export: `tileset.json` (the layers as external tilesets) and, per layer,
//! `<layer>/tileset.json` and `<layer>/<tile id>.glb`.
//!
//! Content: glTF 2.0 binary, y-up (glTF y = up, z = −north in the tile's ENU frame), with
//! `EXT_mesh_features` feature ids and `EXT_structural_metadata` property tables under the one
//! schema of [`schema::schema`]; point clouds as POINTS with `COLOR_0` and intensity and
//! classification as property attributes. Heights are ellipsoidal: source heights are
//! orthometric and get the geoid undulation of [`geodesy::GeoidLattice`].

mod bounds;
pub mod error;
pub mod geodesy;
pub mod results;
pub mod schema;
pub mod tileset_json;
pub mod water;

mod features;
mod glb;
mod implicit;
mod mesh;
mod metadata;
mod points;
mod terrain;
mod tree;

pub use error::{Error, Result};
pub use features::{
    block_of, building_base, heritage_height_limit, heritage_of, Block, BLOCK_CONCAVITY,
    BLOCK_MIN_EDGE_M, HERITAGE_DEFAULT_HEIGHT_M,
};
pub use implicit::ImplicitStats;
pub use points::PointColour;

use bounds::Bounds;
use geodesy::{Frame, GeoidChoice, GeoidLattice, GeoidModel, Projector, Region};
use mesh::Placer;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tileset_json::{
    Asset, BoundingVolume, ContentJson, HuetwinInfo, ImplicitTilingJson, SubtreesJson, TileJson,
    TilesetJson,
};
use twin_core::Progress;
use twin_core::{LayerKind, Twin};

/// The generator named in glTF and tileset assets.
pub const GENERATOR: &str = concat!("huetwin tiles3d ", env!("CARGO_PKG_VERSION"));

/// The content URI template of an implicit tileset's tiles (relative to its tileset.json).
pub const IMPLICIT_CONTENT_URI: &str = "{level}/{x}/{y}.glb";

/// The URI template of an implicit tileset's subtree files (relative to its tileset.json).
pub const IMPLICIT_SUBTREE_URI: &str = "subtrees/{level}/{x}/{y}.subtree";

/// The twin layers that become tilesets, in export order: buildings (LoD1 extrusions or LoD2
/// surfaces), heritage sites (translucent volumes up to their height limit), terrain meshes
/// and point clouds.
pub const TILE_LAYERS: [LayerKind; 4] = [
    LayerKind::Buildings,
    LayerKind::Heritage,
    LayerKind::Terrain,
    LayerKind::Pointclouds,
];

/// The tileset layer named `s`; none for a name that is not one of [`TILE_LAYERS`].
pub fn tile_layer(s: &str) -> Option<LayerKind> {
    LayerKind::parse(s).filter(|k| TILE_LAYERS.contains(k))
}

/// How a tile's children refine it (written `ADD` or `REPLACE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Refine {
    /// Children add to the parent's content.
    Add,
    /// Children replace the parent's content.
    Replace,
}

impl Refine {
    /// The tileset.json spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Refine::Add => "ADD",
            Refine::Replace => "REPLACE",
        }
    }
}

/// Limits of the tile trees and the geoid to use.
#[derive(Clone, Debug)]
pub struct TilesetOptions {
    /// Most features in a leaf tile.
    pub max_features: usize,
    /// Most estimated glTF bytes in a leaf tile.
    pub max_bytes: usize,
    /// Features an inner tile keeps (its largest ones) as coarse content.
    pub parent_features: usize,
    /// Deepest quadtree level.
    pub max_depth: u32,
    /// Most points in a leaf point-cloud tile.
    pub max_points: usize,
    /// An inner point-cloud tile keeps one point per cell of a grid this many cells a side.
    pub point_grid: usize,
    /// Terrain cells a side in one terrain tile (at every level: coarser tiles skip cells).
    pub terrain_tile_cells: usize,
    /// An inner terrain tile's geometric error is at least this share of its width (the larger
    /// side, in metres), besides its vertical error: imagery draped on a 3D tileset gets a
    /// fixed number of texels per tile (CesiumJS drapes about one imagery tile on each, 512
    /// pixels for the viewer's `@2x` basemap, so texels of up to width / 256), and a tile of
    /// nearly flat ground, whose vertical error is tiny, stayed coarse and its imagery blurred.
    /// 1/16: such a tile refines before a texel covers more than a pixel at the viewer's
    /// maximum screen-space error of 16. Above 0, full-resolution terrain tiles are also split
    /// down to 32 cells a side, for the imagery's sake. 0: vertical error only, no split
    /// (water surfaces).
    pub terrain_drape_error: f64,
    /// Geoid grid through PROJ when available, or always the constant offset.
    pub geoid: GeoidChoice,
    /// The constant geoid undulation (twin.toml `geoid_offset_m`).
    pub geoid_offset_m: f64,
    /// Colour of terrain meshes (linear RGBA; alpha below 1 blends, as for water surfaces).
    pub terrain_rgba: [f64; 4],
    /// What point clouds' COLOR_0 shows (stated per cloud in the tileset's metadata).
    pub point_colour: PointColour,
    /// Compact content (default): quantized attributes (`KHR_mesh_quantization`) compressed
    /// with meshoptimizer (`EXT_meshopt_compression`), as CesiumJS reads them; false writes
    /// plain float glTF for clients without them.
    pub compact: bool,
    /// Implicit tiling (3D Tiles 1.1 `implicitTiling`: a quadtree of the layer's region with
    /// `.subtree` files, ADR 0017) for the buildings and heritage layers; terrain and point
    /// clouds keep their explicit trees. `tileset.json` then stays the same size whatever
    /// the number of features.
    pub implicit: bool,
}

impl Default for TilesetOptions {
    fn default() -> Self {
        TilesetOptions {
            max_features: 1000,
            max_bytes: 2 << 20,
            parent_features: 250,
            max_depth: 16,
            max_points: 50_000,
            point_grid: 128,
            terrain_tile_cells: 64,
            terrain_drape_error: 1.0 / 16.0,
            geoid: GeoidChoice::Auto,
            geoid_offset_m: 0.0,
            terrain_rgba: terrain::GROUND_RGBA,
            point_colour: PointColour::Auto,
            compact: true,
            implicit: false,
        }
    }
}

impl TilesetOptions {
    /// Default limits with the geoid offset of a twin's config.
    pub fn for_config(cfg: &twin_core::TwinConfig) -> TilesetOptions {
        TilesetOptions {
            geoid_offset_m: cfg.geoid_offset_m,
            ..TilesetOptions::default()
        }
    }

    fn check(&self) -> Result<()> {
        if self.max_features == 0 || self.parent_features == 0 || self.max_points == 0 {
            return Err(Error::invalid(
                "tileset options",
                "feature and point limits must be at least 1",
            ));
        }
        if self.point_grid < 2 || self.terrain_tile_cells < 2 {
            return Err(Error::invalid(
                "tileset options",
                "point_grid and terrain_tile_cells must be at least 2",
            ));
        }
        if self.implicit && self.max_depth > 30 {
            return Err(Error::invalid(
                "tileset options",
                format!(
                    "max_depth {} is too deep for implicit tiling (at most 30)",
                    self.max_depth
                ),
            ));
        }
        if !self.geoid_offset_m.is_finite() {
            return Err(Error::invalid(
                "tileset options",
                "geoid_offset_m must be finite",
            ));
        }
        Ok(())
    }
}

/// What a tile holds.
#[derive(Clone, Debug)]
pub(crate) enum Content {
    /// Nothing (a grouping tile).
    None,
    /// Feature indices of the vector layer.
    Features(Vec<u32>),
    /// Groups of building indices, each drawn as one merged block ([`features::Block`]).
    Blocks(Vec<Vec<u32>>),
    /// A block of a DEM's vertices (cell centres), every `stride`-th, plus the last.
    Terrain {
        dem: usize,
        c0: usize,
        r0: usize,
        c1: usize,
        r1: usize,
        stride: usize,
    },
    /// Point indices of a cloud.
    Points { cloud: usize, idx: Vec<u32> },
}

/// A tile of a planned tileset.
#[derive(Clone, Debug)]
pub struct Tile {
    /// Its id, unique in the tileset: `level/x/y` (buildings, heritage),
    /// `d<dem>/level/x/y` (terrain), `c<cloud>/level/x/y` (point clouds) or `root`.
    pub id: String,
    /// Bounding volume holding its content and all its descendants'.
    pub region: Region,
    /// Metres of error when this tile is drawn without its descendants.
    pub geometric_error: f64,
    /// How its children refine it.
    pub refine: Refine,
    /// Its local frame (ENU at the region's centre); content positions are in it.
    pub frame: Frame,
    /// Indices of its children in [`Tileset::tiles`].
    pub children: Vec<usize>,
    /// Index of its parent.
    pub parent: Option<usize>,
    /// Number of features or points in its content.
    pub count: usize,
    pub(crate) content: Content,
}

impl Tile {
    /// The features (building or heritage indices of the twin) its content draws: its own,
    /// or those merged into its blocks for a block tile (`b<level>/<x>/<y>`).
    pub fn features(&self) -> Vec<u32> {
        match &self.content {
            Content::Features(idx) => idx.clone(),
            Content::Blocks(groups) => groups.iter().flatten().copied().collect(),
            _ => Vec::new(),
        }
    }

    /// A block tile's groups of features, one per block (see [`block_of`]); none for others.
    pub fn block_groups(&self) -> Vec<Vec<u32>> {
        match &self.content {
            Content::Blocks(groups) => groups.clone(),
            _ => Vec::new(),
        }
    }

    /// Whether its content is merged blocks standing for its descendants.
    pub fn is_blocks(&self) -> bool {
        matches!(self.content, Content::Blocks(_))
    }

    /// The content URI relative to the layer's tileset.json, when the tile has content.
    pub fn content_uri(&self) -> Option<String> {
        match self.content {
            Content::None => None,
            _ => Some(format!("{}.glb", self.id)),
        }
    }
}

/// A planning node, before regions are unioned and frames chosen.
pub(crate) struct PlanNode {
    pub id: String,
    pub content: Content,
    pub content_region: Option<Region>,
    pub count: usize,
    pub error: f64,
    pub refine: Refine,
    pub children: Vec<PlanNode>,
}

/// A planned tileset for one layer of a twin.
#[derive(Clone, Debug)]
pub struct Tileset {
    layer: LayerKind,
    tiles: Vec<Tile>,
    ids: HashMap<String, usize>,
    geoid: GeoidLattice,
    geometric_error: f64,
    crs: String,
    /// Per point cloud: its name and what its colouring needs.
    cloud_stats: Vec<(String, points::CloudStats)>,
    terrain_rgba: [f64; 4],
    /// Water depth (m) on the terrain's grid: terrain tiles then carry it per vertex
    /// (`_DEPTH_M`) and are coloured by depth class (`COLOR_0`); set by [`water::WaterTiles`].
    water_depth: Option<std::sync::Arc<twin_core::model::Dem>>,
    /// Quantize and compress content ([`TilesetOptions::compact`]).
    compact: bool,
    /// The implicit tree's addressing, for an implicit tileset ([`TilesetOptions::implicit`]).
    implicit: Option<implicit::Implicit>,
}

fn flatten(node: PlanNode, parent: Option<usize>, out: &mut Vec<Tile>) -> Option<usize> {
    let me = out.len();
    out.push(Tile {
        id: node.id,
        region: node.content_region.unwrap_or(Region {
            west: f64::INFINITY,
            south: f64::INFINITY,
            east: f64::NEG_INFINITY,
            north: f64::NEG_INFINITY,
            min_h: f64::INFINITY,
            max_h: f64::NEG_INFINITY,
        }),
        geometric_error: node.error,
        refine: node.refine,
        frame: Frame::enu(0.0, 0.0, 0.0),
        children: Vec::new(),
        parent,
        count: node.count,
        content: node.content,
    });
    let mut region = node.content_region;
    let mut children = Vec::new();
    for c in node.children {
        if let Some(ci) = flatten(c, Some(me), out) {
            let r = out[ci].region;
            region = Some(match region {
                Some(x) => x.union(&r),
                None => r,
            });
            children.push(ci);
        }
    }
    let Some(region) = region else {
        out.truncate(me);
        return None;
    };
    let t = &mut out[me];
    t.region = region;
    let (lon, lat, h) = region.centre();
    t.frame = Frame::enu(lon, lat, h);
    t.children = children;
    Some(me)
}

impl Tileset {
    /// Plan the tile tree of one layer of the twin.
    pub fn plan(twin: &Twin, layer: LayerKind, opts: &TilesetOptions) -> Result<Tileset> {
        opts.check()?;
        if !TILE_LAYERS.contains(&layer) {
            return Err(Error::invalid(
                "layer",
                format!(
                    "{layer} has no tileset (tile layers: {})",
                    LayerKind::names(&TILE_LAYERS)
                ),
            ));
        }
        if !twin.has(layer) {
            return Err(Error::invalid(
                "layer",
                format!("the twin has no {} to tile", layer.name()),
            ));
        }
        let proj = Projector::new(&twin.crs)?;
        let mut cloud_stats = Vec::new();
        let (root, geoid, extra_error) = match layer {
            LayerKind::Buildings | LayerKind::Heritage if opts.implicit => {
                return implicit_plan(twin, layer, opts);
            }
            LayerKind::Buildings | LayerKind::Heritage => features_plan(twin, layer, opts, &proj)?,
            LayerKind::Terrain => {
                let extent = terrain::extent(twin);
                let geoid = GeoidLattice::new(&twin.crs, extent, opts.geoid, opts.geoid_offset_m)?;
                let root = terrain::plan(twin, opts, &proj, &geoid)?;
                (root, geoid, 0.0)
            }
            LayerKind::Pointclouds => {
                let extent = points::extent(twin);
                let geoid = GeoidLattice::new(&twin.crs, extent, opts.geoid, opts.geoid_offset_m)?;
                cloud_stats = twin
                    .pointclouds
                    .iter()
                    .map(|c| (c.name.clone(), points::CloudStats::of(c, opts.point_colour)))
                    .collect();
                let root = points::plan(twin, opts, &proj, &geoid)?;
                (root, geoid, 0.0)
            }
            LayerKind::Sensors | LayerKind::Roads | LayerKind::Water | LayerKind::LandUse => {
                unreachable!("checked against TILE_LAYERS above")
            }
        };
        let mut tiles = Vec::new();
        if flatten(root, None, &mut tiles).is_none() {
            return Err(Error::invalid(
                "layer",
                format!("no {} with usable geometry", layer.name()),
            ));
        }
        // Grouping tiles without content must always refine: give them at least their size.
        for i in (0..tiles.len()).rev() {
            let child_max = tiles[i]
                .children
                .iter()
                .map(|&c| tiles[c].geometric_error)
                .fold(0.0, f64::max);
            let t = &mut tiles[i];
            if matches!(t.content, Content::None) {
                t.geometric_error = t.geometric_error.max(t.region.diagonal_m());
            }
            t.geometric_error = t.geometric_error.max(child_max);
        }
        let geometric_error = tiles[0]
            .geometric_error
            .max(extra_error)
            .max(tiles[0].region.diagonal_m() / 4.0);
        let ids = tiles
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id.clone(), i))
            .collect();
        Ok(Tileset {
            layer,
            tiles,
            ids,
            geoid,
            geometric_error,
            crs: twin.crs.definition().to_string(),
            cloud_stats,
            terrain_rgba: opts.terrain_rgba,
            water_depth: None,
            compact: opts.compact,
            implicit: None,
        })
    }

    /// The layer.
    pub fn layer(&self) -> LayerKind {
        self.layer
    }

    /// The tiles, root first (pre-order).
    pub fn tiles(&self) -> &[Tile] {
        &self.tiles
    }

    /// A tile by id.
    pub fn tile(&self, id: &str) -> Option<&Tile> {
        self.ids.get(id).map(|&i| &self.tiles[i])
    }

    /// The root tile.
    pub fn root(&self) -> &Tile {
        &self.tiles[0]
    }

    /// The tileset's geometric error (the error of drawing nothing).
    pub fn geometric_error(&self) -> f64 {
        self.geometric_error
    }

    /// How heights were made ellipsoidal.
    pub fn geoid(&self) -> &GeoidModel {
        self.geoid.model()
    }

    /// The layer's `tileset.json`.
    pub fn tileset_json(&self) -> TilesetJson {
        TilesetJson {
            asset: Asset::huetwin(Some(HuetwinInfo {
                twin: None,
                layer: Some(self.layer.name().into()),
                project_crs: self.crs.clone(),
                heights: Some("ellipsoidal (WGS84); source heights are orthometric".into()),
                geoid: self.geoid.model().describe(),
            })),
            geometric_error: self.geometric_error,
            root: match &self.implicit {
                Some(imp) => self.implicit_root_json(imp.stats),
                None => self.tile_json(0),
            },
            schema: (self.layer != LayerKind::Terrain).then(schema::schema),
            metadata: (self.layer == LayerKind::Pointclouds)
                .then(|| schema::point_layer_metadata(&self.cloud_stats)),
        }
    }

    /// True for an implicit tileset ([`TilesetOptions::implicit`]).
    pub fn is_implicit(&self) -> bool {
        self.implicit.is_some()
    }

    /// Levels, subtree levels and content limits of an implicit tileset.
    pub fn implicit_stats(&self) -> Option<ImplicitStats> {
        self.implicit.as_ref().map(|i| i.stats)
    }

    /// The ids (`level/x/y`) of an implicit tileset's subtree files, root first; none for an
    /// explicit one.
    pub fn subtree_ids(&self) -> Vec<String> {
        self.implicit
            .as_ref()
            .map(|imp| {
                imp.subtree_roots()
                    .into_iter()
                    .map(|(l, x, y)| format!("{l}/{x}/{y}"))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The binary `.subtree` file `id` (`level/x/y`, at [`IMPLICIT_SUBTREE_URI`] relative to
    /// the layer's tileset.json) of an implicit tileset: which tiles of its levels exist, which
    /// have content, which child subtrees exist. None when the tileset has no such subtree.
    pub fn subtree(&self, id: &str) -> Option<Vec<u8>> {
        let imp = self.implicit.as_ref()?;
        let mut parts = id.split('/').map(|p| p.parse::<u32>().ok());
        let key = match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(Some(l)), Some(Some(x)), Some(Some(y)), None) => (l, x, y),
            _ => return None,
        };
        imp.subtree(key, |i| {
            !matches!(
                self.tiles.get(i).map(|t| &t.content),
                Some(Content::None) | None
            )
        })
    }

    fn implicit_root_json(&self, stats: ImplicitStats) -> TileJson {
        let t = &self.tiles[0];
        TileJson {
            bounding_volume: BoundingVolume {
                region: t.region.to_array(),
            },
            geometric_error: t.geometric_error,
            refine: Some(t.refine),
            transform: Some(t.frame.matrix()),
            content: Some(ContentJson {
                uri: IMPLICIT_CONTENT_URI.into(),
            }),
            implicit_tiling: Some(ImplicitTilingJson {
                subdivision_scheme: "QUADTREE".into(),
                subtree_levels: stats.subtree_levels,
                available_levels: stats.available_levels,
                subtrees: SubtreesJson {
                    uri: IMPLICIT_SUBTREE_URI.into(),
                },
            }),
            children: Vec::new(),
        }
    }

    fn tile_json(&self, i: usize) -> TileJson {
        let t = &self.tiles[i];
        let transform = match t.parent {
            None => t.frame.matrix(),
            Some(p) => t.frame.relative_to(&self.tiles[p].frame),
        };
        TileJson {
            bounding_volume: BoundingVolume {
                region: t.region.to_array(),
            },
            geometric_error: t.geometric_error,
            refine: Some(t.refine),
            transform: Some(transform),
            content: t.content_uri().map(|uri| ContentJson { uri }),
            implicit_tiling: None,
            children: t.children.iter().map(|&c| self.tile_json(c)).collect(),
        }
    }

    /// The glTF binary of one tile.
    pub fn tile_content(&self, twin: &Twin, id: &str) -> Result<Vec<u8>> {
        let proj = Projector::new(&twin.crs)?;
        self.tile_content_with(twin, id, &proj)
    }

    /// [`Tileset::tile_content`] reusing a projector (one per thread; making one costs PROJ a
    /// database look-up).
    pub fn tile_content_with(&self, twin: &Twin, id: &str, proj: &Projector) -> Result<Vec<u8>> {
        let Some(t) = self.tile(id) else {
            return Err(Error::invalid(
                "tile id",
                format!("{} has no tile {id:?}", self.layer.name()),
            ));
        };
        let placer = Placer {
            proj,
            geoid: &self.geoid,
            frame: &t.frame,
        };
        match &t.content {
            Content::None => Err(Error::invalid(
                "tile id",
                format!("tile {id:?} has no content"),
            )),
            Content::Features(idx) => {
                features::vector_glb(twin, self.layer, idx, &placer, self.compact, GENERATOR)
            }
            Content::Blocks(groups) => {
                features::blocks_glb(twin, id, groups, &placer, self.compact, GENERATOR)
            }
            Content::Terrain {
                dem,
                c0,
                r0,
                c1,
                r1,
                stride,
            } => {
                let d = twin.terrain.get(*dem).ok_or_else(|| {
                    Error::invalid("tile id", format!("tile {id:?}: the twin has no DEM {dem}"))
                })?;
                terrain::glb(
                    d,
                    [*c0, *r0, *c1, *r1],
                    *stride,
                    &placer,
                    self.terrain_rgba,
                    self.water_depth.as_deref(),
                    self.compact,
                    GENERATOR,
                )
            }
            Content::Points { cloud, idx } => {
                let c = twin.pointclouds.get(*cloud).ok_or_else(|| {
                    Error::invalid(
                        "tile id",
                        format!("tile {id:?}: the twin has no point cloud {cloud}"),
                    )
                })?;
                let stats = self
                    .cloud_stats
                    .get(*cloud)
                    .map(|(_, s)| *s)
                    .unwrap_or_default();
                points::glb(c, idx, stats, &placer, self.compact, GENERATOR)
            }
        }
    }
}

/// The features of a vector layer ready to place: planning items, boxes (by feature index),
/// extent, largest size and the geoid lattice over the extent.
struct FeatureSet {
    items: Vec<tree::Item>,
    boxes: Vec<Option<features::FeatureBox>>,
    ext: [f64; 4],
    max_size: f64,
    geoid: GeoidLattice,
}

fn feature_set(twin: &Twin, layer: LayerKind, opts: &TilesetOptions) -> Result<FeatureSet> {
    let n = match layer {
        LayerKind::Buildings => twin.buildings.len(),
        _ => twin.heritage.len(),
    };
    let found: Vec<Option<(tree::Item, features::FeatureBox)>> = (0..n)
        .into_par_iter()
        .map(|i| match layer {
            LayerKind::Buildings => twin
                .buildings
                .get(i)
                .and_then(|b| features::building_item(twin, i, b)),
            _ => twin
                .heritage
                .get(i)
                .and_then(|h| features::heritage_item(twin, i, h)),
        })
        .collect();
    let boxes: Vec<Option<features::FeatureBox>> = found.iter().map(|f| f.map(|x| x.1)).collect();
    let items: Vec<tree::Item> = found.into_iter().flatten().map(|x| x.0).collect();
    if items.is_empty() {
        return Err(Error::invalid(
            "layer",
            format!("no {} with usable geometry", layer.name()),
        ));
    }
    let ext = Bounds::of_rects(boxes.iter().flatten().map(|fb| fb.rect));
    let max_size = items.iter().map(|it| it.size as f64).fold(0.0, f64::max);
    let geoid = GeoidLattice::new(&twin.crs, ext, opts.geoid, opts.geoid_offset_m)?;
    Ok(FeatureSet {
        items,
        boxes,
        ext,
        max_size,
        geoid,
    })
}

fn tree_limits(opts: &TilesetOptions) -> tree::Limits {
    tree::Limits {
        max_features: opts.max_features,
        max_bytes: opts.max_bytes,
        parent_features: opts.parent_features,
        max_depth: opts.max_depth,
    }
}

/// Plan buildings or heritage sites: items, boxes, geoid lattice, quadtree.
fn features_plan(
    twin: &Twin,
    layer: LayerKind,
    opts: &TilesetOptions,
    proj: &Projector,
) -> Result<(PlanNode, GeoidLattice, f64)> {
    let FeatureSet {
        items,
        boxes,
        ext,
        max_size,
        geoid,
    } = feature_set(twin, layer, opts)?;
    let side = (ext[2] - ext[0]).max(ext[3] - ext[1]).max(1.0) * (1.0 + 1e-9);
    let root = tree::build(items, (ext[0], ext[1], side), &tree_limits(opts));
    let blocks = (layer == LayerKind::Buildings).then_some(twin);
    let node = to_plan(root, &boxes, proj, &geoid, blocks)?;
    Ok((node, geoid, max_size))
}

/// The region of implicit tile (level, x, y) of a root region: the root's heights, its
/// longitudes and latitudes cut in 2^level, computed as 3D Tiles clients do.
fn implicit_region(root: &Region, level: u32, x: u32, y: u32) -> Region {
    let n = (1u64 << level) as f64;
    let (sx, sy) = ((root.east - root.west) / n, (root.north - root.south) / n);
    Region {
        west: root.west + sx * x as f64,
        east: root.west + sx * (x as f64 + 1.0),
        south: root.south + sy * y as f64,
        north: root.south + sy * (y as f64 + 1.0),
        min_h: root.min_h,
        max_h: root.max_h,
    }
}

/// Plan an implicit tileset of buildings or heritage sites (ADR 0017): each feature's lon/lat
/// box, the implicit quadtree over their union, geometric error halving per level, one ENU
/// frame (the root's) for all content.
fn implicit_plan(twin: &Twin, layer: LayerKind, opts: &TilesetOptions) -> Result<Tileset> {
    let fs = feature_set(twin, layer, opts)?;
    let regions: Vec<Region> = fs
        .items
        .par_iter()
        .map_init(
            || Projector::new(&twin.crs),
            |proj, it| -> Result<Region> {
                let proj = proj
                    .as_ref()
                    .map_err(|e| Error::invalid("projector", e.to_string()))?;
                let fb = fs.boxes[it.idx as usize].ok_or_else(|| {
                    Error::invalid("layer", format!("feature {} has no box", it.idx))
                })?;
                let (a, c) = fs.geoid.range(fb.rect);
                Region::from_rect_steps(proj, fb.rect, fb.zmin + a, fb.zmax + c, 1)
            },
        )
        .collect::<Result<_>>()?;
    let root = regions[1..].iter().fold(regions[0], |acc, r| acc.union(r));
    let (w, h) = (root.east - root.west, root.north - root.south);
    let lat_eq = if root.south <= 0.0 && root.north >= 0.0 {
        0.0
    } else {
        root.south.abs().min(root.north.abs())
    };
    let root_m = (w * geodesy::WGS84_A * lat_eq.cos()).max(h * geodesy::WGS84_A);
    let qitems: Vec<implicit::QItem> = fs
        .items
        .iter()
        .zip(&regions)
        .map(|(it, r)| implicit::QItem {
            idx: it.idx,
            uv: [
                (r.west - root.west) / w,
                (r.south - root.south) / h,
                (r.east - root.west) / w,
                (r.north - root.south) / h,
            ],
            size: it.size,
            bytes: it.bytes,
        })
        .collect();
    let cells = implicit::build(qitems, root_m, &tree_limits(opts));
    let g = implicit::root_error(&cells);
    // Available tiles: those with content and their ancestors.
    let mut content: HashMap<(u32, u32, u32), Vec<u32>> = HashMap::new();
    let mut available: std::collections::HashSet<(u32, u32, u32)> = Default::default();
    let mut stats = ImplicitStats::default();
    for c in cells {
        stats.over_limit_tiles += usize::from(c.over);
        stats.max_tile_features = stats.max_tile_features.max(c.content.len());
        stats.available_levels = stats.available_levels.max(c.level + 1);
        let (mut l, mut x, mut y) = (c.level, c.x, c.y);
        while available.insert((l, x, y)) && l > 0 {
            (l, x, y) = (l - 1, x / 2, y / 2);
        }
        available.insert((0, 0, 0));
        content.insert((c.level, c.x, c.y), c.content);
    }
    stats.subtree_levels = implicit::subtree_levels(stats.available_levels);
    let (lon, lat, hc) = root.centre();
    let frame = Frame::enu(lon, lat, hc);
    let mut tiles = Vec::with_capacity(available.len());
    let mut at = HashMap::with_capacity(available.len());
    // Pre-order, children in Morton order.
    let mut stack = vec![((0u32, 0u32, 0u32), None::<usize>)];
    while let Some(((l, x, y), parent)) = stack.pop() {
        let me = tiles.len();
        let idx = content.remove(&(l, x, y));
        tiles.push(Tile {
            id: format!("{l}/{x}/{y}"),
            region: implicit_region(&root, l, x, y),
            geometric_error: g / (1u64 << l) as f64,
            refine: Refine::Add,
            frame,
            children: Vec::new(),
            parent,
            count: idx.as_ref().map_or(0, Vec::len),
            content: idx.map_or(Content::None, Content::Features),
        });
        at.insert((l, x, y), me);
        if let Some(p) = parent {
            tiles[p].children.push(me);
        }
        for m in (0..4u32).rev() {
            let k = (l + 1, x * 2 + (m & 1), y * 2 + (m >> 1));
            if available.contains(&k) {
                stack.push((k, Some(me)));
            }
        }
    }
    let ids = tiles
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id.clone(), i))
        .collect();
    Ok(Tileset {
        layer,
        geometric_error: g.max(fs.max_size).max(root.diagonal_m() / 4.0),
        tiles,
        ids,
        geoid: fs.geoid,
        crs: twin.crs.definition().to_string(),
        cloud_stats: Vec::new(),
        terrain_rgba: opts.terrain_rgba,
        water_depth: None,
        compact: opts.compact,
        implicit: Some(implicit::Implicit { stats, at }),
    })
}

/// A planned tree node, from the quadtree. With `blocks` (the buildings layer), a node with
/// descendants gets one more tile between it and its children: `b<level>/<x>/<y>`, its
/// descendants merged into blocks ([`features::blocks_glb`]), refined by REPLACE, so the
/// opening view shows the whole city's mass and the blocks go when the real buildings load
/// (docs/adr/0026, "city mass").
fn to_plan(
    n: tree::Node,
    boxes: &[Option<features::FeatureBox>],
    proj: &Projector,
    geoid: &GeoidLattice,
    blocks: Option<&Twin>,
) -> Result<PlanNode> {
    let mut b = Bounds::EMPTY;
    let (mut nmin, mut nmax) = (f64::INFINITY, f64::NEG_INFINITY);
    for &i in &n.content {
        if let Some(fb) = boxes[i as usize] {
            b.add_rect(fb.rect);
            b.add_z(fb.zmin);
            b.add_z(fb.zmax);
            let (a, c) = geoid.range(fb.rect);
            nmin = nmin.min(a);
            nmax = nmax.max(c);
        }
    }
    let (r, (zmin, zmax)) = (b.rect, b.z);
    let content_region = if n.content.is_empty() {
        None
    } else {
        Some(Region::from_rect(proj, r, zmin + nmin, zmax + nmax)?)
    };
    let mut children = Vec::with_capacity(n.children.len());
    for c in n.children {
        children.push(to_plan(c, boxes, proj, geoid, blocks)?);
    }
    let id = format!("{}/{}/{}", n.level, n.x, n.y);
    if let Some(twin) = blocks.filter(|_| !children.is_empty()) {
        children = vec![blocks_plan(
            twin, &id, n.blocks, n.error, geoid, proj, children,
        )?];
    }
    Ok(PlanNode {
        id,
        count: n.content.len(),
        content: if n.content.is_empty() {
            Content::None
        } else {
            Content::Features(n.content)
        },
        content_region,
        error: n.error,
        refine: Refine::Add,
        children,
    })
}

/// The block tile over a node's `children`: its groups that make a block, its region, refined
/// by REPLACE. Its geometric error is half its parent's (at least its children's): the
/// blocks show while the parent has refined and the buildings below are still too small.
fn blocks_plan(
    twin: &Twin,
    id: &str,
    groups: Vec<Vec<u32>>,
    parent_error: f64,
    geoid: &GeoidLattice,
    proj: &Projector,
    children: Vec<PlanNode>,
) -> Result<PlanNode> {
    let mut b = Bounds::EMPTY;
    let (mut nmin, mut nmax) = (f64::INFINITY, f64::NEG_INFINITY);
    let mut kept = Vec::with_capacity(groups.len());
    let mut count = 0;
    for g in groups {
        let Some(bl) = features::block_of(twin, &g) else {
            // Keep the group's place (its id is its position) but draw nothing.
            kept.push(Vec::new());
            continue;
        };
        let Some(r) = geo::BoundingRect::bounding_rect(&bl.hull) else {
            kept.push(Vec::new());
            continue;
        };
        let rect = [r.min().x, r.min().y, r.max().x, r.max().y];
        b.add_rect(rect);
        b.add_z(bl.base);
        b.add_z(bl.base + bl.mean_height);
        let (a, c) = geoid.range(rect);
        nmin = nmin.min(a);
        nmax = nmax.max(c);
        count += 1;
        kept.push(g);
    }
    let child_error = children.iter().map(|c| c.error).fold(0.0, f64::max);
    let error = (parent_error / 2.0).max(child_error);
    if count == 0 {
        // Nothing to merge: a grouping tile that refines at once.
        return Ok(PlanNode {
            id: format!("b{id}"),
            content: Content::None,
            content_region: None,
            count: 0,
            error,
            refine: Refine::Replace,
            children,
        });
    }
    let (r, (zmin, zmax)) = (b.rect, b.z);
    Ok(PlanNode {
        id: format!("b{id}"),
        content: Content::Blocks(kept),
        content_region: Some(Region::from_rect(proj, r, zmin + nmin, zmax + nmax)?),
        count,
        error,
        refine: Refine::Replace,
        children,
    })
}

/// What an export wrote for one layer.
#[derive(Clone, Debug)]
pub struct LayerExport {
    /// The layer.
    pub layer: LayerKind,
    /// Tiles in the tree.
    pub tiles: usize,
    /// Tiles with a glb.
    pub contents: usize,
    /// Features (or points) in the tiles.
    pub features: usize,
    /// Bytes of glb written.
    pub bytes: u64,
    /// Subtree files written (implicit tilesets; 0 for explicit ones).
    pub subtrees: usize,
    /// The layer's tileset.json.
    pub tileset: PathBuf,
    /// How heights were made ellipsoidal.
    pub geoid: GeoidModel,
}

/// What [`export`] wrote.
#[derive(Clone, Debug)]
pub struct ExportReport {
    /// The top `tileset.json` (the layers as external tilesets).
    pub tileset: PathBuf,
    /// One entry per layer written.
    pub layers: Vec<LayerExport>,
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

/// Write one planned tileset (tileset.json and every tile) into `dir`, in parallel, each worker
/// holding one tile at a time.
pub fn export_tileset(
    twin: &Twin,
    ts: &Tileset,
    dir: &Path,
    progress: &dyn Progress,
) -> Result<LayerExport> {
    let with_content: Vec<&Tile> = ts
        .tiles
        .iter()
        .filter(|t| t.content_uri().is_some())
        .collect();
    progress.start(
        &format!("{} tiles", ts.layer.name()),
        with_content.len() as u64,
    );
    let bytes = std::sync::atomic::AtomicU64::new(0);
    with_content.par_iter().try_for_each_init(
        || Projector::new(&twin.crs),
        |proj, t| -> Result<()> {
            let proj = match proj {
                Ok(p) => p,
                Err(e) => return Err(Error::invalid("projector", e.to_string())),
            };
            let glb = ts.tile_content_with(twin, &t.id, proj)?;
            let uri = t.content_uri().unwrap_or_default();
            write_file(&dir.join(uri), &glb)?;
            bytes.fetch_add(glb.len() as u64, std::sync::atomic::Ordering::Relaxed);
            progress.inc(1);
            Ok(())
        },
    )?;
    let subtrees = ts.subtree_ids();
    for id in &subtrees {
        let bytes = ts
            .subtree(id)
            .ok_or_else(|| Error::invalid("subtree", format!("no subtree {id}")))?;
        write_file(&dir.join(format!("subtrees/{id}.subtree")), &bytes)?;
    }
    let path = dir.join("tileset.json");
    write_file(&path, &tileset_bytes(&ts.tileset_json())?)?;
    progress.finish();
    Ok(LayerExport {
        layer: ts.layer,
        tiles: ts.tiles.len(),
        contents: with_content.len(),
        features: ts
            .tiles
            .iter()
            .filter(|t| !t.is_blocks())
            .map(|t| t.count)
            .sum(),
        bytes: bytes.into_inner(),
        subtrees: subtrees.len(),
        tileset: path,
        geoid: ts.geoid().clone(),
    })
}

/// The bytes of a tileset JSON as written to a file or served (pretty-printed).
pub fn tileset_bytes(v: &impl Serialize) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(v).map_err(|e| Error::invalid("tileset.json", e))
}

/// The top `tileset.json` joining layer tilesets as external tilesets
/// (`<layer>/tileset.json`), from each layer's root region and geometric error; `geoid`
/// describes how heights were made ellipsoidal. `roots` must not be empty (without roots the
/// root region is all zeros).
pub fn top_tileset_json(
    twin: &Twin,
    roots: &[(LayerKind, Region, f64)],
    geoid: &str,
) -> TilesetJson {
    let mut children = Vec::new();
    let mut region: Option<Region> = None;
    let mut error: f64 = 0.0;
    for (layer, r, e) in roots {
        region = Some(region.map_or(*r, |x| x.union(r)));
        error = error.max(*e);
        children.push(TileJson {
            bounding_volume: BoundingVolume {
                region: r.to_array(),
            },
            geometric_error: *e,
            refine: None,
            transform: None,
            content: Some(ContentJson {
                uri: format!("{}/tileset.json", layer.name()),
            }),
            implicit_tiling: None,
            children: Vec::new(),
        });
    }
    TilesetJson {
        asset: Asset::huetwin(Some(HuetwinInfo {
            twin: Some(twin.name.clone()),
            layer: None,
            project_crs: twin.crs.definition().to_string(),
            heights: None,
            geoid: geoid.into(),
        })),
        geometric_error: error,
        root: TileJson {
            bounding_volume: BoundingVolume {
                region: region.map(|r| r.to_array()).unwrap_or([0.0; 6]),
            },
            geometric_error: error,
            refine: Some(Refine::Add),
            transform: None,
            content: None,
            implicit_tiling: None,
            children,
        },
        schema: None,
        metadata: None,
    }
}

/// Export the given layers (all layers the twin has when `layers` is empty) to `dir`:
/// `dir/<layer>/tileset.json` with its tiles, and `dir/tileset.json` joining them.
pub fn export(
    twin: &Twin,
    dir: &Path,
    layers: &[LayerKind],
    opts: &TilesetOptions,
    progress: &dyn Progress,
) -> Result<ExportReport> {
    let wanted: Vec<LayerKind> = if layers.is_empty() {
        TILE_LAYERS.into_iter().filter(|l| twin.has(*l)).collect()
    } else {
        layers.to_vec()
    };
    if wanted.is_empty() {
        return Err(Error::invalid(
            "twin",
            "nothing to tile: no buildings, heritage, terrain or point clouds",
        ));
    }
    let mut reports = Vec::new();
    let mut roots = Vec::new();
    for layer in wanted {
        progress.start(&format!("planning {}", layer.name()), 0);
        let ts = Tileset::plan(twin, layer, opts)?;
        let rep = export_tileset(twin, &ts, &dir.join(layer.name()), progress)?;
        roots.push((layer, ts.root().region, ts.geometric_error()));
        reports.push(rep);
    }
    let top = top_tileset_json(twin, &roots, &reports[0].geoid.describe());
    let path = dir.join("tileset.json");
    write_file(&path, &tileset_bytes(&top)?)?;
    Ok(ExportReport {
        tileset: path,
        layers: reports,
    })
}
