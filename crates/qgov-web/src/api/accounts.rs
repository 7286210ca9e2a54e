//! The calling account, its API tokens, user administration and the audit trail.

use super::body::{JsonObject, fields_from_json};
use crate::AppState;
use crate::auth::ApiCaller;
use crate::problem::ApiError;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use qgov_domain::{FieldErrors, Role};
use qgov_store::{ApiToken, NewUser, User};
use serde::{Deserialize, Serialize};

/// The calling account.
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts",
    responses((status = 200, body = User), (status = 401, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn me(caller: ApiCaller) -> Json<User> {
    Json(caller.user)
}

/// The caller's API tokens (secrets are never shown again).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "accounts",
    responses((status = 200, body = Vec<ApiToken>), (status = 401, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn list_tokens(State(s): State<AppState>, caller: ApiCaller) -> Result<Json<Vec<ApiToken>>, ApiError> {
    Ok(Json(s.store.list_tokens(caller.user.id).await?))
}

/// A newly created token, with its secret shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    pub token: ApiToken,
    /// The bearer secret. Store it now: only its hash is kept.
    pub secret: String,
}

/// Create another token for the calling account (`{"name": "…"}`).
#[utoipa::path(post, path = "/api/v1/tokens", tag = "accounts",
    request_body(content = serde_json::Value, content_type = "application/json", example = json!({"name": "erp"})),
    responses((status = 201, body = CreatedToken), (status = 401, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn create_token(
    State(s): State<AppState>,
    caller: ApiCaller,
    body: JsonObject,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let f = fields_from_json(&body.0, &["name"])?;
    let name = f.get("name").map(|n| n.trim().to_owned()).filter(|n| !n.is_empty() && n.len() <= 100);
    let Some(name) = name else {
        let mut e = FieldErrors::new();
        e.push("name", "required", "is required (1 to 100 characters)");
        return Err(e.into());
    };
    let (token, secret) = s.store.create_token(&caller.actor(), caller.user.id, &name).await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { token, secret })))
}

/// Revoke one of the caller's tokens.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "accounts",
    params(("id" = i64, Path, description = "Token id")),
    responses((status = 200, body = ApiToken), (status = 401, body = crate::problem::Problem), (status = 404, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn revoke_token(
    State(s): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<i64>,
) -> Result<Json<ApiToken>, ApiError> {
    Ok(Json(s.store.revoke_token(&caller.actor(), caller.user.id, id).await?))
}

/// All accounts (admin only).
#[utoipa::path(get, path = "/api/v1/users", tag = "accounts",
    responses((status = 200, body = Vec<User>), (status = 401, body = crate::problem::Problem), (status = 403, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn list_users(State(s): State<AppState>, caller: ApiCaller) -> Result<Json<Vec<User>>, ApiError> {
    caller.require_admin()?;
    Ok(Json(s.store.list_users().await?))
}

/// Create an account (admin only): `username`, `password`, `role`, and `enterprise`
/// (credit code) for enterprise accounts or `department` (code) for staff.
#[utoipa::path(post, path = "/api/v1/users", tag = "accounts",
    request_body(content = serde_json::Value, content_type = "application/json",
        example = json!({"username": "inspector7", "password": "a long passphrase", "role": "inspector", "department": "amr"})),
    responses((status = 201, body = User), (status = 401, body = crate::problem::Problem), (status = 403, body = crate::problem::Problem),
        (status = 409, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn create_user(
    State(s): State<AppState>,
    caller: ApiCaller,
    body: JsonObject,
) -> Result<(StatusCode, Json<User>), ApiError> {
    caller.require_admin()?;
    let f = fields_from_json(&body.0, &["username", "password", "role", "enterprise", "department"])?;
    let new = new_user_from_fields(&s, &|k| f.get(k).cloned()).await?;
    Ok((StatusCode::CREATED, Json(s.store.create_user(&caller.actor(), &new).await?)))
}

/// Validate account fields and resolve the entity / department they name (shared by
/// the API and the console).
pub async fn new_user_from_fields(
    s: &AppState,
    f: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<NewUser, ApiError> {
    let mut e = FieldErrors::new();
    let text = |k: &str| f(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let username = text("username").unwrap_or_default();
    let password = f("password").unwrap_or_default();
    let role = match text("role").map(|r| r.parse::<Role>()) {
        Some(Ok(r)) => Some(r),
        Some(Err(err)) => {
            e.push("role", "unknown-value", err.to_string());
            None
        }
        None => {
            e.push("role", "required", "is required: admin, regulator, inspector or enterprise");
            None
        }
    };
    let mut entity_id = None;
    if let Some(code) = text("enterprise") {
        match s.store.entity_by_uscc(&code.to_ascii_uppercase()).await {
            Ok(ent) => entity_id = Some(ent.id),
            Err(qgov_store::StoreError::NotFound) => {
                e.push("enterprise", "unknown-entity", format!("no market entity with credit code {code}"))
            }
            Err(other) => return Err(other.into()),
        }
    }
    let mut department_id = None;
    if let Some(code) = text("department") {
        match s.store.department_by_code(&code).await {
            Ok(d) => department_id = Some(d.id),
            Err(qgov_store::StoreError::NotFound) => {
                e.push("department", "unknown-department", format!("no department with code {code:?}"))
            }
            Err(other) => return Err(other.into()),
        }
    }
    if role == Some(Role::Enterprise) && entity_id.is_none() && e.get("enterprise").is_none() {
        e.push("enterprise", "required", "an enterprise account must name its market entity's credit code");
    }
    match role {
        Some(role) if e.is_empty() => Ok(NewUser { username, password, role, department_id, entity_id }),
        _ => Err(e.into()),
    }
}

/// Activate or deactivate an account (admin only): `{"active": false}`. A deactivated
/// account's sessions and tokens stop working at once. Admins cannot deactivate
/// themselves.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "accounts",
    params(("id" = i64, Path, description = "User id")),
    request_body(content = serde_json::Value, content_type = "application/json", example = json!({"active": false})),
    responses((status = 200, body = User), (status = 401, body = crate::problem::Problem), (status = 403, body = crate::problem::Problem),
        (status = 404, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn patch_user(
    State(s): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<i64>,
    body: JsonObject,
) -> Result<Json<User>, ApiError> {
    caller.require_admin()?;
    let mut e = FieldErrors::new();
    for k in body.0.keys().filter(|k| k.as_str() != "active") {
        e.push(k, "unknown-field", "unknown field; expected: active");
    }
    let active = body.0.get("active").and_then(serde_json::Value::as_bool);
    if active.is_none() {
        e.push("active", "wrong-type", "must be true or false");
    }
    if active == Some(false) && id == caller.user.id {
        e.push("active", "self", "you cannot deactivate your own account");
    }
    match active {
        Some(active) if e.is_empty() => Ok(Json(s.store.set_user_active(&caller.actor(), id, active).await?)),
        _ => Err(e.into()),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AuditParams {
    /// Page size (default 50, at most 500).
    limit: Option<i64>,
    offset: Option<i64>,
}

/// One audit record.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
    pub hash: String,
}

/// The newest audit records (admin, regulator).
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditParams),
    responses((status = 200, body = Vec<AuditEntry>), (status = 401, body = crate::problem::Problem), (status = 403, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn audit_list(
    State(s): State<AppState>,
    caller: ApiCaller,
    Query(p): Query<AuditParams>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    if !caller.role().can_read_audit() {
        return Err(ApiError::Forbidden("the audit trail is for admins and regulators"));
    }
    let records = s.store.audit_recent(p.limit.unwrap_or(50).clamp(1, 500), p.offset.unwrap_or(0).max(0)).await?;
    Ok(Json(
        records
            .into_iter()
            .map(|r| AuditEntry {
                seq: r.seq,
                at: r.at,
                actor: r.actor,
                action: r.action,
                target_type: r.target_type,
                target_id: r.target_id,
                before: serde_json::from_str(&r.before).unwrap_or_default(),
                after: serde_json::from_str(&r.after).unwrap_or_default(),
                hash: r.hash,
            })
            .collect(),
    ))
}

/// Result of a full chain check.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditVerification {
    pub intact: bool,
    pub records: Option<i64>,
    pub head_hash: Option<String>,
    /// The first broken record, when the chain is not intact.
    pub error: Option<String>,
}

/// Verify the whole audit chain (admin, regulator).
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit",
    responses((status = 200, body = AuditVerification), (status = 401, body = crate::problem::Problem), (status = 403, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn audit_verify(State(s): State<AppState>, caller: ApiCaller) -> Result<Json<AuditVerification>, ApiError> {
    if !caller.role().can_read_audit() {
        return Err(ApiError::Forbidden("the audit trail is for admins and regulators"));
    }
    Ok(Json(match s.store.audit_verify().await? {
        Ok(v) => AuditVerification { intact: true, records: Some(v.count), head_hash: Some(v.head_hash), error: None },
        Err(b) => AuditVerification { intact: false, records: None, head_hash: None, error: Some(b.to_string()) },
    }))
}
