//! A scheduler process: [`Scheduler::run`] on one Redis and key prefix until SIGINT. The
//! clock-skew test starts three of them under libfaketime, each with its clock off.

use clap::Args;
use hoist_queue::{CancellationToken, RedisConnection, Scheduler};

#[derive(Args, Clone)]
pub struct ProbeSchedulerArgs {
    #[arg(long)]
    pub redis_url: String,
    #[arg(long, default_value = "hoist")]
    pub key_prefix: String,
    /// Print this process's wall clock first (see [`crate::probe_worker::announce_clock`]).
    #[arg(long)]
    pub announce_clock: bool,
}

pub async fn run(args: ProbeSchedulerArgs) -> anyhow::Result<()> {
    let redis = RedisConnection::connect(&args.redis_url).await?;
    let scheduler = Scheduler::with_prefix(&redis, &args.key_prefix);
    if args.announce_clock {
        crate::probe_worker::announce_clock()?;
    }
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stop.cancel();
    });
    scheduler.run(shutdown).await?;
    Ok(())
}
