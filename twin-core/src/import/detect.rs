//! What a source file holds, read from its content: magic numbers for the binary formats
//! (OSM PBF, LAS/LAZ, TIFF), the top-level `"type"` of a JSON document, the header of an ESRI
//! ASCII grid or a sensors CSV. The file name is only a hint, used when the content says
//! nothing (an empty or unreadable file, malformed JSON), so that `zurich_lod2.json` holding
//! CityJSON is read as CityJSON and a GeoTIFF DEM named `dem.dat` as a DEM.

use crate::error::{Result, TwinError};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// The content of a source file, finer than [`super::Format`]: the importers use it to choose
/// between their own variants (a CityJSON document or a CityJSONSeq, a GeoTIFF or an ASCII grid,
/// sensors as JSON or CSV).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Content {
    /// OpenStreetMap PBF (its first blob is an `OSMHeader`).
    OsmPbf,
    /// A GeoJSON `FeatureCollection`, `Feature` or geometry.
    GeoJson,
    /// One CityJSON document (`"type": "CityJSON"`).
    CityJson,
    /// CityJSONSeq: a CityJSON header followed by `CityJSONFeature` lines.
    CityJsonSeq,
    /// LAS or LAZ (`LASF` signature).
    Las,
    /// TIFF or BigTIFF (`II*\0`, `MM\0*`, `II+\0`, `MM\0+`): a GeoTIFF DEM.
    Tiff,
    /// ESRI ASCII grid (a header starting with `ncols`, `nrows`, `xllcorner`...).
    AsciiGrid,
    /// Sensors as a JSON array of objects.
    SensorsJson,
    /// Sensors as CSV (a header line naming an `id` column).
    SensorsCsv,
}

impl Content {
    /// What the content is called in messages.
    pub fn describe(self) -> &'static str {
        match self {
            Content::OsmPbf => "OSM PBF",
            Content::GeoJson => "GeoJSON",
            Content::CityJson => "CityJSON",
            Content::CityJsonSeq => "CityJSONSeq",
            Content::Las => "LAS/LAZ",
            Content::Tiff => "GeoTIFF",
            Content::AsciiGrid => "ESRI ASCII grid",
            Content::SensorsJson => "sensors JSON",
            Content::SensorsCsv => "sensors CSV",
        }
    }
}

/// The result of [`detect`]: the content, and whether it came from the bytes or only from the
/// name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Detected {
    /// What the file holds.
    pub content: Content,
    /// True when the bytes said what the file is; false when only the name did (the content
    /// was not recognised, e.g. malformed JSON: the importer then says what is wrong in it).
    pub by_content: bool,
    /// What the name alone suggests, when it suggests anything.
    pub by_name: Option<Content>,
}

impl Detected {
    /// A note for the import report when the content and the name disagree.
    pub fn note(&self, path: &Path) -> Option<String> {
        match self.by_name {
            Some(n) if self.by_content && n != self.content => Some(format!(
                "read as {} from its content (the name {:?} suggests {})",
                self.content.describe(),
                path.file_name().unwrap_or_default().to_string_lossy(),
                n.describe()
            )),
            _ => None,
        }
    }
}

/// What the name alone suggests (the hint).
pub fn by_name(path: &Path) -> Option<Content> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let ends = |s: &[&str]| s.iter().any(|e| name.ends_with(e));
    Some(if ends(&[".pbf"]) {
        Content::OsmPbf
    } else if ends(&[".city.jsonl", ".jsonl"]) {
        Content::CityJsonSeq
    } else if ends(&[".city.json"]) {
        Content::CityJson
    } else if ends(&[".geojson"]) {
        Content::GeoJson
    } else if ends(&[".las", ".laz"]) {
        Content::Las
    } else if ends(&[".tif", ".tiff"]) {
        Content::Tiff
    } else if ends(&[".asc"]) {
        Content::AsciiGrid
    } else if ends(&[".csv"]) {
        Content::SensorsCsv
    } else if ends(&[".json"]) {
        Content::SensorsJson
    } else {
        return None;
    })
}

