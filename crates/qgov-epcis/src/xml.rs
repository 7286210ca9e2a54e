//! The EPCIS XML binding (EPCIS 2.0 §9, XSD `EPCglobal-epcis-2_0.xsd`), both directions, and
//! EPCIS 1.2 XML on input (its `extension` / `baseExtension` wrappers are flattened).
//!
//! Reading is hardened against hostile input: any DOCTYPE is refused (so no external entities
//! and no entity-expansion bombs can exist), only the five predefined entities and character
//! references are resolved, nesting is limited to [`MAX_DEPTH`] elements, and the parser is
//! streaming (quick-xml) with no recursion over unbounded input.
//!
//! The element tree is turned into the JSON shape of the same document and handed to the JSON
//! reader, so validation rules are written once.

use quick_xml::NsReader;
use quick_xml::XmlVersion;
use quick_xml::escape::escape;
use quick_xml::events::Event as XmlEvent;
use quick_xml::name::ResolveResult;
use serde_json::{Map, Value};

use crate::error::{Problem, Problems};
use crate::ident::{Epc, EpcFormat};
use crate::json::{EventReader, Namespaces, ReadOptions, allowed_fields};
use crate::model::*;
use crate::vocab::VocabKind;

/// EPCIS 2.0 XML namespace.
pub const NS_EPCIS_2: &str = "urn:epcglobal:epcis:xsd:2";
/// EPCIS 1.x XML namespace (1.0–1.2).
pub const NS_EPCIS_1: &str = "urn:epcglobal:epcis:xsd:1";
/// EPCIS 2.0 query XML namespace.
pub const NS_QUERY_2: &str = "urn:epcglobal:epcis-query:xsd:2";
/// EPCIS 1.x query XML namespace.
pub const NS_QUERY_1: &str = "urn:epcglobal:epcis-query:xsd:1";
const NS_SBDH: &str = "http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader";

/// Deepest element nesting accepted; EPCIS needs about 10, extensions a little more.
pub const MAX_DEPTH: usize = 48;

/// An XML element with resolved names.
#[derive(Debug, Default)]
struct Elem {
    ns: Option<String>,
    name: String,
    attrs: Vec<(Option<String>, String, String)>,
    children: Vec<Elem>,
    text: String,
}

impl Elem {
    fn is(&self, name: &str) -> bool {
        self.ns.is_none() && self.name == name
    }

    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(ns, n, _)| ns.is_none() && n == name).map(|(_, _, v)| v.as_str())
    }

    fn child(&self, name: &str) -> Option<&Elem> {
        self.children.iter().find(|c| c.is(name))
    }
}

fn fail(message: impl Into<String>) -> Problems {
    Problems::one("", message)
}

