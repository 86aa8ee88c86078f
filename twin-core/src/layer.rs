//! Layer identity ([`LayerKind`]) and vector layers seen without their feature type
//! ([`VectorLayer`], from [`Twin::vector`]): the queries, ids and GeoJSON of any of them.
//!
//! ```
//! use twin_core::{LayerKind, Twin, Crs};
//! use twin_core::model::{Imported, Sensor};
//! use geo_types::{Point, Rect};
//!
//! let mut twin = Twin::new("demo", Crs::epsg(32648).unwrap()).unwrap();
//! twin.add(Imported {
//!     sensors: vec![Sensor {
//!         id: "kim-long".into(), kind: "river_gauge".into(), unit: "m".into(), name: None,
//!         location: Point::new(741_000.0, 1_822_000.0), attributes: Default::default(),
//!     }],
//!     ..Default::default()
//! }).unwrap();
//! let sensors = twin.vector(LayerKind::Sensors).unwrap();
//! let hits = sensors.query_bbox(Rect::new((740_000.0, 1_821_000.0), (742_000.0, 1_823_000.0))).unwrap();
//! assert_eq!(hits, vec![0]);
//! assert_eq!(sensors.id_at(0), Some("kim-long"));
//! assert!(twin.vector(LayerKind::Terrain).is_none());
//! ```

use crate::crs::Reprojector;
use crate::error::Result;
use crate::export::{feature_to_geojson, Properties};
use crate::index::{Feature, Layer};
use crate::twin::Twin;
use geo_types::{MultiPolygon, Point, Polygon, Rect};

/// A layer of a twin: the one name for it in the store, the API, the tiles and the CLI.
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
    /// Land use and land cover areas (drawn by the basemap only).
    #[serde(rename = "landuse")]
    LandUse,
    /// Terrain (DEM).
    Terrain,
    /// Point clouds.
    Pointclouds,
}

