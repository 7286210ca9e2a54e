//! The EPCIS 2.0 JSON / JSON-LD binding (EPCIS 2.0 §10, the JSON schema and the JSON-LD
//! context), both directions. The XML reader also lands here: it turns XML into the same JSON
//! shape (with extension names already resolved to `{namespace}local`) and reuses
//! [`EventReader`], so both bindings apply exactly the same rules.

use serde_json::{Map, Number, Value};

use crate::error::{Problem, Problems};
use crate::ident::{Epc, EpcFormat};
use crate::model::*;
use crate::vocab::VocabKind;

/// The ratified EPCIS 2.0.0 JSON-LD context (EPCIS 2.0 §10.2).
pub const EPCIS_CONTEXT: &str = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";

/// Prefixes the standard context defines (EPCIS 2.0 JSON-LD context, top of file).
const STANDARD_PREFIXES: &[(&str, &str)] = &[
    ("epcis", "https://ref.gs1.org/epcis/"),
    ("cbv", "https://ref.gs1.org/cbv/"),
    ("cbvmda", "urn:epcglobal:cbv:mda:"),
    ("gs1", "https://gs1.org/voc/"),
    ("rdfs", "http://www.w3.org/2000/01/rdf-schema#"),
    ("owl", "http://www.w3.org/2002/07/owl#"),
    ("xsd", "http://www.w3.org/2001/XMLSchema#"),
    ("dcterms", "http://purl.org/dc/terms/"),
];

/// Namespace prefixes in scope (from `@context`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Namespaces {
    pub(crate) declared: Vec<(String, String)>,
}

impl Namespaces {
    fn lookup(&self, prefix: &str) -> Option<&str> {
        self.declared
            .iter()
            .rev()
            .find(|(p, _)| p == prefix)
            .map(|(_, u)| u.as_str())
            .or_else(|| STANDARD_PREFIXES.iter().find(|(p, _)| *p == prefix).map(|(_, u)| *u))
    }

    /// Reads the prefix definitions of a `@context` value (EPCIS 2.0 §10.2: a URL, an object,
    /// or an array of both).
    fn add_context(&mut self, ctx: &Value) {
        match ctx {
            Value::Array(items) => items.iter().for_each(|i| self.add_context(i)),
            Value::Object(map) => {
                for (k, v) in map {
                    let uri = match v {
                        Value::String(s) => Some(s.as_str()),
                        Value::Object(o) => o.get("@id").and_then(Value::as_str),
                        _ => None,
                    };
                    if let Some(uri) = uri
                        && !k.starts_with('@')
                    {
                        self.declared.push((k.clone(), uri.to_string()));
                    }
                }
            }
            _ => {}
        }
    }

    /// Resolves an extension key to (namespace, local name). Keys from the XML reader arrive
    /// as `{ns}local`.
    pub(crate) fn resolve(&self, key: &str) -> Result<(String, String), String> {
        if let Some(rest) = key.strip_prefix('{') {
            let (ns, local) = rest.split_once('}').ok_or_else(|| format!("bad resolved name `{key}`"))?;
            return Ok((ns.to_string(), local.to_string()));
        }
        if key.starts_with('@') {
            return Ok((String::new(), key.to_string()));
        }
        let Some((prefix, local)) = key.split_once(':') else {
            return Err(format!(
                "`{key}` is not a standard field here; extension fields must use a namespace prefix declared in @context (EPCIS 2.0 §7.5)"
            ));
        };
        if local.starts_with("//") {
            // An absolute IRI used as a key: the namespace is everything up to the last / or #.
            let cut = key.rfind(['/', '#']).map(|i| i + 1).unwrap_or(key.len());
            return Ok((key[..cut].to_string(), key[cut..].to_string()));
        }
        match self.lookup(prefix) {
            Some(ns) => Ok((ns.to_string(), local.to_string())),
            None => Err(format!("namespace prefix `{prefix}` of `{key}` is not declared in @context")),
        }
    }
}

/// Options for reading.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadOptions {
    /// Accept XML elements out of the XSD sequence order. Off for capture (the XSD forbids it);
    /// on when hashing third-party documents whose only purpose is the hash.
    pub lenient_xml_order: bool,
}

/// Reads an EPCIS document (`EPCISDocument` or `EPCISQueryDocument`) in the JSON / JSON-LD
/// binding. Returns every problem found, with event index and field.
pub fn parse_document(bytes: &[u8]) -> Result<Document, Problems> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| Problems::one("", format!("not JSON: {e}")))?;
    document_from_value(&value)
}

/// Reads a single event in the JSON binding (as for `POST /events`); it must carry its own
/// `@context` (EPCIS 2.0 §10.2).
pub fn parse_event(bytes: &[u8]) -> Result<Event, Problems> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| Problems::one("", format!("not JSON: {e}")))?;
    let mut ns = Namespaces::default();
    match value.get("@context") {
        Some(c) => ns.add_context(c),
        None => return Err(Problems::one("/@context", "a JSON-LD event needs @context (EPCIS 2.0 §10.2)")),
    }
    let mut problems = Vec::new();
    let mut r = EventReader { ns: &ns, problems: &mut problems, index: None, path: String::new(), local: None };
    let ev = r.event(&value);
    match ev {
        Some(e) if problems.is_empty() => Ok(e),
        _ => Err(Problems(problems)),
    }
}

