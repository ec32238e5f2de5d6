//! Where the dashboard is mounted: `""` when it owns the site, or a prefix such as
//! `/hoist` when a host application nests it in its own router. Every link, asset,
//! server-function call and live-feed URL goes under it.
//!
//! The server works the prefix out per request (what its router was nested under) and
//! renders it into the page; the browser reads it back before hydrating, and hands it to
//! the server-function client, which then prefixes every call.

/// The prefix the dashboard is mounted under: empty, or `/` followed by path segments
/// with no trailing `/`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MountPath(pub String);

/// The `<meta>` tag that carries the prefix from the server's page to the browser.
pub const META_NAME: &str = "hoist-mount-path";

/// The prefix of the page being rendered (server) or shown (browser).
pub fn mount_path() -> String {
    #[cfg(feature = "ssr")]
    {
        leptos::prelude::use_context::<MountPath>().map(|m| m.0).unwrap_or_default()
    }
    #[cfg(not(feature = "ssr"))]
    {
        leptos::server_fn::client::get_server_url().to_string()
    }
}

/// `path` (an absolute dashboard path such as `/queues/a`) under the mount path. The
/// dashboard's root under `/hoist` is `/hoist`: a router nested there does not answer
/// `/hoist/`.
pub fn href(path: &str) -> String {
    let prefix = mount_path();
    match path {
        "/" if !prefix.is_empty() => prefix,
        _ => format!("{prefix}{path}"),
    }
}

/// Reads the prefix the server rendered into the page and points server-function calls
/// at it; called once, before hydration.
#[cfg(feature = "hydrate")]
pub fn adopt_from_page() {
    let prefix = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.query_selector(&format!("meta[name=\"{META_NAME}\"]")).ok().flatten())
        .and_then(|meta| meta.get_attribute("content"))
        .unwrap_or_default();
    if !prefix.is_empty() {
        // Leaked once per page load: the client keeps it for the page's life.
        let _ = leptos::server_fn::client::try_set_server_url(Box::leak(prefix.into_boxed_str()));
    }
}
