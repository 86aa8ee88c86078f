//! The one error type of `scenarios`: every variant names the input and the place.

use std::path::PathBuf;

/// Result alias used across `scenarios`.
pub type Result<T, E = ScenarioError> = std::result::Result<T, E>;

/// Everything that can go wrong while reading scenario inputs or running a what-if engine.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An input file is malformed; `place` says where (e.g. "line 12", "record 3").
    #[error("{path}: {place}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where in the file.
        place: String,
        /// What is wrong.
        message: String,
    },
    /// A value is out of range or inconsistent (unknown node, negative capacity, bad edit...).
    #[error("invalid {what}: {message}")]
    Invalid {
        /// What was invalid, e.g. "edit 2 (close link 3 -> 9)" or "demand origin 99".
        what: String,
        /// Why.
        message: String,
    },
    /// The twin could not be opened or loaded.
    #[error(transparent)]
    Twin(#[from] twin_core::TwinError),
    /// A solver failed while running (e.g. the GPU device was lost).
    #[error("{solver}: {message}")]
    Solver {
        /// Which solver.
        solver: String,
        /// What happened.
        message: String,
    },
    /// The run was cancelled by its caller.
    #[error("cancelled")]
    Cancelled,
    /// Object storage (a local folder or an S3-compatible service) refused or failed.
    #[error("object storage {store}: {key}: {message}")]
    Objects {
        /// The store (its URL, without secrets).
        store: String,
        /// The object key or prefix.
        key: String,
        /// What happened.
        message: String,
    },
    /// The PostgreSQL run queue failed (connection, SQL).
    #[error("run queue {queue}: {what}: {message}")]
    Queue {
        /// The queue (host:port/database, without password).
        queue: String,
        /// What was being done ("claiming a run", "run 2026...: heartbeat").
        what: String,
        /// What happened.
        message: String,
    },
    /// The run went on longer than the wall-clock limit it was given and was stopped.
    #[error("stopped: the run took longer than its time limit of {limit_s} s of wall-clock time")]
    TimedOut {
        /// The limit (s).
        limit_s: u64,
    },
}

impl ScenarioError {
    /// Shorthand for a [`ScenarioError::Parse`].
    pub fn parse(
        path: impl Into<PathBuf>,
        place: impl Into<String>,
        message: impl ToString,
    ) -> Self {
        ScenarioError::Parse {
            path: path.into(),
            place: place.into(),
            message: message.to_string(),
        }
    }

    /// Shorthand for a [`ScenarioError::Io`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ScenarioError::Io {
            path: path.into(),
            source,
        }
    }

    /// Shorthand for a [`ScenarioError::Invalid`].
    pub fn invalid(what: impl Into<String>, message: impl ToString) -> Self {
        ScenarioError::Invalid {
            what: what.into(),
            message: message.to_string(),
        }
    }
}

/// 1-based line of a byte offset in `text`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Deserialise TOML `text` read from `path`; a syntax or type error names the file and the line.
pub(crate) fn from_toml<T: serde::de::DeserializeOwned>(
    path: &std::path::Path,
    text: &str,
) -> Result<T> {
    toml::from_str(text).map_err(|e| {
        let place = e
            .span()
            .map(|s| format!("line {}", line_of(text, s.start)))
            .unwrap_or_else(|| "file".into());
        ScenarioError::parse(path, place, e.message().trim())
    })
}
