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

    pub fn queues(&self) -> impl Iterator<Item = (&str, &Handlers)> {
        self.queues.iter().map(|(name, handlers)| (name.as_str(), handlers))
    }

    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }
}

/// Settings of the built-in processors.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ProcessorConfig {
    #[command(flatten)]
    pub notify: notifications::NotifyConfig,
    #[command(flatten)]
    pub sync: sync::SyncConfig,
    #[command(flatten)]
    pub maintenance: maintenance::MaintenanceConfig,
}

/// The processors this build ships.
pub fn builtin(
    config: &ProcessorConfig,
    db: &crate::db::Db,
    engine: &hoist_queue::RedisConnection,
    history: crate::history::HistoryConfig,
) -> Result<Registry, crate::error::StartupError> {
    let mut registry = Registry::new();
    demo::register(&mut registry);
    notifications::register(&mut registry, std::sync::Arc::new(notifications::Notifier::new(&config.notify)?));
    let provider = std::sync::Arc::new(
        sync::demo_provider::DemoProvider::new(config.sync.demo_latency())
            .with_random_faults(config.sync.demo_provider_fault_rate),
    );
    sync::register(&mut registry, sync::SyncContext::new(db.clone(), engine.clone(), provider, &config.sync));
    let history_retention = history.retention;
    maintenance::register(
        &mut registry,
        maintenance::MaintenanceContext { db: db.clone(), engine: engine.clone(), history_retention },
    );
    Ok(registry)
}
