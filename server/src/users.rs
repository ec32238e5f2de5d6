//! Accounts: roles, argon2id password hashes, and the admin created on first start.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::distr::{Alphanumeric, SampleString};
use serde::{Deserialize, Serialize};

use crate::db::{Db, now_ms};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including users.
    Admin,
    /// Job and queue actions.
    Operator,
    /// Read only.
    Viewer,
    /// An end user: only their own jobs.
    User,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
            Role::User => "user",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "admin" => Some(Role::Admin),
            "operator" => Some(Role::Operator),
            "viewer" => Some(Role::Viewer),
            "user" => Some(Role::User),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("username must be 1 to 64 characters of letters, digits, '.', '_', '-' or '@'")]
    InvalidUsername,
    #[error("password must be at least 8 characters")]
    WeakPassword,
    #[error("user {0:?} already exists")]
    Exists(String),
    #[error("hashing the password failed: {0}")]
    Hash(String),
    #[error(transparent)]
    Busy(#[from] PasswordChecksBusy),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

/// Every argon2id hash of this process (sign-in checks and new passwords) runs through
/// one gate: at most `HOIST_PASSWORD_CHECKS` at once, each on a blocking thread with
/// ~19 MiB of memory; a few more wait briefly; beyond that callers get
/// [`PasswordChecksBusy`] (503) instead of piling up threads and memory.
pub struct PasswordChecks {
    semaphore: Arc<tokio::sync::Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
    max_wait: Duration,
}

/// The password gate was full: retry after this long.
#[derive(Debug, thiserror::Error)]
#[error("too many password checks at once; retry in {} s", retry_after.as_secs().max(1))]
pub struct PasswordChecksBusy {
    pub retry_after: Duration,
}

/// How long a password check waits for its turn before the caller gets 503.
pub const PASSWORD_CHECK_WAIT: Duration = Duration::from_secs(3);

static PASSWORD_CHECKS: OnceLock<PasswordChecks> = OnceLock::new();

impl PasswordChecks {
    /// `permits` at once; up to `permits * 16` waiting, each at most `max_wait`.
    pub fn new(permits: usize, max_wait: Duration) -> Self {
        let permits = permits.max(1);
        PasswordChecks {
            semaphore: Arc::new(tokio::sync::Semaphore::new(permits)),
            waiting: AtomicUsize::new(0),
            max_waiting: permits * 16,
            max_wait,
        }
    }

    /// Sets the process's gate (`serve` does, from `HOIST_PASSWORD_CHECKS`); the first call
    /// wins, later ones are ignored.
    pub fn configure(permits: usize) {
        let _ = PASSWORD_CHECKS.set(PasswordChecks::new(permits, PASSWORD_CHECK_WAIT));
    }

    /// The process's gate (2 at once unless configured).
    pub fn global() -> &'static PasswordChecks {
        PASSWORD_CHECKS.get_or_init(|| PasswordChecks::new(2, PASSWORD_CHECK_WAIT))
    }

    /// Runs `work` (a hash) on a blocking thread once a permit is free.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PasswordChecksBusy> {
        let busy = PasswordChecksBusy { retry_after: Duration::from_secs(1) };
        let permit = match self.semaphore.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                let waiting = WaitingGuard::enter(&self.waiting);
                if waiting.position > self.max_waiting {
                    return Err(busy);
                }
                match tokio::time::timeout(self.max_wait, self.semaphore.clone().acquire_owned()).await {
                    Ok(Ok(permit)) => permit,
                    _ => return Err(busy),
                }
            }
        };
        // The permit moves into the blocking task: a caller that gives up (a client that
        // disconnects) does not free it before the hash is done.
        tokio::task::spawn_blocking(move || {
            let result = work();
            drop(permit);
            result
        })
        .await
        .map_err(|_| busy)
    }
}

/// Counts a caller in the waiting line while it exists.
struct WaitingGuard<'a> {
    counter: &'a AtomicUsize,
    position: usize,
}

impl<'a> WaitingGuard<'a> {
    fn enter(counter: &'a AtomicUsize) -> Self {
        let position = counter.fetch_add(1, Ordering::SeqCst) + 1;
        WaitingGuard { counter, position }
    }
}

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::SeqCst);
    }
}

/// [`hash_password`] through the process's [`PasswordChecks`].
pub async fn hash_password_bounded(password: &str) -> Result<String, UserError> {
    let password = password.to_string();
    PasswordChecks::global().run(move || hash_password(&password)).await?
}

/// [`verify_password`] through the process's [`PasswordChecks`].
pub async fn verify_password_bounded(password: &str, hash: &str) -> Result<bool, PasswordChecksBusy> {
    let (password, hash) = (password.to_string(), hash.to_string());
    PasswordChecks::global().run(move || verify_password(&password, &hash)).await
}

pub fn hash_password(password: &str) -> Result<String, UserError> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(|e| UserError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| UserError::Hash(e.to_string()))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

pub fn valid_username(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
}

/// Creates an account and returns its id.
pub async fn create_user(db: &Db, username: &str, password: &str, role: Role) -> Result<i64, UserError> {
    if !valid_username(username) {
        return Err(UserError::InvalidUsername);
    }
    if password.chars().count() < 8 {
        return Err(UserError::WeakPassword);
    }
    let hash = hash_password_bounded(password).await?;
    insert_account(db, username, &hash, role).await?.ok_or_else(|| UserError::Exists(username.to_string()))
}

