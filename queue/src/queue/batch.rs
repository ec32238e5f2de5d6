//! Batches: a countdown over a group of jobs that fan out from one (a sync of every
//! connection of an organisation), so the last one to finish knows it is the last.

use std::time::Duration;

use super::Queue;
use crate::error::{QueueError, Result};

/// Longest batch id: batch ids become part of a key name.
pub const MAX_BATCH_ID_BYTES: usize = 128;

/// Longest a batch's countdown is kept.
const MAX_BATCH_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

impl Queue {
    /// Starts the countdown of batch `batch` at `size` jobs, kept for `ttl` (at most 30
    /// days). A batch that already exists is left as it is (a retried fan-out does not
    /// reset it); returns true when this call started it.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # async fn demo(queue: hoist_queue::Queue) -> Result<(), hoist_queue::QueueError> {
    /// queue.open_batch("import-42", 3, Duration::from_secs(86_400)).await?;
    /// // ... each of the three jobs, when done:
    /// if queue.count_down_batch("import-42").await? == 0 {
    ///     queue.publish("batch.completed", "", &[("batch", "import-42".into())]).await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn open_batch(&self, batch: &str, size: u64, ttl: Duration) -> Result<bool> {
        check_batch_id(batch)?;
        if ttl.is_zero() || ttl > MAX_BATCH_TTL {
            return Err(QueueError::InvalidOption { field: "ttl", reason: "must be 1 ms to 30 days".into() });
        }
        self.backend().open_batch(batch, size, ttl).await
    }

    /// Counts one job of `batch` as done and returns how many are left: 0 for the last
    /// one, negative when the batch was never opened or its countdown expired.
    pub async fn count_down_batch(&self, batch: &str) -> Result<i64> {
        check_batch_id(batch)?;
        self.backend().count_down_batch(batch).await
    }
}

/// A batch id is 1 to [`MAX_BATCH_ID_BYTES`] bytes without control characters.
fn check_batch_id(batch: &str) -> Result<()> {
    super::check_label("batch", batch, MAX_BATCH_ID_BYTES)
}
