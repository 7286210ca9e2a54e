//! The EPCIS 2.0 REST binding under `/epcis` (the OpenAPI of the standard, `openapi.yaml`):
//! capture and capture jobs, single-event capture, the event query with every standard
//! parameter, the browse resources, named queries and webhook subscriptions, streamed on
//! capture or run on their schedule ([`schedule`]).
//!
//! Thin shell: documents are parsed and validated by `qgov-epcis`, stored and queried by
//! `qgov-store`. Errors are problem+json whose `type` is the EPCIS exception the OpenAPI names
//! (`epcisException:ValidationException`, …). Every response carries the GS1 version headers.
//! Anonymous callers get 401 everywhere; enterprise tokens see the events they captured or
//! that name their registered locations and parties; staff tokens see everything.

pub mod schedule;
pub mod webhook;

use crate::AppState;
use crate::auth::ApiCaller;
use crate::problem::ApiError;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use qgov_domain::Role;
use qgov_epcis::model::{Document, DocumentKind, Timestamp};
use qgov_epcis::{EpcFormat, Problems};
use qgov_store::epcis::query::{EventQuery, Filter, QueryParamError};
use qgov_store::epcis::{
    Browse, CaptureOutcome, Capturer, ErrorBehaviour, EventScope, NamedQuery, NewSubscription, QueryError, StoredEvent,
    Subscription,
};
use qgov_store::{Store, StoreError};
use serde_json::{Value, json};

/// Most events accepted in one capture (`GS1-EPCIS-Capture-Limit`).
pub const CAPTURE_LIMIT: usize = 10_000;
/// Largest capture body in bytes (`GS1-EPCIS-Capture-File-Size-Limit`).
pub const CAPTURE_FILE_SIZE_LIMIT: usize = 16 * 1024 * 1024;
/// Events per page when the client gives no `perPage`.
pub const DEFAULT_PER_PAGE: u64 = 30;
/// Largest `perPage`.
pub const MAX_PER_PAGE: u64 = 1000;

const JSON_LD: &str = "application/ld+json";

/// The EPCIS exceptions of the OpenAPI, used as problem `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exception {
    Validation,
    QueryParameter,
    QueryTooLarge,
    NoSuchResource,
    NoSuchName,
    Security,
    CaptureLimitExceeded,
    NotAcceptable,
    UnsupportedMediaType,
    ResourceAlreadyExists,
    SubscriptionControls,
    Implementation,
}

impl Exception {
    fn parts(self) -> (StatusCode, &'static str) {
        match self {
            Exception::Validation => (StatusCode::BAD_REQUEST, "ValidationException"),
            Exception::QueryParameter => (StatusCode::BAD_REQUEST, "QueryParameterException"),
            Exception::QueryTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "QueryTooLargeException"),
            Exception::NoSuchResource => (StatusCode::NOT_FOUND, "NoSuchResourceException"),
            Exception::NoSuchName => (StatusCode::NOT_FOUND, "NoSuchNameException"),
            Exception::Security => (StatusCode::UNAUTHORIZED, "SecurityException"),
            Exception::CaptureLimitExceeded => (StatusCode::PAYLOAD_TOO_LARGE, "CaptureLimitExceededException"),
            Exception::NotAcceptable => (StatusCode::NOT_ACCEPTABLE, "NotAcceptableException"),
            Exception::UnsupportedMediaType => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "UnsupportedMediaTypeException"),
            Exception::ResourceAlreadyExists => (StatusCode::CONFLICT, "ResourceAlreadyExistsException"),
            Exception::SubscriptionControls => (StatusCode::BAD_REQUEST, "SubscriptionControlsException"),
            Exception::Implementation => (StatusCode::INTERNAL_SERVER_ERROR, "ImplementationException"),
        }
    }
}

/// An EPCIS error response.
#[derive(Debug)]
pub struct EpcisError {
    pub kind: Exception,
    pub detail: String,
    /// Per-event problems (`eventIndex`, `pointer`, `message`) or the offending parameter.
    pub errors: Vec<Value>,
}

impl EpcisError {
    fn new(kind: Exception, detail: impl Into<String>) -> Self {
        EpcisError { kind, detail: detail.into(), errors: vec![] }
    }
    fn problems(p: &Problems) -> Self {
        let errors: Vec<Value> = p.0.iter().map(problem_json).collect();
        EpcisError { kind: Exception::Validation, detail: p.to_string(), errors }
    }
}

fn problem_json(p: &qgov_epcis::Problem) -> Value {
    json!({
        "type": "epcisException:ValidationException",
        "title": "Validation failed",
        "eventIndex": p.event_index,
        "pointer": p.pointer,
        "detail": p.message,
    })
}

