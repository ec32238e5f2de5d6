//! The alert evaluator: once per interval, in the one replica holding the engine role
//! `alert-evaluator`, measures every enabled rule on every queue and moves each rule and
//! subject through ok → pending → firing → ok. Transitions are compare-and-set rows in
//! SQL (`alert_states`), so even two replicas evaluating at once (a role handing over)
//! make each transition once, and only the replica that made it sends its notice.
//!
//! Notices go as `alert` jobs onto the notifications queue (retried like every
//! notification). While Redis does not answer there is no queue and no role: every
//! replica then measures only Redis's reachability, and the one that wins the transition
//! sends its notice straight through the notifications' transports.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use hoist_queue::{CancellationToken, Counts, JobState, NewJob, Queue, RedisConnection, Role};
use sqlx::Row;

use super::notice::{AlertNotice, JOB_NAME, Transition};
use super::rules::{self, MIN_ATTEMPTS_FOR_RATE, Rule, RuleKind};
use super::silences;
use crate::db::{Db, now_ms};
use crate::processors::notifications::Notifier;

/// Recent notices are kept this long.
const KEEP_EVENTS_MS: i64 = 30 * 86_400_000;

/// A worker counts as online when it checked in within this long.
const WORKER_ONLINE: Duration = Duration::from_secs(60);

pub struct Evaluator {
    pub db: Db,
    pub engine: RedisConnection,
    /// Where notices are enqueued.
    pub notifications_queue: String,
    /// Sends notices directly while Redis does not answer.
    pub notifier: Arc<Notifier>,
    /// This process's id, as the role's holder.
    pub holder: String,
    pub interval: Duration,
}

/// What a round measured: (rule, subject, measure) triples; whether every queue was
/// read (else nothing unmeasured counts as cleared); the queues that could not be.
struct Measured {
    values: Vec<(Rule, String, i64)>,
    complete: bool,
    failed: HashSet<String>,
}

/// One transition made by a round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Made {
    pub notice: AlertNotice,
    /// A silence held its notice back.
    pub silenced: bool,
}

