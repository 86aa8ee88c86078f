//! `twin scenario run|list|show|compare|rerun`: scenario files run as stored jobs
//! (`scenarios::jobs`), their impacts and comparisons printed as tables.

use anyhow::Result;
use clap::Subcommand;
use scenarios::jobs::{
    compare_runs, read_compare, read_impacts, Compare, CompareBody, Impacts, Job, JobOptions,
    RunInfo, RunStore, Status,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The `twin scenario` subcommands.
#[derive(Subcommand)]
pub enum ScenarioCmd {
    /// Run a scenario file (flood or traffic) as a stored job; its baseline first when it has
    /// no stored run with the same inputs.
    Run {
        /// The twin folder (runs go to <twin>/runs).
        twin: PathBuf,
        /// The scenario file.
        file: PathBuf,
        /// Run floods on the wgpu solver (GPU, or Mesa's software rasteriser).
        #[arg(long)]
        gpu: bool,
    },
    /// List the stored runs.
    List {
        /// The twin folder.
        twin: PathBuf,
    },
    /// Show a run: status, impacts and its comparison with its baseline.
    Show {
        /// The twin folder.
        twin: PathBuf,
        /// The run id.
        run: String,
    },
    /// Compare two runs of one model (the first is the baseline).
    Compare {
        /// The twin folder.
        twin: PathBuf,
        /// The baseline run id.
        a: String,
        /// The run id.
        b: String,
    },
    /// Run a stored run's inputs again as a new run.
    Rerun {
        /// The twin folder.
        twin: PathBuf,
        /// The run id.
        run: String,
        /// Run floods on the wgpu solver.
        #[arg(long)]
        gpu: bool,
    },
}

/// Runs a `twin scenario` subcommand.
pub fn scenario(cmd: ScenarioCmd) -> Result<()> {
    match cmd {
        ScenarioCmd::Run { twin, file, gpu } => {
            let job = Job::from_path(&twin, &file)?;
            run(&twin, job, gpu)
        }
        ScenarioCmd::Rerun { twin, run: id, gpu } => {
            let job = Job::rerun(&twin, &id)?;
            println!("rerun of {id}");
            run(&twin, job, gpu)
        }
        ScenarioCmd::List { twin } => {
            let runs = RunStore::for_twin(&twin).list()?;
            if runs.is_empty() {
                println!("no runs in {}", twin.join("runs").display());
            }
            println!(
                "{:<30} {:<8} {:<10} {:>5} {:<20} {:<30} name",
                "run", "model", "status", "%", "created", "baseline run"
            );
            for r in runs {
                println!(
                    "{:<30} {:<8} {:<10} {:>5.0} {:<20} {:<30} {}",
                    r.id,
                    r.model.to_string(),
                    r.status.to_string(),
                    100.0 * r.progress,
                    r.created.get(..19).unwrap_or(&r.created),
                    r.baseline_run.as_deref().unwrap_or("-"),
                    r.name
                );
            }
            Ok(())
        }
        ScenarioCmd::Show { twin, run: id } => {
            let store = RunStore::for_twin(&twin);
            let info = store.read(&id)?;
            show(&store, &info)
        }
        ScenarioCmd::Compare { twin, a, b } => {
            let store = RunStore::for_twin(&twin);
            let c = compare_runs(&store, &a, &b)?;
            print_compare(&c);
            Ok(())
        }
    }
}

fn run(twin_dir: &Path, job: Job, gpu: bool) -> Result<()> {
    eprintln!("run {}: {}", job.id(), job.info().name);
    eprintln!("loading the twin {}...", twin_dir.display());
    let twin = twin_core::TwinDir::open(twin_dir)?.load()?;
    let pb = super::job_bar();
    let solver = super::flood_solver(gpu).factory;
    let bar = pb.clone();
    let opts = JobOptions {
        solver,
        progress: Some(Arc::new(move |p| {
            bar.set_prefix(p.phase.clone());
            bar.set_position((p.fraction * 1000.0) as u64);
            bar.set_message(p.message.clone());
        })),
        ..JobOptions::default()
    };
    let id = job.id().to_string();
    let outcome = job.run(&twin, &opts);
    super::end_job_bar(&pb);
    let store = RunStore::for_twin(twin_dir);
    let info = store.read(&id)?;
    outcome?;
    show(&store, &info)
}

fn show(store: &RunStore, r: &RunInfo) -> Result<()> {
    println!("run:       {}", r.id);
    println!("scenario:  {} ({})", r.name, r.scenario_file);
    println!("model:     {}", r.model);
    println!(
        "status:    {} ({:.0}%, {}){}",
        r.status,
        100.0 * r.progress,
        r.phase,
        r.error
            .as_ref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default()
    );
    println!(
        "times:     created {}, started {}, finished {}",
        r.created,
        r.started.as_deref().unwrap_or("-"),
        r.finished.as_deref().unwrap_or("-")
    );
    println!("inputs:    sha256 {}", r.input_hash);
    if let Some(s) = &r.solver {
        println!("solver:    {s}");
    }
    if let Some(b) = &r.baseline_run {
        println!("baseline:  run {b}");
    }
    for f in &r.flood_runs {
        println!("flood:     run {f} (its flooded roads closed)");
    }
    println!("folder:    {}", store.dir(&r.id)?.display());
    if r.status != Status::Done {
        return Ok(());
    }
    println!();
    match read_impacts(store, &r.id)? {
        Impacts::Flood(f) => {
            println!(
                "impacts (wet: deeper than {} m, hazard: deeper than {} m):",
                f.wet_depth_m, f.hazard_depth_m
            );
            println!("  buildings assessed        {:>8}", f.buildings);
            println!("  buildings wet             {:>8}", f.buildings_wet);
            println!(
                "  buildings above hazard    {:>8}",
                f.buildings_above_hazard_depth
            );
            println!(
                "  heritage sites hit        {:>8} of {}",
                f.heritage_hit.len(),
                f.heritage_sites
            );
            println!(
                "  road links flooded        {:>8} of {} ({:.0} m)",
                f.roads_flooded, f.roads, f.roads_flooded_length_m
            );
            println!("  area ever wet (m²)        {:>8.0}", f.max_flooded_area_m2);
            println!(
                "  water budget error        {:>8.1e}",
                f.mass_balance_relative_error
            );
            if !f.heritage_hit.is_empty() {
                println!(
                    "  {:<36} {:>4} {:>9} {:>10}",
                    "heritage site", "zone", "depth m", "wet h"
                );
                for h in &f.heritage_hit {
                    println!(
                        "  {:<36} {:>4} {:>9.2} {:>10.1}",
                        h.name,
                        h.zone,
                        h.max_depth_m,
                        h.wet_duration_s / 3600.0
                    );
                }
            }
        }
        Impacts::Traffic(t) => {
            println!("impacts:");
            println!(
                "  {:<26} {:>14} {:>14} {:>12}",
                "", "baseline", "scenario", "change"
            );
            let pct = |x: f64, y: f64| {
                if x != 0.0 {
                    format!("{:+.2}%", 100.0 * (y - x) / x)
                } else {
                    "-".into()
                }
            };
            // The plain TSTT change only where both serve the same trips: cutting trips off
            // lowers TSTT without anyone travelling faster.
            let tstt_change = match t.tstt_change_pct {
                Some(p) => format!("{p:+.2}%"),
                None => "n/a (other trips)".into(),
            };
            println!(
                "  {:<26} {:>14.1} {:>14.1} {:>12}",
                "TSTT (veh·min)", t.tstt_baseline, t.tstt_scenario, tstt_change
            );
            println!(
                "  {:<26} {:>14.1} {:>14.1}",
                "assigned trips", t.assigned_trips_baseline, t.assigned_trips_scenario
            );
            println!(
                "  {:<26} {:>14.1} {:>14.1}",
                "unserved trips", t.unreachable_trips_baseline, t.unreachable_trips_scenario
            );
            println!(
                "  {:<26} {:>13.2}% {:>13.2}%",
                "unserved share",
                100.0 * t.unserved_share_baseline,
                100.0 * t.unserved_share_scenario
            );
            println!(
                "  {:<26} {:>14.1} {:>14.1} {:>12}",
                format!("TSTT + {:.0} min/unserved", t.unserved_penalty_min),
                t.tstt_penalised_baseline,
                t.tstt_penalised_scenario,
                pct(t.tstt_penalised_baseline, t.tstt_penalised_scenario)
            );
            println!(
                "  closed links {} on {} roads",
                t.closed_links,
                t.closed_roads.len()
            );
        }
    }
    if let Some(c) = read_compare(store, &r.id)? {
        println!();
        print_compare(&c);
    }
    Ok(())
}

fn print_compare(c: &Compare) {
    match &c.baseline_run {
        Some(b) => println!("comparison: run {} against run {b}", c.run),
        None => println!("comparison: run {} against its unedited network", c.run),
    }
    match &c.body {
        CompareBody::Flood(f) => {
            println!(
                "  {:<12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10}",
                "",
                "compared",
                "wet base",
                "wet",
                "newly wet",
                "dried",
                "deeper",
                "shallower",
                ">hazard"
            );
            for (what, d) in [("buildings", &f.buildings), ("heritage", &f.heritage)] {
                println!(
                    "  {:<12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>4} -> {:<4}",
                    what,
                    d.compared,
                    d.wet_baseline,
                    d.wet,
                    d.newly_wet,
                    d.dried,
                    d.deeper,
                    d.shallower,
                    d.above_hazard_baseline,
                    d.above_hazard
                );
            }
            println!(
                "  road links flooded: {} -> {}",
                f.roads_flooded_baseline, f.roads_flooded
            );
            let hs: Vec<_> = f
                .heritage_changes
                .iter()
                .filter(|h| h.change_m.abs() > f.tolerance_m)
                .collect();
            if !hs.is_empty() {
                println!(
                    "  {:<36} {:>9} {:>9} {:>9}",
                    "heritage site", "base m", "m", "change"
                );
                for h in hs {
                    println!(
                        "  {:<36} {:>9.2} {:>9.2} {:>+9.2}",
                        h.name, h.base_max_depth_m, h.max_depth_m, h.change_m
                    );
                }
            }
        }
        CompareBody::Traffic(t) => {
            println!(
                "  TSTT {:.1} -> {:.1} veh·min ({:+.1}); {} links compared, {} closed",
                t.tstt_baseline, t.tstt, t.tstt_change, t.links, t.closed_links
            );
            println!(
                "  unserved trips {:.0} -> {:.0}; TSTT with {:.0} min per unserved trip {:+.1} veh·min",
                t.unserved_trips_baseline,
                t.unserved_trips,
                scenarios::jobs::results::UNSERVED_TRIP_PENALTY_MIN,
                t.tstt_penalised_change
            );
            println!(
                "  {:<36} {:<28} {:>9} {:>9} {:>9}",
                "link", "road", "baseline", "flow", "change"
            );
            for l in &t.top_links {
                println!(
                    "  {:<36} {:<28} {:>9.0} {:>9.0} {:>+9.0}",
                    l.key,
                    if l.name.is_empty() { "-" } else { &l.name },
                    l.base_flow,
                    l.flow,
                    l.d_flow
                );
            }
        }
    }
}
