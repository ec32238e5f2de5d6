//! Schedules' storage: a state hash and a fire history per schedule (under their own hash
//! tag `{schedule:NAME}`), and the registry of schedule names. One typed method per script
//! and per read, as for queues.

use super::keys::{ScheduleKeys, schedule_registry};
use super::{clock, eval_traced, scripts};
use crate::connection::RedisConnection;
use crate::error::Result;

/// The schedules under one key prefix.
#[derive(Clone)]
pub(crate) struct ScheduleStore {
    redis: RedisConnection,
    root: String,
}

/// What a claim attempt got: claimed (with the claim's text), lost to another scheduler,
/// held back by an unconfirmed claim, or refused because the caller's time is ahead.
pub(crate) enum ClaimReply {
    Claimed(String),
    Lost,
    Held,
    Ahead,
}

/// A claim of `ticks` due at `now` by `scheduler`, moving `last_tick` from the value the
/// scheduler read to `through`, within `max_runs`.
pub(crate) struct TickClaim<'a> {
    pub last_tick_read: &'a str,
    pub through: i64,
    pub now: i64,
    pub scheduler: &'a str,
    pub max_runs: Option<u64>,
    pub ticks: &'a [i64],
}

impl ScheduleStore {
    pub(crate) fn new(redis: &RedisConnection, root: &str) -> Self {
        ScheduleStore { redis: redis.clone(), root: root.to_string() }
    }

    fn keys(&self, name: &str) -> ScheduleKeys {
        ScheduleKeys::new(&self.root, name)
    }

    /// Redis's time on the node holding the registry (any node's will do for a bound of
    /// years).
    pub(crate) async fn now(&self) -> Result<i64> {
        clock::now_at(&self.redis, &schedule_registry(&self.root)).await
    }

    /// Stores a schedule's definition (keeping its progress) and registers its name.
    pub(crate) async fn upsert(&self, name: &str, spec_json: &str) -> Result<()> {
        let mut call = scripts::UPSERT_SCHEDULE.prepare_invoke();
        call.key(self.keys(name).state()).arg(spec_json);
        let _: i64 = eval_traced("upsert_schedule", name, &self.redis, &call).await?;
        let _: i64 = self.query(redis::cmd("SADD").arg(schedule_registry(&self.root)).arg(name)).await?;
        Ok(())
    }

    /// Redis's time on the schedule's node, then the state hash as field, value pairs.
    pub(crate) async fn read(&self, name: &str) -> Result<Vec<String>> {
        let mut call = scripts::READ_SCHEDULE.prepare_invoke();
        call.key(self.keys(name).state());
        eval_traced("read_schedule", name, &self.redis, &call).await
    }

    /// Every registered schedule name, sorted.
    pub(crate) async fn names(&self) -> Result<Vec<String>> {
        let mut names: Vec<String> = self.query(redis::cmd("SMEMBERS").arg(schedule_registry(&self.root))).await?;
        names.sort();
        Ok(names)
    }

    /// Deletes a schedule and its history; false if there was none.
    pub(crate) async fn remove(&self, name: &str) -> Result<bool> {
        let keys = self.keys(name);
        let deleted: u64 = self.query(redis::cmd("DEL").arg(keys.state()).arg(keys.history())).await?;
        let _: i64 = self.query(redis::cmd("SREM").arg(schedule_registry(&self.root)).arg(name)).await?;
        Ok(deleted > 0)
    }

    /// pause, resume or last_tick (with `tick`); false when the schedule is gone.
    pub(crate) async fn control(&self, name: &str, action: &str, tick: &str) -> Result<bool> {
        let mut call = scripts::CONTROL_SCHEDULE.prepare_invoke();
        call.key(self.keys(name).state()).arg(action).arg(tick);
        Ok(eval_traced::<i64>("control_schedule", name, &self.redis, &call).await? == 1)
    }

    /// The newest `count` fire records (JSON), newest first.
    pub(crate) async fn history(&self, name: &str, count: usize) -> Result<Vec<String>> {
        let stop = isize::try_from(count.saturating_sub(1)).unwrap_or(isize::MAX);
        self.query(redis::cmd("LRANGE").arg(self.keys(name).history()).arg(0).arg(stop)).await
    }

    /// Claims ticks and moves `last_tick` on, once across every scheduler (see
    /// `advance_schedule.lua`).
    pub(crate) async fn advance(&self, name: &str, claim: &TickClaim<'_>) -> Result<ClaimReply> {
        let mut call = scripts::ADVANCE_SCHEDULE.prepare_invoke();
        call.key(self.keys(name).state())
            .arg(claim.last_tick_read)
            .arg(claim.through)
            .arg(claim.now)
            .arg(claim.scheduler)
            .arg(claim.max_runs.map(|max| max.to_string()).unwrap_or_default());
        for tick in claim.ticks {
            call.arg(tick);
        }
        let (status, text): (i64, String) = eval_traced("advance_schedule", name, &self.redis, &call).await?;
        Ok(match status {
            0.. => ClaimReply::Claimed(text),
            -2 => ClaimReply::Held,
            -3 => ClaimReply::Ahead,
            _ => ClaimReply::Lost,
        })
    }

    /// Takes the schedule's claim over when it is older than `timeout_ms` by Redis's
    /// clock; returns it.
    pub(crate) async fn take_over(&self, name: &str, timeout_ms: u64, scheduler: &str) -> Result<Option<String>> {
        let mut call = scripts::TAKE_OVER_SCHEDULE.prepare_invoke();
        call.key(self.keys(name).state()).arg(timeout_ms).arg(scheduler);
        eval_traced("take_over_schedule", name, &self.redis, &call).await
    }

    /// Records fires (JSON without `fired_at`, which the script stamps) and releases
    /// `claim` ("" for a manual fire); false when the claim is no longer `scheduler`'s.
    pub(crate) async fn confirm(
        &self,
        name: &str,
        claim: &str,
        scheduler: &str,
        runs: u64,
        records: &[String],
    ) -> Result<bool> {
        let keys = self.keys(name);
        let mut call = scripts::CONFIRM_SCHEDULE.prepare_invoke();
        call.key(keys.state()).key(keys.history()).arg(claim).arg(scheduler).arg(runs).arg(records);
        Ok(eval_traced::<i64>("confirm_schedule", name, &self.redis, &call).await? == 1)
    }

    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T> {
        super::query_traced("schedules", &self.root, &self.redis, cmd).await
    }
}
