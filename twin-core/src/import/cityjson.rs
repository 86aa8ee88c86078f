//! CityJSON importer: CityJSON 1.1/2.0 documents (`.city.json`) and CityJSONSeq
//! (`.city.jsonl`, one CityJSON header line then one CityJSONFeature per line, read as a stream).
//!
//! Parsing uses the typed model of the [`cjseq`] crate (the CityJSON maintainers' CityJSONSeq
//! library), wrapped in [`serde_path_to_error`] so that a malformed file is reported with the JSON
//! path of the bad member (`CityObjects.b1.geometry[0].type`) and its line and column.
//!
//! What is read:
//! - `transform` (required): integer vertices are scaled and translated; a scale that is not
//!   finite and positive is an error.
//! - the CRS: [`ImportOptions::source_crs`] when given (it overrides the file, with a note), else
//!   `metadata.referenceSystem` (e.g. `https://www.opengis.net/def/crs/EPSG/0/7415`), else an error. x/y are reprojected to the project CRS;
//!   z is kept as it is in the file (orthometric heights, e.g. NAP for EPSG:7415).
//! - every vertex index of every geometry is checked against the vertex list.
//! - one [`Building`] per `Building` CityObject, with the geometry of its `BuildingPart`s (found
//!   through `children` and `parents`) merged in; the LoD is [`ImportOptions::lod`] when the
//!   building has it, else its highest LoD. Solid (outer shell), MultiSurface, CompositeSurface,
//!   MultiSolid and CompositeSolid (outer shells) become [`Surface`]s with their semantic type.
//! - the footprint is the 2D union of the GroundSurfaces, else of the LoD0 surfaces, else of all
//!   surfaces seen from above (vertical walls, which have no area in 2D, drop out).
//! - `WaterBody` objects become [`Water`] polygons; other types are counted in one note per type.

use super::{ImportOptions, Imported, Progress};
use crate::crs::{Crs, Reprojector};
use crate::error::{Result, TwinError};
use crate::model::{Attributes, Building, HeightSource, Solid, Surface, Water};
use cjseq::{
    CityJSON, CityJSONFeature, CityObject, CityObjectType, Geometry, Lod, SemanticsSurface,
    SurfaceIndex, Vertex, VertexIndex,
};
use geo::orient::{Direction, Orient};
use geo::Area;
use geo_types::{Coord, LineString, MultiPolygon, Polygon};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::Path;

/// Polygons smaller than this (m² in the project CRS) are treated as having no area in 2D
/// (vertical walls seen from above).
const MIN_AREA_2D: f64 = 1e-6;

/// At most this many ids are listed in one note.
const IDS_IN_NOTE: usize = 5;

/// Import a CityJSON document or a CityJSONSeq (told apart by the content: a header followed by
/// more values is a sequence; by the `.jsonl` extension when the content is not valid JSON).
pub fn import(path: &Path, opts: &ImportOptions, progress: &dyn Progress) -> Result<Imported> {
    let seq =
        super::detect::detect(path).is_ok_and(|d| d.content == super::detect::Content::CityJsonSeq);
    if seq {
        import_seq(path, opts, progress)
    } else {
        import_document(path, opts, progress)
    }
}

/// A whole `.city.json` document: read it into memory and parse it at once.
fn import_document(path: &Path, opts: &ImportOptions, progress: &dyn Progress) -> Result<Imported> {
    let text = std::fs::read_to_string(path).map_err(|e| TwinError::io(path, e))?;
    import_text(path, &text, opts, progress)
}

