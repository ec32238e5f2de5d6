//! Alerts: the breaches firing or pending now, the recent firing and resolved notices,
//! the rules (admins change their figures) and the silences (admins add and end them).
//! Read again every few seconds; the banner on every staff page says when one fires.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::components::data_table::DataTable;
use crate::components::sign_in_guard::SignInGuard;
use crate::components::when::When;
use crate::error::AppError;
use crate::i18n::{I18n, use_i18n};
use crate::session::{error_text, use_viewer};
use crate::t;
use crate::types::{AlertEventRow, AlertRow, AlertRuleRow, AlertsView, SilenceRow, alert_measure_unit};

/// How often the page and the banner read the alerts again.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub const REREAD_MS: u64 = 15_000;

#[server(input = GetUrl, endpoint = "get_alerts")]
pub async fn get_alerts() -> Result<AlertsView, AppError> {
    crate::backend::backend()?.alerts().await
}

#[server(input = GetUrl, endpoint = "get_firing_alerts")]
pub async fn get_firing_alerts() -> Result<Vec<AlertRow>, AppError> {
    crate::backend::backend()?.firing_alerts().await
}

/// Seconds (to the millisecond) from a form box as ms; empty is 0.
#[cfg_attr(not(feature = "ssr"), allow(dead_code))]
fn seconds_box(field: &str, text: &str) -> Result<i64, AppError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(0);
    }
    let seconds: f64 = text.parse().map_err(|_| AppError::invalid(field, format!("{text:?} is not a number")))?;
    // `as` saturates: out-of-range values arrive out of bounds and are refused by name.
    Ok((seconds * 1000.0).round() as i64)
}

#[server(endpoint = "alert_rule_update")]
pub async fn alert_rule_update(
    id: i64,
    kind: String,
    threshold: String,
    window_seconds: String,
    pending_seconds: String,
    #[server(default)] enabled: Option<String>,
    csrf: String,
) -> Result<(), AppError> {
    let threshold = match alert_measure_unit(&kind) {
        "duration" => seconds_box("threshold", &threshold)?,
        _ => threshold
            .trim()
            .parse()
            .map_err(|_| AppError::invalid("threshold", format!("{:?} is not a whole number", threshold.trim())))?,
    };
    let rule = AlertRuleRow {
        id,
        kind,
        queue: None,
        threshold,
        window_ms: seconds_box("window_seconds", &window_seconds)?,
        pending_ms: seconds_box("pending_seconds", &pending_seconds)?,
        enabled: enabled.is_some(),
    };
    crate::backend::backend()?.alert_rule_update(id, rule, csrf).await
}

#[server(endpoint = "alert_silence_add")]
pub async fn alert_silence_add(
    rule: String,
    subject: String,
    minutes: String,
    reason: String,
    csrf: String,
) -> Result<(), AppError> {
    let rule_id = match rule.as_str() {
        "" => None,
        id => Some(id.parse().map_err(|_| AppError::invalid("rule", "no such rule"))?),
    };
    let subject = (!subject.trim().is_empty()).then(|| subject.trim().to_string());
    let minutes: f64 = minutes
        .trim()
        .parse()
        .map_err(|_| AppError::invalid("minutes", format!("{:?} is not a number", minutes.trim())))?;
    let duration_ms = (minutes * 60_000.0).round() as i64;
    crate::backend::backend()?.alert_silence_add(rule_id, subject, duration_ms, reason, csrf).await
}

#[server(endpoint = "alert_silence_end")]
pub async fn alert_silence_end(id: i64, csrf: String) -> Result<(), AppError> {
    crate::backend::backend()?.alert_silence_end(id, csrf).await
}

/// A rule kind in words.
pub fn kind_name(i18n: I18n, kind: &str) -> String {
    match kind {
        "failure_rate" => t!(i18n, "alerts-kind-failure-rate"),
        "dead_growth" => t!(i18n, "alerts-kind-dead-growth"),
        "waiting" => t!(i18n, "alerts-kind-waiting"),
        "oldest_waiting" => t!(i18n, "alerts-kind-oldest-waiting"),
        "active_too_long" => t!(i18n, "alerts-kind-active-too-long"),
        "no_workers" => t!(i18n, "alerts-kind-no-workers"),
        "history_lag" => t!(i18n, "alerts-kind-history-lag"),
        "redis_unreachable" => t!(i18n, "alerts-kind-redis-unreachable"),
        other => other.to_string(),
    }
}

/// A measure (or threshold) of `kind` in words.
pub fn measure(i18n: I18n, kind: &str, value: i64) -> String {
    match alert_measure_unit(kind) {
        "percent" => format!("{value} %"),
        "duration" => i18n.duration(value.max(0) as u64),
        "flag" if value > 0 => t!(i18n, "alerts-flag-yes"),
        "flag" => t!(i18n, "alerts-flag-no"),
        _ => value.to_string(),
    }
}

