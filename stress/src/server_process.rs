//! A `hoist serve` child process on a given Redis, with its own SQLite in a temp dir.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The admin account's password in every server started here.
pub const ADMIN_PASSWORD: &str = "stress-admin-password";

pub struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    _data: tempfile::TempDir,
}

impl ServerProcess {
    /// Starts `bin` (default: the `hoist` binary beside this program) and waits for
    /// `/healthz`. With `history`, the server copies finished jobs to SQL (the default of
    /// a real deployment, and finished jobs stay in Redis until it has).
    pub async fn start(bin: Option<&Path>, redis_url: &str, history: bool) -> anyhow::Result<ServerProcess> {
        let bin: PathBuf = match bin {
            Some(bin) => bin.to_path_buf(),
            None => std::env::current_exe()?.with_file_name("hoist"),
        };
        let data = tempfile::tempdir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(&bin)
            .arg("serve")
            .env("REDIS_URL", redis_url)
            // As before processors were opt-in: the figures compare with earlier runs.
            .env("HOIST_PROCESSORS", "all")
            .env("HOIST_DATA_DIR", data.path())
            .env_remove("DATABASE_URL")
            .env("HOIST_ADDR", format!("127.0.0.1:{port}"))
            .env("HOIST_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("HOIST_HISTORY_DAYS", if history { "30" } else { "0" })
            // The load runs play hundreds of browser tabs with one admin session; the
            // per-user socket cap (16 by default) is for real users.
            .env("HOIST_MAX_SOCKETS_PER_USER", "10000")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| anyhow::anyhow!("starting {} (build it, or pass --hoist-bin): {e}", bin.display()))?;
        let server = ServerProcess { child, base: format!("http://127.0.0.1:{port}"), _data: data };
        let http = reqwest::Client::new();
        for _ in 0..300 {
            if let Ok(r) = http.get(format!("{}/healthz", server.base)).send().await
                && r.status().is_success()
            {
                return Ok(server);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("hoist serve did not answer /healthz within 30 s")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
