//! Console pages of supervision sampling, part two: samples (list with overdue badges, the
//! sample record form, the sample page with results, verdicts, deadline steps and one form
//! per possible event), rectification evidence from the enterprise, publication, the
//! printable result notice and rectification order, and the figures page with our own SVG
//! bars. Enterprise accounts see only samples where they are the sampled unit or the named
//! producer (another's is "not found"), as in the API.

use super::links::{ListState, PER_PAGE};
use super::sampling::{
    Input, Saved, actor, fields, inspectors, local_instant, local_time, multipart_fields, require_editor,
    require_staff, saved, tabs,
};
use super::widgets::{FilterControl, Pager, error_text};
use super::{Chrome, Failure, NavItem, OrFail, PageResult, Signed, render};
use crate::AppState;
use crate::i18n::Tr;
use askama::Template;
use axum::Router;
use axum::extract::{Form, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use qgov_domain::{FieldErrors, Role};
use qgov_sampling::deadline::{self, Regime};
use qgov_sampling::judgement::{Measured, Measurement};
use qgov_sampling::workflow::{EventKind, Outcome, SampleStatus, SamplingPurpose};
use qgov_store::StoreError;
use qgov_store::sampling::drafts::{EvidenceDraft, PublicationDraft, SampleDraft, instant};
use qgov_store::sampling::{EventInput, OverdueStep, PassRate, Sample, SampleQuery, SampleSummary, SamplingFigures};
use std::collections::{BTreeMap, HashMap, HashSet};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/sampling/samples", get(list))
        .route("/console/sampling/samples/new", get(new_form).post(create))
        .route("/console/sampling/samples/{id}", get(page))
        .route("/console/sampling/samples/{id}/events", post(event))
        .route("/console/sampling/samples/{id}/results", post(results))
        .route("/console/sampling/samples/{id}/evidence", post(evidence))
        .route("/console/sampling/samples/{id}/publication", post(publication))
        .route("/console/sampling/samples/{id}/result-notice", get(result_notice))
        .route("/console/sampling/samples/{id}/rectification-order", get(rectification_order))
        .route("/console/sampling/figures", get(figures))
}

/// Rows of the results form.
const RESULT_ROWS: usize = 5;

/// A sample the user may see: staff all, an enterprise only its own (else "not found").
async fn visible(s: &AppState, who: &Signed, id: &str) -> Result<Sample, Failure> {
    let t = who.t;
    let id: i64 = id.parse().map_err(|_| Failure::not_found(t))?;
    let sample = s.store.sample(id).await.or_fail(t)?;
    if who.role() == Role::Enterprise {
        let own = who.user.entity_id.unwrap_or(-1);
        if sample.sampled_entity_id != own && sample.producer_entity_id != Some(own) {
            return Err(Failure::not_found(t));
        }
    }
    Ok(sample)
}

fn own_entity(who: &Signed) -> Option<i64> {
    (who.role() == Role::Enterprise).then(|| who.user.entity_id.unwrap_or(-1))
}

fn step_label(t: Tr, rule_id: &str, fallback: &str) -> String {
    let name = rule_id.split_once('.').map_or(rule_id, |(_, n)| n);
    let key = format!("step-{name}");
    let label = t.get(&key);
    if label == key { fallback.to_owned() } else { label }
}

// ---------------------------------------------------------------- list

struct Line {
    s: SampleSummary,
    status: String,
    purpose: String,
    verdict: String,
    overdue: bool,
}

#[derive(Template)]
#[template(path = "sampling/samples.html")]
struct ListPage {
    c: Chrome,
    t: Tr,
    tabs: Vec<NavItem>,
    q: String,
    filters: Vec<FilterControl>,
    lines: Vec<Line>,
    total: i64,
    pager: Pager,
    can_write: bool,
    task_id: String,
}

fn vocab_filter(t: Tr, name: &str, prefix: &str, keys: Vec<&str>, current: &str) -> FilterControl {
    let mut options = vec![(String::new(), t.get("filter-all"), current.is_empty())];
    options.extend(keys.into_iter().map(|k| (k.to_owned(), t.value(prefix, k), k == current)));
    FilterControl { name: name.to_owned(), label: t.get(&format!("sf-{name}")), value: current.to_owned(), options }
}

