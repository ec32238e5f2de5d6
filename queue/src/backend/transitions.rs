//! The scripts that move jobs between states as they are added and worked: enqueue,
//! claim, complete, fail, release, finish a cancelled job, renew leases, recover stalled
//! jobs, report progress; and the worker's own bookkeeping (check-ins, wake-ups,
//! cancellation signals).

use std::time::Duration;

use futures::{Stream, StreamExt};

use super::keys::key_segment;
use super::record::{decode_claimed, encode_opts, encode_spec_body};
use super::{Backend, array, int, scripts, strings};
use crate::error::{QueueError, Result};
use crate::queue::Retention;
use crate::types::{DedupScope, Enqueued, Job, JobOptions, NewJob};

/// What a worker asks for: up to `count` jobs, each held for `lease` from now by Redis's
/// clock, under the worker's token.
pub(crate) struct Claim<'a> {
    pub count: usize,
    pub lease: Duration,
    pub worker: &'a str,
}

/// Jobs claimed, each with its lease token, and how long the worker may wait before
/// looking again without being woken (a delayed job or the rate limit).
pub(crate) struct Claimed {
    pub jobs: Vec<(Job, String)>,
    pub due_in: Option<Duration>,
}

/// A finished attempt to record as completed.
pub(crate) struct Completion<'a> {
    pub id: &'a str,
    pub lease: &'a str,
    pub result: String,
    /// How long the handler ran (the completed event's `duration_ms`).
    pub run_ms: u64,
    /// How long it waited to start once it could run.
    pub wait_ms: u64,
}

/// A failed attempt to record.
pub(crate) struct Failure<'a> {
    pub id: &'a str,
    pub lease: &'a str,
    /// The error record as JSON, `at` first after `attempt` (the script stamps it).
    pub record: String,
    pub permanent: bool,
    /// A uniform sample in 0..=1 for the backoff's jitter.
    pub jitter: f64,
}

