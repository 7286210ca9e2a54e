//! Backward and forward traces and the recall scope over a [`TraceIndex`].
//!
//! A trace is a walk over states `(identifier, time window, mode)`. In mode *self* the object
//! itself is affected (forward: from the window start on; backward: its history up to the
//! window end). In mode *carrier* a container (or a transaction parent) matters only while it
//! held something affected: its events inside the window are that content's events (places,
//! owners, further containers, a transformation consuming it), but its other contents are not
//! reached. Windows make the time order hold: a transformation output made before an input was
//! consumed is not fed by it, an item packed after the pallet shipped did not travel with it.
//! States are processed in time order (forward: earliest start first; backward: latest end
//! first), so each object in mode self is expanded once.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use qgov_epcis::Epc;
use serde::Serialize;

use crate::QueryError;
use crate::index::{ACTION_DELETE, EventRef, TraceIndex, event_type_name, extra, flag, role};
use crate::intern::NONE;

const INF: i64 = i64::MAX;
const NEG_INF: i64 = i64::MIN;
/// Containers nested deeper than this are not followed for an item's last known place.
const MAX_NESTING: u32 = 8;

/// Which way a trace goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Where it came from: inputs, ingredient lots, the containers and places it went through.
    Backward,
    /// Where it went: everything made from it, the containers that carried it, their places.
    Forward,
}

/// What kind of thing a trace node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    /// A serialised object (SGTIN, GIAI, …; EPCIS 2.0 §7.3.3.2 instance-level identification).
    Instance,
    /// A class or lot (`…/01/<GTIN>/10/<lot>`, `urn:epc:class:lgtin:…`; EPCIS 2.0 §7.3.3.3).
    Class,
    /// Something that was the `parentID` of an aggregation or transaction (pallet, case).
    Container,
    /// A `transformationID` joining the events of one transformation (EPCIS 2.0 §7.4.6).
    Transformation,
}

impl Direction {
    /// The wire name (`backward`, `forward`).
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Backward => "backward",
            Direction::Forward => "forward",
        }
    }
}

impl NodeKind {
    /// The wire name (`instance`, `class`, `container`, `transformation`).
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Instance => "instance",
            NodeKind::Class => "class",
            NodeKind::Container => "container",
            NodeKind::Transformation => "transformation",
        }
    }
}

/// How two nodes are linked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    /// Input → output of a TransformationEvent, or input → transformationID → output.
    Transformation,
    /// Child → the container it was packed into (AggregationEvent / TransactionEvent ADD).
    PackedInto,
    /// Container → a child it held.
    Contains,
    /// Lot → one of its instances.
    LotMember,
}

impl Relation {
    /// The wire name (`transformation`, `packed_into`, `contains`, `lot_member`).
    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Transformation => "transformation",
            Relation::PackedInto => "packed_into",
            Relation::Contains => "contains",
            Relation::LotMember => "lot_member",
        }
    }
}

/// An immutable string that is a range of a text many share: the node ids of one trace are
/// written into one allocation, so a trace of ten thousand nodes makes (and frees) one string,
/// not ten thousand. Reads as a `str`.
#[derive(Clone)]
pub struct SharedStr {
    /// `Arc<String>`, not `Arc<str>`: the text is written as a `String` and shared as it is,
    /// without the copy into a new allocation that `Arc<str>` would take.
    text: Arc<String>,
    start: u32,
    end: u32,
}

impl SharedStr {
    /// The whole of `text`.
    fn whole(text: Arc<String>) -> Self {
        let end = u32::try_from(text.len()).expect("a shared string under 4 GiB");
        SharedStr { text, start: 0, end }
    }
}

impl std::ops::Deref for SharedStr {
    type Target = str;
    fn deref(&self) -> &str {
        &self.text[self.start as usize..self.end as usize]
    }
}

impl AsRef<str> for SharedStr {
    fn as_ref(&self) -> &str {
        self
    }
}

impl std::borrow::Borrow<str> for SharedStr {
    fn borrow(&self) -> &str {
        self
    }
}

impl PartialEq for SharedStr {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for SharedStr {}

impl PartialOrd for SharedStr {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SharedStr {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (**self).cmp(&**other)
    }
}

impl std::hash::Hash for SharedStr {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (**self).hash(state)
    }
}

impl std::fmt::Debug for SharedStr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

impl std::fmt::Display for SharedStr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self)
    }
}

impl From<&str> for SharedStr {
    fn from(s: &str) -> Self {
        SharedStr::whole(Arc::new(s.to_owned()))
    }
}

impl From<String> for SharedStr {
    fn from(s: String) -> Self {
        SharedStr::whole(Arc::new(s))
    }
}

impl Serialize for SharedStr {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self)
    }
}

/// A node of a trace.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceNode {
    /// Canonical identifier (shared with the edges that name it).
    pub id: SharedStr,
    /// What it is.
    pub kind: NodeKind,
    /// The lot of an instance, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lot: Option<SharedStr>,
    /// The lot's position in [`Trace::nodes`] when the trace reached it too.
    #[serde(skip)]
    pub lot_node: Option<u32>,
    /// A class without a lot (a bare GTIN): shown, not followed (it would reach every lot).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub not_followed: bool,
    /// Fewest links from the root, whichever way they point (0 for the root).
    pub depth: u32,
}

/// A link between two nodes. `from → to` is the direction material flows, in both traces:
/// ingredient → product, item → pallet, pallet → item it held, lot → unit. Ends and event are
/// positions in [`Trace::nodes`] and [`Trace::events`]: a large trace has many more edges
/// than events, and nothing is rendered twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceEdge {
    /// Position of the upstream node in [`Trace::nodes`].
    pub from: u32,
    /// Position of the downstream node in [`Trace::nodes`].
    pub to: u32,
    /// How they are linked.
    pub relation: Relation,
    /// Position of the event that makes the link in [`Trace::events`].
    pub event: u32,
}

