//! `twin traffic <twin> <scenario.toml>`: run a traffic scenario against its baseline and print
//! a table.
//!
//! `twin traffic --net <net.tntp|net.csv> [--trips <trips.tntp|od.csv>] [--toll-factor X]
//! [--distance-factor Y] [--gap G] [--method bush|path]`: assign a TNTP (or CSV) network and trip table to user
//! equilibrium and print the totals, with the cost weights used and where they came from.

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use scenarios::traffic::scenario::{run_scenario_on, ProgressEvent, TrafficReport};
use scenarios::traffic::{
    assign_with_progress, tntp, AssignMethod, AssignOptions, Demand, Network,
};
use std::path::{Path, PathBuf};

/// Arguments of `twin traffic`.
#[derive(clap::Args)]
pub struct TrafficArgs {
    /// The twin folder (overrides the scenario's `twin`).
    #[arg(required_unless_present = "net", conflicts_with = "net")]
    twin: Option<PathBuf>,
    /// The scenario file.
    #[arg(required_unless_present = "net")]
    scenario: Option<PathBuf>,
    /// Assign a network file instead of a scenario: TNTP `*_net.tntp`, or CSV
    /// `LINK,A,B,a0,a1,a2,a3,a4` (`*.csv`).
    #[arg(long)]
    net: Option<PathBuf>,
    /// The trips of --net: TNTP `*_trips.tntp` or CSV `origin,destination,trips` (`*.csv`).
    /// Default: beside the network, `<stem>_trips.tntp` or else `<stem>_od.csv`.
    #[arg(long, requires = "net")]
    trips: Option<PathBuf>,
    /// Weight of the toll in the generalized cost (overrides the file's `<TOLL FACTOR>`; 0
    /// when neither gives one).
    #[arg(long, requires = "net")]
    toll_factor: Option<f64>,
    /// Weight of the length in the generalized cost (overrides the file's
    /// `<DISTANCE FACTOR>`; 0 when neither gives one).
    #[arg(long, requires = "net")]
    distance_factor: Option<f64>,
    /// Stop at this relative gap.
    #[arg(long, default_value_t = 1e-6, requires = "net")]
    gap: f64,
    /// Stop after this many iterations whatever the gap.
    #[arg(long, default_value_t = 10_000, requires = "net")]
    max_iterations: usize,
    /// The algorithm: `path` (path-based gradient projection, the faster on every TNTP network
    /// measured so far, scenarios README) or `bush` (Algorithm B).
    #[arg(long, default_value = "path", requires = "net")]
    method: AssignMethod,
    /// Write the link flows to this CSV file (`link,from,to,flow,time,cost`).
    #[arg(long, requires = "net")]
    flows: Option<PathBuf>,
}

/// Runs `twin traffic`.
pub fn run(a: TrafficArgs) -> Result<()> {
    if let Some(net) = &a.net {
        return network(net, &a);
    }
    match (&a.twin, &a.scenario) {
        (Some(t), Some(s)) => traffic(t, s),
        _ => bail!("twin traffic needs <TWIN> <SCENARIO>, or --net <FILE>"),
    }
}

/// Where a cost weight came from, for the printout.
fn factor(flag: Option<f64>, file: Option<f64>, tag: &str) -> (f64, String) {
    match (flag, file) {
        (Some(x), Some(f)) => (x, format!("from the command line; the file says {f}")),
        (Some(x), None) => (x, "from the command line".into()),
        (None, Some(f)) => (f, format!("from the file's <{tag}>")),
        (None, None) => (
            0.0,
            format!("default 0: the file has no <{tag}>; check the network's README"),
        ),
    }
}

/// Reads a network and its trips as `--net`/`--trips` name them, and sets the cost weights.
/// Returns the network, the trips and a line per weight saying where it came from.
pub fn read_network(a: &TrafficArgs, net_path: &Path) -> Result<(Network, Demand, Vec<String>)> {
    let is_csv = |p: &Path| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let (mut net, declared) = if is_csv(net_path) {
        (
            tntp::read_net_csv(net_path)?,
            tntp::DeclaredFactors::default(),
        )
    } else {
        tntp::read_net_with_factors(net_path)?
    };
    let trips_path = match &a.trips {
        Some(t) => t.clone(),
        None => default_trips(net_path)?,
    };
    let trips = if is_csv(&trips_path) {
        tntp::read_od_csv(&trips_path)?
    } else {
        tntp::read_trips(&trips_path)?
    };
    let (toll, toll_from) = factor(a.toll_factor, declared.toll, "TOLL FACTOR");
    let (dist, dist_from) = factor(a.distance_factor, declared.distance, "DISTANCE FACTOR");
    for (name, x) in [("--toll-factor", toll), ("--distance-factor", dist)] {
        if !x.is_finite() {
            bail!("{name} {x} is not a finite number");
        }
    }
    net.toll_factor = toll;
    net.distance_factor = dist;
    let lines = vec![
        format!("trips: {}", trips_path.display()),
        format!("toll factor {toll} ({toll_from})"),
        format!("distance factor {dist} ({dist_from})"),
    ];
    Ok((net, trips, lines))
}

