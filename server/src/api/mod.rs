//! The REST API under `/api/v1`: thin handlers over the services.

pub mod account;
pub mod admin;
pub mod alerts;
pub mod connections;
pub mod dead_letters;
pub mod history;
pub mod jobs;
pub mod limits;
pub mod notifications;
pub mod processes;
pub mod reports;
pub mod schedules;
pub mod search;
pub mod settings;

use axum::extract::path::ErrorKind;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};

use crate::api_error::ApiError;

/// 202 reply to an enqueue.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Accepted {
    pub id: String,
    pub queue: String,
}

/// 202 reply to a bulk enqueue: every job's id and whether it was a duplicate.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct BulkAccepted {
    pub queue: String,
    pub jobs: Vec<hoist_queue::Enqueued>,
}

/// How many jobs an operation touched.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Affected {
    pub affected: u64,
}

/// Reads a field that must be present in a request body, though it may be `null`
/// (`#[serde(deserialize_with = "required_nullable")]`): a client that leaves it out is
/// refused rather than taken to mean "none".
pub(crate) fn required_nullable<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer)
}

/// The id of something created.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Created {
    pub id: i64,
}

/// `Json` whose rejections answer in the API's error shape, naming the field at fault.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// `Query` whose rejections answer in the API's error shape, naming the parameter.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// `Path` whose rejections answer in the API's error shape, naming the parameter.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        let message = rejection.body_text();
        let field = match &rejection {
            PathRejection::FailedToDeserializePathParams(error) => match error.kind() {
                ErrorKind::ParseErrorAtKey { key, .. } | ErrorKind::InvalidUtf8InPathParam { key } => key.clone(),
                _ => "path".to_string(),
            },
            _ => "path".to_string(),
        };
        ApiError::Invalid { field, message }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        let message = rejection.body_text();
        // "Failed to deserialize query string: limit: invalid digit found in string", or
        // "... unknown field `x`, expected ...".
        let detail = message.split_once("query string: ").map_or(message.as_str(), |(_, rest)| rest);
        ApiError::Invalid { field: field_in(detail, "query"), message }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let message = rejection.body_text();
        let field = match &rejection {
            JsonRejection::JsonDataError(_) => {
                let detail = message.split_once("target type: ").map_or(message.as_str(), |(_, rest)| rest);
                field_in(detail, "body")
            }
            JsonRejection::MissingJsonContentType(_) => "content-type".to_string(),
            _ if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                return ApiError::PayloadTooLarge(message);
            }
            _ => "body".to_string(),
        };
        ApiError::Invalid { field, message }
    }
}

/// The field a serde error is about. Errors come as "PATH: what went wrong" (the path of
/// the value at fault, e.g. `options.priority` or `jobs[3].name`, absent at the top), and
/// serde names a missing or unknown field in backticks, which then goes at the path's end.
fn field_in(detail: &str, whole: &str) -> String {
    let (path, error) = match detail.split_once(": ") {
        Some((path, error)) if !path.is_empty() && !path.contains(' ') => (path.trim_matches('.'), error),
        _ => ("", detail),
    };
    // At the top, an unknown variant is the key of an externally tagged enum (`{"all": …}`);
    // deeper, the path already names the field holding the bad value.
    let variant = if path.is_empty() { "unknown variant `" } else { "missing field `" };
    let named = ["missing field `", "unknown field `", "duplicate field `", variant]
        .iter()
        .find_map(|prefix| error.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next());
    match (path, named) {
        ("", Some(name)) => name.to_string(),
        // serde_path_to_error already ends the path with an unknown field's name.
        (path, Some(name)) if path == name || path.ends_with(&format!(".{name}")) => path.to_string(),
        (path, Some(name)) => format!("{path}.{name}"),
        ("", None) => whole.to_string(),
        (path, None) => path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::field_in;

    #[test]
    fn serde_errors_name_their_field() {
        for (detail, field) in [
            ("options.priority: invalid value: integer `65536`, expected u16 at line 1 column 40", "options.priority"),
            ("role: unknown variant `superadmin`, expected one of `admin` at line 1 column 9", "role"),
            ("missing field `name` at line 1 column 2", "name"),
            ("unknown field `nme`, expected one of `name`, `payload` at line 1 column 7", "nme"),
            ("options: unknown field `priorty`, expected one of `priority` at line 1 column 30", "options.priorty"),
            ("options.priorty: unknown field `priorty`, expected one of `priority`", "options.priorty"),
            ("nme: unknown field `nme`, expected one of `name`", "nme"),
            ("options: missing field `key` at line 1 column 30", "options.key"),
            ("duplicate field `name` at line 1 column 18", "name"),
            ("unknown variant `all`, expected `jobs` or `filter` at line 1 column 6", "all"),
            ("jobs[3].name: invalid type: integer `1`, expected a string at line 1 column 50", "jobs[3].name"),
            ("invalid type: sequence, expected struct EnqueueRequest at line 1 column 0", "body"),
            ("limit: invalid digit found in string", "limit"),
        ] {
            assert_eq!(field_in(detail, "body"), field, "{detail}");
        }
    }
}
