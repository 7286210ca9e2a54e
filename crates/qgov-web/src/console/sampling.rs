//! Console pages of supervision sampling ("double random, one public"), part one: the
//! check-item list, annual plans and tasks with their verifiable draw, the directories
//! (credit classes, inspector conflicts of interest), the limits table and the working-day
//! calendar. Samples, notices and figures are in [`super::sampling_samples`]; the public
//! pages in [`super::portal_sampling`]. Who may do what is the API's rule: staff read,
//! admins and regulators write, enterprises see only their own samples.

use super::widgets::error_text;
use super::{Chrome, Failure, NavItem, OrFail, PageResult, Signed, render};
use crate::AppState;
use crate::api::sampling::limits_from_file;
use crate::i18n::Tr;
use crate::problem::ApiError;
use crate::tabular::Format;
use askama::Template;
use axum::Router;
use axum::extract::{Form, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use qgov_domain::FieldErrors;
use qgov_domain::registers::{EntityType, Industry};
use qgov_sampling::draw::CreditRiskClass;
use qgov_sampling::judgement::Limit;
use qgov_store::sampling::drafts::{CheckItemDraft, PlanDraft, TaskDraft};
use qgov_store::sampling::{
    CalendarYear, CheckItem, ConflictRecord, CreditClassRecord, DrawRecord, SamplingPlan, SamplingTask,
};
use qgov_store::{Actor, Department, Inspector, ListQuery, StoreError};
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/sampling", get(hub))
        .route("/console/sampling/check-items", get(check_items))
        .route("/console/sampling/check-items/new", get(check_item_new).post(check_item_create))
        .route("/console/sampling/check-items/{id}/edit", get(check_item_edit).post(check_item_update))
        .route("/console/sampling/plans/new", get(plan_new).post(plan_create))
        .route("/console/sampling/plans/{id}", get(plan_page))
        .route("/console/sampling/plans/{id}/edit", get(plan_edit).post(plan_update))
        .route("/console/sampling/tasks/new", get(task_new).post(task_create))
        .route("/console/sampling/tasks/{id}", get(task_page))
        .route("/console/sampling/tasks/{id}/edit", get(task_edit).post(task_update))
        .route("/console/sampling/tasks/{id}/commit", post(draw_commit))
        .route("/console/sampling/tasks/{id}/reveal", post(draw_reveal))
        .route("/console/sampling/directory", get(directory))
        .route("/console/sampling/directory/credit-class", post(credit_class))
        .route("/console/sampling/directory/conflict", post(conflict))
        .route("/console/sampling/limits", get(limits).post(limits_import))
        .route("/console/sampling/calendar", get(calendar).post(calendar_load))
}

// ---------------------------------------------------------------- shared pieces

/// Refuse unless staff (admin, regulator, inspector) — enterprises only see their samples.
pub(super) fn require_staff(who: &Signed) -> Result<(), Failure> {
    if who.role().can_read_all() { Ok(()) } else { Err(Failure::forbidden(who.t)) }
}

/// Refuse unless the user may change sampling records (admin, regulator).
pub(super) fn require_editor(who: &Signed) -> Result<(), Failure> {
    if who.role().can_edit_registers() { Ok(()) } else { Err(Failure::forbidden(who.t)) }
}

pub(super) fn actor(who: &Signed) -> Actor {
    Actor::user(&who.user.username)
}

/// The tabs under the sampling section, the current one marked.
pub(super) fn tabs(who: &Signed) -> Vec<NavItem> {
    let t = who.t;
    let path = who.path.split('?').next().unwrap_or("");
    let mut items: Vec<(&str, &str)> = vec![];
    if who.role().can_read_all() {
        items.extend([
            ("stab-tasks", "/console/sampling"),
            ("stab-samples", "/console/sampling/samples"),
            ("stab-check-items", "/console/sampling/check-items"),
            ("stab-directory", "/console/sampling/directory"),
            ("stab-limits", "/console/sampling/limits"),
            ("stab-figures", "/console/sampling/figures"),
            ("stab-calendar", "/console/sampling/calendar"),
        ]);
    } else {
        items.push(("stab-samples", "/console/sampling/samples"));
    }
    items
        .into_iter()
        .map(|(key, href)| NavItem {
            label: t.get(key),
            href: href.to_owned(),
            active: if href == "/console/sampling" {
                path == href
                    || path.starts_with("/console/sampling/plans")
                    || path.starts_with("/console/sampling/tasks")
            } else {
                path.starts_with(href)
            },
        })
        .collect()
}

/// Form pairs into named fields; a name given several times (check boxes) becomes a
/// `;`-joined list, the list form every sampling draft reads.
pub(super) fn fields(pairs: Vec<(String, String)>) -> HashMap<String, String> {
    let mut out: HashMap<String, String> = HashMap::new();
    for (k, v) in pairs {
        let v = v.trim().to_owned();
        if v.is_empty() {
            out.entry(k).or_default();
            continue;
        }
        match out.get_mut(&k) {
            Some(existing) if !existing.is_empty() => {
                existing.push(';');
                existing.push_str(&v);
            }
            _ => {
                out.insert(k, v);
            }
        }
    }
    out
}

/// A `datetime-local` value (`2025-09-23T10:00`, local time in Tianjin) as RFC 3339 with
/// the UTC+8 offset; other text is passed on for the draft to refuse with its message.
pub(super) fn local_instant(v: &str) -> String {
    let v = v.trim();
    let b = v.as_bytes();
    let shaped = |len: usize| b.len() == len && b.get(10) == Some(&b'T') && !v.contains(['+', 'Z']);
    if shaped(16) {
        format!("{v}:00+08:00")
    } else if shaped(19) {
        format!("{v}+08:00")
    } else {
        v.to_owned()
    }
}

/// A stored UTC instant as local (UTC+8) `YYYY-MM-DD HH:MM`.
pub(super) fn local_time(s: &str) -> String {
    use time::format_description::well_known::Rfc3339;
    match time::OffsetDateTime::parse(s, &Rfc3339) {
        Ok(t) => {
            let l = t.to_offset(qgov_sampling::deadline::CHINA_OFFSET);
            format!("{:04}-{:02}-{:02} {:02}:{:02}", l.year(), u8::from(l.month()), l.day(), l.hour(), l.minute())
        }
        Err(_) => s.to_owned(),
    }
}

