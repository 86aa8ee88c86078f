//! `cargo run -p fuzz --release -- <target|all> [--seconds N] [--runs N] [--seed S] [--no-save] [--list]`:
//! fuzz parsers, save each crash under `fuzz/regressions/<target>/`, print a table of
//! executions and crashes per target. Exits 1 when any target crashed.

use fuzz::engine::{fuzz, Budget};
use fuzz::{regressions_dir, targets, FuzzError};
use std::time::Duration;

fn main() {
    match run() {
        Ok(0) => {}
        Ok(_) => std::process::exit(1),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}

fn run() -> Result<usize, FuzzError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut which = None;
    let mut seconds = 10.0f64;
    let mut runs = u64::MAX;
    let mut seed = 1u64;
    let mut save = true;
    let mut it = args.iter();
    let all = targets::all()?;
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .ok_or_else(|| FuzzError::Usage(format!("{name} needs a value")))
                .cloned()
        };
        match a.as_str() {
            "--seconds" => {
                seconds = value("--seconds")?
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s >= 0.0)
                    .ok_or_else(|| FuzzError::Usage("--seconds takes a number".into()))?
            }
            "--runs" => {
                runs = value("--runs")?
                    .parse()
                    .map_err(|_| FuzzError::Usage("--runs takes a whole number".into()))?
            }
            "--seed" => {
                seed = value("--seed")?
                    .parse()
                    .map_err(|_| FuzzError::Usage("--seed takes a whole number".into()))?
            }
            "--no-save" => save = false,
            "--list" => {
                for t in &all {
                    println!("{:<18} {}", t.name(), t.about());
                }
                return Ok(0);
            }
            t if !t.starts_with('-') && which.is_none() => which = Some(t.to_string()),
            other => return Err(FuzzError::Usage(format!("unknown argument {other:?}"))),
        }
    }
    let which = which.ok_or_else(|| {
        FuzzError::Usage(
            "fuzz <target|all> [--seconds N] [--runs N] [--seed S] [--no-save] [--list]".into(),
        )
    })?;
    let chosen: Vec<_> = all
        .iter()
        .filter(|t| which == "all" || t.name() == which)
        .collect();
    if chosen.is_empty() {
        return Err(FuzzError::Usage(format!(
            "no target {which:?} (see --list)"
        )));
    }
    let budget = Budget {
        time: Duration::from_secs_f64(seconds),
        execs: runs,
    };
    println!(
        "| target | seconds | executions | exec/s | accepted | refused | panics | distinct crashes | slowest ms |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut crashed = 0;
    for t in chosen {
        let dir = regressions_dir();
        let s = fuzz(t.as_ref(), budget, seed, save.then_some(dir.as_path()))?;
        println!(
            "| {} | {:.0} | {} | {:.0} | {} | {} | {} | {} | {} |",
            t.name(),
            s.seconds,
            s.execs,
            s.execs as f64 / s.seconds.max(1e-9),
            s.accepted,
            s.refused,
            s.panics,
            s.crashes.len(),
            s.slowest_ms
        );
        for c in &s.crashes {
            eprintln!(
                "  crash in {} at {}: {} ({} bytes, saved as {})",
                t.name(),
                c.location,
                c.message.lines().next().unwrap_or_default(),
                c.input.len(),
                c.saved
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            );
        }
        crashed += s.crashes.len();
    }
    Ok(crashed)
}
