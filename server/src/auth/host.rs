//! Signing in through the host application: when Hoist is mounted inside another axum
//! app, that app's own sign-in can stand for Hoist's. A hook maps each request's head
//! (the host's cookie or header) to a [`HostUser`]; Hoist then keeps a session of its
//! own for that user (CSRF token, live-feed checks and the audit log work as for a
//! password sign-in) and ends it when the hook stops naming them.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

use crate::api_error::ApiError;
use crate::db::{Db, now_ms};
use crate::state::AppState;
use crate::users::Role;

/// A user as the host application knows them, and the Hoist role they get.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostUser {
    /// Their Hoist user name: 1 to 64 ASCII letters, digits, `.`, `_`, `-` or `@`; it
    /// must not be taken by a Hoist password account.
    pub username: String,
    pub role: Role,
}

impl HostUser {
    pub fn new(username: impl Into<String>, role: Role) -> Self {
        HostUser { username: username.into(), role }
    }
}

type Identify = dyn Fn(&Parts) -> Pin<Box<dyn Future<Output = Option<HostUser>> + Send>> + Send + Sync;

/// The host application's hook: who is asking, or `None` for nobody it knows.
#[derive(Clone)]
pub struct HostAuth(Arc<Identify>);

impl HostAuth {
    /// `identify` sees the request's head; it clones what it needs (a cookie, a header)
    /// before its future starts.
    pub fn new<F, Fut>(identify: F) -> Self
    where
        F: Fn(&Parts) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<HostUser>> + Send + 'static,
    {
        HostAuth(Arc::new(move |parts: &Parts| Box::pin(identify(parts))))
    }

    pub async fn identify(&self, parts: &Parts) -> Option<HostUser> {
        (self.0)(parts).await
    }
}

impl std::fmt::Debug for HostAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HostAuth(..)")
    }
}

/// A copy of a request's head (method, URI, headers, extensions such as the host's own
/// session) to ask the hook about again later, as a live socket does while it stays open.
pub fn copy_head(parts: &Parts) -> Parts {
    let (mut head, ()) = axum::http::Request::new(()).into_parts();
    head.method = parts.method.clone();
    head.uri = parts.uri.clone();
    head.headers = parts.headers.clone();
    head.extensions = parts.extensions.clone();
    head
}

/// Records what the host's sign-in did to an account, as the host's user did it.
async fn audit_host(db: &Db, id: i64, user: &HostUser, action: &str) -> Result<(), ApiError> {
    let actor = super::Principal {
        user_id: id,
        username: user.username.clone(),
        role: user.role,
        via: super::AuthVia::Session,
    };
    let entry = crate::audit::AuditEntry {
        action,
        target: user.username.clone(),
        params: serde_json::json!({ "role": user.role.as_str(), "by": "host application" }),
        result: "ok",
        client_addr: None,
    };
    crate::audit::record(db, &actor, entry).await?;
    Ok(())
}

/// Session key: on sessions this module started (which end with the host's), the host's
/// user name and role, so a request whose user is unchanged costs no SQL.
const SESSION_HOST_USER: &str = "host_user";

/// The `password_hash` of accounts the host provisions: no password verifies against it,
/// and it tells them from Hoist's own password accounts.
pub const HOST_ACCOUNT: &str = "!host";

/// Middleware inside the session layer: before anything reads the caller, the request's
/// Hoist session is brought in line with the host's. Requests that need no caller (static
/// files, probes) and API-token requests skip the hook.
pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(hook) = &state.host_auth else { return next.run(request).await };
    if needs_no_session(request.uri().path()) || request.headers().contains_key(axum::http::header::AUTHORIZATION) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Some(session) = parts.extensions.get::<Session>().cloned() else {
        return next.run(Request::from_parts(parts, body)).await;
    };
    if let Err(error) = align_session(hook, &state.db, &parts, &session).await {
        return error.into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}

/// The dashboard's built assets and icon, and the probes and metrics (a public
/// `/metrics`, or one a token reads).
fn needs_no_session(path: &str) -> bool {
    path.starts_with("/pkg/") || matches!(path, "/favicon.svg" | "/healthz" | "/readyz" | "/metrics")
}

/// Brings the request's Hoist session in line with what the host says: a session for the
/// user it names (started, or switched from another host user's), or none when it names
/// nobody and the session was the host's. A session signed in with a Hoist password is
/// left alone until it signs out.
pub async fn align_session(hook: &HostAuth, db: &Db, parts: &Parts, session: &Session) -> Result<(), ApiError> {
    let internal = |e: tower_sessions::session::Error| ApiError::Internal(e.into());
    let held: Option<(String, String)> = session.get(SESSION_HOST_USER).await.map_err(internal)?;
    if held.is_none() && session.get::<i64>(super::principal::SESSION_USER).await.map_err(internal)?.is_some() {
        return Ok(());
    }
    match hook.identify(parts).await {
        Some(user)
            if held.as_ref().is_some_and(|(name, role)| *name == user.username && role == user.role.as_str()) =>
        {
            Ok(())
        }
        Some(user) => match provision(db, &user).await? {
            Some(id) => {
                super::login::start_session(session, id).await?;
                let held = (user.username.clone(), user.role.as_str().to_string());
                session.insert(SESSION_HOST_USER, held).await.map_err(internal)
            }
            None if held.is_some() => session.flush().await.map_err(internal),
            None => Ok(()),
        },
        None if held.is_some() => session.flush().await.map_err(internal),
        None => Ok(()),
    }
}

/// The id of the Hoist account standing for `user`, created on first sight and given the
/// role the host says now (both in the audit log). `None` when the name is not a valid
/// user name, belongs to a password account (the host cannot take over Hoist's own
/// `admin`), or an admin disabled the account in Hoist.
async fn provision(db: &Db, user: &HostUser) -> Result<Option<i64>, ApiError> {
    // Logged at debug: a hook that keeps naming a refused user would log on every request.
    if !crate::users::valid_username(&user.username) {
        tracing::debug!(username = %user.username.escape_debug(), "host sign-in names an invalid user name");
        return Ok(None);
    }
    for _ in 0..2 {
        let row: Option<(i64, String, String, i64)> =
            sqlx::query_as("SELECT id, password_hash, role, disabled FROM users WHERE username = $1")
                .bind(&user.username)
                .fetch_optional(&db.pool)
                .await?;
        match row {
            Some((_, hash, _, _)) if hash != HOST_ACCOUNT => {
                tracing::debug!(username = %user.username, "host sign-in names a Hoist password account; refused");
                return Ok(None);
            }
            Some((_, _, _, disabled)) if disabled != 0 => return Ok(None),
            Some((id, _, role, _)) => {
                if role != user.role.as_str() {
                    sqlx::query("UPDATE users SET role = $1, updated_at = $2 WHERE id = $3")
                        .bind(user.role.as_str())
                        .bind(now_ms())
                        .bind(id)
                        .execute(&db.pool)
                        .await?;
                    audit_host(db, id, user, "user.host_role").await?;
                }
                return Ok(Some(id));
            }
            None => match crate::users::insert_account(db, &user.username, HOST_ACCOUNT, user.role).await? {
                Some(id) => {
                    audit_host(db, id, user, "user.host_provision").await?;
                    return Ok(Some(id));
                }
                // Another request created it first: read it again.
                None => continue,
            },
        }
    }
    Ok(None)
}
