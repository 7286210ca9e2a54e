//! Traceability in the application (issue 4): the in-memory [`TraceIndex`] kept beside the
//! database, who may see which part of a chain, and the shapes the API, the console and the
//! FSMA 204-style export share.
//!
//! The database is the source of truth. The index is built from it at start-up
//! ([`TraceState::refresh`] on an empty index streams every stored event in capture order)
//! and caught up before every trace request by appending the events with a higher key than
//! the last one indexed. So events stored by any path — the REST capture, a single-event
//! POST, the console upload, or `qgov import epcis` in another process — are traced by the
//! next request without any capture path having to know about the index. Capture commits
//! in key order (the audit head serialises writers), so "key greater than the last indexed"
//! never skips an event.

use crate::problem::ApiError;
use qgov_domain::Role;
use qgov_epcis::Epc;
use qgov_epcis::model::Event;
use qgov_store::Store;
use qgov_store::epcis::gln_of;
use qgov_store::trace::RegisteredPlace;
use qgov_trace::{Direction, EventFilter, EventView, RecallScope, Relation, Trace, TraceIndex};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Instant;

/// Events read per database round trip while indexing.
const PAGE: i64 = 5_000;

struct Indexed {
    index: TraceIndex,
    last_pk: i64,
}

/// The trace index of a running server and how far it has read the event table.
pub struct TraceState {
    inner: RwLock<Indexed>,
    refreshing: tokio::sync::Mutex<()>,
}

impl Default for TraceState {
    fn default() -> Self {
        Self { inner: RwLock::new(Indexed { index: TraceIndex::new(), last_pk: 0 }), refreshing: Default::default() }
    }
}

/// Read access to the index, current as of the last refresh.
pub struct IndexGuard<'a>(RwLockReadGuard<'a, Indexed>);

impl std::ops::Deref for IndexGuard<'_> {
    type Target = TraceIndex;
    fn deref(&self) -> &TraceIndex {
        &self.0.index
    }
}

fn parse_stored(ev: &qgov_store::epcis::StoredEvent) -> Option<Event> {
    // The event alone: the index needs no namespace prefixes, and parsing the body once
    // instead of twice (`StoredEvent::to_event` also reads its @context) halves rebuild time.
    match qgov_epcis::json::parse_event(ev.body.as_bytes()) {
        Ok(e) => Some(e),
        Err(problems) => {
            // Stored bodies were validated on capture; one that no longer parses is a bug,
            // logged and left out rather than stopping every trace.
            tracing::error!(event_id = %ev.event_id, ?problems, "stored event does not parse; not indexed");
            None
        }
    }
}

impl TraceState {
    /// Brings the index up to date with the database; returns how many events it added.
    /// An empty index is built in bulk on a blocking thread while pages stream in.
    pub async fn refresh(&self, store: &Store) -> Result<usize, ApiError> {
        let _one_at_a_time = self.refreshing.lock().await;
        let (empty, mut after) = {
            let r = self.inner.read().expect("trace index lock");
            (r.index.is_empty(), r.last_pk)
        };
        if empty {
            let started = Instant::now();
            let (tx, mut rx) = tokio::sync::mpsc::channel::<Event>(8_192);
            let builder =
                tokio::task::spawn_blocking(move || TraceIndex::from_events(std::iter::from_fn(|| rx.blocking_recv())));
            let mut added = 0usize;
            loop {
                let page = store.epcis_events_after(after, PAGE).await?;
                let Some(last) = page.last() else { break };
                after = last.pk;
                for ev in page.iter().filter_map(parse_stored) {
                    added += 1;
                    if tx.send(ev).await.is_err() {
                        break;
                    }
                }
            }
            drop(tx);
            let index = builder
                .await
                .map_err(|e| ApiError::Internal(format!("trace index build: {e}")))?
                .map_err(|e| ApiError::Internal(format!("trace index build: {e}")))?;
            if added > 0 {
                tracing::info!(
                    events = added,
                    identifiers = index.identifier_count(),
                    heap_mib = index.heap_bytes() / (1 << 20),
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "trace index built from the database"
                );
            }
            *self.inner.write().expect("trace index lock") = Indexed { index, last_pk: after };
            return Ok(added);
        }
        let mut added = 0;
        loop {
            let page = store.epcis_events_after(after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.pk;
            let events: Vec<Event> = page.iter().filter_map(parse_stored).collect();
            let mut w = self.inner.write().expect("trace index lock");
            for ev in &events {
                w.index.append(ev).map_err(|e| ApiError::Internal(format!("trace index: {e}")))?;
            }
            w.last_pk = after;
            added += events.len();
        }
        Ok(added)
    }

    /// The index after catching up with the database.
    pub async fn current(&self, store: &Store) -> Result<IndexGuard<'_>, ApiError> {
        self.refresh(store).await?;
        Ok(IndexGuard(self.inner.read().expect("trace index lock")))
    }

