//! What a bank-data provider (Plaid, Belvo, ...) gives a sync, and how its failures map
//! onto the engine: rate limits and outages are retried, revoked consent and malformed
//! data are not.

use std::time::Duration;

use hoist_queue::JobError;

/// The connection a sync works on.
#[derive(Clone, Debug)]
pub struct ConnectionRef {
    pub id: i64,
    pub external_id: String,
    pub institution: String,
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

#[derive(Clone, Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("provider rate limit (429); retry in {} s", retry_after.as_secs())]
    RateLimited { retry_after: Duration },
    #[error("provider unavailable: {0}")]
    Unavailable(String),
    #[error("provider timed out")]
    Timeout,
    /// The user's consent was revoked or expired: only the user can fix it.
    #[error("provider refused the credentials (401): {0}")]
    Unauthorized(String),
    #[error("provider sent malformed data: {0}")]
    Malformed(String),
}

impl ProviderError {
    /// What the engine should do about it.
    pub fn into_job_error(self) -> JobError {
        let error = self;
        match error {
            // Waiting out the provider's limit is not a failed attempt.
            ProviderError::RateLimited { retry_after } => JobError::defer(retry_after),
            ProviderError::Unavailable(_) | ProviderError::Timeout => JobError::retryable(error),
            ProviderError::Unauthorized(_) | ProviderError::Malformed(_) => JobError::permanent(error),
        }
    }
}

/// A source of accounts and transactions.
#[async_trait::async_trait]
pub trait Provider: Send + Sync + 'static {
    fn name(&self) -> &str;
    async fn accounts(&self, connection: &ConnectionRef) -> Result<Vec<ProviderAccount>, ProviderError>;
    async fn transactions(
        &self,
        connection: &ConnectionRef,
        account_external_id: &str,
    ) -> Result<Vec<ProviderTransaction>, ProviderError>;
}
