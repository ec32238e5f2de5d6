use crate::components::when::When;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use leptos_router::hooks::use_params_map;

use crate::components::enqueue_as_curl::EnqueueAsCurl;
use crate::components::live::provide_live_feed;
use crate::components::sign_in_guard::SignInGuard;
use crate::i18n::{I18n, msg, use_i18n};
use crate::session::{error_text, reload_to, use_viewer};
use crate::t;
use crate::types::{JobDetail, ProgressView};

#[server(input = GetUrl, endpoint = "get_job")]
pub async fn get_job(queue: String, id: String) -> Result<JobDetail, AppError> {
    crate::backend::backend()?.job(queue, id).await
}

#[server(endpoint = "job_action")]
pub async fn job_action(queue: String, id: String, action: String, csrf: String) -> Result<(), AppError> {
    crate::backend::backend()?.job_action(queue, id, action, csrf).await
}

#[server(endpoint = "job_retry_edited")]
pub async fn job_retry_edited(queue: String, id: String, payload: String, csrf: String) -> Result<(), AppError> {
    crate::backend::backend()?.job_retry_edited(queue, id, payload, csrf).await
}

#[server(endpoint = "job_duplicate")]
pub async fn job_duplicate(queue: String, id: String, csrf: String) -> Result<String, AppError> {
    crate::backend::backend()?.job_duplicate(queue, id, csrf).await
}

/// One job: payload and result (always as text), options, attempts with their errors,
/// log lines, progress, and the actions its state allows.
#[component]
pub fn JobPage() -> impl IntoView {
    let params = use_params_map();
    let queue = move || params.read().get("name").unwrap_or_default();
    let id = move || params.read().get("id").unwrap_or_default();
    let action = ServerAction::<JobAction>::new();
    let edit = ServerAction::<JobRetryEdited>::new();
    let duplicate = ServerAction::<JobDuplicate>::new();
    // Follows this job on the live feed: a change of state reloads the page's data (attempts,
    // result, error, actions); progress redraws the bar alone.
    let feed = provide_live_feed(format!("job:{}/{}", queue(), id()));
    let live_state = Memo::new(move |_| feed.jobs.with(|jobs| jobs.get(&id()).map(|j| j.state())));
    let live_progress = Signal::derive(move || feed.jobs.with(|jobs| jobs.get(&id()).and_then(|j| j.progress.clone())));
    let job = Resource::new(
        move || (queue(), id(), action.version().get(), edit.version().get(), live_state.get(), feed.resync.get()),
        |(q, i, ..)| get_job(q, i),
    );
    let viewer = use_viewer();
    let i18n = use_i18n();
    Effect::new(move |_| {
        // A removed job has no page any more: back to its queue.
        if let Some(Ok(())) = action.value().get()
            && action.input().get().is_some_and(|input| input.action == "remove")
        {
            reload_to(&format!("/queues/{}", queue()));
        }
    });
    // A copy made: its page, loaded afresh (this page's feed follows the original).
    Effect::new(move |_| {
        if let Some(Ok(copy)) = duplicate.value().get() {
            let queue = params.with_untracked(|params| params.get("name").unwrap_or_default());
            reload_to(&format!("/queues/{queue}/jobs/{copy}"));
        }
    });
    let action_error = move || {
        let failed = |value: Option<Result<_, AppError>>| value.and_then(|r| r.err()).map(|e| error_text(&e));
        failed(action.value().get())
            .or_else(|| failed(edit.value().get()))
            .or_else(|| failed(duplicate.value().get().map(|r| r.map(|_| ()))))
    };
    view! {
        <SignInGuard/>
        <section class="page">
            <Transition fallback=move || view! { <p>{t!(i18n, "common-loading")}</p> }>
                {move || {
                    job.get()
                        .map(|result| match result {
                            Err(error) => view! { <p class="error" role="alert">{error_text(&error)}</p> }.into_any(),
                            Ok(job) => {
                                let csrf = viewer.get().and_then(|v| v.ok().flatten()).map(|v| v.csrf).unwrap_or_default();
                                view! { <JobView job csrf action edit duplicate live_progress/> }.into_any()
                            }
                        })
                }}
            </Transition>
            {move || action_error().map(|message| view! { <p class="error" role="alert">{message}</p> })}
        </section>
    }
}

