//! Reads: jobs, pages of a state or an owner's index, counts, limits, statistics, the
//! event stream, the workers' check-ins and the queue registry. No read scans the
//! keyspace; each reads only what its caller returns.

use std::collections::HashMap;
use std::time::Duration;

use redis::streams::{StreamReadOptions, StreamReadReply};

use super::keys::registry;
use super::record::decode_job;
use super::{Backend, decode_events, entry_events, field_map, scripts};
use crate::connection::{Conn, RedisConnection};
use crate::error::Result;
use crate::types::{
    Counts, ErrorRecord, Event, HistoryBacklog, Job, JobState, MinuteStats, QueueLimits, QueueTotals, RateLimit,
    Unarchived, Unindexed, UnreadableJob,
};

/// Every queue name recorded under `root`, sorted.
pub(crate) async fn queue_names(redis: &RedisConnection, root: &str) -> Result<Vec<String>> {
    let mut names: Vec<String> =
        super::query_traced("queue_names", root, redis, redis::cmd("SMEMBERS").arg(registry(root))).await?;
    names.sort();
    Ok(names)
}

/// The Redis server's version (`INFO server`), e.g. "7.0.15".
/// On a cluster `INFO` answers per node; the first node's version is given.
pub(crate) async fn server_version(redis: &RedisConnection) -> Result<String> {
    let info: redis::Value = super::query_traced("server_version", "", redis, redis::cmd("INFO").arg("server")).await?;
    let version = texts(info)
        .iter()
        .find_map(|text| text.lines().find_map(|l| l.strip_prefix("redis_version:")).map(|v| v.trim().to_string()));
    Ok(version.unwrap_or_else(|| "unknown".to_string()))
}

/// The server's memory and persistence settings: `INFO` (allowed everywhere), and the
/// `save` rules from `CONFIG GET` where that command is allowed.
/// On a cluster `INFO` answers per node; the settings are the least safe node's.
pub(crate) async fn server_settings(redis: &RedisConnection) -> Result<crate::ServerSettings> {
    let info: redis::Value =
        super::query_traced("server_settings", "", redis, redis::cmd("INFO").arg("memory").arg("persistence")).await?;
    let save: Option<redis::Value> =
        super::query_traced("server_settings", "", redis, redis::cmd("CONFIG").arg("GET").arg("save")).await.ok();
    let nodes = texts(info);
    let field = |text: &str, name: &str| text.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_string());
    let policies: Vec<String> = nodes.iter().filter_map(|text| field(text, "maxmemory_policy:")).collect();
    let policy = policies
        .iter()
        .find(|p| p.as_str() != "noeviction")
        .or(policies.first())
        .cloned()
        .unwrap_or_else(|| "unknown".to_string());
    let aof_enabled = !nodes.is_empty() && nodes.iter().all(|text| field(text, "aof_enabled:").as_deref() == Some("1"));
    // `CONFIG GET save` answers [name, rules] (per node on a cluster).
    let rdb_snapshots = save.map(|reply| texts(reply).iter().any(|t| t != "save" && !t.trim().is_empty()));
    Ok(crate::ServerSettings { maxmemory_policy: policy, aof_enabled, rdb_snapshots })
}

/// The text parts of a reply, however nested (a cluster answers per node).
fn texts(value: redis::Value) -> Vec<String> {
    match value {
        redis::Value::Map(entries) => entries.into_iter().flat_map(|(_, v)| texts(v)).collect(),
        redis::Value::Array(items) => items.into_iter().flat_map(texts).collect(),
        other => <String as redis::FromRedisValue>::from_redis_value(other).into_iter().collect(),
    }
}

impl Backend {
    /// Redis's time (epoch ms) on the node holding this queue.
    pub(crate) async fn now(&self) -> Result<i64> {
        super::clock::now_at(&self.redis, &self.keys.workers()).await
    }

