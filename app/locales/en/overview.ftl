# The overview page (pages/overview.rs) and its charts (components/throughput_chart.rs,
# components/minute_chart.rs).
overview-title = Queues
overview-throughput = Throughput
overview-last-hour = Last hour
overview-last-day = Last day
overview-no-queues = No queues yet: enqueue a job and it appears here.
overview-sign-in = Sign in
overview-saved-searches = Saved searches
# A saved search's count when counting stopped early: "1,000+".
overview-at-least = { $count }+
overview-warnings = Warnings
overview-processed = Processed
overview-failed = Failed
overview-timings = Last hour's completed jobs
overview-wait-percentiles = Wait p50 / p95
overview-run-percentiles = Run p50 / p95
overview-workers-online = { $count ->
    [one] { $count } worker online
   *[other] { $count } workers online
}

# The whole system's throughput; $bar: minutes per bar.
overview-throughput-summary-hour = Completed { $completed } and failed { $failed } in the last hour; at most { $peak } in one { $bar ->
    [one] minute
   *[other] { $bar } minutes
}
overview-throughput-summary-day = Completed { $completed } and failed { $failed } in the last day; at most { $peak } in one { $bar ->
    [one] minute
   *[other] { $bar } minutes
}
# One bar's tooltip; $at: when the bar starts.
overview-throughput-bar = { $at }: { $completed } completed, { $failed } failed
overview-throughput-peak = peak { $peak } / { $bar ->
    [one] minute
   *[other] { $bar } minutes
}
overview-throughput-now = now
overview-throughput-completed = Completed
overview-throughput-failed = Failed

# A queue's jobs waiting over the last hour.
overview-backlog-summary = Waiting over the last hour: now { $last }, at most { $peak }
overview-backlog-no-samples = Waiting over the last hour: no samples (no worker checked in)
overview-backlog-waiting = Waiting:

# A queue's per-minute chart; $label: what it counts (Processed, Failed).
overview-minute-chart-summary = { $label }, last hour: { $total } in all, at most { $peak } a minute
# After the chart's total: "12 / h".
overview-per-hour = / h
