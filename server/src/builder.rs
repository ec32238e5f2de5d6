//! Hoist inside your own binary: your Redis and SQL, your handlers and schedules, the
//! built-in processors you opt into, and either [`Hoist::serve`] (what `hoist serve`
//! does) or [`Hoist::router`], the dashboard, REST API and live feed as an axum
//! [`Router`] to nest in your application under a prefix such as `/hoist`.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use hoist_server::{Hoist, HostUser, Role};
//! use hoist_server::queue::{Handlers, JobContext, JobError};
//!
//! # async fn example() -> anyhow::Result<()> {
//! let emails = Handlers::new().on("welcome", hoist_server::queue::handler_fn(|ctx: JobContext| async move {
//!     Ok(serde_json::json!({ "sent_to": ctx.job().payload["to"] }))
//! }));
//! let hoist = Hoist::builder()
//!     .redis_url("redis://127.0.0.1:6379")
//!     .database_url("sqlite://hoist.db?mode=rwc")
//!     .queue("emails", emails)
//!     // Everyone your app signed in is a Hoist operator (a real app checks its session).
//!     .host_auth(|_request| async { Some(HostUser::new("alice", Role::Operator)) })
//!     .build()
//!     .await?;
//! let running = hoist.start().await?;
//! let app = Router::new().route("/", get(|| async { "my app" })).nest("/hoist", hoist.router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
//!     .with_graceful_shutdown(async { tokio::signal::ctrl_c().await.unwrap_or_default() })
//!     .await?;
//! running.stop().await;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::path::PathBuf;

use anyhow::Context;
use axum::Router;
use axum::http::request::Parts;
use clap::Parser;
use hoist_queue::{CancellationToken, Handlers, Queue, RedisConnection, ScheduleSpec, Scheduler};

use crate::auth::{HostAuth, HostUser};
use crate::config::{HttpConfig, ServeConfig, WorkerConfig};
use crate::error::StartupError;
use crate::processors::{Builtin, ProcessorConfig, Registry};
use crate::state::AppState;
use crate::users::AdminBootstrap;

/// Sets up a [`Hoist`]. [`HoistBuilder::new`] starts from `hoist serve`'s defaults, and
/// [`HoistBuilder::from_env`] from its environment variables too; the methods override
/// either.
#[must_use]
pub struct HoistBuilder {
    /// The settings, or why the environment's did not parse (reported by `build`).
    settings: Result<ServeConfig, String>,
    queues: Vec<(String, Handlers)>,
    schedules: Vec<ScheduleSpec>,
    host_auth: Option<HostAuth>,
}

impl Default for HoistBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl HoistBuilder {
    /// `hoist serve`'s defaults, ignoring the environment: a host application's own
    /// `DATABASE_URL` or `REDIS_URL` is not taken for Hoist's by accident.
    pub fn new() -> Self {
        use clap::{CommandFactory, FromArgMatches};
        let command = ServeConfig::command().mut_args(|arg| arg.env(None::<&str>));
        let settings = command
            .try_get_matches_from(["hoist"])
            .and_then(|matches| ServeConfig::from_arg_matches(&matches))
            .map_err(|e| format!("the built-in defaults do not parse: {e}"));
        HoistBuilder { settings, queues: vec![], schedules: vec![], host_auth: None }
    }

    /// `hoist serve`'s defaults with its environment variables applied (`REDIS_URL`,
    /// `DATABASE_URL`, `HOIST_*`; see README). A variable that does not parse is reported
    /// by [`HoistBuilder::build`].
    pub fn from_env() -> Self {
        let settings =
            ServeConfig::try_parse_from(["hoist"]).map_err(|e| format!("a setting in the environment is invalid: {e}"));
        HoistBuilder { settings, queues: vec![], schedules: vec![], host_auth: None }
    }

    /// From settings already parsed (what the `hoist` command line does).
    pub fn from_config(config: ServeConfig) -> Self {
        HoistBuilder { settings: Ok(config), queues: vec![], schedules: vec![], host_auth: None }
    }

    fn set(mut self, change: impl FnOnce(&mut ServeConfig)) -> Self {
        if let Ok(settings) = &mut self.settings {
            change(settings);
        }
        self
    }

    /// Redis holding the queues (`REDIS_URL`).
    pub fn redis_url(self, url: impl Into<String>) -> Self {
        self.set(|s| s.store.redis_url = url.into())
    }

    /// SQL for users, sessions, audit log and history: `sqlite://...` or `postgres://...`
    /// (`DATABASE_URL`; unset: SQLite in the data folder).
    pub fn database_url(self, url: impl Into<String>) -> Self {
        self.set(|s| s.store.database_url = Some(url.into()))
    }

