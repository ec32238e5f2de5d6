//! Authentication: sessions in SQL, password sign-in with lockout, API tokens, CSRF.

pub mod host;
pub mod login;
pub mod principal;
pub mod session_store;

pub use host::{HostAuth, HostUser};
pub use principal::{AuthVia, CSRF_HEADER, Principal, token_hash};
