//! Redis is the one clock: every time decision (lease deadlines, stall recovery, delays,
//! rate-limit windows, schedule ticks) is taken against Redis's `TIME`, never the calling
//! process's wall clock, so a worker or scheduler whose clock is off cannot steal another's
//! lease, trim a rate window or fire a tick early. Scripts read `TIME` themselves (see
//! `lua/includes/common.lua`); code outside a script asks here.

use std::sync::LazyLock;

use redis::Script;

use crate::connection::RedisConnection;
use crate::error::Result;

/// `TIME` as epoch milliseconds, run on the node that holds `key` (on a cluster each node
/// has its own clock: a decision about a key's data uses that node's).
static TIME_AT_KEY: LazyLock<Script> = LazyLock::new(|| {
    Script::new("local t = redis.call('TIME') return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)")
});

/// Redis's current time in epoch milliseconds, as seen by the node holding `key`.
pub(crate) async fn now_at(redis: &RedisConnection, key: &str) -> Result<i64> {
    crate::backend::count_round_trip();
    Ok(TIME_AT_KEY.key(key).invoke_async(&mut redis.shared()).await?)
}
