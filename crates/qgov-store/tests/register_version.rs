//! Every committed register write raises the registers' version (what lets a server keep the
//! registers in memory); a refused write and a read do not. SQLite and PostgreSQL.

use qgov_domain::registers::{LocationDraft, ProductDraft};
use qgov_store::{Actor, Engine, ImportMode, Store, testing};
use std::collections::HashMap;

fn fields(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |k: &str| map.get(k).cloned()
}

async fn raised(engine: Engine) {
    let store = Store::connect(&testing::fresh_database(engine).await).await.unwrap();
    let admin = Actor::user("admin");
    let v0 = store.register_version().await.unwrap();
    let place = |name: &str| {
        LocationDraft::parse(&fields(&[("gln", "0614141000012"), ("name", name), ("kind", "warehouse")])).unwrap()
    };
    let created = store.create_location(&admin, &place("配送仓")).await.unwrap();
    let v1 = store.register_version().await.unwrap();
    assert!(v1 > v0, "a create raises it ({v0} → {v1})");
    store.update_location(&admin, created.id, &place("配送中心")).await.unwrap();
    let v2 = store.register_version().await.unwrap();
    assert!(v2 > v1, "an update raises it ({v1} → {v2})");
    // A refused write (the GLN is taken) changes nothing, nor do reads.
    assert!(store.create_location(&admin, &place("重复")).await.is_err());
    store.places_by_gln().await.unwrap();
    assert_eq!(store.register_version().await.unwrap(), v2, "no write, no change");
    let product = ProductDraft::parse(&fields(&[("gtin", "6901234567892"), ("name", "牛奶")])).unwrap();
    store.import_products(&admin, vec![(2, Ok(product))], ImportMode::AllOrNothing, &|_| {}).await.unwrap().unwrap();
    let v3 = store.register_version().await.unwrap();
    assert!(v3 > v2, "an import raises it ({v2} → {v3})");
}

#[tokio::test]
async fn register_version_sqlite() {
    raised(Engine::Sqlite).await;
}

#[tokio::test]
async fn register_version_postgres() {
    raised(Engine::Postgres).await;
}
