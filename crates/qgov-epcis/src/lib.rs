//! qgov's pure GS1 EPCIS 2.0 core.
//!
//! The event model for all five event types ([`model`]), the JSON / JSON-LD binding
//! ([`json`]) and the XML binding ([`xml`], EPCIS 1.2 XML accepted on input), identifiers as
//! EPC URNs and GS1 Digital Links in one canonical form ([`ident`]), the CBV vocabularies
//! ([`vocab`]) and the CBV 2.0 event hash ID ([`hash`]).
//!
//! Parsing is the validation: a document either becomes a [`Document`] whose every value is
//! well-formed (times with offsets, standard CBV bare words or custom URIs, declared extension
//! namespaces, EPC URN / Digital Link grammar with check digits) or is refused with
//! [`Problems`] naming every event index and field that is wrong. Nothing here does I/O,
//! spawns, or touches a database; the repository and HTTP layers are shells around it.
//!
//! ```
//! let doc = qgov_epcis::json::parse_document(br#"{
//!   "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
//!   "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2024-05-01T08:00:00Z",
//!   "epcisBody": {"eventList": [{"type": "ObjectEvent", "action": "OBSERVE",
//!     "eventTime": "2024-05-01T08:00:00+08:00", "eventTimeZoneOffset": "+08:00",
//!     "epcList": ["urn:epc:id:sgtin:0614141.107346.2017"], "bizStep": "shipping"}]}}"#).unwrap();
//! let ev = &doc.events[0];
//! assert_eq!(ev.epc_list[0].as_str(), "https://id.gs1.org/01/10614141073464/21/2017");
//! assert!(qgov_epcis::event_hash_id(ev).starts_with("ni:///sha-256;"));
//! ```

pub mod error;
pub mod hash;
pub mod ident;
pub mod json;
pub mod model;
pub mod vocab;
pub mod xml;

pub use error::{Problem, Problems};
pub use hash::{event_hash_id, event_hash_id_ignoring};
pub use ident::{Epc, EpcFormat};
pub use model::{Document, DocumentKind, Event, EventType};

/// Reads a document in either binding, chosen by its first non-blank byte (`<` is XML).
pub fn parse_any(bytes: &[u8]) -> Result<Document, Problems> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'<') => xml::parse_document(bytes),
        _ => json::parse_document(bytes),
    }
}

/// Gives every event without an `eventID` its CBV 2.0 event hash ID (EPCIS 2.0 §7.4.1:
/// the repository may assign one; the hash makes a repeated capture recognisable).
pub fn assign_missing_event_ids(doc: &mut Document) {
    let ignore = hash::ignore_fields_of(doc);
    for ev in &mut doc.events {
        if ev.event_id.is_none() {
            ev.event_id = Some(hash::event_hash_id_ignoring(ev, &ignore));
        }
    }
}
