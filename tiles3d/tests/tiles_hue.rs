//! 3D Tiles of the real Hue OSM import: glTF validator, tree structure, every building once,
//! the citadel where WGS84 puts it, heights on the EGM96 geoid, tiles produced alone, results
//! rewritten in place.

use geo::{Area, BooleanOps, ConvexHull};
use geo_types::MultiPolygon;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use testkit::*;
use tiles3d::{self as tiles, results, Tileset, TilesetOptions};
use twin_core::crs::Crs;
use twin_core::twin::SourceConfig;
use twin_core::NoProgress;
use twin_core::{LayerKind, Twin, TwinDir};

struct Hue {
    _tmp: tempfile::TempDir,
    twin: Twin,
    opts: TilesetOptions,
    out: PathBuf,
    buildings: OnceLock<Walk>,
}

impl Hue {
    /// The buildings tileset, walked once.
    fn buildings(&self) -> &Walk {
        self.buildings
            .get_or_init(|| walk_tileset(&self.out.join("buildings/tileset.json")))
    }
}

fn hue() -> &'static Hue {
    static HUE: OnceLock<Hue> = OnceLock::new();
    HUE.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let mut td =
            TwinDir::create(&tmp.path().join("hue"), "hue", Crs::epsg(32648).unwrap()).unwrap();
        td.import(
            SourceConfig {
                path: shared("hue/hue.osm.pbf"),
                layer: None,
                crs: None,
                lod: None,
            },
            &NoProgress,
        )
        .unwrap();
        let twin = td.load().unwrap();
        let opts = TilesetOptions::for_config(&td.config);
        let out = tmp.path().join("tiles");
        tiles::export(&twin, &out, &[], &opts, &NoProgress).unwrap();
        Hue {
            _tmp: tmp,
            twin,
            opts,
            out,
            buildings: OnceLock::new(),
        }
    })
}

/// The buildings of the derived GeoJSON (EPSG:4326), keyed by the twin's id for them.
fn geojson_buildings() -> BTreeMap<String, Value> {
    let v: Value =
        serde_json::from_slice(&std::fs::read(shared("hue/geojson/hue_building.geojson")).unwrap())
            .unwrap();
    v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let osm = f["properties"]["osm_id"].as_str().unwrap();
            let id = match osm.split_at(1) {
                ("w", n) => format!("osm:way/{n}"),
                ("r", n) => format!("osm:relation/{n}"),
                _ => panic!("osm_id {osm}"),
            };
            (id, f.clone())
        })
        .collect()
}

#[test]
fn hue_tiles_pass_the_gltf_validator_and_the_structure_checks() {
    let h = hue();
    let all = check_export(&h.out);
    assert!(all.glbs.len() >= 10, "{} glbs", all.glbs.len());
    // Buildings: every building of the GeoJSON exactly once, nothing else.
    let b = h.buildings();
    let expected: BTreeSet<String> = geojson_buildings().into_keys().collect();
    assert_eq!(expected.len(), 6877);
    let got: BTreeSet<String> = b.features.keys().cloned().collect();
    assert_eq!(got, expected);
    assert!(
        b.features.values().all(|&n| n == 1),
        "each building in one tile"
    );
    // ADD between a tile and its block tile; the blocks are REPLACEd by the buildings.
    assert_eq!(
        b.refines,
        BTreeSet::from(["ADD".to_string(), "REPLACE".to_string()])
    );
    assert!(b.depth >= 3, "a real tree: depth {}", b.depth);
    // Heritage: every site of the twin once.
    let hw = walk_tileset(&h.out.join("heritage/tileset.json"));
    let sites: BTreeSet<String> = h
        .twin
        .heritage
        .features()
        .iter()
        .map(|s| s.id.clone())
        .collect();
    assert_eq!(hw.features.keys().cloned().collect::<BTreeSet<_>>(), sites);
    // The tileset says how heights were made ellipsoidal.
    let ts: Value =
        serde_json::from_slice(&std::fs::read(h.out.join("buildings/tileset.json")).unwrap())
            .unwrap();
    let geoid = ts["asset"]["extras"]["huetwin"]["geoid"].as_str().unwrap();
    if Path::new("/usr/share/proj/egm96_15.gtx").exists() {
        assert!(geoid.contains("egm96_15.gtx"), "{geoid}");
    }
    assert_eq!(ts["schema"]["id"], "huetwin");
}

