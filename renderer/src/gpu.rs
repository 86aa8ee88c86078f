//! Picking an adapter and opening a device: a real GPU when there is one, else a software
//! rasteriser (Mesa lavapipe through Vulkan, llvmpipe through GL). The choice is logged.

use crate::error::{RenderError, Result};
use wgpu::{Backends, DeviceType};

/// Environment variable that picks an adapter by (case-insensitive) name substring.
pub const ADAPTER_ENV: &str = "HUETWIN_GPU_ADAPTER";

/// Turns Mesa's Vulkan device-select layer off for this process when no desktop session is
/// around (`XDG_RUNTIME_DIR` unset) and the user has not chosen (`NODEVICE_SELECT` unset).
/// Headless, the layer looks for a Wayland display and libwayland prints "error:
/// XDG_RUNTIME_DIR is invalid or not set in the environment." twice on every run; [`Gpu::new`]
/// ranks the adapters itself, so the layer adds nothing here.
///
/// It sets an environment variable: call it at the start of `main`, before any thread exists.
pub fn quiet_headless_vulkan() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_none()
        && std::env::var_os("NODEVICE_SELECT").is_none()
    {
        std::env::set_var("NODEVICE_SELECT", "1");
    }
}

/// An open device and its queue.
pub struct Gpu {
    /// The device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
    /// The adapter it was opened on.
    pub info: wgpu::AdapterInfo,
    /// The limits the device was opened with (the adapter's own).
    pub limits: wgpu::Limits,
}

/// Lower is better: discrete, integrated, virtual, other, then CPU (software); Vulkan before GL.
fn rank(info: &wgpu::AdapterInfo) -> (u8, u8) {
    let t = match info.device_type {
        DeviceType::DiscreteGpu => 0,
        DeviceType::IntegratedGpu => 1,
        DeviceType::VirtualGpu => 2,
        DeviceType::Other => 3,
        DeviceType::Cpu => 4,
    };
    let b = if info.backend == wgpu::Backend::Vulkan {
        0
    } else {
        1
    };
    (t, b)
}

impl Gpu {
    /// Finish a frame and bring it to the CPU: records the copy of `texture` (RGBA8, `width` ×
    /// `height`) into `enc`, submits it, checks `scope` (the validation scope the caller pushed
    /// before encoding the frame), and returns the pixels as tightly packed rows. `what` names
    /// the frame in errors ("drawing {what}", "reading {what} back").
    pub(crate) fn read_rgba(
        &self,
        mut enc: wgpu::CommandEncoder,
        scope: wgpu::ErrorScopeGuard,
        texture: &wgpu::Texture,
        (width, height): (u32, u32),
        what: &str,
    ) -> Result<Vec<u8>> {
        let d = &self.device;
        let bpr = (width * 4).div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT)
            * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
        let readback = d.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: u64::from(bpr) * u64::from(height),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        enc.copy_texture_to_buffer(
            wgpu::TexelCopyTextureInfo {
                texture,
                mip_level: 0,
                origin: wgpu::Origin3d::ZERO,
                aspect: wgpu::TextureAspect::All,
            },
            wgpu::TexelCopyBufferInfo {
                buffer: &readback,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(bpr),
                    rows_per_image: Some(height),
                },
            },
            wgpu::Extent3d {
                width,
                height,
                depth_or_array_layers: 1,
            },
        );
        self.queue.submit([enc.finish()]);
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(RenderError::gpu(format!("drawing {what}"), e));
        }
        let back = || format!("reading {what} back");
        let (tx, rx) = std::sync::mpsc::channel();
        readback.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        d.poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| RenderError::gpu("waiting for the device", e))?;
        rx.recv()
            .map_err(|e| RenderError::gpu(back(), e))?
            .map_err(|e| RenderError::gpu(back(), e))?;
        let mut out = Vec::with_capacity((width * height * 4) as usize);
        {
            let data = readback
                .get_mapped_range(..)
                .map_err(|e| RenderError::gpu(back(), e))?;
            for y in 0..height as usize {
                let start = y * bpr as usize;
                out.extend_from_slice(&data[start..start + width as usize * 4]);
            }
        }
        readback.unmap();
        Ok(out)
    }

    /// Open the best adapter that can run compute shaders (see [`ADAPTER_ENV`] to choose one).
    pub fn new() -> Result<Gpu> {
        // Vulkan first; GL (EGL) only when Vulkan offers nothing usable, since probing EGL
        // headless is noisy. WGPU_BACKEND (e.g. "gl") overrides.
        let from_env = std::env::var("WGPU_BACKEND").is_ok();
        let tries: &[Backends] = if from_env {
            &[Backends::all()]
        } else {
            &[Backends::VULKAN, Backends::GL]
        };
        let mut last = Err(RenderError::NoAdapter("no backend tried".into()));
        for &b in tries {
            last = Gpu::open(b);
            if last.is_ok() {
                break;
            }
        }
        last
    }

    fn open(backends: Backends) -> Result<Gpu> {
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
        desc.backends = backends;
        let desc = desc.with_env();
        let backends = desc.backends;
        let instance = wgpu::Instance::new(desc);
        let adapters = pollster::block_on(instance.enumerate_adapters(backends));
        let wanted = std::env::var(ADAPTER_ENV).ok().map(|s| s.to_lowercase());
        let mut found: Vec<String> = Vec::new();
        let mut usable: Vec<wgpu::Adapter> = Vec::new();
        for a in adapters {
            let info = a.get_info();
            found.push(format!(
                "{} ({:?}, {:?})",
                info.name, info.backend, info.device_type
            ));
            let compute = a
                .get_downlevel_capabilities()
                .flags
                .contains(wgpu::DownlevelFlags::COMPUTE_SHADERS);
            let limits = a.limits();
            if !compute || limits.max_storage_buffers_per_shader_stage < 8 {
                tracing::debug!(adapter = %info.name, "skipped: no compute shaders or fewer than 8 storage buffers");
                continue;
            }
            if let Some(w) = &wanted {
                if !info.name.to_lowercase().contains(w) {
                    continue;
                }
            }
            usable.push(a);
        }
        usable.sort_by_key(|a| rank(&a.get_info()));
        let adapter = usable.into_iter().next().ok_or_else(|| {
            RenderError::NoAdapter(format!(
                "{backends:?} adapters seen: [{}]{}; install a GPU driver or Mesa's software Vulkan (Debian: mesa-vulkan-drivers, which scripts/setup.sh --test installs)",
                found.join(", "),
                wanted.map(|w| format!(", none matching {ADAPTER_ENV}={w:?}")).unwrap_or_default()
            ))
        })?;
        let info = adapter.get_info();
        let limits = adapter.limits();
        let software = info.device_type == DeviceType::Cpu;
        tracing::info!(
            adapter = %info.name,
            backend = ?info.backend,
            device_type = ?info.device_type,
            driver = %info.driver,
            "GPU adapter chosen{}",
            if software { " (software rasteriser: no hardware GPU found)" } else { "" }
        );
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("huetwin"),
            required_features: wgpu::Features::empty(),
            required_limits: limits.clone(),
            ..Default::default()
        }))
        .map_err(|e| RenderError::Device {
            adapter: info.name.clone(),
            message: e.to_string(),
        })?;
        Ok(Gpu {
            device,
            queue,
            info,
            limits,
        })
    }

    /// "name (backend, type)".
    pub fn describe(&self) -> String {
        format!(
            "{} ({:?}, {:?})",
            self.info.name, self.info.backend, self.info.device_type
        )
    }
}
