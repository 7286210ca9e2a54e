//! The Chinese working-day calendar (工作日), used for every deadline counted in working days.
//!
//! The State Council publishes each year's public holidays and make-up working days (调休上班)
//! in a notice, usually in November for the following year. Those dates are data, not code: the
//! built-in years live in `data/cn-workdays-YYYY.txt` and an administrator loads a new year with
//! [`WorkCalendar::load_year`]. A year without data falls back to Monday–Friday, and every
//! computation that had to fall back says so through [`Coverage`], because a deadline computed
//! that way may be wrong by the length of a holiday.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use time::{Date, Duration, Month, Weekday};

/// Built-in year files: (year, text). Add a line here when the next notice is published.
const BUILTIN_YEARS: &[(i32, &str)] =
    &[(2025, include_str!("../data/cn-workdays-2025.txt")), (2026, include_str!("../data/cn-workdays-2026.txt"))];

/// Errors from loading year data or from date arithmetic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// A line of a year file could not be understood.
    #[error("line {line}: {message}")]
    Parse {
        /// 1-based line number in the year file.
        line: usize,
        /// What was wrong.
        message: String,
    },
    /// The year file has no `year YYYY` line before its first date.
    #[error("the year file must start with a `year YYYY` line")]
    MissingYear,
    /// The result would fall outside the dates the calendar can represent.
    #[error("date out of range")]
    OutOfRange,
}

/// One year's official data: days off and make-up working days.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct YearData {
    days_off: BTreeSet<Date>,
    make_up_workdays: BTreeSet<Date>,
}

/// Whether a computation used official data for every year it touched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "coverage", rename_all = "snake_case")]
pub enum Coverage {
    /// Every year touched has official holiday data.
    Complete,
    /// These years had no data, so Monday–Friday was assumed for them; report this to the user.
    Fallback {
        /// Years (ascending) for which the Monday–Friday fallback was used.
        years: Vec<i32>,
    },
}

impl Coverage {
    /// True when no fallback was needed.
    pub fn is_complete(&self) -> bool {
        matches!(self, Coverage::Complete)
    }
}

/// The working-day calendar: official data per year, Monday–Friday for years without data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkCalendar {
    years: BTreeMap<i32, YearData>,
}

impl WorkCalendar {
    /// An empty calendar (every year falls back to Monday–Friday).
    pub fn empty() -> Self {
        Self::default()
    }

    /// The calendar with the built-in years (2025, 2026).
    pub fn builtin() -> Self {
        let mut calendar = Self::empty();
        for (year, text) in BUILTIN_YEARS {
            let loaded = calendar.load_year(text).expect("built-in calendar data is valid");
            debug_assert_eq!(loaded, *year);
        }
        calendar
    }

    /// Parses one year file and adds it, replacing any data already held for that year.
    /// Returns the year loaded.
    ///
    /// Format (one entry per line, `#` starts a comment):
    /// `year 2026`, then `off 2026-02-15..2026-02-23` (days off, a single date or an inclusive
    /// range) and `work 2026-02-14` (make-up working days). All dates must be in the declared year
    /// and no date may be both off and a working day.
    pub fn load_year(&mut self, text: &str) -> Result<i32, CalendarError> {
        let mut year: Option<i32> = None;
        let mut data = YearData::default();
        for (index, raw) in text.lines().enumerate() {
            let line_no = index + 1;
            let err = |message: String| CalendarError::Parse { line: line_no, message };
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let (keyword, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let rest = rest.trim();
            match keyword {
                "year" => {
                    if year.is_some() {
                        return Err(err("a second `year` line".into()));
                    }
                    let y: i32 = rest.parse().map_err(|_| err(format!("bad year `{rest}`")))?;
                    if !(1900..=9998).contains(&y) {
                        return Err(err(format!("year {y} out of range")));
                    }
                    year = Some(y);
                }
                "off" | "work" => {
                    let y = year.ok_or(CalendarError::MissingYear)?;
                    let (from, to) = match rest.split_once("..") {
                        Some((a, b)) => (parse_date(a.trim()).map_err(&err)?, parse_date(b.trim()).map_err(&err)?),
                        None => {
                            let d = parse_date(rest).map_err(&err)?;
                            (d, d)
                        }
                    };
                    if from > to {
                        return Err(err(format!("range {from}..{to} is backwards")));
                    }
                    if from.year() != y || to.year() != y {
                        return Err(err(format!("{rest} is outside year {y}")));
                    }
                    if keyword == "work" && from != to {
                        return Err(err("make-up working days are listed one per line".into()));
                    }
                    let mut d = from;
                    loop {
                        let (this, other) = if keyword == "off" {
                            (&mut data.days_off, &data.make_up_workdays)
                        } else {
                            (&mut data.make_up_workdays, &data.days_off)
                        };
                        if other.contains(&d) {
                            return Err(err(format!("{d} is listed both as a day off and as a working day")));
                        }
                        this.insert(d);
                        if d == to {
                            break;
                        }
                        d = d.next_day().ok_or(CalendarError::OutOfRange)?;
                    }
                }
                other => return Err(err(format!("unknown keyword `{other}` (expected year, off or work)"))),
            }
        }
        let y = year.ok_or(CalendarError::MissingYear)?;
        self.years.insert(y, data);
        Ok(y)
    }

    /// Years for which official data is loaded, ascending.
    pub fn years(&self) -> Vec<i32> {
        self.years.keys().copied().collect()
    }

    /// True when official data is loaded for `year`.
    pub fn has_year(&self, year: i32) -> bool {
        self.years.contains_key(&year)
    }

    /// Is `date` a working day? Years without data use Monday–Friday (see [`Coverage`]).
    pub fn is_working_day(&self, date: Date) -> bool {
        match self.years.get(&date.year()) {
            Some(data) if data.days_off.contains(&date) => false,
            Some(data) if data.make_up_workdays.contains(&date) => true,
            _ => !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday),
        }
    }

