//! A provider that makes up plausible accounts and transactions, the same ones every
//! time for a connection (so a re-sync updates instead of adding), with a realistic delay
//! and faults injected on demand: 429, 503, timeouts, 401 and malformed data.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::time::Duration;

use super::provider::{ConnectionRef, Provider, ProviderAccount, ProviderError, ProviderTransaction};

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
            Fault::RateLimited => ProviderError::RateLimited { retry_after: Duration::from_millis(200) },
            Fault::Unavailable => ProviderError::Unavailable("503 Service Unavailable".into()),
            Fault::Timeout => ProviderError::Timeout,
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
    /// through and fails the first transactions call.
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

#[async_trait::async_trait]
impl Provider for DemoProvider {
    fn name(&self) -> &str {
        "demo"
    }

    async fn accounts(&self, connection: &ConnectionRef) -> Result<Vec<ProviderAccount>, ProviderError> {
        self.call(connection).await?;
        let n = 2 + seed(&[&connection.external_id]) % 2;
        Ok((0..n)
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
            .collect())
    }

    async fn transactions(
        &self,
        connection: &ConnectionRef,
        account_external_id: &str,
    ) -> Result<Vec<ProviderTransaction>, ProviderError> {
        self.call(connection).await?;
        let n = 15 + seed(&[account_external_id]) % 30;
        let day = 86_400_000i64;
        let base = 1_767_225_600_000i64; // 2026-01-01
        Ok((0..n)
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
            .collect())
    }
}
