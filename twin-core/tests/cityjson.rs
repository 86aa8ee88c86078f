//! CityJSON / CityJSONSeq importer against the real 3DBAG and Delft files in shared/data/cityjson.
//!
//! Project CRS: EPSG:28992 (RD New), the horizontal part of the files' EPSG:7415, so extents
//! computed here from the raw integer vertices compare with the imported ones in the same CRS.
//! Every expected number is computed here a second way, by walking the file with serde_json.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use twin_core::import::{cityjson, import_file, ImportOptions};
use twin_core::model::Building;
use twin_core::model::Imported;
use twin_core::{Crs, Transform, TwinError};
use twin_core::{NoProgress, Progress};

const SMALL: &str = "3dbag_v20240420_3buildings.city.json";
const SMALL_SEQ: &str = "3dbag_v20240420_3buildings.city.jsonl";
const MULTI_LOD: &str = "3dbag_v2103_10buildings_multilod.city.json";
const DELFT: &str = "delft_3dfier_lod1.city.json";

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/cityjson")
        .join(name)
}

fn opts() -> ImportOptions {
    ImportOptions::new(Crs::epsg(28992).unwrap())
}

/// Options for `name`: the multi-LoD file carries no CRS, so it is given (RD New + NAP).
fn opts_for(name: &str) -> ImportOptions {
    let mut o = opts();
    if name == MULTI_LOD {
        o.source_crs = Some(Crs::epsg(7415).unwrap());
    }
    o
}

fn import(name: &str, o: &ImportOptions) -> Imported {
    cityjson::import(&data(name), o, &NoProgress).unwrap_or_else(|e| panic!("{name}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// The independent reading: plain serde_json values.

/// One CityObject with the vertices its geometry indexes (scaled and translated).
struct Obj {
    id: String,
    ty: String,
    value: Value,
    vertices: std::rc::Rc<Vec<[f64; 3]>>,
}

fn scaled(vertices: &Value, transform: &Value) -> Vec<[f64; 3]> {
    let s: Vec<f64> = transform["scale"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let t: Vec<f64> = transform["translate"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    vertices
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let v = v.as_array().unwrap();
            [0, 1, 2].map(|k| v[k].as_i64().unwrap() as f64 * s[k] + t[k])
        })
        .collect()
}

/// All CityObjects of a CityJSON document or CityJSONSeq, in file order.
fn objects(name: &str) -> Vec<Obj> {
    let text = std::fs::read_to_string(data(name)).unwrap();
    let mut out = Vec::new();
    let mut push = |doc: &Value, transform: &Value| {
        let verts = std::rc::Rc::new(scaled(&doc["vertices"], transform));
        for (id, o) in doc["CityObjects"].as_object().unwrap() {
            out.push(Obj {
                id: id.clone(),
                ty: o["type"].as_str().unwrap().to_string(),
                value: o.clone(),
                vertices: verts.clone(),
            });
        }
    };
    if name.ends_with(".jsonl") {
        let mut lines = text.lines();
        let header: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        for l in lines.filter(|l| !l.trim().is_empty()) {
            push(&serde_json::from_str(l).unwrap(), &header["transform"]);
        }
    } else {
        let doc: Value = serde_json::from_str(&text).unwrap();
        push(&doc, &doc["transform"]);
    }
    out
}

/// The Building `id` and its BuildingPart children.
fn building_and_parts<'a>(objs: &'a [Obj], id: &str) -> Vec<&'a Obj> {
    let b = objs.iter().find(|o| o.id == id).unwrap();
    let mut out = vec![b];
    for c in b.value["children"].as_array().into_iter().flatten() {
        let c = objs.iter().find(|o| o.id == c.as_str().unwrap()).unwrap();
        if c.ty == "BuildingPart" {
            out.push(c);
        }
    }
    out
}

fn geometries(o: &Obj) -> impl Iterator<Item = &Value> {
    o.value["geometry"].as_array().into_iter().flatten()
}

fn lod_key(l: &str) -> (u32, i32) {
    let mut p = l.split('.');
    let level = p.next().unwrap().parse().unwrap();
    let refinement = p.next().map(|r| r.parse().unwrap()).unwrap_or(-1);
    (level, refinement)
}

/// The highest LoD among a building's (and its parts') geometries.
fn highest_lod(parts: &[&Obj]) -> String {
    parts
        .iter()
        .flat_map(|o| geometries(o))
        .map(|g| g["lod"].as_str().unwrap().to_string())
        .max_by_key(|l| lod_key(l))
        .unwrap()
}

/// The faces (outer shells for solids) of a geometry, each with its semantic type.
fn faces(g: &Value) -> Vec<(&Value, Option<String>)> {
    let sem = &g["semantics"];
    let sem_type = |v: &Value| {
        v.as_u64().map(|i| {
            sem["surfaces"][i as usize]["type"]
                .as_str()
                .unwrap()
                .to_string()
        })
    };
    let b = &g["boundaries"];
    let mut out = Vec::new();
    match g["type"].as_str().unwrap() {
        "MultiSurface" | "CompositeSurface" => {
            for (i, f) in b.as_array().unwrap().iter().enumerate() {
                out.push((f, sem_type(&sem["values"][i])));
            }
        }
        "Solid" => {
            for (i, f) in b[0].as_array().unwrap().iter().enumerate() {
                out.push((f, sem_type(&sem["values"][0][i])));
            }
        }
        "MultiSolid" | "CompositeSolid" => {
            for (s, solid) in b.as_array().unwrap().iter().enumerate() {
                for (i, f) in solid[0].as_array().unwrap().iter().enumerate() {
                    out.push((f, sem_type(&sem["values"][s][0][i])));
                }
            }
        }
        _ => {}
    }
    out
}

fn indices(v: &Value, out: &mut Vec<usize>) {
    match v {
        Value::Array(a) => a.iter().for_each(|x| indices(x, out)),
        Value::Number(n) => out.push(n.as_u64().unwrap() as usize),
        _ => {}
    }
}

/// (min, max) of the vertices used by some geometries.
fn bounds<'a>(geoms: impl IntoIterator<Item = (&'a Obj, &'a Value)>) -> ([f64; 3], [f64; 3]) {
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    for (o, g) in geoms {
        let mut idx = Vec::new();
        indices(&g["boundaries"], &mut idx);
        for i in idx {
            let p = o.vertices[i];
            for k in 0..3 {
                lo[k] = lo[k].min(p[k]);
                hi[k] = hi[k].max(p[k]);
            }
        }
    }
    (lo, hi)
}

