//! [`Queue`]: enqueue jobs and manage a queue.

use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use redis::AsyncCommands;
use redis::streams::{StreamReadOptions, StreamReadReply};

use crate::backend::{self, field_map, invocation, run};
use crate::connection::RedisConnection;
use crate::error::{QueueError, Result};
use crate::keys::{MAX_OWNER_BYTES, QueueKeys, owner_tag, registry, validate_queue_name};
use crate::record::{decode_job, encode_opts, encode_spec_body};
use crate::scripts;
use crate::types::{
    Counts, DedupScope, Enqueued, ErrorRecord, Event, Job, JobPage, JobState, MAX_OPTION_DURATION, MAX_PRIORITY,
    MinuteStats, NewJob, QueueLimits, RateLimit,
};

/// The largest age `clean` passes to Redis (about 31,700 years): anything older is
/// "older than anything", and the script's arithmetic stays exact.
/// The highest cap on a queue's active jobs [`Queue::set_limits`] accepts.
pub const MAX_CONCURRENCY_LIMIT: u32 = 100_000;
/// The most job starts per window a queue's rate limit may allow.
pub const MAX_RATE_LIMIT: u32 = 1_000_000;

const MAX_CLEAN_AGE_MS: u64 = 1_000_000_000_000_000;

/// How many finished jobs a queue keeps in Redis, by count and by age. SQL history keeps
/// them longer; Redis stays small.
#[derive(Clone, Debug, PartialEq)]
pub struct Retention {
    pub max_count: Option<u64>,
    pub max_age: Option<Duration>,
}

/// Settings of a queue handle.
#[derive(Clone, Debug)]
pub struct QueueConfig {
    /// Prefix of every key (default `hoist`).
    pub key_prefix: String,
    /// Largest accepted payload, in bytes of JSON (default 512 KiB).
    pub max_payload_bytes: usize,
    /// Approximate length the event stream is capped at (default 10,000).
    pub max_events: u64,
    /// Completed jobs kept (default 1,000 and 24 h).
    pub completed: Retention,
    /// Dead jobs kept (default 10,000 and 14 days).
    pub dead: Retention,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            key_prefix: "hoist".into(),
            max_payload_bytes: 512 * 1024,
            max_events: 10_000,
            completed: Retention { max_count: Some(1000), max_age: Some(Duration::from_secs(24 * 3600)) },
            dead: Retention { max_count: Some(10_000), max_age: Some(Duration::from_secs(14 * 24 * 3600)) },
        }
    }
}

impl Retention {
    pub(crate) fn args(&self) -> (i64, i64) {
        (self.max_count.map(|c| c as i64).unwrap_or(-1), self.max_age.map(|a| a.as_millis() as i64).unwrap_or(0))
    }
}

/// What [`Queue::cancel`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelOutcome {
    /// The job had not started; it is cancelled.
    Cancelled,
    /// The job is running; its handler's cancellation token was signalled.
    Requested,
}

/// A handle on one queue. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct Queue {
    pub(crate) inner: Arc<QueueInner>,
}

pub(crate) struct QueueInner {
    pub name: String,
    pub keys: QueueKeys,
    pub redis: RedisConnection,
    pub config: QueueConfig,
    /// Set once this handle has recorded the queue in the registry.
    pub registered: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").field("name", &self.inner.name).finish()
    }
}

impl Queue {
    /// A handle on queue `name` with the default configuration.
    pub fn new(redis: &RedisConnection, name: &str) -> Result<Self> {
        Self::with_config(redis, name, QueueConfig::default())
    }

