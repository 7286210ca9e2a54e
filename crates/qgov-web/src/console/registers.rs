//! Console pages of the five registers: list (search, filters, sort, pages, export),
//! detail with history, new and edit forms with inline errors, and file import.
//! One generic implementation; a macro wires it to each register's URLs. Who may see
//! and change what follows [`access`], exactly as the API does.

use super::links::{ListState, PER_PAGE};
use super::widgets::{FieldView, FilterControl, HeaderCell, InputKind, Pager, error_text};
use super::{Chrome, Failure, OrFail, PageResult, Signed, render};
use crate::AppState;
use crate::api::registers::{Access, access, export_response, import_bytes, record_fields};
use crate::i18n::Tr;
use crate::problem::ApiError;
use crate::tabular::Format;
use askama::Template;
use axum::Router;
use axum::extract::{Form, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use qgov_domain::registers::{EntityStatus, EntityType, Industry, LocationKind};
use qgov_domain::{FieldErrors, Role, UnifiedCreditCode};
use qgov_store::{
    Department, ImportMode, Inspector, ListQuery, Location, MarketEntity, Product, Register, RegisterKind, RowError,
    StoreError, User,
};
use std::collections::HashMap;

macro_rules! register_pages {
    ($router:expr, $rec:ty, $slug:literal) => {
        $router
            .route(concat!("/console/", $slug), get(list::<$rec>))
            .route(concat!("/console/", $slug, "/new"), get(new_form::<$rec>).post(create::<$rec>))
            .route(concat!("/console/", $slug, "/import"), get(import_form::<$rec>).post(import::<$rec>))
            .route(concat!("/console/", $slug, "/export"), get(export::<$rec>))
            .route(concat!("/console/", $slug, "/{id}"), get(detail::<$rec>))
            .route(concat!("/console/", $slug, "/{id}/edit"), get(edit_form::<$rec>).post(update::<$rec>))
    };
}

pub fn router() -> Router<AppState> {
    let r = Router::new();
    let r = register_pages!(r, MarketEntity, "enterprises");
    let r = register_pages!(r, Product, "products");
    let r = register_pages!(r, Location, "locations");
    let r = register_pages!(r, Department, "departments");
    register_pages!(r, Inspector, "inspectors")
}

/// Which records of `kind` the user may read: `None` = none at all,
/// `Some(None)` = all, `Some(Some(entity))` = those owned by that entity.
pub fn read_scope(user: &User, kind: RegisterKind) -> Option<Option<i64>> {
    match access(kind) {
        Access::Reference => Some(None),
        Access::StaffOnly => user.role.can_read_all().then_some(None),
        Access::OwnedByEntity { .. } if user.role == Role::Enterprise => Some(Some(user.entity_id.unwrap_or(-1))),
        Access::OwnedByEntity { .. } => Some(None),
    }
}

/// May the user create or change records of `kind` (an enterprise: only its own)?
pub fn can_write(user: &User, kind: RegisterKind) -> bool {
    match (access(kind), user.role) {
        (Access::Reference, r) => r.is_admin(),
        (Access::OwnedByEntity { enterprise_writes_own: true }, Role::Enterprise) => user.entity_id.is_some(),
        (_, r) => r.can_edit_registers(),
    }
}

/// May the user import files into `kind` (as the API: editors; departments: admins)?
pub fn can_import(user: &User, kind: RegisterKind) -> bool {
    user.role.can_edit_registers() && (kind != RegisterKind::Departments || user.role.is_admin())
}

/// An enterprise writer's own entity (id and credit code), forced as owner of its records.
async fn own_entity(s: &AppState, who: &Signed) -> Result<Option<(i64, UnifiedCreditCode)>, Failure> {
    if who.role() != Role::Enterprise {
        return Ok(None);
    }
    let id = who.user.entity_id.ok_or_else(|| Failure::forbidden(who.t))?;
    let e = s.store.entity(id).await.or_fail(who.t)?;
    let code = UnifiedCreditCode::parse(&e.uscc).map_err(|e| Failure::internal(who.t, e))?;
    Ok(Some((id, code)))
}

/// Columns shown in a list, in order.
fn list_columns(kind: RegisterKind) -> &'static [&'static str] {
    match kind {
        RegisterKind::Enterprises => &["uscc", "name", "industry", "entity_type", "street", "status"],
        RegisterKind::Products => &["gtin", "name", "brand", "category", "owner_name"],
        RegisterKind::Locations => &["gln", "name", "kind", "street", "owner_name"],
        RegisterKind::Departments => &["code", "name", "name_en"],
        RegisterKind::Inspectors => &["name", "department_name", "certificate_no", "specialties"],
    }
}

