//! `scenarios`: what-if engines on the CPU (flood reference solver, traffic assignment,
//! impacts) over a [`twin_core::Twin`]. The engines arrive with their issues; this crate holds
//! their shared scenario types.
//!
//! * [`flood`]: the local inertial flood engine (CPU reference solver, scenario files,
//!   GeoTIFF and per-feature outputs); the GPU solver is in `renderer::flood`;
//! * [`traffic`]: static user-equilibrium traffic assignment and what-if edits;
//! * [`jobs`]: scenario files run as stored jobs (progress, cancel, impacts, comparisons);
//! * [`files`]: the one way a scenario reads another file, confined to allowed folders;
//! * [`output`]: [`output::RunDir`], the one typed writer and reader of a run's result files.

#![warn(missing_docs)]

pub mod error;
pub mod files;
pub mod flood;
pub mod jobs;
pub mod objects;
pub mod output;
pub mod traffic;

pub use error::{Result, ScenarioError};
pub use twin_core;
