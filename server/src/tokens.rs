//! API tokens for services: created for a user with scopes, shown once, revocable.

use rand::distr::{Alphanumeric, SampleString};

use crate::auth::token_hash;
use crate::db::{Db, now_ms};
use crate::policy::Scope;

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("no user {0:?}")]
    NoSuchUser(String),
    #[error("token name must be 1 to 100 visible characters")]
    BadName,
    #[error("a token needs at least one scope")]
    NoScopes,
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

/// A new token: its id and the secret, which is not stored and cannot be shown again.
pub struct NewToken {
    pub id: i64,
    pub secret: String,
}

pub async fn create_token(
    db: &Db,
    username: &str,
    name: &str,
    scopes: &[Scope],
    expires_in_days: Option<i64>,
) -> Result<NewToken, TokenError> {
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(hoist_queue::names::is_hidden) {
        return Err(TokenError::BadName);
    }
    if scopes.is_empty() {
        return Err(TokenError::NoScopes);
    }
    let scopes: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    let user_id: Option<i64> =
        sqlx::query_scalar("SELECT id FROM users WHERE username = $1").bind(username).fetch_optional(&db.pool).await?;
    let user_id = user_id.ok_or_else(|| TokenError::NoSuchUser(username.to_string()))?;
    let secret = format!("hoist_{}", Alphanumeric.sample_string(&mut rand::rng(), 40));
    let now = now_ms();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO api_tokens (user_id, name, token_hash, scopes, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(user_id)
    .bind(name)
    .bind(token_hash(&secret))
    .bind(serde_json::to_string(&scopes).unwrap_or_else(|_| "[]".into()))
    .bind(now)
    .bind(expires_in_days.map(|d| now + d * 86_400_000))
    .fetch_one(&db.pool)
    .await?;
    Ok(NewToken { id, secret })
}

/// A token as `hoist token list` shows it (never the secret, which is not stored).
pub struct TokenInfo {
    pub id: i64,
    pub username: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// Every token, oldest first.
pub async fn list_tokens(db: &Db) -> Result<Vec<TokenInfo>, TokenError> {
    type Row = (i64, String, String, String, i64, Option<i64>, Option<i64>, Option<i64>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT t.id, u.username, t.name, t.scopes, t.created_at, t.expires_at, t.last_used_at, t.revoked_at
         FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.id",
    )
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, username, name, scopes, created_at, expires_at, last_used_at, revoked_at)| TokenInfo {
            id,
            username,
            name,
            scopes: serde_json::from_str(&scopes).unwrap_or_default(),
            created_at,
            expires_at,
            last_used_at,
            revoked_at,
        })
        .collect())
}

/// Revokes a token; false when there is no such live token.
pub async fn revoke_token(db: &Db, id: i64) -> Result<bool, TokenError> {
    let done = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now_ms())
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected() == 1)
}
