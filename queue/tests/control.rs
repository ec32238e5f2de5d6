//! Enqueue and queue control against a real Redis: no worker involved.

mod common;

use std::time::Duration;

use common::setup;
use hoist_queue::{Backoff, JobOptions, JobState, NewJob, Queue, QueueError};
use serde_json::json;

fn job(name: &str) -> NewJob {
    NewJob::new(name, json!({ "n": name }))
}

#[tokio::test]
async fn enqueue_stores_every_field_and_ids_sort_by_time() {
    let s = setup().await;
    let options = JobOptions {
        priority: 7,
        max_attempts: 5,
        owner: Some("user-42".into()),
        timeout: Some(Duration::from_secs(9)),
        backoff: Backoff::Fixed { delay: Duration::from_millis(250) },
        ..Default::default()
    };
    let first = s.queue.enqueue(job("a").with_options(options.clone())).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2)).await;
    let second = s.queue.enqueue(job("b")).await.unwrap();
    assert!(!first.duplicate);
    assert!(first.id < second.id, "ULIDs sort by creation time");

    let stored = s.queue.get_job(&first.id).await.unwrap().expect("stored");
    assert_eq!(stored.name, "a");
    assert_eq!(stored.payload, json!({ "n": "a" }));
    assert_eq!(stored.state, JobState::Waiting);
    assert_eq!(stored.priority, 7);
    assert_eq!(stored.max_attempts, 5);
    assert_eq!(stored.attempts, 0);
    assert_eq!(stored.owner.as_deref(), Some("user-42"));
    assert_eq!(stored.timeout_ms, Some(9000));
    assert_eq!(stored.backoff, Backoff::Fixed { delay: Duration::from_millis(250) });
    assert!(stored.created_at > 0);
    assert_eq!(s.queue.counts().await.unwrap().waiting, 2);
    assert_eq!(Queue::list_queues(&s.redis, "hoist").await.unwrap(), vec!["tests".to_string()]);
}

