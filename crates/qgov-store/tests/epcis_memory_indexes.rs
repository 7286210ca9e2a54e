//! On SQLite the places events name (read point, business location, their GLNs, sources and
//! destinations) and the eventIDs are indexed in memory, not in B-trees (src/epcis/places.rs,
//! src/epcis/ids.rs). These tests hold those indexes to the rows: every place filter, the
//! enterprise visibility rule, the browse resources and eventID lookups answer from memory
//! exactly what the same queries answer from the rows; a store handle sees events that
//! another handle on the same file committed after it last looked; and an event is stored
//! once whichever handle captures it.

use qgov_domain::UnifiedCreditCode;
use qgov_domain::registers::{LocationDraft, MarketEntityDraft};
use qgov_store::epcis::query::EventQuery;
use qgov_store::epcis::{Browse, Capturer, ErrorBehaviour, EventScope};
use qgov_store::{Actor, Engine, Store, testing};

/// 120 events over 12 sites: read points at the sites and at their extensions (`.1`, `.2`),
/// business locations at the sites, owning parties as sources and destinations, locations as
/// destinations; every fifth event names no read point.
fn doc(first: usize, n: usize) -> qgov_epcis::Document {
    let events: Vec<String> = (first..first + n)
        .map(|i| {
            let site = i % 12;
            let rp = if i % 5 == 0 {
                String::new()
            } else {
                format!(r#""readPoint": {{"id": "urn:epc:id:sgln:0614141.{site:05}.{}"}},"#, (i / 12) % 3)
            };
            let parties = if i % 4 == 0 {
                format!(
                    r#""sourceList": [{{"type": "owning_party", "source": "urn:epc:id:pgln:0614141.{site:05}"}}],
                       "destinationList": [{{"type": "owning_party", "destination": "urn:epc:id:pgln:0614141.{:05}"}},
                                           {{"type": "location", "destination": "urn:epc:id:sgln:0614141.{:05}.0"}}],"#,
                    (site + 1) % 12,
                    (site + 1) % 12
                )
            } else {
                String::new()
            };
            format!(
                r#"{{"type": "ObjectEvent", "action": "OBSERVE", "eventTime": "2024-05-01T08:{:02}:{:02}Z",
                   "eventTimeZoneOffset": "+00:00", "epcList": ["urn:epc:id:sgtin:0614141.107346.{i}"],
                   "bizStep": "{}", {rp} {parties}
                   "bizLocation": {{"id": "urn:epc:id:sgln:0614141.{site:05}.0"}}}}"#,
                (i / 60) % 60,
                i % 60,
                if i % 2 == 0 { "shipping" } else { "receiving" }
            )
        })
        .collect();
    let text = format!(
        r#"{{"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
          "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2024-05-07T00:00:00Z",
          "epcisBody": {{"eventList": [{}]}}}}"#,
        events.join(",")
    );
    qgov_epcis::json::parse_document(text.as_bytes()).unwrap_or_else(|p| panic!("{p}"))
}

fn entity(body: &str) -> MarketEntityDraft {
    let uscc = UnifiedCreditCode::compose("91120116", body).unwrap();
    let f = move |k: &str| match k {
        "uscc" => Some(uscc.to_string()),
        "name" => Some("企业".to_owned()),
        "industry" => Some("food_production".to_owned()),
        _ => None,
    };
    MarketEntityDraft::parse(&f).unwrap()
}

fn location(gln: &str, owner: &str) -> LocationDraft {
    let (gln, owner) = (gln.to_owned(), owner.to_owned());
    let f = move |k: &str| match k {
        "gln" => Some(gln.clone()),
        "name" => Some("仓库".to_owned()),
        "kind" => Some("warehouse".to_owned()),
        "owner_uscc" => Some(owner.clone()),
        _ => None,
    };
    LocationDraft::parse(&f).unwrap()
}

async fn capture(store: &Store, doc: qgov_epcis::Document, entity_id: Option<i64>) -> (usize, usize) {
    let by = Capturer { user_id: Some(1), entity_id };
    let out = store.epcis_capture(&Actor::system(), &by, doc, ErrorBehaviour::Rollback, vec![]).await.unwrap();
    (out.stored.len(), out.duplicates.len())
}

/// Every event the query returns, following page tokens (pages of 7, to cross keyset bounds).
async fn ids(store: &Store, pairs: &[(&str, &str)], scope: EventScope) -> Vec<String> {
    let params: Vec<(String, Vec<String>)> =
        pairs.iter().map(|(k, v)| (k.to_string(), v.split('|').map(str::to_owned).collect())).collect();
    let q = EventQuery::parse(&params, &|_| None).unwrap_or_else(|e| panic!("{pairs:?}: {e}"));
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = store.epcis_query(&q, scope, 7, token.as_deref()).await.unwrap_or_else(|e| panic!("{pairs:?}: {e}"));
        out.extend(page.events.into_iter().map(|e| e.event_id));
        match page.next_page_token {
            Some(t) => token = Some(t),
            None => return out,
        }
    }
}

