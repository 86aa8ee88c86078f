//! A proposed building: a GeoJSON Feature (RFC 7946, WGS84) with a Polygon or MultiPolygon
//! footprint and its height (`height`, metres) or storeys (`storeys` or `building:levels`, times
//! the rules' storey height), optionally `roof:shape` and `name`; or a CityJSON 1.1/2.0
//! document with one building (LoD1 or LoD2 solids, vertices with `transform`), read by
//! `twin-core`'s CityJSON importer: its footprint (the union of its ground surfaces) and its
//! height (top − bottom of its geometry), in the CRS of `metadata.referenceSystem`, which must
//! be the twin's or WGS84. Either way the building stands on the twin's ground (the lowest
//! terrain under its footprint).
//!
//! ```json
//! {"type": "Feature", "properties": {"name": "Hotel", "height": 30, "roof:shape": "flat"},
//!  "geometry": {"type": "Polygon", "coordinates": [[[107.58, 16.45], ...]]}}
//! ```

use crate::error::{HeritageError, Result};
use crate::rules::Rules;
use geo_types::{Coord, LineString, MultiPolygon, Polygon};
use serde::Serialize;
use twin_core::crs::{Crs, Reprojector};
use twin_core::Twin;

/// The largest proposal document read (bytes).
pub const MAX_PROPOSAL_BYTES: usize = 1 << 20;
/// The most footprint vertices of a proposal.
pub const MAX_PROPOSAL_VERTICES: usize = 10_000;

/// A proposed building in the twin's project CRS.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Proposal {
    /// Its name, when given.
    pub name: Option<String>,
    /// Footprint (project CRS).
    #[serde(skip)]
    pub footprint: MultiPolygon<f64>,
    /// Height above its base, m.
    pub height_m: f64,
    /// Where the height came from: `height`, or `storeys` with the storey height.
    pub height_from: String,
    /// Its roof shape (`roof:shape`), when given.
    pub roof: Option<String>,
    /// Ground under it (orthometric m): the lowest terrain under its vertices.
    pub base_m: f64,
}

fn prop_number(
    input: &str,
    p: &serde_json::Map<String, serde_json::Value>,
    key: &str,
) -> Result<Option<f64>> {
    match p.get(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Number(n)) => Ok(n.as_f64()),
        Some(serde_json::Value::String(s)) => twin_core::heights::parse_length_m(s)
            .map(Some)
            .ok_or_else(|| {
                HeritageError::parse(
                    input,
                    format!("properties.{key}"),
                    format!("{s:?} is not a number of metres"),
                )
            }),
        Some(v) => Err(HeritageError::parse(
            input,
            format!("properties.{key}"),
            format!("{v} is not a number"),
        )),
    }
}

fn ring(
    input: &str,
    v: &serde_json::Value,
    place: &str,
    t: &Reprojector,
    count: &mut usize,
) -> Result<LineString<f64>> {
    let pts = v
        .as_array()
        .ok_or_else(|| HeritageError::parse(input, place, "a ring is an array of positions"))?;
    let mut out = Vec::with_capacity(pts.len());
    for (k, p) in pts.iter().enumerate() {
        *count += 1;
        if *count > MAX_PROPOSAL_VERTICES {
            return Err(HeritageError::parse(
                input,
                place,
                format!("more than {MAX_PROPOSAL_VERTICES} vertices"),
            ));
        }
        let xy = p
            .as_array()
            .filter(|a| a.len() >= 2)
            .and_then(|a| Some((a[0].as_f64()?, a[1].as_f64()?)));
        let Some((lon, lat)) =
            xy.filter(|(x, y)| (-180.0..=180.0).contains(x) && (-90.0..=90.0).contains(y))
        else {
            return Err(HeritageError::parse(
                input,
                format!("{place}[{k}]"),
                format!("{p} is not a WGS84 [lon, lat] position"),
            ));
        };
        let (x, y) = t.apply(lon, lat)?;
        out.push(Coord { x, y });
    }
    if out.len() < 4 {
        return Err(HeritageError::parse(
            input,
            place,
            "a ring needs at least 4 positions",
        ));
    }
    Ok(LineString(out))
}

fn polygon(
    input: &str,
    v: &serde_json::Value,
    place: &str,
    t: &Reprojector,
    count: &mut usize,
) -> Result<Polygon<f64>> {
    let rings = v.as_array().filter(|r| !r.is_empty()).ok_or_else(|| {
        HeritageError::parse(input, place, "a polygon is a non-empty array of rings")
    })?;
    let mut it = rings
        .iter()
        .enumerate()
        .map(|(k, r)| ring(input, r, &format!("{place}[{k}]"), t, count));
    let outer = it.next().expect("non-empty")?;
    let holes = it.collect::<Result<Vec<_>>>()?;
    Ok(Polygon::new(outer, holes))
}

