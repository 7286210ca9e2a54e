//! EPCIS commands: `qgov import epcis FILE…` (the same parse, validation and all-or-nothing
//! capture as `POST /epcis/capture`, with a progress bar) and `qgov bench capture` (sustained
//! capture throughput and standard-query latency on the embedded SQLite, beside a naive
//! row-per-event baseline).

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use qgov_store::epcis::query::EventQuery;
use qgov_store::epcis::{Capturer, ErrorBehaviour, EventScope};
use qgov_store::{Actor, Store};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Captures EPCIS documents (JSON-LD or XML, EPCIS 2.0 or 1.2) file by file. A file with any
/// invalid event is refused whole with every problem named; the other files are still captured.
/// `bulk` sets the query indexes aside for the run and rebuilds them at the end, also when a
/// file fails to read (an interrupted run is repaired by the next start of the store).
pub async fn import(store: &Store, files: &[PathBuf], bulk: bool) -> Result<ExitCode> {
    if !bulk {
        return import_files(store, files).await;
    }
    let deferred = store.epcis_defer_indexes().await?;
    println!("bulk load: {deferred} query indexes set aside until the files are in");
    let outcome = import_files(store, files).await;
    let t = Instant::now();
    let rebuilt = store.epcis_restore_indexes().await?;
    println!("bulk load: {rebuilt} indexes rebuilt in {:.1} s", t.elapsed().as_secs_f64());
    outcome
}