#[component]
fn JobView(
    job: JobDetail,
    csrf: String,
    action: ServerAction<JobAction>,
    edit: ServerAction<JobRetryEdited>,
    duplicate: ServerAction<JobDuplicate>,
    live_progress: Signal<Option<ProgressView>>,
) -> impl IntoView {
    let i18n = use_i18n();
    let (cancel, remove) = (("cancel", msg("job-action-cancel")), ("remove", msg("job-action-remove")));
    let (promote, retry) = (("promote", msg("job-action-promote")), ("retry", msg("job-action-retry")));
    let actions: Vec<(&str, &str)> = match job.state.as_str() {
        "waiting" => vec![cancel, remove],
        "delayed" | "retrying" => vec![promote, cancel, remove],
        "active" => vec![cancel],
        "dead" | "cancelled" | "expired" => vec![retry, remove],
        _ => vec![remove],
    };
    let buttons = job.can_operate.then(|| {
        actions
            .into_iter()
            .map(|(name, label)| {
                let (queue, id, csrf) = (job.queue.clone(), job.id.clone(), csrf.clone());
                view! {
                    <ActionForm action=action attr:class="inline">
                        <input type="hidden" name="queue" value=queue/>
                        <input type="hidden" name="id" value=id/>
                        <input type="hidden" name="action" value=name/>
                        <input type="hidden" name="csrf" value=csrf/>
                        <button type="submit">{i18n.text(label)}</button>
                    </ActionForm>
                }
            })
            .collect_view()
    });
    let truncated = job.payload_bytes > job.payload.len();
    // From when it could first run (not when it was enqueued with a delay) to its start;
    // the last attempt's run time.
    let waited = job.started_at.map(|started| started.saturating_sub(job.run_at.max(job.created_at)).max(0) as u64);
    let ran =
        job.started_at.zip(job.finished_at).map(|(started, finished)| finished.saturating_sub(started).max(0) as u64);
    view! {
        <p class="crumbs">
            {
                // The queue's page is for staff: an end user reads its name, with no link to
                // a page that would only send them back.
                let (queue, viewer) = (job.queue.clone(), use_viewer());
                move || match viewer.get() {
                    Some(Ok(Some(v))) if v.is_staff() => {
                        view! { <a href=crate::mount_path::href(&format!("/queues/{queue}"))>{queue.clone()}</a> }
                            .into_any()
                    }
                    _ => view! { <span>{queue.clone()}</span> }.into_any(),
                }
            }
            " / "
            <span class="mono">{job.id.clone()}</span>
        </p>
        <h1>
            {job.name.clone()}
            <span class=format!("badge badge-state badge-{}", job.state)>{i18n.job_state(&job.state)}</span>
        </h1>
        <div class="toolbar">
            {buttons}
            {job
                .can_operate
                .then(|| {
                    view! { <DuplicateButton queue=job.queue.clone() id=job.id.clone() csrf=csrf.clone() duplicate/> }
                })}
        </div>
        {(job.can_operate && matches!(job.state.as_str(), "dead" | "cancelled"))
            .then(|| {
                // Only a payload the page holds whole can be edited here.
                let payload = (!truncated).then(|| job.payload.clone());
                view! { <EditAndRetry queue=job.queue.clone() id=job.id.clone() payload csrf=csrf.clone() edit/> }
            })}
        {crate::components::enqueue_as_curl::enqueue_as_curl(&job).map(|command| view! { <EnqueueAsCurl command/> })}
        {
            let rendered = job.progress.clone();
            move || live_progress.get().or_else(|| rendered.clone()).map(|progress| view! { <ProgressBar progress/> })
        }
        <dl class="facts">
            <dt>{t!(i18n, "job-owner")}</dt>
            <dd>{job.owner.clone().unwrap_or_else(|| "—".into())}</dd>
            {job.group.clone().map(|group| view! {
                <dt>{t!(i18n, "job-group")}</dt>
                <dd data-group="">{group}</dd>
            })}
            <dt>{t!(i18n, "job-attempts")}</dt>
            <dd>{t!(i18n, "job-attempts-of", attempts = job.attempts, max = job.max_attempts)}</dd>
            <dt>{t!(i18n, "job-priority")}</dt>
            <dd>{job.priority}</dd>
            <dt>{t!(i18n, "job-timeout")}</dt>
            <dd>{job.timeout_ms.map(|ms| i18n.duration(ms)).unwrap_or_else(|| t!(i18n, "job-timeout-none"))}</dd>
            {job.expires_at.map(|at| view! {
                <dt>{t!(i18n, "job-start-by")}</dt>
                <dd data-start-by=""><When at/></dd>
            })}
            <dt>{t!(i18n, "job-dedup-key")}</dt>
            <dd>{job.dedup_key.clone().unwrap_or_else(|| "—".into())}</dd>
            <dt>{t!(i18n, "job-created")}</dt>
            <dd><When at=job.created_at/></dd>
            <dt>{t!(i18n, "job-runs-at")}</dt>
            <dd><When at=job.run_at/></dd>
            <dt>{t!(i18n, "job-started")}</dt>
            <dd>
                {match job.started_at {
                    Some(at) => view! { <When at/> }.into_any(),
                    None => "—".into_any(),
                }}
            </dd>
            <dt>{t!(i18n, "job-finished")}</dt>
            <dd>
                {match job.finished_at {
                    Some(at) => view! { <When at/> }.into_any(),
                    None => "—".into_any(),
                }}
            </dd>
            {waited.map(|ms| view! { <dt>{t!(i18n, "job-waited")}</dt> <dd>{i18n.duration(ms)}</dd> })}
            {ran.map(|ms| view! { <dt>{t!(i18n, "job-ran-for")}</dt> <dd>{i18n.duration(ms)}</dd> })}
            <dt>{t!(i18n, "job-worker")}</dt>
            <dd>{job.worker.clone().unwrap_or_else(|| "—".into())}</dd>
        </dl>
        <h2>{t!(i18n, "job-payload")}</h2>
        <pre class="json" data-field="payload">{job.payload.clone()}</pre>
        {truncated
            .then(|| {
                view! {
                    <p class="note">
                        {t!(i18n, "job-payload-cut", shown = job.payload.len(), total = job.payload_bytes)}
                        " "
                        <a href=crate::mount_path::href(
                            &format!("/api/v1/queues/{}/jobs/{}", job.queue, job.id),
                        )>{t!(i18n, "job-payload-show-all")}</a>
                    </p>
                }
            })}
        {job
            .result
            .clone()
            .map(|result| {
                view! {
                    <h2>{t!(i18n, "job-result")}</h2>
                    <pre class="json" data-field="result">{result}</pre>
                }
            })}
        <h2>{t!(i18n, "job-timeline")}</h2>
        <AttemptTimeline job=job.clone()/>
        <h2>{t!(i18n, "job-attempts")}</h2>
        {if job.errors.is_empty() {
            view! { <p class="empty">{t!(i18n, "job-no-failed-attempts")}</p> }.into_any()
        } else {
            view! {
                <ol class="timeline">
                    {job
                        .errors
                        .iter()
                        .map(|e| {
                            view! {
                                <li>
                                    <strong>{t!(i18n, "job-attempt-heading", attempt = e.attempt, kind = error_kind(i18n, &e.kind))}</strong>
                                    " "
                                    <span class="muted"><When at=e.at/></span>
                                    <pre class="error-text">{e.message.clone()}</pre>
                                    {(!e.causes.is_empty())
                                        .then(|| {
                                            view! {
                                                <ul class="causes" translate="no">
                                                    {e.causes.iter().map(|c| view! { <li>{c.clone()}</li> }).collect_view()}
                                                </ul>
                                            }
                                        })}
                                </li>
                            }
                        })
                        .collect_view()}
                </ol>
            }
                .into_any()
        }}
        <h2>{t!(i18n, "job-log")}</h2>
        {if job.logs.is_empty() {
            view! { <p class="empty">{t!(i18n, "job-no-log-lines")}</p> }.into_any()
        } else {
            view! { <pre class="log">{job.logs.join("\n")}</pre> }.into_any()
        }}
    }
}

