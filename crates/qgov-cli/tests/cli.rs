//! The `qgov` command as a user runs it: accounts, tokens, imports and their errors.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn qgov(url: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_qgov"))
        .args(args)
        .env("QGOV_DATABASE_URL", url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn code(body: &str) -> String {
    qgov_domain::UnifiedCreditCode::compose("91120116", body).unwrap().to_string()
}

#[tokio::test]
async fn accounts_tokens_and_imports() {
    let url = qgov_store::testing::fresh_database(qgov_store::Engine::Sqlite).await;
    let out = qgov(&url, &["migrate"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = qgov(
        &url,
        &["user", "create", "--username", "boss", "--role", "admin", "--password-stdin"],
        Some("a long password\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = qgov(
        &url,
        &["user", "create", "--username", "x", "--role", "root", "--password-stdin"],
        Some("a long password"),
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("unknown role \"root\""), "{}", text(&out.stderr));
    let out = qgov(
        &url,
        &["user", "create", "--username", "e", "--role", "enterprise", "--password-stdin"],
        Some("a long password"),
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--enterprise"), "{}", text(&out.stderr));
    let out = qgov(
        &url,
        &["user", "create", "--username", "boss", "--role", "admin", "--password-stdin"],
        Some("a long password"),
    );
    assert!(!out.status.success(), "duplicate username refused");
    let out =
        qgov(&url, &["user", "create", "--username", "short", "--role", "admin", "--password-stdin"], Some("short"));
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("password"), "{}", text(&out.stderr));

    let out = qgov(
        &url,
        &["user", "create", "--username", "r", "--role", "regulator", "--password-stdin"],
        Some("a long password"),
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("department"), "{}", text(&out.stderr));
    let out = qgov(
        &url,
        &["user", "create", "--username", "r", "--role", "regulator", "--department", "amr", "--password-stdin"],
        Some("a long password"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = qgov(&url, &["token", "create", "--username", "boss"], None);
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    let token = stdout.lines().last().unwrap();
    assert!(token.starts_with("qgov_") && token.len() > 40, "{stdout}");
    let store = qgov_store::Store::connect(&url).await.unwrap();
    assert_eq!(store.user_by_token(token).await.unwrap().unwrap().0.username, "boss");

    // Import: a bad file is refused whole, naming each bad row and column.
    let dir = std::env::temp_dir().join(format!("qgov-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, format!("uscc,name\n{},甲\n91120116MA05K1TQ00,乙\n{},\n", code("MA05K1T1"), code("MA05K1T2")))
        .unwrap();
    let out = qgov(&url, &["import", "enterprises", bad.to_str().unwrap()], None);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("row 3, column uscc") && err.contains("row 4, column name") && err.contains("nothing was stored"),
        "{err}"
    );
    assert_eq!(store.list_entities(&Default::default()).await.unwrap().total, 0);
    let out = qgov(&url, &["import", "enterprises", bad.to_str().unwrap(), "--skip-invalid"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("imported 1 enterprises"));
    let out = qgov(&url, &["import", "factories", bad.to_str().unwrap()], None);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("unknown register"));

    let out = qgov(&url, &["audit", "verify"], None);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("audit chain intact"));

    let out = qgov("mysql://nope", &["migrate"], None);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("unsupported database URL"), "{}", text(&out.stderr));
}

#[tokio::test]
async fn epcis_import_plain_and_bulk() {
    let url = qgov_store::testing::fresh_database(qgov_store::Engine::Sqlite).await;
    let dir = std::env::temp_dir().join(format!("qgov-cli-epcis-{}", &qgov_store::random_secret()[..8]));
    std::fs::create_dir_all(&dir).unwrap();
    let event = |i: u32| {
        format!(
            r#"{{"type":"ObjectEvent","action":"OBSERVE","bizStep":"shipping","eventTime":"2024-05-01T08:00:{i:02}Z","eventTimeZoneOffset":"+08:00","epcList":["urn:epc:id:sgtin:0614141.107346.{i}"]}}"#
        )
    };
    let doc = |events: Vec<String>| {
        format!(
            r#"{{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],"type":"EPCISDocument","schemaVersion":"2.0","creationDate":"2024-05-01T00:00:00Z","epcisBody":{{"eventList":[{}]}}}}"#,
            events.join(",")
        )
    };
    let good = dir.join("good.jsonld");
    std::fs::write(&good, doc((0..5).map(event).collect())).unwrap();
    let bad = dir.join("bad.jsonld");
    std::fs::write(&bad, doc(vec![event(7), event(8).replace("2024-05-01T08:00:08Z", "yesterday")])).unwrap();

    let out = qgov(&url, &["import", "epcis", "--bulk", good.to_str().unwrap(), bad.to_str().unwrap()], None);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(!out.status.success(), "a refused file fails the run: {stdout}");
    assert!(stdout.contains("query indexes set aside") && stdout.contains("indexes rebuilt"), "{stdout}");
    assert!(stdout.contains("5 event(s) stored"), "{stdout}");
    assert!(stderr.contains("bad.jsonld") && stderr.contains("nothing was stored"), "{stderr}");

    // The indexes are back and the events are there once: importing again stores nothing.
    let store = qgov_store::Store::connect(&url).await.unwrap();
    assert_eq!(store.epcis_deferred_index_count().await.unwrap(), 0);
    let out = qgov(&url, &["import", "epcis", good.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("0 event(s) stored, 5 already present"), "{}", text(&out.stdout));

    let out = qgov(&url, &["import", "enterprises", good.to_str().unwrap(), "--bulk"], None);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--bulk is for `qgov import epcis`"), "{}", text(&out.stderr));
    std::fs::remove_dir_all(&dir).ok();
}

/// `qgov bench trace` end to end on a small chain: capture, index rebuild, traces, scopes,
/// whole requests and the recursive SQL baseline all report; a bad setting is refused by name.
#[tokio::test]
async fn bench_trace_reports_every_part_and_refuses_bad_settings() {
    let url = qgov_store::testing::fresh_database(qgov_store::Engine::Sqlite).await;
    let args = ["bench", "trace", "--events", "3000", "--roots", "3", "--sql-roots", "1", "--registers", "100"];
    let out = qgov(&url, &[&args[..], &["--database-url", &url, "--uses-per-part", "11"]].concat(), None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for line in [
        "capture: ",
        "index rebuild from the database: ",
        "trace forward ",
        "recall scope of ",
        "GET /api/v1/trace/scope ",
        "recursive SQL forward ",
    ] {
        assert!(stdout.contains(line), "no `{line}` in:\n{stdout}");
    }
    let scope = stdout.lines().find(|l| l.starts_with("recall scope of ")).unwrap();
    let median: usize = scope.split("(median ").nth(1).and_then(|r| r.split(' ').next()).unwrap().parse().unwrap();
    assert!(median > 0, "farm lots reach items: {scope}");

    let out = qgov(&url, &[&args[..], &["--database-url", &url, "--uses-per-part", "0"]].concat(), None);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--uses-per-part"), "{}", text(&out.stderr));
}

/// `qgov bench capture` with concurrent clients: every event stored once (the writer groups
/// the documents that queue), the queries measured, a bad client count refused by name.
#[tokio::test]
async fn bench_capture_with_clients_stores_every_event_once() {
    let url = qgov_store::testing::fresh_database(qgov_store::Engine::Sqlite).await;
    let args = [
        "bench",
        "capture",
        "--database-url",
        &url,
        "--events",
        "2500",
        "--doc-size",
        "200",
        "--baseline-events",
        "100",
        "--query-runs",
        "1",
    ];
    let out = qgov(&url, &[&args[..], &["--clients", "3"]].concat(), None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for line in [
        "capture: 2500 events in ",
        "(documents of 200, 3 client(s)); 2500 stored",
        "MATCH_epc (one SGTIN)",
        "baseline (one INSERT + commit per event): 100 events",
    ] {
        assert!(stdout.contains(line), "no `{line}` in:\n{stdout}");
    }
    let store = qgov_store::Store::connect(&url).await.unwrap();
    let (events, distinct, jobs): (i64, i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COUNT(DISTINCT event_id), (SELECT COUNT(*) FROM epcis_capture_jobs) FROM epcis_events",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!((events, distinct, jobs), (2500, 2500, 13));
    store.audit_verify().await.unwrap().expect("audit chain verifies");

    let out = qgov(&url, &[&args[..], &["--clients", "0"]].concat(), None);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--clients"), "{}", text(&out.stderr));
    // A document of no events would never finish the run.
    let out = qgov(&url, &["bench", "capture", "--database-url", &url, "--doc-size", "0", "--events", "10"], None);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--doc-size"), "{}", text(&out.stderr));
}
