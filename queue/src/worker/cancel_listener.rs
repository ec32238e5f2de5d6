//! Hears cancellations of active jobs at once (Pub/Sub); the lease keeper catches any
//! missed while disconnected.

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::executor::StopReason;
use super::{RunningMap, backoff, stop_running};
use crate::queue::Queue;

/// Listens until `stop`, subscribing again after a lost connection.
pub(super) async fn run(queue: Queue, running: RunningMap, stop: CancellationToken) {
    let mut failures = 0u32;
    loop {
        let mut ids = match queue.backend().cancellations().await {
            Ok(ids) => Box::pin(ids),
            Err(_) => {
                failures += 1;
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(backoff(failures)) => continue,
                }
            }
        };
        failures = 0;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                id = ids.next() => match id {
                    Some(id) => {
                        for entry in running.lock().expect("running map").values().filter(|e| e.id == id) {
                            stop_running(entry, StopReason::Cancelled);
                        }
                    }
                    None => break, // connection closed: subscribe again
                },
            }
        }
    }
}
