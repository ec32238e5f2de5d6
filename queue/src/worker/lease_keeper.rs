//! Renews every lease this worker holds in one call per third of the lease, sends the
//! worker's heartbeat and the queue's backlog sample, and learns which jobs were lost or
//! asked to cancel.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::executor::StopReason;
use super::{RunningMap, stop_running};
use crate::queue::Queue;

/// Renews every lease this worker holds in one call per third of the lease, and learns
/// which jobs were lost or asked to cancel.
pub(super) async fn run(
    queue: Queue,
    worker_id: String,
    running: RunningMap,
    lease: Duration,
    stop: CancellationToken,
) {
    let period = (lease / 3).max(Duration::from_millis(100));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The backlog over time: a sample a minute is enough (the first in a minute counts).
    let mut last_sample: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let _ = queue.heartbeat(&worker_id).await;
        if last_sample.is_none_or(|at| at.elapsed() >= Duration::from_secs(20)) {
            last_sample = Some(tokio::time::Instant::now());
            let _ = queue.sample_backlog().await;
        }
        let held: Vec<(String, String)> = running.lock().expect("running map").keys().cloned().collect();
        if held.is_empty() {
            continue;
        }
        let Ok((lost, cancel)) = queue.backend().extend_leases(lease, &held).await else {
            tracing::warn!(queue = queue.name(), "could not renew leases");
            continue;
        };
        let map = running.lock().expect("running map");
        // Only that job under that lease: a job that finished since the snapshot is no
        // longer in the map, and another job with the same attempt number is not it.
        for held in &lost {
            if let Some(entry) = map.get(held) {
                tracing::warn!(queue = queue.name(), job = %entry.id, "lease lost; stopping the handler");
                stop_running(entry, StopReason::LeaseLost);
            }
        }
        for id in cancel {
            for entry in map.values().filter(|e| e.id == id) {
                stop_running(entry, StopReason::Cancelled);
            }
        }
    }
}