    /// Catches up in the background after a capture, so that the next trace (and the next
    /// query, see `Store::epcis_warm`) finds the new events indexed instead of indexing them
    /// itself. The database stays the source of
    /// truth: a trace still catches up first, which costs one query when this has run.
    pub fn catch_up_soon(self: &Arc<Self>, store: &Store) {
        let (state, store) = (Arc::clone(self), store.clone());
        tokio::spawn(async move {
            if let Err(e) = state.refresh(&store).await {
                tracing::warn!(error = %e, "trace index could not catch up after a capture");
            }
            // The store's own in-memory indexes (SQLite), for the same reason.
            if let Err(e) = store.epcis_warm().await {
                tracing::warn!(error = %e, "EPCIS place index could not catch up after a capture");
            }
        });
    }

    /// How many events the index holds (without catching up).
    pub fn indexed_events(&self) -> usize {
        self.inner.read().expect("trace index lock").index.len()
    }
}

/// What part of the chain a caller may see.
pub enum Visibility {
    /// Staff, or an enterprise reading a recall scope a regulator shared with it.
    All,
    /// An enterprise: the events it captured or that name one of its registered locations
    /// or parties by GLN — the repository's own scoping rule (`EventScope::Entity`).
    Entity { captured: HashSet<String>, glns: HashSet<String> },
}

impl Visibility {
    /// The caller's visibility; `root` is checked against shared recall scopes.
    pub async fn of(
        store: &Store,
        role: Role,
        entity_id: Option<i64>,
        shared_root: Option<&str>,
    ) -> Result<Self, ApiError> {
        if role != Role::Enterprise {
            return Ok(Visibility::All);
        }
        let entity = entity_id.unwrap_or(-1);
        if let Some(root) = shared_root
            && store.trace_shared(root, entity).await?
        {
            return Ok(Visibility::All);
        }
        Ok(Visibility::Entity {
            captured: store.epcis_event_ids_captured_by(entity).await?.into_iter().collect(),
            glns: store.entity_glns(entity).await?.into_iter().collect(),
        })
    }

    fn names_own_place<'a>(&self, mut places: impl Iterator<Item = &'a str>) -> bool {
        match self {
            Visibility::All => true,
            Visibility::Entity { glns, .. } => places.any(|p| gln_of(p).is_some_and(|g| glns.contains(&g))),
        }
    }

    /// Whether a stored event is visible.
    pub fn allows_event(&self, ev: &Event) -> bool {
        match self {
            Visibility::All => true,
            Visibility::Entity { captured, .. } => {
                ev.event_id.as_ref().is_some_and(|id| captured.contains(id))
                    || self.names_own_place(
                        ev.read_point
                            .iter()
                            .chain(&ev.biz_location)
                            .map(|l| l.id.as_str())
                            .chain(ev.source_list.iter().chain(&ev.destination_list).map(|s| s.id.as_str())),
                    )
            }
        }
    }
}

impl EventFilter for Visibility {
    fn allows(&self, event: &EventView<'_>) -> bool {
        match self {
            Visibility::All => true,
            Visibility::Entity { captured, .. } => {
                event.event_id().is_some_and(|id| captured.contains(&id))
                    || self.names_own_place(event.places().iter().map(String::as_str))
            }
        }
    }

    fn allows_all(&self) -> bool {
        matches!(self, Visibility::All)
    }
}

/// An identifier in the canonical URN form the API speaks (Digital Links inside the index).
pub fn urn(canonical: &str) -> String {
    Epc::canonical_to_urn(canonical)
}

/// Parses the `id` of a request: an EPC URN, class/lot URN or GS1 Digital Link.
pub fn parse_id(id: Option<&str>) -> Result<String, ApiError> {
    let raw = id.map(str::trim).filter(|s| !s.is_empty());
    let bad = |message: &str| {
        ApiError::Invalid(qgov_domain::FieldErrors(vec![qgov_domain::FieldError {
            field: "id".into(),
            code: "invalid",
            message: message.into(),
        }]))
    };
    let raw = raw.ok_or_else(|| bad("give the EPC URN, class/lot URN or GS1 Digital Link to trace"))?;
    match Epc::parse(raw) {
        Ok(e) if e.is_gs1_key() || raw.starts_with("urn:epc:") => Ok(e.as_str().to_owned()),
        _ => Err(bad("not an EPC URN, class/lot URN or GS1 Digital Link")),
    }
}

/// Parses `direction` (default backward, the question a failed sample asks first).
pub fn parse_direction(s: Option<&str>) -> Result<Direction, ApiError> {
    match s.unwrap_or("backward") {
        "backward" => Ok(Direction::Backward),
        "forward" => Ok(Direction::Forward),
        _ => Err(ApiError::Invalid(qgov_domain::FieldErrors(vec![qgov_domain::FieldError {
            field: "direction".into(),
            code: "invalid",
            message: "backward or forward".into(),
        }]))),
    }
}

