//! The EPCIS 2.0 event model (EPCIS 2.0 §7.3, §7.4), independent of any binding.
//!
//! One [`Event`] struct carries the fields of all five event types; which fields an event type
//! may use is checked by the parsers (EPCIS 2.0 §7.4.2–§7.4.6). Values are held in their stored
//! forms: identifiers canonical ([`Epc`]), vocabulary values as bare words for standard CBV
//! values and URIs otherwise, times as instants with their original offset.

use std::fmt;

use time::{OffsetDateTime, UtcOffset};

use crate::ident::Epc;

/// An EPCIS document (EPCIS 2.0 §9.3 `EPCISDocument`, §8.2.6 / §9.5 `EPCISQueryDocument`).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Document {
    /// Capture document or query results.
    pub kind: DocumentKind,
    /// `schemaVersion` as given (`2.0`, or `1.2` for an EPCIS 1.2 XML document).
    pub schema_version: String,
    /// `creationDate`.
    pub creation_date: Option<Timestamp>,
    /// Namespace prefixes declared by the document (JSON-LD `@context` objects, XML `xmlns:`),
    /// in order; reused when the document is written back.
    pub namespaces: Vec<(String, String)>,
    /// Document-level extension fields (outside the header and body), kept unchanged.
    pub extensions: Vec<ExtField>,
    /// The events, in document order.
    pub events: Vec<Event>,
}

/// Which kind of document.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum DocumentKind {
    /// `EPCISDocument`, as sent to capture.
    #[default]
    Capture,
    /// `EPCISQueryDocument` with its query name and optional subscription.
    Query {
        /// `queryName`.
        query_name: String,
        /// `subscriptionID`.
        subscription_id: Option<String>,
    },
}

/// The five event types (EPCIS 2.0 §7.4.2–§7.4.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    /// §7.4.2.
    Object,
    /// §7.4.3.
    Aggregation,
    /// §7.4.5.
    Transaction,
    /// §7.4.6.
    Transformation,
    /// §7.4.4.
    Association,
}

impl EventType {
    /// The type name used by both bindings (`ObjectEvent`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Object => "ObjectEvent",
            Self::Aggregation => "AggregationEvent",
            Self::Transaction => "TransactionEvent",
            Self::Transformation => "TransformationEvent",
            Self::Association => "AssociationEvent",
        }
    }

    /// Reads a type name.
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "ObjectEvent" => Self::Object,
            "AggregationEvent" => Self::Aggregation,
            "TransactionEvent" => Self::Transaction,
            "TransformationEvent" => Self::Transformation,
            "AssociationEvent" => Self::Association,
            _ => return None,
        })
    }
}

/// EPCIS 2.0 §7.3.2 action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// `ADD`.
    Add,
    /// `OBSERVE`.
    Observe,
    /// `DELETE`.
    Delete,
}

impl Action {
    /// The standard spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Add => "ADD",
            Self::Observe => "OBSERVE",
            Self::Delete => "DELETE",
        }
    }

    /// Reads the standard spelling (case-sensitive, EPCIS 2.0 §7.3.2).
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "ADD" => Self::Add,
            "OBSERVE" => Self::Observe,
            "DELETE" => Self::Delete,
            _ => return None,
        })
    }
}

/// A date-time with an explicit offset (EPCIS 2.0 §7.3.1: `xsd:dateTimeStamp`). Two timestamps
/// are equal when they denote the same instant.
#[derive(Clone, Copy, Debug)]
pub struct Timestamp(pub OffsetDateTime);

