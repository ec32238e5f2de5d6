use leptos::prelude::*;

use crate::i18n::use_i18n;
use crate::session::{SignIn, error_text, landing_page, redirect_to, reload_to, use_viewer};
use crate::t;

/// The sign-in form. Works without JavaScript too (the form posts to the server function).
#[component]
pub fn LoginPage() -> impl IntoView {
    let i18n = use_i18n();
    let action = ServerAction::<SignIn>::new();
    Effect::new(move |_| {
        if let Some(Ok(viewer)) = action.value().get() {
            reload_to(landing_page(&viewer));
        }
    });
    let error = move || action.value().get().and_then(|result| result.err()).map(|e| error_text(&e));
    view! {
        <AlreadySignedIn/>
        <section class="page narrow">
            <h1>{t!(i18n, "login-title")}</h1>
            <ActionForm action=action attr:class="form" attr:aria-label=t!(i18n, "login-title")>
                <label for="username">{t!(i18n, "login-username")}</label>
                <input id="username" name="username" type="text" autocomplete="username" required/>
                <label for="password">{t!(i18n, "login-password")}</label>
                <input id="password" name="password" type="password" autocomplete="current-password" required/>
                <button type="submit" disabled=move || action.pending().get()>
                    {t!(i18n, "login-submit")}
                </button>
            </ActionForm>
            {move || error().map(|message| view! { <p class="error" role="alert">{message}</p> })}
        </section>
    }
}

/// A signed-in visitor has nothing to do here: on to where their dashboard starts.
#[component]
fn AlreadySignedIn() -> impl IntoView {
    let viewer = use_viewer();
    view! {
        <Suspense fallback=|| ()>
            {move || {
                if let Some(Ok(Some(viewer))) = viewer.get() {
                    redirect_to(landing_page(&viewer));
                }
            }}
        </Suspense>
    }
}
