//! The SQL side of a sync: connections, and idempotent upserts of what a provider sent
//! (keyed by the provider's ids, so a retried job updates instead of duplicating).

use sqlx::Row;

use super::provider::{ConnectionRef, ProviderAccount, ProviderTransaction, RemovedTransaction};
use crate::db::{Db, now_ms};

/// A connection as the API shows it.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Connection {
    pub id: i64,
    pub org_id: i64,
    pub owner: String,
    pub provider: String,
    pub institution: String,
    /// active, syncing, requires_reauth or error.
    pub status: String,
    pub consent_expires_at: Option<i64>,
    pub last_synced_at: Option<i64>,
    pub last_job_id: Option<String>,
    pub last_error: Option<String>,
    pub accounts: i64,
    pub transactions: i64,
}

const SELECT: &str = "SELECT c.id, c.org_id, c.owner, c.provider, c.institution, c.status, c.consent_expires_at, \
     c.last_synced_at, c.last_job_id, c.last_error, \
     (SELECT COUNT(*) FROM accounts a WHERE a.connection_id = c.id) AS accounts, \
     (SELECT COUNT(*) FROM transactions t JOIN accounts a ON a.id = t.account_id WHERE a.connection_id = c.id) AS transactions \
     FROM connections c";

fn row_to_connection(row: &sqlx::any::AnyRow) -> Result<Connection, sqlx::Error> {
    Ok(Connection {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        owner: row.try_get("owner")?,
        provider: row.try_get("provider")?,
        institution: row.try_get("institution")?,
        status: row.try_get("status")?,
        consent_expires_at: row.try_get("consent_expires_at")?,
        last_synced_at: row.try_get("last_synced_at")?,
        last_job_id: row.try_get("last_job_id")?,
        last_error: row.try_get("last_error")?,
        accounts: row.try_get("accounts")?,
        transactions: row.try_get("transactions")?,
    })
}

pub async fn connection(db: &Db, id: i64) -> Result<Option<Connection>, sqlx::Error> {
    let row = sqlx::query(&format!("{SELECT} WHERE c.id = $1")).bind(id).fetch_optional(&db.pool).await?;
    row.as_ref().map(row_to_connection).transpose()
}

/// What a sync needs of a connection, and its owner, without the row counts the API shows.
pub async fn connection_ref(db: &Db, id: i64) -> Result<Option<(ConnectionRef, String)>, sqlx::Error> {
    let row: Option<(String, String, String, String)> =
        sqlx::query_as("SELECT external_id, institution, provider, owner FROM connections WHERE id = $1")
            .bind(id)
            .fetch_optional(&db.pool)
            .await?;
    Ok(row.map(|(external_id, institution, provider, owner)| {
        (ConnectionRef { id, external_id, institution, provider }, owner)
    }))
}

/// The provider's cursor the connection's last complete transaction sync ended at (None:
/// never synced, start from the beginning).
pub async fn sync_cursor(db: &Db, id: i64) -> Result<Option<String>, sqlx::Error> {
    let cursor: Option<Option<String>> = sqlx::query_scalar("SELECT sync_cursor FROM connections WHERE id = $1")
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    Ok(cursor.flatten())
}

/// Connections of an owner (None: all), newest first.
pub async fn connections(db: &Db, owner: Option<&str>) -> Result<Vec<Connection>, sqlx::Error> {
    let rows = match owner {
        Some(owner) => {
            sqlx::query(&format!("{SELECT} WHERE c.owner = $1 ORDER BY c.id DESC"))
                .bind(owner)
                .fetch_all(&db.pool)
                .await?
        }
        None => sqlx::query(&format!("{SELECT} ORDER BY c.id DESC")).fetch_all(&db.pool).await?,
    };
    rows.iter().map(row_to_connection).collect()
}

/// Ids and owners of an organisation's connections of `provider` that can sync (not
/// waiting for re-consent).
pub async fn syncable_connections(db: &Db, org_id: i64, provider: &str) -> Result<Vec<(i64, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, owner FROM connections WHERE org_id = $1 AND provider = $2 AND status <> 'requires_reauth' \
         ORDER BY id",
    )
    .bind(org_id)
    .bind(provider)
    .fetch_all(&db.pool)
    .await
}

/// Whether `owner` has any connection (syncable or not) in the organisation.
pub async fn owns_connection_in(db: &Db, org_id: i64, owner: &str) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = sqlx::query_scalar("SELECT id FROM connections WHERE org_id = $1 AND owner = $2 LIMIT 1")
        .bind(org_id)
        .bind(owner)
        .fetch_optional(&db.pool)
        .await?;
    Ok(found.is_some())
}

pub async fn organisations(db: &Db) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM organisations ORDER BY id").fetch_all(&db.pool).await
}

pub async fn create_organisation(db: &Db, name: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("INSERT INTO organisations (name, created_at) VALUES ($1, $2) RETURNING id")
        .bind(name)
        .bind(now_ms())
        .fetch_one(&db.pool)
        .await
}

/// A connection of the demo provider.
pub async fn create_connection(
    db: &Db,
    org_id: i64,
    owner: &str,
    external_id: &str,
    institution: &str,
    consent_expires_at: Option<i64>,
) -> Result<i64, sqlx::Error> {
    create_provider_connection(db, org_id, owner, "demo", external_id, institution, consent_expires_at).await
}

