//! Per-queue settings from the environment, `HOIST_QUEUE_<NAME>_<SETTING>` (the queue's
//! name upper-cased, `-`, `.` and `:` as `_`). A process checks every such variable at
//! start: a value that does not parse, or a setting that does not exist, stops it with
//! the variable's name, instead of being ignored.

use crate::error::StartupError;

/// A per-queue setting: its suffix, bounds, default and what it does.
pub struct QueueSetting {
    pub suffix: &'static str,
    pub min: u64,
    pub max: u64,
    pub default: u64,
    /// Whether the value is a duration in seconds (units accepted: `90s`, `5m`).
    pub duration: bool,
    pub about: &'static str,
}

pub const CONCURRENCY: QueueSetting = QueueSetting {
    suffix: "CONCURRENCY",
    min: 1,
    max: 10_000,
    default: 5,
    duration: false,
    about: "jobs of the queue run at once per process",
};
pub const MAX_FAILED: QueueSetting = QueueSetting {
    suffix: "MAX_FAILED",
    min: 0,
    max: 1_000_000_000,
    default: 100,
    duration: false,
    about: "dead jobs above which the queue's health warns",
};
pub const MAX_WAITING: QueueSetting = QueueSetting {
    suffix: "MAX_WAITING",
    min: 0,
    max: 1_000_000_000,
    default: 1_000,
    duration: false,
    about: "waiting jobs above which the queue's health warns",
};
pub const MAX_ACTIVE_SECONDS: QueueSetting = QueueSetting {
    suffix: "MAX_ACTIVE_SECONDS",
    min: 1,
    max: 365 * 86_400,
    default: 300,
    duration: true,
    about: "how long a job may run before the queue's health warns",
};

pub const ATTEMPTS: QueueSetting = QueueSetting {
    suffix: "ATTEMPTS",
    min: 1,
    max: 1000,
    default: 3,
    duration: false,
    about: "attempts of jobs added through the server that leave them at the engine's default",
};
pub const KEEP_COMPLETED: QueueSetting = QueueSetting {
    suffix: "KEEP_COMPLETED",
    min: 0,
    max: 100_000_000,
    default: 1000,
    duration: false,
    about: "completed jobs Redis keeps",
};
pub const KEEP_DEAD: QueueSetting = QueueSetting {
    suffix: "KEEP_DEAD",
    min: 0,
    max: 100_000_000,
    default: 10_000,
    duration: false,
    about: "dead jobs Redis keeps",
};

/// Every per-queue variable. No suffix ends another's (`..._CONCURRENCY` would also
/// read `..._GLOBAL_CONCURRENCY`), so a variable names one setting; the queue-wide
/// limits (global concurrency, rate) are set in `hoist.toml` or on the queue's page.
pub const ALL: [&QueueSetting; 7] =
    [&CONCURRENCY, &MAX_FAILED, &MAX_WAITING, &MAX_ACTIVE_SECONDS, &ATTEMPTS, &KEEP_COMPLETED, &KEEP_DEAD];

/// The variable of `setting` for `queue`.
pub fn variable(queue: &str, setting: &QueueSetting) -> String {
    format!("HOIST_QUEUE_{}_{}", queue.to_uppercase().replace(['-', '.', ':'], "_"), setting.suffix)
}

impl QueueSetting {
    fn parse(&self, text: &str) -> Result<u64, String> {
        if self.duration {
            return crate::config::parse_seconds(text, self.min, self.max);
        }
        let text = text.trim();
        let value = text.parse::<u64>().map_err(|_| format!("{text:?} is not a whole number"))?;
        if !(self.min..=self.max).contains(&value) {
            return Err(format!("{text:?} is out of range: expected {} to {}", self.min, self.max));
        }
        Ok(value)
    }

    /// The value for `queue`: its variable (checked at start), else the default.
    pub fn for_queue(&self, queue: &str) -> u64 {
        self.from_env(queue).unwrap_or(self.default)
    }

    /// The value of `queue`'s variable, when it is set.
    pub fn from_env(&self, queue: &str) -> Option<u64> {
        std::env::var(variable(queue, self)).ok().and_then(|text| self.parse(&text).ok())
    }
}

/// Checks every `HOIST_QUEUE_*` variable of `environment`.
pub fn check(environment: impl IntoIterator<Item = (String, String)>) -> Result<(), StartupError> {
    for (name, value) in environment {
        let Some(rest) = name.strip_prefix("HOIST_QUEUE_") else { continue };
        let invalid = |reason: String| StartupError::InvalidSetting { variable: name.clone(), reason };
        let setting = ALL
            .iter()
            .find(|s| rest.strip_suffix(s.suffix).is_some_and(|queue| queue.len() > 1 && queue.ends_with('_')))
            .ok_or_else(|| {
                invalid(format!(
                    "not a per-queue setting; expected HOIST_QUEUE_<NAME>_ followed by one of {}",
                    ALL.iter().map(|s| s.suffix).collect::<Vec<_>>().join(", ")
                ))
            })?;
        setting.parse(&value).map_err(invalid)?;
    }
    Ok(())
}

/// Checks this process's environment.
pub fn check_environment() -> Result<(), StartupError> {
    check(std::env::vars_os().filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?))))
}

/// What `--help` says about them.
pub fn help() -> String {
    let mut text = String::from(
        "Per-queue settings (over hoist.toml's; <NAME> is the queue's name upper-cased, with -, . and : as _):\n",
    );
    for s in ALL {
        let unit = if s.duration { " s (or 90s, 5m)" } else { "" };
        text.push_str(&format!(
            "  HOIST_QUEUE_<NAME>_{:<20} {}; {} to {}{unit}, default {}\n",
            s.suffix, s.about, s.min, s.max, s.default
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn every_per_queue_variable_is_checked() {
        check(vars(&[
            ("HOIST_QUEUE_EMAILS_CONCURRENCY", "12"),
            ("HOIST_QUEUE_SYNC_TRANSACTIONS_MAX_ACTIVE_SECONDS", "10m"),
            ("HOIST_QUEUE_A_MAX_WAITING", "0"),
            ("PATH", "/bin"),
        ]))
        .unwrap();
        for (name, value, expected) in [
            ("HOIST_QUEUE_EMAILS_CONCURRENCY", "zero", "not a whole number"),
            ("HOIST_QUEUE_EMAILS_CONCURRENCY", "0", "expected 1 to 10000"),
            ("HOIST_QUEUE_EMAILS_MAX_ACTIVE_SECONDS", "soon", "not a duration"),
            ("HOIST_QUEUE_EMAILS_CONCURENCY", "5", "not a per-queue setting"),
            ("HOIST_QUEUE_CONCURRENCY", "5", "not a per-queue setting"),
        ] {
            let error = check(vars(&[(name, value)])).unwrap_err().to_string();
            assert!(error.starts_with(&format!("{name}: ")), "{error}");
            assert!(error.contains(expected), "{error}");
        }
    }

    #[test]
    fn values_come_from_the_queue_variable() {
        // SAFETY: no other test reads these variables.
        unsafe {
            std::env::set_var("HOIST_QUEUE_SYNC_TRANSACTIONS_CONCURRENCY", "12");
            std::env::set_var("HOIST_QUEUE_SLOW_MAX_ACTIVE_SECONDS", "2m");
        }
        assert_eq!(CONCURRENCY.for_queue("sync-transactions"), 12);
        assert_eq!(CONCURRENCY.for_queue("unset"), 5);
        assert_eq!(MAX_ACTIVE_SECONDS.for_queue("slow"), 120);
        assert!(help().contains("HOIST_QUEUE_<NAME>_CONCURRENCY"));
    }
}
