use crate::components::data_table::DataTable;
use crate::components::sign_in_guard::SignInGuard;
use crate::components::when::When;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use leptos_router::hooks::use_query_map;

use crate::i18n::{I18n, use_i18n};
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
                                    <td>{result_text(i18n, &e.result)}</td>
                                    <td>{e.client_addr.unwrap_or_default()}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </DataTable>
        {log.next.map(|id| view! { <p><a href=crate::mount_path::href(&format!("/audit?before={id}"))>{t!(i18n, "audit-older")}</a></p> })}
    }
}

/// An audit entry's result in the page's language. The server records it in fixed English
/// forms (`ok`, `failed`, `ok: 3 jobs`, `ok: 2 of 5 jobs`, `failed after changing 2 of 5
/// jobs: …`); anything else is shown as recorded.
fn result_text(i18n: I18n, result: &str) -> String {
    let of = |text: &str| {
        let (changed, matched) = text.split_once(" of ")?;
        Some((changed.parse::<u64>().ok()?, matched.parse::<u64>().ok()?))
    };
    if result == "ok" {
        return t!(i18n, "audit-result-ok");
    }
    if result == "failed" {
        return t!(i18n, "audit-result-failed");
    }
    if let Some(counted) = result.strip_prefix("ok: ").and_then(|rest| rest.strip_suffix(" jobs")) {
        if let Ok(count) = counted.parse::<u64>() {
            return t!(i18n, "audit-result-ok-jobs", count = count);
        }
        if let Some((changed, matched)) = of(counted) {
            return t!(i18n, "audit-result-ok-of", changed = changed, matched = matched);
        }
    }
    if let Some((counted, error)) =
        result.strip_prefix("failed after changing ").and_then(|rest| rest.split_once(" jobs: "))
        && let Some((changed, matched)) = of(counted)
    {
        return t!(i18n, "audit-result-failed-after", changed = changed, matched = matched, error = error);
    }
    result.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Language;

    #[test]
    fn recorded_results_read_in_each_language() {
        let (en, mn) = (I18n::new(Language::En), I18n::new(Language::Mn));
        assert_eq!(result_text(en, "ok"), "ok");
        assert_eq!(result_text(mn, "failed"), "амжилтгүй");
        assert_eq!(result_text(en, "ok: 1 jobs"), "ok: 1 job");
        assert_eq!(result_text(en, "ok: 1200 jobs"), "ok: 1,200 jobs");
        assert_eq!(result_text(mn, "ok: 2 of 5 jobs"), "амжилттай: 2 / 5 ажил");
        assert_eq!(
            result_text(en, "failed after changing 2 of 5 jobs: boom"),
            "failed after changing 2 of 5 jobs: boom"
        );
        assert_eq!(result_text(en, "something else"), "something else");
    }
}
