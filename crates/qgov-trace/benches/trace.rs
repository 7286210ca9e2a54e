//! Trace index benchmark.
//!
//! `cargo bench -p qgov-trace --bench trace` builds an index from the generator
//! (`QGOV_TRACE_EVENTS`, default 1,000,000 events), prints build time, memory (heap of the
//! index and the process's peak RSS, VmHWM), p50/p99 latencies of backward and forward traces
//! over many random roots and recall-scope times, then compares with the straightforward
//! approach (a BFS that scans every event per hop, no index) on `QGOV_TRACE_NAIVE_EVENTS`
//! (default 100,000) events, and finally runs divan's own measurements.

use std::collections::HashSet;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use qgov_epcis::model::{Action, Event, EventType, ExtValue};
use qgov_trace::TraceIndex;
use qgov_trace::generator::{Catalog, ChainConfig, ChainGenerator};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.replace('_', "").parse().ok()).unwrap_or(default)
}

struct Built {
    index: TraceIndex,
    catalog: Catalog,
    build: Duration,
}

fn build(events: usize) -> Built {
    let start = Instant::now();
    let mut g = ChainGenerator::new(ChainConfig { events, ..ChainConfig::default() });
    let index = TraceIndex::from_events(&mut g).expect("index builds");
    Built { index, catalog: g.catalog().clone(), build: start.elapsed() }
}

static BIG: LazyLock<Built> = LazyLock::new(|| build(env_usize("QGOV_TRACE_EVENTS", 1_000_000)));

fn vm_hwm() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        })
        .unwrap_or_else(|| "n/a".into())
}

/// Roots spread evenly over a list (deterministic "random" choice).
fn spread(list: &[String], n: usize) -> Vec<&String> {
    let step = (list.len() / n.max(1)).max(1);
    list.iter().step_by(step).take(n).collect()
}

fn percentiles(mut times: Vec<Duration>) -> (Duration, Duration, Duration) {
    times.sort();
    let at = |p: f64| times[((times.len() as f64 - 1.0) * p).round() as usize];
    (at(0.5), at(0.99), *times.last().unwrap())
}

