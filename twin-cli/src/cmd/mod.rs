//! The `twin` subcommands, one file each, and what they share: the progress bar behind
//! twin-core's [`Progress`] trait, number lists from the command line, the flood solver choice.

pub mod flood;
pub mod import;
pub mod info;
pub mod query;
pub mod render;
pub mod scenario;
pub mod serve;
pub mod tiles;
pub mod token;
pub mod traffic;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use scenarios::jobs::SolverChoice;
use std::sync::Arc;
use twin_core::Progress;

/// The flood solver of `--gpu` (wgpu: a GPU, or Mesa's software rasteriser) or the CPU
/// reference solver.
pub fn flood_solver(gpu: bool) -> SolverChoice {
    if gpu {
        SolverChoice::new("gpu", Arc::new(renderer::flood::gpu_solver))
    } else {
        SolverChoice::cpu()
    }
}

/// An indicatif bar behind twin-core's progress trait.
pub struct Bar(ProgressBar);

impl Progress for Bar {
    fn start(&self, phase: &str, total: u64) {
        self.0.reset();
        self.0.set_length(total);
        self.0.set_message(phase.to_string());
    }
    fn inc(&self, n: u64) {
        self.0.inc(n)
    }
    fn finish(&self) {
        self.0.set_position(self.0.length().unwrap_or(0));
    }
}

pub fn bar() -> Bar {
    let pb = ProgressBar::new(0);
    pb.set_style(
        ProgressStyle::with_template("{msg:20} [{bar:40}] {percent:>3}% {elapsed}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    Bar(pb)
}

/// `n` finite comma-separated numbers from a command-line value (`what` names the flag).
pub fn numbers(s: &str, n: usize, what: &str) -> Result<Vec<f64>> {
    let v: Vec<f64> = s
        .split(',')
        .map(|x| x.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("{what}: {s:?} is not {n} comma-separated numbers"))?;
    if v.len() != n || v.iter().any(|x| !x.is_finite()) {
        bail!("{what}: {s:?} must be {n} finite comma-separated numbers");
    }
    Ok(v)
}
