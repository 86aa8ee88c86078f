//! `twin flood <twin> <scenario.toml> [--gpu] [--out DIR]`: a flood scenario run on a twin,
//! its summary printed with the water budget.

use super::{bar, flood_solver};
use anyhow::Result;
use std::path::PathBuf;

/// Arguments of `twin flood`.
#[derive(clap::Args)]
pub struct FloodArgs {
    /// The twin folder.
    twin: PathBuf,
    /// The scenario file.
    scenario: PathBuf,
    /// Run the wgpu solver (GPU, or Mesa's software rasteriser) instead of the CPU one.
    #[arg(long)]
    gpu: bool,
    /// Output folder (default: the scenario's output_dir, else <twin>/results/<scenario>).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Runs the scenario and prints its report.
pub fn run(a: FloodArgs) -> Result<()> {
    let solver = flood_solver(a.gpu);
    let r = scenarios::flood::run_scenario(
        &a.scenario,
        Some(&a.twin),
        a.out.as_deref(),
        &*solver.factory,
        &bar(),
    )?;
    print_flood(&r);
    Ok(())
}

fn print_flood(r: &scenarios::flood::FloodReport) {
    let g = &r.grid;
    println!("flood scenario: {}", r.name);
    println!("solver: {}", r.solver);
    println!(
        "grid: {} x {} cells of {} m; {} s simulated in {} steps, {:.1} s ({:.3e} cell updates/s)",
        g.nx, g.ny, g.dx, r.duration_s, r.steps, r.solver_wall_s, r.cell_updates_per_s
    );
    let mb = &r.mass_balance;
    println!(
        "water: start {:.1} m³, rain {:.1} m³, inflow {:.1} m³, boundaries {:+.1} m³, end {:.1} m³ (relative error {:.1e})",
        mb.initial_m3, mb.rain_m3, mb.inflow_m3, mb.boundary_net_m3, mb.final_m3, mb.relative_error
    );
    println!(
        "flooded (ever wet): {:.0} m²; buildings wet {}, above the hazard depth {}; heritage sites wet {}; road links impassable {}",
        r.max_flooded_area_m2, r.buildings_wet, r.buildings_above_hazard_depth, r.heritage_wet, r.roads_impassable
    );
    for n in &r.notes {
        println!("  note: {n}");
    }
    if let Some(d) = &r.output_dir {
        println!("results: {} ({} files)", d.display(), r.files.len());
    }
}