#[tokio::test]
async fn dedup_key_returns_the_existing_job() {
    let s = setup().await;
    let keyed = |payload| {
        NewJob::new("sign-in", json!({ "p": payload }))
            .with_options(JobOptions { dedup_key: Some("event-1".into()), ..Default::default() })
    };
    let a = s.queue.enqueue(keyed(1)).await.unwrap();
    let b = s.queue.enqueue(keyed(2)).await.unwrap();
    assert!(!a.duplicate);
    assert!(b.duplicate);
    assert_eq!(a.id, b.id);
    assert_eq!(s.queue.counts().await.unwrap().waiting, 1);
    // Within one bulk call too.
    let bulk = s.queue.enqueue_bulk(vec![keyed(3), job("other"), keyed(4)]).await.unwrap();
    assert!(bulk[0].duplicate && bulk[2].duplicate && !bulk[1].duplicate);
    // Once the job is gone, the key is free again.
    s.queue.remove(&a.id).await.unwrap();
    let c = s.queue.enqueue(keyed(5)).await.unwrap();
    assert!(!c.duplicate);
    assert_ne!(c.id, a.id);
    // Deleting the jobs leaves nothing behind in the dedup index.
    s.queue.remove(&c.id).await.unwrap();
    s.queue.clean(JobState::Waiting, Duration::ZERO).await.unwrap();
    let dedup_key = format!("hoist:{{{}}}:dedup", s.queue.name());
    let left: i64 = s.redis.query(redis::cmd("HLEN").arg(&dedup_key)).await.unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn invalid_input_is_rejected_with_typed_errors() {
    let s = setup().await;
    for name in ["", "with{brace}", "with space", &"x".repeat(101)] {
        assert!(matches!(Queue::new(&s.redis, name), Err(QueueError::InvalidQueueName { .. })), "{name:?}");
    }
    let big = NewJob::new("big", json!("x".repeat(600 * 1024)));
    assert!(matches!(s.queue.enqueue(big).await, Err(QueueError::PayloadTooLarge { .. })));
    let cases = [
        (JobOptions { priority: 1001, ..Default::default() }, "priority"),
        (JobOptions { max_attempts: 0, ..Default::default() }, "max_attempts"),
        (JobOptions { timeout: Some(Duration::ZERO), ..Default::default() }, "timeout"),
        (JobOptions { dedup_key: Some(String::new()), ..Default::default() }, "dedup_key"),
    ];
    for (options, field) in cases {
        match s.queue.enqueue(job("x").with_options(options)).await {
            Err(QueueError::InvalidOption { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: expected InvalidOption, got {other:?}"),
        }
    }
    match s.queue.enqueue(NewJob::new(" ", json!(null))).await {
        Err(QueueError::InvalidOption { field, .. }) => assert_eq!(field, "name"),
        other => panic!("{other:?}"),
    }
    // One bad job rejects the whole batch.
    let batch = vec![job("ok"), job("bad").with_options(JobOptions { priority: 5000, ..Default::default() })];
    assert!(s.queue.enqueue_bulk(batch).await.is_err());
    assert_eq!(s.queue.counts().await.unwrap().waiting, 0);
}

#[tokio::test]
async fn bulk_enqueue_and_paged_listing_newest_first() {
    let s = setup().await;
    let jobs: Vec<NewJob> = (0..250).map(|i| NewJob::new("bulk", json!({ "i": i }))).collect();
    let ids = s.queue.enqueue_bulk(jobs).await.unwrap();
    assert_eq!(ids.len(), 250);
    assert_eq!(s.queue.counts().await.unwrap().waiting, 250);

    let page = s.queue.list_jobs(JobState::Waiting, 0, 100).await.unwrap();
    assert_eq!(page.total, 250);
    assert_eq!(page.jobs.len(), 100);
    assert_eq!(page.next, Some(100));
    assert_eq!(page.jobs[0].payload, json!({ "i": 249 }), "newest first");
    let last = s.queue.list_jobs(JobState::Waiting, 200, 100).await.unwrap();
    assert_eq!(last.jobs.len(), 50);
    assert_eq!(last.next, None);
    assert_eq!(last.jobs[49].payload, json!({ "i": 0 }));
}

#[tokio::test]
async fn delayed_jobs_promote_and_drain() {
    let s = setup().await;
    let later = JobOptions { delay: Some(Duration::from_secs(3600)), ..Default::default() };
    let a = s.queue.enqueue(job("a").with_options(later.clone())).await.unwrap();
    s.queue.enqueue(job("b").with_options(later)).await.unwrap();
    s.queue.enqueue(job("c")).await.unwrap();
    let counts = s.queue.counts().await.unwrap();
    assert_eq!((counts.delayed, counts.waiting), (2, 1));
    assert_eq!(s.queue.get_job(&a.id).await.unwrap().unwrap().state, JobState::Delayed);

    s.queue.promote(&a.id).await.unwrap();
    assert_eq!(s.queue.get_job(&a.id).await.unwrap().unwrap().state, JobState::Waiting);
    assert!(matches!(s.queue.promote(&a.id).await, Err(QueueError::WrongState { .. })));
    assert!(matches!(s.queue.promote("nope").await, Err(QueueError::NotFound { .. })));

    assert_eq!(s.queue.drain(false).await.unwrap(), 2);
    let counts = s.queue.counts().await.unwrap();
    assert_eq!((counts.waiting, counts.delayed), (0, 1));
    assert_eq!(s.queue.drain(true).await.unwrap(), 1);
    assert_eq!(s.queue.counts().await.unwrap(), Default::default());
    assert!(s.queue.get_job(&a.id).await.unwrap().is_none(), "drained jobs are deleted");
}

#[tokio::test]
async fn cancel_remove_and_obliterate() {
    let s = setup().await;
    let a = s.queue.enqueue(job("a")).await.unwrap();
    let b = s.queue.enqueue(job("b")).await.unwrap();
    assert_eq!(s.queue.cancel(&a.id).await.unwrap(), hoist_queue::CancelOutcome::Cancelled);
    assert_eq!(s.queue.get_job(&a.id).await.unwrap().unwrap().state, JobState::Cancelled);
    assert!(matches!(s.queue.cancel(&a.id).await, Err(QueueError::WrongState { .. })));
    assert!(matches!(s.queue.cancel("missing").await, Err(QueueError::NotFound { .. })));

    // A cancelled job can be retried.
    assert_eq!(s.queue.retry(JobState::Cancelled, std::slice::from_ref(&a.id)).await.unwrap(), 1);
    assert_eq!(s.queue.get_job(&a.id).await.unwrap().unwrap().state, JobState::Waiting);

    s.queue.remove(&b.id).await.unwrap();
    assert!(s.queue.get_job(&b.id).await.unwrap().is_none());
    assert!(matches!(s.queue.remove(&b.id).await, Err(QueueError::NotFound { .. })));

    s.queue.enqueue_bulk((0..2500).map(|i| NewJob::new("x", json!(i))).collect()).await.unwrap();
    let deleted = s.queue.obliterate(false).await.unwrap();
    assert_eq!(deleted, 2501);
    assert_eq!(s.queue.counts().await.unwrap(), Default::default());
    assert!(Queue::list_queues(&s.redis, "hoist").await.unwrap().is_empty());
}

#[tokio::test]
async fn pause_and_resume_are_recorded() {
    let s = setup().await;
    assert!(s.queue.pause().await.unwrap());
    assert!(!s.queue.pause().await.unwrap(), "already paused");
    assert!(s.queue.counts().await.unwrap().paused);
    assert!(s.queue.resume().await.unwrap());
    assert!(!s.queue.resume().await.unwrap());
    let events = s.queue.read_events(None, 10).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, vec!["paused", "resumed"]);
    // Reading after a position skips what came before.
    let after = s.queue.read_events(Some(&events[0].position), 10).await.unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].kind, "resumed");
}

