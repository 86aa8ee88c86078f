// Local inertial flood kernels (Bates et al. 2010, de Almeida et al. 2012 θ weighting): the same
// passes as the CPU reference solver in `scenarios::flood::cpu`, in f32 with the ground shifted
// by a datum so that water levels stay small numbers.
//
// One step = clock (one workgroup: h_max from the partial maxima, Δt, the time, the forcing of
// every slot) → flux (new face discharges from the old ones) → limit (outflow factors) →
// update (continuity, forcing, summaries, partial maxima of the new depth). A batch of steps
// runs without the CPU; `clock` sets Δt = 0 once the batch target time is reached, and the
// other kernels then leave everything as it is.

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
    dt_every: u32, // Δt is set every this many steps of a run segment
    phase: u32,    // steps of the segment before this batch, modulo dt_every
}

// Per cell: ground (shifted), Manning's n, rain slot, and a code: bit 0 blocked, bit 1 east face
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
@group(0) @binding(2) var<storage, read_write> h: array<f32>;
// Limited discharges of the last step (x: east face, y: south face), m²/s.
@group(0) @binding(3) var<storage, read_write> q: array<vec2<f32>>;
// Discharges of this step before limiting.
@group(0) @binding(4) var<storage, read_write> qn: array<vec2<f32>>;
@group(0) @binding(5) var<storage, read_write> fac: array<f32>;
// (max depth, first wet time or −1, wet duration, duration above the hazard depth)
@group(0) @binding(6) var<storage, read_write> acc: array<vec4<f32>>;
// (max speed, max hazard rating, stage exchange depth, unused)
@group(0) @binding(7) var<storage, read_write> acc2: array<vec4<f32>>;
// [0] elapsed, [1] Kahan compensation, [2] Δt of this step, [3] step start, [4] steps in the batch,
// [5] h_max, [6] the Δt of the current group of dt_every steps, then the slot values, then
// the partial maxima.
@group(0) @binding(8) var<storage, read_write> misc: array<f32>;
// Series points (t relative to the batch start, value) and slots (offset, length, kind, 0);
// kind 0: rain (step series, integral), 1: inflow (linear, integral / cell area), 2: stage
// (linear, value at the end of the step).
@group(0) @binding(9) var<storage, read> series: array<vec2<f32>>;
@group(0) @binding(10) var<storage, read> slots: array<vec4<u32>>;

const WG: u32 = 256u;
const NONE: u32 = 0xFFFFFFu;

var<workgroup> red: array<f32, 256>;
var<workgroup> sh_dt: f32;
var<workgroup> sh_t: f32;

fn index(wg: vec3<u32>, li: u32) -> u32 {
    return (wg.y * P.wg_x + wg.x) * WG + li;
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

// Exact integral of a series over [a, b].
fn integral(off: u32, len: u32, a: f32, b: f32, linear: bool) -> f32 {
    if (b <= a) {
        return 0.0;
    }
    var sum = 0.0;
    var lo = a;
    let first = series[off].x;
    if (lo < first) {
        let hi = min(b, first);
        sum += series[off].y * (hi - lo);
        lo = hi;
    }
    if (lo >= b) {
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
        if (lo >= b) {
            break;
        }
        if (k + 1u >= len) {
            sum += series[off + len - 1u].y * (b - lo);
            break;
        }
        let hi = min(b, series[off + k + 1u].x);
        if (hi > lo) {
            if (linear) {
                let p = series[off + k];
                let n = series[off + k + 1u];
                let va = p.y + (lo - p.x) / (n.x - p.x) * (n.y - p.y);
                let vb = p.y + (hi - p.x) / (n.x - p.x) * (n.y - p.y);
                sum += 0.5 * (va + vb) * (hi - lo);
            } else {
                sum += series[off + k].y * (hi - lo);
            }
        }
        lo = hi;
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
        v = h[k];
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
        // Δt of the group of dt_every steps this step starts, or the one its group set.
        var dt = misc[6];
        if ((u32(misc[4]) + P.phase) % P.dt_every == 0u) {
            dt = P.max_dt;
            if (hmax > 0.0) {
                dt = min(P.alpha * P.dx / sqrt(P.g * hmax), P.max_dt);
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
            v = integral(d.x, d.y, t0, t0 + dt, false);
        } else if (d.z == 1u) {
            v = integral(d.x, d.y, t0, t0 + dt, true) / area;
        } else {
            v = value_at(d.x, d.y, t0 + dt, true);
        }
        misc[P.slot_base + s] = v;
    }
}

fn face(ha: f32, za: f32, hb: f32, zb: f32, q0: f32, ql: f32, qr: f32, n2: f32, dt: f32) -> f32 {
    let ea = za + ha;
    let eb = zb + hb;
    let hf = max(ea, eb) - max(za, zb);
    if (hf <= P.depth_thr) {
        return 0.0;
    }
    let num = P.theta * q0 + 0.5 * (1.0 - P.theta) * (ql + qr) - P.g * dt / P.dx * hf * (eb - ea);
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
        out.x = face(h[k], c.z, h[k + 1u], e.z, q0.x, ql, qr, nf * nf, dt);
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
        out.y = face(h[k], c.z, h[k + P.nx], s.z, q0.y, ql, qr, nf * nf, dt);
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
    let d = h[k];
    var fk = 1.0;
    if (out_depth > d) {
        fk = d / out_depth;
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
        hn = h[k];
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
            hn = hn + dt / P.dx * ((qw - qe) + (qnn - qs));
            hn += misc[P.slot_base + c.rain];
            let sp = f >> 8u;
            var stage = false;
            var level = 0.0;
            if (sp != NONE) {
                let v = misc[P.slot_base + sp];
                if ((f & 8u) == 0u) {
                    hn += v;
                } else {
                    stage = true;
                    level = v;
                }
            }
            hn = max(hn, 0.0);
            if (stage) {
                let hs = max(level - c.z, 0.0);
                var a2 = acc2[k];
                a2.z += hs - hn;
                acc2[k] = a2;
                hn = hs;
            }
            h[k] = hn;
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
                    var a2 = acc2[k];
                    a2.x = max(a2.x, speed);
                    a2.y = max(a2.y, hn * (speed + 0.5));
                    acc2[k] = a2;
                }
                acc[k] = a;
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