    /// One job with its per-attempt errors and its log lines.
    pub(crate) async fn job(&self, id: &str) -> Result<Option<Job>> {
        let mut pipe = redis::pipe();
        pipe.hgetall(self.keys.job(id)).lrange(self.keys.job_errors(id), 0, -1).lrange(self.keys.job_logs(id), 0, -1);
        let (fields, errors, logs): (HashMap<String, String>, Vec<String>, Vec<String>) =
            self.query("job", &pipe).await?;
        if fields.is_empty() {
            return Ok(None);
        }
        let mut job = decode_job(&self.queue, id, &fields)?;
        job.errors = errors.iter().filter_map(|e| serde_json::from_str::<ErrorRecord>(e).ok()).collect();
        job.logs = logs;
        Ok(Some(job))
    }

    /// Several jobs in one round trip, skipping ids that no longer exist.
    pub(crate) async fn jobs(&self, ids: &[&String]) -> Result<Vec<Job>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.hgetall(self.keys.job(id));
        }
        let replies: Vec<redis::Value> = self.query("jobs", &pipe).await?;
        let mut jobs = Vec::with_capacity(ids.len());
        for (reply, id) in replies.into_iter().zip(ids) {
            let fields = match reply {
                redis::Value::Map(pairs) => pairs
                    .into_iter()
                    .filter_map(|(k, v)| {
                        Some((redis::from_redis_value::<String>(k).ok()?, redis::from_redis_value::<String>(v).ok()?))
                    })
                    .collect(),
                other => field_map(other)?,
            };
            if !fields.is_empty() {
                jobs.push(decode_job(&self.queue, id, &fields)?);
            }
        }
        Ok(jobs)
    }

    /// Up to `limit` finished jobs waiting for the history store, in archive order (finish
    /// time, then id), after `after` (a finish time and id) or from the start, each with
    /// its errors and the finish time it was archived at.
    pub(crate) async fn unarchived(&self, after: Option<(i64, &str)>, limit: usize) -> Result<Vec<Unarchived>> {
        let limit = limit.clamp(1, 10_000);
        let listed: Vec<(String, i64)> = match after {
            None => {
                let mut cmd = redis::cmd("ZRANGE");
                cmd.arg(self.keys.archive()).arg(0).arg(limit - 1).arg("WITHSCORES");
                self.query("unarchived", &cmd).await?
            }
            Some((at, id)) => self.archived_after(at, id, limit).await?,
        };
        self.read_listed(&listed).await
    }

    /// The live jobs the search index has not read since they changed: Redis's time
    /// before they were read, the entries listed (id, time queued), and the jobs that
    /// still exist and can be read.
    pub(crate) async fn unindexed(&self, limit: usize, min_age: std::time::Duration) -> Result<Unindexed> {
        let mut call = self.script(&scripts::READ_UNINDEXED);
        call.arg(limit.clamp(1, 10_000)).arg(min_age.as_millis().min(60_000) as u64);
        let reply: Vec<String> = self.eval("read_unindexed", &call).await?;
        let mut reply = reply.into_iter();
        let seen_at = reply.next().and_then(|t| t.parse().ok()).unwrap_or_default();
        let mut listed = Vec::with_capacity(reply.len() / 3);
        let mut live = Vec::with_capacity(reply.len() / 3);
        while let (Some(id), Some(at), Some(is_live)) = (reply.next(), reply.next(), reply.next()) {
            let at = at.parse::<i64>().unwrap_or_default();
            if is_live == "1" {
                live.push((id.clone(), at));
            }
            listed.push((id, at));
        }
        let jobs = self.read_listed(&live).await?.into_iter().filter_map(|u| u.job.ok()).collect();
        Ok(Unindexed { seen_at, listed, jobs })
    }

    /// Sizes of the archive set and the unindexed list.
    pub(crate) async fn history_backlog(&self) -> Result<HistoryBacklog> {
        let mut pipe = redis::pipe();
        pipe.zcard(self.keys.archive()).llen(self.keys.unindexed());
        let (unarchived, unindexed): (u64, u64) = self.query("history_backlog", &pipe).await?;
        Ok(HistoryBacklog { unarchived, unindexed })
    }

    /// Acknowledges live jobs the search index has read (id, time listed).
    pub(crate) async fn mark_indexed(&self, read: &[(String, i64)]) -> Result<u64> {
        let mut call = self.script(&scripts::MARK_INDEXED);
        for (id, at) in read {
            call.arg(id).arg(at);
        }
        self.eval("mark_indexed", &call).await
    }

    /// Reads listed jobs (id and a time to pass on) with their errors, in order; a job
    /// deleted meanwhile is left out, one the engine cannot read is given as stored.
    pub(crate) async fn read_listed(&self, listed: &[(String, i64)]) -> Result<Vec<Unarchived>> {
        if listed.is_empty() {
            return Ok(vec![]);
        }
        let mut pipe = redis::pipe();
        for (id, _) in listed {
            pipe.hgetall(self.keys.job(id));
        }
        let hashes: Vec<redis::Value> = self.query("listed_jobs", &pipe).await?;
        let mut found = Vec::with_capacity(listed.len());
        for ((id, archived_at), fields) in listed.iter().zip(hashes) {
            // Text that is not UTF-8 is read lossily: an unreadable job is still listed.
            let fields: HashMap<String, String> = field_map(fields)?;
            if !fields.is_empty() {
                found.push((id, *archived_at, fields)); // else deleted meanwhile, and unlisted
            }
        }
        // Only a job that failed an attempt has an error list, and every failure also
        // sets `error`: most jobs need no second read.
        let mut pipe = redis::pipe();
        for (id, _, fields) in &found {
            if fields.contains_key("error") {
                pipe.lrange(self.keys.job_errors(id), 0, -1);
            }
        }
        let mut error_lists = if !pipe.is_empty() {
            let lists: Vec<redis::Value> = self.query("listed_job_errors", &pipe).await?;
            lists.into_iter()
        } else {
            Vec::new().into_iter()
        };
        let mut jobs = Vec::with_capacity(found.len());
        for (id, archived_at, fields) in found {
            let errors = match fields.contains_key("error") {
                true => error_lists.next().and_then(|list| super::strings(list).ok()).unwrap_or_default(),
                false => vec![],
            };
            let job = match decode_job(&self.queue, id, &fields) {
                Ok(mut job) => {
                    job.errors = errors.iter().filter_map(|e| serde_json::from_str::<ErrorRecord>(e).ok()).collect();
                    Ok(job)
                }
                Err(e) => Err(UnreadableJob { fields: fields.into_iter().collect(), reason: e.to_string() }),
            };
            jobs.push(Unarchived { id: id.clone(), finished_at: archived_at, job });
        }
        Ok(jobs)
    }

    /// Up to `limit` members of the archive set after (`at`, `id`) in its order: by
    /// score, members of one score by their bytes (as Redis sorts them). Members of score
    /// `at` up to `id` come first in a read from `at`, so they are dropped, reading on
    /// while a whole read is such members (many jobs that ended in one millisecond).
    async fn archived_after(&self, at: i64, id: &str, limit: usize) -> Result<Vec<(String, i64)>> {
        // Room for the members of score `at` already read, so one read is usually enough.
        const SLACK: usize = 256;
        let mut after = Vec::with_capacity(limit);
        let mut skip = 0usize;
        loop {
            let count = limit + SLACK;
            let mut cmd = redis::cmd("ZRANGE");
            cmd.arg(self.keys.archive()).arg(at).arg("+inf").arg("BYSCORE").arg("LIMIT").arg(skip).arg(count);
            cmd.arg("WITHSCORES");
            let read: Vec<(String, i64)> = self.query("unarchived", &cmd).await?;
            let full = read.len() == count;
            after.extend(read.into_iter().filter(|(member, score)| *score > at || member.as_bytes() > id.as_bytes()));
            if after.len() >= limit || !full {
                after.truncate(limit);
                return Ok(after);
            }
            skip += count;
        }
    }

    /// Ids of one state's set, newest first, and the set's size.
    pub(crate) async fn state_page(&self, state: JobState, offset: u64, limit: u64) -> Result<(Vec<String>, u64)> {
        let set = self.keys.state_set(state);
        let mut pipe = redis::pipe();
        if state == JobState::Active {
            // By score, below the anchor at +inf.
            pipe.zrevrangebyscore_limit(&set, "(+inf", "-inf", offset as isize, limit as isize)
                .zcount(&set, "-inf", "(+inf");
        } else {
            pipe.zrevrange(&set, offset as isize, (offset + limit) as isize - 1).zcard(&set);
        }
        self.query("state_page", &pipe).await
    }

    /// Ids of the active jobs (at most `limit`).
    pub(crate) async fn active_ids(&self, limit: u64) -> Result<Vec<String>> {
        let mut cmd = redis::cmd("ZRANGEBYSCORE");
        cmd.arg(self.keys.state_set(JobState::Active)).arg("-inf").arg("(+inf").arg("LIMIT").arg(0).arg(limit);
        self.query("active_ids", &cmd).await
    }

    /// Ids in an owner's index, newest first, `limit` from `offset`, and the index's size.
    pub(crate) async fn owner_page(&self, owner: &str, offset: u64, limit: u64) -> Result<(Vec<String>, u64)> {
        let index = self.keys.owner_index(owner);
        let mut pipe = redis::pipe();
        pipe.zrevrange(&index, offset as isize, (offset + limit) as isize - 1).zcard(&index);
        self.query("owner_page", &pipe).await
    }

    /// The size of an owner's index.
    pub(crate) async fn owner_count(&self, owner: &str) -> Result<u64> {
        self.query("owner_count", redis::cmd("ZCARD").arg(self.keys.owner_index(owner))).await
    }

    /// The `state` field of each job (None for a job deleted meanwhile).
    pub(crate) async fn job_states(&self, ids: &[String]) -> Result<Vec<Option<String>>> {
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.hget(self.keys.job(id), "state");
        }
        self.query("job_states", &pipe).await
    }

    /// Jobs per state and the paused flag, in one round trip.
    pub(crate) async fn counts(&self) -> Result<Counts> {
        let mut pipe = redis::pipe();
        for state in JobState::ALL {
            if state == JobState::Active {
                pipe.zcount(self.keys.state_set(state), "-inf", "(+inf");
            } else {
                pipe.zcard(self.keys.state_set(state));
            }
        }
        pipe.hexists(self.keys.meta(), "paused");
        let (w, d, r, a, c, x, k, e, paused): (u64, u64, u64, u64, u64, u64, u64, u64, bool) =
            self.query("counts", &pipe).await?;
        Ok(Counts {
            waiting: w,
            delayed: d,
            retrying: r,
            active: a,
            completed: c,
            dead: x,
            cancelled: k,
            expired: e,
            paused,
        })
    }

    pub(crate) async fn limits(&self) -> Result<QueueLimits> {
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(self.keys.meta()).arg(&[
            "concurrency",
            "rate_max",
            "rate_window",
            "process_concurrency",
            "group_concurrency",
        ]);
        type Fields = (Option<u32>, Option<u32>, Option<u64>, Option<u32>, Option<u32>);
        let (concurrency, max, window, process_concurrency, group_concurrency): Fields =
            self.query("limits", &cmd).await?;
        let rate = match (max, window) {
            (Some(max), Some(window)) => Some(RateLimit { max, per: Duration::from_millis(window) }),
            _ => None,
        };
        Ok(QueueLimits { concurrency, rate, process_concurrency, group_concurrency })
    }

    pub(crate) async fn is_paused(&self) -> Result<bool> {
        self.query("is_paused", redis::cmd("HEXISTS").arg(self.keys.meta()).arg("paused")).await
    }

    /// The queue's running totals.
    pub(crate) async fn totals(&self) -> Result<QueueTotals> {
        let map: HashMap<String, u64> = self.query("totals", redis::cmd("HGETALL").arg(self.keys.totals())).await?;
        let field = |name: &str| map.get(name).copied().unwrap_or(0);
        Ok(QueueTotals {
            completed: field("completed"),
            failed: field("failed"),
            retried: field("retried"),
            stalled: field("stalled"),
            dead: field("dead"),
            duration_ms: field("duration_ms"),
        })
    }

    /// Per-minute statistics for `from..=to` (minutes since the epoch), one per minute.
    pub(crate) async fn stats(&self, from_minute: i64, to_minute: i64) -> Result<Vec<MinuteStats>> {
        let mut out = Vec::with_capacity((to_minute - from_minute + 1).max(0) as usize);
        // Pipelined in chunks so a 14-day range does not build one giant reply.
        for chunk_start in (from_minute..=to_minute).step_by(720) {
            let chunk_end = (chunk_start + 719).min(to_minute);
            let mut pipe = redis::pipe();
            for minute in chunk_start..=chunk_end {
                pipe.hgetall(self.keys.stats(minute));
            }
            let maps: Vec<HashMap<String, u64>> = self.query("stats", &pipe).await?;
            for (minute, map) in (chunk_start..=chunk_end).zip(maps) {
                out.push(MinuteStats {
                    minute,
                    completed: map.get("completed").copied().unwrap_or(0),
                    failed: map.get("failed").copied().unwrap_or(0),
                    dead: map.get("dead").copied().unwrap_or(0),
                    retried: map.get("retried").copied().unwrap_or(0),
                    duration_ms: map.get("duration_ms").copied().unwrap_or(0),
                    run_ms: histogram(&map, 'r'),
                    wait_ms: histogram(&map, 'w'),
                    waiting: map.get("waiting").copied(),
                });
            }
        }
        Ok(out)
    }

    /// Up to `count` stream entries' events from `start` (an XRANGE bound: `-`, an entry,
    /// or `(entry` for after it).
    pub(crate) async fn events_from(&self, start: &str, count: usize) -> Result<Vec<Event>> {
        let mut cmd = redis::cmd("XRANGE");
        cmd.arg(self.keys.events()).arg(start).arg("+").arg("COUNT").arg(count);
        let reply: redis::Value = self.query("events_from", &cmd).await?;
        decode_events(&self.queue, reply)
    }

    /// The events of one stream entry (none once the capped stream dropped it).
    pub(crate) async fn events_of_entry(&self, entry: &str) -> Result<Vec<Event>> {
        let mut cmd = redis::cmd("XRANGE");
        cmd.arg(self.keys.events()).arg(entry).arg(entry);
        let reply: redis::Value = self.query("events_of_entry", &cmd).await?;
        decode_events(&self.queue, reply)
    }

    /// The newest event's position, or "0-0" for an empty stream.
    pub(crate) async fn last_event_position(&self) -> Result<String> {
        let mut cmd = redis::cmd("XREVRANGE");
        cmd.arg(self.keys.events()).arg("+").arg("-").arg("COUNT").arg(1);
        let reply: redis::Value = self.query("last_event_position", &cmd).await?;
        Ok(decode_events(&self.queue, reply)?.pop().map(|e| e.position).unwrap_or_else(|| "0-0".into()))
    }

    /// Waits up to `block` on a connection of the caller's own for events after `from`.
    pub(crate) async fn wait_for_events(&self, conn: &mut Conn, from: &str, block: Duration) -> Result<Vec<Event>> {
        super::count_round_trip();
        let options = StreamReadOptions::default().block(block.as_millis() as usize).count(500);
        let reply: Option<StreamReadReply> =
            redis::AsyncCommands::xread_options(conn, &[self.keys.events()], &[from], &options).await?;
        let mut events = vec![];
        for stream in reply.map(|r| r.keys).unwrap_or_default() {
            for entry in stream.ids {
                let mut fields = std::collections::BTreeMap::new();
                for (name, value) in entry.map {
                    if let Ok(v) = redis::from_redis_value::<String>(value) {
                        fields.insert(name, v);
                    }
                }
                events.extend(entry_events(&self.queue, &entry.id, fields));
            }
        }
        Ok(events)
    }

    /// Workers (claim loops) that checked in at or after `since` (epoch ms, Redis's clock).
    pub(crate) async fn workers_since(&self, since: i64) -> Result<Vec<(String, i64)>> {
        let mut cmd = redis::cmd("ZRANGEBYSCORE");
        cmd.arg(self.keys.workers()).arg(since).arg("+inf").arg("WITHSCORES");
        self.query("workers", &cmd).await
    }
}

/// A minute's run (`r`) or wait (`w`) times from its fields `r0`, `r1`, ...
fn histogram(fields: &HashMap<String, u64>, prefix: char) -> crate::TimingHistogram {
    let mut histogram = crate::TimingHistogram::default();
    for (bucket, count) in histogram.counts.iter_mut().enumerate() {
        *count = fields.get(&format!("{prefix}{bucket}")).copied().unwrap_or(0);
    }
    histogram
}
