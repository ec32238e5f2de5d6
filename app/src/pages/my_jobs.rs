use crate::components::data_table::DataTable;
use crate::components::when::When;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::components::live::{LiveFeed, provide_live_feed};
use crate::components::sign_in_guard::SignInGuard;
use crate::pages::job::ProgressBar;
use crate::session::{error_text, use_viewer};
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
    let sync_error = move || sync.value().get().and_then(|r| r.err()).map(|e| error_text(&e));
    view! {
        <SignInGuard/>
        <section class="page">
            <h1>"My jobs"</h1>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
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
    view! {
        <h2>"Bank connections"</h2>
        {if mine.connections.is_empty() {
            view! { <p class="empty">"No connections."</p> }.into_any()
        } else {
            view! {
                <DataTable caption="Bank connections" class="jobs connections" columns=&["Bank", "Status", "Last synced", "Transactions", ""]>
                            {mine
                                .connections
                                .into_iter()
                                .map(|c| {
                                    let csrf = csrf.clone();
                                    let label = format!("Sync {} now", c.institution);
                                    view! {
                                        <tr data-connection=c.id>
                                            <td>{c.institution.clone()}</td>
                                            <td>{c.status.clone()}</td>
                                            <td>{c.last_synced_at.map(|ms| crate::i18n::use_i18n().date_time(ms)).unwrap_or_else(|| "never".into())}</td>
                                            <td>{c.transactions}</td>
                                            <td>
                                                <ActionForm action=sync attr:class="inline">
                                                    <input type="hidden" name="connection_id" value=c.id/>
                                                    <input type="hidden" name="csrf" value=csrf/>
                                                    <button type="submit" aria-label=label>"Sync now"</button>
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
        <h2>"Sync jobs"</h2>
        {if mine.jobs.is_empty() {
            view! { <p class="empty">"No jobs yet."</p> }.into_any()
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
            <span class="badge badge-state" data-state=state>{state}</span>
            " "
            <span class="muted"><When at=job.created_at/></span>
            {move || view! { <ProgressBar progress=progress.get()/> }}
        </li>
    }
}