/// Columns shown on a detail page after the register's own columns.
fn extra_columns(kind: RegisterKind) -> &'static [&'static str] {
    match kind {
        RegisterKind::Products | RegisterKind::Locations => &["owner_name", "created_at", "updated_at"],
        RegisterKind::Inspectors => &["department_name", "created_at", "updated_at"],
        _ => &["created_at", "updated_at"],
    }
}

/// The keys of a vocabulary column.
pub fn vocab_keys(column: &str) -> Option<Vec<&'static str>> {
    Some(match column {
        "industry" => Industry::ALL.iter().map(|v| v.key()).collect(),
        "entity_type" => EntityType::ALL.iter().map(|v| v.key()).collect(),
        "status" => EntityStatus::ALL.iter().map(|v| v.key()).collect(),
        "kind" => LocationKind::ALL.iter().map(|v| v.key()).collect(),
        _ => return None,
    })
}

/// A stored value as shown to a person: vocabulary keys become labels.
fn display(t: Tr, column: &str, value: &str) -> String {
    if vocab_keys(column).is_some() { t.value(column, value) } else { value.to_owned() }
}

async fn departments(s: &AppState, t: Tr) -> Result<Vec<Department>, Failure> {
    let q = ListQuery { per_page: 500, sort: Some("code".into()), ..Default::default() };
    Ok(s.store.list::<Department>(&q).await.or_fail(t)?.items)
}

fn department_label(t: Tr, d: &Department) -> String {
    match (&d.name_en, t.lang) {
        (Some(en), crate::i18n::Lang::En) => en.clone(),
        _ => d.name.clone(),
    }
}

#[derive(Template)]
#[template(path = "register_list.html")]
struct ListPage {
    c: Chrome,
    t: Tr,
    slug: &'static str,
    q: String,
    filters: Vec<FilterControl>,
    headers: Vec<HeaderCell>,
    /// (detail link, cells)
    rows: Vec<(String, Vec<String>)>,
    total: i64,
    pager: Pager,
    can_write: bool,
    can_import: bool,
    export_csv: String,
    export_xlsx: String,
}

fn params_state(kind: RegisterKind, p: &HashMap<String, String>) -> ListState {
    ListState::parse(p, kind.sortable(), kind.filterable())
}

async fn list<R: Register>(
    State(s): State<AppState>,
    who: Signed,
    Query(p): Query<HashMap<String, String>>,
) -> PageResult {
    let (t, kind) = (who.t, R::KIND);
    let owner = read_scope(&who.user, kind).ok_or_else(|| Failure::forbidden(t))?;
    let state = params_state(kind, &p);
    let page = s.store.list::<R>(&state.query(owner)).await.or_fail(t)?;
    let base = format!("/console/{}", kind.slug());
    let columns = list_columns(kind);
    let headers = columns.iter().map(|c| HeaderCell::new(t, &state, &base, c, kind.sortable().contains(c))).collect();
    let rows = page
        .items
        .iter()
        .map(|rec| {
            let mut f = record_fields(rec, columns);
            let id = record_fields(rec, &["id"]).remove("id").unwrap_or_default();
            let cells = columns.iter().map(|c| display(t, c, f.remove(*c).as_deref().unwrap_or(""))).collect();
            (format!("{base}/{id}"), cells)
        })
        .collect();
    let depts = if kind.filterable().contains(&"department_code") { departments(&s, t).await? } else { vec![] };
    let filters = kind
        .filterable()
        .iter()
        .filter(|c| !(who.role() == Role::Enterprise && **c == "owner_uscc"))
        .map(|c| match (*c, vocab_keys(c)) {
            (_, Some(keys)) => FilterControl::vocab(t, c, &keys, state.filter(c)),
            ("department_code", _) => FilterControl::select(
                t,
                c,
                depts.iter().map(|d| (d.code.clone(), department_label(t, d))).collect(),
                state.filter(c),
            ),
            _ => FilterControl::text(t, c, state.filter(c)),
        })
        .collect();
    let export = format!("{base}/export");
    let pagee = ListPage {
        c: who.chrome(t.get(&format!("nav-{}", kind.slug()))),
        t,
        slug: kind.slug(),
        q: state.q.clone(),
        filters,
        headers,
        rows,
        total: page.total,
        pager: Pager::new(t, &state, &base, page.total, PER_PAGE),
        can_write: can_write(&who.user, kind),
        can_import: can_import(&who.user, kind),
        export_csv: state.export_href(&export, "csv"),
        export_xlsx: state.export_href(&export, "xlsx"),
    };
    Ok(render(StatusCode::OK, &pagee))
}

