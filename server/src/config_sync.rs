//! Makes Redis and SQL match `hoist.toml` at start ([`crate::settings`]): the file's
//! schedules are upserted (and the ones it no longer has removed, while schedules made
//! over the API are left alone), its queues' global concurrency and rate limits set, and
//! its alert thresholds written as the queues' own alert rules. Idempotent: every
//! replica does it at start, with the same result.

use hoist_queue::{Queue, QueueLimits, RedisConnection, Scheduler};

use crate::alerts::rules::{self, RuleKind};
use crate::db::{Db, now_ms};
use crate::services::alerts::RuleFigures;
use crate::settings::{Settings, Source};

pub async fn apply(engine: &RedisConnection, db: &Db, settings: &Settings) -> anyhow::Result<()> {
    apply_schedules(engine, db, settings).await?;
    for name in settings.declared_queues() {
        let queue = settings.queue(&name);
        apply_limits(engine, &queue).await?;
        apply_alerts(db, &queue).await?;
    }
    Ok(())
}

async fn apply_schedules(engine: &RedisConnection, db: &Db, settings: &Settings) -> anyhow::Result<()> {
    let scheduler = Scheduler::new(engine);
    let declared: Vec<(String,)> = sqlx::query_as("SELECT name FROM config_schedules").fetch_all(&db.pool).await?;
    let now_declared: Vec<&str> = settings.schedules().iter().map(|s| s.name.as_str()).collect();
    for (name,) in &declared {
        if !now_declared.contains(&name.as_str()) {
            scheduler.remove(name).await?;
            tracing::info!(schedule = %name, "removed: no longer in the configuration file");
        }
    }
    for spec in settings.schedules() {
        scheduler.upsert(spec).await?;
    }
    let mut tx = db.pool.begin().await?;
    sqlx::query("DELETE FROM config_schedules").execute(&mut *tx).await?;
    for name in now_declared {
        sqlx::query("INSERT INTO config_schedules (name, declared_at) VALUES ($1, $2)")
            .bind(name)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Sets the limits the file or environment names; the others stay as they are (an
/// operator's change on the dashboard lasts until a start that sets them again).
async fn apply_limits(engine: &RedisConnection, settings: &crate::settings::QueueSettings) -> anyhow::Result<()> {
    let configured_concurrency = settings.global_concurrency.source != Source::Default;
    let configured_rate = settings.rate_limit.source != Source::Default;
    if !configured_concurrency && !configured_rate {
        return Ok(());
    }
    let queue = Queue::new(engine, &settings.queue)?;
    let current = queue.limits().await?;
    let limits = QueueLimits {
        concurrency: if configured_concurrency { settings.global_concurrency.value } else { current.concurrency },
        rate: if configured_rate { settings.rate_limit.value } else { current.rate },
        ..current
    };
    if limits != current {
        queue.set_limits(&limits).await?;
    }
    Ok(())
}

/// The queue's own rule of each kind the file gives a threshold, with the window and
/// pending period of the every-queue rule of that kind.
async fn apply_alerts(db: &Db, settings: &crate::settings::QueueSettings) -> anyhow::Result<()> {
    if settings.alerts.is_empty() {
        return Ok(());
    }
    rules::seed_defaults(db).await?;
    let existing = rules::list(db).await?;
    for (kind, threshold) in &settings.alerts {
        let Some(kind) = RuleKind::parse(kind) else { continue };
        let own = existing.iter().find(|r| r.kind == kind && r.queue.as_deref() == Some(settings.queue.as_str()));
        let every = existing.iter().find(|r| r.kind == kind && r.queue.is_none());
        match own {
            Some(rule) if rule.threshold == threshold.value => {}
            Some(rule) => {
                rules::update(db, rule.id, threshold.value, rule.window_ms, rule.pending_ms, rule.enabled).await?;
            }
            None => {
                let (window_ms, pending_ms) = every.map_or((300_000, 60_000), |r| (r.window_ms, r.pending_ms));
                let figures = RuleFigures { threshold: threshold.value, window_ms, pending_ms, enabled: true };
                // Another replica starting at the same moment may have added it.
                if let Err(e) = rules::add_for_queue(db, kind, &settings.queue, &figures).await {
                    tracing::debug!(error = %e, "queue rule already added");
                }
            }
        }
    }
    Ok(())
}
