//! Scheduled subscriptions: the query schedule of EPCIS 2.0 §8.2.5.3 (`QuerySchedule`, the
//! `schedule` object of the REST binding) as a pure type, and the background task that runs
//! each scheduled subscription's named query when its schedule comes due.
//!
//! # The schedule (EPCIS 2.0 §8.2.5.3)
//!
//! Six optional string fields, each a comma-separated list of numbers and `[lo-hi]` ranges
//! (`QueryScheduleField ::= Element ("," Element)*`, `Range ::= "[" Number "-" Number "]"`):
//! `second` 0–59, `minute` 0–59, `hour` 0–23, `dayOfMonth` 1–31, `month` 1–12 and `dayOfWeek`
//! 1–7 (1 = Monday … 7 = Sunday). A time is a query time when every field that is *present*
//! matches; the standard says an omitted field is not consulted, so it matches every value:
//! `{"hour": "1", "minute": "5"}` fires every second from 01:05:00 to 01:05:59 (the OpenAPI
//! example's "1.05am" needs `"second": "0"` to fire once). We follow the standard's text rather
//! than cron's habit of defaulting seconds to 0. The standard lets the service pick the time
//! zone; ours is UTC. A number outside its field's range, a range whose start exceeds its end, or
//! anything off the grammar is a `SubscriptionControlsException` (the standard's rule), and so
//! is a schedule that can never fire (`{"dayOfMonth": "31", "month": "2"}`), which the standard
//! asks for when the service knows it cannot honour a schedule. Fields the standard does not
//! define are refused too, so that a misspelt `"minutes"` does not silently mean "every minute".
//!
//! # Running
//!
//! [`spawn_scheduler`] starts one task per server. It re-reads the scheduled subscriptions
//! when one comes due, every [`REREAD`] and whenever [`wake`] is called (after a subscribe or
//! an unsubscribe), and sleeps until the next due time.
//!
//! A run first *claims* its firing (`Store::epcis_claim_run`: one conditional UPDATE of the
//! subscription row, which succeeds only while the window still starts where the run read it
//! and no other run's claim is live), so that when several servers share one database exactly
//! one of them queries and delivers each firing and the others skip it. The claim is a lease of
//! [`CLAIM_LEASE`], renewed with every accepted chunk and let go when the run ends, so a server
//! that dies mid-run holds the subscription for one lease at most. (A single delivery that
//! outlasted a whole lease could be repeated by another server; the webhook client's timeouts
//! keep one delivery well under it.)
//!
//! The winner executes the named query over the events whose `recordTime` lies in
//! `[window start, run time)`, in the subscriber's view (an enterprise's subscription sees what
//! that enterprise may read), and delivers the result exactly as a stream delivery is delivered
//! (`super::post_results`: the EPCIS query document in the subscription's EPC format, with its
//! `subscriptionID`, `GS1-Signature` when it has a `signatureToken`), at most
//! [`DELIVERY_CHUNK`] events per request: a larger window goes as consecutive chunks in order
//! of `recordTime`, then of capture (so in that order whatever `orderBy` the named query
//! asks for). After each accepted chunk the stored window start moves to just after its last
//! event, kept as that event's record time *and* row key: one capture gives all its events (up
//! to the capture limit) one record time, so a chunk may end inside such a group, and a bare
//! record time could then only repeat the rest of the group or skip it. An empty result is sent
//! only when `reportIfEmpty`. After the last chunk was accepted (or there was nothing to send)
//! the window start moves to the run time (the OpenAPI's `GS1-Query-Min-Record-Time`: "updated
//! to the most recent execution timestamp"); after a failed delivery it stays after the last
//! accepted chunk, so the next run sends the rest again with any newer events, and nothing
//! twice. Firings missed while the server was down are not replayed one by one: the next
//! firing covers the whole window since the last successful run.

use super::{EpcisError, Exception, Res};
use qgov_epcis::model::Timestamp;
use qgov_store::Store;
use qgov_store::epcis::query::micros;
use qgov_store::epcis::{RunClaim, ScheduledSubscription, WindowStart};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Duration;
use time::{Date, Month, OffsetDateTime, Time};

