//! `orderBy` on an extension field (EPCIS 2.0 §8.2.7.1), run against SQLite and PostgreSQL:
//! integer, float, date-time and string fields in both directions, ties broken the same way
//! on every page, events lacking the field after the others, keyset paging that neither skips
//! nor repeats, `eventCountLimit`, and bad field names refused naming the parameter.

use qgov_store::epcis::query::EventQuery;
use qgov_store::epcis::{Capturer, ErrorBehaviour, EventScope, QueryError};
use qgov_store::{Actor, Engine, Store, testing};

/// Eight events whose extension values order differently from their event times and from
/// their text: `weight` (integers, a tie at 5, 10 after 5), `temp` (floats, a tie at 2.5),
/// `packed` (date-times in several offsets: E3's is the latest instant but the smallest text,
/// E1 and E4 are the same instant), `lot` (text: code-point order puts `B` before `a`). E6
/// lacks them all; E8 has a `weight` only nested inside another field, which does not count.
const DOC: &str = r#"{
  "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
               {"ex": "https://ns.example.com/o/"}],
  "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2024-05-06T00:00:00Z",
  "epcisBody": {"eventList": [
    {"type": "ObjectEvent", "action": "OBSERVE", "eventID": "urn:uuid:0e000000-0000-4000-8000-000000000001",
     "eventTime": "2024-05-01T08:00:00Z", "eventTimeZoneOffset": "+00:00",
     "epcList": ["urn:epc:id:sgtin:0614141.107346.1"],
     "ex:weight": 5, "ex:temp": 2.5, "ex:packed": "2024-05-01T08:00:00+08:00", "ex:lot": "b"},
    {"type": "ObjectEvent", "action": "OBSERVE", "eventID": "urn:uuid:0e000000-0000-4000-8000-000000000002",
     "eventTime": "2024-05-08T08:00:00Z", "eventTimeZoneOffset": "+00:00",
     "epcList": ["urn:epc:id:sgtin:0614141.107346.2"],
     "ex:weight": 3, "ex:temp": -0.5, "ex:packed": "2024-05-01T01:00:00Z", "ex:lot": "B"},
    {"type": "ObjectEvent", "action": "OBSERVE", "eventID": "urn:uuid:0e000000-0000-4000-8000-000000000003",
     "eventTime": "2024-05-03T08:00:00Z", "eventTimeZoneOffset": "+00:00",
     "epcList": ["urn:epc:id:sgtin:0614141.107346.3"],
     "ex:weight": 5, "ex:temp": 10.25, "ex:packed": "2024-04-30T23:30:00-02:00", "ex:lot": "a"},
    {"type": "ObjectEvent", "action": "OBSERVE", "eventID": "urn:uuid:0e000000-0000-4000-8000-000000000004",
     "eventTime": "2024-05-07T08:00:00Z", "eventTimeZoneOffset": "+00:00",
     "epcList": ["urn:epc:id:sgtin:0614141.107346.4"],
     "ex:weight": 10, "ex:packed": "2024-05-01T00:00:00Z", "ex:lot": "ab"},
    {"type": "ObjectEvent", "action": "OBSERVE", "eventID": "urn:uuid:0e000000-0000-4000-8000-000000000005",
     "eventTime": "2024-05-02T08:00:00Z", "eventTimeZoneOffset": "+00:00",
     "epcList": ["urn:epc:id:sgtin:0614141.107346.5"],
     "ex:weight": -2, "ex:temp": 2.5},
    {"type": "ObjectEvent", "action": "OBSERVE", "eventID": "urn:uuid:0e000000-0000-4000-8000-000000000006",
     "eventTime": "2024-05-06T08:00:00Z", "eventTimeZoneOffset": "+00:00",
     "epcList": ["urn:epc:id:sgtin:0614141.107346.6"]},
    {"type": "ObjectEvent", "action": "OBSERVE", "eventID": "urn:uuid:0e000000-0000-4000-8000-000000000007",
     "eventTime": "2024-05-05T08:00:00Z", "eventTimeZoneOffset": "+00:00",
     "epcList": ["urn:epc:id:sgtin:0614141.107346.7"],
     "ex:temp": 0},
    {"type": "ObjectEvent", "action": "OBSERVE", "eventID": "urn:uuid:0e000000-0000-4000-8000-000000000008",
     "eventTime": "2024-05-04T08:00:00Z", "eventTimeZoneOffset": "+00:00",
     "epcList": ["urn:epc:id:sgtin:0614141.107346.8"],
     "ex:box": {"ex:weight": 1}}
  ]}}"#;

