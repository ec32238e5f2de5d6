//! Writing history records: a batch is one multi-row upsert, whatever its size.
//!
//! One statement and one round trip per batch, with no limit on bound variables:
//! - PostgreSQL: each column is bound as one array, sent in binary, and `UNNEST` turns
//!   the arrays into rows (nothing for the server to parse; through the native driver,
//!   since sqlx's `Any` cannot bind arrays);
//! - SQLite: the rows travel as one JSON array in a single parameter, which `json_each`
//!   expands in SQL.
//!
//! Measured by `hoist-history-bench`.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Serialize;

use super::HistoryRecord;
use super::quarantine::quarantine;
use crate::db::{Db, DbKind};

/// The columns every history row has, in the order the statements list them.
const COLUMNS: &str = "queue, job_id, name, owner, status, payload, result, error, errors, attempts, \
                       created_at, started_at, finished_at, duration_ms";

/// A job that ends again (retried from the dead-letter queue, say) replaces its row.
const ON_CONFLICT: &str = "ON CONFLICT (queue, job_id) DO UPDATE SET name = excluded.name, \
     owner = excluded.owner, status = excluded.status, payload = excluded.payload, result = excluded.result, \
     error = excluded.error, errors = excluded.errors, attempts = excluded.attempts, \
     created_at = excluded.created_at, started_at = excluded.started_at, finished_at = excluded.finished_at, \
     duration_ms = excluded.duration_ms";

/// Most bytes of rows one statement carries: a batch of large payloads (up to the
/// engine's payload bound each) becomes several statements in one transaction rather
/// than one parameter beyond what the database takes (PostgreSQL: 1 GiB).
const MAX_STATEMENT_BYTES: usize = 8 << 20;

/// One row as it travels in the JSON array: JSON columns as their text.
#[derive(Serialize)]
struct Row<'a> {
    queue: &'a str,
    job_id: &'a str,
    name: &'a str,
    owner: Option<&'a str>,
    status: &'a str,
    payload: String,
    result: Option<String>,
    error: Option<String>,
    errors: String,
    attempts: u32,
    created_at: i64,
    started_at: Option<i64>,
    finished_at: i64,
    duration_ms: Option<i64>,
}

impl<'a> Row<'a> {
    /// Bytes of the row's text, about what it adds to a statement.
    fn text_bytes(&self) -> usize {
        const FIXED: usize = 200;
        FIXED
            + self.queue.len()
            + self.job_id.len()
            + self.name.len()
            + self.payload.len()
            + self.result.as_ref().map_or(0, String::len)
            + self.error.as_ref().map_or(0, String::len)
            + self.errors.len()
    }

    fn of(r: &'a HistoryRecord) -> Self {
        Row {
            queue: &r.queue,
            job_id: &r.job_id,
            name: &r.name,
            owner: r.owner.as_deref(),
            status: &r.status,
            payload: r.payload.to_string(),
            result: r.result.as_ref().map(|v| v.to_string()),
            error: r.error.as_ref().map(|v| v.to_string()),
            errors: r.errors.to_string(),
            attempts: r.attempts,
            created_at: r.created_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            duration_ms: r.duration_ms,
        }
    }
}

/// SQLite's upsert of rows given as a JSON array in `$1`.
static SQLITE_UPSERT: LazyLock<String> = LazyLock::new(|| {
    let fields: Vec<String> = COLUMNS.split(',').map(|c| format!("value ->> '{}'", c.trim())).collect();
    // `WHERE true` tells SQLite's parser the ON CONFLICT belongs to the INSERT.
    format!(
        "INSERT INTO job_history ({COLUMNS}) SELECT {} FROM json_each($1) WHERE true {ON_CONFLICT}",
        fields.join(", ")
    )
});

/// PostgreSQL's upsert of rows given as one array per column.
static POSTGRES_UPSERT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO job_history ({COLUMNS}) SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], \
         $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::int4[], $11::int8[], \
         $12::int8[], $13::int8[], $14::int8[]) {ON_CONFLICT}"
    )
});

