//! Addresses as logs may show them: enough to tell messages apart, not enough to harvest.

/// `bold@example.com` → `b***@example.com`.
pub fn mask_email(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            let first = local.chars().next().map(String::from).unwrap_or_default();
            format!("{first}***@{domain}")
        }
        None => "***".to_string(),
    }
}

/// `+97699112233` → `+976*****233`: the country code and the last three digits.
pub fn mask_phone(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    if chars.len() <= 6 {
        return "***".to_string();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 3..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_keep_the_first_letter_and_the_domain() {
        assert_eq!(mask_email("bold@example.com"), "b***@example.com");
        assert_eq!(mask_email("@example.com"), "***@example.com");
        assert_eq!(mask_email("not-an-address"), "***");
    }

    #[test]
    fn phones_keep_the_country_code_and_last_digits() {
        assert_eq!(mask_phone("+97699112233"), "+976*****233");
        assert_eq!(mask_phone("12345"), "***");
    }
}