/// A CityJSON document already in memory (an upload), read as [`import`] reads a file;
/// `name` stands for the file in errors.
pub fn import_text(
    name: &Path,
    text: &str,
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> Result<Imported> {
    let path = name;
    progress.start("reading CityJSON", text.len() as u64);
    let doc: CityJSON = parse_json(path, text, None)?;
    progress.inc(text.len() as u64);
    progress.finish();

    let mut reader = Reader::new(path, opts, &doc, None)?;
    progress.start("CityJSON objects", doc.city_objects.len() as u64);
    let objects: Vec<(&str, &CityObject)> = doc
        .city_objects
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    reader.read_objects(&objects, &doc.vertices, None, progress)?;
    progress.finish();
    Ok(reader.finish())
}

/// A CityJSONSeq: the header on the first line, then one feature per line, parsed one line at a
/// time so that memory stays bounded by the largest feature.
fn import_seq(path: &Path, opts: &ImportOptions, progress: &dyn Progress) -> Result<Imported> {
    let file = std::fs::File::open(path).map_err(|e| TwinError::io(path, e))?;
    let total = file.metadata().map(|m| m.len()).unwrap_or(0);
    progress.start("reading CityJSONSeq", total);
    let mut input = std::io::BufReader::new(file);
    let mut buf = String::new();
    let mut line_no = 0usize;
    let mut reader: Option<Reader> = None;
    loop {
        buf.clear();
        let n = input
            .read_line(&mut buf)
            .map_err(|e| TwinError::parse(path, format!("line {}", line_no + 1), e))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        progress.inc(n as u64);
        let text = buf.trim();
        if text.is_empty() {
            continue;
        }
        match reader.as_mut() {
            None => {
                let header: CityJSON =
                    parse_json(path, text, Some(line_no)).map_err(|e| match e {
                        TwinError::Parse {
                            path,
                            place,
                            message,
                        } => TwinError::Parse {
                            path,
                            place,
                            message: format!(
                            "the first line of a CityJSONSeq must be its CityJSON header: {message}"
                        ),
                        },
                        other => other,
                    })?;
                let mut r = Reader::new(path, opts, &header, Some(line_no))?;
                // The spec wants the header's CityObjects empty; read any it has all the same.
                let objects: Vec<(&str, &CityObject)> = header
                    .city_objects
                    .iter()
                    .map(|(k, v)| (k.as_str(), v))
                    .collect();
                r.read_objects(
                    &objects,
                    &header.vertices,
                    Some(line_no),
                    &crate::NoProgress,
                )?;
                reader = Some(r);
            }
            Some(r) => {
                let feature: CityJSONFeature = match parse_json(path, text, Some(line_no)) {
                    Ok(f) => f,
                    Err(_) if line_type(text).as_deref() == Some("CityJSON") => {
                        return Err(TwinError::parse(
                            path,
                            format!("line {line_no}"),
                            "a second CityJSON header: concatenated CityJSONSeqs are not supported",
                        ))
                    }
                    Err(e) => return Err(e),
                };
                let objects: Vec<(&str, &CityObject)> = feature
                    .city_objects
                    .iter()
                    .map(|(k, v)| (k.as_str(), v))
                    .collect();
                r.read_objects(
                    &objects,
                    &feature.vertices,
                    Some(line_no),
                    &crate::NoProgress,
                )?;
            }
        }
    }
    progress.finish();
    let reader = reader.ok_or_else(|| {
        TwinError::parse(path, "line 1", "empty CityJSONSeq: no CityJSON header line")
    })?;
    Ok(reader.finish())
}

/// The `type` member of one JSON line, if it has one.
fn line_type(text: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct TypeOnly {
        #[serde(rename = "type")]
        thetype: String,
    }
    serde_json::from_str::<TypeOnly>(text)
        .ok()
        .map(|t| t.thetype)
}

/// Parse JSON text into `T`, naming the line (for CityJSONSeq), the column and the JSON path of
/// the member that failed.
fn parse_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    text: &str,
    line: Option<usize>,
) -> Result<T> {
    let place = |e: &serde_json::Error, json_path: Option<String>| {
        let mut place = match line {
            Some(l) => format!("line {l}, column {}", e.column()),
            None => format!("line {}, column {}", e.line(), e.column()),
        };
        let json_path = json_path.map(|p| p.trim_end_matches(".?").to_string());
        if let Some(p) = json_path.filter(|p| p != "." && p != "?") {
            place.push_str(": ");
            place.push_str(&p);
        }
        place
    };
    let message = |e: &serde_json::Error| {
        let full = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        full.strip_suffix(&suffix).unwrap_or(&full).to_string()
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let json_path = e.path().to_string();
        let inner = e.into_inner();
        TwinError::parse(path, place(&inner, Some(json_path)), message(&inner))
    })?;
    de.end()
        .map_err(|e| TwinError::parse(path, place(&e, None), message(&e)))?;
    Ok(value)
}

