use crate::components::data_table::DataTable;
use crate::components::sign_in_guard::SignInGuard;
use crate::components::when::When;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use leptos_router::hooks::use_query_map;

use crate::components::confirm::Confirm;
use crate::components::live::{LiveStatus, provide_live_feed, reread_on_change, use_live_feed};
use crate::i18n::use_i18n;
use crate::session::{error_text, use_viewer};
use crate::t;
use crate::types::DeadRow;

#[server(input = GetUrl, endpoint = "get_dead_letters")]
pub async fn get_dead_letters(
    queue: Option<String>,
    error: Option<String>,
    older_than_minutes: Option<u64>,
) -> Result<Vec<DeadRow>, AppError> {
    crate::backend::backend()?.dead_letters(queue, error, older_than_minutes).await
}

/// `scope` is `selected` (the `selected` jobs, at least one) or `matching` (everything
/// the filter matches): a selection form with nothing ticked must never mean "all".
#[server(endpoint = "dead_action")]
pub async fn dead_action(
    action: String,
    scope: String,
    selected: Option<Vec<String>>,
    queue: Option<String>,
    error: Option<String>,
    older_than_minutes: Option<u64>,
    csrf: String,
) -> Result<u64, AppError> {
    let selected = match scope.as_str() {
        "selected" => Some(selected.unwrap_or_default()),
        "matching" => None,
        other => return Err(AppError::invalid("scope", format!("unknown scope {other:?}"))),
    };
    crate::backend::backend()?.dead_action(action, selected, (queue, error, older_than_minutes), csrf).await
}

/// The form the row checkboxes belong to (by their `form` attribute: rows hold forms of
/// their own, and forms cannot nest).
const SELECTION_FORM: &str = "dead-selection";

/// The dead-letter queue across queues: filter by queue, error text and age; select jobs
/// and requeue or purge them, or everything the filter matches.
#[component]
pub fn DeadLettersPage() -> impl IntoView {
    let query = use_query_map();
    let queue = move || query.read().get("queue").filter(|q| !q.is_empty());
    let error = move || query.read().get("error").filter(|e| !e.is_empty());
    let older = move || query.read().get("older_than_minutes").and_then(|m| m.parse::<u64>().ok()).filter(|m| *m > 0);
    let action = ServerAction::<DeadAction>::new();
    // Every queue's counts: the list is read again when a dead count changes.
    let feed = provide_live_feed("counts".to_string());
    let rows = Resource::new(
        move || (queue(), error(), older(), action.version().get(), feed.resync.get()),
        |(q, e, o, ..)| get_dead_letters(q, e, o),
    );
    let viewer = use_viewer();
    let i18n = use_i18n();
    let outcome = move || {
        action.value().get().map(|result| match result {
            Ok(n) => view! { <p role="status" class="note">{t!(i18n, "dead-letters-done", count = n)}</p> }.into_any(),
            Err(e) => view! { <p role="alert" class="error">{error_text(&e)}</p> }.into_any(),
        })
    };
    view! {
        <SignInGuard staff_only=true/>
        <section class="page">
            <h1>{t!(i18n, "dead-letters-title")}</h1>
            <LiveStatus feed/>
            <form method="get" class="filters" aria-label=t!(i18n, "dead-letters-filter")>
                <label for="queue-filter">{t!(i18n, "dead-letters-queue")}</label>
                <input id="queue-filter" name="queue" value=move || queue().unwrap_or_default()/>
                <label for="error-filter">{t!(i18n, "dead-letters-error-contains")}</label>
                <input id="error-filter" name="error" value=move || error().unwrap_or_default()/>
                <label for="age-filter">{t!(i18n, "dead-letters-died-at-least")}</label>
                <input
                    id="age-filter"
                    name="older_than_minutes"
                    type="number"
                    min="0"
                    value=move || older().map(|m| m.to_string()).unwrap_or_default()
                />
                <button type="submit">{t!(i18n, "dead-letters-filter")}</button>
            </form>
            {outcome}
            <Transition fallback=move || view! { <p>{t!(i18n, "common-loading")}</p> }>
                {move || {
                    let viewer = viewer.get().and_then(|v| v.ok().flatten());
                    let csrf = viewer.as_ref().map(|v| v.csrf.clone()).unwrap_or_default();
                    let can_operate = viewer.as_ref().is_some_and(|v| v.can_operate());
                    let filter = (queue(), error(), older());
                    rows.get()
                        .map(|result| match result {
                            Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                            Ok(rows) => view! { <DeadTable rows csrf can_operate action filter/> }.into_any(),
                        })
                }}
            </Transition>
        </section>
    }
}

