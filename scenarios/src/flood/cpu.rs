//! The CPU reference solver: the local inertial scheme in f64, rows in parallel with rayon.
//!
//! One step (the GPU kernels in `renderer` do the same passes in f32):
//! 1. Δt = min(α·Δx/√(g·h_max), Δt_max), shortened to land on the requested time.
//! 2. Face discharges (de Almeida et al. 2012, semi-implicit Manning friction):
//!    q' = [θ·q + (1−θ)/2·(q₋ + q₊) − g·h_f·Δt·(η_b − η_a)/Δx] / [1 + g·Δt·n²·|q| / h_f^(7/3)]
//!    with h_f = max(η_a, η_b) − max(z_a, z_b), and q' = 0 where h_f ≤ the depth threshold,
//!    at the domain edge and next to a blocked cell. A neighbour face q₋ or q₊ that is closed
//!    (domain edge, blocked cell) is replaced by the face's own q, so that the θ average does
//!    not drag discharges down along walls and boundaries.
//! 3. Outflow limiter: a cell whose outgoing faces would take more than its depth in this
//!    step scales them by depth / outflow, so no depth goes negative; a face takes the factor of
//!    the cell it drains, so both cells see the same discharge and mass is conserved.
//! 4. Continuity: h += Δt/Δx·(q_w − q_e + q_n − q_s) + rain + inflow; stage cells are then set
//!    to max(stage − z, 0) and the difference is booked as boundary exchange.

use super::model::{FloodModel, ForcingTable, GridSpec, SlotKind, SolverParams, NO_SLOT};
use super::solver::{FloodSolver, FloodState, FloodSummary, MassBalance};
use crate::error::Result;
use rayon::prelude::*;

#[derive(Clone, Copy)]
struct Acc {
    max_depth: f64,
    first_wet: f64,
    wet: f64,
    hazard_dur: f64,
    max_speed: f64,
    max_hazard: f64,
}

#[derive(Clone, Copy, Default)]
struct RowStats {
    h_max: f64,
    rain: f64,
    inflow: f64,
    boundary: f64,
    clamped: f64,
}

impl RowStats {
    fn merge(a: RowStats, b: RowStats) -> RowStats {
        RowStats {
            h_max: a.h_max.max(b.h_max),
            rain: a.rain + b.rain,
            inflow: a.inflow + b.inflow,
            boundary: a.boundary + b.boundary,
            clamped: a.clamped + b.clamped,
        }
    }
}

/// The CPU reference solver.
pub struct CpuSolver {
    grid: GridSpec,
    p: SolverParams,
    z: Vec<f64>,
    blocked: Vec<bool>,
    /// n² of each cell's east / south face; negative for a closed face.
    n2x: Vec<f64>,
    n2y: Vec<f64>,
    forcing: ForcingTable,
    /// Slot kind per slot: 0 rain, 1 inflow, 2 stage.
    slot_kind: Vec<u8>,
    h: Vec<f64>,
    /// Limited (actual) face discharges of the last step.
    qx: Vec<f64>,
    qy: Vec<f64>,
    /// Face discharges of the current step before limiting.
    qxn: Vec<f64>,
    qyn: Vec<f64>,
    fac: Vec<f64>,
    acc: Vec<Acc>,
    t: f64,
    steps: u64,
    h_max: f64,
    mass: MassBalance,
}

