//! The command line: `hoist serve` (default), `migrate`, `user`, `token`, `enqueue`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{ServeConfig, StoreConfig, WorkerConfig};
use crate::db::Db;

#[derive(Parser, Debug)]
#[command(name = "hoist", version, about = "Background jobs on Redis, with a live dashboard")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the dashboard and API (the default).
    #[command(after_help = crate::queue_settings::help())]
    Serve {
        #[command(flatten)]
        config: ServeConfig,
    },
    /// Run workers and the scheduler only (scale out: run as many as you like on one
    /// Redis), with `/healthz` and `/readyz` on HTTP.
    #[command(after_help = crate::queue_settings::help())]
    Worker {
        #[command(flatten)]
        store: StoreConfig,
        /// Address for the health endpoints.
        #[arg(long, env = "HOIST_WORKER_ADDR", default_value = "127.0.0.1:3100")]
        addr: std::net::SocketAddr,
        #[command(flatten)]
        workers: WorkerConfig,
    },
    /// Apply the SQL migrations and exit.
    Migrate {
        #[command(flatten)]
        store: StoreConfig,
    },
    /// Manage accounts.
    User {
        #[command(flatten)]
        store: StoreConfig,
        #[command(subcommand)]
        action: UserAction,
    },
    /// Manage API tokens for services.
    Token {
        #[command(flatten)]
        store: StoreConfig,
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Check the configuration file (`hoist config check`).
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Add a job from the shell; prints its id.
    Enqueue {
        #[command(flatten)]
        store: StoreConfig,
        /// Queue to add it to.
        queue: String,
        /// Job name (what the handler is chosen by).
        name: String,
        /// JSON payload.
        #[arg(long, default_value = "{}")]
        payload: String,
        /// Full job options as JSON (priority, delay, max_attempts, dedup_key, owner...).
        #[arg(long)]
        options: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ConfigAction {
    /// Read `hoist.toml` and the per-queue environment variables, check every setting,
    /// and print each declared queue's effective settings with where each came from;
    /// exits non-zero naming the file, line and field of the first problem. Starts nothing.
    Check {
        /// The file (default: `HOIST_CONFIG`).
        #[arg(long = "config", env = "HOIST_CONFIG")]
        file: Option<std::path::PathBuf>,
        /// The `[env.NAME]` section to apply (default: `HOIST_ENV`).
        #[arg(long = "env", env = "HOIST_ENV")]
        env: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserAction {
    /// Create an account; without --password a generated one is printed once.
    Add {
        username: String,
        #[arg(long, default_value = "viewer", value_parser = ["admin", "operator", "viewer", "user"])]
        role: String,
        #[arg(long, env = "HOIST_NEW_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// Set a new password; without --password a generated one is printed once.
    Passwd {
        username: String,
        #[arg(long, env = "HOIST_NEW_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// List accounts.
    List,
    /// Stop an account from signing in (its sessions end at their next request).
    Disable { username: String },
    /// Let a disabled account sign in again.
    Enable { username: String },
}

#[derive(Subcommand, Debug)]
pub enum TokenAction {
    /// Create a token acting as USERNAME; the secret is printed once.
    Create {
        username: String,
        #[arg(long)]
        name: String,
        /// Comma-separated scopes: jobs:read, jobs:write, queues:admin, schedules:write,
        /// users:admin, notifications:write. The token can do what these AND its user's
        /// role both allow.
        #[arg(long, required = true, value_parser = parse_scopes)]
        scopes: ScopeList,
        /// Days until the token stops working (1 to 3650; unset: until revoked).
        #[arg(long, value_parser = clap::value_parser!(i64).range(1..=3650))]
        expires_in_days: Option<i64>,
    },
    /// List every token: id, user, name, scopes, created, expiry, last use, revoked.
    List,
    /// Revoke a token by its id.
    Revoke { id: i64 },
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => match from_environment(&error) {
            Some(message) => {
                eprintln!("error: {message}");
                return ExitCode::from(2);
            }
            None => error.exit(),
        },
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let telemetry = match crate::telemetry::init(runtime.handle()) {
        Ok(telemetry) => telemetry,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let outcome = runtime.block_on(run(cli));
    telemetry.shutdown();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line the operator can act on; the chain gives the cause.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A bad value that came from an environment variable, said with the variable's name
/// (clap names the flag, which the operator never typed).
fn from_environment(error: &clap::Error) -> Option<String> {
    use clap::CommandFactory;
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(error.kind(), ErrorKind::ValueValidation | ErrorKind::InvalidValue) {
        return None;
    }
    let ContextValue::String(arg) = error.get(ContextKind::InvalidArg)? else { return None };
    let long = arg.split_whitespace().next()?.strip_prefix("--")?;
    let on_command_line = std::env::args().any(|a| a == format!("--{long}") || a.starts_with(&format!("--{long}=")));
    if on_command_line {
        return None;
    }
    let command = Cli::command();
    let variable = command
        .get_subcommands()
        .flat_map(|c| c.get_arguments())
        .chain(command.get_arguments())
        .find(|a| a.get_long() == Some(long))?
        .get_env()?
        .to_str()?
        .to_string();
    let value = std::env::var(&variable).ok()?;
    let reason = std::error::Error::source(error).map(|e| e.to_string()).unwrap_or_else(|| "not accepted".into());
    Some(format!("{variable}: invalid value {value:?}: {reason}"))
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let command = match cli.command {
        Some(command) => command,
        // `hoist` alone means `hoist serve` with every setting from the environment.
        None => Cli::parse_from(["hoist", "serve"]).command.expect("serve parses"),
    };
    match command {
        Command::Serve { config } => crate::server::serve(config).await,
        Command::Worker { store, addr, workers } => crate::worker::run(store, addr, workers).await,
        Command::Migrate { store } => {
            let db = open_db(&store).await?;
            println!("migrations applied ({})", db.kind.as_str());
            Ok(())
        }
        Command::User { store, action } => user_command(&open_db(&store).await?, action).await,
        Command::Token { store, action } => token_command(&open_db(&store).await?, action).await,
        Command::Config { action: ConfigAction::Check { file, env } } => {
            print!("{}", config_check(file, env)?);
            Ok(())
        }
        Command::Enqueue { store, queue, name, payload, options } => {
            store.validate()?;
            let payload: serde_json::Value =
                serde_json::from_str(&payload).map_err(|e| anyhow::anyhow!("--payload: not JSON: {e}"))?;
            let options: hoist_queue::JobOptions = match options {
                Some(raw) => serde_json::from_str(&raw).map_err(|e| anyhow::anyhow!("--options: {e}"))?,
                None => Default::default(),
            };
            let redis = crate::state::connect_redis(&store).await?;
            let queue = hoist_queue::Queue::new(&redis, &queue)?;
            let mut job = hoist_queue::NewJob::new(name, payload).with_options(options);
            // The environment carrier of W3C trace context: a script traced by its caller
            // hands the job its place in the trace.
            if let Some(parent) = std::env::var("TRACEPARENT").ok().filter(|p| !p.trim().is_empty()) {
                let state = std::env::var("TRACESTATE").ok();
                let trace = hoist_queue::TraceContext::from_carrier(&parent, state.as_deref())
                    .map_err(|e| anyhow::anyhow!("TRACEPARENT: {e}"))?;
                job = job.with_trace(trace);
            }
            let enqueued = queue.enqueue(job).await?;
            if enqueued.duplicate {
                println!("{} (existing job with this dedup key)", enqueued.id);
            } else {
                println!("{}", enqueued.id);
            }
            Ok(())
        }
    }
}

/// What `hoist config check` prints, or the first problem.
pub fn config_check(file: Option<std::path::PathBuf>, env: Option<String>) -> anyhow::Result<String> {
    use std::fmt::Write;
    crate::queue_settings::check_environment()?;
    let location = crate::settings::ConfigLocation {
        path: file.filter(|p| !p.as_os_str().is_empty()),
        env: env.filter(|e| !e.trim().is_empty()),
    };
    let settings = crate::settings::load_or_fail(&location)?;
    let mut out = String::new();
    match (settings.file_name(), &location.env) {
        (Some(name), Some(env)) => writeln!(out, "{name} [env.{env}]: valid")?,
        (Some(name), None) => writeln!(out, "{name}: valid")?,
        (None, _) => writeln!(out, "no configuration file (HOIST_CONFIG is unset): defaults and environment only")?,
    }
    if let Some((processors, source)) = settings.processors() {
        let names: Vec<String> = processors.iter().map(|p| format!("{p:?}").to_lowercase()).collect();
        writeln!(out, "processors: {} ({source})", names.join(", "))?;
    }
    for queue in settings.declared_queues() {
        writeln!(out, "queue {queue}")?;
        for row in settings.queue(&queue).rows() {
            writeln!(out, "  {:<20} {:<32} {}", row.setting, row.value, row.source)?;
        }
    }
    for spec in settings.schedules() {
        let state = if spec.enabled { "" } else { " (paused)" };
        writeln!(
            out,
            "schedule {}: {} {} -> {}/{}{state}",
            spec.name, spec.cron, spec.timezone, spec.queue, spec.job.name
        )?;
    }
    Ok(out)
}

async fn open_db(store: &StoreConfig) -> anyhow::Result<Db> {
    store.validate()?;
    let db = Db::connect(&store.resolved_database_url()).await?;
    db.migrate().await?;
    Ok(db)
}

async fn user_command(db: &Db, action: UserAction) -> anyhow::Result<()> {
    use crate::users::{Role, create_user, generate_password, list_users, set_disabled, set_password};
    match action {
        UserAction::Add { username, role, password } => {
            let role = Role::parse(&role).ok_or_else(|| anyhow::anyhow!("--role: unknown role {role:?}"))?;
            let (password, generated) = match password {
                Some(p) => (p, false),
                None => (generate_password(), true),
            };
            create_user(db, &username, &password, role).await?;
            println!("created {username} ({})", role.as_str());
            if generated {
                println!("password: {password} (shown once)");
            }
        }
        UserAction::Passwd { username, password } => {
            let (password, generated) = match password {
                Some(p) => (p, false),
                None => (generate_password(), true),
            };
            anyhow::ensure!(set_password(db, &username, &password).await?, "no user {username:?}");
            println!("password changed for {username}");
            if generated {
                println!("password: {password} (shown once)");
            }
        }
        UserAction::List => {
            for user in list_users(db).await? {
                let state = if user.disabled { "disabled" } else { "active" };
                println!("{:>5}  {:<24} {:<9} {state}", user.id, user.username, user.role);
            }
        }
        UserAction::Disable { username } => {
            anyhow::ensure!(set_disabled(db, &username, true).await?, "no user {username:?}");
            println!("disabled {username}");
        }
        UserAction::Enable { username } => {
            anyhow::ensure!(set_disabled(db, &username, false).await?, "no user {username:?}");
            println!("enabled {username}");
        }
    }
    Ok(())
}

/// Scopes given on the command line.
#[derive(Clone, Debug)]
pub struct ScopeList(pub Vec<crate::policy::Scope>);

fn parse_scopes(text: &str) -> Result<ScopeList, String> {
    crate::policy::Scope::parse_list(text).map(ScopeList)
}

async fn token_command(db: &Db, action: TokenAction) -> anyhow::Result<()> {
    use crate::tokens::{create_token, list_tokens, revoke_token};
    match action {
        TokenAction::Create { username, name, scopes, expires_in_days } => {
            let token = create_token(db, &username, &name, &scopes.0, expires_in_days).await?;
            println!("token {} for {username}: {}", token.id, token.secret);
            println!("(shown once; send it as `Authorization: Bearer <token>`)");
        }
        TokenAction::List => {
            let time = |ms: Option<i64>| match ms.and_then(chrono::DateTime::from_timestamp_millis) {
                Some(at) => at.format("%Y-%m-%d %H:%M").to_string(),
                None => "-".to_string(),
            };
            println!(
                "{:>5}  {:<16} {:<20} {:<40} {:<16} {:<16} {:<16} revoked",
                "id", "user", "name", "scopes", "created", "expires", "last used"
            );
            for t in list_tokens(db).await? {
                println!(
                    "{:>5}  {:<16} {:<20} {:<40} {:<16} {:<16} {:<16} {}",
                    t.id,
                    t.username,
                    t.name,
                    t.scopes.join(","),
                    time(Some(t.created_at)),
                    time(t.expires_at),
                    time(t.last_used_at),
                    time(t.revoked_at),
                );
            }
        }
        TokenAction::Revoke { id } => {
            anyhow::ensure!(revoke_token(db, id).await?, "no live token {id}");
            println!("revoked token {id}");
        }
    }
    Ok(())
}
