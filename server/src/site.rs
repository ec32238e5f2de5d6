//! The dashboard's browser files (wasm, JS glue, CSS, icon): built into the binary by
//! `build.rs`, or served from a folder when `LEPTOS_SITE_ROOT` names one (for
//! `cargo leptos watch` or `cargo xtask site`).
//!
//! Built-in files live under `/pkg/<build hash>/`, so they are served as immutable (a
//! new build has new addresses), precompressed (brotli, gzip) and with an ETag.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use axum::Router;
use memory_serve::CacheControl;

use crate::error::StartupError;

/// Where the browser files come from.
#[derive(Clone, Debug)]
pub enum SiteFiles {
    /// Those `build.rs` built into this binary.
    BuiltIn,
    /// A folder holding `pkg/hoist.{js,wasm,css}` and `favicon.svg`.
    Folder(PathBuf),
}

impl SiteFiles {
    /// `LEPTOS_SITE_ROOT` when set, else the built-in files.
    pub fn from_setting(folder: Option<&Path>) -> Self {
        match folder {
            Some(folder) => Self::Folder(folder.to_path_buf()),
            None => Self::BuiltIn,
        }
    }

    /// The folder under the site root the page loads its files from.
    pub fn pkg_dir(&self) -> &'static str {
        match self {
            Self::BuiltIn => env!("HOIST_SITE_PKG_DIR"),
            Self::Folder(_) => "pkg",
        }
    }

    /// The site root Leptos is told about (only a folder has one).
    pub fn root(&self) -> String {
        match self {
            Self::BuiltIn => String::new(),
            Self::Folder(folder) => folder.display().to_string(),
        }
    }

    /// A folder without the built files would serve pages that never come alive: refuse
    /// it at start, naming the variable.
    pub fn check(&self) -> Result<(), StartupError> {
        let Self::Folder(folder) = self else { return Ok(()) };
        let missing: Vec<&str> = ["pkg/hoist.js", "pkg/hoist.wasm", "pkg/hoist.css"]
            .into_iter()
            .filter(|file| !folder.join(file).is_file())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(StartupError::Invalid {
            variable: "LEPTOS_SITE_ROOT",
            reason: format!(
                "{} lacks {} (build it with `cargo xtask site`, or unset LEPTOS_SITE_ROOT to serve the files built into hoist)",
                folder.display(),
                missing.join(", ")
            ),
        })
    }

    /// The files, with `fallback` answering every other path.
    pub fn service<F>(&self, fallback: F) -> Router
    where
        F: tower::Service<
                axum::extract::Request,
                Response = axum::response::Response,
                Error = std::convert::Infallible,
            > + Clone
            + Send
            + Sync
            + 'static,
        F::Future: Send + 'static,
    {
        match self {
            Self::BuiltIn => built_in().clone().fallback_service(fallback),
            Self::Folder(folder) => {
                let files = tower_http::services::ServeDir::new(folder).call_fallback_on_method_not_allowed(true);
                Router::new().fallback_service(files.fallback(fallback))
            }
        }
    }
}

/// memory-serve's routes for the built-in files, made once per process: making them
/// decompresses the files and keeps them for the life of the process.
fn built_in() -> &'static Router {
    static ROUTES: OnceLock<Router> = OnceLock::new();
    ROUTES.get_or_init(|| {
        let pkg = memory_serve::load!("pkg").index_file(None).cache_control(CacheControl::Long).into_router();
        let public = memory_serve::load!("public").index_file(None).cache_control(CacheControl::Medium).into_router();
        pkg.merge(public)
    })
}
