//! `qgov audit verify` against a real database, after tampering with it directly:
//! an altered, an inserted and a deleted record must each be caught and named.

use qgov_store::{Actor, Engine, Store, testing};
use std::process::Command;

fn verify(url: &str) -> (bool, String, String) {
    let out =
        Command::new(env!("CARGO_BIN_EXE_qgov")).args(["audit", "verify", "--database-url", url]).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

async fn seeded(engine: Engine) -> (String, Store) {
    let url = testing::fresh_database(engine).await;
    let store = Store::connect(&url).await.unwrap();
    for (i, body) in ["MA05K1T1", "MA05K1T2", "MA05K1T3", "MA05K1T4"].iter().enumerate() {
        let code = qgov_domain::UnifiedCreditCode::compose("91120116", body).unwrap().to_string();
        let name = format!("企业{i}");
        let f = |k: &str| match k {
            "uscc" => Some(code.clone()),
            "name" => Some(name.clone()),
            _ => None,
        };
        let d = qgov_domain::registers::MarketEntityDraft::parse(&f).unwrap();
        store.create_entity(&Actor::user("admin"), &d).await.unwrap();
    }
    (url, store)
}

async fn count(store: &Store) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log").fetch_one(store.pool()).await.unwrap()
}

async fn tamper(engine: Engine) {
    // Intact: exit 0 and the record count (13 seeded departments + 4 entities).
    let (url, store) = seeded(engine).await;
    let n = count(&store).await;
    let (ok, out, err) = verify(&url);
    assert!(ok, "{out}{err}");
    assert!(out.contains(&format!("{n} records")), "{out}");

    // Altered: change the after-image of record 15.
    sqlx::query("UPDATE audit_log SET after_json = '{\"name\":\"forged\"}' WHERE seq = 15")
        .execute(store.pool())
        .await
        .unwrap();
    let (ok, _, err) = verify(&url);
    assert!(!ok);
    assert!(err.contains("record 15") && err.contains("altered"), "{err}");

    // Deleted: remove record 10 from a fresh copy.
    let (url, store) = seeded(engine).await;
    sqlx::query("DELETE FROM audit_log WHERE seq = 10").execute(store.pool()).await.unwrap();
    let (ok, _, err) = verify(&url);
    assert!(!ok);
    assert!(err.contains("record 11"), "{err}");

    // Deleted at the end: the head still names the missing record.
    let (url, store) = seeded(engine).await;
    let last = count(&store).await;
    sqlx::query("DELETE FROM audit_log WHERE seq = $1").bind(last).execute(store.pool()).await.unwrap();
    let (ok, _, err) = verify(&url);
    assert!(!ok);
    assert!(err.contains(&format!("head says {last}")), "{err}");

    // Inserted: shift records 12.. up by one and insert a forged record 12 whose hash
    // is correct for its own contents and whose link to record 11 is right. The shifted
    // record (now 13) no longer matches its hash, which covers its sequence number.
    let (url, store) = seeded(engine).await;
    let last = count(&store).await;
    for seq in (12..=last).rev() {
        sqlx::query("UPDATE audit_log SET seq = seq + 1 WHERE seq = $1").bind(seq).execute(store.pool()).await.unwrap();
    }
    let prev: String =
        sqlx::query_scalar("SELECT hash FROM audit_log WHERE seq = 11").fetch_one(store.pool()).await.unwrap();
    let mut forged = qgov_domain::audit::AuditRecord {
        seq: 12,
        at: "2026-01-01T00:00:00.000000Z".into(),
        actor: "user:admin".into(),
        action: "enterprises.delete".into(),
        target_type: "enterprises".into(),
        target_id: "1".into(),
        before: "null".into(),
        after: "null".into(),
        prev_hash: prev,
        hash: String::new(),
    };
    forged.hash = qgov_domain::audit::record_hash(&forged);
    sqlx::query("INSERT INTO audit_log (seq, at, actor, action, target_type, target_id, before_json, after_json, prev_hash, hash) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)")
        .bind(forged.seq).bind(&forged.at).bind(&forged.actor).bind(&forged.action).bind(&forged.target_type)
        .bind(&forged.target_id).bind(&forged.before).bind(&forged.after).bind(&forged.prev_hash).bind(&forged.hash)
        .execute(store.pool()).await.unwrap();
    let (ok, _, err) = verify(&url);
    assert!(!ok);
    assert!(err.contains("record 13"), "{err}");

    // Inserted at the end with a correct hash and link: the head still names the old end.
    let (url, store) = seeded(engine).await;
    let last = count(&store).await;
    let prev: String = sqlx::query_scalar("SELECT hash FROM audit_log WHERE seq = $1")
        .bind(last)
        .fetch_one(store.pool())
        .await
        .unwrap();
    forged.seq = last + 1;
    forged.prev_hash = prev;
    forged.hash = qgov_domain::audit::record_hash(&forged);
    sqlx::query("INSERT INTO audit_log (seq, at, actor, action, target_type, target_id, before_json, after_json, prev_hash, hash) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)")
        .bind(forged.seq).bind(&forged.at).bind(&forged.actor).bind(&forged.action).bind(&forged.target_type)
        .bind(&forged.target_id).bind(&forged.before).bind(&forged.after).bind(&forged.prev_hash).bind(&forged.hash)
        .execute(store.pool()).await.unwrap();
    let (ok, _, err) = verify(&url);
    assert!(!ok);
    assert!(err.contains(&format!("chain ends at record {}", last + 1)), "{err}");
}

#[tokio::test]
async fn audit_verify_catches_tampering_sqlite() {
    tamper(Engine::Sqlite).await;
}

#[tokio::test]
async fn audit_verify_catches_tampering_postgres() {
    tamper(Engine::Postgres).await;
}
