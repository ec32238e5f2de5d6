//! Formatting that must come out the same on the server and in the browser (hydration
//! compares them), so it depends on neither's clock, locale data or time zone: the time to
//! compare with is passed in (see `crate::clock`), the language is the page's (see
//! `crate::i18n`), and the patterns are CLDR's for each language (times in UTC).

use chrono::{DateTime, Datelike, SecondsFormat};

use crate::i18n::{I18n, Language};
use crate::t;

/// `2026-11-22T10:15:03Z`, for a `<time datetime>`.
pub fn iso(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms).map(|at| at.to_rfc3339_opts(SecondsFormat::Secs, true)).unwrap_or_default()
}

/// `value` with `digits` decimals and its thousands grouped the way `language` writes
/// them (both group by three with `,` and mark decimals with `.`, as CLDR has it).
pub fn decimal(language: Language, value: f64, digits: usize) -> String {
    let (group, point) = match language {
        Language::En | Language::Mn => (',', '.'),
    };
    let text = format!("{:.*}", digits, value.abs());
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let mut out = String::with_capacity(text.len() + whole.len() / 3 + 1);
    if value < 0.0 && text.bytes().any(|b| b.is_ascii_digit() && b != b'0') {
        out.push('-');
    }
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            out.push(group);
        }
        out.push(digit);
    }
    if !fraction.is_empty() {
        out.push(point);
        out.push_str(fraction);
    }
    out
}

impl I18n {
    /// A whole number with its thousands grouped: `12,345,678`.
    pub fn number(self, n: u64) -> String {
        decimal(self.language(), n as f64, 0)
    }

    /// A moment in UTC, date and time, CLDR's medium pattern: `Dec 7, 2026, 11:09:36 UTC`,
    /// `2026 оны 12-р сарын 7 11:09:36 UTC`.
    pub fn date_time(self, ms: i64) -> String {
        let Some(at) = DateTime::from_timestamp_millis(ms) else { return ms.to_string() };
        let time = at.format("%H:%M:%S");
        match self.language() {
            Language::En => format!("{}, {time} UTC", at.format("%b %-d, %Y")),
            Language::Mn => format!("{} оны {}-р сарын {} {time} UTC", at.year(), at.month(), at.day()),
        }
    }

    /// A short moment for chart labels: `Dec 7, 11:09`, `12-р сарын 7 11:09` (UTC).
    pub fn day_and_minute(self, ms: i64) -> String {
        let Some(at) = DateTime::from_timestamp_millis(ms) else { return ms.to_string() };
        let time = at.format("%H:%M");
        match self.language() {
            Language::En => format!("{}, {time}", at.format("%b %-d")),
            Language::Mn => format!("{}-р сарын {} {time}", at.month(), at.day()),
        }
    }

    /// How long before or after `now` `at` is: `just now`, `12 s ago`, `in 5 min`,
    /// `3 h ago`, `2 days ago`.
    pub fn relative(self, at: i64, now: i64) -> String {
        let (past, gap) = (at <= now, at.abs_diff(now) / 1000);
        let i18n = self;
        match (gap, past) {
            (0, _) => t!(i18n, "time-just-now"),
            (1..60, true) => t!(i18n, "time-seconds-ago", count = gap),
            (1..60, false) => t!(i18n, "time-in-seconds", count = gap),
            (60..3_600, true) => t!(i18n, "time-minutes-ago", count = gap / 60),
            (60..3_600, false) => t!(i18n, "time-in-minutes", count = gap / 60),
            (3_600..86_400, true) => t!(i18n, "time-hours-ago", count = gap / 3_600),
            (3_600..86_400, false) => t!(i18n, "time-in-hours", count = gap / 3_600),
            (_, true) => t!(i18n, "time-days-ago", count = gap / 86_400),
            (_, false) => t!(i18n, "time-in-days", count = gap / 86_400),
        }
    }

