//! Alerts: what fires, what fired, the rules and the silences; admins change rules and
//! silences (audited as `alert.rule.*` and `alert.silence.*`). Evaluation itself runs in
//! the background ([`crate::alerts::evaluator`]).

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::alerts::rules::{self, Rule, RuleKind};
use crate::alerts::silences::{self, Silence};
use crate::alerts::status::{self, AlertEvent, OpenAlert};
use crate::api_error::ApiError;
use crate::audit::{self, AuditEntry};
use crate::auth::Principal;
use crate::db::now_ms;
use crate::policy::{Action, authorize};
use crate::state::AppState;

/// Recent notices listed.
pub const RECENT: i64 = 100;
/// The longest window and pending period (7 days and 1 day, in ms).
pub const MAX_WINDOW_MS: i64 = 7 * 86_400_000;
pub const MAX_PENDING_MS: i64 = 86_400_000;
/// The highest threshold.
pub const MAX_THRESHOLD: i64 = 1_000_000_000_000;
/// Silences last 1 minute to 30 days.
pub const MIN_SILENCE_MS: i64 = 60_000;
pub const MAX_SILENCE_MS: i64 = 30 * 86_400_000;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AlertsOverview {
    /// Breaches open now: firing first, then pending.
    pub open: Vec<OpenAlert>,
    /// The latest firing and resolved notices, newest first (at most 100).
    pub recent: Vec<AlertEvent>,
    pub rules: Vec<Rule>,
    /// Silences not yet over.
    pub silences: Vec<Silence>,
}

/// A rule's figures, as an admin sets them.
#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleFigures {
    /// Above this the rule breaches (0 to 10^12; failure_rate: a per cent, 0 to 100).
    pub threshold: i64,
    /// The window rates and growth are measured over (ms; failure_rate and dead_growth:
    /// 1 minute to 7 days; others ignore it).
    pub window_ms: i64,
    /// How long a breach must last before it fires (ms, 0 to 1 day).
    pub pending_ms: i64,
    pub enabled: bool,
}

/// A rule for one queue, in place of the every-queue rule of its kind there.
#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRule {
    pub kind: RuleKind,
    pub queue: String,
    /// As in [`RuleFigures`].
    pub threshold: i64,
    pub window_ms: i64,
    pub pending_ms: i64,
    pub enabled: bool,
}

impl NewRule {
    fn figures(&self) -> RuleFigures {
        RuleFigures {
            threshold: self.threshold,
            window_ms: self.window_ms,
            pending_ms: self.pending_ms,
            enabled: self.enabled,
        }
    }
}

/// A silence to add.
#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSilence {
    /// The rule to silence; `null`: every rule.
    pub rule_id: Option<i64>,
    /// The queue (`""`: the whole system) to silence; `null`: every subject.
    pub subject: Option<String>,
    /// How long from now (ms, 1 minute to 30 days).
    pub duration_ms: i64,
    /// Why (1 to 500 characters).
    pub reason: String,
}

pub async fn overview(state: &AppState, principal: &Principal) -> Result<AlertsOverview, ApiError> {
    authorize(principal, Action::WatchQueues)?;
    let db = &state.db;
    Ok(AlertsOverview {
        open: status::open(db).await?,
        recent: status::recent(db, RECENT).await?,
        rules: rules::list(db).await?,
        silences: silences::active(db, now_ms()).await?,
    })
}

fn check_figures(kind: RuleKind, f: &RuleFigures) -> Result<(), ApiError> {
    let max = match kind {
        RuleKind::FailureRate => 100,
        // Measured as 0 or 1: any other threshold could never fire.
        RuleKind::NoWorkers | RuleKind::RedisUnreachable => 0,
        _ => MAX_THRESHOLD,
    };
    if !(0..=max).contains(&f.threshold) {
        return Err(ApiError::invalid("threshold", format!("must be 0 to {max}")));
    }
    let windowed = matches!(kind, RuleKind::FailureRate | RuleKind::DeadGrowth);
    let window_ok = if windowed {
        (60_000..=MAX_WINDOW_MS).contains(&f.window_ms)
    } else {
        (0..=MAX_WINDOW_MS).contains(&f.window_ms)
    };
    if !window_ok {
        return Err(ApiError::invalid(
            "window_ms",
            "must be 1 minute to 7 days (0 allowed for rules without a window)",
        ));
    }
    if !(0..=MAX_PENDING_MS).contains(&f.pending_ms) {
        return Err(ApiError::invalid("pending_ms", "must be 0 to 1 day"));
    }
    Ok(())
}

async fn record(
    state: &AppState,
    principal: &Principal,
    addr: Option<String>,
    action: &'static str,
    target: String,
    params: serde_json::Value,
) -> Result<(), ApiError> {
    let entry = AuditEntry { action, target, params, result: "ok", client_addr: addr };
    audit::record(&state.db, principal, entry).await?;
    Ok(())
}

