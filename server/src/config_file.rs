//! `hoist.toml` (path in `HOIST_CONFIG`): queues, schedules and built-in processors
//! declared in one file, with named environments (`[env.production]`, chosen by
//! `HOIST_ENV`) that override its top level. Environment variables override the file;
//! the file overrides the defaults ([`crate::settings`] resolves the three).
//!
//! ```toml
//! processors = ["notifications", "reports"]
//!
//! [queues.emails]
//! concurrency = 10               # jobs at once per process
//! global_concurrency = 40        # jobs at once across every process
//! attempts = 5
//! backoff = { type = "exponential", delay = "5s", max = "15m" }
//! timeout = "2m"
//! keep_completed = 100           # and keep_completed_for = "1d"
//! keep_dead = 50                 # and keep_dead_for = "14d"
//! rate_limit = { max = 100, per = "1m" }
//! max_waiting = 1000             # health: warn above
//! max_failed = 100
//! max_active = "5m"
//! alerts = { waiting = 5000, failure_rate = 10 }
//!
//! [schedules.nightly-digest]
//! cron = "0 6 * * *"
//! timezone = "Europe/Berlin"
//! queue = "emails"
//! job = "digest"
//! payload = { kind = "daily" }
//! misfire = "run_once"           # skip (default), run_once, run_each
//!
//! [env.production.queues.emails]
//! concurrency = 20
//! ```
//!
//! Every error names the file, the line and the field.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

/// The variable naming the file.
pub const CONFIG_VARIABLE: &str = "HOIST_CONFIG";
/// The variable choosing an `[env.NAME]` section.
pub const ENV_VARIABLE: &str = "HOIST_ENV";
/// Largest file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// What is wrong with the file, and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {field}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ConfigError {
    pub file: String,
    /// 1-based; `None` when the problem is not on a line (the file is missing).
    pub line: Option<usize>,
    /// The setting's path, e.g. `queues.emails.attempts`.
    pub field: String,
    pub message: String,
}

/// A duration as the file writes it: whole seconds (`30`) or with a unit (`30s`, `5m`).
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum DurationText {
    Seconds(u64),
    Text(String),
}

impl DurationText {
    pub fn parse(&self) -> Result<Duration, String> {
        match self {
            DurationText::Seconds(seconds) => Ok(Duration::from_secs(*seconds)),
            DurationText::Text(text) => humantime::parse_duration(text.trim())
                .map_err(|e| format!("{text:?} is not a duration such as 30, 30s, 5m or 1h ({e})")),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackoffText {
    /// `fixed`, `exponential` or `none`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub delay: Option<DurationText>,
    /// Exponential only: the longest wait.
    #[serde(default)]
    pub max: Option<DurationText>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateText {
    pub max: u32,
    pub per: DurationText,
}

/// One queue's section (of the top level or of an environment).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSection {
    pub concurrency: Option<Spanned<u64>>,
    pub global_concurrency: Option<Spanned<u32>>,
    pub attempts: Option<Spanned<u32>>,
    pub backoff: Option<Spanned<BackoffText>>,
    pub timeout: Option<Spanned<DurationText>>,
    pub keep_completed: Option<Spanned<u64>>,
    pub keep_completed_for: Option<Spanned<DurationText>>,
    pub keep_dead: Option<Spanned<u64>>,
    pub keep_dead_for: Option<Spanned<DurationText>>,
    pub rate_limit: Option<Spanned<RateText>>,
    pub max_waiting: Option<Spanned<u64>>,
    pub max_failed: Option<Spanned<u64>>,
    pub max_active: Option<Spanned<DurationText>>,
    /// Alert thresholds by rule kind (`waiting`, `failure_rate`, ...).
    pub alerts: Option<BTreeMap<String, Spanned<i64>>>,
}

/// One schedule's section.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSection {
    pub cron: Spanned<String>,
    #[serde(default)]
    pub timezone: Option<Spanned<String>>,
    pub queue: Spanned<String>,
    /// The job's name.
    pub job: Spanned<String>,
    #[serde(default)]
    pub payload: Option<Spanned<toml::Table>>,
    /// `skip` (default), `run_once` or `run_each` (with `misfire_max`, default 10).
    #[serde(default)]
    pub misfire: Option<Spanned<String>>,
    #[serde(default)]
    pub misfire_max: Option<Spanned<u32>>,
    #[serde(default)]
    pub enabled: Option<Spanned<bool>>,
}

/// The top level, or one environment.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    #[serde(default)]
    pub processors: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub queues: BTreeMap<Spanned<String>, QueueSection>,
    #[serde(default)]
    pub schedules: BTreeMap<Spanned<String>, ScheduleSection>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Root {
    #[serde(default)]
    processors: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    queues: BTreeMap<Spanned<String>, QueueSection>,
    #[serde(default)]
    schedules: BTreeMap<Spanned<String>, ScheduleSection>,
    #[serde(default)]
    env: BTreeMap<String, Layer>,
}

/// A read file: its top level and, when one is chosen, the environment over it.
#[derive(Clone, Debug)]
pub struct ConfigFile {
    pub path: PathBuf,
    text: String,
    pub base: Layer,
    /// The chosen environment's name and section.
    pub env: Option<(String, Layer)>,
}

/// The setting written on the line of byte `offset`: the last table header above it and
/// the key before its `=` (`queues.emails.attempts`); `(file)` when the line has no key.
fn field_at(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].lines().next().unwrap_or_default();
    let header = text[..start]
        .lines()
        .map(str::trim)
        .rfind(|l| l.starts_with('['))
        .map(|l| l.trim_matches(['[', ']']).trim().to_string());
    let key = line.split_once('=').map(|(key, _)| key.trim().trim_matches('"').to_string());
    match (header, key) {
        (Some(header), Some(key)) => format!("{header}.{key}"),
        (None, Some(key)) => key,
        (Some(header), None) if !line.trim_start().starts_with('[') => header,
        _ => "(file)".into(),
    }
}

/// 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

impl ConfigFile {
    /// Reads and parses the file at `path`, with the environment `env` (which must be one
    /// of its `[env.NAME]` sections) over its top level.
    pub fn load(path: &Path, env: Option<&str>) -> Result<ConfigFile, ConfigError> {
        let file = path.display().to_string();
        let fail =
            |line, field: &str, message: String| ConfigError { file: file.clone(), line, field: field.into(), message };
        let size =
            std::fs::metadata(path).map_err(|e| fail(None, CONFIG_VARIABLE, format!("cannot read it: {e}")))?.len();
        if size > MAX_FILE_BYTES {
            return Err(fail(None, CONFIG_VARIABLE, format!("{size} bytes; at most {MAX_FILE_BYTES}")));
        }
        let text =
            std::fs::read_to_string(path).map_err(|e| fail(None, CONFIG_VARIABLE, format!("cannot read it: {e}")))?;
        Self::parse(path, text, env)
    }

