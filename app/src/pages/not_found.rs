use leptos::prelude::*;

use crate::i18n::use_i18n;
use crate::t;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    let i18n = use_i18n();
    view! {
        <section class="page">
            <h1>{t!(i18n, "not-found-title")}</h1>
            <p>
                {t!(i18n, "not-found-text")}
                " "
                <a href=crate::mount_path::href("/")>{t!(i18n, "not-found-back")}</a>
            </p>
        </section>
    }
}
