//! The owner index (`Queue::list_owned`: an owner's jobs without reading anyone else's)
//! and dedup scopes, against a real Redis.

mod common;

use std::time::Duration;

use common::{eventually, fast_options, setup, spawn_worker, wait_for_state};
use hoist_queue::{
    CancelOutcome, DedupScope, Enqueued, JobError, JobOptions, JobState, NewJob, Queue, QueueConfig, QueueError,
    Retention, handler_fn,
};
use serde_json::json;

fn owned(owner: &str, i: usize) -> NewJob {
    NewJob::new("sync", json!({ "i": i })).with_options(JobOptions { owner: Some(owner.into()), ..Default::default() })
}

fn owned_later(owner: &str, i: usize) -> NewJob {
    let mut job = owned(owner, i);
    job.options.delay = Some(Duration::from_secs(3600));
    job
}

fn ids(enqueued: &[Enqueued]) -> Vec<String> {
    enqueued.iter().map(|e| e.id.clone()).collect()
}

/// Every page of `owner`'s jobs in `states`, `limit` at a time: the ids in order, and the
/// totals each page reported.
async fn all_pages(queue: &Queue, owner: &str, states: &[JobState], limit: u64) -> (Vec<String>, Vec<u64>) {
    let (mut listed, mut totals, mut cursor) = (vec![], vec![], 0);
    loop {
        let page = queue.list_owned(owner, states, cursor, limit).await.unwrap();
        assert!(page.jobs.len() as u64 <= limit);
        for job in &page.jobs {
            assert_eq!(job.owner.as_deref(), Some(owner));
            assert!(states.is_empty() || states.contains(&job.state), "{} is {}", job.id, job.state);
        }
        listed.extend(page.jobs.iter().map(|j| j.id.clone()));
        totals.push(page.total);
        match page.next {
            Some(next) => {
                assert!(next > cursor, "the cursor moves on");
                cursor = next;
            }
            None => return (listed, totals),
        }
    }
}

fn owner_index_key(queue: &Queue, tag: &str) -> String {
    format!("hoist:{{{}}}:owner:{tag}", queue.name())
}

async fn exists(s: &common::Setup, key: &str) -> bool {
    let n: i64 = s.redis.query(redis::cmd("EXISTS").arg(key)).await.unwrap();
    n == 1
}

