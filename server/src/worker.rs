//! `hoist worker`: workers and the scheduler without the dashboard, for scaling out.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::json;

use crate::error::StartupError;
use crate::runtime::Runtime;

pub async fn run(
    store: crate::config::StoreConfig,
    addr: SocketAddr,
    workers: crate::config::WorkerConfig,
) -> anyhow::Result<()> {
    store.validate()?;
    crate::queue_settings::check_environment()?;
    let mut workers = workers;
    workers.load_settings()?;
    let engine = crate::state::connect_redis(&store).await?;
    crate::state::check_redis_settings(&engine, store.allow_eviction).await?;
    // Processors keep their results in SQL (provider sync), so workers need it too.
    let db = crate::db::Db::connect(&store.resolved_database_url()).await?;
    db.migrate().await.map_err(|e| anyhow::anyhow!("DATABASE_URL: applying migrations failed: {e:#}"))?;
    let archiving = crate::history::Archiving::new(store.history_days > 0);
    let history = crate::history::HistoryConfig::from_days(store.history_days);
    let registry = crate::processors::builtin(&workers.processors, &db, &engine, history)?;
    if registry.is_empty() {
        return Err(StartupError::Invalid {
            variable: "HOIST_PROCESSORS",
            reason: "no processor to run: name the built-in ones this worker runs (e.g. `all`)".into(),
        }
        .into());
    }
    crate::processors::declare_schedules(&engine, &workers.processors, &workers.settings).await?;
    let reserved = crate::config_sync::reserved_schedule_names(&workers.processors.queues, &[]);
    crate::config_sync::apply(&engine, &db, &workers.settings, &reserved).await?;
    // The recorder goes in before any worker starts: a counter touched before it would be
    // lost (the first attempts of a queue that was waiting for this process).
    let process_metrics = crate::metrics::Metrics::new(false);
    let runtime = Runtime::start(&engine, &registry, &archiving, &workers, "worker").await?;
    let process = runtime.process().clone();
    let runtime = Arc::new(tokio::sync::Mutex::new(Some(runtime)));
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| StartupError::Invalid {
        variable: "HOIST_WORKER_ADDR",
        reason: format!("cannot listen on {addr}: {e}"),
    })?;
    let ready = {
        let runtime = runtime.clone();
        move || {
            let runtime = runtime.clone();
            async move {
                let accepting = runtime.lock().await.as_ref().is_some_and(|r| r.accepting_jobs());
                let code = if accepting { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
                (code, Json(json!({ "accepting_jobs": accepting })))
            }
        }
    };
    // Its own attempts only (see crate::metrics): public, like the probes.
    let metrics = {
        let (engine, metrics) = (engine.clone(), process_metrics);
        move || {
            let (engine, metrics) = (engine.clone(), metrics.clone());
            async move { crate::metrics::exposition(&engine, &metrics, false).await }
        }
    };
    let app = Router::new()
        .route("/healthz", get(crate::health::healthz))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics));
    println!("hoist worker running; health and metrics on http://{}", listener.local_addr()?);
    // Probes only: the same slow-client limits as `serve`, with room for a few probers.
    let limits =
        crate::transport::ServeLimits { header_read_timeout: std::time::Duration::from_secs(10), max_connections: 64 };
    // Ctrl-C, SIGTERM, or a Stop from the dashboard.
    let shutdown = async move {
        tokio::select! {
            _ = crate::server::shutdown_signal() => {}
            _ = process.stop_requested() => tracing::info!("stopping: asked to through Redis"),
        }
    };
    crate::transport::serve(listener, app, limits, shutdown).await?;
    if let Some(runtime) = runtime.lock().await.take() {
        runtime.stop().await;
    }
    Ok(())
}