/// A parsed query schedule: for each field, the set of values it matches as a bit mask
/// (bit `n` set: value `n` matches; an omitted field has every bit of its range set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    second: u64,
    minute: u64,
    hour: u64,
    day_of_month: u64,
    month: u64,
    day_of_week: u64,
}

/// Why a `schedule` object is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", self.path())]
pub struct ScheduleError {
    /// The field at fault (`second`, …, `dayOfWeek`, or the unknown name); empty when the
    /// `schedule` value itself is wrong.
    pub field: String,
    /// What is wrong, quoting the offending value.
    pub message: String,
}

impl ScheduleError {
    /// Where the problem is: `schedule.dayOfWeek`, or `schedule` for the whole value.
    pub fn path(&self) -> String {
        if self.field.is_empty() { "schedule".to_owned() } else { format!("schedule.{}", self.field) }
    }
}

/// The fields of §8.2.5.3 with their legal ranges.
const FIELDS: [(&str, u8, u8); 6] = [
    ("second", 0, 59),
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("dayOfMonth", 1, 31),
    ("month", 1, 12),
    ("dayOfWeek", 1, 7),
];

/// Bits `lo..=hi` set.
const fn span(lo: u8, hi: u8) -> u64 {
    (u64::MAX >> (63 - hi as u32)) & (u64::MAX << lo as u32)
}

/// How far ahead [`Schedule::next_after`] looks: the Gregorian calendar, weekdays included,
/// repeats every 400 years (146 097 days, a whole number of weeks), so a schedule with no
/// firing in that span has none at all.
const CYCLE_DAYS: i64 = 146_097;

impl Schedule {
    /// Parses the `schedule` object of a subscription.
    pub fn parse(v: &Value) -> Result<Self, ScheduleError> {
        let err = |field: &str, message: String| ScheduleError { field: field.to_owned(), message };
        let Value::Object(m) = v else {
            return Err(err("", "must be an object with second, minute, hour, dayOfMonth, month, dayOfWeek".into()));
        };
        if let Some(k) = m.keys().find(|k| !FIELDS.iter().any(|(f, ..)| f == k)) {
            return Err(err(
                k,
                "is not a schedule field (second, minute, hour, dayOfMonth, month, dayOfWeek; EPCIS 2.0 §8.2.5.3)"
                    .into(),
            ));
        }
        let mut masks = [0u64; 6];
        for (mask, &(name, lo, hi)) in masks.iter_mut().zip(FIELDS.iter()) {
            *mask = match m.get(name) {
                None => span(lo, hi),
                Some(Value::String(s)) => parse_field(s, lo, hi).map_err(|message| err(name, message))?,
                Some(other) => return Err(err(name, format!("must be a string such as \"0,30\" (got {other})"))),
            };
        }
        let [second, minute, hour, day_of_month, month, day_of_week] = masks;
        let s = Schedule { second, minute, hour, day_of_month, month, day_of_week };
        // Whether it can fire at all depends only on the date fields; any start will do.
        if s.next_after(OffsetDateTime::UNIX_EPOCH).is_none() {
            let present: Vec<&str> =
                ["dayOfMonth", "month", "dayOfWeek"].into_iter().filter(|f| m.contains_key(*f)).collect();
            return Err(err(
                &present.join("/"),
                "no date has this day of the month in these months (on these weekdays): the schedule never fires"
                    .into(),
            ));
        }
        Ok(s)
    }

    /// Whether `t` (taken in UTC, to the second) is a query time.
    pub fn matches(&self, t: OffsetDateTime) -> bool {
        let t = t.to_offset(time::UtcOffset::UTC);
        self.date_matches(t.date())
            && has(self.hour, t.hour())
            && has(self.minute, t.minute())
            && has(self.second, t.second())
    }

