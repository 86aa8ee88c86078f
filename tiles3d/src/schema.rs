//! The one metadata schema of huetwin tilesets (3D Tiles 1.1 / `EXT_structural_metadata`), and
//! property tables written into glTF.
//!
//! Classes: `building` and `heritage` (their attributes and the scenario results
//! `max_flood_depth` and `flood_duration`, fixed-size FLOAT32 columns that a scenario run
//! rewrites in place without touching geometry: see [`crate::results`]) and `point`
//! (per-point LiDAR attributes, as property attributes).

use super::glb::Builder;
use super::metadata::{PropertyTable, PropertyTableProperty, StringOffsetType};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

/// The schema's id.
pub const SCHEMA_ID: &str = "huetwin";
/// Class of buildings.
pub const CLASS_BUILDING: &str = "building";
/// Class of the merged blocks that stand for a parent tile's descendants (docs/adr/0026).
pub const CLASS_BLOCK: &str = "block";
/// Class of heritage sites.
pub const CLASS_HERITAGE: &str = "heritage";
/// The scenario result properties of buildings and heritage sites.
pub const RESULT_PROPERTIES: [&str; 2] = ["max_flood_depth", "flood_duration"];
/// Class of LiDAR point attributes.
pub const CLASS_POINT: &str = "point";
/// Class of a point-cloud layer's tileset metadata (what its colours show).
pub const CLASS_POINT_LAYER: &str = "point_cloud_layer";
/// The no-data value of result properties: "not computed".
pub const RESULT_NO_DATA: f32 = -1.0;
/// The no-data value of `levels`.
pub const LEVELS_NO_DATA: u16 = u16::MAX;
/// No data for the heritage class's `floor_m` (no floor level known): a floor can be at the
/// ground (0) or, for a sunken court, below it, so not -1.
pub const FLOOR_NO_DATA: f32 = -9999.0;

/// A JSON object whose members keep the order they were given in (a schema's classes, a
/// class's properties).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ordered<T>(pub Vec<(String, T)>);

impl<T> Ordered<T> {
    /// The member named `key`.
    pub fn get(&self, key: &str) -> Option<&T> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

impl<K: Into<String>, T> FromIterator<(K, T)> for Ordered<T> {
    fn from_iter<I: IntoIterator<Item = (K, T)>>(iter: I) -> Self {
        Ordered(iter.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
}

impl<T: Serialize> Serialize for Ordered<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// A metadata schema (3D Tiles 1.1 `schema`, the same object as in `EXT_structural_metadata`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Schema {
    /// Its id ([`SCHEMA_ID`]).
    pub id: String,
    /// Its name.
    pub name: String,
    /// What it describes.
    pub description: String,
    /// Its version.
    pub version: String,
    /// Its classes by id.
    pub classes: Ordered<Class>,
}

/// A class of the schema.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Class {
    /// Its name.
    pub name: String,
    /// Its properties by id.
    pub properties: Ordered<ClassProperty>,
}

/// A property of a class.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassProperty {
    /// The element type.
    #[serde(rename = "type")]
    pub type_: PropertyType,
    /// The component type of scalars.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component_type: Option<ComponentType>,
    /// Whether a value is an array of elements (written only when true).
    #[serde(skip_serializing_if = "is_false")]
    pub array: bool,
    /// What the property is.
    pub description: String,
    /// Whether every entity has a value (written only when true).
    #[serde(skip_serializing_if = "is_false")]
    pub required: bool,
    /// The value that stands for "no value".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_data: Option<NoData>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The element type of a property.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum PropertyType {
    /// A number.
    #[serde(rename = "SCALAR")]
    Scalar,
    /// A UTF-8 string.
    #[serde(rename = "STRING")]
    String,
}

/// The component type of a scalar property.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ComponentType {
    /// 8-bit unsigned integer.
    #[serde(rename = "UINT8")]
    Uint8,
    /// 16-bit unsigned integer.
    #[serde(rename = "UINT16")]
    Uint16,
    /// 32-bit float.
    #[serde(rename = "FLOAT32")]
    Float32,
}

/// A `noData` value.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum NoData {
    /// For strings.
    Text(String),
    /// For integer scalars (written without a fraction).
    Integer(u64),
    /// For float scalars.
    Float(f64),
}

impl ClassProperty {
    fn new(type_: PropertyType, component_type: Option<ComponentType>, d: &str) -> Self {
        ClassProperty {
            type_,
            component_type,
            description: d.into(),
            array: false,
            required: false,
            no_data: None,
        }
    }

