//! Hears what the queue's workers are told as it happens (Pub/Sub): cancellations of
//! active jobs, stopped at once (the lease keeper catches any missed while disconnected),
//! and changes of the queue's limits, which set this process's concurrency live.

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::executor::StopReason;
use super::{RunningMap, WorkerStatus, backoff, stop_running};
use crate::backend::WorkerSignal;
use crate::queue::Queue;

/// Listens until `stop`, subscribing again after a lost connection. With `limits`, keeps
/// that worker's concurrency in step with the queue's per-process limit (read again on
/// every subscription too: a change made while disconnected was not heard).
pub(super) async fn run(queue: Queue, running: RunningMap, limits: Option<WorkerStatus>, stop: CancellationToken) {
    let mut failures = 0u32;
    loop {
        let mut signals = match queue.backend().signals().await {
            Ok(signals) => Box::pin(signals),
            Err(_) => {
                failures += 1;
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(backoff(failures)) => continue,
                }
            }
        };
        failures = 0;
        if let Some(status) = &limits {
            apply_limits(&queue, status).await;
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
                            apply_limits(&queue, status).await;
                        }
                    }
                    None => break, // connection closed: subscribe again
                },
            }
        }
    }
}

async fn apply_limits(queue: &Queue, status: &WorkerStatus) {
    match queue.limits().await {
        Ok(limits) => status.apply_process_limit(limits.process_concurrency),
        Err(e) => tracing::warn!(queue = queue.name(), error = %e, "cannot read the queue's limits"),
    }
}