async fn export<R: Register>(
    State(s): State<AppState>,
    who: Signed,
    Query(p): Query<HashMap<String, String>>,
) -> PageResult {
    let t = who.t;
    let owner = read_scope(&who.user, R::KIND).ok_or_else(|| Failure::forbidden(t))?;
    let format = Format::parse(p.get("format").map(String::as_str).unwrap_or("csv")).unwrap_or(Format::Csv);
    export_response::<R>(&s, params_state(R::KIND, &p).query(owner), format).await.or_fail(t)
}

/// Load one record the user may read; another enterprise's record is "not found".
async fn readable<R: Register>(s: &AppState, who: &Signed, id: &str) -> Result<R, Failure> {
    let t = who.t;
    let owner = read_scope(&who.user, R::KIND).ok_or_else(|| Failure::forbidden(t))?;
    let id: i64 = id.parse().map_err(|_| Failure::not_found(t))?;
    let rec = s.store.get::<R>(id).await.or_fail(t)?;
    match owner {
        Some(own) if rec.owner() != Some(own) => Err(Failure::not_found(t)),
        _ => Ok(rec),
    }
}

/// One change on a record's history.
struct HistoryRow {
    at: String,
    actor: String,
    action: String,
}

#[derive(Template)]
#[template(path = "register_detail.html")]
struct DetailPage {
    c: Chrome,
    t: Tr,
    slug: &'static str,
    register: String,
    id: String,
    heading: String,
    /// (label, value)
    fields: Vec<(String, String)>,
    can_edit: bool,
    history: Vec<HistoryRow>,
    show_history: bool,
}

async fn detail<R: Register>(State(s): State<AppState>, who: Signed, Path(id): Path<String>) -> PageResult {
    let t = who.t;
    let kind = R::KIND;
    let rec: R = readable(&s, &who, &id).await?;
    let columns: Vec<&str> = kind.columns().iter().chain(extra_columns(kind)).copied().collect();
    let f = record_fields(&rec, &columns);
    let heading = f.get("name").cloned().unwrap_or_else(|| id.clone());
    let fields = columns
        .iter()
        .filter(|c| !(**c == "owner_uscc" && who.role() == Role::Enterprise))
        .map(|c| (t.get(&format!("field-{c}")), display(t, c, f.get(*c).map(String::as_str).unwrap_or(""))))
        .collect();
    let show_history = who.role().can_read_audit();
    let history = if show_history {
        s.store
            .audit_for(kind.slug(), &id)
            .await
            .or_fail(t)?
            .into_iter()
            .rev()
            .map(|r| HistoryRow { at: r.at, actor: r.actor, action: t.value("action", &r.action.replace('.', "-")) })
            .collect()
    } else {
        vec![]
    };
    let page = DetailPage {
        c: who.chrome(heading.clone()),
        t,
        slug: kind.slug(),
        register: t.get(&format!("nav-{}", kind.slug())),
        id,
        heading,
        fields,
        can_edit: can_write(&who.user, kind),
        history,
        show_history,
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Template)]
#[template(path = "register_form.html")]
struct FormPage {
    c: Chrome,
    t: Tr,
    slug: &'static str,
    register: String,
    heading: String,
    action: String,
    cancel: String,
    csrf: String,
    fields: Vec<FieldView>,
    /// Errors not tied to a shown field (for example a refused owner).
    other_errors: Vec<(String, String)>,
}

