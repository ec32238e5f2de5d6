# Words used on many pages.
common-jobs = { $count ->
    [one] { $count } job
   *[other] { $count } jobs
}
common-loading = Loading…
