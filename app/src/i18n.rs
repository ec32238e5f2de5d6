//! The dashboard in English and Mongolian: every text a page shows comes from the
//! Fluent files in `app/locales/<language>/`, looked up by message id with [`t!`](crate::t!).
//!
//! The language is fixed for a page load. The server picks it (the `hoist_lang` cookie,
//! which signing in and the language menu set from the user's stored choice, else the
//! browser's `Accept-Language`, else English), renders the page in it and writes it into
//! `<html lang>`, where the browser reads it back so hydration renders the same text.
//! Choosing another language stores it and reloads the page.
//!
//! Numbers and dates are formatted here too, per language, without the browser's `Intl`
//! (the server has none, and both sides must render the same text).

use std::borrow::Cow;
use std::sync::LazyLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The text of message `$id` in the page's language, with named arguments:
/// `t!(i18n, "queue-jobs-done", count = n)`.
#[macro_export]
macro_rules! t {
    ($i18n:expr, $id:literal) => {
        $i18n.text($id)
    };
    ($i18n:expr, $id:literal, $($name:ident = $value:expr),+ $(,)?) => {{
        let mut args = ::fluent_bundle::FluentArgs::new();
        $(args.set(stringify!($name), ::fluent_bundle::FluentValue::from($value));)+
        $i18n.format($id, Some(&args))
    }};
}

/// The name of the cookie holding the chosen language.
pub const LANGUAGE_COOKIE: &str = "hoist_lang";

/// A language the dashboard is written in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    En,
    Mn,
}

impl Language {
    pub const ALL: [Language; 2] = [Language::En, Language::Mn];

    /// The BCP 47 tag (`en`, `mn`), as in `<html lang>` and the cookie.
    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Mn => "mn",
        }
    }

    /// The language of a tag such as `mn`, `mn-MN` or `en-GB` (case-insensitive).
    pub fn from_tag(tag: &str) -> Option<Language> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Language::En),
            "mn" => Some(Language::Mn),
            _ => None,
        }
    }

    /// The language's own name for itself, as the language menu lists it.
    pub fn native_name(self) -> &'static str {
        match self {
            Language::En => "English",
            Language::Mn => "Монгол",
        }
    }

    /// The best of ours for an `Accept-Language` header (`mn-MN,mn;q=0.9,en;q=0.8`):
    /// the highest-weighted tag we have, ties kept in the header's order.
    pub fn from_accept_language(header: &str) -> Option<Language> {
        let mut best: Option<(f32, Language)> = None;
        for item in header.split(',') {
            let mut parts = item.split(';');
            let Some(language) = parts.next().and_then(Language::from_tag) else { continue };
            // RFC 9110: `q` is case-insensitive and between 0 and 1; an item with a
            // malformed weight is skipped.
            let weight = match parts.map(str::trim).find(|p| p.len() > 2 && p[..2].eq_ignore_ascii_case("q=")) {
                None => Some(1.0),
                Some(q) => q[2..].trim().parse::<f32>().ok().filter(|w| (0.0..=1.0).contains(w)),
            };
            let Some(weight) = weight else { continue };
            if weight > 0.0 && best.is_none_or(|(w, _)| weight > w) {
                best = Some((weight, language));
            }
        }
        best.map(|(_, language)| language)
    }

    /// The language named by a `Cookie` header's `hoist_lang` cookie.
    pub fn from_cookie_header(header: &str) -> Option<Language> {
        header
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .filter(|(name, _)| *name == LANGUAGE_COOKIE)
            .find_map(|(_, value)| Language::from_tag(value))
    }

    /// The language of a request: its `hoist_lang` cookie, else its `Accept-Language`,
    /// else English.
    #[cfg(feature = "ssr")]
    pub fn of_request(headers: &http::HeaderMap) -> Language {
        let text = |name| headers.get_all(name).into_iter().filter_map(|v| v.to_str().ok());
        text(http::header::COOKIE)
            .find_map(Language::from_cookie_header)
            .or_else(|| text(http::header::ACCEPT_LANGUAGE).find_map(Language::from_accept_language))
            .unwrap_or_default()
    }
}

/// One language's messages, in the order their files are read.
macro_rules! ftl_files {
    ($language:literal: $($file:literal),+ $(,)?) => {
        &[$((concat!($language, "/", $file, ".ftl"), include_str!(concat!("../locales/", $language, "/", $file, ".ftl")))),+]
    };
}

