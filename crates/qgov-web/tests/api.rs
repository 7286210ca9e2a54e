//! API tests against the real server on a free port, on SQLite and on PostgreSQL.

use qgov_domain::Role;
use qgov_store::Engine;
use reqwest::StatusCode;
use serde_json::{Value, json};

mod common;
use common::{App, code, spawn};

impl App {
    async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, String, Value) {
        let mut rb = self.http.request(method.parse().unwrap(), format!("{}{}", self.base, path));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let res = rb.send().await.unwrap();
        let status = res.status();
        let ct = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let text = res.text().await.unwrap();
        (status, ct, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
}

fn assert_problem(ct: &str, v: &Value, status: StatusCode) {
    assert_eq!(ct, "application/problem+json", "{v}");
    assert_eq!(v["status"], status.as_u16(), "{v}");
    assert!(v["title"].is_string() && v["detail"].is_string(), "{v}");
}

async fn contract(engine: Engine) {
    let app = spawn(engine).await;
    let admin = app.token("admin", Role::Admin, None).await;
    let regulator = app.token("reg", Role::Regulator, None).await;

    assert_eq!(app.http.get(format!("{}/healthz", app.base)).send().await.unwrap().status(), 200);
    assert_eq!(app.http.get(format!("{}/readyz", app.base)).send().await.unwrap().status(), 200);

    let good = code("MA05K1TQ");
    let (s, _, v) = app
        .send("POST", "/api/v1/enterprises", Some(&admin), Some(json!({"uscc": good, "name": "天津甲食品有限公司"})))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["uscc"], good.as_str());
    assert!(v["id"].is_i64());

    let (s, ct, v) = app
        .send("POST", "/api/v1/enterprises", Some(&regulator), Some(json!({"uscc": "91120116MA05K1TQ00", "name": "x"})))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_problem(&ct, &v, s);
    assert_eq!(v["errors"][0]["field"], "uscc", "{v}");

    let (s, ct, v) =
        app.send("POST", "/api/v1/enterprises", Some(&regulator), Some(json!({"uscc": good, "name": "重复"}))).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_problem(&ct, &v, s);

    let (s, ct, v) = app.send("POST", "/api/v1/enterprises", None, Some(json!({"uscc": good, "name": "x"}))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_problem(&ct, &v, s);
    let (s, _, _) = app.send("GET", "/api/v1/enterprises", Some("qgov_not_a_token"), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // Malformed JSON, wrong types, unknown fields, wrong content type, oversize bodies.
    let res = app
        .http
        .post(format!("{}/api/v1/enterprises", app.base))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("{\"uscc\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("malformed JSON"));
    let (s, ct, v) = app
        .send("POST", "/api/v1/enterprises", Some(&admin), Some(json!({"uscc": 12, "name": {"a": 1}, "colour": "red"})))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_problem(&ct, &v, s);
    let fields: Vec<&str> = v["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert!(fields.contains(&"name") && fields.contains(&"colour"), "{v}");
    let res = app
        .http
        .post(format!("{}/api/v1/enterprises", app.base))
        .bearer_auth(&admin)
        .body("uscc=1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let res = app
        .http
        .post(format!("{}/api/v1/enterprises", app.base))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(res.headers()["content-type"], "application/problem+json");

    // Unknown list parameters and sort columns are refused, not ignored.
    let (s, _, v) = app.send("GET", "/api/v1/enterprises?sort=password", Some(&admin), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, _, v) = app.send("GET", "/api/v1/enterprises?q=甲&sort=name&dir=desc&per_page=5", Some(&admin), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["total"], 1);

    // Nothing half-written: exactly one entity exists and the chain is intact.
    assert_eq!(app.store.list_entities(&Default::default()).await.unwrap().total, 1);
    assert!(app.store.audit_verify().await.unwrap().is_ok());

    // PATCH merges; a credit-code change to an existing one is a conflict.
    let id = v["items"][0]["id"].as_i64().unwrap();
    let (s, _, v) = app
        .send(
            "PATCH",
            &format!("/api/v1/enterprises/{id}"),
            Some(&regulator),
            Some(json!({"street": "新港街道", "licences": ["SC1", "SC2"]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["name"], "天津甲食品有限公司");
    assert_eq!(v["licences"], json!(["SC1", "SC2"]));

    // Tokens: create, use, revoke.
    let (s, _, v) = app.send("POST", "/api/v1/tokens", Some(&admin), Some(json!({"name": "second"}))).await;
    assert_eq!(s, StatusCode::CREATED);
    let second = v["secret"].as_str().unwrap().to_owned();
    let tid = v["token"]["id"].as_i64().unwrap();
    assert_eq!(app.send("GET", "/api/v1/me", Some(&second), None).await.2["username"], "admin");
    let (s, _, _) = app.send("DELETE", &format!("/api/v1/tokens/{tid}"), Some(&admin), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(app.send("GET", "/api/v1/me", Some(&second), None).await.0, StatusCode::UNAUTHORIZED);

    // Users: admin only; unknown roles named.
    let (s, _, v) = app
        .send(
            "POST",
            "/api/v1/users",
            Some(&admin),
            Some(json!({"username": "x", "password": "long enough", "role": "root"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["errors"][0]["field"], "role");
    let (s, _, _) = app
        .send(
            "POST",
            "/api/v1/users",
            Some(&regulator),
            Some(json!({"username": "x", "password": "long enough", "role": "admin"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Deactivating an account stops its tokens at once; admins cannot lock themselves out.
    let reg_id = app.send("GET", "/api/v1/me", Some(&regulator), None).await.2["id"].as_i64().unwrap();
    let (s, _, v) =
        app.send("PATCH", &format!("/api/v1/users/{reg_id}"), Some(&admin), Some(json!({"active": false}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["active"], false);
    assert_eq!(app.send("GET", "/api/v1/me", Some(&regulator), None).await.0, StatusCode::UNAUTHORIZED);
    let admin_id = app.send("GET", "/api/v1/me", Some(&admin), None).await.2["id"].as_i64().unwrap();
    let (s, _, v) =
        app.send("PATCH", &format!("/api/v1/users/{admin_id}"), Some(&admin), Some(json!({"active": false}))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, _, _) =
        app.send("PATCH", &format!("/api/v1/users/{reg_id}"), Some(&admin), Some(json!({"active": "no"}))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // The OpenAPI document is generated from the handlers.
    let (s, _, doc) = app.send("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["paths"]["/api/v1/enterprises"]["post"].is_object());
}

async fn import_export(engine: Engine) {
    let app = spawn(engine).await;
    let admin = app.token("admin", Role::Admin, None).await;
    let csv = format!(
        "uscc,name,industry,street\n{},甲,food_production,新港街道\n91120116MA05K1TQ00,乙,catering,\n{},丙,mining,\n{},丁,catering,大港街道\n",
        code("MA05K1T1"),
        code("MA05K1T2"),
        code("MA05K1T1")
    );
    let res = app
        .http
        .post(format!("{}/api/v1/enterprises/import?format=csv", app.base))
        .bearer_auth(&admin)
        .body(csv.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = res.json().await.unwrap();
    let bad: Vec<(i64, &str)> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["row"].as_i64().unwrap(), e["field"].as_str().unwrap()))
        .collect();
    assert_eq!(bad, [(3, "uscc"), (4, "industry"), (5, "uscc")], "{v}");
    assert_eq!(app.store.list_entities(&Default::default()).await.unwrap().total, 0, "all-or-nothing");

    let res = app
        .http
        .post(format!("{}/api/v1/enterprises/import?format=csv&mode=skip-invalid", app.base))
        .bearer_auth(&admin)
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["inserted"], 1);

    let res = app
        .http
        .get(format!("{}/api/v1/enterprises/export?format=csv", app.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    assert!(text.contains(&code("MA05K1T1")) && text.contains("新港街道"), "{text}");
    let res = app
        .http
        .get(format!("{}/api/v1/enterprises/export?format=xlsx", app.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    let bytes = res.bytes().await.unwrap();
    let rows = qgov_web::tabular::read(
        qgov_web::tabular::Format::Xlsx,
        &bytes,
        qgov_store::RegisterKind::Enterprises.columns(),
    )
    .unwrap();
    assert_eq!(rows[0].get("name").as_deref(), Some("甲"));
    let res = app
        .http
        .post(format!("{}/api/v1/enterprises/import?format=csv", app.base))
        .bearer_auth(&admin)
        .body("uscc,colour\n")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("colour"));
}

/// An enterprise account can never read or change another enterprise's non-public
/// data, on any route. The route table below must name every path of the OpenAPI
/// document, so a new route cannot be added without being checked here.
async fn enterprise_isolation(engine: Engine) {
    let app = spawn(engine).await;
    let admin = app.token("admin", Role::Admin, None).await;
    let mut ids = vec![];
    for (body, name, gtin, gln) in
        [("MA05K1T1", "我方", "6901234567892", "6901234000009"), ("MA05K1T2", "他方", "96385074", "6901234000016")]
    {
        let (_, _, e) = app
            .send("POST", "/api/v1/enterprises", Some(&admin), Some(json!({"uscc": code(body), "name": name})))
            .await;
        let (s, _, p) = app
            .send(
                "POST",
                "/api/v1/products",
                Some(&admin),
                Some(json!({"gtin": gtin, "name": "奶", "owner_uscc": code(body)})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{p}");
        let (s, _, l) = app
            .send(
                "POST",
                "/api/v1/locations",
                Some(&admin),
                Some(json!({"gln": gln, "name": "仓", "owner_uscc": code(body)})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{l}");
        ids.push((e["id"].as_i64().unwrap(), p["id"].as_i64().unwrap(), l["id"].as_i64().unwrap()));
    }
    let (mine, theirs) = (ids[0], ids[1]);
    let me = app.token("ent", Role::Enterprise, Some(mine.0)).await;
    let (_, _, insp) = app
        .send(
            "POST",
            "/api/v1/inspectors",
            Some(&admin),
            Some(json!({"name": "张三", "department_code": "amr", "certificate_no": "C1"})),
        )
        .await;
    let insp = insp["id"].as_i64().unwrap();
    // Sampling data of the other enterprise: a sample with a rectification order.
    let (_, _, insp2) = app
        .send(
            "POST",
            "/api/v1/inspectors",
            Some(&admin),
            Some(json!({"name": "李四", "department_code": "amr", "certificate_no": "C9"})),
        )
        .await;
    let (s, _, their_sample) = app
        .send(
            "POST",
            "/api/v1/sampling/samples",
            Some(&admin),
            Some(json!({"sample_no": "S-THEIRS", "regime": "food", "purpose": "supervisory", "product_name": "奶", "product_category": "乳制品",
                "standard_code": "GB 19301-2010", "sampled_uscc": code("MA05K1T2"), "sampler_ids": [insp.to_string(), insp2["id"].to_string()]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{their_sample}");
    let their_sample = format!("/api/v1/sampling/samples/{}", their_sample["id"]);

    let denied = |s: StatusCode| s == StatusCode::FORBIDDEN || s == StatusCode::NOT_FOUND;
    // (method, path template, path to try with the other enterprise's ids, body)
    let other_products = format!("/api/v1/products/{}", theirs.1);
    let other_locations = format!("/api/v1/locations/{}", theirs.2);
    let other_entity = format!("/api/v1/enterprises/{}", theirs.0);
    let checks: Vec<(&str, &str, String, Option<Value>)> = vec![
        ("GET", "/api/v1/enterprises/{id}", other_entity.clone(), None),
        ("PATCH", "/api/v1/enterprises/{id}", other_entity.clone(), Some(json!({"name": "hijack"}))),
        (
            "PATCH",
            "/api/v1/enterprises/{id}",
            format!("/api/v1/enterprises/{}", mine.0),
            Some(json!({"status": "active"})),
        ),
        (
            "POST",
            "/api/v1/enterprises",
            "/api/v1/enterprises".into(),
            Some(json!({"uscc": code("MA05K1T3"), "name": "x"})),
        ),
        ("GET", "/api/v1/products/{id}", other_products.clone(), None),
        ("PATCH", "/api/v1/products/{id}", other_products.clone(), Some(json!({"name": "hijack"}))),
        ("GET", "/api/v1/locations/{id}", other_locations.clone(), None),
        ("PATCH", "/api/v1/locations/{id}", other_locations.clone(), Some(json!({"name": "hijack"}))),
        ("GET", "/api/v1/inspectors", "/api/v1/inspectors".into(), None),
        ("GET", "/api/v1/inspectors/{id}", format!("/api/v1/inspectors/{insp}"), None),
        ("PATCH", "/api/v1/inspectors/{id}", format!("/api/v1/inspectors/{insp}"), Some(json!({"name": "x"}))),
        (
            "POST",
            "/api/v1/inspectors",
            "/api/v1/inspectors".into(),
            Some(json!({"name": "x", "department_code": "amr", "certificate_no": "C2"})),
        ),
        ("GET", "/api/v1/inspectors/export", "/api/v1/inspectors/export".into(), None),
        ("POST", "/api/v1/inspectors/import", "/api/v1/inspectors/import".into(), None),
        ("POST", "/api/v1/enterprises/import", "/api/v1/enterprises/import".into(), None),
        ("POST", "/api/v1/products/import", "/api/v1/products/import".into(), None),
        ("POST", "/api/v1/locations/import", "/api/v1/locations/import".into(), None),
        ("POST", "/api/v1/departments/import", "/api/v1/departments/import".into(), None),
        ("POST", "/api/v1/departments", "/api/v1/departments".into(), Some(json!({"code": "x", "name": "x"}))),
        ("PATCH", "/api/v1/departments/{id}", "/api/v1/departments/1".into(), Some(json!({"name": "x"}))),
        ("GET", "/api/v1/users", "/api/v1/users".into(), None),
        ("PATCH", "/api/v1/users/{id}", "/api/v1/users/1".into(), Some(json!({"active": false}))),
        (
            "POST",
            "/api/v1/users",
            "/api/v1/users".into(),
            Some(json!({"username": "x", "password": "long enough", "role": "admin"})),
        ),
        ("GET", "/api/v1/audit", "/api/v1/audit".into(), None),
        ("GET", "/api/v1/audit/verify", "/api/v1/audit/verify".into(), None),
        ("GET", "/api/v1/sampling/check-items", "/api/v1/sampling/check-items".into(), None),
        ("POST", "/api/v1/sampling/check-items", "/api/v1/sampling/check-items".into(), Some(json!({"code": "x"}))),
        ("GET", "/api/v1/sampling/check-items/{id}", "/api/v1/sampling/check-items/1".into(), None),
        (
            "PATCH",
            "/api/v1/sampling/check-items/{id}",
            "/api/v1/sampling/check-items/1".into(),
            Some(json!({"name": "x"})),
        ),
        (
            "POST",
            "/api/v1/sampling/credit-classes",
            "/api/v1/sampling/credit-classes".into(),
            Some(json!({"uscc": code("MA05K1T2"), "class": "A"})),
        ),
        (
            "POST",
            "/api/v1/sampling/conflicts",
            "/api/v1/sampling/conflicts".into(),
            Some(json!({"inspector_id": insp, "uscc": code("MA05K1T2")})),
        ),
        ("GET", "/api/v1/sampling/plans", "/api/v1/sampling/plans".into(), None),
        (
            "POST",
            "/api/v1/sampling/plans",
            "/api/v1/sampling/plans".into(),
            Some(json!({"year": 2026, "name": "x", "department_code": "amr"})),
        ),
        ("GET", "/api/v1/sampling/plans/{id}", "/api/v1/sampling/plans/1".into(), None),
        ("GET", "/api/v1/sampling/tasks", "/api/v1/sampling/tasks".into(), None),
        ("POST", "/api/v1/sampling/tasks", "/api/v1/sampling/tasks".into(), Some(json!({"name": "x"}))),
        ("GET", "/api/v1/sampling/tasks/{id}", "/api/v1/sampling/tasks/1".into(), None),
        (
            "POST",
            "/api/v1/sampling/tasks/{id}/draw/commit",
            "/api/v1/sampling/tasks/1/draw/commit".into(),
            Some(json!({"commitment": "00"})),
        ),
        (
            "POST",
            "/api/v1/sampling/tasks/{id}/draw/reveal",
            "/api/v1/sampling/tasks/1/draw/reveal".into(),
            Some(json!({"seed": "00"})),
        ),
        ("GET", "/api/v1/sampling/limits", "/api/v1/sampling/limits".into(), None),
        ("POST", "/api/v1/sampling/limits/import", "/api/v1/sampling/limits/import".into(), None),
        ("POST", "/api/v1/sampling/samples", "/api/v1/sampling/samples".into(), Some(json!({"sample_no": "x"}))),
        ("GET", "/api/v1/sampling/samples/{id}", their_sample.clone(), None),
        (
            "POST",
            "/api/v1/sampling/samples/{id}/results",
            format!("{their_sample}/results"),
            Some(json!({"items": []})),
        ),
        (
            "POST",
            "/api/v1/sampling/samples/{id}/events",
            format!("{their_sample}/events"),
            Some(json!({"kind": "deliver"})),
        ),
        (
            "POST",
            "/api/v1/sampling/samples/{id}/evidence",
            format!("{their_sample}/evidence"),
            Some(json!({"description": "x"})),
        ),
        (
            "POST",
            "/api/v1/sampling/samples/{id}/publication",
            format!("{their_sample}/publication"),
            Some(json!({"announcement_no": "x"})),
        ),
        ("GET", "/api/v1/sampling/overdue", "/api/v1/sampling/overdue".into(), None),
        ("GET", "/api/v1/sampling/figures", "/api/v1/sampling/figures".into(), None),
        // Traces of objects outside the caller's part of the chain (tests/trace_api.rs checks
        // the visible part and shared scopes); sharing is for regulators.
        ("GET", "/api/v1/trace", "/api/v1/trace?id=urn:epc:id:sgtin:6901234.067890.1".into(), None),
        ("GET", "/api/v1/trace/scope", "/api/v1/trace/scope?id=urn:epc:id:sgtin:6901234.067890.1".into(), None),
        ("GET", "/api/v1/trace/export", "/api/v1/trace/export?id=urn:epc:id:sgtin:6901234.067890.1".into(), None),
        (
            "GET",
            "/api/v1/trace/scope/export",
            "/api/v1/trace/scope/export?id=urn:epc:id:sgtin:6901234.067890.1".into(),
            None,
        ),
        (
            "GET",
            "/api/v1/trace/scope/shares",
            "/api/v1/trace/scope/shares?id=urn:epc:id:sgtin:6901234.067890.1".into(),
            None,
        ),
        (
            "POST",
            "/api/v1/trace/scope/shares",
            "/api/v1/trace/scope/shares".into(),
            Some(json!({"id": "urn:epc:id:sgtin:6901234.067890.1", "enterprise": code("MA05K1T1")})),
        ),
    ];
    for (method, _, path, body) in &checks {
        let (s, _, v) = app.send(method, path, Some(&me), body.clone()).await;
        assert!(denied(s), "{method} {path} gave {s}: {v}");
    }
    // The other enterprise's sample is untouched and absent from the caller's list.
    let (s, _, v) = app.send("GET", "/api/v1/sampling/samples", Some(&me), None).await;
    assert_eq!((s, v["total"].as_i64()), (StatusCode::OK, Some(0)), "{v}");
    assert_eq!(app.send("GET", &their_sample, Some(&admin), None).await.2["status"], "sampled");
    // Lists and exports show only the caller's own records.
    for (path, own_id) in [("/api/v1/enterprises", mine.0), ("/api/v1/products", mine.1), ("/api/v1/locations", mine.2)]
    {
        let (s, _, v) = app.send("GET", path, Some(&me), None).await;
        assert_eq!(s, StatusCode::OK);
        let got: Vec<i64> = v["items"].as_array().unwrap().iter().map(|x| x["id"].as_i64().unwrap()).collect();
        assert_eq!(got, [own_id], "{path}: {v}");
    }
    for path in ["/api/v1/enterprises/export", "/api/v1/products/export", "/api/v1/locations/export"] {
        let (s, _, v) = app.send("GET", path, Some(&me), None).await;
        assert_eq!(s, StatusCode::OK);
        let text = v.as_str().unwrap();
        assert!(
            !text.contains(&code("MA05K1T2"))
                && !text.contains("他方")
                && !text.contains("96385074")
                && !text.contains("6901234000016"),
            "{path}: {text}"
        );
    }
    // Own records: readable, and products/locations editable, with the owner kept.
    assert_eq!(app.send("GET", &format!("/api/v1/enterprises/{}", mine.0), Some(&me), None).await.0, StatusCode::OK);
    let (s, _, v) = app
        .send(
            "PATCH",
            &format!("/api/v1/products/{}", mine.1),
            Some(&me),
            Some(json!({"name": "新名", "owner_uscc": code("MA05K1T2")})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["owner_entity_id"], mine.0, "an enterprise cannot give its product away");
    let (s, _, v) =
        app.send("POST", "/api/v1/products", Some(&me), Some(json!({"gtin": "12345670", "name": "新品"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["owner_entity_id"], mine.0);
    // Nothing of the other enterprise changed.
    let theirs_now = app.store.product(theirs.1).await.unwrap();
    assert_eq!(theirs_now.name, "奶");
    assert_eq!(app.store.entity(theirs.0).await.unwrap().name, "他方");

    // Every path of the API is covered by this test (own-data routes listed here).
    let covered_elsewhere = [
        "/api/v1/me",
        "/api/v1/tokens",
        "/api/v1/tokens/{id}",
        "/api/v1/enterprises",
        "/api/v1/products",
        "/api/v1/locations",
        "/api/v1/departments",
        "/api/v1/departments/{id}",
        "/api/v1/departments/export",
        "/api/v1/enterprises/export",
        "/api/v1/products/export",
        "/api/v1/locations/export",
        "/api/v1/products/{id}",
        "/api/v1/locations/{id}",
        // Public by design ("one public"): the draw once committed, the deadline rules, published results.
        "/api/v1/sampling/tasks/{id}/draw",
        "/api/v1/sampling/rules",
        "/api/v1/public/sampling-results",
        // Scoped to the caller's own samples (checked above and in tests/sampling_api.rs).
        "/api/v1/sampling/samples",
    ];
    let (_, _, doc) = app.send("GET", "/api/v1/openapi.json", None, None).await;
    for path in doc["paths"].as_object().unwrap().keys() {
        assert!(
            checks.iter().any(|(_, tpl, _, _)| tpl == path) || covered_elsewhere.contains(&path.as_str()),
            "route {path} is not covered by the enterprise isolation test"
        );
    }
    // Token routes act on the caller's own tokens only: revoking another user's token is 404.
    let other_user_token_id = app.store.list_tokens(1).await.unwrap()[0].id;
    let (s, _, _) = app.send("DELETE", &format!("/api/v1/tokens/{other_user_token_id}"), Some(&me), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(app.store.user_by_token(&admin).await.unwrap().is_some());
}

#[tokio::test]
async fn contract_sqlite() {
    contract(Engine::Sqlite).await;
}
#[tokio::test]
async fn contract_postgres() {
    contract(Engine::Postgres).await;
}
#[tokio::test]
async fn import_export_sqlite() {
    import_export(Engine::Sqlite).await;
}
#[tokio::test]
async fn import_export_postgres() {
    import_export(Engine::Postgres).await;
}
#[tokio::test]
async fn enterprise_isolation_sqlite() {
    enterprise_isolation(Engine::Sqlite).await;
}
#[tokio::test]
async fn enterprise_isolation_postgres() {
    enterprise_isolation(Engine::Postgres).await;
}