impl Backend {
    /// Adds jobs (already validated; `payloads` are their payloads as JSON) in one atomic
    /// call: all or, when a keyed rate limit is full, none.
    pub(crate) async fn enqueue(&self, jobs: &[NewJob], payloads: &[String]) -> Result<Vec<Enqueued>> {
        let mut call = self.script(&scripts::ENQUEUE_JOBS);
        call.arg(jobs.len());
        let mut ids = Vec::with_capacity(jobs.len());
        for (job, payload) in jobs.iter().zip(payloads) {
            let o = &job.options;
            let id = crate::id::new_job_id();
            call.arg(&id).arg(encode_spec_body(job, payload)).arg(encode_opts(o));
            // A group rides in the priority field; without one the number goes as it is.
            match o.group.as_deref() {
                Some(group) => call.arg(format!("{};{}", o.priority, key_segment(group))),
                None => call.arg(o.priority),
            };
            call.arg(delay_field(o)).arg(dedup_field(o)).arg(&job.name).arg(owner_field(o));
            match &o.rate_limit {
                Some(limit) => call.arg(&limit.key).arg(limit.max).arg(limit.per.as_millis() as u64),
                None => call.arg("").arg(0).arg(0),
            };
            ids.push(id);
        }
        let reply: redis::Value = self.eval("enqueue", &call).await?;
        let items = array(reply)?;
        if let [redis::Value::Int(-5), retry_after] = items.as_slice() {
            let retry_after = int(retry_after).unwrap_or(1).max(1) as u64;
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
                existing => Enqueued { id: super::text(existing).unwrap_or_default(), duplicate: true },
            })
            .collect())
    }

    /// Claims jobs: waiting -> active.
    pub(crate) async fn claim(&self, claim: &Claim<'_>) -> Result<Claimed> {
        let mut call = self.script(&scripts::CLAIM_JOBS);
        call.arg(claim.count).arg(claim.lease.as_millis() as u64).arg(claim.worker);
        let reply: redis::Value = self.eval("claim", &call).await?;
        self.decode_claim(array(reply)?, claim.worker)
    }

    /// Records completions and claims the next jobs in the same round trip. Returns a
    /// code per completion (1 done, -1 no such job, -2 lease lost) and the claim.
    pub(crate) async fn complete(
        &self,
        keep: &Retention,
        done: &[Completion<'_>],
        claim: &Claim<'_>,
    ) -> Result<(Vec<i64>, Claimed)> {
        let (keep_count, keep_age) = keep.args();
        let mut call = self.script(&scripts::COMPLETE_JOBS);
        call.arg(keep_count)
            .arg(keep_age)
            .arg(claim.count)
            .arg(claim.lease.as_millis() as u64)
            .arg(claim.worker)
            .arg(done.len())
            .arg(done.iter().map(|d| d.run_ms).sum::<u64>())
            .arg(timing_buckets(done));
        for d in done {
            call.arg(d.id).arg(d.lease).arg(&d.result).arg(d.run_ms);
        }
        let reply: redis::Value = self.eval("complete", &call).await?;
        let mut parts = array(reply)?.into_iter();
        let codes = parts.next().map(array).transpose()?.unwrap_or_default().iter().filter_map(int).collect();
        let claimed = self.decode_claim(parts.next().map(array).transpose()?.unwrap_or_default(), claim.worker)?;
        Ok((codes, claimed))
    }

    /// Records failed attempts: each retries or goes to the dead-letter queue by its
    /// policy. Returns a code per failure (1 retrying, 2 dead, -1 no such job, -2 lease
    /// lost).
    pub(crate) async fn fail(&self, keep: &Retention, failures: &[Failure<'_>]) -> Result<Vec<i64>> {
        let (keep_count, keep_age) = keep.args();
        let mut call = self.script(&scripts::FAIL_JOBS);
        call.arg(keep_count).arg(keep_age).arg(failures.len());
        for f in failures {
            let kind = if f.permanent { "permanent" } else { "retryable" };
            call.arg(f.id).arg(f.lease).arg(&f.record).arg(kind).arg(f.jitter);
        }
        self.eval("fail", &call).await
    }

    /// Hands a job back without spending its attempt, to run again `after` from now.
    pub(crate) async fn release(&self, id: &str, lease: &str, after: Duration) -> Result<i64> {
        let mut call = self.script(&scripts::RELEASE_JOB);
        call.arg(id).arg(lease).arg(after.as_millis() as u64);
        self.eval("release", &call).await
    }

    /// Ends a job whose handler stopped on a cancellation request.
    pub(crate) async fn finish_cancelled(&self, id: &str, lease: &str) -> Result<i64> {
        let mut call = self.script(&scripts::FINISH_CANCELLED_JOB);
        call.arg(id).arg(lease);
        self.eval("finish_cancelled", &call).await
    }

    /// Renews the leases `held` (job id, lease token) for `lease` from now. Returns the
    /// leases lost (id, token) and the ids asked to cancel.
    pub(crate) async fn extend_leases(
        &self,
        lease: Duration,
        held: &[(String, String)],
    ) -> Result<(Vec<(String, String)>, Vec<String>)> {
        let mut call = self.script(&scripts::EXTEND_LEASES);
        call.arg(lease.as_millis() as u64);
        for (id, token) in held {
            call.arg(id).arg(token);
        }
        let reply: redis::Value = self.eval("extend_leases", &call).await?;
        let mut parts = array(reply)?.into_iter();
        let lost = parts.next().map(strings).transpose()?.unwrap_or_default();
        let cancel = parts.next().map(strings).transpose()?.unwrap_or_default();
        let lost = lost.chunks(2).filter_map(|pair| Some((pair.first()?.clone(), pair.get(1)?.clone()))).collect();
        Ok((lost, cancel))
    }

    /// Recovers up to `limit` jobs whose lease lapsed. Returns (recovered, dead).
    pub(crate) async fn recover_stalled(&self, limit: u64) -> Result<(u64, u64)> {
        let mut call = self.script(&scripts::RECOVER_STALLED_JOBS);
        call.arg(limit);
        self.eval("recover_stalled", &call).await
    }

    /// Stores an active job's progress and log lines (only its lease owner may).
    pub(crate) async fn progress(
        &self,
        id: &str,
        lease: &str,
        progress: Option<&str>,
        max_lines: u32,
        lines: &[String],
    ) -> Result<i64> {
        let mut call = self.script(&scripts::REPORT_PROGRESS);
        call.arg(id).arg(lease).arg(progress.unwrap_or_default()).arg(max_lines);
        for line in lines {
            call.arg(line);
        }
        self.eval("progress", &call).await
    }

    /// Takes a slot of a sliding-window limit on `key`, or says when one frees up.
    pub(crate) async fn take_slot(&self, key: &str, max: u32, per: Duration, member: &str) -> Result<()> {
        let mut call = self.script(&scripts::TAKE_RATE_SLOT);
        call.arg(key).arg(max).arg(per.as_millis() as u64).arg(member);
        let (code, retry_after): (i64, u64) = self.eval("take_slot", &call).await?;
        if code == -5 {
            return Err(QueueError::RateLimited { retry_after: Duration::from_millis(retry_after.max(1)) });
        }
        Ok(())
    }

    /// A worker checks in, by Redis's clock.
    pub(crate) async fn heartbeat(&self, worker: &str) -> Result<()> {
        let mut call = scripts::RECORD_HEARTBEAT.prepare_invoke();
        call.key(self.keys.workers()).arg(worker);
        let _: i64 = self.eval("heartbeat", &call).await?;
        Ok(())
    }

    pub(crate) async fn forget_worker(&self, worker: &str) -> Result<()> {
        let mut cmd = redis::cmd("ZREM");
        cmd.arg(self.keys.workers()).arg(worker);
        let _: i64 = self.query("forget_worker", &cmd).await?;
        Ok(())
    }

    /// Parks on the queue's wake-up list for up to `block`, on a connection of the caller's
    /// own (it blocks). True when a wake-up token came.
    pub(crate) async fn wait_for_wakeup(
        &self,
        conn: &mut crate::connection::Conn,
        block: Duration,
    ) -> redis::RedisResult<bool> {
        super::count_round_trip();
        let mut cmd = redis::cmd("BLPOP");
        cmd.arg(self.keys.marker()).arg(block.as_secs_f64());
        let popped: Option<(String, String)> = cmd.query_async(conn).await?;
        Ok(popped.is_some())
    }

    /// What workers of this queue are told as it happens (Pub/Sub; the stream ends when the
    /// connection does): cancellations of active jobs, and changes of the queue's limits.
    pub(crate) async fn signals(&self) -> Result<impl Stream<Item = WorkerSignal> + use<>> {
        let mut pubsub = self.redis.pubsub_client().await?.get_async_pubsub().await?;
        let limits = self.keys.limits_channel();
        pubsub.subscribe(&[self.keys.cancel_channel(), limits.clone()]).await?;
        Ok(pubsub.into_on_message().map(move |message| {
            if message.get_channel_name() == limits {
                WorkerSignal::LimitsChanged
            } else {
                WorkerSignal::Cancel(message.get_payload::<String>().unwrap_or_default())
            }
        }))
    }

    /// The claim part of a reply: `[due in (ms) or -1, Redis's time, job fields...]`.
    fn decode_claim(&self, claim: Vec<redis::Value>, worker: &str) -> Result<Claimed> {
        let mut items = claim.into_iter();
        let due_in = items.next().as_ref().and_then(int).filter(|d| *d >= 0).map(|ms| Duration::from_millis(ms as u64));
        let now = items.next().as_ref().and_then(int).unwrap_or_default();
        let jobs = items.map(|item| decode_claimed(&self.queue, item, now, worker)).collect::<Result<Vec<_>>>()?;
        Ok(Claimed { jobs, due_in })
    }
}

/// The enqueue script's delay field: the delay in ms, or `delay;within` when the job must
/// start within `within` ms (a deadline rides in a field every job has, so jobs without
/// one cost nothing more).
fn delay_field(options: &crate::types::JobOptions) -> String {
    let delay = options.delay.map_or(0, |d| d.as_millis() as u64);
    match options.expires_in {
        Some(within) => format!("{delay};{}", within.as_millis()),
        None => delay.to_string(),
    }
}

/// A message to the workers of a queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum WorkerSignal {
    /// Stop the active job with this id.
    Cancel(String),
    /// The queue's limits changed: read them again.
    LimitsChanged,
}

