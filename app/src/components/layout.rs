use leptos::prelude::*;

use crate::components::theme_toggle::ThemeToggle;

/// Header, navigation and main area around every page.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    // Set only in the browser, after hydration: end-to-end tests and CSS can tell a
    // live page from server-rendered HTML.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    view! {
        <div class="layout" data-hydrated=move || hydrated.get().to_string()>
            <header class="topbar">
                <a class="brand" href="/">"Hoist"</a>
                <nav aria-label="Main">
                    <a href="/">"Overview"</a>
                </nav>
                <ThemeToggle/>
            </header>
            <main id="main">{children()}</main>
        </div>
    }
}
