//! The engine's one error type.

use std::time::Duration;

/// Everything an engine call can fail with. New kinds of failure may be added, so a
/// `match` needs a catch-all arm.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    #[error("invalid queue name {name:?}: {reason}")]
    InvalidQueueName { name: String, reason: &'static str },
    #[error("invalid {field}: {reason}")]
    InvalidOption { field: &'static str, reason: String },
    #[error("payload is {size} bytes, more than the maximum of {max}")]
    PayloadTooLarge { size: usize, max: usize },
    #[error("job {id} not found")]
    NotFound { id: String },
    #[error("job {id} is no longer held by this worker (its lease expired)")]
    LeaseLost { id: String },
    #[error("job {id} is {state}, cannot {action}")]
    WrongState { id: String, state: String, action: &'static str },
    #[error("queue has active jobs; stop its workers or force")]
    ActiveJobs,
    #[error("rate limited; retry after {retry_after:?}")]
    RateLimited { retry_after: Duration },
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("unexpected reply from redis: {0}")]
    Protocol(String),
}

impl QueueError {
    /// True for errors of the connection to Redis (worth retrying), not of the request.
    pub fn is_connection(&self) -> bool {
        match self {
            QueueError::Redis(e) => {
                e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() || e.is_timeout()
            }
            _ => false,
        }
    }
}

pub type Result<T, E = QueueError> = std::result::Result<T, E>;