/// The enqueue script's dedup field: the key, led by byte 1 when it holds only while the
/// job is unfinished (keys hold no control characters, so this cannot be misread).
fn dedup_field(options: &JobOptions) -> std::borrow::Cow<'_, str> {
    match (options.dedup_key.as_deref(), options.dedup_scope) {
        (None, _) => "".into(),
        (Some(key), DedupScope::Retained) => key.into(),
        (Some(key), DedupScope::Unfinished) => format!("\u{1}{key}").into(),
    }
}

/// The enqueue script's owner field: the owner, and when its index key segment differs
/// from it (characters outside the plain set), NUL and the segment.
fn owner_field(options: &JobOptions) -> std::borrow::Cow<'_, str> {
    match options.owner.as_deref() {
        None => "".into(),
        Some(owner) => match key_segment(owner) {
            tag if tag == owner => owner.into(),
            tag => format!("{owner}\0{tag}").into(),
        },
    }
}

/// The batch's run and wait times by bucket, as the complete script takes them.
fn timing_buckets(done: &[Completion<'_>]) -> String {
    let (mut run, mut wait) = (crate::TimingHistogram::default(), crate::TimingHistogram::default());
    for d in done {
        run.record(d.run_ms);
        wait.record(d.wait_ms);
    }
    let mut out = String::new();
    run.encode('r', &mut out);
    wait.encode('w', &mut out);
    out
}
