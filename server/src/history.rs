//! Job history in SQL. Every job that ends (completed, dead, cancelled) is copied from
//! the engine's archive set in batches, so the dashboard can search jobs long after Redis
//! retention dropped them. The engine keeps a finished job until it is copied, so a
//! writer that was down (a restart, an outage of the database) loses no record; copies
//! are upserts keyed by queue and job id, so two writers or a repeated batch never make a
//! second row.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use hoist_queue::{CancellationToken, Job, JobState, Queue, RedisConnection};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::db::{Db, DbKind, now_ms};

/// Jobs copied per queue and batch.
pub const BATCH: usize = 500;

/// History settings: `HOIST_HISTORY_DAYS` (0 turns history off).
#[derive(Clone, Copy, Debug)]
pub struct HistoryConfig {
    pub retention: Option<Duration>,
}

impl HistoryConfig {
    pub fn from_days(days: u32) -> Self {
        HistoryConfig { retention: (days > 0).then(|| Duration::from_secs(u64::from(days) * 86_400)) }
    }

    pub fn enabled(&self) -> bool {
        self.retention.is_some()
    }
}

/// Turns on the engine's archive set for each queue once per process, before this
/// process enqueues to it or works on it, so no ending slips by uncopied.
#[derive(Debug, Default)]
pub struct Archiving {
    enabled: bool,
    flagged: Mutex<HashSet<String>>,
}

impl Archiving {
    pub fn new(enabled: bool) -> Self {
        Archiving { enabled, flagged: Mutex::default() }
    }

    pub async fn ensure(&self, queue: &Queue) -> hoist_queue::Result<()> {
        if !self.enabled || self.flagged.lock().expect("flagged queues").contains(queue.name()) {
            return Ok(());
        }
        queue.set_archiving(true).await?;
        self.flagged.lock().expect("flagged queues").insert(queue.name().to_string());
        Ok(())
    }
}

/// One finished job as the history keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HistoryRecord {
    pub queue: String,
    pub job_id: String,
    pub name: String,
    pub owner: Option<String>,
    /// `completed`, `dead` or `cancelled`.
    pub status: String,
    pub payload: serde_json::Value,
    pub result: Option<serde_json::Value>,
    /// The last error, for dead jobs (and jobs that failed before they completed).
    pub error: Option<serde_json::Value>,
    /// Every failed attempt's error.
    pub errors: serde_json::Value,
    pub attempts: u32,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: i64,
    pub duration_ms: Option<i64>,
}

impl HistoryRecord {
    /// The record of a finished job; `None` for a job that is not (or no longer) finished.
    pub fn of(job: &Job) -> Option<Self> {
        let status = match job.state {
            JobState::Completed | JobState::Dead | JobState::Cancelled => job.state.as_str().to_string(),
            _ => return None,
        };
        let finished_at = job.finished_at?;
        Some(HistoryRecord {
            queue: job.queue.clone(),
            job_id: job.id.clone(),
            name: job.name.clone(),
            owner: job.owner.clone(),
            status,
            payload: job.payload.clone(),
            result: job.result.clone(),
            error: job.last_error.as_ref().and_then(|e| serde_json::to_value(e).ok()),
            errors: serde_json::to_value(&job.errors).unwrap_or_default(),
            attempts: job.attempts,
            created_at: job.created_at,
            started_at: job.started_at,
            finished_at,
            duration_ms: job.started_at.map(|s| finished_at - s),
        })
    }
}

