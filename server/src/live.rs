//! The dashboard's live feed: `GET /api/v1/live` upgrades to a WebSocket that pushes
//! queue counts, job state and progress, and domain events as they happen.
//!
//! One hub per server process reads every queue's event stream once and coalesces: a
//! queue's counts go out at most every [`FLUSH_EVERY`], and of many progress updates of
//! one job within that window only the newest; so 10,000 jobs a second become a few
//! messages a second per queue, however many browsers watch. Each socket filters what
//! the hub broadcasts by its caller's rights: an end user receives only their own jobs.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures::StreamExt;
use hoist_queue::{Counts, Event, Queue, RedisConnection};
use serde::Serialize;
use tokio::sync::broadcast;

use crate::auth::Principal;
use crate::state::AppState;
use crate::users::Role;

/// How often the hub sends what changed.
pub const FLUSH_EVERY: Duration = Duration::from_millis(200);

/// One message to the browser (JSON, tagged by `type`).
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveMessage {
    /// A queue's counts changed.
    Counts { queue: String, counts: Counts },
    /// A job changed state or reported progress: the newest of its events in the window,
    /// with the newest progress of the window (so a job that reports progress and ends
    /// within one window still shows where it got to).
    Job {
        queue: String,
        id: String,
        owner: Option<String>,
        /// The event: added, active, progress, completed, retrying, dead, cancelled, ...
        event: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        progress: Option<serde_json::Value>,
        at: i64,
    },
    /// A processor's domain event (`sync.completed`, ...).
    Domain { queue: String, kind: String, job_id: String, owner: Option<String>, fields: BTreeMap<String, String> },
}

impl LiveMessage {
    fn owner(&self) -> Option<&str> {
        match self {
            LiveMessage::Counts { .. } => None,
            LiveMessage::Job { owner, .. } | LiveMessage::Domain { owner, .. } => owner.as_deref(),
        }
    }

    /// Whether `principal` may see it: staff see everything; an end user only their jobs.
    pub fn visible_to(&self, principal: &Principal) -> bool {
        principal.role != Role::User || self.owner() == Some(principal.user_id.to_string().as_str())
    }
}

/// The process's hub: started with the first socket, then shared by all.
#[derive(Clone, Default)]
pub struct LiveHub {
    sender: Arc<Mutex<Option<broadcast::Sender<Batch>>>>,
}

/// What the hub sends each window; shared by every socket.
pub type Batch = Arc<Vec<LiveMessage>>;

impl LiveHub {
    /// A receiver of batches of messages; starts the hub on first use.
    pub fn subscribe(&self, engine: &RedisConnection) -> broadcast::Receiver<Batch> {
        let mut guard = self.sender.lock().expect("live hub");
        if let Some(sender) = guard.as_ref() {
            return sender.subscribe();
        }
        let (sender, receiver) = broadcast::channel(256);
        tokio::spawn(run_hub(engine.clone(), sender.clone()));
        *guard = Some(sender);
        receiver
    }
}

/// What one flush window collected.
#[derive(Default)]
struct Pending {
    dirty_queues: HashSet<String>,
    /// Newest event, and newest progress event, per (queue, job).
    jobs: HashMap<(String, String), (Event, Option<Event>)>,
    domain: Vec<Event>,
}

async fn run_hub(engine: RedisConnection, sender: broadcast::Sender<Batch>) {
    let pending = Arc::new(Mutex::new(Pending::default()));
    let mut watched: HashSet<String> = HashSet::new();
    let mut owners: HashMap<(String, String), Option<String>> = HashMap::new();
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    let mut rescan = tokio::time::interval(Duration::from_secs(2));
    loop {
        tokio::select! {
            _ = rescan.tick() => {
                // New queues appear as jobs are enqueued to them.
                if let Ok(names) = Queue::list_queues(&engine, "hoist").await {
                    for name in names {
                        if watched.insert(name.clone()) {
                            tokio::spawn(watch_queue(engine.clone(), name, pending.clone()));
                        }
                    }
                }
            }
            _ = tick.tick() => {
                if sender.receiver_count() == 0 {
                    // Nobody watches: drop what piled up instead of reading counts.
                    *pending.lock().expect("pending") = Pending::default();
                    continue;
                }
                let batch = std::mem::take(&mut *pending.lock().expect("pending"));
                let messages = flush(&engine, batch, &mut owners).await;
                if !messages.is_empty() {
                    let _ = sender.send(Arc::new(messages));
                }
            }
        }
    }
}

