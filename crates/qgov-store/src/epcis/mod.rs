//! The GS1 EPCIS 2.0 repository on disk: capture (all-or-nothing, idempotent, one audit record
//! per capture), the query engine ([`query`]), capture jobs, named queries and subscriptions.
//!
//! Events are normalised FasTnT-style (see `migrations/*/0003_epcis.sql`): one row per event
//! with the scalar fields the standard queries on, child tables for identifiers, quantities,
//! business transactions, sources and destinations, sensor reports and flattened extension
//! fields, and the canonical JSON-LD of the event for answering.
//!
//! On PostgreSQL, writes go through sqlx's `Any` driver like the rest of the store, as multi-row
//! `INSERT … VALUES (…), (…)` statements of up to [`MAX_BINDS`] values. On SQLite a capture runs
//! on the `NativeWriter`'s own connection instead (multi-row statements prepared once and
//! reused, see `native.rs`), writing the same rows: `tests/epcis_native.rs` compares both paths table by table.

mod bulk;
pub(crate) mod ids;
mod native;
pub(crate) mod places;
pub mod query;

use crate::audit::WriteTx;
use crate::{Actor, Result, Store, StoreError, now, random_secret};
use qgov_epcis::model::{Event, ExtField, ExtValue, Timestamp};
use qgov_epcis::{Document, EpcFormat};
use query::{Bind, Cmp, EventQuery, Filter, OrderBy, QueryParamError, Sql, TimeColumn, micros};
use serde::Serialize;
use sqlx::{Any, Row, Transaction};
use std::collections::HashSet;

/// Bound values per multi-row statement. SQLite allows 32766, but sqlx binds each argument by
/// asking SQLite for the parameter's name, which SQLite finds by a linear scan: binding costs
/// O(n²) in the statement's parameter count (measured: 2,000 events/s at 16,000 parameters).
/// About a thousand keeps that negligible while still saving most per-statement overhead.
const MAX_BINDS: usize = 1_000;

/// Who captures: the account and, for enterprise accounts, its market entity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capturer {
    /// The capturing account.
    pub user_id: Option<i64>,
    /// The market entity of an enterprise account.
    pub entity_id: Option<i64>,
}

/// Which events a reader may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventScope {
    /// Regulators, inspectors, admins.
    All,
    /// An enterprise: the events it captured, or that name one of its registered locations
    /// (readPoint, bizLocation) or parties (source / destination) by GLN.
    Entity(i64),
}

/// `GS1-Capture-Error-Behaviour`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorBehaviour {
    /// Refuse the whole document when any event is bad (the default).
    Rollback,
    /// Store the good events, report the bad ones.
    Proceed,
}

impl ErrorBehaviour {
    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorBehaviour::Rollback => "rollback",
            ErrorBehaviour::Proceed => "proceed",
        }
    }
}

/// A capture job (EPCIS 2.0 REST binding `CaptureJob`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaptureJob {
    #[serde(rename = "captureID")]
    pub capture_id: String,
    #[serde(rename = "createdAt")]
    pub created_at: String,
    #[serde(rename = "finishedAt", skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    pub running: bool,
    pub success: bool,
    #[serde(rename = "captureErrorBehaviour")]
    pub error_behaviour: String,
    /// RFC 9457 problem objects, one per refused event.
    pub errors: Vec<serde_json::Value>,
    /// Events in the document.
    #[serde(rename = "eventCount")]
    pub event_count: i64,
    /// Events newly stored (the rest were refused or already present).
    #[serde(rename = "storedCount")]
    pub stored_count: i64,
}

/// What a capture did.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureOutcome {
    /// The job as recorded.
    pub job: CaptureJob,
    /// eventIDs of the newly stored events, in document order.
    pub stored: Vec<String>,
    /// eventIDs that were already in the repository (or repeated in the document).
    pub duplicates: Vec<String>,
}

/// A stored event as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// Internal key (capture order).
    pub pk: i64,
    /// `eventID`.
    pub event_id: String,
    /// The canonical JSON-LD of the event, with its own `@context`.
    pub body: String,
}

impl StoredEvent {
    /// The event and the namespace prefixes its body declares.
    pub fn to_event(&self) -> std::result::Result<(Event, Vec<(String, String)>), qgov_epcis::Problems> {
        let ev = qgov_epcis::json::parse_event(self.body.as_bytes())?;
        let mut ns = Vec::new();
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&self.body)
            && let Some(serde_json::Value::Array(ctx)) = v.get("@context")
        {
            for item in ctx {
                if let serde_json::Value::Object(m) = item {
                    for (k, v) in m {
                        if let Some(u) = v.as_str() {
                            ns.push((k.clone(), u.to_owned()));
                        }
                    }
                }
            }
        }
        Ok((ev, ns))
    }
}

/// One page of query results.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPage {
    pub events: Vec<StoredEvent>,
    /// Opaque keyset cursor for the next page (`None`: this was the last page).
    pub next_page_token: Option<String>,
}

/// Why a query gave no result.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// A parameter is unknown or bad (`QueryParameterException`).
    #[error(transparent)]
    Param(#[from] QueryParamError),
    /// More events than `maxEventCount` (`QueryTooLargeException`).
    #[error("the query matches more than maxEventCount = {0} events")]
    TooLarge(u64),
    /// A storage failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for QueryError {
    fn from(e: sqlx::Error) -> Self {
        QueryError::Store(e.into())
    }
}

/// The browse resources of the REST binding and the column each lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Browse {
    Epcs,
    BizSteps,
    BizLocations,
    ReadPoints,
    Dispositions,
}

/// A named query (the parameters as given).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NamedQuery {
    pub name: String,
    pub query: serde_json::Value,
    #[serde(rename = "createdAt")]
    pub created_at: String,
}

/// A webhook subscription to a named query.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Subscription {
    #[serde(rename = "subscriptionID")]
    pub id: String,
    #[serde(rename = "queryName")]
    pub query_name: String,
    pub dest: String,
    /// The client's secret for `GS1-Signature` (never serialised).
    #[serde(skip)]
    pub signature_token: Option<String>,
    pub stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<serde_json::Value>,
    #[serde(rename = "reportIfEmpty")]
    pub report_if_empty: bool,
    #[serde(rename = "createdAt")]
    pub created_at: String,
    #[serde(rename = "lastNotifiedAt", skip_serializing_if = "Option::is_none")]
    pub last_notified_at: Option<String>,
    #[serde(rename = "epcFormat")]
    pub epc_format: String,
    /// Whose view of the events the subscription delivers.
    #[serde(skip)]
    pub created_by_entity: Option<i64>,
}

/// A new subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSubscription {
    pub query_name: String,
    pub dest: String,
    pub signature_token: Option<String>,
    pub stream: bool,
    pub schedule: Option<serde_json::Value>,
    pub report_if_empty: bool,
    pub initial_record_time: Option<i64>,
    pub epc_format: String,
}

// -------------------------------------------------------------------------------------------
// Rows for multi-row inserts

/// A typed value for an insert (typed so that PostgreSQL sees the right parameter type even
/// for NULL).
#[derive(Debug, Clone)]
pub(crate) enum V {
    I(Option<i64>),
    R(Option<f64>),
    T(Option<String>),
    /// Text known at compile time (roles, directions, scopes): no allocation per row.
    S(&'static str),
}

struct Rows {
    table: &'static str,
    cols: &'static [&'static str],
    vals: Vec<V>,
}

impl Rows {
    fn new(table: &'static str, cols: &'static [&'static str]) -> Self {
        Rows { table, cols, vals: Vec::new() }
    }
    fn push(&mut self, row: impl IntoIterator<Item = V>) {
        let before = self.vals.len();
        self.vals.extend(row);
        debug_assert_eq!(self.vals.len() - before, self.cols.len(), "{}", self.table);
    }

    fn statement(&self, rows: usize) -> String {
        let n = self.cols.len();
        let mut sql = format!("INSERT INTO {} ({}) VALUES ", self.table, self.cols.join(", "));
        let mut p = 1;
        for r in 0..rows {
            if r > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for c in 0..n {
                if c > 0 {
                    sql.push_str(", ");
                }
                sql.push('$');
                sql.push_str(&p.to_string());
                p += 1;
            }
            sql.push(')');
        }
        sql
    }

    /// Replaces each row's key (its first value, a document-relative key) by `keys[key]`, and
    /// drops the rows whose key maps to `None`.
    fn rekey(&mut self, keys: &[Option<i64>]) {
        let n = self.cols.len();
        let rows = self.vals.len() / n;
        let mut kept = 0;
        for r in 0..rows {
            let key = match self.vals[r * n] {
                V::I(Some(k)) => keys.get(k as usize).copied().flatten(),
                _ => None,
            };
            if let Some(k) = key {
                if kept != r {
                    for c in 0..n {
                        self.vals.swap(kept * n + c, r * n + c);
                    }
                }
                self.vals[kept * n] = V::I(Some(k));
                kept += 1;
            }
        }
        self.vals.truncate(kept * n);
    }

    /// Inserts the rows [`NATIVE_ROWS`] at a time, each batch one multi-row `INSERT` (its
    /// statement prepared once and kept): SQLite opens the table and each of its indexes once
    /// per statement, so per batch instead of per row.
    fn insert_native(&self, conn: &mut native::RawConn) -> Result<()> {
        let n = self.cols.len();
        for chunk in self.vals.chunks(NATIVE_ROWS * n) {
            let rows = chunk.len() / n;
            let one = format!("({})", vec!["?"; n].join(", "));
            let sql =
                format!("INSERT INTO {} ({}) VALUES {}", self.table, self.cols.join(", "), vec![one; rows].join(", "));
            conn.run(&sql, chunk)?;
        }
        Ok(())
    }

    async fn insert(self, tx: &mut Transaction<'static, Any>) -> Result<()> {
        let n = self.cols.len();
        if self.vals.is_empty() {
            return Ok(());
        }
        let per = (MAX_BINDS / n).max(1);
        let full = self.statement(per);
        for chunk in self.vals.chunks(per * n) {
            let rows = chunk.len() / n;
            let sql = if rows == per { full.clone() } else { self.statement(rows) };
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for v in chunk {
                q = match v {
                    V::I(x) => q.bind(*x),
                    V::R(Some(x)) => q.bind(*x),
                    // sqlx 0.9.0's Any driver sends a NULL of kind Double as FLOAT4 and one of
                    // kind Real as FLOAT8 (swapped); PostgreSQL then prepares the statement with
                    // a FLOAT4 parameter and refuses the next non-null f64. A `None::<f32>`
                    // arrives as a FLOAT8 NULL, which is what the column is.
                    V::R(None) => q.bind(None::<f32>),
                    V::T(x) => q.bind(x.clone()),
                    V::S(x) => q.bind(*x),
                };
            }
            q.execute(&mut **tx).await?;
        }
        Ok(())
    }
}

fn t(s: &str) -> V {
    V::T(Some(s.to_owned()))
}
fn st(s: &'static str) -> V {
    V::S(s)
}
fn ot(s: Option<&str>) -> V {
    V::T(s.map(str::to_owned))
}
fn ts(x: Option<&Timestamp>) -> V {
    V::I(x.map(micros))
}

/// The GLN inside a canonical SGLN (`…/414/GLN[/254/EXT]`) or PGLN (`…/417/GLN`) Digital Link.
pub fn gln_of(canonical: &str) -> Option<String> {
    let rest = canonical
        .strip_prefix("https://id.gs1.org/414/")
        .or_else(|| canonical.strip_prefix("https://id.gs1.org/417/"))?;
    let gln = rest.get(..13)?;
    (gln.bytes().all(|b| b.is_ascii_digit()) && (rest.len() == 13 || rest[13..].starts_with('/')))
        .then(|| gln.to_owned())
}

const EVENT_COLS: &[&str] = &[
    "id",
    "event_id",
    "event_type",
    "event_time",
    "event_time_zone_offset",
    "record_time",
    "action",
    "biz_step",
    "disposition",
    "read_point",
    "read_point_gln",
    "biz_location",
    "biz_location_gln",
    "transformation_id",
    "error_declaration_time",
    "error_reason",
    "capture_id",
    "captured_by_user",
    "captured_by_entity",
    "body",
];
const SENSOR_COLS: &[&str] = &[
    "event_pk",
    "element_index",
    "report_index",
    "meta_time",
    "meta_start_time",
    "meta_end_time",
    "meta_device_id",
    "meta_data_processing_method",
    "meta_biz_rules",
    "type",
    "exception",
    "device_id",
    "data_processing_method",
    "biz_rules",
    "time",
    "microorganism",
    "chemical_substance",
    "value",
    "component",
    "string_value",
    "boolean_value",
    "hex_binary_value",
    "uri_value",
    "min_value",
    "max_value",
    "mean_value",
    "s_dev",
    "perc_rank",
    "perc_value",
    "uom",
];

/// All the child rows of a batch of events.
struct Batch {
    events: Rows,
    epcs: Rows,
    quantities: Rows,
    biz_tx: Rows,
    source_dest: Rows,
    persistent: Rows,
    corrective: Rows,
    certs: Rows,
    sensors: Rows,
    fields: Rows,
}

impl Batch {
    fn new() -> Self {
        Batch {
            events: Rows::new("epcis_events", EVENT_COLS),
            epcs: Rows::new("epcis_epcs", &["event_pk", "role", "epc"]),
            quantities: Rows::new("epcis_quantities", &["event_pk", "role", "epc_class", "quantity", "uom"]),
            biz_tx: Rows::new("epcis_biz_transactions", &["event_pk", "type", "id"]),
            source_dest: Rows::new("epcis_source_dest", &["event_pk", "direction", "type", "id", "gln"]),
            persistent: Rows::new("epcis_persistent_dispositions", &["event_pk", "kind", "disposition"]),
            corrective: Rows::new("epcis_corrective_ids", &["event_pk", "corrective_event_id"]),
            certs: Rows::new("epcis_certifications", &["event_pk", "uri"]),
            sensors: Rows::new("epcis_sensor_reports", SENSOR_COLS),
            fields: Rows::new(
                "epcis_fields",
                &["event_pk", "scope", "depth", "ns", "name", "path", "text_value", "num_value", "time_value"],
            ),
        }
    }

