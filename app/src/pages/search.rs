//! Search every job, live or finished, with the query language (qualifiers, payload
//! paths, free text) and autocomplete.

use crate::components::data_table::DataTable;
use crate::components::sign_in_guard::SignInGuard;
use crate::components::when::When;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use leptos_router::hooks::use_query_map;

use crate::components::confirm::Confirm;
use crate::format::query_value;
use crate::i18n::{I18n, use_i18n};
use crate::session::{error_text, use_viewer};
use crate::t;
use crate::types::{BulkResultView, MatchCountView, SavedSearchView, SearchView};

#[server(input = GetUrl, endpoint = "search_jobs")]
pub async fn search_jobs(q: String, cursor: Option<String>) -> Result<SearchView, AppError> {
    crate::backend::backend()?.search(q, cursor).await
}

#[server(input = GetUrl, endpoint = "search_suggestions")]
pub async fn search_suggestions(q: String) -> Result<Vec<String>, AppError> {
    crate::backend::backend()?.search_suggestions(q).await
}

#[server(input = GetUrl, endpoint = "search_count")]
pub async fn search_count(q: String) -> Result<MatchCountView, AppError> {
    crate::backend::backend()?.search_count(q).await
}

/// Acts on the matches for up to about ten seconds; the answer's `next` continues.
#[server(endpoint = "search_act")]
pub async fn search_act(
    q: String,
    action: String,
    cursor: Option<String>,
    csrf: String,
) -> Result<BulkResultView, AppError> {
    crate::backend::backend()?.search_act(q, action, cursor, csrf).await
}

#[server(input = GetUrl, endpoint = "saved_searches")]
pub async fn saved_searches() -> Result<Vec<SavedSearchView>, AppError> {
    crate::backend::backend()?.saved_searches().await
}

#[server(endpoint = "save_search")]
pub async fn save_search(name: String, q: String, csrf: String) -> Result<(), AppError> {
    crate::backend::backend()?.save_search(name, q, csrf).await
}

#[server(endpoint = "delete_saved_search")]
pub async fn delete_saved_search(id: i64, csrf: String) -> Result<(), AppError> {
    crate::backend::backend()?.delete_saved_search(id, csrf).await
}

/// Examples under the search box: one per kind of term.
const EXAMPLES: [&str; 4] =
    ["state:dead after:1d", "queue:sync payload.connection_id:5", "error:timeout name:charge", "\"read timed out\""];

/// How many jobs match, in the page's language: `12,000`, or `10,000+` when counting
/// stopped there.
fn match_count_text(i18n: I18n, count: &MatchCountView) -> String {
    let number = i18n.number(count.count);
    if count.at_least { format!("{number}+") } else { number }
}

#[component]
pub fn SearchPage() -> impl IntoView {
    let i18n = use_i18n();
    let query = use_query_map();
    let q = move || query.read().get("q").unwrap_or_default();
    let cursor = move || query.read().get("cursor");
    let act = ServerAction::<SearchAct>::new();
    let save = ServerAction::<SaveSearch>::new();
    let forget = ServerAction::<DeleteSavedSearch>::new();
    let page = Resource::new(move || (q(), cursor(), act.version().get()), |(q, cursor, _)| search_jobs(q, cursor));
    let count = Resource::new(move || (q(), act.version().get()), |(q, _)| search_count(q));
    let saved = Resource::new(move || (save.version().get(), forget.version().get()), |_| saved_searches());
    let viewer = use_viewer();
    // Suggestions for what is typed, asked as the user types (in the browser only).
    let typed = RwSignal::new(String::new());
    let suggestions = Resource::new(
        move || typed.get(),
        |text| async move { if text.is_empty() { Ok(vec![]) } else { search_suggestions(text).await } },
    );
    view! {
        <SignInGuard/>
        <section class="page">
            <h1>{t!(i18n, "search-title")}</h1>
            <form method="get" class="search" role="search" aria-label=t!(i18n, "search-form-label")>
                <label for="search-q">{t!(i18n, "search-query")}</label>
                <input
                    id="search-q"
                    name="q"
                    type="search"
                    list="search-suggestions"
                    autocomplete="off"
                    spellcheck="false"
                    translate="no"
                    placeholder="queue:sync state:dead payload.connection_id:5 timeout"
                    value=q
                    on:input=move |ev| typed.set(event_target_value(&ev))
                />
                <datalist id="search-suggestions">
                    <Transition>
                        {move || {
                            suggestions
                                .get()
                                .and_then(Result::ok)
                                .unwrap_or_default()
                                .into_iter()
                                .map(|s| view! { <option value=s></option> })
                                .collect_view()
                        }}
                    </Transition>
                </datalist>
                <button type="submit">{t!(i18n, "search-submit")}</button>
            </form>
            <p class="hint">
                {t!(i18n, "search-hint")}
                " "
                {EXAMPLES
                    .iter()
                    .map(|example| {
                        view! {
                            // Query syntax, the same in every language.
                            <a class="mono example" translate="no" href=crate::mount_path::href(&format!("/search?q={}", query_value(example)))>
                                {*example}
                            </a>
                            " "
                        }
                    })
                    .collect_view()}
            </p>
            <Suspense fallback=|| ()>
                {move || {
                    let viewer = viewer.get().and_then(Result::ok).flatten()?;
                    let list = saved.get().and_then(Result::ok).unwrap_or_default();
                    Some(view! { <SavedSearches list q=q() csrf=viewer.csrf.clone() save forget/> })
                }}
            </Suspense>
            <Suspense fallback=|| ()>
                {move || {
                    let viewer = viewer.get().and_then(Result::ok).flatten()?;
                    let count = count.get().and_then(Result::ok)?;
                    Some(view! { <ActOnMatches q=q() count can_operate=viewer.can_operate() csrf=viewer.csrf act/> })
                }}
            </Suspense>
            <Suspense fallback=move || view! { <p>{t!(i18n, "search-searching")}</p> }>
                {move || {
                    page.get()
                        .map(|result| match result {
                            Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                            Ok(page) if page.rows.is_empty() && page.next.is_none() => {
                                view! { <p class="empty">{t!(i18n, "search-empty")}</p> }.into_any()
                            }
                            Ok(page) => view! { <SearchTable page q=q()/> }.into_any(),
                        })
                }}
            </Suspense>
        </section>
    }
}