    /// The first query time strictly after `t` (whole seconds, UTC); `None` if there is none
    /// within 400 years, which for a parsed schedule cannot happen.
    pub fn next_after(&self, t: OffsetDateTime) -> Option<OffsetDateTime> {
        let t = t.to_offset(time::UtcOffset::UTC);
        let start = t.replace_nanosecond(0).ok()?.checked_add(time::Duration::SECOND)?;
        let last = start.date().checked_add(time::Duration::days(CYCLE_DAYS))?;
        // On the first day, times from `start`; on later days, from midnight.
        let mut from = Some(start.time());
        let mut date = start.date();
        while date <= last {
            if !has(self.month, u8::from(date.month())) {
                date = first_of_next_month(date)?;
                from = None;
                continue;
            }
            if self.date_matches(date)
                && let Some(tod) = self.time_at_or_after(from.unwrap_or(Time::MIDNIGHT))
            {
                return Some(date.with_time(tod).assume_utc());
            }
            date = date.next_day()?;
            from = None;
        }
        None
    }

    fn date_matches(&self, d: Date) -> bool {
        has(self.month, u8::from(d.month()))
            && has(self.day_of_month, d.day())
            && has(self.day_of_week, d.weekday().number_from_monday())
    }

    /// The first time of day at or after `from` whose hour, minute and second match.
    fn time_at_or_after(&self, from: Time) -> Option<Time> {
        let (h0, m0, s0) = from.as_hms();
        let mut h = next_in(self.hour, h0, 23)?;
        loop {
            let mut m = next_in(self.minute, if h == h0 { m0 } else { 0 }, 59);
            while let Some(mm) = m {
                let s_from = if h == h0 && mm == m0 { s0 } else { 0 };
                if let Some(s) = next_in(self.second, s_from, 59) {
                    return Time::from_hms(h, mm, s).ok();
                }
                // No matching second left in this minute: the next matching minute.
                m = next_in(self.minute, mm + 1, 59);
            }
            h = next_in(self.hour, h + 1, 23)?;
        }
    }
}

fn has(mask: u64, v: u8) -> bool {
    mask & (1u64 << v) != 0
}

/// The smallest value `>= from` and `<= hi` in `mask`.
fn next_in(mask: u64, from: u8, hi: u8) -> Option<u8> {
    if from > hi {
        return None;
    }
    let rest = mask & span(from, hi);
    (rest != 0).then(|| rest.trailing_zeros() as u8)
}

fn first_of_next_month(d: Date) -> Option<Date> {
    let (y, m) =
        if d.month() == Month::December { (d.year() + 1, Month::January) } else { (d.year(), d.month().next()) };
    Date::from_calendar_date(y, m, 1).ok()
}

/// One field's value: `Element ("," Element)*`, `Element ::= Number | "[" Number "-" Number "]"`.
fn parse_field(s: &str, lo: u8, hi: u8) -> Result<u64, String> {
    let number = |n: &str| -> Result<u8, String> {
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "{n:?} is not a number or a [lo-hi] range (ranges are written in brackets, e.g. \"[{lo}-{hi}]\")"
            ));
        }
        match n.parse::<u8>() {
            Ok(v) if (lo..=hi).contains(&v) => Ok(v),
            _ => Err(format!("{n} is out of range {lo}–{hi}")),
        }
    };
    if s.trim().is_empty() {
        return Err("is empty: give numbers or [lo-hi] ranges separated by commas, or omit the field".into());
    }
    let mut mask = 0u64;
    for element in s.split(',') {
        let e = element.trim();
        if let Some(inner) = e.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            let Some((a, b)) = inner.split_once('-') else {
                return Err(format!("{e:?} is not a range: write [lo-hi]"));
            };
            let (a, b) = (number(a.trim())?, number(b.trim())?);
            if a > b {
                return Err(format!("{e}: the range starts after it ends"));
            }
            mask |= span(a, b);
        } else {
            mask |= 1u64 << number(e)?;
        }
    }
    Ok(mask)
}

// ---------------------------------------------------------------------------------------------
// The scheduler

