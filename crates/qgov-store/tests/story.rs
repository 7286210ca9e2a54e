//! One storage story, run against SQLite and PostgreSQL.

use qgov_domain::registers::{InspectorDraft, MarketEntityDraft, ProductDraft};
use qgov_domain::{FieldErrors, Role, UnifiedCreditCode};
use qgov_store::{Actor, Engine, ImportMode, ListQuery, NewUser, SortDir, Store, StoreError, testing};

fn entity(body: &str, name: &str) -> MarketEntityDraft {
    let uscc = UnifiedCreditCode::compose("91120116", body).unwrap();
    let f = move |k: &str| match k {
        "uscc" => Some(uscc.to_string()),
        "name" => Some(name.to_owned()),
        "industry" => Some("food_production".to_owned()),
        "street" => Some("新港街道".to_owned()),
        _ => None,
    };
    MarketEntityDraft::parse(&f).unwrap()
}

async fn story(engine: Engine) {
    let url = testing::fresh_database(engine).await;
    let store = Store::connect(&url).await.unwrap();
    store.ping().await.unwrap();
    let admin = Actor::user("admin");

    // Departments are seeded from the outline.
    let deps = store.list_departments(&ListQuery::default()).await.unwrap();
    assert!(deps.items.iter().any(|d| d.name == "区市场监管局"), "{deps:?}");

    // Create, conflict, get, update.
    let a = store.create_entity(&admin, &entity("MA05K1TQ", "天津甲食品有限公司")).await.unwrap();
    let err = store.create_entity(&admin, &entity("MA05K1TQ", "重复")).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { field: "uscc", .. }), "{err:?}");
    let mut d = entity("MA05K1TQ", "天津甲食品有限公司（更名）");
    d.licences = vec!["SC10612011600012".into()];
    let a2 = store.update_entity(&admin, a.id, &d).await.unwrap();
    assert_eq!(a2.licences, ["SC10612011600012"]);
    assert_eq!(store.entity(a.id).await.unwrap().name, "天津甲食品有限公司（更名）");
    assert!(matches!(store.entity(9999).await, Err(StoreError::NotFound)));

    // Import: all-or-nothing refuses the whole file and names every bad row.
    let rows = vec![
        (2, Ok(entity("MA05K1TR", "乙"))),
        (3, Ok(entity("MA05K1TQ", "已存在"))),
        (
            4,
            Err(FieldErrors(vec![qgov_domain::FieldError {
                field: "uscc".into(),
                code: "id-check",
                message: "bad".into(),
            }])),
        ),
        (5, Ok(entity("MA05K1TR", "文件内重复"))),
    ];
    let errs =
        store.import_entities(&admin, rows.clone(), ImportMode::AllOrNothing, &|_| {}).await.unwrap().unwrap_err();
    let bad: Vec<(usize, &str)> = errs.iter().map(|e| (e.row, e.column.as_str())).collect();
    assert_eq!(bad, [(3, "uscc"), (4, "uscc"), (5, "uscc")]);
    assert_eq!(store.list_entities(&ListQuery::default()).await.unwrap().total, 1, "nothing half-written");
    let report = store.import_entities(&admin, rows, ImportMode::SkipInvalid, &|_| {}).await.unwrap().unwrap();
    assert_eq!(report.inserted, 1);
    assert_eq!(report.skipped.len(), 3);

    // List: search, filter, sort, page, owner scope.
    for i in 0..30 {
        let body = format!("MA0{:05}", i);
        store.create_entity(&admin, &entity(&body.replace('I', "1"), &format!("批量{i:02}"))).await.unwrap();
    }
    let q = ListQuery {
        q: Some("批量".into()),
        sort: Some("name".into()),
        dir: SortDir::Desc,
        per_page: 10,
        page: 2,
        ..Default::default()
    };
    let p = store.list_entities(&q).await.unwrap();
    assert_eq!(p.total, 30);
    assert_eq!(p.items.len(), 10);
    assert_eq!(p.items[0].name, "批量19");
    let q = ListQuery { filters: vec![("industry".into(), "catering".into())], ..Default::default() };
    assert_eq!(store.list_entities(&q).await.unwrap().total, 0);
    let q = ListQuery { owner_entity_id: Some(a.id), ..Default::default() };
    let own = store.list_entities(&q).await.unwrap();
    assert_eq!((own.total, own.items[0].id), (1, a.id));

    // Products reference their owner by credit code; unknown owners are refused.
    let f = |k: &str| match k {
        "gtin" => Some("6901234567892".to_owned()),
        "name" => Some("酸奶".to_owned()),
        "owner_uscc" => Some(a.uscc.clone()),
        _ => None,
    };
    let p = store.create_product(&admin, &ProductDraft::parse(&f).unwrap()).await.unwrap();
    assert_eq!(p.owner_entity_id, Some(a.id));
    let ghost = UnifiedCreditCode::compose("91120116", "GH0TXXXX").unwrap().to_string();
    let f = |k: &str| match k {
        "gtin" => Some("96385074".to_owned()),
        "name" => Some("x".to_owned()),
        "owner_uscc" => Some(ghost.clone()),
        _ => None,
    };
    let err = store.create_product(&admin, &ProductDraft::parse(&f).unwrap()).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(ref e) if e.0[0].field == "owner_uscc"), "{err:?}");

    let f = |k: &str| match k {
        "name" => Some("张三".to_owned()),
        "department_code" => Some("amr".to_owned()),
        "certificate_no" => Some("JC1201160001".to_owned()),
        "specialties" => Some("food;cold_chain".to_owned()),
        _ => None,
    };
    let i = store.create_inspector(&admin, &InspectorDraft::parse(&f).unwrap()).await.unwrap();
    assert_eq!(i.department_name, "区市场监管局");

    // Accounts, tokens, sessions.
    let user = store
        .create_user(
            &admin,
            &NewUser {
                username: "ent1".into(),
                password: "correct horse".into(),
                role: Role::Enterprise,
                department_id: None,
                entity_id: Some(a.id),
            },
        )
        .await
        .unwrap();
    assert!(matches!(
        store
            .create_user(
                &admin,
                &NewUser {
                    username: "ent1".into(),
                    password: "another pass".into(),
                    role: Role::Admin,
                    department_id: None,
                    entity_id: None
                }
            )
            .await,
        Err(StoreError::Conflict { field: "username", .. })
    ));
    assert!(store.check_password("ent1", "correct horse").await.unwrap().is_some());
    assert!(store.check_password("ent1", "wrong horse").await.unwrap().is_none());
    assert!(store.check_password("nobody", "wrong horse").await.unwrap().is_none());
    let (tok, secret) = store.create_token(&admin, user.id, "erp").await.unwrap();
    assert_eq!(store.user_by_token(&secret).await.unwrap().unwrap().0.id, user.id);
    store.revoke_token(&admin, user.id, tok.id).await.unwrap();
    assert!(store.user_by_token(&secret).await.unwrap().is_none());
    let (sid, s) = store.create_session(&user).await.unwrap();
    assert_eq!(store.session(&sid).await.unwrap().unwrap().csrf_token, s.csrf_token);
    store.delete_session(&sid).await.unwrap();
    assert!(store.session(&sid).await.unwrap().is_none());

    // Every change above is on an intact chain.
    let v = store.audit_verify().await.unwrap().unwrap();
    assert!(v.count > 40, "{v:?}");
    store.close().await;
}

#[tokio::test]
async fn story_sqlite() {
    story(Engine::Sqlite).await;
}

#[tokio::test]
async fn story_postgres() {
    story(Engine::Postgres).await;
}