/// An event that links nodes of a trace.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceEvent {
    /// Its eventID.
    pub event_id: Option<Arc<str>>,
    /// Its type (`TransformationEvent`, …).
    pub event_type: &'static str,
    /// Its bizStep.
    pub biz_step: Option<Arc<str>>,
    /// Its time, RFC 3339 UTC with milliseconds.
    pub event_time: Arc<str>,
}

/// What part a place or party played.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LocationRole {
    /// `readPoint` (EPCIS 2.0 §7.3.4).
    ReadPoint,
    /// `bizLocation` (EPCIS 2.0 §7.3.4).
    BizLocation,
    /// A `sourceList` entry (EPCIS 2.0 §7.3.5.4; its CBV 2.0 §7.4 type in `kind`).
    Source,
    /// A `destinationList` entry.
    Destination,
}

impl LocationRole {
    /// The wire name (`read_point`, `biz_location`, `source`, `destination`).
    pub fn as_str(self) -> &'static str {
        match self {
            LocationRole::ReadPoint => "read_point",
            LocationRole::BizLocation => "biz_location",
            LocationRole::Source => "source",
            LocationRole::Destination => "destination",
        }
    }
}

/// A place or party the traced objects went through.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceLocation {
    /// Canonical identifier (SGLN / PGLN Digital Link or URI).
    pub id: String,
    /// The role.
    pub role: LocationRole,
    /// For sources and destinations, the CBV type (`owning_party`, `possessing_party`,
    /// `location`) or custom URI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// The answer to a backward or forward trace.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Trace {
    /// The canonical identifier asked about.
    pub root: String,
    /// Which way.
    pub direction: Direction,
    /// Every object reached, the root included, sorted by id.
    pub nodes: Vec<TraceNode>,
    /// Every link used, sorted by (from, to, time).
    pub edges: Vec<TraceEdge>,
    /// The events of the links, in order of first use by `edges`.
    pub events: Vec<TraceEvent>,
    /// Places and parties of the events that count for the reached objects, sorted.
    pub locations: Vec<TraceLocation>,
}

/// One downstream item or lot of a recall scope, as last seen.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopeItem {
    /// Canonical identifier.
    pub id: String,
    /// Instance or class (lot).
    pub kind: NodeKind,
    /// The lot of an instance, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lot: Option<String>,
    /// Time of the latest event seen for it (its own or a container's while holding it).
    pub last_seen: Option<String>,
    /// bizLocation of the latest event that has one (else its readPoint).
    pub last_location: Option<String>,
    /// The `owning_party` destination of the latest event naming one (else `possessing_party`).
    pub owner: Option<String>,
    /// Disposition of the latest event that has one (CBV 2.0 §7.2).
    pub disposition: Option<String>,
    /// Instances: 1. Classes: the quantity in the latest own event that states one.
    pub quantity: Option<f64>,
    /// Unit of the quantity (UN/ECE Rec. 20), absent for a count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uom: Option<String>,
}

/// A party to notify in a recall.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopeParty {
    /// Canonical party identifier (PGLN Digital Link or URI).
    pub id: String,
    /// How it appeared (`owning_party`, `possessing_party`), sorted.
    pub kinds: Vec<String>,
    /// How many scope items it owns last.
    pub items_owned: usize,
}

/// The answer to "what must be recalled": everything downstream of the root.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecallScope {
    /// The canonical identifier asked about.
    pub root: String,
    /// Every downstream instance and lot (the root included), sorted by id.
    pub items: Vec<ScopeItem>,
    /// Containers that carried affected items, sorted.
    pub containers: Vec<String>,
    /// Every party that owned or possessed affected goods, sorted by id.
    pub parties: Vec<ScopeParty>,
}

/// A read-only view of one event, given to an [`EventFilter`].
pub struct EventView<'a> {
    ix: &'a TraceIndex,
    e: EventRef,
}

impl Trace {
    /// The id of an edge's upstream node.
    pub fn from_id(&self, e: &TraceEdge) -> &str {
        &self.nodes[e.from as usize].id
    }

    /// The id of an edge's downstream node.
    pub fn to_id(&self, e: &TraceEdge) -> &str {
        &self.nodes[e.to as usize].id
    }

    /// The event that makes an edge.
    pub fn event(&self, e: &TraceEdge) -> &TraceEvent {
        &self.events[e.event as usize]
    }
}

impl EventView<'_> {
    /// The event's position in the index.
    pub fn event_ref(&self) -> EventRef {
        self.e
    }

    /// `eventID`.
    pub fn event_id(&self) -> Option<String> {
        self.ix.event_ids.get(self.e)
    }

    /// `eventTime` in nanoseconds since the Unix epoch.
    pub fn time_nanos(&self) -> i64 {
        self.ix.time[self.e as usize]
    }

    /// Every place and party of the event: readPoint, bizLocation, sources, destinations.
    pub fn places(&self) -> Vec<String> {
        let m = self.ix.meta[self.e as usize];
        let mut out: Vec<String> =
            [m.read_point, m.biz_location].into_iter().filter(|&i| i != NONE).map(|i| self.ix.ids.resolve(i)).collect();
        for r in self.ix.extras(self.e) {
            if r[0] == extra::SOURCE || r[0] == extra::DEST {
                out.push(self.ix.ids.resolve(r[1]));
            }
        }
        out
    }
}

