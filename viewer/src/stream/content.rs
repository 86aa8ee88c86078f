//! glTF 2.0 binary tile content decoded for drawing and picking: the document read as
//! `gltf-json`'s typed model, buffer views decompressed with meshoptimizer
//! (`EXT_meshopt_compression`), quantized attributes (`KHR_mesh_quantization`) widened, node
//! transforms and glTF's y-up applied, and the feature ids (`EXT_mesh_features`) and property
//! tables (`EXT_structural_metadata`) read into one attribute map per feature.

use crate::error::{Result, ViewerError};
use gltf_json::accessor::ComponentType;
use gltf_json::mesh::{Mode, Semantic};
use gltf_json::validation::Checked;
use gltf_json::Root;
use serde_json::{Map, Value};

/// The most vertices one tile may hold (larger content is refused, not drawn).
pub const MAX_TILE_VERTICES: usize = 4_000_000;
/// The most indices one tile may hold.
pub const MAX_TILE_INDICES: usize = 12_000_000;

/// One triangle primitive of a tile, in the tile's frame (3D Tiles z-up, before the tile
/// transform).
#[derive(Clone, Debug, Default)]
pub struct Primitive {
    /// Positions.
    pub positions: Vec<[f64; 3]>,
    /// Normals (unit, or zero when the content has none).
    pub normals: Vec<[f64; 3]>,
    /// Triangle indices.
    pub indices: Vec<u32>,
    /// Per vertex: the feature id (a row of `features`), when the primitive has them.
    pub feature_ids: Vec<u32>,
    /// The material's base colour, linear RGBA.
    pub colour: [f32; 4],
    /// The material blends (alpha mode BLEND).
    pub blend: bool,
}

/// A decoded tile content.
#[derive(Clone, Debug, Default)]
pub struct Content {
    /// Its triangle primitives (points and lines are skipped).
    pub primitives: Vec<Primitive>,
    /// The property table the feature ids index: its class and one attribute map per feature.
    pub class: Option<String>,
    /// One map of property → value per feature (row of the property table).
    pub features: Vec<Map<String, Value>>,
}

fn bad(what: impl std::fmt::Display) -> ViewerError {
    ViewerError::invalid("tile content", what)
}

/// The JSON and BIN chunks of a .glb.
fn split(glb: &[u8]) -> Result<(&[u8], &[u8])> {
    if glb.len() < 20 || &glb[0..4] != b"glTF" {
        return Err(bad("not a glTF binary (no glTF magic)"));
    }
    let u32_at = |o: usize| -> Result<usize> {
        glb.get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or_else(|| bad("truncated chunk header"))
    };
    let json_len = u32_at(12)?;
    if &glb[16..20] != b"JSON" || 20 + json_len > glb.len() {
        return Err(bad("first chunk is not a complete JSON chunk"));
    }
    let json = &glb[20..20 + json_len];
    let b = 20 + json_len;
    if b + 8 > glb.len() {
        return Ok((json, &[]));
    }
    let bin_len = u32_at(b)?;
    if &glb[b + 4..b + 8] != b"BIN\0" || b + 8 + bin_len > glb.len() {
        return Err(bad("second chunk is not a complete BIN chunk"));
    }
    Ok((json, &glb[b + 8..b + 8 + bin_len]))
}

/// A glb document and its BIN chunk, with buffer views decompressed on first use.
struct Doc<'a> {
    root: Root,
    bin: &'a [u8],
    views: Vec<Option<Vec<u8>>>,
}

fn field(v: &Value, k: &str) -> Result<usize> {
    v.get(k)
        .and_then(Value::as_u64)
        .map(|x| x as usize)
        .ok_or_else(|| bad(format!("EXT_meshopt_compression without {k}")))
}