impl Evaluator {
    /// Evaluates every `interval` until `stop`, then hands the role on.
    pub async fn run(self, stop: CancellationToken) {
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                result = self.round() => {
                    if let Err(e) = result {
                        tracing::warn!(error = %e, "alert evaluation failed; trying again next round");
                    }
                }
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(self.interval) => {}
            }
        }
        // Another replica takes over at its next round, not once the role's time runs out.
        let _ = Role::new(&self.engine, "alert-evaluator").release(&self.holder).await;
    }

    /// One evaluation; returns the transitions this replica made (none when another
    /// replica holds the role).
    pub async fn round(&self) -> anyhow::Result<Vec<Made>> {
        let all_rules = rules::list(&self.db).await?;
        let role = Role::new(&self.engine, "alert-evaluator");
        // Held a little past two rounds, so one slow round does not hand it over.
        let ttl = self.interval * 2 + Duration::from_secs(5);
        let (now, measured, redis_up) = match role.claim(&self.holder, ttl).await {
            Ok(false) => return Ok(vec![]),
            Ok(true) => {
                // Redis's clock, as every time the engine records; a round that cannot
                // read it measures nothing rather than mix clocks.
                let now = self.engine_now().await?;
                (now, self.measure_all(&all_rules, now).await, true)
            }
            Err(e) => {
                tracing::warn!(error = %e, "Redis does not answer");
                let down = all_rules.iter().find(|r| r.kind == RuleKind::RedisUnreachable && r.enabled);
                let values = down.map(|rule| vec![(rule.clone(), String::new(), 1)]).unwrap_or_default();
                (now_ms(), Measured { values, complete: false, failed: HashSet::new() }, false)
            }
        };
        let silences = silences::active(&self.db, now).await?;
        let mut made = vec![];
        // Resolved notices owed (a rule deleted, a breach resolved under a silence) go
        // first, once no silence covers them: before a breach of the same rule and queue
        // that fired again is announced below.
        for (rule, subject, value) in self.owed_resolutions().await? {
            if silences::covers(&silences, rule.id, &subject) {
                continue;
            }
            // Whichever replica deletes the row sends the notice.
            let taken = sqlx::query("DELETE FROM alert_resolutions_owed WHERE rule_id = $1 AND subject = $2")
                .bind(rule.id)
                .bind(&subject)
                .execute(&self.db.pool)
                .await?;
            if taken.rows_affected() == 1 {
                made.push(
                    self.record_and_send(&rule, &subject, Transition::Resolved, value, now, true, redis_up).await?,
                );
            }
        }
        let mut seen = HashSet::new();
        // Each notice goes out as soon as its transition is made: an error later in the
        // round loses none.
        for (rule, subject, value) in &measured.values {
            seen.insert((rule.id, subject.clone()));
            let silenced = silences::covers(&silences, rule.id, subject);
            let breached = *value > rule.threshold;
            if let Some((transition, announce)) = self.apply(rule, subject, breached, *value, now, silenced).await? {
                made.push(self.record_and_send(rule, subject, transition, *value, now, announce, redis_up).await?);
            }
        }
        // Breaches no longer measured (a rule switched off or replaced, a queue gone)
        // clear; only after a round that read every queue: a queue that could not be read,
        // or Redis down, is not found healthy.
        if measured.complete {
            for (rule_id, subject, value) in self.open_states().await? {
                if seen.contains(&(rule_id, subject.clone())) || measured.failed.contains(&subject) {
                    continue;
                }
                // A deleted rule's states went with it.
                let Some(rule) = all_rules.iter().find(|r| r.id == rule_id) else { continue };
                let silenced = silences::covers(&silences, rule.id, &subject);
                if let Some((transition, announce)) = self.apply(rule, &subject, false, value, now, silenced).await? {
                    made.push(self.record_and_send(rule, &subject, transition, value, now, announce, redis_up).await?);
                }
            }
        }
        sqlx::query("DELETE FROM alert_events WHERE at < $1").bind(now - KEEP_EVENTS_MS).execute(&self.db.pool).await?;
        silences::prune(&self.db, now, KEEP_EVENTS_MS).await?;
        Ok(made)
    }

    async fn engine_now(&self) -> hoist_queue::Result<i64> {
        // Any queue's handle reads the same Redis clock.
        Queue::new(&self.engine, &self.notifications_queue)?.redis_time().await
    }

    /// The measure of every enabled rule in force on every queue (a queue's own rule,
    /// switched off, switches its kind off there), and Redis's reachability (it
    /// answered: 0).
    async fn measure_all(&self, rules: &[Rule], now: i64) -> Measured {
        let mut out = Measured { values: vec![], complete: true, failed: HashSet::new() };
        if let Some(rule) = rules.iter().find(|r| r.kind == RuleKind::RedisUnreachable && r.enabled) {
            out.values.push((rule.clone(), String::new(), 0));
        }
        let names = match Queue::list_all(&self.engine).await {
            Ok(names) => names,
            Err(e) => {
                tracing::warn!(error = %e, "alerts: cannot list the queues");
                out.complete = false;
                return out;
            }
        };
        for name in names {
            let Ok(queue) = Queue::new(&self.engine, &name) else { continue };
            // Read once for every rule of the queue.
            let counts = match queue.counts().await {
                Ok(counts) => counts,
                Err(e) => {
                    tracing::warn!(queue = %name, error = %e, "alerts: cannot read the counts");
                    out.failed.insert(name.clone());
                    continue;
                }
            };
            for kind in RuleKind::ALL.into_iter().filter(|k| k.per_queue()) {
                let Some(rule) = rules::in_force(rules, kind, &name).filter(|r| r.enabled) else { continue };
                match measure(&queue, &counts, rule, now).await {
                    Ok(value) => out.values.push((rule.clone(), name.clone(), value)),
                    Err(e) => {
                        tracing::warn!(queue = %name, rule = kind.as_str(), error = %e, "alerts: cannot measure");
                        out.failed.insert(name.clone());
                    }
                }
            }
        }
        out
    }

    /// Moves `rule` on `subject` one step; the transition this replica made, if any, and
    /// whether to announce it. A breach that fired under a silence (`silenced`) is
    /// announced at the first round after the silence ends, if it still fires; its
    /// resolved notice goes out only if its firing one did (after the silence, for one
    /// that resolved under it).
    async fn apply(
        &self,
        rule: &Rule,
        subject: &str,
        breached: bool,
        value: i64,
        now: i64,
        silenced: bool,
    ) -> sqlx::Result<Option<(Transition, bool)>> {
        let pool = &self.db.pool;
        if breached {
            sqlx::query(
                "INSERT INTO alert_states (rule_id, subject, state, since, value) VALUES ($1, $2, 'pending', $3, $4)
                 ON CONFLICT (rule_id, subject) DO NOTHING",
            )
            .bind(rule.id)
            .bind(subject)
            .bind(now)
            .bind(value)
            .execute(pool)
            .await?;
            sqlx::query("UPDATE alert_states SET value = $1 WHERE rule_id = $2 AND subject = $3")
                .bind(value)
                .bind(rule.id)
                .bind(subject)
                .execute(pool)
                .await?;
            let fired = sqlx::query(
                "UPDATE alert_states SET state = 'firing', fired_at = $1, notified = $5
                 WHERE rule_id = $2 AND subject = $3 AND state = 'pending' AND since <= $4",
            )
            .bind(now)
            .bind(rule.id)
            .bind(subject)
            .bind(now - rule.pending_ms)
            .bind(i64::from(!silenced))
            .execute(pool)
            .await?;
            if fired.rows_affected() == 1 {
                return Ok(Some((Transition::Firing, !silenced)));
            }
            if silenced {
                return Ok(None);
            }
            let announced_late = sqlx::query(
                "UPDATE alert_states SET notified = 1
                 WHERE rule_id = $1 AND subject = $2 AND state = 'firing' AND notified = 0",
            )
            .bind(rule.id)
            .bind(subject)
            .execute(pool)
            .await?;
            Ok((announced_late.rows_affected() == 1).then_some((Transition::Firing, true)))
        } else {
            sqlx::query("DELETE FROM alert_states WHERE rule_id = $1 AND subject = $2 AND state = 'pending'")
                .bind(rule.id)
                .bind(subject)
                .execute(pool)
                .await?;
            let mut tx = pool.begin().await?;
            let resolved = sqlx::query(
                "DELETE FROM alert_states WHERE rule_id = $1 AND subject = $2 AND state = 'firing' RETURNING notified",
            )
            .bind(rule.id)
            .bind(subject)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(resolved) = resolved else { return Ok(None) };
            let announced = resolved.get::<i64, _>("notified") == 1;
            if announced && silenced {
                // Its firing went out: its resolved notice goes out once the silence ends.
                let owed = rules::Owed {
                    rule_id: rule.id,
                    kind: rule.kind.as_str(),
                    subject,
                    value,
                    threshold: rule.threshold,
                    window_ms: rule.window_ms,
                };
                rules::owe_resolution(&mut tx, &owed).await?;
            }
            tx.commit().await?;
            Ok(Some((Transition::Resolved, announced && !silenced)))
        }
    }

    /// Resolved notices owed for announced breaches of deleted rules: (the rule as it
    /// was, subject, last measure).
    async fn owed_resolutions(&self) -> sqlx::Result<Vec<(Rule, String, i64)>> {
        let rows =
            sqlx::query("SELECT rule_id, kind, subject, value, threshold, window_ms FROM alert_resolutions_owed")
                .fetch_all(&self.db.pool)
                .await?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                let subject: String = row.get("subject");
                let rule = Rule {
                    id: row.get("rule_id"),
                    kind: RuleKind::parse(&row.get::<String, _>("kind"))?,
                    queue: Some(subject.clone()),
                    threshold: row.get("threshold"),
                    window_ms: row.get("window_ms"),
                    pending_ms: 0,
                    enabled: false,
                };
                Some((rule, subject, row.get("value")))
            })
            .collect())
    }

    /// Every pending or firing (rule, subject, last measure).
    async fn open_states(&self) -> sqlx::Result<Vec<(i64, String, i64)>> {
        let rows = sqlx::query("SELECT rule_id, subject, value FROM alert_states").fetch_all(&self.db.pool).await?;
        Ok(rows.iter().map(|r| (r.get("rule_id"), r.get("subject"), r.get("value"))).collect())
    }

    /// Records a transition among the recent notices and sends its notice if `announce`
    /// (else it is recorded as held back).
    #[allow(clippy::too_many_arguments)]
    async fn record_and_send(
        &self,
        rule: &Rule,
        subject: &str,
        transition: Transition,
        value: i64,
        now: i64,
        announce: bool,
        redis_up: bool,
    ) -> sqlx::Result<Made> {
        let silenced = !announce;
        sqlx::query(
            "INSERT INTO alert_events (rule_id, kind, subject, transition, value, threshold, at, silenced)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(rule.id)
        .bind(rule.kind.as_str())
        .bind(subject)
        .bind(transition.as_str())
        .bind(value)
        .bind(rule.threshold)
        .bind(now)
        .bind(i64::from(silenced))
        .execute(&self.db.pool)
        .await?;
        tracing::info!(rule = rule.kind.as_str(), subject, transition = transition.as_str(), value, silenced, "alert");
        let notice = AlertNotice {
            rule_id: rule.id,
            kind: rule.kind,
            subject: subject.to_string(),
            transition,
            value,
            threshold: rule.threshold,
            window_ms: rule.window_ms,
            at: now,
        };
        if !silenced {
            self.deliver(&notice, redis_up).await;
        }
        Ok(Made { notice, silenced })
    }

    /// Sends a notice: as a job (retried like every notification) while Redis answers and
    /// a notifications worker is online, else straight away.
    async fn deliver(&self, notice: &AlertNotice, redis_up: bool) {
        let queue = Queue::new(&self.engine, &self.notifications_queue);
        if redis_up && let Ok(queue) = queue {
            let online = queue.worker_processes(WORKER_ONLINE).await.is_ok_and(|n| n > 0);
            if online {
                let options = hoist_queue::JobOptions {
                    // The transition is made once; the key guards a retried enqueue.
                    dedup_key: Some(format!(
                        "alert:{}:{}:{}:{}",
                        notice.rule_id,
                        notice.subject,
                        notice.transition.as_str(),
                        notice.at
                    )),
                    ..crate::processors::notifications::delivery_options()
                };
                let payload = serde_json::to_value(notice).unwrap_or_default();
                match queue.enqueue(NewJob::new(JOB_NAME, payload).with_options(options)).await {
                    Ok(_) => return,
                    Err(e) => {
                        tracing::warn!(error = %e, notice = %notice.text(), "alert notice not enqueued; sending it now")
                    }
                }
            }
        }
        if let Err(e) = self.notifier.send_alert(notice, &format!("alert-{}-{}", notice.rule_id, notice.at)).await {
            tracing::error!(error = %e, notice = %notice.text(), "alert notice could not be sent");
        }
    }
}