impl CpuSolver {
    /// Set up a solver at t = 0 (the model is checked first).
    pub fn new(model: &FloodModel) -> Result<CpuSolver> {
        model.validate()?;
        let g = model.grid.clone();
        let (nx, ny) = (g.nx, g.ny);
        let n = g.cells();
        let mut n2x = vec![-1.0; n];
        let mut n2y = vec![-1.0; n];
        for j in 0..ny {
            for i in 0..nx {
                let k = j * nx + i;
                if model.blocked[k] {
                    continue;
                }
                if i + 1 < nx && !model.blocked[k + 1] {
                    let nf = 0.5 * (model.manning[k] + model.manning[k + 1]);
                    n2x[k] = nf * nf;
                }
                if j + 1 < ny && !model.blocked[k + nx] {
                    let nf = 0.5 * (model.manning[k] + model.manning[k + nx]);
                    n2y[k] = nf * nf;
                }
            }
        }
        let forcing = model.forcing_table();
        let slot_kind = forcing
            .slots
            .iter()
            .map(|s| match s.kind {
                SlotKind::Rain => 0,
                SlotKind::Inflow => 1,
                SlotKind::Stage => 2,
            })
            .collect();
        let h = model.initial_depth();
        let z: Vec<f64> = model
            .z
            .iter()
            .zip(&model.blocked)
            .map(|(&z, &b)| if b { 0.0 } else { z })
            .collect();
        let h_max = h.iter().copied().fold(0.0, f64::max);
        let initial = h.iter().sum::<f64>() * g.cell_area();
        let acc = h
            .iter()
            .map(|&d| Acc {
                max_depth: d,
                first_wet: if d > model.params.wet_depth {
                    0.0
                } else {
                    f64::NAN
                },
                wet: 0.0,
                hazard_dur: 0.0,
                max_speed: 0.0,
                max_hazard: 0.0,
            })
            .collect();
        Ok(CpuSolver {
            grid: g,
            p: model.params.clone(),
            z,
            blocked: model.blocked.clone(),
            n2x,
            n2y,
            forcing,
            slot_kind,
            h,
            qx: vec![0.0; n],
            qy: vec![0.0; n],
            qxn: vec![0.0; n],
            qyn: vec![0.0; n],
            fac: vec![1.0; n],
            acc,
            t: 0.0,
            steps: 0,
            h_max,
            mass: MassBalance {
                initial_m3: initial,
                ..MassBalance::default()
            },
        })
    }

    /// The time step the scheme takes from the current state (before shortening).
    pub fn cfl_dt(&self) -> f64 {
        let p = &self.p;
        if self.h_max > 0.0 {
            (p.alpha * self.grid.dx / (p.g * self.h_max).sqrt()).min(p.max_dt)
        } else {
            p.max_dt
        }
    }

