//! The dashboard's server functions keep the REST API's rules: a refused call answers
//! 401/403/400 with the API's JSON error body (not 500), every POST must come from the
//! site's own pages (login CSRF refused), and signing out needs the session's token.

use crate::common;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

struct Answer {
    status: StatusCode,
    content_type: String,
    body: Value,
    /// The session cookie set, if any (`name=value`).
    cookie: Option<String>,
    /// Every cookie set (`name=value`).
    cookies: Vec<String>,
}

/// A form POST (or a GET when `form` is None) to `/api/<name>` from `origin`.
async fn call(
    app: &axum::Router,
    name: &str,
    form: Option<&str>,
    origin: Option<&str>,
    cookie: Option<&str>,
) -> Answer {
    let mut request = Request::builder()
        .method(if form.is_some() { "POST" } else { "GET" })
        .uri(format!("/api/{name}"))
        .header(header::HOST, "hoist.example.com");
    if let Some(origin) = origin {
        request = request.header(header::ORIGIN, origin);
    }
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let body = match form {
        Some(form) => {
            request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            Body::from(form.to_string())
        }
        None => Body::empty(),
    };
    let mut request = request.body(body).unwrap();
    request.extensions_mut().insert(ConnectInfo("10.20.0.1:1".parse::<std::net::SocketAddr>().unwrap()));
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type =
        response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let cookies: Vec<String> = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .collect();
    let cookie = cookies.iter().find(|c| c.starts_with("hoist_session=")).cloned();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Answer { status, content_type, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null), cookie, cookies }
}

const SITE: &str = "https://hoist.example.com";

fn assert_error(answer: &Answer, status: StatusCode, code: &str) {
    assert_eq!(answer.status, status, "{:?}", answer.body);
    assert!(answer.content_type.starts_with("application/json"), "{}", answer.content_type);
    assert_eq!(answer.body["error"]["code"], code, "{:?}", answer.body);
    assert!(answer.body["error"]["message"].is_string());
}

