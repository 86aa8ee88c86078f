//! Verification and benchmark cases shared by the CPU and GPU solvers' tests and by the
//! benchmark scripts: the lake at rest on hard ground, heavy rain on dry fine grids, and the
//! UK Environment Agency 2D benchmark tests (Néelz and Pender 2013, EA report SC120002)
//! with the published LISFLOOD-FP 8.0 results they are compared with.
//!
//! Each builder states the set-up it reproduces; the expected numbers live in the tests.

use super::model::{FloodModel, Inflow, Stage};
use super::series::{Interp, TimeSeries};
use crate::error::{Result, ScenarioError};
use std::path::Path;

/// A still lake: the model and the water level of each of its open cells at t = 0 (NaN where
/// dry), which must not move.
#[derive(Clone, Debug)]
pub struct LakeCase {
    /// What the case is made of.
    pub name: &'static str,
    /// The model (no rain, no inflow; stages held at their lake's level).
    pub model: FloodModel,
}

impl LakeCase {
    /// Water level z + h₀ of each wet cell, NaN for dry and blocked cells.
    pub fn levels(&self) -> Vec<f64> {
        let m = &self.model;
        (0..m.grid.cells())
            .map(|k| {
                if m.blocked[k] || m.h0[k] <= 0.0 {
                    f64::NAN
                } else {
                    m.z[k] + m.h0[k]
                }
            })
            .collect()
    }
}

/// Fill every open cell of `m` below `level` to it (h₀ = level − z).
fn fill(m: &mut FloodModel, cells: impl Iterator<Item = usize>, level: f64) {
    for k in cells {
        if !m.blocked[k] {
            m.h0[k] = (level - m.z[k]).max(0.0);
        }
    }
}

/// The lake-at-rest cases (well-balancedness): still water over uneven ground must stay still,
/// its level unchanged and its discharges zero, for one hour. None of the levels or heights is
/// a dyadic fraction, so z + (η₀ − z) need not equal η₀ in binary:
/// * `non-dyadic levels`: ground in steps of 0.1 m plus 0.013 m per column, islands above
///   the lake, η₀ = 2.37 m, a stage on the west edge held at η₀;
/// * `rough ground, high datum`: ground 20 m ± 1.4 m of bumps (the height of Huế's plain),
///   Manning's n from 0.012 to 0.1 cell by cell, η₀ = 21.3333 m;
/// * `buildings and walls`: blocked blocks of cells (buildings) in a lake at 6.11 m, and a
///   wall of ground at 7.01 m across the grid holding a second lake at 5.93 m behind it.
pub fn lake_at_rest_cases() -> Vec<LakeCase> {
    let (nx, ny, dx) = (41, 31, 10.0);
    let mut out = Vec::new();

    let mut m = FloodModel::flat(nx, ny, dx, 0.0, 0.03);
    let eta0 = 2.37;
    for j in 0..ny {
        for i in 0..nx {
            let k = j * nx + i;
            m.z[k] = ((i * 7 + j * 13) % 17) as f64 * 0.1 + 0.013 * i as f64;
            if (i / 5 + j / 4) % 7 == 0 {
                m.z[k] = 3.1;
            }
        }
    }
    m.blocked[15 * nx + 20] = true;
    fill(&mut m, 0..nx * ny, eta0);
    let west: Vec<usize> = (0..ny).map(|j| j * nx).filter(|&k| m.z[k] < eta0).collect();
    m.stages.push(Stage {
        name: "west".into(),
        cells: west,
        series: TimeSeries::new(&[(0.0, eta0), (3600.0, eta0)], Interp::Linear, "stage")
            .expect("a valid series"),
    });
    out.push(LakeCase {
        name: "non-dyadic levels",
        model: m,
    });

    let mut m = FloodModel::flat(nx, ny, dx, 0.0, 0.03);
    for j in 0..ny {
        for i in 0..nx {
            let k = j * nx + i;
            let (x, y) = (i as f64, j as f64);
            m.z[k] = 20.0 + 0.9 * (x / 3.3).sin() * (y / 4.7).cos() + 0.5 * ((x * y) / 11.0).sin();
            m.manning[k] = 0.012 + 0.088 * (((i * 31 + j * 17) % 23) as f64 / 22.0);
        }
    }
    fill(&mut m, 0..nx * ny, 21.3333);
    out.push(LakeCase {
        name: "rough ground, high datum",
        model: m,
    });

    let mut m = FloodModel::flat(nx, ny, dx, 0.0, 0.04);
    let wall = 25;
    for j in 0..ny {
        for i in 0..nx {
            let k = j * nx + i;
            m.z[k] = 5.3 + 0.07 * ((i * 3 + j * 5) % 11) as f64 + 0.0031 * j as f64;
            if i == wall {
                m.z[k] = 7.01;
            }
            let building = (4..9).contains(&(i % 12)) && (3..7).contains(&(j % 10));
            m.blocked[k] = building && i < wall;
        }
    }
    fill(&mut m, (0..nx * ny).filter(|k| k % nx < wall), 6.11);
    fill(&mut m, (0..nx * ny).filter(|k| k % nx > wall), 5.93);
    out.push(LakeCase {
        name: "buildings and walls",
        model: m,
    });
    out
}