pub(crate) fn document_from_value(value: &Value) -> Result<Document, Problems> {
    let Value::Object(root) = value else { return Err(Problems::one("", "the document must be a JSON object")) };
    let mut problems = Vec::new();
    let mut doc = Document::default();
    let mut ns = Namespaces::default();
    match root.get("@context") {
        Some(c) => ns.add_context(c),
        None => problems.push(doc_problem("/@context", "a JSON-LD document needs @context (EPCIS 2.0 §10.2)")),
    }
    doc.namespaces = ns.declared.clone();
    let doc_type = root.get("type").and_then(Value::as_str).unwrap_or("");
    let events_ptr;
    let events = match doc_type {
        "EPCISDocument" => {
            events_ptr = "/epcisBody/eventList";
            root.get("epcisBody").and_then(|b| b.get("eventList"))
        }
        "EPCISQueryDocument" => {
            events_ptr = "/epcisBody/queryResults/resultsBody/eventList";
            let qr = root.get("epcisBody").and_then(|b| b.get("queryResults"));
            let query_name = qr.and_then(|q| q.get("queryName")).and_then(Value::as_str);
            if query_name.is_none() {
                problems.push(doc_problem("/epcisBody/queryResults/queryName", "queryName is required"));
            }
            doc.kind = DocumentKind::Query {
                query_name: query_name.unwrap_or_default().to_string(),
                subscription_id: qr.and_then(|q| q.get("subscriptionID")).and_then(Value::as_str).map(str::to_string),
            };
            if let Some(Value::Object(q)) = qr {
                for (k, v) in q {
                    if !k.contains(':') {
                        continue;
                    }
                    match ns.resolve(k) {
                        Ok((n, name)) => {
                            let mut r = EventReader {
                                ns: &ns,
                                problems: &mut problems,
                                index: None,
                                path: format!("/epcisBody/queryResults/{k}"),
                                local: None,
                            };
                            if let Some(value) = r.ext_value(v, 0) {
                                push_ext(&mut doc.extensions, n, name, value);
                            }
                        }
                        Err(e) => problems.push(doc_problem(&format!("/epcisBody/queryResults/{k}"), e)),
                    }
                }
            }
            qr.and_then(|q| q.get("resultsBody")).and_then(|b| b.get("eventList"))
        }
        other => {
            return Err(Problems::one("/type", format!("`{other}` is not EPCISDocument or EPCISQueryDocument")));
        }
    };
    match root.get("schemaVersion").and_then(Value::as_str) {
        Some(v) => doc.schema_version = v.to_string(),
        None => problems.push(doc_problem("/schemaVersion", "schemaVersion is required")),
    }
    match root.get("creationDate").and_then(Value::as_str).map(Timestamp::parse) {
        Some(Ok(t)) => doc.creation_date = Some(t),
        Some(Err(e)) => problems.push(doc_problem("/creationDate", e)),
        None => problems.push(doc_problem("/creationDate", "creationDate is required")),
    }
    for (k, v) in root {
        if matches!(
            k.as_str(),
            "@context"
                | "type"
                | "schemaVersion"
                | "creationDate"
                | "epcisBody"
                | "epcisHeader"
                | "sender"
                | "receiver"
                | "instanceIdentifier"
                | "id"
        ) {
            continue;
        }
        match ns.resolve(k) {
            Ok((n, name)) => {
                let mut r =
                    EventReader { ns: &ns, problems: &mut problems, index: None, path: format!("/{k}"), local: None };
                if let Some(value) = r.ext_value(v, 0) {
                    push_ext(&mut doc.extensions, n, name, value);
                }
            }
            Err(e) => problems.push(doc_problem(&format!("/{k}"), e)),
        }
    }
    match events {
        Some(Value::Array(list)) => {
            doc.events.reserve(list.len());
            for (i, ev) in list.iter().enumerate() {
                let mut r = EventReader {
                    ns: &ns,
                    problems: &mut problems,
                    index: Some(i),
                    path: format!("{events_ptr}/{i}"),
                    local: None,
                };
                if let Some(e) = r.event(ev) {
                    doc.events.push(e);
                }
            }
        }
        _ => problems.push(doc_problem(events_ptr, "the event list is missing or not an array")),
    }
    if problems.is_empty() { Ok(doc) } else { Err(Problems(problems)) }
}

fn doc_problem(pointer: &str, message: impl Into<String>) -> Problem {
    Problem { event_index: None, pointer: pointer.to_string(), message: message.into() }
}

fn push_ext(list: &mut Vec<ExtField>, ns: String, name: String, value: Vec<ExtValue>) {
    for v in value {
        list.push(ExtField { ns: ns.clone(), name: name.clone(), value: v });
    }
}

/// Fields every event type may carry (EPCIS 2.0 §7.4.1, JSON schema `common-event-properties`).
const COMMON: &[&str] = &[
    "@context",
    "type",
    "eventTime",
    "recordTime",
    "eventTimeZoneOffset",
    "eventID",
    "certificationInfo",
    "errorDeclaration",
];

/// The standard fields of each event type (EPCIS 2.0 §7.4.2–§7.4.6; the XSD sequences).
pub(crate) fn allowed_fields(t: EventType) -> &'static [&'static str] {
    match t {
        EventType::Object => &[
            "epcList",
            "action",
            "bizStep",
            "disposition",
            "readPoint",
            "bizLocation",
            "bizTransactionList",
            "quantityList",
            "sourceList",
            "destinationList",
            "sensorElementList",
            "persistentDisposition",
            "ilmd",
        ],
        EventType::Aggregation => &[
            "parentID",
            "childEPCs",
            "action",
            "bizStep",
            "disposition",
            "readPoint",
            "bizLocation",
            "bizTransactionList",
            "childQuantityList",
            "sourceList",
            "destinationList",
            "sensorElementList",
            "persistentDisposition",
        ],
        EventType::Transaction => &[
            "bizTransactionList",
            "parentID",
            "epcList",
            "action",
            "bizStep",
            "disposition",
            "readPoint",
            "bizLocation",
            "quantityList",
            "sourceList",
            "destinationList",
            "sensorElementList",
            "persistentDisposition",
        ],
        EventType::Transformation => &[
            "inputEPCList",
            "inputQuantityList",
            "outputEPCList",
            "outputQuantityList",
            "transformationID",
            "bizStep",
            "disposition",
            "readPoint",
            "bizLocation",
            "bizTransactionList",
            "sourceList",
            "destinationList",
            "sensorElementList",
            "persistentDisposition",
            "ilmd",
        ],
        EventType::Association => &[
            "parentID",
            "childEPCs",
            "childQuantityList",
            "action",
            "bizStep",
            "disposition",
            "readPoint",
            "bizLocation",
            "bizTransactionList",
            "sourceList",
            "destinationList",
            "sensorElementList",
            "persistentDisposition",
        ],
    }
}

/// Maps one event in the JSON shape onto the model, collecting problems.
pub(crate) struct EventReader<'a> {
    pub(crate) ns: &'a Namespaces,
    pub(crate) problems: &'a mut Vec<Problem>,
    pub(crate) index: Option<usize>,
    pub(crate) path: String,
    /// Prefixes declared by an event-level `@context`.
    pub(crate) local: Option<Namespaces>,
}

/// Deepest extension nesting accepted (the XML reader has its own, lower, element limit).
const MAX_EXT_DEPTH: usize = 64;

