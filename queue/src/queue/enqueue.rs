//! Adding jobs: one or a batch, validated in full before anything is written.

use super::{Queue, check_owner};
use crate::error::{QueueError, Result};
use crate::keys::MAX_GROUP_BYTES;
use crate::types::{Enqueued, MAX_OPTION_DURATION, MAX_PRIORITY, NewJob};

impl Queue {
    /// Adds one job. With a dedup key that an existing job holds, that job's id comes
    /// back with `duplicate: true` and nothing is added ([`DedupScope`](crate::DedupScope)
    /// says how long a job holds its key). A job with an owner is listed by
    /// [`Queue::list_owned`].
    pub async fn enqueue(&self, job: NewJob) -> Result<Enqueued> {
        let mut out = self.enqueue_bulk(vec![job]).await?;
        out.pop().ok_or_else(|| QueueError::Protocol("enqueue returned nothing".into()))
    }

    /// Adds many jobs in one round trip, atomically. Every job is validated first; one
    /// invalid job rejects the batch.
    ///
    /// With the `opentelemetry` feature, jobs without a [`trace`](NewJob::trace) continue
    /// the current span's trace.
    #[cfg_attr(not(feature = "opentelemetry"), allow(unused_mut))]
    pub async fn enqueue_bulk(&self, mut jobs: Vec<NewJob>) -> Result<Vec<Enqueued>> {
        if jobs.is_empty() {
            return Ok(vec![]);
        }
        #[cfg(feature = "opentelemetry")]
        if jobs.iter().any(|job| job.trace.is_none())
            && let Some(current) = crate::TraceContext::current()
        {
            for job in jobs.iter_mut().filter(|job| job.trace.is_none()) {
                job.trace = Some(current.clone());
            }
        }
        let payloads = jobs.iter().map(|job| self.validate(job)).collect::<Result<Vec<_>>>()?;
        self.register().await?;
        self.backend().enqueue(&jobs, &payloads).await
    }

    /// Checks a job as enqueue would, without adding it; returns its payload as JSON.
    pub(crate) fn validate(&self, job: &NewJob) -> Result<String> {
        let invalid = |field, reason: &str| QueueError::InvalidOption { field, reason: reason.to_string() };
        if job.name.trim().is_empty() {
            return Err(invalid("name", "must not be empty"));
        }
        if job.name.len() > 200 {
            return Err(invalid("name", "must be at most 200 bytes"));
        }
        if crate::names::first_hidden(&job.name).is_some() {
            return Err(invalid("name", "must not contain control or invisible characters"));
        }
        let o = &job.options;
        if o.priority > MAX_PRIORITY {
            return Err(invalid("priority", "must be between 0 and 1000"));
        }
        if o.max_attempts == 0 || o.max_attempts > 1000 {
            return Err(invalid("max_attempts", "must be between 1 and 1000"));
        }
        if let Some(timeout) = o.timeout
            && (timeout.is_zero() || timeout > MAX_OPTION_DURATION)
        {
            return Err(invalid("timeout", "must be more than 0 and at most 365 days"));
        }
        if o.delay.is_some_and(|d| d > MAX_OPTION_DURATION) {
            return Err(invalid("delay", "must be at most 365 days"));
        }
        if let Some(within) = o.expires_in
            && (within.as_millis() == 0 || within > MAX_OPTION_DURATION || within <= o.delay.unwrap_or_default())
        {
            return Err(invalid("expires_in", "must be 1 ms to 365 days, and longer than the delay"));
        }
        let backoff_too_long = match &o.backoff {
            crate::types::Backoff::None => false,
            crate::types::Backoff::Fixed { delay } => *delay > MAX_OPTION_DURATION,
            crate::types::Backoff::Exponential { base, cap, .. } => {
                *base > MAX_OPTION_DURATION || *cap > MAX_OPTION_DURATION
            }
        };
        if backoff_too_long {
            return Err(invalid("backoff", "delays must be at most 365 days"));
        }
        if let Some(key) = &o.dedup_key
            && (key.is_empty() || key.len() > 512 || key.chars().any(char::is_control) || key.starts_with('#'))
        {
            // '#' + a job id is how the engine finds a job's key again when deleting it.
            return Err(invalid(
                "dedup_key",
                "must be 1 to 512 bytes without control characters, not starting with '#'",
            ));
        }
        if let Some(owner) = &o.owner {
            check_owner(owner)?;
        }
        if let Some(group) = &o.group {
            super::check_label("group", group, MAX_GROUP_BYTES)?;
        }
        if let crate::types::Backoff::Exponential { jitter, base, .. } = &o.backoff
            && (!(0.0..=1.0).contains(jitter) || base.is_zero())
        {
            return Err(invalid("backoff", "exponential needs a base > 0 and jitter between 0 and 1"));
        }
        if let Some(limit) = &o.rate_limit
            && (limit.key.is_empty()
                || limit.key.len() > 200
                || limit.max == 0
                || limit.per.is_zero()
                || limit.per > MAX_OPTION_DURATION)
        {
            return Err(invalid(
                "rate_limit",
                "needs a key of 1 to 200 bytes, max > 0 and a window of 1 ms to 365 days",
            ));
        }
        if let Some(trace) = &job.trace {
            trace.validate()?;
        }
        self.encode_payload(&job.payload)
    }

    /// A payload as stored: JSON within the queue's size bound.
    pub(crate) fn encode_payload(&self, payload: &serde_json::Value) -> Result<String> {
        let payload = serde_json::to_string(payload)?;
        if payload.len() > self.config().max_payload_bytes {
            return Err(QueueError::PayloadTooLarge { size: payload.len(), max: self.config().max_payload_bytes });
        }
        Ok(payload)
    }
}
