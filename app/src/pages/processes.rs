//! Processes: every process that runs workers or the scheduler (`hoist serve`, `hoist
//! worker`, an embedding application), what each runs now, and Quiet and Stop for
//! operators. Read again every few seconds, as the processes check in.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::components::confirm::Confirm;
use crate::components::data_table::DataTable;
use crate::components::sign_in_guard::SignInGuard;
use crate::components::when::When;
use crate::error::AppError;
use crate::i18n::use_i18n;
use crate::session::{error_text, use_viewer};
use crate::t;
use crate::types::ProcessRow;

/// How often the page reads the processes again: their check-in period.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const REREAD_MS: u64 = 5_000;

#[server(input = GetUrl, endpoint = "get_processes")]
pub async fn get_processes() -> Result<Vec<ProcessRow>, AppError> {
    crate::backend::backend()?.processes().await
}

#[server(endpoint = "process_command")]
pub async fn process_command(id: String, command: String, csrf: String) -> Result<(), AppError> {
    crate::backend::backend()?.process_command(id, command, csrf).await
}

#[component]
pub fn ProcessesPage() -> impl IntoView {
    let action = ServerAction::<ProcessCommand>::new();
    let rows = Resource::new(move || action.version().get(), |_| get_processes());
    let viewer = use_viewer();
    let i18n = use_i18n();
    let outcome = move || action.value().get().and_then(|r| r.err()).map(|e| error_text(&e));
    view! {
        <SignInGuard staff_only=true/>
        <section class="page">
            <h1>{t!(i18n, "processes-title")}</h1>
            <p class="muted">{t!(i18n, "processes-intro")}</p>
            {move || outcome().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            <Suspense fallback=move || view! { <p>{t!(i18n, "common-loading")}</p> }>
                {move || {
                    let viewer = viewer.get().and_then(|v| v.ok().flatten());
                    let csrf = viewer.as_ref().map(|v| v.csrf.clone()).unwrap_or_default();
                    let can_operate = viewer.as_ref().is_some_and(|v| v.can_operate());
                    let can_stop_servers = viewer.as_ref().is_some_and(|v| v.is_admin());
                    rows.get()
                        .map(|result| match result {
                            Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                            Ok(rows) => view! { <ProcessTable rows csrf can_operate can_stop_servers action/> }.into_any(),
                        })
                }}
            </Suspense>
        </section>
    }
}

#[component]
fn ProcessTable(
    rows: Vec<ProcessRow>,
    csrf: String,
    can_operate: bool,
    can_stop_servers: bool,
    action: ServerAction<ProcessCommand>,
) -> impl IntoView {
    let i18n = use_i18n();
    let rows = RwSignal::new(rows);
    let csrf = StoredValue::new(csrf);
    reread_every_check_in(rows);
    let summary = move || {
        rows.with(|rows| {
            let live = rows.iter().filter(|row| row.listens()).count();
            let running: usize = rows.iter().filter(|row| !row.gone).map(|row| row.running).sum();
            t!(i18n, "processes-summary", processes = live, jobs = running)
        })
    };
    let columns = vec![
        t!(i18n, "processes-col-process"),
        t!(i18n, "processes-col-state"),
        t!(i18n, "processes-col-queues"),
        t!(i18n, "processes-col-jobs"),
        String::new(),
    ];
    view! {
        <p data-processes-summary="">{summary}</p>
        <Show
            when=move || rows.with(|rows| !rows.is_empty())
            fallback=move || view! { <p class="empty">{t!(i18n, "processes-empty")}</p> }
        >
            <DataTable caption=t!(i18n, "processes-table") class="jobs processes" columns=columns.clone()>
                // A row is drawn again only when what it does changed (not at every
                // check-in), so an open Stop confirmation and focus stay put.
                <For
                    each=move || rows.get()
                    key=|row| {
                        let jobs: Vec<&str> = row.jobs.iter().map(|job| job.id.as_str()).collect();
                        let queues: Vec<(usize, usize, bool)> =
                            row.queues.iter().map(|q| (q.running, q.concurrency, q.accepting)).collect();
                        (row.id.clone(), row.state.clone(), row.gone, row.running, jobs.join(","), queues)
                    }
                    children=move |row| {
                        view! { <ProcessRowView row csrf=csrf.get_value() can_operate can_stop_servers action/> }.into_any()
                    }
                />
            </DataTable>
        </Show>
    }
}

#[component]
fn ProcessRowView(
    row: ProcessRow,
    csrf: String,
    can_operate: bool,
    can_stop_servers: bool,
    action: ServerAction<ProcessCommand>,
) -> impl IntoView {
    let i18n = use_i18n();
    let state_key = if row.gone { "gone".to_string() } else { row.state.clone() };
    let state_text = match state_key.as_str() {
        "running" => t!(i18n, "processes-state-running"),
        "quiet" => t!(i18n, "processes-state-quiet"),
        "stopping" => t!(i18n, "processes-state-stopping"),
        "stopped" => t!(i18n, "processes-state-stopped"),
        _ => t!(i18n, "processes-state-gone"),
    };
    let process_id = row.id.clone();
    let form = move |command: &'static str, label: String, aria: String| {
        let (id, csrf) = (process_id.clone(), csrf.clone());
        view! {
            <ActionForm action=action attr:class="inline">
                <input type="hidden" name="id" value=id/>
                <input type="hidden" name="command" value=command/>
                <input type="hidden" name="csrf" value=csrf/>
                <button type="submit" aria-label=aria>{label}</button>
            </ActionForm>
        }
    };
    let name = format!("{} · {}", row.host, row.pid);
    let buttons = (can_operate && row.listens()).then(|| {
        let name = name.clone();
        let quiet = (row.state == "running").then(|| {
            form("quiet", t!(i18n, "processes-quiet"), t!(i18n, "processes-quiet-label", process = name.as_str()))
        });
        // Stopping a server takes a replica of the dashboard and API down: admins only.
        // (Anything but a `hoist worker` serves them: `serve`, an embedding application.)
        let stop = (row.kind == "worker" || can_stop_servers).then(|| view! {
            <Confirm
                summary=t!(i18n, "processes-stop")
                warning=t!(i18n, "processes-stop-warning", process = name.as_str())
            >
                {form("stop", t!(i18n, "processes-stop-confirm"), t!(i18n, "processes-stop-label", process = name.as_str()))}
            </Confirm>
        });
        view! { {quiet} {stop} }
    });
    let queues = row
        .queues
        .iter()
        .map(|q| {
            let own = (q.concurrency != q.configured_concurrency)
                .then(|| t!(i18n, "processes-queue-set-live", configured = q.configured_concurrency));
            view! {
                <li data-process-queue=q.queue.clone()>
                    <a href=crate::mount_path::href(&format!("/queues/{}", q.queue)) translate="no">{q.queue.clone()}</a>
                    {format!(" · {}", t!(i18n, "processes-queue-load", running = q.running, concurrency = q.concurrency))}
                    {own.map(|text| view! { <span class="muted">{format!(" ({text})")}</span> })}
                </li>
            }
        })
        .collect_view();
    let listed = row.jobs.len();
    let more = (row.running > listed).then(|| t!(i18n, "processes-jobs-more", count = row.running - listed));
    let jobs = row
        .jobs
        .iter()
        .map(|job| {
            let href = crate::mount_path::href(&format!("/queues/{}/jobs/{}", job.queue, job.id));
            view! {
                <li data-process-job=job.id.clone()>
                    <a href=href translate="no">{job.name.clone()}</a>
                    {job.started_at.map(|at| view! { " · " {t!(i18n, "processes-job-started")} " " <When at/> })}
                </li>
            }
        })
        .collect_view();
    view! {
        <tr data-process=row.id.clone() data-state=state_key.clone()>
            <td>
                <strong translate="no">{name.clone()}</strong>
                {row.this_server.then(|| view! {
                    " " <span class="badge badge-this-server" data-this-server="">{t!(i18n, "processes-this-server")}</span>
                })}
                <div class="muted">
                    {format!("{} · {}", row.kind, row.version)}
                    {row.scheduler.then(|| format!(" · {}", t!(i18n, "processes-scheduler")))}
                </div>
                <div class="muted">{t!(i18n, "processes-started")} " " <When at=row.started_at/></div>
                <div class="muted" translate="no">{row.id.clone()}</div>
            </td>
            <td>
                <span class=format!("badge badge-process-{state_key}")>{state_text}</span>
                <div class="muted">{t!(i18n, "processes-last-seen")} " " <When at=row.last_seen/></div>
            </td>
            <td>
                {row.queues.is_empty().then(|| view! { <span class="muted">{t!(i18n, "processes-no-queues")}</span> })}
                <ul class="process-queues">{queues}</ul>
            </td>
            <td>
                {(row.running == 0).then(|| view! { <span class="muted">{t!(i18n, "processes-no-jobs")}</span> })}
                <ul class="process-jobs">{jobs}</ul>
                {more.map(|text| view! { <p class="muted">{text}</p> })}
            </td>
            <td class="actions">{buttons}</td>
        </tr>
    }
}

/// Reads the processes again every check-in period while the page is open.
fn reread_every_check_in(rows: RwSignal<Vec<ProcessRow>>) {
    #[cfg(feature = "hydrate")]
    {
        let handle = set_interval_with_handle(
            move || {
                leptos::task::spawn_local(async move {
                    if let Ok(fresh) = get_processes().await {
                        rows.try_set(fresh);
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
    let _ = rows;
}
