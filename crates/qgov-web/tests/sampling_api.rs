//! Sampling API on the real server (port 0), on SQLite and PostgreSQL: the full walk from task
//! to published result, with the draw verified from what the public endpoint shows.

use qgov_domain::Role;
use qgov_sampling::draw;
use qgov_store::sampling::DrawInputs;
use qgov_store::{Actor, Engine, Store, testing};
use reqwest::StatusCode;
use serde_json::{Value, json};

mod common;
use common::{App, code, spawn};

impl App {
    async fn send(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
        let mut rb = self.http.request(method.parse().unwrap(), format!("{}{}", self.base, path));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let res = rb.send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
    async fn ok(&self, method: &str, path: &str, token: &str, body: Value) -> Value {
        let (s, v) = self.send(method, path, Some(token), Some(body)).await;
        assert!(s.is_success(), "{method} {path} gave {s}: {v}");
        v
    }
}

async fn walk(engine: Engine) {
    let app = spawn(engine).await;
    let reg = app.token("reg", Role::Regulator, None).await;
    let mut ents = vec![];
    for (i, body) in ["MA05K1T1", "MA05K1T2", "MA05K1T3", "MA05K1T4"].iter().enumerate() {
        let v = app.ok("POST", "/api/v1/enterprises", &reg, json!({"uscc": code(body), "name": format!("天津{i}号食品有限公司"), "industry": "food_production", "address": "滨海新区某路"})).await;
        ents.push(v);
    }
    let mut insp = vec![];
    for (n, c) in [("张三", "C1"), ("李四", "C2"), ("王五", "C3")] {
        insp.push(
            app.ok(
                "POST",
                "/api/v1/inspectors",
                &reg,
                json!({"name": n, "department_code": "amr", "certificate_no": c}),
            )
            .await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let ent = app.token("ent", Role::Enterprise, Some(ents[0]["id"].as_i64().unwrap())).await;
    let other = app.token("other", Role::Enterprise, Some(ents[1]["id"].as_i64().unwrap())).await;
    app.ok(
        "POST",
        "/api/v1/sampling/credit-classes",
        &reg,
        json!({"uscc": code("MA05K1T1"), "class": "D", "since": "2025-01-01"}),
    )
    .await;
    let (s, v) = app
        .send(
            "POST",
            "/api/v1/sampling/credit-classes",
            Some(&reg),
            Some(json!({"uscc": code("MA05K1T1"), "class": "E"})),
        )
        .await;
    assert_eq!((s, v["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("class")), "{v}");
    app.ok(
        "POST",
        "/api/v1/sampling/conflicts",
        &reg,
        json!({"inspector_id": insp[0], "uscc": code("MA05K1T1"), "reason": "亲属"}),
    )
    .await;

    // List, plan, task (ratio: class D at 100 % → the D entity is always drawn).
    app.ok("POST", "/api/v1/sampling/check-items", &reg, json!({"code": "SP-01", "name": "食品生产监督抽检", "legal_basis": "食品安全法 第八十七条", "authority": "区市场监管局", "object_type": "食品生产者", "method": "on_site", "category": "key", "sub_items": ["抽样", "检验"]})).await;
    let (s, v) = app
        .send(
            "POST",
            "/api/v1/sampling/check-items",
            Some(&reg),
            Some(json!({"code": "SP-02", "name": "x", "method": "telepathy"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = v["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert!(fields.contains(&"method") && fields.contains(&"legal_basis"), "{v}");
    let plan = app
        .ok(
            "POST",
            "/api/v1/sampling/plans",
            &reg,
            json!({"year": 2025, "name": "2025年度计划", "department_code": "amr"}),
        )
        .await;
    let task = app.ok("POST", "/api/v1/sampling/tasks", &reg, json!({"plan_id": plan["id"], "name": "食品专项", "ratios": "A=0,B=0.34,C=0,D=1", "period_start": "2025-09-01", "period_end": "2025-12-31", "initiating_department_code": "amr", "check_item_codes": ["SP-01"]})).await;
    let tid = task["id"].as_i64().unwrap();

    // Draw: commit (public), reveal, recompute from what the public endpoint shows.
    let seed = b"binhai-api-walk-seed-000001";
    app.ok(
        "POST",
        &format!("/api/v1/sampling/tasks/{tid}/draw/commit"),
        &reg,
        json!({"commitment": draw::commitment(seed)}),
    )
    .await;
    let (s, public) = app.send("GET", &format!("/api/v1/sampling/tasks/{tid}/draw"), None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(public["seed_hex"].is_null() && public["assignments"].is_null(), "{public}");
    let (s, _) = app
        .send(
            "POST",
            &format!("/api/v1/sampling/tasks/{tid}/draw/reveal"),
            Some(&reg),
            Some(json!({"seed": hex::encode(b"wrong-seed-wrong-seed")})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    app.ok("POST", &format!("/api/v1/sampling/tasks/{tid}/draw/reveal"), &reg, json!({"seed": hex::encode(seed)}))
        .await;
    let (_, public) = app.send("GET", &format!("/api/v1/sampling/tasks/{tid}/draw"), None, None).await;
    let inputs: DrawInputs = serde_json::from_value(public["inputs"].clone()).unwrap();
    let assignments: Vec<draw::Assignment> = serde_json::from_value(public["assignments"].clone()).unwrap();
    let seed_back = hex::decode(public["seed_hex"].as_str().unwrap()).unwrap();
    assert_eq!(
        draw::verify(&inputs.to_input().unwrap(), &seed_back, public["commitment"].as_str().unwrap(), &assignments),
        Ok(())
    );
    let d_entity = assignments.iter().find(|a| a.target == code("MA05K1T1")).expect("class D at 100 % is drawn");
    assert!(!d_entity.inspectors.contains(&"C1".to_string()), "declared conflict avoided");
    assert_eq!(assignments.len(), 3, "D: 1 of 1; B (the three unclassified): ⌈0.34 × 3⌉ = 2 → {assignments:?}");

    // Limits by CSV import, then the sample of the drawn D entity.
    let csv = "standard_code,product_category,test_item,kind,min,max,unit\nGB 2763-2021,蔬菜,毒死蜱,max,,0.02,mg/kg\nGB 2762-2022,蔬菜,铅,max,,0.3,mg/kg\nGB 2762-2022,蔬菜,x,range,,1,\n";
    let res = app
        .http
        .post(format!("{}/api/v1/sampling/limits/import", app.base))
        .bearer_auth(&reg)
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "a bad row refuses the file");
    let csv = "standard_code,product_category,test_item,kind,min,max,unit\nGB 2763-2021,蔬菜,毒死蜱,max,,0.02,mg/kg\n";
    let res = app
        .http
        .post(format!("{}/api/v1/sampling/limits/import", app.base))
        .bearer_auth(&reg)
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let sample = app.ok("POST", "/api/v1/sampling/samples", &reg, json!({
        "sample_no": "DC25120116001", "task_id": tid, "regime": "food", "purpose": "supervisory", "product_name": "芹菜", "brand": "滨海",
        "specification": "散装", "batch_no": "20250920", "product_category": "蔬菜", "standard_code": "GB 2763-2021",
        "sampled_uscc": code("MA05K1T1"), "producer_name": "天津某农业合作社", "producer_address": "滨海新区某村",
        "sampler_ids": [insp[1].to_string(), insp[2].to_string()], "lab": "天津市食品安全检测技术研究院",
        "photos": ["data:image/png;base64,iVBORw0KGgo="], "sampled_at": "2025-09-22T10:00:00+08:00"})).await;
    let sid = sample["id"].as_i64().unwrap();
    let ev = |kind: &str, at: &str| json!({"kind": kind, "at": at});
    app.ok("POST", &format!("/api/v1/sampling/samples/{sid}/events"), &reg, ev("deliver", "2025-09-23T10:00:00+08:00"))
        .await;
    let (s, v) = app.send("POST", &format!("/api/v1/sampling/samples/{sid}/results"), Some(&reg), Some(json!({"items": [{"test_item": "毒死蜱", "value": 0.5, "unit": "g/kg"}], "at": "2025-09-25T10:00:00+08:00"}))).await;
    assert_eq!((s, v["errors"][0]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("unit-mismatch")), "{v}");
    let v = app.ok("POST", &format!("/api/v1/sampling/samples/{sid}/results"), &reg, json!({"items": [{"test_item": "毒死蜱", "value": 0.052, "unit": "mg/kg"}], "at": "2025-09-25T10:00:00+08:00"})).await;
    assert_eq!((v["status"].as_str(), v["verdict"].as_str()), (Some("failed"), Some("fail")));
    let v = app
        .ok("POST", &format!("/api/v1/sampling/samples/{sid}/events"), &reg, ev("notify", "2025-09-26T10:00:00+08:00"))
        .await;
    let window =
        v["steps"].as_array().unwrap().iter().find(|s| s["rule_id"] == "food.retest_application").unwrap().clone();
    assert_eq!(
        (window["due_on"].as_str(), window["state"].as_str()),
        (Some("2025-10-13"), Some("expired")),
        "{window}"
    );
    // The re-test window: confirming early is refused with the date; after it, accepted.
    let (s, v) = app
        .send(
            "POST",
            &format!("/api/v1/sampling/samples/{sid}/events"),
            Some(&reg),
            Some(ev("confirm_failure", "2025-10-10T10:00:00+08:00")),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(v["detail"].as_str().unwrap().contains("2025-10-13"), "{v}");
    app.ok(
        "POST",
        &format!("/api/v1/sampling/samples/{sid}/events"),
        &reg,
        ev("confirm_failure", "2025-10-14T10:00:00+08:00"),
    )
    .await;
    let v = app
        .ok(
            "POST",
            &format!("/api/v1/sampling/samples/{sid}/events"),
            &reg,
            json!({"kind": "order_rectification", "at": "2025-10-15T10:00:00+08:00", "note": "立即停止销售，限期整改"}),
        )
        .await;
    assert_eq!(v["rectification"]["order_no"], "ZG-DC25120116001");

    // The enterprise sees its own sample and notices; another enterprise sees nothing.
    let (s, mine) = app.send("GET", &format!("/api/v1/sampling/samples/{sid}"), Some(&ent), None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(mine["events"].as_array().unwrap().iter().any(|e| e["kind"] == "notify"));
    assert_eq!(
        app.send("GET", &format!("/api/v1/sampling/samples/{sid}"), Some(&other), None).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, list) = app.send("GET", "/api/v1/sampling/samples", Some(&other), None).await;
    assert_eq!(list["total"], 0);
    let evidence = json!({"description": "已下架并更换供应商", "files": ["data:application/pdf;base64,JVBERi0="]});
    assert_eq!(
        app.send("POST", &format!("/api/v1/sampling/samples/{sid}/evidence"), Some(&other), Some(evidence.clone()))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let v = app.ok("POST", &format!("/api/v1/sampling/samples/{sid}/evidence"), &ent, evidence).await;
    assert_eq!(v["status"], "evidence_submitted");
    assert_eq!(
        app.send(
            "POST",
            &format!("/api/v1/sampling/samples/{sid}/events"),
            Some(&ent),
            Some(ev("reinspect", "2025-11-01T10:00:00+08:00"))
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );

    // The regulator verifies by re-inspection: closed.
    let v = app
        .ok(
            "POST",
            &format!("/api/v1/sampling/samples/{sid}/events"),
            &reg,
            json!({"kind": "reinspect", "outcome": "pass", "note": "复查合格"}),
        )
        .await;
    assert_eq!(v["status"], "closed");
    assert_eq!(v["rectification"]["evidence"][0]["verification"], "accepted");
    let (_, over) = app.send("GET", "/api/v1/sampling/overdue", Some(&reg), None).await;
    assert!(
        over.as_array().unwrap().iter().any(|o| o["rule_id"] == "food.publication"),
        "publication is now overdue: {over}"
    );

    // Published, visible without login, searchable, exportable.
    let (s, _) = app.send("GET", "/api/v1/public/sampling-results", None, None).await;
    assert_eq!(s, StatusCode::OK);
    app.ok("POST", &format!("/api/v1/sampling/samples/{sid}/publication"), &reg, json!({"announcement_no": "津滨市监抽〔2025〕12号", "announcement_date": "2025-11-10", "task_source": "滨海新区市场监管局"})).await;
    let (s, v) = app.send("GET", "/api/v1/public/sampling-results?q=芹菜&verdict=fail", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["total"], 1, "{v}");
    assert_eq!(v["items"][0]["failing_items"], "毒死蜱║0.052mg/kg║≤0.02mg/kg");
    assert_eq!(v["items"][0]["sampled_name"], "天津0号食品有限公司");
    let res = app.http.get(format!("{}/api/v1/public/sampling-results?format=xlsx", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = res.bytes().await.unwrap();
    let cols = [
        "序号",
        "标称生产企业名称",
        "标称生产企业地址",
        "被抽样单位名称",
        "被抽样单位地址",
        "食品名称",
        "规格型号",
        "商标",
        "生产日期/批号",
        "不合格项目║检验结果║标准值",
        "分类",
        "公告号",
        "公告日期",
        "任务来源",
        "检验机构",
        "备注",
    ];
    let rows = qgov_web::tabular::read(qgov_web::tabular::Format::Xlsx, &bytes, &cols).unwrap();
    assert_eq!(rows[0].get("公告号").as_deref(), Some("津滨市监抽〔2025〕12号"));
    let (_, f) = app.send("GET", "/api/v1/sampling/figures", Some(&reg), None).await;
    assert_eq!(f["rectification_completion_rate"], 1.0);
    assert!(app.store.audit_verify().await.unwrap().is_ok());
}

#[tokio::test]
async fn sampling_walk_sqlite() {
    walk(Engine::Sqlite).await;
}

#[tokio::test]
async fn sampling_walk_postgres() {
    walk(Engine::Postgres).await;
}

/// What the console adds to the store: calendar years loaded by an admin, draws with a seed the
/// server keeps sealed until the reveal, and tasks frozen once their draw is committed.
async fn console_backend(engine: Engine) {
    use qgov_store::sampling::drafts::{PlanDraft, TaskDraft};
    let url = testing::fresh_database(engine).await;
    let store = Store::connect(&url).await.unwrap();
    let admin = Actor::user("admin");

    // Calendar: a bad file names its line and stores nothing; a good one extends the calendar.
    assert!(!store.work_calendar().await.unwrap().has_year(2031));
    let e = store.load_calendar_year(&admin, "year 2031\noff 2031-02-30").await.unwrap_err();
    assert!(e.to_string().contains("line 2") || format!("{e:?}").contains("line 2"), "{e:?}");
    assert_eq!(store.load_calendar_year(&admin, "year 2031\noff 2031-01-01\nwork 2031-01-04").await.unwrap(), 2031);
    let cal = store.work_calendar().await.unwrap();
    assert!(cal.has_year(2031) && cal.has_year(2025), "loaded years join the built-in ones");
    assert!(!cal.is_working_day(time::macros::date!(2031 - 01 - 01)));
    assert!(cal.is_working_day(time::macros::date!(2031 - 01 - 04)), "a Saturday made a working day");
    let years = store.calendar_years().await.unwrap();
    assert_eq!(years.iter().find(|y| y.year == 2031).map(|y| y.source.as_str()), Some("loaded"));
    assert_eq!(years.iter().find(|y| y.year == 2026).map(|y| y.source.as_str()), Some("builtin"));

    // A plan and a task, both editable until the draw is committed.
    let f = |pairs: &[(&str, &str)]| {
        let m: std::collections::HashMap<String, String> =
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |k: &str| m.get(k).cloned()
    };
    let plan = store
        .create_plan(
            &admin,
            &PlanDraft::parse(&f(&[("year", "2026"), ("name", "计划"), ("department_code", "amr")])).unwrap(),
        )
        .await
        .unwrap();
    let plan = store
        .update_plan(
            &admin,
            plan.id,
            &PlanDraft::parse(&f(&[("year", "2026"), ("name", "2026年度计划"), ("department_code", "amr")])).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(plan.name, "2026年度计划");
    store
        .create_check_item(
            &admin,
            &qgov_store::sampling::drafts::CheckItemDraft::parse(&f(&[
                ("code", "C1"),
                ("name", "n"),
                ("legal_basis", "b"),
                ("authority", "a"),
                ("object_type", "o"),
                ("method", "written"),
            ]))
            .unwrap(),
        )
        .await
        .unwrap();
    let plan_id = plan.id.to_string();
    let task_fields = [
        ("plan_id", plan_id.as_str()),
        ("name", "任务"),
        ("count", "1"),
        ("period_start", "2026-01-01"),
        ("period_end", "2026-06-30"),
        ("initiating_department_code", "amr"),
        ("check_item_codes", "C1"),
    ];
    let task = store.create_task(&admin, &TaskDraft::parse(&f(&task_fields)).unwrap()).await.unwrap();
    let mut changed = task_fields.to_vec();
    changed[1] = ("name", "改名的任务");
    let task = store.update_task(&admin, task.id, &TaskDraft::parse(&f(&changed)).unwrap()).await.unwrap();
    assert_eq!(task.name, "改名的任务");

    // The sealed draw: only the commitment is public, then the seed that hashes to it.
    let committed = store.draw_commit_sealed(&admin, task.id).await.unwrap();
    assert!(committed.seed_hex.is_none() && committed.commitment.len() == 64);
    assert!(store.draw_of(task.id).await.unwrap().seed_hex.is_none(), "the seed stays sealed");
    assert!(
        matches!(
            store.update_task(&admin, task.id, &TaskDraft::parse(&f(&task_fields)).unwrap()).await,
            Err(qgov_store::StoreError::Conflict { .. })
        ),
        "a committed task is frozen"
    );
    assert!(matches!(store.draw_commit_sealed(&admin, task.id).await, Err(qgov_store::StoreError::Conflict { .. })));
    let uscc = code("MA05K1T9");
    store
        .create::<qgov_store::MarketEntity>(
            &admin,
            &qgov_domain::registers::MarketEntityDraft::parse(&f(&[
                ("uscc", uscc.as_str()),
                ("name", "天津某公司"),
                ("industry", "food_production"),
            ]))
            .unwrap(),
        )
        .await
        .unwrap();
    for (name, cert) in [("张三", "S1"), ("李四", "S2")] {
        let d = qgov_domain::registers::InspectorDraft::parse(&f(&[
            ("name", name),
            ("department_code", "amr"),
            ("certificate_no", cert),
        ]));
        store.create::<qgov_store::Inspector>(&admin, &d.unwrap()).await.unwrap();
    }
    let revealed = store.draw_reveal_sealed(&admin, task.id).await.unwrap();
    let seed = hex::decode(revealed.seed_hex.unwrap()).unwrap();
    assert_eq!(draw::commitment(&seed), committed.commitment);
    assert_eq!(revealed.assignments.unwrap().len(), 1);
    assert!(store.audit_verify().await.unwrap().is_ok());
}

#[tokio::test]
async fn console_backend_sqlite() {
    console_backend(Engine::Sqlite).await;
}

#[tokio::test]
async fn console_backend_postgres() {
    console_backend(Engine::Postgres).await;
}
