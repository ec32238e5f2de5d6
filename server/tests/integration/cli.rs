//! The `hoist` binary's admin commands, run as an operator would.

use std::process::Command;

use hoist_queue::{Queue, RedisConnection};
use hoist_server::auth::token_hash;
use hoist_server::db::Db;
use hoist_server::users::verify_password;
use hoist_testkit::{RedisServer, sqlite_database};

fn hoist(redis: &str, db: &str, args: &[&str]) -> (bool, String, String) {
    hoist_with(redis, db, args, &[])
}

/// `hoist` with more environment variables.
fn hoist_with(redis: &str, db: &str, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hoist"));
    command
        .args(args)
        .env("REDIS_URL", redis)
        .env("DATABASE_URL", db)
        .env("RUST_LOG", "error")
        .env_remove("HOIST_NEW_PASSWORD");
    // The developer's own tracing settings stay out of the test.
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("OTEL_") || name.starts_with("TRACE")) {
        command.env_remove(name);
    }
    let out = command.envs(env.iter().copied()).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn users_tokens_and_enqueue_from_the_shell() {
    let redis = RedisServer::start();
    let database = sqlite_database();
    let run = |args: &[&str]| hoist(&redis.url(), database.url(), args);

    let (ok, out, _) = run(&["user", "add", "olga", "--role", "operator"]);
    assert!(ok, "{out}");
    let generated =
        out.lines().find_map(|l| l.strip_prefix("password: ")).unwrap().split(' ').next().unwrap().to_string();
    let (ok, _, err) = run(&["user", "add", "olga"]);
    assert!(!ok && err.starts_with("error: ") && err.contains("already exists"), "{err}");
    let (ok, _, err) = run(&["user", "add", "x", "--role", "root"]);
    assert!(!ok && err.contains("root"), "{err}");

    let db = Db::connect(database.url()).await.unwrap();
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE username = 'olga'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(verify_password(&generated, &hash));

    assert!(run(&["user", "passwd", "olga", "--password", "new-password-9"]).0);
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE username = 'olga'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(verify_password("new-password-9", &hash));
    assert!(run(&["user", "disable", "olga"]).0);
    let (_, list, _) = run(&["user", "list"]);
    assert!(list.lines().any(|l| l.contains("olga") && l.contains("operator") && l.ends_with("disabled")), "{list}");
    assert!(!run(&["user", "disable", "nobody"]).0);

    let (ok, out, _) = run(&["token", "create", "olga", "--name", "ci", "--scopes", "jobs:write,jobs:read"]);
    assert!(ok, "{out}");
    let secret = out.split_whitespace().find(|w| w.starts_with("hoist_")).unwrap().to_string();
    let scopes: String = sqlx::query_scalar("SELECT scopes FROM api_tokens WHERE token_hash = $1")
        .bind(token_hash(&secret))
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(scopes, r#"["jobs:write","jobs:read"]"#);
    // Unknown or missing scopes are refused; the list shows the token without its secret.
    let (ok, _, err) = run(&["token", "create", "olga", "--name", "x", "--scopes", "jobs:read,admin"]);
    assert!(!ok && err.contains("unknown scope \"admin\""), "{err}");
    assert!(!run(&["token", "create", "olga", "--name", "x"]).0, "scopes are required");
    let (ok, list, _) = run(&["token", "list"]);
    assert!(ok);
    let row = list.lines().find(|l| l.contains("olga")).unwrap_or_else(|| panic!("{list}"));
    assert!(row.contains("jobs:write,jobs:read") && row.trim_end().ends_with('-'), "{row}");
    assert!(!list.contains(&secret));
    assert!(run(&["token", "revoke", "1"]).0);
    assert!(!run(&["token", "revoke", "1"]).0, "already revoked");
    let (_, list, _) = run(&["token", "list"]);
    assert!(!list.lines().find(|l| l.contains("olga")).unwrap().trim_end().ends_with('-'), "revoked shows when");

    let (ok, out, err) = run(&["enqueue", "emails", "welcome", "--payload", r#"{"to":"a@example.com"}"#]);
    assert!(ok, "{err}");
    let id = out.trim().to_string();
    let connection = RedisConnection::connect(&redis.url()).await.unwrap();
    let job = Queue::new(&connection, "emails").unwrap().get_job(&id).await.unwrap().expect("enqueued");
    assert_eq!(job.payload["to"], "a@example.com");
    let (ok, _, err) = run(&["enqueue", "emails", "welcome", "--payload", "{nope"]);
    assert!(!ok && err.starts_with("error: --payload"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

/// `hoist enqueue` run by a traced script hands the script's trace (`TRACEPARENT`, the
/// environment carrier) to the job; a malformed one, and trace settings this build cannot
/// honour, stop the command with one line naming the variable.
#[tokio::test]
async fn a_traced_script_hands_its_trace_to_the_job_and_bad_trace_settings_stop_it() {
    let redis = RedisServer::start();
    let database = sqlite_database();
    let enqueue = ["enqueue", "emails", "welcome", "--payload", "{}"];
    let parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let run = |env: &[(&str, &str)]| hoist_with(&redis.url(), database.url(), &enqueue, env);

    let (ok, out, err) = run(&[("TRACEPARENT", parent), ("TRACESTATE", "vendor=1")]);
    assert!(ok, "{err}");
    let connection = RedisConnection::connect(&redis.url()).await.unwrap();
    let job = Queue::new(&connection, "emails").unwrap().get_job(out.trim()).await.unwrap().unwrap();
    let trace = job.trace.expect("the script's trace");
    assert_eq!((trace.traceparent.as_str(), trace.tracestate.as_deref()), (parent, Some("vendor=1")));

    let refused = [
        (vec![("TRACEPARENT", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331")], "error: TRACEPARENT:"),
        (
            vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")],
            "error: OTEL_EXPORTER_OTLP_PROTOCOL:",
        ),
        (vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "not a url")], "error: OTEL_EXPORTER_OTLP_ENDPOINT:"),
        (
            vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"), ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon")],
            "error: OTEL_EXPORTER_OTLP_TIMEOUT:",
        ),
        (
            vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"), ("HOIST_TRACE_FILTER", "hoist=loud")],
            "error: HOIST_TRACE_FILTER:",
        ),
        (vec![("OTEL_TRACES_EXPORTER", "zipkin")], "error: OTEL_TRACES_EXPORTER:"),
        (
            vec![
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
                ("OTEL_TRACES_SAMPLER", "parentbased_always"),
            ],
            "error: OTEL_TRACES_SAMPLER:",
        ),
        (
            vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"), ("OTEL_BSP_SCHEDULE_DELAY", "0")],
            "error: OTEL_BSP_SCHEDULE_DELAY:",
        ),
        (
            vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "https://c:4318"), ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/ca.pem")],
            "error: OTEL_EXPORTER_OTLP_CERTIFICATE:",
        ),
        (
            vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"), ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd")],
            "error: OTEL_EXPORTER_OTLP_COMPRESSION:",
        ),
        (
            vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"), ("OTEL_EXPORTER_OTLP_HEADERS", "api-key")],
            "error: OTEL_EXPORTER_OTLP_HEADERS:",
        ),
    ];
    for (env, expected) in refused {
        let (ok, _, err) = run(&env);
        assert!(!ok && err.starts_with(expected), "{env:?}: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
    }
    // A tracestate that is not W3C's is dropped, as a receiver must; the parent holds.
    let (ok, out, err) = run(&[("TRACEPARENT", parent), ("TRACESTATE", "Not A State")]);
    assert!(ok, "{err}");
    let job = Queue::new(&connection, "emails").unwrap().get_job(out.trim()).await.unwrap().unwrap();
    assert_eq!(job.trace.map(|t| (t.traceparent, t.tracestate)), Some((parent.to_string(), None)));
    // Turned off, the endpoint is not even read.
    let (ok, _, err) = run(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "not a url"), ("OTEL_SDK_DISABLED", "true")]);
    assert!(ok, "{err}");
}
