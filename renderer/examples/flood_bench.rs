//! Flood solver benchmark: cell updates per second of the CPU and GPU solvers on an n × n grid
//! (a bowl with a lake, rain on it), and the inputs for the landlab comparison
//! (`scripts/bench_flood.sh`).
//!
//! ```text
//! flood_bench [--n 1000] [--dx 5] [--duration 60] [--solvers cpu,gpu] [--dt-every 4]
//!             [--repeat K] [--write-inputs DIR]
//! ```
//! Prints one line per solver: `solver=cpu cells=... steps=... wall_s=... updates_per_s=...`
//! (and, for the CPU solver, the largest Courant number a step ran at: `max_courant=`). The CPU
//! solver runs K times from the start (`--repeat`, 1 by default) and the run with the median
//! speed is printed, with `repeats=K range=slowest..fastest`.

use renderer::flood::GpuSolver;
use scenarios::flood::{CpuSolver, FloodModel, FloodSolver, Interp, TimeSeries};
use std::time::Instant;

/// Rain intensity of the benchmark (m/s): 50 mm/h.
const RAIN: f64 = 50.0 / 3.6e6;
const MANNING: f64 = 0.03;

fn model(n: usize, dx: f64) -> FloodModel {
    let mut m = FloodModel::flat(n, n, dx, 0.0, MANNING);
    let half = n as f64 * dx / 2.0;
    for j in 0..n {
        for i in 0..n {
            let (x, y) = ((i as f64 + 0.5) * dx, (j as f64 + 0.5) * dx);
            let r2 = ((x - half).powi(2) + (y - half).powi(2)) / (half * half);
            let k = j * n + i;
            m.z[k] = 2.0 * r2 + 0.2 * (x / 37.0).sin() * (y / 53.0).cos();
            // A lake up to 1 m above the bowl's bottom.
            m.h0[k] = (1.0 - m.z[k]).max(0.0);
        }
    }
    m.rain = vec![TimeSeries::constant(RAIN, Interp::Step)];
    m
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// Runs a solver and returns its result line.
fn run(name: &str, solver: &mut dyn FloodSolver, cells: usize, duration: f64) -> String {
    let start = Instant::now();
    if let Err(e) = solver.advance_to(duration) {
        eprintln!("{name}: {e}");
        std::process::exit(1);
    }
    // Both solvers have finished when advance_to returns (the GPU one reads the model clock
    // back from the device after its last batch), so the clock stops here, as landlab's stops
    // when its overland_flow returns; reading the state (a copy of the grids) is not timed.
    let wall = start.elapsed().as_secs_f64();
    let st = solver.state().expect("state");
    let steps = solver.steps();
    let wet = st.h.iter().filter(|&&h| h > 0.01).count() as f64 / cells as f64;
    format!(
        "solver={name} cells={cells} steps={steps} wall_s={wall:.3} updates_per_s={:.4e} wet_fraction={wet:.3} bytes_per_update={:.0} device=\"{}\"",
        cells as f64 * steps as f64 / wall,
        GpuSolver::bytes_per_cell_update(wet),
        solver.describe()
    )
}

/// The `updates_per_s=` figure of a result line.
fn updates_per_s(line: &str) -> f64 {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix("updates_per_s="))
        .and_then(|v| v.parse().ok())
        .expect("updates_per_s in the result line")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = arg(&args, "--n").map_or(1000, |v| v.parse().expect("--n"));
    let dx: f64 = arg(&args, "--dx").map_or(5.0, |v| v.parse().expect("--dx"));
    let duration: f64 = arg(&args, "--duration").map_or(60.0, |v| v.parse().expect("--duration"));
    let solvers = arg(&args, "--solvers").unwrap_or_else(|| "cpu,gpu".into());
    let repeat: usize = arg(&args, "--repeat").map_or(1, |v| v.parse().expect("--repeat"));
    assert!(repeat >= 1, "--repeat must be at least 1");
    let mut m = model(n, dx);
    if let Some(k) = arg(&args, "--dt-every") {
        m.params.dt_every = k.parse().expect("--dt-every");
    }
    if let Some(dir) = arg(&args, "--write-inputs") {
        let dir = std::path::Path::new(&dir);
        std::fs::create_dir_all(dir).expect("input folder");
        let bytes = |v: &[f64]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        std::fs::write(dir.join("z.f64"), bytes(&m.z)).expect("z");
        std::fs::write(dir.join("h0.f64"), bytes(&m.h0)).expect("h0");
        let p = &m.params;
        std::fs::write(
            dir.join("params.json"),
            format!(
                "{{\"n\": {n}, \"dx\": {dx}, \"duration\": {duration}, \"rain_m_per_s\": {RAIN:e}, \"manning\": {MANNING}, \"alpha\": {}, \"theta\": {}, \"g\": {}}}\n",
                p.alpha, p.theta, p.g
            ),
        )
        .expect("params");
    }
    let cells = n * n;
    for s in solvers.split(',').filter(|s| !s.is_empty()) {
        match s {
            "cpu" => {
                // A run of the CPU solver lasts a fraction of a second, so one run samples the
                // machine's speed at one moment; the median of `--repeat` fresh runs is printed.
                let mut runs: Vec<(f64, String)> = (0..repeat)
                    .map(|_| {
                        let mut c = CpuSolver::new(&m).expect("cpu solver");
                        let line = run("cpu", &mut c, cells, duration);
                        let ups = updates_per_s(&line);
                        (ups, format!("{line} max_courant={:.4}", c.max_courant()))
                    })
                    .collect();
                runs.sort_by(|a, b| a.0.total_cmp(&b.0));
                let (lo, hi) = (runs[0].0, runs[runs.len() - 1].0);
                let (_, line) = &runs[runs.len() / 2];
                println!("{line} repeats={repeat} range={lo:.3e}..{hi:.3e}");
            }
            "gpu" => match GpuSolver::new(&m) {
                Ok(mut g) => println!("{}", run("gpu", &mut g, cells, duration)),
                Err(e) => {
                    println!("solver=gpu error=\"{e}\"");
                }
            },
            other => {
                eprintln!("unknown solver {other}");
                std::process::exit(2);
            }
        }
    }
}
