//! The report email: each report's headline figures and the first rows of its main
//! table, with a link to the whole report on the dashboard, in the admin's language.

use app::reports::{Report, ReportFigures};
use serde::Serialize;

use super::tables::{Table, tables};
use crate::db::Db;
use crate::processors::notifications::templates::{self, Rendered};

/// Rows of each report's main table the email shows; the rest are a link away.
pub const EMAIL_ROWS: usize = 10;

/// An admin who gets report emails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    pub id: i64,
    pub email: String,
    pub locale: String,
}

/// Every enabled admin with an email address, in the language they chose on the
/// dashboard (else their account's locale).
pub async fn recipients(db: &Db) -> Result<Vec<Recipient>, sqlx::Error> {
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT id, email, COALESCE(language, locale) FROM users
         WHERE role = 'admin' AND disabled = 0 AND email IS NOT NULL AND email <> '' ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(|(id, email, locale)| Recipient { id, email, locale }).collect())
}

/// Whether report job `job_id`'s email to admin `user_id` was enqueued.
pub async fn sent(db: &Db, job_id: &str, user_id: i64) -> Result<bool, sqlx::Error> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT user_id FROM report_emails WHERE job_id = $1 AND user_id = $2")
        .bind(job_id)
        .bind(user_id)
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.is_some())
}

/// Notes that report job `job_id`'s email to admin `user_id` was enqueued: however long
/// after a retry comes (the email job itself may be gone), it is not sent again.
pub async fn note_sent(db: &Db, job_id: &str, user_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO report_emails (job_id, user_id, sent_at) VALUES ($1, $2, $3) ON CONFLICT (job_id, user_id) DO NOTHING",
    )
    .bind(job_id)
    .bind(user_id)
    .bind(crate::db::now_ms())
    .execute(&db.pool)
    .await?;
    Ok(())
}

#[derive(Serialize)]
struct Figure {
    key: &'static str,
    value: String,
}

#[derive(Serialize)]
struct Section {
    kind: &'static str,
    link: String,
    figures: Vec<Figure>,
    table: Table,
    more_rows: usize,
}

fn ms(value: Option<u64>) -> String {
    value.map(|v| format!("{v} ms")).unwrap_or_else(|| "–".into())
}

fn figures(report: &Report) -> Vec<Figure> {
    let figure = |key, value: String| Figure { key, value };
    match &report.figures {
        ReportFigures::Usage(u) => vec![
            figure("enqueued", u.totals.enqueued.to_string()),
            figure("completed", u.totals.completed.to_string()),
            figure("failed", u.totals.failed.to_string()),
            figure("retried", u.totals.retried.to_string()),
            figure("dead", u.totals.dead.to_string()),
            figure("cancelled", u.totals.cancelled.to_string()),
            figure("failure_rate", format!("{:.2} %", u.totals.failure_rate() * 100.0)),
            figure("owners", u.owners.to_string()),
        ],
        ReportFigures::Performance(p) => vec![
            figure("wait_p50_ms", ms(p.wait_ms.p50)),
            figure("wait_p95_ms", ms(p.wait_ms.p95)),
            figure("wait_p99_ms", ms(p.wait_ms.p99)),
            figure("run_p50_ms", ms(p.run_ms.p50)),
            figure("run_p95_ms", ms(p.run_ms.p95)),
            figure("run_p99_ms", ms(p.run_ms.p99)),
            figure("stalls", p.stalls.to_string()),
            figure("lost_to_stalls", p.lost_to_stalls.to_string()),
        ],
        ReportFigures::Audit(a) => vec![
            figure("actions", a.actions.to_string()),
            figure("failed_actions", a.failed_actions.to_string()),
            figure("sign_in_failures", a.sign_in_failures.to_string()),
            figure("lockouts", a.lockouts.to_string()),
            figure("tokens", a.tokens.len().to_string()),
        ],
    }
}

/// The email of `reports` (one run's, over one period) in `locale` (`en`, `mn`; others
/// fall back to English), linking to each on the dashboard at `dashboard_url`.
pub fn render(reports: &[Report], locale: &str, dashboard_url: &str) -> Result<Rendered, minijinja::Error> {
    let base = dashboard_url.trim_end_matches('/');
    let sections: Vec<Section> = reports
        .iter()
        .map(|report| {
            let mut table = tables(report).into_iter().next().expect("every report has a main table");
            let more_rows = table.rows.len().saturating_sub(EMAIL_ROWS);
            table.rows.truncate(EMAIL_ROWS);
            Section {
                kind: report.summary.kind.as_str(),
                link: format!("{base}/reports/{}", report.summary.id),
                figures: figures(report),
                table,
                more_rows,
            }
        })
        .collect();
    let period =
        reports.first().map(|r| super::Period { from: r.summary.from, to: r.summary.to }.label()).unwrap_or_default();
    let context = serde_json::json!({
        "app": "Hoist",
        "period": period,
        "sections": sections,
        "reports_url": format!("{base}/reports"),
    });
    templates::render("report", templates::pick_locale(Some(locale)), &context)
}
