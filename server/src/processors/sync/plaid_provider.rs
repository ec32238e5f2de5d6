//! Plaid (<https://plaid.com/docs/api/>): `/accounts/get` for the accounts and the
//! cursor-based `/transactions/sync` for the transactions, over HTTPS with the client id
//! and secret in the JSON body.
//!
//! A connection's `external_id` is the Item's access token. Plaid access tokens do not
//! expire and are useless without this deployment's client id and secret, so the token is
//! kept as the connection's handle instead of in a separate vault; it is never logged
//! (`ConnectionRef`'s `Debug` hides it) and the API does not show it. The limits of that
//! choice: whoever reads the database and also holds the secret can read the Item's data,
//! and a token rotated with `/item/access_token/invalidate` must be written back into
//! `connections.external_id` by whoever rotates it.
//!
//! Everything Plaid sends is bounded: an answer larger than [`MAX_RESPONSE_BYTES`] is
//! refused, cursors longer than [`MAX_CURSOR_BYTES`] too, and error texts are cut to
//! [`MAX_ERROR_TEXT`] characters before they reach logs and SQL. Every error names the
//! endpoint, Plaid's `error_code` and its `request_id` (what Plaid support asks for).

use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Number, json};

use super::provider::{
    ConnectionRef, Provider, ProviderAccount, ProviderError, ProviderTransaction, RemovedTransaction,
    SyncedTransaction, TransactionPage,
};
use crate::error::StartupError;

/// Transactions asked for per `/transactions/sync` page (Plaid's maximum).
pub const PAGE_SIZE: u32 = 500;
/// Larger answers are refused (a full page of 500 transactions is about 1 MiB).
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;
/// Plaid's cursors are a few hundred bytes; a longer one is not stored.
pub const MAX_CURSOR_BYTES: usize = 4096;
/// Plaid's `error_message` is cut to this many characters in our errors.
pub const MAX_ERROR_TEXT: usize = 300;
/// How long a rate-limited sync waits when Plaid does not say (`Retry-After`): Plaid's
/// limits are per Item and minute.
pub const RATE_LIMIT_BACKOFF: Duration = Duration::from_secs(60);
/// The longest `Retry-After` honoured.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// The API version the response shapes here follow (Plaid pins per request with it).
const PLAID_VERSION: &str = "2020-09-14";

/// Plaid's environments, each its own host.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PlaidEnv {
    #[default]
    Sandbox,
    Development,
    Production,
}

impl PlaidEnv {
    pub fn base_url(self) -> &'static str {
        match self {
            PlaidEnv::Sandbox => "https://sandbox.plaid.com",
            PlaidEnv::Development => "https://development.plaid.com",
            PlaidEnv::Production => "https://production.plaid.com",
        }
    }
}

/// What the provider needs to talk to Plaid.
#[derive(Clone)]
pub struct PlaidSettings {
    pub client_id: String,
    pub secret: String,
    /// `https://{env}.plaid.com`, or a test server.
    pub base_url: String,
    /// Per request, the answer's body included.
    pub timeout: Duration,
}

pub struct PlaidProvider {
    client: reqwest::Client,
    base_url: String,
    client_id: String,
    secret: String,
    timeout: Duration,
}

impl PlaidProvider {
    pub fn new(settings: PlaidSettings) -> Result<Self, StartupError> {
        let invalid = |variable, reason: String| StartupError::Invalid { variable, reason };
        let url = reqwest::Url::parse(&settings.base_url).map_err(|e| invalid("PLAID_BASE_URL", e.to_string()))?;
        if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
            return Err(invalid("PLAID_BASE_URL", format!("{url} is not an http(s) URL with a host")));
        }
        if settings.timeout.is_zero() {
            return Err(invalid("PLAID_TIMEOUT_SECS", "must be at least 1".into()));
        }
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("hoist/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| invalid("PLAID_BASE_URL", e.to_string()))?;
        Ok(PlaidProvider {
            client,
            base_url: settings.base_url.trim_end_matches('/').to_string(),
            client_id: settings.client_id,
            secret: settings.secret,
            timeout: settings.timeout,
        })
    }

