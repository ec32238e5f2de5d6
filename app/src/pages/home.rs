use crate::components::data_table::DataTable;
use crate::error::AppError;
use leptos::prelude::*;

use crate::i18n::use_i18n;
use crate::session::error_text;
use crate::t;
use crate::types::SystemStatus;

#[server(endpoint = "get_system_status")]
pub async fn get_system_status() -> Result<SystemStatus, AppError> {
    let backend = crate::backend::backend()?;
    Ok(backend.system_status().await)
}

/// The landing page: whether the server's dependencies answer.
#[component]
pub fn HomePage() -> impl IntoView {
    let i18n = use_i18n();
    let status = Resource::new(|| (), |_| get_system_status());
    view! {
        <section class="page">
            <h1>{t!(i18n, "status-title")}</h1>
            <Suspense fallback=move || view! { <p>{t!(i18n, "common-loading")}</p> }>
                {move || {
                    status
                        .get()
                        .map(|result| match result {
                            Ok(status) => view! { <StatusTable status/> }.into_any(),
                            Err(err) => {
                                view! { <p class="error" role="alert">{error_text(&err)}</p> }
                                    .into_any()
                            }
                        })
                }}
            </Suspense>
        </section>
    }
}

#[component]
fn StatusTable(status: SystemStatus) -> impl IntoView {
    let i18n = use_i18n();
    let healthy = status.healthy();
    let overall = if healthy { "healthy" } else { "degraded" };
    let overall_text = if healthy { t!(i18n, "status-healthy") } else { t!(i18n, "status-degraded") };
    let columns =
        vec![t!(i18n, "status-column-component"), t!(i18n, "status-column-state"), t!(i18n, "status-column-detail")];
    view! {
        <p class="summary">
            {t!(i18n, "status-summary", version = status.version.clone())} " "
            <strong class=format!("badge badge-{overall}")>{overall_text}</strong>
        </p>
        <DataTable caption=t!(i18n, "status-dependencies") class="status" columns=columns>
                    {status
                        .components
                        .into_iter()
                        .map(|c| {
                            let state = if c.up { "up" } else { "down" };
                            let state_text = if c.up { t!(i18n, "status-up") } else { t!(i18n, "status-down") };
                            view! {
                                <tr>
                                    // A technical name (redis, database): not translated.
                                    <td>{c.name}</td>
                                    <td>
                                        <span class=format!("badge badge-{state}")>{state_text}</span>
                                    </td>
                                    <td translate="no">{c.detail}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </DataTable>
    }
}
