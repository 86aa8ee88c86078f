//! `testkit`: helpers shared by the integration tests of `tiles3d`, `tile-server` and
//! `twin-cli` (never a dependency of shipped code).
//!
//! A .glb reader written from the glTF spec (independent of the writer, plain serde_json and
//! byte slicing), the Khronos validator through node, a structural check of a whole tileset
//! that walks the tree through the full transform chain and converts every vertex to
//! lon/lat/height with PROJ, the paths of the repository and the shared data, small twins, and
//! a runner for the project's binaries.

pub mod services;

use geo_types::{LineString, MultiPolygon, Polygon};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use twin_core::crs::Transform;

/// A small twin folder in `dir`: a 40 × 30 tilted valley DEM of 10 m cells (UTM 48N) written
/// straight into the store.
pub fn valley_twin(dir: &Path) {
    use twin_core::model::Dem;
    use twin_core::model::Imported;
    use twin_core::store::Store;
    use twin_core::{Crs, TwinConfig};
    let crs = Crs::epsg(32648).unwrap();
    TwinConfig::new("cli valley", &crs).save(dir).unwrap();
    let (nx, ny, dx) = (40usize, 30usize, 10.0);
    let mut values = Vec::new();
    for r in 0..ny {
        for c in 0..nx {
            let d = (r as f64 - 15.0).abs() * dx;
            values.push(Some((0.02 * d + 0.001 * c as f64 * dx) as f32));
        }
    }
    let dem = Dem {
        name: "valley".into(),
        ncols: nx,
        nrows: ny,
        xmin: 745_000.0,
        ymax: 1_820_000.0,
        cell_x: dx,
        cell_y: dx,
        values,
    };
    let mut store = Store::open_or_create(&dir.join("twin.gpkg"), &crs).unwrap();
    store
        .write(&Imported {
            dems: vec![dem],
            ..Default::default()
        })
        .unwrap();
}

/// Run a binary (a test's `env!("CARGO_BIN_EXE_<name>")`) with `args`.
pub fn run(bin: &str, args: &[&str]) -> Output {
    Command::new(bin).args(args).output().unwrap()
}

/// A command's stdout and stderr together, for messages and checks.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A copy of the sample twin's sources (`data/hue`: no store, cache or runs) in `to`.
pub fn copy_sample_twin(to: &Path) {
    twin_core::TwinDir::open(&repo().join("data/hue"))
        .unwrap()
        .copy_without_store(to)
        .unwrap();
}

/// A file or folder of the shared test data (`../shared/data` beside the repository).
pub fn shared(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(rel)
}

/// A parsed .glb.
pub struct Glb {
    /// The JSON chunk.
    pub json: Value,
    /// The BIN chunk.
    pub bin: Vec<u8>,
}

fn u32_at(b: &[u8], o: usize) -> usize {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]) as usize
}

impl Glb {
    /// Parse a .glb (panics on a malformed one: tests only).
    pub fn parse(bytes: &[u8]) -> Glb {
        assert_eq!(&bytes[0..4], b"glTF", "magic");
        assert_eq!(u32_at(bytes, 4), 2, "version");
        assert_eq!(u32_at(bytes, 8), bytes.len(), "header length = file length");
        let jl = u32_at(bytes, 12);
        assert_eq!(&bytes[16..20], b"JSON");
        assert_eq!(jl % 4, 0, "JSON chunk padded to 4 bytes");
        let json: Value = serde_json::from_slice(&bytes[20..20 + jl]).expect("JSON chunk");
        let mut bin = Vec::new();
        let b = 20 + jl;
        if b < bytes.len() {
            let bl = u32_at(bytes, b);
            assert_eq!(&bytes[b + 4..b + 8], b"BIN\0");
            assert_eq!(bl % 4, 0, "BIN chunk padded to 4 bytes");
            assert_eq!(b + 8 + bl, bytes.len(), "BIN chunk ends the file");
            bin = bytes[b + 8..b + 8 + bl].to_vec();
        }
        Glb { json, bin }
    }