#[tokio::test]
async fn a_bulk_enqueue_is_one_stream_entry_with_an_event_per_job() {
    use futures::StreamExt;
    let s = setup().await;
    let ids: Vec<String> = s
        .queue
        .enqueue_bulk((0..5).map(|i| NewJob::new("x", json!(i))).collect())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    let events = s.queue.read_events(None, 100).await.unwrap();
    assert_eq!(events.iter().map(|e| e.job_id.clone()).collect::<Vec<_>>(), ids);
    assert!(events.iter().all(|e| e.kind == "added" && e.fields["name"] == "x"));
    let positions: std::collections::HashSet<&str> = events.iter().map(|e| e.position.as_str()).collect();
    assert_eq!(positions.len(), 5, "every event has its own position");

    // Resuming from inside the entry yields exactly the events after that one.
    let rest = s.queue.read_events(Some(&events[1].position), 100).await.unwrap();
    assert_eq!(rest, events[2..].to_vec());
    let rest = s.queue.read_events(Some(&events[4].position), 100).await.unwrap();
    assert!(rest.is_empty());
    let first_two = s.queue.read_events(None, 2).await.unwrap();
    assert_eq!(first_two, events[..2].to_vec());

    let streamed: Vec<_> =
        s.queue.subscribe(Some(events[2].position.clone())).take(2).map(|e| e.unwrap()).collect().await;
    assert_eq!(streamed, events[3..].to_vec());
}

#[tokio::test]
async fn custom_events_join_the_stream_and_bad_kinds_are_refused() {
    let s = setup().await;
    s.queue.publish("sync.completed", "job-1", &[("accounts", "3".to_string())]).await.unwrap();
    let events = s.queue.read_events(None, 10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].kind.as_str(), events[0].job_id.as_str()), ("sync.completed", "job-1"));
    assert_eq!(events[0].fields["accounts"], "3");
    for kind in ["completed", "has space.x", ""] {
        assert!(matches!(s.queue.publish(kind, "", &[]).await, Err(QueueError::InvalidOption { field: "kind", .. })));
    }
    let reserved = s.queue.publish("a.b", "", &[("jobs", "x".into())]).await;
    assert!(matches!(reserved, Err(QueueError::InvalidOption { field: "fields", .. })));
}

