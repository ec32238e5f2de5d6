//! Job handlers the server hosts, registered per queue in one [`Registry`]. A user's own
//! processor is added the same way as the built-in ones.

pub mod demo;
pub mod maintenance;
pub mod notifications;
pub mod reports;
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
    /// `reports`: usage, performance and audit reports (monthly, and on demand).
    Reports,
    /// `all` of them.
    All,
    /// `none` (or an empty value): a process that runs no built-in processor.
    None,
}

/// One name of `HOIST_PROCESSORS`; an empty one (`HOIST_PROCESSORS=`) means none.
pub(crate) fn parse_builtin(text: &str) -> Result<Builtin, String> {
    match text.trim() {
        "" => Ok(Builtin::None),
        name => <Builtin as clap::ValueEnum>::from_str(name, true)
            .map_err(|_| format!("{name:?} is not demo, notifications, sync, maintenance, reports, all or none")),
    }
}

/// Settings of the built-in processors.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ProcessorConfig {
    /// Built-in processors this process runs workers for, comma-separated: `demo`,
    /// `notifications`, `sync`, `maintenance`, `reports`, or `all`. None by default: `hoist serve` is
    /// then a dashboard over every queue under its key prefix and takes no queue's jobs
    /// (a service of yours with a queue named `sync` keeps its jobs). `--demo` runs all.
    #[arg(long = "processors", env = "HOIST_PROCESSORS", value_delimiter = ',', value_parser = parse_builtin)]
    pub enabled: Vec<Builtin>,
    #[command(flatten)]
    pub queues: QueueNames,
    #[command(flatten)]
    pub notify: notifications::NotifyConfig,
    #[command(flatten)]
    pub sync: sync::SyncConfig,
    #[command(flatten)]
    pub maintenance: maintenance::MaintenanceConfig,
    #[command(flatten)]
    pub reports: reports::ReportsConfig,
}

impl ProcessorConfig {
    /// Whether `processor` runs in this process.
    pub fn runs(&self, processor: Builtin) -> bool {
        processor != Builtin::None && self.enabled.iter().any(|p| *p == processor || *p == Builtin::All)
    }
}

/// The queue each built-in processor works, whether or not this process runs it: the
/// services enqueue to them too (a connection's "Sync now" onto the sync queue, a sign-in
/// notice onto the notifications queue), and one processor's jobs feed another's (the
/// maintenance schedules fan out onto the sync queue). Every process of an installation
/// must name the same ones. Defaults: each processor's `DEFAULT_QUEUE`.
#[derive(clap::Args, Clone, Debug, PartialEq, Eq)]
pub struct QueueNames {
    // Each arg has an id of its own: the field names are other settings' ids (`--demo`).
    /// Queue of the `demo` processor.
    #[arg(id = "demo_queue", long = "demo-queue", env = "HOIST_DEMO_QUEUE", default_value = demo::DEFAULT_QUEUE)]
    pub demo: String,
    /// Queue of the `notifications` processor (sign-in notices, email, push, SMS).
    #[arg(
        id = "notifications_queue",
        long = "notifications-queue",
        env = "HOIST_NOTIFICATIONS_QUEUE",
        default_value = notifications::DEFAULT_QUEUE
    )]
    pub notifications: String,
    /// Queue of the `sync` processor (bank-connection syncs).
    #[arg(id = "sync_queue", long = "sync-queue", env = "HOIST_SYNC_QUEUE", default_value = sync::DEFAULT_QUEUE)]
    pub sync: String,
    /// Queue of the `maintenance` processor (its cron schedules' jobs).
    #[arg(
        id = "maintenance_queue",
        long = "maintenance-queue",
        env = "HOIST_MAINTENANCE_QUEUE",
        default_value = maintenance::DEFAULT_QUEUE
    )]
    pub maintenance: String,
    /// Queue of the `reports` processor (its `report` jobs).
    #[arg(id = "reports_queue", long = "reports-queue", env = "HOIST_REPORTS_QUEUE", default_value = reports::DEFAULT_QUEUE)]
    pub reports: String,
}

