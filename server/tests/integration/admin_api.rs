//! Users and audit log endpoints: admin only, audited.

use crate::common;

use axum::http::StatusCode;
use common::Client;
use serde_json::json;

#[tokio::test]
async fn admins_manage_users_and_read_the_audit_log() {
    let t = common::TestApp::start().await;
    let (app, mut admin, csrf) = (t.app.clone(), t.admin, t.csrf);
    let h = [("x-csrf-token", csrf.as_str())];

    let new = json!({ "username": "opal", "password": "opal-password", "role": "operator" });
    let r = admin.send("POST", "/api/v1/users", Some(new.clone()), &h).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(admin.send("POST", "/api/v1/users", Some(new), &h).await.status, StatusCode::CONFLICT);
    let weak = json!({ "username": "weak", "password": "short", "role": "viewer" });
    let r = admin.send("POST", "/api/v1/users", Some(weak), &h).await;
    assert_eq!((r.status, r.body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("password")));
    let bad_role = json!({ "username": "x", "password": "long-enough", "role": "root" });
    assert_eq!(admin.send("POST", "/api/v1/users", Some(bad_role), &h).await.status, StatusCode::BAD_REQUEST);

    let r = admin.send("GET", "/api/v1/users", None, &[]).await;
    let names: Vec<&str> = r.body.as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["admin", "opal"]);

    // An operator is not an admin.
    let mut opal = Client::new(&app, "10.3.0.2:1");
    let ocsrf = opal.login("opal", "opal-password").await.body["csrf_token"].as_str().unwrap().to_string();
    assert_eq!(opal.send("GET", "/api/v1/users", None, &[]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(opal.send("GET", "/api/v1/audit", None, &[]).await.status, StatusCode::FORBIDDEN);
    let r =
        opal.send("PATCH", "/api/v1/users/opal", Some(json!({ "role": "admin" })), &[("x-csrf-token", &ocsrf)]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "no promoting oneself");

    let r = admin.send("PATCH", "/api/v1/users/opal", Some(json!({ "role": "viewer", "disabled": true })), &h).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        opal.send("GET", "/api/v1/auth/me", None, &[]).await.status,
        StatusCode::UNAUTHORIZED,
        "disabled ends the session"
    );
    let r = admin.send("PATCH", "/api/v1/users/admin", Some(json!({ "disabled": true })), &h).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "no locking oneself out");
    assert_eq!(
        admin.send("PATCH", "/api/v1/users/ghost", Some(json!({ "disabled": true })), &h).await.status,
        StatusCode::NOT_FOUND
    );

    let r = admin.send("GET", "/api/v1/audit?limit=10", None, &[]).await;
    let actions: Vec<&str> = r.body.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, vec!["user.change", "user.add", "user.add", "user.add"], "newest first, failures too");
    assert_eq!(r.body[0]["params"]["role"], "viewer");
    assert_eq!(r.body[0]["client_addr"], "10.9.0.1");
    let oldest = r.body[3]["id"].as_i64().unwrap();
    let r = admin.send("GET", &format!("/api/v1/audit?before={oldest}"), None, &[]).await;
    assert!(r.body.as_array().unwrap().is_empty());
}
