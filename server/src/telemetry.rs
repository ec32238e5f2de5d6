//! Logs through `tracing`, filtered by `RUST_LOG` (default: info for Hoist, warn for the rest).

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,hoist=info,hoist_server=info,hoist_queue=info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).try_init();
}