    /// One step, at most up to `t_end`.
    fn step(&mut self, t_end: f64) {
        let remaining = t_end - self.t;
        let mut dt = self.cfl_dt();
        let last = dt >= remaining;
        if last {
            dt = remaining;
        }
        let t1 = if last { t_end } else { self.t + dt };
        let vals = self.forcing.values(self.t, t1, self.grid.cell_area());
        let nx = self.grid.nx;
        let ny = self.grid.ny;
        let dx = self.grid.dx;
        let p = &self.p;
        let (g, theta, thr) = (p.g, p.theta, p.depth_threshold);
        let half = 0.5 * (1.0 - theta);
        let gdt = g * dt;
        let gdt_dx = g * dt / dx;
        // Rows per rayon task: enough cells that scheduling does not dominate.
        let min_rows = (16_384 / nx).max(1);

        // Pass 1: face discharges from the old (limited) ones.
        {
            let (h, z, qx, qy, n2x, n2y) =
                (&self.h, &self.z, &self.qx, &self.qy, &self.n2x, &self.n2y);
            let face = |ha: f64, za: f64, hb: f64, zb: f64, q: f64, ql: f64, qr: f64, n2: f64| {
                let ea = za + ha;
                let eb = zb + hb;
                let hf = ea.max(eb) - za.max(zb);
                if hf <= thr {
                    return 0.0;
                }
                let num = theta * q + half * (ql + qr) - gdt_dx * hf * (eb - ea);
                let hf73 = hf * hf * hf.cbrt();
                num / (1.0 + gdt * n2 * q.abs() / hf73)
            };
            self.qxn
                .par_chunks_mut(nx)
                .zip(self.qyn.par_chunks_mut(nx))
                .enumerate()
                .with_min_len(min_rows)
                .for_each(|(j, (qxr, qyr))| {
                    let row = j * nx;
                    for i in 0..nx {
                        let k = row + i;
                        let n2 = n2x[k];
                        // A closed neighbour face (edge, obstacle) lends the face its own q.
                        qxr[i] = if n2 >= 0.0 {
                            let q = qx[k];
                            let ql = if i > 0 && n2x[k - 1] >= 0.0 {
                                qx[k - 1]
                            } else {
                                q
                            };
                            let qr = if n2x[k + 1] >= 0.0 { qx[k + 1] } else { q };
                            face(h[k], z[k], h[k + 1], z[k + 1], q, ql, qr, n2)
                        } else {
                            0.0
                        };
                        let n2 = n2y[k];
                        qyr[i] = if n2 >= 0.0 {
                            let q = qy[k];
                            let ql = if j > 0 && n2y[k - nx] >= 0.0 {
                                qy[k - nx]
                            } else {
                                q
                            };
                            let qr = if n2y[k + nx] >= 0.0 { qy[k + nx] } else { q };
                            face(h[k], z[k], h[k + nx], z[k + nx], q, ql, qr, n2)
                        } else {
                            0.0
                        };
                    }
                });
        }

        // Pass 2: outflow limiter factors.
        {
            let (h, qxn, qyn) = (&self.h, &self.qxn, &self.qyn);
            let dt_dx = dt / dx;
            self.fac
                .par_chunks_mut(nx)
                .enumerate()
                .with_min_len(min_rows)
                .for_each(|(j, fr)| {
                    let row = j * nx;
                    for (i, f) in fr.iter_mut().enumerate() {
                        let k = row + i;
                        let qe = qxn[k];
                        let qw = if i > 0 { qxn[k - 1] } else { 0.0 };
                        let qs = qyn[k];
                        let qn = if j > 0 { qyn[k - nx] } else { 0.0 };
                        // Grouped x then y so that the sum is the same under a transpose.
                        let out = (qe.max(0.0) - qw.min(0.0)) + (qs.max(0.0) - qn.min(0.0));
                        let out_depth = out * dt_dx;
                        *f = if out_depth > h[k] {
                            h[k] / out_depth
                        } else {
                            1.0
                        };
                    }
                });
        }

        // Pass 3: continuity, forcing, summaries.
        let stats = {
            let (qxn, qyn, fac, z, blocked) =
                (&self.qxn, &self.qyn, &self.fac, &self.z, &self.blocked);
            let (rain_slot, special, slot_kind) =
                (&self.forcing.rain, &self.forcing.special, &self.slot_kind);
            let vals = &vals;
            let (wet, hazd) = (p.wet_depth, p.hazard_depth);
            let t_now = t1;
            let dt_dx = dt / dx;
            self.h
                .par_chunks_mut(nx)
                .zip(self.qx.par_chunks_mut(nx))
                .zip(self.qy.par_chunks_mut(nx))
                .zip(self.acc.par_chunks_mut(nx))
                .enumerate()
                .with_min_len(min_rows)
                .map(|(j, (((hr, qxr), qyr), ar))| {
                    let mut st = RowStats::default();
                    let row = j * nx;
                    for i in 0..nx {
                        let k = row + i;
                        if blocked[k] {
                            continue;
                        }
                        let mut qe = qxn[k];
                        if qe > 0.0 {
                            qe *= fac[k];
                        } else if qe < 0.0 {
                            qe *= fac[k + 1];
                        }
                        let mut qw = if i > 0 { qxn[k - 1] } else { 0.0 };
                        if qw > 0.0 {
                            qw *= fac[k - 1];
                        } else if qw < 0.0 {
                            qw *= fac[k];
                        }
                        let mut qs = qyn[k];
                        if qs > 0.0 {
                            qs *= fac[k];
                        } else if qs < 0.0 {
                            qs *= fac[k + nx];
                        }
                        let mut qn = if j > 0 { qyn[k - nx] } else { 0.0 };
                        if qn > 0.0 {
                            qn *= fac[k - nx];
                        } else if qn < 0.0 {
                            qn *= fac[k];
                        }
                        qxr[i] = qe;
                        qyr[i] = qs;
                        let mut hn = hr[i] + dt_dx * ((qw - qe) + (qn - qs));
                        let r = vals[rain_slot[k] as usize];
                        hn += r;
                        st.rain += r;
                        let sp = special[k];
                        let mut stage = None;
                        if sp != NO_SLOT {
                            let v = vals[sp as usize];
                            match slot_kind[sp as usize] {
                                1 => {
                                    hn += v;
                                    st.inflow += v;
                                }
                                _ => stage = Some(v),
                            }
                        }
                        if hn < 0.0 {
                            st.clamped -= hn;
                            hn = 0.0;
                        }
                        if let Some(level) = stage {
                            let hs = (level - z[k]).max(0.0);
                            st.boundary += hs - hn;
                            hn = hs;
                        }
                        hr[i] = hn;
                        st.h_max = st.h_max.max(hn);
                        let a = &mut ar[i];
                        if hn > a.max_depth {
                            a.max_depth = hn;
                        }
                        if hn > wet {
                            if a.first_wet.is_nan() {
                                a.first_wet = t_now;
                            }
                            a.wet += dt;
                            if hn > hazd {
                                a.hazard_dur += dt;
                            }
                            let u = 0.5 * (qw + qe) / hn;
                            let v = 0.5 * (qn + qs) / hn;
                            let speed = (u * u + v * v).sqrt();
                            a.max_speed = a.max_speed.max(speed);
                            a.max_hazard = a.max_hazard.max(hn * (speed + 0.5));
                        }
                    }
                    st
                })
                .reduce(RowStats::default, RowStats::merge)
        };
        let area = self.grid.cell_area();
        self.mass.rain_m3 += stats.rain * area;
        self.mass.inflow_m3 += stats.inflow * area;
        self.mass.boundary_net_m3 += stats.boundary * area;
        self.mass.clamped_m3 += stats.clamped * area;
        self.h_max = stats.h_max;
        self.t = t1;
        self.steps += 1;
        let _ = ny;
    }
}

