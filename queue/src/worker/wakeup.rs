//! Parks on the queue's wake-up list (on a connection of its own) while the claim loop
//! has room, and wakes it when a job arrives.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use super::backoff;
use crate::queue::Queue;

/// Parks on the queue's marker list (on a connection of its own) while the claim loop
/// has room, and wakes it when a job arrives.
pub(super) async fn listen(queue: Queue, wake: Arc<Notify>, mut want: watch::Receiver<bool>, stop: CancellationToken) {
    let block = Duration::from_secs(5);
    let mut conn = None;
    let mut failures = 0u32;
    loop {
        // Only wait for a token while there is room: a full worker must not swallow
        // the wake-up another worker needs.
        tokio::select! {
            _ = stop.cancelled() => return,
            changed = want.wait_for(|w| *w) => if changed.is_err() { return },
        }
        if conn.is_none() {
            match queue.redis().dedicated(block).await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    failures += 1;
                    tracing::debug!(error = %e, "blocker cannot connect");
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(backoff(failures)) => continue,
                    }
                }
            }
        }
        let c = conn.as_mut().expect("connected");
        // A watchdog beyond the server-side timeout: a parked read that never returns
        // (a dead socket after failover) is abandoned and the connection rebuilt.
        let result = tokio::select! {
            _ = stop.cancelled() => return,
            r = tokio::time::timeout(block + Duration::from_secs(3), queue.backend().wait_for_wakeup(c, block)) => r,
        };
        match result {
            Ok(Ok(true)) => {
                failures = 0;
                wake.notify_one();
            }
            Ok(Ok(false)) => failures = 0,
            Ok(Err(e)) => {
                failures += 1;
                tracing::debug!(error = %e, "blocker lost its connection");
                conn = None;
                tokio::time::sleep(backoff(failures)).await;
            }
            Err(_) => conn = None,
        }
    }
}
