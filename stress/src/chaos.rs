//! Chaos: jobs over three worker processes on one Redis with AOF, while
//! - a random worker is SIGKILLed (and started again) every `kill_every_ms`,
//! - Redis is restarted gracefully, then SIGKILLed under `appendfsync always`,
//! - Redis is cut off (SIGSTOP: connections hang, as in a network partition) for
//!   `cut_seconds`.
//!
//! Afterwards every job must be in a terminal state, none lost, and an execution beyond
//! the first only where the earlier one ran in a worker that was killed.

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Args;
use hoist_queue::{JobOptions, JobState, NewJob, Queue, RedisConnection};
use hoist_testkit::{RedisOptions, RedisServer};
use rand::Rng;
use serde_json::json;

use crate::probe_worker::{CREATE_TABLE, keep_everything};

#[derive(Args, Clone)]
pub struct ChaosArgs {
    #[arg(long, default_value_t = 100_000)]
    pub jobs: usize,
    #[arg(long, default_value_t = 3)]
    pub workers: usize,
    /// Concurrency of each worker.
    #[arg(long, default_value_t = 50)]
    pub concurrency: usize,
    /// Simulated work per job (sets how long the run lasts).
    #[arg(long, default_value_t = 80)]
    pub work_ms: u64,
    #[arg(long, default_value_t = 2000)]
    pub kill_every_ms: u64,
    /// How long Redis is cut off.
    #[arg(long, default_value_t = 30)]
    pub cut_seconds: u64,
    /// Seconds into the run of the graceful restart, the SIGKILL and the start of the cut.
    #[arg(long, num_args = 3, value_delimiter = ',', default_value = "8,18,28")]
    pub fault_at: Vec<u64>,
    /// SQL for the execution records (default: a SQLite file in a temp dir).
    #[arg(long, env = "CHAOS_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Small and quick (under a minute): 10,000 jobs of 200 ms, a 5 s cut, faults at 3,
    /// 6 and 9 s, a worker killed every second.
    #[arg(long)]
    pub quick: bool,
}

impl ChaosArgs {
    fn effective(mut self) -> Self {
        if self.quick {
            self.jobs = 10_000;
            self.work_ms = 200;
            self.kill_every_ms = 1000;
            self.cut_seconds = 5;
            self.fault_at = vec![3, 6, 9];
        }
        self
    }
}

struct Workers {
    exe: std::path::PathBuf,
    args: Vec<String>,
    children: Vec<Child>,
    killed: HashSet<i64>,
}

impl Workers {
    fn spawn_one(&self) -> anyhow::Result<Child> {
        Ok(Command::new(&self.exe).arg("probe-worker").args(&self.args).stdin(Stdio::null()).spawn()?)
    }

    /// A worker that died by itself is a failure of the run, not a fault it injected.
    fn check_alive(&mut self) -> anyhow::Result<()> {
        for child in &mut self.children {
            if let Some(status) = child.try_wait()? {
                anyhow::bail!("worker {} exited by itself: {status}", child.id());
            }
        }
        Ok(())
    }

