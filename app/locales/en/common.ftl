# Words used on many pages.
common-jobs = { $count ->
    [one] { $count } job
   *[other] { $count } jobs
}
common-loading = Loading…
state-waiting = waiting
state-active = active
state-delayed = delayed
state-retrying = retrying
state-completed = completed
state-failed = failed
state-dead = dead
state-cancelled = cancelled
state-expired = expired
state-paused = paused
role-admin = admin
role-operator = operator
role-viewer = viewer
role-user = user
role-anonymous = not signed in
