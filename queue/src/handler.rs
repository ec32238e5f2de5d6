//! What a job handler is: the [`Handler`] trait, the [`JobContext`] it receives, and the
//! [`JobError`] that says whether a failure is worth retrying.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use crate::error::{QueueError, Result};
use crate::queue::Queue;
use crate::types::{Job, Progress};

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What a handler returns: a JSON result, or an error.
pub type JobResult = std::result::Result<serde_json::Value, JobError>;

/// Whether a failed attempt may be retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Retry with backoff while attempts remain (network errors, 429, 503, timeouts...).
    Retryable,
    /// Straight to the dead-letter queue (bad input, revoked credentials...).
    Permanent,
    /// Not a failure: run the job again after `JobError::retry_after`, without spending
    /// an attempt (a rate limit is full, a dependency asked to come back later).
    Deferred,
}

/// A handler's failure. Any `std::error::Error` converts into a retryable one with `?`;
/// use [`JobError::permanent`] for failures that retrying cannot fix.
#[derive(Debug)]
pub struct JobError {
    pub kind: ErrorKind,
    pub message: String,
    /// The source chain, outermost first.
    pub causes: Vec<String>,
    /// For a deferred job: how long to wait before running it again.
    pub retry_after: Option<std::time::Duration>,
}

impl JobError {
    /// Runs the job again after `after` without spending an attempt.
    pub fn defer(after: std::time::Duration) -> Self {
        JobError {
            kind: ErrorKind::Deferred,
            message: format!("deferred for {} ms", after.as_millis()),
            causes: vec![],
            retry_after: Some(after),
        }
    }

    pub fn retryable(error: impl Into<BoxError>) -> Self {
        Self::build(ErrorKind::Retryable, error.into())
    }

    pub fn permanent(error: impl Into<BoxError>) -> Self {
        Self::build(ErrorKind::Permanent, error.into())
    }

    fn build(kind: ErrorKind, error: BoxError) -> Self {
        let message = error.to_string();
        let mut causes = vec![];
        let mut source = error.source();
        while let Some(cause) = source {
            causes.push(cause.to_string());
            source = cause.source();
        }
        JobError { kind, message, causes, retry_after: None }
    }

    pub fn is_permanent(&self) -> bool {
        self.kind == ErrorKind::Permanent
    }
}

impl<E: Into<BoxError>> From<E> for JobError {
    fn from(error: E) -> Self {
        JobError::retryable(error)
    }
}

impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Processes jobs. Implement it for a struct, or wrap a closure with [`handler_fn`].
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, ctx: JobContext) -> BoxFuture<JobResult>;
}

/// A handler made from an async closure.
pub struct FnHandler<F>(F);

/// Wraps `|ctx: JobContext| async move { ... }` as a [`Handler`].
pub fn handler_fn<F, Fut>(f: F) -> FnHandler<F>
where
    F: Fn(JobContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = JobResult> + Send + 'static,
{
    FnHandler(f)
}

impl<F, Fut> Handler for FnHandler<F>
where
    F: Fn(JobContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = JobResult> + Send + 'static,
{
    fn handle(&self, ctx: JobContext) -> BoxFuture<JobResult> {
        Box::pin((self.0)(ctx))
    }
}

impl<H: Handler + ?Sized> Handler for Arc<H> {
    fn handle(&self, ctx: JobContext) -> BoxFuture<JobResult> {
        (**self).handle(ctx)
    }
}

/// Routes jobs to handlers by job name; a name with no handler fails permanently.
#[derive(Clone, Default)]
pub struct Handlers {
    by_name: HashMap<String, Arc<dyn Handler>>,
}

impl Handlers {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn on(mut self, name: impl Into<String>, handler: impl Handler) -> Self {
        self.by_name.insert(name.into(), Arc::new(handler));
        self
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }
}

impl Handler for Handlers {
    fn handle(&self, ctx: JobContext) -> BoxFuture<JobResult> {
        match self.by_name.get(&ctx.job.name) {
            Some(handler) => handler.handle(ctx),
            None => {
                let name = ctx.job.name.clone();
                Box::pin(async move { Err(JobError::permanent(format!("no handler for job name {name:?}"))) })
            }
        }
    }
}

/// Everything a handler gets: the job, a way to report progress and log lines, and a
/// cancellation token that fires on cancel, timeout, lost lease or shutdown.
pub struct JobContext {
    pub(crate) job: Job,
    pub(crate) queue: Queue,
    pub(crate) lease: String,
    pub(crate) cancel: CancellationToken,
    pub(crate) max_log_lines: u32,
}

impl JobContext {
    pub fn job(&self) -> &Job {
        &self.job
    }

    /// The payload as `T`; a payload that does not fit is a permanent error.
    pub fn payload<T: DeserializeOwned>(&self) -> std::result::Result<T, JobError> {
        serde_json::from_value(self.job.payload.clone())
            .map_err(|e| JobError::permanent(format!("payload does not match the expected shape: {e}")))
    }

    /// The queue the job came from, e.g. to enqueue follow-up jobs.
    pub fn queue(&self) -> &Queue {
        &self.queue
    }

    /// Fires when the job should stop: cancelled, timed out, lease lost, or shutdown.
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancel
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Takes a slot of the sliding-window limit `key` (e.g. `owner:42`, at most `max` per
    /// `per`); when it is full, the error defers the job to when a slot frees up, so
    /// `ctx.take_key_slot(..).await?` is all a handler needs.
    pub async fn take_key_slot(
        &self,
        key: &str,
        max: u32,
        per: std::time::Duration,
    ) -> std::result::Result<(), JobError> {
        match self.queue.take_key_slot(key, max, per, &self.job.id).await {
            Ok(()) => Ok(()),
            Err(QueueError::RateLimited { retry_after }) => Err(JobError::defer(retry_after)),
            Err(other) => Err(JobError::retryable(other)),
        }
    }

    /// Stores the job's progress and announces it on the event stream.
    pub async fn progress(&self, progress: Progress) -> Result<()> {
        let json = serde_json::to_string(&progress)?;
        self.write(Some(json), &[]).await
    }

    /// Publishes a domain event (e.g. `sync.completed`) about this job on the queue's
    /// event stream; see [`Queue::publish`].
    pub async fn publish(&self, kind: &str, fields: &[(&str, String)]) -> Result<String> {
        self.queue.publish(kind, &self.job.id, fields).await
    }

    /// Appends a log line to the job (the newest 100 are kept by default).
    pub async fn log(&self, line: impl Into<String>) -> Result<()> {
        self.write(None, &[line.into()]).await
    }

    async fn write(&self, progress: Option<String>, lines: &[String]) -> Result<()> {
        let code = self
            .queue
            .backend()
            .progress(&self.job.id, &self.lease, progress.as_deref(), self.max_log_lines, lines)
            .await?;
        match crate::backend::from_code(code, &self.job.id, "report progress") {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}
