//! Configuration: every setting is an environment variable with a matching flag.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use crate::error::StartupError;

/// Everything `hoist serve` reads (also what [`crate::HoistBuilder`] starts from).
#[derive(clap::Parser, Clone, Debug)]
pub struct ServeConfig {
    #[command(flatten)]
    pub store: StoreConfig,
    #[command(flatten)]
    pub http: HttpConfig,
    #[command(flatten)]
    pub workers: WorkerConfig,
}

/// Where the server finds Redis and SQL; shared by every subcommand that needs them.
#[derive(Args, Clone, Debug)]
pub struct StoreConfig {
    /// Redis holding the queues.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis_url: String,

    /// SQL database for users, sessions, audit log and job history. Unset: SQLite at
    /// `$HOIST_DATA_DIR/hoist.db`. A `postgres://` URL selects PostgreSQL.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    /// Folder for the SQLite database and other local files.
    #[arg(long, env = "HOIST_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Days the SQL job history keeps finished jobs; 0 turns history off. With history
    /// on, finished jobs stay in Redis until a `serve` process has copied them.
    #[arg(long, env = "HOIST_HISTORY_DAYS", default_value_t = 30)]
    pub history_days: u32,

    /// Prefix of every Redis key: the queues, schedules and lockouts this process sees.
    /// Installations with different prefixes share a Redis without seeing each other. 1
    /// to 64 letters, digits, `_`, `-` or `.`.
    #[arg(long, env = "HOIST_KEY_PREFIX", default_value = hoist_queue::DEFAULT_KEY_PREFIX)]
    pub key_prefix: String,

    /// Start even though Redis's `maxmemory-policy` lets it delete keys under memory
    /// pressure (anything but `noeviction`): jobs would vanish without a trace. Only for
    /// a Redis whose memory can never fill up.
    #[arg(long, env = "HOIST_ALLOW_EVICTION", default_value_t = false)]
    pub allow_eviction: bool,

    /// PEM file of the CA that signed the Redis server's certificate, for `rediss://`
    /// URLs (unset: the system's trusted CAs).
    #[arg(long, env = "REDIS_CA_FILE")]
    pub redis_ca_file: Option<PathBuf>,

    /// PEM client certificate for Redis servers that require one (mutual TLS); with
    /// `REDIS_CLIENT_KEY_FILE`.
    #[arg(long, env = "REDIS_CLIENT_CERT_FILE")]
    pub redis_client_cert_file: Option<PathBuf>,

    /// PEM private key of `REDIS_CLIENT_CERT_FILE`.
    #[arg(long, env = "REDIS_CLIENT_KEY_FILE")]
    pub redis_client_key_file: Option<PathBuf>,
}

