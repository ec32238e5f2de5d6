//! The server's implementation of the dashboard's [`Backend`] seam: each call reads the
//! caller from the request Leptos is serving and goes through the same services (and
//! role checks) as the REST API.

use std::net::SocketAddr;

use app::backend::{Backend, BoxFuture};
use app::types::{
    AttemptError, ConnectionView, DeadRow, JobDetail, JobRow, MyJob, MyJobs, ProgressView, QueueCard, QueueCounts,
    QueuePage, SystemStatus, Viewer,
};
use axum::extract::ConnectInfo;
use tower_sessions::Session;

use crate::api_error::ApiError;
use crate::auth::Principal;
use crate::state::AppState;

/// Made for each request (it holds only the shared state).
pub struct ServerBackend {
    pub state: AppState,
}

impl ServerBackend {
    async fn principal(&self) -> Result<Principal, ApiError> {
        leptos_axum::extract_with_state::<Principal, AppState>(&self.state).await.map_err(|_| ApiError::Unauthenticated)
    }

    /// The caller of a server function that changes something: a session whose CSRF token
    /// the form sent back.
    async fn acting_principal(&self, csrf: &str) -> Result<Principal, ApiError> {
        let session: Session = leptos_axum::extract().await.map_err(|_| ApiError::Unauthenticated)?;
        crate::auth::principal::from_session(&self.state.db, &session, Some(csrf)).await
    }
}

fn message(error: ApiError) -> String {
    error.to_string()
}

fn counts_view(c: &hoist_queue::Counts) -> QueueCounts {
    QueueCounts {
        waiting: c.waiting,
        delayed: c.delayed,
        retrying: c.retrying,
        active: c.active,
        completed: c.completed,
        dead: c.dead,
        cancelled: c.cancelled,
        paused: c.paused,
    }
}

/// The client's address, for the audit log.
async fn client_addr() -> Result<String, String> {
    let ConnectInfo(addr): ConnectInfo<SocketAddr> = leptos_axum::extract().await.map_err(|e| e.to_string())?;
    Ok(addr.ip().to_string())
}

