//! The one error type of `tiles3d`: every variant names the input and the place.

use std::path::PathBuf;

/// Result alias used across `tiles3d`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while generating, writing or serving tiles.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The twin could not be read or a coordinate could not be transformed.
    #[error(transparent)]
    Twin(#[from] twin_core::TwinError),
    /// A file could not be read or written.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        error: std::io::Error,
    },
    /// A request or an input is invalid (unknown tile id, bad option, malformed glb...).
    #[error("invalid {what}: {message}")]
    Invalid {
        /// What was invalid, e.g. "tile id" or "glb".
        what: String,
        /// Why.
        message: String,
    },
    /// A feature could not be turned into tile geometry; `feature` names it.
    #[error("{layer} feature {feature}: {message}")]
    Feature {
        /// The layer.
        layer: String,
        /// The feature id.
        feature: String,
        /// What went wrong.
        message: String,
    },
}

impl Error {
    /// Shorthand for an [`Error::Io`].
    pub fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            error,
        }
    }

    /// Shorthand for an [`Error::Invalid`].
    pub fn invalid(what: impl Into<String>, message: impl ToString) -> Self {
        Error::Invalid {
            what: what.into(),
            message: message.to_string(),
        }
    }
}