impl PartialEq for Timestamp {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl Eq for Timestamp {}

impl Timestamp {
    /// Parses an RFC 3339 date-time that carries an offset (`Z` or `±hh:mm`). Fractions of any
    /// length are accepted and kept to the nanosecond.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not an RFC 3339 date-time with offset (e.g. 2024-05-01T08:30:00.000+08:00)");
        let b = s.as_bytes();
        if b.len() < 20
            || b[4] != b'-'
            || b[7] != b'-'
            || !matches!(b[10], b'T' | b't')
            || b[13] != b':'
            || b[16] != b':'
        {
            return Err(bad());
        }
        let num = |r: std::ops::Range<usize>| -> Result<u32, String> {
            let part = &s[r];
            if part.bytes().all(|c| c.is_ascii_digit()) { part.parse().map_err(|_| bad()) } else { Err(bad()) }
        };
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        let mut i = 19;
        let mut nanos: u32 = 0;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                if i - start < 9 {
                    nanos = nanos * 10 + u32::from(b[i] - b'0');
                }
                i += 1;
            }
            if i == start {
                return Err(bad());
            }
            for _ in (i - start).min(9)..9 {
                nanos *= 10;
            }
        }
        let offset = match &s[i..] {
            "Z" | "z" => UtcOffset::UTC,
            rest if rest.len() == 6 && matches!(rest.as_bytes()[0], b'+' | b'-') && rest.as_bytes()[3] == b':' => {
                let h = num(i + 1..i + 3)? as i8;
                let m = num(i + 4..i + 6)? as i8;
                if h > 23 || m > 59 {
                    return Err(bad());
                }
                let sign = if rest.starts_with('-') { -1 } else { 1 };
                UtcOffset::from_hms(sign * h, sign * m, 0).map_err(|_| bad())?
            }
            _ => return Err(bad()),
        };
        let month = time::Month::try_from(month as u8).map_err(|_| bad())?;
        let date = time::Date::from_calendar_date(year as i32, month, day as u8).map_err(|_| bad())?;
        // A leap second (60) is clamped to 59.999…, as xsd:dateTime has no leap seconds.
        let (second, nanos) = if second == 60 { (59, 999_999_999) } else { (second, nanos) };
        let t = time::Time::from_hms_nano(hour as u8, minute as u8, second as u8, nanos).map_err(|_| bad())?;
        let at = time::PrimitiveDateTime::new(date, t).assume_offset(offset);
        // Its UTC form, rounded to the millisecond (the event hash), must be a date too: a year
        // 9999 late in the day west of Greenwich is year 10000 in UTC.
        at.checked_to_offset(UtcOffset::UTC)
            .and_then(|u| u.checked_add(time::Duration::milliseconds(1)))
            .ok_or_else(|| format!("`{s}` lies beyond year 9999 in UTC"))?;
        Ok(Timestamp(at))
    }

    /// RFC 3339 with the original offset, milliseconds when the fraction fits, else nanoseconds.
    pub fn to_rfc3339(&self) -> String {
        let t = self.0;
        let off = t.offset();
        let mut s = String::with_capacity(35);
        push_date_time(&mut s, t);
        let n = t.nanosecond();
        s.push('.');
        if n.is_multiple_of(1_000_000) {
            push_padded(&mut s, n / 1_000_000, 3);
        } else {
            push_padded(&mut s, n, 9);
        }
        if off.is_utc() {
            s.push('Z');
        } else {
            let (h, m, _) = off.as_hms();
            s.push(if off.is_negative() { '-' } else { '+' });
            push_padded(&mut s, u32::from(h.unsigned_abs()), 2);
            s.push(':');
            push_padded(&mut s, u32::from(m.unsigned_abs()), 2);
        }
        s
    }

    /// UTC at millisecond precision, rounded half up (the event-hash form, CBV 2.0 §8.9.3
    /// step 3; the reference vector `TimeStampRoundOff` fixes the rounding).
    pub fn to_utc_millis(&self) -> String {
        let t = self.0.to_offset(UtcOffset::UTC);
        let rounded = t + time::Duration::nanoseconds(500_000);
        let t = if rounded.millisecond() == t.millisecond() && rounded.second() == t.second() { t } else { rounded };
        let mut s = String::with_capacity(24);
        push_date_time(&mut s, t);
        s.push('.');
        push_padded(&mut s, u32::from(t.millisecond()), 3);
        s.push('Z');
        s
    }
}

/// `n` in decimal, zero-padded to `width` digits (a capture writes two times per event, and
/// `format!` was a measurable part of that).
fn push_padded(s: &mut String, mut n: u32, width: usize) {
    let mut buf = [0u8; 10];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for _ in buf.len() - i..width {
        s.push('0');
    }
    s.extend(buf[i..].iter().map(|&d| char::from(d)));
}

