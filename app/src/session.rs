//! Who is signed in, and signing in and out: server functions over the server's
//! [`crate::backend::Backend`].

use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::types::Viewer;

/// The signed-in user as the page loaded it: one request per page load, shared by the
/// layout, the pages and the live feed through context.
pub type ViewerResource = Resource<Result<Option<Viewer>, AppError>>;

/// Loads the viewer for everything inside the layout (called once, by the layout).
pub fn provide_viewer() -> ViewerResource {
    let viewer = Resource::new(|| (), |_| get_viewer());
    provide_context(viewer);
    viewer
}

/// The viewer the layout loaded (a fresh load outside any layout).
pub fn use_viewer() -> ViewerResource {
    use_context::<ViewerResource>().unwrap_or_else(|| Resource::new(|| (), |_| get_viewer()))
}

/// Where a user's dashboard starts: staff on the overview of queues, end users on their
/// own jobs.
pub fn landing_page(viewer: &Viewer) -> &'static str {
    if viewer.is_staff() { "/" } else { "/me" }
}

/// Sends the browser to `path` (under the mount path): a 302 when the page is rendered on
/// the server, a full page load when the router got there in the browser.
pub fn redirect_to(path: &str) {
    #[cfg(feature = "ssr")]
    leptos_axum::redirect(&crate::mount_path::href(path));
    reload_to(path);
}

/// The signed-in user, or `None`.
#[server(input = GetUrl, endpoint = "get_viewer")]
pub async fn get_viewer() -> Result<Option<Viewer>, AppError> {
    crate::backend::backend()?.viewer().await
}

#[server(endpoint = "sign_in")]
pub async fn sign_in(username: String, password: String) -> Result<Viewer, AppError> {
    crate::backend::backend()?.sign_in(username, password).await
}

#[server(endpoint = "sign_out")]
pub async fn sign_out(csrf: String) -> Result<(), AppError> {
    crate::backend::backend()?.sign_out(csrf).await
}

/// The text of a server function's error, without the framework's prefix.
pub fn error_text(error: &AppError) -> String {
    error.message().to_string()
}

/// A full page load of the dashboard's `path` (under its mount path), so every part of
/// the page sees the new session.
pub fn reload_to(path: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let _ = window.location().set_href(&crate::mount_path::href(path));
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}
