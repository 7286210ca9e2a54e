//! The settled record time waits for a capture that holds the writer lock, on SQLite and
//! PostgreSQL: a scheduled subscription reading up to it cannot miss an event that commits
//! after its query.

use qgov_store::{Engine, Store, testing};
use std::time::Duration;

async fn settled(engine: Engine) {
    let store = Store::connect(&testing::fresh_database(engine).await).await.unwrap();
    // A writer in the middle of a capture: it holds the audit head, as every capture does.
    let mut tx = store.pool().begin().await.unwrap();
    sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1").execute(&mut *tx).await.unwrap();
    let waiting = tokio::spawn({
        let store = store.clone();
        async move { store.epcis_settled_record_time().await.unwrap() }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "the settled time must wait for the writer");
    let committed_at = time::OffsetDateTime::now_utc();
    tx.commit().await.unwrap();
    let settled = waiting.await.unwrap();
    let committed_micros = (committed_at.unix_timestamp_nanos() / 1000) as i64;
    assert!(settled >= committed_micros, "settled {settled} before the commit at {committed_micros}");
}

#[tokio::test]
async fn settled_record_time_sqlite() {
    settled(Engine::Sqlite).await;
}

#[tokio::test]
async fn settled_record_time_postgres() {
    settled(Engine::Postgres).await;
}
