//! glTF 2.0 binary (.glb) writing. The document is assembled as JSON, read into `gltf-json`'s
//! typed model, checked with its validator and written back by it; the binary chunk holds every
//! buffer view at an 8-byte boundary (glTF asks for 4, EXT_structural_metadata for 8).

use crate::error::{Error, Result};
use serde_json::{json, Map, Value};

/// Component types (glTF enum values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Component {
    U8 = 5121,
    U16 = 5123,
    U32 = 5125,
    F32 = 5126,
}

/// `ARRAY_BUFFER` (vertex attributes) and `ELEMENT_ARRAY_BUFFER` (indices).
pub(crate) const ARRAY_BUFFER: u32 = 34962;
pub(crate) const ELEMENT_ARRAY_BUFFER: u32 = 34963;

/// A glTF document under construction.
pub(crate) struct Builder {
    bin: Vec<u8>,
    views: Vec<Value>,
    accessors: Vec<Value>,
    materials: Vec<Value>,
    meshes: Vec<Value>,
    extensions_used: Vec<String>,
    extensions: Map<String, Value>,
}

fn align(bin: &mut Vec<u8>, to: usize) {
    while !bin.len().is_multiple_of(to) {
        bin.push(0);
    }
}

impl Builder {
    pub(crate) fn new() -> Builder {
        Builder {
            bin: Vec::new(),
            views: Vec::new(),
            accessors: Vec::new(),
            materials: Vec::new(),
            meshes: Vec::new(),
            extensions_used: Vec::new(),
            extensions: Map::new(),
        }
    }

    /// Append bytes as a buffer view (8-byte aligned); returns its index.
    pub(crate) fn view(
        &mut self,
        bytes: &[u8],
        target: Option<u32>,
        stride: Option<usize>,
    ) -> usize {
        align(&mut self.bin, 8);
        let mut v = json!({"buffer": 0, "byteOffset": self.bin.len(), "byteLength": bytes.len()});
        if let Some(t) = target {
            v["target"] = json!(t);
        }
        if let Some(s) = stride {
            v["byteStride"] = json!(s);
        }
        self.bin.extend_from_slice(bytes);
        self.views.push(v);
        self.views.len() - 1
    }

    /// An accessor over a whole view.
    pub(crate) fn accessor(
        &mut self,
        view: usize,
        count: usize,
        component: Component,
        type_: &str,
        normalized: bool,
        min_max: Option<(Vec<f64>, Vec<f64>)>,
    ) -> usize {
        let mut a = json!({
            "bufferView": view, "componentType": component as u32, "count": count, "type": type_,
        });
        if normalized {
            a["normalized"] = json!(true);
        }
        if let Some((min, max)) = min_max {
            a["min"] = json!(min);
            a["max"] = json!(max);
        }
        self.accessors.push(a);
        self.accessors.len() - 1
    }

    /// VEC3 float attribute (POSITION gets min/max, as glTF requires).
    pub(crate) fn vec3(&mut self, data: &[[f32; 3]], with_bounds: bool) -> usize {
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
        let v = self.view(&bytes, Some(ARRAY_BUFFER), None);
        let mm = with_bounds.then(|| {
            (
                lo.iter().map(|&x| x as f64).collect(),
                hi.iter().map(|&x| x as f64).collect(),
            )
        });
        self.accessor(v, data.len(), Component::F32, "VEC3", false, mm)
    }

    /// SCALAR float vertex attribute (feature ids).
    pub(crate) fn scalar_f32(&mut self, data: &[f32]) -> usize {
        let bytes: Vec<u8> = data.iter().flat_map(|x| x.to_le_bytes()).collect();
        let v = self.view(&bytes, Some(ARRAY_BUFFER), None);
        self.accessor(v, data.len(), Component::F32, "SCALAR", false, None)
    }

    /// A vertex attribute of small integers, one per 4-byte slot (glTF wants every vertex
    /// attribute element on a 4-byte boundary).
    pub(crate) fn strided_u8s(&mut self, data: &[u8], per: usize, normalized: bool) -> usize {
        let type_ = match per {
            1 => "SCALAR",
            2 => "VEC2",
            3 => "VEC3",
            _ => "VEC4",
        };
        let mut bytes = vec![0u8; data.len() / per * 4];
        for (i, c) in data.chunks(per).enumerate() {
            bytes[i * 4..i * 4 + per].copy_from_slice(c);
        }
        let v = self.view(&bytes, Some(ARRAY_BUFFER), Some(4));
        self.accessor(v, data.len() / per, Component::U8, type_, normalized, None)
    }

