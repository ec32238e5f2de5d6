//! Writes finished attempts (completed, failed, cancelled, handed back) and claims the
//! next jobs, in as few round trips as possible: completions and the claim share one
//! script call, and while one claim loop's call keeps Redis busy another gathers more.

use tokio::sync::Notify;

use super::WorkerOptions;
use super::executor::{Finished, Outcome};
use crate::backend::{Claim, Claimed, Completion, Failure};
use crate::error::Result;
use crate::handler::ErrorKind;
use crate::queue::Queue;

/// The claim loops' calls to Redis in flight. While one loop's call keeps Redis busy,
/// another gathers more acknowledgements before sending its own: Redis stays busy and
/// each call carries more jobs (every call has a fixed cost in Redis: the script's
/// prelude, limits, promotion, retention and events).
#[derive(Default)]
pub(super) struct CallsInFlight {
    count: std::sync::atomic::AtomicUsize,
    pub(super) finished: Notify,
}

/// One call in flight; counted down however the call ends, even when dropped.
struct InFlight<'a>(&'a CallsInFlight);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.count.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        self.0.finished.notify_waiters();
    }
}

impl CallsInFlight {
    pub(super) fn busy(&self) -> bool {
        self.count.load(std::sync::atomic::Ordering::SeqCst) > 0
    }

    pub(super) async fn track<T>(&self, call: impl std::future::Future<Output = T>) -> T {
        self.count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let _in_flight = InFlight(self);
        call.await
    }
}

/// Writes every finished attempt in `pending` and claims up to `free` new jobs.
pub(super) async fn flush_and_claim(
    queue: &Queue,
    worker_id: &str,
    options: &WorkerOptions,
    pending: &mut Vec<Finished>,
    free: usize,
) -> Result<Claimed> {
    let backend = queue.backend();
    let failures: Vec<Failure> = pending
        .iter()
        .filter_map(|f| match &f.outcome {
            Outcome::Failed(record, kind) => Some(serde_json::to_string(record).map(|record| Failure {
                id: &f.id,
                lease: &f.lease,
                record,
                permanent: *kind == ErrorKind::Permanent,
                jitter: rand::random::<f64>(),
            })),
            _ => None,
        })
        .collect::<std::result::Result<_, _>>()?;
    if !failures.is_empty() {
        let codes = backend.fail(&queue.config().dead, &failures).await?;
        let ids: Vec<&str> = failures.iter().map(|f| f.id).collect();
        log_lost(queue, &ids, &codes);
    }
    pending.retain(|f| !matches!(f.outcome, Outcome::Failed(..)));

    for f in pending.iter() {
        let code = match f.outcome {
            Outcome::Cancelled => backend.finish_cancelled(&f.id, &f.lease).await?,
            Outcome::Deferred(after) => backend.release(&f.id, &f.lease, after).await?,
            Outcome::Released => backend.release(&f.id, &f.lease, std::time::Duration::ZERO).await?,
            _ => continue,
        };
        if code < 0 {
            tracing::debug!(job = %f.id, code, "finishing a stopped job found it elsewhere");
        }
    }
    pending.retain(|f| matches!(f.outcome, Outcome::Completed(_)));

    let claim = Claim { count: free, lease: options.lease, worker: worker_id };
    if pending.is_empty() {
        if free == 0 {
            return Ok(Claimed { jobs: vec![], due_in: None });
        }
        return backend.claim(&claim).await;
    }
    let done = pending
        .iter()
        .map(|f| {
            let Outcome::Completed(result) = &f.outcome else { unreachable!("only completions are left") };
            Ok(Completion {
                id: &f.id,
                lease: &f.lease,
                result: serde_json::to_string(result)?,
                run_ms: f.run_ms,
                wait_ms: f.wait_ms,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let (codes, claimed) = backend.complete(&queue.config().completed, &done, &claim).await?;
    let ids: Vec<&str> = done.iter().map(|d| d.id).collect();
    log_lost(queue, &ids, &codes);
    pending.clear();
    Ok(claimed)
}

fn log_lost(queue: &Queue, ids: &[&str], codes: &[i64]) {
    for (id, code) in ids.iter().zip(codes) {
        if *code == -2 {
            tracing::warn!(queue = queue.name(), job = %id, "result discarded: the job's lease had expired and it was recovered");
        }
    }
}
