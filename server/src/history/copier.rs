//! The history copier: moves every queue's finished jobs from the engine's archive set
//! to SQL, fast enough that Redis holds no more finished jobs with history on than
//! without it.
//!
//! Per queue, the next batch is read from Redis while the last is written to SQL, and
//! queues are copied side by side (SQLite takes one writer at a time, PostgreSQL a few).
//! A batch is acknowledged to the engine only after its rows are written, so a copier
//! killed at any point loses nothing; rows are upserts, so a batch written twice (a
//! copier killed between writing and acknowledging) leaves one row per job.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use hoist_queue::{CancellationToken, Queue, RedisConnection, Unarchived};
use tokio::sync::Semaphore;

use super::quarantine::{QuarantineEntry, quarantine_entry};
use super::sweep::{SweepCursor, sweep_live_rows};
use super::write::{index_live_or_skip, record_or_quarantine};
use super::{Archiving, HistoryConfig, HistoryRecord, prune};
use crate::db::{Db, DbKind, now_ms};

/// Jobs copied per queue and batch.
pub const BATCH: usize = 2_000;

/// Queues copied at once.
const QUEUES_AT_ONCE: usize = 8;

/// How long a live job waits before its search row is written: most jobs end sooner,
/// and their records are then the only rows written for them (each job indexed live
/// costs Redis a read and SQL a row that its record replaces).
pub const INDEX_MIN_AGE: Duration = Duration::from_secs(1);

/// Batches of live jobs one pass indexes per queue before it copies finished jobs
/// again: finished jobs hold more of Redis's memory, so they go first.
const INDEX_BATCHES_PER_PASS: usize = 5;

/// After a pass that found some jobs, the copier waits this long so the next batch is
/// worth a statement; Redis holds at most about this much of the finish rate extra.
const SHORT_PAUSE: Duration = Duration::from_millis(20);

/// How often the copier sweeps a step of live rows ([`super::sweep`]): 1,000 rows
/// every 5 s walks a million in under 1.5 hours.
const SWEEP_EVERY_MS: i64 = 5_000;

/// After a pass that found nothing.
const IDLE_PAUSE: Duration = Duration::from_millis(250);

/// Copies up to `limit` finished jobs of one queue and releases them to retention.
/// Returns how many jobs the batch held (records written or quarantined, plus jobs no
/// longer finished).
///
/// A record the database refuses for what it holds (see [`super::is_data_error`]) must
/// not block the queue's copy for good: the batch is split until the refused records
/// are found, the others are written, and each refused one is kept in the quarantine
/// table ([`super::quarantine`]) and released like the copied ones. Any other failure
/// (the database unreachable, the pool closed) releases nothing, so the whole batch is
/// copied again.
pub async fn copy_batch(db: &Db, queue: &Queue, limit: usize) -> anyhow::Result<usize> {
    let pending = queue.unarchived(limit).await?;
    let n = pending.len();
    write_batch(db, queue, pending).await?;
    Ok(n)
}

/// Writes one batch read from the archive set, then acknowledges it.
async fn write_batch(db: &Db, queue: &Queue, pending: Vec<Unarchived>) -> anyhow::Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    let copied: Vec<(String, i64)> = pending.iter().map(|p| (p.id.clone(), p.finished_at)).collect();
    let mut records = Vec::with_capacity(pending.len());
    for unarchived in pending {
        match unarchived.job {
            Ok(job) => records.extend(HistoryRecord::from_job(job)),
            // A job the engine cannot read (damaged, or written by hand) is kept aside
            // as stored.
            Err(stored) => {
                let entry = QuarantineEntry {
                    queue: queue.name(),
                    job_id: &unarchived.id,
                    name: stored.fields.get("name").map_or("", String::as_str),
                    reason: &format!("the engine cannot read this job: {}", stored.reason),
                    record: serde_json::to_string(&stored).map_err(|e| sqlx::Error::Encode(Box::new(e)))?,
                    finished_at: unarchived.finished_at,
                };
                quarantine_entry(db, &entry).await?;
            }
        }
    }
    record_or_quarantine(db, &records).await?;
    queue.mark_archived(&copied).await?;
    Ok(())
}

