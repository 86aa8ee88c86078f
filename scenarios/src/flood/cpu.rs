//! The CPU reference solver: the local inertial scheme with f64 depths, face discharges computed
//! in f32 from f64 water levels, blocks of rows in parallel with rayon, and one sweep over the
//! grid for each group of `dt_every` steps.
//!
//! One step (the GPU kernels in `renderer` do the same passes in f32):
//! 1. Δt = min(α·Δx/√(g·H), Δt_max), set at the start of each group of
//!    `SolverParams::dt_every` steps (4 by default; 1: every step) and of each `advance_to`
//!    call, the last step shortened to land on the requested time; H bounds the deepest water
//!    over the group's steps: the deepest now plus what the rain, inflows and stages can add
//!    and what the flow gathered in the last groups ([`group_dt`]), so that every step's
//!    Courant number Δt·√(g·h_max)/Δx stays at or below α. The largest Courant number a step
//!    actually ran at is kept (`max_courant`).
//! 2. Face discharges (de Almeida et al. 2012, semi-implicit Manning friction):
//!    q' = [θ·q + (1−θ)/2·(q₋ + q₊) − g·h_f·Δt·(η_b − η_a)/Δx] / [1 + g·Δt·n²·|q| / h_f^(7/3)]
//!    with h_f = max(η_a, η_b) − max(z_a, z_b), and q' = 0 where h_f ≤ the depth threshold,
//!    at the domain edge and next to a blocked cell. A neighbour face q₋ or q₊ that is closed
//!    (domain edge, blocked cell) is replaced by the face's own q, so that the θ average does
//!    not drag discharges down along walls and boundaries.
//! 3. Outflow limiter: a cell whose outgoing faces would take more than its depth in this
//!    step scales them by depth / outflow, so no depth goes negative; a face takes the factor of
//!    the cell it drains, so both cells see the same discharge and mass is conserved.
//! 4. Continuity: h += Δt/Δx·(q_w − q_e + q_n − q_s) + rain + inflow; a free-outflow edge
//!    cell then loses Δt/Δx·q_out(h at the step's start), at most its depth, across its outer
//!    face (critical or normal depth,
//!    `model::OutflowKind`); stage cells are then set to max(stage − z, 0); both are booked as
//!    boundary exchange.
//!
//! **How it is fast.** A step's passes are fused: a walker goes down a block of rows computing,
//! for row j + 1, the new face discharges and the limiter factors into small row buffers that
//! stay in the L1/L2 cache, and for row j the limited discharges, the new depth and the
//! summaries. The steps of a group share their Δt, so they run as a pipeline in one sweep
//! (temporal blocking): step s + 1 walks two rows behind step s, reading its output from a ring
//! of 8 rows, and only the last step writes the new state; each block also walks the rows that
//! its later steps read from above and below it (3 and 2 rows per remaining step), so blocks
//! stay independent. The state, the ground and the face coefficients go through memory once a
//! group instead of once a step; the results equal those of the same steps taken one at a
//! time, bit for bit, for any block height (tested). Each block keeps its rings and row
//! buffers from group to group. The row loops have no per-cell branches (selects, min/max)
//! and are compiled three times, for baseline x86-64, with AVX2 and with AVX-512 (the widest
//! the processor has is picked at run time), so that LLVM vectorises them. They go along a row
//! in runs of 32 cells (the last run of a row overlaps the one before it: a cell computed twice
//! gets the same value), and the faces and the summaries of a run are computed a line at a
//! time over all 32 lanes: a face's chain (levels, h_f, the cube root's Newton steps, the
//! division) is long, and four vectors of faces side by side keep the floating-point units
//! busy where one at a time waits on it. A run where nothing can move skips the arithmetic
//! without changing a bit of the result: faces whose h_f are all at or below the threshold are
//! zeros (no friction), limiter factors of cells whose faces all carry nothing are 1, their
//! limited discharges 0 and their new depths the old ones plus the rain, and the speed and
//! hazard rating are skipped on a run of dry cells (they count only while wet).
//! The rare cases sit outside the loops: blocked cells, inflows and stages are short per-row
//! lists applied after the row, negative round-off depths are clamped after a vectorised check,
//! and the wet and hazard durations are booked only when a cell crosses the threshold (a cell's
//! start time of the current wet spell is kept; the duration so far is the closed spells plus
//! the open one). The three builds give the same numbers bit for bit (no fused multiply-adds,
//! no reassociation).
//!
//! **Precision.** Depths, water levels, continuity and the mass budget are f64 (they
//! accumulate); a face's h_f and level difference are taken in f64 and the rest of the face in
//! f32, like the limited discharges it starts from (h_f^(-1/3) within 1.6e-6, see
//! `inv_cbrt_lanes`), which are stored in f32. The limiter factors are f32 too (they scale an
//! f32 discharge; the few 1e-7 of a depth they may overshoot by are clamped and booked like any
//! round-off). Both cells of a face add the same stored value, so mass is still conserved to
//! f64 round-off, and the lake at rest stays exactly at rest (its level differences and
//! discharges are exact zeros). Speed and hazard rating are f32 (what the rasters store). The
//! wet and hazard durations equal the sum of the steps' Δt up to rounding.

use super::model::{
    FloodModel, ForcingTable, GridSpec, OutflowCell, SlotKind, SolverParams, NO_SLOT,
};
use super::solver::{FloodSolver, FloodState, FloodSummary, MassBalance};
use crate::error::Result;
use rayon::prelude::*;

/// x^(-1/3) for a positive normal x, without a division: a bit-level first guess (within
/// 4 %; u32 arithmetic so that it vectorises) and two Newton-like steps
/// y ← y·(a − b·x·y³) whose coefficients were fitted (minimax, the form of Moroz et al. 2021)
/// over x in [1, 8), where the guess's error repeats every three binades: the largest
/// relative error is 1.6e-6 in f32 arithmetic, about 13 f32 ulps (tested). Plain Newton
/// steps (a = 4/3, b = 1/3) need a third step to reach f32 rounding; in the solver that
/// step cost a tenth of the time, for an error far below what Manning's n is known to.
#[cfg(test)]
fn inv_cbrt(x: f32) -> f32 {
    inv_cbrt_lanes(&[x])[0]
}

/// x^(-1/3) of W values (see `inv_cbrt`), each step over all lanes before the next.
#[inline(always)]
fn inv_cbrt_lanes<const W: usize>(x: &[f32; W]) -> [f32; W] {
    const GUESS: u32 = 0x54A2_0F51;
    const B: f32 = 0.333_948_66;
    const A1: f32 = 1.334_654_3;
    const A2: f32 = 1.333_949_6;
    let mut y = [0.0f32; W];
    let mut xb = [0.0f32; W];
    for l in 0..W {
        y[l] = f32::from_bits(GUESS - x[l].to_bits() / 3);
        xb[l] = x[l] * B;
    }
    for a in [A1, A2] {
        for l in 0..W {
            // (y·y)·(y·b·x): two products side by side, a shorter dependency chain.
            y[l] *= a - (y[l] * y[l]) * (y[l] * xb[l]);
        }
    }
    y
}

/// max for finite values, as one instruction (f64::max also handles NaN).
#[inline(always)]
fn fmax(a: f64, b: f64) -> f64 {
    if a > b {
        a
    } else {
        b
    }
}

/// [`fmax`] for f32.
#[inline(always)]
fn fmax32(a: f32, b: f32) -> f32 {
    if a > b {
        a
    } else {
        b
    }
}

/// min for finite values, as one instruction.
#[inline(always)]
fn fmin32(a: f32, b: f32) -> f32 {
    if a < b {
        a
    } else {
        b
    }
}

/// Summaries of a cell touched only when its depth crosses the wet or the hazard depth.
#[derive(Clone, Copy)]
struct Spells {
    first_wet: f64,
    /// Start of the current wet spell (meaningful while the cell is wet).
    wet_since: f64,
    /// Wet time of the closed spells.
    wet_total: f64,
    hazard_since: f64,
    hazard_total: f64,
}

#[derive(Clone, Copy, Default)]
struct RowStats {
    h_max: f64,
    inflow: f64,
    boundary: f64,
    clamped: f64,
}

impl RowStats {
    fn merge(a: RowStats, b: RowStats) -> RowStats {
        RowStats {
            h_max: a.h_max.max(b.h_max),
            inflow: a.inflow + b.inflow,
            boundary: a.boundary + b.boundary,
            clamped: a.clamped + b.clamped,
        }
    }
}

/// A cell with a special forcing slot: an inflow (`stage` false) or a stage.
#[derive(Clone, Copy)]
struct Special {
    k: usize,
    slot: usize,
    stage: bool,
}

/// Everything a step reads but the state (shared by the tasks).
struct Ctx<'a> {
    nx: usize,
    ny: usize,
    z: &'a [f64],
    n2e: &'a [f32],
    n2s: &'a [f32],
    zeros: &'a [f32],
    /// Rain per cell when not uniform (None: `rain_uniform` on every cell).
    rain_slot: Option<&'a [u16]>,
    rain_uniform: f64,
    vals: &'a [f64],
    blocked: &'a [usize],
    blocked_start: &'a [usize],
    special: &'a [Special],
    special_start: &'a [usize],
    /// Free-outflow edge cells and their first index per row.
    outflow: &'a [OutflowCell],
    outflow_start: &'a [usize],
    theta: f32,
    half: f32,
    gdt: f32,
    gdt_dx: f32,
    dt_dx: f64,
    thr: f32,
    wet: f64,
    hazard: f64,
    t0: f64,
    t1: f64,
}

