//! What a name may hold. Queue, job and schedule names end up in logs, keys, dashboards
//! and SQL: a control character breaks a log line or a PostgreSQL text column (NUL), and
//! an invisible "format" character (zero-width space, bidi override, byte-order mark:
//! Unicode category Cf) makes two different names look alike on screen.

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Whether `c` has no business in a name: a control or an invisible format character.
pub fn is_hidden(c: char) -> bool {
    c.is_control() || c.general_category() == GeneralCategory::Format
}

/// The first hidden character of `name`, if any.
pub(crate) fn first_hidden(name: &str) -> Option<char> {
    name.chars().find(|c| is_hidden(*c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_format_characters_are_hidden() {
        for c in ['\0', '\n', '\r', '\u{7f}', '\u{200B}', '\u{202E}', '\u{2066}', '\u{FEFF}'] {
            assert!(is_hidden(c), "{:?}", c);
        }
        for c in ['a', 'ж', 'ü', '-', ' ', '雨'] {
            assert!(!is_hidden(c), "{:?}", c);
        }
    }
}
