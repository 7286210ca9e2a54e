//! Traceability in the console: browse the EPCIS events a user may see (with the common
//! filters, which are the standard's own query parameters), read one event, and capture
//! a document by file upload with every problem listed per event.

use super::links;
use super::{Failure, OrFail, PageResult, Signed, render};
use crate::AppState;
use crate::i18n::Tr;
use askama::Template;
use axum::Router;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use qgov_domain::Role;
use qgov_epcis::{EpcFormat, Event};
use qgov_store::epcis::query::{EventQuery, OrderBy};
use qgov_store::epcis::{Capturer, ErrorBehaviour, EventScope, QueryError};
use qgov_store::{Actor, User};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/events", get(list))
        .route("/console/events/capture", get(capture_form).post(capture))
        .route("/console/events/{id}", get(detail))
}

/// Events shown per page.
const PER_PAGE: u64 = 50;

/// The filters of the event browser: standard EPCIS query parameters, so a filtered
/// console page and `GET /epcis/events` with the same parameters show the same events.
const FILTERS: &[&str] =
    &["eventType", "EQ_bizStep", "EQ_disposition", "MATCH_anyEPC", "EQ_bizLocation", "GE_eventTime", "LT_eventTime"];

pub(super) fn scope_of(user: &User) -> EventScope {
    match (user.role, user.entity_id) {
        (Role::Enterprise, Some(id)) => EventScope::Entity(id),
        (Role::Enterprise, None) => EventScope::Entity(-1),
        _ => EventScope::All,
    }
}

/// One row of the event table.
struct Row {
    href: String,
    time: String,
    kind: String,
    action: String,
    biz_step: String,
    disposition: String,
    place: String,
    objects: usize,
}

impl Row {
    fn new(id: &str, ev: &Event) -> Self {
        let objects = ev.epc_list.len()
            + ev.child_epcs.len()
            + ev.input_epc_list.len()
            + ev.output_epc_list.len()
            + ev.quantity_list.len()
            + ev.child_quantity_list.len()
            + ev.input_quantity_list.len()
            + ev.output_quantity_list.len()
            + usize::from(ev.parent_id.is_some());
        Row {
            href: format!("/console/events/{}", crate::epcis::encode_segment(id)),
            time: ev.event_time.to_rfc3339(),
            kind: ev.event_type.as_str().to_owned(),
            action: ev.action.map(|a| a.as_str().to_owned()).unwrap_or_default(),
            biz_step: ev.biz_step.clone().unwrap_or_default(),
            disposition: ev.disposition.clone().unwrap_or_default(),
            place: ev
                .biz_location
                .as_ref()
                .or(ev.read_point.as_ref())
                .map(|l| l.id.render_preferring_urn())
                .unwrap_or_default(),
            objects,
        }
    }
}

#[derive(Template)]
#[template(path = "epcis_events.html")]
struct ListPage {
    c: super::Chrome,
    t: Tr,
    filters: Vec<(String, String, String)>,
    event_types: Vec<&'static str>,
    rows: Vec<Row>,
    next: Option<String>,
    first: Option<String>,
    error: Option<String>,
    can_capture: bool,
}