    /// POSTs `body` (with the credentials added) to `path` and decodes a success answer.
    async fn post<T: DeserializeOwned>(&self, path: &str, mut body: serde_json::Value) -> Result<T, ProviderError> {
        body["client_id"] = json!(self.client_id);
        body["secret"] = json!(self.secret);
        let response = self
            .client
            .post(format!("{}{path}", self.base_url))
            .header("Plaid-Version", PLAID_VERSION)
            .json(&body)
            .send()
            .await
            .map_err(|e| self.transport_error(path, e))?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let bytes = self.read_capped(path, response).await?;
        if !status.is_success() {
            return Err(classify(path, status, retry_after, &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            ProviderError::Malformed(format!(
                "Plaid {path}: unexpected answer ({e}) [request_id {}]",
                request_id_of(&bytes).as_deref().unwrap_or("unknown")
            ))
        })
    }

    /// The body, refused once it passes [`MAX_RESPONSE_BYTES`].
    async fn read_capped(&self, path: &str, mut response: reqwest::Response) -> Result<Vec<u8>, ProviderError> {
        let too_large = || {
            ProviderError::Malformed(format!(
                "Plaid {path}: the answer is larger than {} MiB",
                MAX_RESPONSE_BYTES / (1024 * 1024)
            ))
        };
        if response.content_length().is_some_and(|n| n > MAX_RESPONSE_BYTES as u64) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.transport_error(path, e))? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn transport_error(&self, path: &str, e: reqwest::Error) -> ProviderError {
        if e.is_timeout() {
            ProviderError::Timeout(format!("Plaid {path}: no answer within {} s", self.timeout.as_secs_f64()))
        } else {
            // No Plaid error body, so no error_code or request_id to name.
            ProviderError::Unavailable(format!("Plaid {path}: {}", error_chain(&e)))
        }
    }
}

/// `e` and its sources (reqwest's own text is only "error sending request").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `Retry-After` in seconds (the HTTP-date form is not used by Plaid and is ignored).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER))
}

fn cut(text: &str) -> String {
    match text.char_indices().nth(MAX_ERROR_TEXT) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

fn request_id_of(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct WithId {
        request_id: Option<String>,
    }
    serde_json::from_slice::<WithId>(body).ok()?.request_id.map(|id| cut(&id))
}

/// Plaid's error body (<https://plaid.com/docs/errors/>).
#[derive(Deserialize)]
struct PlaidErrorBody {
    error_type: Option<String>,
    error_code: Option<String>,
    error_message: Option<String>,
    request_id: Option<String>,
}

/// Item errors only the user can clear, by logging in again or granting access again in
/// Link's update mode.
const REAUTH_CODES: &[&str] = &[
    "ITEM_LOGIN_REQUIRED",
    "PENDING_EXPIRATION",
    "PENDING_DISCONNECT",
    "ACCESS_NOT_GRANTED",
    "USER_PERMISSION_REVOKED",
    "USER_ACCOUNT_REVOKED",
    "INVALID_ACCESS_TOKEN",
    "ITEM_NOT_FOUND",
    "ITEM_LOCKED",
    "INSUFFICIENT_CREDENTIALS",
    "INVALID_CREDENTIALS",
    "INVALID_MFA",
    "INVALID_UPDATED_USERNAME",
    "USER_SETUP_REQUIRED",
    "NO_ACCOUNTS",
];

/// Codes that pass on their own: outages, maintenance, data not ready yet.
const TRANSIENT_CODES: &[&str] = &[
    "INTERNAL_SERVER_ERROR",
    "PLANNED_MAINTENANCE",
    "INSTITUTION_DOWN",
    "INSTITUTION_NOT_RESPONDING",
    "INSTITUTION_NOT_AVAILABLE",
    "PRODUCT_NOT_READY",
];

const MUTATION_DURING_PAGINATION: &str = "TRANSACTIONS_SYNC_MUTATION_DURING_PAGINATION";

/// What a failed answer means for the sync.
fn classify(path: &str, status: StatusCode, retry_after: Option<Duration>, body: &[u8]) -> ProviderError {
    let parsed = serde_json::from_slice::<PlaidErrorBody>(body)
        .ok()
        .filter(|e| e.error_code.is_some() || e.error_type.is_some());
    let Some(error) = parsed else {
        // A proxy or load balancer answered, not Plaid's API.
        let detail = format!("Plaid {path}: HTTP {status} without a Plaid error body");
        return if status == StatusCode::TOO_MANY_REQUESTS {
            ProviderError::RateLimited { retry_after: retry_after.unwrap_or(RATE_LIMIT_BACKOFF), detail }
        } else if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
            ProviderError::Unavailable(detail)
        } else {
            ProviderError::Rejected(detail)
        };
    };
    let code = error.error_code.as_deref().map(cut).unwrap_or_else(|| "no error_code".into());
    let kind = error.error_type.as_deref().map(cut).unwrap_or_else(|| "no error_type".into());
    let detail = format!(
        "Plaid {path}: {code} ({kind}, HTTP {}): {} [request_id {}]",
        status.as_u16(),
        error.error_message.as_deref().map(cut).unwrap_or_default(),
        error.request_id.as_deref().map(cut).as_deref().unwrap_or("unknown"),
    );
    if code == MUTATION_DURING_PAGINATION {
        ProviderError::MutatedDuringPagination(detail)
    } else if kind == "RATE_LIMIT_EXCEEDED" || status == StatusCode::TOO_MANY_REQUESTS {
        ProviderError::RateLimited { retry_after: retry_after.unwrap_or(RATE_LIMIT_BACKOFF), detail }
    } else if REAUTH_CODES.contains(&code.as_str()) {
        ProviderError::ReauthRequired(detail)
    } else if TRANSIENT_CODES.contains(&code.as_str())
        || kind == "API_ERROR"
        || (kind == "INSTITUTION_ERROR" && code != "INSTITUTION_NO_LONGER_SUPPORTED")
        || status.is_server_error()
    {
        ProviderError::Unavailable(detail)
    } else {
        // INVALID_REQUEST, INVALID_INPUT (wrong API keys among them), products not enabled:
        // the same request fails the same way again.
        ProviderError::Rejected(detail)
    }
}

