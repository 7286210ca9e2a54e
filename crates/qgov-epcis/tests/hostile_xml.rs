//! Hostile XML is refused quickly and without harm (no entity expansion, no external fetch,
//! bounded nesting).

use std::time::{Duration, Instant};

use qgov_epcis::xml;

fn refused_fast(doc: &str) -> String {
    let t = Instant::now();
    let err = xml::parse_document(doc.as_bytes()).expect_err("hostile document must be refused");
    assert!(t.elapsed() < Duration::from_millis(500), "took {:?}", t.elapsed());
    err.to_string()
}

#[test]
fn billion_laughs_is_refused() {
    let doc = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0" creationDate="2024-01-01T00:00:00Z"><EPCISBody><EventList/></EPCISBody><x>&lol2;</x></epcis:EPCISDocument>"#;
    assert!(refused_fast(doc).contains("DTD"));
}

#[test]
fn external_entity_is_refused() {
    let doc = r#"<?xml version="1.0"?><!DOCTYPE d SYSTEM "file:///etc/passwd"><epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2"/>"#;
    assert!(refused_fast(doc).contains("DTD"));
}

#[test]
fn undeclared_entity_reference_is_refused() {
    let doc = r#"<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0" creationDate="2024-01-01T00:00:00Z"><EPCISBody><EventList><ObjectEvent><eventTime>&xxe;</eventTime></ObjectEvent></EventList></EPCISBody></epcis:EPCISDocument>"#;
    assert!(refused_fast(doc).contains("entity"));
}

#[test]
fn deep_nesting_is_refused_without_recursion() {
    let depth = 100_000;
    let mut doc = String::from(r#"<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2">"#);
    doc.push_str(&"<a>".repeat(depth));
    doc.push_str(&"</a>".repeat(depth));
    doc.push_str("</epcis:EPCISDocument>");
    assert!(refused_fast(&doc).contains("deeper"));
}

#[test]
fn truncated_and_binary_input_is_refused() {
    let _ = refused_fast(r#"<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2"><EPCISBody>"#);
    assert!(xml::parse_document(&[0xff, 0xfe, 0x00, 0x3c]).is_err());
    assert!(qgov_epcis::json::parse_document(b"{\"type\": \"EPCISDocument\"").is_err());
}

#[test]
fn all_errors_of_a_document_are_reported_with_event_and_field() {
    let doc = br#"{"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
      "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2024-05-01T08:00:00Z",
      "epcisBody": {"eventList": [
        {"type": "ObjectEvent", "action": "OBSERVE", "eventTime": "2024-05-01T08:00:00+08:00",
         "eventTimeZoneOffset": "+08:00", "epcList": ["urn:epc:id:sgtin:0614141.107346.2017"], "bizStep": "shipping"},
        {"type": "ObjectEvent", "action": "OBSERVE", "eventTime": "2024-05-01 08:00", "eventTimeZoneOffset": "+15:00",
         "epcList": ["https://id.gs1.org/01/10614141073465/21/1"], "bizStep": "teleporting", "disposition": "urn:epcglobal:cbv:disp:lost",
         "foo:bar": 1, "ilmd": {"lotNumber": "x"}}]}}"#;
    let problems = qgov_epcis::json::parse_document(doc).unwrap_err().0;
    let fields: Vec<&str> = problems.iter().map(|p| p.pointer.as_str()).collect();
    for f in ["eventTime", "eventTimeZoneOffset", "epcList/0", "bizStep", "disposition", "foo:bar", "ilmd/lotNumber"] {
        let want = format!("/epcisBody/eventList/1/{f}");
        assert!(fields.contains(&want.as_str()), "missing {want} in {fields:?}");
    }
    assert!(problems.iter().all(|p| p.event_index == Some(1)));
}
