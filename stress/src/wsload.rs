//! Dashboard load: many WebSocket clients on a `hoist serve` while jobs flow. Most
//! clients follow queue counts (the overview page); a tenth are end users following
//! their own jobs (My jobs). Every message carries the time of the event it reports, so
//! each client measures the lag from event to delivery; reported for the first and the
//! last part of the run, with the server's CPU and memory over the same spans.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Args;
use futures::StreamExt;
use hoist_queue::{JobOptions, NewJob, Queue, RedisConnection};
use hoist_testkit::RedisServer;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_util::sync::CancellationToken;

use crate::measure::{cpu_seconds, mib, percentile, rss_bytes};
use crate::server_process::{self, ServerProcess};

#[derive(Args, Clone)]
pub struct WsloadArgs {
    /// WebSocket clients.
    #[arg(long, default_value_t = 500)]
    pub clients: usize,
    /// Jobs enqueued (and processed) per second.
    #[arg(long, default_value_t = 5_000)]
    pub rate: u64,
    /// Length of the run.
    #[arg(long, default_value_t = 300)]
    pub seconds: u64,
    /// Length of the first and last spans the lag and CPU are reported for.
    #[arg(long, default_value_t = 30)]
    pub span_seconds: u64,
    /// The `hoist` binary (default: beside this program).
    #[arg(long)]
    pub hoist_bin: Option<PathBuf>,
    /// Small and quick: 100 clients, 1,000 jobs/s, 20 s.
    #[arg(long)]
    pub quick: bool,
}

const END_USERS: usize = 10;

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default()
}

/// What one client saw: lags (ms) by span and by message kind, and what went wrong.
#[derive(Default)]
struct ClientReport {
    counts_lag: [Vec<u32>; 2],
    job_lag: [Vec<u32>; 2],
    frames: u64,
    resyncs: u64,
    dropped: bool,
}

fn lag_figures(mut values: Vec<u32>) -> Value {
    json!({ "p50": percentile(&mut values, 0.50), "p99": percentile(&mut values, 0.99), "samples": values.len() })
}

/// A signed-in session: its cookie and CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

async fn sign_in(http: &reqwest::Client, base: &str, username: &str, password: &str) -> anyhow::Result<Session> {
    let response = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await?;
    anyhow::ensure!(response.status().is_success(), "sign-in of {username} failed: {}", response.status());
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_string))
        .collect::<Vec<_>>()
        .join("; ");
    let body: Value = response.json().await?;
    Ok(Session { cookie, csrf: body["csrf_token"].as_str().unwrap_or_default().to_string() })
}

/// One browser tab: connects, then records the lag of every message until `stop`.
async fn client(
    ws_url: String,
    cookie: String,
    started: Instant,
    span: Duration,
    total: Duration,
    stop: CancellationToken,
) -> ClientReport {
    let mut report = ClientReport::default();
    let mut request = ws_url.into_client_request().expect("a WebSocket URL");
    request.headers_mut().insert("cookie", cookie.parse().expect("a cookie header"));
    let Ok((mut socket, _)) = tokio_tungstenite::connect_async(request).await else {
        report.dropped = true;
        return report;
    };
    loop {
        let frame = tokio::select! {
            _ = stop.cancelled() => break,
            frame = socket.next() => frame,
        };
        let Some(Ok(frame)) = frame else {
            report.dropped = true;
            break;
        };
        let Message::Text(text) = frame else { continue };
        let received = now_ms();
        let elapsed = started.elapsed();
        let which = if elapsed < span {
            Some(0)
        } else if elapsed >= total.saturating_sub(span) {
            Some(1)
        } else {
            None
        };
        report.frames += 1;
        let Ok(Value::Array(messages)) = serde_json::from_str::<Value>(&text) else { continue };
        for message in messages {
            match (message["type"].as_str(), message["at"].as_i64(), which) {
                (Some("resync"), ..) => report.resyncs += 1,
                (Some("counts"), Some(at), Some(i)) => report.counts_lag[i].push((received - at).max(0) as u32),
                (Some("job"), Some(at), Some(i)) => report.job_lag[i].push((received - at).max(0) as u32),
                _ => {}
            }
        }
    }
    let _ = socket.close(None).await;
    report
}