impl StoreConfig {
    /// The TLS files for Redis, read; an unreadable file is reported by its variable.
    pub fn redis_tls(&self) -> Result<Option<hoist_queue::TlsFiles>, StartupError> {
        let read = |path: &Option<PathBuf>, variable: &'static str| -> Result<Option<Vec<u8>>, StartupError> {
            path.as_ref()
                .map(|p| {
                    std::fs::read(p).map_err(|e| StartupError::Invalid {
                        variable,
                        reason: format!("cannot read {}: {e}", p.display()),
                    })
                })
                .transpose()
        };
        let files = hoist_queue::TlsFiles {
            ca: read(&self.redis_ca_file, "REDIS_CA_FILE")?,
            client_cert: read(&self.redis_client_cert_file, "REDIS_CLIENT_CERT_FILE")?,
            client_key: read(&self.redis_client_key_file, "REDIS_CLIENT_KEY_FILE")?,
        };
        if files.client_cert.is_some() != files.client_key.is_some() {
            return Err(StartupError::Invalid {
                variable: "REDIS_CLIENT_CERT_FILE",
                reason: "a client certificate and its key (REDIS_CLIENT_KEY_FILE) go together".into(),
            });
        }
        let any = files.ca.is_some() || files.client_cert.is_some();
        Ok(any.then_some(files))
    }

    /// The SQL URL to use, after applying the SQLite default.
    pub fn resolved_database_url(&self) -> String {
        match &self.database_url {
            Some(url) if !url.trim().is_empty() => url.trim().to_string(),
            _ => format!("sqlite://{}?mode=rwc", self.data_dir.join("hoist.db").display()),
        }
    }

    /// Checks the shape of both URLs before anything connects, so a typo is reported as
    /// such and not as a connection failure.
    pub fn validate(&self) -> Result<(), StartupError> {
        self.validate_redis_url()?;
        let database = self.resolved_database_url();
        crate::db::DbKind::from_url(&database)?;
        hoist_queue::check_key_prefix(&self.key_prefix)
            .map_err(|e| StartupError::Invalid { variable: "HOIST_KEY_PREFIX", reason: e.to_string() })?;
        Ok(())
    }

    /// Sentinels and a master name; else one URL, or a Redis Cluster's nodes separated
    /// by commas.
    fn validate_redis_url(&self) -> Result<(), StartupError> {
        if self.redis_url.trim().starts_with("redis+sentinel://") {
            return hoist_queue::check_sentinel_url(self.redis_url.trim())
                .map_err(|e| StartupError::Invalid { variable: "REDIS_URL", reason: e.to_string() });
        }
        let nodes: Vec<&str> = self.redis_url.split(',').map(str::trim).filter(|n| !n.is_empty()).collect();
        if nodes.is_empty() {
            return Err(StartupError::Invalid { variable: "REDIS_URL", reason: "is empty".into() });
        }
        for node in nodes {
            let redis = url::Url::parse(node).map_err(|e| StartupError::Invalid {
                variable: "REDIS_URL",
                reason: format!("{node:?} is not a URL ({e})"),
            })?;
            if !matches!(redis.scheme(), "redis" | "rediss" | "redis+unix" | "unix") {
                return Err(StartupError::Invalid {
                    variable: "REDIS_URL",
                    reason: format!("{node:?}: scheme {:?} is not redis:// or rediss://", redis.scheme()),
                });
            }
        }
        Ok(())
    }
}

/// Settings of the workers a `serve` or `worker` process runs.
#[derive(Args, Clone, Debug)]
pub struct WorkerConfig {
    /// Seconds a stopping process waits for running jobs before handing them back to the
    /// queue (`30`, `30s`, `2m`); at most a day.
    #[arg(long, env = "HOIST_SHUTDOWN_TIMEOUT", default_value = "30", value_parser = seconds::<0, 86_400>)]
    pub shutdown_timeout: u64,

    /// Seconds a job's lease lasts without renewal: after a crash, its jobs run again
    /// elsewhere this long after the last renewal (`30`, `45s`, `5m`); 2 s to a day.
    #[arg(long, env = "HOIST_JOB_LEASE_SECONDS", default_value = "30", value_parser = seconds::<2, 86_400>)]
    pub lease_seconds: u64,

    #[command(flatten)]
    pub processors: crate::processors::ProcessorConfig,

    /// `hoist.toml`: queues, schedules and built-in processors declared in one file
    /// (environment variables override it). Unset: none.
    #[arg(long = "config", env = "HOIST_CONFIG")]
    pub config_file: Option<PathBuf>,

    /// The `[env.NAME]` section of the file to apply over its top level.
    #[arg(long = "env", env = "HOIST_ENV")]
    pub config_env: Option<String>,

    /// The file's settings, read at start ([`WorkerConfig::load_settings`]).
    #[arg(skip)]
    pub settings: std::sync::Arc<crate::settings::Settings>,
}

impl WorkerConfig {
    /// Reads and checks the file the settings name; the processors it turns on apply when
    /// neither `HOIST_PROCESSORS` nor `--processors` names any.
    pub fn load_settings(&mut self) -> Result<(), crate::error::StartupError> {
        let location = crate::settings::ConfigLocation {
            path: self.config_file.clone().filter(|p| !p.as_os_str().is_empty()),
            env: self.config_env.clone().filter(|e| !e.trim().is_empty()),
        };
        let settings = crate::settings::load_or_fail(&location)?;
        let named_elsewhere = std::env::var_os("HOIST_PROCESSORS").is_some();
        if let Some((processors, _)) = settings.processors()
            && self.processors.enabled.is_empty()
            && !named_elsewhere
        {
            self.processors.enabled = processors.clone();
        }
        self.settings = std::sync::Arc::new(settings);
        Ok(())
    }
}

