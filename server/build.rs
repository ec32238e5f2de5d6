//! Builds the dashboard's browser half (the `app` crate for wasm, its JS glue, the CSS;
//! see `xtask::site`) and hands it to memory-serve, so that however `hoist` is built —
//! `cargo build`, `cargo install --path server`, README's commands — its pages and the
//! files they load come from one build. Release builds embed the files (compressed);
//! debug builds read them from OUT_DIR.

use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let workspace = manifest.parent().expect("server/ is inside the workspace").to_path_buf();
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let release = std::env::var("PROFILE").as_deref() == Ok("release");

    let inputs = [
        "app/src",
        "app/Cargo.toml",
        "style",
        "public",
        "Cargo.toml",
        "Cargo.lock",
        ".cargo/config.toml",
        "rust-toolchain.toml",
        "xtask/src",
    ];
    for input in inputs {
        println!("cargo::rerun-if-changed={}", workspace.join(input).display());
    }
    // Installing npm's wasm-opt under .tools/ is worth a rebuild (not every PATH change).
    println!("cargo::rerun-if-changed={}", xtask::site::wasm_opt_program(&workspace).to_string_lossy());

    let site = xtask::site::SiteBuild {
        target_dir: front_target_dir(&out_dir),
        workspace: workspace.clone(),
        release,
        versioned: true,
    };
    let site_dir = out_dir.join("site");
    std::fs::create_dir_all(&site_dir).expect("creating OUT_DIR/site");
    let built = match site.build(&site_dir) {
        Ok(built) => built,
        Err(error) => {
            // One readable line instead of a panic's backtrace.
            println!("cargo::error=building the dashboard's browser files failed: {error:#}");
            std::process::exit(1);
        }
    };
    if release && !built.optimized {
        println!(
            "cargo::warning=wasm-opt not found: the dashboard's wasm is not size-optimised (scripts/prereqs.sh installs it)"
        );
    }
    println!("cargo::rustc-env=HOIST_SITE_PKG_DIR={}", built.pkg_dir);
    memory_serve::load_names_directories([("pkg", site_dir), ("public", workspace.join("public"))], release);
}

/// `<target>/front`, next to `<target>/<profile>/build/hoist-…/out`: the wasm build has a
/// target folder of its own (the calling cargo holds this one's lock), shared with
/// `cargo xtask site` and cargo-leptos so they build it once.
fn front_target_dir(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .find(|dir| dir.file_name().is_some_and(|name| name == "build"))
        .and_then(Path::parent)
        .and_then(Path::parent)
        .map(|target| target.join("front"))
        .unwrap_or_else(|| out_dir.join("front"))
}