/// A LoD as a sortable key: level, then refinement (`"2"` sorts before `"2.0"`).
fn lod_key(l: &Lod) -> (u8, Option<u8>) {
    (l.level(), l.refinement())
}

/// The place of a CityObject or one of its geometries, for messages.
fn object_place(line: Option<usize>, id: &str, geometry: Option<usize>) -> String {
    let mut s = match line {
        Some(l) => format!("line {l}: "),
        None => String::new(),
    };
    s.push_str(&format!("CityObjects[{id:?}]"));
    if let Some(g) = geometry {
        s.push_str(&format!(".geometry[{g}]"));
    }
    s
}

/// The first vertex index of a geometry that is not below `n`.
fn first_bad_index(g: &Geometry, n: usize) -> Option<usize> {
    let bad = |r: &[VertexIndex]| r.iter().map(|v| v.0).find(|&i| i >= n);
    match g {
        Geometry::MultiPoint { boundaries, .. } => bad(boundaries),
        Geometry::MultiLineString { boundaries, .. } => boundaries.iter().find_map(|r| bad(r)),
        Geometry::MultiSurface { boundaries, .. }
        | Geometry::CompositeSurface { boundaries, .. } => {
            boundaries.iter().flatten().find_map(|r| bad(r))
        }
        Geometry::Solid { boundaries, .. } => {
            boundaries.iter().flatten().flatten().find_map(|r| bad(r))
        }
        Geometry::MultiSolid { boundaries, .. } | Geometry::CompositeSolid { boundaries, .. } => {
            boundaries
                .iter()
                .flatten()
                .flatten()
                .flatten()
                .find_map(|r| bad(r))
        }
        Geometry::GeometryInstance { boundaries, .. } => bad(boundaries),
        _ => None,
    }
}

/// One boundary face of a geometry: its rings (vertex indices) and its semantic surface index.
struct Face<'g> {
    rings: &'g [Vec<VertexIndex>],
    semantic: Option<usize>,
}

/// The faces of a surface-bearing geometry (outer shells only for solids) and its semantic
/// surfaces; `None` for points, lines and geometry instances.
fn faces(g: &Geometry) -> Option<(Vec<Face<'_>>, &[SemanticsSurface])> {
    fn pick(values: Option<&[Option<SurfaceIndex>]>, i: usize) -> Option<usize> {
        values?.get(i).copied().flatten().map(|s| s.0)
    }
    let surfaces: &[SemanticsSurface] = g.surfaces().unwrap_or(&[]);
    let mut out = Vec::new();
    match g {
        Geometry::MultiSurface {
            boundaries,
            semantics,
            ..
        }
        | Geometry::CompositeSurface {
            boundaries,
            semantics,
            ..
        } => {
            let values = semantics.as_ref().and_then(|s| s.values.as_deref());
            for (i, rings) in boundaries.iter().enumerate() {
                out.push(Face {
                    rings,
                    semantic: pick(values, i),
                });
            }
        }
        Geometry::Solid {
            boundaries,
            semantics,
            ..
        } => {
            let values = semantics
                .as_ref()
                .and_then(|s| s.values.as_ref())
                .and_then(|v| v.first())
                .and_then(|o| o.as_deref());
            for (i, rings) in boundaries.first().into_iter().flatten().enumerate() {
                out.push(Face {
                    rings,
                    semantic: pick(values, i),
                });
            }
        }
        Geometry::MultiSolid {
            boundaries,
            semantics,
            ..
        }
        | Geometry::CompositeSolid {
            boundaries,
            semantics,
            ..
        } => {
            for (si, solid) in boundaries.iter().enumerate() {
                let values = semantics
                    .as_ref()
                    .and_then(|s| s.values.as_ref())
                    .and_then(|v| v.get(si))
                    .and_then(|o| o.as_ref())
                    .and_then(|v| v.first())
                    .and_then(|o| o.as_deref());
                for (i, rings) in solid.first().into_iter().flatten().enumerate() {
                    out.push(Face {
                        rings,
                        semantic: pick(values, i),
                    });
                }
            }
        }
        _ => return None,
    }
    Some((out, surfaces))
}