/// Decode one EXT_meshopt_compression buffer view with meshoptimizer's decoders.
fn decode_meshopt(ext: &Value, bin: &[u8]) -> Result<Vec<u8>> {
    if ext.get("buffer").and_then(Value::as_u64) != Some(0) {
        return Err(bad("compressed data outside the BIN chunk"));
    }
    let off = ext.get("byteOffset").and_then(Value::as_u64).unwrap_or(0) as usize;
    let n = field(ext, "byteLength")?;
    let stride = field(ext, "byteStride")?;
    let count = field(ext, "count")?;
    if count.saturating_mul(stride) > 4 * MAX_TILE_INDICES {
        return Err(bad(format!("compressed view of {count} x {stride} bytes")));
    }
    let filter = ext.get("filter").and_then(Value::as_str).unwrap_or("NONE");
    if filter != "NONE" {
        return Err(bad(format!("meshopt filter {filter} (only NONE is read)")));
    }
    let data = bin
        .get(off..off + n)
        .ok_or_else(|| bad("compressed view outside the BIN chunk"))?;
    let mode = ext.get("mode").and_then(Value::as_str).unwrap_or("");
    let err = |e: meshopt::Error| bad(format!("meshopt {mode}: {e}"));
    macro_rules! attrs {
        ($n:literal) => {{
            let v: Vec<[u8; $n]> = meshopt::decode_vertex_buffer(data, count).map_err(err)?;
            v.concat()
        }};
    }
    Ok(match (mode, stride) {
        ("ATTRIBUTES", 4) => attrs!(4),
        ("ATTRIBUTES", 8) => attrs!(8),
        ("ATTRIBUTES", 12) => attrs!(12),
        ("ATTRIBUTES", 16) => attrs!(16),
        ("TRIANGLES" | "INDICES", 2) => {
            let v: Vec<u16> = meshopt::decode_index_buffer(data, count).map_err(err)?;
            v.iter().flat_map(|i| i.to_le_bytes()).collect()
        }
        ("TRIANGLES" | "INDICES", 4) => {
            let v: Vec<u32> = meshopt::decode_index_buffer(data, count).map_err(err)?;
            v.iter().flat_map(|i| i.to_le_bytes()).collect()
        }
        (m, s) => return Err(bad(format!("meshopt mode {m} with stride {s}"))),
    })
}

impl<'a> Doc<'a> {
    fn view(&mut self, i: usize) -> Result<&[u8]> {
        if self.views.get(i).is_none_or(Option::is_none) {
            let v = self
                .root
                .buffer_views
                .get(i)
                .ok_or_else(|| bad(format!("no buffer view {i}")))?;
            let ext = v
                .extensions
                .as_ref()
                .and_then(|e| e.others.get("EXT_meshopt_compression"));
            let bytes = match ext {
                Some(m) => decode_meshopt(m, self.bin)?,
                None => {
                    if v.buffer.value() != 0 {
                        return Err(bad(format!("buffer view {i} outside the BIN chunk")));
                    }
                    let off = v.byte_offset.map_or(0, |o| o.0 as usize);
                    let len = v.byte_length.0 as usize;
                    self.bin
                        .get(off..off + len)
                        .ok_or_else(|| bad(format!("buffer view {i} outside the BIN chunk")))?
                        .to_vec()
                }
            };
            if self.views.len() <= i {
                self.views.resize(i + 1, None);
            }
            self.views[i] = Some(bytes);
        }
        Ok(self.views[i].as_deref().unwrap_or(&[]))
    }

