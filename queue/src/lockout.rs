//! [`Lockout`]: counts attempts per subject in a fixed window and refuses once a subject
//! used its allowance — e.g. failed sign-ins per account and per client address. Counting
//! happens before the attempt, for every subject at once, so parallel attempts cannot all
//! pass a check made before any of them failed.

use std::time::Duration;

use crate::backend::lockouts::LockoutStore;
use crate::connection::RedisConnection;
use crate::error::{QueueError, Result};

/// Longest subject, in bytes (subjects become part of a key name).
pub const MAX_SUBJECT_BYTES: usize = 512;

/// Attempt counters of one kind (`name`), kept in Redis so every server process shares
/// them.
///
/// ```no_run
/// # use std::time::Duration;
/// # use hoist_queue::{Lockout, RedisConnection};
/// # async fn demo(redis: RedisConnection) -> Result<(), hoist_queue::QueueError> {
/// let sign_ins = Lockout::new(&redis, "sign-in");
/// let window = Duration::from_secs(15 * 60);
/// if let Some(refused) = sign_ins.take(&[("user:ada", 5), ("addr:10.0.0.7", 20)], window).await? {
///     println!("locked out for {} s by subject {}", refused.wait.as_secs(), refused.subject);
///     return Ok(());
/// }
/// let password_was_right = true;
/// if password_was_right {
///     // Not a failure: clear the account's count, give the address its attempt back.
///     sign_ins.give_back(&[("user:ada", true), ("addr:10.0.0.7", false)]).await?;
/// }
/// # Ok(()) }
/// ```
/// An attempt [`Lockout::take`] refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refused {
    /// Until the refusing subject's window ends.
    pub wait: Duration,
    /// Which subject refused it: its index in the list given to `take`.
    pub subject: usize,
}

#[derive(Clone)]
pub struct Lockout {
    store: LockoutStore,
}

impl Lockout {
    /// The lockout `name` under the connection's key prefix.
    pub fn new(redis: &RedisConnection, name: &str) -> Self {
        Self::with_prefix(redis, redis.key_prefix(), name)
    }

    pub fn with_prefix(redis: &RedisConnection, key_prefix: &str, name: &str) -> Self {
        Lockout { store: LockoutStore::new(redis, key_prefix, name) }
    }

    /// Counts one attempt against every subject (each with its allowance per `window`,
    /// 1 to 1,000,000), unless one of them has used its allowance: then nothing is
    /// counted and the wait until that subject's window ends comes back, with which
    /// subject it was. A subject's window starts with its first attempt.
    pub async fn take(&self, subjects: &[(&str, u32)], window: Duration) -> Result<Option<Refused>> {
        check_subjects(subjects.iter().map(|(s, _)| *s))?;
        Ok(self.store.take(subjects, window).await?.map(|(wait, subject)| Refused { wait, subject }))
    }

    /// Gives back an attempt that was not a failure: each subject's count is cleared
    /// (`true`) or loses this one attempt (`false`).
    pub async fn give_back(&self, subjects: &[(&str, bool)]) -> Result<()> {
        check_subjects(subjects.iter().map(|(s, _)| *s))?;
        self.store.give_back(subjects).await
    }
}

fn check_subjects<'a>(mut subjects: impl Iterator<Item = &'a str>) -> Result<()> {
    if subjects.any(|s| s.is_empty() || s.len() > MAX_SUBJECT_BYTES) {
        return Err(QueueError::InvalidOption { field: "subject", reason: "must be 1 to 512 bytes".into() });
    }
    Ok(())
}