    /// A required array of strings.
    fn strings(d: &str) -> Self {
        ClassProperty {
            array: true,
            ..ClassProperty::string(d)
        }
    }

    /// A required string.
    fn string(d: &str) -> Self {
        ClassProperty {
            required: true,
            ..ClassProperty::new(PropertyType::String, None, d)
        }
    }

    /// An optional string: "" when absent.
    fn opt_string(d: &str) -> Self {
        ClassProperty {
            no_data: Some(NoData::Text(String::new())),
            ..ClassProperty::new(PropertyType::String, None, d)
        }
    }

    /// A scalar of the given component type.
    fn scalar(c: ComponentType, d: &str) -> Self {
        ClassProperty::new(PropertyType::Scalar, Some(c), d)
    }

    /// A required FLOAT32.
    fn float(d: &str) -> Self {
        ClassProperty {
            required: true,
            ..ClassProperty::scalar(ComponentType::Float32, d)
        }
    }

    /// A scenario result: FLOAT32, [`RESULT_NO_DATA`] until a run writes it.
    fn result(d: &str) -> Self {
        ClassProperty::scalar(ComponentType::Float32, d)
            .no_data(NoData::Float(RESULT_NO_DATA.into()))
    }

    fn no_data(self, v: NoData) -> Self {
        ClassProperty {
            no_data: Some(v),
            ..self
        }
    }
}

/// The schema (the same object goes in tileset.json and in every glTF).
pub fn schema() -> Schema {
    use ClassProperty as P;
    let class = |name: &str, properties: Vec<(&str, ClassProperty)>| Class {
        name: name.into(),
        properties: properties.into_iter().collect(),
    };
    Schema {
        id: SCHEMA_ID.into(),
        name: "huetwin features".into(),
        description: "Buildings, heritage sites, their scenario results and LiDAR point attributes of a huetwin digital twin".into(),
        version: "1.0.0".into(),
        classes: [
            (
                CLASS_BUILDING,
                class(
                    "Building",
                    vec![
                        ("id", P::string("stable id within the twin (osm:way/123, cityjson:...)")),
                        ("name", P::opt_string("name, when the source has one")),
                        ("height", P::float("height above the base, metres")),
                        ("base_height", P::float("orthometric height of the base (above the geoid), metres")),
                        (
                            "levels",
                            P::scalar(ComponentType::Uint16, "storeys above ground")
                                .no_data(NoData::Integer(LEVELS_NO_DATA.into())),
                        ),
                        ("use", P::opt_string("use or building type (residential, temple...)")),
                        ("source_id", P::string("the source file's own id of the feature")),
                        ("height_source", P::string("where the height came from (height, levels, default:<type>, geometry, synthetic)")),
                        ("heritage_zone", P::opt_string("protection zone of the heritage site the building stands in (e.g. UNESCO zone I)")),
                        ("heritage_site", P::opt_string("id of the heritage site the building stands in")),
                        ("lod", P::string("level of detail of the geometry: 1 (extruded footprint) or the CityJSON LoD")),
                        ("max_flood_depth", P::result("maximum water depth at the building over a scenario run, metres (no data: no run)")),
                        ("flood_duration", P::result("time the water stays above the wet depth at the building, hours (no data: no run)")),
                    ],
                ),
            ),
            (
                CLASS_HERITAGE,
                class(
                    "Heritage site",
                    vec![
                        ("id", P::string("stable id within the twin")),
                        ("name", P::opt_string("name")),
                        ("zone", P::opt_string("protection zone (e.g. UNESCO zone I / II)")),
                        ("kind", P::opt_string("historic=* or heritage=* value")),
                        (
                            "height_limit",
                            P::scalar(ComponentType::Float32, "height limit in the zone, metres")
                                .no_data(NoData::Float(-1.0)),
                        ),
                        (
                            "floor_m",
                            P::scalar(ComponentType::Float32, "floor or plinth level above the site's ground, metres (flood exposure reports the depth above it)")
                                .no_data(NoData::Float(FLOOR_NO_DATA.into())),
                        ),
                        ("max_flood_depth", P::result("maximum water depth at the site over a scenario run, metres (no data: no run)")),
                        ("flood_duration", P::result("time the water stays above the wet depth at the site, hours (no data: no run)")),
                    ],
                ),
            ),
            (
                CLASS_BLOCK,
                class(
                    "Block of buildings",
                    vec![
                        ("block", P::string("the block's id: its tile's id, '#' and its grid cell")),
                        ("building_count", P::scalar(ComponentType::Uint16, "buildings merged into the block")),
                        ("height", P::float("footprint-area-weighted mean height of the buildings, metres (named as the building class's, so height styles colour blocks too)")),
                    ],
                ),
            ),
            (
                CLASS_POINT,
                class(
                    "LiDAR point",
                    vec![
                        ("intensity", P::scalar(ComponentType::Uint16, "return intensity")),
                        ("classification", P::scalar(ComponentType::Uint8, "ASPRS classification")),
                    ],
                ),
            ),
            (
                CLASS_POINT_LAYER,
                class(
                    "Point-cloud layer",
                    vec![
                        ("clouds", P::strings("the layer's point clouds, by name")),
                        (
                            "colour_sources",
                            P::strings("per cloud, what COLOR_0 shows: rgb (the file's colours), classification (ASPRS palette), elevation (ramp over the 2nd-98th percentile) or intensity (grey, same stretch)"),
                        ),
                    ],
                ),
            ),
        ]
        .into_iter()
        .collect(),
    }
}

