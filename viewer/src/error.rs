//! The viewer's one error type.

use std::path::PathBuf;

/// Result with [`ViewerError`].
pub type Result<T, E = ViewerError> = std::result::Result<T, E>;

/// What can go wrong in the viewer, with the input and the place named.
#[derive(Debug, thiserror::Error)]
pub enum ViewerError {
    /// Opening or reading the twin.
    #[error("twin {path}: {source}")]
    Twin {
        /// The twin folder.
        path: PathBuf,
        /// What twin-core said.
        #[source]
        source: twin_core::TwinError,
    },
    /// Reading a run's results or building the scene.
    #[error("{input}: {source}")]
    Scene {
        /// What was being read (a run folder, the twin).
        input: String,
        /// What the renderer crate said.
        #[source]
        source: renderer::RenderError,
    },
    /// A value given by the user that cannot be used.
    #[error("{input}: {message}")]
    Invalid {
        /// The option or value.
        input: String,
        /// Why.
        message: String,
    },
    /// Writing a picture.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// Talking to a server: the request failed, or its answer is not what was asked for.
    #[error("{url}: {message}")]
    Http {
        /// The URL asked for.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The GPU side: no adapter, or the frame never came back.
    #[error("rendering: {0}")]
    Render(String),
}

impl ViewerError {
    /// A [`ViewerError::Invalid`].
    pub fn invalid(input: impl Into<String>, message: impl std::fmt::Display) -> ViewerError {
        ViewerError::Invalid {
            input: input.into(),
            message: message.to_string(),
        }
    }

    /// A [`ViewerError::Scene`] naming `input`.
    pub fn scene(input: impl std::fmt::Display, source: renderer::RenderError) -> ViewerError {
        ViewerError::Scene {
            input: input.to_string(),
            source,
        }
    }
}
