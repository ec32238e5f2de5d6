use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::certificates::make_certificates;

/// How a test's Redis is started.
#[derive(Clone, Debug, Default)]
pub struct RedisOptions {
    /// Keep an append-only file, so a restart (even after SIGKILL) keeps the data.
    pub append_only: bool,
    /// `appendfsync always` instead of `everysec`: no write is lost to SIGKILL.
    pub fsync_always: bool,
    /// Also listen with TLS (`rediss://`), with a certificate from a CA made for this
    /// server ([`RedisServer::tls_url`], [`RedisServer::tls_dir`]); needs `openssl`.
    pub tls: bool,
    /// Start Redis's wall clock here, under libfaketime (its `FAKETIME` syntax, e.g.
    /// `@2026-11-30 23:59:55`: from that moment on, running); timers stay real.
    pub fake_time: Option<String>,
}

/// A `redis-server` process on a free loopback port with its own temp dir.
///
/// It can be stopped, killed and restarted on the same port and directory, which is
/// what fault tests need. Dropping it kills the process and removes the directory.
pub struct RedisServer {
    port: u16,
    /// The TLS port, when started with `tls`.
    tls_port: Option<u16>,
    dir: tempfile::TempDir,
    options: RedisOptions,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a Redis that keeps nothing on disk.
    pub fn start() -> Self {
        Self::start_with(RedisOptions::default())
    }

    pub fn start_with(options: RedisOptions) -> Self {
        let dir = tempfile::Builder::new().prefix("hoist-redis-").tempdir().expect("create temp dir for redis");
        if options.tls {
            make_certificates(dir.path()).expect("make TLS certificates with openssl");
        }
        let mut server = RedisServer { port: 0, tls_port: None, dir, options, child: None };
        // A port freed by the OS can be taken by another test between our probe and
        // redis binding it; try a few.
        let mut last_error = String::new();
        for _ in 0..10 {
            server.port = free_port();
            server.tls_port = server.options.tls.then(free_port);
            match server.spawn() {
                Ok(()) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("could not start redis-server: {last_error}");
    }

    /// `rediss://localhost:PORT` when started with `tls` (the certificate names
    /// `localhost` and `127.0.0.1`).
    pub fn tls_url(&self) -> Option<String> {
        self.tls_port.map(|port| format!("rediss://localhost:{port}"))
    }

    /// Where the TLS files are: `ca.pem` (the CA to trust), `client.pem` and
    /// `client.key` (a client certificate it signed), `server.pem`, `server.key`.
    pub fn tls_dir(&self) -> &Path {
        self.dir.path()
    }

    /// `redis://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server's process id while it runs (to stop or continue it with a signal).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Graceful stop: `SHUTDOWN` (which writes the AOF/RDB as configured), then wait.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = command(self.port, &["SHUTDOWN"]);
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGKILL: the process dies with no chance to flush anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and directory.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.spawn() {
                Ok(()) => return,
                // The old socket may linger for a moment after the kill.
                Err(e) if Instant::now() > deadline => panic!("restart redis-server: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// Runs one command over a plain socket and returns the raw reply line(s).
    pub fn command(&self, args: &[&str]) -> std::io::Result<String> {
        command(self.port, args)
    }

    fn spawn(&mut self) -> Result<(), String> {
        let mut args: Vec<String> = vec![
            "--port".into(),
            self.port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--dir".into(),
            self.dir.path().display().to_string(),
            "--save".into(),
            String::new(),
            "--daemonize".into(),
            "no".into(),
            "--logfile".into(),
            log_path(self.dir.path()).display().to_string(),
        ];
        if let Some(tls_port) = self.tls_port {
            let file = |name: &str| self.dir.path().join(name).display().to_string();
            args.extend([
                "--tls-port".into(),
                tls_port.to_string(),
                "--tls-cert-file".into(),
                file("server.pem"),
                "--tls-key-file".into(),
                file("server.key"),
                "--tls-ca-cert-file".into(),
                file("ca.pem"),
                // A client certificate is checked when sent, not required.
                "--tls-auth-clients".into(),
                "optional".into(),
            ]);
        }
        if self.options.append_only {
            args.extend(["--appendonly".into(), "yes".into()]);
            let fsync = if self.options.fsync_always { "always" } else { "everysec" };
            args.extend(["--appendfsync".into(), fsync.into()]);
        } else {
            args.extend(["--appendonly".into(), "no".into()]);
        }
        let mut server = Command::new(redis_binary());
        if let Some(start) = &self.options.fake_time {
            server
                .env("LD_PRELOAD", crate::faketime::faketime_preload_for_redis())
                .env("FAKETIME", start)
                .env("DONT_FAKE_MONOTONIC", "1")
                .env("FAKETIME_DONT_RESET", "1");
        }
        let child = server
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", redis_binary().display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if !self.is_running() {
                self.child = None;
                return Err(format!(
                    "redis-server exited at start: {}",
                    std::fs::read_to_string(log_path(self.dir.path())).unwrap_or_default()
                ));
            }
            // Loading a large AOF answers -LOADING; only +PONG means ready.
            if let Ok(reply) = command(self.port, &["PING"])
                && reply.starts_with("+PONG")
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.kill();
        Err("redis-server did not answer PING within 10 s".into())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn log_path(dir: &Path) -> PathBuf {
    dir.join("redis.log")
}

fn redis_binary() -> PathBuf {
    std::env::var_os("HOIST_REDIS_SERVER").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("redis-server"))
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("find a free port")
}

pub(crate) fn command_on(port: u16, args: &[&str]) -> std::io::Result<String> {
    command(port, args)
}

/// The text reply of a command run through redis-cli (e.g. `CLUSTER INFO`).
pub(crate) fn cli_on(port: u16, args: &[&str]) -> std::io::Result<String> {
    let output = Command::new("redis-cli").args(["-p", &port.to_string()]).args(args).output()?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Sends one command in RESP and returns the first reply line (enough for status replies).
fn command(port: u16, args: &[&str]) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut request = format!("*{}\r\n", args.len());
    for arg in args {
        request.push_str(&format!("${}\r\n{}\r\n", arg.len(), arg));
    }
    stream.write_all(request.as_bytes())?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    match reader.read_line(&mut line) {
        Ok(_) => Ok(line),
        // SHUTDOWN closes the socket without a reply.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(line),
        Err(e) => {
            let mut rest = String::new();
            let _ = reader.read_to_string(&mut rest);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_answers_and_cleans_up() {
        let dir;
        {
            let server = RedisServer::start();
            assert!(server.command(&["PING"]).unwrap().starts_with("+PONG"));
            dir = server.dir().to_path_buf();
            assert!(dir.exists());
        }
        assert!(!dir.exists(), "temp dir removed on drop");
    }

    #[test]
    fn data_survives_sigkill_with_fsync_always() {
        let mut server =
            RedisServer::start_with(RedisOptions { append_only: true, fsync_always: true, ..Default::default() });
        assert!(server.command(&["SET", "k", "v"]).unwrap().starts_with("+OK"));
        server.kill();
        assert!(server.command(&["PING"]).is_err(), "killed server must not answer");
        server.restart();
        let reply = server.command(&["EXISTS", "k"]).unwrap();
        assert_eq!(reply.trim(), ":1");
    }

    #[test]
    fn graceful_stop_without_persistence_loses_data() {
        let mut server = RedisServer::start();
        server.command(&["SET", "k", "v"]).unwrap();
        server.stop();
        server.restart();
        assert_eq!(server.command(&["EXISTS", "k"]).unwrap().trim(), ":0");
    }
}