#[tokio::test]
async fn owned_jobs_list_newest_first_by_state_with_paging_and_total() {
    let s = setup().await;
    // Interleaved with another owner's and unowned jobs, in two calls.
    let mut batch = vec![];
    for i in 0..30 {
        batch.push(if i % 3 == 2 { owned_later("42", i) } else { owned("42", i) });
        batch.push(owned("7", i));
        batch.push(NewJob::new("sync", json!({ "i": i })));
    }
    let first = s.queue.enqueue_bulk(batch).await.unwrap();
    let second = s.queue.enqueue_bulk((30..35).map(|i| owned("42", i)).collect()).await.unwrap();
    let mine: Vec<String> = first.iter().step_by(3).map(|e| e.id.clone()).chain(ids(&second)).collect();
    let newest_first: Vec<String> = mine.iter().rev().cloned().collect();
    // Five of the waiting ones cancelled.
    let cancelled: Vec<String> =
        vec![mine[0].clone(), mine[3].clone(), mine[6].clone(), mine[31].clone(), mine[34].clone()];
    for id in &cancelled {
        assert_eq!(s.queue.cancel(id).await.unwrap(), CancelOutcome::Cancelled);
    }
    let state_of = |i: usize| {
        if cancelled.contains(&mine[i]) {
            JobState::Cancelled
        } else if i < 30 && i % 3 == 2 {
            JobState::Delayed
        } else {
            JobState::Waiting
        }
    };
    let expect = |states: &[JobState]| -> Vec<String> {
        (0..mine.len()).rev().filter(|&i| states.contains(&state_of(i))).map(|i| mine[i].clone()).collect()
    };

    // Every state: the index itself.
    let page = s.queue.list_owned("42", &[], 0, 10).await.unwrap();
    assert_eq!((page.total, page.jobs.len(), page.next), (35, 10, Some(10)));
    assert_eq!(page.jobs[0].id, mine[34], "newest first");
    assert_eq!(page.jobs[0].payload, json!({ "i": 34 }));
    let (listed, totals) = all_pages(&s.queue, "42", &[], 10).await;
    assert_eq!(listed, newest_first);
    assert!(totals.iter().all(|t| *t == 35));
    assert_eq!(s.queue.count_owned("42").await.unwrap(), 35);
    // Naming every state is the same.
    assert_eq!(all_pages(&s.queue, "42", &JobState::ALL, 7).await.0, newest_first);

    // One state, and several, paged in sizes that do and do not divide the total.
    for (states, limit) in [
        (vec![JobState::Waiting], 4),
        (vec![JobState::Waiting], 18),
        (vec![JobState::Delayed], 3),
        (vec![JobState::Delayed, JobState::Cancelled], 6),
        (vec![JobState::Cancelled], 1000),
    ] {
        let want = expect(&states);
        let (listed, totals) = all_pages(&s.queue, "42", &states, limit).await;
        assert_eq!(listed, want, "{states:?} by {limit}");
        assert!(totals.iter().all(|t| *t == want.len() as u64), "{states:?}: totals {totals:?}");
    }
    assert_eq!(expect(&[JobState::Waiting]).len(), 20);
    assert_eq!(expect(&[JobState::Delayed]).len(), 10);

    // A state none of them is in: an empty page, no next.
    let none = s.queue.list_owned("42", &[JobState::Completed, JobState::Active], 0, 10).await.unwrap();
    assert_eq!((none.jobs.len(), none.total, none.next), (0, 0, None));
    // A cursor past the end.
    let past = s.queue.list_owned("42", &[JobState::Waiting], 1000, 10).await.unwrap();
    assert_eq!((past.jobs.len(), past.total, past.next), (0, 20, None));
    let past = s.queue.list_owned("42", &[], 1000, 10).await.unwrap();
    assert_eq!((past.jobs.len(), past.total, past.next), (0, 35, None));
    for cursor in [u64::MAX, u64::MAX / 2, i64::MAX as u64 + 1] {
        let past = s.queue.list_owned("42", &[], cursor, 10).await.unwrap();
        assert_eq!((past.jobs.len(), past.total, past.next), (0, 35, None), "{cursor}");
    }
    // The state filter's page starts at the cursor it was given.
    let waiting = expect(&[JobState::Waiting]);
    let one = s.queue.list_owned("42", &[JobState::Waiting], 0, 1).await.unwrap();
    let two = s.queue.list_owned("42", &[JobState::Waiting], one.next.unwrap(), 1).await.unwrap();
    assert_eq!((one.jobs[0].id.as_str(), two.jobs[0].id.as_str()), (waiting[0].as_str(), waiting[1].as_str()));

    // An unknown owner has nothing, and no key.
    let nobody = s.queue.list_owned("nobody", &[], 0, 10).await.unwrap();
    assert_eq!((nobody.jobs.len(), nobody.total, nobody.next), (0, 0, None));
    assert!(matches!(s.queue.list_owned("", &[], 0, 10).await, Err(QueueError::InvalidOption { field: "owner", .. })));
    assert!(matches!(
        s.queue.list_owned(&"x".repeat(201), &[], 0, 10).await,
        Err(QueueError::InvalidOption { field: "owner", .. })
    ));
}

