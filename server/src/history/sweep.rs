//! The sweep of live rows: a job removed from Redis (by id, by draining its queue) leaves
//! its live row in the search index; searches skip and drop such rows as they meet them,
//! and this sweep walks every live row in turn so the ones no search meets are dropped
//! too.

use std::collections::HashMap;

use hoist_queue::{Queue, RedisConnection};
use sqlx::Row;

use super::write::forget_live;
use crate::db::Db;

/// Live rows one sweep step reads (and checks in Redis).
pub const SWEEP_STEP: i64 = 1_000;

/// Where the sweep goes on: after this (job id, queue), or from the start.
#[derive(Clone, Debug, Default)]
pub struct SweepCursor(Option<(String, String)>);

/// Reads the next [`SWEEP_STEP`] live rows after `cursor`, deletes those whose job is
/// gone from Redis, and moves the cursor on (back to the start after the last row).
/// Returns how many rows it deleted.
pub async fn sweep_live_rows(db: &Db, engine: &RedisConnection, cursor: &mut SweepCursor) -> anyhow::Result<u64> {
    // From the start, every (id, queue) is after ("", "").
    let (after_id, after_queue) = cursor.0.clone().unwrap_or_default();
    let rows = sqlx::query(
        "SELECT queue, job_id FROM job_history WHERE finished_at IS NULL \
         AND (job_id > $1 OR (job_id = $1 AND queue > $2)) ORDER BY job_id, queue LIMIT $3",
    )
    .bind(after_id)
    .bind(after_queue)
    .bind(SWEEP_STEP)
    .fetch_all(&db.pool)
    .await?;
    let mut by_queue: HashMap<String, Vec<String>> = HashMap::new();
    for row in &rows {
        let (queue, id): (String, String) = (row.try_get("queue")?, row.try_get("job_id")?);
        cursor.0 = Some((id.clone(), queue.clone()));
        by_queue.entry(queue).or_default().push(id);
    }
    if (rows.len() as i64) < SWEEP_STEP {
        cursor.0 = None;
    }
    let mut deleted = 0;
    for (name, ids) in by_queue {
        let gone: Vec<String> = match Queue::new(engine, &name) {
            Ok(queue) => {
                let found: std::collections::HashSet<String> =
                    queue.load_jobs_with_errors(&ids).await?.into_iter().map(|job| job.id).collect();
                ids.into_iter().filter(|id| !found.contains(id)).collect()
            }
            // A queue name the engine refuses holds no job.
            Err(_) => ids,
        };
        deleted += forget_live(db, &name, &gone).await?;
    }
    Ok(deleted)
}
