//! The live feed over a real WebSocket: counts and job updates arrive without polling,
//! progress is coalesced, each socket receives only the topics it asked for, and an end
//! user receives only their own jobs.

use crate::common;

use std::net::SocketAddr;
use std::time::Duration;

use futures::StreamExt;
use hoist_queue::{
    CancellationToken, JobOptions, NewJob, Progress, Queue, RedisConnection, Worker, WorkerOptions, handler_fn,
};
use hoist_server::users::{Role, create_user};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The router behind the server's own accept loop (so upgrades go through it too).
async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let limits =
        hoist_server::transport::ServeLimits { header_read_timeout: Duration::from_secs(10), max_connections: 64 };
    tokio::spawn(async move {
        hoist_server::transport::serve_router(listener, app, limits).await.unwrap();
    });
    addr
}

async fn connect(addr: SocketAddr, cookie: &str, topics: Option<&str>) -> Socket {
    let query = topics.map(|t| format!("?topics={t}")).unwrap_or_default();
    let mut request = format!("ws://{addr}/api/v1/live{query}").into_client_request().unwrap();
    request.headers_mut().insert("cookie", cookie.parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let hello = next_messages(&mut socket).await;
    assert_eq!(hello[0]["type"], "hello");
    socket
}

/// The next frame's messages (the hello is one object; batches are arrays).
async fn next_messages(socket: &mut Socket) -> Vec<Value> {
    loop {
        let frame =
            tokio::time::timeout(Duration::from_secs(10), socket.next()).await.expect("a frame").unwrap().unwrap();
        if let Message::Text(text) = frame {
            return match serde_json::from_str::<Value>(&text).unwrap() {
                Value::Array(items) => items,
                one => vec![one],
            };
        }
    }
}

/// Collects messages until `done` says so.
async fn collect_until(socket: &mut Socket, mut done: impl FnMut(&[Value]) -> bool) -> (Vec<Value>, usize) {
    let (mut all, mut frames) = (vec![], 0);
    while !done(&all) {
        all.extend(next_messages(socket).await);
        frames += 1;
    }
    (all, frames)
}

fn progress_handler() -> impl hoist_queue::Handler {
    handler_fn(|ctx| async move {
        for i in 0..=200 {
            ctx.progress(Progress::stage("syncing_transactions").percent(i as f64 / 2.0)).await?;
        }
        Ok(json!(null))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_and_coalesced_progress_reach_the_browser() {
    let t = common::TestApp::start().await;
    let addr = serve(t.app.clone()).await;
    let cookie = t.admin.cookie.clone().unwrap();
    let mut socket = connect(addr, &cookie, Some("counts,queue:live")).await;

    let engine = RedisConnection::connect(&t.redis.url()).await.unwrap();
    let queue = Queue::new(&engine, "live").unwrap();
    queue.register().await.unwrap();
    // Give the hub a moment to find the new queue (it looks every 2 s).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let stop = CancellationToken::new();
    let worker = Worker::new(queue.clone(), progress_handler(), WorkerOptions { concurrency: 1, ..Default::default() });
    let token = stop.clone();
    let running = tokio::spawn(async move { worker.run(token).await.unwrap() });
    let e = queue.enqueue(NewJob::new("crunch", json!({}))).await.unwrap();

    let is_done = |messages: &[Value]| {
        messages.iter().any(|m| m["type"] == "job" && m["id"] == e.id.as_str() && m["event"] == "completed")
    };
    let (messages, frames) = collect_until(&mut socket, is_done).await;
    let counts: Vec<&Value> = messages.iter().filter(|m| m["type"] == "counts" && m["queue"] == "live").collect();
    assert!(!counts.is_empty(), "queue counts were pushed");
    let updates = messages.iter().filter(|m| m["type"] == "job" && m["id"] == e.id.as_str()).count();
    // 201 progress events and 3 state changes; the feed sends at most one per job per window.
    assert!(updates < 60, "coalesced to {updates} updates in {frames} frames");
    let last = messages.iter().rfind(|m| m["type"] == "job" && m["id"] == e.id.as_str()).unwrap();
    assert_eq!(last["event"], "completed");
    assert_eq!(last["progress"]["percent"], 100.0, "the newest progress rides along: {last}");
    stop.cancel();
    running.await.unwrap();
    drop(socket);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_end_user_receives_only_their_own_jobs() {
    let t = common::TestApp::start().await;
    let ulla = create_user(&t.db, "ulla", "ulla-password", Role::User).await.unwrap();
    let addr = serve(t.app.clone()).await;
    let (user, _) = t.client("ulla", "ulla-password", "10.5.0.2:1").await;
    let mut socket = connect(addr, user.cookie.as_deref().unwrap(), None).await;

    let engine = RedisConnection::connect(&t.redis.url()).await.unwrap();
    let queue = Queue::new(&engine, "mine").unwrap();
    queue.register().await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let owned = |owner: &str| {
        NewJob::new("sync", json!({})).with_options(JobOptions { owner: Some(owner.to_string()), ..Default::default() })
    };
    let theirs = queue.enqueue(owned("999")).await.unwrap();
    let mine = queue.enqueue(owned(&ulla.to_string())).await.unwrap();
    let stop = CancellationToken::new();
    let worker = Worker::new(queue.clone(), progress_handler(), WorkerOptions { concurrency: 2, ..Default::default() });
    let token = stop.clone();
    let running = tokio::spawn(async move { worker.run(token).await.unwrap() });

    let (messages, _) = collect_until(&mut socket, |messages| {
        messages.iter().any(|m| m["type"] == "job" && m["id"] == mine.id.as_str() && m["event"] == "completed")
    })
    .await;
    // Wait until the other job is done too, then drain anything still on the way.
    for _ in 0..200 {
        if queue.counts().await.unwrap().completed == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let mut rest = vec![];
    while let Ok(Some(Ok(Message::Text(text)))) = tokio::time::timeout(Duration::from_millis(600), socket.next()).await
    {
        rest.extend(serde_json::from_str::<Vec<Value>>(&text).unwrap());
    }
    let all: Vec<&Value> = messages.iter().chain(rest.iter()).collect();
    assert!(all.iter().all(|m| m["type"] != "counts"), "no queue counts for end users");
    assert!(all.iter().all(|m| m["id"] != theirs.id.as_str()), "never another user's job");
    assert!(all.iter().any(|m| m["progress"].is_object() && m["id"] == mine.id.as_str()));
    stop.cancel();
    running.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_socket_receives_only_its_topics() {
    let t = common::TestApp::start().await;
    let addr = serve(t.app.clone()).await;
    let cookie = t.admin.cookie.clone().unwrap();
    let engine = RedisConnection::connect(&t.redis.url()).await.unwrap();
    let queue = Queue::new(&engine, "topics").unwrap();
    queue.register().await.unwrap();
    let mut counts_only = connect(addr, &cookie, Some("counts")).await;
    let watched = queue.enqueue(NewJob::new("watched", json!({}))).await.unwrap();
    let mut one_job = connect(addr, &cookie, Some(&format!("job:topics/{}", watched.id))).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let stop = CancellationToken::new();
    let worker = Worker::new(queue.clone(), progress_handler(), WorkerOptions { concurrency: 3, ..Default::default() });
    let token = stop.clone();
    let running = tokio::spawn(async move { worker.run(token).await.unwrap() });
    for i in 0..5 {
        queue.enqueue(NewJob::new("other", json!({ "i": i }))).await.unwrap();
    }

    let (job_messages, _) = collect_until(&mut one_job, |messages| {
        messages.iter().any(|m| m["id"] == watched.id.as_str() && m["event"] == "completed")
    })
    .await;
    assert!(job_messages.iter().all(|m| m["type"] == "job" && m["id"] == watched.id.as_str()), "{job_messages:?}");
    for _ in 0..200 {
        if queue.counts().await.unwrap().completed == 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let (count_messages, _) = collect_until(&mut counts_only, |messages| {
        messages.iter().any(|m| m["queue"] == "topics" && m["counts"]["completed"] == 6)
    })
    .await;
    assert!(count_messages.iter().all(|m| m["type"] == "counts"), "{count_messages:?}");
    let newest = count_messages.last().unwrap();
    assert!(newest["at"].as_i64().unwrap() > 0, "counts carry their newest event's time: {newest}");
    stop.cancel();
    running.await.unwrap();
}

#[tokio::test]
async fn a_bad_topic_is_refused_naming_the_field() {
    let t = common::TestApp::start().await;
    let addr = serve(t.app.clone()).await;
    let mut request = format!("ws://{addr}/api/v1/live?topics=everything").into_client_request().unwrap();
    request.headers_mut().insert("cookie", t.admin.cookie.clone().unwrap().parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 400);
            let body: Value = serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
            assert_eq!(body["error"]["field"], "topics", "{body}");
        }
        other => panic!("expected 400, got {other:?}"),
    }
}

/// Opens the live feed with these headers; the server's refusal as (status, JSON body).
async fn open(addr: SocketAddr, headers: &[(&str, &str)]) -> Result<Socket, (u16, Value)> {
    let mut request = format!("ws://{addr}/api/v1/live").into_client_request().unwrap();
    for (name, value) in headers {
        request
            .headers_mut()
            .insert(axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((mut socket, _)) => {
            assert_eq!(next_messages(&mut socket).await[0]["type"], "hello");
            Ok(socket)
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let body = response.body().as_deref().map(|b| serde_json::from_slice(b).unwrap()).unwrap_or(Value::Null);
            Err((response.status().as_u16(), body))
        }
        Err(other) => panic!("connecting failed: {other}"),
    }
}

/// Waits for the server's close frame: (code, reason).
async fn closed(socket: &mut Socket, within: Duration) -> (u16, String) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let frame =
            tokio::time::timeout_at(deadline, socket.next()).await.expect("the server closes the socket in time");
        match frame {
            Some(Ok(Message::Close(Some(frame)))) => return (u16::from(frame.code), frame.reason.to_string()),
            Some(Ok(Message::Close(None))) | None => panic!("closed without a reason"),
            Some(Ok(_)) => {}
            Some(Err(error)) => panic!("socket failed before its close frame: {error}"),
        }
    }
}

/// An app whose sockets re-check their credentials every second.
async fn quick_recheck(settings: &[&str]) -> common::TestApp {
    let mut all = vec!["--live-recheck-seconds", "1"];
    all.extend_from_slice(settings);
    common::TestApp::start_with(hoist_testkit::sqlite_database(), &all).await
}

#[tokio::test]
async fn a_cross_site_origin_is_refused_and_the_own_site_or_none_is_served() {
    let t = quick_recheck(&["--allowed-origins", "https://admin.example"]).await;
    let addr = serve(t.app.clone()).await;
    let cookie = t.admin.cookie.clone().unwrap();
    let own = format!("http://{addr}");
    for origin in ["http://evil.example", "http://127.0.0.1:1", "null", "https://admin.example.evil"] {
        let (status, body) = open(addr, &[("cookie", &cookie), ("origin", origin)]).await.expect_err(origin);
        assert_eq!(status, 403, "{origin}: {body}");
        assert_eq!(body["error"]["code"], "forbidden", "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains(origin), "{body}");
    }
    // Refused before the credentials are even looked at.
    let (status, _) = open(addr, &[("origin", "http://evil.example")]).await.err().unwrap();
    assert_eq!(status, 403);
    for origin in [own.as_str(), "https://admin.example"] {
        open(addr, &[("cookie", &cookie), ("origin", origin)]).await.expect(origin);
    }
    // A non-browser client sends no Origin.
    open(addr, &[("cookie", &cookie)]).await.expect("no origin");
}

#[tokio::test]
async fn refusals_answer_with_the_api_error_body() {
    let t = quick_recheck(&[]).await;
    let addr = serve(t.app.clone()).await;
    let (status, body) = open(addr, &[]).await.err().unwrap();
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unauthenticated")), "{body}");
    let (status, body) = open(addr, &[("authorization", "Bearer nope")]).await.err().unwrap();
    assert_eq!(status, 401, "{body}");
    // A plain GET (no upgrade) from a signed-in client.
    let mut admin = common::Client::new(&t.app, "10.1.0.1:1");
    admin.cookie = t.admin.cookie.clone();
    let r = admin.send("GET", "/api/v1/live", None, &[]).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["error"]["code"], "invalid");
    assert_eq!(r.body["error"]["field"], "upgrade");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_is_closed_when_its_session_ends() {
    let t = quick_recheck(&[]).await;
    for name in ["vera", "otto", "pia", "ursula"] {
        create_user(&t.db, name, "a-long-password", Role::Viewer).await.unwrap();
    }
    let addr = serve(t.app.clone()).await;
    let mut sockets = vec![];
    let mut clients = vec![];
    for (i, name) in ["vera", "otto", "pia", "ursula"].into_iter().enumerate() {
        let (client, csrf) = t.client(name, "a-long-password", &format!("10.2.0.{}:1", i + 1)).await;
        sockets.push(open(addr, &[("cookie", client.cookie.as_deref().unwrap())]).await.unwrap());
        clients.push((client, csrf));
    }
    let started = std::time::Instant::now();
    // vera signs out; otto is disabled; pia becomes an end user; ursula's password changes.
    let (vera, csrf) = &mut clients[0];
    assert_eq!(vera.send("POST", "/api/v1/auth/logout", None, &[("x-csrf-token", csrf)]).await.status, 204);
    hoist_server::users::set_disabled(&t.db, "otto", true).await.unwrap();
    sqlx::query("UPDATE users SET role = 'user' WHERE username = 'pia'").execute(&t.db.pool).await.unwrap();
    hoist_server::users::set_password(&t.db, "ursula", "another-long-password").await.unwrap();

    let expected = [
        (4001, "session ended"),
        (4003, "no longer allowed: user disabled"),
        (4003, "no longer allowed: role changed to user"),
        (4001, "session ended: password changed"),
    ];
    for (socket, (code, reason)) in sockets.iter_mut().zip(expected) {
        assert_eq!(closed(socket, Duration::from_secs(5)).await, (code, reason.to_string()));
    }
    assert!(started.elapsed() < Duration::from_secs(5), "closed within a few seconds: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_socket_is_closed_when_the_token_is_revoked() {
    let t = quick_recheck(&[]).await;
    let addr = serve(t.app.clone()).await;
    let admin_id: i64 =
        sqlx::query_scalar("SELECT id FROM users WHERE username = 'admin'").fetch_one(&t.db.pool).await.unwrap();
    sqlx::query(
        r#"INSERT INTO api_tokens (user_id, name, token_hash, scopes, created_at) VALUES ($1, 'feed', $2, '["jobs:read"]', 0)"#,
    )
    .bind(admin_id)
    .bind(hoist_server::auth::token_hash("hoist_live_token"))
    .execute(&t.db.pool)
    .await
    .unwrap();
    let mut socket = open(addr, &[("authorization", "Bearer hoist_live_token")]).await.unwrap();
    // Still open after a re-check or two.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    sqlx::query("UPDATE api_tokens SET revoked_at = 1").execute(&t.db.pool).await.unwrap();
    assert_eq!(closed(&mut socket, Duration::from_secs(5)).await, (4001, "session ended: token revoked".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_per_user_are_capped() {
    let t = quick_recheck(&["--max-sockets-per-user", "2"]).await;
    create_user(&t.db, "vera", "a-long-password", Role::Viewer).await.unwrap();
    let addr = serve(t.app.clone()).await;
    let cookie = t.admin.cookie.clone().unwrap();
    let first = open(addr, &[("cookie", &cookie)]).await.unwrap();
    let _second = open(addr, &[("cookie", &cookie)]).await.unwrap();
    let (status, body) = open(addr, &[("cookie", &cookie)]).await.err().unwrap();
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited");
    // The cap is per user: another user still gets theirs.
    let (vera, _) = t.client("vera", "a-long-password", "10.3.0.1:1").await;
    open(addr, &[("cookie", vera.cookie.as_deref().unwrap())]).await.unwrap();
    // Closing one frees its place.
    drop(first);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match open(addr, &[("cookie", &cookie)]).await {
            Ok(_) => break,
            Err((429, _)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(other) => panic!("{other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_socket_holds_its_connection_place() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let t = quick_recheck(&[]).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let limits =
        hoist_server::transport::ServeLimits { header_read_timeout: Duration::from_secs(30), max_connections: 2 };
    tokio::spawn(hoist_server::transport::serve_router(listener, t.app.clone(), limits));
    let cookie = t.admin.cookie.clone().unwrap();
    let first = open(addr, &[("cookie", &cookie)]).await.unwrap();
    let _second = open(addr, &[("cookie", &cookie)]).await.unwrap();
    // Both places are taken by sockets (upgraded, no longer HTTP): a third client waits.
    let mut third = tokio::net::TcpStream::connect(addr).await.unwrap();
    third.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    let mut buffer = [0u8; 256];
    let waited = tokio::time::timeout(Duration::from_millis(1000), third.read(&mut buffer)).await;
    assert!(waited.is_err(), "served while two sockets held both places");
    drop(first);
    let n = tokio::time::timeout(Duration::from_secs(5), third.read(&mut buffer)).await.expect("served").unwrap();
    assert!(String::from_utf8_lossy(&buffer[..n]).starts_with("HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buffer));
}
