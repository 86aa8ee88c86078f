//! glTF 2.0 binary (.glb) writing. The document is built as `gltf-json`'s typed model (buffer
//! views, accessors, materials, meshes, nodes, scenes), checked with its validator and written
//! by it; the binary chunk holds every buffer view at an 8-byte boundary (glTF asks for 4,
//! EXT_structural_metadata for 8). Extension objects gltf-json does not model (see
//! [`crate::metadata`]) go in its `extensions.others` maps.
//!
//! A compact builder ([`Builder::compact`]) writes geometry the way gltfpack `-cc` does, with
//! meshoptimizer itself (the `meshopt` crate): positions quantized to 16 bits along each axis
//! of the mesh's bounding box and dequantized by the node's translation and scale, normals to
//! 8 bits (stored for that scale), feature ids to 16-bit integers (`KHR_mesh_quantization`); every vertex attribute and
//! index buffer view compressed (`EXT_meshopt_compression`, vertex codec version 0 and index
//! codec version 1 as the extension reads them) into the BIN chunk, the uncompressed views
//! living in a fallback buffer without data. Property tables stay plain so run results can be
//! rewritten in place ([`crate::results`]).

use crate::error::{Error, Result};
use gltf_json::accessor::{ComponentType, GenericComponentType, Type};
use gltf_json::buffer::{Stride, Target, View};
use gltf_json::material::{AlphaMode, PbrBaseColorFactor, PbrMetallicRoughness, StrengthFactor};
use gltf_json::mesh::{Mode, Primitive, Semantic};
use gltf_json::validation::{Checked, USize64};
use gltf_json::{Accessor, Index, Material, Mesh, Node, Root, Scene};
use serde::Serialize;
use serde_json::Value;

/// The name of the meshopt compression extension.
pub(crate) const EXT_MESHOPT_COMPRESSION: &str = "EXT_meshopt_compression";
/// The name of the quantized attributes extension.
pub(crate) const KHR_MESH_QUANTIZATION: &str = "KHR_mesh_quantization";

/// A glTF document under construction.
pub(crate) struct Builder {
    bin: Vec<u8>,
    root: Root,
    /// Quantize and compress geometry.
    compact: bool,
    /// Bytes of the fallback buffer behind the compressed views so far.
    fallback_len: usize,
    /// The dequantizing node transform (translation, scale) of the next mesh.
    pending: Option<([f32; 3], [f32; 3])>,
    /// Per mesh: its node's dequantizing transform.
    transforms: Vec<Option<([f32; 3], [f32; 3])>>,
}

/// Reorder a triangle mesh as gltfpack does before meshopt's codecs (which then find more
/// similar neighbours): triangles for the post-transform vertex cache, then vertices in the
/// order the triangles first use them. Unused vertices are dropped. The same mesh in the same
/// order is written plain or compact. `per_vertex` (feature ids, water depths) follows the
/// vertices.
pub(crate) fn reorder_mesh(
    indices: &mut Vec<u32>,
    positions: &mut Vec<[f32; 3]>,
    normals: &mut Vec<[f32; 3]>,
    per_vertex: Option<&mut Vec<f32>>,
) {
    let n = positions.len();
    if indices.is_empty() || n == 0 {
        return;
    }
    let cached = meshopt::optimize_vertex_cache(indices, n);
    let remap = meshopt::optimize_vertex_fetch_remap(&cached, n);
    let used = remap
        .iter()
        .filter(|&&r| r != u32::MAX)
        .map(|&r| r as usize + 1)
        .max()
        .unwrap_or(0);
    *indices = meshopt::remap_index_buffer(Some(&cached), n, &remap);
    *positions = meshopt::remap_vertex_buffer(positions, used, &remap);
    *normals = meshopt::remap_vertex_buffer(normals, used, &remap);
    if let Some(f) = per_vertex {
        *f = meshopt::remap_vertex_buffer(f, used, &remap);
    }
}

