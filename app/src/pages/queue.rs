use crate::components::data_table::DataTable;
use crate::components::sign_in_guard::SignInGuard;
use crate::components::when::When;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::components::confirm::Confirm;
use crate::components::live::{LiveStatus, provide_live_feed, reread_on_change, use_live_feed};
use crate::components::queue_limits::{QueueLimits, QueueSetLimits};
use crate::components::queue_settings::QueueSettings;
use crate::format::{decimal, query_value};
use crate::i18n::use_i18n;
use crate::session::{error_text, use_viewer};
use crate::t;
use crate::types::{JobRow, QueueCounts, QueuePage};

const STATES: [&str; 8] = ["waiting", "active", "delayed", "retrying", "completed", "dead", "cancelled", "expired"];

#[server(input = GetUrl, endpoint = "get_queue_page")]
pub async fn get_queue_page(
    queue: String,
    state: String,
    cursor: u64,
    search: Option<String>,
) -> Result<QueuePage, AppError> {
    crate::backend::backend()?.queue_page(queue, state, cursor, search).await
}

#[server(endpoint = "queue_maintain")]
pub async fn queue_maintain(
    queue: String,
    action: String,
    state: Option<String>,
    older_than_minutes: Option<u64>,
    csrf: String,
) -> Result<u64, AppError> {
    crate::backend::backend()?.queue_maintain(queue, action, state, older_than_minutes, csrf).await
}

#[server(endpoint = "queue_action")]
pub async fn queue_action(queue: String, action: String, csrf: String) -> Result<(), AppError> {
    crate::backend::backend()?.queue_action(queue, action, csrf).await
}

