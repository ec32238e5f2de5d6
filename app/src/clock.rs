//! "Now", by the server's clock, for relative times ("3 min ago").
//!
//! The server renders a page with its time and hands that time to the browser, which
//! keeps the difference between the two clocks: the times shown come from the server's
//! side (Redis), so a browser whose clock is off still says how long ago a job ran. On
//! the server it stays at the moment the page was rendered, so server and browser render
//! the same text; in the browser it moves on every second.

use leptos::prelude::*;

/// The server's time as the page sees it, in epoch milliseconds.
#[derive(Clone, Copy)]
pub struct Clock {
    now: RwSignal<i64>,
}

impl Clock {
    /// The current time (reactive: it moves on every second in the browser).
    pub fn now(&self) -> i64 {
        self.now.get()
    }

    /// The current time, without subscribing to it.
    pub fn now_untracked(&self) -> i64 {
        self.now.get_untracked()
    }
}

/// Starts the page's clock; call once, at the root, before any resource (its value
/// travels with the page, and hydration reads such values in the order they were made).
pub fn provide_clock() -> Clock {
    let rendered_at = SharedValue::new(local_now).into_inner();
    let now = RwSignal::new(rendered_at);
    #[cfg(feature = "hydrate")]
    {
        // Server's clock minus this browser's (plus the page's trip, a fraction of a second).
        let offset = rendered_at - local_now();
        if let Ok(ticker) =
            set_interval_with_handle(move || now.set(local_now() + offset), std::time::Duration::from_secs(1))
        {
            on_cleanup(move || ticker.clear());
        }
    }
    let clock = Clock { now };
    provide_context(clock);
    clock
}

pub fn use_clock() -> Option<Clock> {
    use_context::<Clock>()
}

#[cfg(feature = "hydrate")]
fn local_now() -> i64 {
    js_sys::Date::now() as i64
}

#[cfg(not(feature = "hydrate"))]
fn local_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or_default()
}