/// Writes rows to PostgreSQL, one array per column.
async fn upsert_postgres(tx: &mut sqlx::PgConnection, rows: &[Row<'_>]) -> Result<(), sqlx::Error> {
    fn column<'r, T>(rows: &'r [Row<'_>], field: impl Fn(&'r Row<'_>) -> T) -> Vec<T> {
        rows.iter().map(field).collect()
    }
    let attempts: Result<Vec<i32>, _> = rows.iter().map(|r| i32::try_from(r.attempts)).collect();
    sqlx::query(&POSTGRES_UPSERT)
        .bind(column(rows, |r| r.queue))
        .bind(column(rows, |r| r.job_id))
        .bind(column(rows, |r| r.name))
        .bind(column(rows, |r| r.owner))
        .bind(column(rows, |r| r.status))
        .bind(column(rows, |r| r.payload.as_str()))
        .bind(column(rows, |r| r.result.as_deref()))
        .bind(column(rows, |r| r.error.as_deref()))
        .bind(column(rows, |r| r.errors.as_str()))
        .bind(attempts.map_err(|e| sqlx::Error::Encode(Box::new(e)))?)
        .bind(column(rows, |r| r.created_at))
        .bind(column(rows, |r| r.started_at))
        .bind(column(rows, |r| r.finished_at))
        .bind(column(rows, |r| r.duration_ms))
        .execute(tx)
        .await?;
    Ok(())
}

/// Writes rows to SQLite as one JSON array.
async fn upsert_sqlite(tx: &mut sqlx::AnyConnection, rows: &[Row<'_>]) -> Result<(), sqlx::Error> {
    let text = serde_json::to_string(rows).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query(&SQLITE_UPSERT).bind(text).execute(tx).await?;
    Ok(())
}

/// Splits rows into statements of at most [`MAX_STATEMENT_BYTES`] (a row larger than
/// that goes alone).
fn statements<'r, 'a>(rows: &'r [Row<'a>]) -> Vec<&'r [Row<'a>]> {
    let mut parts = vec![];
    let (mut start, mut bytes) = (0, 0);
    for (i, row) in rows.iter().enumerate() {
        let size = row.text_bytes();
        if i > start && bytes + size > MAX_STATEMENT_BYTES {
            parts.push(&rows[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < rows.len() {
        parts.push(&rows[start..]);
    }
    parts
}

/// Writes records (insert, or replace the row of a job that ended again), in one
/// transaction. Of two records of one job, the later wins (PostgreSQL refuses a
/// statement that would update a row twice).
pub async fn record(db: &Db, records: &[HistoryRecord]) -> Result<(), sqlx::Error> {
    if records.is_empty() {
        return Ok(());
    }
    let mut latest: HashMap<(&str, &str), usize> = HashMap::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        latest.insert((r.queue.as_str(), r.job_id.as_str()), i);
    }
    let rows: Vec<Row<'_>> = records
        .iter()
        .enumerate()
        .filter(|(i, r)| latest.get(&(r.queue.as_str(), r.job_id.as_str())) == Some(i))
        .map(|(_, r)| Row::of(r))
        .collect();
    if let Some(pool) = &db.postgres {
        let mut tx = pool.begin().await?;
        for part in statements(&rows) {
            upsert_postgres(&mut tx, part).await?;
        }
        return tx.commit().await;
    }
    let mut tx = db.pool.begin().await?;
    for part in statements(&rows) {
        upsert_sqlite(&mut tx, part).await?;
    }
    tx.commit().await
}

/// Writes `records`; when the database refuses the batch for its data, halves it until
/// each refused record stands alone and quarantines that one. Bisecting finds a few bad
/// records among hundreds in a few dozen transactions; rewriting a part is harmless
/// (upserts).
pub(super) async fn record_or_quarantine(db: &Db, records: &[HistoryRecord]) -> Result<(), sqlx::Error> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn row(payload_bytes: usize) -> Row<'static> {
        Row {
            queue: "q",
            job_id: "01J",
            name: "n",
            owner: None,
            status: "completed",
            payload: "x".repeat(payload_bytes),
            result: None,
            error: None,
            errors: "[]".into(),
            attempts: 1,
            created_at: 0,
            started_at: None,
            finished_at: 0,
            duration_ms: None,
        }
    }

    #[test]
    fn large_rows_are_split_over_statements_and_small_ones_share_one() {
        let small: Vec<Row> = (0..2000).map(|_| row(100)).collect();
        assert_eq!(statements(&small).len(), 1);
        // 40 rows of 512 KiB (the default payload bound) make 20 MiB: three statements.
        let large: Vec<Row> = (0..40).map(|_| row(512 << 10)).collect();
        let parts = statements(&large);
        assert_eq!(parts.iter().map(|p| p.len()).sum::<usize>(), 40);
        assert!(
            parts.len() == 3
                && parts.iter().all(|p| p.iter().map(Row::text_bytes).sum::<usize>() <= MAX_STATEMENT_BYTES)
        );
        // A row beyond the bound still goes, alone.
        let huge = vec![row(100), row(MAX_STATEMENT_BYTES), row(100)];
        assert_eq!(statements(&huge).iter().map(|p| p.len()).collect::<Vec<_>>(), [1, 1, 1]);
    }
}
