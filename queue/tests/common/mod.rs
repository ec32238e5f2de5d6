//! Shared helpers for the engine suites: a private Redis per test and waiting on
//! conditions with a deadline (never bare sleeps).

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use hoist_queue::{CancellationToken, Handler, Job, JobState, Queue, RedisConnection, Worker, WorkerOptions};
use hoist_testkit::{RedisCluster, RedisServer};
use tokio::task::JoinHandle;

/// The Redis a suite runs on: one server, or a 3-master cluster when
/// `HOIST_TEST_CLUSTER=1` (the same tests, both deployments).
pub enum Deployment {
    Single(RedisServer),
    Cluster(RedisCluster),
}

pub struct Setup {
    pub server: Deployment,
    pub redis: RedisConnection,
    pub queue: Queue,
}

impl Deployment {
    pub fn url(&self) -> String {
        match self {
            Deployment::Single(s) => s.url(),
            Deployment::Cluster(c) => c.url(),
        }
    }

    fn ports(&self) -> Vec<u16> {
        match self {
            Deployment::Single(s) => vec![s.port()],
            Deployment::Cluster(c) => c.ports().to_vec(),
        }
    }

    /// Keys stored, over every node.
    pub fn dbsize(&self) -> i64 {
        self.ports()
            .into_iter()
            .map(|port| {
                let out =
                    std::process::Command::new("redis-cli").args(["-p", &port.to_string(), "dbsize"]).output().unwrap();
                String::from_utf8_lossy(&out.stdout).trim().parse::<i64>().unwrap()
            })
            .sum()
    }

    /// Names of the keys matching `pattern`, over every node, sorted.
    pub fn keys(&self, pattern: &str) -> Vec<String> {
        let mut keys: Vec<String> = self
            .ports()
            .into_iter()
            .flat_map(|port| {
                let out = std::process::Command::new("redis-cli")
                    .args(["-p", &port.to_string(), "--scan", "--pattern", pattern])
                    .output()
                    .unwrap();
                String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect::<Vec<_>>()
            })
            .filter(|key| !key.is_empty())
            .collect();
        keys.sort();
        keys
    }

    pub fn flushall(&self) {
        for port in self.ports() {
            std::process::Command::new("redis-cli").args(["-p", &port.to_string(), "flushall"]).output().unwrap();
        }
    }
}

/// Logs to the test's captured output, filtered by RUST_LOG.
pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

pub async fn setup() -> Setup {
    init_logs();
    let server = if std::env::var("HOIST_TEST_CLUSTER").is_ok_and(|v| v == "1") {
        Deployment::Cluster(RedisCluster::start())
    } else {
        Deployment::Single(RedisServer::start())
    };
    let redis = RedisConnection::connect(&server.url()).await.expect("connect");
    let queue = Queue::new(&redis, "tests").expect("queue");
    Setup { server, redis, queue }
}

/// Polls `check` until it returns `Some`, failing the test after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the job reaches `state` and returns it.
pub async fn wait_for_state(queue: &Queue, id: &str, state: JobState) -> Job {
    eventually(&format!("job {id} to be {state}"), Duration::from_secs(15), || async {
        queue.get_job(id).await.unwrap().filter(|j| j.state == state)
    })
    .await
}

pub fn fast_options() -> WorkerOptions {
    WorkerOptions {
        concurrency: 4,
        // Long enough that a busy 2-core CI machine never lets a healthy lease lapse;
        // tests of lapsed leases set their own.
        lease: Duration::from_secs(5),
        stall_check_interval: Duration::from_millis(200),
        shutdown_grace: Duration::from_secs(5),
        cancel_grace: Duration::from_millis(500),
        ..WorkerOptions::default()
    }
}

pub struct RunningWorker {
    pub shutdown: CancellationToken,
    pub handle: JoinHandle<()>,
}

impl RunningWorker {
    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(20), self.handle).await.expect("worker stops").unwrap();
    }
}

pub fn spawn_worker(queue: &Queue, handler: impl Handler, options: WorkerOptions) -> RunningWorker {
    let shutdown = CancellationToken::new();
    let worker = Worker::new(queue.clone(), handler, options);
    let token = shutdown.clone();
    let handle = tokio::spawn(async move {
        worker.run(token).await.expect("worker run");
    });
    RunningWorker { shutdown, handle }
}
