//! Register endpoints. One generic implementation per operation; a macro stamps out
//! the five documented route sets, and [`Access`] says who may do what per register.

use super::body::{JsonObject, fields_from_json, read_limited};
use crate::AppState;
use crate::auth::ApiCaller;
use crate::problem::ApiError;
use crate::tabular::{self, Format};
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use qgov_domain::{Role, UnifiedCreditCode};
use qgov_store::{ImportMode, ImportReport, ListQuery, Page, Register, RegisterKind, SortDir};
use serde::Serialize;
use std::collections::HashMap;

/// Who may read and write a register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Staff read all; an enterprise reads its own; admins and regulators write.
    OwnedByEntity { enterprise_writes_own: bool },
    /// Any signed-in account reads; admins write.
    Reference,
    /// Staff only (admin, regulator, inspector read; admin, regulator write).
    StaffOnly,
}

pub fn access(kind: RegisterKind) -> Access {
    match kind {
        RegisterKind::Enterprises => Access::OwnedByEntity { enterprise_writes_own: false },
        RegisterKind::Products | RegisterKind::Locations => Access::OwnedByEntity { enterprise_writes_own: true },
        RegisterKind::Departments => Access::Reference,
        RegisterKind::Inspectors => Access::StaffOnly,
    }
}

/// Check a read of the whole register; returns the owner scope to apply.
fn read_scope(caller: &ApiCaller, kind: RegisterKind) -> Result<Option<i64>, ApiError> {
    match access(kind) {
        Access::Reference => Ok(None),
        Access::StaffOnly => caller.require_reader().map(|_| None),
        Access::OwnedByEntity { .. } => Ok(caller.own_entity()),
    }
}

/// Check a read of one record: an enterprise asking for another's record gets 404,
/// so it cannot even learn that the record exists.
fn check_read_one<R: Register>(caller: &ApiCaller, rec: &R) -> Result<(), ApiError> {
    match (read_scope(caller, R::KIND)?, rec.owner()) {
        (Some(own), owner) if owner != Some(own) => Err(ApiError::NotFound),
        _ => Ok(()),
    }
}

/// Check a write; returns the credit code to force as owner for enterprise writers.
async fn write_scope(
    state: &AppState,
    caller: &ApiCaller,
    kind: RegisterKind,
) -> Result<Option<UnifiedCreditCode>, ApiError> {
    match (access(kind), caller.role()) {
        (Access::Reference, _) => caller.require_admin().map(|_| None),
        (Access::OwnedByEntity { enterprise_writes_own: true }, Role::Enterprise) => {
            let id = caller
                .user
                .entity_id
                .ok_or(ApiError::Forbidden("this enterprise account is not bound to an entity"))?;
            let e = state.store.entity(id).await?;
            Ok(Some(UnifiedCreditCode::parse(&e.uscc).map_err(|e| ApiError::Internal(e.to_string()))?))
        }
        _ => caller.require_editor().map(|_| None),
    }
}

const LIST_PARAMS: &[&str] = &["q", "sort", "dir", "page", "per_page"];

/// Parse list parameters strictly: unknown parameters and sort columns are refused.
fn list_query(kind: RegisterKind, params: &HashMap<String, String>, owner: Option<i64>) -> Result<ListQuery, ApiError> {
    let mut q = ListQuery { owner_entity_id: owner, ..Default::default() };
    for (k, v) in params {
        match k.as_str() {
            "q" => q.q = Some(v.clone()).filter(|s| !s.is_empty()),
            "sort" => {
                if !v.is_empty() && !kind.sortable().contains(&v.as_str()) {
                    return Err(ApiError::BadRequest(format!(
                        "cannot sort by {v:?}; sortable: {}",
                        kind.sortable().join(", ")
                    )));
                }
                q.sort = Some(v.clone()).filter(|s| !s.is_empty());
            }
            "dir" => {
                q.dir = match v.as_str() {
                    "asc" | "" => SortDir::Asc,
                    "desc" => SortDir::Desc,
                    _ => return Err(ApiError::BadRequest(format!("dir must be asc or desc, got {v:?}"))),
                }
            }
            "page" | "per_page" => {
                let n: u32 = v
                    .parse()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| ApiError::BadRequest(format!("{k} must be a positive integer, got {v:?}")))?;
                if k == "page" {
                    q.page = n;
                } else {
                    q.per_page = n.min(500);
                }
            }
            "format" | "mode" => {}
            f if kind.filterable().contains(&f) => {
                if !v.is_empty() {
                    q.filters.push((f.to_owned(), v.clone()));
                }
            }
            other => {
                return Err(ApiError::BadRequest(format!(
                    "unknown query parameter {other:?}; expected some of: {}",
                    LIST_PARAMS.iter().chain(kind.filterable()).copied().collect::<Vec<_>>().join(", ")
                )));
            }
        }
    }
    Ok(q)
}

