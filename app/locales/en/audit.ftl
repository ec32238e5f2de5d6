# The audit log page (pages/audit.rs).
audit-title = Audit log
audit-empty = Nothing recorded yet.
audit-table = Audit log
audit-col-when = When
audit-col-who = Who
audit-col-action = Action
audit-col-target = Target
audit-col-parameters = Parameters
audit-col-result = Result
audit-col-from = From
audit-older = Older entries
# What an action came to, as the server recorded it.
audit-result-ok = ok
audit-result-failed = failed
audit-result-ok-jobs = { $count ->
    [one] ok: { $count } job
   *[other] ok: { $count } jobs
}
audit-result-ok-of = ok: { $changed } of { $matched } jobs
audit-result-failed-after = failed after changing { $changed } of { $matched } jobs: { $error }
