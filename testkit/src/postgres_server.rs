//! A throw-away PostgreSQL cluster (Debian's `initdb` and `pg_ctl`) that accepts TLS
//! connections only, with a certificate from a CA made for it — what managed PostgreSQL
//! services (RDS, Cloud SQL, Neon, Supabase) look like to a client.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::certificates::make_certificates;
use crate::redis_server::free_port;

/// A PostgreSQL server on a free loopback port with its own data directory, refusing
/// connections without TLS. Dropping it stops the server and removes the directory.
///
/// Needs PostgreSQL's server binaries (`/usr/lib/postgresql/<version>/bin`, or the folder
/// in `HOIST_TEST_PG_BIN`) and `openssl`. Run as root, it runs the server as `postgres`
/// (`initdb` refuses root).
pub struct PostgresServer {
    port: u16,
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_postgres: bool,
}

impl PostgresServer {
    /// Makes a cluster with `ssl = on` and `hostnossl … reject`, and starts it.
    pub fn start_tls() -> Self {
        let bin = server_binaries().expect("PostgreSQL's initdb and pg_ctl (Debian package postgresql)");
        let dir = tempfile::Builder::new().prefix("hoist-postgres-").tempdir().expect("temp dir");
        let certs = dir.path().join("certs");
        std::fs::create_dir_all(&certs).expect("certs dir");
        make_certificates(&certs).expect("make TLS certificates with openssl");
        let as_postgres = is_root();
        let mut server = PostgresServer { port: 0, dir, bin, as_postgres };
        if as_postgres {
            // The server reads its key and writes its data as `postgres`.
            run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(server.dir.path()))
                .expect("chown the data directory to postgres");
        }
        let data = server.data_dir();
        server
            .pg(&["initdb", "-D"], &[&data], &["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"])
            .expect("initdb");
        let mut last_error = String::new();
        for _ in 0..10 {
            server.port = free_port();
            server.configure(&certs).expect("write postgresql.conf");
            let log = server.dir.path().join("postgres.log");
            match server.pg(&["pg_ctl", "-D"], &[&data, Path::new("-l"), &log], &["-w", "-t", "30", "start"]) {
                Ok(_) => return server,
                Err(e) => {
                    last_error = format!("{e}\n{}", std::fs::read_to_string(&log).unwrap_or_default());
                }
            }
        }
        panic!("could not start PostgreSQL: {last_error}");
    }

    /// `postgres://postgres@localhost:PORT/postgres?sslmode=MODE`, plus `sslrootcert`
    /// (this server's CA) for the modes that check the certificate.
    pub fn url(&self, sslmode: &str) -> String {
        let mut url = format!("postgres://postgres@localhost:{}/postgres?sslmode={sslmode}", self.port);
        if sslmode.starts_with("verify") {
            url.push_str(&format!("&sslrootcert={}", self.ca_file().display()));
        }
        url
    }

    /// The CA that signed the server's certificate (PEM).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("certs/ca.pem")
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn configure(&self, certs: &Path) -> std::io::Result<()> {
        let data = self.data_dir();
        let settings = format!(
            "\n# hoist-testkit\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{dir}'\n\
             ssl = on\nssl_cert_file = '{certs}/server.pem'\nssl_key_file = '{certs}/server.key'\n\
             fsync = off\nmax_connections = 50\n",
            port = self.port,
            dir = self.dir.path().display(),
            certs = certs.display(),
        );
        let conf = data.join("postgresql.conf");
        let base = std::fs::read_to_string(&conf)?;
        let base = base.split("\n# hoist-testkit\n").next().unwrap_or_default().to_string();
        std::fs::write(&conf, base + &settings)?;
        // TLS or nothing, as managed services do: a plain connection is refused.
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n",
        )?;
        // The key must be private to the server's user.
        let key = certs.join("server.key");
        let mut permissions = std::fs::metadata(&key)?.permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o600);
        std::fs::set_permissions(&key, permissions)?;
        if self.as_postgres {
            run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(self.dir.path()))
                .map_err(std::io::Error::other)?;
        }
        Ok(())
    }

    /// Runs a server binary (`program` + its leading args, then paths, then the rest),
    /// as `postgres` when the tests run as root.
    fn pg(&self, program: &[&str], paths: &[&Path], rest: &[&str]) -> Result<Output, String> {
        let binary = self.bin.join(program[0]);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&binary);
            c
        } else {
            Command::new(&binary)
        };
        command.args(&program[1..]).args(paths).args(rest);
        run(&mut command)
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let data = self.data_dir();
        let _ = self.pg(&["pg_ctl", "-D"], &[&data], &["-m", "immediate", "-w", "stop"]);
    }
}

fn run(command: &mut Command) -> Result<Output, String> {
    let output = command.output().map_err(|e| format!("{command:?}: {e}"))?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(format!(
            "{command:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// `HOIST_TEST_PG_BIN`, or the newest `/usr/lib/postgresql/<version>/bin` with `initdb`.
fn server_binaries() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("HOIST_TEST_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::{Connection, PgConnection};

    #[tokio::test]
    async fn accepts_tls_only() {
        let server = PostgresServer::start_tls();
        let mut conn = PgConnection::connect(&server.url("verify-full")).await.expect("a verified TLS connection");
        let (ssl,): (bool,) = sqlx::query_as("select ssl from pg_stat_ssl where pid = pg_backend_pid()")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert!(ssl);
        let plain = PgConnection::connect(&server.url("disable")).await;
        assert!(plain.is_err(), "a connection without TLS is refused");
    }
}