/// The files of each language; each concept of the dashboard has its own.
macro_rules! every_file {
    ($language:literal) => {
        ftl_files!($language: "common", "format", "errors", "health", "layout", "login", "overview", "queue", "job", "dead_letters",
            "schedules", "processes", "alerts", "history", "search", "audit", "reports", "users", "my_jobs", "status")
    };
}

/// Every Fluent file of `language`: (path under `app/locales/`, text).
pub fn sources(language: Language) -> &'static [(&'static str, &'static str)] {
    match language {
        Language::En => every_file!("en"),
        Language::Mn => every_file!("mn"),
    }
}

type Bundle = FluentBundle<FluentResource>;

fn bundle(language: Language) -> &'static Bundle {
    static EN: LazyLock<Bundle> = LazyLock::new(|| build_bundle(Language::En));
    static MN: LazyLock<Bundle> = LazyLock::new(|| build_bundle(Language::Mn));
    match language {
        Language::En => &EN,
        Language::Mn => &MN,
    }
}

fn build_bundle(language: Language) -> Bundle {
    let tag = language.code().parse().unwrap_or_default();
    let mut bundle = Bundle::new_concurrent(vec![tag]);
    // No Unicode isolation marks around placeables: both languages run left to right,
    // and the marks would end up in copied text and in tests' text matching.
    bundle.set_use_isolating(false);
    bundle.set_formatter(Some(match language {
        Language::En => format_value_en,
        Language::Mn => format_value_mn,
    }));
    for (path, text) in sources(language) {
        // The files are checked by this crate's tests; a broken entry is skipped, not fatal.
        let resource = FluentResource::try_new(text.to_string()).unwrap_or_else(|(partial, _)| partial);
        if let Err(errors) = bundle.add_resource(resource) {
            log_problem(&format!("{path}: {errors:?}"));
        }
    }
    bundle
}

fn format_value_en<M>(value: &FluentValue, _: &M) -> Option<String> {
    format_number_value(Language::En, value)
}

fn format_value_mn<M>(value: &FluentValue, _: &M) -> Option<String> {
    format_number_value(Language::Mn, value)
}

/// Numbers placed into messages are grouped the language's way.
fn format_number_value(language: Language, value: &FluentValue) -> Option<String> {
    match value {
        FluentValue::Number(number) => {
            let digits = number.options.minimum_fraction_digits.unwrap_or(0);
            Some(crate::format::decimal(language, number.value, digits))
        }
        _ => None,
    }
}

fn log_problem(message: &str) {
    #[cfg(feature = "ssr")]
    tracing_log(message);
    #[cfg(feature = "hydrate")]
    web_sys::console::warn_1(&message.into());
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    let _ = message;
}

#[cfg(feature = "ssr")]
fn tracing_log(message: &str) {
    // The app crate has no logger of its own; stderr reaches the server's log.
    eprintln!("hoist i18n: {message}");
}

/// The page's language and its messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct I18n {
    language: Language,
}

impl I18n {
    pub const fn new(language: Language) -> Self {
        I18n { language }
    }

    pub fn language(self) -> Language {
        self.language
    }

    /// The message `id`, or `id` itself (and a warning) when no file defines it.
    pub fn text(self, id: &str) -> String {
        self.format(id, None)
    }

    /// The message `id` with its `{ $name }` placeholders filled from `args`.
    pub fn format(self, id: &str, args: Option<&FluentArgs>) -> String {
        let bundle = bundle(self.language);
        let Some(pattern) = bundle.get_message(id).and_then(|message| message.value()) else {
            log_problem(&format!("no message `{id}` in {}", self.language.code()));
            return id.to_string();
        };
        let mut errors = vec![];
        let text: Cow<str> = bundle.format_pattern(pattern, args, &mut errors);
        if !errors.is_empty() {
            log_problem(&format!("message `{id}` in {}: {errors:?}", self.language.code()));
        }
        text.into_owned()
    }
}

