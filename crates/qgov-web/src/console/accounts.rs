//! The audit trail (read and verify), the user's own API tokens, and user
//! administration for admins.

use super::home::AuditLine;
use super::links;
use super::widgets::{FieldView, InputKind};
use super::{Chrome, Failure, OrFail, PageResult, Signed, render};
use crate::AppState;
use crate::api::accounts::new_user_from_fields;
use crate::i18n::Tr;
use crate::problem::ApiError;
use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use qgov_domain::{FieldErrors, Role};
use qgov_store::{Actor, ApiToken, Department, ListQuery, StoreError};
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/audit", get(audit))
        .route("/console/audit/verify", get(audit_verify))
        .route("/console/tokens", get(tokens).post(create_token))
        .route("/console/tokens/{id}/revoke", post(revoke_token))
        .route("/console/users", get(users).post(create_user))
        .route("/console/users/{id}/active", post(set_active))
}

const AUDIT_PAGE: i64 = 50;

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    c: Chrome,
    t: Tr,
    lines: Vec<AuditLine>,
    prev: Option<String>,
    next: Option<String>,
    /// (intact, message) after a verification.
    verdict: Option<(bool, String)>,
}

async fn audit_page(s: &AppState, who: &Signed, page: i64, verdict: Option<(bool, String)>) -> PageResult {
    let t = who.t;
    if !who.role().can_read_audit() {
        return Err(Failure::forbidden(t));
    }
    let records = s.store.audit_recent(AUDIT_PAGE + 1, (page - 1) * AUDIT_PAGE).await.or_fail(t)?;
    let more = records.len() as i64 > AUDIT_PAGE;
    let lines = records.into_iter().take(AUDIT_PAGE as usize).map(|r| AuditLine::new(t, r)).collect();
    let href =
        |p: i64| links::with_query("/console/audit", &[("page", &if p > 1 { p.to_string() } else { String::new() })]);
    let page = AuditPage {
        c: who.chrome(t.get("nav-audit")),
        t,
        lines,
        prev: (page > 1).then(|| href(page - 1)),
        next: more.then(|| href(page + 1)),
        verdict,
    };
    Ok(render(StatusCode::OK, &page))
}

fn page_param(p: &HashMap<String, String>) -> i64 {
    p.get("page").and_then(|v| v.parse::<i64>().ok()).filter(|n| *n >= 1).unwrap_or(1)
}

async fn audit(State(s): State<AppState>, who: Signed, Query(p): Query<HashMap<String, String>>) -> PageResult {
    audit_page(&s, &who, page_param(&p), None).await
}

/// Walk the whole chain (read-only, so a plain GET).
async fn audit_verify(State(s): State<AppState>, who: Signed) -> PageResult {
    let t = who.t;
    if !who.role().can_read_audit() {
        return Err(Failure::forbidden(t));
    }
    let verdict = match s.store.audit_verify().await.or_fail(t)? {
        Ok(v) => {
            (true, format!("{} {}", t.arg("audit-intact", "count", v.count), t.arg("audit-head", "hash", &v.head_hash)))
        }
        Err(b) => (false, format!("{} {b}", t.get("audit-broken"))),
    };
    audit_page(&s, &who, 1, Some(verdict)).await
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    c: Chrome,
    t: Tr,
    csrf: String,
    tokens: Vec<ApiToken>,
    /// The secret of a token just created (shown this once).
    secret: Option<String>,
    name: FieldView,
}

async fn tokens_page(
    s: &AppState,
    who: &Signed,
    status: StatusCode,
    secret: Option<String>,
    name: FieldView,
) -> PageResult {
    let t = who.t;
    let tokens = s.store.list_tokens(who.user.id).await.or_fail(t)?;
    Ok(render(
        status,
        &TokensPage { c: who.chrome(t.get("nav-tokens")), t, csrf: who.csrf.clone(), tokens, secret, name },
    ))
}

fn token_name_field(t: Tr, value: &str) -> FieldView {
    let mut f = FieldView::text(t, "token_name", value);
    f.required = true;
    f.maxlength = Some(100);
    f
}

async fn tokens(State(s): State<AppState>, who: Signed) -> PageResult {
    tokens_page(&s, &who, StatusCode::OK, None, token_name_field(who.t, "")).await
}

async fn create_token(State(s): State<AppState>, who: Signed, Form(f): Form<HashMap<String, String>>) -> PageResult {
    let t = who.t;
    who.check_csrf(f.get("csrf"))?;
    let name = f.get("token_name").map(|n| n.trim().to_owned()).unwrap_or_default();
    if name.is_empty() || name.chars().count() > 100 {
        let mut e = FieldErrors::new();
        e.push("token_name", if name.is_empty() { "required" } else { "too-long" }, "1 to 100 characters");
        let field = token_name_field(t, &name).with_errors(t, &e);
        return tokens_page(&s, &who, StatusCode::UNPROCESSABLE_ENTITY, None, field).await;
    }
    let (_, secret) = s.store.create_token(&Actor::user(&who.user.username), who.user.id, &name).await.or_fail(t)?;
    tokens_page(&s, &who, StatusCode::OK, Some(secret), token_name_field(t, "")).await
}

async fn revoke_token(
    State(s): State<AppState>,
    who: Signed,
    Path(id): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let t = who.t;
    who.check_csrf(f.get("csrf"))?;
    let id: i64 = id.parse().map_err(|_| Failure::not_found(t))?;
    s.store.revoke_token(&Actor::user(&who.user.username), who.user.id, id).await.or_fail(t)?;
    Ok(Redirect::to("/console/tokens").into_response())
}

