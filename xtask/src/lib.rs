//! Build programs of the Hoist workspace. [`site`] builds the dashboard's browser half;
//! the `hoist` server's build script calls it, and so does `cargo xtask site`.

pub mod site;

use std::path::PathBuf;

/// The workspace's root folder (this crate lives one level below it).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}
