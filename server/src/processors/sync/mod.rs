//! Provider sync: `sync-connection` pulls one bank connection's accounts and then the
//! transactions changed since its stored cursor into SQL with progress by stage;
//! `sync-all-org` fans out one such job per connection of an organisation, staggered;
//! `refresh-consents` flags connections whose consent runs out within 7 days. Domain events
//! (`sync.completed`, `sync.failed`, `batch.completed`, `consents.expiring`) go on the
//! queue's event stream.
//!
//! The provider is chosen by `HOIST_SYNC_PROVIDER`: the demo provider, or Plaid. Every
//! process running the `sync` queue must choose the same one: a job for a connection of
//! another provider fails permanently.

pub mod demo_provider;
pub mod plaid_provider;
pub mod provider;
pub mod store;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use hoist_queue::{
    Backoff, DedupScope, Enqueued, JobContext, JobError, JobOptions, JobResult, NewJob, Progress, Queue, handler_fn,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use self::plaid_provider::{PlaidEnv, PlaidProvider, PlaidSettings};
use self::provider::{ConnectionRef, Provider, ProviderError, ProviderTransaction, SyncedTransaction};
use super::Registry;
use crate::db::{Db, now_ms};
use crate::error::StartupError;

/// The sync queue unless `HOIST_SYNC_QUEUE` names another ([`super::QueueNames`]).
pub const DEFAULT_QUEUE: &str = "sync";
pub const SYNC_CONNECTION: &str = "sync-connection";
pub const SYNC_ALL_ORG: &str = "sync-all-org";
pub const REFRESH_CONSENTS: &str = "refresh-consents";

/// Consents ending within this are flagged for re-authorization.
pub const CONSENT_WARNING: Duration = Duration::from_secs(7 * 24 * 3600);

/// Transaction pages one sync job reads at most (Plaid: 500 transactions a page, so
/// 50,000). A connection with more changes stores the cursor it reached and the next
/// sync continues from there, so one job never runs unbounded.
pub const MAX_PAGES_PER_SYNC: u32 = 100;
/// Times one sync starts its pagination again because the provider's data changed under
/// it; after that the job fails (retryable).
pub const MAX_PAGINATION_RESTARTS: u32 = 3;

/// Where bank data comes from.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProviderKind {
    /// Made-up, stable data (`HOIST_DEMO_PROVIDER_*`).
    #[default]
    Demo,
    /// Plaid's API (`PLAID_*`).
    Plaid,
}

/// A secret setting: `Debug` does not show it.
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_string()))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

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
    /// Where bank data comes from: `demo` or `plaid`.
    #[arg(long, env = "HOIST_SYNC_PROVIDER", value_enum, default_value_t = ProviderKind::Demo)]
    pub sync_provider: ProviderKind,
    /// Plaid client id (required with `HOIST_SYNC_PROVIDER=plaid`).
    #[arg(long, env = "PLAID_CLIENT_ID")]
    pub plaid_client_id: Option<String>,
    /// Plaid secret of the environment (required with `HOIST_SYNC_PROVIDER=plaid`).
    #[arg(long, env = "PLAID_SECRET", hide_env_values = true)]
    pub plaid_secret: Option<Secret>,
    /// Plaid environment: `sandbox`, `development` or `production` (https://{env}.plaid.com).
    #[arg(long, env = "PLAID_ENV", value_enum, default_value_t = PlaidEnv::Sandbox)]
    pub plaid_env: PlaidEnv,
    /// Plaid's base URL instead of the environment's (a proxy, or a test server).
    #[arg(long, env = "PLAID_BASE_URL")]
    pub plaid_base_url: Option<String>,
    /// Seconds a Plaid request may take, its answer included.
    #[arg(long, env = "PLAID_TIMEOUT_SECS", default_value_t = 30)]
    pub plaid_timeout_secs: u64,
}

impl SyncConfig {
    pub fn demo_latency(&self) -> Duration {
        Duration::from_millis(self.demo_provider_latency_ms)
    }
}

