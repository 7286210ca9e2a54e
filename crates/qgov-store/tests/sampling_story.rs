//! The sampling story on disk, run against SQLite and PostgreSQL: list, plan, task, verifiable
//! draw, a failing food sample through re-test, rectification, evidence, re-inspection and
//! publication, with due dates, overdue steps and figures.

use qgov_domain::UnifiedCreditCode;
use qgov_domain::registers::{InspectorDraft, MarketEntityDraft};
use qgov_sampling::draw::{self, CreditRiskClass};
use qgov_sampling::judgement::{Limit, LimitKind, Measured, Measurement};
use qgov_sampling::workflow::{EventKind, Outcome};
use qgov_store::sampling::drafts::{
    CheckItemDraft, EvidenceDraft, PlanDraft, PublicationDraft, SampleDraft, TaskDraft,
};
use qgov_store::sampling::{DrawInputs, EventInput, PublicQuery, SampleQuery};
use qgov_store::{Actor, Engine, Store, StoreError, testing};
use std::collections::HashMap;
use time::macros::{date, datetime};

fn fields(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let m: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
    move |k: &str| m.get(k).cloned()
}

fn code(body: &str) -> String {
    UnifiedCreditCode::compose("91120116", body).unwrap().to_string()
}

async fn story(engine: Engine) {
    let store = Store::connect(&testing::fresh_database(engine).await).await.unwrap();
    let reg = Actor::user("regulator");

    // Directory: six food businesses, three inspectors; classes and a declared conflict.
    let mut entities = vec![];
    for (i, body) in ["MA05K1T1", "MA05K1T2", "MA05K1T3", "MA05K1T4", "MA05K1T5", "MA05K1T6"].iter().enumerate() {
        let uscc = code(body);
        let name = format!("天津{i}号食品有限公司");
        let d = MarketEntityDraft::parse(&fields(&[
            ("uscc", &uscc),
            ("name", &name),
            ("industry", "food_production"),
            ("street", "新港街道"),
            ("address", "滨海新区某路1号"),
        ]))
        .unwrap();
        entities.push(store.create_entity(&reg, &d).await.unwrap());
    }
    let mut inspectors = vec![];
    for (name, cert) in [("张三", "C1"), ("李四", "C2"), ("王五", "C3")] {
        let d = InspectorDraft::parse(&fields(&[("name", name), ("department_code", "amr"), ("certificate_no", cert)]))
            .unwrap();
        inspectors.push(store.create_inspector(&reg, &d).await.unwrap());
    }
    store
        .set_credit_class(&reg, entities[0].id, CreditRiskClass::D, date!(2025 - 01 - 01), Some("抽检不合格"))
        .await
        .unwrap();
    assert_eq!(store.credit_class(entities[0].id).await.unwrap(), Some(CreditRiskClass::D));
    assert_eq!(store.credit_class(entities[1].id).await.unwrap(), None);
    store.declare_conflict(&reg, inspectors[0].id, entities[0].id, Some("亲属")).await.unwrap();
    assert!(matches!(
        store.declare_conflict(&reg, inspectors[0].id, entities[0].id, None).await,
        Err(StoreError::Conflict { .. })
    ));

    // The list, a plan, a task.
    let item = CheckItemDraft::parse(&fields(&[
        ("code", "SP-01"),
        ("name", "食品生产者遵守食品安全法律法规情况"),
        ("sub_items", "原料查验;出厂检验"),
        ("legal_basis", "《食品安全法》第一百一十条"),
        ("authority", "区市场监管局"),
        ("object_type", "食品生产者"),
        ("ratio", "0.05"),
        ("method", "on_site"),
        ("category", "key"),
    ]))
    .unwrap();
    let item = store.create_check_item(&reg, &item).await.unwrap();
    assert_eq!(item.sub_items, ["原料查验", "出厂检验"]);
    assert!(matches!(
        store
            .create_check_item(
                &reg,
                &CheckItemDraft {
                    name: "dup".into(),
                    ..CheckItemDraft::parse(&fields(&[
                        ("code", "SP-01"),
                        ("name", "x"),
                        ("legal_basis", "x"),
                        ("authority", "x"),
                        ("object_type", "x"),
                        ("method", "written")
                    ]))
                    .unwrap()
                }
            )
            .await,
        Err(StoreError::Conflict { .. })
    ));
    let plan = store
        .create_plan(
            &reg,
            &PlanDraft::parse(&fields(&[
                ("year", "2025"),
                ("name", "2025年度双随机抽查计划"),
                ("department_code", "amr"),
            ]))
            .unwrap(),
        )
        .await
        .unwrap();
    let bad = TaskDraft::parse(&fields(&[
        ("plan_id", &plan.id.to_string()),
        ("name", "t"),
        ("period_start", "2025-03-01"),
        ("period_end", "2025-06-30"),
        ("initiating_department_code", "nope"),
        ("check_item_codes", "SP-99"),
    ]))
    .unwrap();
    let Err(StoreError::Invalid(e)) = store.create_task(&reg, &bad).await else {
        panic!("unknown references must be refused")
    };
    assert!(e.get("initiating_department_code").is_some() && e.get("check_item_codes").is_some(), "{e}");
    let task = store
        .create_task(
            &reg,
            &TaskDraft::parse(&fields(&[
                ("plan_id", &plan.id.to_string()),
                ("name", "食品生产企业专项"),
                ("targeted", "true"),
                ("scope_industry", "food_production"),
                ("count", "3"),
                ("period_start", "2025-03-01"),
                ("period_end", "2025-06-30"),
                ("initiating_department_code", "amr"),
                ("check_item_codes", "SP-01"),
            ]))
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!((task.count, task.ratios.as_deref()), (Some(3), None));

    // The draw: commit, reveal with the wrong seed (refused), reveal; anyone can verify it.
    let seed = b"binhai-2025-task-seed-0001";
    let commitment = draw::commitment(seed);
    store.draw_commit(&reg, task.id, &commitment).await.unwrap();
    assert!(matches!(store.draw_commit(&reg, task.id, &commitment).await, Err(StoreError::Conflict { .. })));
    let d = store.draw_of(task.id).await.unwrap();
    assert!(d.seed_hex.is_none() && d.assignments.is_none());
    let Err(StoreError::Invalid(e)) = store.draw_reveal(&reg, task.id, &hex::encode(b"some-other-seed-of-16")).await
    else {
        panic!()
    };
    assert_eq!(e.0[0].code, "commitment-mismatch");
    let d = store.draw_reveal(&reg, task.id, &hex::encode(seed)).await.unwrap();
    let assignments = d.assignments.clone().unwrap();
    assert_eq!(assignments.len(), 3);
    let inputs: DrawInputs = serde_json::from_value(d.inputs.clone().unwrap()).unwrap();
    assert_eq!(inputs.targets.len(), 6);
    assert_eq!(draw::verify(&inputs.to_input().unwrap(), seed, &d.commitment, &assignments), Ok(()));
    for a in &assignments {
        assert_eq!(a.inspectors.len(), 2);
        if a.target == entities[0].uscc {
            assert!(!a.inspectors.contains(&"C1".to_string()), "conflict respected");
        }
    }
    assert!(
        store
            .audit_for("sampling_tasks", &task.id.to_string())
            .await
            .unwrap()
            .iter()
            .any(|r| r.action == "draws.reveal")
    );
    assert!(matches!(store.draw_reveal(&reg, task.id, &hex::encode(seed)).await, Err(StoreError::Conflict { .. })));

    // Limits, then a food sample of the first entity, sampled Mon 22 Sep 2025.
    let lim = |item: &str, max: f64, unit: &str, microbial: bool| Limit {
        standard_code: "GB 2763-2021".into(),
        product_category: "蔬菜".into(),
        test_item: item.into(),
        kind: LimitKind::Max,
        min: None,
        max: Some(max),
        unit: unit.into(),
        microbial,
    };
    store.upsert_limits(&reg, &[lim("毒死蜱", 0.02, "mg/kg", false), lim("铅", 0.1, "mg/kg", false)]).await.unwrap();
    store.upsert_limits(&reg, &[lim("铅", 0.3, "mg/kg", false)]).await.unwrap();
    let limits = store.list_limits(Some("GB 2763-2021"), None).await.unwrap();
    assert_eq!(limits.len(), 2);
    assert_eq!(limits.iter().find(|l| l.test_item == "铅").unwrap().max, Some(0.3), "re-import replaces a row");

    let sample_fields = |no: &str, uscc: &str, purpose: &str| {
        vec![
            ("sample_no".to_string(), no.to_string()),
            ("task_id".into(), task.id.to_string()),
            ("regime".into(), "food".into()),
            ("purpose".into(), purpose.into()),
            ("product_name".into(), "芹菜".into()),
            ("brand".into(), "滨海".into()),
            ("specification".into(), "散装".into()),
            ("batch_no".into(), "20250920".into()),
            ("production_date".into(), "2025-09-20".into()),
            ("product_category".into(), "蔬菜".into()),
            ("standard_code".into(), "GB 2763-2021".into()),
            ("sampled_uscc".into(), uscc.into()),
            ("producer_name".into(), "天津某农业合作社".into()),
            ("producer_address".into(), "滨海新区某村".into()),
            ("sampler_ids".into(), format!("{};{}", inspectors[1].id, inspectors[2].id)),
            ("lab".into(), "天津市食品安全检测技术研究院".into()),
            ("photos".into(), "data:image/png;base64,iVBORw0KGgo=".into()),
            ("sampled_at".into(), "2025-09-22T10:00:00+08:00".into()),
        ]
    };
    let parse = |pairs: Vec<(String, String)>| {
        let m: HashMap<String, String> = pairs.into_iter().collect();
        SampleDraft::parse(&move |k: &str| m.get(k).cloned()).unwrap()
    };
    let s = store
        .create_sample(&reg, &parse(sample_fields("SC-2025-001", &entities[0].uscc, "supervisory")))
        .await
        .unwrap();
    assert_eq!(s.status, "sampled");
    assert_eq!(
        (s.steps[0].rule_id.as_str(), s.steps[0].due_on.as_str(), s.steps[0].state.as_str()),
        ("food.delivery", "2025-09-28", "overdue"),
        "Sun 28 Sep 2025 is a make-up working day"
    );
    assert!(matches!(
        store.create_sample(&reg, &parse(sample_fields("SC-2025-001", &entities[0].uscc, "supervisory"))).await,
        Err(StoreError::Conflict { .. })
    ));

    // Overdue: the delivery step is late (it is long past), and names its legal basis.
    let overdue = store.overdue_steps(time::OffsetDateTime::now_utc()).await.unwrap();
    assert!(
        overdue
            .iter()
            .any(|o| o.sample_id == s.id && o.rule_id == "food.delivery" && o.legal_basis.contains("art. 20")),
        "{overdue:?}"
    );

    let ev = |kind, at| EventInput { kind, at, outcome: None, lab: None, note: None };
    let refused = store
        .sample_event(&reg, s.id, &ev(EventKind::Notify, datetime!(2025-09-23 02:00 UTC)), None)
        .await
        .unwrap()
        .unwrap_err();
    assert!(refused.reason.contains("possible now: deliver"), "{refused:?}");
    store
        .sample_event(&reg, s.id, &ev(EventKind::Deliver, datetime!(2025-09-23 02:00 UTC)), None)
        .await
        .unwrap()
        .unwrap();
    assert!(
        !store
            .overdue_steps(time::OffsetDateTime::now_utc())
            .await
            .unwrap()
            .iter()
            .any(|o| o.sample_id == s.id && o.rule_id == "food.delivery")
    );

    // Results: a unit mismatch is refused as a field error; then a failing result.
    let m = |item: &str, v: f64, unit: &str| Measurement {
        test_item: item.into(),
        value: Measured::Value(v),
        unit: unit.into(),
    };
    let Err(StoreError::Invalid(e)) =
        store.record_results(&reg, s.id, &[m("毒死蜱", 0.5, "g/kg")], datetime!(2025-09-25 02:00 UTC)).await
    else {
        panic!()
    };
    assert_eq!(e.0[0].code, "unit-mismatch");
    let s1 = store
        .record_results(
            &reg,
            s.id,
            &[m("毒死蜱", 0.052, "mg/kg"), m("铅", 0.05, "mg/kg")],
            datetime!(2025-09-25 02:00 UTC),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!((s1.status.as_str(), s1.verdict.as_deref()), ("failed", Some("fail")));
    assert_eq!(s1.results.iter().filter(|r| r.verdict == "fail").count(), 1);
    let s2 = store
        .sample_event(&reg, s.id, &ev(EventKind::Notify, datetime!(2025-09-26 02:00 UTC)), None)
        .await
        .unwrap()
        .unwrap();
    let window = s2.steps.iter().find(|x| x.rule_id == "food.retest_application").unwrap();
    assert_eq!((window.due_on.as_str(), window.kind.as_str()), ("2025-10-13", "window"));

    // Re-test: requested in time, a different lab, upheld.
    store
        .sample_event(&reg, s.id, &ev(EventKind::RequestRetest, datetime!(2025-10-10 02:00 UTC)), None)
        .await
        .unwrap()
        .unwrap();
    let same_lab = EventInput {
        lab: Some("天津市食品安全检测技术研究院".into()),
        ..ev(EventKind::AcceptRetest, datetime!(2025-10-11 02:00 UTC))
    };
    assert!(
        store.sample_event(&reg, s.id, &same_lab, None).await.unwrap().unwrap_err().reason.contains("different lab")
    );
    let other_lab = EventInput {
        lab: Some("北京市某检测中心".into()),
        ..ev(EventKind::AcceptRetest, datetime!(2025-10-11 02:00 UTC))
    };
    store.sample_event(&reg, s.id, &other_lab, None).await.unwrap().unwrap();
    let s3 = store
        .record_results(&reg, s.id, &[m("毒死蜱", 0.048, "mg/kg")], datetime!(2025-10-20 02:00 UTC))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s3.status, "failure_confirmed");
    assert!(s3.steps.iter().any(|x| x.rule_id == "food.publication" && x.due_on == "2025-11-17"));

    // Rectification: ordered, evidence from the ordered entity only, verified by re-inspection.
    let order = EventInput {
        note: Some("立即停止销售，查明原因，60日内整改".into()),
        ..ev(EventKind::OrderRectification, datetime!(2025-10-21 02:00 UTC))
    };
    let s4 = store.sample_event(&reg, s.id, &order, None).await.unwrap().unwrap();
    let ro = s4.rectification.clone().unwrap();
    assert_eq!((ro.entity_id, ro.order_no.as_str()), (entities[0].id, "ZG-SC-2025-001"));
    let evidence = EvidenceDraft::parse(&fields(&[
        ("description", "已下架并更换供应商"),
        ("files", "data:application/pdf;base64,JVBERi0="),
    ]))
    .unwrap();
    let ent = Actor::user("ent0");
    assert!(matches!(
        store.submit_evidence(&ent, s.id, Some(entities[1].id), &evidence).await,
        Err(StoreError::NotFound)
    ));
    store.submit_evidence(&ent, s.id, Some(entities[0].id), &evidence).await.unwrap().unwrap();
    let passed = EventInput {
        outcome: Some(Outcome::Pass),
        note: Some("复查合格".into()),
        ..ev(EventKind::Reinspect, time::OffsetDateTime::now_utc())
    };
    let s5 = store.sample_event(&reg, s.id, &passed, None).await.unwrap().unwrap();
    assert_eq!(s5.status, "closed");
    let ro = s5.rectification.unwrap();
    assert!(ro.closed_at.is_some());
    assert_eq!(ro.evidence[0].verification.as_deref(), Some("accepted"));

    // Publication, then the public list with the notice columns.
    let pubd = PublicationDraft::parse(&fields(&[
        ("announcement_no", "津滨市监抽〔2025〕12号"),
        ("announcement_date", "2025-11-10"),
        ("task_source", "滨海新区市场监管局"),
    ]))
    .unwrap();
    store.publish_result(&reg, s.id, &pubd).await.unwrap().unwrap();
    let (rows, total) =
        store.public_results(&PublicQuery { q: Some("芹菜".into()), limit: 50, ..Default::default() }).await.unwrap();
    assert_eq!(total, 1);
    assert_eq!(rows[0].failing_items, "毒死蜱║0.048mg/kg║≤0.02mg/kg");
    assert_eq!(rows[0].lab, "北京市某检测中心", "an upheld re-test names the re-test lab");
    assert_eq!(rows[0].production_date_batch.as_deref(), Some("2025-09-20/20250920"));
    assert_eq!(
        store
            .public_results(&PublicQuery { q: Some("不存在".into()), limit: 50, ..Default::default() })
            .await
            .unwrap()
            .1,
        0
    );

    // A passing evaluative sample and a risk-monitoring one (never published).
    let p =
        store.create_sample(&reg, &parse(sample_fields("SC-2025-002", &entities[1].uscc, "evaluative"))).await.unwrap();
    store
        .sample_event(&reg, p.id, &ev(EventKind::Deliver, datetime!(2025-09-23 02:00 UTC)), None)
        .await
        .unwrap()
        .unwrap();
    let p = store
        .record_results(&reg, p.id, &[m("毒死蜱", 0.01, "mg/kg")], datetime!(2025-09-25 02:00 UTC))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.status, "passed");
    let r = store
        .create_sample(&reg, &parse(sample_fields("SC-2025-003", &entities[2].uscc, "risk_monitoring")))
        .await
        .unwrap();
    store
        .sample_event(&reg, r.id, &ev(EventKind::Deliver, datetime!(2025-09-23 02:00 UTC)), None)
        .await
        .unwrap()
        .unwrap();
    let r = store
        .record_results(&reg, r.id, &[m("毒死蜱", 0.5, "mg/kg")], datetime!(2025-09-25 02:00 UTC))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((r.status.as_str(), r.verdict.as_deref()), ("recorded", None));
    assert!(store.publish_result(&reg, r.id, &pubd).await.unwrap().is_err());

    // Figures: pass rate per purpose; rectification completion.
    let f = store.sampling_figures(None, None).await.unwrap();
    let by: HashMap<&str, (i64, i64)> =
        f.pass_rate_by_purpose.iter().map(|p| (p.purpose.as_str(), (p.judged, p.passed))).collect();
    assert_eq!(by.get("supervisory"), Some(&(1, 0)));
    assert_eq!(by.get("evaluative"), Some(&(1, 1)));
    assert!(!by.contains_key("risk_monitoring"));
    assert_eq!((f.rectification_orders, f.rectifications_closed, f.rectification_completion_rate), (1, 1, 1.0));
    assert!(f.pass_rates.iter().all(|p| p.period == "2025-09"));

    // Enterprise scope: the sampled entity sees its own sample only.
    let (mine, n) = store
        .list_samples(&SampleQuery { entity: Some(entities[0].id), limit: 50, ..Default::default() })
        .await
        .unwrap();
    assert_eq!((n, mine[0].sample_no.as_str()), (1, "SC-2025-001"));

    // Everything above is on an intact audit chain.
    assert!(store.audit_verify().await.unwrap().is_ok());
}

#[tokio::test]
async fn sampling_story_sqlite() {
    story(Engine::Sqlite).await;
}

#[tokio::test]
async fn sampling_story_postgres() {
    story(Engine::Postgres).await;
}
