//! Inputs of the sampling module, parsed once from named text fields (API JSON members,
//! console form fields and import columns share the names), every field error at once.

use qgov_domain::FieldErrors;
use qgov_domain::registers::Fields;
use qgov_sampling::deadline::Regime;
use qgov_sampling::draw::{Mode, Ratio};
use qgov_sampling::judgement::{Limit, LimitKind};
use qgov_sampling::workflow::SamplingPurpose;
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Largest photo or evidence file accepted inline (as a data URL).
pub const MAX_FILE_BYTES: usize = 256 * 1024;
/// Most photos or files per record.
pub const MAX_FILES: usize = 8;

/// Default draw ratios per credit class when a task names neither a count nor ratios
/// (low risk → fewer checks, high risk → more; configurable per task).
pub const DEFAULT_RATIOS: &str = "A=0.03,B=0.05,C=0.2,D=0.6";

fn required(f: &impl Fields, e: &mut FieldErrors, name: &str, max: usize) -> String {
    match f.text(name) {
        None => {
            e.push(name, "required", "is required");
            String::new()
        }
        Some(v) if v.chars().count() > max => {
            e.push(name, "too-long", format!("at most {max} characters"));
            v
        }
        Some(v) => v,
    }
}

fn optional(f: &impl Fields, e: &mut FieldErrors, name: &str, max: usize) -> Option<String> {
    let v = f.text(name)?;
    if v.chars().count() > max {
        e.push(name, "too-long", format!("at most {max} characters"));
    }
    Some(v)
}

fn list(f: &impl Fields, name: &str) -> Vec<String> {
    f.text(name)
        .map(|v| v.split(';').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default()
}

fn flag(f: &impl Fields, e: &mut FieldErrors, name: &str) -> bool {
    match f.text(name).as_deref() {
        None | Some("false") | Some("0") | Some("no") => false,
        Some("true") | Some("1") | Some("yes") => true,
        Some(_) => {
            e.push(name, "not-a-flag", "must be true or false");
            false
        }
    }
}

fn keyed<T>(
    f: &impl Fields,
    e: &mut FieldErrors,
    name: &str,
    parse: impl Fn(&str) -> Option<T>,
    keys: &str,
    default: Option<T>,
) -> Option<T> {
    match f.text(name) {
        None if default.is_some() => default,
        None => {
            e.push(name, "required", format!("is required; one of: {keys}"));
            None
        }
        Some(v) => {
            let r = parse(&v);
            if r.is_none() {
                e.push(name, "unknown-value", format!("unknown value {v:?}; expected one of: {keys}"));
            }
            r
        }
    }
}

fn int(f: &impl Fields, e: &mut FieldErrors, name: &str, min: i64, max: i64) -> Option<i64> {
    let v = f.text(name)?;
    match v.parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Some(n),
        _ => {
            e.push(name, "not-a-number", format!("must be a whole number from {min} to {max}"));
            None
        }
    }
}

/// Parses a `YYYY-MM-DD` date field.
fn date(f: &impl Fields, e: &mut FieldErrors, name: &str, required: bool) -> Option<time::Date> {
    match f.text(name) {
        None => {
            if required {
                e.push(name, "required", "is required (YYYY-MM-DD)");
            }
            None
        }
        Some(v) => match qgov_sampling::calendar::parse_date(&v) {
            Ok(d) => Some(d),
            Err(m) => {
                e.push(name, "bad-date", m);
                None
            }
        },
    }
}

/// Parses an RFC 3339 instant field (default: now); instants in the future are refused, as
/// they would record something that has not happened yet.
pub fn instant(f: &impl Fields, e: &mut FieldErrors, name: &str) -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    match f.text(name) {
        None => now,
        Some(v) => match OffsetDateTime::parse(&v, &Rfc3339) {
            Ok(t) if t > now + time::Duration::minutes(5) => {
                e.push(name, "in-future", "cannot be in the future");
                now
            }
            Ok(t) => t,
            Err(_) => {
                e.push(name, "bad-time", "must be an RFC 3339 time, e.g. 2026-03-02T10:00:00+08:00");
                now
            }
        },
    }
}