    /// An accessor's elements as f64 (normalized integers scaled to 0..1 or -1..1).
    fn accessor(&mut self, idx: usize) -> Result<Vec<Vec<f64>>> {
        let a = self
            .root
            .accessors
            .get(idx)
            .ok_or_else(|| bad(format!("no accessor {idx}")))?
            .clone();
        let count = a.count.0 as usize;
        if count > MAX_TILE_INDICES {
            return Err(bad(format!("accessor {idx} of {count} elements")));
        }
        let comps = match a.type_ {
            Checked::Valid(t) => t.multiplicity(),
            Checked::Invalid => return Err(bad(format!("accessor {idx}: unknown type"))),
        };
        let ct = match a.component_type {
            Checked::Valid(c) => c.0,
            Checked::Invalid => return Err(bad(format!("accessor {idx}: unknown component"))),
        };
        let size = ct.size();
        let norm = a.normalized;
        let Some(view) = a.buffer_view else {
            return Ok(vec![vec![0.0; comps]; count]);
        };
        let stride = self
            .root
            .buffer_views
            .get(view.value())
            .and_then(|v| v.byte_stride)
            .map_or(comps * size, |s| s.0);
        let off = a.byte_offset.map_or(0, |o| o.0 as usize);
        let bytes = self.view(view.value())?;
        if count > 0 && off + (count - 1) * stride + comps * size > bytes.len() {
            return Err(bad(format!("accessor {idx} does not fit its buffer view")));
        }
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            let mut e = Vec::with_capacity(comps);
            for c in 0..comps {
                let o = off + i * stride + c * size;
                let b = &bytes[o..o + size];
                let v = match ct {
                    ComponentType::I8 => {
                        let v = f64::from(b[0] as i8);
                        if norm {
                            (v / 127.0).max(-1.0)
                        } else {
                            v
                        }
                    }
                    ComponentType::U8 => {
                        let v = f64::from(b[0]);
                        if norm {
                            v / 255.0
                        } else {
                            v
                        }
                    }
                    ComponentType::I16 => {
                        let v = f64::from(i16::from_le_bytes([b[0], b[1]]));
                        if norm {
                            (v / 32767.0).max(-1.0)
                        } else {
                            v
                        }
                    }
                    ComponentType::U16 => {
                        let v = f64::from(u16::from_le_bytes([b[0], b[1]]));
                        if norm {
                            v / 65535.0
                        } else {
                            v
                        }
                    }
                    ComponentType::U32 => f64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                    ComponentType::F32 => f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                };
                e.push(v);
            }
            out.push(e);
        }
        Ok(out)
    }

    /// The rows of property table `t` as attribute maps, typed by the class in the schema.
    fn property_table(&mut self, t: usize) -> Result<(String, Vec<Map<String, Value>>)> {
        let meta = self
            .root
            .extensions
            .as_ref()
            .and_then(|e| e.others.get("EXT_structural_metadata"))
            .cloned()
            .ok_or_else(|| bad("feature ids without EXT_structural_metadata"))?;
        let table = meta
            .get("propertyTables")
            .and_then(|v| v.get(t))
            .ok_or_else(|| bad(format!("no property table {t}")))?;
        let class = table
            .get("class")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let count = table.get("count").and_then(Value::as_u64).unwrap_or(0) as usize;
        if count > MAX_TILE_VERTICES {
            return Err(bad(format!("property table of {count} rows")));
        }
        let props = meta
            .get("schema")
            .and_then(|s| s.get("classes"))
            .and_then(|c| c.get(&class))
            .and_then(|c| c.get("properties"))
            .cloned()
            .unwrap_or(Value::Null);
        let mut rows = vec![Map::new(); count];
        let Some(cols) = table.get("properties").and_then(Value::as_object) else {
            return Ok((class, rows));
        };
        for (name, col) in cols {
            let def = &props[name.as_str()];
            let ty = def.get("type").and_then(Value::as_str).unwrap_or("");
            let view = col
                .get("values")
                .and_then(Value::as_u64)
                .ok_or_else(|| bad(format!("property {name} without values")))?
                as usize;
            let values = self.view(view)?.to_vec();
            if ty == "STRING" {
                let ov = col
                    .get("stringOffsets")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| bad(format!("string property {name} without offsets")))?
                    as usize;
                let wide = col.get("stringOffsetType").and_then(Value::as_str);
                let offs = self.view(ov)?.to_vec();
                let at = |k: usize| -> Option<usize> {
                    match wide {
                        Some("UINT16") => offs
                            .get(2 * k..2 * k + 2)
                            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize),
                        Some("UINT8") => offs.get(k).map(|&b| b as usize),
                        _ => offs
                            .get(4 * k..4 * k + 4)
                            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize),
                    }
                };
                for (k, row) in rows.iter_mut().enumerate() {
                    let (a, b) = (at(k), at(k + 1));
                    let s = match (a, b) {
                        (Some(a), Some(b)) if a <= b && b <= values.len() => {
                            String::from_utf8_lossy(&values[a..b]).into_owned()
                        }
                        _ => return Err(bad(format!("string property {name}: bad offsets"))),
                    };
                    let no_data = def.get("noData").and_then(Value::as_str);
                    if no_data != Some(s.as_str()) {
                        row.insert(name.clone(), Value::String(s));
                    }
                }
            } else if ty == "SCALAR" {
                let comp = def
                    .get("componentType")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let size = match comp {
                    "INT8" | "UINT8" => 1,
                    "INT16" | "UINT16" => 2,
                    "INT32" | "UINT32" | "FLOAT32" => 4,
                    "FLOAT64" | "INT64" | "UINT64" => 8,
                    c => return Err(bad(format!("property {name}: component {c}"))),
                };
                let no_data = def.get("noData").and_then(Value::as_f64);
                for (k, row) in rows.iter_mut().enumerate() {
                    let b = values
                        .get(k * size..(k + 1) * size)
                        .ok_or_else(|| bad(format!("property {name}: too few values")))?;
                    let v: Value = match comp {
                        "FLOAT32" => {
                            let f = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                            if no_data == Some(f64::from(f)) {
                                continue;
                            }
                            serde_json::Number::from_f64(f64::from(f))
                                .map_or(Value::Null, Value::Number)
                        }
                        "FLOAT64" => {
                            let mut a = [0u8; 8];
                            a.copy_from_slice(b);
                            let f = f64::from_le_bytes(a);
                            if no_data == Some(f) {
                                continue;
                            }
                            serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
                        }
                        _ => {
                            let i: i64 = match comp {
                                "INT8" => i64::from(b[0] as i8),
                                "UINT8" => i64::from(b[0]),
                                "INT16" => i64::from(i16::from_le_bytes([b[0], b[1]])),
                                "UINT16" => i64::from(u16::from_le_bytes([b[0], b[1]])),
                                "INT32" => i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                                "UINT32" => i64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                                _ => {
                                    let mut a = [0u8; 8];
                                    a.copy_from_slice(b);
                                    i64::from_le_bytes(a)
                                }
                            };
                            if no_data == Some(i as f64) {
                                continue;
                            }
                            Value::from(i)
                        }
                    };
                    row.insert(name.clone(), v);
                }
            }
            // Other types (vectors, enums, arrays) huetwin does not write; left out.
        }
        Ok((class, rows))
    }
}

