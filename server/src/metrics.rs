//! `GET /metrics`: Prometheus text. Each process reports its own work (attempts it ran,
//! HTTP requests, sockets); the per-queue series, read from Redis at scrape time, are the
//! same from every process, so one process at a time (holding the `metrics-exporter`
//! role) reports them and a `sum()` over all processes counts them once.

use std::sync::OnceLock;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Duration;

use hoist_queue::{Counts, JobState, Queue, QueueTotals, RedisConnection, Role};
use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use metrics_util::MetricKindMask;

use crate::state::AppState;

/// The process's Prometheus recorder, installed globally once: the engine's workers
/// record job counts and run times through the `metrics` facade, and those must land in
/// the same registry the scrape renders.
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
    /// Whether `/metrics` needs the same authentication as the API.
    pub require_auth: bool,
    /// This process, as the holder of the exporter role.
    process_id: String,
}

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

const DURATION_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

impl Metrics {
    pub fn new(require_auth: bool) -> Self {
        let handle = HANDLE.get_or_init(install).clone();
        Metrics { handle, require_auth, process_id: hoist_queue::process_id() }
    }
}

fn install() -> PrometheusHandle {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), DURATION_BUCKETS)
        .expect("buckets are not empty")
        // Series nobody touched for an hour go (a removed queue's attempt counters, a
        // route no longer called); a counter that comes back starts from zero, which
        // `rate()` reads as a reset. Gauges stay: the socket count may sit still.
        .idle_timeout(MetricKindMask::COUNTER | MetricKindMask::HISTOGRAM, Some(Duration::from_secs(3600)))
        .build_recorder();
    let handle = recorder.handle();
    if metrics::set_global_recorder(recorder).is_err() {
        tracing::warn!("another metrics recorder is installed; /metrics shows only scrape-time gauges");
    }
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
    exposition(&state.engine, &state.metrics, true).await
}

