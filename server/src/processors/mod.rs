//! Job handlers the server hosts, registered per queue in one [`Registry`]. A user's own
//! processor is added the same way as the built-in ones.

pub mod demo;
pub mod maintenance;
pub mod notifications;
pub mod sync;

use std::collections::BTreeMap;

use hoist_queue::{Handler, Handlers};

/// Which handler runs each job name of each queue.
#[derive(Clone, Default)]
pub struct Registry {
    queues: BTreeMap<String, Handlers>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `handler` for jobs named `job_name` in `queue`.
    pub fn register(&mut self, queue: &str, job_name: &str, handler: impl Handler) -> &mut Self {
        let handlers = self.queues.remove(queue).unwrap_or_default().on(job_name, handler);
        self.queues.insert(queue.to_string(), handlers);
        self
    }

    /// Runs `handlers` for every job of `queue`; false (and nothing changes) when `queue`
    /// already has handlers.
    pub fn add_queue(&mut self, queue: &str, handlers: Handlers) -> bool {
        if self.queues.contains_key(queue) {
            return false;
        }
        self.queues.insert(queue.to_string(), handlers);
        true
    }

    pub fn queues(&self) -> impl Iterator<Item = (&str, &Handlers)> {
        self.queues.iter().map(|(name, handlers)| (name.as_str(), handlers))
    }

    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }
}

/// A built-in processor, as `HOIST_PROCESSORS` names it.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    /// `demo`: the demo workload's job (`demo-sync`).
    Demo,
    /// `notifications`: e-mail and webhook deliveries.
    Notifications,
    /// `sync`: bank-connection syncs.
    Sync,
    /// `maintenance`: housekeeping on cron schedules (pruning, categorizing, VACUUM).
    Maintenance,
    /// `all` of them.
    All,
    /// `none` (or an empty value): a process that runs no built-in processor.
    None,
}

/// One name of `HOIST_PROCESSORS`; an empty one (`HOIST_PROCESSORS=`) means none.
fn parse_builtin(text: &str) -> Result<Builtin, String> {
    match text.trim() {
        "" => Ok(Builtin::None),
        name => <Builtin as clap::ValueEnum>::from_str(name, true)
            .map_err(|_| format!("{name:?} is not demo, notifications, sync, maintenance, all or none")),
    }
}

/// Settings of the built-in processors.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ProcessorConfig {
    /// Built-in processors this process runs workers for, comma-separated: `demo`,
    /// `notifications`, `sync`, `maintenance`, or `all`. None by default: `hoist serve` is
    /// then a dashboard over every queue under its key prefix and takes no queue's jobs
    /// (a service of yours with a queue named `sync` keeps its jobs). `--demo` runs all.
    #[arg(long = "processors", env = "HOIST_PROCESSORS", value_delimiter = ',', value_parser = parse_builtin)]
    pub enabled: Vec<Builtin>,
    #[command(flatten)]
    pub notify: notifications::NotifyConfig,
    #[command(flatten)]
    pub sync: sync::SyncConfig,
    #[command(flatten)]
    pub maintenance: maintenance::MaintenanceConfig,
}

impl ProcessorConfig {
    /// Whether `processor` runs in this process.
    pub fn runs(&self, processor: Builtin) -> bool {
        processor != Builtin::None && self.enabled.iter().any(|p| *p == processor || *p == Builtin::All)
    }
}

/// The built-in processors `config` turns on.
pub fn builtin(
    config: &ProcessorConfig,
    db: &crate::db::Db,
    engine: &hoist_queue::RedisConnection,
    history: crate::history::HistoryConfig,
) -> Result<Registry, crate::error::StartupError> {
    let mut registry = Registry::new();
    if config.runs(Builtin::Demo) {
        demo::register(&mut registry);
    }
    if config.runs(Builtin::Notifications) {
        notifications::register(&mut registry, std::sync::Arc::new(notifications::Notifier::new(&config.notify)?));
    }
    if config.runs(Builtin::Sync) {
        let provider = sync::provider_from_config(&config.sync)?;
        sync::register(&mut registry, sync::SyncContext::new(db.clone(), engine.clone(), provider, &config.sync));
    }
    if config.runs(Builtin::Maintenance) {
        let history_retention = history.retention;
        maintenance::register(
            &mut registry,
            maintenance::MaintenanceContext { db: db.clone(), engine: engine.clone(), history_retention },
        );
    }
    Ok(registry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Args {
        #[command(flatten)]
        processors: ProcessorConfig,
    }

    #[test]
    fn processors_are_opt_in() {
        let none = Args::parse_from(["x"]).processors;
        assert!(none.enabled.is_empty());
        assert!(!none.runs(Builtin::Sync));
        let some = Args::parse_from(["x", "--processors", "sync,maintenance"]).processors;
        assert!(some.runs(Builtin::Sync) && some.runs(Builtin::Maintenance) && !some.runs(Builtin::Demo));
        let all = Args::parse_from(["x", "--processors", "all"]).processors;
        assert!(all.runs(Builtin::Notifications) && all.runs(Builtin::Demo));
        assert!(Args::try_parse_from(["x", "--processors", "billing"]).is_err());
        let empty = Args::parse_from(["x", "--processors", ""]).processors;
        assert!(!empty.runs(Builtin::Sync) && !empty.runs(Builtin::None));
    }
}
