//! Logs and traces through `tracing`. Logs are filtered by `RUST_LOG` (default: info for
//! Hoist, warn for the rest); `HOIST_LOG_FORMAT=json` writes one JSON object per line for
//! log collectors. Request lines carry the request id, job lines the job id (the engine's
//! `job` span). With an OTLP endpoint configured ([`crate::otlp`]) the same spans go to
//! OpenTelemetry too: the `request` span (a child of the caller's `traceparent`), and in
//! whichever process runs it, each job's `job` span as a child of the span that enqueued it.

use std::time::Duration;

use opentelemetry::trace::TracerProvider;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// What must be flushed before the process exits.
#[must_use = "call shutdown before exiting, or buffered spans are lost"]
pub struct Telemetry {
    traces: Option<crate::otlp::TraceExport>,
}

impl Telemetry {
    /// Exports the spans still buffered, waiting at most one export's timeout and 5 s
    /// more. Call it outside the runtime while the (multi-thread) runtime still runs: the
    /// export is a task on it.
    pub fn shutdown(self) {
        if let Some(traces) = self.traces
            && let Err(e) = traces.provider.shutdown_with_timeout(traces.timeout + Duration::from_secs(5))
        {
            eprintln!("warning: exporting the last traces: {e}");
        }
    }
}

/// What is logged unless `RUST_LOG` says otherwise, and what is traced (when traces are
/// exported) unless `HOIST_TRACE_FILTER` does: requests and jobs, info and up.
const DEFAULT_FILTER: &str = "warn,hoist=info,hoist_server=info,hoist_queue=info";

/// Installs the global subscriber: logs always, OTLP trace export when configured (with a
/// filter of its own, `HOIST_TRACE_FILTER`, so quiet logs do not lose the traces).
/// `runtime` carries the exporter's HTTP requests.
pub fn init(runtime: &tokio::runtime::Handle) -> anyhow::Result<Telemetry> {
    let log_filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let trace_filter = match std::env::var("HOIST_TRACE_FILTER").ok().filter(|f| !f.trim().is_empty()) {
        Some(directives) => EnvFilter::try_new(&directives)
            .map_err(|e| anyhow::anyhow!("HOIST_TRACE_FILTER: {directives:?} is not a filter: {e}"))?,
        None => EnvFilter::new(DEFAULT_FILTER),
    };
    let json = std::env::var("HOIST_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let logs = if json {
        tracing_subscriber::fmt::layer().json().with_current_span(true).with_span_list(false).with_target(false).boxed()
    } else {
        tracing_subscriber::fmt::layer().with_target(false).boxed()
    };
    let traces = if crate::otlp::configured()? { Some(crate::otlp::trace_export(runtime.clone())?) } else { None };
    let export = traces.as_ref().map(|traces| {
        tracing_opentelemetry::layer()
            .with_tracer(traces.provider.tracer("hoist"))
            // Per poll and per span work that traces of requests and jobs do not need.
            .with_tracked_inactivity(false)
            .with_threads(false)
            .with_filter(trace_filter)
    });
    // A second init (tests start several servers in one process) keeps the first.
    let _ = tracing_subscriber::registry().with(logs.with_filter(log_filter)).with(export).try_init();
    Ok(Telemetry { traces })
}
