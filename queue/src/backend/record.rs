//! How a job is stored: its Redis hash.
//!
//! Every field costs Redis time on each write and each claim, so a job has few: `spec`
//! (JSON only the client reads: name, owner, timeout, dedup key, creation time, trace
//! context and the payload, written once), `opts` (the retry policy the scripts read, written once),
//! and the fields that change with its state (`state`, `score`, `attempts`, `stalls`,
//! `run_at`, `started_at`, `worker`, `lease`, `finished_at`, `progress`, `result`,
//! `error`, `cancel`). Absent `attempts`/`stalls` mean 0 and absent `run_at` means the
//! creation time.

use std::collections::HashMap;

use serde::Deserialize;

use crate::backend::{int, text};
use crate::error::{QueueError, Result};
use crate::trace_context::TraceContext;
use crate::types::{Backoff, ErrorRecord, Job, JobOptions, JobState, NewJob, Progress};

/// The `spec` field of a new job without its opening `{"created_at":TIME,`: the enqueue
/// script puts that in front, with Redis's time. `payload` is already serialized JSON
/// and goes in as is.
pub(crate) fn encode_spec_body(job: &NewJob, payload: &str) -> String {
    let o = &job.options;
    let quote = |s: &str| serde_json::Value::from(s).to_string();
    let mut spec = String::with_capacity(payload.len() + job.name.len() + 64);
    spec.push_str("\"name\":");
    spec.push_str(&quote(&job.name));
    if let Some(owner) = &o.owner {
        spec.push_str(",\"owner\":");
        spec.push_str(&quote(owner));
    }
    if let Some(group) = &o.group {
        spec.push_str(",\"group\":");
        spec.push_str(&quote(group));
    }
    if let Some(timeout) = o.timeout {
        spec.push_str(&format!(",\"timeout_ms\":{}", timeout.as_millis()));
    }
    if let Some(key) = &o.dedup_key {
        spec.push_str(",\"dedup\":");
        spec.push_str(&quote(key));
    }
    if let Some(trace) = &job.trace {
        spec.push_str(",\"trace\":");
        spec.push_str(&serde_json::to_string(trace).unwrap_or_else(|_| "null".into()));
    }
    spec.push_str(",\"payload\":");
    spec.push_str(payload);
    spec.push('}');
    spec
}

/// The `opts` field: `max_attempts:max_stalls:priority:backoff`, as `job_opts` in
/// `common.lua` reads it.
pub(crate) fn encode_opts(options: &JobOptions) -> String {
    format!("{}:{}:{}:{}", options.max_attempts, options.max_stalls, options.priority, options.backoff.encode())
}

#[derive(Deserialize)]
struct Spec {
    name: String,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    dedup: Option<String>,
    created_at: i64,
    #[serde(default)]
    trace: Option<TraceContext>,
    payload: serde_json::Value,
}

struct Opts {
    max_attempts: u32,
    max_stalls: u32,
    priority: u16,
    backoff: Backoff,
}

fn decode_opts(opts: &str) -> Option<Opts> {
    let mut parts = opts.splitn(4, ':');
    Some(Opts {
        max_attempts: parts.next()?.parse().ok()?,
        max_stalls: parts.next()?.parse().ok()?,
        priority: parts.next()?.parse().ok()?,
        backoff: Backoff::decode(parts.next()?),
    })
}

/// Builds a [`Job`] from its hash fields (HGETALL).
pub(crate) fn decode_job(queue: &str, id: &str, fields: &HashMap<String, String>) -> Result<Job> {
    decode(queue, id, |name| fields.get(name).map(String::as_str))
}

/// Builds a [`Job`] from field lookups; shared by whole-hash reads and claims.
fn decode<'a>(queue: &str, id: &str, get: impl Fn(&str) -> Option<&'a str>) -> Result<Job> {
    let num = |name: &str| get(name).and_then(|v| v.parse::<i64>().ok());
    let non_empty = |value: Option<&str>| value.filter(|v| !v.is_empty()).map(str::to_string);
    let state = get("state")
        .and_then(JobState::parse)
        .ok_or_else(|| QueueError::Protocol(format!("job {id} has no valid state")))?;
    let spec = match get("spec") {
        Some(spec) => serde_json::from_str::<Spec>(spec)
            .map_err(|e| QueueError::Protocol(format!("job {id} has an unreadable spec: {e}")))?,
        // Written before specs: the same data in separate fields.
        None => Spec {
            name: get("name").unwrap_or_default().to_string(),
            owner: non_empty(get("owner")),
            group: None,
            timeout_ms: num("timeout_ms").filter(|t| *t > 0).map(|t| t as u64),
            dedup: non_empty(get("dedup")),
            created_at: num("created_at").unwrap_or(0),
            payload: get("payload").and_then(|v| serde_json::from_str(v).ok()).unwrap_or(serde_json::Value::Null),
            trace: None,
        },
    };
    let opts = get("opts").and_then(decode_opts).unwrap_or_else(|| Opts {
        max_attempts: num("max_attempts").unwrap_or(1) as u32,
        max_stalls: num("max_stalls").unwrap_or(1) as u32,
        priority: num("priority").unwrap_or(0) as u16,
        backoff: Backoff::decode(get("backoff").unwrap_or("none")),
    });
    Ok(Job {
        id: id.to_string(),
        queue: queue.to_string(),
        name: spec.name,
        payload: spec.payload,
        owner: spec.owner,
        group: spec.group,
        state,
        priority: opts.priority,
        attempts: num("attempts").unwrap_or(0).max(0) as u32,
        max_attempts: opts.max_attempts,
        backoff: opts.backoff,
        timeout_ms: spec.timeout_ms.filter(|t| *t > 0),
        dedup_key: spec.dedup,
        max_stalls: opts.max_stalls,
        stalls: num("stalls").unwrap_or(0) as u32,
        created_at: spec.created_at,
        run_at: num("run_at").unwrap_or(spec.created_at),
        started_at: num("started_at"),
        expires_at: num("expires_at"),
        worker: non_empty(get("worker")),
        finished_at: num("finished_at"),
        // A field written by another version must not make the job unreadable.
        progress: get("progress").and_then(|v| serde_json::from_str::<Progress>(v).ok()),
        result: get("result").and_then(|v| serde_json::from_str(v).ok()),
        last_error: get("error").and_then(|v| serde_json::from_str::<ErrorRecord>(v).ok()),
        errors: vec![],
        logs: vec![],
        cancel_requested: get("cancel").is_some_and(|c| !c.is_empty()),
        trace: spec.trace,
    })
}

