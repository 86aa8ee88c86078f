//! The one place where OSM-style tags become twin features, shared by the OSM PBF and the
//! GeoJSON importers (GeoJSON exported from OSM carries the same tags as properties).
//!
//! | layer     | rule                                                                     |
//! |-----------|--------------------------------------------------------------------------|
//! | buildings | `building=*` (not `no`) on a polygon                                     |
//! | heritage  | `historic=*` or `heritage=*` (not `no`); lines are buffered by 2 m       |
//! | roads     | `highway=*` on a line                                                    |
//! | water     | `waterway=*` on a line, or `natural=water` / `water=*` on a polygon       |
//! | landuse   | on a polygon that is not water: `landuse=*`, `leisure=park\|garden\|pitch`, |
//! |           | `natural=wood\|scrub\|grassland\|wetland\|heath` (kind: that value; a    |
//! |           | source sent to the layer may give it as a `kind` property)               |
//!
//! A feature may feed several layers (a historic building is a building and a heritage site).
//! A layer hint (GeoJSON sources configured for one layer) sends every feature to that layer.

use super::{Imported, LayerKind};
use crate::heights::{parse_length_m, HeightRules};
use crate::model::{Attributes, Building, HeritageSite, LandUse, Oneway, Road, Water};
use geo::Buffer;
use geo_types::{Geometry, LineString, MultiPolygon};

/// Buffer (metres) that turns a heritage line (a wall) into an area.
pub const HERITAGE_LINE_BUFFER_M: f64 = 2.0;

/// A tagged feature already in the project CRS.
pub(crate) struct Tagged<'a> {
    /// The twin id, e.g. `osm:way/123`.
    pub id: String,
    /// The id in the source.
    pub source_id: String,
    /// Its tags/properties.
    pub tags: &'a Attributes,
    /// Geometry in the project CRS.
    pub geometry: Geometry<f64>,
}

/// Properties as strings (numbers and booleans written as JSON, nested values as JSON text).
pub(crate) fn attributes(props: Option<&serde_json::Map<String, serde_json::Value>>) -> Attributes {
    props
        .into_iter()
        .flatten()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| {
            let s = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), s)
        })
        .collect()
}

fn tag<'a>(tags: &'a Attributes, k: &str) -> Option<&'a str> {
    tags.get(k)
        .map(|s| s.as_str())
        .filter(|s| !s.trim().is_empty())
}

fn yes(tags: &Attributes, k: &str) -> bool {
    tag(tags, k).is_some_and(|v| v != "no")
}

/// True when the tags make a building (used by counting tools and tests too).
pub fn is_building(tags: &Attributes) -> bool {
    yes(tags, "building")
}

/// True when the tags make a heritage site.
pub fn is_heritage(tags: &Attributes) -> bool {
    yes(tags, "historic") || yes(tags, "heritage")
}

/// True when the tags make a road.
pub fn is_road(tags: &Attributes) -> bool {
    tag(tags, "highway").is_some()
}

/// True when the tags make a water feature.
pub fn is_water(tags: &Attributes) -> bool {
    tag(tags, "waterway").is_some()
        || tag(tags, "natural") == Some("water")
        || tag(tags, "water").is_some()
}

/// The `leisure=*` values that make a land use area.
pub const LANDUSE_LEISURE: [&str; 3] = ["park", "garden", "pitch"];

/// The `natural=*` values that make a land use area (`natural=water` is water).
pub const LANDUSE_NATURAL: [&str; 5] = ["wood", "scrub", "grassland", "wetland", "heath"];

/// The land use class of the tags, `None` when they make no land use area: the value of
/// `landuse=*` (not `no`), else of `leisure=*` when in [`LANDUSE_LEISURE`], else of
/// `natural=*` when in [`LANDUSE_NATURAL`]. Water (see [`is_water`]) is never land use.
pub fn landuse_kind(tags: &Attributes) -> Option<&str> {
    if is_water(tags) {
        return None;
    }
    tag(tags, "landuse")
        .filter(|v| *v != "no")
        .or_else(|| tag(tags, "leisure").filter(|v| LANDUSE_LEISURE.contains(v)))
        .or_else(|| tag(tags, "natural").filter(|v| LANDUSE_NATURAL.contains(v)))
}

/// True when the tags make a land use area (on a polygon).
pub fn is_landuse(tags: &Attributes) -> bool {
    landuse_kind(tags).is_some()
}