    /// [`ConfigFile::load`] of text already read.
    pub fn parse(path: &Path, text: String, env: Option<&str>) -> Result<ConfigFile, ConfigError> {
        let file = path.display().to_string();
        let root: Root = toml::from_str(&text).map_err(|e| {
            let span = e.span();
            let line = span.as_ref().map(|s| line_of(&text, s.start));
            let field = span.map_or_else(|| "(file)".to_string(), |s| field_at(&text, s.start));
            ConfigError { file: file.clone(), line, field, message: e.message().trim().to_string() }
        })?;
        let mut envs = root.env;
        let env = match env.map(str::trim).filter(|e| !e.is_empty()) {
            None => None,
            Some(name) => match envs.remove(name) {
                Some(layer) => Some((name.to_string(), layer)),
                None => {
                    let known: Vec<&String> = envs.keys().collect();
                    return Err(ConfigError {
                        file,
                        line: None,
                        field: ENV_VARIABLE.into(),
                        message: format!("{name:?} has no [env.{name}] section in the file (it has: {known:?})"),
                    });
                }
            },
        };
        let base = Layer { processors: root.processors, queues: root.queues, schedules: root.schedules };
        Ok(ConfigFile { path: path.to_path_buf(), text, base, env })
    }

    /// The file's path as errors show it.
    pub fn name(&self) -> String {
        self.path.display().to_string()
    }

    /// The file's name without its folder, as settings' sources show it (to everyone
    /// who watches queues: the server's folders are not theirs to know).
    pub fn short_name(&self) -> String {
        self.path.file_name().map_or_else(|| self.name(), |name| name.to_string_lossy().into_owned())
    }

    /// The line a span starts on.
    pub fn line(&self, span: Range<usize>) -> usize {
        line_of(&self.text, span.start)
    }

    /// An error about the setting at `span`.
    pub fn error(&self, span: Range<usize>, field: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError { file: self.name(), line: Some(self.line(span)), field: field.into(), message: message.into() }
    }

    /// The layers, the top level first, with the environment's name for the second.
    pub fn layers(&self) -> impl Iterator<Item = (Option<&str>, &Layer)> {
        std::iter::once((None, &self.base)).chain(self.env.iter().map(|(name, layer)| (Some(name.as_str()), layer)))
    }

    /// Where a setting's path is in which layer: `queues.emails.attempts` in the
    /// environment's section is `env.production.queues.emails.attempts`.
    pub fn field(env: Option<&str>, path: &str) -> String {
        match env {
            Some(env) => format!("env.{env}.{path}"),
            None => path.to_string(),
        }
    }
}

/// Parses a duration setting, with its bounds.
pub fn duration(
    file: &ConfigFile,
    value: &Spanned<DurationText>,
    field: &str,
    min: Duration,
    max: Duration,
) -> Result<Duration, ConfigError> {
    let parsed = value.get_ref().parse().map_err(|message| file.error(value.span(), field, message))?;
    if parsed < min || parsed > max {
        return Err(file.error(
            value.span(),
            field,
            format!(
                "{} is out of range: {} to {}",
                humantime::format_duration(parsed),
                humantime::format_duration(min),
                humantime::format_duration(max)
            ),
        ));
    }
    Ok(parsed)
}

/// Checks a number setting's bounds.
pub fn bounded<T: PartialOrd + Copy + std::fmt::Display>(
    file: &ConfigFile,
    value: &Spanned<T>,
    field: &str,
    min: T,
    max: T,
) -> Result<T, ConfigError> {
    let v = *value.get_ref();
    if v < min || v > max {
        return Err(file.error(value.span(), field, format!("{v} is out of range: {min} to {max}")));
    }
    Ok(v)
}