/// The kind and, for a queue, the queue: "Jobs waiting · emails".
pub fn alert_name(i18n: I18n, kind: &str, subject: &str) -> String {
    if subject.is_empty() { kind_name(i18n, kind) } else { format!("{} · {subject}", kind_name(i18n, kind)) }
}

/// A rule: its kind and its queue, or "every queue".
fn rule_name(i18n: I18n, kind: &str, queue: Option<&str>) -> String {
    match queue {
        Some(queue) => format!("{} · {queue}", kind_name(i18n, kind)),
        None => t!(i18n, "alerts-rule-every-queue", kind = kind_name(i18n, kind)),
    }
}

#[component]
pub fn AlertsPage() -> impl IntoView {
    let update = ServerAction::<AlertRuleUpdate>::new();
    let add = ServerAction::<AlertSilenceAdd>::new();
    let end = ServerAction::<AlertSilenceEnd>::new();
    let alerts =
        Resource::new(move || (update.version().get(), add.version().get(), end.version().get()), |_| get_alerts());
    let viewer = use_viewer();
    let i18n = use_i18n();
    let failed = move || {
        [
            update.value().get().and_then(|r| r.err()),
            add.value().get().and_then(|r| r.err()),
            end.value().get().and_then(|r| r.err()),
        ]
        .into_iter()
        .flatten()
        .next()
        .map(|e| error_text(&e))
    };
    view! {
        <SignInGuard staff_only=true/>
        <section class="page">
            <h1>{t!(i18n, "alerts-title")}</h1>
            <p class="muted">{t!(i18n, "alerts-intro")}</p>
            {move || failed().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            <Suspense fallback=move || view! { <p>{t!(i18n, "common-loading")}</p> }>
                {move || {
                    let csrf = viewer.get().and_then(|v| v.ok().flatten()).map(|v| v.csrf).unwrap_or_default();
                    alerts
                        .get()
                        .map(|result| match result {
                            Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                            Ok(view) => view! { <AlertsContent view csrf update add end/> }.into_any(),
                        })
                }}
            </Suspense>
        </section>
    }
}

#[component]
fn AlertsContent(
    view: AlertsView,
    csrf: String,
    update: ServerAction<AlertRuleUpdate>,
    add: ServerAction<AlertSilenceAdd>,
    end: ServerAction<AlertSilenceEnd>,
) -> impl IntoView {
    let i18n = use_i18n();
    let open = RwSignal::new(view.open);
    let recent = RwSignal::new(view.recent);
    reread_alerts(open, recent);
    let rules = view.rules;
    let can_change = view.can_change;
    let rules_csrf = csrf.clone();
    let rule_names: Vec<(i64, String)> =
        rules.iter().map(|r| (r.id, rule_name(i18n, &r.kind, r.queue.as_deref()))).collect();
    view! {
        <h2>{t!(i18n, "alerts-open")}</h2>
        {move || {
            let rows = open.get();
            if rows.is_empty() {
                return view! { <p class="empty" data-alerts-open="none">{t!(i18n, "alerts-open-none")}</p> }.into_any();
            }
            let columns = vec![
                t!(i18n, "alerts-col-alert"),
                t!(i18n, "alerts-col-state"),
                t!(i18n, "alerts-col-since"),
                t!(i18n, "alerts-col-measure"),
            ];
            view! {
                <DataTable caption=t!(i18n, "alerts-open") class="jobs alerts-open" columns>
                    {rows.into_iter().map(|row| view! { <OpenRow row/> }).collect_view()}
                </DataTable>
            }
            .into_any()
        }}
        <h2>{t!(i18n, "alerts-recent")}</h2>
        {move || {
            let rows = recent.get();
            if rows.is_empty() {
                return view! { <p class="empty">{t!(i18n, "alerts-recent-none")}</p> }.into_any();
            }
            let columns = vec![
                t!(i18n, "alerts-col-at"),
                t!(i18n, "alerts-col-alert"),
                t!(i18n, "alerts-col-notice"),
                t!(i18n, "alerts-col-measure"),
            ];
            view! {
                <DataTable caption=t!(i18n, "alerts-recent") class="jobs alerts-recent" columns>
                    {rows.into_iter().map(|row| view! { <EventRow row/> }).collect_view()}
                </DataTable>
            }
            .into_any()
        }}
        <h2>{t!(i18n, "alerts-rules")}</h2>
        <p class="muted">{t!(i18n, "alerts-rules-intro")}</p>
        <DataTable
            caption=t!(i18n, "alerts-rules")
            class="jobs alert-rules"
            columns=vec![
                t!(i18n, "alerts-col-rule"),
                t!(i18n, "alerts-col-threshold"),
                t!(i18n, "alerts-col-window"),
                t!(i18n, "alerts-col-pending"),
                t!(i18n, "alerts-col-enabled"),
            ]
        >
            {rules
                .into_iter()
                .map(|rule| view! { <RuleRow rule can_change csrf=rules_csrf.clone() update/> })
                .collect_view()}
        </DataTable>
        <h2>{t!(i18n, "alerts-silences")}</h2>
        <Silences silences=view.silences rule_names can_change csrf add end/>
    }
}

#[component]
fn OpenRow(row: AlertRow) -> impl IntoView {
    let i18n = use_i18n();
    let state = if row.state == "firing" { t!(i18n, "alerts-state-firing") } else { t!(i18n, "alerts-state-pending") };
    view! {
        <tr data-alert=format!("{}:{}", row.kind, row.subject) data-state=row.state.clone()>
            <td>{alert_name(i18n, &row.kind, &row.subject)}</td>
            <td><span class=format!("badge badge-alert-{}", row.state)>{state}</span></td>
            <td><When at=row.since/></td>
            <td>{t!(i18n, "alerts-measure-of", value = measure(i18n, &row.kind, row.value), threshold = measure(i18n, &row.kind, row.threshold))}</td>
        </tr>
    }
}

#[component]
fn EventRow(row: AlertEventRow) -> impl IntoView {
    let i18n = use_i18n();
    let notice =
        if row.transition == "firing" { t!(i18n, "alerts-state-firing") } else { t!(i18n, "alerts-state-resolved") };
    view! {
        <tr data-alert-event=row.transition.clone()>
            <td><When at=row.at/></td>
            <td>{alert_name(i18n, &row.kind, &row.subject)}</td>
            <td>
                <span class=format!("badge badge-alert-{}", row.transition)>{notice}</span>
                {row.silenced.then(|| view! { " " <span class="muted" data-silenced="">{t!(i18n, "alerts-silenced")}</span> })}
            </td>
            <td>{t!(i18n, "alerts-measure-of", value = measure(i18n, &row.kind, row.value), threshold = measure(i18n, &row.kind, row.threshold))}</td>
        </tr>
    }
}

#[component]
fn RuleRow(rule: AlertRuleRow, can_change: bool, csrf: String, update: ServerAction<AlertRuleUpdate>) -> impl IntoView {
    let i18n = use_i18n();
    let name = rule_name(i18n, &rule.kind, rule.queue.as_deref());
    let seconds = |ms: i64| if ms % 1000 == 0 { (ms / 1000).to_string() } else { format!("{}", ms as f64 / 1000.0) };
    let threshold_box =
        if alert_measure_unit(&rule.kind) == "duration" { seconds(rule.threshold) } else { rule.threshold.to_string() };
    let windowed = matches!(rule.kind.as_str(), "failure_rate" | "dead_growth");
    let row_id = format!("rule-{}", rule.id);
    let form_id = format!("rule-form-{}", rule.id);
    let label = |what: String| format!("{what} ({name})");
    let labels = [
        label(t!(i18n, "alerts-rule-save")),
        label(t!(i18n, "alerts-col-threshold")),
        label(t!(i18n, "alerts-col-window")),
        label(t!(i18n, "alerts-col-pending")),
        label(t!(i18n, "alerts-col-enabled")),
    ];
    let [save_label, threshold_label, window_label, pending_label, enabled_label] = labels;
    let kind = rule.kind.clone();
    let kind_field = rule.kind.clone();
    if !can_change {
        return view! {
            <tr data-rule=kind.clone()>
                <td>{name}</td>
                <td>{measure(i18n, &rule.kind, rule.threshold)}</td>
                <td>{windowed.then(|| i18n.duration(rule.window_ms as u64))}</td>
                <td>{i18n.duration(rule.pending_ms as u64)}</td>
                <td>{if rule.enabled { t!(i18n, "alerts-flag-yes") } else { t!(i18n, "alerts-flag-no") }}</td>
            </tr>
        }
        .into_any();
    }
    view! {
        <tr data-rule=kind.clone() id=row_id>
            <td>
                {name}
                <ActionForm action=update attr:id=form_id.clone() attr:class="inline">
                    <input type="hidden" name="id" value=rule.id.to_string()/>
                    <input type="hidden" name="kind" value=kind_field.clone()/>
                    <input type="hidden" name="csrf" value=csrf/>
                    <button type="submit" aria-label=save_label>{t!(i18n, "alerts-rule-save")}</button>
                </ActionForm>
            </td>
            <td>
                <input form=form_id.clone() name="threshold" type="number" min="0" step="any" value=threshold_box
                    aria-label=threshold_label/>
            </td>
            <td>
                {if windowed {
                    view! {
                        <input form=form_id.clone() name="window_seconds" type="number" min="60" step="any" value=seconds(rule.window_ms)
                            aria-label=window_label/>
                    }.into_any()
                } else {
                    view! { <input form=form_id.clone() name="window_seconds" type="hidden" value=seconds(rule.window_ms)/> }.into_any()
                }}
            </td>
            <td>
                <input form=form_id.clone() name="pending_seconds" type="number" min="0" step="any" value=seconds(rule.pending_ms)
                    aria-label=pending_label/>
            </td>
            <td>
                <input form=form_id name="enabled" type="checkbox" value="on" checked=rule.enabled
                    aria-label=enabled_label/>
            </td>
        </tr>
    }
    .into_any()
}

#[component]
fn Silences(
    silences: Vec<SilenceRow>,
    rule_names: Vec<(i64, String)>,
    can_change: bool,
    csrf: String,
    add: ServerAction<AlertSilenceAdd>,
    end: ServerAction<AlertSilenceEnd>,
) -> impl IntoView {
    let i18n = use_i18n();
    let name_of = {
        let names = rule_names.clone();
        move |id: Option<i64>| match id {
            None => t!(i18n, "alerts-silence-every-rule"),
            Some(id) => names.iter().find(|(r, _)| *r == id).map(|(_, n)| n.clone()).unwrap_or_default(),
        }
    };
    let list = if silences.is_empty() {
        view! { <p class="empty">{t!(i18n, "alerts-silences-none")}</p> }.into_any()
    } else {
        let csrf = csrf.clone();
        view! {
            <ul class="silences">
                {silences
                    .into_iter()
                    .map(|s| {
                        let subject = match s.subject.as_deref() {
                            None => t!(i18n, "alerts-silence-every-subject"),
                            Some("") => t!(i18n, "alerts-silence-system"),
                            Some(queue) => queue.to_string(),
                        };
                        let csrf = csrf.clone();
                        let end_form = can_change.then(|| view! {
                            <ActionForm action=end attr:class="inline">
                                <input type="hidden" name="id" value=s.id.to_string()/>
                                <input type="hidden" name="csrf" value=csrf/>
                                <button type="submit">{t!(i18n, "alerts-silence-end")}</button>
                            </ActionForm>
                        });
                        view! {
                            <li data-silence=s.id.to_string()>
                                {format!("{} · {subject} · ", name_of(s.rule_id))}
                                {t!(i18n, "alerts-silence-until")} " " <When at=s.ends_at/>
                                {format!(" · {} ({})", s.reason, s.created_by)}
                                " " {end_form}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        }
        .into_any()
    };
    let form = can_change.then(|| {
        view! {
            <details class="confirm">
                <summary>{t!(i18n, "alerts-silence-add")}</summary>
                <ActionForm action=add attr:class="form silence-form">
                    <input type="hidden" name="csrf" value=csrf/>
                    <label for="silence-rule">{t!(i18n, "alerts-silence-rule")}</label>
                    <select id="silence-rule" name="rule">
                        <option value="">{t!(i18n, "alerts-silence-every-rule")}</option>
                        {rule_names.into_iter().map(|(id, name)| view! { <option value=id.to_string()>{name}</option> }).collect_view()}
                    </select>
                    <label for="silence-subject">{t!(i18n, "alerts-silence-subject")}</label>
                    <input id="silence-subject" name="subject" type="text" maxlength="200"/>
                    <label for="silence-minutes">{t!(i18n, "alerts-silence-minutes")}</label>
                    <input id="silence-minutes" name="minutes" type="number" min="1" max="43200" value="60" required/>
                    <label for="silence-reason">{t!(i18n, "alerts-silence-reason")}</label>
                    <input id="silence-reason" name="reason" type="text" maxlength="500" required/>
                    <button type="submit">{t!(i18n, "alerts-silence-save")}</button>
                </ActionForm>
            </details>
        }
    });
    view! { {list} {form} }
}

/// Reads the open breaches and recent notices again while the page is open.
fn reread_alerts(open: RwSignal<Vec<AlertRow>>, recent: RwSignal<Vec<AlertEventRow>>) {
    #[cfg(feature = "hydrate")]
    {
        let handle = set_interval_with_handle(
            move || {
                leptos::task::spawn_local(async move {
                    if let Ok(fresh) = get_alerts().await {
                        open.try_set(fresh.open);
                        recent.try_set(fresh.recent);
                    }
                });
            },
            std::time::Duration::from_millis(REREAD_MS),
        );
        if let Ok(handle) = handle {
            let handle = send_wrapper::SendWrapper::new(handle);
            on_cleanup(move || handle.clear());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (open, recent);
}
