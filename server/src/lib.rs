//! The Hoist server: dashboard (Leptos SSR), health, SQL, and the command line.

pub mod api;
pub mod api_error;
pub mod audit;
pub mod auth;
pub mod backend;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod health;
pub mod history;
pub mod live;
pub mod metrics;
pub mod openapi;
pub mod processors;
pub mod runtime;
pub mod server;
pub mod services;
pub mod state;
pub mod telemetry;
pub mod tokens;
pub mod users;
pub mod worker;
