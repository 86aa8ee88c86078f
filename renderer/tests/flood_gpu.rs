//! The GPU flood solver against the CPU reference on the same inputs, and the lake at rest.
//!
//! These tests need a GPU adapter: a real GPU, or Mesa's software Vulkan (lavapipe, Debian
//! package mesa-vulkan-drivers, installed by `scripts/setup.sh --test`). Without one they FAIL
//! with a message saying so; they never pass silently.

use renderer::flood::GpuSolver;
use scenarios::flood::{CpuSolver, FloodModel, FloodSolver, Inflow, Interp, Stage, TimeSeries};

fn gpu(model: &FloodModel) -> GpuSolver {
    match GpuSolver::new(model) {
        Ok(s) => {
            eprintln!("GPU adapter: {}", s.adapter());
            s
        }
        Err(e) => panic!(
            "the GPU flood tests need a GPU adapter (a GPU driver, or Mesa's software Vulkan: \
             apt-get install mesa-vulkan-drivers, as scripts/setup.sh --test does): {e}"
        ),
    }
}

/// A rough basin with a channel, two rain zones, an inflow hydrograph, a rising stage on the
/// west edge and a blocked block of cells.
fn basin() -> FloodModel {
    let (nx, ny, dx) = (72, 56, 5.0);
    let mut m = FloodModel::flat(nx, ny, dx, 0.0, 0.035);
    for j in 0..ny {
        for i in 0..nx {
            let (x, y) = (i as f64 * dx, j as f64 * dx);
            let channel = ((y - 140.0) / 12.0).powi(2).min(1.0);
            m.z[j * nx + i] =
                10.0 + 0.004 * x + 1.5 * channel + 0.03 * (x / 13.0).sin() * (y / 7.0).cos();
            m.manning[j * nx + i] = if channel < 1.0 { 0.03 } else { 0.045 };
        }
    }
    for j in 10..16 {
        for i in 40..47 {
            m.blocked[j * nx + i] = true;
        }
    }
    let mmh = 1.0 / 3.6e6;
    m.rain = vec![
        TimeSeries::new(
            &[(0.0, 40.0 * mmh), (300.0, 80.0 * mmh), (900.0, 0.0)],
            Interp::Step,
            "a",
        )
        .unwrap(),
        TimeSeries::new(&[(0.0, 10.0 * mmh), (600.0, 0.0)], Interp::Step, "b").unwrap(),
    ];
    for j in 0..ny / 2 {
        for i in 0..nx {
            m.rain_zone[j * nx + i] = 1;
        }
    }
    m.inflows.push(Inflow {
        name: "pipe".into(),
        cell: 30 * nx + 60,
        series: TimeSeries::new(
            &[(0.0, 0.0), (400.0, 3.0), (1000.0, 0.5)],
            Interp::Linear,
            "q",
        )
        .unwrap(),
    });
    m.stages.push(Stage {
        name: "west".into(),
        cells: (0..ny).map(|j| j * nx).collect(),
        series: TimeSeries::new(
            &[(0.0, 10.0), (600.0, 11.2), (1200.0, 11.0)],
            Interp::Linear,
            "s",
        )
        .unwrap(),
    });
    m
}

/// Run both solvers on `m` to 300, 600 and 1200 s; at each time return the largest depth
/// difference and the share of cells differing by more than 1e-4 m.
fn compare(m: &FloodModel) -> (Vec<(f64, f64)>, CpuSolver, GpuSolver) {
    let mut g = gpu(m);
    let mut c = CpuSolver::new(m).unwrap();
    let mut out = Vec::new();
    for t in [300.0, 600.0, 1200.0] {
        c.advance_to(t).unwrap();
        g.advance_to(t).unwrap();
        assert_eq!(g.time(), t);
        let (hc, hg) = (c.state().unwrap().h, g.state().unwrap().h);
        let worst = hc
            .iter()
            .zip(&hg)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        let over = hc
            .iter()
            .zip(&hg)
            .filter(|(a, b)| (*a - *b).abs() > 1e-4)
            .count();
        let wet = hc.iter().filter(|&&h| h > 0.01).count();
        eprintln!(
            "t = {t} s: max |h_cpu - h_gpu| = {worst:.2e} m, {over} of {} cells over 1e-4 m ({wet} wet), steps cpu {} gpu {}",
            hc.len(),
            c.steps(),
            g.steps()
        );
        assert!(wet > 100, "too little water to compare: {wet} wet cells");
        out.push((worst, over as f64 / hc.len() as f64));
    }
    (out, c, g)
}