impl LayerKind {
    /// All layer kinds, in display order.
    pub const ALL: [LayerKind; 8] = [
        LayerKind::Buildings,
        LayerKind::Heritage,
        LayerKind::Sensors,
        LayerKind::Roads,
        LayerKind::Water,
        LayerKind::LandUse,
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
            LayerKind::LandUse => "landuse",
            LayerKind::Terrain => "terrain",
            LayerKind::Pointclouds => "pointclouds",
        }
    }

    /// Parse a layer name.
    pub fn parse(s: &str) -> Option<LayerKind> {
        LayerKind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// The vector layers: features with an id, a geometry and an R-tree ([`Twin::vector`]).
    pub const VECTOR: [LayerKind; 6] = [
        LayerKind::Buildings,
        LayerKind::Heritage,
        LayerKind::Sensors,
        LayerKind::Roads,
        LayerKind::Water,
        LayerKind::LandUse,
    ];

    /// True for a vector layer (not terrain or point clouds).
    pub fn is_vector(self) -> bool {
        LayerKind::VECTOR.contains(&self)
    }

    /// The names of `kinds`, comma-separated, for messages.
    pub fn names(kinds: &[LayerKind]) -> String {
        kinds
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl std::fmt::Display for LayerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A vector layer whatever its feature type: what the API, the CLI and the tiles ask of any of
/// them. Indexes are positions in the layer's load order, as in [`Layer`].
pub trait VectorLayer: Sync {
    /// Number of features.
    fn len(&self) -> usize;
    /// True when the layer has no feature.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The bounding box of the indexed features (xmin, ymin, xmax, ymax), project CRS.
    fn extent(&self) -> Option<[f64; 4]>;
    /// The id of the feature at `idx`.
    fn id_at(&self, idx: usize) -> Option<&str>;
    /// The position of the feature with this id.
    fn position(&self, id: &str) -> Option<usize>;
    /// Features intersecting the box, ascending.
    fn query_bbox(&self, bbox: Rect<f64>) -> Result<Vec<usize>>;
    /// Features within `radius` m of `p`, nearest first, with distances.
    fn query_radius(&self, p: Point<f64>, radius: f64) -> Result<Vec<(usize, f64)>>;
    /// The `k` nearest features, nearest first, with distances.
    fn query_nearest(&self, p: Point<f64>, k: usize) -> Result<Vec<(usize, f64)>>;
    /// Features intersecting the polygon, ascending.
    fn query_polygon(&self, poly: &Polygon<f64>) -> Result<Vec<usize>>;
    /// Features intersecting any polygon of the multipolygon, ascending, each once.
    fn query_multipolygon(&self, area: &MultiPolygon<f64>) -> Result<Vec<usize>>;
    /// The feature at `idx` as RFC 7946 GeoJSON through `to_wgs84`.
    fn geojson(&self, idx: usize, to_wgs84: &Reprojector) -> Option<Result<geojson::Feature>>;
    /// The feature's typed properties.
    fn properties(&self, idx: usize) -> Option<serde_json::Map<String, serde_json::Value>>;
    /// A one-line description of the feature for listings (height, zone, kind...).
    fn summary(&self, idx: usize) -> Option<String>;
}

impl<T: Feature + Properties + Sync> VectorLayer for Layer<T> {
    fn len(&self) -> usize {
        Layer::len(self)
    }
    fn extent(&self) -> Option<[f64; 4]> {
        Layer::extent(self)
    }
    fn id_at(&self, idx: usize) -> Option<&str> {
        self.get(idx).map(|f| f.id())
    }
    fn position(&self, id: &str) -> Option<usize> {
        Layer::position(self, id)
    }
    fn query_bbox(&self, bbox: Rect<f64>) -> Result<Vec<usize>> {
        Layer::query_bbox(self, bbox)
    }
    fn query_radius(&self, p: Point<f64>, radius: f64) -> Result<Vec<(usize, f64)>> {
        Layer::query_radius(self, p, radius)
    }
    fn query_nearest(&self, p: Point<f64>, k: usize) -> Result<Vec<(usize, f64)>> {
        Layer::query_nearest(self, p, k)
    }
    fn query_polygon(&self, poly: &Polygon<f64>) -> Result<Vec<usize>> {
        Layer::query_polygon(self, poly)
    }
    fn query_multipolygon(&self, area: &MultiPolygon<f64>) -> Result<Vec<usize>> {
        Layer::query_multipolygon(self, area)
    }
    fn geojson(&self, idx: usize, to_wgs84: &Reprojector) -> Option<Result<geojson::Feature>> {
        self.get(idx).map(|f| feature_to_geojson(f, to_wgs84))
    }
    fn properties(&self, idx: usize) -> Option<serde_json::Map<String, serde_json::Value>> {
        self.get(idx).map(|f| f.properties())
    }
    fn summary(&self, idx: usize) -> Option<String> {
        self.get(idx).map(|f| f.summary())
    }
}

impl Twin {
    /// The vector layer of `kind`, none for terrain and point clouds.
    pub fn vector(&self, kind: LayerKind) -> Option<&dyn VectorLayer> {
        Some(match kind {
            LayerKind::Buildings => &self.buildings,
            LayerKind::Heritage => &self.heritage,
            LayerKind::Sensors => &self.sensors,
            LayerKind::Roads => &self.roads,
            LayerKind::Water => &self.water,
            LayerKind::LandUse => &self.landuse,
            LayerKind::Terrain | LayerKind::Pointclouds => return None,
        })
    }

    /// True when the twin has something in the layer of `kind` (a feature, a valid terrain
    /// cell, a point).
    pub fn has(&self, kind: LayerKind) -> bool {
        match kind {
            LayerKind::Terrain => self.terrain.iter().any(|d| d.valid_cells() > 0),
            LayerKind::Pointclouds => self.pointclouds.iter().any(|p| !p.points.is_empty()),
            vector => self.vector(vector).is_some_and(|l| !l.is_empty()),
        }
    }
}