fn query_error(e: qgov_trace::QueryError) -> ApiError {
    match e {
        qgov_trace::QueryError::NotFound(_) => ApiError::NotFound,
        qgov_trace::QueryError::BadId(_) => parse_id(None).unwrap_err(),
    }
}

/// The registers as a server keeps them to label traces, recall scopes and exports: loaded
/// whole, and loaded again when [`Store::register_version`] moved (any register write, from any
/// process, raises it in its own transaction), so a request costs one small read, not a read of
/// a district's tens of thousands of places.
#[derive(Default)]
pub struct RegistersCache {
    current: std::sync::Mutex<Option<(i64, Arc<Registers>)>>,
    loading: tokio::sync::Mutex<()>,
}

impl RegistersCache {
    /// The registers as of now.
    pub async fn current(&self, store: &Store) -> Result<Arc<Registers>, ApiError> {
        let version = store.register_version().await?;
        let cached = |c: &Self| match &*c.current.lock().expect("registers cache lock") {
            Some((v, r)) if *v == version => Some(Arc::clone(r)),
            _ => None,
        };
        if let Some(r) = cached(self) {
            return Ok(r);
        }
        // One load at a time; whoever waited finds it done. The version is read before the
        // load, so a write during the load leaves a copy marked older than it is: reloaded
        // by the next request, never kept too long.
        let _one = self.loading.lock().await;
        if let Some(r) = cached(self) {
            return Ok(r);
        }
        let version = store.register_version().await?;
        let r = Arc::new(Registers::load(store).await?);
        *self.current.lock().expect("registers cache lock") = Some((version, Arc::clone(&r)));
        Ok(r)
    }
}

/// The GTIN of a GTIN-keyed identifier (canonical Digital Link).
fn gtin_key(canonical: &str) -> Option<&str> {
    canonical.strip_prefix("https://id.gs1.org/01/")?.get(..14)
}

/// Register facts a trace is labelled with.
pub struct Registers {
    pub places: HashMap<String, RegisteredPlace>,
    pub products: HashMap<String, String>,
}

