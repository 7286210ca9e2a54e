//! Judgement of test results against a limits table (判定).
//!
//! A limit row names the standard, the product category, the test item, the kind of limit
//! (maximum, minimum or range) and its unit. A measured value is judged against the row of its
//! standard, category and item; a value in a different unit is an error, never a pass, because
//! "0.5 g/kg" against "≤ 0.2 mg/kg" cannot be compared without knowing the conversion.

use serde::{Deserialize, Serialize};

/// Kind of limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    /// Value must be ≤ max (e.g. pesticide residue).
    Max,
    /// Value must be ≥ min (e.g. protein content).
    Min,
    /// min ≤ value ≤ max.
    Range,
}

impl LimitKind {
    /// Parses `max`, `min` or `range`.
    pub fn parse(s: &str) -> Option<LimitKind> {
        match s.trim() {
            "max" => Some(LimitKind::Max),
            "min" => Some(LimitKind::Min),
            "range" => Some(LimitKind::Range),
            _ => None,
        }
    }
    /// The stored key.
    pub fn key(self) -> &'static str {
        match self {
            LimitKind::Max => "max",
            LimitKind::Min => "min",
            LimitKind::Range => "range",
        }
    }
}

/// One row of the limits table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Limit {
    /// Standard code, e.g. `GB 2763-2021`.
    pub standard_code: String,
    /// Product category, e.g. `蔬菜`.
    pub product_category: String,
    /// Test item, e.g. `毒死蜱`.
    pub test_item: String,
    /// Kind of limit.
    pub kind: LimitKind,
    /// Lower bound (min and range).
    pub min: Option<f64>,
    /// Upper bound (max and range).
    pub max: Option<f64>,
    /// Unit, e.g. `mg/kg`.
    pub unit: String,
    /// A microbial indicator (food failures on these cannot be re-tested).
    #[serde(default)]
    pub microbial: bool,
}

/// Why a limit row is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// The bounds do not fit the kind.
    #[error("a {kind} limit needs {needs}")]
    Bounds {
        /// Kind given.
        kind: &'static str,
        /// What it needs.
        needs: &'static str,
    },
    /// min > max.
    #[error("the minimum is above the maximum")]
    Inverted,
}

impl Limit {
    /// Checks that the bounds fit the kind.
    pub fn check(&self) -> Result<(), LimitError> {
        match (self.kind, self.min, self.max) {
            (LimitKind::Max, None, Some(_)) | (LimitKind::Min, Some(_), None) => Ok(()),
            (LimitKind::Range, Some(lo), Some(hi)) if lo > hi => Err(LimitError::Inverted),
            (LimitKind::Range, Some(_), Some(_)) => Ok(()),
            (LimitKind::Max, ..) => Err(LimitError::Bounds { kind: "max", needs: "a maximum and no minimum" }),
            (LimitKind::Min, ..) => Err(LimitError::Bounds { kind: "min", needs: "a minimum and no maximum" }),
            (LimitKind::Range, ..) => Err(LimitError::Bounds { kind: "range", needs: "both a minimum and a maximum" }),
        }
    }

    /// The limit as published in the 标准值 column, e.g. `≤0.02mg/kg`.
    pub fn display(&self) -> String {
        let n = |v: Option<f64>| v.map(fmt_number).unwrap_or_default();
        match self.kind {
            LimitKind::Max => format!("≤{}{}", n(self.max), self.unit),
            LimitKind::Min => format!("≥{}{}", n(self.min), self.unit),
            LimitKind::Range => format!("{}~{}{}", n(self.min), n(self.max), self.unit),
        }
    }
}

/// A number without a trailing `.0`.
pub fn fmt_number(v: f64) -> String {
    let s = format!("{v}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

/// A measured value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum Measured {
    /// A number in the measurement's unit.
    Value(f64),
    /// Below the method's detection limit (未检出).
    NotDetected,
}

impl Measured {
    /// Parses a number or `未检出` / `ND` / `not detected`.
    pub fn parse(s: &str) -> Option<Measured> {
        let t = s.trim();
        if ["未检出", "ND", "nd", "not detected"].contains(&t) {
            return Some(Measured::NotDetected);
        }
        t.parse::<f64>().ok().filter(|v| v.is_finite()).map(Measured::Value)
    }
    /// As shown in a result: the number, or 未检出.
    pub fn display(&self) -> String {
        match self {
            Measured::Value(v) => fmt_number(*v),
            Measured::NotDetected => "未检出".into(),
        }
    }
}

/// One measurement to judge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// Test item (matches [`Limit::test_item`]).
    pub test_item: String,
    /// Value.
    pub value: Measured,
    /// Unit of the value.
    pub unit: String,
}

/// Verdict on one item or a whole sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// 合格.
    Pass,
    /// 不合格.
    Fail,
}

