# The search page (pages/search.rs).
search-title = Search
search-form-label = Search jobs
search-query = Query
search-submit = Search
# The query language's qualifiers stay as they are typed.
search-hint = Qualifiers: queue: state: name: owner: id: error: before: after: payload.path: — or words. Try
search-searching = Searching…
search-empty = No jobs match.
search-next-page = Next page
search-none-on-page = None on this page; there may be more.
search-table = Jobs found
search-col-queue = Queue
search-col-job = Job
search-col-name = Name
search-col-owner = Owner
search-col-state = State
search-col-attempts = Attempts
search-col-created = Created
search-col-finished = Finished
search-col-error = Error
search-delete-saved-label = Delete saved search { $name }
search-save-as = Save this search as
search-save = Save
search-saved-label = Saved searches
search-matches = { $count ->
    [one] { $count } job matches.
   *[other] { $count } jobs match.
}
search-matches-at-least = { $count }+ jobs match.
# $total: how many match, as a number ("12,000" or "10,000+").
search-retry-all = Retry all { $total }…
search-retry-all-matching = Retry all { $total } matching
search-retry-warning = Runs again, in place, every matching dead, cancelled or retrying job.
search-cancel-all = Cancel all { $total }…
search-cancel-all-matching = Cancel all { $total } matching
search-cancel-warning = Cancels every matching waiting, delayed or retrying job; running ones are asked to stop.
search-requeue-all = Requeue all { $total }…
search-requeue-all-matching = Requeue all { $total } matching
search-requeue-warning = Adds a new job with the same name and payload for every match.
search-delete-all = Delete all { $total }…
search-delete-all-matching = Delete all { $total } matching
search-delete-warning = Deletes every matching job from Redis and from the history. This cannot be undone.
# What a bulk action did: "retry: 3 of 4 matching jobs changed."
search-action-retry = retry
search-action-cancel = cancel
search-action-requeue = requeue
search-action-delete = delete
search-bulk-result = { $matched ->
    [one] { $action }: { $changed } of { $matched } matching job changed.
   *[other] { $action }: { $changed } of { $matched } matching jobs changed.
}
search-more-remain = More remain.
search-continue = Continue
search-export-csv = Export CSV
search-export-jsonl = Export JSON lines