/// Base64 (RFC 4648, padded) for turning uploaded files into data URLs.
pub(super) fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A multipart form: text fields (lists `;`-joined) and files as data URLs under their
/// field name (`;`-joined, as the drafts read lists of files). Empty file inputs are skipped.
pub(super) async fn multipart_fields(t: Tr, mut form: Multipart) -> Result<HashMap<String, String>, Failure> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        Failure::new(t, StatusCode::BAD_REQUEST).with_detail(e.to_string())
    };
    let mut pairs = vec![];
    while let Some(field) = form.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_owned();
        if field.file_name().is_some() {
            let kind = field.content_type().unwrap_or("application/octet-stream").to_owned();
            let bytes = field.bytes().await.map_err(bad)?;
            if !bytes.is_empty() {
                pairs.push((name, format!("data:{kind};base64,{}", base64(&bytes))));
            }
        } else {
            pairs.push((name, field.text().await.map_err(bad)?));
        }
    }
    Ok(fields(pairs))
}

/// One input of a sampling form.
#[derive(Debug, Clone)]
pub struct Input {
    pub name: String,
    pub label: String,
    /// `text`, `number`, `date`, `datetime-local`, `textarea`, `select`, `checks`, `checkbox`, `file`, `files`.
    pub kind: &'static str,
    pub value: String,
    /// (value, label, chosen) for selects and check lists.
    pub options: Vec<(String, String, bool)>,
    pub required: bool,
    pub hint: Option<String>,
    /// Translated message and detail.
    pub error: Option<(String, String)>,
    /// `list` attribute: a datalist of suggestions.
    pub suggestions: Vec<String>,
}

impl Input {
    pub fn new(t: Tr, name: &str, kind: &'static str, values: &HashMap<String, String>) -> Self {
        Self {
            name: name.to_owned(),
            label: t.get(&format!("sf-{name}")),
            kind,
            value: values.get(name).cloned().unwrap_or_default(),
            options: vec![],
            required: false,
            hint: None,
            error: None,
            suggestions: vec![],
        }
    }
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
    pub fn hint(mut self, t: Tr, key: &str) -> Self {
        self.hint = Some(t.get(key));
        self
    }
    /// Options of a select or a check list; the current value (`;`-joined for lists) is chosen.
    pub fn options(mut self, opts: Vec<(String, String)>) -> Self {
        let chosen: Vec<String> = self.value.split(';').map(str::to_owned).collect();
        self.options = opts
            .into_iter()
            .map(|(v, l)| {
                let c = chosen.contains(&v);
                (v, l, c)
            })
            .collect();
        self
    }
    pub fn suggest(mut self, s: Vec<String>) -> Self {
        self.suggestions = s;
        self
    }
    pub fn checked(&self) -> bool {
        matches!(self.value.as_str(), "true" | "1" | "on" | "yes")
    }
    pub fn with_errors(mut self, t: Tr, errors: &FieldErrors) -> Self {
        if let Some(e) = errors.get(&self.name) {
            self.error = Some(error_text(t, e.code, &e.message));
        }
        self
    }
}

/// Errors of fields no input shows (e.g. `draw` conflicts), for an alert above the form.
pub(super) fn other_errors(t: Tr, inputs: &[Input], errors: &FieldErrors) -> Vec<(String, String)> {
    errors
        .0
        .iter()
        .filter(|e| !inputs.iter().any(|i| i.name == e.field))
        .map(|e| {
            let (m, d) = error_text(t, e.code, &e.message);
            (format!("{}: {m}", e.field), d)
        })
        .collect()
}

/// What a form submission came to: stored, or field errors to show, or a conflict message.
pub(super) enum Saved<T> {
    Ok(T),
    Invalid(FieldErrors),
}

pub(super) fn saved<T>(t: Tr, r: Result<T, StoreError>) -> Result<Saved<T>, Failure> {
    match r {
        Ok(v) => Ok(Saved::Ok(v)),
        Err(StoreError::Invalid(e)) => Ok(Saved::Invalid(e)),
        Err(StoreError::Conflict { field, value }) => {
            let mut e = FieldErrors::new();
            e.push(field, "exists", value);
            Ok(Saved::Invalid(e))
        }
        Err(StoreError::NotFound) => Err(Failure::not_found(t)),
        Err(other) => Err(Failure::internal(t, other)),
    }
}

pub(super) async fn departments(s: &AppState, t: Tr) -> Result<Vec<(String, String)>, Failure> {
    let q = ListQuery { per_page: 500, sort: Some("code".into()), ..Default::default() };
    let list = s.store.list::<Department>(&q).await.or_fail(t)?.items;
    Ok(list
        .into_iter()
        .map(|d| {
            let label = match (&d.name_en, t.lang) {
                (Some(en), crate::i18n::Lang::En) => en.clone(),
                _ => d.name.clone(),
            };
            (d.code, label)
        })
        .collect())
}

pub(super) async fn inspectors(s: &AppState, t: Tr) -> Result<Vec<Inspector>, Failure> {
    let q = ListQuery { per_page: 1000, sort: Some("name".into()), ..Default::default() };
    Ok(s.store.list::<Inspector>(&q).await.or_fail(t)?.items)
}

/// A form page: heading, inputs, where it posts, where "cancel" goes.
#[derive(Template)]
#[template(path = "sampling/form.html")]
struct FormPage {
    c: Chrome,
    t: Tr,
    tabs: Vec<NavItem>,
    heading: String,
    action: String,
    cancel: String,
    csrf: String,
    multipart: bool,
    inputs: Vec<Input>,
    other_errors: Vec<(String, String)>,
}

fn form_page(
    who: &Signed,
    heading: String,
    action: String,
    cancel: String,
    inputs: Vec<Input>,
    errors: &FieldErrors,
) -> FormPage {
    let other_errors = other_errors(who.t, &inputs, errors);
    FormPage {
        c: who.chrome(heading.clone()),
        t: who.t,
        tabs: tabs(who),
        heading,
        action,
        cancel,
        csrf: who.csrf.clone(),
        multipart: inputs.iter().any(|i| i.kind == "file" || i.kind == "files"),
        inputs,
        other_errors,
    }
}

fn status_of(errors: &FieldErrors) -> StatusCode {
    if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY }
}

fn id_of(t: Tr, id: &str) -> Result<i64, Failure> {
    id.parse().map_err(|_| Failure::not_found(t))
}

// ---------------------------------------------------------------- hub: plans and tasks

struct TaskLine {
    id: i64,
    name: String,
    period: String,
    mode: String,
    items: String,
    draw: String,
}

struct PlanBlock {
    plan: SamplingPlan,
    tasks: Vec<TaskLine>,
}

#[derive(Template)]
#[template(path = "sampling/hub.html")]
struct HubPage {
    c: Chrome,
    t: Tr,
    tabs: Vec<NavItem>,
    plans: Vec<PlanBlock>,
    can_write: bool,
    overdue: usize,
}