/// Rows a ring of a step's output holds: the next step reads rows i … i + 2 of it to output
/// row i (i − 3 … i + 2 for its first row), and a step waits rather than overwrite a row the
/// next one still reads.
const RING: usize = 8;

/// The rows of one state array: the whole grid (row j at j·nx), or a ring (row j at
/// (j mod RING)·nx).
#[derive(Clone, Copy)]
struct Rows<'a, T> {
    data: &'a [T],
    nx: usize,
    ring: bool,
}

impl<'a, T> Rows<'a, T> {
    #[inline(always)]
    fn row(&self, j: usize) -> &'a [T] {
        let r = if self.ring { j % RING } else { j };
        &self.data[r * self.nx..(r + 1) * self.nx]
    }
}

/// The state a step starts from: depths and limited discharges.
#[derive(Clone, Copy)]
struct Input<'a> {
    h: Rows<'a, f64>,
    qx: Rows<'a, f32>,
    qy: Rows<'a, f32>,
}

impl<'a> Input<'a> {
    /// State arrays of the whole grid (`ring` false) or rings of RING rows (`ring` true).
    fn new(nx: usize, h: &'a [f64], qx: &'a [f32], qy: &'a [f32], ring: bool) -> Input<'a> {
        Input {
            h: Rows { data: h, nx, ring },
            qx: Rows { data: qx, nx, ring },
            qy: Rows { data: qy, nx, ring },
        }
    }
}

/// The last RING rows of an intermediate step's output (steps of a group but the last).
struct Ring {
    nx: usize,
    h: Vec<f64>,
    qx: Vec<f32>,
    qy: Vec<f32>,
}

impl Ring {
    fn new(nx: usize) -> Ring {
        Ring {
            nx,
            h: vec![0.0; RING * nx],
            qx: vec![0.0; RING * nx],
            qy: vec![0.0; RING * nx],
        }
    }

    fn input(&self) -> Input<'_> {
        Input::new(self.nx, &self.h, &self.qx, &self.qy, true)
    }

    fn row_mut(&mut self, j: usize) -> StateRow<'_> {
        let s = (j % RING) * self.nx..(j % RING + 1) * self.nx;
        StateRow {
            h: &mut self.h[s.clone()],
            qx: &mut self.qx[s.clone()],
            qy: &mut self.qy[s],
        }
    }
}

/// One row of a step's output state.
struct StateRow<'b> {
    h: &'b mut [f64],
    qx: &'b mut [f32],
    qy: &'b mut [f32],
}

/// One row of the summaries.
struct SumRow<'b> {
    max_depth: &'b mut [f64],
    max_speed: &'b mut [f32],
    max_hazard: &'b mut [f32],
    spells: &'b mut [Spells],
}

/// What a task writes: its block of rows of the new state and of the summaries.
struct Out<'b> {
    h: &'b mut [f64],
    qx: &'b mut [f32],
    qy: &'b mut [f32],
    max_depth: &'b mut [f64],
    max_speed: &'b mut [f32],
    max_hazard: &'b mut [f32],
    spells: &'b mut [Spells],
}

impl Out<'_> {
    /// Row r of the block: its new state and its summaries.
    fn row(&mut self, r: usize, nx: usize) -> (StateRow<'_>, SumRow<'_>) {
        let s = r * nx..(r + 1) * nx;
        (
            StateRow {
                h: &mut self.h[s.clone()],
                qx: &mut self.qx[s.clone()],
                qy: &mut self.qy[s.clone()],
            },
            SumRow {
                max_depth: &mut self.max_depth[s.clone()],
                max_speed: &mut self.max_speed[s.clone()],
                max_hazard: &mut self.max_hazard[s.clone()],
                spells: &mut self.spells[s],
            },
        )
    }

    /// The summaries of row r of the block.
    fn sums(&mut self, r: usize, nx: usize) -> SumRow<'_> {
        self.row(r, nx).1
    }
}

/// Cells a row loop hands to [`faces`] at a time.
const LANES: usize = 32;

/// The inputs of a run of faces, lane l of each slice for face l: the water depths and ground
/// of the cells on either side (a: west/north, b: east/south), the face's discharge and n²,
/// and those of the neighbour faces along its direction (`ql`/`nl` before, `qr`/`nr` after).
#[derive(Clone, Copy)]
struct FaceRun<'s> {
    ha: &'s [f64],
    za: &'s [f64],
    hb: &'s [f64],
    zb: &'s [f64],
    q: &'s [f32],
    n2: &'s [f32],
    ql: &'s [f32],
    nl: &'s [f32],
    qr: &'s [f32],
    nr: &'s [f32],
}

impl<'s> FaceRun<'s> {
    /// The faces from the i-th on.
    #[inline(always)]
    fn from(&self, i: usize) -> FaceRun<'s> {
        FaceRun {
            ha: &self.ha[i..],
            za: &self.za[i..],
            hb: &self.hb[i..],
            zb: &self.zb[i..],
            q: &self.q[i..],
            n2: &self.n2[i..],
            ql: &self.ql[i..],
            nl: &self.nl[i..],
            qr: &self.qr[i..],
            nr: &self.nr[i..],
        }
    }
}

/// The discharges across the first W faces of a run (see the module documentation); `n2` < 0:
/// closed face. The water levels and their difference are taken in f64 (levels of tens of
/// metres, slopes of millimetres), the rest in f32 like the discharges it starts from.
///
/// Each line runs over all W lanes before the next one starts: the chain of a face (levels,
/// h_f, the Newton steps of its cube root, the division) is long, and interleaving W/8
/// vectors of faces keeps the processor's floating-point queues busy where one vector at a
/// time would wait on it.
#[inline(always)]
fn faces<const W: usize>(c: &Ctx, f: &FaceRun, out: &mut [f32]) {
    let lanes = |x: &[f32]| -> [f32; W] { x[..W].try_into().unwrap() };
    let lanes64 = |x: &[f64]| -> [f64; W] { x[..W].try_into().unwrap() };
    let (ha, za, hb, zb) = (lanes64(f.ha), lanes64(f.za), lanes64(f.hb), lanes64(f.zb));
    let (q, n2, ql, nl, qr, nr) = (
        lanes(f.q),
        lanes(f.n2),
        lanes(f.ql),
        lanes(f.nl),
        lanes(f.qr),
        lanes(f.nr),
    );
    let out: &mut [f32; W] = (&mut out[..W]).try_into().unwrap();
    let mut hf = [0.0f32; W];
    let mut slope = [0.0f32; W];
    for l in 0..W {
        let ea = za[l] + ha[l];
        let eb = zb[l] + hb[l];
        hf[l] = (fmax(ea, eb) - fmax(za[l], zb[l])) as f32;
        slope[l] = (eb - ea) as f32;
    }
    let mut hfs = [0.0f32; W];
    let mut any = 0u32;
    for l in 0..W {
        let flow = (n2[l] >= 0.0) & (hf[l] > c.thr);
        hfs[l] = if flow { hf[l] } else { 1.0 };
        any |= flow as u32;
    }
    if W > 1 && any == 0 {
        *out = [0.0; W];
        return;
    }
    // 1 / h_f^(7/3) = (h_f^(-1/3))^7.
    let r = inv_cbrt_lanes(&hfs);
    let mut num = [0.0f32; W];
    let mut fr = [0.0f32; W];
    for l in 0..W {
        let (ql, qr) = (lend(nl[l], ql[l], q[l]), lend(nr[l], qr[l], q[l]));
        num[l] = c.theta * q[l] + c.half * (ql + qr) - c.gdt_dx * hfs[l] * slope[l];
        fr[l] = c.gdt * n2[l] * q[l].abs();
    }
    for l in 0..W {
        let r2 = r[l] * r[l];
        let r7 = (r2 * r2) * (r2 * r[l]);
        let v = num[l] / (1.0 + fr[l] * r7);
        let flow = (n2[l] >= 0.0) & (hf[l] > c.thr);
        out[l] = if flow { v } else { 0.0 };
    }
}

/// Where the runs of [`LANES`] cells covering `first..n` (at least [`LANES`] cells) start: one
/// every [`LANES`] cells, the last one ending at n and overlapping the one before it (what the
/// row loops compute for a cell twice is the same both times).
#[inline(always)]
fn lane_starts(first: usize, n: usize) -> impl Iterator<Item = usize> {
    let last = n - LANES;
    // One plain counted loop (a chained iterator kept a state machine in the row loops).
    (0..(last - first).div_ceil(LANES) + 1).map(move |k| (first + k * LANES).min(last))
}

/// All the faces of a run, [`LANES`] at a time.
#[inline(always)]
fn faces_run(c: &Ctx, f: FaceRun, out: &mut [f32]) {
    let n = out.len();
    if n < LANES {
        for i in 0..n {
            faces::<1>(c, &f.from(i), &mut out[i..]);
        }
        return;
    }
    for i in lane_starts(0, n) {
        faces::<LANES>(c, &f.from(i), &mut out[i..]);
    }
}

/// `if c { a } else { b }` on the bits: LLVM turns a select between two loaded values into a
/// select between their addresses and then into branches per lane; this stays a blend.
#[inline(always)]
fn select(c: bool, a: f32, b: f32) -> f32 {
    let m = 0u32.wrapping_sub(c as u32);
    f32::from_bits((a.to_bits() & m) | (b.to_bits() & !m))
}

/// `own` unless the neighbour face is open (`n2` ≥ 0), then `other`.
#[inline(always)]
fn lend(n2: f32, other: f32, own: f32) -> f32 {
    select(n2 >= 0.0, other, own)
}