/// The form fields of a register with their values and errors.
async fn form_fields(
    s: &AppState,
    who: &Signed,
    kind: RegisterKind,
    values: &HashMap<String, String>,
    errors: &FieldErrors,
) -> Result<Vec<FieldView>, Failure> {
    let t = who.t;
    let mut out = vec![];
    for col in kind.columns() {
        if *col == "owner_uscc" && who.role() == Role::Enterprise {
            continue; // forced to the account's own entity
        }
        let value = values.get(*col).map(String::as_str).unwrap_or("");
        let mut f = FieldView::text(t, col, value);
        match *col {
            "uscc" | "owner_uscc" => {
                f.maxlength = Some(18);
                f.pattern = Some("[0-9A-HJ-NPQRTUWXYa-hj-npqrtuwxy]{18}");
                f.hint = Some(t.get("hint-uscc"));
                f.required = *col == "uscc";
            }
            "gtin" => {
                f.maxlength = Some(14);
                f.pattern = Some("[0-9]{8,14}");
                f.hint = Some(t.get("hint-gtin"));
                f.required = true;
            }
            "gln" => {
                f.maxlength = Some(13);
                f.pattern = Some("[0-9]{13}");
                f.hint = Some(t.get("hint-gln"));
                f.required = true;
            }
            "code" => {
                f.maxlength = Some(40);
                f.pattern = Some("[a-z0-9_\\-]+");
                f.hint = Some(t.get("hint-code"));
                f.required = true;
            }
            "name" => {
                f.maxlength = Some(200);
                f.required = true;
            }
            "certificate_no" => {
                f.maxlength = Some(60);
                f.required = true;
            }
            "licences" | "specialties" => f.hint = Some(t.get("hint-list")),
            "department_code" => {
                f.kind = InputKind::Select;
                f.required = true;
                f.options = departments(s, t).await?.iter().map(|d| (d.code.clone(), department_label(t, d))).collect();
            }
            c => {
                if let Some(keys) = vocab_keys(c) {
                    f.kind = InputKind::Select;
                    f.required = true;
                    f.options = keys.iter().map(|k| ((*k).to_owned(), t.value(c, k))).collect();
                } else {
                    f.maxlength = Some(if matches!(c, "address" | "name_en") { 300 } else { 100 });
                }
            }
        }
        out.push(f.with_errors(t, errors));
    }
    Ok(out)
}

async fn form_page(
    s: &AppState,
    who: &Signed,
    kind: RegisterKind,
    existing: Option<&str>,
    values: &HashMap<String, String>,
    errors: &FieldErrors,
) -> Result<FormPage, Failure> {
    let t = who.t;
    let base = format!("/console/{}", kind.slug());
    let fields = form_fields(s, who, kind, values, errors).await?;
    let shown: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    let other_errors = errors
        .0
        .iter()
        .filter(|e| !shown.contains(&e.field.as_str()))
        .map(|e| error_text(t, e.code, &e.message))
        .collect();
    let (heading, action, cancel) = match existing {
        Some(id) => (t.get(&format!("edit-{}", kind.slug())), format!("{base}/{id}/edit"), format!("{base}/{id}")),
        None => (t.get(&format!("new-{}", kind.slug())), format!("{base}/new"), base.clone()),
    };
    Ok(FormPage {
        c: who.chrome(heading.clone()),
        t,
        slug: kind.slug(),
        register: t.get(&format!("nav-{}", kind.slug())),
        heading,
        action,
        cancel,
        csrf: who.csrf.clone(),
        fields,
        other_errors,
    })
}

async fn new_form<R: Register>(State(s): State<AppState>, who: Signed) -> PageResult {
    if !can_write(&who.user, R::KIND) {
        return Err(Failure::forbidden(who.t));
    }
    let page = form_page(&s, &who, R::KIND, None, &HashMap::new(), &FieldErrors::new()).await?;
    Ok(render(StatusCode::OK, &page))
}

/// Store errors that belong on the form (duplicate key, unknown reference).
fn form_errors(t: Tr, e: StoreError) -> Result<FieldErrors, Failure> {
    match e {
        StoreError::Invalid(fe) => Ok(fe),
        StoreError::Conflict { field, value } => {
            let mut fe = FieldErrors::new();
            fe.push(field, "exists", format!("{value} already exists"));
            Ok(fe)
        }
        other => Err(Failure::internal(t, other)),
    }
}