/// How many bytes are read to recognise a binary or text header.
const HEAD: usize = 4096;

/// What `path` holds: by content, else by name; an error naming the file when neither says.
pub fn detect(path: &Path) -> Result<Detected> {
    let hint = by_name(path);
    let mut file = std::fs::File::open(path).map_err(|e| TwinError::io(path, e))?;
    let mut head = Vec::with_capacity(HEAD);
    (&mut file)
        .take(HEAD as u64)
        .read_to_end(&mut head)
        .map_err(|e| TwinError::io(path, e))?;
    let found = match sniff_bytes(&head) {
        Some(Sniff::Is(c)) => Some(c),
        Some(Sniff::JsonObject) => json_object_kind(path)?,
        Some(Sniff::JsonArray) => Some(Content::SensorsJson),
        None => None,
    };
    match (found, hint) {
        (Some(content), _) => Ok(Detected {
            content,
            by_content: true,
            by_name: hint,
        }),
        (None, Some(content)) => Ok(Detected {
            content,
            by_content: false,
            by_name: hint,
        }),
        (None, None) => Err(TwinError::parse(
            path,
            "content",
            "unknown source format: the content is none of OSM PBF, GeoJSON, CityJSON, CityJSONSeq, \
             LAS/LAZ, GeoTIFF, ESRI ASCII grid, sensors CSV (a header with an `id` column) or sensors \
             JSON (an array of objects), and the name has none of their extensions (.osm.pbf, .geojson, \
             .city.json, .city.jsonl, .las, .laz, .tif, .asc, .csv, .json)",
        )),
    }
}

enum Sniff {
    Is(Content),
    JsonObject,
    JsonArray,
}

/// Recognise the first bytes of a file.
fn sniff_bytes(head: &[u8]) -> Option<Sniff> {
    if head.starts_with(b"LASF") {
        return Some(Sniff::Is(Content::Las));
    }
    if [b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"]
        .iter()
        .any(|m| head.starts_with(*m))
    {
        return Some(Sniff::Is(Content::Tiff));
    }
    // OSM PBF: a 4-byte big-endian BlobHeader length, then the BlobHeader whose field 1 (tag
    // 0x0a) is the string "OSMHeader".
    if head.len() > 15 && head[4] == 0x0a && &head[6..15] == b"OSMHeader" {
        return Some(Sniff::Is(Content::OsmPbf));
    }
    let text = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let first = text.iter().position(|b| !b.is_ascii_whitespace())?;
    match text[first] {
        b'{' => return Some(Sniff::JsonObject),
        b'[' => return Some(Sniff::JsonArray),
        _ => {}
    }
    // Text: the first word of an ESRI ASCII grid header, or a CSV header with an `id` column.
    let line = text[first..]
        .split(|&b| b == b'\n')
        .next()
        .map(|l| String::from_utf8_lossy(l).to_ascii_lowercase())?;
    let word = line.split_ascii_whitespace().next().unwrap_or("");
    if [
        "ncols",
        "nrows",
        "xllcorner",
        "xllcenter",
        "yllcorner",
        "yllcenter",
        "cellsize",
    ]
    .contains(&word)
    {
        return Some(Sniff::Is(Content::AsciiGrid));
    }
    if line.split(',').any(|c| c.trim().trim_matches('"') == "id") {
        return Some(Sniff::Is(Content::SensorsCsv));
    }
    None
}

/// Reads a JSON object's members up to its top-level `"type"` (the members before it skipped
/// without being built) and stops there: most files put `"type"` first, so a multi-megabyte
/// GeoJSON costs a few bytes of reading instead of a pass over the whole file.
struct TypeOf<'a>(&'a std::cell::RefCell<Option<String>>);

