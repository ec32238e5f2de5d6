//! Reports over a period, computed from the SQL job history and audit log (never from
//! Redis), and kept in SQL as JSON:
//!
//! - `usage`: jobs per queue and job name, per owner, the busiest hours;
//! - `performance`: throughput over time, wait and run time percentiles, the slowest
//!   jobs, stalls;
//! - `audit`: actions by user and kind, failed actions, sign-in failures and lockouts,
//!   token use;
//! - `period`: the span a report covers; `tables`: a report as tables (CSV download,
//!   email); `email`: the email to admins.
//!
//! The `report` job of the reports processor ([`crate::processors::reports`]) makes them.

mod audit;
pub mod email;
mod ended_jobs;
mod performance;
pub mod period;
pub mod tables;
mod usage;

use app::reports::{Report, ReportFigures, ReportKind, ReportSummary};
use sqlx::Row;

pub use period::{BadPeriod, MAX_PERIOD_DAYS, Period};

use crate::db::{Db, now_ms};

/// Computes one report over `period`.
pub async fn compute(db: &Db, kind: ReportKind, period: Period) -> Result<ReportFigures, sqlx::Error> {
    Ok(match kind {
        ReportKind::Usage => ReportFigures::Usage(usage::usage(db, period).await?),
        ReportKind::Performance => ReportFigures::Performance(performance::performance(db, period).await?),
        ReportKind::Audit => ReportFigures::Audit(audit::audit(db, period).await?),
    })
}

/// The report `job_id` already stored of `kind`, if any.
pub async fn stored_for_job(db: &Db, job_id: &str, kind: ReportKind) -> Result<Option<i64>, sqlx::Error> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT id FROM reports WHERE job_id = $1 AND kind = $2")
        .bind(job_id)
        .bind(kind.as_str())
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.map(|(id,)| id))
}

/// Stores a report made by job `job_id`; returns its id. Storing the same job's report of
/// the same kind again (a retry racing an earlier attempt) keeps the first.
pub async fn store(
    db: &Db,
    kind: ReportKind,
    period: Period,
    requested_by: &str,
    job_id: &str,
    figures: &ReportFigures,
) -> Result<i64, sqlx::Error> {
    let figures = serde_json::to_string(figures).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query(
        "INSERT INTO reports (kind, period_from, period_to, created_at, requested_by, job_id, figures)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (job_id, kind) DO NOTHING",
    )
    .bind(kind.as_str())
    .bind(period.from)
    .bind(period.to)
    .bind(now_ms())
    .bind(requested_by)
    .bind(job_id)
    .bind(figures)
    .execute(&db.pool)
    .await?;
    stored_for_job(db, job_id, kind).await?.ok_or(sqlx::Error::RowNotFound)
}

fn summary(row: &sqlx::any::AnyRow) -> Result<Option<ReportSummary>, sqlx::Error> {
    let kind: String = row.try_get("kind")?;
    let Some(kind) = ReportKind::parse(&kind) else { return Ok(None) };
    Ok(Some(ReportSummary {
        id: row.try_get("id")?,
        kind,
        from: row.try_get("period_from")?,
        to: row.try_get("period_to")?,
        created_at: row.try_get("created_at")?,
        requested_by: row.try_get("requested_by")?,
    }))
}

/// Most reports one list answer holds.
pub const MAX_LIST: u32 = 100;

/// Stored reports, newest first: up to `limit` (1 to [`MAX_LIST`]) with ids below
/// `before` when given.
pub async fn list(db: &Db, limit: u32, before: Option<i64>) -> Result<Vec<ReportSummary>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, kind, period_from, period_to, created_at, requested_by FROM reports
         WHERE id < $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(before.unwrap_or(i64::MAX))
    .bind(i64::from(limit.clamp(1, MAX_LIST)))
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.iter().map(summary).collect::<Result<Vec<_>, _>>()?.into_iter().flatten().collect())
}

/// One stored report with its figures.
pub async fn get(db: &Db, id: i64) -> Result<Option<Report>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, kind, period_from, period_to, created_at, requested_by, figures FROM reports WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let Some(summary) = summary(&row)? else { return Ok(None) };
    let figures: String = row.try_get("figures")?;
    let figures = serde_json::from_str(&figures).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok(Some(Report { summary, figures }))
}
