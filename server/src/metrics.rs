//! `GET /metrics`: Prometheus text for every queue, read from Redis at scrape time, so any
//! number of server processes report the same numbers.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use hoist_queue::{JobState, Queue};
use metrics::{Unit, describe_gauge, gauge, with_local_recorder};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};

use crate::state::AppState;

/// The recorder this server renders from (not installed globally, so tests can each have
/// their own).
#[derive(Clone)]
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
}

impl Default for Metrics {
    fn default() -> Self {
        let recorder = PrometheusBuilder::new().build_recorder();
        with_local_recorder(&recorder, || {
            describe_gauge!("hoist_jobs", "Jobs per queue and state");
            describe_gauge!("hoist_queue_paused", "1 when the queue is paused");
            describe_gauge!("hoist_jobs_completed_last_minute", "Jobs completed in the last full minute");
            describe_gauge!("hoist_jobs_failed_last_minute", "Failed attempts in the last full minute");
            describe_gauge!(
                "hoist_job_duration_mean_seconds",
                Unit::Seconds,
                "Mean run time of jobs completed in the last full minute"
            );
            describe_gauge!("hoist_workers_online", "Workers that checked in within the last minute");
        });
        Metrics { recorder: Arc::new(recorder) }
    }
}

pub async fn render(State(state): State<AppState>) -> impl IntoResponse {
    match collect(&state).await {
        Ok(text) => (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "metrics scrape failed");
            (StatusCode::SERVICE_UNAVAILABLE, format!("# metrics unavailable: {e}\n")).into_response()
        }
    }
}

async fn collect(state: &AppState) -> anyhow::Result<String> {
    let minute = crate::db::now_ms() / 60_000 - 1;
    let mut samples = vec![];
    for name in Queue::list_queues(&state.engine, "hoist").await? {
        let queue = Queue::new(&state.engine, &name)?;
        let counts = queue.counts().await?;
        let last = queue.stats(minute, minute).await?.pop().unwrap_or_default();
        let workers = queue.workers(std::time::Duration::from_secs(60)).await?.len();
        samples.push((name, counts, last, workers));
    }
    let recorder = &state.metrics.recorder;
    with_local_recorder(recorder.as_ref(), || {
        for (name, counts, last, workers) in &samples {
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
        }
    });
    Ok(recorder.handle().render())
}