async fn list(State(s): State<AppState>, who: Signed, Query(p): Query<HashMap<String, String>>) -> PageResult {
    let t = who.t;
    let state = ListState::parse(&p, &[], &["status", "purpose", "task_id"]);
    let q = SampleQuery {
        q: Some(state.q.clone()).filter(|q| !q.is_empty()),
        status: Some(state.filter("status").to_owned()).filter(|x| !x.is_empty()),
        purpose: Some(state.filter("purpose").to_owned()).filter(|x| !x.is_empty()),
        task_id: state.filter("task_id").parse().ok(),
        entity: own_entity(&who),
        limit: i64::from(PER_PAGE),
        offset: i64::from(PER_PAGE) * i64::from(state.page - 1),
    };
    let (items, total) = s.store.list_samples(&q).await.or_fail(t)?;
    let overdue: HashSet<i64> = if who.role().can_read_all() {
        s.store.overdue_steps(time::OffsetDateTime::now_utc()).await.or_fail(t)?.iter().map(|o| o.sample_id).collect()
    } else {
        HashSet::new()
    };
    let lines = items
        .into_iter()
        .map(|x| Line {
            status: t.value("sstatus", &x.status),
            purpose: t.value("purpose", &x.purpose),
            verdict: x.verdict.as_deref().map(|v| t.value("verdict", v)).unwrap_or_default(),
            overdue: overdue.contains(&x.id),
            s: x,
        })
        .collect();
    let filters = vec![
        vocab_filter(
            t,
            "status",
            "sstatus",
            SampleStatus::ALL.iter().map(|x| x.key()).collect(),
            state.filter("status"),
        ),
        vocab_filter(
            t,
            "purpose",
            "purpose",
            SamplingPurpose::ALL.iter().map(|x| x.key()).collect(),
            state.filter("purpose"),
        ),
    ];
    let base = "/console/sampling/samples";
    let page = ListPage {
        c: who.chrome(t.get("stab-samples")),
        t,
        tabs: tabs(&who),
        q: state.q.clone(),
        filters,
        lines,
        total,
        pager: Pager::new(t, &state, base, total, PER_PAGE),
        can_write: who.role().can_edit_registers(),
        task_id: state.filter("task_id").to_owned(),
    };
    Ok(render(StatusCode::OK, &page))
}

// ---------------------------------------------------------------- new sample

async fn sample_inputs(
    s: &AppState,
    t: Tr,
    v: &HashMap<String, String>,
    e: &FieldErrors,
) -> Result<Vec<Input>, Failure> {
    let vocab = |name: &str, keys: Vec<&str>| keys.into_iter().map(|k| (k.to_owned(), t.value(name, k))).collect();
    let people = inspectors(s, t)
        .await?
        .into_iter()
        .map(|i| (i.id.to_string(), format!("{} ({})", i.name, i.certificate_no)))
        .collect();
    let tasks: Vec<(String, String)> = {
        let mut o = vec![(String::new(), t.get("sample-no-task"))];
        o.extend(s.store.list_tasks(None).await.or_fail(t)?.into_iter().map(|x| (x.id.to_string(), x.name)));
        o
    };
    // The targets drawn for the task, offered as the sampled unit.
    let mut drawn = vec![];
    if let Some(task) = v.get("task_id").and_then(|x| x.parse::<i64>().ok())
        && let Ok(d) = s.store.draw_of(task).await
    {
        drawn = d.assignments.unwrap_or_default().into_iter().map(|a| a.target).collect();
    }
    let categories: Vec<String> = {
        let mut c: Vec<String> =
            s.store.list_limits(None, None).await.or_fail(t)?.into_iter().map(|l| l.product_category).collect();
        c.dedup();
        c
    };
    let standards: Vec<String> = {
        let mut c: Vec<String> =
            s.store.list_limits(None, None).await.or_fail(t)?.into_iter().map(|l| l.standard_code).collect();
        c.sort();
        c.dedup();
        c
    };
    Ok(vec![
        Input::new(t, "sample_no", "text", v).required(),
        Input::new(t, "task_id", "select", v).options(tasks),
        Input::new(t, "regime", "select", v)
            .required()
            .options(vocab("regime", Regime::ALL.iter().map(|r| r.key()).collect())),
        Input::new(t, "purpose", "select", v)
            .required()
            .options(vocab("purpose", SamplingPurpose::ALL.iter().map(|r| r.key()).collect())),
        Input::new(t, "product_name", "text", v).required(),
        Input::new(t, "brand", "text", v),
        Input::new(t, "specification", "text", v),
        Input::new(t, "batch_no", "text", v),
        Input::new(t, "production_date", "text", v),
        Input::new(t, "quantity", "text", v),
        Input::new(t, "product_category", "text", v).required().suggest(categories),
        Input::new(t, "standard_code", "text", v).required().suggest(standards),
        Input::new(t, "sampled_uscc", "text", v).required().suggest(drawn).hint(t, "hint-sampled-uscc"),
        Input::new(t, "producer_name", "text", v),
        Input::new(t, "producer_address", "text", v),
        Input::new(t, "producer_uscc", "text", v),
        Input::new(t, "sampler_ids", "checks", v).required().options(people).hint(t, "hint-samplers"),
        Input::new(t, "lab", "text", v),
        Input::new(t, "sampled_at", "datetime-local", v).required(),
        Input::new(t, "rapid_test", "checkbox", v),
        Input::new(t, "photos", "files", v).hint(t, "hint-photos"),
    ]
    .into_iter()
    .map(|i| i.with_errors(t, e))
    .collect())
}

