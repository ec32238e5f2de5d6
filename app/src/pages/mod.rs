//! One page per file; routes are declared in `app.rs`.

pub mod dead_letters;
pub mod home;
pub mod job;
pub mod login;
pub mod my_jobs;
pub mod not_found;
pub mod overview;
pub mod queue;
