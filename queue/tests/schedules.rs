//! Schedules in Redis: exactly-once ticks across schedulers, DST days, misfires, fan-out.

mod common;

use std::time::Duration;

use chrono::TimeZone;
use common::setup;
use hoist_queue::{
    CancellationToken, JobState, MisfirePolicy, NewJob, PENDING_TIMEOUT, Queue, QueueError, ScheduleSpec, Scheduler,
};
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
    assert_each_second_once(&ticks);
    let queue = Queue::new(&s.redis, "cron-jobs").unwrap();
    assert_eq!(queue.counts().await.unwrap().waiting, ticks.len() as u64);
    // None fired before its time by Redis's clock: not recorded, not enqueued.
    for record in &history {
        assert!(record.error.is_none() && record.job_ids.len() == 1, "{record:?}");
        assert!(record.fired_at >= record.tick, "fired early: {record:?}");
        let job = queue.get_job(&record.job_ids[0]).await.unwrap().unwrap();
        assert!(job.created_at >= record.tick, "enqueued at {} for tick {}", job.created_at, record.tick);
    }
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
    assert_eq!(scheduler.run_due(now).await.unwrap(), 1, "the orphaned tick's job, nothing new");
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

// --- Clock skew and hostile schedules -------------------------------------------------

fn every_second(name: &str) -> ScheduleSpec {
    ScheduleSpec::new(name, "* * * * * *", "cron-jobs", NewJob::new("tick", json!({ "from": name })))
}

fn state_key(name: &str) -> String {
    format!("hoist:{{schedule:{name}}}:state")
}

async fn redis_now(s: &common::Setup) -> i64 {
    s.queue.redis_time().await.unwrap()
}

async fn set_state(s: &common::Setup, name: &str, fields: &[(&str, String)]) {
    let mut cmd = redis::cmd("HSET");
    cmd.arg(state_key(name));
    for (field, value) in fields {
        cmd.arg(*field).arg(value);
    }
    let _: i64 = s.redis.query(&cmd).await.unwrap();
}

async fn state_field(s: &common::Setup, name: &str, field: &str) -> Option<String> {
    s.redis.query(redis::cmd("HGET").arg(state_key(name)).arg(field)).await.unwrap()
}

/// What a scheduler that claimed `ticks` and then died leaves behind, `age_ms` ago by
/// Redis's clock.
async fn orphan_claim(s: &common::Setup, name: &str, ticks: &[i64], age_ms: i64) {
    let since = redis_now(s).await - age_ms;
    set_state(
        s,
        name,
        &[
            ("pending", serde_json::to_string(ticks).unwrap()),
            ("pending_since", since.to_string()),
            ("pending_by", "scheduler-that-died".into()),
            ("last_tick", ticks.last().unwrap().to_string()),
        ],
    )
    .await;
}

/// A schedule written by an older version that did not check it: stored as it is.
async fn store_unchecked(s: &common::Setup, spec: &ScheduleSpec, last_tick: i64) {
    set_state(
        s,
        &spec.name,
        &[("spec", serde_json::to_string(spec).unwrap()), ("last_tick", last_tick.to_string()), ("runs", "0".into())],
    )
    .await;
    let _: i64 = s.redis.query(redis::cmd("SADD").arg("hoist:schedules").arg(&spec.name)).await.unwrap();
}

fn whole_second(ms: i64) -> i64 {
    ms / 1000 * 1000
}

fn assert_each_second_once(ticks: &[i64]) {
    assert!(ticks.windows(2).all(|w| w[1] - w[0] == 1000), "each second once, none skipped: {ticks:?}");
}

#[tokio::test]
async fn a_scheduler_whose_clock_runs_ahead_of_redis_fires_nothing_early() {
    let s = setup().await;
    let scheduler = Scheduler::new(&s.redis);
    scheduler.upsert(&every_second("ahead")).await.unwrap();
    // This process's clock is a minute ahead of Redis's.
    let _ = scheduler.run_due(redis_now(&s).await + MINUTE).await;
    let after = redis_now(&s).await;
    let early: Vec<i64> =
        scheduler.history("ahead", 100).await.unwrap().iter().map(|r| r.tick).filter(|t| *t > after).collect();
    assert!(early.is_empty(), "ticks later than Redis's time {after} fired: {early:?}");
    let last = scheduler.get("ahead").await.unwrap().unwrap().last_tick.unwrap();
    assert!(last <= after, "no tick after Redis's time is claimed: {last} > {after}");
}

