//! Transport limits of a real `hoist serve` process: slow clients are cut off at the
//! header-read timeout while others are served, connections past the cap wait until one
//! closes, oversized bodies get the JSON 413 on every route (server functions too), the
//! password gate answers 503 when full, and a stop lets the request in flight finish.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hoist_testkit::{RedisServer, TestDatabase, sqlite_database};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A child process that is killed when dropped, so a failing test leaves none behind.
struct Server {
    child: Child,
    port: u16,
    _redis: RedisServer,
    _database: TestDatabase,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `hoist serve` with these settings, once it answers `/healthz`.
async fn serve(env: &[(&str, &str)]) -> Server {
    let (redis, database, port) = (RedisServer::start(), sqlite_database(), free_port());
    let mut command = Command::new(env!("CARGO_BIN_EXE_hoist"));
    command
        .arg("serve")
        .env("HOIST_PROCESSORS", "all")
        .env("REDIS_URL", redis.url())
        .env("DATABASE_URL", database.url())
        .env("HOIST_ADDR", format!("127.0.0.1:{port}"))
        .env("HOIST_ADMIN_PASSWORD", "admin-password-1")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    let server = Server { child: command.spawn().unwrap(), port, _redis: redis, _database: database };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)).await
            && let Ok(Ok((200, _))) = tokio::time::timeout(Duration::from_secs(2), get(&mut stream, "/healthz")).await
        {
            return server;
        }
        assert!(Instant::now() < deadline, "hoist serve did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn connect(server: &Server) -> TcpStream {
    TcpStream::connect(("127.0.0.1", server.port)).await.unwrap()
}

async fn get(stream: &mut TcpStream, path: &str) -> std::io::Result<(u16, Value)> {
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes()).await?;
    read_response(stream).await
}

