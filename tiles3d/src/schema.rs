//! The one metadata schema of huetwin tilesets (3D Tiles 1.1 / `EXT_structural_metadata`), and
//! property tables written into glTF.
//!
//! Classes: `building` and `heritage` (their attributes and the scenario results
//! `max_flood_depth` and `flood_duration`, fixed-size FLOAT32 columns that a scenario run
//! rewrites in place without touching geometry: see [`crate::results`]) and `point`
//! (per-point LiDAR attributes, as property attributes).

use super::glb::Builder;
use serde_json::{json, Value};

/// The schema's id.
pub const SCHEMA_ID: &str = "huetwin";
/// Class of buildings.
pub const CLASS_BUILDING: &str = "building";
/// Class of heritage sites.
pub const CLASS_HERITAGE: &str = "heritage";
/// The scenario result properties of buildings and heritage sites.
pub const RESULT_PROPERTIES: [&str; 2] = ["max_flood_depth", "flood_duration"];
/// Class of LiDAR point attributes.
pub const CLASS_POINT: &str = "point";
/// The no-data value of result properties: "not computed".
pub const RESULT_NO_DATA: f32 = -1.0;
/// The no-data value of `levels`.
pub const LEVELS_NO_DATA: u16 = u16::MAX;

/// The schema as JSON (the same object goes in tileset.json and in every glTF).
pub fn schema() -> Value {
    let s = |d: &str| json!({"type": "STRING", "description": d, "required": true});
    let opt_s = |d: &str| json!({"type": "STRING", "description": d, "noData": ""});
    let f = |d: &str| json!({"type": "SCALAR", "componentType": "FLOAT32", "description": d, "required": true});
    let result = |d: &str| json!({"type": "SCALAR", "componentType": "FLOAT32", "description": d, "noData": RESULT_NO_DATA});
    json!({
        "id": SCHEMA_ID,
        "name": "huetwin features",
        "description": "Buildings, heritage sites, their scenario results and LiDAR point attributes of a huetwin digital twin",
        "version": "1.0.0",
        "classes": {
            CLASS_BUILDING: {
                "name": "Building",
                "properties": {
                    "id": s("stable id within the twin (osm:way/123, cityjson:...)"),
                    "name": opt_s("name, when the source has one"),
                    "height": f("height above the base, metres"),
                    "base_height": f("orthometric height of the base (above the geoid), metres"),
                    "levels": {"type": "SCALAR", "componentType": "UINT16", "description": "storeys above ground", "noData": LEVELS_NO_DATA},
                    "use": opt_s("use or building type (residential, temple...)"),
                    "source_id": s("the source file's own id of the feature"),
                    "height_source": s("where the height came from (height, levels, default:<type>, geometry, synthetic)"),
                    "heritage_zone": opt_s("protection zone of the heritage site the building stands in (e.g. UNESCO zone I)"),
                    "heritage_site": opt_s("id of the heritage site the building stands in"),
                    "lod": s("level of detail of the geometry: 1 (extruded footprint) or the CityJSON LoD"),
                    "max_flood_depth": result("maximum water depth at the building over a scenario run, metres (no data: no run)"),
                    "flood_duration": result("time the water stays above the wet depth at the building, hours (no data: no run)"),
                }
            },
            CLASS_HERITAGE: {
                "name": "Heritage site",
                "properties": {
                    "id": s("stable id within the twin"),
                    "name": opt_s("name"),
                    "zone": opt_s("protection zone (e.g. UNESCO zone I / II)"),
                    "kind": opt_s("historic=* or heritage=* value"),
                    "height_limit": {"type": "SCALAR", "componentType": "FLOAT32", "description": "height limit in the zone, metres", "noData": -1.0},
                    "max_flood_depth": result("maximum water depth at the site over a scenario run, metres (no data: no run)"),
                    "flood_duration": result("time the water stays above the wet depth at the site, hours (no data: no run)"),
                }
            },
            CLASS_POINT: {
                "name": "LiDAR point",
                "properties": {
                    "intensity": {"type": "SCALAR", "componentType": "UINT16", "description": "return intensity"},
                    "classification": {"type": "SCALAR", "componentType": "UINT8", "description": "ASPRS classification"},
                }
            }
        }
    })
}

/// One column of a property table.
pub(crate) enum Column {
    /// UTF-8 strings.
    Str(Vec<String>),
    /// FLOAT32 scalars.
    F32(Vec<f32>),
    /// UINT16 scalars.
    U16(Vec<u16>),
}

/// Write a property table's columns as buffer views and return its JSON.
pub(crate) fn property_table(
    b: &mut Builder,
    name: &str,
    class: &str,
    count: usize,
    columns: Vec<(&str, Column)>,
) -> Value {
    let mut props = serde_json::Map::new();
    for (key, col) in columns {
        let v = match col {
            Column::Str(vals) => {
                let mut bytes = Vec::new();
                let mut offsets: Vec<u8> = Vec::with_capacity((vals.len() + 1) * 4);
                offsets.extend_from_slice(&0u32.to_le_bytes());
                for s in &vals {
                    bytes.extend_from_slice(s.as_bytes());
                    offsets.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
                }
                if bytes.is_empty() {
                    // A buffer view is never empty; the offsets still say every string is "".
                    bytes.push(0);
                }
                let values = b.view(&bytes, None, None);
                let offs = b.view(&offsets, None, None);
                json!({"values": values, "stringOffsets": offs, "stringOffsetType": "UINT32"})
            }
            Column::F32(vals) => {
                let bytes: Vec<u8> = vals.iter().flat_map(|x| x.to_le_bytes()).collect();
                json!({"values": b.view(&bytes, None, None)})
            }
            Column::U16(vals) => {
                let bytes: Vec<u8> = vals.iter().flat_map(|x| x.to_le_bytes()).collect();
                json!({"values": b.view(&bytes, None, None)})
            }
        };
        props.insert(key.into(), v);
    }
    json!({"name": name, "class": class, "count": count, "properties": props})
}
