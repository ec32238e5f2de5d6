//! A table as every page draws one: inside a box that scrolls sideways when the table is
//! wider than the screen (focusable, so a keyboard can scroll it, and named after the
//! table), with its caption and header row.

use leptos::prelude::*;

use crate::components::table_head::TableHead;

/// `children` are the table's rows (the `<tbody>`'s content).
#[component]
pub fn DataTable(
    caption: &'static str,
    class: &'static str,
    #[prop(into)] columns: Vec<&'static str>,
    children: Children,
) -> impl IntoView {
    view! {
        <div class="table-scroll" tabindex="0" role="region" aria-label=caption>
            <table class=class>
                <TableHead caption columns/>
                <tbody>{children()}</tbody>
            </table>
        </div>
    }
}
