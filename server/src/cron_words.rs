//! Cron expressions in words, for the schedules page: `*/10 * * * * *` reads "Every 10
//! seconds", `0 3 * * *` "At 03:00, every day". croner's describer does the parsing; its
//! English is smoothed where it reads oddly ("At every 10 seconds").

use std::str::FromStr;

use croner::Cron;

/// The expression in words, or `None` when croner cannot read it (the page then shows
/// the expression alone).
pub fn describe(expression: &str) -> Option<String> {
    let cron = Cron::from_str(expression).ok()?;
    let words = cron.describe();
    let words = words.strip_suffix('.').unwrap_or(&words);
    let mut words = if let Some(rest) = words.strip_prefix("At every ") {
        format!("Every {rest}")
    } else if let Some(rest) = words.strip_prefix("At minute 0 past every hour") {
        format!("Every hour, on the hour{rest}")
    } else if let Some(rest) = words.strip_prefix("At minute 0, of every ") {
        format!("Every {rest}, on the hour")
    } else if let Some((minute, rest)) =
        words.strip_prefix("At minute ").and_then(|rest| rest.split_once(" past every hour"))
    {
        format!("Every hour at minute {minute}{rest}")
    } else {
        words.to_string()
    };
    // A fixed time with no day, month or year part fires daily: say so.
    if matches!(cron.determine_job_type(), croner::JobType::FixedTime) && !words.contains(", ") {
        words.push_str(", every day");
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn common_expressions_read_as_sentences() {
        for (expression, words) in [
            ("*/10 * * * * *", "Every 10 seconds"),
            ("0 */5 * * * *", "Every 5 minutes"),
            ("* * * * *", "Every minute"),
            ("0 * * * *", "Every hour, on the hour"),
            ("15 * * * *", "Every hour at minute 15"),
            ("0 */4 * * *", "Every 4 hours, on the hour"),
            ("0 5 * * 0", "At 05:00, on Sunday"),
            ("0 3 * * *", "At 03:00, every day"),
            ("0 0 9 * * MON-FRI", "At 09:00, on Monday, Tuesday, Wednesday, Thursday, and Friday"),
            ("30 2 1 * *", "At 02:30, on day 1"),
        ] {
            assert_eq!(describe(expression).as_deref(), Some(words), "{expression}");
        }
        assert_eq!(describe("not cron"), None);
    }
}