/// Compress a vertex attribute view of `stride`-byte elements (meshopt vertex codec version 0,
/// the one EXT_meshopt_compression reads).
fn encode_attributes(raw: &[u8], stride: usize) -> Result<Vec<u8>> {
    fn enc<const N: usize>(raw: &[u8]) -> std::result::Result<Vec<u8>, meshopt::Error> {
        let v: Vec<[u8; N]> = raw
            .chunks_exact(N)
            .map(|c| {
                let mut a = [0u8; N];
                a.copy_from_slice(c);
                a
            })
            .collect();
        meshopt::encode_vertex_buffer_level(&v, 2, Some(0))
    }
    let r = match stride {
        4 => enc::<4>(raw),
        8 => enc::<8>(raw),
        12 => enc::<12>(raw),
        16 => enc::<16>(raw),
        _ => {
            return Err(Error::invalid(
                "glTF vertex stream",
                format!("stride {stride}"),
            ))
        }
    };
    r.map_err(|e| Error::invalid("meshopt vertex encoding", e))
}

fn align(bin: &mut Vec<u8>, to: usize) {
    while !bin.len().is_multiple_of(to) {
        bin.push(0);
    }
}

/// Push `value` on `list`; its index. (gltf-json's `Index::push` panics past `u32::MAX` items;
/// a glb cannot hold that many anyway, its length being a `u32`.)
fn push<T>(list: &mut Vec<T>, value: T) -> Index<T> {
    list.push(value);
    Index::new((list.len() - 1) as u32)
}

fn size(n: usize) -> USize64 {
    USize64(n as u64)
}

/// A primitive drawing `mode` from `attributes`, without indices, material or extensions.
pub(crate) fn primitive(
    mode: Mode,
    attributes: impl IntoIterator<Item = (Semantic, Index<Accessor>)>,
) -> Primitive {
    Primitive {
        attributes: attributes
            .into_iter()
            .map(|(s, a)| (Checked::Valid(s), a))
            .collect(),
        extensions: None,
        extras: None,
        indices: None,
        material: None,
        mode: Checked::Valid(mode),
        targets: None,
    }
}

/// A custom vertex attribute semantic: `custom("FEATURE_ID_0")` is `_FEATURE_ID_0`.
pub(crate) fn custom(name: &str) -> Semantic {
    Semantic::Extras(name.into())
}

/// Set a primitive-level extension object (the caller declares it used).
pub(crate) fn primitive_extension(
    p: &mut Primitive,
    name: &str,
    value: &impl Serialize,
) -> Result<()> {
    let v = to_value(name, value)?;
    p.extensions
        .get_or_insert_with(Default::default)
        .others
        .insert(name.into(), v);
    Ok(())
}

fn to_value(name: &str, value: &impl Serialize) -> Result<Value> {
    serde_json::to_value(value).map_err(|e| Error::invalid(format!("glTF {name} object"), e))
}

impl Builder {
    /// A builder writing plain glTF (float attributes, uncompressed views).
    pub(crate) fn new() -> Builder {
        Builder {
            bin: Vec::new(),
            root: Root::default(),
            compact: false,
            fallback_len: 0,
            pending: None,
            transforms: Vec::new(),
        }
    }

    /// A builder writing quantized, meshopt-compressed geometry when `compact` (see the module
    /// documentation), plain glTF otherwise.
    pub(crate) fn compact(compact: bool) -> Builder {
        Builder {
            compact,
            ..Builder::new()
        }
    }

    /// A vertex attribute view of `count` elements of `stride` bytes: plain in the BIN chunk,
    /// or (compact) compressed into it by meshopt's vertex codec.
    fn attribute_view(&mut self, raw: &[u8], count: usize, stride: usize) -> Result<Index<View>> {
        if !self.compact {
            return Ok(self.view(raw, Some(Target::ArrayBuffer), Some(stride)));
        }
        let encoded = encode_attributes(raw, stride)?;
        Ok(self.compressed_view(raw, &encoded, count, stride, "ATTRIBUTES"))
    }

    /// A view of triangle indices `idx` written as `raw` (`size`-byte integers): plain, or
    /// (compact) compressed by meshopt's index codec.
    fn index_view(
        &mut self,
        idx: &[u32],
        raw: &[u8],
        size: usize,
        vertex_count: usize,
    ) -> Result<Index<View>> {
        if !self.compact {
            return Ok(self.view(raw, Some(Target::ElementArrayBuffer), None));
        }
        let encoded = meshopt::encode_index_buffer(idx, vertex_count)
            .map_err(|e| Error::invalid("meshopt index encoding", e))?;
        Ok(self.compressed_view(raw, &encoded, idx.len(), size, "TRIANGLES"))
    }