pub async fn run(args: WsloadArgs) -> anyhow::Result<()> {
    let mut args = args;
    if args.quick {
        (args.clients, args.rate, args.seconds, args.span_seconds) = (100, 1_000, 20, 5);
    }
    anyhow::ensure!(args.seconds >= 2 * args.span_seconds, "--seconds must be at least twice --span-seconds");
    let redis_server = RedisServer::start();
    let redis = RedisConnection::connect(&redis_server.url()).await?;
    // The SQL history would copy every finished job: measure the dashboard alone.
    let server = ServerProcess::start(args.hoist_bin.as_deref(), &redis_server.url(), false).await?;
    let pid = server.pid();
    let http = reqwest::Client::new();
    let admin = sign_in(&http, &server.base, "admin", server_process::ADMIN_PASSWORD).await?;

    // End users, each signed in once; their tabs share the session as tabs do.
    let mut users: Vec<(String, Session)> = vec![];
    for n in 0..END_USERS {
        let (name, password) = (format!("enduser{n}"), format!("enduser-password-{n}"));
        let created = http
            .post(format!("{}/api/v1/users", server.base))
            .header("cookie", &admin.cookie)
            .header("x-csrf-token", &admin.csrf)
            .json(&json!({ "username": name, "password": password, "role": "user" }))
            .send()
            .await?;
        anyhow::ensure!(created.status().is_success(), "creating {name}: {}", created.status());
        let id = created.json::<Value>().await?["id"].as_i64().unwrap_or_default();
        users.push((id.to_string(), sign_in(&http, &server.base, &name, &password).await?));
    }

    let queue = Queue::new(&redis, "wsload")?;
    queue.register().await?;
    let mut worker: Child = Command::new(std::env::current_exe()?)
        .args(["probe-worker", "--redis-url", &redis_server.url(), "--queue", "wsload", "--work-ms", "0"])
        .stdin(Stdio::null())
        .spawn()?;
    // The hub finds new queues every 2 s.
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let ws_base = server.base.replacen("http", "ws", 1);
    let end_user_clients = args.clients / 10;
    let stop = CancellationToken::new();
    let span = Duration::from_secs(args.span_seconds);
    let total = Duration::from_secs(args.seconds);
    let started = Instant::now();
    let mut tasks = vec![];
    for n in 0..args.clients {
        let (url, cookie) = if n < end_user_clients {
            (format!("{ws_base}/api/v1/live?topics=mine"), users[n % END_USERS].1.cookie.clone())
        } else {
            (format!("{ws_base}/api/v1/live?topics=counts"), admin.cookie.clone())
        };
        tasks.push(tokio::spawn(client(url, cookie, started, span, total, stop.clone())));
    }

    // The producer: every 10 ms, the jobs due by then; a tenth of them owned by no one.
    let payload = json!({ "data": "x".repeat(89) });
    let mut enqueued = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let cpu_at_start = cpu_seconds(pid)?;
    let rss_at_start = rss_bytes(pid)?;
    let mut cpu_after_first_span = None;
    let mut cpu_before_last_span = None;
    let mut rss_after_first_span = rss_at_start;
    while started.elapsed() < total {
        tick.tick().await;
        let elapsed = started.elapsed();
        if cpu_after_first_span.is_none() && elapsed >= span {
            cpu_after_first_span = Some(cpu_seconds(pid)?);
            rss_after_first_span = rss_bytes(pid)?;
        }
        if cpu_before_last_span.is_none() && elapsed >= total - span {
            cpu_before_last_span = Some(cpu_seconds(pid)?);
        }
        let due = (args.rate as f64 * elapsed.as_secs_f64()) as u64;
        if due > enqueued {
            let batch: Vec<NewJob> = (enqueued..due.min(enqueued + 2_000))
                .map(|i| {
                    let owner = (i % (END_USERS as u64 + 1)) as usize;
                    let owner = users.get(owner).map(|(id, _)| id.clone());
                    NewJob::new("load", payload.clone()).with_options(JobOptions { owner, ..Default::default() })
                })
                .collect();
            enqueued += batch.len() as u64;
            queue.enqueue_bulk(batch).await?;
        }
        if let Some(status) = worker.try_wait()? {
            anyhow::bail!("the worker exited: {status}");
        }
    }
    let cpu_at_end = cpu_seconds(pid)?;
    let rss_at_end = rss_bytes(pid)?;
    let seconds = started.elapsed().as_secs_f64();
    stop.cancel();
    let mut reports = vec![];
    for task in tasks {
        reports.push(task.await?);
    }
    let counts = queue.counts().await?;
    let _ = worker.kill();
    let _ = worker.wait();

    let backlog = counts.waiting + counts.active;
    let mut counts_lag: [Vec<u32>; 2] = Default::default();
    let mut job_lag: [Vec<u32>; 2] = Default::default();
    let (mut frames, mut resyncs, mut dropped, mut silent) = (0u64, 0u64, 0usize, 0usize);
    for report in reports {
        for i in 0..2 {
            counts_lag[i].extend(&report.counts_lag[i]);
            job_lag[i].extend(&report.job_lag[i]);
        }
        frames += report.frames;
        resyncs += report.resyncs;
        dropped += usize::from(report.dropped);
        silent += usize::from(report.frames == 0);
    }
    let span_s = span.as_secs_f64();
    let cpu_percent = |from: f64, to: f64, secs: f64| ((to - from) / secs * 1000.0).round() / 10.0;
    let first = cpu_after_first_span.unwrap_or(cpu_at_end);
    let last = cpu_before_last_span.unwrap_or(cpu_at_start);
    let [counts_start, counts_end] = counts_lag;
    let [jobs_start, jobs_end] = job_lag;
    let figures = json!({
        "clients": args.clients,
        "end_user_clients": end_user_clients,
        "seconds": seconds.round(),
        "jobs_enqueued": enqueued,
        "jobs_per_s": ((enqueued - backlog) as f64 / seconds).round(),
        "backlog_at_end": backlog,
        "counts_lag_ms": { "start": lag_figures(counts_start), "end": lag_figures(counts_end) },
        "job_lag_ms": { "start": lag_figures(jobs_start), "end": lag_figures(jobs_end) },
        "server_cpu_percent": {
            "start": cpu_percent(cpu_at_start, first, span_s),
            "end": cpu_percent(last, cpu_at_end, span_s),
            "whole_run": cpu_percent(cpu_at_start, cpu_at_end, seconds),
        },
        // Before the clients connect, after the first span, at the end.
        "server_rss_mib": [
            mib(rss_at_start),
            mib(rss_after_first_span),
            mib(rss_at_end),
        ],
        "frames": frames,
        "resyncs": resyncs,
        "clients_dropped": dropped,
        "clients_without_messages": silent,
    });
    println!(
        "{} clients, {:.0} jobs/s for {:.0} s: counts lag p50/p99 {}/{} ms at the start, {}/{} ms at the end; server CPU {}%",
        args.clients,
        figures["jobs_per_s"].as_f64().unwrap_or_default(),
        seconds,
        figures["counts_lag_ms"]["start"]["p50"],
        figures["counts_lag_ms"]["start"]["p99"],
        figures["counts_lag_ms"]["end"]["p50"],
        figures["counts_lag_ms"]["end"]["p99"],
        figures["server_cpu_percent"]["whole_run"],
    );
    println!("{figures}");
    anyhow::ensure!(dropped == 0, "{dropped} clients lost their connection");
    anyhow::ensure!(silent == 0, "{silent} clients received nothing");
    anyhow::ensure!(
        enqueued as f64 >= 0.9 * args.rate as f64 * args.seconds as f64,
        "the producer fell behind: {enqueued} jobs in {seconds:.0} s"
    );
    Ok(())
}