impl EventReader<'_> {
    fn resolve(&self, key: &str) -> Result<(String, String), String> {
        if let Some(local) = &self.local
            && let Some((prefix, _)) = key.split_once(':')
            && let Some(ns) = local.declared.iter().rev().find(|(p, _)| p == prefix)
        {
            return Ok((ns.1.clone(), key[prefix.len() + 1..].to_string()));
        }
        self.ns.resolve(key)
    }

    fn problem(&mut self, field: &str, message: impl Into<String>) {
        let pointer = if field.is_empty() { self.path.clone() } else { format!("{}/{field}", self.path) };
        self.problems.push(Problem { event_index: self.index, pointer, message: message.into() });
    }

    fn string<'v>(&mut self, field: &str, v: &'v Value) -> Option<&'v str> {
        match v {
            Value::String(s) => Some(s),
            _ => {
                self.problem(field, "must be a string");
                None
            }
        }
    }

    fn epc(&mut self, field: &str, v: &Value) -> Option<Epc> {
        let s = self.string(field, v)?;
        match Epc::parse(s) {
            Ok(e) => Some(e),
            Err(e) => {
                self.problem(field, e.0);
                None
            }
        }
    }

    fn uri(&mut self, field: &str, v: &Value) -> Option<String> {
        let s = self.string(field, v)?;
        match crate::ident::check_uri(s) {
            Ok(()) => Some(s.to_string()),
            Err(e) => {
                self.problem(field, e.0);
                None
            }
        }
    }

    fn time(&mut self, field: &str, v: &Value) -> Option<Timestamp> {
        let s = self.string(field, v)?;
        match Timestamp::parse(s) {
            Ok(t) => Some(t),
            Err(e) => {
                self.problem(field, e);
                None
            }
        }
    }

    fn vocab(&mut self, field: &str, kind: VocabKind, v: &Value) -> Option<String> {
        let s = self.string(field, v)?;
        match kind.parse(s) {
            Ok(w) => Some(w),
            Err(e) => {
                self.problem(field, e);
                None
            }
        }
    }

    fn number(&mut self, field: &str, v: &Value) -> Option<f64> {
        match v {
            Value::Number(n) => n.as_f64(),
            _ => {
                self.problem(field, "must be a number");
                None
            }
        }
    }

    fn array<'v>(&mut self, field: &str, v: &'v Value) -> &'v [Value] {
        match v {
            Value::Array(a) => a,
            _ => {
                self.problem(field, "must be an array");
                &[]
            }
        }
    }

    fn object<'v>(&mut self, field: &str, v: &'v Value) -> Option<&'v Map<String, Value>> {
        match v {
            Value::Object(o) => Some(o),
            _ => {
                self.problem(field, "must be an object");
                None
            }
        }
    }

    fn epc_list(&mut self, field: &str, v: &Value) -> Vec<Epc> {
        let items = self.array(field, v);
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            if let Some(e) = self.epc(&format!("{field}/{i}"), item) {
                out.push(e);
            }
        }
        out
    }

    fn quantity_list(&mut self, field: &str, v: &Value) -> Vec<QuantityElement> {
        let items = self.array(field, v);
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let f = format!("{field}/{i}");
            let Some(o) = self.object(&f, item) else { continue };
            let mut class = None;
            let mut quantity = None;
            let mut uom = None;
            for (k, val) in o {
                match k.as_str() {
                    "epcClass" => class = self.epc(&format!("{f}/epcClass"), val),
                    "quantity" => quantity = self.number(&format!("{f}/quantity"), val),
                    "uom" => {
                        let s = self.string(&format!("{f}/uom"), val);
                        // UN/ECE Recommendation 20 codes: 2–3 upper-case letters or digits.
                        if let Some(s) = s {
                            if (2..=3).contains(&s.len())
                                && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                            {
                                uom = Some(s.to_string());
                            } else {
                                self.problem(&format!("{f}/uom"), format!("`{s}` is not a UN/ECE Rec. 20 unit code"));
                            }
                        }
                    }
                    other => self.problem(&format!("{f}/{other}"), "unknown field in a quantity element"),
                }
            }
            match class {
                Some(epc_class) => {
                    if uom.is_some() && quantity.is_none() {
                        self.problem(&f, "uom without quantity (EPCIS 2.0 §7.3.3.3)");
                    }
                    out.push(QuantityElement { epc_class, quantity, uom })
                }
                None if !o.contains_key("epcClass") => self.problem(&f, "epcClass is required"),
                None => {}
            }
        }
        out
    }

    fn location(&mut self, field: &str, v: &Value) -> Option<Location> {
        let o = self.object(field, v)?;
        let mut id = None;
        let mut extensions = Vec::new();
        for (k, val) in o {
            if k == "id" {
                id = self.epc(&format!("{field}/id"), val);
            } else {
                self.ext_field(&format!("{field}/{k}"), k, val, &mut extensions);
            }
        }
        match id {
            Some(id) => Some(Location { id, extensions }),
            None => {
                if !o.contains_key("id") {
                    self.problem(field, "id is required");
                }
                None
            }
        }
    }

    fn ext_field(&mut self, pointer: &str, key: &str, v: &Value, out: &mut Vec<ExtField>) {
        match self.resolve(key) {
            Ok((ns, name)) => {
                let new_path = format!("{}/{pointer}", self.path);
                let saved = std::mem::replace(&mut self.path, new_path);
                let values = self.ext_value(v, 0);
                self.path = saved;
                if let Some(values) = values {
                    push_ext(out, ns, name, values);
                }
            }
            Err(e) => self.problem(pointer, e),
        }
    }

    /// Converts an extension value; an array gives several values (repeated fields).
    pub(crate) fn ext_value(&mut self, v: &Value, depth: usize) -> Option<Vec<ExtValue>> {
        if depth > MAX_EXT_DEPTH {
            self.problem("", "extension nested too deeply");
            return None;
        }
        Some(match v {
            Value::String(s) => vec![ExtValue::Leaf(s.clone(), LeafKind::String)],
            Value::Number(n) => vec![ExtValue::Leaf(n.to_string(), LeafKind::Number)],
            Value::Bool(b) => vec![ExtValue::Leaf(b.to_string(), LeafKind::Bool)],
            Value::Null => vec![ExtValue::Leaf(String::new(), LeafKind::Null)],
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.extend(self.ext_value(item, depth + 1)?);
                }
                out
            }
            Value::Object(o) => {
                let mut children = Vec::with_capacity(o.len());
                for (k, val) in o {
                    // Inside an extension element, children without a namespace are allowed
                    // (the XML binding permits unqualified children of a qualified element);
                    // only the top level of an event, location or ilmd must be qualified.
                    let resolved = if k.contains(':') || k.starts_with('{') || k.starts_with('@') {
                        self.resolve(k)
                    } else {
                        Ok((String::new(), k.clone()))
                    };
                    match resolved {
                        Ok((ns, name)) => {
                            let vals = self.ext_value(val, depth + 1)?;
                            push_ext(&mut children, ns, name, vals);
                        }
                        Err(e) => self.problem(k, e),
                    }
                }
                vec![ExtValue::Node(children)]
            }
        })
    }

    fn source_dest(&mut self, field: &str, v: &Value, key: &str) -> Vec<SourceDest> {
        let items = self.array(field, v);
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let f = format!("{field}/{i}");
            let Some(o) = self.object(&f, item) else { continue };
            let mut kind = None;
            let mut id = None;
            for (k, val) in o {
                if k == "type" {
                    kind = self.vocab(&format!("{f}/type"), VocabKind::SourceDestType, val);
                } else if k == key {
                    id = self.epc(&format!("{f}/{key}"), val);
                } else {
                    self.problem(&format!("{f}/{k}"), format!("unknown field in a {key}"));
                }
            }
            match (kind, id) {
                (Some(kind), Some(id)) => out.push(SourceDest { kind, id }),
                _ => {
                    if !o.contains_key("type") || !o.contains_key(key) {
                        self.problem(&f, format!("type and {key} are both required"));
                    }
                }
            }
        }
        out
    }

    fn biz_transactions(&mut self, field: &str, v: &Value) -> Vec<BizTransaction> {
        let items = self.array(field, v);
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let f = format!("{field}/{i}");
            let Some(o) = self.object(&f, item) else { continue };
            let mut kind = None;
            let mut id = None;
            for (k, val) in o {
                match k.as_str() {
                    "type" => kind = self.vocab(&format!("{f}/type"), VocabKind::BizTransactionType, val),
                    "bizTransaction" => id = self.epc(&format!("{f}/bizTransaction"), val),
                    other => self.problem(&format!("{f}/{other}"), "unknown field in a bizTransaction"),
                }
            }
            match id {
                Some(id) => out.push(BizTransaction { kind, id }),
                None if !o.contains_key("bizTransaction") => self.problem(&f, "bizTransaction is required"),
                None => {}
            }
        }
        out
    }

    fn opt_epc(&mut self, f: &str, v: &Value) -> Option<Epc> {
        self.epc(f, v)
    }

    fn sensor_elements(&mut self, field: &str, v: &Value) -> Vec<SensorElement> {
        let items = self.array(field, v);
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let f = format!("{field}/{i}");
            let Some(o) = self.object(&f, item) else { continue };
            let mut el = SensorElement::default();
            let mut has_report = false;
            for (k, val) in o {
                match k.as_str() {
                    "sensorMetadata" => {
                        let mf = format!("{f}/sensorMetadata");
                        let Some(m) = self.object(&mf, val) else { continue };
                        let mut md = SensorMetadata::default();
                        for (mk, mv) in m {
                            let p = format!("{mf}/{mk}");
                            match mk.as_str() {
                                "time" => md.time = self.time(&p, mv),
                                "startTime" => md.start_time = self.time(&p, mv),
                                "endTime" => md.end_time = self.time(&p, mv),
                                "deviceID" => md.device_id = self.opt_epc(&p, mv),
                                "deviceMetadata" => md.device_metadata = self.opt_epc(&p, mv),
                                "rawData" => md.raw_data = self.opt_epc(&p, mv),
                                "dataProcessingMethod" => md.data_processing_method = self.opt_epc(&p, mv),
                                "bizRules" => md.biz_rules = self.opt_epc(&p, mv),
                                _ => self.ext_field(&p, mk, mv, &mut md.extensions),
                            }
                        }
                        el.metadata = Some(md);
                    }
                    "sensorReport" => {
                        has_report = true;
                        let rf = format!("{f}/sensorReport");
                        let reports = self.array(&rf, val);
                        for (j, r) in reports.iter().enumerate() {
                            let rf = format!("{rf}/{j}");
                            if let Some(rep) = self.sensor_report(&rf, r) {
                                el.reports.push(rep);
                            }
                        }
                    }
                    _ => self.ext_field(&format!("{f}/{k}"), k, val, &mut el.extensions),
                }
            }
            if !has_report {
                self.problem(&f, "sensorReport is required (EPCIS 2.0 §7.3.8)");
            }
            out.push(el);
        }
        out
    }

    fn sensor_report(&mut self, f: &str, v: &Value) -> Option<SensorReport> {
        let o = self.object(f, v)?;
        let mut r = SensorReport::default();
        for (k, val) in o {
            let p = format!("{f}/{k}");
            match k.as_str() {
                "type" => r.kind = self.vocab(&p, VocabKind::MeasurementType, val),
                "exception" => r.exception = self.vocab(&p, VocabKind::SensorAlert, val),
                "deviceID" => r.device_id = self.opt_epc(&p, val),
                "deviceMetadata" => r.device_metadata = self.opt_epc(&p, val),
                "rawData" => r.raw_data = self.opt_epc(&p, val),
                "dataProcessingMethod" => r.data_processing_method = self.opt_epc(&p, val),
                "bizRules" => r.biz_rules = self.opt_epc(&p, val),
                "time" => r.time = self.time(&p, val),
                "microorganism" => r.microorganism = self.uri(&p, val),
                "chemicalSubstance" => r.chemical_substance = self.uri(&p, val),
                "coordinateReferenceSystem" => r.coordinate_reference_system = self.uri(&p, val),
                "value" => r.value = self.number(&p, val),
                "component" => r.component = self.vocab(&p, VocabKind::Component, val),
                "stringValue" => r.string_value = self.string(&p, val).map(str::to_string),
                "booleanValue" => match val {
                    Value::Bool(b) => r.boolean_value = Some(*b),
                    _ => self.problem(&p, "must be a boolean"),
                },
                "hexBinaryValue" => {
                    if let Some(s) = self.string(&p, val) {
                        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit()) {
                            r.hex_binary_value = Some(s.to_string());
                        } else {
                            self.problem(&p, format!("`{s}` is not hexBinary"));
                        }
                    }
                }
                "uriValue" => r.uri_value = self.uri(&p, val),
                "minValue" => r.min_value = self.number(&p, val),
                "maxValue" => r.max_value = self.number(&p, val),
                "meanValue" => r.mean_value = self.number(&p, val),
                "sDev" => r.s_dev = self.number(&p, val),
                "percRank" => r.perc_rank = self.number(&p, val),
                "percValue" => r.perc_value = self.number(&p, val),
                "uom" => r.uom = self.string(&p, val).map(str::to_string),
                _ => self.ext_field(&p, k, val, &mut r.extensions),
            }
        }
        if !o.contains_key("type") && !o.contains_key("exception") {
            // EPCIS 2.0 §7.3.8.2: a report says what it measures (type) or what it alerts (exception).
            self.problem(f, "a sensorReport needs type or exception");
        }
        Some(r)
    }

    /// Maps one event.
    pub(crate) fn event(&mut self, v: &Value) -> Option<Event> {
        let o = self.object("", v)?;
        let Some(type_name) = o.get("type").and_then(Value::as_str) else {
            self.problem("type", "the event type is required");
            return None;
        };
        let Some(event_type) = EventType::from_name(type_name) else {
            self.problem("type", format!("`{type_name}` is not an EPCIS event type"));
            return None;
        };
        let event_time = match o.get("eventTime") {
            Some(t) => self.time("eventTime", t),
            None => {
                self.problem("eventTime", "eventTime is required");
                None
            }
        };
        let offset = match o.get("eventTimeZoneOffset") {
            Some(v) => match self.string("eventTimeZoneOffset", v).map(TimeZoneOffset::parse) {
                Some(Ok(z)) => Some(z),
                Some(Err(e)) => {
                    self.problem("eventTimeZoneOffset", e);
                    None
                }
                None => None,
            },
            None => {
                self.problem("eventTimeZoneOffset", "eventTimeZoneOffset is required");
                None
            }
        };
        let before = self.problems.len();
        // Keep reading the other fields with placeholders, so all problems are reported.
        let placeholder_time = Timestamp(time::OffsetDateTime::UNIX_EPOCH);
        let mut ev = Event::new(
            event_type,
            event_time.unwrap_or(placeholder_time),
            offset.clone().unwrap_or_else(|| TimeZoneOffset::parse("+00:00").expect("valid")),
        );
        let allowed = allowed_fields(event_type);
        if let Some(c) = o.get("@context") {
            let mut local = Namespaces::default();
            local.add_context(c);
            self.local = Some(local);
        }
        for (k, val) in o {
            let key = k.as_str();
            if COMMON.contains(&key) {
                match key {
                    "recordTime" => ev.record_time = self.time(key, val),
                    "eventID" => ev.event_id = self.uri(key, val),
                    "certificationInfo" => match val {
                        Value::Array(items) => {
                            for (i, it) in items.iter().enumerate() {
                                if let Some(u) = self.uri(&format!("certificationInfo/{i}"), it) {
                                    ev.certification_info.push(u);
                                }
                            }
                        }
                        _ => {
                            if let Some(u) = self.uri(key, val) {
                                ev.certification_info.push(u);
                            }
                        }
                    },
                    "errorDeclaration" => ev.error_declaration = self.error_declaration(val),
                    _ => {}
                }
                continue;
            }
            if key.contains(':') || key.starts_with('{') {
                self.ext_field(key, key, val, &mut ev.extensions);
                continue;
            }
            if !allowed.contains(&key) {
                let known = [EventType::Object, EventType::Aggregation, EventType::Transformation]
                    .iter()
                    .any(|t| allowed_fields(*t).contains(&key));
                if known {
                    self.problem(key, format!("{key} is not a field of {}", event_type.as_str()));
                } else {
                    self.problem(
                        key,
                        format!(
                            "unknown field `{key}`; extension fields must use a declared namespace (EPCIS 2.0 §7.5)"
                        ),
                    );
                }
                continue;
            }
            match key {
                "epcList" => ev.epc_list = self.epc_list(key, val),
                "childEPCs" => ev.child_epcs = self.epc_list(key, val),
                "inputEPCList" => ev.input_epc_list = self.epc_list(key, val),
                "outputEPCList" => ev.output_epc_list = self.epc_list(key, val),
                "quantityList" => ev.quantity_list = self.quantity_list(key, val),
                "childQuantityList" => ev.child_quantity_list = self.quantity_list(key, val),
                "inputQuantityList" => ev.input_quantity_list = self.quantity_list(key, val),
                "outputQuantityList" => ev.output_quantity_list = self.quantity_list(key, val),
                "parentID" => ev.parent_id = self.epc(key, val),
                "transformationID" => ev.transformation_id = self.epc(key, val),
                "action" => {
                    if let Some(s) = self.string(key, val) {
                        match Action::from_name(s) {
                            Some(a) => ev.action = Some(a),
                            None => self.problem(key, format!("`{s}` is not ADD, OBSERVE or DELETE")),
                        }
                    }
                }
                "bizStep" => ev.biz_step = self.vocab(key, VocabKind::BizStep, val),
                "disposition" => ev.disposition = self.vocab(key, VocabKind::Disposition, val),
                "persistentDisposition" => {
                    if let Some(pd) = self.object(key, val) {
                        let mut out = PersistentDisposition::default();
                        for (pk, pv) in pd {
                            let list = match pk.as_str() {
                                "set" => &mut out.set,
                                "unset" => &mut out.unset,
                                other => {
                                    self.problem(&format!("{key}/{other}"), "only set and unset are allowed");
                                    continue;
                                }
                            };
                            let items = self.array(&format!("{key}/{pk}"), pv);
                            for (i, it) in items.iter().enumerate() {
                                if let Some(d) = self.vocab(&format!("{key}/{pk}/{i}"), VocabKind::Disposition, it) {
                                    list.push(d);
                                }
                            }
                        }
                        if out.set.is_empty() && out.unset.is_empty() {
                            self.problem(key, "persistentDisposition needs set or unset");
                        }
                        ev.persistent_disposition = Some(out);
                    }
                }
                "readPoint" => ev.read_point = self.location(key, val),
                "bizLocation" => ev.biz_location = self.location(key, val),
                "bizTransactionList" => ev.biz_transaction_list = self.biz_transactions(key, val),
                "sourceList" => ev.source_list = self.source_dest(key, val, "source"),
                "destinationList" => ev.destination_list = self.source_dest(key, val, "destination"),
                "sensorElementList" => ev.sensor_element_list = self.sensor_elements(key, val),
                "ilmd" => {
                    if let Some(m) = self.object(key, val) {
                        let mut fields = Vec::with_capacity(m.len());
                        for (ik, iv) in m {
                            self.ext_field(&format!("ilmd/{ik}"), ik, iv, &mut fields);
                        }
                        ev.ilmd = Some(fields);
                    }
                }
                _ => unreachable!("every allowed field is handled"),
            }
        }
        self.local = None;
        self.check_required(&ev, o);
        if event_time.is_none() || offset.is_none() || self.problems.len() > before {
            return None;
        }
        Some(ev)
    }

    fn error_declaration(&mut self, v: &Value) -> Option<ErrorDeclaration> {
        let o = self.object("errorDeclaration", v)?;
        let mut time = None;
        let mut reason = None;
        let mut ids = Vec::new();
        let mut extensions = Vec::new();
        for (k, val) in o {
            let p = format!("errorDeclaration/{k}");
            match k.as_str() {
                "declarationTime" => time = self.time(&p, val),
                "reason" => reason = self.vocab(&p, VocabKind::ErrorReason, val),
                "correctiveEventIDs" => {
                    let items = self.array(&p, val);
                    for (i, it) in items.iter().enumerate() {
                        if let Some(u) = self.uri(&format!("{p}/{i}"), it) {
                            ids.push(u);
                        }
                    }
                }
                _ => self.ext_field(&p, k, val, &mut extensions),
            }
        }
        match time {
            Some(declaration_time) => {
                Some(ErrorDeclaration { declaration_time, reason, corrective_event_ids: ids, extensions })
            }
            None => {
                if !o.contains_key("declarationTime") {
                    self.problem("errorDeclaration", "declarationTime is required");
                }
                None
            }
        }
    }

    /// The per-type rules of EPCIS 2.0 §7.4 that the JSON schema also states.
    fn check_required(&mut self, ev: &Event, o: &Map<String, Value>) {
        let t = ev.event_type;
        if t != EventType::Transformation && !o.contains_key("action") {
            self.problem("action", format!("action is required in {}", t.as_str()));
        }
        match t {
            EventType::Object => {
                // EPCIS 2.0 §7.4.2 / JSON schema: objects, quantities, or sensor data at a read point.
                let sensor_only = !ev.sensor_element_list.is_empty() && ev.read_point.is_some();
                if !o.contains_key("epcList") && ev.quantity_list.is_empty() && !sensor_only {
                    self.problem(
                        "epcList",
                        "an ObjectEvent needs epcList, a non-empty quantityList, or sensor data with a readPoint",
                    );
                }
            }
            EventType::Transaction => {
                if ev.biz_transaction_list.is_empty() {
                    self.problem("bizTransactionList", "a TransactionEvent needs at least one bizTransaction");
                }
                if !o.contains_key("epcList") && ev.quantity_list.is_empty() {
                    self.problem("epcList", "a TransactionEvent needs epcList or a non-empty quantityList");
                }
            }
            EventType::Aggregation | EventType::Association => {
                if t == EventType::Association && ev.parent_id.is_none() && !o.contains_key("parentID") {
                    self.problem("parentID", "an AssociationEvent needs parentID");
                }
                if ev.action != Some(Action::Delete) && ev.child_epcs.is_empty() && ev.child_quantity_list.is_empty() {
                    self.problem("childEPCs", "childEPCs or childQuantityList is required unless action is DELETE");
                }
            }
            EventType::Transformation => {
                let has_in = !ev.input_epc_list.is_empty() || !ev.input_quantity_list.is_empty();
                let has_out = !ev.output_epc_list.is_empty() || !ev.output_quantity_list.is_empty();
                if !(has_in || has_out) || (!(has_in && has_out) && ev.transformation_id.is_none()) {
                    self.problem(
                        "inputEPCList",
                        "a TransformationEvent needs inputs and outputs, or a transformationID (EPCIS 2.0 §7.4.6)",
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Writing

/// Writes the prefixes of every namespace used, reusing the document's own prefixes.
#[derive(Default)]
struct PrefixTable {
    used: Vec<(String, String)>,
    known: Vec<(String, String)>,
}

impl PrefixTable {
    fn new(known: &[(String, String)]) -> Self {
        PrefixTable { used: Vec::new(), known: known.to_vec() }
    }

    fn prefix_for(&mut self, ns: &str) -> String {
        if let Some((p, _)) = self.used.iter().find(|(_, u)| u == ns) {
            return p.clone();
        }
        if let Some((p, _)) = STANDARD_PREFIXES.iter().find(|(_, u)| *u == ns) {
            return p.to_string();
        }
        let p = match self.known.iter().find(|(p, u)| u == ns && !self.used.iter().any(|(q, _)| q == p)) {
            Some((p, _)) => p.clone(),
            None => {
                let mut n = self.used.len() + 1;
                loop {
                    let cand = format!("ext{n}");
                    if !self.used.iter().any(|(q, _)| *q == cand) && STANDARD_PREFIXES.iter().all(|(q, _)| *q != cand) {
                        break cand;
                    }
                    n += 1;
                }
            }
        };
        self.used.push((p.clone(), ns.to_string()));
        p
    }

    fn context(&self) -> Value {
        let mut items = vec![Value::String(EPCIS_CONTEXT.to_string())];
        for (p, u) in &self.used {
            let mut m = Map::new();
            m.insert(p.clone(), Value::String(u.clone()));
            items.push(Value::Object(m));
        }
        Value::Array(items)
    }
}

fn num(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Value::Number(Number::from(f as i64))
    } else {
        Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)
    }
}

struct Writer<'a> {
    prefixes: &'a mut PrefixTable,
    format: EpcFormat,
}

impl Writer<'_> {
    fn epc(&self, e: &Epc) -> Value {
        Value::String(e.render(self.format))
    }

    fn key(&mut self, f: &ExtField) -> String {
        if f.ns.is_empty() {
            return f.name.clone();
        }
        format!("{}:{}", self.prefixes.prefix_for(&f.ns), f.name)
    }

    fn ext_into(&mut self, fields: &[ExtField], map: &mut Map<String, Value>) {
        let mut i = 0;
        let mut done = vec![false; fields.len()];
        while i < fields.len() {
            if done[i] {
                i += 1;
                continue;
            }
            let f = &fields[i];
            let same: Vec<usize> =
                (i..fields.len()).filter(|&j| !done[j] && fields[j].ns == f.ns && fields[j].name == f.name).collect();
            let key = self.key(f);
            let value = if same.len() == 1 {
                self.ext_value(&f.value)
            } else {
                Value::Array(same.iter().map(|&j| self.ext_value(&fields[j].value)).collect())
            };
            for j in same {
                done[j] = true;
            }
            map.insert(key, value);
            i += 1;
        }
    }

    fn ext_value(&mut self, v: &ExtValue) -> Value {
        match v {
            ExtValue::Leaf(s, kind) => match kind {
                LeafKind::String => Value::String(s.clone()),
                LeafKind::Number => s.parse::<Number>().map(Value::Number).unwrap_or_else(|_| Value::String(s.clone())),
                LeafKind::Bool => match s.as_str() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    _ => Value::String(s.clone()),
                },
                LeafKind::Null => Value::Null,
            },
            ExtValue::Node(children) => {
                let mut m = Map::new();
                self.ext_into(children, &mut m);
                Value::Object(m)
            }
        }
    }

    fn quantities(&self, list: &[QuantityElement]) -> Value {
        Value::Array(
            list.iter()
                .map(|q| {
                    let mut m = Map::new();
                    m.insert("epcClass".into(), self.epc(&q.epc_class));
                    if let Some(x) = q.quantity {
                        m.insert("quantity".into(), num(x));
                    }
                    if let Some(u) = &q.uom {
                        m.insert("uom".into(), Value::String(u.clone()));
                    }
                    Value::Object(m)
                })
                .collect(),
        )
    }

    fn epcs(&self, list: &[Epc]) -> Value {
        Value::Array(list.iter().map(|e| self.epc(e)).collect())
    }

    fn location(&mut self, l: &Location) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), self.epc(&l.id));
        self.ext_into(&l.extensions, &mut m);
        Value::Object(m)
    }

    fn event(&mut self, ev: &Event) -> Value {
        let mut m = Map::new();
        let s = |x: &str| Value::String(x.to_string());
        m.insert("type".into(), s(ev.event_type.as_str()));
        if let Some(id) = &ev.event_id {
            m.insert("eventID".into(), s(id));
        }
        m.insert("eventTime".into(), s(&ev.event_time.to_rfc3339()));
        if let Some(t) = &ev.record_time {
            m.insert("recordTime".into(), s(&t.to_rfc3339()));
        }
        m.insert("eventTimeZoneOffset".into(), s(ev.event_time_zone_offset.as_str()));
        if !ev.certification_info.is_empty() {
            m.insert("certificationInfo".into(), Value::Array(ev.certification_info.iter().map(|c| s(c)).collect()));
        }
        if let Some(ed) = &ev.error_declaration {
            let mut e = Map::new();
            e.insert("declarationTime".into(), s(&ed.declaration_time.to_rfc3339()));
            if let Some(r) = &ed.reason {
                e.insert("reason".into(), s(r));
            }
            if !ed.corrective_event_ids.is_empty() {
                e.insert(
                    "correctiveEventIDs".into(),
                    Value::Array(ed.corrective_event_ids.iter().map(|c| s(c)).collect()),
                );
            }
            self.ext_into(&ed.extensions, &mut e);
            m.insert("errorDeclaration".into(), Value::Object(e));
        }
        let t = ev.event_type;
        if let Some(p) = &ev.parent_id {
            m.insert("parentID".into(), self.epc(p));
        }
        if !ev.epc_list.is_empty()
            || matches!(t, EventType::Object | EventType::Transaction) && ev.quantity_list.is_empty()
        {
            m.insert("epcList".into(), self.epcs(&ev.epc_list));
        }
        if !ev.child_epcs.is_empty() {
            m.insert("childEPCs".into(), self.epcs(&ev.child_epcs));
        }
        if !ev.input_epc_list.is_empty() {
            m.insert("inputEPCList".into(), self.epcs(&ev.input_epc_list));
        }
        if !ev.output_epc_list.is_empty() {
            m.insert("outputEPCList".into(), self.epcs(&ev.output_epc_list));
        }
        for (k, l) in [
            ("quantityList", &ev.quantity_list),
            ("childQuantityList", &ev.child_quantity_list),
            ("inputQuantityList", &ev.input_quantity_list),
            ("outputQuantityList", &ev.output_quantity_list),
        ] {
            if !l.is_empty() {
                m.insert(k.into(), self.quantities(l));
            }
        }
        if let Some(a) = ev.action {
            m.insert("action".into(), s(a.as_str()));
        }
        if let Some(x) = &ev.transformation_id {
            m.insert("transformationID".into(), self.epc(x));
        }
        if let Some(x) = &ev.biz_step {
            m.insert("bizStep".into(), s(x));
        }
        if let Some(x) = &ev.disposition {
            m.insert("disposition".into(), s(x));
        }
        if let Some(pd) = &ev.persistent_disposition {
            let mut p = Map::new();
            if !pd.set.is_empty() {
                p.insert("set".into(), Value::Array(pd.set.iter().map(|x| s(x)).collect()));
            }
            if !pd.unset.is_empty() {
                p.insert("unset".into(), Value::Array(pd.unset.iter().map(|x| s(x)).collect()));
            }
            m.insert("persistentDisposition".into(), Value::Object(p));
        }
        if let Some(l) = &ev.read_point {
            let v = self.location(l);
            m.insert("readPoint".into(), v);
        }
        if let Some(l) = &ev.biz_location {
            let v = self.location(l);
            m.insert("bizLocation".into(), v);
        }
        if !ev.biz_transaction_list.is_empty() {
            let list = ev
                .biz_transaction_list
                .iter()
                .map(|b| {
                    let mut o = Map::new();
                    if let Some(k) = &b.kind {
                        o.insert("type".into(), s(k));
                    }
                    o.insert("bizTransaction".into(), self.epc(&b.id));
                    Value::Object(o)
                })
                .collect();
            m.insert("bizTransactionList".into(), Value::Array(list));
        }
        for (k, item, l) in
            [("sourceList", "source", &ev.source_list), ("destinationList", "destination", &ev.destination_list)]
        {
            if !l.is_empty() {
                let list = l
                    .iter()
                    .map(|sd| {
                        let mut o = Map::new();
                        o.insert("type".into(), s(&sd.kind));
                        o.insert(item.into(), self.epc(&sd.id));
                        Value::Object(o)
                    })
                    .collect();
                m.insert(k.into(), Value::Array(list));
            }
        }
        if !ev.sensor_element_list.is_empty() {
            let list = ev.sensor_element_list.iter().map(|se| self.sensor_element(se)).collect();
            m.insert("sensorElementList".into(), Value::Array(list));
        }
        if let Some(ilmd) = &ev.ilmd {
            let mut o = Map::new();
            self.ext_into(ilmd, &mut o);
            m.insert("ilmd".into(), Value::Object(o));
        }
        self.ext_into(&ev.extensions, &mut m);
        Value::Object(m)
    }

    fn sensor_element(&mut self, se: &SensorElement) -> Value {
        let mut o = Map::new();
        let s = |x: &str| Value::String(x.to_string());
        if let Some(md) = &se.metadata {
            let mut m = Map::new();
            for (k, t) in [("time", &md.time), ("startTime", &md.start_time), ("endTime", &md.end_time)] {
                if let Some(t) = t {
                    m.insert(k.into(), s(&t.to_rfc3339()));
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
                    m.insert(k.into(), self.epc(e));
                }
            }
            self.ext_into(&md.extensions, &mut m);
            o.insert("sensorMetadata".into(), Value::Object(m));
        }
        let reports = se
            .reports
            .iter()
            .map(|r| {
                let mut m = Map::new();
                for (k, v) in [("type", &r.kind), ("exception", &r.exception)] {
                    if let Some(v) = v {
                        m.insert(k.into(), s(v));
                    }
                }
                for (k, e) in [
                    ("deviceID", &r.device_id),
                    ("deviceMetadata", &r.device_metadata),
                    ("rawData", &r.raw_data),
                    ("dataProcessingMethod", &r.data_processing_method),
                    ("bizRules", &r.biz_rules),
                ] {
                    if let Some(e) = e {
                        m.insert(k.into(), self.epc(e));
                    }
                }
                if let Some(t) = &r.time {
                    m.insert("time".into(), s(&t.to_rfc3339()));
                }
                for (k, v) in [
                    ("microorganism", &r.microorganism),
                    ("chemicalSubstance", &r.chemical_substance),
                    ("coordinateReferenceSystem", &r.coordinate_reference_system),
                ] {
                    if let Some(v) = v {
                        m.insert(k.into(), s(v));
                    }
                }
                if let Some(v) = r.value {
                    m.insert("value".into(), num(v));
                }
                if let Some(v) = &r.component {
                    m.insert("component".into(), s(v));
                }
                if let Some(v) = &r.string_value {
                    m.insert("stringValue".into(), s(v));
                }
                if let Some(v) = r.boolean_value {
                    m.insert("booleanValue".into(), Value::Bool(v));
                }
                if let Some(v) = &r.hex_binary_value {
                    m.insert("hexBinaryValue".into(), s(v));
                }
                if let Some(v) = &r.uri_value {
                    m.insert("uriValue".into(), s(v));
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
                        m.insert(k.into(), num(v));
                    }
                }
                if let Some(v) = &r.uom {
                    m.insert("uom".into(), s(v));
                }
                self.ext_into(&r.extensions, &mut m);
                Value::Object(m)
            })
            .collect();
        o.insert("sensorReport".into(), Value::Array(reports));
        self.ext_into(&se.extensions, &mut o);
        Value::Object(o)
    }
}