/// Query parameters and the events they must return, in order (on one page).
type Case = (Vec<(&'static str, &'static str)>, Vec<&'static str>);

fn cases() -> Vec<Case> {
    vec![
        // Integers: the tie at 5 in capture order (ascending) or its reverse (descending);
        // events lacking the field last in both directions.
        (
            vec![("orderBy", "ex:weight"), ("orderDirection", "ASC")],
            vec!["E5", "E2", "E1", "E3", "E4", "E6", "E7", "E8"],
        ),
        (
            vec![("orderBy", "ex:weight"), ("orderDirection", "DESC")],
            vec!["E4", "E3", "E1", "E2", "E5", "E8", "E7", "E6"],
        ),
        (vec![("orderBy", "ex:weight")], vec!["E4", "E3", "E1", "E2", "E5", "E8", "E7", "E6"]),
        // Floats, in every spelling of a qualified name.
        (
            vec![("orderBy", "{https://ns.example.com/o/}temp"), ("orderDirection", "ASC")],
            vec!["E2", "E7", "E1", "E5", "E3", "E4", "E6", "E8"],
        ),
        (
            vec![("orderBy", "https://ns.example.com/o/temp"), ("orderDirection", "DESC")],
            vec!["E3", "E5", "E1", "E7", "E2", "E8", "E6", "E4"],
        ),
        // Date-times compare as instants, not as text.
        (
            vec![("orderBy", "ex:packed"), ("orderDirection", "ASC")],
            vec!["E1", "E4", "E2", "E3", "E5", "E6", "E7", "E8"],
        ),
        (
            vec![("orderBy", "ex:packed"), ("orderDirection", "DESC")],
            vec!["E3", "E2", "E4", "E1", "E8", "E7", "E6", "E5"],
        ),
        // Strings: case-sensitive, by code point (the standard's rule for String fields).
        (vec![("orderBy", "ex:lot"), ("orderDirection", "ASC")], vec!["E2", "E3", "E4", "E1", "E5", "E6", "E7", "E8"]),
        (vec![("orderBy", "ex:lot"), ("orderDirection", "DESC")], vec!["E1", "E4", "E3", "E2", "E8", "E7", "E6", "E5"]),
        // Together with filters (their values are bound before the ordering's).
        (
            vec![
                ("GT_ex:weight", "0"),
                ("eventType", "ObjectEvent"),
                ("orderBy", "ex:weight"),
                ("orderDirection", "ASC"),
            ],
            vec!["E2", "E1", "E3", "E4"],
        ),
        (
            vec![("EXISTS_ex:temp", ""), ("orderBy", "ex:weight"), ("orderDirection", "ASC")],
            vec!["E5", "E2", "E1", "E3", "E7"],
        ),
        // eventCountLimit: the first N in this order, the missing ones included when reached.
        (vec![("orderBy", "ex:weight"), ("eventCountLimit", "1")], vec!["E4"]),
        (
            vec![("orderBy", "ex:weight"), ("orderDirection", "ASC"), ("eventCountLimit", "6")],
            vec!["E5", "E2", "E1", "E3", "E4", "E6"],
        ),
    ]
}

fn parse(store_prefixes: &[(String, String)], pairs: &[(&str, &str)]) -> Result<EventQuery, String> {
    let params: Vec<(String, Vec<String>)> =
        pairs.iter().map(|(k, v)| (k.to_string(), v.split('|').map(str::to_owned).collect())).collect();
    let resolve = |p: &str| store_prefixes.iter().find(|(q, _)| q == p).map(|(_, u)| u.clone());
    EventQuery::parse(&params, &resolve).map_err(|e| {
        assert_eq!(e.param, "orderBy", "{e}");
        e.to_string()
    })
}

fn label(event_id: &str) -> &'static str {
    let n = event_id.rsplit('0').next().unwrap_or_default();
    ["E1", "E2", "E3", "E4", "E5", "E6", "E7", "E8"][n.parse::<usize>().unwrap() - 1]
}