/// Reads one response: its status and JSON body (Null if none or not JSON).
async fn read_response(stream: &mut TcpStream) -> std::io::Result<(u16, Value)> {
    let mut buffer = vec![];
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
    let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let length = head
        .lines()
        .find_map(|line| line.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
        .map(|v| v.parse::<usize>().unwrap());
    let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
    let mut body = buffer[head_end..].to_vec();
    loop {
        let done = match length {
            Some(length) => body.len() >= length,
            None if chunked => body.ends_with(b"0\r\n\r\n"),
            None => false,
        };
        if done {
            break;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    if chunked {
        body = dechunk(&body);
    }
    Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = vec![];
    while let Some(line_end) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(std::str::from_utf8(&raw[..line_end]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.extend_from_slice(&raw[line_end + 2..line_end + 2 + size]);
        raw = &raw[line_end + 2 + size + 2..];
    }
    out
}

/// Waits for the server to close `stream` (EOF or reset); how long that took.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Duration {
    let started = Instant::now();
    let mut sink = [0u8; 1024];
    loop {
        match tokio::time::timeout_at((started + limit).into(), stream.read(&mut sink)).await {
            Err(_) => panic!("still open after {limit:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
            // A 408 before the close is fine; keep reading until the close.
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_stalling_in_its_headers_is_cut_off_while_others_are_served() {
    let server = serve(&[("HOIST_HEADER_READ_TIMEOUT", "2")]).await;
    let mut half_headers = connect(&server).await;
    half_headers.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ").await.unwrap();
    let mut silent = connect(&server).await;
    let mut half_preface = connect(&server).await;
    half_preface.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();

    // Meanwhile another client is served at once, on a connection of its own.
    let mut other = connect(&server).await;
    let started = Instant::now();
    let (status, body) = get(&mut other, "/healthz").await.unwrap();
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    assert!(started.elapsed() < Duration::from_secs(1));
    let idle_since = Instant::now();

    for (name, stream) in [("half headers", &mut half_headers), ("silent", &mut silent), ("half h2", &mut half_preface)]
    {
        let took = closed_within(stream, Duration::from_secs(8)).await;
        assert!(took < Duration::from_secs(6), "{name}: closed after {took:?}");
    }
    // An idle keep-alive connection is closed after the same time.
    closed_within(&mut other, Duration::from_secs(8)).await;
    let idle = idle_since.elapsed();
    assert!(idle > Duration::from_millis(1500) && idle < Duration::from_secs(6), "idle for {idle:?}");
    // An HTTP/2 connection (cleartext, prior knowledge) that was served once and then goes
    // quiet is closed too: it must not hold its place under the connection cap forever.
    let mut h2 = connect(&server).await;
    h2.write_all(&h2_get_healthz()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(2), h2.read(&mut answer)).await.unwrap().unwrap();
    assert!(read > 0, "the server answers HTTP/2");
    let took = closed_within(&mut h2, Duration::from_secs(10)).await;
    assert!(took < Duration::from_secs(7), "idle HTTP/2 closed after {took:?}");
    // And the server still serves.
    assert_eq!(get(&mut connect(&server).await, "/healthz").await.unwrap().0, 200);
}

/// An HTTP/2 connection preface, empty SETTINGS, and one `GET /healthz` (HPACK with the
/// static table: :method GET, :scheme http, :path and :authority as literals).
fn h2_get_healthz() -> Vec<u8> {
    let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    bytes.extend([0, 0, 0, 4, 0, 0, 0, 0, 0]); // SETTINGS, empty
    let mut block = vec![0x82, 0x86, 0x44, 8];
    block.extend(b"/healthz");
    block.extend([0x41, 9]);
    block.extend(b"localhost");
    let len = block.len() as u32;
    // HEADERS on stream 1 with END_STREAM | END_HEADERS.
    bytes.extend([(len >> 16) as u8, (len >> 8) as u8, len as u8, 1, 0x05, 0, 0, 0, 1]);
    bytes.extend(block);
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_past_the_cap_is_served_once_another_closes() {
    let server = serve(&[("HOIST_MAX_CONNECTIONS", "4"), ("HOIST_HEADER_READ_TIMEOUT", "60")]).await;
    // Wait for the start-up probe's connection to be closed and its permit freed.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut held = vec![];
    for _ in 0..4 {
        let mut stream = connect(&server).await;
        assert_eq!(get(&mut stream, "/healthz").await.unwrap().0, 200);
        held.push(stream);
    }
    // The fifth connects (the kernel's backlog takes it) but is not served...
    let mut fifth = connect(&server).await;
    fifth.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    let mut byte = [0u8; 1];
    let waited = tokio::time::timeout(Duration::from_millis(1500), fifth.peek(&mut byte)).await;
    assert!(waited.is_err(), "the fifth connection was served while four were open");
    // ... until one of the four closes.
    drop(held.remove(0));
    let (status, _) = tokio::time::timeout(Duration::from_secs(5), read_response(&mut fifth))
        .await
        .expect("served once a place was free")
        .unwrap();
    assert_eq!(status, 200);
    // The others are still open and served.
    for stream in &mut held {
        assert_eq!(get(stream, "/healthz").await.unwrap().0, 200);
    }
}

/// Sends a POST of `size` bytes (declared, or chunked) while reading the answer, which
/// may come before the body is all sent.
async fn post_big(server: &Server, path: &str, size: usize, chunked: bool) -> (u16, Value) {
    let stream = connect(server).await;
    let (mut reader, mut writer) = stream.into_split();
    let length = if chunked { "Transfer-Encoding: chunked".to_string() } else { format!("Content-Length: {size}") };
    let kind = if path.starts_with("/api/v1/") { "application/json" } else { "application/x-www-form-urlencoded" };
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\n\
         Content-Type: {kind}\r\n{length}\r\n\r\n",
        port = server.port
    );
    let sending = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        let block = vec![b'a'; 64 * 1024];
        let mut sent = 0;
        while sent < size {
            let n = block.len().min(size - sent);
            if chunked {
                writer.write_all(format!("{n:x}\r\n").as_bytes()).await?;
                writer.write_all(&block[..n]).await?;
                writer.write_all(b"\r\n").await?;
            } else {
                writer.write_all(&block[..n]).await?;
            }
            sent += n;
        }
        if chunked {
            writer.write_all(b"0\r\n\r\n").await?;
        }
        std::io::Result::Ok(writer)
    });
    let answer = tokio::time::timeout(Duration::from_secs(20), read_half(&mut reader)).await.expect("an answer");
    sending.abort();
    answer
}

/// `read_response` over the read half of a split stream.
async fn read_half(reader: &mut tokio::net::tcp::OwnedReadHalf) -> (u16, Value) {
    let mut buffer = vec![];
    let mut chunk = [0u8; 8192];
    loop {
        let n = reader.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            break;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..at]).to_ascii_lowercase();
            if let Some(length) = head.lines().find_map(|l| l.strip_prefix("content-length:")) {
                if buffer.len() >= at + 4 + length.trim().parse::<usize>().unwrap() {
                    break;
                }
            } else if buffer.ends_with(b"0\r\n\r\n") {
                break;
            }
        }
    }
    let at = buffer.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    let head = String::from_utf8_lossy(&buffer[..at]).to_string();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut body = buffer[at + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_get_the_json_413_on_every_route() {
    let server = serve(&[("HOIST_MAX_BODY_BYTES", "1048576")]).await;
    let two_mib = 2 * 1024 * 1024;
    for (path, chunked) in [
        ("/api/sign_in", false),
        ("/api/sign_in", true),
        ("/api/queue_action", true),
        ("/api/v1/auth/login", false),
        ("/api/v1/auth/login", true),
    ] {
        let (status, body) = post_big(&server, path, two_mib, chunked).await;
        assert_eq!(status, 413, "{path} chunked={chunked}: {body}");
        assert_eq!(body["error"]["code"], "payload_too_large", "{path} chunked={chunked}: {body}");
    }
    // Within the limit, a server function still gets its body.
    let mut stream = connect(&server).await;
    let form = "username=admin&password=wrong-password";
    let request = format!(
        "POST /api/sign_in HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\n\
         Accept: application/json\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\n\r\n{form}",
        form.len(),
        port = server.port
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let (status, body) = read_response(&mut stream).await.unwrap();
    assert!(status != 413 && status < 500, "{status}: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_checks_past_the_gate_get_503_with_retry_after() {
    // One check at once; the requests come through a trusted proxy from many addresses,
    // so neither lockout counter refuses them first.
    let server = serve(&[("HOIST_PASSWORD_CHECKS", "1"), ("HOIST_TRUSTED_PROXIES", "127.0.0.1")]).await;
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{}/api/v1/auth/login", server.port);
    let mut tasks = vec![];
    for i in 0..60 {
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let response = client
                .post(url)
                .header("x-forwarded-for", format!("198.51.100.{i}"))
                .json(&serde_json::json!({ "username": format!("nobody{i}"), "password": "wrong-password" }))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
            let body: Value = response.json().await.unwrap();
            (status, retry_after, body)
        }));
    }
    let mut unavailable = 0;
    for task in tasks {
        let (status, retry_after, body) = task.await.unwrap();
        match status {
            401 => assert_eq!(body["error"]["code"], "bad_credentials"),
            503 => {
                assert_eq!(body["error"]["code"], "unavailable", "{body}");
                assert!(retry_after.is_some_and(|r| r.parse::<u64>().unwrap() >= 1));
                unavailable += 1;
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert!(unavailable > 0, "the gate turned some away");
    // A refused check was not counted as a failed guess: that address may try again.
    let response = client
        .post(&url)
        .header("x-forwarded-for", "198.51.100.250")
        .json(&serde_json::json!({ "username": "admin", "password": "admin-password-1" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_lets_the_request_in_flight_finish() {
    let mut server = serve(&[]).await;
    let body = r#"{"username":"admin","password":"admin-password-1"}"#;
    let mut stream = connect(&server).await;
    let head = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body.as_bytes()[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    tokio::time::sleep(Duration::from_millis(500)).await;
    // No new connections are taken...
    assert!(TcpStream::connect(("127.0.0.1", server.port)).await.is_err(), "still accepting after SIGTERM");
    // ... but the request in flight gets its answer.
    stream.write_all(&body.as_bytes()[10..]).await.unwrap();
    let (status, answer) = read_response(&mut stream).await.unwrap();
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["user"]["username"], "admin");
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the server did not stop");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
