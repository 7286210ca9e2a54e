//! The EPCIS event hash ID (CBV 2.0 §8.9 "Event Hash ID"): `ni:///sha-256;<hex>?ver=CBV2.0`.
//!
//! The pre-hash string is built from the model, so JSON-LD and XML give the same hash:
//!
//! 1. `eventType=<type>`, then the fields with a fixed order, each as `name=value`
//!    (CBV 2.0 §8.9.3 canonical property order): eventTime, eventTimeZoneOffset,
//!    certificationInfo, parentID, epcList, inputEPCList, childEPCs, quantityList,
//!    childQuantityList, inputQuantityList, outputEPCList, outputQuantityList, action,
//!    transformationID, bizStep, disposition, persistentDisposition, readPoint, bizLocation,
//!    sensorElementList.
//! 2. Then every other field, each rendered the same way and the renderings sorted
//!    lexically: bizTransactionList, sourceList, destinationList, ilmd and user extensions
//!    (`{namespace}name=value`). This is what the reference implementation does and what the
//!    published vectors encode.
//! 3. Inside a field, repeated children are sorted lexically; extension children of a
//!    structured field (readPoint, sensorMetadata, …) follow its standard children, sorted.
//! 4. Values are canonicalised: times to UTC with milliseconds, GS1 keys to canonical Digital
//!    Links, CBV values to their web URIs, numbers to their shortest decimal form.
//! 5. `recordTime`, `eventID` and `errorDeclaration` are left out, so a correction or a second
//!    capture of the same event keeps its hash.

use sha2::{Digest, Sha256};

use crate::ident::{Epc, canonical_for_hash};
use crate::model::*;
use crate::vocab::VocabKind;

const RDFS: &str = "http://www.w3.org/2000/01/rdf-schema#";

/// Names of extension fields to leave out of the hash, as (namespace, local name).
pub type IgnoreList = [(String, String)];

/// The event hash ID of an event.
pub fn event_hash_id(ev: &Event) -> String {
    event_hash_id_ignoring(ev, &[])
}

/// The event hash ID, leaving out the given event-level extension fields (the upstream
/// `ignoreFields` document convention).
pub fn event_hash_id_ignoring(ev: &Event, ignore: &IgnoreList) -> String {
    let pre = pre_hash(ev, ignore);
    let digest = Sha256::digest(pre.as_bytes());
    let mut out = String::with_capacity(14 + 64 + 11);
    out.push_str("ni:///sha-256;");
    out.push_str(&hex::encode(digest));
    out.push_str("?ver=CBV2.0");
    out
}

/// The fields a document asks to leave out of the hash: the values of any document-level
/// extension named `ignoreFields` (strings `prefix:name` or child elements).
pub fn ignore_fields_of(doc: &Document) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for f in doc.extensions.iter().filter(|f| f.name == "ignoreFields") {
        match &f.value {
            ExtValue::Leaf(s, _) => {
                if let Some((prefix, local)) = s.split_once(':')
                    && let Some((_, ns)) = doc.namespaces.iter().rev().find(|(p, _)| p == prefix)
                {
                    out.push((ns.clone(), local.to_string()));
                }
            }
            ExtValue::Node(children) => out.extend(children.iter().map(|c| (c.ns.clone(), c.name.clone()))),
        }
    }
    out
}