impl Registers {
    /// The whole registers, as [`RegistersCache`] keeps them.
    pub async fn load(store: &Store) -> Result<Self, ApiError> {
        Ok(Self { places: store.places_by_gln().await?, products: store.product_names_by_gtin().await? })
    }
    fn place(&self, canonical: &str) -> Option<&RegisteredPlace> {
        gln_of(canonical).and_then(|g| self.places.get(&g))
    }
    /// The registered name of a place, or of the entity owning a party's GLN.
    pub fn name(&self, canonical: &str) -> Option<String> {
        let p = self.place(canonical)?;
        if canonical.contains("/417/") {
            p.owner_name.clone().or_else(|| Some(p.name.clone()))
        } else {
            Some(p.name.clone())
        }
    }
    /// The product name of a GTIN-keyed identifier.
    pub fn product(&self, canonical: &str) -> Option<(String, Option<String>)> {
        self.product_ref(canonical).map(|(gtin, name)| (gtin.to_owned(), name.map(str::to_owned)))
    }
    /// The GTIN of a GTIN-keyed identifier and its registered product name, borrowed.
    pub fn product_ref<'a>(&'a self, canonical: &'a str) -> Option<(&'a str, Option<&'a str>)> {
        let gtin = gtin_key(canonical)?;
        Some((gtin, self.products.get(gtin).map(String::as_str)))
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeOut {
    /// Shared with the edges that name the node.
    #[schema(value_type = String)]
    pub id: Arc<str>,
    /// instance | class | container | transformation
    #[schema(value_type = String)]
    pub kind: &'static str,
    /// Shared with the lot's own node when the trace reached it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub lot: Option<Arc<str>>,
    /// Shared by every node of the same GTIN, like `product`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub gtin: Option<Arc<str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub product: Option<Arc<str>>,
    /// Hops from the root (0 for the root).
    pub depth: u32,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EdgeOut {
    #[schema(value_type = String)]
    pub from: Arc<str>,
    #[schema(value_type = String)]
    pub to: Arc<str>,
    /// transformation | packed_into | contains | lot_member
    #[schema(value_type = String)]
    pub relation: &'static str,
    #[schema(value_type = Option<String>)]
    pub event_id: Option<Arc<str>>,
    #[schema(value_type = String)]
    pub event_type: &'static str,
    #[schema(value_type = Option<String>)]
    pub biz_step: Option<Arc<str>>,
    #[schema(value_type = String)]
    pub event_time: Arc<str>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocationOut {
    pub id: String,
    /// The registered name (location, or the entity owning a party GLN), when known.
    pub name: Option<String>,
    /// read_point | biz_location | source | destination
    pub role: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// A backward or forward trace as the API returns it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TraceOut {
    pub root: String,
    /// backward | forward
    pub direction: String,
    pub nodes: Vec<NodeOut>,
    pub edges: Vec<EdgeOut>,
    pub locations: Vec<LocationOut>,
}

/// Runs a trace for a caller.
pub fn run_trace(ix: &TraceIndex, id: &str, direction: Direction, vis: &Visibility) -> Result<Trace, ApiError> {
    let t = ix.trace(id, direction, vis).map_err(query_error)?;
    // An enterprise must not learn that an identifier exists outside its part of the chain.
    if t.edges.is_empty() && t.locations.is_empty() && !matches!(vis, Visibility::All) {
        return Err(ApiError::NotFound);
    }
    Ok(t)
}

/// A trace's nodes as the API gives them, with each node's URN (shared by its edges).
fn nodes_out(t: &Trace, reg: &Registers) -> (Vec<Arc<str>>, Vec<NodeOut>) {
    // Each node is named by many edges: render its URN once, share it (`Arc`) with every edge
    // naming it, found by the node positions the index gives each edge; likewise a lot with the
    // instances of it, and a GTIN's code and product name with every node of that GTIN.
    let urns: Vec<Arc<str>> = t.nodes.iter().map(|n| Arc::from(urn(&n.id))).collect();
    let mut other_lots: HashMap<&str, Arc<str>> = HashMap::new();
    let mut products: HashMap<&str, (Arc<str>, Option<Arc<str>>)> = HashMap::new();
    let nodes = t
        .nodes
        .iter()
        .zip(&urns)
        .map(|(n, u)| {
            let lot = n.lot.as_deref().map(|lot| match n.lot_node {
                Some(i) => urns[i as usize].clone(),
                None => other_lots.entry(lot).or_insert_with(|| urn(lot).into()).clone(),
            });
            let product = reg.product_ref(&n.id).map(|(gtin, name)| {
                products.entry(gtin).or_insert_with(|| (gtin.into(), name.map(Into::into))).clone()
            });
            let (gtin, product) = product.map_or((None, None), |(g, p)| (Some(g), p));
            NodeOut { id: u.clone(), kind: n.kind.as_str(), lot, gtin, product, depth: n.depth }
        })
        .collect();
    (urns, nodes)
}

fn locations_out(t: &Trace, reg: &Registers) -> Vec<LocationOut> {
    t.locations
        .iter()
        .map(|l| LocationOut {
            id: urn(&l.id),
            name: reg.name(&l.id),
            role: l.role.as_str().to_owned(),
            kind: l.kind.clone(),
        })
        .collect()
}

/// Shapes a trace for the API: URN ids, register names, hop depths (computed by the index).
pub fn trace_out(t: &Trace, reg: &Registers) -> TraceOut {
    let (urns, nodes) = nodes_out(t, reg);
    TraceOut {
        root: urn(&t.root),
        direction: t.direction.as_str().to_owned(),
        nodes,
        edges: t
            .edges
            .iter()
            .map(|e| {
                let ev = t.event(e);
                EdgeOut {
                    from: urns[e.from as usize].clone(),
                    to: urns[e.to as usize].clone(),
                    relation: e.relation.as_str(),
                    event_id: ev.event_id.clone(),
                    event_type: ev.event_type,
                    biz_step: ev.biz_step.clone(),
                    event_time: ev.event_time.clone(),
                }
            })
            .collect(),
        locations: locations_out(t, reg),
    }
}

/// `serde_json::to_vec(&trace_out(t, reg))`, byte for byte, written faster. A farm lot's
/// forward trace is megabytes of JSON, mostly edges, and each edge repeats two node URNs and
/// its event's fields: here each node's URN (as `{"from":…` and as `,"to":…`) and each event's
/// fields are escaped once, into one buffer each, and every edge is four copies of those
/// pieces, without building a [`TraceOut`] of shared strings first. (Writing the edges on a
/// second thread was tried: the copy that joins the halves ate the gain.)
pub fn trace_json(t: &Trace, reg: &Registers) -> Vec<u8> {
    // Each node's URN as `{"from":"…"` and `,"to":"…"`, and as the bare JSON string.
    let mut froms = Pieces::new(t.nodes.len(), 80);
    let mut tos = Pieces::new(t.nodes.len(), 80);
    let mut ids = Pieces::new(t.nodes.len(), 72);
    let mut urn_of = String::new();
    for n in &t.nodes {
        urn_of.clear();
        Epc::push_canonical_urn(&n.id, &mut urn_of);
        let at = ids.buf.len();
        json_str(&mut ids.buf, &urn_of);
        ids.end();
        let id = &ids.buf[at..];
        froms.buf.extend_from_slice(b"{\"from\":");
        froms.buf.extend_from_slice(id);
        froms.end();
        tos.buf.extend_from_slice(b",\"to\":");
        tos.buf.extend_from_slice(id);
        tos.end();
    }
    // `"eventId":…,"eventType":…,"bizStep":…,"eventTime":…}` of each event.
    let mut tails = Pieces::new(t.events.len(), 200);
    for ev in &t.events {
        let b = &mut tails.buf;
        b.extend_from_slice(b"\"eventId\":");
        json_opt(b, ev.event_id.as_deref());
        b.extend_from_slice(b",\"eventType\":");
        json_str(b, ev.event_type);
        b.extend_from_slice(b",\"bizStep\":");
        json_opt(b, ev.biz_step.as_deref());
        b.extend_from_slice(b",\"eventTime\":");
        json_str(b, &ev.event_time);
        b.extend_from_slice(b"}");
        tails.end();
    }
    // `,"relation":"…",` of each relation (lowercase ASCII words: nothing to escape).
    let relations = [Relation::Transformation, Relation::PackedInto, Relation::Contains, Relation::LotMember]
        .map(|r| (r, format!(",\"relation\":\"{}\",", r.as_str()).into_bytes()));
    let relation =
        |r: Relation| -> &[u8] { relations.iter().find(|(k, _)| *k == r).map_or(&[], |(_, piece)| piece.as_slice()) };
    let edge_bytes: usize =
        t.edges.iter().map(|e| 1 + froms.get(e.from).len() + tos.get(e.to).len() + 30 + tails.get(e.event).len()).sum();
    let mut out = Vec::with_capacity(edge_bytes + ids.buf.len() * 2 + t.nodes.len() * 64 + t.locations.len() * 160);
    out.extend_from_slice(b"{\"root\":");
    json(&mut out, &urn(&t.root));
    out.extend_from_slice(b",\"direction\":");
    json(&mut out, t.direction.as_str());
    out.extend_from_slice(b",\"nodes\":[");
    write_nodes(&mut out, t, reg, &ids);
    out.extend_from_slice(b"],\"edges\":[");
    for (i, e) in t.edges.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(froms.get(e.from));
        out.extend_from_slice(tos.get(e.to));
        out.extend_from_slice(relation(e.relation));
        out.extend_from_slice(tails.get(e.event));
    }
    out.extend_from_slice(b"],\"locations\":");
    json(&mut out, &locations_out(t, reg));
    out.push(b'}');
    out
}

/// Pieces written one after another into one buffer; piece `i` is `buf[at[i]..at[i + 1]]`.
struct Pieces {
    buf: Vec<u8>,
    at: Vec<usize>,
}

impl Pieces {
    fn new(n: usize, each: usize) -> Self {
        let mut at = Vec::with_capacity(n + 1);
        at.push(0);
        Pieces { buf: Vec::with_capacity(n * each), at }
    }
    fn end(&mut self) {
        self.at.push(self.buf.len());
    }
    fn get(&self, i: u32) -> &[u8] {
        &self.buf[self.at[i as usize]..self.at[i as usize + 1]]
    }
}

fn json(out: &mut Vec<u8>, v: &(impl Serialize + ?Sized)) {
    serde_json::to_writer(out, v).expect("serialising to memory cannot fail");
}

/// A JSON string as serde_json writes it, copied as it is when nothing in it needs escaping
/// (no `"`, `\` or control character: serde_json escapes exactly those), as with every
/// identifier, time and vocabulary word of a trace.
fn json_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        json(out, s);
    }
}

