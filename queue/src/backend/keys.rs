//! Every Redis key name the engine uses is built here and nowhere else.
//!
//! All keys of one queue share the hash tag `{name}`, so they live in one Redis Cluster
//! slot and every script stays within it.

use crate::error::QueueError;

/// Longest accepted queue name.
pub const MAX_QUEUE_NAME: usize = 100;

/// Checks a queue name: 1 to 100 characters, no braces (they would break the hash tag),
/// no whitespace, control or invisible format characters ([`crate::names::is_hidden`]).
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
    if name.chars().any(|c| c.is_whitespace() || crate::names::is_hidden(c)) {
        return Err(invalid("must not contain whitespace, control or invisible characters"));
    }
    Ok(())
}

/// Longest accepted owner of a job, in bytes. The owner's index key holds it escaped
/// (letters, digits and `-_.:@` as they are, every other byte as `%XX`), so at most three
/// times as long.
pub const MAX_OWNER_BYTES: usize = 200;

/// Longest accepted group of a job, in bytes; its key segment is escaped as an owner's.
pub const MAX_GROUP_BYTES: usize = 200;

/// The key segment of an owner: the owner's bytes with ASCII letters, digits and `-_.:@`
/// kept and every other byte written `%XX` (upper-case hex), so `42` stays `42` and
/// `a b{c}` becomes `a%20b%7Bc%7D`. One owner has one segment and two owners never share
/// one (the encoding is reversible); it holds no braces (the key's hash tag stays
/// `{queue}`), no whitespace or control characters, and is at most 600 bytes for an owner
/// of at most [`MAX_OWNER_BYTES`] (enqueue refuses longer ones).
pub(crate) fn key_segment(owner: &str) -> String {
    let mut tag = String::with_capacity(owner.len());
    for byte in owner.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b':' | b'@') {
            tag.push(byte as char);
        } else {
            tag.push_str(&format!("%{byte:02X}"));
        }
    }
    tag
}

/// The keys of one queue.
#[derive(Clone, Debug)]
pub struct QueueKeys {
    root: String,
    prefix: String,
}

impl QueueKeys {
    /// `root` is the global prefix (default `hoist`).
    pub fn new(root: &str, queue: &str) -> Self {
        QueueKeys { root: root.to_string(), prefix: format!("{root}:{{{queue}}}:") }
    }

    /// The global prefix the queue's keys live under (default `hoist`).
    pub fn root(&self) -> &str {
        &self.root
    }

