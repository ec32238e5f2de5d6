//! Each queue's effective settings, and where each came from: a default, `hoist.toml`
//! ([`crate::config_file`], top level or the chosen environment), or an environment
//! variable (`HOIST_QUEUE_<NAME>_<SETTING>`, [`crate::queue_settings`]), in that order of
//! precedence. Also the file's schedules and processors.
//!
//! Where they act: `concurrency` sizes this process's worker of the queue;
//! `global_concurrency` and `rate_limit` are the queue's limits in Redis, set at start;
//! `attempts`, `backoff` and `timeout` are the options of jobs added through the server
//! (REST, dashboard, the file's schedules) that leave them at the engine's defaults;
//! `keep_*` is the retention of the queue's finished jobs as this process's handles trim
//! them; `max_*` are the health thresholds; `alerts` the queue's alert rules, set at start.

use std::collections::BTreeMap;
use std::time::Duration;

use hoist_queue::{Backoff, JobOptions, MisfirePolicy, NewJob, QueueConfig, RateLimit, Retention, ScheduleSpec};
use serde::Serialize;

use crate::alerts::rules::RuleKind;
use crate::config_file::{ConfigError, ConfigFile, DurationText, QueueSection, bounded, duration};
use crate::processors::Builtin;
use crate::queue_settings::{self as env_settings, QueueSetting};

/// Where a setting's value came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum Source {
    Default,
    File {
        file: String,
        line: usize,
        /// The `[env.NAME]` section it is in, if any.
        env: Option<String>,
    },
    Environment {
        variable: String,
    },
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File { file, line, env: None } => write!(f, "{file}:{line}"),
            Source::File { file, line, env: Some(env) } => write!(f, "{file}:{line} [env.{env}]"),
            Source::Environment { variable } => f.write_str(variable),
        }
    }
}

/// A value and its source.
#[derive(Clone, Debug, PartialEq)]
pub struct Setting<T> {
    pub value: T,
    pub source: Source,
}

fn default<T>(value: T) -> Setting<T> {
    Setting { value, source: Source::Default }
}

/// One row of the settings table (dashboard, `hoist config check`, REST).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SettingRow {
    pub setting: String,
    pub value: String,
    pub source: Source,
}

/// A queue's settings from the file, validated.
#[derive(Clone, Debug, Default)]
struct FileQueue {
    concurrency: Option<Setting<u64>>,
    global_concurrency: Option<Setting<u32>>,
    attempts: Option<Setting<u32>>,
    backoff: Option<Setting<Backoff>>,
    timeout: Option<Setting<Duration>>,
    keep_completed: Option<Setting<u64>>,
    keep_completed_for: Option<Setting<Duration>>,
    keep_dead: Option<Setting<u64>>,
    keep_dead_for: Option<Setting<Duration>>,
    rate_limit: Option<Setting<RateLimit>>,
    max_waiting: Option<Setting<u64>>,
    max_failed: Option<Setting<u64>>,
    max_active: Option<Setting<Duration>>,
    alerts: BTreeMap<String, Setting<i64>>,
}

/// A queue's effective settings.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueSettings {
    pub queue: String,
    pub concurrency: Setting<u64>,
    pub global_concurrency: Setting<Option<u32>>,
    pub attempts: Setting<u32>,
    pub backoff: Setting<Backoff>,
    pub timeout: Setting<Option<Duration>>,
    pub keep_completed: Setting<Option<u64>>,
    pub keep_completed_for: Setting<Option<Duration>>,
    pub keep_dead: Setting<Option<u64>>,
    pub keep_dead_for: Setting<Option<Duration>>,
    pub rate_limit: Setting<Option<RateLimit>>,
    pub max_waiting: Setting<u64>,
    pub max_failed: Setting<u64>,
    pub max_active: Setting<Duration>,
    /// Alert thresholds set for this queue (rule kind → threshold).
    pub alerts: BTreeMap<String, Setting<i64>>,
}

