//! Bulk loading with deferred indexes, on SQLite and PostgreSQL: the indexes go and come back
//! with the same definitions, captures during the load stay idempotent and queryable, and a
//! load interrupted before the rebuild is repaired by the next start of the store.

use qgov_store::epcis::query::EventQuery;
use qgov_store::epcis::{Capturer, ErrorBehaviour, EventScope};
use qgov_store::{Actor, Engine, Store, testing};

fn doc(first: usize, n: usize) -> qgov_epcis::Document {
    let events: Vec<String> = (first..first + n)
        .map(|i| {
            format!(
                r#"{{"type":"ObjectEvent","action":"OBSERVE","bizStep":"shipping","eventTime":"2024-05-01T08:{:02}:{:02}Z","eventTimeZoneOffset":"+08:00","epcList":["urn:epc:id:sgtin:0614141.107346.{i}"],"bizLocation":{{"id":"urn:epc:id:sgln:0614141.{:05}.0"}}}}"#,
                i / 60 % 60,
                i % 60,
                i % 7
            )
        })
        .collect();
    let text = format!(
        r#"{{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],"type":"EPCISDocument","schemaVersion":"2.0","creationDate":"2024-05-01T00:00:00Z","epcisBody":{{"eventList":[{}]}}}}"#,
        events.join(",")
    );
    qgov_epcis::json::parse_document(text.as_bytes()).unwrap()
}

async fn index_definitions(store: &Store) -> Vec<String> {
    let sql = match store.engine() {
        Engine::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name LIKE 'epcis%' ORDER BY name"
        }
        Engine::Postgres => {
            "SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema() AND tablename LIKE 'epcis%' \
             ORDER BY indexname"
        }
    };
    sqlx::query_scalar(sql).fetch_all(store.pool()).await.unwrap()
}

async fn count(store: &Store, pairs: &[(&str, &str)]) -> usize {
    let params: Vec<(String, Vec<String>)> = pairs.iter().map(|(k, v)| (k.to_string(), vec![v.to_string()])).collect();
    let q = EventQuery::parse(&params, &|_| None).unwrap();
    store.epcis_query(&q, EventScope::All, 1000, None).await.unwrap().events.len()
}

async fn bulk(engine: Engine) {
    let url = testing::fresh_database(engine).await;
    let store = Store::connect(&url).await.unwrap();
    let (actor, by) = (Actor::system(), Capturer::default());
    store.epcis_capture(&actor, &by, doc(0, 50), ErrorBehaviour::Rollback, vec![]).await.unwrap();
    let before = index_definitions(&store).await;
    let shipped_at_3 = [("EQ_bizLocation", "urn:epc:id:sgln:0614141.00003.0")];
    let expected_at_3 = count(&store, &shipped_at_3).await;
    assert_eq!(expected_at_3, 7, "events 3, 10, …, 45 at site 3");

    let deferred = store.epcis_defer_indexes().await.unwrap();
    assert!(deferred >= 20, "the event tables' secondary indexes are set aside, got {deferred}");
    assert_eq!(store.epcis_deferred_index_count().await.unwrap(), deferred);
    let during = index_definitions(&store).await;
    assert_eq!(before.len() - during.len(), deferred);
    // Captures during the load: stored, queryable (slowly), and still idempotent.
    let out = store.epcis_capture(&actor, &by, doc(50, 50), ErrorBehaviour::Rollback, vec![]).await.unwrap();
    assert_eq!(out.stored.len(), 50);
    let again = store.epcis_capture(&actor, &by, doc(40, 20), ErrorBehaviour::Rollback, vec![]).await.unwrap();
    assert_eq!((again.stored.len(), again.duplicates.len()), (0, 20), "the unique eventID index is kept");
    assert_eq!(count(&store, &shipped_at_3).await, 14);

    // A load interrupted here: the next start of the store rebuilds what was set aside.
    drop(store);
    let store = Store::connect(&url).await.unwrap();
    assert_eq!(store.epcis_deferred_index_count().await.unwrap(), 0);
    assert_eq!(index_definitions(&store).await, before);
    assert_eq!(count(&store, &shipped_at_3).await, 14);
    assert_eq!(count(&store, &[("MATCH_epc", "urn:epc:id:sgtin:0614141.107346.77")]).await, 1);

    // The normal end of a load, and a restore with nothing deferred.
    assert_eq!(store.epcis_defer_indexes().await.unwrap(), deferred);
    assert_eq!(store.epcis_restore_indexes().await.unwrap(), deferred);
    assert_eq!(store.epcis_restore_indexes().await.unwrap(), 0);
    assert_eq!(index_definitions(&store).await, before);
}

#[tokio::test]
async fn bulk_load_sqlite() {
    bulk(Engine::Sqlite).await;
}

#[tokio::test]
async fn bulk_load_postgres() {
    bulk(Engine::Postgres).await;
}
