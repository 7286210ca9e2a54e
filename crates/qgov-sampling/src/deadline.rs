//! Statutory time limits of the sampling workflow, kept as data.
//!
//! Every limit is a [`DeadlineRule`]: which regime it belongs to, which workflow event starts the
//! clock, how long it runs (working days, calendar days or hours), whether it is an obligation of
//! the authority or the lab (it becomes *overdue* when missed) or a window granted to the business
//! (it *expires*), and the legal basis with a confidence tag as in `DOMAIN.md` (\[V\] read in the
//! text, \[S\] secondary source, \[M\] from memory — verify before relying on it). Due dates are
//! computed with the [`WorkCalendar`]; a date computed with the Monday–Friday fallback carries the
//! [`Coverage`] that says so, and must be shown as "estimated (Mon–Fri)".

use serde::{Deserialize, Serialize};
use time::{Date, Duration, OffsetDateTime, UtcOffset};

use crate::calendar::{CalendarError, Coverage, WorkCalendar};

/// China Standard Time: statutory days are counted on the local calendar.
pub const CHINA_OFFSET: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(o) => o,
    Err(_) => panic!("valid offset"),
};

/// The local (UTC+8) date of an instant.
pub fn local_date(at: OffsetDateTime) -> Date {
    at.to_offset(CHINA_OFFSET).date()
}

/// Which body of rules a sample falls under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Regime {
    /// Food: 食品安全抽样检验管理办法 (SAMR Order 15, 2019, amended 2022) and Food Safety Law art. 88.
    Food,
    /// Manufactured (non-food) products: 产品质量监督抽查管理暂行办法 (SAMR Order 18, 2019).
    Manufactured,
    /// Edible farm produce: 农产品质量安全法 (2022) art. 51.
    FarmProduce,
}

impl Regime {
    /// All regimes.
    pub const ALL: [Regime; 3] = [Regime::Food, Regime::Manufactured, Regime::FarmProduce];
    /// The stored key.
    pub fn key(self) -> &'static str {
        match self {
            Regime::Food => "food",
            Regime::Manufactured => "manufactured",
            Regime::FarmProduce => "farm_produce",
        }
    }
    /// Parses a stored key.
    pub fn parse(s: &str) -> Option<Regime> {
        Self::ALL.into_iter().find(|r| r.key() == s)
    }
}

/// The unit a limit is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DurationUnit {
    /// 工作日: the start day is not counted; weekends, holidays and make-up days per the calendar.
    WorkingDays,
    /// Calendar days after the start day.
    CalendarDays,
    /// Clock hours after the start instant.
    Hours,
}

/// Who is bound by a limit, and what missing it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// The authority or the lab must act by the due date; missed, the step is overdue.
    Obligation,
    /// A right of the business (objection, re-test application); missed, it expires.
    Window,
}

/// The workflow event that starts a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// On-site sampling done.
    Sampled,
    /// The lab received the sample.
    Delivered,
    /// The lab reported a failing result to the regulator.
    FailingResult,
    /// Any final result (pass, or failure confirmed) is available for publication.
    ResultFinal,
    /// The failing report and notice were served on the sampled unit.
    Notified,
    /// The business applied for a re-test.
    RetestRequested,
    /// The re-test was accepted and the backup sample sent to a different lab.
    RetestAccepted,
    /// The failure is final (no re-test, re-test refused or upheld).
    FailureConfirmed,
    /// Stop-sale and rectification were ordered.
    RectificationOrdered,
    /// The failure after re-inspection was publicly announced.
    Announced,
}

/// One statutory time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DeadlineRule {
    /// Stable id, e.g. `food.test_report`.
    pub id: &'static str,
    /// Regime the rule belongs to.
    pub regime: Regime,
    /// Event that starts the clock.
    pub trigger: Trigger,
    /// Length of the limit.
    pub duration: u32,
    /// For a window that may not be used before some time ("60–90 days"): its earliest day.
    pub not_before: Option<u32>,
    /// Unit of `duration` and `not_before`.
    pub unit: DurationUnit,
    /// Obligation (becomes overdue) or window (expires).
    pub kind: StepKind,
    /// What has to happen, in English.
    pub step: &'static str,
    /// Legal basis and confidence tag.
    pub legal_basis: &'static str,
}

use DurationUnit::{CalendarDays as Days, Hours, WorkingDays as Wd};
use StepKind::{Obligation, Window};