impl IntoResponse for EpcisError {
    fn into_response(self) -> Response {
        let (status, name) = self.kind.parts();
        if status.is_server_error() {
            tracing::error!(cause = %self.detail, "EPCIS request failed");
        }
        let detail = if status.is_server_error() {
            "the server failed to handle the request; it has been logged".to_owned()
        } else {
            self.detail
        };
        let mut body = json!({
            "type": format!("epcisException:{name}"),
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": detail,
        });
        if !self.errors.is_empty() {
            body["errors"] = Value::Array(self.errors);
        }
        let mut res = (status, axum::Json(body)).into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

impl From<StoreError> for EpcisError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => EpcisError::new(Exception::NoSuchResource, "no such resource"),
            StoreError::Conflict { field, value } => {
                EpcisError::new(Exception::ResourceAlreadyExists, format!("{field} {value:?} already exists"))
            }
            other => EpcisError::new(Exception::Implementation, other.to_string()),
        }
    }
}

impl From<QueryParamError> for EpcisError {
    fn from(e: QueryParamError) -> Self {
        EpcisError {
            kind: Exception::QueryParameter,
            detail: e.to_string(),
            errors: vec![json!({"parameter": e.param, "detail": e.message})],
        }
    }
}

impl From<QueryError> for EpcisError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::Param(p) => p.into(),
            QueryError::TooLarge(_) => EpcisError::new(Exception::QueryTooLarge, e.to_string()),
            QueryError::Store(s) => s.into(),
        }
    }
}

type Res<T = Response> = Result<T, EpcisError>;

/// The caller, or 401 `SecurityException` (anonymous or unknown token).
fn caller(c: Result<ApiCaller, ApiError>) -> Res<ApiCaller> {
    match c {
        Ok(c) => Ok(c),
        Err(ApiError::Internal(e)) => Err(EpcisError::new(Exception::Implementation, e)),
        Err(_) => Err(EpcisError::new(
            Exception::Security,
            "send `Authorization: Bearer <token>` (create one with `qgov token create`)",
        )),
    }
}

fn scope_of(c: &ApiCaller) -> EventScope {
    match c.own_entity() {
        Some(id) => EventScope::Entity(id),
        None => EventScope::All,
    }
}

fn capturer_of(c: &ApiCaller) -> Capturer {
    Capturer { user_id: Some(c.user.id), entity_id: if c.role() == Role::Enterprise { c.user.entity_id } else { None } }
}

/// Response representation chosen from `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repr {
    Json,
    Xml,
}

fn negotiate(h: &HeaderMap) -> Res<Repr> {
    let accept = h.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("*/*");
    let mut any = false;
    for part in accept.split(',') {
        let mt = part.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match mt.as_str() {
            "application/json" | "application/ld+json" | "*/*" | "application/*" => return Ok(Repr::Json),
            "application/xml" | "text/xml" => return Ok(Repr::Xml),
            "" => any = true,
            _ => {}
        }
    }
    if any {
        return Ok(Repr::Json);
    }
    Err(EpcisError::new(
        Exception::NotAcceptable,
        format!(
            "cannot answer in {accept:?}: this repository speaks application/ld+json, application/json and application/xml"
        ),
    ))
}

fn epc_format(h: &HeaderMap) -> EpcFormat {
    h.get("GS1-EPC-Format").and_then(|v| v.to_str().ok()).and_then(EpcFormat::from_header).unwrap_or_default()
}

/// Percent-encodes a path segment (RFC 3986 unreserved characters kept).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Adds the GS1 headers the OpenAPI lists to every response under `/epcis`.
async fn gs1_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    for (k, v) in [
        ("GS1-EPCIS-Version", "2.0.0"),
        ("GS1-EPCIS-Min", "2.0.0"),
        ("GS1-EPCIS-Max", "2.0.0"),
        ("GS1-CBV-Version", "2.0.0"),
        ("GS1-CBV-Min", "2.0.0"),
        ("GS1-CBV-Max", "2.0.0"),
        ("GS1-Extensions", ""),
        ("GS1-Vendor-Version", concat!("qgov-", env!("CARGO_PKG_VERSION"))),
    ] {
        if !h.contains_key(k) {
            h.insert(k, HeaderValue::from_static(v));
        }
    }
    res
}

