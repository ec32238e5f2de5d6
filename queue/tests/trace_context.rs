//! A job's trace: enqueued inside a traced span (plain or typed, one or a batch), it runs
//! in a `job` span whose parent is that span, in the same trace; a job given a context
//! continues that one; a failed attempt marks its span as an error; with no traced span
//! there is nothing to carry.

mod common;

use std::sync::{Arc, Mutex};

use common::{fast_options, setup, spawn_worker, wait_for_state};
use hoist_queue::{Handlers, JobContext, JobError, JobState, NewJob, TraceContext, TypedJob, handler_fn};
use opentelemetry::trace::{SpanId, Status, TraceContextExt, TracerProvider};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;

/// Every span ended, as the SDK would hand it to an exporter.
#[derive(Clone, Debug, Default)]
struct Collected(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for Collected {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.lock().unwrap().extend(batch);
        Ok(())
    }
}

impl Collected {
    fn job_spans(&self, job_id: &str) -> Vec<SpanData> {
        let spans = self.0.lock().unwrap();
        spans
            .iter()
            .filter(|s| {
                s.name == "job" && s.attributes.iter().any(|a| a.key.as_str() == "job_id" && a.value.as_str() == job_id)
            })
            .cloned()
            .collect()
    }
}

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

impl TypedJob for Ping {
    const NAME: &'static str = "ping";
    type Output = u32;
}

async fn eventually_one_span(collected: &Collected, job_id: &str) -> SpanData {
    for _ in 0..100 {
        if let Some(span) = collected.job_spans(job_id).pop() {
            return span;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no job span for {job_id}");
}

// One thread, so the subscriber set for this test is the one every task sees. The worker
// runs outside the request's span: the job span's parent can only come from the job.
#[tokio::test(flavor = "current_thread")]
async fn a_job_runs_as_a_child_of_the_span_that_enqueued_it() {
    let collected = Collected::default();
    let provider = SdkTracerProvider::builder().with_simple_exporter(collected.clone()).build();
    // Traces record info and up; something else (logs, say) records debug spans too.
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_opentelemetry::layer()
                .with_tracer(provider.tracer("hoist-queue-test"))
                .with_filter(LevelFilter::INFO),
        )
        .with(tracing_subscriber::layer::Identity::new().with_filter(LevelFilter::DEBUG));
    let _guard = tracing::subscriber::set_default(subscriber);

    let s = setup().await;
    let handlers = Handlers::new().job(|_ctx: JobContext, ping: Ping| async move { Ok(ping.n) }).on(
        "fails",
        handler_fn(|_ctx| async move { Err::<serde_json::Value, _>(JobError::permanent("card declined")) }),
    );
    let worker = spawn_worker(&s.queue, handlers, fast_options());

    // Enqueued inside a request's span: the typed API, a batch, and a job that fails.
    let request = tracing::info_span!("request");
    let request_context = request.context();
    let request_span = request_context.span().span_context().clone();
    let (typed, batch, failing, nested) = async {
        let typed = s.queue.push(&Ping { n: 1 }).await.unwrap().id;
        let batch = s.queue.push_bulk(&[Ping { n: 2 }, Ping { n: 3 }]).await.unwrap();
        let failing = s.queue.enqueue(NewJob::new("fails", json!({}))).await.unwrap().id;
        // Inside a span traces do not record: the job still joins the request's trace.
        let nested = s.queue.push(&Ping { n: 7 }).instrument(tracing::debug_span!("detail")).await.unwrap().id;
        (typed, batch, failing, nested)
    }
    .instrument(request)
    .await;

    let stored = s.queue.get_job(&typed).await.unwrap().unwrap().trace.expect("a trace stored with the job");
    assert_eq!(stored.trace_id(), format!("{:032x}", request_span.trace_id()));
    assert_eq!(stored.parent_span_id(), format!("{:016x}", request_span.span_id()));

    for id in [&typed, &batch[0].id, &batch[1].id, &nested] {
        wait_for_state(&s.queue, id, JobState::Completed).await;
        let span = eventually_one_span(&collected, id).await;
        assert_eq!(span.span_context.trace_id(), request_span.trace_id(), "job {id} in the request's trace");
        assert_eq!(span.parent_span_id, request_span.span_id(), "job {id} a child of the request's span");
        assert!(span.parent_span_is_remote, "the parent comes from the job, not this process's span stack");
    }
    wait_for_state(&s.queue, &failing, JobState::Dead).await;
    let span = eventually_one_span(&collected, &failing).await;
    assert_eq!(span.parent_span_id, request_span.span_id());
    assert_eq!(span.status, Status::error("card declined"));

    // A context given with the job wins over the current span's.
    let given = TraceContext::new("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", None).unwrap();
    let job = NewJob::typed(&Ping { n: 4 }).unwrap().with_trace(given.clone());
    let explicit = s.queue.enqueue(job).instrument(tracing::info_span!("another request")).await.unwrap().id;
    wait_for_state(&s.queue, &explicit, JobState::Completed).await;
    let span = eventually_one_span(&collected, &explicit).await;
    assert_eq!(format!("{:032x}", span.span_context.trace_id()), given.trace_id());
    assert_eq!(span.parent_span_id, SpanId::from_hex(given.parent_span_id()).unwrap());

    // Outside any span: no trace stored, and the job's span starts a trace of its own.
    let untraced = s.queue.push(&Ping { n: 5 }).await.unwrap().id;
    let job = wait_for_state(&s.queue, &untraced, JobState::Completed).await;
    assert_eq!(job.trace, None);
    assert_eq!(eventually_one_span(&collected, &untraced).await.parent_span_id, SpanId::INVALID);

    // A malformed context is refused before anything is written.
    let bad = TraceContext { traceparent: "00-xyz".into(), tracestate: None };
    let error = s.queue.enqueue(NewJob::new("ping", json!({ "n": 6 })).with_trace(bad)).await.unwrap_err();
    assert!(error.to_string().contains("trace.traceparent"), "{error}");
    worker.stop().await;
}
