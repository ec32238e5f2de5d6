use crate::components::data_table::DataTable;
use crate::components::sign_in_guard::SignInGuard;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::components::when::When;
use crate::i18n::use_i18n;
use crate::session::{error_text, use_viewer};
use crate::t;
use crate::types::ScheduleRow;

#[server(input = GetUrl, endpoint = "get_schedules")]
pub async fn get_schedules() -> Result<Vec<ScheduleRow>, AppError> {
    crate::backend::backend()?.schedules().await
}

#[server(endpoint = "schedule_action")]
pub async fn schedule_action(name: String, action: String, csrf: String) -> Result<(), AppError> {
    crate::backend::backend()?.schedule_action(name, action, csrf).await
}

/// Cron schedules: when they run (in words, with the expression and time zone), next and
/// last fire (kept current), recent fires; pause, resume and run now for operators.
#[component]
pub fn SchedulesPage() -> impl IntoView {
    let action = ServerAction::<ScheduleAction>::new();
    let rows = Resource::new(move || action.version().get(), |_| get_schedules());
    let viewer = use_viewer();
    let i18n = use_i18n();
    let outcome = move || action.value().get().and_then(|r| r.err()).map(|e| error_text(&e));
    view! {
        <SignInGuard staff_only=true/>
        <section class="page">
            <h1>{t!(i18n, "schedules-title")}</h1>
            {move || outcome().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            <Suspense fallback=move || view! { <p>{t!(i18n, "common-loading")}</p> }>
                {move || {
                    let viewer = viewer.get().and_then(|v| v.ok().flatten());
                    let csrf = viewer.as_ref().map(|v| v.csrf.clone()).unwrap_or_default();
                    let can_operate = viewer.as_ref().is_some_and(|v| v.can_operate());
                    rows.get()
                        .map(|result| match result {
                            Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                            Ok(rows) if rows.is_empty() => {
                                view! { <p class="empty">{t!(i18n, "schedules-empty")}</p> }.into_any()
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
    let i18n = use_i18n();
    let rows = RwSignal::new(rows);
    reread_after_next_fire(rows);
    let columns = vec![
        t!(i18n, "schedules-col-schedule"),
        t!(i18n, "schedules-col-runs"),
        t!(i18n, "schedules-col-next-fire"),
        t!(i18n, "schedules-col-last-fire"),
        t!(i18n, "schedules-col-recent-fires"),
        String::new(),
    ];
    view! {
        <DataTable caption=t!(i18n, "schedules-table") class="jobs schedules" columns>
                    // A row is drawn again only when what it shows changed (the schedule
                    // that fired), so focus elsewhere stays put.
                    <For
                        each=move || rows.get()
                        key=|row| (row.name.clone(), row.next_tick, row.last_tick, row.paused, row.enabled, row.runs, row.recent.first().map(|fire| fire.fired_at))
                        children=move |row| view! { <ScheduleRowView row csrf=csrf.clone() can_operate action/> }.into_any()
                    />
                </DataTable>
    }
}

#[component]
fn ScheduleRowView(
    row: ScheduleRow,
    csrf: String,
    can_operate: bool,
    action: ServerAction<ScheduleAction>,
) -> impl IntoView {
    let i18n = use_i18n();
    let buttons = can_operate.then(|| {
        let schedule = row.name.as_str();
        let toggle = if row.paused {
            ("resume", t!(i18n, "schedules-resume"), t!(i18n, "schedules-resume-label", name = schedule))
        } else {
            ("pause", t!(i18n, "schedules-pause"), t!(i18n, "schedules-pause-label", name = schedule))
        };
        [toggle, ("run", t!(i18n, "schedules-run-now"), t!(i18n, "schedules-run-now-label", name = schedule))]
            .map(|(name, label, aria)| {
                let (schedule, csrf) = (row.name.clone(), csrf.clone());
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
    let never = || view! { <span class="muted">"—"</span> }.into_any();
    let next = match row.next_tick {
        Some(at) if !row.paused && row.enabled => view! { <When at/> }.into_any(),
        _ => never(),
    };
    let last = match row.recent.first() {
        Some(fire) => view! { <When at=fire.fired_at/> }.into_any(),
        None => never(),
    };
    let words = row.cron_words.clone().unwrap_or_else(|| row.cron.clone());
    view! {
        <tr data-schedule=row.name.clone()>
            <td>
                <strong>{row.name.clone()}</strong>
                {row.paused.then(|| view! { " " <span class="badge badge-paused">{i18n.job_state("paused")}</span> })}
                {(!row.enabled).then(|| view! { " " <span class="badge">{t!(i18n, "schedules-disabled")}</span> })}
                <div class="muted">{format!("{} → {}", row.job_name, row.queue)}</div>
            </td>
            <td>
                <span data-cron-words="">{words}</span>
                <div class="muted">
                    <code>{row.cron.clone()}</code>
                    {format!(" · {}", row.timezone)}
                </div>
            </td>
            <td data-next-fire="">{next}</td>
            <td data-last-fire="">{last}</td>
            <td>
                <span class="muted">{t!(i18n, "schedules-fires-on-schedule", count = row.runs)}</span>
                <ul class="fires">
                    {row
                        .recent
                        .iter()
                        .map(|fire| {
                            let how = if fire.manual { t!(i18n, "schedules-by-hand") } else { t!(i18n, "schedules-on-time") };
                            let jobs = t!(i18n, "common-jobs", count = fire.jobs as u64);
                            view! {
                                <li>
                                    <When at=fire.fired_at/>
                                    {format!(" · {jobs} · {how}")}
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            </td>
            <td class="actions">{buttons}</td>
        </tr>
    }
}

/// Reads the schedules again a moment after the soonest next fire, so next and last fire
/// move on as the scheduler fires (no polling in between: the page knows when they fire).
/// A fire that stays overdue (no scheduler running) is looked at again after 1 s, 2 s,
/// 4 s ... at most a minute apart.
fn reread_after_next_fire(rows: RwSignal<Vec<ScheduleRow>>) {
    #[cfg(feature = "hydrate")]
    {
        use std::cell::Cell;
        use std::rc::Rc;
        let timer: Rc<Cell<Option<TimeoutHandle>>> = Rc::default();
        // Reads in a row that found the soonest fire still in the past.
        let overdue = Rc::new(Cell::new(0u32));
        let on_leave = send_wrapper::SendWrapper::new(timer.clone());
        // By the server's clock, which the fire times come from.
        let clock = crate::clock::use_clock();
        Effect::new(move |_| {
            let soonest = rows.with(|rows| {
                rows.iter().filter(|row| !row.paused && row.enabled).filter_map(|row| row.next_tick).min()
            });
            if let Some(previous) = timer.take() {
                previous.clear();
            }
            let Some(soonest) = soonest else { return };
            // A second after it is due (the scheduler fires within its tick), not sooner
            // than a second from now nor later than an hour.
            let now = clock.map_or_else(|| js_sys::Date::now() as i64, |clock| clock.now_untracked());
            let wait = if soonest + 1_000 <= now {
                let misses = overdue.get();
                overdue.set(misses + 1);
                (1_000i64 << misses.min(6)).min(60_000)
            } else {
                overdue.set(0);
                (soonest + 1_000 - now).min(3_600_000)
            };
            let handle = set_timeout_with_handle(
                move || {
                    leptos::task::spawn_local(async move {
                        if let Ok(fresh) = get_schedules().await {
                            rows.try_set(fresh);
                        }
                    });
                },
                std::time::Duration::from_millis(wait as u64),
            );
            timer.set(handle.ok());
        });
        on_cleanup(move || {
            if let Some(handle) = on_leave.as_ref().take() {
                handle.clear();
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = rows;
}
