//! Console security checks over plain HTTP (the browser tests cover the pages).

use qgov_domain::Role;
use qgov_store::{Actor, Engine, NewUser, Store, testing};
use reqwest::StatusCode;
use reqwest::redirect::Policy;

async fn spawn() -> (String, Store) {
    let url = testing::fresh_database(Engine::Sqlite).await;
    let store = Store::connect(&url).await.unwrap();
    let new = NewUser {
        username: "admin".into(),
        password: "admin-password".into(),
        role: Role::Admin,
        department_id: None,
        entity_id: None,
    };
    store.create_user(&Actor::system(), &new).await.unwrap();
    let app = qgov_web::Application::bind("127.0.0.1:0", store.clone(), qgov_web::Config::default()).await.unwrap();
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run(std::future::pending()));
    (base, store)
}

fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

#[tokio::test]
async fn login_needs_the_form_token_and_sets_a_hardened_session_cookie() {
    let (base, store) = spawn().await;
    let http = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();
    let form = [("username", "admin"), ("password", "admin-password"), ("next", "/console")];

    // A cross-site post has no token cookie: refused, no session.
    let res = http.post(format!("{base}/console/login")).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie(&res, "qgov_session").is_none());

    // The form page sets the token cookie; posting it with the same token signs in.
    let res = http.get(format!("{base}/console/login")).send().await.unwrap();
    let cookie = set_cookie(&res, "qgov_login_csrf").expect("token cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let token = cookie.split(';').next().unwrap().split_once('=').unwrap().1.to_owned();
    let html = res.text().await.unwrap();
    assert!(html.contains(&token), "the form carries the token");

    let mut with_token = form.to_vec();
    with_token.push(("csrf", "0000"));
    let res = http
        .post(format!("{base}/console/login"))
        .header("cookie", format!("qgov_login_csrf={token}"))
        .form(&with_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "a token that does not match the cookie is refused");

    with_token.pop();
    with_token.push(("csrf", token.as_str()));
    let res = http
        .post(format!("{base}/console/login"))
        .header("cookie", format!("qgov_login_csrf={token}"))
        .form(&with_token)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
    let session = set_cookie(&res, "qgov_session").expect("session cookie");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"), "{session}");

    // The session opens the console; without it the console redirects to the login page.
    let sid = session.split(';').next().unwrap().to_owned();
    let res = http.get(format!("{base}/console")).header("cookie", &sid).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = http.get(format!("{base}/console")).send().await.unwrap();
    assert!(res.status().is_redirection());
    assert!(res.headers()["location"].to_str().unwrap().starts_with("/console/login"));

    // An admin deactivates another account from the users page; its token stops working.
    let ent = NewUser {
        username: "clerk".into(),
        password: "clerk-password".into(),
        role: Role::Regulator,
        department_id: Some(1),
        entity_id: None,
    };
    let clerk = store.create_user(&Actor::system(), &ent).await.unwrap();
    let (_, clerk_token) = store.create_token(&Actor::system(), clerk.id, "t").await.unwrap();
    let page =
        http.get(format!("{base}/console/users")).header("cookie", &sid).send().await.unwrap().text().await.unwrap();
    let csrf = page.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let res = http
        .post(format!("{base}/console/users/{}/active", clerk.id))
        .header("cookie", &sid)
        .form(&[("csrf", csrf.as_str()), ("active", "0")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!store.user_by_id(clerk.id).await.unwrap().active);
    assert!(store.user_by_token(&clerk_token).await.unwrap().is_none());

    // A console form post without the session's CSRF token is refused.
    let res = http
        .post(format!("{base}/console/logout"))
        .header("cookie", &sid)
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        http.get(format!("{base}/console")).header("cookie", &sid).send().await.unwrap().status(),
        StatusCode::OK
    );
}

