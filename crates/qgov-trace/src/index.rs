//! The trace index: events in flat arrays, identifiers as `u32`, and the inverse
//! (identifier → its events, ordered by event time).
//!
//! Layout (all vectors, no per-object allocation):
//! - per event: time (i64 ns since the Unix epoch, UTC), [`EventMeta`] (type, action, bizStep,
//!   disposition, readPoint, bizLocation as interned ids), its packed event ID;
//! - event → objects with their role (CSR: `obj_start` offsets into `obj` / `obj_role`);
//! - event → extras (CSR of 4-word records: sources, destinations, business transactions,
//!   quantities, lot memberships);
//! - identifier → occurrences (CSR over the first `built_events` events, rebuilt by a counting
//!   transposition, plus a small per-identifier delta for events appended since). Each occurrence
//!   is one `u32`: event index << 3 | role. Lists are ordered by (event time, event index), so
//!   capture order does not matter.
//!
//! Appending is cheap (the event arrays only grow); the delta is folded into the CSR when it
//! passes a quarter of the indexed events, so rebuilding costs amortised O(1) per event.

use std::borrow::Borrow;
use std::collections::HashMap;

use qgov_epcis::Epc;
use qgov_epcis::model::{Action, Event, EventType, ExtValue};

use crate::IndexError;
use crate::intern::{EventIds, Interner, NONE};

/// The role an identifier plays in one event.
pub(crate) mod role {
    /// `epcList` / `quantityList` of an ObjectEvent, or any object of an AssociationEvent
    /// (EPCIS 2.0 §7.4.2, §7.4.4): the object was observed there.
    pub const OBJ: u8 = 0;
    /// `parentID` of an AggregationEvent or TransactionEvent (EPCIS 2.0 §7.4.3, §7.4.5).
    pub const PARENT: u8 = 1;
    /// `childEPCs` / `childQuantityList` of an AggregationEvent; `epcList` / `quantityList` of a
    /// TransactionEvent that has a `parentID`.
    pub const CHILD: u8 = 2;
    /// `inputEPCList` / `inputQuantityList` (EPCIS 2.0 §7.4.6).
    pub const INPUT: u8 = 3;
    /// `outputEPCList` / `outputQuantityList` (EPCIS 2.0 §7.4.6).
    pub const OUTPUT: u8 = 4;
    /// `transformationID` (EPCIS 2.0 §7.4.6): links the events of one transformation.
    pub const XFORM: u8 = 5;
    /// A lot whose membership this event declares for some instance (see [`crate`] docs).
    pub const LOT: u8 = 6;
}

/// Flags per identifier.
pub(crate) mod flag {
    /// Appeared in a quantity list (a class).
    pub const QTY: u8 = 1;
    /// Appeared as a parentID (a container).
    pub const PARENT: u8 = 2;
    /// Appeared as a transformationID.
    pub const XFORM: u8 = 4;
    /// A class-level identifier by its grammar (GTIN + lot, EPC class/pattern URN).
    pub const CLASS: u8 = 8;
    /// A class without a lot (a bare GTIN): reported but not followed.
    pub const NO_LOT: u8 = 16;
    /// An instance whose lot is part of its own identifier has had its membership recorded.
    pub const LOT_LINKED: u8 = 32;
    /// An instance whose lot was declared by more than one event: its lot is found by scanning
    /// its events (the earliest declaration wins), not taken from the one declaration a trace
    /// walked.
    pub const MULTI_LOT: u8 = 64;
}

pub(crate) mod extra {
    pub const SOURCE: u32 = 1;
    pub const DEST: u32 = 2;
    pub const BIZ_TX: u32 = 3;
    pub const QTY: u32 = 4;
    pub const LOT: u32 = 5;
}

const GS1_GTIN: &str = "https://id.gs1.org/01/";
const MDA_NS: &str = "urn:epcglobal:cbv:mda";

