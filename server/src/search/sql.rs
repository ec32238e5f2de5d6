//! A query as SQL over the index table (`job_history`): conditions in the SQL both
//! databases accept, with every value bound.
//!
//! Placeholders are numbered as values are bound (`$1`, `$2`...): sqlx's `QueryBuilder`
//! on the `Any` driver writes `?`, which PostgreSQL does not read.

use super::query::{Query, Term};
use crate::db::DbKind;

/// A value to bind.
#[derive(Clone, Debug, PartialEq)]
pub enum Bind {
    Text(String),
    Int(i64),
}

/// Conditions and the values they bind.
#[derive(Debug, Default)]
pub struct Conditions {
    pub clauses: Vec<String>,
    pub binds: Vec<Bind>,
}

impl Conditions {
    /// Binds a value; returns its placeholder.
    pub fn bind(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    fn bind_all(&mut self, values: &[String]) -> String {
        let placeholders: Vec<String> = values.iter().map(|v| self.bind(Bind::Text(v.clone()))).collect();
        placeholders.join(", ")
    }

    /// `WHERE ...`, or nothing.
    pub fn where_sql(&self) -> String {
        match self.clauses.is_empty() {
            true => String::new(),
            false => format!("WHERE {}", self.clauses.join(" AND ")),
        }
    }

    pub fn query<'q>(&self, sql: &'q str) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        let mut statement = sqlx::query(sql);
        for value in &self.binds {
            statement = match value {
                Bind::Text(text) => statement.bind(text.clone()),
                Bind::Int(n) => statement.bind(*n),
            };
        }
        statement
    }
}

/// Which rows a condition set is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rows {
    /// Live jobs' rows: the state is not in them, and Redis has the last word.
    Live,
    /// Records of endings, up to a search's snapshot time (epoch ms, Redis's clock) when
    /// there is one.
    Finished(Option<i64>),
}

/// The conditions of `query` on `rows`.
pub fn conditions(kind: DbKind, query: &Query, rows: Rows) -> Conditions {
    let mut c = Conditions::default();
    // The first clause is the phase's (`search::live_page` swaps it).
    let clause = match rows {
        Rows::Live => "finished_at IS NULL".into(),
        Rows::Finished(None) => "finished_at IS NOT NULL".into(),
        Rows::Finished(Some(at)) => format!("finished_at <= {}", c.bind(Bind::Int(at))),
    };
    c.clauses.push(clause);
    for term in &query.terms {
        let clause = match term {
            Term::Queue(values) => format!("queue IN ({})", c.bind_all(values)),
            Term::Name(values) => format!("name IN ({})", c.bind_all(values)),
            Term::Owner(values) => format!("owner IN ({})", c.bind_all(values)),
            Term::Id(values) => format!("job_id IN ({})", c.bind_all(values)),
            Term::State(states) => match rows {
                Rows::Live => continue,
                Rows::Finished(_) => {
                    let finished: Vec<String> =
                        states.iter().filter(|s| s.is_finished()).map(|s| s.as_str().to_string()).collect();
                    if finished.is_empty() { "1 = 0".into() } else { format!("status IN ({})", c.bind_all(&finished)) }
                }
            },
            Term::Error(text) => {
                let p = c.bind(Bind::Text(like_pattern(text)));
                format!("{} LIKE {p} ESCAPE '\\'", ascii_lower(kind, "errors"))
            }
            Term::Before(at) => format!("created_at < {}", c.bind(Bind::Int(*at))),
            Term::After(at) => format!("created_at >= {}", c.bind(Bind::Int(*at))),
            Term::Payload { path, values } => {
                let at = match kind {
                    // Every reading of the path's digit segments (array index or object
                    // key): at most one of them exists in a payload.
                    DbKind::Sqlite => {
                        let readings: Vec<String> = sqlite_paths(path)
                            .into_iter()
                            .map(|p| format!("(payload -> {})", c.bind(Bind::Text(p))))
                            .collect();
                        match readings.len() {
                            1 => readings.into_iter().next().unwrap_or_default(),
                            _ => format!("COALESCE({})", readings.join(", ")),
                        }
                    }
                    DbKind::Postgres => {
                        // Segments bound one by one: in an array literal (`{a,b}`) a
                        // segment `null` would be read as NULL.
                        let segments: Vec<String> = path.iter().map(|s| c.bind(Bind::Text(s.clone()))).collect();
                        // `json`, not `jsonb`: it keeps the stored text (numbers as written).
                        // PostgreSQL cannot read a `\u0000` escape in a JSON string as text
                        // and would fail the whole query, so it is read as U+FFFD here (a
                        // query value cannot hold the NUL itself: control characters are
                        // refused).
                        format!(
                            "((replace(payload, '\\u0000', '\\ufffd')::json #> ARRAY[{}]::text[])::text)",
                            segments.join(", ")
                        )
                    }
                };
                let forms: Vec<String> = values.iter().flat_map(|v| json_forms(v)).collect();
                format!("{at} IN ({})", c.bind_all(&forms))
            }
            Term::Text(text) => {
                let p = c.bind(Bind::Text(like_pattern(text)));
                let like = |column: &str| format!("{} LIKE {p} ESCAPE '\\'", ascii_lower(kind, column));
                format!(
                    "({} OR {} OR {} OR {})",
                    like("name"),
                    like("payload"),
                    like("COALESCE(result, '')"),
                    like("errors")
                )
            }
        };
        c.clauses.push(clause);
    }
    c
}