impl Backend for ServerBackend {
    fn system_status(&self) -> BoxFuture<'_, SystemStatus> {
        Box::pin(crate::health::system_status(&self.state.redis, &self.state.db))
    }

    fn viewer(&self) -> BoxFuture<'_, Option<Viewer>> {
        Box::pin(async move {
            let principal = self.principal().await.ok()?;
            let csrf = match leptos_axum::extract::<Session>().await {
                Ok(session) => session.get::<String>(crate::auth::principal::SESSION_CSRF).await.ok().flatten(),
                Err(_) => None,
            };
            Some(Viewer {
                username: principal.username,
                role: principal.role.as_str().to_string(),
                csrf: csrf.unwrap_or_default(),
            })
        })
    }

    fn sign_in(&self, username: String, password: String) -> BoxFuture<'_, Result<Viewer, String>> {
        Box::pin(async move {
            let session: Session = leptos_axum::extract().await.map_err(|e| e.to_string())?;
            let ConnectInfo(addr): ConnectInfo<SocketAddr> = leptos_axum::extract().await.map_err(|e| e.to_string())?;
            let request = crate::auth::login::LoginRequest { username, password };
            let signed_in = crate::auth::login::sign_in(&self.state, addr, &session, request).await.map_err(message)?;
            Ok(Viewer {
                username: signed_in.user.username,
                role: signed_in.user.role.as_str().to_string(),
                csrf: signed_in.csrf_token,
            })
        })
    }

    fn sign_out(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Ok(session) = leptos_axum::extract::<Session>().await {
                let _ = session.flush().await;
            }
        })
    }

    fn overview(&self) -> BoxFuture<'_, Result<Vec<QueueCard>, String>> {
        Box::pin(async move {
            let principal = self.principal().await.map_err(message)?;
            principal.require_staff().map_err(message)?;
            let names =
                hoist_queue::Queue::list_queues(&self.state.engine, "hoist").await.map_err(|e| e.to_string())?;
            let mut cards = Vec::with_capacity(names.len());
            let now = crate::db::now_ms();
            for name in names {
                // The health check reads the counts; the card shows those, not a second read.
                let health = crate::services::health::queue_health(&self.state, &principal, &name, now)
                    .await
                    .map_err(message)?;
                let queue = hoist_queue::Queue::new(&self.state.engine, &name).map_err(|e| e.to_string())?;
                let workers =
                    queue.worker_processes(std::time::Duration::from_secs(60)).await.map_err(|e| e.to_string())?;
                cards.push(QueueCard {
                    name,
                    counts: counts_view(&health.counts),
                    warnings: health.warnings,
                    workers: workers as u64,
                });
            }
            Ok(cards)
        })
    }

    fn queue_page(&self, queue: String, state: String, cursor: u64) -> BoxFuture<'_, Result<QueuePage, String>> {
        Box::pin(async move {
            let principal = self.principal().await.map_err(message)?;
            let job_state = hoist_queue::JobState::parse(&state).ok_or_else(|| format!("unknown state {state:?}"))?;
            let filter = crate::services::jobs::JobFilter::default();
            let page = crate::services::jobs::list_jobs(&self.state, &principal, &queue, job_state, filter, cursor, 50)
                .await
                .map_err(message)?;
            let counts = if principal.require_staff().is_ok() {
                let queue = hoist_queue::Queue::new(&self.state.engine, &queue).map_err(|e| e.to_string())?;
                counts_view(&queue.counts().await.map_err(|e| e.to_string())?)
            } else {
                QueueCounts::default()
            };
            let jobs = page
                .jobs
                .into_iter()
                .map(|job| JobRow {
                    stage: job.progress.as_ref().and_then(|p| p.stage.clone()),
                    percent: job.progress.as_ref().and_then(|p| p.percent),
                    id: job.id,
                    name: job.name,
                    owner: job.owner,
                    created_at: job.created_at,
                    attempts: job.attempts,
                    max_attempts: job.max_attempts,
                })
                .collect();
            let can_operate = matches!(principal.role, crate::users::Role::Admin | crate::users::Role::Operator);
            Ok(QueuePage { name: queue, counts, state, jobs, next: page.next, can_operate })
        })
    }

    fn queue_action(&self, queue: String, action: String, csrf: String) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let principal = self.acting_principal(&csrf).await.map_err(message)?;
            let action = match action.as_str() {
                "pause" => "pause",
                "resume" => "resume",
                other => return Err(format!("unknown action {other:?}")),
            };
            crate::services::jobs::act(&self.state, &principal, Some(client_addr().await?), &queue, None, action)
                .await
                .map_err(message)?;
            Ok(())
        })
    }

    fn job(&self, queue: String, id: String) -> BoxFuture<'_, Result<JobDetail, String>> {
        Box::pin(async move {
            let principal = self.principal().await.map_err(message)?;
            let job = crate::services::jobs::get_job(&self.state, &principal, &queue, &id).await.map_err(message)?;
            let pretty = |value: &serde_json::Value| serde_json::to_string_pretty(value).unwrap_or_default();
            let payload = pretty(&job.payload);
            let payload_bytes = payload.len();
            let shown = if payload_bytes > JobDetail::SHOWN_BYTES {
                let mut cut = JobDetail::SHOWN_BYTES;
                while !payload.is_char_boundary(cut) {
                    cut -= 1;
                }
                payload[..cut].to_string()
            } else {
                payload
            };
            Ok(JobDetail {
                can_operate: matches!(principal.role, crate::users::Role::Admin | crate::users::Role::Operator),
                queue: job.queue.clone(),
                state: job.state.as_str().to_string(),
                payload: shown,
                payload_bytes,
                result: job.result.as_ref().map(pretty),
                priority: job.priority,
                attempts: job.attempts,
                max_attempts: job.max_attempts,
                timeout_ms: job.timeout_ms,
                dedup_key: job.dedup_key.clone(),
                created_at: job.created_at,
                run_at: job.run_at,
                started_at: job.started_at,
                finished_at: job.finished_at,
                worker: job.worker.clone(),
                progress: job.progress.as_ref().map(|p| ProgressView {
                    stage: p.stage.clone(),
                    message: p.message.clone(),
                    percent: p.percent,
                    eta_ms: p.eta_ms,
                }),
                errors: job
                    .errors
                    .iter()
                    .map(|e| AttemptError {
                        attempt: e.attempt,
                        at: e.at,
                        kind: e.kind.clone(),
                        message: e.message.clone(),
                        causes: e.causes.clone(),
                    })
                    .collect(),
                logs: job.logs.clone(),
                owner: job.owner.clone(),
                name: job.name.clone(),
                id: job.id,
            })
        })
    }

    fn job_action(&self, queue: String, id: String, action: String, csrf: String) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let principal = self.acting_principal(&csrf).await.map_err(message)?;
            let action = match action.as_str() {
                "retry" => "retry",
                "cancel" => "cancel",
                "promote" => "promote",
                "remove" => "remove",
                other => return Err(format!("unknown action {other:?}")),
            };
            crate::services::jobs::act(&self.state, &principal, Some(client_addr().await?), &queue, Some(&id), action)
                .await
                .map_err(message)?;
            Ok(())
        })
    }

    fn my_jobs(&self) -> BoxFuture<'_, Result<MyJobs, String>> {
        Box::pin(async move {
            let principal = self.principal().await.map_err(message)?;
            let connections = crate::services::connections::list(&self.state, &principal)
                .await
                .map_err(message)?
                .into_iter()
                .map(|c| ConnectionView {
                    id: c.id,
                    institution: c.institution,
                    status: c.status,
                    last_synced_at: c.last_synced_at,
                    transactions: c.transactions,
                })
                .collect();
            // The caller's newest jobs of the sync queue, in the states that matter to them.
            let owner = crate::services::jobs::JobFilter { owner: Some(principal.user_id.to_string()), name: None };
            let mut jobs = vec![];
            for state in [
                hoist_queue::JobState::Active,
                hoist_queue::JobState::Waiting,
                hoist_queue::JobState::Retrying,
                hoist_queue::JobState::Completed,
                hoist_queue::JobState::Dead,
            ] {
                let page = crate::services::jobs::list_jobs(
                    &self.state,
                    &principal,
                    crate::processors::sync::QUEUE,
                    state,
                    owner.clone(),
                    0,
                    10,
                )
                .await
                .map_err(message)?;
                jobs.extend(page.jobs.into_iter().map(|job| MyJob {
                    queue: job.queue,
                    state: job.state.as_str().to_string(),
                    created_at: job.created_at,
                    progress: job.progress.map(|p| ProgressView {
                        stage: p.stage,
                        message: p.message,
                        percent: p.percent,
                        eta_ms: p.eta_ms,
                    }),
                    id: job.id,
                    name: job.name,
                }));
            }
            jobs.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
            Ok(MyJobs { connections, jobs })
        })
    }

    fn sync_connection(&self, connection_id: i64, csrf: String) -> BoxFuture<'_, Result<String, String>> {
        Box::pin(async move {
            let principal = self.acting_principal(&csrf).await.map_err(message)?;
            crate::services::connections::sync_now(&self.state, &principal, connection_id).await.map_err(message)
        })
    }

    fn dead_letters(
        &self,
        queue: Option<String>,
        error: Option<String>,
    ) -> BoxFuture<'_, Result<Vec<DeadRow>, String>> {
        Box::pin(async move {
            let principal = self.principal().await.map_err(message)?;
            let filter = crate::services::dead_letters::DeadFilter {
                queue: queue.filter(|q| !q.is_empty()),
                error: error.filter(|e| !e.is_empty()),
                ..Default::default()
            };
            let jobs =
                crate::services::dead_letters::list(&self.state, &principal, &filter, 500).await.map_err(message)?;
            Ok(jobs
                .into_iter()
                .map(|job| DeadRow {
                    error: job.last_error.map(|e| e.message).unwrap_or_default(),
                    died_at: job.finished_at.unwrap_or(job.created_at),
                    attempts: job.attempts,
                    queue: job.queue,
                    id: job.id,
                    name: job.name,
                })
                .collect())
        })
    }

    fn dead_action(
        &self,
        action: String,
        queue: Option<String>,
        id: Option<String>,
        error: Option<String>,
        csrf: String,
    ) -> BoxFuture<'_, Result<u64, String>> {
        Box::pin(async move {
            use crate::services::dead_letters::{DeadFilter, Selection, requeue_or_purge};
            let principal = self.acting_principal(&csrf).await.map_err(message)?;
            let purge = match action.as_str() {
                "requeue" => false,
                "purge" => true,
                other => return Err(format!("unknown action {other:?}")),
            };
            let queue = queue.filter(|q| !q.is_empty());
            let selection = match (id.filter(|i| !i.is_empty()), queue.clone()) {
                (Some(id), Some(queue)) => Selection::Jobs { queue, ids: vec![id] },
                (Some(_), None) => return Err("a job is named with its queue".into()),
                (None, _) => Selection::Filter(DeadFilter {
                    queue,
                    error: error.filter(|e| !e.is_empty()),
                    ..Default::default()
                }),
            };
            requeue_or_purge(&self.state, &principal, Some(client_addr().await?), selection, purge)
                .await
                .map_err(message)
        })
    }
}
