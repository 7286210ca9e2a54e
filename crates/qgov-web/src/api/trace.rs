//! Traceability endpoints: backward and forward traces, the recall scope, their FSMA 204-style
//! export, and sharing a recall scope with an enterprise. Answers come from the in-memory
//! index ([`crate::trace`]), caught up with the database before each request.

use super::body::JsonObject;
use crate::AppState;
use crate::auth::ApiCaller;
use crate::problem::ApiError;
use crate::tabular::{self, Format};
use crate::trace::{
    ScopeOut, TraceOut, Visibility, export_header, export_rows, parse_direction, parse_id, run_scope, run_trace,
    scope_ids, scope_out, trace_ids, trace_json, urn,
};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use qgov_domain::{FieldError, FieldErrors, UnifiedCreditCode};
use serde::Serialize;
use std::collections::HashMap;

fn param<'a>(p: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    p.get(name).map(String::as_str)
}

async fn visibility(s: &AppState, caller: &ApiCaller, shared_root: Option<&str>) -> Result<Visibility, ApiError> {
    Visibility::of(&s.store, caller.role(), caller.user.entity_id, shared_root).await
}

#[utoipa::path(get, path = "/api/v1/trace", tag = "trace",
    summary = "Trace an object backward (its origins) or forward (where it went)",
    description = "`id` is an EPC URN, a class/lot URN (`urn:epc:class:lgtin:…`) or a GS1 Digital Link. Node and location ids are answered in URN form. Edges point the way material flows. Enterprise accounts see only their own part of the chain (events they captured or that name their registered locations).",
    params(("id" = String, Query, description = "The identifier to trace"),
           ("direction" = Option<String>, Query, description = "backward (default) or forward")),
    responses((status = 200, body = TraceOut), (status = 401, body = crate::problem::Problem), (status = 404, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn trace(
    State(s): State<AppState>,
    caller: ApiCaller,
    Query(p): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let id = parse_id(param(&p, "id"))?;
    let direction = parse_direction(param(&p, "direction"))?;
    let vis = visibility(&s, &caller, None).await?;
    let t = {
        let ix = s.trace.current(&s.store).await?;
        run_trace(&ix, &id, direction, &vis)?
    };
    let reg = s.registers.current(&s.store).await?;
    // A `TraceOut` (the schema above), written directly: see `trace_json`.
    let body = trace_json(&t, &reg);
    // A recall-sized answer holds some ten thousand shared strings: free them beside the
    // response rather than before it (about 1 ms of a farm lot's forward trace at p99).
    if t.nodes.len() >= 1_000 {
        tokio::task::spawn_blocking(move || drop(t));
    }
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

#[utoipa::path(get, path = "/api/v1/trace/scope", tag = "trace",
    summary = "Recall scope: everything downstream of an object or lot",
    description = "Every downstream item and lot with its last known location (and its street and grid from the locations register), owner, disposition and quantity; the containers that carried them; the parties to notify. An enterprise sees its own part unless a regulator shared this scope with it.",
    params(("id" = String, Query, description = "The identifier (EPC URN, class/lot URN or Digital Link)")),
    responses((status = 200, body = ScopeOut), (status = 401, body = crate::problem::Problem), (status = 404, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn scope(
    State(s): State<AppState>,
    caller: ApiCaller,
    Query(p): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let id = parse_id(param(&p, "id"))?;
    let vis = visibility(&s, &caller, Some(&id)).await?;
    let sc = {
        let ix = s.trace.current(&s.store).await?;
        run_scope(&ix, &id, &vis)?
    };
    let reg = s.registers.current(&s.store).await?;
    let out = scope_out(&sc, &reg);
    let body = serde_json::to_vec(&out).expect("serialising to memory cannot fail");
    // A recall of ten thousand items is some hundred thousand small strings, twice over: free
    // them beside the response rather than before it (p50 5.7 ms of a farm lot's scope).
    if sc.items.len() >= 1_000 {
        tokio::task::spawn_blocking(move || drop((sc, out)));
    }
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// A trace or scope's records as an FSMA 204-style spreadsheet.
async fn export_file(
    s: &AppState,
    vis: &Visibility,
    ids: HashMap<String, Option<String>>,
    p: &HashMap<String, String>,
    name: &str,
) -> Result<Response, ApiError> {
    let format = match param(p, "format") {
        None => Format::Csv,
        Some(f) => Format::parse(f).ok_or_else(|| {
            ApiError::Invalid(FieldErrors(vec![FieldError {
                field: "format".into(),
                code: "invalid",
                message: "csv or xlsx".into(),
            }]))
        })?,
    };
    let english = param(p, "lang").is_some_and(|l| l.starts_with("en"));
    let reg = s.registers.current(&s.store).await?;
    let names: Vec<String> = ids.keys().cloned().collect();
    let stored = s.store.epcis_events_naming(&names).await?;
    let events: Vec<_> = stored.iter().filter_map(|e| e.to_event().ok().map(|(ev, _)| ev)).collect();
    let rows = export_rows(&events, &ids, &reg, vis);
    let bytes = tabular::write(format, &export_header(english), &rows).map_err(ApiError::Internal)?;
    let disposition = format!("attachment; filename=\"{name}.{}\"", format.extension());
    Ok(([(header::CONTENT_TYPE, format.content_type().to_owned()), (header::CONTENT_DISPOSITION, disposition)], bytes)
        .into_response())
}

/// The records of a trace as a spreadsheet (shared by the API and the console).
pub async fn trace_export(
    s: &AppState,
    role: qgov_domain::Role,
    entity: Option<i64>,
    p: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let id = parse_id(param(p, "id"))?;
    let direction = parse_direction(param(p, "direction"))?;
    let vis = Visibility::of(&s.store, role, entity, None).await?;
    let ids = {
        let ix = s.trace.current(&s.store).await?;
        trace_ids(&run_trace(&ix, &id, direction, &vis)?)
    };
    export_file(s, &vis, ids, p, "trace").await
}

/// The records of a recall scope as a spreadsheet (shared by the API and the console).
pub async fn scope_export(
    s: &AppState,
    role: qgov_domain::Role,
    entity: Option<i64>,
    p: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let id = parse_id(param(p, "id"))?;
    let vis = Visibility::of(&s.store, role, entity, Some(&id)).await?;
    let ids = {
        let ix = s.trace.current(&s.store).await?;
        scope_ids(&run_scope(&ix, &id, &vis)?)
    };
    export_file(s, &vis, ids, p, "recall-scope").await
}

#[utoipa::path(get, path = "/api/v1/trace/export", tag = "trace",
    summary = "A trace as an FSMA 204-style sortable spreadsheet",
    description = "One row per critical tracking event and object line: event time, CTE, event type, bizStep, action, traceability lot code, product GTIN and name (products register), identifier, quantity and unit, location GLN and name (locations register), source, destination, reference documents (bizTransactions), disposition, eventID. Chinese headings by default, English with `lang=en`.",
    params(("id" = String, Query, description = "The identifier"),
           ("direction" = Option<String>, Query, description = "backward (default) or forward"),
           ("format" = Option<String>, Query, description = "csv (default) or xlsx"),
           ("lang" = Option<String>, Query, description = "en for English headings")),
    responses((status = 200, description = "The file", content_type = "text/csv"), (status = 401, body = crate::problem::Problem), (status = 404, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn export(
    State(s): State<AppState>,
    caller: ApiCaller,
    Query(p): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    trace_export(&s, caller.role(), caller.user.entity_id, &p).await
}

#[utoipa::path(get, path = "/api/v1/trace/scope/export", tag = "trace",
    summary = "A recall scope as an FSMA 204-style sortable spreadsheet",
    description = "Same columns as the trace export, for every event of the scope's items and containers.",
    params(("id" = String, Query, description = "The identifier"),
           ("format" = Option<String>, Query, description = "csv (default) or xlsx"),
           ("lang" = Option<String>, Query, description = "en for English headings")),
    responses((status = 200, description = "The file", content_type = "text/csv"), (status = 401, body = crate::problem::Problem), (status = 404, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn export_scope(
    State(s): State<AppState>,
    caller: ApiCaller,
    Query(p): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    scope_export(&s, caller.role(), caller.user.entity_id, &p).await
}

/// A recall scope shared with an enterprise.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ShareOut {
    /// The root in URN form.
    pub id: String,
    /// The enterprise's unified social credit code.
    pub enterprise: String,
    #[serde(rename = "createdAt")]
    pub created_at: String,
}

#[utoipa::path(post, path = "/api/v1/trace/scope/shares", tag = "trace",
    summary = "Share a recall scope with an enterprise",
    description = "Body `{\"id\": <identifier>, \"enterprise\": <USCC>}`. Afterwards that enterprise may read the whole recall scope of `id` (and export it), not only its own part. Admins and regulators only.",
    request_body(content = serde_json::Value, content_type = "application/json"),
    responses((status = 201, body = ShareOut), (status = 401, body = crate::problem::Problem), (status = 403, body = crate::problem::Problem), (status = 404, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn share(
    State(s): State<AppState>,
    caller: ApiCaller,
    JsonObject(body): JsonObject,
) -> Result<(StatusCode, Json<ShareOut>), ApiError> {
    caller.require_editor()?;
    let id = parse_id(body.get("id").and_then(|v| v.as_str()))?;
    let uscc =
        body.get("enterprise").and_then(|v| v.as_str()).and_then(|u| UnifiedCreditCode::parse(u).ok()).ok_or_else(
            || {
                ApiError::Invalid(FieldErrors(vec![FieldError {
                    field: "enterprise".into(),
                    code: "invalid",
                    message: "the unified social credit code of a registered enterprise".into(),
                }]))
            },
        )?;
    let entity = s.store.entity_by_uscc(uscc.as_str()).await?;
    {
        // Share only what exists: a typo must not silently grant nothing.
        let ix = s.trace.current(&s.store).await?;
        run_scope(&ix, &id, &Visibility::All)?;
    }
    let share = s.store.trace_share(&caller.actor(), &id, entity.id, Some(caller.user.id)).await?;
    Ok((
        StatusCode::CREATED,
        Json(ShareOut { id: urn(&share.root), enterprise: entity.uscc, created_at: share.created_at }),
    ))
}

/// A recall scope and with whom it was shared.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SharesOut {
    /// The root in URN form.
    pub id: String,
    /// Oldest first.
    pub shares: Vec<ShareListed>,
}

/// One enterprise a recall scope was shared with, by whom and when.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ShareListed {
    /// The enterprise's unified social credit code.
    pub enterprise: String,
    /// Its name as registered now.
    pub name: String,
    /// The user who shared the scope (absent when no user did).
    #[serde(rename = "sharedBy")]
    pub shared_by: Option<String>,
    #[serde(rename = "createdAt")]
    pub created_at: String,
}

#[utoipa::path(get, path = "/api/v1/trace/scope/shares", tag = "trace",
    summary = "With whom a recall scope was shared",
    description = "The enterprises that may read the whole recall scope of `id`, who shared it with each and when, oldest first; an empty list when it was shared with no one. Staff only (admins, regulators, inspectors): an enterprise is not told with whom else a scope was shared.",
    params(("id" = String, Query, description = "The identifier (EPC URN, class/lot URN or Digital Link)")),
    responses((status = 200, body = SharesOut), (status = 401, body = crate::problem::Problem), (status = 403, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn shares(
    State(s): State<AppState>,
    caller: ApiCaller,
    Query(p): Query<HashMap<String, String>>,
) -> Result<Json<SharesOut>, ApiError> {
    caller.require_reader()?;
    let id = parse_id(param(&p, "id"))?;
    let shares = s
        .store
        .trace_shares(&id)
        .await?
        .into_iter()
        .map(|e| ShareListed {
            enterprise: e.uscc,
            name: e.entity_name,
            shared_by: e.shared_by,
            created_at: e.shared_at,
        })
        .collect();
    Ok(Json(SharesOut { id: urn(&id), shares }))
}