/// Decides which events a caller may see (an enterprise sees its own part of the chain). An
/// invisible event neither links nor shows: a trace stops where visibility ends.
pub trait EventFilter {
    /// Whether the event is visible.
    fn allows(&self, event: &EventView<'_>) -> bool;

    /// Whether every event is visible (lets a walk skip the per-event check).
    fn allows_all(&self) -> bool {
        false
    }
}

impl<F: Fn(&EventView<'_>) -> bool> EventFilter for F {
    fn allows(&self, event: &EventView<'_>) -> bool {
        self(event)
    }
}

/// The filter that shows every event (regulators; a shared recall scope).
pub struct AllEvents;

impl EventFilter for AllEvents {
    fn allows(&self, _: &EventView<'_>) -> bool {
        true
    }

    fn allows_all(&self) -> bool {
        true
    }
}

/// Formats nanoseconds since the epoch as RFC 3339 UTC with milliseconds (no `fmt`
/// machinery: a large trace renders thousands of these).
pub(crate) fn rfc3339(nanos: i64) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    let millis = nanos.rem_euclid(1_000_000_000) / 1_000_000;
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    if !(0..=9999).contains(&y) {
        return format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z", sod / 3600, sod % 3600 / 60, sod % 60);
    }
    let mut out = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut v: i64| {
        for k in (at..at + width).rev() {
            out[k] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, y);
    put(5, 2, m);
    put(8, 2, d);
    put(11, 2, sod / 3600);
    put(14, 2, sod % 3600 / 60);
    put(17, 2, sod % 60);
    put(20, 3, millis);
    String::from_utf8(out.to_vec()).expect("ASCII digits and separators")
}

/// Sorts `order` as `key(n)` compares (bytes, like `str::cmp`), sixteen bytes at a time as
/// integers. A trace's ids share long prefixes (`https://id.gs1.org/01/<GTIN>/21/…`): a string
/// comparison spends most of its time on them, a call per comparison; here the prefix common
/// to all is skipped once, and a run of ids equal over one window is sorted on the next.
fn sort_by_bytes<'s>(order: &mut [u32], key: impl Fn(u32) -> &'s [u8] + Copy) {
    let Some(&first) = order.first() else { return };
    let first = key(first);
    let common = order
        .iter()
        .fold(first.len(), |common, &n| first[..common].iter().zip(key(n)).take_while(|(a, b)| a == b).count());
    let mut keyed: Vec<(u128, u32)> = order.iter().map(|&n| (0, n)).collect();
    sort_window(&mut keyed, common, key);
    for (o, (_, n)) in order.iter_mut().zip(keyed) {
        *o = n;
    }
}

/// Sorts items whose strings agree on their first `at` bytes by the bytes from `at` on.
fn sort_window<'s>(items: &mut [(u128, u32)], at: usize, key: impl Fn(u32) -> &'s [u8] + Copy) {
    for it in items.iter_mut() {
        // Bytes at..at+16, zero after the end: a string that ends sorts before its extensions.
        let mut w = [0u8; 16];
        if let Some(rest) = key(it.1).get(at..) {
            let n = rest.len().min(16);
            w[..n].copy_from_slice(&rest[..n]);
        }
        it.0 = u128::from_be_bytes(w);
    }
    items.sort_unstable_by_key(|it| it.0);
    let mut i = 0;
    while i < items.len() {
        let w = items[i].0;
        let j = i + items[i..].iter().take_while(|it| it.0 == w).count();
        let run = &mut items[i..j];
        if run.len() > 1 {
            if run.iter().all(|it| key(it.1).len() > at + 16) {
                // Equal real bytes up to at + 16: the next window decides.
                sort_window(run, at + 16, key);
            } else {
                // A string ended inside the window (its zeros could tie with NUL bytes).
                run.sort_unstable_by(|a, b| key(a.1).cmp(key(b.1)));
            }
        }
        i = j;
    }
}

#[derive(Default)]
struct Visit {
    /// Forward: earliest start in mode self; backward: latest end.
    self_bound: Option<i64>,
    carriers: Vec<(i64, i64)>,
}

/// A state waiting to be expanded: (object, window start, window end, carrier).
type Pending = (u32, i64, i64, bool);

struct Walk<'a> {
    ix: &'a TraceIndex,
    filter: &'a dyn EventFilter,
    all_visible: bool,
    dir: Direction,
    root: u32,
    /// (priority, position in `pending`): small entries, and equal priorities leave in the
    /// order they came.
    heap: BinaryHeap<Reverse<(i64, u32)>>,
    pending: Vec<Pending>,
    /// Each reached object's position in `ids` and `visits` (its local number).
    local: HashMap<u32, u32>,
    /// Reached objects by local number (the root is 0).
    ids: Vec<u32>,
    visits: Vec<Visit>,
    /// Links as (from, to, event, relation), ends by local number.
    edges: Vec<(u32, u32, u32, Relation)>,
    places: HashSet<(u32, LocationRole, u32)>,
    /// Events whose places are already in `places`.
    placed: HashSet<u32>,
    visible: HashMap<u32, bool>,
    buf: Vec<u32>,
    /// Per container, the events that unpacked it (DELETE as parent), in time order.
    deletes: HashMap<u32, Vec<u32>>,
}

impl<'a> Walk<'a> {
    fn new(ix: &'a TraceIndex, filter: &'a dyn EventFilter, dir: Direction, root: u32) -> Self {
        Walk {
            ix,
            filter,
            all_visible: filter.allows_all(),
            dir,
            root,
            heap: BinaryHeap::new(),
            pending: Vec::new(),
            local: HashMap::default(),
            ids: Vec::new(),
            visits: Vec::new(),
            edges: Vec::new(),
            places: HashSet::default(),
            placed: HashSet::default(),
            visible: HashMap::default(),
            buf: Vec::new(),
            deletes: HashMap::default(),
        }
    }

