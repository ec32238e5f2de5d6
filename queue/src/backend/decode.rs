//! Decoding Redis replies: values, field maps and the event stream's entries.

use std::collections::{BTreeMap, HashMap};

use redis::Value;

use crate::error::{QueueError, Result};
use crate::types::Event;

pub(crate) fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        _ => None,
    }
}

pub(crate) fn int(value: &Value) -> Option<i64> {
    match value {
        Value::Int(i) => Some(*i),
        other => text(other)?.parse().ok(),
    }
}

pub(crate) fn array(value: Value) -> Result<Vec<Value>> {
    match value {
        Value::Array(items) => Ok(items),
        Value::Nil => Ok(vec![]),
        other => Err(QueueError::Protocol(format!("expected an array, got {other:?}"))),
    }
}

/// A flat `[field, value, field, value...]` reply (HGETALL from Lua) as a map.
pub(crate) fn field_map(value: Value) -> Result<HashMap<String, String>> {
    // HGETALL over RESP3 answers a map.
    if let Value::Map(pairs) = value {
        return Ok(pairs.iter().filter_map(|(k, v)| Some((text(k)?, text(v)?))).collect());
    }
    let items = array(value)?;
    let mut map = HashMap::with_capacity(items.len() / 2);
    let mut iter = items.iter();
    while let (Some(k), Some(v)) = (iter.next(), iter.next()) {
        if let (Some(k), Some(v)) = (text(k), text(v)) {
            map.insert(k, v);
        }
    }
    Ok(map)
}

pub(crate) fn strings(value: Value) -> Result<Vec<String>> {
    Ok(array(value)?.iter().filter_map(text).collect())
}

/// Decodes an XREAD/XRANGE entry list (`[[id, [field, value, ...]], ...]`).
pub(crate) fn decode_events(queue: &str, entries: Value) -> Result<Vec<Event>> {
    let mut events = vec![];
    for entry in array(entries)? {
        let mut parts = array(entry)?.into_iter();
        let (Some(position), Some(body)) = (parts.next(), parts.next()) else { continue };
        let position = text(&position).unwrap_or_default();
        events.extend(entry_events(queue, &position, field_map(body)?.into_iter().collect()));
    }
    Ok(events)
}

/// The events of one stream entry. An entry written for a batch of jobs lists their ids
/// under `jobs` (a JSON list) and each other field as a JSON list of the jobs' values in
/// the same order; its events get the positions `ENTRY.0`, `ENTRY.1`, ... and the last
/// one plain `ENTRY`, so every event has its own resume point.
pub(crate) fn entry_events(queue: &str, entry_id: &str, mut fields: BTreeMap<String, String>) -> Vec<Event> {
    let kind = fields.remove("event").unwrap_or_default();
    let at = fields.remove("at").and_then(|v| v.parse().ok()).unwrap_or(0);
    let Some(batch) = fields.remove("jobs") else {
        let job_id = fields.remove("job").unwrap_or_default();
        return vec![Event { position: entry_id.to_string(), queue: queue.to_string(), kind, job_id, at, fields }];
    };
    let items = match serde_json::from_str::<Vec<String>>(&batch) {
        Ok(ids) => {
            let columns: Vec<(String, Vec<serde_json::Value>)> = fields
                .into_iter()
                .map(|(name, values)| (name, serde_json::from_str(&values).unwrap_or_default()))
                .collect();
            ids.into_iter()
                .enumerate()
                .map(|(index, id)| {
                    let fields = columns
                        .iter()
                        .filter_map(|(name, values)| Some((name.clone(), json_text(values.get(index)?.clone()))))
                        .collect();
                    (id, fields)
                })
                .collect()
        }
        // Entries written before the columns: one JSON object per job.
        Err(_) => serde_json::from_str::<Vec<BTreeMap<String, serde_json::Value>>>(&batch)
            .unwrap_or_default()
            .into_iter()
            .map(|item| {
                let mut fields: BTreeMap<String, String> =
                    item.into_iter().map(|(name, value)| (name, json_text(value))).collect();
                (fields.remove("job").unwrap_or_default(), fields)
            })
            .collect::<Vec<_>>(),
    };
    let last = items.len().saturating_sub(1);
    items
        .into_iter()
        .enumerate()
        .map(|(index, (job_id, fields))| {
            let position = if index == last { entry_id.to_string() } else { format!("{entry_id}.{index}") };
            Event { position, queue: queue.to_string(), kind: kind.clone(), job_id, at, fields }
        })
        .collect()
}

/// A field value as the text an event carries: strings as they are, numbers as written.
fn json_text(value: serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text,
        other => other.to_string(),
    }
}

/// Splits an event position into its stream entry and, for an event inside a batch entry
/// other than its last, the event's index.
pub(crate) fn split_position(position: &str) -> (&str, Option<usize>) {
    match position.split_once('.') {
        Some((entry, index)) => (entry, index.parse().ok()),
        None => (position, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_entry_lists_ids_and_a_column_per_field() {
        let fields = BTreeMap::from([
            ("event".to_string(), "retrying".to_string()),
            ("at".to_string(), "1700000000000".to_string()),
            ("jobs".to_string(), r#"["a","b"]"#.to_string()),
            ("attempt".to_string(), "[1,2]".to_string()),
            ("delay_ms".to_string(), r#"["100","200"]"#.to_string()),
        ]);
        let events = entry_events("q", "17-0", fields);
        assert_eq!(events.len(), 2);
        assert_eq!((events[0].job_id.as_str(), events[0].position.as_str()), ("a", "17-0.0"));
        assert_eq!((events[1].job_id.as_str(), events[1].position.as_str()), ("b", "17-0"));
        assert_eq!(events[0].fields["attempt"], "1");
        assert_eq!(events[1].fields["attempt"], "2");
        assert_eq!(events[1].fields["delay_ms"], "200");
        assert!(events.iter().all(|e| e.kind == "retrying" && e.fields.len() == 2));
    }

    #[test]
    fn a_batch_entry_of_the_older_form_gives_one_event_per_job_with_its_own_position() {
        let fields = BTreeMap::from([
            ("event".to_string(), "completed".to_string()),
            ("at".to_string(), "1700000000000".to_string()),
            (
                "jobs".to_string(),
                r#"[{"job":"a","duration_ms":"3"},{"job":"b","duration_ms":"4"},{"job":"c","duration_ms":"5"}]"#
                    .to_string(),
            ),
        ]);
        let events = entry_events("q", "17-0", fields);
        let positions: Vec<&str> = events.iter().map(|e| e.position.as_str()).collect();
        assert_eq!(positions, ["17-0.0", "17-0.1", "17-0"]);
        assert_eq!(events[1].job_id, "b");
        assert_eq!(events[1].fields["duration_ms"], "4");
        assert!(events.iter().all(|e| e.kind == "completed" && e.at == 1_700_000_000_000));
        assert_eq!(split_position("17-0.1"), ("17-0", Some(1)));
        assert_eq!(split_position("17-0"), ("17-0", None));
    }
}