/// New (unlimited) discharges of row j's east and south faces.
#[inline(always)]
fn flux_row(c: &Ctx, inp: &Input, j: usize, ox: &mut [f32], oy: &mut [f32]) {
    let nx = c.nx;
    let b = j * nx;
    let hc = inp.h.row(j);
    let zc = &c.z[b..b + nx];
    let qxc = inp.qx.row(j);
    let ne = &c.n2e[b..b + nx];
    let ox = &mut ox[..nx];
    let oy = &mut oy[..nx];
    // East faces: the last one is the domain edge, the first has no face before it.
    ox[nx - 1] = 0.0;
    if nx >= 2 {
        let closed = [-1.0f32];
        let first = FaceRun {
            ha: hc,
            za: zc,
            hb: &hc[1..],
            zb: &zc[1..],
            q: qxc,
            n2: ne,
            ql: qxc,
            nl: &closed,
            qr: &qxc[1..],
            nr: &ne[1..],
        };
        faces::<1>(c, &first, &mut ox[..1]);
        let m = nx - 2;
        let run = FaceRun {
            ha: &hc[1..],
            za: &zc[1..],
            hb: &hc[2..],
            zb: &zc[2..],
            q: &qxc[1..],
            n2: &ne[1..],
            ql: qxc,
            nl: ne,
            qr: &qxc[2..],
            nr: &ne[2..],
        };
        faces_run(c, run, &mut ox[1..1 + m]);
    }
    // South faces: the last row's are the domain edge.
    if j + 1 >= c.ny {
        oy.fill(0.0);
        return;
    }
    let (ju, bu, bd) = if j > 0 {
        (j - 1, b - nx, b + nx)
    } else {
        (j, b, b + nx)
    };
    let run = FaceRun {
        ha: hc,
        za: zc,
        hb: inp.h.row(j + 1),
        zb: &c.z[bd..bd + nx],
        q: inp.qy.row(j),
        n2: &c.n2s[b..b + nx],
        ql: inp.qy.row(ju),
        nl: &c.n2s[bu..bu + nx],
        qr: inp.qy.row(j + 1),
        nr: &c.n2s[bd..bd + nx],
    };
    faces_run(c, run, oy);
}

/// Whether W discharges are all zero (either sign).
#[inline(always)]
fn zeros<const W: usize>(q: &[f32]) -> bool {
    let q: &[f32; W] = q[..W].try_into().unwrap();
    q.iter().fold(0u32, |a, &x| a | (x.to_bits() << 1)) == 0
}

/// Whether no face of the run of [`LANES`] cells from cell i ≥ 1 carries anything: their
/// east faces and the one west of cell i (`qx`), their north (`qn`) and south (`qs`) faces.
#[inline(always)]
fn still(i: usize, qx: &[f32], qn: &[f32], qs: &[f32]) -> bool {
    zeros::<{ LANES + 1 }>(&qx[i - 1..]) && zeros::<LANES>(&qn[i..]) && zeros::<LANES>(&qs[i..])
}

/// Outflow limiter factors of row j (`f` has nx + 1 entries, the last 1) from the row's new
/// discharges and the south discharges of the row above (`qyu`, zeros for the first row).
/// A run of [`LANES`] cells whose faces all carry nothing gets 1s without the arithmetic.
#[inline(always)]
fn factor_row(c: &Ctx, h: &[f64], qxn: &[f32], qyn: &[f32], qyu: &[f32], f: &mut [f32]) {
    let nx = c.nx;
    let (h, qxn, qyn, qyu) = (&h[..nx], &qxn[..nx], &qyn[..nx], &qyu[..nx]);
    let f = &mut f[..nx + 1];
    let dt_dx = c.dt_dx as f32;
    let lim = |h: f64, qe: f32, qw: f32, qs: f32, qn: f32| {
        // Grouped x then y so that the sum is the same under a transpose.
        let out = (fmax32(qe, 0.0) - fmin32(qw, 0.0)) + (fmax32(qs, 0.0) - fmin32(qn, 0.0));
        let od = out * dt_dx;
        let h = h as f32;
        if od > h {
            h / od
        } else {
            1.0
        }
    };
    f[0] = lim(h[0], qxn[0], 0.0, qyn[0], qyu[0]);
    if nx < LANES + 1 {
        for i in 1..nx {
            f[i] = lim(h[i], qxn[i], qxn[i - 1], qyn[i], qyu[i]);
        }
    } else {
        for i in lane_starts(1, nx) {
            let o = &mut f[i..i + LANES];
            if still(i, qxn, qyu, qyn) {
                o.fill(1.0);
                continue;
            }
            let (hh, qe, qw, qs, qn) = (
                &h[i..i + LANES],
                &qxn[i..i + LANES],
                &qxn[i - 1..i - 1 + LANES],
                &qyn[i..i + LANES],
                &qyu[i..i + LANES],
            );
            for l in 0..LANES {
                o[l] = lim(hh[l], qe[l], qw[l], qs[l], qn[l]);
            }
        }
    }
    f[nx] = 1.0;
}

/// Limited discharges `q · (factor of the cell it drains)`: `fa` for q > 0, `fb` otherwise.
#[inline(always)]
fn limit_row(q: &[f32], fa: &[f32], fb: &[f32], out: &mut [f32]) {
    let n = out.len();
    let (q, fa, fb) = (&q[..n], &fa[..n], &fb[..n]);
    let lim = |q: f32, fa: f32, fb: f32| q * select(q > 0.0, fa, fb);
    if n < LANES {
        for i in 0..n {
            out[i] = lim(q[i], fa[i], fb[i]);
        }
        return;
    }
    for i in lane_starts(0, n) {
        let o = &mut out[i..i + LANES];
        if zeros::<LANES>(&q[i..]) {
            o.fill(0.0);
            continue;
        }
        let (q, fa, fb) = (&q[i..i + LANES], &fa[i..i + LANES], &fb[i..i + LANES]);
        for l in 0..LANES {
            o[l] = lim(q[l], fa[l], fb[l]);
        }
    }
}

/// Row buffers of a step's walk down a block.
struct Bufs {
    /// Unlimited discharges (east, south) of rows j and j + 1.
    xc: Vec<f32>,
    yc: Vec<f32>,
    xn: Vec<f32>,
    yn: Vec<f32>,
    /// Limiter factors of rows j and j + 1 (nx + 1 each).
    fc: Vec<f32>,
    fnx: Vec<f32>,
    /// Limited south discharges of row j − 1 (the north faces of row j).
    qnl: Vec<f32>,
}

/// One step walking down a range of rows: it outputs row j from the rows j − 3 … j + 2 of
/// its input, keeping the discharges and limiter factors of rows j and j + 1 in row buffers.
struct Walker {
    b: Bufs,
    /// The next row to output.
    next: usize,
    started: bool,
}

impl Walker {
    fn new(nx: usize) -> Walker {
        Walker {
            b: Bufs {
                xc: vec![0.0; nx],
                yc: vec![0.0; nx],
                xn: vec![0.0; nx],
                yn: vec![0.0; nx],
                fc: vec![1.0; nx + 1],
                fnx: vec![1.0; nx + 1],
                qnl: vec![0.0; nx],
            },
            next: 0,
            started: false,
        }
    }

    /// Get ready to output row j0: the north faces of row j0 need rows j0 − 1 (and j0 − 2
    /// for their factors).
    #[inline(always)]
    fn start(&mut self, c: &Ctx, inp: &Input, j0: usize) {
        let b = &mut self.b;
        if j0 > 0 {
            // xn/yn: row j0 − 1; xc/yc: row j0 − 2 (south only matters).
            if j0 > 1 {
                flux_row(c, inp, j0 - 2, &mut b.xc, &mut b.yc);
            } else {
                b.yc.fill(0.0);
            }
            flux_row(c, inp, j0 - 1, &mut b.xn, &mut b.yn);
            factor_row(c, inp.h.row(j0 - 1), &b.xn, &b.yn, &b.yc, &mut b.fnx);
            // fnx: factors of row j0 − 1; compute row j0 into xc/yc, fc.
            flux_row(c, inp, j0, &mut b.xc, &mut b.yc);
            factor_row(c, inp.h.row(j0), &b.xc, &b.yc, &b.yn, &mut b.fc);
            limit_row(&b.yn, &b.fnx, &b.fc, &mut b.qnl);
        } else {
            flux_row(c, inp, j0, &mut b.xc, &mut b.yc);
            factor_row(c, inp.h.row(j0), &b.xc, &b.yc, c.zeros, &mut b.fc);
            b.qnl.fill(0.0);
        }
        self.next = j0;
        self.started = true;
    }

    /// Output the next row: its limited discharges and new depth, and its summaries when it
    /// is a row of the task's own (`sums`; the mass terms go to `st` then).
    #[inline(always)]
    fn row(
        &mut self,
        c: &Ctx,
        inp: &Input,
        out: StateRow,
        sums: Option<SumRow>,
        st: &mut RowStats,
    ) {
        let j = self.next;
        let b = &mut self.b;
        if j + 1 < c.ny {
            flux_row(c, inp, j + 1, &mut b.xn, &mut b.yn);
            factor_row(c, inp.h.row(j + 1), &b.xn, &b.yn, &b.yc, &mut b.fnx);
        } else {
            b.fnx.copy_from_slice(&b.fc);
        }
        let nx = c.nx;
        limit_row(&b.xc, &b.fc[..nx], &b.fc[1..], out.qx);
        limit_row(&b.yc, &b.fc, &b.fnx, out.qy);
        let ho = inp.h.row(j);
        match sums {
            Some(s) => {
                continuity_row(c, j, ho, out.qx, out.qy, &b.qnl, out.h, st);
                summaries_row(c, ho, out.h, out.qx, out.qy, &b.qnl, s, st);
            }
            None => {
                let mut scratch = RowStats::default();
                continuity_row(c, j, ho, out.qx, out.qy, &b.qnl, out.h, &mut scratch);
            }
        }
        b.qnl.copy_from_slice(out.qy);
        std::mem::swap(&mut b.xc, &mut b.xn);
        std::mem::swap(&mut b.yc, &mut b.yn);
        std::mem::swap(&mut b.fc, &mut b.fnx);
        self.next = j + 1;
    }
}

