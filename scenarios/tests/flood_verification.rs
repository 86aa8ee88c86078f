//! Verification of the CPU flood solver against exact and analytical solutions:
//! lake at rest, mass balance under rain, the Hunter et al. (2005) wavefront, radial symmetry.
//! Each test states its formula; expected numbers are computed here, independently of the solver.

use scenarios::flood::{CpuSolver, FloodModel, FloodSolver, Inflow, Interp, Stage, TimeSeries};

/// Lake at rest (well-balancedness): a still lake over uneven ground with dry islands, a
/// blocked cell and a stage boundary held at the lake level must stay exactly still:
///   η = z + h = η₀ everywhere wet  ⇒  ∂η/∂x = 0  ⇒  q = 0 and h unchanged, bit for bit.
/// Ground heights are multiples of 1/8 m so that z + (η₀ − z) = η₀ holds exactly in binary.
#[test]
fn lake_at_rest_stays_exactly_still() {
    let (nx, ny, dx) = (41, 31, 10.0);
    let eta0 = 2.5;
    let mut m = FloodModel::flat(nx, ny, dx, 0.0, 0.03);
    for j in 0..ny {
        for i in 0..nx {
            let k = j * nx + i;
            m.z[k] = ((i * 7 + j * 13) % 17) as f64 / 8.0; // 0 .. 2 m
            if (i / 5 + j / 4) % 7 == 0 {
                m.z[k] = 3.0; // islands above the lake
            }
            m.h0[k] = (eta0 - m.z[k]).max(0.0);
        }
    }
    m.blocked[15 * nx + 20] = true;
    m.h0[15 * nx + 20] = 0.0;
    // A stage boundary on the west edge held at the lake level.
    let west: Vec<usize> = (0..ny).map(|j| j * nx).filter(|&k| m.z[k] < eta0).collect();
    m.stages.push(Stage {
        name: "west".into(),
        cells: west,
        series: TimeSeries::new(&[(0.0, eta0), (3600.0, eta0)], Interp::Linear, "stage").unwrap(),
    });
    let h0: Vec<f64> = (0..nx * ny)
        .map(|k| if m.blocked[k] { 0.0 } else { m.h0[k] })
        .collect();
    let mut s = CpuSolver::new(&m).unwrap();
    s.advance_to(3600.0).unwrap();
    let st = s.state().unwrap();
    assert!(s.steps() > 100, "only {} steps", s.steps());
    assert!(st.qx.iter().all(|&q| q == 0.0), "x discharge moved");
    assert!(st.qy.iter().all(|&q| q == 0.0), "y discharge moved");
    assert_eq!(st.h, h0, "depths changed");
    let mb = s.mass_balance().unwrap();
    assert_eq!(mb.error_m3, 0.0);
    assert_eq!(mb.boundary_net_m3, 0.0);
}