/// Writes a document in the JSON-LD binding, identifiers in the requested form.
pub fn document_to_value(doc: &Document, format: EpcFormat) -> Value {
    let mut prefixes = PrefixTable::new(&doc.namespaces);
    let mut w = Writer { prefixes: &mut prefixes, format };
    let events: Vec<Value> = doc.events.iter().map(|e| w.event(e)).collect();
    let mut extra = Map::new();
    w.ext_into(&doc.extensions, &mut extra);
    let mut root = Map::new();
    root.insert("@context".into(), prefixes.context());
    let type_name = match doc.kind {
        DocumentKind::Capture => "EPCISDocument",
        DocumentKind::Query { .. } => "EPCISQueryDocument",
    };
    root.insert("type".into(), Value::String(type_name.into()));
    root.insert("schemaVersion".into(), Value::String("2.0".into()));
    let created = doc.creation_date.map(|t| t.to_rfc3339()).unwrap_or_else(|| "1970-01-01T00:00:00.000Z".to_string());
    root.insert("creationDate".into(), Value::String(created));
    root.extend(extra);
    let mut body = Map::new();
    let mut list = Map::new();
    list.insert("eventList".into(), Value::Array(events));
    match &doc.kind {
        DocumentKind::Capture => body.extend(list),
        DocumentKind::Query { query_name, subscription_id } => {
            let mut qr = Map::new();
            qr.insert("queryName".into(), Value::String(query_name.clone()));
            if let Some(s) = subscription_id {
                qr.insert("subscriptionID".into(), Value::String(s.clone()));
            }
            qr.insert("resultsBody".into(), Value::Object(list));
            body.insert("queryResults".into(), Value::Object(qr));
        }
    }
    root.insert("epcisBody".into(), Value::Object(body));
    Value::Object(root)
}

