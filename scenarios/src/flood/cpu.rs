//! The CPU reference solver: the local inertial scheme with f64 depths and arithmetic (the face
//! discharges are kept in f32 between steps), blocks of rows in parallel with rayon, one fused
//! sweep over the grid per step.
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
//!
//! **How it is fast.** The passes are fused: each rayon task takes a block of rows and walks
//! down it computing, for row j + 1, the new face discharges and the limiter factors into small
//! row buffers that stay in the L1/L2 cache, and for row j the limited discharges, the new
//! depth and the summaries; only the state (depth, limited discharges: double-buffered), the
//! ground, the face coefficients and the running maxima go through memory. The row loops have
//! no per-cell branches (selects, min/max) and are compiled three times, for baseline x86-64,
//! with AVX2 and with AVX-512 (the widest the processor has is picked at run time), so that
//! LLVM vectorises them. The rare cases sit
//! outside the loops: blocked cells, inflows and stages are short per-row lists applied after
//! the row, negative round-off depths are clamped after a vectorised check, and the wet and
//! hazard durations are booked only when a cell crosses the threshold (a cell's start time of
//! the current wet spell is kept; the duration so far is the closed spells plus the open one).
//! The three builds give the same numbers bit for bit (no fused multiply-adds, no
//! reassociation). Everything is computed in f64 except the speed and hazard rating (f32, what
//! the rasters store); the limited face discharges are stored in f32, which takes a fifth off
//! the memory traffic: both cells of a face add the same stored value, so mass is still
//! conserved to f64 round-off, and the lake at rest stays exactly at rest (its discharges are
//! exact zeros). The wet and hazard durations equal the sum of the steps' Δt up to rounding.

use super::model::{FloodModel, ForcingTable, GridSpec, SlotKind, SolverParams, NO_SLOT};
use super::solver::{FloodSolver, FloodState, FloodSummary, MassBalance};
use crate::error::Result;
use rayon::prelude::*;

/// x^(-1/3) for a positive finite x (at least 1e-30), without a division: a bit-level first
/// guess from the f32 value (within 4 %; u32 arithmetic so that it vectorises) and four Newton
/// steps y ← y·(4/3 − x/3·y³) (errors 2e-3, 1e-5, 3e-10, then rounding).
#[inline(always)]
fn inv_cbrt(x: f64) -> f64 {
    let xf = x as f32;
    let mut y = f32::from_bits(0x54A2_303C - xf.to_bits() / 3) as f64;
    let x3 = x * (1.0 / 3.0);
    for _ in 0..4 {
        // (y·y)·(y·x/3): two products side by side, a shorter dependency chain.
        y *= 4.0 / 3.0 - (y * y) * (y * x3);
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

#[inline(always)]
fn fmin(a: f64, b: f64) -> f64 {
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

/// Everything a step reads (shared by the tasks).
struct Ctx<'a> {
    nx: usize,
    ny: usize,
    h: &'a [f64],
    z: &'a [f64],
    n2e: &'a [f32],
    n2s: &'a [f32],
    qx: &'a [f32],
    qy: &'a [f32],
    zeros: &'a [f64],
    /// Rain per cell when not uniform (None: `rain_uniform` on every cell).
    rain_slot: Option<&'a [u16]>,
    rain_uniform: f64,
    vals: &'a [f64],
    blocked: &'a [usize],
    blocked_start: &'a [usize],
    special: &'a [Special],
    special_start: &'a [usize],
    theta: f64,
    half: f64,
    gdt: f64,
    gdt_dx: f64,
    dt_dx: f64,
    thr: f64,
    wet: f64,
    hazard: f64,
    t0: f64,
    t1: f64,
}

/// What a task writes: its block of rows of each output.
struct Out<'b> {
    h: &'b mut [f64],
    qx: &'b mut [f32],
    qy: &'b mut [f32],
    max_depth: &'b mut [f64],
    max_speed: &'b mut [f32],
    max_hazard: &'b mut [f32],
    spells: &'b mut [Spells],
}

/// The discharge across one face (see the module documentation); `n2` < 0: closed face.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn face(c: &Ctx, ha: f64, za: f64, hb: f64, zb: f64, q: f32, ql: f32, qr: f32, n2: f32) -> f64 {
    let (q, ql, qr) = (q as f64, ql as f64, qr as f64);
    let ea = za + ha;
    let eb = zb + hb;
    let hf = fmax(ea, eb) - fmax(za, zb);
    let flow = (n2 >= 0.0) & (hf > c.thr);
    let hfs = if flow { hf } else { 1.0 };
    let num = c.theta * q + c.half * (ql + qr) - c.gdt_dx * hfs * (eb - ea);
    let fr = c.gdt * n2 as f64 * q.abs();
    // 1 / h_f^(7/3) = (h_f^(-1/3))^7.
    let r = inv_cbrt(hfs);
    let r2 = r * r;
    let r7 = (r2 * r2) * (r2 * r);
    let v = num / (1.0 + fr * r7);
    if flow {
        v
    } else {
        0.0
    }
}