/// [`json_str`] of a value that may be absent (`null`).
fn json_opt(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => json_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// The `nodes` array's members, each node's id taken from `ids`.
fn write_nodes(out: &mut Vec<u8>, t: &Trace, reg: &Registers, ids: &Pieces) {
    let mut other_lots: HashMap<&str, Vec<u8>> = HashMap::new();
    // Per GTIN: `,"gtin":…` and `,"product":…` when the register names it. Nodes come sorted
    // by id, so a GTIN's nodes are neighbours: its piece is made once per run of them.
    let (mut gtin_now, mut product) = ("", Vec::new());
    for (i, n) in t.nodes.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"id\":");
        out.extend_from_slice(ids.get(i as u32));
        // The kinds are lowercase ASCII words: nothing to escape.
        out.extend_from_slice(b",\"kind\":\"");
        out.extend_from_slice(n.kind.as_str().as_bytes());
        out.push(b'"');
        if let Some(lot) = n.lot.as_deref() {
            out.extend_from_slice(b",\"lot\":");
            match n.lot_node {
                Some(j) => out.extend_from_slice(ids.get(j)),
                None => out.extend_from_slice(other_lots.entry(lot).or_insert_with(|| {
                    let mut b = Vec::new();
                    json(&mut b, &urn(lot));
                    b
                })),
            }
        }
        if let Some(gtin) = gtin_key(&n.id) {
            if gtin != gtin_now {
                (gtin_now, product) = (gtin, b",\"gtin\":".to_vec());
                json_str(&mut product, gtin);
                if let Some(name) = reg.products.get(gtin) {
                    product.extend_from_slice(b",\"product\":");
                    json_str(&mut product, name);
                }
            }
            out.extend_from_slice(&product);
        }
        out.extend_from_slice(b",\"depth\":");
        json(out, &n.depth);
        out.push(b'}');
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScopeItemOut {
    pub id: String,
    pub kind: String,
    pub lot: Option<String>,
    pub gtin: Option<String>,
    pub product: Option<String>,
    pub last_seen: Option<String>,
    pub last_location: Option<String>,
    pub last_location_name: Option<String>,
    pub street: Option<String>,
    pub grid: Option<String>,
    pub owner: Option<String>,
    pub owner_name: Option<String>,
    pub disposition: Option<String>,
    pub quantity: Option<f64>,
    pub uom: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PartyOut {
    pub id: String,
    pub name: Option<String>,
    /// Unified social credit code of the registered owner, when known.
    pub uscc: Option<String>,
    pub kinds: Vec<String>,
    pub items_owned: usize,
}

/// A recall scope as the API returns it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScopeOut {
    pub root: String,
    pub items: Vec<ScopeItemOut>,
    pub containers: Vec<String>,
    pub parties: Vec<PartyOut>,
}

/// Runs a recall scope for a caller.
pub fn run_scope(ix: &TraceIndex, id: &str, vis: &Visibility) -> Result<RecallScope, ApiError> {
    let s = ix.recall_scope_filtered(id, vis).map_err(query_error)?;
    if s.items.len() <= 1 && s.containers.is_empty() && s.parties.is_empty() && !matches!(vis, Visibility::All) {
        return Err(ApiError::NotFound);
    }
    Ok(s)
}

/// Shapes a recall scope for the API.
pub fn scope_out(s: &RecallScope, reg: &Registers) -> ScopeOut {
    ScopeOut {
        root: urn(&s.root),
        items: s
            .items
            .iter()
            .map(|i| {
                let product = reg.product(&i.id);
                let place = i.last_location.as_deref().and_then(|l| reg.place(l));
                ScopeItemOut {
                    id: urn(&i.id),
                    kind: i.kind.as_str().to_owned(),
                    lot: i.lot.as_deref().map(urn),
                    gtin: product.as_ref().map(|p| p.0.clone()),
                    product: product.and_then(|p| p.1),
                    last_seen: i.last_seen.clone(),
                    last_location: i.last_location.as_deref().map(urn),
                    last_location_name: place.map(|p| p.name.clone()),
                    street: place.and_then(|p| p.street.clone()),
                    grid: place.and_then(|p| p.grid.clone()),
                    owner: i.owner.as_deref().map(urn),
                    owner_name: i.owner.as_deref().and_then(|o| reg.name(o)),
                    disposition: i.disposition.clone(),
                    quantity: i.quantity,
                    uom: i.uom.clone(),
                }
            })
            .collect(),
        containers: s.containers.iter().map(|c| urn(c)).collect(),
        parties: s
            .parties
            .iter()
            .map(|p| PartyOut {
                id: urn(&p.id),
                name: reg.name(&p.id),
                uscc: reg.place(&p.id).and_then(|r| r.owner_uscc.clone()),
                kinds: p.kinds.clone(),
                items_owned: p.items_owned,
            })
            .collect(),
    }
}

/// The objects whose events make up the records of a trace: canonical identifier → its lot
/// when the index knows it (an SGTIN commissioned with an ILMD lot number carries no lot in
/// its own identifier, but its traceability lot code is that lot).
pub fn trace_ids(t: &Trace) -> HashMap<String, Option<String>> {
    t.nodes.iter().map(|n| (n.id.to_string(), n.lot.as_deref().map(str::to_owned))).collect()
}

/// The objects of a recall scope (items and the containers that carried them), with lots.
pub fn scope_ids(s: &RecallScope) -> HashMap<String, Option<String>> {
    s.items
        .iter()
        .map(|i| (i.id.clone(), i.lot.clone()))
        .chain(s.containers.iter().map(|c| (c.clone(), None)))
        .collect()
}

/// Column headings of the FSMA 204-style sortable spreadsheet (21 CFR 1.1455(c): the key
/// data elements of each critical tracking event), Chinese by default.
pub fn export_header(english: bool) -> Vec<String> {
    let zh = [
        "事件时间",
        "关键追踪事件",
        "事件类型",
        "业务步骤",
        "动作",
        "追溯批次码",
        "商品条码(GTIN)",
        "商品名称",
        "标识",
        "数量",
        "单位",
        "地点(GLN)",
        "地点名称",
        "来源",
        "去向",
        "单据",
        "状态",
        "事件ID",
    ];
    let en = [
        "Event time",
        "Critical tracking event",
        "Event type",
        "Business step",
        "Action",
        "Traceability lot code",
        "Product GTIN",
        "Product description",
        "Identifier",
        "Quantity",
        "Unit of measure",
        "Location GLN",
        "Location name",
        "Source",
        "Destination",
        "Reference document",
        "Disposition",
        "Event ID",
    ];
    if english { en } else { zh }.iter().map(|s| s.to_string()).collect()
}

fn short_vocab(v: &str) -> String {
    v.rsplit(['/', ':']).next().unwrap_or(v).to_owned()
}

/// FSMA 204 names of the critical tracking events, from the CBV bizStep.
fn cte(ev: &Event) -> &'static str {
    let step = ev.biz_step.as_deref().map(short_vocab).unwrap_or_default();
    match (ev.event_type.as_str(), step.as_str()) {
        ("TransformationEvent", _) => "transformation",
        (_, "commissioning" | "creating_class_instance") => "initial_packing",
        (_, "harvesting") => "harvesting",
        (_, "shipping" | "departing") => "shipping",
        (_, "receiving" | "arriving" | "accepting") => "receiving",
        (_, "packing") | (_, "unpacking") => "packing",
        (_, "retail_selling") => "sale",
        _ => "other",
    }
}