/// Longest sleep between two readings of the subscriptions (subscriptions made by another
/// server on the same database are noticed within this).
pub const REREAD: Duration = Duration::from_secs(10);

/// Pause after the subscriptions could not be read.
const RETRY: Duration = Duration::from_secs(1);

/// How long a run's claim on its subscription lasts unless renewed (each accepted chunk renews
/// it): how long a server that died mid-run keeps others from running the subscription. Far
/// longer than one delivery can take (`webhook::post`: 5 s to connect, 10 s to write, 10 s to
/// read) with the chunk's query before it.
pub const CLAIM_LEASE: Duration = Duration::from_secs(300);

/// Most events in one delivery of a scheduled run (the capture limit: what this server would
/// accept in one document itself).
pub const DELIVERY_CHUNK: usize = super::CAPTURE_LIMIT;

/// Wakes every scheduler in the process to re-read the subscriptions. A process-wide signal
/// rather than one in `AppState`: a spurious wake only costs one read.
static WAKE: LazyLock<tokio::sync::watch::Sender<u64>> = LazyLock::new(|| tokio::sync::watch::Sender::new(0));

/// Asks the scheduler to re-read the subscriptions now (after a subscribe or unsubscribe).
pub fn wake() {
    WAKE.send_modify(|n| *n = n.wrapping_add(1));
}

