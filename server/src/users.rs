//! Accounts: roles, argon2id password hashes, and the admin created on first start.

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
    Sql(#[from] sqlx::Error),
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

fn valid_username(name: &str) -> bool {
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
    let hash = hash_password(password)?;
    let now = now_ms();
    let inserted = sqlx::query_scalar::<_, i64>(
        "INSERT INTO users (username, password_hash, role, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $4) RETURNING id",
    )
    .bind(username)
    .bind(hash)
    .bind(role.as_str())
    .bind(now)
    .fetch_one(&db.pool)
    .await;
    match inserted {
        Ok(id) => Ok(id),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(UserError::Exists(username.to_string())),
        Err(e) => Err(e.into()),
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

    #[test]
    fn usernames_are_checked() {
        assert!(valid_username("ops.team-1@example"));
        assert!(!valid_username(""));
        assert!(!valid_username("has space"));
        assert!(!valid_username(&"x".repeat(65)));
    }
}

/// Sets a new password; false when there is no such user.
pub async fn set_password(db: &Db, username: &str, password: &str) -> Result<bool, UserError> {
    if password.chars().count() < 8 {
        return Err(UserError::WeakPassword);
    }
    let hash = hash_password(password)?;
    let done = sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE username = $3")
        .bind(hash)
        .bind(now_ms())
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
}

pub async fn list_users(db: &Db) -> Result<Vec<UserSummary>, UserError> {
    let rows: Vec<(i64, String, String, i64, i64)> =
        sqlx::query_as("SELECT id, username, role, disabled, created_at FROM users ORDER BY username")
            .fetch_all(&db.pool)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(id, username, role, disabled, created_at)| UserSummary {
            id,
            username,
            role,
            disabled: disabled != 0,
            created_at,
        })
        .collect())
}

/// A random password for accounts created without one.
pub fn generate_password() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 20)
}