/// One spreadsheet row per object line of each visible event that names a traced object:
/// each row is one traceability lot (or serialised item) at one critical tracking event.
pub fn export_rows(
    events: &[Event],
    ids: &HashMap<String, Option<String>>,
    reg: &Registers,
    vis: &Visibility,
) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let time_fmt = time::format_description::well_known::Rfc3339;
    for ev in events.iter().filter(|e| vis.allows_event(e)) {
        let place = ev.biz_location.as_ref().or(ev.read_point.as_ref()).map(|l| l.id.as_str());
        let join = |list: &[qgov_epcis::model::SourceDest]| {
            list.iter()
                .map(|s| reg.name(s.id.as_str()).unwrap_or_else(|| urn(s.id.as_str())))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
                .join("; ")
        };
        let docs = ev.biz_transaction_list.iter().map(|b| urn(b.id.as_str())).collect::<Vec<_>>().join("; ");
        let mut lines: Vec<(&str, Option<f64>, Option<&str>)> = Vec::new();
        for e in ev
            .parent_id
            .iter()
            .chain(&ev.epc_list)
            .chain(&ev.child_epcs)
            .chain(&ev.input_epc_list)
            .chain(&ev.output_epc_list)
        {
            lines.push((e.as_str(), Some(1.0), None));
        }
        for q in ev
            .quantity_list
            .iter()
            .chain(&ev.child_quantity_list)
            .chain(&ev.input_quantity_list)
            .chain(&ev.output_quantity_list)
        {
            lines.push((q.epc_class.as_str(), q.quantity, q.uom.as_deref()));
        }
        if !lines.iter().any(|(id, _, _)| ids.contains_key(*id)) {
            continue;
        }
        let when = ev.event_time.0.format(&time_fmt).unwrap_or_default();
        for (id, qty, uom) in lines {
            let product = reg.product(id);
            let known = ids.get(id).and_then(|l| l.as_deref());
            let lot = if id.contains("/21/") {
                known.or_else(|| id.split("/21/").next().filter(|h| h.contains("/10/")))
            } else if id.contains("/10/") {
                Some(id)
            } else {
                known
            };
            rows.push(vec![
                when.clone(),
                cte(ev).to_owned(),
                ev.event_type.as_str().to_owned(),
                ev.biz_step.as_deref().map(short_vocab).unwrap_or_default(),
                ev.action.map(|a| format!("{a:?}").to_uppercase()).unwrap_or_default(),
                lot.map(urn).unwrap_or_default(),
                product.as_ref().map(|p| p.0.clone()).unwrap_or_default(),
                product.and_then(|p| p.1).unwrap_or_default(),
                urn(id),
                qty.map(|q| q.to_string()).unwrap_or_default(),
                uom.unwrap_or(if qty.is_some() { "EA" } else { "" }).to_owned(),
                place.and_then(gln_of).unwrap_or_default(),
                place.and_then(|p| reg.name(p)).unwrap_or_default(),
                join(&ev.source_list),
                join(&ev.destination_list),
                docs.clone(),
                ev.disposition.as_deref().map(short_vocab).unwrap_or_default(),
                ev.event_id.clone().unwrap_or_default(),
            ]);
        }
    }
    rows.sort();
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use qgov_store::epcis::{Capturer, ErrorBehaviour};
    use qgov_store::{Actor, Engine, testing};

    #[tokio::test]
    async fn a_capture_is_indexed_without_waiting_for_a_trace() {
        let store = Store::connect(&testing::fresh_database(Engine::Sqlite).await).await.unwrap();
        let state = Arc::new(TraceState::default());
        let doc = |serial: u32| {
            let text = format!(
                r#"{{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],"type":"EPCISDocument","schemaVersion":"2.0","creationDate":"2024-05-01T00:00:00Z","epcisBody":{{"eventList":[{{"type":"ObjectEvent","action":"ADD","bizStep":"commissioning","eventTime":"2024-05-01T08:00:00Z","eventTimeZoneOffset":"+08:00","epcList":["urn:epc:id:sgtin:0614141.107346.{serial}"]}}]}}}}"#
            );
            qgov_epcis::json::parse_document(text.as_bytes()).unwrap()
        };
        for (serial, expected) in [(1, 1), (2, 2)] {
            store
                .epcis_capture(&Actor::system(), &Capturer::default(), doc(serial), ErrorBehaviour::Rollback, vec![])
                .await
                .unwrap();
            state.catch_up_soon(&store);
            let deadline = Instant::now() + std::time::Duration::from_secs(10);
            while state.indexed_events() < expected {
                assert!(Instant::now() < deadline, "the index did not catch up");
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            assert_eq!(state.indexed_events(), expected);
        }
    }

    #[test]
    fn the_direct_json_of_a_trace_is_serdes_byte_for_byte() {
        use qgov_trace::generator::{ChainConfig, ChainGenerator};
        let mut g = ChainGenerator::new(ChainConfig { events: 20_000, ..ChainConfig::default() });
        let ix = TraceIndex::from_events(&mut g).unwrap();
        let c = g.catalog().clone();
        // Register names needing one escape each (a quote, a backslash, a control character)
        // or none (non-ASCII, DEL: JSON leaves them as they are), for the products and places
        // the traces reach, so those fields are written too.
        let mut reg = Registers { places: HashMap::new(), products: HashMap::new() };
        let name = |i: usize| match i % 4 {
            0 => format!("产品 \"{i}\""),
            1 => format!("产品 {i} \\"),
            2 => format!("产品 {i} \u{1f}"),
            _ => format!("产品 {i} \u{7f} ~ é"),
        };
        let roots: Vec<(&String, Direction)> = c
            .farm_lots
            .iter()
            .take(2)
            .map(|r| (r, Direction::Forward))
            .chain(c.product_lots.iter().take(3).map(|r| (r, Direction::Forward)))
            .chain(c.cases.iter().take(3).map(|r| (r, Direction::Backward)))
            .chain(c.cases.iter().take(3).map(|r| (r, Direction::Forward)))
            .chain(c.pallets.iter().take(2).map(|r| (r, Direction::Backward)))
            .collect();
        assert!(roots.len() >= 8, "the generator gives roots of every kind");
        // Every other GTIN and GLN met is registered, so unnamed ones are written too.
        let mut seen = HashSet::new();
        for (r, dir) in &roots {
            let t = ix.trace(r, *dir, &qgov_trace::AllEvents).unwrap();
            for n in &t.nodes {
                if let Some((gtin, _)) = reg.product_ref(&n.id)
                    && seen.insert(gtin.to_owned())
                    && seen.len() % 2 == 0
                {
                    let i = reg.products.len();
                    reg.products.insert(gtin.to_owned(), name(i));
                }
            }
            for l in &t.locations {
                if let Some(gln) = gln_of(&l.id)
                    && seen.insert(gln.clone())
                    && seen.len() % 2 == 0
                {
                    let i = reg.places.len();
                    reg.places.insert(
                        gln.clone(),
                        RegisteredPlace {
                            gln,
                            name: name(i),
                            street: None,
                            grid: None,
                            owner_entity_id: None,
                            owner_name: Some(format!("主体 \"{i}\"")),
                            owner_uscc: None,
                        },
                    );
                }
            }
        }
        assert!(!reg.products.is_empty() && !reg.places.is_empty());
        assert!(seen.len() > reg.products.len() + reg.places.len(), "some GTINs and places stay unregistered");
        let (mut edges, mut other_lots, mut relations) = (0, 0, HashSet::new());
        for (r, dir) in &roots {
            let t = ix.trace(r, *dir, &qgov_trace::AllEvents).unwrap();
            edges += t.edges.len();
            relations.extend(t.edges.iter().map(|e| e.relation));
            other_lots += t.nodes.iter().filter(|n| n.lot.is_some() && n.lot_node.is_none()).count();
            let serde = String::from_utf8(serde_json::to_vec(&trace_out(&t, &reg)).unwrap()).unwrap();
            assert_eq!(String::from_utf8(trace_json(&t, &reg)).unwrap(), serde, "trace of {r}");
        }
        assert!(edges > 1_000, "the traces have edges to write ({edges})");
        assert_eq!(relations.len(), 4, "every relation is written: {relations:?}");
        assert!(other_lots > 0, "some node's lot is outside its trace");
    }
}
