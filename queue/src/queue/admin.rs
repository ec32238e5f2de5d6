//! An operator's actions on a queue: pause, limits, drain and clean, retry, promote,
//! remove, cancel, obliterate, and recovering stalled jobs.

use std::time::Duration;

use super::{CancelOutcome, Queue};
use crate::backend::{Selection, from_code};
use crate::error::{QueueError, Result};
use crate::types::{JobState, MAX_OPTION_DURATION, QueueLimits};

/// The highest cap on a queue's active jobs [`Queue::set_limits`] accepts.
pub const MAX_CONCURRENCY_LIMIT: u32 = 100_000;
/// The most job starts per window a queue's rate limit may allow.
pub const MAX_RATE_LIMIT: u32 = 1_000_000;
/// The highest per-process concurrency [`Queue::set_limits`] accepts.
pub const MAX_PROCESS_CONCURRENCY: u32 = 10_000;

/// The largest age `clean` passes to Redis (about 31,700 years): anything older is
/// "older than anything", and the script's arithmetic stays exact.
const MAX_CLEAN_AGE_MS: u64 = 1_000_000_000_000_000;

/// Jobs one call of a batch action (clean, retry all, promote all) takes: each call is
/// one script run, kept short.
const BATCH: u64 = 500;

impl Queue {
    /// Workers stop claiming from this queue; running jobs finish. Returns false if it
    /// was already paused.
    pub async fn pause(&self) -> Result<bool> {
        self.backend().pause().await
    }

    /// Returns false if it was not paused.
    pub async fn resume(&self) -> Result<bool> {
        self.backend().resume().await
    }

