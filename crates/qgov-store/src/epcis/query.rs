//! The EPCIS 2.0 query language (EPCIS 2.0 §8.2.7.1, the query schema `query-schema.json`)
//! parsed into a typed AST, and the AST translated into SQL over the normalised tables.
//!
//! Parsing is pure: [`EventQuery::parse`] takes the parameters as (name, values) pairs — from a
//! URL query string (values `|`-separated, as the OpenAPI's `pipeDelimited` style says) or from
//! the JSON body of a named query — and a way to resolve namespace prefixes. Every parameter
//! becomes one [`Filter`]; an unknown name or a bad value is a [`QueryParamError`] naming the
//! parameter (EPCIS `QueryParameterException`).

use qgov_epcis::Epc;
use qgov_epcis::model::Timestamp;
use qgov_epcis::vocab::VocabKind;

/// A query parameter that cannot be used (EPCIS 2.0 §8.2.7 `QueryParameterException`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("query parameter {param}: {message}")]
pub struct QueryParamError {
    /// The parameter's name as given.
    pub param: String,
    /// What is wrong with it.
    pub message: String,
}

fn perr<T>(param: &str, message: impl Into<String>) -> Result<T, QueryParamError> {
    Err(QueryParamError { param: param.to_owned(), message: message.into() })
}

/// Comparison of an ordered value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Cmp {
    fn sql(self) -> &'static str {
        match self {
            Cmp::Eq => "=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
        }
    }
    fn from_prefix(p: &str) -> Option<Self> {
        Some(match p {
            "EQ" => Cmp::Eq,
            "GT" => Cmp::Gt,
            "GE" => Cmp::Ge,
            "LT" => Cmp::Lt,
            "LE" => Cmp::Le,
            _ => return None,
        })
    }
}

/// A time-valued column of the events table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeColumn {
    EventTime,
    RecordTime,
    ErrorDeclarationTime,
}

/// A text column of the events table compared by equality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextColumn {
    EventType,
    Action,
    BizStep,
    Disposition,
    ReadPoint,
    BizLocation,
    TransformationId,
    EventId,
    ErrorReason,
}

impl TextColumn {
    fn sql(self) -> &'static str {
        match self {
            TextColumn::EventType => "e.event_type",
            TextColumn::Action => "e.action",
            TextColumn::BizStep => "e.biz_step",
            TextColumn::Disposition => "e.disposition",
            TextColumn::ReadPoint => "e.read_point",
            TextColumn::BizLocation => "e.biz_location",
            TextColumn::TransformationId => "e.transformation_id",
            TextColumn::EventId => "e.event_id",
            TextColumn::ErrorReason => "e.error_reason",
        }
    }
}

/// How an identifier given to a MATCH_ parameter is compared with stored identifiers (all in
/// canonical Digital Link form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdPattern {
    /// The identifier itself.
    Exact(String),
    /// The identifier and every identifier under it: an EPC pattern `urn:epc:idpat:sgtin:C.I.*`
    /// is the GTIN's Digital Link, which is a path prefix of every SGTIN and LGTIN of that GTIN.
    Under(String),
    /// A SQL `LIKE` pattern, for patterns whose wildcard is not at the end of the Digital Link
    /// (`urn:epc:idpat:sgtin:C.*.*`: any GTIN of a company prefix).
    Like(String),
}

/// Which sensor-report field a filter looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SensorColumn {
    Type,
    DeviceId,
    DataProcessingMethod,
    Microorganism,
    ChemicalSubstance,
    BizRules,
    StringValue,
    HexBinaryValue,
    UriValue,
    Value,
    MinValue,
    MaxValue,
    MeanValue,
    SDev,
    PercRank,
    PercValue,
    Time,
    StartTime,
    EndTime,
}

impl SensorColumn {
    fn sql(self) -> &'static str {
        match self {
            SensorColumn::Type => "s.type",
            SensorColumn::DeviceId => "s.device_id",
            SensorColumn::DataProcessingMethod => "s.data_processing_method",
            SensorColumn::Microorganism => "s.microorganism",
            SensorColumn::ChemicalSubstance => "s.chemical_substance",
            SensorColumn::BizRules => "s.biz_rules",
            SensorColumn::StringValue => "s.string_value",
            SensorColumn::HexBinaryValue => "s.hex_binary_value",
            SensorColumn::UriValue => "s.uri_value",
            SensorColumn::Value => "s.value",
            SensorColumn::MinValue => "s.min_value",
            SensorColumn::MaxValue => "s.max_value",
            SensorColumn::MeanValue => "s.mean_value",
            SensorColumn::SDev => "s.s_dev",
            SensorColumn::PercRank => "s.perc_rank",
            SensorColumn::PercValue => "s.perc_value",
            SensorColumn::Time => "s.time",
            SensorColumn::StartTime => "s.meta_start_time",
            SensorColumn::EndTime => "s.meta_end_time",
        }
    }
    /// Columns also present in the element's metadata.
    fn metadata_twin(self) -> Option<&'static str> {
        match self {
            SensorColumn::DeviceId => Some("s.meta_device_id"),
            SensorColumn::DataProcessingMethod => Some("s.meta_data_processing_method"),
            SensorColumn::BizRules => Some("s.meta_biz_rules"),
            SensorColumn::Time => Some("s.meta_time"),
            _ => None,
        }
    }
}

/// Where an extension field sits (column `scope` of `epcis_fields`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldScope {
    Event,
    Ilmd,
    ReadPoint,
    BizLocation,
    ErrorDeclaration,
    SensorElement,
    SensorMetadata,
    SensorReport,
}

impl FieldScope {
    /// The stored name of the scope.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldScope::Event => "event",
            FieldScope::Ilmd => "ilmd",
            FieldScope::ReadPoint => "readPoint",
            FieldScope::BizLocation => "bizLocation",
            FieldScope::ErrorDeclaration => "errorDeclaration",
            FieldScope::SensorElement => "sensorElement",
            FieldScope::SensorMetadata => "sensorMetadata",
            FieldScope::SensorReport => "sensorReport",
        }
    }
}

/// What an extension-field filter asks of the field.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldTest {
    /// `EXISTS_`: the field is present.
    Exists,
    /// `EQ_`: equal to one of the values (as text, or as a number when both are numbers).
    Eq(Vec<String>),
    /// `GT_`… on a numeric field.
    Num(Cmp, f64),
    /// `GT_`… on a date-time field (microseconds UTC).
    Time(Cmp, i64),
}