    fn kill_random(&mut self) -> anyhow::Result<()> {
        let i = rand::rng().random_range(0..self.children.len());
        let child = &mut self.children[i];
        self.killed.insert(child.id() as i64);
        child.kill()?;
        child.wait()?;
        self.children[i] = self.spawn_one()?;
        Ok(())
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// "n of m done" for the log, or why not (Redis may be down right then).
async fn progress(queue: &Queue, total: usize) -> String {
    // The first command on a connection Redis dropped fails and reconnects; ask twice.
    let mut counts = tokio::time::timeout(Duration::from_secs(1), queue.counts()).await;
    if matches!(counts, Ok(Err(_))) {
        counts = tokio::time::timeout(Duration::from_secs(1), queue.counts()).await;
    }
    match counts {
        Ok(Ok(c)) => format!("{} of {total} jobs done, {} running", c.completed + c.dead, c.active),
        Ok(Err(e)) => format!("counts unavailable: {e}"),
        Err(_) => "counts unavailable: timed out".into(),
    }
}

fn signal(pid: u32, signal: &str) -> anyhow::Result<()> {
    let status = Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status()?;
    anyhow::ensure!(status.success(), "kill -{signal} {pid} failed");
    Ok(())
}

pub async fn run(args: ChaosArgs) -> anyhow::Result<()> {
    let args = args.effective();
    let mut redis_server =
        RedisServer::start_with(RedisOptions { append_only: true, fsync_always: false, ..Default::default() });
    let temp = tempfile_dir()?;
    let database_url =
        args.database_url.clone().unwrap_or_else(|| format!("sqlite://{}?mode=rwc", temp.join("chaos.db").display()));
    sqlx::any::install_default_drivers();
    let db = sqlx::any::AnyPoolOptions::new().max_connections(4).connect(&database_url).await?;
    if database_url.starts_with("sqlite") {
        // Three processes write at once: WAL and a busy timeout instead of "database is locked".
        sqlx::query("PRAGMA journal_mode = WAL").execute(&db).await?;
    }
    sqlx::query(CREATE_TABLE).execute(&db).await?;
    sqlx::query("DELETE FROM executions").execute(&db).await?;
    // (sqlx waits up to 5 s on a locked SQLite database by default.)
    let worker_db_url = database_url.clone();

    let redis = RedisConnection::connect(&redis_server.url()).await?;
    let queue = Queue::with_config(&redis, "chaos", keep_everything())?;
    let options = JobOptions { max_stalls: 1000, max_attempts: 1000, ..Default::default() };
    let started = Instant::now();
    let mut ids = Vec::with_capacity(args.jobs);
    for chunk in (0..args.jobs).collect::<Vec<_>>().chunks(1000) {
        let batch =
            chunk.iter().map(|i| NewJob::new("probe", json!({ "i": i })).with_options(options.clone())).collect();
        ids.extend(queue.enqueue_bulk(batch).await?.into_iter().map(|e| e.id));
    }
    println!("enqueued {} jobs in {:.1} s", ids.len(), started.elapsed().as_secs_f64());

    let mut workers = Workers {
        exe: std::env::current_exe()?,
        args: vec![
            "--redis-url".into(),
            redis_server.url(),
            "--database-url".into(),
            worker_db_url,
            "--queue".into(),
            "chaos".into(),
            "--concurrency".into(),
            args.concurrency.to_string(),
            "--work-ms".into(),
            args.work_ms.to_string(),
            // Longer than the cut plus a renewal interval: a cut alone must not cost a job
            // its lease (only a killed worker should).
            "--lease-seconds".into(),
            (args.cut_seconds * 2 + 5).to_string(),
            "--keep-all".into(),
        ],
        children: vec![],
        killed: HashSet::new(),
    };
    for _ in 0..args.workers {
        let child = workers.spawn_one()?;
        workers.children.push(child);
    }

    // The fault schedule, in seconds from now.
    let t0 = Instant::now();
    let at = |s: u64| t0 + Duration::from_secs(s);
    let (restart_at, kill_redis_at, cut_at) = (at(args.fault_at[0]), at(args.fault_at[1]), at(args.fault_at[2]));
    let cut_ends = cut_at + Duration::from_secs(args.cut_seconds);
    let mut next_worker_kill = t0 + Duration::from_millis(args.kill_every_ms);
    let (mut restarted, mut redis_killed, mut cut, mut resumed) = (false, false, false, false);
    let mut log = vec![];
    let mut worker_kills = 0;
    while !resumed {
        let now = Instant::now();
        workers.check_alive()?;
        if now >= next_worker_kill {
            workers.kill_random()?;
            worker_kills += 1;
            next_worker_kill += Duration::from_millis(args.kill_every_ms);
        }
        if !restarted && now >= restart_at {
            log.push(format!("before the restart: {}", progress(&queue, ids.len()).await));
            redis_server.stop();
            redis_server.restart();
            restarted = true;
            log.push(format!("{:.1} s: Redis restarted gracefully", t0.elapsed().as_secs_f64()));
        }
        if !redis_killed && now >= kill_redis_at {
            log.push(format!("before the kill: {}", progress(&queue, ids.len()).await));
            redis_server.command(&["CONFIG", "SET", "appendfsync", "always"])?;
            redis_server.kill();
            redis_server.restart();
            redis_server.command(&["CONFIG", "SET", "appendfsync", "always"])?;
            redis_killed = true;
            log.push(format!(
                "{:.1} s: Redis SIGKILLed (appendfsync always) and restarted",
                t0.elapsed().as_secs_f64()
            ));
        }
        if !cut && now >= cut_at {
            log.push(format!("before the cut: {}", progress(&queue, ids.len()).await));
            signal(redis_pid(&redis_server)?, "STOP")?;
            cut = true;
            log.push(format!("{:.1} s: Redis cut off for {} s", t0.elapsed().as_secs_f64(), args.cut_seconds));
        }
        if cut && now >= cut_ends {
            signal(redis_pid(&redis_server)?, "CONT")?;
            resumed = true;
            log.push(format!("{:.1} s: Redis back", t0.elapsed().as_secs_f64()));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let last_fault = Instant::now();
    for line in &log {
        println!("{line}");
    }
    println!("{worker_kills} worker kills; waiting for every job to finish");

    // Drained: every job terminal. Counts come from the state sets, then each job is read.
    let drain_deadline = Instant::now() + Duration::from_secs(600);
    loop {
        match queue.counts().await {
            Ok(c) if c.completed + c.dead + c.cancelled >= ids.len() as u64 && c.active == 0 => break,
            Ok(_) | Err(_) if Instant::now() < drain_deadline => tokio::time::sleep(Duration::from_millis(100)).await,
            Ok(c) => anyhow::bail!("not drained after 10 minutes: {c:?}"),
            Err(e) => anyhow::bail!("not drained after 10 minutes: {e}"),
        }
    }
    let drain_s = last_fault.elapsed().as_secs_f64();
    let killed = std::mem::take(&mut workers.killed);
    drop(workers); // kills the workers

    let mut states: HashMap<JobState, u64> = HashMap::new();
    let mut lost = 0u64;
    for chunk in ids.chunks(1000) {
        let jobs = queue.load_jobs(chunk).await?;
        lost += (chunk.len() - jobs.len()) as u64;
        for job in jobs {
            *states.entry(job.state).or_default() += 1;
        }
    }
    let not_terminal: u64 = states.iter().filter(|(s, _)| !s.is_finished()).map(|(_, n)| n).sum();

    // Executions: beyond one per job only where an earlier one ran in a killed worker.
    let rows: Vec<(String, i64, i64)> =
        sqlx::query_as("SELECT job_id, pid, at FROM executions ORDER BY job_id, at").fetch_all(&db).await?;
    let mut by_job: HashMap<&str, Vec<i64>> = HashMap::new();
    for (job, pid, _) in &rows {
        by_job.entry(job.as_str()).or_default().push(*pid);
    }
    let never_ran = ids.iter().filter(|id| !by_job.contains_key(id.as_str())).count();
    let extra_executions: usize = by_job.values().map(|runs| runs.len() - 1).sum();
    let unexplained = by_job
        .values()
        .filter(|runs| runs.len() > 1 && runs[..runs.len() - 1].iter().any(|pid| !killed.contains(pid)))
        .count();
    let figures = json!({
        "jobs": ids.len(),
        "worker_kills": worker_kills,
        "redis_restarts": 2,
        "redis_cut_seconds": args.cut_seconds,
        "lost": lost,
        "not_terminal": not_terminal,
        "completed": states.get(&JobState::Completed).copied().unwrap_or(0),
        "dead": states.get(&JobState::Dead).copied().unwrap_or(0),
        "never_ran": never_ran,
        "executions": rows.len(),
        "extra_executions": extra_executions,
        "unexplained_extra_executions": unexplained,
        "drain_after_last_fault_s": (drain_s * 10.0).round() / 10.0,
    });
    println!(
        "lost {lost}, not terminal {not_terminal}, never ran {never_ran}; {} executions, {extra_executions} beyond one \
         per job ({unexplained} not explained by a killed worker); drained {drain_s:.1} s after the last fault",
        rows.len()
    );
    println!("{figures}");
    let ok = lost == 0 && not_terminal == 0 && never_ran == 0 && unexplained == 0;
    drop(redis_server);
    let _ = std::fs::remove_dir_all(&temp);
    anyhow::ensure!(ok, "chaos found lost, unfinished or unexplained jobs");
    Ok(())
}

fn redis_pid(server: &RedisServer) -> anyhow::Result<u32> {
    server.pid().ok_or_else(|| anyhow::anyhow!("redis-server is not running"))
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("hoist-chaos-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
