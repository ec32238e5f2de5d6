use leptos::prelude::*;

use crate::i18n::use_i18n;
use crate::t;

/// Per-minute counts as an inline SVG bar chart (no script, so it renders without
/// JavaScript and hydrates as is). Bars scale to the highest minute; the label gives the
/// total and peak for screen readers.
#[component]
pub fn MinuteChart(
    /// What is counted, in the page's language ("Processed").
    label: String,
    values: Vec<u64>,
    class: &'static str,
) -> impl IntoView {
    const WIDTH: usize = 120;
    const HEIGHT: u64 = 24;
    let i18n = use_i18n();
    let peak = values.iter().copied().max().unwrap_or(0);
    let total: u64 = values.iter().sum();
    let bar = WIDTH as f64 / values.len().max(1) as f64;
    let summary = t!(i18n, "overview-minute-chart-summary", label = label.clone(), total = total, peak = peak);
    let title = summary.clone();
    let bars = values
        .iter()
        .enumerate()
        .filter(|(_, v)| **v > 0)
        .map(|(i, v)| {
            // At least one unit tall, so a quiet minute with work still shows.
            let h = (v * HEIGHT).div_ceil(peak.max(1)).max(1);
            view! {
                <rect
                    x=format!("{:.2}", i as f64 * bar)
                    y=(HEIGHT - h).to_string()
                    width=format!("{:.2}", (bar - 0.4).max(0.5))
                    height=h.to_string()
                />
            }
        })
        .collect_view();
    view! {
        <figure class=format!("minute-chart {class}")>
            <svg
                viewBox=format!("0 0 {WIDTH} {HEIGHT}")
                preserveAspectRatio="none"
                role="img"
                aria-label=summary.clone()
            >
                <title>{title}</title>
                {bars}
            </svg>
            <figcaption>
                {label} ": " <span data-total=class>{i18n.number(total)}</span> " " {t!(i18n, "overview-per-hour")}
            </figcaption>
        </figure>
    }
}