async fn import_files(store: &Store, files: &[PathBuf]) -> Result<ExitCode> {
    let bar = ProgressBar::new(files.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} files, {per_sec}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let mut failed = false;
    let (mut stored, mut duplicates) = (0usize, 0usize);
    for path in files {
        let name = path.display().to_string();
        bar.set_message(format!("capturing {name}"));
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {name}"))?;
        match qgov_epcis::parse_any(&bytes) {
            Ok(doc) => {
                let out = store
                    .epcis_capture(&Actor::system(), &Capturer::default(), doc, ErrorBehaviour::Rollback, vec![])
                    .await?;
                stored += out.stored.len();
                duplicates += out.duplicates.len();
                // `suspend`, not `println`: a hidden bar (no terminal) drops `println` lines.
                bar.suspend(|| {
                    println!(
                        "{name}: {} stored, {} already present (capture {})",
                        out.stored.len(),
                        out.duplicates.len(),
                        out.job.capture_id
                    )
                });
            }
            Err(problems) => {
                failed = true;
                bar.suspend(|| {
                    for p in &problems.0 {
                        eprintln!("{name}: {p}");
                    }
                    eprintln!("{name}: refused, {} problem(s); nothing was stored", problems.0.len());
                });
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!("{} file(s): {stored} event(s) stored, {duplicates} already present", files.len());
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// `qgov bench capture` settings.
#[derive(clap::Args, Debug)]
pub struct BenchCaptureArgs {
    /// Events to capture in total.
    #[arg(long, default_value_t = 200_000)]
    events: usize,
    /// Events per capture document (each document is one durable transaction).
    #[arg(long, default_value_t = 1000)]
    doc_size: usize,
    /// Database to fill (default: a fresh embedded SQLite file under ./qgov-bench/).
    #[arg(long)]
    database_url: Option<String>,
    /// Events for the naive baseline (one INSERT and one commit per event).
    #[arg(long, default_value_t = 5_000)]
    baseline_events: usize,
    /// Runs of each query per measurement (the median is reported).
    #[arg(long, default_value_t = 21)]
    query_runs: usize,
    /// Bulk load: set the query indexes aside, capture, rebuild them, then measure queries
    /// (reports the capture rate and the rebuild time apart).
    #[arg(long)]
    bulk: bool,
    /// Keep the events already in the database and add `--events` more (grows a store in steps).
    #[arg(long)]
    append: bool,
    /// Clients capturing at once, each its own documents, as concurrent `POST /epcis/capture`
    /// requests would (parsing and hashing run beside the writer; documents that wait for it
    /// are committed together). With one client the documents go strictly one after another.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    clients: u32,
}

/// A realistic supply-chain document: per 10 events, commissioning and shipping ObjectEvents
/// with SGTINs, lot quantities, purchase orders and owning parties, receiving at the next
/// site, an AggregationEvent onto an SSCC and a TransformationEvent; 1,000 sites (SGLNs).
fn document(first: usize, n: usize) -> Vec<u8> {
    let mut events = Vec::with_capacity(n);
    for i in first..first + n {
        let site = i % 1000;
        let next = (i + 1) % 1000;
        let t = format!(
            "2024-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}+08:00",
            1 + (i / 2_600_000) % 12,
            1 + (i / 86_400) % 28,
            (i / 3600) % 24,
            (i / 60) % 60,
            i % 60,
            i % 1000
        );
        let common = format!(
            r#""eventTime":"{t}","eventTimeZoneOffset":"+08:00","readPoint":{{"id":"urn:epc:id:sgln:0614141.{site:05}.1"}},"bizLocation":{{"id":"urn:epc:id:sgln:0614141.{site:05}.0"}}"#
        );
        let ev = match i % 10 {
            0..=2 => format!(
                r#"{{"type":"ObjectEvent","action":"ADD","bizStep":"commissioning","disposition":"active",{common},"epcList":["urn:epc:id:sgtin:0614141.107346.{i}"],"ilmd":{{"example:lot":"L{}","example:bestBefore":"2025-01-01"}}}}"#,
                i / 1000
            ),
            3..=5 => format!(
                r#"{{"type":"ObjectEvent","action":"OBSERVE","bizStep":"shipping","disposition":"in_transit",{common},"epcList":["urn:epc:id:sgtin:0614141.107346.{}"],"quantityList":[{{"epcClass":"urn:epc:class:lgtin:4012345.012345.L{}","quantity":12.5,"uom":"KGM"}}],"bizTransactionList":[{{"type":"po","bizTransaction":"urn:epcglobal:cbv:bt:0614141000005:PO{}"}}],"sourceList":[{{"type":"owning_party","source":"urn:epc:id:pgln:0614141.{site:05}"}}],"destinationList":[{{"type":"owning_party","destination":"urn:epc:id:pgln:0614141.{next:05}"}}]}}"#,
                i - 3,
                i / 1000,
                i / 10
            ),
            6..=7 => format!(
                r#"{{"type":"ObjectEvent","action":"OBSERVE","bizStep":"receiving","disposition":"in_progress",{common},"epcList":["urn:epc:id:sgtin:0614141.107346.{}"],"bizTransactionList":[{{"type":"po","bizTransaction":"urn:epcglobal:cbv:bt:0614141000005:PO{}"}}]}}"#,
                i - 6,
                i / 10
            ),
            8 => format!(
                r#"{{"type":"AggregationEvent","action":"ADD","bizStep":"packing","disposition":"in_progress",{common},"parentID":"urn:epc:id:sscc:0614141.{:010}","childEPCs":["urn:epc:id:sgtin:0614141.107346.{}","urn:epc:id:sgtin:0614141.107346.{}"]}}"#,
                i % 10_000_000_000,
                i - 8,
                i - 7
            ),
            _ => format!(
                r#"{{"type":"TransformationEvent","bizStep":"commissioning",{common},"inputEPCList":["urn:epc:id:sgtin:0614141.107346.{}"],"outputEPCList":["urn:epc:id:sgtin:4012345.066666.{i}"],"inputQuantityList":[{{"epcClass":"urn:epc:class:lgtin:4012345.012345.L{}","quantity":3,"uom":"KGM"}}]}}"#,
                i - 9,
                i / 1000
            ),
        };
        events.push(ev);
    }
    format!(
        r#"{{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",{{"example":"https://ns.example.com/epcis/"}}],"type":"EPCISDocument","schemaVersion":"2.0","creationDate":"2024-05-01T00:00:00Z","epcisBody":{{"eventList":[{}]}}}}"#,
        events.join(",")
    )
    .into_bytes()
}

fn query(pairs: &[(&str, String)]) -> EventQuery {
    let params: Vec<(String, Vec<String>)> = pairs.iter().map(|(k, v)| (k.to_string(), vec![v.clone()])).collect();
    EventQuery::parse(&params, &|_| None).expect("benchmark queries are valid")
}

/// Median latency of each standard query (first page of 30, events decoded) at the current size.
async fn measure_queries(store: &Store, stored: usize, runs: usize) -> Result<()> {
    let probe = stored / 2;
    let cases: Vec<(&str, EventQuery)> = vec![
        (
            "MATCH_epc (one SGTIN)",
            query(&[("MATCH_epc", format!("urn:epc:id:sgtin:0614141.107346.{}", probe - probe % 10))]),
        ),
        (
            "EQ_bizLocation (1 of 1,000 sites)",
            query(&[("EQ_bizLocation", format!("urn:epc:id:sgln:0614141.{:05}.0", probe % 1000))]),
        ),
        (
            "EQ_bizTransaction_po",
            query(&[("EQ_bizTransaction_po", format!("urn:epcglobal:cbv:bt:0614141000005:PO{}", probe / 10))]),
        ),
        (
            "eventTime window, orderBy eventTime",
            query(&[
                ("GE_eventTime", "2024-01-01T10:00:00+08:00".into()),
                ("LT_eventTime", "2024-01-01T10:01:00+08:00".into()),
                ("orderBy", "eventTime".into()),
            ]),
        ),
        ("EQ_bizStep=receiving, first page", query(&[("EQ_bizStep", "receiving".into())])),
        (
            "MATCH_anyEPCClass (one lot)",
            query(&[("MATCH_anyEPCClass", format!("urn:epc:class:lgtin:4012345.012345.L{}", probe / 1000))]),
        ),
    ];
    println!("query latency at {stored} stored events (median of {runs}, first page of 30):");
    for (name, q) in &cases {
        let mut times = Vec::with_capacity(runs);
        let mut found = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let page = store.epcis_query(q, EventScope::All, 30, None).await?;
            for e in &page.events {
                e.to_event().map_err(|p| anyhow::anyhow!("{p}"))?;
            }
            times.push(t.elapsed());
            found = page.events.len();
        }
        times.sort();
        println!("  {name:<40} {:>8.2} ms  ({found} events)", times[runs / 2].as_secs_f64() * 1e3);
    }
    Ok(())
}

/// Runs the capture benchmark and prints the figures for docs/BENCHMARKS.md.
pub async fn bench_capture(a: BenchCaptureArgs) -> Result<ExitCode> {
    anyhow::ensure!(a.doc_size > 0, "--doc-size must be at least 1 (events per capture document)");
    let url = match &a.database_url {
        Some(u) => u.clone(),
        None => {
            let dir = std::env::current_dir()?.join("qgov-bench");
            if !a.append {
                let _ = std::fs::remove_dir_all(&dir);
            }
            format!("sqlite://{}/bench.db", dir.display())
        }
    };
    let store = Store::connect(&url).await.with_context(|| format!("cannot open {url}"))?;
    let already: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM epcis_events").fetch_one(store.pool()).await?;
    let already = usize::try_from(already)?;
    anyhow::ensure!(
        a.append || already == 0,
        "{url} already holds {already} events: give --append or a fresh database"
    );
    println!(
        "qgov bench capture: {} events in documents of {} into {url}{}{}",
        a.events,
        a.doc_size,
        if already > 0 { format!(" (holding {already})") } else { String::new() },
        if a.bulk { ", bulk load (indexes deferred)" } else { "" }
    );
    if a.bulk {
        let n = store.epcis_defer_indexes().await?;
        println!("bulk load: {n} query indexes set aside");
    }
    let target = already + a.events;
    let mut stored = already;
    let mut busy = Duration::ZERO;
    let mut measured_at = 0;
    let checkpoints = [10_000usize, 100_000, 1_000_000, 10_000_000];
    let bar = ProgressBar::new(target as u64);
    bar.set_style(
        ProgressStyle::with_template("[{bar:40}] {pos}/{len} events {msg}").expect("valid").progress_chars("=> "),
    );
    let doc_size = a.doc_size;
    // A server reads its in-memory indexes (SQLite) at start, before the first request.
    let t = Instant::now();
    store.epcis_warm().await?;
    println!("in-memory indexes read at start: {stored} events in {:.2} s", t.elapsed().as_secs_f64());
    // Making the documents is inside the timed phases: say what it costs.
    let t = Instant::now();
    let made: usize = (0..20).map(|i| document(i * doc_size, doc_size).len()).sum();
    println!(
        "making the documents alone (included in the capture times): {:.2} µs per event ({} bytes per event)",
        t.elapsed().as_secs_f64() * 1e6 / (20 * doc_size) as f64,
        made / (20 * doc_size)
    );
    while stored < target {
        // Capture up to the next checkpoint (or the end), then measure the queries there.
        let stop = checkpoints.iter().copied().find(|c| *c > stored).unwrap_or(target).min(target);
        let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(stored));
        let t = Instant::now();
        let mut clients = tokio::task::JoinSet::new();
        for _ in 0..a.clients {
            let (store, next, bar) = (store.clone(), next.clone(), bar.clone());
            clients.spawn(async move {
                let actor = Actor::system();
                loop {
                    let first = next.fetch_add(doc_size, std::sync::atomic::Ordering::Relaxed);
                    if first >= stop {
                        return anyhow::Ok(());
                    }
                    let n = doc_size.min(stop - first);
                    // Timed (wall clock of the phase): make the document, parse + validate +
                    // hash + store, durable on return (one transaction, or one group).
                    let bytes = document(first, n);
                    let doc = tokio::task::spawn_blocking(move || qgov_epcis::parse_any(&bytes))
                        .await?
                        .map_err(|p| anyhow::anyhow!("{p}"))?;
                    let out = store
                        .epcis_capture(&actor, &Capturer::default(), doc, ErrorBehaviour::Rollback, vec![])
                        .await?;
                    anyhow::ensure!(out.stored.len() == n, "expected {n} new events, stored {}", out.stored.len());
                    // As the server does after each capture: the in-memory indexes catch up,
                    // so their cost counts as capture time.
                    store.epcis_warm().await?;
                    bar.inc(n as u64);
                }
            });
        }
        while let Some(r) = clients.join_next().await {
            r??;
        }
        busy += t.elapsed();
        stored = stop;
        let rate = (stored - already) as f64 / busy.as_secs_f64();
        bar.set_message(format!("{rate:.0} events/s"));
        if checkpoints.contains(&stored) {
            bar.suspend(|| {
                println!(
                    "capture: {stored} events stored, {} in {:.1} s of capture time = {rate:.0} events/s",
                    stored - already,
                    busy.as_secs_f64(),
                )
            });
            // Without its indexes a bulk-loading store answers by scanning: measured after.
            if !a.bulk {
                measure_queries(&store, stored, a.query_runs).await?;
                measured_at = stored;
            }
        }
    }
    bar.finish_and_clear();
    let ours = (stored - already) as f64 / busy.as_secs_f64();
    println!(
        "capture: {} events in {:.1} s of capture time = {ours:.0} events/s (documents of {}, {} client(s)); {stored} stored",
        stored - already,
        busy.as_secs_f64(),
        a.doc_size,
        a.clients
    );
    if a.bulk {
        let t = Instant::now();
        let n = store.epcis_restore_indexes().await?;
        let rebuild = t.elapsed().as_secs_f64();
        println!(
            "bulk load: {n} indexes rebuilt in {rebuild:.1} s; load and rebuild together {:.0} events/s",
            (stored - already) as f64 / (busy.as_secs_f64() + rebuild)
        );
    }
    if measured_at != stored {
        measure_queries(&store, stored, a.query_runs).await?;
    }

    if a.baseline_events == 0 {
        return Ok(ExitCode::SUCCESS);
    }
    // Baseline: the same parse, validation and hash, then one INSERT and one commit per event
    // into a table holding only the eventID and the JSON (no normalisation, no indexes).
    sqlx::query("CREATE TABLE IF NOT EXISTS bench_naive (event_id TEXT PRIMARY KEY, body TEXT NOT NULL)")
        .execute(store.pool())
        .await?;
    let mut done = 0usize;
    let t = Instant::now();
    while done < a.baseline_events {
        let n = a.doc_size.min(a.baseline_events - done);
        let bytes = document(10_000_000_000 + done, n);
        let mut doc = qgov_epcis::parse_any(&bytes).map_err(|p| anyhow::anyhow!("{p}"))?;
        qgov_epcis::assign_missing_event_ids(&mut doc);
        for ev in &doc.events {
            let body = qgov_epcis::json::event_json(ev, &doc.namespaces, qgov_epcis::EpcFormat::NoPreference);
            let mut tx = store.pool().begin().await?;
            sqlx::query("INSERT INTO bench_naive (event_id, body) VALUES ($1, $2)")
                .bind(ev.event_id.clone().unwrap_or_default())
                .bind(body)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        done += n;
    }
    let naive = done as f64 / t.elapsed().as_secs_f64();
    println!("baseline (one INSERT + commit per event): {done} events = {naive:.0} events/s");
    println!("ratio: {:.1}× the naive baseline", ours / naive);
    Ok(ExitCode::SUCCESS)
}