pub async fn list_impl<R: Register>(
    state: &AppState,
    caller: &ApiCaller,
    params: &HashMap<String, String>,
) -> Result<Page<R>, ApiError> {
    let owner = read_scope(caller, R::KIND)?;
    let q = list_query(R::KIND, params, owner)?;
    Ok(state.store.list::<R>(&q).await?)
}

pub async fn create_impl<R: Register>(state: &AppState, caller: &ApiCaller, body: JsonObject) -> Result<R, ApiError> {
    let force = write_scope(state, caller, R::KIND).await?;
    let fields = fields_from_json(&body.0, R::KIND.columns())?;
    let mut draft = R::parse_draft(&|k: &str| fields.get(k).cloned())?;
    if let Some(uscc) = &force {
        R::force_owner(&mut draft, uscc);
    }
    Ok(state.store.create::<R>(&caller.actor(), &draft).await?)
}

pub async fn get_impl<R: Register>(state: &AppState, caller: &ApiCaller, id: i64) -> Result<R, ApiError> {
    let rec = state.store.get::<R>(id).await?;
    check_read_one(caller, &rec)?;
    Ok(rec)
}

/// Merge the body over the current record and store the result.
pub async fn patch_impl<R: Register>(
    state: &AppState,
    caller: &ApiCaller,
    id: i64,
    body: JsonObject,
) -> Result<R, ApiError> {
    let force = write_scope(state, caller, R::KIND).await?;
    let current = state.store.get::<R>(id).await?;
    if let Some(uscc) = &force {
        // An enterprise may change only records it owns; others look absent.
        let own = caller.user.entity_id;
        if current.owner() != own || own.is_none() {
            let _ = uscc;
            return Err(ApiError::NotFound);
        }
    }
    let columns = R::KIND.columns();
    let mut fields = record_fields(&current, columns);
    fields.extend(fields_from_json(&body.0, columns)?);
    let mut draft = R::parse_draft(&|k: &str| fields.get(k).cloned())?;
    if let Some(uscc) = &force {
        R::force_owner(&mut draft, uscc);
    }
    Ok(state.store.update::<R>(&caller.actor(), id, &draft).await?)
}

/// A record as text fields by column name (lists joined with `;`).
pub fn record_fields<R: Serialize>(rec: &R, columns: &[&str]) -> HashMap<String, String> {
    let v = serde_json::to_value(rec).unwrap_or_default();
    columns
        .iter()
        .filter_map(|c| {
            let text = match v.get(*c)? {
                serde_json::Value::Null => return None,
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Array(a) => a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(";"),
                other => other.to_string(),
            };
            Some(((*c).to_owned(), text))
        })
        .collect()
}

fn format_param(params: &HashMap<String, String>, req: Option<&axum::http::HeaderMap>) -> Result<Format, ApiError> {
    if let Some(f) = params.get("format") {
        return Format::parse(f).ok_or_else(|| ApiError::BadRequest(format!("format must be csv or xlsx, got {f:?}")));
    }
    let ct = req.and_then(|h| h.get(header::CONTENT_TYPE)).and_then(|v| v.to_str().ok()).unwrap_or("");
    Ok(if ct.contains("spreadsheetml") { Format::Xlsx } else { Format::Csv })
}

pub async fn import_impl<R: Register>(
    state: &AppState,
    caller: &ApiCaller,
    params: HashMap<String, String>,
    req: Request,
) -> Result<ImportReport, ApiError> {
    caller.require_editor()?;
    if R::KIND == RegisterKind::Departments {
        caller.require_admin()?;
    }
    let format = format_param(&params, Some(req.headers()))?;
    let mode = match params.get("mode").map(String::as_str) {
        None | Some("all-or-nothing") => ImportMode::AllOrNothing,
        Some("skip-invalid") => ImportMode::SkipInvalid,
        Some(m) => return Err(ApiError::BadRequest(format!("mode must be all-or-nothing or skip-invalid, got {m:?}"))),
    };
    let bytes = read_limited(req, state, crate::MAX_BODY_BYTES).await?;
    let report = import_bytes::<R>(state, &caller.actor(), format, &bytes, mode).await?;
    Ok(report)
}