#[tokio::test]
async fn owners_do_not_see_each_others_jobs() {
    let s = setup().await;
    // Owners whose names are prefixes of each other, or what another's escaping looks like.
    let owners = ["4", "42", "a b", "a%20b", "{x}", "%7Bx%7D", "ü", "user:42"];
    let mut jobs = vec![];
    for (n, owner) in owners.iter().enumerate() {
        for i in 0..=n {
            jobs.push(owned(owner, i));
        }
    }
    let enqueued = s.queue.enqueue_bulk(jobs).await.unwrap();
    let mut at = 0;
    for (n, owner) in owners.iter().enumerate() {
        let theirs: Vec<String> = enqueued[at..at + n + 1].iter().rev().map(|e| e.id.clone()).collect();
        at += n + 1;
        let page = s.queue.list_owned(owner, &[], 0, 100).await.unwrap();
        assert_eq!(page.jobs.iter().map(|j| j.id.clone()).collect::<Vec<_>>(), theirs, "{owner}");
        assert_eq!(page.total, n as u64 + 1, "{owner}");
        assert!(page.jobs.iter().all(|j| j.owner.as_deref() == Some(*owner)));
        let waiting = s.queue.list_owned(owner, &[JobState::Waiting], 0, 100).await.unwrap();
        assert_eq!(waiting.total, n as u64 + 1, "{owner}");
        assert_eq!(s.queue.count_owned(owner).await.unwrap(), n as u64 + 1);
    }
    // Every index lives in the queue's hash slot, under a name without braces of its own.
    let keys = s.server.keys("hoist:*owner:*");
    assert_eq!(keys.len(), owners.len(), "{keys:?}");
    for key in &keys {
        assert!(key.starts_with("hoist:{tests}:owner:"), "{key}");
        assert!(!key["hoist:{tests}:".len()..].contains(['{', '}', ' ']), "{key}");
    }
    assert!(keys.contains(&owner_index_key(&s.queue, "a%20b")));
    assert!(keys.contains(&owner_index_key(&s.queue, "a%2520b")));
    assert!(keys.contains(&owner_index_key(&s.queue, "%7Bx%7D")));
    assert!(keys.contains(&owner_index_key(&s.queue, "%257Bx%257D")));
    // Another queue's jobs of the same owner are that queue's.
    let other = Queue::new(&s.redis, "other").unwrap();
    other.enqueue(owned("42", 0)).await.unwrap();
    assert_eq!(s.queue.count_owned("42").await.unwrap(), 2);
    assert_eq!(other.list_owned("42", &[], 0, 10).await.unwrap().total, 1);
}

#[tokio::test]
async fn a_job_without_owner_creates_no_index() {
    let s = setup().await;
    s.queue.enqueue_bulk((0..20).map(|i| NewJob::new("plain", json!(i))).collect()).await.unwrap();
    s.queue
        .enqueue(NewJob::new("later", json!({})).with_options(JobOptions {
            delay: Some(Duration::from_secs(60)),
            dedup_key: Some("k".into()),
            ..Default::default()
        }))
        .await
        .unwrap();
    assert!(s.server.keys("hoist:*owner*").is_empty(), "{:?}", s.server.keys("*"));
    assert!(!exists(&s, &format!("hoist:{{{}}}:owners", s.queue.name())).await);
    assert_eq!(s.queue.drain(true).await.unwrap(), 21);
    assert!(s.server.keys("hoist:*owner*").is_empty());
}

