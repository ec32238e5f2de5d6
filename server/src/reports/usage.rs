//! The usage report: jobs per queue and name, per owner, and the busiest hours.

use std::collections::HashMap;

use app::reports::{HourCount, JobCounts, JobNameUsage, MAX_REPORT_OWNERS, MAX_REPORT_ROWS, OwnerUsage, UsageReport};
use futures::TryStreamExt;

use super::Period;
use super::ended_jobs::{EndedJob, ended_jobs, enqueued_by_job, enqueued_by_owner};
use crate::db::Db;

/// Distinct queue/name pairs and owners counted one by one; past these, jobs are added
/// to the report's totals (and queue/name pairs to "other") but not listed, which bounds
/// the memory a report takes whatever the history holds.
pub const MAX_TRACKED_JOB_NAMES: usize = 10_000;
pub const MAX_TRACKED_OWNERS: usize = 100_000;

const HOUR_MS: i64 = 3_600_000;

fn count_ended(counts: &mut JobCounts, job: &EndedJob) {
    match job.status.as_str() {
        "completed" => counts.completed += 1,
        "dead" => counts.dead += 1,
        "cancelled" => counts.cancelled += 1,
        "expired" => counts.expired += 1,
        _ => {}
    }
    counts.failed += job.failures;
    counts.retried += job.retried();
}

/// Adds to `key`'s counts, unless the map is full and the key new: then `false`.
fn tally<K: std::hash::Hash + Eq>(
    map: &mut HashMap<K, JobCounts>,
    key: K,
    limit: usize,
    add: impl FnOnce(&mut JobCounts),
) -> bool {
    if map.len() >= limit && !map.contains_key(&key) {
        return false;
    }
    add(map.entry(key).or_default());
    true
}

pub async fn usage(db: &Db, period: Period) -> Result<UsageReport, sqlx::Error> {
    let mut totals = JobCounts::default();
    let mut by_job: HashMap<(String, String), JobCounts> = HashMap::new();
    let mut other = JobCounts::default();
    let mut by_owner: HashMap<String, JobCounts> = HashMap::new();
    let mut hours: HashMap<i64, u64> = HashMap::new();
    let mut by_hour_of_day = vec![0u64; 24];

    let mut groups = std::pin::pin!(enqueued_by_job(db, period));
    while let Some((queue, name, enqueued)) = groups.try_next().await? {
        totals.enqueued += enqueued;
        if !tally(&mut by_job, (queue, name), MAX_TRACKED_JOB_NAMES, |c| c.enqueued += enqueued) {
            other.enqueued += enqueued;
        }
    }
    // Owners past the cap are still counted in `owners` (distinct per group row).
    let mut untracked_owners = 0u64;
    let mut owner_groups = std::pin::pin!(enqueued_by_owner(db, period));
    while let Some((owner, enqueued)) = owner_groups.try_next().await? {
        if !tally(&mut by_owner, owner, MAX_TRACKED_OWNERS, |c| c.enqueued += enqueued) {
            untracked_owners += 1;
        }
    }
    let mut jobs = std::pin::pin!(ended_jobs(db, period));
    while let Some(job) = jobs.try_next().await? {
        count_ended(&mut totals, &job);
        let hour = job.finished_at.div_euclid(HOUR_MS) * HOUR_MS;
        *hours.entry(hour).or_default() += 1;
        by_hour_of_day[(job.finished_at.div_euclid(HOUR_MS).rem_euclid(24)) as usize] += 1;
        if let Some(owner) = &job.owner {
            tally(&mut by_owner, owner.clone(), MAX_TRACKED_OWNERS, |c| count_ended(c, &job));
        }
        if !tally(&mut by_job, (job.queue.clone(), job.name.clone()), MAX_TRACKED_JOB_NAMES, |c| count_ended(c, &job)) {
            count_ended(&mut other, &job);
        }
    }

    let volume = |c: &JobCounts| c.enqueued + c.ended();
    let mut jobs: Vec<JobNameUsage> =
        by_job.into_iter().map(|((queue, name), counts)| JobNameUsage { queue, name, counts }).collect();
    jobs.sort_by(|a, b| {
        volume(&b.counts).cmp(&volume(&a.counts)).then_with(|| (&a.queue, &a.name).cmp(&(&b.queue, &b.name)))
    });
    for past in jobs.drain(jobs.len().min(MAX_REPORT_ROWS)..) {
        other.add(&past.counts);
    }
    let owners = by_owner.len() as u64 + untracked_owners;
    let mut owners_listed: Vec<OwnerUsage> =
        by_owner.into_iter().map(|(owner, counts)| OwnerUsage { owner, counts }).collect();
    owners_listed.sort_by(|a, b| volume(&b.counts).cmp(&volume(&a.counts)).then_with(|| a.owner.cmp(&b.owner)));
    owners_listed.truncate(MAX_REPORT_OWNERS);
    let mut busiest: Vec<HourCount> = hours.into_iter().map(|(hour, ended)| HourCount { hour, ended }).collect();
    busiest.sort_by(|a, b| b.ended.cmp(&a.ended).then(a.hour.cmp(&b.hour)));
    busiest.truncate(10);

    Ok(UsageReport {
        totals,
        by_job: jobs,
        other_jobs: (other != JobCounts::default()).then_some(other),
        by_owner: owners_listed,
        owners,
        busiest_hours: busiest,
        by_hour_of_day,
    })
}
