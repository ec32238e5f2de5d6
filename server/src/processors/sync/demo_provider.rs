//! A provider that makes up plausible accounts and transactions, the same ones every
//! time for a connection (so a re-sync updates instead of adding), with a realistic delay
//! and faults injected on demand: 429, 503, timeouts, 401 and malformed data.
//!
//! It emulates a cursor-based change feed: one page per account, the cursor naming the
//! pass and the next account (`demo:PASS:ACCOUNT`). The first pass delivers everything as
//! added; once a pass is through, the next sync delivers it all again as modified (the
//! demo has no real changes to report, and the dashboard should still see syncs work).

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::time::Duration;

use super::provider::{
    ConnectionRef, Provider, ProviderAccount, ProviderError, ProviderTransaction, SyncedTransaction, TransactionPage,
};

/// A failure to inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    RateLimited,
    Unavailable,
    Timeout,
    Unauthorized,
    Malformed,
}

impl Fault {
    pub fn parse(text: &str) -> Option<Fault> {
        match text {
            "429" | "rate_limited" => Some(Fault::RateLimited),
            "503" | "unavailable" => Some(Fault::Unavailable),
            "timeout" => Some(Fault::Timeout),
            "401" | "unauthorized" => Some(Fault::Unauthorized),
            "malformed" => Some(Fault::Malformed),
            _ => None,
        }
    }

    fn error(self) -> ProviderError {
        match self {
            Fault::RateLimited => ProviderError::RateLimited {
                retry_after: Duration::from_millis(200),
                detail: "demo provider: too many requests".into(),
            },
            Fault::Unavailable => ProviderError::Unavailable("503 Service Unavailable".into()),
            Fault::Timeout => ProviderError::Timeout("demo provider: no answer".into()),
            Fault::Unauthorized => ProviderError::Unauthorized("consent revoked".into()),
            Fault::Malformed => ProviderError::Malformed("transaction without an amount".into()),
        }
    }
}

pub struct DemoProvider {
    latency: Duration,
    /// Share of calls that fail at random (429, 503 or a timeout), for the demo.
    fault_rate: f64,
    /// What the next calls for a connection (by external id) do, in order: `None`
    /// answers normally, `Some` fails.
    plan: Mutex<HashMap<String, Vec<Option<Fault>>>>,
}

const MERCHANTS: &[(&str, &str)] = &[
    ("Nomin Supermarket", "groceries"),
    ("Emart", "groceries"),
    ("Shell", "fuel"),
    ("Uber", "transport"),
    ("Netflix", "subscriptions"),
    ("Spotify", "subscriptions"),
    ("Cafe Bene", "eating out"),
    ("Payroll ACME LLC", "income"),
    ("City Power", "utilities"),
    ("Rent", "housing"),
];

impl DemoProvider {
    /// `latency` per provider call (the demo uses ~150 ms; tests none).
    pub fn new(latency: Duration) -> Self {
        DemoProvider { latency, fault_rate: 0.0, plan: Mutex::default() }
    }

    /// Also fails this share of calls at random (0.0–1.0) with a fault worth retrying.
    /// Connections whose external id contains `revoked` always answer 401.
    pub fn with_random_faults(mut self, rate: f64) -> Self {
        self.fault_rate = rate.clamp(0.0, 1.0);
        self
    }

    /// Scripts the next calls for this connection, one entry per call: `None` answers,
    /// `Some(fault)` fails. E.g. `[None, Some(Fault::Unavailable)]` lets the accounts
    /// through and fails the first transactions page.
    pub fn inject(&self, external_id: &str, plan: &[Option<Fault>]) {
        self.plan.lock().expect("plan").entry(external_id.to_string()).or_default().extend(plan);
    }

    async fn call(&self, connection: &ConnectionRef) -> Result<(), ProviderError> {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        let fault = {
            let mut plan = self.plan.lock().expect("plan");
            plan.get_mut(&connection.external_id)
                .and_then(|steps| (!steps.is_empty()).then(|| steps.remove(0)))
                .flatten()
        };
        let fault = fault.or_else(|| {
            if self.fault_rate == 0.0 {
                return None;
            }
            if connection.external_id.contains("revoked") {
                return Some(Fault::Unauthorized);
            }
            let roll: f64 = rand::random();
            (roll < self.fault_rate)
                .then(|| [Fault::Unavailable, Fault::RateLimited, Fault::Timeout][(roll * 1000.0) as usize % 3])
        });
        match fault {
            Some(Fault::Timeout) => {
                // A timeout takes its time.
                tokio::time::sleep(self.latency * 4).await;
                Err(Fault::Timeout.error())
            }
            Some(fault) => Err(fault.error()),
            None => Ok(()),
        }
    }
}

fn seed(parts: &[&str]) -> u64 {
    let mut hasher = DefaultHasher::new();
    parts.hash(&mut hasher);
    hasher.finish()
}

