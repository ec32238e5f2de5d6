//! The whole system's throughput as an inline SVG: completed jobs and failed attempts per
//! bar (a minute over the last hour, ten over the last day), stacked, with the time span
//! along the bottom and each bar's numbers on hover. No script: it renders without
//! JavaScript and hydrates as is.

use leptos::prelude::*;

use crate::types::Throughput;

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 120.0;

#[component]
pub fn ThroughputChart(data: Throughput) -> impl IntoView {
    let bars = data.completed.len().max(1);
    let peak = data.completed.iter().zip(&data.failed).map(|(c, f)| c + f).max().unwrap_or(0);
    let (completed, failed): (u64, u64) = (data.completed.iter().sum(), data.failed.iter().sum());
    let span = if data.minutes >= 1440 { "the last day" } else { "the last hour" };
    let per = if data.bar_minutes == 1 { "minute".to_string() } else { format!("{} minutes", data.bar_minutes) };
    let summary = format!(
        "Completed {} and failed {} in {span}; at most {} in one {per}",
        crate::i18n::use_i18n().number(completed),
        crate::i18n::use_i18n().number(failed),
        crate::i18n::use_i18n().number(peak)
    );
    let width = WIDTH / bars as f64;
    let scale = |n: u64| if peak == 0 { 0.0 } else { n as f64 * HEIGHT / peak as f64 };
    let rects = data
        .completed
        .iter()
        .zip(&data.failed)
        .enumerate()
        .filter(|(_, (c, f))| **c + **f > 0)
        .map(|(i, (c, f))| {
            let x = i as f64 * width;
            let (done, bad) = (scale(*c), scale(*f));
            let at = data.from + (i as i64) * i64::from(data.bar_minutes) * 60_000;
            let title = format!("{}: {} completed, {} failed", crate::i18n::use_i18n().date_time(at), crate::i18n::use_i18n().number(*c), crate::i18n::use_i18n().number(*f));
            view! {
                <g>
                    <title>{title}</title>
                    <rect class="completed" x=format!("{x:.2}") y=format!("{:.2}", HEIGHT - done) width=format!("{:.2}", (width - 0.6).max(0.6)) height=format!("{done:.2}")/>
                    <rect class="failed" x=format!("{x:.2}") y=format!("{:.2}", HEIGHT - done - bad) width=format!("{:.2}", (width - 0.6).max(0.6)) height=format!("{bad:.2}")/>
                </g>
            }
        })
        .collect_view();
    let start = if data.minutes >= 1440 { "24 h ago" } else { "60 min ago" };
    view! {
        <figure class="throughput-chart">
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") preserveAspectRatio="none" role="img" aria-label=summary.clone()>
                {rects}
            </svg>
            <div class="axis">
                <span>{start}</span>
                <span>{format!("peak {} / {per}", crate::i18n::use_i18n().number(peak))}</span>
                <span>"now"</span>
            </div>
            <figcaption>
                <span class="legend completed">"Completed " <strong data-total="completed">{crate::i18n::use_i18n().number(completed)}</strong></span>
                " "
                <span class="legend failed">"Failed " <strong data-total="failed">{crate::i18n::use_i18n().number(failed)}</strong></span>
            </figcaption>
        </figure>
    }
}

/// Jobs waiting over the last hour as a line, one point a minute; minutes without a sample
/// leave a gap.
#[component]
pub fn BacklogChart(values: Vec<Option<u64>>) -> impl IntoView {
    const W: f64 = 120.0;
    const H: f64 = 24.0;
    let peak = values.iter().flatten().copied().max().unwrap_or(0);
    let last = values.iter().rev().flatten().next().copied();
    let step = W / (values.len().max(2) - 1) as f64;
    let mut path = String::new();
    let mut drawing = false;
    for (i, value) in values.iter().enumerate() {
        match value {
            Some(v) => {
                let y = if peak == 0 { H - 1.0 } else { H - 1.0 - (*v as f64 * (H - 2.0) / peak as f64) };
                path.push_str(&format!("{}{:.2},{:.2} ", if drawing { "L" } else { "M" }, i as f64 * step, y));
                drawing = true;
            }
            None => drawing = false,
        }
    }
    let summary = match last {
        Some(last) => format!("Waiting over the last hour: now {}, at most {}", crate::i18n::use_i18n().number(last), crate::i18n::use_i18n().number(peak)),
        None => "Waiting over the last hour: no samples (no worker checked in)".to_string(),
    };
    let title = summary.clone();
    view! {
        <figure class="minute-chart backlog">
            <svg viewBox=format!("0 0 {W} {H}") preserveAspectRatio="none" role="img" aria-label=summary>
                <title>{title}</title>
                <path d=path/>
            </svg>
            <figcaption>"Waiting: " <span data-total="waiting">{last.map(|n| crate::i18n::use_i18n().number(n)).unwrap_or_else(|| "—".into())}</span></figcaption>
        </figure>
    }
}
