//! The Lua scripts, one per state transition, each prefixed with the shared includes.
//! `redis::Script` sends EVALSHA and loads the script again on NOSCRIPT (after a Redis
//! restart, for example).

use std::sync::LazyLock;

use redis::Script;

const COMMON: &str = include_str!("../../lua/includes/common.lua");
const CLAIM_FNS: &str = include_str!("../../lua/includes/claim.lua");

fn with_common(body: &str) -> Script {
    Script::new(&format!("{COMMON}\n{body}"))
}

fn with_claim(body: &str) -> Script {
    Script::new(&format!("{COMMON}\n{CLAIM_FNS}\n{body}"))
}

macro_rules! script {
    ($name:ident, $file:literal) => {
        pub static $name: LazyLock<Script> = LazyLock::new(|| with_common(include_str!(concat!("../../lua/", $file))));
    };
    ($name:ident, $file:literal, claim) => {
        pub static $name: LazyLock<Script> = LazyLock::new(|| with_claim(include_str!(concat!("../../lua/", $file))));
    };
}

script!(ENQUEUE, "enqueue.lua");
script!(CLAIM, "claim.lua", claim);
script!(COMPLETE, "complete.lua", claim);
script!(FAIL, "fail.lua");
script!(EXTEND_LEASES, "extend_leases.lua");
script!(RECOVER_STALLED, "recover_stalled.lua");
script!(PROGRESS, "progress.lua");
script!(CANCEL, "cancel.lua");
script!(FINISH_CANCELLED, "finish_cancelled.lua");
script!(RELEASE, "release.lua");
script!(PAUSE, "pause.lua");
script!(RESUME, "resume.lua");
script!(RETRY, "retry.lua");
script!(PROMOTE, "promote.lua");
script!(REMOVE, "remove.lua");
script!(CLEAN, "clean.lua");
script!(OBLITERATE, "obliterate.lua");
script!(TAKE_SLOT, "take_slot.lua");
script!(ARCHIVED, "archived.lua");
script!(PUBLISH_EVENT, "publish_event.lua");
script!(SET_LIMITS, "set_limits.lua");

/// A lockout's attempt counters (see `crate::Lockout`): one hash slot, not a queue's.
pub static TAKE_ATTEMPT: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("../../lua/take_attempt.lua")));
pub static GIVE_BACK_ATTEMPT: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../../lua/give_back_attempt.lua")));

/// A worker's check-in: one key, stamped with Redis's time.
pub static HEARTBEAT: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("../../lua/heartbeat.lua")));

/// Schedule scripts touch only a schedule's own keys, not a queue's, so they go without
/// the queue prelude.
pub static ADVANCE_SCHEDULE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../../lua/advance_schedule.lua")));
pub static CONFIRM_SCHEDULE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../../lua/confirm_schedule.lua")));
pub static TAKE_OVER_SCHEDULE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../../lua/take_over_schedule.lua")));
pub static READ_SCHEDULE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("../../lua/read_schedule.lua")));
pub static UPSERT_SCHEDULE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../../lua/upsert_schedule.lua")));
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

    #[tokio::test]
    async fn scripts_refuse_out_of_range_arguments_before_writing_anything() {
        let server = hoist_testkit::RedisServer::start();
        let redis = crate::RedisConnection::connect(&server.url()).await.unwrap();
        let mut conn = redis.shared();
        let keys = QueueKeys::new("hoist", "q");
        let huge = u64::MAX.to_string();
        let over = (MAX_MS + 1).to_string();
        let cases: Vec<(&str, &Script, Vec<String>)> = vec![
            ("enqueue: window 2^64-1", &ENQUEUE, [vec!["1".into()], job_fields(ID, "0", "k", "1", &huge)].concat()),
            (
                "enqueue: delay 2^63-1",
                &ENQUEUE,
                [vec!["1".into()], job_fields(ID, &i64::MAX.to_string(), "", "0", "0")].concat(),
            ),
            ("enqueue: delay past a year", &ENQUEUE, [vec!["1".into()], job_fields(ID, &over, "", "0", "0")].concat()),
            (
                "enqueue: an id that addresses another key",
                &ENQUEUE,
                [vec!["1".into()], job_fields("x:errors", "0", "", "0", "0")].concat(),
            ),
            (
                "enqueue: the second job is bad",
                &ENQUEUE,
                [
                    vec!["2".into()],
                    job_fields(ID, "0", "", "0", "0"),
                    job_fields("01J00000000000000000000001", "-1", "", "0", "0"),
                ]
                .concat(),
            ),
            (
                "enqueue: count disagrees with the fields",
                &ENQUEUE,
                [vec!["2".into()], job_fields(ID, "0", "", "0", "0")].concat(),
            ),
            ("claim: lease 0", &CLAIM, vec!["1".into(), "0".into(), "w".into()]),
            ("claim: lease past a year", &CLAIM, vec!["1".into(), over.clone(), "w".into()]),
            ("claim: count not a number", &CLAIM, vec!["x".into(), "1000".into(), "w".into()]),
            (
                "complete: fractional lease",
                &COMPLETE,
                ["-1", "0", "1", "1.5", "w", "0", "0"].map(String::from).to_vec(),
            ),
            (
                "fail: jitter out of range",
                &FAIL,
                ["-1", "0", "1", ID, "w:1", "{\"attempt\":1,\"at\":0}", "retryable", "7"].map(String::from).to_vec(),
            ),
            ("extend_leases: lease 2^64-1", &EXTEND_LEASES, vec![huge.clone(), ID.into(), "w:1".into()]),
            ("release: negative delay", &RELEASE, vec![ID.into(), "w:1".into(), "-5".into()]),
            ("take_slot: window 0", &TAKE_SLOT, vec!["k".into(), "1".into(), "0".into(), ID.into()]),
            ("take_slot: max 0", &TAKE_SLOT, vec!["k".into(), "0".into(), "1000".into(), ID.into()]),
            ("clean: an unknown state", &CLEAN, vec!["active".into(), "0".into(), "10".into(), "0".into()]),
            ("clean: age 2^64-1", &CLEAN, vec!["completed".into(), huge.clone(), "10".into(), "0".into()]),
            ("retry: an unknown mode", &RETRY, vec!["dead".into(), "some".into(), "10".into()]),
            ("promote: limit 0", &PROMOTE, vec!["all".into(), "0".into()]),
            ("remove: the active state", &REMOVE, vec!["active".into(), ID.into()]),
            ("obliterate: batch 0", &OBLITERATE, vec!["0".into(), "".into()]),
            ("progress: max lines 0", &PROGRESS, vec![ID.into(), "w:1".into(), "{}".into(), "0".into(), "line".into()]),
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
