//! The register facts a trace or recall scope is labelled with, looked up by key (only the
//! GLNs and GTINs it names), agree with the whole registers, on SQLite and PostgreSQL.

use qgov_domain::registers::{LocationDraft, MarketEntityDraft, ProductDraft};
use qgov_store::{Actor, Engine, Store, testing};
use std::collections::HashMap;

fn fields(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |k: &str| map.get(k).cloned()
}

async fn lookups(engine: Engine) {
    let store = Store::connect(&testing::fresh_database(engine).await).await.unwrap();
    let admin = Actor::user("admin");
    let uscc = qgov_domain::UnifiedCreditCode::compose("91120116", "MA05K1TQ").unwrap().to_string();
    store
        .create_entity(
            &admin,
            &MarketEntityDraft::parse(&fields(&[
                ("uscc", &uscc),
                ("name", "天津华源食品有限公司"),
                ("industry", "food_retail"),
            ]))
            .unwrap(),
        )
        .await
        .unwrap();
    // GTIN-13, GTIN-8, GTIN-12 and GTIN-14, kept as given; events name them in 14 digits.
    for (gtin, name) in
        [("6901234567892", "牛奶"), ("96385074", "面包"), ("036000291452", "果汁"), ("10614141000019", "整箱牛奶")]
    {
        store
            .create_product(&admin, &ProductDraft::parse(&fields(&[("gtin", gtin), ("name", name)])).unwrap())
            .await
            .unwrap();
    }
    for (gln, name, owner) in [
        ("0614141000012", "加工车间", Some(uscc.as_str())),
        ("0614141000029", "配送仓", None),
        ("0614141000036", "门店", None),
    ] {
        let mut f = vec![("gln", gln), ("name", name), ("kind", "warehouse"), ("street", "解放路")];
        f.extend(owner.map(|o| ("owner_uscc", o)));
        store.create_location(&admin, &LocationDraft::parse(&fields(&f)).unwrap()).await.unwrap();
    }

    let wanted: Vec<String> =
        ["06901234567892", "00000096385074", "00036000291452", "10614141000019", "00000000000000", "04012345000016"]
            .map(String::from)
            .to_vec();
    let products = store.product_names_among(&wanted).await.unwrap();
    let all = store.product_names_by_gtin().await.unwrap();
    assert_eq!(products.len(), 4, "every registered form found, the unregistered GTINs not: {products:?}");
    for (gtin, name) in &products {
        assert_eq!(all.get(gtin), Some(name), "{gtin} as in the whole register");
    }
    assert_eq!(products["00000096385074"], "面包");

    let glns: Vec<String> = ["0614141000012", "0614141000036", "4012345000009"].map(String::from).to_vec();
    let places = store.places_among(&glns).await.unwrap();
    let every = store.places_by_gln().await.unwrap();
    assert_eq!(places.len(), 2, "the two registered places, not the stranger: {places:?}");
    for (gln, p) in &places {
        assert_eq!(every.get(gln), Some(p), "{gln} as in the whole register");
    }
    assert_eq!(places["0614141000012"].owner_name.as_deref(), Some("天津华源食品有限公司"));
    assert_eq!(places["0614141000036"].owner_name, None);
    assert!(
        store.places_among(&[]).await.unwrap().is_empty() && store.product_names_among(&[]).await.unwrap().is_empty()
    );
}

#[tokio::test]
async fn register_lookups_sqlite() {
    lookups(Engine::Sqlite).await;
}

#[tokio::test]
async fn register_lookups_postgres() {
    lookups(Engine::Postgres).await;
}