fn measure<T>(
    roots: &[&String],
    mut f: impl FnMut(&str) -> T,
    size: impl Fn(&T) -> usize,
) -> (Duration, Duration, Duration, usize) {
    let mut times = Vec::with_capacity(roots.len());
    let mut total = 0;
    for r in roots {
        let t = Instant::now();
        let out = f(r);
        times.push(t.elapsed());
        total += size(&out);
    }
    let (p50, p99, max) = percentiles(times);
    (p50, p99, max, total / roots.len().max(1))
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// The straightforward approach: starting from the root, scan every event once per hop and
/// follow the same kinds of links (transformation input → output or transformationID,
/// transformationID → output, child → parent of an ADD, lot → instance by ILMD lot number),
/// without time windows (which only makes it reach more, cheaper per event).
fn naive_forward(events: &[Event], root: &str) -> usize {
    let mut reached: HashSet<String> = HashSet::from([root.to_string()]);
    let mut frontier: HashSet<String> = reached.clone();
    while !frontier.is_empty() {
        let mut next = HashSet::new();
        for ev in events {
            let mut targets: Vec<String> = Vec::new();
            match ev.event_type {
                EventType::Transformation => {
                    let fed = ev
                        .input_epc_list
                        .iter()
                        .chain(ev.input_quantity_list.iter().map(|q| &q.epc_class))
                        .any(|i| frontier.contains(i.as_str()))
                        || ev.transformation_id.as_ref().is_some_and(|x| frontier.contains(x.as_str()));
                    if fed {
                        targets.extend(ev.transformation_id.iter().map(|x| x.to_string()));
                        targets.extend(
                            ev.output_epc_list
                                .iter()
                                .chain(ev.output_quantity_list.iter().map(|q| &q.epc_class))
                                .map(|o| o.to_string()),
                        );
                    }
                }
                EventType::Aggregation
                    if ev.action == Some(Action::Add)
                        && ev.child_epcs.iter().any(|c| frontier.contains(c.as_str())) =>
                {
                    targets.extend(ev.parent_id.iter().map(|p| p.to_string()));
                }
                EventType::Object if ev.action == Some(Action::Add) => {
                    let lot =
                        ev.ilmd.as_ref().and_then(|f| f.iter().find(|f| f.name == "lotNumber")).and_then(|f| match &f
                            .value
                        {
                            ExtValue::Leaf(v, _) => Some(v.clone()),
                            ExtValue::Node(_) => None,
                        });
                    if let (Some(lot), Some(first)) = (lot, ev.epc_list.first()) {
                        let gtin = &first.as_str()["https://id.gs1.org/01/".len()..][..14];
                        if frontier.contains(&format!("https://id.gs1.org/01/{gtin}/10/{lot}")) {
                            targets.extend(ev.epc_list.iter().map(|e| e.to_string()));
                        }
                    }
                }
                _ => {}
            }
            for t in targets {
                if reached.insert(t.clone()) {
                    next.insert(t);
                }
            }
        }
        frontier = next;
    }
    reached.len()
}

fn report() {
    let n = env_usize("QGOV_TRACE_EVENTS", 1_000_000);
    let roots = env_usize("QGOV_TRACE_ROOTS", 2_000);
    println!(
        "== qgov-trace benchmark: {n} generated events, {} cores",
        std::thread::available_parallelism().map_or(0, |p| p.get())
    );
    let b = &*BIG;
    println!(
        "build: {:.2} s ({:.0} events/s), {} identifiers, index heap {:.0} MiB, peak RSS (VmHWM) {}",
        b.build.as_secs_f64(),
        b.index.len() as f64 / b.build.as_secs_f64(),
        b.index.identifier_count(),
        b.index.heap_bytes() as f64 / 1048576.0,
        vm_hwm()
    );
    let c = &b.catalog;
    println!(
        "catalog: {} farm lots, {} product lots, {} sampled cases, {} sampled pallets",
        c.farm_lots.len(),
        c.product_lots.len(),
        c.cases.len(),
        c.pallets.len()
    );
    let ix = &b.index;
    let nodes = |t: &qgov_trace::Trace| t.nodes.len();
    let rows: [(&str, Vec<&String>, bool); 5] = [
        ("backward from a case", spread(&c.cases, roots), false),
        ("backward from a pallet", spread(&c.pallets, roots), false),
        ("forward from a case", spread(&c.cases, roots), true),
        ("forward from a product lot", spread(&c.product_lots, roots), true),
        ("forward from a farm lot", spread(&c.farm_lots, roots / 4), true),
    ];
    for (what, rs, fwd) in rows {
        let (p50, p99, max, avg) =
            measure(&rs, |r| if fwd { ix.forward(r).unwrap() } else { ix.backward(r).unwrap() }, nodes);
        println!("{what:28} n={:5}  p50 {}  p99 {}  max {}  (avg {avg} nodes)", rs.len(), ms(p50), ms(p99), ms(max));
    }
    let rs = spread(&c.farm_lots, roots / 4);
    let (p50, p99, max, avg) = measure(&rs, |r| ix.recall_scope(r).unwrap(), |s| s.items.len());
    println!(
        "{:28} n={:5}  p50 {}  p99 {}  max {}  (avg {avg} items)",
        "recall scope of a farm lot",
        rs.len(),
        ms(p50),
        ms(p99),
        ms(max)
    );
    // The largest scopes on their own: the ~10,000-item question.
    let mut sized: Vec<(usize, &String)> = rs.iter().map(|r| (ix.recall_scope(r).unwrap().items.len(), *r)).collect();
    sized.sort();
    let big: Vec<&String> = sized.iter().rev().take(20).map(|(_, r)| *r).collect();
    let (p50, p99, max, avg) = measure(&big, |r| ix.recall_scope(r).unwrap(), |s| s.items.len());
    println!(
        "{:28} n={:5}  p50 {}  p99 {}  max {}  (avg {avg} items)",
        "recall scope, 20 largest",
        big.len(),
        ms(p50),
        ms(p99),
        ms(max)
    );
    println!("peak RSS after queries (VmHWM): {}", vm_hwm());

    // Baseline at a smaller size.
    let small_n = env_usize("QGOV_TRACE_NAIVE_EVENTS", 100_000);
    let mut g = ChainGenerator::new(ChainConfig { events: small_n, ..ChainConfig::default() });
    let events: Vec<Event> = g.by_ref().collect();
    let cat = g.catalog().clone();
    let small = TraceIndex::from_events(&events).unwrap();
    for (what, list) in [("farm lots", &cat.farm_lots), ("product lots", &cat.product_lots)] {
        let rs = spread(list, 20);
        let (ip50, ..) = measure(&rs, |r| small.forward(r).unwrap(), nodes);
        let (np50, _, _, navg) = measure(&rs, |r| naive_forward(&events, r), |n| *n);
        println!(
            "baseline at {} events, forward from 20 {what}: naive scan-per-hop p50 {} (avg {navg} nodes) vs index p50 {} => {:.0}x",
            events.len(),
            ms(np50),
            ms(ip50),
            np50.as_secs_f64() / ip50.as_secs_f64()
        );
    }
}

fn main() {
    report();
    divan::main();
}

#[divan::bench(sample_count = 200)]
fn backward_case(bencher: divan::Bencher) {
    let b = &*BIG;
    let mut i = 0;
    bencher.bench_local(|| {
        i = (i + 7) % b.catalog.cases.len();
        b.index.backward(&b.catalog.cases[i]).unwrap()
    });
}

#[divan::bench(sample_count = 200)]
fn forward_product_lot(bencher: divan::Bencher) {
    let b = &*BIG;
    let mut i = 0;
    bencher.bench_local(|| {
        i = (i + 7) % b.catalog.product_lots.len();
        b.index.forward(&b.catalog.product_lots[i]).unwrap()
    });
}

#[divan::bench(sample_count = 50)]
fn recall_scope_farm_lot(bencher: divan::Bencher) {
    let b = &*BIG;
    let mut i = 0;
    bencher.bench_local(|| {
        i = (i + 7) % b.catalog.farm_lots.len();
        b.index.recall_scope(&b.catalog.farm_lots[i]).unwrap()
    });
}

#[divan::bench(sample_count = 20)]
fn append_one_event(bencher: divan::Bencher) {
    let mut ix = build(50_000).index;
    let extra: Vec<Event> =
        ChainGenerator::new(ChainConfig { seed: 9, events: 20_000, ..ChainConfig::default() }).collect();
    let mut i = 0;
    bencher.bench_local(|| {
        i = (i + 1) % extra.len();
        ix.append(&extra[i]).unwrap()
    });
}
