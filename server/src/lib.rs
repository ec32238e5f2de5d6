//! The Hoist server: dashboard (Leptos SSR), REST API, live feed, SQL, workers for the
//! built-in processors, and the command line. Embed it in your own axum application with
//! [`Hoist::builder`]; the `hoist` binary is the same thing driven by flags and
//! environment variables.

pub mod alerts;
pub mod api;
pub mod api_error;
pub mod audit;
pub mod auth;
pub mod backend;
pub mod builder;
pub mod cli;
pub mod client_addr;
pub mod config;
pub mod config_file;
pub mod config_sync;
pub mod cron_words;
pub mod db;
pub mod error;
pub mod health;
pub mod history;
pub mod live;
pub mod metrics;
pub mod mount_path;
pub mod names;
pub mod openapi;
pub mod origin;
pub mod otlp;
pub mod policy;
pub mod processors;
pub mod queue_settings;
pub mod reports;
pub mod runtime;
pub mod search;
pub mod server;
pub mod server_functions;
pub mod services;
pub mod settings;
pub mod site;
pub mod state;
pub mod telemetry;
pub mod throughput_cache;
pub mod tokens;
pub mod transport;
pub mod users;
pub mod worker;

pub use auth::{HostAuth, HostUser};
pub use builder::{Hoist, HoistBuilder, Running};
/// The engine, for your handlers and jobs (`hoist_server::queue::Handlers`, ...).
pub use hoist_queue as queue;
pub use processors::{Builtin, QueueNames};
pub use users::Role;
