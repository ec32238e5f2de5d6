//! The browser's end of the live feed (`/api/v1/live`): one WebSocket per page, asking
//! only for the topics the page shows, that keeps the latest counts per queue and state
//! per job in signals, reconnects with backoff, says whether it is connected, and closes
//! when the page goes away. Nothing polls.

use std::collections::HashMap;

use leptos::prelude::*;

use crate::i18n::use_i18n;
use crate::t;
use crate::types::{ProgressView, QueueCounts};

/// A job's latest state and progress from the feed.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveJob {
    /// The newest event: active, progress, completed, retrying, dead, ...
    pub event: String,
    pub progress: Option<ProgressView>,
}

impl LiveJob {
    /// The job's state as the feed last told it (progress comes only from active jobs).
    pub fn state(&self) -> String {
        if self.event == "progress" { "active".to_string() } else { self.event.clone() }
    }
}

/// What the feed has pushed so far, shared through context.
#[derive(Clone, Copy)]
pub struct LiveFeed {
    pub counts: RwSignal<HashMap<String, QueueCounts>>,
    /// By job id; bounded (cleared past 5,000 jobs, the pages read it again).
    pub jobs: RwSignal<HashMap<String, LiveJob>>,
    /// `connecting`, `live`, `reconnecting`, or `off` (nobody signed in who may follow
    /// these topics: no socket is opened).
    pub state: RwSignal<&'static str>,
    /// Goes up each time the server says this socket missed messages (`resync`): pages
    /// read their data again when it changes (make it a source of their resources).
    pub resync: RwSignal<u64>,
}

/// Whether `viewer` may follow every one of `topics`: staff anything, end users only
/// their own jobs (`mine`, `job:…`), as the server's `live::Subscription` rules.
pub fn may_follow(viewer: &crate::types::Viewer, topics: &str) -> bool {
    viewer.is_staff() || topics.split(',').all(|topic| topic == "mine" || topic.starts_with("job:"))
}

