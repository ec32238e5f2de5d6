//! Hears what the queue's workers are told as it happens (Pub/Sub): cancellations of
//! active jobs, stopped at once (the lease keeper catches any missed while disconnected),
//! and changes of the queue's limits, which set this process's concurrency live.

use std::time::Duration;

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::executor::StopReason;
use super::{RunningMap, WorkerStatus, backoff, stop_running};
use crate::backend::WorkerSignal;
use crate::queue::Queue;

/// How often the limits are read again without being told: a change announced while the
/// subscription was down (or could not be made) still arrives.
const LIMITS_RECHECK: Duration = Duration::from_secs(10);

/// Listens until `stop`, subscribing again after a lost connection. With `limits`, keeps
/// that worker's concurrency in step with the queue's per-process limit (read again on
/// every subscription and every 10 s too).
pub(super) async fn run(queue: Queue, running: RunningMap, limits: Option<WorkerStatus>, stop: CancellationToken) {
    let mut failures = 0u32;
    let mut recheck = tokio::time::interval(LIMITS_RECHECK);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let mut signals = match queue.backend().signals().await {
            Ok(signals) => Box::pin(signals),
            Err(_) => {
                failures += 1;
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = recheck.tick(), if limits.is_some() => {
                        apply_limits(&queue, limits.as_ref().expect("limits"), &stop).await;
                        continue;
                    }
                    _ = tokio::time::sleep(backoff(failures)) => continue,
                }
            }
        };
        failures = 0;
        if let Some(status) = &limits {
            apply_limits(&queue, status, &stop).await;
        }
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                signal = signals.next() => match signal {
                    Some(WorkerSignal::Cancel(id)) => {
                        for entry in running.lock().expect("running map").values().filter(|e| e.id == id) {
                            stop_running(entry, StopReason::Cancelled);
                        }
                    }
                    Some(WorkerSignal::LimitsChanged) => {
                        if let Some(status) = &limits {
                            apply_limits(&queue, status, &stop).await;
                        }
                    }
                    None => break, // connection closed: subscribe again
                },
                _ = recheck.tick(), if limits.is_some() => {
                    apply_limits(&queue, limits.as_ref().expect("limits"), &stop).await;
                }
            }
        }
    }
}

/// Reads the limits and applies the per-process one; gives up at `stop` or after 2 s (a
/// hanging Redis must not hold up a shutdown or the cancellations behind it).
async fn apply_limits(queue: &Queue, status: &WorkerStatus, stop: &CancellationToken) {
    let read = tokio::select! {
        _ = stop.cancelled() => return,
        read = tokio::time::timeout(Duration::from_secs(2), queue.limits()) => read,
    };
    match read {
        Ok(Ok(limits)) => status.apply_process_limit(limits.process_concurrency),
        Ok(Err(e)) => tracing::warn!(queue = queue.name(), error = %e, "cannot read the queue's limits"),
        Err(_) => tracing::warn!(queue = queue.name(), "reading the queue's limits timed out"),
    }
}
