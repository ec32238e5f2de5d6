//! Records the history table refused (a NUL in a name, a value out of range): kept aside
//! with the database's reason, so one bad job never stops a queue's copy.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::HistoryRecord;
use super::search::BadQuery;
use crate::db::{Db, now_ms};

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
pub(super) struct QuarantineEntry<'a> {
    pub queue: &'a str,
    pub job_id: &'a str,
    pub name: &'a str,
    pub reason: &'a str,
    pub record: String,
    pub finished_at: i64,
}

pub(super) async fn quarantine_entry(db: &Db, entry: &QuarantineEntry<'_>) -> Result<(), sqlx::Error> {
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