    /// Folder for the default SQLite database (`HOIST_DATA_DIR`).
    pub fn data_dir(self, dir: impl Into<PathBuf>) -> Self {
        self.set(|s| s.store.data_dir = dir.into())
    }

    /// Prefix of every Redis key (`HOIST_KEY_PREFIX`): the dashboard sees the queues under
    /// it and no others.
    pub fn key_prefix(self, prefix: impl Into<String>) -> Self {
        self.set(|s| s.store.key_prefix = prefix.into())
    }

    /// The CA that signed the Redis server's certificate, for `rediss://` URLs
    /// (`REDIS_CA_FILE`; unset: the system's trusted CAs).
    pub fn redis_ca_file(self, path: impl Into<PathBuf>) -> Self {
        self.set(|s| s.store.redis_ca_file = Some(path.into()))
    }

    /// Start even on a Redis whose `maxmemory-policy` may evict keys
    /// (`HOIST_ALLOW_EVICTION`); refused by default, since jobs would vanish.
    pub fn allow_eviction(self, allow: bool) -> Self {
        self.set(|s| s.store.allow_eviction = allow)
    }

    /// Days of SQL job history; 0 turns it off (`HOIST_HISTORY_DAYS`).
    pub fn history_days(self, days: u32) -> Self {
        self.set(|s| s.store.history_days = days)
    }

    /// Serve the dashboard's wasm, JS and CSS from this folder (`cargo xtask site` writes
    /// one) instead of the files built into the `hoist` crate (`LEPTOS_SITE_ROOT`). Rarely
    /// needed: the built-in files always match this build.
    pub fn site_root(self, dir: impl Into<PathBuf>) -> Self {
        self.set(|s| s.http.site_root = Some(dir.into()))
    }

    /// Password of the `admin` account created on first start (`HOIST_ADMIN_PASSWORD`).
    pub fn admin_password(self, password: impl Into<String>) -> Self {
        self.set(|s| s.http.admin_password = Some(password.into()))
    }

    /// Any other HTTP setting (address, cookies, limits): see [`HttpConfig`].
    pub fn http(self, change: impl FnOnce(&mut HttpConfig)) -> Self {
        self.set(|s| change(&mut s.http))
    }

    /// Reads queues, schedules and processors from this `hoist.toml` (`HOIST_CONFIG`; see
    /// [`crate::config_file`]); checked by [`HoistBuilder::build`].
    pub fn config_file(self, path: impl Into<PathBuf>) -> Self {
        self.set(|s| s.workers.config_file = Some(path.into()))
    }

    /// Applies the file's `[env.NAME]` section over its top level (`HOIST_ENV`).
    pub fn config_env(self, name: impl Into<String>) -> Self {
        self.set(|s| s.workers.config_env = Some(name.into()))
    }

    /// Runs a worker for `queue` with `handlers` when [`Hoist::start`] is called; its
    /// concurrency comes from `hoist.toml` or `HOIST_QUEUE_<NAME>_CONCURRENCY` (default 5).
    pub fn queue(mut self, queue: impl Into<String>, handlers: Handlers) -> Self {
        self.queues.push((queue.into(), handlers));
        self
    }

    /// Declares a cron schedule at start (declaring it again updates it).
    pub fn schedule(mut self, spec: ScheduleSpec) -> Self {
        self.schedules.push(spec);
        self
    }

    /// Built-in processors to run besides your queues (none by default).
    pub fn processors(self, processors: impl IntoIterator<Item = Builtin>) -> Self {
        self.set(|s| s.workers.processors.enabled.extend(processors))
    }

    /// The built-in processors' settings: queue names, provider, SMTP...
    /// (`.configure_processors(|c| c.queues.sync = "bank-sync".into())` is `HOIST_SYNC_QUEUE`).
    pub fn configure_processors(self, change: impl FnOnce(&mut ProcessorConfig)) -> Self {
        self.set(|s| change(&mut s.workers.processors))
    }

    /// Signs requests in through your application: `identify` maps a request's head (your
    /// session cookie, a header) to a Hoist user and role, or to `None`. Hoist's own
    /// password sign-in and API tokens keep working beside it.
    pub fn host_auth<F, Fut>(mut self, identify: F) -> Self
    where
        F: Fn(&Parts) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<HostUser>> + Send + 'static,
    {
        self.host_auth = Some(HostAuth::new(identify));
        self
    }

