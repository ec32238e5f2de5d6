use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::components::table_head::TableHead;
use crate::format::utc;
use crate::session::{error_text, get_viewer};
use crate::types::{JobRow, QueuePage};

const STATES: [&str; 7] = ["waiting", "active", "delayed", "retrying", "completed", "dead", "cancelled"];

#[server(input = GetUrl)]
pub async fn get_queue_page(queue: String, state: String, cursor: u64) -> Result<QueuePage, ServerFnError> {
    crate::backend::backend()?.queue_page(queue, state, cursor).await.map_err(ServerFnError::new)
}

#[server]
pub async fn queue_action(queue: String, action: String, csrf: String) -> Result<(), ServerFnError> {
    crate::backend::backend()?.queue_action(queue, action, csrf).await.map_err(ServerFnError::new)
}

/// One queue: a tab per state with its count, the jobs of the chosen state, and pause or
/// resume for those allowed.
#[component]
pub fn QueuePageView() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let state = move || query.read().get("state").filter(|s| STATES.contains(&s.as_str())).unwrap_or("waiting".into());
    let cursor = move || query.read().get("cursor").and_then(|c| c.parse::<u64>().ok()).unwrap_or(0);
    let action = ServerAction::<QueueAction>::new();
    let page = Resource::new(
        move || (name(), state(), cursor(), action.version().get()),
        |(name, state, cursor, _)| get_queue_page(name, state, cursor),
    );
    let viewer = Resource::new(|| (), |_| get_viewer());
    let action_error = move || action.value().get().and_then(|r| r.err()).map(|e| error_text(&e));
    view! {
        <section class="page">
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || {
                    page.get()
                        .map(|result| match result {
                            Err(error) => {
                                view! { <p class="error" role="alert">{error_text(&error)}</p> }.into_any()
                            }
                            Ok(page) => {
                                let csrf = viewer.get().and_then(|v| v.ok().flatten()).map(|v| v.csrf).unwrap_or_default();
                                view! { <QueueView page csrf action/> }.into_any()
                            }
                        })
                }}
            </Suspense>
            {move || action_error().map(|message| view! { <p class="error" role="alert">{message}</p> })}
        </section>
    }
}

#[component]
fn QueueView(page: QueuePage, csrf: String, action: ServerAction<QueueAction>) -> impl IntoView {
    let name = page.name.clone();
    let toggle = if page.counts.paused { "resume" } else { "pause" };
    let label = if page.counts.paused { "Resume" } else { "Pause" };
    view! {
        <h1>
            {page.name.clone()}
            {page.counts.paused.then(|| view! { <span class="badge badge-paused">"paused"</span> })}
        </h1>
        {page
            .can_operate
            .then(|| {
                view! {
                    <ActionForm action=action attr:class="inline toolbar">
                        <input type="hidden" name="queue" value=name.clone()/>
                        <input type="hidden" name="action" value=toggle/>
                        <input type="hidden" name="csrf" value=csrf.clone()/>
                        <button type="submit">{label}</button>
                    </ActionForm>
                }
            })}
        <nav class="tabs" aria-label="Job states">
            {STATES
                .iter()
                .map(|s| {
                    let current = *s == page.state;
                    let count = page.counts.get(s).unwrap_or(0);
                    view! {
                        <a
                            href=format!("/queues/{}?state={s}", page.name)
                            aria-current=current.then_some("page")
                            class:current=current
                        >
                            {*s}
                            " "
                            <span class="tab-count">{count}</span>
                        </a>
                    }
                })
                .collect_view()}
        </nav>
        <JobTable jobs=page.jobs.clone() queue=page.name.clone()/>
        {page
            .next
            .map(|next| {
                view! {
                    <p>
                        <a href=format!("/queues/{}?state={}&cursor={next}", page.name, page.state)>"Next page"</a>
                    </p>
                }
            })}
    }
}

#[component]
fn JobTable(jobs: Vec<JobRow>, queue: String) -> impl IntoView {
    if jobs.is_empty() {
        return view! { <p class="empty">"No jobs in this state."</p> }.into_any();
    }
    view! {
        <table class="jobs">
            <TableHead caption="Jobs" columns=&["Id", "Name", "Owner", "Created", "Attempts", "Progress"]/>
            <tbody>
                {jobs
                    .into_iter()
                    .map(|job| {
                        let percent = job.percent.unwrap_or(0.0).clamp(0.0, 100.0);
                        view! {
                            <tr data-job=job.id.clone()>
                                <td class="mono">
                                    <a href=format!("/queues/{queue}/jobs/{}", job.id)>{job.id.clone()}</a>
                                </td>
                                <td>{job.name}</td>
                                <td>{job.owner.unwrap_or_default()}</td>
                                <td>{utc(job.created_at)}</td>
                                <td>{format!("{}/{}", job.attempts, job.max_attempts)}</td>
                                <td>
                                    {job
                                        .percent
                                        .map(|_| {
                                            view! {
                                                <progress max="100" value=percent>{format!("{percent:.0}%")}</progress>
                                                " "
                                                {job.stage.clone().unwrap_or_default()}
                                            }
                                        })}
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
