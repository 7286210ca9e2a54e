//! `qgov bench trace`: a generated multi-tier chain loaded through the real capture path,
//! the server's trace index rebuilt from the database, and trace / recall-scope latencies set
//! against the straightforward recursive SQL query on the same data.

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use qgov_epcis::model::{Document, DocumentKind};
use qgov_store::epcis::{Capturer, ErrorBehaviour};
use qgov_store::{Actor, Store};
use qgov_trace::generator::{ChainConfig, ChainGenerator};
use qgov_trace::{AllEvents, Direction};
use qgov_web::trace::{Registers, RegistersCache, TraceState, trace_json, trace_out};
use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// `qgov bench trace` settings.
#[derive(clap::Args, Debug)]
pub struct BenchTraceArgs {
    /// Events to generate and capture.
    #[arg(long, default_value_t = 100_000)]
    events: usize,
    /// Events per capture document (one transaction each).
    #[arg(long, default_value_t = 1000)]
    doc_size: usize,
    /// Database to fill (default: a fresh embedded SQLite file under ./qgov-bench-trace/).
    #[arg(long)]
    database_url: Option<String>,
    /// Roots per kind (farm lots, product lots, cases, pallets) for the index latencies.
    #[arg(long, default_value_t = 200)]
    roots: usize,
    /// Roots per direction for the recursive SQL baseline (each can take seconds).
    #[arg(long, default_value_t = 10)]
    sql_roots: usize,
    /// Keep the database of an earlier run with the same --events, --seed and --uses-per-part
    /// and skip the
    /// capture (the chain is generated again only for its catalogue of query roots), so the
    /// memory figure is that of a server starting on an existing database.
    #[arg(long)]
    reuse_database: bool,
    /// Seed of the generated chain.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Places in the locations register: the chain's sites (named, owned by a registered
    /// enterprise each) and as many others as it takes, as a district's register would hold.
    #[arg(long, default_value_t = 20_000)]
    registers: usize,
    /// Capture as a bulk load (query indexes set aside, rebuilt after; see `qgov import epcis
    /// --bulk`): the way to fill a store of 10 M events in minutes rather than hours.
    #[arg(long)]
    bulk: bool,
    /// How many transformations each received part of a farm lot feeds: the size of a farm
    /// lot's recall (8: about 8,000 items; 11: about 10,000, up to 12,700).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=64))]
    uses_per_part: u32,
}

fn vm_hwm() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM")).map(|l| l[6..].trim().to_owned()))
        .unwrap_or_else(|| "n/a".into())
}

fn spread(list: &[String], n: usize) -> Vec<String> {
    let step = (list.len() / n.max(1)).max(1);
    list.iter().step_by(step).take(n).cloned().collect()
}

