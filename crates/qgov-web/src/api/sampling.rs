//! Supervision sampling under `/api/v1/sampling/…` and the public results under
//! `/api/v1/public/sampling-results`. Staff (admin, regulator, inspector) read; admins and
//! regulators write. An enterprise account sees only samples where it is the sampled unit or the
//! named producer (another's is 404) and uploads rectification evidence only for an order
//! addressed to it. A task's draw is public once committed: commitment first, seed and result
//! after the reveal, so anyone can recompute it with `qgov draw verify`.

use super::body::{JsonObject, fields_from_json};
use crate::AppState;
use crate::auth::ApiCaller;
use crate::problem::ApiError;
use crate::tabular::{self, Format};
use axum::Json;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use qgov_domain::{FieldErrors, Role};
use qgov_sampling::deadline::{self, DeadlineRule};
use qgov_sampling::draw::CreditRiskClass;
use qgov_sampling::judgement::{Limit, Measured, Measurement};
use qgov_sampling::workflow::{EventKind, Outcome};
use qgov_store::sampling::drafts::{
    self, CheckItemDraft, EvidenceDraft, PlanDraft, PublicationDraft, SampleDraft, TaskDraft,
};
use qgov_store::sampling::{
    CheckItem, DrawRecord, EventInput, OverdueStep, PublicQuery, PublishedResult, Refused, Sample, SampleQuery,
    SampleSummary, SamplingFigures, SamplingPlan, SamplingTask,
};
use serde_json::Value;
use std::collections::HashMap;

type Params = Query<HashMap<String, String>>;

fn text_fields(body: &JsonObject, allowed: &[&str]) -> Result<impl Fn(&str) -> Option<String> + use<>, ApiError> {
    let f = fields_from_json(&body.0, allowed)?;
    Ok(move |k: &str| f.get(k).cloned())
}

fn refused(r: Refused) -> ApiError {
    ApiError::Conflict(r.reason)
}

fn number(params: &HashMap<String, String>, name: &str, default: i64) -> Result<i64, ApiError> {
    match params.get(name) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| ApiError::BadRequest(format!("{name} must be a whole number, got {v:?}"))),
    }
}

fn only(params: &HashMap<String, String>, allowed: &[&str]) -> Result<(), ApiError> {
    match params.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(ApiError::BadRequest(format!(
            "unknown query parameter {k:?}; expected some of: {}",
            allowed.join(", ")
        ))),
        None => Ok(()),
    }
}

/// A sample an enterprise caller may see: its own as sampled unit or named producer.
async fn visible_sample(s: &AppState, caller: &ApiCaller, id: i64) -> Result<Sample, ApiError> {
    let sample = s.store.sample(id).await?;
    if let Some(own) = caller.own_entity()
        && sample.sampled_entity_id != own
        && sample.producer_entity_id != Some(own)
    {
        return Err(ApiError::NotFound);
    }
    Ok(sample)
}

// ---------------------------------------------------------------- the list

