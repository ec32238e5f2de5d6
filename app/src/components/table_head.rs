use leptos::prelude::*;

use crate::i18n::use_i18n;
use crate::t;

/// A table's column names, in the page's language (`vec![t!(i18n, …), …]`, or a fixed
/// list of names).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Columns(pub Vec<String>);

impl From<Vec<String>> for Columns {
    fn from(names: Vec<String>) -> Self {
        Columns(names)
    }
}

impl From<Vec<&str>> for Columns {
    fn from(names: Vec<&str>) -> Self {
        Columns(names.into_iter().map(str::to_string).collect())
    }
}

impl<const N: usize> From<&[&str; N]> for Columns {
    fn from(names: &[&str; N]) -> Self {
        Columns(names.iter().map(|name| name.to_string()).collect())
    }
}

/// A table's caption (for screen readers) and header row. An empty column name is an
/// actions column: its header is read as "Actions" but not shown.
#[component]
pub fn TableHead(#[prop(into)] caption: String, #[prop(into)] columns: Columns) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <caption class="visually-hidden">{caption}</caption>
        <thead>
            <tr>
                {columns
                    .0
                    .into_iter()
                    .map(|name| {
                        if name.is_empty() {
                            view! {
                                <th scope="col">
                                    <span class="visually-hidden">{t!(i18n, "layout-actions-column")}</span>
                                </th>
                            }
                                .into_any()
                        } else {
                            view! { <th scope="col">{name}</th> }.into_any()
                        }
                    })
                    .collect_view()}
            </tr>
        </thead>
    }
}
