# The dead-letter page (pages/dead_letters.rs).
dead-letters-title = Dead letters
dead-letters-filter = Filter
dead-letters-queue = Queue
dead-letters-error-contains = Error contains
dead-letters-died-at-least = Died at least (minutes ago)
dead-letters-done = { $count ->
    [one] { $count } job done.
   *[other] { $count } jobs done.
}
# Everything the filter matches.
dead-letters-requeue-all = Requeue all { $count }…
dead-letters-purge-all = Purge all { $count }…
dead-letters-requeue-all-warning = { $count ->
    [one] Moves all { $count } matching dead job back to waiting.
   *[other] Moves all { $count } matching dead jobs back to waiting.
}
dead-letters-purge-all-warning = { $count ->
    [one] Deletes all { $count } matching dead job. This cannot be undone.
   *[other] Deletes all { $count } matching dead jobs. This cannot be undone.
}
dead-letters-requeue-all-matching = Requeue all { $count } matching
dead-letters-purge-all-matching = Purge all { $count } matching
# The ticked jobs.
dead-letters-with-selected = With selected
dead-letters-requeue = Requeue
dead-letters-purge = Purge
dead-letters-apply = Apply
# The table.
dead-letters-caption = Dead jobs
dead-letters-col-select = Select
dead-letters-col-queue = Queue
dead-letters-col-job = Job
dead-letters-col-error = Error
dead-letters-col-attempts = Attempts
dead-letters-col-died = Died
dead-letters-empty = No dead jobs match.
dead-letters-select-job = Select { $id }
dead-letters-requeue-job = Requeue { $id }
