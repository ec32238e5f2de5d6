//! One page per file; routes are declared in `app.rs`.

pub mod home;
pub mod not_found;
