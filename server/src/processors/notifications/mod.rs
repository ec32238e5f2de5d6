//! Notifications: sign-in notices and plain emails over SMTP, push and SMS through
//! webhooks; each falls back to an outbox folder when its transport is not configured.
//! An example of the handler API: the payload is typed, failures say whether a retry
//! can help, and addresses are masked in every log line.

pub mod mask;
pub mod templates;
pub mod transport;

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use hoist_queue::{JobContext, JobError, JobResult, handler_fn};
use lettre::Message;
use lettre::message::{Mailbox, MultiPart};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use self::mask::{mask_email, mask_phone};
use self::transport::{Delivery, Mailer, Webhook};
use super::Registry;
use crate::alerts::notice::{AlertNotice, WebhookFormat};
use crate::error::StartupError;

/// The notifications queue unless `HOIST_NOTIFICATIONS_QUEUE` names another
/// ([`super::QueueNames`]).
pub const DEFAULT_QUEUE: &str = "notifications";
pub const SIGN_IN_NOTICE: &str = "sign-in-notice";
pub const EMAIL: &str = "email";
pub const PUSH: &str = "push";
pub const SMS: &str = "sms";

/// Notifications per user per hour; the next is refused with 429 until the oldest ages out.
pub const MAX_PER_USER_PER_HOUR: u32 = 10;

/// Where notifications go.
#[derive(Args, Clone, Debug, Default)]
pub struct NotifyConfig {
    /// SMTP server for email, e.g. `smtps://user:pass@mail.example.com` or
    /// `smtp://127.0.0.1:2525`. Unset: emails are written to the outbox folder.
    #[arg(long, env = "SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// Sender of every email.
    #[arg(long, env = "HOIST_MAIL_FROM", default_value = "Hoist <hoist@localhost>")]
    pub mail_from: String,

    /// URL push notifications are POSTed to as JSON. Unset: the outbox folder.
    #[arg(long, env = "HOIST_PUSH_WEBHOOK_URL")]
    pub push_webhook_url: Option<String>,

    /// URL SMS messages are POSTed to as JSON. Unset: the outbox folder.
    #[arg(long, env = "HOIST_SMS_WEBHOOK_URL")]
    pub sms_webhook_url: Option<String>,

    /// Folder for notifications no transport is configured for.
    #[arg(long, env = "HOIST_OUTBOX_DIR", default_value = "./data/outbox")]
    pub outbox_dir: std::path::PathBuf,

    /// Addresses alert notices are emailed to, comma-separated (none: no alert email).
    #[arg(long, env = "HOIST_ALERT_EMAILS", value_delimiter = ',')]
    pub alert_emails: Vec<String>,

    /// URL alert notices are POSTed to as JSON. Unset, and no alert emails: the outbox.
    #[arg(long, env = "HOIST_ALERT_WEBHOOK_URL")]
    pub alert_webhook_url: Option<String>,

    /// The alert webhook's body: `slack` (`{"text": ...}`, for Slack, Mattermost and
    /// other incoming webhooks) or `generic` (the notice's fields).
    #[arg(long, env = "HOIST_ALERT_WEBHOOK_FORMAT", value_enum, default_value = "generic")]
    pub alert_webhook_format: WebhookFormat,

    /// Seconds between alert evaluations (1 to 3,600).
    #[arg(long, env = "HOIST_ALERT_INTERVAL_SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub alert_interval_seconds: u64,

    /// Link in the "wasn't you?" warning.
    #[arg(long, env = "HOIST_SECURITY_URL", default_value = "http://127.0.0.1:3000/account/security")]
    pub security_url: String,
}

/// The transports, built once from the configuration.
pub struct Notifier {
    mailer: Mailer,
    from: Mailbox,
    push: Webhook,
    sms: Webhook,
    alert_to: Vec<Mailbox>,
    alert_webhook: Webhook,
    alert_format: WebhookFormat,
    security_url: String,
}