async fn save<R: Register>(s: &AppState, who: &Signed, id: Option<i64>, f: HashMap<String, String>) -> PageResult {
    let t = who.t;
    let kind = R::KIND;
    who.check_csrf(f.get("csrf"))?;
    if !can_write(&who.user, kind) {
        return Err(Failure::forbidden(t));
    }
    let own = own_entity(s, who).await?;
    let parsed = R::parse_draft(&|k: &str| f.get(k).cloned());
    let result: Result<(), FieldErrors> = match parsed {
        Err(fe) => Err(fe),
        Ok(mut draft) => {
            if let Some((_, code)) = &own {
                R::force_owner(&mut draft, code);
            }
            let actor = qgov_store::Actor::user(&who.user.username);
            let stored = match id {
                Some(id) => s.store.update::<R>(&actor, id, &draft).await,
                None => s.store.create::<R>(&actor, &draft).await,
            };
            match stored {
                Ok(rec) => {
                    let new_id = record_fields(&rec, &["id"]).remove("id").unwrap_or_default();
                    return Ok(Redirect::to(&format!("/console/{}/{new_id}", kind.slug())).into_response());
                }
                Err(StoreError::NotFound) => return Err(Failure::not_found(t)),
                Err(e) => Err(form_errors(t, e)?),
            }
        }
    };
    let errors = result.unwrap_err();
    let page = form_page(s, who, kind, id.map(|i| i.to_string()).as_deref(), &f, &errors).await?;
    Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
}

async fn create<R: Register>(
    State(s): State<AppState>,
    who: Signed,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    save::<R>(&s, &who, None, f).await
}

/// Load a record for editing: readable, writable, and for an enterprise its own.
async fn editable<R: Register>(s: &AppState, who: &Signed, id: &str) -> Result<(i64, R), Failure> {
    let rec: R = readable(s, who, id).await?;
    if !can_write(&who.user, R::KIND) {
        return Err(Failure::forbidden(who.t));
    }
    if who.role() == Role::Enterprise && (rec.owner().is_none() || rec.owner() != who.user.entity_id) {
        return Err(Failure::not_found(who.t));
    }
    Ok((id.parse().map_err(|_| Failure::not_found(who.t))?, rec))
}

async fn edit_form<R: Register>(State(s): State<AppState>, who: Signed, Path(id): Path<String>) -> PageResult {
    let (_, rec) = editable::<R>(&s, &who, &id).await?;
    let values = record_fields(&rec, R::KIND.columns());
    let page = form_page(&s, &who, R::KIND, Some(&id), &values, &FieldErrors::new()).await?;
    Ok(render(StatusCode::OK, &page))
}

async fn update<R: Register>(
    State(s): State<AppState>,
    who: Signed,
    Path(id): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    who.check_csrf(f.get("csrf"))?;
    let (id, _) = editable::<R>(&s, &who, &id).await?;
    save::<R>(&s, &who, Some(id), f).await
}

/// One refused row of an import, ready to show.
struct ImportRow {
    row: usize,
    column: String,
    message: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "register_import.html")]
struct ImportPage {
    c: Chrome,
    t: Tr,
    slug: &'static str,
    register: String,
    csrf: String,
    columns: String,
    /// Rows stored, when the import went through.
    inserted: Option<usize>,
    /// A problem with the file as a whole.
    file_error: Option<String>,
    bad_rows: Vec<ImportRow>,
    /// Bad rows were skipped (the good ones were stored) rather than refusing the file.
    skipped: bool,
}

fn import_page(who: &Signed, kind: RegisterKind) -> ImportPage {
    let t = who.t;
    ImportPage {
        c: who.chrome(t.get(&format!("import-{}", kind.slug()))),
        t,
        slug: kind.slug(),
        register: t.get(&format!("nav-{}", kind.slug())),
        csrf: who.csrf.clone(),
        columns: kind.columns().join(", "),
        inserted: None,
        file_error: None,
        bad_rows: vec![],
        skipped: false,
    }
}

