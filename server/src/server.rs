//! `hoist serve`: build the state, mount the routes, serve until a signal.

use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::routing::{delete, get, post, put};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::auth::session_store::SqlSessionStore;
use axum::http::StatusCode;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::backend::ServerBackend;
use crate::config::{HttpConfig, StoreConfig};
use crate::db::Db;
use crate::error::StartupError;
use crate::state::{AppState, connect_redis};
use crate::users::{AdminBootstrap, ensure_admin};

/// Builds everything `serve` needs; connection problems come back naming the variable.
pub async fn build_state(store: &StoreConfig, http: &HttpConfig) -> anyhow::Result<(AppState, AdminBootstrap)> {
    store.validate()?;
    // Settings are checked before anything connects, so a typo is reported as such.
    let allowed_origins = Arc::new(
        crate::origin::parse_allowed_origins(&http.allowed_origins)
            .map_err(|reason| StartupError::Invalid { variable: "HOIST_ALLOWED_ORIGINS", reason })?,
    );
    let trusted_proxies = Arc::new(
        crate::client_addr::TrustedProxies::parse(&http.trusted_proxies)
            .map_err(|reason| StartupError::Invalid { variable: "HOIST_TRUSTED_PROXIES", reason })?,
    );
    crate::users::PasswordChecks::configure(http.password_checks as usize);
    let db = Db::connect(&store.resolved_database_url()).await?;
    db.migrate().await.context("DATABASE_URL: applying migrations failed")?;
    crate::alerts::rules::seed_defaults(&db).await.context("seeding the default alert rules")?;
    let admin =
        ensure_admin(&db, http.admin_password.as_deref()).await.context("creating the first admin account failed")?;
    let site = crate::site::SiteFiles::from_setting(http.site_root.as_deref());
    site.check()?;
    let leptos_options = LeptosOptions::builder()
        .output_name("hoist")
        .site_root(site.root())
        .site_pkg_dir(site.pkg_dir())
        .site_addr(http.addr)
        .env(leptos_env())
        .build();
    let sessions = SqlSessionStore::connect(&db).await.context("DATABASE_URL: session store")?;
    let engine = connect_redis(store).await?;
    crate::state::check_redis_settings(&engine, store.allow_eviction).await?;
    let state = AppState {
        db,
        leptos_options,
        site,
        sessions,
        secure_cookies: !http.insecure_cookies,
        session_hours: http.session_hours,
        engine,
        metrics: crate::metrics::Metrics::new(http.metrics_require_auth),
        max_body_bytes: http.max_body_bytes,
        request_timeout: std::time::Duration::from_secs(http.request_timeout),
        history: crate::history::HistoryConfig::from_days(store.history_days),
        archiving: Arc::new(crate::history::Archiving::new(store.history_days > 0)),
        live: crate::live::LiveHub::default(),
        allowed_origins,
        trusted_proxies,
        live_recheck: std::time::Duration::from_secs(http.live_recheck_seconds),
        max_sockets_per_user: http.max_sockets_per_user as usize,
        host_auth: None,
        // The builder sets the configured ones; `build_state` does not read processor settings.
        queue_names: Default::default(),
        throughput: Default::default(),
        own_process: Default::default(),
        lockouts_noted: Default::default(),
        settings: Default::default(),
    };
    Ok((state, admin))
}

fn leptos_env() -> leptos::config::Env {
    match std::env::var("LEPTOS_ENV").as_deref() {
        Ok("DEV") | Ok("dev") => leptos::config::Env::DEV,
        _ => leptos::config::Env::PROD,
    }
}

