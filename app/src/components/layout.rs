use leptos::prelude::*;

use crate::components::firing_banner::FiringBanner;
use crate::components::keyboard_shortcuts::KeyboardShortcuts;
use crate::components::language_menu::LanguageMenu;
use crate::components::theme_toggle::ThemeToggle;
use crate::i18n::{msg, use_i18n};
use crate::session::{SignOut, landing_page, provide_viewer, reload_to};
use crate::t;
use crate::types::Viewer;

/// Header, navigation and main area around every page.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    // Set only in the browser, after hydration: end-to-end tests and CSS can tell a
    // live page from server-rendered HTML.
    let i18n = use_i18n();
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
            <a class="skip-link" href="#main">{t!(i18n, "layout-skip-to-content")}</a>
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
                                            <span class="who">
                                                {t!(i18n, "layout-who", username = user.username.clone(), role = i18n.role(&user.role))}
                                            </span>
                                            <ActionForm action=sign_out attr:class="inline">
                                                <input type="hidden" name="csrf" value=user.csrf.clone()/>
                                                <button type="submit">{t!(i18n, "layout-sign-out")}</button>
                                            </ActionForm>
                                        </div>
                                    }
                                        .into_any()
                                }
                                None => view! { <a class="account" href=crate::mount_path::href("/login")>{t!(i18n, "layout-sign-in")}</a> }.into_any(),
                            })
                    }}
                </Suspense>
                <LanguageMenu viewer/>
                <ThemeToggle/>
            </header>
            <FiringBanner/>
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
    let i18n = use_i18n();
    let mut links: Vec<(&str, &str)> = vec![];
    if staff {
        links.extend([
            ("/", msg("layout-nav-overview")),
            ("/dead", msg("layout-nav-dead-letters")),
            ("/schedules", msg("layout-nav-schedules")),
            ("/processes", msg("layout-nav-processes")),
            ("/alerts", msg("layout-nav-alerts")),
            ("/history", msg("layout-nav-history")),
        ]);
    }
    if signed_in {
        links.extend([("/search", msg("layout-nav-search")), ("/me", msg("layout-nav-my-jobs"))]);
    }
    if admin {
        links.extend([
            ("/reports", msg("layout-nav-reports")),
            ("/audit", msg("layout-nav-audit")),
            ("/users", msg("layout-nav-users")),
        ]);
    }
    links.push(("/status", msg("layout-nav-status")));
    view! {
        <nav aria-label=t!(i18n, "layout-main-nav")>
            {links
                .into_iter()
                .map(|(href, label)| view! { <a href=crate::mount_path::href(href)>{i18n.text(label)}</a> })
                .collect_view()}
        </nav>
    }
}