/// Inserts an account with `password_hash` as given (a host application's users have a
/// marker instead); `None` when the name is taken.
pub(crate) async fn insert_account(
    db: &Db,
    username: &str,
    password_hash: &str,
    role: Role,
) -> Result<Option<i64>, sqlx::Error> {
    let inserted = sqlx::query_scalar::<_, i64>(
        "INSERT INTO users (username, password_hash, role, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $4) RETURNING id",
    )
    .bind(username)
    .bind(password_hash)
    .bind(role.as_str())
    .bind(now_ms())
    .fetch_one(&db.pool)
    .await;
    match inserted {
        Ok(id) => Ok(Some(id)),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(None),
        Err(e) => Err(e),
    }
}

/// What [`ensure_admin`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum AdminBootstrap {
    /// Users already existed; nothing changed.
    Existing,
    /// Created `admin` with the configured password.
    CreatedWithConfiguredPassword,
    /// Created `admin` with this generated password, to be shown once.
    CreatedWithGeneratedPassword(String),
}

/// On first start (no users at all) creates the `admin` account. There is no fixed
/// default password: the configured one is used, or a random one is generated.
pub async fn ensure_admin(db: &Db, configured: Option<&str>) -> Result<AdminBootstrap, UserError> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&db.pool).await?;
    if count > 0 {
        return Ok(AdminBootstrap::Existing);
    }
    let (password, outcome) = match configured {
        Some(p) => (p.to_string(), AdminBootstrap::CreatedWithConfiguredPassword),
        None => {
            let p = Alphanumeric.sample_string(&mut rand::rng(), 20);
            (p.clone(), AdminBootstrap::CreatedWithGeneratedPassword(p))
        }
    };
    match create_user(db, "admin", &password, Role::Admin).await {
        Ok(_) => Ok(outcome),
        // Another process started at the same moment and won.
        Err(UserError::Exists(_)) => Ok(AdminBootstrap::Existing),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let a = hash_password("correct horse").unwrap();
        let b = hash_password("correct horse").unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(verify_password("correct horse", &a));
        assert!(!verify_password("wrong horse", &a));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[tokio::test]
    async fn the_password_gate_bounds_concurrent_hashes_and_refuses_when_full() {
        let gate = Arc::new(PasswordChecks::new(1, Duration::from_millis(500)));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut tasks = vec![];
        for _ in 0..4 {
            let (gate, running, most) = (gate.clone(), running.clone(), most.clone());
            tasks.push(tokio::spawn(async move {
                gate.run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(300));
                    running.fetch_sub(1, Ordering::SeqCst);
                })
                .await
            }));
        }
        let mut done = 0;
        let mut busy = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(()) => done += 1,
                Err(e) => {
                    assert_eq!(e.retry_after, Duration::from_secs(1));
                    busy += 1;
                }
            }
        }
        assert_eq!(most.load(Ordering::SeqCst), 1, "one at a time");
        // 300 ms each, 500 ms of patience: the first runs, the second makes it, the rest give up.
        assert!(done >= 2 && busy >= 1, "done {done}, busy {busy}");
    }

    #[tokio::test]
    async fn the_waiting_line_is_bounded() {
        let gate = Arc::new(PasswordChecks::new(1, Duration::from_secs(5)));
        let blocker = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.run(|| std::thread::sleep(Duration::from_millis(400))).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut waiters = vec![];
        for _ in 0..gate.max_waiting {
            let gate = gate.clone();
            waiters.push(tokio::spawn(async move { gate.run(|| ()).await }));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        // The line is full: refused at once, not after the wait.
        let started = std::time::Instant::now();
        assert!(gate.run(|| ()).await.is_err());
        assert!(started.elapsed() < Duration::from_millis(200));
        blocker.await.unwrap().unwrap();
        for waiter in waiters {
            waiter.await.unwrap().unwrap();
        }
    }

    #[test]
    fn usernames_are_checked() {
        assert!(valid_username("ops.team-1@example"));
        assert!(!valid_username(""));
        assert!(!valid_username("has space"));
        assert!(!valid_username(&"x".repeat(65)));
    }
}

/// Sets a new password; false when there is no such user. Every session signed in
/// before the change ends (whoever knew the old password is signed out): sessions
/// remember when they signed in, and `from_session` refuses those older than
/// `sessions_valid_after`.
pub async fn set_password(db: &Db, username: &str, password: &str) -> Result<bool, UserError> {
    if password.chars().count() < 8 {
        return Err(UserError::WeakPassword);
    }
    let hash = hash_password_bounded(password).await?;
    let now = now_ms();
    let done = sqlx::query(
        "UPDATE users SET password_hash = $1, updated_at = $2, sessions_valid_after = $2 WHERE username = $3",
    )
    .bind(hash)
    .bind(now)
    .bind(username)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Disables or enables an account; false when there is no such user.
pub async fn set_disabled(db: &Db, username: &str, disabled: bool) -> Result<bool, UserError> {
    let done = sqlx::query("UPDATE users SET disabled = $1, updated_at = $2 WHERE username = $3")
        .bind(i64::from(disabled))
        .bind(now_ms())
        .bind(username)
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// An account as listed to admins (never the hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct UserSummary {
    pub id: i64,
    pub username: String,
    pub role: String,
    pub disabled: bool,
    pub created_at: i64,
    /// Job names the user may enqueue, per queue (end users; empty for staff).
    pub allowed_jobs: crate::policy::AllowedJobs,
}

pub async fn list_users(db: &Db) -> Result<Vec<UserSummary>, UserError> {
    let rows: Vec<(i64, String, String, i64, i64, String)> =
        sqlx::query_as("SELECT id, username, role, disabled, created_at, allowed_jobs FROM users ORDER BY username")
            .fetch_all(&db.pool)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(id, username, role, disabled, created_at, allowed_jobs)| UserSummary {
            id,
            username,
            role,
            disabled: disabled != 0,
            created_at,
            allowed_jobs: serde_json::from_str(&allowed_jobs).unwrap_or_default(),
        })
        .collect())
}

/// A random password for accounts created without one.
pub fn generate_password() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 20)
}
