//! The scripts and writes an operator's actions run: pause, limits, retry, promote,
//! remove, cancel, clean, obliterate, archiving, custom events, the queue registry.

use super::keys::registry;
use super::{Backend, scripts};
use crate::error::Result;
use crate::types::{JobState, QueueLimits};

/// Which jobs an action takes: these ids, or the first `limit` of the state's set.
pub(crate) enum Selection<'a> {
    Ids(&'a [&'a String]),
    All { limit: u64 },
}

impl Backend {
    /// Records the queue in the registry of queue names under its key prefix.
    pub(crate) async fn register_queue(&self) -> Result<()> {
        let mut cmd = redis::cmd("SADD");
        cmd.arg(registry(self.keys.root())).arg(&self.queue);
        let _: i64 = self.query("register_queue", &cmd).await?;
        Ok(())
    }

    pub(crate) async fn unregister_queue(&self) -> Result<()> {
        let mut cmd = redis::cmd("SREM");
        cmd.arg(registry(self.keys.root())).arg(&self.queue);
        let _: i64 = self.query("unregister_queue", &cmd).await?;
        Ok(())
    }

    /// True when the queue was not paused before.
    pub(crate) async fn pause(&self) -> Result<bool> {
        let changed: i64 = self.eval("pause", &self.script(&scripts::PAUSE_QUEUE)).await?;
        Ok(changed == 1)
    }

    /// True when the queue was paused before.
    pub(crate) async fn resume(&self) -> Result<bool> {
        let changed: i64 = self.eval("resume", &self.script(&scripts::RESUME_QUEUE)).await?;
        Ok(changed == 1)
    }

    pub(crate) async fn set_limits(&self, limits: &QueueLimits) -> Result<()> {
        let text = |n: Option<u32>| n.map(|n| n.to_string()).unwrap_or_default();
        let mut call = self.script(&scripts::SET_LIMITS);
        call.arg(text(limits.concurrency));
        match limits.rate {
            Some(rate) => call.arg(rate.max).arg(rate.per.as_millis() as u64),
            None => call.arg("").arg(""),
        };
        call.arg(text(limits.process_concurrency)).arg(text(limits.group_concurrency)).arg(self.keys.limits_channel());
        let _: i64 = self.eval("set_limits", &call).await?;
        Ok(())
    }

    /// Moves dead, cancelled or retrying jobs back to waiting with fresh attempts.
    pub(crate) async fn retry(&self, from: JobState, jobs: Selection<'_>) -> Result<u64> {
        let mut call = self.script(&scripts::RETRY_JOBS);
        call.arg(from.as_str());
        match jobs {
            Selection::Ids(ids) => call.arg("ids").arg(0).arg(ids),
            Selection::All { limit } => call.arg("all").arg(limit),
        };
        self.eval("retry", &call).await
    }

    /// Moves one dead or cancelled job to waiting with fresh attempts and `payload` (JSON)
    /// in place of its own. 1 moved, 0 not in `from` (or gone), -1 stored in a format
    /// without an editable payload.
    pub(crate) async fn retry_edited(&self, from: JobState, id: &str, payload: &str) -> Result<i64> {
        let mut call = self.script(&scripts::RETRY_JOBS);
        call.arg(from.as_str()).arg("edited").arg(0).arg(id).arg(payload);
        self.eval("retry", &call).await
    }

    /// Records this minute's count of waiting jobs unless it has one; returns it, or -1.
    pub(crate) async fn sample_backlog(&self) -> Result<i64> {
        self.eval("sample_backlog", &self.script(&scripts::SAMPLE_BACKLOG)).await
    }

    /// Moves delayed (and, by id, retrying) jobs to waiting now.
    pub(crate) async fn promote(&self, jobs: Selection<'_>) -> Result<u64> {
        let mut call = self.script(&scripts::PROMOTE_JOBS);
        match jobs {
            Selection::Ids(ids) => call.arg("ids").arg(0).arg(ids),
            Selection::All { limit } => call.arg("all").arg(limit),
        };
        self.eval("promote", &call).await
    }

