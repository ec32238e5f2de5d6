use leptos::prelude::*;

use crate::components::theme_toggle::ThemeToggle;
use crate::session::{SignOut, get_viewer, reload_to};

/// Header, navigation and main area around every page.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    // Set only in the browser, after hydration: end-to-end tests and CSS can tell a
    // live page from server-rendered HTML.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let viewer = Resource::new(|| (), |_| get_viewer());
    let sign_out = ServerAction::<SignOut>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = sign_out.value().get() {
            reload_to("/login");
        }
    });

    view! {
        <div class="layout" data-hydrated=move || hydrated.get().to_string()>
            <header class="topbar">
                <a class="brand" href="/">"Hoist"</a>
                <nav aria-label="Main">
                    <a href="/">"Overview"</a>
                    <a href="/dead">"Dead letters"</a>
                    <a href="/me">"My jobs"</a>
                    <a href="/status">"Status"</a>
                </nav>
                <Suspense fallback=|| ()>
                    {move || {
                        viewer
                            .get()
                            .map(|result| match result.ok().flatten() {
                                Some(user) => {
                                    view! {
                                        <div class="account">
                                            <span class="who">{user.username} " (" {user.role} ")"</span>
                                            <ActionForm action=sign_out attr:class="inline">
                                                <button type="submit">"Sign out"</button>
                                            </ActionForm>
                                        </div>
                                    }
                                        .into_any()
                                }
                                None => view! { <a class="account" href="/login">"Sign in"</a> }.into_any(),
                            })
                    }}
                </Suspense>
                <ThemeToggle/>
            </header>
            <main id="main">{children()}</main>
        </div>
    }
}