impl Verdict {
    /// The stored key.
    pub fn key(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
        }
    }
}

/// Why a measurement could not be judged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JudgementError {
    /// No limit row for the item.
    #[error("no limit for `{test_item}` under {standard_code} / {product_category}")]
    NoLimit {
        /// Item.
        test_item: String,
        /// Standard.
        standard_code: String,
        /// Category.
        product_category: String,
    },
    /// Units differ.
    #[error("`{test_item}` was measured in {measured} but the limit is in {limit}; convert the value first")]
    UnitMismatch {
        /// Item.
        test_item: String,
        /// Unit of the measurement.
        measured: String,
        /// Unit of the limit.
        limit: String,
    },
    /// The limit row is inconsistent.
    #[error("the limit for `{test_item}` is unusable: {error}")]
    BadLimit {
        /// Item.
        test_item: String,
        /// What is wrong.
        error: LimitError,
    },
}

/// One judged item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemJudgement {
    /// The measurement.
    pub measurement: Measurement,
    /// The limit applied.
    pub limit: Limit,
    /// Verdict.
    pub verdict: Verdict,
}

/// Judges one measurement against one limit.
pub fn judge_item(limit: &Limit, m: &Measurement) -> Result<Verdict, JudgementError> {
    limit.check().map_err(|error| JudgementError::BadLimit { test_item: limit.test_item.clone(), error })?;
    if m.unit.trim() != limit.unit.trim() {
        return Err(JudgementError::UnitMismatch {
            test_item: m.test_item.clone(),
            measured: m.unit.clone(),
            limit: limit.unit.clone(),
        });
    }
    let ok = match m.value {
        // Not detected: below any maximum; never enough for a minimum.
        Measured::NotDetected => limit.min.is_none(),
        Measured::Value(v) => limit.min.is_none_or(|lo| v >= lo) && limit.max.is_none_or(|hi| v <= hi),
    };
    Ok(if ok { Verdict::Pass } else { Verdict::Fail })
}

/// The judgement of a whole sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judgement {
    /// Per item, in input order.
    pub items: Vec<ItemJudgement>,
    /// Fail when any item fails.
    pub overall: Verdict,
}

impl Judgement {
    /// The failing items.
    pub fn failing(&self) -> impl Iterator<Item = &ItemJudgement> {
        self.items.iter().filter(|i| i.verdict == Verdict::Fail)
    }
    /// True when every failing item is a microbial indicator (no food re-test then).
    pub fn only_microbial_failures(&self) -> bool {
        self.failing().next().is_some() && self.failing().all(|i| i.limit.microbial)
    }
}

