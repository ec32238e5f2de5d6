//! `hoist-stress`: programs that prove what Hoist promises, each ending its output with
//! one JSON line of its figures.
//!
//! - `chaos`: jobs over three worker processes on one Redis with AOF while workers are
//!   SIGKILLed, Redis is restarted (gracefully, then SIGKILLed under `appendfsync
//!   always`) and cut off; reports lost jobs, duplicate executions and drain time.
//! - `scale`: 1, 2 and 3 worker processes on one queue; a 3-master Redis Cluster with a
//!   queue on each master; three schedulers on the cluster firing each tick once.
//! - `soak`: a million jobs through a queue with retention on; Redis memory, worker RSS
//!   and jobs/s by tenth of the run.
//! - `wsload`: WebSocket clients on a `hoist serve` while jobs flow; lag from event to
//!   delivery at the start and end of the run, and the server's CPU.
//!
//! `probe-worker` and `probe-scheduler` are the processes these programs (and the
//! clock-skew test, `tests/clock_skew.rs`) start.

mod chaos;
mod measure;
mod probe_scheduler;
mod probe_worker;
mod scale;
mod server_process;
mod soak;
mod wsload;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Fault and load programs for Hoist")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Jobs through three worker processes while workers and Redis fail.
    Chaos(chaos::ChaosArgs),
    /// Throughput of 1, 2 and 3 worker processes; the engine on a 3-master cluster; three
    /// schedulers on the cluster.
    Scale(scale::ScaleArgs),
    /// A long stream of jobs with retention on: memory and throughput over time.
    Soak(soak::SoakArgs),
    /// WebSocket clients on the dashboard's live feed while jobs flow.
    Wsload(wsload::WsloadArgs),
    /// One worker process of `chaos`, `scale` or `soak` (started by them).
    ProbeWorker(probe_worker::ProbeArgs),
    /// One scheduler process (started by the clock-skew test).
    ProbeScheduler(probe_scheduler::ProbeSchedulerArgs),
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "error".into()))
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match Cli::parse().command {
        Command::Chaos(args) => runtime.block_on(chaos::run(args)),
        Command::Scale(args) => runtime.block_on(scale::run(args)),
        Command::Soak(args) => runtime.block_on(soak::run(args)),
        Command::Wsload(args) => runtime.block_on(wsload::run(args)),
        Command::ProbeWorker(args) => runtime.block_on(probe_worker::run(args)),
        Command::ProbeScheduler(args) => runtime.block_on(probe_scheduler::run(args)),
    }
}
