//! What every request handler can reach.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;

use crate::db::Db;
use crate::error::StartupError;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub leptos_options: LeptosOptions,
    /// Where the dashboard's wasm, JS and CSS come from (built in, or a folder).
    pub site: crate::site::SiteFiles,
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
    /// The host application's sign-in, when Hoist is embedded and trusts it.
    pub host_auth: Option<crate::auth::HostAuth>,
    /// The built-in processors' queues (`HOIST_SYNC_QUEUE`...), which services enqueue to
    /// whether or not this process runs the processors. Default: their default names.
    pub queue_names: Arc<crate::processors::QueueNames>,
    /// The throughput chart's closed minutes, so each read fetches only new ones.
    pub throughput: Arc<crate::throughput_cache::ThroughputCache>,
    /// The id this process registered under in the process registry, once its workers
    /// started: the Processes page marks it as the server the page came from.
    pub own_process: Arc<std::sync::OnceLock<String>>,
    /// Lockouts this process wrote to the audit log lately, so a locked-out account or
    /// address under attack makes one entry per window, not one per refused attempt.
    pub lockouts_noted: Arc<crate::audit::LockoutNotes>,
    /// Each queue's settings: `hoist.toml` and the environment over the defaults.
    pub settings: Arc<crate::settings::Settings>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// Refuses a Redis that may evict keys (unless `allow_eviction`), and warns when it keeps
/// nothing on disk: what a process that runs or holds jobs checks before it starts.
pub async fn check_redis_settings(
    redis: &hoist_queue::RedisConnection,
    allow_eviction: bool,
) -> Result<(), StartupError> {
    let settings = redis.server_settings().await.map_err(|e| StartupError::Unreachable {
        variable: "REDIS_URL",
        target: "Redis".into(),
        reason: format!("reading its settings (INFO) failed: {e}"),
    })?;
    if settings.evicts_keys() {
        if !allow_eviction {
            return Err(StartupError::Invalid {
                variable: "REDIS_URL",
                reason: format!(
                    "Redis has maxmemory-policy {}: under memory pressure it deletes keys, and jobs with them. \
                     Set `maxmemory-policy noeviction` (CONFIG SET, redis.conf, or your provider's parameter \
                     group), or start with HOIST_ALLOW_EVICTION=true if its memory can never fill up",
                    settings.maxmemory_policy
                ),
            });
        }
        tracing::warn!(policy = %settings.maxmemory_policy, "Redis may evict jobs under memory pressure (HOIST_ALLOW_EVICTION)");
    }
    if settings.keeps_nothing() {
        tracing::warn!("Redis keeps nothing on disk (no AOF, no RDB snapshots): restarting it loses every queued job");
    }
    Ok(())
}

/// Connects the engine to Redis and checks it answers, failing fast with a message naming
/// `REDIS_URL`; afterwards the connection reconnects by itself. The engine's connection
/// is the server's only one: everything it does in Redis goes through the engine.
/// Its keys go under `key_prefix` (`HOIST_KEY_PREFIX`).
pub async fn connect_redis(store: &crate::config::StoreConfig) -> Result<hoist_queue::RedisConnection, StartupError> {
    let (url, key_prefix) = (store.redis_url.as_str(), store.key_prefix.as_str());
    let tls = store.redis_tls()?;
    let unreachable =
        |reason: String| StartupError::Unreachable { variable: "REDIS_URL", target: crate::db::redact(url), reason };
    let connect = async {
        let redis = match &tls {
            Some(files) => hoist_queue::RedisConnection::connect_tls(url, files).await?,
            None => hoist_queue::RedisConnection::connect(url).await?,
        }
        .with_key_prefix(key_prefix)?;
        redis.server_version().await?;
        Ok::<_, hoist_queue::QueueError>(redis)
    };
    match tokio::time::timeout(Duration::from_secs(10), connect).await {
        Err(_) => Err(unreachable("timed out after 10 s".into())),
        Ok(Ok(redis)) => Ok(redis),
        Ok(Err(hoist_queue::QueueError::Redis(e))) if e.kind() == redis::ErrorKind::InvalidClientConfig => {
            Err(StartupError::Invalid { variable: "REDIS_URL", reason: e.to_string() })
        }
        Ok(Err(e @ hoist_queue::QueueError::InvalidOption { field: "redis_url", .. })) => {
            Err(StartupError::Invalid { variable: "REDIS_URL", reason: e.to_string() })
        }
        Ok(Err(e @ hoist_queue::QueueError::InvalidOption { .. })) => {
            Err(StartupError::Invalid { variable: "HOIST_KEY_PREFIX", reason: e.to_string() })
        }
        Ok(Err(e)) => Err(unreachable(e.to_string())),
    }
}