/// A job as `claim_jobs` in `includes/claim.lua` returns it: `[id, spec, opts, attempt,
/// stalls, run_at, error, progress, lease]`, now active since `now` under `worker`'s
/// lease. Returns the job and its lease.
pub(crate) fn decode_claimed(queue: &str, item: redis::Value, now: i64, worker: &str) -> Result<(Job, String)> {
    let values = crate::backend::array(item)?;
    let at = |i: usize| values.get(i).and_then(text);
    let id = at(0).ok_or_else(|| QueueError::Protocol("claimed job without id".into()))?;
    let lease = at(8).unwrap_or_default();
    let attempt = values.get(3).and_then(int).unwrap_or(1).to_string();
    let now = now.to_string();
    let fields: [(&str, Option<String>); 10] = [
        ("spec", at(1)),
        ("opts", at(2)),
        ("attempts", Some(attempt)),
        ("stalls", at(4)),
        ("run_at", at(5)),
        ("error", at(6)),
        ("progress", at(7)),
        ("state", Some("active".into())),
        ("started_at", Some(now)),
        ("worker", Some(worker.to_string())),
    ];
    let job = decode(queue, &id, |name| fields.iter().find(|(n, _)| *n == name).and_then(|(_, v)| v.as_deref()))?;
    Ok((job, lease))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn stored(job: &NewJob, state: &str) -> HashMap<String, String> {
        let payload = serde_json::to_string(&job.payload).unwrap();
        HashMap::from([
            // As the enqueue script stores it.
            ("spec".to_string(), format!("{{\"created_at\":1700000000000,{}", encode_spec_body(job, &payload))),
            ("opts".to_string(), encode_opts(&job.options)),
            ("state".to_string(), state.to_string()),
        ])
    }

    #[test]
    fn a_job_reads_back_as_it_was_enqueued() {
        let options = JobOptions {
            priority: 7,
            max_attempts: 5,
            backoff: Backoff::Exponential {
                base: Duration::from_millis(250),
                cap: Duration::from_secs(60),
                jitter: 0.5,
            },
            timeout: Some(Duration::from_secs(9)),
            dedup_key: Some("key \"quoted\" ü".into()),
            owner: Some("user:42".into()),
            max_stalls: 2,
            ..Default::default()
        };
        let job = NewJob::new("send \"mail\"\n", serde_json::json!({ "to": "a@b", "n": [1, 2] })).with_options(options);
        let read = decode_job("q", "J1", &stored(&job, "waiting")).unwrap();
        assert_eq!(read.id, "J1");
        assert_eq!(read.name, job.name);
        assert_eq!(read.payload, job.payload);
        assert_eq!(read.owner.as_deref(), Some("user:42"));
        assert_eq!(read.dedup_key.as_deref(), Some("key \"quoted\" ü"));
        assert_eq!(read.timeout_ms, Some(9000));
        assert_eq!((read.priority, read.max_attempts, read.max_stalls), (7, 5, 2));
        assert_eq!(read.backoff, job.options.backoff);
        assert_eq!(
            (read.created_at, read.run_at, read.attempts, read.stalls),
            (1_700_000_000_000, 1_700_000_000_000, 0, 0)
        );
        assert_eq!(read.state, JobState::Waiting);
    }

    #[test]
    fn a_job_without_options_has_no_owner_timeout_or_dedup_key() {
        let job = NewJob::new("plain", serde_json::json!(null));
        let read = decode_job("q", "J2", &stored(&job, "delayed")).unwrap();
        assert_eq!((read.owner, read.timeout_ms, read.dedup_key), (None, None, None));
        assert_eq!(read.backoff, Backoff::default());
    }

    #[test]
    fn a_job_stored_field_by_field_before_specs_still_reads() {
        let fields: HashMap<String, String> = [
            ("id", "OLD"),
            ("name", "legacy"),
            ("payload", "{\"a\":1}"),
            ("owner", "u1"),
            ("priority", "3"),
            ("state", "completed"),
            ("attempts", "1"),
            ("max_attempts", "4"),
            ("backoff", "fixed:500"),
            ("created_at", "10"),
            ("run_at", "20"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let read = decode_job("q", "OLD", &fields).unwrap();
        assert_eq!((read.name.as_str(), read.owner.as_deref(), read.priority), ("legacy", Some("u1"), 3));
        assert_eq!(
            (read.max_attempts, read.backoff.clone()),
            (4, Backoff::Fixed { delay: Duration::from_millis(500) })
        );
        assert_eq!((read.created_at, read.run_at), (10, 20));
        assert_eq!(read.payload, serde_json::json!({ "a": 1 }));
    }

    #[test]
    fn an_unreadable_spec_is_an_error_not_an_empty_job() {
        let fields =
            HashMap::from([("spec".to_string(), "{".to_string()), ("state".to_string(), "waiting".to_string())]);
        assert!(decode_job("q", "BAD", &fields).is_err());
    }
}
