//! Errors as RFC 9457 problem details (`application/problem+json`): status, title,
//! detail and, for validation failures, per-field `errors`. One error type for the
//! whole HTTP layer; 5xx causes are logged, never shown.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use qgov_domain::FieldErrors;
use qgov_store::{RowError, StoreError};
use serde::Serialize;

/// One invalid field of a request body.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProblemField {
    /// The field (JSON member or import column).
    pub field: String,
    /// Stable machine-readable reason.
    pub code: String,
    pub message: String,
    /// Data row of an import (row 2 is the first row after the header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<usize>,
}

/// RFC 9457 problem details.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
}

/// The HTTP layer's error.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("authentication required")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("validation failed")]
    Invalid(FieldErrors),
    #[error("import refused: {} bad row(s), nothing was stored", .0.len())]
    InvalidRows(Vec<RowError>),
    #[error("too many attempts; try again in {0} seconds")]
    TooManyRequests(u64),
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Invalid(_) | ApiError::InvalidRows(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn to_problem(&self) -> Problem {
        let status = self.status();
        let (detail, errors) = match self {
            ApiError::Invalid(fe) => (
                format!("{} field(s) are invalid: {fe}", fe.0.len()),
                fe.0.iter()
                    .map(|e| ProblemField {
                        field: e.field.clone(),
                        code: e.code.into(),
                        message: e.message.clone(),
                        row: None,
                    })
                    .collect(),
            ),
            ApiError::InvalidRows(rows) => (
                self.to_string(),
                rows.iter()
                    .map(|e| ProblemField {
                        field: e.column.clone(),
                        code: e.code.clone(),
                        message: e.reason.clone(),
                        row: Some(e.row),
                    })
                    .collect(),
            ),
            ApiError::Internal(_) => ("the server failed to handle the request; it has been logged".into(), vec![]),
            ApiError::Unauthorized => {
                ("send `Authorization: Bearer <token>` (create one with `qgov token create`)".into(), vec![])
            }
            other => (other.to_string(), vec![]),
        };
        Problem {
            type_: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            detail,
            errors,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            tracing::error!(%cause, "request failed");
        }
        let status = self.status();
        let mut res = (status, axum::Json(self.to_problem())).into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let ApiError::Unauthorized = self {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let ApiError::TooManyRequests(secs) = self {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Conflict { field, value } => ApiError::Conflict(format!("{field} {value:?} already exists")),
            StoreError::Invalid(fe) => ApiError::Invalid(fe),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<FieldErrors> for ApiError {
    fn from(e: FieldErrors) -> Self {
        ApiError::Invalid(e)
    }
}
