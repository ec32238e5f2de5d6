//! Writing history records: a batch is one multi-row upsert, whatever its size.
//!
//! One statement and one round trip per batch, with no limit on bound variables:
//! - PostgreSQL: each column is bound as one array, sent in binary, and `UNNEST` turns
//!   the arrays into rows (nothing for the server to parse; through the native driver,
//!   since sqlx's `Any` cannot bind arrays);
//! - SQLite: multi-row `VALUES` of bound values, up to 512 rows per statement, in a
//!   few fixed sizes each prepared once per connection.
//!
//! Measured by `hoist-history-bench`.

use std::collections::HashMap;
use std::sync::LazyLock;

use hoist_queue::Job;

use super::HistoryRecord;
use super::quarantine::quarantine;
use crate::db::{Db, DbKind};

/// The columns every history row has, in the order the statements list them.
const COLUMNS: &str = "queue, job_id, name, owner, status, payload, result, error, errors, attempts, \
                       created_at, started_at, finished_at, duration_ms, seen_at";

/// Every column but the key takes the new row's value.
const REPLACE: &str = "ON CONFLICT (queue, job_id) DO UPDATE SET name = excluded.name, \
     owner = excluded.owner, status = excluded.status, payload = excluded.payload, result = excluded.result, \
     error = excluded.error, errors = excluded.errors, attempts = excluded.attempts, \
     created_at = excluded.created_at, started_at = excluded.started_at, finished_at = excluded.finished_at, \
     duration_ms = excluded.duration_ms, seen_at = excluded.seen_at";

/// A record of an ending replaces the row (a job that ends again, retried from the
/// dead-letter queue say, keeps its latest ending), unless the row is the job seen live
/// after that ending: it was retried since, and its next ending will be recorded.
const ENDING_WINS: &str = "WHERE job_history.seen_at IS NULL OR job_history.seen_at <= excluded.finished_at";

/// A live row replaces a live row, or the record of an ending before it was read (the job
/// was retried since); never the record of an ending at or after that read.
const LIVE_WINS: &str = "WHERE (job_history.finished_at IS NULL AND (job_history.seen_at IS NULL \
     OR job_history.seen_at <= excluded.seen_at)) OR job_history.finished_at < excluded.seen_at";

/// Most bytes of rows one statement carries: a batch of large payloads (up to the
/// engine's payload bound each) becomes several statements in one transaction rather
/// than one parameter beyond what the database takes (PostgreSQL: 1 GiB).
const MAX_STATEMENT_BYTES: usize = 8 << 20;

/// One row as it is written: JSON columns as their text.
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
    finished_at: Option<i64>,
    duration_ms: Option<i64>,
    /// Live rows: Redis's time before the job was read.
    seen_at: Option<i64>,
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
            finished_at: Some(r.finished_at),
            duration_ms: r.duration_ms,
            seen_at: None,
        }
    }

    /// The row of a live job, read at `seen_at`.
    fn live(job: &'a Job, seen_at: i64) -> Self {
        Row {
            queue: &job.queue,
            job_id: &job.id,
            name: &job.name,
            owner: job.owner.as_deref(),
            status: LIVE,
            payload: job.payload.to_string(),
            result: None,
            error: job.last_error.as_ref().and_then(|e| serde_json::to_string(e).ok()),
            errors: serde_json::to_string(&job.errors).unwrap_or_else(|_| "[]".into()),
            attempts: job.attempts,
            created_at: job.created_at,
            started_at: job.started_at,
            finished_at: None,
            duration_ms: None,
            seen_at: Some(seen_at),
        }
    }
}

/// The status of a live job's row (its state is read from Redis when it is shown).
pub const LIVE: &str = "live";

/// Rows one SQLite statement carries at most: 15 bound values each, within SQLite's
/// 32,766. A batch is written in statements of 512, 256, ... 1 rows: a dozen statement
/// shapes, each prepared once per connection (a statement for every batch size would be
/// prepared anew and fill the statement cache).
const SQLITE_ROWS_PER_STATEMENT: usize = 512;