/// A user as listed.
struct UserRow {
    id: i64,
    /// The signed-in admin's own row (no deactivate button: admins cannot lock themselves out).
    is_self: bool,
    username: String,
    role: String,
    department: String,
    entity: String,
    active: bool,
    created_at: String,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    c: Chrome,
    t: Tr,
    csrf: String,
    users: Vec<UserRow>,
    fields: Vec<FieldView>,
    created: Option<String>,
}

async fn all_departments(s: &AppState, t: Tr) -> Result<Vec<Department>, Failure> {
    let q = ListQuery { per_page: 500, sort: Some("code".into()), ..Default::default() };
    Ok(s.store.list::<Department>(&q).await.or_fail(t)?.items)
}

async fn users_page(
    s: &AppState,
    who: &Signed,
    status: StatusCode,
    values: &HashMap<String, String>,
    errors: &FieldErrors,
    created: Option<String>,
) -> PageResult {
    let t = who.t;
    if !who.role().is_admin() {
        return Err(Failure::forbidden(t));
    }
    let depts = all_departments(s, t).await?;
    let dept_name =
        |id: Option<i64>| depts.iter().find(|d| Some(d.id) == id).map(|d| d.name.clone()).unwrap_or_default();
    let mut users = vec![];
    for u in s.store.list_users().await.or_fail(t)? {
        let entity = match u.entity_id {
            Some(id) => s.store.entity(id).await.map(|e| format!("{} {}", e.uscc, e.name)).unwrap_or_default(),
            None => String::new(),
        };
        users.push(UserRow {
            id: u.id,
            is_self: u.id == who.user.id,
            role: t.value("role", u.role.as_str()),
            department: dept_name(u.department_id),
            entity,
            active: u.active,
            created_at: u.created_at.get(..10).unwrap_or(&u.created_at).to_owned(),
            username: u.username,
        });
    }
    let v = |k: &str| values.get(k).map(String::as_str).unwrap_or("");
    let mut username = FieldView::text(t, "username", v("username"));
    username.required = true;
    username.maxlength = Some(60);
    let mut password = FieldView::text(t, "password", "");
    password.kind = InputKind::Password;
    password.required = true;
    password.hint = Some(t.get("hint-password"));
    let mut role = FieldView::text(t, "role", v("role"));
    role.kind = InputKind::Select;
    role.required = true;
    role.options = Role::ALL.iter().map(|r| (r.as_str().to_owned(), t.value("role", r.as_str()))).collect();
    let mut enterprise = FieldView::text(t, "enterprise", v("enterprise"));
    enterprise.maxlength = Some(18);
    enterprise.hint = Some(t.get("hint-enterprise"));
    let mut department = FieldView::text(t, "department", v("department"));
    department.kind = InputKind::Select;
    department.options = std::iter::once((String::new(), t.get("option-none")))
        .chain(depts.iter().map(|d| (d.code.clone(), d.name.clone())))
        .collect();
    let fields =
        [username, password, role, enterprise, department].into_iter().map(|f| f.with_errors(t, errors)).collect();
    let page = UsersPage { c: who.chrome(t.get("nav-users")), t, csrf: who.csrf.clone(), users, fields, created };
    Ok(render(status, &page))
}

async fn users(State(s): State<AppState>, who: Signed) -> PageResult {
    users_page(&s, &who, StatusCode::OK, &HashMap::new(), &FieldErrors::new(), None).await
}

/// Activate or deactivate an account (admins; never one's own).
async fn set_active(
    State(s): State<AppState>,
    who: Signed,
    Path(id): Path<i64>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let t = who.t;
    who.check_csrf(f.get("csrf"))?;
    if !who.role().is_admin() {
        return Err(Failure::forbidden(t));
    }
    let active = f.get("active").map(String::as_str) == Some("1");
    if !active && id == who.user.id {
        return Err(Failure::new(t, StatusCode::BAD_REQUEST).with_detail(t.get("users-cannot-deactivate-self")));
    }
    let u = s.store.set_user_active(&Actor::user(&who.user.username), id, active).await.or_fail(t)?;
    let key = if active { "user-activated" } else { "user-deactivated" };
    users_page(&s, &who, StatusCode::OK, &HashMap::new(), &FieldErrors::new(), Some(t.arg(key, "name", &u.username)))
        .await
}

async fn create_user(State(s): State<AppState>, who: Signed, Form(f): Form<HashMap<String, String>>) -> PageResult {
    let t = who.t;
    who.check_csrf(f.get("csrf"))?;
    if !who.role().is_admin() {
        return Err(Failure::forbidden(t));
    }
    let errors = match new_user_from_fields(&s, &|k| f.get(k).cloned()).await {
        Ok(new) => match s.store.create_user(&Actor::user(&who.user.username), &new).await {
            Ok(u) => {
                let msg = t.arg("user-created", "name", &u.username);
                return users_page(&s, &who, StatusCode::OK, &HashMap::new(), &FieldErrors::new(), Some(msg)).await;
            }
            Err(StoreError::Conflict { value, .. }) => {
                let mut e = FieldErrors::new();
                e.push("username", "exists", format!("{value} already exists"));
                e
            }
            Err(StoreError::Invalid(e)) => e,
            Err(other) => return Err(Failure::internal(t, other)),
        },
        Err(ApiError::Invalid(e)) => e,
        Err(other) => return Err(Failure::from_api(t, other)),
    };
    users_page(&s, &who, StatusCode::UNPROCESSABLE_ENTITY, &f, &errors, None).await
}
