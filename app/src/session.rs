//! Who is signed in, and signing in and out: server functions over the server's
//! [`crate::backend::Backend`].

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::types::Viewer;

/// The signed-in user, or `None`.
#[server(input = GetUrl)]
pub async fn get_viewer() -> Result<Option<Viewer>, ServerFnError> {
    Ok(crate::backend::backend()?.viewer().await)
}

#[server]
pub async fn sign_in(username: String, password: String) -> Result<Viewer, ServerFnError> {
    crate::backend::backend()?.sign_in(username, password).await.map_err(ServerFnError::new)
}

#[server]
pub async fn sign_out() -> Result<(), ServerFnError> {
    crate::backend::backend()?.sign_out().await;
    Ok(())
}

/// The text of a server function's error, without the framework's prefix.
pub fn error_text(error: &ServerFnError) -> String {
    match error {
        ServerFnError::ServerError(message) => message.clone(),
        other => other.to_string(),
    }
}

/// A full page load of `path`, so every part of the page sees the new session.
pub fn reload_to(path: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let _ = window.location().set_href(path);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}
