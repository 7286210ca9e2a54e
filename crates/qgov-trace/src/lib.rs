//! qgov's trace index: backward and forward traces and recall scopes over EPCIS 2.0 events,
//! in memory, in milliseconds at ten million events. No I/O, no async, no database.
//!
//! The database stays the source of truth: storage rebuilds a [`TraceIndex`] from the stored
//! [`qgov_epcis::Event`]s ([`TraceIndex::from_events`]) and appends each captured event
//! ([`TraceIndex::append`]). [`generator`] makes realistic chains for tests and benchmarks.
//!
//! # What links what
//!
//! - **The same object** (EPCIS 2.0 §7.3.3): an identifier in canonical form (GS1 keys as
//!   Digital Links, see [`qgov_epcis::ident`]) is one node whatever the event type or bizStep.
//!   Its events give the trace its places and parties: `readPoint`, `bizLocation` (§7.3.4),
//!   `sourceList` / `destinationList` with their CBV 2.0 §7.4 types (§7.3.5.4).
//! - **Aggregation** (§7.4.3): a child travels with its parent from the AggregationEvent ADD
//!   (or OBSERVE) until the first later DELETE by that parent that names the child or names no
//!   children (CBV 2.0 `unpacking`). While inside, the container's events count for the child:
//!   its places, the containers it was packed into in turn, a transformation that consumed it.
//!   Forward from an item reaches the container only for that window (an item packed after the
//!   pallet shipped did not travel with it); it does not reach the container's other contents.
//!   A container asked about directly stands for its contents: forward reaches every child
//!   packed into it, backward reaches their origins.
//! - **Transformation** (§7.4.6): every input (instance or class/lot quantity) feeds every
//!   output of the same event. Events sharing a `transformationID` are one transformation: an
//!   input feeds the outputs of that ID recorded at or after its own event time, never earlier
//!   ones (the `transformationID` appears as a node of kind `transformation`).
//! - **Transactions** (§7.4.5): a TransactionEvent with a `parentID` links its `epcList` /
//!   `quantityList` to the parent exactly as an aggregation does (ADD … DELETE). Business
//!   transaction ids shared across events (`bizTransactionList`, §7.3.5.2) do **not** link
//!   objects: a purchase order groups goods that never touched, and following it would pull
//!   unrelated lots into a recall. They remain available on the events for export.
//! - **Association** events (§7.4.4) attach sensors or assets; their objects count as observed
//!   at that place, nothing more.
//! - **Classes and lots** (§7.3.3.3): `…/01/<GTIN>/10/<lot>` (`urn:epc:class:lgtin:…`) is a
//!   node of kind `class`. An SGTIN instance belongs to a lot only when that is known: the lot
//!   inside its own identifier (`…/10/<lot>/21/<serial>`), the ILMD `cbvmda:lotNumber` of the
//!   event that commissions it (ObjectEvent ADD, or as a TransformationEvent output; CBV 2.0
//!   §10), or else the single lot of the same GTIN in the quantity list of that same event.
//!   A lot is one unit of risk: forward from a lot reaches all its instances, backward from an
//!   instance reaches its lot. A class without a lot (a bare GTIN) is shown but not followed.
//! - **Time order**: forward from an object affected at time *t* uses only its events at or
//!   after *t*; backward from a link made at time *t* uses only events up to *t*.
//!
//! Edges point the way material flows in both directions (ingredient → product, item →
//! pallet, pallet → item, lot → unit). Results are sorted, so equal inputs give equal output.
//!
//! An [`EventFilter`] restricts a query to the events a caller may see. The end of an
//! aggregation is taken from all events, so a hidden unpacking still closes the window.

pub mod generator;
mod index;
mod intern;
mod query;

pub use index::{EventRef, TraceIndex};
pub use query::{
    AllEvents, Direction, EventFilter, EventView, LocationRole, NodeKind, RecallScope, Relation, ScopeItem, ScopeParty,
    SharedStr, Trace, TraceEdge, TraceEvent, TraceLocation, TraceNode,
};

/// Why an event could not be indexed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    /// A `u32` space of the index is full.
    #[error("trace index full: too many {0}")]
    Capacity(&'static str),
    /// An event time outside ±292 years of 1970.
    #[error("event time out of range")]
    TimeOutOfRange,
}

/// Why a query could not be answered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// The identifier is not an EPC URN, class URN, Digital Link or URI.
    #[error("not an identifier: {0}")]
    BadId(String),
    /// No indexed event names it.
    #[error("no event names {0}")]
    NotFound(String),
}