/// A column-major 4x4 matrix times a point.
pub fn mul_point(m: &[f64; 16], p: [f64; 3]) -> [f64; 3] {
    [
        m[0] * p[0] + m[4] * p[1] + m[8] * p[2] + m[12],
        m[1] * p[0] + m[5] * p[1] + m[9] * p[2] + m[13],
        m[2] * p[0] + m[6] * p[1] + m[10] * p[2] + m[14],
    ]
}

/// The product of two column-major 4x4 matrices, `a * b`.
pub fn mul(a: &[f64; 16], b: &[f64; 16]) -> [f64; 16] {
    let mut out = [0.0; 16];
    for c in 0..4 {
        for r in 0..4 {
            out[c * 4 + r] = (0..4).map(|k| a[k * 4 + r] * b[c * 4 + k]).sum();
        }
    }
    out
}

/// The identity matrix.
pub const IDENTITY: [f64; 16] = [
    1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0,
];

/// glTF's y-up to 3D Tiles' z-up: (x, y, z) → (x, −z, y).
pub const Y_UP_TO_Z_UP: [f64; 16] = [
    1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0,
];

fn node_matrix(n: &gltf_json::Node) -> [f64; 16] {
    if let Some(m) = n.matrix {
        return m.map(f64::from);
    }
    let t = n.translation.unwrap_or([0.0; 3]).map(f64::from);
    let s = n.scale.unwrap_or([1.0; 3]).map(f64::from);
    let [x, y, z, w] = n
        .rotation
        .map_or([0.0, 0.0, 0.0, 1.0], |q| q.0)
        .map(f64::from);
    // Rotation matrix of the unit quaternion, columns scaled.
    let r = [
        [
            1.0 - 2.0 * (y * y + z * z),
            2.0 * (x * y + z * w),
            2.0 * (x * z - y * w),
        ],
        [
            2.0 * (x * y - z * w),
            1.0 - 2.0 * (x * x + z * z),
            2.0 * (y * z + x * w),
        ],
        [
            2.0 * (x * z + y * w),
            2.0 * (y * z - x * w),
            1.0 - 2.0 * (x * x + y * y),
        ],
    ];
    [
        r[0][0] * s[0],
        r[0][1] * s[0],
        r[0][2] * s[0],
        0.0,
        r[1][0] * s[1],
        r[1][1] * s[1],
        r[1][2] * s[1],
        0.0,
        r[2][0] * s[2],
        r[2][1] * s[2],
        r[2][2] * s[2],
        0.0,
        t[0],
        t[1],
        t[2],
        1.0,
    ]
}

