//! Conformance tests against the official EPCIS material in `../shared/conformance/`
//! (override with `QGOV_CONFORMANCE_DIR`). When the folder is absent every test prints
//! `SKIPPED: conformance data not found at …` and returns.

use std::path::{Path, PathBuf};

use qgov_epcis::json::ReadOptions;
use qgov_epcis::{Document, EpcFormat, hash, json, xml};

fn root() -> Option<PathBuf> {
    let dir = std::env::var_os("QGOV_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance"));
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("SKIPPED: conformance data not found at {}", dir.display());
        None
    }
}

fn files(dir: &Path, exts: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else { return out };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p, exts));
        } else if p.extension().and_then(|x| x.to_str()).is_some_and(|x| exts.contains(&x)) {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn parse_path(p: &Path, opts: ReadOptions) -> Result<Document, qgov_epcis::Problems> {
    let bytes = std::fs::read(p).unwrap();
    if p.extension().is_some_and(|x| x == "xml") {
        xml::parse_document_with(&bytes, opts)
    } else {
        json::parse_document(&bytes)
    }
}

#[test]
fn conformance_event_hash_vectors() {
    let Some(root) = root() else { return };
    let dir = root.join("epcis-event-hash/examples");
    let mut checked = 0;
    let mut failures = Vec::new();
    for p in files(&dir, &["jsonld", "xml"]) {
        let expected_path = p.with_extension("hashes");
        let Ok(expected) = std::fs::read_to_string(&expected_path) else { continue };
        let expected: Vec<&str> = expected.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        let doc = match parse_path(&p, ReadOptions { lenient_xml_order: true }) {
            Ok(d) => d,
            Err(e) => {
                failures.push(format!("{}: does not parse: {e}", p.display()));
                continue;
            }
        };
        let ignore = hash::ignore_fields_of(&doc);
        let got: Vec<String> = doc.events.iter().map(|e| hash::event_hash_id_ignoring(e, &ignore)).collect();
        let pre: Vec<String> = doc.events.iter().map(|e| hash::pre_hash(e, &ignore)).collect();
        let expected_pre = std::fs::read_to_string(p.with_extension("prehashes")).unwrap_or_default();
        let expected_pre: Vec<&str> = expected_pre.lines().collect();
        if got.len() != expected.len() {
            failures.push(format!("{}: {} events, {} expected hashes", p.display(), got.len(), expected.len()));
            continue;
        }
        for (i, (g, x)) in got.iter().zip(&expected).enumerate() {
            checked += 1;
            if g != x {
                failures.push(format!(
                    "{} event {i}:\n  got      {g}\n  expected {x}\n  pre      {}\n  ref pre  {}",
                    p.display(),
                    pre[i],
                    expected_pre.get(i).unwrap_or(&"")
                ));
            }
        }
    }
    println!("hash vectors checked: {checked}, failed: {}", failures.len());
    assert!(checked >= 80, "too few hash vectors found ({checked})");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
