//! [`Scheduler`]: keeps schedules in Redis and fires each tick exactly once, however many
//! schedulers run.
//!
//! A tick is claimed by compare-and-set on the schedule's `last_tick` in one script; the
//! winner enqueues the tick's jobs with the tick in their dedup keys and confirms. If a
//! winner dies between claim and confirm, any scheduler re-enqueues the pending ticks after
//! [`PENDING_TIMEOUT`] (the dedup keys make that safe).

use std::collections::HashMap;
use std::time::Duration;

use redis::AsyncCommands;

use crate::CancellationToken;
use crate::backend::{count_round_trip, now_ms};
use crate::connection::RedisConnection;
use crate::error::{QueueError, Result};
use crate::keys::{ScheduleKeys, schedule_registry};
use crate::queue::Queue;
use crate::schedule::{CronSchedule, FireRecord, ScheduleInfo, ScheduleSpec, ticks_to_fire};
use crate::scripts;
use crate::types::{DedupScope, Enqueued, NewJob};

/// How long claimed ticks may stay unconfirmed before another scheduler enqueues them.
pub const PENDING_TIMEOUT: Duration = Duration::from_secs(30);

/// Most ticks considered per schedule per pass (a schedule down for a long time).
const MAX_TICKS_PER_PASS: usize = 1000;

/// Manages schedules and fires their ticks.
#[derive(Clone)]
pub struct Scheduler {
    redis: RedisConnection,
    key_prefix: String,
    id: String,
}

impl Scheduler {
    pub fn new(redis: &RedisConnection) -> Self {
        Self::with_prefix(redis, "hoist")
    }

