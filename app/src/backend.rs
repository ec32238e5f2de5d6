//! The seam between the pages and the server's service layer.
//!
//! Server functions in this crate ask the [`Backend`] provided as Leptos context for
//! data; `server/` implements it. So the app never reaches Redis or SQL itself, and
//! every operation is written once, in the server's services.

use std::sync::Arc;

use leptos::prelude::*;

use crate::types::{DeadRow, JobDetail, MyJobs, QueueCard, QueuePage, SystemStatus, Viewer};

/// A boxed future, so the trait stays object safe.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// What the pages need from the server, asked on behalf of the request being served (the
/// implementation reads the caller from it). Errors are messages to show.
pub trait Backend: Send + Sync + 'static {
    fn system_status(&self) -> BoxFuture<'_, SystemStatus>;
    /// The signed-in user, if any.
    fn viewer(&self) -> BoxFuture<'_, Option<Viewer>>;
    /// Signs in with a password (the lockout against guessing applies).
    fn sign_in(&self, username: String, password: String) -> BoxFuture<'_, Result<Viewer, String>>;
    fn sign_out(&self) -> BoxFuture<'_, ()>;
    /// Every queue the caller may watch, with counts, warnings and workers online.
    fn overview(&self) -> BoxFuture<'_, Result<Vec<QueueCard>, String>>;
    /// One page of a queue's jobs in `state`, newest first, from `cursor`.
    fn queue_page(&self, queue: String, state: String, cursor: u64) -> BoxFuture<'_, Result<QueuePage, String>>;
    /// `pause` or `resume` a queue; `csrf` must be the session's token.
    fn queue_action(&self, queue: String, action: String, csrf: String) -> BoxFuture<'_, Result<(), String>>;
    fn job(&self, queue: String, id: String) -> BoxFuture<'_, Result<JobDetail, String>>;
    /// `retry`, `cancel`, `promote` or `remove` a job; `csrf` must be the session's token.
    fn job_action(&self, queue: String, id: String, action: String, csrf: String) -> BoxFuture<'_, Result<(), String>>;
    /// The caller's connections and their own recent jobs.
    fn my_jobs(&self) -> BoxFuture<'_, Result<MyJobs, String>>;
    /// Starts a sync of one of the caller's connections; returns the job id.
    fn sync_connection(&self, connection_id: i64, csrf: String) -> BoxFuture<'_, Result<String, String>>;
    /// Dead jobs across queues (or of `queue`), whose last error contains `error`.
    fn dead_letters(&self, queue: Option<String>, error: Option<String>)
    -> BoxFuture<'_, Result<Vec<DeadRow>, String>>;
    /// `requeue` or `purge` one dead job (`id` set) or every one the filter matches;
    /// returns how many.
    fn dead_action(
        &self,
        action: String,
        queue: Option<String>,
        id: Option<String>,
        error: Option<String>,
        csrf: String,
    ) -> BoxFuture<'_, Result<u64, String>>;
}

/// The backend the server put into context for this request.
pub fn backend() -> Result<Arc<dyn Backend>, ServerFnError> {
    use_context::<Arc<dyn Backend>>().ok_or_else(|| ServerFnError::new("server backend is not available"))
}
