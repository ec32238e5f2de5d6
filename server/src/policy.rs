//! Who may do what to which object: every rule of roles, API-token scopes, ownership and
//! end users' allowed jobs, in one place. REST handlers, server functions and the live
//! WebSocket reach these through the services, so one request is judged the same way
//! whichever door it came in by.
//!
//! A caller may do an [`Action`] when their role allows it **and**, for an API token, the
//! token holds the action's [`Scope`]. End users (role `user`) additionally see and touch
//! only objects they own, and enqueue only the job names an admin allowed them, with a
//! small set of options ([`restrict_end_user_job`]).

use std::collections::BTreeMap;
use std::time::Duration;

use hoist_queue::JobOptions;
use serde::{Deserialize, Serialize};

use crate::api_error::ApiError;
use crate::auth::{AuthVia, Principal};
use crate::users::Role;

/// What an API token may be used for; a session holds every scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Scope {
    /// Read queues, counts, jobs, metrics, health, dead letters, history, schedules,
    /// connections and the live feed.
    #[serde(rename = "jobs:read")]
    JobsRead,
    /// Enqueue; cancel, retry, promote or remove a job; sync a connection.
    #[serde(rename = "jobs:write")]
    JobsWrite,
    /// Pause and resume queues; drain, clean, retry-all; requeue or purge dead letters.
    #[serde(rename = "queues:admin")]
    QueuesAdmin,
    /// Create, change, remove, pause, resume and run schedules.
    #[serde(rename = "schedules:write")]
    SchedulesWrite,
    /// Users, the audit log and reports.
    #[serde(rename = "users:admin")]
    UsersAdmin,
    /// Raise notifications.
    #[serde(rename = "notifications:write")]
    NotificationsWrite,
}

impl Scope {
    pub const ALL: [Scope; 6] = [
        Scope::JobsRead,
        Scope::JobsWrite,
        Scope::QueuesAdmin,
        Scope::SchedulesWrite,
        Scope::UsersAdmin,
        Scope::NotificationsWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::JobsRead => "jobs:read",
            Scope::JobsWrite => "jobs:write",
            Scope::QueuesAdmin => "queues:admin",
            Scope::SchedulesWrite => "schedules:write",
            Scope::UsersAdmin => "users:admin",
            Scope::NotificationsWrite => "notifications:write",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Parses a comma-separated list, refusing unknown names (`hoist token create`).
    pub fn parse_list(text: &str) -> Result<Vec<Scope>, String> {
        let mut scopes = vec![];
        for name in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let scope = Scope::parse(name).ok_or_else(|| {
                let known: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
                format!("unknown scope {name:?} (known: {})", known.join(", "))
            })?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        if scopes.is_empty() {
            return Err("give at least one scope".into());
        }
        Ok(scopes)
    }
}

/// Every kind of operation, as the policy judges it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Queue list, counts, health, metrics, schedules, workers: the whole system's load.
    WatchQueues,
    /// Jobs, listings, dead letters, history, connections (end users: their own).
    ReadJobs,
    /// Add jobs (end users: allowed names only, see [`restrict_end_user_job`]).
    Enqueue,
    /// Cancel, retry, promote or remove one job.
    ActOnJob,
    /// Start a sync of a bank connection (end users: their own).
    SyncConnection,
    /// Pause, resume, drain, clean, retry-all, dead-letter requeue and purge.
    ControlQueue,
    /// Create, change, remove, pause, resume or run schedules.
    ChangeSchedules,
    /// Users and the audit log.
    AdministerUsers,
    /// Raise notifications for any user.
    RaiseNotifications,
    /// Change alert rules and silences.
    ChangeAlerts,
    /// Stop a process that serves the dashboard and API (`hoist serve`, an embedding
    /// application; operators may quiet it, and stop `hoist worker` processes, under
    /// [`Action::ControlQueue`]).
    StopServer,
    /// Read, download and run usage, performance and audit reports (they hold the audit
    /// log and every owner's figures).
    Reports,
}

