//! The native SQLite capture writer writes exactly what the generic `Any` path writes: the
//! same documents captured into two fresh SQLite stores, one through each path, leave equal
//! rows in every EPCIS table, capture job and audit record (captureIDs, record times and audit
//! timestamps / hashes aside: they are random or clock-dependent; captures are matched by
//! their order instead, and both audit chains must verify).

use qgov_store::epcis::{Capturer, ErrorBehaviour};
use qgov_store::{Actor, Engine, Store, StoreError, testing};
use sqlx::Row;
use std::path::PathBuf;

const DOC: &str = r#"{
  "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
               {"example": "https://ns.example.com/epcis/"}, {"ex2": "https://ns.example.org/two/"}],
  "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2024-05-06T00:00:00Z",
  "epcisBody": {"eventList": [
    {"type": "ObjectEvent", "action": "ADD",
     "eventTime": "2024-05-01T08:00:00+08:00", "eventTimeZoneOffset": "+08:00",
     "epcList": ["urn:epc:id:sgtin:0614141.107346.2017", "urn:epc:id:sgtin:0614141.107346.2018"],
     "bizStep": "commissioning", "disposition": "active",
     "readPoint": {"id": "urn:epc:id:sgln:0614141.07346.1234", "example:rp": "r"},
     "bizLocation": {"id": "urn:epc:id:sgln:0614141.07346.0"},
     "ilmd": {"example:lot": "L1", "example:grade": 3, "example:when": "2024-05-01T00:00:00Z"},
     "example:temp": 20.5, "ex2:flag": "yes",
     "example:nested": {"example:inner": "x", "example:deeper": {"example:leaf": "7"}},
     "certificationInfo": "https://cert.example.com/1"},
    {"type": "ObjectEvent", "action": "OBSERVE",
     "eventTime": "2024-05-02T08:00:00Z", "eventTimeZoneOffset": "+00:00",
     "epcList": ["urn:epc:id:sgtin:0614141.107346.2017"],
     "quantityList": [{"epcClass": "urn:epc:class:lgtin:4012345.012345.Lot987", "quantity": 200, "uom": "KGM"},
                      {"epcClass": "urn:epc:class:lgtin:4012345.012345.Lot988"}],
     "bizStep": "shipping", "disposition": "in_transit",
     "persistentDisposition": {"set": ["completeness_verified"], "unset": ["completeness_inferred"]},
     "bizTransactionList": [{"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:0614141073467:PO1"},
                            {"bizTransaction": "urn:epcglobal:cbv:bt:0614141073467:X"}],
     "sourceList": [{"type": "owning_party", "source": "urn:epc:id:pgln:0614141.00000"}],
     "destinationList": [{"type": "location", "destination": "urn:epc:id:sgln:4012345.00000.0"}],
     "sensorElementList": [{"sensorMetadata": {"time": "2024-05-02T08:00:00Z", "deviceID": "urn:epc:id:giai:4000001.111",
                                               "example:cal": "c1"},
                            "sensorReport": [{"type": "Temperature", "value": 4.5, "uom": "CEL"},
                                             {"type": "Temperature", "minValue": 12.1, "maxValue": 13.5, "uom": "A93",
                                              "booleanValue": true, "hexBinaryValue": "0a1b",
                                              "example:rep": "r1"}],
                            "example:el": "e1"}]},
    {"type": "AggregationEvent", "action": "ADD",
     "eventTime": "2024-05-03T08:00:00Z", "eventTimeZoneOffset": "+00:00",
     "parentID": "urn:epc:id:sscc:0614141.1234567890",
     "childEPCs": ["urn:epc:id:sgtin:0614141.107346.2017"],
     "childQuantityList": [{"epcClass": "urn:epc:idpat:sgtin:4012345.098765.*", "quantity": 10}],
     "bizStep": "packing",
     "bizLocation": {"id": "urn:epc:id:sgln:0614141.07346.99"}},
    {"type": "TransformationEvent",
     "eventTime": "2024-05-04T08:00:00Z", "eventTimeZoneOffset": "+00:00",
     "inputEPCList": ["urn:epc:id:sgtin:0614141.107346.2018"],
     "outputEPCList": ["urn:epc:id:sgtin:4012345.066666.1"],
     "inputQuantityList": [{"epcClass": "urn:epc:class:lgtin:4012345.012345.Lot987", "quantity": 50, "uom": "KGM"}],
     "outputQuantityList": [{"epcClass": "urn:epc:class:lgtin:4012345.012345.Lot990", "quantity": 40, "uom": "KGM"}],
     "transformationID": "urn:epc:id:gdti:0614141.12345.400",
     "bizStep": "commissioning"},
    {"type": "ObjectEvent", "action": "OBSERVE", "eventID": "urn:uuid:7f9a3c1e-0000-4000-8000-000000000005",
     "eventTime": "2024-05-05T08:00:00Z", "eventTimeZoneOffset": "+00:00",
     "epcList": ["urn:epc:id:sgtin:4012345.066666.1"],
     "bizStep": "receiving",
     "bizLocation": {"id": "urn:epc:id:sgln:4012345.00000.0", "example:bl": 1},
     "errorDeclaration": {"declarationTime": "2024-05-06T00:00:00Z", "reason": "incorrect_data",
                          "correctiveEventIDs": ["urn:uuid:7f9a3c1e-0000-4000-8000-000000000099"],
                          "example:why": "typo"}},
    {"type": "ObjectEvent", "action": "OBSERVE", "eventID": "urn:uuid:7f9a3c1e-0000-4000-8000-000000000005",
     "eventTime": "2024-05-05T08:00:00Z", "eventTimeZoneOffset": "+00:00",
     "epcList": ["urn:epc:id:sgtin:4012345.066666.1"]}
  ]}}"#;