fn demo_accounts(connection: &ConnectionRef) -> Vec<ProviderAccount> {
    let n = 2 + seed(&[&connection.external_id]) % 2;
    (0..n)
        .map(|i| {
            let kind = ["checking", "savings", "credit"][i as usize % 3];
            ProviderAccount {
                external_id: format!("{}-acc-{i}", connection.external_id),
                name: format!("{} {kind}", connection.institution),
                kind: kind.to_string(),
                currency: "MNT".into(),
                balance: (seed(&[&connection.external_id, kind]) % 10_000_000) as i64 * 100,
            }
        })
        .collect()
}

fn demo_transactions(account_external_id: &str) -> Vec<ProviderTransaction> {
    let n = 15 + seed(&[account_external_id]) % 30;
    let day = 86_400_000i64;
    let base = 1_767_225_600_000i64; // 2026-01-01
    (0..n)
        .map(|i| {
            let s = seed(&[account_external_id, &i.to_string()]);
            let (merchant, category) = MERCHANTS[(s % MERCHANTS.len() as u64) as usize];
            let amount = if category == "income" { 250_000_000 } else { -((s % 20_000_000) as i64 + 50_000) };
            ProviderTransaction {
                external_id: format!("{account_external_id}-tx-{i}"),
                amount,
                currency: "MNT".into(),
                description: format!("{} {}", merchant.to_uppercase(), i),
                merchant: Some(merchant.to_string()),
                booked_at: base + (i as i64) * day / 2,
            }
        })
        .collect()
}

/// `demo:PASS:ACCOUNT` → (pass, account index); no cursor is the first pass's start.
fn parse_cursor(cursor: Option<&str>) -> Result<(u64, usize), ProviderError> {
    let Some(cursor) = cursor.filter(|c| !c.is_empty()) else { return Ok((0, 0)) };
    let parsed = cursor.strip_prefix("demo:").and_then(|rest| {
        let (pass, account) = rest.split_once(':')?;
        Some((pass.parse().ok()?, account.parse().ok()?))
    });
    parsed.ok_or_else(|| {
        ProviderError::Rejected(format!(
            "demo provider: unknown cursor {:?}",
            cursor.chars().take(40).collect::<String>()
        ))
    })
}

#[async_trait::async_trait]
impl Provider for DemoProvider {
    fn name(&self) -> &str {
        "demo"
    }

    async fn accounts(&self, connection: &ConnectionRef) -> Result<Vec<ProviderAccount>, ProviderError> {
        self.call(connection).await?;
        Ok(demo_accounts(connection))
    }

    async fn sync_transactions(
        &self,
        connection: &ConnectionRef,
        cursor: Option<&str>,
    ) -> Result<TransactionPage, ProviderError> {
        let (pass, index) = parse_cursor(cursor)?;
        self.call(connection).await?;
        let accounts = demo_accounts(connection);
        let Some(account) = accounts.get(index) else {
            return Err(ProviderError::Rejected(format!("demo provider: cursor past the last account ({index})")));
        };
        let page: Vec<SyncedTransaction> = demo_transactions(&account.external_id)
            .into_iter()
            .map(|transaction| SyncedTransaction { account_external_id: account.external_id.clone(), transaction })
            .collect();
        let has_more = index + 1 < accounts.len();
        let next_cursor = if has_more { format!("demo:{pass}:{}", index + 1) } else { format!("demo:{}:0", pass + 1) };
        let (added, modified) = if pass == 0 { (page, vec![]) } else { (vec![], page) };
        Ok(TransactionPage {
            added,
            modified,
            removed: vec![],
            next_cursor,
            has_more,
            done: Some((index + 1) as f64 / accounts.len() as f64),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection() -> ConnectionRef {
        ConnectionRef { id: 1, external_id: "bank-a".into(), institution: "Golomt".into(), provider: "demo".into() }
    }

    #[tokio::test]
    async fn pages_through_the_accounts_and_then_reports_them_modified() {
        let demo = DemoProvider::new(Duration::ZERO);
        let c = connection();
        let accounts = demo.accounts(&c).await.unwrap();
        let mut cursor = None;
        let mut seen = vec![];
        loop {
            let page = demo.sync_transactions(&c, cursor.as_deref()).await.unwrap();
            assert!(page.modified.is_empty() && !page.added.is_empty());
            seen.push(page.added[0].account_external_id.clone());
            cursor = Some(page.next_cursor);
            if !page.has_more {
                assert_eq!(page.done, Some(1.0));
                break;
            }
        }
        let ids: Vec<String> = accounts.iter().map(|a| a.external_id.clone()).collect();
        assert_eq!(seen, ids, "one page per account, in order");
        let again = demo.sync_transactions(&c, cursor.as_deref()).await.unwrap();
        assert!(again.added.is_empty() && !again.modified.is_empty(), "a later pass re-delivers as modified");
        assert!(matches!(demo.sync_transactions(&c, Some("nonsense")).await, Err(ProviderError::Rejected(_))));
    }
}
