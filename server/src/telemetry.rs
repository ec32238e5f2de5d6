//! Logs through `tracing`, filtered by `RUST_LOG` (default: info for Hoist, warn for the
//! rest); `HOIST_LOG_FORMAT=json` writes one JSON object per line for log collectors.
//! Request lines carry the request id, job lines the job id (the engine's `job` span).

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,hoist=info,hoist_server=info,hoist_queue=info"));
    let json = std::env::var("HOIST_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    if json {
        let _ = tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_env_filter(filter)
            .with_target(false)
            .try_init();
    } else {
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).try_init();
    }
}
