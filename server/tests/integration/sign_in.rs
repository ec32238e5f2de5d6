//! Sign-in under attack: parallel guesses, the per-address counter behind trusted
//! proxies, a password change ending sessions, and idle expiry that moves with use.

use crate::common;

use std::time::Duration;

use axum::http::{StatusCode, header};
use clap::Parser;
use common::Client;
use hoist_server::users::{Role, create_user, set_password};
use hoist_testkit::sqlite_database;

/// Sends `n` sign-ins at once, each from its own client; their statuses.
async fn at_once(app: &axum::Router, n: usize, username: &str, password: &str) -> Vec<StatusCode> {
    let mut tasks = vec![];
    for i in 0..n {
        let mut client = Client::new(app, &format!("10.{}.0.1:1", 100 + i));
        let (username, password) = (username.to_string(), password.to_string());
        tasks.push(tokio::spawn(async move { client.login(&username, &password).await.status }));
    }
    let mut statuses = vec![];
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses
}

fn count(statuses: &[StatusCode], status: StatusCode) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_parallel_wrong_guesses_get_at_most_five_password_checks() {
    let t = common::TestApp::start().await;
    create_user(&t.db, "bob", "bob-password-1", Role::Viewer).await.unwrap();
    let statuses = at_once(&t.app, 8, "bob", "wrong-guess").await;
    assert_eq!(count(&statuses, StatusCode::UNAUTHORIZED), 5, "{statuses:?}");
    assert_eq!(count(&statuses, StatusCode::TOO_MANY_REQUESTS), 3, "{statuses:?}");
    // Each wrong guess is audited; the lockout once, however many attempts it refused.
    let audited = |action: &'static str| {
        let db = t.db.clone();
        async move {
            let rows: Vec<(String, String, String)> =
                sqlx::query_as("SELECT actor_name, actor_role, result FROM audit_log WHERE action = $1 ORDER BY id")
                    .bind(action)
                    .fetch_all(&db.pool)
                    .await
                    .unwrap();
            rows
        }
    };
    let failed = audited("auth.sign_in").await;
    assert_eq!(failed.len(), 5);
    assert!(failed.iter().all(|(who, role, result)| (who.as_str(), role.as_str(), result.as_str()) == ("bob", "anonymous", "failed")));
    assert_eq!(audited("auth.lockout").await, [("bob".to_string(), "anonymous".to_string(), "locked out".to_string())]);
    // Locked now, even with the right password, from anywhere.
    let r = Client::new(&t.app, "10.77.0.1:1").login("bob", "bob-password-1").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.body["error"]["code"], "rate_limited");
    let retry: u64 = r.headers[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_success_clears_the_account_counter_and_the_address_counter_bites_at_twenty() {
    let t = common::TestApp::start().await;
    create_user(&t.db, "bob", "bob-password-1", Role::Viewer).await.unwrap();
    let mut client = Client::new(&t.app, "10.8.0.1:1");
    for _ in 0..4 {
        assert_eq!(client.login("bob", "nope-nope").await.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(client.login("bob", "bob-password-1").await.status, StatusCode::OK);
    for _ in 0..5 {
        assert_eq!(client.login("bob", "nope-nope").await.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(client.login("bob", "nope-nope").await.status, StatusCode::TOO_MANY_REQUESTS);

    // One address guessing many accounts: 20 failures, then refused for any account.
    let mut guesser = Client::new(&t.app, "10.8.0.2:1");
    for i in 0..20 {
        assert_eq!(guesser.login(&format!("nobody{i}"), "nope-nope").await.status, StatusCode::UNAUTHORIZED, "{i}");
    }
    assert_eq!(guesser.login("someone-else", "nope-nope").await.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(guesser.login("another", "nope-nope").await.status, StatusCode::TOO_MANY_REQUESTS);
    // The address's lockout is audited once; then an account locked from it is its own.
    let lockouts = || async {
        let rows: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT actor_name, client_addr FROM audit_log WHERE action = 'auth.lockout' ORDER BY id")
                .fetch_all(&t.db.pool)
                .await
                .unwrap();
        rows
    };
    let from_guesser: Vec<_> =
        lockouts().await.into_iter().filter(|(_, addr)| addr.as_deref() == Some("10.8.0.2")).collect();
    assert_eq!(from_guesser, [("someone-else".to_string(), Some("10.8.0.2".to_string()))]);
    // Other addresses are not affected.
    assert_eq!(Client::new(&t.app, "10.8.0.3:1").login("x", "nope-nope").await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    let t = common::TestApp::start_with(sqlite_database(), &["--trusted-proxies", "10.0.0.0/8, ::1"]).await;
    // Behind the proxy at 10.0.0.5: the client at 198.51.100.7 fails 20 times.
    let mut proxy = Client::new(&t.app, "10.0.0.5:40000");
    let from = |ip: &'static str| [("x-forwarded-for", ip)];
    for i in 0..20 {
        let r = proxy.send("POST", "/api/v1/auth/login", Some(login(&format!("u{i}"))), &from("198.51.100.7")).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = proxy.send("POST", "/api/v1/auth/login", Some(login("u99")), &from("198.51.100.7")).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "that client is locked out");
    // Another client behind the same proxy is not; nor is one that prepends a fake hop.
    let r = proxy.send("POST", "/api/v1/auth/login", Some(login("u99")), &from("198.51.100.8")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "the proxy's other clients are not locked out");
    let r = proxy.send("POST", "/api/v1/auth/login", Some(login("u99")), &from("198.51.100.7, 198.51.100.9")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "the rightmost untrusted hop counts");
    // An untrusted peer cannot put itself behind the locked address, or escape its own.
    let mut direct = Client::new(&t.app, "203.0.113.5:1");
    let r = direct.send("POST", "/api/v1/auth/login", Some(login("u99")), &from("198.51.100.7")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "an untrusted peer's header is ignored");

    // The audit log records the client behind the proxy.
    let mut admin = Client::new(&t.app, "10.0.0.5:40001");
    admin.cookie = t.admin.cookie.clone();
    let headers = [("x-csrf-token", t.csrf.as_str()), ("x-forwarded-for", "192.0.2.44")];
    let r = admin.send("POST", "/api/v1/queues/audited/pause", None, &headers).await;
    assert!(r.status.is_success(), "{:?}", r.body);
    let recorded: Option<String> =
        sqlx::query_scalar("SELECT client_addr FROM audit_log WHERE target = 'audited' ORDER BY id DESC LIMIT 1")
            .fetch_one(&t.db.pool)
            .await
            .unwrap();
    assert_eq!(recorded.as_deref(), Some("192.0.2.44"));
}

fn login(username: &str) -> serde_json::Value {
    serde_json::json!({ "username": username, "password": "nope-nope" })
}

#[tokio::test]
async fn a_password_change_ends_the_users_sessions() {
    let t = common::TestApp::start().await;
    create_user(&t.db, "vera", "vera-password-1", Role::Viewer).await.unwrap();
    let (mut laptop, _) = t.client("vera", "vera-password-1", "10.4.0.1:1").await;
    let (mut phone, _) = t.client("vera", "vera-password-1", "10.4.0.2:1").await;
    assert_eq!(laptop.send("GET", "/api/v1/auth/me", None, &[]).await.status, StatusCode::OK);
    // `hoist user passwd vera` (the CLI calls this).
    assert!(set_password(&t.db, "vera", "vera-password-2").await.unwrap());
    for client in [&mut laptop, &mut phone] {
        let r = client.send("GET", "/api/v1/auth/me", None, &[]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{:?}", r.body);
    }
    // The ended session is gone from the store, not just refused.
    let r = Client::new(&t.app, "10.4.0.3:1").login("vera", "vera-password-1").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "the old password is over");
    let (mut again, _) = t.client("vera", "vera-password-2", "10.4.0.1:1").await;
    assert_eq!(again.send("GET", "/api/v1/auth/me", None, &[]).await.status, StatusCode::OK);
    // Other users keep their sessions.
    let mut admin = Client::new(&t.app, "10.9.0.1:1");
    admin.cookie = t.admin.cookie.clone();
    assert_eq!(admin.send("GET", "/api/v1/auth/me", None, &[]).await.status, StatusCode::OK);
}

async fn expiry_of(t: &common::TestApp, client: &Client) -> i64 {
    let id = client.cookie.as_deref().unwrap().strip_prefix("hoist_session=").unwrap().to_string();
    // The store keeps it as text; SQLite reads it back as epoch seconds.
    sqlx::query_scalar("SELECT CAST(strftime('%s', expiry_date) AS INTEGER) FROM tower_sessions WHERE id = $1")
        .bind(id)
        .fetch_one(&t.db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn idle_expiry_moves_forward_with_use() {
    // The server saves a used session at most this often (a minute in production).
    hoist_server::auth::principal::set_session_touch_interval(Duration::from_secs(1));
    let t = common::TestApp::start().await;
    let mut admin = Client::new(&t.app, "10.9.0.1:1");
    admin.cookie = t.admin.cookie.clone();
    let signed_in = expiry_of(&t, &admin).await;
    let r = admin.send("GET", "/api/v1/auth/me", None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers.get(header::SET_COOKIE).is_none(), "not saved again at once");
    assert_eq!(expiry_of(&t, &admin).await, signed_in);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = admin.send("GET", "/api/v1/auth/me", None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    let cookie = r.headers.get(header::SET_COOKIE).expect("the cookie's lifetime is renewed").to_str().unwrap();
    assert!(cookie.contains("Max-Age=43200") || cookie.contains("Max-Age=43199"), "{cookie}");
    let moved = expiry_of(&t, &admin).await;
    assert!(moved > signed_in, "expiry moved forward: {signed_in} -> {moved}");
    // The same session, still valid.
    assert_eq!(admin.send("GET", "/api/v1/auth/me", None, &[]).await.status, StatusCode::OK);
}

#[tokio::test]
async fn bad_security_settings_stop_the_start_naming_the_variable() {
    for (flag, value, variable) in [
        ("--trusted-proxies", "10.0.0.0/33", "HOIST_TRUSTED_PROXIES"),
        ("--trusted-proxies", "proxy.internal", "HOIST_TRUSTED_PROXIES"),
        ("--allowed-origins", "admin.example", "HOIST_ALLOWED_ORIGINS"),
    ] {
        let args = common::Args::parse_from(["hoist", "--redis-url", "redis://127.0.0.1:1", flag, value]);
        let error = hoist_server::server::build_state(&args.store, &args.http).await.err().expect(value);
        assert!(format!("{error:#}").starts_with(variable), "{error:#}");
    }
    for (flag, value) in [
        ("--live-recheck-seconds", "0"),
        ("--max-sockets-per-user", "0"),
        ("--password-checks", "0"),
        ("--password-checks", "65"),
        ("--header-read-timeout", "0"),
        ("--max-connections", "0"),
    ] {
        assert!(common::Args::try_parse_from(["hoist", flag, value]).is_err(), "{flag} {value}");
    }
}