/// Writes a single event with its own `@context`, as `GET /events/{id}` answers.
pub fn event_to_value(ev: &Event, namespaces: &[(String, String)], format: EpcFormat) -> Value {
    let mut prefixes = PrefixTable::new(namespaces);
    let mut w = Writer { prefixes: &mut prefixes, format };
    let Value::Object(body) = w.event(ev) else { unreachable!("an event is an object") };
    let mut m = Map::new();
    m.insert("@context".into(), prefixes.context());
    m.extend(body);
    Value::Object(m)
}

/// The serialised JSON-LD of one event with its own `@context`: the same text as
/// `serde_json::to_string(&event_to_value(..))`, written straight into the text for the
/// fields every event has (a capture stores one per event, and building the whole
/// `serde_json::Value` first was a tenth of a capture's CPU time). Nested objects with
/// extension fields still go through a `Value`, in the same order, so prefixes are numbered
/// alike. An event with a top-level field outside any namespace (a JSON-LD keyword such as an
/// event's own `@context`, which replaces the document's) takes the `Value` path whole.
pub fn event_json(ev: &Event, namespaces: &[(String, String)], format: EpcFormat) -> String {
    if ev.extensions.iter().any(|f| f.ns.is_empty()) {
        return serde_json::to_string(&event_to_value(ev, namespaces, format)).expect("a JSON value always serialises");
    }
    let mut prefixes = PrefixTable::new(namespaces);
    let mut w = Writer { prefixes: &mut prefixes, format };
    let mut body = Out(Vec::with_capacity(512));
    w.event_direct(ev, &mut body);
    let mut out = Out(Vec::with_capacity(body.0.len() + 128));
    out.0.push(b'{');
    out.field("@context", &prefixes.context());
    out.0.extend_from_slice(&body.0);
    out.0.push(b'}');
    String::from_utf8(out.0).expect("serde_json writes UTF-8")
}

