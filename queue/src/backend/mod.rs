//! The storage seam: the only module that talks to Redis. It owns the connection and the
//! key names ([`keys`]), stores and reads jobs in their Redis form ([`record`]), and gives
//! one typed method per script ([`transitions`], [`control`]) and per read ([`reads`]).
//! Every call gets a tracing span naming the operation and the queue; every refusal a
//! script or Redis gives is mapped to [`QueueError`](crate::QueueError) in one place
//! ([`errors`]). `Queue`, `Worker`, `JobContext` and `Scheduler` go through it; nothing
//! else formats a key or sends a command.

pub(crate) mod clock;
mod control;
mod decode;
mod errors;
pub(crate) mod keys;
pub(crate) mod lockouts;
pub(crate) mod processes;
mod reads;
pub(crate) mod record;
pub(crate) mod roles;
#[cfg(feature = "scheduler")]
pub(crate) mod schedules;
pub(crate) mod scripts;
mod transitions;

use std::sync::atomic::{AtomicU64, Ordering};

use redis::ScriptInvocation;
use redis::aio::ConnectionLike;
use tracing::Instrument;

pub(crate) use control::Selection;
pub(crate) use decode::{array, decode_events, entry_events, field_map, int, split_position, strings, text};
pub(crate) use errors::{from_code, script_error};
pub(crate) use reads::{queue_names, server_settings, server_version};
pub(crate) use transitions::{Claim, Claimed, Completion, Failure, WorkerSignal};

use crate::connection::RedisConnection;
use crate::error::Result;
use keys::QueueKeys;

static ROUND_TRIPS: AtomicU64 = AtomicU64::new(0);

/// Counts one request/reply exchange with Redis (for the benchmark's round trips per job).
pub(crate) fn count_round_trip() {
    ROUND_TRIPS.fetch_add(1, Ordering::Relaxed);
}

/// Round trips to Redis made by the engine's scripts, blocking waits and heartbeats in
/// this process so far.
pub fn round_trips() -> u64 {
    ROUND_TRIPS.load(Ordering::Relaxed)
}

/// Starts a queue script call with the keys the script declared and the arguments every
/// queue script takes (the queue's key prefix and the event stream's cap; scripts read
/// the time themselves).
pub(crate) fn invocation<'a>(
    script: &'a scripts::QueueScript,
    keys: &QueueKeys,
    max_events: u64,
) -> ScriptInvocation<'a> {
    let mut call = script.script.prepare_invoke();
    for name in &script.keys {
        call.key(keys.named(name));
    }
    call.arg(keys.prefix()).arg(max_events);
    call
}

/// Runs a script call, mapping the scripts' refusals to typed errors.
pub(crate) async fn run<T: redis::FromRedisValue>(
    call: &ScriptInvocation<'_>,
    conn: &mut (impl ConnectionLike + Send),
) -> Result<T> {
    count_round_trip();
    call.invoke_async(conn).await.map_err(script_error)
}

/// Runs a script call of a store that is not a queue's (schedules, lockouts) under a span
/// naming the operation and what it is about.
pub(crate) async fn eval_traced<T: redis::FromRedisValue>(
    op: &'static str,
    about: &str,
    redis: &RedisConnection,
    call: &ScriptInvocation<'_>,
) -> Result<T> {
    let span = tracing::trace_span!("redis", op, about);
    run(call, &mut redis.shared()).instrument(span).await
}

/// One queue's storage: its connection, its keys and the event stream's cap.
#[derive(Clone)]
pub(crate) struct Backend {
    redis: RedisConnection,
    keys: QueueKeys,
    queue: String,
    max_events: u64,
}

impl Backend {
    pub(crate) fn new(redis: &RedisConnection, key_prefix: &str, queue: &str, max_events: u64) -> Self {
        Backend { redis: redis.clone(), keys: QueueKeys::new(key_prefix, queue), queue: queue.to_string(), max_events }
    }

    pub(crate) fn redis(&self) -> &RedisConnection {
        &self.redis
    }

    fn script<'a>(&self, script: &'a scripts::QueueScript) -> ScriptInvocation<'a> {
        invocation(script, &self.keys, self.max_events)
    }

    /// Runs one script call under a span naming the operation.
    async fn eval<T: redis::FromRedisValue>(&self, op: &'static str, call: &ScriptInvocation<'_>) -> Result<T> {
        eval_traced(op, &self.queue, &self.redis, call).await
    }

    /// Runs one command or pipeline (a read) under a span naming the operation.
    async fn query<T: redis::FromRedisValue>(&self, op: &'static str, request: &impl Request) -> Result<T> {
        query_traced(op, &self.queue, &self.redis, request).await
    }
}

/// Sends one command or pipeline under a span naming the operation and what it is about.
pub(crate) async fn query_traced<T: redis::FromRedisValue>(
    op: &'static str,
    about: &str,
    redis: &RedisConnection,
    request: &impl Request,
) -> Result<T> {
    let span = tracing::trace_span!("redis", op, about);
    count_round_trip();
    request.send(&mut redis.shared()).instrument(span).await.map_err(script_error)
}

/// A command or a pipeline: what [`query_traced`] sends.
pub(crate) trait Request {
    fn send<T: redis::FromRedisValue>(
        &self,
        conn: &mut crate::connection::Conn,
    ) -> impl Future<Output = redis::RedisResult<T>> + Send;
}

impl Request for redis::Cmd {
    fn send<T: redis::FromRedisValue>(
        &self,
        conn: &mut crate::connection::Conn,
    ) -> impl Future<Output = redis::RedisResult<T>> + Send {
        self.query_async(conn)
    }
}

impl Request for redis::Pipeline {
    fn send<T: redis::FromRedisValue>(
        &self,
        conn: &mut crate::connection::Conn,
    ) -> impl Future<Output = redis::RedisResult<T>> + Send {
        self.query_async(conn)
    }
}