#[tokio::test]
async fn a_fresh_claim_is_not_taken_over_by_a_scheduler_whose_clock_runs_ahead() {
    let s = setup().await;
    let scheduler = Scheduler::new(&s.redis);
    scheduler.upsert(&every_second("fresh")).await.unwrap();
    let tick = whole_second(redis_now(&s).await);
    // Another scheduler claimed this tick just now (by Redis's clock) and is enqueueing it.
    orphan_claim(&s, "fresh", &[tick], 0).await;
    let _ = scheduler.run_due(redis_now(&s).await + MINUTE).await;
    assert!(scheduler.history("fresh", 10).await.unwrap().is_empty(), "the claim was taken over early");
    assert_eq!(state_field(&s, "fresh", "pending").await, Some(format!("[{tick}]")));
    assert_eq!(state_field(&s, "fresh", "pending_by").await.as_deref(), Some("scheduler-that-died"));
}

#[tokio::test]
async fn a_claim_is_stamped_with_redis_time_not_the_claimers_clock() {
    let s = setup().await;
    let lagging = Scheduler::new(&s.redis);
    lagging.upsert(&every_second("stamped")).await.unwrap();
    let now = redis_now(&s).await;
    lagging.set_last_tick("stamped", whole_second(now) - 50_000).await.unwrap();
    // The target queue cannot take jobs for now (its dedup hash is not a hash): the claim
    // stays unconfirmed, as when its scheduler dies.
    let dedup = "hoist:{cron-jobs}:dedup";
    let _: () = s.redis.query(redis::cmd("SET").arg(dedup).arg("not a hash")).await.unwrap();
    // A scheduler whose clock is 40 s behind Redis's claims ticks and cannot enqueue them.
    let _ = lagging.run_due(now - 40_000).await;
    let claimed = state_field(&s, "stamped", "pending").await.expect("a claim kept for retry");
    let since: i64 = state_field(&s, "stamped", "pending_since").await.unwrap().parse().unwrap();
    assert!(since >= now, "pending_since {since} is the claimer's clock, not Redis's ({now})");
    // By Redis's clock the claim is seconds old: another scheduler leaves it alone.
    let _: () = s.redis.query(redis::cmd("DEL").arg(dedup)).await.unwrap();
    let _ = Scheduler::new(&s.redis).run_due(redis_now(&s).await).await;
    assert!(lagging.history("stamped", 10).await.unwrap().is_empty());
    assert_eq!(state_field(&s, "stamped", "pending").await, Some(claimed));
}

#[tokio::test]
async fn an_unconfirmed_claim_is_never_overwritten_and_fires_once_on_takeover() {
    let s = setup().await;
    let scheduler = Scheduler::new(&s.redis);
    scheduler.upsert(&every_second("claimed")).await.unwrap();
    let first = whole_second(redis_now(&s).await) - 5000;
    // A scheduler claimed two ticks a moment ago and has not confirmed them; later ticks
    // come due meanwhile (a period far under the takeover timeout).
    orphan_claim(&s, "claimed", &[first - 1000, first], 0).await;
    let claim = state_field(&s, "claimed", "pending").await;
    let _ = scheduler.run_due(redis_now(&s).await).await;
    assert_eq!(state_field(&s, "claimed", "pending").await, claim, "the claim was overwritten");
    assert!(scheduler.history("claimed", 100).await.unwrap().is_empty());
    // The claimer never comes back: once the claim is older than the timeout by Redis's
    // clock, its ticks fire, once, and so do the ticks that came due meanwhile.
    orphan_claim(&s, "claimed", &[first - 1000, first], PENDING_TIMEOUT.as_millis() as i64 + 10_000).await;
    for _ in 0..3 {
        scheduler.run_due(redis_now(&s).await).await.unwrap();
    }
    let mut ticks: Vec<i64> = scheduler.history("claimed", 100).await.unwrap().iter().map(|r| r.tick).collect();
    ticks.sort();
    assert_eq!(ticks[..2], [first - 1000, first], "{ticks:?}");
    assert!(ticks.len() >= 6, "{ticks:?}");
    assert_each_second_once(&ticks);
    let queue = Queue::new(&s.redis, "cron-jobs").unwrap();
    assert_eq!(queue.counts().await.unwrap().waiting, ticks.len() as u64);
    assert_eq!(state_field(&s, "claimed", "pending").await, None);
}

