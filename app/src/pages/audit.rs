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
use crate::types::AuditView;

#[server(input = GetUrl, endpoint = "get_audit_log")]
pub async fn get_audit_log(before: Option<i64>) -> Result<AuditView, AppError> {
    crate::backend::backend()?.audit_log(before).await
}

/// Who did what, newest first (admins only).
#[component]
pub fn AuditPage() -> impl IntoView {
    let i18n = use_i18n();
    let query = use_query_map();
    let before = move || query.read().get("before").and_then(|b| b.parse::<i64>().ok());
    let log = Resource::new(before, get_audit_log);
    view! {
        <SignInGuard staff_only=true/>
        <section class="page">
            <h1>{t!(i18n, "audit-title")}</h1>
            <Suspense fallback=move || view! { <p>{t!(i18n, "common-loading")}</p> }>
                {move || {
                    log.get()
                        .map(|result| match result {
                            Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                            Ok(log) if log.entries.is_empty() => {
                                view! { <p class="empty">{t!(i18n, "audit-empty")}</p> }.into_any()
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
    let i18n = use_i18n();
    let columns = vec![
        t!(i18n, "audit-col-when"),
        t!(i18n, "audit-col-who"),
        t!(i18n, "audit-col-action"),
        t!(i18n, "audit-col-target"),
        t!(i18n, "audit-col-parameters"),
        t!(i18n, "audit-col-result"),
        t!(i18n, "audit-col-from"),
    ];
    view! {
        <DataTable caption=t!(i18n, "audit-table") class="jobs audit" columns>
                    {log
                        .entries
                        .into_iter()
                        .map(|e| {
                            view! {
                                <tr>
                                    <td><When at=e.at/></td>
                                    <td>{format!("{} ({})", e.actor, i18n.role(&e.role))}</td>
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
        {log.next.map(|id| view! { <p><a href=crate::mount_path::href(&format!("/audit?before={id}"))>{t!(i18n, "audit-older")}</a></p> })}
    }
}
