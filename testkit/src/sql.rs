use std::time::Duration;

use sqlx::{Connection, PgConnection};

/// A database that exists for one test. Dropping it removes the SQLite file or drops the
/// PostgreSQL database.
pub struct TestDatabase {
    url: String,
    kind: Kind,
}

enum Kind {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    /// The `DATABASE_URL` to give the code under test.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.kind, Kind::Postgres { .. })
    }
}

/// A fresh SQLite database file in its own temp dir.
pub fn sqlite_database() -> TestDatabase {
    let dir = tempfile::Builder::new().prefix("hoist-sqlite-").tempdir().expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("hoist.db").display());
    TestDatabase { url, kind: Kind::Sqlite(dir) }
}

/// The server tests create databases on: `HOIST_TEST_POSTGRES_URL`, or the machine's
/// PostgreSQL with trust auth.
pub fn postgres_admin_url() -> String {
    std::env::var("HOIST_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// A fresh, empty PostgreSQL database with a unique name.
pub async fn postgres_database() -> TestDatabase {
    postgres_database_at(&postgres_admin_url()).await
}

/// A fresh, empty PostgreSQL database with a unique name, on the server at `admin_url`
/// (a database URL of a role that may create databases).
pub async fn postgres_database_at(admin_url: &str) -> TestDatabase {
    let admin_url = admin_url.to_string();
    let name = format!("hoist_test_{:016x}", rand::random::<u64>());
    let mut conn =
        PgConnection::connect(&admin_url).await.unwrap_or_else(|e| panic!("connect to PostgreSQL at {admin_url}: {e}"));
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create test database");
    let _ = conn.close().await;
    let url = replace_database(&admin_url, &name);
    TestDatabase { url, kind: Kind::Postgres { admin_url, name } }
}

fn replace_database(url: &str, name: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("database url has a path");
    format!("{base}/{name}")
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Kind::Postgres { admin_url, name } = &self.kind {
            let admin_url = admin_url.clone();
            let name = name.clone();
            // Drop may run inside a runtime; do the async work on a thread of its own.
            let dropper = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
                let Ok(runtime) = runtime else { return };
                runtime.block_on(async {
                    if let Ok(mut conn) = PgConnection::connect(&admin_url).await {
                        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                        let _ =
                            tokio::time::timeout(Duration::from_secs(10), sqlx::query(&sql).execute(&mut conn)).await;
                    }
                });
            });
            let _ = dropper.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_only_the_database_name() {
        assert_eq!(
            replace_database("postgres://postgres@127.0.0.1:5432/test", "x1"),
            "postgres://postgres@127.0.0.1:5432/x1"
        );
    }

    #[tokio::test]
    async fn postgres_databases_are_separate_and_dropped() {
        let a = postgres_database().await;
        let b = postgres_database().await;
        assert_ne!(a.url(), b.url());
        let mut conn = PgConnection::connect(a.url()).await.unwrap();
        sqlx::query("CREATE TABLE t (x int)").execute(&mut conn).await.unwrap();
        conn.close().await.unwrap();
        let name = a.url().rsplit_once('/').unwrap().1.to_string();
        drop(a);
        let mut admin = PgConnection::connect(&postgres_admin_url()).await.unwrap();
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname = $1")
            .bind(&name)
            .fetch_one(&mut admin)
            .await
            .unwrap();
        assert_eq!(left, 0);
        drop(b);
    }
}