#[component]
fn SearchTable(page: SearchView, q: String) -> impl IntoView {
    let i18n = use_i18n();
    let next = page.next.map(|cursor| {
        view! {
            <p>
                <a rel="next" href=crate::mount_path::href(&format!("/search?q={}&cursor={}", query_value(&q), query_value(&cursor)))>
                    {t!(i18n, "search-next-page")}
                </a>
            </p>
        }
    });
    let note = page.rows.is_empty().then(|| view! { <p class="empty">{t!(i18n, "search-none-on-page")}</p> });
    let columns = vec![
        t!(i18n, "search-col-queue"),
        t!(i18n, "search-col-job"),
        t!(i18n, "search-col-name"),
        t!(i18n, "search-col-owner"),
        t!(i18n, "search-col-state"),
        t!(i18n, "search-col-attempts"),
        t!(i18n, "search-col-created"),
        t!(i18n, "search-col-finished"),
        t!(i18n, "search-col-error"),
    ];
    view! {
        {note}
        <DataTable caption=t!(i18n, "search-table") class="jobs search-results" columns>
                    {page
                        .rows
                        .into_iter()
                        .map(|row| {
                            view! {
                                <tr data-job=row.job_id.clone() data-state=row.state.clone()>
                                    <td>{row.queue.clone()}</td>
                                    <td class="mono">
                                        <a href=crate::mount_path::href(&format!("/queues/{}/jobs/{}", row.queue, row.job_id))>
                                            {row.job_id.clone()}
                                        </a>
                                    </td>
                                    <td>{row.name}</td>
                                    <td>{row.owner.unwrap_or_default()}</td>
                                    <td>
                                        <span class=format!("badge badge-state badge-{}", row.state)>{i18n.job_state(&row.state)}</span>
                                    </td>
                                    <td>{i18n.number(u64::from(row.attempts))}</td>
                                    <td><When at=row.created_at/></td>
                                    <td>{row.finished_at.map(|ms| i18n.date_time(ms)).unwrap_or_default()}</td>
                                    <td class="error-cell" translate="no">{row.error.unwrap_or_default()}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </DataTable>
        {next}
    }
}

/// The caller's saved searches (each a link, with its count and a delete button), and a
/// form to save the current query.
#[component]
fn SavedSearches(
    list: Vec<SavedSearchView>,
    q: String,
    csrf: String,
    save: ServerAction<SaveSearch>,
    forget: ServerAction<DeleteSavedSearch>,
) -> impl IntoView {
    let i18n = use_i18n();
    let error = move || {
        let failed = save.value().get().and_then(Result::err).or_else(|| forget.value().get().and_then(Result::err));
        failed.map(|e| view! { <p class="error" role="alert">{error_text(&e)}</p> })
    };
    let items = list
        .into_iter()
        .map(|saved| {
            let csrf = csrf.clone();
            let label = t!(i18n, "search-delete-saved-label", name = saved.name.as_str());
            view! {
                <li data-saved=saved.name.clone()>
                    <a href=crate::mount_path::href(&format!("/search?q={}", query_value(&saved.q)))>{saved.name.clone()}</a>
                    " "
                    <span class="badge">{saved.count.as_ref().map(|count| match_count_text(i18n, count)).unwrap_or_default()}</span>
                    <ActionForm action=forget attr:class="inline">
                        <input type="hidden" name="id" value=saved.id/>
                        <input type="hidden" name="csrf" value=csrf/>
                        <button type="submit" aria-label=label>"×"</button>
                    </ActionForm>
                </li>
            }
        })
        .collect_view();
    let form = (!q.trim().is_empty()).then(|| {
        view! {
            <ActionForm action=save attr:class="inline save-search">
                <label for="save-name">{t!(i18n, "search-save-as")}</label>
                <input id="save-name" name="name" required maxlength="100"/>
                <input type="hidden" name="q" value=q/>
                <input type="hidden" name="csrf" value=csrf.clone()/>
                <button type="submit">{t!(i18n, "search-save")}</button>
            </ActionForm>
        }
    });
    view! {
        <div class="saved-searches">
            <ul class="inline-list" aria-label=t!(i18n, "search-saved-label")>{items}</ul>
            {form}
            {error}
        </div>
    }
}

/// How many jobs match, exports, and (for operators) the bulk actions, each confirmed.
#[component]
fn ActOnMatches(
    q: String,
    count: MatchCountView,
    can_operate: bool,
    csrf: String,
    act: ServerAction<SearchAct>,
) -> impl IntoView {
    let i18n = use_i18n();
    let total = match_count_text(i18n, &count);
    let export =
        |format: &str| crate::mount_path::href(&format!("/api/v1/search/export?q={}&format={format}", query_value(&q)));
    let actions = can_operate.then(|| {
        let total = total.as_str();
        [
            (
                "retry",
                t!(i18n, "search-retry-all", total = total),
                t!(i18n, "search-retry-all-matching", total = total),
                t!(i18n, "search-retry-warning"),
            ),
            (
                "cancel",
                t!(i18n, "search-cancel-all", total = total),
                t!(i18n, "search-cancel-all-matching", total = total),
                t!(i18n, "search-cancel-warning"),
            ),
            (
                "requeue",
                t!(i18n, "search-requeue-all", total = total),
                t!(i18n, "search-requeue-all-matching", total = total),
                t!(i18n, "search-requeue-warning"),
            ),
            (
                "delete",
                t!(i18n, "search-delete-all", total = total),
                t!(i18n, "search-delete-all-matching", total = total),
                t!(i18n, "search-delete-warning"),
            ),
        ]
        .map(|(action, summary, button, warning)| {
            let (q, csrf) = (q.clone(), csrf.clone());
            view! {
                <Confirm summary=summary warning=warning>
                    <ActionForm action=act attr:class="inline">
                        <input type="hidden" name="q" value=q/>
                        <input type="hidden" name="action" value=action/>
                        <input type="hidden" name="csrf" value=csrf/>
                        <button type="submit" class:danger=action == "delete">
                            {button}
                        </button>
                    </ActionForm>
                </Confirm>
            }
        })
        .into_iter()
        .collect_view()
    });
    let (outcome_q, outcome_csrf) = (q.clone(), csrf.clone());
    let outcome = move || {
        let (q, csrf) = (outcome_q.clone(), outcome_csrf.clone());
        act.value().get().map(move |result| match result {
            Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
            Ok(done) => {
                let action = match done.action.as_str() {
                    "retry" => t!(i18n, "search-action-retry"),
                    "cancel" => t!(i18n, "search-action-cancel"),
                    "requeue" => t!(i18n, "search-action-requeue"),
                    "delete" => t!(i18n, "search-action-delete"),
                    other => other.to_string(),
                };
                let summary =
                    t!(i18n, "search-bulk-result", action = action, changed = done.changed, matched = done.matched);
                let more = done.next.clone().map(|cursor| {
                    view! {
                        <ActionForm action=act attr:class="inline">
                            <input type="hidden" name="q" value=q.clone()/>
                            <input type="hidden" name="action" value=done.action.clone()/>
                            <input type="hidden" name="cursor" value=cursor/>
                            <input type="hidden" name="csrf" value=csrf.clone()/>
                            <button type="submit">{t!(i18n, "search-continue")}</button>
                        </ActionForm>
                    }
                });
                view! {
                    <p role="status" class="note bulk-result">
                        {summary}
                        {done.next.is_some().then(|| format!(" {}", t!(i18n, "search-more-remain")))}
                    </p>
                    {more}
                }
                .into_any()
            }
        })
    };
    view! {
        <div class="toolbar search-actions">
            <p class="match-count" data-count=count.count>
                {if count.at_least {
                    t!(i18n, "search-matches-at-least", count = count.count)
                } else {
                    t!(i18n, "search-matches", count = count.count)
                }}
            </p>
            <a href=export("csv") download="hoist-jobs.csv">{t!(i18n, "search-export-csv")}</a>
            " "
            <a href=export("jsonl") download="hoist-jobs.jsonl">{t!(i18n, "search-export-jsonl")}</a>
            {actions}
        </div>
        {outcome}
    }
}