/// `if c { a } else { b }` on the bits: LLVM turns a select between two loaded values into a
/// select between their addresses and then into branches per lane; this stays a blend.
#[inline(always)]
fn select(c: bool, a: f64, b: f64) -> f64 {
    let m = 0u64.wrapping_sub(c as u64);
    f64::from_bits((a.to_bits() & m) | (b.to_bits() & !m))
}

/// `own` unless the neighbour face is open (`n2` ≥ 0), then `other`.
#[inline(always)]
fn lend(n2: f32, other: f32, own: f32) -> f32 {
    let m = 0u32.wrapping_sub((n2 >= 0.0) as u32);
    f32::from_bits((other.to_bits() & m) | (own.to_bits() & !m))
}

/// New (unlimited) discharges of row j's east and south faces.
#[inline(always)]
fn flux_row(c: &Ctx, j: usize, ox: &mut [f64], oy: &mut [f64]) {
    let nx = c.nx;
    let b = j * nx;
    let hc = &c.h[b..b + nx];
    let zc = &c.z[b..b + nx];
    let qxc = &c.qx[b..b + nx];
    let ne = &c.n2e[b..b + nx];
    let ox = &mut ox[..nx];
    let oy = &mut oy[..nx];
    // East faces: the last one is the domain edge.
    ox[nx - 1] = 0.0;
    if nx >= 2 {
        ox[0] = face(
            c,
            hc[0],
            zc[0],
            hc[1],
            zc[1],
            qxc[0],
            qxc[0],
            lend(ne[1], qxc[1], qxc[0]),
            ne[0],
        );
        let m = nx - 2;
        let (h0, h1) = (&hc[1..1 + m], &hc[2..2 + m]);
        let (z0, z1) = (&zc[1..1 + m], &zc[2..2 + m]);
        let (ql, q0, qr) = (&qxc[..m], &qxc[1..1 + m], &qxc[2..2 + m]);
        let (nl, n0, nr) = (&ne[..m], &ne[1..1 + m], &ne[2..2 + m]);
        let o = &mut ox[1..1 + m];
        for i in 0..m {
            o[i] = face(
                c,
                h0[i],
                z0[i],
                h1[i],
                z1[i],
                q0[i],
                lend(nl[i], ql[i], q0[i]),
                lend(nr[i], qr[i], q0[i]),
                n0[i],
            );
        }
    }
    // South faces: the last row's are the domain edge.
    if j + 1 >= c.ny {
        oy.fill(0.0);
        return;
    }
    let (bu, bd) = (if j > 0 { b - nx } else { b }, b + nx);
    let (hs, zs) = (&c.h[bd..bd + nx], &c.z[bd..bd + nx]);
    let (qu, q0, qd) = (&c.qy[bu..bu + nx], &c.qy[b..b + nx], &c.qy[bd..bd + nx]);
    let (nu, n0, nd) = (&c.n2s[bu..bu + nx], &c.n2s[b..b + nx], &c.n2s[bd..bd + nx]);
    for i in 0..nx {
        oy[i] = face(
            c,
            hc[i],
            zc[i],
            hs[i],
            zs[i],
            q0[i],
            lend(nu[i], qu[i], q0[i]),
            lend(nd[i], qd[i], q0[i]),
            n0[i],
        );
    }
}