/// Copies a queue's backlog until a batch comes back short. Up to `depth` batches are
/// written at once (each waits for a slot of `writers`) while the next is read. Returns
/// how many jobs it copied.
///
/// Batches being written are not acknowledged yet, so they are still in the archive
/// set: each read starts after the last job read, in the set's order, whenever the
/// acknowledgements land. A job that ends again meanwhile moves to the end of that order
/// (and is read again there), and anything a pass missed is read by the next pass, which
/// starts over from the first.
async fn drain_queue(
    db: &Db,
    queue: &Queue,
    limit: usize,
    depth: usize,
    writers: &Arc<Semaphore>,
) -> anyhow::Result<usize> {
    let mut writing = tokio::task::JoinSet::new();
    let mut copied = 0;
    let mut last: Option<(i64, String)> = None;
    let mut more = true;
    let mut failure = None;
    loop {
        while more && failure.is_none() && writing.len() < depth {
            let read = match &last {
                None => queue.unarchived(limit).await,
                Some((at, id)) => queue.unarchived_after(*at, id, limit).await,
            };
            let batch = match read {
                Ok(batch) => batch,
                Err(e) => {
                    failure = Some(e.into());
                    break;
                }
            };
            more = batch.len() == limit;
            let Some(tail) = batch.last() else { break };
            last = Some((tail.finished_at, tail.id.clone()));
            let n = batch.len();
            let (db, queue, writers) = (db.clone(), queue.clone(), writers.clone());
            writing.spawn(async move {
                let _slot = writers.acquire().await?;
                write_batch(&db, &queue, batch).await.map(|()| n)
            });
        }
        match writing.join_next().await {
            Some(Ok(Ok(n))) => copied += n,
            Some(Ok(Err(e))) => failure = failure.or(Some(e)),
            Some(Err(e)) => failure = failure.or(Some(e.into())),
            None => break,
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(copied),
    }
}

/// Writes the rows of a queue's live jobs added, retried or failed at least `min_age`
/// ago since they were last indexed, up to five batches, then acknowledges them. A listed
/// job that ended meanwhile is the copy of finished jobs' to record. Returns how many
/// entries it acknowledged.
pub async fn index_queue(
    db: &Db,
    queue: &Queue,
    limit: usize,
    min_age: Duration,
    writers: &Semaphore,
) -> anyhow::Result<usize> {
    let mut indexed = 0;
    for _ in 0..INDEX_BATCHES_PER_PASS {
        let page = queue.unindexed(limit, min_age).await?;
        if page.listed.is_empty() {
            break;
        }
        let live: Vec<_> = page.jobs.into_iter().filter(|job| !job.state.is_finished()).collect();
        {
            let _slot = writers.acquire().await?;
            index_live_or_skip(db, &live, page.seen_at).await?;
        }
        queue.mark_indexed(&page.listed).await?;
        indexed += page.listed.len();
        if page.listed.len() < limit {
            break;
        }
    }
    Ok(indexed)
}

/// How many batches may be written at once: SQLite has one writer; PostgreSQL takes a
/// few connections of the pool.
pub fn writers_for(kind: DbKind) -> usize {
    match kind {
        DbKind::Sqlite => 1,
        DbKind::Postgres => 4,
    }
}

/// One pass over every queue: copies each one's backlog of finished jobs, then indexes
/// its live jobs changed at least `index_min_age` ago ([`INDEX_MIN_AGE`] in the server).
/// Returns how many jobs it copied or indexed.
pub async fn copy_all(
    db: &Db,
    engine: &RedisConnection,
    archiving: &Archiving,
    writers: &Arc<Semaphore>,
    index_min_age: Duration,
) -> usize {
    let names = match Queue::list_all(engine).await {
        Ok(names) => names,
        Err(e) => {
            tracing::warn!(error = %e, "job history: cannot list queues");
            return 0;
        }
    };
    futures::stream::iter(names)
        .map(|name| async move {
            let Ok(queue) = Queue::new(engine, &name) else { return 0 };
            if let Err(e) = archiving.ensure(&queue).await {
                tracing::warn!(queue = %name, error = %e, "cannot turn on the archive set");
                return 0;
            }
            let copied = match drain_queue(db, &queue, BATCH, writers_for(db.kind) + 1, writers).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(queue = %name, error = %e, "copying job history failed; will retry");
                    0
                }
            };
            let indexed = match index_queue(db, &queue, BATCH, index_min_age, writers).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(queue = %name, error = %e, "indexing live jobs failed; will retry");
                    0
                }
            };
            copied + indexed
        })
        .buffer_unordered(QUEUES_AT_ONCE)
        .fold(0, |total, n| async move { total + n })
        .await
}

/// With history off, turns every queue's archive set off, so finished jobs a history
/// that was on left waiting go to retention, and nothing more is listed for its index.
async fn release_all(engine: &RedisConnection) {
    let names = match Queue::list_all(engine).await {
        Ok(names) => names,
        Err(e) => {
            tracing::warn!(error = %e, "job history is off: cannot list queues to release their finished jobs");
            return;
        }
    };
    for name in names {
        let Ok(queue) = Queue::new(engine, &name) else { continue };
        if let Err(e) = queue.set_archiving(false).await {
            tracing::warn!(queue = %name, error = %e, "job history is off: cannot release finished jobs");
        }
    }
}

/// Copies every queue's finished jobs until `stop`, then makes one last pass. Prunes
/// once an hour.
pub async fn run_writer(
    db: Db,
    engine: RedisConnection,
    archiving: Arc<Archiving>,
    config: HistoryConfig,
    stop: CancellationToken,
) {
    let Some(retention) = config.retention else {
        release_all(&engine).await;
        return;
    };
    let writers = Arc::new(Semaphore::new(writers_for(db.kind)));
    let mut last_prune = 0i64;
    let mut sweep = SweepCursor::default();
    let mut last_sweep = 0i64;
    loop {
        let stopping = stop.is_cancelled();
        let copied = copy_all(&db, &engine, &archiving, &writers, INDEX_MIN_AGE).await;
        if now_ms() - last_sweep > SWEEP_EVERY_MS {
            match sweep_live_rows(&db, &engine, &mut sweep).await {
                Ok(n) if n > 0 => tracing::debug!(deleted = n, "dropped search rows of jobs gone from Redis"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "sweeping search rows failed"),
            }
            last_sweep = now_ms();
        }
        if now_ms() - last_prune > 3_600_000 {
            match prune(&db, now_ms() - retention.as_millis() as i64).await {
                Ok(n) if n > 0 => tracing::info!(deleted = n, "pruned job history"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "pruning job history failed"),
            }
            last_prune = now_ms();
        }
        if stopping {
            break;
        }
        let pause = if copied > 0 { SHORT_PAUSE } else { IDLE_PAUSE };
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = tokio::time::sleep(pause) => {}
        }
    }
}
