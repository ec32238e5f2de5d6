//! The Lua scripts, one per state transition, each prefixed with the shared includes.
//! `redis::Script` sends EVALSHA and loads the script again on NOSCRIPT (after a Redis
//! restart, for example).

use std::sync::LazyLock;

use redis::Script;

const COMMON: &str = include_str!("../lua/includes/common.lua");
const CLAIM_FNS: &str = include_str!("../lua/includes/claim.lua");

fn with_common(body: &str) -> Script {
    Script::new(&format!("{COMMON}\n{body}"))
}

fn with_claim(body: &str) -> Script {
    Script::new(&format!("{COMMON}\n{CLAIM_FNS}\n{body}"))
}

macro_rules! script {
    ($name:ident, $file:literal) => {
        pub static $name: LazyLock<Script> = LazyLock::new(|| with_common(include_str!(concat!("../lua/", $file))));
    };
    ($name:ident, $file:literal, claim) => {
        pub static $name: LazyLock<Script> = LazyLock::new(|| with_claim(include_str!(concat!("../lua/", $file))));
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

/// Schedule scripts touch only a schedule's own keys, not a queue's, so they go without
/// the queue prelude.
pub static ADVANCE_SCHEDULE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../lua/advance_schedule.lua")));
pub static CONFIRM_SCHEDULE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../lua/confirm_schedule.lua")));