/// Judges every measurement against the table rows of `standard_code` and `product_category`.
/// Every problem is reported at once; no verdict is given when any measurement cannot be judged.
pub fn judge(
    table: &[Limit],
    standard_code: &str,
    product_category: &str,
    measurements: &[Measurement],
) -> Result<Judgement, Vec<JudgementError>> {
    let mut items = Vec::with_capacity(measurements.len());
    let mut errors = Vec::new();
    for m in measurements {
        let row = table.iter().find(|l| {
            l.standard_code == standard_code && l.product_category == product_category && l.test_item == m.test_item
        });
        let Some(limit) = row else {
            errors.push(JudgementError::NoLimit {
                test_item: m.test_item.clone(),
                standard_code: standard_code.into(),
                product_category: product_category.into(),
            });
            continue;
        };
        match judge_item(limit, m) {
            Ok(verdict) => items.push(ItemJudgement { measurement: m.clone(), limit: limit.clone(), verdict }),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let overall = if items.iter().any(|i| i.verdict == Verdict::Fail) { Verdict::Fail } else { Verdict::Pass };
    Ok(Judgement { items, overall })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn limit(item: &str, kind: LimitKind, min: Option<f64>, max: Option<f64>, unit: &str) -> Limit {
        Limit {
            standard_code: "GB 2763-2021".into(),
            product_category: "蔬菜".into(),
            test_item: item.into(),
            kind,
            min,
            max,
            unit: unit.into(),
            microbial: false,
        }
    }
    fn m(item: &str, v: f64, unit: &str) -> Measurement {
        Measurement { test_item: item.into(), value: Measured::Value(v), unit: unit.into() }
    }

    #[test]
    fn max_min_and_range_limits_include_their_bounds() {
        let max = limit("毒死蜱", LimitKind::Max, None, Some(0.02), "mg/kg");
        assert_eq!(judge_item(&max, &m("毒死蜱", 0.02, "mg/kg")), Ok(Verdict::Pass));
        assert_eq!(judge_item(&max, &m("毒死蜱", 0.052, "mg/kg")), Ok(Verdict::Fail));
        let min = limit("蛋白质", LimitKind::Min, Some(2.9), None, "g/100g");
        assert_eq!(judge_item(&min, &m("蛋白质", 2.9, "g/100g")), Ok(Verdict::Pass));
        assert_eq!(judge_item(&min, &m("蛋白质", 2.8, "g/100g")), Ok(Verdict::Fail));
        let range = limit("pH", LimitKind::Range, Some(6.0), Some(8.5), "");
        assert_eq!(judge_item(&range, &m("pH", 6.0, "")), Ok(Verdict::Pass));
        assert_eq!(judge_item(&range, &m("pH", 8.6, "")), Ok(Verdict::Fail));
        assert_eq!(max.display(), "≤0.02mg/kg");
        assert_eq!(min.display(), "≥2.9g/100g");
        assert_eq!(range.display(), "6~8.5");
    }

    #[test]
    fn not_detected_passes_a_maximum_and_fails_a_minimum() {
        let nd = |item: &str, unit: &str| Measurement {
            test_item: item.into(),
            value: Measured::NotDetected,
            unit: unit.into(),
        };
        let max = limit("铅", LimitKind::Max, None, Some(0.1), "mg/kg");
        assert_eq!(judge_item(&max, &nd("铅", "mg/kg")), Ok(Verdict::Pass));
        let min = limit("蛋白质", LimitKind::Min, Some(2.9), None, "g/100g");
        assert_eq!(judge_item(&min, &nd("蛋白质", "g/100g")), Ok(Verdict::Fail));
        assert_eq!(Measured::parse("未检出"), Some(Measured::NotDetected));
        assert_eq!(Measured::parse(" 0.05 "), Some(Measured::Value(0.05)));
        assert_eq!(Measured::parse("NaN"), None);
        assert_eq!(Measured::parse("abc"), None);
    }

    #[test]
    fn unit_mismatch_is_an_error_not_a_pass() {
        let max = limit("铅", LimitKind::Max, None, Some(0.1), "mg/kg");
        let e = judge_item(&max, &m("铅", 0.00001, "g/kg")).unwrap_err();
        assert!(matches!(e, JudgementError::UnitMismatch { .. }), "{e}");
        assert!(e.to_string().contains("g/kg"));
    }

    #[test]
    fn overall_verdict_and_all_errors_at_once() {
        let mut micro = limit("大肠菌群", LimitKind::Max, None, Some(10.0), "CFU/g");
        micro.microbial = true;
        let table = vec![limit("毒死蜱", LimitKind::Max, None, Some(0.02), "mg/kg"), micro];
        let j =
            judge(&table, "GB 2763-2021", "蔬菜", &[m("毒死蜱", 0.01, "mg/kg"), m("大肠菌群", 40.0, "CFU/g")]).unwrap();
        assert_eq!(j.overall, Verdict::Fail);
        assert_eq!(j.failing().count(), 1);
        assert!(j.only_microbial_failures());
        let j = judge(&table, "GB 2763-2021", "蔬菜", &[m("毒死蜱", 0.01, "mg/kg")]).unwrap();
        assert_eq!(j.overall, Verdict::Pass);
        assert!(!j.only_microbial_failures());
        let errs =
            judge(&table, "GB 2763-2021", "蔬菜", &[m("铅", 0.01, "mg/kg"), m("毒死蜱", 1.0, "g/kg")]).unwrap_err();
        assert_eq!(errs.len(), 2);
        // Another category has no rows: an error, not a pass.
        assert!(judge(&table, "GB 2763-2021", "水果", &[m("毒死蜱", 0.01, "mg/kg")]).is_err());
    }

    #[test]
    fn inconsistent_limits_are_refused() {
        assert!(limit("x", LimitKind::Max, Some(1.0), Some(2.0), "u").check().is_err());
        assert!(limit("x", LimitKind::Range, Some(3.0), Some(2.0), "u").check().is_err());
        assert!(limit("x", LimitKind::Min, None, None, "u").check().is_err());
        assert!(judge_item(&limit("x", LimitKind::Range, None, Some(2.0), "u"), &m("x", 1.0, "u")).is_err());
    }

    proptest! {
        /// A range verdict is the conjunction of the min and max verdicts.
        #[test]
        fn range_is_min_and_max(lo in -1e3f64..1e3, width in 0f64..1e3, v in -3e3f64..3e3) {
            let hi = lo + width;
            let r = judge_item(&limit("x", LimitKind::Range, Some(lo), Some(hi), "u"), &m("x", v, "u")).unwrap();
            let a = judge_item(&limit("x", LimitKind::Min, Some(lo), None, "u"), &m("x", v, "u")).unwrap();
            let b = judge_item(&limit("x", LimitKind::Max, None, Some(hi), "u"), &m("x", v, "u")).unwrap();
            prop_assert_eq!(r == Verdict::Pass, a == Verdict::Pass && b == Verdict::Pass);
        }
    }
}