/// CPU (f64) and GPU (f32, shifted datum) agree within 1e-4 m of depth everywhere after 5, 10
/// and 20 minutes of rain, inflow and a rising river on the same grid. The flow depth
/// threshold is 1e-5 m here: with the default 1 mm threshold, a face whose flow depth sits at
/// the threshold can open in one solver and stay shut in the other (f32 against f64 rounding),
/// and thin rain films then differ locally (see the next test).
#[test]
fn gpu_matches_cpu_on_the_same_inputs() {
    let mut m = basin();
    m.params.depth_threshold = 1e-5;
    let (diffs, mut c, mut g) = compare(&m);
    for (worst, _) in &diffs {
        assert!(*worst <= 1e-4, "depths differ by {worst} m");
    }
    let (sc, sg) = (c.summary().unwrap(), g.summary().unwrap());
    let max_diff = |a: &[f64], b: &[f64]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max)
    };
    let worst = max_diff(&sc.max_depth, &sg.max_depth);
    assert!(worst <= 1e-4, "max depths differ by {worst} m");
    // Durations count whole steps, so they agree to within a few steps.
    let dur = max_diff(&sc.wet_duration, &sg.wet_duration);
    assert!(dur <= 5.0, "wet durations differ by {dur} s");
    let (mc, mg) = (c.mass_balance().unwrap(), g.mass_balance().unwrap());
    eprintln!(
        "mass balance: relative error cpu {:e}, gpu {:e}; boundary {:.2} vs {:.2} m³",
        mc.relative_error, mg.relative_error, mc.boundary_net_m3, mg.boundary_net_m3
    );
    assert!(mc.relative_error < 1e-9);
    assert!(mg.relative_error < 1e-5, "{mg:?}");
    assert!((mc.rain_m3 - mg.rain_m3).abs() < 1e-9 * mc.rain_m3);
    assert!(((mc.final_m3 - mg.final_m3) / mc.final_m3).abs() < 1e-5);
}

/// With the default 1 mm flow depth threshold the solvers still agree within 1e-4 m on at
/// least 99 % of the cells and within 1 mm everywhere; the rest are rain films at the threshold.
#[test]
fn gpu_matches_cpu_with_the_default_threshold() {
    let m = basin();
    assert_eq!(m.params.depth_threshold, 1e-3);
    let (diffs, _, _) = compare(&m);
    for (worst, share) in diffs {
        assert!(worst <= 1e-3, "depths differ by {worst} m");
        assert!(
            share <= 0.01,
            "{:.2} % of cells differ by more than 1e-4 m",
            share * 100.0
        );
    }
}

/// Lake at rest on the GPU: ground in multiples of 1/8 m, so that z − datum and η₀ − z are
/// exact in f32 too; no face may move and no depth may change.
#[test]
fn gpu_lake_at_rest_stays_exactly_still() {
    let (nx, ny) = (33, 27);
    let mut m = FloodModel::flat(nx, ny, 10.0, 0.0, 0.03);
    for j in 0..ny {
        for i in 0..nx {
            let k = j * nx + i;
            m.z[k] = ((i * 5 + j * 11) % 13) as f64 / 8.0 + 20.0;
            if (i + 2 * j) % 9 == 0 {
                m.z[k] = 23.0;
            }
            m.h0[k] = (22.0 - m.z[k]).max(0.0);
        }
    }
    let h0 = m.h0.clone();
    let mut g = gpu(&m);
    g.advance_to(1800.0).unwrap();
    let st = g.state().unwrap();
    assert!(g.steps() > 100);
    assert!(
        st.qx.iter().chain(&st.qy).all(|&q| q == 0.0),
        "a face moved"
    );
    assert_eq!(st.h, h0);
}