/// A CityJSON attribute as a string: strings as they are, other values as JSON; `null` is dropped.
fn stringify(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// A non-negative integer attribute (a JSON number or a numeric string).
fn as_count(v: &Value) -> Option<u32> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                    .map(|f| f as u64)
            })
            .and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// 2D polygons (exterior counter-clockwise) of surfaces, dropping those without area in 2D.
fn polygons_2d<'s>(surfaces: impl IntoIterator<Item = &'s Surface>) -> Vec<Polygon<f64>> {
    let ring = |r: &Vec<[f64; 3]>| {
        LineString::from(
            r.iter()
                .map(|p| Coord { x: p[0], y: p[1] })
                .collect::<Vec<_>>(),
        )
    };
    surfaces
        .into_iter()
        .filter_map(|s| {
            let (outer, holes) = s.rings.split_first()?;
            if outer.len() < 3 {
                return None;
            }
            let holes = holes.iter().filter(|h| h.len() >= 3).map(ring).collect();
            let p = Polygon::new(ring(outer), holes).orient(Direction::Default);
            (p.unsigned_area() > MIN_AREA_2D).then_some(p)
        })
        .collect()
}

/// The 2D union of polygons, dropping slivers without area.
fn union_2d(polygons: &[Polygon<f64>]) -> MultiPolygon<f64> {
    if polygons.is_empty() {
        return MultiPolygon(Vec::new());
    }
    let u = geo::unary_union(polygons);
    MultiPolygon(
        u.0.into_iter()
            .filter(|p| p.unsigned_area() > MIN_AREA_2D)
            .collect(),
    )
}

/// The objects of one unit (a whole document, or one CityJSONFeature) and how they link.
struct Unit<'a> {
    objects: &'a [(&'a str, &'a CityObject)],
    by_id: HashMap<&'a str, usize>,
    /// Children found through the children's `parents` member, by parent position.
    children_by_parents: HashMap<usize, Vec<usize>>,
}

impl<'a> Unit<'a> {
    fn new(objects: &'a [(&'a str, &'a CityObject)]) -> Unit<'a> {
        let by_id: HashMap<&str, usize> = objects
            .iter()
            .enumerate()
            .map(|(i, (id, _))| (*id, i))
            .collect();
        let mut children_by_parents: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, (_, o)) in objects.iter().enumerate() {
            for p in o.parents.iter().flatten() {
                if let Some(&pi) = by_id.get(p.as_str()) {
                    children_by_parents.entry(pi).or_default().push(i);
                }
            }
        }
        Unit {
            objects,
            by_id,
            children_by_parents,
        }
    }

    /// The object at `i` and its BuildingPart descendants, in document order of discovery.
    fn with_parts(&self, i: usize) -> Vec<usize> {
        let mut out = vec![i];
        let mut k = 0;
        while k < out.len() {
            let (_, o) = self.objects[out[k]];
            let from_children = o
                .children
                .iter()
                .flatten()
                .filter_map(|c| self.by_id.get(c.as_str()).copied());
            let from_parents = self
                .children_by_parents
                .get(&out[k])
                .into_iter()
                .flatten()
                .copied();
            let found: Vec<usize> = from_children.chain(from_parents).collect();
            for c in found {
                if self.objects[c].1.thetype == CityObjectType::BuildingPart && !out.contains(&c) {
                    out.push(c);
                }
            }
            k += 1;
        }
        out
    }
}

/// Integer vertices of one unit, scaled, translated and reprojected on first use.
struct Vertices<'v> {
    raw: &'v [Vertex],
    cache: Vec<Option<[f64; 3]>>,
}

/// Where footprints came from, for the notes.
#[derive(Default)]
struct FootprintCounts {
    ground: usize,
    lod0: usize,
    projected: usize,
}

/// State of one import: the file's transform and CRS, and what has been read so far.
struct Reader<'p> {
    path: &'p Path,
    scale: [f64; 3],
    translate: [f64; 3],
    reprojector: Reprojector,
    want_lod: Option<Lod>,
    prefix: String,
    out: Imported,
    skipped: BTreeMap<String, usize>,
    lod_used: BTreeMap<(u8, Option<u8>), usize>,
    lod_fallback: Vec<String>,
    without_geometry: Vec<String>,
    without_footprint: Vec<String>,
    water_without_area: Vec<String>,
    instances: usize,
    footprints: FootprintCounts,
}

