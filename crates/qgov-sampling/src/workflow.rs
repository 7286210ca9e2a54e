//! The sample workflow as a state machine: which event may happen in which state, what it
//! leads to, which statutory clocks it starts and which steps it completes — and, when an event
//! is refused, why.
//!
//! ```text
//! sampled → delivered → passed                                   (→ published)
//!                     → recorded                                 (risk monitoring: no verdict published)
//!                     → failed → notified → retest_requested → retest_accepted → passed (overturned)
//!                                         │                  └ refused ┐        └ upheld ┐
//!                                         └ window expired ────────────┴→ failure_confirmed
//! failure_confirmed → rectification_ordered ⇄ evidence_submitted → reinspect: pass → closed
//!                                                                  fail → reinspection_failed → announced
//! announced → second re-inspection (60–90 days later): pass → closed | fail → suspended
//! suspended → final re-inspection: pass → closed | fail → licence_revoked
//! ```
//! Legal basis: SAMR Order 15 (food), SAMR Order 18 arts. 45–48 (manufactured products),
//! 农产品质量安全法 art. 51 (farm produce); the time limits themselves are in [`crate::deadline`].

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::calendar::{CalendarError, WorkCalendar};
use crate::deadline::{self, DeadlineRule, Due, Regime, StepKind, Trigger, local_date, rules_for};

/// Why a sample was taken (抽检类型). Stored on every sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SamplingPurpose {
    /// 监督抽检: enforcement sampling; failures lead to disposal and per-firm publication.
    Supervisory,
    /// 评价性抽检: statistically representative; the source of pass-rate indicators.
    Evaluative,
    /// 风险监测: hazard surveillance; no pass/fail publication.
    RiskMonitoring,
}

impl SamplingPurpose {
    /// All purposes.
    pub const ALL: [SamplingPurpose; 3] = [Self::Supervisory, Self::Evaluative, Self::RiskMonitoring];
    /// The stored key.
    pub fn key(self) -> &'static str {
        match self {
            Self::Supervisory => "supervisory",
            Self::Evaluative => "evaluative",
            Self::RiskMonitoring => "risk_monitoring",
        }
    }
    /// Parses a stored key.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.key() == s)
    }
    /// Whether results of this purpose are published with a verdict.
    pub fn publishes_verdicts(self) -> bool {
        self != Self::RiskMonitoring
    }
}

macro_rules! keyed_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $key:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name { $($(#[$vm])* #[serde(rename = $key)] $variant),+ }
        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The stored key.
            pub fn key(self) -> &'static str { match self { $($name::$variant => $key),+ } }
            /// Parses a stored key.
            pub fn parse(s: &str) -> Option<Self> { Self::ALL.iter().copied().find(|v| v.key() == s) }
        }
    };
}

keyed_enum! {
    /// Where a sample stands.
    SampleStatus {
        /// Taken on site.
        Sampled = "sampled",
        /// Received by the lab.
        Delivered = "delivered",
        /// Every item passed (or a re-test overturned the failure).
        Passed = "passed",
        /// Risk monitoring: results recorded, no verdict published.
        Recorded = "recorded",
        /// At least one item failed; notices not yet served.
        Failed = "failed",
        /// Failing report and notices served; objection / re-test windows running.
        Notified = "notified",
        /// The business applied for a re-test.
        RetestRequested = "retest_requested",
        /// Re-test accepted; backup sample with a different lab.
        RetestAccepted = "retest_accepted",
        /// The failure is final.
        FailureConfirmed = "failure_confirmed",
        /// Stop-sale and rectification ordered.
        RectificationOrdered = "rectification_ordered",
        /// The business uploaded rectification evidence.
        EvidenceSubmitted = "evidence_submitted",
        /// Still failing at re-inspection; to be announced.
        ReinspectionFailed = "reinspection_failed",
        /// Publicly announced; second re-inspection 60–90 days later.
        Announced = "announced",
        /// Business suspended for rectification (责令停业整顿).
        Suspended = "suspended",
        /// Rectified and verified, or never needed it after a pass.
        Closed = "closed",
        /// Still failing after suspension: licence revocation proposed.
        LicenceRevoked = "licence_revoked",
    }
}