/// Reads the whole XML into an element tree, refusing DTDs, unknown entities and deep nesting.
/// Also returns the namespace declarations of the root element.
fn read_tree(bytes: &[u8]) -> Result<(Elem, Vec<(String, String)>), Problems> {
    let text = std::str::from_utf8(bytes).map_err(|_| fail("the XML document is not UTF-8"))?;
    let mut reader = NsReader::from_str(text);
    let config = reader.config_mut();
    config.expand_empty_elements = true;
    config.check_end_names = true;
    let mut stack: Vec<Elem> = Vec::new();
    let mut root: Option<Elem> = None;
    let mut root_ns: Vec<(String, String)> = Vec::new();
    loop {
        let (resolved, event) = reader.read_resolved_event().map_err(|e| fail(format!("malformed XML: {e}")))?;
        let ns = match resolved {
            ResolveResult::Bound(n) => Some(n.0.to_string()),
            ResolveResult::Unbound => None,
            ResolveResult::Unknown(p) => return Err(fail(format!("namespace prefix `{p}` is not declared"))),
        };
        match event {
            XmlEvent::DocType(d) => {
                // Entities (external ones, and expansion bombs) can only be declared in an
                // internal subset `[…]` or an external DTD (SYSTEM / PUBLIC): refuse both. A bare
                // `<!DOCTYPE name>`, which some official examples carry, declares nothing.
                let body: &str = &d;
                if body.contains('[') || body.contains("SYSTEM") || body.contains("PUBLIC") || body.contains("ENTITY") {
                    return Err(fail("DTDs are not accepted (no internal subset, no external DTD, no entities)"));
                }
            }
            XmlEvent::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(fail(format!("XML nested deeper than {MAX_DEPTH} elements")));
                }
                // Below the root, elements in the EPCIS namespaces (a default xmlns) are the
                // standard unqualified elements.
                let ns = match ns.as_deref() {
                    Some(NS_EPCIS_2 | NS_EPCIS_1 | NS_QUERY_2 | NS_QUERY_1) if !stack.is_empty() => None,
                    _ => ns,
                };
                let mut el = Elem { ns, name: start.local_name().as_ref().to_string(), ..Default::default() };
                for a in start.attributes() {
                    let a = a.map_err(|e| fail(format!("malformed XML attribute: {e}")))?;
                    let key = a.key.as_ref();
                    if key == "xmlns" || key.starts_with("xmlns:") {
                        if stack.is_empty()
                            && root.is_none()
                            && let Some(p) = key.strip_prefix("xmlns:")
                        {
                            root_ns.push((p.to_string(), a.value.to_string()));
                        }
                        continue;
                    }
                    let (res, local) = reader.resolver().resolve_attribute(a.key);
                    let ans = match res {
                        ResolveResult::Bound(n) => Some(n.0.to_string()),
                        ResolveResult::Unbound => None,
                        ResolveResult::Unknown(p) => {
                            return Err(fail(format!("namespace prefix `{p}` of attribute `{key}` is not declared")));
                        }
                    };
                    let value = a
                        .normalized_value(XmlVersion::Implicit1_0)
                        .map_err(|e| fail(format!("bad attribute value `{key}`: {e}")))?;
                    el.attrs.push((ans, local.as_ref().to_string(), value.into_owned()));
                }
                stack.push(el);
            }
            XmlEvent::End(_) => {
                let mut el = stack.pop().ok_or_else(|| fail("unbalanced XML"))?;
                let trimmed = el.text.trim();
                if trimmed.len() != el.text.len() {
                    el.text = trimmed.to_string();
                }
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            XmlEvent::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml_content(XmlVersion::Implicit1_0));
                } else if !t.trim().is_empty() {
                    return Err(fail("text outside the root element"));
                }
            }
            XmlEvent::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml_content(XmlVersion::Implicit1_0));
                }
            }
            XmlEvent::GeneralRef(r) => {
                let c = match r.resolve_char_ref() {
                    Ok(Some(c)) => c,
                    Ok(None) => match &*r {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        other => return Err(fail(format!("entity `&{other};` is not accepted"))),
                    },
                    Err(e) => return Err(fail(format!("bad character reference: {e}"))),
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push(c);
                }
            }
            XmlEvent::Eof => break,
            XmlEvent::Empty(_) => unreachable!("expand_empty_elements is on"),
            XmlEvent::Comment(_) | XmlEvent::Decl(_) | XmlEvent::PI(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(fail("the XML document ends inside an element"));
    }
    let root = root.ok_or_else(|| fail("the XML document has no root element"))?;
    Ok((root, root_ns))
}

/// Reads an EPCIS 2.0 or 1.2 XML document (`EPCISDocument` or `EPCISQueryDocument`).
pub fn parse_document(bytes: &[u8]) -> Result<Document, Problems> {
    parse_document_with(bytes, ReadOptions::default())
}

