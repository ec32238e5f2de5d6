//! [`Scheduler`]: keeps schedules in Redis and fires each tick exactly once, however many
//! schedulers run and whatever their clocks say.
//!
//! Redis is the one clock. A pass reads each schedule together with its node's `TIME`,
//! finds the ticks due at that time and claims them by compare-and-set on the schedule's
//! `last_tick` in one script, which also refuses a caller whose time is ahead of Redis's
//! and never claims past `max_runs`. The claim (`pending`) is stamped with Redis's time and
//! never overwritten: while it is unconfirmed no further tick is claimed. The winner
//! enqueues the ticks' jobs with the tick in their dedup keys and confirms. If it dies in
//! between, any scheduler takes the claim over once it is older than [`PENDING_TIMEOUT`] by
//! Redis's clock (one script checks and re-stamps it, so only one does) and enqueues the
//! ticks again (the dedup keys make that safe).

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::CancellationToken;
use crate::backend::schedules::{ClaimReply, ScheduleStore, TickClaim};
use crate::connection::RedisConnection;
use crate::error::{QueueError, Result};
use crate::queue::Queue;
use crate::schedule::{CronSchedule, FireRecord, MAX_EPOCH_MS, ScheduleInfo, ScheduleSpec, ticks_to_fire};
use crate::types::{DedupScope, Enqueued, NewJob};

/// How long claimed ticks may stay unconfirmed (by Redis's clock) before another scheduler
/// enqueues them.
pub const PENDING_TIMEOUT: Duration = Duration::from_secs(30);

/// Most ticks considered per schedule per pass (a schedule down for a long time).
const MAX_TICKS_PER_PASS: usize = 1000;

/// Longest sleep between passes, so new and changed schedules are picked up.
const MAX_SLEEP: Duration = Duration::from_secs(1);

/// Shortest sleep between passes: a schedule that stays due (a backlog longer than one
/// pass takes, or one another scheduler has just advanced) is not polled in a busy loop.
const MIN_SLEEP: Duration = Duration::from_millis(5);

/// How soon a schedule held by another scheduler's unconfirmed claim is looked at again
/// (a live claimer confirms within milliseconds).
const HELD_RETRY: Duration = Duration::from_millis(100);

/// Manages schedules and fires their ticks.
#[derive(Clone)]
pub struct Scheduler {
    redis: RedisConnection,
    store: ScheduleStore,
    id: String,
}

/// A schedule as read in one round trip, with the time on its node.
struct Snapshot {
    info: ScheduleInfo,
    /// `last_tick` as stored: the value the claim compares and sets.
    last_tick_raw: String,
    /// The unconfirmed claim (a JSON array of ticks), if any.
    pending: Option<String>,
    /// Redis's time on the schedule's node at the read (epoch ms).
    now: i64,
    /// This process's monotonic clock at the read: turns a wait measured on Redis's clock
    /// into a local deadline.
    read_at: Instant,
}

impl Snapshot {
    /// When, on this process's monotonic clock, Redis's clock reaches `at` (epoch ms).
    fn local_deadline(&self, at: i64) -> Instant {
        let wait = u64::try_from(at.saturating_sub(self.now)).unwrap_or(0);
        self.read_at + Duration::from_millis(wait).min(MAX_SLEEP)
    }
}

/// What one pass over a schedule did, and when it wants the next.
struct Outcome {
    jobs: u64,
    wake: Option<Instant>,
}

/// What the claim script answered.
enum Advance {
    /// This scheduler advanced the schedule; the claim holds the ticks to fire ("" none).
    Claimed(String),
    /// Another scheduler advanced it first, or it is paused or gone.
    Lost,
    /// An unconfirmed claim holds it.
    Held,
    /// The caller's time is ahead of Redis's.
    Ahead,
}

impl Scheduler {
    /// The scheduler of the schedules under the connection's key prefix.
    pub fn new(redis: &RedisConnection) -> Self {
        Self::with_prefix(redis, redis.key_prefix())
    }