impl Action {
    pub const ALL: [Action; 12] = [
        Action::WatchQueues,
        Action::ReadJobs,
        Action::Enqueue,
        Action::ActOnJob,
        Action::SyncConnection,
        Action::ControlQueue,
        Action::ChangeSchedules,
        Action::AdministerUsers,
        Action::RaiseNotifications,
        Action::ChangeAlerts,
        Action::StopServer,
        Action::Reports,
    ];

    /// The scope a token needs for it.
    pub fn scope(self) -> Scope {
        match self {
            Action::WatchQueues | Action::ReadJobs => Scope::JobsRead,
            Action::Enqueue | Action::ActOnJob | Action::SyncConnection => Scope::JobsWrite,
            Action::ControlQueue | Action::ChangeAlerts | Action::StopServer => Scope::QueuesAdmin,
            Action::ChangeSchedules => Scope::SchedulesWrite,
            Action::AdministerUsers | Action::Reports => Scope::UsersAdmin,
            Action::RaiseNotifications => Scope::NotificationsWrite,
        }
    }

    /// Whether the role may do it at all (ownership is checked separately).
    pub fn allowed_for(self, role: Role) -> bool {
        use Role::*;
        match self {
            Action::WatchQueues => matches!(role, Admin | Operator | Viewer),
            Action::ReadJobs => true,
            Action::Enqueue | Action::SyncConnection => matches!(role, Admin | Operator | User),
            Action::ActOnJob | Action::ControlQueue | Action::ChangeSchedules | Action::RaiseNotifications => {
                matches!(role, Admin | Operator)
            }
            Action::AdministerUsers | Action::ChangeAlerts | Action::StopServer | Action::Reports => role == Admin,
        }
    }

    fn refusal(self) -> &'static str {
        match self {
            Action::WatchQueues => "end users see only their own jobs",
            Action::ReadJobs => "reading jobs is not allowed",
            Action::Enqueue => "viewers cannot enqueue",
            Action::SyncConnection => "viewers cannot start a sync",
            Action::ActOnJob | Action::ControlQueue => "this action needs the operator or admin role",
            Action::ChangeSchedules => "changing schedules needs the operator or admin role",
            Action::RaiseNotifications => "raising notifications needs the operator or admin role",
            Action::AdministerUsers => "this needs the admin role",
            Action::ChangeAlerts => "changing alert rules and silences needs the admin role",
            Action::StopServer => "stopping a server process needs the admin role",
            Action::Reports => "reports need the admin role",
        }
    }
}

/// Whether the caller's token (if any) holds `scope`.
pub fn has_scope(principal: &Principal, scope: Scope) -> bool {
    match &principal.via {
        AuthVia::Session => true,
        AuthVia::Token { scopes, .. } => scopes.contains(&scope),
    }
}

/// Whether the caller may do `action`: role and token scope both.
pub fn may(principal: &Principal, action: Action) -> bool {
    action.allowed_for(principal.role) && has_scope(principal, action.scope())
}

/// [`may`], as the API's 403.
pub fn authorize(principal: &Principal, action: Action) -> Result<(), ApiError> {
    if !action.allowed_for(principal.role) {
        return Err(ApiError::Forbidden(action.refusal().into()));
    }
    let scope = action.scope();
    if !has_scope(principal, scope) {
        return Err(ApiError::Forbidden(format!("this token lacks the scope `{}`", scope.as_str())));
    }
    Ok(())
}

/// Staff see every object; an end user only what they own (`owner` is a user id).
pub fn may_see(principal: &Principal, owner: Option<&str>) -> bool {
    principal.role != Role::User || owner == Some(principal.user_id.to_string().as_str())
}

/// The owner a listing is limited to: always the caller for an end user, else `asked`.
pub fn listing_owner(principal: &Principal, asked: Option<String>) -> Option<String> {
    if principal.role == Role::User { Some(principal.user_id.to_string()) } else { asked }
}

