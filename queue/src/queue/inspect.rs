//! Reading jobs: one, a page of a state, an owner's jobs, counts, statistics, workers.

use std::time::Duration;

use super::{Queue, check_owner};
use crate::error::Result;
use crate::types::{Counts, Job, JobPage, JobState, MinuteStats, QueueLimits, QueueTotals};

impl Queue {
    /// The job with its errors and log lines, or `None`.
    pub async fn get_job(&self, id: &str) -> Result<Option<Job>> {
        if !crate::id::is_job_id(id) {
            return Ok(None);
        }
        self.backend().job(id).await
    }

    /// Jobs in one state, newest first (by the state's own order), `limit` from `offset`.
    /// Reads only the page asked for: no scans.
    pub async fn list_jobs(&self, state: JobState, offset: u64, limit: u64) -> Result<JobPage> {
        let limit = limit.clamp(1, 1000);
        // Any offset past the end reads as the end (a huge one must not wrap negative,
        // which Redis would count from the end).
        let offset = offset.min(isize::MAX as u64 / 2);
        let (ids, total) = self.backend().state_page(state, offset, limit).await?;
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
        let limit = limit.clamp(1, 1000);
        // Any cursor past the end reads as the end (a huge one must not wrap negative,
        // which Redis would count from the end).
        let cursor = cursor.min(isize::MAX as u64 / 2);
        let wanted = |state: JobState| states.is_empty() || states.contains(&state);
        if states.is_empty() || JobState::ALL.iter().all(|s| states.contains(s)) {
            // Every state: the index is the answer, no state to read.
            let (ids, total) = self.backend().owner_page(owner, cursor, limit).await?;
            let jobs = self.load_jobs(&ids).await?;
            let next = (cursor + limit < total).then_some(cursor + limit);
            return Ok(JobPage { jobs, next, total });
        }
        let (ids, _) = self.backend().owner_page(owner, 0, Self::MAX_OWNED_SCAN).await?;
        // Offsets (into the index) of the owner's jobs in the states asked for.
        let mut matching: Vec<usize> = Vec::new();
        for (chunk_index, chunk) in ids.chunks(1000).enumerate() {
            let read = self.backend().job_states(chunk).await?;
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
        self.backend().owner_count(owner).await
    }

    /// Loads several jobs in one round trip, skipping ids that no longer exist.
    pub async fn load_jobs(&self, ids: &[String]) -> Result<Vec<Job>> {
        self.backend().jobs(&crate::id::job_ids(ids)).await
    }

    /// Like [`Queue::load_jobs`], with each job's per-attempt errors (one more round trip
    /// when some of them failed an attempt); a job the engine cannot read is left out.
    pub async fn load_jobs_with_errors(&self, ids: &[String]) -> Result<Vec<Job>> {
        let listed: Vec<(String, i64)> = crate::id::job_ids(ids).into_iter().map(|id| (id.clone(), 0)).collect();
        Ok(self.backend().read_listed(&listed).await?.into_iter().filter_map(|u| u.job.ok()).collect())
    }

    /// Jobs per state and the paused flag, in one round trip.
    pub async fn counts(&self) -> Result<Counts> {
        self.backend().counts().await
    }

    /// When the longest-running active job started (epoch ms, Redis's clock: compare with
    /// [`Queue::redis_time`]), for health warnings such as "oldest active > 5 min", or
    /// `None` when nothing runs.
    pub async fn oldest_active_started_at(&self) -> Result<Option<i64>> {
        // Renewed leases do not keep start order, so read the active set; it is as small
        // as the workers' total concurrency (capped here at 1,000).
        let ids = self.backend().active_ids(1000).await?;
        let jobs = self.load_jobs(&ids).await?;
        Ok(jobs.iter().filter_map(|j| j.started_at).min())
    }

    /// The limits set with [`Queue::set_limits`].
    pub async fn limits(&self) -> Result<QueueLimits> {
        self.backend().limits().await
    }

    pub async fn is_paused(&self) -> Result<bool> {
        self.backend().is_paused().await
    }

    /// Samples how many jobs wait to run into this minute's statistics
    /// ([`MinuteStats::waiting`]), for the backlog over time; the first sample of a minute
    /// counts, so any number of processes may call it (workers do, once a minute). Returns
    /// the count recorded, or `None` when the minute had one.
    pub async fn sample_backlog(&self) -> Result<Option<u64>> {
        let recorded = self.backend().sample_backlog().await?;
        Ok(u64::try_from(recorded).ok())
    }

    /// Per-minute statistics for the last `minutes` minutes (at most 14 days), the current
    /// one last, by Redis's clock (the one the statistics are kept by).
    pub async fn recent_stats(&self, minutes: u32) -> Result<Vec<MinuteStats>> {
        let minute = self.redis_time().await? / 60_000;
        let span = i64::from(minutes.clamp(1, 14 * 24 * 60));
        self.stats(minute - span + 1, minute).await
    }

    /// The queue's running totals (completed, failed, retried, dead, run time) since it
    /// was made, across every process.
    ///
    /// ```no_run
    /// # async fn example(queue: hoist_queue::Queue) -> hoist_queue::Result<()> {
    /// let totals = queue.totals().await?;
    /// println!("{} completed, {} dead", totals.completed, totals.dead);
    /// # Ok(()) }
    /// ```
    pub async fn totals(&self) -> Result<QueueTotals> {
        self.backend().totals().await
    }

    /// Per-minute statistics for the minutes `from..=to` (minutes since the epoch; at
    /// most the last 14 days of the range).
    pub async fn stats(&self, from_minute: i64, to_minute: i64) -> Result<Vec<MinuteStats>> {
        // Minutes from 1970 to 9999: beyond them no statistics exist, and the arithmetic
        // below cannot overflow.
        const LAST_MINUTE: i64 = 253_402_300_799_999 / 60_000;
        let (from_minute, to_minute) = (from_minute.clamp(0, LAST_MINUTE), to_minute.clamp(0, LAST_MINUTE));
        if to_minute < from_minute {
            return Ok(vec![]);
        }
        let span = (to_minute - from_minute).min(14 * 24 * 60);
        self.backend().stats(to_minute - span, to_minute).await
    }

    /// Workers of this queue that checked in within `within` (by Redis's clock), with
    /// their last check-in (epoch ms). Each claim loop of a worker checks in as
    /// `WORKER_ID.N`; see [`Queue::worker_processes`] for one entry per worker.
    pub async fn workers(&self, within: Duration) -> Result<Vec<(String, i64)>> {
        let since = self.redis_time().await? - within.as_millis() as i64;
        self.backend().workers_since(since).await
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
        self.backend().heartbeat(worker_id).await
    }

    pub(crate) async fn forget_worker(&self, worker_id: &str) -> Result<()> {
        self.backend().forget_worker(worker_id).await
    }
}
