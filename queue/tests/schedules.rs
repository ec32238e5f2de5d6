//! Schedules in Redis: exactly-once ticks across schedulers, DST days, misfires, fan-out.

mod common;

use std::time::Duration;

use chrono::TimeZone;
use common::setup;
use hoist_queue::{CancellationToken, JobState, MisfirePolicy, NewJob, Queue, QueueError, ScheduleSpec, Scheduler};
use serde_json::json;

const MINUTE: i64 = 60_000;

fn every_minute(name: &str) -> ScheduleSpec {
    ScheduleSpec::new(name, "* * * * *", "cron-jobs", NewJob::new("tick", json!({ "from": name })))
}

fn berlin(y: i32, m: u32, d: u32, h: u32, min: u32) -> i64 {
    chrono_tz::Europe::Berlin.with_ymd_and_hms(y, m, d, h, min, 0).earliest().unwrap().timestamp_millis()
}

#[tokio::test]
async fn invalid_schedules_are_refused_naming_the_field() {
    let s = setup().await;
    let scheduler = Scheduler::new(&s.redis);
    let mut bad = every_minute("bad");
    bad.cron = "not a cron".into();
    let err = scheduler.upsert(&bad).await.unwrap_err();
    assert!(matches!(err, QueueError::InvalidOption { field: "cron", .. }), "{err}");
    let bad = every_minute("bad").in_timezone("Europe/Atlantis");
    let err = scheduler.upsert(&bad).await.unwrap_err();
    assert!(matches!(err, QueueError::InvalidOption { field: "timezone", .. }), "{err}");
    // Extremes that would overflow the tick arithmetic are refused, not stored.
    let mut bad = every_minute("bad");
    bad.start_at = Some(i64::MIN);
    let err = scheduler.upsert(&bad).await.unwrap_err();
    assert!(matches!(err, QueueError::InvalidOption { field: "start_at", .. }), "{err}");
    let mut bad = every_minute("bad");
    bad.stagger = Some(Duration::from_secs(u32::MAX as u64));
    bad.fan_out = vec![json!(1), json!(2)];
    let err = scheduler.upsert(&bad).await.unwrap_err();
    assert!(matches!(err, QueueError::InvalidOption { field: "stagger", .. }), "{err}");
    assert!(scheduler.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn upsert_is_idempotent_and_lists_next_fire() {
    let s = setup().await;
    let scheduler = Scheduler::new(&s.redis);
    let spec = every_minute("report");
    scheduler.upsert(&spec).await.unwrap();
    let first = scheduler.get("report").await.unwrap().unwrap();
    scheduler.upsert(&spec).await.unwrap();
    let list = scheduler.list().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].last_tick, first.last_tick, "re-declaring does not move the clock");
    let next = list[0].next_tick.unwrap();
    assert!(next > first.last_tick.unwrap() && next - first.last_tick.unwrap() <= MINUTE);
    assert_eq!(next % MINUTE, 0, "on the minute");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_schedulers_fire_every_tick_exactly_once() {
    let s = setup().await;
    let schedulers: Vec<Scheduler> = (0..3).map(|_| Scheduler::new(&s.redis)).collect();
    let base = (chrono::Utc::now().timestamp_millis() / MINUTE) * MINUTE - 120 * MINUTE;
    schedulers[0].upsert(&every_minute("pulse")).await.unwrap();
    schedulers[1].upsert(&every_minute("pulse")).await.unwrap();
    schedulers[0].set_last_tick("pulse", base).await.unwrap();
    // An injected clock: walk 100 minutes in 20 s steps, all three racing at each step.
    let mut fired = 0;
    for step in 1..=300 {
        let now = base + step * 20_000;
        let (a, b, c) =
            tokio::join!(schedulers[0].run_due(now), schedulers[1].run_due(now), schedulers[2].run_due(now));
        fired += a.unwrap() + b.unwrap() + c.unwrap();
    }
    assert_eq!(fired, 100, "one job per minute tick");
    let queue = Queue::new(&s.redis, "cron-jobs").unwrap();
    assert_eq!(queue.counts().await.unwrap().waiting, 100);
    let history = schedulers[2].history("pulse", 200).await.unwrap();
    let mut ticks: Vec<i64> = history.iter().map(|r| r.tick).collect();
    ticks.sort();
    let expected: Vec<i64> = (1..=100).map(|i| base + i * MINUTE).collect();
    assert_eq!(ticks, expected);
    let winners: std::collections::HashSet<&str> = history.iter().map(|r| r.by.as_str()).collect();
    assert!(winners.len() > 1, "the race was real: ticks were won by different schedulers");
    assert_eq!(schedulers[1].get("pulse").await.unwrap().unwrap().runs, 100);
}

#[tokio::test]
async fn berlin_dst_days_fire_as_documented() {
    let s = setup().await;
    let scheduler = Scheduler::new(&s.redis);
    let spec = ScheduleSpec::new("nightly", "30 2 * * *", "cron-jobs", NewJob::new("nightly", json!({})))
        .in_timezone("Europe/Berlin");
    scheduler.upsert(&spec).await.unwrap();
    for (from, to, expected) in [
        // Spring forward: 02:30 does not exist; it fires right after the gap, at 03:00 CEST.
        (berlin(2026, 3, 28, 12, 0), berlin(2026, 3, 29, 12, 0), berlin(2026, 3, 29, 3, 0)),
        // Fall back: 02:30 happens twice; it fires once, at the first (CEST) one.
        (berlin(2026, 10, 24, 12, 0), berlin(2026, 10, 25, 12, 0), berlin(2026, 10, 25, 2, 30)),
    ] {
        scheduler.set_last_tick("nightly", from).await.unwrap();
        let mut now = from;
        let mut fired = 0;
        while now < to {
            now += 5 * MINUTE;
            fired += scheduler.run_due(now).await.unwrap();
        }
        assert_eq!(fired, 1, "one fire on the day starting {from}");
        let latest = &scheduler.history("nightly", 1).await.unwrap()[0];
        assert_eq!(latest.tick, expected);
    }
}

#[tokio::test]
async fn misfire_policies_after_downtime() {
    let s = setup().await;
    let scheduler = Scheduler::new(&s.redis);
    let base = (chrono::Utc::now().timestamp_millis() / MINUTE) * MINUTE - 60 * MINUTE;
    // Ten ticks pass while nothing runs; then a scheduler comes back just after the tenth.
    let cases = [
        (MisfirePolicy::Skip, 1),
        (MisfirePolicy::RunOnce, 1),
        (MisfirePolicy::RunEach { max: 3 }, 4),
        (MisfirePolicy::RunEach { max: 50 }, 10),
    ];
    for (i, (policy, _)) in cases.into_iter().enumerate() {
        let name = format!("misfire-{i}");
        let mut spec = every_minute(&name);
        spec.misfire = policy;
        scheduler.upsert(&spec).await.unwrap();
        scheduler.set_last_tick(&name, base).await.unwrap();
    }
    let fired = scheduler.run_due(base + 10 * MINUTE + 1000).await.unwrap();
    assert_eq!(fired, 1 + 1 + 4 + 10);
    for (i, (_, expected)) in cases.iter().enumerate() {
        let history = scheduler.history(&format!("misfire-{i}"), 100).await.unwrap();
        assert_eq!(history.len(), *expected, "case {i}");
        assert_eq!(history[0].tick, base + 10 * MINUTE, "the on-time tick fires in every case");
    }
    // Nothing is due again until the next minute.
    assert_eq!(scheduler.run_due(base + 10 * MINUTE + 2000).await.unwrap(), 0);
}

#[tokio::test]
async fn fan_out_is_staggered_and_each_job_keyed_by_tick() {
    let s = setup().await;
    let scheduler = Scheduler::new(&s.redis);
    let mut spec = every_minute("sync-orgs");
    spec.job = NewJob::new("sync-all-org", json!({ "full": false }));
    spec.fan_out = vec![json!({ "org": "a" }), json!({ "org": "b" }), json!({ "org": "c" })];
    spec.stagger = Some(Duration::from_secs(30));
    scheduler.upsert(&spec).await.unwrap();
    let base = (chrono::Utc::now().timestamp_millis() / MINUTE) * MINUTE - 5 * MINUTE;
    scheduler.set_last_tick("sync-orgs", base).await.unwrap();
    assert_eq!(scheduler.run_due(base + MINUTE + 10).await.unwrap(), 3);
    let queue = Queue::new(&s.redis, "cron-jobs").unwrap();
    let record = &scheduler.history("sync-orgs", 1).await.unwrap()[0];
    let mut jobs = queue.load_jobs(&record.job_ids).await.unwrap();
    jobs.sort_by_key(|j| j.run_at);
    let orgs: Vec<&str> = jobs.iter().map(|j| j.payload["org"].as_str().unwrap()).collect();
    assert_eq!(orgs, vec!["a", "b", "c"]);
    assert!(jobs.iter().all(|j| j.payload["full"] == json!(false)), "template merged in");
    let offsets: Vec<i64> = jobs.iter().map(|j| j.run_at - jobs[0].run_at).collect();
    assert_eq!(offsets, vec![0, 30_000, 60_000]);
    assert_eq!(jobs[0].dedup_key.as_deref(), Some(format!("schedule:sync-orgs:{}:0", base + MINUTE).as_str()));
    assert_eq!(queue.counts().await.unwrap().delayed, 2);
}

#[tokio::test]
async fn pause_resume_trigger_and_remove() {
    let s = setup().await;
    let scheduler = Scheduler::new(&s.redis);
    scheduler.upsert(&every_minute("ops")).await.unwrap();
    let base = (chrono::Utc::now().timestamp_millis() / MINUTE) * MINUTE - 30 * MINUTE;
    scheduler.set_last_tick("ops", base).await.unwrap();
    scheduler.pause("ops").await.unwrap();
    assert!(scheduler.get("ops").await.unwrap().unwrap().paused);
    assert_eq!(scheduler.run_due(base + 2 * MINUTE).await.unwrap(), 0, "paused schedules do not fire");
    let manual = scheduler.trigger("ops").await.unwrap();
    assert_eq!(manual.len(), 1, "run now works while paused");
    scheduler.resume("ops").await.unwrap();
    assert_eq!(scheduler.run_due(base + 2 * MINUTE + 1000).await.unwrap(), 1);
    let history = scheduler.history("ops", 10).await.unwrap();
    assert_eq!(history.len(), 2);
    assert!(history.iter().any(|r| r.manual));
    assert!(scheduler.remove("ops").await.unwrap());
    assert!(scheduler.get("ops").await.unwrap().is_none());
    assert!(matches!(scheduler.pause("ops").await, Err(QueueError::NotFound { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_schedulers_on_the_clock_fire_each_second_once() {
    let s = setup().await;
    let spec = ScheduleSpec::new("each-second", "* * * * * *", "cron-jobs", NewJob::new("tick", json!({})));
    Scheduler::new(&s.redis).upsert(&spec).await.unwrap();
    let shutdown = CancellationToken::new();
    let loops: Vec<_> = (0..3).map(|_| tokio::spawn(Scheduler::new(&s.redis).run(shutdown.clone()))).collect();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    shutdown.cancel();
    for l in loops {
        l.await.unwrap().unwrap();
    }
    let history = Scheduler::new(&s.redis).history("each-second", 100).await.unwrap();
    let mut ticks: Vec<i64> = history.iter().map(|r| r.tick).collect();
    ticks.sort();
    assert!(ticks.len() >= 3, "{ticks:?}");
    assert!(ticks.windows(2).all(|w| w[1] - w[0] == 1000), "each second once, none skipped: {ticks:?}");
    let queue = Queue::new(&s.redis, "cron-jobs").unwrap();
    assert_eq!(queue.counts().await.unwrap().waiting, ticks.len() as u64);
    let job = queue.list_jobs(JobState::Waiting, 0, 1).await.unwrap().jobs.remove(0);
    assert!(job.dedup_key.unwrap().starts_with("schedule:each-second:"));
}

#[tokio::test]
async fn ticks_claimed_by_a_scheduler_that_died_are_fired_by_another() {
    let s = setup().await;
    let common::Deployment::Single(server) = &s.server else { return }; // raw writes below
    let scheduler = Scheduler::new(&s.redis);
    scheduler.upsert(&every_minute("orphan")).await.unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    let tick = (now / MINUTE) * MINUTE;
    // A scheduler claimed this tick 40 s ago and died before enqueueing its job.
    let stale = (now - 40_000).to_string();
    let claimed = format!("[{tick}]");
    server
        .command(&[
            "HSET",
            "hoist:{schedule:orphan}:state",
            "pending",
            &claimed,
            "pending_since",
            &stale,
            "last_tick",
            &tick.to_string(),
        ])
        .unwrap();
    assert_eq!(scheduler.run_due(now).await.unwrap(), 0, "nothing new is due");
    let history = scheduler.history("orphan", 10).await.unwrap();
    assert_eq!(history.len(), 1, "the orphaned tick was fired");
    assert_eq!(history[0].tick, tick);
    // Done once: a second pass does not fire it again.
    scheduler.run_due(now + 1000).await.unwrap();
    assert_eq!(scheduler.history("orphan", 10).await.unwrap().len(), 1);
    assert_eq!(Queue::new(&s.redis, "cron-jobs").unwrap().counts().await.unwrap().waiting, 1);
}

#[tokio::test]
async fn start_end_and_run_limit_bound_the_fires() {
    let s = setup().await;
    let scheduler = Scheduler::new(&s.redis);
    let base = (chrono::Utc::now().timestamp_millis() / MINUTE) * MINUTE - 60 * MINUTE;
    let mut limited = every_minute("twice");
    limited.max_runs = Some(2);
    let mut windowed = every_minute("window");
    windowed.start_at = Some(base + 3 * MINUTE);
    windowed.end_at = Some(base + 5 * MINUTE);
    for spec in [&limited, &windowed] {
        scheduler.upsert(spec).await.unwrap();
        scheduler.set_last_tick(&spec.name, base).await.unwrap();
    }
    for step in 1..=10 {
        scheduler.run_due(base + step * MINUTE + 500).await.unwrap();
    }
    assert_eq!(scheduler.history("twice", 100).await.unwrap().len(), 2);
    let info = scheduler.get("twice").await.unwrap().unwrap();
    assert_eq!((info.runs, info.next_tick), (2, None), "used up: no next fire");
    let mut ticks: Vec<i64> = scheduler.history("window", 100).await.unwrap().iter().map(|r| r.tick).collect();
    ticks.sort();
    assert_eq!(ticks, vec![base + 3 * MINUTE, base + 4 * MINUTE, base + 5 * MINUTE]);
    let mut bad = every_minute("backwards");
    bad.start_at = Some(base + MINUTE);
    bad.end_at = Some(base);
    assert!(matches!(scheduler.upsert(&bad).await, Err(QueueError::InvalidOption { field: "end_at", .. })));
}