/// Job names an end user may enqueue, per queue (the user's `allowed_jobs`).
pub type AllowedJobs = BTreeMap<String, Vec<String>>;

/// The longest delay an end user may ask for.
pub const END_USER_MAX_DELAY: Duration = Duration::from_secs(24 * 3600);
/// Jobs one end user may add to one queue per minute (a sliding window; more get 429).
pub const END_USER_JOBS_PER_MINUTE: u32 = 60;
/// Key prefixes the server itself gives dedup and rate-limit keys (end users' namespace,
/// "Sync now", fan-out batches, schedule ticks); a client's own keys may not start so.
pub const RESERVED_KEY_PREFIXES: [&str; 6] = ["user:", "connection:", "batch:", "schedule:", "alert:", "report:"];
/// The fair group of an end user's jobs: each user is a group of their own, so one
/// user's burst waits its turn behind another user's single job instead of ahead of it.
pub fn user_group(user_id: &str) -> String {
    format!("user:{user_id}")
}

/// Longest dedup key (characters).
pub const MAX_DEDUP_KEY: usize = 200;

/// The default job options as JSON, made once: what end users' options are compared with.
static DEFAULT_OPTIONS: std::sync::LazyLock<serde_json::Value> =
    std::sync::LazyLock::new(|| serde_json::to_value(JobOptions::default()).unwrap_or_default());