fn building<'a>(imp: &'a Imported, source_id: &str) -> &'a Building {
    imp.buildings
        .iter()
        .find(|b| b.source_id == source_id)
        .unwrap_or_else(|| panic!("no building {source_id}"))
}

fn semantic_counts(b: &Building) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for s in &b.solid.as_ref().unwrap().surfaces {
        *m.entry(s.semantic.clone().unwrap_or_default()).or_default() += 1;
    }
    m
}

// ---------------------------------------------------------------------------------------------

#[test]
fn building_counts_match_the_files() {
    for name in [SMALL, SMALL_SEQ, MULTI_LOD, DELFT] {
        let objs = objects(name);
        let expected = objs.iter().filter(|o| o.ty == "Building").count();
        let imp = import(name, &opts_for(name));
        assert_eq!(imp.buildings.len(), expected, "{name}");
        assert!(expected > 0);
        for b in &imp.buildings {
            assert_eq!(b.id, format!("cityjson:{}", b.source_id));
            assert_eq!(b.height_source, twin_core::model::HeightSource::Geometry);
            assert!(b.height > 0.0, "{name} {}", b.id);
            assert!(!b.footprint.0.is_empty());
        }
    }
    assert_eq!(
        objects(SMALL).iter().filter(|o| o.ty == "Building").count(),
        3
    );
    assert_eq!(
        objects(DELFT).iter().filter(|o| o.ty == "Building").count(),
        160
    );
}

