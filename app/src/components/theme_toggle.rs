use leptos::prelude::*;

use crate::i18n::{I18n, use_i18n};
use crate::t;

/// The colour scheme a user chose; `System` follows the operating system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Theme {
    System,
    Light,
    Dark,
}

impl Theme {
    pub fn next(self) -> Self {
        match self {
            Theme::System => Theme::Dark,
            Theme::Dark => Theme::Light,
            Theme::Light => Theme::System,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Theme::System => "system",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    pub fn parse(value: &str) -> Self {
        match value {
            "light" => Theme::Light,
            "dark" => Theme::Dark,
            _ => Theme::System,
        }
    }

    pub fn label(self, i18n: I18n) -> String {
        match self {
            Theme::System => t!(i18n, "layout-theme-system"),
            Theme::Light => t!(i18n, "layout-theme-light"),
            Theme::Dark => t!(i18n, "layout-theme-dark"),
        }
    }
}

/// Cycles system → dark → light; the choice is kept in `localStorage` and applied as
/// `data-theme` on `<html>`, which the stylesheet reads.
#[component]
pub fn ThemeToggle() -> impl IntoView {
    let i18n = use_i18n();
    let theme = RwSignal::new(Theme::System);

    // Browser APIs only inside effects: the server renders the neutral "system" state.
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(saved) = browser::load() {
            theme.set(saved);
        }
    });
    Effect::new(move |_| {
        let current = theme.get();
        #[cfg(feature = "hydrate")]
        browser::apply(current);
        #[cfg(not(feature = "hydrate"))]
        let _ = current;
    });

    view! {
        <button
            type="button"
            class="theme-toggle"
            data-theme-choice=move || theme.get().as_str()
            aria-label=move || theme.get().label(i18n)
            on:click=move |_| theme.update(|t| *t = t.next())
        >
            {move || theme.get().label(i18n)}
        </button>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::Theme;

    const KEY: &str = "hoist-theme";

    pub fn load() -> Option<Theme> {
        let storage = leptos::prelude::window().local_storage().ok()??;
        storage.get_item(KEY).ok()?.map(|v| Theme::parse(&v))
    }

    pub fn apply(theme: Theme) {
        let window = leptos::prelude::window();
        if let Ok(Some(storage)) = window.local_storage() {
            let _ = storage.set_item(KEY, theme.as_str());
        }
        if let Some(root) = window.document().and_then(|d| d.document_element()) {
            let _ = root.set_attribute("data-theme", theme.as_str());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Theme;

    #[test]
    fn cycles_through_every_theme_and_round_trips_its_name() {
        let mut theme = Theme::System;
        let mut seen = vec![];
        for _ in 0..3 {
            seen.push(theme);
            assert_eq!(Theme::parse(theme.as_str()), theme);
            theme = theme.next();
        }
        assert_eq!(theme, Theme::System);
        assert_eq!(seen, vec![Theme::System, Theme::Dark, Theme::Light]);
    }
}