#[tokio::test]
async fn index_entries_go_when_their_jobs_are_deleted() {
    let s = setup().await;
    let owners_hash = format!("hoist:{{{}}}:owners", s.queue.name());
    let index = owner_index_key(&s.queue, "42");
    let count = || async { s.queue.count_owned("42").await.unwrap() };

    // remove and remove_many.
    let a = ids(&s.queue.enqueue_bulk((0..6).map(|i| owned("42", i)).collect()).await.unwrap());
    s.queue.enqueue(NewJob::new("plain", json!({}))).await.unwrap();
    assert_eq!(count().await, 6);
    s.queue.remove(&a[0]).await.unwrap();
    assert_eq!(count().await, 5);
    assert_eq!(s.queue.remove_many(&a[1..3]).await.unwrap(), 2);
    assert_eq!(count().await, 3);
    let listed: Vec<String> =
        s.queue.list_owned("42", &[], 0, 10).await.unwrap().jobs.into_iter().map(|j| j.id).collect();
    assert_eq!(listed, vec![a[5].clone(), a[4].clone(), a[3].clone()]);

    // clean (cancelled, by age) and drain (waiting, then delayed).
    s.queue.cancel(&a[3]).await.unwrap();
    assert_eq!(s.queue.clean(JobState::Cancelled, Duration::ZERO).await.unwrap(), 1);
    assert_eq!(count().await, 2);
    s.queue.enqueue_bulk((0..3).map(|i| owned_later("42", i)).collect()).await.unwrap();
    assert_eq!(count().await, 5);
    assert_eq!(s.queue.drain(false).await.unwrap(), 3, "two owned and one plain waiting");
    assert_eq!(count().await, 3);
    assert_eq!(s.queue.list_owned("42", &[JobState::Delayed], 0, 10).await.unwrap().total, 3);
    assert_eq!(s.queue.drain(true).await.unwrap(), 3);
    assert_eq!(count().await, 0);
    assert!(!exists(&s, &index).await, "an empty index is deleted");
    assert!(!exists(&s, &owners_hash).await);

    // obliterate, over several batches and owners.
    let many: Vec<NewJob> = (0..2500).map(|i| owned(if i % 2 == 0 { "42" } else { "7" }, i)).collect();
    s.queue.enqueue_bulk(many).await.unwrap();
    assert_eq!((count().await, s.queue.count_owned("7").await.unwrap()), (1250, 1250));
    assert_eq!(s.queue.obliterate(false).await.unwrap(), 2500);
    assert_eq!((count().await, s.queue.count_owned("7").await.unwrap()), (0, 0));
    assert!(s.server.keys("hoist:*owner*").is_empty(), "{:?}", s.server.keys("hoist:*owner*"));
    assert_eq!(s.server.dbsize(), 0, "{:?}", s.server.keys("*"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_drops_finished_jobs_from_the_index_and_states_follow_the_jobs() {
    let s = setup().await;
    let config = QueueConfig {
        completed: Retention { max_count: Some(3), max_age: None },
        dead: Retention { max_count: Some(2), max_age: None },
        ..QueueConfig::default()
    };
    let queue = Queue::with_config(&s.redis, "kept", config).unwrap();
    let worker = spawn_worker(
        &queue,
        handler_fn(|ctx| async move {
            match ctx.job().payload["do"].as_str() {
                Some("hold") => {
                    ctx.cancellation().cancelled().await;
                    Ok(json!("stopped"))
                }
                Some("fail") => Err(JobError::permanent("no")),
                _ => Ok(json!("ok")),
            }
        }),
        fast_options(),
    );
    let job = |what: &str, owner: Option<&str>| {
        NewJob::new("n", json!({ "do": what }))
            .with_options(JobOptions { owner: owner.map(str::to_string), ..Default::default() })
    };
    let hold = queue.enqueue(job("hold", Some("42"))).await.unwrap();
    let mut batch: Vec<NewJob> = (0..10).map(|_| job("ok", Some("42"))).collect();
    batch.extend((0..4).map(|_| job("fail", Some("42"))));
    batch.extend((0..5).map(|_| job("ok", None)));
    batch.extend((0..3).map(|_| job("ok", Some("7"))));
    let rest = ids(&queue.enqueue_bulk(batch).await.unwrap());
    wait_for_state(&queue, &hold.id, JobState::Active).await;
    eventually("all but the held job finished", Duration::from_secs(20), || async {
        let c = queue.counts().await.unwrap();
        (c.waiting == 0 && c.active == 1 && c.completed == 3 && c.dead == 2).then_some(())
    })
    .await;
    // Whatever retention deleted left the index with it.
    let kept: Vec<String> = queue.list_owned("42", &[], 0, 100).await.unwrap().jobs.into_iter().map(|j| j.id).collect();
    let completed = queue.list_jobs(JobState::Completed, 0, 10).await.unwrap().jobs;
    let dead = queue.list_jobs(JobState::Dead, 0, 10).await.unwrap().jobs;
    let still: Vec<&String> = std::iter::once(&hold.id)
        .chain(completed.iter().chain(&dead).filter(|j| j.owner.as_deref() == Some("42")).map(|j| &j.id))
        .collect();
    assert_eq!(kept.len(), still.len(), "{kept:?} vs {still:?}");
    assert!(still.iter().all(|id| kept.contains(id)));
    assert_eq!(queue.count_owned("42").await.unwrap() as usize, still.len());
    assert_eq!(
        queue.count_owned("7").await.unwrap() as usize,
        completed.iter().filter(|j| j.owner.as_deref() == Some("7")).count()
    );
    // Deleted by retention: the oldest jobs, which are gone from Redis.
    assert!(queue.get_job(&rest[0]).await.unwrap().is_none());
    // States as they are now.
    let active = queue.list_owned("42", &[JobState::Active], 0, 10).await.unwrap();
    assert_eq!((active.total, active.jobs[0].id.as_str()), (1, hold.id.as_str()));
    let dead_mine = queue.list_owned("42", &[JobState::Dead], 0, 10).await.unwrap();
    assert_eq!(dead_mine.total, 2, "the last two dead jobs are the owner's");
    let finished = queue.list_owned("42", &[JobState::Completed, JobState::Dead], 0, 10).await.unwrap();
    assert_eq!(finished.total as usize, still.len() - 1);

    // The held job is cancelled; then nothing of the owner is unfinished.
    assert_eq!(queue.cancel(&hold.id).await.unwrap(), CancelOutcome::Requested);
    wait_for_state(&queue, &hold.id, JobState::Cancelled).await;
    let unfinished = [JobState::Waiting, JobState::Delayed, JobState::Retrying, JobState::Active];
    assert_eq!(queue.list_owned("42", &unfinished, 0, 10).await.unwrap().total, 0);
    assert_eq!(queue.list_owned("42", &[JobState::Cancelled], 0, 10).await.unwrap().total, 1);
    worker.stop().await;

    // Retention by age drops them too.
    let aged = QueueConfig {
        completed: Retention { max_count: None, max_age: Some(Duration::from_millis(200)) },
        ..QueueConfig::default()
    };
    let queue = Queue::with_config(&s.redis, "aged", aged).unwrap();
    let worker = spawn_worker(&queue, handler_fn(|_| async { Ok(json!("ok")) }), fast_options());
    let first = queue.enqueue(job("ok", Some("42"))).await.unwrap();
    wait_for_state(&queue, &first.id, JobState::Completed).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = queue.enqueue(job("ok", Some("42"))).await.unwrap();
    wait_for_state(&queue, &second.id, JobState::Completed).await;
    eventually("the first aged out", Duration::from_secs(5), || async {
        queue.get_job(&first.id).await.unwrap().is_none().then_some(())
    })
    .await;
    let left: Vec<String> = queue.list_owned("42", &[], 0, 10).await.unwrap().jobs.into_iter().map(|j| j.id).collect();
    assert!(!left.contains(&first.id), "{left:?}");
    worker.stop().await;
}

fn keyed(key: &str, scope: DedupScope, n: i64) -> NewJob {
    NewJob::new("sync-now", json!({ "n": n })).with_options(JobOptions {
        dedup_key: Some(key.into()),
        dedup_scope: scope,
        owner: Some("42".into()),
        ..Default::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unfinished_scope_frees_the_key_once_its_job_finishes() {
    let s = setup().await;
    let unfinished = |n| keyed("sync:42", DedupScope::Unfinished, n);
    let first = s.queue.enqueue(unfinished(1)).await.unwrap();
    assert!(!first.duplicate);
    // While it waits (or is delayed, or runs), the key holds.
    let second = s.queue.enqueue(unfinished(2)).await.unwrap();
    assert_eq!((second.duplicate, second.id.as_str()), (true, first.id.as_str()));
    let bulk = s.queue.enqueue_bulk(vec![unfinished(3), unfinished(4)]).await.unwrap();
    assert!(bulk.iter().all(|e| e.duplicate && e.id == first.id));

    let worker = spawn_worker(&s.queue, handler_fn(|_| async { Ok(json!("synced")) }), fast_options());
    wait_for_state(&s.queue, &first.id, JobState::Completed).await;
    worker.stop().await;

    // Completed: the next enqueue adds a job, which holds the key from now on.
    let third = s.queue.enqueue(unfinished(5)).await.unwrap();
    assert!(!third.duplicate);
    assert_ne!(third.id, first.id);
    let fourth = s.queue.enqueue(unfinished(6)).await.unwrap();
    assert_eq!((fourth.duplicate, fourth.id.as_str()), (true, third.id.as_str()));
    // The finished job is still there, and a retained-scope enqueue sees the new holder.
    assert_eq!(s.queue.get_job(&first.id).await.unwrap().unwrap().state, JobState::Completed);
    let retained = s.queue.enqueue(keyed("sync:42", DedupScope::Retained, 7)).await.unwrap();
    assert_eq!((retained.duplicate, retained.id.as_str()), (true, third.id.as_str()));

    // Cancelled (and delayed before that) the same way; within one batch the first job
    // takes the key and the second sees it held.
    let mut delayed = unfinished(8);
    delayed.options.delay = Some(Duration::from_secs(3600));
    s.queue.cancel(&third.id).await.unwrap();
    let batch = s.queue.enqueue_bulk(vec![delayed, unfinished(9)]).await.unwrap();
    assert!(!batch[0].duplicate && batch[1].duplicate && batch[1].id == batch[0].id);
    assert_eq!(s.queue.get_job(&batch[0].id).await.unwrap().unwrap().state, JobState::Delayed);

    // Dead too.
    s.queue.cancel(&batch[0].id).await.unwrap();
    let mut once = unfinished(10);
    once.options.max_attempts = 1;
    let doomed = s.queue.enqueue(once).await.unwrap();
    assert!(!doomed.duplicate);
    let worker = spawn_worker(
        &s.queue,
        handler_fn(|_| async { Err::<serde_json::Value, _>(JobError::permanent("no")) }),
        fast_options(),
    );
    wait_for_state(&s.queue, &doomed.id, JobState::Dead).await;
    worker.stop().await;
    let after_dead = s.queue.enqueue(unfinished(11)).await.unwrap();
    assert!(!after_dead.duplicate);

    // Deleting every job leaves nothing behind in the dedup index, handed-over keys
    // included, nor in the owner's.
    let all = [&first, &third, &batch[0], &doomed, &after_dead].map(|e| e.id.clone());
    assert_eq!(s.queue.count_owned("42").await.unwrap(), 5);
    assert_eq!(s.queue.remove_many(&all).await.unwrap(), 5);
    let dedup_key = format!("hoist:{{{}}}:dedup", s.queue.name());
    let left: i64 = s.redis.query(redis::cmd("HLEN").arg(&dedup_key)).await.unwrap();
    assert_eq!(left, 0);
    assert_eq!(s.queue.count_owned("42").await.unwrap(), 0);
    assert!(s.server.keys("hoist:*owner*").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retained_key_holds_after_its_job_finished_until_it_is_deleted() {
    let s = setup().await;
    let retained = |n| keyed("daily:42", DedupScope::Retained, n);
    let first = s.queue.enqueue(retained(1)).await.unwrap();
    let worker = spawn_worker(&s.queue, handler_fn(|_| async { Ok(json!("done")) }), fast_options());
    wait_for_state(&s.queue, &first.id, JobState::Completed).await;
    worker.stop().await;
    let again = s.queue.enqueue(retained(2)).await.unwrap();
    assert_eq!((again.duplicate, again.id.as_str()), (true, first.id.as_str()));
    // The default is the retained scope.
    let mut plain = retained(3);
    plain.options = JobOptions { dedup_key: Some("daily:42".into()), ..Default::default() };
    assert_eq!(plain.options.dedup_scope, DedupScope::Retained);
    assert!(s.queue.enqueue(plain).await.unwrap().duplicate);
    // An unfinished-scope enqueue takes over a finished holder even of a retained key.
    let taken = s.queue.enqueue(keyed("daily:42", DedupScope::Unfinished, 4)).await.unwrap();
    assert!(!taken.duplicate);
    // Once deleted, the key is free for a retained enqueue as before.
    s.queue.remove(&taken.id).await.unwrap();
    s.queue.remove(&first.id).await.unwrap();
    assert!(!s.queue.enqueue(retained(5)).await.unwrap().duplicate);
}
