//! The search language: qualifiers and free text, all of which must match.
//!
//! ```text
//! queue:sync state:dead,cancelled payload.connection_id:5 after:7d "read timed out"
//! ```
//!
//! - `queue:`, `name:`, `owner:`, `id:`, `state:` take one value or several separated by
//!   commas (any of them matches); `state:` is one of the engine's states.
//! - `error:` is text in any of the job's errors; free text (a word, or a phrase in
//!   double quotes) is text in the job's name, payload, result or errors. Both ignore
//!   ASCII case.
//! - `payload.a.b:v` matches a job whose payload has `v` at that path: the string `v`, or
//!   the number, `true`, `false` or `null` written `v`. A path segment of digits (at most
//!   nine, and at most four such segments) indexes an array or names an object's key;
//!   segments are letters, digits, `_` and `-`, not leading `-`.
//! - `before:` and `after:` bound when the job was created: a date (`2026-11-24`, UTC), a
//!   time (`2026-11-24T10:30`, UTC, or RFC 3339 with an offset), or an age (`15m`, `2h`,
//!   `7d`, `1w`: that long ago).
//!
//! A value with spaces, commas or quotes goes in double quotes (`\"` and `\\` escape).

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use hoist_queue::JobState;

/// Longest query, in bytes.
pub const MAX_QUERY_BYTES: usize = 1_000;
/// Most terms (qualifiers and words) in one query.
pub const MAX_TERMS: usize = 20;
/// Most values one qualifier lists.
pub const MAX_VALUES: usize = 20;
/// Most segments of a payload path.
pub const MAX_PATH_SEGMENTS: usize = 8;
/// Longest payload path segment, in bytes.
pub const MAX_SEGMENT_BYTES: usize = 64;
/// Most segments of digits in one payload path: each is read as an array index or an
/// object key, and SQLite asks for every combination.
pub const MAX_INDEX_SEGMENTS: usize = 4;

/// The qualifiers, as typed before the colon (`payload.` starts a path).
pub const QUALIFIERS: [&str; 9] = ["queue", "state", "name", "owner", "id", "error", "before", "after", "payload"];

/// One condition of a query.
#[derive(Clone, Debug, PartialEq)]
pub enum Term {
    Queue(Vec<String>),
    State(Vec<JobState>),
    Name(Vec<String>),
    Owner(Vec<String>),
    Id(Vec<String>),
    /// Text in the job's errors.
    Error(String),
    /// Created before this time (epoch ms).
    Before(i64),
    /// Created at or after this time (epoch ms).
    After(i64),
    /// A value at a path in the payload.
    Payload {
        path: Vec<String>,
        values: Vec<String>,
    },
    /// Text in the job's name, payload, result or errors.
    Text(String),
}

/// A parsed query: every term must match.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Query {
    pub terms: Vec<Term>,
}

/// Why a query cannot be read, with where in it (a byte offset).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("at {at}: {message}")]
pub struct QueryError {
    pub at: usize,
    pub message: String,
}

fn fail<T>(at: usize, message: impl Into<String>) -> Result<T, QueryError> {
    Err(QueryError { at, message: message.into() })
}

/// Reads a query. `now` (epoch ms) anchors ages such as `after:2h`.
pub fn parse(text: &str, now: i64) -> Result<Query, QueryError> {
    if text.len() > MAX_QUERY_BYTES {
        return fail(MAX_QUERY_BYTES, format!("a query is at most {MAX_QUERY_BYTES} bytes"));
    }
    if let Some((at, c)) = text.char_indices().find(|(_, c)| c.is_control() && !c.is_whitespace()) {
        return fail(at, format!("control character {c:?}"));
    }
    let mut reader = Reader { text, at: 0 };
    let mut terms = vec![];
    loop {
        reader.skip_spaces();
        if reader.done() {
            break;
        }
        if terms.len() == MAX_TERMS {
            return fail(reader.at, format!("a query has at most {MAX_TERMS} terms"));
        }
        terms.push(reader.term(now)?);
    }
    Ok(Query { terms })
}

struct Reader<'a> {
    text: &'a str,
    at: usize,
}