/// Every rule, as data. Changing a limit means changing one line here (and its test).
pub const RULES: &[DeadlineRule] = &[
    // ---- Food: SAMR Order 15 ----
    rule(
        "food.delivery",
        Regime::Food,
        Trigger::Sampled,
        5,
        Wd,
        Obligation,
        "samples and documents delivered to the lab",
        "食品安全抽样检验管理办法 art. 20 [S]",
    ),
    rule(
        "food.test_report",
        Regime::Food,
        Trigger::Delivered,
        20,
        Wd,
        Obligation,
        "lab issues the test report",
        "食品安全抽样检验管理办法 art. 24 [S]",
    ),
    rule(
        "food.failure_notice",
        Regime::Food,
        Trigger::FailingResult,
        5,
        Wd,
        Obligation,
        "failing report and notice served on the sampled unit; named producer informed",
        "食品安全抽样检验管理办法 art. 29 [M]",
    ),
    rule(
        "food.retest_application",
        Regime::Food,
        Trigger::Notified,
        7,
        Wd,
        Window,
        "business may apply for a re-test",
        "食品安全法 art. 88; 食品安全抽样检验管理办法 art. 30 [S]",
    ),
    rule(
        "food.objection",
        Regime::Food,
        Trigger::Notified,
        7,
        Wd,
        Window,
        "business may object to the sampling process or method",
        "食品安全抽样检验管理办法 arts. 37–38 [M]",
    ),
    rule(
        "food.retest_acceptance",
        Regime::Food,
        Trigger::RetestRequested,
        5,
        Wd,
        Obligation,
        "regulator accepts or refuses the re-test application",
        "食品安全抽样检验管理办法 art. 32 [M]; Hainan rule [S]",
    ),
    rule(
        "food.retest_report",
        Regime::Food,
        Trigger::RetestAccepted,
        10,
        Wd,
        Obligation,
        "re-test lab reports",
        "食品安全抽样检验管理办法 art. 33 [M]",
    ),
    rule(
        "food.disposal",
        Regime::Food,
        Trigger::FailureConfirmed,
        90,
        Days,
        Obligation,
        "investigation and disposal (核查处置) completed",
        "食品安全抽样检验管理办法 art. 45 [M]",
    ),
    rule(
        "food.publication",
        Regime::Food,
        Trigger::ResultFinal,
        20,
        Wd,
        Obligation,
        "result published",
        "食品生产经营监督检查管理办法 art. 39; 企业信息公示暂行条例 arts. 6–7 [V]",
    ),
    // ---- Manufactured products: SAMR Order 18 ----
    rule(
        "manufactured.test_report",
        Regime::Manufactured,
        Trigger::Delivered,
        20,
        Wd,
        Obligation,
        "lab issues the test report",
        "产品质量监督抽查管理暂行办法 [M]",
    ),
    rule(
        "manufactured.failure_notice",
        Regime::Manufactured,
        Trigger::FailingResult,
        5,
        Wd,
        Obligation,
        "failing result served on the sampled unit and the named producer",
        "产品质量监督抽查管理暂行办法 [M]",
    ),
    rule(
        "manufactured.objection",
        Regime::Manufactured,
        Trigger::Notified,
        15,
        Days,
        Window,
        "business may object and apply for a re-test",
        "产品质量法 art. 15 [V]; 产品质量监督抽查管理暂行办法 [S]",
    ),
    rule(
        "manufactured.retest_acceptance",
        Regime::Manufactured,
        Trigger::RetestRequested,
        3,
        Wd,
        Obligation,
        "regulator accepts or refuses the objection",
        "local refinement [S: ryxmt.com.cn]",
    ),
    rule(
        "manufactured.rectification",
        Regime::Manufactured,
        Trigger::RectificationOrdered,
        60,
        Days,
        Obligation,
        "business completes rectification",
        "产品质量监督抽查管理暂行办法 art. 46 [S]",
    ),
    rule(
        "manufactured.reinspection",
        Regime::Manufactured,
        Trigger::RectificationOrdered,
        75,
        Days,
        Obligation,
        "regulator re-inspects (复查)",
        "产品质量监督抽查管理暂行办法 art. 47 [S]",
    ),
    rule_between(
        "manufactured.second_reinspection",
        Regime::Manufactured,
        Trigger::Announced,
        60,
        90,
        Days,
        Obligation,
        "second re-inspection, 60–90 days after the announcement",
        "产品质量监督抽查管理暂行办法 art. 48 [S]",
    ),
    rule(
        "manufactured.publication",
        Regime::Manufactured,
        Trigger::ResultFinal,
        20,
        Wd,
        Obligation,
        "result published",
        "企业信息公示暂行条例 arts. 6–7 [V]",
    ),
    // ---- Farm produce: 农产品质量安全法 (2022) ----
    rule(
        "farm_produce.retest_application",
        Regime::FarmProduce,
        Trigger::Notified,
        5,
        Wd,
        Window,
        "business may apply for a re-test",
        "农产品质量安全法 art. 51 [V]",
    ),
    rule(
        "farm_produce.retest_application_rapid",
        Regime::FarmProduce,
        Trigger::Notified,
        4,
        Hours,
        Window,
        "business may apply for a re-test of a rapid-test result",
        "农产品质量安全法 art. 51 [V]",
    ),
    rule(
        "farm_produce.retest_report",
        Regime::FarmProduce,
        Trigger::RetestAccepted,
        7,
        Wd,
        Obligation,
        "re-test lab reports (not by rapid methods, not the first lab)",
        "农产品质量安全法 art. 51 [V]",
    ),
    rule(
        "farm_produce.publication",
        Regime::FarmProduce,
        Trigger::ResultFinal,
        20,
        Wd,
        Obligation,
        "result published",
        "企业信息公示暂行条例 arts. 6–7 [V]",
    ),
];

