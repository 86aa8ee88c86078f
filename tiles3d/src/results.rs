//! Scenario results in tiles without regenerating geometry.
//!
//! Every building and heritage glb carries one property table (class `building` or
//! `heritage`) whose result columns `max_flood_depth` and `flood_duration` (FLOAT32, no data −1)
//! are fixed-size arrays in the binary chunk, so a scenario run rewrites them in place
//! ([`patch_results`]): same length, same offsets, geometry and other columns untouched.
//! Clients see the results as ordinary properties of the features (a CesiumJS style can colour
//! by `${max_flood_depth}`). A server can do this on the cached bytes of a tile; an exported
//! folder can be updated file by file.

use super::glb::split;
use super::schema::RESULT_NO_DATA;
use crate::error::{Error, Result};
use serde_json::Value;

/// One feature's results; `None` leaves the no-data value.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FeatureResults {
    /// Maximum water depth at the feature, metres.
    pub max_flood_depth: Option<f32>,
    /// Hours above 0.1 m.
    pub flood_duration: Option<f32>,
}

fn usize_of(v: &Value, what: &str) -> Result<usize> {
    v.as_u64()
        .map(|x| x as usize)
        .ok_or_else(|| Error::invalid("glb", format!("{what} is not a number")))
}

/// Where a property's values are in the glb: (byte offset in the file, byte length).
fn property_bytes(
    doc: &Value,
    bin: &std::ops::Range<usize>,
    prop: &Value,
    what: &str,
) -> Result<(usize, usize)> {
    let view = usize_of(&prop["values"], what)?;
    let v = &doc["bufferViews"][view];
    let off = v["byteOffset"].as_u64().unwrap_or(0) as usize;
    let len = usize_of(&v["byteLength"], "bufferView.byteLength")?;
    if bin.start + off + len > bin.end {
        return Err(Error::invalid(
            "glb",
            format!("{what} runs past the binary chunk"),
        ));
    }
    Ok((bin.start + off, len))
}

/// The feature ids (the `id` column of the feature table), in row order.
pub fn feature_ids(glb: &[u8]) -> Result<Vec<String>> {
    let (doc, bin) = split(glb)?;
    let tables = doc["extensions"]["EXT_structural_metadata"]["propertyTables"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let Some(t) = tables.first() else {
        return Ok(Vec::new());
    };
    let n = usize_of(&t["count"], "propertyTable.count")?;
    let id = &t["properties"]["id"];
    let (voff, vlen) = property_bytes(&doc, &bin, id, "id values")?;
    let sv = usize_of(&id["stringOffsets"], "id stringOffsets")?;
    let (ooff, olen) =
        property_bytes(&doc, &bin, &serde_json::json!({"values": sv}), "id offsets")?;
    if olen < (n + 1) * 4 {
        return Err(Error::invalid("glb", "id string offsets are too short"));
    }
    let at = |k: usize| {
        let b = &glb[ooff + k * 4..ooff + k * 4 + 4];
        u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize
    };
    (0..n)
        .map(|k| {
            let (a, b) = (at(k), at(k + 1));
            if a > b || b > vlen {
                return Err(Error::invalid(
                    "glb",
                    format!("id string {k} is out of bounds"),
                ));
            }
            String::from_utf8(glb[voff + a..voff + b].to_vec())
                .map_err(|_| Error::invalid("glb", format!("id string {k} is not UTF-8")))
        })
        .collect()
}

/// Rewrite the results table of a building or heritage glb in place: `results(feature id)` gives
/// each feature's values. Returns how many features got a value. Geometry and the feature
/// table are not touched; the file keeps its size. A block tile (class `block`, docs/adr/0026)
/// has no results: it is left as it is and 0 returned.
pub fn patch_results(
    glb: &mut [u8],
    results: impl Fn(&str) -> Option<FeatureResults>,
) -> Result<usize> {
    {
        let (doc, _) = split(glb)?;
        if doc["extensions"]["EXT_structural_metadata"]["propertyTables"][0]["class"]
            == crate::schema::CLASS_BLOCK
        {
            return Ok(0);
        }
    }
    let ids = feature_ids(glb)?;
    let (doc, bin) = split(glb)?;
    let tables = doc["extensions"]["EXT_structural_metadata"]["propertyTables"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let Some(t) = tables
        .first()
        .filter(|t| !t["properties"]["max_flood_depth"].is_null())
    else {
        return Err(Error::invalid(
            "glb",
            "no property table with max_flood_depth (not a building or heritage tile)",
        ));
    };
    if usize_of(&t["count"], "propertyTable.count")? != ids.len() {
        return Err(Error::invalid(
            "glb",
            "results and feature tables differ in length",
        ));
    }
    let (depth_off, dl) = property_bytes(
        &doc,
        &bin,
        &t["properties"]["max_flood_depth"],
        "max_flood_depth",
    )?;
    let (dur_off, ul) = property_bytes(
        &doc,
        &bin,
        &t["properties"]["flood_duration"],
        "flood_duration",
    )?;
    if dl < ids.len() * 4 || ul < ids.len() * 4 {
        return Err(Error::invalid("glb", "results columns are too short"));
    }
    let mut set = 0;
    for (k, id) in ids.iter().enumerate() {
        let r = results(id).unwrap_or_default();
        if r.max_flood_depth.is_some() || r.flood_duration.is_some() {
            set += 1;
        }
        let d = r.max_flood_depth.unwrap_or(RESULT_NO_DATA);
        let u = r.flood_duration.unwrap_or(RESULT_NO_DATA);
        glb[depth_off + k * 4..depth_off + k * 4 + 4].copy_from_slice(&d.to_le_bytes());
        glb[dur_off + k * 4..dur_off + k * 4 + 4].copy_from_slice(&u.to_le_bytes());
    }
    Ok(set)
}
