//! The GPU flood solver: the local inertial scheme of `scenarios::flood` as WGSL compute
//! kernels (`flood.wgsl`), behind the same [`FloodSolver`] trait as the CPU reference.
//!
//! * f32 state: the water level, not the depth, as a compensated pair (hi, lo) above a datum
//!   (the middle of the open cells' ground range), so that levels are small numbers, still
//!   water's equal levels difference to exactly zero (a lake at rest stays at rest, as on the
//!   CPU) and small additions (rain of micrometres a step) are kept exactly; depth =
//!   (hi − z) + lo;
//! * separate buffers for the old (limited) and the new face discharges;
//! * h_max by a parallel reduction: each workgroup of the continuity kernel writes the maximum
//!   of its new depths, and a one-workgroup kernel reduces them and sets the next Δt with the
//!   CPU solver's schedule ([`scenarios::flood::cpu::group_dt`]): at the first step of each
//!   `advance_to` call and of each group of `dt_every` steps, from a bound of the deepest water
//!   over the group; the clock also starts a new group at once when the group's Δt would take
//!   a step past α, so every step keeps its Courant number at or below α
//!   ([`GpuSolver::max_courant`]);
//! * steps run in batches without the CPU: the clock kernel computes Δt and the time on the
//!   GPU (Kahan-summed f32 within a batch, f64 across batches on the CPU) and evaluates the
//!   rain, inflow and stage series; the CPU reads back 32 bytes per batch.
//!
//! Tolerance against the CPU solver: 1e-4 m of depth on the verification grids
//! (`renderer/tests/flood_gpu.rs`).

use crate::error::{RenderError, Result};
use crate::gpu::Gpu;
use bytemuck::{Pod, Zeroable};
use scenarios::flood::cpu::{DEPTH_CUSHION, FALLBACK_GROUPS, FLOW_MARGIN, FLOW_MEMORY, THIN_WATER};
use scenarios::flood::model::{ForcingTable, SlotKind, NO_SLOT};
use scenarios::flood::{FloodModel, FloodSolver, FloodState, FloodSummary, MassBalance};
use wgpu::util::DeviceExt;

const WG: u32 = 256;
const MISC_HEAD: usize = 16;
const MAX_BATCH: u64 = 256;

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    nx: u32,
    ny: u32,
    n_cells: u32,
    n_slots: u32,
    n_wg: u32,
    wg_x: u32,
    slot_base: u32,
    part_base: u32,
    dx: f32,
    g: f32,
    theta: f32,
    alpha: f32,
    depth_thr: f32,
    max_dt: f32,
    wet: f32,
    hazard: f32,
    target: f32,
    t0: f32,
    /// Steps of a group sharing one Δt.
    dt_every: u32,
    /// Groups taken as single steps after one would have gone past α.
    fallback: u32,
    /// Single steps while the deepest water is thinner than this (m).
    thin: f32,
    flow_margin: f32,
    flow_memory: f32,
    cushion: f32,
    slack: f32,
    /// 0 (a value the shader compiler cannot fold: see `opaque` in flood.wgsl).
    zero: u32,
    /// Index in `misc` of the free-outflow table.
    out_base: u32,
    pad: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Cell {
    z: f32,
    n: f32,
    rain: u32,
    code: u32,
}

struct Pipes {
    init_max: (wgpu::ComputePipeline, wgpu::BindGroup),
    clock: (wgpu::ComputePipeline, wgpu::BindGroup),
    flux: (wgpu::ComputePipeline, wgpu::BindGroup),
    limit: (wgpu::ComputePipeline, wgpu::BindGroup),
    update: (wgpu::ComputePipeline, wgpu::BindGroup),
}

/// The wgpu flood solver.
pub struct GpuSolver {
    gpu: Gpu,
    model: FloodModel,
    forcing: ForcingTable,
    datum: f64,
    params: Params,
    wg_x: u32,
    wg_y: u32,
    params_buf: wgpu::Buffer,
    lev: wgpu::Buffer,
    /// The cells as uploaded (their shifted ground and blocked bit give depths from levels).
    cells: Vec<Cell>,
    q: wgpu::Buffer,
    acc: wgpu::Buffer,
    acc2: wgpu::Buffer,
    misc: wgpu::Buffer,
    series: wgpu::Buffer,
    readback: wgpu::Buffer,
    pipes: Pipes,
    initial_m3: f64,
    t: f64,
    steps: u64,
    last_dt: f64,
    /// Checked before every dispatch batch ([`FloodSolver::set_cancel`]).
    cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

fn storage(
    device: &wgpu::Device,
    label: &str,
    bytes: &[u8],
    extra: wgpu::BufferUsages,
) -> wgpu::Buffer {
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents: bytes,
        usage: wgpu::BufferUsages::STORAGE | extra,
    })
}