/// Sign in through the form; returns the session cookie (`name=value`).
async fn sign_in(http: &reqwest::Client, base: &str, username: &str, password: &str) -> String {
    let res = http.get(format!("{base}/console/login")).send().await.unwrap();
    let cookie = set_cookie(&res, "qgov_login_csrf").unwrap();
    let token = cookie.split(';').next().unwrap().split_once('=').unwrap().1.to_owned();
    let res = http
        .post(format!("{base}/console/login"))
        .header("cookie", format!("qgov_login_csrf={token}"))
        .form(&[("username", username), ("password", password), ("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    set_cookie(&res, "qgov_session").expect("signed in").split(';').next().unwrap().to_owned()
}

fn csrf_of(html: &str) -> String {
    html.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned()
}

const GOOD_DOC: &str = r#"{
  "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"qg": "https://qgov.example/ns"}],
  "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-05-01T08:00:00+08:00",
  "epcisBody": {"eventList": [
    {"type": "ObjectEvent", "action": "OBSERVE", "eventTime": "2026-05-01T08:00:00+08:00", "eventTimeZoneOffset": "+08:00",
     "epcList": ["urn:epc:id:sgtin:0614141.107346.2017"], "bizStep": "shipping", "disposition": "in_transit",
     "readPoint": {"id": "urn:epc:id:sgln:0614141.00777.0"}, "qg:batchNote": "冷链"},
    {"type": "ObjectEvent", "action": "OBSERVE", "eventTime": "2026-05-02T09:30:00+08:00", "eventTimeZoneOffset": "+08:00",
     "epcList": ["urn:epc:id:sgtin:0614141.107346.2017"], "bizStep": "receiving"}
  ]}}"#;

#[tokio::test]
async fn trace_events_can_be_captured_browsed_and_read_in_the_console() {
    let (base, store) = spawn().await;
    let http = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();
    let sid = sign_in(&http, &base, "admin", "admin-password").await;
    let page = http.get(format!("{base}/console/events/capture")).header("cookie", &sid).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csrf = csrf_of(&page.text().await.unwrap());
    let upload = |bytes: String, csrf: String| {
        let form = reqwest::multipart::Form::new()
            .text("csrf", csrf)
            .part("file", reqwest::multipart::Part::bytes(bytes.into_bytes()).file_name("doc.jsonld"));
        http.post(format!("{base}/console/events/capture")).header("cookie", &sid).multipart(form).send()
    };

    // A document with a bad event is refused whole, naming the event and field.
    let bad = GOOD_DOC.replacen("\"bizStep\": \"receiving\"", "\"bizStep\": \"teleporting\"", 1);
    let res = upload(bad, csrf.clone()).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("data-testid=\"capture-errors\"") && html.contains("/epcisBody/eventList/1/bizStep"),
        "{html}"
    );
    let everything = qgov_store::epcis::query::EventQuery::default();
    let all = || store.epcis_query(&everything, qgov_store::epcis::EventScope::All, 10, None);
    assert!(all().await.unwrap().events.is_empty(), "nothing stored from a refused document");

    // A bad CSRF token is refused.
    assert_eq!(upload(GOOD_DOC.into(), "forged".into()).await.unwrap().status(), StatusCode::FORBIDDEN);

    // The good document is stored; capturing it again stores nothing new.
    let res = upload(GOOD_DOC.into(), csrf.clone()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("capture-ok"));
    let again = upload(GOOD_DOC.into(), csrf.clone()).await.unwrap().text().await.unwrap();
    assert!(again.contains("capture-ok"));
    assert_eq!(all().await.unwrap().events.len(), 2, "idempotent capture");

    // Browse with a standard filter, then open an event.
    let list =
        http.get(format!("{base}/console/events?EQ_bizStep=receiving")).header("cookie", &sid).send().await.unwrap();
    assert_eq!(list.status(), StatusCode::OK);
    let html = list.text().await.unwrap();
    assert!(html.contains(">receiving<") && !html.contains(">shipping<"), "filtered list: {html}");
    let href = html
        .split("<td class=\"mono\"><a href=\"/console/events/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let detail = http.get(format!("{base}/console/events/{href}")).header("cookie", &sid).send().await.unwrap();
    assert_eq!(detail.status(), StatusCode::OK);
    let detail = detail.text().await.unwrap();
    assert!(detail.contains("urn:epc:id:sgtin:0614141.107346.2017"), "{detail}");

    // A malformed filter is explained, not ignored.
    let res =
        http.get(format!("{base}/console/events?GE_eventTime=yesterday")).header("cookie", &sid).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("GE_eventTime"));

    // An enterprise with no locations in these events sees none of them, and the detail
    // page of one is a 404.
    let code = qgov_domain::UnifiedCreditCode::compose("91120116", "MA05K1T1").unwrap().to_string();
    let f = |k: &str| match k {
        "uscc" => Some(code.clone()),
        "name" => Some("他企".to_owned()),
        _ => None,
    };
    let draft = qgov_domain::registers::MarketEntityDraft::parse(&f).unwrap();
    let ent = store.create_entity(&Actor::system(), &draft).await.unwrap();
    let new = NewUser {
        username: "ent".into(),
        password: "ent-password".into(),
        role: Role::Enterprise,
        department_id: None,
        entity_id: Some(ent.id),
    };
    store.create_user(&Actor::system(), &new).await.unwrap();
    let esid = sign_in(&http, &base, "ent", "ent-password").await;
    let html =
        http.get(format!("{base}/console/events")).header("cookie", &esid).send().await.unwrap().text().await.unwrap();
    assert!(!html.contains(">receiving<"), "{html}");
    let res = http.get(format!("{base}/console/events/{href}")).header("cookie", &esid).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}
