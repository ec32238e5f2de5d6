-- Jobs not started by their deadline end 'expired', a finished status of its own.
ALTER TABLE job_history DROP CONSTRAINT job_history_status_check;
ALTER TABLE job_history ADD CONSTRAINT job_history_status_check
    CHECK (status IN ('live', 'completed', 'dead', 'cancelled', 'expired'));
