//! Schedules and metrics over the API.

use crate::common;

use axum::http::StatusCode;
use common::Client;
use hoist_server::users::{Role, create_user};
use serde_json::json;

#[tokio::test]
async fn schedules_crud_run_now_and_metrics() {
    let t = common::TestApp::start().await;
    let (app, db, mut admin, csrf) = (t.app.clone(), t.db.clone(), t.admin, t.csrf);
    create_user(&db, "vic", "vic-password", Role::Viewer).await.unwrap();
    let h = [("x-csrf-token", csrf.as_str())];

    let spec = json!({
        "name": "ignored", "cron": "0 3 * * *", "timezone": "Europe/Berlin", "queue": "maintenance",
        "job": { "name": "refresh-consents", "payload": { "days": 7 } }
    });
    let r = admin.send("PUT", "/api/v1/schedules/consents", Some(spec.clone()), &h).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["spec"]["name"], "consents", "the path names it");
    assert!(r.body["next_tick"].as_i64().is_some());
    let mut bad = spec.clone();
    bad["timezone"] = json!("Nowhere/Land");
    let r = admin.send("PUT", "/api/v1/schedules/bad", Some(bad), &h).await;
    assert_eq!((r.status, r.body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("timezone")));

    let r = admin.send("POST", "/api/v1/schedules/consents/run", None, &h).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["jobs"].as_array().unwrap().len(), 1);
    let r = admin.send("GET", "/api/v1/schedules/consents", None, &[]).await;
    assert_eq!(r.body["recent_fires"][0]["manual"], true);
    assert_eq!(admin.send("POST", "/api/v1/schedules/consents/pause", None, &h).await.status, StatusCode::OK);
    assert_eq!(admin.send("GET", "/api/v1/schedules", None, &[]).await.body[0]["paused"], true);
    assert_eq!(admin.send("POST", "/api/v1/schedules/ghost/pause", None, &h).await.status, StatusCode::NOT_FOUND);

    let mut viewer = Client::new(&app, "10.4.0.2:1");
    let vcsrf = viewer.login("vic", "vic-password").await.body["csrf_token"].as_str().unwrap().to_string();
    assert_eq!(viewer.send("GET", "/api/v1/schedules", None, &[]).await.status, StatusCode::OK);
    let r = viewer.send("POST", "/api/v1/schedules/consents/run", None, &[("x-csrf-token", &vcsrf)]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    assert_eq!(admin.send("DELETE", "/api/v1/schedules/consents", None, &h).await.status, StatusCode::NO_CONTENT);
    assert_eq!(admin.send("GET", "/api/v1/schedules/consents", None, &[]).await.status, StatusCode::NOT_FOUND);

    let r = admin.send("GET", "/api/v1/queues/maintenance/metrics?minutes=30", None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body.as_array().unwrap().len(), 30);
    let r = admin.send("GET", "/api/v1/queues/maintenance/metrics?minutes=0", None, &[]).await;
    assert_eq!((r.status, r.body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("minutes")));
}