/// Heavy rain on a dry grid of `n` × `n` cells of `dx` m: `mm_h` of rain for the whole run
/// on a plane tilted by `slope` towards the south-east with bumps of 2 cm (so that the
/// runoff gathers in hollows), n = 0.03; `depth_threshold_m` as given. The test of the Δt
/// schedule: the depth the rain adds within a group of steps must not push the Courant
/// number past α.
pub fn heavy_rain_on_dry(
    n: usize,
    dx: f64,
    mm_h: f64,
    slope: f64,
    depth_threshold_m: f64,
) -> FloodModel {
    let mut m = FloodModel::flat(n, n, dx, 0.0, 0.03);
    for j in 0..n {
        for i in 0..n {
            let (x, y) = (i as f64 * dx, j as f64 * dx);
            m.z[j * n + i] =
                -slope * (x + y) + 0.02 * (x / (3.1 * dx)).sin() * (y / (4.3 * dx)).cos();
        }
    }
    m.rain = vec![TimeSeries::constant(mm_h / 3.6e6, Interp::Step)];
    m.params.depth_threshold = depth_threshold_m;
    m
}

/// The EA output points of test 4 (x, y in m): P1..P6.
pub const EA4_POINTS: [(f64, f64); 6] = [
    (50.0, 1000.0),
    (100.0, 1000.0),
    (200.0, 1000.0),
    (300.0, 1000.0),
    (400.0, 1000.0),
    (300.0, 1300.0),
];

/// EA test 4, speed of flood propagation over an extended floodplain (SC120002): flat ground
/// at 0 m, 1000 m (x) × 2000 m (y), Manning's n 0.05, cells of `dx` m (5 m in the test), a dry
/// start and closed edges, and an inflow along x = 0 over 990 ≤ y ≤ 1010 m: 0 until 300 s,
/// rising linearly to 20 m³/s at 3600 s, held to 14,400 s, falling to 0 at 18,000 s (5 h),
/// spread evenly over the cells of the west column that the 20 m line covers.
pub fn ea_test4(dx: f64) -> Result<FloodModel> {
    let (w, h) = (1000.0, 2000.0);
    let (nx, ny) = ((w / dx).round() as usize, (h / dx).round() as usize);
    if (nx as f64 * dx - w).abs() > 1e-9 || (20.0 / dx).fract() != 0.0 {
        return Err(ScenarioError::invalid(
            "EA test 4",
            format!("cell size {dx} m must divide 20 m and 1000 m"),
        ));
    }
    let mut m = FloodModel::flat(nx, ny, dx, 0.0, 0.05);
    let q = TimeSeries::new(
        &[
            (0.0, 0.0),
            (300.0, 0.0),
            (3600.0, 20.0),
            (14_400.0, 20.0),
            (18_000.0, 0.0),
        ],
        Interp::Linear,
        "EA test 4 inflow",
    )?;
    // Rows whose cells lie within 990 ≤ y ≤ 1010 (row j spans y from 2000 − (j+1)·dx).
    let rows: Vec<usize> = (0..ny)
        .filter(|&j| {
            let yc = m.grid.ymax - (j as f64 + 0.5) * dx;
            yc > 990.0 && yc < 1010.0
        })
        .collect();
    let share = 1.0 / rows.len() as f64;
    for j in rows {
        m.inflows.push(Inflow {
            name: format!("EA4 inflow row {j}"),
            cell: j * nx,
            series: q.scaled(share),
        });
    }
    Ok(m)
}

