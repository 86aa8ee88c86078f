//! Importers: each source format is a module that parses, validates and reprojects a file into
//! the project CRS and returns an [`Imported`](crate::model::Imported) bundle. Errors name the file and the place.

use crate::crs::Crs;
use crate::error::{Result, TwinError};
use crate::heights;
use crate::layer::LayerKind;
use crate::model::Imported;
use crate::progress::Progress;
use std::path::Path;

pub mod cityjson;
pub mod dem;
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
    /// Guess the format from the file name.
    pub fn detect(path: &Path) -> Result<Format> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let f = if name.ends_with(".pbf") {
            Format::Osm
        } else if name.ends_with(".city.json")
            || name.ends_with(".city.jsonl")
            || name.ends_with(".jsonl")
        {
            Format::CityJson
        } else if name.ends_with(".geojson") {
            Format::GeoJson
        } else if name.ends_with(".las") || name.ends_with(".laz") {
            Format::Las
        } else if name.ends_with(".asc") || name.ends_with(".tif") || name.ends_with(".tiff") {
            Format::Dem
        } else if name.ends_with(".csv") || name.ends_with(".json") {
            Format::Sensors
        } else {
            return Err(TwinError::parse(
                path,
                "file name",
                "unknown source format (expected .osm.pbf, .geojson, .city.json, .city.jsonl, .las, .laz, .asc, .tif, .csv or .json)",
            ));
        };
        Ok(f)
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

/// Import one file, choosing the importer from its name.
pub fn import_file(path: &Path, opts: &ImportOptions, progress: &dyn Progress) -> Result<Imported> {
    if !path.exists() {
        return Err(TwinError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        ));
    }
    match Format::detect(path)? {
        Format::Osm => osm::import(path, opts, progress),
        Format::GeoJson => geojson::import(path, opts, progress),
        Format::CityJson => cityjson::import(path, opts, progress),
        Format::Las => las::import(path, opts, progress),
        Format::Dem => dem::import(path, opts, progress),
        Format::Sensors => sensors::import(path, opts, progress),
    }
}