    fn add(&mut self, pk: i64, ev: &Event, event_id: &str, body: String, capture_id: &str, by: &Capturer) {
        let rp = ev.read_point.as_ref().map(|l| l.id.as_str());
        let bl = ev.biz_location.as_ref().map(|l| l.id.as_str());
        self.events.push([
            V::I(Some(pk)),
            t(event_id),
            st(ev.event_type.as_str()),
            V::I(Some(micros(&ev.event_time))),
            t(ev.event_time_zone_offset.as_str()),
            ts(ev.record_time.as_ref()),
            ev.action.map_or(V::T(None), |a| st(a.as_str())),
            ot(ev.biz_step.as_deref()),
            ot(ev.disposition.as_deref()),
            ot(rp),
            V::T(rp.and_then(gln_of)),
            ot(bl),
            V::T(bl.and_then(gln_of)),
            ot(ev.transformation_id.as_ref().map(|e| e.as_str())),
            ts(ev.error_declaration.as_ref().map(|d| &d.declaration_time)),
            ot(ev.error_declaration.as_ref().and_then(|d| d.reason.as_deref())),
            t(capture_id),
            V::I(by.user_id),
            V::I(by.entity_id),
            V::T(Some(body)),
        ]);
        let pkv = || V::I(Some(pk));
        for (role, list) in [
            ("epc", &ev.epc_list),
            ("child", &ev.child_epcs),
            ("input", &ev.input_epc_list),
            ("output", &ev.output_epc_list),
        ] {
            for e in list {
                self.epcs.push([pkv(), st(role), t(e.as_str())]);
            }
        }
        if let Some(p) = &ev.parent_id {
            self.epcs.push([pkv(), st("parent"), t(p.as_str())]);
        }
        for (role, list) in [
            ("epc", &ev.quantity_list),
            ("child", &ev.child_quantity_list),
            ("input", &ev.input_quantity_list),
            ("output", &ev.output_quantity_list),
        ] {
            for q in list {
                self.quantities.push([
                    pkv(),
                    st(role),
                    t(q.epc_class.as_str()),
                    V::R(q.quantity),
                    ot(q.uom.as_deref()),
                ]);
            }
        }
        for b in &ev.biz_transaction_list {
            self.biz_tx.push([pkv(), t(b.kind.as_deref().unwrap_or("")), t(b.id.as_str())]);
        }
        for (dir, list) in [("source", &ev.source_list), ("destination", &ev.destination_list)] {
            for s in list {
                self.source_dest.push([pkv(), st(dir), t(&s.kind), t(s.id.as_str()), V::T(gln_of(s.id.as_str()))]);
            }
        }
        if let Some(p) = &ev.persistent_disposition {
            for d in &p.set {
                self.persistent.push([pkv(), st("set"), t(d)]);
            }
            for d in &p.unset {
                self.persistent.push([pkv(), st("unset"), t(d)]);
            }
        }
        if let Some(d) = &ev.error_declaration {
            for c in &d.corrective_event_ids {
                self.corrective.push([pkv(), t(c)]);
            }
            self.ext(pk, "errorDeclaration", &d.extensions);
        }
        for c in &ev.certification_info {
            self.certs.push([pkv(), t(c)]);
        }
        for (ei, se) in ev.sensor_element_list.iter().enumerate() {
            let m = se.metadata.as_ref();
            for (ri, r) in se.reports.iter().enumerate() {
                let id = |e: Option<&qgov_epcis::Epc>| ot(e.map(|e| e.as_str()));
                self.sensors.push([
                    pkv(),
                    V::I(Some(ei as i64)),
                    V::I(Some(ri as i64)),
                    ts(m.and_then(|m| m.time.as_ref())),
                    ts(m.and_then(|m| m.start_time.as_ref())),
                    ts(m.and_then(|m| m.end_time.as_ref())),
                    id(m.and_then(|m| m.device_id.as_ref())),
                    id(m.and_then(|m| m.data_processing_method.as_ref())),
                    id(m.and_then(|m| m.biz_rules.as_ref())),
                    ot(r.kind.as_deref()),
                    ot(r.exception.as_deref()),
                    id(r.device_id.as_ref()),
                    id(r.data_processing_method.as_ref()),
                    id(r.biz_rules.as_ref()),
                    ts(r.time.as_ref()),
                    ot(r.microorganism.as_deref()),
                    ot(r.chemical_substance.as_deref()),
                    V::R(r.value),
                    ot(r.component.as_deref()),
                    ot(r.string_value.as_deref()),
                    V::I(r.boolean_value.map(i64::from)),
                    V::T(r.hex_binary_value.as_ref().map(|h| h.to_ascii_uppercase())),
                    ot(r.uri_value.as_deref()),
                    V::R(r.min_value),
                    V::R(r.max_value),
                    V::R(r.mean_value),
                    V::R(r.s_dev),
                    V::R(r.perc_rank),
                    V::R(r.perc_value),
                    ot(r.uom.as_deref()),
                ]);
                self.ext(pk, "sensorReport", &r.extensions);
            }
            if let Some(m) = m {
                self.ext(pk, "sensorMetadata", &m.extensions);
            }
            self.ext(pk, "sensorElement", &se.extensions);
        }
        self.ext(pk, "event", &ev.extensions);
        if let Some(ilmd) = &ev.ilmd {
            self.ext(pk, "ilmd", ilmd);
        }
        if let Some(l) = &ev.read_point {
            self.ext(pk, "readPoint", &l.extensions);
        }
        if let Some(l) = &ev.biz_location {
            self.ext(pk, "bizLocation", &l.extensions);
        }
    }

    fn ext(&mut self, pk: i64, scope: &'static str, fields: &[ExtField]) {
        self.ext_at(pk, scope, 0, "", fields);
    }

    fn ext_at(&mut self, pk: i64, scope: &'static str, depth: i64, parent: &str, fields: &[ExtField]) {
        for f in fields {
            if f.ns.is_empty() {
                continue; // JSON-LD keywords (@type, @id) are not extension fields.
            }
            let path = if parent.is_empty() { f.name.clone() } else { format!("{parent}/{}", f.name) };
            let (text, num, time) = match &f.value {
                ExtValue::Leaf(s, _) => {
                    let s = s.trim();
                    let num = s.parse::<f64>().ok().filter(|n| n.is_finite());
                    let time = if num.is_none() { Timestamp::parse(s).ok().map(|t| micros(&t)) } else { None };
                    (Some(s.to_owned()), num, time)
                }
                ExtValue::Node(_) => (None, None, None),
            };
            self.fields.push([
                V::I(Some(pk)),
                st(scope),
                V::I(Some(depth)),
                t(&f.ns),
                t(&f.name),
                V::T(Some(path.clone())),
                V::T(text),
                V::R(num),
                V::I(time),
            ]);
            if let ExtValue::Node(children) = &f.value {
                self.ext_at(pk, scope, depth + 1, &path, children);
            }
        }
    }

    fn tables_mut(&mut self) -> [&mut Rows; 10] {
        [
            &mut self.events,
            &mut self.epcs,
            &mut self.quantities,
            &mut self.biz_tx,
            &mut self.source_dest,
            &mut self.persistent,
            &mut self.corrective,
            &mut self.certs,
            &mut self.sensors,
            &mut self.fields,
        ]
    }

    /// Moves the place columns of the (keyed, stored) rows into `fresh`.
    fn take_places(&mut self, fresh: &mut places::Fresh) {
        let text = |v: &mut V| match v {
            V::T(t) => t.take(),
            _ => None,
        };
        for row in self.events.vals.chunks_mut(EVENT_COLS.len()) {
            if let V::I(Some(pk)) = row[0] {
                let places = PLACE_COLS.map(|c| text(&mut row[c]));
                fresh.events.push((pk, places));
            }
        }
        for row in self.source_dest.vals.chunks_mut(self.source_dest.cols.len()) {
            if let [V::I(Some(pk)), direction, kind, id, gln] = row {
                let destination = matches!(direction, V::S("destination"));
                if let (Some(kind), Some(id)) = (text(kind), text(id)) {
                    fresh.source_dest.push((*pk, destination, kind, id, text(gln)));
                }
            }
        }
    }

    /// The tables in insertion order.
    fn tables(self) -> [Rows; 10] {
        [
            self.events,
            self.epcs,
            self.quantities,
            self.biz_tx,
            self.source_dest,
            self.persistent,
            self.corrective,
            self.certs,
            self.sensors,
            self.fields,
        ]
    }

    async fn insert(self, tx: &mut Transaction<'static, Any>) -> Result<()> {
        for rows in self.tables() {
            rows.insert(tx).await?;
        }
        Ok(())
    }
}

const JOB_COLS: &[&str] = &[
    "capture_id",
    "created_at",
    "finished_at",
    "running",
    "success",
    "error_behaviour",
    "errors",
    "event_count",
    "stored_count",
    "captured_by_user",
    "captured_by_entity",
];

/// Position of `record_time`, the place columns and `body` in [`EVENT_COLS`].
const RECORD_TIME_COL: usize = 5;
const PLACE_COLS: [usize; 4] = [9, 11, 10, 12];
const BODY_COL: usize = 19;

/// A capture document turned into rows before the writer is free, on the caller's thread:
/// the events are keyed 1, 2, … in document order (an eventID repeated inside the document is
/// kept once) and their bodies leave out recordTime. [`Prepared::place`] gives them their keys
/// and record time under the writer lock, where only the repository's own state is read.
struct Prepared {
    batch: Batch,
    /// Every event of the document: its eventID and its key in `batch` (`None`: it repeats
    /// an earlier event of the document).
    events: Vec<(String, Option<i64>)>,
    namespaces: Vec<(String, String)>,
}

impl Prepared {
    fn new(doc: &mut Document, capture_id: &str, by: &Capturer) -> Self {
        let mut batch = Batch::new();
        let mut seen: HashSet<&str> = HashSet::with_capacity(doc.events.len());
        let mut events = Vec::with_capacity(doc.events.len());
        let mut key = 0;
        for ev in &mut doc.events {
            // The server sets recordTime (in `place`), whatever the document says.
            ev.record_time = None;
        }
        for ev in &doc.events {
            let id = ev.event_id.as_deref().unwrap_or_default();
            if !seen.insert(id) {
                events.push((id.to_owned(), None));
                continue;
            }
            key += 1;
            let body = qgov_epcis::json::event_json(ev, &doc.namespaces, EpcFormat::NoPreference);
            batch.add(key, ev, id, body, capture_id, by);
            events.push((id.to_owned(), Some(key)));
        }
        Prepared { batch, events, namespaces: std::mem::take(&mut doc.namespaces) }
    }

    /// The eventIDs the writer must look up (each once).
    fn ids(&self) -> impl Iterator<Item = &str> {
        self.events.iter().filter(|(_, k)| k.is_some()).map(|(id, _)| id.as_str())
    }