    pub fn with_prefix(redis: &RedisConnection, key_prefix: &str) -> Self {
        let id = format!("scheduler-{}-{:06x}", std::process::id(), rand::random::<u32>() & 0xff_ffff);
        Scheduler { redis: redis.clone(), key_prefix: key_prefix.to_string(), id }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn keys(&self, name: &str) -> ScheduleKeys {
        ScheduleKeys::new(&self.key_prefix, name)
    }

    /// Creates or updates a schedule. Idempotent: declaring the same schedule again on
    /// every start changes nothing, and never re-fires a tick already fired.
    pub async fn upsert(&self, spec: &ScheduleSpec) -> Result<()> {
        spec.validate()?;
        let state = self.keys(&spec.name).state();
        let json = serde_json::to_string(spec)?;
        let mut conn = self.redis.shared();
        // The first tick considered is the first after creation, not every tick since 1970.
        let _: () = redis::pipe()
            .atomic()
            .hset(&state, "spec", &json)
            .hset_nx(&state, "last_tick", now_ms())
            .hset_nx(&state, "runs", 0)
            .query_async(&mut conn)
            .await?;
        let _: () = conn.sadd(schedule_registry(&self.key_prefix), &spec.name).await?;
        Ok(())
    }

    pub async fn get(&self, name: &str) -> Result<Option<ScheduleInfo>> {
        let fields: HashMap<String, String> = self.redis.shared().hgetall(self.keys(name).state()).await?;
        info_from(&fields)
    }

    /// Every schedule, by name.
    pub async fn list(&self) -> Result<Vec<ScheduleInfo>> {
        let mut names: Vec<String> = self.redis.shared().smembers(schedule_registry(&self.key_prefix)).await?;
        names.sort();
        let mut out = vec![];
        for name in names {
            if let Some(info) = self.get(&name).await? {
                out.push(info);
            }
        }
        Ok(out)
    }

    /// Deletes a schedule and its history. Returns false if there was none.
    pub async fn remove(&self, name: &str) -> Result<bool> {
        let keys = self.keys(name);
        let mut conn = self.redis.shared();
        let deleted: u64 = conn.del(&[keys.state(), keys.history()]).await?;
        let _: () = conn.srem(schedule_registry(&self.key_prefix), name).await?;
        Ok(deleted > 0)
    }

    /// Makes the scheduler consider ticks after `tick` (epoch ms) as not yet fired, e.g.
    /// to replay a window after an outage; the misfire policy still applies.
    pub async fn set_last_tick(&self, name: &str, tick: i64) -> Result<()> {
        self.require(name).await?;
        let _: () = self.redis.shared().hset(self.keys(name).state(), "last_tick", tick).await?;
        Ok(())
    }

    /// Stops firing; ticks that pass while paused are misfires when resumed.
    pub async fn pause(&self, name: &str) -> Result<()> {
        self.require(name).await?;
        let _: () = self.redis.shared().hset(self.keys(name).state(), "paused", now_ms()).await?;
        Ok(())
    }

    pub async fn resume(&self, name: &str) -> Result<()> {
        self.require(name).await?;
        let _: () = self.redis.shared().hdel(self.keys(name).state(), "paused").await?;
        Ok(())
    }

    async fn require(&self, name: &str) -> Result<ScheduleInfo> {
        self.get(name).await?.ok_or_else(|| QueueError::NotFound { id: format!("schedule {name}") })
    }

    /// Fires the schedule's job(s) now, outside its timetable.
    pub async fn trigger(&self, name: &str) -> Result<Vec<Enqueued>> {
        let info = self.require(name).await?;
        let now = now_ms();
        let tag = format!("manual:{}", crate::id::new_job_id());
        let enqueued = self.enqueue_tick(&info.spec, now, &tag).await?;
        let record = FireRecord {
            tick: now,
            fired_at: now,
            job_ids: enqueued.iter().map(|e| e.id.clone()).collect(),
            manual: true,
            by: self.id.clone(),
        };
        self.confirm(name, "", 0, &[record]).await?;
        Ok(enqueued)
    }

    /// The most recent fires, newest first.
    pub async fn history(&self, name: &str, limit: usize) -> Result<Vec<FireRecord>> {
        let raw: Vec<String> =
            self.redis.shared().lrange(self.keys(name).history(), 0, limit.saturating_sub(1) as isize).await?;
        Ok(raw.iter().filter_map(|r| serde_json::from_str(r).ok()).collect())
    }

    /// Fires every tick due at `now` (epoch ms) across all schedules and returns how many
    /// jobs it enqueued. `run` calls it on the clock; tests call it with any time.
    pub async fn run_due(&self, now: i64) -> Result<u64> {
        let mut fired = 0;
        for info in self.list().await? {
            match self.run_schedule(&info, now).await {
                Ok(n) => fired += n,
                Err(e) => tracing::warn!(schedule = %info.spec.name, error = %e, "schedule pass failed"),
            }
        }
        Ok(fired)
    }

    async fn run_schedule(&self, info: &ScheduleInfo, now: i64) -> Result<u64> {
        let name = &info.spec.name;
        let state = self.keys(name).state();
        let mut conn = self.redis.shared();
        // Ticks another scheduler claimed but never confirmed (it died): enqueue again.
        let (pending, since): (Option<String>, Option<i64>) =
            redis::cmd("HMGET").arg(&state).arg(&["pending", "pending_since"]).query_async(&mut conn).await?;
        if let (Some(pending), Some(since)) = (pending, since)
            && now - since > PENDING_TIMEOUT.as_millis() as i64
        {
            let ticks: Vec<i64> = serde_json::from_str(&pending)?;
            let records = self.fire(&info.spec, &ticks, now).await?;
            self.confirm(name, &pending, ticks.len() as u64, &records).await?;
        }

        if info.paused || !info.spec.enabled {
            return Ok(0);
        }
        let Some(last) = info.last_tick else { return Ok(0) };
        let cron = info.spec.validate()?;
        let until = info.spec.end_at.map_or(now, |end| end.min(now));
        let due: Vec<i64> = cron
            .ticks_between(last, until, MAX_TICKS_PER_PASS)
            .into_iter()
            .filter(|t| info.spec.start_at.is_none_or(|start| *t >= start))
            .collect();
        let Some(&through) = due.last() else { return Ok(0) };
        let mut fire = ticks_to_fire(&due, now, info.spec.misfire, info.spec.misfire_grace);
        if let Some(max) = info.spec.max_runs {
            fire.truncate(max.saturating_sub(info.runs) as usize);
        }
        let fire_json = serde_json::to_string(&fire)?;
        count_round_trip();
        let won: i64 = scripts::ADVANCE_SCHEDULE
            .key(&state)
            .arg(last)
            .arg(through)
            .arg(&fire_json)
            .arg(now)
            .arg(&self.id)
            .invoke_async(&mut conn)
            .await?;
        if won != 1 || fire.is_empty() {
            return Ok(0);
        }
        let records = self.fire(&info.spec, &fire, now_ms()).await?;
        let jobs = records.iter().map(|r| r.job_ids.len() as u64).sum();
        self.confirm(name, &fire_json, fire.len() as u64, &records).await?;
        Ok(jobs)
    }

    async fn fire(&self, spec: &ScheduleSpec, ticks: &[i64], _now: i64) -> Result<Vec<FireRecord>> {
        let mut records = vec![];
        for &tick in ticks {
            let enqueued = self.enqueue_tick(spec, tick, &tick.to_string()).await?;
            records.push(FireRecord {
                tick,
                fired_at: now_ms(),
                job_ids: enqueued.iter().map(|e| e.id.clone()).collect(),
                manual: false,
                by: self.id.clone(),
            });
        }
        Ok(records)
    }

    /// The jobs of one tick: one, or one per fan-out element spread by the stagger. Each
    /// carries `schedule:NAME:TAG[:i]` as its dedup key, so a tick enqueued twice (by a
    /// scheduler that took over a dead one's claim) is still one set of jobs: held while
    /// the job exists ([`DedupScope::Retained`]) whatever the template says, so a tick whose
    /// job already finished is not run again.
    async fn enqueue_tick(&self, spec: &ScheduleSpec, _tick: i64, tag: &str) -> Result<Vec<Enqueued>> {
        let queue = Queue::new(&self.redis, &spec.queue)?;
        let base_key = format!("schedule:{}:{tag}", spec.name);
        let jobs: Vec<NewJob> = if spec.fan_out.is_empty() {
            let mut job = spec.job.clone();
            job.options.dedup_key = Some(base_key);
            job.options.dedup_scope = DedupScope::Retained;
            vec![job]
        } else {
            spec.fan_out
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let mut job = spec.job.clone();
                    job.payload = merge(&job.payload, item);
                    job.options.dedup_key = Some(format!("{base_key}:{i}"));
                    job.options.dedup_scope = DedupScope::Retained;
                    let stagger = spec.stagger.unwrap_or_default() * i as u32;
                    job.options.delay = Some(job.options.delay.unwrap_or_default() + stagger);
                    job
                })
                .collect()
        };
        queue.enqueue_bulk(jobs).await
    }

    async fn confirm(&self, name: &str, pending: &str, runs: u64, records: &[FireRecord]) -> Result<()> {
        let keys = self.keys(name);
        let mut call = scripts::CONFIRM_SCHEDULE.key(keys.state());
        call.key(keys.history()).arg(pending).arg(runs);
        for record in records {
            call.arg(serde_json::to_string(record)?);
        }
        count_round_trip();
        let _: i64 = call.invoke_async(&mut self.redis.shared()).await?;
        Ok(())
    }

    /// When the next tick of any schedule is due (epoch ms).
    pub async fn next_due(&self) -> Result<Option<i64>> {
        Ok(self.list().await?.iter().filter(|i| !i.paused).filter_map(|i| i.next_tick).min())
    }

    /// Fires ticks on time until `shutdown`: sleeps until the next tick (at most 1 s, so
    /// new and changed schedules are picked up) and runs the due ones.
    pub async fn run(self, shutdown: CancellationToken) -> Result<()> {
        tracing::info!(scheduler = %self.id, "scheduler started");
        while !shutdown.is_cancelled() {
            if let Err(e) = self.run_due(now_ms()).await {
                tracing::warn!(error = %e, "scheduler pass failed");
            }
            let next = self.next_due().await.ok().flatten();
            let wait = next
                .map(|t| Duration::from_millis((t - now_ms()).clamp(0, 1000) as u64))
                .unwrap_or(Duration::from_secs(1));
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(wait) => {}
            }
        }
        tracing::info!(scheduler = %self.id, "scheduler stopped");
        Ok(())
    }
}

