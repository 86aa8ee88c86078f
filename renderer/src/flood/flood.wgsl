// Local inertial flood kernels (Bates et al. 2010, de Almeida et al. 2012 θ weighting): the same
// passes as the CPU reference solver in `scenarios::flood::cpu`, in f32 with the ground shifted
// by a datum so that water levels stay small numbers.
//
// The state is the water level η (above the datum), not the depth: still water has equal
// levels in every wet cell, and equal levels difference to exactly zero, so a lake at rest
// stays exactly at rest whatever its ground (a depth state made η = z + h in f32, whose
// rounding moved still water). Each level is a compensated pair (hi, lo): hi + lo is the level
// to about 1e-14 m; updates add to it by an exact two-sum, so rain of a few µm a step on a
// level of metres is kept (a plain f32 level would round it away). Depth = (hi − z) + lo.
//
// One step = clock (one workgroup: h_max from the partial maxima, Δt, the time, the forcing of
// every slot) → flux (new face discharges from the old ones) → limit (outflow factors) →
// update (continuity, forcing, summaries, partial maxima of the new depth). A batch of steps
// runs without the CPU; `clock` sets Δt = 0 once the batch target time is reached, and the
// other kernels then leave everything as it is.
//
// Δt schedule (as `scenarios::flood::cpu::group_dt`): set at the start of each group of
// dt_every steps from a bound of the deepest water over the group (the deepest now, what the
// forcing can add, what the flow gathered in the last groups); single steps while the water
// is thin and after a group that would have gone past α. Unlike the CPU, the clock sees the
// deepest water of every step, so it also starts a new group at once when the shared Δt would
// take a step past α: every step keeps Δt·√(g·h_max)/Δx ≤ α.

struct Params {
    nx: u32,
    ny: u32,
    n_cells: u32,
    n_slots: u32,
    n_wg: u32,
    wg_x: u32,
    slot_base: u32, // index of the first slot value in `misc`
    part_base: u32, // index of the first partial maximum in `misc`
    dx: f32,
    g: f32,
    theta: f32,
    alpha: f32,
    depth_thr: f32,
    max_dt: f32,
    wet: f32,
    hazard: f32,
    t_end: f32,    // batch end time, seconds after the batch start
    t0: f32,       // batch start, seconds since the start of the run
    dt_every: u32, // steps of a group sharing one Δt
    fallback: u32, // groups taken as single steps after one would have gone past α
    thin: f32,     // single steps while the deepest water is thinner than this (m)
    flow_margin: f32,
    flow_memory: f32,
    cushion: f32,
    slack: f32,    // relative rounding slack on α
    zero: u32,     // 0, unknown to the shader compiler (see opaque)
    out_base: u32, // index in `misc` of the free-outflow table (coef, exponent) pairs
    pad2: u32,
}

