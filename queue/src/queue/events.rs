//! The queue's event stream: read it, follow it live, add custom events to it.

use std::time::Duration;

use futures::Stream;

use super::Queue;
use crate::backend::split_position;
use crate::error::{QueueError, Result};
use crate::types::Event;

impl Queue {
    /// Events after `after` (a stream position; `None` = from the oldest kept), at most
    /// `count` (1 to 10,000; more is read as 10,000), without blocking.
    pub async fn read_events(&self, after: Option<&str>, count: usize) -> Result<Vec<Event>> {
        let count = count.clamp(1, 10_000);
        if let Some(position) = after
            && !is_position(position)
        {
            return Err(QueueError::InvalidOption {
                field: "after",
                reason: format!("{position:?} is not an event position (MS-SEQ or MS-SEQ.INDEX)"),
            });
        }
        // Nothing comes after the largest id there is (and Redis refuses to start past it).
        if after.is_some_and(|p| split_position(p).0 == "18446744073709551615-18446744073709551615") {
            return Ok(vec![]);
        }
        // Inside a batch entry: read that entry again and skip the events already seen.
        let (start, skip) = match after.map(split_position) {
            Some((entry, Some(index))) => (entry.to_string(), index.saturating_add(1)),
            Some((entry, None)) => (format!("({entry}"), 0),
            None => ("-".to_string(), 0),
        };
        let mut events = self.backend().events_from(&start, count).await?;
        events.drain(..skip.min(events.len()));
        events.truncate(count);
        Ok(events)
    }

    /// Appends a custom event, such as a domain event `sync.completed`, to this queue's
    /// event stream, where subscribers get it among the engine's own; returns its
    /// position. `job_id` may be empty for events about no job. Custom kinds hold a dot
    /// (the engine's never do), so a reader can tell them apart.
    pub async fn publish(&self, kind: &str, job_id: &str, fields: &[(&str, String)]) -> Result<String> {
        let valid = kind.contains('.')
            && kind.len() <= 64
            && kind.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !valid {
            return Err(QueueError::InvalidOption {
                field: "kind",
                reason: format!("{kind:?}: a custom event kind is up to 64 of a-z, 0-9, '.', '_', '-' with a dot"),
            });
        }
        if let Some((name, _)) = fields.iter().find(|(name, _)| matches!(*name, "event" | "job" | "at" | "jobs")) {
            return Err(QueueError::InvalidOption { field: "fields", reason: format!("{name:?} is reserved") });
        }
        self.backend().publish_event(kind, job_id, fields).await
    }

    /// The events of one stream entry (empty once the capped stream dropped it).
    async fn entry_events(&self, entry: &str) -> Result<Vec<Event>> {
        self.backend().events_of_entry(entry).await
    }

    /// The position of the newest event, to subscribe from "now".
    pub async fn last_event_position(&self) -> Result<String> {
        self.backend().last_event_position().await
    }

    /// A live stream of this queue's events after `after` (`None` = those added after the
    /// stream is first polled; take [`Queue::last_event_position`] first to pin "now"). It
    /// blocks on a dedicated connection, reconnects after errors, and resumes from the
    /// last position it delivered, so nothing is skipped across a reconnect (as long as
    /// the capped stream still holds it).
    pub fn subscribe(&self, after: Option<String>) -> impl Stream<Item = Result<Event>> + Send + 'static {
        let queue = self.clone();
        let block = Duration::from_secs(5);
        futures::stream::unfold(
            (queue, after, None::<crate::connection::Conn>, std::collections::VecDeque::<Event>::new()),
            move |(queue, mut position, mut conn, mut buffer)| async move {
                loop {
                    if let Some(event) = buffer.pop_front() {
                        position = Some(event.position.clone());
                        return Some((Ok(event), (queue, position, conn, buffer)));
                    }
                    if let Some((entry, Some(index))) = position.as_deref().map(split_position) {
                        // Resuming inside a batch entry: deliver the rest of it first.
                        let entry = entry.to_string();
                        match queue.entry_events(&entry).await {
                            Ok(events) => {
                                buffer.extend(events.into_iter().skip(index + 1));
                                position = Some(entry);
                                continue;
                            }
                            Err(e) => {
                                tokio::time::sleep(Duration::from_millis(500)).await;
                                return Some((Err(e), (queue, position, conn, buffer)));
                            }
                        }
                    }
                    if position.is_none() {
                        match queue.last_event_position().await {
                            Ok(p) => position = Some(p),
                            Err(e) => {
                                tokio::time::sleep(Duration::from_millis(500)).await;
                                return Some((Err(e), (queue, None, conn, buffer)));
                            }
                        }
                    }
                    if conn.is_none() {
                        match queue.redis().dedicated(block).await {
                            Ok(c) => conn = Some(c),
                            Err(e) => {
                                tokio::time::sleep(Duration::from_millis(500)).await;
                                return Some((Err(e), (queue, position, None, buffer)));
                            }
                        }
                    }
                    let from = position.clone().unwrap_or_else(|| "0-0".into());
                    let read = queue.backend().wait_for_events(conn.as_mut().expect("connected"), &from, block).await;
                    match read {
                        Ok(events) => buffer.extend(events),
                        Err(e) => {
                            tokio::time::sleep(Duration::from_millis(200)).await;
                            return Some((Err(e), (queue, position, None, buffer)));
                        }
                    }
                }
            },
        )
    }
}

/// Whether `position` is an event position: a stream entry id `MS-SEQ`, optionally with
/// `.INDEX` for an event inside a batch entry (each part a number Redis can hold, < 2^64).
fn is_position(position: &str) -> bool {
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit()) && part.parse::<u64>().is_ok();
    let (entry, index) = split_position(position);
    let index_ok = match position.split_once('.') {
        Some((_, text)) => digits(text) && index.is_some(),
        None => true,
    };
    index_ok && entry.split_once('-').is_some_and(|(ms, seq)| digits(ms) && digits(seq))
}
