//! Typed `tileset.json` (3D Tiles 1.1): the objects huetwin writes, serialised with serde.
//!
//! Only what huetwin tilesets use is modelled. Optional members are left out of the JSON when
//! absent, and members are written in the order of the fields, so the files read the same as
//! the hand-assembled JSON they replace.

use crate::schema::{Ordered, Schema};
use crate::Refine;
use serde::Serialize;

/// The 3D Tiles version every huetwin tileset declares.
pub const TILES_VERSION: &str = "1.1";

/// A whole `tileset.json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TilesetJson {
    /// Metadata about the tileset.
    pub asset: Asset,
    /// Metres of error when the tileset is not drawn at all.
    pub geometric_error: f64,
    /// The root tile.
    pub root: TileJson,
    /// The metadata schema of the tiles' property tables (absent for terrain and water).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<Schema>,
    /// The tileset's own metadata, an entity of a schema class (point-cloud layers: what
    /// their colours show).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<MetadataEntity>,
}

/// A metadata entity (3D Tiles 1.1 `metadataEntity`): a class of the schema and its values.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetadataEntity {
    /// The class id.
    pub class: String,
    /// Values by property id.
    pub properties: Ordered<serde_json::Value>,
}

/// The `asset` object.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Asset {
    /// The 3D Tiles version ([`TILES_VERSION`]).
    pub version: String,
    /// The tool that wrote the tileset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generator: Option<String>,
    /// Application data: what huetwin says about the tileset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extras: Option<AssetExtras>,
}

impl Asset {
    /// A 3D Tiles 1.1 asset written by huetwin ([`crate::GENERATOR`]).
    pub fn huetwin(extras: Option<HuetwinInfo>) -> Asset {
        Asset {
            version: TILES_VERSION.into(),
            generator: Some(crate::GENERATOR.into()),
            extras: extras.map(|huetwin| AssetExtras { huetwin }),
        }
    }
}

/// The `asset.extras` object: huetwin's own members under `huetwin`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AssetExtras {
    /// What huetwin says about the tileset.
    pub huetwin: HuetwinInfo,
}

/// `asset.extras.huetwin`: where a tileset comes from and how its heights were made. Keys are
/// written in snake_case, as they always were.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HuetwinInfo {
    /// The twin's name (the top tileset joining the layers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub twin: Option<String>,
    /// The layer (a layer's tileset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    /// The twin's project CRS definition.
    pub project_crs: String,
    /// What the heights are (a layer's tileset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heights: Option<String>,
    /// How heights were made ellipsoidal.
    pub geoid: String,
}

/// A tile.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TileJson {
    /// The volume holding the tile's content and all its descendants'.
    pub bounding_volume: BoundingVolume,
    /// Metres of error when the tile is drawn without its descendants.
    pub geometric_error: f64,
    /// How its children refine it (inherited from the parent when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refine: Option<Refine>,
    /// Column-major 4x4 matrix from the tile's frame to its parent's (to ECEF at the root).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transform: Option<[f64; 16]>,
    /// The tile's content, when it has any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<ContentJson>,
    /// The implicit subdivision below this tile (the root of an implicit tileset, whose
    /// content URI is then a `{level}/{x}/{y}` template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub implicit_tiling: Option<ImplicitTilingJson>,
    /// Its children.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<TileJson>,
}

/// 3D Tiles 1.1 `implicitTiling`: how the tile is subdivided and where its subtrees are.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImplicitTilingJson {
    /// `QUADTREE` (huetwin writes no octrees).
    pub subdivision_scheme: String,
    /// Levels in each subtree file.
    pub subtree_levels: u32,
    /// Levels with available tiles (the deepest level plus one).
    pub available_levels: u32,
    /// Where the subtree files are.
    pub subtrees: SubtreesJson,
}

/// The `subtrees` object of [`ImplicitTilingJson`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SubtreesJson {
    /// The template of subtree file URIs (`{level}`, `{x}`, `{y}`).
    pub uri: String,
}

/// A bounding volume: always a `region` in huetwin tilesets.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct BoundingVolume {
    /// West, south, east, north (radians), minimum and maximum height (metres, ellipsoidal).
    pub region: [f64; 6],
}

/// A tile's content.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ContentJson {
    /// Where the content is, relative to the tileset.json (a glb or an external tileset).
    pub uri: String,
}

#[cfg(test)]
mod tests {
    use crate::geodesy::Region;
    use twin_core::{Crs, LayerKind, Twin};

    #[test]
    fn top_tileset_joins_layers_as_external_tilesets() {
        let twin = Twin::new("t", Crs::epsg(32648).unwrap()).unwrap();
        let r = |w: f64, h: f64| Region {
            west: w,
            south: 0.2,
            east: w + 0.125,
            north: 0.3,
            min_h: h,
            max_h: h + 10.0,
        };
        let roots = [
            (LayerKind::Buildings, r(1.0, 5.0), 40.0),
            (LayerKind::Terrain, r(1.0625, 0.0), 60.0),
        ];
        let top = crate::top_tileset_json(&twin, &roots, "constant 0 m");
        let v = serde_json::to_value(&top).unwrap();
        let expected = serde_json::json!({
            "asset": {
                "version": "1.1",
                "generator": crate::GENERATOR,
                "extras": {"huetwin": {
                    "twin": "t",
                    "project_crs": twin.crs.definition(),
                    "geoid": "constant 0 m",
                }},
            },
            "geometricError": 60.0,
            "root": {
                "boundingVolume": {"region": [1.0, 0.2, 1.1875, 0.3, 0.0, 15.0]},
                "geometricError": 60.0,
                "refine": "ADD",
                "children": [
                    {
                        "boundingVolume": {"region": [1.0, 0.2, 1.125, 0.3, 5.0, 15.0]},
                        "geometricError": 40.0,
                        "content": {"uri": "buildings/tileset.json"},
                    },
                    {
                        "boundingVolume": {"region": [1.0625, 0.2, 1.1875, 0.3, 0.0, 10.0]},
                        "geometricError": 60.0,
                        "content": {"uri": "terrain/tileset.json"},
                    },
                ],
            },
        });
        assert_eq!(v, expected);
    }
}
