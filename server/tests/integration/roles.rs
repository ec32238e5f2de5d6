//! Every API route against every role, by session and by API token with each scope, on
//! their own and on another user's objects: each gets exactly its rights. Allowed means
//! the request got past authorization (any status but 401 and 403); denied means 403 (an
//! end user asking for another user's job gets 404: to them it does not exist); anonymous
//! callers get 401 everywhere. A token may do what its user's role allows only when it
//! holds the route's scope.

use crate::common;

use axum::http::StatusCode;
use common::Client;
use hoist_queue::{JobOptions, NewJob, Queue, RedisConnection};
use hoist_server::policy::Scope;
use hoist_server::users::{Role, create_user};
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Admin,
    Operator,
    Viewer,
    User,
}

use Who::*;

const STAFF: &[Who] = &[Admin, Operator, Viewer];
const EVERYONE: &[Who] = &[Admin, Operator, Viewer, User];
const OPERATORS: &[Who] = &[Admin, Operator];
/// Enqueueing: operators anywhere, end users to the queues an admin allowed them.
const ENQUEUERS: &[Who] = &[Admin, Operator, User];
const ADMINS: &[Who] = &[Admin];

struct Route {
    method: &'static str,
    path: String,
    body: Option<Value>,
    allowed: &'static [Who],
    /// The scope a token needs (None: any token).
    scope: Option<Scope>,
    /// What a denied end user gets instead of 403.
    user_denied_status: StatusCode,
}

fn route(method: &'static str, path: impl Into<String>, body: Option<Value>, allowed: &'static [Who]) -> Route {
    let path = path.into();
    let scope = scope_of(method, &path);
    Route { method, path, body, allowed, scope, user_denied_status: StatusCode::FORBIDDEN }
}

/// The documented scope of each route (README, "Security model").
fn scope_of(method: &str, path: &str) -> Option<Scope> {
    let p = path.split('?').next().unwrap();
    // One's own account (and its language) needs no scope.
    if p.starts_with("/api/v1/auth/me") || p == "/api/v1/openapi.json" {
        return None;
    }
    if p.starts_with("/api/v1/users") || p == "/api/v1/audit" {
        return Some(Scope::UsersAdmin);
    }
    if p.starts_with("/api/v1/notifications") {
        return Some(Scope::NotificationsWrite);
    }
    if p.starts_with("/api/v1/schedules") {
        return Some(if method == "GET" { Scope::JobsRead } else { Scope::SchedulesWrite });
    }
    // Saved searches are the caller's own: reading jobs is enough to keep them.
    if method == "GET" || p.starts_with("/api/v1/search/saved") {
        return Some(Scope::JobsRead);
    }
    if p.starts_with("/api/v1/dead-letters")
        || p.starts_with("/api/v1/search/actions")
        || p.ends_with("/pause")
        || p.ends_with("/resume")
        || p.ends_with("/maintenance")
        || p.ends_with("/limits")
        || p.starts_with("/api/v1/processes")
        || p.starts_with("/api/v1/alerts")
    {
        return Some(Scope::QueuesAdmin);
    }
    Some(Scope::JobsWrite)
}