#[tokio::test]
async fn max_runs_is_not_overshot_when_a_takeover_meets_new_ticks() {
    let s = setup().await;
    let scheduler = Scheduler::new(&s.redis);
    let mut spec = every_second("limited");
    spec.max_runs = Some(2);
    scheduler.upsert(&spec).await.unwrap();
    let first = whole_second(redis_now(&s).await) - 5000;
    // Both allowed runs were claimed by a scheduler that died; more ticks are due since.
    orphan_claim(&s, "limited", &[first - 1000, first], PENDING_TIMEOUT.as_millis() as i64 + 10_000).await;
    for _ in 0..3 {
        scheduler.run_due(redis_now(&s).await).await.unwrap();
    }
    let info = scheduler.get("limited").await.unwrap().unwrap();
    assert_eq!(info.runs, 2);
    assert_eq!(info.next_tick, None, "used up");
    assert_eq!(scheduler.history("limited", 100).await.unwrap().len(), 2);
    assert_eq!(Queue::new(&s.redis, "cron-jobs").unwrap().counts().await.unwrap().waiting, 2);
}

/// The field an upsert error names (`queue` for a queue name).
fn refused_field(error: &QueueError) -> &'static str {
    match error {
        QueueError::InvalidOption { field, .. } => field,
        QueueError::InvalidQueueName { .. } => "queue",
        other => panic!("not a refusal naming a field: {other}"),
    }
}

#[tokio::test]
async fn upsert_refuses_schedules_that_could_never_fire_or_enqueue() {
    let s = setup().await;
    let scheduler = Scheduler::new(&s.redis);
    let with = |change: &dyn Fn(&mut ScheduleSpec)| {
        let mut spec = every_minute("hostile");
        change(&mut spec);
        spec
    };
    let cases: Vec<(&str, ScheduleSpec, &str)> = vec![
        ("a job without a name", with(&|s| s.job.name = " ".into()), "job"),
        ("a job name with a control character", with(&|s| s.job.name = "a\u{7}b".into()), "job"),
        ("zero attempts", with(&|s| s.job.options.max_attempts = 0), "job"),
        ("priority past 1000", with(&|s| s.job.options.priority = 5000), "job"),
        ("a delay past a year", with(&|s| s.job.options.delay = Some(Duration::from_secs(400 * 86_400))), "job"),
        ("a payload past the queue's limit", with(&|s| s.job.payload = json!("x".repeat(600 * 1024))), "job"),
        (
            "the largest delay with a stagger (would overflow)",
            with(&|s| {
                s.job.options.delay = Some(Duration::MAX);
                s.fan_out = vec![json!(1), json!(2)];
                s.stagger = Some(Duration::from_secs(1));
            }),
            "job",
        ),
        (
            "a delay plus the stagger past a year",
            with(&|s| {
                s.job.options.delay = Some(Duration::from_secs(300 * 86_400));
                s.fan_out = (0..100).map(|i| json!({ "i": i })).collect();
                s.stagger = Some(Duration::from_secs(86_400));
            }),
            "stagger",
        ),
        (
            "a fan-out element past the payload limit",
            with(&|s| s.fan_out = vec![json!({ "org": "a" }), json!({ "blob": "x".repeat(600 * 1024) })]),
            "fan_out",
        ),
        ("too many fan-out elements", with(&|s| s.fan_out = vec![json!(1); 10_001]), "fan_out"),
        ("a cron that never fires", with(&|s| s.cron = "0 0 30 2 *".into()), "cron"),
        ("a queue name with a space", with(&|s| s.queue = "cron jobs".into()), "queue"),
        ("a run-each of nothing", with(&|s| s.misfire = MisfirePolicy::RunEach { max: 0 }), "misfire"),
        ("a grace beyond any clock", with(&|s| s.misfire_grace = Duration::MAX), "misfire_grace"),
        ("at most no runs", with(&|s| s.max_runs = Some(0)), "max_runs"),
    ];
    for (case, spec, field) in cases {
        let err = scheduler.upsert(&spec).await.expect_err(case);
        assert_eq!(refused_field(&err), field, "{case}: {err}");
    }
    assert!(scheduler.list().await.unwrap().is_empty());
    // Rare but real: the 29th of February fires every four years.
    let mut leap = every_minute("leap-day");
    leap.cron = "0 0 29 2 *".into();
    leap.fan_out = vec![json!({ "org": "a" }), json!({ "org": "b" })];
    leap.stagger = Some(Duration::from_secs(60));
    scheduler.upsert(&leap).await.unwrap();
    let counts = Queue::new(&s.redis, "cron-jobs").unwrap().counts().await.unwrap();
    assert_eq!(counts.waiting + counts.delayed, 0, "checking the template enqueues nothing");
}