/// `LIKE` pattern for text anywhere, matched literally.
pub fn like_pattern(text: &str) -> String {
    let escaped = text.to_ascii_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

/// `expr` with ASCII letters in lower case and nothing else changed, as the pattern
/// (`like_pattern`) and the check of live jobs (`matching::contains_text`) fold it.
/// SQLite's `LOWER` folds only ASCII; PostgreSQL's folds every letter its locale knows.
pub fn ascii_lower(kind: DbKind, expr: &str) -> String {
    match kind {
        DbKind::Sqlite => format!("LOWER({expr})"),
        DbKind::Postgres => format!("translate({expr}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"),
    }
}

/// SQLite's JSON paths for a payload path: `$."a"[0]` and `$."a"."0"`, one for each way
/// of reading its digit segments (an array index or an object key), as PostgreSQL's
/// `#>` and [`super::matching::at_path`] read them whichever the value holds.
/// [`super::query`] allows at most `MAX_INDEX_SEGMENTS` digit segments, so 16 paths.
fn sqlite_paths(path: &[String]) -> Vec<String> {
    let mut paths = vec![String::from("$")];
    for segment in path {
        let key = format!(".\"{segment}\"");
        if segment.bytes().all(|b| b.is_ascii_digit()) {
            let index = format!("[{segment}]");
            paths = paths.into_iter().flat_map(|p| [format!("{p}{index}"), format!("{p}{key}")]).collect();
        } else {
            paths.iter_mut().for_each(|p| p.push_str(&key));
        }
    }
    paths
}

/// The JSON texts a payload value written `text` may have: the string, and the number,
/// boolean or null when `text` is one.
fn json_forms(text: &str) -> Vec<String> {
    let mut forms = vec![serde_json::Value::String(text.to_string()).to_string()];
    let scalar = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(value @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_) | serde_json::Value::Null)) => {
            Some(value.to_string())
        }
        _ => None,
    };
    // Only as serde_json writes it: the form stored payloads have.
    if scalar.as_deref() == Some(text) {
        forms.push(text.to_string());
    }
    forms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_value_forms() {
        assert_eq!(sqlite_paths(&["a".into(), "b-c".into()]), ["$.\"a\".\"b-c\""]);
        assert_eq!(
            sqlite_paths(&["a".into(), "0".into(), "1".into()]),
            ["$.\"a\"[0][1]", "$.\"a\"[0].\"1\"", "$.\"a\".\"0\"[1]", "$.\"a\".\"0\".\"1\""]
        );
        assert_eq!(json_forms("5"), ["\"5\"", "5"]);
        assert_eq!(json_forms("true"), ["\"true\"", "true"]);
        assert_eq!(json_forms("05"), ["\"05\""]);
        assert_eq!(json_forms("a\"b"), ["\"a\\\"b\""]);
        assert_eq!(like_pattern("50%_Off"), "%50\\%\\_off%");
    }
}