/// SQLite's upsert of `rows` rows, each a group of bound values. (Rows used to travel as
/// one JSON array through `json_each`, but reading each of a row's fields re-parsed the
/// row's JSON: most of the copy's time.)
fn sqlite_upsert(rows: usize, condition: &str) -> String {
    let columns = COLUMNS.split(',').count();
    let mut values = String::with_capacity(rows * columns * 3 + rows * 4);
    for row in 0..rows {
        values.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..columns {
            if column > 0 {
                values.push_str(", ");
            }
            // Anonymous: sqlx looks each named parameter up by number, which SQLite
            // answers by walking the list of names, so thousands of `$n` cost n².
            values.push('?');
        }
        values.push(')');
    }
    format!("INSERT INTO job_history ({COLUMNS}) VALUES {values} {REPLACE} {condition}")
}

/// PostgreSQL's upsert of rows given as one array per column.
fn postgres_upsert(condition: &str) -> String {
    format!(
        "INSERT INTO job_history ({COLUMNS}) SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], \
         $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::int4[], $11::int8[], \
         $12::int8[], $13::int8[], $14::int8[], $15::int8[]) AS r ({COLUMNS}) {REPLACE} {condition}"
    )
}

/// Which rows a batch holds: records of endings, or live jobs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Endings,
    Live,
}

/// The upsert of each kind of rows: PostgreSQL's, built once.
static POSTGRES_STATEMENTS: LazyLock<[String; 2]> =
    LazyLock::new(|| [postgres_upsert(ENDING_WINS), postgres_upsert(LIVE_WINS)]);

/// SQLite's upserts of 2^i rows (i = 0..=9) for each kind of rows, built once.
static SQLITE_STATEMENTS: LazyLock<[Vec<String>; 2]> = LazyLock::new(|| {
    let sizes = |condition| (0..=SQLITE_ROWS_PER_STATEMENT.ilog2()).map(|i| sqlite_upsert(1 << i, condition)).collect();
    [sizes(ENDING_WINS), sizes(LIVE_WINS)]
});

fn postgres_statement(rows: Kind) -> &'static str {
    &POSTGRES_STATEMENTS[usize::from(rows == Kind::Live)]
}

