//! PostgreSQL over TLS, as managed services offer it: a throw-away cluster with `ssl = on`
//! that refuses plain connections (hoist-testkit's `PostgresServer`), reached with
//! `sslmode=require` and `verify-full` + `sslrootcert`.

use crate::common;

use axum::http::StatusCode;
use hoist_server::Hoist;
use serde_json::json;

const PASSWORD: &str = "postgres-tls-admin-pw";

async fn build(redis: &hoist_testkit::RedisServer, database_url: &str) -> anyhow::Result<hoist_server::Hoist> {
    Hoist::builder().redis_url(redis.url()).database_url(database_url).admin_password(PASSWORD).build().await
}

#[tokio::test]
async fn hoist_runs_on_a_postgres_that_only_accepts_tls() {
    let (redis, postgres) = (hoist_testkit::RedisServer::start(), hoist_testkit::PostgresServer::start_tls());
    // The certificate checked against the CA and the host name, as for RDS with its bundle.
    let hoist = build(&redis, &postgres.url("verify-full")).await.expect("verify-full with the server's CA");
    let mut client = common::Client::new(&hoist.router(), "10.3.0.1:1");
    let login = client
        .send("POST", "/api/v1/auth/login", Some(json!({ "username": "admin", "password": PASSWORD })), &[])
        .await;
    assert_eq!(login.status, StatusCode::OK, "the session and user tables live on the TLS server: {}", login.body);
    let users = client.send("GET", "/api/v1/users", None, &[]).await;
    assert_eq!(users.status, StatusCode::OK, "{}", users.body);
    drop(hoist);

    // Encrypted without checking the certificate, as `sslmode=require` means in libpq.
    build(&redis, &postgres.url("require")).await.expect("sslmode=require");
}

#[tokio::test]
async fn plain_or_unverifiable_connections_fail_naming_the_variable() {
    let (redis, postgres) = (hoist_testkit::RedisServer::start(), hoist_testkit::PostgresServer::start_tls());
    let refused = build(&redis, &postgres.url("disable")).await.err().expect("the server refuses plain connections");
    assert!(format!("{refused:#}").starts_with("DATABASE_URL:"), "{refused:#}");

    // Another CA than the one that signed the server's certificate.
    let other = hoist_testkit::PostgresServer::start_tls();
    let url = postgres
        .url("verify-full")
        .replace(&postgres.ca_file().display().to_string(), &other.ca_file().display().to_string());
    let refused = build(&redis, &url).await.err().expect("a certificate from an unknown CA is refused");
    assert!(format!("{refused:#}").starts_with("DATABASE_URL:"), "{refused:#}");
}