/// One condition of a query; all conditions must hold.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// A text column equal to one of the values.
    Text(TextColumn, Vec<String>),
    /// `WD_readPoint` / `WD_bizLocation`: the location or one beneath it. The only hierarchy the
    /// repository knows without master data is the SGLN extension (`…/414/GLN/254/EXT` lies
    /// within `…/414/GLN`), so a location matches itself and its extensions.
    WithDescendants(TextColumn, Vec<String>),
    /// A time column compared with an instant (microseconds UTC).
    Time(TimeColumn, Cmp, i64),
    /// `EXISTS_errorDeclaration`.
    ErrorDeclarationExists,
    /// `MATCH_…EPC`, `MATCH_parentID`: an identifier of one of the roles matches.
    Epc { roles: &'static [&'static str], patterns: Vec<IdPattern> },
    /// `MATCH_…EPCClass`: a quantity element of one of the roles matches.
    EpcClass { roles: &'static [&'static str], patterns: Vec<IdPattern> },
    /// Quantity comparisons (`uom` from the `_<uom>` suffix).
    Quantity { cmp: Cmp, value: f64, uom: Option<String> },
    /// `EQ_persistentDisposition_set` / `_unset`.
    PersistentDisposition { kind: &'static str, values: Vec<String> },
    /// `EQ_correctiveEventID`.
    CorrectiveEventId(Vec<String>),
    /// `EQ_bizTransaction_<type>`.
    BizTransaction { kind: String, ids: Vec<String> },
    /// `EQ_source_<type>` / `EQ_destination_<type>`.
    SourceDest { direction: &'static str, kind: String, ids: Vec<String> },
    /// `EXISTS_sensorElementList`.
    SensorExists,
    /// A sensor-report text field equal to one of the values.
    SensorText(SensorColumn, Vec<String>),
    /// `EQ_booleanValue`.
    SensorBool(bool),
    /// A sensor-report number compared (optionally in one unit of measure).
    SensorNum { column: SensorColumn, cmp: Cmp, value: f64, uom: Option<String> },
    /// A sensor time (report `time`, metadata `startTime` / `endTime`) compared.
    SensorTime(SensorColumn, Cmp, i64),
    /// An extension or ILMD field.
    Field { scope: FieldScope, inner: bool, ns: Vec<String>, name: String, test: FieldTest },
    /// Internal (not a query parameter): events of one capture job, for stream subscriptions.
    CaptureId(String),
}

/// Sort key (`orderBy`, EPCIS 2.0 §8.2.7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderBy {
    EventTime,
    RecordTime,
    /// A top-level extension field of the event, named as for `EQ_fieldname`: its candidate
    /// namespaces and local name. Numbers sort before date-times, date-times before other
    /// text (by code point); events lacking the field come last in either direction (the
    /// standard lets them sit anywhere).
    Field {
        ns: Vec<String>,
        name: String,
    },
}

/// A parsed event query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventQuery {
    /// All must hold.
    pub filters: Vec<Filter>,
    /// `orderBy` with its direction (`true`: descending, the standard's default).
    pub order: Option<(OrderBy, bool)>,
    /// `eventCountLimit`.
    pub event_count_limit: Option<u64>,
    /// `maxEventCount`.
    pub max_event_count: Option<u64>,
}

/// EPC roles of the MATCH_ families (EPCIS 2.0 §8.2.7.1).
const EPC_ROLES: &[&str] = &["epc", "child"];
const PARENT_ROLES: &[&str] = &["parent"];
const INPUT_ROLES: &[&str] = &["input"];
const OUTPUT_ROLES: &[&str] = &["output"];
const ANY_EPC_ROLES: &[&str] = &["epc", "child", "parent", "input", "output"];
const CLASS_ROLES: &[&str] = &["epc", "child"];
const ANY_CLASS_ROLES: &[&str] = &["epc", "child", "input", "output"];

/// Parameters that control the result rather than filter it, and the paging parameters of the
/// REST binding; [`EventQuery::parse`] skips the latter.
pub const PAGING_PARAMS: &[&str] = &["perPage", "nextPageToken"];

/// Microseconds since 1970-01-01 UTC.
pub fn micros(t: &Timestamp) -> i64 {
    (t.0.unix_timestamp_nanos().div_euclid(1000)) as i64
}

fn one<'a>(name: &str, values: &'a [String]) -> Result<&'a str, QueryParamError> {
    match values {
        [v] => Ok(v.as_str()),
        _ => perr(name, "takes exactly one value"),
    }
}

fn time_value(name: &str, values: &[String]) -> Result<i64, QueryParamError> {
    let v = one(name, values)?;
    // A `+` in a URL query string decodes to a space; accept that spelling of an offset.
    let t =
        Timestamp::parse(v).or_else(|e| if v.contains(' ') { Timestamp::parse(&v.replace(' ', "+")) } else { Err(e) });
    match t {
        Ok(t) => Ok(micros(&t)),
        Err(e) => perr(name, e),
    }
}

fn number(name: &str, values: &[String]) -> Result<f64, QueryParamError> {
    let v = one(name, values)?;
    match v.trim().parse::<f64>() {
        Ok(n) if n.is_finite() => Ok(n),
        _ => perr(name, format!("`{v}` is not a number")),
    }
}

fn count(name: &str, values: &[String]) -> Result<u64, QueryParamError> {
    let v = one(name, values)?;
    match v.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => perr(name, format!("`{v}` is not a positive integer")),
    }
}

fn boolean(name: &str, values: &[String]) -> Result<bool, QueryParamError> {
    match one(name, values)?.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        v => perr(name, format!("`{v}` is not true or false")),
    }
}

fn non_empty(name: &str, values: &[String]) -> Result<Vec<String>, QueryParamError> {
    let v: Vec<String> = values.iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
    if v.is_empty() { perr(name, "needs at least one value") } else { Ok(v) }
}

/// Identifiers in their stored (canonical) form; values that are not identifiers are kept as
/// given (they then match only identical stored values).
fn ids(name: &str, values: &[String]) -> Result<Vec<String>, QueryParamError> {
    Ok(non_empty(name, values)?
        .into_iter()
        .map(|v| Epc::parse(&v).map(|e| e.as_str().to_owned()).unwrap_or(v))
        .collect())
}

/// Vocabulary values in their stored form (bare words for standard values).
fn vocab(kind: VocabKind, name: &str, values: &[String]) -> Result<Vec<String>, QueryParamError> {
    Ok(non_empty(name, values)?.into_iter().map(|v| kind.parse(&v).unwrap_or(v)).collect())
}

/// TDS 2.x §8 pattern URIs and plain identifiers, as [`IdPattern`]s.
fn patterns(name: &str, values: &[String]) -> Result<Vec<IdPattern>, QueryParamError> {
    let mut out = Vec::new();
    for v in non_empty(name, values)? {
        if let Some(rest) = v.strip_prefix("urn:epc:idpat:") {
            let Some((scheme, fields)) = rest.split_once(':') else {
                return perr(name, format!("`{v}` is not an EPC pattern URI"));
            };
            let parts: Vec<&str> = fields.split('.').collect();
            if parts.iter().all(|p| *p == "*") {
                out.push(match scheme {
                    "sgtin" => IdPattern::Like("https://id.gs1.org/01/%/21/%".into()),
                    "sscc" => IdPattern::Like("https://id.gs1.org/00/%".into()),
                    "sgln" => IdPattern::Like("https://id.gs1.org/414/%".into()),
                    "grai" => IdPattern::Like("https://id.gs1.org/8003/%".into()),
                    "giai" => IdPattern::Like("https://id.gs1.org/8004/%".into()),
                    _ => return perr(name, format!("the pattern `{v}` is not supported (scheme {scheme})")),
                });
                continue;
            }
            if scheme == "sgtin" && parts.len() == 3 && parts[1] == "*" && parts[2] == "*" {
                // GTIN-14 = indicator digit, company prefix, item reference, check digit.
                let company = parts[0];
                if company.is_empty() || !company.bytes().all(|b| b.is_ascii_digit()) {
                    return perr(name, format!("`{v}`: the company prefix must be digits"));
                }
                out.push(IdPattern::Like(format!("https://id.gs1.org/01/_{company}%")));
                continue;
            }
            match Epc::parse(&v) {
                Ok(e) => out.push(IdPattern::Under(e.as_str().to_owned())),
                Err(e) => return perr(name, format!("`{v}`: {e}")),
            }
        } else {
            match Epc::parse(&v) {
                Ok(e) => out.push(IdPattern::Exact(e.as_str().to_owned())),
                Err(_) => out.push(IdPattern::Exact(v)),
            }
        }
    }
    Ok(out)
}

