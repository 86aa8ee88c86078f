//! Drawing a scene with wgpu into an offscreen texture (4× MSAA, 32-bit depth), reading it back
//! and finishing it on the CPU (background or sky behind, legend on top).

use super::mesh::{self, Frame, Mesh, Vertex};
use super::{colour, legend, Camera, Image, MapView, Scene};
use crate::error::{RenderError, Result};
use crate::gpu::Gpu;
use wgpu::util::DeviceExt;

const COLOR_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8Unorm;
const DEPTH_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Depth32Float;
/// Samples per pixel.
const MSAA: u32 = 4;
/// Most terrain vertices drawn (larger DEMs are drawn every n-th cell).
const MAX_TERRAIN_VERTICES: usize = 1_500_000;
/// Smallest picture side (pixels).
const MIN_SIZE: u32 = 16;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Uniforms {
    view_proj: [[f32; 4]; 4],
    light: [f32; 4],
}

/// An open device with the pictures' pipelines; reuse it for several pictures.
pub struct Renderer {
    gpu: Gpu,
    bind_layout: wgpu::BindGroupLayout,
    /// Depth-tested, depth-writing, no blending: terrain, buildings, roads in perspective.
    opaque: wgpu::RenderPipeline,
    /// Not depth-tested, opaque: roads on the map.
    overlay: wgpu::RenderPipeline,
    /// Depth-tested, translucent, not depth-writing: water in perspective.
    water: wgpu::RenderPipeline,
    /// Not depth-tested, translucent: water on the map.
    water_overlay: wgpu::RenderPipeline,
}

struct GpuMesh {
    vertices: wgpu::Buffer,
    indices: wgpu::Buffer,
    count: u32,
}

/// Column-major 4×4 matrix from its rows.
fn from_rows(r: [[f64; 4]; 4]) -> [[f32; 4]; 4] {
    let mut m = [[0f32; 4]; 4];
    for (i, row) in r.iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            m[j][i] = *v as f32;
        }
    }
    m
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn norm(v: [f64; 3]) -> [f64; 3] {
    let l = dot(v, v).sqrt();
    v.map(|x| x / l)
}

impl Renderer {
    /// Open the best adapter (see [`Gpu::new`]) and build the pipelines.
    pub fn new() -> Result<Renderer> {
        Renderer::with_gpu(Gpu::new()?)
    }

