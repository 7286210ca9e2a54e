//! Recall scopes shared with enterprises, listed from the shares table with the register's
//! names and the sharing user, on SQLite and PostgreSQL.

use qgov_domain::registers::MarketEntityDraft;
use qgov_domain::{Role, UnifiedCreditCode};
use qgov_store::trace::TraceShareEntry;
use qgov_store::{Actor, Engine, NewUser, Store, testing};

fn entity(body: &str, name: &str) -> MarketEntityDraft {
    let uscc = UnifiedCreditCode::compose("91120116", body).unwrap();
    let f = move |k: &str| match k {
        "uscc" => Some(uscc.to_string()),
        "name" => Some(name.to_owned()),
        "industry" => Some("food_retail".to_owned()),
        _ => None,
    };
    MarketEntityDraft::parse(&f).unwrap()
}

async fn shares(engine: Engine) {
    let store = Store::connect(&testing::fresh_database(engine).await).await.unwrap();
    let admin = Actor::user("admin");
    let shop = store.create_entity(&admin, &entity("MA05K1TQ", "天津华源超市有限公司")).await.unwrap();
    let branch = store.create_entity(&admin, &entity("MA05K1TR", "天津华源超市有限公司塘沽分公司")).await.unwrap();
    let amr = store.department_by_code("amr").await.unwrap().id;
    let regulator = store
        .create_user(
            &admin,
            &NewUser {
                username: "regulator".into(),
                password: "long enough".into(),
                role: Role::Regulator,
                department_id: Some(amr),
                entity_id: None,
            },
        )
        .await
        .unwrap();
    let root = "https://id.gs1.org/01/06901234000109/10/P0D3";
    let other_root = "https://id.gs1.org/01/06901234000109/10/P1D4";

    assert_eq!(store.trace_shares(root).await.unwrap(), vec![], "nothing shared yet");
    let first = store.trace_share(&Actor::user("regulator"), root, shop.id, Some(regulator.id)).await.unwrap();
    // Sharing again changes nothing: one row, the first time kept.
    let again = store.trace_share(&Actor::user("regulator"), root, shop.id, Some(regulator.id)).await.unwrap();
    assert_eq!(again.created_at, first.created_at);
    // Shared without a user (a system task): listed with nobody as the sharer.
    let second = store.trace_share(&Actor::system(), root, branch.id, None).await.unwrap();
    store.trace_share(&Actor::user("regulator"), other_root, branch.id, Some(regulator.id)).await.unwrap();

    assert_eq!(
        store.trace_shares(root).await.unwrap(),
        vec![
            TraceShareEntry {
                entity_id: shop.id,
                entity_name: "天津华源超市有限公司".into(),
                uscc: shop.uscc.clone(),
                shared_by: Some("regulator".into()),
                shared_at: first.created_at.clone(),
            },
            TraceShareEntry {
                entity_id: branch.id,
                entity_name: "天津华源超市有限公司塘沽分公司".into(),
                uscc: branch.uscc.clone(),
                shared_by: None,
                shared_at: second.created_at.clone(),
            },
        ],
        "oldest first, each once, with the register's names"
    );
    let other: Vec<i64> = store.trace_shares(other_root).await.unwrap().iter().map(|s| s.entity_id).collect();
    assert_eq!(other, [branch.id], "only the shares of the root asked for");

    // The list follows the register: a renamed enterprise is listed by its new name.
    store.update_entity(&admin, shop.id, &entity("MA05K1TQ", "天津华源超市连锁有限公司")).await.unwrap();
    assert_eq!(store.trace_shares(root).await.unwrap()[0].entity_name, "天津华源超市连锁有限公司");
    // And it is what grants access.
    for s in store.trace_shares(root).await.unwrap() {
        assert!(store.trace_shared(root, s.entity_id).await.unwrap());
    }
}

#[tokio::test]
async fn trace_shares_sqlite() {
    shares(Engine::Sqlite).await;
}

#[tokio::test]
async fn trace_shares_postgres() {
    shares(Engine::Postgres).await;
}
