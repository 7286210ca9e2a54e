//! Parse + validate + hash a 1,000-event JSON-LD capture document (the pure part of the
//! capture path). Run: `cargo bench -p qgov-epcis --bench parse`.

use divan::Bencher;

fn main() {
    divan::main();
}

/// A realistic mix: serialised objects, lot quantities, a transaction reference, an extension.
fn document(events: usize) -> Vec<u8> {
    let mut list = Vec::with_capacity(events);
    for i in 0..events {
        list.push(format!(
            r#"{{"type":"ObjectEvent","action":"OBSERVE","bizStep":"shipping","disposition":"in_transit",
 "eventTime":"2024-05-01T08:{:02}:{:02}.123+08:00","eventTimeZoneOffset":"+08:00",
 "epcList":["urn:epc:id:sgtin:0614141.107346.{i}","https://id.gs1.org/01/10614141073464/21/b{i}"],
 "quantityList":[{{"epcClass":"urn:epc:class:lgtin:4012345.012345.L{i}","quantity":12.5,"uom":"KGM"}}],
 "readPoint":{{"id":"urn:epc:id:sgln:0614141.07346.1234"}},"bizLocation":{{"id":"urn:epc:id:sgln:0614141.07346.0"}},
 "bizTransactionList":[{{"type":"po","bizTransaction":"http://transaction.acme.com/po/{i}"}}],
 "example:batch":{{"example:line":"{}","example:shift":2}}}}"#,
            (i / 60) % 60,
            i % 60,
            i % 7
        ));
    }
    format!(
        r#"{{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",{{"example":"https://ns.example.com/epcis/"}}],
"type":"EPCISDocument","schemaVersion":"2.0","creationDate":"2024-05-01T09:00:00Z","epcisBody":{{"eventList":[{}]}}}}"#,
        list.join(",")
    )
    .into_bytes()
}

#[divan::bench]
fn parse_validate_hash_1000_events(bencher: Bencher) {
    let doc = document(1000);
    bencher.counter(divan::counter::ItemsCount::new(1000usize)).bench(|| {
        let mut d = qgov_epcis::json::parse_document(divan::black_box(&doc)).expect("valid");
        qgov_epcis::assign_missing_event_ids(&mut d);
        d
    });
}

#[divan::bench]
fn parse_validate_only_1000_events(bencher: Bencher) {
    let doc = document(1000);
    bencher
        .counter(divan::counter::ItemsCount::new(1000usize))
        .bench(|| qgov_epcis::json::parse_document(divan::black_box(&doc)).expect("valid"));
}