/// Fixed-size facts of one event.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EventMeta {
    pub read_point: u32,
    pub biz_location: u32,
    pub biz_step: u32,
    pub disposition: u32,
    pub event_type: u8,
    /// 0 none, 1 ADD, 2 OBSERVE, 3 DELETE.
    pub action: u8,
}

pub(crate) const ACTION_ADD: u8 = 1;
pub(crate) const ACTION_OBSERVE: u8 = 2;
pub(crate) const ACTION_DELETE: u8 = 3;

fn event_type_code(t: EventType) -> u8 {
    match t {
        EventType::Object => 0,
        EventType::Aggregation => 1,
        EventType::Transaction => 2,
        EventType::Transformation => 3,
        EventType::Association => 4,
    }
}

pub(crate) fn event_type_name(code: u8) -> &'static str {
    [
        EventType::Object,
        EventType::Aggregation,
        EventType::Transaction,
        EventType::Transformation,
        EventType::Association,
    ][usize::from(code)]
    .as_str()
}

/// Identifier → occurrences, ordered by (event time, event index).
#[derive(Clone, Debug, Default)]
struct Inverse {
    start: Vec<u32>,
    occ: Vec<u32>,
    built_events: u32,
    delta: HashMap<u32, Vec<u32>>,
    delta_len: usize,
}

/// The trace index over a log of EPCIS events. Build it with [`TraceIndex::from_events`] or
/// [`TraceIndex::extend`], keep it current with [`TraceIndex::append`]; query it with
/// [`TraceIndex::backward`], [`TraceIndex::forward`] and [`TraceIndex::recall_scope`].
///
/// Events may arrive in any order of event time; every query orders by event time. An event is
/// identified inside the index by its position in the order of appending ([`EventRef`]).
#[derive(Clone, Debug, Default)]
pub struct TraceIndex {
    pub(crate) ids: Interner,
    pub(crate) flags: Vec<u8>,
    pub(crate) time: Vec<i64>,
    pub(crate) meta: Vec<EventMeta>,
    pub(crate) event_ids: EventIds,
    pub(crate) obj_start: Vec<u32>,
    pub(crate) obj: Vec<u32>,
    pub(crate) obj_role: Vec<u8>,
    pub(crate) extra_start: Vec<u32>,
    pub(crate) extra: Vec<u32>,
    inverse: Inverse,
}

/// The position of an event in the index (order of appending).
pub type EventRef = u32;

/// Where the identifiers of a GS1 GTIN-keyed instance or class sit in its canonical form.
fn gtin_of(canonical: &str) -> Option<&str> {
    let rest = canonical.strip_prefix(GS1_GTIN)?;
    rest.get(..14).filter(|g| g.bytes().all(|b| b.is_ascii_digit()))
}

/// The lot class carried inside an instance identifier (`…/01/<gtin>/10/<lot>/21/<serial>`).
fn lot_in_identifier(canonical: &str) -> Option<&str> {
    gtin_of(canonical)?;
    let at = canonical.find("/21/")?;
    let head = &canonical[..at];
    head.contains("/10/").then_some(head)
}

fn grammar_flags(canonical: &str) -> u8 {
    if let Some(rest) = canonical.strip_prefix(GS1_GTIN) {
        if rest.contains("/21/") || rest.contains("/235/") {
            0
        } else if rest.contains("/10/") {
            flag::CLASS
        } else {
            flag::CLASS | flag::NO_LOT
        }
    } else if canonical.starts_with("urn:epc:class:") {
        flag::CLASS
    } else if canonical.starts_with("urn:epc:idpat:") {
        flag::CLASS | flag::NO_LOT
    } else {
        0
    }
}

fn ilmd_lot_number(ev: &Event) -> Option<String> {
    let fields = ev.ilmd.as_ref()?;
    fields.iter().find_map(|f| {
        let ns = f.ns.trim_end_matches([':', '#', '/']);
        match (&f.value, ns == MDA_NS && f.name == "lotNumber") {
            (ExtValue::Leaf(v, _), true) if !v.trim().is_empty() => Some(v.trim().to_string()),
            _ => None,
        }
    })
}

