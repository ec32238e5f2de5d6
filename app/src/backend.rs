//! The seam between the pages and the server's service layer.
//!
//! Server functions in this crate ask the [`Backend`] provided as Leptos context for
//! data; `server/` implements it. So the app never reaches Redis or SQL itself, and
//! every operation is written once, in the server's services.

use std::sync::Arc;

use leptos::prelude::*;

use crate::types::SystemStatus;

/// A boxed future, so the trait stays object safe.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

pub trait Backend: Send + Sync + 'static {
    fn system_status(&self) -> BoxFuture<'_, SystemStatus>;
}

/// The backend the server put into context for this request.
pub fn backend() -> Result<Arc<dyn Backend>, ServerFnError> {
    use_context::<Arc<dyn Backend>>().ok_or_else(|| ServerFnError::new("server backend is not available"))
}