    /// Connects Redis and SQL, applies migrations, creates the first admin when there is
    /// no user, and checks the handlers: nothing runs until [`Hoist::start`].
    pub async fn build(self) -> anyhow::Result<Hoist> {
        let ServeConfig { store, http, mut workers } = self.settings.map_err(anyhow::Error::msg)?;
        if http.demo {
            // The demo runs every built-in processor and shows retries and the dead-letter
            // queue at work.
            workers.processors.enabled.push(Builtin::All);
            if workers.processors.sync.demo_provider_fault_rate == 0.0 {
                workers.processors.sync.demo_provider_fault_rate = 0.1;
            }
        }
        crate::queue_settings::check_environment()?;
        workers.load_settings()?;
        let (mut state, admin) = crate::server::build_state(&store, &http).await?;
        state.settings = workers.settings.clone();
        state.host_auth = self.host_auth;
        state.queue_names = std::sync::Arc::new(workers.processors.queues.clone());
        let mut registry = crate::processors::builtin(&workers.processors, &state.db, &state.engine, state.history)?;
        for (queue, handlers) in self.queues {
            Queue::new(&state.engine, &queue).with_context(|| format!("queue {queue:?}"))?;
            if !registry.add_queue(&queue, handlers) {
                return Err(anyhow::anyhow!(
                    "queue {queue:?} is given handlers twice (by `queue` twice, or by `queue` and a built-in \
                     processor whose queue has that name: rename it with `configure_processors`)"
                ));
            }
        }
        Ok(Hoist {
            state,
            admin,
            registry,
            workers,
            schedules: self.schedules,
            http,
            started: std::sync::atomic::AtomicBool::new(false),
        })
    }
}

/// A configured Hoist: the engine's connection, SQL, and what [`Hoist::start`] runs.
pub struct Hoist {
    state: AppState,
    admin: AdminBootstrap,
    registry: Registry,
    workers: WorkerConfig,
    schedules: Vec<ScheduleSpec>,
    http: HttpConfig,
    /// Set by the first `start`: a second would run every worker twice.
    started: std::sync::atomic::AtomicBool,
}

impl Hoist {
    pub fn builder() -> HoistBuilder {
        HoistBuilder::new()
    }

    /// The dashboard, REST API (`/api/v1`), live feed, health and metrics. Serve it as is,
    /// or nest it in your router (`.nest("/hoist", hoist.router())`): pages, assets,
    /// server functions and the WebSocket all work under the prefix. Serve it with
    /// `into_make_service_with_connect_info::<SocketAddr>()` so sign-in lockout and the
    /// audit log see client addresses.
    pub fn router(&self) -> Router {
        crate::server::router(self.state.clone())
    }

    /// The engine's connection (with the configured key prefix).
    pub fn connection(&self) -> &RedisConnection {
        &self.state.engine
    }

    /// A handle on `name`, for enqueueing from your code.
    pub fn queue(&self, name: &str) -> hoist_queue::Result<Queue> {
        Queue::new(&self.state.engine, name)
    }

    /// What creating the first admin did (a generated password is shown once).
    pub fn admin_bootstrap(&self) -> &AdminBootstrap {
        &self.admin
    }

    /// Starts the workers (your queues and the chosen built-ins), the scheduler with your
    /// schedules, the history copier and session housekeeping. Stop with
    /// [`Running::stop`], which lets running jobs finish.
    pub async fn start(&self) -> anyhow::Result<Running> {
        self.start_as("embedded").await
    }