fn normalise(v: [f64; 3]) -> [f64; 3] {
    let l = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    if l > 1e-12 {
        [v[0] / l, v[1] / l, v[2] / l]
    } else {
        [0.0; 3]
    }
}

/// Decode a .glb tile content into primitives in the tile's frame (z-up: glTF's y-up and
/// every node transform applied) with their feature ids and the features' properties.
pub fn decode(glb: &[u8]) -> Result<Content> {
    let (json, bin) = split(glb)?;
    let root = Root::from_slice(json).map_err(|e| bad(format!("glTF JSON: {e}")))?;
    let mut doc = Doc {
        views: vec![None; root.buffer_views.len()],
        root,
        bin,
    };
    let mut out = Content::default();
    // The nodes of the default scene (or every root node), with their world matrices.
    let scene = doc.root.scene.map_or(0, |s| s.value());
    let mut stack: Vec<(usize, [f64; 16])> = match doc.root.scenes.get(scene) {
        Some(s) => s.nodes.iter().map(|n| (n.value(), Y_UP_TO_Z_UP)).collect(),
        None => (0..doc.root.nodes.len())
            .map(|n| (n, Y_UP_TO_Z_UP))
            .collect(),
    };
    let mut table: Option<usize> = None;
    let mut visited = 0usize;
    let (mut nv, mut ni) = (0usize, 0usize);
    while let Some((n, parent)) = stack.pop() {
        visited += 1;
        if visited > 10_000 {
            return Err(bad("more than 10 000 nodes (a cycle?)"));
        }
        let node = doc
            .root
            .nodes
            .get(n)
            .ok_or_else(|| bad(format!("no node {n}")))?
            .clone();
        let m = mul(&parent, &node_matrix(&node));
        for c in node.children.iter().flatten() {
            stack.push((c.value(), m));
        }
        let Some(mesh) = node.mesh else { continue };
        let mesh = doc
            .root
            .meshes
            .get(mesh.value())
            .ok_or_else(|| bad(format!("no mesh {}", mesh.value())))?
            .clone();
        for p in &mesh.primitives {
            if p.mode != Checked::Valid(Mode::Triangles) {
                continue;
            }
            let pos = p
                .attributes
                .get(&Checked::Valid(Semantic::Positions))
                .ok_or_else(|| bad("a primitive without POSITION"))?;
            let positions = doc.accessor(pos.value())?;
            nv += positions.len();
            if nv > MAX_TILE_VERTICES {
                return Err(bad(format!("more than {MAX_TILE_VERTICES} vertices")));
            }
            let normals = match p.attributes.get(&Checked::Valid(Semantic::Normals)) {
                Some(a) => doc.accessor(a.value())?,
                None => vec![vec![0.0; 3]; positions.len()],
            };
            let indices: Vec<u32> = match p.indices {
                Some(a) => doc
                    .accessor(a.value())?
                    .iter()
                    .map(|e| e[0] as u32)
                    .collect(),
                None => (0..positions.len() as u32).collect(),
            };
            ni += indices.len();
            if ni > MAX_TILE_INDICES {
                return Err(bad(format!("more than {MAX_TILE_INDICES} indices")));
            }
            if indices.iter().any(|&i| i as usize >= positions.len()) {
                return Err(bad("an index past the vertices"));
            }
            // EXT_mesh_features: the first feature id set read from a vertex attribute.
            let mut feature_ids = Vec::new();
            let fx = p
                .extensions
                .as_ref()
                .and_then(|e| e.others.get("EXT_mesh_features"))
                .and_then(|f| f.get("featureIds"))
                .and_then(|f| f.get(0))
                .cloned();
            if let Some(f) = fx {
                if let Some(attr) = f.get("attribute").and_then(Value::as_u64) {
                    let sem = Semantic::Extras(format!("FEATURE_ID_{attr}"));
                    if let Some(a) = p.attributes.get(&Checked::Valid(sem)) {
                        feature_ids = doc
                            .accessor(a.value())?
                            .iter()
                            .map(|e| e[0].round() as u32)
                            .collect();
                    }
                }
                if let Some(t) = f.get("propertyTable").and_then(Value::as_u64) {
                    table = Some(t as usize);
                }
            }
            let (colour, blend) = match p.material.and_then(|m| doc.root.materials.get(m.value())) {
                Some(mat) => (
                    mat.pbr_metallic_roughness.base_color_factor.0,
                    mat.alpha_mode == Checked::Valid(gltf_json::material::AlphaMode::Blend),
                ),
                None => ([1.0; 4], false),
            };
            // Normals through the inverse transpose: the matrices here are rotations with
            // per-axis scales, so scaling by the reciprocal scale along the columns is enough.
            let nm = normal_matrix(&m);
            out.primitives.push(Primitive {
                positions: positions
                    .iter()
                    .map(|e| mul_point(&m, [e[0], e[1], e[2]]))
                    .collect(),
                normals: normals
                    .iter()
                    .map(|e| normalise(mul3(&nm, [e[0], e[1], e[2]])))
                    .collect(),
                indices,
                feature_ids,
                colour,
                blend,
            });
        }
    }
    if let Some(t) = table {
        let (class, rows) = doc.property_table(t)?;
        out.class = Some(class);
        out.features = rows;
    }
    Ok(out)
}