fn mode_text(t: Tr, task: &SamplingTask) -> String {
    match (task.count, &task.ratios) {
        (Some(n), _) => t.arg("task-mode-count", "count", n),
        (None, Some(r)) => t.arg("task-mode-ratios", "ratios", r),
        (None, None) => String::new(),
    }
}

async fn draw_state(s: &AppState, t: Tr, task_id: i64) -> Result<(Option<DrawRecord>, String), Failure> {
    match s.store.draw_of(task_id).await {
        Ok(d) => {
            let label =
                if d.revealed_at.is_some() { t.get("draw-state-revealed") } else { t.get("draw-state-committed") };
            Ok((Some(d), label))
        }
        Err(StoreError::NotFound) => Ok((None, t.get("draw-state-none"))),
        Err(e) => Err(Failure::internal(t, e)),
    }
}

async fn hub(State(s): State<AppState>, who: Signed) -> PageResult {
    let t = who.t;
    if !who.role().can_read_all() {
        return Ok(Redirect::to("/console/sampling/samples").into_response());
    }
    let mut plans = vec![];
    for plan in s.store.list_plans().await.or_fail(t)? {
        let mut tasks = vec![];
        for task in s.store.list_tasks(Some(plan.id)).await.or_fail(t)? {
            let (_, draw) = draw_state(&s, t, task.id).await?;
            tasks.push(TaskLine {
                id: task.id,
                period: format!("{} – {}", task.period_start, task.period_end),
                mode: mode_text(t, &task),
                items: task.check_item_codes.join("、"),
                name: task.name,
                draw,
            });
        }
        plans.push(PlanBlock { plan, tasks });
    }
    let overdue = s.store.overdue_steps(time::OffsetDateTime::now_utc()).await.or_fail(t)?.len();
    let page = HubPage {
        c: who.chrome(t.get("nav-sampling")),
        t,
        tabs: tabs(&who),
        plans,
        can_write: who.role().can_edit_registers(),
        overdue,
    };
    Ok(render(StatusCode::OK, &page))
}

// ---------------------------------------------------------------- check items

#[derive(Template)]
#[template(path = "sampling/check_items.html")]
struct CheckItemsPage {
    c: Chrome,
    t: Tr,
    tabs: Vec<NavItem>,
    items: Vec<CheckItem>,
    can_write: bool,
}

async fn check_items(State(s): State<AppState>, who: Signed) -> PageResult {
    require_staff(&who)?;
    let t = who.t;
    let page = CheckItemsPage {
        c: who.chrome(t.get("stab-check-items")),
        t,
        tabs: tabs(&who),
        items: s.store.list_check_items().await.or_fail(t)?,
        can_write: who.role().can_edit_registers(),
    };
    Ok(render(StatusCode::OK, &page))
}

fn check_item_inputs(t: Tr, v: &HashMap<String, String>, e: &FieldErrors) -> Vec<Input> {
    let vocab = |name: &str, keys: &[&str]| keys.iter().map(|k| ((*k).to_owned(), t.value(name, k))).collect();
    vec![
        Input::new(t, "code", "text", v).required(),
        Input::new(t, "name", "text", v).required(),
        Input::new(t, "sub_items", "textarea", v).hint(t, "hint-one-per-line"),
        Input::new(t, "legal_basis", "textarea", v).required(),
        Input::new(t, "authority", "text", v).required(),
        Input::new(t, "object_type", "text", v).required(),
        Input::new(t, "ratio", "text", v).hint(t, "hint-ratio"),
        Input::new(t, "frequency", "text", v),
        Input::new(t, "method", "select", v).required().options(vocab("method", &["written", "on_site", "online"])),
        Input::new(t, "inspector_requirements", "text", v),
        Input::new(t, "category", "select", v).required().options(vocab("category", &["general", "key"])),
        Input::new(t, "remarks", "text", v),
    ]
    .into_iter()
    .map(|i| i.with_errors(t, e))
    .collect()
}

/// Sub-items are typed one per line and stored as a list.
fn lines_to_list(v: &mut HashMap<String, String>, name: &str) {
    if let Some(text) = v.get_mut(name) {
        *text = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(";");
    }
}

fn check_item_page(who: &Signed, id: Option<i64>, v: &HashMap<String, String>, e: &FieldErrors) -> FormPage {
    let t = who.t;
    let (heading, action) = match id {
        Some(id) => (t.get("check-item-edit"), format!("/console/sampling/check-items/{id}/edit")),
        None => (t.get("check-item-new"), "/console/sampling/check-items/new".to_owned()),
    };
    form_page(who, heading, action, "/console/sampling/check-items".into(), check_item_inputs(t, v, e), e)
}

async fn check_item_new(who: Signed) -> PageResult {
    require_editor(&who)?;
    let v = HashMap::from([("category".to_owned(), "general".to_owned()), ("method".to_owned(), "on_site".to_owned())]);
    Ok(render(StatusCode::OK, &check_item_page(&who, None, &v, &FieldErrors::new())))
}

async fn check_item_create(State(s): State<AppState>, who: Signed, Form(f): Form<Vec<(String, String)>>) -> PageResult {
    check_item_save(&s, &who, None, f).await
}

async fn check_item_edit(State(s): State<AppState>, who: Signed, Path(id): Path<String>) -> PageResult {
    require_editor(&who)?;
    let id = id_of(who.t, &id)?;
    let item = s.store.check_item(id).await.or_fail(who.t)?;
    let mut v = crate::api::registers::record_fields(&item, CheckItemDraft::COLUMNS);
    v.insert("sub_items".into(), item.sub_items.join("\n"));
    Ok(render(StatusCode::OK, &check_item_page(&who, Some(id), &v, &FieldErrors::new())))
}

async fn check_item_update(
    State(s): State<AppState>,
    who: Signed,
    Path(id): Path<String>,
    Form(f): Form<Vec<(String, String)>>,
) -> PageResult {
    let id = id_of(who.t, &id)?;
    check_item_save(&s, &who, Some(id), f).await
}

async fn check_item_save(s: &AppState, who: &Signed, id: Option<i64>, f: Vec<(String, String)>) -> PageResult {
    let t = who.t;
    let mut v = fields(f);
    who.check_csrf(v.get("csrf"))?;
    require_editor(who)?;
    let shown = v.clone();
    lines_to_list(&mut v, "sub_items");
    let errors = match CheckItemDraft::parse(&|k: &str| v.get(k).cloned()) {
        Err(e) => e,
        Ok(d) => {
            let r = match id {
                Some(id) => s.store.update_check_item(&actor(who), id, &d).await,
                None => s.store.create_check_item(&actor(who), &d).await,
            };
            match saved(t, r)? {
                Saved::Ok(_) => return Ok(Redirect::to("/console/sampling/check-items").into_response()),
                Saved::Invalid(e) => e,
            }
        }
    };
    Ok(render(status_of(&errors), &check_item_page(who, id, &shown, &errors)))
}