#[test]
fn document_and_sequence_give_identical_buildings() {
    let doc = import(SMALL, &opts());
    let seq = import(SMALL_SEQ, &opts());
    assert_eq!(doc.buildings.len(), 3);
    assert_eq!(doc.buildings, seq.buildings);
    // The dispatcher picks the same importer from the file names.
    let via = import_file(&data(SMALL_SEQ), &opts(), &NoProgress).unwrap();
    assert_eq!(via.buildings, doc.buildings);

    // CityJSON 1.1 reads the same way (the parts used here did not change from 1.1 to 2.0).
    let mut v11 = small_doc();
    v11["version"] = Value::from("1.1");
    let f = write_temp(".city.json", &v11.to_string());
    let imp = cityjson::import(f.path(), &opts(), &NoProgress).unwrap();
    assert_eq!(imp.buildings, doc.buildings);
}

#[test]
fn attributes_are_kept_and_stringified() {
    let objs = objects(SMALL);
    let imp = import(SMALL, &opts());
    for o in objs.iter().filter(|o| o.ty == "Building") {
        let b = building(&imp, &o.id);
        let attrs = o.value["attributes"].as_object().unwrap();
        let non_null = attrs.values().filter(|v| !v.is_null()).count();
        assert_eq!(b.attributes.len(), non_null, "{}", o.id);
        for (k, v) in attrs {
            match v {
                Value::Null => assert!(!b.attributes.contains_key(k)),
                Value::String(s) => assert_eq!(&b.attributes[k], s),
                other => assert_eq!(b.attributes[k], other.to_string()),
            }
        }
    }
}

#[test]
fn lod_selection_follows_the_option() {
    for name in [SMALL, MULTI_LOD] {
        let objs = objects(name);
        let ids: Vec<&str> = objs
            .iter()
            .filter(|o| o.ty == "Building")
            .map(|o| o.id.as_str())
            .collect();
        let faces_at = |id: &str, lod: &str| -> usize {
            building_and_parts(&objs, id)
                .iter()
                .flat_map(|o| geometries(o))
                .filter(|g| g["lod"] == lod)
                .map(|g| faces(g).len())
                .sum()
        };
        // A building whose LoD 1.2 and 2.2 differ (a slanted roof), found independently.
        let shaped = *ids
            .iter()
            .find(|id| faces_at(id, "1.2") != faces_at(id, "2.2"))
            .expect("a building whose LoDs differ");
        let mut shaped_counts = Vec::new();
        for lod in ["1.2", "2.2"] {
            let mut o = opts_for(name);
            o.lod = Some(lod.into());
            let imp = import(name, &o);
            for id in &ids {
                let parts = building_and_parts(&objs, id);
                let b = building(&imp, id);
                let solid = b.solid.as_ref().unwrap();
                assert_eq!(solid.lod, lod, "{name} {id}");
                assert_eq!(
                    solid.surfaces.len(),
                    faces_at(id, lod),
                    "{name} {id} LoD {lod}"
                );
                if *id == shaped {
                    shaped_counts.push(solid.surfaces.len());
                }
                // Height and base are those of the chosen geometry.
                let (lo, hi) = bounds(parts.iter().flat_map(|o| {
                    geometries(o)
                        .filter(|g| g["lod"] == lod)
                        .map(move |g| (*o, g))
                }));
                assert!(
                    (b.base_height - lo[2]).abs() < 1e-6,
                    "{name} {id} LoD {lod}: {} vs {}",
                    b.base_height,
                    lo[2]
                );
                assert!(
                    (b.height - (hi[2] - lo[2])).abs() < 1e-6,
                    "{name} {id} LoD {lod}"
                );
            }
        }
        assert_ne!(shaped_counts[0], shaped_counts[1], "{name} {shaped}");

        // Without an option, the highest LoD; asking for a missing LoD falls back to it with a note.
        let imp = import(name, &opts_for(name));
        for id in &ids {
            let highest = highest_lod(&building_and_parts(&objs, id));
            assert_eq!(
                building(&imp, id).solid.as_ref().unwrap().lod,
                highest,
                "{name} {id}"
            );
        }
        let mut o = opts_for(name);
        o.lod = Some("3.0".into());
        let fallback = import(name, &o);
        assert_eq!(fallback.buildings, imp.buildings, "{name}");
        assert!(
            fallback
                .notes
                .iter()
                .any(|s| s.contains(&format!("{} building(s) have no LoD 3.0", ids.len()))),
            "{:?}",
            fallback.notes
        );
    }
}

