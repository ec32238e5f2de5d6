//! Job ids: ULIDs, so ids sort by creation time and need no coordination.

pub(crate) fn new_job_id() -> String {
    ulid::Ulid::new().to_string()
}