/// The running scheduler; dropping it stops the task.
#[must_use = "the scheduler stops when this is dropped"]
#[derive(Debug)]
pub struct Scheduler(tokio::task::JoinHandle<()>);

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts running the scheduled subscriptions of `store` (call inside the server's runtime).
pub fn spawn_scheduler(store: Store) -> Scheduler {
    Scheduler(tokio::spawn(run_schedules(store)))
}

/// What the scheduler keeps per subscription between readings.
struct Slot {
    schedule: Option<Schedule>,
    due: Option<OffsetDateTime>,
    running: Option<tokio::task::JoinHandle<()>>,
}

async fn run_schedules(store: Store) {
    let mut woken = WAKE.subscribe();
    let mut slots: HashMap<String, Slot> = HashMap::new();
    loop {
        let now = OffsetDateTime::now_utc();
        let read = store.epcis_scheduled_subscriptions().await;
        let failed = read.is_err();
        match read {
            Ok(subs) => {
                slots.retain(|id, _| subs.iter().any(|s| &s.subscription.id == id));
                for s in subs {
                    let id = s.subscription.id.clone();
                    let slot = slots.entry(id.clone()).or_insert_with(|| {
                        let schedule = match s.subscription.schedule.as_ref().map(Schedule::parse) {
                            Some(Ok(p)) => Some(p),
                            Some(Err(e)) => {
                                tracing::warn!(subscription = %id, error = %e, "scheduled subscription not run");
                                None
                            }
                            None => None,
                        };
                        Slot { due: schedule.and_then(|p| p.next_after(now)), schedule, running: None }
                    });
                    let (Some(schedule), Some(due)) = (slot.schedule, slot.due) else { continue };
                    if due > now {
                        continue;
                    }
                    slot.due = schedule.next_after(now);
                    if slot.running.as_ref().is_some_and(|h| !h.is_finished()) {
                        // The previous run (a slow subscriber) still holds the window; the next
                        // firing covers this one's events.
                        tracing::debug!(subscription = %id, "previous run still in progress; firing skipped");
                        continue;
                    }
                    let store = store.clone();
                    slot.running = Some(tokio::spawn(async move {
                        match run_firing(&store, &s, now, DELIVERY_CHUNK).await {
                            Ok(firing) => tracing::debug!(subscription = %s.subscription.id, ?firing, "scheduled run"),
                            Err(e) => {
                                tracing::warn!(subscription = %s.subscription.id, error = %e.detail, "scheduled run failed");
                            }
                        }
                    }));
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read scheduled subscriptions"),
        }
        let next = slots.values().filter_map(|s| s.due).min();
        let sleep = match next {
            Some(due) => {
                let left = due - OffsetDateTime::now_utc();
                Duration::try_from(left).unwrap_or(Duration::ZERO).min(REREAD)
            }
            None => REREAD,
        };
        // A database that cannot be read is not asked again at once.
        let sleep = if failed { sleep.max(RETRY) } else { sleep };
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = woken.changed() => {}
        }
    }
}

/// What one firing of a scheduled subscription did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Firing {
    /// The window starts after the firing (an `initialRecordTime` in the future).
    NotDue,
    /// Another run holds the subscription, or has moved its window on since it was read: that
    /// run delivers.
    ClaimedElsewhere,
    /// The whole window went out in `requests` accepted requests (0: nothing to send).
    Delivered { requests: usize },
    /// A delivery was refused or the subscriber could not be reached after `requests` accepted
    /// requests, and the window now starts after the last event they carried; or the run lost
    /// its claim (unsubscribed, or the lease lapsed and another run carries on).
    Interrupted { requests: usize },
}

/// One firing of a scheduled subscription read as `s`, at `at`: claims it, runs the named
/// query over `[window start, until)`, `until` being `at` or the settled record time after it,
/// and delivers the result in requests of at most `chunk` events, moving the window on after
/// each. The scheduler passes [`DELIVERY_CHUNK`]; public so that tests can use a small chunk.
#[doc(hidden)]
pub async fn run_firing(
    store: &Store,
    s: &ScheduledSubscription,
    at: OffsetDateTime,
    chunk: usize,
) -> Result<Firing, EpcisError> {
    let sub = &s.subscription;
    // The window ends at the firing time, or later if a capture was still committing then:
    // everything recorded before `until` is committed and visible to the queries below.
    let until = micros(&Timestamp(at)).max(store.epcis_settled_record_time().await?);
    if until <= s.start.record_time {
        return Ok(Firing::NotDue);
    }
    let Some(claim) = store.epcis_claim_run(&sub.id, s.start, now_micros(), lease_end()).await? else {
        return Ok(Firing::ClaimedElsewhere);
    };
    let run = deliver(store, s, &claim, until, chunk).await;
    if !matches!(run, Ok(Firing::Delivered { .. })) {
        // Let the next firing, here or on another server, start at once where this one stopped
        // (a whole delivered window let go of the claim as it moved on).
        if let Err(e) = store.epcis_release_run(&claim).await {
            tracing::warn!(subscription = %sub.id, error = %e, "cannot release the run's claim; it lapses by itself");
        }
    }
    run
}

/// The claimed part of [`run_firing`]: the queries and deliveries, chunk by chunk.
async fn deliver(store: &Store, s: &ScheduledSubscription, claim: &RunClaim, until: i64, chunk: usize) -> Res<Firing> {
    let sub = &s.subscription;
    let nq = super::named(store, &sub.query_name).await?;
    let prefixes = store.epcis_prefixes().await?;
    // As for stream deliveries, the result limits of the named query do not apply (the store
    // drops them, and its order, for a window).
    let q = super::parse_query(&super::json_params(&nq.query)?, &prefixes)?;
    let scope = super::subscriber_scope(sub);
    let mut start = s.start;
    let mut requests = 0;
    loop {
        let part = store.epcis_window_chunk(&q, scope, start, until, chunk as u64).await?;
        let send = !part.events.is_empty() || (requests == 0 && sub.report_if_empty);
        if send && !super::post_results(sub, &part.events).await? {
            // Refused or unreachable (logged): the window keeps its start for the next firing.
            return Ok(Firing::Interrupted { requests });
        }
        requests += usize::from(send);
        let (to, lease) = match part.rest {
            Some(rest) => (rest, Some(lease_end())),
            None => (WindowStart::at(until), None),
        };
        if !store.epcis_advance_run(claim, to, send, lease).await? {
            // Unsubscribed meanwhile, or this run outlasted its lease and another took it over.
            tracing::warn!(subscription = %sub.id, "scheduled run lost its claim; stopping");
            return Ok(Firing::Interrupted { requests });
        }
        if lease.is_none() {
            return Ok(Firing::Delivered { requests });
        }
        start = to;
    }
}

fn now_micros() -> i64 {
    micros(&Timestamp(OffsetDateTime::now_utc()))
}

/// When a claim taken or renewed now lapses.
fn lease_end() -> i64 {
    now_micros().saturating_add(CLAIM_LEASE.as_micros() as i64)
}

impl From<ScheduleError> for EpcisError {
    fn from(e: ScheduleError) -> Self {
        EpcisError {
            kind: Exception::SubscriptionControls,
            detail: e.to_string(),
            errors: vec![serde_json::json!({"parameter": e.path(), "detail": e.message})],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    fn sched(v: Value) -> Schedule {
        Schedule::parse(&v).unwrap_or_else(|e| panic!("{v}: {e}"))
    }

    fn refused(v: Value) -> ScheduleError {
        Schedule::parse(&v).expect_err(&v.to_string())
    }

    /// The first query time after `t` by walking second by second (for at most `limit` s).
    /// Slow: only for schedules that fire at least weekly.
    fn brute(s: &Schedule, t: OffsetDateTime, limit: i64) -> Option<OffsetDateTime> {
        let mut c = t.replace_nanosecond(0).unwrap();
        for _ in 0..limit {
            c += time::Duration::SECOND;
            if s.matches(c) {
                return Some(c);
            }
        }
        None
    }

    #[test]
    fn every_second_and_omitted_fields_match_everything() {
        // §8.2.5.3: omitted fields are not consulted, so `{}` fires every second.
        let s = sched(json!({}));
        assert_eq!(s.next_after(datetime!(2024-05-01 08:00:00.5 UTC)), Some(datetime!(2024-05-01 08:00:01 UTC)));
        assert_eq!(s.next_after(datetime!(2024-05-01 08:00:01 UTC)), Some(datetime!(2024-05-01 08:00:02 UTC)));
        let s = sched(json!({"second": "[0-59]"}));
        assert_eq!(s.next_after(datetime!(2024-12-31 23:59:59 UTC)), Some(datetime!(2025-01-01 00:00:00 UTC)));
        // The OpenAPI's "1.05am" example without a second fires every second of that minute.
        let s = sched(json!({"hour": "1", "minute": "5"}));
        assert_eq!(s.next_after(datetime!(2024-05-01 01:05:10 UTC)), Some(datetime!(2024-05-01 01:05:11 UTC)));
        assert_eq!(s.next_after(datetime!(2024-05-01 01:05:59 UTC)), Some(datetime!(2024-05-02 01:05:00 UTC)));
    }

    #[test]
    fn daily_at_a_fixed_time() {
        let s = sched(json!({"second": "0", "minute": "5", "hour": "1"}));
        assert_eq!(s.next_after(datetime!(2024-05-01 00:00:00 UTC)), Some(datetime!(2024-05-01 01:05:00 UTC)));
        assert_eq!(s.next_after(datetime!(2024-05-01 01:05:00 UTC)), Some(datetime!(2024-05-02 01:05:00 UTC)));
        // A time given in another offset is taken in UTC.
        assert_eq!(s.next_after(datetime!(2024-05-01 09:06:00 +08:00)), Some(datetime!(2024-05-02 01:05:00 UTC)));
    }

    #[test]
    fn lists_and_ranges() {
        // Every 30 minutes on the hour and half hour, 09:00–17:30, on weekdays (the standard's
        // own kind of example).
        let s = sched(json!({"second": "0", "minute": "0,30", "hour": "[9-17]", "dayOfWeek": "[1-5]"}));
        // Friday 2024-05-03 17:30 → Monday 2024-05-06 09:00.
        assert_eq!(s.next_after(datetime!(2024-05-03 17:30:00 UTC)), Some(datetime!(2024-05-06 09:00:00 UTC)));
        assert_eq!(s.next_after(datetime!(2024-05-06 09:00:00 UTC)), Some(datetime!(2024-05-06 09:30:00 UTC)));
        assert_eq!(s.next_after(datetime!(2024-05-06 09:29:59.9 UTC)), Some(datetime!(2024-05-06 09:30:00 UTC)));
        // Mixed list of numbers and ranges, spaces tolerated around elements.
        let s = sched(json!({"second": "5, [10-12] ,59"}));
        let t = datetime!(2024-05-01 00:00:00 UTC);
        let got: Vec<u8> =
            std::iter::successors(s.next_after(t), |x| s.next_after(*x)).take(6).map(|x| x.second()).collect();
        assert_eq!(got, [5, 10, 11, 12, 59, 5]);
    }

    #[test]
    fn month_and_day_of_week_combinations() {
        // First Monday of each quarter-start month, 06:00:00.
        let s = sched(
            json!({"second": "0", "minute": "0", "hour": "6", "month": "1,4,7,10", "dayOfMonth": "[1-7]", "dayOfWeek": "1"}),
        );
        assert_eq!(s.next_after(datetime!(2024-01-01 06:00:00 UTC)), Some(datetime!(2024-04-01 06:00:00 UTC)));
        assert_eq!(s.next_after(datetime!(2024-04-01 06:00:00 UTC)), Some(datetime!(2024-07-01 06:00:00 UTC)));
        assert_eq!(s.next_after(datetime!(2024-07-01 06:00:00 UTC)), Some(datetime!(2024-10-07 06:00:00 UTC)));
        // Day of month and day of week must both hold (not cron's "either"): Friday the 13th.
        let s = sched(json!({"second": "0", "minute": "0", "hour": "0", "dayOfMonth": "13", "dayOfWeek": "5"}));
        assert_eq!(s.next_after(datetime!(2024-01-01 00:00:00 UTC)), Some(datetime!(2024-09-13 00:00:00 UTC)));
        assert_eq!(s.next_after(datetime!(2024-09-13 00:00:00 UTC)), Some(datetime!(2024-12-13 00:00:00 UTC)));
        // Sunday is 7.
        let s = sched(json!({"second": "0", "minute": "0", "hour": "12", "dayOfWeek": "7"}));
        assert_eq!(s.next_after(datetime!(2024-05-01 00:00:00 UTC)), Some(datetime!(2024-05-05 12:00:00 UTC)));
        // Day 31 skips the short months.
        let s = sched(json!({"second": "0", "minute": "0", "hour": "0", "dayOfMonth": "31"}));
        assert_eq!(s.next_after(datetime!(2024-03-31 00:00:00 UTC)), Some(datetime!(2024-05-31 00:00:00 UTC)));
        assert_eq!(s.next_after(datetime!(2024-12-31 00:00:00 UTC)), Some(datetime!(2025-01-31 00:00:00 UTC)));
    }

    #[test]
    fn leap_day() {
        let s = sched(json!({"second": "0", "minute": "0", "hour": "0", "dayOfMonth": "29", "month": "2"}));
        assert_eq!(s.next_after(datetime!(2024-02-29 00:00:00 UTC)), Some(datetime!(2028-02-29 00:00:00 UTC)));
        // 2100 is not a leap year.
        assert_eq!(s.next_after(datetime!(2096-03-01 00:00:00 UTC)), Some(datetime!(2104-02-29 00:00:00 UTC)));
        // 29 February on a Monday: the next one after 2016 is in 2044.
        let s = sched(
            json!({"second": "0", "minute": "0", "hour": "0", "dayOfMonth": "29", "month": "2", "dayOfWeek": "1"}),
        );
        assert_eq!(s.next_after(datetime!(2016-02-29 00:00:00 UTC)), Some(datetime!(2044-02-29 00:00:00 UTC)));
    }

    #[test]
    fn a_minute_without_a_second_left_rolls_over() {
        let s = sched(json!({"second": "10", "minute": "[0-1]", "hour": "[3-4]"}));
        assert_eq!(s.next_after(datetime!(2024-05-01 03:00:30 UTC)), Some(datetime!(2024-05-01 03:01:10 UTC)));
        assert_eq!(s.next_after(datetime!(2024-05-01 03:01:30 UTC)), Some(datetime!(2024-05-01 04:00:10 UTC)));
        assert_eq!(s.next_after(datetime!(2024-05-01 04:01:10 UTC)), Some(datetime!(2024-05-02 03:00:10 UTC)));
    }

    #[test]
    fn next_after_agrees_with_walking_second_by_second() {
        let schedules = [
            json!({"second": "[0-59]"}),
            json!({"second": "7,41", "minute": "[3-5],59"}),
            json!({"second": "0", "minute": "[10-12]", "hour": "0,23"}),
            json!({"second": "30", "minute": "0", "hour": "[22-23]", "dayOfWeek": "6,7"}),
        ];
        let starts = [
            datetime!(2024-02-28 23:59:59.999 UTC),
            datetime!(2024-05-03 22:10:00 UTC),
            datetime!(2023-12-31 23:58:30 UTC),
            datetime!(2025-03-01 00:00:00 UTC),
        ];
        for v in schedules {
            let s = sched(v.clone());
            for t in starts {
                let want = brute(&s, t, 8 * 86_400);
                assert_eq!(s.next_after(t), want, "{v} after {t}");
            }
        }
    }

    #[test]
    fn invalid_values_name_the_field_and_the_value() {
        let e = refused(json!({"dayOfWeek": "8"}));
        assert_eq!(e.field, "dayOfWeek");
        assert_eq!(e.to_string(), "schedule.dayOfWeek: 8 is out of range 1–7");
        let e = refused(json!({"second": "0-59"}));
        assert_eq!(e.field, "second");
        assert!(e.message.contains("\"0-59\"") && e.message.contains("[0-59]"), "{e}");
        let e = refused(json!({"hour": "24"}));
        assert_eq!((e.field.as_str(), e.message.as_str()), ("hour", "24 is out of range 0–23"));
        assert_eq!(refused(json!({"dayOfMonth": "0"})).field, "dayOfMonth");
        assert_eq!(refused(json!({"month": "13"})).message, "13 is out of range 1–12");
        assert_eq!(refused(json!({"minute": "[30-10]"})).message, "[30-10]: the range starts after it ends");
        assert_eq!(refused(json!({"minute": "5,"})).field, "minute");
        assert_eq!(refused(json!({"minute": "[5]"})).message, "\"[5]\" is not a range: write [lo-hi]");
        assert_eq!(refused(json!({"minute": "-1"})).field, "minute");
        assert_eq!(refused(json!({"minute": "999999999999"})).message, "999999999999 is out of range 0–59");
        assert!(refused(json!({"minute": ""})).message.starts_with("is empty"));
        assert!(refused(json!({"minute": 5})).message.starts_with("must be a string"));
        assert_eq!(refused(json!({"minutes": "5"})).field, "minutes");
        let e = refused(json!("every day"));
        assert_eq!(
            e.to_string(),
            "schedule: must be an object with second, minute, hour, dayOfMonth, month, dayOfWeek"
        );
        assert_eq!(refused(Value::Null).path(), "schedule");
    }

    #[test]
    fn a_schedule_that_never_fires_is_refused() {
        let e = refused(json!({"dayOfMonth": "31", "month": "2,4,6,9,11"}));
        assert_eq!(e.field, "dayOfMonth/month");
        assert!(e.message.contains("never fires"), "{e}");
        assert_eq!(refused(json!({"dayOfMonth": "30", "month": "2"})).field, "dayOfMonth/month");
        // But 29 February is only rare, and it falls on every weekday in time.
        sched(json!({"dayOfMonth": "29", "month": "2", "dayOfWeek": "3"}));
    }

    #[test]
    fn errors_become_subscription_controls_exceptions() {
        let e = EpcisError::from(refused(json!({"dayOfWeek": "0"})));
        assert_eq!(e.kind, Exception::SubscriptionControls);
        assert_eq!(e.detail, "schedule.dayOfWeek: 0 is out of range 1–7");
        assert_eq!(e.errors[0]["parameter"], "schedule.dayOfWeek");
    }
}
