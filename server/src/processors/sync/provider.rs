//! What a bank-data provider (Plaid, Belvo, ...) gives a sync, and how its failures map
//! onto the engine: rate limits and outages are retried, revoked consent and malformed
//! data are not.
//!
//! Transactions come as a change feed behind an opaque cursor (Plaid's
//! `/transactions/sync`): each page holds what was added, modified and removed since the
//! cursor, and the cursor to ask with next. The sync stores the cursor per connection, so
//! each sync continues where the last one finished.

use std::time::Duration;

use hoist_queue::JobError;

/// The connection a sync works on.
#[derive(Clone)]
pub struct ConnectionRef {
    pub id: i64,
    /// The provider's handle on the connection (for Plaid the Item's access token), so it
    /// is kept out of `Debug` output and logs.
    pub external_id: String,
    pub institution: String,
    /// The provider the connection was made with (`demo`, `plaid`).
    pub provider: String,
}

impl std::fmt::Debug for ConnectionRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionRef")
            .field("id", &self.id)
            .field("external_id", &"<redacted>")
            .field("institution", &self.institution)
            .field("provider", &self.provider)
            .finish()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ProviderAccount {
    pub external_id: String,
    pub name: String,
    pub kind: String,
    pub currency: String,
    /// Minor units (cents).
    pub balance: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ProviderTransaction {
    pub external_id: String,
    /// Minor units; negative is money out.
    pub amount: i64,
    pub currency: String,
    pub description: String,
    pub merchant: Option<String>,
    /// Epoch ms.
    pub booked_at: i64,
}

/// A transaction of a sync page, with the account it belongs to.
#[derive(Clone, Debug, PartialEq)]
pub struct SyncedTransaction {
    /// The provider's id of the account (`ProviderAccount::external_id`).
    pub account_external_id: String,
    pub transaction: ProviderTransaction,
}

/// A transaction the provider no longer has (reversed, or a pending one replaced by its
/// posted form). Its id is unique within the connection, so no account is needed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemovedTransaction {
    pub external_id: String,
}

/// One page of changes since a cursor.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TransactionPage {
    pub added: Vec<SyncedTransaction>,
    pub modified: Vec<SyncedTransaction>,
    pub removed: Vec<RemovedTransaction>,
    /// The cursor to ask with next (and to store once `has_more` is false).
    pub next_cursor: String,
    /// More pages follow for the same update.
    pub has_more: bool,
    /// Share of the whole pagination done after this page (0–1), when the provider knows
    /// it (the demo does, Plaid does not); drives the progress bar and its ETA.
    pub done: Option<f64>,
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("provider rate limit (429); retry in {} ms: {detail}", retry_after.as_millis())]
    RateLimited { retry_after: Duration, detail: String },
    #[error("provider unavailable: {0}")]
    Unavailable(String),
    #[error("provider timed out: {0}")]
    Timeout(String),
    /// The provider refused the credentials of the connection (401).
    #[error("provider refused the credentials (401): {0}")]
    Unauthorized(String),
    /// The user has to act at the provider (log in again, grant access again) before the
    /// connection syncs again: only the user can fix it.
    #[error("the user must re-authorize the connection: {0}")]
    ReauthRequired(String),
    /// The provider refused the request itself (bad input, product not enabled, wrong API
    /// keys): retrying the same request cannot help.
    #[error("provider rejected the request: {0}")]
    Rejected(String),
    #[error("provider sent malformed data: {0}")]
    Malformed(String),
    /// The data changed while the sync paged through it; the pagination must start again
    /// from the cursor it started with.
    #[error("provider data changed during pagination: {0}")]
    MutatedDuringPagination(String),
}

impl ProviderError {
    /// Whether the connection must wait for its user to authorize it again.
    pub fn needs_reauth(&self) -> bool {
        matches!(self, ProviderError::Unauthorized(_) | ProviderError::ReauthRequired(_))
    }

    /// What the engine should do about it.
    pub fn into_job_error(self) -> JobError {
        let error = self;
        match error {
            // Waiting out the provider's limit is not a failed attempt.
            ProviderError::RateLimited { retry_after, .. } => JobError::defer(retry_after),
            ProviderError::Unavailable(_) | ProviderError::Timeout(_) | ProviderError::MutatedDuringPagination(_) => {
                JobError::retryable(error)
            }
            ProviderError::Unauthorized(_)
            | ProviderError::ReauthRequired(_)
            | ProviderError::Rejected(_)
            | ProviderError::Malformed(_) => JobError::permanent(error),
        }
    }
}

/// A source of accounts and transactions.
#[async_trait::async_trait]
pub trait Provider: Send + Sync + 'static {
    /// The name connections of this provider carry in `connections.provider`.
    fn name(&self) -> &str;
    async fn accounts(&self, connection: &ConnectionRef) -> Result<Vec<ProviderAccount>, ProviderError>;
    /// The changes since `cursor` (`None`: from the beginning), one page at a time.
    async fn sync_transactions(
        &self,
        connection: &ConnectionRef,
        cursor: Option<&str>,
    ) -> Result<TransactionPage, ProviderError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use hoist_queue::ErrorKind;

    #[test]
    fn failures_map_onto_the_engine() {
        let kind = |e: ProviderError| e.into_job_error().kind;
        let limited = ProviderError::RateLimited { retry_after: Duration::from_secs(3), detail: "x".into() };
        let deferred = limited.into_job_error();
        assert_eq!((deferred.kind, deferred.retry_after), (ErrorKind::Deferred, Some(Duration::from_secs(3))));
        assert_eq!(kind(ProviderError::Unavailable("503".into())), ErrorKind::Retryable);
        assert_eq!(kind(ProviderError::Timeout("t".into())), ErrorKind::Retryable);
        assert_eq!(kind(ProviderError::MutatedDuringPagination("m".into())), ErrorKind::Retryable);
        for permanent in [
            ProviderError::Unauthorized("u".into()),
            ProviderError::ReauthRequired("r".into()),
            ProviderError::Rejected("r".into()),
            ProviderError::Malformed("m".into()),
        ] {
            assert_eq!(kind(permanent), ErrorKind::Permanent);
        }
        assert!(ProviderError::ReauthRequired("r".into()).needs_reauth());
        assert!(!ProviderError::Rejected("r".into()).needs_reauth());
    }

    #[test]
    fn connection_debug_hides_the_external_id() {
        let c = ConnectionRef {
            id: 1,
            external_id: "access-sandbox-secret".into(),
            institution: "Bank".into(),
            provider: "plaid".into(),
        };
        assert!(!format!("{c:?}").contains("access-sandbox-secret"));
    }
}