// Per cell: ground (shifted), Manning's n, rain slot (bits 0..15; bits 16..31: 1 + the cell's
// entry in the free-outflow table, 0 for none), and a code: bit 0 blocked, bit 1 east face
// open, bit 2 south face open, bit 3 the special slot is a stage (else an inflow); bits 8..31
// the special slot, 0xFFFFFF for none.
struct Cell {
    z: f32,
    n: f32,
    rain: u32,
    code: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> cell: array<Cell>;
// Water level above the datum, a compensated pair (hi, lo); hi = z and lo = 0 where dry.
@group(0) @binding(2) var<storage, read_write> lev: array<vec2<f32>>;
// Limited discharges of the last step (x: east face, y: south face), m²/s.
@group(0) @binding(3) var<storage, read_write> q: array<vec2<f32>>;
// Discharges of this step before limiting.
@group(0) @binding(4) var<storage, read_write> qn: array<vec2<f32>>;
@group(0) @binding(5) var<storage, read_write> fac: array<f32>;
// (max depth, first wet time or −1, wet duration, duration above the hazard depth)
@group(0) @binding(6) var<storage, read_write> acc: array<vec4<f32>>;
// (max speed, max hazard rating, stage exchange depth, depth added by clamping negatives)
@group(0) @binding(7) var<storage, read_write> acc2: array<vec4<f32>>;
// [0] elapsed, [1] Kahan compensation, [2] Δt of this step, [3] step start, [4] steps in the
// batch (these five are zeroed before each batch), [5] h_max at this step's start, [6] the Δt
// of the current group, [7] steps taken in the group, [8] the largest Courant number so far,
// [9] flow rise allowed for (m a step), [10] flow rise measured in the current group, [11]
// the forcing's bound of the deepest water at the end of the last step, [12] single-step
// groups left, [13] 1 once a step was taken, [14] steps of the current group; then the slot
// values, then the partial maxima.
@group(0) @binding(8) var<storage, read_write> misc: array<f32>;
// Series points (t relative to the batch start, value) and slots (offset, length, kind, cell);
// kind 0: rain (step series, integral), 1: inflow (linear, integral / cell area; `cell` is
// its cell), 2: stage (linear, value at the end of the step).
@group(0) @binding(9) var<storage, read> series: array<vec2<f32>>;
@group(0) @binding(10) var<storage, read> slots: array<vec4<u32>>;

const WG: u32 = 256u;
const NONE: u32 = 0xFFFFFFu;

var<workgroup> red: array<f32, 256>;
var<workgroup> red2: array<f32, 256>;
var<workgroup> sh_dt: f32;
var<workgroup> sh_t: f32;
var<workgroup> sh_w: f32;
var<workgroup> sh_hmax: f32;

fn index(wg: vec3<u32>, li: u32) -> u32 {
    return (wg.y * P.wg_x + wg.x) * WG + li;
}

// Depth of cell k.
fn depth(k: u32) -> f32 {
    let l = lev[k];
    return (l.x - cell[k].z) + l.y;
}

// Value of series `s` at time t.
fn value_at(off: u32, len: u32, t: f32, linear: bool) -> f32 {
    if (t <= series[off].x) {
        return series[off].y;
    }
    if (t >= series[off + len - 1u].x) {
        return series[off + len - 1u].y;
    }
    // Last point with time <= t (binary search).
    var lo = 0u;
    var hi = len - 1u;
    while (hi - lo > 1u) {
        let mid = (lo + hi) / 2u;
        if (series[off + mid].x <= t) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let a = series[off + lo];
    if (!linear) {
        return a.y;
    }
    let b = series[off + lo + 1u];
    return a.y + (t - a.x) / (b.x - a.x) * (b.y - a.y);
}

// x, hidden from the shader compiler's float algebra: its bits XOR a uniform zero.
fn opaque(x: f32) -> f32 {
    return bitcast<f32>(bitcast<u32>(x) ^ P.zero);
}

// a + b as an unevaluated pair (s, e) with s + e = a + b exactly (Knuth's two-sum). Shader
// compilers may treat float additions as associative (lavapipe folded (a + b) − a to b, so the
// error term came out 0, and WGSL cannot mark an operation exact): the sum and the rounded part
// go through `opaque`, which no float rule sees through.
fn two_sum(a: f32, b: f32) -> vec2<f32> {
    let s = opaque(a + b);
    let bb = opaque(s - a);
    let av = opaque(s - bb);
    return vec2<f32>(s, (a - av) + (b - bb));
}

// Largest value of a linear series over [a, b]: the ends and the points in between.
fn max_over(off: u32, len: u32, a: f32, b: f32) -> f32 {
    var m = max(value_at(off, len, a, true), value_at(off, len, b, true));
    for (var i = 0u; i < len; i++) {
        let p = series[off + i];
        if (p.x > a && p.x < b) {
            m = max(m, p.y);
        }
    }
    return m;
}

// Integral of a series over [a, a + dt]. The pieces between the series' points add up to dt
// itself: (a + dt) − a in f32 would round dt to the grid of a's magnitude, and with a constant
// Δt that rounding takes the same side every step (rain and inflows then gained 5e-5 of their
// volume in a batch of steps).
fn integral(off: u32, len: u32, a: f32, dt: f32, linear: bool) -> f32 {
    if (dt <= 0.0) {
        return 0.0;
    }
    var sum = 0.0;
    var lo = a;
    var left = dt;
    let first = series[off].x;
    if (lo < first) {
        let w = min(left, first - lo);
        sum += series[off].y * w;
        left -= w;
        lo = first;
    }
    if (left <= 0.0) {
        return sum;
    }
    // Segment k: last point with time <= lo.
    var k = 0u;
    if (lo >= series[off + len - 1u].x) {
        k = len - 1u;
    } else {
        var l = 0u;
        var r = len - 1u;
        while (r - l > 1u) {
            let mid = (l + r) / 2u;
            if (series[off + mid].x <= lo) {
                l = mid;
            } else {
                r = mid;
            }
        }
        k = l;
    }
    loop {
        if (left <= 0.0) {
            break;
        }
        if (k + 1u >= len) {
            sum += series[off + len - 1u].y * left;
            break;
        }
        let p = series[off + k];
        let n = series[off + k + 1u];
        let w = min(left, n.x - lo);
        if (w > 0.0) {
            if (linear) {
                let va = p.y + (lo - p.x) / (n.x - p.x) * (n.y - p.y);
                let vb = p.y + (lo + w - p.x) / (n.x - p.x) * (n.y - p.y);
                sum += 0.5 * (va + vb) * w;
            } else {
                sum += p.y * w;
            }
        }
        left -= w;
        lo = n.x;
        k += 1u;
    }
    return sum;
}

// Partial maxima of the depth at the start (before the first step).
@compute @workgroup_size(256)
fn init_max(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let k = index(wg, li);
    var v = 0.0;
    if (k < P.n_cells) {
        v = depth(k);
    }
    red[li] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
        if (li < s) {
            red[li] = max(red[li], red[li + s]);
        }
        workgroupBarrier();
    }
    let w = wg.y * P.wg_x + wg.x;
    if (li == 0u && w < P.n_wg) {
        misc[P.part_base + w] = red[0];
    }
}

// Max-reduce red and red2 over the workgroup (every invocation calls it).
fn reduce2(li: u32) {
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
        if (li < s) {
            red[li] = max(red[li], red[li + s]);
            red2[li] = max(red2[li], red2[li + s]);
        }
        workgroupBarrier();
    }
}

