//! `cargo xtask site [--release] [--out DIR]`: writes the dashboard's browser files into
//! DIR (default `target/site`) for `LEPTOS_SITE_ROOT`. `hoist` itself does not need it:
//! its build script builds the same files and embeds them.

use std::path::PathBuf;

use anyhow::{Context, bail};

const USAGE: &str = "usage: cargo xtask site [--release] [--out DIR]";

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("site") => {}
        Some("-h" | "--help") | None => {
            println!("{USAGE}");
            return Ok(());
        }
        Some(other) => bail!("unknown command `{other}`\n{USAGE}"),
    }
    let workspace = xtask::workspace_root();
    let mut release = false;
    let mut out = workspace.join("target/site");
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--release" => release = true,
            "--out" => out = PathBuf::from(args.next().context("--out needs a folder")?),
            other => bail!("unknown option `{other}`\n{USAGE}"),
        }
    }
    let site = xtask::site::SiteBuild {
        workspace: workspace.clone(),
        // `target/front` of the target folder in use: the folder server/build.rs builds in.
        target_dir: std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace.join("target"))
            .join("front"),
        release,
        versioned: false,
    };
    std::fs::create_dir_all(&out)?;
    let built = site.build(&out)?;
    site.copy_public(&out)?;
    println!("site written to {} (pkg dir `{}`)", out.display(), built.pkg_dir);
    Ok(())
}
