//! Importers: each source format is a module that parses, validates and reprojects a file into
//! the project CRS and returns an [`Imported`](crate::model::Imported) bundle. Errors name the file and the place.

use crate::crs::Crs;
use crate::error::{Result, TwinError};
use crate::heights;
use crate::layer::LayerKind;
use crate::model::Imported;
use crate::progress::Progress;
pub use detect::Content;
use std::path::Path;

pub mod cityjson;
pub mod dem;
pub mod detect;
pub mod geojson;
pub mod las;
pub mod osm;
pub mod sensors;
pub mod tags;

/// The kind of a source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// OpenStreetMap PBF.
    Osm,
    /// GeoJSON FeatureCollection.
    GeoJson,
    /// CityJSON 1.1/2.0 or CityJSONSeq.
    CityJson,
    /// LAS/LAZ/COPC point cloud.
    Las,
    /// ESRI ASCII grid or GeoTIFF DEM.
    Dem,
    /// Sensors as CSV or JSON.
    Sensors,
}

impl Format {
    /// The importer for a file's content ([`detect::detect`]: magic numbers, the JSON `"type"`,
    /// text headers), the file name only as a hint when the content says nothing.
    pub fn detect(path: &Path) -> Result<Format> {
        detect::detect(path).map(|d| Format::of(d.content))
    }

    /// The importer of a content kind.
    pub fn of(content: Content) -> Format {
        match content {
            Content::OsmPbf => Format::Osm,
            Content::GeoJson => Format::GeoJson,
            Content::CityJson | Content::CityJsonSeq => Format::CityJson,
            Content::Las => Format::Las,
            Content::Tiff | Content::AsciiGrid => Format::Dem,
            Content::SensorsJson | Content::SensorsCsv => Format::Sensors,
        }
    }
}

/// Options shared by the importers.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// The twin's project CRS; everything is reprojected to it.
    pub project_crs: Crs,
    /// The source CRS: used when the file carries none, and overriding the file's when given.
    pub source_crs: Option<Crs>,
    /// For GeoJSON: the layer the features go to (otherwise guessed per feature from tags).
    pub layer: Option<LayerKind>,
    /// For CityJSON: the LoD to take (e.g. "2.2"); the highest available when `None`.
    pub lod: Option<String>,
    /// Building heights from levels and defaults.
    pub heights: heights::HeightRules,
    /// Prefix for feature ids (defaults to the format, e.g. `osm`).
    pub id_prefix: Option<String>,
}

impl ImportOptions {
    /// Options for a project CRS with everything else at its default.
    pub fn new(project_crs: Crs) -> ImportOptions {
        ImportOptions {
            project_crs,
            source_crs: None,
            layer: None,
            lod: None,
            heights: heights::HeightRules::default(),
            id_prefix: None,
        }
    }
}

/// Import one file, choosing the importer from its content (the name only as a hint); when
/// the two disagree, the report's notes say so.
pub fn import_file(path: &Path, opts: &ImportOptions, progress: &dyn Progress) -> Result<Imported> {
    if !path.exists() {
        return Err(TwinError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        ));
    }
    let found = detect::detect(path)?;
    let mut imported = match Format::of(found.content) {
        Format::Osm => osm::import(path, opts, progress),
        Format::GeoJson => geojson::import(path, opts, progress),
        Format::CityJson => cityjson::import(path, opts, progress),
        Format::Las => las::import(path, opts, progress),
        Format::Dem => dem::import(path, opts, progress),
        Format::Sensors => sensors::import(path, opts, progress),
    }?;
    if let Some(n) = found.note(path) {
        imported.notes.insert(0, n);
    }
    Ok(imported)
}