impl GpuSolver {
    /// Open the best adapter (see [`Gpu::new`]) and set the model up on it.
    pub fn new(model: &FloodModel) -> Result<GpuSolver> {
        GpuSolver::with_gpu(Gpu::new()?, model)
    }

    /// Set the model up on an open device.
    pub fn with_gpu(gpu: Gpu, model: &FloodModel) -> Result<GpuSolver> {
        model.validate().map_err(|e| RenderError::Invalid {
            what: "flood model".into(),
            message: e.to_string(),
        })?;
        let g = &model.grid;
        let n = g.cells();
        let nx = g.nx;
        let n_wg = n.div_ceil(WG as usize);
        let wg_x = n_wg.min(65_535);
        let wg_y = n_wg.div_ceil(wg_x);
        let max_wg = gpu.limits.max_compute_workgroups_per_dimension as usize;
        if wg_x > max_wg || wg_y > max_wg {
            return Err(RenderError::Invalid {
                what: "flood grid".into(),
                message: format!("{n} cells need more workgroups than the adapter allows"),
            });
        }
        let biggest = (n * std::mem::size_of::<Cell>()) as u64;
        if biggest > gpu.limits.max_storage_buffer_binding_size {
            return Err(RenderError::Invalid {
                what: "flood grid".into(),
                message: format!(
                    "{n} cells need {biggest} bytes per buffer; the adapter binds at most {}",
                    gpu.limits.max_storage_buffer_binding_size
                ),
            });
        }
        // Datum: the middle of the open cells' ground range.
        let (lo, hi) = (0..n)
            .filter(|&k| !model.blocked[k])
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), k| {
                (a.min(model.z[k]), b.max(model.z[k]))
            });
        let datum = if lo.is_finite() { 0.5 * (lo + hi) } else { 0.0 };
        let forcing = model.forcing_table();
        // Free-outflow edge cells: their entry (from 1) in the table, packed above the rain slot.
        let outflow = model.outflow_cells();
        let mut out_entry = vec![0u32; n];
        for (e, o) in outflow.iter().enumerate() {
            out_entry[o.cell] = e as u32 + 1;
        }
        if forcing.slots.len() > 0xFFFF || outflow.len() >= 0xFFFF {
            return Err(RenderError::Invalid {
                what: "flood forcing".into(),
                message: format!(
                    "{} series and {} outflow cells: the GPU solver takes at most 65,535 of each",
                    forcing.slots.len(),
                    outflow.len()
                ),
            });
        }
        let cells: Vec<Cell> = (0..n)
            .map(|k| {
                let (i, j) = (k % nx, k / nx);
                if model.blocked[k] {
                    return Cell {
                        z: 0.0,
                        n: 0.0,
                        rain: 0,
                        code: 1 | (0xFF_FFFF << 8),
                    };
                }
                let mut code = 0u32;
                if i + 1 < nx && !model.blocked[k + 1] {
                    code |= 2;
                }
                if j + 1 < g.ny && !model.blocked[k + nx] {
                    code |= 4;
                }
                let sp = forcing.special[k];
                if sp == NO_SLOT {
                    code |= 0xFF_FFFF << 8;
                } else {
                    if forcing.slots[sp as usize].kind == SlotKind::Stage {
                        code |= 8;
                    }
                    code |= sp << 8;
                }
                Cell {
                    z: (model.z[k] - datum) as f32,
                    n: model.manning[k] as f32,
                    rain: forcing.rain[k] | (out_entry[k] << 16),
                    code,
                }
            })
            .collect();
        if forcing.slots.len() >= 0xFF_FFFF {
            return Err(RenderError::Invalid {
                what: "flood forcing".into(),
                message: "too many inflow and stage series".into(),
            });
        }
        // Levels above the datum: z + h in f64, then rounded once, so that cells of one still
        // lake get the same f32 level; dry cells get exactly their ground.
        let lev0: Vec<[f32; 2]> = model
            .initial_depth()
            .iter()
            .enumerate()
            .map(|(k, &d)| {
                if model.blocked[k] {
                    [0.0, 0.0]
                } else {
                    [(model.z[k] + d - datum) as f32, 0.0]
                }
            })
            .collect();
        let h0 = depths(&lev0, &cells);
        let initial_m3 = h0.iter().sum::<f64>() * g.cell_area();
        let p = &model.params;
        let acc0: Vec<[f32; 4]> = h0
            .iter()
            .map(|&d| {
                let w = if d > p.wet_depth { 0.0 } else { -1.0 };
                [d as f32, w, 0.0, 0.0]
            })
            .collect();
        let n_slots = forcing.slots.len();
        let params = Params {
            nx: nx as u32,
            ny: g.ny as u32,
            n_cells: n as u32,
            n_slots: n_slots as u32,
            n_wg: n_wg as u32,
            wg_x: wg_x as u32,
            slot_base: MISC_HEAD as u32,
            part_base: (MISC_HEAD + n_slots) as u32,
            dx: g.dx as f32,
            g: p.g as f32,
            theta: p.theta as f32,
            alpha: p.alpha as f32,
            depth_thr: p.depth_threshold as f32,
            max_dt: p.max_dt as f32,
            wet: p.wet_depth as f32,
            hazard: p.hazard_depth as f32,
            target: 0.0,
            t0: 0.0,
            dt_every: p.dt_every,
            fallback: FALLBACK_GROUPS,
            thin: (THIN_WATER * p.depth_threshold) as f32,
            flow_margin: FLOW_MARGIN as f32,
            flow_memory: FLOW_MEMORY as f32,
            cushion: DEPTH_CUSHION as f32,
            slack: 1e-5,
            zero: 0,
            out_base: (MISC_HEAD + n_slots + n_wg) as u32,
            pad: 0,
        };
        let d = &gpu.device;
        let scope = d.push_error_scope(wgpu::ErrorFilter::Validation);
        use wgpu::BufferUsages as U;
        let params_buf = d.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("flood params"),
            contents: bytemuck::bytes_of(&params),
            usage: U::UNIFORM | U::COPY_DST,
        });
        let cell = storage(d, "flood cells", bytemuck::cast_slice(&cells), U::empty());
        let lev = storage(
            d,
            "flood levels",
            bytemuck::cast_slice(&lev0),
            U::COPY_SRC | U::COPY_DST,
        );
        let zeros2 = vec![[0f32; 2]; n];
        let q = storage(
            d,
            "flood q",
            bytemuck::cast_slice(&zeros2),
            U::COPY_SRC | U::COPY_DST,
        );
        let qn = storage(d, "flood q new", bytemuck::cast_slice(&zeros2), U::empty());
        let fac = storage(
            d,
            "flood limiter",
            bytemuck::cast_slice(&vec![1f32; n]),
            U::empty(),
        );
        let acc = storage(
            d,
            "flood summaries",
            bytemuck::cast_slice(&acc0),
            U::COPY_SRC,
        );
        let acc2 = storage(
            d,
            "flood summaries 2",
            bytemuck::cast_slice(&vec![[0f32; 4]; n]),
            U::COPY_SRC,
        );
        let mut misc0 = vec![0f32; MISC_HEAD + n_slots + n_wg];
        for o in &outflow {
            misc0.extend([o.coef as f32, o.exponent as f32]);
        }
        let misc = storage(
            d,
            "flood misc",
            bytemuck::cast_slice(&misc0),
            U::COPY_SRC | U::COPY_DST,
        );
        let n_points: usize = forcing.slots.iter().map(|s| s.series.t.len()).sum();
        let series = storage(
            d,
            "flood series",
            bytemuck::cast_slice(&vec![[0f32; 2]; n_points.max(1)]),
            U::COPY_DST,
        );
        let mut off = 0u32;
        let slot_desc: Vec<[u32; 4]> = forcing
            .slots
            .iter()
            .map(|s| {
                let kind = match s.kind {
                    SlotKind::Rain => 0,
                    SlotKind::Inflow => 1,
                    SlotKind::Stage => 2,
                };
                let r = [
                    off,
                    s.series.t.len() as u32,
                    kind,
                    s.cell.unwrap_or(0) as u32,
                ];
                off += s.series.t.len() as u32;
                r
            })
            .collect();
        let slots = storage(
            d,
            "flood slots",
            bytemuck::cast_slice(if slot_desc.is_empty() {
                &[[0u32; 4]][..]
            } else {
                &slot_desc
            }),
            U::empty(),
        );
        let readback = d.create_buffer(&wgpu::BufferDescriptor {
            label: Some("flood clock readback"),
            size: (MISC_HEAD * 4) as u64,
            usage: U::MAP_READ | U::COPY_DST,
            mapped_at_creation: false,
        });
        let module = d.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("flood.wgsl"),
            source: wgpu::ShaderSource::Wgsl(include_str!("flood.wgsl").into()),
        });
        let bufs: [(u32, &wgpu::Buffer); 11] = [
            (0, &params_buf),
            (1, &cell),
            (2, &lev),
            (3, &q),
            (4, &qn),
            (5, &fac),
            (6, &acc),
            (7, &acc2),
            (8, &misc),
            (9, &series),
            (10, &slots),
        ];
        let make = |entry: &str, bindings: &[u32]| {
            let pipe = d.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: None,
                module: &module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            });
            let entries: Vec<wgpu::BindGroupEntry> = bindings
                .iter()
                .map(|&b| wgpu::BindGroupEntry {
                    binding: b,
                    resource: bufs[b as usize].1.as_entire_binding(),
                })
                .collect();
            let bg = d.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(entry),
                layout: &pipe.get_bind_group_layout(0),
                entries: &entries,
            });
            (pipe, bg)
        };
        let pipes = Pipes {
            init_max: make("init_max", &[0, 1, 2, 8]),
            clock: make("clock", &[0, 1, 2, 8, 9, 10]),
            flux: make("flux", &[0, 1, 2, 3, 4, 8]),
            limit: make("limit", &[0, 1, 2, 4, 5, 8]),
            update: make("update", &[0, 1, 2, 3, 4, 5, 6, 7, 8]),
        };
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(RenderError::gpu("setting up the flood kernels", e));
        }
        let s = GpuSolver {
            gpu,
            model: model.clone(),
            forcing,
            datum,
            params,
            wg_x: wg_x as u32,
            wg_y: wg_y as u32,
            params_buf,
            lev,
            cells,
            q,
            acc,
            acc2,
            misc,
            series,
            readback,
            pipes,
            initial_m3,
            t: 0.0,
            steps: 0,
            last_dt: 0.0,
            cancel: None,
        };
        // Partial maxima of the initial depth.
        let mut enc = s.gpu.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_pipeline(&s.pipes.init_max.0);
            pass.set_bind_group(0, &s.pipes.init_max.1, &[]);
            pass.dispatch_workgroups(s.wg_x, s.wg_y, 1);
        }
        s.gpu.queue.submit([enc.finish()]);
        s.wait()?;
        tracing::info!(adapter = %s.gpu.describe(), cells = n, datum, "GPU flood solver ready");
        Ok(s)
    }

    /// The largest Courant number Δt·√(g·h_max)/Δx any step ran at so far, h_max being the
    /// deepest water at the start of the step: at most α (the clock starts a new group of
    /// steps rather than go past it).
    pub fn max_courant(&mut self) -> Result<f64> {
        let head = self.read(&self.misc, 0, (MISC_HEAD * 4) as u64)?;
        let head: Vec<f32> = bytemuck::pod_collect_to_vec(&head);
        Ok(head[8] as f64)
    }

    /// Depths (m) of every cell now, in f64 from the level pairs (exact: the f32 values and
    /// their differences are exact in f64).
    fn depth_now(&self) -> Result<Vec<f64>> {
        let lev: Vec<[f32; 2]> =
            bytemuck::pod_collect_to_vec(&self.read(&self.lev, 0, self.lev.size())?);
        Ok(depths(&lev, &self.cells))
    }

    /// The adapter the solver runs on.
    pub fn adapter(&self) -> String {
        self.gpu.describe()
    }

    /// Bytes the kernels move to and from GPU memory per cell update, assuming neighbours'
    /// values come from cache: flux 40 (cell 16, level pair 8, q 8 read; qn 8 written), limit
    /// 24 (level pair 8, ground 4, qn 8 read; fac 4 written), update 52 (cell 16, level pair 8,
    /// qn 8, fac 4 read; q 8, level pair 8 written), plus 64 for a wet cell (summaries acc and
    /// acc2 read and written). The clock kernel is negligible.
    pub fn bytes_per_cell_update(wet_fraction: f64) -> f64 {
        116.0 + 64.0 * wet_fraction.clamp(0.0, 1.0)
    }

    fn wait(&self) -> Result<()> {
        self.gpu
            .device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| RenderError::gpu("waiting for the device", e))
    }

    /// Copy `size` bytes of `src` from `offset` to the CPU.
    fn read(&self, src: &wgpu::Buffer, offset: u64, size: u64) -> Result<Vec<u8>> {
        let staging = if size <= self.readback.size() {
            None
        } else {
            Some(self.gpu.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("flood staging"),
                size,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }))
        };
        let dst = staging.as_ref().unwrap_or(&self.readback);
        let mut enc = self.gpu.device.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(src, offset, dst, 0, size);
        self.gpu.queue.submit([enc.finish()]);
        self.map_read(dst, size)
    }

    fn map_read(&self, buf: &wgpu::Buffer, size: u64) -> Result<Vec<u8>> {
        let (tx, rx) = std::sync::mpsc::channel();
        buf.map_async(wgpu::MapMode::Read, 0..size, move |r| {
            let _ = tx.send(r);
        });
        self.wait()?;
        rx.recv()
            .map_err(|e| RenderError::gpu("mapping a buffer", e))?
            .map_err(|e| RenderError::gpu("mapping a buffer", e))?;
        let out = buf
            .get_mapped_range(0..size)
            .map_err(|e| RenderError::gpu("mapping a buffer", e))?
            .to_vec();
        buf.unmap();
        Ok(out)
    }

    fn floats(&self, src: &wgpu::Buffer) -> Result<Vec<f32>> {
        let bytes = self.read(src, 0, src.size())?;
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }

    /// Upload the series with times relative to `start` (and stages relative to the datum).
    fn upload_series(&self, start: f64) {
        let mut pts: Vec<[f32; 2]> = Vec::new();
        for s in &self.forcing.slots {
            let shift = if s.kind == SlotKind::Stage {
                self.datum
            } else {
                0.0
            };
            for (t, v) in s.series.t.iter().zip(&s.series.v) {
                pts.push([(t - start) as f32, (v - shift) as f32]);
            }
        }
        if !pts.is_empty() {
            self.gpu
                .queue
                .write_buffer(&self.series, 0, bytemuck::cast_slice(&pts));
        }
    }

    /// One batch of at most `k` steps towards `t_end`.
    fn batch(&mut self, t_end: f64, k: u64) -> Result<()> {
        let start = self.t;
        self.params.target = (t_end - start) as f32;
        self.params.t0 = start as f32;
        let q = &self.gpu.queue;
        q.write_buffer(&self.params_buf, 0, bytemuck::bytes_of(&self.params));
        q.write_buffer(&self.misc, 0, bytemuck::cast_slice(&[0f32; 5]));
        self.upload_series(start);
        let mut enc = self.gpu.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            for _ in 0..k {
                let p = &self.pipes;
                pass.set_pipeline(&p.clock.0);
                pass.set_bind_group(0, &p.clock.1, &[]);
                pass.dispatch_workgroups(1, 1, 1);
                for (pipe, bg) in [&p.flux, &p.limit, &p.update] {
                    pass.set_pipeline(pipe);
                    pass.set_bind_group(0, bg, &[]);
                    pass.dispatch_workgroups(self.wg_x, self.wg_y, 1);
                }
            }
        }
        enc.copy_buffer_to_buffer(&self.misc, 0, &self.readback, 0, (MISC_HEAD * 4) as u64);
        self.gpu.queue.submit([enc.finish()]);
        let head: Vec<f32> =
            bytemuck::pod_collect_to_vec(&self.map_read(&self.readback, (MISC_HEAD * 4) as u64)?);
        let elapsed = head[0];
        self.steps += head[4] as u64;
        if head[2] > 0.0 {
            self.last_dt = head[2] as f64;
        }
        self.t = if elapsed >= self.params.target {
            t_end
        } else {
            start + elapsed as f64
        };
        if !self.t.is_finite() || !elapsed.is_finite() {
            return Err(RenderError::gpu("flood step", "the time became non-finite"));
        }
        Ok(())
    }
}

