//! The hostile-input suite (issue 15): a real `hoist serve` process on its own Redis and
//! SQLite, attacked the way a hostile client would — missing, forged and stolen
//! credentials, cross-site requests, other users' objects, options end users may not
//! choose, oversized, malformed and extreme input, control and invisible characters in
//! names, path tricks, unknown routes and slow clients.
//!
//! Every case is a named check with the outcome the security contract promises. All cases
//! run even when some fail; each failure is printed with its name and what was seen, and
//! the last line is `N passed, M failed`. Afterwards the server must still answer
//! `/healthz` and still be running.
//!
//! `cargo test -p hoist --test integration hostile_suite -- --nocapture`

// The case builders take a case's parts in the order a row of the table reads (category,
// name, caller, method, path, body, expected), and a few tables hold header makers.
#![allow(clippy::too_many_arguments, clippy::type_complexity)]

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use hoist_server::db::Db;
use hoist_testkit::{RedisServer, TestDatabase, sqlite_database};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;
type Outcome = Result<(), String>;

const ADMIN_PASSWORD: &str = "admin-Passw0rd-hostile";
const MAX_BODY: usize = 1_048_576;
const HEADER_READ_TIMEOUT: u64 = 2;
const LIVE_RECHECK: u64 = 1;
const REQUEST_TIMEOUT: u64 = 5;
const MAX_SOCKETS_PER_USER: usize = 4;
const ALLOWED_ORIGIN: &str = "https://dash.example.com";
const BUILTIN_SCHEDULES: &str = "categorize-transactions,sync-all-organisations,purge-expired-sessions,\
                                 refresh-consents,prune-history,vacuum-database";
const HOUR_MS: u64 = 3_600_000;
const DAY_MS: u64 = 24 * HOUR_MS;
const EVIL: &str = "https://evil.example";