/// Every page of `q` at `per_page` events each, as labels, checking each page's size.
async fn pages(store: &Store, q: &EventQuery, per_page: u64) -> Vec<&'static str> {
    let (mut seen, mut token) = (Vec::new(), None::<String>);
    loop {
        let page = store.epcis_query(q, EventScope::All, per_page, token.as_deref()).await.unwrap();
        assert!(page.events.len() as u64 <= per_page);
        seen.extend(page.events.iter().map(|e| label(&e.event_id)));
        match page.next_page_token {
            Some(t) => {
                assert_eq!(page.events.len() as u64, per_page, "a page with a successor is full");
                token = Some(t);
            }
            None => break,
        }
    }
    seen
}

async fn story(engine: Engine) {
    let store = Store::connect(&testing::fresh_database(engine).await).await.unwrap();
    let doc = qgov_epcis::json::parse_document(DOC.as_bytes()).unwrap();
    let out = store
        .epcis_capture(&Actor::system(), &Capturer::default(), doc, ErrorBehaviour::Rollback, vec![])
        .await
        .unwrap();
    assert_eq!(out.stored.len(), 8);
    let prefixes = store.epcis_prefixes().await.unwrap();

    for (pairs, want) in cases() {
        let q = parse(&prefixes, &pairs).unwrap();
        let one_page = store.epcis_query(&q, EventScope::All, 100, None).await.unwrap();
        let got: Vec<&str> = one_page.events.iter().map(|e| label(&e.event_id)).collect();
        assert_eq!(got, want, "{engine:?} {pairs:?}");
        assert_eq!(one_page.next_page_token, None);
        // Keyset pages of every size give the same sequence: ties and the events lacking the
        // field are neither skipped nor repeated at page boundaries.
        for per_page in [1, 2, 3] {
            assert_eq!(pages(&store, &q, per_page).await, want, "{engine:?} {pairs:?} perPage {per_page}");
        }
    }

    // eventCountLimit across pages ends the last page short and without a token.
    let q = parse(&prefixes, &[("orderBy", "ex:weight"), ("eventCountLimit", "6")]).unwrap();
    let p1 = store.epcis_query(&q, EventScope::All, 4, None).await.unwrap();
    let p2 = store.epcis_query(&q, EventScope::All, 4, p1.next_page_token.as_deref()).await.unwrap();
    let labels = |p: &qgov_store::epcis::EventPage| p.events.iter().map(|e| label(&e.event_id)).collect::<Vec<_>>();
    assert_eq!((labels(&p1), labels(&p2)), (vec!["E4", "E3", "E1", "E2"], vec!["E5", "E8"]), "{engine:?}");
    assert_eq!(p2.next_page_token, None);

    // A token naming no event is refused, naming the parameter.
    let forged = hex::encode("v1.0.999999.0");
    assert!(matches!(
        store.epcis_query(&q, EventScope::All, 4, Some(&forged)).await,
        Err(QueryError::Param(p)) if p.param == "nextPageToken"
    ));

    // Names that are not qualified extension field names are refused, naming orderBy.
    for bad in ["weight", "quantity", "nope:weight", "{https://ns.example.com/o/}", "{}weight"] {
        let err = parse(&prefixes, &[("orderBy", bad)]).unwrap_err();
        assert!(err.starts_with("query parameter orderBy: "), "{err}");
    }
}

#[tokio::test]
async fn order_by_extension_field_sqlite() {
    story(Engine::Sqlite).await;
}

#[tokio::test]
async fn order_by_extension_field_postgres() {
    story(Engine::Postgres).await;
}