/// The rings and walkers of one block, kept from group to group (a block's walk allocates
/// nothing).
#[derive(Default)]
struct Scratch {
    rings: Vec<Ring>,
    walkers: Vec<Walker>,
}

impl Scratch {
    /// k − 1 rings and k walkers (ready to start) for rows of nx cells.
    fn take(&mut self, nx: usize, k: usize) -> (&mut [Ring], &mut [Walker]) {
        if self.walkers.first().is_some_and(|w| w.b.xc.len() != nx) {
            *self = Scratch::default();
        }
        while self.rings.len() + 1 < k {
            self.rings.push(Ring::new(nx));
        }
        while self.walkers.len() < k {
            self.walkers.push(Walker::new(nx));
        }
        for w in &mut self.walkers[..k] {
            w.next = 0;
            w.started = false;
        }
        (&mut self.rings[..k - 1], &mut self.walkers[..k])
    }
}

/// The steps of a group (one `Ctx` each) over one block of rows from `j0`: step s walks rows
/// 3·(k − 1 − s) above and 2·(k − 1 − s) below the block as well (the rows the next step
/// reads), each step one ring of rows behind the one before, so that a group goes through
/// memory once. Returns each step's mass terms and largest depth over the block's own rows.
#[inline(always)]
fn run_group(
    cs: &[Ctx],
    grid: Input,
    j0: usize,
    mut out: Out,
    scratch: &mut Scratch,
) -> Vec<RowStats> {
    let k = cs.len();
    let (nx, ny) = (cs[0].nx, cs[0].ny);
    let j1 = j0 + out.h.len() / nx;
    let range = |s: usize| {
        let m = k - 1 - s;
        (j0.saturating_sub(3 * m), (j1 + 2 * m).min(ny))
    };
    let (rings, walkers) = scratch.take(nx, k);
    let mut stats = vec![RowStats::default(); k];
    while walkers[k - 1].next < j1 || !walkers[k - 1].started {
        for s in 0..k {
            let (a, b) = range(s);
            loop {
                let w = &walkers[s];
                let i = if w.started { w.next } else { a };
                if i >= b {
                    break;
                }
                if s > 0 {
                    // The step before must have output rows up to i + 2 (the last row at the
                    // bottom of the grid).
                    let p = &walkers[s - 1];
                    if !p.started || p.next <= (i + 2).min(ny - 1) {
                        break;
                    }
                }
                if s + 1 < k {
                    // Row i overwrites row i − RING of this step's ring: the next step must
                    // be past it (it reads rows from its next one, or 3 above its first).
                    let w = &walkers[s + 1];
                    let oldest = if w.started {
                        w.next
                    } else {
                        range(s + 1).0.saturating_sub(3)
                    };
                    if i >= oldest + RING {
                        break;
                    }
                }
                let (lo, hi) = rings.split_at_mut(s.min(k - 1));
                let inp = if s == 0 { grid } else { lo[s - 1].input() };
                let c = &cs[s];
                let w = &mut walkers[s];
                if !w.started {
                    w.start(c, &inp, a);
                }
                let own = (j0..j1).contains(&i);
                if s == k - 1 {
                    let (row, sums) = out.row(i - j0, nx);
                    w.row(c, &inp, row, Some(sums), &mut stats[s]);
                } else {
                    let sums = own.then(|| out.sums(i - j0, nx));
                    w.row(c, &inp, hi[0].row_mut(i), sums, &mut stats[s]);
                }
                if s == 0 {
                    // The first step runs one row per round; the others follow as far as
                    // their input and the ring allow.
                    break;
                }
            }
        }
    }
    stats
}

/// New depth of row j from the limited discharges, then the rare cases: blocked cells,
/// inflows, negative round-off, stages.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn continuity_row(
    c: &Ctx,
    j: usize,
    h: &[f64],
    qx: &[f32],
    qy: &[f32],
    qn: &[f32],
    hr: &mut [f64],
    st: &mut RowStats,
) {
    let nx = c.nx;
    let b = j * nx;
    let h = &h[..nx];
    let (qx, qy, qn) = (&qx[..nx], &qy[..nx], &qn[..nx]);
    let hr = &mut hr[..nx];
    let (dt_dx, rain) = (c.dt_dx, c.rain_uniform);
    hr[0] = h[0] + dt_dx * ((0.0 - qx[0] as f64) + (qn[0] as f64 - qy[0] as f64)) + rain;
    let cell = |h: f64, qw: f32, qe: f32, qn: f32, qs: f32| {
        let (qw, qe, qn, qs) = (qw as f64, qe as f64, qn as f64, qs as f64);
        h + dt_dx * ((qw - qe) + (qn - qs)) + rain
    };
    if nx < LANES + 1 {
        for i in 1..nx {
            hr[i] = cell(h[i], qx[i - 1], qx[i], qn[i], qy[i]);
        }
    } else {
        for i in lane_starts(1, nx) {
            let o = &mut hr[i..i + LANES];
            let hh = &h[i..i + LANES];
            // Nothing crosses the run's faces: only the rain (the same sum, the flux term
            // being a zero).
            if still(i, qx, qn, qy) {
                for l in 0..LANES {
                    o[l] = hh[l] + rain;
                }
                continue;
            }
            let (qw, qe, qnn, qs) = (
                &qx[i - 1..i - 1 + LANES],
                &qx[i..i + LANES],
                &qn[i..i + LANES],
                &qy[i..i + LANES],
            );
            for l in 0..LANES {
                o[l] = cell(hh[l], qw[l], qe[l], qnn[l], qs[l]);
            }
        }
    }
    if let Some(slots) = c.rain_slot {
        for (o, &s) in hr.iter_mut().zip(&slots[b..b + nx]) {
            *o += c.vals[s as usize];
        }
    }
    for &k in &c.blocked[c.blocked_start[j]..c.blocked_start[j + 1]] {
        hr[k - b] = 0.0;
    }
    let specials = &c.special[c.special_start[j]..c.special_start[j + 1]];
    for s in specials.iter().filter(|s| !s.stage) {
        let v = c.vals[s.slot];
        hr[s.k - b] += v;
        st.inflow += v;
    }
    // Free-outflow edges: q = coef·h^e across the outer face from the depth at the start of
    // the step (as the faces' discharges), taking at most the depth the cell has now.
    for o in &c.outflow[c.outflow_start[j]..c.outflow_start[j + 1]] {
        let old = h[o.cell - b];
        let x = &mut hr[o.cell - b];
        if old > 0.0 && *x > 0.0 {
            let loss = (c.dt_dx * o.coef * old.powf(o.exponent)).min(*x);
            *x -= loss;
            st.boundary -= loss;
        }
    }
    let negative = hr.iter().fold(0u32, |n, &x| n | (x < 0.0) as u32);
    if negative != 0 {
        for x in hr.iter_mut().filter(|x| **x < 0.0) {
            st.clamped -= *x;
            *x = 0.0;
        }
    }
    for s in specials.iter().filter(|s| s.stage) {
        let hs = (c.vals[s.slot] - c.z[s.k]).max(0.0);
        let x = &mut hr[s.k - b];
        st.boundary += hs - *x;
        *x = hs;
    }
}

/// The summaries of W cells of a row (see [`summaries_row`]): the slices start at the first
/// cell, `qw` at its west face. Folds the depths into `top` and returns 1 if a cell crossed
/// the wet or the hazard depth. The speed and hazard rating are skipped when none of the
/// cells is wet (they count only while wet, and the maxima are never negative).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn sum_lanes<const W: usize>(
    c: &Ctx,
    h: &[f64],
    ho: &[f64],
    qw: &[f32],
    qe: &[f32],
    qn: &[f32],
    qs: &[f32],
    md: &mut [f64],
    ms: &mut [f32],
    mh: &mut [f32],
    top: &mut [f64; W],
) -> u32 {
    let (h, ho): (&[f64; W], &[f64; W]) = (h[..W].try_into().unwrap(), ho[..W].try_into().unwrap());
    let md: &mut [f64; W] = (&mut md[..W]).try_into().unwrap();
    let (wet, hz) = (c.wet, c.hazard);
    let mut crossed = 0u32;
    let mut any_wet = 0u32;
    for l in 0..W {
        md[l] = fmax(md[l], h[l]);
        top[l] = fmax(top[l], h[l]);
        let w = h[l] > wet;
        any_wet |= w as u32;
        crossed |= (((ho[l] > wet) != w) | ((ho[l] > hz) != (h[l] > hz))) as u32;
    }
    if any_wet == 0 {
        return crossed;
    }
    let (qw, qe, qn, qs): (&[f32; W], &[f32; W], &[f32; W], &[f32; W]) = (
        qw[..W].try_into().unwrap(),
        qe[..W].try_into().unwrap(),
        qn[..W].try_into().unwrap(),
        qs[..W].try_into().unwrap(),
    );
    let ms: &mut [f32; W] = (&mut ms[..W]).try_into().unwrap();
    let mh: &mut [f32; W] = (&mut mh[..W]).try_into().unwrap();
    for l in 0..W {
        // Speed and hazard rating in f32 (what they are kept in): cheaper division and root.
        let hf = h[l] as f32;
        let r = 0.5 / hf;
        let u = (qw[l] + qe[l]) * r;
        let v = (qn[l] + qs[l]) * r;
        let speed = (u * u + v * v).sqrt();
        let hazard = hf * (speed + 0.5);
        let w = h[l] > wet;
        // A max without NaN handling (the values are finite): LLVM stores only the lanes
        // that grew (a masked store), measured a little faster than f32::max's fix-ups.
        ms[l] = fmax32(ms[l], if w { speed } else { 0.0 });
        mh[l] = fmax32(mh[l], if w { hazard } else { 0.0 });
    }
    crossed
}

