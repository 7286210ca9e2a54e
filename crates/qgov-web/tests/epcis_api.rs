//! The EPCIS 2.0 REST binding against the real server on a free port, on SQLite and PostgreSQL:
//! capture and capture jobs, all-or-nothing and `proceed`, single-event capture with 409,
//! queries with paging and content negotiation, named queries, a signed webhook delivery,
//! enterprise scoping, and the 401 / 406 / 413 cases.

use qgov_domain::Role;
use qgov_domain::registers::MarketEntityDraft;
use qgov_store::{Actor, Engine};
use reqwest::StatusCode;
use serde_json::{Value, json};
mod common;

use common::{App, spawn};

struct Reply {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    text: String,
    json: Value,
}

impl App {
    async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Reply {
        let mut rb = self.http.request(method.parse().unwrap(), format!("{}{}", self.base, path));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.header("content-type", "application/ld+json").body(b);
        }
        let res = rb.send().await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, headers, text, json }
    }

    async fn get(&self, path: &str, token: &str) -> Reply {
        self.send("GET", path, Some(token), &[], None).await
    }

    async fn event_ids(&self, path: &str, token: &str) -> Vec<String> {
        let r = self.get(path, token).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
        r.json["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            .as_array()
            .unwrap_or_else(|| panic!("{path}: {}", r.text))
            .iter()
            .map(|e| e["eventID"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn assert_exception(r: &Reply, status: StatusCode, exception: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.headers["content-type"], "application/problem+json", "{}", r.text);
    assert_eq!(r.json["type"], format!("epcisException:{exception}"), "{}", r.text);
    assert_eq!(r.headers["GS1-EPCIS-Version"], "2.0.0");
}

/// A capture document; `bad_step` puts a non-standard bare word in the second event.
fn doc(tag: &str, n: usize, bad_step: bool, location: &str) -> Vec<u8> {
    let events: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "type": "ObjectEvent", "action": "OBSERVE",
                "eventID": format!("urn:uuid:00000000-0000-4000-8000-{tag}{i:011}"),
                "eventTime": format!("2024-05-01T08:{:02}:00+08:00", i % 60), "eventTimeZoneOffset": "+08:00",
                "epcList": [format!("urn:epc:id:sgtin:0614141.107346.{tag}{i}")],
                "bizStep": if bad_step && i == 1 { "exampling" } else { "shipping" },
                "disposition": "in_transit",
                "bizLocation": {"id": location},
                "example:note": "hello"
            })
        })
        .collect();
    serde_json::to_vec(&json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"example": "https://ns.example.com/epcis/"}],
        "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2024-05-01T00:00:00Z",
        "epcisBody": {"eventList": events}
    }))
    .unwrap()
}

/// Accepts one HTTP request (waiting at most 15 s), answers 200, returns its head and body.
fn receive_one(listener: std::net::TcpListener) -> (String, String) {
    listener.set_nonblocking(true).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let conn = loop {
        match listener.accept() {
            Ok((c, _)) => break c,
            Err(_) if std::time::Instant::now() < deadline => std::thread::sleep(std::time::Duration::from_millis(20)),
            Err(e) => panic!("no delivery: {e}"),
        }
    };
    common::answer_one_request(conn)
}

const HQ: &str = "urn:epc:id:sgln:0614141.00001.0";