/// The spot-check item list (随机抽查事项清单).
#[utoipa::path(get, path = "/api/v1/sampling/check-items", tag = "sampling",
    responses((status = 200, body = Vec<CheckItem>), (status = 401, body = crate::problem::Problem), (status = 403, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn list_check_items(State(s): State<AppState>, caller: ApiCaller) -> Result<Json<Vec<CheckItem>>, ApiError> {
    caller.require_reader()?;
    Ok(Json(s.store.list_check_items().await?))
}

/// Add a check item: code, name, sub_items, legal_basis, authority, object_type, ratio, frequency,
/// method (written|on_site|online), inspector_requirements, category (general|key), remarks.
#[utoipa::path(post, path = "/api/v1/sampling/check-items", tag = "sampling",
    request_body(content = Value, content_type = "application/json"),
    responses((status = 201, body = CheckItem), (status = 403, body = crate::problem::Problem), (status = 409, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn create_check_item(
    State(s): State<AppState>,
    caller: ApiCaller,
    body: JsonObject,
) -> Result<(StatusCode, Json<CheckItem>), ApiError> {
    caller.require_editor()?;
    let d = CheckItemDraft::parse(&text_fields(&body, CheckItemDraft::COLUMNS)?)?;
    Ok((StatusCode::CREATED, Json(s.store.create_check_item(&caller.actor(), &d).await?)))
}

/// One check item.
#[utoipa::path(get, path = "/api/v1/sampling/check-items/{id}", tag = "sampling",
    params(("id" = i64, Path, description = "Check item id")),
    responses((status = 200, body = CheckItem), (status = 403, body = crate::problem::Problem), (status = 404, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn get_check_item(
    State(s): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<i64>,
) -> Result<Json<CheckItem>, ApiError> {
    caller.require_reader()?;
    Ok(Json(s.store.check_item(id).await?))
}

/// Change a check item (members present replace the current values).
#[utoipa::path(patch, path = "/api/v1/sampling/check-items/{id}", tag = "sampling",
    params(("id" = i64, Path, description = "Check item id")),
    request_body(content = Value, content_type = "application/json"),
    responses((status = 200, body = CheckItem), (status = 403, body = crate::problem::Problem), (status = 404, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn patch_check_item(
    State(s): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<i64>,
    body: JsonObject,
) -> Result<Json<CheckItem>, ApiError> {
    caller.require_editor()?;
    let current = s.store.check_item(id).await?;
    let mut fields = super::registers::record_fields(&current, CheckItemDraft::COLUMNS);
    fields.extend(fields_from_json(&body.0, CheckItemDraft::COLUMNS)?);
    let d = CheckItemDraft::parse(&|k: &str| fields.get(k).cloned())?;
    Ok(Json(s.store.update_check_item(&caller.actor(), id, &d).await?))
}

/// Record an entity's credit risk class: `{"uscc", "class": "A".."D", "since": "YYYY-MM-DD", "reason"}`.
#[utoipa::path(post, path = "/api/v1/sampling/credit-classes", tag = "sampling",
    request_body(content = Value, content_type = "application/json"),
    responses((status = 204, description = "Recorded"), (status = 403, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn set_credit_class(
    State(s): State<AppState>,
    caller: ApiCaller,
    body: JsonObject,
) -> Result<StatusCode, ApiError> {
    caller.require_editor()?;
    let f = fields_from_json(&body.0, &["uscc", "class", "since", "reason"])?;
    let mut e = FieldErrors::new();
    let class = f.get("class").and_then(|c| c.parse::<CreditRiskClass>().ok());
    if class.is_none() {
        e.push("class", "unknown-value", "must be A, B, C or D");
    }
    let since = f.get("since").map(|d| qgov_sampling::calendar::parse_date(d));
    let since = match since {
        Some(Ok(d)) => Some(d),
        Some(Err(m)) => {
            e.push("since", "bad-date", m);
            None
        }
        None => Some(deadline::local_date(time::OffsetDateTime::now_utc())),
    };
    let entity = match f.get("uscc") {
        Some(u) => s.store.entity_by_uscc(u).await.ok(),
        None => None,
    };
    if entity.is_none() {
        e.push("uscc", "unknown-entity", "no market entity with this credit code");
    }
    let (Some(class), Some(since), Some(entity)) = (class, since, entity) else { return Err(e.into()) };
    s.store.set_credit_class(&caller.actor(), entity.id, class, since, f.get("reason").map(String::as_str)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Declare an inspector's conflict of interest with an entity: `{"inspector_id", "uscc", "reason"}`.
#[utoipa::path(post, path = "/api/v1/sampling/conflicts", tag = "sampling",
    request_body(content = Value, content_type = "application/json"),
    responses((status = 204, description = "Recorded"), (status = 403, body = crate::problem::Problem), (status = 409, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn declare_conflict(
    State(s): State<AppState>,
    caller: ApiCaller,
    body: JsonObject,
) -> Result<StatusCode, ApiError> {
    caller.require_editor()?;
    let f = fields_from_json(&body.0, &["inspector_id", "uscc", "reason"])?;
    let mut e = FieldErrors::new();
    let inspector = f.get("inspector_id").and_then(|v| v.parse::<i64>().ok());
    if inspector.is_none() {
        e.push("inspector_id", "required", "is required (an inspector id)");
    }
    let entity = match f.get("uscc") {
        Some(u) => s.store.entity_by_uscc(u).await.ok(),
        None => None,
    };
    if entity.is_none() {
        e.push("uscc", "unknown-entity", "no market entity with this credit code");
    }
    let (Some(inspector), Some(entity)) = (inspector, entity) else { return Err(e.into()) };
    s.store.declare_conflict(&caller.actor(), inspector, entity.id, f.get("reason").map(String::as_str)).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- plans and tasks

/// Annual plans.
#[utoipa::path(get, path = "/api/v1/sampling/plans", tag = "sampling",
    responses((status = 200, body = Vec<SamplingPlan>), (status = 403, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn list_plans(State(s): State<AppState>, caller: ApiCaller) -> Result<Json<Vec<SamplingPlan>>, ApiError> {
    caller.require_reader()?;
    Ok(Json(s.store.list_plans().await?))
}

/// Create an annual plan: `{"year", "name", "department_code", "description"}`.
#[utoipa::path(post, path = "/api/v1/sampling/plans", tag = "sampling",
    request_body(content = Value, content_type = "application/json"),
    responses((status = 201, body = SamplingPlan), (status = 403, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn create_plan(
    State(s): State<AppState>,
    caller: ApiCaller,
    body: JsonObject,
) -> Result<(StatusCode, Json<SamplingPlan>), ApiError> {
    caller.require_editor()?;
    let d = PlanDraft::parse(&text_fields(&body, PlanDraft::COLUMNS)?)?;
    Ok((StatusCode::CREATED, Json(s.store.create_plan(&caller.actor(), &d).await?)))
}

/// One plan.
#[utoipa::path(get, path = "/api/v1/sampling/plans/{id}", tag = "sampling",
    params(("id" = i64, Path, description = "Plan id")),
    responses((status = 200, body = SamplingPlan), (status = 403, body = crate::problem::Problem), (status = 404, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn get_plan(
    State(s): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<i64>,
) -> Result<Json<SamplingPlan>, ApiError> {
    caller.require_reader()?;
    Ok(Json(s.store.plan(id).await?))
}

/// Tasks, optionally of one plan (`plan_id`).
#[utoipa::path(get, path = "/api/v1/sampling/tasks", tag = "sampling",
    params(("plan_id" = Option<i64>, Query, description = "Only this plan's tasks")),
    responses((status = 200, body = Vec<SamplingTask>), (status = 403, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn list_tasks(
    State(s): State<AppState>,
    caller: ApiCaller,
    Query(p): Params,
) -> Result<Json<Vec<SamplingTask>>, ApiError> {
    caller.require_reader()?;
    only(&p, &["plan_id"])?;
    let plan = p.get("plan_id").map(|_| number(&p, "plan_id", 0)).transpose()?;
    Ok(Json(s.store.list_tasks(plan).await?))
}

/// Create a task: plan_id, name, targeted, scope_industry / scope_entity_type / scope_street /
/// scope_grid, count or ratios (`A=0.03,B=0.05,C=0.2,D=0.6` by default), per_target (≥ 2),
/// period_start, period_end, initiating_department_code, inspecting_department_codes,
/// check_item_codes.
#[utoipa::path(post, path = "/api/v1/sampling/tasks", tag = "sampling",
    request_body(content = Value, content_type = "application/json"),
    responses((status = 201, body = SamplingTask), (status = 403, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn create_task(
    State(s): State<AppState>,
    caller: ApiCaller,
    body: JsonObject,
) -> Result<(StatusCode, Json<SamplingTask>), ApiError> {
    caller.require_editor()?;
    let d = TaskDraft::parse(&text_fields(&body, TaskDraft::COLUMNS)?)?;
    Ok((StatusCode::CREATED, Json(s.store.create_task(&caller.actor(), &d).await?)))
}

/// One task.
#[utoipa::path(get, path = "/api/v1/sampling/tasks/{id}", tag = "sampling",
    params(("id" = i64, Path, description = "Task id")),
    responses((status = 200, body = SamplingTask), (status = 403, body = crate::problem::Problem), (status = 404, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn get_task(
    State(s): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<i64>,
) -> Result<Json<SamplingTask>, ApiError> {
    caller.require_reader()?;
    Ok(Json(s.store.task(id).await?))
}

// ---------------------------------------------------------------- the draw

/// Publish the seed commitment before the draw: `{"commitment": hex(SHA-256(seed))}`
/// (`qgov draw commit --seed HEX` prints it).
#[utoipa::path(post, path = "/api/v1/sampling/tasks/{id}/draw/commit", tag = "sampling",
    params(("id" = i64, Path, description = "Task id")),
    request_body(content = Value, content_type = "application/json"),
    responses((status = 201, body = DrawRecord), (status = 403, body = crate::problem::Problem), (status = 404, body = crate::problem::Problem), (status = 409, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn draw_commit(
    State(s): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<i64>,
    body: JsonObject,
) -> Result<(StatusCode, Json<DrawRecord>), ApiError> {
    caller.require_editor()?;
    let f = fields_from_json(&body.0, &["commitment"])?;
    let c = f.get("commitment").cloned().unwrap_or_default();
    Ok((StatusCode::CREATED, Json(s.store.draw_commit(&caller.actor(), id, &c).await?)))
}

/// Reveal the seed (`{"seed": HEX}`): the server draws from the task's filtered directory and the
/// inspector directory (conflicts and last inspectors avoided), stores and audits the result.
#[utoipa::path(post, path = "/api/v1/sampling/tasks/{id}/draw/reveal", tag = "sampling",
    params(("id" = i64, Path, description = "Task id")),
    request_body(content = Value, content_type = "application/json"),
    responses((status = 200, body = DrawRecord), (status = 403, body = crate::problem::Problem), (status = 404, body = crate::problem::Problem), (status = 409, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn draw_reveal(
    State(s): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<i64>,
    body: JsonObject,
) -> Result<Json<DrawRecord>, ApiError> {
    caller.require_editor()?;
    let f = fields_from_json(&body.0, &["seed"])?;
    let seed = f.get("seed").cloned().unwrap_or_default();
    Ok(Json(s.store.draw_reveal(&caller.actor(), id, &seed).await?))
}

/// A task's draw, public without login: the commitment, and after the reveal the seed, the
/// algorithm, the inputs and the result, so anyone can recompute it.
#[utoipa::path(get, path = "/api/v1/sampling/tasks/{id}/draw", tag = "sampling",
    params(("id" = i64, Path, description = "Task id")),
    responses((status = 200, body = DrawRecord), (status = 404, body = crate::problem::Problem)))]
pub async fn get_draw(State(s): State<AppState>, Path(id): Path<i64>) -> Result<Json<DrawRecord>, ApiError> {
    Ok(Json(s.store.draw_of(id).await?))
}

// ---------------------------------------------------------------- limits

/// The limits table (filter by `standard_code`, `product_category`).
#[utoipa::path(get, path = "/api/v1/sampling/limits", tag = "sampling",
    params(("standard_code" = Option<String>, Query, description = "Standard"), ("product_category" = Option<String>, Query, description = "Category")),
    responses((status = 200, body = Vec<Value>), (status = 403, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn list_limits(
    State(s): State<AppState>,
    caller: ApiCaller,
    Query(p): Params,
) -> Result<Json<Vec<Limit>>, ApiError> {
    caller.require_reader()?;
    only(&p, &["standard_code", "product_category"])?;
    Ok(Json(
        s.store
            .list_limits(p.get("standard_code").map(String::as_str), p.get("product_category").map(String::as_str))
            .await?,
    ))
}

/// Import limit rows from CSV or XLSX (columns: standard_code, product_category, test_item, kind
/// max|min|range, min, max, unit, microbial). All or nothing; rows replace rows with the same
/// standard, category and item.
#[utoipa::path(post, path = "/api/v1/sampling/limits/import", tag = "sampling",
    params(("format" = Option<String>, Query, description = "csv (default) or xlsx")),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = Value), (status = 400, body = crate::problem::Problem), (status = 403, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn import_limits(
    State(s): State<AppState>,
    caller: ApiCaller,
    Query(p): Params,
    req: Request,
) -> Result<Json<Value>, ApiError> {
    caller.require_editor()?;
    only(&p, &["format"])?;
    let format = match p.get("format") {
        Some(f) => {
            Format::parse(f).ok_or_else(|| ApiError::BadRequest(format!("format must be csv or xlsx, got {f:?}")))?
        }
        None => Format::Csv,
    };
    let bytes = super::body::read_limited(req, &s, crate::MAX_BODY_BYTES).await?;
    let limits = limits_from_file(format, &bytes)?;
    let n = s.store.upsert_limits(&caller.actor(), &limits).await?;
    Ok(Json(serde_json::json!({ "imported": n })))
}

/// The limit rows of a CSV or XLSX file, or every bad row at once (API and console share it).
pub fn limits_from_file(format: Format, bytes: &[u8]) -> Result<Vec<Limit>, ApiError> {
    let rows = tabular::read(format, bytes, drafts::LIMIT_COLUMNS).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let mut limits = vec![];
    let mut bad = vec![];
    for r in &rows {
        match drafts::parse_limit(&|k: &str| r.get(k)) {
            Ok(l) => limits.push(l),
            Err(fe) => bad.extend(fe.0.into_iter().map(|e| qgov_store::RowError {
                row: r.number,
                column: e.field,
                code: e.code.into(),
                reason: e.message,
            })),
        }
    }
    if bad.is_empty() { Ok(limits) } else { Err(ApiError::InvalidRows(bad)) }
}

// ---------------------------------------------------------------- samples

/// Samples (search `q`, filter `status`, `purpose`, `task_id`; page with `limit`, `offset`).
/// Enterprise accounts see only samples where they are the sampled unit or the named producer.
#[utoipa::path(get, path = "/api/v1/sampling/samples", tag = "sampling",
    responses((status = 200, body = Value), (status = 400, body = crate::problem::Problem), (status = 401, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn list_samples(
    State(s): State<AppState>,
    caller: ApiCaller,
    Query(p): Params,
) -> Result<Json<Value>, ApiError> {
    only(&p, &["q", "status", "purpose", "task_id", "limit", "offset"])?;
    let q = SampleQuery {
        q: p.get("q").cloned(),
        status: p.get("status").cloned(),
        purpose: p.get("purpose").cloned(),
        task_id: p.get("task_id").map(|_| number(&p, "task_id", 0)).transpose()?,
        entity: caller.own_entity(),
        limit: number(&p, "limit", 50)?,
        offset: number(&p, "offset", 0)?,
    };
    let (items, total): (Vec<SampleSummary>, i64) = s.store.list_samples(&q).await?;
    Ok(Json(serde_json::json!({ "items": items, "total": total })))
}

/// Record a sample (抽样单): sample_no, task_id, regime (food|manufactured|farm_produce), purpose
/// (supervisory|evaluative|risk_monitoring), product_name, brand, specification, batch_no,
/// production_date, quantity, product_category, standard_code, sampled_uscc, producer_name,
/// producer_address, producer_uscc, sampler_ids (≥ 2 inspector ids), photos (data URLs, ≤ 256 KiB
/// each), rapid_test, lab, sampled_at. The first deadline steps are computed at once.
#[utoipa::path(post, path = "/api/v1/sampling/samples", tag = "sampling",
    request_body(content = Value, content_type = "application/json"),
    responses((status = 201, body = Sample), (status = 403, body = crate::problem::Problem), (status = 409, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn create_sample(
    State(s): State<AppState>,
    caller: ApiCaller,
    body: JsonObject,
) -> Result<(StatusCode, Json<Sample>), ApiError> {
    caller.require_editor()?;
    let d = SampleDraft::parse(&text_fields(&body, SampleDraft::COLUMNS)?)?;
    Ok((StatusCode::CREATED, Json(s.store.create_sample(&caller.actor(), &d).await?)))
}

/// One sample with its results, events, deadline steps (due dates; `estimated` when the calendar
/// had no data for a year), rectification order with evidence, and publication.
#[utoipa::path(get, path = "/api/v1/sampling/samples/{id}", tag = "sampling",
    params(("id" = i64, Path, description = "Sample id")),
    responses((status = 200, body = Sample), (status = 401, body = crate::problem::Problem), (status = 404, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn get_sample(
    State(s): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<i64>,
) -> Result<Json<Sample>, ApiError> {
    Ok(Json(visible_sample(&s, &caller, id).await?))
}

/// Test results: `{"items": [{"test_item", "value" (number or "未检出"), "unit"}], "at"}`.
/// Judged against the limits table (a unit mismatch or a missing limit is a 422 naming the item);
/// the verdict moves the sample on (`record_result`, or `retest_result` after an accepted re-test).
#[utoipa::path(post, path = "/api/v1/sampling/samples/{id}/results", tag = "sampling",
    params(("id" = i64, Path, description = "Sample id")),
    request_body(content = Value, content_type = "application/json"),
    responses((status = 200, body = Sample), (status = 403, body = crate::problem::Problem), (status = 404, body = crate::problem::Problem), (status = 409, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn record_results(
    State(s): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<i64>,
    body: JsonObject,
) -> Result<Json<Sample>, ApiError> {
    caller.require_editor()?;
    let mut e = FieldErrors::new();
    let mut items = vec![];
    for k in body.0.keys() {
        if k != "items" && k != "at" {
            e.push(k, "unknown-field", "unknown field; expected items, at");
        }
    }
    match body.0.get("items") {
        Some(Value::Array(list)) => {
            for (i, it) in list.iter().enumerate() {
                let field = format!("items[{i}]");
                let test_item = it.get("test_item").and_then(Value::as_str).map(str::trim).filter(|t| !t.is_empty());
                let value = match it.get("value") {
                    Some(Value::Number(n)) => n.as_f64().map(Measured::Value),
                    Some(Value::String(t)) => Measured::parse(t),
                    _ => None,
                };
                let unit = it.get("unit").and_then(Value::as_str).unwrap_or("");
                match (test_item, value) {
                    (Some(t), Some(v)) => {
                        items.push(Measurement { test_item: t.to_owned(), value: v, unit: unit.to_owned() })
                    }
                    (None, _) => e.push(&field, "required", "test_item is required"),
                    (_, None) => e.push(&field, "bad-value", "value must be a number or 未检出"),
                }
            }
        }
        _ => e.push("items", "required", "a list of {test_item, value, unit}"),
    }
    let at_text = body.0.get("at").and_then(Value::as_str).map(str::to_owned);
    let at = drafts::instant(&move |k: &str| if k == "at" { at_text.clone() } else { None }, &mut e, "at");
    if !e.is_empty() {
        return Err(e.into());
    }
    Ok(Json(s.store.record_results(&caller.actor(), id, &items, at).await?.map_err(refused)?))
}

/// A workflow event: `{"kind", "at", "outcome": "pass"|"fail", "lab", "note"}`. Kinds: deliver,
/// notify, request_retest, accept_retest (lab ≠ first lab), refuse_retest, confirm_failure
/// (after the re-test window), order_rectification (note = requirements), reject_evidence,
/// reinspect (outcome), announce, second_reinspect (60–90 days after the announcement; outcome),
/// final_reinspect (outcome). A refused event is a 409 saying why.
#[utoipa::path(post, path = "/api/v1/sampling/samples/{id}/events", tag = "sampling",
    params(("id" = i64, Path, description = "Sample id")),
    request_body(content = Value, content_type = "application/json"),
    responses((status = 200, body = Sample), (status = 403, body = crate::problem::Problem), (status = 404, body = crate::problem::Problem), (status = 409, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn sample_event(
    State(s): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<i64>,
    body: JsonObject,
) -> Result<Json<Sample>, ApiError> {
    caller.require_editor()?;
    let f = fields_from_json(&body.0, &["kind", "at", "outcome", "lab", "note"])?;
    let mut e = FieldErrors::new();
    let kind = f.get("kind").and_then(|k| EventKind::parse(k));
    if kind.is_none() {
        let keys: Vec<&str> = EventKind::ALL.iter().map(|k| k.key()).collect();
        e.push("kind", "unknown-value", format!("one of: {}", keys.join(", ")));
    }
    let outcome = match f.get("outcome").map(String::as_str) {
        None => None,
        Some("pass") => Some(Outcome::Pass),
        Some("fail") => Some(Outcome::Fail),
        Some(_) => {
            e.push("outcome", "unknown-value", "must be pass or fail");
            None
        }
    };
    let at = drafts::instant(&|k: &str| f.get(k).cloned(), &mut e, "at");
    let Some(kind) = kind.filter(|_| e.is_empty()) else { return Err(e.into()) };
    let input = EventInput { kind, at, outcome, lab: f.get("lab").cloned(), note: f.get("note").cloned() };
    Ok(Json(s.store.sample_event(&caller.actor(), id, &input, None).await?.map_err(refused)?))
}

/// Rectification evidence (`{"description", "files": [data URLs]}`), by the enterprise the order
/// is addressed to (or by staff on its behalf).
#[utoipa::path(post, path = "/api/v1/sampling/samples/{id}/evidence", tag = "sampling",
    params(("id" = i64, Path, description = "Sample id")),
    request_body(content = Value, content_type = "application/json"),
    responses((status = 200, body = Sample), (status = 403, body = crate::problem::Problem), (status = 404, body = crate::problem::Problem), (status = 409, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn submit_evidence(
    State(s): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<i64>,
    body: JsonObject,
) -> Result<Json<Sample>, ApiError> {
    let entity = match caller.role() {
        Role::Enterprise => Some(caller.own_entity().unwrap_or(-1)),
        _ => {
            caller.require_editor()?;
            None
        }
    };
    if entity.is_some() {
        visible_sample(&s, &caller, id).await?;
    }
    let d = EvidenceDraft::parse(&text_fields(&body, EvidenceDraft::COLUMNS)?)?;
    Ok(Json(s.store.submit_evidence(&caller.actor(), id, entity, &d).await?.map_err(refused)?))
}

/// Publish the final result: `{"announcement_no", "announcement_date", "task_source", "remarks"}`.
#[utoipa::path(post, path = "/api/v1/sampling/samples/{id}/publication", tag = "sampling",
    params(("id" = i64, Path, description = "Sample id")),
    request_body(content = Value, content_type = "application/json"),
    responses((status = 200, body = Sample), (status = 403, body = crate::problem::Problem), (status = 404, body = crate::problem::Problem), (status = 409, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn publish(
    State(s): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<i64>,
    body: JsonObject,
) -> Result<Json<Sample>, ApiError> {
    caller.require_editor()?;
    let d = PublicationDraft::parse(&text_fields(&body, PublicationDraft::COLUMNS)?)?;
    Ok(Json(s.store.publish_result(&caller.actor(), id, &d).await?.map_err(refused)?))
}

/// Obligations past their due date and not done (authority and lab steps; business windows
/// expire instead).
#[utoipa::path(get, path = "/api/v1/sampling/overdue", tag = "sampling",
    responses((status = 200, body = Vec<OverdueStep>), (status = 403, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn overdue(State(s): State<AppState>, caller: ApiCaller) -> Result<Json<Vec<OverdueStep>>, ApiError> {
    caller.require_reader()?;
    Ok(Json(s.store.overdue_steps(time::OffsetDateTime::now_utc()).await?))
}

/// Pass rates per purpose, category and period (`from`, `to` as `YYYY-MM`), and the
/// rectification completion rate.
#[utoipa::path(get, path = "/api/v1/sampling/figures", tag = "sampling",
    params(("from" = Option<String>, Query, description = "First period, YYYY-MM"), ("to" = Option<String>, Query, description = "Last period, YYYY-MM")),
    responses((status = 200, body = SamplingFigures), (status = 403, body = crate::problem::Problem)),
    security(("bearer" = [])))]
pub async fn figures(
    State(s): State<AppState>,
    caller: ApiCaller,
    Query(p): Params,
) -> Result<Json<SamplingFigures>, ApiError> {
    caller.require_reader()?;
    only(&p, &["from", "to"])?;
    Ok(Json(s.store.sampling_figures(p.get("from").map(String::as_str), p.get("to").map(String::as_str)).await?))
}

/// The statutory time limits the workflow applies (public reference data).
#[utoipa::path(get, path = "/api/v1/sampling/rules", tag = "sampling",
    responses((status = 200, body = Vec<Value>)))]
pub async fn rules() -> Json<&'static [DeadlineRule]> {
    Json(deadline::RULES)
}

// ---------------------------------------------------------------- one public

const PUBLIC_HEADER: [&str; 16] = [
    "序号",
    "标称生产企业名称",
    "标称生产企业地址",
    "被抽样单位名称",
    "被抽样单位地址",
    "食品名称",
    "规格型号",
    "商标",
    "生产日期/批号",
    "不合格项目║检验结果║标准值",
    "分类",
    "公告号",
    "公告日期",
    "任务来源",
    "检验机构",
    "备注",
];

/// Published sampling results, without login: search `q` (product, company, brand, announcement
/// number), filter `verdict` (pass|fail) and `category`; `format=xlsx` downloads every match with
/// the columns of Chinese sampling notices.
#[utoipa::path(get, path = "/api/v1/public/sampling-results", tag = "sampling",
    params(("q" = Option<String>, Query, description = "Search text"), ("verdict" = Option<String>, Query, description = "pass or fail"),
           ("category" = Option<String>, Query, description = "Product category"), ("format" = Option<String>, Query, description = "json (default) or xlsx"),
           ("limit" = Option<i64>, Query, description = "Page size"), ("offset" = Option<i64>, Query, description = "Offset")),
    responses((status = 200, body = Vec<PublishedResult>), (status = 400, body = crate::problem::Problem)))]
pub async fn public_results(State(s): State<AppState>, Query(p): Params) -> Result<Response, ApiError> {
    only(&p, &["q", "verdict", "category", "format", "limit", "offset"])?;
    let xlsx = match p.get("format").map(String::as_str) {
        None | Some("json") => false,
        Some("xlsx") => true,
        Some(f) => return Err(ApiError::BadRequest(format!("format must be json or xlsx, got {f:?}"))),
    };
    let q = PublicQuery {
        q: p.get("q").cloned(),
        verdict: p.get("verdict").cloned(),
        category: p.get("category").cloned(),
        limit: if xlsx { 10_000 } else { number(&p, "limit", 50)? },
        offset: if xlsx { 0 } else { number(&p, "offset", 0)? },
    };
    let (items, total) = s.store.public_results(&q).await?;
    if !xlsx {
        return Ok(Json(serde_json::json!({ "items": items, "total": total })).into_response());
    }
    let header: Vec<String> = PUBLIC_HEADER.iter().map(|h| (*h).to_owned()).collect();
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    let rows: Vec<Vec<String>> = items
        .iter()
        .enumerate()
        .map(|(i, r)| {
            vec![
                (i + 1).to_string(),
                o(&r.producer_name),
                o(&r.producer_address),
                r.sampled_name.clone(),
                o(&r.sampled_address),
                r.product_name.clone(),
                o(&r.specification),
                o(&r.brand),
                o(&r.production_date_batch),
                r.failing_items.clone(),
                r.category.clone(),
                r.announcement_no.clone(),
                r.announcement_date.clone(),
                r.task_source.clone(),
                r.lab.clone(),
                o(&r.remarks),
            ]
        })
        .collect();
    let bytes = tabular::write(Format::Xlsx, &header, &rows).map_err(ApiError::Internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, Format::Xlsx.content_type().to_owned()),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"sampling-results.xlsx\"".to_owned()),
        ],
        bytes,
    )
        .into_response())
}
