//! Switching the dashboard's language: a button naming the other language in its own
//! words. The choice is stored with the signed-in user and in a cookie, then the page
//! loads again in it (every text, and what the server words, such as cron in words).
//! A choice made in another browser needs nothing here: the server renders a signed-in
//! user's pages in their stored language and sets the cookie to it.

use leptos::prelude::*;

use crate::i18n::{Language, use_i18n};
use crate::session::{SetLanguage, ViewerResource, error_text};
use crate::t;

#[component]
pub fn LanguageMenu(viewer: ViewerResource) -> impl IntoView {
    let i18n = use_i18n();
    let current = i18n.language();
    let set = ServerAction::<SetLanguage>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = set.value().get() {
            reload();
        }
    });
    let csrf = move || viewer.get().and_then(|v| v.ok().flatten()).map(|v| v.csrf).unwrap_or_default();
    let failed = move || set.value().get().and_then(|result| result.err()).map(|e| error_text(&e));
    let forms = Language::ALL
        .into_iter()
        .filter(|language| *language != current)
        .map(|language| {
            view! {
                <ActionForm action=set attr:class="inline language-menu" attr:aria-label=t!(i18n, "layout-language-menu")>
                    <input type="hidden" name="language" value=language.code()/>
                    <Transition fallback=|| ()>
                        <input type="hidden" name="csrf" value=csrf/>
                    </Transition>
                    <button type="submit" lang=language.code()>{language.native_name()}</button>
                </ActionForm>
            }
        })
        .collect_view();
    view! {
        {forms}
        {move || failed().map(|message| view! { <p class="error" role="alert">{message}</p> })}
    }
}

/// Loads the page again, where it is.
fn reload() {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let _ = window.location().reload();
    }
}
