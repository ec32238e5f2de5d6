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

use hoist_queue::{CancellationToken, JobState, NewJob, Queue, RedisConnection, Role};
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

/// One transition made by a round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Made {
    pub notice: AlertNotice,
    /// A silence held its notice back.
    pub silenced: bool,
}

impl Evaluator {
    /// Evaluates every `interval` until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        loop {
            if let Err(e) = self.round().await {
                tracing::warn!(error = %e, "alert evaluation failed; trying again next round");
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(self.interval) => {}
            }
        }
    }

    /// One evaluation; returns the transitions this replica made (none when another
    /// replica holds the role).
    pub async fn round(&self) -> anyhow::Result<Vec<Made>> {
        let all_rules = rules::list(&self.db).await?;
        let rules: Vec<Rule> = all_rules.iter().filter(|r| r.enabled).cloned().collect();
        let role = Role::new(&self.engine, "alert-evaluator");
        // Held a little past two rounds, so one slow round does not hand it over.
        let ttl = self.interval * 2 + Duration::from_secs(5);
        let (now, measured) = match role.claim(&self.holder, ttl).await {
            Ok(false) => return Ok(vec![]),
            Ok(true) => {
                let now = self.engine_now().await.unwrap_or_else(|_| now_ms());
                (now, self.measure_all(&rules, now).await)
            }
            Err(e) => {
                tracing::warn!(error = %e, "Redis does not answer");
                let down = rules.iter().find(|r| r.kind == RuleKind::RedisUnreachable);
                (now_ms(), down.map(|rule| vec![(rule.clone(), String::new(), 1)]).unwrap_or_default())
            }
        };
        let redis_up = measured.iter().all(|(rule, _, value)| rule.kind != RuleKind::RedisUnreachable || *value == 0);
        let silences = silences::active(&self.db, now).await?;
        let mut made = vec![];
        let mut seen = HashSet::new();
        for (rule, subject, value) in &measured {
            seen.insert((rule.id, subject.clone()));
            if let Some(transition) = self.apply(rule, subject, *value > rule.threshold, *value, now).await? {
                made.push(self.record(rule, subject, transition, *value, now, &silences).await?);
            }
        }
        // Breaches no longer measured (a rule switched off or replaced, a queue gone) clear.
        // Not while Redis is down: the queues were not measured, not found healthy.
        if redis_up {
            for (rule_id, subject, value) in self.open_states().await? {
                if seen.contains(&(rule_id, subject.clone())) {
                    continue;
                }
                // A deleted rule's states went with it.
                let Some(rule) = all_rules.iter().find(|r| r.id == rule_id) else { continue };
                if let Some(transition) = self.apply(rule, &subject, false, value, now).await? {
                    made.push(self.record(rule, &subject, transition, value, now, &silences).await?);
                }
            }
        }
        for m in made.iter().filter(|m| !m.silenced) {
            self.deliver(&m.notice, redis_up).await;
        }
        sqlx::query("DELETE FROM alert_events WHERE at < $1").bind(now - KEEP_EVENTS_MS).execute(&self.db.pool).await?;
        silences::prune(&self.db, now, KEEP_EVENTS_MS).await?;
        Ok(made)
    }

    async fn engine_now(&self) -> hoist_queue::Result<i64> {
        // Any queue's handle reads the same Redis clock.
        Queue::new(&self.engine, &self.notifications_queue)?.redis_time().await
    }

    /// (rule, subject, measure) for every enabled rule in force on every queue, and
    /// Redis's reachability (it answered: 0). A queue that could not be read is left out
    /// this round (not taken as healthy).
    async fn measure_all(&self, rules: &[Rule], now: i64) -> Vec<(Rule, String, i64)> {
        let mut out = vec![];
        if let Some(rule) = rules.iter().find(|r| r.kind == RuleKind::RedisUnreachable) {
            out.push((rule.clone(), String::new(), 0));
        }
        let names = match Queue::list_all(&self.engine).await {
            Ok(names) => names,
            Err(e) => {
                tracing::warn!(error = %e, "alerts: cannot list the queues");
                return out;
            }
        };
        for name in names {
            let Ok(queue) = Queue::new(&self.engine, &name) else { continue };
            for kind in RuleKind::ALL.into_iter().filter(|k| k.per_queue()) {
                let Some(rule) = rules::in_force(rules, kind, &name) else { continue };
                match measure(&queue, rule, now).await {
                    Ok(value) => out.push((rule.clone(), name.clone(), value)),
                    Err(e) => tracing::warn!(queue = %name, rule = kind.as_str(), error = %e, "alerts: cannot measure"),
                }
            }
        }
        out
    }

    /// Moves `rule` on `subject` one step; the transition this replica made, if any.
    async fn apply(
        &self,
        rule: &Rule,
        subject: &str,
        breached: bool,
        value: i64,
        now: i64,
    ) -> sqlx::Result<Option<Transition>> {
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
                "UPDATE alert_states SET state = 'firing', fired_at = $1
                 WHERE rule_id = $2 AND subject = $3 AND state = 'pending' AND since <= $4",
            )
            .bind(now)
            .bind(rule.id)
            .bind(subject)
            .bind(now - rule.pending_ms)
            .execute(pool)
            .await?;
            Ok((fired.rows_affected() == 1).then_some(Transition::Firing))
        } else {
            sqlx::query("DELETE FROM alert_states WHERE rule_id = $1 AND subject = $2 AND state = 'pending'")
                .bind(rule.id)
                .bind(subject)
                .execute(pool)
                .await?;
            let resolved =
                sqlx::query("DELETE FROM alert_states WHERE rule_id = $1 AND subject = $2 AND state = 'firing'")
                    .bind(rule.id)
                    .bind(subject)
                    .execute(pool)
                    .await?;
            Ok((resolved.rows_affected() == 1).then_some(Transition::Resolved))
        }
    }

    /// Every pending or firing (rule, subject, last measure).
    async fn open_states(&self) -> sqlx::Result<Vec<(i64, String, i64)>> {
        let rows = sqlx::query("SELECT rule_id, subject, value FROM alert_states").fetch_all(&self.db.pool).await?;
        Ok(rows.iter().map(|r| (r.get("rule_id"), r.get("subject"), r.get("value"))).collect())
    }

    /// Records a transition among the recent notices.
    async fn record(
        &self,
        rule: &Rule,
        subject: &str,
        transition: Transition,
        value: i64,
        now: i64,
        silences: &[silences::Silence],
    ) -> sqlx::Result<Made> {
        let silenced = silences::covers(silences, rule.id, subject);
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
        Ok(Made { notice, silenced })
    }

    /// Sends a notice: as a job while Redis answers, else straight away.
    async fn deliver(&self, notice: &AlertNotice, redis_up: bool) {
        if redis_up {
            let enqueued = async {
                let queue = Queue::new(&self.engine, &self.notifications_queue)?;
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
                let payload =
                    serde_json::to_value(notice).map_err(|e| hoist_queue::QueueError::Protocol(e.to_string()))?;
                queue.enqueue(NewJob::new(JOB_NAME, payload).with_options(options)).await
            };
            if let Err(e) = enqueued.await {
                tracing::error!(error = %e, notice = %notice.text(), "alert notice could not be enqueued");
            }
        } else if let Err(e) =
            self.notifier.send_alert(notice, &format!("alert-{}-{}", notice.rule_id, notice.at)).await
        {
            tracing::error!(error = %e, notice = %notice.text(), "alert notice could not be sent");
        }
    }
}

/// The measure of `rule` on `queue` at `now` (Redis's clock).
async fn measure(queue: &Queue, rule: &Rule, now: i64) -> hoist_queue::Result<i64> {
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
        RuleKind::Waiting => queue.counts().await?.waiting as i64,
        // A paused queue waits on purpose: not stalled, and not short of workers.
        RuleKind::OldestWaiting if queue.is_paused().await? => 0,
        RuleKind::OldestWaiting => match queue.list_jobs(JobState::Waiting, 0, 1).await?.jobs.first() {
            Some(job) => (now - job.run_at).max(0),
            None => 0,
        },
        RuleKind::ActiveTooLong => queue.oldest_active_started_at().await?.map_or(0, |started| (now - started).max(0)),
        RuleKind::NoWorkers => {
            let counts = queue.counts().await?;
            i64::from(!counts.paused && counts.waiting > 0 && queue.worker_processes(WORKER_ONLINE).await? == 0)
        }
        RuleKind::HistoryLag => queue.history_backlog().await?.unarchived as i64,
        RuleKind::RedisUnreachable => 0,
    })
}