/// Parse a file and import its rows (shared by the API and the console).
pub async fn import_bytes<R: Register>(
    state: &AppState,
    actor: &qgov_store::Actor,
    format: Format,
    bytes: &[u8],
    mode: ImportMode,
) -> Result<ImportReport, ApiError> {
    let rows = tabular::read(format, bytes, R::KIND.columns()).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let parsed = rows.iter().map(|r| (r.number, R::parse_draft(&|k: &str| r.get(k)))).collect();
    match state.store.import::<R>(actor, parsed, mode, &|_| {}).await? {
        Ok(report) => Ok(report),
        Err(rows) => Err(ApiError::InvalidRows(rows)),
    }
}

pub async fn export_impl<R: Register>(
    state: &AppState,
    caller: &ApiCaller,
    params: HashMap<String, String>,
) -> Result<Response, ApiError> {
    let format = format_param(&params, None)?;
    let owner = read_scope(caller, R::KIND)?;
    export_response::<R>(state, list_query(R::KIND, &params, owner)?, format).await
}

/// Every matching record (all pages) as a downloadable file.
pub async fn export_response<R: Register>(
    state: &AppState,
    mut q: ListQuery,
    format: Format,
) -> Result<Response, ApiError> {
    let columns = R::KIND.columns();
    let mut rows = vec![];
    q.per_page = 500;
    q.page = 1;
    loop {
        let page = state.store.list::<R>(&q).await?;
        let n = page.items.len();
        for rec in &page.items {
            let f = record_fields(rec, columns);
            rows.push(columns.iter().map(|c| f.get(*c).cloned().unwrap_or_default()).collect());
        }
        if n < q.per_page as usize {
            break;
        }
        q.page += 1;
    }
    let header: Vec<String> = columns.iter().map(|c| (*c).to_owned()).collect();
    let bytes = tabular::write(format, &header, &rows).map_err(ApiError::Internal)?;
    let disposition = format!("attachment; filename=\"{}.{}\"", R::KIND.slug(), format.extension());
    Ok(([(header::CONTENT_TYPE, format.content_type().to_owned()), (header::CONTENT_DISPOSITION, disposition)], bytes)
        .into_response())
}

