//! The jobs and queues API with each role, against real Redis and SQLite.

use crate::common;

use axum::http::StatusCode;
use common::Client;
use hoist_queue::JobOptions;
use hoist_server::users::{Role, create_user};
use serde_json::json;

#[tokio::test]
async fn jobs_api_enforces_roles_and_reports_errors_by_field() {
    let t = common::TestApp::start().await;
    let (app, db) = (t.app.clone(), t.db.clone());
    create_user(&db, "vera", "vera-password", Role::Viewer).await.unwrap();
    let ulla = create_user(&db, "ulla", "ulla-password", Role::User).await.unwrap();
    let otto = create_user(&db, "otto", "otto-password", Role::User).await.unwrap();
    sqlx::query(
        r#"UPDATE users SET allowed_jobs = '{"sync":["sync-connection"],"exports":["monthly"]}' WHERE id IN ($1, $2)"#,
    )
    .bind(ulla)
    .bind(otto)
    .execute(&db.pool)
    .await
    .unwrap();

    let mut anonymous = Client::new(&app, "10.1.0.1:1");
    assert_eq!(anonymous.send("GET", "/api/v1/queues", None, &[]).await.status, StatusCode::UNAUTHORIZED);

    let (mut admin, csrf) = (t.admin, t.csrf);
    let h = [("x-csrf-token", csrf.as_str())];
    let job = json!({ "name": "send-email", "payload": { "to": "a@example.com" }, "options": { "dedup_key": "e-1" } });
    let r = admin.send("POST", "/api/v1/queues/emails/jobs", Some(job.clone()), &h).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let r = admin.send("POST", "/api/v1/queues/emails/jobs", Some(job), &h).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["error"]["existing_id"], id.as_str());

    let r = admin.send("POST", "/api/v1/queues/emails/jobs", Some(json!({ "nme": "x" })), &h).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert_eq!(r.body["error"]["field"], "nme");
    let r = admin
        .send("POST", "/api/v1/queues/emails/jobs", Some(json!({ "name": "x", "options": { "priority": 5000 } })), &h)
        .await;
    assert_eq!((r.status, r.body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("priority")));
    let r = admin.send("POST", "/api/v1/queues/bad%7Bname/jobs", Some(json!({ "name": "x" })), &h).await;
    assert_eq!((r.status, r.body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("queue")));
    let big = json!({ "name": "x", "payload": "y".repeat(600 * 1024) });
    assert_eq!(
        admin.send("POST", "/api/v1/queues/emails/jobs", Some(big), &h).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );

    let r = admin.send("GET", &format!("/api/v1/queues/emails/jobs/{id}"), None, &[]).await;
    assert_eq!((r.status, r.body["state"].as_str()), (StatusCode::OK, Some("waiting")));
    let r = admin.send("GET", "/api/v1/queues/emails/jobs?state=waiting", None, &[]).await;
    assert_eq!(r.body["total"], 1);
    assert_eq!(
        admin.send("GET", "/api/v1/queues/emails/jobs?state=nope", None, &[]).await.status,
        StatusCode::BAD_REQUEST
    );
    let r = admin.send("GET", "/api/v1/queues", None, &[]).await;
    assert_eq!(r.body[0]["name"], "emails");
    assert_eq!(r.body[0]["counts"]["waiting"], 1);

    // A viewer reads but cannot act, and the refusal is not an audit entry.
    let mut viewer = Client::new(&app, "10.1.0.3:1");
    let vcsrf = viewer.login("vera", "vera-password").await.body["csrf_token"].as_str().unwrap().to_string();
    let vh = [("x-csrf-token", vcsrf.as_str())];
    assert_eq!(viewer.send("GET", &format!("/api/v1/queues/emails/jobs/{id}"), None, &[]).await.status, StatusCode::OK);
    assert_eq!(viewer.send("POST", "/api/v1/queues/emails/pause", None, &vh).await.status, StatusCode::FORBIDDEN);
    let r = viewer.send("POST", "/api/v1/queues/emails/jobs", Some(json!({ "name": "x" })), &vh).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // An operator action is done and audited.
    let r = admin.send("POST", "/api/v1/queues/emails/pause", None, &h).await;
    assert_eq!((r.status, r.body["changed"].as_bool()), (StatusCode::OK, Some(true)));
    let r = admin.send("POST", &format!("/api/v1/queues/emails/jobs/{id}/cancel"), None, &h).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = admin.send("POST", &format!("/api/v1/queues/emails/jobs/{id}/promote"), None, &h).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "a cancelled job cannot be promoted");
    let audit: Vec<(String, String, String, String, Option<String>)> =
        sqlx::query_as("SELECT actor_name, action, target, result, client_addr FROM audit_log ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(audit.len(), 3);
    assert_eq!(audit[0], ("admin".into(), "pause".into(), "emails".into(), "ok".into(), Some("10.9.0.1".into())));
    assert_eq!(audit[1].1, "cancel");
    assert_eq!((audit[2].1.as_str(), audit[2].3.as_str()), ("promote", "failed"));

    // End users: only allowed job names, only safe options, always as owner, and blind to
    // others' jobs.
    let mut ulla_c = Client::new(&app, "10.1.0.4:1");
    let ucsrf = ulla_c.login("ulla", "ulla-password").await.body["csrf_token"].as_str().unwrap().to_string();
    let uh = [("x-csrf-token", ucsrf.as_str())];
    for (options, field) in [
        (json!({ "owner": "someone-else" }), "options.owner"),
        (json!({ "priority": 1 }), "options.priority"),
        (json!({ "group": "user:someone-else" }), "options.group"),
        (json!({ "max_attempts": 1000 }), "options.max_attempts"),
        (json!({ "rate_limit": { "key": "owner:9", "max": 1, "per": 3_600_000 } }), "options.rate_limit"),
    ] {
        let r = ulla_c
            .send("POST", "/api/v1/queues/exports/jobs", Some(json!({ "name": "monthly", "options": options })), &uh)
            .await;
        assert_eq!((r.status, r.body["error"]["field"].as_str()), (StatusCode::FORBIDDEN, Some(field)), "{:?}", r.body);
    }
    let r = ulla_c
        .send(
            "POST",
            "/api/v1/queues/exports/jobs",
            Some(json!({ "name": "monthly", "options": { "delay": 90_000_000 } })),
            &uh,
        )
        .await;
    assert_eq!((r.status, r.body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("options.delay")));
    let r = ulla_c
        .send(
            "POST",
            "/api/v1/queues/sync/jobs",
            Some(json!({ "name": "sync-all-org", "payload": { "org_id": 1 } })),
            &uh,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "only the allowed job names");
    let r = ulla_c
        .send(
            "POST",
            "/api/v1/queues/exports/jobs",
            Some(json!({ "name": "monthly", "options": { "priorty": 1 } })),
            &uh,
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("options.priorty")),
        "unknown option"
    );
    let r = ulla_c.send("POST", "/api/v1/queues/exports/jobs", Some(json!({ "name": "monthly" })), &uh).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let ulla_job = r.body["id"].as_str().unwrap().to_string();
    let r = ulla_c.send("GET", &format!("/api/v1/queues/exports/jobs/{ulla_job}"), None, &[]).await;
    assert_eq!(r.body["owner"], ulla.to_string(), "owner forced to the caller");
    assert_eq!(
        ulla_c.send("POST", "/api/v1/queues/emails/jobs", Some(json!({ "name": "x" })), &uh).await.status,
        StatusCode::FORBIDDEN
    );
    let mut otto_c = Client::new(&app, "10.1.0.5:1");
    otto_c.login("otto", "otto-password").await;
    let r = otto_c.send("GET", &format!("/api/v1/queues/exports/jobs/{ulla_job}"), None, &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "another user's job does not exist for them");
    let r = otto_c.send("GET", "/api/v1/queues/exports/jobs", None, &[]).await;
    assert_eq!(r.body["jobs"].as_array().unwrap().len(), 0);
    assert_eq!(r.body["total"], 0, "the total counts only the caller's own jobs");

    // Dedup keys live in each user's namespace: the same key never collides across users,
    // a 409 only ever names the caller's own job, and nobody can pre-take the scheduler's
    // `schedule:NAME:TICK` keys.
    let ocsrf = otto_c.login("otto", "otto-password").await.body["csrf_token"].as_str().unwrap().to_string();
    let oh = [("x-csrf-token", ocsrf.as_str())];
    let keyed = |key: &str| json!({ "name": "monthly", "options": { "dedup_key": key } });
    let first = ulla_c.send("POST", "/api/v1/queues/exports/jobs", Some(keyed("k")), &uh).await;
    let other = otto_c.send("POST", "/api/v1/queues/exports/jobs", Some(keyed("k")), &oh).await;
    assert_eq!((first.status, other.status), (StatusCode::ACCEPTED, StatusCode::ACCEPTED));
    assert_ne!(first.body["id"], other.body["id"]);
    let again = otto_c.send("POST", "/api/v1/queues/exports/jobs", Some(keyed("k")), &oh).await;
    assert_eq!((again.status, &again.body["error"]["existing_id"]), (StatusCode::CONFLICT, &other.body["id"]));
    let taken = otto_c.send("POST", "/api/v1/queues/exports/jobs", Some(keyed("schedule:nightly:1")), &oh).await;
    assert_eq!(taken.status, StatusCode::ACCEPTED);
    let engine = hoist_queue::RedisConnection::connect(&t.redis.url()).await.unwrap();
    let tick = hoist_queue::NewJob::new("x", json!({}))
        .with_options(JobOptions { dedup_key: Some("schedule:nightly:1".into()), ..Default::default() });
    let r = hoist_queue::Queue::new(&engine, "exports").unwrap().enqueue(tick).await.unwrap();
    assert!(!r.duplicate, "the scheduler's key is still free");
    // Nor can staff take the server's own keys through the API (a user's namespace, Sync
    // now's per-connection key, a schedule's tick).
    for key in [format!("user:{ulla}:k"), "connection:1".to_string(), "schedule:nightly:2".to_string()] {
        let r = admin
            .send(
                "POST",
                "/api/v1/queues/exports/jobs",
                Some(json!({ "name": "x", "options": { "dedup_key": key } })),
                &h,
            )
            .await;
        assert_eq!((r.status, r.body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("options.dedup_key")));
    }
    // An end user's sync-connection takes the "Sync now" door: their own connection only,
    // and the sync already waiting comes back instead of a second one.
    let org = hoist_server::processors::sync::store::create_organisation(&db, "Org").await.unwrap();
    use hoist_server::processors::sync::store::create_connection;
    let mine = create_connection(&db, org, &ulla.to_string(), "mine", "Golomt", None).await.unwrap();
    let theirs = create_connection(&db, org, &otto.to_string(), "theirs", "Golomt", None).await.unwrap();
    let sync = |id: i64| json!({ "name": "sync-connection", "payload": { "connection_id": id } });
    let first = ulla_c.send("POST", "/api/v1/queues/sync/jobs", Some(sync(mine)), &uh).await;
    let again = ulla_c.send("POST", "/api/v1/queues/sync/jobs", Some(sync(mine)), &uh).await;
    assert_eq!((first.status, again.status), (StatusCode::ACCEPTED, StatusCode::ACCEPTED), "{:?}", first.body);
    assert_eq!(first.body["id"], again.body["id"]);
    let r = ulla_c.send("POST", "/api/v1/queues/sync/jobs", Some(sync(theirs)), &uh).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "another user's connection does not exist for them");
    let r = ulla_c.send("POST", "/api/v1/queues/sync/jobs", Some(json!({ "name": "sync-connection" })), &uh).await;
    assert_eq!((r.status, r.body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("payload.connection_id")));
    let r = ulla_c.send("POST", "/api/v1/queues/sync/jobs/bulk", Some(json!({ "jobs": [sync(mine)] })), &uh).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "no bulk syncs for end users");
    // And each end user adds at most 60 jobs a minute to a queue.
    let many: Vec<_> = (0..61).map(|_| json!({ "name": "monthly" })).collect();
    let r = otto_c.send("POST", "/api/v1/queues/exports/jobs/bulk", Some(json!({ "jobs": many })), &oh).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", r.body);

    for bad in ["a\u{200B}b", "a\nb", "\u{202E}x"] {
        let r = otto_c.send("POST", "/api/v1/queues/exports/jobs", Some(keyed(bad)), &oh).await;
        assert_eq!((r.status, r.body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("options.dedup_key")));
    }
}