    /// Keys the events whose eventID is not in `existing` after `last_key`, in document order,
    /// gives them `record_time` (column and body) and drops the rows of the others. Returns the
    /// stored and the duplicate eventIDs in document order; with `conflict_on_duplicate`, a
    /// duplicate is a [`StoreError::Conflict`].
    fn place(
        &mut self,
        existing: &HashSet<String>,
        last_key: i64,
        record_time: Timestamp,
        conflict_on_duplicate: bool,
    ) -> Result<(Vec<String>, Vec<String>)> {
        let mut keys = vec![None; self.events.len() + 1];
        let mut next = last_key;
        let (mut stored, mut duplicates) = (Vec::new(), Vec::new());
        for (id, key) in &self.events {
            match key {
                Some(k) if !existing.contains(id) => {
                    next += 1;
                    keys[*k as usize] = Some(next);
                    stored.push(id.clone());
                }
                _ if conflict_on_duplicate => return Err(StoreError::Conflict { field: "eventID", value: id.clone() }),
                _ => duplicates.push(id.clone()),
            }
        }
        for rows in self.batch.tables_mut() {
            rows.rekey(&keys);
        }
        let at = micros(&record_time);
        let field = format!("{{\"recordTime\":\"{}\"", record_time.to_rfc3339());
        let n = EVENT_COLS.len();
        for row in self.batch.events.vals.chunks_mut(n) {
            row[RECORD_TIME_COL] = V::I(Some(at));
            if let V::T(Some(body)) = &mut row[BODY_COL] {
                // `body` is a serialised JSON object: the field goes first.
                let rest = body.get(1..).unwrap_or("}");
                let mut b = String::with_capacity(field.len() + body.len() + 1);
                b.push_str(&field);
                if rest.trim_start() != "}" {
                    b.push(',');
                }
                b.push_str(rest);
                *body = b;
            }
        }
        Ok((stored, duplicates))
    }
}

/// The finished job of a capture and the after-image of its audit record.
fn finish_job(
    capture_id: &str,
    created_at: String,
    behaviour: ErrorBehaviour,
    refused: Vec<serde_json::Value>,
    doc_events: usize,
    stored: &[String],
    duplicates: &[String],
) -> (CaptureJob, serde_json::Value) {
    let job = CaptureJob {
        capture_id: capture_id.to_owned(),
        created_at,
        finished_at: Some(now()),
        running: false,
        success: refused.is_empty(),
        error_behaviour: behaviour.as_str().to_owned(),
        event_count: (doc_events + refused.len()) as i64,
        errors: refused,
        stored_count: stored.len() as i64,
    };
    let summary = serde_json::json!({
        "captureID": capture_id,
        "events": job.event_count,
        "stored": stored.len(),
        "duplicates": duplicates.len(),
        "refused": job.errors.len(),
    });
    (job, summary)
}

fn job_row(job: &CaptureJob, by: &Capturer) -> [V; 11] {
    [
        t(&job.capture_id),
        t(&job.created_at),
        ot(job.finished_at.as_deref()),
        V::I(Some(i64::from(job.running))),
        V::I(Some(i64::from(job.success))),
        t(&job.error_behaviour),
        V::T(Some(serde_json::to_string(&job.errors).unwrap_or_else(|_| "[]".into()))),
        V::I(Some(job.event_count)),
        V::I(Some(job.stored_count)),
        V::I(by.user_id),
        V::I(by.entity_id),
    ]
}

/// One capture for the SQLite writer.
struct Capture {
    actor: Actor,
    by: Capturer,
    doc: Prepared,
    /// Events in the document as given (repeats included).
    doc_events: usize,
    behaviour: ErrorBehaviour,
    refused: Vec<serde_json::Value>,
    conflict_on_duplicate: bool,
    capture_id: String,
    created_at: String,
}

/// A capture waiting in the writer's queue, with where its outcome goes.
struct CaptureRequest {
    capture: Capture,
    reply: std::sync::mpsc::SyncSender<Result<CaptureOutcome>>,
}

/// WAL frames (4 KiB pages) after which the writer asks its checkpointer thread to copy them
/// into the database, and after which it does so itself (the checkpointer cannot finish while
/// the writer keeps appending; a checkpoint by the writer between two transactions does, and
/// lets the WAL start over).
const WAL_CHECKPOINT_ELSEWHERE: i32 = 16_384;
const WAL_CHECKPOINT_MYSELF: i32 = 65_536;

/// Rows per `INSERT` statement of the native writer (at most 30 columns: 1,920 parameters,
/// well under SQLite's 32,766).
const NATIVE_ROWS: usize = 64;

/// The most documents and events one transaction of the writer takes from its queue.
const GROUP_DOCUMENTS: usize = 16;
const GROUP_EVENTS: usize = 20_000;

fn writer_error(msg: String) -> StoreError {
    StoreError::Db(sqlx::Error::Protocol(msg))
}

/// Tells every capture of a group that nothing of it was stored, and why.
fn refuse_group(group: Vec<CaptureRequest>, msg: &str) {
    for r in group {
        let _ = r.reply.send(Err(writer_error(msg.to_owned())));
    }
}

/// The SQLite capture writer: one native connection of its own (opened on first use), on
/// which captures run as `BEGIN IMMEDIATE … COMMIT` of prepared multi-row statements. It
/// writes exactly the rows the `Any` path writes (same [`Prepared`] rows, job row and audit
/// rule); `tests/epcis_native.rs` compares both table by table.
///
/// Group commit: captures that arrive while the writer is busy wait in `queue`, and the next
/// thread to get the connection commits all of them (up to [`GROUP_DOCUMENTS`] documents or
/// [`GROUP_EVENTS`] events) in one transaction, each document with its own job, audit record
/// and record time, and, in a group of two or more, inside its own savepoint. A document that
/// fails is rolled back to its savepoint alone (a document alone, with its transaction); if a
/// savepoint itself fails, the whole group is rolled back and every caller told. Every caller
/// learns its own outcome only after the commit, so a capture is durable when it returns, as
/// before. Under concurrent load this writes each index page once per group instead of once
/// per document.
pub(crate) struct NativeWriter {
    path: String,
    conn: std::sync::Mutex<Option<native::RawConn>>,
    queue: std::sync::Mutex<std::collections::VecDeque<CaptureRequest>>,
    /// Transactions committed (a group counts once).
    commits: std::sync::atomic::AtomicU64,
    /// The store's eventIDs in memory (shared with its queries, see `ids.rs`).
    ids: std::sync::Arc<std::sync::Mutex<ids::EventIds>>,
    /// The store's place index, which takes each group's rows as it commits (`places.rs`).
    places: std::sync::Arc<tokio::sync::Mutex<places::PlaceIndex>>,
    /// Wakes the checkpointer thread (started with the writer's connection), which copies
    /// the WAL into the database beside the writer instead of inside its commits.
    checkpoints: std::sync::OnceLock<std::sync::mpsc::SyncSender<()>>,
    /// Checkpoints the checkpointer thread has run.
    checkpointed: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// [`WAL_CHECKPOINT_ELSEWHERE`] and [`WAL_CHECKPOINT_MYSELF`] (tests lower them).
    wal_limits: (i32, i32),
}

/// The new events of a group's captures so far: not yet committed, so not yet in
/// [`ids::EventIds`], but already duplicates for the group's later documents.
#[derive(Default)]
struct Staged {
    by_hash: std::collections::HashMap<u64, Vec<i64>>,
    rows: Vec<(i64, String)>,
}

impl std::fmt::Debug for NativeWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeWriter").field("path", &self.path).finish_non_exhaustive()
    }
}

impl NativeWriter {
    pub(crate) fn new(
        path: String,
        ids: std::sync::Arc<std::sync::Mutex<ids::EventIds>>,
        places: std::sync::Arc<tokio::sync::Mutex<places::PlaceIndex>>,
    ) -> Self {
        NativeWriter {
            path,
            conn: std::sync::Mutex::new(None),
            queue: Default::default(),
            commits: Default::default(),
            ids,
            places,
            checkpoints: std::sync::OnceLock::new(),
            checkpointed: Default::default(),
            wal_limits: (WAL_CHECKPOINT_ELSEWHERE, WAL_CHECKPOINT_MYSELF),
        }
    }

    /// Opens the writer's connection, which leaves checkpoints to [`Self::after_commit`], and
    /// starts the checkpointer thread on a connection of its own (once per writer). Without
    /// that thread the writer checkpoints by itself.
    fn open(&self) -> Result<native::RawConn> {
        let mut conn = native::RawConn::open(&self.path)?;
        conn.count_wal_frames();
        if self.checkpoints.get().is_none() {
            let started = native::RawConn::open(&self.path).and_then(|mut c| {
                let (tx, rx) = std::sync::mpsc::sync_channel::<()>(1);
                let checkpointed = self.checkpointed.clone();
                std::thread::Builder::new()
                    .name("qgov-wal-checkpoint".into())
                    .spawn(move || {
                        // Ends when the writer (the sender) is dropped.
                        while rx.recv().is_ok() {
                            match c.checkpoint() {
                                Ok(_) => drop(checkpointed.fetch_add(1, std::sync::atomic::Ordering::Relaxed)),
                                Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
                            }
                        }
                    })
                    .map_err(|e| writer_error(format!("cannot start the checkpointer: {e}")))?;
                Ok(tx)
            });
            match started {
                Ok(tx) => drop(self.checkpoints.set(tx)),
                Err(e) => tracing::warn!(error = %e, "the capture writer checkpoints by itself"),
            }
        }
        Ok(conn)
    }

    /// After a commit: once the WAL has grown past [`WAL_CHECKPOINT_ELSEWHERE`] frames the
    /// checkpointer is woken (a wake-up already pending is enough); past
    /// [`WAL_CHECKPOINT_MYSELF`], or without a checkpointer, the writer copies what is left.
    fn after_commit(&self, conn: &mut native::RawConn) {
        let frames = conn.wal_frames();
        let (elsewhere, myself) = self.wal_limits;
        let checkpointer = self.checkpoints.get();
        if frames >= myself || (checkpointer.is_none() && frames >= elsewhere) {
            if let Err(e) = conn.checkpoint() {
                tracing::warn!(error = %e, "WAL checkpoint failed");
            }
        } else if let Some(tx) = checkpointer.filter(|_| frames >= elsewhere) {
            let _ = tx.try_send(());
        }
    }

