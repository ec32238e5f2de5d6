//! The Lua scripts, one per state transition, named verb + object, each with a header
//! documenting its KEYS and ARGV. Queue scripts are prefixed with the shared includes and
//! declare the queue keys they use on a `-- KEYS:` line: the loader passes exactly those,
//! in that order, and names them for the script (`k.wait`...). `redis::Script` sends
//! EVALSHA and loads the script again on NOSCRIPT (after a Redis restart, for example).

use std::collections::HashSet;
use std::sync::LazyLock;

use redis::Script;

const COMMON: &str = include_str!("../../lua/includes/common.lua");
const CLAIM_FNS: &str = include_str!("../../lua/includes/claim.lua");

/// A queue script and the queue keys it declared, in the order it receives them.
pub struct QueueScript {
    pub script: Script,
    pub keys: Vec<&'static str>,
}

/// The queue keys a script may declare (see `lua/includes/common.lua`).
pub const QUEUE_KEY_NAMES: [&str; 20] = [
    "wait",
    "delayed",
    "retry",
    "active",
    "completed",
    "dead",
    "cancelled",
    "expired",
    "expiring",
    "meta",
    "events",
    "marker",
    "dedup",
    "seq",
    "limiter",
    "archive",
    "unindexed",
    "owners",
    "groups",
    "group_active",
];

/// The key names on the script's `-- KEYS:` line (words up to any parenthesis).
fn declared_keys(file: &str, body: &str) -> Vec<&'static str> {
    let line =
        body.lines().find_map(|l| l.strip_prefix("-- KEYS:")).unwrap_or_else(|| panic!("{file} declares no KEYS line"));
    line.split('(')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(|name| {
            QUEUE_KEY_NAMES
                .iter()
                .find(|known| **known == name)
                .copied()
                .unwrap_or_else(|| panic!("{file} declares an unknown key {name:?}"))
        })
        .collect()
}

fn queue_script(file: &str, body: &str, claim: bool) -> QueueScript {
    let keys = declared_keys(file, body);
    let names: Vec<String> = keys.iter().enumerate().map(|(i, name)| format!("{name} = KEYS[{}]", i + 1)).collect();
    // A key the script did not declare is an error, not a nil that Redis would reject
    // somewhere less clear.
    let table = format!(
        "local k = setmetatable({{ {} }}, {{ __index = function(_, name) \
         error({{ err = 'HOIST_UNDECLARED_KEY ' .. tostring(name) }}) end }})",
        names.join(", ")
    );
    let includes: &[&str] = if claim { &[COMMON, CLAIM_FNS] } else { &[COMMON] };
    let shared = linked_includes(file, includes, body);
    QueueScript { script: Script::new(&format!("{table}\n{shared}\n{body}")), keys }
}

/// One top-level definition of an include: its text (with the comment above it), the
/// names it defines and the identifiers its code mentions.
struct Definition<'a> {
    text: &'a str,
    defines: Vec<&'a str>,
    mentions: HashSet<&'a str>,
}

