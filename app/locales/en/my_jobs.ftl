# An end user's own page (pages/my_jobs.rs).
my-jobs-title = My jobs
my-jobs-connections = Bank connections
my-jobs-no-connections = No connections.
my-jobs-col-bank = Bank
my-jobs-col-status = Status
my-jobs-col-last-synced = Last synced
my-jobs-col-transactions = Transactions
my-jobs-never = never
my-jobs-sync-now = Sync now
my-jobs-sync-label = Sync { $bank } now
my-jobs-sync-jobs = Sync jobs
my-jobs-no-jobs = No jobs yet.
# A connection's status.
my-jobs-connection-active = active
my-jobs-connection-syncing = syncing
my-jobs-connection-requires-reauth = requires_reauth
my-jobs-connection-error = error
