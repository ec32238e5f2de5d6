//! The span a report covers: whole UTC days, by default the previous calendar month.

use chrono::{Datelike, Months, NaiveDate, NaiveTime, TimeZone, Utc};

/// Longest period a report may cover, in days.
pub const MAX_PERIOD_DAYS: i64 = 366;
/// Earliest first day a report may start on.
pub const EARLIEST_DAY: NaiveDate = NaiveDate::from_ymd_opt(2000, 1, 1).expect("a date");

/// `[from, to)` in epoch ms, on UTC day boundaries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub from: i64,
    pub to: i64,
}

/// Why a period was refused, and which field is at fault.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct BadPeriod {
    pub field: &'static str,
    pub reason: String,
}

fn midnight(day: NaiveDate) -> i64 {
    Utc.from_utc_datetime(&day.and_time(NaiveTime::MIN)).timestamp_millis()
}

fn day_of(ms: i64) -> NaiveDate {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default().date_naive()
}

impl Period {
    /// The calendar month before the one `now` (epoch ms) falls in, in UTC: what the
    /// monthly report covers when it runs on the 1st.
    pub fn previous_month(now: i64) -> Period {
        let first_of_this = day_of(now).with_day(1).expect("every month has a 1st");
        let first_of_last = first_of_this.checked_sub_months(Months::new(1)).unwrap_or(first_of_this);
        Period { from: midnight(first_of_last), to: midnight(first_of_this) }
    }

    /// The days `first` to `last`, both included. Refused when `last` is before `first`,
    /// the span is longer than [`MAX_PERIOD_DAYS`], it starts before [`EARLIEST_DAY`],
    /// or it starts after `today` (nothing can have happened yet).
    pub fn days(first: NaiveDate, last: NaiveDate, today: NaiveDate) -> Result<Period, BadPeriod> {
        if first < EARLIEST_DAY {
            return Err(BadPeriod { field: "from", reason: format!("must be {EARLIEST_DAY} or later") });
        }
        if first > today {
            return Err(BadPeriod { field: "from", reason: format!("{first} has not begun (today is {today}, UTC)") });
        }
        if last < first {
            return Err(BadPeriod { field: "to", reason: format!("{last} is before from ({first})") });
        }
        if last > today {
            return Err(BadPeriod { field: "to", reason: format!("{last} has not begun (today is {today}, UTC)") });
        }
        let days = (last - first).num_days() + 1;
        if days > MAX_PERIOD_DAYS {
            return Err(BadPeriod {
                field: "to",
                reason: format!("the period is {days} days; at most {MAX_PERIOD_DAYS}"),
            });
        }
        Ok(Period { from: midnight(first), to: midnight(last) + 86_400_000 })
    }

    /// `[from, to)` as given (epoch ms): refused when `to` is not after `from`, `from` is
    /// before [`EARLIEST_DAY`], or the span is longer than [`MAX_PERIOD_DAYS`].
    pub fn bounded(from: i64, to: i64) -> Result<Period, BadPeriod> {
        if from < midnight(EARLIEST_DAY) {
            return Err(BadPeriod { field: "from", reason: format!("must be {EARLIEST_DAY} or later") });
        }
        if to <= from {
            return Err(BadPeriod { field: "to", reason: "must be after from".into() });
        }
        if to - from > MAX_PERIOD_DAYS * 86_400_000 {
            return Err(BadPeriod { field: "to", reason: format!("the period is longer than {MAX_PERIOD_DAYS} days") });
        }
        Ok(Period { from, to })
    }

    /// The first day, as `2026-11-01`.
    pub fn first_day(&self) -> NaiveDate {
        day_of(self.from)
    }

    /// The last day included, as `2026-11-30`.
    pub fn last_day(&self) -> NaiveDate {
        day_of(self.to - 1)
    }

    /// `2026-11-01 – 2026-11-30`, or one day alone.
    pub fn label(&self) -> String {
        let (first, last) = (self.first_day(), self.last_day());
        if first == last { first.to_string() } else { format!("{first} – {last}") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn the_previous_month_is_whole_utc_days() {
        let at = |text: &str| chrono::DateTime::parse_from_rfc3339(text).unwrap().timestamp_millis();
        let period = Period::previous_month(at("2026-12-01T00:00:00Z"));
        assert_eq!((period.from, period.to), (at("2026-11-01T00:00:00Z"), at("2026-12-01T00:00:00Z")));
        assert_eq!(period.label(), "2026-11-01 – 2026-11-30");
        // Across a year, and from the middle of a month.
        let january = Period::previous_month(at("2027-01-15T13:00:00Z"));
        assert_eq!(january.label(), "2026-12-01 – 2026-12-31");
        let leap = Period::previous_month(at("2028-03-01T00:00:00Z"));
        assert_eq!(leap.label(), "2028-02-01 – 2028-02-29");
    }

    #[test]
    fn a_chosen_period_is_checked_field_by_field() {
        let today = day("2026-12-07");
        let period = Period::days(day("2026-11-01"), day("2026-11-30"), today).unwrap();
        assert_eq!(period.to - period.from, 30 * 86_400_000);
        assert_eq!(Period::days(day("2026-12-07"), day("2026-12-07"), today).unwrap().label(), "2026-12-07");
        let refused = |first: &str, last: &str| Period::days(day(first), day(last), today).unwrap_err().field;
        assert_eq!(refused("2026-11-30", "2026-11-01"), "to");
        assert_eq!(refused("2025-01-01", "2026-06-01"), "to");
        assert_eq!(refused("1999-12-31", "2000-01-05"), "from");
        assert_eq!(refused("2026-12-08", "2026-12-09"), "from");
        assert_eq!(refused("2026-12-01", "2026-12-31"), "to", "a period may not end after today");
        // Bounds of a period given in ms, as a job's payload holds it.
        assert!(Period::bounded(0, 1).is_err());
        assert!(Period::bounded(period.from, i64::MAX).is_err());
        assert!(Period::bounded(period.from, period.from).is_err());
        assert_eq!(Period::bounded(period.from, period.to).unwrap(), period);
        // 366 days is allowed (a leap year).
        assert!(Period::days(day("2024-01-01"), day("2024-12-31"), today).is_ok());
    }
}