#[test]
fn semantic_surfaces_match_the_file() {
    for name in [SMALL, MULTI_LOD] {
        let objs = objects(name);
        let imp = import(name, &opts_for(name));
        for b_obj in objs.iter().filter(|o| o.ty == "Building") {
            let parts = building_and_parts(&objs, &b_obj.id);
            let lod = highest_lod(&parts);
            let mut expected = BTreeMap::new();
            for g in parts
                .iter()
                .flat_map(|o| geometries(o))
                .filter(|g| g["lod"] == lod.as_str())
            {
                for (_, sem) in faces(g) {
                    *expected.entry(sem.unwrap_or_default()).or_insert(0usize) += 1;
                }
            }
            let got = semantic_counts(building(&imp, &b_obj.id));
            assert_eq!(got, expected, "{name} {}", b_obj.id);
            for ty in ["RoofSurface", "WallSurface", "GroundSurface"] {
                assert!(
                    got.get(ty).copied().unwrap_or(0) > 0,
                    "{name} {}: no {ty}",
                    b_obj.id
                );
            }
        }
    }
}

#[test]
fn extents_match_the_vertices_used_by_buildings() {
    for name in [SMALL, SMALL_SEQ, MULTI_LOD, DELFT] {
        let objs = objects(name);
        let (lo, hi) = bounds(
            objs.iter()
                .filter(|o| o.ty == "Building" || o.ty == "BuildingPart")
                .flat_map(|o| geometries(o).map(move |g| (o, g))),
        );
        let imp = import(name, &opts_for(name));
        let mut ilo = [f64::INFINITY; 3];
        let mut ihi = [f64::NEG_INFINITY; 3];
        for b in &imp.buildings {
            for p in b.footprint.0.iter().flat_map(|p| p.exterior().0.iter()) {
                ilo[0] = ilo[0].min(p.x);
                ilo[1] = ilo[1].min(p.y);
                ihi[0] = ihi[0].max(p.x);
                ihi[1] = ihi[1].max(p.y);
            }
            ilo[2] = ilo[2].min(b.base_height);
            ihi[2] = ihi[2].max(b.base_height + b.height);
        }
        for k in 0..3 {
            assert!(
                (ilo[k] - lo[k]).abs() < 0.01,
                "{name} min[{k}]: {} vs {}",
                ilo[k],
                lo[k]
            );
            assert!(
                (ihi[k] - hi[k]).abs() < 0.01,
                "{name} max[{k}]: {} vs {}",
                ihi[k],
                hi[k]
            );
        }
    }
}

#[test]
fn footprint_is_the_union_of_ground_surfaces() {
    // Independent: the ground surfaces' area by the shoelace formula (they do not overlap).
    let objs = objects(SMALL);
    let imp = import(SMALL, &opts());
    for b_obj in objs.iter().filter(|o| o.ty == "Building") {
        let parts = building_and_parts(&objs, &b_obj.id);
        let lod = highest_lod(&parts);
        let mut area = 0.0;
        for o in &parts {
            for g in geometries(o).filter(|g| g["lod"] == lod.as_str()) {
                for (face, sem) in faces(g) {
                    if sem.as_deref() != Some("GroundSurface") {
                        continue;
                    }
                    for (r, ring) in face.as_array().unwrap().iter().enumerate() {
                        let mut idx = Vec::new();
                        indices(ring, &mut idx);
                        let pts: Vec<[f64; 3]> = idx.iter().map(|&i| o.vertices[i]).collect();
                        let a: f64 = (0..pts.len())
                            .map(|i| {
                                let (p, q) = (pts[i], pts[(i + 1) % pts.len()]);
                                p[0] * q[1] - q[0] * p[1]
                            })
                            .sum::<f64>()
                            .abs()
                            / 2.0;
                        area += if r == 0 { a } else { -a };
                    }
                }
            }
        }
        use geo::Area;
        let got = building(&imp, &b_obj.id).footprint.unsigned_area();
        assert!((got - area).abs() < 0.01, "{}: {got} vs {area}", b_obj.id);
    }
    assert!(
        imp.notes
            .iter()
            .any(|n| n.contains("3 from GroundSurfaces")),
        "{:?}",
        imp.notes
    );
}

