//! Sign-in, sessions, CSRF, lockout and API tokens through the real router, on SQLite
//! and PostgreSQL.

use crate::common;

use axum::http::{StatusCode, header};
use common::Client;
use hoist_server::auth::token_hash;
use hoist_server::users::{Role, create_user};
use hoist_testkit::{TestDatabase, postgres_database, sqlite_database};

async fn exercise(database: TestDatabase) {
    let t = common::TestApp::start_on(database).await;
    let (app, db) = (t.app.clone(), t.db.clone());
    let mut client = Client::new(&app, "10.0.0.7:5000");

    let r = client.send("GET", "/api/v1/auth/me", None, &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["error"]["code"], "unauthenticated");

    let r = client.login("", "x").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["field"], "username");

    let r = client.login("admin", "wrong-password").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["error"]["code"], "bad_credentials");

    let r = client.login("admin", "admin-password-1").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let csrf = r.body["csrf_token"].as_str().unwrap().to_string();
    let set_cookie = r.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().to_string();
    for flag in ["HttpOnly", "Secure", "SameSite=Lax"] {
        assert!(set_cookie.contains(flag), "{set_cookie}");
    }
    let r = client.send("GET", "/api/v1/auth/me", None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["user"]["username"], "admin");
    assert_eq!(r.body["user"]["role"], "admin");

    // State-changing requests on a cookie need the CSRF token.
    let r = client.send("POST", "/api/v1/auth/logout", None, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = client.send("POST", "/api/v1/auth/logout", None, &[("x-csrf-token", "guess")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = client.send("POST", "/api/v1/auth/logout", None, &[("x-csrf-token", &csrf)]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = client.send("GET", "/api/v1/auth/me", None, &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "signed out");

    // Five wrong guesses lock the account for a while, even against the right password.
    let mut guesser = Client::new(&app, "10.0.0.8:5000");
    create_user(&db, "bob", "bob-password-1", Role::Viewer).await.unwrap();
    for _ in 0..5 {
        assert_eq!(guesser.login("bob", "nope-nope").await.status, StatusCode::UNAUTHORIZED);
    }
    let r = guesser.login("bob", "bob-password-1").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers.get(header::RETRY_AFTER).unwrap().to_str().unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 900, "{retry}");

    // Disabled accounts cannot sign in.
    create_user(&db, "carol", "carol-password", Role::Operator).await.unwrap();
    sqlx::query("UPDATE users SET disabled = 1 WHERE username = 'carol'").execute(&db.pool).await.unwrap();
    assert_eq!(client.login("carol", "carol-password").await.status, StatusCode::UNAUTHORIZED);

    // API tokens: bearer auth, no CSRF, revocable.
    let admin_id: i64 =
        sqlx::query_scalar("SELECT id FROM users WHERE username = 'admin'").fetch_one(&db.pool).await.unwrap();
    sqlx::query(
        r#"INSERT INTO api_tokens (user_id, name, token_hash, scopes, created_at) VALUES ($1, 'ci', $2, '["jobs:write"]', 0)"#,
    )
    .bind(admin_id)
    .bind(token_hash("hoist_secret_123"))
    .execute(&db.pool)
    .await
    .unwrap();
    let mut service = Client::new(&app, "10.0.0.9:5000");
    let bearer = [("authorization", "Bearer hoist_secret_123")];
    let r = service.send("GET", "/api/v1/auth/me", None, &bearer).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["via"]["Token"]["scopes"][0], "jobs:write");
    assert_eq!(service.send("POST", "/api/v1/auth/logout", None, &bearer).await.status, StatusCode::NO_CONTENT);
    let wrong = [("authorization", "Bearer nope")];
    assert_eq!(service.send("GET", "/api/v1/auth/me", None, &wrong).await.status, StatusCode::UNAUTHORIZED);
    sqlx::query("UPDATE api_tokens SET revoked_at = 1").execute(&db.pool).await.unwrap();
    assert_eq!(service.send("GET", "/api/v1/auth/me", None, &bearer).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn auth_on_sqlite() {
    exercise(sqlite_database()).await;
}

#[tokio::test]
async fn auth_on_postgres() {
    exercise(postgres_database().await).await;
}