/// The canonical pre-hash string (exposed for debugging against reference `.prehashes`).
pub fn pre_hash(ev: &Event, ignore: &IgnoreList) -> String {
    let mut s = String::with_capacity(512);
    s.push_str("eventType=");
    s.push_str(ev.event_type.as_str());
    kv(&mut s, "eventTime", &ev.event_time.to_utc_millis());
    kv(&mut s, "eventTimeZoneOffset", ev.event_time_zone_offset.as_str());
    sorted_into(&mut s, ev.certification_info.iter().map(|c| format!("certificationInfo={}", canon(c))).collect());
    if let Some(p) = &ev.parent_id {
        kv(&mut s, "parentID", &canon_epc(p));
    }
    epcs(&mut s, "epcList", &ev.epc_list);
    epcs(&mut s, "inputEPCList", &ev.input_epc_list);
    epcs(&mut s, "childEPCs", &ev.child_epcs);
    quantities(&mut s, "quantityList", &ev.quantity_list);
    quantities(&mut s, "childQuantityList", &ev.child_quantity_list);
    quantities(&mut s, "inputQuantityList", &ev.input_quantity_list);
    epcs(&mut s, "outputEPCList", &ev.output_epc_list);
    quantities(&mut s, "outputQuantityList", &ev.output_quantity_list);
    if let Some(a) = ev.action {
        kv(&mut s, "action", a.as_str());
    }
    if let Some(t) = &ev.transformation_id {
        kv(&mut s, "transformationID", &canon_epc(t));
    }
    if let Some(b) = &ev.biz_step {
        kv(&mut s, "bizStep", &VocabKind::BizStep.to_web_uri(b));
    }
    if let Some(d) = &ev.disposition {
        kv(&mut s, "disposition", &VocabKind::Disposition.to_web_uri(d));
    }
    if let Some(pd) = &ev.persistent_disposition {
        let mut inner = String::new();
        let web = |d: &String| VocabKind::Disposition.to_web_uri(d);
        sorted_into(&mut inner, pd.set.iter().map(|d| format!("set={}", web(d))).collect());
        sorted_into(&mut inner, pd.unset.iter().map(|d| format!("unset={}", web(d))).collect());
        if !inner.is_empty() {
            s.push_str("persistentDisposition");
            s.push_str(&inner);
        }
    }
    for (name, loc) in [("readPoint", &ev.read_point), ("bizLocation", &ev.biz_location)] {
        if let Some(l) = loc {
            s.push_str(name);
            kv(&mut s, "id", &canon_epc(&l.id));
            sorted_into(&mut s, l.extensions.iter().map(ext_string).collect());
        }
    }
    if !ev.sensor_element_list.is_empty() {
        let elements: Vec<String> =
            ev.sensor_element_list.iter().map(sensor_element).filter(|e| !e.is_empty()).collect();
        if !elements.is_empty() {
            s.push_str("sensorElementList");
            sorted_into(&mut s, elements);
        }
    }

    let mut rest: Vec<String> = Vec::new();
    if !ev.biz_transaction_list.is_empty() {
        let items = ev
            .biz_transaction_list
            .iter()
            .map(|b| {
                let mut x = String::new();
                if let Some(k) = &b.kind {
                    kv(&mut x, "type", &VocabKind::BizTransactionType.to_web_uri(k));
                }
                kv(&mut x, "bizTransaction", &canon_epc(&b.id));
                x
            })
            .collect();
        rest.push(labelled("bizTransactionList", items));
    }
    for (name, item, list) in
        [("sourceList", "source", &ev.source_list), ("destinationList", "destination", &ev.destination_list)]
    {
        if !list.is_empty() {
            let items = list
                .iter()
                .map(|sd| {
                    let mut x = String::new();
                    kv(&mut x, "type", &VocabKind::SourceDestType.to_web_uri(&sd.kind));
                    kv(&mut x, item, &canon_epc(&sd.id));
                    x
                })
                .collect();
            rest.push(labelled(name, items));
        }
    }
    if let Some(ilmd) = &ev.ilmd {
        let items: Vec<String> = ilmd.iter().map(ext_string).collect();
        if items.iter().any(|i| !i.is_empty()) {
            rest.push(labelled("ilmd", items));
        }
    }
    // bizRules on a sensorReport is outside the reference property order; the reference
    // implementation then renders it at event level with its full path, which the vectors fix.
    let report_rules: Vec<String> = ev
        .sensor_element_list
        .iter()
        .flat_map(|e| e.reports.iter())
        .filter_map(|r| r.biz_rules.as_ref())
        .map(|b| format!("sensorReportbizRules={}", canon_epc(b)))
        .collect();
    if !report_rules.is_empty() {
        rest.push(format!("sensorElementListsensorElement{}", {
            let mut s = String::new();
            sorted_into(&mut s, report_rules);
            s
        }));
    }
    for f in &ev.extensions {
        // A JSON-LD rdfs:comment is commentary, not event data (reference vector
        // epcisDocHavingEventWithComment).
        if f.ns == RDFS && f.name == "comment" {
            continue;
        }
        if ignore.iter().any(|(ns, name)| *ns == f.ns && *name == f.name) {
            continue;
        }
        let e = ext_string(f);
        if !e.is_empty() {
            rest.push(e);
        }
    }
    sorted_into(&mut s, rest);
    s
}

fn kv(s: &mut String, name: &str, value: &str) {
    if value.is_empty() {
        return;
    }
    s.push_str(name);
    s.push('=');
    s.push_str(value);
}

fn labelled(name: &str, items: Vec<String>) -> String {
    let mut s = String::from(name);
    sorted_into(&mut s, items);
    s
}

fn sorted_into(s: &mut String, mut items: Vec<String>) {
    items.sort_unstable();
    for i in items {
        s.push_str(&i);
    }
}

fn epcs(s: &mut String, name: &str, list: &[crate::ident::Epc]) {
    if list.is_empty() {
        return;
    }
    s.push_str(name);
    sorted_into(s, list.iter().map(|e| format!("epc={}", canon_epc(e))).collect());
}

