//! The basemap's GPU passes. First the relief: the hillshade's factor (see
//! [`super::style::hillshade_factor`]) interpolated over the DEM's grid into an `R32Float`
//! texture of the tile's pixels (1 where there is no DEM). Then the tile: triangles already in
//! clip space with per-vertex colours, painted in order (no depth test) with "over" blending
//! into a 4× MSAA `Rgba8Unorm` target, resolved and read back as straight-alpha RGBA; the
//! colour of a triangle marked as shaded (land and land use) is multiplied by the relief
//! texture's factor at its pixel, in the fragment shader.

use crate::error::{RenderError, Result};
use crate::gpu::Gpu;
use bytemuck::{Pod, Zeroable};
use wgpu::util::DeviceExt;

const COLOR_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8Unorm;
const RELIEF_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::R32Float;
const MSAA: u32 = 4;

/// One vertex of the tile: clip-space position, an RGBA colour (straight alpha), and whether
/// the hillshade shades it (1) or not (0), the same for the three vertices of a triangle.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(super) struct Vertex {
    pub pos: [f32; 2],
    pub color: [u8; 4],
    pub shaded: f32,
}

/// One vertex of the relief: clip-space position and the hillshade's factor there.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(super) struct ReliefVertex {
    pub pos: [f32; 2],
    pub factor: f32,
}

/// Triangles to paint, in order, and the relief's triangles.
#[derive(Default)]
pub(super) struct Canvas {
    pub vertices: Vec<Vertex>,
    pub indices: Vec<u32>,
    pub relief: Vec<ReliefVertex>,
    pub relief_indices: Vec<u32>,
}

/// The pipelines of the basemap on an open device.
pub(super) struct TilePainter {
    pub gpu: Gpu,
    pipeline: wgpu::RenderPipeline,
    relief_pipeline: wgpu::RenderPipeline,
    relief_layout: wgpu::BindGroupLayout,
}