impl Default for QueueNames {
    fn default() -> Self {
        QueueNames {
            demo: demo::DEFAULT_QUEUE.into(),
            notifications: notifications::DEFAULT_QUEUE.into(),
            sync: sync::DEFAULT_QUEUE.into(),
            maintenance: maintenance::DEFAULT_QUEUE.into(),
            reports: reports::DEFAULT_QUEUE.into(),
        }
    }
}

impl QueueNames {
    /// Each name with the variable that sets it, in `HOIST_PROCESSORS`' order.
    fn by_variable(&self) -> [(&'static str, &str); 5] {
        [
            ("HOIST_DEMO_QUEUE", &self.demo),
            ("HOIST_NOTIFICATIONS_QUEUE", &self.notifications),
            ("HOIST_SYNC_QUEUE", &self.sync),
            ("HOIST_MAINTENANCE_QUEUE", &self.maintenance),
            ("HOIST_REPORTS_QUEUE", &self.reports),
        ]
    }

    /// Checks each name by the engine's rules for queue names, and that no two built-ins
    /// share a queue: a process running one of them would take the other's jobs and
    /// dead-letter them for want of a handler.
    pub fn validate(&self) -> Result<(), crate::error::StartupError> {
        use crate::error::StartupError;
        let names = self.by_variable();
        for (i, &(variable, name)) in names.iter().enumerate() {
            hoist_queue::validate_queue_name(name)
                .map_err(|e| StartupError::Invalid { variable, reason: e.to_string() })?;
            if let Some((other, _)) = names[..i].iter().find(|(_, earlier)| *earlier == name) {
                return Err(StartupError::Invalid {
                    variable,
                    reason: format!("queue {name:?} is already {other}'s: each built-in processor needs its own"),
                });
            }
        }
        Ok(())
    }
}

/// The built-in processors `config` turns on, on the queues it names (checked here, so
/// every process that hosts processors refuses a bad name).
pub fn builtin(
    config: &ProcessorConfig,
    db: &crate::db::Db,
    engine: &hoist_queue::RedisConnection,
    history: crate::history::HistoryConfig,
) -> Result<Registry, crate::error::StartupError> {
    let queues = &config.queues;
    queues.validate()?;
    let mut registry = Registry::new();
    if config.runs(Builtin::Demo) {
        demo::register(&mut registry, &queues.demo);
    }
    if config.runs(Builtin::Notifications) {
        let notifier = std::sync::Arc::new(notifications::Notifier::new(&config.notify)?);
        notifications::register(&mut registry, &queues.notifications, notifier);
    }
    if config.runs(Builtin::Sync) {
        let provider = sync::provider_from_config(&config.sync)?;
        let context = sync::SyncContext::new(db.clone(), provider, &config.sync);
        sync::register(&mut registry, &queues.sync, context);
    }
    if config.runs(Builtin::Maintenance) {
        let context = maintenance::MaintenanceContext {
            db: db.clone(),
            engine: engine.clone(),
            history_retention: history.retention,
            sync_queue: queues.sync.clone(),
        };
        maintenance::register(&mut registry, &queues.maintenance, context);
    }
    if config.runs(Builtin::Reports) {
        let context = reports::ReportsContext {
            db: db.clone(),
            engine: engine.clone(),
            notifications_queue: queues.notifications.clone(),
            dashboard_url: config.reports.dashboard_url.clone(),
        };
        reports::register(&mut registry, &queues.reports, context);
    }
    Ok(registry)
}

/// Declares the schedules of the built-in processors `config` runs (idempotent), and
/// removes the ones `HOIST_DISABLED_SCHEDULES` switches off.
pub async fn declare_schedules(
    engine: &hoist_queue::RedisConnection,
    config: &ProcessorConfig,
    settings: &crate::settings::Settings,
) -> hoist_queue::Result<()> {
    let disabled = &config.maintenance.disabled_schedules;
    let mut specs = vec![];
    if config.runs(Builtin::Maintenance) {
        specs.extend(maintenance::schedules(&config.queues));
    }
    if config.runs(Builtin::Reports) {
        specs.push(reports::monthly_schedule(&config.queues.reports, &settings.queue(&config.queues.reports)));
    }
    let scheduler = hoist_queue::Scheduler::new(engine);
    for spec in specs {
        if disabled.iter().any(|d| d.trim() == spec.name) {
            scheduler.remove(&spec.name).await?;
        } else {
            scheduler.upsert(&spec).await?;
        }
    }
    Ok(())
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

    #[test]
    fn queue_names_default_to_the_processors_own_and_can_be_renamed() {
        let default = Args::parse_from(["x"]).processors.queues;
        let names = |q: &QueueNames| {
            [q.demo.clone(), q.notifications.clone(), q.sync.clone(), q.maintenance.clone(), q.reports.clone()]
        };
        assert_eq!(names(&default), ["demo", "notifications", "sync", "maintenance", "reports"]);
        // What the builder starts from when no setting is parsed.
        assert_eq!(default, ProcessorConfig::default().queues);
        default.validate().unwrap();
        // Through the real command line, where the flags sit beside every other setting.
        use crate::cli::{Cli, Command};
        <Cli as clap::CommandFactory>::command().debug_assert();
        for command in ["serve", "worker"] {
            let argv = ["hoist", command, "--sync-queue", "bank-sync", "--notifications-queue", "mail"];
            let workers = match Cli::try_parse_from(argv).unwrap().command {
                Some(Command::Serve { config }) => config.workers,
                Some(Command::Worker { workers, .. }) => workers,
                other => panic!("{other:?}"),
            };
            let renamed = workers.processors.queues;
            assert_eq!(names(&renamed), ["demo", "mail", "bank-sync", "maintenance", "reports"]);
            renamed.validate().unwrap();
        }
    }

    /// The variables start-up errors name are the ones clap reads.
    #[test]
    fn each_queue_name_is_read_from_the_variable_its_errors_name() {
        use clap::CommandFactory;
        let command = Args::command();
        let envs: Vec<String> =
            command.get_arguments().filter_map(|a| a.get_env()).map(|e| e.to_string_lossy().into_owned()).collect();
        for (variable, _) in QueueNames::default().by_variable() {
            assert!(envs.iter().any(|e| e == variable), "no argument reads {variable}");
        }
    }

    #[test]
    fn a_bad_or_shared_queue_name_stops_start_up_naming_its_variable() {
        use crate::error::StartupError;
        let error = |args: &[&str]| {
            let argv = std::iter::once("x").chain(args.iter().copied());
            match Args::parse_from(argv).processors.queues.validate() {
                Err(StartupError::Invalid { variable, reason }) => (variable, reason),
                other => panic!("{args:?} was accepted: {other:?}"),
            }
        };
        let (variable, reason) = error(&["--sync-queue", "bank sync"]);
        assert_eq!(variable, "HOIST_SYNC_QUEUE");
        assert!(reason.contains("whitespace"), "{reason}");
        assert_eq!(error(&["--demo-queue", ""]).0, "HOIST_DEMO_QUEUE");
        assert_eq!(error(&["--notifications-queue", "mail{1}"]).0, "HOIST_NOTIFICATIONS_QUEUE");
        assert_eq!(error(&["--maintenance-queue", &"m".repeat(101)]).0, "HOIST_MAINTENANCE_QUEUE");

        let (variable, reason) = error(&["--maintenance-queue", "sync"]);
        assert_eq!(variable, "HOIST_MAINTENANCE_QUEUE");
        assert!(reason.contains("\"sync\"") && reason.contains("HOIST_SYNC_QUEUE"), "{reason}");
        // Renaming one onto another's default clashes too, whichever comes first.
        let (variable, reason) = error(&["--demo-queue", "jobs", "--sync-queue", "jobs"]);
        assert_eq!(variable, "HOIST_SYNC_QUEUE");
        assert!(reason.contains("HOIST_DEMO_QUEUE"), "{reason}");
        assert_eq!(error(&["--demo-queue", "notifications"]).0, "HOIST_NOTIFICATIONS_QUEUE");
    }
}