#[derive(Template)]
#[template(path = "sampling/form.html")]
struct SampleForm {
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

async fn sample_form(
    s: &AppState,
    who: &Signed,
    v: &HashMap<String, String>,
    e: &FieldErrors,
) -> Result<SampleForm, Failure> {
    let t = who.t;
    let inputs = sample_inputs(s, t, v, e).await?;
    let other_errors = super::sampling::other_errors(t, &inputs, e);
    Ok(SampleForm {
        c: who.chrome(t.get("sample-new")),
        t,
        tabs: tabs(who),
        heading: t.get("sample-new"),
        action: "/console/sampling/samples/new".into(),
        cancel: "/console/sampling/samples".into(),
        csrf: who.csrf.clone(),
        multipart: true,
        inputs,
        other_errors,
    })
}

async fn new_form(State(s): State<AppState>, who: Signed, Query(p): Query<HashMap<String, String>>) -> PageResult {
    require_editor(&who)?;
    let now = time::OffsetDateTime::now_utc().to_offset(deadline::CHINA_OFFSET);
    let mut v: HashMap<String, String> = HashMap::from([
        ("regime".into(), "food".into()),
        ("purpose".into(), "supervisory".into()),
        (
            "sampled_at".into(),
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}",
                now.year(),
                u8::from(now.month()),
                now.day(),
                now.hour(),
                now.minute()
            ),
        ),
    ]);
    for k in ["task_id", "sampled_uscc"] {
        if let Some(x) = p.get(k) {
            v.insert(k.into(), x.clone());
        }
    }
    Ok(render(StatusCode::OK, &sample_form(&s, &who, &v, &FieldErrors::new()).await?))
}

async fn create(State(s): State<AppState>, who: Signed, form: Multipart) -> PageResult {
    let t = who.t;
    let v = multipart_fields(t, form).await?;
    who.check_csrf(v.get("csrf"))?;
    require_editor(&who)?;
    let mut f = v.clone();
    if let Some(at) = v.get("sampled_at") {
        f.insert("sampled_at".into(), local_instant(at));
    }
    f.insert(
        "rapid_test".into(),
        if v.get("rapid_test").is_some_and(|x| !x.is_empty()) { "true" } else { "false" }.into(),
    );
    let errors = match SampleDraft::parse(&|k: &str| f.get(k).cloned()) {
        Err(e) => e,
        Ok(d) => match saved(t, s.store.create_sample(&actor(&who), &d).await)? {
            Saved::Ok(sample) => {
                return Ok(Redirect::to(&format!("/console/sampling/samples/{}", sample.id)).into_response());
            }
            Saved::Invalid(e) => e,
        },
    };
    // Files are not sent back into a form: ask for them again.
    let mut shown = v;
    shown.remove("photos");
    Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &sample_form(&s, &who, &shown, &errors).await?))
}

// ---------------------------------------------------------------- the sample page

struct StepLine {
    label: String,
    legal_basis: String,
    kind: String,
    due: String,
    estimated: bool,
    state: String,
    state_label: String,
    done_at: String,
}

struct EventLine {
    at: String,
    label: String,
    to: String,
    detail: String,
    actor: String,
}

/// One action form: the event, its label and the inputs it needs.
struct Action {
    kind: String,
    label: String,
    inputs: Vec<Input>,
    /// Posts to `…/results` (a table of measured items) rather than `…/events`.
    results: bool,
    /// Posts to `…/evidence` (multipart).
    evidence: bool,
}

#[derive(Template)]
#[template(path = "sampling/sample.html")]
struct SamplePage {
    c: Chrome,
    t: Tr,
    tabs: Vec<NavItem>,
    s: Sample,
    status: String,
    purpose: String,
    regime: String,
    verdict: String,
    samplers: String,
    steps: Vec<StepLine>,
    events: Vec<EventLine>,
    actions: Vec<Action>,
    result_rows: Vec<usize>,
    suggestions: Vec<(String, String)>,
    csrf: String,
    can_publish: bool,
    publish_inputs: Vec<Input>,
    error: Option<String>,
    notice: Option<String>,
    any_estimated: bool,
    is_enterprise: bool,
}