    fn visible(&mut self, e: u32) -> bool {
        if self.all_visible {
            return true;
        }
        let (ix, filter) = (self.ix, self.filter);
        *self.visible.entry(e).or_insert_with(|| filter.allows(&EventView { ix, e }))
    }

    fn covered(dir: Direction, v: &Visit, a: i64, b: i64, carrier: bool) -> bool {
        let by_self = match (dir, v.self_bound) {
            (Direction::Forward, Some(sb)) => sb <= a,
            (Direction::Backward, Some(sb)) => sb >= b,
            _ => false,
        };
        by_self || (carrier && v.carriers.iter().any(|&(ca, cb)| ca <= a && b <= cb))
    }

    /// Per local number, the local number of the lot whose lot → unit link reached it
    /// (`u32::MAX`: none).
    fn walked_lots(&self) -> Vec<u32> {
        let mut lots = vec![u32::MAX; self.ids.len()];
        for &(lot, inst, _, r) in &self.edges {
            if r == Relation::LotMember {
                lots[inst as usize] = lot;
            }
        }
        lots
    }

    /// The local number of an object, numbering it when first reached.
    fn node(&mut self, obj: u32) -> u32 {
        let next = self.ids.len() as u32;
        let n = *self.local.entry(obj).or_insert(next);
        if n == next {
            self.ids.push(obj);
            self.visits.push(Visit::default());
        }
        n
    }

    /// Queues object `n` (local number) for the window `[a, b]` unless already covered.
    fn push(&mut self, n: u32, a: i64, b: i64, carrier: bool) {
        let dir = self.dir;
        let obj = self.ids[n as usize];
        if obj != self.root && self.ix.flags[obj as usize] & flag::NO_LOT != 0 {
            return;
        }
        let v = &mut self.visits[n as usize];
        if Self::covered(dir, v, a, b, carrier) {
            return;
        }
        if carrier {
            v.carriers.push((a, b));
        } else {
            v.self_bound = Some(if dir == Direction::Forward { a } else { b });
        }
        let key = if dir == Direction::Forward { a } else { b.saturating_neg() };
        let at = u32::try_from(self.pending.len()).expect("fewer than 2^32 states in one walk");
        self.pending.push((n, a, b, carrier));
        self.heap.push(Reverse((key, at)));
    }

    fn add_places(&mut self, e: u32) {
        if !self.placed.insert(e) {
            return;
        }
        let m = self.ix.meta[e as usize];
        if m.read_point != NONE {
            self.places.insert((m.read_point, LocationRole::ReadPoint, NONE));
        }
        if m.biz_location != NONE {
            self.places.insert((m.biz_location, LocationRole::BizLocation, NONE));
        }
        for r in self.ix.extras(e) {
            match r[0] {
                extra::SOURCE => self.places.insert((r[1], LocationRole::Source, r[2])),
                extra::DEST => self.places.insert((r[1], LocationRole::Destination, r[2])),
                _ => false,
            };
        }
    }

    fn run(&mut self) {
        let root = self.node(self.root);
        self.push(root, NEG_INF, INF, false);
        while let Some(Reverse((_, at))) = self.heap.pop() {
            let (me, a, b, carrier) = self.pending[at as usize];
            let v = &self.visits[me as usize];
            let current = if carrier {
                // Still needed unless mode self has since covered the window.
                !Self::covered(self.dir, &Visit { self_bound: v.self_bound, carriers: Vec::new() }, a, b, true)
            } else {
                v.self_bound == Some(if self.dir == Direction::Forward { a } else { b })
            };
            if current {
                match self.dir {
                    Direction::Forward => self.expand_forward(me, a, b, carrier),
                    Direction::Backward => self.expand_backward(me, a, b, carrier),
                }
            }
        }
    }