/// The provider `config` selects; a missing Plaid setting stops start-up naming it.
pub fn provider_from_config(config: &SyncConfig) -> Result<Arc<dyn Provider>, StartupError> {
    match config.sync_provider {
        ProviderKind::Demo => Ok(Arc::new(
            demo_provider::DemoProvider::new(config.demo_latency()).with_random_faults(config.demo_provider_fault_rate),
        )),
        ProviderKind::Plaid => {
            let required = |variable: &'static str, value: Option<&str>| {
                value.map(str::trim).filter(|v| !v.is_empty()).map(str::to_string).ok_or_else(|| {
                    StartupError::Invalid { variable, reason: "required with HOIST_SYNC_PROVIDER=plaid".into() }
                })
            };
            let client_id = required("PLAID_CLIENT_ID", config.plaid_client_id.as_deref())?;
            let secret = required("PLAID_SECRET", config.plaid_secret.as_ref().map(Secret::expose))?;
            let base_url = match config.plaid_base_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
                Some(url) => url.to_string(),
                None => config.plaid_env.base_url().to_string(),
            };
            if !(1..=600).contains(&config.plaid_timeout_secs) {
                return Err(StartupError::Invalid {
                    variable: "PLAID_TIMEOUT_SECS",
                    reason: format!("{} is not 1–600", config.plaid_timeout_secs),
                });
            }
            let timeout = Duration::from_secs(config.plaid_timeout_secs);
            Ok(Arc::new(PlaidProvider::new(PlaidSettings { client_id, secret, base_url, timeout })?))
        }
    }
}

/// What the sync handlers share.
#[derive(Clone)]
pub struct SyncContext {
    db: Db,
    provider: Arc<dyn Provider>,
    stagger: Duration,
    retry_base: Duration,
}

impl SyncContext {
    pub fn new(db: Db, provider: Arc<dyn Provider>, config: &SyncConfig) -> Self {
        SyncContext {
            db,
            provider,
            stagger: Duration::from_millis(config.sync_stagger_ms),
            retry_base: Duration::from_millis(config.sync_retry_base_ms),
        }
    }
}