impl SamplePage {
    fn time(&self, s: &str) -> String {
        local_time(s)
    }
    fn result_verdict(&self, v: &str) -> String {
        self.t.value("verdict", v)
    }
}

fn action_inputs(t: Tr, kind: EventKind) -> Vec<Input> {
    let none = HashMap::new();
    let at = Input::new(t, "at", "datetime-local", &none).hint(t, "hint-at");
    let note = Input::new(t, "note", "textarea", &none);
    let outcome = Input::new(t, "outcome", "select", &none)
        .required()
        .options(vec![("pass".into(), t.get("outcome-pass")), ("fail".into(), t.get("outcome-fail"))]);
    use EventKind as E;
    match kind {
        E::AcceptRetest => vec![at, Input::new(t, "lab", "text", &none).required().hint(t, "hint-retest-lab"), note],
        E::OrderRectification => {
            vec![at, Input::new(t, "note", "textarea", &none).required().hint(t, "hint-requirements")]
        }
        E::Reinspect | E::SecondReinspect | E::FinalReinspect => vec![at, outcome, note],
        E::RequestRetest | E::RefuseRetest | E::RejectEvidence | E::Announce => vec![at, note],
        _ => vec![at],
    }
}

async fn sample_page(
    s: &AppState,
    who: &Signed,
    sample: Sample,
    error: Option<String>,
    notice: Option<String>,
    status: StatusCode,
) -> PageResult {
    let t = who.t;
    let staff = who.role().can_read_all();
    let editor = who.role().can_edit_registers();
    let steps: Vec<StepLine> = sample
        .steps
        .iter()
        .map(|x| StepLine {
            label: step_label(t, &x.rule_id, &x.step),
            legal_basis: x.legal_basis.clone(),
            kind: t.value("step-kind", &x.kind),
            due: match &x.due_at {
                Some(at) => local_time(at),
                None => match &x.not_before {
                    Some(nb) => format!("{nb} – {}", x.due_on),
                    None => x.due_on.clone(),
                },
            },
            estimated: x.estimated,
            state: x.state.clone(),
            state_label: t.value("step-state", &x.state),
            done_at: x.done_at.as_deref().map(local_time).unwrap_or_default(),
        })
        .collect();
    let events = sample
        .events
        .iter()
        .map(|e| {
            let mut detail = vec![];
            if let Some(o) = &e.outcome {
                detail.push(t.get(&format!("outcome-{o}")));
            }
            detail.extend(e.lab.iter().cloned());
            detail.extend(e.note.iter().cloned());
            EventLine {
                at: local_time(&e.at),
                label: t.value("event", &e.kind),
                to: t.value("sstatus", &e.to_status),
                detail: detail.join(" · "),
                actor: e.actor.clone(),
            }
        })
        .collect();
    let mut actions = vec![];
    for key in &sample.next_events {
        let Some(kind) = EventKind::parse(key) else { continue };
        let is_evidence = kind == EventKind::SubmitEvidence;
        // Enterprises act only by uploading evidence for an order addressed to them; staff
        // who may not edit only read.
        let allowed = if is_evidence {
            editor
                || (who.role() == Role::Enterprise
                    && sample.rectification.as_ref().is_some_and(|o| Some(o.entity_id) == who.user.entity_id))
        } else {
            editor
        };
        if !allowed {
            continue;
        }
        let results = matches!(kind, EventKind::RecordResult | EventKind::RetestResult);
        let inputs = if is_evidence {
            let none = HashMap::new();
            vec![
                Input::new(t, "description", "textarea", &none).required(),
                Input::new(t, "files", "files", &none).hint(t, "hint-evidence-files"),
            ]
        } else if results {
            vec![Input::new(t, "at", "datetime-local", &HashMap::new()).hint(t, "hint-at")]
        } else {
            action_inputs(t, kind)
        };
        actions.push(Action {
            kind: key.clone(),
            label: t.value("event", key),
            inputs,
            results,
            evidence: is_evidence,
        });
    }
    let final_states = [
        "passed",
        "failure_confirmed",
        "rectification_ordered",
        "evidence_submitted",
        "reinspection_failed",
        "announced",
        "suspended",
        "closed",
        "licence_revoked",
    ];
    let can_publish = editor
        && sample.publication.is_none()
        && sample.verdict.is_some()
        && sample.purpose != SamplingPurpose::RiskMonitoring.key()
        && final_states.contains(&sample.status.as_str());
    let publish_values = HashMap::from([
        ("announcement_date".to_owned(), deadline::local_date(time::OffsetDateTime::now_utc()).to_string()),
        ("task_source".to_owned(), t.get("default-task-source")),
    ]);
    let publish_inputs = vec![
        Input::new(t, "announcement_no", "text", &publish_values).required(),
        Input::new(t, "announcement_date", "date", &publish_values).required(),
        Input::new(t, "task_source", "text", &publish_values).required(),
        Input::new(t, "remarks", "text", &publish_values),
    ];
    let suggestions = s
        .store
        .list_limits(Some(&sample.standard_code), Some(&sample.product_category))
        .await
        .or_fail(t)?
        .into_iter()
        .map(|l| (l.test_item, l.unit))
        .collect();
    let people: HashMap<i64, String> =
        if staff { inspectors(s, t).await?.into_iter().map(|i| (i.id, i.name)).collect() } else { HashMap::new() };
    let samplers = sample
        .sampler_ids
        .iter()
        .map(|id| people.get(id).cloned().unwrap_or_else(|| format!("#{id}")))
        .collect::<Vec<_>>()
        .join("、");
    let page = SamplePage {
        c: who.chrome(format!("{} · {}", sample.sample_no, sample.product_name)),
        t,
        tabs: tabs(who),
        status: t.value("sstatus", &sample.status),
        purpose: t.value("purpose", &sample.purpose),
        regime: t.value("regime", &sample.regime),
        verdict: sample.verdict.as_deref().map(|v| t.value("verdict", v)).unwrap_or_default(),
        samplers,
        any_estimated: steps.iter().any(|x| x.estimated),
        steps,
        events,
        actions,
        result_rows: (0..RESULT_ROWS).collect(),
        suggestions,
        csrf: who.csrf.clone(),
        can_publish,
        publish_inputs,
        error,
        notice,
        is_enterprise: who.role() == Role::Enterprise,
        s: sample,
    };
    Ok(render(status, &page))
}

