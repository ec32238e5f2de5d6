//! A moment shown the way people say it ("3 min ago"), with the exact time on hover.

use leptos::prelude::*;

use crate::clock::use_clock;
use crate::format::{iso, relative, utc};

/// `<time>` reading "12 s ago" or "in 5 min" (moving on as time passes), with the exact
/// UTC time as its tooltip and machine-readable `datetime`.
#[component]
pub fn When(
    /// Epoch milliseconds.
    at: i64,
) -> impl IntoView {
    let clock = use_clock();
    let text = move || match clock {
        Some(clock) => relative(at, clock.now()),
        None => utc(at),
    };
    view! { <time datetime=iso(at) title=utc(at)>{text}</time> }
}