/// The tileset metadata of a point-cloud layer: its clouds and what each one's colours show.
pub(crate) fn point_layer_metadata(
    clouds: &[(String, crate::points::CloudStats)],
) -> crate::tileset_json::MetadataEntity {
    let names = clouds.iter().map(|(n, _)| n.as_str().into()).collect();
    let sources = clouds.iter().map(|(_, s)| s.source.name().into()).collect();
    crate::tileset_json::MetadataEntity {
        class: CLASS_POINT_LAYER.into(),
        properties: [
            ("clouds", serde_json::Value::Array(names)),
            ("colour_sources", serde_json::Value::Array(sources)),
        ]
        .into_iter()
        .collect(),
    }
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

/// Write a property table's columns as buffer views and return the table.
///
/// A string column whose strings are all empty is left out: only optional strings (noData
/// "") can be all empty, and a reader then sees their noData for every feature.
pub(crate) fn property_table(
    b: &mut Builder,
    name: &str,
    class: &str,
    count: usize,
    columns: Vec<(&str, Column)>,
) -> PropertyTable {
    let mut properties = Vec::with_capacity(columns.len());
    for (key, col) in columns {
        let p = match col {
            Column::Str(vals) => {
                let mut bytes = Vec::new();
                let mut offsets: Vec<u8> = Vec::with_capacity((vals.len() + 1) * 4);
                offsets.extend_from_slice(&0u32.to_le_bytes());
                for s in &vals {
                    bytes.extend_from_slice(s.as_bytes());
                    offsets.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
                }
                if bytes.is_empty() {
                    // Every string is "": a values view would need byteLength 0, which glTF
                    // forbids, while the 3D Tiles rule wants the last offset to equal it. An
                    // optional string's noData is "", so leaving the column out says the same.
                    debug_assert!(key != "id", "the id column is never empty");
                    continue;
                }
                let values = b.view(&bytes, None, None);
                let offs = b.view(&offsets, None, None);
                PropertyTableProperty {
                    values,
                    string_offsets: Some(offs),
                    string_offset_type: Some(StringOffsetType::Uint32),
                }
            }
            Column::F32(vals) => {
                let bytes: Vec<u8> = vals.iter().flat_map(|x| x.to_le_bytes()).collect();
                PropertyTableProperty::values(b.view(&bytes, None, None))
            }
            Column::U16(vals) => {
                let bytes: Vec<u8> = vals.iter().flat_map(|x| x.to_le_bytes()).collect();
                PropertyTableProperty::values(b.view(&bytes, None, None))
            }
        };
        properties.push((key, p));
    }
    PropertyTable {
        name: name.into(),
        class: class.into(),
        count,
        properties: properties.into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An all-empty optional string column is left out (its noData "" stands for every row);
    /// a column with one non-empty string keeps all its rows, and its last offset is the
    /// values' byte length.
    #[test]
    fn all_empty_strings_leave_the_column_out() {
        let mut b = Builder::new();
        let t = property_table(
            &mut b,
            "t",
            CLASS_BUILDING,
            3,
            vec![
                ("id", Column::Str(vec!["a".into(), "bc".into(), "d".into()])),
                ("name", Column::Str(vec![String::new(); 3])),
                (
                    "use",
                    Column::Str(vec![String::new(), "shop".into(), String::new()]),
                ),
            ],
        );
        let keys: Vec<&str> = t.properties.0.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["id", "use"]);
    }
}