/// `YYYY-MM-DDTHH:MM:SS`, as `{:04}-{:02}-…` writes it (years outside 0–9999 through
/// `format!` itself).
fn push_date_time(s: &mut String, t: time::OffsetDateTime) {
    let Ok(year) = u32::try_from(t.year()).map_err(drop).and_then(|y| if y <= 9999 { Ok(y) } else { Err(()) }) else {
        s.push_str(&format!("{:04}", t.year()));
        return push_rest(s, t);
    };
    push_padded(s, year, 4);
    push_rest(s, t);

    fn push_rest(s: &mut String, t: time::OffsetDateTime) {
        for (sep, v) in
            [('-', u8::from(t.month())), ('-', t.day()), ('T', t.hour()), (':', t.minute()), (':', t.second())]
        {
            s.push(sep);
            push_padded(s, u32::from(v), 2);
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// EPCIS 2.0 §7.3.1 `eventTimeZoneOffset`: `±hh:mm` between -14:00 and +14:00.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeZoneOffset(String);

impl TimeZoneOffset {
    /// Parses `±hh:mm` (hours 00–13 with any minutes, or exactly 14:00).
    pub fn parse(s: &str) -> Result<Self, String> {
        let b = s.as_bytes();
        let ok = b.len() == 6
            && matches!(b[0], b'+' | b'-')
            && b[3] == b':'
            && [1, 2, 4, 5].iter().all(|&i| b[i].is_ascii_digit())
            && {
                let h = (b[1] - b'0') * 10 + (b[2] - b'0');
                let m = (b[4] - b'0') * 10 + (b[5] - b'0');
                (h <= 13 && m <= 59) || (h == 14 && m == 0)
            };
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err(format!("`{s}` is not a time-zone offset ±hh:mm within ±14:00"))
        }
    }

    /// The offset as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A quantity element (EPCIS 2.0 §7.3.3.3).
#[derive(Clone, Debug, PartialEq)]
pub struct QuantityElement {
    /// Class-level identifier.
    pub epc_class: Epc,
    /// Quantity (absent: unknown).
    pub quantity: Option<f64>,
    /// UN/ECE Rec. 20 unit (absent: a count of instances).
    pub uom: Option<String>,
}

/// `readPoint` / `bizLocation` (EPCIS 2.0 §7.3.4) with any extension children.
#[derive(Clone, Debug, PartialEq)]
pub struct Location {
    /// The location identifier.
    pub id: Epc,
    /// Extension fields inside the location element.
    pub extensions: Vec<ExtField>,
}

/// A business transaction reference (EPCIS 2.0 §7.3.5.2).
#[derive(Clone, Debug, PartialEq)]
pub struct BizTransaction {
    /// CBV 2.0 §7.3 type (bare word or URI).
    pub kind: Option<String>,
    /// The transaction identifier.
    pub id: Epc,
}

/// A source or destination (EPCIS 2.0 §7.3.5.4).
#[derive(Clone, Debug, PartialEq)]
pub struct SourceDest {
    /// CBV 2.0 §7.4 type (bare word or URI).
    pub kind: String,
    /// The party or location.
    pub id: Epc,
}

/// `persistentDisposition` (EPCIS 2.0 §7.3.5.5).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct PersistentDisposition {
    /// Dispositions set.
    pub set: Vec<String>,
    /// Dispositions unset.
    pub unset: Vec<String>,
}

/// `errorDeclaration` (EPCIS 2.0 §7.4.1.2).
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorDeclaration {
    /// When the error was declared.
    pub declaration_time: Timestamp,
    /// CBV 2.0 §7.5 reason (bare word or URI).
    pub reason: Option<String>,
    /// Corrective event IDs.
    pub corrective_event_ids: Vec<String>,
    /// Extension fields.
    pub extensions: Vec<ExtField>,
}

/// One sensor element (EPCIS 2.0 §7.3.8).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SensorElement {
    /// Metadata shared by the reports.
    pub metadata: Option<SensorMetadata>,
    /// The reports.
    pub reports: Vec<SensorReport>,
    /// Extension fields of the element.
    pub extensions: Vec<ExtField>,
}

/// EPCIS 2.0 §7.3.8.1 sensor metadata.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SensorMetadata {
    /// `time`.
    pub time: Option<Timestamp>,
    /// `startTime`.
    pub start_time: Option<Timestamp>,
    /// `endTime`.
    pub end_time: Option<Timestamp>,
    /// `deviceID`.
    pub device_id: Option<Epc>,
    /// `deviceMetadata`.
    pub device_metadata: Option<Epc>,
    /// `rawData`.
    pub raw_data: Option<Epc>,
    /// `dataProcessingMethod`.
    pub data_processing_method: Option<Epc>,
    /// `bizRules`.
    pub biz_rules: Option<Epc>,
    /// Extension attributes/fields.
    pub extensions: Vec<ExtField>,
}