    /// The objects of event `e` in role `r` (borrows the index, not the walk).
    fn objects_with(&self, e: u32, r: u8) -> impl Iterator<Item = u32> + use<'a> {
        let ix: &'a TraceIndex = self.ix;
        ix.objects(e).filter(move |&(_, rr)| rr == r).map(|(id, _)| id)
    }

    /// When `child`, packed into its parent by event `e`, came out again: the first later
    /// DELETE by that parent naming the child or naming no children (EPCIS 2.0 §7.4.3: a DELETE
    /// without children disaggregates all).
    fn close_time(&mut self, parent: u32, child: u32, e: u32) -> i64 {
        let ix = self.ix;
        let key = (ix.time[e as usize], e);
        // A pallet holds many children: list its unpackings once per walk, not once per child.
        let deletes = self.deletes.entry(parent).or_insert_with(|| {
            let mut list = Vec::new();
            ix.occurrences(parent, &mut list);
            list.retain(|&o| (o & 7) as u8 == role::PARENT && ix.meta[(o >> 3) as usize].action == ACTION_DELETE);
            list.iter_mut().for_each(|o| *o >>= 3);
            list
        });
        let from = deletes.partition_point(|&d| (ix.time[d as usize], d) <= key);
        for &d in &deletes[from..] {
            let mut children = ix.objects(d).filter(|&(_, r)| r == role::CHILD).peekable();
            if children.peek().is_none() || children.any(|(c, _)| c == child) {
                return ix.time[d as usize];
            }
        }
        INF
    }

    fn expand_forward(&mut self, me: u32, a: i64, b: i64, carrier: bool) {
        let obj = self.ids[me as usize];
        let mut list = std::mem::take(&mut self.buf);
        self.ix.occurrences(obj, &mut list);
        for &o in &list {
            let (e, r) = (o >> 3, (o & 7) as u8);
            let t = self.ix.time[e as usize];
            let in_window = a <= t && t <= b;
            let deleting = self.ix.meta[e as usize].action == ACTION_DELETE;
            match r {
                role::CHILD if !deleting => {
                    if t > b || !self.visible(e) {
                        continue;
                    }
                    let Some(parent) = self.objects_with(e, role::PARENT).next() else { continue };
                    let close = self.close_time(parent, obj, e);
                    let (lo, hi) = (a.max(t), b.min(close));
                    if lo <= hi {
                        let x = self.node(parent);
                        self.edges.push((me, x, e, Relation::PackedInto));
                        self.push(x, lo, hi, true);
                    }
                    if in_window {
                        self.add_places(e);
                    }
                }
                role::LOT if !carrier => {
                    // A lot is one unit of risk: all its instances, whenever they were made.
                    if !self.visible(e) {
                        continue;
                    }
                    let ix = self.ix;
                    for [kind, inst, lot, _] in ix.extras(e) {
                        if kind == extra::LOT && lot == obj {
                            let x = self.node(inst);
                            self.edges.push((me, x, e, Relation::LotMember));
                            self.push(x, t, INF, false);
                        }
                    }
                }
                _ => {
                    if !in_window || !self.visible(e) {
                        continue;
                    }
                    self.add_places(e);
                    match r {
                        role::PARENT if !carrier && !deleting => {
                            for c in self.objects_with(e, role::CHILD) {
                                let x = self.node(c);
                                self.edges.push((me, x, e, Relation::Contains));
                                self.push(x, t, INF, false);
                            }
                        }
                        role::INPUT => {
                            let via = self.objects_with(e, role::XFORM).next();
                            let outputs = self.objects_with(e, role::OUTPUT).filter(move |_| via.is_none());
                            for out in via.into_iter().chain(outputs) {
                                let x = self.node(out);
                                self.edges.push((me, x, e, Relation::Transformation));
                                self.push(x, t, INF, false);
                            }
                        }
                        role::XFORM => {
                            for out in self.objects_with(e, role::OUTPUT) {
                                let x = self.node(out);
                                self.edges.push((me, x, e, Relation::Transformation));
                                self.push(x, t, INF, false);
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        self.buf = list;
    }

    fn expand_backward(&mut self, me: u32, a: i64, b: i64, carrier: bool) {
        let obj = self.ids[me as usize];
        let mut list = std::mem::take(&mut self.buf);
        self.ix.occurrences(obj, &mut list);
        for &o in &list {
            let (e, r) = (o >> 3, (o & 7) as u8);
            let t = self.ix.time[e as usize];
            if !carrier && (r == role::OBJ || r == role::OUTPUT) {
                let ix = self.ix;
                let mut lots = ix.extras(e).filter(|x| x[0] == extra::LOT && x[1] == obj).map(|x| x[2]).peekable();
                if lots.peek().is_some() && self.visible(e) {
                    for lot in lots {
                        let x = self.node(lot);
                        self.edges.push((x, me, e, Relation::LotMember));
                        self.push(x, NEG_INF, INF, false);
                    }
                }
            }
            if t < a || t > b || !self.visible(e) {
                continue;
            }
            self.add_places(e);
            let deleting = self.ix.meta[e as usize].action == ACTION_DELETE;
            match r {
                role::CHILD if !deleting => {
                    let Some(parent) = self.objects_with(e, role::PARENT).next() else { continue };
                    let close = self.close_time(parent, obj, e);
                    let x = self.node(parent);
                    self.edges.push((x, me, e, Relation::Contains));
                    self.push(x, t, b.min(close), true);
                }
                role::PARENT if !carrier && !deleting => {
                    for c in self.objects_with(e, role::CHILD) {
                        let x = self.node(c);
                        self.edges.push((x, me, e, Relation::PackedInto));
                        self.push(x, NEG_INF, t, false);
                    }
                }
                role::OUTPUT if !carrier => {
                    let via = self.objects_with(e, role::XFORM).next();
                    let inputs = self.objects_with(e, role::INPUT).filter(move |_| via.is_none());
                    let sources = via.into_iter().chain(inputs);
                    for src in sources {
                        let x = self.node(src);
                        self.edges.push((x, me, e, Relation::Transformation));
                        self.push(x, NEG_INF, t, false);
                    }
                }
                role::XFORM => {
                    for src in self.objects_with(e, role::INPUT) {
                        let x = self.node(src);
                        self.edges.push((x, me, e, Relation::Transformation));
                        self.push(x, NEG_INF, t, false);
                    }
                }
                _ => {}
            }
        }
        self.buf = list;
    }
}

/// The latest facts seen for one item.
#[derive(Default)]
struct Status {
    seen: Option<(i64, u32)>,
    location: Option<((i64, u32), u32)>,
    owner: Option<((i64, u32), u32)>,
    possessor: Option<((i64, u32), u32)>,
    disposition: Option<((i64, u32), u32)>,
    quantity: Option<((i64, u32), f32, u32)>,
}

fn newer<T>(slot: &mut Option<((i64, u32), T)>, key: (i64, u32), v: T) {
    if slot.as_ref().is_none_or(|(k, _)| *k < key) {
        *slot = Some((key, v));
    }
}

impl TraceIndex {
    fn root_id(&self, id: &str) -> Result<(String, u32), QueryError> {
        let canonical = Epc::parse(id).map_err(|e| QueryError::BadId(e.0))?.as_str().to_string();
        let root = self.lookup(&canonical).ok_or_else(|| QueryError::NotFound(canonical.clone()))?;
        Ok((canonical, root))
    }

    /// Where `id` came from (EPC URN, class URN or GS1 Digital Link), over all events.
    pub fn backward(&self, id: &str) -> Result<Trace, QueryError> {
        self.trace(id, Direction::Backward, &AllEvents)
    }

    /// Where `id` went, over all events.
    pub fn forward(&self, id: &str) -> Result<Trace, QueryError> {
        self.trace(id, Direction::Forward, &AllEvents)
    }

    /// A trace in either direction over the events `filter` allows.
    pub fn trace(&self, id: &str, direction: Direction, filter: &dyn EventFilter) -> Result<Trace, QueryError> {
        let (canonical, root) = self.root_id(id)?;
        let mut walk = Walk::new(self, filter, direction, root);
        walk.run();
        Ok(self.render_trace(canonical, direction, &walk))
    }

    fn node_kind(&self, id: u32) -> NodeKind {
        let f = self.flags[id as usize];
        if f & flag::XFORM != 0 {
            NodeKind::Transformation
        } else if f & flag::PARENT != 0 {
            NodeKind::Container
        } else if f & (flag::CLASS | flag::QTY) != 0 {
            NodeKind::Class
        } else {
            NodeKind::Instance
        }
    }

    /// The lot of an instance the walk reached (`n`: its local number): the lot → unit link
    /// the walk followed to it when only one event ever declared its lot, else the earliest
    /// declaration among its events.
    fn lot_in_walk(&self, walk: &Walk<'_>, walked: &[u32], n: u32, kind: NodeKind, buf: &mut Vec<u32>) -> Option<u32> {
        let id = walk.ids[n as usize];
        let flags = self.flags[id as usize];
        if kind != NodeKind::Instance || flags & flag::LOT_LINKED == 0 {
            None
        } else if flags & flag::MULTI_LOT == 0 && walked[n as usize] != u32::MAX {
            Some(walk.ids[walked[n as usize] as usize])
        } else {
            self.lot_of(id, buf)
        }
    }

    /// The lot of an instance, when an event declared it (the earliest declaration).
    fn lot_of(&self, id: u32, buf: &mut Vec<u32>) -> Option<u32> {
        if self.flags[id as usize] & flag::LOT_LINKED == 0 {
            return None;
        }
        self.occurrences(id, buf);
        buf.iter().find_map(|&o| self.extras(o >> 3).find(|x| x[0] == extra::LOT && x[1] == id).map(|x| x[2]))
    }

    fn opt(&self, id: u32) -> Option<String> {
        (id != NONE).then(|| self.ids.resolve(id))
    }

    fn render_trace(&self, root: String, direction: Direction, walk: &Walk<'_>) -> Trace {
        // Each node's id is written once into one text, then the nodes are sorted by it.
        let mut text = String::with_capacity(walk.ids.len() * 64);
        let mut spans: Vec<(u32, u32)> = Vec::with_capacity(walk.ids.len());
        for &id in &walk.ids {
            let start = text.len();
            self.ids.push_to(id, &mut text);
            spans.push((start as u32, text.len() as u32));
        }
        let text = Arc::new(text);
        let mut order: Vec<u32> = (0..walk.ids.len() as u32).collect();
        sort_by_bytes(&mut order, |n| {
            let (a, b) = spans[n as usize];
            &text.as_bytes()[a as usize..b as usize]
        });
        let shared = |n: u32| {
            let (start, end) = spans[n as usize];
            SharedStr { text: text.clone(), start, end }
        };
        // Local number → position in the sorted nodes.
        let mut rank = vec![0u32; order.len()];
        for (i, &n) in order.iter().enumerate() {
            rank[n as usize] = i as u32;
        }
        // A lot that is a node shares its id.
        let walked = walk.walked_lots();
        let mut other_lots: HashMap<u32, SharedStr> = HashMap::default();
        let mut buf = Vec::new();
        let mut nodes: Vec<TraceNode> = Vec::with_capacity(order.len());
        for &n in &order {
            let id = walk.ids[n as usize];
            let kind = self.node_kind(id);
            let flags = self.flags[id as usize];
            let lot_id = self.lot_in_walk(walk, &walked, n, kind, &mut buf);
            let lot_local = lot_id.and_then(|l| walk.local.get(&l)).copied();
            let lot_node = lot_local.map(|ln| rank[ln as usize]);
            let lot = lot_id.map(|l| match lot_local {
                Some(ln) => shared(ln),
                None => other_lots.entry(l).or_insert_with(|| self.ids.resolve(l).into()).clone(),
            });
            let not_followed = id != walk.root && flags & flag::NO_LOT != 0;
            nodes.push(TraceNode { id: shared(n), kind, lot, lot_node, not_followed, depth: u32::MAX });
        }
        drop(order);
        // Edges by the ranks of their ends, then time: placed by upstream rank (one counting
        // pass), then each node's few outgoing edges sorted.
        let mut start = vec![0usize; nodes.len() + 1];
        for &(f, ..) in &walk.edges {
            start[rank[f as usize] as usize + 1] += 1;
        }
        for i in 0..nodes.len() {
            start[i + 1] += start[i];
        }
        let mut raw: Vec<(u32, u32, i64, u32, Relation)> =
            vec![(0, 0, 0, 0, Relation::Transformation); walk.edges.len()];
        let mut fill = start.clone();
        for &(f, t, e, r) in &walk.edges {
            let from = rank[f as usize];
            raw[fill[from as usize]] = (from, rank[t as usize], self.time[e as usize], e, r);
            fill[from as usize] += 1;
        }
        for w in start.windows(2) {
            raw[w[0]..w[1]].sort_unstable();
        }
        raw.dedup();
        self.set_depths(&mut nodes, rank[0], &raw);
        // Each event and bizStep is rendered once, however many edges it makes.
        let mut event_pos: HashMap<u32, u32> = HashMap::default();
        let mut steps: HashMap<u32, Option<Arc<str>>> = HashMap::default();
        let mut events: Vec<TraceEvent> = Vec::new();
        let edges: Vec<TraceEdge> = raw
            .into_iter()
            .map(|(from, to, time, e, relation)| {
                let event = *event_pos.entry(e).or_insert_with(|| {
                    let m = self.meta[e as usize];
                    let biz_step =
                        steps.entry(m.biz_step).or_insert_with(|| self.opt(m.biz_step).map(Into::into)).clone();
                    events.push(TraceEvent {
                        event_id: self.event_ids.get(e).map(Into::into),
                        event_type: event_type_name(m.event_type),
                        biz_step,
                        event_time: rfc3339(time).into(),
                    });
                    (events.len() - 1) as u32
                });
                TraceEdge { from, to, relation, event }
            })
            .collect();
        let mut locations: Vec<TraceLocation> = walk
            .places
            .iter()
            .map(|&(id, role, kind)| TraceLocation { id: self.ids.resolve(id), role, kind: self.opt(kind) })
            .collect();
        locations.sort_by(|a, b| (&a.id, a.role, &a.kind).cmp(&(&b.id, b.role, &b.kind)));
        Trace { root, direction, nodes, edges, events, locations }
    }

    /// Hops from the root over the links in either direction (breadth first over node ranks).
    fn set_depths(&self, nodes: &mut [TraceNode], root: u32, edges: &[(u32, u32, i64, u32, Relation)]) {
        let n = nodes.len();
        let mut start = vec![0u32; n + 1];
        for &(f, t, ..) in edges {
            start[f as usize + 1] += 1;
            start[t as usize + 1] += 1;
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut adj = vec![0u32; start[n] as usize];
        for &(f, t, ..) in edges {
            adj[fill[f as usize] as usize] = t;
            fill[f as usize] += 1;
            adj[fill[t as usize] as usize] = f;
            fill[t as usize] += 1;
        }
        let mut queue = std::collections::VecDeque::from([root]);
        nodes[root as usize].depth = 0;
        while let Some(v) = queue.pop_front() {
            let d = nodes[v as usize].depth + 1;
            for &w in &adj[start[v as usize] as usize..start[v as usize + 1] as usize] {
                if nodes[w as usize].depth == u32::MAX {
                    nodes[w as usize].depth = d;
                    queue.push_back(w);
                }
            }
        }
    }

    /// Everything downstream of `id` that a recall must reach, over all events.
    pub fn recall_scope(&self, id: &str) -> Result<RecallScope, QueryError> {
        self.recall_scope_filtered(id, &AllEvents)
    }

    /// The recall scope over the events `filter` allows.
    pub fn recall_scope_filtered(&self, id: &str, filter: &dyn EventFilter) -> Result<RecallScope, QueryError> {
        let (canonical, root) = self.root_id(id)?;
        let mut walk = Walk::new(self, filter, Direction::Forward, root);
        walk.run();
        let owning = self.lookup("owning_party");
        let possessing = self.lookup("possessing_party");
        let walked = walk.walked_lots();
        let mut ids: Vec<(u32, u32)> = walk.ids.iter().enumerate().map(|(n, &id)| (id, n as u32)).collect();
        ids.sort_unstable();
        let mut items = Vec::new();
        let mut containers = Vec::new();
        let mut owned: HashMap<u32, usize> = HashMap::default();
        let mut buf = Vec::new();
        for (id, n) in ids {
            let kind = self.node_kind(id);
            match kind {
                NodeKind::Container => containers.push(self.ids.resolve(id)),
                NodeKind::Transformation => {}
                NodeKind::Instance | NodeKind::Class => {
                    let followed = id == root || self.flags[id as usize] & flag::NO_LOT == 0;
                    let mut st = Status::default();
                    if followed {
                        self.status(&mut walk, id, NEG_INF, INF, 0, (owning, possessing), &mut st);
                    }
                    let owner = st.owner.or(st.possessor).map(|(_, p)| p);
                    if let Some(p) = owner {
                        *owned.entry(p).or_default() += 1;
                    }
                    let (quantity, uom) = match (kind, st.quantity) {
                        (NodeKind::Instance, _) => (Some(1.0), None),
                        (_, Some((_, q, u))) => ((!q.is_nan()).then_some(f64::from(q)), self.opt(u)),
                        _ => (None, None),
                    };
                    items.push(ScopeItem {
                        id: self.ids.resolve(id),
                        kind,
                        lot: self.lot_in_walk(&walk, &walked, n, kind, &mut buf).map(|l| self.ids.resolve(l)),
                        last_seen: st.seen.map(|(t, _)| rfc3339(t)),
                        last_location: st.location.map(|(_, l)| self.ids.resolve(l)),
                        owner: owner.map(|p| self.ids.resolve(p)),
                        disposition: st.disposition.map(|(_, d)| self.ids.resolve(d)),
                        quantity,
                        uom,
                    });
                }
            }
        }
        items.sort_by(|a, b| a.id.cmp(&b.id));
        containers.sort();
        let mut parties: HashMap<u32, Vec<u32>> = HashMap::default();
        for &(id, role, kind) in &walk.places {
            let party_kind = kind != NONE && (Some(kind) == owning || Some(kind) == possessing);
            if matches!(role, LocationRole::Source | LocationRole::Destination) && party_kind {
                let k = parties.entry(id).or_default();
                if !k.contains(&kind) {
                    k.push(kind);
                }
            }
        }
        for &p in owned.keys() {
            parties.entry(p).or_default();
        }
        let mut parties: Vec<ScopeParty> = parties
            .into_iter()
            .map(|(id, kinds)| {
                let mut kinds: Vec<String> = kinds.into_iter().map(|k| self.ids.resolve(k)).collect();
                kinds.sort();
                ScopeParty { id: self.ids.resolve(id), kinds, items_owned: owned.get(&id).copied().unwrap_or(0) }
            })
            .collect();
        parties.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(RecallScope { root: canonical, items, containers, parties })
    }

    /// Latest facts for `id` from its own events in `[a, b]` and those of the containers that
    /// held it meanwhile.
    #[allow(clippy::too_many_arguments)]
    fn status(
        &self,
        walk: &mut Walk<'_>,
        id: u32,
        a: i64,
        b: i64,
        depth: u32,
        parties: (Option<u32>, Option<u32>),
        st: &mut Status,
    ) {
        let mut list = Vec::new();
        self.occurrences(id, &mut list);
        for &o in &list {
            let (e, r) = (o >> 3, (o & 7) as u8);
            let t = self.time[e as usize];
            if t < a || t > b || r == role::LOT || !walk.visible(e) {
                continue;
            }
            let key = (t, e);
            if st.seen.is_none_or(|k| k < key) {
                st.seen = Some(key);
            }
            let m = self.meta[e as usize];
            let place = if m.biz_location != NONE { m.biz_location } else { m.read_point };
            if place != NONE {
                newer(&mut st.location, key, place);
            }
            if m.disposition != NONE {
                newer(&mut st.disposition, key, m.disposition);
            }
            for x in self.extras(e) {
                match x[0] {
                    extra::DEST if Some(x[2]) == parties.0 => newer(&mut st.owner, key, x[1]),
                    extra::DEST if Some(x[2]) == parties.1 => newer(&mut st.possessor, key, x[1]),
                    extra::QTY if depth == 0 && x[1] == id && st.quantity.as_ref().is_none_or(|(k, ..)| *k < key) => {
                        st.quantity = Some((key, f32::from_bits(x[3]), x[2]));
                    }
                    _ => {}
                }
            }
            if r == role::CHILD
                && m.action != ACTION_DELETE
                && depth < MAX_NESTING
                && let Some(parent) = walk.objects_with(e, role::PARENT).next()
            {
                let close = walk.close_time(parent, id, e);
                self.status(walk, parent, t.max(a), close.min(b), depth + 1, parties, st);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Arc, LocationRole, NodeKind, Relation, SharedStr, rfc3339, sort_by_bytes};
    use std::collections::HashSet;

    /// The `as_str` names the API writes directly are the names serde gives.
    #[test]
    fn shared_strings_read_compare_hash_and_serialise_as_their_range() {
        let text = Arc::new(String::from("urn:a:1urn:b:22"));
        let a = SharedStr { text: text.clone(), start: 0, end: 7 };
        let b = SharedStr { text, start: 7, end: 15 };
        assert_eq!((&*a, &*b), ("urn:a:1", "urn:b:22"));
        assert_eq!(a, SharedStr::from("urn:a:1"));
        assert!(a < b && b != a);
        let set: HashSet<SharedStr> = [a.clone(), b.clone(), SharedStr::from("urn:a:1".to_owned())].into();
        assert_eq!(set.len(), 2);
        assert!(set.contains("urn:b:22"));
        assert_eq!(serde_json::to_string(&b).unwrap(), "\"urn:b:22\"");
        assert_eq!(format!("{a}|{b:?}"), "urn:a:1|\"urn:b:22\"");
    }

    proptest::proptest! {
        /// The windowed sort orders as `str::cmp` does, on ids with long common prefixes, ids
        /// that are prefixes of others (at and around the 16-byte window edges), NUL bytes and
        /// the empty string; a sort that ignored a window or mishandled an end fails here.
        #[test]
        fn the_windowed_sort_orders_as_string_comparison_does(
            prefix in 0usize..3,
            ids in proptest::collection::vec((0usize..32, "[01/az9\\x00]{0,40}"), 1..300),
            shuffle in proptest::collection::vec(0usize..1_000, 300),
        ) {
            // Each id: a cut of one long prefix, then up to 40 bytes of a small alphabet.
            let prefix = ["https://id.gs1.org/01/0614141", "urn:epc:id:sgtin:", ""][prefix];
            let set: std::collections::BTreeSet<String> =
                ids.iter().map(|(cut, tail)| format!("{}{tail}", &prefix[..(*cut).min(prefix.len())])).collect();
            let ids: Vec<&String> = set.iter().collect();
            let mut order: Vec<u32> = (0..ids.len() as u32).collect();
            for (i, &j) in (1..order.len()).rev().zip(&shuffle) {
                order.swap(i, j % (i + 1));
            }
            sort_by_bytes(&mut order, |n| ids[n as usize].as_bytes());
            let sorted: Vec<&String> = order.iter().map(|&n| ids[n as usize]).collect();
            proptest::prop_assert_eq!(sorted, ids);
        }
    }

    #[test]
    fn wire_names_are_the_serialised_names() {
        let serde = |v: serde_json::Value| v.as_str().unwrap().to_owned();
        for r in [LocationRole::ReadPoint, LocationRole::BizLocation, LocationRole::Source, LocationRole::Destination] {
            assert_eq!(r.as_str(), serde(serde_json::to_value(r).unwrap()));
        }
        for r in [Relation::Transformation, Relation::PackedInto, Relation::Contains, Relation::LotMember] {
            assert_eq!(r.as_str(), serde(serde_json::to_value(r).unwrap()));
        }
        for k in [NodeKind::Instance, NodeKind::Class, NodeKind::Container, NodeKind::Transformation] {
            assert_eq!(k.as_str(), serde(serde_json::to_value(k).unwrap()));
        }
    }

    #[test]
    fn formats_times_in_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_714_521_600_123_000_000), "2024-05-01T00:00:00.123Z");
        assert_eq!(rfc3339(951_782_400_000_000_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(-1_000_000), "1969-12-31T23:59:59.999Z");
    }
}