#[tokio::test]
async fn a_tick_whose_template_can_never_enqueue_is_recorded_not_retried() {
    let s = setup().await;
    let scheduler = Scheduler::new(&s.redis);
    let mut spec = every_second("nameless");
    spec.job.name = String::new();
    let last = whole_second(redis_now(&s).await) - 3000;
    store_unchecked(&s, &spec, last).await;
    scheduler.run_due(redis_now(&s).await).await.unwrap();
    let history = scheduler.history("nameless", 100).await.unwrap();
    assert!(history.len() >= 3, "each due tick is recorded: {history:?}");
    assert!(history.iter().all(|r| r.job_ids.is_empty() && r.error.as_deref().is_some_and(|e| e.contains("name"))));
    assert_eq!(state_field(&s, "nameless", "pending").await, None, "no claim is left to retry for ever");
    // Later passes do not retry them: each tick is in the history once.
    scheduler.run_due(redis_now(&s).await).await.unwrap();
    let mut ticks: Vec<i64> = scheduler.history("nameless", 100).await.unwrap().iter().map(|r| r.tick).collect();
    ticks.sort();
    assert_eq!(ticks[0], last + 1000);
    assert_each_second_once(&ticks);
    let info = scheduler.get("nameless").await.unwrap().unwrap();
    assert_eq!(info.runs, 0, "a tick that enqueued nothing is not a run");
    assert_eq!(Queue::new(&s.redis, "cron-jobs").unwrap().counts().await.unwrap().waiting, 0);
}

#[tokio::test]
async fn a_stored_schedule_whose_stagger_overflows_is_refused_not_a_panic() {
    let s = setup().await;
    let scheduler = Scheduler::new(&s.redis);
    // Job i starts i × stagger later: with the largest stagger JSON can hold, the 1001st
    // job's delay is past what a Duration holds.
    let mut spec = every_second("overflow");
    spec.fan_out = (0..1002).map(|i| json!({ "i": i })).collect();
    spec.stagger = Some(Duration::from_millis(u64::MAX));
    store_unchecked(&s, &spec, whole_second(redis_now(&s).await) - 2000).await;
    let err = scheduler.trigger("overflow").await.unwrap_err();
    assert_eq!(refused_field(&err), "stagger", "{err}");
    let _ = scheduler.run_due(redis_now(&s).await).await;
    assert_eq!(Queue::new(&s.redis, "cron-jobs").unwrap().counts().await.unwrap().waiting, 0);
    assert_eq!(state_field(&s, "overflow", "pending").await, None);
}

#[tokio::test]
async fn a_schedule_stored_unreadable_neither_hides_nor_stops_the_others() {
    let s = setup().await;
    let scheduler = Scheduler::new(&s.redis);
    set_state(&s, "garbled", &[("spec", "{not json".into()), ("last_tick", "yesterday".into())]).await;
    let _: i64 = s.redis.query(redis::cmd("SADD").arg("hoist:schedules").arg("garbled")).await.unwrap();
    scheduler.upsert(&every_second("healthy")).await.unwrap();
    let listed: Vec<String> = scheduler.list().await.unwrap().into_iter().map(|i| i.spec.name).collect();
    assert_eq!(listed, ["healthy"]);
    scheduler.set_last_tick("healthy", whole_second(redis_now(&s).await) - 2000).await.unwrap();
    assert_eq!(scheduler.run_due(redis_now(&s).await).await.unwrap(), 2);
    // A readable schedule whose last tick is not a time counts from now, as a new one.
    set_state(&s, "healthy", &[("last_tick", "yesterday".into())]).await;
    assert_eq!(scheduler.run_due(redis_now(&s).await).await.unwrap(), 0);
    let last = scheduler.get("healthy").await.unwrap().unwrap().last_tick.expect("repaired");
    assert!(last <= redis_now(&s).await);
    assert!(matches!(
        scheduler.set_last_tick("healthy", -1).await,
        Err(QueueError::InvalidOption { field: "last_tick", .. })
    ));
}