fn merge(template: &serde_json::Value, item: &serde_json::Value) -> serde_json::Value {
    match (template, item) {
        (serde_json::Value::Object(base), serde_json::Value::Object(extra)) => {
            let mut merged = base.clone();
            merged.extend(extra.clone());
            serde_json::Value::Object(merged)
        }
        _ => item.clone(),
    }
}

fn info_from(fields: &HashMap<String, String>) -> Result<Option<ScheduleInfo>> {
    let Some(spec) = fields.get("spec") else { return Ok(None) };
    let spec: ScheduleSpec = serde_json::from_str(spec)?;
    let last_tick = fields.get("last_tick").and_then(|v| v.parse().ok());
    let runs = fields.get("runs").and_then(|v| v.parse().ok()).unwrap_or(0);
    let paused = fields.contains_key("paused");
    let exhausted = spec.max_runs.is_some_and(|max| runs >= max);
    let next_tick = match (spec.enabled && !exhausted, CronSchedule::parse(&spec.cron, &spec.timezone)) {
        (true, Ok(cron)) => {
            let after = last_tick.unwrap_or_else(now_ms).max(spec.start_at.map_or(i64::MIN, |s| s.saturating_sub(1)));
            cron.next_after(after).filter(|t| spec.end_at.is_none_or(|end| *t <= end))
        }
        _ => None,
    };
    Ok(Some(ScheduleInfo { spec, paused, last_tick, next_tick, runs }))
}
