//! Job ids: ULIDs, so ids sort by creation time and need no coordination.

pub(crate) fn new_job_id() -> String {
    ulid::Ulid::new().to_string()
}

/// Whether `id` can be a job id: 26 characters of Crockford's base-32 alphabet (what
/// [`new_job_id`] makes). Ids become parts of key names, so anything else (`x:errors`
/// would address a job's error list) is treated as an id no job has.
pub(crate) fn is_job_id(id: &str) -> bool {
    id.len() == 26
        && id
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'H' | b'J' | b'K' | b'M' | b'N' | b'P'..=b'T' | b'V'..=b'Z'))
}

/// Only the ids that can be job ids.
pub(crate) fn job_ids(ids: &[String]) -> Vec<&String> {
    ids.iter().filter(|id| is_job_id(id)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_ulids() {
        for _ in 0..100 {
            assert!(is_job_id(&new_job_id()));
        }
        for bad in [
            "",
            "01M84TJ886F1EB81XN7P9N161",
            "01M84TJ886F1EB81XN7P9N1615:errors",
            "01m84tj886f1eb81xn7p9n1615",
            "01M84TJ886F1EB81XN7P9N161U",
            "x:errors",
        ] {
            assert!(!is_job_id(bad), "{bad}");
        }
    }
}
