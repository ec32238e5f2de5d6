//! The performance report: throughput over time, wait and run time percentiles per queue
//! and job name, the slowest jobs, stalls.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use app::reports::{
    JobNameTimings, MAX_REPORT_ROWS, MAX_SLOWEST_JOBS, Percentiles, PerformanceReport, SlowJob, ThroughputSlot,
};
use futures::TryStreamExt;
use hdrhistogram::Histogram;

use super::Period;
use super::ended_jobs::ended_jobs;
use crate::db::Db;

/// Queue/name pairs timed one by one (two histograms each, up to ~150 KB once they hold
/// durations from milliseconds to hours); past it, jobs are timed in the totals only.
pub const MAX_TIMED_JOB_NAMES: usize = 1_000;

/// Periods up to this long are charted by the hour, longer ones by the day.
pub const HOURLY_UP_TO_MS: i64 = 3 * 86_400_000;

/// Durations to three significant figures (exact below 2,048 ms), any length.
fn histogram() -> Histogram<u64> {
    Histogram::new(3).expect("3 significant figures is a valid precision")
}

fn percentiles(histogram: &Histogram<u64>) -> Percentiles {
    if histogram.is_empty() {
        return Percentiles::default();
    }
    let at = |q: f64| Some(histogram.value_at_quantile(q));
    Percentiles { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: Some(histogram.max()) }
}

#[derive(Default)]
struct Timings {
    runs: u64,
    wait: Option<Histogram<u64>>,
    run: Option<Histogram<u64>>,
    stalls: u64,
    lost_to_stalls: u64,
}

fn record(histogram: &mut Option<Histogram<u64>>, value: u64) {
    histogram.get_or_insert_with(self::histogram).saturating_record(value);
}

/// A slow job ordered by its run time (then id, so ties are decided the same each time).
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Slow(u64, Reverse<(String, String)>, String, String, i64);

pub async fn performance(db: &Db, period: Period) -> Result<PerformanceReport, sqlx::Error> {
    let slot_ms = if period.to - period.from <= HOURLY_UP_TO_MS { 3_600_000 } else { 86_400_000 };
    let slots = ((period.to - period.from) / slot_ms).max(1) as usize;
    let mut throughput: Vec<ThroughputSlot> =
        (0..slots).map(|i| ThroughputSlot { at: period.from + i as i64 * slot_ms, completed: 0, dead: 0 }).collect();
    let (mut wait_all, mut run_all) = (histogram(), histogram());
    let mut by_job: HashMap<(String, String), Timings> = HashMap::new();
    let mut other = Timings::default();
    // The slowest so far, the fastest of them on top, to be pushed out.
    let mut slowest: BinaryHeap<Reverse<Slow>> = BinaryHeap::new();
    let (mut stalls, mut lost_to_stalls) = (0, 0);

    let mut jobs = std::pin::pin!(ended_jobs(db, period));
    while let Some(job) = jobs.try_next().await? {
        let slot = ((job.finished_at - period.from) / slot_ms).clamp(0, slots as i64 - 1) as usize;
        match job.status.as_str() {
            "completed" => throughput[slot].completed += 1,
            "dead" => throughput[slot].dead += 1,
            _ => {}
        }
        stalls += job.stalls;
        lost_to_stalls += u64::from(job.lost_to_stall());
        let key = (job.queue.clone(), job.name.clone());
        let timings = if by_job.len() < MAX_TIMED_JOB_NAMES || by_job.contains_key(&key) {
            by_job.entry(key).or_default()
        } else {
            &mut other
        };
        timings.stalls += job.stalls;
        timings.lost_to_stalls += u64::from(job.lost_to_stall());
        if !matches!(job.status.as_str(), "completed" | "dead") {
            continue;
        }
        timings.runs += 1;
        if let Some(wait) = job.wait_ms() {
            record(&mut timings.wait, wait);
            wait_all.saturating_record(wait);
        }
        if let Some(run) = job.run_ms() {
            record(&mut timings.run, run);
            run_all.saturating_record(run);
        }
        let duration = job.duration_ms.map(|d| u64::try_from(d).unwrap_or(0));
        if let Some(duration) = duration {
            let candidate = Slow(duration, Reverse((job.queue, job.id)), job.name, job.status, job.finished_at);
            if slowest.len() < MAX_SLOWEST_JOBS {
                slowest.push(Reverse(candidate));
            } else if slowest.peek().is_some_and(|Reverse(fastest)| candidate > *fastest) {
                slowest.pop();
                slowest.push(Reverse(candidate));
            }
        }
    }

    let mut rows: Vec<JobNameTimings> = by_job
        .into_iter()
        .map(|((queue, name), t)| JobNameTimings {
            queue,
            name,
            runs: t.runs,
            wait_ms: t.wait.as_ref().map(percentiles).unwrap_or_default(),
            run_ms: t.run.as_ref().map(percentiles).unwrap_or_default(),
            stalls: t.stalls,
            lost_to_stalls: t.lost_to_stalls,
        })
        .collect();
    rows.sort_by(|a, b| b.runs.cmp(&a.runs).then_with(|| (&a.queue, &a.name).cmp(&(&b.queue, &b.name))));
    rows.truncate(MAX_REPORT_ROWS);
    let slowest = slowest
        .into_sorted_vec()
        .into_iter()
        .map(|Reverse(Slow(duration_ms, Reverse((queue, id)), name, status, finished_at))| SlowJob {
            queue,
            id,
            name,
            status,
            duration_ms,
            finished_at,
        })
        .collect();
    Ok(PerformanceReport {
        slot_ms,
        throughput,
        wait_ms: percentiles(&wait_all),
        run_ms: percentiles(&run_all),
        by_job: rows,
        slowest,
        stalls,
        lost_to_stalls,
    })
}