/// Numbers at the edge of their types are refused by name or read as the end, never a
/// panic or an overflowed clock.
#[tokio::test]
async fn extreme_options_and_offsets_are_refused_or_clamped() {
    let s = setup().await;
    let huge = Duration::from_millis(u64::MAX);
    for (options, field) in [
        (JobOptions { delay: Some(huge), ..Default::default() }, "delay"),
        (JobOptions { timeout: Some(huge), ..Default::default() }, "timeout"),
        (JobOptions { backoff: Backoff::Fixed { delay: huge }, ..Default::default() }, "backoff"),
        (
            JobOptions {
                backoff: Backoff::Exponential { base: Duration::from_secs(1), cap: huge, jitter: 0.1 },
                ..Default::default()
            },
            "backoff",
        ),
    ] {
        match s.queue.enqueue(job("x").with_options(options)).await {
            Err(QueueError::InvalidOption { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    s.queue
        .enqueue(
            job("x").with_options(JobOptions { delay: Some(hoist_queue::MAX_OPTION_DURATION), ..Default::default() }),
        )
        .await
        .unwrap();
    let page = s.queue.list_jobs(JobState::Delayed, u64::MAX, 1000).await.unwrap();
    assert_eq!((page.jobs.len(), page.next, page.total), (0, None, 1));
}

/// Ids are used in key names: anything that is not a job id is an id no job has (`x:errors`
/// addressed a job's error list and failed with WRONGTYPE). Names with control or
/// invisible characters are refused by name.
#[tokio::test]
async fn foreign_ids_find_nothing_and_hidden_characters_are_refused() {
    let s = setup().await;
    let stored = s.queue.enqueue(job("a")).await.unwrap();
    s.queue.get_job(&stored.id).await.unwrap().expect("stored");
    for id in
        [format!("{}:errors", stored.id), format!("{}:logs", stored.id), "x:errors".into(), stored.id.to_lowercase()]
    {
        assert!(s.queue.get_job(&id).await.unwrap().is_none(), "{id}");
        assert!(matches!(s.queue.cancel(&id).await, Err(QueueError::NotFound { .. })), "{id}");
        assert!(matches!(s.queue.remove(&id).await, Err(QueueError::NotFound { .. })), "{id}");
        assert!(matches!(s.queue.promote(&id).await, Err(QueueError::NotFound { .. })), "{id}");
        assert_eq!(s.queue.remove_many(std::slice::from_ref(&id)).await.unwrap(), 0);
        assert_eq!(s.queue.requeue_dead(std::slice::from_ref(&id)).await.unwrap(), 0);
        assert!(s.queue.load_jobs(std::slice::from_ref(&id)).await.unwrap().is_empty());
    }
    assert_eq!(
        s.queue.get_job(&stored.id).await.unwrap().unwrap().state,
        JobState::Waiting,
        "the real job is untouched"
    );

    for name in ["a\0b", "line\nbreak", "zero\u{200B}width", "\u{202E}rtl", "\u{FEFF}bom"] {
        match s.queue.enqueue(job(name)).await {
            Err(QueueError::InvalidOption { field: "name", .. }) => {}
            other => panic!("{name:?}: {other:?}"),
        }
        assert!(Queue::new(&s.redis, name).is_err(), "queue name {name:?}");
    }
}

/// Regression: clean (the daily prune) deleted finished jobs the history store had not
/// copied yet (their history rows were lost), and clean-by-age on delayed jobs compared
/// the age with the run-at time, so it never matched.
#[tokio::test]
async fn clean_keeps_what_history_has_not_copied_and_ages_delayed_jobs_by_creation() {
    let s = setup().await;
    s.queue.set_archiving(true).await.unwrap();
    let ids: Vec<String> = s.queue.enqueue_bulk(vec![job("c"); 3]).await.unwrap().into_iter().map(|e| e.id).collect();
    for id in &ids {
        s.queue.cancel(id).await.unwrap();
    }
    assert_eq!(s.queue.clean(JobState::Cancelled, Duration::ZERO).await.unwrap(), 0, "none copied yet");
    assert_eq!(s.queue.counts().await.unwrap().cancelled, 3);
    let pending = s.queue.unarchived(10).await.unwrap();
    let copied: Vec<(String, i64)> =
        pending.iter().filter(|p| p.id == ids[0]).map(|p| (p.id.clone(), p.finished_at)).collect();
    assert_eq!(s.queue.mark_archived(&copied).await.unwrap(), 1);
    assert_eq!(s.queue.clean(JobState::Cancelled, Duration::ZERO).await.unwrap(), 1, "only the copied one");
    assert!(s.queue.get_job(&ids[0]).await.unwrap().is_none());
    assert!(s.queue.get_job(&ids[1]).await.unwrap().is_some());

    let later = || job("d").with_options(JobOptions { delay: Some(Duration::from_secs(3600)), ..Default::default() });
    let delayed = s.queue.enqueue(later()).await.unwrap().id;
    tokio::time::sleep(Duration::from_millis(30)).await;
    let fresh = s.queue.enqueue(later()).await.unwrap().id;
    assert_eq!(s.queue.clean(JobState::Delayed, Duration::from_secs(60)).await.unwrap(), 0, "none a minute old");
    assert_eq!(s.queue.clean(JobState::Delayed, Duration::from_millis(20)).await.unwrap(), 1);
    assert!(s.queue.get_job(&delayed).await.unwrap().is_none());
    assert!(s.queue.get_job(&fresh).await.unwrap().is_some());
}

/// Regression: purging the dead-letter queue checked each job's state before the deletion,
/// in another call; a job requeued in between was deleted.
#[tokio::test]
async fn removing_by_state_checks_the_state_in_the_same_step() {
    let s = setup().await;
    let waiting = s.queue.enqueue(job("w")).await.unwrap().id;
    let cancelled = s.queue.enqueue(job("c")).await.unwrap().id;
    s.queue.cancel(&cancelled).await.unwrap();
    let both = [waiting.clone(), cancelled.clone()];
    assert_eq!(s.queue.remove_in_state(&both, JobState::Dead).await.unwrap(), 0, "neither is dead");
    assert_eq!(s.queue.remove_in_state(&both, JobState::Cancelled).await.unwrap(), 1);
    assert!(s.queue.get_job(&cancelled).await.unwrap().is_none());
    assert_eq!(s.queue.get_job(&waiting).await.unwrap().unwrap().state, JobState::Waiting);
    assert!(matches!(
        s.queue.remove_in_state(&both, JobState::Active).await,
        Err(QueueError::InvalidOption { field: "state", .. })
    ));
}

/// Every time the engine records is Redis's, read in the script: a created_at from the
/// caller's clock could sit anywhere.
#[tokio::test]
async fn recorded_times_come_from_redis() {
    let s = setup().await;
    let before = s.queue.redis_time().await.unwrap();
    let id = s.queue.enqueue(job("t")).await.unwrap().id;
    let delayed = s
        .queue
        .enqueue(job("t").with_options(JobOptions { delay: Some(Duration::from_secs(10)), ..Default::default() }))
        .await
        .unwrap()
        .id;
    let after = s.queue.redis_time().await.unwrap();
    let created = s.queue.get_job(&id).await.unwrap().unwrap().created_at;
    assert!((before..=after).contains(&created), "{before} <= {created} <= {after}");
    let delayed = s.queue.get_job(&delayed).await.unwrap().unwrap();
    assert_eq!(delayed.run_at - delayed.created_at, 10_000, "the delay is counted from Redis's time");
}

/// A batch counts down to 0 for its last job; opening it again does not reset it; ids and
/// lifetimes out of bounds are refused by name.
#[tokio::test]
async fn batches_count_down_and_refuse_bad_ids() {
    let s = setup().await;
    let day = Duration::from_secs(86_400);
    assert!(s.queue.open_batch("import-1", 2, day).await.unwrap());
    assert!(!s.queue.open_batch("import-1", 5, day).await.unwrap(), "a retried fan-out does not reset it");
    assert_eq!(s.queue.count_down_batch("import-1").await.unwrap(), 1);
    assert_eq!(s.queue.count_down_batch("import-1").await.unwrap(), 0);
    assert!(s.queue.count_down_batch("never-opened").await.unwrap() < 0);
    for bad in ["", "a\nb", &"x".repeat(hoist_queue::MAX_BATCH_ID_BYTES + 1)] {
        assert!(matches!(s.queue.open_batch(bad, 1, day).await, Err(QueueError::InvalidOption { field: "batch", .. })));
    }
    for ttl in [Duration::ZERO, Duration::from_secs(31 * 86_400)] {
        assert!(matches!(s.queue.open_batch("b", 1, ttl).await, Err(QueueError::InvalidOption { field: "ttl", .. })));
    }
}

/// A history writer reads the next batch while earlier ones are still being written:
/// pages read after a cursor cover the archive set exactly once in its order, whether
/// the pages before were acknowledged meanwhile or not, and with many jobs ending in one
/// millisecond (members of one score are ordered by id).
#[tokio::test]
async fn archive_pages_after_a_cursor_cover_every_job_once() {
    let s = setup().await;
    s.queue.set_archiving(true).await.unwrap();
    let ids: Vec<String> = s.queue.enqueue_bulk(vec![job("c"); 60]).await.unwrap().into_iter().map(|e| e.id).collect();
    for id in &ids {
        s.queue.cancel(id).await.unwrap();
    }
    let all = s.queue.unarchived(1000).await.unwrap();
    assert_eq!(all.len(), 60);
    let order: Vec<(i64, String)> = all.iter().map(|u| (u.finished_at, u.id.clone())).collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted, "by finish time, then id");
    assert!(order.windows(2).any(|w| w[0].0 == w[1].0), "some jobs ended in one millisecond");

    let mut pages: Vec<(i64, String)> = vec![];
    let mut page = s.queue.unarchived(7).await.unwrap();
    let mut acknowledge = true;
    while let Some(last) = page.last().map(|u| (u.finished_at, u.id.clone())) {
        pages.extend(page.iter().map(|u| (u.finished_at, u.id.clone())));
        // Every other page is acknowledged before the next read, as a writer's would be.
        if acknowledge {
            let copied: Vec<(String, i64)> = page.iter().map(|u| (u.id.clone(), u.finished_at)).collect();
            assert_eq!(s.queue.mark_archived(&copied).await.unwrap(), copied.len() as u64);
        }
        acknowledge = !acknowledge;
        page = s.queue.unarchived_after(last.0, &last.1, 7).await.unwrap();
    }
    assert_eq!(pages, order, "each job once, in order");
}

/// While a history store is on, every job added or retried is listed for its search
/// index, with Redis's time before the read; acknowledging clears an entry unless it was
/// listed again since; turning the store off forgets the set.
#[tokio::test]
async fn added_and_retried_jobs_are_listed_for_the_search_index() {
    let s = setup().await;
    s.queue.enqueue(job("before")).await.unwrap();
    assert!(
        s.queue.unindexed(100, std::time::Duration::ZERO).await.unwrap().listed.is_empty(),
        "nothing is listed while history is off"
    );
    s.queue.set_archiving(true).await.unwrap();
    let ids: Vec<String> = s.queue.enqueue_bulk(vec![job("a"); 5]).await.unwrap().into_iter().map(|e| e.id).collect();
    // Entries of the current millisecond wait for the next read.
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let page = s.queue.unindexed(100, std::time::Duration::ZERO).await.unwrap();
    let mut listed: Vec<&String> = page.listed.iter().map(|(id, _)| id).collect();
    listed.sort();
    let mut added: Vec<&String> = ids.iter().collect();
    added.sort();
    assert_eq!(listed, added);
    assert_eq!(page.jobs.len(), 5);
    assert!(page.listed.iter().all(|(_, at)| *at < page.seen_at), "read after they were listed");
    assert!(page.jobs.iter().all(|j| j.state == JobState::Waiting && j.name == "a"));
    assert_eq!(s.queue.unindexed(2, std::time::Duration::ZERO).await.unwrap().listed.len(), 2, "limit");

    // A job changed after the read is listed again when the read is acknowledged.
    s.queue.cancel(&ids[0]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    s.queue.retry(JobState::Cancelled, &[ids[0].clone()]).await.unwrap();
    // An acknowledgement of what is no longer the list's start (another index took it)
    // trims nothing.
    assert_eq!(s.queue.mark_indexed(&page.listed[1..]).await.unwrap(), 0);
    assert_eq!(s.queue.mark_indexed(&page.listed).await.unwrap(), 5);
    assert_eq!(s.queue.mark_indexed(&page.listed).await.unwrap(), 0, "acknowledged once");
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let again = s.queue.unindexed(100, std::time::Duration::ZERO).await.unwrap();
    assert_eq!(again.listed.iter().map(|(id, _)| id).collect::<Vec<_>>(), [&ids[0]]);
    assert_eq!(again.jobs[0].state, JobState::Waiting);

    s.queue.set_archiving(false).await.unwrap();
    assert!(
        s.queue.unindexed(100, std::time::Duration::ZERO).await.unwrap().listed.is_empty(),
        "turning history off forgets the set"
    );
}
