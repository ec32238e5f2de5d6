//! What a job handler is: the [`Handler`] trait, the [`JobContext`] it receives, and the
//! [`JobError`] that says whether a failure is worth retrying.

use std::any::{Any, TypeId};
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
///
/// It also holds the application state handlers share ([`Handlers::with_state`], read
/// with [`JobContext::state`]) and middleware that runs around every job
/// ([`Handlers::around`]).
///
/// ```
/// use hoist_queue::{Handlers, JobContext, Next, handler_fn};
/// use serde_json::json;
///
/// #[derive(Clone)]
/// struct Mailer { from: String }
///
/// let handlers = Handlers::new()
///     .with_state(Mailer { from: "billing@example.com".into() })
///     .on("welcome", handler_fn(|ctx: JobContext| async move {
///         let mailer: &Mailer = ctx.state()?;
///         Ok(json!({ "from": mailer.from }))
///     }))
///     .around(|ctx: JobContext, next: Next| async move {
///         let started = std::time::Instant::now();
///         let name = ctx.job().name.clone();
///         let result = next.run(ctx).await;
///         println!("{name} took {:?}", started.elapsed());
///         result
///     });
/// ```
#[derive(Clone, Default)]
pub struct Handlers {
    by_name: Arc<HashMap<String, Arc<dyn Handler>>>,
    around: Arc<Vec<Arc<dyn Middleware>>>,
    state: Arc<StateMap>,
}

impl Handlers {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn on(mut self, name: impl Into<String>, handler: impl Handler) -> Self {
        Arc::make_mut(&mut self.by_name).insert(name.into(), Arc::new(handler));
        self
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// Shares `state` with every handler: [`JobContext::state`] returns it by its type
    /// (one value per type; adding a second of a type replaces the first).
    pub fn with_state<S: Send + Sync + 'static>(mut self, state: S) -> Self {
        Arc::make_mut(&mut self.state).insert(TypeId::of::<S>(), Arc::new(state));
        self
    }

    /// Runs `middleware` around every job: it gets the context and the rest of the chain
    /// ([`Next`]), and returns the job's result (or changes it). The first added runs
    /// outermost.
    pub fn around(mut self, middleware: impl Middleware) -> Self {
        Arc::make_mut(&mut self.around).push(Arc::new(middleware));
        self
    }
}

impl Handler for Handlers {
    fn handle(&self, mut ctx: JobContext) -> BoxFuture<JobResult> {
        if !self.state.is_empty() {
            ctx.state = Some(self.state.clone());
        }
        if self.around.is_empty() {
            return dispatch(&self.by_name, ctx);
        }
        Next { by_name: self.by_name.clone(), around: self.around.clone(), index: 0 }.run(ctx)
    }
}

type StateMap = HashMap<TypeId, Arc<dyn Any + Send + Sync>>;

/// Code that runs around every job of a [`Handlers`]: tracing, metrics, timing, your own.
/// Implemented by any `Fn(JobContext, Next) -> impl Future<Output = JobResult>`.
pub trait Middleware: Send + Sync + 'static {
    fn call(&self, ctx: JobContext, next: Next) -> BoxFuture<JobResult>;
}

impl<F, Fut> Middleware for F
where
    F: Fn(JobContext, Next) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = JobResult> + Send + 'static,
{
    fn call(&self, ctx: JobContext, next: Next) -> BoxFuture<JobResult> {
        Box::pin(self(ctx, next))
    }
}

/// The rest of the chain a [`Middleware`] wraps: the middleware added after it, then the
/// job's handler.
pub struct Next {
    by_name: Arc<HashMap<String, Arc<dyn Handler>>>,
    around: Arc<Vec<Arc<dyn Middleware>>>,
    index: usize,
}

impl Next {
    /// Runs the rest of the chain.
    pub fn run(self, ctx: JobContext) -> BoxFuture<JobResult> {
        if let Some(middleware) = self.around.get(self.index).cloned() {
            let next = Next { index: self.index + 1, ..self };
            return middleware.call(ctx, next);
        }
        dispatch(&self.by_name, ctx)
    }
}

/// Runs the handler of the job's name; a name with no handler fails permanently.
fn dispatch(by_name: &HashMap<String, Arc<dyn Handler>>, ctx: JobContext) -> BoxFuture<JobResult> {
    match by_name.get(&ctx.job.name) {
        Some(handler) => handler.handle(ctx),
        None => {
            let name = ctx.job.name.clone();
            Box::pin(async move { Err(JobError::permanent(format!("no handler for job name {name:?}"))) })
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
    /// Set by [`Handlers`] as it dispatches (none without state: no allocation per job).
    pub(crate) state: Option<Arc<StateMap>>,
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

    /// The application state of type `S` given to [`Handlers::with_state`]; an error
    /// (permanent: retrying cannot add it) when there is none of that type.
    pub fn state<S: Send + Sync + 'static>(&self) -> std::result::Result<&S, JobError> {
        let found = self.state.as_ref().and_then(|states| states.get(&TypeId::of::<S>()));
        found.and_then(|s| s.downcast_ref::<S>()).ok_or_else(|| {
            JobError::permanent(format!("no state of type {} was given to the handlers", std::any::type_name::<S>()))
        })
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
