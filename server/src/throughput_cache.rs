//! The system throughput chart's minutes, kept by this process: a minute's completed and
//! failed counts never change once Redis's clock has passed it, so the last day's chart
//! (1,440 minutes of every queue, read again each minute by every open overview) reads
//! from Redis only the minutes this process has not seen yet — after the first read, the
//! current minute and the one just closed.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use hoist_queue::Queue;

/// The longest range the chart shows (a day).
const KEEP_MINUTES: i64 = 24 * 60;

/// One minute of one queue: (completed, failed).
type Counts = (u64, u64);

#[derive(Debug, Default)]
pub struct ThroughputCache {
    /// Per queue, the closed minutes read so far.
    closed: Mutex<HashMap<String, BTreeMap<i64, Counts>>>,
}

impl ThroughputCache {
    /// `queue`'s completed and failed counts for each of the last `minutes` minutes by
    /// Redis's clock, oldest first, with the first minute.
    pub async fn recent(&self, queue: &Queue, minutes: u32) -> hoist_queue::Result<(i64, Vec<Counts>)> {
        let now = queue.redis_time().await? / 60_000;
        let from = now - i64::from(minutes.max(1)) + 1;
        // The first minute of the range this process has no count for; from there on
        // (the current minute always) comes from Redis.
        let first_unknown = {
            let closed = self.closed.lock().unwrap_or_else(|e| e.into_inner());
            let known = closed.get(queue.name());
            let unknown = (from..now).find(|minute| !known.is_some_and(|k| k.contains_key(minute))).unwrap_or(now);
            // The last two closed minutes are read again each time: should Redis's clock
            // step back (a failover to a node behind), they would still be written to.
            unknown.min(now - 2).max(from)
        };
        let fresh = queue.stats(first_unknown, now).await?;
        let mut closed = self.closed.lock().unwrap_or_else(|e| e.into_inner());
        let known = closed.entry(queue.name().to_string()).or_default();
        let mut current = (0, 0);
        for stats in fresh {
            if stats.minute < now {
                known.insert(stats.minute, (stats.completed, stats.failed));
            } else if stats.minute == now {
                current = (stats.completed, stats.failed);
            }
        }
        // Minutes Redis had nothing for are zero, and stay so once closed.
        for minute in first_unknown..now {
            known.entry(minute).or_insert((0, 0));
        }
        // What is older than the longest range the chart asks for is not needed again.
        let keep_from = now - KEEP_MINUTES;
        *known = known.split_off(&keep_from);
        let counts =
            (from..now).map(|minute| known.get(&minute).copied().unwrap_or_default()).chain([current]).collect();
        Ok((from, counts))
    }

    /// Forgets a queue that no longer exists.
    pub fn retain(&self, queues: &[String]) {
        let queues: std::collections::HashSet<&str> = queues.iter().map(String::as_str).collect();
        let mut closed = self.closed.lock().unwrap_or_else(|e| e.into_inner());
        closed.retain(|name, _| queues.contains(name.as_str()));
    }
}