keyed_enum! {
    /// Something that happens to a sample.
    EventKind {
        /// The lab received the sample.
        Deliver = "deliver",
        /// Test results recorded (outcome from the judgement).
        RecordResult = "record_result",
        /// Failing report and notices served on the sampled unit and the named producer.
        Notify = "notify",
        /// The business applies for a re-test (or objects).
        RequestRetest = "request_retest",
        /// The regulator accepts the re-test and names a different lab.
        AcceptRetest = "accept_retest",
        /// The regulator refuses the re-test.
        RefuseRetest = "refuse_retest",
        /// The re-test lab reports: `fail` upholds the failure, `pass` overturns it.
        RetestResult = "retest_result",
        /// The windows expired without a re-test: the failure is final.
        ConfirmFailure = "confirm_failure",
        /// Stop-sale and rectification ordered (责令整改).
        OrderRectification = "order_rectification",
        /// The business submits rectification evidence.
        SubmitEvidence = "submit_evidence",
        /// The regulator finds the evidence insufficient.
        RejectEvidence = "reject_evidence",
        /// Re-inspection (复查) after rectification.
        Reinspect = "reinspect",
        /// The failure is publicly announced (公告).
        Announce = "announce",
        /// Second re-inspection, 60–90 days after the announcement.
        SecondReinspect = "second_reinspect",
        /// Re-inspection after suspension.
        FinalReinspect = "final_reinspect",
    }
}

/// Outcome carried by result-type events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Passed / overturned.
    Pass,
    /// Failed / upheld.
    Fail,
}

/// An event with its details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// When it happened.
    pub at: OffsetDateTime,
    /// Result of result-type events.
    pub outcome: Option<Outcome>,
    /// Lab of `accept_retest`.
    pub lab: Option<String>,
}

impl Event {
    /// An event without outcome or lab.
    pub fn new(kind: EventKind, at: OffsetDateTime) -> Self {
        Event { kind, at, outcome: None, lab: None }
    }
    /// With an outcome.
    pub fn with_outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = Some(outcome);
        self
    }
    /// With a lab.
    pub fn with_lab(mut self, lab: &str) -> Self {
        self.lab = Some(lab.to_owned());
        self
    }
}

/// An open deadline step of a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenStep {
    /// Rule id (see [`deadline::RULES`]).
    pub rule_id: String,
    /// Last local day in time.
    pub due_on: Date,
    /// Exact instant for hour limits.
    pub due_at: Option<OffsetDateTime>,
    /// First local day allowed ("60–90 days").
    pub not_before: Option<Date>,
}

/// What the state machine needs to know about a sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// Food, manufactured product or farm produce.
    pub regime: Regime,
    /// Supervisory, evaluative or risk monitoring.
    pub purpose: SamplingPurpose,
    /// Current status.
    pub status: SampleStatus,
    /// Tested with a rapid method (farm produce: 4-hour re-test window).
    pub rapid_test: bool,
    /// The lab of the first test (a re-test must use another).
    pub first_lab: Option<String>,
    /// Every failing item is a microbial indicator (food: no re-test).
    pub only_microbial_failures: bool,
    /// When the last event happened (events cannot go back in time).
    pub last_event_at: OffsetDateTime,
    /// Deadline steps not yet done.
    pub open_steps: Vec<OpenStep>,
}

