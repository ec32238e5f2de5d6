//! The banner on every page while an alert fires (staff only; the server sends nothing
//! to anyone else), read again every few seconds on staff pages, linking to the Alerts
//! page.

use leptos::prelude::*;

use crate::i18n::use_i18n;
use crate::pages::alerts::{alert_name, get_firing_alerts};
use crate::t;
use crate::types::AlertRow;

#[component]
pub fn FiringBanner() -> impl IntoView {
    let i18n = use_i18n();
    // Read once with the page (so it is in the server's HTML), then every few seconds.
    let first = Resource::new(|| (), |_| get_firing_alerts());
    let fresh = RwSignal::new(None::<Vec<AlertRow>>);
    reread(fresh);
    view! {
        <Suspense fallback=|| ()>
            {move || {
                let rows = fresh.get().or_else(|| first.get().and_then(Result::ok)).unwrap_or_default();
                (!rows.is_empty()).then(|| {
                    let names: Vec<String> = rows.iter().map(|row| alert_name(i18n, &row.kind, &row.subject)).collect();
                    view! {
                        <div class="firing-banner" role="alert" data-firing=rows.len().to_string()>
                            <strong>{t!(i18n, "alerts-banner", count = rows.len())}</strong>
                            " " {names.join(", ")} " "
                            <a href=crate::mount_path::href("/alerts")>{t!(i18n, "alerts-banner-link")}</a>
                        </div>
                    }
                })
            }}
        </Suspense>
    }
}

fn reread(fresh: RwSignal<Option<Vec<AlertRow>>>) {
    #[cfg(feature = "hydrate")]
    {
        let viewer = crate::session::use_viewer();
        let handle = set_interval_with_handle(
            move || {
                // End users never see alerts: their pages do not ask.
                let staff = viewer.get_untracked().and_then(Result::ok).flatten().is_some_and(|v| v.is_staff());
                if !staff {
                    return;
                }
                leptos::task::spawn_local(async move {
                    if let Ok(rows) = get_firing_alerts().await {
                        fresh.try_set(Some(rows));
                    }
                });
            },
            std::time::Duration::from_millis(crate::pages::alerts::REREAD_MS),
        );
        if let Ok(handle) = handle {
            let handle = send_wrapper::SendWrapper::new(handle);
            on_cleanup(move || handle.clear());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = fresh;
}
