//! API tokens for services: created for a user with scopes, shown once, revocable.

use rand::distr::{Alphanumeric, SampleString};

use crate::auth::token_hash;
use crate::db::{Db, now_ms};

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("no user {0:?}")]
    NoSuchUser(String),
    #[error("token name must be 1 to 100 characters")]
    BadName,
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
    scopes: &[String],
    expires_in_days: Option<i64>,
) -> Result<NewToken, TokenError> {
    if name.is_empty() || name.chars().count() > 100 {
        return Err(TokenError::BadName);
    }
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
    .bind(serde_json::to_string(scopes).unwrap_or_else(|_| "[]".into()))
    .bind(now)
    .bind(expires_in_days.map(|d| now + d * 86_400_000))
    .fetch_one(&db.pool)
    .await?;
    Ok(NewToken { id, secret })
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
