# One queue's page (pages/queue.rs).
queue-maintained = { $count ->
    [one] Done: { $count } job.
   *[other] Done: { $count } jobs.
}
queue-pause = Pause
queue-resume = Resume
queue-find-jobs = Find jobs
queue-search-label = Job id or name
queue-search = Search
queue-clear = Clear
queue-states = Job states
queue-next-page = Next page

# Drain, clean and retry all; $state: a job state's name (common.ftl's state-…).
queue-drain-summary = Drain…
queue-drain-warning = Deletes every waiting and delayed job of this queue. Active jobs finish. This cannot be undone.
queue-drain-button = Drain queue
queue-clean-summary = Clean { $state }…
queue-clean-age = Delete { $state } jobs older than (minutes)
queue-clean-button = Delete old { $state } jobs
queue-retry-summary = Retry all { $state }…
queue-retry-warning = Moves every { $state } job of this queue back to waiting with fresh attempts.
queue-retry-button = Retry all { $state } jobs

# The jobs table.
queue-no-jobs = No jobs in this state.
queue-jobs-caption = Jobs
queue-column-id = Id
queue-column-name = Name
queue-column-owner = Owner
queue-column-created = Created
queue-column-attempts = Attempts
queue-column-progress = Progress

# The limits all workers of the queue obey together (components/queue_limits.rs).
queue-limits-title = Limits
queue-limits-none = No limits across workers: each takes as many jobs as its own concurrency allows.
queue-limits-concurrency = At most { $count } active at once across all workers
queue-limits-rate = at most { $max } starts per { $per }
queue-limits-process = { $count } at once in each process
queue-limits-group = { $count } at once of each group
queue-limits-change = Change limits…
queue-limits-concurrency-label = Most active at once (empty: no cap)
queue-limits-rate-max-label = Most starts per window (empty: no rate limit)
queue-limits-rate-per-label = Window (seconds)
queue-limits-process-label = Most at once in each process (empty: each its own setting)
queue-limits-group-label = Most at once of any one group (empty: no cap)
queue-limits-save = Save limits
settings-title = { $changed ->
    [0] Settings (all defaults)
    [one] Settings (1 set by configuration)
   *[other] Settings ({ $changed } set by configuration)
}
settings-table = Settings of this queue in this server
settings-col-setting = Setting
settings-col-value = Value
settings-col-from = From
settings-from-file = { $place }
settings-from-environment = environment variable { $variable }
settings-from-default = default