async fn list(State(s): State<AppState>, who: Signed, Query(params): Query<Vec<(String, String)>>) -> PageResult {
    let t = who.t;
    let value = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim().to_owned()).unwrap_or_default();
    let chosen: Vec<(String, Vec<String>)> = FILTERS
        .iter()
        .map(|k| (k.to_string(), value(k)))
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k, vec![v]))
        .collect();
    let token = Some(value("nextPageToken")).filter(|v| !v.is_empty());
    let prefixes = s.store.epcis_prefixes().await.or_fail(t)?;
    let resolve = |p: &str| prefixes.iter().find(|(k, _)| k == p).map(|(_, u)| u.clone());
    let mut rows = vec![];
    let mut next = None;
    let mut error = None;
    match EventQuery::parse(&chosen, &resolve) {
        Err(e) => error = Some(e.to_string()),
        Ok(mut q) => {
            q.order = Some((OrderBy::EventTime, true));
            match s.store.epcis_query(&q, scope_of(&who.user), PER_PAGE, token.as_deref()).await {
                Ok(page) => {
                    for stored in &page.events {
                        if let Ok((ev, _)) = stored.to_event() {
                            rows.push(Row::new(&stored.event_id, &ev));
                        }
                    }
                    if let Some(tok) = page.next_page_token {
                        let mut p: Vec<(&str, &str)> =
                            chosen.iter().map(|(k, v)| (k.as_str(), v[0].as_str())).collect();
                        p.push(("nextPageToken", &tok));
                        next = Some(links::with_query("/console/events", &p));
                    }
                }
                Err(QueryError::Store(e)) => return Err(Failure::internal(t, e)),
                Err(other) => error = Some(other.to_string()),
            }
        }
    }
    let first = token.map(|_| {
        let p: Vec<(&str, &str)> = chosen.iter().map(|(k, v)| (k.as_str(), v[0].as_str())).collect();
        links::with_query("/console/events", &p)
    });
    let page = ListPage {
        c: who.chrome(t.get("nav-events")),
        t,
        filters: FILTERS.iter().map(|k| (k.to_string(), t.get(&format!("epcis-filter-{k}")), value(k))).collect(),
        event_types: vec![
            "ObjectEvent",
            "AggregationEvent",
            "TransactionEvent",
            "TransformationEvent",
            "AssociationEvent",
        ],
        rows,
        next,
        first,
        error,
        can_capture: true,
    };
    let status = if page.error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    Ok(render(status, &page))
}

#[derive(Template)]
#[template(path = "epcis_event.html")]
struct DetailPage {
    c: super::Chrome,
    t: Tr,
    event_id: String,
    facts: Vec<(String, String)>,
    /// Role, identifier (with quantity), link to trace it.
    objects: Vec<(String, String, String)>,
    json: String,
}

async fn detail(State(s): State<AppState>, who: Signed, Path(id): Path<String>) -> PageResult {
    let t = who.t;
    // Another enterprise's event looks absent, as in the API.
    let stored =
        s.store.epcis_event(&id, scope_of(&who.user)).await.or_fail(t)?.ok_or_else(|| Failure::not_found(t))?;
    let (ev, ns) = stored.to_event().map_err(|e| Failure::internal(t, e))?;
    let mut facts = vec![
        (t.get("epcis-event-type"), ev.event_type.as_str().to_owned()),
        (t.get("epcis-event-time"), format!("{} ({})", ev.event_time.to_rfc3339(), ev.event_time_zone_offset.as_str())),
    ];
    if let Some(r) = &ev.record_time {
        facts.push((t.get("epcis-record-time"), r.to_rfc3339()));
    }
    let mut push = |key: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            facts.push((t.get(key), v));
        }
    };
    push("epcis-action", ev.action.map(|a| a.as_str().to_owned()));
    push("epcis-biz-step", ev.biz_step.clone());
    push("epcis-disposition", ev.disposition.clone());
    push("epcis-read-point", ev.read_point.as_ref().map(|l| l.id.render_preferring_urn()));
    push("epcis-biz-location", ev.biz_location.as_ref().map(|l| l.id.render_preferring_urn()));
    push("epcis-transformation-id", ev.transformation_id.as_ref().map(|x| x.render_preferring_urn()));
    for b in &ev.biz_transaction_list {
        push(
            "epcis-biz-transaction",
            Some(format!("{} {}", b.kind.clone().unwrap_or_default(), b.id.render_preferring_urn())),
        );
    }
    for x in &ev.source_list {
        push("epcis-source", Some(format!("{} {}", x.kind, x.id.render_preferring_urn())));
    }
    for x in &ev.destination_list {
        push("epcis-destination", Some(format!("{} {}", x.kind, x.id.render_preferring_urn())));
    }
    if let Some(e) = &ev.error_declaration {
        push(
            "epcis-error-declaration",
            Some(format!("{} {}", e.declaration_time.to_rfc3339(), e.reason.clone().unwrap_or_default())),
        );
    }
    let mut objects = vec![];
    let mut add = |role: &str, ids: &[qgov_epcis::Epc]| {
        for id in ids {
            let urn = id.render_preferring_urn();
            let href = links::with_query("/console/trace", &[("id", &urn)]);
            objects.push((t.get(role), urn, href));
        }
    };
    if let Some(p) = &ev.parent_id {
        add("epcis-role-parent", std::slice::from_ref(p));
    }
    add("epcis-role-epc", &ev.epc_list);
    add("epcis-role-child", &ev.child_epcs);
    add("epcis-role-input", &ev.input_epc_list);
    add("epcis-role-output", &ev.output_epc_list);
    for (role, list) in [
        ("epcis-role-epc", &ev.quantity_list),
        ("epcis-role-child", &ev.child_quantity_list),
        ("epcis-role-input", &ev.input_quantity_list),
        ("epcis-role-output", &ev.output_quantity_list),
    ] {
        for q in list.iter() {
            let amount =
                q.quantity.map(|n| format!(" × {n} {}", q.uom.clone().unwrap_or_default())).unwrap_or_default();
            let urn = q.epc_class.render_preferring_urn();
            let href = links::with_query("/console/trace", &[("id", &urn)]);
            objects.push((t.get(role), format!("{urn}{amount}"), href));
        }
    }
    let value = qgov_epcis::json::event_to_value(&ev, &ns, EpcFormat::NoPreference);
    let json = serde_json::to_string_pretty(&value).unwrap_or_default();
    let page = DetailPage { c: who.chrome(t.get("nav-events")), t, event_id: stored.event_id, facts, objects, json };
    Ok(render(StatusCode::OK, &page))
}