/// Starts the feed of `topics` (see the server's `live::Subscription`: `counts`, `mine`,
/// `job:QUEUE/ID`, ...) in the browser (on the server it stays empty) and provides it.
/// The socket opens once the viewer is known to be signed in and allowed those topics.
pub fn provide_live_feed(topics: String) -> LiveFeed {
    let feed = LiveFeed {
        counts: RwSignal::new(HashMap::new()),
        jobs: RwSignal::new(HashMap::new()),
        state: RwSignal::new("connecting"),
        resync: RwSignal::new(0),
    };
    provide_context(feed);
    #[cfg(feature = "hydrate")]
    {
        let viewer = crate::session::use_viewer();
        let connection = Connection {
            topics,
            socket: Default::default(),
            stopped: Default::default(),
            opened_before: Default::default(),
        };
        let on_leave = send_wrapper::SendWrapper::new(connection.clone());
        Effect::new(move |started: Option<bool>| {
            if started == Some(true) {
                return true;
            }
            match viewer.get() {
                Some(Ok(Some(viewer))) if may_follow(&viewer, &connection.topics) => {
                    connect(feed, connection.clone(), 0);
                    true
                }
                Some(_) => {
                    feed.state.set("off");
                    false
                }
                None => false,
            }
        });
        on_cleanup(move || {
            on_leave.stopped.set(true);
            // A socket still connecting is closed once it opens: closing it now makes the
            // browser log an error.
            let mut slot = on_leave.socket.borrow_mut();
            if slot.as_ref().is_some_and(|socket| socket.ready_state() == web_sys::WebSocket::OPEN)
                && let Some(socket) = slot.take()
            {
                let _ = socket.close();
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = topics;
    feed
}

/// Says whether the page is live: "Live", "Connecting…", "Reconnecting…", "Not live".
#[component]
pub fn LiveStatus(feed: LiveFeed) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <p class="live-state" role="status" data-live=move || feed.state.get()>
            {move || match feed.state.get() {
                "live" => t!(i18n, "layout-live"),
                "reconnecting" => t!(i18n, "layout-reconnecting"),
                "off" => t!(i18n, "layout-not-live"),
                _ => t!(i18n, "layout-connecting"),
            }}
        </p>
    }
}

pub fn use_live_feed() -> Option<LiveFeed> {
    use_context::<LiveFeed>()
}

/// Keeps `into` current with what the feed says changed: a second after `changes` takes a
/// new value (not for its first, the page as rendered), calls `read` and puts its answer
/// in `into`. Changes during that second join the same read, so however busy a queue is
/// the page reads at most once a second; an answer that lands after a newer one's is
/// dropped. In the browser only.
pub fn reread_on_change<S, T, F, Fut>(changes: Memo<S>, read: F, into: RwSignal<T>)
where
    S: PartialEq + Clone + Send + Sync + 'static,
    T: Send + Sync + 'static,
    F: Fn() -> Fut + 'static,
    Fut: std::future::Future<Output = Option<T>> + 'static,
{
    #[cfg(feature = "hydrate")]
    {
        use std::cell::Cell;
        use std::rc::Rc;
        // A read is waiting to start; reads started (to drop an answer that is too old).
        let (pending, started) = (Rc::new(Cell::new(false)), Rc::new(Cell::new(0u64)));
        let read = Rc::new(read);
        Effect::watch(
            move || changes.get(),
            move |_, _, _| {
                if pending.replace(true) {
                    return;
                }
                let (pending, started, read) = (pending.clone(), started.clone(), read.clone());
                set_timeout(
                    move || {
                        pending.set(false);
                        let this = started.get() + 1;
                        started.set(this);
                        leptos::task::spawn_local(async move {
                            if let Some(fresh) = read().await
                                && started.get() == this
                            {
                                into.try_set(fresh);
                            }
                        });
                    },
                    std::time::Duration::from_secs(1),
                );
            },
            false,
        );
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (changes, read, into);
}

/// One page's socket: what it asks for, the open socket, and whether the page has gone.
#[cfg(feature = "hydrate")]
#[derive(Clone)]
struct Connection {
    topics: String,
    socket: std::rc::Rc<std::cell::RefCell<Option<web_sys::WebSocket>>>,
    stopped: std::rc::Rc<std::cell::Cell<bool>>,
    /// Whether a socket of this page was open before: opening again is a reconnect.
    opened_before: std::rc::Rc<std::cell::Cell<bool>>,
}

/// Forgets what was pushed before a gap (the server does not repeat it) and tells the
/// pages to read their data again.
#[cfg(feature = "hydrate")]
fn resync(feed: LiveFeed) {
    feed.jobs.update(HashMap::clear);
    feed.counts.update(HashMap::clear);
    feed.resync.update(|n| *n += 1);
}

#[cfg(feature = "hydrate")]
fn connect(feed: LiveFeed, connection: Connection, attempt: u32) {
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;

    if connection.stopped.get() {
        return;
    }
    let Some(window) = web_sys::window() else { return };
    let location = window.location();
    let scheme = if location.protocol().unwrap_or_default() == "https:" { "wss" } else { "ws" };
    let topics: String = js_sys::encode_uri_component(&connection.topics).into();
    let url = format!(
        "{scheme}://{}{}/api/v1/live?topics={topics}",
        location.host().unwrap_or_default(),
        crate::mount_path::mount_path()
    );
    // Whether this socket opened: a drop after that starts the backoff afresh.
    let was_open = std::rc::Rc::new(std::cell::Cell::new(false));
    let retry = {
        let (connection, was_open) = (connection.clone(), was_open.clone());
        move || {
            if connection.stopped.get() {
                return;
            }
            feed.state.set("reconnecting");
            let attempt = if was_open.get() { 0 } else { attempt };
            // 0.5 s, 1 s, 2 s ... up to 15 s between attempts.
            let delay = std::time::Duration::from_millis((500u64 << attempt.min(5)).min(15_000));
            let connection = connection.clone();
            set_timeout(move || connect(feed, connection, attempt + 1), delay);
        }
    };
    let Ok(socket) = web_sys::WebSocket::new(&url) else {
        retry();
        return;
    };
    let opened = connection.clone();
    let on_open = Closure::<dyn FnMut()>::new(move || {
        // The page went away while this socket was connecting.
        if opened.stopped.get() {
            if let Some(socket) = opened.socket.borrow_mut().take() {
                let _ = socket.close();
            }
            return;
        }
        feed.state.set("live");
        was_open.set(true);
        // Back after a drop: whatever changed meanwhile was not pushed, so pages read again.
        if opened.opened_before.replace(true) {
            resync(feed);
        }
    });
    let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
        let Some(text) = event.data().as_string() else { return };
        let Ok(serde_json::Value::Array(messages)) = serde_json::from_str::<serde_json::Value>(&text) else { return };
        for message in messages {
            if message["type"] == "resync" {
                resync(feed);
            }
            if message["type"] == "job"
                && let Some(id) = message["id"].as_str()
            {
                let progress = serde_json::from_value::<ProgressView>(message["progress"].clone()).ok();
                let event = message["event"].as_str().unwrap_or_default().to_string();
                feed.jobs.update(|jobs| {
                    if jobs.len() > 5_000 {
                        jobs.clear();
                    }
                    let entry = jobs.entry(id.to_string()).or_insert(LiveJob { event: String::new(), progress: None });
                    entry.event = event;
                    if progress.is_some() {
                        entry.progress = progress;
                    }
                });
            }
            if message["type"] == "counts"
                && let (Some(queue), Ok(counts)) =
                    (message["queue"].as_str(), serde_json::from_value::<QueueCounts>(message["counts"].clone()))
            {
                feed.counts.update(|all| {
                    all.insert(queue.to_string(), counts);
                });
            }
        }
    });
    // 4001: the session ended (signed out elsewhere, password changed): sign in again.
    // 4003: the user may no longer watch as before (disabled, role changed): reload, so the
    // page and its navigation are rendered for what they may do now.
    let on_close =
        Closure::<dyn FnMut(web_sys::CloseEvent)>::new(move |event: web_sys::CloseEvent| match event.code() {
            4001 => crate::session::reload_to("/login"),
            4003 => {
                if let Some(window) = web_sys::window() {
                    let _ = window.location().reload();
                }
            }
            _ => retry(),
        });
    socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    *connection.socket.borrow_mut() = Some(socket);
    // The handlers live as long as the socket, which the browser keeps until it closes.
    on_open.forget();
    on_message.forget();
    on_close.forget();
}
