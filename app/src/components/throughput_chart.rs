//! The whole system's throughput as an inline SVG: completed jobs and failed attempts per
//! bar (a minute over the last hour, ten over the last day), stacked, with the time span
//! along the bottom and each bar's numbers on hover. No script: it renders without
//! JavaScript and hydrates as is.

use leptos::prelude::*;

use crate::i18n::use_i18n;
use crate::t;
use crate::types::Throughput;

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 120.0;

#[component]
pub fn ThroughputChart(data: Throughput) -> impl IntoView {
    let i18n = use_i18n();
    let bars = data.completed.len().max(1);
    let peak = data.completed.iter().zip(&data.failed).map(|(c, f)| c + f).max().unwrap_or(0);
    let (completed, failed): (u64, u64) = (data.completed.iter().sum(), data.failed.iter().sum());
    let day = data.minutes >= 1440;
    let bar = data.bar_minutes;
    let summary = if day {
        t!(i18n, "overview-throughput-summary-day", completed = completed, failed = failed, peak = peak, bar = bar)
    } else {
        t!(i18n, "overview-throughput-summary-hour", completed = completed, failed = failed, peak = peak, bar = bar)
    };
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
            let title = t!(i18n, "overview-throughput-bar", at = i18n.date_time(at), completed = *c, failed = *f);
            view! {
                <g>
                    <title>{title}</title>
                    <rect class="completed" x=format!("{x:.2}") y=format!("{:.2}", HEIGHT - done) width=format!("{:.2}", (width - 0.6).max(0.6)) height=format!("{done:.2}")/>
                    <rect class="failed" x=format!("{x:.2}") y=format!("{:.2}", HEIGHT - done - bad) width=format!("{:.2}", (width - 0.6).max(0.6)) height=format!("{bad:.2}")/>
                </g>
            }
        })
        .collect_view();
    let start = if day { t!(i18n, "time-hours-ago", count = 24) } else { t!(i18n, "time-minutes-ago", count = 60) };
    view! {
        <figure class="throughput-chart">
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") preserveAspectRatio="none" role="img" aria-label=summary.clone()>
                {rects}
            </svg>
            <div class="axis">
                <span>{start}</span>
                <span>{t!(i18n, "overview-throughput-peak", peak = peak, bar = bar)}</span>
                <span>{t!(i18n, "overview-throughput-now")}</span>
            </div>
            <figcaption>
                <span class="legend completed">
                    {t!(i18n, "overview-throughput-completed")} " " <strong data-total="completed">{i18n.number(completed)}</strong>
                </span>
                " "
                <span class="legend failed">
                    {t!(i18n, "overview-throughput-failed")} " " <strong data-total="failed">{i18n.number(failed)}</strong>
                </span>
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
    let i18n = use_i18n();
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
        Some(last) => t!(i18n, "overview-backlog-summary", last = last, peak = peak),
        None => t!(i18n, "overview-backlog-no-samples"),
    };
    let title = summary.clone();
    view! {
        <figure class="minute-chart backlog">
            <svg viewBox=format!("0 0 {W} {H}") preserveAspectRatio="none" role="img" aria-label=summary>
                <title>{title}</title>
                <path d=path/>
            </svg>
            <figcaption>
                {t!(i18n, "overview-backlog-waiting")} " "
                <span data-total="waiting">{last.map(|n| i18n.number(n)).unwrap_or_else(|| "—".into())}</span>
            </figcaption>
        </figure>
    }
}

#[cfg(test)]
mod tests {
    use crate::i18n::{I18n, Language};
    use crate::t;

    /// The English texts are the ones the browser tests read.
    #[test]
    fn summaries_read_as_before_in_english_and_whole_in_mongolian() {
        let i18n = I18n::new(Language::En);
        assert_eq!(
            t!(i18n, "overview-throughput-summary-hour", completed = 12_000, failed = 3, peak = 40, bar = 1),
            "Completed 12,000 and failed 3 in the last hour; at most 40 in one minute"
        );
        assert_eq!(
            t!(i18n, "overview-throughput-summary-day", completed = 5, failed = 0, peak = 2, bar = 10),
            "Completed 5 and failed 0 in the last day; at most 2 in one 10 minutes"
        );
        assert_eq!(t!(i18n, "overview-throughput-peak", peak = 2, bar = 10), "peak 2 / 10 minutes");
        assert_eq!(t!(i18n, "overview-throughput-peak", peak = 2, bar = 1), "peak 2 / minute");
        assert_eq!(t!(i18n, "time-hours-ago", count = 24), "24 h ago");
        assert_eq!(t!(i18n, "time-minutes-ago", count = 60), "60 min ago");
        assert_eq!(t!(i18n, "overview-workers-online", count = 1), "1 worker online");
        assert_eq!(t!(i18n, "overview-workers-online", count = 3), "3 workers online");
        assert_eq!(
            t!(i18n, "overview-minute-chart-summary", label = "Processed", total = 4, peak = 2),
            "Processed, last hour: 4 in all, at most 2 a minute"
        );
        let i18n = I18n::new(Language::Mn);
        assert_eq!(
            t!(i18n, "overview-throughput-summary-day", completed = 5, failed = 0, peak = 2, bar = 10),
            "Сүүлийн нэг өдөрт 5 дууссан, 0 амжилтгүй; 10 минутад хамгийн ихдээ 2"
        );
        assert_eq!(
            t!(i18n, "overview-throughput-summary-hour", completed = 5, failed = 0, peak = 2, bar = 1),
            "Сүүлийн нэг цагт 5 дууссан, 0 амжилтгүй; нэг минутад хамгийн ихдээ 2"
        );
    }
}
