use crate::components::data_table::DataTable;
use crate::components::when::When;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::components::live::{LiveFeed, provide_live_feed};
use crate::components::sign_in_guard::SignInGuard;
use crate::i18n::{I18n, use_i18n};
use crate::pages::job::ProgressBar;
use crate::session::{error_text, use_viewer};
use crate::t;
use crate::types::{MyJob, MyJobs};

#[server(input = GetUrl, endpoint = "get_my_jobs")]
pub async fn get_my_jobs() -> Result<MyJobs, AppError> {
    crate::backend::backend()?.my_jobs().await
}

#[server(endpoint = "sync_connection")]
pub async fn sync_connection(connection_id: i64, csrf: String) -> Result<String, AppError> {
    crate::backend::backend()?.sync_connection(connection_id, csrf).await
}

/// An end user's bank connections with "sync now", and their own sync jobs with live
/// progress bars.
#[component]
pub fn MyJobsPage() -> impl IntoView {
    let feed = provide_live_feed("mine".to_string());
    let sync = ServerAction::<SyncConnection>::new();
    let data = Resource::new(move || (sync.version().get(), feed.resync.get()), |_| get_my_jobs());
    let viewer = use_viewer();
    let i18n = use_i18n();
    let sync_error = move || sync.value().get().and_then(|r| r.err()).map(|e| error_text(&e));
    view! {
        <SignInGuard/>
        <section class="page">
            <h1>{t!(i18n, "my-jobs-title")}</h1>
            <Transition fallback=move || view! { <p>{t!(i18n, "common-loading")}</p> }>
                {move || {
                    data.get()
                        .map(|result| match result {
                            Err(error) => view! { <p class="error" role="alert">{error_text(&error)}</p> }.into_any(),
                            Ok(mine) => {
                                let csrf = viewer.get().and_then(|v| v.ok().flatten()).map(|v| v.csrf).unwrap_or_default();
                                view! { <Mine mine csrf sync feed/> }.into_any()
                            }
                        })
                }}
            </Transition>
            {move || sync_error().map(|message| view! { <p class="error" role="alert">{message}</p> })}
        </section>
    }
}

#[component]
fn Mine(mine: MyJobs, csrf: String, sync: ServerAction<SyncConnection>, feed: LiveFeed) -> impl IntoView {
    let i18n = use_i18n();
    let columns = vec![
        t!(i18n, "my-jobs-col-bank"),
        t!(i18n, "my-jobs-col-status"),
        t!(i18n, "my-jobs-col-last-synced"),
        t!(i18n, "my-jobs-col-transactions"),
        String::new(),
    ];
    view! {
        <h2>{t!(i18n, "my-jobs-connections")}</h2>
        {if mine.connections.is_empty() {
            view! { <p class="empty">{t!(i18n, "my-jobs-no-connections")}</p> }.into_any()
        } else {
            view! {
                <DataTable caption=t!(i18n, "my-jobs-connections") class="jobs connections" columns=columns>
                            {mine
                                .connections
                                .into_iter()
                                .map(|c| {
                                    let csrf = csrf.clone();
                                    let label = t!(i18n, "my-jobs-sync-label", bank = c.institution.clone());
                                    view! {
                                        <tr data-connection=c.id>
                                            <td translate="no">{c.institution.clone()}</td>
                                            <td>{connection_status(i18n, &c.status)}</td>
                                            <td>
                                                {c
                                                    .last_synced_at
                                                    .map(|ms| i18n.date_time(ms))
                                                    .unwrap_or_else(|| t!(i18n, "my-jobs-never"))}
                                            </td>
                                            <td>{i18n.number(c.transactions.max(0) as u64)}</td>
                                            <td>
                                                <ActionForm action=sync attr:class="inline">
                                                    <input type="hidden" name="connection_id" value=c.id/>
                                                    <input type="hidden" name="csrf" value=csrf/>
                                                    <button type="submit" aria-label=label>{t!(i18n, "my-jobs-sync-now")}</button>
                                                </ActionForm>
                                            </td>
                                        </tr>
                                    }
                                })
                                .collect_view()}
                        </DataTable>
            }
                .into_any()
        }}
        <h2>{t!(i18n, "my-jobs-sync-jobs")}</h2>
        {if mine.jobs.is_empty() {
            view! { <p class="empty">{t!(i18n, "my-jobs-no-jobs")}</p> }.into_any()
        } else {
            view! {
                <ul class="my-jobs">
                    {mine.jobs.into_iter().map(|job| view! { <MyJobRow job feed/> }).collect_view()}
                </ul>
            }
                .into_any()
        }}
    }
}

#[component]
fn MyJobRow(job: MyJob, feed: LiveFeed) -> impl IntoView {
    let i18n = use_i18n();
    let id = job.id.clone();
    let live = Memo::new(move |_| feed.jobs.with(|jobs| jobs.get(&id).cloned()));
    let initial_state = job.state.clone();
    let initial_progress = job.progress.clone();
    // The feed's newest word on the job, else what the page was rendered with.
    let state = Signal::derive(move || live.get().map(|l| l.state()).unwrap_or_else(|| initial_state.clone()));
    let progress = Signal::derive(move || {
        live.get().and_then(|l| l.progress).or_else(|| initial_progress.clone()).unwrap_or_default()
    });
    view! {
        <li class="my-job" data-job=job.id.clone()>
            <a class="mono" href=crate::mount_path::href(&format!("/queues/{}/jobs/{}", job.queue, job.id))>{job.name.clone()}</a>
            " "
            <span class="badge badge-state" data-state=state>{move || state.with(|s| i18n.job_state(s))}</span>
            " "
            <span class="muted"><When at=job.created_at/></span>
            {move || view! { <ProgressBar progress=progress.get()/> }}
        </li>
    }
}

/// A bank connection's status (`active`, `syncing`, `requires_reauth`, `error`); an
/// unknown one as it is.
fn connection_status(i18n: I18n, status: &str) -> String {
    match status {
        "active" => t!(i18n, "my-jobs-connection-active"),
        "syncing" => t!(i18n, "my-jobs-connection-syncing"),
        "requires_reauth" => t!(i18n, "my-jobs-connection-requires-reauth"),
        "error" => t!(i18n, "my-jobs-connection-error"),
        other => other.to_string(),
    }
}
