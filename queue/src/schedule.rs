//! Schedule definitions and the cron arithmetic behind them. No I/O here.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use serde::{Deserialize, Serialize};

use crate::error::QueueError;
use crate::types::NewJob;

/// Latest time a schedule may name (the last millisecond of the year 9999).
pub(crate) const MAX_EPOCH_MS: i64 = 253_402_300_799_999;
/// Longest gap between the jobs of one fan-out.
const MAX_STAGGER: Duration = Duration::from_secs(24 * 3600);
/// Most jobs one tick may fan out to.
pub const MAX_FAN_OUT: usize = 10_000;
/// A cron must fire within this long of its upsert, or it is refused as never firing. Nine
/// years: a leap-day schedule (`0 0 29 2 *`) waits up to eight (2096 to 2104).
const MAX_FIRST_TICK_WAIT_MS: i64 = 9 * 366 * 24 * 3600 * 1000;

/// What to do with ticks that passed while no scheduler ran (downtime).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "policy", rename_all = "snake_case")]
pub enum MisfirePolicy {
    /// Fire none of them; carry on with the next tick.
    #[default]
    Skip,
    /// Fire once, for the latest missed tick.
    RunOnce,
    /// Fire each missed tick, the latest `max` of them.
    RunEach { max: u32 },
}

/// A recurring job: when (cron in a time zone), what (a job template), and how.
///
/// Time zones are IANA names and DST-correct, following croner: a fixed time that does not
/// exist on the spring-forward day (02:30 in Europe/Berlin) fires at the first instant
/// after the gap (03:00); a fixed time that happens twice on the fall-back day fires once,
/// at its first occurrence; interval patterns (`*/15 * * * *`) fire in both halves of the
/// repeated hour.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// Unique; upserting the same name again updates it, never duplicates it.
    pub name: String,
    /// 5 fields (minute precision) or 6 (with seconds first); `@hourly` etc. also work.
    pub cron: String,
    /// IANA time zone, e.g. `Europe/Berlin` (default `UTC`).
    #[serde(default = "utc")]
    pub timezone: String,
    /// Queue the fired jobs go to.
    pub queue: String,
    /// The job each tick enqueues (its dedup key is set per tick).
    pub job: NewJob,
    /// One job per element instead of one per tick: each element is merged into the
    /// template payload (objects) or replaces it, e.g. one per organisation.
    #[serde(default)]
    pub fan_out: Vec<serde_json::Value>,
    /// Delay between the fan-out jobs of one tick (job i starts i × stagger later).
    #[serde(default, with = "crate::serde_millis::opt_millis")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u64>))]
    pub stagger: Option<Duration>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// No tick before this (epoch ms).
    #[serde(default)]
    pub start_at: Option<i64>,
    /// No tick after this (epoch ms).
    #[serde(default)]
    pub end_at: Option<i64>,
    /// Stop after this many fires.
    #[serde(default)]
    pub max_runs: Option<u64>,
    #[serde(default)]
    pub misfire: MisfirePolicy,
    /// A tick seen later than this after its time counts as missed (default 60 s).
    #[serde(default = "default_grace", with = "crate::serde_millis::millis")]
    #[cfg_attr(feature = "openapi", schema(value_type = u64))]
    pub misfire_grace: Duration,
}

fn utc() -> String {
    "UTC".into()
}

fn yes() -> bool {
    true
}

fn default_grace() -> Duration {
    Duration::from_secs(60)
}

impl ScheduleSpec {
    /// A schedule with defaults for everything but name, cron, queue and job.
    pub fn new(name: impl Into<String>, cron: impl Into<String>, queue: impl Into<String>, job: NewJob) -> Self {
        ScheduleSpec {
            name: name.into(),
            cron: cron.into(),
            timezone: utc(),
            queue: queue.into(),
            job,
            fan_out: vec![],
            stagger: None,
            enabled: true,
            start_at: None,
            end_at: None,
            max_runs: None,
            misfire: MisfirePolicy::Skip,
            misfire_grace: default_grace(),
        }
    }

    pub fn in_timezone(mut self, timezone: impl Into<String>) -> Self {
        self.timezone = timezone.into();
        self
    }

