//! [`Queue`]: a handle on one queue. Its operations are split by concern: adding jobs
//! ([`enqueue`](self::enqueue)), reading them ([`inspect`](self::inspect)), an operator's
//! actions ([`admin`](self::admin)), the event stream ([`events`](self::events)) and the
//! hand-over to a history store ([`archive`](self::archive)). All of them go through the
//! storage seam ([`crate::backend`]).

mod admin;
mod archive;
mod batch;
mod enqueue;
mod events;
mod inspect;

use std::sync::Arc;
use std::time::Duration;

use crate::backend::Backend;
use crate::connection::RedisConnection;
use crate::error::{QueueError, Result};
use crate::keys::{MAX_OWNER_BYTES, validate_queue_name};

pub use admin::{MAX_CONCURRENCY_LIMIT, MAX_PROCESS_CONCURRENCY, MAX_RATE_LIMIT};
pub use batch::MAX_BATCH_ID_BYTES;

/// How many finished jobs a queue keeps in Redis, by count and by age. SQL history keeps
/// them longer; Redis stays small.
#[derive(Clone, Debug, PartialEq)]
pub struct Retention {
    pub max_count: Option<u64>,
    pub max_age: Option<Duration>,
}

/// Settings of a queue handle.
#[derive(Clone, Debug)]
pub struct QueueConfig {
    /// Prefix of every key (default `hoist`).
    pub key_prefix: String,
    /// Largest accepted payload, in bytes of JSON (default 512 KiB).
    pub max_payload_bytes: usize,
    /// Approximate length the event stream is capped at (default 10,000).
    pub max_events: u64,
    /// Completed jobs kept (default 1,000 and 24 h).
    pub completed: Retention,
    /// Dead jobs kept (default 10,000 and 14 days).
    pub dead: Retention,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            key_prefix: crate::connection::DEFAULT_KEY_PREFIX.into(),
            max_payload_bytes: 512 * 1024,
            max_events: 10_000,
            completed: Retention { max_count: Some(1000), max_age: Some(Duration::from_secs(24 * 3600)) },
            dead: Retention { max_count: Some(10_000), max_age: Some(Duration::from_secs(14 * 24 * 3600)) },
        }
    }
}

impl Retention {
    /// As the scripts take it: (count or -1 for no limit, age in ms or 0 for none).
    pub(crate) fn args(&self) -> (i64, i64) {
        (self.max_count.map(|c| c as i64).unwrap_or(-1), self.max_age.map(|a| a.as_millis() as i64).unwrap_or(0))
    }
}

/// What [`Queue::cancel`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelOutcome {
    /// The job had not started; it is cancelled.
    Cancelled,
    /// The job is running; its handler's cancellation token was signalled.
    Requested,
}

/// A handle on one queue. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct Queue {
    inner: Arc<QueueInner>,
}

struct QueueInner {
    name: String,
    backend: Backend,
    config: QueueConfig,
    /// Set once this handle has recorded the queue in the registry.
    registered: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").field("name", &self.inner.name).finish()
    }
}

impl Queue {
    /// A handle on queue `name` with the default configuration.
    /// The queue `name` under the connection's key prefix
    /// ([`RedisConnection::with_key_prefix`]), with the default settings.
    pub fn new(redis: &RedisConnection, name: &str) -> Result<Self> {
        let config = QueueConfig { key_prefix: redis.key_prefix().to_string(), ..QueueConfig::default() };
        Self::with_config(redis, name, config)
    }

    pub fn with_config(redis: &RedisConnection, name: &str, config: QueueConfig) -> Result<Self> {
        validate_queue_name(name)?;
        let backend = Backend::new(redis, &config.key_prefix, name, config.max_events);
        let registered = std::sync::atomic::AtomicBool::new(false);
        Ok(Queue { inner: Arc::new(QueueInner { name: name.to_string(), backend, config, registered }) })
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub fn config(&self) -> &QueueConfig {
        &self.inner.config
    }

    /// The queue's storage: every read and write goes through it.
    pub(crate) fn backend(&self) -> &Backend {
        &self.inner.backend
    }

    pub(crate) fn redis(&self) -> &RedisConnection {
        self.inner.backend.redis()
    }

    /// Every queue name ever enqueued to or worked on under this key prefix.
    pub async fn list_queues(redis: &RedisConnection, key_prefix: &str) -> Result<Vec<String>> {
        crate::backend::queue_names(redis, key_prefix).await
    }

    /// [`Queue::list_queues`] under the connection's key prefix.
    pub async fn list_all(redis: &RedisConnection) -> Result<Vec<String>> {
        crate::backend::queue_names(redis, redis.key_prefix()).await
    }

    /// Records the queue in the registry of queue names (dashboards list from it).
    pub async fn register(&self) -> Result<()> {
        use std::sync::atomic::Ordering;
        if self.inner.registered.load(Ordering::Relaxed) {
            return Ok(());
        }
        self.backend().register_queue().await?;
        self.inner.registered.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Redis's current time (epoch ms) on the node holding this queue: the clock every
    /// time the engine records (created, started, finished, run-at, leases) is read from.
    /// Compare those times with this, not with the local clock.
    pub async fn redis_time(&self) -> Result<i64> {
        self.backend().now().await
    }
}

/// An owner is 1 to [`MAX_OWNER_BYTES`] bytes of any text.
fn check_owner(owner: &str) -> Result<()> {
    check_label("owner", owner, MAX_OWNER_BYTES)
}

/// A name that becomes part of a key (an owner, a batch id): 1 to `max` bytes without
/// control characters.
fn check_label(field: &'static str, value: &str, max: usize) -> Result<()> {
    if value.is_empty() || value.len() > max || value.chars().any(char::is_control) {
        return Err(QueueError::InvalidOption {
            field,
            reason: format!("must be 1 to {max} bytes without control characters"),
        });
    }
    Ok(())
}