#[allow(clippy::too_many_arguments)]
const fn rule(
    id: &'static str,
    regime: Regime,
    trigger: Trigger,
    duration: u32,
    unit: DurationUnit,
    kind: StepKind,
    step: &'static str,
    legal_basis: &'static str,
) -> DeadlineRule {
    DeadlineRule { id, regime, trigger, duration, not_before: None, unit, kind, step, legal_basis }
}

#[allow(clippy::too_many_arguments)]
const fn rule_between(
    id: &'static str,
    regime: Regime,
    trigger: Trigger,
    not_before: u32,
    duration: u32,
    unit: DurationUnit,
    kind: StepKind,
    step: &'static str,
    legal_basis: &'static str,
) -> DeadlineRule {
    DeadlineRule { id, regime, trigger, duration, not_before: Some(not_before), unit, kind, step, legal_basis }
}

/// The rule with this id.
pub fn rule_by_id(id: &str) -> Option<&'static DeadlineRule> {
    RULES.iter().find(|r| r.id == id)
}

/// The rules a trigger starts for a regime. `rapid_test` picks the 4-hour farm-produce window
/// instead of the 5-working-day one.
pub fn rules_for(regime: Regime, trigger: Trigger, rapid_test: bool) -> Vec<&'static DeadlineRule> {
    RULES
        .iter()
        .filter(|r| r.regime == regime && r.trigger == trigger)
        .filter(|r| match r.id {
            "farm_produce.retest_application" => !rapid_test,
            "farm_produce.retest_application_rapid" => rapid_test,
            _ => true,
        })
        .collect()
}

/// A computed due date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Due {
    /// Last local (UTC+8) day on which the step is in time.
    pub due_on: Date,
    /// For hour limits: the exact instant.
    pub due_at: Option<OffsetDateTime>,
    /// For "between" limits: the first local day on which the step may be taken.
    pub not_before: Option<Date>,
    /// Whether holiday data covered every day counted (otherwise: "estimated, Mon–Fri").
    pub coverage: Coverage,
}

impl Due {
    /// True when the date used the Monday–Friday fallback and must be shown as an estimate.
    pub fn is_estimated(&self) -> bool {
        !self.coverage.is_complete()
    }
}

impl DeadlineRule {
    /// The due date of this rule for a clock started at `start`.
    pub fn due(&self, cal: &WorkCalendar, start: OffsetDateTime) -> Result<Due, CalendarError> {
        let day = local_date(start);
        let add = |n: u32| -> Result<(Date, Coverage), CalendarError> {
            match self.unit {
                DurationUnit::WorkingDays => cal.add_working_days(day, n),
                DurationUnit::CalendarDays => Ok((cal.add_calendar_days(day, n)?, Coverage::Complete)),
                DurationUnit::Hours => Ok((day, Coverage::Complete)),
            }
        };
        if self.unit == DurationUnit::Hours {
            let at = start.checked_add(Duration::hours(i64::from(self.duration))).ok_or(CalendarError::OutOfRange)?;
            return Ok(Due {
                due_on: local_date(at),
                due_at: Some(at),
                not_before: None,
                coverage: Coverage::Complete,
            });
        }
        let (due_on, coverage) = add(self.duration)?;
        let not_before = match self.not_before {
            Some(n) => Some(add(n)?.0),
            None => None,
        };
        Ok(Due { due_on, due_at: None, not_before, coverage })
    }
}