    /// Checks everything that can be checked without Redis; errors name the field.
    pub fn validate(&self) -> Result<CronSchedule, QueueError> {
        let invalid = |field, reason: String| QueueError::InvalidOption { field, reason };
        if self.name.is_empty()
            || self.name.len() > 200
            || self.name.contains(['{', '}'])
            || crate::names::first_hidden(&self.name).is_some()
        {
            return Err(invalid(
                "name",
                format!("{:?} must be 1 to 200 characters without braces, control or invisible characters", self.name),
            ));
        }
        crate::keys::validate_queue_name(&self.queue)?;
        if let MisfirePolicy::RunEach { max: 0 } = self.misfire {
            return Err(invalid("misfire", "run_each needs max > 0".into()));
        }
        if let (Some(start), Some(end)) = (self.start_at, self.end_at)
            && end <= start
        {
            return Err(invalid("end_at", "must be after start_at".into()));
        }
        // Times are epoch ms between 1970 and the year 9999; anything else is a typo that
        // would overflow the arithmetic on ticks.
        for (field, at) in [("start_at", self.start_at), ("end_at", self.end_at)] {
            if at.is_some_and(|at| !(0..=MAX_EPOCH_MS).contains(&at)) {
                return Err(invalid(field, "must be epoch milliseconds between 1970 and 9999".into()));
            }
        }
        if self.stagger.is_some_and(|s| s > MAX_STAGGER) {
            return Err(invalid("stagger", "must be at most 24 hours".into()));
        }
        if self.fan_out.len() > MAX_FAN_OUT {
            return Err(invalid("fan_out", format!("at most {MAX_FAN_OUT} elements")));
        }
        let spread = self.stagger.unwrap_or_default().saturating_mul(self.fan_out.len() as u32);
        if spread > crate::types::MAX_OPTION_DURATION {
            return Err(invalid("stagger", "stagger × fan-out must stay within 365 days".into()));
        }
        CronSchedule::parse(&self.cron, &self.timezone)
    }

    /// What a new definition must pass, at `now_ms`: [`ScheduleSpec::validate`], a cron
    /// that fires at all (some tick within nine years; `0 0 30 2 *` has none), a run
    /// limit of at least one and a misfire grace of at most 365 days. (Stored schedules
    /// are fired if they pass `validate`; these checks came later.)
    pub fn validate_at(&self, now_ms: i64) -> Result<CronSchedule, QueueError> {
        let cron = self.validate()?;
        let invalid = |field, reason: String| QueueError::InvalidOption { field, reason };
        if self.max_runs == Some(0) {
            return Err(invalid("max_runs", "must be at least 1 (leave it out for no limit)".into()));
        }
        if self.misfire_grace > crate::types::MAX_OPTION_DURATION {
            return Err(invalid("misfire_grace", "must be at most 365 days".into()));
        }
        if self.job.trace.is_some() {
            // Every fire would join the one trace, for as long as the schedule lives.
            return Err(invalid("job.trace", "a schedule's jobs each start a trace of their own".into()));
        }
        let fires = cron.next_after(now_ms).is_some_and(|t| t.saturating_sub(now_ms) <= MAX_FIRST_TICK_WAIT_MS);
        if !fires {
            return Err(invalid("cron", format!("{:?} has no tick in the next nine years", self.cron)));
        }
        Ok(cron)
    }
}

/// A parsed cron expression in a time zone.
#[derive(Clone, Debug)]
pub struct CronSchedule {
    cron: Cron,
    tz: Tz,
}

impl CronSchedule {
    pub fn parse(expression: &str, timezone: &str) -> Result<Self, QueueError> {
        let fields = expression.split_whitespace().count();
        if !expression.trim_start().starts_with('@') && !(5..=6).contains(&fields) {
            return Err(QueueError::InvalidOption {
                field: "cron",
                reason: format!("{expression:?} has {fields} fields; use 5 (minute precision) or 6 (seconds first)"),
            });
        }
        let cron = Cron::from_str(expression)
            .map_err(|e| QueueError::InvalidOption { field: "cron", reason: format!("{expression:?}: {e}") })?;
        let tz = Tz::from_str(timezone).map_err(|_| QueueError::InvalidOption {
            field: "timezone",
            reason: format!("{timezone:?} is not an IANA time zone (e.g. Europe/Berlin)"),
        })?;
        Ok(CronSchedule { cron, tz })
    }