/// Mass balance in a closed basin under rain: with closed edges and no outlets,
///   V(T) = V(0) + Σ_zones ∫₀ᵀ r(t) dt · A_open,
/// where A_open is the area of cells that are not blocked (rain on buildings is not counted).
/// The volume is summed here from the returned depths; relative error ≤ 1e-6.
#[test]
fn closed_basin_conserves_rain_volume() {
    let (nx, ny, dx) = (60, 50, 5.0);
    let mut m = FloodModel::flat(nx, ny, dx, 0.0, 0.035);
    for j in 0..ny {
        for i in 0..nx {
            let (x, y) = (i as f64 * dx, j as f64 * dx);
            m.z[j * nx + i] = 0.0008 * ((x - 140.0).powi(2) + (y - 110.0).powi(2)).sqrt().powf(1.5)
                + 0.05 * (x / 17.0).sin() * (y / 23.0).cos();
        }
    }
    // A "building" of 4x3 blocked cells.
    for j in 20..23 {
        for i in 30..34 {
            m.blocked[j * nx + i] = true;
        }
    }
    // Two rain zones: the east half gets twice the intensity (mm/h → m/s).
    let mmh = 1.0 / 3.6e6;
    m.rain = vec![
        TimeSeries::new(
            &[(0.0, 50.0 * mmh), (600.0, 100.0 * mmh), (1200.0, 0.0)],
            Interp::Step,
            "w",
        )
        .unwrap(),
        TimeSeries::new(
            &[(0.0, 100.0 * mmh), (600.0, 200.0 * mmh), (1200.0, 0.0)],
            Interp::Step,
            "e",
        )
        .unwrap(),
    ];
    for j in 0..ny {
        for i in nx / 2..nx {
            m.rain_zone[j * nx + i] = 1;
        }
    }
    let mut s = CpuSolver::new(&m).unwrap();
    s.advance_to(2400.0).unwrap();
    let st = s.state().unwrap();
    // Expected: depth per zone (50 mm/h for 600 s + 100 mm/h for 600 s, doubled in the east).
    let depth_w = 0.050 / 3600.0 * 600.0 + 0.100 / 3600.0 * 600.0;
    let depth_e = 2.0 * depth_w;
    let (mut open_w, mut open_e) = (0usize, 0usize);
    for j in 0..ny {
        for i in 0..nx {
            if !m.blocked[j * nx + i] {
                if i < nx / 2 {
                    open_w += 1;
                } else {
                    open_e += 1;
                }
            }
        }
    }
    let expected = (depth_w * open_w as f64 + depth_e * open_e as f64) * dx * dx;
    let volume: f64 = st.h.iter().sum::<f64>() * dx * dx;
    let rel = (volume - expected).abs() / expected;
    assert!(
        rel <= 1e-6,
        "volume {volume} vs rain {expected}: relative error {rel:e}"
    );
    assert!(st.h.iter().all(|&h| h >= 0.0), "negative depth");
    // The water gathered in the basin: the deepest cell is near the bottom (140, 110).
    let kmax = (0..nx * ny)
        .max_by(|&a, &b| st.h[a].total_cmp(&st.h[b]))
        .unwrap();
    let (i, j) = (kmax % nx, kmax / nx);
    assert!(
        (i as f64 * dx - 140.0).abs() <= 25.0 && (j as f64 * dx - 110.0).abs() <= 25.0,
        "deepest at {i},{j}"
    );
    assert!(st.h[kmax] > 5.0 * depth_e, "no ponding: {}", st.h[kmax]);
    let mb = s.mass_balance().unwrap();
    assert!(
        (mb.rain_m3 - expected).abs() / expected < 1e-12,
        "booked rain {}",
        mb.rain_m3
    );
    assert!(mb.relative_error <= 1e-9, "{mb:?}");
    assert!(m.blocked.iter().zip(&st.h).all(|(&b, &h)| !b || h == 0.0));
}

