//! An HTTP client over the real router (oneshot), keeping the session cookie.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use clap::Parser;
use hoist_server::config::{HttpConfig, StoreConfig};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

#[derive(Parser)]
pub struct Args {
    #[command(flatten)]
    pub store: StoreConfig,
    #[command(flatten)]
    pub http: HttpConfig,
}

pub struct Client {
    pub app: axum::Router,
    /// The `Cookie` header this client sends (every cookie it was given, as a browser).
    pub cookie: Option<String>,
    pub addr: SocketAddr,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
}

impl Client {
    pub fn new(app: &axum::Router, addr: &str) -> Self {
        Client { app: app.clone(), cookie: None, addr: addr.parse().unwrap() }
    }

    pub async fn send(&mut self, method: &str, path: &str, body: Option<Value>, headers: &[(&str, &str)]) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, cookie);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let body = match body {
            Some(json) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        let mut request = request.body(body).unwrap();
        request.extensions_mut().insert(ConnectInfo(self.addr));
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let given: Vec<&str> = headers.get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap()).collect();
        if given.is_empty() {
            return self.reply(status, headers, response).await;
        }
        // What this client holds (`cookie` may have been set by hand), then what it was given.
        let mut jar: std::collections::BTreeMap<String, String> = self
            .cookie
            .iter()
            .flat_map(|c| c.split("; "))
            .filter_map(|pair| pair.split_once('='))
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        for set in given {
            let (name, value) = set.split(';').next().unwrap().split_once('=').unwrap();
            if value.is_empty() || set.split(';').any(|attribute| attribute.trim() == "Max-Age=0") {
                jar.remove(name);
            } else {
                jar.insert(name.to_string(), value.to_string());
            }
        }
        let pairs: Vec<String> = jar.iter().map(|(name, value)| format!("{name}={value}")).collect();
        self.cookie = (!pairs.is_empty()).then(|| pairs.join("; "));
        self.reply(status, headers, response).await
    }

    async fn reply(
        &self,
        status: StatusCode,
        headers: axum::http::HeaderMap,
        response: axum::response::Response,
    ) -> Reply {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        // A body that is not JSON (an export, a page) comes back as its text.
        let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| match bytes.is_empty() {
            true => Value::Null,
            false => Value::String(String::from_utf8_lossy(&bytes).into_owned()),
        });
        Reply { status, headers, body }
    }

    pub async fn login(&mut self, username: &str, password: &str) -> Reply {
        self.send("POST", "/api/v1/auth/login", Some(json!({ "username": username, "password": password })), &[]).await
    }
}

/// A server on a fresh Redis and SQLite database, with the first admin signed in.
pub struct TestApp {
    pub redis: hoist_testkit::RedisServer,
    /// Held so the database outlives the app (it is deleted when dropped).
    _database: hoist_testkit::TestDatabase,
    pub app: axum::Router,
    pub db: hoist_server::db::Db,
    pub admin: Client,
    pub csrf: String,
}

pub const ADMIN_PASSWORD: &str = "admin-password-1";

impl TestApp {
    pub async fn start() -> TestApp {
        Self::start_on(hoist_testkit::sqlite_database()).await
    }

    pub async fn start_on(database: hoist_testkit::TestDatabase) -> TestApp {
        Self::start_with(database, &[]).await
    }

    /// With extra command-line settings (`["--live-recheck-seconds", "1"]`).
    pub async fn start_with(database: hoist_testkit::TestDatabase, settings: &[&str]) -> TestApp {
        let redis = hoist_testkit::RedisServer::start();
        let redis_url = redis.url();
        let mut argv = vec![
            "hoist",
            "--redis-url",
            &redis_url,
            "--database-url",
            database.url(),
            "--admin-password",
            ADMIN_PASSWORD,
        ];
        argv.extend_from_slice(settings);
        let args = Args::parse_from(argv);
        let (state, _) = hoist_server::server::build_state(&args.store, &args.http).await.unwrap();
        let db = state.db.clone();
        let app = hoist_server::server::router(state);
        let mut admin = Client::new(&app, "10.9.0.1:1");
        let csrf = admin.login("admin", ADMIN_PASSWORD).await.body["csrf_token"].as_str().unwrap().to_string();
        TestApp { redis, _database: database, app, db, admin, csrf }
    }

    /// A new client signed in as `username`, with its CSRF token.
    pub async fn client(&self, username: &str, password: &str, addr: &str) -> (Client, String) {
        let mut client = Client::new(&self.app, addr);
        let csrf = client.login(username, password).await.body["csrf_token"].as_str().unwrap_or_default().to_string();
        (client, csrf)
    }
}

/// A `redis-server` of the test's own, a migrated database, and the engine on that Redis:
/// what the history and search tests start from.
pub struct Stores {
    pub redis: hoist_testkit::RedisServer,
    pub database: hoist_testkit::TestDatabase,
    pub db: hoist_server::db::Db,
    pub engine: hoist_queue::RedisConnection,
}

impl Stores {
    pub async fn start_on(database: hoist_testkit::TestDatabase) -> Stores {
        let redis = hoist_testkit::RedisServer::start();
        let db = hoist_server::db::Db::connect(database.url()).await.unwrap();
        db.migrate().await.unwrap();
        let engine = hoist_queue::RedisConnection::connect(&redis.url()).await.unwrap();
        Stores { redis, database, db, engine }
    }

    /// On SQLite in a temp file.
    pub async fn start() -> Stores {
        Self::start_on(hoist_testkit::sqlite_database()).await
    }
}