    /// Sets the limits all workers of this queue obey (global concurrency, job starts per
    /// window, each process's concurrency), and wakes idle workers so a raised limit takes
    /// effect at once.
    ///
    /// ```no_run
    /// # async fn demo(queue: hoist_queue::Queue) -> hoist_queue::Result<()> {
    /// use hoist_queue::QueueLimits;
    /// // At most 20 running across every process, and 4 in any one of them.
    /// queue.set_limits(&QueueLimits { concurrency: Some(20), process_concurrency: Some(4), ..Default::default() }).await?;
    /// # Ok(()) }
    /// ```
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
        if limits.process_concurrency.is_some_and(|n| !(1..=MAX_PROCESS_CONCURRENCY).contains(&n)) {
            return Err(invalid("process_concurrency", "must be 1 to 10,000"));
        }
        if limits.group_concurrency.is_some_and(|n| !(1..=MAX_CONCURRENCY_LIMIT).contains(&n)) {
            return Err(invalid("group_concurrency", "must be 1 to 100,000"));
        }
        self.backend().set_limits(limits).await
    }

    /// Takes one slot of a sliding-window limit on `key` (e.g. "at most 10 per owner per
    /// hour"), or says how long until one frees up. A handler over the limit returns
    /// `JobError::defer(retry_after)` to run again then without spending an attempt.
    pub async fn take_key_slot(&self, key: &str, max: u32, per: Duration, member: &str) -> Result<()> {
        self.backend().take_slot(key, max, per, member).await
    }

    /// Removes every waiting job (and delayed ones when asked). Returns how many.
    pub async fn drain(&self, include_delayed: bool) -> Result<u64> {
        let mut removed = self.clean_all(JobState::Waiting, 0).await?;
        if include_delayed {
            removed += self.clean_all(JobState::Delayed, 0).await?;
        }
        Ok(removed)
    }

    /// Removes jobs of a finished, delayed or retrying state that entered it more than
    /// `older_than` ago (delayed and retrying jobs by their creation time), and waiting
    /// jobs all at once (`older_than` zero). Active jobs are never cleaned, and finished
    /// jobs a history store has not copied yet stay until it has.
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
        let mut total = 0;
        let mut start = 0i64;
        loop {
            let (removed, next) = self.backend().clean(state, age_ms, BATCH, start).await?;
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
        self.backend().retry(from, Selection::Ids(&ids)).await
    }

    /// Retries one job, whatever finished state it is in.
    pub async fn retry_job(&self, id: &str) -> Result<()> {
        let job = self.get_job(id).await?.ok_or_else(|| QueueError::NotFound { id: id.into() })?;
        if !matches!(job.state, JobState::Dead | JobState::Cancelled | JobState::Expired | JobState::Retrying) {
            return Err(QueueError::WrongState { id: id.into(), state: job.state.to_string(), action: "retry" });
        }
        self.retry(job.state, &[id.to_string()]).await?;
        Ok(())
    }

    /// Retries a dead or cancelled job with `payload` in place of the one it had (fix the
    /// input that made it fail, then run it again), with fresh attempts; its name,
    /// options, owner and id stay. The payload has the same size bound as an enqueue's.
    ///
    /// ```no_run
    /// # async fn example(queue: hoist_queue::Queue) -> hoist_queue::Result<()> {
    /// queue.retry_with_payload("01J9Z3V6G6Y3W8Q0M2B4C5D6E7", &serde_json::json!({ "account": 42 })).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// Fails with `NotFound` for no such job and `WrongState` unless it is dead or
    /// cancelled (a job that runs or waits is not edited under its worker).
    pub async fn retry_with_payload(&self, id: &str, payload: &serde_json::Value) -> Result<()> {
        let job = self.get_job(id).await?.ok_or_else(|| QueueError::NotFound { id: id.into() })?;
        if !matches!(job.state, JobState::Dead | JobState::Cancelled) {
            return Err(QueueError::WrongState {
                id: id.into(),
                state: job.state.to_string(),
                action: "retry with a new payload",
            });
        }
        let payload = self.encode_payload(payload)?;
        let moved = self.backend().retry_edited(job.state, id, &payload).await?;
        if moved == 1 {
            Ok(())
        } else if moved < 0 {
            Err(QueueError::WrongState {
                id: id.into(),
                state: "stored in an older format; enqueue it again".into(),
                action: "retry with a new payload",
            })
        } else {
            // It moved on between the read and the script (retried, removed).
            match self.get_job(id).await? {
                Some(job) => Err(QueueError::WrongState {
                    id: id.into(),
                    state: job.state.to_string(),
                    action: "retry with a new payload",
                }),
                None => Err(QueueError::NotFound { id: id.into() }),
            }
        }
    }

    /// Moves every job of `from` (dead, cancelled or retrying) back to waiting.
    pub async fn retry_all(&self, from: JobState) -> Result<u64> {
        let mut total = 0;
        loop {
            let moved = self.backend().retry(from, Selection::All { limit: BATCH }).await?;
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
        let owned = id.to_string();
        let moved = self.backend().promote(Selection::Ids(&[&owned])).await?;
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
            let moved = self.backend().promote(Selection::All { limit: BATCH }).await?;
            total += moved;
            if moved < BATCH {
                return Ok(total);
            }
        }
    }

    /// Deletes a job that is not active.
    pub async fn remove(&self, id: &str) -> Result<()> {
        if !crate::id::is_job_id(id) {
            return Err(QueueError::NotFound { id: id.into() });
        }
        let owned = id.to_string();
        let (removed, refused) = self.backend().remove(None, &[&owned]).await?;
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
        let (removed, _refused) = self.backend().remove(state, &ids).await?;
        Ok(removed)
    }

    /// Cancels a job: one that has not started is cancelled at once; a running one has its
    /// handler's cancellation token signalled.
    pub async fn cancel(&self, id: &str) -> Result<CancelOutcome> {
        if !crate::id::is_job_id(id) {
            return Err(QueueError::NotFound { id: id.into() });
        }
        match self.backend().cancel(id).await? {
            1 => Ok(CancelOutcome::Cancelled),
            2 => Ok(CancelOutcome::Requested),
            -3 => {
                let state = self.get_job(id).await?.map(|j| j.state.to_string()).unwrap_or_default();
                Err(QueueError::WrongState { id: id.into(), state, action: "cancel" })
            }
            other => Err(from_code(other, id, "cancel")
                .unwrap_or_else(|| QueueError::Protocol(format!("cancel returned {other}")))),
        }
    }

    /// Deletes the queue's jobs and keys. Refuses while jobs are active unless `force`.
    pub async fn obliterate(&self, force: bool) -> Result<u64> {
        let mut total = 0;
        loop {
            let deleted = self.backend().obliterate(1000, force).await?;
            if deleted == -4 {
                return Err(QueueError::ActiveJobs);
            }
            total += deleted as u64;
            if deleted == 0 {
                break;
            }
        }
        self.backend().unregister_queue().await?;
        self.inner.registered.store(false, std::sync::atomic::Ordering::Relaxed);
        Ok(total)
    }

    /// Returns jobs whose lease expired to waiting (or dead after too many stalls). Any
    /// process may call it; workers do so periodically. Returns (recovered, dead).
    pub async fn recover_stalled(&self) -> Result<(u64, u64)> {
        self.backend().recover_stalled(1000).await
    }
}
