//! Keyboard shortcuts, as Oban Web has them: `g` then a letter goes to a page, `/` to the
//! page's search box, `?` shows them all, `Esc` closes that. Keys typed into a field are
//! left alone.

use leptos::prelude::*;

use crate::i18n::{msg, use_i18n};
use crate::t;
use crate::types::Viewer;

/// A page reachable by `g` + `key`, and who may use it.
struct GoTo {
    key: &'static str,
    // Read by the key handler, which only the browser build has.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    path: &'static str,
    label: &'static str,
    staff_only: bool,
}

const GO_TO: [GoTo; 8] = [
    GoTo { key: "o", path: "/", label: msg("layout-nav-overview"), staff_only: true },
    GoTo { key: "d", path: "/dead", label: msg("layout-nav-dead-letters"), staff_only: true },
    GoTo { key: "s", path: "/schedules", label: msg("layout-nav-schedules"), staff_only: true },
    GoTo { key: "p", path: "/processes", label: msg("layout-nav-processes"), staff_only: true },
    GoTo { key: "a", path: "/alerts", label: msg("layout-nav-alerts"), staff_only: true },
    GoTo { key: "h", path: "/history", label: msg("layout-nav-history"), staff_only: true },
    GoTo { key: "f", path: "/search", label: msg("layout-nav-search"), staff_only: false },
    GoTo { key: "m", path: "/me", label: msg("layout-nav-my-jobs"), staff_only: false },
];

/// The help overlay, and (in the browser) the key handling behind it.
#[component]
pub fn KeyboardShortcuts(viewer: Option<Viewer>) -> impl IntoView {
    let i18n = use_i18n();
    let open = RwSignal::new(false);
    let staff = viewer.as_ref().is_some_and(Viewer::is_staff);
    let signed_in = viewer.is_some();
    let allowed = move |go: &GoTo| signed_in && (staff || !go.staff_only);
    #[cfg(feature = "hydrate")]
    listen(open, move |key| GO_TO.iter().find(|go| go.key == key && allowed(go)).map(|go| go.path));
    let close_button = NodeRef::<leptos::html::Button>::new();
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if open.get()
            && let Some(button) = close_button.get()
        {
            let _ = button.focus();
        }
    });
    let rows = GO_TO
        .iter()
        .filter(|go| allowed(go))
        .map(|go| {
            view! {
                <dt>
                    <kbd>"g"</kbd>
                    " "
                    <kbd>{go.key}</kbd>
                </dt>
                <dd>{i18n.text(go.label)}</dd>
            }
        })
        .collect_view();
    view! {
        <div
            class="shortcuts-overlay"
            role="dialog"
            aria-modal="true"
            aria-labelledby="shortcuts-title"
            hidden=move || !open.get()
            on:click=move |_| open.set(false)
        >
            <div class="shortcuts-panel" on:click=|event| event.stop_propagation()>
                <h2 id="shortcuts-title">{t!(i18n, "layout-shortcuts-title")}</h2>
                <dl>
                    {rows}
                    <dt>
                        <kbd>"/"</kbd>
                    </dt>
                    <dd>{t!(i18n, "layout-shortcuts-search")}</dd>
                    <dt>
                        <kbd>"?"</kbd>
                    </dt>
                    <dd>{t!(i18n, "layout-shortcuts-this-list")}</dd>
                    <dt>
                        <kbd>"Esc"</kbd>
                    </dt>
                    <dd>{t!(i18n, "layout-shortcuts-close-it")}</dd>
                </dl>
                <button type="button" node_ref=close_button on:click=move |_| open.set(false)>
                    {t!(i18n, "layout-shortcuts-close")}
                </button>
            </div>
        </div>
    }
}

/// Handles keys on the whole window: `?` toggles the help, `Esc` closes it, `/` focuses
/// the page's search box, `g` then a letter goes where `destination` says.
#[cfg(feature = "hydrate")]
fn listen(open: RwSignal<bool>, destination: impl Fn(&str) -> Option<&'static str> + 'static) {
    use wasm_bindgen::JsCast;
    // When `g` was pressed (ms): the next key within 1.5 s picks the page.
    let pending_g = std::rc::Rc::new(std::cell::Cell::new(None::<f64>));
    let handle = window_event_listener(leptos::ev::keydown, move |event: web_sys::KeyboardEvent| {
        if event.ctrl_key() || event.meta_key() || event.alt_key() {
            return;
        }
        let key = event.key();
        if key == "Escape" {
            open.set(false);
            return;
        }
        let typing =
            event.target().and_then(|target| target.dyn_into::<web_sys::Element>().ok()).is_some_and(|element| {
                matches!(element.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
                    || element.get_attribute("contenteditable").is_some()
            });
        if typing {
            return;
        }
        let now = js_sys::Date::now();
        if pending_g.take().is_some_and(|at| now - at < 1_500.0) {
            if let Some(path) = destination(&key) {
                event.prevent_default();
                open.set(false);
                crate::session::reload_to(path);
            }
            return;
        }
        match key.as_str() {
            "?" => {
                event.prevent_default();
                open.update(|open| *open = !*open);
            }
            "/" => {
                let field = web_sys::window().and_then(|w| w.document()).and_then(|d| {
                    d.query_selector(
                        "main form[role=search] input:not([type=hidden]), main .filters input:not([type=hidden])",
                    )
                    .ok()
                    .flatten()
                });
                if let Some(field) = field.and_then(|f| f.dyn_into::<web_sys::HtmlElement>().ok()) {
                    event.prevent_default();
                    let _ = field.focus();
                }
            }
            "g" => pending_g.set(Some(now)),
            _ => {}
        }
    });
    on_cleanup(move || handle.remove());
}
