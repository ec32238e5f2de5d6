# A queue's health warnings (app::types::HealthWarning); the REST API sends these English texts.
health-too-many-dead = { $count } failed jobs in the dead-letter queue (more than { $limit })
health-too-many-waiting = { $count } jobs waiting (more than { $limit })
health-active-too-long = a job has been active for { $seconds } s (more than { $limit } s)