/// Outflow limiter factors of row j (`f` has nx + 1 entries, the last 1) from the row's new
/// discharges and the south discharges of the row above (`qyu`, zeros for the first row).
#[inline(always)]
fn factor_row(c: &Ctx, j: usize, qxn: &[f64], qyn: &[f64], qyu: &[f64], f: &mut [f64]) {
    let nx = c.nx;
    let h = &c.h[j * nx..(j + 1) * nx];
    let (qxn, qyn, qyu) = (&qxn[..nx], &qyn[..nx], &qyu[..nx]);
    let f = &mut f[..nx + 1];
    let dt_dx = c.dt_dx;
    let lim = |h: f64, qe: f64, qw: f64, qs: f64, qn: f64| {
        // Grouped x then y so that the sum is the same under a transpose.
        let out = (fmax(qe, 0.0) - fmin(qw, 0.0)) + (fmax(qs, 0.0) - fmin(qn, 0.0));
        let od = out * dt_dx;
        if od > h {
            h / od
        } else {
            1.0
        }
    };
    f[0] = lim(h[0], qxn[0], 0.0, qyn[0], qyu[0]);
    let m = nx - 1;
    let (hh, qe, qw, qs, qn) = (&h[1..], &qxn[1..], &qxn[..m], &qyn[1..], &qyu[1..]);
    let o = &mut f[1..1 + m];
    for i in 0..m {
        o[i] = lim(hh[i], qe[i], qw[i], qs[i], qn[i]);
    }
    f[nx] = 1.0;
}

/// Limited discharges `q · (factor of the cell it drains)`: `fa` for q > 0, `fb` otherwise.
#[inline(always)]
fn limit_row(q: &[f64], fa: &[f64], fb: &[f64], out: &mut [f32]) {
    let n = out.len();
    let (q, fa, fb) = (&q[..n], &fa[..n], &fb[..n]);
    for i in 0..n {
        out[i] = (q[i] * select(q[i] > 0.0, fa[i], fb[i])) as f32;
    }
}

/// Row buffers of a task.
struct Bufs {
    /// Unlimited discharges (east, south) of rows j and j + 1.
    xc: Vec<f64>,
    yc: Vec<f64>,
    xn: Vec<f64>,
    yn: Vec<f64>,
    /// Limiter factors of rows j and j + 1 (nx + 1 each).
    fc: Vec<f64>,
    fnx: Vec<f64>,
    /// Limited south discharges of row j − 1 (the north faces of row j).
    qnl: Vec<f32>,
}

/// One block of rows from `j0`: the fused step (see the module documentation).
#[inline(always)]
fn run_block(c: &Ctx, j0: usize, out: Out) -> RowStats {
    let nx = c.nx;
    let rows = out.h.len() / nx;
    let mut st = RowStats::default();
    let mut b = Bufs {
        xc: vec![0.0; nx],
        yc: vec![0.0; nx],
        xn: vec![0.0; nx],
        yn: vec![0.0; nx],
        fc: vec![1.0; nx + 1],
        fnx: vec![1.0; nx + 1],
        qnl: vec![0.0f32; nx],
    };
    // Start: the north faces of row j0 need rows j0 − 1 (and j0 − 2 for its factors).
    if j0 > 0 {
        // xn/yn: row j0 − 1; xc/yc: row j0 − 2 (south only matters).
        if j0 > 1 {
            flux_row(c, j0 - 2, &mut b.xc, &mut b.yc);
        } else {
            b.yc.fill(0.0);
        }
        flux_row(c, j0 - 1, &mut b.xn, &mut b.yn);
        factor_row(c, j0 - 1, &b.xn, &b.yn, &b.yc, &mut b.fnx);
        // fnx: factors of row j0 − 1; compute row j0 into xc/yc, fc.
        flux_row(c, j0, &mut b.xc, &mut b.yc);
        factor_row(c, j0, &b.xc, &b.yc, &b.yn, &mut b.fc);
        limit_row(&b.yn, &b.fnx, &b.fc, &mut b.qnl);
    } else {
        flux_row(c, j0, &mut b.xc, &mut b.yc);
        factor_row(c, j0, &b.xc, &b.yc, c.zeros, &mut b.fc);
        b.qnl.fill(0.0);
    }
    for r in 0..rows {
        let j = j0 + r;
        if j + 1 < c.ny {
            flux_row(c, j + 1, &mut b.xn, &mut b.yn);
            factor_row(c, j + 1, &b.xn, &b.yn, &b.yc, &mut b.fnx);
        } else {
            b.fnx.copy_from_slice(&b.fc);
        }
        let s = r * nx..(r + 1) * nx;
        let qxr = &mut out.qx[s.clone()];
        let qyr = &mut out.qy[s.clone()];
        limit_row(&b.xc, &b.fc[..nx], &b.fc[1..], qxr);
        limit_row(&b.yc, &b.fc, &b.fnx, qyr);
        let hr = &mut out.h[s.clone()];
        continuity_row(c, j, qxr, qyr, &b.qnl, hr, &mut st);
        summaries_row(
            c,
            j,
            hr,
            qxr,
            qyr,
            &b.qnl,
            &mut out.max_depth[s.clone()],
            &mut out.max_speed[s.clone()],
            &mut out.max_hazard[s.clone()],
            &mut out.spells[s],
            &mut st,
        );
        b.qnl.copy_from_slice(qyr);
        std::mem::swap(&mut b.xc, &mut b.xn);
        std::mem::swap(&mut b.yc, &mut b.yn);
        std::mem::swap(&mut b.fc, &mut b.fnx);
    }
    st
}

