//! The job history rows a report reads: jobs that ended in the period, one at a time
//! (a month can hold millions; nothing keeps them all in memory).

use futures::{Stream, StreamExt};
use sqlx::Row;

use super::Period;
use crate::db::Db;

/// One job that ended, as reports see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndedJob {
    pub queue: String,
    pub id: String,
    pub name: String,
    pub owner: Option<String>,
    /// `completed`, `dead`, `cancelled` or `expired`.
    pub status: String,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: i64,
    pub duration_ms: Option<i64>,
    /// Failed attempts recorded (each error the job kept; the engine keeps the last 100).
    pub failures: u64,
    /// Of them, stalls: attempts whose worker stopped renewing the lease.
    pub stalls: u64,
    /// Whether the last failure was a stall.
    pub last_failure_stalled: bool,
}

impl EndedJob {
    /// Failed attempts that were run again: all of them, but a dead job's last.
    pub fn retried(&self) -> u64 {
        if self.status == "dead" { self.failures.saturating_sub(1) } else { self.failures }
    }

    /// Enqueue to (last) start, for a job that started.
    pub fn wait_ms(&self) -> Option<u64> {
        self.started_at.map(|started| u64::try_from(started - self.created_at).unwrap_or(0))
    }

    /// A completed job's run time.
    pub fn run_ms(&self) -> Option<u64> {
        (self.status == "completed").then_some(self.duration_ms).flatten().map(|d| u64::try_from(d).unwrap_or(0))
    }

    /// A dead job whose lease was lost: its last attempt stalled.
    pub fn lost_to_stall(&self) -> bool {
        self.status == "dead" && self.last_failure_stalled
    }
}

#[derive(serde::Deserialize)]
struct Failure {
    #[serde(default)]
    kind: String,
}

/// Counts a job's failures and stalls from its errors (a JSON array).
fn failures_of(errors: &str) -> (u64, u64, bool) {
    if errors == "[]" {
        return (0, 0, false);
    }
    let failures: Vec<Failure> = serde_json::from_str(errors).unwrap_or_default();
    let stalls = failures.iter().filter(|f| f.kind == "stalled").count() as u64;
    (failures.len() as u64, stalls, failures.last().is_some_and(|f| f.kind == "stalled"))
}

/// Every job that ended in `period`, in no particular order.
pub fn ended_jobs<'a>(db: &'a Db, period: Period) -> impl Stream<Item = Result<EndedJob, sqlx::Error>> + 'a {
    sqlx::query(
        "SELECT queue, job_id, name, owner, status, created_at, started_at, finished_at, duration_ms, errors
         FROM job_history WHERE finished_at >= $1 AND finished_at < $2 AND status <> 'live'",
    )
    .bind(period.from)
    .bind(period.to)
    .fetch(&db.pool)
    .map(|row| {
        let row = row?;
        let errors: String = row.try_get(9)?;
        let (failures, stalls, last_failure_stalled) = failures_of(&errors);
        Ok(EndedJob {
            queue: row.try_get(0)?,
            id: row.try_get(1)?,
            name: row.try_get(2)?,
            owner: row.try_get(3)?,
            status: row.try_get(4)?,
            created_at: row.try_get(5)?,
            started_at: row.try_get(6)?,
            finished_at: row.try_get::<Option<i64>, _>(7)?.unwrap_or_default(),
            duration_ms: row.try_get(8)?,
            failures,
            stalls,
            last_failure_stalled,
        })
    })
}

/// Jobs created in `period`, per queue and name (ended or not), one group at a time.
pub fn enqueued_by_job<'a>(
    db: &'a Db,
    period: Period,
) -> impl Stream<Item = Result<(String, String, u64), sqlx::Error>> + 'a {
    sqlx::query_as::<_, (String, String, i64)>(
        "SELECT queue, name, COUNT(*) FROM job_history WHERE created_at >= $1 AND created_at < $2 GROUP BY queue, name",
    )
    .bind(period.from)
    .bind(period.to)
    .fetch(&db.pool)
    .map(|row| row.map(|(queue, name, count)| (queue, name, count.max(0) as u64)))
}

/// Jobs created in `period`, per owner (jobs without one left out), one owner at a time.
pub fn enqueued_by_owner<'a>(
    db: &'a Db,
    period: Period,
) -> impl Stream<Item = Result<(String, u64), sqlx::Error>> + 'a {
    sqlx::query_as::<_, (String, i64)>(
        "SELECT owner, COUNT(*) FROM job_history
         WHERE created_at >= $1 AND created_at < $2 AND owner IS NOT NULL GROUP BY owner",
    )
    .bind(period.from)
    .bind(period.to)
    .fetch(&db.pool)
    .map(|row| row.map(|(owner, count)| (owner, count.max(0) as u64)))
}

#[cfg(test)]
mod tests {
    use super::failures_of;

    #[test]
    fn failures_and_stalls_are_read_from_the_errors() {
        assert_eq!(failures_of("[]"), (0, 0, false));
        let errors = r#"[{"attempt":1,"kind":"stalled","message":"x"},{"attempt":2,"kind":"retryable","message":"y"}]"#;
        assert_eq!(failures_of(errors), (2, 1, false));
        assert_eq!(failures_of(r#"[{"kind":"timeout"},{"kind":"stalled"}]"#), (2, 1, true));
        // A damaged record counts nothing rather than failing the report.
        assert_eq!(failures_of("not json"), (0, 0, false));
    }
}
