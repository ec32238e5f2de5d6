//! The server's integration tests, one module per concern, linked into one test binary:
//! one link instead of one per file keeps the build short and the target directory small.
//! `cargo test -p hoist --test integration <module>::` runs one concern.

mod common;

mod admin_api;
mod alerts;
mod auth;
mod cli;
mod config_file;
mod dead_letters_api;
mod demo;
mod embedding;
mod history;
mod history_copy;
mod history_quarantine;
mod hostile;
mod http;
mod jobs_api;
mod key_prefix;
mod limits;
mod live;
mod maintenance;
mod metrics;
mod notifications;
mod openapi;
mod plaid;
mod postgres_tls;
mod processes;
mod processes_api;
mod queue_names;
mod redis_cluster;
mod redis_settings;
mod redis_tls;
mod reports;
mod roles;
mod schedules_api;
mod search;
mod server_functions;
mod sign_in;
mod sql;
mod sync;
mod throughput_cache;
mod transport;
mod worker_process;