impl Reader<'_> {
    fn done(&self) -> bool {
        self.at >= self.text.len()
    }

    fn peek(&self) -> Option<char> {
        self.text[self.at..].chars().next()
    }

    fn skip_spaces(&mut self) {
        while let Some(c) = self.peek().filter(|c| c.is_whitespace()) {
            self.at += c.len_utf8();
        }
    }

    /// A qualifier's name, if the text here is one followed by a colon.
    fn qualifier(&self) -> Option<&str> {
        let rest = &self.text[self.at..];
        let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))?;
        let name = &rest[..end];
        (rest[end..].starts_with(':') && name.starts_with(|c: char| c.is_ascii_alphabetic())).then_some(name)
    }

    fn term(&mut self, now: i64) -> Result<Term, QueryError> {
        let start = self.at;
        let Some(name) = self.qualifier() else {
            let text = self.item(false)?;
            if text.is_empty() {
                return fail(start, "empty phrase");
            }
            return Ok(Term::Text(text));
        };
        let name = name.to_string();
        self.at += name.len() + 1;
        let value_at = self.at;
        if let Some(path) = name.strip_prefix("payload.") {
            let path = payload_path(path).map_err(|message| QueryError { at: start, message })?;
            return Ok(Term::Payload { path, values: self.values(&name)? });
        }
        let term = match name.as_str() {
            "queue" => Term::Queue(self.values(&name)?),
            "name" => Term::Name(self.values(&name)?),
            "owner" => Term::Owner(self.values(&name)?),
            "id" => Term::Id(self.values(&name)?),
            "state" => {
                let mut states = vec![];
                for value in self.values(&name)? {
                    match JobState::parse(&value) {
                        Some(state) => states.push(state),
                        None => {
                            let known: Vec<&str> = JobState::ALL.iter().map(|s| s.as_str()).collect();
                            return fail(value_at, format!("state: {value:?} is not one of {}", known.join(", ")));
                        }
                    }
                }
                Term::State(states)
            }
            "error" => Term::Error(self.single(&name)?),
            "before" => Term::Before(
                time_value(&self.single(&name)?, now).map_err(|m| QueryError { at: value_at, message: m })?,
            ),
            "after" => {
                Term::After(time_value(&self.single(&name)?, now).map_err(|m| QueryError { at: value_at, message: m })?)
            }
            "payload" => return fail(start, "payload: needs a path, as in payload.connection_id:5"),
            other => {
                return fail(start, format!("unknown qualifier {other:?}; known: {}", QUALIFIERS.join(", ")));
            }
        };
        Ok(term)
    }

    /// One value (no commas), not empty.
    fn single(&mut self, name: &str) -> Result<String, QueryError> {
        let at = self.at;
        let value = self.item(false)?;
        if value.is_empty() {
            return fail(at, format!("{name}: needs a value"));
        }
        Ok(value)
    }

    /// Values separated by commas, none empty.
    fn values(&mut self, name: &str) -> Result<Vec<String>, QueryError> {
        let mut values = vec![];
        loop {
            let at = self.at;
            let value = self.item(true)?;
            if value.is_empty() {
                return fail(at, format!("{name}: needs a value"));
            }
            if values.len() == MAX_VALUES {
                return fail(at, format!("{name}: at most {MAX_VALUES} values"));
            }
            values.push(value);
            if self.peek() == Some(',') {
                self.at += 1;
            } else {
                return Ok(values);
            }
        }
    }

    /// A quoted string, or text up to a space (or a comma, in a list).
    fn item(&mut self, in_list: bool) -> Result<String, QueryError> {
        let start = self.at;
        if self.peek() == Some('"') {
            self.at += 1;
            let mut out = String::new();
            loop {
                let Some(c) = self.peek() else { return fail(start, "unclosed quote") };
                self.at += c.len_utf8();
                match c {
                    '"' => break,
                    '\\' => match self.peek() {
                        Some(next @ ('"' | '\\')) => {
                            self.at += 1;
                            out.push(next);
                        }
                        _ => out.push('\\'),
                    },
                    c => out.push(c),
                }
            }
            if self.peek().is_some_and(|c| !(c.is_whitespace() || (in_list && c == ','))) {
                return fail(self.at, "a space must follow a closing quote");
            }
            return Ok(out);
        }
        let rest = &self.text[self.at..];
        let end = rest.find(|c: char| c.is_whitespace() || (in_list && c == ',')).unwrap_or(rest.len());
        let value = &rest[..end];
        if let Some(quote) = value.find('"') {
            return fail(self.at + quote, "a quote may only start a value");
        }
        self.at += end;
        Ok(value.to_string())
    }
}