/// The includes' definitions that `body` needs, directly or through each other, in
/// their order (a Lua local is visible only below its definition).
///
/// Why not the whole include: Redis runs a script's top level at every call, and each
/// `local function` there makes a closure each time, used or not. Prepending only what
/// a script calls keeps every script's fixed cost to its own needs, so a helper added
/// for one feature (fair groups, expiry) costs the scripts that never call it nothing.
/// Mentions are over-approximated (any identifier in the code, strings included), which
/// can only keep a definition that is not needed, never drop one that is.
fn linked_includes(file: &str, includes: &[&'static str], body: &str) -> String {
    let definitions: Vec<Definition<'static>> =
        includes.iter().flat_map(|include| definitions(file, include)).collect();
    let mut needed: Vec<bool> = vec![false; definitions.len()];
    let mut pending: Vec<&str> = identifiers(body).into_iter().collect();
    let mut seen: HashSet<&str> = pending.iter().copied().collect();
    while let Some(name) = pending.pop() {
        for (i, definition) in definitions.iter().enumerate() {
            if !needed[i] && definition.defines.contains(&name) {
                needed[i] = true;
                for mention in &definition.mentions {
                    if seen.insert(mention) {
                        pending.push(mention);
                    }
                }
            }
        }
    }
    definitions.iter().zip(needed).filter(|(_, needed)| *needed).map(|(definition, _)| definition.text).collect()
}

/// Splits an include into its top-level definitions: each starts at a line `local ...`
/// in the first column (with the comment lines just above it); indented lines and the
/// closing `end` or `}` belong to the definition above.
fn definitions(file: &str, include: &'static str) -> Vec<Definition<'static>> {
    let mut starts = Vec::new();
    let mut comment_start = None;
    let mut offset = 0;
    for line in include.split_inclusive('\n') {
        let text = line.trim_end();
        if text.starts_with("--") {
            comment_start.get_or_insert(offset);
        } else if text.starts_with("local ") {
            let start = comment_start.take().unwrap_or(offset);
            // The include's header comment goes with its first definition.
            starts.push(if starts.is_empty() { 0 } else { start });
        } else {
            comment_start = None;
            let continues = text.is_empty() || text.starts_with([' ', '\t']) || text == "end" || text.starts_with('}');
            assert!(continues, "{file}: an include's top-level line must begin `local`, `end` or `}}`: {text:?}");
        }
        offset += line.len();
    }
    starts.push(include.len());
    starts
        .windows(2)
        .map(|span| {
            let text = &include[span[0]..span[1]];
            let head = text.lines().find(|l| l.starts_with("local ")).unwrap_or_default();
            let declared =
                head.strip_prefix("local function ").or_else(|| head.strip_prefix("local ")).unwrap_or_default();
            let names = declared.split(['=', '(']).next().unwrap_or_default();
            let defines = names.split(',').map(str::trim).filter(|name| !name.is_empty()).collect();
            Definition { text, defines, mentions: identifiers(text) }
        })
        .collect()
}

/// The identifiers in Lua code, comments left out (words inside strings count).
fn identifiers(code: &str) -> HashSet<&str> {
    let mut found = HashSet::new();
    for line in code.lines() {
        let code = &line[..comment_start(line)];
        for word in code.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if word.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
                found.insert(word);
            }
        }
    }
    found
}

/// Where a line's `--` comment starts (outside a quoted string), or its length.
fn comment_start(line: &str) -> usize {
    let bytes = line.as_bytes();
    let mut quote = None;
    let mut i = 0;
    while i < bytes.len() {
        match (quote, bytes[i]) {
            (Some(_), b'\\') => i += 1,
            (Some(q), c) if c == q => quote = None,
            (None, b'\'' | b'"') => quote = Some(bytes[i]),
            (None, b'-') if bytes.get(i + 1) == Some(&b'-') => return i,
            _ => {}
        }
        i += 1;
    }
    bytes.len()
}

macro_rules! script {
    ($name:ident, $file:literal) => {
        pub static $name: LazyLock<QueueScript> =
            LazyLock::new(|| queue_script($file, include_str!(concat!("../../lua/", $file)), false));
    };
    ($name:ident, $file:literal, claim) => {
        pub static $name: LazyLock<QueueScript> =
            LazyLock::new(|| queue_script($file, include_str!(concat!("../../lua/", $file)), true));
    };
}

script!(ENQUEUE_JOBS, "enqueue_jobs.lua");
script!(CLAIM_JOBS, "claim_jobs.lua", claim);
script!(COMPLETE_JOBS, "complete_jobs.lua", claim);
script!(FAIL_JOBS, "fail_jobs.lua");
script!(EXTEND_LEASES, "extend_leases.lua");
script!(RECOVER_STALLED_JOBS, "recover_stalled_jobs.lua");
script!(REPORT_PROGRESS, "report_progress.lua");
script!(CANCEL_JOB, "cancel_job.lua");
script!(FINISH_CANCELLED_JOB, "finish_cancelled_job.lua");
script!(RELEASE_JOB, "release_job.lua");
script!(PAUSE_QUEUE, "pause_queue.lua");
script!(SAMPLE_BACKLOG, "sample_backlog.lua");
script!(RESUME_QUEUE, "resume_queue.lua");
script!(RETRY_JOBS, "retry_jobs.lua");
script!(PROMOTE_JOBS, "promote_jobs.lua");
script!(REMOVE_JOBS, "remove_jobs.lua");
script!(CLEAN_JOBS, "clean_jobs.lua");
script!(OBLITERATE_QUEUE, "obliterate_queue.lua");
script!(TAKE_RATE_SLOT, "take_rate_slot.lua");
script!(MARK_ARCHIVED, "mark_archived.lua");
script!(READ_UNINDEXED, "read_unindexed.lua");
script!(MARK_INDEXED, "mark_indexed.lua");
script!(PUBLISH_EVENT, "publish_event.lua");
script!(SET_LIMITS, "set_limits.lua");