fn text(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

impl QueueSettings {
    /// `options` with the queue's attempts, backoff and timeout where they are at the
    /// engine's defaults (a job keeps what it asked for otherwise).
    pub fn job_options(&self, mut options: JobOptions) -> JobOptions {
        let engine = JobOptions::default();
        if options.max_attempts == engine.max_attempts && self.attempts.source != Source::Default {
            options.max_attempts = self.attempts.value;
        }
        if options.backoff == engine.backoff && self.backoff.source != Source::Default {
            options.backoff = self.backoff.value.clone();
        }
        if options.timeout.is_none() {
            options.timeout = self.timeout.value;
        }
        options
    }

    /// The handle settings this queue's finished jobs are trimmed by.
    pub fn queue_config(&self, key_prefix: &str) -> QueueConfig {
        let engine = QueueConfig::default();
        let keep = |count: &Setting<Option<u64>>, age: &Setting<Option<Duration>>, engine: Retention| Retention {
            max_count: if count.source == Source::Default { engine.max_count } else { count.value },
            max_age: if age.source == Source::Default { engine.max_age } else { age.value },
        };
        QueueConfig {
            key_prefix: key_prefix.to_string(),
            completed: keep(&self.keep_completed, &self.keep_completed_for, engine.completed),
            dead: keep(&self.keep_dead, &self.keep_dead_for, engine.dead),
            ..engine
        }
    }

    /// Every setting as a row, in a fixed order.
    pub fn rows(&self) -> Vec<SettingRow> {
        let row = |setting: &str, value: String, source: &Source| SettingRow {
            setting: setting.into(),
            value,
            source: source.clone(),
        };
        let none = || "–".to_string();
        let engine = QueueConfig::default();
        let backoff = match &self.backoff.value {
            Backoff::None => "none".to_string(),
            Backoff::Fixed { delay } => format!("fixed {}", text(*delay)),
            Backoff::Exponential { base, cap, .. } => format!("exponential {} up to {}", text(*base), text(*cap)),
        };
        let mut rows = vec![
            row("concurrency", self.concurrency.value.to_string(), &self.concurrency.source),
            row(
                "global_concurrency",
                self.global_concurrency.value.map_or_else(none, |n| n.to_string()),
                &self.global_concurrency.source,
            ),
            row("attempts", self.attempts.value.to_string(), &self.attempts.source),
            row("backoff", backoff, &self.backoff.source),
            row("timeout", self.timeout.value.map_or_else(none, text), &self.timeout.source),
            row(
                "keep_completed",
                self.queue_config("")
                    .completed
                    .max_count
                    .or(engine.completed.max_count)
                    .map_or_else(none, |n| n.to_string()),
                &self.keep_completed.source,
            ),
            row(
                "keep_completed_for",
                self.queue_config("").completed.max_age.map_or_else(none, text),
                &self.keep_completed_for.source,
            ),
            row(
                "keep_dead",
                self.queue_config("").dead.max_count.map_or_else(none, |n| n.to_string()),
                &self.keep_dead.source,
            ),
            row(
                "keep_dead_for",
                self.queue_config("").dead.max_age.map_or_else(none, text),
                &self.keep_dead_for.source,
            ),
            row(
                "rate_limit",
                self.rate_limit.value.as_ref().map_or_else(none, |r| format!("{} per {}", r.max, text(r.per))),
                &self.rate_limit.source,
            ),
            row("max_waiting", self.max_waiting.value.to_string(), &self.max_waiting.source),
            row("max_failed", self.max_failed.value.to_string(), &self.max_failed.source),
            row("max_active", text(self.max_active.value), &self.max_active.source),
        ];
        for (kind, threshold) in &self.alerts {
            rows.push(row(&format!("alerts.{kind}"), threshold.value.to_string(), &threshold.source));
        }
        rows
    }
}

/// The effective configuration of a process.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    file_name: Option<String>,
    queues: BTreeMap<String, FileQueue>,
    schedules: Vec<ScheduleSpec>,
    processors: Option<(Vec<Builtin>, Source)>,
}

/// The file's variables' values, as this process's environment has them.
pub struct ConfigLocation {
    pub path: Option<std::path::PathBuf>,
    pub env: Option<String>,
}

impl ConfigLocation {
    /// `HOIST_CONFIG` and `HOIST_ENV`.
    pub fn from_environment() -> ConfigLocation {
        let read = |name| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        ConfigLocation {
            path: read(crate::config_file::CONFIG_VARIABLE).map(Into::into),
            env: read(crate::config_file::ENV_VARIABLE),
        }
    }
}