/// One queue: a tab per state with its count, the jobs of the chosen state, and pause or
/// resume for those allowed.
#[component]
pub fn QueuePageView() -> impl IntoView {
    let i18n = use_i18n();
    let params = use_params_map();
    let query = use_query_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let state = move || query.read().get("state").filter(|s| STATES.contains(&s.as_str())).unwrap_or("waiting".into());
    let cursor = move || query.read().get("cursor").and_then(|c| c.parse::<u64>().ok()).unwrap_or(0);
    let search = move || query.read().get("q").filter(|q| !q.trim().is_empty());
    let action = ServerAction::<QueueAction>::new();
    let maintain = ServerAction::<QueueMaintain>::new();
    let set_limits = ServerAction::<QueueSetLimits>::new();
    // Counts of every queue, pushed as they change; this page reads its own.
    let feed = provide_live_feed("counts".to_string());
    let page = Resource::new(
        move || {
            let versions = (action.version().get(), maintain.version().get(), set_limits.version().get());
            (name(), state(), cursor(), search(), versions, feed.resync.get())
        },
        |(name, state, cursor, search, ..)| get_queue_page(name, state, cursor, search),
    );
    let viewer = use_viewer();
    let action_error = move || action.value().get().and_then(|r| r.err()).map(|e| error_text(&e));
    let maintained = move || {
        maintain.value().get().map(|result| match result {
            Ok(n) => view! { <p role="status" class="note">{t!(i18n, "queue-maintained", count = n)}</p> }.into_any(),
            Err(e) => view! { <p role="alert" class="error">{error_text(&e)}</p> }.into_any(),
        })
    };
    view! {
        <SignInGuard staff_only=true/>
        <section class="page">
            <LiveStatus feed/>
            <Transition fallback=move || view! { <p>{t!(i18n, "common-loading")}</p> }>
                {move || {
                    page.get()
                        .map(|result| match result {
                            Err(error) => {
                                view! { <p class="error" role="alert">{error_text(&error)}</p> }.into_any()
                            }
                            Ok(page) => {
                                let csrf = viewer.get().and_then(|v| v.ok().flatten()).map(|v| v.csrf).unwrap_or_default();
                                view! { <QueueView page csrf action maintain set_limits cursor=cursor()/> }.into_any()
                            }
                        })
                }}
            </Transition>
            {move || action_error().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            {maintained}
        </section>
    }
}

#[component]
fn QueueView(
    page: QueuePage,
    csrf: String,
    action: ServerAction<QueueAction>,
    maintain: ServerAction<QueueMaintain>,
    set_limits: ServerAction<QueueSetLimits>,
    /// Where in the state's jobs this page starts.
    cursor: u64,
) -> impl IntoView {
    let i18n = use_i18n();
    let name = page.name.clone();
    let searching = page.search.is_some();
    let live = LiveRows::follow(&page, cursor);
    let counts = live.counts;
    // Paused or resumed elsewhere: the button follows the badge.
    let limits_csrf = csrf.clone();
    let toggle = move || if counts.get().paused { "resume" } else { "pause" };
    let label = move || if counts.get().paused { t!(i18n, "queue-resume") } else { t!(i18n, "queue-pause") };
    view! {
        <h1>
            {page.name.clone()}
            {move || counts.get().paused.then(|| view! { <span class="badge badge-paused">{i18n.job_state("paused")}</span> })}
        </h1>
        {page
            .can_operate
            .then(|| {
                let (maintain_queue, maintain_csrf) = (name.clone(), csrf.clone());
                view! {
                    <div class="toolbar">
                        <ActionForm action=action attr:class="inline">
                            <input type="hidden" name="queue" value=name.clone()/>
                            <input type="hidden" name="action" value=toggle/>
                            <input type="hidden" name="csrf" value=csrf.clone()/>
                            <button type="submit">{label}</button>
                        </ActionForm>
                        <Maintenance queue=maintain_queue state=page.state.clone() csrf=maintain_csrf maintain/>
                    </div>
                }
            })}
        <QueueLimits
            queue=page.name.clone()
            limits=page.limits.clone()
            can_operate=page.can_operate
            csrf=limits_csrf
            set=set_limits
        />
        <QueueSettings settings=page.settings.clone()/>
        <form method="get" class="filters" role="search" aria-label=t!(i18n, "queue-find-jobs")>
            <input type="hidden" name="state" value=page.state.clone()/>
            <label for="job-search">{t!(i18n, "queue-search-label")}</label>
            <input id="job-search" name="q" value=page.search.clone().unwrap_or_default()/>
            <button type="submit">{t!(i18n, "queue-search")}</button>
            {searching
                .then(|| {
                    view! {
                        <a href=crate::mount_path::href(
                            &format!("/queues/{}?state={}", page.name, page.state),
                        )>{t!(i18n, "queue-clear")}</a>
                    }
                })}
        </form>
        <nav class="tabs" aria-label=t!(i18n, "queue-states")>
            {STATES
                .iter()
                .map(|s| {
                    let current = *s == page.state;
                    let count = move || i18n.number(counts.get().get(s).unwrap_or(0));
                    view! {
                        <a
                            href=crate::mount_path::href(&format!("/queues/{}?state={s}", page.name))
                            aria-current=current.then_some("page")
                            class=format!("tab-{s}")
                            class:current=current
                        >
                            {i18n.job_state(s)}
                            " "
                            <span class="tab-count">{count}</span>
                        </a>
                    }
                })
                .collect_view()}
        </nav>
        {move || {
            let (jobs, next) = live.rows.get();
            let (queue, state) = (page.name.clone(), page.state.clone());
            let search = page.search.as_deref().map(|q| format!("&q={}", query_value(q))).unwrap_or_default();
            view! {
                <JobTable jobs queue=queue.clone()/>
                {next
                    .map(|next| {
                        view! {
                            <p>
                                <a href=crate::mount_path::href(
                                    &format!("/queues/{queue}?state={state}&cursor={next}{search}"),
                                )>{t!(i18n, "queue-next-page")}</a>
                            </p>
                        }
                    })}
            }
        }}
    }
}

/// The queue's counts and the rows on screen, kept current from the live feed: the
/// counts as pushed, the rows read again when this queue's counts change, at most once a
/// second however busy the queue (a job that changes state changes the counts).
#[derive(Clone, Copy)]
struct LiveRows {
    counts: Memo<QueueCounts>,
    rows: RwSignal<(Vec<JobRow>, Option<u64>)>,
}

impl LiveRows {
    fn follow(page: &QueuePage, cursor: u64) -> Self {
        let feed = use_live_feed();
        let (name, rendered) = (page.name.clone(), page.counts.clone());
        // A memo: only a change of this queue's counts notifies (the feed pushes every
        // busy queue's several times a second).
        let counts = Memo::new(move |_| {
            feed.and_then(|feed| feed.counts.with(|all| all.get(&name).cloned())).unwrap_or_else(|| rendered.clone())
        });
        let rows = RwSignal::new((page.jobs.clone(), page.next));
        let (queue, state, search) = (page.name.clone(), page.state.clone(), page.search.clone());
        reread_on_change(
            counts,
            move || {
                let (queue, state, search) = (queue.clone(), state.clone(), search.clone());
                async move { get_queue_page(queue, state, cursor, search).await.ok().map(|page| (page.jobs, page.next)) }
            },
            rows,
        );
        LiveRows { counts, rows }
    }
}

/// The hidden fields of a maintenance form.
fn maintenance_fields(queue: &str, action: &'static str, state: &str, csrf: &str) -> impl IntoView + use<> {
    let (queue, state, csrf) = (queue.to_string(), state.to_string(), csrf.to_string());
    view! {
        <input type="hidden" name="queue" value=queue/>
        <input type="hidden" name="action" value=action/>
        <input type="hidden" name="state" value=state/>
        <input type="hidden" name="csrf" value=csrf/>
    }
}

/// Drain, clean and retry-all, each behind a disclosure that says what it will do and
/// asks to confirm (works without JavaScript too).
#[component]
fn Maintenance(queue: String, state: String, csrf: String, maintain: ServerAction<QueueMaintain>) -> impl IntoView {
    let i18n = use_i18n();
    let retryable = matches!(state.as_str(), "dead" | "cancelled" | "expired" | "retrying");
    let cleanable = matches!(state.as_str(), "completed" | "dead" | "cancelled" | "expired" | "waiting" | "delayed");
    let fields = |action| maintenance_fields(&queue, action, &state, &csrf);
    let (drain, clean, retry) = (fields("drain"), fields("clean"), fields("retry-all"));
    // The state's name in the page's language.
    let name = i18n.job_state(&state);
    let (age_label, clean_button) =
        (t!(i18n, "queue-clean-age", state = name.clone()), t!(i18n, "queue-clean-button", state = name.clone()));
    let (clean_summary, retry_summary) =
        (t!(i18n, "queue-clean-summary", state = name.clone()), t!(i18n, "queue-retry-summary", state = name.clone()));
    let retry_warning = t!(i18n, "queue-retry-warning", state = name.clone());
    let retry_button = t!(i18n, "queue-retry-button", state = name);
    view! {
        <Confirm summary=t!(i18n, "queue-drain-summary") warning=t!(i18n, "queue-drain-warning")>
            <ActionForm action=maintain attr:class="inline">
                {drain}
                <button type="submit" class="danger">{t!(i18n, "queue-drain-button")}</button>
            </ActionForm>
        </Confirm>
        {cleanable
            .then(|| {
                view! {
                    <Confirm summary=clean_summary>
                        <ActionForm action=maintain attr:class="inline">
                            {clean}
                            <label for="clean-age">{age_label}</label>
                            <input id="clean-age" name="older_than_minutes" type="number" min="0" value="60"/>
                            <button type="submit" class="danger">{clean_button}</button>
                        </ActionForm>
                    </Confirm>
                }
            })}
        {retryable
            .then(|| {
                view! {
                    <Confirm summary=retry_summary warning=retry_warning>
                        <ActionForm action=maintain attr:class="inline">
                            {retry}
                            <button type="submit">{retry_button}</button>
                        </ActionForm>
                    </Confirm>
                }
            })}
    }
}

#[component]
fn JobTable(jobs: Vec<JobRow>, queue: String) -> impl IntoView {
    let i18n = use_i18n();
    if jobs.is_empty() {
        return view! { <p class="empty">{t!(i18n, "queue-no-jobs")}</p> }.into_any();
    }
    let columns = vec![
        t!(i18n, "queue-column-id"),
        t!(i18n, "queue-column-name"),
        t!(i18n, "queue-column-owner"),
        t!(i18n, "queue-column-created"),
        t!(i18n, "queue-column-attempts"),
        t!(i18n, "queue-column-progress"),
    ];
    view! {
        <DataTable caption=t!(i18n, "queue-jobs-caption") class="jobs" columns=columns>
                    {jobs
                        .into_iter()
                        .map(|job| {
                            let percent = job.percent.unwrap_or(0.0).clamp(0.0, 100.0);
                            view! {
                                <tr data-job=job.id.clone()>
                                    <td class="mono">
                                        <a href=crate::mount_path::href(&format!("/queues/{queue}/jobs/{}", job.id))>{job.id.clone()}</a>
                                    </td>
                                    <td>{job.name}</td>
                                    <td>{job.owner.unwrap_or_default()}</td>
                                    <td><When at=job.created_at/></td>
                                    <td>{format!("{}/{}", i18n.number(job.attempts.into()), i18n.number(job.max_attempts.into()))}</td>
                                    <td>
                                        {job
                                            .percent
                                            .map(|_| {
                                                view! {
                                                    <progress max="100" value=percent>
                                                        {format!("{}%", decimal(i18n.language(), percent, 0))}
                                                    </progress>
                                                    " "
                                                    <span translate="no">{job.stage.clone().unwrap_or_default()}</span>
                                                }
                                            })}
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </DataTable>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use crate::i18n::{I18n, Language};
    use crate::t;

    #[test]
    fn maintenance_texts_count_jobs() {
        let i18n = I18n::new(Language::En);
        assert_eq!(t!(i18n, "queue-maintained", count = 3), "Done: 3 jobs.");
        assert_eq!(t!(i18n, "queue-maintained", count = 1), "Done: 1 job.");
        let state = i18n.job_state("dead");
        assert_eq!(t!(i18n, "queue-retry-summary", state = state), "Retry all dead…");
        let i18n = I18n::new(Language::Mn);
        assert_eq!(t!(i18n, "queue-maintained", count = 1_200), "Дууслаа: 1,200 ажил.");
    }
}