    pub fn with_prefix(redis: &RedisConnection, key_prefix: &str) -> Self {
        let id = format!("scheduler-{}-{:06x}", std::process::id(), rand::random::<u32>() & 0xff_ffff);
        Scheduler { redis: redis.clone(), store: ScheduleStore::new(redis, key_prefix), id }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Creates or updates a schedule. Idempotent: declaring the same schedule again on
    /// every start changes nothing, and never re-fires a tick already fired.
    ///
    /// Refuses, naming the field, what could never fire or enqueue: a cron without a tick
    /// in the next nine years (`cron`), a job template enqueue would refuse (`job`), fan-out
    /// jobs enqueue would refuse (`fan_out`, or `stagger` when their delay is the reason),
    /// besides everything [`ScheduleSpec::validate`] checks.
    pub async fn upsert(&self, spec: &ScheduleSpec) -> Result<()> {
        // Nine years ahead is far beyond any skew between nodes: any node's clock will do.
        spec.validate_at(self.store.now().await?)?;
        self.check_jobs(spec).await?;
        self.store.upsert(&spec.name, &serde_json::to_string(spec)?).await
    }

    /// Refuses a schedule whose ticks' jobs enqueue would refuse: the template (`job`),
    /// then each fan-out job (`fan_out`; `stagger` when its delay is what is wrong).
    async fn check_jobs(&self, spec: &ScheduleSpec) -> Result<()> {
        let queue = Queue::new(&self.redis, &spec.queue)?;
        // The longest tag a tick's dedup keys carry.
        let tag = format!("manual:{}", crate::id::new_job_id());
        let template = keyed(spec.job.clone(), format!("schedule:{}:{tag}", spec.name));
        check_enqueueable(&queue, vec![template]).map_err(|e| blame("job", e))?;
        if !spec.fan_out.is_empty() {
            check_enqueueable(&queue, tick_jobs(spec, &tag)?).map_err(|e| match blame("fan_out", e) {
                // The template's delay passed: the stagger pushed this one past the limit.
                QueueError::InvalidOption { reason, .. } if reason.starts_with("delay:") => {
                    QueueError::InvalidOption { field: "stagger", reason }
                }
                other => other,
            })?;
        }
        Ok(())
    }

    pub async fn get(&self, name: &str) -> Result<Option<ScheduleInfo>> {
        Ok(self.read(name).await?.map(|snapshot| snapshot.info))
    }

    /// Reads a schedule with its node's time, in one round trip.
    async fn read(&self, name: &str) -> Result<Option<Snapshot>> {
        let read_at = Instant::now();
        let reply = self.store.read(name).await?;
        let mut items = reply.into_iter();
        let now = items
            .next()
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| QueueError::Protocol("read_schedule answered without the time".into()))?;
        let mut fields = HashMap::new();
        while let (Some(field), Some(value)) = (items.next(), items.next()) {
            fields.insert(field, value);
        }
        let Some(info) = info_from(&fields, now)? else { return Ok(None) };
        Ok(Some(Snapshot {
            info,
            last_tick_raw: fields.get("last_tick").cloned().unwrap_or_default(),
            pending: fields.remove("pending"),
            now,
            read_at,
        }))
    }