/// One refused event (or a document-level problem when `index` is empty).
struct ProblemRow {
    index: String,
    pointer: String,
    message: String,
}

#[derive(Template)]
#[template(path = "epcis_capture.html")]
struct CapturePage {
    c: super::Chrome,
    t: Tr,
    csrf: String,
    problems: Vec<ProblemRow>,
    /// (stored, duplicates, capture id) after a successful capture.
    done: Option<(usize, usize, String)>,
}

async fn capture_form(who: Signed) -> PageResult {
    let t = who.t;
    let page = CapturePage {
        c: who.chrome(t.get("epcis-capture-title")),
        t,
        csrf: who.csrf.clone(),
        problems: vec![],
        done: None,
    };
    Ok(render(StatusCode::OK, &page))
}

async fn capture(State(s): State<AppState>, who: Signed, mut form: Multipart) -> PageResult {
    let t = who.t;
    let bad = |e: axum::extract::multipart::MultipartError| {
        Failure::new(t, StatusCode::BAD_REQUEST).with_detail(e.to_string())
    };
    let (mut csrf, mut file) = (None, None);
    while let Some(field) = form.next_field().await.map_err(bad)? {
        match field.name().unwrap_or("") {
            "csrf" => csrf = field.text().await.ok(),
            "file" => file = Some(field.bytes().await.map_err(bad)?),
            _ => {}
        }
    }
    who.check_csrf(csrf.as_ref())?;
    let bytes = file
        .filter(|b| !b.is_empty())
        .ok_or_else(|| Failure::new(t, StatusCode::BAD_REQUEST).with_detail(t.get("epcis-capture-no-file")))?;
    let mut page = CapturePage {
        c: who.chrome(t.get("epcis-capture-title")),
        t,
        csrf: who.csrf.clone(),
        problems: vec![],
        done: None,
    };
    match qgov_epcis::parse_any(&bytes) {
        Err(problems) => {
            // Refused whole: nothing is stored, every problem is listed.
            page.problems = problems
                .0
                .iter()
                .map(|p| ProblemRow {
                    index: p.event_index.map(|i| i.to_string()).unwrap_or_default(),
                    pointer: p.pointer.clone(),
                    message: p.message.clone(),
                })
                .collect();
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Ok(doc) => {
            let by = Capturer {
                user_id: Some(who.user.id),
                entity_id: if who.user.role == Role::Enterprise { who.user.entity_id } else { None },
            };
            let out = s
                .store
                .epcis_capture(&Actor::user(&who.user.username), &by, doc, ErrorBehaviour::Rollback, vec![])
                .await
                .or_fail(t)?;
            // The same follow-up as a capture through /epcis: stream subscribers, trace index.
            crate::epcis::notify_subscribers(&s.store, &out);
            if !out.stored.is_empty() {
                s.trace.catch_up_soon(&s.store);
            }
            page.done = Some((out.stored.len(), out.duplicates.len(), out.job.capture_id));
            Ok(render(StatusCode::OK, &page))
        }
    }
}