// Δt = α·Δx/√(g·h), at most max_dt.
fn dt_for(h: f32) -> f32 {
    if (h > 0.0) {
        return min(P.alpha * P.dx / sqrt(P.g * h), P.max_dt);
    }
    return P.max_dt;
}

// Each invocation's share of the forcing over [a, a + w] from its slots: the largest rain depth
// into red, the largest depth a stage or an inflow can give a cell into red2 (a stage: h_max
// plus its rise; an inflow: its cell's depth, or h_max when `own` is false, plus its depth).
fn forcing_bound(li: u32, a: f32, w: f32, hmax: f32, own: bool) {
    var rain = 0.0;
    var deepest = hmax;
    for (var s = li; s < P.n_slots; s += WG) {
        let d = slots[s];
        if (d.z == 0u) {
            rain = max(rain, integral(d.x, d.y, a, w, false));
        } else if (d.z == 1u) {
            var base = hmax;
            if (own) {
                base = depth(d.w);
            }
            deepest = max(deepest, base + integral(d.x, d.y, a, w, true) / (P.dx * P.dx));
        } else {
            let rise = max(max_over(d.x, d.y, a, a + w) - value_at(d.x, d.y, a, true), 0.0);
            deepest = max(deepest, hmax + rise);
        }
    }
    red[li] = rain;
    red2[li] = deepest;
}