/// Checks inline files: data URLs (`data:image/jpeg;base64,…`) or stored file references
/// (`file:…`), each within the size cap.
fn files(f: &impl Fields, e: &mut FieldErrors, name: &str) -> Vec<String> {
    // Lists arrive `;`-joined, and data URLs contain `;` themselves (`data:image/png;base64,…`):
    // a piece that does not start a new URL continues the previous one.
    let mut items: Vec<String> = vec![];
    for piece in f.text(name).unwrap_or_default().split(';') {
        match items.last_mut() {
            Some(last) if !piece.starts_with("data:") && !piece.starts_with("file:") => {
                last.push(';');
                last.push_str(piece);
            }
            _ if piece.trim().is_empty() => {}
            _ => items.push(piece.to_owned()),
        }
    }
    if items.len() > MAX_FILES {
        e.push(name, "too-many", format!("at most {MAX_FILES} files"));
    }
    for (i, item) in items.iter().enumerate() {
        let ok_kind = item.starts_with("data:") || item.starts_with("file:");
        if !ok_kind {
            e.push(name, "bad-file", format!("file {} must be a data: URL or a file: reference", i + 1));
        } else if item.len() > MAX_FILE_BYTES * 4 / 3 + 100 {
            e.push(name, "too-large", format!("file {} is larger than {} KiB", i + 1, MAX_FILE_BYTES / 1024));
        }
    }
    items
}

/// 随机抽查事项: one item of the spot-check list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckItemDraft {
    pub code: String,
    pub name: String,
    pub sub_items: Vec<String>,
    pub legal_basis: String,
    pub authority: String,
    pub object_type: String,
    /// Decimal between 0 and 1, as given.
    pub ratio: Option<String>,
    pub frequency: Option<String>,
    /// `written`, `on_site` or `online` (书面 / 实地 / 网络监测).
    pub method: String,
    pub inspector_requirements: Option<String>,
    /// `general` or `key` (一般 / 重点检查事项).
    pub category: String,
    pub remarks: Option<String>,
}

impl CheckItemDraft {
    pub const COLUMNS: &'static [&'static str] = &[
        "code",
        "name",
        "sub_items",
        "legal_basis",
        "authority",
        "object_type",
        "ratio",
        "frequency",
        "method",
        "inspector_requirements",
        "category",
        "remarks",
    ];
    pub fn parse(f: &impl Fields) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::new();
        let ratio = optional(f, &mut e, "ratio", 20);
        if let Some(r) = &ratio
            && r.parse::<Ratio>().is_err()
        {
            e.push("ratio", "bad-ratio", "must be a decimal between 0 and 1, e.g. 0.05");
        }
        let method = keyed(
            f,
            &mut e,
            "method",
            |s| ["written", "on_site", "online"].contains(&s).then(|| s.to_owned()),
            "written, on_site, online",
            None,
        );
        let category = keyed(
            f,
            &mut e,
            "category",
            |s| ["general", "key"].contains(&s).then(|| s.to_owned()),
            "general, key",
            Some("general".to_owned()),
        );
        let d = CheckItemDraft {
            code: required(f, &mut e, "code", 50),
            name: required(f, &mut e, "name", 200),
            sub_items: list(f, "sub_items"),
            legal_basis: required(f, &mut e, "legal_basis", 500),
            authority: required(f, &mut e, "authority", 200),
            object_type: required(f, &mut e, "object_type", 200),
            ratio,
            frequency: optional(f, &mut e, "frequency", 100),
            method: method.unwrap_or_default(),
            inspector_requirements: optional(f, &mut e, "inspector_requirements", 500),
            category: category.unwrap_or_default(),
            remarks: optional(f, &mut e, "remarks", 500),
        };
        e.into_result(d)
    }
}

/// 年度抽查工作计划.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanDraft {
    pub year: i64,
    pub name: String,
    pub department_code: String,
    pub description: Option<String>,
}

impl PlanDraft {
    pub const COLUMNS: &'static [&'static str] = &["year", "name", "department_code", "description"];
    pub fn parse(f: &impl Fields) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::new();
        let year = int(f, &mut e, "year", 2000, 2100);
        if f.text("year").is_none() {
            e.push("year", "required", "is required");
        }
        let d = PlanDraft {
            year: year.unwrap_or_default(),
            name: required(f, &mut e, "name", 200),
            department_code: required(f, &mut e, "department_code", 50),
            description: optional(f, &mut e, "description", 2000),
        };
        e.into_result(d)
    }
}