    /// `encoded` (meshopt `mode` data of `count` elements of `byte_stride` bytes) appended to
    /// the BIN chunk, and a view standing for the decoded `raw` bytes in the fallback buffer.
    fn compressed_view(
        &mut self,
        raw: &[u8],
        encoded: &[u8],
        count: usize,
        byte_stride: usize,
        mode: &str,
    ) -> Index<View> {
        let attributes = mode == "ATTRIBUTES";
        align(&mut self.bin, 4);
        let offset = self.bin.len();
        self.bin.extend_from_slice(encoded);
        self.fallback_len = self.fallback_len.next_multiple_of(4);
        let fallback_offset = self.fallback_len;
        self.fallback_len += raw.len();
        let ext = serde_json::json!({
            "buffer": 0,
            "byteOffset": offset,
            "byteLength": encoded.len(),
            "byteStride": byte_stride,
            "count": count,
            "mode": mode,
        });
        let v = View {
            buffer: Index::new(1),
            byte_length: size(raw.len()),
            byte_offset: Some(size(fallback_offset)),
            byte_stride: attributes.then_some(Stride(byte_stride)),
            target: Some(Checked::Valid(if attributes {
                Target::ArrayBuffer
            } else {
                Target::ElementArrayBuffer
            })),
            extensions: Some(gltf_json::extensions::buffer::View {
                others: [(EXT_MESHOPT_COMPRESSION.to_string(), ext)]
                    .into_iter()
                    .collect(),
            }),
            extras: None,
        };
        self.use_extension(EXT_MESHOPT_COMPRESSION);
        push(&mut self.root.buffer_views, v)
    }

    /// The POSITION attribute (with its min/max, as glTF requires). Compact: 16-bit unsigned
    /// integers (not normalized, as gltfpack writes them), 65,535 steps along each axis of the
    /// bounding box; the next mesh's node translates by the box's corner and scales each axis
    /// by its step (so a tile a few kilometres wide and 100 m tall keeps its heights to the
    /// millimetre). [`Builder::normals`] must follow, to store normals for that scale.
    pub(crate) fn positions(&mut self, data: &[[f32; 3]]) -> Result<Index<Accessor>> {
        if !self.compact {
            return Ok(self.vec3(data, true));
        }
        let mut lo = [f32::INFINITY; 3];
        let mut hi = [f32::NEG_INFINITY; 3];
        for p in data {
            for i in 0..3 {
                lo[i] = lo[i].min(p[i]);
                hi[i] = hi[i].max(p[i]);
            }
        }
        let step: [f32; 3] = std::array::from_fn(|i| {
            let side = hi[i] - lo[i];
            if side > 0.0 {
                side / 65535.0
            } else {
                1.0
            }
        });
        let mut qlo = [u16::MAX; 3];
        let mut qhi = [0u16; 3];
        let mut raw = Vec::with_capacity(data.len() * 8);
        for p in data {
            for i in 0..3 {
                let q = ((p[i] - lo[i]) as f64 / step[i] as f64)
                    .round()
                    .clamp(0.0, 65535.0) as u16;
                qlo[i] = qlo[i].min(q);
                qhi[i] = qhi[i].max(q);
                raw.extend_from_slice(&q.to_le_bytes());
            }
            raw.extend_from_slice(&[0, 0]);
        }
        let v = self.attribute_view(&raw, data.len(), 8)?;
        self.pending = Some((lo, step));
        self.use_extension(KHR_MESH_QUANTIZATION);
        let mm = (
            qlo.iter().map(|&x| x as f64).collect(),
            qhi.iter().map(|&x| x as f64).collect(),
        );
        Ok(self.accessor(
            v,
            data.len(),
            ComponentType::U16,
            Type::Vec3,
            false,
            Some(mm),
        ))
    }

    /// The NORMAL attribute (unit vectors). Compact: 8-bit signed normalized integers, for the
    /// scale of the positions written before.
    pub(crate) fn normals(&mut self, data: &[[f32; 3]]) -> Result<Index<Accessor>> {
        if !self.compact {
            return Ok(self.vec3(data, false));
        }
        // A renderer takes normals through the inverse transpose of the node's scale S, so
        // the mesh stores S n (normalized) for the normal n to come out.
        let scale = self.pending.map(|(_, s)| s).unwrap_or([1.0; 3]);
        let mut raw = Vec::with_capacity(data.len() * 4);
        for n in data {
            let m: [f32; 3] = std::array::from_fn(|i| n[i] * scale[i]);
            let l = (m[0] * m[0] + m[1] * m[1] + m[2] * m[2]).sqrt();
            for c in m {
                let c = if l > 0.0 { c / l } else { 0.0 };
                raw.push(((c * 127.0).round().clamp(-127.0, 127.0) as i8) as u8);
            }
            raw.push(0);
        }
        let v = self.attribute_view(&raw, data.len(), 4)?;
        self.use_extension(KHR_MESH_QUANTIZATION);
        Ok(self.accessor(v, data.len(), ComponentType::I8, Type::Vec3, true, None))
    }