/// [`sum_lanes`] of the W cells of a row from cell i ≥ 1 on (its west face is `qx[i − 1]`).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn sum_from<const W: usize>(
    c: &Ctx,
    i: usize,
    hr: &[f64],
    ho: &[f64],
    qx: &[f32],
    qn: &[f32],
    qy: &[f32],
    md: &mut [f64],
    ms: &mut [f32],
    mh: &mut [f32],
    top: &mut [f64; W],
) -> u32 {
    let r = i..;
    sum_lanes::<W>(
        c,
        &hr[r.clone()],
        &ho[r.clone()],
        &qx[i - 1..],
        &qx[r.clone()],
        &qn[r.clone()],
        &qy[r.clone()],
        &mut md[r.clone()],
        &mut ms[r.clone()],
        &mut mh[r],
        top,
    )
}

/// Summaries of row j after its new depth: largest depth, speed and hazard rating (while wet),
/// the row's largest depth, and the wet and hazard spells of the cells that crossed a threshold.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn summaries_row(
    c: &Ctx,
    ho: &[f64],
    hr: &[f64],
    qx: &[f32],
    qy: &[f32],
    qn: &[f32],
    sums: SumRow,
    st: &mut RowStats,
) {
    let nx = c.nx;
    let SumRow {
        max_depth: md,
        max_speed: ms,
        max_hazard: mh,
        spells,
    } = sums;
    let ho = &ho[..nx];
    let (hr, qx, qy, qn) = (&hr[..nx], &qx[..nx], &qy[..nx], &qn[..nx]);
    let (md, ms, mh) = (&mut md[..nx], &mut ms[..nx], &mut mh[..nx]);
    // The row's largest depth, folded by the lanes (the cells one at a time fold into `top1`).
    let mut top = [0.0f64; LANES];
    let mut top1 = [0.0f64; 1];
    // Cell 0 has no west face (the domain edge).
    let mut crossed = sum_lanes::<1>(c, hr, ho, &[0.0], qx, qn, qy, md, ms, mh, &mut top1);
    if nx < LANES + 1 {
        for i in 1..nx {
            crossed |= sum_from::<1>(c, i, hr, ho, qx, qn, qy, md, ms, mh, &mut top1);
        }
    } else {
        for i in lane_starts(1, nx) {
            crossed |= sum_from::<LANES>(c, i, hr, ho, qx, qn, qy, md, ms, mh, &mut top);
        }
    }
    st.h_max = top.iter().chain(&top1).fold(st.h_max, |a, &b| fmax(a, b));
    let wet = c.wet;
    let hz = c.hazard;
    if crossed == 0 {
        return;
    }
    let (t0, t1) = (c.t0, c.t1);
    for (i, sp) in spells[..nx].iter_mut().enumerate() {
        let (was, now) = (ho[i] > wet, hr[i] > wet);
        if was != now {
            if now {
                sp.wet_since = t0;
                if sp.first_wet.is_nan() {
                    sp.first_wet = t1;
                }
            } else {
                sp.wet_total += t0 - sp.wet_since;
            }
        }
        let (was, now) = (ho[i] > hz, hr[i] > hz);
        if was != now {
            if now {
                sp.hazard_since = t0;
            } else {
                sp.hazard_total += t0 - sp.hazard_since;
            }
        }
    }
}

fn block_plain(
    cs: &[Ctx],
    grid: Input,
    j0: usize,
    out: Out,
    scratch: &mut Scratch,
) -> Vec<RowStats> {
    run_group(cs, grid, j0, out, scratch)
}

/// The same code compiled with AVX2 and FMA available (LLVM vectorises the row loops with 4
/// f64 lanes; no fused multiply-add is introduced, so results equal the plain build's).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn block_avx2(
    cs: &[Ctx],
    grid: Input,
    j0: usize,
    out: Out,
    scratch: &mut Scratch,
) -> Vec<RowStats> {
    run_group(cs, grid, j0, out, scratch)
}

/// The same code with AVX-512 (8 f64 lanes, mask registers for the selects; 20 % faster than
/// AVX2 on an AMD Zen 4). Built where the compiler has these target features (`build.rs`).
#[cfg(all(target_arch = "x86_64", flood_avx512))]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
unsafe fn block_avx512(
    cs: &[Ctx],
    grid: Input,
    j0: usize,
    out: Out,
    scratch: &mut Scratch,
) -> Vec<RowStats> {
    run_group(cs, grid, j0, out, scratch)
}

/// Which build of the row loops a solver runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kernel {
    Plain,
    Avx2,
    Avx512,
}

impl Kernel {
    /// The widest build this processor runs.
    fn detect() -> Kernel {
        #[cfg(all(target_arch = "x86_64", flood_avx512))]
        if std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512dq")
            && std::is_x86_feature_detected!("avx512vl")
            && std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
        {
            return Kernel::Avx512;
        }
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            return Kernel::Avx2;
        }
        Kernel::Plain
    }

    /// The steps of a group over one block of rows with this build.
    fn run(
        self,
        cs: &[Ctx],
        grid: Input,
        j0: usize,
        out: Out,
        scratch: &mut Scratch,
    ) -> Vec<RowStats> {
        match self {
            // SAFETY: `detect` saw the target features of each build on this processor.
            #[cfg(all(target_arch = "x86_64", flood_avx512))]
            Kernel::Avx512 => unsafe { block_avx512(cs, grid, j0, out, scratch) },
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => unsafe { block_avx2(cs, grid, j0, out, scratch) },
            _ => block_plain(cs, grid, j0, out, scratch),
        }
    }
}

/// Relative rounding slack on α when a step's Courant number is checked.
pub const COURANT_SLACK: f64 = 1e-9;

/// Groups taken as single steps after a group whose Courant number went past α.
pub const FALLBACK_GROUPS: u32 = 32;

/// A relative cushion on the bound of the deepest water (its Δt is 0.05 % shorter): the
/// flow's slow gathering between two groups stays within it.
pub const DEPTH_CUSHION: f64 = 1e-3;

/// While the deepest water is thinner than this many flow depth thresholds, steps are taken
/// one at a time: films passing the threshold start to flow all at once and gather in hollows
/// faster than any earlier group's growth foretells.
pub const THIN_WATER: f64 = 10.0;

/// The share of a group's flow growth (see [`FLOW_MARGIN`]) the next group still allows for
/// when its own is smaller.
pub const FLOW_MEMORY: f64 = 0.9;

/// How many times the last group's growth of the deepest water from the flow a group allows
/// for (flows speed up from one group to the next).
pub const FLOW_MARGIN: f64 = 2.0;

/// The Δt shared by a group of `k` steps (the schedule of both solvers; the GPU kernels do the
/// same in f32). The Courant number Δt·√(g·h)/Δx of a step is taken with h the deepest water
/// at its start, and the deepest water grows within a group. So Δt is set not from the
/// deepest water now, `h_max`, but from a bound of it over the group's step starts:
///   H = (D(w) + (k − 1)·FLOW_MARGIN·flow_rise)·(1 + DEPTH_CUSHION),  w = (k − 1)·Δt(h_max),
/// D(w) = `deepest(w)`, how deep the rain, inflows and stages can make the deepest water in
/// the next w seconds ([`super::model::ForcingTable::deepest_bound`]), and `flow_rise` the
/// largest growth of the deepest water in one step of the last groups beyond its forcing
/// (water the flow gathers). The window is taken at the Δt of h_max; the Δt of H is shorter
/// and its window too, so the bound holds for it. Rain on a dry grid, where h_max = 0 would
/// give Δt_max, so gets the Δt of the depth the rain makes during the group. The solver
/// takes single steps (k = 1, Δt from h_max: exactly α) while the water is thin
/// ([`THIN_WATER`]) and for [`FALLBACK_GROUPS`] groups after a group went past α.
pub fn group_dt(
    p: &SolverParams,
    dx: f64,
    h_max: f64,
    flow_rise: f64,
    k: usize,
    deepest: impl Fn(f64) -> f64,
) -> f64 {
    let dt_for = |h: f64| {
        if h > 0.0 {
            (p.alpha * dx / (p.g * h).sqrt()).min(p.max_dt)
        } else {
            p.max_dt
        }
    };
    let dt = dt_for(h_max);
    if k <= 1 {
        return dt;
    }
    let m = (k - 1) as f64;
    let h = deepest(m * dt).max(h_max) + FLOW_MARGIN * m * flow_rise.max(0.0);
    dt_for(h * (1.0 + DEPTH_CUSHION))
}

