use leptos::prelude::*;

/// A dangerous action behind a disclosure: the summary opens it, the warning says what
/// will happen, and the form inside (`children`) holds the confirming button. Works
/// without JavaScript. The texts may follow a signal (a count that changes live).
#[component]
pub fn Confirm(
    #[prop(into)] summary: Signal<String>,
    #[prop(optional, into)] warning: Option<Signal<String>>,
    children: Children,
) -> impl IntoView {
    view! {
        <details class="confirm">
            <summary>{summary}</summary>
            {warning.map(|w| view! { <p>{w}</p> })}
            {children()}
        </details>
    }
}