/// Why an event was refused. The message is meant for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not possible in this state.
    #[error("`{event}` is not possible while the sample is `{status}`; possible now: {possible}")]
    WrongState {
        /// Event kind.
        event: &'static str,
        /// Current status.
        status: &'static str,
        /// Events possible now, comma-separated.
        possible: String,
    },
    /// A required detail is missing.
    #[error("`{event}` needs {what}")]
    Missing {
        /// Event kind.
        event: &'static str,
        /// What is missing.
        what: &'static str,
    },
    /// The event is dated before the previous one.
    #[error("the event is dated {at}, before the previous event ({last})")]
    BackInTime {
        /// Event time.
        at: String,
        /// Last event time.
        last: String,
    },
    /// A window closed.
    #[error("the {what} window closed on {closed}")]
    WindowClosed {
        /// Which window.
        what: &'static str,
        /// Last day (or instant) of the window.
        closed: String,
    },
    /// A window is still open.
    #[error("the {what} window is open until {until}; the failure can be confirmed only after it")]
    WindowOpen {
        /// Which window.
        what: &'static str,
        /// Its last day.
        until: String,
    },
    /// Too early for a step with a "not before" day.
    #[error("too early: the {what} may be done from {from}")]
    TooEarly {
        /// Which step.
        what: &'static str,
        /// First allowed day.
        from: Date,
    },
    /// The re-test lab is the first lab.
    #[error("the re-test must be done by a different lab than the first test ({lab})")]
    SameLab {
        /// The lab.
        lab: String,
    },
    /// A legal exclusion.
    #[error("{0}")]
    NotAllowed(&'static str),
}

/// The effect of an accepted event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transition {
    /// Status before.
    pub from: SampleStatus,
    /// Status after.
    pub to: SampleStatus,
    /// Steps started, with due dates.
    pub open: Vec<(&'static DeadlineRule, Due)>,
    /// Rule ids of open steps this event completes.
    pub done: Vec<String>,
}

/// Steps a freshly sampled case starts (`at` = sampling time).
pub fn initial_steps(
    regime: Regime,
    purpose: SamplingPurpose,
    cal: &WorkCalendar,
    at: OffsetDateTime,
) -> Result<Vec<(&'static DeadlineRule, Due)>, CalendarError> {
    start(regime, purpose, Trigger::Sampled, false, cal, at)
}

fn start(
    regime: Regime,
    purpose: SamplingPurpose,
    trigger: Trigger,
    rapid: bool,
    cal: &WorkCalendar,
    at: OffsetDateTime,
) -> Result<Vec<(&'static DeadlineRule, Due)>, CalendarError> {
    if trigger == Trigger::ResultFinal && !purpose.publishes_verdicts() {
        return Ok(vec![]);
    }
    rules_for(regime, trigger, rapid).into_iter().map(|r| Ok((r, r.due(cal, at)?))).collect()
}

/// The part of a rule id after the regime (`food.retest_report` → `retest_report`).
fn step_name(rule_id: &str) -> &str {
    rule_id.split_once('.').map_or(rule_id, |(_, s)| s)
}

/// Step names an event completes.
fn completes(kind: EventKind) -> &'static [&'static str] {
    use EventKind::*;
    match kind {
        Deliver => &["delivery"],
        RecordResult => &["test_report"],
        Notify => &["failure_notice"],
        RequestRetest => &["retest_application", "retest_application_rapid", "objection"],
        AcceptRetest | RefuseRetest => &["retest_acceptance"],
        RetestResult => &["retest_report"],
        ConfirmFailure => &["retest_application", "retest_application_rapid", "objection"],
        SubmitEvidence => &["rectification"],
        Reinspect => &["reinspection"],
        SecondReinspect => &["second_reinspection"],
        OrderRectification | RejectEvidence | Announce | FinalReinspect => &[],
    }
}

/// The events possible in a status (ignoring dates and details).
pub fn possible_events(status: SampleStatus) -> &'static [EventKind] {
    use EventKind::*;
    use SampleStatus as S;
    match status {
        S::Sampled => &[Deliver],
        S::Delivered => &[RecordResult],
        S::Failed => &[Notify],
        S::Notified => &[RequestRetest, ConfirmFailure],
        S::RetestRequested => &[AcceptRetest, RefuseRetest],
        S::RetestAccepted => &[RetestResult],
        S::FailureConfirmed => &[OrderRectification],
        S::RectificationOrdered => &[SubmitEvidence, Reinspect],
        S::EvidenceSubmitted => &[SubmitEvidence, RejectEvidence, Reinspect],
        S::ReinspectionFailed => &[Announce],
        S::Announced => &[SecondReinspect],
        S::Suspended => &[FinalReinspect],
        S::Passed | S::Recorded | S::Closed | S::LicenceRevoked => &[],
    }
}