    pub fn with_config(redis: &RedisConnection, name: &str, config: QueueConfig) -> Result<Self> {
        validate_queue_name(name)?;
        let keys = QueueKeys::new(&config.key_prefix, name);
        let registered = std::sync::atomic::AtomicBool::new(false);
        Ok(Queue {
            inner: Arc::new(QueueInner { name: name.to_string(), keys, redis: redis.clone(), config, registered }),
        })
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub fn config(&self) -> &QueueConfig {
        &self.inner.config
    }

    pub(crate) fn keys(&self) -> &QueueKeys {
        &self.inner.keys
    }

    pub(crate) fn conn(&self) -> crate::connection::Conn {
        self.inner.redis.shared()
    }

    pub(crate) fn redis(&self) -> &RedisConnection {
        &self.inner.redis
    }

    /// Every queue name ever enqueued to or worked on under this key prefix.
    pub async fn list_queues(redis: &RedisConnection, key_prefix: &str) -> Result<Vec<String>> {
        let mut names: Vec<String> = redis.shared().smembers(registry(key_prefix)).await?;
        names.sort();
        Ok(names)
    }

    /// Records the queue in the registry of queue names (dashboards list from it).
    pub async fn register(&self) -> Result<()> {
        use std::sync::atomic::Ordering;
        if self.inner.registered.load(Ordering::Relaxed) {
            return Ok(());
        }
        let _: () = self.conn().sadd(registry(&self.inner.config.key_prefix), &self.inner.name).await?;
        self.inner.registered.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Adds one job. With a dedup key that an existing job holds, that job's id comes
    /// back with `duplicate: true` and nothing is added ([`DedupScope`] says how long a
    /// job holds its key). A job with an owner is listed by [`Queue::list_owned`].
    pub async fn enqueue(&self, job: NewJob) -> Result<Enqueued> {
        let mut out = self.enqueue_bulk(vec![job]).await?;
        out.pop().ok_or_else(|| QueueError::Protocol("enqueue returned nothing".into()))
    }

    /// Adds many jobs in one round trip, atomically. Every job is validated first; one
    /// invalid job rejects the batch.
    pub async fn enqueue_bulk(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>> {
        if jobs.is_empty() {
            return Ok(vec![]);
        }
        let mut call = invocation(&scripts::ENQUEUE, self.keys(), self.inner.config.max_events);
        call.arg(jobs.len());
        let mut ids = Vec::with_capacity(jobs.len());
        for job in &jobs {
            let payload = self.validate(job)?;
            let o = &job.options;
            let id = crate::id::new_job_id();
            call.arg(&id)
                .arg(encode_spec_body(job, &payload))
                .arg(encode_opts(o))
                .arg(o.priority)
                .arg(o.delay.map_or(0, |d| d.as_millis() as u64))
                .arg(dedup_field(o))
                .arg(&job.name)
                .arg(owner_field(o));
            match &o.rate_limit {
                Some(limit) => call.arg(&limit.key).arg(limit.max).arg(limit.per.as_millis() as u64),
                None => call.arg("").arg(0).arg(0),
            };
            ids.push(id);
        }
        self.register().await?;
        let reply: redis::Value = run(&call, &mut self.conn()).await?;
        let items = backend::array(reply)?;
        if let [redis::Value::Int(-5), retry_after] = items.as_slice() {
            let retry_after = backend::int(retry_after).unwrap_or(1).max(1) as u64;
            return Err(QueueError::RateLimited { retry_after: Duration::from_millis(retry_after) });
        }
        if items.len() != ids.len() {
            return Err(QueueError::Protocol(format!("enqueue answered {} of {} jobs", items.len(), ids.len())));
        }
        Ok(items
            .iter()
            .zip(ids)
            .map(|(item, id)| match item {
                redis::Value::Int(0) => Enqueued { id, duplicate: false },
                existing => Enqueued { id: backend::text(existing).unwrap_or_default(), duplicate: true },
            })
            .collect())
    }

    fn validate(&self, job: &NewJob) -> Result<String> {
        let invalid = |field, reason: &str| QueueError::InvalidOption { field, reason: reason.to_string() };
        if job.name.trim().is_empty() {
            return Err(invalid("name", "must not be empty"));
        }
        if job.name.len() > 200 {
            return Err(invalid("name", "must be at most 200 bytes"));
        }
        if crate::names::first_hidden(&job.name).is_some() {
            return Err(invalid("name", "must not contain control or invisible characters"));
        }
        let o = &job.options;
        if o.priority > MAX_PRIORITY {
            return Err(invalid("priority", "must be between 0 and 1000"));
        }
        if o.max_attempts == 0 || o.max_attempts > 1000 {
            return Err(invalid("max_attempts", "must be between 1 and 1000"));
        }
        if let Some(timeout) = o.timeout
            && (timeout.is_zero() || timeout > MAX_OPTION_DURATION)
        {
            return Err(invalid("timeout", "must be more than 0 and at most 365 days"));
        }
        if o.delay.is_some_and(|d| d > MAX_OPTION_DURATION) {
            return Err(invalid("delay", "must be at most 365 days"));
        }
        let backoff_too_long = match &o.backoff {
            crate::types::Backoff::None => false,
            crate::types::Backoff::Fixed { delay } => *delay > MAX_OPTION_DURATION,
            crate::types::Backoff::Exponential { base, cap, .. } => {
                *base > MAX_OPTION_DURATION || *cap > MAX_OPTION_DURATION
            }
        };
        if backoff_too_long {
            return Err(invalid("backoff", "delays must be at most 365 days"));
        }
        if let Some(key) = &o.dedup_key
            && (key.is_empty() || key.len() > 512 || key.chars().any(char::is_control))
        {
            return Err(invalid("dedup_key", "must be 1 to 512 bytes without control characters"));
        }
        if let Some(owner) = &o.owner {
            check_owner(owner)?;
        }
        if let crate::types::Backoff::Exponential { jitter, base, .. } = &o.backoff
            && (!(0.0..=1.0).contains(jitter) || base.is_zero())
        {
            return Err(invalid("backoff", "exponential needs a base > 0 and jitter between 0 and 1"));
        }
        if let Some(limit) = &o.rate_limit
            && (limit.key.is_empty()
                || limit.key.len() > 200
                || limit.max == 0
                || limit.per.is_zero()
                || limit.per > MAX_OPTION_DURATION)
        {
            return Err(invalid(
                "rate_limit",
                "needs a key of 1 to 200 bytes, max > 0 and a window of 1 ms to 365 days",
            ));
        }
        let payload = serde_json::to_string(&job.payload)?;
        if payload.len() > self.inner.config.max_payload_bytes {
            return Err(QueueError::PayloadTooLarge { size: payload.len(), max: self.inner.config.max_payload_bytes });
        }
        Ok(payload)
    }

    /// The job with its errors and log lines, or `None`.
    pub async fn get_job(&self, id: &str) -> Result<Option<Job>> {
        if !crate::id::is_job_id(id) {
            return Ok(None);
        }
        let keys = self.keys();
        let mut pipe = redis::pipe();
        pipe.hgetall(keys.job(id)).lrange(keys.job_errors(id), 0, -1).lrange(keys.job_logs(id), 0, -1);
        let (fields, errors, logs): (std::collections::HashMap<String, String>, Vec<String>, Vec<String>) =
            pipe.query_async(&mut self.conn()).await?;
        if fields.is_empty() {
            return Ok(None);
        }
        let mut job = decode_job(&self.inner.name, id, &fields)?;
        job.errors = errors.iter().filter_map(|e| serde_json::from_str::<ErrorRecord>(e).ok()).collect();
        job.logs = logs;
        Ok(Some(job))
    }

    /// Turns copying finished jobs to a history store on or off. While on, every job that
    /// ends (completed, dead, cancelled) is also recorded in an archive set, and retention
    /// keeps it until [`Queue::mark_archived`] says it was copied: a history writer that
    /// was down for a while loses nothing. Turning it off forgets the pending set.
    pub async fn set_archiving(&self, on: bool) -> Result<()> {
        let keys = self.keys();
        let meta = keys.script_keys()[7].clone();
        let archive = keys.script_keys()[13].clone();
        let mut pipe = redis::pipe();
        if on {
            pipe.hset(&meta, "archive", 1);
        } else {
            pipe.hdel(&meta, "archive").del(&archive);
        }
        let _: () = pipe.query_async(&mut self.conn()).await?;
        Ok(())
    }

    /// Up to `limit` finished jobs not yet copied to the history store, oldest ending
    /// first, each with its per-attempt errors and the finish time it was archived at
    /// (pass both back to [`Queue::mark_archived`]). A job listed here that is no longer
    /// finished (retried meanwhile) should be acknowledged too; its next ending is listed
    /// again.
    pub async fn unarchived(&self, limit: usize) -> Result<Vec<(Job, i64)>> {
        let archive = self.keys().script_keys()[13].clone();
        let listed: Vec<(String, i64)> =
            self.conn().zrange_withscores(&archive, 0, limit.clamp(1, 10_000) as isize - 1).await?;
        let ids: Vec<&String> = listed.iter().map(|(id, _)| id).collect();
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.hgetall(self.keys().job(id)).lrange(self.keys().job_errors(id), 0, -1);
        }
        let replies: Vec<(std::collections::HashMap<String, String>, Vec<String>)> = {
            let flat: Vec<redis::Value> = pipe.query_async(&mut self.conn()).await?;
            let mut out = Vec::with_capacity(ids.len());
            let mut it = flat.into_iter();
            while let (Some(fields), Some(errors)) = (it.next(), it.next()) {
                out.push((
                    redis::from_redis_value(fields).map_err(redis::RedisError::from)?,
                    redis::from_redis_value(errors).map_err(redis::RedisError::from)?,
                ));
            }
            out
        };
        let mut jobs = Vec::with_capacity(ids.len());
        for ((fields, errors), (id, archived_at)) in replies.into_iter().zip(&listed) {
            if fields.is_empty() {
                continue; // deleted meanwhile: deletion also drops it from the archive set
            }
            let mut job = decode_job(&self.inner.name, id, &fields)?;
            job.errors = errors.iter().filter_map(|e| serde_json::from_str::<ErrorRecord>(e).ok()).collect();
            jobs.push((job, *archived_at));
        }
        Ok(jobs)
    }

    /// Acknowledges jobs copied to the history store: pairs of job id and the
    /// `finished_at` that was copied. Returns how many were released to retention.
    pub async fn mark_archived(&self, copied: &[(String, i64)]) -> Result<u64> {
        if copied.is_empty() {
            return Ok(0);
        }
        let mut call = self.simple(&scripts::ARCHIVED);
        for (id, finished_at) in copied {
            call.arg(id).arg(finished_at);
        }
        let released: u64 = run(&call, &mut self.conn()).await?;
        Ok(released)
    }

    /// Jobs in one state, newest first (by the state's own order), `limit` from `offset`.
    /// Reads only the page asked for: no scans.
    pub async fn list_jobs(&self, state: JobState, offset: u64, limit: u64) -> Result<JobPage> {
        let set = self.keys().state_set(state);
        let limit = limit.clamp(1, 1000);
        // Any offset past the end reads as the end (a huge one must not wrap negative,
        // which Redis would count from the end).
        let offset = offset.min(isize::MAX as u64 / 2);
        let mut conn = self.conn();
        let (ids, total): (Vec<String>, u64) = if state == JobState::Active {
            // By score, below the anchor at +inf.
            redis::pipe()
                .zrevrangebyscore_limit(&set, "(+inf", "-inf", offset as isize, limit as isize)
                .zcount(&set, "-inf", "(+inf")
                .query_async(&mut conn)
                .await?
        } else {
            redis::pipe()
                .zrevrange(&set, offset as isize, (offset + limit) as isize - 1)
                .zcard(&set)
                .query_async(&mut conn)
                .await?
        };
        let jobs = self.load_jobs(&ids).await?;
        let next = (offset + limit < total).then_some(offset + limit);
        Ok(JobPage { jobs, next, total })
    }

    /// The jobs of `owner` (as given in [`JobOptions::owner`](crate::JobOptions::owner)) in
    /// any of `states` (empty = every state), newest first: `limit` (1 to 1,000) of them
    /// starting at `cursor`, an offset into the owner's index of this queue; pass
    /// [`JobPage::next`] back for the next page. `total` is how many of the owner's jobs
    /// are in those states.
    ///
    /// It reads the owner's index (a sorted set per owner, kept by enqueue and by every
    /// deletion), only the `state` field of the indexed jobs to filter (pipelined, 1,000
    /// per round trip; not at all when `states` is empty), and whole jobs only for the page
    /// it returns: never another owner's jobs, and never payloads it does not return. The
    /// index holds only jobs Redis still keeps (retention bounds it); a call reads at most
    /// [`Queue::MAX_OWNED_SCAN`] (10,000) of its newest entries, so for an owner with more
    /// jobs than that in one queue, filtered listings and their `total` cover the newest
    /// 10,000 (unfiltered ones page through all).
    ///
    /// ```no_run
    /// # use hoist_queue::{JobOptions, JobState, NewJob, Queue, RedisConnection};
    /// # async fn demo() -> Result<(), hoist_queue::QueueError> {
    /// let redis = RedisConnection::connect("redis://127.0.0.1:6379").await?;
    /// let sync = Queue::new(&redis, "sync")?;
    /// let mine = JobOptions { owner: Some("42".into()), ..Default::default() };
    /// sync.enqueue(NewJob::new("sync-connection", serde_json::json!({})).with_options(mine)).await?;
    ///
    /// // User 42's unfinished jobs, 20 per page.
    /// let running = [JobState::Waiting, JobState::Delayed, JobState::Retrying, JobState::Active];
    /// let mut cursor = 0;
    /// loop {
    ///     let page = sync.list_owned("42", &running, cursor, 20).await?;
    ///     for job in &page.jobs {
    ///         println!("{} {} ({} in all)", job.id, job.state, page.total);
    ///     }
    ///     match page.next {
    ///         Some(next) => cursor = next,
    ///         None => break,
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list_owned(&self, owner: &str, states: &[JobState], cursor: u64, limit: u64) -> Result<JobPage> {
        check_owner(owner)?;
        let index = self.keys().owner_index(owner);
        let limit = limit.clamp(1, 1000);
        // Any cursor past the end reads as the end (a huge one must not wrap negative,
        // which Redis would count from the end).
        let cursor = cursor.min(isize::MAX as u64 / 2);
        let wanted = |state: JobState| states.is_empty() || states.contains(&state);
        let mut conn = self.conn();
        if states.is_empty() || JobState::ALL.iter().all(|s| states.contains(s)) {
            // Every state: the index is the answer, no state to read.
            let (ids, total): (Vec<String>, u64) = redis::pipe()
                .zrevrange(&index, cursor as isize, (cursor + limit) as isize - 1)
                .zcard(&index)
                .query_async(&mut conn)
                .await?;
            let jobs = self.load_jobs(&ids).await?;
            let next = (cursor + limit < total).then_some(cursor + limit);
            return Ok(JobPage { jobs, next, total });
        }
        let scan = Self::MAX_OWNED_SCAN;
        let ids: Vec<String> = conn.zrevrange(&index, 0, scan as isize - 1).await?;
        // Offsets (into the index) of the owner's jobs in the states asked for.
        let mut matching: Vec<usize> = Vec::new();
        for (chunk_index, chunk) in ids.chunks(1000).enumerate() {
            let mut pipe = redis::pipe();
            for id in chunk {
                pipe.hget(self.keys().job(id), "state");
            }
            let read: Vec<Option<String>> = pipe.query_async(&mut conn).await?;
            for (i, state) in read.iter().enumerate() {
                // A job deleted meanwhile has no state and is not counted.
                if state.as_deref().and_then(JobState::parse).is_some_and(wanted) {
                    matching.push(chunk_index * 1000 + i);
                }
            }
        }
        let total = matching.len() as u64;
        let first = matching.partition_point(|&offset| (offset as u64) < cursor);
        let page = &matching[first..matching.len().min(first + limit as usize)];
        let next = match (page.last(), matching.get(first + page.len())) {
            (Some(&last), Some(_)) => Some(last as u64 + 1),
            _ => None,
        };
        let page_ids: Vec<String> = page.iter().map(|&offset| ids[offset].clone()).collect();
        // A job that changed state since its state was read is left out of this page.
        let jobs = self.load_jobs(&page_ids).await?.into_iter().filter(|job| wanted(job.state)).collect();
        Ok(JobPage { jobs, next, total })
    }

    /// Most entries of an owner's index one [`Queue::list_owned`] call reads.
    pub const MAX_OWNED_SCAN: u64 = 10_000;

    /// How many jobs of `owner` this queue holds, in any state (the size of the owner's
    /// index: one read).
    pub async fn count_owned(&self, owner: &str) -> Result<u64> {
        check_owner(owner)?;
        Ok(self.conn().zcard(self.keys().owner_index(owner)).await?)
    }

    /// Loads several jobs in one round trip, skipping ids that no longer exist.
    pub async fn load_jobs(&self, ids: &[String]) -> Result<Vec<Job>> {
        let ids: Vec<String> = crate::id::job_ids(ids).into_iter().cloned().collect();
        let ids = &ids[..];
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.hgetall(self.keys().job(id));
        }
        let replies: Vec<redis::Value> = pipe.query_async(&mut self.conn()).await?;
        let mut jobs = Vec::with_capacity(ids.len());
        for (reply, id) in replies.into_iter().zip(ids) {
            let fields = match reply {
                redis::Value::Map(pairs) => pairs
                    .into_iter()
                    .filter_map(|(k, v)| {
                        Some((redis::from_redis_value::<String>(k).ok()?, redis::from_redis_value::<String>(v).ok()?))
                    })
                    .collect(),
                other => field_map(other)?,
            };
            if !fields.is_empty() {
                jobs.push(decode_job(&self.inner.name, id, &fields)?);
            }
        }
        Ok(jobs)
    }

    /// Jobs per state and the paused flag, in one round trip.
    pub async fn counts(&self) -> Result<Counts> {
        let keys = self.keys();
        let mut pipe = redis::pipe();
        for state in JobState::ALL {
            if state == JobState::Active {
                pipe.zcount(keys.state_set(state), "-inf", "(+inf");
            } else {
                pipe.zcard(keys.state_set(state));
            }
        }
        pipe.hexists(keys.meta(), "paused");
        let (w, d, r, a, c, x, k, paused): (u64, u64, u64, u64, u64, u64, u64, bool) =
            pipe.query_async(&mut self.conn()).await?;
        Ok(Counts { waiting: w, delayed: d, retrying: r, active: a, completed: c, dead: x, cancelled: k, paused })
    }

    /// When the longest-running active job started (epoch ms), for health warnings such
    /// as "oldest active > 5 min", or `None` when nothing runs.
    pub async fn oldest_active_started_at(&self) -> Result<Option<i64>> {
        // Renewed leases do not keep start order, so read the active set; it is as small
        // as the workers' total concurrency (capped here at 1,000).
        let ids: Vec<String> =
            self.conn().zrangebyscore_limit(self.keys().state_set(JobState::Active), "-inf", "(+inf", 0, 1000).await?;
        let jobs = self.load_jobs(&ids).await?;
        Ok(jobs.iter().filter_map(|j| j.started_at).min())
    }

    fn simple(&self, script: &'static redis::Script) -> redis::ScriptInvocation<'static> {
        invocation(script, self.keys(), self.inner.config.max_events)
    }

    /// Workers stop claiming from this queue; running jobs finish. Returns false if it
    /// was already paused.
    pub async fn pause(&self) -> Result<bool> {
        let changed: i64 = run(&self.simple(&scripts::PAUSE), &mut self.conn()).await?;
        Ok(changed == 1)
    }

    /// Returns false if it was not paused.
    pub async fn resume(&self) -> Result<bool> {
        let changed: i64 = run(&self.simple(&scripts::RESUME), &mut self.conn()).await?;
        Ok(changed == 1)
    }

    /// Sets the limits all workers of this queue obey together (global concurrency, job
    /// starts per window), and wakes idle workers so a raised limit takes effect at once.
    pub async fn set_limits(&self, limits: &QueueLimits) -> Result<()> {
        let invalid = |field, reason: &str| QueueError::InvalidOption { field, reason: reason.to_string() };
        if limits.concurrency.is_some_and(|n| !(1..=MAX_CONCURRENCY_LIMIT).contains(&n)) {
            return Err(invalid("concurrency", "must be 1 to 100,000 (pause the queue to stop it)"));
        }
        if let Some(rate) = limits.rate
            && (!(1..=MAX_RATE_LIMIT).contains(&rate.max) || rate.per.is_zero() || rate.per > MAX_OPTION_DURATION)
        {
            return Err(invalid("rate", "needs a max of 1 to 1,000,000 and a window of 1 ms to 365 days"));
        }
        let mut call = self.simple(&scripts::SET_LIMITS);
        call.arg(limits.concurrency.map(|n| n.to_string()).unwrap_or_default());
        match limits.rate {
            Some(rate) => call.arg(rate.max).arg(rate.per.as_millis() as u64),
            None => call.arg("").arg(""),
        };
        let _: i64 = run(&call, &mut self.conn()).await?;
        Ok(())
    }

    /// The limits set with [`Queue::set_limits`].
    pub async fn limits(&self) -> Result<QueueLimits> {
        let (concurrency, max, window): (Option<u32>, Option<u32>, Option<u64>) = redis::cmd("HMGET")
            .arg(self.keys().meta())
            .arg(&["concurrency", "rate_max", "rate_window"])
            .query_async(&mut self.conn())
            .await?;
        let rate = match (max, window) {
            (Some(max), Some(window)) => Some(RateLimit { max, per: Duration::from_millis(window) }),
            _ => None,
        };
        Ok(QueueLimits { concurrency, rate })
    }

    /// Takes one slot of a sliding-window limit on `key` (e.g. "at most 10 per owner per
    /// hour"), or says how long until one frees up. A handler over the limit returns
    /// `JobError::defer(retry_after)` to run again then without spending an attempt.
    pub async fn take_key_slot(&self, key: &str, max: u32, per: Duration, member: &str) -> Result<()> {
        let mut call = self.simple(&scripts::TAKE_SLOT);
        call.arg(key).arg(max).arg(per.as_millis() as u64).arg(member);
        let (code, retry_after): (i64, u64) = run(&call, &mut self.conn()).await?;
        if code == -5 {
            return Err(QueueError::RateLimited { retry_after: Duration::from_millis(retry_after.max(1)) });
        }
        Ok(())
    }

    pub async fn is_paused(&self) -> Result<bool> {
        Ok(self.conn().hexists(self.keys().meta(), "paused").await?)
    }

    /// Removes every waiting job (and delayed ones when asked). Returns how many.
    pub async fn drain(&self, include_delayed: bool) -> Result<u64> {
        let mut removed = self.clean_all(JobState::Waiting, 0).await?;
        if include_delayed {
            removed += self.clean_all(JobState::Delayed, 0).await?;
        }
        Ok(removed)
    }

    /// Removes jobs of a finished, waiting, delayed or retrying state that entered it more
    /// than `older_than` ago. Active jobs are never cleaned.
    pub async fn clean(&self, state: JobState, older_than: Duration) -> Result<u64> {
        if state == JobState::Active {
            return Err(QueueError::InvalidOption { field: "state", reason: "active jobs cannot be cleaned".into() });
        }
        // The waiting set is ordered by priority, not time: it is drained as a whole.
        if matches!(state, JobState::Waiting) && !older_than.is_zero() {
            return Err(QueueError::InvalidOption {
                field: "older_than",
                reason: "waiting jobs are cleaned all at once (use drain)".into(),
            });
        }
        // An age beyond any clock means "older than anything": nothing, never a wrapped
        // cutoff in the future that would take every job.
        let age = u64::try_from(older_than.as_millis()).unwrap_or(u64::MAX).min(MAX_CLEAN_AGE_MS);
        self.clean_all(state, age).await
    }

    async fn clean_all(&self, state: JobState, age_ms: u64) -> Result<u64> {
        const BATCH: u64 = 500;
        let mut total = 0;
        let mut start = 0i64;
        loop {
            let mut call = self.simple(&scripts::CLEAN);
            call.arg(state.as_str()).arg(age_ms).arg(BATCH).arg(start);
            let (removed, next): (u64, i64) = run(&call, &mut self.conn()).await?;
            total += removed;
            if next < 0 {
                return Ok(total);
            }
            start = next;
        }
    }

    /// Moves dead or cancelled jobs (by id) back to waiting with fresh attempts. Returns
    /// how many moved; ids not in `from` are skipped.
    pub async fn retry(&self, from: JobState, ids: &[String]) -> Result<u64> {
        let ids = crate::id::job_ids(ids);
        if ids.is_empty() {
            return Ok(0);
        }
        let mut call = self.simple(&scripts::RETRY);
        call.arg(from.as_str()).arg("ids").arg(0);
        for id in ids {
            call.arg(id);
        }
        run(&call, &mut self.conn()).await
    }

    /// Retries one job, whatever finished state it is in.
    pub async fn retry_job(&self, id: &str) -> Result<()> {
        let job = self.get_job(id).await?.ok_or_else(|| QueueError::NotFound { id: id.into() })?;
        if !matches!(job.state, JobState::Dead | JobState::Cancelled | JobState::Retrying) {
            return Err(QueueError::WrongState { id: id.into(), state: job.state.to_string(), action: "retry" });
        }
        self.retry(job.state, &[id.to_string()]).await?;
        Ok(())
    }

    /// Moves every job of `from` (dead, cancelled or retrying) back to waiting.
    pub async fn retry_all(&self, from: JobState) -> Result<u64> {
        const BATCH: u64 = 500;
        let mut total = 0;
        loop {
            let mut call = self.simple(&scripts::RETRY);
            call.arg(from.as_str()).arg("all").arg(BATCH);
            let moved: u64 = run(&call, &mut self.conn()).await?;
            total += moved;
            if moved < BATCH {
                return Ok(total);
            }
        }
    }

    /// Requeues jobs from the dead-letter queue.
    pub async fn requeue_dead(&self, ids: &[String]) -> Result<u64> {
        self.retry(JobState::Dead, ids).await
    }

    /// Runs a delayed or retrying job now.
    pub async fn promote(&self, id: &str) -> Result<()> {
        if !crate::id::is_job_id(id) {
            return Err(QueueError::NotFound { id: id.into() });
        }
        let mut call = self.simple(&scripts::PROMOTE);
        call.arg("ids").arg(0).arg(id);
        let moved: u64 = run(&call, &mut self.conn()).await?;
        if moved == 0 {
            return Err(match self.get_job(id).await? {
                None => QueueError::NotFound { id: id.into() },
                Some(job) => QueueError::WrongState { id: id.into(), state: job.state.to_string(), action: "promote" },
            });
        }
        Ok(())
    }

    /// Runs every delayed job now. Returns how many.
    pub async fn promote_all(&self) -> Result<u64> {
        let mut total = 0;
        loop {
            let mut call = self.simple(&scripts::PROMOTE);
            call.arg("all").arg(500);
            let moved: u64 = run(&call, &mut self.conn()).await?;
            total += moved;
            if moved < 500 {
                return Ok(total);
            }
        }
    }

    /// Deletes a job that is not active.
    pub async fn remove(&self, id: &str) -> Result<()> {
        if !crate::id::is_job_id(id) {
            return Err(QueueError::NotFound { id: id.into() });
        }
        let mut call = self.simple(&scripts::REMOVE);
        call.arg("").arg(id);
        let (removed, refused): (u64, Vec<String>) = run(&call, &mut self.conn()).await?;
        if !refused.is_empty() {
            return Err(QueueError::WrongState { id: id.into(), state: "active".into(), action: "remove (cancel it)" });
        }
        if removed == 0 {
            return Err(QueueError::NotFound { id: id.into() });
        }
        Ok(())
    }

    /// Deletes several jobs; active ones are skipped. Returns how many were removed.
    pub async fn remove_many(&self, ids: &[String]) -> Result<u64> {
        self.remove_where(ids, None).await
    }

    /// Deletes those of `ids` that are in `state` when the deletion runs (checked in the
    /// same atomic step: a dead job requeued since it was selected is not deleted).
    /// Returns how many were removed. Active jobs are never removed this way.
    pub async fn remove_in_state(&self, ids: &[String], state: JobState) -> Result<u64> {
        if state == JobState::Active {
            return Err(QueueError::InvalidOption {
                field: "state",
                reason: "active jobs are cancelled, not removed".into(),
            });
        }
        self.remove_where(ids, Some(state)).await
    }

    async fn remove_where(&self, ids: &[String], state: Option<JobState>) -> Result<u64> {
        let ids = crate::id::job_ids(ids);
        if ids.is_empty() {
            return Ok(0);
        }
        let mut call = self.simple(&scripts::REMOVE);
        call.arg(state.map_or("", |s| s.as_str()));
        for id in ids {
            call.arg(id);
        }
        let (removed, _refused): (u64, Vec<String>) = run(&call, &mut self.conn()).await?;
        Ok(removed)
    }

    /// Cancels a job: one that has not started is cancelled at once; a running one has its
    /// handler's cancellation token signalled.
    pub async fn cancel(&self, id: &str) -> Result<CancelOutcome> {
        if !crate::id::is_job_id(id) {
            return Err(QueueError::NotFound { id: id.into() });
        }
        let mut call = self.simple(&scripts::CANCEL);
        call.arg(id).arg(self.keys().cancel_channel());
        let code: i64 = run(&call, &mut self.conn()).await?;
        match code {
            1 => Ok(CancelOutcome::Cancelled),
            2 => Ok(CancelOutcome::Requested),
            -3 => {
                let state = self.get_job(id).await?.map(|j| j.state.to_string()).unwrap_or_default();
                Err(QueueError::WrongState { id: id.into(), state, action: "cancel" })
            }
            other => Err(QueueError::from_code(other, id, "cancel")
                .unwrap_or_else(|| QueueError::Protocol(format!("cancel returned {other}")))),
        }
    }

    /// Deletes the queue's jobs and keys. Refuses while jobs are active unless `force`.
    pub async fn obliterate(&self, force: bool) -> Result<u64> {
        let mut total = 0;
        loop {
            let mut call = self.simple(&scripts::OBLITERATE);
            call.arg(1000).arg(if force { "force" } else { "" });
            let deleted: i64 = run(&call, &mut self.conn()).await?;
            if deleted == -4 {
                return Err(QueueError::ActiveJobs);
            }
            total += deleted as u64;
            if deleted == 0 {
                break;
            }
        }
        let _: () = self.conn().srem(registry(&self.inner.config.key_prefix), &self.inner.name).await?;
        self.inner.registered.store(false, std::sync::atomic::Ordering::Relaxed);
        Ok(total)
    }

    /// Returns jobs whose lease expired to waiting (or dead after too many stalls). Any
    /// process may call it; workers do so periodically. Returns (recovered, dead).
    pub async fn recover_stalled(&self) -> Result<(u64, u64)> {
        let mut call = self.simple(&scripts::RECOVER_STALLED);
        call.arg(1000);
        run(&call, &mut self.conn()).await
    }

    /// Per-minute statistics for the last `minutes` minutes (at most 14 days), the current
    /// one last, by Redis's clock (the one the statistics are kept by).
    pub async fn recent_stats(&self, minutes: u32) -> Result<Vec<MinuteStats>> {
        let minute = self.redis_time().await? / 60_000;
        let span = i64::from(minutes.clamp(1, 14 * 24 * 60));
        self.stats(minute - span + 1, minute).await
    }

    /// Per-minute statistics for the minutes `from..=to` (minutes since the epoch).
    pub async fn stats(&self, from_minute: i64, to_minute: i64) -> Result<Vec<MinuteStats>> {
        if to_minute < from_minute {
            return Ok(vec![]);
        }
        let span = (to_minute - from_minute).min(14 * 24 * 60);
        let from_minute = to_minute - span;
        let mut out = Vec::with_capacity(span as usize + 1);
        let mut conn = self.conn();
        // Pipelined in chunks so a 14-day range does not build one giant reply.
        for chunk_start in (from_minute..=to_minute).step_by(720) {
            let chunk_end = (chunk_start + 719).min(to_minute);
            let mut pipe = redis::pipe();
            for minute in chunk_start..=chunk_end {
                pipe.hgetall(self.keys().stats(minute));
            }
            let maps: Vec<std::collections::HashMap<String, u64>> = pipe.query_async(&mut conn).await?;
            for (minute, map) in (chunk_start..=chunk_end).zip(maps) {
                out.push(MinuteStats {
                    minute,
                    completed: map.get("completed").copied().unwrap_or(0),
                    failed: map.get("failed").copied().unwrap_or(0),
                    dead: map.get("dead").copied().unwrap_or(0),
                    duration_ms: map.get("duration_ms").copied().unwrap_or(0),
                });
            }
        }
        Ok(out)
    }

    /// Events after `after` (a stream position; `None` = from the oldest kept), at most
    /// `count`, without blocking.
    pub async fn read_events(&self, after: Option<&str>, count: usize) -> Result<Vec<Event>> {
        // Inside a batch entry: read that entry again and skip the events already seen.
        let (start, skip) = match after.map(backend::split_position) {
            Some((entry, Some(index))) => (entry.to_string(), index + 1),
            Some((entry, None)) => (format!("({entry}"), 0),
            None => ("-".to_string(), 0),
        };
        let reply: redis::Value = redis::cmd("XRANGE")
            .arg(self.keys().events())
            .arg(start)
            .arg("+")
            .arg("COUNT")
            .arg(count)
            .query_async(&mut self.conn())
            .await?;
        let mut events = backend::decode_events(&self.inner.name, reply)?;
        events.drain(..skip.min(events.len()));
        events.truncate(count);
        Ok(events)
    }

    /// Appends a custom event, such as a domain event `sync.completed`, to this queue's
    /// event stream, where subscribers get it among the engine's own; returns its
    /// position. `job_id` may be empty for events about no job. Custom kinds hold a dot
    /// (the engine's never do), so a reader can tell them apart.
    pub async fn publish(&self, kind: &str, job_id: &str, fields: &[(&str, String)]) -> Result<String> {
        let valid = kind.contains('.')
            && kind.len() <= 64
            && kind.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !valid {
            return Err(QueueError::InvalidOption {
                field: "kind",
                reason: format!("{kind:?}: a custom event kind is up to 64 of a-z, 0-9, '.', '_', '-' with a dot"),
            });
        }
        if let Some((name, _)) = fields.iter().find(|(name, _)| matches!(*name, "event" | "job" | "at" | "jobs")) {
            return Err(QueueError::InvalidOption { field: "fields", reason: format!("{name:?} is reserved") });
        }
        let mut call = self.simple(&scripts::PUBLISH_EVENT);
        call.arg(kind).arg(job_id);
        for (name, value) in fields {
            call.arg(*name).arg(value);
        }
        run(&call, &mut self.conn()).await
    }

    /// The events of one stream entry (empty once the capped stream dropped it).
    async fn entry_events(&self, entry: &str) -> Result<Vec<Event>> {
        let reply: redis::Value =
            redis::cmd("XRANGE").arg(self.keys().events()).arg(entry).arg(entry).query_async(&mut self.conn()).await?;
        backend::decode_events(&self.inner.name, reply)
    }

    /// The position of the newest event, to subscribe from "now".
    pub async fn last_event_position(&self) -> Result<String> {
        let reply: redis::Value = redis::cmd("XREVRANGE")
            .arg(self.keys().events())
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut self.conn())
            .await?;
        Ok(backend::decode_events(&self.inner.name, reply)?.pop().map(|e| e.position).unwrap_or_else(|| "0-0".into()))
    }

    /// A live stream of this queue's events after `after` (`None` = those added after the
    /// stream is first polled; take [`Queue::last_event_position`] first to pin "now"). It
    /// blocks on a dedicated connection, reconnects after errors, and resumes from the
    /// last position it delivered, so nothing is skipped across a reconnect (as long as
    /// the capped stream still holds it).
    pub fn subscribe(&self, after: Option<String>) -> impl Stream<Item = Result<Event>> + Send + 'static {
        let queue = self.clone();
        let block = Duration::from_secs(5);
        futures::stream::unfold(
            (queue, after, None::<crate::connection::Conn>, std::collections::VecDeque::<Event>::new()),
            move |(queue, mut position, mut conn, mut buffer)| async move {
                loop {
                    if let Some(event) = buffer.pop_front() {
                        position = Some(event.position.clone());
                        return Some((Ok(event), (queue, position, conn, buffer)));
                    }
                    if let Some((entry, Some(index))) = position.as_deref().map(backend::split_position) {
                        // Resuming inside a batch entry: deliver the rest of it first.
                        let entry = entry.to_string();
                        match queue.entry_events(&entry).await {
                            Ok(events) => {
                                buffer.extend(events.into_iter().skip(index + 1));
                                position = Some(entry);
                                continue;
                            }
                            Err(e) => {
                                tokio::time::sleep(Duration::from_millis(500)).await;
                                return Some((Err(e), (queue, position, conn, buffer)));
                            }
                        }
                    }
                    if position.is_none() {
                        match queue.last_event_position().await {
                            Ok(p) => position = Some(p),
                            Err(e) => {
                                tokio::time::sleep(Duration::from_millis(500)).await;
                                return Some((Err(e), (queue, None, conn, buffer)));
                            }
                        }
                    }
                    if conn.is_none() {
                        match queue.redis().dedicated(block).await {
                            Ok(c) => conn = Some(c),
                            Err(e) => {
                                tokio::time::sleep(Duration::from_millis(500)).await;
                                return Some((Err(e), (queue, position, None, buffer)));
                            }
                        }
                    }
                    let options = StreamReadOptions::default().block(block.as_millis() as usize).count(500);
                    let key = queue.keys().events();
                    let from = position.clone().unwrap_or_else(|| "0-0".into());
                    let read: redis::RedisResult<Option<StreamReadReply>> =
                        conn.as_mut().expect("connected").xread_options(&[&key], &[&from], &options).await;
                    match read {
                        Ok(Some(reply)) => {
                            for stream in reply.keys {
                                for entry in stream.ids {
                                    buffer.extend(stream_entry_to_events(queue.name(), entry));
                                }
                            }
                        }
                        Ok(None) => {}
                        Err(e) => {
                            tokio::time::sleep(Duration::from_millis(200)).await;
                            return Some((Err(e.into()), (queue, position, None, buffer)));
                        }
                    }
                }
            },
        )
    }