#[test]
fn citadel_buildings_land_within_a_metre_of_their_wgs84_positions() {
    let h = hue();
    let w = h.buildings();
    let gj = geojson_buildings();
    let citadel: Vec<(&String, &Value)> = gj
        .iter()
        .filter(|(_, f)| {
            let p = &f["properties"];
            p.get("historic").is_some()
                || ["Ngọ Môn", "Điện Thái Hòa", "Lầu Ngũ Phụng"]
                    .contains(&p["name"].as_str().unwrap_or(""))
        })
        .collect();
    assert!(citadel.len() >= 10, "{} historic buildings", citadel.len());
    assert!(citadel
        .iter()
        .any(|(_, f)| f["properties"]["name"] == "Ngọ Môn"));
    let grid = have_egm96();
    let mut worst: f64 = 0.0;
    for (id, f) in &citadel {
        let verts: Vec<&Vertex> = w
            .vertices
            .iter()
            .filter(|v| v.feature.as_deref() == Some(id.as_str()))
            .collect();
        assert!(!verts.is_empty(), "{id} in the tiles");
        let coords = f["geometry"]["coordinates"].as_array().unwrap();
        for ring in coords.iter().flat_map(|poly| poly.as_array().unwrap()) {
            for c in ring.as_array().unwrap() {
                let (lon, lat) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
                // Nearest tile vertex, on the ground (metres on the sphere are plenty here).
                let d = verts
                    .iter()
                    .map(|v| {
                        let dy = (v.lat - lat).to_radians() * 6_371_000.0;
                        let dx = (v.lon - lon).to_radians() * 6_371_000.0 * lat.to_radians().cos();
                        dx.hypot(dy)
                    })
                    .fold(f64::INFINITY, f64::min);
                worst = worst.max(d);
                assert!(
                    d < 1.0,
                    "{id}: vertex ({lon}, {lat}) is {d} m from the tiles"
                );
            }
        }
        // Walls stand on the geoid (base 0 m orthometric, no DEM) and rise by the height.
        let b = h.twin.buildings.by_id(id).unwrap();
        let lo = verts.iter().map(|v| v.h).fold(f64::INFINITY, f64::min);
        let hi = verts.iter().map(|v| v.h).fold(f64::NEG_INFINITY, f64::max);
        assert!(
            (hi - lo - b.height).abs() < 0.01,
            "{id}: {hi} - {lo} vs {}",
            b.height
        );
        if grid {
            let (lon, lat) = (verts[0].lon, verts[0].lat);
            let n = egm96_by_gdal(lon, lat);
            assert!((lo - n).abs() < 0.05, "{id}: base at {lo} m, EGM96 N {n} m");
        } else {
            assert!((lo - h.opts.geoid_offset_m).abs() < 0.05);
        }
    }
    eprintln!(
        "citadel: {} buildings, worst horizontal offset {worst:.4} m",
        citadel.len()
    );
}

#[test]
fn any_tile_alone_matches_the_export() {
    let h = hue();
    for layer in [LayerKind::Buildings, LayerKind::Heritage] {
        let ts = Tileset::plan(&h.twin, layer, &h.opts).unwrap();
        // The plan gives the same tileset.json as the export wrote, byte for byte.
        let on_disk = std::fs::read(h.out.join(layer.name()).join("tileset.json")).unwrap();
        let again = serde_json::to_vec_pretty(&ts.tileset_json()).unwrap();
        assert!(again == on_disk, "{} tileset.json differs", layer.name());
        // A root tile, a leaf, and one in between, each produced on its own.
        let tiles = ts.tiles();
        let picks = [0, tiles.len() / 2, tiles.len() - 1];
        for &i in &picks {
            let t = &tiles[i];
            let uri = t.content_uri().unwrap();
            let alone = ts.tile_content(&h.twin, &t.id).unwrap();
            let written = std::fs::read(h.out.join(layer.name()).join(&uri)).unwrap();
            assert!(alone == written, "{uri} differs");
        }
        assert!(ts.tile_content(&h.twin, "99/0/0").is_err());
    }
}

