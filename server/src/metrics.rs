//! `GET /metrics`: Prometheus text for every queue, read from Redis at scrape time, so any
//! number of server processes report the same numbers.

use std::sync::OnceLock;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hoist_queue::{JobState, Queue};
use metrics::{Unit, describe_counter, describe_gauge, describe_histogram, gauge};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::state::AppState;

/// The process's Prometheus recorder, installed globally once: the engine's workers
/// record job counts and run times through the `metrics` facade, and those must land in
/// the same registry the scrape renders.
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
    /// Whether `/metrics` needs the same authentication as the API.
    pub require_auth: bool,
}

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

const DURATION_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

impl Metrics {
    pub fn new(require_auth: bool) -> Self {
        let handle = HANDLE.get_or_init(install).clone();
        Metrics { handle, require_auth }
    }
}

fn install() -> PrometheusHandle {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), DURATION_BUCKETS)
        .expect("buckets are not empty")
        .build_recorder();
    let handle = recorder.handle();
    if metrics::set_global_recorder(recorder).is_err() {
        tracing::warn!("another metrics recorder is installed; /metrics shows only scrape-time gauges");
    }
    describe_gauge!("hoist_jobs", "Jobs per queue and state");
    describe_gauge!("hoist_queue_paused", "1 when the queue is paused");
    describe_gauge!("hoist_jobs_completed_last_minute", "Jobs completed in the last full minute (all processes)");
    describe_gauge!("hoist_jobs_failed_last_minute", "Failed attempts in the last full minute (all processes)");
    describe_gauge!(
        "hoist_job_duration_mean_seconds",
        Unit::Seconds,
        "Mean run time of jobs completed in the last full minute (all processes)"
    );
    describe_gauge!("hoist_workers_online", "Workers that checked in within the last minute");
    describe_gauge!(
        "hoist_history_backlog",
        "Finished jobs kept in Redis until a serve process copies them to the SQL history"
    );
    describe_counter!("hoist_jobs_processed_total", "Job attempts this process ran, by queue and outcome");
    describe_histogram!("hoist_job_duration_seconds", Unit::Seconds, "Run time of job attempts in this process");
    describe_counter!("hoist_http_requests_total", "HTTP requests by method, route and status");
    describe_histogram!("hoist_http_request_duration_seconds", Unit::Seconds, "HTTP request latency by route");
    describe_gauge!("hoist_websocket_clients", "Open dashboard WebSocket connections");
    handle
}

/// Counts every request by method, route pattern (not the raw path, which would make a
/// series per job id) and status, and records its latency.
pub async fn track_http(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = request.method().to_string();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("hoist_http_requests_total", "method" => method, "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("hoist_http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`. Public unless `HOIST_METRICS_REQUIRE_AUTH` is set; then staff (and API
/// tokens with `jobs:read`) may read it, as they may the overview.
pub async fn render(State(state): State<AppState>, request: Request) -> Response {
    if state.metrics.require_auth {
        let (mut parts, _) = request.into_parts();
        let principal = <crate::auth::Principal as axum::extract::FromRequestParts<AppState>>::from_request_parts(
            &mut parts, &state,
        )
        .await;
        // The whole system's load: for staff (and tokens with `jobs:read`), as the overview.
        if let Err(e) =
            principal.and_then(|p| crate::policy::authorize(&p, crate::policy::Action::WatchQueues).map(|_| p))
        {
            return e.into_response();
        }
    }
    match collect(&state).await {
        Ok(text) => (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "metrics scrape failed");
            (StatusCode::SERVICE_UNAVAILABLE, format!("# metrics unavailable: {e}\n")).into_response()
        }
    }
}

async fn collect(state: &AppState) -> anyhow::Result<String> {
    let mut samples = vec![];
    for name in Queue::list_all(&state.engine).await? {
        let queue = Queue::new(&state.engine, &name)?;
        let counts = queue.counts().await?;
        // The last whole minute, by Redis's clock (the statistics' own).
        let last = queue.recent_stats(2).await?.into_iter().next().unwrap_or_default();
        let workers = queue.worker_processes(std::time::Duration::from_secs(60)).await?;
        let backlog = queue.history_backlog().await?.unarchived;
        samples.push((name, counts, last, workers, backlog));
    }
    for (name, counts, last, workers, backlog) in &samples {
        for job_state in JobState::ALL {
            gauge!("hoist_jobs", "queue" => name.clone(), "state" => job_state.as_str())
                .set(counts.get(job_state) as f64);
        }
        gauge!("hoist_queue_paused", "queue" => name.clone()).set(if counts.paused { 1.0 } else { 0.0 });
        gauge!("hoist_jobs_completed_last_minute", "queue" => name.clone()).set(last.completed as f64);
        gauge!("hoist_jobs_failed_last_minute", "queue" => name.clone()).set(last.failed as f64);
        let mean = last.mean_duration_ms().unwrap_or(0.0) / 1000.0;
        gauge!("hoist_job_duration_mean_seconds", "queue" => name.clone()).set(mean);
        gauge!("hoist_workers_online", "queue" => name.clone()).set(*workers as f64);
        gauge!("hoist_history_backlog", "queue" => name.clone()).set(*backlog as f64);
    }
    Ok(state.metrics.handle.render())
}
