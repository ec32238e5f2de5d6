# The processes that run workers and the scheduler (pages/processes.rs).
processes-title = Processes
processes-intro = Every process that runs workers or the scheduler checks in every 5 seconds. One silent for 20 seconds is shown as gone; after 10 minutes it is forgotten.
processes-summary = { $processes ->
    [one] 1 process listening
   *[other] { $processes } processes listening
} · { $jobs ->
    [one] 1 job running
   *[other] { $jobs } jobs running
}
processes-empty = No process has checked in in the last 10 minutes: no worker or scheduler is running.
processes-table = Processes
processes-col-process = Process
processes-col-state = State
processes-col-queues = Queues
processes-col-jobs = Running now
processes-state-running = running
processes-state-quiet = quiet
processes-state-stopping = stopping
processes-state-stopped = stopped
processes-state-gone = gone
processes-scheduler = scheduler
processes-this-server = this server
processes-started = started
processes-last-seen = last check-in
processes-no-queues = no workers
processes-no-jobs = none
processes-queue-load = { $running } running of { $concurrency } at once
processes-queue-set-live = set on the queue; its own: { $configured }
processes-job-started = started
processes-jobs-more = and { $count } more
processes-quiet = Quiet
processes-quiet-label = Quiet { $process }: take no new jobs, finish the running ones
processes-stop = Stop…
processes-stop-warning = { $process } stops taking jobs, lets its running jobs finish, and shuts down. Unless something restarts it, it stays down.
processes-stop-confirm = Stop it
processes-stop-label = Stop { $process }
