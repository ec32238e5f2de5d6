//! "Now", by the server's clock, for relative times ("3 min ago").
//!
//! The server renders a page with its clock's time and hands that time to the browser,
//! which keeps the difference between the two clocks (measured from when the page's
//! response started to arrive, so the wasm's download does not count): the times shown
//! come from the server's side (Redis stamps them), so a browser whose clock is off still
//! says how long ago a job ran. On the server it stays at the moment the page was
//! rendered, so server and browser render the same text; in the browser it moves on
//! every second.

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
        // Server's clock minus this browser's, at the moment the page's answer began to
        // arrive (off by the server's render time and the trip, a fraction of a second).
        let offset = rendered_at - response_started_at().unwrap_or_else(local_now);
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

/// When this page's response started to arrive, by this browser's clock (epoch ms), from
/// the navigation timing entry.
#[cfg(feature = "hydrate")]
fn response_started_at() -> Option<i64> {
    use js_sys::Reflect;
    use wasm_bindgen::JsCast;
    let performance = Reflect::get(&js_sys::global(), &"performance".into()).ok()?;
    let origin = Reflect::get(&performance, &"timeOrigin".into()).ok()?.as_f64()?;
    let entries_by_type =
        Reflect::get(&performance, &"getEntriesByType".into()).ok()?.dyn_into::<js_sys::Function>().ok()?;
    let entries = entries_by_type.call1(&performance, &"navigation".into()).ok()?;
    let navigation = js_sys::Array::from(&entries).get(0);
    let start = Reflect::get(&navigation, &"responseStart".into()).ok()?.as_f64()?;
    (start > 0.0).then_some((origin + start) as i64)
}

#[cfg(not(feature = "hydrate"))]
fn local_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or_default()
}
