//! Features out as RFC 7946 GeoJSON: WGS84 longitude/latitude, exterior rings counter-clockwise
//! and holes clockwise, coordinates rounded to 1e-7 degrees (about a centimetre).
//!
//! This is the one place where a twin feature becomes GeoJSON (the HTTP API and any export use
//! it). Properties are the feature's typed fields, then its source attributes under
//! `attributes`. The way back, [`geometry_from_geojson`], checks every position before the
//! `geojson` crate's conversion (which indexes positions and panics on `[0]` or `[]`).
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
use crate::model::{Attributes, Building, HeritageSite, LandUse, Road, Sensor, Water};
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
            "height_limit_m": self.height_limit_m,
            "floor_m": self.floor_m,
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

/// The properties of a feature that is an id, a kind and a name (water, land use).
fn kind_properties(id: &str, name: &Option<String>, kind: &str) -> Map<String, Value> {
    obj(json!({
        "id": id,
        "name": name,
        "kind": kind,
    }))
}

impl Properties for Water {
    fn summary(&self) -> String {
        self.kind.clone()
    }
    fn properties(&self) -> Map<String, Value> {
        kind_properties(&self.id, &self.name, &self.kind)
    }
}

impl Properties for LandUse {
    fn summary(&self) -> String {
        self.kind.clone()
    }
    fn properties(&self) -> Map<String, Value> {
        kind_properties(&self.id, &self.name, &self.kind)
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

/// A GeoJSON geometry as geo-types, every position checked first: at least two numbers, x and y
/// finite. The error names the first bad position, e.g. `coordinates[0][2]: position [107.6]
/// has 1 number, a position needs at least 2`. The `geojson` crate's own conversion indexes
/// positions and panics on short ones, so nothing else should convert input geometry.
///
/// ```
/// use twin_core::export::geometry_from_geojson;
/// let ok: geojson::Geometry = r#"{"type":"Point","coordinates":[107.5,16.4]}"#.parse().unwrap();
/// assert!(geometry_from_geojson(&ok.value).is_ok());
/// let short: geojson::Geometry = r#"{"type":"LineString","coordinates":[[107.5,16.4],[1]]}"#.parse().unwrap();
/// assert!(geometry_from_geojson(&short.value).unwrap_err().contains("coordinates[1]"));
/// ```
pub fn geometry_from_geojson(
    v: &geojson::GeometryValue,
) -> std::result::Result<Geometry<f64>, String> {
    check_positions(v, "")?;
    Geometry::<f64>::try_from(v).map_err(|e| e.to_string())
}

fn check_position(p: &geojson::Position, at: &str) -> std::result::Result<(), String> {
    let s = p.as_slice();
    if s.len() < 2 {
        return Err(format!(
            "{at}: position {s:?} has {} number{}, a position needs at least 2",
            s.len(),
            if s.len() == 1 { "" } else { "s" }
        ));
    }
    if !(s[0].is_finite() && s[1].is_finite()) {
        return Err(format!("{at}: position {s:?} is not finite"));
    }
    Ok(())
}

fn check_positions(v: &geojson::GeometryValue, prefix: &str) -> std::result::Result<(), String> {
    use geojson::GeometryValue as V;
    let line = |l: &[geojson::Position], at: &str| {
        l.iter()
            .enumerate()
            .try_for_each(|(i, p)| check_position(p, &format!("{at}[{i}]")))
    };
    let poly = |rings: &[Vec<geojson::Position>], at: &str| {
        rings
            .iter()
            .enumerate()
            .try_for_each(|(i, r)| line(r, &format!("{at}[{i}]")))
    };
    let at = format!("{prefix}coordinates");
    match v {
        V::Point { coordinates } => check_position(coordinates, &at),
        V::MultiPoint { coordinates } | V::LineString { coordinates } => line(coordinates, &at),
        V::MultiLineString { coordinates } | V::Polygon { coordinates } => poly(coordinates, &at),
        V::MultiPolygon { coordinates } => coordinates
            .iter()
            .enumerate()
            .try_for_each(|(i, p)| poly(p, &format!("{at}[{i}]"))),
        V::GeometryCollection { geometries } => geometries
            .iter()
            .enumerate()
            .try_for_each(|(i, g)| check_positions(&g.value, &format!("{prefix}geometries[{i}]."))),
    }
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