#[tokio::test]
async fn place_filters_from_memory_equal_the_rows() {
    let url = testing::fresh_database(Engine::Sqlite).await;
    let memory = Store::connect(&url).await.unwrap();
    let rows = Store::connect(&url).await.unwrap().without_place_index();
    let actor = Actor::system();
    let a = memory.create_entity(&actor, &entity("MA05K1TQ")).await.unwrap();
    let b = memory.create_entity(&actor, &entity("MA05K1TR")).await.unwrap();
    capture(&memory, doc(0, 60), None).await;
    capture(&memory, doc(60, 60), Some(b.id)).await;
    // A owns the GLNs of sites 3 and 5: business locations, read points (extensions of the
    // same GLN), and destinations (site 5 as owning party and location of site 4's events).
    let glns: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT biz_location_gln FROM epcis_events \
         WHERE biz_location_gln LIKE '061414100003_' OR biz_location_gln LIKE '061414100005_' ORDER BY 1",
    )
    .fetch_all(memory.pool())
    .await
    .unwrap();
    assert_eq!(glns.len(), 2, "{glns:?}");
    for g in &glns {
        memory.create_location(&actor, &location(g, &a.uscc)).await.unwrap();
    }
    let site = |k: u32, ext: &str| format!("urn:epc:id:sgln:0614141.{k:05}.{ext}");
    // `….0` is the site itself; `….1`, `….2` lie beneath it (WD_).
    let (s3, s3_1, s5) = (site(3, "0"), site(3, "1"), site(5, "0"));
    let s5_0 = s5.clone();
    let two = format!("{s5_0}|{}", site(8, "0"));
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![("EQ_bizLocation", &s5_0)],
        vec![("EQ_bizLocation", &two)],
        vec![("EQ_bizLocation", &two), ("EQ_bizStep", "shipping")],
        vec![("EQ_bizLocation", &two), ("orderBy", "eventTime"), ("orderDirection", "ASC")],
        vec![("WD_bizLocation", &s5)],
        vec![("EQ_readPoint", &s3_1)],
        vec![("WD_readPoint", &s3)],
        vec![("WD_readPoint", &s3), ("WD_bizLocation", &s3)],
        vec![("EQ_source_owning_party", "urn:epc:id:pgln:0614141.00004|urn:epc:id:pgln:0614141.00008")],
        vec![("EQ_destination_owning_party", "urn:epc:id:pgln:0614141.00005")],
        vec![("EQ_destination_location", &s5_0)],
        vec![("EQ_bizStep", "receiving")],
    ];
    // A handle that reads its indexes whole on native connections, as a large store at start.
    let native = Store::connect(&url).await.unwrap();
    native.epcis_warm_natively().await.unwrap();
    let mut sizes = Vec::new();
    for case in &cases {
        for scope in [EventScope::All, EventScope::Entity(a.id), EventScope::Entity(b.id)] {
            let (m, r) = (ids(&memory, case, scope).await, ids(&rows, case, scope).await);
            assert_eq!(m, r, "{case:?} {scope:?}");
            assert_eq!(ids(&native, case, scope).await, r, "natively read: {case:?} {scope:?}");
            sizes.push(m.len());
        }
    }
    // The cases select something, and not everything.
    assert!(sizes.iter().all(|&n| n < 120), "{sizes:?}");
    assert!(sizes.chunks(3).all(|c| c[0] > 0), "{sizes:?}");
    // WD_ reaches the extensions of a site: more than the site's own read point.
    assert!(
        ids(&memory, &[("WD_readPoint", &s3)], EventScope::All).await.len()
            > ids(&memory, &[("EQ_readPoint", &s3_1)], EventScope::All).await.len()
    );
    // A sees the events naming its GLNs, B its own capture and those naming nothing of A's.
    let (seen_a, seen_b) =
        (ids(&memory, &[], EventScope::Entity(a.id)).await, ids(&memory, &[], EventScope::Entity(b.id)).await);
    assert!(!seen_a.is_empty() && seen_a.len() < 120, "{}", seen_a.len());
    assert_eq!(seen_b.len(), 60);
    assert_eq!(seen_a, ids(&rows, &[], EventScope::Entity(a.id)).await);
    for what in [Browse::BizLocations, Browse::ReadPoints] {
        for scope in [EventScope::All, EventScope::Entity(a.id)] {
            let m = memory.epcis_browse(what, scope, None, 1000).await.unwrap();
            assert_eq!(m, rows.epcis_browse(what, scope, None, 1000).await.unwrap());
            assert!(!m.is_empty());
            let after = memory.epcis_browse(what, scope, Some(&m[0]), 2).await.unwrap();
            assert_eq!(after, rows.epcis_browse(what, scope, Some(&m[0]), 2).await.unwrap());
            assert_eq!(after.as_slice(), &m[1..3.min(m.len())]);
        }
    }
    assert_eq!(memory.epcis_browse(Browse::BizLocations, EventScope::All, None, 1000).await.unwrap().len(), 12);
}