    /// A feature id attribute (`_FEATURE_ID_0`): FLOAT, or (compact, ids below 65535)
    /// UNSIGNED_SHORT.
    pub(crate) fn feature_ids(&mut self, data: &[f32]) -> Result<Index<Accessor>> {
        if !self.compact {
            return Ok(self.scalar_f32(data));
        }
        if data
            .iter()
            .all(|&x| (0.0..65535.0).contains(&x) && x.fract() == 0.0)
        {
            let raw: Vec<u8> = data
                .iter()
                .flat_map(|&x| {
                    let b = (x as u16).to_le_bytes();
                    [b[0], b[1], 0, 0]
                })
                .collect();
            let v = self.attribute_view(&raw, data.len(), 4)?;
            return Ok(self.accessor(v, data.len(), ComponentType::U16, Type::Scalar, false, None));
        }
        let raw: Vec<u8> = data.iter().flat_map(|x| x.to_le_bytes()).collect();
        let v = self.attribute_view(&raw, data.len(), 4)?;
        Ok(self.accessor(v, data.len(), ComponentType::F32, Type::Scalar, false, None))
    }

    /// A SCALAR float vertex attribute (compressed when compact).
    pub(crate) fn scalar_attribute(&mut self, data: &[f32]) -> Result<Index<Accessor>> {
        if !self.compact {
            return Ok(self.scalar_f32(data));
        }
        let raw: Vec<u8> = data.iter().flat_map(|x| x.to_le_bytes()).collect();
        let v = self.attribute_view(&raw, data.len(), 4)?;
        Ok(self.accessor(v, data.len(), ComponentType::F32, Type::Scalar, false, None))
    }

    /// Append bytes as a buffer view (8-byte aligned); returns its index.
    pub(crate) fn view(
        &mut self,
        bytes: &[u8],
        target: Option<Target>,
        stride: Option<usize>,
    ) -> Index<View> {
        align(&mut self.bin, 8);
        let v = View {
            buffer: Index::new(0),
            byte_length: size(bytes.len()),
            byte_offset: Some(size(self.bin.len())),
            byte_stride: stride.map(Stride),
            target: target.map(Checked::Valid),
            extensions: None,
            extras: None,
        };
        self.bin.extend_from_slice(bytes);
        push(&mut self.root.buffer_views, v)
    }

    /// An accessor over a whole view.
    pub(crate) fn accessor(
        &mut self,
        view: Index<View>,
        count: usize,
        component: ComponentType,
        type_: Type,
        normalized: bool,
        min_max: Option<(Vec<f64>, Vec<f64>)>,
    ) -> Index<Accessor> {
        let (min, max) = match min_max {
            Some((lo, hi)) => (Some(Value::from(lo)), Some(Value::from(hi))),
            None => (None, None),
        };
        let a = Accessor {
            buffer_view: Some(view),
            byte_offset: None,
            count: size(count),
            component_type: Checked::Valid(GenericComponentType(component)),
            extensions: None,
            extras: None,
            type_: Checked::Valid(type_),
            min,
            max,
            normalized,
            sparse: None,
        };
        push(&mut self.root.accessors, a)
    }

    /// VEC3 float attribute (POSITION gets min/max, as glTF requires).
    fn vec3(&mut self, data: &[[f32; 3]], with_bounds: bool) -> Index<Accessor> {
        let mut bytes = Vec::with_capacity(data.len() * 12);
        let mut lo = [f32::INFINITY; 3];
        let mut hi = [f32::NEG_INFINITY; 3];
        for p in data {
            for i in 0..3 {
                bytes.extend_from_slice(&p[i].to_le_bytes());
                lo[i] = lo[i].min(p[i]);
                hi[i] = hi[i].max(p[i]);
            }
        }
        let v = self.view(&bytes, Some(Target::ArrayBuffer), None);
        let mm = with_bounds.then(|| {
            (
                lo.iter().map(|&x| x as f64).collect(),
                hi.iter().map(|&x| x as f64).collect(),
            )
        });
        self.accessor(v, data.len(), ComponentType::F32, Type::Vec3, false, mm)
    }