impl Proposal {
    /// Read a proposal from GeoJSON text: a Feature, or a FeatureCollection of exactly one.
    pub fn from_geojson(text: &str, twin: &Twin, rules: &Rules) -> Result<Proposal> {
        Proposal::geojson(text, "proposal", twin, rules)
    }

    /// Read a proposal from GeoJSON or CityJSON text (a document whose `type` is `CityJSON`);
    /// `input` names it (a file) in errors.
    pub fn read(text: &str, input: &str, twin: &Twin, rules: &Rules) -> Result<Proposal> {
        if text.len() > MAX_PROPOSAL_BYTES {
            return Err(HeritageError::parse(
                input,
                "document",
                format!("{} bytes, more than {MAX_PROPOSAL_BYTES}", text.len()),
            ));
        }
        // The type, peeked without parsing the whole document twice when it is GeoJSON.
        let head = text.get(..text.len().min(4096)).unwrap_or(text);
        let cityjson = head.contains("\"CityJSON\"")
            && serde_json::from_str::<serde_json::Value>(text)
                .ok()
                .is_some_and(|d| d.get("type").and_then(|t| t.as_str()) == Some("CityJSON"));
        if cityjson {
            Proposal::cityjson(text, input, twin)
        } else {
            Proposal::geojson(text, input, twin, rules)
        }
    }

