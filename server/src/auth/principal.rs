//! Who is asking: a user signed in with a session cookie, or a service with an API token.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::FromRequestParts;
use axum::http::{Method, header, request::Parts};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tower_sessions::Session;

use crate::api_error::ApiError;
use crate::db::{Db, now_ms};
use crate::state::AppState;
use crate::users::Role;

/// Session keys.
pub const SESSION_USER: &str = "user_id";
pub const SESSION_CSRF: &str = "csrf";
/// The header a cookie-authenticated state-changing request must echo the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub enum AuthVia {
    Session,
    /// An API token holding these scopes (names it stored that are no longer known are
    /// dropped, so they grant nothing).
    Token {
        /// The token's id (`hoist token list`), which the audit log records.
        id: i64,
        scopes: Vec<crate::policy::Scope>,
    },
}

/// An authenticated caller. Extracting it from a request fails with 401 (no or bad
/// credentials) or 403 (a cookie request that changes state without the CSRF token).
#[derive(Clone, Debug, Serialize)]
pub struct Principal {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
    pub via: AuthVia,
}

/// The secret of an `Authorization: Bearer <secret>` header (the scheme name is
/// case-insensitive, RFC 9110).
pub fn bearer_secret(value: &str) -> Option<&str> {
    let (scheme, secret) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(secret)
}

/// API tokens are stored as SHA-256 hex; the secret itself is shown once.
pub fn token_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let secret = value.to_str().ok().and_then(bearer_secret).ok_or(ApiError::Unauthenticated)?;
            return by_token(&state.db, secret.trim()).await?.ok_or(ApiError::Unauthenticated);
        }
        let session = Session::from_request_parts(parts, state).await.map_err(|_| ApiError::Unauthenticated)?;
        let changes_state = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        let given = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
        from_session(&state.db, &session, changes_state.then_some(given)).await
    }
}

/// When the session signed in (epoch ms): a password change ends sessions older than it.
pub const SESSION_SIGNED_IN_AT: &str = "signed_in_at";
/// When the session's expiry was last pushed forward (epoch ms).
pub const SESSION_TOUCHED_AT: &str = "touched_at";

/// How often a session in use is saved again so its idle expiry moves forward (the
/// session layer saves only changed sessions): at most once a minute per session, to
/// spare the database a write per request.
static SESSION_TOUCH_EVERY_MS: AtomicU64 = AtomicU64::new(60_000);

/// Changes `SESSION_TOUCH_EVERY_MS` for the whole process (tests use a short one).
pub fn set_session_touch_interval(every: std::time::Duration) {
    SESSION_TOUCH_EVERY_MS.store(every.as_millis() as u64, Ordering::Relaxed);
}

/// The user of a cookie session. `csrf`, for requests that change something, must be the
/// session's token (from the `x-csrf-token` header, or a dashboard form's hidden field).
///
/// The session ends (401, and it is deleted) when its user is gone or disabled, or signed
/// in before their password last changed.
pub async fn from_session(db: &Db, session: &Session, csrf: Option<&str>) -> Result<Principal, ApiError> {
    let user_id: i64 =
        session.get(SESSION_USER).await.map_err(|e| ApiError::Internal(e.into()))?.ok_or(ApiError::Unauthenticated)?;
    let signed_in_at: i64 = session.get(SESSION_SIGNED_IN_AT).await.ok().flatten().unwrap_or(0);
    let user = match load_user(db, user_id).await? {
        Some(user) if user.session_holds(signed_in_at).is_ok() => user,
        _ => {
            let _ = session.flush().await;
            return Err(ApiError::Unauthenticated);
        }
    };
    if let Some(given) = csrf {
        let expected: Option<String> = session.get(SESSION_CSRF).await.map_err(|e| ApiError::Internal(e.into()))?;
        // Compared in constant time, so response timing tells nothing about the token.
        let matches =
            expected.is_some_and(|e| bool::from(subtle::ConstantTimeEq::ct_eq(e.as_bytes(), given.as_bytes())));
        if !matches {
            return Err(ApiError::Forbidden(format!("missing or wrong {CSRF_HEADER} header")));
        }
    }
    let now = now_ms();
    let touched_at: i64 = session.get(SESSION_TOUCHED_AT).await.ok().flatten().unwrap_or(0);
    if now.saturating_sub(touched_at) >= SESSION_TOUCH_EVERY_MS.load(Ordering::Relaxed) as i64 {
        // A changed session is saved after the response with a new expiry and cookie.
        let _ = session.insert(SESSION_TOUCHED_AT, now).await;
    }
    Ok(Principal { user_id, username: user.username, role: user.role, via: AuthVia::Session })
}

/// What sessions need to know of a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    pub username: String,
    pub role: Role,
    pub disabled: bool,
    /// Sessions signed in before this (epoch ms) are over.
    pub sessions_valid_after: i64,
}

/// Why a session (or a live socket's credentials) no longer holds.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SessionEnded {
    #[error("signed out")]
    SignedOut,
    #[error("user disabled")]
    Disabled,
    #[error("password changed")]
    PasswordChanged,
}

impl UserRecord {
    /// Whether a session that signed in at `signed_in_at` still stands for this user.
    pub fn session_holds(&self, signed_in_at: i64) -> Result<(), SessionEnded> {
        if self.disabled {
            Err(SessionEnded::Disabled)
        } else if signed_in_at < self.sessions_valid_after {
            Err(SessionEnded::PasswordChanged)
        } else {
            Ok(())
        }
    }
}

pub(crate) async fn load_user(db: &Db, id: i64) -> Result<Option<UserRecord>, ApiError> {
    let row: Option<(String, String, i64, i64)> =
        sqlx::query_as("SELECT username, role, disabled, sessions_valid_after FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&db.pool)
            .await?;
    Ok(row.and_then(|(username, role, disabled, sessions_valid_after)| {
        Some(UserRecord { username, role: Role::parse(&role)?, disabled: disabled != 0, sessions_valid_after })
    }))
}

async fn by_token(db: &Db, secret: &str) -> Result<Option<Principal>, ApiError> {
    let now = now_ms();
    let row: Option<(i64, i64, String, String, String)> = sqlx::query_as(
        "SELECT t.id, u.id, u.username, u.role, t.scopes FROM api_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2)
           AND u.disabled = 0",
    )
    .bind(token_hash(secret))
    .bind(now)
    .fetch_optional(&db.pool)
    .await?;
    let Some((token_id, user_id, username, role, scopes)) = row else { return Ok(None) };
    let Some(role) = Role::parse(&role) else { return Ok(None) };
    sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
        .bind(now)
        .bind(token_id)
        .execute(&db.pool)
        .await?;
    let names: Vec<String> = serde_json::from_str(&scopes).unwrap_or_default();
    let scopes = names.iter().filter_map(|name| crate::policy::Scope::parse(name)).collect();
    Ok(Some(Principal { user_id, username, role, via: AuthVia::Token { id: token_id, scopes } }))
}
