//! Serving the dashboard under a prefix: a host application may nest Hoist's router
//! (`Router::new().nest("/hoist", hoist.router())`), like Sidekiq::Web under Rails'
//! `SCRIPT_NAME`. axum hands the nested router the path without the prefix; the prefix
//! is what the outermost router saw minus that, worked out per request, so nothing has
//! to be configured twice.

use axum::extract::{OriginalUri, Request};
use axum::middleware::Next;
use axum::response::Response;

pub use app::mount_path::MountPath;

/// The prefix `original` carries in front of `inner` (what a nested router sees): `""`
/// when not nested. A prefix that could turn links into another site's
/// (`//host`) or carries unusual characters is not used.
pub fn prefix_of(original: &str, inner: &str) -> String {
    let prefix = if inner == "/" { original.trim_end_matches('/') } else { original.strip_suffix(inner).unwrap_or("") };
    let safe = prefix.starts_with('/')
        && !prefix.contains("//")
        && prefix.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'~'));
    if safe { prefix.to_string() } else { String::new() }
}

/// Middleware for every route: records the request's [`MountPath`] as an extension.
pub async fn detect(mut request: Request, next: Next) -> Response {
    let prefix = match request.extensions().get::<OriginalUri>() {
        Some(OriginalUri(original)) => prefix_of(original.path(), request.uri().path()),
        None => String::new(),
    };
    request.extensions_mut().insert(MountPath(prefix));
    next.run(request).await
}

/// Middleware for the dashboard's pages: the page router matches the whole path (its
/// base is the mount path), so it gets the path the browser asked for back; and forms
/// posting to a server function get the prefix in front of their `action`.
pub async fn restore_full_path(mut request: Request, next: Next) -> Response {
    if crate::server_functions::is_server_function(request.uri().path()) {
        return next.run(request).await;
    }
    if let Some(OriginalUri(original)) = request.extensions().get::<OriginalUri>().cloned() {
        *request.uri_mut() = original;
    }
    let prefix = request.extensions().get::<MountPath>().map(|m| m.0.clone()).unwrap_or_default();
    let response = next.run(request).await;
    if prefix.is_empty() {
        return response;
    }
    prefix_form_actions(response, &prefix).await
}

/// Largest page whose forms are rewritten (pages are a few hundred KiB at most).
const MAX_PAGE_BYTES: usize = 16 * 1024 * 1024;

/// Leptos renders an `ActionForm`'s `action` as the server function's path without the
/// prefix the browser client adds to its calls; a form sent before the page hydrates (or
/// without JavaScript) would post to the host application's `/api/...`.
async fn prefix_form_actions(response: Response, prefix: &str) -> Response {
    let is_html = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !is_html {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_PAGE_BYTES).await {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::warn!(%error, "page too large to prefix its forms");
            return Response::from_parts(parts, axum::body::Body::empty());
        }
    };
    let page = String::from_utf8_lossy(&bytes).replace(r#" action="/api/"#, &format!(r#" action="{prefix}/api/"#));
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(page))
}

/// The mount path of the request Leptos is rendering (none while listing routes).
pub fn of_current_request() -> MountPath {
    leptos::prelude::use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<MountPath>().cloned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::prefix_of;

    #[test]
    fn prefixes() {
        assert_eq!(prefix_of("/queues/a", "/queues/a"), "");
        assert_eq!(prefix_of("/", "/"), "");
        assert_eq!(prefix_of("/hoist/queues/a", "/queues/a"), "/hoist");
        assert_eq!(prefix_of("/hoist", "/"), "/hoist");
        assert_eq!(prefix_of("/hoist/", "/"), "/hoist");
        assert_eq!(prefix_of("/admin/jobs/pkg/hoist.js", "/pkg/hoist.js"), "/admin/jobs");
        assert_eq!(prefix_of("//evil.example/x", "/x"), "", "protocol-relative");
        assert_eq!(prefix_of("/a\"b/x", "/x"), "");
        assert_eq!(prefix_of("/x", "/y"), "");
    }
}
