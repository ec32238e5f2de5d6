//! Typed jobs: a payload type that names its job, its result type and its default
//! options. Push it with [`Queue::push`], handle it with [`Handlers::job`], read its
//! result back with [`Job::output`]. On the wire it is the same job as
//! [`NewJob::new`]`(T::NAME, json)`, so other languages and the REST API enqueue it too.
//!
//! ```no_run
//! use hoist_queue::{Handlers, JobContext, JobError, Queue, TypedJob};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct SendInvoice {
//!     customer: u64,
//! }
//!
//! #[derive(Serialize, Deserialize)]
//! struct Sent {
//!     message_id: String,
//! }
//!
//! impl TypedJob for SendInvoice {
//!     const NAME: &'static str = "send-invoice";
//!     type Output = Sent;
//! }
//!
//! async fn send_invoice(_ctx: JobContext, job: SendInvoice) -> Result<Sent, JobError> {
//!     Ok(Sent { message_id: format!("invoice-{}", job.customer) })
//! }
//!
//! # async fn run(queue: Queue) -> hoist_queue::Result<()> {
//! let handlers = Handlers::new().job(send_invoice);
//! let pushed = queue.push(&SendInvoice { customer: 42 }).await?;
//! # let _ = (handlers, pushed); Ok(()) }
//! ```

use std::future::Future;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Result;
use crate::handler::{BoxFuture, Handler, Handlers, JobContext, JobError, JobResult};
use crate::queue::Queue;
use crate::types::{Enqueued, Job, JobOptions, NewJob};

/// A job's payload as a type: its job name, what its handler returns, and the options it
/// is pushed with unless told otherwise.
pub trait TypedJob: Serialize + DeserializeOwned + Send + 'static {
    /// The job name it is stored and routed by.
    const NAME: &'static str;
    /// What a successful run returns, stored as the job's JSON result.
    type Output: Serialize + DeserializeOwned + Send + 'static;

    /// Options for [`Queue::push`] (attempts, backoff, delay, owner...); may depend on
    /// the payload, e.g. an owner taken from it.
    fn options(&self) -> JobOptions {
        JobOptions::default()
    }
}

impl NewJob {
    /// The job `job` stands for, with its options.
    pub fn typed<J: TypedJob>(job: &J) -> Result<NewJob> {
        Ok(NewJob::new(J::NAME, serde_json::to_value(job)?).with_options(job.options()))
    }
}

impl Queue {
    /// Enqueues a typed job with its [`TypedJob::options`].
    pub async fn push<J: TypedJob>(&self, job: &J) -> Result<Enqueued> {
        self.enqueue(NewJob::typed(job)?).await
    }

    /// Enqueues typed jobs in one round trip, each with its options.
    pub async fn push_bulk<'a, J: TypedJob>(&self, jobs: impl IntoIterator<Item = &'a J>) -> Result<Vec<Enqueued>> {
        let jobs = jobs.into_iter().map(NewJob::typed).collect::<Result<Vec<_>>>()?;
        self.enqueue_bulk(jobs).await
    }
}

impl Job {
    /// The result of a completed job as `J::Output`: `None` while it has none, an error
    /// when it does not have that shape.
    pub fn output<J: TypedJob>(&self) -> Option<std::result::Result<J::Output, serde_json::Error>> {
        self.result.as_ref().map(|value| serde_json::from_value(value.clone()))
    }
}

impl Handlers {
    /// Runs `handler` for jobs named `J::NAME`, given the payload as `J`. A payload that
    /// does not deserialize fails the job permanently with serde's message (retrying
    /// cannot fix it); the output is stored as the job's JSON result.
    pub fn job<J, F, Fut>(self, handler: F) -> Self
    where
        J: TypedJob,
        F: Fn(JobContext, J) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<J::Output, JobError>> + Send + 'static,
    {
        self.on(J::NAME, TypedHandler { handler, job: PhantomData })
    }
}

/// A handler of one typed job.
struct TypedHandler<J, F> {
    handler: F,
    job: PhantomData<fn() -> J>,
}

impl<J, F, Fut> Handler for TypedHandler<J, F>
where
    J: TypedJob,
    F: Fn(JobContext, J) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = std::result::Result<J::Output, JobError>> + Send + 'static,
{
    fn handle(&self, ctx: JobContext) -> BoxFuture<JobResult> {
        let job = match J::deserialize(&ctx.job().payload) {
            Ok(job) => job,
            Err(e) => {
                let message = format!("the payload of {} does not deserialize: {e}", J::NAME);
                return Box::pin(async move { Err(JobError::permanent(message)) });
            }
        };
        let run = (self.handler)(ctx, job);
        Box::pin(async move {
            let output = run.await?;
            serde_json::to_value(output)
                .map_err(|e| JobError::permanent(format!("the output of {} does not serialize: {e}", J::NAME)))
        })
    }
}