    /// Every schedule, by name. One whose stored definition cannot be read is left out
    /// (and logged) rather than hiding all the others.
    pub async fn list(&self) -> Result<Vec<ScheduleInfo>> {
        let mut out = vec![];
        for name in self.names().await? {
            match self.get(&name).await {
                Ok(Some(info)) => out.push(info),
                Ok(None) => {}
                Err(QueueError::Json(e)) => tracing::warn!(schedule = %name, error = %e, "unreadable schedule"),
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    async fn names(&self) -> Result<Vec<String>> {
        self.store.names().await
    }

    /// Deletes a schedule and its history. Returns false if there was none.
    pub async fn remove(&self, name: &str) -> Result<bool> {
        self.store.remove(name).await
    }

    /// Makes the scheduler consider ticks after `tick` (epoch ms) as not yet fired, e.g.
    /// to replay a window after an outage; the misfire policy still applies.
    pub async fn set_last_tick(&self, name: &str, tick: i64) -> Result<()> {
        if !(0..=MAX_EPOCH_MS).contains(&tick) {
            return Err(QueueError::InvalidOption {
                field: "last_tick",
                reason: "must be epoch milliseconds between 1970 and 9999".into(),
            });
        }
        self.control(name, "last_tick", &tick.to_string()).await
    }

    /// Stops firing; ticks that pass while paused are misfires when resumed.
    pub async fn pause(&self, name: &str) -> Result<()> {
        self.control(name, "pause", "").await
    }

    pub async fn resume(&self, name: &str) -> Result<()> {
        self.control(name, "resume", "").await
    }

    async fn control(&self, name: &str, action: &str, tick: &str) -> Result<()> {
        match self.store.control(name, action, tick).await? {
            true => Ok(()),
            false => Err(QueueError::NotFound { id: format!("schedule {name}") }),
        }
    }

    /// Fires the schedule's job(s) now, outside its timetable. The fire's tick is Redis's
    /// time.
    pub async fn trigger(&self, name: &str) -> Result<Vec<Enqueued>> {
        let snapshot = self.read(name).await?.ok_or_else(|| QueueError::NotFound { id: format!("schedule {name}") })?;
        let tag = format!("manual:{}", crate::id::new_job_id());
        let enqueued = self.enqueue_tick(&snapshot.info.spec, &tag).await?;
        let record = FireRecord {
            tick: snapshot.now,
            fired_at: snapshot.now,
            job_ids: enqueued.iter().map(|e| e.id.clone()).collect(),
            manual: true,
            by: self.id.clone(),
            error: None,
        };
        self.confirm(name, "", 0, &[record]).await?;
        Ok(enqueued)
    }

    /// The most recent fires, newest first.
    pub async fn history(&self, name: &str, limit: usize) -> Result<Vec<FireRecord>> {
        if limit == 0 {
            return Ok(vec![]);
        }
        let raw = self.store.history(name, limit).await?;
        Ok(raw.iter().filter_map(|r| serde_json::from_str(r).ok()).collect())
    }

    /// Fires every tick due at `now` (epoch ms) across all schedules and returns how many
    /// jobs it enqueued. For tests and tools that replay time: `now` may lag Redis's clock
    /// (ticks fire late), but a pass whose `now` is ahead of Redis's claims nothing.
    /// Taking over a stale claim is decided by Redis's clock whatever `now` says.
    pub async fn run_due(&self, now: i64) -> Result<u64> {
        Ok(self.pass(Some(now)).await?.jobs)
    }

    /// Fires every tick due now by Redis's clock (one pass of [`Scheduler::run`]) and
    /// returns how many jobs it enqueued.
    pub async fn run_due_now(&self) -> Result<u64> {
        Ok(self.pass(None).await?.jobs)
    }

    /// One pass over every schedule, at `at` or else at each schedule's node's time.
    async fn pass(&self, at: Option<i64>) -> Result<Outcome> {
        let mut pass = Outcome { jobs: 0, wake: None };
        for name in self.names().await? {
            match self.run_schedule(&name, at).await {
                Ok(outcome) => {
                    pass.jobs += outcome.jobs;
                    pass.wake = match (pass.wake, outcome.wake) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                Err(e) => tracing::warn!(schedule = %name, error = %e, "schedule pass failed"),
            }
        }
        Ok(pass)
    }

    async fn run_schedule(&self, name: &str, at: Option<i64>) -> Result<Outcome> {
        let Some(snapshot) = self.read(name).await? else { return Ok(Outcome { jobs: 0, wake: None }) };
        let now = at.unwrap_or(snapshot.now);
        let spec = &snapshot.info.spec;
        let held = Outcome { jobs: 0, wake: Some(snapshot.read_at + HELD_RETRY) };
        let mut jobs = 0;
        // An unconfirmed claim's ticks come first; nothing new is claimed past it.
        if snapshot.pending.is_some() {
            let Some(claim) = self.take_over(name).await? else { return Ok(held) };
            jobs += self.fire_claim(spec, &claim).await?;
        }
        let exhausted = spec.max_runs.is_some_and(|max| snapshot.info.runs >= max);
        if snapshot.info.paused || !spec.enabled || exhausted {
            return Ok(Outcome { jobs, wake: None });
        }
        let cron = spec.validate()?;
        let last = snapshot.info.last_tick.unwrap_or(snapshot.now);
        // Ticks before start_at are never due: start just before it.
        let from = last.max(spec.start_at.map_or(i64::MIN, |start| start.saturating_sub(1)));
        let until = spec.end_at.map_or(now, |end| end.min(now));
        let due = cron.ticks_between(from, until, MAX_TICKS_PER_PASS);
        let next_wake = |after: i64| {
            cron.next_after(after)
                .filter(|t| spec.end_at.is_none_or(|end| *t <= end))
                .map(|t| snapshot.local_deadline(t))
        };
        // A schedule without a readable last tick counts from now, as a new one does.
        let through = due.last().copied().or(snapshot.info.last_tick.is_none().then_some(from.min(now)));
        let Some(through) = through else { return Ok(Outcome { jobs, wake: next_wake(from) }) };
        let fire = ticks_to_fire(&due, now, spec.misfire, spec.misfire_grace);
        match self.advance(&snapshot, through, now, &fire).await? {
            Advance::Claimed(claim) if !claim.is_empty() => jobs += self.fire_claim(spec, &claim).await?,
            Advance::Claimed(_) | Advance::Lost => {}
            Advance::Held => return Ok(Outcome { jobs, ..held }),
            Advance::Ahead => {
                tracing::debug!(schedule = %name, now, redis_now = snapshot.now, "pass time ahead of Redis: nothing claimed");
                return Ok(Outcome { jobs, wake: None });
            }
        }
        Ok(Outcome { jobs, wake: next_wake(through) })
    }

    /// Claims `fire` (due at `now`) and moves `last_tick` to `through`, if no other
    /// scheduler moved it since `snapshot` and no claim is unconfirmed.
    async fn advance(&self, snapshot: &Snapshot, through: i64, now: i64, fire: &[i64]) -> Result<Advance> {
        let spec = &snapshot.info.spec;
        let claim = TickClaim {
            last_tick_read: &snapshot.last_tick_raw,
            through,
            now,
            scheduler: &self.id,
            max_runs: spec.max_runs,
            ticks: fire,
        };
        let reply = self.store.advance(&spec.name, &claim).await?;
        Ok(match reply {
            ClaimReply::Claimed(claim) => Advance::Claimed(claim),
            ClaimReply::Held => Advance::Held,
            ClaimReply::Ahead => Advance::Ahead,
            ClaimReply::Lost => Advance::Lost,
        })
    }

    /// Takes over the schedule's claim if it is stale by Redis's clock; returns it.
    async fn take_over(&self, name: &str) -> Result<Option<String>> {
        let claim = self.store.take_over(name, PENDING_TIMEOUT.as_millis() as u64, &self.id).await?;
        if let Some(claim) = &claim {
            tracing::info!(schedule = %name, claim, scheduler = %self.id, "took over an unconfirmed claim");
        }
        Ok(claim)
    }

    /// Enqueues the jobs of a claim's ticks and confirms the claim; returns how many jobs
    /// were new. A tick whose jobs enqueue refuses for good (an invalid template) is
    /// recorded with the refusal; any other error (Redis unreachable) keeps the claim, to
    /// be retried by a takeover after [`PENDING_TIMEOUT`].
    async fn fire_claim(&self, spec: &ScheduleSpec, claim: &str) -> Result<u64> {
        let ticks: Vec<i64> = match serde_json::from_str(claim) {
            Ok(ticks) => ticks,
            Err(e) => {
                // No one could ever fire it: release it rather than retry it for ever.
                tracing::warn!(schedule = %spec.name, claim, error = %e, "released an unreadable claim");
                self.confirm(&spec.name, claim, 0, &[]).await?;
                return Ok(0);
            }
        };
        let mut records = Vec::with_capacity(ticks.len());
        let (mut runs, mut jobs) = (0, 0);
        for tick in ticks {
            let (job_ids, error) = match self.enqueue_tick(spec, &tick.to_string()).await {
                Ok(enqueued) => {
                    runs += 1;
                    jobs += enqueued.iter().filter(|e| !e.duplicate).count() as u64;
                    (enqueued.into_iter().map(|e| e.id).collect(), None)
                }
                Err(e) if refused_for_good(&e) => {
                    tracing::warn!(schedule = %spec.name, tick, error = %e, "tick's jobs refused; recorded, not retried");
                    (vec![], Some(e.to_string()))
                }
                Err(e) => return Err(e),
            };
            // fired_at is stamped by the confirm script, from Redis's clock.
            records.push(FireRecord { tick, fired_at: 0, job_ids, manual: false, by: self.id.clone(), error });
        }
        if !self.confirm(&spec.name, claim, runs, &records).await? {
            // Taken over meanwhile: the new holder enqueues the same dedup keys and records.
            tracing::info!(schedule = %spec.name, claim, "claim taken over before it was confirmed");
        }
        Ok(jobs)
    }

    /// The jobs of one tick, enqueued (see [`tick_jobs`]).
    async fn enqueue_tick(&self, spec: &ScheduleSpec, tag: &str) -> Result<Vec<Enqueued>> {
        let queue = Queue::new(&self.redis, &spec.queue)?;
        queue.enqueue_bulk(tick_jobs(spec, tag)?).await
    }

    /// Records fires and releases `claim` ("" for a manual fire). False when the claim is
    /// no longer this scheduler's (taken over) or the schedule is gone.
    async fn confirm(&self, name: &str, claim: &str, runs: u64, records: &[FireRecord]) -> Result<bool> {
        let mut entries = Vec::with_capacity(records.len());
        for record in records {
            // Without fired_at: the script adds it from TIME.
            let mut json = serde_json::to_value(record)?;
            if let Some(fields) = json.as_object_mut() {
                fields.remove("fired_at");
            }
            entries.push(serde_json::to_string(&json)?);
        }
        self.store.confirm(name, claim, &self.id, runs, &entries).await
    }

    /// When the next tick of any schedule is due (epoch ms).
    pub async fn next_due(&self) -> Result<Option<i64>> {
        Ok(self.list().await?.iter().filter(|i| !i.paused).filter_map(|i| i.next_tick).min())
    }

    /// Fires ticks on time, by Redis's clock, until `shutdown`: sleeps until the next tick
    /// (at most 1 s, so new and changed schedules are picked up) and runs the due ones.
    pub async fn run(self, shutdown: CancellationToken) -> Result<()> {
        tracing::info!(scheduler = %self.id, "scheduler started");
        while !shutdown.is_cancelled() {
            let wake = match self.pass(None).await {
                Ok(pass) => pass.wake,
                Err(e) => {
                    tracing::warn!(error = %e, "scheduler pass failed");
                    None
                }
            };
            let now = Instant::now();
            let wake = wake.unwrap_or(now + MAX_SLEEP).clamp(now + MIN_SLEEP, now + MAX_SLEEP);
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep_until(wake) => {}
            }
        }
        tracing::info!(scheduler = %self.id, "scheduler stopped");
        Ok(())
    }
}

/// The jobs of one tick: one, or one per fan-out element spread by the stagger. Each
/// carries `schedule:NAME:TAG[:i]` as its dedup key, so a tick enqueued twice (by a
/// scheduler that took over a dead one's claim) is still one set of jobs: held while the
/// job exists ([`DedupScope::Retained`]) whatever the template says, so a tick whose job
/// already finished is not run again.
fn tick_jobs(spec: &ScheduleSpec, tag: &str) -> Result<Vec<NewJob>> {
    let base_key = format!("schedule:{}:{tag}", spec.name);
    if spec.fan_out.is_empty() {
        return Ok(vec![keyed(spec.job.clone(), base_key)]);
    }
    let stagger = spec.stagger.unwrap_or_default();
    let delay = spec.job.options.delay.unwrap_or_default();
    spec.fan_out
        .iter()
        .enumerate()
        .map(|(i, item)| {
            // Job i starts i × stagger after the template's delay. Checked: a schedule
            // stored by an older version need not be bounded as upsert bounds it now.
            let delay = u32::try_from(i)
                .ok()
                .and_then(|i| stagger.checked_mul(i))
                .and_then(|offset| delay.checked_add(offset))
                .ok_or_else(|| QueueError::InvalidOption {
                    field: "stagger",
                    reason: format!("fan-out job {i} would start beyond any clock"),
                })?;
            let mut job = keyed(spec.job.clone(), format!("{base_key}:{i}"));
            job.payload = merge(&job.payload, item);
            job.options.delay = Some(delay);
            Ok(job)
        })
        .collect()
}

fn keyed(mut job: NewJob, dedup_key: String) -> NewJob {
    job.options.dedup_key = Some(dedup_key);
    job.options.dedup_scope = DedupScope::Retained;
    job
}

/// Whether enqueue would accept `jobs`, without enqueueing them.
fn check_enqueueable(queue: &Queue, jobs: Vec<NewJob>) -> Result<()> {
    for job in &jobs {
        queue.validate(job)?;
    }
    Ok(())
}

/// An upsert refusal naming the schedule's `field` (with enqueue's own field in the
/// reason), so errors about the template are not mistaken for the schedule's own `name`.
fn blame(field: &'static str, error: QueueError) -> QueueError {
    match error {
        QueueError::InvalidOption { field: inner, reason } => {
            QueueError::InvalidOption { field, reason: format!("{inner}: {reason}") }
        }
        QueueError::PayloadTooLarge { .. } => QueueError::InvalidOption { field, reason: error.to_string() },
        other => other,
    }
}

/// Errors enqueue gives for the jobs themselves, which no retry changes (unlike a Redis
/// that is unreachable, restarting or out of memory).
fn refused_for_good(error: &QueueError) -> bool {
    matches!(
        error,
        QueueError::InvalidOption { .. }
            | QueueError::InvalidQueueName { .. }
            | QueueError::PayloadTooLarge { .. }
            | QueueError::Json(_)
    )
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

/// A schedule's info from its stored fields; `now` is Redis's time (for a schedule
/// without a last tick, the next tick counts from now).
fn info_from(fields: &HashMap<String, String>, now: i64) -> Result<Option<ScheduleInfo>> {
    let Some(spec) = fields.get("spec") else { return Ok(None) };
    let spec: ScheduleSpec = serde_json::from_str(spec)?;
    let last_tick = fields.get("last_tick").and_then(|v| v.parse().ok());
    let runs = fields.get("runs").and_then(|v| v.parse().ok()).unwrap_or(0);
    let paused = fields.contains_key("paused");
    let exhausted = spec.max_runs.is_some_and(|max| runs >= max);
    let next_tick = match (spec.enabled && !exhausted, CronSchedule::parse(&spec.cron, &spec.timezone)) {
        (true, Ok(cron)) => {
            let after = last_tick.unwrap_or(now).max(spec.start_at.map_or(i64::MIN, |s| s.saturating_sub(1)));
            cron.next_after(after).filter(|t| spec.end_at.is_none_or(|end| *t <= end))
        }
        _ => None,
    };
    Ok(Some(ScheduleInfo { spec, paused, last_tick, next_tick, runs }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fan_out_delays_that_overflow_are_refused_not_a_panic() {
        let mut spec = ScheduleSpec::new("s", "* * * * *", "q", NewJob::new("j", json!({})));
        spec.fan_out = (0..1002).map(|i| json!({ "i": i })).collect();
        spec.stagger = Some(Duration::from_millis(u64::MAX));
        let err = tick_jobs(&spec, "1").unwrap_err();
        assert!(matches!(err, QueueError::InvalidOption { field: "stagger", .. }), "{err}");
        spec.stagger = Some(Duration::from_secs(1));
        spec.job.options.delay = Some(Duration::MAX);
        assert!(tick_jobs(&spec, "1").is_err());
        spec.job.options.delay = Some(Duration::from_secs(5));
        let jobs = tick_jobs(&spec, "1").unwrap();
        assert_eq!(jobs[1001].options.delay, Some(Duration::from_secs(5 + 1001)));
        assert_eq!(jobs[1001].options.dedup_key.as_deref(), Some("schedule:s:1:1001"));
    }
}
