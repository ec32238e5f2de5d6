//! The Alerts page and the firing banner: open breaches, recent notices, rules and
//! silences; admins change rules and silences.

use app::error::AppError;
use app::types::{AlertEventRow, AlertRow, AlertRuleRow, AlertsView, SilenceRow};

use super::{ServerBackend, client_addr};
use crate::alerts::status::OpenAlert;
use crate::policy::{Action, may};
use crate::services::alerts::{self as service, NewSilence, RuleFigures};

fn alert_row(a: OpenAlert) -> AlertRow {
    AlertRow {
        rule_id: a.rule_id,
        kind: a.kind.as_str().to_string(),
        subject: a.subject,
        state: a.state,
        since: a.since,
        value: a.value,
        threshold: a.threshold,
    }
}

pub(super) async fn page(backend: &ServerBackend) -> Result<AlertsView, AppError> {
    let principal = backend.principal().await?;
    let overview = service::overview(&backend.state, &principal).await?;
    Ok(AlertsView {
        open: overview.open.into_iter().map(alert_row).collect(),
        recent: overview
            .recent
            .into_iter()
            .map(|e| AlertEventRow {
                kind: e.kind.as_str().to_string(),
                subject: e.subject,
                transition: e.transition,
                value: e.value,
                threshold: e.threshold,
                at: e.at,
                silenced: e.silenced,
            })
            .collect(),
        rules: overview
            .rules
            .into_iter()
            .map(|r| AlertRuleRow {
                id: r.id,
                kind: r.kind.as_str().to_string(),
                queue: r.queue,
                threshold: r.threshold,
                window_ms: r.window_ms,
                pending_ms: r.pending_ms,
                enabled: r.enabled,
            })
            .collect(),
        silences: overview
            .silences
            .into_iter()
            .map(|s| SilenceRow {
                id: s.id,
                rule_id: s.rule_id,
                subject: s.subject,
                ends_at: s.ends_at,
                reason: s.reason,
                created_by: s.created_by,
            })
            .collect(),
        can_change: may(&principal, Action::ChangeAlerts),
    })
}

/// Firing breaches for the banner; nothing for a visitor who may not watch the queues
/// (the banner is on every page, so it never fails the page).
pub(super) async fn firing(backend: &ServerBackend) -> Result<Vec<AlertRow>, AppError> {
    let Ok(principal) = backend.principal().await else { return Ok(vec![]) };
    if !may(&principal, Action::WatchQueues) {
        return Ok(vec![]);
    }
    let open = crate::alerts::status::open(&backend.state.db).await.map_err(crate::api_error::ApiError::from)?;
    Ok(open.into_iter().filter(|a| a.state == "firing").map(alert_row).collect())
}

pub(super) async fn update_rule(
    backend: &ServerBackend,
    id: i64,
    rule: AlertRuleRow,
    csrf: String,
) -> Result<(), AppError> {
    let principal = backend.acting_principal(&csrf).await?;
    let figures = RuleFigures {
        threshold: rule.threshold,
        window_ms: rule.window_ms,
        pending_ms: rule.pending_ms,
        enabled: rule.enabled,
    };
    service::update_rule(&backend.state, &principal, Some(client_addr().await?), id, figures).await?;
    Ok(())
}

pub(super) async fn add_silence(
    backend: &ServerBackend,
    rule_id: Option<i64>,
    subject: Option<String>,
    duration_ms: i64,
    reason: String,
    csrf: String,
) -> Result<(), AppError> {
    let principal = backend.acting_principal(&csrf).await?;
    let new = NewSilence { rule_id, subject, duration_ms, reason };
    service::add_silence(&backend.state, &principal, Some(client_addr().await?), new).await?;
    Ok(())
}

pub(super) async fn end_silence(backend: &ServerBackend, id: i64, csrf: String) -> Result<(), AppError> {
    let principal = backend.acting_principal(&csrf).await?;
    service::end_silence(&backend.state, &principal, Some(client_addr().await?), id).await?;
    Ok(())
}