/// EA test 2, filling of floodplain depressions (SC120002), as the data folder's README
/// gives it: x, y in [0, 2000] m, closed edges, dry start, Manning's n 0.03, cells of `dx` m
/// (20 m in the test), 48 h; ground
///   z = 10 − 0.0005·x − 0.0006666·(2000 − y) + 0.125·cos²(πx/500)·cos²(πy/500)
///       − 0.5·sin²(πx/500)·sin²(πy/500) + 8e-6·(252 − y)² where y < 252
/// (a closed form of the EA's DEM, sampled at cell centres), and an inflow along x = 0 over
/// 1900 ≤ y ≤ 2000: 0 at 0 and 5 min, 20 m³/s at 10 and 86 min, 0 at 91 min (97,200 m³).
pub fn ea_test2(dx: f64) -> Result<FloodModel> {
    let l = 2000.0;
    let n = (l / dx).round() as usize;
    if (n as f64 * dx - l).abs() > 1e-9 || (100.0 / dx).fract() != 0.0 {
        return Err(ScenarioError::invalid(
            "EA test 2",
            format!("cell size {dx} m must divide 100 m and 2000 m"),
        ));
    }
    let mut m = FloodModel::flat(n, n, dx, 0.0, 0.03);
    let pi = std::f64::consts::PI;
    for j in 0..n {
        for i in 0..n {
            let (x, y) = m.grid.centre(i, j);
            let (cx, cy) = ((pi * x / 500.0).cos(), (pi * y / 500.0).cos());
            let (sx, sy) = ((pi * x / 500.0).sin(), (pi * y / 500.0).sin());
            let mut z = 10.0 - 0.0005 * x - 0.0006666 * (2000.0 - y) + 0.125 * cx * cx * cy * cy
                - 0.5 * sx * sx * sy * sy;
            if y < 252.0 {
                z += 8e-6 * (252.0 - y) * (252.0 - y);
            }
            m.z[j * n + i] = z;
        }
    }
    let q = TimeSeries::new(
        &[
            (0.0, 0.0),
            (300.0, 0.0),
            (600.0, 20.0),
            (5160.0, 20.0),
            (5460.0, 0.0),
        ],
        Interp::Linear,
        "EA test 2 inflow",
    )?;
    let rows: Vec<usize> = (0..n).filter(|&j| m.grid.centre(0, j).1 > 1900.0).collect();
    let share = 1.0 / rows.len() as f64;
    for j in rows {
        m.inflows.push(Inflow {
            name: format!("EA2 inflow row {j}"),
            cell: j * n,
            series: q.scaled(share),
        });
    }
    Ok(m)
}

/// A published depth series: times (s) and the depth (m) at each output point.
#[derive(Clone, Debug)]
pub struct PointSeries {
    /// What it is (the file's first comment line).
    pub title: String,
    /// Output times (s).
    pub t: Vec<f64>,
    /// depth[p][i]: point p at time i.
    pub depth: Vec<Vec<f64>>,
}