    async fn start_as(&self, kind: &str) -> anyhow::Result<Running> {
        if self.started.swap(true, std::sync::atomic::Ordering::SeqCst) {
            anyhow::bail!("Hoist::start was called twice: its workers are already running");
        }
        let state = &self.state;
        let scheduler = Scheduler::new(&state.engine);
        for spec in &self.schedules {
            scheduler.upsert(spec).await.with_context(|| format!("declaring schedule {:?}", spec.name))?;
        }
        crate::processors::declare_schedules(&state.engine, &self.workers.processors, &self.workers.settings).await?;
        let in_code: Vec<String> = self.schedules.iter().map(|spec| spec.name.clone()).collect();
        let reserved = crate::config_sync::reserved_schedule_names(&self.workers.processors.queues, &in_code);
        crate::config_sync::apply(&state.engine, &state.db, &self.workers.settings, &reserved).await?;
        if self.http.demo {
            crate::processors::demo::seed(&state.db, &state.queue_names).await?;
            crate::processors::demo::declare_schedule(&state.engine, &state.queue_names).await?;
        }
        let runtime =
            crate::runtime::Runtime::start(&state.engine, &self.registry, &state.archiving, &self.workers, kind)
                .await?;
        let _ = state.own_process.set(runtime.process_id().to_string());
        let history_stop = CancellationToken::new();
        let history_writer = tokio::spawn(crate::history::run_writer(
            state.db.clone(),
            state.engine.clone(),
            state.archiving.clone(),
            state.history,
            history_stop.clone(),
        ));
        let session_purge = tokio::spawn(crate::server::purge_expired_sessions(state.db.clone()));
        let notify = &self.workers.processors.notify;
        let evaluator = crate::alerts::evaluator::Evaluator {
            db: state.db.clone(),
            engine: state.engine.clone(),
            notifications_queue: state.queue_names.notifications.clone(),
            notifier: std::sync::Arc::new(crate::processors::notifications::Notifier::new(notify)?),
            holder: alert_holder(),
            interval: std::time::Duration::from_secs(notify.alert_interval_seconds.max(1)),
        };
        let alerts_stop = CancellationToken::new();
        let alerts = tokio::spawn(evaluator.run(alerts_stop.clone()));
        Ok(Running { runtime, history_stop, history_writer, session_purge, alerts_stop, alerts })
    }

    /// Listens on the configured address (`HOIST_ADDR`), runs everything [`Hoist::start`]
    /// does, and serves [`Hoist::router`] until Ctrl-C or SIGTERM; then stops taking
    /// requests, lets running jobs finish and copies the last ones to the history.
    pub async fn serve(self) -> anyhow::Result<()> {
        let listener = tokio::net::TcpListener::bind(self.http.addr).await.map_err(|e| StartupError::Invalid {
            variable: "HOIST_ADDR",
            reason: format!("cannot listen on {}: {e}", self.http.addr),
        })?;
        let addr = listener.local_addr()?;
        let running = self.start_as("serve").await?;
        let process = running.runtime.process().clone();
        if self.http.demo {
            let (user, password) = crate::processors::demo::DEMO_USER;
            println!("Demo mode: end user `{user}` with password `{password}` owns the demo bank connections");
        }
        crate::server::print_welcome(&format!("http://{addr}"), &self.admin);
        tracing::info!(%addr, database = self.state.db.kind.as_str(), "serving");
        let limits = crate::transport::ServeLimits {
            header_read_timeout: std::time::Duration::from_secs(self.http.header_read_timeout),
            max_connections: self.http.max_connections as usize,
        };
        // Ctrl-C, SIGTERM, or a Stop from the dashboard.
        let shutdown = async move {
            tokio::select! {
                _ = crate::server::shutdown_signal() => {}
                _ = process.stop_requested() => tracing::info!("stopping: asked to through Redis"),
            }
        };
        crate::transport::serve(listener, self.router(), limits, shutdown).await?;
        // HTTP has stopped taking requests; now let running jobs finish.
        running.stop().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// This instance's name as the alert evaluator's role holder: the process and a count,
/// so two instances in one process (an embedding app's tests) are two holders.
fn alert_holder() -> String {
    static STARTED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}/{n}", hoist_queue::process_id())
}

/// The workers, scheduler and housekeeping [`Hoist::start`] started; they run until
/// [`Running::stop`] (or the end of the process).
#[must_use = "keep it, and call `stop` at shutdown so running jobs finish"]
pub struct Running {
    runtime: crate::runtime::Runtime,
    history_stop: CancellationToken,
    history_writer: tokio::task::JoinHandle<()>,
    session_purge: tokio::task::JoinHandle<()>,
    alerts_stop: CancellationToken,
    alerts: tokio::task::JoinHandle<()>,
}

impl Running {
    /// True while every worker claims jobs (for a readiness probe); false once the
    /// process was quieted.
    pub fn accepting_jobs(&self) -> bool {
        self.runtime.accepting_jobs()
    }

    /// Completes when an admin sent this process Stop (from the Processes page or the
    /// API). The workers and scheduler are winding down already; an application that
    /// should exit too awaits this beside its own shutdown signal, then calls
    /// [`Running::stop`].
    pub async fn stop_requested(&self) {
        self.runtime.process().stop_requested().await
    }

    /// Stops claiming jobs, lets running ones finish (each worker's grace period), then
    /// copies the last finished jobs to the history.
    pub async fn stop(self) {
        self.runtime.stop().await;
        self.session_purge.abort();
        self.alerts_stop.cancel();
        let _ = self.alerts.await;
        // Last, so the jobs the workers just finished are in the history too.
        self.history_stop.cancel();
        let _ = self.history_writer.await;
    }
}