/// Settings of the HTTP server.
#[derive(Args, Clone, Debug)]
pub struct HttpConfig {
    /// Address the dashboard and API listen on.
    #[arg(long, env = "HOIST_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// Serve the dashboard's wasm, JS and CSS from this folder instead of the files built
    /// into hoist (for `cargo leptos watch`, or a folder `cargo xtask site` wrote).
    #[arg(long, env = "LEPTOS_SITE_ROOT")]
    pub site_root: Option<PathBuf>,

    /// Password for the admin account created on first start. Unset: a random one is
    /// generated and printed once.
    #[arg(long, env = "HOIST_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,

    /// Send session cookies without the `Secure` flag (only for plain HTTP that is not
    /// localhost; browsers accept Secure cookies on http://localhost and 127.0.0.1).
    #[arg(long, env = "HOIST_INSECURE_COOKIES", default_value_t = false)]
    pub insecure_cookies: bool,

    /// Also run a demo workload: a schedule that enqueues a `demo-sync` job every 10 s.
    #[arg(long, env = "HOIST_DEMO", default_value_t = false)]
    pub demo: bool,

    /// Sessions end after this many hours without a request.
    #[arg(long, env = "HOIST_SESSION_HOURS", default_value_t = 12)]
    pub session_hours: i64,

    /// Make `/metrics` require a signed-in user or an API token (default: public, for
    /// Prometheus on a private network).
    #[arg(long, env = "HOIST_METRICS_REQUIRE_AUTH", default_value_t = false)]
    pub metrics_require_auth: bool,

    /// Largest request body accepted, in bytes (a bulk enqueue of many jobs is the
    /// biggest); larger requests get 413.
    #[arg(long, env = "HOIST_MAX_BODY_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Seconds a request may take before the server answers 408 (`30`, `30s`, `2m`); 1 s
    /// to an hour.
    #[arg(long, env = "HOIST_REQUEST_TIMEOUT", default_value = "30", value_parser = seconds::<1, 3_600>)]
    pub request_timeout: u64,

    /// Other origins (comma-separated `scheme://host[:port]`) whose pages may send
    /// state-changing requests and open the live feed, besides the server's own.
    #[arg(long, env = "HOIST_ALLOWED_ORIGINS", default_value = "")]
    pub allowed_origins: String,

    /// Seconds between checks that a live WebSocket's session or token still holds (not
    /// signed out, user not disabled, role unchanged, token not revoked); 1 to 3600.
    #[arg(long, env = "HOIST_LIVE_RECHECK_SECONDS", default_value = "5", value_parser = seconds::<1, 3_600>)]
    pub live_recheck_seconds: u64,

    /// Live WebSockets one user may hold open on one server process; more get 429.
    #[arg(long, env = "HOIST_MAX_SOCKETS_PER_USER", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_sockets_per_user: u32,

    /// Password hashes (sign-in checks, new passwords) computed at once; each argon2id
    /// hash takes about 19 MiB. More wait briefly in a queue, then get 503; 1 to 64.
    #[arg(long, env = "HOIST_PASSWORD_CHECKS", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub password_checks: u32,

    /// Reverse proxies (comma-separated IPs or CIDRs, e.g. `10.0.0.0/8,::1`) whose
    /// `X-Forwarded-For` is believed for the client's address (sign-in lockout, audit
    /// log). Empty: the peer's address is the client's.
    #[arg(long, env = "HOIST_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,

    /// Seconds a client has to send a request's headers (also how long an idle
    /// keep-alive connection stays open); slower clients are disconnected; 1 to 3600.
    #[arg(long, env = "HOIST_HEADER_READ_TIMEOUT", default_value = "10", value_parser = seconds::<1, 3_600>)]
    pub header_read_timeout: u64,

    /// Connections served at once (open WebSockets included); further connections wait
    /// in the listen backlog until one closes; 1 to 1,000,000.
    #[arg(long, env = "HOIST_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
}

/// A number of seconds, bare (`30`) or with a unit (`30s`, `5m`, `1h 30m`, as
/// `humantime` reads them), from `MIN` to `MAX` seconds, in whole seconds.
pub fn seconds<const MIN: u64, const MAX: u64>(text: &str) -> Result<u64, String> {
    parse_seconds(text, MIN, MAX)
}

