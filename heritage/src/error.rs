//! The one error type of `heritage`: every variant names the input and the place.

use std::path::PathBuf;

/// Result alias used across `heritage`.
pub type Result<T, E = HeritageError> = std::result::Result<T, E>;

/// Everything that can go wrong while reading heritage rules or checking a proposal.
#[derive(Debug, thiserror::Error)]
pub enum HeritageError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An input is malformed; `place` says where (a TOML line, a GeoJSON member).
    #[error("{input}: {place}: {message}")]
    Parse {
        /// The input: a file, or "proposal".
        input: String,
        /// Where in it.
        place: String,
        /// What is wrong.
        message: String,
    },
    /// A value is out of range or inconsistent (a rule naming an unknown site, a negative
    /// height...).
    #[error("invalid {what}: {message}")]
    Invalid {
        /// What was invalid, e.g. "rule zone 2 (site royal-axis)".
        what: String,
        /// Why.
        message: String,
    },
    /// The twin (its CRS, its store) failed.
    #[error(transparent)]
    Twin(#[from] twin_core::TwinError),
}

impl HeritageError {
    /// Shorthand for a [`HeritageError::Invalid`].
    pub fn invalid(what: impl Into<String>, message: impl ToString) -> HeritageError {
        HeritageError::Invalid {
            what: what.into(),
            message: message.to_string(),
        }
    }

    /// Shorthand for a [`HeritageError::Parse`].
    pub fn parse(
        input: impl Into<String>,
        place: impl Into<String>,
        message: impl ToString,
    ) -> HeritageError {
        HeritageError::Parse {
            input: input.into(),
            place: place.into(),
            message: message.to_string(),
        }
    }
}