fn import_rows(t: Tr, rows: &[RowError]) -> Vec<ImportRow> {
    rows.iter()
        .map(|r| {
            let (message, detail) = error_text(t, &r.code, &r.reason);
            ImportRow { row: r.row, column: r.column.clone(), message, detail }
        })
        .collect()
}

async fn import_form<R: Register>(who: Signed) -> PageResult {
    if !can_import(&who.user, R::KIND) {
        return Err(Failure::forbidden(who.t));
    }
    Ok(render(StatusCode::OK, &import_page(&who, R::KIND)))
}

async fn import<R: Register>(State(s): State<AppState>, who: Signed, mut form: Multipart) -> PageResult {
    let t = who.t;
    if !can_import(&who.user, R::KIND) {
        return Err(Failure::forbidden(t));
    }
    let (mut csrf, mut file, mut file_name, mut skip) = (None, None, String::new(), false);
    while let Some(field) =
        form.next_field().await.map_err(|e| Failure::new(t, StatusCode::BAD_REQUEST).with_detail(e.to_string()))?
    {
        match field.name().unwrap_or("") {
            "csrf" => csrf = field.text().await.ok(),
            "skip_invalid" => skip = true,
            "file" => {
                file_name = field.file_name().unwrap_or("").to_owned();
                file = Some(
                    field
                        .bytes()
                        .await
                        .map_err(|e| Failure::new(t, StatusCode::BAD_REQUEST).with_detail(e.to_string()))?,
                );
            }
            _ => {}
        }
    }
    who.check_csrf(csrf.as_ref())?;
    let mut page = import_page(&who, R::KIND);
    let bytes = file.filter(|b| !b.is_empty());
    let Some(bytes) = bytes else {
        page.file_error = Some(t.get("import-no-file"));
        return Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page));
    };
    let format =
        Format::from_file_name(&file_name).unwrap_or(if bytes.starts_with(b"PK") { Format::Xlsx } else { Format::Csv });
    let mode = if skip { ImportMode::SkipInvalid } else { ImportMode::AllOrNothing };
    let actor = qgov_store::Actor::user(&who.user.username);
    let status = match import_bytes::<R>(&s, &actor, format, &bytes, mode).await {
        Ok(report) => {
            page.inserted = Some(report.inserted);
            page.skipped = !report.skipped.is_empty();
            page.bad_rows = import_rows(t, &report.skipped);
            StatusCode::OK
        }
        Err(ApiError::InvalidRows(rows)) => {
            page.bad_rows = import_rows(t, &rows);
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Err(ApiError::BadRequest(m)) => {
            page.file_error = Some(m);
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Err(other) => return Err(Failure::from_api(t, other)),
    };
    Ok(render(status, &page))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(role: Role, entity: Option<i64>) -> User {
        User {
            id: 1,
            username: "u".into(),
            role,
            department_id: None,
            entity_id: entity,
            active: true,
            created_at: String::new(),
        }
    }

    #[test]
    fn scopes_follow_the_api_access_rules() {
        let ent = user(Role::Enterprise, Some(7));
        assert_eq!(read_scope(&ent, RegisterKind::Products), Some(Some(7)));
        assert_eq!(read_scope(&ent, RegisterKind::Enterprises), Some(Some(7)));
        assert_eq!(read_scope(&ent, RegisterKind::Inspectors), None);
        assert_eq!(read_scope(&ent, RegisterKind::Departments), Some(None));
        assert!(can_write(&ent, RegisterKind::Products) && !can_write(&ent, RegisterKind::Enterprises));
        assert!(!can_import(&ent, RegisterKind::Products));
        let insp = user(Role::Inspector, None);
        assert_eq!(read_scope(&insp, RegisterKind::Inspectors), Some(None));
        assert!(RegisterKind::ALL.iter().all(|k| !can_write(&insp, *k)));
        let reg = user(Role::Regulator, None);
        assert!(can_write(&reg, RegisterKind::Enterprises) && !can_write(&reg, RegisterKind::Departments));
        assert!(!can_import(&reg, RegisterKind::Departments));
        let admin = user(Role::Admin, None);
        assert!(can_write(&admin, RegisterKind::Departments) && can_import(&admin, RegisterKind::Departments));
    }
}