async fn page(
    State(s): State<AppState>,
    who: Signed,
    Path(id): Path<String>,
    Query(p): Query<HashMap<String, String>>,
) -> PageResult {
    let sample = visible(&s, &who, &id).await?;
    let notice = p.get("done").map(|k| who.t.value("done-event", k));
    sample_page(&s, &who, sample, None, notice, StatusCode::OK).await
}

/// After an action: back to the page with a notice, or the page again with the reason.
async fn after_action(
    s: &AppState,
    who: &Signed,
    id: i64,
    done: &str,
    r: Result<Result<Sample, qgov_store::sampling::Refused>, StoreError>,
) -> PageResult {
    let t = who.t;
    let reason = match r {
        Ok(Ok(_)) => return Ok(Redirect::to(&format!("/console/sampling/samples/{id}?done={done}")).into_response()),
        Ok(Err(refused)) => (StatusCode::CONFLICT, refused.reason),
        Err(StoreError::Invalid(e)) => (StatusCode::UNPROCESSABLE_ENTITY, field_errors_text(t, &e)),
        Err(StoreError::Conflict { value, .. }) => (StatusCode::CONFLICT, value),
        Err(StoreError::NotFound) => return Err(Failure::not_found(t)),
        Err(e) => return Err(Failure::internal(t, e)),
    };
    let sample = s.store.sample(id).await.or_fail(t)?;
    sample_page(s, who, sample, Some(reason.1), None, reason.0).await
}

