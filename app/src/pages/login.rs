use leptos::prelude::*;

use crate::session::{SignIn, error_text, reload_to};

/// The sign-in form. Works without JavaScript too (the form posts to the server function).
#[component]
pub fn LoginPage() -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    Effect::new(move |_| {
        if let Some(Ok(_)) = action.value().get() {
            reload_to("/");
        }
    });
    let error = move || action.value().get().and_then(|result| result.err()).map(|e| error_text(&e));
    view! {
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
