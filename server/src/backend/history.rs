//! The history page: the SQL search of finished jobs, with dates typed as days.

use app::types::{HistoryFilter, HistoryRow, HistoryView};

use app::error::AppError;

use super::ServerBackend;
use crate::history::HistoryQuery;

/// Epoch ms of a `YYYY-MM-DD` day's start (UTC), plus `days`.
fn day_start(field: &str, text: &str, days: i64) -> Result<Option<i64>, AppError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let date = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| AppError::invalid(field, format!("{field}: expected a date as YYYY-MM-DD, got {text:?}")))?;
    let start = date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc().timestamp_millis();
    Ok(Some(start + days * 86_400_000))
}

fn given(text: String) -> Option<String> {
    let text = text.trim().to_string();
    (!text.is_empty()).then_some(text)
}

pub(super) async fn search(backend: &ServerBackend, filter: HistoryFilter) -> Result<HistoryView, AppError> {
    let principal = backend.principal().await?;
    let query = HistoryQuery {
        from: day_start("from", &filter.from, 0)?,
        // Through the end of the "to" day.
        to: day_start("to", &filter.to, 1)?,
        id: given(filter.id),
        queue: given(filter.queue),
        name: given(filter.name),
        owner: given(filter.owner),
        status: given(filter.status),
        q: given(filter.q),
        cursor: given(filter.cursor),
        limit: Some(50),
    };
    let page = crate::services::history::search(&backend.state, &principal, query).await?;
    Ok(HistoryView {
        rows: page
            .records
            .into_iter()
            .map(|r| HistoryRow {
                error: r.error.as_ref().and_then(|e| e.get("message")).and_then(|m| m.as_str()).map(str::to_string),
                queue: r.queue,
                job_id: r.job_id,
                name: r.name,
                owner: r.owner,
                status: r.status,
                attempts: r.attempts,
                finished_at: r.finished_at,
                duration_ms: r.duration_ms,
            })
            .collect(),
        next: page.next,
    })
}

#[cfg(test)]
mod tests {
    use super::day_start;

    #[test]
    fn days_are_utc_midnights_and_bad_dates_name_the_field() {
        assert_eq!(day_start("from", "2026-11-22", 0), Ok(Some(1_795_305_600_000)));
        assert_eq!(day_start("to", "2026-11-22", 1), Ok(Some(1_795_392_000_000)));
        assert_eq!(day_start("from", " ", 0), Ok(None));
        assert_eq!(day_start("to", "22/11/2026", 1).unwrap_err().error.field.as_deref(), Some("to"));
    }
}