/// EPCIS 2.0 §7.3.8.2 sensor report.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SensorReport {
    /// Measurement type (bare GS1 web-vocabulary term or URI/CURIE).
    pub kind: Option<String>,
    /// Alert type.
    pub exception: Option<String>,
    /// `deviceID`.
    pub device_id: Option<Epc>,
    /// `deviceMetadata`.
    pub device_metadata: Option<Epc>,
    /// `rawData`.
    pub raw_data: Option<Epc>,
    /// `dataProcessingMethod`.
    pub data_processing_method: Option<Epc>,
    /// `bizRules`.
    pub biz_rules: Option<Epc>,
    /// `time`.
    pub time: Option<Timestamp>,
    /// `microorganism`.
    pub microorganism: Option<String>,
    /// `chemicalSubstance`.
    pub chemical_substance: Option<String>,
    /// `value`.
    pub value: Option<f64>,
    /// `component` (bare CBV word or URI).
    pub component: Option<String>,
    /// `stringValue`.
    pub string_value: Option<String>,
    /// `booleanValue`.
    pub boolean_value: Option<bool>,
    /// `hexBinaryValue`.
    pub hex_binary_value: Option<String>,
    /// `uriValue`.
    pub uri_value: Option<String>,
    /// `minValue`.
    pub min_value: Option<f64>,
    /// `maxValue`.
    pub max_value: Option<f64>,
    /// `meanValue`.
    pub mean_value: Option<f64>,
    /// `sDev`.
    pub s_dev: Option<f64>,
    /// `percRank`.
    pub perc_rank: Option<f64>,
    /// `percValue`.
    pub perc_value: Option<f64>,
    /// `uom`.
    pub uom: Option<String>,
    /// `coordinateReferenceSystem`.
    pub coordinate_reference_system: Option<String>,
    /// Extension attributes/fields.
    pub extensions: Vec<ExtField>,
}

/// An EPCIS event of any of the five types (EPCIS 2.0 §7.4).
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Which of the five types.
    pub event_type: EventType,
    /// `eventTime`.
    pub event_time: Timestamp,
    /// `eventTimeZoneOffset`.
    pub event_time_zone_offset: TimeZoneOffset,
    /// `recordTime` (set by the repository on capture).
    pub record_time: Option<Timestamp>,
    /// `eventID`.
    pub event_id: Option<String>,
    /// `errorDeclaration`.
    pub error_declaration: Option<ErrorDeclaration>,
    /// `certificationInfo` URIs.
    pub certification_info: Vec<String>,
    /// `parentID` (Aggregation, Association, Transaction).
    pub parent_id: Option<Epc>,
    /// `epcList` (Object, Transaction).
    pub epc_list: Vec<Epc>,
    /// `childEPCs` (Aggregation, Association).
    pub child_epcs: Vec<Epc>,
    /// `inputEPCList` (Transformation).
    pub input_epc_list: Vec<Epc>,
    /// `outputEPCList` (Transformation).
    pub output_epc_list: Vec<Epc>,
    /// `quantityList` (Object, Transaction).
    pub quantity_list: Vec<QuantityElement>,
    /// `childQuantityList` (Aggregation, Association).
    pub child_quantity_list: Vec<QuantityElement>,
    /// `inputQuantityList` (Transformation).
    pub input_quantity_list: Vec<QuantityElement>,
    /// `outputQuantityList` (Transformation).
    pub output_quantity_list: Vec<QuantityElement>,
    /// `action` (all but Transformation).
    pub action: Option<Action>,
    /// `transformationID` (Transformation).
    pub transformation_id: Option<Epc>,
    /// `bizStep`.
    pub biz_step: Option<String>,
    /// `disposition`.
    pub disposition: Option<String>,
    /// `persistentDisposition`.
    pub persistent_disposition: Option<PersistentDisposition>,
    /// `readPoint`.
    pub read_point: Option<Location>,
    /// `bizLocation`.
    pub biz_location: Option<Location>,
    /// `bizTransactionList`.
    pub biz_transaction_list: Vec<BizTransaction>,
    /// `sourceList`.
    pub source_list: Vec<SourceDest>,
    /// `destinationList`.
    pub destination_list: Vec<SourceDest>,
    /// `sensorElementList`.
    pub sensor_element_list: Vec<SensorElement>,
    /// `ilmd` (Object with ADD, Transformation): extension fields only.
    pub ilmd: Option<Vec<ExtField>>,
    /// User extension fields at event level, in document order.
    pub extensions: Vec<ExtField>,
}