/// A connection of `provider` (`demo`, `plaid`); for Plaid, `external_id` is the Item's
/// access token.
pub async fn create_provider_connection(
    db: &Db,
    org_id: i64,
    owner: &str,
    provider: &str,
    external_id: &str,
    institution: &str,
    consent_expires_at: Option<i64>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO connections (org_id, owner, provider, external_id, institution, consent_expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(org_id)
    .bind(owner)
    .bind(provider)
    .bind(external_id)
    .bind(institution)
    .bind(consent_expires_at)
    .bind(now_ms())
    .fetch_one(&db.pool)
    .await
}

pub async fn set_status(
    db: &Db,
    id: i64,
    status: &str,
    job_id: &str,
    error: Option<&str>,
    synced: bool,
) -> Result<(), sqlx::Error> {
    let synced_at = synced.then(now_ms);
    sqlx::query(
        "UPDATE connections SET status = $1, last_job_id = $2, last_error = $3, \
         last_synced_at = COALESCE($4, last_synced_at) WHERE id = $5",
    )
    .bind(status)
    .bind(job_id)
    .bind(error)
    .bind(synced_at)
    .bind(id)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Inserts or updates the accounts; returns their row ids in the same order.
pub async fn upsert_accounts(
    db: &Db,
    connection_id: i64,
    accounts: &[ProviderAccount],
) -> Result<Vec<i64>, sqlx::Error> {
    let mut tx = db.pool.begin().await?;
    let mut ids = Vec::with_capacity(accounts.len());
    for a in accounts {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO accounts (connection_id, external_id, name, kind, currency, balance, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (connection_id, external_id) DO UPDATE SET name = excluded.name, kind = excluded.kind, \
             currency = excluded.currency, balance = excluded.balance, updated_at = excluded.updated_at RETURNING id",
        )
        .bind(connection_id)
        .bind(&a.external_id)
        .bind(&a.name)
        .bind(&a.kind)
        .bind(&a.currency)
        .bind(a.balance)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await?;
        ids.push(id);
    }
    tx.commit().await?;
    Ok(ids)
}

const UPSERT_TRANSACTION: &str = "INSERT INTO transactions \
     (account_id, external_id, amount, currency, description, merchant, booked_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
     ON CONFLICT (account_id, external_id) DO UPDATE SET amount = excluded.amount, currency = excluded.currency, \
     description = excluded.description, merchant = excluded.merchant, booked_at = excluded.booked_at, \
     updated_at = excluded.updated_at";

async fn upsert_transaction(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    account_id: i64,
    t: &ProviderTransaction,
) -> Result<(), sqlx::Error> {
    sqlx::query(UPSERT_TRANSACTION)
        .bind(account_id)
        .bind(&t.external_id)
        .bind(t.amount)
        .bind(&t.currency)
        .bind(&t.description)
        .bind(t.merchant.as_deref())
        .bind(t.booked_at)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Inserts or updates one account's transactions, keeping categories already assigned.
pub async fn upsert_transactions(
    db: &Db,
    account_id: i64,
    transactions: &[ProviderTransaction],
) -> Result<(), sqlx::Error> {
    let mut tx = db.pool.begin().await?;
    for t in transactions {
        upsert_transaction(&mut tx, account_id, t).await?;
    }
    tx.commit().await
}

/// Applies one page of a transaction sync in one SQL transaction: upserts `upserts`
/// (account row id, transaction), deletes `removed` from the connection's accounts, and,
/// when the pagination is through, stores `cursor` to continue from next time. Returns
/// how many rows were deleted.
///
/// Pages before the last are applied without moving the stored cursor: a sync that stops
/// half-way (crash, failure, pagination restarted) asks again from the stored cursor, and
/// applying the same changes twice leaves the same rows (upserts by id, deletes by id).
pub async fn apply_transaction_page(
    db: &Db,
    connection_id: i64,
    upserts: &[(i64, &ProviderTransaction)],
    removed: &[RemovedTransaction],
    cursor: Option<&str>,
) -> Result<u64, sqlx::Error> {
    let mut tx = db.pool.begin().await?;
    for (account_id, t) in upserts {
        upsert_transaction(&mut tx, *account_id, t).await?;
    }
    let mut deleted = 0;
    for r in removed {
        deleted += sqlx::query(
            "DELETE FROM transactions WHERE external_id = $1 \
             AND account_id IN (SELECT id FROM accounts WHERE connection_id = $2)",
        )
        .bind(&r.external_id)
        .bind(connection_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    if let Some(cursor) = cursor {
        sqlx::query("UPDATE connections SET sync_cursor = $1 WHERE id = $2")
            .bind(cursor)
            .bind(connection_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(deleted)
}

/// Marks connections whose consent ends before `before` (epoch ms) as needing the
/// user to re-authorize; returns their ids.
pub async fn expire_consents(db: &Db, before: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE connections SET status = 'requires_reauth' WHERE consent_expires_at IS NOT NULL \
         AND consent_expires_at < $1 AND status <> 'requires_reauth' RETURNING id",
    )
    .bind(before)
    .fetch_all(&db.pool)
    .await
}