/// Is `s` a UN/ECE Rec. 20 unit code as the query schema allows it (`[A-Z0-9]{2,4}`)?
fn is_uom(s: &str) -> bool {
    (2..=4).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Resolves an extension field name: `prefix:local` (prefix resolved by the caller, from
/// `GS1-Extensions` and the prefixes of captured documents), `{ns}local`, or the EPCIS 1.x form
/// `namespace#local`. Returns the candidate namespaces (with and without the separator) and the
/// local name.
fn field_name(
    param: &str,
    field: &str,
    resolve: &dyn Fn(&str) -> Option<String>,
) -> Result<(Vec<String>, String), QueryParamError> {
    if let Some(rest) = field.strip_prefix('{') {
        return match rest.split_once('}') {
            Some((ns, local)) if !ns.is_empty() && !local.is_empty() => Ok((vec![ns.to_owned()], local.to_owned())),
            _ => perr(param, format!("`{field}` is not a qualified extension field name")),
        };
    }
    if let Some((ns, local)) = field.rsplit_once('#')
        && ns.contains(':')
        && !local.is_empty()
    {
        return Ok((vec![ns.to_owned(), format!("{ns}#")], local.to_owned()));
    }
    if let Some((head, local)) = field.split_once(':') {
        if !head.is_empty() && !local.starts_with("//") && !local.is_empty() {
            return match resolve(head) {
                Some(ns) => Ok((vec![ns], local.to_owned())),
                None => perr(
                    param,
                    format!(
                        "namespace prefix `{head}` is unknown: declare it in GS1-Extensions or use the full namespace"
                    ),
                ),
            };
        }
        if let Some(cut) = field.rfind('/')
            && cut + 1 < field.len()
        {
            return Ok((vec![field[..=cut].to_owned()], field[cut + 1..].to_owned()));
        }
    }
    perr(param, format!("`{field}` is not a qualified extension field name"))
}

fn field_test(name: &str, op: &str, values: &[String]) -> Result<FieldTest, QueryParamError> {
    if op == "EXISTS" {
        return Ok(FieldTest::Exists);
    }
    let cmp = Cmp::from_prefix(op).expect("caller passes a comparison prefix");
    if cmp == Cmp::Eq {
        return Ok(FieldTest::Eq(non_empty(name, values)?));
    }
    let v = one(name, values)?;
    if let Ok(n) = v.trim().parse::<f64>()
        && n.is_finite()
    {
        return Ok(FieldTest::Num(cmp, n));
    }
    match time_value(name, values) {
        Ok(t) => Ok(FieldTest::Time(cmp, t)),
        Err(_) => perr(name, format!("`{v}` is neither a number nor a date-time")),
    }
}

impl EventQuery {
    /// Parses query parameters (EPCIS 2.0 §8.2.7.1). `resolve` maps a namespace prefix to its URI.
    pub fn parse(
        params: &[(String, Vec<String>)],
        resolve: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, QueryParamError> {
        let mut q = EventQuery::default();
        let mut order_by = None;
        let mut order_dir = None;
        for (name, values) in params {
            let n = name.as_str();
            let f = match n {
                _ if PAGING_PARAMS.contains(&n) => continue,
                "eventType" => {
                    let v = non_empty(n, values)?;
                    if let Some(bad) = v.iter().find(|t| qgov_epcis::EventType::from_name(t).is_none()) {
                        return perr(n, format!("`{bad}` is not an event type"));
                    }
                    Filter::Text(TextColumn::EventType, v)
                }
                "GE_eventTime" => Filter::Time(TimeColumn::EventTime, Cmp::Ge, time_value(n, values)?),
                "LT_eventTime" => Filter::Time(TimeColumn::EventTime, Cmp::Lt, time_value(n, values)?),
                "GE_recordTime" => Filter::Time(TimeColumn::RecordTime, Cmp::Ge, time_value(n, values)?),
                "LT_recordTime" => Filter::Time(TimeColumn::RecordTime, Cmp::Lt, time_value(n, values)?),
                "GE_errorDeclarationTime" | "GE_errorDeclaration_Time" => {
                    Filter::Time(TimeColumn::ErrorDeclarationTime, Cmp::Ge, time_value(n, values)?)
                }
                "LT_errorDeclarationTime" | "LT_errorDeclaration_Time" => {
                    Filter::Time(TimeColumn::ErrorDeclarationTime, Cmp::Lt, time_value(n, values)?)
                }
                "EQ_action" => {
                    let v = non_empty(n, values)?;
                    if let Some(bad) = v.iter().find(|a| !matches!(a.as_str(), "ADD" | "OBSERVE" | "DELETE")) {
                        return perr(n, format!("`{bad}` is not ADD, OBSERVE or DELETE"));
                    }
                    Filter::Text(TextColumn::Action, v)
                }
                "EQ_bizStep" => Filter::Text(TextColumn::BizStep, vocab(VocabKind::BizStep, n, values)?),
                "EQ_disposition" => Filter::Text(TextColumn::Disposition, vocab(VocabKind::Disposition, n, values)?),
                "EQ_persistentDisposition_set" => {
                    Filter::PersistentDisposition { kind: "set", values: vocab(VocabKind::Disposition, n, values)? }
                }
                "EQ_persistentDisposition_unset" => {
                    Filter::PersistentDisposition { kind: "unset", values: vocab(VocabKind::Disposition, n, values)? }
                }
                "EQ_readPoint" => Filter::Text(TextColumn::ReadPoint, ids(n, values)?),
                "WD_readPoint" => Filter::WithDescendants(TextColumn::ReadPoint, ids(n, values)?),
                "EQ_bizLocation" => Filter::Text(TextColumn::BizLocation, ids(n, values)?),
                "WD_bizLocation" => Filter::WithDescendants(TextColumn::BizLocation, ids(n, values)?),
                "EQ_transformationID" => Filter::Text(TextColumn::TransformationId, ids(n, values)?),
                "EQ_eventID" => Filter::Text(TextColumn::EventId, non_empty(n, values)?),
                "EQ_errorReason" => Filter::Text(TextColumn::ErrorReason, vocab(VocabKind::ErrorReason, n, values)?),
                "EQ_correctiveEventID" => Filter::CorrectiveEventId(non_empty(n, values)?),
                "EXISTS_errorDeclaration" => {
                    if !boolean(n, values)? {
                        continue;
                    }
                    Filter::ErrorDeclarationExists
                }
                "MATCH_epc" => Filter::Epc { roles: EPC_ROLES, patterns: patterns(n, values)? },
                "MATCH_parentID" => Filter::Epc { roles: PARENT_ROLES, patterns: patterns(n, values)? },
                "MATCH_inputEPC" => Filter::Epc { roles: INPUT_ROLES, patterns: patterns(n, values)? },
                "MATCH_outputEPC" => Filter::Epc { roles: OUTPUT_ROLES, patterns: patterns(n, values)? },
                "MATCH_anyEPC" => Filter::Epc { roles: ANY_EPC_ROLES, patterns: patterns(n, values)? },
                "MATCH_epcClass" => Filter::EpcClass { roles: CLASS_ROLES, patterns: patterns(n, values)? },
                "MATCH_inputEPCClass" => Filter::EpcClass { roles: INPUT_ROLES, patterns: patterns(n, values)? },
                "MATCH_outputEPCClass" => Filter::EpcClass { roles: OUTPUT_ROLES, patterns: patterns(n, values)? },
                "MATCH_anyEPCClass" => Filter::EpcClass { roles: ANY_CLASS_ROLES, patterns: patterns(n, values)? },
                "EQ_quantity" | "GT_quantity" | "GE_quantity" | "LT_quantity" | "LE_quantity" => Filter::Quantity {
                    cmp: Cmp::from_prefix(&n[..2]).expect("listed prefixes"),
                    value: number(n, values)?,
                    uom: None,
                },
                "orderBy" => {
                    order_by = Some(match one(n, values)?.trim() {
                        "eventTime" => OrderBy::EventTime,
                        "recordTime" => OrderBy::RecordTime,
                        other if other.contains(':') || other.starts_with('{') => {
                            let (ns, name) = field_name(n, other, resolve)?;
                            OrderBy::Field { ns, name }
                        }
                        other => {
                            return perr(
                                n,
                                format!(
                                    "ordering by `{other}` is not supported: use eventTime, recordTime or the \
                                     qualified name of an extension field ({{namespace}}name, prefix:name)"
                                ),
                            );
                        }
                    });
                    continue;
                }
                "orderDirection" => {
                    order_dir = Some(match one(n, values)? {
                        "ASC" => false,
                        "DESC" => true,
                        other => return perr(n, format!("`{other}` is not ASC or DESC")),
                    });
                    continue;
                }
                "eventCountLimit" => {
                    q.event_count_limit = Some(count(n, values)?);
                    continue;
                }
                "maxEventCount" => {
                    q.max_event_count = Some(count(n, values)?);
                    continue;
                }
                "EXISTS_sensorElementList" => {
                    if !boolean(n, values)? {
                        continue;
                    }
                    Filter::SensorExists
                }
                "GE_time" => Filter::SensorTime(SensorColumn::Time, Cmp::Ge, time_value(n, values)?),
                "LT_time" => Filter::SensorTime(SensorColumn::Time, Cmp::Lt, time_value(n, values)?),
                "GE_startTime" => Filter::SensorTime(SensorColumn::StartTime, Cmp::Ge, time_value(n, values)?),
                "LT_startTime" => Filter::SensorTime(SensorColumn::StartTime, Cmp::Lt, time_value(n, values)?),
                "GE_endTime" => Filter::SensorTime(SensorColumn::EndTime, Cmp::Ge, time_value(n, values)?),
                "LT_endTime" => Filter::SensorTime(SensorColumn::EndTime, Cmp::Lt, time_value(n, values)?),
                "EQ_type" => Filter::SensorText(SensorColumn::Type, vocab(VocabKind::MeasurementType, n, values)?),
                "EQ_deviceID" => Filter::SensorText(SensorColumn::DeviceId, ids(n, values)?),
                "EQ_dataProcessingMethod" => Filter::SensorText(SensorColumn::DataProcessingMethod, ids(n, values)?),
                "EQ_microorganism" => Filter::SensorText(SensorColumn::Microorganism, non_empty(n, values)?),
                "EQ_chemicalSubstance" => Filter::SensorText(SensorColumn::ChemicalSubstance, non_empty(n, values)?),
                "EQ_bizRules" => Filter::SensorText(SensorColumn::BizRules, ids(n, values)?),
                "EQ_stringValue" => Filter::SensorText(SensorColumn::StringValue, non_empty(n, values)?),
                "EQ_hexBinaryValue" => Filter::SensorText(
                    SensorColumn::HexBinaryValue,
                    non_empty(n, values)?.into_iter().map(|v| v.to_ascii_uppercase()).collect(),
                ),
                "EQ_uriValue" => Filter::SensorText(SensorColumn::UriValue, non_empty(n, values)?),
                "EQ_booleanValue" => Filter::SensorBool(boolean(n, values)?),
                "GE_percRank" | "LT_percRank" | "GT_percRank" | "LE_percRank" => Filter::SensorNum {
                    column: SensorColumn::PercRank,
                    cmp: Cmp::from_prefix(&n[..2]).expect("listed prefixes"),
                    value: number(n, values)?,
                    uom: None,
                },
                _ => Self::parse_family(n, values, resolve)?,
            };
            q.filters.push(f);
        }
        if let Some(by) = order_by {
            q.order = Some((by, order_dir.unwrap_or(true)));
        } else if order_dir.is_some() {
            // EPCIS 2.0 §8.2.7.1: orderDirection without orderBy is ignored.
        }
        if q.event_count_limit.is_some() && q.max_event_count.is_some() {
            return perr("eventCountLimit", "eventCountLimit and maxEventCount are mutually exclusive");
        }
        if q.event_count_limit.is_some() && q.order.is_none() {
            return perr("eventCountLimit", "eventCountLimit may only be used together with orderBy");
        }
        Ok(q)
    }

    /// The parameter families with variable names.
    fn parse_family(
        n: &str,
        values: &[String],
        resolve: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Filter, QueryParamError> {
        if let Some(kind) = n.strip_prefix("EQ_bizTransaction_") {
            let kind = VocabKind::BizTransactionType.parse(kind).unwrap_or_else(|_| kind.to_owned());
            return Ok(Filter::BizTransaction { kind, ids: ids(n, values)? });
        }
        for (prefix, direction) in [("EQ_source_", "source"), ("EQ_destination_", "destination")] {
            if let Some(kind) = n.strip_prefix(prefix) {
                let kind = VocabKind::SourceDestType.parse(kind).unwrap_or_else(|_| kind.to_owned());
                return Ok(Filter::SourceDest { direction, kind, ids: ids(n, values)? });
            }
        }
        let Some((op, rest)) = n.split_once('_') else { return perr(n, "unknown query parameter") };
        if matches!(op, "HASATTR" | "EQATTR") || (op == "EQ" && rest.starts_with("ATTR_")) {
            return perr(n, "master-data attribute queries are not supported: this repository keeps no master data");
        }
        if !matches!(op, "EQ" | "GT" | "GE" | "LT" | "LE" | "EXISTS") {
            return perr(n, "unknown query parameter");
        }
        // Sensor values and quantities in one unit: GE_value_CEL, EQ_quantity_KGM, …
        if op != "EXISTS"
            && let Some((field, uom)) = rest.rsplit_once('_')
            && is_uom(uom)
            && !rest.contains(':')
        {
            let cmp = Cmp::from_prefix(op).expect("checked above");
            let column = match field {
                "quantity" => {
                    return Ok(Filter::Quantity { cmp, value: number(n, values)?, uom: Some(uom.to_owned()) });
                }
                "value" => SensorColumn::Value,
                "minValue" => SensorColumn::MinValue,
                "maxValue" => SensorColumn::MaxValue,
                "meanValue" => SensorColumn::MeanValue,
                "sDev" => SensorColumn::SDev,
                "percValue" => SensorColumn::PercValue,
                _ => return perr(n, "unknown query parameter"),
            };
            return Ok(Filter::SensorNum { column, cmp, value: number(n, values)?, uom: Some(uom.to_owned()) });
        }
        let (inner, rest) = match rest.strip_prefix("INNER_") {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let scopes = [
            ("ILMD_", FieldScope::Ilmd),
            ("ERROR_DECLARATION_", FieldScope::ErrorDeclaration),
            ("SENSORELEMENT_", FieldScope::SensorElement),
            ("SENSORMETADATA_", FieldScope::SensorMetadata),
            ("SENSORREPORT_", FieldScope::SensorReport),
            ("readPoint_", FieldScope::ReadPoint),
            ("bizLocation_", FieldScope::BizLocation),
        ];
        let (scope, field) =
            scopes.iter().find_map(|(p, s)| rest.strip_prefix(p).map(|f| (*s, f))).unwrap_or((FieldScope::Event, rest));
        if !field.contains(':') && !field.starts_with('{') {
            return perr(n, "unknown query parameter");
        }
        let (ns, name) = field_name(n, field, resolve)?;
        Ok(Filter::Field { scope, inner, ns, name, test: field_test(n, op, values)? })
    }
}

/// A value bound to a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    Int(i64),
    Real(f64),
    Text(String),
}

/// SQL assembled for the events table `e`, with `$n` placeholders and their values.
#[derive(Debug, Default)]
pub struct Sql {
    pub text: String,
    pub binds: Vec<Bind>,
}

impl Sql {
    pub fn bind(&mut self, b: Bind) -> String {
        self.binds.push(b);
        format!("${}", self.binds.len())
    }
    /// `e.id IN (…)` over a list of event keys, bound as one JSON array.
    pub fn keys(&mut self, pks: &[i64]) -> String {
        let b = self.bind(Bind::Text(super::places::json_list(pks)));
        format!("e.id IN (SELECT value FROM json_each({b}))")
    }
    fn list(&mut self, values: &[String]) -> String {
        let p: Vec<String> = values.iter().map(|v| self.bind(Bind::Text(v.clone()))).collect();
        p.join(", ")
    }
    /// Appends ` AND <condition>` for one filter.
    pub fn filter(&mut self, f: &Filter) {
        let cond = self.condition(f);
        self.text.push_str(" AND ");
        self.text.push_str(&cond);
    }

    fn patterns(&mut self, col: &str, patterns: &[IdPattern]) -> String {
        let mut ors = Vec::new();
        let exact: Vec<String> =
            patterns.iter().filter_map(|p| if let IdPattern::Exact(s) = p { Some(s.clone()) } else { None }).collect();
        if !exact.is_empty() {
            ors.push(format!("{col} IN ({})", self.list(&exact)));
        }
        for p in patterns {
            match p {
                IdPattern::Exact(_) => {}
                IdPattern::Under(s) => ors.push(self.under(col, s)),
                IdPattern::Like(s) => {
                    let b = self.bind(Bind::Text(s.clone()));
                    ors.push(format!("{col} LIKE {b}"));
                }
            }
        }
        format!("({})", ors.join(" OR "))
    }

    /// `col` equals `s` or lies beneath it as a path (`s/…`): a range on the index, since every
    /// string starting with `s/` sorts between `s/` and `s0` ('0' follows '/' in ASCII; the
    /// PostgreSQL columns compared this way use the C collation).
    fn under(&mut self, col: &str, s: &str) -> String {
        let a = self.bind(Bind::Text(s.to_owned()));
        let lo = self.bind(Bind::Text(format!("{s}/")));
        let hi = self.bind(Bind::Text(format!("{s}0")));
        format!("({col} = {a} OR ({col} >= {lo} AND {col} < {hi}))")
    }

    fn roles(roles: &[&str]) -> String {
        // Closed list of constants, never user input.
        roles.iter().map(|r| format!("'{r}'")).collect::<Vec<_>>().join(", ")
    }

    fn condition(&mut self, f: &Filter) -> String {
        match f {
            Filter::Text(col, values) => format!("{} IN ({})", col.sql(), self.list(values)),
            Filter::WithDescendants(col, values) => {
                let ors: Vec<String> = values.iter().map(|v| self.under(col.sql(), v)).collect();
                format!("({})", ors.join(" OR "))
            }
            Filter::Time(col, cmp, t) => {
                let c = match col {
                    TimeColumn::EventTime => "e.event_time",
                    TimeColumn::RecordTime => "e.record_time",
                    TimeColumn::ErrorDeclarationTime => "e.error_declaration_time",
                };
                format!("{c} {} {}", cmp.sql(), self.bind(Bind::Int(*t)))
            }
            Filter::ErrorDeclarationExists => "e.error_declaration_time IS NOT NULL".into(),
            Filter::Epc { roles, patterns } => {
                let m = self.patterns("x.epc", patterns);
                format!(
                    "e.id IN (SELECT x.event_pk FROM epcis_epcs x WHERE {m} AND x.role IN ({}))",
                    Self::roles(roles)
                )
            }
            Filter::EpcClass { roles, patterns } => {
                let m = self.patterns("x.epc_class", patterns);
                format!(
                    "e.id IN (SELECT x.event_pk FROM epcis_quantities x WHERE {m} AND x.role IN ({}))",
                    Self::roles(roles)
                )
            }
            Filter::Quantity { cmp, value, uom } => {
                let v = self.bind(Bind::Real(*value));
                let u = match uom {
                    Some(u) => format!(" AND x.uom = {}", self.bind(Bind::Text(u.clone()))),
                    None => String::new(),
                };
                format!("e.id IN (SELECT x.event_pk FROM epcis_quantities x WHERE x.quantity {} {v}{u})", cmp.sql())
            }
            Filter::PersistentDisposition { kind, values } => format!(
                "e.id IN (SELECT x.event_pk FROM epcis_persistent_dispositions x WHERE x.disposition IN ({}) AND x.kind = '{kind}')",
                self.list(values)
            ),
            Filter::CorrectiveEventId(values) => format!(
                "e.id IN (SELECT x.event_pk FROM epcis_corrective_ids x WHERE x.corrective_event_id IN ({}))",
                self.list(values)
            ),
            Filter::BizTransaction { kind, ids } => {
                let l = self.list(ids);
                let k = self.bind(Bind::Text(kind.clone()));
                format!(
                    "e.id IN (SELECT x.event_pk FROM epcis_biz_transactions x WHERE x.id IN ({l}) AND x.type = {k})"
                )
            }
            Filter::SourceDest { direction, kind, ids } => {
                let l = self.list(ids);
                let k = self.bind(Bind::Text(kind.clone()));
                format!(
                    "e.id IN (SELECT x.event_pk FROM epcis_source_dest x WHERE x.id IN ({l}) AND x.direction = '{direction}' AND x.type = {k})"
                )
            }
            Filter::SensorExists => "e.id IN (SELECT s.event_pk FROM epcis_sensor_reports s)".into(),
            Filter::SensorText(col, values) => {
                let l = self.list(values);
                let cond = match col.metadata_twin() {
                    Some(m) => format!("({} IN ({l}) OR {m} IN ({l}))", col.sql()),
                    None => format!("{} IN ({l})", col.sql()),
                };
                format!("e.id IN (SELECT s.event_pk FROM epcis_sensor_reports s WHERE {cond})")
            }
            Filter::SensorBool(b) => format!(
                "e.id IN (SELECT s.event_pk FROM epcis_sensor_reports s WHERE s.boolean_value = {})",
                self.bind(Bind::Int(i64::from(*b)))
            ),
            Filter::SensorNum { column, cmp, value, uom } => {
                let v = self.bind(Bind::Real(*value));
                let u = match uom {
                    Some(u) => format!(" AND s.uom = {}", self.bind(Bind::Text(u.clone()))),
                    None => String::new(),
                };
                format!(
                    "e.id IN (SELECT s.event_pk FROM epcis_sensor_reports s WHERE {} {} {v}{u})",
                    column.sql(),
                    cmp.sql()
                )
            }
            Filter::SensorTime(column, cmp, t) => {
                let v = self.bind(Bind::Int(*t));
                let cond = match column.metadata_twin() {
                    Some(m) => format!("({c} {op} {v} OR {m} {op} {v})", c = column.sql(), op = cmp.sql()),
                    None => format!("{} {} {v}", column.sql(), cmp.sql()),
                };
                format!("e.id IN (SELECT s.event_pk FROM epcis_sensor_reports s WHERE {cond})")
            }
            Filter::Field { scope, inner, ns, name, test } => {
                let nsl = self.list(ns);
                let nm = self.bind(Bind::Text(name.clone()));
                let depth = if *inner { "f.depth > 0" } else { "f.depth = 0" };
                let t = match test {
                    FieldTest::Exists => String::new(),
                    FieldTest::Eq(values) => {
                        let l = self.list(values);
                        let nums: Vec<f64> = values.iter().filter_map(|v| v.trim().parse::<f64>().ok()).collect();
                        if nums.is_empty() {
                            format!(" AND f.text_value IN ({l})")
                        } else {
                            let nl: Vec<String> = nums.iter().map(|n| self.bind(Bind::Real(*n))).collect();
                            format!(" AND (f.text_value IN ({l}) OR f.num_value IN ({}))", nl.join(", "))
                        }
                    }
                    FieldTest::Num(cmp, v) => format!(" AND f.num_value {} {}", cmp.sql(), self.bind(Bind::Real(*v))),
                    FieldTest::Time(cmp, v) => format!(" AND f.time_value {} {}", cmp.sql(), self.bind(Bind::Int(*v))),
                };
                format!(
                    "e.id IN (SELECT f.event_pk FROM epcis_fields f WHERE f.ns IN ({nsl}) AND f.name = {nm} AND f.scope = '{}' AND {depth}{t})",
                    scope.as_str()
                )
            }
            Filter::CaptureId(id) => format!("e.capture_id = {}", self.bind(Bind::Text(id.clone()))),
        }
    }
}

/// The type of one sort-key component: how it is bound and read back from a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Int,
    Real,
    Text,
}

/// One component of the sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    /// SQL over `e` and the joined extension-field key `k`, collation included.
    pub expr: String,
    pub kind: KeyKind,
    /// Some events may lack it: they come after the others, in either direction.
    pub nullable: bool,
}

/// How a query orders its events: the key components, then `e.id`, which makes the order total
/// so that keyset pages neither skip nor repeat events that tie on the key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ordering {
    /// ` LEFT JOIN …` that brings an extension field's values in as `k` (empty otherwise).
    pub join: String,
    pub keys: Vec<SortKey>,
    pub desc: bool,
}

impl Ordering {
    /// The `ORDER BY` list.
    pub fn order_by(&self) -> String {
        let dir = if self.desc { "DESC" } else { "ASC" };
        let mut parts: Vec<String> = self
            .keys
            .iter()
            .map(|k| if k.nullable { format!("{} {dir} NULLS LAST", k.expr) } else { format!("{} {dir}", k.expr) })
            .collect();
        parts.push(format!("e.id {dir}"));
        parts.join(", ")
    }

    /// The key components as select-list items `sort0`, `sort1`, … (each with a leading comma).
    pub fn select(&self) -> String {
        self.keys.iter().enumerate().map(|(i, k)| format!(", {} AS sort{i}", k.expr)).collect()
    }
}

impl Sql {
    /// The ordering `orderBy` asks for, binding what its join needs. `collate_c`: compare text
    /// under PostgreSQL's C collation, i.e. by code point as the standard asks for String fields
    /// (SQLite's default BINARY collation already does: UTF-8 byte order is code-point order).
    pub fn ordering(&mut self, order: Option<&(OrderBy, bool)>, collate_c: bool) -> Ordering {
        let time = |col: &str| vec![SortKey { expr: col.to_owned(), kind: KeyKind::Int, nullable: false }];
        let Some((by, desc)) = order else { return Ordering::default() };
        let desc = *desc;
        match by {
            OrderBy::EventTime => Ordering { join: String::new(), keys: time("e.event_time"), desc },
            OrderBy::RecordTime => Ordering { join: String::new(), keys: time("e.record_time"), desc },
            OrderBy::Field { ns, name } => {
                let nsl = self.list(ns);
                let nm = self.bind(Bind::Text(name.clone()));
                // A field given several values (an array, or both spellings of a namespace)
                // sorts by its first value in the requested direction. Text counts only when
                // the value is neither a number nor a date-time, so that equal numbers or
                // instants spelt differently tie (and fall back to capture order).
                let agg = if desc { "MAX" } else { "MIN" };
                let c = if collate_c { " COLLATE \"C\"" } else { "" };
                let join = format!(
                    " LEFT JOIN (SELECT f.event_pk, {agg}(f.num_value) AS n, {agg}(f.time_value) AS t, \
                     {agg}(CASE WHEN f.num_value IS NULL AND f.time_value IS NULL THEN f.text_value{c} END) AS s \
                     FROM epcis_fields f WHERE f.ns IN ({nsl}) AND f.name = {nm} AND f.scope = 'event' \
                     AND f.depth = 0 GROUP BY f.event_pk) k ON k.event_pk = e.id"
                );
                let key = |expr: String, kind| SortKey { expr, kind, nullable: true };
                Ordering {
                    join,
                    keys: vec![
                        key("k.n".into(), KeyKind::Real),
                        key("k.t".into(), KeyKind::Int),
                        key(format!("k.s{c}"), KeyKind::Text),
                    ],
                    desc,
                }
            }
        }
    }

    /// Appends the keyset condition: events strictly after the event with key `sort` and primary
    /// key `pk` in `ord`. `false` (and nothing appended) when `sort` does not fit `ord`: a page
    /// token of another query.
    pub fn after(&mut self, ord: &Ordering, sort: &[Option<Bind>], pk: i64) -> bool {
        let fits = sort.len() == ord.keys.len()
            && ord.keys.iter().zip(sort).all(|(k, v)| match v {
                None => k.nullable,
                Some(Bind::Int(_)) => k.kind == KeyKind::Int,
                Some(Bind::Real(r)) => k.kind == KeyKind::Real && r.is_finite(),
                Some(Bind::Text(_)) => k.kind == KeyKind::Text,
            });
        if !fits {
            return false;
        }
        let cmp = if ord.desc { "<" } else { ">" };
        // Lexicographic "after" over (key…, e.id): differ first at component i, equal before it.
        // A missing value sorts after every present one and ties with other missing ones.
        let mut equal: Vec<String> = Vec::new();
        let mut ors: Vec<String> = Vec::new();
        for (k, v) in ord.keys.iter().zip(sort) {
            let x = &k.expr;
            match v {
                Some(v) => {
                    let b = self.bind(v.clone());
                    let later =
                        if k.nullable { format!("({x} {cmp} {b} OR {x} IS NULL)") } else { format!("{x} {cmp} {b}") };
                    ors.push(Self::all(&equal, later));
                    equal.push(format!("{x} = {b}"));
                }
                None => equal.push(format!("{x} IS NULL")),
            }
        }
        let p = self.bind(Bind::Int(pk));
        ors.push(Self::all(&equal, format!("e.id {cmp} {p}")));
        self.text.push_str(&format!(" AND ({})", ors.join(" OR ")));
        true
    }

    fn all(equal: &[String], last: String) -> String {
        if equal.is_empty() { last } else { format!("({} AND {last})", equal.join(" AND ")) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, Vec<String>)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.split('|').map(str::to_owned).collect())).collect()
    }

    fn resolve(prefix: &str) -> Option<String> {
        (prefix == "example").then(|| "https://ns.example.com/epcis/".to_owned())
    }

    fn parse(pairs: &[(&str, &str)]) -> Result<EventQuery, QueryParamError> {
        EventQuery::parse(&p(pairs), &resolve)
    }

    #[test]
    fn fixed_names_become_typed_filters_with_stored_forms() {
        let q = parse(&[
            ("eventType", "ObjectEvent|AggregationEvent"),
            ("EQ_bizStep", "urn:epcglobal:cbv:bizstep:shipping|receiving"),
            ("EQ_readPoint", "urn:epc:id:sgln:0614141.07346.1234"),
            ("GE_eventTime", "2024-05-01T08:00:00+08:00"),
            ("orderBy", "eventTime"),
            ("orderDirection", "ASC"),
            ("eventCountLimit", "5"),
            ("perPage", "10"),
        ])
        .unwrap();
        assert_eq!(q.filters.len(), 4);
        assert_eq!(
            q.filters[0],
            Filter::Text(TextColumn::EventType, vec!["ObjectEvent".into(), "AggregationEvent".into()])
        );
        assert_eq!(q.filters[1], Filter::Text(TextColumn::BizStep, vec!["shipping".into(), "receiving".into()]));
        assert_eq!(
            q.filters[2],
            Filter::Text(TextColumn::ReadPoint, vec!["https://id.gs1.org/414/0614141073467/254/1234".into()])
        );
        assert_eq!(q.filters[3], Filter::Time(TimeColumn::EventTime, Cmp::Ge, 1_714_521_600_000_000));
        assert_eq!(q.order, Some((OrderBy::EventTime, false)));
        assert_eq!(q.event_count_limit, Some(5));
    }

    #[test]
    fn a_plus_decoded_as_space_is_still_an_offset() {
        let q = parse(&[("LT_recordTime", "2024-05-01T08:00:00 08:00")]).unwrap();
        assert_eq!(q.filters[0], Filter::Time(TimeColumn::RecordTime, Cmp::Lt, 1_714_521_600_000_000));
    }

    #[test]
    fn epc_patterns_become_prefixes_of_canonical_digital_links() {
        let q = parse(&[("MATCH_epc", "urn:epc:idpat:sgtin:4012345.066666.*|urn:epc:id:sgtin:0614141.107346.2017")])
            .unwrap();
        let Filter::Epc { roles, patterns } = &q.filters[0] else { panic!() };
        assert_eq!(*roles, EPC_ROLES);
        assert_eq!(
            patterns,
            &[
                IdPattern::Under("https://id.gs1.org/01/04012345666663".into()),
                IdPattern::Exact("https://id.gs1.org/01/10614141073464/21/2017".into())
            ]
        );
        let q = parse(&[("MATCH_anyEPCClass", "urn:epc:idpat:sgtin:4012345.*.*")]).unwrap();
        let Filter::EpcClass { patterns, .. } = &q.filters[0] else { panic!() };
        assert_eq!(patterns, &[IdPattern::Like("https://id.gs1.org/01/_4012345%".into())]);
    }

    #[test]
    fn variable_name_families() {
        let q = parse(&[
            ("EQ_bizTransaction_po", "urn:epcglobal:cbv:bt:0614141073467:1152"),
            ("EQ_source_owning_party", "urn:epc:id:pgln:0614141.00000"),
            ("EQ_destination_location", "urn:epc:id:sgln:0614141.00777.0"),
            ("GE_value_CEL", "4.5"),
            ("LT_quantity_KGM", "10"),
            ("EQ_example:myField", "a|b"),
            ("GT_INNER_ILMD_example:grade", "3"),
            ("EXISTS_ERROR_DECLARATION_{urn:x}reason", ""),
            ("EQ_http://ns.example.com/epcis#temperature", "20"),
            ("LE_readPoint_example:zone", "2024-01-01T00:00:00Z"),
        ])
        .unwrap();
        assert_eq!(
            q.filters[0],
            Filter::BizTransaction { kind: "po".into(), ids: vec!["urn:epcglobal:cbv:bt:0614141073467:1152".into()] }
        );
        assert_eq!(
            q.filters[1],
            Filter::SourceDest {
                direction: "source",
                kind: "owning_party".into(),
                ids: vec!["https://id.gs1.org/417/0614141000005".into()]
            }
        );
        assert!(matches!(&q.filters[2], Filter::SourceDest { direction: "destination", .. }));
        assert!(
            matches!(&q.filters[3], Filter::SensorNum { column: SensorColumn::Value, cmp: Cmp::Ge, uom: Some(u), .. } if u == "CEL")
        );
        assert!(matches!(&q.filters[4], Filter::Quantity { cmp: Cmp::Lt, uom: Some(u), .. } if u == "KGM"));
        assert_eq!(
            q.filters[5],
            Filter::Field {
                scope: FieldScope::Event,
                inner: false,
                ns: vec!["https://ns.example.com/epcis/".into()],
                name: "myField".into(),
                test: FieldTest::Eq(vec!["a".into(), "b".into()])
            }
        );
        assert!(
            matches!(&q.filters[6], Filter::Field { scope: FieldScope::Ilmd, inner: true, test: FieldTest::Num(Cmp::Gt, n), .. } if *n == 3.0)
        );
        assert!(
            matches!(&q.filters[7], Filter::Field { scope: FieldScope::ErrorDeclaration, test: FieldTest::Exists, ns, .. } if ns == &["urn:x"])
        );
        assert!(
            matches!(&q.filters[8], Filter::Field { ns, name, .. } if ns[0] == "http://ns.example.com/epcis" && name == "temperature")
        );
        assert!(matches!(
            &q.filters[9],
            Filter::Field { scope: FieldScope::ReadPoint, test: FieldTest::Time(Cmp::Le, _), .. }
        ));
    }

    #[test]
    fn bad_parameters_are_named() {
        for (pairs, param) in [
            (vec![("EQ_nonsense", "x")], "EQ_nonsense"),
            (vec![("colour", "red")], "colour"),
            (vec![("GE_eventTime", "yesterday")], "GE_eventTime"),
            (vec![("EQ_action", "MOVE")], "EQ_action"),
            (vec![("eventType", "FooEvent")], "eventType"),
            (vec![("orderDirection", "UP"), ("orderBy", "eventTime")], "orderDirection"),
            (vec![("eventCountLimit", "3")], "eventCountLimit"),
            (vec![("eventCountLimit", "3"), ("maxEventCount", "3"), ("orderBy", "eventTime")], "eventCountLimit"),
            (vec![("EQ_unknownprefix:field", "x")], "EQ_unknownprefix:field"),
            (vec![("GT_quantity", "many")], "GT_quantity"),
            (vec![("HASATTR_urn:x:y", "x")], "HASATTR_urn:x:y"),
            (vec![("orderBy", "quantity")], "orderBy"),
            (vec![("orderBy", "unknownprefix:field")], "orderBy"),
            (vec![("orderBy", "{urn:x}")], "orderBy"),
            (vec![("orderBy", "eventTime|recordTime")], "orderBy"),
        ] {
            let err = parse(&pairs).unwrap_err();
            assert_eq!(err.param, param, "{err}");
        }
    }

    #[test]
    fn order_by_extension_fields_in_every_qualified_form() {
        let field = |v: &str| parse(&[("orderBy", v), ("orderDirection", "ASC")]).unwrap().order;
        let want =
            |ns: &str, name: &str| Some((OrderBy::Field { ns: vec![ns.to_owned()], name: name.to_owned() }, false));
        assert_eq!(field("example:temp"), want("https://ns.example.com/epcis/", "temp"));
        assert_eq!(field("{urn:x}weight"), want("urn:x", "weight"));
        assert_eq!(field("https://ns.example.com/epcis/temp"), want("https://ns.example.com/epcis/", "temp"));
        assert_eq!(
            field("http://ns.example.com/epcis#temp"),
            Some((
                OrderBy::Field {
                    ns: vec!["http://ns.example.com/epcis".into(), "http://ns.example.com/epcis#".into()],
                    name: "temp".into()
                },
                false
            ))
        );
        let q = parse(&[("orderBy", "example:temp"), ("eventCountLimit", "2")]).unwrap();
        assert!(matches!(q.order, Some((OrderBy::Field { .. }, true))), "DESC by default");
    }

    #[test]
    fn keyset_after_a_position_puts_missing_values_last() {
        let by = (OrderBy::Field { ns: vec!["urn:x".into()], name: "w".into() }, false);
        let mut sql = Sql::default();
        let ord = sql.ordering(Some(&by), true);
        assert!(ord.join.contains("THEN f.text_value COLLATE \"C\" END) AS s"), "{}", ord.join);
        assert_eq!(
            ord.order_by(),
            "k.n ASC NULLS LAST, k.t ASC NULLS LAST, k.s COLLATE \"C\" ASC NULLS LAST, e.id ASC"
        );
        // After an event that has a date-time value (no number).
        assert!(sql.after(&ord, &[None, Some(Bind::Int(7)), Some(Bind::Text("a".into()))], 9));
        assert_eq!(
            sql.text,
            " AND ((k.n IS NULL AND (k.t > $3 OR k.t IS NULL)) \
             OR (k.n IS NULL AND k.t = $3 AND (k.s COLLATE \"C\" > $4 OR k.s COLLATE \"C\" IS NULL)) \
             OR (k.n IS NULL AND k.t = $3 AND k.s COLLATE \"C\" = $4 AND e.id > $5))"
        );
        // After an event lacking the field: only later events lacking it too.
        let mut sql = Sql::default();
        let ord = sql.ordering(Some(&(by.0.clone(), true)), false);
        assert!(sql.after(&ord, &[None, None, None], 9));
        assert_eq!(sql.text, " AND ((k.n IS NULL AND k.t IS NULL AND k.s IS NULL AND e.id < $3))");
        // A token of an eventTime query does not fit.
        assert!(!sql.after(&ord, &[Some(Bind::Int(1))], 9));
        let ord = Sql::default().ordering(Some(&(OrderBy::EventTime, true)), false);
        assert!(!Sql::default().after(&ord, &[None], 9), "eventTime is never missing");
        let mut sql = Sql::default();
        assert!(sql.after(&ord, &[Some(Bind::Int(5))], 9));
        assert_eq!(sql.text, " AND (e.event_time < $1 OR (e.event_time = $1 AND e.id < $2))");
    }

    #[test]
    fn sql_binds_every_value_and_uses_indexed_subqueries() {
        let q = parse(&[("MATCH_epc", "urn:epc:idpat:sgtin:4012345.066666.*"), ("EQ_bizStep", "shipping")]).unwrap();
        let mut sql = Sql::default();
        for f in &q.filters {
            sql.filter(f);
        }
        assert_eq!(
            sql.text,
            " AND e.id IN (SELECT x.event_pk FROM epcis_epcs x WHERE ((x.epc = $1 OR (x.epc >= $2 AND x.epc < $3))) AND x.role IN ('epc', 'child')) AND e.biz_step IN ($4)"
        );
        assert_eq!(sql.binds[1], Bind::Text("https://id.gs1.org/01/04012345666663/".into()));
        assert_eq!(sql.binds[2], Bind::Text("https://id.gs1.org/01/040123456666630".into()));
    }
}