/// Changes a rule's figures; 404 for no such rule.
pub async fn update_rule(
    state: &AppState,
    principal: &Principal,
    addr: Option<String>,
    id: i64,
    figures: RuleFigures,
) -> Result<Rule, ApiError> {
    authorize(principal, Action::ChangeAlerts)?;
    let rule = rules::list(&state.db)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| ApiError::NotFound(format!("alert rule {id}")))?;
    check_figures(rule.kind, &figures)?;
    rules::update(&state.db, id, figures.threshold, figures.window_ms, figures.pending_ms, figures.enabled).await?;
    record(state, principal, addr, "alert.rule.update", id.to_string(), json!(figures)).await?;
    Ok(Rule {
        threshold: figures.threshold,
        window_ms: figures.window_ms,
        pending_ms: figures.pending_ms,
        enabled: figures.enabled,
        ..rule
    })
}

/// Adds a rule for one queue; 409 when the queue has one of that kind.
pub async fn add_rule(
    state: &AppState,
    principal: &Principal,
    addr: Option<String>,
    new: NewRule,
) -> Result<Rule, ApiError> {
    authorize(principal, Action::ChangeAlerts)?;
    if !new.kind.per_queue() {
        return Err(ApiError::invalid("kind", "redis_unreachable watches the whole system, not a queue"));
    }
    crate::names::check_queue(&new.queue)?;
    check_figures(new.kind, &new.figures())?;
    let existing = rules::list(&state.db).await?;
    if let Some(rule) = existing.iter().find(|r| r.kind == new.kind && r.queue.as_deref() == Some(new.queue.as_str())) {
        return Err(ApiError::Conflict {
            message: format!("queue {:?} has a {} rule", new.queue, new.kind.as_str()),
            existing_id: Some(rule.id.to_string()),
        });
    }
    let f = &new.figures();
    let id = rules::add_for_queue(&state.db, new.kind, &new.queue, f).await.map_err(|e| match e {
        sqlx::Error::Database(db) if db.is_unique_violation() => ApiError::Conflict {
            message: format!("queue {:?} has a {} rule", new.queue, new.kind.as_str()),
            existing_id: None,
        },
        other => other.into(),
    })?;
    record(state, principal, addr, "alert.rule.create", id.to_string(), json!(new)).await?;
    Ok(Rule {
        id,
        kind: new.kind,
        queue: Some(new.queue),
        threshold: f.threshold,
        window_ms: f.window_ms,
        pending_ms: f.pending_ms,
        enabled: f.enabled,
    })
}

/// Deletes a queue's own rule (the every-queue rule applies there again); 404 for no such
/// queue rule (every-queue rules are switched off instead).
pub async fn delete_rule(
    state: &AppState,
    principal: &Principal,
    addr: Option<String>,
    id: i64,
) -> Result<(), ApiError> {
    authorize(principal, Action::ChangeAlerts)?;
    if !rules::delete_queue_rule(&state.db, id).await? {
        return Err(ApiError::NotFound(format!("queue alert rule {id}")));
    }
    record(state, principal, addr, "alert.rule.delete", id.to_string(), json!({})).await
}

/// Adds a silence; returns it.
pub async fn add_silence(
    state: &AppState,
    principal: &Principal,
    addr: Option<String>,
    new: NewSilence,
) -> Result<Silence, ApiError> {
    authorize(principal, Action::ChangeAlerts)?;
    if !(MIN_SILENCE_MS..=MAX_SILENCE_MS).contains(&new.duration_ms) {
        return Err(ApiError::invalid("duration_ms", "a silence lasts 1 minute to 30 days"));
    }
    crate::names::check("reason", &new.reason, silences::MAX_REASON)?;
    if let Some(subject) = new.subject.as_deref().filter(|s| !s.is_empty()) {
        crate::names::check_queue(subject)
            .map_err(|_| ApiError::invalid("subject", "a queue name, or \"\" for the whole system"))?;
    }
    if let Some(rule_id) = new.rule_id
        && !rules::list(&state.db).await?.iter().any(|r| r.id == rule_id)
    {
        return Err(ApiError::invalid("rule_id", format!("there is no alert rule {rule_id}")));
    }
    let now = now_ms();
    let ends_at = now + new.duration_ms;
    let id = silences::add(&state.db, new.rule_id, new.subject.as_deref(), ends_at, &new.reason, &principal.username)
        .await?;
    record(state, principal, addr, "alert.silence.create", id.to_string(), json!(new)).await?;
    Ok(Silence {
        id,
        rule_id: new.rule_id,
        subject: new.subject,
        ends_at,
        reason: new.reason,
        created_by: principal.username.clone(),
        created_at: now,
    })
}

/// Ends a silence now; 404 when there is no such silence still on.
pub async fn end_silence(
    state: &AppState,
    principal: &Principal,
    addr: Option<String>,
    id: i64,
) -> Result<(), ApiError> {
    authorize(principal, Action::ChangeAlerts)?;
    if !silences::end(&state.db, id, now_ms()).await? {
        return Err(ApiError::NotFound(format!("silence {id}")));
    }
    record(state, principal, addr, "alert.silence.end", id.to_string(), json!({})).await
}
