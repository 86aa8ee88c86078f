//! The basemap's GPU pass: triangles already in clip space with per-vertex colours, painted in
//! order (no depth test) with "over" blending into a 4× MSAA `Rgba8Unorm` target, resolved and
//! read back as straight-alpha RGBA.

use crate::error::{RenderError, Result};
use crate::gpu::Gpu;
use bytemuck::{Pod, Zeroable};
use wgpu::util::DeviceExt;

const COLOR_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8Unorm;
const MSAA: u32 = 4;

/// One vertex: clip-space position and an RGBA colour (straight alpha).
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(super) struct Vertex {
    pub pos: [f32; 2],
    pub color: [u8; 4],
}

/// Triangles to paint, in order.
#[derive(Default)]
pub(super) struct Canvas {
    pub vertices: Vec<Vertex>,
    pub indices: Vec<u32>,
}

/// The pipeline of the basemap on an open device.
pub(super) struct TilePainter {
    pub gpu: Gpu,
    pipeline: wgpu::RenderPipeline,
}

impl TilePainter {
    pub fn new(gpu: Gpu) -> Result<TilePainter> {
        let d = &gpu.device;
        let scope = d.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = d.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("basemap.wgsl"),
            source: wgpu::ShaderSource::Wgsl(include_str!("basemap.wgsl").into()),
        });
        let layout = d.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("basemap"),
            bind_group_layouts: &[],
            immediate_size: 0,
        });
        let attributes = [
            wgpu::VertexAttribute {
                format: wgpu::VertexFormat::Float32x2,
                offset: 0,
                shader_location: 0,
            },
            wgpu::VertexAttribute {
                format: wgpu::VertexFormat::Unorm8x4,
                offset: 8,
                shader_location: 1,
            },
        ];
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
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(RenderError::gpu("building the basemap pipeline", e));
        }
        Ok(TilePainter { gpu, pipeline })
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
        let texture = |label: &str, samples: u32, usage| {
            d.create_texture(&wgpu::TextureDescriptor {
                label: Some(label),
                size: extent,
                mip_level_count: 1,
                sample_count: samples,
                dimension: wgpu::TextureDimension::D2,
                format: COLOR_FORMAT,
                usage,
                view_formats: &[],
            })
        };
        use wgpu::TextureUsages as U;
        let msaa = texture("basemap msaa", MSAA, U::RENDER_ATTACHMENT);
        let resolved = texture("basemap", 1, U::RENDER_ATTACHMENT | U::COPY_SRC);
        let (msaa_view, resolved_view) = (
            msaa.create_view(&Default::default()),
            resolved.create_view(&Default::default()),
        );
        let buffers = (!canvas.indices.is_empty()).then(|| {
            (
                d.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some("basemap vertices"),
                    contents: bytemuck::cast_slice(&canvas.vertices),
                    usage: wgpu::BufferUsages::VERTEX,
                }),
                d.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some("basemap indices"),
                    contents: bytemuck::cast_slice(&canvas.indices),
                    usage: wgpu::BufferUsages::INDEX,
                }),
            )
        });
        let mut enc = d.create_command_encoder(&Default::default());
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
            if let Some((v, i)) = &buffers {
                pass.set_pipeline(&self.pipeline);
                pass.set_vertex_buffer(0, v.slice(..));
                pass.set_index_buffer(i.slice(..), wgpu::IndexFormat::Uint32);
                pass.draw_indexed(0..canvas.indices.len() as u32, 0, 0..1);
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