impl FloodSolver for CpuSolver {
    fn describe(&self) -> String {
        format!(
            "cpu reference solver (f64, rayon, {} threads)",
            rayon::current_num_threads()
        )
    }

    fn time(&self) -> f64 {
        self.t
    }

    fn steps(&self) -> u64 {
        self.steps
    }

    fn advance_to(&mut self, t_end: f64) -> Result<()> {
        while self.t < t_end {
            self.step(t_end);
        }
        Ok(())
    }

    fn state(&mut self) -> Result<FloodState> {
        Ok(FloodState {
            time: self.t,
            h: self.h.clone(),
            qx: self.qx.clone(),
            qy: self.qy.clone(),
        })
    }

    fn summary(&mut self) -> Result<FloodSummary> {
        let a = &self.acc;
        Ok(FloodSummary {
            max_depth: a.iter().map(|a| a.max_depth).collect(),
            first_wet: a.iter().map(|a| a.first_wet).collect(),
            wet_duration: a.iter().map(|a| a.wet).collect(),
            hazard_duration: a.iter().map(|a| a.hazard_dur).collect(),
            max_speed: a.iter().map(|a| a.max_speed).collect(),
            max_hazard: a.iter().map(|a| a.max_hazard).collect(),
        })
    }

    fn mass_balance(&mut self) -> Result<MassBalance> {
        let mut m = self.mass.clone();
        m.final_m3 = self.h.iter().sum::<f64>() * self.grid.cell_area();
        Ok(m.close())
    }
}
