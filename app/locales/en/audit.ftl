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