    /// The first tick strictly after `after_ms` (epoch ms).
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        let start = self.tz.from_utc_datetime(&DateTime::<Utc>::from_timestamp_millis(after_ms)?.naive_utc());
        self.cron.find_next_occurrence(&start, false).ok().map(|t| t.timestamp_millis())
    }

    /// Ticks in `(after_ms, until_ms]`, oldest first, at most `limit`.
    pub fn ticks_between(&self, after_ms: i64, until_ms: i64, limit: usize) -> Vec<i64> {
        let mut ticks = vec![];
        let mut cursor = after_ms;
        while ticks.len() < limit {
            match self.next_after(cursor) {
                Some(t) if t <= until_ms => {
                    ticks.push(t);
                    cursor = t;
                }
                _ => break,
            }
        }
        ticks
    }
}

/// Which of the due ticks to fire, given the policy; `now` decides which are "missed".
pub fn ticks_to_fire(due: &[i64], now: i64, policy: MisfirePolicy, grace: Duration) -> Vec<i64> {
    let grace = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
    let (missed, on_time): (Vec<i64>, Vec<i64>) = due.iter().partition(|t| now.saturating_sub(**t) > grace);
    let mut fire: Vec<i64> = match policy {
        MisfirePolicy::Skip => vec![],
        MisfirePolicy::RunOnce => missed.last().copied().into_iter().collect(),
        MisfirePolicy::RunEach { max } => missed.iter().rev().take(max as usize).rev().copied().collect(),
    };
    // On-time ticks always fire; a RunOnce catch-up is not needed when one is on time.
    if policy == MisfirePolicy::RunOnce && !on_time.is_empty() {
        fire.clear();
    }
    fire.extend(on_time);
    fire
}