impl Event {
    /// A bare event of the given type, time and offset; the parsers fill the rest.
    pub fn new(event_type: EventType, event_time: Timestamp, event_time_zone_offset: TimeZoneOffset) -> Self {
        Event {
            event_type,
            event_time,
            event_time_zone_offset,
            record_time: None,
            event_id: None,
            error_declaration: None,
            certification_info: Vec::new(),
            parent_id: None,
            epc_list: Vec::new(),
            child_epcs: Vec::new(),
            input_epc_list: Vec::new(),
            output_epc_list: Vec::new(),
            quantity_list: Vec::new(),
            child_quantity_list: Vec::new(),
            input_quantity_list: Vec::new(),
            output_quantity_list: Vec::new(),
            action: None,
            transformation_id: None,
            biz_step: None,
            disposition: None,
            persistent_disposition: None,
            read_point: None,
            biz_location: None,
            biz_transaction_list: Vec::new(),
            source_list: Vec::new(),
            destination_list: Vec::new(),
            sensor_element_list: Vec::new(),
            ilmd: None,
            extensions: Vec::new(),
        }
    }
}

/// A user extension field: a name in its own namespace and a value (EPCIS 2.0 §7.5, §9.4.3).
#[derive(Clone, Debug, PartialEq)]
pub struct ExtField {
    /// Namespace URI (empty only for JSON-LD keywords such as `@type`).
    pub ns: String,
    /// Local name.
    pub name: String,
    /// The value.
    pub value: ExtValue,
}

/// An extension value: a leaf or a list of child fields. A JSON array becomes repeated fields
/// of the same name, as repeated XML elements do, so both bindings give the same tree.
#[derive(Clone, Debug)]
pub enum ExtValue {
    /// Text, with the JSON type it came as (a hint for writing JSON back; not part of meaning).
    Leaf(String, LeafKind),
    /// Child fields in order.
    Node(Vec<ExtField>),
}

impl PartialEq for ExtValue {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Leaf(a, _), Self::Leaf(b, _)) => a.trim() == b.trim(),
            (Self::Node(a), Self::Node(b)) => a == b,
            (Self::Leaf(a, _), Self::Node(b)) | (Self::Node(b), Self::Leaf(a, _)) => {
                a.trim().is_empty() && b.is_empty()
            }
        }
    }
}

/// The JSON type of a leaf, kept so JSON round-trips keep numbers as numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeafKind {
    /// A string (also every XML text).
    String,
    /// A JSON number.
    Number,
    /// A JSON boolean.
    Bool,
    /// JSON null.
    Null,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `to_rfc3339` and `to_utc_millis` wrote with `format!`, for comparison.
    fn by_format(t: time::OffsetDateTime, millis_utc: bool) -> String {
        let date = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
        if millis_utc {
            return format!("{date}.{:03}Z", t.millisecond());
        }
        let n = t.nanosecond();
        let frac = if n.is_multiple_of(1_000_000) { format!(".{:03}", n / 1_000_000) } else { format!(".{n:09}") };
        let off = t.offset();
        let zone = if off.is_utc() {
            "Z".to_owned()
        } else {
            let (h, m, _) = off.as_hms();
            format!("{}{:02}:{:02}", if off.is_negative() { '-' } else { '+' }, h.abs(), m.abs())
        };
        format!("{date}{frac}{zone}")
    }

    #[test]
    fn times_are_written_as_format_wrote_them() {
        let mut n = 0;
        for s in [
            "2024-05-01T00:00:00Z",
            "0001-01-01T00:00:00.5+14:00",
            "9999-12-31T23:59:59.999999999+12:00",
            "2019-10-07T15:00:00.123456789+05:30",
            "2019-10-07T15:00:00.000001-00:30",
            "2020-02-29T09:05:07.0405+01:00",
            "2026-12-07T23:59:59.9995Z",
            "0099-07-04T01:02:03.010Z",
        ] {
            let t = Timestamp::parse(s).unwrap();
            assert_eq!(t.to_rfc3339(), by_format(t.0, false), "{s}");
            let utc = t.0.to_offset(UtcOffset::UTC);
            let rounded = utc + time::Duration::nanoseconds(500_000);
            let r = if rounded.millisecond() == utc.millisecond() && rounded.second() == utc.second() {
                utc
            } else {
                rounded
            };
            assert_eq!(t.to_utc_millis(), by_format(r, true), "{s}");
            n += 1;
        }
        assert_eq!(n, 8);
        for beyond in ["9999-12-31T23:59:59-12:00", "9999-12-31T23:59:59.9995Z"] {
            assert!(Timestamp::parse(beyond).unwrap_err().contains("beyond year 9999"), "{beyond}");
        }
        let mut s = String::new();
        push_padded(&mut s, 0, 3);
        push_padded(&mut s, 1234, 2);
        push_padded(&mut s, u32::MAX, 1);
        assert_eq!(s, "0001234".to_owned() + &u32::MAX.to_string());
    }
}