/// Is a step due at `due` late at instant `now`? Late means: after the due instant for hour
/// limits, after the due day (local) otherwise.
pub fn is_late(due_on: Date, due_at: Option<OffsetDateTime>, now: OffsetDateTime) -> bool {
    match due_at {
        Some(at) => now > at,
        None => local_date(now) > due_on,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use time::macros::{date, datetime};

    #[test]
    fn ids_are_unique_and_prefixed_by_regime() {
        let mut seen = HashSet::new();
        for r in RULES {
            assert!(seen.insert(r.id), "duplicate rule {}", r.id);
            assert!(r.id.starts_with(&format!("{}.", r.regime.key())), "{}", r.id);
            assert!(!r.legal_basis.is_empty() && r.duration > 0);
            if let Some(n) = r.not_before {
                assert!(n < r.duration, "{}", r.id);
            }
        }
    }

    #[test]
    fn food_limits_match_order_15() {
        let get = |id| rule_by_id(id).unwrap();
        assert_eq!((get("food.test_report").duration, get("food.test_report").unit), (20, DurationUnit::WorkingDays));
        assert_eq!(get("food.failure_notice").duration, 5);
        assert_eq!(get("food.retest_application").duration, 7);
        assert_eq!(get("food.retest_application").kind, StepKind::Window);
        assert_eq!(get("food.retest_acceptance").duration, 5);
        assert_eq!(get("food.publication").duration, 20);
        assert_eq!(get("manufactured.objection").unit, DurationUnit::CalendarDays);
        assert_eq!(get("manufactured.rectification").duration, 60);
        assert_eq!(get("manufactured.reinspection").duration, 75);
        assert_eq!(get("manufactured.second_reinspection").not_before, Some(60));
        assert_eq!(get("farm_produce.retest_application_rapid").unit, DurationUnit::Hours);
        assert_eq!(get("farm_produce.retest_report").duration, 7);
    }

    #[test]
    fn working_day_due_dates_skip_the_national_day_break() {
        let cal = WorkCalendar::builtin();
        // Notified Fri 2025-09-26, 10:00 Beijing time: 7 WD → Mon 2025-10-13 (the CLI contract date).
        let notified = datetime!(2025-09-26 02:00 UTC);
        let due = rule_by_id("food.retest_application").unwrap().due(&cal, notified).unwrap();
        assert_eq!(due.due_on, date!(2025 - 10 - 13));
        assert!(!due.is_estimated());
        // 23:30 UTC on the 25th is already the 26th in Beijing.
        let late_evening = datetime!(2025-09-25 23:30 UTC);
        assert_eq!(
            rule_by_id("food.retest_application").unwrap().due(&cal, late_evening).unwrap().due_on,
            date!(2025 - 10 - 13)
        );
    }

    #[test]
    fn calendar_days_hours_and_between() {
        let cal = WorkCalendar::builtin();
        let t = datetime!(2026-03-02 01:00 UTC);
        assert_eq!(
            rule_by_id("manufactured.rectification").unwrap().due(&cal, t).unwrap().due_on,
            date!(2026 - 05 - 01)
        );
        assert_eq!(
            rule_by_id("manufactured.reinspection").unwrap().due(&cal, t).unwrap().due_on,
            date!(2026 - 05 - 16)
        );
        let d = rule_by_id("manufactured.second_reinspection").unwrap().due(&cal, t).unwrap();
        assert_eq!((d.not_before, d.due_on), (Some(date!(2026 - 05 - 01)), date!(2026 - 05 - 31)));
        let rapid = rule_by_id("farm_produce.retest_application_rapid").unwrap().due(&cal, t).unwrap();
        assert_eq!(rapid.due_at, Some(datetime!(2026-03-02 05:00 UTC)));
        assert!(is_late(rapid.due_on, rapid.due_at, datetime!(2026-03-02 05:00:01 UTC)));
        assert!(!is_late(rapid.due_on, rapid.due_at, datetime!(2026-03-02 05:00 UTC)));
    }

    #[test]
    fn a_year_without_data_is_flagged_estimated() {
        let cal = WorkCalendar::builtin();
        let due = rule_by_id("food.test_report").unwrap().due(&cal, datetime!(2026-12-20 02:00 UTC)).unwrap();
        assert!(due.is_estimated());
        assert_eq!(due.coverage, Coverage::Fallback { years: vec![2027] });
    }

    #[test]
    fn rapid_tests_pick_the_four_hour_window() {
        let ids =
            |rapid| rules_for(Regime::FarmProduce, Trigger::Notified, rapid).iter().map(|r| r.id).collect::<Vec<_>>();
        assert_eq!(ids(false), ["farm_produce.retest_application"]);
        assert_eq!(ids(true), ["farm_produce.retest_application_rapid"]);
        assert_eq!(rules_for(Regime::Food, Trigger::Notified, false).len(), 2);
    }

    #[test]
    fn lateness_is_judged_on_the_local_day() {
        let due_on = date!(2026 - 03 - 10);
        assert!(!is_late(due_on, None, datetime!(2026-03-10 15:59 UTC))); // 23:59 in Beijing
        assert!(is_late(due_on, None, datetime!(2026-03-10 16:00 UTC))); // next day in Beijing
    }
}
