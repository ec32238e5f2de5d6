# Alerts: what fires, what fired, rules and silences (pages/alerts.rs), and the banner
# on every page while one fires (components/firing_banner.rs).
alerts-title = Alerts
alerts-intro = Rules are checked once a minute across all servers. A breach fires once it has lasted its pending period; its notice goes by email and webhook, and another when it clears.
alerts-open = Firing and pending
alerts-open-none = Nothing is firing or pending.
alerts-recent = Recent notices
alerts-recent-none = No alert has fired yet.
alerts-rules = Rules
alerts-rules-intro = A rule for every queue applies to each queue without a rule of its own of that kind. Thresholds of durations are in seconds.
alerts-silences = Silences
alerts-silences-none = No silence is on.
alerts-col-alert = Alert
alerts-col-state = State
alerts-col-since = Since
alerts-col-measure = Measured
alerts-col-at = When
alerts-col-notice = Notice
alerts-col-rule = Rule
alerts-col-threshold = Alert above
alerts-col-window = Window (seconds)
alerts-col-pending = Pending (seconds)
alerts-col-enabled = On
alerts-state-firing = firing
alerts-state-pending = pending
alerts-state-resolved = resolved
alerts-silenced = silenced, not sent
alerts-measure-of = { $value } (alert above { $threshold })
alerts-flag-yes = yes
alerts-flag-no = no
alerts-rule-every-queue = { $kind } · every queue
alerts-rule-save = Save
alerts-kind-failure-rate = Failed attempts
alerts-kind-dead-growth = New dead jobs
alerts-kind-waiting = Jobs waiting
alerts-kind-oldest-waiting = Longest wait
alerts-kind-active-too-long = Job running too long
alerts-kind-no-workers = No worker online
alerts-kind-history-lag = History behind
alerts-kind-redis-unreachable = Redis unreachable
alerts-silence-add = Add a silence…
alerts-silence-rule = Rule
alerts-silence-subject = Queue (empty: every queue)
alerts-silence-minutes = For (minutes)
alerts-silence-reason = Reason
alerts-silence-save = Silence
alerts-silence-end = End now
alerts-silence-until = until
alerts-silence-every-rule = Every rule
alerts-silence-every-subject = every queue
alerts-silence-system = the whole system
alerts-banner = { $count ->
    [one] 1 alert firing:
   *[other] { $count } alerts firing:
}
alerts-banner-link = See alerts