/// Digits after the decimal point of an ISO 4217 currency's minor unit (2 unless listed).
fn minor_unit_digits(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX" | "UYI" | "VND"
        | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

/// A JSON number's decimal text (`12.34`, `-5.5`, `1e-7`) in units of 10^-`digits`,
/// rounded half away from zero; None when it does not fit an i64.
///
/// serde_json keeps a fractional number as the nearest f64 and prints it back as the
/// shortest text that reads back as the same f64, which for any decimal of up to 15
/// significant digits is that decimal itself: working on the text, not the f64, is what
/// keeps 0.29 from becoming 28 cents.
fn decimal_to_units(text: &str, digits: u32) -> Option<i64> {
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.strip_prefix('+').unwrap_or(e).parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if whole.is_empty() || !whole.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let all_digits = format!("{whole}{fraction}");
    let significant = all_digits.trim_start_matches('0');
    if significant.is_empty() {
        return Some(0);
    }
    if significant.len() > 30 {
        return None;
    }
    let value: i128 = significant.parse().ok()?;
    // value × 10^shift is the amount in minor units.
    let shift = i64::from(digits) + i64::from(exponent) - fraction.len() as i64;
    let units = if shift >= 0 {
        value.checked_mul(10i128.checked_pow(u32::try_from(shift).ok()?)?)?
    } else if -shift > 38 {
        0
    } else {
        let divisor = 10i128.pow((-shift) as u32);
        let (quotient, remainder) = (value / divisor, value % divisor);
        quotient + i128::from(remainder * 2 >= divisor)
    };
    let units = i64::try_from(units).ok()?;
    Some(if negative { -units } else { units })
}

/// Plaid's transaction amount (positive is money out of the account, in major units) as
/// ours: minor units, negative is money out.
pub fn plaid_amount_to_minor(amount: &Number, currency: &str) -> Option<i64> {
    decimal_to_units(&amount.to_string(), minor_unit_digits(currency)).and_then(i64::checked_neg)
}

/// A balance as Plaid reports it (for credit and loan accounts, the amount owed), in
/// minor units.
fn balance_to_minor(amount: &Number, currency: &str) -> Option<i64> {
    decimal_to_units(&amount.to_string(), minor_unit_digits(currency))
}

#[derive(Deserialize)]
struct AccountsResponse {
    accounts: Vec<PlaidAccount>,
    request_id: Option<String>,
}

#[derive(Deserialize)]
struct PlaidAccount {
    account_id: String,
    name: String,
    official_name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    subtype: Option<String>,
    balances: PlaidBalances,
}

#[derive(Deserialize)]
struct PlaidBalances {
    current: Option<Number>,
    available: Option<Number>,
    iso_currency_code: Option<String>,
    unofficial_currency_code: Option<String>,
}

#[derive(Deserialize)]
struct SyncResponse {
    added: Vec<PlaidTransaction>,
    modified: Vec<PlaidTransaction>,
    removed: Vec<PlaidRemoved>,
    next_cursor: String,
    has_more: bool,
    request_id: Option<String>,
}

#[derive(Deserialize)]
struct PlaidTransaction {
    transaction_id: String,
    account_id: String,
    amount: Number,
    iso_currency_code: Option<String>,
    unofficial_currency_code: Option<String>,
    /// The posting date (`YYYY-MM-DD`).
    date: String,
    /// When the institution gives a time (RFC 3339).
    datetime: Option<String>,
    name: Option<String>,
    merchant_name: Option<String>,
}

#[derive(Deserialize)]
struct PlaidRemoved {
    transaction_id: String,
}

/// ISO 4217 code, else Plaid's unofficial one (crypto); one of them is always set.
fn currency_of(iso: Option<String>, unofficial: Option<String>) -> Option<String> {
    iso.or(unofficial).filter(|c| !c.is_empty()).map(|c| cut(&c))
}

/// Epoch ms of the transaction: its time when known, else its date at 00:00 UTC.
fn booked_at(date: &str, datetime: Option<&str>) -> Option<i64> {
    if let Some(at) = datetime.and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok()) {
        return Some(at.timestamp_millis());
    }
    let day = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    Some(day.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

fn convert_transaction(t: PlaidTransaction, request_id: &str) -> Result<SyncedTransaction, ProviderError> {
    let malformed = |what: &str| {
        ProviderError::Malformed(format!(
            "Plaid /transactions/sync: transaction {} {what} [request_id {request_id}]",
            cut(&t.transaction_id)
        ))
    };
    let currency = currency_of(t.iso_currency_code.clone(), t.unofficial_currency_code.clone())
        .ok_or_else(|| malformed("has no currency"))?;
    let amount = plaid_amount_to_minor(&t.amount, &currency)
        .ok_or_else(|| malformed(&format!("has an amount out of range ({})", t.amount)))?;
    let booked_at = booked_at(&t.date, t.datetime.as_deref())
        .ok_or_else(|| malformed(&format!("has a bad date {:?}", cut(&t.date))))?;
    Ok(SyncedTransaction {
        account_external_id: t.account_id,
        transaction: ProviderTransaction {
            external_id: t.transaction_id,
            amount,
            currency,
            description: t.name.or_else(|| t.merchant_name.clone()).unwrap_or_default(),
            merchant: t.merchant_name,
            booked_at,
        },
    })
}

#[async_trait::async_trait]
impl Provider for PlaidProvider {
    fn name(&self) -> &str {
        "plaid"
    }

    async fn accounts(&self, connection: &ConnectionRef) -> Result<Vec<ProviderAccount>, ProviderError> {
        const PATH: &str = "/accounts/get";
        let answer: AccountsResponse = self.post(PATH, json!({ "access_token": connection.external_id })).await?;
        let request_id = answer.request_id.as_deref().map(cut).unwrap_or_else(|| "unknown".into());
        answer
            .accounts
            .into_iter()
            .map(|a| {
                let malformed = |what: &str| {
                    ProviderError::Malformed(format!(
                        "Plaid {PATH}: account {} {what} [request_id {request_id}]",
                        cut(&a.account_id)
                    ))
                };
                let currency =
                    currency_of(a.balances.iso_currency_code.clone(), a.balances.unofficial_currency_code.clone())
                        .ok_or_else(|| malformed("has no currency"))?;
                let balance = match a.balances.current.as_ref().or(a.balances.available.as_ref()) {
                    Some(amount) => {
                        balance_to_minor(amount, &currency).ok_or_else(|| malformed("has a balance out of range"))?
                    }
                    None => 0,
                };
                Ok(ProviderAccount {
                    name: a.official_name.clone().filter(|_| a.name.is_empty()).unwrap_or_else(|| a.name.clone()),
                    kind: a.subtype.clone().or_else(|| a.kind.clone()).unwrap_or_else(|| "other".into()),
                    external_id: a.account_id,
                    currency,
                    balance,
                })
            })
            .collect()
    }

    async fn sync_transactions(
        &self,
        connection: &ConnectionRef,
        cursor: Option<&str>,
    ) -> Result<TransactionPage, ProviderError> {
        const PATH: &str = "/transactions/sync";
        let mut body = json!({ "access_token": connection.external_id, "count": PAGE_SIZE });
        if let Some(cursor) = cursor.filter(|c| !c.is_empty()) {
            body["cursor"] = json!(cursor);
        }
        let answer: SyncResponse = self.post(PATH, body).await?;
        let request_id = answer.request_id.as_deref().map(cut).unwrap_or_else(|| "unknown".into());
        if answer.next_cursor.len() > MAX_CURSOR_BYTES {
            return Err(ProviderError::Malformed(format!(
                "Plaid {PATH}: next_cursor of {} bytes (at most {MAX_CURSOR_BYTES}) [request_id {request_id}]",
                answer.next_cursor.len()
            )));
        }
        let convert = |list: Vec<PlaidTransaction>| {
            list.into_iter().map(|t| convert_transaction(t, &request_id)).collect::<Result<Vec<_>, _>>()
        };
        Ok(TransactionPage {
            added: convert(answer.added)?,
            modified: convert(answer.modified)?,
            removed: answer.removed.into_iter().map(|r| RemovedTransaction { external_id: r.transaction_id }).collect(),
            next_cursor: answer.next_cursor,
            has_more: answer.has_more,
            done: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(text: &str) -> Number {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn amounts_become_minor_units_with_the_sign_turned() {
        let minor = |text: &str, currency: &str| plaid_amount_to_minor(&number(text), currency);
        assert_eq!(minor("12.34", "USD"), Some(-1234));
        assert_eq!(minor("-5.5", "USD"), Some(550));
        assert_eq!(minor("0.29", "USD"), Some(-29), "0.29 is 0.28999… as an f64");
        assert_eq!(minor("1.005", "USD"), Some(-101), "half away from zero");
        assert_eq!(minor("-1.005", "USD"), Some(101));
        assert_eq!(minor("4.3", "USD"), Some(-430));
        assert_eq!(minor("100", "USD"), Some(-10000));
        assert_eq!(minor("0", "USD"), Some(0));
        assert_eq!(minor("1500", "JPY"), Some(-1500));
        assert_eq!(minor("1.234", "KWD"), Some(-1234));
        assert_eq!(minor("123456789.99", "USD"), Some(-12345678999));
        assert_eq!(minor("1e-7", "USD"), Some(0));
        assert_eq!(minor("1.5e2", "USD"), Some(-15000));
        assert_eq!(minor("1e300", "USD"), None, "out of range is refused, not saturated");
        for cents in 0..100_000i64 {
            let text = format!("{}.{:02}", cents / 100, cents % 100);
            assert_eq!(minor(&text, "USD"), Some(-cents), "{text}");
        }
    }

    #[test]
    fn decimal_text_is_validated() {
        assert_eq!(decimal_to_units("abc", 2), None);
        assert_eq!(decimal_to_units(".5", 2), None);
        assert_eq!(decimal_to_units("1.2.3", 2), None);
        assert_eq!(decimal_to_units("92233720368547758.07", 2), Some(i64::MAX));
        assert_eq!(decimal_to_units("92233720368547758.08", 2), None);
    }

    #[test]
    fn plaid_errors_map_to_what_the_sync_does() {
        let body = |kind: &str, code: &str| {
            json!({
                "error_type": kind, "error_code": code, "error_message": "the message",
                "display_message": null, "request_id": "req-1"
            })
            .to_string()
            .into_bytes()
        };
        let bad = StatusCode::BAD_REQUEST;
        let e = classify("/transactions/sync", bad, None, &body("ITEM_ERROR", "ITEM_LOGIN_REQUIRED"));
        assert!(matches!(e, ProviderError::ReauthRequired(_)), "{e}");
        let text = e.to_string();
        assert!(text.contains("ITEM_LOGIN_REQUIRED") && text.contains("req-1") && text.contains("/transactions/sync"));
        for code in ["ACCESS_NOT_GRANTED", "USER_PERMISSION_REVOKED", "PENDING_EXPIRATION"] {
            assert!(classify("/x", bad, None, &body("ITEM_ERROR", code)).needs_reauth(), "{code}");
        }
        assert!(classify("/x", bad, None, &body("INVALID_INPUT", "INVALID_ACCESS_TOKEN")).needs_reauth());

        let limited = classify(
            "/x",
            StatusCode::TOO_MANY_REQUESTS,
            Some(Duration::from_secs(7)),
            &body("RATE_LIMIT_EXCEEDED", "TRANSACTIONS_SYNC_LIMIT"),
        );
        assert!(
            matches!(limited, ProviderError::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(7))
        );
        let limited = classify("/x", StatusCode::TOO_MANY_REQUESTS, None, &body("RATE_LIMIT_EXCEEDED", "RATE_LIMIT"));
        assert!(matches!(limited, ProviderError::RateLimited { retry_after, .. } if retry_after == RATE_LIMIT_BACKOFF));

        let server = StatusCode::INTERNAL_SERVER_ERROR;
        for (kind, code) in [
            ("API_ERROR", "INTERNAL_SERVER_ERROR"),
            ("API_ERROR", "PLANNED_MAINTENANCE"),
            ("INSTITUTION_ERROR", "INSTITUTION_DOWN"),
            ("INSTITUTION_ERROR", "INSTITUTION_NOT_RESPONDING"),
        ] {
            assert!(matches!(classify("/x", server, None, &body(kind, code)), ProviderError::Unavailable(_)), "{code}");
        }
        assert!(matches!(classify("/x", StatusCode::BAD_GATEWAY, None, b"<html>"), ProviderError::Unavailable(_)));
        let mutated = classify("/x", bad, None, &body("TRANSACTIONS_ERROR", MUTATION_DURING_PAGINATION));
        assert!(matches!(mutated, ProviderError::MutatedDuringPagination(_)));
        for (kind, code) in [
            ("INVALID_REQUEST", "MISSING_FIELDS"),
            ("INVALID_INPUT", "INVALID_API_KEYS"),
            ("INSTITUTION_ERROR", "INSTITUTION_NO_LONGER_SUPPORTED"),
        ] {
            assert!(matches!(classify("/x", bad, None, &body(kind, code)), ProviderError::Rejected(_)), "{code}");
        }
        assert!(matches!(classify("/x", bad, None, b"not json"), ProviderError::Rejected(_)));
    }

    #[test]
    fn long_error_texts_are_cut() {
        let long = "é".repeat(10_000);
        let body = json!({ "error_type": "API_ERROR", "error_code": "INTERNAL_SERVER_ERROR", "error_message": long,
            "request_id": "r" });
        let e = classify("/x", StatusCode::INTERNAL_SERVER_ERROR, None, body.to_string().as_bytes());
        assert!(e.to_string().chars().count() < MAX_ERROR_TEXT + 200, "{}", e.to_string().len());
    }

    #[test]
    fn dates_prefer_the_time_when_given() {
        assert_eq!(booked_at("2024-02-03", None), Some(1_706_918_400_000));
        assert_eq!(booked_at("2024-02-03", Some("2024-02-03T11:00:00Z")), Some(1_706_958_000_000));
        assert_eq!(booked_at("2024-02-03", Some("garbage")), Some(1_706_918_400_000));
        assert_eq!(booked_at("03/02/2024", None), None);
    }

    #[test]
    fn settings_are_checked() {
        let settings = |base_url: &str, timeout| PlaidSettings {
            client_id: "id".into(),
            secret: "secret".into(),
            base_url: base_url.into(),
            timeout: Duration::from_secs(timeout),
        };
        assert!(PlaidProvider::new(settings("https://sandbox.plaid.com", 30)).is_ok());
        let err = PlaidProvider::new(settings("ftp://x", 30)).err().unwrap().to_string();
        assert!(err.starts_with("PLAID_BASE_URL:"), "{err}");
        let err = PlaidProvider::new(settings("https://sandbox.plaid.com", 0)).err().unwrap().to_string();
        assert!(err.starts_with("PLAID_TIMEOUT_SECS:"), "{err}");
        assert_eq!(PlaidEnv::Production.base_url(), "https://production.plaid.com");
    }
}
