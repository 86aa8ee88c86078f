//! The server's error responses: every failure is a JSON body `{"error": {"status", "code",
//! "message"}}` with an HTTP status that fits.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// An error answered to a client.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, for the client.
    pub message: String,
}

/// The JSON body of an error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The details of an error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// The HTTP status code, repeated.
    pub status: u16,
    /// A short machine-readable code (`bad_request`, `not_found`, `payload_too_large`...).
    pub code: String,
    /// A message naming the input at fault.
    pub message: String,
}

impl ApiError {
    /// An error with a status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// 400: the request is malformed (bad bbox, NaN, over-large limit...).
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404: no such layer, feature or tile.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    /// 500: a failure on the server's side (logged).
    pub fn internal(message: impl Into<String>) -> ApiError {
        let message = message.into();
        tracing::error!("internal error: {message}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// The JSON body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                status: self.status.as_u16(),
                code: code(self.status),
                message: self.message.clone(),
            },
        }
    }
}

/// A snake_case code for a status (`not_found`, `bad_request`...).
pub fn code(status: StatusCode) -> String {
    status
        .canonical_reason()
        .unwrap_or("error")
        .to_ascii_lowercase()
        .replace(['-', ' '], "_")
        .replace('\'', "")
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.body()).unwrap_or_else(|_| b"{}".to_vec());
        let mut r = (self.status, body).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }
}

impl From<twin_core::TwinError> for ApiError {
    fn from(e: twin_core::TwinError) -> Self {
        match e {
            // Invalid input reaching the index (non-finite point, bad radius): the client's fault.
            twin_core::TwinError::Invalid { .. } => ApiError::bad_request(e.to_string()),
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl From<scenarios::ScenarioError> for ApiError {
    fn from(e: scenarios::ScenarioError) -> Self {
        match e {
            // A run stopped on request: the request met a run in the wrong state.
            scenarios::ScenarioError::Cancelled => {
                ApiError::new(StatusCode::CONFLICT, e.to_string())
            }
            // The run queue or object storage unreachable: try again later.
            scenarios::ScenarioError::Queue { .. } | scenarios::ScenarioError::Objects { .. } => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
            }
            // Stored results that cannot be read, an engine that failed: the server's side.
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl From<tiles3d::Error> for ApiError {
    fn from(e: tiles3d::Error) -> Self {
        match e {
            tiles3d::Error::Twin(t) => t.into(),
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::internal(format!("a background task failed: {e}"))
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> Self {
        ApiError::internal(format!("JSON: {e}"))
    }
}