/// Issue 14: a cancel flag set while one `advance_to` call runs stops it between dispatch
/// batches, within a second, leaving the solver at a step boundary before the end.
#[test]
fn gpu_solver_stops_inside_advance_to_when_cancelled() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};
    let mut m = basin();
    for h in m.h0.iter_mut() {
        *h = 5.0;
    }
    let mut s = gpu(&m);
    let flag = Arc::new(AtomicBool::new(false));
    s.set_cancel(flag.clone());
    let f = flag.clone();
    let setter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        f.store(true, Ordering::Relaxed);
        Instant::now()
    });
    let out = s.advance_to(1e9);
    let ended = Instant::now();
    let set = setter.join().unwrap();
    assert!(
        matches!(out, Err(scenarios::ScenarioError::Cancelled)),
        "{out:?}"
    );
    assert!(ended.duration_since(set) < Duration::from_secs(1));
    assert!(s.time() > 0.0 && s.time() < 1e9, "{}", s.time());
}

/// Lake at rest on the GPU (issue 20, defect 8), the CPU test's cases
/// (`scenarios::flood::cases::lake_at_rest_cases`: non-dyadic levels with a stage held at the
/// lake level, rough ground at a 20 m datum, buildings and a wall holding two lakes at
/// different levels): after an hour no level may move (|Δη| = 0: the GPU keeps levels, and
/// equal levels difference to zero), no face may carry water (|v| = 0), and the mass error
/// is 0. Before, with a depth state, issue 20's judges measured such lakes moving by up to
/// 3.1e-6 m at 5.5e-4 m/s and losing 0.14–0.24 m³ an hour.
#[test]
fn gpu_lake_at_rest_cases_stay_still() {
    for case in scenarios::flood::cases::lake_at_rest_cases() {
        let m = &case.model;
        let mut g = gpu(m);
        let h0 = g.state().unwrap().h;
        g.advance_to(3600.0).unwrap();
        let st = g.state().unwrap();
        let deta = h0
            .iter()
            .zip(&st.h)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        let (vx, vy) = st.velocity(&m.grid, 0.0);
        let v = vx
            .iter()
            .zip(&vy)
            .map(|(a, b)| a.hypot(*b))
            .fold(0.0, f64::max);
        let mb = g.mass_balance().unwrap();
        // The GPU's start depths are the model's to f32 rounding of the levels.
        let start = h0
            .iter()
            .zip(&m.h0)
            .zip(&m.blocked)
            .filter(|(_, &b)| !b)
            .map(|((a, b), _)| (a - b).abs())
            .fold(0.0, f64::max);
        eprintln!(
            "GPU lake at rest, {}: {} steps, |Δη| ≤ {deta:e} m, |v| ≤ {v:e} m/s, mass error {:e} m³, start depths within {start:e} m of the model's",
            case.name,
            g.steps(),
            mb.error_m3
        );
        assert!(g.steps() > 100, "{}: only {} steps", case.name, g.steps());
        assert_eq!(deta, 0.0, "{}: a level moved", case.name);
        assert_eq!(v, 0.0, "{}: water moved", case.name);
        assert_eq!(mb.error_m3, 0.0, "{}: {mb:?}", case.name);
        assert!(start <= 2e-6, "{}: start depths off by {start}", case.name);
    }
}