// ---------------------------------------------------------------- plans

async fn plan_inputs(s: &AppState, t: Tr, v: &HashMap<String, String>, e: &FieldErrors) -> Result<Vec<Input>, Failure> {
    let deps = departments(s, t).await?;
    Ok(vec![
        Input::new(t, "year", "number", v).required(),
        Input::new(t, "name", "text", v).required(),
        Input::new(t, "department_code", "select", v).required().options(deps),
        Input::new(t, "description", "textarea", v),
    ]
    .into_iter()
    .map(|i| i.with_errors(t, e))
    .collect())
}

async fn plan_form(
    s: &AppState,
    who: &Signed,
    id: Option<i64>,
    v: &HashMap<String, String>,
    e: &FieldErrors,
) -> Result<FormPage, Failure> {
    let t = who.t;
    let (heading, action, cancel) = match id {
        Some(id) => {
            (t.get("plan-edit"), format!("/console/sampling/plans/{id}/edit"), format!("/console/sampling/plans/{id}"))
        }
        None => (t.get("plan-new"), "/console/sampling/plans/new".to_owned(), "/console/sampling".to_owned()),
    };
    let inputs = plan_inputs(s, t, v, e).await?;
    Ok(form_page(who, heading, action, cancel, inputs, e))
}

async fn plan_new(State(s): State<AppState>, who: Signed) -> PageResult {
    require_editor(&who)?;
    let year = qgov_sampling::deadline::local_date(time::OffsetDateTime::now_utc()).year();
    let v = HashMap::from([("year".to_owned(), year.to_string()), ("department_code".to_owned(), "amr".to_owned())]);
    Ok(render(StatusCode::OK, &plan_form(&s, &who, None, &v, &FieldErrors::new()).await?))
}

async fn plan_create(State(s): State<AppState>, who: Signed, Form(f): Form<Vec<(String, String)>>) -> PageResult {
    plan_save(&s, &who, None, f).await
}

async fn plan_edit(State(s): State<AppState>, who: Signed, Path(id): Path<String>) -> PageResult {
    require_editor(&who)?;
    let id = id_of(who.t, &id)?;
    let plan = s.store.plan(id).await.or_fail(who.t)?;
    let v = crate::api::registers::record_fields(&plan, PlanDraft::COLUMNS);
    Ok(render(StatusCode::OK, &plan_form(&s, &who, Some(id), &v, &FieldErrors::new()).await?))
}

async fn plan_update(
    State(s): State<AppState>,
    who: Signed,
    Path(id): Path<String>,
    Form(f): Form<Vec<(String, String)>>,
) -> PageResult {
    let id = id_of(who.t, &id)?;
    plan_save(&s, &who, Some(id), f).await
}

async fn plan_save(s: &AppState, who: &Signed, id: Option<i64>, f: Vec<(String, String)>) -> PageResult {
    let t = who.t;
    let v = fields(f);
    who.check_csrf(v.get("csrf"))?;
    require_editor(who)?;
    let errors = match PlanDraft::parse(&|k: &str| v.get(k).cloned()) {
        Err(e) => e,
        Ok(d) => {
            let r = match id {
                Some(id) => s.store.update_plan(&actor(who), id, &d).await,
                None => s.store.create_plan(&actor(who), &d).await,
            };
            match saved(t, r)? {
                Saved::Ok(p) => return Ok(Redirect::to(&format!("/console/sampling/plans/{}", p.id)).into_response()),
                Saved::Invalid(e) => e,
            }
        }
    };
    Ok(render(status_of(&errors), &plan_form(s, who, id, &v, &errors).await?))
}

#[derive(Template)]
#[template(path = "sampling/plan.html")]
struct PlanPage {
    c: Chrome,
    t: Tr,
    tabs: Vec<NavItem>,
    plan: SamplingPlan,
    tasks: Vec<TaskLine>,
    can_write: bool,
}

async fn plan_page(State(s): State<AppState>, who: Signed, Path(id): Path<String>) -> PageResult {
    require_staff(&who)?;
    let t = who.t;
    let plan = s.store.plan(id_of(t, &id)?).await.or_fail(t)?;
    let mut tasks = vec![];
    for task in s.store.list_tasks(Some(plan.id)).await.or_fail(t)? {
        let (_, draw) = draw_state(&s, t, task.id).await?;
        tasks.push(TaskLine {
            id: task.id,
            period: format!("{} – {}", task.period_start, task.period_end),
            mode: mode_text(t, &task),
            items: task.check_item_codes.join("、"),
            name: task.name,
            draw,
        });
    }
    let page = PlanPage {
        c: who.chrome(plan.name.clone()),
        t,
        tabs: tabs(&who),
        plan,
        tasks,
        can_write: who.role().can_edit_registers(),
    };
    Ok(render(StatusCode::OK, &page))
}

// ---------------------------------------------------------------- tasks

const CLASSES: [&str; 4] = ["a", "b", "c", "d"];

/// The task form's values from a stored task (ratios split per class).
fn task_values(task: &SamplingTask) -> HashMap<String, String> {
    let mut v = HashMap::new();
    let o = |x: &Option<String>| x.clone().unwrap_or_default();
    v.insert("plan_id".into(), task.plan_id.to_string());
    v.insert("name".into(), task.name.clone());
    v.insert("targeted".into(), task.targeted.to_string());
    v.insert("scope_industry".into(), o(&task.scope.industry));
    v.insert("scope_entity_type".into(), o(&task.scope.entity_type));
    v.insert("scope_street".into(), o(&task.scope.street));
    v.insert("scope_grid".into(), o(&task.scope.grid));
    v.insert("draw_mode".into(), if task.count.is_some() { "count" } else { "ratios" }.into());
    v.insert("count".into(), task.count.map(|n| n.to_string()).unwrap_or_default());
    split_ratios(&mut v, task.ratios.as_deref().unwrap_or(qgov_store::sampling::drafts::DEFAULT_RATIOS));
    v.insert("per_target".into(), task.per_target.to_string());
    v.insert("period_start".into(), task.period_start.clone());
    v.insert("period_end".into(), task.period_end.clone());
    v.insert("initiating_department_code".into(), task.initiating_department_code.clone());
    v.insert("inspecting_department_codes".into(), task.inspecting_department_codes.join(";"));
    v.insert("check_item_codes".into(), task.check_item_codes.join(";"));
    v
}