/// `<dir>/<stem>_trips.tntp`, else `<dir>/<stem>_od.csv`, for a network `<dir>/<stem>_net.*`.
fn default_trips(net: &Path) -> Result<PathBuf> {
    let name = net.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let stem = name
        .strip_suffix("_net.tntp")
        .or_else(|| name.strip_suffix("_net.csv"))
        .with_context(|| {
            format!(
                "--net {}: no --trips given, and the name does not end in _net.tntp or _net.csv                  to find them beside it",
                net.display()
            )
        })?;
    let dir = net.parent().unwrap_or(Path::new("."));
    for cand in [format!("{stem}_trips.tntp"), format!("{stem}_od.csv")] {
        let p = dir.join(cand);
        if p.exists() {
            return Ok(p);
        }
    }
    bail!(
        "--net {}: no --trips given and neither {stem}_trips.tntp nor {stem}_od.csv is beside it",
        net.display()
    )
}

/// Assigns a network file's trips and prints the totals.
fn network(net_path: &Path, a: &TrafficArgs) -> Result<()> {
    if !(a.gap.is_finite() && a.gap >= 0.0) {
        bail!("--gap {} must be a finite number >= 0", a.gap);
    }
    let (net, trips, lines) = read_network(a, net_path)?;
    println!(
        "network: {} ({} nodes, {} links, {} zones); {:.1} trips",
        net_path.display(),
        net.nodes.len(),
        net.links.len(),
        net.zones,
        trips.total()
    );
    for l in &lines {
        println!("{l}");
    }
    let opts = AssignOptions {
        target_gap: a.gap,
        max_iterations: a.max_iterations,
        method: a.method,
        ..AssignOptions::default()
    };
    let bar = ProgressBar::new(((-a.gap.max(1e-15).log10()).max(1.0) * 100.0) as u64);
    bar.set_style(
        ProgressStyle::with_template("assign    [{bar:40}] {msg} {elapsed}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let r = assign_with_progress(&net, &trips, &opts, &mut |g| {
        if g.relative_gap.is_finite() && g.relative_gap > 0.0 {
            bar.set_position(((-g.relative_gap.log10()).max(0.0) * 100.0) as u64);
        }
        bar.set_message(format!(
            "iteration {} gap {:.2e}",
            g.iteration, g.relative_gap
        ));
    })?;
    bar.finish_and_clear();
    let pure_time = net.toll_factor == 0.0 && net.distance_factor == 0.0;
    println!(
        "relative gap {:.3e} after {} iterations in {:.3} s ({:?}; {})",
        r.relative_gap,
        r.iterations,
        r.seconds,
        a.method,
        if r.converged {
            "converged"
        } else {
            "NOT converged: max iterations reached"
        }
    );
    println!("TSTT (total travel time) {:.6}", r.tstt);
    if !pure_time {
        println!(
            "total generalized cost {:.6} (time + toll factor × toll + distance factor × length)",
            r.total_cost
        );
    }
    let cost = if pure_time {
        "time"
    } else {
        "generalized cost"
    };
    println!("Beckmann objective ({cost}) {:.6}", r.beckmann);
    println!(
        "assigned trips {:.1}; intrazonal {:.1}; unreachable {:.1} in {} OD pairs",
        r.assigned_trips,
        r.intrazonal_trips,
        r.unreachable_trips() + 0.0,
        r.unreachable.len()
    );
    if let Some(out) = &a.flows {
        use std::fmt::Write as _;
        let mut text = String::from("link,from,to,flow,time,cost\n");
        for (i, l) in net.links.iter().enumerate() {
            let _ = writeln!(
                text,
                "{},{},{},{},{},{}",
                l.key, net.nodes[l.from].id, net.nodes[l.to].id, r.flows[i], r.times[i], r.costs[i]
            );
        }
        std::fs::write(out, text)
            .with_context(|| format!("--flows {}: cannot write", out.display()))?;
        println!("link flows written to {}", out.display());
    }
    Ok(())
}

/// Runs the scenario with a progress bar per assignment (gap, log scale) and prints the report.
fn traffic(twin: &Path, scenario: &Path) -> Result<()> {
    let mut bar: Option<ProgressBar> = None;
    let report = run_scenario_on(Some(twin), scenario, &mut |e| match e {
        ProgressEvent::Phase(p) => {
            if let Some(b) = bar.take() {
                super::end_job_bar(&b);
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
                let b = super::job_bar();
                b.set_length((decades * 100.0) as u64);
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
        super::end_job_bar(&b);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factor_says_where_it_came_from() {
        assert_eq!(factor(Some(2.0), None, "TOLL FACTOR").0, 2.0);
        let (x, why) = factor(None, None, "TOLL FACTOR");
        assert_eq!(x, 0.0);
        assert!(why.contains("no <TOLL FACTOR>"), "{why}");
        let (x, why) = factor(Some(1.0), Some(0.5), "DISTANCE FACTOR");
        assert_eq!(x, 1.0);
        assert!(why.contains("command line") && why.contains("0.5"), "{why}");
        assert_eq!(factor(None, Some(0.5), "DISTANCE FACTOR").0, 0.5);
    }

    #[test]
    fn trips_are_found_beside_the_network() {
        let dir =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/traffic/siouxfalls");
        let t = default_trips(&dir.join("SiouxFalls_net.tntp")).unwrap();
        assert!(t.ends_with("SiouxFalls_trips.tntp"));
        let e = default_trips(&dir.join("SiouxFalls.tntp"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("SiouxFalls.tntp") && e.contains("_net.tntp"),
            "{e}"
        );
        let e = default_trips(&dir.join("Nowhere_net.tntp"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("Nowhere_trips.tntp"), "{e}");
    }
}
