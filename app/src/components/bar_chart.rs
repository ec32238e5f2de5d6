//! A bar chart as inline SVG: one bar per slot, two stacked series (say completed and
//! dead), each bar's figures on hover, and the whole chart summed up for screen readers.
//! No script: it renders without JavaScript and hydrates as is.

use leptos::prelude::*;

use crate::i18n::use_i18n;
use crate::t;

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 120.0;

/// One bar: its label (the slot's time) and the two series' values.
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    pub label: String,
    pub first: u64,
    pub second: u64,
}

/// `summary` is read out in place of the drawing; `first_name`/`second_name` name the
/// series in each bar's tooltip; `start`/`end` label the axis ends.
#[component]
pub fn BarChart(
    bars: Vec<Bar>,
    #[prop(into)] summary: String,
    #[prop(into)] first_name: String,
    #[prop(into)] second_name: String,
    #[prop(into)] start: String,
    #[prop(into)] end: String,
    class: &'static str,
) -> impl IntoView {
    let i18n = use_i18n();
    let peak = bars.iter().map(|b| b.first + b.second).max().unwrap_or(0);
    let width = WIDTH / bars.len().max(1) as f64;
    let scale = |n: u64| if peak == 0 { 0.0 } else { n as f64 * HEIGHT / peak as f64 };
    let rects = bars
        .into_iter()
        .enumerate()
        .filter(|(_, bar)| bar.first + bar.second > 0)
        .map(|(i, bar)| {
            let x = i as f64 * width;
            let (low, high) = (scale(bar.first), scale(bar.second));
            let bar_width = format!("{:.2}", (width - 0.6).max(0.6));
            let title = format!("{}: {} {}, {} {}", bar.label, first_name, bar.first, second_name, bar.second);
            view! {
                <g>
                    <title>{title}</title>
                    <rect class="completed" x=format!("{x:.2}") y=format!("{:.2}", HEIGHT - low) width=bar_width.clone() height=format!("{low:.2}")/>
                    <rect class="failed" x=format!("{x:.2}") y=format!("{:.2}", HEIGHT - low - high) width=bar_width height=format!("{high:.2}")/>
                </g>
            }
        })
        .collect_view();
    view! {
        <figure class=format!("throughput-chart {class}")>
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") preserveAspectRatio="none" role="img" aria-label=summary.clone()>
                {rects}
            </svg>
            <div class="axis">
                <span>{start}</span>
                <span>{t!(i18n, "chart-peak", peak = peak)}</span>
                <span>{end}</span>
            </div>
            <figcaption>{summary}</figcaption>
        </figure>
    }
}