impl FloodSolver for GpuSolver {
    fn describe(&self) -> String {
        format!("gpu solver (wgpu, f32): {}", self.gpu.describe())
    }

    fn time(&self) -> f64 {
        self.t
    }

    fn steps(&self) -> u64 {
        self.steps
    }

    fn advance_to(&mut self, t_end: f64) -> scenarios::Result<()> {
        // A new group of steps (a new Δt) at the call's first step, as the CPU solver does:
        // no steps taken in a group of none.
        self.gpu
            .queue
            .write_buffer(&self.misc, 7 * 4, bytemuck::cast_slice(&[0f32]));
        self.gpu
            .queue
            .write_buffer(&self.misc, 14 * 4, bytemuck::cast_slice(&[0f32]));
        while self.t < t_end {
            // Between batches of at most MAX_BATCH steps, never inside one.
            scenarios::flood::solver::check_cancel(self.cancel.as_ref())?;
            let k = if self.last_dt > 0.0 {
                (((t_end - self.t) / self.last_dt).ceil() as u64 + 2).clamp(1, MAX_BATCH)
            } else {
                8
            };
            self.batch(t_end, k)?;
        }
        Ok(())
    }

    fn set_cancel(&mut self, cancel: std::sync::Arc<std::sync::atomic::AtomicBool>) {
        self.cancel = Some(cancel);
    }