/// As [`parse_document`], with options.
pub fn parse_document_with(bytes: &[u8], opts: ReadOptions) -> Result<Document, Problems> {
    let (root, root_ns) = read_tree(bytes)?;
    let mut doc = Document { namespaces: root_ns.clone(), ..Default::default() };
    let ns = Namespaces { declared: root_ns };
    let mut problems = Vec::new();
    let is_doc = matches!(root.ns.as_deref(), Some(NS_EPCIS_2 | NS_EPCIS_1)) && root.name == "EPCISDocument";
    let is_query = matches!(root.ns.as_deref(), Some(NS_QUERY_2 | NS_QUERY_1)) && root.name == "EPCISQueryDocument";
    if !is_doc && !is_query {
        if EventType::from_name(&root.name).is_some() {
            return Err(fail("a bare event is not a document; use parse_event for single events"));
        }
        return Err(fail(format!("`{}` is not an EPCISDocument or EPCISQueryDocument", root.name)));
    }
    doc.schema_version = root.attr("schemaVersion").unwrap_or_default().to_string();
    if doc.schema_version.is_empty() {
        problems.push(Problem {
            event_index: None,
            pointer: "/schemaVersion".into(),
            message: "schemaVersion is required".into(),
        });
    }
    match root.attr("creationDate").map(Timestamp::parse) {
        Some(Ok(t)) => doc.creation_date = Some(t),
        Some(Err(e)) => problems.push(Problem { event_index: None, pointer: "/creationDate".into(), message: e }),
        None => problems.push(Problem {
            event_index: None,
            pointer: "/creationDate".into(),
            message: "creationDate is required".into(),
        }),
    }
    let mut event_list: Option<&Elem> = None;
    let mut qr_found = false;
    // Tolerated: query results written straight under the root, without EPCISBody (as in a
    // published event-hash vector).
    if is_query && root.child("resultsBody").is_some() {
        doc.kind = DocumentKind::Query {
            query_name: root.child("queryName").map(|e| e.text.clone()).unwrap_or_default(),
            subscription_id: root.child("subscriptionID").map(|e| e.text.clone()),
        };
        event_list = root.child("resultsBody").and_then(|b| b.child("EventList"));
        qr_found = true;
    }
    for child in &root.children {
        match (child.ns.as_deref(), child.name.as_str()) {
            (None, "EPCISHeader") => {}
            (None, "EPCISBody") => {
                if is_doc {
                    event_list = child.child("EventList");
                } else {
                    let qr = child.children.iter().find(|c| c.name == "QueryResults");
                    qr_found = true;
                    if let Some(qr) = qr {
                        doc.kind = DocumentKind::Query {
                            query_name: qr.child("queryName").map(|e| e.text.clone()).unwrap_or_default(),
                            subscription_id: qr.child("subscriptionID").map(|e| e.text.clone()),
                        };
                        event_list = qr.child("resultsBody").and_then(|b| b.child("EventList"));
                        for ext in qr.children.iter().filter(|c| c.ns.is_some()) {
                            doc.extensions.push(ext_field(ext));
                        }
                    }
                }
            }
            (Some(NS_SBDH), _) => {}
            (Some(_), _) => doc.extensions.push(ext_field(child)),
            (None, "queryName" | "subscriptionID" | "resultsBody") if qr_found => {}
            (None, other) => problems.push(Problem {
                event_index: None,
                pointer: format!("/{other}"),
                message: format!("unexpected element `{other}` in the document"),
            }),
        }
    }
    let Some(list) = event_list else {
        problems.push(Problem {
            event_index: None,
            pointer: "/epcisBody/eventList".into(),
            message: "EventList is missing".into(),
        });
        return Err(Problems(problems));
    };
    // EPCIS 1.2 puts TransformationEvent (and drafts AssociationEvent) inside <extension>.
    let events = flattened(list);
    // The XSD element order is checked for EPCIS 2.0 documents; 1.2 documents carry 2.0 fields
    // inside their extension wrappers in varying places.
    let opts = if matches!(root.ns.as_deref(), Some(NS_EPCIS_1 | NS_QUERY_1)) {
        ReadOptions { lenient_xml_order: true }
    } else {
        opts
    };
    let base = if is_doc { "/epcisBody/eventList" } else { "/epcisBody/queryResults/resultsBody/eventList" };
    for (i, e) in events.into_iter().enumerate() {
        let mut r =
            EventReader { ns: &ns, problems: &mut problems, index: Some(i), path: format!("{base}/{i}"), local: None };
        let shaped = event_to_json_shape(e, opts, &mut r);
        if let Some(ev) = shaped.and_then(|v| r.event(&v)) {
            doc.events.push(ev);
        }
    }
    if problems.is_empty() { Ok(doc) } else { Err(Problems(problems)) }
}

/// Reads a single XML event (root element `ObjectEvent`, …).
pub fn parse_event(bytes: &[u8]) -> Result<Event, Problems> {
    let (root, root_ns) = read_tree(bytes)?;
    let ns = Namespaces { declared: root_ns };
    let mut problems = Vec::new();
    let mut r = EventReader { ns: &ns, problems: &mut problems, index: None, path: String::new(), local: None };
    let ev = event_to_json_shape(&root, ReadOptions::default(), &mut r).and_then(|v| r.event(&v));
    match ev {
        Some(e) if problems.is_empty() => Ok(e),
        _ => Err(Problems(problems)),
    }
}

const BASE_SEQUENCE: &[&str] =
    &["eventTime", "recordTime", "eventTimeZoneOffset", "eventID", "errorDeclaration", "certificationInfo"];

/// Flattens EPCIS 1.2 `extension` / `baseExtension` wrappers (no namespace) into their parent.
const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// `xsi:nil="true"`: the element stands for an absent value.
fn is_nil(e: &Elem) -> bool {
    e.attrs.iter().any(|(ns, n, v)| ns.as_deref() == Some(XSI) && n == "nil" && (v == "true" || v == "1"))
}

fn flattened(e: &Elem) -> Vec<&Elem> {
    let mut out = Vec::with_capacity(e.children.len());
    for c in &e.children {
        if is_nil(c) {
            continue;
        }
        if c.is("extension") || c.is("baseExtension") {
            out.extend(flattened(c));
        } else {
            out.push(c);
        }
    }
    out
}

fn leaf_or_number(text: &str) -> Value {
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() => serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null),
        _ => Value::String(text.to_string()),
    }
}

fn qualified(ns: &Option<String>, name: &str) -> String {
    match ns {
        Some(n) => format!("{{{n}}}{name}"),
        None => name.to_string(),
    }
}