    /// Redis's current time (epoch ms) on the node holding this queue: the clock every
    /// time the engine records (created, started, finished, run-at, leases) is read from.
    /// Compare those times with this, not with the local clock.
    pub async fn redis_time(&self) -> Result<i64> {
        crate::clock::now_at(self.redis(), &self.keys().workers()).await
    }

    /// Workers of this queue that checked in within `within`, with their last check-in
    /// (epoch ms). Each claim loop of a worker checks in as `WORKER_ID.N`; see
    /// [`Queue::worker_processes`] for one entry per worker.
    pub async fn workers(&self, within: Duration) -> Result<Vec<(String, i64)>> {
        let workers = self.keys().workers();
        let since = crate::clock::now_at(self.redis(), &workers).await? - within.as_millis() as i64;
        let list: Vec<(String, i64)> = self.conn().zrangebyscore_withscores(workers, since, "+inf").await?;
        Ok(list)
    }

    /// How many workers (each with all its claim loops) checked in within `within`: the
    /// "workers online" of a dashboard.
    pub async fn worker_processes(&self, within: Duration) -> Result<usize> {
        let lanes = self.workers(within).await?;
        let workers: std::collections::HashSet<&str> =
            lanes.iter().map(|(id, _)| id.rsplit_once('.').map_or(id.as_str(), |(worker, _)| worker)).collect();
        Ok(workers.len())
    }