/// Which market entities a task draws from (all filters optional; exact values).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Scope {
    pub industry: Option<String>,
    pub entity_type: Option<String>,
    pub street: Option<String>,
    pub grid: Option<String>,
}

impl Scope {
    pub fn is_empty(&self) -> bool {
        self.industry.is_none() && self.entity_type.is_none() && self.street.is_none() && self.grid.is_none()
    }
}

/// A task of an annual plan (抽查任务).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskDraft {
    pub plan_id: i64,
    pub name: String,
    /// 定向 (targeted, needs a scope) or 不定向.
    pub targeted: bool,
    pub scope: Scope,
    /// Draw exactly this many targets …
    pub count: Option<i64>,
    /// … or ⌈ratio × class size⌉ per credit class (`A=0.03,B=0.05,…`; default [`DEFAULT_RATIOS`]).
    pub ratios: Option<String>,
    pub per_target: i64,
    pub period_start: time::Date,
    pub period_end: time::Date,
    pub initiating_department_code: String,
    /// Joint tasks name several inspecting units (联合抽查).
    pub inspecting_department_codes: Vec<String>,
    /// One visit, many items: the check items of the task.
    pub check_item_codes: Vec<String>,
}

impl TaskDraft {
    pub const COLUMNS: &'static [&'static str] = &[
        "plan_id",
        "name",
        "targeted",
        "scope_industry",
        "scope_entity_type",
        "scope_street",
        "scope_grid",
        "count",
        "ratios",
        "per_target",
        "period_start",
        "period_end",
        "initiating_department_code",
        "inspecting_department_codes",
        "check_item_codes",
    ];
    pub fn parse(f: &impl Fields) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::new();
        let plan_id = int(f, &mut e, "plan_id", 1, i64::MAX);
        if f.text("plan_id").is_none() {
            e.push("plan_id", "required", "is required");
        }
        let targeted = flag(f, &mut e, "targeted");
        let scope = Scope {
            industry: f.text("scope_industry"),
            entity_type: f.text("scope_entity_type"),
            street: f.text("scope_street"),
            grid: f.text("scope_grid"),
        };
        if targeted && scope.is_empty() {
            e.push("targeted", "scope-required", "a targeted task (定向) needs at least one scope_ filter");
        }
        let count = int(f, &mut e, "count", 1, 10_000_000);
        let ratios = f.text("ratios");
        if count.is_some() && ratios.is_some() {
            e.push("ratios", "count-or-ratios", "give a count or ratios, not both");
        }
        if let Some(r) = &ratios
            && let Err(err) = Mode::parse_ratios(r)
        {
            e.push("ratios", "bad-ratios", err.to_string());
        }
        let per_target = int(f, &mut e, "per_target", 2, 10).unwrap_or(2);
        let period_start = date(f, &mut e, "period_start", true);
        let period_end = date(f, &mut e, "period_end", true);
        if let (Some(a), Some(b)) = (period_start, period_end)
            && a > b
        {
            e.push("period_end", "before-start", "is before period_start");
        }
        let check_item_codes = list(f, "check_item_codes");
        if check_item_codes.is_empty() {
            e.push("check_item_codes", "required", "name at least one check item");
        }
        let d = TaskDraft {
            plan_id: plan_id.unwrap_or_default(),
            name: required(f, &mut e, "name", 200),
            targeted,
            scope,
            count,
            ratios,
            per_target,
            period_start: period_start.unwrap_or(time::Date::MIN),
            period_end: period_end.unwrap_or(time::Date::MIN),
            initiating_department_code: required(f, &mut e, "initiating_department_code", 50),
            inspecting_department_codes: list(f, "inspecting_department_codes"),
            check_item_codes,
        };
        e.into_result(d)
    }

    /// The draw mode of the task.
    pub fn mode(count: Option<i64>, ratios: Option<&str>) -> Mode {
        match count {
            Some(n) => Mode::Count(n as usize),
            None => Mode::parse_ratios(ratios.unwrap_or(DEFAULT_RATIOS)).unwrap_or(Mode::Count(0)),
        }
    }
}

