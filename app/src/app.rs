//! The document shell and every route of the dashboard, declared in one place.

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::{
    ParamSegment, SsrMode, StaticSegment,
    components::{Route, Router, Routes},
};

use crate::components::layout::Layout;
use crate::mount_path::mount_path;
use crate::pages::{
    alerts::AlertsPage,
    audit::AuditPage,
    dead_letters::DeadLettersPage,
    history::HistoryPage,
    home::HomePage,
    job::JobPage,
    login::LoginPage,
    my_jobs::MyJobsPage,
    not_found::NotFound,
    overview::OverviewPage,
    processes::ProcessesPage,
    queue::QueuePageView,
    reports::{ReportPage, ReportsPage},
    schedules::SchedulesPage,
    search::SearchPage,
    users::UsersPage,
};

/// The HTML document around the app; rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    // The browser reads the page's language back from here when it hydrates.
    let language = crate::i18n::provide_i18n().language();
    view! {
        <!DOCTYPE html>
        <html lang=language.code()>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" href=crate::mount_path::href("/favicon.svg") type="image/svg+xml"/>
                // Here, not in <App/>: where the files are (`pkg/<build hash>` when they are
                // built into the binary) is known to the server only.
                <link
                    rel="stylesheet"
                    id="leptos"
                    href=crate::mount_path::href(&format!("/{}/hoist.css", options.site_pkg_dir))
                />
                <AutoReload options=options.clone()/>
                <meta name=crate::mount_path::META_NAME content=mount_path()/>
                <HydrationScripts options root=mount_path()/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    crate::i18n::provide_i18n();
    crate::clock::provide_clock();
    view! {
        <Title text="Hoist"/>
        <Router base=mount_path()>
            <Layout>
                // Every page renders whole on the server before it is sent (Async), so it
                // reads without JavaScript; hydration then makes it live.
                <Routes fallback=NotFound>
                    <Route path=StaticSegment("") view=OverviewPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("login") view=LoginPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("status") view=HomePage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("me") view=MyJobsPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("dead") view=DeadLettersPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("schedules") view=SchedulesPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("processes") view=ProcessesPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("alerts") view=AlertsPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("history") view=HistoryPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("search") view=SearchPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("audit") view=AuditPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("reports") view=ReportsPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("reports"), ParamSegment("id")) view=ReportPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("users") view=UsersPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("queues"), ParamSegment("name")) view=QueuePageView ssr=SsrMode::Async/>
                    <Route
                        path=(StaticSegment("queues"), ParamSegment("name"), StaticSegment("jobs"), ParamSegment("id"))
                        view=JobPage ssr=SsrMode::Async
                    />
                </Routes>
            </Layout>
        </Router>
    }
}