    pub(crate) async fn heartbeat(&self, worker_id: &str) -> Result<()> {
        crate::backend::count_round_trip();
        let _: i64 = scripts::HEARTBEAT
            .key(self.keys().workers())
            .arg(worker_id)
            .invoke_async(&mut self.conn())
            .await
            .map_err(crate::backend::script_error)?;
        Ok(())
    }

    pub(crate) async fn forget_worker(&self, worker_id: &str) -> Result<()> {
        let _: () = self.conn().zrem(self.keys().workers(), worker_id).await?;
        Ok(())
    }
}

/// An owner is 1 to [`MAX_OWNER_BYTES`] bytes of any text.
fn check_owner(owner: &str) -> Result<()> {
    if owner.is_empty() || owner.len() > MAX_OWNER_BYTES || owner.chars().any(char::is_control) {
        return Err(QueueError::InvalidOption {
            field: "owner",
            reason: "must be 1 to 200 bytes without control characters".into(),
        });
    }
    Ok(())
}

/// The enqueue script's dedup field: the key, led by byte 1 when it holds only while the
/// job is unfinished (keys hold no control characters, so this cannot be misread).
fn dedup_field(options: &crate::types::JobOptions) -> std::borrow::Cow<'_, str> {
    match (options.dedup_key.as_deref(), options.dedup_scope) {
        (None, _) => "".into(),
        (Some(key), DedupScope::Retained) => key.into(),
        (Some(key), DedupScope::Unfinished) => format!("\u{1}{key}").into(),
    }
}

/// The enqueue script's owner field: the owner, and when its index key segment differs
/// from it (characters outside the plain set), NUL and the segment.
fn owner_field(options: &crate::types::JobOptions) -> std::borrow::Cow<'_, str> {
    match options.owner.as_deref() {
        None => "".into(),
        Some(owner) => match owner_tag(owner) {
            tag if tag == owner => owner.into(),
            tag => format!("{owner}\0{tag}").into(),
        },
    }
}

fn stream_entry_to_events(queue: &str, entry: redis::streams::StreamId) -> Vec<Event> {
    let mut fields = std::collections::BTreeMap::new();
    for (name, value) in entry.map {
        if let Ok(v) = redis::from_redis_value::<String>(value) {
            fields.insert(name, v);
        }
    }
    backend::entry_events(queue, &entry.id, fields)
}