/// The GPU's Δt schedule under heavy rain on dry, fine grids (issue 20, defect 9): the same
/// cases as the CPU test, 400 mm/h on dry 0.5 m grids (flat; tilted with hollows) and a 2 m
/// grid with a 5 mm flow depth threshold, Δt set every 4 steps: no step's Courant number may
/// pass α (1e-5 of f32 slack), and the rain must be all there (relative mass error ≤ 1e-6;
/// 6.8e-8 measured on lavapipe, 4.8e-5 before the level pair's error term was kept).
#[test]
fn gpu_heavy_rain_keeps_the_courant_bound() {
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
        let mut g = gpu(&m);
        g.advance_to(600.0).unwrap();
        let c = g.max_courant().unwrap();
        let mut cpu = CpuSolver::new(&m).unwrap();
        cpu.advance_to(600.0).unwrap();
        let mb = g.mass_balance().unwrap();
        eprintln!(
            "GPU heavy rain {name}: {} steps (CPU {}), max Courant {c:.7} (CPU {:.7}, α {}), mass error {:e}",
            g.steps(),
            cpu.steps(),
            cpu.max_courant(),
            m.params.alpha,
            mb.relative_error
        );
        assert!(c <= m.params.alpha * (1.0 + 1e-5), "{name}: Courant {c}");
        assert!(c > 0.45, "{name}: Δt needlessly short ({c})");
        assert!(mb.relative_error <= 1e-6, "{name}: {mb:?}");
    }
}

/// Free-outflow edges on the GPU (issue 20, defect 10): the channel of
/// `scenarios::flood::cases::outflow_channel` reaches the same steady state as on the CPU:
/// the east edge cell at the normal depth (0.2434 m) or the critical depth (0.1006 m) within
/// 1e-4 m of the CPU's, and the budget closes to 1e-4 (2.0e-5 measured on lavapipe: the
/// outflow is booked per cell in an f32 accumulator, as the stage exchange is; the state
/// itself is kept to f64-like precision).
#[test]
fn gpu_free_outflow_matches_cpu() {
    use scenarios::flood::OutflowKind;
    for (name, kind, slope) in [
        ("normal", OutflowKind::Normal { slope: None }, 0.001),
        ("critical", OutflowKind::Critical, 0.0),
    ] {
        let m = scenarios::flood::cases::outflow_channel(kind, slope);
        let mut g = gpu(&m);
        let mut c = CpuSolver::new(&m).unwrap();
        g.advance_to(4.0 * 3600.0).unwrap();
        c.advance_to(4.0 * 3600.0).unwrap();
        let k = 2 * m.grid.nx - 1;
        let (hg, hc) = (g.state().unwrap().h[k], c.state().unwrap().h[k]);
        let (mg, mc) = (g.mass_balance().unwrap(), c.mass_balance().unwrap());
        eprintln!(
            "{name} outflow: edge depth GPU {hg:.5} m, CPU {hc:.5} m; out GPU {:.1} m³, CPU {:.1} m³; GPU mass error {:e}",
            -mg.boundary_net_m3, -mc.boundary_net_m3, mg.relative_error
        );
        assert!((hg - hc).abs() <= 1e-4, "{name}: {hg} vs {hc}");
        assert!(mg.relative_error <= 1e-4, "{name}: {mg:?}");
    }
}

/// A frictionless run on the GPU (Manning's n = 0): the seiche of the CPU test (a closed
/// channel 1000 m long and 2 m deep, η = 1 cm·cos(πx/L), θ = 1) is back at +1 cm at the west
/// wall after one period T = 2L/√(g·h) = 451.5 s (within 5 %), as on the CPU, and the two
/// solvers' levels agree within 1e-5 m.
#[test]
fn gpu_frictionless_seiche_matches_cpu() {
    let scenarios::flood::cases::Seiche {
        model: m,
        depth: h,
        amplitude: a,
        nx,
        period,
        ..
    } = scenarios::flood::cases::seiche();
    let mut g = gpu(&m);
    let mut c = CpuSolver::new(&m).unwrap();
    g.advance_to(period).unwrap();
    c.advance_to(period).unwrap();
    let (hg, hc) = (g.state().unwrap().h, c.state().unwrap().h);
    let worst = hg
        .iter()
        .zip(&hc)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max);
    let west = hg[nx] - h;
    eprintln!(
        "GPU seiche: west level {west:.5} m at T = {period:.1} s; max |GPU − CPU| {worst:e} m"
    );
    assert!((west - a).abs() <= 0.05 * a, "{west}");
    assert!(worst <= 1e-5, "{worst}");
}