/// Hunter et al. (2005) wavefront over a flat frictional plane (the test of Bates et al. 2010
/// and de Almeida et al. 2012). A front advances at constant velocity u; neglecting inertia,
/// momentum reduces to g·h·∂h/∂x = −g·n²·u²/h^(1/3). With ξ = x − u·t:
///   h^(4/3) dh = −n²u² dξ  ⇒  (3/7)·h^(7/3) = C − n²u²·ξ
///   h(x, t) = [ (7/3)·(C − n²·u²·(x − u·t)) ]^(3/7)        (0 where the bracket is negative)
/// (often printed as [−(7/3)(C − n²u(x − ut))]^(3/7): that sign makes the depth grow
/// downstream, and the power of u must be 2). C = 0 puts the tip at x = u·t and gives the
/// boundary depth h(0, t) = [(7/3)·n²·u³·t]^(3/7), imposed here as a stage on the first column.
/// Continuity holds since q = u·h with u uniform. The profile also solves the full shallow-water
/// equations (there ∂q/∂t = −u²·∂h/∂x and ∂(q²/h)/∂x = +u²·∂h/∂x cancel), but the local inertial
/// scheme keeps ∂q/∂t without the advection term, so it departs from the profile by O(Fr²):
/// the test uses a low Froude number (u = 0.3 m/s, n = 0.03, h ≤ 0.51 m, Fr² ≤ 0.02 away from
/// the tip). At u = 1 m/s the front lags by a few percent, as expected of the approximation.
/// Compared at t = 3600 s with cell averages of the profile over the wet reach 0 ≤ x ≤ u·t:
/// RMSE ≤ 5 mm, and the front within two cells of x = u·t.
#[test]
fn hunter_wavefront_matches_analytical_profile() {
    let (n, u, t_end) = (0.03_f64, 0.3_f64, 3600.0_f64);
    let dx = 5.0;
    let (nx, ny) = ((1.25 * u * t_end / dx) as usize, 3); // 1350 m channel, closed sides // 4.5 km channel, closed sides
    let analytical = |x: f64, t: f64| {
        let b = (7.0 / 3.0) * (0.0 - n * n * u * u * (x - u * t));
        if b > 0.0 {
            b.powf(3.0 / 7.0)
        } else {
            0.0
        }
    };
    let mut m = FloodModel::flat(nx, ny, dx, 0.0, n);
    // Stage at x = 0 (column 0's centre), sampled every 5 s (linear in between).
    let pts: Vec<(f64, f64)> = (0..=(t_end as usize / 5))
        .map(|k| (k as f64 * 5.0, analytical(0.0, k as f64 * 5.0)))
        .collect();
    m.stages.push(Stage {
        name: "x=0".into(),
        cells: (0..ny).map(|j| j * nx).collect(),
        series: TimeSeries::new(&pts, Interp::Linear, "hunter").unwrap(),
    });
    m.params.depth_threshold = 1e-4;
    let mut s = CpuSolver::new(&m).unwrap();
    s.advance_to(t_end).unwrap();
    let st = s.state().unwrap();
    let j = 1;
    // Cell averages of the analytical profile (a finite-volume depth is a cell average; the
    // profile's tip is singular), over the analytically wet reach 0 ≤ x ≤ u·t.
    let cell_avg = |x: f64| {
        (0..40)
            .map(|s| analytical(x - dx / 2.0 + (s as f64 + 0.5) * dx / 40.0, t_end))
            .sum::<f64>()
            / 40.0
    };
    let wet_cells = (u * t_end / dx).round() as usize + 1;
    let mut sq = 0.0;
    let mut worst: (f64, f64) = (0.0, 0.0);
    for i in 0..wet_cells {
        let x = i as f64 * dx;
        let d = st.h[j * nx + i]
            - if i == 0 {
                analytical(0.0, t_end)
            } else {
                cell_avg(x)
            };
        sq += d * d;
        if d.abs() > worst.1.abs() {
            worst = (x, d);
        }
    }
    let rmse = (sq / wet_cells as f64).sqrt();
    eprintln!(
        "Hunter wavefront: RMSE {rmse:.5} m, worst {:.4} m at x = {} m, h(0) = {:.4} m",
        worst.1,
        worst.0,
        analytical(0.0, t_end)
    );
    assert!(rmse <= 0.005, "RMSE {rmse} m");
    // The front: the last cell wetter than 1 cm is within two cells of x = u·t.
    let front = (0..nx).rev().find(|&i| st.h[j * nx + i] > 0.01).unwrap() as f64 * dx;
    assert!((front - u * t_end).abs() <= 2.0 * dx, "front at {front} m");
}

/// Radial spread from a point inflow at the centre of a flat, square, frictional plane: the
/// scheme treats x and y alike, so the depth field must keep the square's symmetries (mirror
/// in x, mirror in y, transpose) bit for bit, and the wet patch must be round: its extent
/// along the axes and along the diagonals within 15 % of the radius √(A/π) of its area.
/// The volume equals the inflow volume Q·t (closed plane, front far from the edges).
#[test]
fn radial_spread_stays_symmetric() {
    let (nn, dx) = (61, 5.0);
    let c = nn / 2;
    let mut m = FloodModel::flat(nn, nn, dx, 0.0, 0.03);
    let q = 2.0; // m³/s
    m.inflows.push(Inflow {
        name: "centre".into(),
        cell: c * nn + c,
        series: TimeSeries::constant(q, Interp::Linear),
    });
    let mut s = CpuSolver::new(&m).unwrap();
    s.advance_to(600.0).unwrap();
    let h = s.state().unwrap().h;
    let at = |i: usize, j: usize| h[j * nn + i];
    for j in 0..nn {
        for i in 0..nn {
            let v = at(i, j);
            assert_eq!(v, at(nn - 1 - i, j), "x mirror at {i},{j}");
            assert_eq!(v, at(i, nn - 1 - j), "y mirror at {i},{j}");
            assert_eq!(v, at(j, i), "transpose at {i},{j}");
        }
    }
    let wet = 0.01;
    let area = h.iter().filter(|&&d| d > wet).count() as f64 * dx * dx;
    let r_area = (area / std::f64::consts::PI).sqrt();
    let axis = (c..nn).take_while(|&i| at(i, c) > wet).count() as f64 * dx;
    let diag =
        (0..nn - c).take_while(|&d| at(c + d, c + d) > wet).count() as f64 * dx * 2f64.sqrt();
    eprintln!("radial: area radius {r_area:.1} m, axis {axis:.1} m, diagonal {diag:.1} m");
    assert!(axis < (nn - c) as f64 * dx, "front reached the edge");
    for r in [axis, diag] {
        assert!(
            (r - r_area).abs() <= 0.15 * r_area,
            "extent {r} vs {r_area}"
        );
    }
    let volume: f64 = h.iter().sum::<f64>() * dx * dx;
    assert!(
        (volume - q * 600.0).abs() / (q * 600.0) < 1e-9,
        "volume {volume}"
    );
}

