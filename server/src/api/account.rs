//! `/api/v1/auth/me/language`: the caller's dashboard language.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};

use super::ApiJson;
use crate::api_error::ApiError;
use crate::auth::Principal;
use crate::mount_path::MountPath;
use crate::services::account as service;
use crate::state::AppState;

/// The dashboard language a user chose; `null` follows the browser's.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LanguageSetting {
    /// `en` or `mn`, or `null` (required: an empty body does not clear the choice).
    #[schema(required, nullable, max_length = 2, example = "mn")]
    #[serde(deserialize_with = "super::required_nullable")]
    pub language: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/auth/me/language", tag = "auth", responses((status = 200, body = LanguageSetting), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody)))]
pub async fn language(State(state): State<AppState>, principal: Principal) -> Result<Json<LanguageSetting>, ApiError> {
    let language = service::language(&state, principal.user_id).await?;
    Ok(Json(LanguageSetting { language: language.map(|l| l.code().to_string()) }))
}

/// Stores the choice and sets the `hoist_lang` cookie the dashboard reads.
#[utoipa::path(put, path = "/api/v1/auth/me/language", tag = "auth", request_body = LanguageSetting, responses((status = 200, body = LanguageSetting), (status = 400, description = "Invalid input; `error.field` names it", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "CSRF header missing", body = crate::openapi::ErrorBody)))]
pub async fn set_language(
    State(state): State<AppState>,
    principal: Principal,
    mount: Option<axum::Extension<MountPath>>,
    ApiJson(setting): ApiJson<LanguageSetting>,
) -> Result<impl IntoResponse, ApiError> {
    let language = setting.language.as_deref().map(service::parse_language).transpose()?;
    service::set_language(&state, &principal, language).await?;
    let mount = mount.map(|axum::Extension(m)| m.0).unwrap_or_default();
    let cookie = service::language_cookie(language, &mount, state.secure_cookies);
    Ok(([(header::SET_COOKIE, cookie)], Json(LanguageSetting { language: language.map(|l| l.code().to_string()) })))
}