/// Stamp out the documented handlers of one register.
macro_rules! register_routes {
    ($module:ident, $rec:ty, $tag_name:literal, $collection:literal, $item:literal, $import:literal, $export:literal, $what:literal) => {
        pub mod $module {
            use super::*;
            use axum::Json;

            #[utoipa::path(get, path = $collection, tag = "registers",
                summary = concat!("List ", $what),
                description = "Search (`q`), sort (`sort`, `dir`), page (`page`, `per_page`) and filter by exact value on the register's filter columns. Enterprise accounts see only their own records.",
                params(
                    ("q" = Option<String>, Query, description = "Search text"),
                    ("sort" = Option<String>, Query, description = "Column to sort by"),
                    ("dir" = Option<String>, Query, description = "asc or desc"),
                    ("page" = Option<u32>, Query, description = "1-based page"),
                    ("per_page" = Option<u32>, Query, description = "Page size, at most 500")
                ),
                responses((status = 200, body = Page<$rec>), (status = 400, body = crate::problem::Problem), (status = 401, body = crate::problem::Problem), (status = 403, body = crate::problem::Problem)),
                security(("bearer" = [])))]
            pub async fn list(State(s): State<AppState>, caller: ApiCaller, Query(p): Query<HashMap<String, String>>) -> Result<Json<Page<$rec>>, ApiError> {
                Ok(Json(list_impl::<$rec>(&s, &caller, &p).await?))
            }

            #[utoipa::path(post, path = $collection, tag = "registers",
                summary = concat!("Create one of the ", $what),
                description = "A JSON object with the register's columns as members (strings; lists as arrays of strings or `;`-separated).",
                request_body(content = serde_json::Value, content_type = "application/json"),
                responses((status = 201, body = $rec), (status = 400, body = crate::problem::Problem), (status = 401, body = crate::problem::Problem), (status = 403, body = crate::problem::Problem), (status = 409, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)),
                security(("bearer" = [])))]
            pub async fn create(State(s): State<AppState>, caller: ApiCaller, body: JsonObject) -> Result<(StatusCode, Json<$rec>), ApiError> {
                Ok((StatusCode::CREATED, Json(create_impl::<$rec>(&s, &caller, body).await?)))
            }

            #[utoipa::path(get, path = $item, tag = "registers", summary = concat!("One of the ", $what),
                params(("id" = i64, Path, description = "Record id")),
                responses((status = 200, body = $rec), (status = 401, body = crate::problem::Problem), (status = 404, body = crate::problem::Problem)),
                security(("bearer" = [])))]
            pub async fn get_one(State(s): State<AppState>, caller: ApiCaller, Path(id): Path<i64>) -> Result<Json<$rec>, ApiError> {
                Ok(Json(get_impl::<$rec>(&s, &caller, id).await?))
            }

            #[utoipa::path(patch, path = $item, tag = "registers", summary = concat!("Change one of the ", $what),
                description = "Members present in the body replace the record's values; the result is validated as a whole.",
                params(("id" = i64, Path, description = "Record id")),
                request_body(content = serde_json::Value, content_type = "application/json"),
                responses((status = 200, body = $rec), (status = 401, body = crate::problem::Problem), (status = 403, body = crate::problem::Problem), (status = 404, body = crate::problem::Problem), (status = 409, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)),
                security(("bearer" = [])))]
            pub async fn patch(State(s): State<AppState>, caller: ApiCaller, Path(id): Path<i64>, body: JsonObject) -> Result<Json<$rec>, ApiError> {
                Ok(Json(patch_impl::<$rec>(&s, &caller, id, body).await?))
            }

            #[utoipa::path(post, path = $import, tag = "registers", summary = concat!("Import ", $what, " from CSV or XLSX"),
                description = "The body is the file. The first row names the columns. All-or-nothing by default: any bad row refuses the file, and the 422 problem lists every bad row with its row number, column and reason. `mode=skip-invalid` stores the good rows and reports the rest.",
                params(("format" = Option<String>, Query, description = "csv or xlsx (default: from Content-Type, else csv)"),
                       ("mode" = Option<String>, Query, description = "all-or-nothing (default) or skip-invalid")),
                request_body(content = String, content_type = "text/csv"),
                responses((status = 200, body = ImportReport), (status = 400, body = crate::problem::Problem), (status = 403, body = crate::problem::Problem), (status = 413, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)),
                security(("bearer" = [])))]
            pub async fn import(State(s): State<AppState>, caller: ApiCaller, Query(p): Query<HashMap<String, String>>, req: Request) -> Result<Json<ImportReport>, ApiError> {
                Ok(Json(import_impl::<$rec>(&s, &caller, p, req).await?))
            }

            #[utoipa::path(get, path = $export, tag = "registers", summary = concat!("Export ", $what, " as CSV or XLSX"),
                description = "Same search and filter parameters as the list; every matching record, not one page.",
                params(("format" = Option<String>, Query, description = "csv (default) or xlsx")),
                responses((status = 200, description = "The file", content_type = "text/csv"), (status = 400, body = crate::problem::Problem), (status = 403, body = crate::problem::Problem)),
                security(("bearer" = [])))]
            pub async fn export(State(s): State<AppState>, caller: ApiCaller, Query(p): Query<HashMap<String, String>>) -> Result<Response, ApiError> {
                export_impl::<$rec>(&s, &caller, p).await
            }
        }
    };
}

register_routes!(
    enterprises,
    qgov_store::MarketEntity,
    "enterprises",
    "/api/v1/enterprises",
    "/api/v1/enterprises/{id}",
    "/api/v1/enterprises/import",
    "/api/v1/enterprises/export",
    "market entities"
);
register_routes!(
    products,
    qgov_store::Product,
    "products",
    "/api/v1/products",
    "/api/v1/products/{id}",
    "/api/v1/products/import",
    "/api/v1/products/export",
    "products"
);
register_routes!(
    locations,
    qgov_store::Location,
    "locations",
    "/api/v1/locations",
    "/api/v1/locations/{id}",
    "/api/v1/locations/import",
    "/api/v1/locations/export",
    "locations"
);
register_routes!(
    departments,
    qgov_store::Department,
    "departments",
    "/api/v1/departments",
    "/api/v1/departments/{id}",
    "/api/v1/departments/import",
    "/api/v1/departments/export",
    "departments"
);
register_routes!(
    inspectors,
    qgov_store::Inspector,
    "inspectors",
    "/api/v1/inspectors",
    "/api/v1/inspectors/{id}",
    "/api/v1/inspectors/import",
    "/api/v1/inspectors/export",
    "inspectors"
);