impl PointSeries {
    /// Read a `time_s,P1,..,Pn` CSV with `#` comment lines (the files in
    /// `../shared/data/flood/ea`); errors name the file and the line.
    pub fn read(path: &Path) -> Result<PointSeries> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError::io(path, e))?;
        let bad = |line: usize, m: String| {
            ScenarioError::invalid(format!("{} line {line}", path.display()), m)
        };
        let mut title = String::new();
        let mut header: Option<usize> = None;
        let mut t = Vec::new();
        let mut depth: Vec<Vec<f64>> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if let Some(c) = line.strip_prefix('#') {
                if title.is_empty() {
                    title = c.trim().to_string();
                }
                continue;
            }
            if line.is_empty() {
                continue;
            }
            let cols: Vec<&str> = line.split(',').map(str::trim).collect();
            match header {
                None => {
                    if cols.first() != Some(&"time_s") || cols.len() < 2 {
                        return Err(bad(n + 1, format!("expected `time_s,P1,..`, got {line:?}")));
                    }
                    header = Some(cols.len() - 1);
                    depth = vec![Vec::new(); cols.len() - 1];
                }
                Some(np) => {
                    if cols.len() != np + 1 {
                        return Err(bad(
                            n + 1,
                            format!("{} columns, the header has {}", cols.len(), np + 1),
                        ));
                    }
                    let v: std::result::Result<Vec<f64>, _> =
                        cols.iter().map(|c| c.parse::<f64>()).collect();
                    let v = v.map_err(|e| bad(n + 1, format!("{e}: {line:?}")))?;
                    if v.iter().any(|x| !x.is_finite()) || t.last().is_some_and(|&l| v[0] <= l) {
                        return Err(bad(n + 1, format!("times must increase: {line:?}")));
                    }
                    t.push(v[0]);
                    for (p, d) in depth.iter_mut().enumerate() {
                        d.push(v[p + 1]);
                    }
                }
            }
        }
        if t.is_empty() {
            return Err(ScenarioError::invalid(
                path.display().to_string(),
                "no data rows",
            ));
        }
        Ok(PointSeries { title, t, depth })
    }
}

/// How a model's depth series at one point compares with a reference's.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesComparison {
    /// Root mean square difference over the reference's times (m).
    pub rmse_m: f64,
    /// Arrival times (s) of `arrival_depth` (linear between samples): model, reference; NaN
    /// when never reached.
    pub arrival_s: (f64, f64),
    /// Peak depths (m): model, reference.
    pub peak_m: (f64, f64),
}

/// First time a sampled series reaches `d` (linear between samples), NaN if it never does.
pub fn arrival_time(t: &[f64], h: &[f64], d: f64) -> f64 {
    for i in 0..h.len() {
        if h[i] >= d {
            if i == 0 {
                return t[0];
            }
            let f = (d - h[i - 1]) / (h[i] - h[i - 1]);
            return t[i - 1] + f * (t[i] - t[i - 1]);
        }
    }
    f64::NAN
}

/// Compare a model series `model` sampled at the reference's times `t` with `reference`.
pub fn compare_series(
    t: &[f64],
    model: &[f64],
    reference: &[f64],
    arrival_depth: f64,
) -> SeriesComparison {
    let n = t.len().min(model.len()).min(reference.len()).max(1);
    let sq: f64 = model
        .iter()
        .zip(reference)
        .map(|(a, b)| (a - b) * (a - b))
        .sum();
    let peak = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    SeriesComparison {
        rmse_m: (sq / n as f64).sqrt(),
        arrival_s: (
            arrival_time(t, model, arrival_depth),
            arrival_time(t, reference, arrival_depth),
        ),
        peak_m: (peak(model), peak(reference)),
    }
}

/// A channel for the free-outflow edges: 100 × 3 cells of 10 m (1000 m long, 30 m wide,
/// walls along its sides), ground 5 m at the west end falling by `bed_slope` eastwards,
/// Manning's n 0.03, fed 3 m³/s spread over its west column, draining through its east edge
/// with `kind`. At a steady state the east edge lets out q = 0.1 m²/s.
pub fn outflow_channel(kind: super::model::OutflowKind, bed_slope: f64) -> FloodModel {
    let (nx, ny, dx, q_in) = (100usize, 3usize, 10.0, 3.0);
    let mut m = FloodModel::flat(nx, ny, dx, 0.0, 0.03);
    for j in 0..ny {
        for i in 0..nx {
            m.z[j * nx + i] = 5.0 - bed_slope * i as f64 * dx;
        }
        m.inflows.push(Inflow {
            name: format!("west {j}"),
            cell: j * nx,
            series: TimeSeries::constant(q_in / ny as f64, Interp::Linear),
        });
    }
    m.outflows.push(super::model::Outflow {
        name: "east".into(),
        edge: super::model::Edge::East,
        kind,
    });
    m
}