/// Runs the sync jobs on `queue` (the configured sync queue).
pub fn register(registry: &mut Registry, queue: &str, context: SyncContext) {
    let cx = context.clone();
    registry.register(queue, SYNC_CONNECTION, handler_fn(move |ctx| sync_connection(cx.clone(), ctx)));
    let cx = context.clone();
    registry.register(queue, SYNC_ALL_ORG, handler_fn(move |ctx| sync_all_org(cx.clone(), ctx)));
    registry.register(queue, REFRESH_CONSENTS, handler_fn(move |ctx| refresh_consents(context.clone(), ctx)));
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
        group: Some(crate::policy::user_group(owner)),
        dedup_key: Some(dedup),
        dedup_scope,
        delay,
        ..Default::default()
    };
    queue.enqueue(NewJob::new(SYNC_CONNECTION, payload).with_options(options)).await
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
    // A demo connection's id means nothing to Plaid (and a Plaid token nothing to the
    // demo): asking the wrong provider would only flag the connection wrongly.
    if connection.provider != cx.provider.name() {
        let message = format!(
            "connection {} is a {} connection; this process syncs {} connections (HOIST_SYNC_PROVIDER)",
            connection.id,
            connection.provider,
            cx.provider.name()
        );
        // A fan-out from before the provider changed still gets its batch finished.
        ctx.publish("sync.failed", &[("connection_id", connection.id.to_string()), ("error", message.clone())])
            .await
            .map_err(JobError::retryable)?;
        batch_member_done(&ctx, payload.batch.as_deref()).await?;
        tracing::warn!(connection = connection.id, error = %message, "sync refused");
        return Err(JobError::permanent(message));
    }
    store::set_status(&cx.db, connection.id, "syncing", &job_id, None, false).await.map_err(JobError::retryable)?;
    match pull(&cx, &ctx, &connection).await {
        Ok(pulled) => {
            store::set_status(&cx.db, connection.id, "active", &job_id, None, true)
                .await
                .map_err(JobError::retryable)?;
            ctx.progress(
                Progress::stage("completed")
                    .percent(100.0)
                    .counter("accounts", pulled.accounts as i64)
                    .counter("transactions", pulled.transactions as i64),
            )
            .await?;
            let fields = [
                ("connection_id", connection.id.to_string()),
                ("accounts", pulled.accounts.to_string()),
                ("transactions", pulled.transactions.to_string()),
                ("removed", pulled.removed.to_string()),
            ];
            ctx.publish("sync.completed", &fields).await?;
            batch_member_done(&ctx, payload.batch.as_deref()).await?;
            if !pulled.complete {
                tracing::warn!(
                    connection = connection.id,
                    pages = pulled.pages,
                    "sync stopped at {MAX_PAGES_PER_SYNC} pages; the next sync continues from the stored cursor"
                );
            }
            tracing::info!(
                connection = connection.id,
                accounts = pulled.accounts,
                transactions = pulled.transactions,
                removed = pulled.removed,
                pages = pulled.pages,
                "sync completed"
            );
            Ok(json!({
                "connection_id": connection.id,
                "accounts": pulled.accounts,
                "transactions": pulled.transactions,
                "removed": pulled.removed,
                "pages": pulled.pages,
                "complete": pulled.complete,
            }))
        }
        Err(SyncError::Provider(e @ ProviderError::RateLimited { .. })) => {
            // Not a failure: the job comes back when the provider allows it.
            let message = format!("waiting out the provider's rate limit: {e}");
            store::set_status(&cx.db, connection.id, "active", &job_id, Some(&message), false)
                .await
                .map_err(JobError::retryable)?;
            tracing::info!(connection = connection.id, error = %e, "sync deferred");
            Err(e.into_job_error())
        }
        Err(failure) => {
            let (status, error) = match failure {
                SyncError::Provider(e) if e.needs_reauth() => ("requires_reauth", e.into_job_error()),
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

/// What one sync brought in.
struct Pulled {
    accounts: usize,
    /// Transactions added or modified.
    transactions: usize,
    removed: u64,
    pages: u32,
    /// False when the page cap stopped the sync before the provider had no more.
    complete: bool,
}

/// Accounts, then the transaction pages since the stored cursor, with progress after
/// every step. Each page is applied as it comes; the cursor is stored with the last one.
async fn pull(cx: &SyncContext, ctx: &JobContext, connection: &ConnectionRef) -> Result<Pulled, SyncError> {
    let started = Instant::now();
    ctx.progress(Progress::stage("starting").percent(0.0)).await?;
    ctx.progress(Progress::stage("syncing_accounts").percent(5.0)).await?;
    let accounts = cx.provider.accounts(connection).await.map_err(SyncError::Provider)?;
    let ids = store::upsert_accounts(&cx.db, connection.id, &accounts).await?;
    let account_ids: HashMap<&str, i64> = accounts.iter().map(|a| a.external_id.as_str()).zip(ids).collect();
    let start_cursor = store::sync_cursor(&cx.db, connection.id).await?;
    let mut restarts = 0;
    'pagination: loop {
        let mut cursor = start_cursor.clone();
        let (mut pages, mut transactions, mut removed) = (0u32, 0usize, 0u64);
        loop {
            let counters = |progress: Progress, transactions: usize| {
                progress.counter("accounts", accounts.len() as i64).counter("transactions", transactions as i64)
            };
            if pages == 0 {
                ctx.progress(counters(Progress::stage("syncing_transactions").percent(10.0), 0)).await?;
            }
            if ctx.is_cancelled() {
                return Err(SyncError::Other(JobError::retryable("cancelled")));
            }
            let page = match cx.provider.sync_transactions(connection, cursor.as_deref()).await {
                Ok(page) => page,
                // The provider's data changed mid-way: the pages read so far may not fit
                // the ones to come, so start again from where this pagination began (what
                // was applied already is applied again, to the same rows).
                Err(ProviderError::MutatedDuringPagination(reason)) if restarts < MAX_PAGINATION_RESTARTS => {
                    restarts += 1;
                    tracing::info!(connection = connection.id, restarts, %reason, "pagination restarted");
                    continue 'pagination;
                }
                Err(e) => return Err(SyncError::Provider(e)),
            };
            pages += 1;
            let upserts = page
                .added
                .iter()
                .chain(&page.modified)
                .map(|t| with_account_row(&account_ids, t))
                .collect::<Result<Vec<(i64, &ProviderTransaction)>, SyncError>>()?;
            let last = !page.has_more || pages >= MAX_PAGES_PER_SYNC;
            removed += store::apply_transaction_page(
                &cx.db,
                connection.id,
                &upserts,
                &page.removed,
                last.then_some(page.next_cursor.as_str()),
            )
            .await?;
            transactions += upserts.len();
            // Plaid does not say how far along it is: each page then closes half the gap.
            let done = page.done.unwrap_or(1.0 - 0.5f64.powi(pages as i32)).clamp(0.0, 1.0);
            let mut progress =
                counters(Progress::stage("syncing_transactions").percent(10.0 + 80.0 * done), transactions);
            if let Some(hint) = page.done.filter(|d| *d > 0.0 && *d < 1.0) {
                progress = progress.eta(started.elapsed().mul_f64((1.0 - hint) / hint));
            }
            ctx.progress(progress).await?;
            if last {
                ctx.progress(counters(Progress::stage("finalizing").percent(95.0), transactions)).await?;
                return Ok(Pulled { accounts: accounts.len(), transactions, removed, pages, complete: !page.has_more });
            }
            cursor = Some(page.next_cursor);
        }
    }
}

/// The account row a synced transaction belongs to. The accounts were fetched moments
/// before, so a transaction on an account they did not list means the two answers
/// disagree; a retry fetches both again.
fn with_account_row<'a>(
    account_ids: &HashMap<&str, i64>,
    synced: &'a SyncedTransaction,
) -> Result<(i64, &'a ProviderTransaction), SyncError> {
    match account_ids.get(synced.account_external_id.as_str()) {
        Some(id) => Ok((*id, &synced.transaction)),
        None => Err(SyncError::Other(JobError::retryable(format!(
            "transaction {} is on account {}, which the provider's account list did not include",
            synced.transaction.external_id, synced.account_external_id
        )))),
    }
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
    // Only the connections this process's provider can sync: another provider's would
    // fail anyway.
    let mut connections =
        store::syncable_connections(&cx.db, payload.org_id, cx.provider.name()).await.map_err(JobError::retryable)?;
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
    // keyed by batch and connection, so it does not add them twice either. They go onto
    // this job's own queue, the sync queue, where `sync-connection` runs too.
    let queue = ctx.queue();
    queue
        .open_batch(&batch, connections.len() as u64, Duration::from_secs(86_400))
        .await
        .map_err(JobError::retryable)?;
    let mut ids = vec![];
    for (i, (connection_id, owner)) in connections.iter().enumerate() {
        let delay = (i > 0).then(|| cx.stagger * i as u32);
        let e = enqueue_sync(queue, cx.retry_base, *connection_id, owner, Some(batch.clone()), delay)
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Args {
        #[command(flatten)]
        sync: SyncConfig,
    }

    #[test]
    fn provider_settings_parse_and_the_secret_stays_hidden() {
        let default = Args::parse_from(["x"]).sync;
        assert_eq!(
            (default.sync_provider, default.plaid_env, default.plaid_timeout_secs),
            (ProviderKind::Demo, PlaidEnv::Sandbox, 30)
        );
        let args = [
            "x",
            "--sync-provider",
            "plaid",
            "--plaid-client-id",
            "id",
            "--plaid-secret",
            "s3cr3t",
            "--plaid-env",
            "production",
        ];
        let plaid = Args::parse_from(args).sync;
        assert_eq!((plaid.sync_provider, plaid.plaid_env), (ProviderKind::Plaid, PlaidEnv::Production));
        assert_eq!(plaid.plaid_secret.as_ref().map(Secret::expose), Some("s3cr3t"));
        assert!(!format!("{plaid:?}").contains("s3cr3t"));
        assert_eq!(provider_from_config(&plaid).unwrap().name(), "plaid");
        assert!(Args::try_parse_from(["x", "--sync-provider", "belvo"]).is_err());
        let mut slow = plaid.clone();
        slow.plaid_timeout_secs = 0;
        let error = provider_from_config(&slow).err().unwrap().to_string();
        assert!(error.starts_with("PLAID_TIMEOUT_SECS:"), "{error}");
    }
}
