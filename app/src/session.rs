//! Who is signed in, and signing in and out: server functions over the server's
//! [`crate::backend::Backend`].

use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::types::Viewer;

/// The signed-in user, or `None`.
#[server(input = GetUrl, endpoint = "get_viewer")]
pub async fn get_viewer() -> Result<Option<Viewer>, AppError> {
    Ok(crate::backend::backend()?.viewer().await)
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