fn window_steps(case: &Case) -> impl Iterator<Item = &OpenStep> {
    case.open_steps.iter().filter(|s| {
        deadline::rule_by_id(&s.rule_id).is_some_and(|r| r.kind == StepKind::Window)
            && ["retest_application", "retest_application_rapid", "objection"].contains(&step_name(&s.rule_id))
    })
}

fn show_due(s: &OpenStep) -> String {
    match s.due_at {
        Some(at) => at.to_offset(deadline::CHINA_OFFSET).to_string(),
        None => s.due_on.to_string(),
    }
}

/// Applies an event to a case: the new status, the clocks started and the steps completed, or
/// the reason the event is refused.
pub fn apply(case: &Case, event: &Event, cal: &WorkCalendar) -> Result<Transition, Refusal> {
    use EventKind as E;
    use SampleStatus as S;
    let kind = event.kind;
    if !possible_events(case.status).contains(&kind) {
        return Err(Refusal::WrongState {
            event: kind.key(),
            status: case.status.key(),
            possible: match possible_events(case.status) {
                [] => "none (the case is closed)".into(),
                list => list.iter().map(|e| e.key()).collect::<Vec<_>>().join(", "),
            },
        });
    }
    if event.at < case.last_event_at {
        return Err(Refusal::BackInTime { at: event.at.to_string(), last: case.last_event_at.to_string() });
    }
    let outcome = || event.outcome.ok_or(Refusal::Missing { event: kind.key(), what: "an outcome (pass or fail)" });
    let day = local_date(event.at);
    let (to, trigger) = match kind {
        E::Deliver => (S::Delivered, Some(Trigger::Delivered)),
        E::RecordResult => {
            if !case.purpose.publishes_verdicts() {
                (S::Recorded, None)
            } else {
                match outcome()? {
                    Outcome::Pass => (S::Passed, Some(Trigger::ResultFinal)),
                    Outcome::Fail => (S::Failed, Some(Trigger::FailingResult)),
                }
            }
        }
        E::Notify => (S::Notified, Some(Trigger::Notified)),
        E::RequestRetest => {
            if case.regime == Regime::Food && case.only_microbial_failures {
                return Err(Refusal::NotAllowed(
                    "no re-test for failures of microbial indicators (食品安全抽样检验管理办法)",
                ));
            }
            let windows: Vec<&OpenStep> = window_steps(case).collect();
            if windows.is_empty() {
                return Err(Refusal::NotAllowed("no re-test window is open for this sample"));
            }
            if let Some(w) = windows.iter().find(|w| deadline::is_late(w.due_on, w.due_at, event.at)) {
                return Err(Refusal::WindowClosed { what: "re-test application", closed: show_due(w) });
            }
            (S::RetestRequested, Some(Trigger::RetestRequested))
        }
        E::AcceptRetest => {
            let lab = event.lab.as_deref().map(str::trim).filter(|l| !l.is_empty());
            let lab = lab.ok_or(Refusal::Missing { event: kind.key(), what: "the re-test lab" })?;
            if let Some(first) = &case.first_lab
                && first.trim() == lab
            {
                return Err(Refusal::SameLab { lab: lab.to_owned() });
            }
            (S::RetestAccepted, Some(Trigger::RetestAccepted))
        }
        E::RefuseRetest => (S::FailureConfirmed, Some(Trigger::FailureConfirmed)),
        E::RetestResult => match outcome()? {
            Outcome::Pass => (S::Passed, Some(Trigger::ResultFinal)),
            Outcome::Fail => (S::FailureConfirmed, Some(Trigger::FailureConfirmed)),
        },
        E::ConfirmFailure => {
            if let Some(w) = window_steps(case).find(|w| !deadline::is_late(w.due_on, w.due_at, event.at)) {
                return Err(Refusal::WindowOpen { what: "re-test application", until: show_due(w) });
            }
            (S::FailureConfirmed, Some(Trigger::FailureConfirmed))
        }
        E::OrderRectification => (S::RectificationOrdered, Some(Trigger::RectificationOrdered)),
        E::SubmitEvidence => (S::EvidenceSubmitted, None),
        E::RejectEvidence => (S::RectificationOrdered, None),
        E::Reinspect => match outcome()? {
            Outcome::Pass => (S::Closed, None),
            Outcome::Fail => (S::ReinspectionFailed, None),
        },
        E::Announce => (S::Announced, Some(Trigger::Announced)),
        E::SecondReinspect => {
            let step = case.open_steps.iter().find(|s| step_name(&s.rule_id) == "second_reinspection");
            if let Some(from) = step.and_then(|s| s.not_before)
                && day < from
            {
                return Err(Refusal::TooEarly { what: "second re-inspection", from });
            }
            match outcome()? {
                Outcome::Pass => (S::Closed, None),
                Outcome::Fail => (S::Suspended, None),
            }
        }
        E::FinalReinspect => match outcome()? {
            Outcome::Pass => (S::Closed, None),
            Outcome::Fail => (S::LicenceRevoked, None),
        },
    };
    let mut open = Vec::new();
    if let Some(t) = trigger {
        open.extend(
            start(case.regime, case.purpose, t, case.rapid_test, cal, event.at)
                .map_err(|_| Refusal::NotAllowed("a due date falls outside the dates the calendar can represent"))?,
        );
        // A final failure also starts the publication clock.
        if t == Trigger::FailureConfirmed {
            open.extend(
                start(case.regime, case.purpose, Trigger::ResultFinal, false, cal, event.at).map_err(|_| {
                    Refusal::NotAllowed("a due date falls outside the dates the calendar can represent")
                })?,
            );
        }
    }
    let names = completes(kind);
    let mut done: Vec<String> =
        case.open_steps.iter().filter(|s| names.contains(&step_name(&s.rule_id))).map(|s| s.rule_id.clone()).collect();
    // Reaching the end completes every remaining obligation but publication.
    if matches!(to, S::Closed | S::LicenceRevoked | S::Recorded) {
        for s in &case.open_steps {
            if step_name(&s.rule_id) != "publication" && !done.contains(&s.rule_id) {
                done.push(s.rule_id.clone());
            }
        }
    }
    Ok(Transition { from: case.status, to, open, done })
}