#[test]
fn results_are_rewritten_in_place_without_touching_geometry() {
    let h = hue();
    let w = h.buildings();
    // The tile holding Ngo Mon.
    let ngo_mon = "osm:way/172657562";
    let path = w
        .glbs
        .iter()
        .find(|p| Glb::read(p).strings(0, "id").iter().any(|s| s == ngo_mon))
        .expect("Ngo Mon's tile")
        .clone();
    let before = std::fs::read(&path).unwrap();
    let mut bytes = before.clone();
    let n = results::patch_results(&mut bytes, |id| {
        (id == ngo_mon).then_some(results::FeatureResults {
            max_flood_depth: Some(0.75),
            flood_duration: Some(12.5),
        })
    })
    .unwrap();
    assert_eq!(n, 1);
    assert_eq!(bytes.len(), before.len());
    let (g0, g1) = (Glb::parse(&before), Glb::parse(&bytes));
    assert_eq!(g0.json, g1.json, "the JSON chunk is unchanged");
    // Geometry accessors are byte-identical.
    let prim = &g1.primitives()[0];
    for attr in ["POSITION", "NORMAL", "_FEATURE_ID_0"] {
        let a = prim["attributes"][attr].as_u64().unwrap() as usize;
        assert_eq!(g0.accessor(a), g1.accessor(a), "{attr}");
    }
    let tables = g1.property_tables();
    // The results are columns of the feature table itself.
    assert_eq!(tables.len(), 1);
    let rt = 0;
    let ids = g1.strings(0, "id");
    let depth = g1.floats(rt, "max_flood_depth");
    let dur = g1.floats(rt, "flood_duration");
    for (k, id) in ids.iter().enumerate() {
        if id == ngo_mon {
            assert_eq!((depth[k], dur[k]), (0.75, 12.5));
        } else {
            assert_eq!((depth[k], dur[k]), (-1.0, -1.0));
        }
    }
    assert_eq!(g0.floats(rt, "max_flood_depth"), vec![-1.0; ids.len()]);
    // Still a valid glTF.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("patched.glb"), &bytes).unwrap();
    assert_eq!(assert_valid_gltf(dir.path()), 1);
}

#[test]
fn deeper_trees_keep_their_invariants() {
    let h = hue();
    let opts = TilesetOptions {
        max_features: 150,
        parent_features: 40,
        ..h.opts.clone()
    };
    let dir = tempfile::tempdir().unwrap();
    let rep = tiles::export(
        &h.twin,
        dir.path(),
        &[LayerKind::Buildings],
        &opts,
        &NoProgress,
    )
    .unwrap();
    assert_eq!(rep.layers.len(), 1);
    assert_eq!(rep.layers[0].features, 6877);
    let w = check_export(dir.path());
    assert!(w.depth >= 6, "depth {}", w.depth);
    assert_eq!(w.features.len(), 6877);
    assert!(w.features.values().all(|&n| n == 1));
    // Leaves within the feature limit; inner tiles keep at most parent_features.
    for p in &w.glbs {
        let n = Glb::read(p).property_tables()[0]["count"].as_u64().unwrap() as usize;
        assert!(n <= 150, "{}: {n} features", p.display());
    }
}

/// Triangles as index triples rotated to start at their smallest index (meshopt's index codec
/// may rotate a triangle's vertices, keeping its winding).
fn triangles(g: &Glb, prim: &Value) -> Vec<[u64; 3]> {
    g.accessor(prim["indices"].as_u64().unwrap() as usize)
        .chunks(3)
        .map(|t| {
            let t = [t[0][0] as u64, t[1][0] as u64, t[2][0] as u64];
            let k = (0..3).min_by_key(|&k| t[k]).unwrap();
            [t[k], t[(k + 1) % 3], t[(k + 2) % 3]]
        })
        .collect()
}