/// The EPCIS routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/epcis", get(top_level).options(discover_get))
        .route("/epcis/capture", get(list_capture_jobs).post(capture).options(discover_capture))
        .route("/epcis/capture/{capture_id}", get(capture_job).options(discover_get))
        .route("/epcis/events", get(query_events).post(capture_event).options(discover_writable))
        .route("/epcis/events/{event_id}", get(one_event).options(discover_get))
        .route("/epcis/eventTypes", get(event_types).options(discover_get))
        .route("/epcis/eventTypes/{value}", get(sub_resource).options(discover_get))
        .route("/epcis/eventTypes/{value}/events", get(events_of_type))
        .route("/epcis/epcs", get(browse_epcs).options(discover_get))
        .route("/epcis/epcs/{value}", get(sub_resource).options(discover_get))
        .route("/epcis/epcs/{value}/events", get(events_of_epc))
        .route("/epcis/bizSteps", get(browse_biz_steps).options(discover_get))
        .route("/epcis/bizSteps/{value}", get(sub_resource).options(discover_get))
        .route("/epcis/bizSteps/{value}/events", get(events_of_biz_step))
        .route("/epcis/bizLocations", get(browse_biz_locations).options(discover_get))
        .route("/epcis/bizLocations/{value}", get(sub_resource).options(discover_get))
        .route("/epcis/bizLocations/{value}/events", get(events_of_biz_location))
        .route("/epcis/readPoints", get(browse_read_points).options(discover_get))
        .route("/epcis/readPoints/{value}", get(sub_resource).options(discover_get))
        .route("/epcis/readPoints/{value}/events", get(events_of_read_point))
        .route("/epcis/dispositions", get(browse_dispositions).options(discover_get))
        .route("/epcis/dispositions/{value}", get(sub_resource).options(discover_get))
        .route("/epcis/dispositions/{value}/events", get(events_of_disposition))
        .route("/epcis/queries", get(list_queries).post(create_query).options(discover_writable))
        .route("/epcis/queries/{name}", get(get_query).delete(delete_query))
        .route("/epcis/queries/{name}/events", get(named_query_events))
        .route("/epcis/queries/{name}/subscriptions", get(list_subscriptions).post(subscribe))
        .route("/epcis/queries/{name}/subscriptions/{id}", axum::routing::delete(unsubscribe))
        .route("/epcis/{*rest}", axum::routing::any(epcis_not_found))
        .layer(axum::middleware::map_response(gs1_headers))
}

async fn epcis_not_found(c: Result<ApiCaller, ApiError>) -> Res {
    caller(c)?;
    Err(EpcisError::new(Exception::NoSuchResource, "no such EPCIS resource"))
}

fn no_content(allow: &'static str) -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
    r.headers_mut().insert("GS1-EPC-Format", HeaderValue::from_static("No_Preference"));
    r.headers_mut().insert("GS1-CBV-XML-Format", HeaderValue::from_static("Always_URN"));
    r
}

async fn discover_get(c: Result<ApiCaller, ApiError>) -> Res {
    caller(c)?;
    Ok(no_content("OPTIONS, GET"))
}

async fn discover_writable(c: Result<ApiCaller, ApiError>) -> Res {
    caller(c)?;
    Ok(no_content("OPTIONS, GET, POST"))
}

async fn discover_capture(c: Result<ApiCaller, ApiError>) -> Res {
    caller(c)?;
    let mut r = no_content("OPTIONS, POST, GET");
    let h = r.headers_mut();
    h.insert("GS1-EPCIS-Capture-Limit", HeaderValue::from(CAPTURE_LIMIT));
    h.insert("GS1-EPCIS-Capture-File-Size-Limit", HeaderValue::from(CAPTURE_FILE_SIZE_LIMIT));
    h.insert("GS1-Capture-Error-Behaviour", HeaderValue::from_static("rollback, proceed"));
    Ok(r)
}

fn collection(members: Vec<String>) -> Value {
    json!({"@context": qgov_epcis::json::EPCIS_CONTEXT, "type": "Collection", "member": members})
}

async fn top_level(c: Result<ApiCaller, ApiError>) -> Res {
    caller(c)?;
    let m = [
        "queries",
        "capture",
        "events",
        "eventTypes",
        "epcs",
        "bizSteps",
        "bizLocations",
        "readPoints",
        "dispositions",
    ];
    Ok(axum::Json(collection(m.iter().map(|s| s.to_string()).collect())).into_response())
}

async fn sub_resource(c: Result<ApiCaller, ApiError>) -> Res {
    caller(c)?;
    Ok(axum::Json(collection(vec!["events".into()])).into_response())
}

// ---------------------------------------------------------------------------------------------
// Capture

fn error_behaviour(h: &HeaderMap) -> Res<ErrorBehaviour> {
    match h.get("GS1-Capture-Error-Behaviour").map(|v| v.to_str().unwrap_or("").trim().to_ascii_lowercase()) {
        None => Ok(ErrorBehaviour::Rollback),
        Some(v) if v == "rollback" => Ok(ErrorBehaviour::Rollback),
        Some(v) if v == "proceed" => Ok(ErrorBehaviour::Proceed),
        Some(v) => Err(EpcisError::new(
            Exception::Validation,
            format!("GS1-Capture-Error-Behaviour {v:?} is not supported: use rollback or proceed"),
        )),
    }
}

fn body_or_413(body: Result<Bytes, BytesRejection>) -> Res<Bytes> {
    let too_large = || {
        EpcisError::new(
            Exception::CaptureLimitExceeded,
            format!("the body exceeds GS1-EPCIS-Capture-File-Size-Limit = {CAPTURE_FILE_SIZE_LIMIT} bytes"),
        )
    };
    match body {
        Ok(b) if b.len() > CAPTURE_FILE_SIZE_LIMIT => Err(too_large()),
        Ok(b) => Ok(b),
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(too_large()),
        Err(e) => Err(EpcisError::new(Exception::Validation, e.body_text())),
    }
}