    /// SCALAR float vertex attribute (feature ids).
    fn scalar_f32(&mut self, data: &[f32]) -> Index<Accessor> {
        let bytes: Vec<u8> = data.iter().flat_map(|x| x.to_le_bytes()).collect();
        let v = self.view(&bytes, Some(Target::ArrayBuffer), None);
        self.accessor(v, data.len(), ComponentType::F32, Type::Scalar, false, None)
    }

    /// A vertex attribute of small integers, one per 4-byte slot (glTF wants every vertex
    /// attribute element on a 4-byte boundary).
    pub(crate) fn strided_u8s(
        &mut self,
        data: &[u8],
        per: usize,
        normalized: bool,
    ) -> Result<Index<Accessor>> {
        let type_ = match per {
            1 => Type::Scalar,
            2 => Type::Vec2,
            3 => Type::Vec3,
            _ => Type::Vec4,
        };
        let mut bytes = vec![0u8; data.len() / per * 4];
        for (i, c) in data.chunks(per).enumerate() {
            bytes[i * 4..i * 4 + per].copy_from_slice(c);
        }
        let v = self.attribute_view(&bytes, data.len() / per, 4)?;
        Ok(self.accessor(
            v,
            data.len() / per,
            ComponentType::U8,
            type_,
            normalized,
            None,
        ))
    }

    /// A SCALAR UINT16 vertex attribute with a 4-byte stride.
    pub(crate) fn strided_u16(&mut self, data: &[u16]) -> Result<Index<Accessor>> {
        let mut bytes = vec![0u8; data.len() * 4];
        for (i, x) in data.iter().enumerate() {
            bytes[i * 4..i * 4 + 2].copy_from_slice(&x.to_le_bytes());
        }
        let v = self.attribute_view(&bytes, data.len(), 4)?;
        Ok(self.accessor(v, data.len(), ComponentType::U16, Type::Scalar, false, None))
    }

    /// Triangle indices, 16-bit when they fit.
    pub(crate) fn indices(&mut self, idx: &[u32], vertex_count: usize) -> Result<Index<Accessor>> {
        let (bytes, size, component): (Vec<u8>, usize, ComponentType) =
            if vertex_count <= u16::MAX as usize {
                let b = idx.iter().flat_map(|&i| (i as u16).to_le_bytes()).collect();
                (b, 2, ComponentType::U16)
            } else {
                let b = idx.iter().flat_map(|i| i.to_le_bytes()).collect();
                (b, 4, ComponentType::U32)
            };
        let v = self.index_view(idx, &bytes, size, vertex_count)?;
        Ok(self.accessor(v, idx.len(), component, Type::Scalar, false, None))
    }

    /// A PBR material (metal-free); `alpha` < 1 blends.
    pub(crate) fn material(&mut self, rgba: [f64; 4], double_sided: bool) -> Index<Material> {
        let m = Material {
            pbr_metallic_roughness: PbrMetallicRoughness {
                base_color_factor: PbrBaseColorFactor(rgba.map(|x| x as f32)),
                metallic_factor: StrengthFactor(0.0),
                roughness_factor: StrengthFactor(0.9),
                ..Default::default()
            },
            alpha_mode: Checked::Valid(if rgba[3] < 1.0 {
                AlphaMode::Blend
            } else {
                AlphaMode::Opaque
            }),
            double_sided,
            ..Default::default()
        };
        push(&mut self.root.materials, m)
    }

    /// A mesh of one primitive.
    pub(crate) fn mesh(&mut self, primitive: Primitive) {
        self.transforms.push(self.pending.take());
        self.root.meshes.push(Mesh {
            extensions: None,
            extras: None,
            primitives: vec![primitive],
            weights: None,
        });
    }

    /// Declare an extension as used and set a root-level extension object.
    pub(crate) fn root_extension(&mut self, name: &str, value: &impl Serialize) -> Result<()> {
        let v = to_value(name, value)?;
        self.use_extension(name);
        self.root
            .extensions
            .get_or_insert_with(Default::default)
            .others
            .insert(name.into(), v);
        Ok(())
    }

    /// Declare an extension as used.
    pub(crate) fn use_extension(&mut self, name: &str) {
        if !self.root.extensions_used.iter().any(|e| e == name) {
            self.root.extensions_used.push(name.into());
        }
    }