/// The measure of `rule` on `queue`, whose counts are `counts`, at `now` (Redis's clock).
async fn measure(queue: &Queue, counts: &Counts, rule: &Rule, now: i64) -> hoist_queue::Result<i64> {
    let window_minutes = |rule: &Rule| {
        let to = now / 60_000;
        (to - (rule.window_ms / 60_000).max(1) + 1, to)
    };
    Ok(match rule.kind {
        RuleKind::FailureRate => {
            let (from, to) = window_minutes(rule);
            let stats = queue.stats(from, to).await?;
            let (completed, failed) = stats.iter().fold((0, 0), |(c, f), m| (c + m.completed, f + m.failed));
            let attempts = completed + failed;
            if attempts < MIN_ATTEMPTS_FOR_RATE { 0 } else { (failed * 100 / attempts) as i64 }
        }
        RuleKind::DeadGrowth => {
            let (from, to) = window_minutes(rule);
            queue.stats(from, to).await?.iter().map(|m| m.dead as i64).sum()
        }
        RuleKind::Waiting => counts.waiting as i64,
        // A paused queue waits on purpose: not stalled, and not short of workers.
        RuleKind::OldestWaiting if counts.paused => 0,
        RuleKind::OldestWaiting => {
            // Listings are newest first: the next job to run is the last of the set.
            let waiting = counts.waiting;
            match queue.list_jobs(JobState::Waiting, waiting.saturating_sub(1), 1).await?.jobs.first() {
                Some(job) if waiting > 0 => (now - job.run_at).max(0),
                _ => 0,
            }
        }
        RuleKind::ActiveTooLong => queue.oldest_active_started_at().await?.map_or(0, |started| (now - started).max(0)),
        RuleKind::NoWorkers => {
            i64::from(!counts.paused && counts.waiting > 0 && queue.worker_processes(WORKER_ONLINE).await? == 0)
        }
        RuleKind::HistoryLag => queue.history_backlog().await?.unarchived as i64,
        RuleKind::RedisUnreachable => 0,
    })
}