/// A seiche for frictionless runs: its model and the numbers the tests check it against.
pub struct Seiche {
    /// A closed channel `length` long, 3 cells wide, bed at −`depth`, Manning's n 0, θ = 1
    /// (no numerical damping), started from η = `amplitude`·cos(πx/L).
    pub model: FloodModel,
    /// L (m).
    pub length: f64,
    /// h (m).
    pub depth: f64,
    /// a (m).
    pub amplitude: f64,
    /// Cell size (m).
    pub dx: f64,
    /// Cells along the channel.
    pub nx: usize,
    /// The fundamental mode's period T = 2L/√(g·h) (s).
    pub period: f64,
}

/// The seiche of the frictionless tests: L = 1000 m, h = 2 m, a = 1 cm, 10 m cells
/// (T = 451.5 s).
pub fn seiche() -> Seiche {
    let (l, h, a, dx) = (1000.0_f64, 2.0_f64, 0.01_f64, 10.0_f64);
    let nx = (l / dx) as usize;
    let mut m = FloodModel::flat(nx, 3, dx, -h, 0.0);
    m.params.theta = 1.0;
    for j in 0..3 {
        for i in 0..nx {
            let x = (i as f64 + 0.5) * dx;
            m.h0[j * nx + i] = h + a * (std::f64::consts::PI * x / l).cos();
        }
    }
    Seiche {
        model: m,
        length: l,
        depth: h,
        amplitude: a,
        dx,
        nx,
        period: 2.0 * l / (9.81 * h).sqrt(),
    }
}

/// The Huế sample twin (`sample`, e.g. `data/hue`) copied to `root/hue` and built, with a
/// 30-minute flood run into `root/flood`: the Perfume River held at 2.8 m (its water polygon
/// filled), 40 mm/h of rain easing to 0, buildings burnt in, a 60 m grid, snapshots every
/// `output_interval_s`. The renderer's and the desktop viewer's picture tests draw it. Returns
/// the loaded twin and the run folder.
pub fn sample_river_flood(
    sample: &Path,
    root: &Path,
    output_interval_s: u32,
) -> Result<(twin_core::Twin, std::path::PathBuf)> {
    use twin_core::NoProgress;
    let copy = root.join("hue");
    let td = twin_core::TwinDir::open(sample)?.copy_without_store(&copy)?;
    td.build(&NoProgress)?;
    let twin = td.load()?;
    let river = twin
        .water
        .features()
        .iter()
        .find(|w| w.id.contains("song-huong"))
        .ok_or_else(|| {
            ScenarioError::invalid(
                sample.display().to_string(),
                "no Perfume River (song-huong) in the water layer",
            )
        })?
        .id
        .clone();
    let sc = root.join("flood.toml");
    std::fs::write(
        &sc,
        format!(
            r#"name = "Perfume River at 2.8 m, 40 mm/h"
twin = "hue"
resolution_m = 60
duration_s = 1800
output_interval_s = {output_interval_s}

[rain]
series = [[0, 40], [1800, 0]]

[[stage]]
name = "Perfume River"
water = "{river}"
series = [[0, 2.8], [1800, 2.8]]
fill = true

[buildings]
burn = true
"#
        ),
    )
    .map_err(|e| ScenarioError::io(&sc, e))?;
    let flood = root.join("flood");
    let loaded = super::scenario::LoadedScenario::load(&sc)?;
    super::run_loaded(&loaded, &twin, &flood, &super::cpu_solver, &NoProgress)?;
    Ok((twin, flood))
}