fn insert_repeated(map: &mut Map<String, Value>, key: String, v: Value) {
    match map.get_mut(&key) {
        Some(Value::Array(a)) => a.push(v),
        Some(existing) => {
            let old = existing.take();
            *existing = Value::Array(vec![old, v]);
        }
        None => {
            map.insert(key, v);
        }
    }
}

/// An extension element as a JSON-shape value (object keys `{ns}local`).
fn ext_json(e: &Elem) -> Value {
    // xsi:type / xsi:nil are typing hints of the XML binding, not data.
    let attrs = e.attrs.iter().filter(|(ns, _, _)| ns.as_deref() != Some(XSI));
    if e.children.is_empty() && attrs.clone().next().is_none() {
        return Value::String(e.text.clone());
    }
    let mut m = Map::new();
    for (ns, name, value) in attrs {
        let key = match ns {
            Some(n) => format!("{{{n}}}{name}"),
            None => name.clone(),
        };
        m.insert(key, Value::String(value.clone()));
    }
    for c in &e.children {
        let key = match &c.ns {
            Some(n) => format!("{{{n}}}{}", c.name),
            None => c.name.clone(),
        };
        insert_repeated(&mut m, key, ext_json(c));
    }
    Value::Object(m)
}

fn ext_field(e: &Elem) -> ExtField {
    let value = match ext_json(e) {
        Value::String(s) => ExtValue::Leaf(s, LeafKind::String),
        other => {
            let ns = Namespaces::default();
            let mut problems = Vec::new();
            let mut r = EventReader { ns: &ns, problems: &mut problems, index: None, path: String::new(), local: None };
            r.ext_value(&other, 0).and_then(|mut v| v.pop()).unwrap_or(ExtValue::Node(Vec::new()))
        }
    };
    ExtField { ns: e.ns.clone().unwrap_or_default(), name: e.name.clone(), value }
}

/// Object with the attributes of a sensor element, numbers and booleans typed as in JSON.
fn sensor_attrs(e: &Elem) -> Map<String, Value> {
    let mut m = Map::new();
    for (ns, name, value) in &e.attrs {
        let v = match (ns, name.as_str()) {
            (None, "value" | "minValue" | "maxValue" | "meanValue" | "sDev" | "percRank" | "percValue") => {
                leaf_or_number(value)
            }
            (None, "booleanValue") => match value.as_str() {
                "true" | "1" => Value::Bool(true),
                "false" | "0" => Value::Bool(false),
                _ => Value::String(value.clone()),
            },
            _ => Value::String(value.clone()),
        };
        m.insert(qualified(ns, name), v);
    }
    for c in &e.children {
        insert_repeated(&mut m, qualified(&c.ns, &c.name), ext_json(c));
    }
    m
}