#[component]
pub fn ProgressBar(progress: ProgressView) -> impl IntoView {
    let i18n = use_i18n();
    let percent = progress.percent.unwrap_or(0.0).clamp(0.0, 100.0);
    let shown = t!(i18n, "job-progress-percent", percent = percent);
    let eta = progress.eta_ms.map(|ms| format!(" · {}", t!(i18n, "job-progress-eta", duration = i18n.duration(ms))));
    view! {
        <div class="progress-block">
            <progress max="100" value=percent aria-label=t!(i18n, "job-progress")>{shown.clone()}</progress>
            <span>
                {shown}
                // The handler's own words: data, not the dashboard's.
                {progress.stage.map(|s| view! { " · " <span translate="no">{s}</span> })}
                {eta}
                {progress.message.map(|m| view! { " · " <span translate="no">{m}</span> })}
            </span>
        </div>
    }
}

/// Enqueues a copy of the job and opens the copy's page.
#[component]
fn DuplicateButton(queue: String, id: String, csrf: String, duplicate: ServerAction<JobDuplicate>) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <ActionForm action=duplicate attr:class="inline">
            <input type="hidden" name="queue" value=queue/>
            <input type="hidden" name="id" value=id/>
            <input type="hidden" name="csrf" value=csrf/>
            <button type="submit">{t!(i18n, "job-duplicate")}</button>
        </ActionForm>
    }
}