/// Writes rows to PostgreSQL, one array per column.
async fn upsert_postgres(tx: &mut sqlx::PgConnection, rows: &[Row<'_>], kind: Kind) -> Result<(), sqlx::Error> {
    fn column<'r, T>(rows: &'r [Row<'_>], field: impl Fn(&'r Row<'_>) -> T) -> Vec<T> {
        rows.iter().map(field).collect()
    }
    let attempts: Result<Vec<i32>, _> = rows.iter().map(|r| i32::try_from(r.attempts)).collect();
    sqlx::query(postgres_statement(kind))
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
        .bind(column(rows, |r| r.seen_at))
        .execute(tx)
        .await?;
    Ok(())
}

/// Writes rows to SQLite, in statements of the largest power of two rows that fits (up
/// to [`SQLITE_ROWS_PER_STATEMENT`]).
async fn upsert_sqlite(tx: &mut sqlx::AnyConnection, mut rows: &[Row<'_>], kind: Kind) -> Result<(), sqlx::Error> {
    while !rows.is_empty() {
        let size = rows.len().min(SQLITE_ROWS_PER_STATEMENT);
        let shape = size.ilog2();
        let (chunk, rest) = rows.split_at(1 << shape);
        rows = rest;
        let mut query = sqlx::query(&SQLITE_STATEMENTS[usize::from(kind == Kind::Live)][shape as usize]);
        for r in chunk {
            query = query
                .bind(r.queue)
                .bind(r.job_id)
                .bind(r.name)
                .bind(r.owner)
                .bind(r.status)
                .bind(r.payload.as_str())
                .bind(r.result.as_deref())
                .bind(r.error.as_deref())
                .bind(r.errors.as_str())
                .bind(i64::from(r.attempts))
                .bind(r.created_at)
                .bind(r.started_at)
                .bind(r.finished_at)
                .bind(r.duration_ms)
                .bind(r.seen_at);
        }
        query.execute(&mut *tx).await?;
    }
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

/// Writes records (insert, or replace the row of a job that ended again, or the job's
/// live row), in one transaction. Of two records of one job, the later wins (PostgreSQL
/// refuses a statement that would update a row twice).
pub async fn record(db: &Db, records: &[HistoryRecord]) -> Result<(), sqlx::Error> {
    let rows: Vec<Row<'_>> = latest_of_each_job(records, |r| (&r.queue, &r.job_id)).map(Row::of).collect();
    upsert(db, &rows, Kind::Endings).await
}

/// Writes the rows of live jobs read at `seen_at` (Redis's time before the read), in one
/// transaction. A job that ended at or after `seen_at` keeps its record of that ending.
pub async fn index_live(db: &Db, jobs: &[Job], seen_at: i64) -> Result<(), sqlx::Error> {
    let rows: Vec<Row<'_>> =
        latest_of_each_job(jobs, |j| (&j.queue, &j.id)).map(|job| Row::live(job, seen_at)).collect();
    upsert(db, &rows, Kind::Live).await
}

/// The last item for each (queue, job id), in order.
fn latest_of_each_job<'a, T>(
    items: &'a [T],
    key: impl Fn(&'a T) -> (&'a String, &'a String),
) -> impl Iterator<Item = &'a T> {
    let mut latest: HashMap<(&String, &String), usize> = HashMap::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        latest.insert(key(item), i);
    }
    items.iter().enumerate().filter(move |(i, item)| latest.get(&key(item)) == Some(i)).map(|(_, item)| item)
}

async fn upsert(db: &Db, rows: &[Row<'_>], kind: Kind) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    if let Some(pool) = &db.postgres {
        let mut tx = pool.begin().await?;
        for part in statements(rows) {
            upsert_postgres(&mut tx, part, kind).await?;
        }
        return tx.commit().await;
    }
    let mut tx = db.pool.begin().await?;
    for part in statements(rows) {
        upsert_sqlite(&mut tx, part, kind).await?;
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

/// [`index_live`]; when the database refuses the batch for its data, halves it until each
/// refused job stands alone and leaves that one out of the index (its record of its
/// ending will be quarantined if refused again).
pub(super) async fn index_live_or_skip(db: &Db, jobs: &[Job], seen_at: i64) -> Result<(), sqlx::Error> {
    let mut parts = vec![jobs];
    while let Some(part) = parts.pop() {
        match index_live(db, part, seen_at).await {
            Ok(()) => {}
            Err(e) if is_data_error(db.kind, &e) => match part {
                [one] => {
                    tracing::warn!(queue = %one.queue, id = %one.id, error = %e, "search index refused a live job")
                }
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

/// Deletes the rows (live or finished) of these jobs of one queue. Returns how many.
pub async fn forget(db: &Db, queue: &str, ids: &[String]) -> Result<u64, sqlx::Error> {
    delete_rows(db, queue, ids, "").await
}

/// Deletes the live rows of these jobs of `queue` (gone from Redis: removed, drained);
/// records of their endings stay.
pub async fn forget_live(db: &Db, queue: &str, ids: &[String]) -> Result<u64, sqlx::Error> {
    delete_rows(db, queue, ids, "AND finished_at IS NULL").await
}

/// Deletes the rows of `ids` in `queue` that meet `condition`, 500 ids a statement.
async fn delete_rows(db: &Db, queue: &str, ids: &[String], condition: &str) -> Result<u64, sqlx::Error> {
    let mut deleted = 0;
    for chunk in ids.chunks(500) {
        let placeholders: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
        let sql =
            format!("DELETE FROM job_history WHERE queue = $1 {condition} AND job_id IN ({})", placeholders.join(", "));
        let mut statement = sqlx::query(&sql).bind(queue);
        for id in chunk {
            statement = statement.bind(id.as_str());
        }
        deleted += statement.execute(&db.pool).await?.rows_affected();
    }
    Ok(deleted)
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
            finished_at: Some(0),
            duration_ms: None,
            seen_at: None,
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