impl TraceIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds an index from events in capture order.
    pub fn from_events<E: Borrow<Event>>(events: impl IntoIterator<Item = E>) -> Result<Self, IndexError> {
        let mut ix = Self::new();
        ix.extend(events)?;
        Ok(ix)
    }

    /// Number of events indexed.
    pub fn len(&self) -> usize {
        self.time.len()
    }

    /// Whether no event is indexed.
    pub fn is_empty(&self) -> bool {
        self.time.is_empty()
    }

    /// Number of distinct identifiers and vocabulary values interned.
    pub fn identifier_count(&self) -> usize {
        self.ids.len()
    }

    /// Heap bytes held by the index (capacities, not lengths), for memory reports.
    pub fn heap_bytes(&self) -> usize {
        let delta: usize = self.inverse.delta.values().map(|v| v.capacity() * 4 + 48).sum();
        self.ids.heap_bytes()
            + self.event_ids.heap_bytes()
            + self.flags.capacity()
            + self.time.capacity() * 8
            + self.meta.capacity() * std::mem::size_of::<EventMeta>()
            + (self.obj_start.capacity() + self.obj.capacity() + self.extra_start.capacity() + self.extra.capacity())
                * 4
            + self.obj_role.capacity()
            + (self.inverse.start.capacity() + self.inverse.occ.capacity()) * 4
            + delta
    }

    /// Appends many events and folds them into the inverse index at once (the way to build from
    /// the database). Returns the reference of the first event appended.
    pub fn extend<E: Borrow<Event>>(&mut self, events: impl IntoIterator<Item = E>) -> Result<EventRef, IndexError> {
        let first = self.len() as EventRef;
        for ev in events {
            self.push_event(ev.borrow())?;
        }
        self.rebuild_inverse();
        self.shrink_to_fit();
        Ok(first)
    }

    /// Appends one event (on capture) and makes it visible to queries at once.
    pub fn append(&mut self, ev: &Event) -> Result<EventRef, IndexError> {
        let e = self.push_event(ev)?;
        let (s, t) = (self.obj_start[e as usize] as usize, self.obj_start[e as usize + 1] as usize);
        for k in s..t {
            let (id, r) = (self.obj[k], self.obj_role[k]);
            let key = self.occ_key(e << 3 | u32::from(r));
            let list = self.inverse.delta.entry(id).or_default();
            let pos = list.partition_point(|&o| (self.time[(o >> 3) as usize], o >> 3) <= key);
            list.insert(pos, e << 3 | u32::from(r));
            self.inverse.delta_len += 1;
        }
        let built = self.inverse.built_events as usize;
        if self.inverse.delta_len > 65_536 && self.inverse.delta_len * 4 > self.inverse.occ.len().max(built) {
            self.rebuild_inverse();
        }
        Ok(e)
    }

    fn occ_key(&self, o: u32) -> (i64, u32) {
        (self.time[(o >> 3) as usize], o >> 3)
    }

    fn id(&mut self, s: &str) -> Result<u32, IndexError> {
        let id = self.ids.intern(s)?;
        if id as usize == self.flags.len() {
            self.flags.push(grammar_flags(s));
        }
        Ok(id)
    }

    fn opt_id(&mut self, s: Option<&str>) -> Result<u32, IndexError> {
        s.map_or(Ok(NONE), |s| self.id(s))
    }

    fn push_obj(&mut self, id: u32, r: u8) {
        // One entry per (identifier, role) per event.
        let s = *self.obj_start.last().expect("started") as usize;
        if (s..self.obj.len()).any(|k| self.obj[k] == id && self.obj_role[k] == r) {
            return;
        }
        self.obj.push(id);
        self.obj_role.push(r);
    }

    fn push_extra(&mut self, rec: [u32; 4]) {
        self.extra.extend_from_slice(&rec);
    }

    /// Adds an event to the event arrays (not to the inverse); on error nothing stays behind.
    fn push_event(&mut self, ev: &Event) -> Result<EventRef, IndexError> {
        let (objs, extras, events) = (self.obj.len(), self.extra.len(), self.len());
        let pushed = self.push_event_parts(ev);
        if pushed.is_err() {
            self.obj.truncate(objs);
            self.obj_role.truncate(objs);
            self.extra.truncate(extras);
            self.time.truncate(events);
            self.meta.truncate(events);
        }
        pushed
    }

    fn push_event_parts(&mut self, ev: &Event) -> Result<EventRef, IndexError> {
        let e = u32::try_from(self.len()).ok().filter(|&e| e < 1 << 29).ok_or(IndexError::Capacity("events"))?;
        if self.obj_start.is_empty() {
            self.obj_start.push(0);
            self.extra_start.push(0);
        }
        let time = i64::try_from(ev.event_time.0.unix_timestamp_nanos()).map_err(|_| IndexError::TimeOutOfRange)?;
        let action = match ev.action {
            None => 0,
            Some(Action::Add) => ACTION_ADD,
            Some(Action::Observe) => ACTION_OBSERVE,
            Some(Action::Delete) => ACTION_DELETE,
        };
        let meta = EventMeta {
            read_point: self.opt_id(ev.read_point.as_ref().map(|l| l.id.as_str()))?,
            biz_location: self.opt_id(ev.biz_location.as_ref().map(|l| l.id.as_str()))?,
            biz_step: self.opt_id(ev.biz_step.as_deref())?,
            disposition: self.opt_id(ev.disposition.as_deref())?,
            event_type: event_type_code(ev.event_type),
            action,
        };
        let mut objects: Vec<(&Epc, u8)> = Vec::new();
        let mut quantities: Vec<(&Epc, u8, Option<f64>, Option<&str>)> = Vec::new();
        match ev.event_type {
            EventType::Object => {
                objects.extend(ev.epc_list.iter().map(|x| (x, role::OBJ)));
                quantities
                    .extend(ev.quantity_list.iter().map(|q| (&q.epc_class, role::OBJ, q.quantity, q.uom.as_deref())));
            }
            EventType::Aggregation => {
                objects.extend(ev.parent_id.iter().map(|x| (x, role::PARENT)));
                objects.extend(ev.child_epcs.iter().map(|x| (x, role::CHILD)));
                quantities.extend(
                    ev.child_quantity_list.iter().map(|q| (&q.epc_class, role::CHILD, q.quantity, q.uom.as_deref())),
                );
            }
            EventType::Transaction => {
                let r = if ev.parent_id.is_some() { role::CHILD } else { role::OBJ };
                objects.extend(ev.parent_id.iter().map(|x| (x, role::PARENT)));
                objects.extend(ev.epc_list.iter().map(|x| (x, r)));
                quantities.extend(ev.quantity_list.iter().map(|q| (&q.epc_class, r, q.quantity, q.uom.as_deref())));
            }
            EventType::Transformation => {
                objects.extend(ev.transformation_id.iter().map(|x| (x, role::XFORM)));
                objects.extend(ev.input_epc_list.iter().map(|x| (x, role::INPUT)));
                objects.extend(ev.output_epc_list.iter().map(|x| (x, role::OUTPUT)));
                quantities.extend(
                    ev.input_quantity_list.iter().map(|q| (&q.epc_class, role::INPUT, q.quantity, q.uom.as_deref())),
                );
                quantities.extend(
                    ev.output_quantity_list.iter().map(|q| (&q.epc_class, role::OUTPUT, q.quantity, q.uom.as_deref())),
                );
            }
            EventType::Association => {
                objects.extend(ev.parent_id.iter().chain(&ev.child_epcs).map(|x| (x, role::OBJ)));
                quantities.extend(
                    ev.child_quantity_list.iter().map(|q| (&q.epc_class, role::OBJ, q.quantity, q.uom.as_deref())),
                );
            }
        }
        for (x, r) in &objects {
            let id = self.id(x.as_str())?;
            self.flags[id as usize] |= match *r {
                role::PARENT => flag::PARENT,
                role::XFORM => flag::XFORM,
                _ => 0,
            };
            self.push_obj(id, *r);
        }
        for (x, r, q, uom) in &quantities {
            let id = self.id(x.as_str())?;
            self.flags[id as usize] |= flag::QTY;
            self.push_obj(id, *r);
            let uom = self.opt_id(*uom)?;
            let q = q.map_or(f32::NAN, |q| q as f32);
            self.push_extra([extra::QTY, id, uom, q.to_bits()]);
        }
        for sd in &ev.source_list {
            let (k, id) = (self.id(&sd.kind)?, self.id(sd.id.as_str())?);
            self.push_extra([extra::SOURCE, id, k, 0]);
        }
        for sd in &ev.destination_list {
            let (k, id) = (self.id(&sd.kind)?, self.id(sd.id.as_str())?);
            self.push_extra([extra::DEST, id, k, 0]);
        }
        for bt in &ev.biz_transaction_list {
            let (k, id) = (self.opt_id(bt.kind.as_deref())?, self.id(bt.id.as_str())?);
            self.push_extra([extra::BIZ_TX, id, k, 0]);
        }
        self.push_lot_memberships(ev, &objects, &quantities)?;
        self.time.push(time);
        self.meta.push(meta);
        self.event_ids.push(ev.event_id.as_deref())?;
        self.obj_start.push(u32::try_from(self.obj.len()).map_err(|_| IndexError::Capacity("event objects"))?);
        self.extra_start.push(u32::try_from(self.extra.len()).map_err(|_| IndexError::Capacity("event details"))?);
        Ok(e)
    }

    /// Records which lot an instance belongs to, when that is known (see the crate docs):
    /// the lot inside its own identifier; else the ILMD `cbvmda:lotNumber` of the event that
    /// commissions it (ObjectEvent ADD, or a TransformationEvent output; CBV 2.0 §10, EPCIS 2.0
    /// §7.3.6); else the one lot of the same GTIN listed as a quantity in that same event.
    fn push_lot_memberships(
        &mut self,
        ev: &Event,
        objects: &[(&Epc, u8)],
        quantities: &[(&Epc, u8, Option<f64>, Option<&str>)],
    ) -> Result<(), IndexError> {
        let creates = match ev.event_type {
            EventType::Object => ev.action == Some(Action::Add),
            EventType::Transformation => true,
            _ => false,
        };
        let made_role = if ev.event_type == EventType::Transformation { role::OUTPUT } else { role::OBJ };
        let ilmd_lot = if creates { ilmd_lot_number(ev) } else { None };
        let mut lots_added: Vec<u32> = Vec::new();
        for (x, r) in objects {
            let s = x.as_str();
            let Some(gtin) = gtin_of(s) else { continue };
            if grammar_flags(s) & flag::CLASS != 0 {
                continue;
            }
            let inst = self.id(s)?;
            let lot = if let Some(lot) = lot_in_identifier(s) {
                if self.flags[inst as usize] & flag::LOT_LINKED != 0 {
                    continue;
                }
                Some(self.id(lot)?)
            } else if creates && *r == made_role {
                if let Some(lot) = &ilmd_lot {
                    // A lot number outside GS1 character set 82 makes no lot identifier: the
                    // membership stays unknown rather than the event being refused.
                    match Epc::parse(&format!("{GS1_GTIN}{gtin}/10/{lot}")) {
                        Ok(lot) => Some(self.id(lot.as_str())?),
                        Err(_) => None,
                    }
                } else {
                    let mut same: Vec<&str> = quantities
                        .iter()
                        .filter(|(c, qr, _, _)| {
                            *qr == made_role
                                && gtin_of(c.as_str()) == Some(gtin)
                                && grammar_flags(c.as_str()) & flag::NO_LOT == 0
                        })
                        .map(|(c, ..)| c.as_str())
                        .collect();
                    same.dedup();
                    if same.len() == 1 { Some(self.id(same[0])?) } else { None }
                }
            } else {
                None
            };
            if let Some(lot) = lot {
                if self.flags[inst as usize] & flag::LOT_LINKED != 0 {
                    self.flags[inst as usize] |= flag::MULTI_LOT;
                }
                self.flags[inst as usize] |= flag::LOT_LINKED;
                self.flags[lot as usize] |= flag::CLASS;
                self.push_extra([extra::LOT, inst, lot, 0]);
                if !lots_added.contains(&lot) {
                    lots_added.push(lot);
                    self.push_obj(lot, role::LOT);
                }
            }
        }
        Ok(())
    }

    /// Gives back the spare capacity of the growing arrays (up to half of them after a build).
    fn shrink_to_fit(&mut self) {
        self.ids.shrink_to_fit();
        self.event_ids.shrink_to_fit();
        self.flags.shrink_to_fit();
        self.time.shrink_to_fit();
        self.meta.shrink_to_fit();
        self.obj_start.shrink_to_fit();
        self.obj.shrink_to_fit();
        self.obj_role.shrink_to_fit();
        self.extra_start.shrink_to_fit();
        self.extra.shrink_to_fit();
    }

    /// Rebuilds the identifier → occurrences CSR from all events (counting transposition, then
    /// each list ordered by event time).
    fn rebuild_inverse(&mut self) {
        self.inverse = Inverse::default(); // free the old lists before building the new ones
        let n_ids = self.ids.len();
        let mut start = vec![0u32; n_ids + 1];
        for &id in &self.obj {
            start[id as usize + 1] += 1;
        }
        for i in 0..n_ids {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut occ = vec![0u32; self.obj.len()];
        for e in 0..self.len() {
            for k in self.obj_start[e] as usize..self.obj_start[e + 1] as usize {
                let id = self.obj[k] as usize;
                occ[fill[id] as usize] = (e as u32) << 3 | u32::from(self.obj_role[k]);
                fill[id] += 1;
            }
        }
        let time = &self.time;
        for i in 0..n_ids {
            let seg = &mut occ[start[i] as usize..start[i + 1] as usize];
            if !seg.is_sorted_by_key(|&o| (time[(o >> 3) as usize], o >> 3)) {
                seg.sort_unstable_by_key(|&o| (time[(o >> 3) as usize], o >> 3));
            }
        }
        self.inverse = Inverse { start, occ, built_events: self.len() as u32, delta: HashMap::new(), delta_len: 0 };
    }

    /// The occurrences of an identifier, ordered by (event time, event index), into `out`.
    pub(crate) fn occurrences(&self, id: u32, out: &mut Vec<u32>) {
        out.clear();
        let inv = &self.inverse;
        if (id as usize) + 1 < inv.start.len() {
            out.extend_from_slice(&inv.occ[inv.start[id as usize] as usize..inv.start[id as usize + 1] as usize]);
        }
        if let Some(d) = inv.delta.get(&id) {
            let base = out.len();
            out.extend_from_slice(d);
            if base > 0 {
                out.sort_by_key(|&o| (self.time[(o >> 3) as usize], o >> 3));
            }
        }
    }

    pub(crate) fn objects(&self, e: u32) -> impl Iterator<Item = (u32, u8)> + '_ {
        let (s, t) = (self.obj_start[e as usize] as usize, self.obj_start[e as usize + 1] as usize);
        (s..t).map(|k| (self.obj[k], self.obj_role[k]))
    }

    pub(crate) fn extras(&self, e: u32) -> impl Iterator<Item = [u32; 4]> + '_ {
        let (s, t) = (self.extra_start[e as usize] as usize, self.extra_start[e as usize + 1] as usize);
        self.extra[s..t].chunks_exact(4).map(|c| [c[0], c[1], c[2], c[3]])
    }

    pub(crate) fn lookup(&self, canonical: &str) -> Option<u32> {
        self.ids.get(canonical).filter(|&id| (id as usize) < self.flags.len())
    }
}
