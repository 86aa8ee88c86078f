//! The glTF extension objects of huetwin tiles, typed: `EXT_structural_metadata` (the schema
//! and property tables or property attributes at the root, property attributes on a primitive)
//! and `EXT_mesh_features` (feature ids on a primitive). gltf-json does not model them; they
//! are serialised into its `extensions.others` maps.

use super::schema::{Ordered, Schema};
use gltf_json::buffer::View;
use gltf_json::mesh::Semantic;
use gltf_json::Index;
use serde::Serialize;

/// The name of the structural metadata extension.
pub(crate) const EXT_STRUCTURAL_METADATA: &str = "EXT_structural_metadata";
/// The name of the mesh features extension.
pub(crate) const EXT_MESH_FEATURES: &str = "EXT_mesh_features";

/// The root `EXT_structural_metadata` object.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StructuralMetadata {
    pub schema: Schema,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub property_tables: Vec<PropertyTable>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub property_attributes: Vec<PropertyAttribute>,
}

/// A property table: one row per feature, one column per property, in buffer views.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct PropertyTable {
    pub name: String,
    pub class: String,
    pub count: usize,
    pub properties: Ordered<PropertyTableProperty>,
}

/// A column of a property table.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PropertyTableProperty {
    /// The values (for strings, their bytes end to end).
    pub values: Index<View>,
    /// For strings: where each string starts (one more offset than strings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub string_offsets: Option<Index<View>>,
    /// For strings: the offsets' type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub string_offset_type: Option<StringOffsetType>,
}

impl PropertyTableProperty {
    /// A column of fixed-size values.
    pub(crate) fn values(values: Index<View>) -> Self {
        PropertyTableProperty {
            values,
            string_offsets: None,
            string_offset_type: None,
        }
    }
}

/// The type of string offsets.
#[derive(Clone, Copy, Debug, Serialize)]
pub(crate) enum StringOffsetType {
    #[serde(rename = "UINT32")]
    Uint32,
}

/// A property attribute: properties read from vertex attributes.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct PropertyAttribute {
    pub class: String,
    pub properties: Ordered<PropertyAttributeProperty>,
}

/// A property of a property attribute.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct PropertyAttributeProperty {
    /// The vertex attribute holding the values (`_INTENSITY`).
    pub attribute: Semantic,
}

/// A primitive's `EXT_structural_metadata` object.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PrimitiveMetadata {
    /// Indices of the root's property attributes that apply to the primitive.
    pub property_attributes: Vec<usize>,
}

/// A primitive's `EXT_mesh_features` object.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MeshFeatures {
    pub feature_ids: Vec<FeatureId>,
}

/// One set of feature ids.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FeatureId {
    /// Distinct features.
    pub feature_count: usize,
    /// The N of the `_FEATURE_ID_N` vertex attribute holding the ids.
    pub attribute: u32,
    /// Index of the root's property table the ids are rows of.
    pub property_table: usize,
    /// A name for the set.
    pub label: String,
}
