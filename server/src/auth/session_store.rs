//! Sessions in the configured SQL database, through tower-sessions' sqlx stores.

use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

use crate::db::{Db, DbKind};

/// The store for whichever database `DATABASE_URL` names. Its tables come from the
/// migrations, not from the store's own `migrate()`.
#[derive(Clone, Debug)]
pub enum SqlSessionStore {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl SqlSessionStore {
    pub async fn connect(db: &Db) -> Result<Self, sqlx::Error> {
        Ok(match db.kind {
            DbKind::Sqlite => SqlSessionStore::Sqlite(SqliteStore::new(sqlx::SqlitePool::connect(db.url()).await?)),
            DbKind::Postgres => SqlSessionStore::Postgres(PostgresStore::new(sqlx::PgPool::connect(db.url()).await?)),
        })
    }

    /// Deletes sessions past their expiry (the nightly maintenance job).
    pub async fn delete_expired(&self) -> session_store::Result<()> {
        use tower_sessions::ExpiredDeletion;
        match self {
            SqlSessionStore::Sqlite(s) => s.delete_expired().await,
            SqlSessionStore::Postgres(s) => s.delete_expired().await,
        }
    }
}

#[async_trait]
impl SessionStore for SqlSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            SqlSessionStore::Sqlite(s) => s.create(record).await,
            SqlSessionStore::Postgres(s) => s.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            SqlSessionStore::Sqlite(s) => s.save(record).await,
            SqlSessionStore::Postgres(s) => s.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            SqlSessionStore::Sqlite(s) => s.load(id).await,
            SqlSessionStore::Postgres(s) => s.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            SqlSessionStore::Sqlite(s) => s.delete(id).await,
            SqlSessionStore::Postgres(s) => s.delete(id).await,
        }
    }
}
