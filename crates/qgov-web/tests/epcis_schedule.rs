//! Scheduled EPCIS subscriptions (EPCIS 2.0 §8.2.5.3) against the real server on SQLite and
//! PostgreSQL: subscribers listening on local ports get, at the next firing of a every-second
//! schedule, the events recorded since they subscribed, signed, in their own view (an
//! enterprise only what it may read); a later firing with nothing new sends nothing, or an
//! empty document when `reportIfEmpty`. Invalid schedules are refused naming the field. Runs
//! claim their firing, so that servers sharing a database deliver it once; a large window goes
//! in chunks, and a failed chunk is resumed by the next firing without repeating or skipping
//! an event.

use qgov_domain::Role;
use qgov_domain::registers::MarketEntityDraft;
use qgov_epcis::model::Timestamp;
use qgov_store::epcis::query::micros;
use qgov_store::epcis::{RunClaim, ScheduledSubscription, WindowStart};
use qgov_store::{Actor, Engine};
use qgov_web::epcis::schedule::{Firing, run_firing};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

mod common;
use common::{App, code, spawn};

impl App {
    async fn send(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut rb = self.http.request(method.parse().unwrap(), format!("{}{}", self.base, path)).bearer_auth(token);
        if let Some(b) = body {
            rb = rb.header("content-type", "application/ld+json").body(serde_json::to_vec(&b).unwrap());
        }
        let res = rb.send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn capture(&self, token: &str, doc: Value) {
        let (status, body) = self.send("POST", "/epcis/capture", token, Some(doc)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }

    async fn subscribe(&self, token: &str, sub: Value) -> String {
        let (status, body) = self.send("POST", "/epcis/queries/shipping/subscriptions", token, Some(sub)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["subscriptionID"].as_str().unwrap().to_owned()
    }
}

/// A capture document of object events, one per business step, with eventIDs `…-{tag}{i}`.
fn doc(tag: &str, steps: &[&str]) -> Value {
    let events: Vec<Value> = steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            json!({
                "type": "ObjectEvent", "action": "OBSERVE",
                "eventID": event_id(tag, i),
                "eventTime": "2024-05-01T08:00:00+08:00", "eventTimeZoneOffset": "+08:00",
                "epcList": [format!("urn:epc:id:sgtin:0614141.107346.{tag}{i}")],
                "bizStep": step,
            })
        })
        .collect();
    json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2024-05-01T00:00:00Z",
        "epcisBody": {"eventList": events}
    })
}

fn event_id(tag: &str, i: usize) -> String {
    format!("urn:uuid:00000000-0000-4000-8000-{tag}{i:011}")
}

/// One request a subscriber received.
#[derive(Debug, Clone)]
struct Delivery {
    head: String,
    body: String,
}

impl Delivery {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
    fn event_ids(&self) -> Vec<String> {
        let v = self.json();
        v["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            .as_array()
            .unwrap_or_else(|| panic!("no eventList: {v}"))
            .iter()
            .map(|e| e["eventID"].as_str().unwrap().to_owned())
            .collect()
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// A webhook receiver on a free local port: answers every request 200 and keeps it, until
/// dropped.
struct Subscriber {
    dest: String,
    got: Arc<Mutex<Vec<Delivery>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Subscriber {
    fn start() -> Self {
        Self::refusing(&[])
    }

    /// A receiver that hangs up on the requests numbered in `refused` (counting from 0) without
    /// answering, so that those deliveries fail, and keeps the others.
    fn refusing(refused: &'static [usize]) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let dest = format!("http://{}/callback", listener.local_addr().unwrap());
        let got = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (g, s) = (got.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut n = 0;
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        n += 1;
                        if refused.contains(&(n - 1)) {
                            drop(conn);
                            continue;
                        }
                        let d = read_request(conn);
                        g.lock().unwrap().push(d);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(10)),
                    Err(e) => panic!("accept: {e}"),
                }
            }
        });
        Subscriber { dest, got, stop, thread: Some(thread) }
    }

    fn deliveries(&self) -> Vec<Delivery> {
        self.got.lock().unwrap().clone()
    }