/// Every compact tile of the Hue OSM buildings and heritage, decoded with meshoptimizer's own
/// decoders, is the plain export within its quantization step: positions within half a step
/// per axis, normals within 2 degrees, the same feature ids, triangles and property tables;
/// and it is at most a third of the plain bytes.
#[test]
fn compact_tiles_decode_to_the_plain_export_within_a_quantization_step() {
    let h = hue();
    assert!(h.opts.compact, "compact is the default");
    let plain = h._tmp.path().join("plain");
    let opts = TilesetOptions {
        compact: false,
        ..h.opts.clone()
    };
    let layers = [LayerKind::Buildings, LayerKind::Heritage];
    tiles::export(&h.twin, &plain, &layers, &opts, &NoProgress).unwrap();
    for layer in layers {
        let dir = h.out.join(layer.name());
        let (mut compact_bytes, mut plain_bytes, mut tiles, mut worst) = (0, 0, 0, 0.0f64);
        let (mut json_bytes, mut geometry_bytes, mut metadata_bytes) = (0u64, 0u64, 0u64);
        for path in glb_files(&dir) {
            let rel = path.strip_prefix(&dir).unwrap();
            let (c, p) = (
                Glb::read(&path),
                Glb::read(&plain.join(layer.name()).join(rel)),
            );
            compact_bytes += std::fs::metadata(&path).unwrap().len();
            plain_bytes += std::fs::metadata(plain.join(layer.name()).join(rel))
                .unwrap()
                .len();
            tiles += 1;
            let raw = std::fs::read(&path).unwrap();
            json_bytes += u32::from_le_bytes(raw[12..16].try_into().unwrap()) as u64;
            for v in c.json["bufferViews"].as_array().unwrap() {
                match v["extensions"].get("EXT_meshopt_compression") {
                    Some(m) => geometry_bytes += m["byteLength"].as_u64().unwrap(),
                    None => metadata_bytes += v["byteLength"].as_u64().unwrap(),
                }
            }
            let (cp, pp) = (&c.primitives()[0], &p.primitives()[0]);
            for attr in ["POSITION", "NORMAL", "_FEATURE_ID_0"] {
                let a = cp["attributes"][attr].as_u64().unwrap() as usize;
                assert!(c.is_compressed(c.json["accessors"][a]["bufferView"].as_u64().unwrap() as usize));
            }
            assert_eq!(
                c.json["extensionsRequired"],
                serde_json::json!(["EXT_meshopt_compression", "KHR_mesh_quantization"])
            );
            let (corner, step) = c.node_transform();
            let (cpos, ppos) = (c.positions(cp), p.positions(pp));
            assert_eq!(cpos.len(), ppos.len());
            for (a, b) in cpos.iter().zip(&ppos) {
                for i in 0..3 {
                    let d = (a[i] - b[i]).abs();
                    worst = worst.max(d);
                    // Half a step, and the f32 rounding of coordinates a few km from the origin.
                    let ulps = 4.0 * f32::EPSILON as f64 * (corner[i].abs() + 65535.0 * step[i]);
                    assert!(
                        d <= step[i] / 2.0 + ulps,
                        "{rel:?}: {a:?} vs {b:?} (step {step:?})"
                    );
                }
            }
            for (a, b) in c.normals(cp).iter().zip(&p.normals(pp)) {
                let dot = a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
                assert!(
                    dot > 2f64.to_radians().cos(),
                    "{rel:?}: normal {a:?} vs {b:?}"
                );
            }
            let fid = |g: &Glb, pr: &Value| {
                g.accessor(pr["attributes"]["_FEATURE_ID_0"].as_u64().unwrap() as usize)
            };
            assert_eq!(fid(&c, cp), fid(&p, pp), "{rel:?}: feature ids");
            assert_eq!(triangles(&c, cp), triangles(&p, pp), "{rel:?}: triangles");
            assert_eq!(
                c.json["extensions"]["EXT_structural_metadata"]["propertyTables"],
                p.json["extensions"]["EXT_structural_metadata"]["propertyTables"]
            );
            let n = p.property_tables()[0]["count"].as_u64().unwrap() as usize;
            for key in ["id", "name"] {
                assert_eq!(c.strings(0, key), p.strings(0, key));
            }
            assert_eq!(n, c.strings(0, "id").len());
        }
        let features = if layer == LayerKind::Buildings {
            h.twin.buildings.len()
        } else {
            h.twin.heritage.len()
        };
        eprintln!(
            "{}: {tiles} tiles, {features} features: compact {compact_bytes} B ({:.0} B/feature), plain {plain_bytes} B ({:.0} B/feature), {:.2}x; worst position error {worst:.4} m",
            layer.name(),
            compact_bytes as f64 / features as f64,
            plain_bytes as f64 / features as f64,
            plain_bytes as f64 / compact_bytes as f64
        );
        eprintln!(
            "  compact, per feature: JSON {:.0} B, compressed geometry {:.0} B, property tables {:.0} B",
            json_bytes as f64 / features as f64,
            geometry_bytes as f64 / features as f64,
            metadata_bytes as f64 / features as f64
        );
        assert!(
            compact_bytes * 3 <= plain_bytes,
            "{compact_bytes} vs {plain_bytes}"
        );
    }
}