fn quantities(s: &mut String, name: &str, list: &[QuantityElement]) {
    if list.is_empty() {
        return;
    }
    s.push_str(name);
    let items = list
        .iter()
        .map(|q| {
            let mut x = String::from("quantityElement");
            kv(&mut x, "epcClass", &canon_epc(&q.epc_class));
            if let Some(n) = q.quantity {
                kv(&mut x, "quantity", &python_float(n));
            }
            if let Some(u) = &q.uom {
                kv(&mut x, "uom", u);
            }
            x
        })
        .collect();
    sorted_into(s, items);
}

fn sensor_element(e: &SensorElement) -> String {
    let mut s = String::new();
    if let Some(m) = &e.metadata {
        let mut x = String::new();
        for (k, t) in [("time", &m.time), ("startTime", &m.start_time), ("endTime", &m.end_time)] {
            if let Some(t) = t {
                kv(&mut x, k, &t.to_utc_millis());
            }
        }
        for (k, v) in [
            ("deviceID", &m.device_id),
            ("deviceMetadata", &m.device_metadata),
            ("rawData", &m.raw_data),
            ("dataProcessingMethod", &m.data_processing_method),
            ("bizRules", &m.biz_rules),
        ] {
            if let Some(v) = v {
                kv(&mut x, k, &canon_epc(v));
            }
        }
        sorted_into(&mut x, m.extensions.iter().map(ext_string).collect());
        if !x.is_empty() {
            s.push_str("sensorMetadata");
            s.push_str(&x);
        }
    }
    sorted_into(&mut s, e.reports.iter().map(sensor_report).filter(|r| !r.is_empty()).collect());
    sorted_into(&mut s, e.extensions.iter().map(ext_string).collect());
    if s.is_empty() { s } else { format!("sensorElement{s}") }
}

fn sensor_report(r: &SensorReport) -> String {
    let mut x = String::new();
    if let Some(t) = &r.kind {
        kv(&mut x, "type", &VocabKind::MeasurementType.to_web_uri(t));
    }
    if let Some(t) = &r.exception {
        kv(&mut x, "exception", &VocabKind::SensorAlert.to_web_uri(t));
    }
    for (k, v) in [
        ("deviceID", &r.device_id),
        ("deviceMetadata", &r.device_metadata),
        ("rawData", &r.raw_data),
        ("dataProcessingMethod", &r.data_processing_method),
    ] {
        if let Some(v) = v {
            kv(&mut x, k, &canon_epc(v));
        }
    }
    if let Some(t) = &r.time {
        kv(&mut x, "time", &t.to_utc_millis());
    }
    for (k, v) in [("microorganism", &r.microorganism), ("chemicalSubstance", &r.chemical_substance)] {
        if let Some(v) = v {
            kv(&mut x, k, &canon(v));
        }
    }
    if let Some(v) = r.value {
        kv(&mut x, "value", &python_float(v));
    }
    if let Some(c) = &r.component {
        kv(&mut x, "component", &VocabKind::Component.to_web_uri(c));
    }
    if let Some(v) = &r.string_value {
        kv(&mut x, "stringValue", &canon(v));
    }
    if let Some(v) = r.boolean_value {
        kv(&mut x, "booleanValue", if v { "true" } else { "false" });
    }
    if let Some(v) = &r.hex_binary_value {
        kv(&mut x, "hexBinaryValue", &canon(v));
    }
    if let Some(v) = &r.uri_value {
        kv(&mut x, "uriValue", &canon(v));
    }
    for (k, v) in [
        ("minValue", r.min_value),
        ("maxValue", r.max_value),
        ("meanValue", r.mean_value),
        ("sDev", r.s_dev),
        ("percRank", r.perc_rank),
        ("percValue", r.perc_value),
    ] {
        if let Some(v) = v {
            kv(&mut x, k, &python_float(v));
        }
    }
    if let Some(u) = &r.uom {
        kv(&mut x, "uom", u);
    }
    if let Some(v) = &r.coordinate_reference_system {
        kv(&mut x, "coordinateReferenceSystem", &canon(v));
    }
    sorted_into(&mut x, r.extensions.iter().map(ext_string).collect());
    if x.is_empty() { x } else { format!("sensorReport{x}") }
}

/// `{namespace}name=value` followed by the sorted children.
fn ext_string(f: &ExtField) -> String {
    let mut s = String::new();
    match &f.value {
        ExtValue::Leaf(text, _) => {
            let t = text.trim();
            if !t.is_empty() {
                s.push('=');
                s.push_str(&canon(t));
            }
        }
        ExtValue::Node(children) => sorted_into(&mut s, children.iter().map(ext_string).collect()),
    }
    if s.is_empty() {
        return s;
    }
    if f.ns.is_empty() { format!("{}{s}", f.name) } else { format!("{{{}}}{}{s}", f.ns, f.name) }
}

