//! Provider sync: `sync-connection` pulls one bank connection's accounts and then its
//! transactions into SQL with progress by stage; `sync-all-org` fans out one such job per
//! connection of an organisation, staggered; `refresh-consents` flags connections whose
//! consent runs out within 7 days. Domain events (`sync.completed`, `sync.failed`,
//! `batch.completed`, `consents.expiring`) go on the queue's event stream.

pub mod demo_provider;
pub mod provider;
pub mod store;

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use hoist_queue::{
    Backoff, DedupScope, Enqueued, JobContext, JobError, JobOptions, JobResult, NewJob, Progress, Queue,
    RedisConnection, handler_fn,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use self::provider::{ConnectionRef, Provider, ProviderError};
use super::Registry;
use crate::db::{Db, now_ms};

pub const QUEUE: &str = "sync";
pub const SYNC_CONNECTION: &str = "sync-connection";
pub const SYNC_ALL_ORG: &str = "sync-all-org";
pub const REFRESH_CONSENTS: &str = "refresh-consents";

/// Consents ending within this are flagged for re-authorization.
pub const CONSENT_WARNING: Duration = Duration::from_secs(7 * 24 * 3600);

#[derive(Args, Clone, Debug, Default)]
pub struct SyncConfig {
    /// Delay of each demo-provider call, in ms (a real provider takes about this long).
    #[arg(long, env = "HOIST_DEMO_PROVIDER_LATENCY_MS", default_value_t = 150)]
    pub demo_provider_latency_ms: u64,
    /// Gap between the jobs one `sync-all-org` fans out, in ms.
    #[arg(long, env = "HOIST_SYNC_STAGGER_MS", default_value_t = 2000)]
    pub sync_stagger_ms: u64,
    /// First retry delay of a failed sync, in ms (doubling, capped at 10 minutes).
    #[arg(long, env = "HOIST_SYNC_RETRY_BASE_MS", default_value_t = 5000)]
    pub sync_retry_base_ms: u64,
    /// Share of demo-provider calls that fail at random (0–1; `serve --demo` uses 0.1).
    #[arg(long, env = "HOIST_DEMO_PROVIDER_FAULT_RATE", default_value_t = 0.0)]
    pub demo_provider_fault_rate: f64,
}

impl SyncConfig {
    pub fn demo_latency(&self) -> Duration {
        Duration::from_millis(self.demo_provider_latency_ms)
    }
}

/// What the sync handlers share.
#[derive(Clone)]
pub struct SyncContext {
    db: Db,
    engine: RedisConnection,
    provider: Arc<dyn Provider>,
    stagger: Duration,
    retry_base: Duration,
}

impl SyncContext {
    pub fn new(db: Db, engine: RedisConnection, provider: Arc<dyn Provider>, config: &SyncConfig) -> Self {
        SyncContext {
            db,
            engine,
            provider,
            stagger: Duration::from_millis(config.sync_stagger_ms),
            retry_base: Duration::from_millis(config.sync_retry_base_ms),
        }
    }
}

pub fn register(registry: &mut Registry, context: SyncContext) {
    let cx = context.clone();
    registry.register(QUEUE, SYNC_CONNECTION, handler_fn(move |ctx| sync_connection(cx.clone(), ctx)));
    let cx = context.clone();
    registry.register(QUEUE, SYNC_ALL_ORG, handler_fn(move |ctx| sync_all_org(cx.clone(), ctx)));
    registry.register(QUEUE, REFRESH_CONSENTS, handler_fn(move |ctx| refresh_consents(context.clone(), ctx)));
}

#[derive(Serialize, Deserialize)]
struct SyncPayload {
    connection_id: i64,
    /// The `sync-all-org` job that fanned this one out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    batch: Option<String>,
}

/// The dedup key of the job a fan-out adds for one connection.
fn batch_dedup_key(batch: &str, connection_id: i64) -> String {
    format!("batch:{batch}:{connection_id}")
}

/// Queues a sync of one connection on `queue` (the sync queue), owned by the connection's
/// user. A fanned-out job is keyed by its batch and connection (a retried fan-out adds
/// none twice); any other is keyed by the connection while it waits or runs, so pressing
/// "Sync now" again returns the sync already under way instead of adding one.
pub async fn enqueue_sync(
    queue: &Queue,
    retry_base: Duration,
    connection_id: i64,
    owner: &str,
    batch: Option<String>,
    delay: Option<Duration>,
) -> hoist_queue::Result<Enqueued> {
    let (dedup, dedup_scope) = match &batch {
        Some(b) => (batch_dedup_key(b, connection_id), DedupScope::Retained),
        None => (format!("connection:{connection_id}"), DedupScope::Unfinished),
    };
    let payload = serde_json::to_value(SyncPayload { connection_id, batch })?;
    let options = JobOptions {
        max_attempts: 5,
        backoff: Backoff::Exponential { base: retry_base, cap: Duration::from_secs(600), jitter: 0.2 },
        timeout: Some(Duration::from_secs(15 * 60)),
        owner: Some(owner.to_string()),
        dedup_key: Some(dedup),
        dedup_scope,
        delay,
        ..Default::default()
    };
    queue.enqueue(NewJob { name: SYNC_CONNECTION.into(), payload, options }).await
}

enum SyncError {
    Provider(ProviderError),
    Other(JobError),
}

impl From<sqlx::Error> for SyncError {
    fn from(e: sqlx::Error) -> Self {
        SyncError::Other(JobError::retryable(e))
    }
}

impl From<hoist_queue::QueueError> for SyncError {
    fn from(e: hoist_queue::QueueError) -> Self {
        SyncError::Other(JobError::retryable(e))
    }
}

async fn sync_connection(cx: SyncContext, ctx: JobContext) -> JobResult {
    let payload: SyncPayload = ctx.payload()?;
    let job_id = ctx.job().id.clone();
    let (connection, connection_owner) = store::connection_ref(&cx.db, payload.connection_id)
        .await
        .map_err(JobError::retryable)?
        .ok_or_else(|| JobError::permanent(format!("connection {} does not exist", payload.connection_id)))?;
    // Only a job the fan-out added counts down its batch: the fan-out keys its jobs
    // `batch:B:CONNECTION`, a key no end user can give (theirs are `user:ID:…`), so a
    // payload naming someone else's batch cannot end it early or make up events.
    if let Some(batch) = &payload.batch
        && ctx.job().dedup_key.as_deref() != Some(batch_dedup_key(batch, payload.connection_id).as_str())
    {
        return Err(JobError::permanent(format!("batch {batch:?} did not add this job")));
    }
    // A job with an owner was asked for by that user (or on their behalf): it may sync only
    // their own connection, whatever id the payload names. Jobs without an owner come from
    // staff or the system.
    if let Some(owner) = &ctx.job().owner
        && *owner != connection_owner
    {
        return Err(JobError::permanent(format!(
            "connection {} does not belong to the job's owner (user {owner})",
            connection.id
        )));
    }
    store::set_status(&cx.db, connection.id, "syncing", &job_id, None, false).await.map_err(JobError::retryable)?;
    match pull(&cx, &ctx, &connection).await {
        Ok((accounts, transactions)) => {
            store::set_status(&cx.db, connection.id, "active", &job_id, None, true)
                .await
                .map_err(JobError::retryable)?;
            ctx.progress(
                Progress::stage("completed")
                    .percent(100.0)
                    .counter("accounts", accounts as i64)
                    .counter("transactions", transactions as i64),
            )
            .await?;
            let fields = [
                ("connection_id", connection.id.to_string()),
                ("accounts", accounts.to_string()),
                ("transactions", transactions.to_string()),
            ];
            ctx.publish("sync.completed", &fields).await?;
            batch_member_done(&ctx, payload.batch.as_deref()).await?;
            tracing::info!(connection = connection.id, accounts, transactions, "sync completed");
            Ok(json!({ "connection_id": connection.id, "accounts": accounts, "transactions": transactions }))
        }
        Err(SyncError::Provider(ProviderError::RateLimited { retry_after })) => {
            // Not a failure: the job comes back when the provider allows it.
            store::set_status(
                &cx.db,
                connection.id,
                "active",
                &job_id,
                Some("waiting out the provider's rate limit"),
                false,
            )
            .await
            .map_err(JobError::retryable)?;
            Err(JobError::defer(retry_after))
        }
        Err(failure) => {
            let (status, error) = match failure {
                SyncError::Provider(e @ ProviderError::Unauthorized(_)) => ("requires_reauth", e.into_job_error()),
                SyncError::Provider(e) => ("error", e.into_job_error()),
                SyncError::Other(e) => ("error", e),
            };
            let message = error.to_string();
            store::set_status(&cx.db, connection.id, status, &job_id, Some(&message), false)
                .await
                .map_err(JobError::retryable)?;
            let last = error.is_permanent() || ctx.job().attempts >= ctx.job().max_attempts;
            if last {
                let fields = [("connection_id", connection.id.to_string()), ("error", message.clone())];
                ctx.publish("sync.failed", &fields).await.map_err(JobError::retryable)?;
                batch_member_done(&ctx, payload.batch.as_deref()).await?;
            }
            tracing::warn!(connection = connection.id, status, error = %message, final_attempt = last, "sync failed");
            Err(error)
        }
    }
}

/// Accounts, then each account's transactions, with progress after every step.
async fn pull(cx: &SyncContext, ctx: &JobContext, connection: &ConnectionRef) -> Result<(usize, usize), SyncError> {
    let started = Instant::now();
    ctx.progress(Progress::stage("starting").percent(0.0)).await?;
    ctx.progress(Progress::stage("syncing_accounts").percent(5.0)).await?;
    let accounts = cx.provider.accounts(connection).await.map_err(SyncError::Provider)?;
    let ids = store::upsert_accounts(&cx.db, connection.id, &accounts).await?;
    let mut transactions = 0usize;
    for (i, (account, id)) in accounts.iter().zip(&ids).enumerate() {
        let done = i as f64 / accounts.len() as f64;
        let eta = (i > 0).then(|| started.elapsed().mul_f64((1.0 - done) / done));
        let mut progress = Progress::stage("syncing_transactions")
            .percent(10.0 + 80.0 * done)
            .counter("accounts", accounts.len() as i64)
            .counter("transactions", transactions as i64);
        if let Some(eta) = eta {
            progress = progress.eta(eta);
        }
        ctx.progress(progress).await?;
        if ctx.is_cancelled() {
            return Err(SyncError::Other(JobError::retryable("cancelled")));
        }
        let fetched = cx.provider.transactions(connection, &account.external_id).await.map_err(SyncError::Provider)?;
        store::upsert_transactions(&cx.db, *id, &fetched).await?;
        transactions += fetched.len();
    }
    ctx.progress(
        Progress::stage("finalizing")
            .percent(95.0)
            .counter("accounts", accounts.len() as i64)
            .counter("transactions", transactions as i64),
    )
    .await?;
    Ok((accounts.len(), transactions))
}

/// Counts down the batch a fanned-out job belongs to; the last one announces
/// `batch.completed`.
async fn batch_member_done(ctx: &JobContext, batch: Option<&str>) -> Result<(), JobError> {
    let Some(batch) = batch else { return Ok(()) };
    let left = ctx.queue().count_down_batch(batch).await.map_err(JobError::retryable)?;
    if left == 0 {
        ctx.queue().publish("batch.completed", batch, &[]).await.map_err(JobError::retryable)?;
    }
    Ok(())
}

#[derive(Deserialize)]
struct OrgPayload {
    org_id: i64,
}

async fn sync_all_org(cx: SyncContext, ctx: JobContext) -> JobResult {
    let payload: OrgPayload = ctx.payload()?;
    let batch = ctx.job().id.clone();
    let mut connections = store::syncable_connections(&cx.db, payload.org_id).await.map_err(JobError::retryable)?;
    // A user's own fan-out covers only their connections, and needs at least one in the
    // organisation: nobody triggers syncs of other users' connections.
    if let Some(owner) = &ctx.job().owner {
        connections.retain(|(_, connection_owner)| connection_owner == owner);
        if connections.is_empty()
            && !store::owns_connection_in(&cx.db, payload.org_id, owner).await.map_err(JobError::retryable)?
        {
            return Err(JobError::permanent(format!(
                "organisation {} has no connection of the job's owner (user {owner})",
                payload.org_id
            )));
        }
    }
    // The counter is set once (NX), so a retried fan-out does not reset it; the jobs are
    // keyed by batch and connection, so it does not add them twice either.
    let queue = Queue::new(&cx.engine, QUEUE).map_err(JobError::retryable)?;
    queue
        .open_batch(&batch, connections.len() as u64, Duration::from_secs(86_400))
        .await
        .map_err(JobError::retryable)?;
    let mut ids = vec![];
    for (i, (connection_id, owner)) in connections.iter().enumerate() {
        let delay = (i > 0).then(|| cx.stagger * i as u32);
        let e = enqueue_sync(&queue, cx.retry_base, *connection_id, owner, Some(batch.clone()), delay)
            .await
            .map_err(JobError::retryable)?;
        ids.push(e.id);
    }
    if connections.is_empty() {
        ctx.publish("batch.completed", &[("org_id", payload.org_id.to_string())]).await?;
    }
    Ok(json!({ "org_id": payload.org_id, "jobs": ids, "stagger_ms": cx.stagger.as_millis() as u64 }))
}

async fn refresh_consents(cx: SyncContext, ctx: JobContext) -> JobResult {
    let before = now_ms() + CONSENT_WARNING.as_millis() as i64;
    let flagged = store::expire_consents(&cx.db, before).await.map_err(JobError::retryable)?;
    if !flagged.is_empty() {
        let ids = flagged.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        ctx.publish("consents.expiring", &[("count", flagged.len().to_string()), ("connection_ids", ids)]).await?;
    }
    Ok(json!({ "flagged": flagged }))
}