/// Writes records (insert, or replace the row of a job that ended again), in one
/// transaction.
pub async fn record(db: &Db, records: &[HistoryRecord]) -> Result<(), sqlx::Error> {
    if records.is_empty() {
        return Ok(());
    }
    let mut tx = db.pool.begin().await?;
    for r in records {
        sqlx::query(
            "INSERT INTO job_history (queue, job_id, name, owner, status, payload, result, error, errors, attempts, \
             created_at, started_at, finished_at, duration_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
             ON CONFLICT (queue, job_id) DO UPDATE SET name = excluded.name, owner = excluded.owner, \
             status = excluded.status, payload = excluded.payload, result = excluded.result, \
             error = excluded.error, errors = excluded.errors, attempts = excluded.attempts, \
             created_at = excluded.created_at, started_at = excluded.started_at, \
             finished_at = excluded.finished_at, duration_ms = excluded.duration_ms",
        )
        .bind(&r.queue)
        .bind(&r.job_id)
        .bind(&r.name)
        .bind(r.owner.as_deref())
        .bind(&r.status)
        .bind(r.payload.to_string())
        .bind(r.result.as_ref().map(|v| v.to_string()))
        .bind(r.error.as_ref().map(|v| v.to_string()))
        .bind(r.errors.to_string())
        .bind(i64::from(r.attempts))
        .bind(r.created_at)
        .bind(r.started_at)
        .bind(r.finished_at)
        .bind(r.duration_ms)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// Copies up to `limit` finished jobs of one queue and releases them to retention.
/// Returns how many jobs the batch held (records written or quarantined, plus jobs no
/// longer finished).
///
/// A record the database refuses for what it holds (see [`is_data_error`]) must not
/// block the queue's copy for good: the batch is split until the refused records are
/// found, the others are written, and each refused one is kept in the quarantine table
/// ([`quarantine`]) and released like the copied ones. Any other failure (the database
/// unreachable, the pool closed) releases nothing, so the whole batch is copied again.
pub async fn copy_batch(db: &Db, queue: &Queue, limit: usize) -> anyhow::Result<usize> {
    let pending = queue.unarchived(limit).await?;
    if pending.is_empty() {
        return Ok(0);
    }
    let records: Vec<HistoryRecord> =
        pending.iter().filter_map(|p| p.job.as_ref().ok().and_then(HistoryRecord::of)).collect();
    record_or_quarantine(db, &records).await?;
    // A job the engine cannot read (damaged, or written by hand) is kept aside as stored.
    for unreadable in &pending {
        if let Err(stored) = &unreadable.job {
            let entry = QuarantineEntry {
                queue: queue.name(),
                job_id: &unreadable.id,
                name: stored.fields.get("name").map_or("", String::as_str),
                reason: &format!("the engine cannot read this job: {}", stored.reason),
                record: serde_json::to_string(stored).map_err(|e| sqlx::Error::Encode(Box::new(e)))?,
                finished_at: unreadable.finished_at,
            };
            quarantine_entry(db, &entry).await?;
        }
    }
    let copied: Vec<(String, i64)> = pending.iter().map(|p| (p.id.clone(), p.finished_at)).collect();
    queue.mark_archived(&copied).await?;
    Ok(pending.len())
}

/// Writes `records`; when the database refuses the batch for its data, halves it until
/// each refused record stands alone and quarantines that one. Bisecting finds a few bad
/// records among hundreds in a few dozen transactions; rewriting a part is harmless
/// (upserts).
async fn record_or_quarantine(db: &Db, records: &[HistoryRecord]) -> Result<(), sqlx::Error> {
    let mut parts = vec![records];
    while let Some(part) = parts.pop() {
        match record(db, part).await {
            Ok(()) => {}
            Err(e) if is_data_error(db.kind, &e) => match part {
                [one] => quarantine(db, one, &e.to_string()).await?,
                _ => {
                    let (first, second) = part.split_at(part.len() / 2);
                    parts.push(second);
                    parts.push(first);
                }
            },
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Whether the database refused a statement for the values it was given, so the same
/// values would be refused again: PostgreSQL's data exceptions (SQLSTATE class 22: NUL or
/// invalid bytes in text, numbers out of range), integrity violations (23) and program
/// limits (54: e.g. an index row too large for a huge name); SQLite's constraint (a
/// CHECK, a trigger's RAISE), too-big and mismatch errors. Anything else (I/O, the pool,
/// a server shutting down, a lock timeout) may pass, so it is retried instead.
pub fn is_data_error(kind: DbKind, error: &sqlx::Error) -> bool {
    const POSTGRES_CLASSES: [&str; 3] = ["22", "23", "54"];
    const SQLITE_TOOBIG: i64 = 18;
    const SQLITE_CONSTRAINT: i64 = 19;
    const SQLITE_MISMATCH: i64 = 20;
    match error {
        sqlx::Error::Encode(_) => true,
        sqlx::Error::Database(e) => {
            let Some(code) = e.code() else { return false };
            match kind {
                DbKind::Postgres => code.get(..2).is_some_and(|class| POSTGRES_CLASSES.contains(&class)),
                // SQLite reports extended codes; the primary code is the low byte.
                DbKind::Sqlite => code
                    .parse::<i64>()
                    .is_ok_and(|n| matches!(n & 0xff, SQLITE_TOOBIG | SQLITE_CONSTRAINT | SQLITE_MISMATCH)),
            }
        }
        _ => false,
    }
}

/// Deletes records of jobs that finished before `cutoff` (epoch ms), quarantined ones
/// too: a record the database refused is kept as long as a copied one would have been.
pub async fn prune(db: &Db, cutoff: i64) -> Result<u64, sqlx::Error> {
    let mut deleted = 0;
    for table in ["job_history", "job_history_quarantine"] {
        let sql = format!("DELETE FROM {table} WHERE finished_at < $1");
        deleted += sqlx::query(&sql).bind(cutoff).execute(&db.pool).await?.rows_affected();
    }
    Ok(deleted)
}

/// Characters of a job name and of a refusal reason a quarantine row keeps in its own
/// columns; the whole record is in `record` anyway.
const QUARANTINE_TEXT_CHARS: usize = 1000;

/// Text every SQL database takes: NUL (which PostgreSQL refuses in text) written as the
/// visible escape `\u0000`, at most `max` characters.
fn storable(text: &str, max: usize) -> String {
    text.chars().take(max).collect::<String>().replace('\0', "\\u0000")
}

static DESCRIBE_QUARANTINE_METRIC: std::sync::Once = std::sync::Once::new();

/// Keeps a record the history table refused, with the database's reason, so it stays
/// visible (`GET /api/v1/history/quarantine`) while the queue's copy goes on. The record
/// is stored as JSON text, in which every NUL is the escape `\u0000`, so this insert does
/// not fail for the reason the first one did. A job quarantined again replaces its row.
pub async fn quarantine(db: &Db, record: &HistoryRecord, reason: &str) -> Result<(), sqlx::Error> {
    let entry = QuarantineEntry {
        queue: &record.queue,
        job_id: &record.job_id,
        name: &record.name,
        reason,
        record: serde_json::to_string(record).map_err(|e| sqlx::Error::Encode(Box::new(e)))?,
        finished_at: record.finished_at,
    };
    quarantine_entry(db, &entry).await
}

/// One row of the quarantine table: `record` is JSON text (a history record, or the
/// stored fields of a job the engine cannot read).
struct QuarantineEntry<'a> {
    queue: &'a str,
    job_id: &'a str,
    name: &'a str,
    reason: &'a str,
    record: String,
    finished_at: i64,
}

async fn quarantine_entry(db: &Db, entry: &QuarantineEntry<'_>) -> Result<(), sqlx::Error> {
    let QuarantineEntry { queue, job_id, name, reason, finished_at, .. } = *entry;
    sqlx::query(
        "INSERT INTO job_history_quarantine (queue, job_id, name, reason, record, finished_at, quarantined_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (queue, job_id) DO UPDATE SET name = excluded.name, reason = excluded.reason, \
         record = excluded.record, finished_at = excluded.finished_at, quarantined_at = excluded.quarantined_at",
    )
    .bind(storable(queue, QUARANTINE_TEXT_CHARS))
    .bind(storable(job_id, QUARANTINE_TEXT_CHARS))
    .bind(storable(name, QUARANTINE_TEXT_CHARS))
    .bind(storable(reason, QUARANTINE_TEXT_CHARS))
    .bind(&entry.record)
    .bind(finished_at)
    .bind(now_ms())
    .execute(&db.pool)
    .await?;
    tracing::warn!(
        queue = %queue,
        job_id = %storable(job_id, QUARANTINE_TEXT_CHARS),
        reason,
        "job history: the database refused this job's record; it is quarantined (GET /api/v1/history/quarantine)"
    );
    // Described where it is counted, so the description is there in every process that
    // quarantines; the recorder is installed before any history writer starts.
    DESCRIBE_QUARANTINE_METRIC.call_once(|| {
        metrics::describe_counter!(
            "hoist_history_quarantined_total",
            "Finished jobs this process quarantined because the history database refused their record"
        );
    });
    metrics::counter!("hoist_history_quarantined_total", "queue" => storable(queue, QUARANTINE_TEXT_CHARS))
        .increment(1);
    Ok(())
}

/// Most quarantined records one page holds.
pub const MAX_QUARANTINE_PAGE: u32 = 500;

/// Which quarantined records to list; every part optional.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct QuarantineQuery {
    /// Only this queue's records.
    pub queue: Option<String>,
    /// `next` of the previous page.
    pub cursor: Option<String>,
    /// Records per page: 1 to 500 (default 50).
    pub limit: Option<u32>,
}

/// A finished job whose history record the database refused.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QuarantinedRecord {
    pub queue: String,
    pub job_id: String,
    /// The job name, NUL characters written as `\u0000`.
    pub name: String,
    /// Why the database refused the record (its error message).
    pub reason: String,
    /// The history record that was refused, as it would have been written.
    pub record: serde_json::Value,
    pub finished_at: i64,
    pub quarantined_at: i64,
}

/// A page of quarantined records and the cursor of the next page.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QuarantinePage {
    pub records: Vec<QuarantinedRecord>,
    pub next: Option<String>,
}

/// Quarantined records, newest first (by when the job was first quarantined).
pub async fn quarantined(db: &Db, query: &QuarantineQuery) -> anyhow::Result<Result<QuarantinePage, BadQuery>> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=MAX_QUARANTINE_PAGE).contains(&limit) {
        return Ok(Err(BadQuery { field: "limit", message: format!("must be 1 to {MAX_QUARANTINE_PAGE}") }));
    }
    let before = match &query.cursor {
        Some(cursor) => match cursor.parse::<i64>() {
            Ok(id) if id > 0 => id,
            _ => return Ok(Err(BadQuery { field: "cursor", message: "not a cursor this API returned".into() })),
        },
        None => i64::MAX,
    };
    let mut sql = String::from(
        "SELECT id, queue, job_id, name, reason, record, finished_at, quarantined_at FROM job_history_quarantine \
         WHERE id < $1",
    );
    if query.queue.is_some() {
        sql.push_str(" AND queue = $2 ORDER BY id DESC LIMIT $3");
    } else {
        sql.push_str(" ORDER BY id DESC LIMIT $2");
    }
    let mut statement = sqlx::query(&sql).bind(before);
    if let Some(queue) = &query.queue {
        statement = statement.bind(queue);
    }
    let statement = statement.bind(i64::from(limit) + 1);
    let rows = statement.fetch_all(&db.pool).await?;
    let mut records = Vec::with_capacity(rows.len());
    let mut last_id = 0i64;
    for row in rows.iter().take(limit as usize) {
        let text: String = row.try_get("record")?;
        last_id = row.try_get("id")?;
        records.push(QuarantinedRecord {
            queue: row.try_get("queue")?,
            job_id: row.try_get("job_id")?,
            name: row.try_get("name")?,
            reason: row.try_get("reason")?,
            record: serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
            finished_at: row.try_get("finished_at")?,
            quarantined_at: row.try_get("quarantined_at")?,
        });
    }
    let next = (rows.len() > limit as usize).then(|| last_id.to_string());
    Ok(Ok(QuarantinePage { records, next }))
}