#[test]
fn crs_is_read_from_the_file() {
    for name in [SMALL, SMALL_SEQ, DELFT] {
        let imp = import(name, &opts());
        assert_eq!(imp.source_crs, Some(Crs::epsg(7415).unwrap()), "{name}");
    }
    // A CRS given by the user overrides the file's, with a note.
    let mut o = opts();
    o.source_crs = Some(Crs::epsg(28992).unwrap());
    let imp = import(SMALL, &o);
    assert_eq!(imp.source_crs, Some(Crs::epsg(28992).unwrap()));
    assert!(
        imp.notes.iter().any(|n| n.contains("overrides")),
        "{:?}",
        imp.notes
    );
}

#[test]
fn file_without_reference_system_needs_a_source_crs() {
    let text = std::fs::read_to_string(data(MULTI_LOD)).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert!(v
        .get("metadata")
        .and_then(|m| m.get("referenceSystem"))
        .is_none());

    let e = cityjson::import(&data(MULTI_LOD), &opts(), &NoProgress).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("referenceSystem"), "{msg}");
    assert!(msg.contains(MULTI_LOD), "{msg}");

    let imp = import(MULTI_LOD, &opts_for(MULTI_LOD));
    assert_eq!(imp.source_crs, Some(Crs::epsg(7415).unwrap()));
    assert_eq!(imp.buildings.len(), 10);
}

#[test]
fn water_and_skipped_types_in_delft() {
    let objs = objects(DELFT);
    let imp = import(DELFT, &opts());
    let mut by_type: BTreeMap<&str, usize> = BTreeMap::new();
    for o in &objs {
        *by_type.entry(o.ty.as_str()).or_default() += 1;
    }
    assert_eq!(imp.water.len(), by_type["WaterBody"]);
    assert_eq!(imp.water.len(), 3);
    for w in &imp.water {
        match &w.geometry {
            geo_types::Geometry::MultiPolygon(mp) => {
                use geo::Area;
                assert!(mp.unsigned_area() > 1.0, "{}", w.id);
            }
            other => panic!("{}: {other:?}", w.id),
        }
    }
    let skipped: Vec<_> = by_type
        .iter()
        .filter(|(t, _)| !matches!(**t, "Building" | "BuildingPart" | "WaterBody"))
        .collect();
    assert_eq!(skipped.len(), 5, "{skipped:?}");
    for (ty, n) in skipped {
        let notes: Vec<_> = imp
            .notes
            .iter()
            .filter(|s| s.contains(&format!(" {ty} object")))
            .collect();
        assert_eq!(notes.len(), 1, "{ty}: {:?}", imp.notes);
        assert!(
            notes[0].contains(&format!("skipped {n} {ty} object")),
            "{}",
            notes[0]
        );
    }
}

#[test]
fn reprojection_keeps_heights_and_matches_proj() {
    let rd = import(SMALL, &opts());
    let utm = import(SMALL, &ImportOptions::new(Crs::epsg(32631).unwrap()));
    let t = Transform::between("EPSG:28992", "EPSG:32631").unwrap();
    assert_eq!(rd.buildings.len(), utm.buildings.len());
    for (a, b) in rd.buildings.iter().zip(&utm.buildings) {
        assert_eq!(a.source_id, b.source_id);
        assert_eq!(a.base_height, b.base_height, "z is not transformed");
        assert_eq!(a.height, b.height);
        let (sa, sb) = (a.solid.as_ref().unwrap(), b.solid.as_ref().unwrap());
        let pa = sa.surfaces[0].rings[0][0];
        let pb = sb.surfaces[0].rings[0][0];
        let (x, y) = t.apply(pa[0], pa[1]).unwrap();
        assert!(
            (x - pb[0]).abs() < 0.01 && (y - pb[1]).abs() < 0.01,
            "{x} {y} vs {pb:?}"
        );
        assert_eq!(pa[2], pb[2]);
        // Near Delft, UTM 31N eastings are around 600 km.
        assert!((500_000.0..700_000.0).contains(&pb[0]), "{pb:?}");
    }
}

