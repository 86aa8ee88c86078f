//! `fuzz`: a fuzz harness for every huetwin parser that runs on stable Rust
//! (`docs/adr/0011-fuzzing-on-stable.md`).
//!
//! Each parser is a [`targets::FuzzTarget`]; the [`engine`] feeds it inputs made by the seeded
//! [`mutate`] engine from seed files, catches panics, shrinks each crashing input and saves it
//! under `fuzz/regressions/<target>/`. `cargo run -p fuzz --release -- <target|all> --seconds N`
//! runs it; `scripts/fuzz.sh` runs every target; `tests/fuzz.rs` replays the regressions and
//! runs every target for a short bounded count.

pub mod engine;
pub mod mutate;
pub mod targets;

use std::path::PathBuf;

/// The harness's own failures (not the parsers'): setting a target up, saving a crash.
#[derive(Debug, thiserror::Error)]
pub enum FuzzError {
    /// A file could not be read or written.
    #[error("{path}: {error}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// A target could not be set up (e.g. a CRS PROJ does not know).
    #[error("setting up a target: {0}")]
    Setup(String),
    /// The command line is wrong.
    #[error("usage: {0}")]
    Usage(String),
}

/// The folder crashing inputs are kept in: `fuzz/regressions`.
pub fn regressions_dir() -> PathBuf {
    targets::repo().join("fuzz/regressions")
}