/// What a client's job becomes before it is enqueued.
///
/// Staff jobs keep their options, but their dedup and rate-limit keys may not use the
/// server's own prefixes ([`RESERVED_KEY_PREFIXES`]), so nobody blocks a user's keys,
/// "Sync now" or a schedule's ticks from outside.
///
/// An end user's job is refused unless an admin allowed the job name on the queue; only
/// `delay` (bounded) and `dedup_key` may be chosen, every other option must stay at its
/// default; the job is owned by the caller, its dedup key lives in the caller's namespace
/// (`user:ID:KEY`), so no user can see or block another's jobs, and it counts against the
/// caller's [`END_USER_JOBS_PER_MINUTE`] on the queue.
pub fn restrict_end_user_job(
    principal: &Principal,
    allowed: &AllowedJobs,
    queue: &str,
    name: &str,
    options: &mut JobOptions,
) -> Result<(), ApiError> {
    if principal.role != Role::User {
        let keys = [
            ("options.dedup_key", options.dedup_key.as_deref()),
            ("options.rate_limit.key", options.rate_limit.as_ref().map(|r| r.key.as_str())),
            ("options.group", options.group.as_deref()),
        ];
        for (field, key) in keys {
            if let Some(key) = key
                && let Some(prefix) = RESERVED_KEY_PREFIXES.iter().find(|p| key.starts_with(**p))
            {
                return Err(ApiError::invalid(field, format!("keys starting with {prefix:?} are the server's own")));
            }
        }
        return Ok(());
    }
    if !allowed.get(queue).is_some_and(|names| names.iter().any(|n| n == name)) {
        return Err(ApiError::Forbidden(format!("you may not enqueue {name:?} to {queue:?}")));
    }
    // Compare field by field through serde, so an option added to the engine later is
    // refused until someone decides end users may set it.
    let given = serde_json::to_value(&*options).map_err(anyhow::Error::from)?;
    // Options that do not read as objects are refused, never waved through.
    let (Some(given), Some(default)) = (given.as_object(), DEFAULT_OPTIONS.as_object()) else {
        return Err(ApiError::Internal(anyhow::anyhow!("job options do not serialize as an object")));
    };
    for (field, value) in given {
        if matches!(field.as_str(), "delay" | "dedup_key") {
            continue;
        }
        if default.get(field) != Some(value) {
            return Err(ApiError::ForbiddenField {
                field: format!("options.{field}"),
                message: format!("options.{field}: end users may set only delay and dedup_key"),
            });
        }
    }
    if options.delay.is_some_and(|d| d > END_USER_MAX_DELAY) {
        return Err(ApiError::invalid("options.delay", "end users may delay a job by at most 24 hours"));
    }
    let me = principal.user_id.to_string();
    options.owner = Some(me.clone());
    options.group = Some(user_group(&me));
    if let Some(key) = &options.dedup_key {
        options.dedup_key = Some(format!("user:{me}:{key}"));
    }
    options.rate_limit = Some(hoist_queue::KeyRateLimit {
        key: format!("user:{me}"),
        max: END_USER_JOBS_PER_MINUTE,
        per: Duration::from_secs(60),
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role, via: AuthVia) -> Principal {
        Principal { user_id: 7, username: "u".into(), role, via }
    }

    /// Every role × every action, sessions: the whole rule table, written out, so a change
    /// of any rule shows up here.
    #[test]
    fn role_matrix() {
        use Action::*;
        let expected: &[(Role, &[Action])] = &[
            (
                Role::Admin,
                &[
                    WatchQueues,
                    ReadJobs,
                    Enqueue,
                    ActOnJob,
                    SyncConnection,
                    ControlQueue,
                    ChangeSchedules,
                    AdministerUsers,
                    RaiseNotifications,
                    ChangeAlerts,
                    StopServer,
                    Reports,
                ],
            ),
            (
                Role::Operator,
                &[
                    WatchQueues,
                    ReadJobs,
                    Enqueue,
                    ActOnJob,
                    SyncConnection,
                    ControlQueue,
                    ChangeSchedules,
                    RaiseNotifications,
                ],
            ),
            (Role::Viewer, &[WatchQueues, ReadJobs]),
            (Role::User, &[ReadJobs, Enqueue, SyncConnection]),
        ];
        for (role, allowed) in expected {
            for action in Action::ALL {
                let p = principal(*role, AuthVia::Session);
                assert_eq!(may(&p, action), allowed.contains(&action), "{role:?} {action:?}");
                assert_eq!(authorize(&p, action).is_ok(), allowed.contains(&action));
            }
        }
    }

    /// A token does what its role and its scopes both allow, never more.
    #[test]
    fn scope_matrix() {
        for role in [Role::Admin, Role::Operator, Role::Viewer, Role::User] {
            for scope in Scope::ALL {
                let p = principal(role, AuthVia::Token { id: 1, scopes: vec![scope] });
                for action in Action::ALL {
                    let expected = action.allowed_for(role) && action.scope() == scope;
                    assert_eq!(may(&p, action), expected, "{role:?} {scope:?} {action:?}");
                }
            }
            let none = principal(role, AuthVia::Token { id: 1, scopes: vec![] });
            assert!(Action::ALL.iter().all(|a| !may(&none, *a)));
        }
        let error = authorize(
            &principal(Role::Admin, AuthVia::Token { id: 1, scopes: vec![Scope::JobsRead] }),
            Action::AdministerUsers,
        )
        .unwrap_err();
        assert!(error.to_string().contains("users:admin"), "{error}");
    }

    #[test]
    fn scope_lists_refuse_unknown_names() {
        assert_eq!(Scope::parse_list("jobs:read, jobs:write,jobs:read").unwrap(), [Scope::JobsRead, Scope::JobsWrite]);
        assert!(Scope::parse_list("jobs:read,root").unwrap_err().contains("root"));
        assert!(Scope::parse_list(" , ").is_err());
        for scope in Scope::ALL {
            assert_eq!(serde_json::to_value(scope).unwrap(), scope.as_str());
        }
    }

    #[test]
    fn ownership() {
        let user = principal(Role::User, AuthVia::Session);
        assert!(may_see(&user, Some("7")));
        assert!(!may_see(&user, Some("8")));
        assert!(!may_see(&user, None));
        assert!(may_see(&principal(Role::Viewer, AuthVia::Session), Some("8")));
        assert_eq!(listing_owner(&user, Some("8".into())).as_deref(), Some("7"));
        assert_eq!(listing_owner(&principal(Role::Admin, AuthVia::Session), None), None);
    }

    #[test]
    fn end_user_jobs_are_restricted_and_namespaced() {
        let user = principal(Role::User, AuthVia::Session);
        let allowed: AllowedJobs = [("sync".to_string(), vec!["sync-connection".to_string()])].into();
        let mut options =
            JobOptions { dedup_key: Some("k".into()), delay: Some(Duration::from_secs(60)), ..Default::default() };
        restrict_end_user_job(&user, &allowed, "sync", "sync-connection", &mut options).unwrap();
        assert_eq!(options.owner.as_deref(), Some("7"));
        assert_eq!(options.group.as_deref(), Some("user:7"));
        assert_eq!(options.dedup_key.as_deref(), Some("user:7:k"));
        assert_eq!(options.rate_limit.map(|r| (r.key, r.max)), Some(("user:7".to_string(), END_USER_JOBS_PER_MINUTE)));

        let refused = |queue: &str, name: &str, options: JobOptions| {
            let mut options = options;
            restrict_end_user_job(&user, &allowed, queue, name, &mut options).unwrap_err()
        };
        assert!(matches!(refused("sync", "sync-all-org", JobOptions::default()), ApiError::Forbidden(_)));
        assert!(matches!(refused("demo", "sync-connection", JobOptions::default()), ApiError::Forbidden(_)));
        for (options, field) in [
            (JobOptions { priority: 1, ..Default::default() }, "options.priority"),
            (JobOptions { max_attempts: 100, ..Default::default() }, "options.max_attempts"),
            (JobOptions { owner: Some("8".into()), ..Default::default() }, "options.owner"),
            (JobOptions { group: Some("user:8".into()), ..Default::default() }, "options.group"),
            (
                JobOptions {
                    rate_limit: Some(hoist_queue::KeyRateLimit {
                        key: "x".into(),
                        max: 1,
                        per: Duration::from_secs(1),
                    }),
                    ..Default::default()
                },
                "options.rate_limit",
            ),
            (JobOptions { delay: Some(Duration::from_secs(25 * 3600)), ..Default::default() }, "options.delay"),
        ] {
            match refused("sync", "sync-connection", options) {
                ApiError::ForbiddenField { field: f, .. } | ApiError::Invalid { field: f, .. } => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        // Staff jobs are untouched, but cannot take the server's own keys.
        let operator = principal(Role::Operator, AuthVia::Session);
        let mut options = JobOptions { priority: 5, dedup_key: Some("k".into()), ..Default::default() };
        restrict_end_user_job(&operator, &allowed, "q", "any", &mut options).unwrap();
        assert_eq!((options.priority, options.dedup_key.as_deref(), options.owner), (5, Some("k"), None));
        for key in ["user:7:k", "connection:5", "schedule:nightly:1", "batch:x:1", "alert:1::firing:5"] {
            let mut options = JobOptions { dedup_key: Some(key.into()), ..Default::default() };
            let error = restrict_end_user_job(&operator, &allowed, "q", "any", &mut options).unwrap_err();
            assert!(matches!(error, ApiError::Invalid { ref field, .. } if field == "options.dedup_key"), "{key}");
        }
        // Nor take an end user's fair group.
        let mut options = JobOptions { group: Some("user:7".into()), ..Default::default() };
        let error = restrict_end_user_job(&operator, &allowed, "q", "any", &mut options).unwrap_err();
        assert!(matches!(error, ApiError::Invalid { ref field, .. } if field == "options.group"));
        let limit = hoist_queue::KeyRateLimit { key: "user:7".into(), max: 1, per: Duration::from_secs(3600) };
        let mut options = JobOptions { rate_limit: Some(limit), ..Default::default() };
        assert!(restrict_end_user_job(&operator, &allowed, "q", "any", &mut options).is_err());
    }
}