async fn epcis_api(engine: Engine) {
    let app = spawn(engine).await;
    let reg = app.token("reg", Role::Regulator, None).await;

    // Anonymous: 401 everywhere, as SecurityException, with the GS1 headers.
    for (m, p) in
        [("GET", "/epcis/events"), ("POST", "/epcis/capture"), ("OPTIONS", "/epcis/capture"), ("GET", "/epcis/nowhere")]
    {
        let r = app.send(m, p, None, &[], None).await;
        assert_exception(&r, StatusCode::UNAUTHORIZED, "SecurityException");
    }
    let r = app.send("GET", "/epcis/events", Some("wrong-token"), &[], None).await;
    assert_exception(&r, StatusCode::UNAUTHORIZED, "SecurityException");

    // Announced limits.
    let r = app.send("OPTIONS", "/epcis/capture", Some(&reg), &[], None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(r.headers["GS1-EPCIS-Capture-Limit"], "10000");
    assert_eq!(r.headers["GS1-EPCIS-Capture-File-Size-Limit"], (16 * 1024 * 1024).to_string());
    assert_eq!(r.headers["GS1-CBV-Version"], "2.0.0");

    // Capture: 202 with the job's Location and GS1-Capture-ID; the job reports success.
    let r = app.send("POST", "/epcis/capture", Some(&reg), &[], Some(doc("a", 5, false, HQ))).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let capture_id = r.headers["GS1-Capture-ID"].to_str().unwrap().to_owned();
    assert_eq!(r.headers["location"], format!("/epcis/capture/{capture_id}"));
    let job = app.get(&format!("/epcis/capture/{capture_id}"), &reg).await;
    assert_eq!((job.json["running"].clone(), job.json["success"].clone()), (json!(false), json!(true)), "{}", job.text);
    assert_eq!(job.json["captureErrorBehaviour"], "rollback");
    let jobs = app.get("/epcis/capture", &reg).await;
    assert_eq!(jobs.json.as_array().unwrap().len(), 1);

    // Query with a known answer, paging with Link headers.
    assert_eq!(app.event_ids("/epcis/events?EQ_bizStep=shipping", &reg).await.len(), 5);
    assert_eq!(app.event_ids("/epcis/events?EQ_bizStep=receiving", &reg).await.len(), 0);
    assert_eq!(app.event_ids("/epcis/events?EQ_example:note=hello&eventType=ObjectEvent", &reg).await.len(), 5);
    let mut path = "/epcis/events?EQ_bizStep=shipping&perPage=2".to_owned();
    let mut seen = Vec::new();
    loop {
        let r = app.get(&path, &reg).await;
        let page = r.json["epcisBody"]["queryResults"]["resultsBody"]["eventList"].as_array().unwrap().clone();
        assert!(page.len() <= 2);
        seen.extend(page.iter().map(|e| e["eventID"].as_str().unwrap().to_owned()));
        let Some(link) = r.headers.get("link") else { break };
        let link = link.to_str().unwrap();
        assert!(link.ends_with("rel=\"next\""), "{link}");
        path = link[1..link.find('>').unwrap()].to_owned();
    }
    assert_eq!(seen.len(), 5);
    seen.dedup();
    assert_eq!(seen.len(), 5);

    // Bad parameters are named.
    let r = app.get("/epcis/events?EQ_colour=red", &reg).await;
    assert_exception(&r, StatusCode::BAD_REQUEST, "QueryParameterException");
    assert_eq!(r.json["errors"][0]["parameter"], "EQ_colour");
    let r = app.get("/epcis/events?maxEventCount=2", &reg).await;
    assert_exception(&r, StatusCode::PAYLOAD_TOO_LARGE, "QueryTooLargeException");

    // Content negotiation and identifier format.
    let r = app.send("GET", "/epcis/events?perPage=1", Some(&reg), &[("accept", "application/xml")], None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.starts_with("<?xml") && r.text.contains("EPCISQueryDocument"), "{}", r.text);
    let r = app.send("GET", "/epcis/events", Some(&reg), &[("accept", "text/html")], None).await;
    assert_exception(&r, StatusCode::NOT_ACCEPTABLE, "NotAcceptableException");
    let r = app.send("GET", "/epcis/events?perPage=1", Some(&reg), &[("GS1-EPC-Format", "Always_EPC_URN")], None).await;
    let epc =
        r.json["epcisBody"]["queryResults"]["resultsBody"]["eventList"][0]["epcList"][0].as_str().unwrap().to_owned();
    assert!(epc.starts_with("urn:epc:id:sgtin:0614141.107346."), "{epc}");
    let r = app.get("/epcis/events?perPage=1", &reg).await;
    let epc =
        r.json["epcisBody"]["queryResults"]["resultsBody"]["eventList"][0]["epcList"][0].as_str().unwrap().to_owned();
    assert!(epc.starts_with("https://id.gs1.org/01/10614141073464/21/"), "{epc}");
    assert_eq!(r.headers["content-type"], "application/ld+json");

    // One event by its (URL-encoded) ID; 404 for an unknown one.
    let id = "urn:uuid:00000000-0000-4000-8000-a00000000000";
    let r = app.get(&format!("/epcis/events/{}", qgov_web::epcis::encode_segment(id)), &reg).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["epcisBody"]["queryResults"]["resultsBody"]["eventList"][0]["eventID"], id);
    let r = app.get("/epcis/events/urn%3Auuid%3Anope", &reg).await;
    assert_exception(&r, StatusCode::NOT_FOUND, "NoSuchResourceException");

    // All-or-nothing: one bad event refuses the document, naming its index and field.
    let r = app.send("POST", "/epcis/capture", Some(&reg), &[], Some(doc("b", 3, true, HQ))).await;
    assert_exception(&r, StatusCode::BAD_REQUEST, "ValidationException");
    assert_eq!(r.json["errors"][0]["eventIndex"], 1, "{}", r.text);
    assert!(r.json["errors"][0]["pointer"].as_str().unwrap().ends_with("bizStep"), "{}", r.text);
    assert_eq!(app.event_ids("/epcis/events?MATCH_epc=urn:epc:id:sgtin:0614141.107346.b0", &reg).await.len(), 0);
    // …unless the client asks to proceed: the good events are stored, the job says what failed.
    let r = app
        .send(
            "POST",
            "/epcis/capture",
            Some(&reg),
            &[("GS1-Capture-Error-Behaviour", "proceed")],
            Some(doc("b", 3, true, HQ)),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert_eq!((r.json["success"].clone(), r.json["storedCount"].clone()), (json!(false), json!(2)), "{}", r.text);
    assert_eq!(r.json["errors"][0]["eventIndex"], 1);

    // Idempotent capture: the same document again stores nothing new.
    let r = app.send("POST", "/epcis/capture", Some(&reg), &[], Some(doc("a", 5, false, HQ))).await;
    assert_eq!((r.status, r.json["storedCount"].clone()), (StatusCode::ACCEPTED, json!(0)));
    assert_eq!(app.event_ids("/epcis/events?EQ_bizStep=shipping", &reg).await.len(), 7);

    // Single event: 201 with Location, then 409.
    let single = json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "ObjectEvent", "action": "OBSERVE", "eventID": "urn:uuid:00000000-0000-4000-8000-00000000c001",
        "eventTime": "2024-05-02T08:00:00Z", "eventTimeZoneOffset": "+00:00",
        "epcList": ["urn:epc:id:sgtin:0614141.107346.c1"], "bizStep": "receiving"
    });
    let body = serde_json::to_vec(&single).unwrap();
    let r = app.send("POST", "/epcis/events", Some(&reg), &[], Some(body.clone())).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.headers["location"], "/epcis/events/urn%3Auuid%3A00000000-0000-4000-8000-00000000c001");
    let r = app.send("POST", "/epcis/events", Some(&reg), &[], Some(body)).await;
    assert_exception(&r, StatusCode::CONFLICT, "ResourceAlreadyExistsException");

    // Browse resources.
    let r = app.get("/epcis/bizSteps", &reg).await;
    assert_eq!(r.json["member"], json!(["receiving", "shipping"]), "{}", r.text);
    assert_eq!(
        app.event_ids("/epcis/bizSteps/receiving/events", &reg).await,
        ["urn:uuid:00000000-0000-4000-8000-00000000c001"]
    );
    let r = app.get("/epcis/eventTypes", &reg).await;
    assert_eq!(r.json["member"].as_array().unwrap().len(), 5);
    let epc = qgov_web::epcis::encode_segment("urn:epc:id:sgtin:0614141.107346.c1");
    assert_eq!(app.event_ids(&format!("/epcis/epcs/{epc}/events"), &reg).await.len(), 1);

    // 413: beyond the announced file size.
    let big = vec![b' '; 16 * 1024 * 1024 + 1];
    let r = app.send("POST", "/epcis/capture", Some(&reg), &[], Some(big)).await;
    assert_exception(&r, StatusCode::PAYLOAD_TOO_LARGE, "CaptureLimitExceededException");
    let r = app.send("POST", "/epcis/capture", Some(&reg), &[("content-type", "text/csv")], None).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", r.text);

    // Named query with a stream subscription: the next matching capture is POSTed to the
    // subscriber, signed with its token.
    let q = json!({"name": "receipts", "query": {"EQ_bizStep": ["receiving"], "eventType": "ObjectEvent"}});
    let r = app.send("POST", "/epcis/queries", Some(&reg), &[], Some(serde_json::to_vec(&q).unwrap())).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app.send("POST", "/epcis/queries", Some(&reg), &[], Some(serde_json::to_vec(&q).unwrap())).await;
    assert_exception(&r, StatusCode::CONFLICT, "ResourceAlreadyExistsException");
    assert_eq!(app.event_ids("/epcis/queries/receipts/events", &reg).await.len(), 1);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dest = format!("http://{}/callback", listener.local_addr().unwrap());
    let subscriber = tokio::task::spawn_blocking(move || receive_one(listener));
    let sub = json!({"dest": dest, "signatureToken": "s3cret", "stream": true});
    let r = app
        .send("POST", "/epcis/queries/receipts/subscriptions", Some(&reg), &[], Some(serde_json::to_vec(&sub).unwrap()))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let sub_id = r.json["subscriptionID"].as_str().unwrap().to_owned();
    let bad = json!({"dest": dest});
    let r = app
        .send("POST", "/epcis/queries/receipts/subscriptions", Some(&reg), &[], Some(serde_json::to_vec(&bad).unwrap()))
        .await;
    assert_exception(&r, StatusCode::BAD_REQUEST, "SubscriptionControlsException");
    let mut single = single.clone();
    single["eventID"] = json!("urn:uuid:00000000-0000-4000-8000-00000000c002");
    let r = app.send("POST", "/epcis/events", Some(&reg), &[], Some(serde_json::to_vec(&single).unwrap())).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let (head, body) = tokio::time::timeout(std::time::Duration::from_secs(15), subscriber).await.unwrap().unwrap();
    assert!(head.starts_with("POST /callback HTTP/1.1"), "{head}");
    let expected = qgov_web::epcis::webhook::signature("s3cret", body.as_bytes());
    assert!(head.lines().any(|l| l == format!("GS1-Signature: {expected}")), "{head}");
    let delivered: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(delivered["epcisBody"]["queryResults"]["subscriptionID"], sub_id.as_str());
    assert_eq!(delivered["epcisBody"]["queryResults"]["queryName"], "receipts");
    let list = delivered["epcisBody"]["queryResults"]["resultsBody"]["eventList"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["eventID"], "urn:uuid:00000000-0000-4000-8000-00000000c002");
    let r = app.send("DELETE", &format!("/epcis/queries/receipts/subscriptions/{sub_id}"), Some(&reg), &[], None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app.send("DELETE", "/epcis/queries/receipts", Some(&reg), &[], None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app.get("/epcis/queries/receipts", &reg).await;
    assert_exception(&r, StatusCode::NOT_FOUND, "NoSuchNameException");

    // Enterprise scoping: each enterprise sees what it captured or what names its locations.
    let entity = |b: &str| {
        let code = common::code(b);
        let f = move |k: &str| match k {
            "uscc" => Some(code.clone()),
            "name" => Some(format!("企业{k}")),
            "industry" => Some("food_production".to_owned()),
            _ => None,
        };
        MarketEntityDraft::parse(&f).unwrap()
    };
    let a = app.store.create_entity(&Actor::system(), &entity("MA05K1TQ")).await.unwrap();
    let b = app.store.create_entity(&Actor::system(), &entity("MA05K1TR")).await.unwrap();
    let ta = app.token("ent-a", Role::Enterprise, Some(a.id)).await;
    let tb = app.token("ent-b", Role::Enterprise, Some(b.id)).await;
    let r = app.send("POST", "/epcis/capture", Some(&ta), &[], Some(doc("e", 2, false, HQ))).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let a_job = r.headers["GS1-Capture-ID"].to_str().unwrap().to_owned();
    assert_eq!(app.event_ids("/epcis/events", &ta).await.len(), 2);
    assert_eq!(app.event_ids("/epcis/events", &tb).await.len(), 0);
    assert_eq!(app.event_ids("/epcis/events?EQ_bizStep=shipping", &reg).await.len(), 9);
    let r = app.get(&format!("/epcis/capture/{a_job}"), &tb).await;
    assert_exception(&r, StatusCode::NOT_FOUND, "NoSuchResourceException");
    let r = app.get("/epcis/bizSteps", &tb).await;
    assert_eq!(r.json["member"], json!([]));
}

#[tokio::test]
async fn epcis_api_sqlite() {
    epcis_api(Engine::Sqlite).await;
}

#[tokio::test]
async fn epcis_api_postgres() {
    epcis_api(Engine::Postgres).await;
}
