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
/// locked out for a window however often it is tried, and its lockout is recorded once
/// in it (per process).
#[derive(Debug, Default)]
pub struct LockoutNotes {
    noted: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
}

/// Subjects [`LockoutNotes`] remembers at most; past it, the oldest notes are dropped
/// first, so a flood of locked subjects cannot keep a new one from being recorded.
pub const MAX_LOCKOUT_NOTES: usize = 10_000;

impl LockoutNotes {
    /// Whether the lockout of `subject` (the account or the address that refused the
    /// attempt) should be recorded now: not when it was within `window`. Notes it as
    /// recorded when it should.
    pub fn should_record(&self, subject: &str, window: std::time::Duration) -> bool {
        let now = std::time::Instant::now();
        let mut noted = self.noted.lock().expect("lockout notes");
        if noted.get(subject).is_some_and(|at| now.duration_since(*at) < window) {
            return false;
        }
        if noted.len() >= MAX_LOCKOUT_NOTES {
            noted.retain(|_, at| now.duration_since(*at) < window);
            while noted.len() >= MAX_LOCKOUT_NOTES {
                let oldest = noted.iter().min_by_key(|(_, at)| **at).map(|(key, _)| key.clone());
                match oldest {
                    Some(key) => noted.remove(&key),
                    None => break,
                };
            }
        }
        noted.insert(subject.to_string(), now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_lockout_is_recorded_once_per_window_per_refusing_subject() {
        let notes = LockoutNotes::default();
        let window = Duration::from_secs(60);
        assert!(notes.should_record("addr:10.0.0.1", window));
        assert!(!notes.should_record("addr:10.0.0.1", window), "the same address again");
        // An account locked from that address is a lockout of its own.
        assert!(notes.should_record("user:admin", window));
        assert!(!notes.should_record("user:admin", window));
        // Once the window passed, it is recorded again.
        assert!(notes.should_record("user:admin", Duration::ZERO));
    }

    #[test]
    fn a_flood_of_locked_subjects_does_not_stop_a_new_one_being_recorded() {
        let notes = LockoutNotes::default();
        let window = Duration::from_secs(60);
        for i in 0..MAX_LOCKOUT_NOTES {
            assert!(notes.should_record(&format!("user:decoy{i}"), window));
        }
        assert!(notes.should_record("user:admin", window));
        assert!(notes.noted.lock().unwrap().len() <= MAX_LOCKOUT_NOTES);
    }
}