/// Marks `id` as a message id where the text is looked up later (`i18n.text(id)`), as in
/// tables of labels; the tests check every id so marked exists.
pub const fn msg(id: &'static str) -> &'static str {
    id
}

impl I18n {
    /// A job state's name (`waiting`, `dead`, …); an unknown state as it is.
    pub fn job_state(self, state: &str) -> String {
        let i18n = self;
        match state {
            "waiting" => t!(i18n, "state-waiting"),
            "active" => t!(i18n, "state-active"),
            "delayed" => t!(i18n, "state-delayed"),
            "retrying" => t!(i18n, "state-retrying"),
            "completed" => t!(i18n, "state-completed"),
            "failed" => t!(i18n, "state-failed"),
            "dead" => t!(i18n, "state-dead"),
            "cancelled" => t!(i18n, "state-cancelled"),
            "expired" => t!(i18n, "state-expired"),
            "paused" => t!(i18n, "state-paused"),
            other => other.to_string(),
        }
    }

    /// A role's name (`admin`, `operator`, `viewer`, `user`); an unknown one as it is.
    pub fn role(self, role: &str) -> String {
        let i18n = self;
        match role {
            "admin" => t!(i18n, "role-admin"),
            "operator" => t!(i18n, "role-operator"),
            "viewer" => t!(i18n, "role-viewer"),
            "user" => t!(i18n, "role-user"),
            "anonymous" => t!(i18n, "role-anonymous"),
            other => other.to_string(),
        }
    }
}

/// Sets the page's language for everything below the root; called once, by the app.
pub fn provide_i18n() -> I18n {
    let i18n = I18n::new(page_language());
    provide_context(i18n);
    i18n
}

/// The page's language (English outside an app, as in unit tests).
pub fn use_i18n() -> I18n {
    use_context::<I18n>().unwrap_or_else(|| I18n::new(Language::En))
}

/// The language of the request being served (English outside a request), for server
/// code that writes text the page shows.
///
/// A `Language` in the request's extensions wins: the server puts the signed-in user's
/// stored choice there.
#[cfg(feature = "ssr")]
pub fn request_language() -> Language {
    use_context::<http::request::Parts>()
        .map(|parts| {
            parts.extensions.get::<Language>().copied().unwrap_or_else(|| Language::of_request(&parts.headers))
        })
        .unwrap_or_default()
}

/// On the server: the request's language. In the browser: what the server wrote into
/// `<html lang>`.
fn page_language() -> Language {
    #[cfg(feature = "ssr")]
    {
        request_language()
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
            .and_then(|html| html.get_attribute("lang"))
            .and_then(|lang| Language::from_tag(&lang))
            .unwrap_or_default()
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    Language::En
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    use fluent_syntax::ast;

    /// Every message of a language: id → the variables it uses.
    fn messages(language: Language) -> BTreeMap<String, BTreeSet<String>> {
        let mut all = BTreeMap::new();
        for (path, text) in sources(language) {
            let resource =
                fluent_syntax::parser::parse(*text).unwrap_or_else(|(_, errors)| panic!("{path}: {errors:?}"));
            for entry in resource.body {
                if let ast::Entry::Message(message) = entry {
                    let mut variables = BTreeSet::new();
                    if let Some(pattern) = &message.value {
                        collect_variables(pattern, &mut variables);
                    }
                    let id = message.id.name.to_string();
                    assert!(all.insert(id.clone(), variables).is_none(), "{path}: `{id}` defined twice");
                }
            }
        }
        all
    }

    fn collect_variables(pattern: &ast::Pattern<&str>, into: &mut BTreeSet<String>) {
        for element in &pattern.elements {
            if let ast::PatternElement::Placeable { expression } = element {
                collect_expression(expression, into);
            }
        }
    }

    fn collect_expression(expression: &ast::Expression<&str>, into: &mut BTreeSet<String>) {
        match expression {
            ast::Expression::Select { selector, variants } => {
                collect_inline(selector, into);
                for variant in variants {
                    collect_variables(&variant.value, into);
                }
            }
            ast::Expression::Inline(inline) => collect_inline(inline, into),
        }
    }

    fn collect_inline(inline: &ast::InlineExpression<&str>, into: &mut BTreeSet<String>) {
        match inline {
            ast::InlineExpression::VariableReference { id } => {
                into.insert(id.name.to_string());
            }
            ast::InlineExpression::Placeable { expression } => collect_expression(expression, into),
            _ => {}
        }
    }

    #[test]
    fn both_languages_have_the_same_messages_with_the_same_variables() {
        let (en, mn) = (messages(Language::En), messages(Language::Mn));
        let only_en: Vec<_> = en.keys().filter(|id| !mn.contains_key(*id)).collect();
        let only_mn: Vec<_> = mn.keys().filter(|id| !en.contains_key(*id)).collect();
        assert!(only_en.is_empty(), "not translated into Mongolian: {only_en:?}");
        assert!(only_mn.is_empty(), "in Mongolian only: {only_mn:?}");
        for (id, variables) in &en {
            // A translation may leave a variable out (Mongolian has no plural ending to
            // pick), but never use one the code does not pass.
            let extra: Vec<_> = mn[id].difference(variables).collect();
            assert!(extra.is_empty(), "`{id}` in Mongolian uses {extra:?}, which English does not");
        }
    }

    #[test]
    fn every_message_the_code_asks_for_exists() {
        let en = messages(Language::En);
        let mut missing = vec![];
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        let mut stack = vec![std::path::PathBuf::from(root)];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("i18n.rs") {
                    let source = std::fs::read_to_string(&path).unwrap();
                    for id in message_ids_in(&source) {
                        if !en.contains_key(&id) {
                            missing.push(format!("{}: {id}", path.display()));
                        }
                    }
                }
            }
        }
        assert!(missing.is_empty(), "messages used but defined nowhere: {missing:#?}");
    }

    /// The ids in `t!(i18n, "…"` calls and in `msg("…")` tables (this file, which names
    /// the patterns, is not searched).
    fn message_ids_in(source: &str) -> Vec<String> {
        let mut ids = vec![];
        for marker in ["t!(i18n, \"", "msg(\""] {
            let mut rest = source;
            while let Some(at) = rest.find(marker) {
                rest = &rest[at + marker.len()..];
                if let Some(end) = rest.find('"') {
                    ids.push(rest[..end].to_string());
                }
            }
        }
        ids
    }

    #[test]
    fn every_message_formats_without_errors_in_both_languages() {
        for language in Language::ALL {
            let bundle = bundle(language);
            for (id, variables) in messages(language) {
                let mut args = FluentArgs::new();
                for name in &variables {
                    args.set(name.clone(), FluentValue::from(2));
                }
                let pattern = bundle.get_message(&id).and_then(|m| m.value()).unwrap();
                let mut errors = vec![];
                let text = bundle.format_pattern(pattern, Some(&args), &mut errors);
                assert!(errors.is_empty(), "{id} ({}): {errors:?}", language.code());
                assert!(!text.trim().is_empty(), "{id} ({}) is empty", language.code());
            }
        }
    }

    #[test]
    fn plurals_and_numbers_follow_the_language() {
        let en = I18n::new(Language::En);
        assert_eq!(t!(en, "common-jobs", count = 1), "1 job");
        assert_eq!(t!(en, "common-jobs", count = 12_000), "12,000 jobs");
        let mn = I18n::new(Language::Mn);
        assert_eq!(t!(mn, "common-jobs", count = 12_000), "12,000 ажил");
    }

    #[test]
    fn the_language_comes_from_the_tag_or_the_header() {
        assert_eq!(Language::from_tag("mn-MN"), Some(Language::Mn));
        assert_eq!(Language::from_tag("EN_gb"), Some(Language::En));
        assert_eq!(Language::from_tag("fr"), None);
        assert_eq!(Language::from_accept_language("fr-FR,mn;q=0.9,en;q=0.8"), Some(Language::Mn));
        assert_eq!(Language::from_accept_language("en;q=0.5, mn;q=0.7"), Some(Language::Mn));
        assert_eq!(Language::from_accept_language("mn;q=0, en"), Some(Language::En));
        assert_eq!(Language::from_accept_language("mn;Q=0, en;q=0.5"), Some(Language::En), "Q is q");
        assert_eq!(Language::from_accept_language("mn;q=abc, en;q=0.1"), Some(Language::En), "bad weight: skipped");
        assert_eq!(Language::from_accept_language("mn;q=2, en;q=0.1"), Some(Language::En), "weights are at most 1");
        assert_eq!(Language::from_accept_language("*, mn;q=0.3"), Some(Language::Mn));
        assert_eq!(Language::from_accept_language("de, fr"), None);
        assert_eq!(Language::from_accept_language(""), None);
        assert_eq!(Language::from_cookie_header("a=b; hoist_lang=mn; c=d"), Some(Language::Mn));
        assert_eq!(Language::from_cookie_header("xhoist_lang=mn"), None);
        assert_eq!(Language::from_cookie_header("hoist_lang=xx; hoist_lang=mn"), Some(Language::Mn));
    }
}
