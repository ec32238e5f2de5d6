//! The command line: `hoist serve` (default) and `hoist migrate`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{HttpConfig, StoreConfig};
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
    Serve {
        #[command(flatten)]
        store: StoreConfig,
        #[command(flatten)]
        http: HttpConfig,
    },
    /// Apply the SQL migrations and exit.
    Migrate {
        #[command(flatten)]
        store: StoreConfig,
    },
}

pub fn main() -> ExitCode {
    crate::telemetry::init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line the operator can act on; the chain gives the cause.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let command = match cli.command {
        Some(command) => command,
        // `hoist` alone means `hoist serve` with every setting from the environment.
        None => Cli::parse_from(["hoist", "serve"]).command.expect("serve parses"),
    };
    match command {
        Command::Serve { store, http } => crate::server::serve(store, http).await,
        Command::Migrate { store } => {
            store.validate()?;
            let db = Db::connect(&store.resolved_database_url()).await?;
            db.migrate().await?;
            println!("migrations applied ({})", db.kind.as_str());
            Ok(())
        }
    }
}