    /// Write the .glb: JSON through gltf-json (validated), then the binary chunk.
    pub(crate) fn finish(mut self, generator: &str) -> Result<Vec<u8>> {
        align(&mut self.bin, 8);
        let mut root = self.root;
        root.asset.generator = Some(generator.into());
        root.scene = Some(Index::new(0));
        let nodes: Vec<Index<Node>> = (0..root.meshes.len())
            .map(|i| {
                let t = self.transforms.get(i).copied().flatten();
                push(
                    &mut root.nodes,
                    Node {
                        mesh: Some(Index::new(i as u32)),
                        translation: t.map(|(o, _)| o),
                        scale: t.map(|(_, s)| s),
                        ..Default::default()
                    },
                )
            })
            .collect();
        root.scenes.push(Scene {
            extensions: None,
            extras: None,
            nodes,
        });
        if self.bin.is_empty() {
            root.buffer_views.clear();
            root.accessors.clear();
        } else {
            root.buffers.push(gltf_json::Buffer {
                byte_length: size(self.bin.len()),
                uri: None,
                extensions: None,
                extras: None,
            });
        }
        if self.fallback_len > 0 {
            // The compressed views' buffer: no data, the decoder fills it.
            root.buffers.push(gltf_json::Buffer {
                byte_length: size(self.fallback_len),
                uri: None,
                extensions: Some(gltf_json::extensions::buffer::Buffer {
                    others: [(
                        EXT_MESHOPT_COMPRESSION.to_string(),
                        serde_json::json!({"fallback": true}),
                    )]
                    .into_iter()
                    .collect(),
                }),
                extras: None,
            });
        }
        let mut problems = Vec::new();
        gltf_json::validation::Validate::validate(
            &root,
            &root,
            gltf_json::Path::new,
            &mut |path, err| problems.push(format!("{}: {err}", path())),
        );
        if !problems.is_empty() {
            return Err(Error::invalid("glTF document", problems.join("; ")));
        }
        // Required (after gltf-json's check, which knows neither): the compressed views have no
        // fallback data and quantized attributes are read only through the extension.
        for e in [EXT_MESHOPT_COMPRESSION, KHR_MESH_QUANTIZATION] {
            if root.extensions_used.iter().any(|u| u == e) {
                root.extensions_required.push(e.into());
            }
        }
        let mut text =
            gltf_json::serialize::to_vec(&root).map_err(|e| Error::invalid("glTF document", e))?;
        while text.len() % 4 != 0 {
            text.push(b' ');
        }
        let total = 12
            + 8
            + text.len()
            + if self.bin.is_empty() {
                0
            } else {
                8 + self.bin.len()
            };
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(b"glTF");
        out.extend_from_slice(&2u32.to_le_bytes());
        out.extend_from_slice(&(total as u32).to_le_bytes());
        out.extend_from_slice(&(text.len() as u32).to_le_bytes());
        out.extend_from_slice(b"JSON");
        out.extend_from_slice(&text);
        if !self.bin.is_empty() {
            out.extend_from_slice(&(self.bin.len() as u32).to_le_bytes());
            out.extend_from_slice(b"BIN\0");
            out.extend_from_slice(&self.bin);
        }
        Ok(out)
    }
}

/// The JSON and binary chunks of a .glb.
pub(crate) fn split(glb: &[u8]) -> Result<(Value, std::ops::Range<usize>)> {
    let bad = |m: &str| Error::invalid("glb", m);
    if glb.len() < 20 || &glb[0..4] != b"glTF" {
        return Err(bad("not a glTF binary (no glTF magic)"));
    }
    let u32_at = |o: usize| -> Result<usize> {
        glb.get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or_else(|| bad("truncated header"))
    };
    let json_len = u32_at(12)?;
    if &glb[16..20] != b"JSON" || 20 + json_len > glb.len() {
        return Err(bad("first chunk is not a complete JSON chunk"));
    }
    let doc: Value = serde_json::from_slice(&glb[20..20 + json_len])
        .map_err(|e| Error::invalid("glb JSON chunk", e))?;
    let b = 20 + json_len;
    if b + 8 > glb.len() {
        return Ok((doc, glb.len()..glb.len()));
    }
    let bin_len = u32_at(b)?;
    if &glb[b + 4..b + 8] != b"BIN\0" || b + 8 + bin_len > glb.len() {
        return Err(bad("second chunk is not a complete BIN chunk"));
    }
    Ok((doc, b + 8..b + 8 + bin_len))
}