/// [`canon`] of an identifier: a GS1 key is held as its canonical Digital Link already, which
/// canonicalisation leaves as it is (a fixed point, tested in `ident.rs`), so it is not parsed
/// again.
fn canon_epc(e: &Epc) -> std::borrow::Cow<'_, str> {
    if e.is_gs1_key() { std::borrow::Cow::Borrowed(e.as_str()) } else { std::borrow::Cow::Owned(canon(e.as_str())) }
}

/// CBV 2.0 §8.9.3 value canonicalisation for free values: CBV URNs to web URIs, numbers to
/// their shortest form, GS1 keys to canonical Digital Links.
fn canon(v: &str) -> String {
    const CBV_URNS: &[(&str, &str)] = &[
        ("urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-"),
        ("urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-"),
        ("urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-"),
        ("urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-"),
        ("urn:epcglobal:cbv:er:", "https://ref.gs1.org/cbv/ER-"),
    ];
    for (urn, web) in CBV_URNS {
        if let Some(rest) = v.strip_prefix(urn) {
            return format!("{web}{rest}");
        }
    }
    if let Some(n) = parse_python_float(v) {
        return n;
    }
    canonical_for_hash(v).unwrap_or_else(|| v.to_string())
}

/// Parses what Python's `float()` accepts (digits, one point, exponent, `_` between digits) and
/// renders it as the reference implementation does; `None` for anything else.
fn parse_python_float(v: &str) -> Option<String> {
    let t = v.trim();
    let b = t.as_bytes();
    if b.is_empty() || b.len() > 64 {
        return None;
    }
    let mut i = 0;
    if matches!(b[0], b'+' | b'-') {
        i = 1;
    }
    let mut digits = 0;
    let mut cleaned = String::with_capacity(b.len());
    cleaned.push_str(&t[..i]);
    let mut prev_digit = false;
    let mut seen_dot = false;
    let mut seen_exp = false;
    while i < b.len() {
        let c = b[i];
        match c {
            b'0'..=b'9' => {
                digits += 1;
                prev_digit = true;
                cleaned.push(c as char);
            }
            b'_' if prev_digit && b.get(i + 1).is_some_and(u8::is_ascii_digit) => {}
            b'.' if !seen_dot && !seen_exp => {
                seen_dot = true;
                prev_digit = false;
                cleaned.push('.');
            }
            b'e' | b'E' if !seen_exp && digits > 0 => {
                seen_exp = true;
                prev_digit = false;
                cleaned.push('e');
                if matches!(b.get(i + 1), Some(b'+' | b'-')) {
                    i += 1;
                    cleaned.push(b[i] as char);
                }
                if !b.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    return None;
                }
            }
            _ => return None,
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    let f: f64 = cleaned.parse().ok()?;
    if !f.is_finite() {
        return None;
    }
    Some(python_float(f))
}

/// Python's `str()` of a float, with integral values printed as integers (the reference
/// implementation's `int(x) if int(x) == x`).
pub(crate) fn python_float(f: f64) -> String {
    if f.fract() == 0.0 {
        let s = format!("{f:.0}");
        return if s == "-0" { "0".to_string() } else { s };
    }
    // Shortest round-trip digits and decimal exponent, then Python's repr layout: fixed
    // notation for exponents in [-4, 16), scientific otherwise.
    let sci = format!("{f:e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if (-4..16).contains(&exp) {
        if exp < 0 {
            out.push_str("0.");
            for _ in 0..(-exp - 1) {
                out.push('0');
            }
            out.push_str(&digits);
        } else {
            let point = exp as usize + 1;
            if digits.len() <= point {
                out.push_str(&digits);
                for _ in digits.len()..point {
                    out.push('0');
                }
                out.push_str(".0");
            } else {
                out.push_str(&digits[..point]);
                out.push('.');
                out.push_str(&digits[point..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push_str(&format!("e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_render_like_the_reference_implementation() {
        assert_eq!(python_float(26.0), "26");
        assert_eq!(python_float(12.1), "12.1");
        assert_eq!(python_float(0.005), "0.005");
        assert_eq!(python_float(0.00001), "1e-05");
        assert_eq!(python_float(1.5e16), "15000000000000000");
        assert_eq!(python_float(1.25e17 + 0.5), "125000000000000000");
        assert_eq!(python_float(-0.0), "0");
        assert_eq!(parse_python_float("0614141").as_deref(), Some("614141"));
        assert_eq!(parse_python_float("1_000").as_deref(), Some("1000"));
        assert_eq!(parse_python_float("AB-12"), None);
        assert_eq!(parse_python_float("12."), Some("12".to_string()));
        assert_eq!(parse_python_float("."), None);
    }
}