/// Bounds of the file's settings (the environment's are in [`crate::queue_settings`]).
const MAX_KEEP: u64 = 100_000_000;
const MAX_TIMEOUT: Duration = Duration::from_secs(7 * 86_400);
const MAX_KEEP_FOR: Duration = Duration::from_secs(3650 * 86_400);
const MAX_BACKOFF: Duration = Duration::from_secs(7 * 86_400);
const MAX_RATE_WINDOW: Duration = Duration::from_secs(7 * 86_400);
const MAX_ALERT_THRESHOLD: i64 = 1_000_000_000_000;

fn env_bound(
    file: &ConfigFile,
    value: &toml::Spanned<u64>,
    field: &str,
    setting: &QueueSetting,
) -> Result<u64, ConfigError> {
    bounded(file, value, field, setting.min, setting.max)
}

fn seconds_bound(
    file: &ConfigFile,
    value: &toml::Spanned<DurationText>,
    field: &str,
    setting: &QueueSetting,
) -> Result<Duration, ConfigError> {
    duration(file, value, field, Duration::from_secs(setting.min), Duration::from_secs(setting.max))
}

impl Settings {
    /// No file: every setting from the environment or its default.
    pub fn none() -> Settings {
        Settings::default()
    }

    /// Reads the file at `location` (none: [`Settings::none`]) and checks every setting.
    pub fn load(location: &ConfigLocation) -> Result<Settings, ConfigError> {
        let Some(path) = &location.path else {
            if let Some(env) = &location.env {
                return Err(ConfigError {
                    file: "(no file)".into(),
                    line: None,
                    field: crate::config_file::ENV_VARIABLE.into(),
                    message: format!(
                        "{env:?} chooses an environment, but {} names no file",
                        crate::config_file::CONFIG_VARIABLE
                    ),
                });
            }
            return Ok(Settings::none());
        };
        let file = ConfigFile::load(path, location.env.as_deref())?;
        Self::from_file(&file)
    }

    /// Checks every setting of a parsed file.
    pub fn from_file(file: &ConfigFile) -> Result<Settings, ConfigError> {
        let mut settings = Settings { file_name: Some(file.short_name()), ..Settings::default() };
        let mut schedules: BTreeMap<String, ScheduleSpec> = BTreeMap::new();
        for (env, layer) in file.layers() {
            let source = |span: std::ops::Range<usize>| Source::File {
                file: file.short_name(),
                line: file.line(span),
                env: env.map(str::to_string),
            };
            if let Some(processors) = &layer.processors {
                let field = ConfigFile::field(env, "processors");
                let mut names = vec![];
                for name in processors.get_ref() {
                    let builtin = crate::processors::parse_builtin(name)
                        .map_err(|message| file.error(processors.span(), &field, message))?;
                    names.push(builtin);
                }
                settings.processors = Some((names, source(processors.span())));
            }
            for (key, section) in &layer.queues {
                let queue = key.get_ref();
                let at = |name: &str| ConfigFile::field(env, &format!("queues.{queue}.{name}"));
                hoist_queue::validate_queue_name(queue).map_err(|e| {
                    file.error(key.span(), ConfigFile::field(env, &format!("queues.{queue}")), e.to_string())
                })?;
                let entry = settings.queues.entry(queue.clone()).or_default();
                read_queue(file, section, entry, &at, &source)?;
            }
            for (key, section) in &layer.schedules {
                let name = key.get_ref();
                let at = |field: &str| ConfigFile::field(env, &format!("schedules.{name}.{field}"));
                let spec = read_schedule(file, key, section, &at)?;
                schedules.insert(name.clone(), spec);
            }
        }
        // A schedule's jobs take their queue's options, as jobs added over the API do.
        settings.schedules = schedules
            .into_values()
            .map(|mut spec| {
                let options = settings.queue(&spec.queue).job_options(spec.job.options.clone());
                spec.job.options = options;
                spec
            })
            .collect();
        Ok(settings)
    }

    /// The file read, if any.
    pub fn file_name(&self) -> Option<&str> {
        self.file_name.as_deref()
    }

    /// Queues the file has a section for.
    pub fn declared_queues(&self) -> Vec<String> {
        self.queues.keys().cloned().collect()
    }

    /// The file's schedules, checked, with their queue's job options.
    pub fn schedules(&self) -> &[ScheduleSpec] {
        &self.schedules
    }

    /// The built-in processors the file turns on, if it names them.
    pub fn processors(&self) -> Option<&(Vec<Builtin>, Source)> {
        self.processors.as_ref()
    }