/// A sample record (抽样单).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampleDraft {
    pub sample_no: String,
    pub task_id: Option<i64>,
    pub regime: Regime,
    pub purpose: SamplingPurpose,
    pub product_name: String,
    pub brand: Option<String>,
    pub specification: Option<String>,
    pub batch_no: Option<String>,
    pub production_date: Option<String>,
    pub quantity: Option<String>,
    pub product_category: String,
    pub standard_code: String,
    pub sampled_uscc: String,
    pub producer_name: Option<String>,
    pub producer_address: Option<String>,
    pub producer_uscc: Option<String>,
    /// Inspector ids of the samplers (at least two).
    pub sampler_ids: Vec<i64>,
    pub photos: Vec<String>,
    pub rapid_test: bool,
    pub lab: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub sampled_at: OffsetDateTime,
}

impl SampleDraft {
    pub const COLUMNS: &'static [&'static str] = &[
        "sample_no",
        "task_id",
        "regime",
        "purpose",
        "product_name",
        "brand",
        "specification",
        "batch_no",
        "production_date",
        "quantity",
        "product_category",
        "standard_code",
        "sampled_uscc",
        "producer_name",
        "producer_address",
        "producer_uscc",
        "sampler_ids",
        "photos",
        "rapid_test",
        "lab",
        "sampled_at",
    ];
    pub fn parse(f: &impl Fields) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::new();
        let regime = keyed(f, &mut e, "regime", Regime::parse, "food, manufactured, farm_produce", None);
        let purpose =
            keyed(f, &mut e, "purpose", SamplingPurpose::parse, "supervisory, evaluative, risk_monitoring", None);
        let mut sampler_ids = vec![];
        for s in list(f, "sampler_ids") {
            match s.parse::<i64>() {
                Ok(n) if !sampler_ids.contains(&n) => sampler_ids.push(n),
                Ok(_) => e.push("sampler_ids", "duplicate", format!("inspector {s} is listed twice")),
                Err(_) => e.push("sampler_ids", "not-a-number", format!("{s:?} is not an inspector id")),
            }
        }
        if sampler_ids.len() < 2 {
            e.push("sampler_ids", "too-few", "at least two samplers (两名以上) are required");
        }
        let d = SampleDraft {
            sample_no: required(f, &mut e, "sample_no", 60),
            task_id: int(f, &mut e, "task_id", 1, i64::MAX),
            regime: regime.unwrap_or(Regime::Food),
            purpose: purpose.unwrap_or(SamplingPurpose::Supervisory),
            product_name: required(f, &mut e, "product_name", 200),
            brand: optional(f, &mut e, "brand", 100),
            specification: optional(f, &mut e, "specification", 100),
            batch_no: optional(f, &mut e, "batch_no", 100),
            production_date: optional(f, &mut e, "production_date", 100),
            quantity: optional(f, &mut e, "quantity", 100),
            product_category: required(f, &mut e, "product_category", 100),
            standard_code: required(f, &mut e, "standard_code", 100),
            sampled_uscc: required(f, &mut e, "sampled_uscc", 18),
            producer_name: optional(f, &mut e, "producer_name", 200),
            producer_address: optional(f, &mut e, "producer_address", 300),
            producer_uscc: optional(f, &mut e, "producer_uscc", 18),
            sampler_ids,
            photos: files(f, &mut e, "photos"),
            rapid_test: flag(f, &mut e, "rapid_test"),
            lab: optional(f, &mut e, "lab", 200),
            sampled_at: instant(f, &mut e, "sampled_at"),
        };
        e.into_result(d)
    }
}

/// One row of the limits table, as imported (columns = field names).
pub fn parse_limit(f: &impl Fields) -> Result<Limit, FieldErrors> {
    let mut e = FieldErrors::new();
    let kind = keyed(f, &mut e, "kind", LimitKind::parse, "max, min, range", None);
    let num = |e: &mut FieldErrors, name: &str| -> Option<f64> {
        let v = f.text(name)?;
        match v.parse::<f64>() {
            Ok(x) if x.is_finite() => Some(x),
            _ => {
                e.push(name, "not-a-number", "must be a number");
                None
            }
        }
    };
    let min = num(&mut e, "min");
    let max = num(&mut e, "max");
    let l = Limit {
        standard_code: required(f, &mut e, "standard_code", 100),
        product_category: required(f, &mut e, "product_category", 100),
        test_item: required(f, &mut e, "test_item", 200),
        kind: kind.unwrap_or(LimitKind::Max),
        min,
        max,
        unit: f.text("unit").unwrap_or_default(),
        microbial: flag(f, &mut e, "microbial"),
    };
    if kind.is_some()
        && let Err(err) = l.check()
    {
        e.push("kind", "bad-bounds", err.to_string());
    }
    e.into_result(l)
}

