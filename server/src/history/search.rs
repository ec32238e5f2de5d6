//! Searching the history table: filters, free text, newest first, cursor paging.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::HistoryRecord;
use crate::db::Db;

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
        && !matches!(status.as_str(), "completed" | "dead" | "cancelled" | "expired")
    {
        return Ok(Err(BadQuery { field: "status", message: "must be completed, dead, cancelled or expired".into() }));
    }
    // Live rows (the search index's) have no ending yet.
    let mut clauses: Vec<String> = vec!["finished_at IS NOT NULL".into()];
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
    let filter = format!("WHERE {}", clauses.join(" AND "));
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
