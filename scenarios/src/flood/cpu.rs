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

/// Summaries of a cell, touched only while it is wet (the largest depth is kept apart).
#[derive(Clone, Copy)]
struct Acc {
    first_wet: f64,
    wet: f64,
    hazard_dur: f64,
    max_speed: f64,
    max_hazard: f64,
}

/// Static data of a cell: ground and the n² of its east and south faces (negative: closed).
#[derive(Clone, Copy)]
struct Cell {
    z: f64,
    n2e: f32,
    n2s: f32,
}

/// x^(-1/3) for a positive finite x, without a division: a bit-level first guess (within
/// 4 %) and four Newton steps y ← y·(4 − x·y³)/3 (errors 2e-3, 1e-5, 3e-10, then rounding).
/// `f64::cbrt` goes through a portable software routine here and took a quarter of the time.
#[inline]
fn inv_cbrt(x: f64) -> f64 {
    let mut y = f64::from_bits(0x553E_F0FF_289D_D796 - x.to_bits() / 3);
    for _ in 0..4 {
        y *= (4.0 - x * y * y * y) * (1.0 / 3.0);
    }
    y
}

/// Blocked-cell flag in [`CpuSolver::code`]; the special slot sits in the other bits.
const BLOCKED: u32 = 1 << 31;
const NO_SPECIAL: u32 = BLOCKED - 1;

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
    cell: Vec<Cell>,
    /// Rain slot per cell.
    rain: Vec<u16>,
    /// Special slot per cell ([`NO_SPECIAL`] for none), or [`BLOCKED`].
    code: Vec<u32>,
    forcing: ForcingTable,
    /// Slot kind per slot: 0 rain, 1 inflow, 2 stage.
    slot_kind: Vec<u8>,
    /// Depth now, and the buffer the next step writes.
    h: Vec<f64>,
    h_next: Vec<f64>,
    /// Limited (actual) face discharges of the last step: (east, south) per cell.
    q: Vec<[f64; 2]>,
    /// Face discharges of the current step before limiting.
    qn: Vec<[f64; 2]>,
    max_depth: Vec<f64>,
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
        let forcing = model.forcing_table();
        if forcing.slots.len() >= NO_SPECIAL as usize || forcing.slots.len() > u16::MAX as usize {
            return Err(crate::ScenarioError::invalid(
                "flood forcing",
                "too many series",
            ));
        }
        let mut cell = Vec::with_capacity(n);
        let mut code = Vec::with_capacity(n);
        for j in 0..ny {
            for i in 0..nx {
                let k = j * nx + i;
                if model.blocked[k] {
                    cell.push(Cell {
                        z: 0.0,
                        n2e: -1.0,
                        n2s: -1.0,
                    });
                    code.push(BLOCKED);
                    continue;
                }
                let mut c = Cell {
                    z: model.z[k],
                    n2e: -1.0,
                    n2s: -1.0,
                };
                if i + 1 < nx && !model.blocked[k + 1] {
                    let nf = 0.5 * (model.manning[k] + model.manning[k + 1]);
                    c.n2e = (nf * nf) as f32;
                }
                if j + 1 < ny && !model.blocked[k + nx] {
                    let nf = 0.5 * (model.manning[k] + model.manning[k + nx]);
                    c.n2s = (nf * nf) as f32;
                }
                cell.push(c);
                let sp = forcing.special[k];
                code.push(if sp == NO_SLOT { NO_SPECIAL } else { sp });
            }
        }
        let rain = forcing.rain.iter().map(|&r| r as u16).collect();
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
        let h_max = h.iter().copied().fold(0.0, f64::max);
        let initial = h.iter().sum::<f64>() * g.cell_area();
        let acc = h
            .iter()
            .map(|&d| Acc {
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
            cell,
            rain,
            code,
            forcing,
            slot_kind,
            h_next: h.clone(),
            max_depth: h.clone(),
            h,
            q: vec![[0.0; 2]; n],
            qn: vec![[0.0; 2]; n],
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
        let dx = self.grid.dx;
        let p = &self.p;
        let (g, theta, thr) = (p.g, p.theta, p.depth_threshold);
        let half = 0.5 * (1.0 - theta);
        let gdt = g * dt;
        let gdt_dx = g * dt / dx;
        let dt_dx = dt / dx;
        // Rows per rayon task: enough cells that scheduling does not dominate.
        let min_rows = (16_384 / nx).max(1);

        // Pass 1: face discharges from the old (limited) ones. Per row, first the numerator
        // and the friction coefficient of every face, then (in a loop without branches, whose
        // iterations the processor overlaps) h_f^(-7/3) and the quotient.
        {
            let (h, q, cell) = (&self.h, &self.q, &self.cell);
            // (h_f or 1 when the face carries no flow, numerator, g·Δt·n²·|q| or 0).
            let face = |ha: f64, za: f64, hb: f64, zb: f64, q: f64, ql: f64, qr: f64, n2: f64| {
                let ea = za + ha;
                let eb = zb + hb;
                let hf = ea.max(eb) - za.max(zb);
                if hf <= thr {
                    return (1.0, 0.0, 0.0);
                }
                let num = theta * q + half * (ql + qr) - gdt_dx * hf * (eb - ea);
                (hf, num, gdt * n2 * q.abs())
            };
            self.qn
                .par_chunks_mut(nx)
                .enumerate()
                .with_min_len(min_rows)
                .for_each_init(
                    || vec![(1.0, 0.0, 0.0); 2 * nx],
                    |parts, (j, row)| {
                        let base = j * nx;
                        for i in 0..nx {
                            let k = base + i;
                            let c = cell[k];
                            let q0 = q[k];
                            // A closed neighbour face (edge, obstacle) lends the face its own q.
                            parts[2 * i] = if c.n2e >= 0.0 {
                                let e = cell[k + 1];
                                let ql = if i > 0 && cell[k - 1].n2e >= 0.0 {
                                    q[k - 1][0]
                                } else {
                                    q0[0]
                                };
                                let qr = if e.n2e >= 0.0 { q[k + 1][0] } else { q0[0] };
                                face(h[k], c.z, h[k + 1], e.z, q0[0], ql, qr, c.n2e as f64)
                            } else {
                                (1.0, 0.0, 0.0)
                            };
                            parts[2 * i + 1] = if c.n2s >= 0.0 {
                                let s = cell[k + nx];
                                let ql = if j > 0 && cell[k - nx].n2s >= 0.0 {
                                    q[k - nx][1]
                                } else {
                                    q0[1]
                                };
                                let qr = if s.n2s >= 0.0 { q[k + nx][1] } else { q0[1] };
                                face(h[k], c.z, h[k + nx], s.z, q0[1], ql, qr, c.n2s as f64)
                            } else {
                                (1.0, 0.0, 0.0)
                            };
                        }
                        for (out, pair) in row.iter_mut().zip(parts.chunks_exact(2)) {
                            let mut v = [0.0; 2];
                            for (o, &(hf, num, fr)) in v.iter_mut().zip(pair) {
                                // 1 / h_f^(7/3) = (h_f^(-1/3))^7.
                                let r = inv_cbrt(hf);
                                let r2 = r * r;
                                let r7 = r2 * r2 * r2 * r;
                                *o = num / (1.0 + fr * r7);
                            }
                            *out = v;
                        }
                    },
                );
        }

        // Pass 2: outflow limiter (factors computed where needed from the new discharges),
        // continuity, forcing, summaries. Reads the old depth, writes the new one.
        let stats = {
            let (qn, h, cell, code, rain) = (&self.qn, &self.h, &self.cell, &self.code, &self.rain);
            let slot_kind = &self.slot_kind;
            let vals = &vals;
            let (wet, hazd) = (p.wet_depth, p.hazard_depth);
            let t_now = t1;
            // The outflow factor of cell m (column i, row j): its outgoing discharges may take
            // at most its depth.
            let factor = |m: usize, i: usize, j: usize| {
                let o = qn[m];
                let qw = if i > 0 { qn[m - 1][0] } else { 0.0 };
                let qnn = if j > 0 { qn[m - nx][1] } else { 0.0 };
                // Grouped x then y so that the sum is the same under a transpose.
                let out = (o[0].max(0.0) - qw.min(0.0)) + (o[1].max(0.0) - qnn.min(0.0));
                let out_depth = out * dt_dx;
                if out_depth > h[m] {
                    h[m] / out_depth
                } else {
                    1.0
                }
            };
            self.h_next
                .par_chunks_mut(nx)
                .zip(self.q.par_chunks_mut(nx))
                .zip(self.max_depth.par_chunks_mut(nx))
                .zip(self.acc.par_chunks_mut(nx))
                .enumerate()
                .with_min_len(min_rows)
                .map(|(j, (((hr, qr), mr), ar))| {
                    let mut st = RowStats::default();
                    let base = j * nx;
                    for i in 0..nx {
                        let k = base + i;
                        let cd = code[k];
                        if cd == BLOCKED {
                            hr[i] = 0.0;
                            continue;
                        }
                        let mut own: Option<f64> = None;
                        let mut own_factor = || *own.get_or_insert_with(|| factor(k, i, j));
                        let o = qn[k];
                        let mut qe = o[0];
                        if qe > 0.0 {
                            qe *= own_factor();
                        } else if qe < 0.0 {
                            qe *= factor(k + 1, i + 1, j);
                        }
                        let mut qs = o[1];
                        if qs > 0.0 {
                            qs *= own_factor();
                        } else if qs < 0.0 {
                            qs *= factor(k + nx, i, j + 1);
                        }
                        let mut qw = if i > 0 { qn[k - 1][0] } else { 0.0 };
                        if qw > 0.0 {
                            qw *= factor(k - 1, i - 1, j);
                        } else if qw < 0.0 {
                            qw *= own_factor();
                        }
                        let mut qnn = if j > 0 { qn[k - nx][1] } else { 0.0 };
                        if qnn > 0.0 {
                            qnn *= factor(k - nx, i, j - 1);
                        } else if qnn < 0.0 {
                            qnn *= own_factor();
                        }
                        qr[i] = [qe, qs];
                        let mut hn = h[k] + dt_dx * ((qw - qe) + (qnn - qs));
                        let r = vals[rain[k] as usize];
                        hn += r;
                        st.rain += r;
                        let mut stage = None;
                        if cd != NO_SPECIAL {
                            let v = vals[cd as usize];
                            if slot_kind[cd as usize] == 1 {
                                hn += v;
                                st.inflow += v;
                            } else {
                                stage = Some(v);
                            }
                        }
                        if hn < 0.0 {
                            st.clamped -= hn;
                            hn = 0.0;
                        }
                        if let Some(level) = stage {
                            let hs = (level - cell[k].z).max(0.0);
                            st.boundary += hs - hn;
                            hn = hs;
                        }
                        hr[i] = hn;
                        if hn > 0.0 {
                            st.h_max = st.h_max.max(hn);
                            if hn > mr[i] {
                                mr[i] = hn;
                            }
                            if hn > wet {
                                let a = &mut ar[i];
                                if a.first_wet.is_nan() {
                                    a.first_wet = t_now;
                                }
                                a.wet += dt;
                                if hn > hazd {
                                    a.hazard_dur += dt;
                                }
                                let u = 0.5 * (qw + qe) / hn;
                                let v = 0.5 * (qnn + qs) / hn;
                                let speed = (u * u + v * v).sqrt();
                                a.max_speed = a.max_speed.max(speed);
                                a.max_hazard = a.max_hazard.max(hn * (speed + 0.5));
                            }
                        }
                    }
                    st
                })
                .reduce(RowStats::default, RowStats::merge)
        };
        std::mem::swap(&mut self.h, &mut self.h_next);
        let area = self.grid.cell_area();
        self.mass.rain_m3 += stats.rain * area;
        self.mass.inflow_m3 += stats.inflow * area;
        self.mass.boundary_net_m3 += stats.boundary * area;
        self.mass.clamped_m3 += stats.clamped * area;
        self.h_max = stats.h_max;
        self.t = t1;
        self.steps += 1;
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
            qx: self.q.iter().map(|q| q[0]).collect(),
            qy: self.q.iter().map(|q| q[1]).collect(),
        })
    }

    fn summary(&mut self) -> Result<FloodSummary> {
        let a = &self.acc;
        Ok(FloodSummary {
            max_depth: self.max_depth.clone(),
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

#[cfg(test)]
mod tests {
    #[test]
    fn fast_inverse_cube_root_is_accurate() {
        let mut x = 1e-7;
        while x < 1e5 {
            let (a, b) = (super::inv_cbrt(x), 1.0 / x.cbrt());
            assert!(((a - b) / b).abs() < 4.0 * f64::EPSILON, "{x}: {a} vs {b}");
            x *= 1.013;
        }
    }
}
