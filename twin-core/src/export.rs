//! Features out as RFC 7946 GeoJSON: WGS84 longitude/latitude, exterior rings counter-clockwise
//! and holes clockwise, coordinates rounded to 1e-7 degrees (about a centimetre).
//!
//! This is the one place where a twin feature becomes GeoJSON (the HTTP API and any export use
//! it). Properties are the feature's typed fields, then its source attributes under
//! `attributes`.
//!
//! ```
//! use twin_core::crs::{Crs, Reprojector};
//! use twin_core::export::feature_to_geojson;
//! use twin_core::model::{Sensor, Attributes};
//! use geo_types::Point;
//!
//! let utm = Crs::epsg(32648).unwrap();
//! let to_wgs84 = Reprojector::new(&utm, &Crs::wgs84()).unwrap();
//! let gauge = Sensor {
//!     id: "kim-long".into(), kind: "river_gauge".into(), unit: "m".into(), name: None,
//!     location: Point::new(741_000.0, 1_822_000.0), attributes: Attributes::new(),
//! };
//! let f = feature_to_geojson(&gauge, &to_wgs84).unwrap();
//! assert_eq!(f.id, Some(geojson::feature::Id::String("kim-long".into())));
//! let props = f.properties.unwrap();
//! assert_eq!(props["kind"], "river_gauge");
//! ```

use crate::crs::Reprojector;
use crate::error::Result;
use crate::index::Feature;
use crate::model::{Attributes, Building, HeritageSite, Road, Sensor, Water};
use geo::orient::{Direction, Orient};
use geo_types::Geometry;
use serde_json::{json, Map, Value};

/// Digits kept after the decimal point of a longitude or latitude.
pub const COORD_DECIMALS: i32 = 7;

/// A feature's GeoJSON properties (its typed fields, not its geometry or id).
pub trait Properties {
    /// The properties object.
    fn properties(&self) -> Map<String, Value>;
    /// One line for listings (`twin query`): height, zone, kind...
    fn summary(&self) -> String;
}

fn attrs(a: &Attributes) -> Value {
    Value::Object(
        a.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

impl Properties for Building {
    fn summary(&self) -> String {
        format!("{:.1} m ({})", self.height, self.height_source.label())
    }
    fn properties(&self) -> Map<String, Value> {
        obj(json!({
            "id": self.id,
            "name": self.name,
            "height": self.height,
            "base_height": self.base_height,
            "levels": self.levels,
            "use": self.usage,
            "source_id": self.source_id,
            "height_source": self.height_source.label(),
            "lod": self.solid.as_ref().map(|s| s.lod.clone()),
            "attributes": attrs(&self.attributes),
        }))
    }
}

impl Properties for HeritageSite {
    fn summary(&self) -> String {
        self.zone
            .as_ref()
            .map(|z| format!("zone {z}"))
            .unwrap_or_default()
    }
    fn properties(&self) -> Map<String, Value> {
        obj(json!({
            "id": self.id,
            "name": self.name,
            "zone": self.zone,
            "attributes": attrs(&self.attributes),
        }))
    }
}

impl Properties for Sensor {
    fn summary(&self) -> String {
        format!("{} [{}]", self.kind, self.unit)
    }
    fn properties(&self) -> Map<String, Value> {
        obj(json!({
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "unit": self.unit,
            "attributes": attrs(&self.attributes),
        }))
    }
}

impl Properties for Road {
    fn summary(&self) -> String {
        self.class.clone()
    }
    fn properties(&self) -> Map<String, Value> {
        obj(json!({
            "id": self.id,
            "name": self.name,
            "class": self.class,
            "lanes": self.lanes,
            "maxspeed_kmh": self.maxspeed_kmh,
            "oneway": self.oneway.label(),
            "bridge": self.bridge,
            "attributes": attrs(&self.attributes),
        }))
    }
}

impl Properties for Water {
    fn summary(&self) -> String {
        self.kind.clone()
    }
    fn properties(&self) -> Map<String, Value> {
        obj(json!({
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
        }))
    }
}

fn round(v: f64) -> f64 {
    let k = 10f64.powi(COORD_DECIMALS);
    (v * k).round() / k
}

/// A geometry in the project CRS as RFC 7946 GeoJSON geometry in WGS84: reprojected with
/// `to_wgs84`, polygons oriented (exterior counter-clockwise), coordinates rounded to
/// [`COORD_DECIMALS`].
pub fn geometry_to_geojson(g: &Geometry<f64>, to_wgs84: &Reprojector) -> Result<geojson::Geometry> {
    // Orient in the project CRS (a conformal, right-handed projection keeps the sense of turn).
    let mut g = match g {
        Geometry::Polygon(p) => Geometry::Polygon(p.orient(Direction::Default)),
        Geometry::MultiPolygon(p) => Geometry::MultiPolygon(p.orient(Direction::Default)),
        other => other.clone(),
    };
    to_wgs84.geometry(&mut g)?;
    use geo::MapCoordsInPlace;
    g.map_coords_in_place(|c| geo_types::Coord {
        x: round(c.x),
        y: round(c.y),
    });
    Ok(geojson::Geometry::new(geojson::GeometryValue::from(&g)))
}

/// One feature as an RFC 7946 GeoJSON feature in WGS84: its id, its geometry reprojected with
/// `to_wgs84` (a [`Reprojector`] from the twin's project CRS to [`crate::Crs::wgs84`]) and its
/// [`Properties`].
pub fn feature_to_geojson<T: Feature + Properties>(
    f: &T,
    to_wgs84: &Reprojector,
) -> Result<geojson::Feature> {
    Ok(geojson::Feature {
        bbox: None,
        geometry: Some(geometry_to_geojson(&f.geometry(), to_wgs84)?),
        id: Some(geojson::feature::Id::String(f.id().to_string())),
        properties: Some(f.properties()),
        foreign_members: None,
    })
}