    /// The date `n` working days after `start`; `start` itself is not counted, so a deadline of
    /// "7 working days from receipt" is `add_working_days(receipt, 7)`. With `n = 0` the result is
    /// `start`. The [`Coverage`] lists the years of the days examined that had no official data.
    pub fn add_working_days(&self, start: Date, n: u32) -> Result<(Date, Coverage), CalendarError> {
        let mut missing = BTreeSet::new();
        let mut date = start;
        let mut remaining = n;
        while remaining > 0 {
            date = date.next_day().ok_or(CalendarError::OutOfRange)?;
            if !self.has_year(date.year()) {
                missing.insert(date.year());
            }
            if self.is_working_day(date) {
                remaining -= 1;
            }
        }
        let coverage = if missing.is_empty() {
            Coverage::Complete
        } else {
            Coverage::Fallback { years: missing.into_iter().collect() }
        };
        Ok((date, coverage))
    }

    /// The date `n` calendar days after `start` (calendar-day limits such as "within 90 days").
    pub fn add_calendar_days(&self, start: Date, n: u32) -> Result<Date, CalendarError> {
        start.checked_add(Duration::days(i64::from(n))).ok_or(CalendarError::OutOfRange)
    }
}

/// Parses `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Result<Date, String> {
    let bad = || format!("bad date `{text}` (expected YYYY-MM-DD)");
    let mut parts = text.split('-');
    let (Some(y), Some(m), Some(d), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let y: i32 = y.parse().map_err(|_| bad())?;
    let m: u8 = m.parse().map_err(|_| bad())?;
    let d: u8 = d.parse().map_err(|_| bad())?;
    let month = Month::try_from(m).map_err(|_| bad())?;
    Date::from_calendar_date(y, month, d).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::date;

    #[test]
    fn contract_national_day_2025() {
        let cal = WorkCalendar::builtin();
        let (d, cov) = cal.add_working_days(date!(2025 - 09 - 26), 7).unwrap();
        assert_eq!(d, date!(2025 - 10 - 13));
        assert_eq!(cov, Coverage::Complete);
    }

    #[test]
    fn make_up_days_and_holidays() {
        let cal = WorkCalendar::builtin();
        assert!(cal.is_working_day(date!(2025 - 09 - 28)), "Sunday make-up day");
        assert!(!cal.is_working_day(date!(2025 - 10 - 08)), "Wednesday in the National Day break");
        assert!(cal.is_working_day(date!(2026 - 01 - 04)));
        assert!(!cal.is_working_day(date!(2026 - 02 - 23)), "Monday 正月初七 2026");
        assert!(!cal.is_working_day(date!(2026 - 01 - 10)), "ordinary Saturday");
        assert!(cal.is_working_day(date!(2026 - 01 - 12)), "ordinary Monday");
    }

    #[test]
    fn spring_festival_2026_deadline() {
        // Received Fri 2026-02-13: Sat 14th is a make-up working day (1), 15th–23rd off,
        // 24th (2), 25th (3), 26th (4), 27th (5).
        let cal = WorkCalendar::builtin();
        assert_eq!(cal.add_working_days(date!(2026 - 02 - 13), 5).unwrap().0, date!(2026 - 02 - 27));
    }

    #[test]
    fn fallback_is_reported() {
        let cal = WorkCalendar::builtin();
        let (d, cov) = cal.add_working_days(date!(2026 - 12 - 30), 3).unwrap();
        // Thu 31st (1), Fri 2027-01-01 (2, no 2027 data so Mon–Fri), Mon 4th (3).
        assert_eq!(d, date!(2027 - 01 - 04));
        assert_eq!(cov, Coverage::Fallback { years: vec![2027] });
        assert!(!cov.is_complete());
    }

    #[test]
    fn zero_days_is_start() {
        let cal = WorkCalendar::builtin();
        let start = date!(2025 - 10 - 04);
        assert_eq!(cal.add_working_days(start, 0).unwrap(), (start, Coverage::Complete));
        assert_eq!(cal.add_calendar_days(start, 90).unwrap(), date!(2026 - 01 - 02));
    }

    #[test]
    fn load_year_replaces_and_validates() {
        let mut cal = WorkCalendar::builtin();
        assert_eq!(cal.load_year("year 2027\noff 2027-01-01 # 元旦\nwork 2027-01-03").unwrap(), 2027);
        assert!(!cal.is_working_day(date!(2027 - 01 - 01)));
        assert!(cal.is_working_day(date!(2027 - 01 - 03)));
        // Replacing the year drops the old entries.
        cal.load_year("year 2027").unwrap();
        assert!(cal.is_working_day(date!(2027 - 01 - 01)));
        assert_eq!(cal.years(), vec![2025, 2026, 2027]);

        assert_eq!(cal.load_year("off 2027-01-01"), Err(CalendarError::MissingYear));
        let e = cal.load_year("year 2027\noff 2028-01-01").unwrap_err();
        assert!(matches!(e, CalendarError::Parse { line: 2, .. }), "{e}");
        let e = cal.load_year("year 2027\noff 2027-01-01\nwork 2027-01-01").unwrap_err();
        assert!(e.to_string().contains("both"), "{e}");
        assert!(cal.load_year("year 2027\nholiday 2027-01-01").is_err());
        assert!(cal.load_year("year 2027\noff 2027-02-30").is_err());
        assert!(cal.load_year("year 2027\noff 2027-01-05..2027-01-02").is_err());
    }

    /// Every day of 2025 and 2026 agrees with the `chinese_holiday` crate, an independent
    /// transcription of the same notices (it covers dates up to 2026-12-25).
    #[test]
    fn agrees_with_chinese_holiday_crate() {
        let cal = WorkCalendar::builtin();
        let mut d = date!(2025 - 01 - 01);
        let mut checked = 0;
        while d <= date!(2026 - 12 - 25) {
            let oracle =
                chinese_holiday::chinese_holiday(chinese_holiday::Ymd::new(d.year() as u16, d.month() as u8, d.day()));
            assert_eq!(cal.is_working_day(d), oracle.is_workday(), "{d}");
            checked += 1;
            d = d.next_day().unwrap();
        }
        assert_eq!(checked, 365 + 359);
    }

    #[test]
    fn working_day_counts_per_year() {
        // 2025: 261 weekdays − 18 weekdays off + 5 make-up days = 248 (the publicly reported figure).
        // 2026: 261 weekdays − 19 weekdays off + 6 make-up days = 248.
        let cal = WorkCalendar::builtin();
        let count = |y: i32| {
            let mut d = Date::from_calendar_date(y, Month::January, 1).unwrap();
            let mut n = 0;
            while d.year() == y {
                n += usize::from(cal.is_working_day(d));
                d = d.next_day().unwrap();
            }
            n
        };
        assert_eq!(count(2025), 248);
        assert_eq!(count(2026), 248);
    }

    proptest! {
        #[test]
        fn add_working_days_lands_on_working_day_and_is_additive(
            offset in 0u32..700, a in 0u32..40, b in 0u32..40,
        ) {
            let cal = WorkCalendar::builtin();
            let start = date!(2025 - 01 - 01) + Duration::days(i64::from(offset));
            let (ab, _) = cal.add_working_days(start, a + b).unwrap();
            let (mid, _) = cal.add_working_days(start, a).unwrap();
            let (ab2, _) = cal.add_working_days(mid, b).unwrap();
            prop_assert_eq!(ab, ab2);
            if a + b > 0 {
                prop_assert!(cal.is_working_day(ab));
            }
            // Exactly a+b working days lie in (start, ab].
            let mut d = start;
            let mut n = 0;
            while d < ab {
                d = d.next_day().unwrap();
                n += u32::from(cal.is_working_day(d));
            }
            prop_assert_eq!(n, a + b);
        }
    }
}
