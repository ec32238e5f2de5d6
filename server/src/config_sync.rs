//! Makes Redis and SQL match `hoist.toml` at start ([`crate::settings`]): the file's
//! schedules are upserted (and the ones it no longer has removed, while schedules made
//! over the API are left alone), its queues' global concurrency and rate limits set, and
//! its alert thresholds written as the queues' own alert rules. Idempotent: every
//! replica does it at start, with the same result, as long as they read the same file
//! (a process started without one changes nothing).

use hoist_queue::{Queue, QueueLimits, RedisConnection, Scheduler};

use crate::alerts::rules::{self, RuleKind};
use crate::db::{Db, now_ms};
use crate::services::alerts::RuleFigures;
use crate::settings::{Settings, Source};

/// Schedule names the file may not use: the built-in processors' and the ones declared in
/// code (`HoistBuilder::schedule`), which the process upserts itself at every start.
pub fn reserved_schedule_names(queues: &crate::processors::QueueNames, in_code: &[String]) -> Vec<String> {
    let mut names: Vec<String> =
        crate::processors::maintenance::schedules(queues).into_iter().map(|spec| spec.name).collect();
    names.push(crate::processors::reports::MONTHLY_SCHEDULE.to_string());
    names.extend(crate::processors::demo::SCHEDULES.iter().map(|name| name.to_string()));
    names.extend(in_code.iter().cloned());
    names
}

/// Applies the file `settings` read; none read: nothing changes. `reserved` are schedule
/// names the file may not take ([`reserved_schedule_names`]).
pub async fn apply(engine: &RedisConnection, db: &Db, settings: &Settings, reserved: &[String]) -> anyhow::Result<()> {
    if settings.file_name().is_none() {
        return Ok(());
    }
    apply_schedules(engine, db, settings, reserved).await?;
    for name in settings.declared_queues() {
        let queue = settings.queue(&name);
        apply_limits(engine, &queue).await?;
        apply_alerts(db, &queue).await?;
    }
    Ok(())
}

async fn apply_schedules(
    engine: &RedisConnection,
    db: &Db,
    settings: &Settings,
    reserved: &[String],
) -> anyhow::Result<()> {
    let file = settings.file_name().unwrap_or_default();
    let scheduler = Scheduler::new(engine);
    let declared: Vec<(String,)> = sqlx::query_as("SELECT name FROM config_schedules").fetch_all(&db.pool).await?;
    let declared: Vec<String> = declared.into_iter().map(|(name,)| name).collect();
    let now_declared: Vec<&str> = settings.schedules().iter().map(|s| s.name.as_str()).collect();
    for spec in settings.schedules() {
        if reserved.contains(&spec.name) {
            anyhow::bail!(
                "{file}: schedules.{}: the name of a built-in schedule or one declared in code; choose another",
                spec.name
            );
        }
        // A schedule made over the API or the dashboard is not the file's to replace.
        if !declared.contains(&spec.name) && scheduler.get(&spec.name).await?.is_some() {
            anyhow::bail!(
                "{file}: schedules.{}: a schedule of this name exists and was not declared by the file (made over \
                 the API or the dashboard): remove it there or give the file's another name",
                spec.name
            );
        }
    }
    for name in &declared {
        if !now_declared.contains(&name.as_str()) && !reserved.contains(name) {
            scheduler.remove(name).await?;
            tracing::info!(schedule = %name, "removed: no longer in the configuration file");
        }
    }
    for spec in settings.schedules() {
        scheduler.upsert(spec).await?;
    }
    // Upserts and a delete of the rest, not a delete and inserts: replicas starting at
    // once each see the others' rows and none fails on a duplicate name.
    for name in &now_declared {
        sqlx::query(
            "INSERT INTO config_schedules (name, declared_at) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET declared_at = excluded.declared_at",
        )
        .bind(name)
        .bind(now_ms())
        .execute(&db.pool)
        .await?;
    }
    for name in declared.iter().filter(|name| !now_declared.contains(&name.as_str())) {
        sqlx::query("DELETE FROM config_schedules WHERE name = $1").bind(name).execute(&db.pool).await?;
    }
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
