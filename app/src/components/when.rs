//! A moment shown the way people say it ("3 min ago"), with the exact time on hover.

use leptos::prelude::*;

use crate::clock::use_clock;
use crate::format::iso;
use crate::i18n::use_i18n;

/// `<time>` reading "12 s ago" or "in 5 min" (moving on as time passes), with the exact
/// time (UTC, in the page's language) as its tooltip and machine-readable `datetime`.
#[component]
pub fn When(
    /// Epoch milliseconds.
    at: i64,
) -> impl IntoView {
    let clock = use_clock();
    let i18n = use_i18n();
    let text = move || match clock {
        Some(clock) => i18n.relative(at, clock.now()),
        None => i18n.date_time(at),
    };
    view! { <time datetime=iso(at) title=i18n.date_time(at)>{text}</time> }
}