/// New depth of row j from the limited discharges, then the rare cases: blocked cells,
/// inflows, negative round-off, stages.
#[inline(always)]
fn continuity_row(
    c: &Ctx,
    j: usize,
    qx: &[f32],
    qy: &[f32],
    qn: &[f32],
    hr: &mut [f64],
    st: &mut RowStats,
) {
    let nx = c.nx;
    let b = j * nx;
    let h = &c.h[b..b + nx];
    let (qx, qy, qn) = (&qx[..nx], &qy[..nx], &qn[..nx]);
    let hr = &mut hr[..nx];
    let (dt_dx, rain) = (c.dt_dx, c.rain_uniform);
    hr[0] = h[0] + dt_dx * ((0.0 - qx[0] as f64) + (qn[0] as f64 - qy[0] as f64)) + rain;
    let m = nx - 1;
    let (hh, qw, qe, qnn, qs) = (&h[1..], &qx[..m], &qx[1..], &qn[1..], &qy[1..]);
    let o = &mut hr[1..];
    for i in 0..m {
        let (qw, qe, qn, qs) = (qw[i] as f64, qe[i] as f64, qnn[i] as f64, qs[i] as f64);
        o[i] = hh[i] + dt_dx * ((qw - qe) + (qn - qs)) + rain;
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

/// Summaries of row j after its new depth: largest depth, speed and hazard rating (while wet),
/// the row's largest depth, and the wet and hazard spells of the cells that crossed a threshold.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn summaries_row(
    c: &Ctx,
    j: usize,
    hr: &[f64],
    qx: &[f32],
    qy: &[f32],
    qn: &[f32],
    md: &mut [f64],
    ms: &mut [f32],
    mh: &mut [f32],
    spells: &mut [Spells],
    st: &mut RowStats,
) {
    let nx = c.nx;
    let ho = &c.h[j * nx..(j + 1) * nx];
    let (hr, qx, qy, qn) = (&hr[..nx], &qx[..nx], &qy[..nx], &qn[..nx]);
    let (md, ms, mh) = (&mut md[..nx], &mut ms[..nx], &mut mh[..nx]);
    let (wet, hz) = (c.wet, c.hazard);
    let cell = |h: f64,
                ho: f64,
                qw: f32,
                qe: f32,
                qn: f32,
                qs: f32,
                md: &mut f64,
                ms: &mut f32,
                mh: &mut f32| {
        // Unconditional stores of a max (a select back to the old value became a masked
        // store, which is microcoded and slow on AMD).
        *md = md.max(h);
        // Speed and hazard rating in f32 (what they are kept in): cheaper division and root.
        let hf = h as f32;
        let r = 0.5 / hf;
        let u = (qw + qe) * r;
        let v = (qn + qs) * r;
        let speed = (u * u + v * v).sqrt();
        let hazard = hf * (speed + 0.5);
        let w = h > wet;
        *ms = ms.max(if w { speed } else { 0.0 });
        *mh = mh.max(if w { hazard } else { 0.0 });
        (((ho > wet) != w) | ((ho > hz) != (h > hz))) as u32
    };
    let mut crossed = cell(
        hr[0], ho[0], 0.0, qx[0], qn[0], qy[0], &mut md[0], &mut ms[0], &mut mh[0],
    );
    let m = nx - 1;
    let (h1, ho1, qw, qe, qn1, qs) = (&hr[1..], &ho[1..], &qx[..m], &qx[1..], &qn[1..], &qy[1..]);
    let (md1, ms1, mh1) = (&mut md[1..], &mut ms[1..], &mut mh[1..]);
    for i in 0..m {
        crossed |= cell(
            h1[i],
            ho1[i],
            qw[i],
            qe[i],
            qn1[i],
            qs[i],
            &mut md1[i],
            &mut ms1[i],
            &mut mh1[i],
        );
    }
    // The row's largest depth, in 8 lanes (a plain f64 max fold does not vectorise).
    let mut lanes = [0.0f64; 8];
    let chunks = hr.chunks_exact(8);
    let rest = chunks.remainder();
    for ch in chunks {
        for l in 0..8 {
            lanes[l] = fmax(lanes[l], ch[l]);
        }
    }
    st.h_max = lanes.iter().chain(rest).fold(st.h_max, |a, &b| fmax(a, b));
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

fn block_plain(c: &Ctx, j0: usize, out: Out) -> RowStats {
    run_block(c, j0, out)
}

/// The same code compiled with AVX2 and FMA available (LLVM vectorises the row loops with 4
/// f64 lanes; no fused multiply-add is introduced, so results equal the plain build's).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn block_avx2(c: &Ctx, j0: usize, out: Out) -> RowStats {
    run_block(c, j0, out)
}

/// The same code with AVX-512 (8 f64 lanes, mask registers for the selects; 20 % faster than
/// AVX2 on an AMD Zen 4). Built where the compiler has these target features (`build.rs`).
#[cfg(all(target_arch = "x86_64", flood_avx512))]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
unsafe fn block_avx512(c: &Ctx, j0: usize, out: Out) -> RowStats {
    run_block(c, j0, out)
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

    /// One block of rows with this build.
    fn run(self, c: &Ctx, j0: usize, out: Out) -> RowStats {
        match self {
            // SAFETY: `detect` saw the target features of each build on this processor.
            #[cfg(all(target_arch = "x86_64", flood_avx512))]
            Kernel::Avx512 => unsafe { block_avx512(c, j0, out) },
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => unsafe { block_avx2(c, j0, out) },
            _ => block_plain(c, j0, out),
        }
    }
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
    zeros: Vec<f64>,
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
    t: f64,
    steps: u64,
    h_max: f64,
    mass: MassBalance,
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
            zeros: vec![0.0; nx],
            forcing,
            h_next: h.clone(),
            max_depth: h.clone(),
            h,
            qx: vec![0.0; n],
            qy: vec![0.0; n],
            qx_next: vec![0.0; n],
            qy_next: vec![0.0; n],
            max_speed: vec![0.0; n],
            max_hazard: vec![0.0; n],
            spells,
            kernel: Kernel::detect(),
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
        let (nx, ny) = (self.grid.nx, self.grid.ny);
        let p = &self.p;
        let c = Ctx {
            nx,
            ny,
            h: &self.h,
            z: &self.z,
            n2e: &self.n2e,
            n2s: &self.n2s,
            qx: &self.qx,
            qy: &self.qy,
            zeros: &self.zeros,
            rain_slot: self.rain_slot.as_deref(),
            rain_uniform: self.rain_uniform.map_or(0.0, |s| vals[s]),
            vals: &vals,
            blocked: &self.blocked,
            blocked_start: &self.blocked_start,
            special: &self.special,
            special_start: &self.special_start,
            theta: p.theta,
            half: 0.5 * (1.0 - p.theta),
            gdt: p.g * dt,
            gdt_dx: p.g * dt / self.grid.dx,
            dt_dx: dt / self.grid.dx,
            thr: p.depth_threshold,
            wet: p.wet_depth,
            hazard: p.hazard_depth.max(p.wet_depth),
            t0: self.t,
            t1,
        };
        // Blocks of rows: a few per thread (each recomputes two rows of discharges above it).
        let threads = rayon::current_num_threads().max(1);
        let rows = ny.div_ceil(4 * threads).clamp(4, 256);
        let len = rows * nx;
        let kernel = self.kernel;
        let stats = self
            .h_next
            .par_chunks_mut(len)
            .zip(self.qx_next.par_chunks_mut(len))
            .zip(self.qy_next.par_chunks_mut(len))
            .zip(self.max_depth.par_chunks_mut(len))
            .zip(self.max_speed.par_chunks_mut(len))
            .zip(self.max_hazard.par_chunks_mut(len))
            .zip(self.spells.par_chunks_mut(len))
            .enumerate()
            .map(
                |(b, ((((((h, qx), qy), max_depth), max_speed), max_hazard), spells))| {
                    let out = Out {
                        h,
                        qx,
                        qy,
                        max_depth,
                        max_speed,
                        max_hazard,
                        spells,
                    };
                    kernel.run(&c, b * rows, out)
                },
            )
            .reduce(RowStats::default, RowStats::merge);
        let rain: f64 = self
            .rain_cells
            .iter()
            .zip(&vals)
            .map(|(&n, &v)| n * v)
            .sum();
        std::mem::swap(&mut self.h, &mut self.h_next);
        std::mem::swap(&mut self.qx, &mut self.qx_next);
        std::mem::swap(&mut self.qy, &mut self.qy_next);
        let area = self.grid.cell_area();
        self.mass.rain_m3 += rain * area;
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
            "cpu reference solver (f64, f32 discharges, rayon, {} threads{})",
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
            self.step(t_end);
        }
        Ok(())
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

    /// A bowl with a lake, two rain zones, a blocked block, an inflow and a stage line, on a
    /// grid whose sizes are not multiples of the vector widths.
    fn busy_model() -> FloodModel {
        let (nx, ny) = (61, 47);
        let mut m = FloodModel::flat(nx, ny, 5.0, 0.0, 0.03);
        for j in 0..ny {
            for i in 0..nx {
                let k = j * nx + i;
                let (x, y) = (i as f64 - 30.0, j as f64 - 23.0);
                m.z[k] = 0.002 * (x * x + y * y) + 0.1 * (i as f64 / 3.0).sin();
                m.h0[k] = (1.5 - m.z[k]).max(0.0);
                m.rain_zone[k] = u16::from(i > 40);
                m.blocked[k] = (10..14).contains(&i) && (5..30).contains(&j);
            }
        }
        m.rain = vec![
            TimeSeries::constant(40.0 / 3.6e6, Interp::Step),
            TimeSeries::constant(90.0 / 3.6e6, Interp::Step),
        ];
        m.inflows.push(Inflow {
            name: "pipe".into(),
            cell: 20 * nx + 45,
            series: TimeSeries::constant(2.0, Interp::Linear),
        });
        m.stages.push(Stage {
            name: "river".into(),
            cells: (0..nx).map(|i| (ny - 1) * nx + i).collect(),
            series: TimeSeries::constant(1.2, Interp::Linear),
        });
        m
    }

    /// The summaries kept at threshold crossings (wet and hazard spells) and in f32 (speed,
    /// hazard rating) equal the per-step bookkeeping done here from the state after every step.
    #[test]
    fn summaries_match_step_by_step_bookkeeping() {
        let m = busy_model();
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
        let mut x = 1e-7;
        while x < 1e5 {
            let (a, b) = (super::inv_cbrt(x), 1.0 / x.cbrt());
            assert!(((a - b) / b).abs() < 4.0 * f64::EPSILON, "{x}: {a} vs {b}");
            x *= 1.013;
        }
    }
}