impl Case {
    /// A freshly sampled case with its initial steps.
    pub fn new(
        regime: Regime,
        purpose: SamplingPurpose,
        sampled_at: OffsetDateTime,
        cal: &WorkCalendar,
    ) -> Result<Case, CalendarError> {
        let open_steps = initial_steps(regime, purpose, cal, sampled_at)?
            .into_iter()
            .map(|(r, d)| OpenStep {
                rule_id: r.id.to_owned(),
                due_on: d.due_on,
                due_at: d.due_at,
                not_before: d.not_before,
            })
            .collect();
        Ok(Case {
            regime,
            purpose,
            status: SampleStatus::Sampled,
            rapid_test: false,
            first_lab: None,
            only_microbial_failures: false,
            last_event_at: sampled_at,
            open_steps,
        })
    }

    /// Applies an event and updates the case in place (for tests and simulations; the store
    /// keeps the same facts in its tables).
    pub fn step(&mut self, event: &Event, cal: &WorkCalendar) -> Result<Transition, Refusal> {
        let t = apply(self, event, cal)?;
        self.status = t.to;
        self.last_event_at = event.at;
        self.open_steps.retain(|s| !t.done.contains(&s.rule_id));
        for (r, d) in &t.open {
            self.open_steps.push(OpenStep {
                rule_id: r.id.to_owned(),
                due_on: d.due_on,
                due_at: d.due_at,
                not_before: d.not_before,
            });
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::{date, datetime};

    fn cal() -> WorkCalendar {
        WorkCalendar::builtin()
    }

    fn ev(kind: EventKind, at: OffsetDateTime) -> Event {
        Event::new(kind, at)
    }

    fn open_ids(c: &Case) -> Vec<&str> {
        let mut v: Vec<&str> = c.open_steps.iter().map(|s| s.rule_id.as_str()).collect();
        v.sort();
        v
    }

    #[test]
    fn food_failure_walk_with_due_dates() {
        let cal = cal();
        let mut c =
            Case::new(Regime::Food, SamplingPurpose::Supervisory, datetime!(2025-09-22 02:00 UTC), &cal).unwrap();
        assert_eq!(open_ids(&c), ["food.delivery"]);
        c.first_lab = Some("天津市食品安全检测技术研究院".into());
        c.step(&ev(EventKind::Deliver, datetime!(2025-09-23 02:00 UTC)), &cal).unwrap();
        let t = c
            .step(&ev(EventKind::RecordResult, datetime!(2025-09-25 02:00 UTC)).with_outcome(Outcome::Fail), &cal)
            .unwrap();
        assert_eq!(t.to, SampleStatus::Failed);
        assert_eq!(t.done, ["food.test_report"]);
        assert_eq!(open_ids(&c), ["food.failure_notice"]);
        // Notified Fri 26 Sep: the re-test window runs 7 WD over the National Day break, to 13 Oct.
        c.step(&ev(EventKind::Notify, datetime!(2025-09-26 02:00 UTC)), &cal).unwrap();
        let window = c.open_steps.iter().find(|s| s.rule_id == "food.retest_application").unwrap();
        assert_eq!(window.due_on, date!(2025 - 10 - 13));
        // Confirming the failure while the window is open is refused, and says until when.
        let e = c.step(&ev(EventKind::ConfirmFailure, datetime!(2025-10-10 02:00 UTC)), &cal).unwrap_err();
        assert_eq!(e, Refusal::WindowOpen { what: "re-test application", until: "2025-10-13".into() });
        // A re-test applied for on the last day is in time; the same lab is refused.
        c.step(&ev(EventKind::RequestRetest, datetime!(2025-10-13 09:00 UTC)), &cal).unwrap();
        assert_eq!(open_ids(&c), ["food.retest_acceptance"]);
        let same =
            ev(EventKind::AcceptRetest, datetime!(2025-10-14 02:00 UTC)).with_lab("天津市食品安全检测技术研究院");
        assert!(matches!(c.step(&same, &cal), Err(Refusal::SameLab { .. })));
        c.step(&ev(EventKind::AcceptRetest, datetime!(2025-10-14 02:00 UTC)).with_lab("北京某检测中心"), &cal).unwrap();
        assert_eq!(c.open_steps[0].rule_id, "food.retest_report");
        let t = c
            .step(&ev(EventKind::RetestResult, datetime!(2025-10-20 02:00 UTC)).with_outcome(Outcome::Fail), &cal)
            .unwrap();
        assert_eq!(t.to, SampleStatus::FailureConfirmed);
        assert_eq!(open_ids(&c), ["food.disposal", "food.publication"]);
        c.step(&ev(EventKind::OrderRectification, datetime!(2025-10-21 02:00 UTC)), &cal).unwrap();
        c.step(&ev(EventKind::SubmitEvidence, datetime!(2025-10-30 02:00 UTC)), &cal).unwrap();
        let t = c
            .step(&ev(EventKind::Reinspect, datetime!(2025-11-03 02:00 UTC)).with_outcome(Outcome::Pass), &cal)
            .unwrap();
        assert_eq!(t.to, SampleStatus::Closed);
        assert_eq!(open_ids(&c), ["food.publication"], "closing completes all but publication");
        let e = c.step(&ev(EventKind::Notify, datetime!(2025-11-04 02:00 UTC)), &cal).unwrap_err();
        assert!(e.to_string().contains("none (the case is closed)"), "{e}");
    }

    #[test]
    fn late_retest_and_microbial_failures_are_refused() {
        let cal = cal();
        let notified = |microbial: bool| {
            let mut c =
                Case::new(Regime::Food, SamplingPurpose::Supervisory, datetime!(2026-03-02 01:00 UTC), &cal).unwrap();
            c.only_microbial_failures = microbial;
            c.step(&ev(EventKind::Deliver, datetime!(2026-03-02 05:00 UTC)), &cal).unwrap();
            c.step(&ev(EventKind::RecordResult, datetime!(2026-03-03 01:00 UTC)).with_outcome(Outcome::Fail), &cal)
                .unwrap();
            c.step(&ev(EventKind::Notify, datetime!(2026-03-04 01:00 UTC)), &cal).unwrap();
            c
        };
        // Notified Wed 4 March 2026: 7 WD → Fri 13 March.
        let mut c = notified(false);
        let e = c.step(&ev(EventKind::RequestRetest, datetime!(2026-03-15 01:00 UTC)), &cal).unwrap_err();
        assert_eq!(e, Refusal::WindowClosed { what: "re-test application", closed: "2026-03-13".into() });
        c.step(&ev(EventKind::ConfirmFailure, datetime!(2026-03-16 01:00 UTC)), &cal).unwrap();
        assert_eq!(c.status, SampleStatus::FailureConfirmed);
        let mut m = notified(true);
        let e = m.step(&ev(EventKind::RequestRetest, datetime!(2026-03-05 01:00 UTC)), &cal).unwrap_err();
        assert!(e.to_string().contains("microbial"), "{e}");
    }

    #[test]
    fn manufactured_products_announcement_and_second_reinspection() {
        let cal = cal();
        let mut c =
            Case::new(Regime::Manufactured, SamplingPurpose::Supervisory, datetime!(2026-01-05 02:00 UTC), &cal)
                .unwrap();
        assert!(c.open_steps.is_empty(), "no delivery limit for manufactured products");
        for (k, at, o) in [
            (EventKind::Deliver, datetime!(2026-01-06 02:00 UTC), None),
            (EventKind::RecordResult, datetime!(2026-01-20 02:00 UTC), Some(Outcome::Fail)),
            (EventKind::Notify, datetime!(2026-01-21 02:00 UTC), None),
        ] {
            let mut e = ev(k, at);
            e.outcome = o;
            c.step(&e, &cal).unwrap();
        }
        // The objection window is 15 calendar days: 21 Jan → 5 Feb.
        assert_eq!(
            c.open_steps.iter().find(|s| s.rule_id == "manufactured.objection").unwrap().due_on,
            date!(2026 - 02 - 05)
        );
        c.step(&ev(EventKind::ConfirmFailure, datetime!(2026-02-06 02:00 UTC)), &cal).unwrap();
        c.step(&ev(EventKind::OrderRectification, datetime!(2026-02-09 02:00 UTC)), &cal).unwrap();
        let due = |c: &Case, id: &str| c.open_steps.iter().find(|s| s.rule_id == id).map(|s| s.due_on);
        assert_eq!(due(&c, "manufactured.rectification"), Some(date!(2026 - 04 - 10)));
        assert_eq!(due(&c, "manufactured.reinspection"), Some(date!(2026 - 04 - 25)));
        c.step(&ev(EventKind::Reinspect, datetime!(2026-04-20 02:00 UTC)).with_outcome(Outcome::Fail), &cal).unwrap();
        assert_eq!(c.status, SampleStatus::ReinspectionFailed);
        c.step(&ev(EventKind::Announce, datetime!(2026-04-30 02:00 UTC)), &cal).unwrap();
        let early = ev(EventKind::SecondReinspect, datetime!(2026-06-01 02:00 UTC)).with_outcome(Outcome::Pass);
        assert_eq!(
            c.step(&early, &cal).unwrap_err(),
            Refusal::TooEarly { what: "second re-inspection", from: date!(2026 - 06 - 29) }
        );
        c.step(&ev(EventKind::SecondReinspect, datetime!(2026-07-01 02:00 UTC)).with_outcome(Outcome::Fail), &cal)
            .unwrap();
        assert_eq!(c.status, SampleStatus::Suspended);
        c.step(&ev(EventKind::FinalReinspect, datetime!(2026-08-01 02:00 UTC)).with_outcome(Outcome::Fail), &cal)
            .unwrap();
        assert_eq!(c.status, SampleStatus::LicenceRevoked);
    }

    #[test]
    fn farm_produce_rapid_test_window_is_four_hours() {
        let cal = cal();
        let mut c = Case::new(Regime::FarmProduce, SamplingPurpose::Supervisory, datetime!(2026-03-02 01:00 UTC), &cal)
            .unwrap();
        c.rapid_test = true;
        c.step(&ev(EventKind::Deliver, datetime!(2026-03-02 01:10 UTC)), &cal).unwrap();
        c.step(&ev(EventKind::RecordResult, datetime!(2026-03-02 01:30 UTC)).with_outcome(Outcome::Fail), &cal)
            .unwrap();
        c.step(&ev(EventKind::Notify, datetime!(2026-03-02 02:00 UTC)), &cal).unwrap();
        let w = &c.open_steps[0];
        assert_eq!(
            (w.rule_id.as_str(), w.due_at),
            ("farm_produce.retest_application_rapid", Some(datetime!(2026-03-02 06:00 UTC)))
        );
        let late = ev(EventKind::RequestRetest, datetime!(2026-03-02 06:01 UTC));
        assert!(matches!(c.step(&late, &cal), Err(Refusal::WindowClosed { .. })));
    }

    #[test]
    fn risk_monitoring_records_without_verdict_or_publication() {
        let cal = cal();
        let mut c =
            Case::new(Regime::Food, SamplingPurpose::RiskMonitoring, datetime!(2026-03-02 01:00 UTC), &cal).unwrap();
        c.step(&ev(EventKind::Deliver, datetime!(2026-03-03 01:00 UTC)), &cal).unwrap();
        let t = c.step(&ev(EventKind::RecordResult, datetime!(2026-03-05 01:00 UTC)), &cal).unwrap();
        assert_eq!(t.to, SampleStatus::Recorded);
        assert!(c.open_steps.is_empty());
    }

    #[test]
    fn refusals_say_why() {
        let cal = cal();
        let mut c =
            Case::new(Regime::Food, SamplingPurpose::Evaluative, datetime!(2026-03-02 01:00 UTC), &cal).unwrap();
        let e = c.step(&ev(EventKind::Notify, datetime!(2026-03-03 01:00 UTC)), &cal).unwrap_err();
        assert_eq!(e.to_string(), "`notify` is not possible while the sample is `sampled`; possible now: deliver");
        let e = c.step(&ev(EventKind::Deliver, datetime!(2026-03-01 01:00 UTC)), &cal).unwrap_err();
        assert!(matches!(e, Refusal::BackInTime { .. }));
        c.step(&ev(EventKind::Deliver, datetime!(2026-03-03 01:00 UTC)), &cal).unwrap();
        let e = c.step(&ev(EventKind::RecordResult, datetime!(2026-03-04 01:00 UTC)), &cal).unwrap_err();
        assert_eq!(e, Refusal::Missing { event: "record_result", what: "an outcome (pass or fail)" });
        assert_eq!(EventKind::parse("submit_evidence"), Some(EventKind::SubmitEvidence));
        assert_eq!(SampleStatus::parse("closed"), Some(SampleStatus::Closed));
    }

    proptest! {
        /// Whatever events arrive, in any order, the case only ever moves along allowed edges,
        /// never loses track of a step twice, and terminal states accept nothing.
        #[test]
        fn random_event_sequences_respect_the_graph(
            seq in proptest::collection::vec((0usize..15, 0u8..3, 1i64..200), 0..40),
            regime in 0usize..3, purpose in 0usize..3,
        ) {
            let cal = cal();
            let mut at = datetime!(2025-06-02 02:00 UTC);
            let mut c = Case::new(Regime::ALL[regime], SamplingPurpose::ALL[purpose], at, &cal).unwrap();
            c.first_lab = Some("L1".into());
            for (k, o, hours) in seq {
                at += time::Duration::hours(hours);
                let kind = EventKind::ALL[k];
                let mut e = Event::new(kind, at);
                e.outcome = [None, Some(Outcome::Pass), Some(Outcome::Fail)][o as usize];
                e.lab = Some("L2".into());
                let before = c.clone();
                match c.step(&e, &cal) {
                    Ok(t) => {
                        prop_assert!(possible_events(before.status).contains(&kind));
                        prop_assert_eq!(t.from, before.status);
                        prop_assert_eq!(c.status, t.to);
                        for d in &t.done {
                            prop_assert!(before.open_steps.iter().any(|s| &s.rule_id == d));
                        }
                    }
                    Err(_) => prop_assert_eq!(&c, &before),
                }
                if possible_events(c.status).is_empty() {
                    prop_assert!(c.step(&Event::new(EventKind::Deliver, at), &cal).is_err());
                }
            }
        }
    }
}
