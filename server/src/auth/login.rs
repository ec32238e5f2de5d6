//! Signing in and out: password check, lockout against guessing, session set-up.

use std::net::IpAddr;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use rand::distr::{Alphanumeric, SampleString};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use super::principal::{Principal, SESSION_CSRF, SESSION_SIGNED_IN_AT, SESSION_TOUCHED_AT, SESSION_USER, load_user};
use crate::api_error::ApiError;
use crate::audit;
use crate::client_addr::ClientAddr;
use crate::db::now_ms;
use crate::state::AppState;
use crate::users::{Role, verify_password_bounded};

/// Failed sign-ins allowed per account, and per client address, in the window.
pub const MAX_FAILURES_PER_ACCOUNT: u32 = 5;
pub const MAX_FAILURES_PER_ADDRESS: u32 = 20;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
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

/// The subjects a sign-in attempt counts against: the account and the client address.
fn failure_subjects(username: &str, addr: IpAddr) -> [String; 2] {
    [format!("user:{}", username.to_lowercase()), format!("addr:{addr}")]
}

/// `POST /api/v1/auth/login`
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", security(()), request_body = LoginRequest, responses((status = 200, body = SignedIn), (status = 400, description = "Missing or malformed field; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Wrong username or password", body = crate::openapi::ErrorBody), (status = 429, description = "Too many failures; see Retry-After", body = crate::openapi::ErrorBody), (status = 503, description = "Too many password checks at once; see Retry-After", body = crate::openapi::ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    addr: ClientAddr,
    session: Session,
    crate::api::ApiJson(request): crate::api::ApiJson<LoginRequest>,
) -> Result<Json<SignedIn>, ApiError> {
    Ok(Json(sign_in(&state, addr.ip(), &session, request).await?))
}

/// Checks the password (with the lockout), and on success starts a fresh session: the
/// one sign-in path for the API and the dashboard's login form.
///
/// Each attempt is counted before its password is checked (and given back when it was
/// not a wrong guess), so at most [`MAX_FAILURES_PER_ACCOUNT`] guesses per account are
/// ever checked in a window, however many arrive at once. The check itself waits its
/// turn at the process's password gate (503 when that is full).
pub async fn sign_in(
    state: &AppState,
    addr: IpAddr,
    session: &Session,
    request: LoginRequest,
) -> Result<SignedIn, ApiError> {
    if request.username.trim().is_empty() {
        return Err(ApiError::invalid("username", "username is required"));
    }
    if request.password.is_empty() {
        return Err(ApiError::invalid("password", "password is required"));
    }
    if request.username.len() > 256 || request.password.len() > 1024 {
        // Nobody's username or password is this long; do not hash megabytes.
        return Err(ApiError::BadCredentials);
    }
    // Counted against the account and the address before the password is checked, in
    // one step, so parallel guesses cannot all pass a check made before any of them failed.
    let lockout = hoist_queue::Lockout::new(&state.engine, "sign-in");
    let [account, address] = failure_subjects(&request.username, addr);
    let subjects = [(account.as_str(), MAX_FAILURES_PER_ACCOUNT), (address.as_str(), MAX_FAILURES_PER_ADDRESS)];
    if let Some(refused) = lockout.take(&subjects, FAILURE_WINDOW).await.map_err(anyhow::Error::from)? {
        // Once per locked subject and window: a flood of refused attempts writes one row.
        let (subject, _) = subjects[refused.subject.min(subjects.len() - 1)];
        if state.lockouts_noted.should_record(subject, FAILURE_WINDOW) {
            note_refusal(state, audit::LOCKED_OUT, &request.username, "locked out", addr).await;
        }
        let wait = refused.wait;
        let seconds = wait.as_millis().div_ceil(1000).max(1) as u64;
        return Err(ApiError::RateLimited { retry_after: Duration::from_secs(seconds) });
    }
    let outcome = check_password(state, &request).await;
    // Give the attempt back unless it was a wrong guess (a busy gate or a database
    // error checked nothing).
    let give_back = match &outcome {
        Ok(_) => Some(true),
        Err(ApiError::BadCredentials) => None,
        Err(_) => Some(false),
    };
    if let Some(success) = give_back {
        // The account's count is cleared on success; the address only gets this attempt
        // back (so many users behind one address do not lock each other out).
        lockout
            .give_back(&[(account.as_str(), success), (address.as_str(), false)])
            .await
            .map_err(anyhow::Error::from)?;
    }
    if matches!(outcome, Err(ApiError::BadCredentials)) {
        note_refusal(state, audit::SIGN_IN_FAILED, &request.username, "failed", addr).await;
    }
    let id = outcome?;

    let user = load_user(&state.db, id).await?.ok_or(ApiError::BadCredentials)?;
    let csrf_token = start_session(session, id).await?;
    tracing::info!(user = %user.username, %addr, "signed in");
    Ok(SignedIn { user: UserView { id, username: user.username, role: user.role }, csrf_token })
}

/// Writes a refused sign-in to the audit log; a database that fails then is logged, and
/// the caller still gets the refusal they were owed.
async fn note_refusal(state: &AppState, action: &str, username: &str, result: &str, addr: IpAddr) {
    if let Err(e) = audit::record_refused_sign_in(&state.db, action, username, result, addr).await {
        tracing::warn!(error = %e, action, "could not audit a refused sign-in");
    }
}

/// Makes `session` user `id`'s, under a new session id (which defeats session fixation)
/// and with a new CSRF token, which it returns.
pub async fn start_session(session: &Session, id: i64) -> Result<String, ApiError> {
    let internal = |e: tower_sessions::session::Error| ApiError::Internal(e.into());
    session.clear().await;
    session.cycle_id().await.map_err(internal)?;
    let csrf_token = Alphanumeric.sample_string(&mut rand::rng(), 32);
    let now = now_ms();
    session.insert(SESSION_USER, id).await.map_err(internal)?;
    session.insert(SESSION_CSRF, &csrf_token).await.map_err(internal)?;
    session.insert(SESSION_SIGNED_IN_AT, now).await.map_err(internal)?;
    session.insert(SESSION_TOUCHED_AT, now).await.map_err(internal)?;
    Ok(csrf_token)
}

/// The user's id when the password is right and the account enabled; BadCredentials
/// otherwise (the same for unknown users, wrong passwords and disabled accounts).
async fn check_password(state: &AppState, request: &LoginRequest) -> Result<i64, ApiError> {
    let row: Option<(i64, String, i64)> =
        sqlx::query_as("SELECT id, password_hash, disabled FROM users WHERE username = $1")
            .bind(&request.username)
            .fetch_optional(&state.db.pool)
            .await?;
    // The hash is checked even for unknown users so timing does not reveal which exist.
    let (id, hash, disabled) = row.unwrap_or((0, DUMMY_HASH.to_string(), 1));
    let password_ok = verify_password_bounded(&request.password, &hash)
        .await
        .map_err(|busy| ApiError::Unavailable { retry_after: busy.retry_after })?;
    if password_ok && disabled == 0 { Ok(id) } else { Err(ApiError::BadCredentials) }
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