/// Columns of a limits import.
pub const LIMIT_COLUMNS: &[&str] =
    &["standard_code", "product_category", "test_item", "kind", "min", "max", "unit", "microbial"];

/// Details of a publication (公告).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicationDraft {
    pub announcement_no: String,
    pub announcement_date: time::Date,
    pub task_source: String,
    pub remarks: Option<String>,
}

impl PublicationDraft {
    pub const COLUMNS: &'static [&'static str] = &["announcement_no", "announcement_date", "task_source", "remarks"];
    pub fn parse(f: &impl Fields) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::new();
        let d = PublicationDraft {
            announcement_no: required(f, &mut e, "announcement_no", 100),
            announcement_date: date(f, &mut e, "announcement_date", true).unwrap_or(time::Date::MIN),
            task_source: required(f, &mut e, "task_source", 200),
            remarks: optional(f, &mut e, "remarks", 500),
        };
        e.into_result(d)
    }
}

/// Evidence uploaded by an enterprise.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvidenceDraft {
    pub description: String,
    pub files: Vec<String>,
}

impl EvidenceDraft {
    pub const COLUMNS: &'static [&'static str] = &["description", "files"];
    pub fn parse(f: &impl Fields) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::new();
        let d =
            EvidenceDraft { description: required(f, &mut e, "description", 4000), files: files(f, &mut e, "files") };
        e.into_result(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn fields(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        move |k: &str| m.get(k).cloned()
    }

    #[test]
    fn sample_needs_two_samplers_and_known_vocabularies() {
        let e =
            SampleDraft::parse(&fields(&[("sample_no", "S1"), ("sampler_ids", "3"), ("regime", "toys")])).unwrap_err();
        let names: Vec<&str> = e.0.iter().map(|x| x.field.as_str()).collect();
        for f in ["sampler_ids", "regime", "purpose", "product_name", "sampled_uscc"] {
            assert!(names.contains(&f), "{f} missing from {names:?}");
        }
        let e = SampleDraft::parse(&fields(&[
            ("sampler_ids", "3;3"),
            ("photos", "http://x"),
            ("sampled_at", "2999-01-01T00:00:00Z"),
        ]))
        .unwrap_err();
        assert!(e.get("photos").is_some() && e.get("sampled_at").is_some() && e.get("sampler_ids").is_some());
    }

    #[test]
    fn task_count_or_ratios_and_targeted_scope() {
        let base = [
            ("plan_id", "1"),
            ("name", "t"),
            ("period_start", "2026-01-01"),
            ("period_end", "2026-06-30"),
            ("initiating_department_code", "amr"),
            ("check_item_codes", "C1"),
        ];
        assert!(TaskDraft::parse(&fields(&base)).is_ok());
        let mut bad = base.to_vec();
        bad.extend([("count", "5"), ("ratios", "A=0.1"), ("targeted", "true")]);
        let e = TaskDraft::parse(&fields(&bad)).unwrap_err();
        assert!(e.get("ratios").is_some() && e.get("targeted").is_some(), "{e}");
        assert_eq!(TaskDraft::mode(None, None), Mode::parse_ratios(DEFAULT_RATIOS).unwrap());
    }

    #[test]
    fn limits_check_bounds() {
        let ok = parse_limit(&fields(&[
            ("standard_code", "GB 2763-2021"),
            ("product_category", "蔬菜"),
            ("test_item", "毒死蜱"),
            ("kind", "max"),
            ("max", "0.02"),
            ("unit", "mg/kg"),
        ]));
        assert_eq!(ok.unwrap().max, Some(0.02));
        let e = parse_limit(&fields(&[
            ("standard_code", "X"),
            ("product_category", "Y"),
            ("test_item", "Z"),
            ("kind", "range"),
            ("max", "1"),
        ]))
        .unwrap_err();
        assert!(e.get("kind").is_some(), "{e}");
    }
}