    /// `queue`'s effective settings: its environment variables over the file over the
    /// defaults.
    pub fn queue(&self, queue: &str) -> QueueSettings {
        let file = self.queues.get(queue).cloned().unwrap_or_default();
        let from_env = |setting: &QueueSetting| {
            setting.from_env(queue).map(|value| Setting {
                value,
                source: Source::Environment { variable: env_settings::variable(queue, setting) },
            })
        };
        let layered = |setting: &QueueSetting, file: Option<Setting<u64>>| {
            from_env(setting).or(file).unwrap_or_else(|| default(setting.default))
        };
        let optional = |setting: &QueueSetting, file: Option<Setting<u64>>| -> Setting<Option<u64>> {
            match from_env(setting).or(file) {
                Some(s) => Setting { value: Some(s.value), source: s.source },
                None => default(None),
            }
        };
        let engine_options = JobOptions::default();
        let max_active = from_env(&env_settings::MAX_ACTIVE_SECONDS)
            .map(|s| Setting { value: Duration::from_secs(s.value), source: s.source })
            .or(file.max_active.clone())
            .unwrap_or_else(|| default(Duration::from_secs(env_settings::MAX_ACTIVE_SECONDS.default)));
        let attempts = from_env(&env_settings::ATTEMPTS)
            .map(|s| Setting { value: s.value as u32, source: s.source })
            .or(file.attempts.clone())
            .unwrap_or_else(|| default(engine_options.max_attempts));
        let global = file
            .global_concurrency
            .clone()
            .map(|s| Setting { value: Some(s.value), source: s.source })
            .unwrap_or_else(|| default(None));
        let optional_duration = |value: &Option<Setting<Duration>>| match value {
            Some(s) => Setting { value: Some(s.value), source: s.source.clone() },
            None => default(None),
        };
        QueueSettings {
            queue: queue.to_string(),
            concurrency: layered(&env_settings::CONCURRENCY, file.concurrency.clone()),
            global_concurrency: global,
            attempts,
            backoff: file.backoff.clone().unwrap_or_else(|| default(engine_options.backoff.clone())),
            timeout: optional_duration(&file.timeout),
            keep_completed: optional(&env_settings::KEEP_COMPLETED, file.keep_completed.clone()),
            keep_completed_for: optional_duration(&file.keep_completed_for),
            keep_dead: optional(&env_settings::KEEP_DEAD, file.keep_dead.clone()),
            keep_dead_for: optional_duration(&file.keep_dead_for),
            rate_limit: match &file.rate_limit {
                Some(s) => Setting { value: Some(s.value), source: s.source.clone() },
                None => default(None),
            },
            max_waiting: layered(&env_settings::MAX_WAITING, file.max_waiting.clone()),
            max_failed: layered(&env_settings::MAX_FAILED, file.max_failed.clone()),
            max_active,
            alerts: file.alerts.clone(),
        }
    }
}

