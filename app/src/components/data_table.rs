//! A table as every page draws one: inside a box that scrolls sideways when the table is
//! wider than the screen (focusable, so a keyboard can scroll it, and named after the
//! table), with its caption and header row.

use leptos::prelude::*;

use crate::components::table_head::{Columns, TableHead};

/// `children` are the table's rows (the `<tbody>`'s content).
#[component]
pub fn DataTable(
    #[prop(into)] caption: String,
    class: &'static str,
    #[prop(into)] columns: Columns,
    children: Children,
) -> impl IntoView {
    let label = caption.clone();
    view! {
        <div class="table-scroll" tabindex="0" role="region" aria-label=label>
            <table class=class>
                <TableHead caption columns/>
                <tbody>{children()}</tbody>
            </table>
        </div>
    }
}