/// Every route of the server, at the root; a host application may nest the whole router
/// under a prefix (see [`crate::mount_path`]).
pub fn router(state: AppState) -> Router {
    // Listed outside any request, so without a mount path: routes relative to the router.
    let routes = generate_route_list(app::App);
    // The dashboard's server functions reach the services through this, per request, and
    // pages learn where they are mounted.
    let provide_backend = {
        let state = state.clone();
        move || {
            let backend: Arc<dyn app::backend::Backend> = Arc::new(ServerBackend { state: state.clone() });
            provide_context(backend);
            provide_context(crate::mount_path::of_current_request());
        }
    };
    let pages = Router::new()
        .leptos_routes_with_context(&state, routes, provide_backend.clone(), {
            let options = state.leptos_options.clone();
            move || app::shell(options.clone())
        })
        .route_layer(axum::middleware::from_fn(crate::mount_path::restore_full_path))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), crate::services::account::stored_language));
    let sessions = SessionManagerLayer::new(state.sessions.clone())
        .with_name("hoist_session")
        .with_secure(state.secure_cookies)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_expiry(Expiry::OnInactivity(time::Duration::hours(state.session_hours)));
    Router::new()
        .route("/healthz", get(crate::health::healthz))
        .route("/readyz", get(crate::health::readyz))
        .route("/metrics", get(crate::metrics::render))
        .route("/api/v1/auth/login", post(crate::auth::login::login))
        .route("/api/v1/auth/logout", post(crate::auth::login::logout))
        .route("/api/v1/auth/me", get(crate::auth::login::me))
        .route("/api/v1/auth/me/language", get(crate::api::account::language).put(crate::api::account::set_language))
        .route("/api/v1/users", get(crate::api::admin::list_users).post(crate::api::admin::add_user))
        .route("/api/v1/users/{username}", axum::routing::patch(crate::api::admin::change_user))
        .route("/api/v1/audit", get(crate::api::admin::audit_log))
        .route("/api/v1/history", get(crate::api::history::search))
        .route("/api/v1/search", get(crate::api::search::search))
        .route("/api/v1/search/suggestions", get(crate::api::search::suggestions))
        .route("/api/v1/search/count", get(crate::api::search::count))
        .route("/api/v1/search/actions", post(crate::api::search::act))
        .route("/api/v1/search/export", get(crate::api::search::export))
        .route("/api/v1/search/saved", get(crate::api::search::saved).post(crate::api::search::save))
        .route("/api/v1/search/saved/{id}", delete(crate::api::search::delete_saved))
        .route("/api/v1/history/quarantine", get(crate::api::history::quarantine))
        .route("/api/v1/openapi.json", get(crate::openapi::document))
        .route("/api/v1/live", get(crate::live::socket))
        .route("/api/v1/notifications/sign-in", post(crate::api::notifications::sign_in))
        .route("/api/v1/connections", get(crate::api::connections::list))
        .route("/api/v1/connections/{id}", get(crate::api::connections::get))
        .route("/api/v1/connections/{id}/sync", post(crate::api::connections::sync))
        .route("/api/v1/schedules", get(crate::api::schedules::list))
        .route(
            "/api/v1/schedules/{name}",
            get(crate::api::schedules::get).put(crate::api::schedules::put).delete(crate::api::schedules::delete),
        )
        .route("/api/v1/schedules/{name}/{action}", post(crate::api::schedules::action))
        .route("/api/v1/reports", get(crate::api::reports::list).post(crate::api::reports::run))
        .route("/api/v1/reports/{id}", get(crate::api::reports::get))
        .route("/api/v1/reports/{id}/download", get(crate::api::reports::download))
        .route("/api/v1/alerts", get(crate::api::alerts::overview))
        .route("/api/v1/alerts/rules", post(crate::api::alerts::add_rule))
        .route(
            "/api/v1/alerts/rules/{id}",
            put(crate::api::alerts::update_rule).delete(crate::api::alerts::delete_rule),
        )
        .route("/api/v1/alerts/silences", post(crate::api::alerts::add_silence))
        .route("/api/v1/alerts/silences/{id}", delete(crate::api::alerts::end_silence))
        .route("/api/v1/processes", get(crate::api::processes::list))
        .route("/api/v1/processes/{id}/{command}", post(crate::api::processes::command))
        .route("/api/v1/dead-letters", get(crate::api::dead_letters::list))
        .route("/api/v1/dead-letters/requeue", post(crate::api::dead_letters::requeue))
        .route("/api/v1/dead-letters/purge", post(crate::api::dead_letters::purge))
        .route("/api/v1/queues", get(crate::api::jobs::list_queues))
        .route("/api/v1/queues/{queue}/metrics", get(crate::api::jobs::metrics))
        .route("/api/v1/queues/{queue}/jobs", get(crate::api::jobs::list_jobs).post(crate::api::jobs::enqueue_job))
        .route("/api/v1/queues/{queue}/jobs/{id}", get(crate::api::jobs::get_job).delete(crate::api::jobs::remove_job))
        .route("/api/v1/queues/{queue}/jobs/bulk", post(crate::api::jobs::enqueue_bulk))
        .route("/api/v1/queues/{queue}/health", get(crate::api::jobs::queue_health))
        .route("/api/v1/queues/{queue}/settings", get(crate::api::settings::settings))
        .route("/api/v1/queues/{queue}/limits", get(crate::api::limits::limits).put(crate::api::limits::set_limits))
        .route("/api/v1/queues/{queue}/maintenance", post(crate::api::jobs::maintenance))
        .route("/api/v1/queues/{queue}/jobs/{id}/retry-edited", post(crate::api::jobs::retry_edited))
        .route("/api/v1/queues/{queue}/jobs/{id}/duplicate", post(crate::api::jobs::duplicate))
        .route("/api/v1/queues/{queue}/jobs/{id}/{action}", post(crate::api::jobs::job_action))
        .route("/api/v1/queues/{queue}/{action}", post(crate::api::jobs::queue_action))
        .merge(pages)
        .route_layer(axum::middleware::from_fn(crate::metrics::track_http))
        // The browser files, then the dashboard's "not found" page for anything else.
        .fallback_service(state.site.service(leptos_axum::ErrorHandler::new_with_context(
            provide_backend,
            app::shell,
            state.leptos_options.clone(),
        )))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::auth::host::layer))
        .layer(sessions)
        .layer(axum::middleware::from_fn(crate::mount_path::detect))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::server_functions::guard))
        .layer(axum::extract::DefaultBodyLimit::max(state.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(state.max_body_bytes, crate::transport::limit_body))
        .layer(axum::middleware::from_fn_with_state(state.trusted_proxies.clone(), crate::client_addr::layer))
        .layer(CompressionLayer::new())
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, state.request_timeout))
        .layer(axum::middleware::from_fn(crate::api_error::json_errors))
        // The request id: taken from the client's x-request-id or made up, put on the
        // request's log span and echoed in the response.
        .layer(PropagateRequestIdLayer::x_request_id())
        // The access log: one line per request at info (status and latency), in the
        // request's span (method, path, request id).
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &axum::http::Request<_>| {
                    let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                    // The path without the query: search text stays out of logs and traces.
                    let path = request.uri().path();
                    let span =
                        tracing::info_span!("request", method = %request.method(), uri = %path, request_id = %id);
                    continue_callers_trace(&span, request.headers());
                    span
                })
                .on_response(tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// With trace export on, a request that carries a W3C `traceparent` is traced as a child
/// of the caller's span (and so is every job it enqueues). The header is checked as the
/// engine checks a job's (a malformed one is ignored), its `tracestate` fitted to 512 bytes.
fn continue_callers_trace(span: &tracing::Span, headers: &axum::http::HeaderMap) {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let Some(parent) = headers.get("traceparent").and_then(|v| v.to_str().ok()) else { return };
    let state = headers.get("tracestate").and_then(|v| v.to_str().ok());
    if let Some(caller) = hoist_queue::TraceContext::from_carrier(parent, state).ok().and_then(|c| c.to_context()) {
        let _ = span.set_parent(caller);
    }
}

/// Deletes expired sessions every hour: the server's own housekeeping, done whether or
/// not the maintenance processor (which also does it, on its schedule) runs here.
pub(crate) async fn purge_expired_sessions(db: crate::db::Db) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        every.tick().await;
        let purged = async {
            let store = crate::auth::session_store::SqlSessionStore::connect(&db).await?;
            store.delete_expired().await.map_err(anyhow::Error::from)
        };
        if let Err(e) = purged.await {
            tracing::warn!(error = %e, "deleting expired sessions failed");
        }
    }
}

/// `hoist serve`: the [`crate::Hoist`] the command line describes, served until a signal.
pub async fn serve(config: crate::config::ServeConfig) -> anyhow::Result<()> {
    crate::builder::HoistBuilder::from_config(config).build().await?.serve().await
}

pub(crate) fn print_welcome(url: &str, admin: &AdminBootstrap) {
    println!("Hoist is serving the dashboard at {url}");
    match admin {
        AdminBootstrap::CreatedWithGeneratedPassword(password) => {
            println!("First start: created user `admin` with password {password}");
            println!("(shown once; change it with `hoist user passwd admin`)");
        }
        AdminBootstrap::CreatedWithConfiguredPassword => {
            println!("First start: created user `admin` with the password from HOIST_ADMIN_PASSWORD");
        }
        AdminBootstrap::Existing => println!("Log in with an existing account."),
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