/// Builds the JSON shape of one event element, checking the XSD element order when strict.
fn event_to_json_shape(e: &Elem, opts: ReadOptions, r: &mut EventReader<'_>) -> Option<Value> {
    let epcis_ns = matches!(e.ns.as_deref(), None | Some(NS_EPCIS_2 | NS_EPCIS_1));
    let Some(event_type) = EventType::from_name(&e.name).filter(|_| epcis_ns) else {
        r.problems.push(Problem {
            event_index: r.index,
            pointer: r.path.clone(),
            message: format!("`{}` is not an EPCIS event type", e.name),
        });
        return None;
    };
    let mut m = Map::new();
    m.insert("type".into(), Value::String(event_type.as_str().into()));
    let type_seq = allowed_fields(event_type);
    let mut last = 0usize;
    let mut seen_extension = false;
    let push_problem = |r: &mut EventReader<'_>, field: &str, msg: String| {
        r.problems.push(Problem { event_index: r.index, pointer: format!("{}/{field}", r.path), message: msg });
    };
    for c in flattened(e) {
        if let Some(ns) = &c.ns {
            seen_extension = true;
            insert_repeated(&mut m, format!("{{{ns}}}{}", c.name), ext_json(c));
            continue;
        }
        let name = c.name.as_str();
        if !opts.lenient_xml_order {
            let pos = BASE_SEQUENCE
                .iter()
                .position(|n| *n == name)
                .or_else(|| type_seq.iter().position(|n| *n == name).map(|p| p + BASE_SEQUENCE.len()));
            if let Some(pos) = pos {
                if pos < last || seen_extension {
                    push_problem(
                        r,
                        name,
                        format!("`{name}` is out of the order the XSD prescribes for {}", event_type.as_str()),
                    );
                }
                last = pos;
            }
        }
        let v = match name {
            "epcList" | "childEPCs" | "inputEPCList" | "outputEPCList" => {
                Value::Array(c.children.iter().map(|x| Value::String(x.text.clone())).collect())
            }
            "quantityList" | "childQuantityList" | "inputQuantityList" | "outputQuantityList" => Value::Array(
                c.children
                    .iter()
                    .map(|q| {
                        let mut o = Map::new();
                        for f in q.children.iter().filter(|f| !is_nil(f)) {
                            let v = if f.name == "quantity" {
                                leaf_or_number(&f.text)
                            } else {
                                Value::String(f.text.clone())
                            };
                            o.insert(qualified(&f.ns, &f.name), v);
                        }
                        Value::Object(o)
                    })
                    .collect(),
            ),
            "bizTransactionList" | "sourceList" | "destinationList" => {
                let item = match name {
                    "bizTransactionList" => "bizTransaction",
                    "sourceList" => "source",
                    _ => "destination",
                };
                Value::Array(
                    c.children
                        .iter()
                        .map(|x| {
                            let mut o = Map::new();
                            if let Some(t) = x.attr("type") {
                                o.insert("type".into(), Value::String(t.to_string()));
                            }
                            if x.name != item {
                                o.insert(x.name.clone(), Value::String(x.text.clone()));
                            } else {
                                o.insert(item.into(), Value::String(x.text.clone()));
                            }
                            Value::Object(o)
                        })
                        .collect(),
                )
            }
            "readPoint" | "bizLocation" => {
                let mut o = Map::new();
                for f in flattened(c) {
                    insert_repeated(&mut o, qualified(&f.ns, &f.name), ext_json(f));
                }
                Value::Object(o)
            }
            "persistentDisposition" => {
                let mut o = Map::new();
                for f in &c.children {
                    let entry = o.entry(qualified(&f.ns, &f.name)).or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(a) = entry {
                        a.push(Value::String(f.text.clone()));
                    }
                }
                Value::Object(o)
            }
            "errorDeclaration" => {
                let mut o = Map::new();
                for f in flattened(c) {
                    let v = if f.is("correctiveEventIDs") {
                        Value::Array(f.children.iter().map(|x| Value::String(x.text.clone())).collect())
                    } else {
                        ext_json(f)
                    };
                    insert_repeated(&mut o, qualified(&f.ns, &f.name), v);
                }
                Value::Object(o)
            }
            "certificationInfo" => {
                let entry = m.entry("certificationInfo").or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(a) = entry {
                    a.push(Value::String(c.text.clone()));
                }
                continue;
            }
            "sensorElementList" => Value::Array(
                c.children
                    .iter()
                    .map(|se| {
                        let mut o = Map::new();
                        let mut reports = Vec::new();
                        for f in flattened(se) {
                            if f.is("sensorMetadata") {
                                o.insert("sensorMetadata".into(), Value::Object(sensor_attrs(f)));
                            } else if f.is("sensorReport") {
                                reports.push(Value::Object(sensor_attrs(f)));
                            } else {
                                insert_repeated(&mut o, qualified(&f.ns, &f.name), ext_json(f));
                            }
                        }
                        o.insert("sensorReport".into(), Value::Array(reports));
                        Value::Object(o)
                    })
                    .collect(),
            ),
            "ilmd" => {
                let mut o = Map::new();
                for f in flattened(c) {
                    insert_repeated(&mut o, qualified(&f.ns, &f.name), ext_json(f));
                }
                Value::Object(o)
            }
            _ if !c.children.is_empty() => {
                push_problem(r, name, format!("`{name}` must be a simple value"));
                continue;
            }
            _ => Value::String(c.text.clone()),
        };
        if m.contains_key(name) {
            push_problem(r, name, format!("`{name}` appears twice"));
            continue;
        }
        m.insert(name.to_string(), v);
    }
    Some(Value::Object(m))
}

// ---------------------------------------------------------------------------------------------
// Writing

struct XmlWriter<'a> {
    out: String,
    prefixes: Vec<(String, String)>,
    known: &'a [(String, String)],
    format: EpcFormat,
}