/// The CPU reference solver.
pub struct CpuSolver {
    grid: GridSpec,
    p: SolverParams,
    z: Vec<f64>,
    /// n² of each cell's east and south face (negative: closed).
    n2e: Vec<f32>,
    n2s: Vec<f32>,
    /// Rain slot per cell, when the open cells do not all share one.
    rain_slot: Option<Vec<u16>>,
    /// The slot of every open cell otherwise.
    rain_uniform: Option<usize>,
    /// Open cells per rain slot.
    rain_cells: Vec<f64>,
    /// Blocked cells and their first index per row (ny + 1 entries).
    blocked: Vec<usize>,
    blocked_start: Vec<usize>,
    special: Vec<Special>,
    special_start: Vec<usize>,
    outflow: Vec<OutflowCell>,
    outflow_start: Vec<usize>,
    zeros: Vec<f32>,
    forcing: ForcingTable,
    /// Depth now, and the buffer the next step writes.
    h: Vec<f64>,
    h_next: Vec<f64>,
    /// Limited (actual) face discharges of the last step (east, south), and the buffers the
    /// next step writes.
    qx: Vec<f32>,
    qy: Vec<f32>,
    qx_next: Vec<f32>,
    qy_next: Vec<f32>,
    max_depth: Vec<f64>,
    max_speed: Vec<f32>,
    max_hazard: Vec<f32>,
    spells: Vec<Spells>,
    kernel: Kernel,
    /// Each block's rings and walkers.
    scratch: Vec<Scratch>,
    /// Rows per parallel block (tests set it; chosen from the grid and threads otherwise).
    block_rows: Option<usize>,
    t: f64,
    steps: u64,
    h_max: f64,
    max_courant: f64,
    /// The largest rise of the deepest water in one step of the last group beyond what the
    /// forcing could add (m): water gathered by the flow.
    flow_rise: f64,
    /// Groups still to be taken as single steps after a group went past α.
    single_steps: u32,
    mass: MassBalance,
    /// Checked before every group of steps ([`FloodSolver::set_cancel`]).
    cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

/// n zeros with their memory pages already mapped (`vec![0.0; n]` leaves each page to be
/// mapped at its first write, which would happen in the middle of the first steps).
fn zeroed<T: Copy + Default>(n: usize) -> Vec<T> {
    let mut v = vec![T::default(); n];
    let stride = (4096 / std::mem::size_of::<T>().max(1)).max(1);
    for x in v.iter_mut().step_by(stride) {
        // SAFETY: x is a valid, aligned element of v.
        unsafe { std::ptr::write_volatile(x, T::default()) };
    }
    v
}

/// Starting index of each row's entries in a list sorted by cell (ny + 1 entries).
fn row_starts(cells: impl Iterator<Item = usize>, nx: usize, ny: usize) -> Vec<usize> {
    let mut start = vec![0usize; ny + 1];
    for k in cells {
        start[k / nx + 1] += 1;
    }
    for j in 0..ny {
        start[j + 1] += start[j];
    }
    start
}

impl CpuSolver {
    /// Set up a solver at t = 0 (the model is checked first).
    pub fn new(model: &FloodModel) -> Result<CpuSolver> {
        model.validate()?;
        let g = model.grid.clone();
        let (nx, ny) = (g.nx, g.ny);
        let n = g.cells();
        let forcing = model.forcing_table();
        if forcing.slots.len() > u16::MAX as usize {
            return Err(crate::ScenarioError::invalid(
                "flood forcing",
                "too many series",
            ));
        }
        let mut n2e = vec![-1.0f32; n];
        let mut n2s = vec![-1.0f32; n];
        let mut z = vec![0.0; n];
        for j in 0..ny {
            for i in 0..nx {
                let k = j * nx + i;
                if model.blocked[k] {
                    continue;
                }
                z[k] = model.z[k];
                if i + 1 < nx && !model.blocked[k + 1] {
                    let nf = 0.5 * (model.manning[k] + model.manning[k + 1]);
                    n2e[k] = (nf * nf) as f32;
                }
                if j + 1 < ny && !model.blocked[k + nx] {
                    let nf = 0.5 * (model.manning[k] + model.manning[k + nx]);
                    n2s[k] = (nf * nf) as f32;
                }
            }
        }
        let blocked: Vec<usize> = (0..n).filter(|&k| model.blocked[k]).collect();
        let blocked_start = row_starts(blocked.iter().copied(), nx, ny);
        let special: Vec<Special> = (0..n)
            .filter(|&k| !model.blocked[k] && forcing.special[k] != NO_SLOT)
            .map(|k| {
                let slot = forcing.special[k] as usize;
                Special {
                    k,
                    slot,
                    stage: forcing.slots[slot].kind == SlotKind::Stage,
                }
            })
            .collect();
        let special_start = row_starts(special.iter().map(|s| s.k), nx, ny);
        let outflow = model.outflow_cells();
        let outflow_start = row_starts(outflow.iter().map(|o| o.cell), nx, ny);
        let mut rain_cells = vec![0.0; forcing.slots.len()];
        let mut first_slot = None;
        let mut uniform = true;
        for k in (0..n).filter(|&k| !model.blocked[k]) {
            let s = forcing.rain[k] as usize;
            rain_cells[s] += 1.0;
            uniform &= *first_slot.get_or_insert(s) == s;
        }
        let (rain_slot, rain_uniform) = if uniform {
            (None, first_slot)
        } else {
            (Some(forcing.rain.iter().map(|&r| r as u16).collect()), None)
        };
        let h = model.initial_depth();
        let h_max = h.iter().copied().fold(0.0, f64::max);
        let initial = h.iter().sum::<f64>() * g.cell_area();
        let wet = model.params.wet_depth;
        let spells = h
            .iter()
            .map(|&d| Spells {
                first_wet: if d > wet { 0.0 } else { f64::NAN },
                wet_since: 0.0,
                wet_total: 0.0,
                hazard_since: 0.0,
                hazard_total: 0.0,
            })
            .collect();
        Ok(CpuSolver {
            grid: g,
            p: model.params.clone(),
            z,
            n2e,
            n2s,
            rain_slot,
            rain_uniform,
            rain_cells,
            blocked,
            blocked_start,
            special,
            special_start,
            outflow,
            outflow_start,
            zeros: vec![0.0f32; nx],
            forcing,
            h_next: h.clone(),
            max_depth: h.clone(),
            h,
            qx: zeroed(n),
            qy: zeroed(n),
            qx_next: zeroed(n),
            qy_next: zeroed(n),
            max_speed: zeroed(n),
            max_hazard: zeroed(n),
            spells,
            kernel: Kernel::detect(),
            scratch: Vec::new(),
            block_rows: None,
            t: 0.0,
            steps: 0,
            h_max,
            max_courant: 0.0,
            flow_rise: 0.0,
            single_steps: 0,
            mass: MassBalance {
                initial_m3: initial,
                ..MassBalance::default()
            },
            cancel: None,
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

    /// The steps of the next group, at most up to `t_end`: `dt_every` steps (fewer when
    /// `t_end` comes first, one while the schedule has fallen back to single steps) sharing
    /// the Δt of [`group_dt`], the last one shortened to land on `t_end`. Each entry: (t0, t1).
    fn plan(&self, t_end: f64) -> Vec<(f64, f64)> {
        let k = if self.single_steps > 0 || self.h_max < THIN_WATER * self.p.depth_threshold {
            1
        } else {
            self.p.dt_every as usize
        };
        let dt = group_dt(&self.p, self.grid.dx, self.h_max, self.flow_rise, k, |w| {
            let t1 = (self.t + w).min(t_end);
            let (area, h_max) = (self.grid.cell_area(), self.h_max);
            self.forcing
                .deepest_bound(self.t, t1, area, h_max, |k| self.h[k])
        });
        let mut t = self.t;
        let mut plan = Vec::new();
        while plan.len() < k && t < t_end {
            let t1 = if dt >= t_end - t { t_end } else { t + dt };
            plan.push((t, t1));
            t = t1;
        }
        plan
    }

    /// Run the steps of a plan as one group: one sweep over the grid (see the module
    /// documentation).
    fn run_plan(&mut self, plan: &[(f64, f64)]) {
        let (nx, ny) = (self.grid.nx, self.grid.ny);
        let (dx, area) = (self.grid.dx, self.grid.cell_area());
        let vals: Vec<Vec<f64>> = plan
            .iter()
            .map(|&(t0, t1)| self.forcing.values(t0, t1, area))
            .collect();
        let p = &self.p;
        let cs: Vec<Ctx> = plan
            .iter()
            .zip(&vals)
            .map(|(&(t0, t1), vals)| {
                let dt = t1 - t0;
                Ctx {
                    nx,
                    ny,
                    z: &self.z,
                    n2e: &self.n2e,
                    n2s: &self.n2s,
                    zeros: &self.zeros,
                    rain_slot: self.rain_slot.as_deref(),
                    rain_uniform: self.rain_uniform.map_or(0.0, |s| vals[s]),
                    vals,
                    blocked: &self.blocked,
                    blocked_start: &self.blocked_start,
                    special: &self.special,
                    special_start: &self.special_start,
                    outflow: &self.outflow,
                    outflow_start: &self.outflow_start,
                    theta: p.theta as f32,
                    half: (0.5 * (1.0 - p.theta)) as f32,
                    gdt: (p.g * dt) as f32,
                    gdt_dx: (p.g * dt / dx) as f32,
                    dt_dx: dt / dx,
                    thr: p.depth_threshold as f32,
                    wet: p.wet_depth,
                    hazard: p.hazard_depth.max(p.wet_depth),
                    t0,
                    t1,
                }
            })
            .collect();
        let grid = Input::new(nx, &self.h, &self.qx, &self.qy, false);
        // Blocks of rows: up to four per thread for the balance, fewer where that would make
        // them short, as each walks 5 rows more per step of the group but the last (the rows
        // its later steps read) and that work is done twice.
        let k = plan.len();
        let threads = rayon::current_num_threads().max(1);
        let mut per_thread = 4;
        while per_thread > 1 && ny / (threads * per_thread) < 10 * k {
            per_thread /= 2;
        }
        let rows = self
            .block_rows
            .unwrap_or_else(|| ny.div_ceil(per_thread * threads).clamp(8, 512));
        let len = rows * nx;
        let kernel = self.kernel;
        let merge = |a: Vec<RowStats>, b: Vec<RowStats>| -> Vec<RowStats> {
            a.into_iter()
                .zip(b)
                .map(|(a, b)| RowStats::merge(a, b))
                .collect()
        };
        let blocks = ny.div_ceil(rows);
        self.scratch.resize_with(blocks, Scratch::default);
        let stats = self
            .h_next
            .par_chunks_mut(len)
            .zip(self.qx_next.par_chunks_mut(len))
            .zip(self.qy_next.par_chunks_mut(len))
            .zip(self.max_depth.par_chunks_mut(len))
            .zip(self.max_speed.par_chunks_mut(len))
            .zip(self.max_hazard.par_chunks_mut(len))
            .zip(self.spells.par_chunks_mut(len))
            .zip(self.scratch.par_iter_mut())
            .enumerate()
            .map(
                |(
                    b,
                    (((((((h, qx), qy), max_depth), max_speed), max_hazard), spells), scratch),
                )| {
                    let out = Out {
                        h,
                        qx,
                        qy,
                        max_depth,
                        max_speed,
                        max_hazard,
                        spells,
                    };
                    kernel.run(&cs, grid, b * rows, out, scratch)
                },
            )
            .reduce(|| vec![RowStats::default(); k], merge);
        std::mem::swap(&mut self.h, &mut self.h_next);
        std::mem::swap(&mut self.qx, &mut self.qx_next);
        std::mem::swap(&mut self.qy, &mut self.qy_next);
        let mut h_max = self.h_max;
        let mut flow_rise = 0.0f64;
        let mut over = false;
        for ((&(t0, t1), vals), st) in plan.iter().zip(&vals).zip(&stats) {
            // The Courant number this step ran at, from the deepest water it started from.
            let courant = (t1 - t0) * (p.g * h_max).sqrt() / dx;
            self.max_courant = self.max_courant.max(courant);
            over |= courant > p.alpha * (1.0 + COURANT_SLACK);
            // What the deepest water gained beyond what the forcing can add: water the flow
            // gathered (a guide for the next group's Δt).
            let forced = self.forcing.deepest_bound(t0, t1, area, h_max, |_| h_max);
            flow_rise = flow_rise.max(st.h_max - forced);
            let rain: f64 = self.rain_cells.iter().zip(vals).map(|(&n, &v)| n * v).sum();
            self.mass.rain_m3 += rain * area;
            self.mass.inflow_m3 += st.inflow * area;
            self.mass.boundary_net_m3 += st.boundary * area;
            self.mass.clamped_m3 += st.clamped * area;
            h_max = st.h_max;
        }
        self.h_max = h_max;
        // The flow's growth of the last group, or what is left of the ones before it.
        self.flow_rise = flow_rise.max(FLOW_MEMORY * self.flow_rise).max(0.0);
        if over {
            self.single_steps = FALLBACK_GROUPS;
        } else {
            self.single_steps = self.single_steps.saturating_sub(1);
        }
        self.t = plan[k - 1].1;
        self.steps += k as u64;
    }

    /// The largest Courant number Δt·√(g·h_max)/Δx any step ran at so far, h_max being the
    /// deepest water at the start of the step: at most α (see [`group_dt`]).
    pub fn max_courant(&self) -> f64 {
        self.max_courant
    }
}

impl FloodSolver for CpuSolver {
    fn describe(&self) -> String {
        format!(
            "cpu reference solver (f64 depths, f32 faces, {} steps a sweep, rayon, {} threads{})",
            self.p.dt_every,
            rayon::current_num_threads(),
            match self.kernel {
                Kernel::Plain => "",
                Kernel::Avx2 => ", AVX2",
                Kernel::Avx512 => ", AVX-512",
            }
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
            // Once a group (dt_every steps, one sweep of the grid): never inside one, so
            // results are the same whether a flag is watched or not.
            super::solver::check_cancel(self.cancel.as_ref())?;
            let plan = self.plan(t_end);
            self.run_plan(&plan);
        }
        Ok(())
    }

    fn set_cancel(&mut self, cancel: std::sync::Arc<std::sync::atomic::AtomicBool>) {
        self.cancel = Some(cancel);
    }

    fn state(&mut self) -> Result<FloodState> {
        Ok(FloodState {
            time: self.t,
            h: self.h.clone(),
            qx: self.qx.iter().map(|&q| q as f64).collect(),
            qy: self.qy.iter().map(|&q| q as f64).collect(),
        })
    }

    fn summary(&mut self) -> Result<FloodSummary> {
        let (wet, hz, t) = (
            self.p.wet_depth,
            self.p.hazard_depth.max(self.p.wet_depth),
            self.t,
        );
        let (a, h) = (&self.spells, &self.h);
        let open = |d: f64, thr: f64, since: f64| if d > thr { t - since } else { 0.0 };
        Ok(FloodSummary {
            max_depth: self.max_depth.clone(),
            first_wet: a.iter().map(|a| a.first_wet).collect(),
            wet_duration: a
                .iter()
                .zip(h)
                .map(|(a, &d)| a.wet_total + open(d, wet, a.wet_since))
                .collect(),
            hazard_duration: a
                .iter()
                .zip(h)
                .map(|(a, &d)| a.hazard_total + open(d, hz, a.hazard_since))
                .collect(),
            max_speed: self.max_speed.iter().map(|&v| v as f64).collect(),
            max_hazard: self.max_hazard.iter().map(|&v| v as f64).collect(),
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
    use super::super::model::{FloodModel, Inflow, Stage};
    use super::super::series::{Interp, TimeSeries};
    use super::{CpuSolver, FloodSolver, Kernel};

    /// A bowl of na × nb cells with a lake, a blocked block (a building), two rain zones (the
    /// second where a > `zone_a`), an inflow and a stage along the last b.
    struct Bowl {
        na: usize,
        nb: usize,
        centre: (f64, f64),
        curvature: f64,
        lake: f64,
        zone_a: usize,
        blocked: (std::ops::Range<usize>, std::ops::Range<usize>),
        inflow: (usize, usize),
    }

    impl Bowl {
        /// The model with a along the rows (`transpose` false: nx = na) or along the columns
        /// (nx = nb).
        fn model(&self, transpose: bool) -> FloodModel {
            let (na, nb) = (self.na, self.nb);
            let (nx, ny) = if transpose { (nb, na) } else { (na, nb) };
            let cell = |a: usize, b: usize| if transpose { a * nx + b } else { b * nx + a };
            let mut m = FloodModel::flat(nx, ny, 5.0, 0.0, 0.03);
            for b in 0..nb {
                for a in 0..na {
                    let k = cell(a, b);
                    let (x, y) = (a as f64 - self.centre.0, b as f64 - self.centre.1);
                    m.z[k] = self.curvature * (x * x + y * y) + 0.1 * (a as f64 / 3.0).sin();
                    m.h0[k] = (self.lake - m.z[k]).max(0.0);
                    m.rain_zone[k] = u16::from(a > self.zone_a);
                    m.blocked[k] = self.blocked.0.contains(&a) && self.blocked.1.contains(&b);
                }
            }
            m.rain = vec![
                TimeSeries::constant(40.0 / 3.6e6, Interp::Step),
                TimeSeries::constant(90.0 / 3.6e6, Interp::Step),
            ];
            m.inflows.push(Inflow {
                name: "pipe".into(),
                cell: cell(self.inflow.0, self.inflow.1),
                series: TimeSeries::constant(2.0, Interp::Linear),
            });
            m.stages.push(Stage {
                name: "river".into(),
                cells: (0..na).map(|a| cell(a, nb - 1)).collect(),
                series: TimeSeries::constant(1.2, Interp::Linear),
            });
            m
        }
    }

    /// A bowl with a lake, two rain zones, a blocked block, an inflow and a stage line, on a
    /// grid whose sizes are not multiples of the vector widths.
    fn busy_model() -> FloodModel {
        Bowl {
            na: 61,
            nb: 47,
            centre: (30.0, 23.0),
            curvature: 0.002,
            lake: 1.5,
            zone_a: 40,
            blocked: (10..14, 5..30),
            inflow: (45, 20),
        }
        .model(false)
    }

    /// The summaries kept at threshold crossings (wet and hazard spells) and in f32 (speed,
    /// hazard rating) equal the per-step bookkeeping done here from the state after every step.
    #[test]
    fn summaries_match_step_by_step_bookkeeping() {
        let mut m = busy_model();
        // One step per `advance_to` call below.
        m.params.dt_every = 1;
        let p = m.params.clone();
        let mut s = CpuSolver::new(&m).unwrap();
        let n = m.grid.cells();
        let h0 = s.state().unwrap().h;
        let mut max_depth = h0.clone();
        let mut first = h0
            .iter()
            .map(|&h| if h > p.wet_depth { 0.0 } else { f64::NAN })
            .collect::<Vec<_>>();
        let (mut wet, mut hazard, mut speed, mut rating) =
            (vec![0.0; n], vec![0.0; n], vec![0.0f64; n], vec![0.0f64; n]);
        while s.time() < 400.0 {
            let t0 = s.time();
            s.advance_to(t0 + s.cfl_dt()).unwrap();
            let dt = s.time() - t0;
            let st = s.state().unwrap();
            let (vx, vy) = st.velocity(&m.grid, p.wet_depth);
            for k in 0..n {
                let h = st.h[k];
                max_depth[k] = max_depth[k].max(h);
                if h > p.wet_depth {
                    if first[k].is_nan() {
                        first[k] = s.time();
                    }
                    wet[k] += dt;
                    if h > p.hazard_depth {
                        hazard[k] += dt;
                    }
                    let v = vx[k].hypot(vy[k]);
                    speed[k] = speed[k].max(v);
                    rating[k] = rating[k].max(h * (v + 0.5));
                }
            }
        }
        assert!(s.steps() > 50);
        let sum = s.summary().unwrap();
        let close = |a: &[f64], b: &[f64], tol: f64, what: &str| {
            for (k, (x, y)) in a.iter().zip(b).enumerate() {
                let ok = (x.is_nan() && y.is_nan()) || (x - y).abs() <= tol * (1.0 + y.abs());
                assert!(ok, "{what} of cell {k}: {x} vs {y}");
            }
        };
        close(&sum.max_depth, &max_depth, 0.0, "max depth");
        close(&sum.first_wet, &first, 0.0, "first wet");
        close(&sum.wet_duration, &wet, 1e-9, "wet duration");
        close(&sum.hazard_duration, &hazard, 1e-9, "hazard duration");
        close(&sum.max_speed, &speed, 1e-6, "max speed");
        close(&sum.max_hazard, &rating, 1e-6, "max hazard rating");
        assert!(
            wet.iter().any(|&d| d > 0.0 && d < 400.0),
            "some cells wet part of the time"
        );
        assert!(hazard.iter().any(|&d| d > 0.0), "some hazard");
    }

    /// The vectorised builds (AVX2, AVX-512, whichever this processor has) give bit for bit
    /// the numbers of the plain build: no fused multiply-adds, no reassociation.
    #[test]
    fn vector_builds_match_the_plain_build() {
        let m = busy_model();
        let mut plain = CpuSolver::new(&m).unwrap();
        plain.kernel = Kernel::Plain;
        let mut fast = CpuSolver::new(&m).unwrap();
        eprintln!("{}", fast.describe());
        for t in [60.0, 300.0] {
            plain.advance_to(t).unwrap();
            fast.advance_to(t).unwrap();
            assert_eq!(plain.steps(), fast.steps());
            let (a, b) = (plain.state().unwrap(), fast.state().unwrap());
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&a.h), bits(&b.h), "depths at {t} s");
            assert_eq!(bits(&a.qx), bits(&b.qx), "east discharges at {t} s");
            assert_eq!(bits(&a.qy), bits(&b.qy), "south discharges at {t} s");
            assert!(a.qx.iter().any(|&q| q.abs() > 1e-3), "water moves");
        }
        let (a, b) = (plain.summary().unwrap(), fast.summary().unwrap());
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a.max_depth), bits(&b.max_depth));
        assert_eq!(bits(&a.first_wet), bits(&b.first_wet));
        assert_eq!(bits(&a.wet_duration), bits(&b.wet_duration));
        assert_eq!(bits(&a.hazard_duration), bits(&b.hazard_duration));
        assert_eq!(bits(&a.max_speed), bits(&b.max_speed));
        assert_eq!(bits(&a.max_hazard), bits(&b.max_hazard));
        let mb = fast.mass_balance().unwrap();
        assert!(mb.relative_error < 1e-12, "{mb:?}");
        assert!(mb.inflow_m3 > 0.0 && mb.rain_m3 > 0.0 && mb.boundary_net_m3 != 0.0);
    }

    #[test]
    fn fast_inverse_cube_root_is_accurate() {
        // Every float of [1, 8) (the guess's error repeats every three binades), then the
        // depths a face can have, from 1e-7 m to 100 km.
        let mut worst = 0.0f64;
        let (one, eight) = (1.0f32.to_bits(), 8.0f32.to_bits());
        let sweep = (one..eight).step_by(7).map(f32::from_bits);
        let depths =
            std::iter::successors(Some(1e-7f32), |x| Some(x * 1.013)).take_while(|&x| x < 1e5);
        for x in sweep.chain(depths) {
            let (a, b) = (super::inv_cbrt(x) as f64, 1.0 / (x as f64).cbrt());
            worst = worst.max(((a - b) / b).abs());
        }
        assert!(
            worst < 1.6e-6 && worst > 1e-7,
            "largest relative error {worst:e}"
        );
    }

    /// A group of steps taken in one sweep (each step reading the rings of the one before,
    /// in blocks with halos) gives bit for bit what the same steps give one at a time, for
    /// any block height, the halos reaching over several blocks included.
    #[test]
    fn groups_match_single_steps_for_any_blocks() {
        let mut m = busy_model();
        let bits = |s: &CpuSolver| {
            let f = |v: &[f32]| v.iter().map(|x| x.to_bits() as u64).collect::<Vec<_>>();
            let mut all: Vec<u64> = s.h.iter().map(|x| x.to_bits()).collect();
            all.extend(f(&s.qx));
            all.extend(f(&s.qy));
            all.extend(s.max_depth.iter().map(|x| x.to_bits()));
            all.extend(f(&s.max_speed));
            all
        };
        for every in [2u32, 4, 6] {
            m.params.dt_every = every;
            let mut single = CpuSolver::new(&m).unwrap();
            single.block_rows = Some(m.grid.ny);
            let mut plans = Vec::new();
            let mut groups = Vec::new();
            for rows in [1, 3, 8, 10, 47] {
                let mut s = CpuSolver::new(&m).unwrap();
                s.block_rows = Some(rows);
                groups.push(s);
            }
            while single.time() < 200.0 {
                let plan = single.plan(200.0);
                for &step in &plan {
                    single.run_plan(&[step]);
                }
                plans.push(plan);
            }
            assert!(plans.iter().any(|p| p.len() == every as usize));
            let want = bits(&single);
            let mb = single.mass_balance().unwrap();
            assert!(mb.relative_error < 1e-12, "{mb:?}");
            for g in &mut groups {
                for plan in &plans {
                    g.run_plan(plan);
                }
                assert_eq!(g.steps(), single.steps());
                assert!(
                    bits(g) == want,
                    "{every} steps a group, blocks of {:?} rows",
                    g.block_rows
                );
                let gm = g.mass_balance().unwrap();
                assert_eq!(gm.error_m3.to_bits(), mb.error_m3.to_bits());
            }
        }
    }

    /// A bowl of 20 × 57 cells, laid out with a along the rows (`transpose` false: nx = 20)
    /// or along the columns (nx = 57).
    fn narrow_model(transpose: bool) -> FloodModel {
        Bowl {
            na: 20,
            nb: 57,
            centre: (9.5, 25.0),
            curvature: 0.004,
            lake: 1.2,
            zone_a: 12,
            blocked: (5..8, 10..30),
            inflow: (12, 20),
        }
        .model(transpose)
    }

    /// Rows shorter than a run of lanes (20 cells: every row loop takes its one-cell path)
    /// give bit for bit the transpose of the same model laid out in rows of 57 cells (runs of
    /// 32 that overlap): the scheme is symmetric under a transpose (east and south faces share
    /// one formula, and the x and y terms are summed so that their order does not matter).
    #[test]
    fn short_rows_match_the_transposed_long_rows() {
        let (na, nb) = (20, 57);
        let mut short = CpuSolver::new(&narrow_model(false)).unwrap();
        let mut long = CpuSolver::new(&narrow_model(true)).unwrap();
        short.advance_to(300.0).unwrap();
        long.advance_to(300.0).unwrap();
        assert_eq!(short.steps(), long.steps());
        let (s, l) = (short.state().unwrap(), long.state().unwrap());
        assert!(s.qx.iter().any(|&q| q.abs() > 1e-3), "water moves");
        let (ss, ls) = (short.summary().unwrap(), long.summary().unwrap());
        for b in 0..nb {
            for a in 0..na {
                let (i, k) = (b * na + a, a * nb + b);
                let at = format!("cell a = {a}, b = {b}");
                assert_eq!(s.h[i].to_bits(), l.h[k].to_bits(), "depth at {at}");
                assert_eq!(s.qx[i].to_bits(), l.qy[k].to_bits(), "discharge a at {at}");
                assert_eq!(s.qy[i].to_bits(), l.qx[k].to_bits(), "discharge b at {at}");
                assert_eq!(ss.max_depth[i].to_bits(), ls.max_depth[k].to_bits(), "{at}");
                assert_eq!(ss.max_speed[i].to_bits(), ls.max_speed[k].to_bits(), "{at}");
                assert_eq!(
                    ss.max_hazard[i].to_bits(),
                    ls.max_hazard[k].to_bits(),
                    "{at}"
                );
                assert_eq!(
                    ss.wet_duration[i].to_bits(),
                    ls.wet_duration[k].to_bits(),
                    "{at}"
                );
            }
        }
    }

    /// The Courant number is α when Δt is set every step, and stays at or below α (within
    /// rounding) when it is set every 4 steps: the group's Δt allows for the inflow, the rain
    /// and the flow's gathering (it reached 1.02 α before).
    #[test]
    fn courant_number_of_groups() {
        let mut m = busy_model();
        for (every, most) in [(1u32, 1.0 + 1e-12), (4, 1.0 + 1e-9)] {
            m.params.dt_every = every;
            let mut s = CpuSolver::new(&m).unwrap();
            s.advance_to(300.0).unwrap();
            let ratio = s.max_courant() / m.params.alpha;
            assert!(ratio > 0.99 && ratio <= most, "{every}: {ratio}");
        }
    }
}
