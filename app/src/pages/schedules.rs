use crate::components::sign_in_guard::SignInGuard;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::components::table_head::TableHead;
use crate::format::utc;
use crate::session::{error_text, use_viewer};
use crate::types::ScheduleRow;

#[server(input = GetUrl, endpoint = "get_schedules")]
pub async fn get_schedules() -> Result<Vec<ScheduleRow>, AppError> {
    crate::backend::backend()?.schedules().await
}

#[server(endpoint = "schedule_action")]
pub async fn schedule_action(name: String, action: String, csrf: String) -> Result<(), AppError> {
    crate::backend::backend()?.schedule_action(name, action, csrf).await
}

/// Cron schedules: expression, time zone, next and last fire, recent fires; pause,
/// resume and run now for operators.
#[component]
pub fn SchedulesPage() -> impl IntoView {
    let action = ServerAction::<ScheduleAction>::new();
    let rows = Resource::new(move || action.version().get(), |_| get_schedules());
    let viewer = use_viewer();
    let outcome = move || action.value().get().and_then(|r| r.err()).map(|e| error_text(&e));
    view! {
        <SignInGuard staff_only=true/>
        <section class="page">
            <h1>"Schedules"</h1>
            {move || outcome().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || {
                    let viewer = viewer.get().and_then(|v| v.ok().flatten());
                    let csrf = viewer.as_ref().map(|v| v.csrf.clone()).unwrap_or_default();
                    let can_operate = viewer.as_ref().is_some_and(|v| v.can_operate());
                    rows.get()
                        .map(|result| match result {
                            Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                            Ok(rows) if rows.is_empty() => {
                                view! { <p class="empty">"No schedules."</p> }.into_any()
                            }
                            Ok(rows) => view! { <ScheduleTable rows csrf can_operate action/> }.into_any(),
                        })
                }}
            </Suspense>
        </section>
    }
}

#[component]
fn ScheduleTable(
    rows: Vec<ScheduleRow>,
    csrf: String,
    can_operate: bool,
    action: ServerAction<ScheduleAction>,
) -> impl IntoView {
    let never = || "—".to_string();
    view! {
        <table class="jobs schedules">
            <TableHead
                caption="Schedules"
                columns=&["Name", "Cron", "Time zone", "Queue / job", "Next fire", "Last fire", "Recent fires", ""]
            />
            <tbody>
                {rows
                    .into_iter()
                    .map(|row| {
                        let buttons = can_operate
                            .then(|| {
                                let toggle = if row.paused { "resume" } else { "pause" };
                                [(toggle, if row.paused { "Resume" } else { "Pause" }), ("run", "Run now")]
                                    .map(|(name, label)| {
                                        let (schedule, csrf) = (row.name.clone(), csrf.clone());
                                        let aria = format!("{label} {schedule}");
                                        view! {
                                            <ActionForm action=action attr:class="inline">
                                                <input type="hidden" name="name" value=schedule/>
                                                <input type="hidden" name="action" value=name/>
                                                <input type="hidden" name="csrf" value=csrf/>
                                                <button type="submit" aria-label=aria>
                                                    {label}
                                                </button>
                                            </ActionForm>
                                        }
                                    })
                                    .into_iter()
                                    .collect_view()
                            });
                        view! {
                            <tr data-schedule=row.name.clone()>
                                <td>
                                    {row.name.clone()}
                                    {row.paused.then(|| view! { " " <span class="badge badge-paused">"paused"</span> })}
                                    {(!row.enabled).then(|| view! { " " <span class="badge">"disabled"</span> })}
                                </td>
                                <td class="mono">{row.cron.clone()}</td>
                                <td>{row.timezone.clone()}</td>
                                <td>{format!("{} / {}", row.queue, row.job_name)}</td>
                                <td>{row.next_tick.map(utc).unwrap_or_else(never)}</td>
                                <td>{row.recent.first().map(|f| utc(f.fired_at)).unwrap_or_else(never)}</td>
                                <td>
                                    <span class="muted">{format!("{} on schedule", row.runs)}</span>
                                    <ul class="fires">
                                        {row
                                            .recent
                                            .iter()
                                            .map(|f| {
                                                let how = if f.manual { "by hand" } else { "on time" };
                                                let jobs = if f.jobs == 1 { "1 job".to_string() } else { format!("{} jobs", f.jobs) };
                                                view! { <li>{format!("{} · {jobs} · {how}", utc(f.fired_at))}</li> }
                                            })
                                            .collect_view()}
                                    </ul>
                                </td>
                                <td>{buttons}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}