/// Lake at rest on hard ground (issue 20, defect 8): the cases of
/// `scenarios::flood::cases::lake_at_rest_cases` (non-dyadic levels, rough ground at a high
/// datum, buildings and a wall holding two lakes at different levels) stay still for an hour:
/// every wet cell's level moves by at most 1e-12 m, every cell speed is at most 1e-11 m/s, and
/// the mass error is at most 1e-9 m³. The GPU solver runs the same cases
/// (`renderer/tests/flood_gpu.rs`).
#[test]
fn lake_at_rest_cases_stay_still() {
    for case in scenarios::flood::cases::lake_at_rest_cases() {
        let m = &case.model;
        let levels = case.levels();
        let mut s = CpuSolver::new(m).unwrap();
        s.advance_to(3600.0).unwrap();
        let st = s.state().unwrap();
        let deta = (0..m.grid.cells())
            .filter(|&k| levels[k].is_finite())
            .map(|k| (m.z[k] + st.h[k] - levels[k]).abs())
            .fold(0.0, f64::max);
        let (vx, vy) = st.velocity(&m.grid, 0.0);
        let v = vx
            .iter()
            .zip(&vy)
            .map(|(a, b)| a.hypot(*b))
            .fold(0.0, f64::max);
        let mb = s.mass_balance().unwrap();
        eprintln!(
            "CPU lake at rest, {}: {} steps, |Δη| ≤ {deta:e} m, |v| ≤ {v:e} m/s, mass error {:e} m³",
            case.name,
            s.steps(),
            mb.error_m3
        );
        assert!(s.steps() > 100, "{}: only {} steps", case.name, s.steps());
        assert!(deta <= 1e-12, "{}: level moved by {deta} m", case.name);
        assert!(v <= 1e-11, "{}: speed {v} m/s", case.name);
        assert!(mb.error_m3.abs() <= 1e-9, "{}: {mb:?}", case.name);
    }
}

/// The Δt schedule under heavy rain on dry, fine grids (issue 20, defect 9): with Δt set
/// every 4 steps (the default), 400 mm/h on a dry grid of 0.5 m cells (flat, and tilted with
/// hollows) and of 2 m cells with a 5 mm flow depth threshold must keep the Courant number
/// Δt·√(g·h_max)/Δx of every step at or below α (issue 20's judges measured 2.45 and 0.97
/// against α = 0.5 on such grids before the schedule bounded the depth a group's forcing adds;
/// 1.165 was seen here while the flow's own gathering was not yet allowed for), and the rain
/// must still be all there (mass error ≤ 1e-9 relative).
#[test]
fn heavy_rain_on_dry_fine_grids_keeps_the_courant_bound() {
    use scenarios::flood::cases::heavy_rain_on_dry;
    let cases = [
        ("0.5 m flat", heavy_rain_on_dry(80, 0.5, 400.0, 0.0, 0.001)),
        (
            "0.5 m tilted",
            heavy_rain_on_dry(80, 0.5, 400.0, 0.02, 0.001),
        ),
        ("2 m, 5 mm", heavy_rain_on_dry(60, 2.0, 400.0, 0.01, 0.005)),
    ];
    for (name, m) in cases {
        assert_eq!(m.params.dt_every, 4);
        let mut s = CpuSolver::new(&m).unwrap();
        s.advance_to(600.0).unwrap();
        let ratio = s.max_courant() / m.params.alpha;
        let mb = s.mass_balance().unwrap();
        eprintln!(
            "heavy rain {name}: {} steps, max Courant {:.9} (α {}), deepest {:.4} m",
            s.steps(),
            s.max_courant(),
            m.params.alpha,
            s.state().unwrap().h.iter().copied().fold(0.0, f64::max)
        );
        assert!(
            ratio <= 1.0 + 1e-9,
            "{name}: Courant {} > α",
            s.max_courant()
        );
        assert!(ratio > 0.5, "{name}: Δt needlessly short ({ratio})");
        assert!(mb.relative_error <= 1e-9, "{name}: {mb:?}");
    }
}