#[tokio::test]
async fn each_role_gets_exactly_its_rights_on_every_route() {
    let t = common::TestApp::start().await;
    create_user(&t.db, "opal", "opal-password", Role::Operator).await.unwrap();
    create_user(&t.db, "vera", "vera-password", Role::Viewer).await.unwrap();
    let ulla = create_user(&t.db, "ulla", "ulla-password", Role::User).await.unwrap();
    sqlx::query(r#"UPDATE users SET allowed_jobs = '{"q":["x"]}' WHERE id = $1"#)
        .bind(ulla)
        .execute(&t.db.pool)
        .await
        .unwrap();

    // A job that belongs to someone else, and one of each kind per state-changing route
    // so an earlier allowed call does not change what a later one sees.
    let engine = RedisConnection::connect(&t.redis.url()).await.unwrap();
    let queue = Queue::new(&engine, "q").unwrap();
    let theirs = |n: i32| {
        NewJob::new("x", json!({ "n": n })).with_options(JobOptions { owner: Some("999".into()), ..Default::default() })
    };
    let mut ids = vec![];
    for n in 0..8 {
        ids.push(queue.enqueue(theirs(n)).await.unwrap().id);
    }
    // And the end user's own: visible and listed for them.
    let own =
        NewJob::new("x", json!({})).with_options(JobOptions { owner: Some(ulla.to_string()), ..Default::default() });
    let own_job = queue.enqueue(own).await.unwrap().id;
    let schedule = json!({ "name": "s", "cron": "0 0 * * * *", "queue": "q", "job": { "name": "x", "payload": {} } });

    let org = hoist_server::processors::sync::store::create_organisation(&t.db, "Org").await.unwrap();
    let connection = hoist_server::processors::sync::store::create_connection(&t.db, org, "999", "x-1", "Golomt", None)
        .await
        .unwrap();

    let job_path = |i: usize, tail: &str| format!("/api/v1/queues/q/jobs/{}{tail}", ids[i]);
    let mut routes = vec![
        route("GET", "/api/v1/auth/me", None, EVERYONE),
        route("GET", "/api/v1/auth/me/language", None, EVERYONE),
        route("PUT", "/api/v1/auth/me/language", Some(json!({ "language": "mn" })), EVERYONE),
        route("GET", "/api/v1/openapi.json", None, EVERYONE),
        route("GET", "/api/v1/queues", None, STAFF),
        route("POST", "/api/v1/queues/q/jobs", Some(json!({ "name": "x" })), ENQUEUERS),
        route("POST", "/api/v1/queues/other/jobs", Some(json!({ "name": "x" })), OPERATORS),
        route("POST", "/api/v1/queues/q/jobs/bulk", Some(json!({ "jobs": [{ "name": "x" }] })), ENQUEUERS),
        route("GET", "/api/v1/queues/q/jobs?state=waiting", None, EVERYONE),
        Route { user_denied_status: StatusCode::NOT_FOUND, ..route("GET", job_path(0, ""), None, STAFF) },
        Route { user_denied_status: StatusCode::NOT_FOUND, ..route("POST", job_path(1, "/promote"), None, OPERATORS) },
        Route { user_denied_status: StatusCode::NOT_FOUND, ..route("POST", job_path(2, "/retry"), None, OPERATORS) },
        Route { user_denied_status: StatusCode::NOT_FOUND, ..route("POST", job_path(3, "/cancel"), None, OPERATORS) },
        Route { user_denied_status: StatusCode::NOT_FOUND, ..route("DELETE", job_path(4, ""), None, OPERATORS) },
        route("GET", "/api/v1/queues/q/health", None, STAFF),
        route("GET", "/api/v1/queues/q/limits", None, STAFF),
        route(
            "PUT",
            "/api/v1/queues/q/limits",
            Some(json!({ "concurrency": 5, "rate": null, "process_concurrency": null, "group_concurrency": null })),
            OPERATORS,
        ),
        route("GET", "/api/v1/alerts", None, STAFF),
        route(
            "PUT",
            "/api/v1/alerts/rules/999999",
            Some(json!({ "threshold": 5, "window_ms": 0, "pending_ms": 0, "enabled": true })),
            ADMINS,
        ),
        route(
            "POST",
            "/api/v1/alerts/rules",
            Some(
                json!({ "kind": "waiting", "queue": "q", "threshold": 5, "window_ms": 0, "pending_ms": 0, "enabled": true }),
            ),
            ADMINS,
        ),
        route("DELETE", "/api/v1/alerts/rules/999999", None, ADMINS),
        route(
            "POST",
            "/api/v1/alerts/silences",
            Some(json!({ "rule_id": null, "subject": null, "duration_ms": 60000, "reason": "deploy" })),
            ADMINS,
        ),
        route("DELETE", "/api/v1/alerts/silences/999999", None, ADMINS),
        route("GET", "/api/v1/processes", None, STAFF),
        route("POST", "/api/v1/processes/nobody/quiet", None, OPERATORS),
        route("GET", "/api/v1/queues/q/metrics", None, STAFF),
        route("POST", "/api/v1/queues/q/pause", None, OPERATORS),
        route("POST", "/api/v1/queues/q/resume", None, OPERATORS),
        route(
            "POST",
            "/api/v1/queues/q/maintenance",
            Some(json!({ "action": "retry-all", "from": "dead" })),
            OPERATORS,
        ),
        route("GET", "/api/v1/dead-letters", None, EVERYONE),
        route("POST", "/api/v1/dead-letters/requeue", Some(json!({ "jobs": { "queue": "q", "ids": [] } })), OPERATORS),
        route("POST", "/api/v1/dead-letters/purge", Some(json!({ "jobs": { "queue": "q", "ids": [] } })), OPERATORS),
        route("GET", "/api/v1/schedules", None, STAFF),
        route("PUT", "/api/v1/schedules/s", Some(schedule), OPERATORS),
        route("GET", "/api/v1/schedules/s", None, STAFF),
        route("POST", "/api/v1/schedules/s/pause", None, OPERATORS),
        route("POST", "/api/v1/schedules/s/resume", None, OPERATORS),
        route("POST", "/api/v1/schedules/s/run", None, OPERATORS),
        route("GET", "/api/v1/history", None, EVERYONE),
        route("GET", "/api/v1/search?q=queue:q", None, EVERYONE),
        route("GET", "/api/v1/search/suggestions?q=st", None, EVERYONE),
        route("GET", "/api/v1/search/count?q=queue:q", None, EVERYONE),
        route("GET", "/api/v1/search/export?q=queue:none", None, EVERYONE),
        route(
            "POST",
            "/api/v1/search/actions",
            Some(json!({ "q": "queue:none", "action": "retry", "confirm": true })),
            OPERATORS,
        ),
        route("GET", "/api/v1/search/saved", None, EVERYONE),
        route("POST", "/api/v1/search/saved", Some(json!({ "name": "mine", "q": "state:dead" })), EVERYONE),
        route("DELETE", "/api/v1/search/saved/999999", None, EVERYONE),
        route("GET", "/api/v1/users", None, ADMINS),
        route(
            "POST",
            "/api/v1/users",
            Some(json!({ "username": "new", "password": "new-password", "role": "viewer" })),
            ADMINS,
        ),
        route("PATCH", "/api/v1/users/vera", Some(json!({ "disabled": false })), ADMINS),
        route("GET", "/api/v1/audit", None, ADMINS),
        route(
            "POST",
            "/api/v1/notifications/sign-in",
            Some(json!({ "user_id": "7", "email": "a@example.com", "ip": "203.0.113.9" })),
            OPERATORS,
        ),
    ];
    routes.push(route("GET", "/api/v1/connections", None, EVERYONE));
    routes.push(Route {
        user_denied_status: StatusCode::NOT_FOUND,
        ..route("GET", format!("/api/v1/connections/{connection}"), None, STAFF)
    });
    routes.push(Route {
        user_denied_status: StatusCode::NOT_FOUND,
        ..route("POST", format!("/api/v1/connections/{connection}/sync"), None, OPERATORS)
    });
    routes.push(route("DELETE", "/api/v1/schedules/s", None, OPERATORS));
    let own_connection =
        hoist_server::processors::sync::store::create_connection(&t.db, org, &ulla.to_string(), "x-2", "Khan", None)
            .await
            .unwrap();
    routes.push(route("GET", format!("/api/v1/queues/q/jobs/{own_job}"), None, EVERYONE));
    routes.push(route("POST", format!("/api/v1/queues/q/jobs/{own_job}/promote"), None, OPERATORS));
    routes.push(route("GET", format!("/api/v1/connections/{own_connection}"), None, EVERYONE));
    routes.push(route("POST", format!("/api/v1/connections/{own_connection}/sync"), None, ENQUEUERS));

    // An API token per role and scope, plus one per role holding every scope.
    let mut tokens: Vec<(Who, Vec<Scope>, String)> = vec![];
    for (who, username) in [(Admin, "admin"), (Operator, "opal"), (Viewer, "vera"), (User, "ulla")] {
        let mut sets: Vec<Vec<Scope>> = Scope::ALL.iter().map(|s| vec![*s]).collect();
        sets.push(Scope::ALL.to_vec());
        for scopes in sets {
            let token = hoist_server::tokens::create_token(&t.db, username, "matrix", &scopes, None).await.unwrap();
            tokens.push((who, scopes, token.secret));
        }
    }

    let (operator, operator_csrf) = t.client("opal", "opal-password", "10.4.0.2:1").await;
    let (viewer, viewer_csrf) = t.client("vera", "vera-password", "10.4.0.3:1").await;
    let (user, user_csrf) = t.client("ulla", "ulla-password", "10.4.0.4:1").await;
    let mut callers: Vec<(Who, Client, String)> = vec![
        (Viewer, viewer, viewer_csrf),
        (User, user, user_csrf),
        (Operator, operator, operator_csrf),
        (Admin, t.admin, t.csrf.clone()),
    ];
    let mut anonymous = Client::new(&t.app, "10.4.0.9:1");
    let mut failures = vec![];
    for r in &routes {
        let reply = anonymous.send(r.method, &r.path, r.body.clone(), &[]).await;
        if reply.status != StatusCode::UNAUTHORIZED {
            failures.push(format!("anonymous {} {}: {}", r.method, r.path, reply.status));
        }
        // Denied roles first, so an allowed call cannot change what they are refused.
        for (who, client, csrf) in callers.iter_mut() {
            let allowed = r.allowed.contains(who);
            let reply = client.send(r.method, &r.path, r.body.clone(), &[("x-csrf-token", csrf.as_str())]).await;
            let ok = if allowed {
                reply.status != StatusCode::UNAUTHORIZED && reply.status != StatusCode::FORBIDDEN
            } else if *who == User {
                reply.status == r.user_denied_status
            } else {
                reply.status == StatusCode::FORBIDDEN
            };
            if !ok {
                failures.push(format!(
                    "{who:?} {} {} (allowed: {allowed}): {} {}",
                    r.method, r.path, reply.status, reply.body
                ));
            }
        }
    }
    // Tokens: never more than the role, and only with the route's scope. A user denied
    // an object by ownership still gets 404 whatever the scope.
    let mut token_client = Client::new(&t.app, "10.4.0.8:1");
    let mut checked = 0;
    for r in &routes {
        for (who, scopes, secret) in &tokens {
            let scoped = r.scope.is_none_or(|s| scopes.contains(&s));
            let allowed = r.allowed.contains(who) && scoped;
            let bearer = format!("Bearer {secret}");
            let reply =
                token_client.send(r.method, &r.path, r.body.clone(), &[("authorization", bearer.as_str())]).await;
            let ok = if allowed {
                reply.status != StatusCode::UNAUTHORIZED && reply.status != StatusCode::FORBIDDEN
            } else if !r.allowed.contains(who) && *who == User {
                reply.status == r.user_denied_status || (!scoped && reply.status == StatusCode::FORBIDDEN)
            } else {
                reply.status == StatusCode::FORBIDDEN
            };
            checked += 1;
            if !ok {
                failures.push(format!(
                    "{who:?} token {scopes:?} {} {} (allowed: {allowed}): {} {}",
                    r.method, r.path, reply.status, reply.body
                ));
            }
        }
    }
    assert!(checked > 1000, "{checked}");
    assert!(failures.is_empty(), "{} wrong answers:\n{}", failures.len(), failures.join("\n"));
}