fn password_of(name: &str) -> String {
    format!("{name}-Passw0rd-hostile")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

// ---------------------------------------------------------------------------------------
// The server process
// ---------------------------------------------------------------------------------------

/// `hoist serve`, killed when dropped.
struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Server {
    fn start(redis: &RedisServer, database: &TestDatabase, dir: &std::path::Path) -> Server {
        let port = free_port();
        let log = dir.join("serve.log");
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_hoist"))
            .arg("serve")
            .env("HOIST_PROCESSORS", "all")
            .env("REDIS_URL", redis.url())
            .env("DATABASE_URL", database.url())
            .env("HOIST_DATA_DIR", dir.join("data"))
            .env("HOIST_OUTBOX_DIR", dir.join("outbox"))
            .env("HOIST_ADDR", format!("127.0.0.1:{port}"))
            .env("HOIST_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("HOIST_INSECURE_COOKIES", "true")
            .env("HOIST_MAX_BODY_BYTES", MAX_BODY.to_string())
            .env("HOIST_HEADER_READ_TIMEOUT", HEADER_READ_TIMEOUT.to_string())
            .env("HOIST_REQUEST_TIMEOUT", REQUEST_TIMEOUT.to_string())
            .env("HOIST_ALLOWED_ORIGINS", ALLOWED_ORIGIN)
            .env("HOIST_DISABLED_SCHEDULES", BUILTIN_SCHEDULES.replace(' ', ""))
            .env("HOIST_LIVE_RECHECK_SECONDS", LIVE_RECHECK.to_string())
            .env("HOIST_MAX_SOCKETS_PER_USER", MAX_SOCKETS_PER_USER.to_string())
            .env("RUST_LOG", "warn")
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        Server { child, port, log }
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut start = text.len().saturating_sub(4000);
        while !text.is_char_boundary(start) {
            start += 1;
        }
        text[start..].to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `hoist <args>` as a child process on the same Redis and database.
struct Cli {
    redis_url: String,
    database_url: String,
    data_dir: PathBuf,
}

impl Cli {
    async fn run(&self, args: &[&str]) -> (bool, String, String) {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_hoist"))
            .args(args)
            .env("REDIS_URL", &self.redis_url)
            .env("DATABASE_URL", &self.database_url)
            .env("HOIST_DATA_DIR", &self.data_dir)
            .env("RUST_LOG", "warn")
            .env_remove("HOIST_NEW_PASSWORD")
            .stdin(Stdio::null())
            .output()
            .await;
        match output {
            Ok(out) => (
                out.status.success(),
                String::from_utf8_lossy(&out.stdout).to_string(),
                String::from_utf8_lossy(&out.stderr).to_string(),
            ),
            Err(e) => (false, String::new(), format!("could not run hoist: {e}")),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Answers and what a case expects of them
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    ctype: String,
    body: String,
    json: Option<Value>,
}

impl Resp {
    fn new(status: u16, headers: Vec<(String, String)>, body: Vec<u8>) -> Resp {
        let ctype = headers.iter().find(|(k, _)| k == "content-type").map(|(_, v)| v.clone()).unwrap_or_default();
        let body = String::from_utf8_lossy(&body).to_string();
        let json = serde_json::from_str(&body).ok();
        Resp { status, headers, ctype, body, json }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn seen(&self) -> String {
        let body: String = self.body.chars().take(300).collect();
        let more = if self.body.chars().count() > 300 { "…" } else { "" };
        let ctype = if self.ctype.is_empty() { "no content-type" } else { self.ctype.as_str() };
        format!("{} [{ctype}] {body}{more}", self.status)
    }

    fn j(&self) -> Value {
        self.json.clone().unwrap_or(Value::Null)
    }
}

fn codes_for(status: u16) -> &'static [&'static str] {
    match status {
        400 => &["invalid"],
        401 => &["unauthenticated", "bad_credentials"],
        403 => &["forbidden"],
        404 => &["not_found"],
        405 => &["method_not_allowed"],
        409 => &["conflict"],
        413 => &["payload_too_large"],
        429 => &["rate_limited"],
        503 => &["unavailable"],
        _ => &[],
    }
}

/// `{"error": {"code", "message", ...}}` with `Content-Type: application/json`.
fn error_shape(r: &Resp) -> Result<Value, String> {
    if !r.ctype.starts_with("application/json") {
        return Err(format!("error answer is not JSON: {}", r.seen()));
    }
    let error =
        r.json.as_ref().and_then(|j| j.get("error")).ok_or_else(|| format!("no `error` object: {}", r.seen()))?;
    let code = error.get("code").and_then(Value::as_str).ok_or_else(|| format!("no error.code: {}", r.seen()))?;
    let message = error.get("message").and_then(Value::as_str).unwrap_or_default();
    if message.is_empty() {
        return Err(format!("no error.message: {}", r.seen()));
    }
    let expected = codes_for(r.status);
    if !expected.is_empty() && !expected.contains(&code) {
        return Err(format!(
            "status {} with code {code:?} (expected {}): {}",
            r.status,
            expected.join(" or "),
            r.seen()
        ));
    }
    Ok(error.clone())
}

fn expect_status(r: &Resp, status: u16) -> Outcome {
    if r.status == status { Ok(()) } else { Err(format!("expected {status}, got {}", r.seen())) }
}

/// An error answer with this status and the API's error body.
fn expect_error(r: &Resp, status: u16) -> Result<Value, String> {
    if r.status != status {
        return Err(format!("expected {status}, got {}", r.seen()));
    }
    error_shape(r)
}

/// An error answer with one of these statuses and the API's error body.
fn expect_error_in(r: &Resp, statuses: &[u16]) -> Result<Value, String> {
    if !statuses.contains(&r.status) {
        let list: Vec<String> = statuses.iter().map(u16::to_string).collect();
        return Err(format!("expected {}, got {}", list.join("/"), r.seen()));
    }
    error_shape(r)
}

fn normalize_field(field: &str) -> String {
    field.replace('[', ".").replace(']', "").replace('/', ".")
}

/// `got` names `want`: the same, or one is a dotted suffix of the other
/// (`options.priority` ~ `priority`, `jobs[0].options.priority` ~ `options.priority`).
fn field_matches(got: &str, wants: &[&str]) -> bool {
    let got = normalize_field(got);
    wants.iter().any(|want| {
        let want = normalize_field(want);
        got == want || got.ends_with(&format!(".{want}")) || want.ends_with(&format!(".{got}"))
    })
}

/// 400 `invalid` whose `field` names one of `fields`.
fn expect_invalid(r: &Resp, fields: &[&str]) -> Outcome {
    let error = expect_error(r, 400)?;
    match error.get("field").and_then(Value::as_str) {
        Some(field) if field_matches(field, fields) => Ok(()),
        Some(field) => Err(format!("400 names field {field:?}, expected {}: {}", fields.join(" or "), r.seen())),
        None => Err(format!("400 without `field` (expected {}): {}", fields.join(" or "), r.seen())),
    }
}

/// 403 naming `field` (in `error.field` or the message).
fn expect_forbidden_naming(r: &Resp, fields: &[&str]) -> Outcome {
    let error = expect_error(r, 403)?;
    if let Some(field) = error.get("field").and_then(Value::as_str)
        && field_matches(field, fields)
    {
        return Ok(());
    }
    let message = error.get("message").and_then(Value::as_str).unwrap_or_default();
    if fields.iter().any(|f| message.contains(f)) {
        return Ok(());
    }
    Err(format!("403 does not name {}: {}", fields.join(" or "), r.seen()))
}

/// A success with exactly this status and a JSON body (or none, for 204).
fn expect_success(r: &Resp, status: u16) -> Result<Value, String> {
    if r.status != status {
        return Err(format!("expected {status}, got {}", r.seen()));
    }
    if status != 204 && r.json.is_none() {
        return Err(format!("{status} without a JSON body: {}", r.seen()));
    }
    Ok(r.j())
}

/// Either a 200 or a 400 naming one of `fields`; never anything else.
fn expect_ok_or_invalid(r: &Resp, fields: &[&str]) -> Outcome {
    if r.status == 200 { Ok(()) } else { expect_invalid(r, fields) }
}

/// A 2xx or 3xx answer (a server function answering a form post may redirect).
fn expect_accepted_form(r: &Resp) -> Outcome {
    if (200..400).contains(&r.status) { Ok(()) } else { Err(format!("expected 2xx/3xx, got {}", r.seen())) }
}

fn enc(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn decode_chunked(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = vec![];
    loop {
        let line_end = find(data, b"\r\n")?;
        let size_text = String::from_utf8_lossy(&data[..line_end]).to_string();
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        if data.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// A complete HTTP/1.1 answer in `buf`, if there is one yet.
fn parse_http(buf: &[u8], eof: bool) -> Option<Resp> {
    let end = find(buf, b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let get = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let rest = &buf[end + 4..];
    let body = if (100..200).contains(&status) || status == 204 || status == 304 {
        vec![]
    } else if get("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        decode_chunked(rest)?
    } else if let Some(length) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        if rest.len() < length {
            return None;
        }
        rest[..length].to_vec()
    } else if eof {
        rest.to_vec()
    } else {
        return None;
    };
    Some(Resp::new(status, headers, body))
}

/// Reads until the stream is closed (EOF or reset) or `deadline`; Ok when closed.
async fn closed_by(stream: &mut TcpStream, deadline: Instant) -> Result<Vec<u8>, String> {
    let mut seen = vec![];
    let mut buf = [0u8; 4096];
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Err(format!("connection still open (got {} bytes)", seen.len()));
        }
        match tokio::time::timeout(deadline - now, stream.read(&mut buf)).await {
            Err(_) => return Err(format!("connection still open (got {} bytes)", seen.len())),
            Ok(Ok(0)) | Ok(Err(_)) => return Ok(seen),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The environment every case runs against
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Actor {
    id: i64,
    /// `hoist_session=...`
    cookie: String,
    csrf: String,
}

#[derive(Clone, Debug)]
struct Token {
    secret: String,
    id: i64,
}

/// Who sends a request.
#[derive(Clone, Debug)]
#[allow(dead_code)]
enum Who {
    Anon,
    /// A session with its CSRF token.
    S(&'static str),
    /// A session without the CSRF header.
    SNoCsrf(&'static str),
    /// A session with this CSRF header.
    SCsrf(&'static str, String),
    /// An API token (by its setup name).
    T(&'static str),
    /// Exactly these headers.
    H(Vec<(String, String)>),
}

#[derive(Clone, Debug)]
enum Body {
    None,
    Json(Value),
    Raw(&'static str, Vec<u8>),
}

struct Env {
    port: u16,
    base: String,
    /// `http://127.0.0.1:PORT`: the server's own origin.
    origin: String,
    http: reqwest::Client,
    db: Db,
    cli: Cli,
    actors: HashMap<String, Actor>,
    tokens: HashMap<String, Token>,
    alice_conn: i64,
    bob_conn: i64,
    /// Waiting jobs of the admin in queue `scratch` (no worker runs it).
    scratch_jobs: Vec<String>,
    /// Delayed `monthly` jobs of alice and bob in queue `exports`.
    alice_job: String,
    bob_job: String,
    /// Every 5xx answer seen, by any case.
    fives: Mutex<Vec<String>>,
    /// The server's stdout and stderr.
    log: PathBuf,
}

impl Env {
    fn actor(&self, name: &str) -> Result<&Actor, String> {
        self.actors.get(name).ok_or_else(|| format!("setup: {name} could not sign in"))
    }

    fn token(&self, name: &str) -> Result<&Token, String> {
        self.tokens.get(name).ok_or_else(|| format!("setup: token {name} could not be created"))
    }

    fn id_of(&self, name: &str) -> String {
        self.actors.get(name).map(|a| a.id.to_string()).unwrap_or_else(|| "0".into())
    }

    fn req(&self, method: &str, path: &str) -> reqwest::RequestBuilder {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        self.http.request(method, format!("{}{path}", self.base))
    }

    fn with_who(&self, rb: reqwest::RequestBuilder, who: &Who) -> Result<reqwest::RequestBuilder, String> {
        Ok(match who {
            Who::Anon => rb,
            Who::S(n) => {
                let a = self.actor(n)?;
                rb.header("cookie", &a.cookie).header("x-csrf-token", &a.csrf)
            }
            Who::SNoCsrf(n) => rb.header("cookie", &self.actor(n)?.cookie),
            Who::SCsrf(n, csrf) => rb.header("cookie", &self.actor(n)?.cookie).header("x-csrf-token", csrf.as_str()),
            Who::T(n) => rb.header("authorization", format!("Bearer {}", self.token(n)?.secret)),
            Who::H(headers) => headers.iter().fold(rb, |rb, (k, v)| rb.header(k.as_str(), v.as_str())),
        })
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> Result<Resp, String> {
        let request = rb.build().map_err(|e| format!("building the request: {e}"))?;
        let what = format!("{} {}", request.method(), request.url().path());
        let response = self.http.execute(request).await.map_err(|e| {
            // The causes say whether the server dropped the connection (a panicking handler).
            let mut text = format!("{what}: no answer: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                text.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            text
        })?;
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).to_string()))
            .collect();
        let body = response.bytes().await.map_err(|e| format!("{what}: reading the body: {e}"))?;
        let resp = Resp::new(status, headers, body.to_vec());
        if status >= 500 {
            self.fives.lock().unwrap().push(format!("{what} → {}", resp.seen()));
        }
        Ok(resp)
    }

    async fn call(&self, who: &Who, method: &str, path: &str, body: Body) -> Result<Resp, String> {
        let rb = self.with_who(self.req(method, path), who)?;
        let rb = match body {
            Body::None => rb,
            Body::Json(v) => rb.header("content-type", "application/json").body(v.to_string()),
            Body::Raw(ctype, bytes) => {
                let rb = if ctype.is_empty() { rb } else { rb.header("content-type", ctype) };
                rb.body(bytes)
            }
        };
        self.send(rb).await
    }

    async fn get(&self, who: &Who, path: &str) -> Result<Resp, String> {
        self.call(who, "GET", path, Body::None).await
    }

    async fn post(&self, who: &Who, path: &str, body: Value) -> Result<Resp, String> {
        self.call(who, "POST", path, Body::Json(body)).await
    }

    /// A Leptos server function, POSTed form-encoded as a browser without JavaScript would.
    async fn server_fn(
        &self,
        name: &str,
        form: &[(&str, &str)],
        cookie: Option<&str>,
        headers: &[(&str, String)],
    ) -> Result<Resp, String> {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        self.server_fn_raw(name, body.into_bytes(), cookie, headers).await
    }

    async fn server_fn_raw(
        &self,
        name: &str,
        body: Vec<u8>,
        cookie: Option<&str>,
        headers: &[(&str, String)],
    ) -> Result<Resp, String> {
        let mut rb =
            self.req("POST", &format!("/api/{name}")).header("content-type", "application/x-www-form-urlencoded");
        if let Some(cookie) = cookie {
            rb = rb.header("cookie", cookie);
        }
        for (k, v) in headers {
            rb = rb.header(*k, v.as_str());
        }
        self.send(rb.body(body)).await
    }

    /// One raw HTTP/1.1 exchange; `None` when the server closed without answering.
    async fn raw(&self, request: &[u8], wait: Duration) -> Result<Option<Resp>, String> {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).await.map_err(|e| format!("connecting: {e}"))?;
        // Written while the answer is read: the server may answer (413, 431) and close before
        // all is written, and the answer must be read before the connection is reset.
        let (mut stream, mut writer) = stream.into_split();
        let request = request.to_vec();
        let writing = tokio::spawn(async move {
            let _ = writer.write_all(&request).await;
            // Keep the write side open until the answer is read (no early FIN).
            std::future::pending::<()>().await;
            drop(writer);
        });
        let _writing = AbortOnDrop(writing);
        let deadline = Instant::now() + wait;
        let mut buf = vec![];
        let mut chunk = vec![0u8; 65536];
        loop {
            if let Some(resp) = parse_http(&buf, false) {
                return Ok(Some(self.note(resp)));
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(format!("no complete answer within {wait:?} (got {} bytes)", buf.len()));
            }
            match tokio::time::timeout(deadline - now, stream.read(&mut chunk)).await {
                Err(_) => return Err(format!("no complete answer within {wait:?} (got {} bytes)", buf.len())),
                Ok(Ok(0)) | Ok(Err(_)) => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    return parse_http(&buf, true)
                        .map(|r| Some(self.note(r)))
                        .ok_or_else(|| format!("unparseable answer: {}", String::from_utf8_lossy(&buf)));
                }
                Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    fn note(&self, resp: Resp) -> Resp {
        if resp.status >= 500 {
            self.fives.lock().unwrap().push(format!("(raw) → {}", resp.seen()));
        }
        resp
    }

    fn raw_request(&self, method: &str, path: &str, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
        let mut out =
            format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n", self.port).into_bytes();
        for (k, v) in headers {
            out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
        if !body.is_empty() {
            out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        out
    }

    fn session_headers(&self, name: &str) -> Result<Vec<(&'static str, String)>, String> {
        let a = self.actor(name)?;
        Ok(vec![("Cookie", a.cookie.clone()), ("x-csrf-token", a.csrf.clone())])
    }

    async fn raw_get(&self, path: &str, headers: &[(&str, String)]) -> Result<Resp, String> {
        let request = self.raw_request("GET", path, headers, b"");
        self.raw(&request, Duration::from_secs(10)).await?.ok_or_else(|| "closed without an answer".to_string())
    }

    /// A WebSocket handshake over raw HTTP, to read a refusal's status and body.
    async fn ws_handshake_raw(&self, query: &str, headers: &[(&str, String)]) -> Result<Resp, String> {
        let mut all: Vec<(&str, String)> = vec![
            ("Upgrade", "websocket".into()),
            ("Sec-WebSocket-Version", "13".into()),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==".into()),
        ];
        all.extend(headers.iter().cloned());
        let mut request =
            format!("GET /api/v1/live{query} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: Upgrade\r\n", self.port)
                .into_bytes();
        for (k, v) in &all {
            request.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
        request.extend_from_slice(b"\r\n");
        self.raw(&request, Duration::from_secs(10)).await?.ok_or_else(|| "closed without an answer".to_string())
    }

    async fn ws_open(&self, query: &str, headers: Vec<(&'static str, String)>) -> Result<Socket, String> {
        let mut request = format!("ws://127.0.0.1:{}/api/v1/live{query}", self.port)
            .into_client_request()
            .map_err(|e| format!("ws request: {e}"))?;
        for (name, value) in headers {
            request.headers_mut().insert(name, value.parse().map_err(|e| format!("header {name}: {e}"))?);
        }
        let (mut socket, _) =
            match tokio::time::timeout(Duration::from_secs(10), tokio_tungstenite::connect_async(request)).await {
                Err(_) => return Err("WebSocket handshake timed out".into()),
                Ok(Err(tokio_tungstenite::tungstenite::Error::Http(response))) => {
                    let body = response.body().as_ref().map(|b| String::from_utf8_lossy(b).to_string());
                    return Err(format!("handshake refused: {} {}", response.status(), body.unwrap_or_default()));
                }
                Ok(Err(e)) => return Err(format!("handshake failed: {e}")),
                Ok(Ok(pair)) => pair,
            };
        let hello = ws_next_json(&mut socket, Duration::from_secs(5)).await?;
        let first = match &hello {
            Value::Array(items) => items.first().cloned().unwrap_or(Value::Null),
            other => other.clone(),
        };
        if first["type"] != "hello" {
            return Err(format!("first message is not the hello: {hello}"));
        }
        Ok(socket)
    }

    async fn poll_job(&self, who: &Who, queue: &str, id: &str, wait: Duration) -> Result<Value, String> {
        let deadline = Instant::now() + wait;
        let mut last = Value::Null;
        while Instant::now() < deadline {
            let r = self.get(who, &format!("/api/v1/queues/{queue}/jobs/{id}")).await?;
            if r.status != 200 {
                return Err(format!("reading job {id}: {}", r.seen()));
            }
            last = r.j();
            if matches!(last["state"].as_str(), Some("completed" | "dead" | "cancelled")) {
                return Ok(last);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(format!("job {id} still {} after {wait:?} (last error: {})", last["state"], last["last_error"]))
    }

    async fn paused(&self, queue: &str) -> Result<bool, String> {
        let r = self.get(&Who::S("admin"), &format!("/api/v1/queues/{queue}/health")).await?;
        expect_success(&r, 200)?;
        r.j()["paused"].as_bool().ok_or_else(|| format!("no `paused` in {}", r.seen()))
    }

    async fn resume(&self, queue: &str) -> Outcome {
        let r = self.call(&Who::S("admin"), "POST", &format!("/api/v1/queues/{queue}/resume"), Body::None).await?;
        expect_status(&r, 200)
    }

    async fn session_alive(&self, name: &str) -> Result<bool, String> {
        let r = self.get(&Who::SNoCsrf(leak(name)), "/api/v1/auth/me").await?;
        Ok(r.status == 200)
    }

    async fn set_user(&self, username: &str, change: Value) -> Outcome {
        let r = self.call(&Who::S("admin"), "PATCH", &format!("/api/v1/users/{username}"), Body::Json(change)).await?;
        if (200..300).contains(&r.status) { Ok(()) } else { Err(format!("PATCH /users/{username}: {}", r.seen())) }
    }

    async fn enqueue(&self, who: &Who, queue: &str, body: Value) -> Result<String, String> {
        let r = self.post(who, &format!("/api/v1/queues/{queue}/jobs"), body).await?;
        let created = expect_success(&r, 202)?;
        created["id"].as_str().map(str::to_string).ok_or_else(|| format!("no id in {}", r.seen()))
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn leak(name: &str) -> &'static str {
    Box::leak(name.to_string().into_boxed_str())
}

async fn ws_next_json(socket: &mut Socket, wait: Duration) -> Result<Value, String> {
    let deadline = Instant::now() + wait;
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Err("no message in time".into());
        }
        match tokio::time::timeout(deadline - now, socket.next()).await {
            Err(_) => return Err("no message in time".into()),
            Ok(None) => return Err("socket ended".into()),
            Ok(Some(Err(e))) => return Err(format!("socket error: {e}")),
            Ok(Some(Ok(Message::Text(text)))) => {
                return serde_json::from_str(text.as_str()).map_err(|e| format!("not JSON ({e}): {text}"));
            }
            Ok(Some(Ok(Message::Close(frame)))) => return Err(format!("socket closed: {frame:?}")),
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// Waits for the server's close frame; returns its code and reason.
async fn ws_wait_close(socket: &mut Socket, wait: Duration) -> Result<(u16, String), String> {
    let deadline = Instant::now() + wait;
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Err(format!("socket still open after {wait:?}"));
        }
        match tokio::time::timeout(deadline - now, socket.next()).await {
            Err(_) => return Err(format!("socket still open after {wait:?}")),
            Ok(None) => return Err("socket ended without a close frame".into()),
            Ok(Some(Err(e))) => return Err(format!("socket failed without a close frame: {e}")),
            Ok(Some(Ok(Message::Close(Some(frame))))) => {
                return Ok((u16::from(frame.code), frame.reason.as_str().to_string()));
            }
            Ok(Some(Ok(Message::Close(None)))) => return Err("close frame without a code".into()),
            Ok(Some(Ok(_))) => {}
        }
    }
}

async fn ws_close(mut socket: Socket) {
    let _ = socket.close(None).await;
    let _ = tokio::time::timeout(Duration::from_secs(2), async { while socket.next().await.is_some() {} }).await;
}

fn token_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

// ---------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------

type CaseFuture = Pin<Box<dyn Future<Output = Outcome> + Send>>;

struct Case {
    category: &'static str,
    name: String,
    run: Box<dyn FnOnce(Arc<Env>) -> CaseFuture + Send>,
}

#[derive(Default)]
struct Suite {
    cases: Vec<Case>,
}

impl Suite {
    fn add<F, Fut>(&mut self, category: &'static str, name: impl Into<String>, f: F)
    where
        F: FnOnce(Arc<Env>) -> Fut + Send + 'static,
        Fut: Future<Output = Outcome> + Send + 'static,
    {
        self.cases.push(Case { category, name: name.into(), run: Box::new(move |env| Box::pin(f(env))) });
    }

    /// `who` sends the request and gets an API error with `status`.
    fn refuse(
        &mut self,
        category: &'static str,
        name: impl Into<String>,
        who: Who,
        method: &'static str,
        path: impl Into<String>,
        body: Body,
        status: u16,
    ) {
        let path = path.into();
        self.add(category, name, move |env| async move {
            let r = env.call(&who, method, &path, body).await?;
            expect_error(&r, status).map(|_| ())
        });
    }

    /// `who` sends the request and gets 400 naming one of `fields`.
    fn invalid(
        &mut self,
        category: &'static str,
        name: impl Into<String>,
        who: Who,
        method: &'static str,
        path: impl Into<String>,
        body: Body,
        fields: &'static [&'static str],
    ) {
        let path = path.into();
        self.add(category, name, move |env| async move {
            let r = env.call(&who, method, &path, body).await?;
            expect_invalid(&r, fields)
        });
    }

    /// `who` sends the request and gets this success status.
    fn allow(
        &mut self,
        category: &'static str,
        name: impl Into<String>,
        who: Who,
        method: &'static str,
        path: impl Into<String>,
        body: Body,
        status: u16,
    ) {
        let path = path.into();
        self.add(category, name, move |env| async move {
            let r = env.call(&who, method, &path, body).await?;
            expect_success(&r, status).map(|_| ())
        });
    }
}

const AUTH: &str = "authentication";
const CSRF: &str = "csrf";
const ORIGINS: &str = "origins & websocket";
const ROLES: &str = "roles";
const SCOPES: &str = "token scopes";
const CROSS: &str = "cross-user access";
const END_USER: &str = "end-user options";
const OVERSIZED: &str = "oversized input";
const MALFORMED: &str = "malformed input";
const NUMERIC: &str = "numeric extremes";
const NAMES: &str = "control & invisible characters";
const PATHS: &str = "path tricks";
const ROUTES: &str = "unknown routes & methods";
const SLOW: &str = "slow clients";
const FINAL: &str = "whole run";

fn auth_cases(s: &mut Suite, env: &Env) {
    let scratch_job = env.scratch_jobs.first().cloned().unwrap_or_default();
    s.refuse(AUTH, "no credentials: GET /queues → 401", Who::Anon, "GET", "/api/v1/queues", Body::None, 401);
    s.refuse(
        AUTH,
        "no credentials: enqueue → 401",
        Who::Anon,
        "POST",
        "/api/v1/queues/scratch/jobs",
        Body::Json(json!({ "name": "x" })),
        401,
    );
    s.refuse(AUTH, "no credentials: GET /auth/me → 401", Who::Anon, "GET", "/api/v1/auth/me", Body::None, 401);
    s.refuse(
        AUTH,
        "no credentials: DELETE a job → 401",
        Who::Anon,
        "DELETE",
        format!("/api/v1/queues/scratch/jobs/{scratch_job}"),
        Body::None,
        401,
    );
    s.refuse(AUTH, "no credentials: GET /users → 401", Who::Anon, "GET", "/api/v1/users", Body::None, 401);
    let bearer = |value: String| Who::H(vec![("authorization".into(), value)]);
    for (label, value) in [
        ("garbage bearer token", "Bearer not-a-token".to_string()),
        ("empty bearer token", "Bearer ".to_string()),
        ("well-formed but unknown token", format!("Bearer hoist_{}", "A".repeat(40))),
        ("bearer with a NUL-free junk of 8 KiB", format!("Bearer {}", "x".repeat(8192))),
        ("Basic credentials of the admin", {
            use std::fmt::Write;
            let raw = format!("admin:{ADMIN_PASSWORD}");
            // base64 by hand: no extra dependency for one header.
            const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let bytes = raw.as_bytes();
            let mut out = String::new();
            for chunk in bytes.chunks(3) {
                let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
                let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
                for i in 0..4 {
                    if i <= chunk.len() {
                        let _ = write!(out, "{}", T[((n >> (18 - 6 * i)) & 63) as usize] as char);
                    } else {
                        out.push('=');
                    }
                }
            }
            format!("Basic {out}")
        }),
    ] {
        s.refuse(AUTH, format!("{label} → 401"), bearer(value), "GET", "/api/v1/queues", Body::None, 401);
    }
    let admin_all = env.tokens.get("admin-all").map(|t| t.secret.clone()).unwrap_or_default();
    s.refuse(
        AUTH,
        "a valid token under another scheme (`Token …`) → 401",
        bearer(format!("Token {admin_all}")),
        "GET",
        "/api/v1/queues",
        Body::None,
        401,
    );
    for scheme in ["bearer", "BEARER"] {
        s.allow(
            AUTH,
            format!("`{scheme}` scheme (case-insensitive, RFC 7235) with a valid token → 200"),
            bearer(format!("{scheme} {admin_all}")),
            "GET",
            "/api/v1/queues",
            Body::None,
            200,
        );
    }
    s.refuse(AUTH, "expired token → 401", Who::T("expired"), "GET", "/api/v1/queues", Body::None, 401);
    s.refuse(AUTH, "revoked token → 401", Who::T("revoked"), "GET", "/api/v1/queues", Body::None, 401);
    let hash = token_hash(&admin_all);
    s.refuse(
        AUTH,
        "the stored SHA-256 of a token used as the token → 401",
        bearer(format!("Bearer {hash}")),
        "GET",
        "/api/v1/queues",
        Body::None,
        401,
    );
    s.add(AUTH, "a token of a disabled user → 401", |env| async move {
        env.set_user("dora", json!({ "disabled": true })).await?;
        let r = env.get(&Who::T("dora-read"), "/api/v1/queues").await?;
        expect_error(&r, 401).map(|_| ())
    });
    s.add(AUTH, "a session of a disabled user → 401", |env| async move {
        env.set_user("dora", json!({ "disabled": true })).await?;
        let r = env.get(&Who::SNoCsrf("dora"), "/api/v1/auth/me").await?;
        expect_error(&r, 401).map(|_| ())
    });
    s.add(AUTH, "a bad bearer token never falls back to the session cookie → 401", |env| async move {
        let admin = env.actor("admin")?;
        let who = Who::H(vec![
            ("authorization".into(), "Bearer forged".into()),
            ("cookie".into(), admin.cookie.clone()),
            ("x-csrf-token".into(), admin.csrf.clone()),
        ]);
        let r = env.get(&who, "/api/v1/users").await?;
        expect_error(&r, 401).map(|_| ())
    });
    s.add(
        AUTH,
        "a token wins over a session cookie: viewer token + admin cookie acts as the viewer",
        |env| async move {
            let admin = env.actor("admin")?;
            let who = Who::H(vec![
                ("authorization".into(), format!("Bearer {}", env.token("viewer-all")?.secret)),
                ("cookie".into(), admin.cookie.clone()),
                ("x-csrf-token".into(), admin.csrf.clone()),
            ]);
            let r = env.get(&who, "/api/v1/users").await?;
            expect_error(&r, 403).map(|_| ())
        },
    );
    s.refuse(
        AUTH,
        "64 KiB Authorization header → 401",
        bearer(format!("Bearer {}", "a".repeat(64 * 1024))),
        "GET",
        "/api/v1/queues",
        Body::None,
        401,
    );
    s.add(AUTH, "1 MiB Authorization header → refused (4xx or closed), server still answers", |env| async move {
        let request = env.raw_request(
            "GET",
            "/api/v1/queues",
            &[("Authorization", format!("Bearer {}", "a".repeat(MAX_BODY)))],
            b"",
        );
        let answer = env.raw(&request, Duration::from_secs(10)).await?;
        if let Some(r) = &answer
            && !(400..500).contains(&r.status)
        {
            return Err(format!("expected a 4xx (431) or a closed connection, got {}", r.seen()));
        }
        let health = env.get(&Who::Anon, "/healthz").await?;
        expect_status(&health, 200)
    });
    s.add(AUTH, "Authorization with bytes that are not UTF-8 → 401", |env| async move {
        let mut request =
            format!("GET /api/v1/queues HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n", env.port)
                .into_bytes();
        request.extend_from_slice(b"Authorization: Bearer \xff\xfe\xfd\r\n\r\n");
        let r = env.raw(&request, Duration::from_secs(10)).await?.ok_or("closed without an answer")?;
        expect_error(&r, 401).map(|_| ())
    });
    for (label, cookie) in [
        ("garbage session cookie", "hoist_session=garbage".to_string()),
        ("empty session cookie", "hoist_session=".to_string()),
        ("4 KiB junk session cookie", format!("hoist_session={}", "Z".repeat(4096))),
        ("session cookie with quotes and semicolons", "hoist_session=\"a;b\"; hoist_session=c".to_string()),
    ] {
        s.refuse(
            AUTH,
            format!("{label} → 401"),
            Who::H(vec![("cookie".into(), cookie)]),
            "GET",
            "/api/v1/auth/me",
            Body::None,
            401,
        );
    }
    s.add(AUTH, "a signed-out session's cookie → 401", |env| async move {
        let r = env.call(&Who::S("lou"), "POST", "/api/v1/auth/logout", Body::None).await?;
        expect_status(&r, 204)?;
        let r = env.get(&Who::SNoCsrf("lou"), "/api/v1/auth/me").await?;
        expect_error(&r, 401).map(|_| ())
    });
    s.add(AUTH, "wrong password → 401 bad_credentials; unknown user → the same answer", |env| async move {
        let wrong = env
            .post(&Who::Anon, "/api/v1/auth/login", json!({ "username": "vera", "password": "wrong-password-1" }))
            .await?;
        let e1 = expect_error(&wrong, 401)?;
        let unknown = env
            .post(
                &Who::Anon,
                "/api/v1/auth/login",
                json!({ "username": "nobody-here", "password": "wrong-password-1" }),
            )
            .await?;
        let e2 = expect_error(&unknown, 401)?;
        if e1["code"] != "bad_credentials" || e1 != e2 {
            return Err(format!("answers differ or wrong code: {} vs {}", wrong.seen(), unknown.seen()));
        }
        Ok(())
    });
    s.invalid(
        AUTH,
        "sign-in without a password field → 400 naming password",
        Who::Anon,
        "POST",
        "/api/v1/auth/login",
        Body::Json(json!({ "username": "vera" })),
        &["password"],
    );
    s.invalid(
        AUTH,
        "sign-in with an unknown field → 400 naming it",
        Who::Anon,
        "POST",
        "/api/v1/auth/login",
        Body::Json(json!({ "username": "vera", "password": password_of("vera"), "remember_me_forever": true })),
        &["remember_me_forever"],
    );
    s.invalid(
        AUTH,
        "sign-in with a numeric username → 400 naming username",
        Who::Anon,
        "POST",
        "/api/v1/auth/login",
        Body::Json(json!({ "username": 12345, "password": "x-password-1" })),
        &["username"],
    );
    s.allow(
        AUTH,
        "GET /auth/me needs no scope: a users:admin token → 200",
        Who::T("admin-users"),
        "GET",
        "/api/v1/auth/me",
        Body::None,
        200,
    );
    s.add(AUTH, "a password change (hoist user passwd) ends the user's other sessions", |env| async move {
        if !env.session_alive("pat").await? {
            return Err("pat's session was not alive before the change".into());
        }
        let (ok, out, err) = env.cli.run(&["user", "passwd", "pat", "--password", "pat-Changed-passw0rd-2"]).await;
        if !ok {
            return Err(format!("hoist user passwd failed: {out}{err}"));
        }
        let r = env.get(&Who::SNoCsrf("pat"), "/api/v1/auth/me").await?;
        expect_error(&r, 401).map(|_| ())
    });
}

fn lockout_cases(s: &mut Suite) {
    s.add(
        AUTH,
        "8 parallel wrong guesses: at most 5 password checks, the rest 429 with Retry-After",
        |env| async move {
            let guesses = (0..8).map(|i| {
                let env = env.clone();
                async move {
                    env.post(
                        &Who::Anon,
                        "/api/v1/auth/login",
                        json!({ "username": "lena", "password": format!("wrong-guess-{i}") }),
                    )
                    .await
                }
            });
            let answers = futures::future::join_all(guesses).await;
            let (mut checked, mut limited) = (0, 0);
            for answer in answers {
                let r = answer?;
                expect_error_in(&r, &[401, 429, 503])?;
                match r.status {
                    401 => checked += 1,
                    429 => {
                        limited += 1;
                        if r.header("retry-after").is_none() {
                            return Err(format!("429 without Retry-After: {}", r.seen()));
                        }
                    }
                    _ => {
                        if r.header("retry-after").is_none() {
                            return Err(format!("503 without Retry-After: {}", r.seen()));
                        }
                    }
                }
            }
            if checked > 5 || limited < 3 {
                return Err(format!("{checked} guesses got their password checked, {limited} got 429 (limit 5)"));
            }
            Ok(())
        },
    );
    s.add(AUTH, "after the lockout the right password is refused too (429)", |env| async move {
        let r = env
            .post(&Who::Anon, "/api/v1/auth/login", json!({ "username": "lena", "password": password_of("lena") }))
            .await?;
        expect_error(&r, 429).map(|_| ())
    });
    s.add(AUTH, "X-Forwarded-For from an untrusted peer does not escape the lockout (429)", |env| async move {
        let who = Who::H(vec![("x-forwarded-for".into(), "198.51.100.7".into())]);
        let r = env
            .post(&who, "/api/v1/auth/login", json!({ "username": "lena", "password": password_of("lena") }))
            .await?;
        expect_error(&r, 429).map(|_| ())
    });
}

fn csrf_cases(s: &mut Suite, env: &Env) {
    let job = env.scratch_jobs.get(7).cloned().unwrap_or_default();
    let enqueue = Body::Json(json!({ "name": "x" }));
    s.refuse(
        CSRF,
        "cookie POST enqueue without x-csrf-token → 403",
        Who::SNoCsrf("admin"),
        "POST",
        "/api/v1/queues/scratch/jobs",
        enqueue.clone(),
        403,
    );
    s.refuse(
        CSRF,
        "cookie POST enqueue with a wrong x-csrf-token → 403",
        Who::SCsrf("admin", "wrong-token".into()),
        "POST",
        "/api/v1/queues/scratch/jobs",
        enqueue.clone(),
        403,
    );
    s.refuse(
        CSRF,
        "cookie POST enqueue with an empty x-csrf-token → 403",
        Who::SCsrf("admin", String::new()),
        "POST",
        "/api/v1/queues/scratch/jobs",
        enqueue.clone(),
        403,
    );
    let bob_csrf = env.actors.get("bob").map(|a| a.csrf.clone()).unwrap_or_default();
    s.refuse(
        CSRF,
        "alice's cookie with bob's x-csrf-token → 403",
        Who::SCsrf("alice", bob_csrf),
        "POST",
        "/api/v1/queues/sync/jobs",
        Body::Json(json!({ "name": "sync-connection", "payload": { "connection_id": env.alice_conn }, "options": { "delay": HOUR_MS } })),
        403,
    );
    s.refuse(
        CSRF,
        "cookie PATCH /users without x-csrf-token → 403",
        Who::SNoCsrf("admin"),
        "PATCH",
        "/api/v1/users/vera",
        Body::Json(json!({ "disabled": false })),
        403,
    );
    s.refuse(
        CSRF,
        "cookie DELETE a job without x-csrf-token → 403",
        Who::SNoCsrf("admin"),
        "DELETE",
        format!("/api/v1/queues/scratch/jobs/{job}"),
        Body::None,
        403,
    );
    s.refuse(
        CSRF,
        "cookie PUT a schedule without x-csrf-token → 403",
        Who::SNoCsrf("admin"),
        "PUT",
        "/api/v1/schedules/hostile-s",
        Body::Json(schedule_body("hostile-s")),
        403,
    );
    s.refuse(
        CSRF,
        "cookie DELETE a schedule without x-csrf-token → 403",
        Who::SNoCsrf("admin"),
        "DELETE",
        "/api/v1/schedules/hostile-s",
        Body::None,
        403,
    );
    s.refuse(
        CSRF,
        "cookie POST dead-letter purge without x-csrf-token → 403",
        Who::SNoCsrf("admin"),
        "POST",
        "/api/v1/dead-letters/purge",
        Body::Json(json!({ "jobs": { "queue": "scratch", "ids": [] } })),
        403,
    );
    s.refuse(
        CSRF,
        "cookie POST pause without x-csrf-token → 403",
        Who::SNoCsrf("admin"),
        "POST",
        "/api/v1/queues/scratch/pause",
        Body::None,
        403,
    );
    s.add(CSRF, "cookie POST /auth/logout without x-csrf-token → 403 and the session lives on", |env| async move {
        let r = env.call(&Who::SNoCsrf("vic"), "POST", "/api/v1/auth/logout", Body::None).await?;
        expect_error(&r, 403)?;
        if !env.session_alive("vic").await? {
            return Err("the session ended anyway".into());
        }
        Ok(())
    });

    // Server functions: sign-in (login CSRF) with the attacker's own valid credentials.
    let foreign: Vec<(&'static str, fn(&Env) -> Vec<(&'static str, String)>)> = vec![
        ("a cross-site Origin", |_| vec![("origin", EVIL.to_string())]),
        ("Origin: null", |_| vec![("origin", "null".to_string())]),
        ("no Origin but a foreign Referer", |_| vec![("referer", format!("{EVIL}/login"))]),
        ("a sibling subdomain of the allowed origin", |_| {
            vec![("origin", "https://evil.dash.example.com".to_string())]
        }),
        ("an Origin that only starts with the server's host", |env| {
            vec![("origin", format!("http://127.0.0.1:{}.evil.example", env.port))]
        }),
    ];
    for (label, headers) in foreign.clone() {
        s.add(CSRF, format!("server fn sign_in with {label} → 403, no session"), move |env| async move {
            let password = password_of("vera");
            let r = env
                .server_fn("sign_in", &[("username", "vera"), ("password", &password)], None, &headers(&env))
                .await?;
            expect_error(&r, 403)?;
            if r.headers_named("set-cookie").any(|c| c.starts_with("hoist_session=")) {
                return Err("refused but a session cookie was set".into());
            }
            Ok(())
        });
    }
    s.add(
        CSRF,
        "server fn sign_in from the same origin with valid credentials → accepted, session set",
        |env| async move {
            let password = password_of("vera");
            let headers = [("origin", env.origin.clone())];
            let r = env.server_fn("sign_in", &[("username", "vera"), ("password", &password)], None, &headers).await?;
            expect_accepted_form(&r)?;
            if !r.headers_named("set-cookie").any(|c| c.starts_with("hoist_session=")) {
                return Err(format!("no session cookie: {}", r.seen()));
            }
            Ok(())
        },
    );
    for (label, headers) in foreign.iter().take(3).cloned() {
        s.add(CSRF, format!("server fn sign_out with {label} → 403 and the session lives on"), move |env| async move {
            let sol = env.actor("sol")?.clone();
            let r =
                env.server_fn("sign_out", &[("csrf", sol.csrf.as_str())], Some(&sol.cookie), &headers(&env)).await?;
            expect_error(&r, 403)?;
            if !env.session_alive("sol").await? {
                return Err("refused, but the session ended".into());
            }
            Ok(())
        });
    }
    s.add(
        CSRF,
        "server fn sign_out with neither Origin nor Referer → 403 and the session lives on",
        |env| async move {
            let sol = env.actor("sol")?.clone();
            let r = env.server_fn("sign_out", &[("csrf", sol.csrf.as_str())], Some(&sol.cookie), &[]).await?;
            expect_error(&r, 403)?;
            if !env.session_alive("sol").await? {
                return Err("refused, but the session ended".into());
            }
            Ok(())
        },
    );
    s.add(CSRF, "server fn sign_out from the same origin → accepted and the session ends", |env| async move {
        let sol = env.actor("sol")?.clone();
        let headers = [("origin", env.origin.clone())];
        let r = env.server_fn("sign_out", &[("csrf", sol.csrf.as_str())], Some(&sol.cookie), &headers).await?;
        expect_accepted_form(&r)?;
        if env.session_alive("sol").await? {
            return Err("the session is still alive".into());
        }
        Ok(())
    });

    // queue_action (pause) with the admin's cookie and correct csrf field.
    for (label, headers) in foreign.clone() {
        s.add(
            CSRF,
            format!("server fn queue_action (pause) with {label} → 403, queue not paused"),
            move |env| async move {
                env.resume("csrf-q").await?;
                let admin = env.actor("admin")?.clone();
                let form = [("queue", "csrf-q"), ("action", "pause"), ("csrf", admin.csrf.as_str())];
                let r = env.server_fn("queue_action", &form, Some(&admin.cookie), &headers(&env)).await?;
                let refused = expect_error(&r, 403);
                if env.paused("csrf-q").await? {
                    env.resume("csrf-q").await?;
                    return Err(format!("the queue was paused ({})", r.seen()));
                }
                refused.map(|_| ())
            },
        );
    }
    s.add(
        CSRF,
        "server fn queue_action from the same origin with a wrong csrf field → 403, not paused",
        |env| async move {
            env.resume("csrf-q").await?;
            let admin = env.actor("admin")?.clone();
            let form = [("queue", "csrf-q"), ("action", "pause"), ("csrf", "wrong")];
            let r =
                env.server_fn("queue_action", &form, Some(&admin.cookie), &[("origin", env.origin.clone())]).await?;
            let refused = expect_error(&r, 403);
            if env.paused("csrf-q").await? {
                env.resume("csrf-q").await?;
                return Err(format!("the queue was paused ({})", r.seen()));
            }
            refused.map(|_| ())
        },
    );
    s.add(CSRF, "server fn queue_action without a session → 401 JSON", |env| async move {
        let form = [("queue", "csrf-q"), ("action", "pause"), ("csrf", "x")];
        let r = env.server_fn("queue_action", &form, None, &[("origin", env.origin.clone())]).await?;
        expect_error(&r, 401).map(|_| ())
    });
    s.add(CSRF, "server fn queue_action as a viewer (right origin and csrf) → 403 JSON", |env| async move {
        let vera = env.actor("vera")?.clone();
        let form = [("queue", "csrf-q"), ("action", "pause"), ("csrf", vera.csrf.as_str())];
        let r = env.server_fn("queue_action", &form, Some(&vera.cookie), &[("origin", env.origin.clone())]).await?;
        expect_error(&r, 403).map(|_| ())
    });
    s.add(CSRF, "server fn queue_maintain (drain) with a cross-site Origin → 403", |env| async move {
        let admin = env.actor("admin")?.clone();
        let form = [("queue", "csrf-q"), ("action", "drain"), ("csrf", admin.csrf.as_str())];
        let r = env.server_fn("queue_maintain", &form, Some(&admin.cookie), &[("origin", EVIL.to_string())]).await?;
        expect_error(&r, 403).map(|_| ())
    });
    for (label, origin) in [("the same origin", None), ("the allow-listed origin", Some(ALLOWED_ORIGIN))] {
        s.add(
            CSRF,
            format!("server fn queue_action from {label} with the csrf field → accepted, queue paused"),
            move |env| async move {
                env.resume("csrf-q").await?;
                let admin = env.actor("admin")?.clone();
                let form = [("queue", "csrf-q"), ("action", "pause"), ("csrf", admin.csrf.as_str())];
                let origin = origin.map(str::to_string).unwrap_or_else(|| env.origin.clone());
                let r = env.server_fn("queue_action", &form, Some(&admin.cookie), &[("origin", origin)]).await?;
                expect_accepted_form(&r)?;
                let paused = env.paused("csrf-q").await?;
                env.resume("csrf-q").await?;
                if !paused {
                    return Err(format!("accepted ({}) but the queue is not paused", r.seen()));
                }
                Ok(())
            },
        );
    }
}

fn schedule_body(name: &str) -> Value {
    json!({ "name": name, "cron": "0 0 1 1 *", "queue": "scratch", "job": { "name": "x", "payload": {} } })
}

fn origin_cases(s: &mut Suite) {
    for (label, origin) in [
        ("a foreign Origin", EVIL.to_string()),
        ("a sibling subdomain of the allowed origin", "https://evil.dash.example.com".to_string()),
        ("Origin: null", "null".to_string()),
        ("the allowed origin with another scheme", "http://dash.example.com".to_string()),
    ] {
        s.add(
            ORIGINS,
            format!("live socket with {label} (admin cookie) → 403 JSON before upgrade"),
            move |env| async move {
                let cookie = env.actor("admin")?.cookie.clone();
                let r = env.ws_handshake_raw("?topics=counts", &[("Origin", origin), ("Cookie", cookie)]).await?;
                expect_error(&r, 403).map(|_| ())
            },
        );
    }
    s.add(ORIGINS, "live socket from the server's own origin → hello", |env| async move {
        let headers = vec![("cookie", env.actor("vera")?.cookie.clone()), ("origin", env.origin.clone())];
        ws_close(env.ws_open("?topics=counts", headers).await?).await;
        Ok(())
    });
    s.add(ORIGINS, "live socket from the allow-listed origin → hello", |env| async move {
        let headers = vec![("cookie", env.actor("opal")?.cookie.clone()), ("origin", ALLOWED_ORIGIN.to_string())];
        ws_close(env.ws_open("?topics=counts", headers).await?).await;
        Ok(())
    });
    s.add(ORIGINS, "live socket without Origin, with a jobs:read token → hello", |env| async move {
        let headers = vec![("authorization", format!("Bearer {}", env.token("admin-read")?.secret))];
        ws_close(env.ws_open("?topics=counts", headers).await?).await;
        Ok(())
    });
    s.add(ORIGINS, "live socket without credentials → 401 JSON", |env| async move {
        let r = env.ws_handshake_raw("?topics=counts", &[("Origin", env.origin.clone())]).await?;
        expect_error(&r, 401).map(|_| ())
    });
    s.add(ORIGINS, "live socket with a token lacking jobs:read (users:admin) → 403 JSON", |env| async move {
        let r = env
            .ws_handshake_raw(
                "?topics=counts",
                &[("Authorization", format!("Bearer {}", env.token("admin-users")?.secret))],
            )
            .await?;
        expect_error(&r, 403).map(|_| ())
    });
    s.add(ORIGINS, "live socket: an end user asking for `counts` → 403 JSON", |env| async move {
        let r = env
            .ws_handshake_raw(
                "?topics=counts",
                &[("Origin", env.origin.clone()), ("Cookie", env.actor("alice")?.cookie.clone())],
            )
            .await?;
        expect_error(&r, 403).map(|_| ())
    });
    s.add(ORIGINS, "live socket: unknown topic → 400 JSON naming topics", |env| async move {
        let r = env
            .ws_handshake_raw(
                "?topics=everything",
                &[("Origin", env.origin.clone()), ("Cookie", env.actor("vera")?.cookie.clone())],
            )
            .await?;
        expect_invalid(&r, &["topics"])
    });
    s.add(ORIGINS, "live socket: a 20 KB topic list → 400 JSON naming topics", |env| async move {
        let topics = vec!["counts"; 3000].join(",");
        let r = env
            .ws_handshake_raw(
                &format!("?topics={topics}"),
                &[("Origin", env.origin.clone()), ("Cookie", env.actor("vera")?.cookie.clone())],
            )
            .await?;
        expect_invalid(&r, &["topics"])
    });
    s.add(
        ORIGINS,
        "live socket: bob following alice's job gets nothing about it (refused, or filtered)",
        |env| async move {
            let alice = env.id_of("alice");
            let id = env
                .enqueue(
                    &Who::S("admin"),
                    "wsq",
                    json!({ "name": "x", "options": { "owner": alice, "delay": HOUR_MS } }),
                )
                .await?;
            let headers = vec![("cookie", env.actor("bob")?.cookie.clone()), ("origin", env.origin.clone())];
            let mut socket = match env.ws_open(&format!("?topics=job:wsq/{id},mine"), headers).await {
                Err(e) if e.contains("403") || e.contains("404") => return Ok(()),
                Err(e) => return Err(e),
                Ok(socket) => socket,
            };
            let r =
                env.call(&Who::S("admin"), "POST", &format!("/api/v1/queues/wsq/jobs/{id}/cancel"), Body::None).await?;
            expect_status(&r, 200)?;
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline {
                match tokio::time::timeout(Duration::from_millis(300), socket.next()).await {
                    Ok(Some(Ok(Message::Text(text)))) if text.as_str().contains(&id) => {
                        return Err(format!("bob received alice's job: {text}"));
                    }
                    Ok(None) | Ok(Some(Err(_))) => break,
                    _ => {}
                }
            }
            ws_close(socket).await;
            Ok(())
        },
    );
    // Re-validation of open sockets.
    s.add(ORIGINS, "an open socket closes (4001) with a reason after its session signs out", |env| async move {
        let carol = env.actor("carol")?.clone();
        let mut socket =
            env.ws_open("?topics=mine", vec![("cookie", carol.cookie.clone()), ("origin", env.origin.clone())]).await?;
        let r = env.call(&Who::S("carol"), "POST", "/api/v1/auth/logout", Body::None).await?;
        expect_status(&r, 204)?;
        let (code, reason) = ws_wait_close(&mut socket, Duration::from_secs(LIVE_RECHECK + 4)).await?;
        if code != 4001 || reason.is_empty() {
            return Err(format!("closed with {code} {reason:?}, expected 4001 with a reason"));
        }
        Ok(())
    });
    let recheck = |s: &mut Suite, label: &'static str, user: &'static str, change: Value| {
        s.add(
            ORIGINS,
            format!("an open socket closes (4001/4003) with a reason when {label}"),
            move |env| async move {
                let a = env.actor(user)?.clone();
                let mut socket = env
                    .ws_open("?topics=counts", vec![("cookie", a.cookie.clone()), ("origin", env.origin.clone())])
                    .await?;
                env.set_user(user, change).await?;
                let (code, reason) = ws_wait_close(&mut socket, Duration::from_secs(LIVE_RECHECK + 4)).await?;
                if !matches!(code, 4001 | 4003) || reason.is_empty() {
                    return Err(format!("closed with {code} {reason:?}, expected 4001/4003 with a reason"));
                }
                Ok(())
            },
        );
    };
    recheck(s, "the user is disabled", "dina", json!({ "disabled": true }));
    recheck(s, "the user's role changes (operator → viewer)", "erin", json!({ "role": "viewer" }));
    s.add(ORIGINS, "an open token socket closes (4001/4003) when the token is revoked", |env| async move {
        let token = env.token("tess-read")?.clone();
        let mut socket =
            env.ws_open("?topics=counts", vec![("authorization", format!("Bearer {}", token.secret))]).await?;
        let (ok, out, err) = env.cli.run(&["token", "revoke", &token.id.to_string()]).await;
        if !ok {
            return Err(format!("hoist token revoke failed: {out}{err}"));
        }
        let (code, reason) = ws_wait_close(&mut socket, Duration::from_secs(LIVE_RECHECK + 4)).await?;
        if !matches!(code, 4001 | 4003) || reason.is_empty() {
            return Err(format!("closed with {code} {reason:?}, expected 4001/4003 with a reason"));
        }
        Ok(())
    });
    s.add(
        ORIGINS,
        format!("socket cap: {} sockets per user, the next → 429 JSON", MAX_SOCKETS_PER_USER),
        |env| async move {
            let sock = env.actor("sock")?.clone();
            let mut open = vec![];
            for i in 0..MAX_SOCKETS_PER_USER {
                match env
                    .ws_open("?topics=counts", vec![("cookie", sock.cookie.clone()), ("origin", env.origin.clone())])
                    .await
                {
                    Ok(socket) => open.push(socket),
                    Err(e) => {
                        for socket in open {
                            ws_close(socket).await;
                        }
                        return Err(format!("socket {} of {MAX_SOCKETS_PER_USER} refused: {e}", i + 1));
                    }
                }
            }
            let r = env
                .ws_handshake_raw("?topics=counts", &[("Origin", env.origin.clone()), ("Cookie", sock.cookie.clone())])
                .await;
            for socket in open {
                ws_close(socket).await;
            }
            expect_error(&r?, 429).map(|_| ())
        },
    );
    s.add(ORIGINS, "socket cap: after closing, the user can open a socket again", |env| async move {
        let sock = env.actor("sock")?.clone();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match env
                .ws_open("?topics=counts", vec![("cookie", sock.cookie.clone()), ("origin", env.origin.clone())])
                .await
            {
                Ok(socket) => {
                    ws_close(socket).await;
                    return Ok(());
                }
                Err(e) if Instant::now() > deadline => return Err(e),
                Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    });
}

fn role_cases(s: &mut Suite, env: &Env) {
    let sj = |i: usize| env.scratch_jobs.get(i).cloned().unwrap_or_else(|| "missing".into());
    let writes = |who: &str| -> Vec<(&'static str, &'static str, String, Body)> {
        vec![
            ("enqueue", "POST", "/api/v1/queues/scratch/jobs".into(), Body::Json(json!({ "name": "x" }))),
            (
                "bulk enqueue",
                "POST",
                "/api/v1/queues/scratch/jobs/bulk".into(),
                Body::Json(json!({ "jobs": [{ "name": "x" }] })),
            ),
            ("cancel a job", "POST", format!("/api/v1/queues/scratch/jobs/{}/cancel", sj(0)), Body::None),
            ("retry a job", "POST", format!("/api/v1/queues/scratch/jobs/{}/retry", sj(1)), Body::None),
            ("promote a job", "POST", format!("/api/v1/queues/scratch/jobs/{}/promote", sj(2)), Body::None),
            (
                "edit and retry a job",
                "POST",
                format!("/api/v1/queues/scratch/jobs/{}/retry-edited", sj(1)),
                Body::Json(json!({ "payload": { "fixed": true } })),
            ),
            ("duplicate a job", "POST", format!("/api/v1/queues/scratch/jobs/{}/duplicate", sj(2)), Body::None),
            ("remove a job", "DELETE", format!("/api/v1/queues/scratch/jobs/{}", sj(3)), Body::None),
            ("pause a queue", "POST", "/api/v1/queues/scratch/pause".into(), Body::None),
            ("resume a queue", "POST", "/api/v1/queues/scratch/resume".into(), Body::None),
            ("drain", "POST", "/api/v1/queues/scratch/maintenance".into(), Body::Json(json!({ "action": "drain" }))),
            (
                "clean",
                "POST",
                "/api/v1/queues/scratch/maintenance".into(),
                Body::Json(json!({ "action": "clean", "state": "completed", "older_than_ms": 0 })),
            ),
            (
                "retry-all",
                "POST",
                "/api/v1/queues/scratch/maintenance".into(),
                Body::Json(json!({ "action": "retry-all", "from": "dead" })),
            ),
            (
                "dead-letter requeue",
                "POST",
                "/api/v1/dead-letters/requeue".into(),
                Body::Json(json!({ "jobs": { "queue": "scratch", "ids": [] } })),
            ),
            (
                "dead-letter purge",
                "POST",
                "/api/v1/dead-letters/purge".into(),
                Body::Json(json!({ "jobs": { "queue": "scratch", "ids": [] } })),
            ),
            (
                "dead-letter purge by filter",
                "POST",
                "/api/v1/dead-letters/purge".into(),
                Body::Json(json!({ "filter": { "queue": "scratch" } })),
            ),
            ("put a schedule", "PUT", "/api/v1/schedules/hostile-s".into(), Body::Json(schedule_body("hostile-s"))),
            ("delete a schedule", "DELETE", "/api/v1/schedules/hostile-s".into(), Body::None),
            ("pause a schedule", "POST", "/api/v1/schedules/hostile-s/pause".into(), Body::None),
            ("resume a schedule", "POST", "/api/v1/schedules/hostile-s/resume".into(), Body::None),
            ("run a schedule", "POST", "/api/v1/schedules/hostile-s/run".into(), Body::None),
            (
                "add a user",
                "POST",
                "/api/v1/users".into(),
                Body::Json(
                    json!({ "username": format!("made-by-{who}"), "password": "made-Passw0rd-1", "role": "admin" }),
                ),
            ),
            ("change a user", "PATCH", "/api/v1/users/vera".into(), Body::Json(json!({ "disabled": false }))),
            (
                "delete every job a search matches",
                "POST",
                "/api/v1/search/actions".into(),
                Body::Json(json!({ "q": "", "action": "delete", "confirm": true })),
            ),
            ("list users", "GET", "/api/v1/users".into(), Body::None),
            ("read the audit log", "GET", "/api/v1/audit".into(), Body::None),
            (
                "raise a notification",
                "POST",
                "/api/v1/notifications/sign-in".into(),
                Body::Json(json!({ "user_id": "7", "email": "a@example.com", "ip": "203.0.113.9" })),
            ),
        ]
    };
    s.refuse(
        CSRF,
        "bulk delete of a search without the CSRF header → 403",
        Who::SNoCsrf("admin"),
        "POST",
        "/api/v1/search/actions",
        Body::Json(json!({ "q": "", "action": "delete", "confirm": true })),
        403,
    );
    for (label, method, path, body) in writes("vera") {
        s.refuse(ROLES, format!("viewer: {label} ({method} {path}) → 403"), Who::S("vera"), method, path, body, 403);
    }
    s.refuse(
        ROLES,
        "viewer: sync a connection → 403",
        Who::S("vera"),
        "POST",
        format!("/api/v1/connections/{}/sync", env.bob_conn),
        Body::None,
        403,
    );
    for (label, method, path, body) in writes("opal") {
        if matches!(label, "add a user" | "change a user" | "list users" | "read the audit log") {
            s.refuse(
                ROLES,
                format!("operator: {label} ({method} {path}) → 403"),
                Who::S("opal"),
                method,
                path,
                body,
                403,
            );
        }
    }
    for (label, method, path, body) in writes("alice") {
        // A job that is not hers does not exist for an end user.
        let status = if label.ends_with("a job") { 404 } else { 403 };
        s.refuse(
            ROLES,
            format!("end user: {label} ({method} {path}) → {status}"),
            Who::S("alice"),
            method,
            path,
            body,
            status,
        );
    }
    for (label, path) in [
        ("list queues", "/api/v1/queues".to_string()),
        ("queue health", "/api/v1/queues/sync/health".into()),
        ("queue metrics", "/api/v1/queues/sync/metrics".into()),
        ("list schedules", "/api/v1/schedules".into()),
        ("read a schedule", "/api/v1/schedules/hostile-s".into()),
    ] {
        s.refuse(ROLES, format!("end user: {label} → 403"), Who::S("alice"), "GET", path, Body::None, 403);
    }
    let alice_job = env.alice_job.clone();
    s.refuse(
        ROLES,
        "end user: cancel her own job → 403 (job actions are for operators)",
        Who::S("alice"),
        "POST",
        format!("/api/v1/queues/exports/jobs/{alice_job}/cancel"),
        Body::None,
        403,
    );
    // The rights that remain.
    s.allow(
        ROLES,
        "operator: enqueue → 202",
        Who::S("opal"),
        "POST",
        "/api/v1/queues/scratch/jobs",
        Body::Json(json!({ "name": "x" })),
        202,
    );
    s.add(ROLES, "operator: pause and resume a queue → 200", |env| async move {
        let r = env.call(&Who::S("opal"), "POST", "/api/v1/queues/opq/pause", Body::None).await?;
        expect_success(&r, 200)?;
        let r = env.call(&Who::S("opal"), "POST", "/api/v1/queues/opq/resume", Body::None).await?;
        expect_success(&r, 200).map(|_| ())
    });
    s.allow(
        ROLES,
        "operator: put a schedule → 200",
        Who::S("opal"),
        "PUT",
        "/api/v1/schedules/hostile-op",
        Body::Json(schedule_body("hostile-op")),
        200,
    );
    s.allow(ROLES, "admin: list users → 200", Who::S("admin"), "GET", "/api/v1/users", Body::None, 200);
    s.allow(ROLES, "viewer: list queues → 200", Who::S("vera"), "GET", "/api/v1/queues", Body::None, 200);
    s.allow(ROLES, "viewer: list schedules → 200", Who::S("vera"), "GET", "/api/v1/schedules", Body::None, 200);
    s.allow(
        ROLES,
        "end user: list her connections → 200",
        Who::S("alice"),
        "GET",
        "/api/v1/connections",
        Body::None,
        200,
    );
}

fn scope_cases(s: &mut Suite, env: &Env) {
    let job = env.scratch_jobs.get(4).cloned().unwrap_or_default();
    let new_user =
        |name: &str| Body::Json(json!({ "username": name, "password": "scoped-Passw0rd-1", "role": "admin" }));
    let purge = || Body::Json(json!({ "jobs": { "queue": "scratch", "ids": [] } }));
    let enqueue = || Body::Json(json!({ "name": "x" }));
    let notice = || Body::Json(json!({ "user_id": "7", "email": "a@example.com", "ip": "203.0.113.9" }));
    let table: Vec<(&'static str, &'static str, &'static str, String, Body, u16)> = vec![
        ("admin-read", "list queues", "GET", "/api/v1/queues".into(), Body::None, 200),
        ("admin-read", "list jobs", "GET", "/api/v1/queues/scratch/jobs".into(), Body::None, 200),
        ("admin-read", "add an admin", "POST", "/api/v1/users".into(), new_user("scoped-read"), 403),
        (
            "admin-read",
            "change a user",
            "PATCH",
            "/api/v1/users/vera".into(),
            Body::Json(json!({ "role": "admin" })),
            403,
        ),
        ("admin-read", "list users", "GET", "/api/v1/users".into(), Body::None, 403),
        ("admin-read", "read the audit log", "GET", "/api/v1/audit".into(), Body::None, 403),
        ("admin-read", "purge dead letters", "POST", "/api/v1/dead-letters/purge".into(), purge(), 403),
        ("admin-read", "pause a queue", "POST", "/api/v1/queues/scratch/pause".into(), Body::None, 403),
        (
            "admin-read",
            "drain a queue",
            "POST",
            "/api/v1/queues/scratch/maintenance".into(),
            Body::Json(json!({ "action": "drain" })),
            403,
        ),
        ("admin-read", "enqueue", "POST", "/api/v1/queues/scratch/jobs".into(), enqueue(), 403),
        ("admin-read", "cancel a job", "POST", format!("/api/v1/queues/scratch/jobs/{job}/cancel"), Body::None, 403),
        (
            "admin-read",
            "put a schedule",
            "PUT",
            "/api/v1/schedules/hostile-s".into(),
            Body::Json(schedule_body("hostile-s")),
            403,
        ),
        ("admin-read", "run a schedule", "POST", "/api/v1/schedules/hostile-s/run".into(), Body::None, 403),
        ("admin-read", "raise a notification", "POST", "/api/v1/notifications/sign-in".into(), notice(), 403),
        ("admin-write", "enqueue", "POST", "/api/v1/queues/scratch/jobs".into(), enqueue(), 202),
        ("admin-write", "list queues (no jobs:read)", "GET", "/api/v1/queues".into(), Body::None, 403),
        ("admin-write", "pause a queue", "POST", "/api/v1/queues/scratch/pause".into(), Body::None, 403),
        ("admin-write", "requeue dead letters", "POST", "/api/v1/dead-letters/requeue".into(), purge(), 403),
        (
            "admin-write",
            "put a schedule",
            "PUT",
            "/api/v1/schedules/hostile-s".into(),
            Body::Json(schedule_body("hostile-s")),
            403,
        ),
        ("admin-write", "add an admin", "POST", "/api/v1/users".into(), new_user("scoped-write"), 403),
        ("admin-users", "list users", "GET", "/api/v1/users".into(), Body::None, 200),
        ("admin-users", "enqueue", "POST", "/api/v1/queues/scratch/jobs".into(), enqueue(), 403),
        ("admin-users", "list queues", "GET", "/api/v1/queues".into(), Body::None, 403),
        ("admin-queues", "enqueue", "POST", "/api/v1/queues/scratch/jobs".into(), enqueue(), 403),
        ("admin-all", "add a user", "POST", "/api/v1/users".into(), new_user("scoped-all"), 201),
        ("viewer-all", "add an admin", "POST", "/api/v1/users".into(), new_user("scoped-viewer"), 403),
        ("viewer-all", "enqueue", "POST", "/api/v1/queues/scratch/jobs".into(), enqueue(), 403),
        ("viewer-all", "pause a queue", "POST", "/api/v1/queues/scratch/pause".into(), Body::None, 403),
        ("viewer-all", "purge dead letters", "POST", "/api/v1/dead-letters/purge".into(), purge(), 403),
        ("operator-all", "add an admin", "POST", "/api/v1/users".into(), new_user("scoped-operator"), 403),
        ("operator-all", "read the audit log", "GET", "/api/v1/audit".into(), Body::None, 403),
        (
            "alice-rw",
            "enqueue to a queue not allowed to her",
            "POST",
            "/api/v1/queues/scratch/jobs".into(),
            enqueue(),
            403,
        ),
        (
            "alice-rw",
            "read her own job",
            "GET",
            format!("/api/v1/queues/exports/jobs/{}", env.alice_job),
            Body::None,
            200,
        ),
        ("alice-rw", "read bob's job", "GET", format!("/api/v1/queues/exports/jobs/{}", env.bob_job), Body::None, 404),
        ("alice-rw", "list queues", "GET", "/api/v1/queues".into(), Body::None, 403),
    ];
    for (token, label, method, path, body, status) in table {
        let name = format!("{token} token: {label} → {status}");
        let who = Who::T(token);
        if status < 400 {
            s.allow(SCOPES, name, who, method, path, body, status);
        } else {
            s.refuse(SCOPES, name, who, method, path, body, status);
        }
    }
    s.add(SCOPES, "admin-queues token: pause and resume a queue → 200", |env| async move {
        let r = env.call(&Who::T("admin-queues"), "POST", "/api/v1/queues/tokq/pause", Body::None).await?;
        expect_success(&r, 200)?;
        let r = env.call(&Who::T("admin-queues"), "POST", "/api/v1/queues/tokq/resume", Body::None).await?;
        expect_success(&r, 200).map(|_| ())
    });
    s.add(SCOPES, "hoist token create refuses an unknown scope, naming it", |env| async move {
        let (ok, out, err) = env
            .cli
            .run(&["token", "create", "admin", "--name", "bogus-scope", "--scopes", "jobs:read,bogus:scope"])
            .await;
        if ok {
            return Err(format!("accepted: {out}"));
        }
        if !format!("{out}{err}").contains("bogus:scope") {
            return Err(format!("refused without naming the scope: {out}{err}"));
        }
        let made: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_tokens WHERE name = 'bogus-scope'")
            .fetch_one(&env.db.pool)
            .await
            .map_err(|e| e.to_string())?;
        if made > 0 { Err("a token was stored anyway".into()) } else { Ok(()) }
    });
    s.add(SCOPES, "hoist token create refuses a wildcard scope", |env| async move {
        let (ok, out, err) = env.cli.run(&["token", "create", "admin", "--name", "wild", "--scopes", "*"]).await;
        if ok { Err(format!("accepted: {out}{err}")) } else { Ok(()) }
    });
    s.add(SCOPES, "hoist token list names the tokens and prints no secret", |env| async move {
        let (ok, out, err) = env.cli.run(&["token", "list"]).await;
        if !ok {
            return Err(format!("hoist token list failed: {out}{err}"));
        }
        if !out.contains("admin-read") {
            return Err(format!("admin-read not listed: {out}"));
        }
        for (name, token) in &env.tokens {
            if out.contains(&token.secret) || out.contains(&token_hash(&token.secret)) {
                return Err(format!("the secret (or hash) of {name} is printed"));
            }
        }
        Ok(())
    });
}

/// An end user's own job in queue `exports` (no worker runs it): the generic enqueue path.
/// (Their `sync-connection` goes through "Sync now"; see the cross-user cases.)
fn user_job(conn: i64, options: Value) -> Value {
    json!({ "name": "monthly", "payload": { "connection_id": conn }, "options": options })
}

fn cross_user_cases(s: &mut Suite, env: &Env) {
    let alice_job = env.alice_job.clone();
    for (label, method, tail) in [
        ("read", "GET", ""),
        ("cancel", "POST", "/cancel"),
        ("retry", "POST", "/retry"),
        ("promote", "POST", "/promote"),
        ("retry with a new payload", "POST", "/retry-edited"),
        ("duplicate", "POST", "/duplicate"),
        ("remove", "DELETE", ""),
    ] {
        let body = if tail == "/retry-edited" { Body::Json(json!({ "payload": {} })) } else { Body::None };
        s.refuse(
            CROSS,
            format!("bob: {label} alice's job → 404"),
            Who::S("bob"),
            method,
            format!("/api/v1/queues/exports/jobs/{alice_job}{tail}"),
            body,
            404,
        );
    }
    s.add(CROSS, "alice's job survived bob's attempts (still delayed, hers)", |env| async move {
        let r = env.get(&Who::S("alice"), &format!("/api/v1/queues/exports/jobs/{}", env.alice_job)).await?;
        let job = expect_success(&r, 200)?;
        if job["state"] != "delayed" {
            return Err(format!("alice's job is now {}", job["state"]));
        }
        Ok(())
    });
    s.refuse(
        CROSS,
        "bob: read alice's connection → 404",
        Who::S("bob"),
        "GET",
        format!("/api/v1/connections/{}", env.alice_conn),
        Body::None,
        404,
    );
    s.refuse(
        CROSS,
        "bob: sync alice's connection → 404",
        Who::S("bob"),
        "POST",
        format!("/api/v1/connections/{}/sync", env.alice_conn),
        Body::None,
        404,
    );
    s.add(CROSS, "bob: listing connections shows only his", |env| async move {
        let r = env.get(&Who::S("bob"), "/api/v1/connections").await?;
        let list = expect_success(&r, 200)?;
        let bob = env.id_of("bob");
        let items = list.as_array().ok_or("not a list")?;
        if items.iter().any(|c| c["owner"] != bob.as_str()) {
            return Err(format!("someone else's connection listed: {}", r.seen()));
        }
        if !items.iter().any(|c| c["id"] == env.bob_conn) {
            return Err(format!("his own connection is missing: {}", r.seen()));
        }
        Ok(())
    });
    s.add(CROSS, "bob: job listings show only his jobs and `total` counts only his (every state)", |env| async move {
        let bob = env.id_of("bob");
        for state in ["waiting", "delayed", "completed", "dead", "cancelled"] {
            let path = format!("/api/v1/queues/exports/jobs?state={state}&limit=500");
            let all = expect_success(&env.get(&Who::S("admin"), &path).await?, 200)?;
            let expected =
                all["jobs"].as_array().map(|j| j.iter().filter(|j| j["owner"] == bob.as_str()).count()).unwrap_or(0);
            let r = env.get(&Who::S("bob"), &path).await?;
            let page = expect_success(&r, 200)?;
            let jobs = page["jobs"].as_array().ok_or("no jobs array")?;
            if let Some(other) = jobs.iter().find(|j| j["owner"] != bob.as_str()) {
                return Err(format!("{state}: bob sees job {} of owner {}", other["id"], other["owner"]));
            }
            if page["total"] != expected {
                return Err(format!(
                    "{state}: total {} but bob owns {expected} (queue has {})",
                    page["total"], all["total"]
                ));
            }
        }
        Ok(())
    });
    s.add(CROSS, "bob: listing with owner=<alice> still shows only his own", |env| async move {
        let bob = env.id_of("bob");
        let r = env
            .get(&Who::S("bob"), &format!("/api/v1/queues/exports/jobs?state=delayed&owner={}", env.id_of("alice")))
            .await?;
        let page = expect_success(&r, 200)?;
        if page["jobs"].as_array().is_some_and(|j| j.iter().any(|j| j["owner"] != bob.as_str())) {
            return Err(format!("alice's jobs listed: {}", r.seen()));
        }
        Ok(())
    });
    s.add(CROSS, "bob: dead letters and history show only his jobs", |env| async move {
        let bob = env.id_of("bob");
        let r = env.get(&Who::S("bob"), "/api/v1/dead-letters").await?;
        let dead = expect_success(&r, 200)?;
        if dead.as_array().is_some_and(|j| j.iter().any(|j| j["owner"] != bob.as_str())) {
            return Err(format!("another's dead job listed: {}", r.seen()));
        }
        let r = env.get(&Who::S("bob"), "/api/v1/history").await?;
        let history = expect_success(&r, 200)?;
        if history["records"].as_array().is_some_and(|j| j.iter().any(|j| j["owner"] != bob.as_str())) {
            return Err(format!("another's history listed: {}", r.seen()));
        }
        // Search, even asking for alice's jobs by owner, and its export.
        let alice = env.id_of("alice");
        for path in ["/api/v1/search".to_string(), format!("/api/v1/search?q=owner:{alice}")] {
            let r = env.get(&Who::S("bob"), &path).await?;
            let found = expect_success(&r, 200)?;
            if found["hits"].as_array().is_some_and(|j| j.iter().any(|j| j["owner"] != bob.as_str())) {
                return Err(format!("another's job found: {}", r.seen()));
            }
        }
        let r = env.get(&Who::S("bob"), "/api/v1/search/export").await?;
        if r.status != 200 || r.body.lines().any(|line| !line.contains(&format!("\"owner\":\"{bob}\""))) {
            return Err(format!("another's job exported: {}", r.seen()));
        }
        Ok(())
    });
    s.add(CROSS, "same dedup key used by alice and bob → both 202, two different jobs", |env| async move {
        let a = env
            .enqueue(
                &Who::S("alice"),
                "exports",
                user_job(env.alice_conn, json!({ "dedup_key": "shared-1", "delay": HOUR_MS })),
            )
            .await?;
        let b = env
            .enqueue(
                &Who::S("bob"),
                "exports",
                user_job(env.bob_conn, json!({ "dedup_key": "shared-1", "delay": HOUR_MS })),
            )
            .await?;
        if a == b { Err(format!("bob got alice's job {a}")) } else { Ok(()) }
    });
    s.add(CROSS, "a 409 on a taken dedup key only ever names the caller's own job", |env| async move {
        let a = env
            .enqueue(
                &Who::S("alice"),
                "exports",
                user_job(env.alice_conn, json!({ "dedup_key": "shared-2", "delay": HOUR_MS })),
            )
            .await?;
        let b = env
            .enqueue(
                &Who::S("bob"),
                "exports",
                user_job(env.bob_conn, json!({ "dedup_key": "shared-2", "delay": HOUR_MS })),
            )
            .await?;
        for (who, conn, own) in [("alice", env.alice_conn, &a), ("bob", env.bob_conn, &b)] {
            let r = env
                .post(
                    &Who::S(leak(who)),
                    "/api/v1/queues/exports/jobs",
                    user_job(conn, json!({ "dedup_key": "shared-2", "delay": HOUR_MS })),
                )
                .await?;
            let error = expect_error(&r, 409)?;
            if error["existing_id"] != own.as_str() {
                return Err(format!("{who}'s 409 names {} (own: {own})", error["existing_id"]));
            }
        }
        Ok(())
    });
    s.add(CROSS, "an end user's dedup key never collides with a staff job's key", |env| async move {
        let staff = env
            .enqueue(
                &Who::S("admin"),
                "exports",
                user_job(env.alice_conn, json!({ "dedup_key": "staff-key", "delay": HOUR_MS })),
            )
            .await?;
        let r = env
            .post(
                &Who::S("bob"),
                "/api/v1/queues/exports/jobs",
                user_job(env.bob_conn, json!({ "dedup_key": "staff-key", "delay": HOUR_MS })),
            )
            .await?;
        let created = expect_success(&r, 202)?;
        if created["id"] == staff.as_str() { Err("bob got the staff job's id".into()) } else { Ok(()) }
    });
    s.add(CROSS, "an end user cannot pre-take a scheduler key (schedule:NAME:TICK) → no clash", |env| async move {
        let r = env
            .post(
                &Who::S("bob"),
                "/api/v1/queues/exports/jobs",
                user_job(env.bob_conn, json!({ "dedup_key": "schedule:refresh-consents:1", "delay": HOUR_MS })),
            )
            .await?;
        // Either refused outright, or accepted in bob's own namespace.
        if r.status == 202 {
            return Ok(());
        }
        expect_error_in(&r, &[400, 403]).map(|_| ())
    });
    s.add(CROSS, "\"Sync now\" twice while the first waits or runs → 202 with the same job", |env| async move {
        let path = format!("/api/v1/connections/{}/sync", env.alice_conn);
        let first = expect_success(&env.call(&Who::S("alice"), "POST", &path, Body::None).await?, 202)?;
        let second = expect_success(&env.call(&Who::S("alice"), "POST", &path, Body::None).await?, 202)?;
        if first["job_id"] != second["job_id"] {
            return Err(format!("two jobs: {} and {}", first["job_id"], second["job_id"]));
        }
        Ok(())
    });
    s.add(CROSS, "bob syncs his own connection → the job completes", |env| async move {
        let r =
            env.call(&Who::S("bob"), "POST", &format!("/api/v1/connections/{}/sync", env.bob_conn), Body::None).await?;
        let started = expect_success(&r, 202)?;
        let id = started["job_id"].as_str().ok_or("no job_id")?.to_string();
        let job = env.poll_job(&Who::S("bob"), "sync", &id, Duration::from_secs(40)).await?;
        if job["state"] != "completed" {
            return Err(format!("ended {} ({})", job["state"], job["last_error"]));
        }
        Ok(())
    });
    s.add(
        CROSS,
        "bob enqueues sync-connection with alice's connection_id → 404 (Sync now's door), alice's connection untouched; his own → the same job twice",
        |env| async move {
            let theirs = json!({ "name": "sync-connection", "payload": { "connection_id": env.alice_conn } });
            let r = env.post(&Who::S("bob"), "/api/v1/queues/sync/jobs", theirs).await?;
            expect_error(&r, 404)?;
            let r = env.get(&Who::S("admin"), &format!("/api/v1/connections/{}", env.alice_conn)).await?;
            let connection = expect_success(&r, 200)?;
            let own = json!({ "name": "sync-connection", "payload": { "connection_id": env.bob_conn } });
            let first = expect_success(&env.post(&Who::S("bob"), "/api/v1/queues/sync/jobs", own.clone()).await?, 202)?;
            let again = expect_success(&env.post(&Who::S("bob"), "/api/v1/queues/sync/jobs", own).await?, 202)?;
            let r = env.get(&Who::S("admin"), &format!("/api/v1/connections/{}", env.alice_conn)).await?;
            if expect_success(&r, 200)? != connection {
                return Err("alice's connection changed".into());
            }
            // The same job while it waits or runs (or a new one if it had already finished).
            if first["id"] != again["id"] {
                let job = env.get(&Who::S("bob"), &format!("/api/v1/queues/sync/jobs/{}", first["id"].as_str().unwrap_or_default())).await?;
                let state = expect_success(&job, 200)?["state"].clone();
                if !matches!(state.as_str(), Some("completed" | "dead" | "cancelled")) {
                    return Err(format!("a second sync while the first is {state}"));
                }
            }
            Ok(())
        },
    );
}

fn end_user_cases(s: &mut Suite, env: &Env) {
    let conn = env.alice_conn;
    let bob = env.id_of("bob");
    let forbidden: Vec<(&str, Value, &'static [&'static str])> = vec![
        ("priority", json!({ "priority": 5, "delay": HOUR_MS }), &["options.priority"]),
        (
            "rate_limit",
            json!({ "rate_limit": { "key": "owner:1", "max": 1, "per": 1 }, "delay": HOUR_MS }),
            &["options.rate_limit"],
        ),
        ("max_attempts", json!({ "max_attempts": 10, "delay": HOUR_MS }), &["options.max_attempts"]),
        ("max_stalls", json!({ "max_stalls": 5, "delay": HOUR_MS }), &["options.max_stalls"]),
        ("timeout", json!({ "timeout": 60000, "delay": HOUR_MS }), &["options.timeout"]),
        ("backoff", json!({ "backoff": { "type": "fixed", "delay": 1000 }, "delay": HOUR_MS }), &["options.backoff"]),
        ("owner (bob's id)", json!({ "owner": bob, "delay": HOUR_MS }), &["options.owner"]),
        ("group (bob's)", json!({ "group": format!("user:{bob}"), "delay": HOUR_MS }), &["options.group"]),
    ];
    for (label, options, fields) in forbidden {
        s.add(END_USER, format!("alice sets {label} → 403 naming {}", fields[0]), move |env| async move {
            let r = env.post(&Who::S("alice"), "/api/v1/queues/exports/jobs", user_job(conn, options)).await?;
            expect_forbidden_naming(&r, fields)
        });
    }
    s.add(END_USER, "alice sets a delay of 24 h + 1 ms → 400/403 naming options.delay", move |env| async move {
        let r = env
            .post(&Who::S("alice"), "/api/v1/queues/exports/jobs", user_job(conn, json!({ "delay": DAY_MS + 1 })))
            .await?;
        if r.status == 403 {
            expect_forbidden_naming(&r, &["options.delay"])
        } else {
            expect_invalid(&r, &["options.delay"])
        }
    });
    s.add(END_USER, "alice sets delay u64::MAX → 400/403 naming options.delay", move |env| async move {
        let body = format!(
            r#"{{"name":"monthly","payload":{{"connection_id":{conn}}},"options":{{"delay":18446744073709551615}}}}"#
        );
        let r = env
            .call(
                &Who::S("alice"),
                "POST",
                "/api/v1/queues/exports/jobs",
                Body::Raw("application/json", body.into_bytes()),
            )
            .await?;
        if r.status == 403 {
            expect_forbidden_naming(&r, &["options.delay"])
        } else {
            expect_invalid(&r, &["options.delay"])
        }
    });
    for name in ["sync-all-org", "refresh-consents"] {
        s.refuse(
            END_USER,
            format!("alice enqueues `{name}` (not allowed to her) → 403"),
            Who::S("alice"),
            "POST",
            "/api/v1/queues/sync/jobs",
            Body::Json(json!({ "name": name, "payload": { "org": 1 } })),
            403,
        );
    }
    s.refuse(
        END_USER,
        "alice enqueues sync-connection to queue `demo` → 403",
        Who::S("alice"),
        "POST",
        "/api/v1/queues/demo/jobs",
        Body::Json(user_job(conn, json!({ "delay": HOUR_MS }))),
        403,
    );
    s.invalid(
        END_USER,
        "alice: dedup_key of 201 characters → 400 naming options.dedup_key",
        Who::S("alice"),
        "POST",
        "/api/v1/queues/exports/jobs",
        Body::Json(user_job(conn, json!({ "dedup_key": "k".repeat(201), "delay": HOUR_MS }))),
        &["options.dedup_key"],
    );
    s.invalid(
        END_USER,
        "alice: empty dedup_key → 400 naming options.dedup_key",
        Who::S("alice"),
        "POST",
        "/api/v1/queues/exports/jobs",
        Body::Json(user_job(conn, json!({ "dedup_key": "", "delay": HOUR_MS }))),
        &["options.dedup_key"],
    );
    s.add(END_USER, "alice: bulk with a priority in one job → 403 naming priority", move |env| async move {
        let body = json!({ "jobs": [user_job(conn, json!({ "delay": HOUR_MS })), user_job(conn, json!({ "priority": 1, "delay": HOUR_MS }))] });
        let r = env.post(&Who::S("alice"), "/api/v1/queues/exports/jobs/bulk", body).await?;
        expect_forbidden_naming(&r, &["priority"])
    });
    s.refuse(
        END_USER,
        "alice: bulk with a job name not allowed to her → 403",
        Who::S("alice"),
        "POST",
        "/api/v1/queues/sync/jobs/bulk",
        Body::Json(json!({ "jobs": [user_job(conn, json!({ "delay": HOUR_MS })), { "name": "sync-all-org", "payload": { "org": 1 } }] })),
        403,
    );
    s.allow(
        END_USER,
        "alice: delay of exactly 24 h with a dedup key → 202",
        Who::S("alice"),
        "POST",
        "/api/v1/queues/exports/jobs",
        Body::Json(user_job(conn, json!({ "delay": DAY_MS, "dedup_key": "alice-day" }))),
        202,
    );
    s.allow(
        END_USER,
        "alice: an option set to its default (max_attempts 3) → 202",
        Who::S("alice"),
        "POST",
        "/api/v1/queues/exports/jobs",
        Body::Json(user_job(conn, json!({ "delay": HOUR_MS, "max_attempts": 3 }))),
        202,
    );
    s.add(END_USER, "alice's accepted job is owned by her whatever she sends", move |env| async move {
        let id = env.enqueue(&Who::S("alice"), "exports", user_job(conn, json!({ "delay": HOUR_MS }))).await?;
        let r = env.get(&Who::S("admin"), &format!("/api/v1/queues/exports/jobs/{id}")).await?;
        let job = expect_success(&r, 200)?;
        if job["owner"] != env.id_of("alice").as_str() {
            return Err(format!("owner is {}", job["owner"]));
        }
        Ok(())
    });
}

/// A JSON enqueue body of exactly `size` bytes.
fn body_of_size(size: usize) -> Vec<u8> {
    let head = r#"{"name":"x","payload":""#;
    let tail = r#""}"#;
    let fill = size - head.len() - tail.len();
    format!("{head}{}{tail}", "a".repeat(fill)).into_bytes()
}

fn oversized_cases(s: &mut Suite) {
    for (label, method, path) in [
        ("enqueue", "POST", "/api/v1/queues/scratch/jobs"),
        ("bulk enqueue", "POST", "/api/v1/queues/scratch/jobs/bulk"),
        ("sign-in", "POST", "/api/v1/auth/login"),
        ("add a user", "POST", "/api/v1/users"),
        ("put a schedule", "PUT", "/api/v1/schedules/hostile-big"),
        ("purge dead letters", "POST", "/api/v1/dead-letters/purge"),
    ] {
        // Raw, so an answer sent before the whole body was read is still seen.
        s.add(OVERSIZED, format!("1 MiB + 1 body to {label} → 413 JSON"), move |env| async move {
            let mut headers = env.session_headers("admin")?;
            headers.push(("Content-Type", "application/json".into()));
            let request = env.raw_request(method, path, &headers, &body_of_size(MAX_BODY + 1));
            let r = env.raw(&request, Duration::from_secs(10)).await?.ok_or("closed without an answer")?;
            expect_error(&r, 413).map(|_| ())
        });
    }
    for (function, form) in
        [("sign_in", "username=vera&password="), ("queue_action", "queue=csrf-q&action=pause&csrf=CSRF&pad=")]
    {
        s.add(OVERSIZED, format!("1 MiB + 1 form to server fn {function} → 413 JSON"), move |env| async move {
            let admin = env.actor("admin")?.clone();
            let mut body = form.replace("CSRF", &admin.csrf).into_bytes();
            body.resize(MAX_BODY + 1, b'a');
            let headers = [
                ("Origin", env.origin.clone()),
                ("Cookie", admin.cookie.clone()),
                ("Content-Type", "application/x-www-form-urlencoded".to_string()),
            ];
            let request = env.raw_request("POST", &format!("/api/{function}"), &headers, &body);
            let r = env.raw(&request, Duration::from_secs(10)).await?.ok_or("closed without an answer")?;
            expect_error(&r, 413).map(|_| ())
        });
    }
    s.add(OVERSIZED, "Content-Length of 2 MiB with no body sent → 413 JSON at once", |env| async move {
        let mut headers = env.session_headers("admin")?;
        headers.push(("Content-Type", "application/json".into()));
        headers.push(("Content-Length", (2 * MAX_BODY).to_string()));
        let request = env.raw_request("POST", "/api/v1/queues/scratch/jobs", &headers, b"");
        let started = Instant::now();
        let r = env.raw(&request, Duration::from_secs(3)).await?.ok_or("closed without an answer")?;
        expect_error(&r, 413)?;
        if started.elapsed() > Duration::from_secs(2) {
            return Err(format!("answered after {:?}", started.elapsed()));
        }
        Ok(())
    });
    s.add(OVERSIZED, "chunked body over the limit → 413 JSON", |env| async move {
        let mut headers = env.session_headers("admin")?;
        headers.push(("Content-Type", "application/json".into()));
        headers.push(("Transfer-Encoding", "chunked".into()));
        let mut request = env.raw_request("POST", "/api/v1/queues/scratch/jobs", &headers, b"");
        let body = body_of_size(MAX_BODY + 4096);
        for chunk in body.chunks(65536) {
            request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            request.extend_from_slice(chunk);
            request.extend_from_slice(b"\r\n");
        }
        request.extend_from_slice(b"0\r\n\r\n");
        let r = env.raw(&request, Duration::from_secs(10)).await?.ok_or("closed without an answer")?;
        expect_error(&r, 413).map(|_| ())
    });
    s.add(OVERSIZED, "bulk of 1,001 jobs → 400 naming jobs", |env| async move {
        let jobs: Vec<Value> = (0..1001).map(|_| json!({ "name": "x" })).collect();
        let r = env.post(&Who::S("admin"), "/api/v1/queues/scratch/jobs/bulk", json!({ "jobs": jobs })).await?;
        expect_invalid(&r, &["jobs"])
    });
    s.invalid(
        OVERSIZED,
        "bulk of 0 jobs → 400 naming jobs",
        Who::S("admin"),
        "POST",
        "/api/v1/queues/scratch/jobs/bulk",
        Body::Json(json!({ "jobs": [] })),
        &["jobs"],
    );
    s.invalid(
        OVERSIZED,
        "job name of 100 KB → 400 naming name",
        Who::S("admin"),
        "POST",
        "/api/v1/queues/scratch/jobs",
        Body::Json(json!({ "name": "n".repeat(100_000) })),
        &["name"],
    );
    s.invalid(
        OVERSIZED,
        "queue name of 10 KB → 400 naming queue",
        Who::S("admin"),
        "POST",
        format!("/api/v1/queues/{}/jobs", "q".repeat(10_000)),
        Body::Json(json!({ "name": "x" })),
        &["queue"],
    );
    s.invalid(
        OVERSIZED,
        "schedule name of 10 KB → 400 naming name",
        Who::S("admin"),
        "PUT",
        format!("/api/v1/schedules/{}", "s".repeat(10_000)),
        Body::Json(schedule_body(&"s".repeat(10_000))),
        &["name", "schedule"],
    );
    s.invalid(
        OVERSIZED,
        "username of 10 KB → 400 naming username",
        Who::S("admin"),
        "POST",
        "/api/v1/users",
        Body::Json(json!({ "username": "u".repeat(10_000), "password": "long-Passw0rd-1", "role": "viewer" })),
        &["username"],
    );
    s.invalid(
        OVERSIZED,
        "dedup key of 100 KB → 400 naming options.dedup_key",
        Who::S("admin"),
        "POST",
        "/api/v1/queues/scratch/jobs",
        Body::Json(json!({ "name": "x", "options": { "dedup_key": "d".repeat(100_000) } })),
        &["options.dedup_key"],
    );
    s.add(OVERSIZED, "payload nested 100,000 arrays deep → 400, no crash", |env| async move {
        let depth = 100_000;
        let body = format!(r#"{{"name":"x","payload":{}{}}}"#, "[".repeat(depth), "]".repeat(depth));
        let r = env
            .call(
                &Who::S("admin"),
                "POST",
                "/api/v1/queues/scratch/jobs",
                Body::Raw("application/json", body.into_bytes()),
            )
            .await?;
        expect_error(&r, 400).map(|_| ())
    });
    s.add(OVERSIZED, "schedule with a job payload nested 50,000 objects deep → 400, no crash", |env| async move {
        let depth = 50_000;
        let payload = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
        let body = format!(
            r#"{{"name":"hostile-deep","cron":"0 0 1 1 *","queue":"scratch","job":{{"name":"x","payload":{payload}}}}}"#
        );
        let r = env
            .call(
                &Who::S("admin"),
                "PUT",
                "/api/v1/schedules/hostile-deep",
                Body::Raw("application/json", body.into_bytes()),
            )
            .await?;
        expect_error(&r, 400).map(|_| ())
    });
    s.add(OVERSIZED, "a 100 KB query string → 200 or a 4xx (400/414/431), never 5xx", |env| async move {
        let path = format!("/api/v1/queues/scratch/jobs?name={}", "n".repeat(100_000));
        let request = env.raw_request("GET", &path, &env.session_headers("admin")?, b"");
        match env.raw(&request, Duration::from_secs(10)).await? {
            Some(r) if r.status == 200 || (400..500).contains(&r.status) => Ok(()),
            Some(r) => Err(format!("got {}", r.seen())),
            None => Err("closed without an answer".into()),
        }
    });
}

fn malformed_cases(s: &mut Suite) {
    let post =
        |s: &mut Suite, name: &str, ctype: &'static str, body: &[u8], fields: Option<&'static [&'static str]>| {
            let body = body.to_vec();
            s.add(MALFORMED, name.to_string(), move |env| async move {
                let r =
                    env.call(&Who::S("admin"), "POST", "/api/v1/queues/scratch/jobs", Body::Raw(ctype, body)).await?;
                match fields {
                    Some(fields) => expect_invalid(&r, fields),
                    None => expect_error(&r, 400).map(|_| ()),
                }
            });
        };
    post(s, "enqueue body that is not JSON → 400", "application/json", b"not json at all", None);
    post(s, "enqueue truncated JSON → 400", "application/json", br#"{"name": "x""#, None);
    post(s, "enqueue JSON array where an object goes → 400", "application/json", br#"[{"name":"x"}]"#, None);
    post(s, "enqueue JSON string where an object goes → 400", "application/json", br#""x""#, None);
    post(s, "enqueue `null` → 400", "application/json", b"null", None);
    post(s, "enqueue empty body → 400", "application/json", b"", None);
    post(s, "enqueue body with invalid UTF-8 → 400", "application/json", b"{\"name\":\"\xff\xfe\"}", None);
    post(
        s,
        "enqueue with an unknown top-level field → 400 naming it",
        "application/json",
        br#"{"name":"x","bogus":1}"#,
        Some(&["bogus"]),
    );
    post(
        s,
        "enqueue with an unknown field inside options → 400 naming it",
        "application/json",
        br#"{"name":"x","options":{"priorty":1}}"#,
        Some(&["options.priorty"]),
    );
    post(
        s,
        "enqueue with an unknown field inside options.rate_limit → 400 naming it",
        "application/json",
        br#"{"name":"x","options":{"rate_limit":{"key":"k","max":1,"per":1000,"burst":9}}}"#,
        Some(&["options.rate_limit.burst"]),
    );
    post(
        s,
        "enqueue with an unknown field inside options.backoff → 400 naming it",
        "application/json",
        br#"{"name":"x","options":{"backoff":{"type":"fixed","delay":10,"jitterr":1}}}"#,
        Some(&["options.backoff.jitterr"]),
    );
    post(s, "enqueue with a numeric name → 400 naming name", "application/json", br#"{"name":5}"#, Some(&["name"]));
    post(
        s,
        "enqueue with options as a string → 400 naming options",
        "application/json",
        br#"{"name":"x","options":"fast"}"#,
        Some(&["options"]),
    );
    post(
        s,
        "enqueue with a duplicate key → 400 naming it",
        "application/json",
        br#"{"name":"a","name":"b"}"#,
        Some(&["name"]),
    );
    for (label, ctype) in [
        ("text/plain", "text/plain"),
        ("no Content-Type", ""),
        ("a form content type", "application/x-www-form-urlencoded"),
    ] {
        s.add(MALFORMED, format!("enqueue JSON sent as {label} → 400/415 JSON"), move |env| async move {
            let r = env
                .call(
                    &Who::S("admin"),
                    "POST",
                    "/api/v1/queues/scratch/jobs",
                    Body::Raw(ctype, br#"{"name":"x"}"#.to_vec()),
                )
                .await?;
            expect_error_in(&r, &[400, 415]).map(|_| ())
        });
    }
    let admin = || Who::S("admin");
    s.invalid(
        MALFORMED,
        "add a user with an unknown field → 400 naming it",
        admin(),
        "POST",
        "/api/v1/users",
        Body::Json(json!({ "username": "m1", "password": "m1-Passw0rd-x", "role": "viewer", "is_root": true })),
        &["is_root"],
    );
    s.invalid(
        MALFORMED,
        "add a user with `allowed_queues` (gone) → 400 naming it",
        admin(),
        "POST",
        "/api/v1/users",
        Body::Json(
            json!({ "username": "m2", "password": "m2-Passw0rd-x", "role": "user", "allowed_queues": ["sync"] }),
        ),
        &["allowed_queues"],
    );
    s.invalid(
        MALFORMED,
        "add a user with role superadmin → 400 naming role",
        admin(),
        "POST",
        "/api/v1/users",
        Body::Json(json!({ "username": "m3", "password": "m3-Passw0rd-x", "role": "superadmin" })),
        &["role"],
    );
    s.invalid(
        MALFORMED,
        "add a user with allowed_jobs as a list → 400 naming allowed_jobs",
        admin(),
        "POST",
        "/api/v1/users",
        Body::Json(json!({ "username": "m4", "password": "m4-Passw0rd-x", "role": "user", "allowed_jobs": ["sync"] })),
        &["allowed_jobs"],
    );
    s.invalid(
        MALFORMED,
        "change a user's role to root → 400 naming role",
        admin(),
        "PATCH",
        "/api/v1/users/vera",
        Body::Json(json!({ "role": "root" })),
        &["role"],
    );
    s.invalid(
        MALFORMED,
        "change a user with an unknown field → 400 naming it",
        admin(),
        "PATCH",
        "/api/v1/users/vera",
        Body::Json(json!({ "password_hash": "x" })),
        &["password_hash"],
    );
    let mut with_extra = schedule_body("hostile-x");
    with_extra["surprise"] = json!(1);
    s.invalid(
        MALFORMED,
        "put a schedule with an unknown field → 400 naming it",
        admin(),
        "PUT",
        "/api/v1/schedules/hostile-x",
        Body::Json(with_extra),
        &["surprise"],
    );
    let mut bad_cron = schedule_body("hostile-x");
    bad_cron["cron"] = json!("every tuesday");
    s.invalid(
        MALFORMED,
        "put a schedule with a bad cron → 400 naming cron",
        admin(),
        "PUT",
        "/api/v1/schedules/hostile-x",
        Body::Json(bad_cron),
        &["cron"],
    );
    let mut bad_zone = schedule_body("hostile-x");
    bad_zone["timezone"] = json!("Mars/Olympus_Mons");
    s.invalid(
        MALFORMED,
        "put a schedule with an unknown time zone → 400 naming timezone",
        admin(),
        "PUT",
        "/api/v1/schedules/hostile-x",
        Body::Json(bad_zone),
        &["timezone"],
    );
    s.invalid(
        MALFORMED,
        "maintenance with an unknown action → 400 naming action",
        admin(),
        "POST",
        "/api/v1/queues/malq/maintenance",
        Body::Json(json!({ "action": "explode" })),
        &["action"],
    );
    s.invalid(
        MALFORMED,
        "maintenance with an unknown field → 400 naming it",
        admin(),
        "POST",
        "/api/v1/queues/malq/maintenance",
        Body::Json(json!({ "action": "drain", "everything": true })),
        &["everything"],
    );
    s.refuse(
        MALFORMED,
        "dead-letter purge with `{}` → 400",
        admin(),
        "POST",
        "/api/v1/dead-letters/purge",
        Body::Json(json!({})),
        400,
    );
    s.invalid(
        MALFORMED,
        "dead-letter purge with an unknown field → 400 naming it",
        admin(),
        "POST",
        "/api/v1/dead-letters/purge",
        Body::Json(json!({ "jobs": { "queue": "scratch", "ids": [] }, "all": true })),
        &["all"],
    );
    s.invalid(
        MALFORMED,
        "list jobs with state=bogus → 400 naming state",
        admin(),
        "GET",
        "/api/v1/queues/scratch/jobs?state=bogus",
        Body::None,
        &["state"],
    );
    s.invalid(
        MALFORMED,
        "list jobs with limit=abc → 400 naming limit",
        admin(),
        "GET",
        "/api/v1/queues/scratch/jobs?limit=abc",
        Body::None,
        &["limit"],
    );
    s.invalid(
        MALFORMED,
        "history with from=abc → 400 naming from",
        admin(),
        "GET",
        "/api/v1/history?from=abc",
        Body::None,
        &["from"],
    );
    s.invalid(
        MALFORMED,
        "list jobs with state=%FF (not UTF-8) → 400 naming state",
        admin(),
        "GET",
        "/api/v1/queues/scratch/jobs?state=%FF",
        Body::None,
        &["state"],
    );
    s.invalid(
        MALFORMED,
        "path parameter %FF%FE (not UTF-8) → 400 naming queue",
        admin(),
        "GET",
        "/api/v1/queues/%FF%FE/jobs",
        Body::None,
        &["queue"],
    );
    s.invalid(
        MALFORMED,
        "path parameter with a bad escape (%ZZ) → 400 naming queue",
        admin(),
        "GET",
        "/api/v1/queues/%ZZ/jobs",
        Body::None,
        &["queue"],
    );
    s.invalid(
        MALFORMED,
        "connection id that is not a number → 400 naming id",
        admin(),
        "GET",
        "/api/v1/connections/abc",
        Body::None,
        &["id"],
    );
    s.invalid(
        MALFORMED,
        "raise a notification without email → 400 naming email",
        admin(),
        "POST",
        "/api/v1/notifications/sign-in",
        Body::Json(json!({ "user_id": "7", "ip": "203.0.113.9" })),
        &["email"],
    );
    s.add(MALFORMED, "server fn queue_action with missing fields → 400 JSON", |env| async move {
        let admin = env.actor("admin")?.clone();
        let r = env
            .server_fn(
                "queue_action",
                &[("csrf", admin.csrf.as_str())],
                Some(&admin.cookie),
                &[("origin", env.origin.clone())],
            )
            .await?;
        expect_error(&r, 400).map(|_| ())
    });
    s.add(MALFORMED, "server fn sign_in with a body that is not a form → 400 JSON", |env| async move {
        let r =
            env.server_fn_raw("sign_in", b"\xff\xfe%%%=&&=".to_vec(), None, &[("origin", env.origin.clone())]).await?;
        expect_error(&r, 400).map(|_| ())
    });
}

fn numeric_cases(s: &mut Suite) {
    let admin = || Who::S("admin");
    let get_invalid = |s: &mut Suite, name: &str, path: &str, fields: &'static [&'static str]| {
        s.invalid(NUMERIC, name.to_string(), Who::S("admin"), "GET", path.to_string(), Body::None, fields);
    };
    for (label, value) in [("0", "0"), ("-1", "-1"), ("10^30", "1000000000000000000000000000000"), ("501", "501")] {
        get_invalid(
            s,
            &format!("list jobs limit={label} → 400 naming limit"),
            &format!("/api/v1/queues/scratch/jobs?limit={value}"),
            &["limit"],
        );
    }
    get_invalid(
        s,
        "list jobs cursor=10^30 → 400 naming cursor",
        "/api/v1/queues/scratch/jobs?cursor=1000000000000000000000000000000",
        &["cursor"],
    );
    get_invalid(s, "list jobs cursor=-1 → 400 naming cursor", "/api/v1/queues/scratch/jobs?cursor=-1", &["cursor"]);
    for (label, path) in [
        ("list jobs cursor=u64::MAX", "/api/v1/queues/scratch/jobs?cursor=18446744073709551615&limit=500"),
        ("filtered list cursor=u64::MAX", "/api/v1/queues/scratch/jobs?cursor=18446744073709551615&name=x&limit=500"),
        ("end user's list cursor=u64::MAX", "/api/v1/queues/sync/jobs?cursor=18446744073709551615&limit=500"),
    ] {
        let who = if label.starts_with("end user") { Who::S("alice") } else { admin() };
        s.add(NUMERIC, format!("{label} → empty page or 400 naming cursor"), move |env| async move {
            let r = env.get(&who, path).await?;
            expect_ok_or_invalid(&r, &["cursor"])?;
            if r.status == 200 && r.j()["jobs"].as_array().is_none_or(|j| !j.is_empty()) {
                return Err(format!("a page past the end holds jobs: {}", r.seen()));
            }
            Ok(())
        });
    }
    let enqueue_raw = |s: &mut Suite, name: &str, options: &str, fields: &'static [&'static str]| {
        let body = format!(r#"{{"name":"x","options":{options}}}"#).into_bytes();
        s.invalid(
            NUMERIC,
            name.to_string(),
            Who::S("admin"),
            "POST",
            "/api/v1/queues/scratch/jobs",
            Body::Raw("application/json", body),
            fields,
        );
    };
    enqueue_raw(
        s,
        "delay u64::MAX → 400 naming options.delay",
        r#"{"delay":18446744073709551615}"#,
        &["options.delay"],
    );
    enqueue_raw(s, "delay -1 → 400 naming options.delay", r#"{"delay":-1}"#, &["options.delay"]);
    enqueue_raw(s, "group \"\" → 400 naming options.group", r#"{"group":""}"#, &["options.group"]);
    enqueue_raw(s, "group with a newline → 400 naming options.group", r#"{"group":"a\nb"}"#, &["options.group"]);
    enqueue_raw(s, "group 5 → 400 naming options.group", r#"{"group":5}"#, &["options.group"]);
    enqueue_raw(
        s,
        "group \"user:1\" (an end user's) → 400 naming options.group",
        r#"{"group":"user:1"}"#,
        &["options.group"],
    );
    s.invalid(
        NUMERIC,
        "group of 201 bytes → 400 naming options.group",
        Who::S("admin"),
        "POST",
        "/api/v1/queues/scratch/jobs",
        Body::Raw(
            "application/json",
            format!(r#"{{"name":"x","options":{{"group":"{}"}}}}"#, "g".repeat(201)).into_bytes(),
        ),
        &["options.group"],
    );
    enqueue_raw(s, "delay 1e300 → 400 naming options.delay", r#"{"delay":1e300}"#, &["options.delay"]);
    enqueue_raw(
        s,
        "max_attempts 0 → 400 naming options.max_attempts",
        r#"{"max_attempts":0}"#,
        &["options.max_attempts"],
    );
    enqueue_raw(
        s,
        "max_attempts 2^32 → 400 naming options.max_attempts",
        r#"{"max_attempts":4294967296}"#,
        &["options.max_attempts"],
    );
    enqueue_raw(
        s,
        "max_attempts 1001 → 400 naming options.max_attempts",
        r#"{"max_attempts":1001}"#,
        &["options.max_attempts"],
    );
    enqueue_raw(s, "priority 65536 → 400 naming options.priority", r#"{"priority":65536}"#, &["options.priority"]);
    enqueue_raw(s, "priority 1001 → 400 naming options.priority", r#"{"priority":1001}"#, &["options.priority"]);
    enqueue_raw(s, "priority -1 → 400 naming options.priority", r#"{"priority":-1}"#, &["options.priority"]);
    enqueue_raw(s, "priority 1.5 → 400 naming options.priority", r#"{"priority":1.5}"#, &["options.priority"]);
    enqueue_raw(s, "timeout 0 → 400 naming options.timeout", r#"{"timeout":0}"#, &["options.timeout"]);
    enqueue_raw(
        s,
        "timeout u64::MAX → 400 naming options.timeout",
        r#"{"timeout":18446744073709551615}"#,
        &["options.timeout"],
    );
    enqueue_raw(
        s,
        "max_stalls 2^32 → 400 naming options.max_stalls",
        r#"{"max_stalls":4294967296}"#,
        &["options.max_stalls"],
    );
    enqueue_raw(
        s,
        "rate_limit per 0 → 400 naming options.rate_limit",
        r#"{"rate_limit":{"key":"k","max":1,"per":0}}"#,
        &["options.rate_limit"],
    );
    enqueue_raw(
        s,
        "rate_limit max 2^32 → 400 naming options.rate_limit",
        r#"{"rate_limit":{"key":"k","max":4294967296,"per":1000}}"#,
        &["options.rate_limit.max"],
    );
    enqueue_raw(
        s,
        "backoff base u64::MAX → 400 naming options.backoff",
        r#"{"backoff":{"type":"exponential","base":18446744073709551615,"cap":18446744073709551615,"jitter":0.1}}"#,
        &["options.backoff"],
    );
    for (label, value) in
        [("0", "0"), ("-1", "-1"), ("10^12", "1000000000000"), ("i64::MAX + 1", "9223372036854775808")]
    {
        get_invalid(
            s,
            &format!("metrics minutes={label} → 400 naming minutes"),
            &format!("/api/v1/queues/scratch/metrics?minutes={value}"),
            &["minutes"],
        );
    }
    get_invalid(s, "dead letters limit=0 → 400 naming limit", "/api/v1/dead-letters?limit=0", &["limit"]);
    get_invalid(
        s,
        "dead letters limit=10^30 → 400 naming limit",
        "/api/v1/dead-letters?limit=1000000000000000000000000000000",
        &["limit"],
    );
    s.add(NUMERIC, "dead letters older_than_ms=u64::MAX → 200 or 400, never 5xx", |env| async move {
        let r = env
            .get(
                &Who::S("admin"),
                "/api/v1/dead-letters?older_than_ms=18446744073709551615&newer_than_ms=18446744073709551615",
            )
            .await?;
        expect_ok_or_invalid(&r, &["older_than_ms", "newer_than_ms"])
    });
    get_invalid(s, "audit limit=-1 → 400 naming limit", "/api/v1/audit?limit=-1", &["limit"]);
    get_invalid(s, "audit limit=0 → 400 naming limit", "/api/v1/audit?limit=0", &["limit"]);
    get_invalid(s, "audit limit=10^12 → 400 naming limit", "/api/v1/audit?limit=1000000000000", &["limit"]);
    s.add(NUMERIC, "audit before=i64::MIN → 200 or 400, never 5xx", |env| async move {
        let r = env.get(&Who::S("admin"), "/api/v1/audit?before=-9223372036854775808").await?;
        expect_ok_or_invalid(&r, &["before"])
    });
    get_invalid(s, "history limit=0 → 400 naming limit", "/api/v1/history?limit=0", &["limit"]);
    get_invalid(s, "search limit=201 → 400 naming limit", "/api/v1/search?limit=201", &["limit"]);
    get_invalid(s, "search with a NUL → 400 naming q", "/api/v1/search?q=a%00b", &["q"]);
    get_invalid(s, "search with an unknown qualifier → 400 naming q", "/api/v1/search?q=colour:red", &["q"]);
    get_invalid(s, "search index 10^10 → 400 naming q", "/api/v1/search?q=payload.a.10000000000:1", &["q"]);
    get_invalid(s, "search with a forged cursor → 400 naming cursor", "/api/v1/search?cursor=done:x:y:z", &["cursor"]);
    get_invalid(s, "search export format=xml → 400 naming format", "/api/v1/search/export?format=xml", &["format"]);
    s.add(NUMERIC, "search payload index 999999999 and age 10^6 weeks → 200 or 400, never 5xx", |env| async move {
        let r = env.get(&Who::S("admin"), "/api/v1/search?q=payload.a.999999999:1%20after:1000000w").await?;
        expect_ok_or_invalid(&r, &["q"])
    });
    get_invalid(s, "history limit=2^32 → 400 naming limit", "/api/v1/history?limit=4294967296", &["limit"]);
    get_invalid(s, "connection id 10^20 → 400 naming id", "/api/v1/connections/100000000000000000000", &["id"]);
    s.refuse(NUMERIC, "connection id -1 → 404", admin(), "GET", "/api/v1/connections/-1", Body::None, 404);
    s.add(NUMERIC, "clean with older_than_ms u64::MAX → 200 or 400, never 5xx", |env| async move {
        let body = br#"{"action":"clean","state":"completed","older_than_ms":18446744073709551615}"#.to_vec();
        let r = env
            .call(&Who::S("admin"), "POST", "/api/v1/queues/scratch/maintenance", Body::Raw("application/json", body))
            .await?;
        expect_ok_or_invalid(&r, &["older_than_ms"])
    });
    s.add(NUMERIC, "schedule with stagger and max_runs u64::MAX → 200 or 400, never 5xx", |env| async move {
        let mut body = schedule_body("hostile-num").to_string();
        body.pop();
        body.push_str(
            r#","stagger":18446744073709551615,"max_runs":18446744073709551615,"start_at":-9223372036854775808}"#,
        );
        let r = env
            .call(
                &Who::S("admin"),
                "PUT",
                "/api/v1/schedules/hostile-num",
                Body::Raw("application/json", body.into_bytes()),
            )
            .await?;
        expect_ok_or_invalid(&r, &["stagger", "max_runs", "start_at"])
    });
}

fn name_cases(s: &mut Suite) {
    let chars: [(&str, &str); 5] = [
        ("NUL", "\u{0}"),
        ("CR LF", "\r\n"),
        ("U+200B zero-width space", "\u{200B}"),
        ("U+202E bidi override", "\u{202E}"),
        ("U+FEFF byte-order mark", "\u{FEFF}"),
    ];
    for (label, ch) in chars {
        let queue = format!("q{ch}x");
        s.invalid(
            NAMES,
            format!("queue name with {label} → 400 naming queue"),
            Who::S("admin"),
            "POST",
            format!("/api/v1/queues/{}/jobs", enc(&queue)),
            Body::Json(json!({ "name": "x" })),
            &["queue"],
        );
        s.invalid(
            NAMES,
            format!("job name with {label} → 400 naming name"),
            Who::S("admin"),
            "POST",
            "/api/v1/queues/scratch/jobs",
            Body::Json(json!({ "name": format!("job{ch}name") })),
            &["name"],
        );
        let schedule = format!("sched{ch}x");
        s.invalid(
            NAMES,
            format!("schedule name with {label} → 400 naming name"),
            Who::S("admin"),
            "PUT",
            format!("/api/v1/schedules/{}", enc(&schedule)),
            Body::Json(schedule_body(&schedule)),
            &["name", "schedule"],
        );
        s.invalid(
            NAMES,
            format!("username with {label} → 400 naming username"),
            Who::S("admin"),
            "POST",
            "/api/v1/users",
            Body::Json(json!({ "username": format!("user{ch}x"), "password": "name-Passw0rd-1", "role": "viewer" })),
            &["username"],
        );
        s.invalid(
            NAMES,
            format!("dedup key with {label} → 400 naming options.dedup_key"),
            Who::S("admin"),
            "POST",
            "/api/v1/queues/scratch/jobs",
            Body::Json(json!({ "name": "x", "options": { "dedup_key": format!("key{ch}x") } })),
            &["options.dedup_key"],
        );
    }
    s.invalid(
        NAMES,
        "end user's dedup key with U+202E → 400 naming options.dedup_key",
        Who::S("alice"),
        "POST",
        "/api/v1/queues/sync/jobs",
        Body::Json(json!({ "name": "sync-connection", "payload": { "connection_id": 0 }, "options": { "dedup_key": "a\u{202E}b", "delay": HOUR_MS } })),
        &["options.dedup_key"],
    );
    s.invalid(
        NAMES,
        "job name with a tab → 400 naming name",
        Who::S("admin"),
        "POST",
        "/api/v1/queues/scratch/jobs",
        Body::Json(json!({ "name": "tab\there" })),
        &["name"],
    );
    s.add(NAMES, "payload text with those characters is data: 202 and read back unchanged", |env| async move {
        let text = "nul\u{0} crlf\r\n zwsp\u{200B} bidi\u{202E} bom\u{FEFF} <script>";
        let id = env.enqueue(&Who::S("admin"), "scratch", json!({ "name": "x", "payload": { "text": text } })).await?;
        let r = env.get(&Who::S("admin"), &format!("/api/v1/queues/scratch/jobs/{id}")).await?;
        let job = expect_success(&r, 200)?;
        if job["payload"]["text"] != text {
            return Err(format!("payload changed: {}", job["payload"]));
        }
        Ok(())
    });
}

fn path_cases(s: &mut Suite) {
    s.add(
        PATHS,
        "raw `..` segment as a viewer (GET /api/v1/queues/../users) → 400/404/405 JSON, never the users",
        |env| async move {
            let r = env.raw_get("/api/v1/queues/../users", &env.session_headers("vera")?).await?;
            expect_error_in(&r, &[400, 404, 405]).map(|_| ())
        },
    );
    s.add(
        PATHS,
        "raw `..` segments climbing out of /api/v1 as a viewer → never 200 JSON of another route",
        |env| async move {
            let r = env.raw_get("/api/v1/queues/../../v1/users", &env.session_headers("vera")?).await?;
            if r.status == 200 && r.ctype.starts_with("application/json") {
                return Err(format!("answered: {}", r.seen()));
            }
            if r.status >= 500 { Err(r.seen()) } else { Ok(()) }
        },
    );
    s.add(PATHS, "queue `..%2Fusers` → 400 naming queue", |env| async move {
        let r = env.raw_get("/api/v1/queues/..%2Fusers/jobs", &env.session_headers("admin")?).await?;
        expect_invalid(&r, &["queue"])
    });
    s.add(PATHS, "queue `a%2Fb` (encoded slash) → 400 naming queue", |env| async move {
        let r = env.raw_get("/api/v1/queues/a%2Fb/jobs", &env.session_headers("admin")?).await?;
        expect_invalid(&r, &["queue"])
    });
    s.add(PATHS, "`scratch%2Fjobs` as one segment → 404 JSON", |env| async move {
        let r = env.raw_get("/api/v1/queues/scratch%2Fjobs", &env.session_headers("admin")?).await?;
        expect_error(&r, 404).map(|_| ())
    });
    s.add(PATHS, "job id `..%2F..%2Fhealth` → 400/404 JSON", |env| async move {
        let r = env.raw_get("/api/v1/queues/scratch/jobs/..%2F..%2Fhealth", &env.session_headers("admin")?).await?;
        expect_error_in(&r, &[400, 404]).map(|_| ())
    });
    s.add(PATHS, "PATCH /users/..%2Fvera as admin → 400/404 JSON, vera unchanged", |env| async move {
        let mut headers = env.session_headers("admin")?;
        headers.push(("Content-Type", "application/json".into()));
        let request = env.raw_request("PATCH", "/api/v1/users/..%2Fvera", &headers, br#"{"role":"admin"}"#);
        let r = env.raw(&request, Duration::from_secs(10)).await?.ok_or("closed without an answer")?;
        expect_error_in(&r, &[400, 404])?;
        let users = expect_success(&env.get(&Who::S("admin"), "/api/v1/users").await?, 200)?;
        let vera =
            users.as_array().and_then(|u| u.iter().find(|u| u["username"] == "vera")).cloned().unwrap_or_default();
        if vera["role"] != "viewer" { Err(format!("vera is now {}", vera["role"])) } else { Ok(()) }
    });
    s.add(PATHS, "DELETE /schedules/..%2Fhostile-s as operator → 400/404, the schedule remains", |env| async move {
        let request = env.raw_request("DELETE", "/api/v1/schedules/..%2Fhostile-s", &env.session_headers("opal")?, b"");
        let r = env.raw(&request, Duration::from_secs(10)).await?.ok_or("closed without an answer")?;
        expect_error_in(&r, &[400, 404])?;
        let r = env.get(&Who::S("admin"), "/api/v1/schedules/hostile-s").await?;
        expect_status(&r, 200)
    });
    s.add(PATHS, "queue name of 200 characters → 400 naming queue", |env| async move {
        let r =
            env.raw_get(&format!("/api/v1/queues/{}/jobs", "a".repeat(200)), &env.session_headers("admin")?).await?;
        expect_invalid(&r, &["queue"])
    });
    s.add(PATHS, "a 60 KB path → a 4xx (404/414/431), never 5xx", |env| async move {
        let r = env.raw_get(&format!("/api/v1/{}", "x/".repeat(30_000)), &env.session_headers("admin")?).await?;
        if (400..500).contains(&r.status) { Ok(()) } else { Err(format!("got {}", r.seen())) }
    });
}

fn route_cases(s: &mut Suite, env: &Env) {
    let job = env.scratch_jobs.get(5).cloned().unwrap_or_default();
    let admin = || Who::S("admin");
    for path in ["/api/v1/nope", "/api/v1", "/api/v1/", "/api/v1/queues/scratch/jobs/x/y/z/w"] {
        s.refuse(ROUTES, format!("GET {path} → 404 JSON"), admin(), "GET", path, Body::None, 404);
    }
    s.add(ROUTES, "GET /api/v1/nope without credentials → 401/404 JSON", |env| async move {
        let r = env.get(&Who::Anon, "/api/v1/nope").await?;
        expect_error_in(&r, &[401, 404]).map(|_| ())
    });
    s.add(ROUTES, "GET /api/v1/queues/scratch → 404/405 JSON", |env| async move {
        let r = env.get(&Who::S("admin"), "/api/v1/queues/scratch").await?;
        expect_error_in(&r, &[404, 405]).map(|_| ())
    });
    for (method, path) in [
        ("DELETE", "/api/v1/queues"),
        ("PUT", "/api/v1/auth/login"),
        ("PATCH", "/api/v1/queues/scratch/jobs"),
        ("GET", "/api/v1/dead-letters/purge"),
        ("TRACE", "/api/v1/queues"),
        ("FOO", "/api/v1/queues"),
        ("POST", "/api/v1/audit"),
        ("DELETE", "/api/v1/users/vera"),
    ] {
        s.refuse(ROUTES, format!("{method} {path} → 405 JSON"), admin(), method, path, Body::None, 405);
    }
    s.refuse(
        ROUTES,
        "POST a job action `explode` → 404 JSON",
        admin(),
        "POST",
        format!("/api/v1/queues/scratch/jobs/{job}/explode"),
        Body::None,
        404,
    );
    s.refuse(
        ROUTES,
        "POST a schedule action `explode` → 404 JSON",
        admin(),
        "POST",
        "/api/v1/schedules/hostile-s/explode",
        Body::None,
        404,
    );
    s.refuse(
        ROUTES,
        "POST a queue action `explode` → 404 JSON",
        admin(),
        "POST",
        "/api/v1/queues/scratch/explode",
        Body::None,
        404,
    );
    s.refuse(
        ROUTES,
        "GET an unknown job → 404 JSON",
        admin(),
        "GET",
        "/api/v1/queues/scratch/jobs/no-such-job",
        Body::None,
        404,
    );
    s.refuse(
        ROUTES,
        "GET an unknown schedule → 404 JSON",
        admin(),
        "GET",
        "/api/v1/schedules/no-such-schedule",
        Body::None,
        404,
    );
    s.refuse(
        ROUTES,
        "PATCH an unknown user → 404 JSON",
        admin(),
        "PATCH",
        "/api/v1/users/no-such-user",
        Body::Json(json!({ "disabled": true })),
        404,
    );
}

fn slow_cases(s: &mut Suite) {
    let limit = Duration::from_secs(HEADER_READ_TIMEOUT + 2);
    s.add(SLOW, "half the request headers, then silence → closed within the header timeout + 2 s; others answered within 2 s meanwhile", move |env| async move {
        let started = Instant::now();
        let mut stream = TcpStream::connect(("127.0.0.1", env.port)).await.map_err(|e| e.to_string())?;
        stream
            .write_all(format!("GET /api/v1/queues HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nX-Half: ", env.port).as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let asked = Instant::now();
        let r = env.get(&Who::S("admin"), "/api/v1/auth/me").await?;
        expect_status(&r, 200)?;
        if asked.elapsed() > Duration::from_secs(2) {
            return Err(format!("a normal request took {:?} meanwhile", asked.elapsed()));
        }
        closed_by(&mut stream, started + limit).await.map(|_| ()).map_err(|e| format!("{e} after {:?}", started.elapsed()))
    });
    s.add(SLOW, "connect and send nothing → closed within the header timeout + 2 s", move |env| async move {
        let started = Instant::now();
        let mut stream = TcpStream::connect(("127.0.0.1", env.port)).await.map_err(|e| e.to_string())?;
        closed_by(&mut stream, started + limit)
            .await
            .map(|_| ())
            .map_err(|e| format!("{e} after {:?}", started.elapsed()))
    });
    s.add(
        SLOW,
        "headers trickled a byte every 250 ms (slowloris) → closed within the header timeout + 2 s",
        move |env| async move {
            let started = Instant::now();
            let mut stream = TcpStream::connect(("127.0.0.1", env.port)).await.map_err(|e| e.to_string())?;
            let head = format!("GET /api/v1/queues HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n", env.port);
            if stream.write_all(head.as_bytes()).await.is_err() {
                return Ok(());
            }
            let trickle = b"X-Slow: abcdefghijklmnopqrstuvwxyz\r\n";
            let mut buf = [0u8; 1024];
            let mut i = 0usize;
            loop {
                if started.elapsed() > limit {
                    return Err(format!("still open after {:?}", started.elapsed()));
                }
                let byte = [trickle[i % trickle.len()]];
                i += 1;
                if stream.write_all(&byte).await.is_err() {
                    return Ok(());
                }
                match tokio::time::timeout(Duration::from_millis(250), stream.read(&mut buf)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => return Ok(()),
                    Ok(Ok(_)) => {
                        return closed_by(&mut stream, started + limit)
                            .await
                            .map(|_| ())
                            .map_err(|e| format!("answered, then {e}"));
                    }
                    Err(_) => {}
                }
            }
        },
    );
    s.add(
        SLOW,
        "50 idle connections (half with partial headers) → a normal request is still answered within 3 s",
        |env| async move {
            let mut idle = vec![];
            for i in 0..50 {
                let mut stream =
                    TcpStream::connect(("127.0.0.1", env.port)).await.map_err(|e| format!("connection {i}: {e}"))?;
                if i % 2 == 0 {
                    let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await;
                }
                idle.push(stream);
            }
            let asked = Instant::now();
            let r = env.get(&Who::S("admin"), "/api/v1/queues").await?;
            expect_status(&r, 200)?;
            let took = asked.elapsed();
            drop(idle);
            if took > Duration::from_secs(3) { Err(format!("took {took:?}")) } else { Ok(()) }
        },
    );
    s.add(SLOW, "a body that stops arriving → 408 or closed within the request timeout + 3 s", |env| async move {
        let started = Instant::now();
        let mut stream = TcpStream::connect(("127.0.0.1", env.port)).await.map_err(|e| e.to_string())?;
        let head = format!(
            "POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"user",
            env.port
        );
        stream.write_all(head.as_bytes()).await.map_err(|e| e.to_string())?;
        let seen = closed_by(&mut stream, started + Duration::from_secs(REQUEST_TIMEOUT + 3))
            .await
            .map_err(|e| format!("{e} after {:?}", started.elapsed()))?;
        if seen.is_empty() || seen.starts_with(b"HTTP/1.1 408") {
            Ok(())
        } else {
            Err(format!("answered: {}", String::from_utf8_lossy(&seen[..seen.len().min(200)])))
        }
    });
    s.add(SLOW, "a garbage request line → 400 or closed, and the server answers the next request", |env| async move {
        let r = env.raw(b"HELLO WORLD\r\n\r\n", Duration::from_secs(5)).await?;
        if let Some(r) = r
            && r.status != 400
        {
            return Err(format!("got {}", r.seen()));
        }
        let health = env.get(&Who::Anon, "/healthz").await?;
        expect_status(&health, 200)
    });
}

fn final_cases(s: &mut Suite) {
    s.add(FINAL, "no request handler panicked (server log)", |env| async move {
        let log = std::fs::read_to_string(&env.log).unwrap_or_default();
        let panics: Vec<&str> = log.lines().filter(|l| l.contains("panicked at")).collect();
        if panics.is_empty() { Ok(()) } else { Err(format!("{} panics:\n    {}", panics.len(), panics.join("\n    "))) }
    });
    s.add(FINAL, "no answer of the whole run was a 5xx", |env| async move {
        let fives = env.fives.lock().unwrap().clone();
        if fives.is_empty() {
            Ok(())
        } else {
            Err(format!("{} answers were 5xx:\n    {}", fives.len(), fives.join("\n    ")))
        }
    });
}

// ---------------------------------------------------------------------------------------
// Set-up: users, sessions, tokens, connections and jobs, all through the API and CLI
// ---------------------------------------------------------------------------------------

async fn login(env: &Env, name: &str, password: &str) -> Result<Actor, String> {
    let r = env.post(&Who::Anon, "/api/v1/auth/login", json!({ "username": name, "password": password })).await?;
    if r.status != 200 {
        return Err(format!("sign-in of {name}: {}", r.seen()));
    }
    let cookie = r
        .headers_named("set-cookie")
        .find(|c| c.starts_with("hoist_session="))
        .map(|c| c.split(';').next().unwrap_or_default().to_string())
        .ok_or_else(|| format!("sign-in of {name}: no session cookie"))?;
    let body = r.j();
    let csrf = body["csrf_token"].as_str().unwrap_or_default().to_string();
    let id = body["user"]["id"].as_i64().ok_or_else(|| format!("sign-in of {name}: no user id in {}", r.seen()))?;
    Ok(Actor { id, cookie, csrf })
}

async fn add_user(env: &Env, name: &str, role: &str, allowed_jobs: Option<Value>, notes: &mut Vec<String>) {
    let mut body = json!({ "username": name, "password": password_of(name), "role": role });
    if let Some(jobs) = &allowed_jobs {
        body["allowed_jobs"] = jobs.clone();
    }
    let r = match env.post(&Who::S("admin"), "/api/v1/users", body.clone()).await {
        Ok(r) => r,
        Err(e) => return notes.push(format!("adding {name}: {e}")),
    };
    if r.status == 201 {
        return;
    }
    if let Some(jobs) = allowed_jobs
        && r.status == 400
    {
        // A server from before the contract only knows allowed_queues.
        let queues: Vec<String> = jobs.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
        body.as_object_mut().unwrap().remove("allowed_jobs");
        body["allowed_queues"] = json!(queues);
        if let Ok(r2) = env.post(&Who::S("admin"), "/api/v1/users", body).await
            && r2.status == 201
        {
            notes
                .push(format!("{name}: `allowed_jobs` refused ({}); created with allowed_queues {queues:?}", r.seen()));
            return;
        }
    }
    notes.push(format!("adding {name}: {}", r.seen()));
}

async fn create_token(env: &Env, user: &str, name: &str, scopes: &str, notes: &mut Vec<String>) -> Option<Token> {
    let (ok, out, err) = env.cli.run(&["token", "create", user, "--name", name, "--scopes", scopes]).await;
    if !ok {
        notes.push(format!("token {name}: hoist token create failed: {out}{err}"));
        return None;
    }
    let secret = out
        .split_whitespace()
        .find(|w| w.starts_with("hoist_"))
        .map(|w| w.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_').to_string());
    let Some(secret) = secret else {
        notes.push(format!("token {name}: no secret in the output: {out}"));
        return None;
    };
    let id: Option<i64> = sqlx::query_scalar("SELECT id FROM api_tokens WHERE token_hash = $1")
        .bind(token_hash(&secret))
        .fetch_optional(&env.db.pool)
        .await
        .ok()
        .flatten();
    match id {
        Some(id) => Some(Token { secret, id }),
        None => {
            notes.push(format!("token {name}: not found in api_tokens by its hash"));
            None
        }
    }
}

async fn setup(env: &mut Env) -> Vec<String> {
    let mut notes = vec![];
    match login(env, "admin", ADMIN_PASSWORD).await {
        Ok(admin) => {
            env.actors.insert("admin".into(), admin);
        }
        Err(e) => {
            notes.push(e);
            return notes;
        }
    }
    let sync_jobs = json!({ "sync": ["sync-connection"], "exports": ["monthly"] });
    let users: [(&str, &str, Option<Value>); 15] = [
        ("opal", "operator", None),
        ("vera", "viewer", None),
        ("alice", "user", Some(sync_jobs.clone())),
        ("bob", "user", Some(sync_jobs.clone())),
        ("carol", "user", Some(sync_jobs.clone())),
        ("dora", "viewer", None),
        ("dina", "viewer", None),
        ("erin", "operator", None),
        ("sock", "viewer", None),
        ("pat", "viewer", None),
        ("tess", "viewer", None),
        ("lou", "viewer", None),
        ("vic", "viewer", None),
        ("sol", "viewer", None),
        ("lena", "viewer", None),
    ];
    for (name, role, jobs) in users {
        add_user(env, name, role, jobs, &mut notes).await;
    }
    for name in ["opal", "vera", "alice", "bob", "carol", "dora", "dina", "erin", "sock", "pat", "lou", "vic", "sol"] {
        match login(env, name, &password_of(name)).await {
            Ok(actor) => {
                env.actors.insert(name.into(), actor);
            }
            Err(e) => notes.push(e),
        }
    }

    // Bank connections of alice and bob, straight into the same SQLite file.
    use hoist_server::processors::sync::store;
    match store::create_organisation(&env.db, "Hostile Org").await {
        Ok(org) => {
            for (who, external) in [("alice", "hostile-alice-1"), ("bob", "hostile-bob-1")] {
                let owner = env.id_of(who);
                match store::create_connection(&env.db, org, &owner, external, "Hostile Bank", None).await {
                    Ok(id) if who == "alice" => env.alice_conn = id,
                    Ok(id) => env.bob_conn = id,
                    Err(e) => notes.push(format!("connection of {who}: {e}")),
                }
            }
        }
        Err(e) => notes.push(format!("organisation: {e}")),
    }

    let all = "jobs:read,jobs:write,queues:admin,schedules:write,users:admin,notifications:write";
    let tokens: [(&str, &str, &str); 11] = [
        ("admin-read", "admin", "jobs:read"),
        ("admin-write", "admin", "jobs:write"),
        ("admin-users", "admin", "users:admin"),
        ("admin-queues", "admin", "queues:admin"),
        ("admin-all", "admin", all),
        ("viewer-all", "vera", all),
        ("operator-all", "opal", all),
        ("alice-rw", "alice", "jobs:read,jobs:write"),
        ("dora-read", "dora", "jobs:read"),
        ("tess-read", "tess", "jobs:read"),
        ("expired", "admin", "jobs:read"),
    ];
    for (name, user, scopes) in tokens {
        if let Some(token) = create_token(env, user, name, scopes, &mut notes).await {
            env.tokens.insert(name.into(), token);
        }
    }
    if let Some(token) = env.tokens.get("expired") {
        let done = sqlx::query("UPDATE api_tokens SET expires_at = 1 WHERE id = $1")
            .bind(token.id)
            .execute(&env.db.pool)
            .await;
        if let Err(e) = done {
            notes.push(format!("expiring a token: {e}"));
        }
    }
    if let Some(token) = create_token(env, "admin", "revoked", "jobs:read", &mut notes).await {
        let (ok, out, err) = env.cli.run(&["token", "revoke", &token.id.to_string()]).await;
        if !ok {
            notes.push(format!("hoist token revoke failed: {out}{err}"));
        }
        env.tokens.insert("revoked".into(), token);
    }

    // Jobs: the admin's in `scratch` (no worker runs that queue), alice's and bob's delayed syncs.
    for i in 0..8 {
        match env.enqueue(&Who::S("admin"), "scratch", json!({ "name": "x", "payload": { "n": i } })).await {
            Ok(id) => env.scratch_jobs.push(id),
            Err(e) => notes.push(format!("scratch job {i}: {e}")),
        }
    }
    for who in ["alice", "bob"] {
        let conn = if who == "alice" { env.alice_conn } else { env.bob_conn };
        let own = env.enqueue(&Who::S(leak(who)), "exports", user_job(conn, json!({ "delay": HOUR_MS }))).await;
        let id = match own {
            Ok(id) => id,
            Err(e) => {
                notes.push(format!("{who} cannot enqueue her/his own delayed sync ({e}); the admin makes it"));
                let body = user_job(conn, json!({ "delay": HOUR_MS, "owner": env.id_of(who) }));
                env.enqueue(&Who::S("admin"), "sync", body).await.unwrap_or_else(|e| {
                    notes.push(format!("{who}'s job: {e}"));
                    String::new()
                })
            }
        };
        if who == "alice" {
            env.alice_job = id;
        } else {
            env.bob_job = id;
        }
    }
    let r =
        env.call(&Who::S("admin"), "PUT", "/api/v1/schedules/hostile-s", Body::Json(schedule_body("hostile-s"))).await;
    match r {
        Ok(r) if r.status == 200 => {}
        Ok(r) => notes.push(format!("schedule hostile-s: {}", r.seen())),
        Err(e) => notes.push(format!("schedule hostile-s: {e}")),
    }
    notes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_suite() {
    let redis = RedisServer::start();
    let database = sqlite_database();
    let dir = tempfile::Builder::new().prefix("hoist-hostile-").tempdir().unwrap();
    let mut server = Server::start(&redis, &database, dir.path());
    let port = server.port;

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(4)
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if !server.alive() {
            panic!("hoist serve exited during start-up:\n{}", server.log_tail());
        }
        if let Ok(r) = http.get(format!("http://127.0.0.1:{port}/healthz")).send().await
            && r.status() == 200
        {
            break;
        }
        assert!(Instant::now() < deadline, "hoist serve did not answer /healthz:\n{}", server.log_tail());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let db = Db::connect(database.url()).await.expect("open the test database");
    let mut env = Env {
        port,
        base: format!("http://127.0.0.1:{port}"),
        origin: format!("http://127.0.0.1:{port}"),
        http,
        db,
        cli: Cli {
            redis_url: redis.url(),
            database_url: database.url().to_string(),
            data_dir: dir.path().join("data"),
        },
        actors: HashMap::new(),
        tokens: HashMap::new(),
        alice_conn: 0,
        bob_conn: 0,
        scratch_jobs: vec![],
        alice_job: String::new(),
        bob_job: String::new(),
        fives: Mutex::new(vec![]),
        log: server.log.clone(),
    };
    let notes = setup(&mut env).await;
    for note in &notes {
        println!("setup: {note}");
    }

    let mut suite = Suite::default();
    auth_cases(&mut suite, &env);
    csrf_cases(&mut suite, &env);
    origin_cases(&mut suite);
    role_cases(&mut suite, &env);
    scope_cases(&mut suite, &env);
    cross_user_cases(&mut suite, &env);
    end_user_cases(&mut suite, &env);
    oversized_cases(&mut suite);
    malformed_cases(&mut suite);
    numeric_cases(&mut suite);
    name_cases(&mut suite);
    path_cases(&mut suite);
    route_cases(&mut suite, &env);
    slow_cases(&mut suite);
    // Last among the sign-in cases: the lockout uses up this address's failure budget.
    lockout_cases(&mut suite);
    final_cases(&mut suite);

    let env = Arc::new(env);
    let (mut passed, mut failed) = (0usize, 0usize);
    let mut per_category: Vec<(&str, usize, usize)> = vec![];
    for case in suite.cases {
        let mut handle = tokio::spawn((case.run)(env.clone()));
        let outcome = match tokio::time::timeout(Duration::from_secs(90), &mut handle).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(e)) if e.is_panic() => {
                let payload = e.into_panic();
                let text = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                Err(format!("panicked: {text}"))
            }
            Ok(Err(e)) => Err(format!("task failed: {e}")),
            Err(_) => {
                handle.abort();
                Err("timed out after 90 s".into())
            }
        };
        let index = match per_category.iter().position(|(c, _, _)| *c == case.category) {
            Some(i) => i,
            None => {
                per_category.push((case.category, 0, 0));
                per_category.len() - 1
            }
        };
        match outcome {
            Ok(()) => {
                passed += 1;
                per_category[index].1 += 1;
            }
            Err(seen) => {
                failed += 1;
                per_category[index].2 += 1;
                let mut seen: String = seen.chars().take(1500).collect();
                if seen.chars().count() == 1500 {
                    seen.push('…');
                }
                println!("FAIL [{}] {}\n    {}", case.category, case.name, seen.replace('\n', "\n    "));
            }
        }
    }
    println!();
    for (category, ok, bad) in &per_category {
        println!("  {category:<32} {:>3} cases: {ok:>3} passed, {bad:>3} failed", ok + bad);
    }
    println!("{passed} passed, {failed} failed");

    let health = env.get(&Who::Anon, "/healthz").await;
    assert!(matches!(&health, Ok(r) if r.status == 200), "/healthz after the suite: {health:?}");
    assert!(server.alive(), "hoist serve died during the suite:\n{}", server.log_tail());
    assert_eq!(failed, 0, "{failed} hostile cases failed (see FAIL lines above)");
}
