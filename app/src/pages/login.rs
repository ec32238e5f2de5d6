use leptos::prelude::*;

use crate::session::{SignIn, error_text, landing_page, redirect_to, reload_to, use_viewer};

/// The sign-in form. Works without JavaScript too (the form posts to the server function).
#[component]
pub fn LoginPage() -> impl IntoView {
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
            <h1>"Sign in"</h1>
            <ActionForm action=action attr:class="form" attr:aria-label="Sign in">
                <label for="username">"Username"</label>
                <input id="username" name="username" type="text" autocomplete="username" required/>
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="current-password" required/>
                <button type="submit" disabled=move || action.pending().get()>"Sign in"</button>
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
