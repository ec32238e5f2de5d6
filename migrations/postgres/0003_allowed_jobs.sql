-- The job names an end user may enqueue, per queue: a JSON object {"queue": ["name", ...]}.
-- It replaces allowed_queues (whole queues), which let an end user enqueue any job name.
ALTER TABLE users ADD COLUMN allowed_jobs TEXT NOT NULL DEFAULT '{}';