/// A dead or cancelled job's payload in an editor, to fix and retry with (the job keeps
/// its id, name and options; its attempts start afresh).
#[component]
fn EditAndRetry(
    queue: String,
    id: String,
    /// `None` when the page holds only part of it.
    payload: Option<String>,
    csrf: String,
    edit: ServerAction<JobRetryEdited>,
) -> impl IntoView {
    let i18n = use_i18n();
    let Some(payload) = payload else {
        return view! { <p class="note">{t!(i18n, "job-edit-too-large")}</p> }.into_any();
    };
    view! {
        <details class="confirm edit-payload">
            <summary>{t!(i18n, "job-edit-summary")}</summary>
            <ActionForm action=edit attr:class="form">
                <input type="hidden" name="queue" value=queue/>
                <input type="hidden" name="id" value=id/>
                <input type="hidden" name="csrf" value=csrf/>
                <label for="edited-payload">{t!(i18n, "job-edit-payload-label")}</label>
                <textarea id="edited-payload" name="payload" rows="10" spellcheck="false" class="mono">
                    {payload}
                </textarea>
                <button type="submit">{t!(i18n, "job-edit-retry")}</button>
            </ActionForm>
        </details>
    }
    .into_any()
}

/// What happened to the job, in order, with the time each step took: created, each
/// failed attempt, the last start, and how it ended.
#[component]
fn AttemptTimeline(job: JobDetail) -> impl IntoView {
    let i18n = use_i18n();
    let mut steps: Vec<(i64, &'static str, String)> = vec![(job.created_at, "created", t!(i18n, "job-step-created"))];
    for error in &job.errors {
        let label = t!(i18n, "job-step-failed", attempt = error.attempt, kind = error_kind(i18n, &error.kind));
        steps.push((error.at, "failed", label));
    }
    if let Some(started) = job.started_at {
        steps.push((started, "active", t!(i18n, "job-step-started", attempt = job.attempts.max(1))));
    }
    if let Some(finished) = job.finished_at {
        let kind = if job.state == "completed" { "completed" } else { "ended" };
        steps.push((finished, kind, t!(i18n, "job-step-ended", state = i18n.job_state(&job.state))));
    }
    steps.sort_by_key(|(at, ..)| *at);
    let mut previous = None;
    view! {
        <ol class="attempt-timeline">
            {steps
                .into_iter()
                .map(|(at, kind, label)| {
                    let gap = previous.map(|before: i64| format!("+{}", i18n.duration(at.saturating_sub(before).max(0) as u64)));
                    previous = Some(at);
                    view! {
                        <li class=format!("step step-{kind}") data-step=kind>
                            <span class="step-label">{label}</span>
                            " "
                            <When at/>
                            {gap.map(|gap| view! { " " <span class="muted step-gap">{gap}</span> })}
                        </li>
                    }
                })
                .collect_view()}
        </ol>
    }
}

/// How an attempt failed (`retryable`, `permanent`, `timeout`, `panic`, `stalled`); an
/// unknown kind as it is.
fn error_kind(i18n: I18n, kind: &str) -> String {
    match kind {
        "retryable" => t!(i18n, "job-error-retryable"),
        "permanent" => t!(i18n, "job-error-permanent"),
        "timeout" => t!(i18n, "job-error-timeout"),
        "panic" => t!(i18n, "job-error-panic"),
        "stalled" => t!(i18n, "job-error-stalled"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::error_kind;
    use crate::i18n::{I18n, Language};
    use crate::t;

    #[test]
    fn job_texts_read_as_before() {
        let i18n = I18n::new(Language::En);
        assert_eq!(t!(i18n, "job-progress-percent", percent = 45.6f64), "46%");
        assert_eq!(t!(i18n, "job-attempts-of", attempts = 2u32, max = 3u32), "2 of 3");
        let kind = error_kind(i18n, "timeout");
        assert_eq!(t!(i18n, "job-step-failed", attempt = 1u32, kind = kind), "Attempt 1 failed (timeout)");
        let shown = t!(i18n, "job-payload-cut", shown = 65_536usize, total = 100_000usize);
        assert_eq!(shown, "Showing the first 65,536 of 100,000 bytes.");
        let i18n = I18n::new(Language::Mn);
        assert_eq!(t!(i18n, "job-step-ended", state = i18n.job_state("dead")), "Төгссөн: үхсэн");
    }
}
