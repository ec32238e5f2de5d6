use leptos::prelude::*;

use crate::components::keyboard_shortcuts::KeyboardShortcuts;
use crate::components::theme_toggle::ThemeToggle;
use crate::session::{SignOut, landing_page, provide_viewer, reload_to};
use crate::types::Viewer;

/// Header, navigation and main area around every page.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    // Set only in the browser, after hydration: end-to-end tests and CSS can tell a
    // live page from server-rendered HTML.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let viewer = provide_viewer();
    let sign_out = ServerAction::<SignOut>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = sign_out.value().get() {
            reload_to("/login");
        }
    });

    view! {
        <div class="layout" data-hydrated=move || hydrated.get().to_string()>
            <a class="skip-link" href="#main">"Skip to content"</a>
            <header class="topbar">
                // Home is where the role's work is (the overview is for staff).
                <Suspense fallback=|| view! { <a class="brand" href=crate::mount_path::href("/")>"Hoist"</a> }>
                    {move || {
                        let home = match viewer.get() {
                            Some(Ok(Some(user))) => landing_page(&user),
                            Some(Ok(None)) => "/login",
                            _ => "/",
                        };
                        view! { <a class="brand" href=crate::mount_path::href(home)>"Hoist"</a> }
                    }}
                </Suspense>
                <Suspense fallback=|| ()>
                    {move || {
                        let viewer = viewer.get().and_then(|v| v.ok().flatten());
                        view! {
                            <MainNav viewer=viewer.clone()/>
                            <KeyboardShortcuts viewer/>
                        }
                    }}
                </Suspense>
                <Suspense fallback=|| ()>
                    {move || {
                        viewer
                            .get()
                            .map(|result| match result.ok().flatten() {
                                Some(user) => {
                                    view! {
                                        <div class="account">
                                            <span class="who">{user.username.clone()} " (" {user.role.clone()} ")"</span>
                                            <ActionForm action=sign_out attr:class="inline">
                                                <input type="hidden" name="csrf" value=user.csrf.clone()/>
                                                <button type="submit">"Sign out"</button>
                                            </ActionForm>
                                        </div>
                                    }
                                        .into_any()
                                }
                                None => view! { <a class="account" href=crate::mount_path::href("/login")>"Sign in"</a> }.into_any(),
                            })
                    }}
                </Suspense>
                <ThemeToggle/>
            </header>
            <main id="main">{children()}</main>
        </div>
    }
}

/// The pages the signed-in user's role can use, and only those.
#[component]
fn MainNav(viewer: Option<Viewer>) -> impl IntoView {
    let staff = viewer.as_ref().is_some_and(Viewer::is_staff);
    let admin = viewer.as_ref().is_some_and(Viewer::is_admin);
    let signed_in = viewer.is_some();
    let mut links: Vec<(&str, &str)> = vec![];
    if staff {
        links.extend([
            ("/", "Overview"),
            ("/dead", "Dead letters"),
            ("/schedules", "Schedules"),
            ("/history", "History"),
        ]);
    }
    if signed_in {
        links.extend([("/search", "Search"), ("/me", "My jobs")]);
    }
    if admin {
        links.extend([("/audit", "Audit log"), ("/users", "Users")]);
    }
    links.push(("/status", "Status"));
    view! {
        <nav aria-label="Main">
            {links.into_iter().map(|(href, label)| view! { <a href=crate::mount_path::href(href)>{label}</a> }).collect_view()}
        </nav>
    }
}