impl TilePainter {
    pub fn new(gpu: Gpu) -> Result<TilePainter> {
        let d = &gpu.device;
        let scope = d.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = d.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("basemap.wgsl"),
            source: wgpu::ShaderSource::Wgsl(include_str!("basemap.wgsl").into()),
        });
        let relief_layout = d.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("basemap relief"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::FRAGMENT,
                ty: wgpu::BindingType::Texture {
                    sample_type: wgpu::TextureSampleType::Float { filterable: false },
                    view_dimension: wgpu::TextureViewDimension::D2,
                    multisampled: false,
                },
                count: None,
            }],
        });
        let layout = d.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("basemap"),
            bind_group_layouts: &[Some(&relief_layout)],
            immediate_size: 0,
        });
        let attributes = wgpu::vertex_attr_array![0 => Float32x2, 1 => Unorm8x4, 2 => Float32];
        let over = wgpu::BlendState {
            color: wgpu::BlendComponent {
                src_factor: wgpu::BlendFactor::SrcAlpha,
                dst_factor: wgpu::BlendFactor::OneMinusSrcAlpha,
                operation: wgpu::BlendOperation::Add,
            },
            alpha: wgpu::BlendComponent {
                src_factor: wgpu::BlendFactor::One,
                dst_factor: wgpu::BlendFactor::OneMinusSrcAlpha,
                operation: wgpu::BlendOperation::Add,
            },
        };
        let pipeline = d.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("basemap"),
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
            depth_stencil: None,
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
                    blend: Some(over),
                    write_mask: wgpu::ColorWrites::ALL,
                })],
            }),
            multiview_mask: None,
            cache: None,
        });
        let relief_empty = d.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("basemap relief"),
            bind_group_layouts: &[],
            immediate_size: 0,
        });
        let relief_attributes = wgpu::vertex_attr_array![0 => Float32x2, 1 => Float32];
        let relief_pipeline = d.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("basemap relief"),
            layout: Some(&relief_empty),
            vertex: wgpu::VertexState {
                module: &module,
                entry_point: Some("vs_relief"),
                compilation_options: Default::default(),
                buffers: &[Some(wgpu::VertexBufferLayout {
                    array_stride: std::mem::size_of::<ReliefVertex>() as u64,
                    step_mode: wgpu::VertexStepMode::Vertex,
                    attributes: &relief_attributes,
                })],
            },
            primitive: wgpu::PrimitiveState {
                topology: wgpu::PrimitiveTopology::TriangleList,
                cull_mode: None,
                ..Default::default()
            },
            depth_stencil: None,
            multisample: Default::default(),
            fragment: Some(wgpu::FragmentState {
                module: &module,
                entry_point: Some("fs_relief"),
                compilation_options: Default::default(),
                targets: &[Some(wgpu::ColorTargetState {
                    format: RELIEF_FORMAT,
                    blend: None,
                    write_mask: wgpu::ColorWrites::ALL,
                })],
            }),
            multiview_mask: None,
            cache: None,
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(RenderError::gpu("building the basemap pipelines", e));
        }
        Ok(TilePainter {
            gpu,
            pipeline,
            relief_pipeline,
            relief_layout,
        })
    }

    /// Paint `canvas` on a transparent `size` × `size` target; straight-alpha RGBA rows.
    pub fn paint(&self, canvas: &Canvas, size: u32) -> Result<Vec<u8>> {
        let d = &self.gpu.device;
        let scope = d.push_error_scope(wgpu::ErrorFilter::Validation);
        let extent = wgpu::Extent3d {
            width: size,
            height: size,
            depth_or_array_layers: 1,
        };
        let texture = |label: &str, format, samples: u32, usage| {
            d.create_texture(&wgpu::TextureDescriptor {
                label: Some(label),
                size: extent,
                mip_level_count: 1,
                sample_count: samples,
                dimension: wgpu::TextureDimension::D2,
                format,
                usage,
                view_formats: &[],
            })
        };
        use wgpu::TextureUsages as U;
        let relief = texture(
            "basemap relief",
            RELIEF_FORMAT,
            1,
            U::RENDER_ATTACHMENT | U::TEXTURE_BINDING,
        );
        let msaa = texture("basemap msaa", COLOR_FORMAT, MSAA, U::RENDER_ATTACHMENT);
        let resolved = texture(
            "basemap",
            COLOR_FORMAT,
            1,
            U::RENDER_ATTACHMENT | U::COPY_SRC,
        );
        let (relief_view, msaa_view, resolved_view) = (
            relief.create_view(&Default::default()),
            msaa.create_view(&Default::default()),
            resolved.create_view(&Default::default()),
        );
        let relief_group = d.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("basemap relief"),
            layout: &self.relief_layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::TextureView(&relief_view),
            }],
        });
        let mesh = |what: &str, vertices: &[u8], indices: &[u32]| {
            (!indices.is_empty()).then(|| {
                (
                    d.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                        label: Some(&format!("{what} vertices")),
                        contents: vertices,
                        usage: wgpu::BufferUsages::VERTEX,
                    }),
                    d.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                        label: Some(&format!("{what} indices")),
                        contents: bytemuck::cast_slice(indices),
                        usage: wgpu::BufferUsages::INDEX,
                    }),
                    indices.len() as u32,
                )
            })
        };
        let tile = mesh(
            "basemap",
            bytemuck::cast_slice(&canvas.vertices),
            &canvas.indices,
        );
        let relief_mesh = mesh(
            "basemap relief",
            bytemuck::cast_slice(&canvas.relief),
            &canvas.relief_indices,
        );
        let mut enc = d.create_command_encoder(&Default::default());
        {
            // Factor 1 (no shading) where no relief triangle lands.
            let mut pass = enc.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("basemap relief"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: &relief_view,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color {
                            r: 1.0,
                            g: 0.0,
                            b: 0.0,
                            a: 1.0,
                        }),
                        store: wgpu::StoreOp::Store,
                    },
                })],
                depth_stencil_attachment: None,
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            if let Some((v, i, n)) = &relief_mesh {
                pass.set_pipeline(&self.relief_pipeline);
                pass.set_vertex_buffer(0, v.slice(..));
                pass.set_index_buffer(i.slice(..), wgpu::IndexFormat::Uint32);
                pass.draw_indexed(0..*n, 0, 0..1);
            }
        }
        {
            let mut pass = enc.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("basemap tile"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: &msaa_view,
                    depth_slice: None,
                    resolve_target: Some(&resolved_view),
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color::TRANSPARENT),
                        store: wgpu::StoreOp::Discard,
                    },
                })],
                depth_stencil_attachment: None,
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            if let Some((v, i, n)) = &tile {
                pass.set_pipeline(&self.pipeline);
                pass.set_bind_group(0, &relief_group, &[]);
                pass.set_vertex_buffer(0, v.slice(..));
                pass.set_index_buffer(i.slice(..), wgpu::IndexFormat::Uint32);
                pass.draw_indexed(0..*n, 0, 0..1);
            }
        }
        let mut out = self
            .gpu
            .read_rgba(enc, scope, &resolved, (size, size), "a basemap tile")?;
        // The target holds colour premultiplied by coverage (the clear colour is transparent
        // black): PNG wants it straight.
        for px in out.chunks_exact_mut(4) {
            let a = u32::from(px[3]);
            if a > 0 && a < 255 {
                for c in &mut px[..3] {
                    *c = ((u32::from(*c) * 255 + a / 2) / a).min(255) as u8;
                }
            }
        }
        Ok(out)
    }
}