fn read_queue(
    file: &ConfigFile,
    s: &QueueSection,
    q: &mut FileQueue,
    at: &dyn Fn(&str) -> String,
    source: &dyn Fn(std::ops::Range<usize>) -> Source,
) -> Result<(), ConfigError> {
    fn set<T>(value: T, source: Source) -> Option<Setting<T>> {
        Some(Setting { value, source })
    }
    if let Some(v) = &s.concurrency {
        q.concurrency = set(env_bound(file, v, &at("concurrency"), &env_settings::CONCURRENCY)?, source(v.span()));
    }
    if let Some(v) = &s.global_concurrency {
        q.global_concurrency = set(bounded(file, v, &at("global_concurrency"), 1, 100_000)?, source(v.span()));
    }
    if let Some(v) = &s.attempts {
        q.attempts = set(bounded(file, v, &at("attempts"), 1, 1000)?, source(v.span()));
    }
    if let Some(v) = &s.backoff {
        let field = at("backoff");
        let b = v.get_ref();
        let delay = |d: &Option<DurationText>, name: &str| -> Result<Duration, ConfigError> {
            let d = d.as_ref().ok_or_else(|| file.error(v.span(), format!("{field}.{name}"), "missing"))?;
            let parsed = d.parse().map_err(|m| file.error(v.span(), format!("{field}.{name}"), m))?;
            if parsed.is_zero() || parsed > MAX_BACKOFF {
                return Err(file.error(v.span(), format!("{field}.{name}"), "must be more than 0 and at most 7 days"));
            }
            Ok(parsed)
        };
        let backoff = match b.kind.as_str() {
            "none" => Backoff::None,
            "fixed" => Backoff::Fixed { delay: delay(&b.delay, "delay")? },
            "exponential" => {
                let base = delay(&b.delay, "delay")?;
                let cap = match &b.max {
                    Some(_) => delay(&b.max, "max")?,
                    None => Duration::from_secs(3600),
                };
                if cap < base {
                    return Err(file.error(v.span(), format!("{field}.max"), "must be at least the delay"));
                }
                Backoff::Exponential { base, cap, jitter: 0.2 }
            }
            other => {
                return Err(file.error(
                    v.span(),
                    format!("{field}.type"),
                    format!("{other:?} is not fixed, exponential or none"),
                ));
            }
        };
        q.backoff = set(backoff, source(v.span()));
    }
    if let Some(v) = &s.timeout {
        q.timeout = set(duration(file, v, &at("timeout"), Duration::from_secs(1), MAX_TIMEOUT)?, source(v.span()));
    }
    if let Some(v) = &s.keep_completed {
        q.keep_completed = set(bounded(file, v, &at("keep_completed"), 0, MAX_KEEP)?, source(v.span()));
    }
    if let Some(v) = &s.keep_dead {
        q.keep_dead = set(bounded(file, v, &at("keep_dead"), 0, MAX_KEEP)?, source(v.span()));
    }
    if let Some(v) = &s.keep_completed_for {
        q.keep_completed_for =
            set(duration(file, v, &at("keep_completed_for"), Duration::from_secs(1), MAX_KEEP_FOR)?, source(v.span()));
    }
    if let Some(v) = &s.keep_dead_for {
        q.keep_dead_for =
            set(duration(file, v, &at("keep_dead_for"), Duration::from_secs(1), MAX_KEEP_FOR)?, source(v.span()));
    }
    if let Some(v) = &s.rate_limit {
        let field = at("rate_limit");
        let r = v.get_ref();
        if !(1..=1_000_000).contains(&r.max) {
            return Err(file.error(
                v.span(),
                format!("{field}.max"),
                format!("{} is out of range: 1 to 1000000", r.max),
            ));
        }
        let per = r.per.parse().map_err(|m| file.error(v.span(), format!("{field}.per"), m))?;
        if per < Duration::from_millis(1) || per > MAX_RATE_WINDOW {
            return Err(file.error(v.span(), format!("{field}.per"), "must be 1 ms to 7 days"));
        }
        q.rate_limit = set(RateLimit { max: r.max, per }, source(v.span()));
    }
    if let Some(v) = &s.max_waiting {
        q.max_waiting = set(env_bound(file, v, &at("max_waiting"), &env_settings::MAX_WAITING)?, source(v.span()));
    }
    if let Some(v) = &s.max_failed {
        q.max_failed = set(env_bound(file, v, &at("max_failed"), &env_settings::MAX_FAILED)?, source(v.span()));
    }
    if let Some(v) = &s.max_active {
        q.max_active =
            set(seconds_bound(file, v, &at("max_active"), &env_settings::MAX_ACTIVE_SECONDS)?, source(v.span()));
    }
    for (kind, threshold) in s.alerts.iter().flatten() {
        let field = at(&format!("alerts.{kind}"));
        let rule = RuleKind::parse(kind).filter(|k| k.per_queue()).ok_or_else(|| {
            let known: Vec<&str> = RuleKind::ALL.iter().filter(|k| k.per_queue()).map(|k| k.as_str()).collect();
            file.error(threshold.span(), &field, format!("not a queue alert; one of {}", known.join(", ")))
        })?;
        let value = bounded(file, threshold, &field, 0, MAX_ALERT_THRESHOLD)?;
        if rule == RuleKind::FailureRate && value > 100 {
            return Err(file.error(threshold.span(), &field, "a failure rate is a per cent, 0 to 100"));
        }
        q.alerts.insert(kind.clone(), Setting { value, source: source(threshold.span()) });
    }
    Ok(())
}

