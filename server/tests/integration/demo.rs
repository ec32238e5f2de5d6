//! Demo mode's seed data: there once, however often the server starts.

use hoist_server::db::Db;
use hoist_server::processors::demo;
use hoist_testkit::sqlite_database;

#[tokio::test]
async fn demo_seed_is_idempotent() {
    let database = sqlite_database();
    let db = Db::connect(database.url()).await.unwrap();
    db.migrate().await.unwrap();
    for _ in 0..2 {
        demo::seed(&db, &Default::default()).await.unwrap();
    }
    let count = |table: &str| {
        let db = db.clone();
        let sql = format!("SELECT COUNT(*) FROM {table}");
        async move { sqlx::query_scalar::<_, i64>(&sql).fetch_one(&db.pool).await.unwrap() }
    };
    assert_eq!(count("users").await, 1, "the demo end user");
    assert_eq!(count("organisations").await, 3);
    assert_eq!(count("connections").await, 5);
    assert_eq!(count("category_rules").await, 10);
    let revoked: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM connections WHERE external_id LIKE '%revoked%'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(revoked, 1, "one connection whose syncs reach the dead-letter queue");
}