    fn ids(&self) -> std::sync::MutexGuard<'_, ids::EventIds> {
        self.ids.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a capture and returns once it is committed (by this thread or by another that
    /// took it into its group).
    fn capture(&self, capture: Capture) -> Result<CaptureOutcome> {
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        let request = CaptureRequest { capture, reply };
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).push_back(request);
        // A panic while holding the lock leaves at worst an open transaction, rolled back in
        // `commit_group`; the requests of that group see their reply dropped (an error).
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            match answer.try_recv() {
                Ok(outcome) => return outcome,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    return Err(writer_error("the capture writer failed while committing this capture".into()));
                }
                Err(std::sync::mpsc::TryRecvError::Empty) => {}
            }
            // Our request is still queued: take a group (FIFO, so ours comes in time).
            let group = {
                let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
                let mut group = Vec::new();
                let mut events = 0;
                while let Some(r) = q.front() {
                    let n = r.capture.doc_events;
                    if !group.is_empty() && (group.len() >= GROUP_DOCUMENTS || events + n > GROUP_EVENTS) {
                        break;
                    }
                    events += n;
                    group.extend(q.pop_front());
                }
                group
            };
            if guard.is_none() {
                match self.open() {
                    Ok(c) => *guard = Some(c),
                    Err(e) => {
                        refuse_group(group, &e.to_string());
                        continue;
                    }
                }
            }
            let conn = guard.as_mut().expect("opened above");
            self.commit_group(conn, group);
        }
    }

    /// Commits a group of captures in one transaction and sends each its outcome.
    fn commit_group(&self, conn: &mut native::RawConn, group: Vec<CaptureRequest>) {
        let mut done: Vec<(std::sync::mpsc::SyncSender<Result<CaptureOutcome>>, Result<CaptureOutcome>)> =
            Vec::with_capacity(group.len());
        let begun = (|| {
            if conn.in_transaction() {
                conn.exec("ROLLBACK")?;
            }
            conn.exec("BEGIN IMMEDIATE")
        })();
        // Under the write lock and before this transaction writes anything: what other
        // processes committed since this writer last looked (read without holding the map,
        // which queries use meanwhile; at the first capture of a large store that is long).
        let begun = begun.and_then(|()| {
            let mut fresh = ids::EventIds::above(self.ids().mark());
            fresh.catch_up_native(conn)?;
            self.ids().merge(fresh);
            Ok(())
        });
        if let Err(e) = begun {
            if conn.in_transaction() {
                let _ = conn.exec("ROLLBACK");
            }
            refuse_group(group, &e.to_string());
            return;
        }
        let mut staged = Staged::default();
        let mut fresh = places::Fresh::default();
        // A savepoint makes SQLite copy every page the document touches into its statement
        // journal (WAL mode), so a document alone runs without one: its failure rolls back the
        // whole transaction, which holds nothing else.
        let alone = group.len() == 1;
        // A savepoint that cannot be opened, rolled back to or released leaves the transaction
        // in doubt: then nothing of the group is committed.
        let mut broken: Option<String> = None;
        for mut r in group {
            if let Some(msg) = &broken {
                done.push((r.reply, Err(writer_error(msg.clone()))));
                continue;
            }
            let ids = &self.ids;
            let mut run = |conn: &mut native::RawConn| Self::capture_tx(conn, &mut r.capture, ids, &staged);
            let outcome = if alone {
                run(conn)
            } else {
                let o = conn.exec("SAVEPOINT capture").map(|()| run(conn));
                let closed = match &o {
                    Ok(Ok(_)) => conn.exec("RELEASE capture"),
                    Ok(Err(_)) => conn.exec("ROLLBACK TO capture").and_then(|()| conn.exec("RELEASE capture")),
                    Err(_) => Ok(()),
                };
                match (o, closed) {
                    (Ok(outcome), Ok(())) => outcome,
                    (Err(e), _) | (Ok(_), Err(e)) => {
                        broken = Some(e.to_string());
                        Err(e)
                    }
                }
            };
            // Its new events are keyed after `last`, in order.
            let outcome = outcome.map(|(out, last)| {
                for (pk, id) in (last + 1..).zip(&out.stored) {
                    staged.by_hash.entry(ids::hash(id)).or_default().push(pk);
                    staged.rows.push((pk, id.clone()));
                }
                fresh.keyed(last, out.stored.len());
                r.capture.doc.batch.take_places(&mut fresh);
                out
            });
            done.push((r.reply, outcome));
        }
        let committed = if let Some(msg) = broken {
            let _ = conn.exec("ROLLBACK");
            Err(msg)
        } else if alone && done.iter().any(|(_, o)| o.is_err()) {
            conn.exec("ROLLBACK").map_err(|e| e.to_string())
        } else {
            conn.exec("COMMIT")
                .map(|()| {
                    self.commits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    self.ids().absorb(staged.rows.iter().map(|(pk, id)| (*pk, id.as_str())));
                    // Without waiting: a reader that holds the index reads these rows itself.
                    if let Ok(mut ix) = self.places.try_lock() {
                        ix.absorb(&fresh);
                    }
                })
                .map_err(|e| e.to_string())
        };
        let wrote = committed.is_ok();
        if let Err(msg) = committed {
            if conn.in_transaction() {
                let _ = conn.exec("ROLLBACK");
            }
            for (_, o) in &mut done {
                if o.is_ok() {
                    *o = Err(writer_error(msg.clone()));
                }
            }
        }
        for (reply, outcome) in done {
            let _ = reply.send(outcome);
        }
        // The callers are answered: checkpointing, if due, no longer delays them.
        if wrote {
            self.after_commit(conn);
        }
    }

    /// One capture inside the writer's transaction: its outcome, and the key after which its
    /// new events were keyed.
    fn capture_tx(
        conn: &mut native::RawConn,
        c: &mut Capture,
        ids: &std::sync::Mutex<ids::EventIds>,
        staged: &Staged,
    ) -> Result<(CaptureOutcome, i64)> {
        let Capture { actor, by, doc, doc_events, behaviour, refused, conflict_on_duplicate, capture_id, created_at } =
            c;
        let (by, doc_events, behaviour, conflict_on_duplicate) =
            (&*by, *doc_events, *behaviour, *conflict_on_duplicate);
        let (refused, created_at) = (std::mem::take(refused), std::mem::take(created_at));
        use native::Out;
        let bad = |what: &str| StoreError::Db(sqlx::Error::Protocol(format!("unexpected {what}")));
        let (seq, hash) = match conn.row("SELECT seq, hash FROM audit_head WHERE id = 1", &[], 2)?.as_deref() {
            Some([Out::Int(s), Out::Text(h)]) => (*s, h.clone()),
            _ => return Err(bad("audit head")),
        };
        // Record time is taken under the writer lock, so record times grow with capture order.
        let record_time = Timestamp(time::OffsetDateTime::now_utc());
        // Stored already, or earlier in this group: the keys its hash names, confirmed by the
        // row (a hash may be shared).
        let candidates: Vec<(&str, Vec<i64>)> = {
            let ids = ids.lock().unwrap_or_else(|p| p.into_inner());
            doc.ids()
                .filter_map(|id| {
                    let mut pks = ids.candidates(id);
                    pks.extend(staged.by_hash.get(&ids::hash(id)).into_iter().flatten());
                    (!pks.is_empty()).then_some((id, pks))
                })
                .collect()
        };
        let mut existing: HashSet<String> = HashSet::new();
        for (id, pks) in candidates {
            for pk in pks {
                if let Some([Out::Text(stored)]) =
                    conn.row("SELECT event_id FROM epcis_events WHERE id = ?1", &[V::I(Some(pk))], 1)?.as_deref()
                    && stored == id
                {
                    existing.insert(id.to_owned());
                }
            }
        }
        let next = match conn.row("SELECT COALESCE(MAX(id), 0) FROM epcis_events", &[], 1)?.as_deref() {
            Some([Out::Int(n)]) => *n,
            _ => return Err(bad("MAX(id)")),
        };
        let (stored, duplicates) = doc.place(&existing, next, record_time, conflict_on_duplicate)?;
        for rows in doc.batch.tables_mut() {
            rows.insert_native(conn)?;
        }
        let mut prefixes = Rows::new("epcis_prefixes", &["prefix", "uri"]);
        for (p, u) in &doc.namespaces {
            let known = conn.row("SELECT uri FROM epcis_prefixes WHERE prefix = ?1", &[t(p)], 1)?.is_some();
            if !known && !prefixes.vals.chunks(2).any(|c| matches!(&c[0], V::T(Some(x)) if x == p)) {
                prefixes.push([t(p), t(u)]);
            }
        }
        prefixes.insert_native(conn)?;
        let (job, summary) = finish_job(capture_id, created_at, behaviour, refused, doc_events, &stored, &duplicates);
        let mut jobs = Rows::new("epcis_capture_jobs", JOB_COLS);
        jobs.push(job_row(&job, by));
        jobs.insert_native(conn)?;
        // The audit record, by the rule of `crate::audit::WriteTx::audit`.
        let mut r = qgov_domain::audit::AuditRecord {
            seq: seq + 1,
            at: now(),
            actor: actor.0.clone(),
            action: "epcis.capture".to_owned(),
            target_type: "epcis_capture".to_owned(),
            target_id: capture_id.to_owned(),
            before: serde_json::to_string(&serde_json::Value::Null).unwrap_or_else(|_| "null".into()),
            after: serde_json::to_string(&summary).unwrap_or_else(|_| "null".into()),
            prev_hash: hash,
            hash: String::new(),
        };
        r.hash = qgov_domain::audit::record_hash(&r);
        let mut audit = Rows::new(
            "audit_log",
            &[
                "seq",
                "at",
                "actor",
                "action",
                "target_type",
                "target_id",
                "before_json",
                "after_json",
                "prev_hash",
                "hash",
            ],
        );
        audit.push([
            V::I(Some(r.seq)),
            t(&r.at),
            t(&r.actor),
            t(&r.action),
            t(&r.target_type),
            t(&r.target_id),
            t(&r.before),
            t(&r.after),
            t(&r.prev_hash),
            t(&r.hash),
        ]);
        audit.insert_native(conn)?;
        conn.run("UPDATE audit_head SET seq = ?1, hash = ?2 WHERE id = 1", &[V::I(Some(r.seq)), t(&r.hash)])?;
        Ok((CaptureOutcome { job, stored, duplicates }, next))
    }
}

fn job_from_row(row: &sqlx::any::AnyRow) -> Result<CaptureJob> {
    let errors: String = row.try_get("errors")?;
    Ok(CaptureJob {
        capture_id: row.try_get("capture_id")?,
        created_at: row.try_get("created_at")?,
        finished_at: row.try_get("finished_at")?,
        running: row.try_get::<i64, _>("running")? != 0,
        success: row.try_get::<i64, _>("success")? != 0,
        error_behaviour: row.try_get("error_behaviour")?,
        errors: serde_json::from_str(&errors).unwrap_or_default(),
        event_count: row.try_get("event_count")?,
        stored_count: row.try_get("stored_count")?,
    })
}

fn subscription_from_row(row: &sqlx::any::AnyRow) -> Result<Subscription> {
    let schedule: Option<String> = row.try_get("schedule")?;
    Ok(Subscription {
        id: row.try_get("id")?,
        query_name: row.try_get("query_name")?,
        dest: row.try_get("dest")?,
        signature_token: row.try_get("signature_token")?,
        stream: row.try_get::<i64, _>("stream")? != 0,
        schedule: schedule.and_then(|s| serde_json::from_str(&s).ok()),
        report_if_empty: row.try_get::<i64, _>("report_if_empty")? != 0,
        created_at: row.try_get("created_at")?,
        last_notified_at: row.try_get("last_notified_at")?,
        epc_format: row.try_get("epc_format")?,
        created_by_entity: row.try_get("created_by_entity")?,
    })
}

/// Appends the enterprise visibility rule to a WHERE clause over `e`. `naming` (SQLite): the
/// events that name one of the enterprise's GLNs, from [`places::PlaceIndex`]; `None` when the
/// list would be too long to be worth passing (the rule is then evaluated row by row).
fn scope_sql(sql: &mut Sql, scope: EventScope, naming: Option<&[i64]>) {
    if let EventScope::Entity(id) = scope {
        let a = sql.bind(Bind::Int(id));
        if let Some(pks) = naming {
            let keys = sql.keys(pks);
            sql.text.push_str(&format!(" AND (e.captured_by_entity = {a} OR {keys})"));
            return;
        }
        sql.text.push_str(&format!(
            " AND (e.captured_by_entity = {a} \
             OR e.read_point_gln IN (SELECT gln FROM locations WHERE owner_entity_id = {a}) \
             OR e.biz_location_gln IN (SELECT gln FROM locations WHERE owner_entity_id = {a}) \
             OR e.id IN (SELECT x.event_pk FROM epcis_source_dest x WHERE x.gln IN \
                (SELECT gln FROM locations WHERE owner_entity_id = {a})))"
        ));
    }
}

/// Events behind beyond which [`Store::epcis_warm`] reads on a native connection.
const NATIVE_CATCH_UP: i64 = 20_000;

/// Longest key list a query passes to SQLite from [`places::PlaceIndex`] (about 0.25 µs a key
/// to read back). Beyond it the filter is evaluated on the rows instead, which is as fast when
/// that many events match: a page fills after few rows.
const MAX_KEY_LIST: usize = 100_000;

/// The events `f` selects, when `f` is a filter on places that `ix` answers.
fn place_keys(ix: &places::PlaceIndex, f: &Filter) -> Option<Vec<i64>> {
    use places::Place;
    let place = |c: &query::TextColumn| match c {
        query::TextColumn::ReadPoint => Some(Place::ReadPoint),
        query::TextColumn::BizLocation => Some(Place::BizLocation),
        _ => None,
    };
    match f {
        Filter::Text(c, values) => place(c).map(|p| ix.at(p, values, false)),
        Filter::WithDescendants(c, values) => place(c).map(|p| ix.at(p, values, true)),
        Filter::SourceDest { direction, kind, ids } => Some(ix.source_dest(*direction == "destination", kind, ids)),
        _ => None,
    }
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>,
    binds: &'q [Bind],
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments> {
    for b in binds {
        q = match b {
            Bind::Int(i) => q.bind(*i),
            Bind::Real(r) => q.bind(*r),
            Bind::Text(s) => q.bind(s.as_str()),
        };
    }
    q
}

/// The keyset position of a page: the sort value and key of the last event returned, and how
/// many events earlier pages returned (for `eventCountLimit`). Under an extension-field
/// ordering `sort` is unused: the field's key is read back from the event `pk`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    sort: i64,
    pk: i64,
    returned: u64,
}