fn read_schedule(
    file: &ConfigFile,
    key: &toml::Spanned<String>,
    s: &crate::config_file::ScheduleSection,
    at: &dyn Fn(&str) -> String,
) -> Result<ScheduleSpec, ConfigError> {
    hoist_queue::validate_queue_name(s.queue.get_ref())
        .map_err(|e| file.error(s.queue.span(), at("queue"), e.to_string()))?;
    crate::names::check("job", s.job.get_ref(), crate::names::MAX_JOB_NAME)
        .map_err(|e| file.error(s.job.span(), at("job"), e.to_string()))?;
    let payload = match &s.payload {
        Some(table) => {
            serde_json::to_value(table.get_ref()).map_err(|e| file.error(table.span(), at("payload"), e.to_string()))?
        }
        None => serde_json::json!({}),
    };
    let name = key.get_ref();
    let mut spec = ScheduleSpec::new(name, s.cron.get_ref(), s.queue.get_ref(), NewJob::new(s.job.get_ref(), payload));
    if let Some(zone) = &s.timezone {
        spec.timezone = zone.get_ref().clone();
    }
    if let Some(enabled) = &s.enabled {
        spec.enabled = *enabled.get_ref();
    }
    if let Some(misfire) = &s.misfire {
        spec.misfire = match misfire.get_ref().as_str() {
            "skip" => MisfirePolicy::Skip,
            "run_once" => MisfirePolicy::RunOnce,
            "run_each" => MisfirePolicy::RunEach {
                max: match &s.misfire_max {
                    Some(max) => bounded(file, max, &at("misfire_max"), 1, 1000)?,
                    None => 10,
                },
            },
            other => {
                return Err(file.error(
                    misfire.span(),
                    at("misfire"),
                    format!("{other:?} is not skip, run_once or run_each"),
                ));
            }
        };
    }
    spec.validate().map_err(|e| {
        let (field, span) = match &e {
            hoist_queue::QueueError::InvalidOption { field, .. } if *field == "timezone" => {
                ("timezone", s.timezone.as_ref().map_or(s.cron.span(), |z| z.span()))
            }
            hoist_queue::QueueError::InvalidOption { field, .. } if *field == "name" => ("name", key.span()),
            _ => ("cron", s.cron.span()),
        };
        file.error(span, at(field), e.to_string())
    })?;
    Ok(spec)
}

