//! What every request handler can reach.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::db::Db;
use crate::error::StartupError;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub redis: ConnectionManager,
    pub leptos_options: LeptosOptions,
    pub sessions: crate::auth::session_store::SqlSessionStore,
    /// Whether session cookies carry the `Secure` flag.
    pub secure_cookies: bool,
    pub session_hours: i64,
    /// The engine's connection, shared by every queue handle.
    pub engine: hoist_queue::RedisConnection,
    pub metrics: crate::metrics::Metrics,
    pub history: crate::history::HistoryConfig,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    /// Queues whose archive set this process has turned on.
    pub archiving: Arc<crate::history::Archiving>,
    /// The live feed's hub (started by the first WebSocket).
    pub live: crate::live::LiveHub,
    /// Origins besides the server's own that may send state changes and open the live
    /// feed (`HOIST_ALLOWED_ORIGINS`), normalized as `scheme://host[:port]`.
    pub allowed_origins: Arc<Vec<String>>,
    /// Proxies whose `X-Forwarded-For` names the client (`HOIST_TRUSTED_PROXIES`).
    pub trusted_proxies: Arc<crate::client_addr::TrustedProxies>,
    /// How often a live socket checks its session or token still holds.
    pub live_recheck: Duration,
    /// Live sockets one user may hold open on this process.
    pub max_sockets_per_user: usize,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// Connects to Redis and checks it answers, failing fast with a message naming
/// `REDIS_URL`; afterwards the connection manager reconnects by itself.
pub async fn connect_redis(url: &str) -> Result<ConnectionManager, StartupError> {
    let unreachable =
        |reason: String| StartupError::Unreachable { variable: "REDIS_URL", target: crate::db::redact(url), reason };
    let client =
        redis::Client::open(url).map_err(|e| StartupError::Invalid { variable: "REDIS_URL", reason: e.to_string() })?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(3)))
        .set_response_timeout(Some(Duration::from_secs(5)))
        .set_number_of_retries(2);
    let mut manager = tokio::time::timeout(Duration::from_secs(10), client.get_connection_manager_with_config(config))
        .await
        .map_err(|_| unreachable("timed out after 10 s".into()))?
        .map_err(|e| unreachable(e.to_string()))?;
    let _: String = redis::cmd("PING").query_async(&mut manager).await.map_err(|e| unreachable(e.to_string()))?;
    Ok(manager)
}