    /// Read a proposal from a CityJSON 1.1/2.0 document of one building.
    pub fn cityjson(text: &str, input: &str, twin: &Twin) -> Result<Proposal> {
        let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            HeritageError::parse(input, format!("line {} column {}", e.line(), e.column()), e)
        })?;
        match doc.get("version").and_then(|v| v.as_str()) {
            Some("1.1" | "2.0") => {}
            other => {
                return Err(HeritageError::parse(
                    input,
                    "version",
                    format!("{other:?}: a proposal is CityJSON 1.1 or 2.0"),
                ))
            }
        }
        let rs = doc
            .pointer("/metadata/referenceSystem")
            .and_then(|v| v.as_str())
            .ok_or_else(|| {
                HeritageError::parse(
                    input,
                    "metadata.referenceSystem",
                    format!(
                        "missing: the proposal must say its CRS (the twin's {} or WGS84)",
                        twin.crs.short()
                    ),
                )
            })?;
        let crs = Crs::parse(rs)
            .map_err(|e| HeritageError::parse(input, "metadata.referenceSystem", e))?;
        let wgs84 = matches!(crs.epsg_code(), Some(4326 | 4979));
        let twins = crs.epsg_code().is_some() && crs.epsg_code() == twin.crs.epsg_code();
        if !(wgs84 || twins) {
            return Err(HeritageError::parse(
                input,
                "metadata.referenceSystem",
                format!(
                    "{rs} ({}) is neither the twin's CRS {} nor WGS84",
                    crs.short(),
                    twin.crs.short()
                ),
            ));
        }
        let opts = twin_core::import::ImportOptions::new(twin.crs.clone());
        let imported = twin_core::import::cityjson::import_text(
            std::path::Path::new(input),
            text,
            &opts,
            &twin_core::NoProgress,
        )?;
        let b = match imported.buildings.as_slice() {
            [b] => b,
            [] => {
                return Err(HeritageError::parse(
                    input,
                    "CityObjects",
                    "no Building with a footprint (LoD1 or LoD2 solid with a ground surface)",
                ))
            }
            more => {
                return Err(HeritageError::parse(
                    input,
                    "CityObjects",
                    format!("{} buildings: a proposal is one building", more.len()),
                ))
            }
        };
        let vertices: usize = b
            .footprint
            .0
            .iter()
            .map(|p| p.exterior().0.len() + p.interiors().iter().map(|r| r.0.len()).sum::<usize>())
            .sum();
        if vertices > MAX_PROPOSAL_VERTICES {
            return Err(HeritageError::parse(
                input,
                "CityObjects",
                format!("a footprint of {vertices} vertices, more than {MAX_PROPOSAL_VERTICES}"),
            ));
        }
        let height_m = b.height;
        if !(height_m.is_finite() && height_m > 0.0 && height_m < 1000.0) {
            return Err(HeritageError::parse(
                input,
                format!("CityObjects.{}", b.source_id),
                format!("{height_m} m is not a building height"),
            ));
        }
        let base_m =
            twin_core::ground::lowest_ground(&twin.terrain, &b.footprint).ok_or_else(|| {
                HeritageError::invalid(input, "its footprint is outside the twin's terrain")
            })?;
        let lod = b.solid.as_ref().map(|s| s.lod.clone()).unwrap_or_default();
        let attr = |k: &str| b.attributes.get(k).cloned();
        Ok(Proposal {
            name: b.name.clone().or_else(|| Some(b.source_id.clone())),
            footprint: b.footprint.clone(),
            height_m,
            height_from: format!(
                "CityJSON LoD{lod} geometry of {} (top − bottom, {})",
                b.source_id,
                crs.short()
            ),
            roof: attr("roof:shape")
                .or_else(|| attr("roofType"))
                .or_else(|| attr("roof_shape")),
            base_m,
        })
    }

    fn geojson(text: &str, input: &str, twin: &Twin, rules: &Rules) -> Result<Proposal> {
        if text.len() > MAX_PROPOSAL_BYTES {
            return Err(HeritageError::parse(
                input,
                "document",
                format!("{} bytes, more than {MAX_PROPOSAL_BYTES}", text.len()),
            ));
        }
        let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            HeritageError::parse(input, format!("line {} column {}", e.line(), e.column()), e)
        })?;
        let feature = match doc.get("type").and_then(|t| t.as_str()) {
            Some("Feature") => &doc,
            Some("FeatureCollection") => match doc.get("features").and_then(|f| f.as_array()) {
                Some(f) if f.len() == 1 => &f[0],
                Some(f) => {
                    return Err(HeritageError::parse(
                        input,
                        "features",
                        format!("{} features: a proposal is one building", f.len()),
                    ))
                }
                None => return Err(HeritageError::parse(input, "features", "missing")),
            },
            other => {
                return Err(HeritageError::parse(
                    input,
                    "type",
                    format!("{other:?}: expected a GeoJSON Feature"),
                ))
            }
        };
        let empty = serde_json::Map::new();
        let props = feature
            .get("properties")
            .and_then(|p| p.as_object())
            .unwrap_or(&empty);
        let geom = feature
            .get("geometry")
            .ok_or_else(|| HeritageError::parse(input, "geometry", "missing"))?;
        let t = Reprojector::new(&Crs::wgs84(), &twin.crs)?;
        let coords = geom
            .get("coordinates")
            .ok_or_else(|| HeritageError::parse(input, "geometry.coordinates", "missing"))?;
        let mut count = 0;
        let footprint = match geom.get("type").and_then(|t| t.as_str()) {
            Some("Polygon") => MultiPolygon(vec![polygon(
                input,
                coords,
                "geometry.coordinates",
                &t,
                &mut count,
            )?]),
            Some("MultiPolygon") => MultiPolygon(
                coords
                    .as_array()
                    .filter(|a| !a.is_empty())
                    .ok_or_else(|| {
                        HeritageError::parse(
                            input,
                            "geometry.coordinates",
                            "a MultiPolygon is a non-empty array of polygons",
                        )
                    })?
                    .iter()
                    .enumerate()
                    .map(|(k, p)| {
                        polygon(
                            input,
                            p,
                            &format!("geometry.coordinates[{k}]"),
                            &t,
                            &mut count,
                        )
                    })
                    .collect::<Result<_>>()?,
            ),
            other => {
                return Err(HeritageError::parse(
                    input,
                    "geometry.type",
                    format!("{other:?}: a footprint is a Polygon or MultiPolygon"),
                ))
            }
        };
        let (height_m, height_from) = if let Some(h) = prop_number(input, props, "height")? {
            (h, "height".to_string())
        } else if let Some(n) = match prop_number(input, props, "storeys")? {
            Some(n) => Some(n),
            None => prop_number(input, props, "building:levels")?,
        } {
            let s = rules.file.storey_height_m;
            (n * s, format!("{n} storeys × {s} m"))
        } else {
            return Err(HeritageError::parse(
                input,
                "properties",
                "neither `height` (m) nor `storeys` given",
            ));
        };
        if !(height_m.is_finite() && height_m > 0.0 && height_m < 1000.0) {
            return Err(HeritageError::parse(
                input,
                "properties.height",
                format!("{height_m} m is not a building height"),
            ));
        }
        let base_m =
            twin_core::ground::lowest_ground(&twin.terrain, &footprint).ok_or_else(|| {
                HeritageError::invalid(input, "its footprint is outside the twin's terrain")
            })?;
        let text_prop = |k: &str| props.get(k).and_then(|v| v.as_str()).map(str::to_string);
        Ok(Proposal {
            name: text_prop("name"),
            footprint,
            height_m,
            height_from,
            roof: text_prop("roof:shape").or_else(|| text_prop("roof_shape")),
            base_m,
        })
    }

    /// The top of the building (orthometric m).
    pub fn top_m(&self) -> f64 {
        self.base_m + self.height_m
    }
}