#[tokio::test]
async fn server_functions_answer_like_the_api() {
    let t = common::TestApp::start().await;
    hoist_server::users::create_user(&t.db, "ulla", "ulla-password", hoist_server::users::Role::User).await.unwrap();
    let app = &t.app;
    let admin_form = format!("username=admin&password={}", common::ADMIN_PASSWORD);

    // Signed out: 401, not 500.
    assert_error(&call(app, "get_overview", None, None, None).await, StatusCode::UNAUTHORIZED, "unauthenticated");
    let answer = call(app, "queue_action", Some("queue=q&action=pause&csrf=x"), Some(SITE), None).await;
    assert_error(&answer, StatusCode::UNAUTHORIZED, "unauthenticated");

    // Login CSRF: a sign-in posted from another site, from an opaque origin, or with no
    // Origin or Referer at all is refused before the password is looked at.
    for origin in [Some("https://evil.example"), Some("null"), Some("https://hoist.example.com.evil.example"), None] {
        let answer = call(app, "sign_in", Some(&admin_form), origin, None).await;
        assert_error(&answer, StatusCode::FORBIDDEN, "forbidden");
        assert!(answer.cookie.is_none(), "no session for a cross-site sign-in");
    }
    let answer = call(app, "sign_in", Some("username=admin&password=wrong-password"), Some(SITE), None).await;
    assert_error(&answer, StatusCode::UNAUTHORIZED, "bad_credentials");
    let answer = call(app, "sign_in", Some("username=admin"), Some(SITE), None).await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid");

    let answer = call(app, "sign_in", Some("username=ulla&password=ulla-password"), Some(SITE), None).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    let user_cookie = answer.cookie.unwrap();
    let user_csrf = answer.body["csrf"].as_str().unwrap().to_string();
    // An end user asking for the overview: the policy's 403.
    assert_error(&call(app, "get_overview", None, None, Some(&user_cookie)).await, StatusCode::FORBIDDEN, "forbidden");
    let answer = call(
        app,
        "queue_action",
        Some(&format!("queue=q&action=pause&csrf={user_csrf}")),
        Some(SITE),
        Some(&user_cookie),
    )
    .await;
    assert_error(&answer, StatusCode::FORBIDDEN, "forbidden");
    let answer = call(app, "queue_action", Some("queue=q&action=explode&csrf=x"), Some(SITE), Some(&user_cookie)).await;
    assert_error(&answer, StatusCode::FORBIDDEN, "forbidden");

    // Sign-out is a state change like any other: same origin and the session's token.
    let answer = call(app, "sign_out", Some("csrf=wrong"), Some(SITE), Some(&user_cookie)).await;
    assert_error(&answer, StatusCode::FORBIDDEN, "forbidden");
    let answer =
        call(app, "sign_out", Some(&format!("csrf={user_csrf}")), Some("https://evil.example"), Some(&user_cookie))
            .await;
    assert_error(&answer, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(
        call(app, "get_my_jobs", None, None, Some(&user_cookie)).await.status,
        StatusCode::OK,
        "still signed in"
    );
    let answer = call(app, "sign_out", Some(&format!("csrf={user_csrf}")), Some(SITE), Some(&user_cookie)).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    let answer = call(app, "get_my_jobs", None, None, Some(&user_cookie)).await;
    assert_error(&answer, StatusCode::UNAUTHORIZED, "unauthenticated");
}

/// The language button: signed out it sets the browser's cookie only; signed in (with the
/// session's token) it is stored with the user too, and signing in again elsewhere sets
/// the cookie from what was stored.
#[tokio::test]
async fn the_language_is_the_browsers_and_the_users() {
    let t = common::TestApp::start().await;
    hoist_server::users::create_user(&t.db, "bat", "bat-password", hoist_server::users::Role::Viewer).await.unwrap();
    let app = &t.app;

    let answer = call(app, "set_language", Some("language=mn"), Some(SITE), None).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    assert_eq!(answer.cookies, ["hoist_lang=mn"]);
    let answer = call(app, "set_language", Some("language=fr"), Some(SITE), None).await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid");
    assert_eq!(answer.body["error"]["field"], "language");
    assert!(answer.cookies.is_empty());

    let signed_in = call(app, "sign_in", Some("username=bat&password=bat-password"), Some(SITE), None).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{:?}", signed_in.body);
    assert!(signed_in.cookies.iter().all(|c| !c.starts_with("hoist_lang")), "nothing stored yet");
    let (cookie, csrf) = (signed_in.cookie.unwrap(), signed_in.body["csrf"].as_str().unwrap().to_string());
    let answer = call(app, "set_language", Some("language=mn&csrf=wrong"), Some(SITE), Some(&cookie)).await;
    assert_error(&answer, StatusCode::FORBIDDEN, "forbidden");
    assert!(answer.cookies.is_empty(), "a refused choice sets no cookie");
    assert_eq!(call(app, "get_viewer", None, None, Some(&cookie)).await.body["language"], Value::Null, "nor is stored");
    let answer = call(app, "set_language", Some(&format!("language=mn&csrf={csrf}")), Some(SITE), Some(&cookie)).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    assert_eq!(answer.cookies, ["hoist_lang=mn"]);
    assert_eq!(call(app, "get_viewer", None, None, Some(&cookie)).await.body["language"], "mn");

    // Another browser: signing in brings the stored choice.
    let elsewhere = call(app, "sign_in", Some("username=bat&password=bat-password"), Some(SITE), None).await;
    assert_eq!(elsewhere.body["language"], "mn");
    assert!(elsewhere.cookies.contains(&"hoist_lang=mn".to_string()), "{:?}", elsewhere.cookies);
}

/// The queue limits form: each box's bad value is refused naming that box, and nothing
/// changes.
#[tokio::test]
async fn the_limits_form_names_the_box_at_fault() {
    let t = common::TestApp::start().await;
    let app = &t.app;
    let form = format!("username=admin&password={}", common::ADMIN_PASSWORD);
    let signed_in = call(app, "sign_in", Some(&form), Some(SITE), None).await;
    let (cookie, csrf) = (signed_in.cookie.unwrap(), signed_in.body["csrf"].as_str().unwrap().to_string());
    let set = |boxes: &str| format!("queue=q&{boxes}&csrf={csrf}");
    for (boxes, field) in [
        ("concurrency=abc&rate_max=&rate_per_seconds=&process_concurrency=&group_concurrency=", "concurrency"),
        ("concurrency=0&rate_max=&rate_per_seconds=&process_concurrency=&group_concurrency=", "concurrency"),
        ("concurrency=100001&rate_max=&rate_per_seconds=&process_concurrency=&group_concurrency=", "concurrency"),
        ("concurrency=&rate_max=0&rate_per_seconds=1&process_concurrency=&group_concurrency=", "rate_max"),
        ("concurrency=&rate_max=5&rate_per_seconds=0&process_concurrency=&group_concurrency=", "rate_per_seconds"),
        ("concurrency=&rate_max=5&rate_per_seconds=-3&process_concurrency=&group_concurrency=", "rate_per_seconds"),
        ("concurrency=&rate_max=5&rate_per_seconds=NaN&process_concurrency=&group_concurrency=", "rate_per_seconds"),
        (
            "concurrency=&rate_max=5&rate_per_seconds=40000000&process_concurrency=&group_concurrency=",
            "rate_per_seconds",
        ),
        ("concurrency=&rate_max=5&rate_per_seconds=&process_concurrency=&group_concurrency=", "rate_per_seconds"),
        ("concurrency=&rate_max=&rate_per_seconds=2&process_concurrency=&group_concurrency=", "rate_max"),
        ("concurrency=&rate_max=&rate_per_seconds=&process_concurrency=0&group_concurrency=", "process_concurrency"),
        (
            "concurrency=&rate_max=&rate_per_seconds=&process_concurrency=10001&group_concurrency=",
            "process_concurrency",
        ),
        ("concurrency=&rate_max=&rate_per_seconds=&process_concurrency=x&group_concurrency=", "process_concurrency"),
        ("concurrency=&rate_max=&rate_per_seconds=&process_concurrency=&group_concurrency=0", "group_concurrency"),
        ("concurrency=&rate_max=&rate_per_seconds=&process_concurrency=&group_concurrency=100001", "group_concurrency"),
    ] {
        let answer = call(app, "queue_set_limits", Some(&set(boxes)), Some(SITE), Some(&cookie)).await;
        assert_error(&answer, StatusCode::BAD_REQUEST, "invalid");
        assert_eq!(answer.body["error"]["field"], field, "{boxes}: {:?}", answer.body);
    }
    let answer = call(
        app,
        "queue_set_limits",
        Some(&set("concurrency=3&rate_max=5&rate_per_seconds=1.5&process_concurrency=2&group_concurrency=4")),
        Some(SITE),
        Some(&cookie),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    let engine = hoist_queue::RedisConnection::connect(&t.redis.url()).await.unwrap();
    let limits = hoist_queue::Queue::new(&engine, "q").unwrap().limits().await.unwrap();
    assert_eq!(limits.concurrency, Some(3));
    assert_eq!(limits.rate.map(|r| (r.max, r.per.as_millis())), Some((5, 1500)));
    assert_eq!(limits.process_concurrency, Some(2));
    assert_eq!(limits.group_concurrency, Some(4));
}

/// Under `/api/v1`, errors the framework writes (unknown route, wrong method, a bad path
/// parameter) have the API's body too.
#[tokio::test]
async fn framework_errors_have_the_api_body() {
    let t = common::TestApp::start().await;
    let mut admin = t.admin;
    for (method, path, status, code) in [
        ("GET", "/api/v1/nothing-here", StatusCode::NOT_FOUND, "not_found"),
        ("GET", "/api/v1/queues/q/jobs/1/2/3/4", StatusCode::NOT_FOUND, "not_found"),
        ("DELETE", "/api/v1/queues", StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
        ("GET", "/api/v1/connections/not-a-number", StatusCode::BAD_REQUEST, "invalid"),
        ("GET", "/api/v1/live", StatusCode::BAD_REQUEST, "invalid"),
    ] {
        let reply = admin.send(method, path, None, &[]).await;
        assert_eq!(reply.status, status, "{method} {path}: {:?}", reply.body);
        assert_eq!(reply.body["error"]["code"], code, "{method} {path}: {:?}", reply.body);
    }
    let reply = admin.send("GET", "/api/v1/connections/not-a-number", None, &[]).await;
    assert_eq!(reply.body["error"]["field"], "id");
}
