//! Helpers for testing handlers as a user writes them: a [`JobContext`] for a job of a
//! test queue, so a handler function can be called directly and its output checked; see
//! also [`crate::Worker::run_until_idle`] for integration tests, and the throw-away
//! `redis-server` of the `hoist-testkit` crate.

use std::time::Duration;

use crate::backend::Claim;
use crate::error::Result;
use crate::handler::JobContext;
use crate::queue::Queue;

/// How long a test context holds its job.
const TEST_LEASE: Duration = Duration::from_secs(60);

impl JobContext {
    /// Claims the next due job of `queue` (enqueue it first) and returns its context, as
    /// a worker would hand it to a handler: progress and log lines go to Redis under its
    /// lease (read them with [`Queue::get_job`]), `ctx.queue()` enqueues for real. `None`
    /// when nothing is due. Not a worker: the job stays active until its lease (a minute)
    /// runs out, and nothing records the handler's outcome. Use a queue of the test's own,
    /// on a Redis of its own.
    ///
    /// ```no_run
    /// # use hoist_queue::{JobContext, JobError, Queue, TypedJob};
    /// # #[derive(serde::Serialize, serde::Deserialize)] struct Welcome { to: String }
    /// # impl TypedJob for Welcome { const NAME: &'static str = "welcome"; type Output = String; }
    /// # async fn welcome(_ctx: JobContext, job: Welcome) -> Result<String, JobError> { Ok(job.to) }
    /// # async fn test(queue: Queue) -> Result<(), Box<dyn std::error::Error>> {
    /// queue.push(&Welcome { to: "a@example.com".into() }).await?;
    /// let ctx = JobContext::claim_for_test(&queue).await?.expect("the job just pushed");
    /// let job: Welcome = ctx.payload().unwrap();
    /// assert_eq!(welcome(ctx, job).await.unwrap(), "a@example.com");
    /// # Ok(()) }
    /// ```
    pub async fn claim_for_test(queue: &Queue) -> Result<Option<JobContext>> {
        let worker = format!("test-{}", crate::id::new_job_id());
        let claim = Claim { count: 1, lease: TEST_LEASE, worker: &worker };
        let claimed = queue.backend().claim(&claim).await?;
        Ok(claimed.jobs.into_iter().next().map(|(job, lease)| JobContext {
            job,
            queue: queue.clone(),
            lease,
            cancel: Default::default(),
            max_log_lines: 100,
            state: None,
        }))
    }

    /// Gives the context state of type `S`, as [`crate::Handlers::with_state`] does for
    /// the handlers a worker runs.
    pub fn with_state<S: Send + Sync + 'static>(mut self, state: S) -> Self {
        let states = std::sync::Arc::make_mut(self.state.get_or_insert_with(Default::default));
        states.insert(std::any::TypeId::of::<S>(), std::sync::Arc::new(state));
        self
    }
}