    fn state(&mut self) -> scenarios::Result<FloodState> {
        let h = self.depth_now()?;
        let q = self.floats(&self.q)?;
        Ok(FloodState {
            time: self.t,
            h,
            qx: q.iter().step_by(2).map(|&v| v as f64).collect(),
            qy: q.iter().skip(1).step_by(2).map(|&v| v as f64).collect(),
        })
    }

    fn summary(&mut self) -> scenarios::Result<FloodSummary> {
        let a = self.floats(&self.acc)?;
        let b = self.floats(&self.acc2)?;
        let col = |v: &[f32], c: usize| -> Vec<f64> {
            v.iter().skip(c).step_by(4).map(|&x| x as f64).collect()
        };
        let first_wet = col(&a, 1)
            .into_iter()
            .map(|t| if t < 0.0 { f64::NAN } else { t })
            .collect();
        Ok(FloodSummary {
            max_depth: col(&a, 0),
            first_wet,
            wet_duration: col(&a, 2),
            hazard_duration: col(&a, 3),
            max_speed: col(&b, 0),
            max_hazard: col(&b, 1),
        })
    }

    fn mass_balance(&mut self) -> scenarios::Result<MassBalance> {
        let area = self.model.grid.cell_area();
        let h = self.depth_now()?;
        let b = self.floats(&self.acc2)?;
        let exch: f64 = b.iter().skip(2).step_by(4).map(|&x| x as f64).sum();
        let clamped: f64 = b.iter().skip(3).step_by(4).map(|&x| x as f64).sum();
        Ok(MassBalance {
            initial_m3: self.initial_m3,
            final_m3: h.iter().sum::<f64>() * area,
            rain_m3: self.model.rain_volume(0.0, self.t),
            inflow_m3: self.model.inflow_volume(0.0, self.t),
            boundary_net_m3: exch * area,
            clamped_m3: clamped * area,
            ..MassBalance::default()
        }
        .close())
    }
}

/// Depths (m) from level pairs and cells: (hi − z) + lo in f64; 0 for blocked cells.
fn depths(lev: &[[f32; 2]], cells: &[Cell]) -> Vec<f64> {
    lev.iter()
        .zip(cells)
        .map(|(l, c)| {
            if c.code & 1 != 0 {
                0.0
            } else {
                (l[0] as f64 - c.z as f64) + l[1] as f64
            }
        })
        .collect()
}

/// The GPU solver as a [`scenarios::flood::SolverFactory`].
pub fn gpu_solver(model: &FloodModel) -> scenarios::Result<Box<dyn FloodSolver>> {
    Ok(Box::new(GpuSolver::new(model)?))
}
