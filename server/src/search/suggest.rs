//! Autocomplete for the search language: what the last word of a query could become.
//!
//! - a bare word: the qualifiers it starts (`st` → `state:`);
//! - `queue:` → queue names, `state:` → states, `name:` → job names, `owner:` → owners
//!   (staff only), `before:`/`after:` → ages and today's date;
//! - `payload.` → paths of the payloads of recent jobs.
//!
//! Names come from the index (distinct values by index, a prefix at a time), queue names
//! from the engine's registry, payload paths from the newest 200 live and 200 finished
//! rows.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::query::{MAX_QUERY_BYTES, QUALIFIERS};
use crate::db::Db;

/// Suggestions per answer at most.
pub const MAX_SUGGESTIONS: usize = 12;
/// Live rows, and finished ones, whose payload paths are offered.
const PAYLOAD_SAMPLE: i64 = 200;
/// Deepest payload path offered.
const MAX_PATH_DEPTH: usize = 3;

/// A suggestion request: the query typed so far.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SuggestRequest {
    /// The query as typed; its last word is completed. At most 1,000 bytes.
    #[serde(default)]
    pub q: String,
}

/// What the last word may become: each `value` replaces the query from byte `from` on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Suggestions {
    pub from: usize,
    pub values: Vec<String>,
}

/// What the suggestions may draw on besides the index.
pub struct Context<'a> {
    pub queues: &'a [String],
    /// Only this owner's rows (end users); owners are then not suggested.
    pub owner: Option<&'a str>,
    pub today: &'a str,
}

/// Suggestions for the last word of `text`; `None` when the text is longer than a query
/// may be.
pub async fn suggest(db: &Db, text: &str, context: &Context<'_>) -> anyhow::Result<Option<Suggestions>> {
    if text.len() > MAX_QUERY_BYTES {
        return Ok(None);
    }
    let from = text.rfind(char::is_whitespace).map_or(0, |i| i + text[i..].chars().next().map_or(1, char::len_utf8));
    let word = &text[from..];
    let mut values: Vec<String> = match word.split_once(':') {
        None if word.starts_with("payload.") || word == "payload" => {
            let partial = word.strip_prefix("payload").unwrap_or_default().trim_start_matches('.');
            payload_paths(db, context.owner)
                .await?
                .into_iter()
                .filter(|path| path.starts_with(partial))
                .map(|path| format!("payload.{path}:"))
                .collect()
        }
        None => QUALIFIERS
            .iter()
            .filter(|q| q.starts_with(word) && **q != "payload")
            .map(|q| format!("{q}:"))
            .chain(("payload".starts_with(word)).then(|| "payload.".to_string()))
            .collect(),
        Some((qualifier, partial)) => {
            let partial = partial.rsplit(',').next().unwrap_or_default();
            let head = &word[..word.len() - partial.len()];
            let options: Vec<String> = match qualifier {
                "queue" => context.queues.iter().filter(|q| q.starts_with(partial)).cloned().collect(),
                "state" => hoist_queue::JobState::ALL
                    .iter()
                    .map(|s| s.as_str().to_string())
                    .filter(|s| s.starts_with(partial))
                    .collect(),
                "name" => distinct(db, "name", partial, context.owner).await?,
                "owner" if context.owner.is_none() => distinct(db, "owner", partial, None).await?,
                "before" | "after" => ["1h", "1d", "7d", "30d", context.today]
                    .iter()
                    .filter(|v| v.starts_with(partial))
                    .map(|v| v.to_string())
                    .collect(),
                _ => vec![],
            };
            options.into_iter().map(|option| format!("{head}{}", quoted(&option))).collect()
        }
    };
    values.truncate(MAX_SUGGESTIONS);
    Ok(Some(Suggestions { from, values }))
}

/// A value as the language reads it back.
fn quoted(value: &str) -> String {
    if value.is_empty() || value.contains(|c: char| c.is_whitespace() || c == ',' || c == '"') {
        format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        value.to_string()
    }
}

/// Distinct values of a column starting with `prefix`, first ones in order.
async fn distinct(db: &Db, column: &str, prefix: &str, owner: Option<&str>) -> anyhow::Result<Vec<String>> {
    let filter = if owner.is_some() { "AND owner = $2" } else { "" };
    let sql = format!(
        "SELECT DISTINCT {column} AS value FROM job_history WHERE {column} LIKE $1 ESCAPE '\\' {filter} \
         ORDER BY value LIMIT {MAX_SUGGESTIONS}"
    );
    let mut statement = sqlx::query(&sql).bind(like_prefix(prefix));
    if let Some(owner) = owner {
        statement = statement.bind(owner.to_string());
    }
    let rows = statement.fetch_all(&db.pool).await?;
    Ok(rows.iter().filter_map(|r| r.try_get::<String, _>("value").ok()).collect())
}

/// `LIKE` pattern for text starting with `prefix` (case as typed).
fn like_prefix(prefix: &str) -> String {
    let escaped = prefix.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("{escaped}%")
}

/// Paths (`a`, `a.b`) in the payloads of the newest rows.
async fn payload_paths(db: &Db, owner: Option<&str>) -> anyhow::Result<Vec<String>> {
    let owner_filter = if owner.is_some() { "AND owner = $1" } else { "" };
    let mut rows = vec![];
    // The newest live rows and the newest finished ones, each by an index.
    for (rows_of, order) in [("finished_at IS NULL", "job_id DESC"), ("finished_at IS NOT NULL", "finished_at DESC")] {
        let sql = format!(
            "SELECT payload FROM job_history WHERE {rows_of} {owner_filter} ORDER BY {order} LIMIT {PAYLOAD_SAMPLE}"
        );
        let mut statement = sqlx::query(&sql);
        if let Some(owner) = owner {
            statement = statement.bind(owner.to_string());
        }
        rows.extend(statement.fetch_all(&db.pool).await?);
    }
    let mut paths = BTreeSet::new();
    for row in rows {
        let Ok(text) = row.try_get::<String, _>("payload") else { continue };
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) {
            collect_paths(&value, "", 1, &mut paths);
        }
    }
    Ok(paths.into_iter().collect())
}

fn collect_paths(value: &serde_json::Value, prefix: &str, depth: usize, out: &mut BTreeSet<String>) {
    let serde_json::Value::Object(map) = value else { return };
    for (key, child) in map {
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            continue; // the language cannot name it
        }
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        if depth < MAX_PATH_DEPTH {
            collect_paths(child, &path, depth + 1, out);
        }
        out.insert(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_when_the_language_needs_it() {
        assert_eq!(quoted("sync"), "sync");
        assert_eq!(quoted("a b"), "\"a b\"");
        assert_eq!(quoted("a\"b"), "\"a\\\"b\"");
        assert_eq!(like_prefix("50%_"), "50\\%\\_%");
    }

    #[test]
    fn payload_paths_go_three_deep_and_skip_unnameable_keys() {
        let mut out = BTreeSet::new();
        let payload = serde_json::json!({"a": {"b": {"c": {"d": 1}}}, "x y": 1, "n": [1]});
        collect_paths(&payload, "", 1, &mut out);
        assert_eq!(out.into_iter().collect::<Vec<_>>(), ["a", "a.b", "a.b.c", "n"]);
    }
}
