use crate::components::data_table::DataTable;
use crate::components::sign_in_guard::SignInGuard;
use crate::components::when::When;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use leptos_router::hooks::use_query_map;

use crate::session::error_text;
use crate::types::AuditView;

#[server(input = GetUrl, endpoint = "get_audit_log")]
pub async fn get_audit_log(before: Option<i64>) -> Result<AuditView, AppError> {
    crate::backend::backend()?.audit_log(before).await
}

/// Who did what, newest first (admins only).
#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let before = move || query.read().get("before").and_then(|b| b.parse::<i64>().ok());
    let log = Resource::new(before, get_audit_log);
    view! {
        <SignInGuard staff_only=true/>
        <section class="page">
            <h1>"Audit log"</h1>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || {
                    log.get()
                        .map(|result| match result {
                            Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                            Ok(log) if log.entries.is_empty() => {
                                view! { <p class="empty">"Nothing recorded yet."</p> }.into_any()
                            }
                            Ok(log) => view! { <AuditTable log/> }.into_any(),
                        })
                }}
            </Suspense>
        </section>
    }
}

#[component]
fn AuditTable(log: AuditView) -> impl IntoView {
    view! {
        <DataTable caption="Audit log" class="jobs audit" columns=&["When", "Who", "Action", "Target", "Parameters", "Result", "From"]>
                    {log
                        .entries
                        .into_iter()
                        .map(|e| {
                            view! {
                                <tr>
                                    <td><When at=e.at/></td>
                                    <td>{format!("{} ({})", e.actor, e.role)}</td>
                                    <td class="mono">{e.action}</td>
                                    <td class="mono">{e.target}</td>
                                    <td class="mono params">{e.params}</td>
                                    <td>{e.result}</td>
                                    <td>{e.client_addr.unwrap_or_default()}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </DataTable>
        {log.next.map(|id| view! { <p><a href=crate::mount_path::href(&format!("/audit?before={id}"))>"Older entries"</a></p> })}
    }
}