/// A second document: one event already stored (a duplicate), one new, another prefix.
const DOC2: &str = r#"{
  "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
               {"example": "https://other.example.com/"}, {"ex3": "https://ns.example.org/three/"}],
  "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2024-05-07T00:00:00Z",
  "epcisBody": {"eventList": [
    {"type": "ObjectEvent", "action": "OBSERVE", "eventID": "urn:uuid:7f9a3c1e-0000-4000-8000-000000000005",
     "eventTime": "2024-05-05T08:00:00Z", "eventTimeZoneOffset": "+00:00",
     "epcList": ["urn:epc:id:sgtin:4012345.066666.1"]},
    {"type": "ObjectEvent", "action": "DELETE",
     "eventTime": "2024-05-07T08:00:00Z", "eventTimeZoneOffset": "+01:00",
     "epcList": ["urn:epc:id:sgtin:4012345.066666.2"], "ex3:x": "3"}
  ]}}"#;

fn parse(bytes: &[u8]) -> qgov_epcis::Document {
    qgov_epcis::json::parse_document(bytes).unwrap_or_else(|p| panic!("{p}"))
}

/// Every column as text (NULL as `∅`), rows in the order the query gives.
async fn dump(store: &Store, sql: &str) -> Vec<Vec<String>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).fetch_all(store.pool()).await.unwrap();
    rows.iter()
        .map(|r| {
            (0..r.len())
                .map(|i| {
                    if let Ok(v) = r.try_get::<Option<i64>, _>(i) {
                        v.map(|v| v.to_string()).unwrap_or_else(|| "∅".into())
                    } else if let Ok(v) = r.try_get::<Option<f64>, _>(i) {
                        v.map(|v| format!("{v:?}")).unwrap_or_else(|| "∅".into())
                    } else {
                        r.try_get::<Option<String>, _>(i)
                            .unwrap_or_else(|e| panic!("{sql}: column {i}: {e}"))
                            .unwrap_or_else(|| "∅".into())
                    }
                })
                .collect()
        })
        .collect()
}

/// The captureID of a row replaced by the capture's position (the job's rowid).
const JOB: &str = "(SELECT j.rowid FROM epcis_capture_jobs j WHERE j.capture_id = x.capture_id)";

fn queries() -> Vec<String> {
    let mut q = vec![
        format!(
            "SELECT id, event_id, event_type, event_time, event_time_zone_offset, action, biz_step, disposition, \
             read_point, read_point_gln, biz_location, biz_location_gln, transformation_id, error_declaration_time, \
             error_reason, {JOB}, captured_by_user, captured_by_entity, json_remove(body, '$.recordTime') \
             FROM epcis_events x ORDER BY id"
        ),
        "SELECT rowid, running, success, error_behaviour, errors, event_count, stored_count, captured_by_user, \
         captured_by_entity FROM epcis_capture_jobs ORDER BY rowid"
            .into(),
        "SELECT seq, actor, action, target_type, \
         (SELECT j.rowid FROM epcis_capture_jobs j WHERE j.capture_id = a.target_id), before_json, \
         json_remove(after_json, '$.captureID') FROM audit_log a WHERE action LIKE 'epcis.%' ORDER BY seq"
            .into(),
        "SELECT seq FROM audit_head".into(),
        "SELECT prefix, uri FROM epcis_prefixes ORDER BY prefix".into(),
    ];
    for table in [
        "epcis_epcs",
        "epcis_quantities",
        "epcis_biz_transactions",
        "epcis_source_dest",
        "epcis_persistent_dispositions",
        "epcis_corrective_ids",
        "epcis_certifications",
        "epcis_sensor_reports",
        "epcis_fields",
    ] {
        // rowid order is insertion order: the same rows must also come in the same order.
        q.push(format!("SELECT * FROM {table} ORDER BY rowid"));
    }
    q
}

