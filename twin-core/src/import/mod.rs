//! Importers: each source format is a module that parses, validates and reprojects a file into
//! the project CRS and returns an [`Imported`] bundle. Errors name the file and the place.

use crate::crs::Crs;
use crate::error::{Result, TwinError};
use crate::model::{Building, Dem, HeritageSite, PointCloud, Road, Sensor, Water};
use std::path::Path;

pub mod cityjson;
pub mod dem;
pub mod geojson;
pub mod heights;
pub mod las;
pub mod osm;
pub mod sensors;
pub mod tags;

/// Progress of a long import, reported by importers; the CLI draws it with indicatif.
pub trait Progress: Sync {
    /// Start a phase with a known total (bytes, records...); 0 when unknown.
    fn start(&self, phase: &str, total: u64);
    /// Advance the current phase by `n`.
    fn inc(&self, n: u64);
    /// The current phase is done.
    fn finish(&self) {}
}

/// A [`Progress`] that reports nothing.
pub struct NoProgress;
impl Progress for NoProgress {
    fn start(&self, _: &str, _: u64) {}
    fn inc(&self, _: u64) {}
}

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

/// Which twin layer a GeoJSON source feeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerKind {
    /// Buildings.
    Buildings,
    /// Heritage sites.
    Heritage,
    /// Sensors.
    Sensors,
    /// Roads.
    Roads,
    /// Waterways and water bodies.
    Water,
    /// Terrain (DEM).
    Terrain,
    /// Point clouds.
    Pointclouds,
}

impl LayerKind {
    /// All layer kinds, in display order.
    pub const ALL: [LayerKind; 7] = [
        LayerKind::Buildings,
        LayerKind::Heritage,
        LayerKind::Sensors,
        LayerKind::Roads,
        LayerKind::Water,
        LayerKind::Terrain,
        LayerKind::Pointclouds,
    ];

    /// The layer's name (also its GeoPackage table name).
    pub fn name(self) -> &'static str {
        match self {
            LayerKind::Buildings => "buildings",
            LayerKind::Heritage => "heritage",
            LayerKind::Sensors => "sensors",
            LayerKind::Roads => "roads",
            LayerKind::Water => "water",
            LayerKind::Terrain => "terrain",
            LayerKind::Pointclouds => "pointclouds",
        }
    }

    /// Parse a layer name.
    pub fn parse(s: &str) -> Option<LayerKind> {
        LayerKind::ALL.into_iter().find(|k| k.name() == s)
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

/// What one source file contributed, already in the project CRS.
#[derive(Clone, Debug, Default)]
pub struct Imported {
    /// Buildings.
    pub buildings: Vec<Building>,
    /// Heritage sites.
    pub heritage: Vec<HeritageSite>,
    /// Sensors.
    pub sensors: Vec<Sensor>,
    /// Roads.
    pub roads: Vec<Road>,
    /// Water.
    pub water: Vec<Water>,
    /// DEMs (already resampled to the project CRS).
    pub dems: Vec<Dem>,
    /// Point clouds.
    pub pointclouds: Vec<PointCloud>,
    /// The CRS the source was read in.
    pub source_crs: Option<Crs>,
    /// Notes for the user (defaults applied, skipped features and why).
    pub notes: Vec<String>,
}

impl Imported {
    /// Feature counts per layer, for reports.
    pub fn counts(&self) -> Vec<(LayerKind, usize)> {
        vec![
            (LayerKind::Buildings, self.buildings.len()),
            (LayerKind::Heritage, self.heritage.len()),
            (LayerKind::Sensors, self.sensors.len()),
            (LayerKind::Roads, self.roads.len()),
            (LayerKind::Water, self.water.len()),
            (LayerKind::Terrain, self.dems.len()),
            (LayerKind::Pointclouds, self.pointclouds.len()),
        ]
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