/// [`seconds`] with bounds known only at run time (the per-queue settings).
pub fn parse_seconds(text: &str, min: u64, max: u64) -> Result<u64, String> {
    let text = text.trim();
    let value = match text.parse::<u64>() {
        Ok(bare) => bare,
        Err(_) => {
            let duration = humantime::parse_duration(text)
                .map_err(|e| format!("{text:?} is not a duration such as 30, 30s, 5m or 1h ({e})"))?;
            if duration.subsec_nanos() != 0 {
                return Err(format!("{text:?} is not a whole number of seconds"));
            }
            duration.as_secs()
        }
    };
    if !(min..=max).contains(&value) {
        return Err(format!("{text:?} is {value} s; expected {min} to {max} s"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_tls_files_are_read_and_paired() {
        let mut config = store("rediss://x", None);
        assert!(config.redis_tls().unwrap().is_none(), "no files: the system's CAs");
        config.redis_client_cert_file = Some(PathBuf::from(env!("CARGO_MANIFEST_PATH")));
        let err = config.redis_tls().unwrap_err().to_string();
        assert!(err.starts_with("REDIS_CLIENT_CERT_FILE:") && err.contains("REDIS_CLIENT_KEY_FILE"), "{err}");
        config.redis_client_cert_file = None;
        config.redis_ca_file = Some(PathBuf::from("/nonexistent/ca.pem"));
        assert!(config.redis_tls().unwrap_err().to_string().starts_with("REDIS_CA_FILE: cannot read"));
    }

    #[test]
    fn durations_take_units() {
        assert_eq!(seconds::<1, 3600>("30"), Ok(30));
        assert_eq!(seconds::<1, 3600>("30s"), Ok(30));
        assert_eq!(seconds::<1, 3600>("5m"), Ok(300));
        assert_eq!(seconds::<1, 86_400>("1h 30m"), Ok(5400));
        assert!(seconds::<1, 3600>("0").unwrap_err().contains("expected 1 to 3600"));
        assert!(seconds::<1, 3600>("2h").unwrap_err().contains("7200 s"));
        assert!(seconds::<1, 3600>("500ms").unwrap_err().contains("whole number"));
        assert!(seconds::<1, 3600>("soon").unwrap_err().contains("not a duration"));
        assert!(seconds::<1, 3600>("-5").is_err());
    }

    fn store(redis: &str, db: Option<&str>) -> StoreConfig {
        StoreConfig {
            redis_url: redis.into(),
            database_url: db.map(Into::into),
            data_dir: PathBuf::from("/tmp/hoist-data"),
            history_days: 30,
            key_prefix: "hoist".into(),
            allow_eviction: false,
            redis_ca_file: None,
            redis_client_cert_file: None,
            redis_client_key_file: None,
        }
    }

    #[test]
    fn sqlite_is_the_default_database() {
        let config = store("redis://127.0.0.1:6379", None);
        assert_eq!(config.resolved_database_url(), "sqlite:///tmp/hoist-data/hoist.db?mode=rwc");
        config.validate().unwrap();
    }

    #[test]
    fn bad_urls_name_their_variable() {
        let err = store("not a url", None).validate().unwrap_err().to_string();
        assert!(err.starts_with("REDIS_URL:"), "{err}");
        let err = store("http://x", None).validate().unwrap_err().to_string();
        assert!(err.starts_with("REDIS_URL:"), "{err}");
        store("redis://a:7000,redis://b:7001, redis://c:7002", None).validate().expect("a cluster's nodes");
        let err = store("redis://a:7000,b:7001", None).validate().unwrap_err().to_string();
        assert!(err.starts_with("REDIS_URL:") && err.contains("\"b:7001\""), "{err}");
        let err = store("redis://x", Some("mysql://x/y")).validate().unwrap_err().to_string();
        assert!(err.starts_with("DATABASE_URL:"), "{err}");
        for prefix in ["", "a b", "a:b", "{x}"] {
            let mut config = store("redis://x", None);
            config.key_prefix = prefix.into();
            let err = config.validate().unwrap_err().to_string();
            assert!(err.starts_with("HOIST_KEY_PREFIX:"), "{prefix:?}: {err}");
        }
    }
}