impl<'p> Reader<'p> {
    /// Check the header's transform, find the source CRS and set up the reprojection.
    fn new(
        path: &'p Path,
        opts: &ImportOptions,
        header: &CityJSON,
        line: Option<usize>,
    ) -> Result<Reader<'p>> {
        let at = |what: &str| match line {
            Some(l) => format!("line {l}: {what}"),
            None => what.to_string(),
        };
        let t = &header.transform;
        if !t.scale.iter().all(|s| s.is_finite() && *s > 0.0) {
            return Err(TwinError::parse(
                path,
                at("transform.scale"),
                format!(
                    "each scale must be a finite number above 0, got {:?}",
                    t.scale
                ),
            ));
        }
        if !t.translate.iter().all(|s| s.is_finite()) {
            return Err(TwinError::parse(
                path,
                at("transform.translate"),
                format!("each translation must be finite, got {:?}", t.translate),
            ));
        }
        let declared = header
            .metadata
            .as_ref()
            .and_then(|m| m.reference_system.as_ref());
        let mut notes = Vec::new();
        let source_crs = match declared {
            Some(rs) => {
                let crs = Crs::parse(&rs.to_url())
                    .map_err(|e| TwinError::parse(path, at("metadata.referenceSystem"), e))?;
                match opts.source_crs.as_ref().filter(|g| **g != crs) {
                    Some(given) => {
                        notes.push(format!(
                            "the file declares {}; the given source CRS {} overrides it",
                            crs.short(),
                            given.short()
                        ));
                        given.clone()
                    }
                    None => {
                        notes.push(format!(
                            "source CRS {} from metadata.referenceSystem",
                            crs.short()
                        ));
                        crs
                    }
                }
            }
            None => match &opts.source_crs {
                Some(c) => {
                    notes.push(format!(
                        "the file has no metadata.referenceSystem; used the given source CRS {}",
                        c.short()
                    ));
                    c.clone()
                }
                None => {
                    // The coordinates' box (the translation alone for a CityJSONSeq header),
                    // for the CRS guess.
                    let real = |v: &Vertex, i: usize| v[i] as f64 * t.scale[i] + t.translate[i];
                    let p0 = header
                        .vertices
                        .first()
                        .map_or([t.translate[0], t.translate[1]], |v| {
                            [real(v, 0), real(v, 1)]
                        });
                    let bbox = header
                        .vertices
                        .iter()
                        .fold([p0[0], p0[1], p0[0], p0[1]], |b, v| {
                            [
                                b[0].min(real(v, 0)),
                                b[1].min(real(v, 1)),
                                b[2].max(real(v, 0)),
                                b[3].max(real(v, 1)),
                            ]
                        });
                    return Err(TwinError::parse(
                        path,
                        at("metadata.referenceSystem"),
                        format!(
                            "the file has no metadata.referenceSystem; {}",
                            crate::crs::missing_crs_hint(Some(bbox), &opts.project_crs)
                        ),
                    ));
                }
            },
        };
        notes.push(format!(
            "x/y reprojected from {} to {}; z kept as in the file (orthometric heights)",
            source_crs.short(),
            opts.project_crs.short()
        ));
        let reprojector = Reprojector::new(&source_crs, &opts.project_crs)?;
        let want_lod = match &opts.lod {
            Some(s) => Some(
                s.trim()
                    .parse::<Lod>()
                    .map_err(|e| TwinError::invalid("CityJSON LoD option", e))?,
            ),
            None => None,
        };
        Ok(Reader {
            path,
            scale: t.scale,
            translate: t.translate,
            reprojector,
            want_lod,
            prefix: opts.id_prefix.clone().unwrap_or_else(|| "cityjson".into()),
            out: Imported {
                source_crs: Some(source_crs),
                notes,
                ..Imported::default()
            },
            skipped: BTreeMap::new(),
            lod_used: BTreeMap::new(),
            lod_fallback: Vec::new(),
            without_geometry: Vec::new(),
            without_footprint: Vec::new(),
            water_without_area: Vec::new(),
            instances: 0,
            footprints: FootprintCounts::default(),
        })
    }

    /// Read the CityObjects of one unit (a document, or one CityJSONFeature with its own vertices).
    fn read_objects(
        &mut self,
        objects: &[(&str, &CityObject)],
        vertices: &[Vertex],
        line: Option<usize>,
        progress: &dyn Progress,
    ) -> Result<()> {
        // Every vertex index of every geometry must exist, whatever is imported of it.
        for (id, o) in objects {
            for (gi, g) in o.geometry.iter().flatten().enumerate() {
                if let Some(bad) = first_bad_index(g, vertices.len()) {
                    return Err(TwinError::parse(
                        self.path,
                        object_place(line, id, Some(gi)),
                        format!(
                            "vertex index {bad} out of range ({} vertices)",
                            vertices.len()
                        ),
                    ));
                }
                if matches!(g, Geometry::GeometryInstance { .. }) {
                    self.instances += 1;
                }
            }
            for (ai, a) in o.address.iter().flatten().enumerate() {
                let bad = a
                    .location
                    .as_ref()
                    .and_then(|g| first_bad_index(g, vertices.len()));
                if let Some(bad) = bad {
                    return Err(TwinError::parse(
                        self.path,
                        format!("{}.address[{ai}].location", object_place(line, id, None)),
                        format!(
                            "vertex index {bad} out of range ({} vertices)",
                            vertices.len()
                        ),
                    ));
                }
            }
        }
        let unit = Unit::new(objects);
        let mut verts = Vertices {
            raw: vertices,
            cache: vec![None; vertices.len()],
        };
        let mut used = vec![false; objects.len()];
        for (i, (_, o)) in objects.iter().enumerate() {
            if o.thetype == CityObjectType::Building {
                let members = unit.with_parts(i);
                for &m in &members {
                    used[m] = true;
                }
                if let Some(b) = self.building(&unit, &members, &mut verts, line)? {
                    self.out.buildings.push(b);
                }
            } else if o.thetype == CityObjectType::WaterBody {
                used[i] = true;
                if let Some(w) = self.water(&unit, i, &mut verts, line)? {
                    self.out.water.push(w);
                }
            }
            progress.inc(1);
        }
        for (i, (_, o)) in objects.iter().enumerate() {
            if !used[i] {
                *self
                    .skipped
                    .entry(String::from(o.thetype.clone()))
                    .or_default() += 1;
            }
        }
        Ok(())
    }

    /// A vertex in the project CRS.
    fn vertex(
        &self,
        verts: &mut Vertices,
        i: usize,
        place: &dyn Fn() -> String,
    ) -> Result<[f64; 3]> {
        if let Some(Some(p)) = verts.cache.get(i) {
            return Ok(*p);
        }
        let raw = verts.raw.get(i).ok_or_else(|| {
            TwinError::parse(
                self.path,
                place(),
                format!(
                    "vertex index {i} out of range ({} vertices)",
                    verts.raw.len()
                ),
            )
        })?;
        let x = raw[0] as f64 * self.scale[0] + self.translate[0];
        let y = raw[1] as f64 * self.scale[1] + self.translate[1];
        let z = raw[2] as f64 * self.scale[2] + self.translate[2];
        if !z.is_finite() {
            return Err(TwinError::parse(
                self.path,
                place(),
                format!("vertex {i} has a non-finite z"),
            ));
        }
        let (x, y) = self
            .reprojector
            .apply(x, y)
            .map_err(|e| TwinError::parse(self.path, place(), format!("vertex {i}: {e}")))?;
        let p = [x, y, z];
        verts.cache[i] = Some(p);
        Ok(p)
    }

    /// The surfaces of one geometry, in the project CRS, with their semantic types.
    fn surfaces(
        &self,
        g: &Geometry,
        verts: &mut Vertices,
        place: &dyn Fn() -> String,
    ) -> Result<Vec<Surface>> {
        let Some((faces, semantic_surfaces)) = faces(g) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::with_capacity(faces.len());
        for f in faces {
            let semantic = match f.semantic {
                None => None,
                Some(s) => Some(String::from(
                    semantic_surfaces
                        .get(s)
                        .ok_or_else(|| {
                            TwinError::parse(
                                self.path,
                                place(),
                                format!(
                                    "semantics value {s} out of range ({} semantic surfaces)",
                                    semantic_surfaces.len()
                                ),
                            )
                        })?
                        .thetype
                        .clone(),
                )),
            };
            let mut rings = Vec::with_capacity(f.rings.len());
            for r in f.rings {
                let mut ring = Vec::with_capacity(r.len());
                for v in r {
                    ring.push(self.vertex(verts, v.0, place)?);
                }
                rings.push(ring);
            }
            out.push(Surface { rings, semantic });
        }
        Ok(out)
    }

    /// The surface-bearing geometries of some objects, with their owner and position.
    fn geometries<'u>(
        unit: &Unit<'u>,
        members: &[usize],
    ) -> Vec<(&'u str, usize, &'u Geometry, Lod)> {
        let mut out = Vec::new();
        for &m in members {
            let (id, o) = unit.objects[m];
            for (gi, g) in o.geometry.iter().flatten().enumerate() {
                if let (Some(lod), Some(_)) = (g.lod(), faces(g)) {
                    out.push((id, gi, g, lod));
                }
            }
        }
        out
    }

    /// The LoD to take from what is available: the wanted one if present, else the highest.
    fn choose_lod(&self, available: &[Lod]) -> Option<(Lod, bool)> {
        let highest = available.iter().max_by_key(|l| lod_key(l)).copied()?;
        match self.want_lod {
            Some(w) if available.iter().any(|l| lod_key(l) == lod_key(&w)) => Some((w, false)),
            Some(_) => Some((highest, true)),
            None => Some((highest, false)),
        }
    }

    /// One Building from a Building CityObject and its BuildingParts (`members[0]` is the
    /// Building); `None`, with a note, when it has no surface geometry or no footprint.
    fn building(
        &mut self,
        unit: &Unit,
        members: &[usize],
        verts: &mut Vertices,
        line: Option<usize>,
    ) -> Result<Option<Building>> {
        let (id, obj) = unit.objects[members[0]];
        let geoms = Self::geometries(unit, members);
        let lods: Vec<Lod> = geoms.iter().map(|g| g.3).collect();
        let Some((lod, fell_back)) = self.choose_lod(&lods) else {
            self.without_geometry.push(id.to_string());
            return Ok(None);
        };
        if fell_back {
            self.lod_fallback.push(id.to_string());
        }
        let mut surfaces = Vec::new();
        let mut lod0 = Vec::new();
        for &(gid, gi, g, glod) in &geoms {
            let place = || object_place(line, gid, Some(gi));
            if lod_key(&glod) == lod_key(&lod) {
                surfaces.extend(self.surfaces(g, verts, &place)?);
            } else if glod.level() == 0 {
                lod0.extend(self.surfaces(g, verts, &place)?);
            }
        }

        let ground: Vec<&Surface> = surfaces
            .iter()
            .filter(|s| s.semantic.as_deref() == Some("GroundSurface"))
            .collect();
        let mut footprint = union_2d(&polygons_2d(ground));
        if !footprint.0.is_empty() {
            self.footprints.ground += 1;
        } else {
            let source = if lod.level() == 0 { &surfaces } else { &lod0 };
            footprint = union_2d(&polygons_2d(source));
            if !footprint.0.is_empty() {
                self.footprints.lod0 += 1;
            } else {
                footprint = union_2d(&polygons_2d(&surfaces));
                if !footprint.0.is_empty() {
                    self.footprints.projected += 1;
                }
            }
        }
        if footprint.0.is_empty() {
            self.without_footprint.push(id.to_string());
            return Ok(None);
        }

        let (zmin, zmax) = surfaces
            .iter()
            .flat_map(|s| s.rings.iter().flatten())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                (lo.min(p[2]), hi.max(p[2]))
            });
        let (base_height, height) = if zmin.is_finite() {
            (zmin, zmax - zmin)
        } else {
            (0.0, 0.0)
        };
        *self.lod_used.entry(lod_key(&lod)).or_default() += 1;

        let attrs = obj.attributes.as_ref();
        let get = |k: &str| attrs.and_then(|a| a.get(k));
        let attributes: Attributes = attrs
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| stringify(v).map(|s| (k.clone(), s)))
            .collect();
        Ok(Some(Building {
            id: format!("{}:{id}", self.prefix),
            footprint,
            height,
            base_height,
            levels: get("storeysAboveGround").and_then(as_count),
            usage: get("usage").or_else(|| get("function")).and_then(stringify),
            name: get("name").and_then(stringify),
            source_id: id.to_string(),
            height_source: HeightSource::Geometry,
            solid: Some(Solid {
                lod: lod.to_string(),
                surfaces,
            }),
            attributes,
        }))
    }

    /// A Water polygon from a WaterBody's surfaces at the chosen LoD; `None`, with a note, when
    /// they have no area seen from above.
    fn water(
        &mut self,
        unit: &Unit,
        i: usize,
        verts: &mut Vertices,
        line: Option<usize>,
    ) -> Result<Option<Water>> {
        let (id, obj) = unit.objects[i];
        let geoms = Self::geometries(unit, &[i]);
        let lods: Vec<Lod> = geoms.iter().map(|g| g.3).collect();
        let mut surfaces = Vec::new();
        if let Some((lod, _)) = self.choose_lod(&lods) {
            for &(gid, gi, g, glod) in &geoms {
                if lod_key(&glod) == lod_key(&lod) {
                    let place = || object_place(line, gid, Some(gi));
                    surfaces.extend(self.surfaces(g, verts, &place)?);
                }
            }
        }
        let polygon = union_2d(&polygons_2d(&surfaces));
        if polygon.0.is_empty() {
            self.water_without_area.push(id.to_string());
            return Ok(None);
        }
        let get = |k: &str| {
            obj.attributes
                .as_ref()
                .and_then(|a| a.get(k))
                .and_then(stringify)
        };
        Ok(Some(Water {
            id: format!("{}:{id}", self.prefix),
            kind: get("class")
                .or_else(|| get("function"))
                .unwrap_or_else(|| "water".into()),
            name: get("name"),
            geometry: geo_types::Geometry::MultiPolygon(polygon),
        }))
    }

    /// The imported features with the notes gathered along the way.
    fn finish(mut self) -> Imported {
        let list = |ids: &[String]| {
            let mut s = ids
                .iter()
                .take(IDS_IN_NOTE)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            if ids.len() > IDS_IN_NOTE {
                s.push_str(&format!(" and {} more", ids.len() - IDS_IN_NOTE));
            }
            s
        };
        let notes = &mut self.out.notes;
        if !self.lod_used.is_empty() {
            let used: Vec<String> = self
                .lod_used
                .iter()
                .map(|(k, n)| {
                    let lod = match k.1 {
                        Some(r) => format!("{}.{r}", k.0),
                        None => k.0.to_string(),
                    };
                    format!("LoD {lod} for {n} building(s)")
                })
                .collect();
            notes.push(format!("geometry taken: {}", used.join(", ")));
        }
        if let (Some(w), false) = (self.want_lod, self.lod_fallback.is_empty()) {
            notes.push(format!(
                "{} building(s) have no LoD {w}; took their highest LoD instead: {}",
                self.lod_fallback.len(),
                list(&self.lod_fallback)
            ));
        }
        let f = &self.footprints;
        if f.ground + f.lod0 + f.projected > 0 {
            notes.push(format!(
                "footprints: {} from GroundSurfaces, {} from LoD0 surfaces, {} from all surfaces seen from above",
                f.ground, f.lod0, f.projected
            ));
        }
        if !self.without_geometry.is_empty() {
            notes.push(format!(
                "skipped {} Building(s) without surface geometry: {}",
                self.without_geometry.len(),
                list(&self.without_geometry)
            ));
        }
        if !self.without_footprint.is_empty() {
            notes.push(format!(
                "skipped {} Building(s) whose surfaces have no area seen from above: {}",
                self.without_footprint.len(),
                list(&self.without_footprint)
            ));
        }
        if !self.water_without_area.is_empty() {
            notes.push(format!(
                "skipped {} WaterBody object(s) whose surfaces have no area seen from above: {}",
                self.water_without_area.len(),
                list(&self.water_without_area)
            ));
        }
        if self.instances > 0 {
            notes.push(format!(
                "ignored {} GeometryInstance geometries (geometry templates are not read)",
                self.instances
            ));
        }
        for (ty, n) in &self.skipped {
            notes.push(format!(
                "skipped {n} {ty} object(s): the CityJSON importer reads Building (with its BuildingParts) and WaterBody"
            ));
        }
        self.out
    }
}