    /// `hoist:{queue}:`: scripts form job and statistics keys from it.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn key(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.prefix)
    }

    /// The queue key a script declares by `name` (see `includes/common.lua`).
    pub fn named(&self, name: &str) -> String {
        self.key(name)
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
            Expired => "expired",
        })
    }

    pub fn job(&self, id: &str) -> String {
        self.key(&format!("job:{id}"))
    }

    /// The owner index of `owner`: a sorted set of the ids of the owner's jobs in this
    /// queue, scored by the queue's enqueue sequence (so newest last). `owner:` followed by
    /// [`key_segment`]; `owner_key` in `includes/common.lua` forms the same name from the tag.
    pub fn owner_index(&self, owner: &str) -> String {
        self.key(&format!("owner:{}", key_segment(owner)))
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

    /// The countdown of a batch of jobs (see `Queue::open_batch`).
    pub fn batch(&self, batch: &str) -> String {
        self.key(&format!("batch:{batch}"))
    }

    /// Finished jobs the history store has not copied yet.
    pub fn archive(&self) -> String {
        self.key("archive")
    }

    /// Live jobs the search index has not read since they changed.
    pub fn unindexed(&self) -> String {
        self.key("unindexed")
    }

    pub fn events(&self) -> String {
        self.key("events")
    }

    pub fn marker(&self) -> String {
        self.key("marker")
    }

    /// Running totals of the per-minute statistics' fields, since the queue was made.
    pub fn totals(&self) -> String {
        self.key("totals")
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

    /// Pub/Sub channel on which a change of the queue's limits is announced.
    pub fn limits_channel(&self) -> String {
        self.key("limits")
    }
}

/// The keys of the process registry (see `crate::Process`), all under the hash tag
/// `{processes}` so one script reads and writes them together on a cluster.
#[derive(Clone, Debug)]
pub struct ProcessKeys {
    prefix: String,
}

impl ProcessKeys {
    pub fn new(root: &str) -> Self {
        ProcessKeys { prefix: format!("{root}:{{processes}}:") }
    }

    /// Every process and when it last checked in.
    pub fn registry(&self) -> String {
        format!("{}all", self.prefix)
    }

    /// What a process reported at its last check-in (JSON), expiring when it is forgotten.
    pub fn info(&self, id: &str) -> String {
        format!("{}info:{id}", self.prefix)
    }

    /// The prefix of every `info` key, for the script that reads them all.
    pub fn info_prefix(&self) -> String {
        format!("{}info:", self.prefix)
    }

    /// The last command sent to a process, kept until it checks in and acts on it.
    pub fn command(&self, id: &str) -> String {
        format!("{}command:{id}", self.prefix)
    }

    /// Pub/Sub channel on which commands are announced (`ID COMMAND`).
    pub fn channel(&self) -> String {
        format!("{}control", self.prefix)
    }
}

/// The counter of one subject of a lockout: `ROOT:{lockout:NAME}:SUBJECT`. Every subject
/// of a lockout shares the hash tag, so one script counts them together on a cluster.
pub fn lockout_counter(root: &str, lockout: &str, subject: &str) -> String {
    format!("{root}:{{lockout:{lockout}}}:{subject}")
}

/// The holder of a role (see `crate::Role`): `ROOT:{role:NAME}`.
pub fn role_holder(root: &str, role: &str) -> String {
    format!("{root}:{{role:{role}}}")
}

/// The keys of one schedule, under their own hash tag `{schedule:NAME}`.
#[cfg(feature = "scheduler")]
#[derive(Clone, Debug)]
pub struct ScheduleKeys {
    prefix: String,
}

#[cfg(feature = "scheduler")]
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
#[cfg(feature = "scheduler")]
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
        for name in crate::backend::scripts::QUEUE_KEY_NAMES {
            let key = keys.named(name);
            assert!(key.starts_with("hoist:{emails}:"), "{key}");
        }
        assert_eq!(keys.named("wait"), keys.state_set(crate::types::JobState::Waiting));
        assert_eq!(keys.named("retry"), keys.state_set(crate::types::JobState::Retrying));
        assert_eq!(keys.job("01J"), "hoist:{emails}:job:01J");
        assert_eq!(keys.stats(5), "hoist:{emails}:stats:5");
    }

    #[test]
    fn owner_index_keys_are_tagged_bounded_and_distinct() {
        let keys = QueueKeys::new("hoist", "emails");
        assert_eq!(keys.owner_index("42"), "hoist:{emails}:owner:42");
        assert_eq!(keys.owner_index("user:a.b@c_d-e"), "hoist:{emails}:owner:user:a.b@c_d-e");
        assert_eq!(keys.owner_index("a b{c}"), "hoist:{emails}:owner:a%20b%7Bc%7D");
        assert_eq!(keys.owner_index("ü%"), "hoist:{emails}:owner:%C3%BC%25");
        // "%41" itself is escaped, so it cannot collide with the owner "A".
        assert_ne!(key_segment("%41"), key_segment("A"));
        let longest = key_segment(&"\n".repeat(MAX_OWNER_BYTES));
        assert!(longest.len() <= 3 * MAX_OWNER_BYTES);
        for owner in ["}{", "x\r\n\t", "{other}"] {
            let key = keys.owner_index(owner);
            assert!(key.starts_with("hoist:{emails}:owner:"), "{key}");
            assert!(!key["hoist:{emails}:".len()..].contains(['{', '}']), "{key}");
            assert!(!key.chars().any(|c| c.is_whitespace() || c.is_control()), "{key}");
        }
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
