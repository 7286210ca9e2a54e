//! Request bodies: JSON objects read as named text fields (so the API shares the one
//! parse path of forms and imports), with every rejection as problem+json.

use crate::problem::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use qgov_domain::FieldErrors;
use serde_json::{Map, Value};

/// A JSON object body. Malformed JSON, a non-object body, a wrong content type or an
/// oversize body are refused with a problem that says which.
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let ct = req.headers().get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !ct.starts_with("application/json") && !ct.contains("+json") {
            return Err(ApiError::UnsupportedMediaType(format!(
                "send the body as JSON with `Content-Type: application/json` (got {:?})",
                ct
            )));
        }
        let bytes = read_limited(req, state, crate::MAX_JSON_BYTES).await?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(m)) => Ok(JsonObject(m)),
            Ok(_) => Err(ApiError::BadRequest("the body must be a JSON object".into())),
            Err(e) => {
                Err(ApiError::BadRequest(format!("malformed JSON at line {}, column {}: {e}", e.line(), e.column())))
            }
        }
    }
}

/// Read the whole body, refusing more than `limit` bytes with 413.
pub async fn read_limited<S: Send + Sync>(req: Request, state: &S, limit: usize) -> Result<Bytes, ApiError> {
    let bytes = Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(format!("the body is larger than the limit of {} bytes", crate::MAX_BODY_BYTES))
        } else {
            ApiError::BadRequest(format!("could not read the body: {e}"))
        }
    })?;
    if bytes.len() > limit {
        return Err(ApiError::PayloadTooLarge(format!(
            "the body is {} bytes; the limit here is {limit} bytes",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// Turn a JSON object into text fields: strings as they are, numbers printed, arrays
/// of strings joined with `;`, `null` as absent. Other types are field errors.
pub fn fields_from_json(
    m: &Map<String, Value>,
    allowed: &[&str],
) -> Result<std::collections::HashMap<String, String>, ApiError> {
    let mut errs = FieldErrors::new();
    let mut out = std::collections::HashMap::new();
    for (k, v) in m {
        if !allowed.contains(&k.as_str()) {
            errs.push(k, "unknown-field", format!("unknown field; expected some of: {}", allowed.join(", ")));
            continue;
        }
        let text = match v {
            Value::Null => continue,
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Array(items) if items.iter().all(Value::is_string) => {
                items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(";")
            }
            _ => {
                errs.push(k, "wrong-type", "must be a string (or a list of strings)");
                continue;
            }
        };
        out.insert(k.clone(), text);
    }
    errs.into_result(out).map_err(ApiError::Invalid)
}
