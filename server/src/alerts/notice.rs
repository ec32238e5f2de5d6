//! An alert notice: one transition of one rule about one subject, as the notifications
//! processor delivers it (email, and a webhook with a Slack-compatible or a generic body).

use serde::{Deserialize, Serialize};

use super::rules::RuleKind;

/// The notifications processor's job name for alert notices.
pub const JOB_NAME: &str = "alert";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    /// The breach lasted its pending period.
    Firing,
    /// The breach cleared.
    Resolved,
}

impl Transition {
    pub fn as_str(self) -> &'static str {
        match self {
            Transition::Firing => "firing",
            Transition::Resolved => "resolved",
        }
    }
}

/// The payload of an `alert` job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertNotice {
    pub rule_id: i64,
    pub kind: RuleKind,
    /// The queue, or `""` for the whole system.
    pub subject: String,
    pub transition: Transition,
    /// The measure at the transition.
    pub value: i64,
    pub threshold: i64,
    pub window_ms: i64,
    /// Epoch ms (Redis's clock when it answered).
    pub at: i64,
}

/// Which body the alert webhook gets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum WebhookFormat {
    /// `{"text": "..."}`: what Slack's, Mattermost's and Rocket.Chat's incoming webhooks take.
    Slack,
    /// The notice itself as JSON, with a `text` line added.
    #[default]
    Generic,
}

impl AlertNotice {
    /// `FIRING waiting on queue "emails"`.
    pub fn title(&self) -> String {
        let what = self.kind.as_str();
        let state = match self.transition {
            Transition::Firing => "FIRING",
            Transition::Resolved => "RESOLVED",
        };
        if self.subject.is_empty() {
            format!("{state} {what}")
        } else {
            format!("{state} {what} on queue {:?}", self.subject)
        }
    }

    /// The title and what was measured, on one line.
    pub fn text(&self) -> String {
        let measured = self.kind.describe(self.value, self.threshold, self.window_ms);
        match self.transition {
            Transition::Firing => format!("{}: {measured}", self.title()),
            Transition::Resolved => format!("{}: back to normal ({measured})", self.title()),
        }
    }

    /// The webhook's body in `format`.
    pub fn webhook_body(&self, format: WebhookFormat) -> serde_json::Value {
        match format {
            WebhookFormat::Slack => serde_json::json!({ "text": format!("[Hoist] {}", self.text()) }),
            WebhookFormat::Generic => {
                let mut body = serde_json::to_value(self).unwrap_or_default();
                body["text"] = self.text().into();
                body
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_read_well_in_both_webhook_formats() {
        let notice = AlertNotice {
            rule_id: 3,
            kind: RuleKind::Waiting,
            subject: "emails".into(),
            transition: Transition::Firing,
            value: 1500,
            threshold: 1000,
            window_ms: 0,
            at: 1,
        };
        assert_eq!(notice.text(), "FIRING waiting on queue \"emails\": 1500 jobs waiting (alert above 1000)");
        assert_eq!(notice.webhook_body(WebhookFormat::Slack)["text"], format!("[Hoist] {}", notice.text()));
        let generic = notice.webhook_body(WebhookFormat::Generic);
        assert_eq!((generic["kind"].as_str(), generic["subject"].as_str()), (Some("waiting"), Some("emails")));
        let resolved = AlertNotice {
            transition: Transition::Resolved,
            kind: RuleKind::RedisUnreachable,
            subject: "".into(),
            ..notice
        };
        assert_eq!(resolved.text(), "RESOLVED redis_unreachable: back to normal (Redis does not answer)");
    }
}