// One workgroup: h_max, Δt, the clock and the slot values of this step.
@compute @workgroup_size(256)
fn clock(@builtin(local_invocation_index) li: u32) {
    var m = 0.0;
    for (var i = li; i < P.n_wg; i += WG) {
        m = max(m, misc[P.part_base + i]);
    }
    red[li] = m;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
        if (li < s) {
            red[li] = max(red[li], red[li + s]);
        }
        workgroupBarrier();
    }
    if (li == 0u) {
        let hmax = red[0];
        sh_hmax = hmax;
        // What the flow added in the last step beyond the forcing's bound.
        if (misc[13] > 0.0) {
            misc[10] = max(misc[10], hmax - misc[11]);
        }
        var start = misc[7] >= misc[14];
        if (!start && misc[6] * sqrt(P.g * hmax) / P.dx > P.alpha * (1.0 + P.slack)) {
            // The group's Δt would take this step past α: a new group now, then single steps.
            start = true;
            misc[12] = f32(P.fallback) + 1.0;
        }
        var w = -1.0;
        if (start) {
            misc[9] = max(max(misc[10], 0.0), P.flow_memory * misc[9]);
            misc[10] = 0.0;
            misc[12] = max(misc[12] - 1.0, 0.0);
            var k = P.dt_every;
            if (misc[12] > 0.0 || hmax < P.thin) {
                k = 1u;
            }
            misc[7] = 0.0;
            misc[14] = f32(k);
            w = min(f32(k - 1u) * dt_for(hmax), max(P.t_end - misc[0], 0.0));
        }
        sh_w = w;
        sh_t = misc[0];
    }
    workgroupBarrier();
    // The forcing's bound of the deepest water over the group (w < 0: not a group start).
    let hmax = sh_hmax;
    let t_now = sh_t;
    let w = sh_w;
    forcing_bound(li, t_now, max(w, 0.0), hmax, true);
    reduce2(li);
    if (li == 0u) {
        var dt = misc[6];
        if (w >= 0.0) {
            dt = dt_for(hmax);
            if (misc[14] > 1.0) {
                let kk = misc[14] - 1.0;
                let h = max(red[0] + red2[0], hmax) + P.flow_margin * kk * misc[9];
                dt = dt_for(h * (1.0 + P.cushion));
            }
            misc[6] = dt;
        }
        let elapsed = misc[0];
        let remaining = P.t_end - elapsed;
        if (remaining <= 0.0) {
            dt = 0.0;
        } else if (dt >= remaining) {
            dt = remaining;
            misc[0] = P.t_end;
            misc[1] = 0.0;
        } else {
            // Kahan summation of the elapsed time.
            let y = dt - misc[1];
            let t = elapsed + y;
            misc[1] = (t - elapsed) - y;
            misc[0] = t;
        }
        misc[2] = dt;
        misc[3] = elapsed;
        if (dt > 0.0) {
            misc[4] = misc[4] + 1.0;
            misc[7] = misc[7] + 1.0;
            misc[8] = max(misc[8], dt * sqrt(P.g * hmax) / P.dx);
        }
        misc[5] = hmax;
        sh_dt = dt;
        sh_t = elapsed;
    }
    workgroupBarrier();
    let dt = sh_dt;
    let t0 = sh_t;
    let area = P.dx * P.dx;
    for (var s = li; s < P.n_slots; s += WG) {
        let d = slots[s];
        var v = 0.0;
        if (d.z == 0u) {
            v = integral(d.x, d.y, t0, dt, false);
        } else if (d.z == 1u) {
            v = integral(d.x, d.y, t0, dt, true) / area;
        } else {
            v = value_at(d.x, d.y, t0 + dt, true);
        }
        misc[P.slot_base + s] = v;
    }
    // The forcing's bound of the deepest water at the end of this step, for the flow rise.
    forcing_bound(li, t0, dt, hmax, false);
    reduce2(li);
    if (li == 0u && dt > 0.0) {
        misc[11] = red[0] + red2[0];
        misc[13] = 1.0;
    }
}

