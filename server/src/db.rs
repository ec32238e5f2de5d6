//! The SQL database: SQLite by default, PostgreSQL when `DATABASE_URL` says so.
//!
//! Queries go through sqlx's `Any` driver, written once in SQL both engines accept
//! (`$1` placeholders, epoch-millisecond BIGINTs, JSON as text). Migrations differ per
//! dialect and live in `migrations/sqlite` and `migrations/postgres`.

use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};

use crate::error::StartupError;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbKind {
    Sqlite,
    Postgres,
}

impl DbKind {
    pub fn from_url(url: &str) -> Result<Self, StartupError> {
        if url.starts_with("sqlite:") {
            Ok(DbKind::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DbKind::Postgres)
        } else {
            Err(StartupError::Invalid {
                variable: "DATABASE_URL",
                reason: format!(
                    "{:?} is neither sqlite: nor postgres://",
                    redact(url).chars().take(60).collect::<String>()
                ),
            })
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DbKind::Sqlite => "sqlite",
            DbKind::Postgres => "postgres",
        }
    }
}

/// A pool on the configured database, and which engine it is.
#[derive(Clone, Debug)]
pub struct Db {
    pub pool: AnyPool,
    pub kind: DbKind,
    /// PostgreSQL only: a pool on the native driver, for the history copy, which binds
    /// whole columns as binary arrays (`Any` cannot bind arrays).
    pub postgres: Option<sqlx::PgPool>,
    url: String,
}

impl Db {
    /// Connects (creating the SQLite file and its folder when needed).
    pub async fn connect(url: &str) -> Result<Self, StartupError> {
        install_default_drivers();
        let kind = DbKind::from_url(url)?;
        if kind == DbKind::Sqlite {
            create_sqlite_parent(url)?;
        }
        let unreachable = |e: sqlx::Error| StartupError::Unreachable {
            variable: "DATABASE_URL",
            target: redact(url),
            reason: e.to_string(),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if kind == DbKind::Sqlite { 4 } else { 10 })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if kind == DbKind::Sqlite {
                        // Readers never block the single writer; writers wait instead of
                        // failing with SQLITE_BUSY.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await
            .map_err(unreachable)?;
        let postgres = match kind {
            DbKind::Postgres => Some(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(crate::history::writers_for(kind) as u32)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_lazy(url)
                    .map_err(unreachable)?,
            ),
            DbKind::Sqlite => None,
        };
        Ok(Db { pool, kind, postgres, url: url.to_string() })
    }

    /// Applies the migrations of this engine's dialect; a no-op when up to date.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let migrator = match self.kind {
            DbKind::Sqlite => &SQLITE_MIGRATIONS,
            DbKind::Postgres => &POSTGRES_MIGRATIONS,
        };
        // PostgreSQL serialises concurrent migrators with an advisory lock; SQLite has
        // none, so a `serve` and a `worker` starting together on one file can collide
        // (one sees the other's half-applied migration). The loser waits and looks again.
        let mut attempt = 0;
        loop {
            match migrator.run(&self.pool).await {
                Ok(()) => return Ok(()),
                Err(e) if attempt < 10 && self.kind == DbKind::Sqlite => {
                    attempt += 1;
                    tracing::debug!(error = %e, attempt, "migration collided with another process; retrying");
                    tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The URL, for building the engine-specific pool the session store needs.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `SELECT 1` with a short timeout, for readiness checks.
    pub async fn ping(&self) -> Result<(), String> {
        let query = sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&self.pool);
        match tokio::time::timeout(Duration::from_secs(2), query).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("timed out after 2 s".into()),
        }
    }
}

fn create_sqlite_parent(url: &str) -> Result<(), StartupError> {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|e| StartupError::Invalid {
            variable: "DATABASE_URL",
            reason: format!("cannot create folder {}: {e}", parent.display()),
        })?;
    }
    Ok(())
}

/// The URL without its password, for messages and logs. What `url` cannot parse (a
/// Sentinel URL or a cluster's node list) loses everything before its last `@`.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => url.to_string(),
        Err(_) => match (url.split_once("://"), url.rfind('@')) {
            (Some((scheme, _)), Some(at)) if at > scheme.len() => format!("{scheme}://***{}", &url[at..]),
            _ => url.to_string(),
        },
    }
}

/// Milliseconds since the Unix epoch, the time unit of every SQL column.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("redis+sentinel://:p/w@a:1,b:2/m"), "redis+sentinel://***@a:1,b:2/m");
        assert_eq!(redact("redis://:pw@a:1,redis://:pw@b:2"), "redis://***@b:2");
        assert_eq!(redact("redis+sentinel://a:1,b:2/m"), "redis+sentinel://a:1,b:2/m");
    }

    #[test]
    fn picks_engine_from_url() {
        assert_eq!(DbKind::from_url("sqlite://x.db").unwrap(), DbKind::Sqlite);
        assert_eq!(DbKind::from_url("postgresql://h/db").unwrap(), DbKind::Postgres);
        assert!(DbKind::from_url("mysql://h/db").is_err());
    }
}