    /// Deletes jobs (only those in `only` when given; never active ones). Returns how
    /// many went and, without `only`, the ids refused because they are active.
    pub(crate) async fn remove(&self, only: Option<JobState>, ids: &[&String]) -> Result<(u64, Vec<String>)> {
        let mut call = self.script(&scripts::REMOVE_JOBS);
        call.arg(only.map_or("", |s| s.as_str())).arg(ids);
        self.eval("remove", &call).await
    }

    /// 1 cancelled, 2 requested (active), -1 no such job, -3 already finished.
    pub(crate) async fn cancel(&self, id: &str) -> Result<i64> {
        let mut call = self.script(&scripts::CANCEL_JOB);
        call.arg(id).arg(self.keys.cancel_channel());
        self.eval("cancel", &call).await
    }

    /// Deletes jobs of `state` at least `age_ms` old among `limit` looked at from rank
    /// `start`. Returns (removed, where to go on from or -1 at the end).
    pub(crate) async fn clean(&self, state: JobState, age_ms: u64, limit: u64, start: i64) -> Result<(u64, i64)> {
        let mut call = self.script(&scripts::CLEAN_JOBS);
        call.arg(state.as_str()).arg(age_ms).arg(limit).arg(start);
        self.eval("clean", &call).await
    }

    /// Deletes up to `batch` jobs; 0 once everything is gone, -4 when active jobs block it.
    pub(crate) async fn obliterate(&self, batch: u64, force: bool) -> Result<i64> {
        let mut call = self.script(&scripts::OBLITERATE_QUEUE);
        call.arg(batch).arg(if force { "force" } else { "" });
        self.eval("obliterate", &call).await
    }

    /// Turns the archive set on (finished jobs wait in it for the history store, changed
    /// live jobs in the unindexed list for its search index) or off (both are forgotten).
    pub(crate) async fn set_archiving(&self, on: bool) -> Result<()> {
        let mut pipe = redis::pipe();
        if on {
            pipe.hset(self.keys.meta(), "archive", 1);
        } else {
            pipe.hdel(self.keys.meta(), "archive").del(self.keys.archive()).del(self.keys.unindexed());
        }
        let _: () = self.query("set_archiving", &pipe).await?;
        Ok(())
    }

    /// Acknowledges copied jobs (id, finish time copied). Returns how many were released.
    pub(crate) async fn mark_archived(&self, copied: &[(String, i64)]) -> Result<u64> {
        let mut call = self.script(&scripts::MARK_ARCHIVED);
        for (id, finished_at) in copied {
            call.arg(id).arg(finished_at);
        }
        self.eval("mark_archived", &call).await
    }

    /// Starts a batch's countdown at `size`, kept for `ttl`, unless it exists. True when
    /// this call started it.
    pub(crate) async fn open_batch(&self, batch: &str, size: u64, ttl: std::time::Duration) -> Result<bool> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.keys.batch(batch)).arg(size).arg("NX").arg("PX").arg(ttl.as_millis() as u64);
        let set: Option<String> = self.query("open_batch", &cmd).await?;
        Ok(set.is_some())
    }

    /// Counts one job of a batch as done; returns how many are left (negative for a
    /// batch that was never opened or has expired).
    pub(crate) async fn count_down_batch(&self, batch: &str) -> Result<i64> {
        self.query("count_down_batch", redis::cmd("DECR").arg(self.keys.batch(batch))).await
    }

    /// Appends a custom event; returns its stream position.
    pub(crate) async fn publish_event(&self, kind: &str, job_id: &str, fields: &[(&str, String)]) -> Result<String> {
        let mut call = self.script(&scripts::PUBLISH_EVENT);
        call.arg(kind).arg(job_id);
        for (name, value) in fields {
            call.arg(*name).arg(value);
        }
        self.eval("publish_event", &call).await
    }
}
