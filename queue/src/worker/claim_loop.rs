//! One claim loop: claims jobs as room frees up, starts each in the executor, and hands
//! finished attempts to the completer; on shutdown it stops claiming, lets running jobs
//! finish within the grace period, then cancels and hands back the rest.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::completer::{CallsInFlight, flush_and_claim};
use super::executor::{Finished, StopReason, start_job};
use super::{RunningMap, WorkerOptions, WorkerStatus, backoff, stop_running};
use crate::backend::Claimed;
use crate::error::Result;
use crate::handler::Handler;
use crate::queue::Queue;

/// Which of the worker's claim loops this is: its share of the concurrency depends on it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Lane {
    pub(super) index: usize,
    pub(super) of: usize,
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn run(
    queue: Queue,
    handler: Arc<dyn Handler>,
    options: WorkerOptions,
    id: String,
    status: WorkerStatus,
    calls: Arc<CallsInFlight>,
    lane: Lane,
    shutdown: CancellationToken,
) -> Result<()> {
    {
        queue.register().await.ok();
        let running: RunningMap = Arc::new(Mutex::new(HashMap::new()));
        status.control.lanes.lock().expect("lanes").push(running.clone());
        let (finished_tx, mut finished_rx) = mpsc::unbounded_channel::<Finished>();
        let background = CancellationToken::new();
        let tasks = TaskTracker::new();
        let wake = Arc::new(Notify::new());
        let (want_wake_tx, want_wake_rx) = watch::channel(false);

        tasks.spawn(super::wakeup::listen(queue.clone(), wake.clone(), want_wake_rx, background.clone()));
        tasks.spawn(super::lease_keeper::run(
            queue.clone(),
            id.clone(),
            running.clone(),
            options.lease,
            background.clone(),
        ));
        tasks.spawn(super::stall_sweeper::run(queue.clone(), options.stall_check_interval, background.clone()));
        // One listener per worker keeps its concurrency in step with the queue's limits.
        let limits = (lane.index == 0).then(|| status.clone());
        tasks.spawn(super::signal_listener::run(queue.clone(), running.clone(), limits, background.clone()));

        let jobs = TaskTracker::new();
        let mut pending: Vec<Finished> = vec![];
        let mut failures = 0u32;
        let concurrency = status.lane_share(lane.index, lane.of);
        tracing::info!(queue = queue.name(), worker = %id, concurrency, "worker started");
        status.accepting.store(!status.is_quiet(), std::sync::atomic::Ordering::SeqCst);
        let mut reported = 0usize;

        let mut next_due: Option<Duration>;
        while !shutdown.is_cancelled() {
            // Armed before the concurrency is read, so a change made while this round
            // talks to Redis still wakes it.
            let control = status.control.clone();
            let changed = control.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            while let Ok(done) = finished_rx.try_recv() {
                pending.push(done);
            }
            let in_flight = running.lock().expect("running map").len();
            status.report_running(&mut reported, in_flight);
            let free = status.lane_share(lane.index, lane.of).saturating_sub(in_flight);
            match calls.track(flush_and_claim(&queue, &id, &options, &mut pending, free)).await {
                Ok(Claimed { jobs: claimed, due_in }) => {
                    failures = 0;
                    next_due = due_in;
                    for job in claimed {
                        start_job(&queue, &handler, &options, job, &running, &finished_tx, &jobs);
                    }
                }
                Err(err) => {
                    failures += 1;
                    let pause = backoff(failures);
                    tracing::warn!(queue = queue.name(), error = %err, retry_in = ?pause, "worker cannot reach redis");
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(pause) => continue,
                    }
                }
            }

            let in_flight = running.lock().expect("running map").len();
            let has_room = in_flight < status.lane_share(lane.index, lane.of);
            let _ = want_wake_tx.send(has_room);
            // Wake on the next due delayed job, and at least every 5 s as a safety net.
            let sleep_for = next_due.unwrap_or(Duration::from_secs(5)).min(Duration::from_secs(5));
            tokio::select! {
                _ = shutdown.cancelled() => break,
                Some(done) = finished_rx.recv() => pending.push(done),
                _ = wake.notified(), if has_room => {}
                _ = &mut changed => {}
                _ = tokio::time::sleep(sleep_for) => {}
            }
            let _ = want_wake_tx.send(false);
            // While another loop's call keeps Redis busy, and jobs of this loop still run,
            // gather their acknowledgements too; send as soon as Redis is free.
            while !pending.is_empty() && !running.lock().expect("running map").is_empty() {
                let redis_free = calls.finished.notified();
                tokio::pin!(redis_free);
                redis_free.as_mut().enable();
                if !calls.busy() {
                    break;
                }
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    Some(done) = finished_rx.recv() => pending.push(done),
                    _ = &mut redis_free => break,
                }
            }
        }

        // Shutdown: stop claiming, let running jobs finish, acknowledging as they do.
        status.accepting.store(false, std::sync::atomic::Ordering::SeqCst);
        let _ = want_wake_tx.send(false);
        jobs.close();
        let deadline = tokio::time::Instant::now() + options.shutdown_grace;
        let give_up = deadline + options.cancel_grace + Duration::from_secs(5);
        loop {
            while let Ok(done) = finished_rx.try_recv() {
                pending.push(done);
            }
            if !pending.is_empty() {
                // An attempt to reach a Redis that is gone may hang on reconnecting; it gets
                // no longer than the time left before giving up. (`pending` loses only what
                // was written: an interrupted write is sent again, and a lease check makes
                // a repeat harmless.)
                let budget =
                    give_up.saturating_duration_since(tokio::time::Instant::now()).max(Duration::from_millis(100));
                let flush = flush_and_claim(&queue, &id, &options, &mut pending, 0);
                if !matches!(tokio::time::timeout(budget, flush).await, Ok(Ok(_))) {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
            let in_flight = running.lock().expect("running map").len();
            status.report_running(&mut reported, in_flight);
            if in_flight == 0 && pending.is_empty() {
                break;
            }
            // Redis is gone and stays gone: the outcomes cannot be written. Stop anyway;
            // the leases lapse and the jobs run again elsewhere (at least once, never lost).
            if in_flight == 0 && tokio::time::Instant::now() >= give_up {
                tracing::warn!(
                    queue = queue.name(),
                    unacknowledged = pending.len(),
                    "stopping without writing the last outcomes: Redis does not answer; their jobs will run again"
                );
                break;
            }
            tracing::trace!(running = running.lock().expect("running map").len(), pending = pending.len(), "draining");
            if tokio::time::Instant::now() >= deadline {
                // Out of patience: cancel what is left; each hands its job back.
                for entry in running.lock().expect("running map").values() {
                    stop_running(entry, StopReason::Shutdown);
                }
            }
            tokio::select! {
                Some(done) = finished_rx.recv() => pending.push(done),
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
        jobs.wait().await;
        background.cancel();
        tasks.close();
        tasks.wait().await;
        // Best effort, and bounded: with Redis gone a reconnect attempt would hold the stop
        // up for its whole connect timeout, and the check-in expires by itself anyway.
        let _ = tokio::time::timeout(Duration::from_secs(1), queue.forget_worker(&id)).await;
        tracing::info!(queue = queue.name(), worker = %id, "worker stopped");
        Ok(())
    }
}