fn mul3(m: &[[f64; 3]; 3], v: [f64; 3]) -> [f64; 3] {
    [
        m[0][0] * v[0] + m[0][1] * v[1] + m[0][2] * v[2],
        m[1][0] * v[0] + m[1][1] * v[1] + m[1][2] * v[2],
        m[2][0] * v[0] + m[2][1] * v[1] + m[2][2] * v[2],
    ]
}

/// The inverse transpose of the 3x3 part of a column-major 4x4 matrix (row-major result).
fn normal_matrix(m: &[f64; 16]) -> [[f64; 3]; 3] {
    // a[r][c] of the 3x3 part.
    let a = |r: usize, c: usize| m[c * 4 + r];
    let det = a(0, 0) * (a(1, 1) * a(2, 2) - a(1, 2) * a(2, 1))
        - a(0, 1) * (a(1, 0) * a(2, 2) - a(1, 2) * a(2, 0))
        + a(0, 2) * (a(1, 0) * a(2, 1) - a(1, 1) * a(2, 0));
    if det.abs() < 1e-30 {
        return [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    }
    // The cofactor matrix is det × inverse transpose.
    let cof = |r: usize, c: usize| {
        let (r1, r2) = ((r + 1) % 3, (r + 2) % 3);
        let (c1, c2) = ((c + 1) % 3, (c + 2) % 3);
        a(r1, c1) * a(r2, c2) - a(r1, c2) * a(r2, c1)
    };
    let mut out = [[0.0; 3]; 3];
    for (r, row) in out.iter_mut().enumerate() {
        for (c, v) in row.iter_mut().enumerate() {
            *v = cof(r, c) / det;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrices_compose_column_major_and_y_up_turns_to_z_up() {
        let t = [
            1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 10.0, 20.0, 30.0, 1.0,
        ];
        assert_eq!(mul_point(&t, [1.0, 2.0, 3.0]), [11.0, 22.0, 33.0]);
        // glTF up (0, 1, 0) is 3D Tiles up (0, 0, 1); glTF +z (south) is −y.
        assert_eq!(mul_point(&Y_UP_TO_Z_UP, [0.0, 1.0, 0.0]), [0.0, 0.0, 1.0]);
        assert_eq!(mul_point(&Y_UP_TO_Z_UP, [0.0, 0.0, 1.0]), [0.0, -1.0, 0.0]);
        let m = mul(&t, &Y_UP_TO_Z_UP);
        assert_eq!(mul_point(&m, [0.0, 1.0, 0.0]), [10.0, 20.0, 31.0]);
        let s = node_matrix(&gltf_json::Node {
            scale: Some([2.0, 4.0, 8.0]),
            translation: Some([1.0, 1.0, 1.0]),
            ..Default::default()
        });
        assert_eq!(mul_point(&s, [1.0, 1.0, 1.0]), [3.0, 5.0, 9.0]);
        let n = normal_matrix(&s);
        assert!((n[1][1] - 0.25).abs() < 1e-12 && (n[2][2] - 0.125).abs() < 1e-12);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode(b"").is_err());
        assert!(decode(b"glTF\x02\0\0\0\x20\0\0\0\xff\xff\xff\xffJSON").is_err());
        let mut g = b"glTF\x02\0\0\0\0\0\0\0\x02\0\0\0JSON{}".to_vec();
        g.extend_from_slice(&[0; 8]);
        assert!(decode(&g).is_err());
    }
}