impl Cursor {
    fn encode(&self) -> String {
        hex::encode(format!("v1.{}.{}.{}", self.sort, self.pk, self.returned))
    }
    fn decode(token: &str) -> Option<Self> {
        let raw = String::from_utf8(hex::decode(token).ok()?).ok()?;
        let mut it = raw.strip_prefix("v1.")?.split('.');
        let c =
            Cursor { sort: it.next()?.parse().ok()?, pk: it.next()?.parse().ok()?, returned: it.next()?.parse().ok()? };
        it.next().is_none().then_some(c)
    }
}

impl Store {
    /// Captures a parsed document: every event gets its eventID (the CBV 2.0 hash when the
    /// document gave none) and the server's recordTime; events already in the repository are
    /// skipped (idempotence); the rest are stored in one transaction together with the capture
    /// job and ONE audit record. `refused` lists events the web layer refused under
    /// `proceed` (they make the job unsuccessful).
    pub async fn epcis_capture(
        &self,
        actor: &Actor,
        by: &Capturer,
        doc: Document,
        behaviour: ErrorBehaviour,
        refused: Vec<serde_json::Value>,
    ) -> Result<CaptureOutcome> {
        self.capture_inner(actor, by, doc, behaviour, refused, false).await
    }

    /// Captures a single event (`POST /events`): [`StoreError::Conflict`] when its eventID
    /// exists.
    pub async fn epcis_capture_event(&self, actor: &Actor, by: &Capturer, doc: Document) -> Result<CaptureOutcome> {
        self.capture_inner(actor, by, doc, ErrorBehaviour::Rollback, Vec::new(), true).await
    }

    /// Captures through sqlx's `Any` driver even when the native SQLite writer is available
    /// (to check that both write the same rows).
    #[doc(hidden)]
    pub async fn epcis_capture_generic(
        &self,
        actor: &Actor,
        by: &Capturer,
        doc: Document,
        behaviour: ErrorBehaviour,
        refused: Vec<serde_json::Value>,
    ) -> Result<CaptureOutcome> {
        self.capture_any(actor, by, doc, behaviour, refused, false).await
    }

    async fn capture_inner(
        &self,
        actor: &Actor,
        by: &Capturer,
        mut doc: Document,
        behaviour: ErrorBehaviour,
        refused: Vec<serde_json::Value>,
        conflict_on_duplicate: bool,
    ) -> Result<CaptureOutcome> {
        let Some(writer) = self.epcis_writer.clone() else {
            return self.capture_any(actor, by, doc, behaviour, refused, conflict_on_duplicate).await;
        };
        let created_at = now();
        let capture_id = format!("capture-{}", &random_secret()[..24]);
        let actor = actor.clone();
        let by = *by;
        // Hashing and building the rows run here, beside the writer, which only looks up,
        // keys and inserts them.
        tokio::task::spawn_blocking(move || {
            qgov_epcis::assign_missing_event_ids(&mut doc);
            let doc_events = doc.events.len();
            let prepared = Prepared::new(&mut doc, &capture_id, &by);
            drop(doc);
            writer.capture(Capture {
                actor,
                by,
                doc: prepared,
                doc_events,
                behaviour,
                refused,
                conflict_on_duplicate,
                capture_id,
                created_at,
            })
        })
        .await
        .map_err(|e| StoreError::Db(sqlx::Error::Protocol(format!("capture writer: {e}"))))?
    }

