use crate::components::data_table::DataTable;
use crate::error::AppError;
use leptos::prelude::*;

use crate::types::SystemStatus;

#[server(endpoint = "get_system_status")]
pub async fn get_system_status() -> Result<SystemStatus, AppError> {
    let backend = crate::backend::backend()?;
    Ok(backend.system_status().await)
}

/// The landing page: whether the server's dependencies answer.
#[component]
pub fn HomePage() -> impl IntoView {
    let status = Resource::new(|| (), |_| get_system_status());
    view! {
        <section class="page">
            <h1>"System status"</h1>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || {
                    status
                        .get()
                        .map(|result| match result {
                            Ok(status) => view! { <StatusTable status/> }.into_any(),
                            Err(err) => {
                                view! { <p class="error" role="alert">{err.to_string()}</p> }
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
    let overall = if status.healthy() { "healthy" } else { "degraded" };
    view! {
        <p class="summary">
            "Hoist " {status.version.clone()} " is "
            <strong class=format!("badge badge-{overall}")>{overall}</strong>
        </p>
        <DataTable caption="Dependencies" class="status" columns=&["Component", "State", "Detail"]>
                    {status
                        .components
                        .into_iter()
                        .map(|c| {
                            let state = if c.up { "up" } else { "down" };
                            view! {
                                <tr>
                                    <td>{c.name}</td>
                                    <td>
                                        <span class=format!("badge badge-{state}")>{state}</span>
                                    </td>
                                    <td>{c.detail}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </DataTable>
    }
}
