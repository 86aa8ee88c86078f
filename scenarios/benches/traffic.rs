//! Time to relative gap on Sioux Falls (or another TNTP network).
//!
//! `cargo bench -p scenarios --bench traffic -- [--dir DIR] [--repeats N] [--method path|bush]
//! [--max-seconds S] [--time-limit S] [--inner-sweeps N] [GAP...]`
//!
//! Prints one line per target gap: `huetwin-<method> <gap> <median seconds> <iterations>
//! <reached gap> <Beckmann objective>`, the median over the repeats of the wall time of a whole
//! assignment (reading excluded). A repeat that takes longer than S seconds (default 600) ends
//! the repeats of that gap.

use std::path::PathBuf;
use std::time::Instant;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use scenarios::error::ScenarioError;
use scenarios::traffic::assign::assign_with_control;
use scenarios::traffic::{tntp, AssignMethod, AssignOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/traffic/siouxfalls");
    let mut repeats = 20usize;
    let mut gaps = Vec::new();
    let mut method = AssignMethod::Path;
    let mut max_seconds = 600.0f64;
    let mut time_limit = f64::INFINITY;
    let mut inner_sweeps = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--bench" => {}
            "--dir" => dir = PathBuf::from(args.next().ok_or("--dir needs a value")?),
            "--repeats" => repeats = args.next().ok_or("--repeats needs a value")?.parse()?,
            "--method" => method = args.next().ok_or("--method needs a value")?.parse()?,
            "--inner-sweeps" => {
                inner_sweeps = Some(args.next().ok_or("--inner-sweeps needs a value")?.parse()?)
            }
            "--time-limit" => {
                time_limit = args.next().ok_or("--time-limit needs a value")?.parse()?
            }
            "--max-seconds" => {
                max_seconds = args.next().ok_or("--max-seconds needs a value")?.parse()?
            }
            g => gaps.push(g.parse::<f64>()?),
        }
    }
    if gaps.is_empty() {
        gaps = vec![1e-4, 1e-6];
    }
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("network")
        .to_string();
    let stem = {
        // SiouxFalls_net.tntp -> SiouxFalls
        let mut s = None;
        for e in std::fs::read_dir(&dir)? {
            let p = e?.path();
            if let Some(f) = p.file_name().and_then(|f| f.to_str()) {
                if let Some(st) = f.strip_suffix("_net.tntp") {
                    s = Some(st.to_string());
                }
            }
        }
        s.ok_or_else(|| format!("no *_net.tntp in {}", dir.display()))?
    };
    let net = tntp::read_net(&dir.join(format!("{stem}_net.tntp")))?;
    let trips = tntp::read_trips(&dir.join(format!("{stem}_trips.tntp")))?;
    eprintln!(
        "{name}: {} nodes, {} links, {} OD entries, {} threads",
        net.nodes.len(),
        net.links.len(),
        trips.trips.len(),
        rayon::current_num_threads()
    );
    for g in gaps {
        let opts = AssignOptions {
            target_gap: g,
            max_iterations: 10_000,
            method,
            inner_sweeps: inner_sweeps.unwrap_or(AssignOptions::default().inner_sweeps),
            ..AssignOptions::default()
        };
        let mut times = Vec::with_capacity(repeats);
        let mut last = None;
        for _ in 0..repeats.max(1) {
            // A timer thread raises the cancel flag after --time-limit seconds.
            let cancel = Arc::new(AtomicBool::new(false));
            let done = Arc::new(AtomicBool::new(false));
            let timer = time_limit.is_finite().then(|| {
                let (cancel, done) = (cancel.clone(), done.clone());
                std::thread::spawn(move || {
                    let t = Instant::now();
                    while !done.load(Ordering::Relaxed) {
                        if t.elapsed().as_secs_f64() > time_limit {
                            cancel.store(true, Ordering::Relaxed);
                            return;
                        }
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    }
                })
            });
            let t = Instant::now();
            let verbose = std::env::var_os("TRAFFIC_VERBOSE").is_some();
            let r = assign_with_control(
                &net,
                &trips,
                &opts,
                &mut |g| {
                    if verbose {
                        eprintln!(
                            "  {} {:.3e} {:.3} s",
                            g.iteration, g.relative_gap, g.seconds
                        );
                    }
                },
                Some(&cancel),
            );
            let seconds = t.elapsed().as_secs_f64();
            done.store(true, Ordering::Relaxed);
            if let Some(h) = timer {
                let _ = h.join();
            }
            let a = match r {
                Err(ScenarioError::Cancelled) => {
                    last = None;
                    break;
                }
                other => other?,
            };
            // Timed before joining the timer thread (it wakes every 20 ms).
            times.push(seconds);
            last = Some(a);
            if times.last().is_some_and(|&t| t > max_seconds) {
                break;
            }
        }
        let tag = match method {
            AssignMethod::Path => "path",
            AssignMethod::Bush => "bush",
        };
        let Some(a) = last else {
            println!("huetwin-{tag} {g:e} timeout");
            continue;
        };
        times.sort_by(f64::total_cmp);
        println!(
            "huetwin-{tag} {g:e} {:.6} {} {:e} {:.10e}",
            times[times.len() / 2],
            a.iterations,
            a.relative_gap,
            a.beckmann
        );
    }
    Ok(())
}
