//! One page per file; routes are declared in `app.rs`.

pub mod alerts;
pub mod audit;
pub mod dead_letters;
pub mod history;
pub mod home;
pub mod job;
pub mod login;
pub mod my_jobs;
pub mod not_found;
pub mod overview;
pub mod processes;
pub mod queue;
pub mod reports;
pub mod schedules;
pub mod search;
pub mod users;
