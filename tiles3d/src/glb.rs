//! glTF 2.0 binary (.glb) writing. The document is built as `gltf-json`'s typed model (buffer
//! views, accessors, materials, meshes, nodes, scenes), checked with its validator and written
//! by it; the binary chunk holds every buffer view at an 8-byte boundary (glTF asks for 4,
//! EXT_structural_metadata for 8). Extension objects gltf-json does not model (see
//! [`crate::metadata`]) go in its `extensions.others` maps.

use crate::error::{Error, Result};
use gltf_json::accessor::{ComponentType, GenericComponentType, Type};
use gltf_json::buffer::{Stride, Target, View};
use gltf_json::material::{AlphaMode, PbrBaseColorFactor, PbrMetallicRoughness, StrengthFactor};
use gltf_json::mesh::{Mode, Primitive, Semantic};
use gltf_json::validation::{Checked, USize64};
use gltf_json::{Accessor, Index, Material, Mesh, Node, Root, Scene};
use serde::Serialize;
use serde_json::Value;

/// A glTF document under construction.
pub(crate) struct Builder {
    bin: Vec<u8>,
    root: Root,
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
    pub(crate) fn new() -> Builder {
        Builder {
            bin: Vec::new(),
            root: Root::default(),
        }
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
    pub(crate) fn vec3(&mut self, data: &[[f32; 3]], with_bounds: bool) -> Index<Accessor> {
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
    pub(crate) fn scalar_f32(&mut self, data: &[f32]) -> Index<Accessor> {
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
    ) -> Index<Accessor> {
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
        let v = self.view(&bytes, Some(Target::ArrayBuffer), Some(4));
        self.accessor(
            v,
            data.len() / per,
            ComponentType::U8,
            type_,
            normalized,
            None,
        )
    }

    /// A SCALAR UINT16 vertex attribute with a 4-byte stride.
    pub(crate) fn strided_u16(&mut self, data: &[u16]) -> Index<Accessor> {
        let mut bytes = vec![0u8; data.len() * 4];
        for (i, x) in data.iter().enumerate() {
            bytes[i * 4..i * 4 + 2].copy_from_slice(&x.to_le_bytes());
        }
        let v = self.view(&bytes, Some(Target::ArrayBuffer), Some(4));
        self.accessor(v, data.len(), ComponentType::U16, Type::Scalar, false, None)
    }

    /// Triangle indices, 16-bit when they fit.
    pub(crate) fn indices(&mut self, idx: &[u32], vertex_count: usize) -> Index<Accessor> {
        if vertex_count <= u16::MAX as usize {
            let bytes: Vec<u8> = idx.iter().flat_map(|&i| (i as u16).to_le_bytes()).collect();
            let v = self.view(&bytes, Some(Target::ElementArrayBuffer), None);
            self.accessor(v, idx.len(), ComponentType::U16, Type::Scalar, false, None)
        } else {
            let bytes: Vec<u8> = idx.iter().flat_map(|i| i.to_le_bytes()).collect();
            let v = self.view(&bytes, Some(Target::ElementArrayBuffer), None);
            self.accessor(v, idx.len(), ComponentType::U32, Type::Scalar, false, None)
        }
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
                push(
                    &mut root.nodes,
                    Node {
                        mesh: Some(Index::new(i as u32)),
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