    /// A SCALAR UINT16 vertex attribute with a 4-byte stride.
    pub(crate) fn strided_u16(&mut self, data: &[u16]) -> usize {
        let mut bytes = vec![0u8; data.len() * 4];
        for (i, x) in data.iter().enumerate() {
            bytes[i * 4..i * 4 + 2].copy_from_slice(&x.to_le_bytes());
        }
        let v = self.view(&bytes, Some(ARRAY_BUFFER), Some(4));
        self.accessor(v, data.len(), Component::U16, "SCALAR", false, None)
    }

    /// Triangle indices, 16-bit when they fit.
    pub(crate) fn indices(&mut self, idx: &[u32], vertex_count: usize) -> usize {
        if vertex_count <= u16::MAX as usize {
            let bytes: Vec<u8> = idx.iter().flat_map(|&i| (i as u16).to_le_bytes()).collect();
            let v = self.view(&bytes, Some(ELEMENT_ARRAY_BUFFER), None);
            self.accessor(v, idx.len(), Component::U16, "SCALAR", false, None)
        } else {
            let bytes: Vec<u8> = idx.iter().flat_map(|i| i.to_le_bytes()).collect();
            let v = self.view(&bytes, Some(ELEMENT_ARRAY_BUFFER), None);
            self.accessor(v, idx.len(), Component::U32, "SCALAR", false, None)
        }
    }

    /// A PBR material (metal-free); `alpha` < 1 blends.
    pub(crate) fn material(&mut self, rgba: [f64; 4], double_sided: bool) -> usize {
        let mut m = json!({
            "pbrMetallicRoughness": {"baseColorFactor": rgba, "metallicFactor": 0.0, "roughnessFactor": 0.9},
        });
        if rgba[3] < 1.0 {
            m["alphaMode"] = json!("BLEND");
        }
        if double_sided {
            m["doubleSided"] = json!(true);
        }
        self.materials.push(m);
        self.materials.len() - 1
    }

    /// A mesh of one primitive.
    pub(crate) fn mesh(&mut self, primitive: Value) {
        self.meshes.push(json!({"primitives": [primitive]}));
    }

    /// Declare an extension as used and set a root-level extension object.
    pub(crate) fn root_extension(&mut self, name: &str, value: Value) {
        self.use_extension(name);
        self.extensions.insert(name.into(), value);
    }

    /// Declare an extension as used.
    pub(crate) fn use_extension(&mut self, name: &str) {
        if !self.extensions_used.iter().any(|e| e == name) {
            self.extensions_used.push(name.into());
        }
    }

    /// Write the .glb: JSON through gltf-json (validated), then the binary chunk.
    pub(crate) fn finish(mut self, generator: &str) -> Result<Vec<u8>> {
        align(&mut self.bin, 8);
        let mut doc = json!({
            "asset": {"version": "2.0", "generator": generator},
            "scene": 0,
        });
        if self.meshes.is_empty() {
            doc["scenes"] = json!([{}]);
        } else {
            let nodes: Vec<Value> = (0..self.meshes.len()).map(|i| json!({"mesh": i})).collect();
            let ids: Vec<usize> = (0..nodes.len()).collect();
            doc["scenes"] = json!([{"nodes": ids}]);
            doc["nodes"] = json!(nodes);
            doc["meshes"] = json!(self.meshes);
        }
        if !self.materials.is_empty() {
            doc["materials"] = json!(self.materials);
        }
        if !self.bin.is_empty() {
            doc["buffers"] = json!([{"byteLength": self.bin.len()}]);
            doc["bufferViews"] = json!(self.views);
            doc["accessors"] = json!(self.accessors);
        }
        if !self.extensions_used.is_empty() {
            doc["extensionsUsed"] = json!(self.extensions_used);
        }
        if !self.extensions.is_empty() {
            doc["extensions"] = Value::Object(self.extensions);
        }
        let root: gltf_json::Root =
            serde_json::from_value(doc).map_err(|e| Error::invalid("glTF document", e))?;
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
