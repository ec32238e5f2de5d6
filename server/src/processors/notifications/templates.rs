//! Notification templates (subject, text and HTML), in English and Mongolian, rendered
//! with minijinja. HTML templates escape what they insert; text ones do not need to.

use std::sync::LazyLock;

use minijinja::{AutoEscape, Environment};
use serde::Serialize;

/// Locales with templates; anything else falls back to English.
pub const LOCALES: &[&str] = &["en", "mn"];

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|name| if name.ends_with(".html") { AutoEscape::Html } else { AutoEscape::None });
    let sources: &[(&str, &str)] = &[
        ("sign_in.en.subject", include_str!("../../../templates/notifications/sign_in.en.subject")),
        ("sign_in.en.txt", include_str!("../../../templates/notifications/sign_in.en.txt")),
        ("sign_in.en.html", include_str!("../../../templates/notifications/sign_in.en.html")),
        ("sign_in.mn.subject", include_str!("../../../templates/notifications/sign_in.mn.subject")),
        ("sign_in.mn.txt", include_str!("../../../templates/notifications/sign_in.mn.txt")),
        ("sign_in.mn.html", include_str!("../../../templates/notifications/sign_in.mn.html")),
        ("report.layout.html", include_str!("../../../templates/notifications/report.layout.html")),
        ("report.layout.txt", include_str!("../../../templates/notifications/report.layout.txt")),
        ("report.en.labels", include_str!("../../../templates/notifications/report.en.labels")),
        ("report.en.subject", include_str!("../../../templates/notifications/report.en.subject")),
        ("report.en.txt", include_str!("../../../templates/notifications/report.en.txt")),
        ("report.en.html", include_str!("../../../templates/notifications/report.en.html")),
        ("report.mn.labels", include_str!("../../../templates/notifications/report.mn.labels")),
        ("report.mn.subject", include_str!("../../../templates/notifications/report.mn.subject")),
        ("report.mn.txt", include_str!("../../../templates/notifications/report.mn.txt")),
        ("report.mn.html", include_str!("../../../templates/notifications/report.mn.html")),
    ];
    for (name, source) in sources {
        env.add_template(name, source).expect("built-in templates parse");
    }
    env
});

/// A rendered message.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The locale templates exist for: `mn`, `mn-MN` → `mn`; anything else → `en`.
pub fn pick_locale(requested: Option<&str>) -> &'static str {
    let language = requested.unwrap_or("en").split(['-', '_']).next().unwrap_or("en").to_ascii_lowercase();
    LOCALES.iter().copied().find(|l| *l == language).unwrap_or("en")
}

/// Renders template `name` (e.g. `sign_in`) in `locale` with `context`.
pub fn render(name: &str, locale: &str, context: impl Serialize) -> Result<Rendered, minijinja::Error> {
    let context = minijinja::Value::from_serialize(&context);
    let part = |kind: &str| -> Result<String, minijinja::Error> {
        TEMPLATES.get_template(&format!("{name}.{locale}.{kind}"))?.render(&context)
    };
    Ok(Rendered { subject: part("subject")?.trim().to_string(), text: part("txt")?, html: part("html")? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_fall_back_to_english() {
        assert_eq!(pick_locale(Some("mn-MN")), "mn");
        assert_eq!(pick_locale(Some("de")), "en");
        assert_eq!(pick_locale(None), "en");
    }

    #[test]
    fn html_is_escaped_and_text_is_not() {
        let context = serde_json::json!({
            "app": "Hoist", "when": "now", "ip": "1.2.3.4", "browser": "<script>x</script>",
            "provider": "password", "security_url": "https://example.com/security",
        });
        let mail = render("sign_in", "en", &context).unwrap();
        assert_eq!(mail.subject, "New sign-in to your Hoist account");
        assert!(mail.text.contains("<script>x</script>"));
        assert!(mail.html.contains("&lt;script&gt;x"), "{}", mail.html);
        assert!(!mail.html.contains("<script>"));
        let mail = render("sign_in", "mn", &context).unwrap();
        assert!(mail.subject.starts_with("Таны Hoist бүртгэлд"));
    }
}