#[derive(Default)]
struct Counting {
    started: AtomicU64,
    total: AtomicU64,
    done: AtomicU64,
}
impl Progress for Counting {
    fn start(&self, _: &str, total: u64) {
        self.started.fetch_add(1, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
    }
    fn inc(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }
}

#[test]
fn sequence_progress_counts_bytes() {
    let p = Counting::default();
    cityjson::import(&data(SMALL_SEQ), &opts(), &p).unwrap();
    let size = std::fs::metadata(data(SMALL_SEQ)).unwrap().len();
    assert_eq!(p.started.load(Ordering::Relaxed), 1);
    assert_eq!(p.total.load(Ordering::Relaxed), size);
    assert_eq!(p.done.load(Ordering::Relaxed), size);
}

// ---------------------------------------------------------------------------------------------
// Malformed inputs: one clear error naming the file and the place, never a panic.

fn write_temp(suffix: &str, text: &str) -> tempfile::NamedTempFile {
    let f = tempfile::Builder::new().suffix(suffix).tempfile().unwrap();
    std::fs::write(f.path(), text).unwrap();
    f
}

fn small_doc() -> Value {
    serde_json::from_str(&std::fs::read_to_string(data(SMALL)).unwrap()).unwrap()
}

/// Import `text` as a temporary file and return the error, checking it names the file.
fn import_err(suffix: &str, text: &str) -> String {
    let f = write_temp(suffix, text);
    let e =
        cityjson::import(f.path(), &opts(), &NoProgress).expect_err("malformed input must fail");
    assert!(matches!(e, TwinError::Parse { .. }), "{e:?}");
    let msg = e.to_string();
    let file_name = f.path().file_name().unwrap().to_string_lossy().to_string();
    assert!(msg.contains(&file_name), "{msg}");
    msg
}

#[test]
fn bad_vertex_index_is_named() {
    let mut doc = small_doc();
    let n = doc["vertices"].as_array().unwrap().len();
    let (id, _) = doc["CityObjects"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, o)| o["type"] == "BuildingPart")
        .map(|(k, v)| (k.clone(), v.clone()))
        .unwrap();
    doc["CityObjects"][&id]["geometry"][1]["boundaries"][0][2][0][1] = Value::from(99999);
    let msg = import_err(".city.json", &doc.to_string());
    let expected = format!(
        "CityObjects[\"{id}\"].geometry[1]: vertex index 99999 out of range ({n} vertices)"
    );
    assert!(msg.contains(&expected), "{msg}\nexpected {expected}");

    // In a sequence, the line number comes first; vertices are the feature's own.
    let text = std::fs::read_to_string(data(SMALL_SEQ)).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut f: Value = serde_json::from_str(&lines[2]).unwrap();
    let fid = f["CityObjects"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, o)| o["type"] == "BuildingPart")
        .map(|(k, _)| k.clone())
        .unwrap();
    let fn_ = f["vertices"].as_array().unwrap().len();
    f["CityObjects"][&fid]["geometry"][0]["boundaries"][0][0][0][0] = Value::from(fn_);
    lines[2] = f.to_string();
    let msg = import_err(".city.jsonl", &lines.join("\n"));
    let expected = format!("line 3: CityObjects[\"{fid}\"].geometry[0]: vertex index {fn_} out of range ({fn_} vertices)");
    assert!(msg.contains(&expected), "{msg}\nexpected {expected}");
}

#[test]
fn truncated_json_is_an_error() {
    let text = std::fs::read_to_string(data(SMALL)).unwrap();
    let msg = import_err(".city.json", &text[..text.len() / 2]);
    assert!(msg.contains("EOF"), "{msg}");
    assert!(msg.contains("line 1, column"), "{msg}");

    let seq = std::fs::read_to_string(data(SMALL_SEQ)).unwrap();
    let cut = seq.lines().take(2).collect::<Vec<_>>().join("\n")
        + "\n"
        + &seq.lines().nth(2).unwrap()[..100];
    let msg = import_err(".city.jsonl", &cut);
    assert!(msg.contains("line 3, column"), "{msg}");

    let msg = import_err(".city.jsonl", "");
    assert!(msg.contains("no CityJSON header"), "{msg}");
}