    async fn capture_any(
        &self,
        actor: &Actor,
        by: &Capturer,
        mut doc: Document,
        behaviour: ErrorBehaviour,
        refused: Vec<serde_json::Value>,
        conflict_on_duplicate: bool,
    ) -> Result<CaptureOutcome> {
        let created_at = now();
        qgov_epcis::assign_missing_event_ids(&mut doc);
        let capture_id = format!("capture-{}", &random_secret()[..24]);
        let doc_events = doc.events.len();
        let mut prepared = Prepared::new(&mut doc, &capture_id, by);
        drop(doc);
        let mut w = WriteTx::begin(self).await?;
        // Record time is taken after the writer lock, so record times grow with capture order.
        let record_time = Timestamp(time::OffsetDateTime::now_utc());
        let ids: Vec<&str> = prepared.ids().collect();
        let mut existing: HashSet<String> = HashSet::new();
        for chunk in ids.chunks(500) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = dyn_sql!("SELECT event_id FROM epcis_events WHERE event_id IN ({})", placeholders.join(", "));
            let mut q = sqlx::query(sql);
            for id in chunk {
                q = q.bind(*id);
            }
            for row in q.fetch_all(&mut *w.tx).await? {
                existing.insert(row.try_get(0)?);
            }
        }
        drop(ids);
        let next: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM epcis_events").fetch_one(&mut *w.tx).await?;
        let (stored, duplicates) = prepared.place(&existing, next, record_time, conflict_on_duplicate)?;
        let Prepared { batch, namespaces, .. } = prepared;
        batch.insert(&mut w.tx).await?;
        if !namespaces.is_empty() {
            let mut prefixes = Rows::new("epcis_prefixes", &["prefix", "uri"]);
            for (p, u) in &namespaces {
                let known: Option<String> = sqlx::query_scalar("SELECT uri FROM epcis_prefixes WHERE prefix = $1")
                    .bind(p)
                    .fetch_optional(&mut *w.tx)
                    .await?;
                if known.is_none() && !prefixes.vals.chunks(2).any(|c| matches!(&c[0], V::T(Some(x)) if x == p)) {
                    prefixes.push([t(p), t(u)]);
                }
            }
            prefixes.insert(&mut w.tx).await?;
        }
        let (job, summary) = finish_job(&capture_id, created_at, behaviour, refused, doc_events, &stored, &duplicates);
        let mut jobs = Rows::new("epcis_capture_jobs", JOB_COLS);
        jobs.push(job_row(&job, by));
        jobs.insert(&mut w.tx).await?;
        w.audit(actor, "epcis.capture", "epcis_capture", &capture_id, &serde_json::Value::Null, &summary).await?;
        w.commit().await?;
        Ok(CaptureOutcome { job, stored, duplicates })
    }

    /// Records a capture job whose document was refused whole (nothing stored).
    pub async fn epcis_record_refused_capture(
        &self,
        actor: &Actor,
        by: &Capturer,
        behaviour: ErrorBehaviour,
        errors: Vec<serde_json::Value>,
    ) -> Result<CaptureJob> {
        let capture_id = format!("capture-{}", &random_secret()[..24]);
        let at = now();
        let job = CaptureJob {
            capture_id: capture_id.clone(),
            created_at: at.clone(),
            finished_at: Some(at),
            running: false,
            success: false,
            error_behaviour: behaviour.as_str().to_owned(),
            errors,
            event_count: 0,
            stored_count: 0,
        };
        let mut w = WriteTx::begin(self).await?;
        sqlx::query(
            "INSERT INTO epcis_capture_jobs (capture_id, created_at, finished_at, running, success, error_behaviour, \
             errors, event_count, stored_count, captured_by_user, captured_by_entity) \
             VALUES ($1, $2, $3, 0, 0, $4, $5, 0, 0, $6, $7)",
        )
        .bind(&job.capture_id)
        .bind(&job.created_at)
        .bind(&job.finished_at)
        .bind(&job.error_behaviour)
        .bind(serde_json::to_string(&job.errors).unwrap_or_else(|_| "[]".into()))
        .bind(by.user_id)
        .bind(by.entity_id)
        .execute(&mut *w.tx)
        .await?;
        let summary = serde_json::json!({"captureID": capture_id, "refused": job.errors.len(), "stored": 0});
        w.audit(actor, "epcis.capture.refused", "epcis_capture", &capture_id, &serde_json::Value::Null, &summary)
            .await?;
        w.commit().await?;
        Ok(job)
    }

    /// One capture job; enterprises see only their own.
    pub async fn epcis_capture_job(&self, capture_id: &str, scope: EventScope) -> Result<CaptureJob> {
        let row = sqlx::query("SELECT * FROM epcis_capture_jobs WHERE capture_id = $1")
            .bind(capture_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        if let EventScope::Entity(id) = scope
            && row.try_get::<Option<i64>, _>("captured_by_entity")? != Some(id)
        {
            return Err(StoreError::NotFound);
        }
        job_from_row(&row)
    }

    /// Capture jobs, newest first, after the job `after` (keyset paging).
    pub async fn epcis_capture_jobs(
        &self,
        scope: EventScope,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<CaptureJob>> {
        let mut sql = Sql { text: "SELECT * FROM epcis_capture_jobs WHERE 1 = 1".into(), binds: vec![] };
        if let EventScope::Entity(id) = scope {
            let a = sql.bind(Bind::Int(id));
            sql.text.push_str(&format!(" AND captured_by_entity = {a}"));
        }
        if let Some(after) = after {
            let a = sql.bind(Bind::Text(after.to_owned()));
            sql.text.push_str(&format!(
                " AND (created_at < (SELECT created_at FROM epcis_capture_jobs WHERE capture_id = {a}) \
                 OR (created_at = (SELECT created_at FROM epcis_capture_jobs WHERE capture_id = {a}) AND capture_id < {a}))"
            ));
        }
        let l = sql.bind(Bind::Int(limit));
        sql.text.push_str(&format!(" ORDER BY created_at DESC, capture_id DESC LIMIT {l}"));
        let rows =
            bind_all(sqlx::query(sqlx::AssertSqlSafe(sql.text.clone())), &sql.binds).fetch_all(&self.pool).await?;
        rows.iter().map(job_from_row).collect()
    }

    /// SQLite: the place index, brought up to every committed event (held while the caller
    /// reads it; lookups take microseconds). `None` on PostgreSQL.
    async fn epcis_places(&self) -> Result<Option<tokio::sync::MutexGuard<'_, places::PlaceIndex>>> {
        let Some(ix) = &self.epcis_places else { return Ok(None) };
        let mut guard = ix.lock().await;
        guard.refresh(&self.pool).await?;
        Ok(Some(guard))
    }

    /// SQLite: the eventIDs in memory, brought up to every committed event. `None` on
    /// PostgreSQL.
    async fn epcis_ids(&self) -> Result<Option<&std::sync::Mutex<ids::EventIds>>> {
        let Some(ids) = &self.epcis_ids else { return Ok(None) };
        ids::catch_up(ids, &self.pool).await?;
        Ok(Some(ids))
    }

    /// Brings the in-memory indexes up to the stored events (SQLite; a no-op on PostgreSQL).
    /// Queries do this themselves; a server calls it at start so that the first query does not
    /// wait for a large store to be read.
    pub async fn epcis_warm(&self) -> Result<()> {
        // Far behind (a large store at start): read on native connections of its own.
        if let Some(ids) = &self.epcis_ids {
            let top: i64 =
                sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM epcis_events").fetch_one(&self.pool).await?;
            if top - ids.lock().unwrap_or_else(|p| p.into_inner()).mark() > NATIVE_CATCH_UP {
                self.epcis_warm_natively().await?;
            }
        }
        self.epcis_ids().await?;
        self.epcis_places().await.map(drop)
    }

    /// Reads what the in-memory indexes lack on native connections (SQLite file stores; a
    /// no-op otherwise), the eventIDs and the places side by side. [`Store::epcis_warm`] does
    /// when far behind; tests call it directly.
    #[doc(hidden)]
    pub async fn epcis_warm_natively(&self) -> Result<()> {
        if let (Some(w), Some(ids), Some(places)) = (&self.epcis_writer, &self.epcis_ids, &self.epcis_places) {
            let (path, ids) = (w.path.clone(), ids.clone());
            let mut places = places.clone().lock_owned().await;
            tokio::task::spawn_blocking(move || -> Result<()> {
                std::thread::scope(|s| {
                    let reading = s.spawn(|| ids::read_native(&ids, &path));
                    let placed = native::RawConn::open(&path).and_then(|mut c| places.catch_up_native(&mut c));
                    reading.join().unwrap_or_else(|_| Err(writer_error("eventID warm-up panicked".into())))?;
                    placed
                })
            })
            .await
            .map_err(|e| StoreError::Db(sqlx::Error::Protocol(format!("index warm-up: {e}"))))??;
        }
        Ok(())
    }

    /// For the enterprise visibility rule on SQLite: the events naming one of the enterprise's
    /// GLNs, when there are few enough to pass as a list.
    async fn naming_own_glns(&self, ix: Option<&places::PlaceIndex>, scope: EventScope) -> Result<Option<Vec<i64>>> {
        let (Some(ix), EventScope::Entity(id)) = (ix, scope) else { return Ok(None) };
        let glns: Vec<String> = sqlx::query_scalar("SELECT gln FROM locations WHERE owner_entity_id = $1")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        let pks = ix.naming_glns(&glns);
        Ok((pks.len() <= MAX_KEY_LIST).then_some(pks))
    }

    /// Namespace prefixes declared by captured documents (for `prefix:field` query names).
    pub async fn epcis_prefixes(&self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT prefix, uri FROM epcis_prefixes").fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }

    /// One event by its eventID, if the reader may see it.
    pub async fn epcis_event(&self, event_id: &str, scope: EventScope) -> Result<Option<StoredEvent>> {
        let q = EventQuery {
            filters: vec![Filter::Text(query::TextColumn::EventId, vec![event_id.to_owned()])],
            ..Default::default()
        };
        match self.epcis_query(&q, scope, 1, None).await {
            Ok(p) => Ok(p.events.into_iter().next()),
            Err(QueryError::Store(e)) => Err(e),
            Err(other) => Err(StoreError::Db(sqlx::Error::Protocol(other.to_string()))),
        }
    }

    /// Runs a query, one page of at most `per_page` events. `token` is the `nextPageToken` of
    /// the previous page.
    pub async fn epcis_query(
        &self,
        q: &EventQuery,
        scope: EventScope,
        per_page: u64,
        token: Option<&str>,
    ) -> std::result::Result<EventPage, QueryError> {
        let cursor = match token {
            Some(t) => Some(Cursor::decode(t).ok_or_else(|| QueryParamError {
                param: "nextPageToken".into(),
                message: "not a token this repository issued".into(),
            })?),
            None => None,
        };
        let (events, next) = self.query_page(q, scope, per_page, cursor).await?;
        Ok(EventPage { events, next_page_token: next.map(|c| c.encode()) })
    }

    /// One page of a query after `cursor`, with the cursor of the next page (`None`: this was
    /// the last).
    async fn query_page(
        &self,
        q: &EventQuery,
        scope: EventScope,
        per_page: u64,
        cursor: Option<Cursor>,
    ) -> std::result::Result<(Vec<StoredEvent>, Option<Cursor>), QueryError> {
        let mut sql = Sql { text: String::from(" WHERE 1 = 1"), binds: Vec::new() };
        // SQLite, in key order: (the bind holding the keys, every candidate key after the cursor).
        let mut window: Option<(usize, Vec<i64>)> = None;
        {
            let mut placed: Option<Vec<i64>> = None;
            let mut on_places: Vec<&Filter> = Vec::new();
            // Each in-memory index is caught up only when this query reads it.
            let by_event_id = q.filters.iter().any(|f| matches!(f, Filter::Text(query::TextColumn::EventId, _)));
            let by_place = matches!(scope, EventScope::Entity(_))
                || q.filters.iter().any(|f| {
                    matches!(
                        f,
                        Filter::SourceDest { .. }
                            | Filter::Text(query::TextColumn::ReadPoint | query::TextColumn::BizLocation, _)
                            | Filter::WithDescendants(..)
                    )
                });
            let event_ids = if by_event_id { self.epcis_ids().await? } else { None };
            let places = if by_place { self.epcis_places().await? } else { None };
            for f in &q.filters {
                if let (Some(ids), Filter::Text(query::TextColumn::EventId, values)) = (event_ids, f) {
                    // The keys the hashes name, and the eventIDs themselves (a hash may be shared).
                    let mut pks: Vec<i64> = {
                        let ids = ids.lock().unwrap_or_else(|p| p.into_inner());
                        values.iter().flat_map(|v| ids.candidates(v)).collect()
                    };
                    pks.sort_unstable();
                    pks.dedup();
                    let keys = sql.keys(&pks);
                    sql.text.push_str(&format!(" AND {keys}"));
                    sql.filter(f);
                    continue;
                }
                match places.as_deref().and_then(|ix| place_keys(ix, f)) {
                    Some(pks) => {
                        on_places.push(f);
                        placed = Some(match placed {
                            None => pks,
                            Some(earlier) => places::intersect(&earlier, &pks),
                        });
                    }
                    None => sql.filter(f),
                }
            }
            // The events every place filter selects, as one key list. In key order (no
            // `orderBy`, no count to take first) only a window of it is passed: see below.
            if let Some(pks) = placed {
                if q.order.is_none() && q.max_event_count.is_none() {
                    let rest = match cursor {
                        Some(c) => pks.into_iter().filter(|&k| k > c.pk).collect(),
                        None => pks,
                    };
                    let keys = sql.keys(&[]);
                    sql.text.push_str(&format!(" AND {keys}"));
                    window = Some((sql.binds.len() - 1, rest));
                } else if pks.len() <= MAX_KEY_LIST {
                    let keys = sql.keys(&pks);
                    sql.text.push_str(&format!(" AND {keys}"));
                } else {
                    for f in on_places {
                        sql.filter(f);
                    }
                }
            }
            let naming = self.naming_own_glns(places.as_deref(), scope).await?;
            scope_sql(&mut sql, scope, naming.as_deref());
        }
        if let (Some(max), None) = (q.max_event_count, cursor) {
            let l = sql.bind(Bind::Int(max as i64 + 1));
            let text = format!("SELECT COUNT(*) FROM (SELECT 1 FROM epcis_events e{} LIMIT {l}) t", sql.text);
            let n: i64 =
                bind_all(sqlx::query(sqlx::AssertSqlSafe(text)), &sql.binds).fetch_one(&self.pool).await?.try_get(0)?;
            sql.binds.pop();
            if n as u64 > max {
                return Err(QueryError::TooLarge(max));
            }
        }
        let collate_c = self.engine() == crate::Engine::Postgres;
        let ord = sql.ordering(q.order.as_ref(), collate_c);
        let by_field = matches!(q.order, Some((OrderBy::Field { .. }, _)));
        if let Some(c) = cursor {
            // A time key travels in the token; an extension field's key is read back from the
            // last event returned (events never change once captured), so that the token stays
            // small whatever the field holds.
            let key = if by_field {
                self.epcis_sort_key(q, c.pk, collate_c).await?
            } else {
                Some(ord.keys.iter().map(|_| Some(Bind::Int(c.sort))).collect())
            };
            if !key.is_some_and(|key| sql.after(&ord, &key, c.pk)) {
                return Err(QueryError::Param(QueryParamError {
                    param: "nextPageToken".into(),
                    message: "not a token of this query".into(),
                }));
            }
        }
        let returned = cursor.map(|c| c.returned).unwrap_or(0);
        let mut want = per_page.max(1);
        if let Some(limit) = q.event_count_limit {
            want = want.min(limit.saturating_sub(returned));
            if want == 0 {
                return Ok((vec![], None));
            }
        }
        let l = sql.bind(Bind::Int(want as i64 + 1));
        let sort_col = match ord.keys.first() {
            Some(k) if !by_field => k.expr.as_str(),
            _ => "e.id",
        };
        let text = format!(
            "SELECT e.id, e.event_id, e.body, {sort_col} AS sort FROM epcis_events e{}{} ORDER BY {} LIMIT {l}",
            ord.join,
            sql.text,
            ord.order_by()
        );
        // A window of the place candidates: the `take` smallest keys after the cursor. When the
        // page fills from it, it is the page, since every candidate beyond the window has a
        // larger key than all in it; else the window grows eightfold until it has covered them
        // all. A query on one popular place thus reads a page, not the place's whole list.
        let mut take = want as usize + 1;
        let rows = loop {
            if let Some((at, rest)) = &window {
                sql.binds[*at] = Bind::Text(places::json_list(&rest[..take.min(rest.len())]));
            }
            let rows =
                bind_all(sqlx::query(sqlx::AssertSqlSafe(text.as_str())), &sql.binds).fetch_all(&self.pool).await?;
            match &window {
                Some((_, rest)) if rows.len() as u64 <= want && take < rest.len() => take = take.saturating_mul(8),
                _ => break rows,
            }
        };
        let mut events = Vec::with_capacity(rows.len());
        let mut last_sort = 0;
        for row in rows.iter().take(want as usize) {
            last_sort = row.try_get("sort")?;
            events.push(StoredEvent {
                pk: row.try_get("id")?,
                event_id: row.try_get("event_id")?,
                body: row.try_get("body")?,
            });
        }
        let more = rows.len() as u64 > want
            && q.event_count_limit.is_none_or(|limit| (returned + events.len() as u64) < limit);
        let next = match (more, events.last()) {
            (true, Some(last)) => {
                Some(Cursor { sort: last_sort, pk: last.pk, returned: returned + events.len() as u64 })
            }
            _ => None,
        };
        Ok((events, next))
    }

    /// The sort key of event `pk` under `q`'s extension-field ordering (`None`: no such event).
    async fn epcis_sort_key(
        &self,
        q: &EventQuery,
        pk: i64,
        collate_c: bool,
    ) -> std::result::Result<Option<Vec<Option<Bind>>>, QueryError> {
        let mut sql = Sql::default();
        let ord = sql.ordering(q.order.as_ref(), collate_c);
        let p = sql.bind(Bind::Int(pk));
        let text = format!("SELECT e.id{} FROM epcis_events e{} WHERE e.id = {p}", ord.select(), ord.join);
        let Some(row) = bind_all(sqlx::query(sqlx::AssertSqlSafe(text)), &sql.binds).fetch_optional(&self.pool).await?
        else {
            return Ok(None);
        };
        let mut key = Vec::with_capacity(ord.keys.len());
        for (i, k) in ord.keys.iter().enumerate() {
            let c = format!("sort{i}");
            key.push(match k.kind {
                query::KeyKind::Int => row.try_get::<Option<i64>, _>(c.as_str())?.map(Bind::Int),
                query::KeyKind::Real => row.try_get::<Option<f64>, _>(c.as_str())?.map(Bind::Real),
                query::KeyKind::Text => row.try_get::<Option<String>, _>(c.as_str())?.map(Bind::Text),
            });
        }
        Ok(Some(key))
    }

    /// Distinct values of a browse resource among the events the reader may see, in order,
    /// after `after`.
    pub async fn epcis_browse(
        &self,
        what: Browse,
        scope: EventScope,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<String>> {
        let (col, from) = match what {
            Browse::Epcs => ("x.epc", "epcis_epcs x JOIN epcis_events e ON e.id = x.event_pk"),
            Browse::BizSteps => ("e.biz_step", "epcis_events e"),
            Browse::BizLocations => ("e.biz_location", "epcis_events e"),
            Browse::ReadPoints => ("e.read_point", "epcis_events e"),
            Browse::Dispositions => ("e.disposition", "epcis_events e"),
        };
        let places = self.epcis_places().await?;
        if let (Some(ix), EventScope::All) = (places.as_deref(), scope) {
            let place = match what {
                Browse::BizLocations => Some(places::Place::BizLocation),
                Browse::ReadPoints => Some(places::Place::ReadPoint),
                _ => None,
            };
            if let Some(p) = place {
                return Ok(ix.names(p, after, usize::try_from(limit).unwrap_or(0)));
            }
        }
        let naming = self.naming_own_glns(places.as_deref(), scope).await?;
        drop(places);
        let mut sql = Sql { text: format!(" WHERE {col} IS NOT NULL"), binds: vec![] };
        scope_sql(&mut sql, scope, naming.as_deref());
        if let Some(a) = after {
            let b = sql.bind(Bind::Text(a.to_owned()));
            sql.text.push_str(&format!(" AND {col} > {b}"));
        }
        let l = sql.bind(Bind::Int(limit));
        let text = format!("SELECT DISTINCT {col} AS v FROM {from}{} ORDER BY v LIMIT {l}", sql.text);
        let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(text)), &sql.binds).fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Saves a named query (`Conflict` when the name is taken).
    pub async fn epcis_create_query(&self, actor: &Actor, user_id: Option<i64>, q: &NamedQuery) -> Result<NamedQuery> {
        let mut w = WriteTx::begin(self).await?;
        let created_at = now();
        sqlx::query("INSERT INTO epcis_queries (name, query, created_at, created_by_user) VALUES ($1, $2, $3, $4)")
            .bind(&q.name)
            .bind(q.query.to_string())
            .bind(&created_at)
            .bind(user_id)
            .execute(&mut *w.tx)
            .await
            .map_err(|e| crate::on_unique(e, "queryName", &q.name))?;
        let saved = NamedQuery { created_at, ..q.clone() };
        w.audit(actor, "epcis.query.create", "epcis_query", &q.name, &serde_json::Value::Null, &saved).await?;
        w.commit().await?;
        Ok(saved)
    }

    /// Named queries by name.
    pub async fn epcis_queries(&self) -> Result<Vec<NamedQuery>> {
        let rows = sqlx::query("SELECT name, query, created_at FROM epcis_queries ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let q: String = r.try_get(1)?;
                Ok(NamedQuery {
                    name: r.try_get(0)?,
                    query: serde_json::from_str(&q).unwrap_or_default(),
                    created_at: r.try_get(2)?,
                })
            })
            .collect()
    }

    /// One named query.
    pub async fn epcis_named_query(&self, name: &str) -> Result<NamedQuery> {
        let r = sqlx::query("SELECT name, query, created_at FROM epcis_queries WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        let q: String = r.try_get(1)?;
        Ok(NamedQuery {
            name: r.try_get(0)?,
            query: serde_json::from_str(&q).unwrap_or_default(),
            created_at: r.try_get(2)?,
        })
    }

    /// Deletes a named query and its subscriptions.
    pub async fn epcis_delete_query(&self, actor: &Actor, name: &str) -> Result<()> {
        let before = self.epcis_named_query(name).await?;
        let mut w = WriteTx::begin(self).await?;
        sqlx::query("DELETE FROM epcis_subscriptions WHERE query_name = $1").bind(name).execute(&mut *w.tx).await?;
        sqlx::query("DELETE FROM epcis_queries WHERE name = $1").bind(name).execute(&mut *w.tx).await?;
        w.audit(actor, "epcis.query.delete", "epcis_query", name, &before, &serde_json::Value::Null).await?;
        w.commit().await?;
        Ok(())
    }

    /// Subscribes to a named query.
    pub async fn epcis_subscribe(&self, actor: &Actor, by: &Capturer, s: &NewSubscription) -> Result<Subscription> {
        self.epcis_named_query(&s.query_name).await?;
        let id = format!("sub-{}", &random_secret()[..24]);
        let created_at = now();
        let min_record_time =
            s.initial_record_time.unwrap_or_else(|| micros(&Timestamp(time::OffsetDateTime::now_utc())));
        let mut w = WriteTx::begin(self).await?;
        sqlx::query(
            "INSERT INTO epcis_subscriptions (id, query_name, dest, signature_token, stream, schedule, report_if_empty, \
             min_record_time, epc_format, created_at, created_by_user, created_by_entity) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&id)
        .bind(&s.query_name)
        .bind(&s.dest)
        .bind(&s.signature_token)
        .bind(i64::from(s.stream))
        .bind(s.schedule.as_ref().map(|v| v.to_string()))
        .bind(i64::from(s.report_if_empty))
        .bind(min_record_time)
        .bind(&s.epc_format)
        .bind(&created_at)
        .bind(by.user_id)
        .bind(by.entity_id)
        .execute(&mut *w.tx)
        .await?;
        let sub = Subscription {
            id: id.clone(),
            query_name: s.query_name.clone(),
            dest: s.dest.clone(),
            signature_token: s.signature_token.clone(),
            stream: s.stream,
            schedule: s.schedule.clone(),
            report_if_empty: s.report_if_empty,
            created_at,
            last_notified_at: None,
            epc_format: s.epc_format.clone(),
            created_by_entity: by.entity_id,
        };
        w.audit(actor, "epcis.subscribe", "epcis_subscription", &id, &serde_json::Value::Null, &sub).await?;
        w.commit().await?;
        Ok(sub)
    }

    /// Subscriptions of a named query, or every stream subscription (`None`).
    pub async fn epcis_subscriptions(&self, query_name: Option<&str>) -> Result<Vec<Subscription>> {
        let rows = match query_name {
            Some(n) => {
                sqlx::query("SELECT * FROM epcis_subscriptions WHERE query_name = $1 ORDER BY created_at, id")
                    .bind(n)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                sqlx::query("SELECT * FROM epcis_subscriptions WHERE stream = 1 ORDER BY created_at, id")
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter().map(subscription_from_row).collect()
    }

    /// Removes a subscription.
    pub async fn epcis_unsubscribe(&self, actor: &Actor, query_name: &str, id: &str) -> Result<()> {
        let mut w = WriteTx::begin(self).await?;
        let n = sqlx::query("DELETE FROM epcis_subscriptions WHERE id = $1 AND query_name = $2")
            .bind(id)
            .bind(query_name)
            .execute(&mut *w.tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        w.audit(
            actor,
            "epcis.unsubscribe",
            "epcis_subscription",
            id,
            &serde_json::Value::Null,
            &serde_json::Value::Null,
        )
        .await?;
        w.commit().await?;
        Ok(())
    }

    /// Notes a successful delivery.
    pub async fn epcis_mark_notified(&self, id: &str) -> Result<()> {
        sqlx::query("UPDATE epcis_subscriptions SET last_notified_at = $1 WHERE id = $2")
            .bind(now())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// Where the next run of a scheduled subscription starts: the events recorded at or after
/// `record_time`, less those recorded exactly then whose row key is at most `after_event`
/// (delivered by an earlier chunk; one capture gives all its events one record time, so a
/// chunk may end inside such a group).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowStart {
    /// Microseconds UTC.
    pub record_time: i64,
    /// Row key ([`StoredEvent::pk`]) of the last event of `record_time` already delivered; 0
    /// (no event has it) when none was.
    pub after_event: i64,
}

impl WindowStart {
    /// A window taking every event recorded from `record_time` (microseconds UTC) on.
    pub fn at(record_time: i64) -> Self {
        WindowStart { record_time, after_event: 0 }
    }
}

/// A scheduled subscription with the start of the record-time window its next run covers.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledSubscription {
    pub subscription: Subscription,
    /// `initialRecordTime` (or the time of subscribing) until the first successful run, then
    /// the end of the last window delivered whole, or the last event of a run that stopped
    /// between two chunks.
    pub start: WindowStart,
}

/// A run's hold on a scheduled subscription, from [`Store::epcis_claim_run`]: only its holder
/// may move the window on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunClaim {
    /// The subscription held.
    pub subscription_id: String,
    /// Random, so that a run whose claim lapsed and was taken by another cannot act on it.
    token: String,
}

/// One chunk of a scheduled run's window.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowChunk {
    /// In order of record time, then row key (capture order).
    pub events: Vec<StoredEvent>,
    /// Where the rest of the window starts; `None` when this chunk ends the window.
    pub rest: Option<WindowStart>,
}

// Scheduled subscriptions (EPCIS 2.0 §8.2.5.3): what the scheduler in `qgov-web` reads, claims
// and moves on.
impl Store {
    /// A record time before which every capture has committed. Captures take their record
    /// time under the writer lock; this waits for that lock (a write transaction, rolled back
    /// unused), so a capture still running when it is called ends before the time it returns,
    /// and one starting after it gets a later record time. A scheduled run that reads up to
    /// this time cannot miss an event that commits after its query.
    pub async fn epcis_settled_record_time(&self) -> Result<i64> {
        let w = WriteTx::begin(self).await?;
        let at = micros(&Timestamp(time::OffsetDateTime::now_utc()));
        drop(w);
        Ok(at)
    }

    /// Every subscription with a schedule, with its window start.
    pub async fn epcis_scheduled_subscriptions(&self) -> Result<Vec<ScheduledSubscription>> {
        let rows = sqlx::query(
            "SELECT * FROM epcis_subscriptions WHERE stream = 0 AND schedule IS NOT NULL ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ScheduledSubscription {
                    subscription: subscription_from_row(row)?,
                    start: WindowStart {
                        record_time: row.try_get("min_record_time")?,
                        after_event: row.try_get("min_record_after")?,
                    },
                })
            })
            .collect()
    }

    /// Claims subscription `id` for one run of the window that starts at `start`, until
    /// `lease_until` (microseconds UTC; `now` is the caller's clock, the same clock). One
    /// conditional UPDATE, so of several servers on one database exactly one wins: `None` when
    /// the subscription is gone, its window has moved since `start` was read (another run
    /// delivered it) or another run holds a claim that has not lapsed by `now`. A claim lapses
    /// by itself so that a server that dies mid-run blocks the subscription for one lease only.
    pub async fn epcis_claim_run(
        &self,
        id: &str,
        start: WindowStart,
        now: i64,
        lease_until: i64,
    ) -> Result<Option<RunClaim>> {
        let token = random_secret();
        let n = sqlx::query(
            "UPDATE epcis_subscriptions SET run_claim = $1, run_claimed_until = $2 \
             WHERE id = $3 AND min_record_time = $4 AND min_record_after = $5 \
             AND (run_claimed_until IS NULL OR run_claimed_until <= $6)",
        )
        .bind(&token)
        .bind(lease_until)
        .bind(id)
        .bind(start.record_time)
        .bind(start.after_event)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok((n == 1).then(|| RunClaim { subscription_id: id.to_owned(), token }))
    }

    /// At most `limit` events of query `q` (in the subscriber's `scope`) recorded in the
    /// window from `start` to `until` (exclusive), in order of record time then row key,
    /// whatever order `q` asks for, so that a window delivered chunk by chunk can resume after
    /// any event, even inside a group that shares one record time.
    pub async fn epcis_window_chunk(
        &self,
        q: &EventQuery,
        scope: EventScope,
        start: WindowStart,
        until: i64,
        limit: u64,
    ) -> std::result::Result<WindowChunk, QueryError> {
        let mut q = q.clone();
        q.filters.push(Filter::Time(TimeColumn::RecordTime, Cmp::Ge, start.record_time));
        q.filters.push(Filter::Time(TimeColumn::RecordTime, Cmp::Lt, until));
        q.order = Some((OrderBy::RecordTime, false));
        q.event_count_limit = None;
        q.max_event_count = None;
        // The keyset cursor of paging is exactly "after this event, in record-time order".
        let cursor =
            (start.after_event > 0).then_some(Cursor { sort: start.record_time, pk: start.after_event, returned: 0 });
        let (events, next) = self.query_page(&q, scope, limit, cursor).await?;
        let rest = next.map(|c| WindowStart { record_time: c.sort, after_event: c.pk });
        Ok(WindowChunk { events, rest })
    }

    /// Moves the window of a claimed subscription to `to`, noting a delivery when `notified`.
    /// With `lease_until` the run keeps its claim until then (more chunks follow); without, it
    /// lets go. `false` when the claim is no longer held (the subscription is gone, or the
    /// claim lapsed and another run took it): the window is left alone.
    pub async fn epcis_advance_run(
        &self,
        claim: &RunClaim,
        to: WindowStart,
        notified: bool,
        lease_until: Option<i64>,
    ) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE epcis_subscriptions SET min_record_time = $1, min_record_after = $2, \
             last_notified_at = CASE WHEN $3 = 1 THEN $4 ELSE last_notified_at END, \
             run_claim = CASE WHEN $5 = 1 THEN run_claim END, run_claimed_until = $6 \
             WHERE id = $7 AND run_claim = $8",
        )
        .bind(to.record_time)
        .bind(to.after_event)
        .bind(i64::from(notified))
        .bind(now())
        .bind(i64::from(lease_until.is_some()))
        .bind(lease_until)
        .bind(&claim.subscription_id)
        .bind(&claim.token)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Lets go of a claim without moving the window (the run failed or had nothing due), so
    /// that the next firing, here or on another server, need not wait for the lease to lapse.
    pub async fn epcis_release_run(&self, claim: &RunClaim) -> Result<()> {
        sqlx::query(
            "UPDATE epcis_subscriptions SET run_claim = NULL, run_claimed_until = NULL \
             WHERE id = $1 AND run_claim = $2",
        )
        .bind(&claim.subscription_id)
        .bind(&claim.token)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = r#"{"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
        {"ex": "https://ns.example.com/"}],
      "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2024-05-07T00:00:00Z",
      "epcisBody": {"eventList": [EVENTS]}}"#;

    fn event(n: u32) -> String {
        format!(
            r#"{{"type": "ObjectEvent", "action": "OBSERVE", "eventID": "urn:uuid:00000000-0000-4000-8000-{n:012}",
              "eventTime": "2024-05-05T08:00:00Z", "eventTimeZoneOffset": "+00:00",
              "recordTime": "2000-01-01T00:00:00Z", "readPoint": {{"id": "urn:epc:id:sgln:0614141.00777.{n}"}},
              "epcList": ["urn:epc:id:sgtin:0614141.107346.{n}"], "ex:n": "{n}"}}"#
        )
    }

    fn doc(events: &[u32]) -> Document {
        let list: Vec<String> = events.iter().map(|n| event(*n)).collect();
        qgov_epcis::json::parse_document(TWO.replace("EVENTS", &list.join(",")).as_bytes()).unwrap()
    }

    fn id(n: u32) -> String {
        format!("urn:uuid:00000000-0000-4000-8000-{n:012}")
    }

    #[test]
    fn place_keys_new_events_in_document_order_and_drops_the_rest() {
        let by = Capturer::default();
        // 1, 2, 1 again, 3; 2 is already stored.
        let mut d = doc(&[1, 2, 1, 3]);
        let mut p = Prepared::new(&mut d, "capture-x", &by);
        assert_eq!(p.ids().collect::<Vec<_>>(), [id(1), id(2), id(3)]);
        let existing: HashSet<String> = [id(2)].into_iter().collect();
        let at = Timestamp::parse("2026-12-07T16:00:00.25Z").unwrap();
        let (stored, dups) = p.place(&existing, 41, at, false).unwrap();
        assert_eq!(stored, [id(1), id(3)]);
        assert_eq!(dups, [id(2), id(1)]);
        let n = EVENT_COLS.len();
        assert_eq!((EVENT_COLS[RECORD_TIME_COL], EVENT_COLS[BODY_COL]), ("record_time", "body"));
        assert_eq!(
            PLACE_COLS.map(|c| EVENT_COLS[c]),
            ["read_point", "biz_location", "read_point_gln", "biz_location_gln"]
        );
        let rows: Vec<&[V]> = p.batch.events.vals.chunks(n).collect();
        assert_eq!(rows.len(), 2);
        for (row, (key, eid)) in rows.iter().zip([(42, id(1)), (43, id(3))]) {
            assert!(matches!(row[0], V::I(Some(k)) if k == key));
            assert!(matches!(&row[1], V::T(Some(e)) if *e == eid));
            assert!(matches!(row[RECORD_TIME_COL], V::I(Some(t)) if t == micros(&at)));
            let V::T(Some(body)) = &row[BODY_COL] else { panic!("no body") };
            // The server's record time, not the document's, in a body that still parses.
            let ev = qgov_epcis::json::parse_event(body.as_bytes()).unwrap();
            assert_eq!(ev.record_time, Some(at));
            assert_eq!(ev.event_id.as_ref().map(|e| e.to_string()), Some(eid));
        }
        // Child rows follow their events' keys; those of the dropped event are gone.
        let epc_keys: Vec<i64> =
            p.batch.epcs.vals.chunks(3).map(|r| if let V::I(Some(k)) = r[0] { k } else { 0 }).collect();
        assert_eq!(epc_keys, [42, 43]);
        let field_keys: Vec<i64> =
            p.batch.fields.vals.chunks(9).map(|r| if let V::I(Some(k)) = r[0] { k } else { 0 }).collect();
        assert_eq!(field_keys, [42, 43]);
        // A single-event capture refuses a duplicate.
        let mut d = doc(&[2]);
        let mut p = Prepared::new(&mut d, "capture-y", &by);
        assert!(matches!(p.place(&existing, 0, at, true), Err(StoreError::Conflict { .. })));
    }

    /// Captures that queue while the writer is busy are committed together, in queue order,
    /// each with its own outcome: one that fails is rolled back alone.
    #[tokio::test]
    async fn queued_captures_commit_as_one_group_each_with_its_own_outcome() {
        let store = Store::connect(&crate::testing::fresh_database(crate::Engine::Sqlite).await).await.unwrap();
        let writer = store.epcis_writer.clone().expect("SQLite file: native writer");
        let before = writer.commits.load(std::sync::atomic::Ordering::Relaxed);
        let guard = writer.conn.lock().unwrap();
        // (events, conflict_on_duplicate, captureID): 1 and 2 new; 1 again as a single event (a
        // conflict, found before any write); 2 (duplicate) and 3 under a captureID already
        // used, which fails at its job row after its event rows are written; 3 again, which
        // must then be new.
        let plan: [(&[u32], bool, &str); 4] = [
            (&[1, 2], false, "capture-0"),
            (&[1], true, "capture-1"),
            (&[2, 3], false, "capture-0"),
            (&[3], false, "capture-3"),
        ];
        let mut threads = Vec::new();
        for (i, (events, single, capture_id)) in plan.into_iter().enumerate() {
            let w = writer.clone();
            let mut d = doc(events);
            threads.push(std::thread::spawn(move || {
                let n = d.events.len();
                let p = Prepared::new(&mut d, capture_id, &Capturer::default());
                w.capture(Capture {
                    actor: Actor::system(),
                    by: Capturer::default(),
                    doc: p,
                    doc_events: n,
                    behaviour: ErrorBehaviour::Rollback,
                    refused: vec![],
                    conflict_on_duplicate: single,
                    capture_id: capture_id.to_owned(),
                    created_at: now(),
                })
            }));
            // Queue in plan order.
            while writer.queue.lock().unwrap().len() < i + 1 {
                std::thread::yield_now();
            }
        }
        drop(guard);
        let outcomes: Vec<Result<CaptureOutcome>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(writer.commits.load(std::sync::atomic::Ordering::Relaxed), before + 1, "one transaction");
        let counts = |o: &Result<CaptureOutcome>| o.as_ref().map(|o| (o.stored.len(), o.duplicates.len())).ok();
        assert_eq!(counts(&outcomes[0]), Some((2, 0)));
        assert!(matches!(outcomes[1], Err(StoreError::Conflict { .. })), "{:?}", outcomes[1].as_ref().err());
        assert!(matches!(outcomes[2], Err(StoreError::Db(_))), "{:?}", outcomes[2].as_ref().map(|o| &o.stored));
        assert_eq!(counts(&outcomes[3]), Some((1, 0)), "the failed capture's event 3 was rolled back");
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM epcis_events").fetch_one(store.pool()).await.unwrap();
        assert_eq!(n, 3);
        let fields: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM epcis_fields").fetch_one(store.pool()).await.unwrap();
        assert_eq!(fields, 3, "no child rows left by the failed capture");
        let jobs: Vec<String> = sqlx::query_scalar("SELECT capture_id FROM epcis_capture_jobs ORDER BY rowid")
            .fetch_all(store.pool())
            .await
            .unwrap();
        assert_eq!(jobs, ["capture-0", "capture-3"]);
        let audited: Vec<String> =
            sqlx::query_scalar("SELECT target_id FROM audit_log WHERE action = 'epcis.capture' ORDER BY seq")
                .fetch_all(store.pool())
                .await
                .unwrap();
        assert_eq!(audited, jobs);
        store.audit_verify().await.unwrap().expect("audit chain verifies");
        let rows: Vec<(i64, String, i64)> =
            sqlx::query_as("SELECT id, capture_id, record_time FROM epcis_events ORDER BY id")
                .fetch_all(store.pool())
                .await
                .unwrap();
        assert_eq!(rows.iter().map(|r| r.1.as_str()).collect::<Vec<_>>(), ["capture-0", "capture-0", "capture-3"]);
        // The eventIDs in memory: the three committed events, not the failed capture's.
        assert_eq!(writer.ids().mark(), 3);
        for (pk, _, _) in &rows {
            let id: String = sqlx::query_scalar("SELECT event_id FROM epcis_events WHERE id = $1")
                .bind(pk)
                .fetch_one(store.pool())
                .await
                .unwrap();
            assert_eq!(writer.ids().candidates(&id), vec![*pk]);
        }
        // The place index took the committed rows from the writer, without reading them back.
        let read_point = |n: u32| vec![format!("https://id.gs1.org/414/0614141007776/254/{n}")];
        {
            let ix = writer.places.try_lock().expect("no reader holds the place index");
            assert_eq!(ix.mark(), 3);
            for (n, pk) in [(1, 1), (2, 2), (3, 3)] {
                assert_eq!(ix.at(places::Place::ReadPoint, &read_point(n), false), vec![pk]);
            }
        }
        // A document alone in its transaction (no savepoint) that fails after writing its
        // event rows leaves nothing either.
        let mut d = doc(&[4]);
        let p = Prepared::new(&mut d, "capture-0", &Capturer::default());
        let alone = writer.capture(Capture {
            actor: Actor::system(),
            by: Capturer::default(),
            doc: p,
            doc_events: 1,
            behaviour: ErrorBehaviour::Rollback,
            refused: vec![],
            conflict_on_duplicate: false,
            capture_id: "capture-0".into(),
            created_at: now(),
        });
        assert!(matches!(alone, Err(StoreError::Db(_))), "{:?}", alone.map(|o| o.stored));
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM epcis_events").fetch_one(store.pool()).await.unwrap();
        assert_eq!(n, 3);
        assert_eq!(writer.ids().mark(), 3);
        assert_eq!(writer.places.try_lock().expect("not held").mark(), 3);
        assert!(writer.places.try_lock().unwrap().at(places::Place::ReadPoint, &read_point(4), false).is_empty());
        store.audit_verify().await.unwrap().expect("audit chain verifies");
        assert!(rows.windows(2).all(|w| w[0].2 <= w[1].2), "record times grow with keys");
    }

    /// The writer leaves the WAL alone below its limits, checkpoints itself past the second,
    /// and has its checkpointer thread do it past the first: each shows as the database file
    /// growing by the captured pages.
    #[tokio::test]
    async fn wal_checkpoints_by_the_writer_and_by_its_thread() {
        let store = Store::connect(&crate::testing::fresh_database(crate::Engine::Sqlite).await).await.unwrap();
        let path = store.epcis_writer.clone().expect("SQLite file: native writer").path.clone();
        let size = || std::fs::metadata(&path).unwrap().len();
        let capture = |limits: (i32, i32), first: u32| {
            let mut w = NativeWriter::new(path.clone(), Default::default(), Default::default());
            w.wal_limits = limits;
            let numbers: Vec<u32> = (first..first + 300).collect();
            let mut d = doc(&numbers);
            let p = Prepared::new(&mut d, &format!("capture-{first}"), &Capturer::default());
            let out = w
                .capture(Capture {
                    actor: Actor::system(),
                    by: Capturer::default(),
                    doc: p,
                    doc_events: numbers.len(),
                    behaviour: ErrorBehaviour::Rollback,
                    refused: vec![],
                    conflict_on_duplicate: false,
                    capture_id: format!("capture-{first}"),
                    created_at: now(),
                })
                .unwrap();
            assert_eq!(out.stored.len(), numbers.len());
            w
        };
        let before = size();
        let quiet = capture((i32::MAX, i32::MAX), 1_000);
        assert_eq!(size(), before, "no checkpoint below both limits");
        assert_eq!(quiet.checkpointed.load(std::sync::atomic::Ordering::Relaxed), 0);
        let _ = capture((i32::MAX, 1), 2_000);
        let by_writer = size();
        assert!(by_writer > before, "the writer checkpointed past its own limit");
        let threaded = capture((1, i32::MAX), 3_000);
        let waited = std::time::Instant::now();
        while threaded.checkpointed.load(std::sync::atomic::Ordering::Relaxed) == 0 {
            assert!(waited.elapsed() < std::time::Duration::from_secs(20), "the checkpointer never ran");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(size() > by_writer, "the checkpointer thread copied the third capture's pages");
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM epcis_events").fetch_one(store.pool()).await.unwrap();
        assert_eq!(n, 900);
    }

    #[test]
    fn gln_inside_sgln_and_pgln_digital_links() {
        assert_eq!(gln_of("https://id.gs1.org/414/4012345000054").as_deref(), Some("4012345000054"));
        assert_eq!(gln_of("https://id.gs1.org/414/4012345000054/254/122").as_deref(), Some("4012345000054"));
        assert_eq!(gln_of("https://id.gs1.org/417/0614141000005").as_deref(), Some("0614141000005"));
        assert_eq!(gln_of("https://id.gs1.org/01/04012345666663"), None);
        assert_eq!(gln_of("https://id.gs1.org/414/40123450000541"), None);
    }

    #[test]
    fn cursor_round_trip_and_refusal() {
        let c = Cursor { sort: -5, pk: 42, returned: 100 };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("zz"), None);
        assert_eq!(Cursor::decode(&hex::encode("v1.1.2")), None);
    }

    #[test]
    fn multi_row_statement_numbers_placeholders_in_order() {
        let r = Rows::new("t", &["a", "b"]);
        assert_eq!(r.statement(2), "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)");
    }
}