    /// Build the pipelines on an open device.
    pub fn with_gpu(gpu: Gpu) -> Result<Renderer> {
        let d = &gpu.device;
        let scope = d.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = d.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("render.wgsl"),
            source: wgpu::ShaderSource::Wgsl(include_str!("render.wgsl").into()),
        });
        let bind_layout = d.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("render uniforms"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::VERTEX_FRAGMENT,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            }],
        });
        let layout = d.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("render"),
            bind_group_layouts: &[Some(&bind_layout)],
            immediate_size: 0,
        });
        let attributes = [
            wgpu::VertexAttribute {
                format: wgpu::VertexFormat::Float32x3,
                offset: 0,
                shader_location: 0,
            },
            wgpu::VertexAttribute {
                format: wgpu::VertexFormat::Float32x3,
                offset: 12,
                shader_location: 1,
            },
            wgpu::VertexAttribute {
                format: wgpu::VertexFormat::Unorm8x4,
                offset: 24,
                shader_location: 2,
            },
        ];
        let translucent = wgpu::BlendState {
            color: wgpu::BlendComponent {
                src_factor: wgpu::BlendFactor::SrcAlpha,
                dst_factor: wgpu::BlendFactor::OneMinusSrcAlpha,
                operation: wgpu::BlendOperation::Add,
            },
            // Coverage accumulates as "over" does, so the target stays premultiplied.
            alpha: wgpu::BlendComponent {
                src_factor: wgpu::BlendFactor::One,
                dst_factor: wgpu::BlendFactor::OneMinusSrcAlpha,
                operation: wgpu::BlendOperation::Add,
            },
        };
        let make = |label: &str,
                    compare: wgpu::CompareFunction,
                    write: bool,
                    blend: Option<wgpu::BlendState>| {
            d.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
                label: Some(label),
                layout: Some(&layout),
                vertex: wgpu::VertexState {
                    module: &module,
                    entry_point: Some("vs"),
                    compilation_options: Default::default(),
                    buffers: &[Some(wgpu::VertexBufferLayout {
                        array_stride: std::mem::size_of::<Vertex>() as u64,
                        step_mode: wgpu::VertexStepMode::Vertex,
                        attributes: &attributes,
                    })],
                },
                primitive: wgpu::PrimitiveState {
                    topology: wgpu::PrimitiveTopology::TriangleList,
                    cull_mode: None,
                    ..Default::default()
                },
                depth_stencil: Some(wgpu::DepthStencilState {
                    format: DEPTH_FORMAT,
                    depth_write_enabled: Some(write),
                    depth_compare: Some(compare),
                    stencil: Default::default(),
                    bias: Default::default(),
                }),
                multisample: wgpu::MultisampleState {
                    count: MSAA,
                    ..Default::default()
                },
                fragment: Some(wgpu::FragmentState {
                    module: &module,
                    entry_point: Some("fs"),
                    compilation_options: Default::default(),
                    targets: &[Some(wgpu::ColorTargetState {
                        format: COLOR_FORMAT,
                        blend,
                        write_mask: wgpu::ColorWrites::ALL,
                    })],
                }),
                multiview_mask: None,
                cache: None,
            })
        };
        use wgpu::CompareFunction as C;
        let opaque = make("opaque", C::LessEqual, true, None);
        let overlay = make("overlay", C::Always, false, None);
        let water = make("water", C::LessEqual, false, Some(translucent));
        let water_overlay = make("water overlay", C::Always, false, Some(translucent));
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(RenderError::gpu("building the render pipelines", e));
        }
        Ok(Renderer {
            gpu,
            bind_layout,
            opaque,
            overlay,
            water,
            water_overlay,
        })
    }

    /// The adapter, "name (backend, type)".
    pub fn adapter(&self) -> String {
        self.gpu.describe()
    }

    fn upload(&self, m: &Mesh) -> Option<GpuMesh> {
        if m.is_empty() {
            return None;
        }
        let d = &self.gpu.device;
        Some(GpuMesh {
            vertices: d.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("vertices"),
                contents: bytemuck::cast_slice(&m.vertices),
                usage: wgpu::BufferUsages::VERTEX,
            }),
            indices: d.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("indices"),
                contents: bytemuck::cast_slice(&m.indices),
                usage: wgpu::BufferUsages::INDEX,
            }),
            count: m.indices.len() as u32,
        })
    }

    /// Draw `scene` as seen by `camera` into a `width` × `height` picture.
    pub fn render(&self, scene: &Scene, camera: &Camera, width: u32, height: u32) -> Result<Image> {
        let max = self.gpu.limits.max_texture_dimension_2d;
        if width < MIN_SIZE || height < MIN_SIZE || width > max || height > max {
            return Err(RenderError::invalid(
                "picture size",
                format!("{width}x{height}: each side must be in {MIN_SIZE}..={max} pixels on this adapter"),
            ));
        }
        let e = scene.extent;
        let f = Frame {
            origin: [(e[0] + e[2]) / 2.0, (e[1] + e[3]) / 2.0],
        };
        let l = scene.layers;
        let map = match camera {
            Camera::Map { bbox } => Some(MapView::new(scene, *bbox, width, height)),
            Camera::Perspective { .. } => None,
        };
        let (road_min_width, road_lift, water_lift) = match &map {
            Some(v) => (1.8 * v.metres_per_pixel, 0.0, 0.0),
            None => (0.0, 1.5, 0.2),
        };
        let empty = Mesh::default;
        let terrain = match (&scene.terrain, l.terrain) {
            (Some(d), true) => mesh::terrain(d, f, MAX_TERRAIN_VERTICES),
            _ => empty(),
        };
        let buildings = if l.buildings {
            mesh::buildings(scene, f)
        } else {
            empty()
        };
        let mut roads = if l.roads {
            mesh::roads(scene, f, road_min_width, road_lift, 30.0)
        } else {
            mesh::Mesh::new()
        };
        // Marked lines (sightlines) with the roads: over the terrain on a map, depth-tested in
        // perspective.
        mesh::mark_lines(&mut roads, scene, f, 1.5 * road_min_width);
        let water = match (&scene.flood, l.water) {
            // The map draws each wet cell exactly (its area is what the map shows); the
            // perspective view a continuous surface over the same cells.
            (Some(fl), true) if map.is_some() => {
                mesh::water(fl, scene.terrain.as_ref(), f, water_lift)
            }
            (Some(fl), true) => mesh::water_smooth(fl, scene.terrain.as_ref(), f, water_lift),
            _ => empty(),
        };
        let (mut zmin, mut zmax) = (f64::INFINITY, f64::NEG_INFINITY);
        for m in [&terrain, &buildings, &roads, &water] {
            if !m.is_empty() {
                zmin = zmin.min(m.zmin);
                zmax = zmax.max(m.zmax);
            }
        }
        if !zmin.is_finite() {
            (zmin, zmax) = (0.0, 1.0);
        }
        let view_proj = match (&map, camera) {
            (Some(v), _) => {
                let hw = f64::from(width) * v.metres_per_pixel / 2.0;
                let hh = f64::from(height) * v.metres_per_pixel / 2.0;
                let cx = v.xmin + hw - f.origin[0];
                let cy = v.ymax - hh - f.origin[1];
                let (z0, z1) = (zmin - 10.0, zmax + 10.0);
                // Higher is nearer: depth 0 at z1, 1 at z0.
                from_rows([
                    [1.0 / hw, 0.0, 0.0, -cx / hw],
                    [0.0, 1.0 / hh, 0.0, -cy / hh],
                    [0.0, 0.0, -1.0 / (z1 - z0), z1 / (z1 - z0)],
                    [0.0, 0.0, 0.0, 1.0],
                ])
            }
            (
                None,
                Camera::Perspective {
                    eye,
                    heading_deg,
                    pitch_deg,
                    fov_deg,
                },
            ) => {
                let (h, p) = (heading_deg.to_radians(), pitch_deg.to_radians());
                let fwd = [p.cos() * h.sin(), p.cos() * h.cos(), -p.sin()];
                // Looking straight down, "up" in the picture is the heading.
                let right = if p.cos() > 1e-6 {
                    norm(cross(fwd, [0.0, 0.0, 1.0]))
                } else {
                    [h.cos(), -h.sin(), 0.0]
                };
                let up = cross(right, fwd);
                let eye = [eye[0] - f.origin[0], eye[1] - f.origin[1], eye[2]];
                let sy = 1.0 / (fov_deg.to_radians() / 2.0).tan();
                let sx = sy * f64::from(height) / f64::from(width);
                let span = (e[2] - e[0]).hypot(e[3] - e[1]);
                let (near, far) = (2.0, 2.0 * span + eye[2].abs() + 1000.0);
                let a = far / (far - near);
                from_rows([
                    [
                        sx * right[0],
                        sx * right[1],
                        sx * right[2],
                        -sx * dot(right, eye),
                    ],
                    [sy * up[0], sy * up[1], sy * up[2], -sy * dot(up, eye)],
                    [
                        a * fwd[0],
                        a * fwd[1],
                        a * fwd[2],
                        -a * dot(fwd, eye) - a * near,
                    ],
                    [fwd[0], fwd[1], fwd[2], -dot(fwd, eye)],
                ])
            }
            (None, Camera::Map { .. }) => unreachable!("a map camera always has a map view"),
        };
        let sun = colour::sun();
        let uniforms = Uniforms {
            view_proj,
            light: [
                sun[0] as f32,
                sun[1] as f32,
                sun[2] as f32,
                colour::AMBIENT as f32,
            ],
        };
        let rgba = self.draw(
            width,
            height,
            &uniforms,
            map.is_some(),
            [&terrain, &buildings, &roads, &water],
        )?;
        let mut img = Image {
            width,
            height,
            rgba,
        };
        // The target holds premultiplied colour over transparent black: put it over the
        // background (map) or a sky gradient (perspective).
        for y in 0..height {
            let bg = match map {
                Some(_) => colour::MAP_BACKGROUND,
                None => {
                    let t = f64::from(y) / f64::from(height.max(2) - 1);
                    let (a, b) = (colour::SKY_TOP, colour::SKY_HORIZON);
                    [0, 1, 2].map(|k| (a[k] as f64 + (b[k] as f64 - a[k] as f64) * t).round() as u8)
                }
            };
            let row = &mut img.rgba[(y * width * 4) as usize..((y + 1) * width * 4) as usize];
            for px in row.chunks_exact_mut(4) {
                let a = 255 - u32::from(px[3]);
                for k in 0..3 {
                    px[k] = (u32::from(px[k]) + (u32::from(bg[k]) * a + 127) / 255).min(255) as u8;
                }
                px[3] = 255;
            }
        }
        if l.legend {
            let centre = match map {
                None => super::centre_scale(scene, camera, height),
                Some(_) => None,
            };
            legend::draw(&mut img, scene, map.as_ref(), centre);
        }
        Ok(img)
    }

    /// Run the render pass; meshes in the order terrain, buildings, roads, water. Returns the
    /// resolved RGBA rows (premultiplied, alpha = coverage).
    fn draw(
        &self,
        width: u32,
        height: u32,
        uniforms: &Uniforms,
        map: bool,
        [terrain, buildings, roads, water]: [&Mesh; 4],
    ) -> Result<Vec<u8>> {
        let d = &self.gpu.device;
        let scope = d.push_error_scope(wgpu::ErrorFilter::Validation);
        let ubuf = d.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("render uniforms"),
            contents: bytemuck::bytes_of(uniforms),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let bind = d.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("render uniforms"),
            layout: &self.bind_layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: ubuf.as_entire_binding(),
            }],
        });
        let size = wgpu::Extent3d {
            width,
            height,
            depth_or_array_layers: 1,
        };
        let texture = |label: &str, samples: u32, format, usage| {
            d.create_texture(&wgpu::TextureDescriptor {
                label: Some(label),
                size,
                mip_level_count: 1,
                sample_count: samples,
                dimension: wgpu::TextureDimension::D2,
                format,
                usage,
                view_formats: &[],
            })
        };
        use wgpu::TextureUsages as U;
        let msaa = texture("msaa colour", MSAA, COLOR_FORMAT, U::RENDER_ATTACHMENT);
        let resolved = texture(
            "colour",
            1,
            COLOR_FORMAT,
            U::RENDER_ATTACHMENT | U::COPY_SRC,
        );
        let depth = texture("depth", MSAA, DEPTH_FORMAT, U::RENDER_ATTACHMENT);
        let (msaa_view, resolved_view, depth_view) = (
            msaa.create_view(&Default::default()),
            resolved.create_view(&Default::default()),
            depth.create_view(&Default::default()),
        );
        let (t, b, r, w) = (
            self.upload(terrain),
            self.upload(buildings),
            self.upload(roads),
            self.upload(water),
        );
        // The map draws water and roads over the terrain whatever its height, then the
        // buildings; the perspective view draws the opaque layers first, then the water.
        let order: Vec<(&wgpu::RenderPipeline, &Option<GpuMesh>)> = if map {
            vec![
                (&self.opaque, &t),
                (&self.water_overlay, &w),
                (&self.overlay, &r),
                (&self.opaque, &b),
            ]
        } else {
            vec![
                (&self.opaque, &t),
                (&self.opaque, &b),
                (&self.opaque, &r),
                (&self.water, &w),
            ]
        };
        let mut enc = d.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("picture"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: &msaa_view,
                    depth_slice: None,
                    resolve_target: Some(&resolved_view),
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color::TRANSPARENT),
                        store: wgpu::StoreOp::Discard,
                    },
                })],
                depth_stencil_attachment: Some(wgpu::RenderPassDepthStencilAttachment {
                    view: &depth_view,
                    depth_ops: Some(wgpu::Operations {
                        load: wgpu::LoadOp::Clear(1.0),
                        store: wgpu::StoreOp::Discard,
                    }),
                    stencil_ops: None,
                }),
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            pass.set_bind_group(0, &bind, &[]);
            for (pipe, m) in order {
                let Some(m) = m else { continue };
                pass.set_pipeline(pipe);
                pass.set_vertex_buffer(0, m.vertices.slice(..));
                pass.set_index_buffer(m.indices.slice(..), wgpu::IndexFormat::Uint32);
                pass.draw_indexed(0..m.count, 0, 0..1);
            }
        }
        self.gpu
            .read_rgba(enc, scope, &resolved, (width, height), "the picture")
    }
}
