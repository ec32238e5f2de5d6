//! Liveness, readiness and the dependency status the home page shows.

use std::time::Duration;

use app::types::{ComponentStatus, SystemStatus};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;

use crate::db::Db;
use crate::state::AppState;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `GET /healthz`: the process is up and serving. No dependency is consulted, so a Redis
/// outage does not get the server restarted by an orchestrator.
pub async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok", "version": VERSION }))
}

/// `GET /readyz`: 200 when Redis and SQL answer, 503 naming the one that does not.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let status = system_status(&state.engine, &state.db).await;
    let code = if status.healthy() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(status))
}

pub async fn system_status(redis: &hoist_queue::RedisConnection, db: &Db) -> SystemStatus {
    let (redis_status, db_status) = tokio::join!(redis_status(redis), db_status(db));
    SystemStatus { version: VERSION.to_string(), components: vec![redis_status, db_status] }
}

async fn redis_status(redis: &hoist_queue::RedisConnection) -> ComponentStatus {
    let (up, detail) = match tokio::time::timeout(Duration::from_secs(2), redis.server_version()).await {
        Ok(Ok(version)) => (true, format!("redis {version}")),
        Ok(Err(e)) => (false, e.to_string()),
        Err(_) => (false, "timed out after 2 s".to_string()),
    };
    ComponentStatus { name: "Redis".into(), up, detail }
}

async fn db_status(db: &Db) -> ComponentStatus {
    let (up, detail) = match db.ping().await {
        Ok(()) => (true, db.kind.as_str().to_string()),
        Err(e) => (false, e),
    };
    ComponentStatus { name: "SQL".into(), up, detail }
}
