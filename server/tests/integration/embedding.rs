//! Hoist inside a host application: the builder's router nested under `/hoist` serves
//! pages, assets, server functions and the REST API under the prefix; the host's sign-in
//! maps to Hoist roles; the builder runs the host's own typed handlers.

use crate::common;

use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::get;
use hoist_server::queue::{Handlers, JobContext, JobError, JobState, TypedJob};
use hoist_server::{Builtin, Hoist, HostUser, Role};
use serde::{Deserialize, Serialize};
use serde_json::json;

const PASSWORD: &str = "embedding-admin-pw";

/// A site folder standing for `cargo xtask site`'s output, with a stylesheet to tell
/// its files from the built-in ones.
fn site_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("pkg")).unwrap();
    std::fs::write(dir.path().join("pkg/hoist.css"), "body { color: teal }").unwrap();
    std::fs::write(dir.path().join("pkg/hoist.js"), "export default function () {}").unwrap();
    std::fs::write(dir.path().join("pkg/hoist.wasm"), b"\0asm").unwrap();
    dir
}

fn builder(
    redis: &hoist_testkit::RedisServer,
    database: &hoist_testkit::TestDatabase,
    site: &tempfile::TempDir,
) -> hoist_server::HoistBuilder {
    Hoist::builder().redis_url(redis.url()).database_url(database.url()).site_root(site.path()).admin_password(PASSWORD)
}