    /// Every eventID delivered so far, in order of delivery.
    fn delivered_ids(&self) -> Vec<String> {
        self.deliveries().iter().flat_map(Delivery::event_ids).collect()
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn read_request(conn: std::net::TcpStream) -> Delivery {
    let (head, body) = common::answer_one_request(conn);
    Delivery { head, body }
}

/// Waits (at most 10 s) until `done` holds.
async fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const EVERY_SECOND: &str = "[0-59]";

async fn scheduled_subscriptions(engine: Engine) {
    let app = spawn(engine).await;
    let reg = app.token("reg", Role::Regulator, None).await;
    let uscc = code("MA05K1TQ");
    let draft = MarketEntityDraft::parse(&|k: &str| match k {
        "uscc" => Some(uscc.clone()),
        "name" => Some("企业甲".to_owned()),
        "industry" => Some("food_production".to_owned()),
        _ => None,
    })
    .unwrap();
    let firm = app.store.create_entity(&Actor::system(), &draft).await.unwrap();
    let ent = app.token("ent", Role::Enterprise, Some(firm.id)).await;

    let q = json!({"name": "shipping", "query": {"EQ_bizStep": ["shipping"]}});
    let (status, body) = app.send("POST", "/epcis/queries", &reg, Some(q)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Recorded before anyone subscribed: never delivered.
    app.capture(&reg, doc("a", &["shipping", "shipping"])).await;

    let quiet = Subscriber::start();
    let chatty = Subscriber::start();
    let own = Subscriber::start();
    let schedule = json!({"second": EVERY_SECOND});
    let quiet_id =
        app.subscribe(&reg, json!({"dest": quiet.dest, "signatureToken": "s3cret", "schedule": schedule})).await;
    let chatty_id =
        app.subscribe(&reg, json!({"dest": chatty.dest, "reportIfEmpty": true, "schedule": schedule})).await;
    app.subscribe(&ent, json!({"dest": own.dest, "signatureToken": "firm", "schedule": schedule})).await;

    // New events: three shipping and one receiving by the regulator, one shipping by the firm.
    app.capture(&reg, doc("b", &["shipping", "receiving", "shipping", "shipping"])).await;
    app.capture(&ent, doc("c", &["shipping"])).await;
    let new: BTreeSet<String> =
        [event_id("b", 0), event_id("b", 2), event_id("b", 3), event_id("c", 0)].into_iter().collect();
    let as_set = |ids: Vec<String>| -> BTreeSet<String> {
        let set: BTreeSet<String> = ids.iter().cloned().collect();
        assert_eq!(set.len(), ids.len(), "an event was delivered twice: {ids:?}");
        set
    };
    until("the regulator's subscription", || as_set(quiet.delivered_ids()) == new).await;
    until("the firm's subscription", || !own.delivered_ids().is_empty()).await;
    until("the reportIfEmpty subscription", || as_set(chatty.delivered_ids()) == new).await;
    let quiet_seen = quiet.deliveries().len();
    let own_seen = own.deliveries().len();
    // At least two more firings with nothing new.
    tokio::time::sleep(Duration::from_millis(2300)).await;

    // The regulator's subscriber: query documents of the named query carrying its ID, signed
    // with its token, never empty, holding exactly the new events, then silence.
    let got = quiet.deliveries();
    assert_eq!(got.len(), quiet_seen, "reportIfEmpty false, nothing new: nothing is sent");
    assert!(!got.is_empty() && got.len() <= 2, "{got:?}");
    for d in &got {
        assert!(d.head.starts_with("POST /callback HTTP/1.1"), "{}", d.head);
        let expected = qgov_web::epcis::webhook::signature("s3cret", d.body.as_bytes());
        assert_eq!(d.header("GS1-Signature"), Some(expected.as_str()), "{}", d.head);
        assert_eq!(d.header("GS1-EPCIS-Version"), Some("2.0.0"));
        let v = d.json();
        assert_eq!(v["type"], "EPCISQueryDocument", "{v}");
        assert_eq!(v["epcisBody"]["queryResults"]["queryName"], "shipping");
        assert_eq!(v["epcisBody"]["queryResults"]["subscriptionID"], quiet_id.as_str());
        assert!(!d.event_ids().is_empty());
    }
    assert_eq!(as_set(quiet.delivered_ids()), new);

    // The firm's subscriber sees only what the firm may read: its own event.
    let got = own.deliveries();
    assert_eq!(got.len(), own_seen);
    assert_eq!(own.delivered_ids(), [event_id("c", 0)]);
    let expected = qgov_web::epcis::webhook::signature("firm", got[0].body.as_bytes());
    assert_eq!(got[0].header("GS1-Signature"), Some(expected.as_str()));

    // reportIfEmpty: the same events once, and empty documents (unsigned: no token) on the
    // firings around them.
    let got = chatty.deliveries();
    let last_full = got.iter().rposition(|d| !d.event_ids().is_empty()).unwrap();
    assert!(got.len() - last_full > 1, "no empty document after the events: {got:?}");
    for d in &got {
        assert_eq!(d.header("GS1-Signature"), None);
        assert_eq!(d.json()["epcisBody"]["queryResults"]["subscriptionID"], chatty_id.as_str());
    }

    // Deliveries are noted on the subscription.
    let (status, subs) = app.send("GET", "/epcis/queries/shipping/subscriptions", &reg, None).await;
    assert_eq!(status, StatusCode::OK);
    let quiet_sub = subs.as_array().unwrap().iter().find(|s| s["subscriptionID"] == quiet_id.as_str()).unwrap();
    assert!(quiet_sub["lastNotifiedAt"].is_string(), "{quiet_sub}");
    assert_eq!(quiet_sub["schedule"], schedule);

    // Unsubscribed: no more deliveries.
    let path = format!("/epcis/queries/shipping/subscriptions/{chatty_id}");
    assert_eq!(app.send("DELETE", &path, &reg, None).await.0, StatusCode::NO_CONTENT);
    let after = chatty.deliveries().len();
    tokio::time::sleep(Duration::from_millis(1300)).await;
    // A run that had already started may still arrive; none after it.
    assert!(chatty.deliveries().len() <= after + 1);
}

#[tokio::test]
async fn scheduled_subscriptions_sqlite() {
    scheduled_subscriptions(Engine::Sqlite).await;
}

#[tokio::test]
async fn scheduled_subscriptions_postgres() {
    scheduled_subscriptions(Engine::Postgres).await;
}

#[tokio::test]
async fn invalid_schedules_are_refused_naming_the_field() {
    let app = spawn(Engine::Sqlite).await;
    let reg = app.token("reg", Role::Regulator, None).await;
    let q = json!({"name": "shipping", "query": {"EQ_bizStep": ["shipping"]}});
    assert_eq!(app.send("POST", "/epcis/queries", &reg, Some(q)).await.0, StatusCode::CREATED);
    for (schedule, needle) in [
        (json!({"dayOfWeek": "8"}), "schedule.dayOfWeek: 8 is out of range 1–7"),
        (json!({"second": "0-59"}), "schedule.second: \"0-59\" is not a number or a [lo-hi] range"),
        (json!({"hour": "[5-2]"}), "schedule.hour: [5-2]: the range starts after it ends"),
        (json!({"minutes": "5"}), "schedule.minutes: is not a schedule field"),
        (json!({"dayOfMonth": "31", "month": "2"}), "schedule.dayOfMonth/month: "),
    ] {
        let sub = json!({"dest": "http://127.0.0.1:9/callback", "schedule": schedule});
        let (status, body) = app.send("POST", "/epcis/queries/shipping/subscriptions", &reg, Some(sub)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["type"], "epcisException:SubscriptionControlsException", "{body}");
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.starts_with(needle), "{detail:?} should start with {needle:?}");
    }
    let (_, subs) = app.send("GET", "/epcis/queries/shipping/subscriptions", &reg, None).await;
    assert_eq!(subs, json!([]));
}

/// A schedule that does not fire while a test runs (midnight of 1 January), for tests that run
/// the firings themselves.
fn yearly() -> Value {
    json!({"second": "0", "minute": "0", "hour": "0", "dayOfMonth": "1", "month": "1"})
}

/// A server with the named query `shipping` and a subscriber: the regulator's token.
async fn with_shipping_query(app: &App) -> String {
    let reg = app.token("reg", Role::Regulator, None).await;
    let q = json!({"name": "shipping", "query": {"EQ_bizStep": ["shipping"]}});
    let (status, body) = app.send("POST", "/epcis/queries", &reg, Some(q)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    reg
}

/// The subscription as the scheduler reads it.
async fn scheduled(app: &App, id: &str) -> ScheduledSubscription {
    let subs = app.store.epcis_scheduled_subscriptions().await.unwrap();
    subs.into_iter().find(|s| s.subscription.id == id).unwrap_or_else(|| panic!("{id} is not scheduled"))
}

fn now_micros() -> i64 {
    micros(&Timestamp(OffsetDateTime::now_utc()))
}

const LEASE: i64 = 300_000_000;

/// Several servers on one database: a firing is claimed by exactly one run; a claim blocks
/// others until it is let go or lapses; a claim for a window that has moved on fails; a run
/// whose claim lapsed and was taken over cannot move the window.
async fn runs_claim_their_firing(engine: Engine) {
    let app = spawn(engine).await;
    let reg = with_shipping_query(&app).await;
    let id = app.subscribe(&reg, json!({"dest": "http://127.0.0.1:9/callback", "schedule": yearly()})).await;
    let s = scheduled(&app, &id).await;
    let store = &app.store;
    let t0 = now_micros();

    // Two claims racing for the same window, many times over: exactly one wins each time.
    for round in 0..20 {
        let (a, b) = tokio::join!(
            store.epcis_claim_run(&id, s.start, t0, t0 + LEASE),
            store.epcis_claim_run(&id, s.start, t0, t0 + LEASE),
        );
        let won: Vec<RunClaim> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
        assert_eq!(won.len(), 1, "round {round}: {won:?}");
        store.epcis_release_run(&won[0]).await.unwrap();
    }

    // Held: nobody else gets it, until it is let go.
    let first = store.epcis_claim_run(&id, s.start, t0, t0 + LEASE).await.unwrap().unwrap();
    assert_eq!(first.subscription_id, id);
    assert_eq!(store.epcis_claim_run(&id, s.start, t0 + 1, t0 + 1 + LEASE).await.unwrap(), None);
    store.epcis_release_run(&first).await.unwrap();
    let second = store.epcis_claim_run(&id, s.start, t0 + 2, t0 + 2 + LEASE).await.unwrap().unwrap();

    // A claim lapses by itself (the server holding it died): another run takes over at the
    // end of the lease, and the first can no longer move the window nor let go of the new claim.
    assert_eq!(store.epcis_claim_run(&id, s.start, t0 + 1 + LEASE, t0 + 3 * LEASE).await.unwrap(), None);
    let third = store.epcis_claim_run(&id, s.start, t0 + 2 + LEASE, t0 + 3 * LEASE).await.unwrap().unwrap();
    let moved = WindowStart { record_time: s.start.record_time + 1, after_event: 0 };
    assert!(!store.epcis_advance_run(&second, moved, true, None).await.unwrap());
    store.epcis_release_run(&second).await.unwrap();
    assert_eq!(scheduled(&app, &id).await.start, s.start);
    assert_eq!(store.epcis_claim_run(&id, s.start, t0 + 3 + LEASE, t0 + 3 * LEASE).await.unwrap(), None);

    // The holder moves the window on, keeping its claim while more chunks follow…
    let mid = WindowStart { record_time: s.start.record_time, after_event: 7 };
    assert!(store.epcis_advance_run(&third, mid, true, Some(t0 + 4 * LEASE)).await.unwrap());
    assert_eq!(scheduled(&app, &id).await.start, mid);
    assert_eq!(store.epcis_claim_run(&id, mid, t0 + 3 * LEASE, t0 + 5 * LEASE).await.unwrap(), None);
    // …and letting go at the end of the window.
    assert!(store.epcis_advance_run(&third, moved, false, None).await.unwrap());
    let after = scheduled(&app, &id).await;
    assert_eq!(after.start, moved);
    assert!(after.subscription.last_notified_at.is_some());
    // A server that read the subscription before the window moved cannot claim the old window.
    assert_eq!(store.epcis_claim_run(&id, s.start, t0, t0 + LEASE).await.unwrap(), None);
    assert_eq!(store.epcis_claim_run(&id, mid, t0, t0 + LEASE).await.unwrap(), None);
    assert!(store.epcis_claim_run(&id, moved, t0, t0 + LEASE).await.unwrap().is_some());
}

#[tokio::test]
async fn runs_claim_their_firing_sqlite() {
    runs_claim_their_firing(Engine::Sqlite).await;
}

#[tokio::test]
async fn runs_claim_their_firing_postgres() {
    runs_claim_their_firing(Engine::Postgres).await;
}

/// Two servers run the same firing at once (both read the subscription before either ran):
/// the subscriber gets it once; a server that reads late finds the window moved.
async fn one_delivery_per_firing(engine: Engine) {
    let app = spawn(engine).await;
    let reg = with_shipping_query(&app).await;
    let sub = Subscriber::start();
    let id = app.subscribe(&reg, json!({"dest": sub.dest, "schedule": yearly()})).await;
    app.capture(&reg, doc("d", &["shipping", "shipping"])).await;
    let s = scheduled(&app, &id).await;
    let at = OffsetDateTime::now_utc();
    let (a, b) = tokio::join!(run_firing(&app.store, &s, at, 100), run_firing(&app.store, &s, at, 100));
    let mut outcomes = [a.unwrap(), b.unwrap()];
    outcomes.sort_by_key(|f| format!("{f:?}"));
    assert_eq!(outcomes, [Firing::ClaimedElsewhere, Firing::Delivered { requests: 1 }]);
    assert_eq!(run_firing(&app.store, &s, at, 100).await.unwrap(), Firing::ClaimedElsewhere);
    until("the delivery", || !sub.deliveries().is_empty()).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(sub.delivered_ids(), [event_id("d", 0), event_id("d", 1)]);
    assert_eq!(sub.deliveries().len(), 1);
}

#[tokio::test]
async fn one_delivery_per_firing_sqlite() {
    one_delivery_per_firing(Engine::Sqlite).await;
}

#[tokio::test]
async fn one_delivery_per_firing_postgres() {
    one_delivery_per_firing(Engine::Postgres).await;
}

/// A window larger than one delivery goes in chunks in record-time order, a chunk boundary may
/// fall inside the events of one capture (which share one record time), and a failed chunk is
/// sent again by the next firing, after the chunks already accepted: every event once, in order.
async fn large_windows_go_in_chunks(engine: Engine) {
    const CHUNK: usize = 3;
    let app = spawn(engine).await;
    let reg = with_shipping_query(&app).await;
    // The second request of the first firing fails.
    let sub = Subscriber::refusing(&[1]);
    let id = app.subscribe(&reg, json!({"dest": sub.dest, "schedule": yearly()})).await;
    // Five events with one record time, a receiving event the query leaves out, three more.
    app.capture(&reg, doc("e", &["shipping"; 5])).await;
    app.capture(&reg, doc("f", &["receiving", "shipping", "shipping", "shipping"])).await;
    let all: Vec<String> = (0..5).map(|i| event_id("e", i)).chain((1..4).map(|i| event_id("f", i))).collect();

    let first = run_firing(&app.store, &scheduled(&app, &id).await, OffsetDateTime::now_utc(), CHUNK).await.unwrap();
    assert_eq!(first, Firing::Interrupted { requests: 1 });
    until("the first chunk", || sub.deliveries().len() == 1).await;
    assert_eq!(sub.delivered_ids(), all[..3]);
    // The window now starts inside the first capture, after its third event; the claim is let go.
    let s = scheduled(&app, &id).await;
    assert_ne!(s.start.after_event, 0, "{:?}", s.start);

    // Newer events join the end of the window.
    app.capture(&reg, doc("g", &["shipping"])).await;
    let all: Vec<String> = all.into_iter().chain([event_id("g", 0)]).collect();
    let second = run_firing(&app.store, &s, OffsetDateTime::now_utc(), CHUNK).await.unwrap();
    assert_eq!(second, Firing::Delivered { requests: 2 });
    until("the other chunks", || sub.deliveries().len() == 3).await;
    let chunks: Vec<Vec<String>> = sub.deliveries().iter().map(Delivery::event_ids).collect();
    assert_eq!(chunks, [&all[..3], &all[3..6], &all[6..]], "chunks of at most {CHUNK}");
    assert_eq!(sub.delivered_ids(), all, "every event once, in record-time order");
    assert_eq!(scheduled(&app, &id).await.start.after_event, 0);

    // Nothing new: nothing sent, and the window still moves on.
    let third = run_firing(&app.store, &scheduled(&app, &id).await, OffsetDateTime::now_utc(), CHUNK).await.unwrap();
    assert_eq!(third, Firing::Delivered { requests: 0 });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(sub.deliveries().len(), 3);
}

#[tokio::test]
async fn large_windows_go_in_chunks_sqlite() {
    large_windows_go_in_chunks(Engine::Sqlite).await;
}

#[tokio::test]
async fn large_windows_go_in_chunks_postgres() {
    large_windows_go_in_chunks(Engine::Postgres).await;
}
