//! The one error type of `renderer`.

use scenarios::ScenarioError;

/// Result alias used across `renderer`.
pub type Result<T, E = RenderError> = std::result::Result<T, E>;

/// What can go wrong on the GPU side.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// No usable adapter (GPU or software rasteriser) was found.
    #[error("no usable GPU adapter: {0}")]
    NoAdapter(String),
    /// The adapter refused to open a device.
    #[error("GPU adapter {adapter}: cannot open a device: {message}")]
    Device {
        /// The adapter.
        adapter: String,
        /// Why.
        message: String,
    },
    /// A GPU operation failed (shader validation, buffer mapping, device lost...).
    #[error("GPU {what}: {message}")]
    Gpu {
        /// What was being done.
        what: String,
        /// What happened.
        message: String,
    },
    /// An input file (a result table, a raster, a twin) is missing or cannot be read; the message
    /// names the place in the file.
    #[error("{path}: {message}")]
    Input {
        /// The file or folder.
        path: std::path::PathBuf,
        /// What is wrong, and where.
        message: String,
    },
    /// The twin could not be read or reprojected.
    #[error(transparent)]
    Twin(#[from] twin_core::TwinError),
    /// A run's result files could not be read (`scenarios::output::RunDir`).
    #[error(transparent)]
    Run(#[from] ScenarioError),
    /// The input cannot be run on the GPU (too large for the adapter's limits...).
    #[error("invalid {what}: {message}")]
    Invalid {
        /// What.
        what: String,
        /// Why.
        message: String,
    },
}

impl RenderError {
    /// Shorthand for [`RenderError::Input`].
    pub fn input(path: impl Into<std::path::PathBuf>, message: impl ToString) -> Self {
        RenderError::Input {
            path: path.into(),
            message: message.to_string(),
        }
    }

    /// Shorthand for [`RenderError::Invalid`].
    pub fn invalid(what: impl Into<String>, message: impl ToString) -> Self {
        RenderError::Invalid {
            what: what.into(),
            message: message.to_string(),
        }
    }

    /// Shorthand for [`RenderError::Gpu`].
    pub fn gpu(what: impl Into<String>, message: impl ToString) -> Self {
        RenderError::Gpu {
            what: what.into(),
            message: message.to_string(),
        }
    }
}

impl From<RenderError> for ScenarioError {
    fn from(e: RenderError) -> Self {
        ScenarioError::Solver {
            solver: "gpu flood solver".into(),
            message: e.to_string(),
        }
    }
}