async fn stores() -> (Store, Store) {
    let native = Store::connect(&testing::fresh_database(Engine::Sqlite).await).await.unwrap();
    let generic =
        Store::connect(&testing::fresh_database(Engine::Sqlite).await).await.unwrap().without_native_epcis_writer();
    (native, generic)
}

async fn assert_same(native: &Store, generic: &Store) {
    let mut total = 0;
    for q in queries() {
        let (a, b) = (dump(native, &q).await, dump(generic, &q).await);
        assert_eq!(a.len(), b.len(), "{q}");
        for (ra, rb) in a.iter().zip(&b) {
            assert_eq!(ra, rb, "{q}");
        }
        total += a.len();
    }
    assert!(total > 0);
    for s in [native, generic] {
        s.audit_verify().await.unwrap().expect("audit chain verifies");
    }
    // Record times grow with capture order on the native path too.
    let times = dump(native, "SELECT record_time FROM epcis_events ORDER BY id").await;
    let times: Vec<i64> = times.iter().map(|r| r[0].parse().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
}

#[tokio::test]
async fn native_writer_writes_what_the_generic_path_writes() {
    let (native, generic) = stores().await;
    let actor = Actor::user("alice");
    let by = Capturer { user_id: Some(7), entity_id: None };
    for s in [&native, &generic] {
        let mut doc = parse(DOC.as_bytes());
        qgov_epcis::assign_missing_event_ids(&mut doc);
        let refused = vec![serde_json::json!({"type": "x", "title": "bad event"})];
        // Through epcis_capture: the native writer on one store, the Any path on the other.
        let o = s.epcis_capture(&actor, &by, doc.clone(), ErrorBehaviour::Proceed, refused).await.unwrap();
        assert_eq!((o.stored.len(), o.duplicates.len(), o.job.success), (5, 1, false));
        let o = s.epcis_capture(&actor, &by, doc, ErrorBehaviour::Rollback, vec![]).await.unwrap();
        assert_eq!((o.stored.len(), o.duplicates.len()), (0, 6), "idempotent re-capture");
        let o = s
            .epcis_capture(
                &Actor::system(),
                &Capturer::default(),
                parse(DOC2.as_bytes()),
                ErrorBehaviour::Rollback,
                vec![],
            )
            .await
            .unwrap();
        assert_eq!((o.stored.len(), o.duplicates.len()), (1, 1));
        // A single event whose eventID exists: refused with a conflict, nothing written.
        let one = r#"{"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
          "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2024-05-07T00:00:00Z",
          "epcisBody": {"eventList": [{"type": "ObjectEvent", "action": "OBSERVE",
            "eventID": "urn:uuid:7f9a3c1e-0000-4000-8000-000000000005",
            "eventTime": "2024-05-05T08:00:00Z", "eventTimeZoneOffset": "+00:00", "epcList": []}]}}"#;
        let e = s.epcis_capture_event(&actor, &by, parse(one.as_bytes())).await.unwrap_err();
        assert!(matches!(e, StoreError::Conflict { .. }), "{e}");
        s.epcis_record_refused_capture(&actor, &by, ErrorBehaviour::Rollback, vec![serde_json::json!({"a": 1})])
            .await
            .unwrap();
    }
    assert_same(&native, &generic).await;
    // The pool sees what the writer's own connection committed.
    let native_rows = dump(&native, "SELECT COUNT(*) FROM epcis_events").await;
    assert_eq!(native_rows[0][0], "6");
}

/// `QGOV_CONFORMANCE_DIR`, else `../shared/conformance` beside the workspace.
fn conformance_dir() -> PathBuf {
    let dir = std::env::var_os("QGOV_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance"));
    let json = dir.join("epcis/examples/json");
    assert!(json.is_dir(), "official EPCIS examples not found at {}", json.display());
    json
}