impl Notifier {
    pub fn new(config: &NotifyConfig) -> Result<Self, StartupError> {
        let from = config
            .mail_from
            .parse::<Mailbox>()
            .map_err(|e| StartupError::Invalid { variable: "HOIST_MAIL_FROM", reason: e.to_string() })?;
        Ok(Notifier {
            mailer: Mailer::new(config.smtp_url.as_deref(), &config.outbox_dir)?,
            from,
            push: Webhook::new("HOIST_PUSH_WEBHOOK_URL", config.push_webhook_url.as_deref(), &config.outbox_dir)?,
            sms: Webhook::new("HOIST_SMS_WEBHOOK_URL", config.sms_webhook_url.as_deref(), &config.outbox_dir)?,
            alert_to: config
                .alert_emails
                .iter()
                .map(|address| {
                    address.trim().parse::<Mailbox>().map_err(|e| StartupError::Invalid {
                        variable: "HOIST_ALERT_EMAILS",
                        reason: format!("{}: {e}", mask_email(address)),
                    })
                })
                .collect::<Result<_, _>>()?,
            alert_webhook: Webhook::new(
                "HOIST_ALERT_WEBHOOK_URL",
                config.alert_webhook_url.as_deref(),
                &config.outbox_dir,
            )?,
            alert_format: config.alert_webhook_format,
            security_url: config.security_url.clone(),
        })
    }
}

impl Notifier {
    /// Where alert notices go, one name per channel: `mail <address>` for each alert
    /// address, and `webhook` (the alert webhook, or the outbox when neither is set).
    pub fn alert_channels(&self) -> Vec<String> {
        let mut channels: Vec<String> = self.alert_to.iter().map(|to| format!("mail {}", to.email)).collect();
        if self.alert_to.is_empty() || self.alert_webhook.is_configured() {
            channels.push("webhook".into());
        }
        channels
    }

    /// Sends an alert notice through one of [`Self::alert_channels`].
    pub async fn send_alert_via(
        &self,
        notice: &AlertNotice,
        channel: &str,
        file_stem: &str,
    ) -> Result<Delivery, JobError> {
        match channel.strip_prefix("mail ") {
            Some(address) => {
                let to = self
                    .alert_to
                    .iter()
                    .find(|to| to.email.to_string() == address)
                    .ok_or_else(|| JobError::permanent(format!("{address} is no longer an alert address")))?;
                let message =
                    build(&self.from, to.clone(), &format!("[Hoist] {}", notice.title()), notice.text(), None)?;
                self.mailer.send(message, file_stem).await
            }
            None => self.alert_webhook.send(&notice.webhook_body(self.alert_format), file_stem).await,
        }
    }

    /// Sends an alert notice through every channel. The first failure is returned after
    /// trying the rest.
    pub async fn send_alert(&self, notice: &AlertNotice, file_stem: &str) -> Result<Vec<Delivery>, JobError> {
        let mut sent = vec![];
        let mut failed = None;
        for (i, channel) in self.alert_channels().iter().enumerate() {
            match self.send_alert_via(notice, channel, &format!("{file_stem}-{i}")).await {
                Ok(delivery) => sent.push(delivery),
                Err(e) => failed = failed.or(Some(e)),
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(sent),
        }
    }
}

/// A sign-in to tell the user about.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInNotice {
    /// The user signed in; notifications are limited per user.
    pub user_id: String,
    pub email: String,
    /// `en` or `mn` (others fall back to `en`).
    #[serde(default)]
    pub locale: Option<String>,
    /// When (epoch ms; default: when the notice was raised).
    #[serde(default)]
    pub at: Option<i64>,
    pub ip: String,
    #[serde(default)]
    pub user_agent: String,
    /// How they signed in: password, google, ...
    #[serde(default = "password")]
    pub provider: String,
    /// IANA time zone to show the time in (default UTC).
    #[serde(default)]
    pub timezone: Option<String>,
    /// The sign-in event's id: the same event raised twice sends one notice.
    #[serde(default)]
    pub event_id: Option<String>,
}

fn password() -> String {
    "password".into()
}

