//! Names and keys that come from outside (queue and job names, dedup keys, schedule
//! names), checked at the door with errors naming the field: one rule for all, the
//! engine's ([`hoist_queue::names::is_hidden`]), so a name cannot hide from a reader.

use hoist_queue::names::is_hidden;

use crate::api_error::ApiError;

/// Longest job name, in characters.
pub const MAX_JOB_NAME: usize = 200;
/// Longest schedule name, in characters.
pub const MAX_SCHEDULE_NAME: usize = 100;

/// Checks a queue name a caller gave (the field `queue`): a visible name, without `/`
/// (it would make `queue/id` references — live topics, dead-letter selections —
/// ambiguous) and without `%` (a name that reads differently in a URL than on screen).
pub fn check_queue(name: &str) -> Result<(), ApiError> {
    check("queue", name, hoist_queue::MAX_QUEUE_NAME)?;
    if let Some(c) = name.chars().find(|c| matches!(c, '/' | '%')) {
        return Err(ApiError::invalid("queue", format!("queue must not contain {c:?}")));
    }
    Ok(())
}

/// Checks that `value` (the field `field`) is 1 to `max` characters with none hidden.
pub fn check(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::invalid(field, format!("{field} must not be empty")));
    }
    if value.chars().count() > max {
        return Err(ApiError::invalid(field, format!("{field} must be at most {max} characters")));
    }
    if let Some(c) = value.chars().find(|c| is_hidden(*c)) {
        return Err(ApiError::invalid(
            field,
            format!("{field} must not contain control or invisible characters (found U+{:04X})", c as u32),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters_are_refused() {
        check("name", "sync-connection", MAX_JOB_NAME).unwrap();
        check("name", "Zahlungsabgleich für Mai", MAX_JOB_NAME).unwrap();
        check("name", "сар бүрийн тайлан", MAX_JOB_NAME).unwrap();
        for bad in ["", "  ", "a\0b", "a\r\nb", "a\u{200B}b", "a\u{202E}b", "\u{FEFF}a", "a\u{2066}b", "a\u{7f}"] {
            match check("name", bad, MAX_JOB_NAME) {
                Err(ApiError::Invalid { field, .. }) => assert_eq!(field, "name"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        assert!(check("name", &"x".repeat(201), MAX_JOB_NAME).is_err());
        assert!(check("name", &"ж".repeat(200), MAX_JOB_NAME).is_ok());
        assert!(check_queue("emails").is_ok());
        for bad in ["a/b", "a%2Fb", "%ZZ", "a\u{200B}", ""] {
            assert!(check_queue(bad).is_err(), "{bad:?}");
        }
    }
}