#[tokio::test]
async fn bulk_enqueue_health_and_maintenance() {
    let t = common::TestApp::start().await;
    let (mut admin, csrf) = (t.admin, t.csrf);
    let h = [("x-csrf-token", csrf.as_str())];

    let jobs: Vec<_> = (0..1200).map(|i| json!({ "name": "n", "payload": i })).collect();
    let r = admin.send("POST", "/api/v1/queues/bulk/jobs/bulk", Some(json!({ "jobs": jobs })), &h).await;
    assert_eq!((r.status, r.body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("jobs")));
    let jobs: Vec<_> = (0..1001).take(1000).map(|i| json!({ "name": "n", "payload": i })).collect();
    let r = admin.send("POST", "/api/v1/queues/bulk/jobs/bulk", Some(json!({ "jobs": jobs })), &h).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    assert_eq!(r.body["jobs"].as_array().unwrap().len(), 1000);

    // 1000 waiting is not yet "more than 1000"; one more is.
    let r = admin.send("GET", "/api/v1/queues/bulk/health", None, &[]).await;
    assert_eq!((r.body["healthy"].as_bool(), r.body["counts"]["waiting"].as_u64()), (Some(true), Some(1000)));
    admin.send("POST", "/api/v1/queues/bulk/jobs", Some(json!({ "name": "one-more" })), &h).await;
    let r = admin.send("GET", "/api/v1/queues/bulk/health", None, &[]).await;
    assert_eq!(r.body["healthy"], false);
    assert!(r.body["warnings"][0].as_str().unwrap().contains("1,001 jobs waiting"), "{:?}", r.body);
    assert_eq!(r.body["issues"][0], serde_json::json!({ "kind": "too_many_waiting", "count": 1001, "limit": 1000 }));

    let r = admin.send("POST", "/api/v1/queues/bulk/maintenance", Some(json!({ "action": "drain" })), &h).await;
    assert_eq!((r.status, r.body["affected"].as_u64()), (StatusCode::OK, Some(1001)));
    let r = admin
        .send("POST", "/api/v1/queues/bulk/maintenance", Some(json!({ "action": "clean", "state": "active" })), &h)
        .await;
    assert_eq!((r.status, r.body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("state")));
    let r = admin
        .send("POST", "/api/v1/queues/bulk/maintenance", Some(json!({ "action": "retry-all", "from": "dead" })), &h)
        .await;
    assert_eq!((r.status, r.body["affected"].as_u64()), (StatusCode::OK, Some(0)));
    let r = admin.send("POST", "/api/v1/queues/bulk/maintenance", Some(json!({ "action": "explode" })), &h).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = admin.send("GET", "/api/v1/queues/bulk/health", None, &[]).await;
    assert_eq!(r.body["healthy"], true);
}