/// Footprint area (m²) of the twin's buildings `idx`.
fn footprint_area(twin: &Twin, idx: &[u32]) -> f64 {
    use geo::Area;
    idx.iter()
        .filter_map(|&i| twin.buildings.get(i as usize))
        .map(|b| b.footprint.unsigned_area())
        .sum()
}

/// The opening view shows the whole city's mass (docs/adr/0026, "city mass"): the root's
/// block tile merges every building below the root into blocks, so the share of the city's
/// footprint area drawn by the root and its first level rises from the largest buildings only
/// (the quadtree's level 1, as before the blocks) to all of it. Each block tile stands for
/// exactly its descendants, refines by REPLACE with an error below its parent's, and its glb
/// carries one `block` feature per block with a mean height within the buildings' heights; the official
/// 3d-tiles-validator (when built) finds no error.
#[test]
fn the_opening_view_carries_the_whole_citys_mass_in_blocks() {
    let h = hue();
    let ts = Tileset::plan(&h.twin, LayerKind::Buildings, &h.opts).unwrap();
    let total = footprint_area(
        &h.twin,
        &(0..h.twin.buildings.len() as u32).collect::<Vec<_>>(),
    );
    let root = ts.root();
    let root_area = footprint_area(&h.twin, &root.features());
    assert!(!root.is_blocks());
    assert_eq!(
        root.children.len(),
        1,
        "the root's one child is its block tile"
    );
    let bt = &ts.tiles()[root.children[0]];
    assert!(bt.is_blocks(), "{}", bt.id);
    assert_eq!(bt.refine, tiles::Refine::Replace);
    assert!(bt.geometric_error < root.geometric_error);
    // Before: the root and the quadtree's level 1 (the block tile's children).
    let level1: Vec<u32> = bt
        .children
        .iter()
        .flat_map(|&c| ts.tiles()[c].features())
        .collect();
    let before = (root_area + footprint_area(&h.twin, &level1)) / total;
    let after = (root_area + footprint_area(&h.twin, &bt.features())) / total;
    eprintln!(
        "opening view: share of the city's footprint area {:.1} % before (root + level 1), {:.1} % with the root's blocks; {} blocks for {} buildings",
        before * 100.0,
        after * 100.0,
        bt.count,
        bt.features().len()
    );
    assert!(after > before, "{after} <= {before}");
    assert!((after - 1.0).abs() < 1e-9, "{after}");
    // The blocks' hulls over the ground they stand for: against the buildings' own footprint
    // area (the hulls overstate it) and against their convex hulls (which overstated it more in
    // sparse cells); and the share of the footprint area inside its block's hull.
    let (mut hull_area, mut convex_area, mut fp_area, mut inside) = (0.0, 0.0, 0.0, 0.0);
    for g in bt.block_groups() {
        let Some(bl) = tiles::block_of(&h.twin, &g) else {
            continue;
        };
        hull_area += bl.hull.unsigned_area();
        let mut corners = Vec::new();
        for &i in &g {
            let b = h.twin.buildings.get(i as usize).unwrap();
            fp_area += b.footprint.unsigned_area();
            inside += b.footprint.intersection(&bl.hull).unsigned_area();
            corners.extend(b.footprint.0.iter().cloned());
        }
        convex_area += MultiPolygon(corners).convex_hull().unsigned_area();
    }
    eprintln!(
        "root blocks: hulls {:.2} km² (convex hulls {:.2} km²) over {:.3} km² of footprints, {:.1} % of it inside its hull",
        hull_area / 1e6,
        convex_area / 1e6,
        fp_area / 1e6,
        100.0 * inside / fp_area
    );
    // Measured: 13.61 km² against 21.01 km² convex, 94.9 % inside (concavity 2, 20 m edges).
    assert!(
        hull_area < 0.7 * convex_area,
        "{hull_area} vs {convex_area}"
    );
    assert!(inside > 0.93 * fp_area, "{inside} of {fp_area}");
    // Every block tile stands for exactly the features of its descendants.
    fn below(ts: &Tileset, i: usize, out: &mut Vec<u32>) {
        for &c in &ts.tiles()[i].children {
            out.extend(
                ts.tiles()[c]
                    .features()
                    .iter()
                    .filter(|_| !ts.tiles()[c].is_blocks()),
            );
            below(ts, c, out);
        }
    }
    let mut blocks = 0;
    for (i, t) in ts.tiles().iter().enumerate() {
        if !t.is_blocks() {
            continue;
        }
        blocks += 1;
        let mut want = Vec::new();
        below(&ts, i, &mut want);
        want.sort_unstable();
        let mut got = t.features();
        got.sort_unstable();
        assert_eq!(got, want, "{}", t.id);
        let parent = &ts.tiles()[t.parent.unwrap()];
        assert!(t.geometric_error <= parent.geometric_error, "{}", t.id);
        assert!(
            t.count <= h.opts.max_features,
            "{}: {} blocks",
            t.id,
            t.count
        );
    }
    assert!(blocks >= 2, "{blocks} block tiles");
    // The exported block tile: one `block` feature per block, building counts adding up.
    let g = Glb::read(&h.out.join(format!("buildings/{}.glb", bt.id)));
    let tables = g.property_tables();
    assert_eq!(tables[0]["class"], "block");
    assert_eq!(tables[0]["count"].as_u64().unwrap() as usize, bt.count);
    let blocks_json: Vec<String> = g.strings(0, "block");
    assert_eq!(blocks_json.len(), bt.count);
    assert!(blocks_json.iter().all(|b| b.starts_with("b0/0/0#")));
    // A run's results leave block tiles as they are (they have no results columns).
    let mut bytes = std::fs::read(h.out.join(format!("buildings/{}.glb", bt.id))).unwrap();
    let before_patch = bytes.clone();
    assert_eq!(results::patch_results(&mut bytes, |_| None).unwrap(), 0);
    assert_eq!(bytes, before_patch);
    let heights = g.floats(0, "height");
    let tallest = h
        .twin
        .buildings
        .features()
        .iter()
        .map(|b| b.height)
        .fold(0.0, f64::max);
    assert!(
        heights
            .iter()
            .all(|&m| m > 0.0 && f64::from(m) <= tallest + 1e-3),
        "{heights:?}"
    );
    if let Some(v) = tiles_validator() {
        let r = validate_tileset(&v, &h.out.join("buildings/tileset.json"));
        assert_eq!(r["numErrors"], 0, "{r:#}");
    } else {
        eprintln!("3d-tiles-validator not built: skipped");
    }
}