#[test]
fn wrong_types_are_errors() {
    let mut doc = small_doc();
    doc["type"] = Value::from("CityJSONx");
    let msg = import_err(".city.json", &doc.to_string());
    assert!(
        msg.contains(": type:") && msg.contains("CityJSONx"),
        "{msg}"
    );

    let mut doc = small_doc();
    let id = doc["CityObjects"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    doc["CityObjects"][&id]["type"] = Value::from("Buildingx");
    let msg = import_err(".city.json", &doc.to_string());
    assert!(
        msg.contains(&format!("CityObjects.{id}.type")) && msg.contains("Buildingx"),
        "{msg}"
    );

    let mut doc = small_doc();
    doc["CityObjects"][&id]["geometry"][0]["type"] = Value::from("Solidx");
    let msg = import_err(".city.json", &doc.to_string());
    assert!(
        msg.contains(&format!("CityObjects.{id}.geometry[0]")),
        "{msg}"
    );

    // A feature where the header should be, and a header in the middle of a sequence.
    let seq = std::fs::read_to_string(data(SMALL_SEQ)).unwrap();
    let lines: Vec<&str> = seq.lines().collect();
    let msg = import_err(".city.jsonl", &lines[1..].join("\n"));
    assert!(msg.contains("line 1") && msg.contains("header"), "{msg}");
    let msg = import_err(".city.jsonl", &[lines[0], lines[1], lines[0]].join("\n"));
    assert!(
        msg.contains("line 3") && msg.contains("second CityJSON header"),
        "{msg}"
    );
    let mut f: Value = serde_json::from_str(lines[2]).unwrap();
    f["type"] = Value::from("Feature");
    let msg = import_err(
        ".city.jsonl",
        &[lines[0], lines[1], &f.to_string()].join("\n"),
    );
    assert!(msg.contains("line 3") && msg.contains("type"), "{msg}");
}

#[test]
fn absurd_transform_scale_is_an_error() {
    for scale in [0.0, -0.001] {
        let mut doc = small_doc();
        doc["transform"]["scale"][1] = Value::from(scale);
        let msg = import_err(".city.json", &doc.to_string());
        assert!(msg.contains("transform.scale"), "{msg}");

        let seq = std::fs::read_to_string(data(SMALL_SEQ)).unwrap();
        let mut lines: Vec<String> = seq.lines().map(String::from).collect();
        let mut h: Value = serde_json::from_str(&lines[0]).unwrap();
        h["transform"]["scale"][0] = Value::from(scale);
        lines[0] = h.to_string();
        let msg = import_err(".city.jsonl", &lines.join("\n"));
        assert!(msg.contains("line 1: transform.scale"), "{msg}");
    }
    // JSON has no NaN; an overflowing number is a parse error at the transform.
    let text = std::fs::read_to_string(data(SMALL))
        .unwrap()
        .replacen("0.001", "1e999", 1);
    let msg = import_err(".city.json", &text);
    assert!(msg.contains("transform"), "{msg}");
}

#[test]
fn bad_lod_option_is_an_error() {
    let mut o = opts();
    o.lod = Some("two".into());
    let e = cityjson::import(&data(SMALL), &o, &NoProgress).unwrap_err();
    assert!(e.to_string().contains("two"), "{e}");
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// Cutting the file anywhere or overwriting a byte gives an Ok or a named error, never a
        /// panic.
        #[test]
        fn mangled_documents_do_not_panic(cut in 0.0f64..1.0, at in 0.0f64..1.0, byte in b' '..=b'~') {
            let mut bytes = std::fs::read(data(SMALL)).unwrap();
            let i = ((bytes.len() - 1) as f64 * at) as usize;
            bytes[i] = byte;
            bytes.truncate(((bytes.len() as f64) * (0.5 + cut / 2.0)) as usize + 1);
            let f = tempfile::Builder::new().suffix(".city.json").tempfile().unwrap();
            std::fs::write(f.path(), &bytes).unwrap();
            if let Err(e) = cityjson::import(f.path(), &opts(), &NoProgress) {
                let name = f.path().file_name().unwrap().to_string_lossy().to_string();
                let msg = e.to_string();
                prop_assert!(msg.contains(&name) || matches!(e, TwinError::Crs { .. }), "{}", msg);
            }
        }
    }
}
