//! Run and wait times counted in fixed buckets per minute, so percentiles can be read for
//! any span of minutes and any number of workers (buckets add up; averages and samples
//! would not).

use serde::{Deserialize, Serialize};

/// Upper bounds (inclusive, in ms) of the buckets; a last bucket takes everything longer.
pub const TIMING_BUCKETS_MS: [u64; 18] =
    [1, 2, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000];

/// How many buckets a histogram has: one per bound and one past the last.
pub const TIMING_BUCKETS: usize = TIMING_BUCKETS_MS.len() + 1;

/// Counts of durations by bucket (see [`TIMING_BUCKETS_MS`]).
///
/// ```
/// use hoist_queue::TimingHistogram;
///
/// let mut run_times = TimingHistogram::default();
/// for ms in [3, 4, 8, 40, 900] {
///     run_times.record(ms);
/// }
/// assert_eq!(run_times.total(), 5);
/// // The median lies in the 5–10 ms bucket.
/// let median = run_times.quantile(0.5).unwrap();
/// assert!((5..=10).contains(&median));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimingHistogram {
    /// Count per bucket, shortest first.
    pub counts: [u64; TIMING_BUCKETS],
}

impl Default for TimingHistogram {
    fn default() -> Self {
        TimingHistogram { counts: [0; TIMING_BUCKETS] }
    }
}

impl TimingHistogram {
    /// The bucket a duration of `ms` falls in.
    pub fn bucket_of(ms: u64) -> usize {
        TIMING_BUCKETS_MS.partition_point(|bound| *bound < ms)
    }

    /// Counts one duration.
    pub fn record(&mut self, ms: u64) {
        self.counts[Self::bucket_of(ms)] += 1;
    }

    /// Adds another histogram's counts (another minute's, another worker's).
    pub fn merge(&mut self, other: &TimingHistogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts) {
            *mine = mine.saturating_add(theirs);
        }
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The duration (ms) under which fraction `q` (0–1) of the counted ones fall,
    /// interpolated within its bucket as Prometheus' `histogram_quantile` does; the last
    /// bucket answers its lower bound. `None` when nothing was counted.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * total as f64;
        let mut below = 0u64;
        for (bucket, count) in self.counts.iter().enumerate() {
            if *count > 0 && (below + count) as f64 >= rank {
                let lower = if bucket == 0 { 0 } else { TIMING_BUCKETS_MS[bucket - 1] };
                let Some(&upper) = TIMING_BUCKETS_MS.get(bucket) else { return Some(lower) };
                let within = (rank - below as f64).max(0.0) / *count as f64;
                return Some(lower + ((upper - lower) as f64 * within).round() as u64);
            }
            below += count;
        }
        TIMING_BUCKETS_MS.last().copied()
    }

    /// The non-empty buckets as the complete script takes them: `r3:2 r5:1` (prefix
    /// `r` for run times, `w` for wait times).
    pub(crate) fn encode(&self, prefix: char, out: &mut String) {
        for (bucket, count) in self.counts.iter().enumerate().filter(|(_, count)| **count > 0) {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&format!("{prefix}{bucket}:{count}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_fall_in_the_bucket_of_their_bound() {
        assert_eq!(TimingHistogram::bucket_of(0), 0);
        assert_eq!(TimingHistogram::bucket_of(1), 0);
        assert_eq!(TimingHistogram::bucket_of(2), 1);
        assert_eq!(TimingHistogram::bucket_of(3), 2);
        assert_eq!(TimingHistogram::bucket_of(1_000), 9);
        assert_eq!(TimingHistogram::bucket_of(3_600_001), TIMING_BUCKETS - 1);
    }

    #[test]
    fn quantiles_interpolate_within_a_bucket() {
        let mut h = TimingHistogram::default();
        assert_eq!(h.quantile(0.5), None);
        for _ in 0..100 {
            h.record(80); // 50 < 80 <= 100
        }
        assert_eq!(h.quantile(0.5), Some(75));
        assert_eq!(h.quantile(1.0), Some(100));
        h.record(4_000_000);
        assert_eq!(h.quantile(1.0), Some(3_600_000), "past the last bound: its lower bound");
        let mut other = TimingHistogram::default();
        other.record(80);
        h.merge(&other);
        assert_eq!(h.total(), 102);
    }

    #[test]
    fn the_script_gets_only_non_empty_buckets() {
        let mut h = TimingHistogram::default();
        h.record(3);
        h.record(4);
        h.record(700);
        let mut out = String::new();
        h.encode('r', &mut out);
        assert_eq!(out, "r2:2 r9:1");
    }
}