/// A lockout's attempt counters (see `crate::Lockout`): one hash slot, not a queue's.
pub static TAKE_ATTEMPT: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("../../lua/take_attempt.lua")));
pub static GIVE_BACK_ATTEMPT: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../../lua/give_back_attempt.lua")));

/// A role's holder (see `crate::Role`): one key, not a queue's.
pub static HOLD_ROLE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("../../lua/hold_role.lua")));
pub static RELEASE_ROLE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("../../lua/release_role.lua")));

/// The process registry (see `crate::Process`): its own keys under one hash tag.
pub static RECORD_PROCESS: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../../lua/record_process.lua")));
pub static READ_PROCESSES: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../../lua/read_processes.lua")));
pub static SIGNAL_PROCESS: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../../lua/signal_process.lua")));

/// A worker's check-in: one key, stamped with Redis's time.
pub static RECORD_HEARTBEAT: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../../lua/record_heartbeat.lua")));

/// Schedule scripts touch only a schedule's own keys, not a queue's, so they go without
/// the queue prelude.
#[cfg(feature = "scheduler")]
pub static ADVANCE_SCHEDULE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../../lua/advance_schedule.lua")));
#[cfg(feature = "scheduler")]
pub static CONFIRM_SCHEDULE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../../lua/confirm_schedule.lua")));
#[cfg(feature = "scheduler")]
pub static TAKE_OVER_SCHEDULE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../../lua/take_over_schedule.lua")));
#[cfg(feature = "scheduler")]
pub static READ_SCHEDULE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("../../lua/read_schedule.lua")));
#[cfg(feature = "scheduler")]
pub static UPSERT_SCHEDULE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../../lua/upsert_schedule.lua")));
#[cfg(feature = "scheduler")]
pub static CONTROL_SCHEDULE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../../lua/control_schedule.lua")));

#[cfg(test)]
mod tests {
    //! Each script refuses arguments outside their documented ranges before its first
    //! write (a script's writes before an error stay in Redis: a late refusal could leave
    //! a job hash in no state set, holding its dedup key for ever).

    use redis::AsyncCommands;

    use super::*;
    use crate::backend::{invocation, run};
    use crate::error::QueueError;
    use crate::keys::QueueKeys;

    const ID: &str = "01J00000000000000000000000";
    const MAX_MS: u64 = 365 * 24 * 3600 * 1000;

    /// An enqueue call's 11 fields for one job, with `delay` and the rate limit's window.
    fn job_fields(id: &str, delay: &str, rate_key: &str, rate_max: &str, rate_per: &str) -> Vec<String> {
        [
            id,
            "\"name\":\"n\",\"payload\":null}",
            "1:1:0:none",
            "0",
            delay,
            "dedup",
            "n",
            "",
            rate_key,
            rate_max,
            rate_per,
        ]
        .map(str::to_string)
        .to_vec()
    }