fn check_media_type(h: &HeaderMap) -> Res<()> {
    let ct = h.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/json");
    let mt = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if mt.ends_with("json") || mt.ends_with("+json") || mt.ends_with("/xml") {
        Ok(())
    } else {
        Err(EpcisError::new(
            Exception::UnsupportedMediaType,
            format!("send application/ld+json, application/json or application/xml (got {ct:?})"),
        ))
    }
}

/// Under `proceed`, a JSON document whose problems all belong to single events is captured
/// without those events; the problems are kept for the capture job.
fn drop_bad_events(body: &[u8], problems: &Problems) -> Option<(Document, Vec<Value>)> {
    if problems.0.iter().any(|p| p.event_index.is_none()) {
        return None;
    }
    let mut v: Value = serde_json::from_slice(body).ok()?;
    let bad: std::collections::BTreeSet<usize> = problems.0.iter().filter_map(|p| p.event_index).collect();
    let list = v.pointer_mut("/epcisBody/eventList")?.as_array_mut()?;
    let kept: Vec<Value> =
        std::mem::take(list).into_iter().enumerate().filter(|(i, _)| !bad.contains(i)).map(|(_, e)| e).collect();
    *list = kept;
    let doc = qgov_epcis::json::parse_document(v.to_string().as_bytes()).ok()?;
    Some((doc, problems.0.iter().map(problem_json).collect()))
}

fn count_events_upper_bound(body: &[u8]) -> usize {
    // A cheap bound before parsing: every event has an eventTime.
    let needle = b"eventTime\"";
    let xml = b"<eventTime>";
    body.windows(needle.len()).filter(|w| *w == needle).count() + body.windows(xml.len()).filter(|w| *w == xml).count()
}

