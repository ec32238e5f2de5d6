# The schedules page (pages/schedules.rs).
schedules-title = Schedules
schedules-empty = No schedules.
schedules-table = Schedules
schedules-col-schedule = Schedule
schedules-col-runs = Runs
schedules-col-next-fire = Next fire
schedules-col-last-fire = Last fire
schedules-col-recent-fires = Recent fires
schedules-pause = Pause
schedules-resume = Resume
schedules-run-now = Run now
schedules-pause-label = Pause { $name }
schedules-resume-label = Resume { $name }
schedules-run-now-label = Run now { $name }
schedules-disabled = disabled
schedules-fires-on-schedule = { $count ->
    [one] { $count } fire on schedule
   *[other] { $count } fires on schedule
}
schedules-by-hand = by hand
schedules-on-time = on time