/// Loads the configuration `location` names, as a start-up error naming the file.
pub fn load_or_fail(location: &ConfigLocation) -> Result<Settings, crate::error::StartupError> {
    Settings::load(location).map_err(|e| crate::error::StartupError::Config(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config_file::ConfigFile;

    fn parse(text: &str, env: Option<&str>) -> Result<Settings, ConfigError> {
        let file = ConfigFile::parse(std::path::Path::new("hoist.toml"), text.to_string(), env)?;
        Settings::from_file(&file)
    }

    const FILE: &str = r#"processors = ["notifications", "reports"]

[queues.emails]
concurrency = 7
attempts = 5
backoff = { type = "exponential", delay = "5s", max = "15m" }
timeout = "2m"
keep_completed = 100
keep_dead = 50
rate_limit = { max = 100, per = "1m" }
global_concurrency = 40
max_waiting = 5000
max_active = "10m"
alerts = { waiting = 2000, failure_rate = 10 }

[schedules.nightly-digest]
cron = "0 6 * * *"
timezone = "Europe/Berlin"
queue = "emails"
job = "digest"
payload = { kind = "daily" }
misfire = "run_once"

[env.production]
processors = ["all"]

[env.production.queues.emails]
concurrency = 20

[env.production.schedules.weekly]
cron = "0 7 * * 1"
queue = "emails"
job = "weekly"
"#;

    fn file_source(line: usize, env: Option<&str>) -> Source {
        Source::File { file: "hoist.toml".into(), line, env: env.map(str::to_string) }
    }

    /// No per-queue variable's suffix ends another's, so each names one setting.
    #[test]
    fn per_queue_suffixes_do_not_overlap() {
        for a in env_settings::ALL {
            for b in env_settings::ALL {
                if a.suffix != b.suffix {
                    assert!(!a.suffix.ends_with(&format!("_{}", b.suffix)), "{} ends with {}", a.suffix, b.suffix);
                }
            }
        }
    }

    #[test]
    fn the_file_overrides_the_defaults_and_names_its_lines() {
        let settings = parse(FILE, None).unwrap();
        let emails = settings.queue("emails");
        assert_eq!(emails.concurrency, Setting { value: 7, source: file_source(4, None) });
        assert_eq!(emails.attempts.value, 5);
        assert_eq!(
            emails.backoff.value,
            Backoff::Exponential { base: Duration::from_secs(5), cap: Duration::from_secs(900), jitter: 0.2 }
        );
        assert_eq!(emails.timeout.value, Some(Duration::from_secs(120)));
        assert_eq!(emails.rate_limit.value, Some(RateLimit { max: 100, per: Duration::from_secs(60) }));
        assert_eq!(emails.global_concurrency.value, Some(40));
        assert_eq!(emails.max_waiting, Setting { value: 5000, source: file_source(12, None) });
        assert_eq!(emails.max_failed, default(100), "not in the file: the default");
        assert_eq!(emails.alerts["waiting"].value, 2000);
        let config = emails.queue_config("hoist");
        assert_eq!((config.completed.max_count, config.dead.max_count), (Some(100), Some(50)));
        // Ages the file leaves out stay the engine's.
        assert_eq!(config.completed.max_age, QueueConfig::default().completed.max_age);
        // A queue the file does not name has every default.
        let other = settings.queue("other");
        assert!(other.rows().iter().all(|row| row.source == Source::Default), "{:?}", other.rows());
        assert_eq!(other.concurrency.value, 5);

        // Jobs take the queue's options where they left the engine's.
        let options = emails.job_options(JobOptions::default());
        assert_eq!((options.max_attempts, options.timeout), (5, Some(Duration::from_secs(120))));
        let asked = JobOptions { max_attempts: 9, ..JobOptions::default() };
        assert_eq!(emails.job_options(asked).max_attempts, 9, "a job keeps what it asked for");
        assert_eq!(other.job_options(JobOptions::default()), JobOptions::default());

        let (processors, source) = settings.processors().unwrap();
        assert_eq!(
            (processors.as_slice(), source),
            ([Builtin::Notifications, Builtin::Reports].as_slice(), &file_source(1, None))
        );
        let schedules = settings.schedules();
        assert_eq!(schedules.len(), 1);
        assert_eq!(schedules[0].timezone, "Europe/Berlin");
        assert_eq!(schedules[0].misfire, MisfirePolicy::RunOnce);
        assert_eq!(schedules[0].job.payload, serde_json::json!({ "kind": "daily" }));
        assert_eq!(schedules[0].job.options.max_attempts, 5, "a schedule's jobs take the queue's options");
    }

    #[test]
    fn an_environment_section_overrides_the_top_level() {
        let settings = parse(FILE, Some("production")).unwrap();
        let emails = settings.queue("emails");
        assert_eq!(emails.concurrency, Setting { value: 20, source: file_source(28, Some("production")) });
        assert_eq!(emails.attempts.source, file_source(5, None), "the rest stays the top level's");
        assert_eq!(settings.processors().unwrap().0, [Builtin::All]);
        let names: Vec<&str> = settings.schedules().iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["nightly-digest", "weekly"]);
        assert!(
            Source::File { file: "hoist.toml".into(), line: 33, env: Some("production".into()) }
                .to_string()
                .contains("hoist.toml:33 [env.production]")
        );

        let error = parse(FILE, Some("staging")).unwrap_err();
        assert_eq!((error.field.as_str(), error.line), ("HOIST_ENV", None));
        assert!(error.message.contains("production"), "{error}");
    }

    /// Every check names the file, the line and the field.
    #[test]
    fn every_invalid_setting_is_refused_with_its_line_and_field() {
        let cases: &[(&str, usize, &str)] = &[
            ("[queues.q]\nconcurrency = 0", 2, "queues.q.concurrency"),
            ("[queues.q]\nconcurrency = 10001", 2, "queues.q.concurrency"),
            ("[queues.q]\nglobal_concurrency = 0", 2, "queues.q.global_concurrency"),
            ("[queues.q]\nattempts = 0", 2, "queues.q.attempts"),
            ("[queues.q]\nattempts = 1001", 2, "queues.q.attempts"),
            ("[queues.q]\n\nbackoff = { type = \"linear\", delay = \"1s\" }", 3, "queues.q.backoff.type"),
            ("[queues.q]\nbackoff = { type = \"fixed\" }", 2, "queues.q.backoff.delay"),
            (
                "[queues.q]\nbackoff = { type = \"exponential\", delay = \"1m\", max = \"1s\" }",
                2,
                "queues.q.backoff.max",
            ),
            ("[queues.q]\nbackoff = { type = \"fixed\", delay = \"soon\" }", 2, "queues.q.backoff.delay"),
            ("[queues.q]\ntimeout = \"0s\"", 2, "queues.q.timeout"),
            ("[queues.q]\ntimeout = \"8 days\"", 2, "queues.q.timeout"),
            ("[queues.q]\nkeep_completed = 100000001", 2, "queues.q.keep_completed"),
            ("[queues.q]\nkeep_dead_for = \"eventually\"", 2, "queues.q.keep_dead_for"),
            ("[queues.q]\nrate_limit = { max = 0, per = \"1s\" }", 2, "queues.q.rate_limit.max"),
            ("[queues.q]\nrate_limit = { max = 5, per = \"30 days\" }", 2, "queues.q.rate_limit.per"),
            ("[queues.q]\nmax_active = \"0s\"", 2, "queues.q.max_active"),
            ("[queues.q]\nalerts = { waiting = -1 }", 2, "queues.q.alerts.waiting"),
            ("[queues.q]\nalerts = { failure_rate = 101 }", 2, "queues.q.alerts.failure_rate"),
            ("[queues.q]\nalerts = { redis_unreachable = 1 }", 2, "queues.q.alerts.redis_unreachable"),
            ("[queues.q]\nconcurency = 3", 2, "queues.q.concurency"),
            ("[queues.q]\nconcurrency = \"many\"", 2, "queues.q.concurrency"),
            ("processors = [\"billing\"]", 1, "processors"),
            (
                "[queues.q]\n[schedules.s]\ncron = \"0 6 * * *\"\nqueue = \"q\"\njob = \"j\"\ntimezone = \"Mars/Olympus\"",
                6,
                "schedules.s.timezone",
            ),
            ("[schedules.s]\ncron = \"61 * * * *\"\nqueue = \"q\"\njob = \"j\"", 2, "schedules.s.cron"),
            ("[schedules.s]\ncron = \"0 6 * * *\"\nqueue = \"bad queue\"\njob = \"j\"", 3, "schedules.s.queue"),
            (
                "[schedules.s]\ncron = \"0 6 * * *\"\nqueue = \"q\"\njob = \"j\"\nmisfire = \"later\"",
                5,
                "schedules.s.misfire",
            ),
            ("[env.prod.queues.q]\nattempts = 0", 2, "env.prod.queues.q.attempts"),
            ("\n[queues.\"bad queue\"]\nattempts = 1", 2, "queues.bad queue"),
            ("\n\n[schedules.\"\"]\ncron = \"0 6 * * *\"\nqueue = \"q\"\njob = \"j\"", 3, "schedules..name"),
            ("[queues.q\nattempts = 1", 1, "(file)"),
        ];
        for (text, line, field) in cases {
            let env = text.starts_with("[env.prod").then_some("prod");
            let error = parse(text, env).expect_err(text);
            assert_eq!(error.file, "hoist.toml", "{text}");
            assert_eq!(error.line, Some(*line), "{text}: {error}");
            assert_eq!(error.field, *field, "{text}: {error}");
            assert!(error.to_string().starts_with(&format!("hoist.toml:{line}: ")), "{error}");
        }
        // A schedule without its queue: the whole section is named.
        let error = parse("[schedules.s]\ncron = \"0 6 * * *\"\njob = \"j\"", None).unwrap_err();
        assert!(error.message.contains("queue"), "{error}");
    }
}

#[cfg(test)]
mod example {
    use super::*;
    use crate::config_file::ConfigFile;

    /// The example in the repository stays valid, in both its environments.
    #[test]
    fn the_example_file_is_valid() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../hoist.example.toml");
        let development = Settings::from_file(&ConfigFile::load(&path, None).unwrap()).unwrap();
        assert_eq!(development.queue("sync").keep_dead.value, Some(50));
        assert_eq!(development.queue("notifications").concurrency.value, 5);
        let production = Settings::from_file(&ConfigFile::load(&path, Some("production")).unwrap()).unwrap();
        assert_eq!(production.queue("notifications").concurrency.value, 10);
        assert_eq!(production.queue("reports").attempts.value, 5);
        assert_eq!(production.processors().unwrap().0, [Builtin::All]);
        assert_eq!(production.schedules().len(), 1);
    }
}