impl XmlWriter<'_> {
    fn prefix(&mut self, ns: &str) -> String {
        if let Some((p, _)) = self.prefixes.iter().find(|(_, u)| u == ns) {
            return p.clone();
        }
        let taken = |p: &str, list: &[(String, String)]| list.iter().any(|(q, _)| q == p) || p == "epcis" || p == "xsi";
        let p = match self.known.iter().find(|(p, u)| u == ns && !taken(p, &self.prefixes)) {
            Some((p, _)) => p.clone(),
            None => {
                let mut n = self.prefixes.len() + 1;
                while taken(&format!("ext{n}"), &self.prefixes) {
                    n += 1;
                }
                format!("ext{n}")
            }
        };
        self.prefixes.push((p.clone(), ns.to_string()));
        p
    }

    fn epc(&self, e: &Epc) -> String {
        match self.format {
            EpcFormat::DigitalLink => e.as_str().to_string(),
            _ => e.render_preferring_urn(),
        }
    }

    fn leaf(&mut self, name: &str, value: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
        self.out.push_str(&escape(value));
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    fn ext(&mut self, f: &ExtField) {
        let name = if f.ns.is_empty() {
            f.name.trim_start_matches('@').to_string()
        } else {
            format!("{}:{}", self.prefix(&f.ns), f.name)
        };
        match &f.value {
            ExtValue::Leaf(s, _) => self.leaf(&name, s),
            ExtValue::Node(children) => {
                self.out.push('<');
                self.out.push_str(&name);
                self.out.push('>');
                for c in children {
                    self.ext(c);
                }
                self.out.push_str("</");
                self.out.push_str(&name);
                self.out.push('>');
            }
        }
    }

    fn exts(&mut self, list: &[ExtField]) {
        for f in list {
            self.ext(f);
        }
    }

    /// Leaf extensions become attributes of a sensor element; structured ones child elements.
    fn ext_attrs(&mut self, list: &[ExtField]) {
        for f in list.iter().filter(|f| matches!(f.value, ExtValue::Leaf(..)) && !f.ns.is_empty()) {
            let p = self.prefix(&f.ns);
            if let ExtValue::Leaf(s, _) = &f.value {
                self.out.push_str(&format!(" {p}:{}=\"{}\"", f.name, escape(s.as_str())));
            }
        }
    }

    fn epcs(&mut self, name: &str, list: &[Epc]) {
        self.out.push_str(&format!("<{name}>"));
        for e in list {
            let v = self.epc(e);
            self.leaf("epc", &v);
        }
        self.out.push_str(&format!("</{name}>"));
    }

    fn quantities(&mut self, name: &str, list: &[QuantityElement]) {
        if list.is_empty() {
            return;
        }
        self.out.push_str(&format!("<{name}>"));
        for q in list {
            self.out.push_str("<quantityElement>");
            let c = self.epc(&q.epc_class);
            self.leaf("epcClass", &c);
            if let Some(x) = q.quantity {
                self.leaf("quantity", &fmt_num(x));
            }
            if let Some(u) = &q.uom {
                self.leaf("uom", u);
            }
            self.out.push_str("</quantityElement>");
        }
        self.out.push_str(&format!("</{name}>"));
    }

    fn location(&mut self, name: &str, l: &Option<Location>) {
        if let Some(l) = l {
            self.out.push_str(&format!("<{name}>"));
            let id = self.epc(&l.id);
            self.leaf("id", &id);
            self.exts(&l.extensions);
            self.out.push_str(&format!("</{name}>"));
        }
    }

    fn field(&mut self, ev: &Event, name: &str) {
        match name {
            "epcList" if !ev.epc_list.is_empty() || ev.quantity_list.is_empty() => self.epcs("epcList", &ev.epc_list),
            "childEPCs" if !ev.child_epcs.is_empty() => self.epcs("childEPCs", &ev.child_epcs),
            "inputEPCList" if !ev.input_epc_list.is_empty() => self.epcs("inputEPCList", &ev.input_epc_list),
            "outputEPCList" if !ev.output_epc_list.is_empty() => self.epcs("outputEPCList", &ev.output_epc_list),
            "quantityList" => self.quantities(name, &ev.quantity_list),
            "childQuantityList" => self.quantities(name, &ev.child_quantity_list),
            "inputQuantityList" => self.quantities(name, &ev.input_quantity_list),
            "outputQuantityList" => self.quantities(name, &ev.output_quantity_list),
            "parentID" => {
                if let Some(p) = &ev.parent_id {
                    let v = self.epc(p);
                    self.leaf(name, &v);
                }
            }
            "transformationID" => {
                if let Some(p) = &ev.transformation_id {
                    let v = self.epc(p);
                    self.leaf(name, &v);
                }
            }
            "action" => {
                if let Some(a) = ev.action {
                    self.leaf(name, a.as_str());
                }
            }
            "bizStep" => {
                if let Some(b) = &ev.biz_step {
                    self.leaf(name, &VocabKind::BizStep.to_xml(b));
                }
            }
            "disposition" => {
                if let Some(b) = &ev.disposition {
                    self.leaf(name, &VocabKind::Disposition.to_xml(b));
                }
            }
            "readPoint" => self.location(name, &ev.read_point),
            "bizLocation" => self.location(name, &ev.biz_location),
            "bizTransactionList" if !ev.biz_transaction_list.is_empty() => {
                self.out.push_str("<bizTransactionList>");
                for b in &ev.biz_transaction_list {
                    let id = self.epc(&b.id);
                    match &b.kind {
                        Some(k) => self.out.push_str(&format!(
                            "<bizTransaction type=\"{}\">{}</bizTransaction>",
                            escape(VocabKind::BizTransactionType.to_xml(k)),
                            escape(id.as_str())
                        )),
                        None => self.leaf("bizTransaction", &id),
                    }
                }
                self.out.push_str("</bizTransactionList>");
            }
            "sourceList" | "destinationList" => {
                let (list, item) = if name == "sourceList" {
                    (&ev.source_list, "source")
                } else {
                    (&ev.destination_list, "destination")
                };
                if list.is_empty() {
                    return;
                }
                self.out.push_str(&format!("<{name}>"));
                for sd in list {
                    let id = self.epc(&sd.id);
                    self.out.push_str(&format!(
                        "<{item} type=\"{}\">{}</{item}>",
                        escape(VocabKind::SourceDestType.to_xml(&sd.kind)),
                        escape(id.as_str())
                    ));
                }
                self.out.push_str(&format!("</{name}>"));
            }
            "sensorElementList" if !ev.sensor_element_list.is_empty() => {
                self.out.push_str("<sensorElementList>");
                for se in &ev.sensor_element_list {
                    self.sensor_element(se);
                }
                self.out.push_str("</sensorElementList>");
            }
            "persistentDisposition" => {
                if let Some(pd) = &ev.persistent_disposition {
                    self.out.push_str("<persistentDisposition>");
                    for d in &pd.unset {
                        self.leaf("unset", &VocabKind::Disposition.to_xml(d));
                    }
                    for d in &pd.set {
                        self.leaf("set", &VocabKind::Disposition.to_xml(d));
                    }
                    self.out.push_str("</persistentDisposition>");
                }
            }
            "ilmd" => {
                if let Some(ilmd) = &ev.ilmd {
                    self.out.push_str("<ilmd>");
                    self.exts(ilmd);
                    self.out.push_str("</ilmd>");
                }
            }
            _ => {}
        }
    }

    fn sensor_element(&mut self, se: &SensorElement) {
        self.out.push_str("<sensorElement>");
        if let Some(md) = &se.metadata {
            self.out.push_str("<sensorMetadata");
            for (k, t) in [("time", &md.time), ("startTime", &md.start_time), ("endTime", &md.end_time)] {
                if let Some(t) = t {
                    self.out.push_str(&format!(" {k}=\"{}\"", t.to_rfc3339()));
                }
            }
            for (k, e) in [
                ("deviceID", &md.device_id),
                ("deviceMetadata", &md.device_metadata),
                ("rawData", &md.raw_data),
                ("dataProcessingMethod", &md.data_processing_method),
                ("bizRules", &md.biz_rules),
            ] {
                if let Some(e) = e {
                    let v = self.epc(e);
                    self.out.push_str(&format!(" {k}=\"{}\"", escape(v.as_str())));
                }
            }
            self.ext_attrs(&md.extensions);
            self.out.push_str("/>");
        }
        for r in &se.reports {
            self.out.push_str("<sensorReport");
            let attr = |out: &mut String, k: &str, v: &str| out.push_str(&format!(" {k}=\"{}\"", escape(v)));
            if let Some(t) = &r.kind {
                attr(&mut self.out, "type", &VocabKind::MeasurementType.to_xml(t));
            }
            if let Some(t) = &r.exception {
                attr(&mut self.out, "exception", &VocabKind::SensorAlert.to_xml(t));
            }
            for (k, e) in [
                ("deviceID", &r.device_id),
                ("deviceMetadata", &r.device_metadata),
                ("rawData", &r.raw_data),
                ("dataProcessingMethod", &r.data_processing_method),
                ("bizRules", &r.biz_rules),
            ] {
                if let Some(e) = e {
                    let v = match self.format {
                        EpcFormat::DigitalLink => e.as_str().to_string(),
                        _ => e.render_preferring_urn(),
                    };
                    attr(&mut self.out, k, &v);
                }
            }
            if let Some(t) = &r.time {
                attr(&mut self.out, "time", &t.to_rfc3339());
            }
            for (k, v) in [
                ("microorganism", &r.microorganism),
                ("chemicalSubstance", &r.chemical_substance),
                ("coordinateReferenceSystem", &r.coordinate_reference_system),
                ("stringValue", &r.string_value),
                ("hexBinaryValue", &r.hex_binary_value),
                ("uriValue", &r.uri_value),
                ("uom", &r.uom),
            ] {
                if let Some(v) = v {
                    attr(&mut self.out, k, v);
                }
            }
            if let Some(c) = &r.component {
                attr(&mut self.out, "component", &VocabKind::Component.to_xml(c));
            }
            if let Some(b) = r.boolean_value {
                attr(&mut self.out, "booleanValue", if b { "true" } else { "false" });
            }
            for (k, v) in [
                ("value", r.value),
                ("minValue", r.min_value),
                ("maxValue", r.max_value),
                ("meanValue", r.mean_value),
                ("sDev", r.s_dev),
                ("percRank", r.perc_rank),
                ("percValue", r.perc_value),
            ] {
                if let Some(v) = v {
                    attr(&mut self.out, k, &fmt_num(v));
                }
            }
            self.ext_attrs(&r.extensions);
            self.out.push_str("/>");
        }
        self.exts(&se.extensions);
        self.out.push_str("</sensorElement>");
    }

    fn event(&mut self, ev: &Event) {
        let t = ev.event_type.as_str();
        self.out.push_str(&format!("<{t}>"));
        self.leaf("eventTime", &ev.event_time.to_rfc3339());
        if let Some(rt) = &ev.record_time {
            self.leaf("recordTime", &rt.to_rfc3339());
        }
        self.leaf("eventTimeZoneOffset", ev.event_time_zone_offset.as_str());
        if let Some(id) = &ev.event_id {
            self.leaf("eventID", id);
        }
        if let Some(ed) = &ev.error_declaration {
            self.out.push_str("<errorDeclaration>");
            self.leaf("declarationTime", &ed.declaration_time.to_rfc3339());
            if let Some(r) = &ed.reason {
                self.leaf("reason", &VocabKind::ErrorReason.to_xml(r));
            }
            if !ed.corrective_event_ids.is_empty() {
                self.out.push_str("<correctiveEventIDs>");
                for c in &ed.corrective_event_ids {
                    self.leaf("correctiveEventID", c);
                }
                self.out.push_str("</correctiveEventIDs>");
            }
            self.exts(&ed.extensions);
            self.out.push_str("</errorDeclaration>");
        }
        for c in &ev.certification_info {
            self.leaf("certificationInfo", c);
        }
        for name in allowed_fields(ev.event_type) {
            self.field(ev, name);
        }
        self.exts(&ev.extensions);
        self.out.push_str(&format!("</{t}>"));
    }
}