async fn capture(
    State(s): State<AppState>,
    c: Result<ApiCaller, ApiError>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Res {
    let c = caller(c)?;
    let body = body_or_413(body)?;
    check_media_type(&headers)?;
    let behaviour = error_behaviour(&headers)?;
    if count_events_upper_bound(&body) > CAPTURE_LIMIT * 2 {
        return Err(capture_limit(count_events_upper_bound(&body)));
    }
    let (doc, refused) = match qgov_epcis::parse_any(&body) {
        Ok(doc) => (doc, vec![]),
        Err(p) => match behaviour {
            ErrorBehaviour::Proceed => match drop_bad_events(&body, &p) {
                Some(x) => x,
                None => return Err(EpcisError::problems(&p)),
            },
            ErrorBehaviour::Rollback => return Err(EpcisError::problems(&p)),
        },
    };
    if doc.events.len() > CAPTURE_LIMIT {
        return Err(capture_limit(doc.events.len()));
    }
    let out = s.store.epcis_capture(&c.actor(), &capturer_of(&c), doc, behaviour, refused).await?;
    notify_subscribers(&s.store, &out);
    if !out.stored.is_empty() {
        s.trace.catch_up_soon(&s.store);
    }
    let location = format!("/epcis/capture/{}", out.job.capture_id);
    let mut r = (StatusCode::ACCEPTED, axum::Json(&out.job)).into_response();
    r.headers_mut().insert(header::LOCATION, HeaderValue::from_str(&location).expect("ascii id"));
    r.headers_mut().insert("GS1-Capture-ID", HeaderValue::from_str(&out.job.capture_id).expect("ascii id"));
    Ok(r)
}

fn capture_limit(n: usize) -> EpcisError {
    EpcisError::new(
        Exception::CaptureLimitExceeded,
        format!("{n} events exceed GS1-EPCIS-Capture-Limit = {CAPTURE_LIMIT}; split the document"),
    )
}

#[derive(serde::Deserialize)]
struct JobPaging {
    #[serde(rename = "perPage")]
    per_page: Option<i64>,
    #[serde(rename = "nextPageToken")]
    next_page_token: Option<String>,
}

async fn list_capture_jobs(
    State(s): State<AppState>,
    c: Result<ApiCaller, ApiError>,
    Query(p): Query<JobPaging>,
) -> Res {
    let c = caller(c)?;
    let per = p.per_page.unwrap_or(DEFAULT_PER_PAGE as i64).clamp(1, MAX_PER_PAGE as i64);
    let mut jobs = s.store.epcis_capture_jobs(scope_of(&c), p.next_page_token.as_deref(), per + 1).await?;
    let more = jobs.len() as i64 > per;
    jobs.truncate(per as usize);
    let mut r = axum::Json(&jobs).into_response();
    if more && let Some(last) = jobs.last() {
        let link = format!("</epcis/capture?perPage={per}&nextPageToken={}>; rel=\"next\"", last.capture_id);
        r.headers_mut().insert(header::LINK, HeaderValue::from_str(&link).expect("ascii"));
    }
    Ok(r)
}

async fn capture_job(State(s): State<AppState>, c: Result<ApiCaller, ApiError>, Path(id): Path<String>) -> Res {
    let c = caller(c)?;
    Ok(axum::Json(s.store.epcis_capture_job(&id, scope_of(&c)).await?).into_response())
}

async fn capture_event(
    State(s): State<AppState>,
    c: Result<ApiCaller, ApiError>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Res {
    let c = caller(c)?;
    let body = body_or_413(body)?;
    check_media_type(&headers)?;
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let ev =
        if first == Some(&b'<') { qgov_epcis::xml::parse_event(&body) } else { qgov_epcis::json::parse_event(&body) }
            .map_err(|p| EpcisError::problems(&p))?;
    let doc = Document { events: vec![ev], ..Default::default() };
    let out = s.store.epcis_capture_event(&c.actor(), &capturer_of(&c), doc).await?;
    notify_subscribers(&s.store, &out);
    if !out.stored.is_empty() {
        s.trace.catch_up_soon(&s.store);
    }
    let id = out.stored.first().cloned().unwrap_or_default();
    let mut r =
        (StatusCode::CREATED, axum::Json(json!({"eventID": id, "captureID": out.job.capture_id}))).into_response();
    let location = format!("/epcis/events/{}", encode_segment(&id));
    r.headers_mut().insert(header::LOCATION, HeaderValue::from_str(&location).expect("encoded"));
    Ok(r)
}

// ---------------------------------------------------------------------------------------------
// Queries

/// Query-string pairs grouped by name, values split on `|` (OpenAPI `pipeDelimited`).
fn url_params(pairs: &[(String, String)]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for (k, v) in pairs {
        let vals = v.split('|').map(str::to_owned);
        match out.iter_mut().find(|(n, _)| n == k) {
            Some((_, list)) => list.extend(vals),
            None => out.push((k.clone(), vals.collect())),
        }
    }
    out
}

/// Named-query parameters from their JSON object (arrays, strings, numbers, booleans).
fn json_params(q: &Value) -> Res<Vec<(String, Vec<String>)>> {
    let Value::Object(m) = q else {
        return Err(EpcisError::new(Exception::QueryParameter, "`query` must be a JSON object of parameters"));
    };
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    let mut out = Vec::new();
    for (k, v) in m {
        if k == "@context" {
            continue;
        }
        let vals = match v {
            Value::Array(a) => a.iter().map(scalar).collect::<Option<Vec<_>>>(),
            other => scalar(other).map(|s| vec![s]),
        };
        match vals {
            Some(vals) => out.push((k.clone(), vals)),
            None => {
                return Err(QueryParamError {
                    param: k.clone(),
                    message: "values must be strings, numbers or booleans".into(),
                }
                .into());
            }
        }
    }
    Ok(out)
}

/// Prefix resolution: `GS1-Extensions: p1=uri1, p2=uri2`, then prefixes of captured documents.
async fn resolver(store: &Store, h: &HeaderMap) -> Res<Vec<(String, String)>> {
    let mut map: Vec<(String, String)> = h
        .get("GS1-Extensions")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    map.extend(store.epcis_prefixes().await?);
    Ok(map)
}

fn parse_query(params: &[(String, Vec<String>)], prefixes: &[(String, String)]) -> Res<EventQuery> {
    let resolve = |p: &str| prefixes.iter().find(|(q, _)| q == p).map(|(_, u)| u.clone());
    Ok(EventQuery::parse(params, &resolve)?)
}

fn per_page(params: &[(String, Vec<String>)]) -> Res<(u64, Option<String>)> {
    let mut per = DEFAULT_PER_PAGE;
    let mut token = None;
    for (k, v) in params {
        match k.as_str() {
            "perPage" => {
                per = v.first().and_then(|s| s.parse::<u64>().ok()).filter(|n| *n > 0).ok_or_else(|| {
                    EpcisError::from(QueryParamError {
                        param: "perPage".into(),
                        message: "not a positive integer".into(),
                    })
                })?;
                per = per.min(MAX_PER_PAGE);
            }
            "nextPageToken" => token = v.first().cloned(),
            _ => {}
        }
    }
    Ok((per, token))
}

/// Builds the EPCISQueryDocument of a page and writes it in the negotiated representation.
fn answer(
    events: &[qgov_store::epcis::StoredEvent],
    query_name: &str,
    repr: Repr,
    format: EpcFormat,
) -> Res<(Vec<u8>, &'static str)> {
    let mut doc = Document {
        kind: DocumentKind::Query { query_name: query_name.to_owned(), subscription_id: None },
        schema_version: "2.0".into(),
        creation_date: Some(Timestamp(time::OffsetDateTime::now_utc())),
        ..Default::default()
    };
    for e in events {
        let (ev, ns) = e.to_event().map_err(|p| EpcisError::new(Exception::Implementation, p.to_string()))?;
        for n in ns {
            if !doc.namespaces.contains(&n) {
                doc.namespaces.push(n);
            }
        }
        doc.events.push(ev);
    }
    Ok(match repr {
        Repr::Json => (qgov_epcis::json::write_document(&doc, format), JSON_LD),
        Repr::Xml => (qgov_epcis::xml::write_document(&doc, format).into_bytes(), "application/xml"),
    })
}

async fn run_query(
    s: &AppState,
    c: &ApiCaller,
    headers: &HeaderMap,
    query_name: &str,
    params: Vec<(String, Vec<String>)>,
    link_base: &str,
    raw_pairs: &[(String, String)],
) -> Res {
    let repr = negotiate(headers)?;
    let prefixes = resolver(&s.store, headers).await?;
    let q = parse_query(&params, &prefixes)?;
    let (per, token) = per_page(&params)?;
    let page = s.store.epcis_query(&q, scope_of(c), per, token.as_deref()).await?;
    let (bytes, ct) = answer(&page.events, query_name, repr, epc_format(headers))?;
    let mut r = ([(header::CONTENT_TYPE, ct)], bytes).into_response();
    if let Some(t) = page.next_page_token {
        let mut qs: Vec<String> = raw_pairs
            .iter()
            .filter(|(k, _)| k != "nextPageToken" && k != "perPage")
            .map(|(k, v)| format!("{}={}", encode_segment(k), encode_segment(v)))
            .collect();
        qs.push(format!("perPage={per}"));
        qs.push(format!("nextPageToken={t}"));
        let link = format!("<{link_base}?{}>; rel=\"next\"", qs.join("&"));
        r.headers_mut().insert(header::LINK, HeaderValue::from_str(&link).expect("encoded"));
    }
    Ok(r)
}

async fn query_events(
    State(s): State<AppState>,
    c: Result<ApiCaller, ApiError>,
    headers: HeaderMap,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Res {
    let c = caller(c)?;
    run_query(&s, &c, &headers, "SimpleEventQuery", url_params(&pairs), "/epcis/events", &pairs).await
}

async fn one_event(
    State(s): State<AppState>,
    c: Result<ApiCaller, ApiError>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Res {
    let c = caller(c)?;
    let repr = negotiate(&headers)?;
    let ev = s
        .store
        .epcis_event(&id, scope_of(&c))
        .await?
        .ok_or_else(|| EpcisError::new(Exception::NoSuchResource, format!("no event {id:?}")))?;
    let (bytes, ct) = answer(&[ev], "SimpleEventQuery", repr, epc_format(&headers))?;
    Ok(([(header::CONTENT_TYPE, ct)], bytes).into_response())
}

/// `…/{value}/events`: the browse value as one more query parameter.
async fn events_by(
    s: AppState,
    c: Result<ApiCaller, ApiError>,
    headers: HeaderMap,
    pairs: Vec<(String, String)>,
    param: &str,
    value: String,
    base: String,
) -> Res {
    let c = caller(c)?;
    let mut params = url_params(&pairs);
    params.retain(|(k, _)| k != param);
    params.push((param.to_owned(), vec![value]));
    run_query(&s, &c, &headers, "SimpleEventQuery", params, &base, &pairs).await
}

macro_rules! events_of {
    ($fn:ident, $param:literal, $seg:literal) => {
        async fn $fn(
            State(s): State<AppState>,
            c: Result<ApiCaller, ApiError>,
            headers: HeaderMap,
            Path(value): Path<String>,
            Query(pairs): Query<Vec<(String, String)>>,
        ) -> Res {
            let base = format!("/epcis/{}/{}/events", $seg, encode_segment(&value));
            events_by(s, c, headers, pairs, $param, value, base).await
        }
    };
}
events_of!(events_of_type, "eventType", "eventTypes");
events_of!(events_of_epc, "MATCH_anyEPC", "epcs");
events_of!(events_of_biz_step, "EQ_bizStep", "bizSteps");
events_of!(events_of_biz_location, "EQ_bizLocation", "bizLocations");
events_of!(events_of_read_point, "EQ_readPoint", "readPoints");
events_of!(events_of_disposition, "EQ_disposition", "dispositions");

async fn event_types(c: Result<ApiCaller, ApiError>) -> Res {
    caller(c)?;
    let t = ["ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent"];
    Ok(axum::Json(collection(t.iter().map(|s| s.to_string()).collect())).into_response())
}

async fn browse(s: AppState, c: Result<ApiCaller, ApiError>, what: Browse, seg: &str, p: JobPaging) -> Res {
    let c = caller(c)?;
    let per = p.per_page.unwrap_or(DEFAULT_PER_PAGE as i64).clamp(1, MAX_PER_PAGE as i64);
    let mut values = s.store.epcis_browse(what, scope_of(&c), p.next_page_token.as_deref(), per + 1).await?;
    let more = values.len() as i64 > per;
    values.truncate(per as usize);
    let next = values.last().cloned();
    let mut r = axum::Json(collection(values)).into_response();
    if more && let Some(last) = next {
        let link = format!("</epcis/{seg}?perPage={per}&nextPageToken={}>; rel=\"next\"", encode_segment(&last));
        r.headers_mut().insert(header::LINK, HeaderValue::from_str(&link).expect("encoded"));
    }
    Ok(r)
}

macro_rules! browse_route {
    ($fn:ident, $what:expr, $seg:literal) => {
        async fn $fn(State(s): State<AppState>, c: Result<ApiCaller, ApiError>, Query(p): Query<JobPaging>) -> Res {
            browse(s, c, $what, $seg, p).await
        }
    };
}
browse_route!(browse_epcs, Browse::Epcs, "epcs");
browse_route!(browse_biz_steps, Browse::BizSteps, "bizSteps");
browse_route!(browse_biz_locations, Browse::BizLocations, "bizLocations");
browse_route!(browse_read_points, Browse::ReadPoints, "readPoints");
browse_route!(browse_dispositions, Browse::Dispositions, "dispositions");

// ---------------------------------------------------------------------------------------------
// Named queries and subscriptions

fn json_body(body: &Bytes) -> Res<Value> {
    serde_json::from_slice(body).map_err(|e| EpcisError::new(Exception::Validation, format!("malformed JSON: {e}")))
}

async fn create_query(
    State(s): State<AppState>,
    c: Result<ApiCaller, ApiError>,
    headers: HeaderMap,
    body: Bytes,
) -> Res {
    let c = caller(c)?;
    let v = json_body(&body)?;
    let name = v.get("name").and_then(Value::as_str).unwrap_or("").trim().to_owned();
    if name.is_empty() || name.len() > 200 || name.contains('/') {
        return Err(EpcisError::new(Exception::Validation, "`name` must be 1–200 characters without `/`"));
    }
    let query = v.get("query").cloned().unwrap_or(Value::Object(Default::default()));
    // Refuse a query that could never run.
    let prefixes = resolver(&s.store, &headers).await?;
    parse_query(&json_params(&query)?, &prefixes)?;
    let saved = s
        .store
        .epcis_create_query(&c.actor(), Some(c.user.id), &NamedQuery { name, query, created_at: String::new() })
        .await?;
    let mut r = (StatusCode::CREATED, axum::Json(&saved)).into_response();
    let loc = format!("/epcis/queries/{}", encode_segment(&saved.name));
    r.headers_mut().insert(header::LOCATION, HeaderValue::from_str(&loc).expect("encoded"));
    Ok(r)
}

async fn list_queries(State(s): State<AppState>, c: Result<ApiCaller, ApiError>) -> Res {
    caller(c)?;
    Ok(axum::Json(s.store.epcis_queries().await?).into_response())
}

async fn get_query(State(s): State<AppState>, c: Result<ApiCaller, ApiError>, Path(name): Path<String>) -> Res {
    caller(c)?;
    Ok(axum::Json(named(&s.store, &name).await?).into_response())
}

async fn named(store: &Store, name: &str) -> Res<NamedQuery> {
    store.epcis_named_query(name).await.map_err(|e| match e {
        StoreError::NotFound => EpcisError::new(Exception::NoSuchName, format!("no query named {name:?}")),
        other => other.into(),
    })
}

async fn delete_query(State(s): State<AppState>, c: Result<ApiCaller, ApiError>, Path(name): Path<String>) -> Res {
    let c = caller(c)?;
    named(&s.store, &name).await?;
    s.store.epcis_delete_query(&c.actor(), &name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn named_query_events(
    State(s): State<AppState>,
    c: Result<ApiCaller, ApiError>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Res {
    let c = caller(c)?;
    let nq = named(&s.store, &name).await?;
    let mut params = json_params(&nq.query)?;
    params.extend(url_params(&pairs).into_iter().filter(|(k, _)| k == "perPage" || k == "nextPageToken"));
    let base = format!("/epcis/queries/{}/events", encode_segment(&name));
    run_query(&s, &c, &headers, &name, params, &base, &pairs).await
}

async fn subscribe(
    State(s): State<AppState>,
    c: Result<ApiCaller, ApiError>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> Res {
    let c = caller(c)?;
    named(&s.store, &name).await?;
    let v = json_body(&body)?;
    let controls = |m: &str| EpcisError::new(Exception::SubscriptionControls, m.to_owned());
    let dest = v.get("dest").and_then(Value::as_str).ok_or_else(|| controls("`dest` (callback URL) is required"))?;
    if webhook::parse_http_url(dest).is_none() {
        return Err(controls("`dest` must be an http:// URL (this repository delivers without TLS)"));
    }
    let stream = v.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let schedule = v.get("schedule").cloned();
    if !stream && schedule.is_none() {
        return Err(controls("set `stream: true` or give a `schedule` (EPCIS 2.0 REST binding)"));
    }
    if stream && schedule.is_some() {
        return Err(controls("`stream` and `schedule` are mutually exclusive"));
    }
    if let Some(v) = &schedule {
        schedule::Schedule::parse(v)?;
    }
    let initial = match v.get("initialRecordTime").and_then(Value::as_str) {
        Some(t) => Some(qgov_store::epcis::query::micros(
            &Timestamp::parse(t).map_err(|e| controls(&format!("initialRecordTime: {e}")))?,
        )),
        None => None,
    };
    let format = headers.get("GS1-EPC-Format").and_then(|v| v.to_str().ok()).unwrap_or("No_Preference").to_owned();
    let sub = s
        .store
        .epcis_subscribe(
            &c.actor(),
            // An enterprise account without an entity must still be confined (to nothing), as
            // its queries are: its subscription carries the same scope, never "all".
            &Capturer { entity_id: c.own_entity(), ..capturer_of(&c) },
            &NewSubscription {
                query_name: name.clone(),
                dest: dest.to_owned(),
                signature_token: v.get("signatureToken").and_then(Value::as_str).map(str::to_owned),
                stream,
                schedule,
                report_if_empty: v.get("reportIfEmpty").and_then(Value::as_bool).unwrap_or(false),
                initial_record_time: initial,
                epc_format: format,
            },
        )
        .await?;
    if sub.schedule.is_some() {
        schedule::wake();
    }
    let mut r = (StatusCode::CREATED, axum::Json(&sub)).into_response();
    let loc = format!("/epcis/queries/{}/subscriptions/{}", encode_segment(&name), sub.id);
    r.headers_mut().insert(header::LOCATION, HeaderValue::from_str(&loc).expect("encoded"));
    Ok(r)
}

async fn list_subscriptions(
    State(s): State<AppState>,
    c: Result<ApiCaller, ApiError>,
    Path(name): Path<String>,
) -> Res {
    let c = caller(c)?;
    named(&s.store, &name).await?;
    let mut subs = s.store.epcis_subscriptions(Some(&name)).await?;
    if let Some(e) = c.own_entity() {
        subs.retain(|s| s.created_by_entity == Some(e));
    }
    Ok(axum::Json(subs).into_response())
}

async fn unsubscribe(
    State(s): State<AppState>,
    c: Result<ApiCaller, ApiError>,
    Path((name, id)): Path<(String, String)>,
) -> Res {
    let c = caller(c)?;
    s.store.epcis_unsubscribe(&c.actor(), &name, &id).await?;
    schedule::wake();
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// After a capture, delivers the newly stored events matching each stream subscription to its
/// `dest`, signed, in the background (the capture's answer does not wait for subscribers).
pub(crate) fn notify_subscribers(store: &Store, out: &CaptureOutcome) {
    if out.stored.is_empty() {
        return;
    }
    let store = store.clone();
    let capture_id = out.job.capture_id.clone();
    tokio::spawn(async move {
        if let Err(e) = deliver_stream(&store, &capture_id).await {
            tracing::warn!(error = %e.detail, "subscription delivery failed");
        }
    });
}

async fn deliver_stream(store: &Store, capture_id: &str) -> Res<()> {
    let subs = store.epcis_subscriptions(None).await?;
    if subs.is_empty() {
        return Ok(());
    }
    let prefixes = store.epcis_prefixes().await?;
    for sub in subs {
        let nq = named(store, &sub.query_name).await?;
        let mut q = parse_query(&json_params(&nq.query)?, &prefixes)?;
        q.filters.push(Filter::CaptureId(capture_id.to_owned()));
        q.event_count_limit = None;
        q.max_event_count = None;
        let page = store.epcis_query(&q, subscriber_scope(&sub), CAPTURE_LIMIT as u64, None).await?;
        if page.events.is_empty() {
            continue;
        }
        if post_results(&sub, &page.events).await? {
            store.epcis_mark_notified(&sub.id).await?;
        }
    }
    Ok(())
}

/// Whose view of the events a subscription delivers: its creator's.
fn subscriber_scope(sub: &Subscription) -> EventScope {
    sub.created_by_entity.map(EventScope::Entity).unwrap_or(EventScope::All)
}

/// Sends query results to a subscriber (stream and scheduled alike): the EPCIS query document
/// as JSON-LD in the subscription's EPC format with its `subscriptionID`, signed with
/// `GS1-Signature` when it has a `signatureToken`. `true` when the subscriber accepted it (2xx);
/// a refusal or an unreachable subscriber is logged and gives `false`.
async fn post_results(sub: &Subscription, events: &[StoredEvent]) -> Res<bool> {
    let format = EpcFormat::from_header(&sub.epc_format).unwrap_or_default();
    let (mut bytes, ct) = answer(events, &sub.query_name, Repr::Json, format)?;
    // The subscription ID belongs in the query results (EPCIS 2.0 §8.2.6).
    if let Ok(mut v) = serde_json::from_slice::<Value>(&bytes) {
        v["epcisBody"]["queryResults"]["subscriptionID"] = Value::String(sub.id.clone());
        bytes = v.to_string().into_bytes();
    }
    let sig = sub.signature_token.as_deref().map(|t| webhook::signature(t, &bytes));
    let dest = sub.dest.clone();
    let status = tokio::task::spawn_blocking(move || webhook::post(&dest, &bytes, ct, sig.as_deref()))
        .await
        .map_err(|e| EpcisError::new(Exception::Implementation, e.to_string()))?;
    match status {
        Ok(code) if (200..300).contains(&code) => Ok(true),
        Ok(code) => {
            tracing::warn!(subscription = %sub.id, code, "subscriber refused the delivery");
            Ok(false)
        }
        Err(e) => {
            tracing::warn!(subscription = %sub.id, error = %e, "subscriber unreachable");
            Ok(false)
        }
    }
}