/// Compact JSON text of an object's members, written as `serde_json` writes them.
struct Out(Vec<u8>);

impl Out {
    fn key(&mut self, k: &str) {
        if !matches!(self.0.last(), None | Some(b'{' | b'[')) {
            self.0.push(b',');
        }
        self.str(k);
        self.0.push(b':');
    }

    fn str(&mut self, s: &str) {
        serde_json::to_writer(&mut self.0, s).expect("writing to memory");
    }

    fn field(&mut self, k: &str, v: &Value) {
        self.key(k);
        serde_json::to_writer(&mut self.0, v).expect("writing to memory");
    }

    fn text(&mut self, k: &str, v: &str) {
        self.key(k);
        self.str(v);
    }

    /// `k` with an array of objects, each object's members written by `member`.
    fn objects<T>(&mut self, k: &str, items: &[T], mut member: impl FnMut(&mut Out, &T)) {
        self.key(k);
        self.0.push(b'[');
        for (i, x) in items.iter().enumerate() {
            if i > 0 {
                self.0.push(b',');
            }
            self.0.push(b'{');
            member(self, x);
            self.0.push(b'}');
        }
        self.0.push(b']');
    }

    fn list(&mut self, k: &str, items: impl IntoIterator<Item = String>) {
        self.key(k);
        self.0.push(b'[');
        for (i, x) in items.into_iter().enumerate() {
            if i > 0 {
                self.0.push(b',');
            }
            self.str(&x);
        }
        self.0.push(b']');
    }
}