/// Shortest decimal text for a number (integers without a fraction).
fn fmt_num(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 9.0e15 { format!("{}", f as i64) } else { format!("{f}") }
}

/// Writes a document in the EPCIS 2.0 XML binding. Identifiers are EPC URNs unless the client
/// asked for Digital Links.
pub fn write_document(doc: &Document, format: EpcFormat) -> String {
    let mut w = XmlWriter {
        out: String::with_capacity(1024 + doc.events.len() * 800),
        prefixes: Vec::new(),
        known: &doc.namespaces,
        format,
    };
    for e in &doc.events {
        w.event(e);
    }
    let body = std::mem::take(&mut w.out);
    let mut head_ext = String::new();
    std::mem::swap(&mut w.out, &mut head_ext);
    w.exts(&doc.extensions);
    let doc_ext = std::mem::take(&mut w.out);
    let (root, ns) = match doc.kind {
        DocumentKind::Capture => ("epcis:EPCISDocument", NS_EPCIS_2),
        DocumentKind::Query { .. } => ("epcisq:EPCISQueryDocument", NS_QUERY_2),
    };
    let prefix = if matches!(doc.kind, DocumentKind::Capture) { "epcis" } else { "epcisq" };
    let mut out = String::with_capacity(body.len() + 512);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    out.push_str(&format!("<{root} xmlns:{prefix}=\"{ns}\""));
    for (p, u) in &w.prefixes {
        out.push_str(&format!(" xmlns:{p}=\"{}\"", escape(u.as_str())));
    }
    let created = doc.creation_date.map(|t| t.to_rfc3339()).unwrap_or_else(|| "1970-01-01T00:00:00.000Z".into());
    out.push_str(&format!(" schemaVersion=\"2.0\" creationDate=\"{created}\">"));
    out.push_str(&doc_ext);
    out.push_str("<EPCISBody>");
    match &doc.kind {
        DocumentKind::Capture => {
            out.push_str("<EventList>");
            out.push_str(&body);
            out.push_str("</EventList>");
        }
        DocumentKind::Query { query_name, subscription_id } => {
            out.push_str("<epcisq:QueryResults><queryName>");
            out.push_str(&escape(query_name.as_str()));
            out.push_str("</queryName>");
            if let Some(s) = subscription_id {
                out.push_str(&format!("<subscriptionID>{}</subscriptionID>", escape(s.as_str())));
            }
            out.push_str("<resultsBody><EventList>");
            out.push_str(&body);
            out.push_str("</EventList></resultsBody></epcisq:QueryResults>");
        }
    }
    out.push_str(&format!("</EPCISBody></{root}>"));
    out
}
