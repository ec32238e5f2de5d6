//! Every Redis key name the engine uses is built here and nowhere else.
//!
//! All keys of one queue share the hash tag `{name}`, so they live in one Redis Cluster
//! slot and every script stays within it.

use crate::error::QueueError;

/// Longest accepted queue name.
pub const MAX_QUEUE_NAME: usize = 100;

/// Checks a queue name: 1 to 100 characters, no braces (they would break the hash tag),
/// no whitespace or control characters.
pub fn validate_queue_name(name: &str) -> Result<(), QueueError> {
    let invalid = |reason| QueueError::InvalidQueueName { name: name.to_string(), reason };
    if name.is_empty() {
        return Err(invalid("must not be empty"));
    }
    if name.chars().count() > MAX_QUEUE_NAME {
        return Err(invalid("must be at most 100 characters"));
    }
    if name.contains(['{', '}']) {
        return Err(invalid("must not contain braces"));
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("must not contain whitespace or control characters"));
    }
    Ok(())
}

/// The keys of one queue.
#[derive(Clone, Debug)]
pub struct QueueKeys {
    prefix: String,
}

impl QueueKeys {
    /// `root` is the global prefix (default `hoist`).
    pub fn new(root: &str, queue: &str) -> Self {
        QueueKeys { prefix: format!("{root}:{{{queue}}}:") }
    }

    /// `hoist:{queue}:`: scripts form job and statistics keys from it.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn key(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.prefix)
    }

    /// The keys every script receives, in the order `includes/common.lua` documents.
    pub fn script_keys(&self) -> [String; 14] {
        [
            self.key("wait"),
            self.key("delayed"),
            self.key("retry"),
            self.key("active"),
            self.key("completed"),
            self.key("dead"),
            self.key("cancelled"),
            self.key("meta"),
            self.key("events"),
            self.key("marker"),
            self.key("dedup"),
            self.key("seq"),
            self.key("limiter"),
            self.key("archive"),
        ]
    }

    /// The set of jobs in `state`. The active set also holds an anchor member at score
    /// +inf (see `ACTIVE_ANCHOR` in `includes/common.lua`): read it by score below +inf.
    pub fn state_set(&self, state: crate::types::JobState) -> String {
        use crate::types::JobState::*;
        self.key(match state {
            Waiting => "wait",
            Delayed => "delayed",
            Retrying => "retry",
            Active => "active",
            Completed => "completed",
            Dead => "dead",
            Cancelled => "cancelled",
        })
    }

    pub fn job(&self, id: &str) -> String {
        self.key(&format!("job:{id}"))
    }

    pub fn job_errors(&self, id: &str) -> String {
        self.key(&format!("job:{id}:errors"))
    }

    pub fn job_logs(&self, id: &str) -> String {
        self.key(&format!("job:{id}:logs"))
    }

    pub fn meta(&self) -> String {
        self.key("meta")
    }

    pub fn events(&self) -> String {
        self.key("events")
    }

    pub fn marker(&self) -> String {
        self.key("marker")
    }

    /// Per-minute statistics; `minute` counts minutes since the Unix epoch.
    pub fn stats(&self, minute: i64) -> String {
        self.key(&format!("stats:{minute}"))
    }

    /// Pub/Sub channel on which cancellations of active jobs are announced.
    pub fn cancel_channel(&self) -> String {
        self.key("cancel")
    }

    /// Workers of this queue and when each last checked in.
    pub fn workers(&self) -> String {
        self.key("workers")
    }
}

/// The keys of one schedule, under their own hash tag `{schedule:NAME}`.
#[derive(Clone, Debug)]
pub struct ScheduleKeys {
    prefix: String,
}

impl ScheduleKeys {
    pub fn new(root: &str, name: &str) -> Self {
        ScheduleKeys { prefix: format!("{root}:{{schedule:{name}}}:") }
    }

    /// Definition and firing state.
    pub fn state(&self) -> String {
        format!("{}state", self.prefix)
    }

    /// The most recent fires, newest first.
    pub fn history(&self) -> String {
        format!("{}history", self.prefix)
    }
}

/// The set of schedule names.
pub fn schedule_registry(root: &str) -> String {
    format!("{root}:schedules")
}

/// The set of known queue names (outside any queue's slot; written on its own).
pub fn registry(root: &str) -> String {
    format!("{root}:queues")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_carries_the_hash_tag() {
        let keys = QueueKeys::new("hoist", "emails");
        for key in keys.script_keys() {
            assert!(key.starts_with("hoist:{emails}:"), "{key}");
        }
        assert_eq!(keys.job("01J"), "hoist:{emails}:job:01J");
        assert_eq!(keys.stats(5), "hoist:{emails}:stats:5");
    }

    #[test]
    fn queue_names_are_checked() {
        validate_queue_name("emails").unwrap();
        validate_queue_name("sync-transactions.v2").unwrap();
        assert!(validate_queue_name("").is_err());
        assert!(validate_queue_name("a{b}").is_err());
        assert!(validate_queue_name("has space").is_err());
        assert!(validate_queue_name(&"x".repeat(101)).is_err());
    }
}