fn field_errors_text(t: Tr, e: &FieldErrors) -> String {
    e.0.iter()
        .map(|x| {
            let (m, d) = error_text(t, x.code, &x.message);
            let label = t.get(&format!("sf-{}", x.field.split('[').next().unwrap_or("")));
            if d.is_empty() { format!("{label}: {m}") } else { format!("{label}: {m} ({d})") }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

async fn event(
    State(s): State<AppState>,
    who: Signed,
    Path(id): Path<String>,
    Form(f): Form<Vec<(String, String)>>,
) -> PageResult {
    let t = who.t;
    let v = fields(f);
    who.check_csrf(v.get("csrf"))?;
    require_editor(&who)?;
    let sample = visible(&s, &who, &id).await?;
    let mut e = FieldErrors::new();
    let kind = v.get("kind").and_then(|k| EventKind::parse(k));
    if kind.is_none() {
        e.push("kind", "unknown-value", "unknown event");
    }
    let outcome = match v.get("outcome").map(String::as_str) {
        None | Some("") => None,
        Some("pass") => Some(Outcome::Pass),
        Some("fail") => Some(Outcome::Fail),
        Some(_) => {
            e.push("outcome", "unknown-value", "must be pass or fail");
            None
        }
    };
    let at_text = v.get("at").map(|x| local_instant(x));
    let at = instant(&|k: &str| if k == "at" { at_text.clone() } else { None }, &mut e, "at");
    let text = |k: &str| v.get(k).filter(|x| !x.is_empty()).cloned();
    let (Some(kind), true) = (kind, e.is_empty()) else {
        return sample_page(&s, &who, sample, Some(field_errors_text(t, &e)), None, StatusCode::UNPROCESSABLE_ENTITY)
            .await;
    };
    let input = EventInput { kind, at, outcome, lab: text("lab"), note: text("note") };
    let r = s.store.sample_event(&actor(&who), sample.id, &input, None).await;
    after_action(&s, &who, sample.id, kind.key(), r).await
}

async fn results(
    State(s): State<AppState>,
    who: Signed,
    Path(id): Path<String>,
    Form(f): Form<Vec<(String, String)>>,
) -> PageResult {
    let t = who.t;
    let v = fields(f);
    who.check_csrf(v.get("csrf"))?;
    require_editor(&who)?;
    let sample = visible(&s, &who, &id).await?;
    let mut e = FieldErrors::new();
    let mut items = vec![];
    for i in 0..RESULT_ROWS {
        let get = |k: &str| v.get(&format!("{k}_{i}")).map(|x| x.trim().to_owned()).unwrap_or_default();
        let (item, value, unit) = (get("test_item"), get("value"), get("unit"));
        if item.is_empty() && value.is_empty() {
            continue;
        }
        match (item.is_empty(), Measured::parse(&value)) {
            (false, Some(m)) => items.push(Measurement { test_item: item, value: m, unit }),
            (true, _) => e.push(&format!("items[{i}]"), "required", "test item is required"),
            (false, None) => {
                e.push(&format!("items[{i}]"), "bad-value", format!("{item}: the value must be a number or 未检出"))
            }
        }
    }
    if items.is_empty() && e.is_empty() {
        e.push("items", "required", "give at least one measured item");
    }
    let at_text = v.get("at").map(|x| local_instant(x));
    let at = instant(&|k: &str| if k == "at" { at_text.clone() } else { None }, &mut e, "at");
    if !e.is_empty() {
        return sample_page(&s, &who, sample, Some(field_errors_text(t, &e)), None, StatusCode::UNPROCESSABLE_ENTITY)
            .await;
    }
    let r = s.store.record_results(&actor(&who), sample.id, &items, at).await;
    after_action(&s, &who, sample.id, "record_result", r).await
}

async fn evidence(State(s): State<AppState>, who: Signed, Path(id): Path<String>, form: Multipart) -> PageResult {
    let t = who.t;
    let v = multipart_fields(t, form).await?;
    who.check_csrf(v.get("csrf"))?;
    let sample = visible(&s, &who, &id).await?;
    let entity = match who.role() {
        Role::Enterprise => Some(who.user.entity_id.unwrap_or(-1)),
        _ => {
            require_editor(&who)?;
            None
        }
    };
    match EvidenceDraft::parse(&|k: &str| v.get(k).cloned()) {
        Err(e) => {
            sample_page(&s, &who, sample, Some(field_errors_text(t, &e)), None, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Ok(d) => {
            let r = s.store.submit_evidence(&actor(&who), sample.id, entity, &d).await;
            after_action(&s, &who, sample.id, "submit_evidence", r).await
        }
    }
}

async fn publication(
    State(s): State<AppState>,
    who: Signed,
    Path(id): Path<String>,
    Form(f): Form<Vec<(String, String)>>,
) -> PageResult {
    let t = who.t;
    let v = fields(f);
    who.check_csrf(v.get("csrf"))?;
    require_editor(&who)?;
    let sample = visible(&s, &who, &id).await?;
    match PublicationDraft::parse(&|k: &str| v.get(k).cloned()) {
        Err(e) => {
            sample_page(&s, &who, sample, Some(field_errors_text(t, &e)), None, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Ok(d) => {
            let r = s.store.publish_result(&actor(&who), sample.id, &d).await;
            after_action(&s, &who, sample.id, "publish", r).await
        }
    }
}

// ---------------------------------------------------------------- printable notices

#[derive(Template)]
#[template(path = "sampling/notice.html")]
struct NoticePage {
    c: Chrome,
    t: Tr,
    s: Sample,
    /// `result` (检验结果通知书) or `order` (责令整改通知书).
    which: &'static str,
    title: String,
    verdict: String,
    /// Due dates that matter to the addressee: (what, due, estimated).
    dues: Vec<(String, String, bool)>,
    legal_basis: Vec<String>,
    issued_on: String,
}

impl NoticePage {
    fn time(&self, s: &str) -> String {
        local_time(s)
    }
    fn result_verdict(&self, v: &str) -> String {
        self.t.value("verdict", v)
    }
}

fn notice_page(who: &Signed, sample: Sample, which: &'static str) -> NoticePage {
    let t = who.t;
    let wanted: &[&str] = if which == "result" {
        &["retest_application", "retest_application_rapid", "objection"]
    } else {
        &["rectification", "reinspection"]
    };
    let mut dues = vec![];
    let mut legal_basis = vec![];
    for x in &sample.steps {
        let name = x.rule_id.split_once('.').map_or(x.rule_id.as_str(), |(_, n)| n);
        if wanted.contains(&name) && x.done_at.is_none() {
            dues.push((
                step_label(t, &x.rule_id, &x.step),
                x.due_at.as_deref().map(local_time).unwrap_or(x.due_on.clone()),
                x.estimated,
            ));
            legal_basis.push(x.legal_basis.clone());
        }
    }
    if which == "order" {
        if let Some(o) = &sample.rectification
            && let Some(d) = &o.due_on
            && !dues.iter().any(|(_, due, _)| due == d)
        {
            dues.push((t.get("notice-rectify-by"), d.clone(), false));
        }
        legal_basis.push(t.get(&format!("notice-basis-order-{}", sample.regime)));
    } else {
        legal_basis.push(t.get(&format!("notice-basis-result-{}", sample.regime)));
    }
    legal_basis.dedup();
    let issued_on = match which {
        "order" => sample.rectification.as_ref().map(|o| local_time(&o.ordered_at)),
        _ => sample.events.iter().rev().find(|e| e.kind == "notify").map(|e| local_time(&e.at)),
    }
    .unwrap_or_else(|| deadline::local_date(time::OffsetDateTime::now_utc()).to_string());
    let title = t.get(&format!("notice-title-{which}"));
    NoticePage {
        c: who.chrome(title.clone()),
        t,
        verdict: sample.verdict.as_deref().map(|v| t.value("verdict", v)).unwrap_or_default(),
        which,
        title,
        dues,
        legal_basis,
        issued_on: issued_on.get(..10).unwrap_or(&issued_on).to_owned(),
        s: sample,
    }
}

async fn result_notice(State(s): State<AppState>, who: Signed, Path(id): Path<String>) -> PageResult {
    let sample = visible(&s, &who, &id).await?;
    if sample.results.is_empty() {
        return Err(Failure::not_found(who.t));
    }
    Ok(render(StatusCode::OK, &notice_page(&who, sample, "result")))
}

async fn rectification_order(State(s): State<AppState>, who: Signed, Path(id): Path<String>) -> PageResult {
    let sample = visible(&s, &who, &id).await?;
    if sample.rectification.is_none() {
        return Err(Failure::not_found(who.t));
    }
    Ok(render(StatusCode::OK, &notice_page(&who, sample, "order")))
}

// ---------------------------------------------------------------- figures

/// One bar of a chart.
pub struct Bar {
    pub label: String,
    pub value: String,
    /// Width in the SVG's 0–100 units.
    pub width: f64,
    pub y: usize,
    pub detail: String,
    /// Below the target of the outline (shown in the accent colour).
    pub low: bool,
}

/// A horizontal bar chart drawn as our own SVG.
pub struct Chart {
    pub title: String,
    pub bars: Vec<Bar>,
    pub height: usize,
}

const BAR_STEP: usize = 28;

fn chart(title: String, rates: &[(String, &PassRate)], target: f64) -> Chart {
    let bars: Vec<Bar> = rates
        .iter()
        .enumerate()
        .map(|(i, (label, r))| Bar {
            label: label.clone(),
            value: format!("{:.1}%", r.rate * 100.0),
            width: (r.rate * 100.0).clamp(0.0, 100.0),
            y: i * BAR_STEP,
            detail: format!("{}/{}", r.passed, r.judged),
            low: r.rate < target,
        })
        .collect();
    Chart { title, height: bars.len().max(1) * BAR_STEP, bars }
}

#[derive(Template)]
#[template(path = "sampling/figures.html")]
struct FiguresPage {
    c: Chrome,
    t: Tr,
    tabs: Vec<NavItem>,
    from: String,
    to: String,
    charts: Vec<Chart>,
    f: SamplingFigures,
    completion: String,
    completion_width: f64,
    overdue: Vec<(OverdueStep, String)>,
}

/// The outline's targets: food evaluative ≥ 98.5 %, the others ≥ 95 %; below them is marked.
fn target_for(purpose: &str) -> f64 {
    if purpose == "evaluative" { 0.985 } else { 0.95 }
}

async fn figures(State(s): State<AppState>, who: Signed, Query(p): Query<HashMap<String, String>>) -> PageResult {
    require_staff(&who)?;
    let t = who.t;
    let period = |k: &str| {
        p.get(k).map(|x| x.trim().to_owned()).filter(|x| x.len() == 7 && x.as_bytes()[4] == b'-').unwrap_or_default()
    };
    let (from, to) = (period("from"), period("to"));
    let f = s.store.sampling_figures(Some(&from), Some(&to)).await.or_fail(t)?;
    let mut charts = vec![];
    let by_purpose: Vec<(String, &PassRate)> =
        f.pass_rate_by_purpose.iter().map(|r| (t.value("purpose", &r.purpose), r)).collect();
    charts.push(chart(t.get("figures-by-purpose"), &by_purpose, 0.95));
    // Per category and per period: sums over the detailed groups.
    let mut by_category: BTreeMap<(String, String), PassRate> = BTreeMap::new();
    let mut by_period: BTreeMap<(String, String), PassRate> = BTreeMap::new();
    for r in &f.pass_rates {
        for (map, key) in [(&mut by_category, r.product_category.clone()), (&mut by_period, r.period.clone())] {
            let e = map.entry((key, r.purpose.clone())).or_insert_with(|| PassRate {
                judged: 0,
                passed: 0,
                rate: 0.0,
                ..r.clone()
            });
            e.judged += r.judged;
            e.passed += r.passed;
            e.rate = if e.judged == 0 { 0.0 } else { e.passed as f64 / e.judged as f64 };
        }
    }
    let label = |k: &str, purpose: &str| format!("{k} · {}", t.value("purpose", purpose));
    let cat: Vec<(String, &PassRate)> = by_category.iter().map(|((k, p), r)| (label(k, p), r)).collect();
    let per: Vec<(String, &PassRate)> = by_period.iter().map(|((k, p), r)| (label(k, p), r)).collect();
    let lowest_target =
        |rows: &[(String, &PassRate)]| rows.iter().map(|(_, r)| target_for(&r.purpose)).fold(0.95, f64::max);
    let cat_target = lowest_target(&cat);
    charts.push(chart(t.get("figures-by-category"), &cat, cat_target));
    let per_target = lowest_target(&per);
    charts.push(chart(t.get("figures-by-period"), &per, per_target));
    let overdue = s
        .store
        .overdue_steps(time::OffsetDateTime::now_utc())
        .await
        .or_fail(t)?
        .into_iter()
        .map(|o| {
            let label = step_label(t, &o.rule_id, &o.step);
            (o, label)
        })
        .collect();
    let page = FiguresPage {
        c: who.chrome(t.get("stab-figures")),
        t,
        tabs: tabs(&who),
        from,
        to,
        charts,
        completion: format!("{:.1}%", f.rectification_completion_rate * 100.0),
        completion_width: (f.rectification_completion_rate * 100.0).clamp(0.0, 100.0),
        f,
        overdue,
    };
    Ok(render(StatusCode::OK, &page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_rate_and_mark_rates_below_target() {
        let r = PassRate {
            purpose: "evaluative".into(),
            product_category: "蔬菜".into(),
            period: "2025-09".into(),
            judged: 4,
            passed: 3,
            rate: 0.75,
        };
        let c = chart(
            "x".into(),
            &[("a".into(), &r), ("b".into(), &PassRate { rate: 1.0, passed: 4, ..r.clone() })],
            0.985,
        );
        assert_eq!(c.bars.len(), 2);
        assert!((c.bars[0].width - 75.0).abs() < 1e-9 && c.bars[0].low);
        assert_eq!(c.bars[0].value, "75.0%");
        assert!(!c.bars[1].low && c.bars[1].y == BAR_STEP);
        assert_eq!(c.height, 2 * BAR_STEP);
    }

    #[test]
    fn step_labels_are_translated_by_rule_name() {
        let zh = Tr::new(crate::i18n::Lang::Zh);
        assert_ne!(step_label(zh, "food.retest_application", "fallback"), "fallback");
        assert_eq!(step_label(zh, "food.no_such_rule", "fallback"), "fallback");
    }
}