/// A plain email.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    #[serde(default)]
    pub html: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Push {
    pub user_id: String,
    pub device_token: String,
    pub title: String,
    pub body: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sms {
    pub user_id: String,
    pub phone: String,
    pub text: String,
}

/// Runs the notification jobs on `queue` (the configured notifications queue).
pub fn register(registry: &mut Registry, queue: &str, notifier: Arc<Notifier>) {
    let n = notifier.clone();
    registry.register(queue, SIGN_IN_NOTICE, handler_fn(move |ctx| sign_in_notice(n.clone(), ctx)));
    let n = notifier.clone();
    registry.register(queue, EMAIL, handler_fn(move |ctx| email(n.clone(), ctx)));
    let n = notifier.clone();
    registry.register(queue, PUSH, handler_fn(move |ctx| push(n.clone(), ctx)));
    let n = notifier.clone();
    registry.register(queue, SMS, handler_fn(move |ctx| sms(n.clone(), ctx)));
    registry.register(queue, crate::alerts::notice::JOB_NAME, handler_fn(move |ctx| alert(notifier.clone(), ctx)));
}

/// Retries with backoff and a time limit: how every notification is delivered.
pub fn delivery_options() -> hoist_queue::JobOptions {
    hoist_queue::JobOptions {
        max_attempts: 5,
        backoff: hoist_queue::Backoff::Exponential {
            base: Duration::from_secs(10),
            cap: Duration::from_secs(15 * 60),
            jitter: 0.2,
        },
        timeout: Some(Duration::from_secs(60)),
        ..Default::default()
    }
}

/// The job options a notification is enqueued with: retries with backoff, at most
/// [`MAX_PER_USER_PER_HOUR`] per user, and `dedup` so an event delivered twice sends once.
pub fn job_options(user_id: &str, dedup: Option<String>) -> hoist_queue::JobOptions {
    hoist_queue::JobOptions {
        dedup_key: dedup,
        owner: Some(user_id.to_string()),
        rate_limit: Some(hoist_queue::KeyRateLimit {
            key: format!("notify:user:{user_id}"),
            max: MAX_PER_USER_PER_HOUR,
            per: Duration::from_secs(3600),
        }),
        ..delivery_options()
    }
}

fn mailbox(address: &str) -> Result<Mailbox, JobError> {
    address.parse::<Mailbox>().map_err(|e| JobError::permanent(format!("invalid address {}: {e}", mask_email(address))))
}

fn build(from: &Mailbox, to: Mailbox, subject: &str, text: String, html: Option<String>) -> Result<Message, JobError> {
    let builder = Message::builder().from(from.clone()).to(to).subject(subject);
    let message = match html {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(text, html)),
        None => builder.body(text),
    };
    message.map_err(|e| JobError::permanent(format!("cannot build the message: {e}")))
}

async fn sign_in_notice(notifier: Arc<Notifier>, ctx: JobContext) -> JobResult {
    let notice: SignInNotice = ctx.payload()?;
    let locale = templates::pick_locale(notice.locale.as_deref());
    let context = json!({
        "app": "Hoist",
        "when": format_time(notice.at.unwrap_or(ctx.job().created_at), notice.timezone.as_deref()),
        "ip": notice.ip,
        "browser": describe_browser(&notice.user_agent),
        "provider": notice.provider,
        "security_url": notifier.security_url,
    });
    let mail = templates::render("sign_in", locale, &context)
        .map_err(|e| JobError::permanent(format!("template sign_in.{locale}: {e}")))?;
    let message = build(&notifier.from, mailbox(&notice.email)?, &mail.subject, mail.text, Some(mail.html))?;
    let delivery = notifier.mailer.send(message, &ctx.job().id).await?;
    tracing::info!(to = %mask_email(&notice.email), locale, via = delivery.via, "sign-in notice sent");
    Ok(json!({ "via": delivery.via, "detail": delivery.detail, "locale": locale }))
}

async fn email(notifier: Arc<Notifier>, ctx: JobContext) -> JobResult {
    let email: Email = ctx.payload()?;
    let message = build(&notifier.from, mailbox(&email.to)?, &email.subject, email.text, email.html)?;
    let delivery = notifier.mailer.send(message, &ctx.job().id).await?;
    tracing::info!(to = %mask_email(&email.to), via = delivery.via, "email sent");
    Ok(json!({ "via": delivery.via, "detail": delivery.detail }))
}

async fn push(notifier: Arc<Notifier>, ctx: JobContext) -> JobResult {
    let push: Push = ctx.payload()?;
    let body = json!({ "kind": "push", "device_token": push.device_token, "title": push.title, "body": push.body });
    let delivery = notifier.push.send(&body, &ctx.job().id).await?;
    tracing::info!(user = %push.user_id, via = delivery.via, "push notification sent");
    Ok(json!({ "via": delivery.via, "detail": delivery.detail }))
}

