//! The Hoist dashboard: Leptos components rendered by `server/` and hydrated in the browser.
//!
//! This crate never talks to Redis or SQL; the data it shows reaches it through server
//! functions and the WebSocket, both served by `server/`.

// Leptos views are nested types; laying out the async hydration of a page's table needs
// more depth than the default 128.
#![recursion_limit = "256"]

pub mod app;
pub mod backend;
pub mod clock;
pub mod components;
pub mod error;
pub mod format;
pub mod i18n;
pub mod mount_path;
pub mod pages;
pub mod reports;
pub mod session;
pub mod types;

pub use app::{App, shell};

/// The wasm entry point: attaches the server-rendered page to its reactive runtime.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    mount_path::adopt_from_page();
    leptos::mount::hydrate_body(App);
}