#[tokio::test]
async fn a_handle_sees_what_another_handle_on_the_file_committed() {
    let url = testing::fresh_database(Engine::Sqlite).await;
    let writer = Store::connect(&url).await.unwrap();
    let reader = Store::connect(&url).await.unwrap();
    let here = [("EQ_bizLocation", "urn:epc:id:sgln:0614141.00002.0")];
    capture(&writer, doc(0, 24), None).await;
    assert_eq!(ids(&reader, &here, EventScope::All).await.len(), 2);
    // Captured after the reader's index last caught up: seen on its next query.
    capture(&writer, doc(24, 36), None).await;
    assert_eq!(ids(&reader, &here, EventScope::All).await.len(), 5);
    let to = [("EQ_destination_owning_party", "urn:epc:id:pgln:0614141.00005")];
    assert_eq!(ids(&reader, &to, EventScope::All).await.len(), 5);
    capture(&writer, doc(60, 12), None).await;
    assert_eq!(ids(&reader, &to, EventScope::All).await, ids(&writer, &to, EventScope::All).await);
}

#[tokio::test]
async fn an_event_is_stored_once_whichever_handle_captures_it() {
    let url = testing::fresh_database(Engine::Sqlite).await;
    let (a, b) = (Store::connect(&url).await.unwrap(), Store::connect(&url).await.unwrap());
    let rows = Store::connect(&url).await.unwrap().without_place_index();
    assert_eq!(capture(&a, doc(0, 30), None).await, (30, 0));
    // B's writer has not seen A's events: it catches up before it looks.
    assert_eq!(capture(&b, doc(20, 20), None).await, (10, 10));
    assert_eq!(capture(&a, doc(35, 10), None).await, (5, 5));
    assert_eq!(capture(&a, doc(0, 45), None).await, (0, 45));
    let counts: (i64, i64) = sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT event_id) FROM epcis_events")
        .fetch_one(a.pool())
        .await
        .unwrap();
    assert_eq!(counts, (45, 45));
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT event_id FROM epcis_events ORDER BY id").fetch_all(a.pool()).await.unwrap();
    let native = Store::connect(&url).await.unwrap();
    native.epcis_warm_natively().await.unwrap();
    for store in [&a, &b, &rows, &native] {
        for id in [&stored[0], &stored[33], &stored[44]] {
            let found = store.epcis_event(id, EventScope::All).await.unwrap().expect("found by its eventID");
            assert_eq!(&found.event_id, id);
        }
        assert!(
            store
                .epcis_event("urn:uuid:00000000-0000-4000-8000-000000000000", EventScope::All)
                .await
                .unwrap()
                .is_none()
        );
        let two = format!("{}|{}|urn:uuid:00000000-0000-4000-8000-000000000000", stored[3], stored[40]);
        let mut found = ids(store, &[("EQ_eventID", &two)], EventScope::All).await;
        found.sort();
        let mut want = vec![stored[3].clone(), stored[40].clone()];
        want.sort();
        assert_eq!(found, want);
    }
    // A single event (`POST /events`) already stored through the other handle: a conflict.
    const SINGLE: &str = r#"{"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
      "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2024-05-07T00:00:00Z",
      "epcisBody": {"eventList": [{"type": "ObjectEvent", "action": "OBSERVE",
        "eventID": "urn:uuid:7f9a3c1e-0000-4000-8000-000000000001",
        "eventTime": "2024-05-01T08:00:00Z", "eventTimeZoneOffset": "+00:00",
        "epcList": ["urn:epc:id:sgtin:0614141.107346.999999"]}]}}"#;
    let single = qgov_epcis::json::parse_document(SINGLE.as_bytes()).unwrap();
    a.epcis_capture_event(&Actor::system(), &Capturer::default(), single.clone()).await.unwrap();
    let again = b.epcis_capture_event(&Actor::system(), &Capturer::default(), single.clone()).await;
    assert!(matches!(again, Err(qgov_store::StoreError::Conflict { .. })), "{:?}", again.map(|o| o.stored));
    // The natively read handle's writer knows every stored event too.
    let again = native.epcis_capture_event(&Actor::system(), &Capturer::default(), single).await;
    assert!(matches!(again, Err(qgov_store::StoreError::Conflict { .. })), "{:?}", again.map(|o| o.stored));
    assert_eq!(capture(&native, doc(0, 45), None).await, (0, 45));
}
