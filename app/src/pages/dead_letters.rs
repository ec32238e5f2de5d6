use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use leptos_router::hooks::use_query_map;

use crate::components::table_head::TableHead;
use crate::format::utc;
use crate::session::{error_text, get_viewer};
use crate::types::DeadRow;

#[server(input = GetUrl)]
pub async fn get_dead_letters(queue: Option<String>, error: Option<String>) -> Result<Vec<DeadRow>, ServerFnError> {
    crate::backend::backend()?.dead_letters(queue, error).await.map_err(ServerFnError::new)
}

#[server]
pub async fn dead_action(
    action: String,
    queue: Option<String>,
    id: Option<String>,
    error: Option<String>,
    csrf: String,
) -> Result<u64, ServerFnError> {
    crate::backend::backend()?.dead_action(action, queue, id, error, csrf).await.map_err(ServerFnError::new)
}

/// The dead-letter queue across queues: filter by queue and error text, requeue or purge
/// one job, or everything the filter matches.
#[component]
pub fn DeadLettersPage() -> impl IntoView {
    let query = use_query_map();
    let queue = move || query.read().get("queue").filter(|q| !q.is_empty());
    let error = move || query.read().get("error").filter(|e| !e.is_empty());
    let action = ServerAction::<DeadAction>::new();
    let rows = Resource::new(move || (queue(), error(), action.version().get()), |(q, e, _)| get_dead_letters(q, e));
    let viewer = Resource::new(|| (), |_| get_viewer());
    let outcome = move || {
        action.value().get().map(|result| match result {
            Ok(n) => view! { <p role="status" class="note">{format!("{n} jobs done.")}</p> }.into_any(),
            Err(e) => view! { <p role="alert" class="error">{error_text(&e)}</p> }.into_any(),
        })
    };
    view! {
        <section class="page">
            <h1>"Dead letters"</h1>
            <form method="get" class="filters" aria-label="Filter">
                <label for="queue-filter">"Queue"</label>
                <input id="queue-filter" name="queue" value=move || queue().unwrap_or_default()/>
                <label for="error-filter">"Error contains"</label>
                <input id="error-filter" name="error" value=move || error().unwrap_or_default()/>
                <button type="submit">"Filter"</button>
            </form>
            {outcome}
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || {
                    let csrf = viewer.get().and_then(|v| v.ok().flatten()).map(|v| v.csrf).unwrap_or_default();
                    let can_operate = viewer
                        .get()
                        .and_then(|v| v.ok().flatten())
                        .is_some_and(|v| v.role == "admin" || v.role == "operator");
                    rows.get()
                        .map(|result| match result {
                            Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                            Ok(rows) if rows.is_empty() => {
                                view! { <p class="empty">"No dead jobs match."</p> }.into_any()
                            }
                            Ok(rows) => {
                                view! { <DeadTable rows csrf can_operate action queue=queue() error=error()/> }.into_any()
                            }
                        })
                }}
            </Suspense>
        </section>
    }
}

#[component]
fn DeadTable(
    rows: Vec<DeadRow>,
    csrf: String,
    can_operate: bool,
    action: ServerAction<DeadAction>,
    queue: Option<String>,
    error: Option<String>,
) -> impl IntoView {
    let count = rows.len();
    let bulk = can_operate.then(|| {
        ["requeue", "purge"]
            .map(|name| {
                let (csrf, queue, error) = (csrf.clone(), queue.clone(), error.clone());
                let label =
                    if name == "requeue" { format!("Requeue all {count}") } else { format!("Purge all {count}") };
                view! {
                    <ActionForm action=action attr:class="inline">
                        <input type="hidden" name="action" value=name/>
                        <input type="hidden" name="queue" value=queue.unwrap_or_default()/>
                        <input type="hidden" name="error" value=error.unwrap_or_default()/>
                        <input type="hidden" name="csrf" value=csrf/>
                        <button type="submit">{label}</button>
                    </ActionForm>
                }
            })
            .into_iter()
            .collect_view()
    });
    view! {
        <div class="toolbar">{bulk}</div>
        <table class="jobs dead">
            <TableHead caption="Dead jobs" columns=&["Queue", "Job", "Error", "Attempts", "Died", ""]/>
            <tbody>
                {rows
                    .into_iter()
                    .map(|row| {
                        let csrf = csrf.clone();
                        let label = format!("Requeue {}", row.id);
                        let (row_queue, row_id) = (row.queue.clone(), row.id.clone());
                        view! {
                            <tr data-job=row.id.clone()>
                                <td>{row.queue.clone()}</td>
                                <td class="mono">
                                    <a href=format!("/queues/{}/jobs/{}", row.queue, row.id)>{row.name.clone()}</a>
                                </td>
                                <td class="error-cell">{row.error.clone()}</td>
                                <td>{row.attempts}</td>
                                <td>{utc(row.died_at)}</td>
                                <td>
                                    {can_operate
                                        .then(|| {
                                            view! {
                                                <ActionForm action=action attr:class="inline">
                                                    <input type="hidden" name="action" value="requeue"/>
                                                    <input type="hidden" name="queue" value=row_queue/>
                                                    <input type="hidden" name="id" value=row_id/>
                                                    <input type="hidden" name="csrf" value=csrf/>
                                                    <button type="submit" aria-label=label>"Requeue"</button>
                                                </ActionForm>
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
}
