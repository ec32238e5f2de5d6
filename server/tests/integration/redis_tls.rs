//! Redis over TLS (`rediss://`), as every managed Redis offers it: a private CA
//! (`REDIS_CA_FILE`), mutual TLS with a client certificate, and the server refusing a
//! certificate it cannot verify.

use hoist_queue::{NewJob, Queue, RedisConnection, TlsFiles};
use hoist_testkit::{RedisOptions, RedisServer};

fn tls_redis() -> RedisServer {
    RedisServer::start_with(RedisOptions { tls: true, ..Default::default() })
}

fn read(redis: &RedisServer, name: &str) -> Option<Vec<u8>> {
    Some(std::fs::read(redis.tls_dir().join(name)).unwrap())
}

#[tokio::test]
async fn the_engine_works_over_tls_with_a_private_ca_and_mutual_tls() {
    let redis = tls_redis();
    let url = redis.tls_url().unwrap();
    let trusted = TlsFiles { ca: read(&redis, "ca.pem"), ..Default::default() };
    let connection = RedisConnection::connect_tls(&url, &trusted).await.unwrap();
    let queue = Queue::new(&connection, "secure").unwrap();
    let id = queue.enqueue(NewJob::new("n", serde_json::json!({ "over": "tls" }))).await.unwrap().id;
    let job = queue.get_job(&id).await.unwrap().unwrap();
    assert_eq!(job.payload["over"], "tls");
    // The same job is visible on the plain port: it is one server.
    let plain = RedisConnection::connect(&redis.url()).await.unwrap();
    assert!(Queue::new(&plain, "secure").unwrap().get_job(&id).await.unwrap().is_some());

    // Without the private CA the server's certificate is not trusted.
    let untrusted = RedisConnection::connect(&url).await;
    assert!(untrusted.is_err(), "a certificate of an unknown CA must be refused");

    // A server that requires client certificates: refused without one, served with one.
    redis.command(&["CONFIG", "SET", "tls-auth-clients", "yes"]).unwrap();
    assert!(RedisConnection::connect_tls(&url, &trusted).await.is_err(), "no client certificate");
    let mutual = TlsFiles {
        ca: read(&redis, "ca.pem"),
        client_cert: read(&redis, "client.pem"),
        client_key: read(&redis, "client.key"),
    };
    let connection = RedisConnection::connect_tls(&url, &mutual).await.unwrap();
    assert_eq!(Queue::new(&connection, "secure").unwrap().counts().await.unwrap().waiting, 1);
}

#[tokio::test]
async fn the_server_connects_with_redis_ca_file() {
    let redis = tls_redis();
    let database = hoist_testkit::sqlite_database();
    let hoist = hoist_server::Hoist::builder()
        .redis_url(redis.tls_url().unwrap())
        .redis_ca_file(redis.tls_dir().join("ca.pem"))
        .database_url(database.url())
        .admin_password("tls-admin-password")
        .build()
        .await
        .unwrap();
    hoist.queue("over-tls").unwrap().enqueue(NewJob::new("n", serde_json::json!({}))).await.unwrap();
    assert_eq!(hoist.queue("over-tls").unwrap().counts().await.unwrap().waiting, 1);

    let refused = hoist_server::Hoist::builder()
        .redis_url(redis.tls_url().unwrap())
        .database_url(database.url())
        .build()
        .await
        .err()
        .expect("an unknown CA is refused")
        .to_string();
    assert!(refused.starts_with("REDIS_URL: cannot connect"), "{refused}");
    let missing = hoist_server::Hoist::builder()
        .redis_url(redis.tls_url().unwrap())
        .redis_ca_file("/nonexistent/ca.pem")
        .database_url(database.url())
        .build()
        .await
        .err()
        .expect("an unreadable CA file is refused")
        .to_string();
    assert!(missing.starts_with("REDIS_CA_FILE: cannot read /nonexistent/ca.pem"), "{missing}");
}
