//! The audit log: every operator action, who did it, to what, and how it went.

use serde_json::Value;

use crate::auth::{AuthVia, Principal};
use crate::db::{Db, now_ms};

/// One entry; written after the action, with its outcome.
pub struct AuditEntry<'a> {
    pub action: &'a str,
    pub target: String,
    pub params: Value,
    pub result: &'a str,
    pub client_addr: Option<String>,
}

pub async fn record(db: &Db, principal: &Principal, entry: AuditEntry<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor_id, actor_name, actor_role, action, target, params, result, client_addr,
                                token_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(now_ms())
    .bind(principal.user_id)
    .bind(&principal.username)
    .bind(principal.role.as_str())
    .bind(entry.action)
    .bind(entry.target)
    .bind(entry.params.to_string())
    .bind(entry.result)
    .bind(entry.client_addr)
    .bind(match principal.via {
        AuthVia::Token { id, .. } => Some(id),
        AuthVia::Session => None,
    })
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// The audit action of a sign-in refused for a wrong password, an unknown user or a
/// disabled account (result `failed`).
pub const SIGN_IN_FAILED: &str = "auth.sign_in";
/// The audit action of a sign-in refused because the account or address used its
/// allowance of failures (result `locked out`).
pub const LOCKED_OUT: &str = "auth.lockout";
/// The role recorded for a sign-in by someone not (yet) signed in.
pub const ANONYMOUS: &str = "anonymous";
/// Longest username a refused sign-in records (characters); the rest is cut.
pub const MAX_TRIED_USERNAME: usize = 64;

/// Records a refused sign-in: the actor is the username tried (cut to
/// [`MAX_TRIED_USERNAME`] characters, control characters dropped), as nobody is signed in.
pub async fn record_refused_sign_in(
    db: &Db,
    action: &str,
    username: &str,
    result: &str,
    client_addr: std::net::IpAddr,
) -> Result<(), sqlx::Error> {
    let tried: String = username.chars().filter(|c| !c.is_control()).take(MAX_TRIED_USERNAME).collect();
    sqlx::query(
        "INSERT INTO audit_log (at, actor_id, actor_name, actor_role, action, target, params, result, client_addr)
         VALUES ($1, NULL, $2, $3, $4, $5, '{}', $6, $7)",
    )
    .bind(now_ms())
    .bind(&tried)
    .bind(ANONYMOUS)
    .bind(action)
    .bind(format!("user {tried}"))
    .bind(result)
    .bind(client_addr.to_string())
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Which lockouts a process recorded in the last window: an account or address stays
/// locked out for a window however often it is tried, and is recorded once in it.
#[derive(Debug, Default)]
pub struct LockoutNotes {
    noted: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
}

/// Subjects [`LockoutNotes`] remembers at most; past it, lockouts go unrecorded until
/// older notes age out (an attack on that many accounts at once shows all the same).
pub const MAX_LOCKOUT_NOTES: usize = 10_000;

impl LockoutNotes {
    /// Whether a lockout of `account` from `address` should be recorded now: not when
    /// either was recorded within `window`. Notes it as recorded when it should.
    pub fn should_record(&self, account: &str, address: &str, window: std::time::Duration) -> bool {
        let now = std::time::Instant::now();
        let mut noted = self.noted.lock().expect("lockout notes");
        let fresh = |key: &str, noted: &std::collections::HashMap<String, std::time::Instant>| {
            noted.get(key).is_some_and(|at| now.duration_since(*at) < window)
        };
        let (account, address) = (format!("user:{account}"), format!("addr:{address}"));
        if fresh(&account, &noted) || fresh(&address, &noted) {
            return false;
        }
        if noted.len() + 2 > MAX_LOCKOUT_NOTES {
            noted.retain(|_, at| now.duration_since(*at) < window);
            if noted.len() + 2 > MAX_LOCKOUT_NOTES {
                return false;
            }
        }
        noted.insert(account, now);
        noted.insert(address, now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_lockout_is_recorded_once_per_window_per_account_or_address() {
        let notes = LockoutNotes::default();
        let window = Duration::from_secs(60);
        assert!(notes.should_record("ada", "10.0.0.1", window));
        // The same account from elsewhere, or anyone from the same address: already noted.
        assert!(!notes.should_record("ada", "10.0.0.2", window));
        assert!(!notes.should_record("bob", "10.0.0.1", window));
        assert!(notes.should_record("bob", "10.0.0.3", window));
        // Once the window passed, it is recorded again.
        assert!(notes.should_record("ada", "10.0.0.1", Duration::ZERO));
    }
}