fn areal(g: &Geometry<f64>) -> Option<MultiPolygon<f64>> {
    match g {
        Geometry::Polygon(p) => Some(MultiPolygon(vec![p.clone()])),
        Geometry::MultiPolygon(m) => Some(m.clone()),
        _ => None,
    }
}

fn linear(g: &Geometry<f64>) -> Option<LineString<f64>> {
    match g {
        Geometry::LineString(l) => Some(l.clone()),
        Geometry::MultiLineString(m) if m.0.len() == 1 => Some(m.0[0].clone()),
        // Closed areas such as `highway=pedestrian` + `area=yes`: their outline.
        Geometry::Polygon(p) => Some(p.exterior().clone()),
        _ => None,
    }
}

/// Parse `maxspeed` (`50`, `50 km/h`, `30 mph`) to km/h.
pub fn parse_maxspeed_kmh(v: &str) -> Option<f64> {
    let s = v.trim().to_ascii_lowercase();
    let (num, f) = if let Some(n) = s.strip_suffix("mph") {
        (n.trim(), 1.609_344)
    } else {
        (
            s.trim_end_matches("km/h").trim_end_matches("kmh").trim(),
            1.0,
        )
    };
    let x: f64 = num.parse().ok()?;
    (x.is_finite() && x > 0.0 && x < 300.0).then_some(x * f)
}