    /// Every queue script declares its keys, and its own body reads no other key (the
    /// shared functions it calls are checked when a test takes their path: an undeclared
    /// key ends the script with HOIST_UNDECLARED_KEY).
    #[test]
    fn queue_scripts_declare_the_keys_they_read() {
        let all: [(&str, &QueueScript, &str); 22] = [
            ("sample_backlog", &SAMPLE_BACKLOG, include_str!("../../lua/sample_backlog.lua")),
            ("enqueue_jobs", &ENQUEUE_JOBS, include_str!("../../lua/enqueue_jobs.lua")),
            ("claim_jobs", &CLAIM_JOBS, include_str!("../../lua/claim_jobs.lua")),
            ("complete_jobs", &COMPLETE_JOBS, include_str!("../../lua/complete_jobs.lua")),
            ("fail_jobs", &FAIL_JOBS, include_str!("../../lua/fail_jobs.lua")),
            ("extend_leases", &EXTEND_LEASES, include_str!("../../lua/extend_leases.lua")),
            ("recover_stalled_jobs", &RECOVER_STALLED_JOBS, include_str!("../../lua/recover_stalled_jobs.lua")),
            ("report_progress", &REPORT_PROGRESS, include_str!("../../lua/report_progress.lua")),
            ("cancel_job", &CANCEL_JOB, include_str!("../../lua/cancel_job.lua")),
            ("finish_cancelled_job", &FINISH_CANCELLED_JOB, include_str!("../../lua/finish_cancelled_job.lua")),
            ("release_job", &RELEASE_JOB, include_str!("../../lua/release_job.lua")),
            ("pause_queue", &PAUSE_QUEUE, include_str!("../../lua/pause_queue.lua")),
            ("resume_queue", &RESUME_QUEUE, include_str!("../../lua/resume_queue.lua")),
            ("retry_jobs", &RETRY_JOBS, include_str!("../../lua/retry_jobs.lua")),
            ("promote_jobs", &PROMOTE_JOBS, include_str!("../../lua/promote_jobs.lua")),
            ("remove_jobs", &REMOVE_JOBS, include_str!("../../lua/remove_jobs.lua")),
            ("clean_jobs", &CLEAN_JOBS, include_str!("../../lua/clean_jobs.lua")),
            ("obliterate_queue", &OBLITERATE_QUEUE, include_str!("../../lua/obliterate_queue.lua")),
            ("take_rate_slot", &TAKE_RATE_SLOT, include_str!("../../lua/take_rate_slot.lua")),
            ("mark_archived", &MARK_ARCHIVED, include_str!("../../lua/mark_archived.lua")),
            ("publish_event", &PUBLISH_EVENT, include_str!("../../lua/publish_event.lua")),
            ("set_limits", &SET_LIMITS, include_str!("../../lua/set_limits.lua")),
        ];
        for (name, script, body) in all {
            assert!(!script.keys.is_empty(), "{name}: no keys (a cluster routes a call by its keys)");
            let body =
                if matches!(name, "claim_jobs" | "complete_jobs") { format!("{CLAIM_FNS}{body}") } else { body.into() };
            for (i, _) in body.match_indices("k.") {
                let used: String =
                    body[i + 2..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                let preceded = body[..i].chars().next_back().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
                if !preceded && !used.is_empty() {
                    assert!(script.keys.contains(&used.as_str()), "{name} reads k.{used} without declaring it");
                }
            }
        }
    }

    #[test]
    fn a_script_gets_the_shared_definitions_it_uses_and_no_others() {
        let linked = linked_includes("test", &[COMMON], "local key = job_key('x') -- not grouping()");
        assert!(linked.contains("local function job_key("));
        assert!(linked.contains("local prefix = ARGV[1]"), "job_key's own needs come along");
        assert!(!linked.contains("local function grouping("));
        assert!(!linked.contains("local function meta("));
        let grouped = linked_includes("test", &[COMMON], "grouping().enter('1', '1', '')");
        assert!(grouped.contains("local function meta(") && grouped.contains("local function text_of("));
        assert!(grouped.find("local meta_cache").unwrap() < grouped.find("local function meta(").unwrap());
        let split: String = definitions("common.lua", COMMON).iter().map(|d| d.text).collect();
        assert_eq!(split, COMMON, "every line of the include belongs to a definition");
        assert_eq!(comment_start("x = '--' .. y -- note"), 14);
    }

    #[tokio::test]
    async fn scripts_refuse_out_of_range_arguments_before_writing_anything() {
        let server = hoist_testkit::RedisServer::start();
        let redis = crate::RedisConnection::connect(&server.url()).await.unwrap();
        let mut conn = redis.shared();
        let keys = QueueKeys::new("hoist", "q");
        let huge = u64::MAX.to_string();
        let over = (MAX_MS + 1).to_string();
        let cases: Vec<(&str, &QueueScript, Vec<String>)> = vec![
            (
                "enqueue: window 2^64-1",
                &ENQUEUE_JOBS,
                [vec!["1".into()], job_fields(ID, "0", "k", "1", &huge)].concat(),
            ),
            (
                "enqueue: delay 2^63-1",
                &ENQUEUE_JOBS,
                [vec!["1".into()], job_fields(ID, &i64::MAX.to_string(), "", "0", "0")].concat(),
            ),
            (
                "enqueue: delay past a year",
                &ENQUEUE_JOBS,
                [vec!["1".into()], job_fields(ID, &over, "", "0", "0")].concat(),
            ),
            (
                "enqueue: an id that addresses another key",
                &ENQUEUE_JOBS,
                [vec!["1".into()], job_fields("x:errors", "0", "", "0", "0")].concat(),
            ),
            (
                "enqueue: the second job is bad",
                &ENQUEUE_JOBS,
                [
                    vec!["2".into()],
                    job_fields(ID, "0", "", "0", "0"),
                    job_fields("01J00000000000000000000001", "-1", "", "0", "0"),
                ]
                .concat(),
            ),
            (
                "enqueue: count disagrees with the fields",
                &ENQUEUE_JOBS,
                [vec!["2".into()], job_fields(ID, "0", "", "0", "0")].concat(),
            ),
            ("claim: lease 0", &CLAIM_JOBS, vec!["1".into(), "0".into(), "w".into()]),
            ("claim: lease past a year", &CLAIM_JOBS, vec!["1".into(), over.clone(), "w".into()]),
            ("claim: count not a number", &CLAIM_JOBS, vec!["x".into(), "1000".into(), "w".into()]),
            (
                "complete: fractional lease",
                &COMPLETE_JOBS,
                ["-1", "0", "1", "1.5", "w", "0", "0"].map(String::from).to_vec(),
            ),
            (
                "fail: jitter out of range",
                &FAIL_JOBS,
                ["-1", "0", "1", ID, "w:1", "{\"attempt\":1,\"at\":0}", "retryable", "7"].map(String::from).to_vec(),
            ),
            ("extend_leases: lease 2^64-1", &EXTEND_LEASES, vec![huge.clone(), ID.into(), "w:1".into()]),
            ("release: negative delay", &RELEASE_JOB, vec![ID.into(), "w:1".into(), "-5".into()]),
            ("take_slot: window 0", &TAKE_RATE_SLOT, vec!["k".into(), "1".into(), "0".into(), ID.into()]),
            ("take_slot: max 0", &TAKE_RATE_SLOT, vec!["k".into(), "0".into(), "1000".into(), ID.into()]),
            ("clean: an unknown state", &CLEAN_JOBS, vec!["active".into(), "0".into(), "10".into(), "0".into()]),
            ("clean: age 2^64-1", &CLEAN_JOBS, vec!["completed".into(), huge.clone(), "10".into(), "0".into()]),
            ("retry: an unknown mode", &RETRY_JOBS, vec!["dead".into(), "some".into(), "10".into()]),
            ("promote: limit 0", &PROMOTE_JOBS, vec!["all".into(), "0".into()]),
            ("remove: the active state", &REMOVE_JOBS, vec!["active".into(), ID.into()]),
            ("obliterate: batch 0", &OBLITERATE_QUEUE, vec!["0".into(), "".into()]),
            (
                "progress: max lines 0",
                &REPORT_PROGRESS,
                vec![ID.into(), "w:1".into(), "{}".into(), "0".into(), "line".into()],
            ),
            ("publish_event: no kind", &PUBLISH_EVENT, vec!["".into(), ID.into()]),
        ];
        for (case, script, args) in cases {
            let mut call = invocation(script, &keys, 100);
            for arg in &args {
                call.arg(arg);
            }
            let result: crate::Result<redis::Value> = run(&call, &mut conn).await;
            assert!(matches!(result, Err(QueueError::InvalidOption { .. })), "{case}: {result:?}");
            let written: u64 = redis::cmd("DBSIZE").query_async(&mut conn).await.unwrap();
            assert_eq!(written, 0, "{case}: wrote {:?}", conn.keys::<_, Vec<String>>("*").await.unwrap());
        }
    }
}