/// One fire of a schedule, as kept in its history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FireRecord {
    /// The tick (epoch ms); for a manual trigger, the time it was triggered.
    pub tick: i64,
    /// When the fire was recorded, just after its jobs were enqueued (epoch ms, Redis's
    /// clock).
    pub fired_at: i64,
    pub job_ids: Vec<String>,
    /// Triggered by hand rather than by the clock.
    pub manual: bool,
    /// Which scheduler fired it.
    pub by: String,
    /// Why the tick enqueued nothing: its jobs were refused (an invalid template, a
    /// payload too large), which retrying would not change. Such a tick is not a run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A schedule as stored, with its firing state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScheduleInfo {
    pub spec: ScheduleSpec,
    pub paused: bool,
    /// The last tick claimed (fired or skipped), epoch ms.
    pub last_tick: Option<i64>,
    /// The next tick that will fire, epoch ms (None when disabled, ended or used up).
    pub next_tick: Option<i64>,
    pub runs: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn berlin(y: i32, m: u32, d: u32, h: u32, min: u32) -> i64 {
        chrono_tz::Europe::Berlin.with_ymd_and_hms(y, m, d, h, min, 0).earliest().unwrap().timestamp_millis()
    }

    #[test]
    fn bad_cron_and_time_zone_are_named() {
        let err = CronSchedule::parse("61 * * * *", "UTC").unwrap_err().to_string();
        assert!(err.starts_with("invalid cron"), "{err}");
        let err = CronSchedule::parse("* * *", "UTC").unwrap_err().to_string();
        assert!(err.contains("3 fields"), "{err}");
        let err = CronSchedule::parse("0 3 * * *", "Mars/Olympus").unwrap_err().to_string();
        assert!(err.starts_with("invalid timezone") && err.contains("Mars/Olympus"), "{err}");
        CronSchedule::parse("*/5 * * * * *", "Europe/Berlin").unwrap();
        CronSchedule::parse("@hourly", "UTC").unwrap();
    }

    #[test]
    fn spring_forward_runs_the_missing_time_right_after_the_gap() {
        // 2026-03-29: 02:00 CET jumps to 03:00 CEST in Berlin.
        let daily = CronSchedule::parse("30 2 * * *", "Europe/Berlin").unwrap();
        let next = daily.next_after(berlin(2026, 3, 29, 1, 0)).unwrap();
        assert_eq!(next, berlin(2026, 3, 29, 3, 0));
        let hourly = CronSchedule::parse("0 * * * *", "Europe/Berlin").unwrap();
        let day = hourly.ticks_between(berlin(2026, 3, 29, 0, 0) - 1, berlin(2026, 3, 30, 0, 0) - 1, 100);
        assert_eq!(day.len(), 23, "the day has 23 hours");
    }

    #[test]
    fn fall_back_runs_a_fixed_time_once_and_hourly_25_times() {
        // 2026-10-25: 03:00 CEST goes back to 02:00 CET in Berlin.
        let daily = CronSchedule::parse("30 2 * * *", "Europe/Berlin").unwrap();
        let from = berlin(2026, 10, 25, 0, 0);
        let ticks = daily.ticks_between(from, from + 26 * 3_600_000, 10);
        assert_eq!(ticks.len(), 1, "{ticks:?}");
        assert_eq!(ticks[0], berlin(2026, 10, 25, 2, 30), "the first (CEST) 02:30");
        let hourly = CronSchedule::parse("0 * * * *", "Europe/Berlin").unwrap();
        let start = berlin(2026, 10, 25, 0, 0) - 1;
        let end = chrono_tz::Europe::Berlin.with_ymd_and_hms(2026, 10, 26, 0, 0, 0).unwrap().timestamp_millis() - 1;
        assert_eq!(hourly.ticks_between(start, end, 100).len(), 25, "the day has 25 hours");
    }

    #[test]
    fn a_cron_that_never_fires_is_refused_and_a_leap_day_is_not() {
        let now = Utc.with_ymd_and_hms(2097, 3, 1, 0, 0, 0).unwrap().timestamp_millis();
        let spec = |cron: &str| ScheduleSpec::new("s", cron, "q", NewJob::new("j", serde_json::Value::Null));
        let started = std::time::Instant::now();
        let err = spec("0 0 30 2 *").validate_at(now).unwrap_err();
        assert!(matches!(err, QueueError::InvalidOption { field: "cron", .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(2), "searched for {:?}", started.elapsed());
        // 2100 is not a leap year: the next 29th of February after 2096 is in 2104.
        spec("0 0 29 2 *").validate_at(now).unwrap();
        spec("* * * * *").validate_at(now).unwrap();
    }

    #[test]
    fn a_grace_beyond_any_clock_does_not_wrap() {
        let due = [60_000, 120_000];
        let fire = ticks_to_fire(&due, 180_000, MisfirePolicy::Skip, Duration::MAX);
        assert_eq!(fire, due, "everything is on time");
        assert_eq!(ticks_to_fire(&due, i64::MAX, MisfirePolicy::Skip, Duration::ZERO), Vec::<i64>::new());
    }

    #[test]
    fn misfire_policies_choose_ticks() {
        let minute = 60_000;
        let due: Vec<i64> = (1..=10).map(|i| i * minute).collect();
        let now = 10 * minute + 1000; // the last tick is on time, nine are missed
        let grace = Duration::from_secs(60);
        assert_eq!(ticks_to_fire(&due, now, MisfirePolicy::Skip, grace), vec![10 * minute]);
        assert_eq!(ticks_to_fire(&due, now, MisfirePolicy::RunOnce, grace), vec![10 * minute]);
        assert_eq!(
            ticks_to_fire(&due, now, MisfirePolicy::RunEach { max: 3 }, grace),
            vec![7 * minute, 8 * minute, 9 * minute, 10 * minute]
        );
        let late = 20 * minute; // all ten missed
        assert!(ticks_to_fire(&due, late, MisfirePolicy::Skip, grace).is_empty());
        assert_eq!(ticks_to_fire(&due, late, MisfirePolicy::RunOnce, grace), vec![10 * minute]);
        assert_eq!(ticks_to_fire(&due, late, MisfirePolicy::RunEach { max: 2 }, grace), vec![9 * minute, 10 * minute]);
    }
}