/// Classify one tagged feature into the layers it feeds, appending to `out`. Returns how many
/// layers took it (0: ignored).
pub(crate) fn classify(
    t: Tagged<'_>,
    hint: Option<LayerKind>,
    rules: &HeightRules,
    out: &mut Imported,
) -> usize {
    let want = |k: LayerKind, by_tags: bool| match hint {
        Some(h) => h == k,
        None => by_tags,
    };
    let tags = t.tags;
    let name = tag(tags, "name").map(str::to_string);
    let mut taken = 0;

    if want(LayerKind::Buildings, is_building(tags)) {
        if let Some(footprint) = areal(&t.geometry) {
            let (height, height_source, levels) = rules.resolve(
                tag(tags, "height"),
                tag(tags, "building:levels").or(tag(tags, "levels")),
                tag(tags, "building"),
            );
            let base_height = tag(tags, "min_height")
                .and_then(parse_length_m)
                .unwrap_or(0.0);
            out.buildings.push(Building {
                id: t.id.clone(),
                footprint,
                height,
                base_height,
                levels,
                usage: tag(tags, "building").map(str::to_string),
                name: name.clone(),
                source_id: t.source_id.clone(),
                height_source,
                solid: None,
                attributes: tags.clone(),
            });
            taken += 1;
        }
    }
    if want(LayerKind::Heritage, is_heritage(tags)) {
        let polygon = areal(&t.geometry).or_else(|| match &t.geometry {
            Geometry::LineString(l) => Some(l.buffer(HERITAGE_LINE_BUFFER_M)),
            Geometry::MultiLineString(m) => Some(m.buffer(HERITAGE_LINE_BUFFER_M)),
            Geometry::Point(p) => Some(p.buffer(HERITAGE_LINE_BUFFER_M * 5.0)),
            _ => None,
        });
        if let Some(polygon) = polygon.filter(|m| !m.0.is_empty()) {
            let mut attributes = tags.clone();
            let height_limit_m = HeritageSite::take_height_limit(&mut attributes);
            let floor_m = HeritageSite::take_floor(&mut attributes);
            out.heritage.push(HeritageSite {
                id: t.id.clone(),
                name: name.clone(),
                polygon,
                zone: tag(tags, "zone")
                    .or(tag(tags, "heritage:zone"))
                    .map(str::to_string),
                height_limit_m,
                floor_m,
                attributes,
            });
            taken += 1;
        }
    }
    if want(LayerKind::Roads, is_road(tags)) {
        if let Some(line) = linear(&t.geometry) {
            out.roads.push(Road {
                id: t.id.clone(),
                line,
                class: tag(tags, "highway").unwrap_or("road").to_string(),
                name: name.clone(),
                lanes: tag(tags, "lanes")
                    .and_then(|l| l.trim().parse::<u32>().ok())
                    .filter(|&l| l > 0 && l < 20),
                maxspeed_kmh: tag(tags, "maxspeed").and_then(parse_maxspeed_kmh),
                oneway: Oneway::from_osm(tag(tags, "oneway")),
                bridge: yes(tags, "bridge"),
                attributes: tags.clone(),
            });
            taken += 1;
        }
    }
    if want(LayerKind::LandUse, is_landuse(tags)) {
        if let Some(polygon) = areal(&t.geometry).filter(|m| !m.0.is_empty()) {
            out.landuse.push(LandUse {
                id: t.id.clone(),
                // A source sent to this layer (GeoJSON written by the sample generator or by
                // the twin's export) may carry the class as `kind` instead of OSM tags.
                kind: landuse_kind(tags)
                    .or(tag(tags, "kind"))
                    .unwrap_or("landuse")
                    .to_string(),
                name: name.clone(),
                polygon,
            });
            taken += 1;
        }
    }
    if want(LayerKind::Water, is_water(tags)) && !matches!(t.geometry, Geometry::Point(_)) {
        out.water.push(Water {
            id: t.id.clone(),
            kind: tag(tags, "waterway")
                .or(tag(tags, "water"))
                .unwrap_or("water")
                .to_string(),
            name,
            geometry: t.geometry,
        });
        taken += 1;
    }
    taken
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{coord, polygon};

    fn tags(kv: &[(&str, &str)]) -> Attributes {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn historic_building_feeds_two_layers() {
        let t = tags(&[
            ("building", "temple"),
            ("historic", "monument"),
            ("name", "Thai Hoa"),
            ("building:levels", "2"),
        ]);
        let mut out = Imported::default();
        let g = Geometry::Polygon(
            polygon![(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0), (x: 0.0, y: 0.0)],
        );
        let n = classify(
            Tagged {
                id: "osm:way/1".into(),
                source_id: "way/1".into(),
                tags: &t,
                geometry: g,
            },
            None,
            &HeightRules::default(),
            &mut out,
        );
        assert_eq!(n, 2);
        assert_eq!(out.buildings[0].levels, Some(2));
        assert!((out.buildings[0].height - 6.4).abs() < 1e-9);
        assert_eq!(out.heritage[0].name.as_deref(), Some("Thai Hoa"));
    }

    #[test]
    fn landuse_rules() {
        let square = || {
            Geometry::Polygon(
                polygon![(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0), (x: 0.0, y: 0.0)],
            )
        };
        let line = || {
            Geometry::LineString(LineString(vec![
                coord! {x: 0.0, y: 0.0},
                coord! {x: 5.0, y: 0.0},
            ]))
        };
        type Case<'a> = (&'a [(&'a str, &'a str)], Geometry<f64>, Option<&'a str>);
        let cases: [Case; 9] = [
            (&[("landuse", "residential")], square(), Some("residential")),
            (
                &[("leisure", "park"), ("name", "Tao Dan")],
                square(),
                Some("park"),
            ),
            (&[("leisure", "stadium")], square(), None),
            (&[("natural", "wood")], square(), Some("wood")),
            (&[("natural", "water")], square(), None),
            (
                &[("landuse", "reservoir"), ("natural", "water")],
                square(),
                None,
            ),
            (&[("natural", "tree_row")], square(), None),
            (&[("landuse", "no")], square(), None),
            (&[("landuse", "forest")], line(), None),
        ];
        for (kv, g, want) in cases {
            let t = tags(kv);
            let mut out = Imported::default();
            classify(
                Tagged {
                    id: "a".into(),
                    source_id: "a".into(),
                    tags: &t,
                    geometry: g,
                },
                None,
                &HeightRules::default(),
                &mut out,
            );
            let got = out.landuse.first().map(|l| l.kind.as_str());
            assert_eq!(got, want, "{kv:?}");
        }
    }

    #[test]
    fn road_tags() {
        let t = tags(&[
            ("highway", "primary"),
            ("lanes", "4"),
            ("maxspeed", "30 mph"),
            ("oneway", "-1"),
            ("bridge", "yes"),
        ]);
        let mut out = Imported::default();
        let g = Geometry::LineString(LineString(vec![
            coord! {x: 0.0, y: 0.0},
            coord! {x: 5.0, y: 0.0},
        ]));
        classify(
            Tagged {
                id: "r".into(),
                source_id: "r".into(),
                tags: &t,
                geometry: g,
            },
            None,
            &HeightRules::default(),
            &mut out,
        );
        let r = &out.roads[0];
        assert_eq!(
            (r.lanes, r.oneway, r.bridge),
            (Some(4), Oneway::Backward, true)
        );
        assert!((r.maxspeed_kmh.unwrap() - 48.28032).abs() < 1e-9);
    }
}