/// The scrape's answer: this process's series, and the per-queue ones when
/// `may_export` and this process holds (or takes) the exporter role. `hoist worker`
/// passes `false`: its listener has no sign-in, and the queues' series are for those
/// `HOIST_METRICS_REQUIRE_AUTH` may protect.
pub async fn exposition(engine: &RedisConnection, metrics: &Metrics, may_export: bool) -> Response {
    let text = collect(engine, metrics, may_export).await;
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// How long this process stays the exporter of the cluster-wide series after a scrape:
/// longer than any sensible scrape interval, so the holder keeps the role; when it stops
/// being scraped (or dies), another process takes over within this time.
const EXPORTER_TTL: Duration = Duration::from_secs(90);

async fn collect(engine: &RedisConnection, metrics: &Metrics, may_export: bool) -> String {
    // This process's own series (attempts it ran, its HTTP requests and sockets) are
    // always there; Redis being unreachable only takes the per-queue ones away.
    let mut text = metrics.handle.render();
    let cluster = if may_export { exported_series(engine, metrics).await } else { None };
    write_family(
        &mut text,
        "hoist_metrics_exporter",
        "gauge",
        "1 in the one process that exports the per-queue series read from Redis (see the README)",
        [(String::new(), if cluster.is_some() { 1 } else { 0 })],
    );
    text.push_str(&cluster.unwrap_or_default());
    text
}

/// The per-queue series, when this process is (or now becomes) the exporter.
async fn exported_series(engine: &RedisConnection, metrics: &Metrics) -> Option<String> {
    let exporter = Role::new(engine, "metrics-exporter");
    let series = async {
        if !exporter.claim(&metrics.process_id, EXPORTER_TTL).await? {
            return Ok(None);
        }
        cluster_series(engine).await.map(Some)
    };
    series.await.unwrap_or_else(|e: anyhow::Error| {
        tracing::warn!(error = %e, "the per-queue metrics could not be read");
        None
    })
}

/// The per-queue series every process would report alike (they are read from Redis), so
/// only the exporter reports them: a `sum()` over all scraped processes counts them once.
/// Rendered afresh each scrape, so a removed queue's series are gone with it.
async fn cluster_series(engine: &RedisConnection) -> anyhow::Result<String> {
    let mut queues = vec![];
    for name in Queue::list_all(engine).await? {
        let queue = Queue::new(engine, &name)?;
        let counts = queue.counts().await?;
        let totals = queue.totals().await?;
        let workers = queue.worker_processes(Duration::from_secs(60)).await?;
        let backlog = queue.history_backlog().await?.unarchived;
        queues.push(QueueSample {
            label: format!("queue=\"{}\"", escape_label(&name)),
            counts,
            totals,
            workers,
            backlog,
        });
    }
    let mut text = String::new();
    let per_queue =
        |value: fn(&QueueSample) -> u64| queues.iter().map(|q| (q.label.clone(), value(q))).collect::<Vec<_>>();
    let mut jobs = vec![];
    for q in &queues {
        for job_state in JobState::ALL {
            jobs.push((format!("{},state=\"{}\"", q.label, job_state.as_str()), q.counts.get(job_state)));
        }
    }
    write_family(&mut text, "hoist_jobs", "gauge", "Jobs per queue and state", jobs);
    write_family(
        &mut text,
        "hoist_queue_paused",
        "gauge",
        "1 when the queue is paused",
        per_queue(|q| q.counts.paused as u64),
    );
    write_family(
        &mut text,
        "hoist_workers_online",
        "gauge",
        "Worker processes that checked in within the last minute",
        per_queue(|q| q.workers as u64),
    );
    write_family(
        &mut text,
        "hoist_history_backlog",
        "gauge",
        "Finished jobs kept in Redis until a serve process copies them to the SQL history",
        per_queue(|q| q.backlog),
    );
    write_family(
        &mut text,
        "hoist_queue_jobs_completed_total",
        "counter",
        "Jobs completed, by all processes, since the queue was made",
        per_queue(|q| q.totals.completed),
    );
    write_family(
        &mut text,
        "hoist_queue_jobs_failed_total",
        "counter",
        "Failed attempts (each retry counts), by all processes, since the queue was made",
        per_queue(|q| q.totals.failed),
    );
    write_family(
        &mut text,
        "hoist_queue_jobs_retried_total",
        "counter",
        "Failed attempts scheduled to run again, since the queue was made",
        per_queue(|q| q.totals.retried),
    );
    write_family(
        &mut text,
        "hoist_queue_jobs_stalled_total",
        "counter",
        "Attempts whose worker stopped renewing the lease (a crash, a kill), since the queue was made",
        per_queue(|q| q.totals.stalled),
    );
    write_family(
        &mut text,
        "hoist_queue_jobs_dead_total",
        "counter",
        "Jobs moved to the dead-letter queue, since the queue was made",
        per_queue(|q| q.totals.dead),
    );
    // Milliseconds summed in Redis; seconds here, as Prometheus names want.
    text.push_str(
        "# HELP hoist_queue_job_run_seconds_total Run time of completed jobs, summed, since the queue was made\n",
    );
    text.push_str("# TYPE hoist_queue_job_run_seconds_total counter\n");
    for q in &queues {
        text.push_str(&format!(
            "hoist_queue_job_run_seconds_total{{{}}} {}\n",
            q.label,
            q.totals.duration_ms as f64 / 1000.0
        ));
    }
    Ok(text)
}

/// What the exporter reads of one queue; `label` is its `queue="…"` label.
struct QueueSample {
    label: String,
    counts: Counts,
    totals: QueueTotals,
    workers: usize,
    backlog: u64,
}

/// One metric family in Prometheus' text format: HELP, TYPE, then a sample per labels.
fn write_family(
    text: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    samples: impl IntoIterator<Item = (String, u64)>,
) {
    text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
    for (labels, value) in samples {
        if labels.is_empty() {
            text.push_str(&format!("{name} {value}\n"));
        } else {
            text.push_str(&format!("{name}{{{labels}}} {value}\n"));
        }
    }
}

/// A label value as the text format wants it: backslash, quote and newline escaped.
fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape_label("x\ny"), "x\\ny");
        let mut text = String::new();
        write_family(&mut text, "m", "gauge", "help", [(String::new(), 1), ("q=\"a\"".to_string(), 2)]);
        assert_eq!(text, "# HELP m help\n# TYPE m gauge\nm 1\nm{q=\"a\"} 2\n");
    }
}
