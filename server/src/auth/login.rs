//! Signing in and out: password check, lockout against guessing, session set-up.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use rand::distr::{Alphanumeric, SampleString};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use super::principal::{Principal, SESSION_CSRF, SESSION_USER, load_user};
use crate::api_error::ApiError;
use crate::state::AppState;
use crate::users::{Role, verify_password};

/// Failed sign-ins allowed per account, and per client address, in the window.
pub const MAX_FAILURES_PER_ACCOUNT: i64 = 5;
pub const MAX_FAILURES_PER_ADDRESS: i64 = 20;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SignedIn {
    pub user: UserView,
    /// Echo it in the `x-csrf-token` header of every state-changing request.
    pub csrf_token: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub role: Role,
}

fn failure_keys(username: &str, addr: &SocketAddr) -> (String, String) {
    (format!("hoist:auth:failures:user:{}", username.to_lowercase()), format!("hoist:auth:failures:addr:{}", addr.ip()))
}

/// `POST /api/v1/auth/login`
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", security(()), request_body = LoginRequest, responses((status = 200, body = SignedIn), (status = 401, description = "Wrong username or password", body = crate::openapi::ErrorBody), (status = 429, description = "Too many failures; see Retry-After", body = crate::openapi::ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    session: Session,
    crate::api::ApiJson(request): crate::api::ApiJson<LoginRequest>,
) -> Result<Json<SignedIn>, ApiError> {
    Ok(Json(sign_in(&state, addr, &session, request).await?))
}

/// Checks the password (with the lockout), and on success starts a fresh session: the
/// one sign-in path for the API and the dashboard's login form.
pub async fn sign_in(
    state: &AppState,
    addr: SocketAddr,
    session: &Session,
    request: LoginRequest,
) -> Result<SignedIn, ApiError> {
    if request.username.trim().is_empty() {
        return Err(ApiError::invalid("username", "username is required"));
    }
    if request.password.is_empty() {
        return Err(ApiError::invalid("password", "password is required"));
    }
    let mut redis = state.redis.clone();
    let (user_key, addr_key) = failure_keys(&request.username, &addr);
    let (user_failures, addr_failures): (Option<i64>, Option<i64>) =
        redis::pipe().get(&user_key).get(&addr_key).query_async(&mut redis).await.map_err(anyhow::Error::from)?;
    for (failures, limit, key) in
        [(user_failures, MAX_FAILURES_PER_ACCOUNT, &user_key), (addr_failures, MAX_FAILURES_PER_ADDRESS, &addr_key)]
    {
        if failures.unwrap_or(0) >= limit {
            let ttl: i64 = redis.ttl(key).await.map_err(anyhow::Error::from)?;
            return Err(ApiError::RateLimited { retry_after: Duration::from_secs(ttl.max(1) as u64) });
        }
    }

    let row: Option<(i64, String, i64)> =
        sqlx::query_as("SELECT id, password_hash, disabled FROM users WHERE username = $1")
            .bind(&request.username)
            .fetch_optional(&state.db.pool)
            .await?;
    // The hash is checked even for unknown users so timing does not reveal which exist.
    let (id, hash, disabled) = row.unwrap_or((0, DUMMY_HASH.to_string(), 1));
    let disabled = disabled != 0;
    let password_ok = tokio::task::spawn_blocking({
        let password = request.password.clone();
        move || verify_password(&password, &hash)
    })
    .await
    .unwrap_or(false);
    if !password_ok || disabled {
        let window = FAILURE_WINDOW.as_secs() as i64;
        let _: () = redis::pipe()
            .incr(&user_key, 1)
            .expire(&user_key, window)
            .incr(&addr_key, 1)
            .expire(&addr_key, window)
            .query_async(&mut redis)
            .await
            .map_err(anyhow::Error::from)?;
        return Err(ApiError::BadCredentials);
    }
    let _: () = redis.del(&user_key).await.map_err(anyhow::Error::from)?;

    let (username, role, _) = load_user(&state.db, id).await?.ok_or(ApiError::BadCredentials)?;
    // A new session id on sign-in defeats session fixation.
    session.cycle_id().await.map_err(|e| ApiError::Internal(e.into()))?;
    let csrf_token = Alphanumeric.sample_string(&mut rand::rng(), 32);
    session.insert(SESSION_USER, id).await.map_err(|e| ApiError::Internal(e.into()))?;
    session.insert(SESSION_CSRF, &csrf_token).await.map_err(|e| ApiError::Internal(e.into()))?;
    tracing::info!(user = %username, %addr, "signed in");
    Ok(SignedIn { user: UserView { id, username, role }, csrf_token })
}

/// `POST /api/v1/auth/logout`
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", responses((status = 204, description = "Signed out"), (status = 401, body = crate::openapi::ErrorBody)))]
pub async fn logout(_principal: Principal, session: Session) -> Result<StatusCode, ApiError> {
    session.flush().await.map_err(|e| ApiError::Internal(e.into()))?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Me {
    pub user: UserView,
    pub via: super::principal::AuthVia,
    pub csrf_token: Option<String>,
}

/// `GET /api/v1/auth/me`
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", responses((status = 200, body = Me), (status = 401, body = crate::openapi::ErrorBody)))]
pub async fn me(principal: Principal, session: Session) -> Result<Json<Me>, ApiError> {
    let csrf_token = session.get(SESSION_CSRF).await.map_err(|e| ApiError::Internal(e.into()))?;
    Ok(Json(Me {
        user: UserView { id: principal.user_id, username: principal.username, role: principal.role },
        via: principal.via,
        csrf_token,
    }))
}

/// An argon2id hash of a random password nobody knows, for constant-time failures.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
