//! Traceability API against the real server on SQLite and PostgreSQL, on a hand-built chain
//! captured through `/epcis/capture` whose answers are known: two farm lots transformed into a
//! product lot and its cases (with a top-up input recorded after the output, which feeds
//! nothing), the cases packed onto a pallet, shipped, received and unpacked; the pallet reused
//! afterwards for a case of a decoy chain that must never be reached. Enterprise scoping,
//! sharing a recall scope, bad and unknown ids, and the export's columns.

use qgov_domain::Role;
use qgov_store::{Actor, Engine, NewUser};
use reqwest::StatusCode;
use serde_json::{Value, json};

mod common;
use common::{App, code, spawn};

impl App {
    async fn send(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> (StatusCode, String, Value) {
        let mut rb = self.http.request(method.parse().unwrap(), format!("{}{}", self.base, path)).bearer_auth(token);
        if let Some(b) = body {
            let ct = if path.starts_with("/epcis") { "application/ld+json" } else { "application/json" };
            rb = rb.header("content-type", ct).body(serde_json::to_vec(&b).unwrap());
        }
        let res = rb.send().await.unwrap();
        let status = res.status();
        let ct = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let bytes = res.bytes().await.unwrap();
        let text = if ct.contains("spreadsheetml") {
            format!("{ct} {}", String::from_utf8_lossy(&bytes[..2]))
        } else {
            String::from_utf8_lossy(&bytes).into_owned()
        };
        (status, text.clone(), serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

const LA: &str = "urn:epc:class:lgtin:0614141.011111.LA";
const LB: &str = "urn:epc:class:lgtin:0614141.022222.LB";
const LC: &str = "urn:epc:class:lgtin:0614141.011111.LC";
const P1: &str = "urn:epc:class:lgtin:0614141.033333.P1";
const CASE1: &str = "urn:epc:id:sgtin:0614141.033333.1";
const CASE2: &str = "urn:epc:id:sgtin:0614141.033333.2";
const PALLET: &str = "urn:epc:id:sscc:0614141.1234567890";
const LD: &str = "urn:epc:class:lgtin:0614141.044444.LD";
const Q9: &str = "urn:epc:class:lgtin:0614141.033333.Q9";
const CASE3: &str = "urn:epc:id:sgtin:0614141.033333.900";
const FARM: &str = "urn:epc:id:sgln:0614141.00003.0";
const PROC: &str = "urn:epc:id:sgln:0614141.00001.0";
const PROC_PARTY: &str = "urn:epc:id:pgln:0614141.00001";
const DIST: &str = "urn:epc:id:sgln:0614141.00002.0";
const DIST_PARTY: &str = "urn:epc:id:pgln:0614141.00002";
const DECOY: &str = "urn:epc:id:sgln:0614141.00009.0";

fn ev(n: u32, kind: &str, time: &str, fields: Value) -> Value {
    let mut e = json!({
        "type": kind,
        "eventID": format!("urn:uuid:00000000-0000-4000-8000-{n:012}"),
        "eventTime": format!("2024-03-{time}+08:00"),
        "eventTimeZoneOffset": "+08:00",
    });
    e.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
    e
}

fn chain() -> Value {
    let xid = "urn:uuid:7a0e0000-0000-4000-8000-000000000001";
    let events = vec![
        ev(
            1,
            "ObjectEvent",
            "01T01:00:00",
            json!({"action": "ADD", "bizStep": "commissioning",
            "quantityList": [{"epcClass": LA, "quantity": 100, "uom": "KGM"}], "bizLocation": {"id": FARM}}),
        ),
        ev(
            2,
            "ObjectEvent",
            "01T01:10:00",
            json!({"action": "ADD", "bizStep": "commissioning",
            "quantityList": [{"epcClass": LB, "quantity": 80, "uom": "KGM"}], "bizLocation": {"id": FARM}}),
        ),
        ev(
            3,
            "TransformationEvent",
            "01T03:00:00",
            json!({"bizStep": "commissioning", "transformationID": xid,
            "inputQuantityList": [{"epcClass": LA, "quantity": 50, "uom": "KGM"}, {"epcClass": LB, "quantity": 20, "uom": "KGM"}],
            "outputEPCList": [CASE1, CASE2], "outputQuantityList": [{"epcClass": P1, "quantity": 2}],
            "bizLocation": {"id": PROC}}),
        ),
        // Top-up recorded after the output: it feeds no output made before it.
        ev(
            4,
            "TransformationEvent",
            "01T04:00:00",
            json!({"bizStep": "commissioning", "transformationID": xid,
            "inputQuantityList": [{"epcClass": LC, "quantity": 5, "uom": "KGM"}], "bizLocation": {"id": PROC}}),
        ),
        ev(
            5,
            "AggregationEvent",
            "01T05:00:00",
            json!({"action": "ADD", "bizStep": "packing",
            "parentID": PALLET, "childEPCs": [CASE1, CASE2], "bizLocation": {"id": PROC}}),
        ),
        ev(
            6,
            "ObjectEvent",
            "01T06:00:00",
            json!({"action": "OBSERVE", "bizStep": "shipping", "disposition": "in_transit",
            "epcList": [PALLET], "readPoint": {"id": PROC},
            "bizTransactionList": [{"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:0614141000012:PO-1"}],
            "sourceList": [{"type": "owning_party", "source": PROC_PARTY}],
            "destinationList": [{"type": "owning_party", "destination": DIST_PARTY}]}),
        ),
        ev(
            7,
            "ObjectEvent",
            "02T08:00:00",
            json!({"action": "OBSERVE", "bizStep": "receiving", "disposition": "in_progress",
            "epcList": [PALLET], "bizLocation": {"id": DIST}}),
        ),
        ev(
            8,
            "AggregationEvent",
            "02T09:00:00",
            json!({"action": "DELETE", "bizStep": "unpacking",
            "parentID": PALLET, "childEPCs": [CASE1, CASE2], "bizLocation": {"id": DIST}}),
        ),
        // The decoy chain, sharing only the pallet after the unpacking.
        ev(
            9,
            "ObjectEvent",
            "01T01:00:00",
            json!({"action": "ADD", "bizStep": "commissioning",
            "quantityList": [{"epcClass": LD, "quantity": 10, "uom": "KGM"}], "bizLocation": {"id": DECOY}}),
        ),
        ev(
            10,
            "TransformationEvent",
            "01T03:00:00",
            json!({"bizStep": "commissioning",
            "inputQuantityList": [{"epcClass": LD, "quantity": 10, "uom": "KGM"}],
            "outputEPCList": [CASE3], "outputQuantityList": [{"epcClass": Q9, "quantity": 1}], "bizLocation": {"id": DECOY}}),
        ),
        ev(
            11,
            "AggregationEvent",
            "03T09:00:00",
            json!({"action": "ADD", "bizStep": "packing",
            "parentID": PALLET, "childEPCs": [CASE3], "bizLocation": {"id": DIST}}),
        ),
    ];
    json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2024-03-04T00:00:00Z",
        "epcisBody": {"eventList": events}
    })
}

fn ids(v: &Value, list: &str) -> Vec<String> {
    v[list].as_array().unwrap_or(&vec![]).iter().map(|n| n["id"].as_str().unwrap().to_owned()).collect()
}

struct World {
    app: App,
    admin: String,
    processor: String,
    distributor: String,
}

async fn world(engine: Engine) -> World {
    let app = spawn(engine).await;
    let admin = app.token("admin", Role::Admin, None).await;
    let mut entity_ids = vec![];
    for (body, name, gln, place, street) in [
        ("MA05K1T1", "加工厂", "0614141000012", "加工车间", "和平路"),
        ("MA05K1T2", "配送商", "0614141000029", "配送仓", "解放路"),
    ] {
        let (s, _, e) =
            app.send("POST", "/api/v1/enterprises", &admin, Some(json!({"uscc": code(body), "name": name}))).await;
        assert_eq!(s, StatusCode::CREATED, "{e}");
        entity_ids.push(e["id"].as_i64().unwrap());
        let (s, _, l) = app
            .send(
                "POST",
                "/api/v1/locations",
                &admin,
                Some(json!({"gln": gln, "name": place, "street": street, "grid": "G1", "owner_uscc": code(body)})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{l}");
    }
    let (s, _, p) =
        app.send("POST", "/api/v1/products", &admin, Some(json!({"gtin": "00614141111114", "name": "苹果"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    let (s, text, _) = app.send("POST", "/epcis/capture", &admin, Some(chain())).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{text}");
    let processor = app.token("proc", Role::Enterprise, Some(entity_ids[0])).await;
    let distributor = app.token("dist", Role::Enterprise, Some(entity_ids[1])).await;
    World { app, admin, processor, distributor }
}

async fn traces(engine: Engine) {
    let w = world(engine).await;
    let (app, admin) = (&w.app, &w.admin);
    let q = |id: &str, dir: &str| format!("/api/v1/trace?id={}&direction={dir}", urlencode(id));

    // Backward from the product lot: both farm lots, not the late top-up, not the decoy.
    let (s, text, v) = app.send("GET", &q(P1, "backward"), admin, None).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    assert_eq!((v["root"].as_str(), v["direction"].as_str()), (Some(P1), Some("backward")));
    let nodes = ids(&v, "nodes");
    for want in [LA, LB, P1] {
        assert!(nodes.contains(&want.to_owned()), "{want} missing: {nodes:?}");
    }
    for not in [LC, LD, Q9, CASE3] {
        assert!(!nodes.contains(&not.to_owned()), "{not} reached: {nodes:?}");
    }
    let edge = v["edges"].as_array().unwrap().iter().find(|e| e["from"] == LA).expect("edge from LA");
    assert_eq!(edge["eventId"], "urn:uuid:00000000-0000-4000-8000-000000000003");
    assert_eq!(edge["eventTime"], "2024-02-29T19:00:00.000Z");
    assert!(edge["bizStep"].as_str().unwrap().ends_with("commissioning"), "{edge}");
    let proc = v["locations"].as_array().unwrap().iter().find(|l| l["id"] == PROC).expect("processor location");
    assert_eq!(proc["name"], "加工车间");
    let la = v["nodes"].as_array().unwrap().iter().find(|n| n["id"] == LA).unwrap();
    assert_eq!((la["kind"].as_str(), la["product"].as_str()), (Some("class"), Some("苹果")));

    // Forward from a farm lot: the product lot, its cases and the pallet while it held them;
    // not the decoy case packed onto the same pallet after the unpacking.
    let (s, text, v) = app.send("GET", &q(LA, "forward"), admin, None).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    let nodes = ids(&v, "nodes");
    for want in [LA, P1, CASE1, CASE2, PALLET] {
        assert!(nodes.contains(&want.to_owned()), "{want} missing: {nodes:?}");
    }
    for not in [LB, LC, LD, Q9, CASE3] {
        assert!(!nodes.contains(&not.to_owned()), "{not} reached: {nodes:?}");
    }
    let pallet = v["nodes"].as_array().unwrap().iter().find(|n| n["id"] == PALLET).unwrap();
    assert_eq!(pallet["kind"], "container");
    let dist = v["locations"].as_array().unwrap().iter().find(|l| l["id"] == DIST).expect("reached the distributor");
    assert_eq!(dist["name"], "配送仓");

    // The server keeps the registers in memory: a renamed place is named anew by the next trace.
    let (s, text, list) = app.send("GET", "/api/v1/locations?q=0614141000029", admin, None).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    let id =
        list["items"].as_array().and_then(|a| a.first()).map(|l| l["id"].clone()).expect("the distributor's place");
    let (s, text, _) =
        app.send("PATCH", &format!("/api/v1/locations/{id}"), admin, Some(json!({"name": "配送中心"}))).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    let (_, _, v) = app.send("GET", &q(LA, "forward"), admin, None).await;
    let dist = v["locations"].as_array().unwrap().iter().find(|l| l["id"] == DIST).expect("reached the distributor");
    assert_eq!(dist["name"], "配送中心");

    // Backward from the decoy case: its own farm lot only.
    let (_, _, v) = app.send("GET", &q(CASE3, "backward"), admin, None).await;
    let nodes = ids(&v, "nodes");
    assert!(nodes.contains(&LD.to_owned()) && !nodes.contains(&LA.to_owned()), "{nodes:?}");

    // A Digital Link asks the same question.
    let (s, _, v2) = app.send("GET", &q("https://id.gs1.org/01/00614141333332/10/P1", "backward"), admin, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v2["root"], P1);

    // Recall scope of a farm lot: cases last seen at the distributor, parties named.
    let (s, text, v) = app.send("GET", &format!("/api/v1/trace/scope?id={}", urlencode(LA)), admin, None).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    let items = ids(&v, "items");
    assert!(items.contains(&CASE1.to_owned()) && items.contains(&P1.to_owned()), "{items:?}");
    assert!(!items.contains(&CASE3.to_owned()) && !items.contains(&Q9.to_owned()), "{items:?}");
    let case1 = v["items"].as_array().unwrap().iter().find(|i| i["id"] == CASE1).unwrap();
    assert_eq!(case1["lastLocation"], DIST, "{case1}");
    assert_eq!((case1["lastLocationName"].as_str(), case1["street"].as_str()), (Some("配送中心"), Some("解放路")));
    assert_eq!(v["containers"], json!([PALLET]));
    let party = v["parties"].as_array().unwrap().iter().find(|p| p["id"] == DIST_PARTY).expect("distributor party");
    assert_eq!((party["name"].as_str(), party["uscc"].as_str()), (Some("配送商"), Some(code("MA05K1T2").as_str())));

    // Bad and unknown identifiers.
    let (s, _, v) = app.send("GET", "/api/v1/trace?id=not-an-id", admin, None).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["errors"][0]["field"], "id", "{v}");
    let (s, _, v) = app.send("GET", "/api/v1/trace/scope", admin, None).await;
    assert_eq!((s, v["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("id")));
    let (s, _, _) = app.send("GET", &q("urn:epc:id:sgtin:0614141.033333.777", "forward"), admin, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, v) = app.send("GET", &format!("{}&direction=sideways", q(P1, "x")), admin, None).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");

    // Events captured after start-up are traced at once.
    let late = json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2024-03-04T00:00:00Z",
        "epcisBody": {"eventList": [ev(12, "ObjectEvent", "04T10:00:00", json!({"action": "OBSERVE",
            "bizStep": "retail_selling", "disposition": "retail_sold", "epcList": [CASE1], "bizLocation": {"id": DIST}}))]}
    });
    assert_eq!(app.send("POST", "/epcis/capture", admin, Some(late)).await.0, StatusCode::ACCEPTED);
    let (_, _, v) = app.send("GET", &format!("/api/v1/trace/scope?id={}", urlencode(LA)), admin, None).await;
    let case1 = v["items"].as_array().unwrap().iter().find(|i| i["id"] == CASE1).unwrap();
    assert!(case1["disposition"].as_str().unwrap().ends_with("retail_sold"), "{case1}");
}

async fn access(engine: Engine) {
    let w = world(engine).await;
    let app = &w.app;
    let trace_p1 = format!("/api/v1/trace?id={}&direction=backward", urlencode(P1));
    let scope_la = format!("/api/v1/trace/scope?id={}", urlencode(LA));

    // The processor sees its transformation, so its trace reaches the farm lots.
    let (s, text, v) = app.send("GET", &trace_p1, &w.processor, None).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    assert!(ids(&v, "nodes").contains(&LA.to_owned()));
    // The distributor's part of the chain never names the product lot or the farm lots.
    assert_eq!(app.send("GET", &trace_p1, &w.distributor, None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.send("GET", &scope_la, &w.distributor, None).await.0, StatusCode::NOT_FOUND);
    // It sees its own events of the pallet, and nothing upstream of the processor's packing.
    let (s, _, v) = app
        .send("GET", &format!("/api/v1/trace?id={}&direction=backward", urlencode(PALLET)), &w.distributor, None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(!ids(&v, "nodes").contains(&LA.to_owned()), "{v}");

    // Enterprises cannot share; a regulator shares the farm lot's scope with the distributor.
    let share = json!({"id": LA, "enterprise": code("MA05K1T2")});
    let (s, _, _) = app.send("POST", "/api/v1/trace/scope/shares", &w.distributor, Some(share.clone())).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, v) =
        app.send("POST", "/api/v1/trace/scope/shares", &w.admin, Some(json!({"id": LA, "enterprise": "nope"}))).await;
    assert_eq!((s, v["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("enterprise")));
    let (s, text, v) = app.send("POST", "/api/v1/trace/scope/shares", &w.admin, Some(share)).await;
    assert_eq!(s, StatusCode::CREATED, "{text}");
    assert_eq!(v["id"], LA);
    let (s, text, v) = app.send("GET", &scope_la, &w.distributor, None).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    assert!(ids(&v, "items").contains(&CASE1.to_owned()));
    let (s, text, _) =
        app.send("GET", &format!("/api/v1/trace/scope/export?id={}", urlencode(LA)), &w.distributor, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(text.contains(LA), "{text}");
    // The share is for that scope only: the trace itself stays confined.
    assert_eq!(app.send("GET", &trace_p1, &w.distributor, None).await.0, StatusCode::NOT_FOUND);
}

async fn export(engine: Engine) {
    let w = world(engine).await;
    let (app, admin) = (&w.app, &w.admin);
    let path = format!("/api/v1/trace/export?id={}&direction=backward", urlencode(P1));
    let (s, text, _) = app.send("GET", &path, admin, None).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    let mut lines = text.lines();
    // A UTF-8 byte-order mark first, so that Excel opens the Chinese headings correctly.
    let header = lines.next().unwrap().strip_prefix('\u{feff}').expect("BOM");
    assert!(
        header.starts_with("事件时间,关键追踪事件,事件类型,业务步骤,动作,追溯批次码,商品条码(GTIN),商品名称"),
        "{header}"
    );
    let la_row = text
        .lines()
        .find(|l| l.contains(",transformation,") && l.contains(",urn:epc:class:lgtin:0614141.011111.LA,"))
        .expect("the transformation row of lot LA");
    for want in ["transformation", "00614141111114", "苹果", "50", "KGM", "0614141000012", "加工车间"] {
        assert!(la_row.contains(want), "{want} missing from {la_row}");
    }
    assert!(!text.contains("LD") && !text.contains(".900"), "decoy in export: {text}");
    let (_, text, _) = app.send("GET", &format!("{path}&lang=en"), admin, None).await;
    assert!(text.trim_start_matches('\u{feff}').starts_with("Event time,Critical tracking event,Event type"), "{text}");
    assert!(text.contains("Traceability lot code,Product GTIN"));
    let (s, text, _) = app.send("GET", &format!("{path}&format=xlsx"), admin, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(text.contains("spreadsheetml") && text.ends_with("PK"), "{text}");
    // The scope export names the shipment's purchase order as reference document.
    let (_, text, _) = app.send("GET", &format!("/api/v1/trace/scope/export?id={}", urlencode(LA)), admin, None).await;
    assert!(text.contains("PO-1") && text.contains("shipping"), "{text}");
    // A case carries its lot as traceability lot code although its identifier names none.
    let case_row = text
        .lines()
        .find(|l| l.contains(",packing,") && l.contains(&format!(",{CASE1},")))
        .expect("the packing row of case 1");
    assert!(case_row.contains(&format!(",{P1},")), "{case_row}");
    let (s, _, v) = app.send("GET", &format!("{path}&format=pdf"), admin, None).await;
    assert_eq!((s, v["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("format")));
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn traces_sqlite() {
    traces(Engine::Sqlite).await;
}
#[tokio::test]
async fn traces_postgres() {
    traces(Engine::Postgres).await;
}
#[tokio::test]
async fn access_sqlite() {
    access(Engine::Sqlite).await;
}
#[tokio::test]
async fn access_postgres() {
    access(Engine::Postgres).await;
}
#[tokio::test]
async fn export_sqlite() {
    export(Engine::Sqlite).await;
}
#[tokio::test]
async fn export_postgres() {
    export(Engine::Postgres).await;
}

/// The console draws the trace as SVG with the expected node labels, lists the places, and
/// shows the recall scope grouped by street; the event page links each object to its trace.
async fn console(engine: Engine) {
    let w = world(engine).await;
    let user = w
        .app
        .store
        .create_user(
            &Actor::system(),
            &NewUser {
                username: "regulator".into(),
                password: "password-123".into(),
                role: Role::Regulator,
                department_id: Some(1),
                entity_id: None,
            },
        )
        .await
        .unwrap();
    let (secret, _) = w.app.store.create_session(&user).await.unwrap();
    let get = |path: String| {
        let req = w.app.http.get(format!("{}{path}", w.app.base)).header("cookie", format!("qgov_session={secret}"));
        async move {
            let res = req.send().await.unwrap();
            (res.status(), res.text().await.unwrap())
        }
    };
    let (s, html) = get("/console/trace".into()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("data-testid=\"trace-form\"") && !html.contains("<svg"), "{html}");

    let (s, html) = get(format!("/console/trace?id={}&direction=forward", urlencode(LA))).await;
    assert_eq!(s, StatusCode::OK, "{html}");
    let svg = &html[html.find("<svg").expect("an SVG")..html.find("</svg>").unwrap()];
    for label in
        ["lgtin:0614141.011111.LA", "lgtin:0614141.033333.P1", "sgtin:0614141.033333.1", "sscc:0614141.1234567890"]
    {
        assert!(svg.contains(&format!(">{label}</text>")), "{label} not drawn: {svg}");
    }
    assert!(!svg.contains("033333.900") && !svg.contains("LD<"), "decoy drawn: {svg}");
    assert!(svg.contains("class=\"trace-node kind-class root\""), "the root is marked: {svg}");
    assert!(html.contains("配送仓") && html.contains("/console/trace/scope?id="), "{html}");

    let (s, html) = get("/console/trace?id=nonsense".into()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("data-testid=\"trace-error\""));

    let (s, html) = get(format!("/console/trace/scope?id={}", urlencode(LA))).await;
    assert_eq!(s, StatusCode::OK, "{html}");
    assert!(html.contains("解放路") && html.contains("配送商") && html.contains(CASE1), "{html}");
    let (s, csv) = get(format!("/console/trace/scope/export?id={}&format=csv", urlencode(LA))).await;
    assert_eq!(s, StatusCode::OK);
    assert!(csv.contains("追溯批次码"), "{csv}");

    let (s, html) = get("/console/events/urn:uuid:00000000-0000-4000-8000-000000000005".into()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains(&format!("/console/trace?id={}", urlencode(PALLET))), "no trace link: {html}");
}

#[tokio::test]
async fn console_sqlite() {
    console(Engine::Sqlite).await;
}
#[tokio::test]
async fn console_postgres() {
    console(Engine::Postgres).await;
}
