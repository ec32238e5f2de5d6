//! Migrations and the first-start admin, on SQLite and on PostgreSQL: one suite, both
//! engines.

use hoist_server::db::{Db, DbKind};
use hoist_server::users::{AdminBootstrap, Role, create_user, ensure_admin, verify_password};
use hoist_testkit::{TestDatabase, postgres_database, sqlite_database};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::SessionStore;

async fn exercise(database: &TestDatabase) {
    let db = Db::connect(database.url()).await.expect("connect");
    let expected = if database.is_postgres() { DbKind::Postgres } else { DbKind::Sqlite };
    assert_eq!(db.kind, expected);

    db.migrate().await.expect("first migration");
    db.migrate().await.expect("migrating again is a no-op");

    for table in [
        "users",
        "api_tokens",
        "audit_log",
        "job_history",
        "organisations",
        "connections",
        "accounts",
        "transactions",
        "category_rules",
    ] {
        let count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&db.pool)
            .await
            .unwrap_or_else(|e| panic!("table {table}: {e}"));
        assert_eq!(count, 0, "{table} starts empty");
    }

    // First start creates the admin with the configured password; later starts do not.
    let first = ensure_admin(&db, Some("s3cret-pass")).await.unwrap();
    assert_eq!(first, AdminBootstrap::CreatedWithConfiguredPassword);
    let again = ensure_admin(&db, Some("other-pass")).await.unwrap();
    assert_eq!(again, AdminBootstrap::Existing);
    let (hash, role): (String, String) = sqlx::query_as("SELECT password_hash, role FROM users WHERE username = $1")
        .bind("admin")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(role, "admin");
    assert!(verify_password("s3cret-pass", &hash));
    assert!(!verify_password("other-pass", &hash));

    let err = create_user(&db, "admin", "another-pass", Role::Viewer).await.unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    let err = create_user(&db, "bob", "short", Role::Viewer).await.unwrap_err();
    assert!(err.to_string().contains("at least 8"), "{err}");

    // The role CHECK constraint holds on both engines.
    let bad_role = sqlx::query(
        "INSERT INTO users (username, password_hash, role, created_at, updated_at)
         VALUES ('eve', 'x', 'root', 0, 0)",
    )
    .execute(&db.pool)
    .await;
    assert!(bad_role.is_err(), "unknown role must be refused");

    // The session table is the one tower-sessions' store reads and writes.
    let record = Record {
        id: Id(7_000_000_000_000_000_001),
        data: [("user_id".to_string(), serde_json::json!(1))].into_iter().collect(),
        expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
    };
    match db.kind {
        DbKind::Sqlite => {
            let pool = sqlx::SqlitePool::connect(database.url()).await.unwrap();
            let store = tower_sessions_sqlx_store::SqliteStore::new(pool);
            store.save(&record).await.unwrap();
            let loaded = store.load(&record.id).await.unwrap().expect("session saved");
            assert_eq!(loaded.data, record.data);
        }
        DbKind::Postgres => {
            let pool = sqlx::PgPool::connect(database.url()).await.unwrap();
            let store = tower_sessions_sqlx_store::PostgresStore::new(pool);
            store.save(&record).await.unwrap();
            let loaded = store.load(&record.id).await.unwrap().expect("session saved");
            assert_eq!(loaded.data, record.data);
        }
    }
}

#[tokio::test]
async fn sqlite_schema_and_admin() {
    exercise(&sqlite_database()).await;
}

#[tokio::test]
async fn postgres_schema_and_admin() {
    exercise(&postgres_database().await).await;
}

#[tokio::test]
async fn generated_admin_password_is_random_and_works() {
    let database = sqlite_database();
    let db = Db::connect(database.url()).await.unwrap();
    db.migrate().await.unwrap();
    let AdminBootstrap::CreatedWithGeneratedPassword(password) = ensure_admin(&db, None).await.unwrap() else {
        panic!("expected a generated password");
    };
    assert!(password.len() >= 20);
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE username = 'admin'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(verify_password(&password, &hash));
}

#[tokio::test]
async fn flags_decode_on_both_engines() {
    for database in [sqlite_database(), postgres_database().await] {
        let db = Db::connect(database.url()).await.unwrap();
        db.migrate().await.unwrap();
        create_user(&db, "dora", "dora-password", Role::User).await.unwrap();
        let disabled: i64 = sqlx::query_scalar("SELECT disabled FROM users WHERE username = 'dora'")
            .fetch_one(&db.pool)
            .await
            .unwrap_or_else(|e| panic!("{:?}: {e}", db.kind));
        assert_eq!(disabled, 0);
    }
}
