//! Saved searches: a user's named queries, in SQL.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::db::{Db, now_ms};

/// Saved searches one user may keep.
pub const MAX_SAVED: i64 = 20;
/// Longest name of a saved search, in characters.
pub const MAX_NAME: usize = 100;

/// One saved search.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SavedSearch {
    pub id: i64,
    pub name: String,
    /// The query, in the search language.
    pub q: String,
    pub created_at: i64,
}

/// A user's saved searches, by name.
pub async fn list(db: &Db, user_id: i64) -> Result<Vec<SavedSearch>, sqlx::Error> {
    let rows = sqlx::query("SELECT id, name, query, created_at FROM saved_searches WHERE user_id = $1 ORDER BY name")
        .bind(user_id)
        .fetch_all(&db.pool)
        .await?;
    rows.iter()
        .map(|row| {
            Ok(SavedSearch {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                q: row.try_get("query")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .collect()
}

/// Why a search was not saved.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("a user keeps at most {MAX_SAVED} saved searches")]
    Full,
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

/// Saves a search under `name`, replacing the user's search of that name.
pub async fn save(db: &Db, user_id: i64, name: &str, q: &str) -> Result<SavedSearch, SaveError> {
    let mut tx = db.pool.begin().await?;
    let replaces: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM saved_searches WHERE user_id = $1 AND name = $2")
        .bind(user_id)
        .bind(name)
        .fetch_one(&mut *tx)
        .await?;
    let kept: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM saved_searches WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await?;
    if replaces == 0 && kept >= MAX_SAVED {
        return Err(SaveError::Full);
    }
    let created_at = now_ms();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO saved_searches (user_id, name, query, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id, name) DO UPDATE SET query = excluded.query, created_at = excluded.created_at \
         RETURNING id",
    )
    .bind(user_id)
    .bind(name)
    .bind(q)
    .bind(created_at)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(SavedSearch { id, name: name.into(), q: q.into(), created_at })
}

/// Deletes one of the user's saved searches; false when they have none with that id.
pub async fn delete(db: &Db, user_id: i64, id: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM saved_searches WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected() > 0)
}
