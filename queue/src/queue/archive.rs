//! Handing finished jobs over to a history store: an archive set of jobs not yet copied,
//! which retention waits for.

use super::Queue;
use crate::error::Result;
use crate::types::{HistoryBacklog, Unarchived, Unindexed};

impl Queue {
    /// Turns copying finished jobs to a history store on or off. While on, every job that
    /// ends (completed, dead, cancelled) is also recorded in an archive set, and retention
    /// keeps it until [`Queue::mark_archived`] says it was copied: a history writer that
    /// was down for a while loses nothing. Every job added, retried or failed (to run
    /// again) is listed for the store's search index too ([`Queue::unindexed`]). Turning it
    /// off forgets both sets.
    pub async fn set_archiving(&self, on: bool) -> Result<()> {
        self.backend().set_archiving(on).await
    }

    /// Up to `limit` (1 to 10,000) finished jobs not yet copied to the history store,
    /// oldest ending first, each with its per-attempt errors and the finish time it was
    /// archived at (pass id and time back to [`Queue::mark_archived`]). A job listed here
    /// that is no longer finished (retried meanwhile) should be acknowledged too; its next
    /// ending is listed again. A job the engine cannot read is listed with its stored
    /// fields, so a history writer can keep it aside instead of stopping at it.
    pub async fn unarchived(&self, limit: usize) -> Result<Vec<Unarchived>> {
        self.backend().unarchived(None, limit).await
    }

    /// Like [`Queue::unarchived`], but only jobs after the one listed with `finished_at`
    /// and `id`, in the same order (finish time, then id): a history writer reads the
    /// next batch while the ones before are still being written and not yet
    /// acknowledged, whenever those acknowledgements land.
    ///
    /// ```no_run
    /// # async fn copy(queue: hoist_queue::Queue) -> hoist_queue::Result<()> {
    /// let first = queue.unarchived(1000).await?;
    /// if let Some(last) = first.last() {
    ///     let next = queue.unarchived_after(last.finished_at, &last.id, 1000).await?;
    ///     # let _ = next;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn unarchived_after(&self, finished_at: i64, id: &str, limit: usize) -> Result<Vec<Unarchived>> {
        self.backend().unarchived(Some((finished_at, id)), limit).await
    }

    /// Acknowledges jobs copied to the history store: pairs of job id and the
    /// `finished_at` that was copied. Returns how many were released to retention.
    pub async fn mark_archived(&self, copied: &[(String, i64)]) -> Result<u64> {
        if copied.is_empty() {
            return Ok(0);
        }
        self.backend().mark_archived(copied).await
    }

    /// Live jobs added, retried or failed since a search index last read them, at least
    /// `min_age` ago (at most 1 minute): up to `limit` (1 to 10,000) entries, oldest
    /// first, read with their errors. Index the jobs still live, then pass `listed` to
    /// [`Queue::mark_indexed`]. `seen_at` is Redis's time before the read, so an index can
    /// tell this view of a job from a record of an ending that came after it.
    ///
    /// Jobs that ended since they were listed are left out of `jobs` (their entries are
    /// in `listed`): with a `min_age` longer than most jobs live, an index reads and
    /// writes rows only for the jobs that wait or run long, not for every job.
    ///
    /// ```no_run
    /// # async fn index(queue: hoist_queue::Queue) -> hoist_queue::Result<()> {
    /// let page = queue.unindexed(1000, std::time::Duration::from_secs(1)).await?;
    /// for job in page.jobs.iter().filter(|job| !job.state.is_finished()) {
    ///     println!("index {} as seen at {}", job.id, page.seen_at);
    /// }
    /// queue.mark_indexed(&page.listed).await?;
    /// # Ok(()) }
    /// ```
    pub async fn unindexed(&self, limit: usize, min_age: std::time::Duration) -> Result<Unindexed> {
        self.backend().unindexed(limit, min_age).await
    }

    /// How many finished jobs wait to be copied and live jobs to be indexed: how far a
    /// history store is behind (both are 0 while history is off).
    ///
    /// ```no_run
    /// # async fn show(queue: hoist_queue::Queue) -> hoist_queue::Result<()> {
    /// let backlog = queue.history_backlog().await?;
    /// println!("{} finished jobs not copied yet", backlog.unarchived);
    /// # Ok(()) }
    /// ```
    pub async fn history_backlog(&self) -> Result<HistoryBacklog> {
        self.backend().history_backlog().await
    }

    /// Acknowledges the entries of [`Queue::unindexed`] (id, time listed) once indexed,
    /// all of them as read: they are the start of the queue's list, and are removed only
    /// if it still starts so (another index may have taken them). A job changed since it
    /// was read (failed, retried) was listed again at the end. Returns how many were
    /// removed.
    pub async fn mark_indexed(&self, read: &[(String, i64)]) -> Result<u64> {
        if read.is_empty() {
            return Ok(0);
        }
        self.backend().mark_indexed(read).await
    }
}
