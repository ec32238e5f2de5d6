//! Whether a job as Redis holds it now matches a query: the last word on live jobs,
//! whose index rows may be a moment behind (a state changes on every claim and is never
//! indexed). Means the same as the SQL filters of [`super::sql`].

use hoist_queue::Job;
use serde_json::Value;

use super::query::{Query, Term};

pub fn matches(query: &Query, job: &Job) -> bool {
    query.terms.iter().all(|term| term_matches(term, job))
}

fn term_matches(term: &Term, job: &Job) -> bool {
    match term {
        Term::Queue(queues) => queues.contains(&job.queue),
        Term::State(states) => states.contains(&job.state),
        Term::Name(names) => names.contains(&job.name),
        Term::Owner(owners) => job.owner.as_ref().is_some_and(|owner| owners.contains(owner)),
        Term::Id(ids) => ids.contains(&job.id),
        Term::Error(text) => contains_text(&errors_text(job), text),
        Term::Before(at) => job.created_at < *at,
        Term::After(at) => job.created_at >= *at,
        Term::Payload { path, values } => {
            at_path(&job.payload, path).is_some_and(|found| values.iter().any(|v| value_is(found, v)))
        }
        Term::Text(text) => {
            contains_text(&job.name, text)
                || contains_text(&job.payload.to_string(), text)
                || job.result.as_ref().is_some_and(|r| contains_text(&r.to_string(), text))
                || contains_text(&errors_text(job), text)
        }
    }
}

/// The errors as the index stores them (a JSON array).
fn errors_text(job: &Job) -> String {
    serde_json::to_string(&job.errors).unwrap_or_default()
}

/// Substring, ignoring ASCII case (as SQL's `LOWER(..) LIKE`).
pub fn contains_text(haystack: &str, needle: &str) -> bool {
    haystack.to_ascii_lowercase().contains(&needle.to_ascii_lowercase())
}

/// The value at a payload path; a segment of digits indexes an array.
pub fn at_path<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(value, |value, segment| match value {
        Value::Object(map) => map.get(segment),
        Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

/// Whether a payload value is `text`: the string itself, or a number, boolean or null
/// written that way.
pub fn value_is(value: &Value, text: &str) -> bool {
    match value {
        Value::String(s) => s == text,
        // Rendered, not compared as a `Value`: a `Value` equals only strings.
        Value::Number(_) | Value::Bool(_) | Value::Null => {
            let rendered = value.to_string();
            rendered == text
        }
        Value::Array(_) | Value::Object(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn payload_values_match_by_text_and_arrays_by_index() {
        let payload = json!({"a": {"b": [10, "x", true, null]}, "n": 5});
        let path = |p: &str| p.split('.').map(String::from).collect::<Vec<_>>();
        assert!(value_is(at_path(&payload, &path("n")).unwrap(), "5"));
        assert!(value_is(at_path(&payload, &path("a.b.0")).unwrap(), "10"));
        assert!(value_is(at_path(&payload, &path("a.b.1")).unwrap(), "x"));
        assert!(value_is(at_path(&payload, &path("a.b.2")).unwrap(), "true"));
        assert!(value_is(at_path(&payload, &path("a.b.3")).unwrap(), "null"));
        assert!(at_path(&payload, &path("a.b.9")).is_none());
        assert!(!value_is(at_path(&payload, &path("a")).unwrap(), "{}"));
        assert!(contains_text("Read TIMED out", "timed OUT"));
    }
}