/// Each channel that took the notice is counted in the job's progress (`sent <digest of
/// the channel>`), so a retry after one channel failed sends only to the channels that
/// have not had it.
async fn alert(notifier: Arc<Notifier>, ctx: JobContext) -> JobResult {
    let notice: AlertNotice = ctx.payload()?;
    let mut progress = ctx.job().progress.clone().unwrap_or_default();
    let mut via = vec![];
    let mut failed = None;
    for (i, channel) in notifier.alert_channels().iter().enumerate() {
        // Named by a digest: progress is readable by staff, the addresses are not theirs.
        let done = format!("sent {}", &hex::encode(Sha256::digest(channel.as_bytes()))[..12]);
        if progress.counters.contains_key(&done) {
            continue;
        }
        match notifier.send_alert_via(&notice, channel, &format!("{}-{i}", ctx.job().id)).await {
            Ok(delivery) => {
                via.push(delivery.via);
                progress.counters.insert(done, 1);
                ctx.progress(progress.clone()).await.map_err(|e| JobError::retryable(e.to_string()))?;
            }
            Err(e) => failed = failed.or(Some(e)),
        }
    }
    if let Some(e) = failed {
        return Err(e);
    }
    tracing::info!(notice = %notice.title(), deliveries = via.len(), "alert notice sent");
    Ok(json!({ "via": via }))
}

async fn sms(notifier: Arc<Notifier>, ctx: JobContext) -> JobResult {
    let sms: Sms = ctx.payload()?;
    let body = json!({ "kind": "sms", "to": sms.phone, "text": sms.text });
    let delivery = notifier.sms.send(&body, &ctx.job().id).await?;
    tracing::info!(to = %mask_phone(&sms.phone), via = delivery.via, "sms sent");
    Ok(json!({ "via": delivery.via, "detail": delivery.detail }))
}

/// `2026-11-22 10:15 (Europe/Berlin)`; an unknown zone shows UTC.
pub fn format_time(at_ms: i64, timezone: Option<&str>) -> String {
    let utc = chrono::DateTime::from_timestamp_millis(at_ms).unwrap_or_default();
    match timezone.and_then(|z| z.parse::<chrono_tz::Tz>().ok()) {
        Some(zone) => format!("{} ({zone})", utc.with_timezone(&zone).format("%Y-%m-%d %H:%M")),
        None => format!("{} (UTC)", utc.format("%Y-%m-%d %H:%M")),
    }
}

/// "Firefox 120 on Linux" from a User-Agent header; good enough for a notice, no more.
pub fn describe_browser(user_agent: &str) -> String {
    let version = |marker: &str| {
        user_agent.split(marker).nth(1).map(|rest| rest.split(['.', ' ', ';', ')']).next().unwrap_or("").to_string())
    };
    let browser = if let Some(v) = version("Edg/") {
        format!("Edge {v}")
    } else if let Some(v) = version("OPR/") {
        format!("Opera {v}")
    } else if let Some(v) = version("Firefox/") {
        format!("Firefox {v}")
    } else if let Some(v) = version("Chrome/") {
        format!("Chrome {v}")
    } else if user_agent.contains("Safari/") {
        format!("Safari {}", version("Version/").unwrap_or_default()).trim().to_string()
    } else {
        return "an unknown browser".to_string();
    };
    let os = if user_agent.contains("Windows") {
        "Windows"
    } else if user_agent.contains("iPhone") || user_agent.contains("iPad") {
        "iOS"
    } else if user_agent.contains("Mac OS X") {
        "macOS"
    } else if user_agent.contains("Android") {
        "Android"
    } else if user_agent.contains("Linux") {
        "Linux"
    } else {
        return browser;
    };
    format!("{browser} on {os}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_are_described_briefly() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";
        assert_eq!(describe_browser(firefox), "Firefox 120 on Linux");
        let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
        assert_eq!(describe_browser(chrome), "Chrome 131 on Windows");
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(describe_browser(safari), "Safari 17 on iOS");
        assert_eq!(describe_browser("curl/8.0"), "an unknown browser");
    }

    #[test]
    fn times_show_in_the_recipients_zone() {
        let at = 1_700_000_000_000; // 2023-11-14 22:13:20 UTC
        assert_eq!(format_time(at, Some("Europe/Berlin")), "2023-11-14 23:13 (Europe/Berlin)");
        assert_eq!(format_time(at, Some("Asia/Ulaanbaatar")), "2023-11-15 06:13 (Asia/Ulaanbaatar)");
        assert_eq!(format_time(at, None), "2023-11-14 22:13 (UTC)");
    }
}
