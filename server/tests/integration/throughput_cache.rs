//! The throughput chart's cache: the same counts as Redis holds, and a second read of the
//! last day fetches only the minutes it has not seen (the open one), not all 1,440.

use hoist_queue::{NewJob, Queue, RedisConnection};
use hoist_server::throughput_cache::ThroughputCache;
use serde_json::json;

/// How many `HGETALL`s Redis has run (each minute of statistics is one).
async fn hgetall_calls(url: &str) -> u64 {
    let client = redis::Client::open(url).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let info: String = redis::cmd("INFO").arg("commandstats").query_async(&mut connection).await.unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix("cmdstat_hgetall:calls="))
        .and_then(|rest| rest.split(',').next())
        .and_then(|calls| calls.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_day_chart_reads_closed_minutes_once_and_counts_like_redis() {
    let redis = hoist_testkit::RedisServer::start();
    let engine = RedisConnection::connect(&redis.url()).await.unwrap();
    let queue = Queue::new(&engine, "charted").unwrap();
    let handlers = hoist_queue::Handlers::new().on(
        "work",
        hoist_queue::handler_fn(|ctx: hoist_queue::JobContext| async move {
            if ctx.payload::<serde_json::Value>().unwrap()["fail"] == true {
                Err(hoist_queue::JobError::permanent("asked to fail"))
            } else {
                Ok(json!(null))
            }
        }),
    );
    for n in 0..5 {
        queue.enqueue(NewJob::new("work", json!({ "fail": n == 0 }))).await.unwrap();
    }
    hoist_queue::Worker::new(queue.clone(), handlers.clone(), Default::default()).run_until_idle().await.unwrap();

    let cache = ThroughputCache::default();
    let before = hgetall_calls(&redis.url()).await;
    let (from, counts) = cache.recent(&queue, 1440).await.unwrap();
    let first_read = hgetall_calls(&redis.url()).await - before;
    assert_eq!(first_read, 1440, "the first read fetches the whole day");
    assert_eq!(counts.len(), 1440);
    let reference = queue.stats(from, from + 1439).await.unwrap();
    let expected: Vec<(u64, u64)> = reference.iter().map(|m| (m.completed, m.failed)).collect();
    assert_eq!(counts, expected, "the same counts as Redis holds");
    let total: (u64, u64) = counts.iter().fold((0, 0), |(c, f), (dc, df)| (c + dc, f + df));
    assert_eq!(total, (4, 1));

    // More work, then the chart again: only the minutes not yet closed are fetched, and
    // the new jobs are counted.
    for _ in 0..3 {
        queue.enqueue(NewJob::new("work", json!({}))).await.unwrap();
    }
    hoist_queue::Worker::new(queue.clone(), handlers, Default::default()).run_until_idle().await.unwrap();
    let before = hgetall_calls(&redis.url()).await;
    let (_, counts) = cache.recent(&queue, 1440).await.unwrap();
    let second_read = hgetall_calls(&redis.url()).await - before;
    // The open minute and the last two closed ones (read again in case Redis's clock
    // stepped back), and one more if the clock crossed a minute in between.
    assert!(second_read <= 4, "the second read fetched {second_read} minutes");
    let total: (u64, u64) = counts.iter().fold((0, 0), |(c, f), (dc, df)| (c + dc, f + df));
    assert_eq!(total, (7, 1));
    // The last hour is the day's tail.
    let (_, hour) = cache.recent(&queue, 60).await.unwrap();
    assert_eq!(hour.len(), 60);
    assert_eq!(hour.iter().map(|(c, _)| c).sum::<u64>(), 7);
}
