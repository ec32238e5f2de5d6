//! [`Role`]: a duty one process of many holds at a time — e.g. the one `hoist serve` that
//! exports cluster-wide numbers to Prometheus, so a `sum()` over all processes counts
//! them once. A holder keeps the role by claiming it again before `ttl` runs out; when
//! it stops (or dies), another process takes over after at most `ttl`.

use std::time::Duration;

use crate::backend::roles::RoleStore;
use crate::connection::RedisConnection;
use crate::error::{QueueError, Result};

/// Longest role holder id, in bytes.
pub const MAX_HOLDER_BYTES: usize = 200;

/// One role, shared through Redis by every process using the same key prefix.
///
/// ```no_run
/// # use std::time::Duration;
/// # use hoist_queue::{RedisConnection, Role};
/// # async fn demo(redis: RedisConnection) -> Result<(), hoist_queue::QueueError> {
/// let exporter = Role::new(&redis, "metrics-exporter");
/// if exporter.claim("web-1:4242", Duration::from_secs(60)).await? {
///     // this process does the duty until it stops claiming
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Role {
    store: RoleStore,
}

impl Role {
    /// The role `name` under the connection's key prefix.
    pub fn new(redis: &RedisConnection, name: &str) -> Self {
        Role { store: RoleStore::new(redis, redis.key_prefix(), name) }
    }

    /// Takes the role for `holder` when nobody holds it, or keeps it when `holder`
    /// already does, for `ttl` (1 ms to a day) from now. `true` when `holder` has it.
    pub async fn claim(&self, holder: &str, ttl: Duration) -> Result<bool> {
        if holder.is_empty() || holder.len() > MAX_HOLDER_BYTES {
            return Err(QueueError::InvalidOption {
                field: "holder",
                reason: format!("must be 1 to {MAX_HOLDER_BYTES} bytes"),
            });
        }
        if ttl.is_zero() || ttl > Duration::from_secs(86_400) {
            return Err(QueueError::InvalidOption { field: "ttl", reason: "must be 1 ms to a day".into() });
        }
        self.store.claim(holder, ttl).await
    }

    /// Gives the role up if `holder` has it, so another process can take it at once.
    pub async fn release(&self, holder: &str) -> Result<()> {
        self.store.release(holder).await
    }
}
