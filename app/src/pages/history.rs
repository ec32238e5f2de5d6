use crate::components::data_table::DataTable;
use crate::components::sign_in_guard::SignInGuard;
use crate::components::when::When;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use leptos_router::hooks::use_query_map;

use crate::i18n::use_i18n;
use crate::session::error_text;
use crate::t;
use crate::types::{HistoryFilter, HistoryView};

#[server(input = GetUrl, endpoint = "get_history")]
pub async fn get_history(filter: HistoryFilter) -> Result<HistoryView, AppError> {
    crate::backend::backend()?.history(filter).await
}

/// Search finished jobs in the SQL history: id, queue, name, owner, status, days, text.
#[component]
pub fn HistoryPage() -> impl IntoView {
    let i18n = use_i18n();
    let query = use_query_map();
    let filter = move || {
        let q = query.read();
        let get = |key: &str| q.get(key).unwrap_or_default();
        HistoryFilter {
            id: get("id"),
            queue: get("queue"),
            name: get("name"),
            owner: get("owner"),
            status: get("status"),
            from: get("from"),
            to: get("to"),
            q: get("q"),
            cursor: get("cursor"),
        }
    };
    let page = Resource::new(filter, get_history);
    let field = move |key: &'static str, label: String, kind: &'static str| {
        let id = format!("history-{key}");
        view! {
            <label for=id.clone()>{label}</label>
            <input id=id name=key type=kind value=move || query.read().get(key).unwrap_or_default()/>
        }
    };
    view! {
        <SignInGuard staff_only=true/>
        <section class="page">
            <h1>{t!(i18n, "history-title")}</h1>
            <form method="get" class="filters" role="search" aria-label=t!(i18n, "history-search-label")>
                {field("id", t!(i18n, "history-field-id"), "text")}
                {field("queue", t!(i18n, "history-field-queue"), "text")}
                {field("name", t!(i18n, "history-field-name"), "text")}
                {field("owner", t!(i18n, "history-field-owner"), "text")}
                <label for="history-status">{t!(i18n, "history-field-status")}</label>
                <select id="history-status" name="status">
                    {["", "completed", "dead", "cancelled", "expired"]
                        .map(|s| {
                            view! {
                                <option value=s selected=move || query.read().get("status").as_deref() == Some(s)>
                                    {if s.is_empty() { t!(i18n, "history-status-any") } else { i18n.job_state(s) }}
                                </option>
                            }
                        })
                        .into_iter()
                        .collect_view()}
                </select>
                {field("from", t!(i18n, "history-field-from"), "date")}
                {field("to", t!(i18n, "history-field-to"), "date")}
                {field("q", t!(i18n, "history-field-text"), "search")}
                <button type="submit">{t!(i18n, "history-search")}</button>
            </form>
            <Suspense fallback=move || view! { <p>{t!(i18n, "common-loading")}</p> }>
                {move || {
                    page.get()
                        .map(|result| match result {
                            Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                            Ok(page) if page.rows.is_empty() => {
                                view! { <p class="empty">{t!(i18n, "history-empty")}</p> }.into_any()
                            }
                            Ok(page) => view! { <HistoryTable page filter=filter()/> }.into_any(),
                        })
                }}
            </Suspense>
        </section>
    }
}

#[component]
fn HistoryTable(page: HistoryView, filter: HistoryFilter) -> impl IntoView {
    let i18n = use_i18n();
    let next = page.next.map(|cursor| {
        let next = HistoryFilter { cursor, ..filter };
        let query = query_string(&next);
        view! {
            <p>
                <a href=crate::mount_path::href(&format!("/history?{query}"))>{t!(i18n, "history-next-page")}</a>
            </p>
        }
    });
    let columns = vec![
        t!(i18n, "history-col-queue"),
        t!(i18n, "history-col-job"),
        t!(i18n, "history-col-name"),
        t!(i18n, "history-col-owner"),
        t!(i18n, "history-col-status"),
        t!(i18n, "history-col-attempts"),
        t!(i18n, "history-col-finished"),
        t!(i18n, "history-col-took"),
        t!(i18n, "history-col-error"),
    ];
    view! {
        <DataTable caption=t!(i18n, "history-table") class="jobs history" columns>
                    {page
                        .rows
                        .into_iter()
                        .map(|row| {
                            view! {
                                <tr data-job=row.job_id.clone()>
                                    <td>{row.queue.clone()}</td>
                                    <td class="mono">
                                        <a href=crate::mount_path::href(&format!("/queues/{}/jobs/{}", row.queue, row.job_id))>{row.job_id.clone()}</a>
                                    </td>
                                    <td>{row.name}</td>
                                    <td>{row.owner.unwrap_or_default()}</td>
                                    <td>
                                        <span class=format!("badge badge-state badge-{}", row.status)>{i18n.job_state(&row.status)}</span>
                                    </td>
                                    <td>{i18n.number(u64::from(row.attempts))}</td>
                                    <td><When at=row.finished_at/></td>
                                    <td>{row.duration_ms.map(|ms| i18n.duration(ms.max(0) as u64)).unwrap_or_default()}</td>
                                    <td class="error-cell" translate="no">{row.error.unwrap_or_default()}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </DataTable>
        {next}
    }
}

/// The filter as a query string (non-empty fields only).
fn query_string(filter: &HistoryFilter) -> String {
    let fields = [
        ("id", &filter.id),
        ("queue", &filter.queue),
        ("name", &filter.name),
        ("owner", &filter.owner),
        ("status", &filter.status),
        ("from", &filter.from),
        ("to", &filter.to),
        ("q", &filter.q),
        ("cursor", &filter.cursor),
    ];
    fields
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", crate::format::query_value(v)))
        .collect::<Vec<_>>()
        .join("&")
}
