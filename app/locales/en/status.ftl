# The status page (pages/home.rs).
status-title = System status
# Followed by the overall state ("healthy" or "degraded").
status-summary = Hoist { $version } is
status-healthy = healthy
status-degraded = degraded
status-dependencies = Dependencies
status-column-component = Component
status-column-state = State
status-column-detail = Detail
status-up = up
status-down = down