fn split_ratios(v: &mut HashMap<String, String>, ratios: &str) {
    for part in ratios.split(',') {
        if let Some((class, r)) = part.split_once('=') {
            v.insert(format!("ratio_{}", class.trim().to_ascii_lowercase()), r.trim().to_owned());
        }
    }
}

/// The draft's fields from the form: the four class ratios joined, or the count.
fn task_fields(v: &HashMap<String, String>) -> HashMap<String, String> {
    let mut f = v.clone();
    if v.get("draw_mode").map(String::as_str) == Some("count") {
        f.remove("ratios");
    } else {
        f.remove("count");
        let parts: Vec<String> = CLASSES
            .iter()
            .filter_map(|c| {
                v.get(&format!("ratio_{c}"))
                    .filter(|r| !r.is_empty())
                    .map(|r| format!("{}={r}", c.to_ascii_uppercase()))
            })
            .collect();
        f.insert("ratios".into(), parts.join(","));
    }
    f.insert("targeted".into(), if v.get("targeted").is_some_and(|x| !x.is_empty()) { "true" } else { "false" }.into());
    f
}

async fn task_inputs(s: &AppState, t: Tr, v: &HashMap<String, String>, e: &FieldErrors) -> Result<Vec<Input>, Failure> {
    let deps = departments(s, t).await?;
    let plans: Vec<(String, String)> = s
        .store
        .list_plans()
        .await
        .or_fail(t)?
        .into_iter()
        .map(|p| (p.id.to_string(), format!("{} · {}", p.year, p.name)))
        .collect();
    let items: Vec<(String, String)> = s
        .store
        .list_check_items()
        .await
        .or_fail(t)?
        .into_iter()
        .map(|c| (c.code.clone(), format!("{} {}", c.code, c.name)))
        .collect();
    let mut any = vec![(String::new(), t.get("filter-all"))];
    let industries: Vec<(String, String)> =
        Industry::ALL.iter().map(|i| (i.key().to_owned(), t.value("industry", i.key()))).collect();
    let types: Vec<(String, String)> =
        EntityType::ALL.iter().map(|i| (i.key().to_owned(), t.value("entity_type", i.key()))).collect();
    let mut inputs = vec![
        Input::new(t, "plan_id", "select", v).required().options(plans),
        Input::new(t, "name", "text", v).required(),
        Input::new(t, "targeted", "checkbox", v).hint(t, "hint-targeted"),
        Input::new(t, "scope_industry", "select", v).options({
            let mut o = any.clone();
            o.extend(industries);
            o
        }),
        Input::new(t, "scope_entity_type", "select", v).options({
            any.extend(types);
            any
        }),
        Input::new(t, "scope_street", "text", v),
        Input::new(t, "scope_grid", "text", v),
        Input::new(t, "draw_mode", "select", v)
            .required()
            .options(vec![("ratios".into(), t.get("draw-mode-ratios")), ("count".into(), t.get("draw-mode-count"))]),
        Input::new(t, "count", "number", v).hint(t, "hint-count"),
    ];
    for c in CLASSES {
        inputs.push(Input::new(t, &format!("ratio_{c}"), "text", v).hint(t, "hint-class-ratio"));
    }
    inputs.extend([
        Input::new(t, "per_target", "number", v).required().hint(t, "hint-per-target"),
        Input::new(t, "period_start", "date", v).required(),
        Input::new(t, "period_end", "date", v).required(),
        Input::new(t, "initiating_department_code", "select", v).required().options(deps.clone()),
        Input::new(t, "inspecting_department_codes", "checks", v).options(deps).hint(t, "hint-joint"),
        Input::new(t, "check_item_codes", "checks", v).required().options(items).hint(t, "hint-check-items"),
    ]);
    // The draft reports ratio problems on `ratios`: show them at the class ratios.
    let mut e = e.clone();
    if let Some(r) = e.get("ratios").cloned() {
        e.push("ratio_a", r.code, r.message);
    }
    Ok(inputs.into_iter().map(|i| i.with_errors(t, &e)).collect())
}

async fn task_form(
    s: &AppState,
    who: &Signed,
    id: Option<i64>,
    v: &HashMap<String, String>,
    e: &FieldErrors,
) -> Result<FormPage, Failure> {
    let t = who.t;
    let (heading, action, cancel) = match id {
        Some(id) => {
            (t.get("task-edit"), format!("/console/sampling/tasks/{id}/edit"), format!("/console/sampling/tasks/{id}"))
        }
        None => (t.get("task-new"), "/console/sampling/tasks/new".to_owned(), "/console/sampling".to_owned()),
    };
    let inputs = task_inputs(s, t, v, e).await?;
    let mut page = form_page(who, heading, action, cancel, inputs, e);
    page.other_errors.retain(|(m, _)| !m.starts_with("ratios:"));
    Ok(page)
}

async fn task_new(State(s): State<AppState>, who: Signed, Query(p): Query<HashMap<String, String>>) -> PageResult {
    require_editor(&who)?;
    let mut v = HashMap::from([
        ("plan_id".to_owned(), p.get("plan_id").cloned().unwrap_or_default()),
        ("per_target".to_owned(), "2".to_owned()),
        ("draw_mode".to_owned(), "ratios".to_owned()),
        ("initiating_department_code".to_owned(), "amr".to_owned()),
    ]);
    split_ratios(&mut v, qgov_store::sampling::drafts::DEFAULT_RATIOS);
    Ok(render(StatusCode::OK, &task_form(&s, &who, None, &v, &FieldErrors::new()).await?))
}

async fn task_create(State(s): State<AppState>, who: Signed, Form(f): Form<Vec<(String, String)>>) -> PageResult {
    task_save(&s, &who, None, f).await
}

async fn task_edit(State(s): State<AppState>, who: Signed, Path(id): Path<String>) -> PageResult {
    require_editor(&who)?;
    let id = id_of(who.t, &id)?;
    let task = s.store.task(id).await.or_fail(who.t)?;
    Ok(render(StatusCode::OK, &task_form(&s, &who, Some(id), &task_values(&task), &FieldErrors::new()).await?))
}

async fn task_update(
    State(s): State<AppState>,
    who: Signed,
    Path(id): Path<String>,
    Form(f): Form<Vec<(String, String)>>,
) -> PageResult {
    let id = id_of(who.t, &id)?;
    task_save(&s, &who, Some(id), f).await
}