fn pct(mut t: Vec<Duration>) -> (f64, f64, f64) {
    t.sort();
    let at = |p: f64| t[((t.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3;
    (at(0.5), at(0.99), at(1.0))
}

/// Fills the registers as a district would have them, unless an earlier run did: an enterprise
/// owning each site of the chain, each site as a named location, `places` locations in all,
/// and the chain's products.
async fn register(store: &Store, sites: &[String], gtins: &[String], places: usize) -> Result<()> {
    use qgov_domain::registers::{LocationDraft, MarketEntityDraft, ProductDraft};
    use qgov_store::ImportMode;
    if sites.is_empty() || store.places_by_gln().await?.contains_key(&sites[0]) {
        return Ok(());
    }
    fn draft(pairs: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<&str, String> = pairs.into_iter().collect();
        move |k: &str| m.get(k).cloned()
    }
    let uscc =
        |n: usize| qgov_domain::UnifiedCreditCode::compose("91120116", &format!("MA{:06}", n)).map(|c| c.to_string());
    let (mut entities, mut locations, mut products) = (Vec::new(), Vec::new(), Vec::new());
    for (n, gln) in sites.iter().enumerate() {
        let f = draft(vec![("uscc", uscc(n)?), ("name", format!("链上企业{n}")), ("industry", "food_retail".into())]);
        entities.push((n + 2, MarketEntityDraft::parse(&f)));
        let f = draft(vec![
            ("gln", gln.clone()),
            ("name", format!("链上场所{n}")),
            ("kind", "warehouse".into()),
            ("street", format!("街道{}", n % 20)),
            ("owner_uscc", uscc(n)?),
        ]);
        locations.push((n + 2, LocationDraft::parse(&f)));
    }
    for n in sites.len()..places.max(sites.len()) {
        let body = format!("69099{n:07}");
        let gln = format!("{body}{}", qgov_domain::ids::gs1_check_digit(body.as_bytes()));
        let f = draft(vec![("gln", gln), ("name", format!("其他场所{n}")), ("kind", "store".into())]);
        locations.push((n + 2, LocationDraft::parse(&f)));
    }
    for (n, gtin) in gtins.iter().enumerate() {
        products.push((n + 2, ProductDraft::parse(&draft(vec![("gtin", gtin.clone()), ("name", format!("产品{n}"))]))));
    }
    let actor = Actor::system();
    let refused =
        |rows: Vec<qgov_store::RowError>| anyhow::anyhow!("registers refused: {:?}", &rows[..rows.len().min(3)]);
    store.import_entities(&actor, entities, ImportMode::AllOrNothing, &|_| {}).await?.map_err(refused)?;
    store.import_locations(&actor, locations, ImportMode::AllOrNothing, &|_| {}).await?.map_err(refused)?;
    store.import_products(&actor, products, ImportMode::AllOrNothing, &|_| {}).await?.map_err(refused)?;
    Ok(())
}

/// A regulator's API token for the benchmark's requests (a new account each run, so that a
/// reused database takes it too).
async fn bench_token(store: &Store) -> Result<String> {
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos();
    let user = store
        .create_user(
            &Actor::system(),
            &qgov_store::NewUser {
                username: format!("bench-trace-{stamp}"),
                password: "bench-trace-password".into(),
                role: qgov_domain::Role::Regulator,
                department_id: Some(1),
                entity_id: None,
            },
        )
        .await?;
    Ok(store.create_token(&Actor::system(), user.id, "qgov bench trace").await?.1)
}

/// Runs the trace benchmark and prints the figures for docs/BENCHMARKS.md.
pub async fn bench_trace(a: BenchTraceArgs) -> Result<ExitCode> {
    let url = match &a.database_url {
        Some(u) => u.clone(),
        None => {
            let dir = std::env::current_dir()?.join("qgov-bench-trace");
            if !a.reuse_database {
                let _ = std::fs::remove_dir_all(&dir);
            }
            format!("sqlite://{}/bench.db", dir.display())
        }
    };
    let store = Store::connect(&url).await.with_context(|| format!("cannot open {url}"))?;
    println!("qgov bench trace: {} generated events (seed {}) into {url}", a.events, a.seed);

    // Capture through the repository's capture path, in documents of doc_size.
    let config =
        ChainConfig { seed: a.seed, events: a.events, uses_per_part: a.uses_per_part, ..ChainConfig::default() };
    let mut g = ChainGenerator::new(config);
    let bar = ProgressBar::new(a.events as u64);
    bar.set_style(
        ProgressStyle::with_template("[{bar:40}] {pos}/{len} events {msg}").expect("valid").progress_chars("=> "),
    );
    let actor = Actor::system();
    let (mut stored, mut busy) = (0usize, Duration::ZERO);
    let mut done = a.reuse_database;
    if a.bulk && !done {
        let n = store.epcis_defer_indexes().await?;
        println!("bulk load: {n} query indexes set aside");
    }
    while !done {
        let events: Vec<_> = g.by_ref().take(a.doc_size).collect();
        if events.is_empty() {
            done = true;
            continue;
        }
        let n = events.len();
        let doc = Document {
            kind: DocumentKind::Capture,
            schema_version: "2.0".into(),
            creation_date: None,
            namespaces: vec![],
            extensions: vec![],
            events,
        };
        let t = Instant::now();
        let out = store.epcis_capture(&actor, &Capturer::default(), doc, ErrorBehaviour::Rollback, vec![]).await?;
        busy += t.elapsed();
        anyhow::ensure!(out.stored.len() == n, "expected {n} new events, stored {}", out.stored.len());
        stored += n;
        bar.set_position(stored as u64);
        bar.set_message(format!("{:.0} events/s", stored as f64 / busy.as_secs_f64()));
    }
    bar.finish_and_clear();
    if a.bulk && !a.reuse_database {
        let t = Instant::now();
        let n = store.epcis_restore_indexes().await?;
        println!("bulk load: {n} indexes rebuilt in {:.1} s", t.elapsed().as_secs_f64());
    }
    if a.reuse_database {
        stored = g.by_ref().count();
    }
    let catalog = g.catalog().clone();
    let (site_glns, gtins) = (g.site_glns(), g.gtins());
    drop(g);
    register(&store, &site_glns, &gtins, a.registers).await?;
    if a.reuse_database {
        println!("capture skipped: reusing the {stored} events of an earlier run ({:?})", store.engine());
    } else {
        println!(
            "capture: {stored} events in {:.1} s = {:.0} events/s (documents of {}, {:?})",
            busy.as_secs_f64(),
            stored as f64 / busy.as_secs_f64(),
            a.doc_size,
            store.engine()
        );
    }
    let hwm_capture = vm_hwm();

    // Rebuild the index from the database exactly as the server does at start-up.
    let state = std::sync::Arc::new(TraceState::default());
    let t = Instant::now();
    let n = state.refresh(&store).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let rebuild = t.elapsed();
    let ix = state.current(&store).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "index rebuild from the database: {n} events in {:.1} s ({:.0} events/s); {} identifiers, {} MiB of index heap",
        rebuild.as_secs_f64(),
        n as f64 / rebuild.as_secs_f64(),
        ix.identifier_count(),
        ix.heap_bytes() >> 20
    );
    // The labels of the traces timed below without the database: the whole registers.
    let reg = Registers::load(&store).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut load = Vec::new();
    for _ in 0..21 {
        let t = Instant::now();
        Registers::load(&store).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        load.push(t.elapsed());
    }
    let cache = RegistersCache::default();
    cache.current(&store).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut hit = Vec::new();
    for _ in 0..101 {
        let t = Instant::now();
        cache.current(&store).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        hit.push(t.elapsed());
    }
    println!(
        "registers: {} places, {} products; reading them whole p50 {:.3} ms, the server's copy checked current \
         p50 {:.3} ms",
        reg.places.len(),
        reg.products.len(),
        pct(load).0,
        pct(hit).0
    );

    // Backward from cases and product lots, forward from farm lots and product lots: the
    // index walk; plus the API's shaping (URN ids, names, depths: `trace_out`); or plus shaping
    // and JSON as the API answers (`trace_json`), i.e. server-side minus the request's
    // database round trips (measured as whole requests further down).
    let backward: Vec<String> =
        spread(&catalog.cases, a.roots).into_iter().chain(spread(&catalog.product_lots, a.roots)).collect();
    let forward: Vec<String> =
        spread(&catalog.farm_lots, a.roots).into_iter().chain(spread(&catalog.product_lots, a.roots)).collect();
    let mut idx_p50 = HashMap::new();
    for (name, dir, roots) in [("backward", Direction::Backward, &backward), ("forward", Direction::Forward, &forward)]
    {
        let n = roots.len();
        let (mut walk, mut shaped, mut json) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        let mut freed = Vec::with_capacity(n);
        let (mut nodes, mut edges) = (0usize, 0usize);
        for r in roots {
            let t = Instant::now();
            let tr = ix.trace(r, dir, &AllEvents).map_err(|e| anyhow::anyhow!("{e}"))?;
            let w = t.elapsed();
            walk.push(w);
            let t = Instant::now();
            let out = trace_out(&tr, &reg);
            shaped.push(w + t.elapsed());
            let t = Instant::now();
            let bytes = trace_json(&tr, &reg);
            let j = t.elapsed();
            json.push(w + j);
            anyhow::ensure!(!bytes.is_empty());
            nodes += out.nodes.len();
            edges += out.edges.len();
            drop(out);
            let t = Instant::now();
            drop((tr, bytes));
            freed.push(w + j + t.elapsed());
        }
        let (p50, p99, max) = pct(walk);
        let (sp50, sp99, smax) = pct(shaped);
        let (jp50, jp99, jmax) = pct(json);
        let (fp50, fp99, fmax) = pct(freed);
        idx_p50.insert(name, sp50);
        println!(
            "trace {name:<8} over {n} roots (mean {} nodes, {} edges): index walk p50 {p50:.3} ms, p99 {p99:.3} ms, \
             max {max:.3} ms; with the API's shaping p50 {sp50:.3} ms, p99 {sp99:.3} ms, max {smax:.3} ms; \
             with shaping and JSON p50 {jp50:.3} ms, p99 {jp99:.3} ms, max {jmax:.3} ms; and the answer freed \
             p50 {fp50:.3} ms, p99 {fp99:.3} ms, max {fmax:.3} ms",
            nodes / n.max(1),
            edges / n.max(1)
        );
    }
    let farm = spread(&catalog.farm_lots, a.roots);
    let mut times = Vec::new();
    let mut sizes = Vec::new();
    for r in &farm {
        let t = Instant::now();
        let s = ix.recall_scope(r).map_err(|e| anyhow::anyhow!("{e}"))?;
        times.push(t.elapsed());
        sizes.push(s.items.len());
    }
    let (p50, p99, max) = pct(times);
    sizes.sort_unstable();
    let (median, biggest) = (sizes.get(sizes.len() / 2).copied().unwrap_or(0), sizes.last().copied().unwrap_or(0));
    println!(
        "recall scope of {} farm lots: p50 {p50:.3} ms, p99 {p99:.3} ms, max {max:.3} ms (median {median} items, \
         largest {biggest})",
        farm.len()
    );
    drop(ix);

    // The whole request, server-side: `GET /api/v1/trace` (and `/trace/scope` of the farm lots)
    // sent to the application's router in-process (token check, visibility, registers,
    // catch-up query, walk, shaping, JSON), timed until the last byte of the body is produced;
    // no network, no client.
    let router = qgov_web::router_with_trace(store.clone(), qgov_web::Config::default(), state.clone());
    let token = bench_token(&store).await?;
    let requests = [
        ("/api/v1/trace", "backward", &backward),
        ("/api/v1/trace", "forward", &forward),
        ("/api/v1/trace/scope", "", &farm),
    ];
    for (path, name, roots) in requests {
        let (mut times, mut bytes) = (Vec::with_capacity(roots.len()), 0usize);
        for r in roots {
            let uri = qgov_web::console::links::with_query(path, &[("direction", name), ("id", r)]);
            let req = axum::http::Request::get(uri)
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::empty())?;
            let t = Instant::now();
            let res = tower::ServiceExt::oneshot(router.clone(), req).await?;
            let status = res.status();
            let body = axum::body::to_bytes(res.into_body(), usize::MAX).await?;
            times.push(t.elapsed());
            anyhow::ensure!(status.is_success(), "GET {path} for {r}: {status}");
            bytes += body.len();
        }
        let (p50, p99, max) = pct(times);
        println!(
            "GET {path} {name:<8} over {} roots (mean {} KiB of JSON): server-side p50 {p50:.3} ms, \
             p99 {p99:.3} ms, max {max:.3} ms",
            roots.len(),
            bytes / roots.len().max(1) / 1024
        );
    }
    drop(router);
    println!("memory: VmHWM {} (after capture: {hwm_capture})", vm_hwm());

    // The straightforward approach: one recursive SQL query per trace over the same tables.
    for (name, forward, roots) in [
        ("backward", false, spread(&catalog.product_lots, a.sql_roots)),
        ("forward", true, spread(&catalog.farm_lots, a.sql_roots)),
    ] {
        if roots.is_empty() {
            continue;
        }
        let mut times = Vec::new();
        let mut reached = 0;
        for r in &roots {
            let t = Instant::now();
            reached += store.trace_recursive_sql(r, forward).await?;
            times.push(t.elapsed());
        }
        let (p50, p99, max) = pct(times);
        println!(
            "recursive SQL {name:<8} over {} roots: p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms (mean {} ids); \
             index p50 is {:.0}× faster",
            roots.len(),
            reached / roots.len().max(1) as i64,
            p50 / idx_p50[name].max(1e-6)
        );
    }
    Ok(ExitCode::SUCCESS)
}
