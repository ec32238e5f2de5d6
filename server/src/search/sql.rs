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
    /// Records of endings.
    Finished,
}

/// The conditions of `query` on `rows`.
pub fn conditions(kind: DbKind, query: &Query, rows: Rows) -> Conditions {
    let mut c = Conditions::default();
    c.clauses.push(match rows {
        Rows::Live => "finished_at IS NULL".into(),
        Rows::Finished => "finished_at IS NOT NULL".into(),
    });
    for term in &query.terms {
        let clause = match term {
            Term::Queue(values) => format!("queue IN ({})", c.bind_all(values)),
            Term::Name(values) => format!("name IN ({})", c.bind_all(values)),
            Term::Owner(values) => format!("owner IN ({})", c.bind_all(values)),
            Term::Id(values) => format!("job_id IN ({})", c.bind_all(values)),
            Term::State(states) => match rows {
                Rows::Live => continue,
                Rows::Finished => {
                    let finished: Vec<String> =
                        states.iter().filter(|s| s.is_finished()).map(|s| s.as_str().to_string()).collect();
                    if finished.is_empty() { "1 = 0".into() } else { format!("status IN ({})", c.bind_all(&finished)) }
                }
            },
            Term::Error(text) => {
                let p = c.bind(Bind::Text(like_pattern(text)));
                format!("LOWER(errors) LIKE {p} ESCAPE '\\'")
            }
            Term::Before(at) => format!("created_at < {}", c.bind(Bind::Int(*at))),
            Term::After(at) => format!("created_at >= {}", c.bind(Bind::Int(*at))),
            Term::Payload { path, values } => {
                let at = match kind {
                    DbKind::Sqlite => format!("(payload -> {})", c.bind(Bind::Text(sqlite_path(path)))),
                    DbKind::Postgres => format!(
                        // `json`, not `jsonb`: it keeps the stored text (numbers as written) and
                        // takes every string serde_json writes, `\u0000` included.
                        "((payload::json #> CAST({} AS text[]))::text)",
                        c.bind(Bind::Text(format!("{{{}}}", path.join(","))))
                    ),
                };
                let forms: Vec<String> = values.iter().flat_map(|v| json_forms(v)).collect();
                format!("{at} IN ({})", c.bind_all(&forms))
            }
            Term::Text(text) => {
                let p = c.bind(Bind::Text(like_pattern(text)));
                format!(
                    "(LOWER(name) LIKE {p} ESCAPE '\\' OR LOWER(payload) LIKE {p} ESCAPE '\\' \
                     OR LOWER(COALESCE(result, '')) LIKE {p} ESCAPE '\\' OR LOWER(errors) LIKE {p} ESCAPE '\\')"
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

/// SQLite's JSON path: `$."a"[0]`, a segment of digits indexing an array.
fn sqlite_path(path: &[String]) -> String {
    let mut out = String::from("$");
    for segment in path {
        if segment.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{segment}]"));
        } else {
            out.push_str(&format!(".\"{segment}\""));
        }
    }
    out
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
        assert_eq!(sqlite_path(&["a".into(), "0".into(), "b-c".into()]), "$.\"a\"[0].\"b-c\"");
        assert_eq!(json_forms("5"), ["\"5\"", "5"]);
        assert_eq!(json_forms("true"), ["\"true\"", "true"]);
        assert_eq!(json_forms("05"), ["\"05\""]);
        assert_eq!(json_forms("a\"b"), ["\"a\\\"b\""]);
        assert_eq!(like_pattern("50%_Off"), "%50\\%\\_off%");
    }
}
