//! Who is signed in, and signing in and out: server functions over the server's
//! [`crate::backend::Backend`].

use crate::error::AppError;
use crate::t;
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

#[server(endpoint = "set_language")]
pub async fn set_language(language: String, csrf: Option<String>) -> Result<(), AppError> {
    crate::backend::backend()?.set_language(language, csrf).await
}

/// A server function's error as the page shows it, in the page's language: in English
/// the server's own words (the most precise); in another language what its code means,
/// naming the input at fault.
pub fn error_text(error: &AppError) -> String {
    let i18n = crate::i18n::use_i18n();
    if i18n.language() == crate::i18n::Language::En && !error.message().is_empty() {
        return error.message().to_string();
    }
    let field = error.error.field.clone().unwrap_or_default();
    match error.error.code.as_str() {
        "invalid" if !field.is_empty() => t!(i18n, "errors-invalid-field", field = field),
        "invalid" => t!(i18n, "errors-invalid"),
        "unauthenticated" => t!(i18n, "errors-unauthenticated"),
        "bad_credentials" => t!(i18n, "errors-bad-credentials"),
        "forbidden" if !field.is_empty() => t!(i18n, "errors-forbidden-field", field = field),
        "forbidden" => t!(i18n, "errors-forbidden"),
        "not_found" => t!(i18n, "errors-not-found"),
        "method_not_allowed" => t!(i18n, "errors-method-not-allowed"),
        "conflict" => t!(i18n, "errors-conflict"),
        "payload_too_large" => t!(i18n, "errors-payload-too-large"),
        "rate_limited" => t!(i18n, "errors-rate-limited"),
        "unavailable" => t!(i18n, "errors-unavailable"),
        _ => t!(i18n, "errors-internal"),
    }
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
