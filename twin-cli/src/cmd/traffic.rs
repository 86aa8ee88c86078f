//! `twin traffic <twin> <scenario.toml>`: run a traffic scenario against its baseline and print
//! a table.

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use scenarios::traffic::scenario::{run_scenario_on, ProgressEvent, TrafficReport};
use std::path::{Path, PathBuf};

/// Arguments of `twin traffic`.
#[derive(clap::Args)]
pub struct TrafficArgs {
    /// The twin folder (overrides the scenario's `twin`).
    twin: PathBuf,
    /// The scenario file.
    scenario: PathBuf,
}

/// Runs `twin traffic`.
pub fn run(a: TrafficArgs) -> Result<()> {
    traffic(&a.twin, &a.scenario)
}

/// Runs the scenario with a progress bar per assignment (gap, log scale) and prints the report.
fn traffic(twin: &Path, scenario: &Path) -> Result<()> {
    let mut bar: Option<ProgressBar> = None;
    let style = ProgressStyle::with_template("{prefix:9} [{bar:40}] {msg} {elapsed}")
        .expect("valid template")
        .progress_chars("=> ");
    let report = run_scenario_on(Some(twin), scenario, &mut |e| match e {
        ProgressEvent::Phase(p) => {
            if let Some(b) = bar.take() {
                b.finish();
            }
            eprintln!("{p}...");
        }
        ProgressEvent::Gap {
            run,
            record,
            target,
        } => {
            let b = bar.get_or_insert_with(|| {
                // Position: decades of gap closed, from 1 down to the target.
                let decades = (-target.log10()).max(1.0);
                let b = ProgressBar::new((decades * 100.0) as u64);
                b.set_style(style.clone());
                b.set_prefix(run.to_string());
                b
            });
            if record.relative_gap.is_finite() && record.relative_gap > 0.0 {
                let done = (-record.relative_gap.log10()).max(0.0) * 100.0;
                b.set_position((done as u64).min(b.length().unwrap_or(0)));
            }
            b.set_message(format!(
                "iteration {} gap {:.2e} (target {:.0e})",
                record.iteration, record.relative_gap, target
            ));
        }
    })?;
    if let Some(b) = bar.take() {
        b.finish();
    }
    print(&report);
    Ok(())
}

fn print(r: &TrafficReport) {
    let (b, s) = (&r.baseline, &r.scenario);
    println!("scenario: {}", r.name);
    println!(
        "network: {} nodes, {} links ({} roads, {} left out); {} zones, {:.0} trips",
        r.network.nodes.len(),
        r.network.links.len(),
        r.roads_used,
        r.roads_skipped,
        r.zones,
        r.trips
    );
    if let Some(g) = &r.gravity {
        println!(
            "demand: gravity, {:.0} m² floor area, {} buildings left out, balanced in {} rounds",
            g.floor_area, g.buildings_dropped, g.balance_rounds
        );
    }
    println!(
        "{:<22} {:>16} {:>16} {:>12}",
        "", "baseline", "scenario", "change"
    );
    let row = |what: &str, x: f64, y: f64| {
        // An empty f64 sum is -0.0; print it as 0.
        let (x, y) = (x + 0.0, y + 0.0);
        let pct = if x != 0.0 {
            format!("{:+.2}%", 100.0 * (y - x) / x)
        } else {
            "-".into()
        };
        println!("{what:<22} {x:>16.1} {y:>16.1} {pct:>12}");
    };
    row("TSTT (veh·min)", b.tstt, s.tstt);
    row("assigned trips", b.assigned_trips, s.assigned_trips);
    row(
        "unreachable trips",
        b.unreachable_trips(),
        s.unreachable_trips(),
    );
    println!(
        "{:<22} {:>16} {:>16}",
        "iterations / gap",
        format!("{} / {:.1e}", b.iterations, b.relative_gap),
        format!("{} / {:.1e}", s.iterations, s.relative_gap)
    );
    println!("{:<22} {:>16.2} {:>16.2}", "seconds", b.seconds, s.seconds);
    println!("closed links: {}", r.closed_links.len());
    println!("\nlargest flow changes (veh/h):");
    println!(
        "{:<36} {:<28} {:>9} {:>9} {:>9}",
        "link", "road", "baseline", "scenario", "change"
    );
    for t in &r.top_links {
        println!(
            "{:<36} {:<28} {:>9.0} {:>9.0} {:>+9.0}",
            t.key,
            t.name.as_deref().unwrap_or("-"),
            t.base_flow,
            t.flow,
            t.flow - t.base_flow
        );
    }
    println!(
        "\nunreachable OD pairs: {} in the baseline, {} in the scenario",
        b.unreachable.len(),
        s.unreachable.len()
    );
    for u in s.unreachable.iter().take(10) {
        println!("  {} -> {}: {:.1} trips", u.origin, u.destination, u.trips);
    }
    if !r.access.is_empty() {
        println!("\naccess times (congested, minutes, trip-weighted mean over origins):");
        println!(
            "{:<32} {:>9} {:>9} {:>9} {:>9} {:>12}",
            "destination", "base", "scenario", "base max", "max", "unreachable"
        );
        for a in &r.access {
            println!(
                "{:<32} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>5} -> {:<5}",
                a.name,
                a.base_mean_min,
                a.mean_min,
                a.base_max_min,
                a.max_min,
                a.base_unreachable,
                a.unreachable
            );
        }
    }
}