// Discharge across a face between cells a (west/north) and b (east/south) with levels ea, eb
// (compensated pairs) and ground za, zb.
fn face(ea: vec2<f32>, za: f32, eb: vec2<f32>, zb: f32, q0: f32, ql: f32, qr: f32, n2: f32, dt: f32) -> f32 {
    let hf = max(ea.x, eb.x) - max(za, zb);
    if (hf <= P.depth_thr) {
        return 0.0;
    }
    // Equal levels difference to exactly zero.
    let slope = (eb.x - ea.x) + (eb.y - ea.y);
    let num = P.theta * q0 + 0.5 * (1.0 - P.theta) * (ql + qr) - P.g * dt / P.dx * hf * slope;
    let hf73 = hf * hf * pow(hf, 1.0 / 3.0);
    return num / (1.0 + P.g * dt * n2 * abs(q0) / hf73);
}

// New face discharges (east and south face of each cell) from the old ones.
@compute @workgroup_size(256)
fn flux(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let k = index(wg, li);
    let dt = misc[2];
    if (k >= P.n_cells || dt <= 0.0) {
        return;
    }
    let c = cell[k];
    let f = c.code;
    let i = k % P.nx;
    let j = k / P.nx;
    let q0 = q[k];
    let lk = lev[k];
    var out = vec2<f32>(0.0, 0.0);
    if ((f & 2u) != 0u) {
        let e = cell[k + 1u];
        let nf = 0.5 * (c.n + e.n);
        var ql = q0.x;
        if (i > 0u && (cell[k - 1u].code & 2u) != 0u) {
            ql = q[k - 1u].x;
        }
        var qr = q0.x;
        if ((e.code & 2u) != 0u) {
            qr = q[k + 1u].x;
        }
        out.x = face(lk, c.z, lev[k + 1u], e.z, q0.x, ql, qr, nf * nf, dt);
    }
    if ((f & 4u) != 0u) {
        let s = cell[k + P.nx];
        let nf = 0.5 * (c.n + s.n);
        var ql = q0.y;
        if (j > 0u && (cell[k - P.nx].code & 4u) != 0u) {
            ql = q[k - P.nx].y;
        }
        var qr = q0.y;
        if ((s.code & 4u) != 0u) {
            qr = q[k + P.nx].y;
        }
        out.y = face(lk, c.z, lev[k + P.nx], s.z, q0.y, ql, qr, nf * nf, dt);
    }
    qn[k] = out;
}

// Outflow limiter: scale a cell's outgoing discharges so that they take at most its depth.
@compute @workgroup_size(256)
fn limit(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let k = index(wg, li);
    let dt = misc[2];
    if (k >= P.n_cells || dt <= 0.0) {
        return;
    }
    let i = k % P.nx;
    let j = k / P.nx;
    let own = qn[k];
    var qw = 0.0;
    if (i > 0u) {
        qw = qn[k - 1u].x;
    }
    var qnn = 0.0;
    if (j > 0u) {
        qnn = qn[k - P.nx].y;
    }
    let out = (max(own.x, 0.0) - min(qw, 0.0)) + (max(own.y, 0.0) - min(qnn, 0.0));
    let out_depth = out * dt / P.dx;
    let d = depth(k);
    var fk = 1.0;
    if (out_depth > d) {
        fk = max(d, 0.0) / out_depth;
    }
    fac[k] = fk;
}

