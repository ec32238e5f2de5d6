//! Sends a visitor away from a page that is not for them, before it opens anything:
//! signed out to the sign-in page, an end user on a staff page to their own jobs.

use leptos::prelude::*;

use crate::session::{landing_page, redirect_to, use_viewer};

/// Renders nothing; redirects (302 on the server) once the viewer is known, unless they
/// may use the page: signed in, and staff when `staff_only`.
#[component]
pub fn SignInGuard(#[prop(optional)] staff_only: bool) -> impl IntoView {
    let viewer = use_viewer();
    view! {
        <Suspense fallback=|| ()>
            {move || {
                // Not known (the server could not tell): the page shows its own error.
                match viewer.get()? {
                    Ok(None) => redirect_to("/login"),
                    Ok(Some(viewer)) if staff_only && !viewer.is_staff() => redirect_to(landing_page(&viewer)),
                    _ => {}
                }
                None::<()>
            }}
        </Suspense>
    }
}
