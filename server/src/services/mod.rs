//! Every operation, written once: REST handlers, server functions and the WebSocket call
//! these with the caller, and these check what the caller may do.

pub mod account;
pub mod admin;
pub mod alerts;
pub mod connections;
pub mod dead_letters;
pub mod health;
pub mod history;
pub mod history_quarantine;
pub mod jobs;
pub mod limits;
pub mod notifications;
pub mod processes;
pub mod reports;
pub mod schedules;
pub mod search;
pub mod settings;