    /// A length of time, to the precision that matters at its size: `850 ms`, `12.3 s`,
    /// `4 min 5 s`, `2 h 10 min`, `3 d 4 h`.
    pub fn duration(self, ms: u64) -> String {
        let secs = ms / 1000;
        let i18n = self;
        match ms {
            0..1_000 => t!(i18n, "duration-ms", ms = ms),
            1_000..60_000 => {
                let seconds = decimal(self.language(), (ms / 100) as f64 / 10.0, 1);
                t!(i18n, "duration-s", seconds = seconds)
            }
            60_000..3_600_000 => t!(i18n, "duration-min-s", min = secs / 60, s = secs % 60),
            3_600_000..86_400_000 => t!(i18n, "duration-h-min", h = secs / 3_600, min = secs % 3_600 / 60),
            _ => t!(i18n, "duration-d-h", d = secs / 86_400, h = secs % 86_400 / 3_600),
        }
    }
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

    const EN: I18n = I18n::new(Language::En);
    const MN: I18n = I18n::new(Language::Mn);

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(query_value("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }

    /// The expected texts are what ICU (Node's `Intl.DateTimeFormat`, medium date and
    /// time, UTC, 24-hour) writes for the same moments.
    #[test]
    fn dates_follow_each_languages_pattern_in_utc() {
        assert_eq!(EN.date_time(1_796_641_776_000), "Dec 7, 2026, 11:09:36 UTC");
        assert_eq!(MN.date_time(1_796_641_776_000), "2026 оны 12-р сарын 7 11:09:36 UTC");
        assert_eq!(EN.date_time(0), "Jan 1, 1970, 00:00:00 UTC");
        assert_eq!(EN.date_time(951_782_400_000), "Feb 29, 2000, 00:00:00 UTC");
        assert_eq!(MN.date_time(-1_000), "1969 оны 12-р сарын 31 23:59:59 UTC");
        assert_eq!(EN.day_and_minute(1_796_641_776_000), "Dec 7, 11:09");
        assert_eq!(MN.day_and_minute(1_796_641_776_000), "12-р сарын 7 11:09");
        assert_eq!(iso(1_700_000_000_123), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn relative_times_read_as_spoken() {
        let now = 1_700_000_000_000;
        assert_eq!(EN.relative(now - 400, now), "just now");
        assert_eq!(EN.relative(now - 12_000, now), "12 s ago");
        assert_eq!(EN.relative(now + 5 * 60_000 + 10, now), "in 5 min");
        assert_eq!(EN.relative(now - 3 * 3_600_000 - 59_000, now), "3 h ago");
        assert_eq!(EN.relative(now - 86_400_000, now), "1 day ago");
        assert_eq!(EN.relative(now - 40 * 86_400_000, now), "40 days ago");
        assert_eq!(MN.relative(now - 400, now), "дөнгөж сая");
        assert_eq!(MN.relative(now - 12_000, now), "12 секундын өмнө");
        assert_eq!(MN.relative(now + 5 * 60_000 + 10, now), "5 минутын дараа");
        assert_eq!(MN.relative(now - 40 * 86_400_000, now), "40 өдрийн өмнө");
    }

    #[test]
    fn durations_keep_the_precision_that_matters() {
        assert_eq!(EN.duration(850), "850 ms");
        assert_eq!(EN.duration(12_340), "12.3 s");
        assert_eq!(EN.duration(245_000), "4 min 5 s");
        assert_eq!(EN.duration(2 * 3_600_000 + 10 * 60_000), "2 h 10 min");
        assert_eq!(EN.duration(3 * 86_400_000 + 4 * 3_600_000 + 5), "3 d 4 h");
        assert_eq!(MN.duration(850), "850 мс");
        assert_eq!(MN.duration(245_000), "4 мин 5 с");
        assert_eq!(MN.duration(2 * 3_600_000 + 10 * 60_000), "2 ц 10 мин");
    }

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(EN.number(0), "0");
        assert_eq!(EN.number(999), "999");
        assert_eq!(EN.number(1_000), "1,000");
        assert_eq!(MN.number(12_345_678), "12,345,678");
        assert_eq!(decimal(Language::En, 1234.56, 1), "1,234.6");
        assert_eq!(decimal(Language::En, -0.01, 1), "0.0");
        assert_eq!(decimal(Language::En, -1500.0, 0), "-1,500");
    }
}