/// Copies every queue's finished jobs until `stop`, then makes one last pass. Prunes
/// once an hour.
pub async fn run_writer(
    db: Db,
    engine: RedisConnection,
    archiving: std::sync::Arc<Archiving>,
    config: HistoryConfig,
    stop: CancellationToken,
) {
    let Some(retention) = config.retention else { return };
    let mut last_prune = 0i64;
    loop {
        let stopping = stop.is_cancelled();
        let mut full = false;
        match Queue::list_queues(&engine, "hoist").await {
            Ok(names) => {
                for name in names {
                    let Ok(queue) = Queue::new(&engine, &name) else { continue };
                    if let Err(e) = archiving.ensure(&queue).await {
                        tracing::warn!(queue = %name, error = %e, "cannot turn on the archive set");
                        continue;
                    }
                    match copy_batch(&db, &queue, BATCH).await {
                        Ok(n) => full |= n == BATCH,
                        Err(e) => tracing::warn!(queue = %name, error = %e, "copying job history failed; will retry"),
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "job history: cannot list queues"),
        }
        if now_ms() - last_prune > 3_600_000 {
            match prune(&db, now_ms() - retention.as_millis() as i64).await {
                Ok(n) if n > 0 => tracing::info!(deleted = n, "pruned job history"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "pruning job history failed"),
            }
            last_prune = now_ms();
        }
        if stopping && !full {
            break;
        }
        if !full {
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
    }
}

/// What a history search asks for; every part optional.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    pub id: Option<String>,
    pub queue: Option<String>,
    pub name: Option<String>,
    pub owner: Option<String>,
    pub status: Option<String>,
    /// Finished at or after (epoch ms).
    pub from: Option<i64>,
    /// Finished before (epoch ms).
    pub to: Option<i64>,
    /// Text in the payload, result or errors (case-insensitive).
    pub q: Option<String>,
    /// `next` of the previous page.
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// A page of records, newest first, and the cursor of the next page.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HistoryPage {
    pub records: Vec<HistoryRecord>,
    pub next: Option<String>,
}

/// Why a query was refused: which field, and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {message}")]
pub struct BadQuery {
    pub field: &'static str,
    pub message: String,
}

enum Bind {
    Text(String),
    Int(i64),
}

/// Adds a value to bind and returns its placeholder.
fn bind(binds: &mut Vec<Bind>, value: Bind) -> String {
    binds.push(value);
    format!("${}", binds.len())
}

fn like_pattern(text: &str) -> String {
    let escaped = text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

/// Searches the history, newest first. Paging is by cursor (finish time, queue, id), so
/// pages stay stable while new records arrive.
pub async fn search(db: &Db, query: &HistoryQuery) -> anyhow::Result<Result<HistoryPage, BadQuery>> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Ok(Err(BadQuery { field: "limit", message: "must be 1 to 500".into() }));
    }
    if let Some(status) = &query.status
        && !matches!(status.as_str(), "completed" | "dead" | "cancelled")
    {
        return Ok(Err(BadQuery { field: "status", message: "must be completed, dead or cancelled".into() }));
    }
    let mut clauses: Vec<String> = vec![];
    let mut binds: Vec<Bind> = vec![];
    for (column, value) in [
        ("job_id", &query.id),
        ("queue", &query.queue),
        ("name", &query.name),
        ("owner", &query.owner),
        ("status", &query.status),
    ] {
        if let Some(value) = value {
            let p = bind(&mut binds, Bind::Text(value.clone()));
            clauses.push(format!("{column} = {p}"));
        }
    }
    if let Some(from) = query.from {
        let p = bind(&mut binds, Bind::Int(from));
        clauses.push(format!("finished_at >= {p}"));
    }
    if let Some(to) = query.to {
        let p = bind(&mut binds, Bind::Int(to));
        clauses.push(format!("finished_at < {p}"));
    }
    if let Some(text) = query.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let p = bind(&mut binds, Bind::Text(like_pattern(text)));
        clauses.push(format!(
            "(LOWER(payload) LIKE {p} ESCAPE '\\' OR LOWER(COALESCE(result, '')) LIKE {p} ESCAPE '\\' \
             OR LOWER(errors) LIKE {p} ESCAPE '\\')"
        ));
    }
    if let Some(cursor) = &query.cursor {
        let Some((at, queue, id)) = parse_cursor(cursor) else {
            return Ok(Err(BadQuery { field: "cursor", message: "not a cursor this API returned".into() }));
        };
        let a = bind(&mut binds, Bind::Int(at));
        let q = bind(&mut binds, Bind::Text(queue));
        let i = bind(&mut binds, Bind::Text(id));
        clauses.push(format!(
            "(finished_at < {a} OR (finished_at = {a} AND (queue < {q} OR (queue = {q} AND job_id < {i}))))"
        ));
    }
    let filter = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
    let sql = format!(
        "SELECT queue, job_id, name, owner, status, payload, result, error, errors, attempts, created_at, \
         started_at, finished_at, duration_ms FROM job_history {filter} \
         ORDER BY finished_at DESC, queue DESC, job_id DESC LIMIT {}",
        limit + 1
    );
    let mut statement = sqlx::query(&sql);
    for value in binds {
        statement = match value {
            Bind::Text(text) => statement.bind(text),
            Bind::Int(n) => statement.bind(n),
        };
    }
    let rows = statement.fetch_all(&db.pool).await?;
    let json = |text: Option<String>| text.and_then(|t| serde_json::from_str(&t).ok());
    let mut records = Vec::with_capacity(rows.len());
    for row in rows {
        records.push(HistoryRecord {
            queue: row.try_get("queue")?,
            job_id: row.try_get("job_id")?,
            name: row.try_get("name")?,
            owner: row.try_get("owner")?,
            status: row.try_get("status")?,
            payload: json(row.try_get("payload")?).unwrap_or_default(),
            result: json(row.try_get("result")?),
            error: json(row.try_get("error")?),
            errors: json(row.try_get("errors")?).unwrap_or_default(),
            attempts: row.try_get::<i64, _>("attempts")? as u32,
            created_at: row.try_get("created_at")?,
            started_at: row.try_get("started_at")?,
            finished_at: row.try_get("finished_at")?,
            duration_ms: row.try_get("duration_ms")?,
        });
    }
    let next = if records.len() > limit as usize {
        records.truncate(limit as usize);
        records.last().map(|r| format!("{}:{}:{}", r.finished_at, r.queue, r.job_id))
    } else {
        None
    };
    Ok(Ok(HistoryPage { records, next }))
}

/// `finished_at:queue:job_id`; job ids never hold a colon, queue names may.
fn parse_cursor(cursor: &str) -> Option<(i64, String, String)> {
    let (at, rest) = cursor.split_once(':')?;
    let (queue, id) = rest.rsplit_once(':')?;
    Some((at.parse().ok()?, queue.to_string(), id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_match_the_text_literally() {
        assert_eq!(like_pattern("50%_off"), "%50\\%\\_off%");
        assert_eq!(like_pattern("Timeout"), "%timeout%");
    }

    #[test]
    fn cursors_allow_colons_in_queue_names() {
        assert_eq!(parse_cursor("17:a:b:01J"), Some((17, "a:b".into(), "01J".into())));
        assert_eq!(parse_cursor("x:a:b"), None);
        assert_eq!(parse_cursor("17"), None);
    }
}
