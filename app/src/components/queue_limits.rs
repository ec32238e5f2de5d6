//! A queue's limits on its page: what is in force across all its workers, and for
//! operators a form to change them (every worker obeys the new ones from its next claim;
//! a per-process concurrency reaches every process at once over Pub/Sub; a group cap
//! bounds the active jobs of each group of a queue whose jobs carry groups).

use leptos::prelude::*;

use crate::error::AppError;
use crate::i18n::use_i18n;
use crate::session::error_text;
use crate::t;
use crate::types::LimitsView;

#[server(endpoint = "queue_set_limits")]
pub async fn queue_set_limits(
    queue: String,
    concurrency: String,
    rate_max: String,
    rate_per_seconds: String,
    process_concurrency: String,
    group_concurrency: String,
    csrf: String,
) -> Result<(), AppError> {
    // An empty box is no limit; anything else must be a number.
    fn number<T: std::str::FromStr>(field: &str, text: &str) -> Result<Option<T>, AppError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        text.parse().map(Some).map_err(|_| AppError::invalid(field, format!("{text:?} is not a number")))
    }
    // The window in seconds, to the millisecond (`1.5`), so a window set over the API
    // in milliseconds comes back unchanged when only another box was edited.
    let per_seconds: Option<f64> = number("rate_per_seconds", &rate_per_seconds)?;
    // `as` saturates: a negative, zero or huge window arrives out of bounds and the
    // service refuses it, naming this box.
    let rate_per_ms = per_seconds.map(|seconds| (seconds * 1000.0).round() as u64);
    let limits = LimitsView {
        concurrency: number("concurrency", &concurrency)?,
        rate_max: number("rate_max", &rate_max)?,
        rate_per_ms,
        process_concurrency: number("process_concurrency", &process_concurrency)?,
        group_concurrency: number("group_concurrency", &group_concurrency)?,
    };
    crate::backend::backend()?.queue_set_limits(queue, limits, csrf).await
}

#[component]
pub fn QueueLimits(
    queue: String,
    limits: LimitsView,
    can_operate: bool,
    csrf: String,
    set: ServerAction<QueueSetLimits>,
) -> impl IntoView {
    let i18n = use_i18n();
    let mut in_force = vec![];
    if let Some(count) = limits.concurrency {
        in_force.push(t!(i18n, "queue-limits-concurrency", count = count));
    }
    if let (Some(max), Some(per)) = (limits.rate_max, limits.rate_per_ms) {
        in_force.push(t!(i18n, "queue-limits-rate", max = max, per = i18n.duration(per)));
    }
    if let Some(count) = limits.process_concurrency {
        in_force.push(t!(i18n, "queue-limits-process", count = count));
    }
    if let Some(count) = limits.group_concurrency {
        in_force.push(t!(i18n, "queue-limits-group", count = count));
    }
    let summary = if in_force.is_empty() { t!(i18n, "queue-limits-none") } else { in_force.join(" · ") };
    let failed = move || set.value().get().and_then(|result| result.err()).map(|e| error_text(&e));
    view! {
        <section class="limits" aria-labelledby="limits-title">
            <h2 id="limits-title" class="limits-title">{t!(i18n, "queue-limits-title")}</h2>
            <p data-limits="in-force">{summary}</p>
            {can_operate
                .then(|| {
                    view! {
                        <details class="confirm">
                            <summary>{t!(i18n, "queue-limits-change")}</summary>
                            <ActionForm action=set attr:class="form limits-form">
                                <input type="hidden" name="queue" value=queue/>
                                <input type="hidden" name="csrf" value=csrf/>
                                {number_field(
                                    "concurrency",
                                    t!(i18n, "queue-limits-concurrency-label"),
                                    100_000,
                                    limits.concurrency.map(u64::from),
                                )}
                                {number_field(
                                    "rate_max",
                                    t!(i18n, "queue-limits-rate-max-label"),
                                    1_000_000,
                                    limits.rate_max.map(u64::from),
                                )}
                                {seconds_field(
                                    "rate_per_seconds",
                                    t!(i18n, "queue-limits-rate-per-label"),
                                    limits.rate_per_ms,
                                )}
                                {number_field(
                                    "process_concurrency",
                                    t!(i18n, "queue-limits-process-label"),
                                    10_000,
                                    limits.process_concurrency.map(u64::from),
                                )}
                                {number_field(
                                    "group_concurrency",
                                    t!(i18n, "queue-limits-group-label"),
                                    100_000,
                                    limits.group_concurrency.map(u64::from),
                                )}
                                <button type="submit">{t!(i18n, "queue-limits-save")}</button>
                            </ActionForm>
                        </details>
                    }
                })}
            {move || failed().map(|message| view! { <p class="error" role="alert">{message}</p> })}
        </section>
    }
}

/// A labelled box for a whole number from 1 to `max`, empty for "no limit".
fn number_field(name: &'static str, label: String, max: u64, value: Option<u64>) -> impl IntoView {
    let id = format!("limit-{name}");
    view! {
        <label for=id.clone()>{label}</label>
        <input
            id=id
            name=name
            type="number"
            min="1"
            max=max.to_string()
            value=value.map(|n| n.to_string()).unwrap_or_default()
        />
    }
}

/// A labelled box for a window in seconds, to the millisecond (`60`, `1.5`).
fn seconds_field(name: &'static str, label: String, ms: Option<u64>) -> impl IntoView {
    let id = format!("limit-{name}");
    let value = ms.map(|ms| if ms % 1000 == 0 { (ms / 1000).to_string() } else { format!("{}", ms as f64 / 1000.0) });
    view! {
        <label for=id.clone()>{label}</label>
        <input id=id name=name type="number" min="0.001" step="0.001" max="31536000" value=value.unwrap_or_default()/>
    }
}