/// The segments of `a.b.0`: letters, digits, `_` and `-`.
fn payload_path(path: &str) -> Result<Vec<String>, String> {
    let segments: Vec<&str> = path.split('.').collect();
    if segments.len() > MAX_PATH_SEGMENTS {
        return Err(format!("a payload path has at most {MAX_PATH_SEGMENTS} segments"));
    }
    for segment in &segments {
        if segment.is_empty() || segment.len() > MAX_SEGMENT_BYTES {
            return Err(format!("payload path segments are 1 to {MAX_SEGMENT_BYTES} characters"));
        }
        if segment.starts_with('-') {
            return Err(format!("payload path segment {segment:?} starts with '-'"));
        }
        // An array index: what both databases take as one.
        if segment.bytes().all(|b| b.is_ascii_digit()) && segment.len() > 9 {
            return Err(format!("payload path index {segment:?} is beyond 999,999,999"));
        }
    }
    if segments.iter().filter(|s| s.bytes().all(|b| b.is_ascii_digit())).count() > MAX_INDEX_SEGMENTS {
        return Err(format!("a payload path has at most {MAX_INDEX_SEGMENTS} segments of digits"));
    }
    Ok(segments.into_iter().map(String::from).collect())
}

/// A date, a time or an age, as epoch ms.
fn time_value(value: &str, now: i64) -> Result<i64, String> {
    let bad =
        || format!("{value:?} is not a date (2026-11-24), a time (2026-11-24T10:30, UTC) or an age (15m, 2h, 7d, 1w)");
    if let Some(unit) = value.chars().last().filter(|c| c.is_ascii_alphabetic()) {
        let number = &value[..value.len() - 1];
        if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) {
            let n: i64 = number.parse().map_err(|_| bad())?;
            let unit_ms = match unit {
                's' => 1_000,
                'm' => 60_000,
                'h' => 3_600_000,
                'd' => 86_400_000,
                'w' => 7 * 86_400_000,
                _ => return Err(bad()),
            };
            return n.checked_mul(unit_ms).map(|ms| now - ms).filter(|t| *t >= 0).ok_or_else(bad);
        }
    }
    if let Ok(time) = DateTime::parse_from_rfc3339(value) {
        return Ok(time.timestamp_millis());
    }
    for format in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"] {
        if let Ok(time) = NaiveDateTime::parse_from_str(value, format) {
            return Ok(time.and_utc().timestamp_millis());
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return date.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp_millis()).ok_or_else(bad);
    }
    Err(bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn terms(text: &str) -> Vec<Term> {
        parse(text, NOW).unwrap().terms
    }

    #[test]
    fn qualifiers_lists_paths_and_text() {
        assert_eq!(
            terms(r#"queue:sync,"a b" state:dead payload.user.0:5 timeout "read failed" error:"x\"y""#),
            vec![
                Term::Queue(vec!["sync".into(), "a b".into()]),
                Term::State(vec![JobState::Dead]),
                Term::Payload { path: vec!["user".into(), "0".into()], values: vec!["5".into()] },
                Term::Text("timeout".into()),
                Term::Text("read failed".into()),
                Term::Error("x\"y".into()),
            ]
        );
        assert_eq!(terms("  "), vec![]);
        // A colon after something that is not a qualifier name is text.
        assert_eq!(terms("10:30"), vec![Term::Text("10:30".into())]);
    }

    #[test]
    fn times_are_dates_times_or_ages() {
        assert_eq!(terms("after:2h"), vec![Term::After(NOW - 7_200_000)]);
        assert_eq!(terms("before:2026-11-24"), vec![Term::Before(1_795_478_400_000)]);
        assert_eq!(terms("before:2026-11-24T01:00"), vec![Term::Before(1_795_482_000_000)]);
        assert_eq!(terms("after:2026-11-24T01:00:00+01:00"), vec![Term::After(1_795_478_400_000)]);
        assert!(parse("after:yesterday", NOW).is_err());
        assert!(parse("after:99999999999999w", NOW).is_err());
    }

    #[test]
    fn refusals_say_where() {
        assert_eq!(parse("state:running", NOW).unwrap_err().at, 6);
        assert!(parse("colour:red", NOW).unwrap_err().message.contains("unknown qualifier"));
        assert!(parse("queue:", NOW).is_err());
        assert!(parse("queue:a,", NOW).is_err());
        assert!(parse("\"open", NOW).unwrap_err().message.contains("unclosed"));
        assert!(parse("payload.:1", NOW).is_err());
        assert!(parse("payload:1", NOW).is_err());
        assert!(parse("payload.a.1234567890:1", NOW).is_err());
        assert!(parse("payload.-1:1", NOW).is_err());
        assert!(parse("payload.a.0.1.2.3:x", NOW).is_ok(), "four segments of digits");
        assert!(parse("payload.a.0.1.2.3.4:x", NOW).unwrap_err().message.contains("at most 4 segments of digits"));
        assert!(parse("a\u{0}b", NOW).is_err());
        assert!(parse(&"x ".repeat(21), NOW).unwrap_err().message.contains("terms"));
        assert!(parse(&"x".repeat(1001), NOW).is_err());
    }
}
