//! Formatting that must come out the same on the server and in the browser (hydration
//! compares them), so it depends on neither's clock, locale or time zone: the time to
//! compare with is passed in (see `crate::clock`).

use chrono::{DateTime, SecondsFormat};

/// `2026-11-22 10:15:03 UTC` for epoch milliseconds.
pub fn utc(ms: i64) -> String {
    match DateTime::from_timestamp_millis(ms) {
        Some(at) => at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        None => ms.to_string(),
    }
}

/// `2026-11-22T10:15:03Z`, for a `<time datetime>`.
pub fn iso(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms).map(|at| at.to_rfc3339_opts(SecondsFormat::Secs, true)).unwrap_or_default()
}

/// How long before or after `now` `at` is: `just now`, `12 s ago`, `in 5 min`,
/// `3 h ago`, `2 days ago`.
pub fn relative(at: i64, now: i64) -> String {
    let (past, gap) = (at <= now, at.abs_diff(now) / 1000);
    if gap < 1 {
        return "just now".to_string();
    }
    let amount = match gap {
        0..60 => format!("{gap} s"),
        60..3_600 => format!("{} min", gap / 60),
        3_600..86_400 => format!("{} h", gap / 3_600),
        _ => count(gap / 86_400, "day", "days"),
    };
    if past { format!("{amount} ago") } else { format!("in {amount}") }
}

/// A length of time, to the precision that matters at its size: `850 ms`, `12.3 s`,
/// `4 min 5 s`, `2 h 10 min`, `3 d 4 h`.
pub fn duration(ms: u64) -> String {
    let secs = ms / 1000;
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{} min {} s", secs / 60, secs % 60),
        3_600_000..86_400_000 => format!("{} h {} min", secs / 3_600, secs % 3_600 / 60),
        _ => format!("{} d {} h", secs / 86_400, secs % 86_400 / 3_600),
    }
}

/// A whole number with its thousands grouped: `12,345,678`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// `1 worker`, `2 workers`, `12,000 workers`.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", grouped(n), if n == 1 { one } else { many })
}

/// Percent-encodes a value for a URL query.
pub fn query_value(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(query_value("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }

    #[test]
    fn dates_are_formatted_in_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_700_000_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(-1_000), "1969-12-31 23:59:59 UTC");
        assert_eq!(iso(1_700_000_000_123), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn relative_times_read_as_spoken() {
        let now = 1_700_000_000_000;
        assert_eq!(relative(now - 400, now), "just now");
        assert_eq!(relative(now - 12_000, now), "12 s ago");
        assert_eq!(relative(now + 5 * 60_000 + 10, now), "in 5 min");
        assert_eq!(relative(now - 3 * 3_600_000 - 59_000, now), "3 h ago");
        assert_eq!(relative(now - 86_400_000, now), "1 day ago");
        assert_eq!(relative(now - 40 * 86_400_000, now), "40 days ago");
    }

    #[test]
    fn durations_keep_the_precision_that_matters() {
        assert_eq!(duration(850), "850 ms");
        assert_eq!(duration(12_340), "12.3 s");
        assert_eq!(duration(245_000), "4 min 5 s");
        assert_eq!(duration(2 * 3_600_000 + 10 * 60_000), "2 h 10 min");
        assert_eq!(duration(3 * 86_400_000 + 4 * 3_600_000 + 5), "3 d 4 h");
    }

    #[test]
    fn numbers_are_grouped_and_counted() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(12_345_678), "12,345,678");
        assert_eq!(count(1, "worker", "workers"), "1 worker");
        assert_eq!(count(0, "worker", "workers"), "0 workers");
        assert_eq!(count(12_000, "job", "jobs"), "12,000 jobs");
    }
}
