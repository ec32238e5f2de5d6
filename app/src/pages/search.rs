//! Search every job, live or finished, with the query language (qualifiers, payload
//! paths, free text) and autocomplete.

use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use leptos_router::hooks::use_query_map;

use crate::components::table_head::TableHead;
use crate::format::{query_value, utc};
use crate::session::error_text;
use crate::types::SearchView;

#[server(input = GetUrl, endpoint = "search_jobs")]
pub async fn search_jobs(q: String, cursor: Option<String>) -> Result<SearchView, AppError> {
    crate::backend::backend()?.search(q, cursor).await
}

#[server(input = GetUrl, endpoint = "search_suggestions")]
pub async fn search_suggestions(q: String) -> Result<Vec<String>, AppError> {
    crate::backend::backend()?.search_suggestions(q).await
}

/// Examples under the search box: one per kind of term.
const EXAMPLES: [&str; 4] =
    ["state:dead after:1d", "queue:sync payload.connection_id:5", "error:timeout name:charge", "\"read timed out\""];

#[component]
pub fn SearchPage() -> impl IntoView {
    let query = use_query_map();
    let q = move || query.read().get("q").unwrap_or_default();
    let cursor = move || query.read().get("cursor");
    let page = Resource::new(move || (q(), cursor()), |(q, cursor)| search_jobs(q, cursor));
    // Suggestions for what is typed, asked as the user types (in the browser only).
    let typed = RwSignal::new(String::new());
    let suggestions = Resource::new(
        move || typed.get(),
        |text| async move { if text.is_empty() { Ok(vec![]) } else { search_suggestions(text).await } },
    );
    view! {
        <section class="page">
            <h1>"Search"</h1>
            <form method="get" class="search" role="search" aria-label="Search jobs">
                <label for="search-q">"Query"</label>
                <input
                    id="search-q"
                    name="q"
                    type="search"
                    list="search-suggestions"
                    autocomplete="off"
                    spellcheck="false"
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
                <button type="submit">"Search"</button>
            </form>
            <p class="hint">
                "Qualifiers: queue: state: name: owner: id: error: before: after: payload.path: — or words. Try "
                {EXAMPLES
                    .iter()
                    .map(|example| {
                        view! {
                            <a class="mono example" href=format!("/search?q={}", query_value(example))>
                                {*example}
                            </a>
                            " "
                        }
                    })
                    .collect_view()}
            </p>
            <Suspense fallback=|| view! { <p>"Searching…"</p> }>
                {move || {
                    page.get()
                        .map(|result| match result {
                            Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                            Ok(page) if page.rows.is_empty() && page.next.is_none() => {
                                view! { <p class="empty">"No jobs match."</p> }.into_any()
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
    let next = page.next.map(|cursor| {
        view! {
            <p>
                <a rel="next" href=format!("/search?q={}&cursor={}", query_value(&q), query_value(&cursor))>
                    "Next page"
                </a>
            </p>
        }
    });
    let note = page.rows.is_empty().then(|| view! { <p class="empty">"None on this page; there may be more."</p> });
    view! {
        {note}
        <table class="jobs search-results">
            <TableHead
                caption="Jobs found"
                columns=&["Queue", "Job", "Name", "Owner", "State", "Attempts", "Created", "Finished", "Error"]
            />
            <tbody>
                {page
                    .rows
                    .into_iter()
                    .map(|row| {
                        view! {
                            <tr data-job=row.job_id.clone() data-state=row.state.clone()>
                                <td>{row.queue.clone()}</td>
                                <td class="mono">
                                    <a href=format!("/queues/{}/jobs/{}", row.queue, row.job_id)>
                                        {row.job_id.clone()}
                                    </a>
                                </td>
                                <td>{row.name}</td>
                                <td>{row.owner.unwrap_or_default()}</td>
                                <td>
                                    <span class=format!("badge badge-state badge-{}", row.state)>{row.state.clone()}</span>
                                </td>
                                <td>{row.attempts}</td>
                                <td>{utc(row.created_at)}</td>
                                <td>{row.finished_at.map(utc).unwrap_or_default()}</td>
                                <td class="error-cell">{row.error.unwrap_or_default()}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
        {next}
    }
}