/// Hidden fields carrying the page's filter into a form.
fn filter_fields(filter: &(Option<String>, Option<String>, Option<u64>)) -> impl IntoView + use<> {
    view! {
        <input type="hidden" name="queue" value=filter.0.clone().unwrap_or_default()/>
        <input type="hidden" name="error" value=filter.1.clone().unwrap_or_default()/>
        <input type="hidden" name="older_than_minutes" value=filter.2.map(|m| m.to_string()).unwrap_or_default()/>
    }
}

/// The dead jobs the filter matches, kept current: read again (at most once a second)
/// when a dead count the filter covers changes. Rows stay in place across re-reads, so
/// ticked boxes stay ticked.
#[component]
fn DeadTable(
    rows: Vec<DeadRow>,
    csrf: String,
    can_operate: bool,
    action: ServerAction<DeadAction>,
    filter: (Option<String>, Option<String>, Option<u64>),
) -> impl IntoView {
    let i18n = use_i18n();
    let rows = RwSignal::new(rows);
    follow_dead_counts(rows, filter.clone());
    let count = Memo::new(move |_| rows.with(Vec::len));
    let bulk = can_operate.then(|| {
        let selection_csrf = csrf.clone();
        let matching = ["requeue", "purge"]
            .map(|name| {
                let (csrf, fields) = (csrf.clone(), filter_fields(&filter));
                let requeue = name == "requeue";
                let summary = move || {
                    let count = count.get();
                    if requeue {
                        t!(i18n, "dead-letters-requeue-all", count = count)
                    } else {
                        t!(i18n, "dead-letters-purge-all", count = count)
                    }
                };
                let warning = move || {
                    let count = count.get();
                    if requeue {
                        t!(i18n, "dead-letters-requeue-all-warning", count = count)
                    } else {
                        t!(i18n, "dead-letters-purge-all-warning", count = count)
                    }
                };
                let label = move || {
                    let count = count.get();
                    if requeue {
                        t!(i18n, "dead-letters-requeue-all-matching", count = count)
                    } else {
                        t!(i18n, "dead-letters-purge-all-matching", count = count)
                    }
                };
                view! {
                    <Confirm summary=Signal::derive(summary) warning=Signal::derive(warning)>
                        <ActionForm action=action attr:class="inline">
                            <input type="hidden" name="action" value=name/>
                            <input type="hidden" name="scope" value="matching"/>
                            {fields}
                            <input type="hidden" name="csrf" value=csrf/>
                            <button type="submit" class:danger=name == "purge">
                                {label}
                            </button>
                        </ActionForm>
                    </Confirm>
                }
            })
            .into_iter()
            .collect_view();
        view! {
            <ActionForm action=action attr:id=SELECTION_FORM attr:class="inline selection">
                <label for="selection-action">{t!(i18n, "dead-letters-with-selected")}</label>
                <select id="selection-action" name="action">
                    <option value="requeue">{t!(i18n, "dead-letters-requeue")}</option>
                    <option value="purge">{t!(i18n, "dead-letters-purge")}</option>
                </select>
                <input type="hidden" name="scope" value="selected"/>
                <input type="hidden" name="csrf" value=selection_csrf/>
                <button type="submit">{t!(i18n, "dead-letters-apply")}</button>
            </ActionForm>
            {matching}
        }
    });
    let mut columns = vec![
        t!(i18n, "dead-letters-col-queue"),
        t!(i18n, "dead-letters-col-job"),
        t!(i18n, "dead-letters-col-error"),
        t!(i18n, "dead-letters-col-attempts"),
        t!(i18n, "dead-letters-col-died"),
        String::new(),
    ];
    if can_operate {
        columns.insert(0, t!(i18n, "dead-letters-col-select"));
    }
    // Each row's box gets its own index in the selection form for as long as it is shown.
    let next_index = StoredValue::new(0usize);
    view! {
        {move || (count.get() == 0).then(|| view! { <p class="empty">{t!(i18n, "dead-letters-empty")}</p> })}
        <div class="dead-list" hidden=move || count.get() == 0>
            <div class="toolbar">{bulk.map(IntoAny::into_any)}</div>
            <DataTable caption=t!(i18n, "dead-letters-caption") class="jobs dead" columns=columns>
                        <For
                            each=move || rows.get()
                            key=|row| (row.queue.clone(), row.id.clone())
                            children=move |row| {
                                let index = next_index.get_value();
                                next_index.set_value(index + 1);
                                view! { <DeadRowView row index csrf=csrf.clone() can_operate action/> }.into_any()
                            }
                        />
                    </DataTable>
        </div>
    }
}