#[tokio::test]
async fn job_lists_filter_by_owner_and_name_with_cursor_paging() {
    let t = common::TestApp::start().await;
    let ulla = create_user(&t.db, "ulla", "ulla-password", Role::User).await.unwrap();
    let (mut user, _) = t.client("ulla", "ulla-password", "10.2.0.7:1").await;
    let (mut admin, csrf) = (t.admin, t.csrf.clone());
    let h = [("x-csrf-token", csrf.as_str())];
    let jobs: Vec<serde_json::Value> = (0..30)
        .map(|i| {
            let owner = if i % 3 == 0 { ulla.to_string() } else { "someone-else".to_string() };
            json!({ "name": if i % 2 == 0 { "even" } else { "odd" }, "payload": { "i": i }, "options": { "owner": owner } })
        })
        .collect();
    let r = admin.send("POST", "/api/v1/queues/mixed/jobs/bulk", Some(json!({ "jobs": jobs })), &h).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);

    // Every even job once, newest first, four per page.
    let mut seen = vec![];
    let mut cursor = String::new();
    loop {
        let r = admin.send("GET", &format!("/api/v1/queues/mixed/jobs?name=even&limit=4{cursor}"), None, &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        for job in r.body["jobs"].as_array().unwrap() {
            assert_eq!(job["name"], "even");
            seen.push(job["payload"]["i"].as_i64().unwrap());
        }
        match r.body["next"].as_u64() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(seen, (0..30).rev().filter(|i| i % 2 == 0).collect::<Vec<i64>>());

    let r = admin.send("GET", &format!("/api/v1/queues/mixed/jobs?owner={ulla}&name=odd&limit=50"), None, &[]).await;
    let found: Vec<i64> =
        r.body["jobs"].as_array().unwrap().iter().map(|j| j["payload"]["i"].as_i64().unwrap()).collect();
    assert_eq!(found, vec![27, 21, 15, 9, 3]);

    // An end user sees only their own jobs, whatever owner they ask for.
    let r = user.send("GET", "/api/v1/queues/mixed/jobs?owner=someone-else&limit=50", None, &[]).await;
    let found: Vec<i64> =
        r.body["jobs"].as_array().unwrap().iter().map(|j| j["payload"]["i"].as_i64().unwrap()).collect();
    assert_eq!(found, (0..30).rev().filter(|i| i % 3 == 0).collect::<Vec<i64>>());
}

/// An end user's listing reads the index of their own jobs: one job of theirs behind
/// 6,000 of other people's is found on the first page (a scan stopped after 5,000 jobs
/// and came back empty), and the total counts only theirs.
#[tokio::test]
async fn end_user_listings_read_only_their_own_jobs() {
    let t = common::TestApp::start().await;
    let ulla = create_user(&t.db, "ulla", "ulla-password", Role::User).await.unwrap();
    let engine = hoist_queue::RedisConnection::connect(&t.redis.url()).await.unwrap();
    let queue = hoist_queue::Queue::new(&engine, "busy").unwrap();
    let owned = |owner: String| {
        hoist_queue::NewJob::new("x", json!({}))
            .with_options(hoist_queue::JobOptions { owner: Some(owner), ..Default::default() })
    };
    let mine = queue.enqueue(owned(ulla.to_string())).await.unwrap().id;
    for chunk in 0..6 {
        let jobs = (0..1000).map(|i| owned(format!("other-{}", chunk * 1000 + i))).collect();
        queue.enqueue_bulk(jobs).await.unwrap();
    }
    let (mut user, _) = t.client("ulla", "ulla-password", "10.1.0.9:1").await;
    let r = user.send("GET", "/api/v1/queues/busy/jobs?limit=10", None, &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let ids: Vec<&str> = r.body["jobs"].as_array().unwrap().iter().map(|j| j["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [mine.as_str()]);
    assert_eq!((r.body["total"].as_u64(), r.body["next"].as_u64()), (Some(1), None));
}

/// An operator fixes a cancelled job's payload and retries it, and duplicates a job; both
/// audited, both refused with a clear error where they cannot apply.
#[tokio::test]
async fn operators_retry_with_an_edited_payload_and_duplicate_jobs() {
    let t = common::TestApp::start().await;
    let (app, db) = (t.app.clone(), t.db.clone());
    create_user(&db, "opal", "opal-password", Role::Operator).await.unwrap();
    create_user(&db, "vera", "vera-password", Role::Viewer).await.unwrap();
    let (mut admin, csrf) = (t.admin, t.csrf);
    let h = [("x-csrf-token", csrf.as_str())];
    let job = json!({
        "name": "send-email",
        "payload": { "to": "typo@example" },
        "options": { "delay": 3_600_000, "priority": 4, "max_attempts": 6, "dedup_key": "mail-1" },
    });
    let r = admin.send("POST", "/api/v1/queues/emails/jobs", Some(job), &h).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let path = |tail: &str| format!("/api/v1/queues/emails/jobs/{id}{tail}");

    // Only dead or cancelled jobs take a new payload.
    let fixed = json!({ "payload": { "to": "right@example.com" } });
    let r = admin.send("POST", &path("/retry-edited"), Some(fixed.clone()), &h).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert_eq!(admin.send("POST", &path("/cancel"), None, &h).await.status, StatusCode::OK);
    for (body, field) in [(json!({}), "payload"), (json!({ "payload": 1, "extra": 2 }), "extra")] {
        let r = admin.send("POST", &path("/retry-edited"), Some(body), &h).await;
        assert_eq!(
            (r.status, r.body["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{:?}",
            r.body
        );
    }
    let r = admin.send("POST", &path("/retry-edited"), Some(fixed), &h).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = admin.send("GET", &path(""), None, &[]).await;
    assert_eq!(
        (r.body["state"].as_str(), &r.body["payload"]),
        (Some("waiting"), &json!({ "to": "right@example.com" }))
    );
    assert_eq!((r.body["priority"].as_u64(), r.body["attempts"].as_u64()), (Some(4), Some(0)));

    // A copy: a new id, the same input, no dedup key (it would dedupe to the original).
    let mut opal = common::Client::new(&app, "10.9.0.2:1");
    let opal_csrf = opal.login("opal", "opal-password").await.body["csrf_token"].as_str().unwrap().to_string();
    let oh = [("x-csrf-token", opal_csrf.as_str())];
    let r = opal.send("POST", &path("/duplicate"), None, &oh).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let copy = r.body["id"].as_str().unwrap().to_string();
    assert_ne!(copy, id);
    let r = admin.send("GET", &format!("/api/v1/queues/emails/jobs/{copy}"), None, &[]).await;
    assert_eq!(
        (r.body["name"].as_str(), &r.body["payload"]),
        (Some("send-email"), &json!({ "to": "right@example.com" }))
    );
    assert_eq!((r.body["max_attempts"].as_u64(), &r.body["dedup_key"]), (Some(6), &serde_json::Value::Null));
    let missing = "/api/v1/queues/emails/jobs/01J9Z3V6G6Y3W8Q0M2B4C5D6E7/duplicate";
    assert_eq!(opal.send("POST", missing, None, &oh).await.status, StatusCode::NOT_FOUND);

    // A viewer may do neither.
    let mut vera = common::Client::new(&app, "10.9.0.3:1");
    let vera_csrf = vera.login("vera", "vera-password").await.body["csrf_token"].as_str().unwrap().to_string();
    let vh = [("x-csrf-token", vera_csrf.as_str())];
    assert_eq!(vera.send("POST", &path("/duplicate"), None, &vh).await.status, StatusCode::FORBIDDEN);

    let audit: Vec<(String, String, String, String)> =
        sqlx::query_as("SELECT actor_name, action, params, result FROM audit_log WHERE action IN ('retry-edited', 'duplicate') ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    let actions: Vec<(&str, &str, &str)> =
        audit.iter().map(|(a, b, _, d)| (a.as_str(), b.as_str(), d.as_str())).collect();
    assert_eq!(
        actions,
        [
            ("admin", "retry-edited", "failed"),
            ("admin", "retry-edited", "ok"),
            ("opal", "duplicate", "ok"),
            ("opal", "duplicate", "failed"),
        ]
    );
    assert!(audit[2].2.contains(&copy), "the copy's id is in the entry: {}", audit[2].2);
}

/// `options.expires_in` over REST: a job not started in time is listed under `expired`,
/// counted, and retried by an operator; an end user may not set it.
#[tokio::test]
async fn a_job_not_started_by_its_deadline_is_listed_as_expired_and_can_be_retried() {
    let t = common::TestApp::start().await;
    let mut admin = t.admin;
    let csrf = [("x-csrf-token", t.csrf.as_str())];
    let engine = hoist_queue::RedisConnection::connect(&t.redis.url()).await.unwrap();
    let queue = hoist_queue::Queue::new(&engine, "deadlines").unwrap();
    queue.pause().await.unwrap();
    let body = json!({ "name": "report", "payload": {}, "options": { "expires_in": 100 } });
    let r = admin.send("POST", "/api/v1/queues/deadlines/jobs", Some(body), &csrf).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let bad = json!({ "name": "report", "options": { "expires_in": 1000, "delay": 2000 } });
    let r = admin.send("POST", "/api/v1/queues/deadlines/jobs", Some(bad), &csrf).await;
    assert_eq!((r.status, &r.body["error"]["field"]), (StatusCode::BAD_REQUEST, &json!("expires_in")), "{:?}", r.body);

    // A worker of the queue, paused, sweeps it out once its deadline passed.
    let stop = hoist_queue::CancellationToken::new();
    let options = hoist_queue::WorkerOptions {
        stall_check_interval: std::time::Duration::from_millis(100),
        ..Default::default()
    };
    let handlers =
        hoist_queue::Handlers::new().on("report", hoist_queue::handler_fn(|_| async { Ok(json!({ "done": true })) }));
    let worker = tokio::spawn(hoist_queue::Worker::new(queue.clone(), handlers, options).run(stop.clone()));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let r = admin.send("GET", "/api/v1/queues/deadlines/jobs?state=expired", None, &[]).await;
        if r.body["jobs"].as_array().is_some_and(|jobs| jobs.iter().any(|j| j["id"] == id.as_str())) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the job was not listed as expired: {:?}", r.body);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let job = admin.send("GET", &format!("/api/v1/queues/deadlines/jobs/{id}"), None, &[]).await;
    assert_eq!(job.body["state"], "expired", "{:?}", job.body);
    let queues = admin.send("GET", "/api/v1/queues", None, &[]).await;
    let listed = queues.body.as_array().unwrap().iter().find(|q| q["name"] == "deadlines").cloned().unwrap();
    assert_eq!(listed["counts"]["expired"], 1, "{listed}");

    queue.resume().await.unwrap();
    let r = admin.send("POST", &format!("/api/v1/queues/deadlines/jobs/{id}/retry"), None, &csrf).await;
    assert!(r.status.is_success(), "{:?}", r.body);
    loop {
        let job = admin.send("GET", &format!("/api/v1/queues/deadlines/jobs/{id}"), None, &[]).await;
        if job.body["state"] == "completed" {
            break;
        }
        assert!(std::time::Instant::now() < deadline + std::time::Duration::from_secs(10), "{:?}", job.body);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    stop.cancel();
    worker.await.unwrap().unwrap();
}

/// Fair groups over the API: a job's group is given, shown and bounded; an end user's job
/// is always in the user's own group; the queue's group cap is one of its limits.
#[tokio::test]
async fn jobs_carry_groups_and_end_users_are_groups_of_their_own() {
    let t = common::TestApp::start().await;
    let ulla = create_user(&t.db, "ulla", "ulla-password", Role::User).await.unwrap();
    sqlx::query(r#"UPDATE users SET allowed_jobs = '{"exports":["monthly"]}' WHERE id = $1"#)
        .bind(ulla)
        .execute(&t.db.pool)
        .await
        .unwrap();
    let mut admin = t.admin;
    let csrf = [("x-csrf-token", t.csrf.as_str())];
    let r = admin
        .send(
            "POST",
            "/api/v1/queues/exports/jobs",
            Some(json!({ "name": "monthly", "options": { "group": "org-7" } })),
            &csrf,
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let job =
        admin.send("GET", &format!("/api/v1/queues/exports/jobs/{}", r.body["id"].as_str().unwrap()), None, &[]).await;
    assert_eq!(job.body["group"], "org-7", "{:?}", job.body);
    for (group, why) in
        [(json!(""), "empty"), (json!("a\u{7}b"), "a control character"), (json!("g".repeat(201)), "201 bytes")]
    {
        let body = json!({ "name": "monthly", "options": { "group": group } });
        let r = admin.send("POST", "/api/v1/queues/exports/jobs", Some(body), &csrf).await;
        assert_eq!(
            (r.status, r.body["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("options.group")),
            "{why}"
        );
    }

    let mut ulla_c = Client::new(&t.app, "10.1.0.4:1");
    let ucsrf = ulla_c.login("ulla", "ulla-password").await.body["csrf_token"].as_str().unwrap().to_string();
    let r = ulla_c
        .send(
            "POST",
            "/api/v1/queues/exports/jobs",
            Some(json!({ "name": "monthly" })),
            &[("x-csrf-token", ucsrf.as_str())],
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let job =
        ulla_c.send("GET", &format!("/api/v1/queues/exports/jobs/{}", r.body["id"].as_str().unwrap()), None, &[]).await;
    assert_eq!(job.body["group"], format!("user:{ulla}"), "{:?}", job.body);
}
