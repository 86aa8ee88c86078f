//! Progress of long work (imports, tile exports, runs): reported by the engines, drawn by the
//! CLI with indicatif.

/// Progress of long work, reported by importers and exporters; the CLI draws it with indicatif.
pub trait Progress: Sync {
    /// Start a phase with a known total (bytes, records...); 0 when unknown.
    fn start(&self, phase: &str, total: u64);
    /// Advance the current phase by `n`.
    fn inc(&self, n: u64);
    /// The current phase is done.
    fn finish(&self) {}
}

/// A [`Progress`] that reports nothing.
pub struct NoProgress;
impl Progress for NoProgress {
    fn start(&self, _: &str, _: u64) {}
    fn inc(&self, _: u64) {}
}
