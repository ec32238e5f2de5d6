//! Where notifications go: email over SMTP (lettre), push and SMS to HTTP webhooks
//! (reqwest); with nothing configured, into an outbox folder as files, so a fresh install
//! shows real output. Each failure is classified for the engine: worth retrying (4xx
//! SMTP replies, timeouts, connection errors, HTTP 408/429/5xx) or permanent (5xx SMTP
//! replies, other HTTP 4xx), which sends the job to the dead-letter queue with the reply.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hoist_queue::JobError;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::error::StartupError;

/// How a notification was delivered: `smtp`, `webhook` or `outbox`, and the server's
/// reply or the file written.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    pub via: &'static str,
    pub detail: String,
}

pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(PathBuf),
}

impl Mailer {
    /// SMTP when `smtp_url` is set (`smtp://`, `smtps://`, with credentials and
    /// `?tls=required` as lettre reads them), else the outbox folder.
    pub fn new(smtp_url: Option<&str>, outbox: &Path) -> Result<Self, StartupError> {
        match smtp_url.map(str::trim).filter(|u| !u.is_empty()) {
            Some(url) => {
                let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| StartupError::Invalid { variable: "SMTP_URL", reason: e.to_string() })?;
                Ok(Mailer::Smtp(builder.timeout(Some(Duration::from_secs(20))).build()))
            }
            None => Ok(Mailer::Outbox(outbox.to_path_buf())),
        }
    }

    /// Sends `message`; `file_stem` names the outbox file (the job id, so a retried job
    /// overwrites instead of adding a second file).
    pub async fn send(&self, message: Message, file_stem: &str) -> Result<Delivery, JobError> {
        match self {
            Mailer::Smtp(transport) => match transport.send(message).await {
                Ok(response) => Ok(Delivery { via: "smtp", detail: response.message().collect::<Vec<_>>().join(" ") }),
                Err(e) if e.is_permanent() => {
                    Err(JobError::permanent(format!("SMTP server rejected the message: {e}")))
                }
                Err(e) => Err(JobError::retryable(format!("SMTP delivery failed, will retry: {e}"))),
            },
            Mailer::Outbox(dir) => {
                let path = dir.join(format!("{file_stem}.eml"));
                write_file(&path, &message.formatted()).await?;
                Ok(Delivery { via: "outbox", detail: path.display().to_string() })
            }
        }
    }
}

pub enum Webhook {
    Http { client: reqwest::Client, url: String },
    Outbox(PathBuf),
}

impl Webhook {
    pub fn new(variable: &'static str, url: Option<&str>, outbox: &Path) -> Result<Self, StartupError> {
        match url.map(str::trim).filter(|u| !u.is_empty()) {
            Some(url) => {
                reqwest::Url::parse(url).map_err(|e| StartupError::Invalid { variable, reason: e.to_string() })?;
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(15))
                    .build()
                    .map_err(|e| StartupError::Invalid { variable, reason: e.to_string() })?;
                Ok(Webhook::Http { client, url: url.to_string() })
            }
            None => Ok(Webhook::Outbox(outbox.to_path_buf())),
        }
    }

    /// Whether notifications go to a URL (not the outbox folder).
    pub fn is_configured(&self) -> bool {
        matches!(self, Webhook::Http { .. })
    }

    /// Posts `body` as JSON (or writes it to the outbox as `file_stem.json`).
    pub async fn send(&self, body: &serde_json::Value, file_stem: &str) -> Result<Delivery, JobError> {
        match self {
            Webhook::Http { client, url } => {
                let response = client
                    .post(url)
                    .json(body)
                    .send()
                    .await
                    // Without the URL: a webhook's URL is often its secret (Slack's are).
                    .map_err(|e| {
                        JobError::retryable(format!("webhook unreachable, will retry: {}", e.without_url()))
                    })?;
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                let reply = format!("{status} {}", text.chars().take(300).collect::<String>());
                if status.is_success() {
                    Ok(Delivery { via: "webhook", detail: reply })
                } else if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
                    Err(JobError::retryable(format!("webhook answered {reply}, will retry")))
                } else {
                    Err(JobError::permanent(format!("webhook rejected the notification: {reply}")))
                }
            }
            Webhook::Outbox(dir) => {
                let path = dir.join(format!("{file_stem}.json"));
                write_file(&path, serde_json::to_string_pretty(body).unwrap_or_default().as_bytes()).await?;
                Ok(Delivery { via: "outbox", detail: path.display().to_string() })
            }
        }
    }
}

async fn write_file(path: &Path, contents: &[u8]) -> Result<(), JobError> {
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| JobError::retryable(format!("cannot create outbox {}: {e}", dir.display())))?;
    }
    tokio::fs::write(path, contents)
        .await
        .map_err(|e| JobError::retryable(format!("cannot write {}: {e}", path.display())))
}
