//! The one map from what Redis and the scripts answer to [`QueueError`].

use crate::error::QueueError;

/// The one map from a script's refusals to [`QueueError`]: `HOIST_BAD_ARG name value` (an
/// argument out of its documented range, refused before the script wrote anything) and
/// `HOIST_BAD_STATE reason`. Anything else stays a Redis error.
pub(crate) fn script_error(error: redis::RedisError) -> QueueError {
    // Redis reports a script's error as "CODE detail script: SHA, on @user_script:LINE.".
    let detail = || error.detail().unwrap_or_default().split(" script:").next().unwrap_or_default().trim().to_string();
    match error.code() {
        Some("HOIST_BAD_ARG") => {
            let detail = detail();
            let (name, value) = detail.split_once(' ').unwrap_or((detail.as_str(), ""));
            QueueError::InvalidOption {
                field: argument_name(name),
                reason: format!("{value:?} is outside the range the engine accepts"),
            }
        }
        Some("HOIST_BAD_STATE") => QueueError::InvalidOption { field: "state", reason: detail() },
        _ => QueueError::Redis(error),
    }
}

/// The argument names the scripts use in `bad_arg`, as the static field names errors carry.
fn argument_name(name: &str) -> &'static str {
    const NAMES: &[&str] = &[
        "jobs",
        "id",
        "spec",
        "opts",
        "priority",
        "delay",
        "dedup_key",
        "name",
        "owner",
        "rate_limit.key",
        "rate_limit.max",
        "rate_limit.per",
        "count",
        "lease",
        "worker",
        "keep",
        "keep_age",
        "completions",
        "run_ms",
        "failures",
        "error",
        "jitter",
        "leases",
        "archived",
        "channel",
        "batch",
        "max_log_lines",
        "logs",
        "mode",
        "limit",
        "state",
        "older_than",
        "start",
        "key",
        "max",
        "per",
        "member",
        "kind",
        "fields",
        "concurrency",
        "rate.max",
        "rate.per",
        "window",
    ];
    NAMES.iter().find(|known| **known == name).copied().unwrap_or("argument")
}

/// Maps the small negative codes the Lua scripts return for one job.
pub(crate) fn from_code(code: i64, id: &str, action: &'static str) -> Option<QueueError> {
    match code {
        -1 => Some(QueueError::NotFound { id: id.to_string() }),
        -2 => Some(QueueError::LeaseLost { id: id.to_string() }),
        -3 => Some(QueueError::WrongState { id: id.to_string(), state: "finished".into(), action }),
        -4 => Some(QueueError::ActiveJobs),
        _ => None,
    }
}