/// A frictionless run (Manning's n = 0, allowed since issue 20): a seiche in a closed channel
/// of length L = 1000 m and depth h = 2 m, started from η = a·cos(πx/L) with a = 1 cm. The
/// local inertial scheme without friction is the linear long-wave equation, whose fundamental
/// mode has the period T = 2L/√(g·h) = 451.5 s: at t = T/2 the level at the west wall is −a,
/// at t = T it is +a again (θ = 1: no numerical damping; within 5 % of a), and the volume
/// stays what it was (closed channel).
#[test]
fn frictionless_seiche_keeps_its_period() {
    let scenarios::flood::cases::Seiche {
        model: m,
        length: l,
        depth: h,
        amplitude: a,
        dx,
        nx,
        period,
    } = scenarios::flood::cases::seiche();
    let mut s = CpuSolver::new(&m).unwrap();
    // Level at the west wall (cell centre x = dx/2, where cos ≈ 1).
    let west = |s: &mut CpuSolver| s.state().unwrap().h[nx] - h;
    let expected = a * (std::f64::consts::PI * 0.5 * dx / l).cos();
    s.advance_to(period / 2.0).unwrap();
    let half = west(&mut s);
    s.advance_to(period).unwrap();
    let full = west(&mut s);
    eprintln!(
        "seiche: T = {period:.1} s; west level {half:.5} m at T/2, {full:.5} m at T (±{expected:.5})"
    );
    assert!((half + expected).abs() <= 0.05 * a, "at T/2: {half}");
    assert!((full - expected).abs() <= 0.05 * a, "at T: {full}");
    let mb = s.mass_balance().unwrap();
    assert!(mb.relative_error <= 1e-12, "{mb:?}");
}

/// Free-outflow edges (issue 20, defect 10): a channel 1000 m long and 30 m wide (walls along
/// its sides) fed 3 m³/s at its west end (q = 0.1 m²/s) drains through its east edge. At a
/// steady state the edge lets out what comes in, so the edge cell's depth is the depth whose
/// discharge law gives q:
///   normal depth (Manning, bed slope S = 0.001, n = 0.03): h_n = (q·n/√S)^(3/5) = 0.2436 m;
///   critical depth (flat bed): h_c = (q²/g)^(1/3) = 0.1007 m.
/// After 4 h (steady) the edge cell is within 1 % of it, the outflow booked as boundary
/// exchange balances the budget (relative error ≤ 1e-9), and the outflow rate is within 1 %
/// of the inflow.
#[test]
fn free_outflow_edges_reach_normal_and_critical_depth() {
    use scenarios::flood::OutflowKind;
    let (nx, ny, dx, q_in) = (100usize, 3usize, 10.0_f64, 3.0_f64);
    let q = q_in / (ny as f64 * dx);
    let n = 0.03;
    let slope: f64 = 0.001;
    for (name, kind, bed_slope, expected) in [
        (
            "normal",
            OutflowKind::Normal { slope: None },
            slope,
            (q * n / slope.sqrt()).powf(0.6),
        ),
        (
            "critical",
            OutflowKind::Critical,
            0.0,
            (q * q / 9.81).cbrt(),
        ),
    ] {
        let m = scenarios::flood::cases::outflow_channel(kind, bed_slope);
        let mut s = CpuSolver::new(&m).unwrap();
        s.advance_to(4.0 * 3600.0).unwrap();
        let b0 = s.mass_balance().unwrap().boundary_net_m3;
        s.advance_to(4.0 * 3600.0 + 600.0).unwrap();
        let mb = s.mass_balance().unwrap();
        let rate = -(mb.boundary_net_m3 - b0) / 600.0;
        let h_edge = s.state().unwrap().h[nx + nx - 1];
        eprintln!(
            "{name} outflow: edge depth {h_edge:.4} m (expected {expected:.4}), outflow {rate:.4} m³/s of {q_in}, mass error {:e}",
            mb.relative_error
        );
        assert!(
            (h_edge - expected).abs() <= 0.01 * expected,
            "{name}: {h_edge}"
        );
        assert!((rate - q_in).abs() <= 0.01 * q_in, "{name}: outflow {rate}");
        assert!(mb.relative_error <= 1e-9, "{name}: {mb:?}");
    }
}