async fn task_save(s: &AppState, who: &Signed, id: Option<i64>, f: Vec<(String, String)>) -> PageResult {
    let t = who.t;
    let v = fields(f);
    who.check_csrf(v.get("csrf"))?;
    require_editor(who)?;
    let draft_fields = task_fields(&v);
    let errors = match TaskDraft::parse(&|k: &str| draft_fields.get(k).cloned()) {
        Err(e) => e,
        Ok(d) => {
            let r = match id {
                Some(id) => s.store.update_task(&actor(who), id, &d).await,
                None => s.store.create_task(&actor(who), &d).await,
            };
            match saved(t, r)? {
                Saved::Ok(task) => {
                    return Ok(Redirect::to(&format!("/console/sampling/tasks/{}", task.id)).into_response());
                }
                Saved::Invalid(e) => e,
            }
        }
    };
    Ok(render(status_of(&errors), &task_form(s, who, id, &v, &errors).await?))
}

/// A drawn target with its inspectors, for people.
pub(super) struct DrawnLine {
    pub position: usize,
    pub uscc: String,
    pub name: String,
    pub class: String,
    pub inspectors: String,
}

/// The result of a revealed draw, with names from its own inputs.
pub(super) fn drawn_lines(d: &DrawRecord) -> Vec<DrawnLine> {
    let inputs: Option<qgov_store::sampling::DrawInputs> =
        d.inputs.clone().and_then(|v| serde_json::from_value(v).ok());
    let names: HashMap<String, (String, String)> = inputs
        .as_ref()
        .map(|i| i.targets.iter().map(|t| (t.id.clone(), (t.name.clone(), t.credit_class.to_string()))).collect())
        .unwrap_or_default();
    let people: HashMap<String, String> = inputs
        .as_ref()
        .map(|i| i.inspectors.iter().map(|p| (p.id.clone(), p.name.clone())).collect())
        .unwrap_or_default();
    d.assignments
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, a)| {
            let (name, class) = names.get(&a.target).cloned().unwrap_or_default();
            DrawnLine {
                position: i + 1,
                uscc: a.target.clone(),
                name,
                class,
                inspectors: a
                    .inspectors
                    .iter()
                    .map(|x| match people.get(x) {
                        Some(n) => format!("{n} ({x})"),
                        None => x.clone(),
                    })
                    .collect::<Vec<_>>()
                    .join("、"),
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "sampling/task.html")]
struct TaskPage {
    c: Chrome,
    t: Tr,
    tabs: Vec<NavItem>,
    task: SamplingTask,
    plan: SamplingPlan,
    mode: String,
    scope: String,
    draw: Option<DrawRecord>,
    drawn: Vec<DrawnLine>,
    can_write: bool,
    csrf: String,
    notice: Option<String>,
    error: Option<String>,
}