fn text(reply: &common::Reply) -> &str {
    reply.body.as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_nested_router_serves_pages_assets_server_functions_and_the_api_under_its_prefix() {
    let (redis, database, site) = (hoist_testkit::RedisServer::start(), hoist_testkit::sqlite_database(), site_root());
    let hoist = builder(&redis, &database, &site).build().await.unwrap();
    let host = axum::Router::new().route("/", get(|| async { "the host's home" })).nest("/hoist", hoist.router());
    let mut client = common::Client::new(&host, "10.1.0.1:1");

    let home = client.send("GET", "/", None, &[]).await;
    assert_eq!((home.status, text(&home)), (StatusCode::OK, "the host's home"));

    let login = client.send("GET", "/hoist/login", None, &[]).await;
    assert_eq!(login.status, StatusCode::OK);
    let page = text(&login);
    assert!(page.contains(r#"<meta name="hoist-mount-path" content="/hoist">"#), "{page}");
    assert!(page.contains(r#"href="/hoist/pkg/hoist.css""#), "stylesheet under the prefix: {page}");
    assert!(page.contains(r#"href="/hoist/pkg/hoist.js""#), "hydration script under the prefix: {page}");
    assert!(page.contains(r#"href="/hoist/status""#), "links under the prefix: {page}");
    assert!(!page.contains(r#"href="/status""#), "no link outside the prefix: {page}");

    assert!(page.contains(r#"action="/hoist/api/sign_in""#), "a form posts under the prefix before hydration: {page}");
    assert!(!page.contains(r#"action="/api/"#), "no form posts outside the prefix: {page}");

    let css = client.send("GET", "/hoist/pkg/hoist.css", None, &[]).await;
    assert_eq!((css.status, text(&css)), (StatusCode::OK, "body { color: teal }"));

    let signed_in = client
        .send("POST", "/hoist/api/v1/auth/login", Some(json!({ "username": "admin", "password": PASSWORD })), &[])
        .await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.body);
    hoist.queue("emails").unwrap().enqueue(hoist_server::queue::NewJob::new("welcome", json!({}))).await.unwrap();
    let queues = client.send("GET", "/hoist/api/v1/queues", None, &[]).await;
    assert_eq!(queues.status, StatusCode::OK);
    assert_eq!(queues.body[0]["name"], "emails", "{}", queues.body);

    // A server function, as the hydrated page calls it.
    let viewer = client.send("GET", "/hoist/api/get_viewer", None, &[]).await;
    assert_eq!(viewer.status, StatusCode::OK, "{}", viewer.body);
    assert_eq!(viewer.body["username"], "admin", "{}", viewer.body);

    let queue_page = client.send("GET", "/hoist/queues/emails", None, &[]).await;
    assert_eq!(queue_page.status, StatusCode::OK);
    assert!(text(&queue_page).contains(r#"href="/hoist/queues/emails?state=waiting""#), "{}", text(&queue_page));

    // Outside the prefix, the host's router answers (here: nothing).
    assert_eq!(client.send("GET", "/api/v1/queues", None, &[]).await.status, StatusCode::NOT_FOUND);

    // Not nested, the same router serves at the root.
    let mut root = common::Client::new(&hoist.router(), "10.1.0.2:1");
    let page = root.send("GET", "/login", None, &[]).await;
    assert!(text(&page).contains(r#"<meta name="hoist-mount-path" content="">"#), "{}", text(&page));
    assert!(text(&page).contains(r#"href="/pkg/hoist.css""#));
}

#[tokio::test]
async fn without_a_site_folder_the_files_built_into_the_crate_are_served_under_the_prefix() {
    let (redis, database) = (hoist_testkit::RedisServer::start(), hoist_testkit::sqlite_database());
    let hoist = Hoist::builder()
        .redis_url(redis.url())
        .database_url(database.url())
        .admin_password(PASSWORD)
        .build()
        .await
        .unwrap();
    let host = axum::Router::new().nest("/hoist", hoist.router());
    let mut client = common::Client::new(&host, "10.1.0.3:1");
    let page = client.send("GET", "/hoist/login", None, &[]).await;
    let page = text(&page).to_string();
    let stylesheet = page
        .split('"')
        .find(|part| part.starts_with("/hoist/pkg/") && part.ends_with("/hoist.css"))
        .unwrap_or_else(|| panic!("a stylesheet under /hoist/pkg/<build>/: {page}"));
    let css = client.send("GET", stylesheet, None, &[]).await;
    assert_eq!(css.status, StatusCode::OK);
    let style = include_str!("../../../style/main.css");
    assert_eq!(text(&css), style, "the repository's stylesheet, as built in");
    let script = stylesheet.replace("hoist.css", "hoist.js");
    assert!(page.contains(&format!(r#"href="{script}""#)), "the script of the same build: {page}");
    assert_eq!(client.send("GET", &script, None, &[]).await.status, StatusCode::OK);
    // Built-in files are not served from the current folder, whatever it holds.
    assert_eq!(client.send("GET", "/hoist/pkg/hoist.css", None, &[]).await.status, StatusCode::NOT_FOUND);
    assert_eq!(client.send("GET", "/hoist/Cargo.toml", None, &[]).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_site_folder_without_the_built_files_is_refused_naming_the_variable() {
    let (redis, database) = (hoist_testkit::RedisServer::start(), hoist_testkit::sqlite_database());
    let empty = tempfile::tempdir().unwrap();
    let refused = Hoist::builder()
        .redis_url(redis.url())
        .database_url(database.url())
        .site_root(empty.path())
        .build()
        .await
        .err()
        .expect("an empty site folder is refused");
    let message = format!("{refused:#}");
    assert!(message.contains("LEPTOS_SITE_ROOT") && message.contains("pkg/hoist.wasm"), "{message}");
}

/// The host's "session": a header naming the user and role.
fn from_header(request: &axum::http::request::Parts) -> Option<HostUser> {
    let value = request.headers.get("x-app-user")?.to_str().ok()?;
    let (name, role) = value.split_once(':')?;
    Some(HostUser::new(name, Role::parse(role)?))
}

#[tokio::test]
async fn the_host_sign_in_maps_to_hoist_roles_and_ends_with_the_host_session() {
    let (redis, database, site) = (hoist_testkit::RedisServer::start(), hoist_testkit::sqlite_database(), site_root());
    let hoist = builder(&redis, &database, &site)
        .host_auth(|request| {
            let user = from_header(request);
            async move { user }
        })
        .build()
        .await
        .unwrap();
    let host = axum::Router::new().nest("/hoist", hoist.router());
    let mut alice = common::Client::new(&host, "10.2.0.1:1");

    let me = alice.send("GET", "/hoist/api/v1/auth/me", None, &[("x-app-user", "alice:operator")]).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(
        (me.body["user"]["username"].as_str(), me.body["user"]["role"].as_str()),
        (Some("alice"), Some("operator"))
    );
    let csrf = me.body["csrf_token"].as_str().unwrap().to_string();
    assert!(alice.cookie.is_some(), "Hoist keeps a session of its own for her");

    // State changes need the CSRF token, as for any cookie session.
    let pause =
        alice.send("POST", "/hoist/api/v1/queues/emails/pause", None, &[("x-app-user", "alice:operator")]).await;
    assert_eq!(pause.status, StatusCode::FORBIDDEN, "{}", pause.body);
    let pause = alice
        .send(
            "POST",
            "/hoist/api/v1/queues/emails/pause",
            None,
            &[("x-app-user", "alice:operator"), ("x-csrf-token", &csrf)],
        )
        .await;
    assert!(pause.status.is_success(), "{}", pause.body);

    // The host changes her role: Hoist follows on her next request.
    let me = alice.send("GET", "/hoist/api/v1/auth/me", None, &[("x-app-user", "alice:viewer")]).await;
    assert_eq!(me.body["user"]["role"], "viewer", "{}", me.body);
    let refused = alice
        .send(
            "POST",
            "/hoist/api/v1/queues/emails/resume",
            None,
            &[("x-app-user", "alice:viewer"), ("x-csrf-token", me.body["csrf_token"].as_str().unwrap())],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);

    // She signs out of the host: her Hoist session ends too.
    let gone = alice.send("GET", "/hoist/api/v1/auth/me", None, &[]).await;
    assert_eq!(gone.status, StatusCode::UNAUTHORIZED, "{}", gone.body);
    let still_gone = alice.send("GET", "/hoist/api/v1/auth/me", None, &[("x-app-user", "")]).await;
    assert_eq!(still_gone.status, StatusCode::UNAUTHORIZED);

    // The host cannot take over a Hoist password account.
    let mut mallory = common::Client::new(&host, "10.2.0.2:1");
    let taken = mallory.send("GET", "/hoist/api/v1/auth/me", None, &[("x-app-user", "admin:admin")]).await;
    assert_eq!(taken.status, StatusCode::UNAUTHORIZED, "{}", taken.body);

    // Hoist's own sign-in keeps working beside the host's.
    let mut admin = common::Client::new(&host, "10.2.0.3:1");
    let login = admin
        .send("POST", "/hoist/api/v1/auth/login", Some(json!({ "username": "admin", "password": PASSWORD })), &[])
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let me = admin.send("GET", "/hoist/api/v1/auth/me", None, &[]).await;
    assert_eq!(me.body["user"]["username"], "admin", "{}", me.body);
    let users = admin.send("GET", "/hoist/api/v1/users", None, &[]).await;
    let names: Vec<&str> = users.body.as_array().unwrap().iter().filter_map(|u| u["username"].as_str()).collect();
    assert!(names.contains(&"alice"), "the host's user is listed, to disable or audit: {names:?}");
    let audit = admin.send("GET", "/hoist/api/v1/audit?limit=50", None, &[]).await;
    let actions: Vec<(&str, &str)> = audit
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["params"]["role"].as_str().unwrap_or_default()))
        .collect();
    assert!(actions.contains(&("user.host_provision", "operator")), "{actions:?}");
    assert!(actions.contains(&("user.host_role", "viewer")), "{actions:?}");

    // A password session holds while the host names someone else in the same browser.
    let me = admin.send("GET", "/hoist/api/v1/auth/me", None, &[("x-app-user", "bob:viewer")]).await;
    assert_eq!(me.body["user"]["username"], "admin", "{}", me.body);

    // The host sets a host user's role; an admin can disable them, which ends their access.
    let csrf = login.body["csrf_token"].as_str().unwrap().to_string();
    let headers = [("x-csrf-token", csrf.as_str())];
    let promote = admin.send("PATCH", "/hoist/api/v1/users/alice", Some(json!({ "role": "admin" })), &headers).await;
    assert_eq!(promote.status, StatusCode::BAD_REQUEST, "{}", promote.body);
    assert_eq!(promote.body["error"]["field"], "role", "{}", promote.body);
    let disable = admin.send("PATCH", "/hoist/api/v1/users/alice", Some(json!({ "disabled": true })), &headers).await;
    assert!(disable.status.is_success(), "{}", disable.body);
    let mut alice_again = common::Client::new(&host, "10.2.0.4:1");
    let refused = alice_again.send("GET", "/hoist/api/v1/auth/me", None, &[("x-app-user", "alice:operator")]).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
    assert!(alice_again.cookie.is_none(), "no session is started for a disabled account");
}

#[tokio::test]
async fn probes_metrics_and_tokens_never_call_the_host_hook() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let (redis, database, site) = (hoist_testkit::RedisServer::start(), hoist_testkit::sqlite_database(), site_root());
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let hoist = builder(&redis, &database, &site)
        .host_auth(move |_request| {
            counted.fetch_add(1, Ordering::SeqCst);
            async { Some(HostUser::new("carol", Role::Viewer)) }
        })
        .build()
        .await
        .unwrap();
    let host = axum::Router::new().nest("/hoist", hoist.router());
    let mut client = common::Client::new(&host, "10.3.0.1:1");
    for path in ["/hoist/healthz", "/hoist/metrics", "/hoist/pkg/hoist.css"] {
        assert!(client.send("GET", path, None, &[]).await.status.is_success(), "{path}");
    }
    let token = client.send("GET", "/hoist/api/v1/queues", None, &[("authorization", "Bearer nope")]).await;
    assert_eq!(token.status, StatusCode::UNAUTHORIZED);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert!(client.cookie.is_none(), "no session cookie on probes");
    assert_eq!(client.send("GET", "/hoist/api/v1/auth/me", None, &[]).await.status, StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // One start: a second would run every worker twice.
    let running = hoist.start().await.unwrap();
    assert!(hoist.start().await.is_err());
    running.stop().await;
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Welcome {
    to: String,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Sent {
    message_id: String,
}

impl TypedJob for Welcome {
    const NAME: &'static str = "welcome";
    type Output = Sent;
}

async fn send(_ctx: JobContext, job: Welcome) -> Result<Sent, JobError> {
    Ok(Sent { message_id: format!("m-{}", job.to) })
}

#[tokio::test]
async fn the_builder_runs_the_host_handlers_and_refuses_a_queue_given_twice() {
    let (redis, database, site) = (hoist_testkit::RedisServer::start(), hoist_testkit::sqlite_database(), site_root());
    let hoist = builder(&redis, &database, &site)
        .history_days(0)
        .queue("emails", Handlers::new().job(send))
        .build()
        .await
        .unwrap();
    let running = hoist.start().await.unwrap();
    let emails = hoist.queue("emails").unwrap();
    let id = emails.push(&Welcome { to: "bob".into() }).await.unwrap().id;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let job = loop {
        let job = emails.get_job(&id).await.unwrap().unwrap();
        if job.state == JobState::Completed {
            break job;
        }
        assert!(tokio::time::Instant::now() < deadline, "job never completed: {:?}", job.state);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(job.output::<Welcome>().unwrap().unwrap(), Sent { message_id: "m-bob".into() });
    assert!(running.accepting_jobs());
    running.stop().await;

    let twice = builder(&redis, &database, &site)
        .processors([Builtin::Notifications])
        .queue("notifications", Handlers::new().job(send))
        .build()
        .await;
    let error = twice.err().expect("a queue with two sets of handlers is refused").to_string();
    assert!(error.contains("\"notifications\""), "{error}");
    let bad = builder(&redis, &database, &site).queue("no spaces", Handlers::new()).build().await;
    assert!(bad.is_err());
}

/// A live socket of the host's user closes once the host's session ends or changes role.
#[tokio::test]
async fn a_live_socket_ends_with_the_host_session() {
    use futures::StreamExt;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

    let (redis, database, site) = (hoist_testkit::RedisServer::start(), hoist_testkit::sqlite_database(), site_root());
    // The host's sessions: token -> user.
    let sessions: Arc<Mutex<HashMap<String, HostUser>>> = Arc::default();
    let lookup = sessions.clone();
    let hoist = builder(&redis, &database, &site)
        .http(|http| http.live_recheck_seconds = 1)
        .host_auth(move |request| {
            let token = request.headers.get("x-app-session").and_then(|v| v.to_str().ok()).unwrap_or_default();
            let user = lookup.lock().unwrap().get(token).cloned();
            async move { user }
        })
        .build()
        .await
        .unwrap();
    let host = axum::Router::new().nest("/hoist", hoist.router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let limits =
        hoist_server::transport::ServeLimits { header_read_timeout: Duration::from_secs(10), max_connections: 64 };
    tokio::spawn(async move { hoist_server::transport::serve_router(listener, host.clone(), limits).await.unwrap() });

    let open = |token: &'static str, role: Role| {
        let sessions = sessions.clone();
        async move {
            sessions.lock().unwrap().insert(token.into(), HostUser::new(format!("user-{token}"), role));
            let client = reqwest::Client::new();
            let me = client
                .get(format!("http://{addr}/hoist/api/v1/auth/me"))
                .header("x-app-session", token)
                .send()
                .await
                .unwrap();
            assert_eq!(me.status(), 200);
            let cookie = me.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
            let mut request = format!("ws://{addr}/hoist/api/v1/live?topics=counts").into_client_request().unwrap();
            request.headers_mut().insert("cookie", cookie.parse().unwrap());
            request.headers_mut().insert("x-app-session", token.parse().unwrap());
            tokio_tungstenite::connect_async(request).await.unwrap().0
        }
    };
    async fn close_code<S: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin>(
        socket: &mut S,
    ) -> (u16, String) {
        loop {
            match tokio::time::timeout(Duration::from_secs(10), socket.next()).await.expect("closed in time") {
                Some(Ok(Message::Close(Some(frame)))) => return (frame.code.into(), frame.reason.to_string()),
                Some(Ok(_)) => continue,
                other => panic!("socket ended without a close frame: {other:?}"),
            }
        }
    }

    let mut signed_out = open("a", Role::Operator).await;
    let mut demoted = open("b", Role::Operator).await;
    sessions.lock().unwrap().remove("a");
    sessions.lock().unwrap().insert("b".into(), HostUser::new("user-b", Role::Viewer));
    assert_eq!(close_code(&mut signed_out).await, (4003, "no longer allowed: signed out of the application".into()));
    assert_eq!(close_code(&mut demoted).await, (4003, "no longer allowed: role changed to viewer".into()));
}