// Continuity, forcing and summaries; the partial maximum of the new depth per workgroup.
@compute @workgroup_size(256)
fn update(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let k = index(wg, li);
    let dt = misc[2];
    var hn = 0.0;
    if (k < P.n_cells) {
        hn = depth(k);
        let h_old = hn;
        let c = cell[k];
        let f = c.code;
        if (dt > 0.0 && (f & 1u) == 0u) {
            let i = k % P.nx;
            let j = k / P.nx;
            let own = qn[k];
            var qe = own.x;
            if (qe > 0.0) {
                qe *= fac[k];
            } else if (qe < 0.0) {
                qe *= fac[k + 1u];
            }
            var qs = own.y;
            if (qs > 0.0) {
                qs *= fac[k];
            } else if (qs < 0.0) {
                qs *= fac[k + P.nx];
            }
            var qw = 0.0;
            if (i > 0u) {
                qw = qn[k - 1u].x;
                if (qw > 0.0) {
                    qw *= fac[k - 1u];
                } else if (qw < 0.0) {
                    qw *= fac[k];
                }
            }
            var qnn = 0.0;
            if (j > 0u) {
                qnn = qn[k - P.nx].y;
                if (qnn > 0.0) {
                    qnn *= fac[k - P.nx];
                } else if (qnn < 0.0) {
                    qnn *= fac[k];
                }
            }
            q[k] = vec2<f32>(qe, qs);
            var delta = dt / P.dx * ((qw - qe) + (qnn - qs));
            delta += misc[P.slot_base + (c.rain & 0xFFFFu)];
            let sp = f >> 8u;
            var stage = false;
            var level = 0.0;
            if (sp != NONE) {
                let v = misc[P.slot_base + sp];
                if ((f & 8u) == 0u) {
                    delta += v;
                } else {
                    stage = true;
                    level = v;
                }
            }
            // level += delta as an exact two-sum into (hi, lo), then renormalised.
            let l = lev[k];
            let se = two_sum(l.x, delta);
            let r = two_sum(se.x, l.y + se.y);
            var hi = r.x;
            var lo = r.y;
            hn = (hi - c.z) + lo;
            // acc2 is read and written only where something is booked in it.
            let touch = hn < 0.0 || stage || hn > P.wet || (c.rain >> 16u) != 0u;
            var a2 = vec4<f32>(0.0);
            if (touch) {
                a2 = acc2[k];
            }
            // Free-outflow edge: q = coef·h^e across the outer face from the depth at the start
            // of the step, taking at most the depth the cell has now.
            let oi = c.rain >> 16u;
            var lost = 0.0;
            if (oi != 0u && h_old > 0.0 && hn > 0.0) {
                let e = P.out_base + 2u * (oi - 1u);
                lost = min(dt / P.dx * misc[e] * pow(h_old, misc[e + 1u]), hn);
                let r2 = two_sum(hi, -lost);
                let r3 = two_sum(r2.x, lo + r2.y);
                hi = r3.x;
                lo = r3.y;
                hn = (hi - c.z) + lo;
            }
            if (hn < 0.0) {
                a2.w -= hn;
                hi = c.z;
                lo = 0.0;
                hn = 0.0;
            }
            a2.z -= lost;
            if (stage) {
                hi = max(level, c.z);
                lo = 0.0;
                let hs = hi - c.z;
                a2.z += hs - hn;
                hn = hs;
            }
            lev[k] = vec2<f32>(hi, lo);
            if (hn > 0.0) {
                var a = acc[k];
                a.x = max(a.x, hn);
                if (hn > P.wet) {
                    if (a.y < 0.0) {
                        a.y = P.t0 + misc[3] + dt;
                    }
                    a.z += dt;
                    if (hn > P.hazard) {
                        a.w += dt;
                    }
                    let u = 0.5 * (qw + qe) / hn;
                    let v = 0.5 * (qnn + qs) / hn;
                    let speed = sqrt(u * u + v * v);
                    a2.x = max(a2.x, speed);
                    a2.y = max(a2.y, hn * (speed + 0.5));
                }
                acc[k] = a;
            }
            if (touch) {
                acc2[k] = a2;
            }
        }
    }
    red[li] = hn;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
        if (li < s) {
            red[li] = max(red[li], red[li + s]);
        }
        workgroupBarrier();
    }
    let w = wg.y * P.wg_x + wg.x;
    if (li == 0u && w < P.n_wg) {
        misc[P.part_base + w] = red[0];
    }
}