impl<'de> serde::de::Visitor<'de> for TypeOf<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "type" {
                *self.0.borrow_mut() = map.next_value::<Option<String>>()?;
                // Stop here: the deserializer then reports the unread rest as an error, which
                // the caller ignores once the type is known.
                return Ok(());
            }
            map.next_value::<serde::de::IgnoredAny>()?;
        }
        Ok(())
    }
}

/// The kind of a file whose first value is a JSON object: its `"type"` member says CityJSON or
/// GeoJSON; a CityJSON header line followed by more values is a CityJSONSeq. `None` when the
/// object is not valid JSON up to its type or has no known type (the name decides; the
/// importer reports what is wrong).
fn json_object_kind(path: &Path) -> Result<Option<Content>> {
    use serde::Deserializer as _;
    let file = std::fs::File::open(path).map_err(|e| TwinError::io(path, e))?;
    let found = std::cell::RefCell::new(None);
    let _ =
        serde_json::Deserializer::from_reader(BufReader::new(file)).deserialize_map(TypeOf(&found));
    Ok(match found.into_inner().as_deref() {
        Some("CityJSON") => Some(if is_sequence(path)? {
            Content::CityJsonSeq
        } else {
            Content::CityJson
        }),
        Some("CityJSONFeature") => Some(Content::CityJsonSeq),
        Some(
            "FeatureCollection" | "Feature" | "Point" | "MultiPoint" | "LineString"
            | "MultiLineString" | "Polygon" | "MultiPolygon" | "GeometryCollection",
        ) => Some(Content::GeoJson),
        _ => None,
    })
}

/// True when the first line is a whole JSON value and more follows it (CityJSONSeq: the header
/// on one line, then one feature per line); a pretty-printed document's first line is `{`.
fn is_sequence(path: &Path) -> Result<bool> {
    let file = std::fs::File::open(path).map_err(|e| TwinError::io(path, e))?;
    let mut reader = BufReader::new(file);
    let mut first = String::new();
    reader
        .read_line(&mut first)
        .map_err(|e| TwinError::io(path, e))?;
    let more = reader
        .fill_buf()
        .map(|b| b.iter().any(|c| !c.is_ascii_whitespace()))
        .unwrap_or(false);
    Ok(more && serde_json::from_str::<serde::de::IgnoredAny>(&first).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(bytes: &[u8]) -> Option<Content> {
        match sniff_bytes(bytes)? {
            Sniff::Is(c) => Some(c),
            Sniff::JsonArray => Some(Content::SensorsJson),
            Sniff::JsonObject => None,
        }
    }

    #[test]
    fn magic_numbers_and_text_headers() {
        assert_eq!(kind(b"LASF\x00\x00"), Some(Content::Las));
        assert_eq!(kind(b"II*\0\x08\0\0\0"), Some(Content::Tiff));
        assert_eq!(kind(b"MM\0*\0\0\0\x08"), Some(Content::Tiff));
        assert_eq!(
            kind(b"\0\0\0\x0d\x0a\x09OSMHeader\x18K"),
            Some(Content::OsmPbf)
        );
        assert_eq!(kind(b"ncols 10\nnrows 5\n"), Some(Content::AsciiGrid));
        assert_eq!(kind(b"  NCOLS 10\n"), Some(Content::AsciiGrid));
        assert_eq!(kind(b"id,kind,unit,lon,lat\n"), Some(Content::SensorsCsv));
        assert_eq!(kind(b"\"id\",\"kind\"\n"), Some(Content::SensorsCsv));
        assert_eq!(kind(b" [ {\"id\": 1} ]"), Some(Content::SensorsJson));
        assert_eq!(kind(b"hello"), None);
        assert_eq!(kind(b""), None);
        assert!(matches!(
            sniff_bytes(b"\xef\xbb\xbf {"),
            Some(Sniff::JsonObject)
        ));
    }
}
