//! The OpenAPI document: behind auth, covering every API route, and describing the
//! error body the API really sends.

use crate::common;

use axum::http::StatusCode;
use serde_json::json;

#[tokio::test]
async fn the_openapi_document_covers_every_route_and_the_real_error_shape() {
    let t = common::TestApp::start().await;
    let mut anonymous = common::Client::new(&t.app, "10.8.0.1:1");
    assert_eq!(anonymous.send("GET", "/api/v1/openapi.json", None, &[]).await.status, StatusCode::UNAUTHORIZED);

    let mut admin = t.admin;
    let r = admin.send("GET", "/api/v1/openapi.json", None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.body;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    // Every reference resolves (a dangling one makes clients and fuzzers skip a part).
    let mut refs = vec![];
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for reference in refs {
        let name = reference.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("{reference}"));
        assert!(doc["components"]["schemas"].get(name).is_some(), "{reference} is not in the document");
    }
    let expected = [
        ("post", "/api/v1/auth/login"),
        ("post", "/api/v1/auth/logout"),
        ("get", "/api/v1/auth/me"),
        ("get", "/api/v1/auth/me/language"),
        ("put", "/api/v1/auth/me/language"),
        ("get", "/api/v1/queues"),
        ("post", "/api/v1/queues/{queue}/jobs"),
        ("get", "/api/v1/queues/{queue}/jobs"),
        ("post", "/api/v1/queues/{queue}/jobs/bulk"),
        ("get", "/api/v1/queues/{queue}/jobs/{id}"),
        ("delete", "/api/v1/queues/{queue}/jobs/{id}"),
        ("post", "/api/v1/queues/{queue}/jobs/{id}/{action}"),
        ("post", "/api/v1/queues/{queue}/jobs/{id}/retry-edited"),
        ("post", "/api/v1/queues/{queue}/jobs/{id}/duplicate"),
        ("post", "/api/v1/queues/{queue}/{action}"),
        ("get", "/api/v1/queues/{queue}/health"),
        ("get", "/api/v1/queues/{queue}/limits"),
        ("put", "/api/v1/queues/{queue}/limits"),
        ("post", "/api/v1/queues/{queue}/maintenance"),
        ("get", "/api/v1/queues/{queue}/metrics"),
        ("get", "/api/v1/alerts"),
        ("put", "/api/v1/alerts/rules/{id}"),
        ("delete", "/api/v1/alerts/rules/{id}"),
        ("post", "/api/v1/alerts/rules"),
        ("post", "/api/v1/alerts/silences"),
        ("delete", "/api/v1/alerts/silences/{id}"),
        ("get", "/api/v1/processes"),
        ("post", "/api/v1/processes/{id}/{command}"),
        ("get", "/api/v1/dead-letters"),
        ("post", "/api/v1/dead-letters/requeue"),
        ("post", "/api/v1/dead-letters/purge"),
        ("get", "/api/v1/schedules"),
        ("get", "/api/v1/schedules/{name}"),
        ("put", "/api/v1/schedules/{name}"),
        ("delete", "/api/v1/schedules/{name}"),
        ("post", "/api/v1/schedules/{name}/{action}"),
        ("get", "/api/v1/history"),
        ("get", "/api/v1/history/quarantine"),
        ("get", "/api/v1/search"),
        ("get", "/api/v1/search/suggestions"),
        ("get", "/api/v1/search/count"),
        ("post", "/api/v1/search/actions"),
        ("get", "/api/v1/search/export"),
        ("get", "/api/v1/search/saved"),
        ("post", "/api/v1/search/saved"),
        ("delete", "/api/v1/search/saved/{id}"),
        ("get", "/api/v1/users"),
        ("post", "/api/v1/users"),
        ("patch", "/api/v1/users/{username}"),
        ("get", "/api/v1/audit"),
        ("get", "/api/v1/queues/{queue}/settings"),
        ("get", "/api/v1/reports"),
        ("post", "/api/v1/reports"),
        ("get", "/api/v1/reports/{id}"),
        ("get", "/api/v1/reports/{id}/download"),
        ("post", "/api/v1/notifications/sign-in"),
        ("get", "/api/v1/connections"),
        ("get", "/api/v1/connections/{id}"),
        ("post", "/api/v1/connections/{id}/sync"),
    ];
    let paths = doc["paths"].as_object().unwrap();
    let documented: usize = paths.values().map(|ops| ops.as_object().unwrap().len()).sum();
    assert_eq!(documented, expected.len(), "documented operations: {:?}", paths.keys().collect::<Vec<_>>());
    for (method, path) in expected {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is not documented");
        assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path} has no responses");
    }
    // Login is the one operation without auth.
    assert_eq!(doc["paths"]["/api/v1/auth/login"]["post"]["security"], json!([{}]));
    for schema in ["Job", "JobOptions", "EnqueueRequest", "HistoryPage", "ScheduleSpec", "ErrorBody", "QueueHealth"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "schema {schema} missing");
    }
    assert!(doc["components"]["securitySchemes"]["token"].is_object());

    // The documented error body is what the API sends (unknown fields would be refused).
    let h = [("x-csrf-token", t.csrf.as_str())];
    let r = admin.send("POST", "/api/v1/queues/emails/jobs", Some(json!({ "nme": "x" })), &h).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let body: hoist_server::openapi::ErrorBody = serde_json::from_value(r.body).unwrap();
    assert_eq!(body.error.field.as_deref(), Some("nme"));
    let r = admin.send("GET", "/api/v1/queues/emails/jobs/nope", None, &[]).await;
    let body: hoist_server::openapi::ErrorBody = serde_json::from_value(r.body).unwrap();
    assert_eq!(body.error.code, "not_found");
}

fn collect_refs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                match (key.as_str(), item) {
                    ("$ref", serde_json::Value::String(reference)) => out.push(reference.clone()),
                    _ => collect_refs(item, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|item| collect_refs(item, out)),
        _ => {}
    }
}