impl Writer<'_> {
    /// The members of [`Writer::event`]'s object, in its order, into `o` (which starts empty).
    fn event_direct(&mut self, ev: &Event, o: &mut Out) {
        o.0.push(b'{'); // Dropped below: makes the first member's comma rule uniform.
        o.text("type", ev.event_type.as_str());
        if let Some(id) = &ev.event_id {
            o.text("eventID", id);
        }
        o.text("eventTime", &ev.event_time.to_rfc3339());
        if let Some(t) = &ev.record_time {
            o.text("recordTime", &t.to_rfc3339());
        }
        o.text("eventTimeZoneOffset", ev.event_time_zone_offset.as_str());
        if !ev.certification_info.is_empty() {
            o.list("certificationInfo", ev.certification_info.iter().cloned());
        }
        if let Some(ed) = &ev.error_declaration {
            // Rare, and with extension fields: the object as `event` builds it.
            let mut e = Map::new();
            e.insert("declarationTime".into(), Value::String(ed.declaration_time.to_rfc3339()));
            if let Some(r) = &ed.reason {
                e.insert("reason".into(), Value::String(r.clone()));
            }
            if !ed.corrective_event_ids.is_empty() {
                let ids = ed.corrective_event_ids.iter().map(|c| Value::String(c.clone())).collect();
                e.insert("correctiveEventIDs".into(), Value::Array(ids));
            }
            self.ext_into(&ed.extensions, &mut e);
            o.field("errorDeclaration", &Value::Object(e));
        }
        let t = ev.event_type;
        if let Some(p) = &ev.parent_id {
            o.text("parentID", &p.render(self.format));
        }
        if !ev.epc_list.is_empty()
            || matches!(t, EventType::Object | EventType::Transaction) && ev.quantity_list.is_empty()
        {
            o.list("epcList", ev.epc_list.iter().map(|e| e.render(self.format)));
        }
        for (k, l) in [
            ("childEPCs", &ev.child_epcs),
            ("inputEPCList", &ev.input_epc_list),
            ("outputEPCList", &ev.output_epc_list),
        ] {
            if !l.is_empty() {
                o.list(k, l.iter().map(|e| e.render(self.format)));
            }
        }
        for (k, l) in [
            ("quantityList", &ev.quantity_list),
            ("childQuantityList", &ev.child_quantity_list),
            ("inputQuantityList", &ev.input_quantity_list),
            ("outputQuantityList", &ev.output_quantity_list),
        ] {
            if !l.is_empty() {
                o.objects(k, l, |o, q| {
                    o.text("epcClass", &q.epc_class.render(self.format));
                    if let Some(x) = q.quantity {
                        o.field("quantity", &num(x));
                    }
                    if let Some(u) = &q.uom {
                        o.text("uom", u);
                    }
                });
            }
        }
        if let Some(a) = ev.action {
            o.text("action", a.as_str());
        }
        if let Some(x) = &ev.transformation_id {
            o.text("transformationID", &x.render(self.format));
        }
        if let Some(x) = &ev.biz_step {
            o.text("bizStep", x);
        }
        if let Some(x) = &ev.disposition {
            o.text("disposition", x);
        }
        if let Some(pd) = &ev.persistent_disposition {
            let mut p = Map::new();
            let strings = |l: &[String]| Value::Array(l.iter().map(|x| Value::String(x.clone())).collect());
            if !pd.set.is_empty() {
                p.insert("set".into(), strings(&pd.set));
            }
            if !pd.unset.is_empty() {
                p.insert("unset".into(), strings(&pd.unset));
            }
            o.field("persistentDisposition", &Value::Object(p));
        }
        for (k, l) in [("readPoint", &ev.read_point), ("bizLocation", &ev.biz_location)] {
            let Some(l) = l else { continue };
            if l.extensions.is_empty() {
                o.key(k);
                o.0.push(b'{');
                o.text("id", &l.id.render(self.format));
                o.0.push(b'}');
            } else {
                let v = self.location(l);
                o.field(k, &v);
            }
        }
        if !ev.biz_transaction_list.is_empty() {
            o.objects("bizTransactionList", &ev.biz_transaction_list, |o, b| {
                if let Some(k) = &b.kind {
                    o.text("type", k);
                }
                o.text("bizTransaction", &b.id.render(self.format));
            });
        }
        for (k, item, l) in
            [("sourceList", "source", &ev.source_list), ("destinationList", "destination", &ev.destination_list)]
        {
            if !l.is_empty() {
                o.objects(k, l, |o, sd| {
                    o.text("type", &sd.kind);
                    o.text(item, &sd.id.render(self.format));
                });
            }
        }
        if !ev.sensor_element_list.is_empty() {
            let list = ev.sensor_element_list.iter().map(|se| self.sensor_element(se)).collect();
            o.field("sensorElementList", &Value::Array(list));
        }
        if let Some(ilmd) = &ev.ilmd {
            let mut m = Map::new();
            self.ext_into(ilmd, &mut m);
            o.field("ilmd", &Value::Object(m));
        }
        let mut m = Map::new();
        self.ext_into(&ev.extensions, &mut m);
        for (k, v) in &m {
            o.field(k, v);
        }
        // The opening brace only steered the commas: the caller puts the members after its own.
        o.0[0] = b',';
    }
}

/// Serialises a document to JSON-LD bytes.
pub fn write_document(doc: &Document, format: EpcFormat) -> Vec<u8> {
    serde_json::to_vec(&document_to_value(doc, format)).expect("a JSON value always serialises")
}
