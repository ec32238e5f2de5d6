//! Recovers jobs whose lease lapsed, in any worker's queue (any process may).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::queue::Queue;

/// Recovers jobs whose lease lapsed, in any worker's queue (any process may).
pub(super) async fn run(queue: Queue, every: Duration, stop: CancellationToken) {
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(50)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        match queue.recover_stalled().await {
            Ok((0, 0)) => {}
            Ok((recovered, dead)) => {
                tracing::warn!(queue = queue.name(), recovered, dead, "recovered jobs whose worker stopped")
            }
            Err(e) => tracing::debug!(error = %e, "stall check failed"),
        }
    }
}