/// Every official JSON example, through both paths: equal tables.
#[tokio::test]
async fn conformance_native_writer_equals_generic_path_on_official_examples() {
    let mut files = Vec::new();
    let mut stack = vec![conformance_dir()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "jsonld" || x == "json") {
                files.push(p);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 14);
    let (native, generic) = stores().await;
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let Ok(mut doc) = qgov_epcis::json::parse_document(&bytes) else { continue };
        qgov_epcis::assign_missing_event_ids(&mut doc);
        for s in [&native, &generic] {
            s.epcis_capture(&Actor::system(), &Capturer::default(), doc.clone(), ErrorBehaviour::Rollback, vec![])
                .await
                .unwrap();
        }
    }
    assert_same(&native, &generic).await;
}

/// Many captures at once through the store (the writer commits the ones that queue as
/// groups): each document is stored once, with its own job and audit record, keys in capture
/// order, and the rows equal those of the same documents captured one by one on the generic
/// path; documents sharing events store each event once.
#[tokio::test]
async fn concurrent_captures_store_every_document_once() {
    let (native, generic) = stores().await;
    // 24 documents of 50 events; document k repeats the last 10 events of document k - 1.
    let doc = |k: usize| {
        let first = k * 40;
        let events: Vec<String> = (first..first + 50)
            .map(|i| {
                format!(
                    r#"{{"type": "ObjectEvent", "action": "OBSERVE", "eventTime": "2024-05-01T08:00:00Z",
                      "eventTimeZoneOffset": "+00:00", "epcList": ["urn:epc:id:sgtin:0614141.107346.{i}"],
                      "bizStep": "receiving", "readPoint": {{"id": "urn:epc:id:sgln:0614141.07346.{}"}}}}"#,
                    i % 7
                )
            })
            .collect();
        let text = format!(
            r#"{{"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
              "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2024-05-07T00:00:00Z",
              "epcisBody": {{"eventList": [{}]}}}}"#,
            events.join(",")
        );
        parse(text.as_bytes())
    };
    let mut tasks = tokio::task::JoinSet::new();
    for k in 0..24 {
        let s = native.clone();
        let d = doc(k);
        tasks.spawn(async move {
            s.epcis_capture(&Actor::system(), &Capturer::default(), d, ErrorBehaviour::Rollback, vec![]).await
        });
    }
    let mut stored = 0;
    let mut ids = std::collections::HashSet::new();
    while let Some(o) = tasks.join_next().await {
        let o = o.unwrap().unwrap();
        assert_eq!(o.stored.len() + o.duplicates.len(), 50);
        stored += o.stored.len();
        for id in o.stored {
            assert!(ids.insert(id), "an event stored twice");
        }
    }
    assert_eq!(stored, 24 * 40 + 10);
    for k in 0..24 {
        generic
            .epcis_capture(&Actor::system(), &Capturer::default(), doc(k), ErrorBehaviour::Rollback, vec![])
            .await
            .unwrap();
    }
    let events = "SELECT event_id, event_type, event_time, biz_step, read_point, read_point_gln, \
                  json_remove(body, '$.recordTime') FROM epcis_events ORDER BY event_id";
    assert_eq!(dump(&native, events).await, dump(&generic, events).await);
    let epcs = "SELECT e.event_id, x.role, x.epc FROM epcis_epcs x JOIN epcis_events e ON e.id = x.event_pk \
                ORDER BY e.event_id, x.epc";
    assert_eq!(dump(&native, epcs).await, dump(&generic, epcs).await);
    let jobs = dump(&native, "SELECT COUNT(*), SUM(stored_count) FROM epcis_capture_jobs").await;
    assert_eq!(jobs[0], ["24", "970"]);
    let audited = dump(&native, "SELECT COUNT(*) FROM audit_log WHERE action = 'epcis.capture'").await;
    assert_eq!(audited[0][0], "24");
    native.audit_verify().await.unwrap().expect("audit chain verifies");
    // Keys follow capture order: record times never fall as keys rise, and every capture's
    // events have consecutive keys.
    let rows = dump(&native, "SELECT record_time, capture_id FROM epcis_events ORDER BY id").await;
    assert!(rows.windows(2).all(|w| w[0][0].parse::<i64>().unwrap() <= w[1][0].parse::<i64>().unwrap()));
    let mut runs = 0;
    for (i, r) in rows.iter().enumerate() {
        if i == 0 || rows[i - 1][1] != r[1] {
            runs += 1;
        }
    }
    assert_eq!(runs, 24, "each capture's events are contiguous");
}
