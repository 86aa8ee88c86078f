//! The one error type of `twin-core`: every variant names the input and the place.

use std::path::PathBuf;

/// Result alias used across `twin-core`.
pub type Result<T, E = TwinError> = std::result::Result<T, E>;

/// Everything that can go wrong while loading, reprojecting, indexing or storing a twin.
#[derive(Debug, thiserror::Error)]
pub enum TwinError {
    /// A file could not be read or written.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error (shown in the message, so not chained as a source).
        error: std::io::Error,
    },
    /// A source file is malformed; `place` says where (line, feature, record, byte offset...).
    #[error("{path}: {place}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where in the file (e.g. "line 12", "CityObjects.b1.geometry[0]", "point 1043").
        place: String,
        /// What is wrong.
        message: String,
    },
    /// A coordinate reference system is unknown or a transformation failed.
    #[error("CRS error ({crs}): {message}")]
    Crs {
        /// The CRS or transformation, e.g. "EPSG:9999" or "EPSG:4326 -> EPSG:32648".
        crs: String,
        /// What went wrong.
        message: String,
    },
    /// A value is out of range or inconsistent (NaN coordinates, negative sizes...).
    #[error("invalid {what}: {message}")]
    Invalid {
        /// What was invalid, e.g. "bbox" or "twin.toml field `crs`".
        what: String,
        /// Why.
        message: String,
    },
    /// The GeoPackage store failed; nothing of the failed transaction was written.
    #[error("store {path}: {message}")]
    Store {
        /// The store file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

impl TwinError {
    /// Shorthand for a [`TwinError::Parse`].
    pub fn parse(
        path: impl Into<PathBuf>,
        place: impl Into<String>,
        message: impl ToString,
    ) -> Self {
        TwinError::Parse {
            path: path.into(),
            place: place.into(),
            message: message.to_string(),
        }
    }

    /// Shorthand for a [`TwinError::Io`].
    pub fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        TwinError::Io {
            path: path.into(),
            error,
        }
    }

    /// Shorthand for a [`TwinError::Invalid`].
    pub fn invalid(what: impl Into<String>, message: impl ToString) -> Self {
        TwinError::Invalid {
            what: what.into(),
            message: message.to_string(),
        }
    }
}
