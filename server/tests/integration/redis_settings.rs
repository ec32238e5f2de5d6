//! A Redis that may evict keys loses jobs without a trace: `hoist serve`, `hoist worker`
//! and an embedding app refuse it unless told otherwise, naming the setting to change.

use hoist_server::Hoist;

fn builder(redis: &hoist_testkit::RedisServer, database: &hoist_testkit::TestDatabase) -> hoist_server::HoistBuilder {
    Hoist::builder().redis_url(redis.url()).database_url(database.url()).admin_password("settings-admin-pw")
}

#[tokio::test]
async fn an_evicting_redis_is_refused_unless_allowed() {
    let (redis, database) = (hoist_testkit::RedisServer::start(), hoist_testkit::sqlite_database());
    builder(&redis, &database).build().await.expect("noeviction (Redis's default) is accepted");

    for policy in ["allkeys-lru", "volatile-ttl"] {
        redis.command(&["CONFIG", "SET", "maxmemory-policy", policy]).unwrap();
        let error = builder(&redis, &database).build().await.err().expect("refused").to_string();
        assert!(error.starts_with("REDIS_URL:"), "{error}");
        assert!(error.contains(&format!("maxmemory-policy {policy}")), "{error}");
        assert!(error.contains("noeviction") && error.contains("HOIST_ALLOW_EVICTION"), "{error}");
    }
    builder(&redis, &database).allow_eviction(true).build().await.expect("allowed when asked");
}

#[tokio::test]
async fn settings_are_read_from_the_server() {
    let redis = hoist_testkit::RedisServer::start();
    let connection = hoist_queue::RedisConnection::connect(&redis.url()).await.unwrap();
    let settings = connection.server_settings().await.unwrap();
    assert_eq!(settings.maxmemory_policy, "noeviction");
    assert!(!settings.evicts_keys());
    // The test harness's Redis keeps nothing on disk.
    assert!(!settings.aof_enabled);
    assert_eq!(settings.rdb_snapshots, Some(false));
    assert!(settings.keeps_nothing());

    redis.command(&["CONFIG", "SET", "appendonly", "yes"]).unwrap();
    redis.command(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]).unwrap();
    let settings = connection.server_settings().await.unwrap();
    assert!(settings.aof_enabled && !settings.keeps_nothing());
    assert!(settings.evicts_keys());
}
