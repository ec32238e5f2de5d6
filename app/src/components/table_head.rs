use leptos::prelude::*;

/// A table's caption (for screen readers) and header row. An empty column name is an
/// actions column: its header is read as "Actions" but not shown.
#[component]
pub fn TableHead(caption: &'static str, #[prop(into)] columns: Vec<&'static str>) -> impl IntoView {
    view! {
        <caption class="visually-hidden">{caption}</caption>
        <thead>
            <tr>
                {columns
                    .into_iter()
                    .map(|name| {
                        if name.is_empty() {
                            view! {
                                <th scope="col">
                                    <span class="visually-hidden">"Actions"</span>
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