    /// Read and parse a .glb file.
    pub fn read(path: &Path) -> Glb {
        Glb::parse(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
    }

    fn view_bytes(&self, view: usize) -> (std::borrow::Cow<'_, [u8]>, Option<usize>) {
        let v = &self.json["bufferViews"][view];
        let stride = v["byteStride"].as_u64().map(|s| s as usize);
        let len = v["byteLength"].as_u64().unwrap() as usize;
        if let Some(m) = v["extensions"].get("EXT_meshopt_compression") {
            return (
                std::borrow::Cow::Owned(decode_meshopt(m, &self.bin, len)),
                stride,
            );
        }
        assert_eq!(v["buffer"], 0);
        let off = v["byteOffset"].as_u64().unwrap_or(0) as usize;
        assert_eq!(off % 4, 0, "bufferView {view} 4-byte aligned");
        assert!(
            off + len <= self.bin.len(),
            "bufferView {view} inside the buffer"
        );
        (
            std::borrow::Cow::Borrowed(&self.bin[off..off + len]),
            stride,
        )
    }

    /// Whether a buffer view is meshopt-compressed.
    pub fn is_compressed(&self, view: usize) -> bool {
        self.json["bufferViews"][view]["extensions"]
            .get("EXT_meshopt_compression")
            .is_some()
    }

    /// The node transform of mesh 0 as (translation, scale): ([0; 3], [1; 3]) without one.
    /// Compact tiles dequantize positions with it; nothing else is allowed on a node.
    pub fn node_transform(&self) -> ([f64; 3], [f64; 3]) {
        let nodes = self.json["nodes"].as_array().cloned().unwrap_or_default();
        let Some(n) = nodes.iter().find(|n| n["mesh"] == 0) else {
            return ([0.0; 3], [1.0; 3]);
        };
        for k in ["matrix", "rotation"] {
            assert!(n.get(k).is_none(), "nodes carry no {k}");
        }
        let three = |k: &str, default: f64| {
            n.get(k)
                .map(|t| [0, 1, 2].map(|i| t[i].as_f64().unwrap()))
                .unwrap_or([default; 3])
        };
        (three("translation", 0.0), three("scale", 1.0))
    }

    /// Normals of primitive `prim` of mesh 0 in the glTF frame: NORMAL through the inverse
    /// transpose of the node's scale, renormalized.
    pub fn normals(&self, prim: &Value) -> Vec<[f64; 3]> {
        let (_, s) = self.node_transform();
        self.accessor(prim["attributes"]["NORMAL"].as_u64().unwrap() as usize)
            .into_iter()
            .map(|n| {
                let m = [0, 1, 2].map(|i| n[i] / s[i]);
                let l = (m[0] * m[0] + m[1] * m[1] + m[2] * m[2]).sqrt();
                m.map(|c| c / l)
            })
            .collect()
    }

    /// The positions of primitive `prim` of mesh 0 in the glTF frame: POSITION through the
    /// node's dequantizing transform.
    pub fn positions(&self, prim: &Value) -> Vec<[f64; 3]> {
        let (t, s) = self.node_transform();
        self.accessor(prim["attributes"]["POSITION"].as_u64().unwrap() as usize)
            .into_iter()
            .map(|p| [0, 1, 2].map(|i| t[i] + s[i] * p[i]))
            .collect()
    }

    /// An accessor's elements as f64 (normalized integers scaled to 0..1).
    pub fn accessor(&self, idx: usize) -> Vec<Vec<f64>> {
        let a = &self.json["accessors"][idx];
        let count = a["count"].as_u64().unwrap() as usize;
        let comps = match a["type"].as_str().unwrap() {
            "SCALAR" => 1,
            "VEC2" => 2,
            "VEC3" => 3,
            "VEC4" => 4,
            t => panic!("type {t}"),
        };
        let ct = a["componentType"].as_u64().unwrap();
        let size = match ct {
            5120 | 5121 => 1,
            5122 | 5123 => 2,
            5125 | 5126 => 4,
            _ => panic!("componentType {ct}"),
        };
        let norm = a["normalized"].as_bool().unwrap_or(false);
        let (bytes, stride) = self.view_bytes(a["bufferView"].as_u64().unwrap() as usize);
        let off = a["byteOffset"].as_u64().unwrap_or(0) as usize;
        let stride = stride.unwrap_or(comps * size);
        assert!(
            off + (count - 1) * stride + comps * size <= bytes.len(),
            "accessor {idx} fits its view"
        );
        (0..count)
            .map(|i| {
                (0..comps)
                    .map(|c| {
                        let o = off + i * stride + c * size;
                        let b = &bytes[o..o + size];
                        match ct {
                            5120 => {
                                let v = b[0] as i8 as f64;
                                if norm {
                                    (v / 127.0).max(-1.0)
                                } else {
                                    v
                                }
                            }
                            5122 => {
                                let v = i16::from_le_bytes([b[0], b[1]]) as f64;
                                if norm {
                                    (v / 32767.0).max(-1.0)
                                } else {
                                    v
                                }
                            }
                            5121 => {
                                let v = b[0] as f64;
                                if norm {
                                    v / 255.0
                                } else {
                                    v
                                }
                            }
                            5123 => {
                                let v = u16::from_le_bytes([b[0], b[1]]) as f64;
                                if norm {
                                    v / 65535.0
                                } else {
                                    v
                                }
                            }
                            5125 => u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
                            5126 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
                            _ => unreachable!(),
                        }
                    })
                    .collect()
            })
            .collect()
    }

    /// Every mesh primitive.
    pub fn primitives(&self) -> Vec<Value> {
        self.json["meshes"]
            .as_array()
            .map(|ms| {
                ms.iter()
                    .flat_map(|m| m["primitives"].as_array().cloned().unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The EXT_structural_metadata property tables.
    pub fn property_tables(&self) -> Vec<Value> {
        self.json["extensions"]["EXT_structural_metadata"]["propertyTables"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// A STRING column of a property table; a column left out reads as its noData, "" (the
    /// writer leaves out optional columns whose strings are all empty).
    pub fn strings(&self, table: usize, prop: &str) -> Vec<String> {
        let t = &self.property_tables()[table];
        let n = t["count"].as_u64().unwrap() as usize;
        let p = &t["properties"][prop];
        if p.is_null() {
            return vec![String::new(); n];
        }
        let (vals, _) = self.view_bytes(p["values"].as_u64().unwrap() as usize);
        let (offs, _) = self.view_bytes(p["stringOffsets"].as_u64().unwrap() as usize);
        assert_eq!(p["stringOffsetType"].as_str().unwrap_or("UINT32"), "UINT32");
        (0..n)
            .map(|i| {
                let (a, b) = (u32_at(&offs, i * 4), u32_at(&offs, i * 4 + 4));
                String::from_utf8(vals[a..b].to_vec()).unwrap()
            })
            .collect()
    }

    /// The 3D Tiles length rules of every property table column (the official validator's
    /// METADATA_INVALID_LENGTH): a STRING's last string offset equals its values' byte length
    /// and there is one more offset than rows; an array's last array offset equals its element
    /// count; a fixed-size SCALAR column holds `count` values exactly. Returns the columns
    /// checked.
    pub fn check_metadata_lengths(&self) -> usize {
        let schema = &self.json["extensions"]["EXT_structural_metadata"]["schema"];
        let mut checked = 0;
        for (ti, t) in self.property_tables().iter().enumerate() {
            let n = t["count"].as_u64().unwrap() as usize;
            let class = &schema["classes"][t["class"].as_str().unwrap()];
            for (name, p) in t["properties"].as_object().unwrap() {
                let def = &class["properties"][name];
                let at = format!("property table {ti} column {name}");
                let (vals, _) = self.view_bytes(p["values"].as_u64().unwrap() as usize);
                let last_offset = |key: &str| {
                    let (offs, _) = self.view_bytes(p[key].as_u64().unwrap() as usize);
                    assert_eq!(offs.len(), (n + 1) * 4, "{at}: {key} count");
                    u32_at(&offs, n * 4)
                };
                if def["type"] == "STRING" {
                    assert_eq!(
                        last_offset("stringOffsets"),
                        vals.len(),
                        "{at}: last string offset"
                    );
                } else {
                    let size = match def["componentType"].as_str().unwrap() {
                        "UINT8" | "INT8" => 1,
                        "UINT16" | "INT16" => 2,
                        "UINT32" | "INT32" | "FLOAT32" => 4,
                        _ => 8,
                    };
                    let elements = if def["array"] == true {
                        last_offset("arrayOffsets")
                    } else {
                        n
                    };
                    assert_eq!(vals.len(), elements * size, "{at}: values byte length");
                }
                checked += 1;
            }
        }
        checked
    }

    /// A FLOAT32 column of a property table.
    pub fn floats(&self, table: usize, prop: &str) -> Vec<f32> {
        let t = &self.property_tables()[table];
        let n = t["count"].as_u64().unwrap() as usize;
        let p = &t["properties"][prop];
        let (vals, _) = self.view_bytes(p["values"].as_u64().unwrap() as usize);
        (0..n)
            .map(|i| {
                f32::from_le_bytes([
                    vals[i * 4],
                    vals[i * 4 + 1],
                    vals[i * 4 + 2],
                    vals[i * 4 + 3],
                ])
            })
            .collect()
    }
}

/// Decode an EXT_meshopt_compression buffer view (`ext`, the view's extension object) from
/// the BIN chunk with meshoptimizer's decoders: `len` bytes.
fn decode_meshopt(ext: &Value, bin: &[u8], len: usize) -> Vec<u8> {
    assert_eq!(ext["buffer"], 0, "compressed data in the BIN chunk");
    let off = ext["byteOffset"].as_u64().unwrap_or(0) as usize;
    let n = ext["byteLength"].as_u64().unwrap() as usize;
    let stride = ext["byteStride"].as_u64().unwrap() as usize;
    let count = ext["count"].as_u64().unwrap() as usize;
    assert_eq!(
        count * stride,
        len,
        "count x byteStride = the view's byteLength"
    );
    assert!(ext.get("filter").is_none() || ext["filter"] == "NONE");
    let data = &bin[off..off + n];
    macro_rules! attrs {
        ($n:literal) => {{
            assert_eq!(
                meshopt::decode_vertex_version(data),
                Some(0),
                "vertex codec version 0"
            );
            let v: Vec<[u8; $n]> =
                meshopt::decode_vertex_buffer(data, count).expect("meshopt vertex data");
            v.concat()
        }};
    }
    match (ext["mode"].as_str().unwrap(), stride) {
        ("ATTRIBUTES", 4) => attrs!(4),
        ("ATTRIBUTES", 8) => attrs!(8),
        ("ATTRIBUTES", 12) => attrs!(12),
        ("ATTRIBUTES", 16) => attrs!(16),
        ("TRIANGLES", 2) => {
            let v: Vec<u16> = meshopt::decode_index_buffer(data, count).expect("meshopt indices");
            v.iter().flat_map(|i| i.to_le_bytes()).collect()
        }
        ("TRIANGLES", 4) => {
            let v: Vec<u32> = meshopt::decode_index_buffer(data, count).expect("meshopt indices");
            v.iter().flat_map(|i| i.to_le_bytes()).collect()
        }
        (m, s) => panic!("meshopt mode {m} with stride {s}"),
    }
}

/// Run the Khronos glTF validator (npm gltf-validator, tools/validate-gltf.mjs) on paths.
pub fn validate(paths: &[&Path]) -> Value {
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools");
    assert!(
        tools.join("node_modules/gltf-validator").exists(),
        "the glTF validator is not installed: run `npm ci --prefix tools` (scripts/setup.sh --test does)"
    );
    let out = Command::new("node")
        .arg(tools.join("validate-gltf.mjs"))
        .args(paths)
        .output()
        .expect("node (Node.js 18+) must be on PATH");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "validator output is not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    v
}

/// Assert the validator finds no error in any .glb under `dir`; returns the number of files.
pub fn assert_valid_gltf(dir: &Path) -> usize {
    let v = validate(&[dir]);
    let bad: Vec<&Value> = v["reports"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["errors"].as_u64() != Some(0))
        .collect();
    assert_eq!(v["errors"], 0, "glTF validator errors: {bad:#?}");
    v["files"].as_u64().unwrap() as usize
}

type Mat = [f64; 16];

fn mul(a: &Mat, b: &Mat) -> Mat {
    let mut m = [0.0; 16];
    for c in 0..4 {
        for r in 0..4 {
            m[c * 4 + r] = (0..4).map(|k| a[k * 4 + r] * b[c * 4 + k]).sum();
        }
    }
    m
}

fn apply(m: &Mat, p: [f64; 3]) -> [f64; 3] {
    let mut o = [0.0; 3];
    for (r, v) in o.iter_mut().enumerate() {
        *v = m[r] * p[0] + m[4 + r] * p[1] + m[8 + r] * p[2] + m[12 + r];
    }
    o
}

const IDENTITY: Mat = [
    1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0,
];

/// One vertex read back: lon/lat (degrees), ellipsoidal height, and its feature's id when the
/// tile has a feature table.
#[derive(Clone, Debug)]
pub struct Vertex {
    /// Longitude (degrees).
    pub lon: f64,
    /// Latitude (degrees).
    pub lat: f64,
    /// Ellipsoidal height (m).
    pub h: f64,
    /// The feature id.
    pub feature: Option<String>,
}

/// One glb of a walk.
#[derive(Clone, Debug)]
pub struct GlbInfo {
    /// The file.
    pub path: PathBuf,
    /// Its tile's geometric error.
    pub geometric_error: f64,
    /// True for a leaf tile.
    pub leaf: bool,
    /// Triangles.
    pub triangles: usize,
    /// Points.
    pub points: usize,
    /// Index of its first vertex in [`Walk::vertices`].
    pub first_vertex: usize,
    /// Its vertices.
    pub vertices: usize,
}

/// What a tileset holds, read back.
#[derive(Default, Debug)]
pub struct Walk {
    /// One per glb.
    pub infos: Vec<GlbInfo>,
    /// Tiles of the tree.
    pub tiles: usize,
    /// The glb files referenced.
    pub glbs: Vec<PathBuf>,
    /// Every vertex, in lon/lat/height.
    pub vertices: Vec<Vertex>,
    /// Feature id → number of tiles it appears in.
    pub features: BTreeMap<String, usize>,
    /// Points in all.
    pub points: usize,
    /// Triangles in all.
    pub triangles: usize,
    /// Largest depth of the tree.
    pub depth: usize,
    /// Refinement seen per tile.
    pub refines: BTreeSet<String>,
    /// For an implicit tileset: what its subtrees say.
    pub implicit: Option<ImplicitTree>,
    /// Every subtree file read, the walked tileset's and its external tilesets'.
    pub subtrees: BTreeSet<PathBuf>,
}

/// An implicit tileset (3D Tiles 1.1 `implicitTiling`, QUADTREE) read back from its subtree
/// files with a decoder written from the spec, independent of the writer.
#[derive(Default, Debug, Clone)]
pub struct ImplicitTree {
    /// Available tiles, (level, x, y).
    pub tiles: BTreeSet<(u32, u32, u32)>,
    /// Tiles whose content is available.
    pub content: BTreeSet<(u32, u32, u32)>,
    /// Subtree files read.
    pub subtrees: BTreeSet<PathBuf>,
    /// `availableLevels`.
    pub available_levels: u32,
}

/// x and y of a quadtree Morton index (x in bits 0, 2, 4...; y in bits 1, 3, 5...).
fn morton_xy(m: u64) -> (u32, u32) {
    let (mut x, mut y) = (0u32, 0u32);
    for b in 0..32 {
        x |= (((m >> (2 * b)) & 1) as u32) << b;
        y |= (((m >> (2 * b + 1)) & 1) as u32) << b;
    }
    (x, y)
}

fn fill(template: &str, (l, x, y): (u32, u32, u32)) -> String {
    template
        .replace("{level}", &l.to_string())
        .replace("{x}", &x.to_string())
        .replace("{y}", &y.to_string())
}

/// One availability of a subtree as bits: a constant, or a bitstream of the internal buffer
/// whose `availableCount` (when given) must match.
fn availability(av: &Value, json: &Value, bin: &[u8], n: usize) -> Vec<bool> {
    if let Some(c) = av.get("constant") {
        let c = c.as_u64().expect("constant 0 or 1");
        assert!(c <= 1, "availability constant {c}");
        return vec![c == 1; n];
    }
    let view = &json["bufferViews"][av["bitstream"].as_u64().expect("bitstream") as usize];
    assert_eq!(view["buffer"], 0, "the subtree's own binary buffer");
    assert!(json["buffers"][0].get("uri").is_none(), "internal buffer");
    let off = view["byteOffset"].as_u64().unwrap_or(0) as usize;
    let len = view["byteLength"].as_u64().unwrap() as usize;
    assert_eq!(off % 8, 0, "bufferViews start 8-byte aligned");
    assert!(len >= n.div_ceil(8), "bitstream long enough for {n} bits");
    let bytes = &bin[off..off + len];
    let bits: Vec<bool> = (0..n).map(|i| bytes[i / 8] >> (i % 8) & 1 == 1).collect();
    if let Some(c) = av.get("availableCount") {
        assert_eq!(
            c.as_u64().unwrap() as usize,
            bits.iter().filter(|b| **b).count(),
            "availableCount"
        );
    }
    bits
}

/// Read every subtree of an implicit root tile (`dir` holds its tileset.json): available tiles
/// and contents, checking the subtree rules on the way (a subtree's root tile is available,
/// every available tile's parent is, content only on available tiles, nothing at or below
/// `availableLevels`).
pub fn read_implicit(root: &Value, dir: &Path) -> ImplicitTree {
    let it = &root["implicitTiling"];
    assert_eq!(it["subdivisionScheme"], "QUADTREE");
    let s = it["subtreeLevels"].as_u64().unwrap() as u32;
    let levels = it["availableLevels"].as_u64().unwrap() as u32;
    let template = it["subtrees"]["uri"].as_str().unwrap();
    let mut t = ImplicitTree {
        available_levels: levels,
        ..Default::default()
    };
    let mut todo = vec![(0u32, 0u32, 0u32)];
    while let Some((level, x, y)) = todo.pop() {
        let path = dir.join(fill(template, (level, x, y)));
        let b = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(&b[..4], b"subt", "{}: magic", path.display());
        assert_eq!(u32::from_le_bytes(b[4..8].try_into().unwrap()), 1);
        let jl = u64::from_le_bytes(b[8..16].try_into().unwrap()) as usize;
        let bl = u64::from_le_bytes(b[16..24].try_into().unwrap()) as usize;
        assert_eq!(b.len(), 24 + jl + bl, "{}: lengths", path.display());
        assert_eq!(jl % 8, 0, "JSON chunk padded to 8 bytes");
        let json: Value = serde_json::from_slice(&b[24..24 + jl]).unwrap();
        let bin = &b[24 + jl..];
        let n_tiles = ((1u64 << (2 * s)) - 1) as usize / 3;
        let tiles = availability(&json["tileAvailability"], &json, bin, n_tiles);
        let contents = json["contentAvailability"]
            .as_array()
            .expect("contentAvailability");
        assert_eq!(contents.len(), 1, "one content per tile");
        let content = availability(&contents[0], &json, bin, n_tiles);
        let children = availability(
            &json["childSubtreeAvailability"],
            &json,
            bin,
            1usize << (2 * s),
        );
        assert!(
            tiles[0],
            "{}: the subtree's root tile is available",
            path.display()
        );
        let mut i = 0;
        for l in 0..s {
            for m in 0..(1u64 << (2 * l)) {
                let (dx, dy) = morton_xy(m);
                let key = (level + l, (x << l) + dx, (y << l) + dy);
                if tiles[i] {
                    assert!(
                        key.0 < levels,
                        "tile {key:?} below availableLevels {levels}"
                    );
                    if key.0 > 0 {
                        assert!(
                            t.tiles.contains(&(key.0 - 1, key.1 / 2, key.2 / 2)),
                            "parent of {key:?} available"
                        );
                    }
                    t.tiles.insert(key);
                }
                if content[i] {
                    assert!(tiles[i], "content of {key:?} on an available tile");
                    t.content.insert(key);
                }
                i += 1;
            }
        }
        for (m, &c) in children.iter().enumerate() {
            if c {
                let (dx, dy) = morton_xy(m as u64);
                let key = (level + s, (x << s) + dx, (y << s) + dy);
                assert!(
                    t.tiles.contains(&(key.0 - 1, key.1 / 2, key.2 / 2)),
                    "parent of child subtree {key:?} available"
                );
                todo.push(key);
            }
        }
        t.subtrees.insert(path);
    }
    t
}

/// The explicit form of an implicit root tile: every available tile with its subdivided
/// region (the root's heights), its geometric error (the root's halved per level), its content
/// URI from the template and its children; the root keeps its transform.
pub fn expand_implicit(root: &Value, t: &ImplicitTree) -> Value {
    let region: [f64; 6] = serde_json::from_value(root["boundingVolume"]["region"].clone())
        .expect("implicit root region");
    let ge = root["geometricError"].as_f64().unwrap();
    let template = root["content"]["uri"].as_str().unwrap();
    fn tile(
        key: (u32, u32, u32),
        region: &[f64; 6],
        ge: f64,
        template: &str,
        t: &ImplicitTree,
    ) -> Value {
        let (l, x, y) = key;
        let n = (1u64 << l) as f64;
        let (sx, sy) = ((region[2] - region[0]) / n, (region[3] - region[1]) / n);
        let mut v = serde_json::json!({
            "boundingVolume": {"region": [
                region[0] + sx * x as f64, region[1] + sy * y as f64,
                region[0] + sx * (x as f64 + 1.0), region[1] + sy * (y as f64 + 1.0),
                region[4], region[5]]},
            "geometricError": ge / n,
            "refine": "ADD",
        });
        if t.content.contains(&key) {
            v["content"] = serde_json::json!({"uri": fill(template, key)});
        }
        let children: Vec<Value> = (0..4u32)
            .map(|q| (l + 1, 2 * x + (q & 1), 2 * y + (q >> 1)))
            .filter(|k| t.tiles.contains(k))
            .map(|k| tile(k, region, ge, template, t))
            .collect();
        if !children.is_empty() {
            v["children"] = Value::Array(children);
        }
        v
    }
    let mut v = tile((0, 0, 0), &region, ge, template, t);
    v["refine"] = root["refine"].clone();
    if let Some(m) = root.get("transform") {
        v["transform"] = m.clone();
    }
    v
}

/// Walk a tileset.json (an implicit one through [`read_implicit`] and [`expand_implicit`]):
/// every tile has `refine`, geometric error never grows from parent to
/// child, every content URI resolves, and every vertex of every glb, taken through the y-up to
/// z-up rotation and the chain of tile transforms to ECEF and then through PROJ to lon/lat/h,
/// lies inside its tile's region and every ancestor's.
pub fn walk_tileset(path: &Path) -> Walk {
    let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(v["asset"]["version"], "1.1");
    let ge = v["geometricError"].as_f64().expect("geometricError");
    let mut w = Walk::default();
    let ecef_to_geo = Transform::between("EPSG:4978", "EPSG:4979").unwrap();
    let (root, implicit) = explicit_root(&v["root"], path.parent().unwrap(), &mut w);
    w.implicit = implicit;
    visit(
        &root,
        path.parent().unwrap(),
        &IDENTITY,
        &[],
        ge,
        1,
        &ecef_to_geo,
        &mut w,
    );
    w
}

/// A tileset's root as an explicit tree: an implicit root expanded (its subtrees added to
/// the walk's), an explicit one as it is.
fn explicit_root(root: &Value, dir: &Path, w: &mut Walk) -> (Value, Option<ImplicitTree>) {
    if root.get("implicitTiling").is_none() {
        return (root.clone(), None);
    }
    let t = read_implicit(root, dir);
    w.subtrees.extend(t.subtrees.iter().cloned());
    (expand_implicit(root, &t), Some(t))
}

#[allow(clippy::too_many_arguments)]
fn visit(
    t: &Value,
    dir: &Path,
    parent: &Mat,
    regions: &[[f64; 6]],
    parent_ge: f64,
    depth: usize,
    proj: &Transform,
    w: &mut Walk,
) {
    w.tiles += 1;
    w.depth = w.depth.max(depth);
    let ge = t["geometricError"].as_f64().expect("tile geometricError");
    assert!(
        ge >= 0.0 && ge <= parent_ge,
        "geometric error grows: {ge} > {parent_ge}"
    );
    let is_external = t["content"]["uri"]
        .as_str()
        .is_some_and(|u| u.ends_with(".json"));
    if !is_external {
        let r = t["refine"].as_str().expect("every tile sets refine");
        assert!(r == "ADD" || r == "REPLACE", "refine {r}");
        w.refines.insert(r.to_string());
    }
    let region: [f64; 6] = serde_json::from_value(t["boundingVolume"]["region"].clone())
        .expect("region bounding volume");
    assert!(region[0] <= region[2] && region[1] <= region[3] && region[4] <= region[5]);
    let mut chain = regions.to_vec();
    chain.push(region);
    let world = match t.get("transform") {
        Some(m) => {
            let m: Mat = serde_json::from_value(m.clone()).unwrap();
            mul(parent, &m)
        }
        None => *parent,
    };
    if let Some(uri) = t["content"]["uri"].as_str() {
        let p = dir.join(uri);
        assert!(p.exists(), "content URI {uri} resolves ({})", p.display());
        if is_external {
            assert!(
                t.get("children").is_none(),
                "a tile with an external tileset has no children"
            );
            let sub: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            assert_eq!(sub["asset"]["version"], "1.1");
            let (sub_root, _) = explicit_root(&sub["root"], p.parent().unwrap(), w);
            visit(
                &sub_root,
                p.parent().unwrap(),
                &world,
                &chain,
                ge,
                depth + 1,
                proj,
                w,
            );
        } else {
            let (v0, t0, p0) = (w.vertices.len(), w.triangles, w.points);
            check_glb(&p, &world, &chain, proj, w);
            w.infos.push(GlbInfo {
                path: p.clone(),
                geometric_error: ge,
                leaf: t.get("children").is_none(),
                triangles: w.triangles - t0,
                points: w.points - p0,
                first_vertex: v0,
                vertices: w.vertices.len() - v0,
            });
        }
    }
    if let Some(children) = t["children"].as_array() {
        assert!(!children.is_empty());
        for c in children {
            visit(c, dir, &world, &chain, ge, depth + 1, proj, w);
        }
    }
}

fn check_glb(file: &Path, world: &Mat, regions: &[[f64; 6]], proj: &Transform, w: &mut Walk) {
    let g = Glb::read(file);
    w.glbs.push(file.to_path_buf());
    assert_eq!(g.json["asset"]["version"], "2.0");
    // Only compact tiles' dequantizing translation and uniform scale; half a quantization step
    // is how far a vertex may move from where it was planned.
    let (_, step) = g.node_transform();
    let slack_m = if g.json["extensionsUsed"]
        .as_array()
        .is_some_and(|e| e.iter().any(|x| x == "KHR_mesh_quantization"))
    {
        step.iter().fold(0.0f64, |a, &b| a.max(b)) / 2.0 + 1e-6
    } else {
        assert_eq!(
            g.node_transform(),
            ([0.0; 3], [1.0; 3]),
            "nodes carry no transform"
        );
        0.0
    };
    let slack_rad = slack_m / 6.35e6;
    let tables = g.property_tables();
    let ids: Option<Vec<String>> = tables
        .iter()
        .position(|t| t["class"] == "building" || t["class"] == "heritage")
        .map(|i| g.strings(i, "id"));
    if let Some(ids) = &ids {
        for id in ids {
            *w.features.entry(id.clone()).or_default() += 1;
        }
    }
    for prim in g.primitives() {
        let attrs = &prim["attributes"];
        let pos_idx = attrs["POSITION"].as_u64().unwrap() as usize;
        let pos = g.accessor(pos_idx);
        // min/max on POSITION agree with the data.
        let a = &g.json["accessors"][pos_idx];
        for c in 0..3 {
            let lo = pos.iter().map(|p| p[c]).fold(f64::INFINITY, f64::min);
            let hi = pos.iter().map(|p| p[c]).fold(f64::NEG_INFINITY, f64::max);
            assert_eq!(
                a["min"][c].as_f64().unwrap() as f32,
                lo as f32,
                "POSITION min"
            );
            assert_eq!(
                a["max"][c].as_f64().unwrap() as f32,
                hi as f32,
                "POSITION max"
            );
        }
        if let Some(n) = attrs["NORMAL"].as_u64() {
            // 8-bit normals are unit within their rounding.
            let tol = if g.json["accessors"][n as usize]["componentType"] == 5126 {
                1e-5
            } else {
                0.015
            };
            for v in g.accessor(n as usize) {
                let l = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
                assert!((l - 1.0).abs() < tol, "unit normals ({l})");
            }
        }
        let fids: Option<Vec<f64>> = attrs["_FEATURE_ID_0"]
            .as_u64()
            .map(|i| g.accessor(i as usize).into_iter().map(|v| v[0]).collect());
        if let Some(f) = &fids {
            let fs = &prim["extensions"]["EXT_mesh_features"]["featureIds"];
            let count = fs[0]["featureCount"].as_u64().unwrap() as usize;
            let table = fs[0]["propertyTable"].as_u64().unwrap() as usize;
            assert_eq!(tables[table]["count"].as_u64().unwrap() as usize, count);
            assert!(
                f.iter().all(|&x| x.fract() == 0.0 && (x as usize) < count),
                "feature ids in range"
            );
            let used: BTreeSet<usize> = f.iter().map(|&x| x as usize).collect();
            assert_eq!(used.len(), count, "every feature row has geometry");
        }
        let mode = prim["mode"].as_u64().unwrap_or(4);
        if mode == 4 {
            let ind = g.accessor(prim["indices"].as_u64().unwrap() as usize);
            assert_eq!(ind.len() % 3, 0);
            assert!(ind.iter().all(|i| (i[0] as usize) < pos.len()));
            w.triangles += ind.len() / 3;
        } else {
            assert_eq!(mode, 0, "POINTS");
            w.points += pos.len();
        }
        for (k, p) in g.positions(&prim).iter().enumerate() {
            // glTF y-up to 3D Tiles z-up, then the tile transforms.
            let z_up = [p[0], -p[2], p[1]];
            let e = apply(world, z_up);
            let (lon, lat, h) = proj.apply3(e[0], e[1], e[2]).unwrap();
            for r in regions {
                let (lr, ar) = (lon.to_radians(), lat.to_radians());
                let (sr, sm) = (slack_rad, slack_m);
                assert!(
                    lr >= r[0] - sr
                        && lr <= r[2] + sr
                        && ar >= r[1] - sr
                        && ar <= r[3] + sr
                        && h >= r[4] - sm
                        && h <= r[5] + sm,
                    "{}: vertex {k} at ({lon}, {lat}, {h}) outside region {r:?}",
                    file.display()
                );
            }
            let feature = match (&fids, &ids) {
                (Some(f), Some(ids)) => Some(ids[f[k] as usize].clone()),
                _ => None,
            };
            w.vertices.push(Vertex {
                lon,
                lat,
                h,
                feature,
            });
        }
    }
}

/// Every file under a folder whose name ends with `suffix`.
pub fn files_ending(dir: &Path, suffix: &str) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(suffix) {
                out.insert(p);
            }
        }
    }
    out
}

/// Every .glb file under a folder.
pub fn glb_files(dir: &Path) -> BTreeSet<PathBuf> {
    files_ending(dir, ".glb")
}

/// Validate and walk an exported folder: 0 validator errors, the walk's glbs are exactly the
/// files on disk.
pub fn check_export(dir: &Path) -> Walk {
    let w = walk_tileset(&dir.join("tileset.json"));
    let on_disk = glb_files(dir);
    assert_eq!(
        w.subtrees,
        files_ending(dir, ".subtree"),
        "subtree files read and on disk agree"
    );
    let walked: BTreeSet<PathBuf> = w.glbs.iter().cloned().collect();
    assert_eq!(walked.len(), w.glbs.len(), "each glb referenced once");
    assert_eq!(walked, on_disk, "tileset URIs and files on disk agree");
    let n = assert_valid_gltf(dir);
    assert_eq!(n, on_disk.len());
    for g in &on_disk {
        Glb::read(g).check_metadata_lengths();
    }
    w
}

/// An importer that other work has not landed yet answers "not implemented yet".
pub fn not_landed(e: &twin_core::TwinError) -> bool {
    e.to_string().contains("not implemented yet")
}

/// True when PROJ's EGM96 grid is installed (Debian proj-data).
pub fn have_egm96() -> bool {
    Path::new("/usr/share/proj/egm96_15.gtx").exists()
}

fn gdal_value(lon: f64, lat: f64) -> f64 {
    // Grid nodes are few: ask GDAL once per node.
    static CACHE: std::sync::Mutex<BTreeMap<(i64, i64), f64>> =
        std::sync::Mutex::new(BTreeMap::new());
    let key = ((lon * 4.0).round() as i64, (lat * 4.0).round() as i64);
    if let Some(v) = CACHE.lock().unwrap().get(&key) {
        return *v;
    }
    let o = Command::new("gdallocationinfo")
        .args([
            "-valonly",
            "-wgs84",
            "/usr/share/proj/egm96_15.gtx",
            &lon.to_string(),
            &lat.to_string(),
        ])
        .output()
        .expect("gdallocationinfo (gdal-bin)");
    let v: f64 = String::from_utf8_lossy(&o.stdout).trim().parse().unwrap();
    CACHE.lock().unwrap().insert(key, v);
    v
}

/// EGM96 N by bilinear interpolation of the four grid nodes around (lon, lat), each node read by
/// GDAL (the 15' grid has its pixel centres on the nodes).
pub fn egm96_by_gdal(lon: f64, lat: f64) -> f64 {
    let (x0, y0) = ((lon / 0.25).floor() * 0.25, (lat / 0.25).floor() * 0.25);
    let (tx, ty) = ((lon - x0) / 0.25, (lat - y0) / 0.25);
    let v00 = gdal_value(x0, y0);
    let v10 = gdal_value(x0 + 0.25, y0);
    let v01 = gdal_value(x0, y0 + 0.25);
    let v11 = gdal_value(x0 + 0.25, y0 + 0.25);
    (v00 * (1.0 - tx) + v10 * tx) * (1.0 - ty) + (v01 * (1.0 - tx) + v11 * tx) * ty
}

/// A deterministic generator (64-bit LCG).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn closed_ring(pts: &[(f64, f64)]) -> LineString<f64> {
    let mut v = pts.to_vec();
    v.push(pts[0]);
    LineString::from(v)
}

/// `n` synthetic buildings on a 25 m grid around Hue (UTM 48N, ids `syn:<i>`): rectangles of
/// 8–20 m, every 10th an L, every 50th a courtyard, 3–30 m high (deterministic).
pub fn synthetic_buildings(n: usize) -> Vec<twin_core::model::Building> {
    let side = (n as f64).sqrt().ceil() as usize;
    let (x0, y0) = (
        774_000.0 - side as f64 * 12.5,
        1_822_000.0 - side as f64 * 12.5,
    );
    let mut rng = Lcg(42);
    (0..n)
        .map(|i| {
            let (cx, cy) = (x0 + (i % side) as f64 * 25.0, y0 + (i / side) as f64 * 25.0);
            let (w, d) = (8.0 + rng.next() * 12.0, 8.0 + rng.next() * 12.0);
            let (a, b) = (cx - w / 2.0, cy - d / 2.0);
            let (c, e) = (cx + w / 2.0, cy + d / 2.0);
            let poly = if i % 50 == 0 {
                Polygon::new(
                    closed_ring(&[(a, b), (c, b), (c, e), (a, e)]),
                    vec![closed_ring(&[
                        (cx - 2.0, cy - 2.0),
                        (cx - 2.0, cy + 2.0),
                        (cx + 2.0, cy + 2.0),
                        (cx + 2.0, cy - 2.0),
                    ])],
                )
            } else if i % 10 == 0 {
                Polygon::new(
                    closed_ring(&[(a, b), (c, b), (c, cy), (cx, cy), (cx, e), (a, e)]),
                    vec![],
                )
            } else {
                Polygon::new(closed_ring(&[(a, b), (c, b), (c, e), (a, e)]), vec![])
            };
            twin_core::model::Building {
                id: format!("syn:{i}"),
                footprint: MultiPolygon(vec![poly]),
                height: 3.0 + rng.next() * 27.0,
                base_height: 0.0,
                levels: Some(1 + (i % 8) as u32),
                usage: Some("residential".into()),
                name: None,
                source_id: i.to_string(),
                height_source: twin_core::model::HeightSource::Synthetic,
                solid: None,
                attributes: Default::default(),
            }
        })
        .collect()
}

/// The official CesiumGS 3d-tiles-validator when it has been built (`VALIDATOR`, else
/// `~/.cache/3d-tiles-validator/build/main.js`; see scripts/validate_tilesets.sh); it is not on
/// npm, so tests use it only when present.
pub fn tiles_validator() -> Option<PathBuf> {
    let p = match std::env::var_os("VALIDATOR") {
        Some(v) => PathBuf::from(v),
        None => {
            PathBuf::from(std::env::var_os("HOME")?).join(".cache/3d-tiles-validator/build/main.js")
        }
    };
    p.exists().then_some(p)
}

/// Run the 3d-tiles-validator at `validator` on a tileset.json; its JSON report.
pub fn validate_tileset(validator: &Path, tileset: &Path) -> Value {
    let report = tileset.with_file_name(format!("validator-report-{}.json", std::process::id()));
    let out = Command::new("node")
        .arg(validator)
        .arg("--tilesetFile")
        .arg(tileset)
        .arg("--reportFile")
        .arg(&report)
        .output()
        .expect("node (Node.js 18+) must be on PATH");
    let v: Value = serde_json::from_slice(&std::fs::read(&report).unwrap_or_else(|e| {
        panic!(
            "no validator report ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    }))
    .unwrap();
    let _ = std::fs::remove_file(&report);
    v
}
