# The job page (pages/job.rs) and its "Copy as curl" box (components/enqueue_as_curl.rs).
job-action-cancel = Cancel
job-action-remove = Remove
job-action-promote = Run now
job-action-retry = Retry
job-duplicate = Duplicate
job-owner = Owner
job-group = Group
job-attempts = Attempts
job-attempts-of = { $attempts } of { $max }
job-priority = Priority
job-timeout = Timeout
job-timeout-none = none
job-start-by = Start by (or expire)
job-dedup-key = Dedup key
job-created = Created
job-runs-at = Runs at
job-started = Started
job-finished = Finished
job-waited = Waited
job-ran-for = Ran for
job-worker = Worker
job-payload = Payload
job-payload-cut = Showing the first { $shown } of { $total } bytes.
job-payload-show-all = Show all (JSON)
job-result = Result
job-timeline = Timeline
job-no-failed-attempts = No failed attempts.
job-attempt-heading = Attempt { $attempt } · { $kind }
job-log = Log
job-no-log-lines = No log lines.
# How an attempt failed.
job-error-retryable = retryable
job-error-permanent = permanent
job-error-timeout = timeout
job-error-panic = panic
job-error-stalled = stalled
# The progress bar (also on My jobs).
job-progress = Progress
job-progress-percent = { $percent }%
job-progress-eta = about { $duration } left
# Editing a dead or cancelled job's payload.
job-edit-too-large = The payload is too large to edit here; retry it with a new payload through the REST API.
job-edit-summary = Edit payload and retry…
job-edit-payload-label = Payload (JSON)
job-edit-retry = Retry with this payload
# The timeline of attempts.
job-step-created = Created
job-step-failed = Attempt { $attempt } failed ({ $kind })
job-step-started = Attempt { $attempt } started
job-step-ended = Ended { $state }
# Copy as curl: the note reads start, HOIST_URL, url, HOIST_TOKEN, token.
job-curl-summary = Copy as curl
job-curl-note-start = Enqueues a job like this one. Set
job-curl-note-url = to this dashboard's address and
job-curl-note-token = to an API token.
job-curl-copy = Copy
job-curl-copied = Copied
