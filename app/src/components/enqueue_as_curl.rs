//! "Copy as curl": the REST call that enqueues a job like this one, to paste in a shell.

use leptos::prelude::*;

use crate::i18n::use_i18n;
use crate::t;
use crate::types::JobDetail;

/// The `curl` command that enqueues a job with `job`'s name and payload through the REST
/// API, for a shell with `HOIST_URL` (this dashboard's address) and `HOIST_TOKEN` (an API
/// token) set; for staff also its priority, attempts, timeout and owner (an end user's
/// job gets its owner from the token, and end users may not set those). `None` when the
/// page holds only part of the payload.
pub fn enqueue_as_curl(job: &JobDetail) -> Option<String> {
    if job.payload_bytes > job.payload.len() {
        return None;
    }
    let payload: serde_json::Value = serde_json::from_str(&job.payload).ok()?;
    let mut body = serde_json::json!({ "name": job.name, "payload": payload });
    if job.can_operate {
        let mut options = serde_json::json!({ "priority": job.priority, "max_attempts": job.max_attempts });
        if let Some(timeout) = job.timeout_ms {
            options["timeout"] = timeout.into();
        }
        // The same time to start within, counted from the new enqueue.
        if let Some(at) = job.expires_at {
            options["expires_in"] = (at - job.created_at).max(1).into();
        }
        if let Some(owner) = &job.owner {
            options["owner"] = owner.clone().into();
        }
        if let Some(group) = &job.group {
            options["group"] = group.clone().into();
        }
        body["options"] = options;
    }
    let body = body.to_string();
    let queue = crate::format::query_value(&job.queue);
    Some(format!(
        "curl -X POST \"$HOIST_URL/api/v1/queues/{queue}/jobs\" \\\n  -H \"Authorization: Bearer $HOIST_TOKEN\" \\\n  -H 'Content-Type: application/json' \\\n  -d {}",
        shell_quote(&body)
    ))
}

/// One shell word, single-quoted (a `'` inside becomes `'\''`).
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The command in a disclosure, with a button that copies it (the text can be selected
/// by hand without JavaScript).
#[component]
pub fn EnqueueAsCurl(command: String) -> impl IntoView {
    let i18n = use_i18n();
    let copied = RwSignal::new(false);
    let text = command.clone();
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(window) = web_sys::window() {
            let _ = window.navigator().clipboard().write_text(&text);
            copied.set(true);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &text;
    };
    view! {
        <details class="curl">
            <summary>{t!(i18n, "job-curl-summary")}</summary>
            <p class="note">
                {t!(i18n, "job-curl-note-start")} " " <code>"HOIST_URL"</code> " " {t!(i18n, "job-curl-note-url")} " "
                <code>"HOIST_TOKEN"</code> " " {t!(i18n, "job-curl-note-token")}
            </p>
            <pre class="json" data-field="curl">{command}</pre>
            <button type="button" on:click=copy>
                {move || if copied.get() { t!(i18n, "job-curl-copied") } else { t!(i18n, "job-curl-copy") }}
            </button>
        </details>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(payload: &str) -> JobDetail {
        JobDetail {
            queue: "mail out".into(),
            id: "01J".into(),
            name: "send-email".into(),
            state: "dead".into(),
            owner: Some("user-7".into()),
            group: None,
            payload: payload.into(),
            payload_bytes: payload.len(),
            result: None,
            priority: 2,
            attempts: 3,
            max_attempts: 3,
            timeout_ms: Some(5_000),
            expires_at: None,
            dedup_key: None,
            created_at: 0,
            run_at: 0,
            started_at: None,
            finished_at: None,
            worker: None,
            progress: None,
            errors: vec![],
            logs: vec![],
            can_operate: true,
        }
    }

    #[test]
    fn the_command_enqueues_the_same_job_and_survives_quotes() {
        let command = enqueue_as_curl(&job("{\n  \"to\": \"o'brien@example.com\"\n}")).unwrap();
        assert!(command.starts_with("curl -X POST \"$HOIST_URL/api/v1/queues/mail%20out/jobs\""), "{command}");
        let body = command.split_once("-d '").unwrap().1.strip_suffix('\'').unwrap().replace(r"'\''", "'");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["name"], "send-email");
        assert_eq!(body["payload"]["to"], "o'brien@example.com");
        assert_eq!(body["options"]["owner"], "user-7");
        assert_eq!(body["options"]["timeout"], 5_000);
    }

    #[test]
    fn an_end_users_command_sets_no_options() {
        let mut mine = job("{}");
        mine.can_operate = false;
        let command = enqueue_as_curl(&mine).unwrap();
        let body = command.split_once("-d '").unwrap().1.strip_suffix('\'').unwrap().to_string();
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body, serde_json::json!({ "name": "send-email", "payload": {} }));
    }

    #[test]
    fn a_cut_payload_gives_no_command() {
        let mut cut = job("{}");
        cut.payload_bytes = 100_000;
        assert_eq!(enqueue_as_curl(&cut), None);
    }
}
