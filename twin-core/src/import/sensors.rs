//! Sensors from CSV (`id,kind,unit,lon,lat[,name,...]`) or JSON (an array of objects with the
//! same keys). Coordinates are WGS84 longitude/latitude unless `opts.source_crs` says otherwise
//! (then the columns may also be named `x`,`y`). Extra columns are kept as attributes.

use super::{ImportOptions, Imported, Progress};
use crate::crs::{Crs, Reprojector};
use crate::error::{Result, TwinError};
use crate::model::{Attributes, Sensor};
use geo_types::Point;
use std::collections::HashSet;
use std::path::Path;

/// Build a sensor from its attributes (kind and unit required); the location is already in the
/// project CRS. The error is a message; callers add file and place.
pub(crate) fn sensor(
    id: String,
    attrs: &Attributes,
    location: Point<f64>,
) -> std::result::Result<Sensor, String> {
    let get = |k: &str| {
        attrs
            .get(k)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let kind = get("kind").ok_or("missing `kind`")?;
    let unit = get("unit").ok_or("missing `unit`")?;
    let mut attributes = attrs.clone();
    for k in ["id", "kind", "unit", "name", "lon", "lat", "x", "y"] {
        attributes.remove(k);
    }
    Ok(Sensor {
        id,
        kind,
        unit,
        name: get("name"),
        location,
        attributes,
    })
}

fn coordinate(attrs: &Attributes, keys: [&str; 2]) -> std::result::Result<f64, String> {
    let (k, v) = keys
        .iter()
        .find_map(|k| attrs.get(*k).map(|v| (*k, v)))
        .ok_or_else(|| format!("missing `{}`", keys[0]))?;
    let x: f64 = v
        .trim()
        .parse()
        .map_err(|_| format!("`{k}` is not a number: {v:?}"))?;
    if !x.is_finite() {
        return Err(format!("`{k}` is not finite: {v:?}"));
    }
    Ok(x)
}

/// Import sensors from a CSV or JSON file (told apart by the content).
pub fn import(path: &Path, opts: &ImportOptions, progress: &dyn Progress) -> Result<Imported> {
    let src_crs = opts.source_crs.clone().unwrap_or_else(Crs::wgs84);
    let reproj = Reprojector::new(&src_crs, &opts.project_crs)?;
    let geographic = src_crs.is_geographic();
    // JSON or CSV by the content (the name decides only when the content says nothing).
    let json = match super::detect::detect(path) {
        Ok(d) => d.content != super::detect::Content::SensorsCsv,
        Err(_) => path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json")),
    };
    let rows: Vec<(String, Attributes)> = if json {
        let text = std::fs::read_to_string(path).map_err(|e| TwinError::io(path, e))?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            TwinError::parse(path, format!("line {}, column {}", e.line(), e.column()), e)
        })?;
        let arr = v.as_array().ok_or_else(|| {
            TwinError::parse(path, "top level", "expected an array of sensor objects")
        })?;
        arr.iter()
            .enumerate()
            .map(|(i, o)| {
                let obj = o.as_object().ok_or_else(|| {
                    TwinError::parse(path, format!("[{i}]"), "expected an object")
                })?;
                Ok((format!("[{i}]"), super::tags::attributes(Some(obj))))
            })
            .collect::<Result<_>>()?
    } else {
        let mut rdr = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_path(path)
            .map_err(|e| TwinError::parse(path, "header", e))?;
        let headers = rdr
            .headers()
            .map_err(|e| TwinError::parse(path, "header", e))?
            .clone();
        rdr.records()
            .map(|r| {
                let r = r.map_err(|e| {
                    let line = e.position().map(|p| p.line()).unwrap_or(0);
                    TwinError::parse(path, format!("line {line}"), e)
                })?;
                let line = r.position().map(|p| p.line()).unwrap_or(0);
                let attrs = headers
                    .iter()
                    .zip(r.iter())
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                Ok((format!("line {line}"), attrs))
            })
            .collect::<Result<_>>()?
    };
    progress.start("reading sensors", rows.len() as u64);
    let mut out = Imported {
        source_crs: Some(src_crs),
        ..Default::default()
    };
    let mut seen = HashSet::new();
    let prefix = opts.id_prefix.as_deref().unwrap_or("sensor");
    for (place, attrs) in rows {
        let fail = |m: String| TwinError::parse(path, &place, m);
        let sid = attrs
            .get("id")
            .cloned()
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| fail("missing `id`".into()))?;
        if !seen.insert(sid.clone()) {
            return Err(fail(format!("duplicate sensor id {sid:?}")));
        }
        let (xk, yk) = if geographic {
            (["lon", "longitude"], ["lat", "latitude"])
        } else {
            (["x", "lon"], ["y", "lat"])
        };
        let x = coordinate(&attrs, xk).map_err(fail)?;
        let y = coordinate(&attrs, yk).map_err(fail)?;
        if geographic && !((-180.0..=180.0).contains(&x) && (-90.0..=90.0).contains(&y)) {
            return Err(fail(format!("({x}, {y}) is not a longitude/latitude")));
        }
        let (px, py) = reproj.apply(x, y).map_err(|e| fail(e.to_string()))?;
        let s = sensor(format!("{prefix}:{sid}"), &attrs, Point::new(px, py))
            .map_err(|m| fail(m.to_string()))?;
        out.sensors.push(s);
        progress.inc(1);
    }
    progress.finish();
    Ok(out)
}