async fn task_page_with(
    s: &AppState,
    who: &Signed,
    id: i64,
    notice: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> PageResult {
    require_staff(who)?;
    let t = who.t;
    let task = s.store.task(id).await.or_fail(t)?;
    let plan = s.store.plan(task.plan_id).await.or_fail(t)?;
    let (draw, _) = draw_state(s, t, id).await?;
    let drawn = draw.as_ref().map(drawn_lines).unwrap_or_default();
    let sc = &task.scope;
    let mut scope = vec![];
    if let Some(i) = &sc.industry {
        scope.push(t.value("industry", i));
    }
    if let Some(i) = &sc.entity_type {
        scope.push(t.value("entity_type", i));
    }
    scope.extend(sc.street.iter().cloned());
    scope.extend(sc.grid.iter().cloned());
    let scope = if scope.is_empty() { t.get("scope-all") } else { scope.join(" · ") };
    let page = TaskPage {
        c: who.chrome(task.name.clone()),
        t,
        tabs: tabs(who),
        mode: mode_text(t, &task),
        scope,
        task,
        plan,
        draw,
        drawn,
        can_write: who.role().can_edit_registers(),
        csrf: who.csrf.clone(),
        notice,
        error,
    };
    Ok(render(status, &page))
}

async fn task_page(
    State(s): State<AppState>,
    who: Signed,
    Path(id): Path<String>,
    Query(p): Query<HashMap<String, String>>,
) -> PageResult {
    let id = id_of(who.t, &id)?;
    let notice = p.get("done").map(|k| who.t.get(&format!("done-{k}")));
    task_page_with(&s, &who, id, notice, None, StatusCode::OK).await
}

async fn draw_commit(
    State(s): State<AppState>,
    who: Signed,
    Path(id): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    who.check_csrf(f.get("csrf"))?;
    require_editor(&who)?;
    let id = id_of(who.t, &id)?;
    match s.store.draw_commit_sealed(&actor(&who), id).await {
        Ok(_) => Ok(Redirect::to(&format!("/console/sampling/tasks/{id}?done=commit")).into_response()),
        Err(StoreError::Conflict { .. }) => {
            task_page_with(&s, &who, id, None, Some(who.t.get("draw-already-committed")), StatusCode::CONFLICT).await
        }
        Err(e) => Err(Failure::from_api(who.t, ApiError::from(e))),
    }
}

async fn draw_reveal(
    State(s): State<AppState>,
    who: Signed,
    Path(id): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    who.check_csrf(f.get("csrf"))?;
    require_editor(&who)?;
    let id = id_of(who.t, &id)?;
    match s.store.draw_reveal_sealed(&actor(&who), id).await {
        Ok(_) => Ok(Redirect::to(&format!("/console/sampling/tasks/{id}?done=reveal")).into_response()),
        Err(StoreError::Invalid(e)) => {
            let msg = e.0.iter().map(|x| error_text(who.t, x.code, &x.message).0).collect::<Vec<_>>().join("; ");
            task_page_with(&s, &who, id, None, Some(msg), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(StoreError::Conflict { value, .. }) => {
            task_page_with(&s, &who, id, None, Some(value), StatusCode::CONFLICT).await
        }
        Err(e) => Err(Failure::from_api(who.t, ApiError::from(e))),
    }
}

// ---------------------------------------------------------------- directories

#[derive(Template)]
#[template(path = "sampling/directory.html")]
struct DirectoryPage {
    c: Chrome,
    t: Tr,
    tabs: Vec<NavItem>,
    csrf: String,
    can_write: bool,
    class_inputs: Vec<Input>,
    conflict_inputs: Vec<Input>,
    classes: Vec<CreditClassRecord>,
    conflicts: Vec<ConflictRecord>,
    notice: Option<String>,
}

async fn directory_page(
    s: &AppState,
    who: &Signed,
    class_values: (&HashMap<String, String>, &FieldErrors),
    conflict_values: (&HashMap<String, String>, &FieldErrors),
    notice: Option<String>,
) -> PageResult {
    require_staff(who)?;
    let t = who.t;
    let classes: Vec<(String, String)> =
        CreditRiskClass::ALL.iter().map(|c| (c.to_string(), t.value("credit-class", &c.to_string()))).collect();
    let people: Vec<(String, String)> = inspectors(s, t)
        .await?
        .into_iter()
        .map(|i| (i.id.to_string(), format!("{} ({})", i.name, i.certificate_no)))
        .collect();
    let (cv, ce) = class_values;
    let (xv, xe) = conflict_values;
    let class_inputs = vec![
        Input::new(t, "uscc", "text", cv).required(),
        Input::new(t, "class", "select", cv).required().options(classes),
        Input::new(t, "since", "date", cv),
        Input::new(t, "reason", "text", cv),
    ]
    .into_iter()
    .map(|i| i.with_errors(t, ce))
    .collect();
    let conflict_inputs = vec![
        Input::new(t, "inspector_id", "select", xv).required().options(people),
        Input::new(t, "uscc", "text", xv).required(),
        Input::new(t, "reason", "text", xv),
    ]
    .into_iter()
    .map(|i| i.with_errors(t, xe))
    .collect();
    let status = if ce.is_empty() && xe.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let page = DirectoryPage {
        c: who.chrome(t.get("stab-directory")),
        t,
        tabs: tabs(who),
        csrf: who.csrf.clone(),
        can_write: who.role().can_edit_registers(),
        class_inputs,
        conflict_inputs,
        classes: s.store.list_credit_classes(200).await.or_fail(t)?,
        conflicts: s.store.list_conflicts().await.or_fail(t)?,
        notice,
    };
    Ok(render(status, &page))
}

async fn directory(State(s): State<AppState>, who: Signed, Query(p): Query<HashMap<String, String>>) -> PageResult {
    let none = (HashMap::new(), FieldErrors::new());
    let notice = p.get("done").map(|k| who.t.get(&format!("done-{k}")));
    directory_page(&s, &who, (&none.0, &none.1), (&none.0, &none.1), notice).await
}

async fn credit_class(State(s): State<AppState>, who: Signed, Form(f): Form<Vec<(String, String)>>) -> PageResult {
    let v = fields(f);
    who.check_csrf(v.get("csrf"))?;
    require_editor(&who)?;
    let mut e = FieldErrors::new();
    let class = v.get("class").and_then(|c| c.parse::<CreditRiskClass>().ok());
    if class.is_none() {
        e.push("class", "unknown-value", "must be A, B, C or D");
    }
    let since = match v.get("since").filter(|x| !x.is_empty()) {
        None => Some(qgov_sampling::deadline::local_date(time::OffsetDateTime::now_utc())),
        Some(d) => match qgov_sampling::calendar::parse_date(d) {
            Ok(d) => Some(d),
            Err(m) => {
                e.push("since", "bad-date", m);
                None
            }
        },
    };
    let entity = s.store.entity_by_uscc(v.get("uscc").map(String::as_str).unwrap_or("").trim()).await.ok();
    if entity.is_none() {
        e.push("uscc", "unknown-entity", "no market entity with this credit code");
    }
    let none = (HashMap::new(), FieldErrors::new());
    let (Some(class), Some(since), Some(entity)) = (class, since, entity) else {
        return directory_page(&s, &who, (&v, &e), (&none.0, &none.1), None).await;
    };
    let reason = v.get("reason").filter(|r| !r.is_empty()).map(String::as_str);
    s.store.set_credit_class(&actor(&who), entity.id, class, since, reason).await.or_fail(who.t)?;
    Ok(Redirect::to("/console/sampling/directory?done=credit-class").into_response())
}

async fn conflict(State(s): State<AppState>, who: Signed, Form(f): Form<Vec<(String, String)>>) -> PageResult {
    let v = fields(f);
    who.check_csrf(v.get("csrf"))?;
    require_editor(&who)?;
    let mut e = FieldErrors::new();
    let inspector = v.get("inspector_id").and_then(|x| x.parse::<i64>().ok());
    if inspector.is_none() {
        e.push("inspector_id", "required", "choose an inspector");
    }
    let entity = s.store.entity_by_uscc(v.get("uscc").map(String::as_str).unwrap_or("").trim()).await.ok();
    if entity.is_none() {
        e.push("uscc", "unknown-entity", "no market entity with this credit code");
    }
    let none = (HashMap::new(), FieldErrors::new());
    if let (Some(inspector), Some(entity)) = (inspector, entity) {
        let reason = v.get("reason").filter(|r| !r.is_empty()).map(String::as_str);
        match saved(who.t, s.store.declare_conflict(&actor(&who), inspector, entity.id, reason).await)? {
            Saved::Ok(()) => return Ok(Redirect::to("/console/sampling/directory?done=conflict").into_response()),
            Saved::Invalid(x) => {
                for err in x.0 {
                    e.push("uscc", err.code, err.message);
                }
            }
        }
    }
    directory_page(&s, &who, (&none.0, &none.1), (&v, &e), None).await
}

// ---------------------------------------------------------------- limits

/// One refused row of an import.
pub(super) struct BadRow {
    row: usize,
    column: String,
    message: String,
}

#[derive(Template)]
#[template(path = "sampling/limits.html")]
struct LimitsPage {
    c: Chrome,
    t: Tr,
    tabs: Vec<NavItem>,
    csrf: String,
    can_write: bool,
    limits: Vec<Limit>,
    q: String,
    imported: Option<usize>,
    file_error: Option<String>,
    bad_rows: Vec<BadRow>,
    columns: String,
}

impl LimitsPage {
    fn bound(&self, v: &Option<f64>) -> String {
        v.map(qgov_sampling::judgement::fmt_number).unwrap_or_default()
    }
}

async fn limits_page(s: &AppState, who: &Signed, q: &str) -> Result<LimitsPage, Failure> {
    require_staff(who)?;
    let t = who.t;
    let needle = q.trim().to_lowercase();
    let limits = s
        .store
        .list_limits(None, None)
        .await
        .or_fail(t)?
        .into_iter()
        .filter(|l| {
            needle.is_empty()
                || [&l.standard_code, &l.product_category, &l.test_item]
                    .iter()
                    .any(|x| x.to_lowercase().contains(&needle))
        })
        .collect();
    Ok(LimitsPage {
        c: who.chrome(t.get("stab-limits")),
        t,
        tabs: tabs(who),
        csrf: who.csrf.clone(),
        can_write: who.role().can_edit_registers(),
        limits,
        q: q.to_owned(),
        imported: None,
        file_error: None,
        bad_rows: vec![],
        columns: qgov_store::sampling::drafts::LIMIT_COLUMNS.join(","),
    })
}

async fn limits(State(s): State<AppState>, who: Signed, Query(p): Query<HashMap<String, String>>) -> PageResult {
    let page = limits_page(&s, &who, p.get("q").map(String::as_str).unwrap_or("")).await?;
    Ok(render(StatusCode::OK, &page))
}

async fn limits_import(State(s): State<AppState>, who: Signed, mut form: Multipart) -> PageResult {
    let t = who.t;
    let (mut csrf, mut file, mut file_name) = (None, None, String::new());
    let bad = |e: axum::extract::multipart::MultipartError| {
        Failure::new(t, StatusCode::BAD_REQUEST).with_detail(e.to_string())
    };
    while let Some(field) = form.next_field().await.map_err(bad)? {
        match field.name().unwrap_or("") {
            "csrf" => csrf = field.text().await.ok(),
            "file" => {
                file_name = field.file_name().unwrap_or("").to_owned();
                file = Some(field.bytes().await.map_err(bad)?);
            }
            _ => {}
        }
    }
    who.check_csrf(csrf.as_ref())?;
    require_editor(&who)?;
    let bytes = file.filter(|b| !b.is_empty());
    let format = Format::from_file_name(&file_name)
        .unwrap_or(if bytes.as_ref().is_some_and(|b| b.starts_with(b"PK")) { Format::Xlsx } else { Format::Csv });
    let result = match &bytes {
        None => Err(ApiError::BadRequest(t.get("import-no-file"))),
        Some(b) => limits_from_file(format, b),
    };
    let (status, imported, file_error, bad_rows) = match result {
        Ok(limits) => {
            let n = s.store.upsert_limits(&actor(&who), &limits).await.or_fail(t)?;
            (StatusCode::OK, Some(n), None, vec![])
        }
        Err(ApiError::InvalidRows(rows)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            None,
            rows.iter()
                .map(|r| BadRow { row: r.row, column: r.column.clone(), message: error_text(t, &r.code, &r.reason).0 })
                .collect(),
        ),
        Err(ApiError::BadRequest(m)) => (StatusCode::UNPROCESSABLE_ENTITY, None, Some(m), vec![]),
        Err(other) => return Err(Failure::from_api(t, other)),
    };
    let mut page = limits_page(&s, &who, "").await?;
    page.imported = imported;
    page.file_error = file_error;
    page.bad_rows = bad_rows;
    Ok(render(status, &page))
}

// ---------------------------------------------------------------- calendar

#[derive(Template)]
#[template(path = "sampling/calendar.html")]
struct CalendarPage {
    c: Chrome,
    t: Tr,
    tabs: Vec<NavItem>,
    csrf: String,
    is_admin: bool,
    years: Vec<CalendarYear>,
    /// Years around today without data (deadlines there are estimated).
    missing: Vec<i32>,
    source: String,
    error: Option<String>,
    notice: Option<String>,
}

async fn calendar_page(
    s: &AppState,
    who: &Signed,
    source: String,
    error: Option<String>,
    notice: Option<String>,
) -> PageResult {
    require_staff(who)?;
    let t = who.t;
    let years = s.store.calendar_years().await.or_fail(t)?;
    let this = qgov_sampling::deadline::local_date(time::OffsetDateTime::now_utc()).year();
    let missing = (this..=this + 1).filter(|y| !years.iter().any(|c| c.year == i64::from(*y))).collect();
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = CalendarPage {
        c: who.chrome(t.get("stab-calendar")),
        t,
        tabs: tabs(who),
        csrf: who.csrf.clone(),
        is_admin: who.role().is_admin(),
        years,
        missing,
        source,
        error,
        notice,
    };
    Ok(render(status, &page))
}

async fn calendar(State(s): State<AppState>, who: Signed, Query(p): Query<HashMap<String, String>>) -> PageResult {
    let notice = p.get("loaded").map(|y| who.t.arg("calendar-loaded", "year", y));
    calendar_page(&s, &who, String::new(), None, notice).await
}

async fn calendar_load(State(s): State<AppState>, who: Signed, Form(f): Form<HashMap<String, String>>) -> PageResult {
    who.check_csrf(f.get("csrf"))?;
    if !who.role().is_admin() {
        return Err(Failure::forbidden(who.t));
    }
    let source = f.get("source").cloned().unwrap_or_default();
    match s.store.load_calendar_year(&actor(&who), &source).await {
        Ok(year) => Ok(Redirect::to(&format!("/console/sampling/calendar?loaded={year}")).into_response()),
        Err(StoreError::Invalid(e)) => {
            let msg = e.0.iter().map(|x| x.message.clone()).collect::<Vec<_>>().join("; ");
            calendar_page(&s, &who, source, Some(msg), None).await
        }
        Err(e) => Err(Failure::internal(who.t, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_fields_become_lists_and_local_times_get_the_offset() {
        let f = fields(vec![
            ("a".into(), "1".into()),
            ("a".into(), " 2 ".into()),
            ("b".into(), "".into()),
            ("a".into(), "".into()),
        ]);
        assert_eq!(f["a"], "1;2");
        assert_eq!(f["b"], "");
        assert_eq!(local_instant("2025-09-23T10:00"), "2025-09-23T10:00:00+08:00");
        assert_eq!(local_instant("2025-09-23T10:00:05"), "2025-09-23T10:00:05+08:00");
        assert_eq!(local_instant("2025-09-23T10:00:00Z"), "2025-09-23T10:00:00Z");
        assert_eq!(local_time("2025-09-23T02:00:00.000000Z"), "2025-09-23 10:00");
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn task_form_joins_class_ratios_or_keeps_the_count() {
        let v: HashMap<String, String> =
            [("draw_mode", "ratios"), ("ratio_a", "0.05"), ("ratio_d", "1"), ("count", "9")]
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
        let f = task_fields(&v);
        assert_eq!(f["ratios"], "A=0.05,D=1");
        assert!(!f.contains_key("count"));
        assert_eq!(f["targeted"], "false");
        let mut c = v.clone();
        c.insert("draw_mode".into(), "count".into());
        c.insert("targeted".into(), "on".into());
        let f = task_fields(&c);
        assert_eq!((f.get("count").map(String::as_str), f.get("ratios")), (Some("9"), None));
        assert_eq!(f["targeted"], "true");
    }
}
