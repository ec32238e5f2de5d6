//! The OpenAPI document of `/api/v1`, served at `/api/v1/openapi.json`, generated from the
//! handlers' annotations (utoipa) so it cannot drift from the routes.

use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::api_error::ApiError;
use crate::auth::Principal;

/// Every error answers with this body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorDetail {
    /// Stable machine-readable code: `invalid`, `unauthenticated`, `forbidden`,
    /// `not_found`, `conflict`, `payload_too_large`, `rate_limited`, `internal`, ...
    pub code: String,
    pub message: String,
    /// The request field or parameter at fault (400, and 403 for an option end users
    /// may not set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The job holding the dedup key (409 on enqueue only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing_id: Option<String>,
}

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token (`hoist token create USER --name N --scopes ...`). It may do what its \
                         user's role and its scopes both allow: jobs:read, jobs:write, queues:admin, \
                         schedules:write, users:admin, notifications:write.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "hoist_session",
                "The dashboard's session cookie; state-changing requests also send the x-csrf-token header",
            ))),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Hoist", description = "Background jobs on Redis: the REST API of the Hoist server."),
    modifiers(&Security),
    security(("token" = []), ("session" = [])),
    paths(
        crate::auth::login::login,
        crate::auth::login::logout,
        crate::auth::login::me,
        crate::api::limits::limits,
        crate::api::limits::set_limits,
        crate::api::settings::settings,
        crate::api::reports::list,
        crate::api::reports::run,
        crate::api::reports::get,
        crate::api::reports::download,
        crate::api::alerts::overview,
        crate::api::alerts::update_rule,
        crate::api::alerts::add_rule,
        crate::api::alerts::delete_rule,
        crate::api::alerts::add_silence,
        crate::api::alerts::end_silence,
        crate::api::processes::list,
        crate::api::processes::command,
        crate::api::account::language,
        crate::api::account::set_language,
        crate::api::jobs::list_queues,
        crate::api::jobs::enqueue_job,
        crate::api::jobs::enqueue_bulk,
        crate::api::jobs::list_jobs,
        crate::api::jobs::get_job,
        crate::api::jobs::remove_job,
        crate::api::jobs::job_action,
        crate::api::jobs::retry_edited,
        crate::api::jobs::duplicate,
        crate::api::jobs::queue_action,
        crate::api::jobs::queue_health,
        crate::api::jobs::maintenance,
        crate::api::jobs::metrics,
        crate::api::dead_letters::list,
        crate::api::dead_letters::requeue,
        crate::api::dead_letters::purge,
        crate::api::schedules::list,
        crate::api::schedules::get,
        crate::api::schedules::put,
        crate::api::schedules::delete,
        crate::api::schedules::action,
        crate::api::history::search,
        crate::api::history::quarantine,
        crate::api::search::search,
        crate::api::search::suggestions,
        crate::api::search::count,
        crate::api::search::act,
        crate::api::search::export,
        crate::api::search::saved,
        crate::api::search::save,
        crate::api::search::delete_saved,
        crate::api::notifications::sign_in,
        crate::api::connections::list,
        crate::api::connections::get,
        crate::api::connections::sync,
        crate::api::admin::list_users,
        crate::api::admin::add_user,
        crate::api::admin::change_user,
        crate::api::admin::audit_log,
    ),
    // Schemas referenced only from a query parameter, which utoipa does not collect.
    components(schemas(ErrorBody, ErrorDetail, crate::services::search::ExportFormat, crate::services::reports::ReportFormat))
)]
pub struct ApiDoc;

/// `GET /api/v1/openapi.json` (any signed-in user or token).
pub async fn document(_principal: Principal) -> Result<Json<utoipa::openapi::OpenApi>, ApiError> {
    Ok(Json(ApiDoc::openapi()))
}
