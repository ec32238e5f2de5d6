//! The signed-in user's own settings: the dashboard's language.
//!
//! The choice is stored with the user (so it follows them to another browser) and kept
//! in the `hoist_lang` cookie, which is what a page reads before it renders (see
//! `app::i18n`): signing in and every change set the cookie from the stored choice.

use app::i18n::{LANGUAGE_COOKIE, Language};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use tower_sessions::Session;

use crate::api_error::ApiError;
use crate::auth::Principal;
use crate::state::AppState;

/// The language `value` names: `en` or `mn` (the dashboard's languages), else an error
/// naming `language`.
pub fn parse_language(value: &str) -> Result<Language, ApiError> {
    Language::ALL.into_iter().find(|language| language.code() == value).ok_or_else(|| {
        let known: Vec<&str> = Language::ALL.iter().map(|l| l.code()).collect();
        ApiError::invalid("language", format!("unknown language {value:?}; one of {}", known.join(", ")))
    })
}

/// The language `user_id` chose, if any.
pub async fn language(state: &AppState, user_id: i64) -> Result<Option<Language>, ApiError> {
    let stored: Option<Option<String>> = sqlx::query_scalar("SELECT language FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&state.db.pool)
        .await?;
    Ok(stored.flatten().and_then(|code| Language::from_tag(&code)))
}

/// Stores the caller's choice (`None`: follow the browser's language). Any signed-in
/// user may set their own; it is not an operation on jobs, so it is not audited.
pub async fn set_language(state: &AppState, principal: &Principal, language: Option<Language>) -> Result<(), ApiError> {
    sqlx::query("UPDATE users SET language = $1 WHERE id = $2")
        .bind(language.map(|l| l.code()))
        .bind(principal.user_id)
        .execute(&state.db.pool)
        .await?;
    Ok(())
}

/// Middleware for the dashboard's pages: a signed-in user's stored language is the
/// page's, whatever the browser's cookie says (it was changed in another browser, or the
/// cookie is gone), and the response sets the cookie to it. So a page is rendered once,
/// in the right language, with no reload.
pub async fn stored_language(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let stored = match request.extensions().get::<Session>() {
        Some(session) => match session.get::<i64>(crate::auth::principal::SESSION_USER).await {
            Ok(Some(user_id)) => language(&state, user_id).await.unwrap_or_else(|error| {
                tracing::warn!(%error, "reading the user's language");
                None
            }),
            _ => None,
        },
        None => None,
    };
    let Some(stored) = stored else { return next.run(request).await };
    let from_cookie = request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(Language::from_cookie_header);
    // What the page renders in (see `app::i18n::request_language`).
    request.extensions_mut().insert(stored);
    let mount = request.extensions().get::<crate::mount_path::MountPath>().map(|m| m.0.clone()).unwrap_or_default();
    let mut response = next.run(request).await;
    if from_cookie != Some(stored) {
        response.headers_mut().append(header::SET_COOKIE, language_cookie(Some(stored), &mount, state.secure_cookies));
    }
    response
}

/// The `Set-Cookie` value that makes `language` the browser's choice (a year; removed
/// when `None`). Scoped to the dashboard's mount path; not secret, but no script needs it.
pub fn language_cookie(language: Option<Language>, mount_path: &str, secure: bool) -> HeaderValue {
    let path = if mount_path.is_empty() { "/" } else { mount_path };
    let (value, max_age) = match language {
        Some(language) => (language.code(), 365 * 24 * 3600),
        None => ("", 0),
    };
    let secure = if secure { "; Secure" } else { "" };
    let cookie = format!("{LANGUAGE_COOKIE}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}");
    // The parts are fixed words, a language code and a checked mount path: always valid.
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static("hoist_lang=; Path=/; Max-Age=0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_are_named_by_their_codes() {
        assert_eq!(parse_language("mn").unwrap(), Language::Mn);
        assert_eq!(parse_language("en").unwrap(), Language::En);
        let error = parse_language("fr").unwrap_err();
        assert!(matches!(error, ApiError::Invalid { ref field, .. } if field == "language"), "{error:?}");
        assert!(parse_language("MN").is_err(), "codes are exact");
    }

    #[test]
    fn the_cookie_is_scoped_to_the_mount_path() {
        assert_eq!(
            language_cookie(Some(Language::Mn), "", false),
            "hoist_lang=mn; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax"
        );
        assert_eq!(
            language_cookie(None, "/hoist", true),
            "hoist_lang=; Path=/hoist; Max-Age=0; HttpOnly; SameSite=Lax; Secure"
        );
    }
}