/// Follows one queue's event stream from now on, noting what changed.
async fn watch_queue(engine: RedisConnection, name: String, pending: Arc<Mutex<Pending>>) {
    let Ok(queue) = Queue::new(&engine, &name) else { return };
    let mut events = Box::pin(queue.subscribe(None));
    while let Some(event) = events.next().await {
        let Ok(event) = event else { continue };
        let mut pending = pending.lock().expect("pending");
        if event.kind.contains('.') {
            pending.domain.push(event);
            continue;
        }
        pending.dirty_queues.insert(name.clone());
        if !event.job_id.is_empty() {
            let key = (name.clone(), event.job_id.clone());
            let progress = (event.kind == "progress").then(|| event.clone());
            match pending.jobs.get_mut(&key) {
                Some((latest, latest_progress)) => {
                    if progress.is_some() {
                        *latest_progress = progress;
                    }
                    *latest = event;
                }
                None => {
                    pending.jobs.insert(key, (event, progress));
                }
            }
        }
    }
}

async fn flush(
    engine: &RedisConnection,
    batch: Pending,
    owners: &mut HashMap<(String, String), Option<String>>,
) -> Vec<LiveMessage> {
    let mut messages = vec![];
    for name in batch.dirty_queues {
        let Ok(queue) = Queue::new(engine, &name) else { continue };
        if let Ok(counts) = queue.counts().await {
            messages.push(LiveMessage::Counts { queue: name, counts });
        }
    }
    // Owners: from the `added` event when seen, else looked up once per job.
    let mut unknown: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for ((queue, id), (event, _)) in &batch.jobs {
        if let Some(owner) = event.fields.get("owner") {
            owners.insert((queue.clone(), id.clone()), Some(owner.clone()).filter(|o| !o.is_empty()));
        } else if !owners.contains_key(&(queue.clone(), id.clone())) {
            unknown.entry(queue.clone()).or_default().push(id.clone());
        }
    }
    for event in &batch.domain {
        let key = (event.queue.clone(), event.job_id.clone());
        if !event.job_id.is_empty() && !owners.contains_key(&key) {
            unknown.entry(event.queue.clone()).or_default().push(event.job_id.clone());
        }
    }
    for (queue, ids) in unknown {
        let Ok(handle) = Queue::new(engine, &queue) else { continue };
        if let Ok(jobs) = handle.load_jobs(&ids).await {
            for job in jobs {
                owners.insert((queue.clone(), job.id.clone()), job.owner.clone());
            }
        }
    }
    if owners.len() > 100_000 {
        owners.clear(); // bounded memory; owners are looked up again as needed
    }
    for ((queue, id), (event, latest_progress)) in batch.jobs {
        let owner = owners.get(&(queue.clone(), id.clone())).cloned().flatten();
        let progress =
            latest_progress.and_then(|p| p.fields.get("progress").and_then(|p| serde_json::from_str(p).ok()));
        messages.push(LiveMessage::Job { queue, id, owner, event: event.kind, progress, at: event.at });
    }
    for event in batch.domain {
        let owner = owners.get(&(event.queue.clone(), event.job_id.clone())).cloned().flatten();
        messages.push(LiveMessage::Domain {
            queue: event.queue,
            kind: event.kind,
            job_id: event.job_id,
            owner,
            fields: event.fields,
        });
    }
    messages
}

/// `GET /api/v1/live`: the WebSocket (authenticated like every API route).
pub async fn socket(State(state): State<AppState>, principal: Principal, upgrade: WebSocketUpgrade) -> Response {
    let receiver = state.live.subscribe(&state.engine);
    upgrade.on_upgrade(move |socket| serve_socket(socket, principal, receiver))
}

async fn serve_socket(mut socket: WebSocket, principal: Principal, mut receiver: broadcast::Receiver<Batch>) {
    metrics::gauge!("hoist_websocket_clients").increment(1.0);
    let hello = serde_json::json!({ "type": "hello", "user": principal.username, "role": principal.role });
    let mut open = socket.send(Message::Text(hello.to_string().into())).await.is_ok();
    while open {
        tokio::select! {
            batch = receiver.recv() => match batch {
                Ok(batch) => {
                    let visible: Vec<&LiveMessage> = batch.iter().filter(|m| m.visible_to(&principal)).collect();
                    if visible.is_empty() {
                        continue;
                    }
                    let text = serde_json::to_string(&visible).unwrap_or_default();
                    open = socket.send(Message::Text(text.into())).await.is_ok();
                }
                // A slow browser missed batches: tell it to reload its data.
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    open = socket.send(Message::Text(r#"[{"type":"resync"}]"#.into())).await.is_ok();
                }
                Err(broadcast::error::RecvError::Closed) => open = false,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => open = false,
                Some(Ok(_)) => {}
            },
        }
    }
    metrics::gauge!("hoist_websocket_clients").decrement(1.0);
}