#[component]
fn DeadRowView(
    row: DeadRow,
    index: usize,
    csrf: String,
    can_operate: bool,
    action: ServerAction<DeadAction>,
) -> impl IntoView {
    let i18n = use_i18n();
    let label = t!(i18n, "dead-letters-requeue-job", id = row.id.clone());
    let (row_queue, row_id) = (row.queue.clone(), row.id.clone());
    view! {
        <tr data-job=row.id.clone()>
            {can_operate
                .then(|| {
                    view! {
                        <td>
                            <input
                                type="checkbox"
                                form=SELECTION_FORM
                                name=format!("selected[{index}]")
                                value=format!("{}/{}", row.queue, row.id)
                                aria-label=t!(i18n, "dead-letters-select-job", id = row.id.clone())
                            />
                        </td>
                    }
                })}
            <td>{row.queue.clone()}</td>
            <td class="mono">
                <a href=crate::mount_path::href(&format!("/queues/{}/jobs/{}", row.queue, row.id))>{row.name.clone()}</a>
            </td>
            <td class="error-cell" translate="no">{row.error.clone()}</td>
            <td>{row.attempts}</td>
            <td><When at=row.died_at/></td>
            <td>
                {can_operate
                    .then(|| {
                        view! {
                            <ActionForm action=action attr:class="inline">
                                <input type="hidden" name="action" value="requeue"/>
                                <input type="hidden" name="scope" value="selected"/>
                                <input type="hidden" name="selected[0]" value=format!("{row_queue}/{row_id}")/>
                                <input type="hidden" name="csrf" value=csrf/>
                                <button type="submit" aria-label=label>{t!(i18n, "dead-letters-requeue")}</button>
                            </ActionForm>
                        }
                    })}
            </td>
        </tr>
    }
}

/// Reads the list again when the dead count of the filtered queue (or of all queues)
/// changes, as the live feed pushes it.
fn follow_dead_counts(rows: RwSignal<Vec<DeadRow>>, filter: (Option<String>, Option<String>, Option<u64>)) {
    let feed = use_live_feed();
    let queue = filter.0.clone();
    let dead = Memo::new(move |_| {
        feed.map(|feed| {
            feed.counts.with(|all| {
                all.iter()
                    .filter(|(name, _)| queue.as_ref().is_none_or(|q| q == *name))
                    .map(|(_, c)| c.dead)
                    .sum::<u64>()
            })
        })
    });
    reread_on_change(
        dead,
        move || {
            let (queue, error, older) = filter.clone();
            async move { get_dead_letters(queue, error, older).await.ok() }
        },
        rows,
    );
}

#[cfg(test)]
mod tests {
    use crate::i18n::{I18n, Language};
    use crate::t;

    #[test]
    fn counts_read_as_before_with_the_singular_fixed() {
        let i18n = I18n::new(Language::En);
        assert_eq!(t!(i18n, "dead-letters-done", count = 2u64), "2 jobs done.");
        assert_eq!(t!(i18n, "dead-letters-done", count = 1u64), "1 job done.");
        assert_eq!(t!(i18n, "dead-letters-requeue-all", count = 12_000usize), "Requeue all 12,000…");
        assert_eq!(t!(i18n, "dead-letters-purge-all-matching", count = 3usize), "Purge all 3 matching");
        assert_eq!(
            t!(i18n, "dead-letters-requeue-all-warning", count = 1usize),
            "Moves all 1 matching dead job back to waiting."
        );
        assert_eq!(t!(i18n, "dead-letters-select-job", id = "01J"), "Select 01J");
        let i18n = I18n::new(Language::Mn);
        assert_eq!(t!(i18n, "dead-letters-done", count = 1_200u64), "1,200 ажил гүйцэтгэгдлээ.");
    }
}
