//! The dashboard's live feed: `GET /api/v1/live?topics=...` upgrades to a WebSocket that
//! pushes queue counts, job state and progress, and domain events as they happen.
//!
//! One hub per server process reads every queue's event stream once and coalesces: a
//! queue's counts go out at most every [`FLUSH_EVERY`], and of many events of one job
//! within that window only the newest (with the newest progress); so 10,000 jobs a second
//! become a few messages a second per queue, however many browsers watch. Each window's
//! messages are serialized once and indexed by queue, job and owner, and each socket
//! sends only the topics it subscribed to (a page showing counts receives no job
//! messages), filtered by its caller's rights: an end user receives only their own jobs.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use hoist_queue::{Counts, Event, Queue, RedisConnection};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::api_error::ApiError;
use crate::auth::{AuthVia, Principal};
use crate::state::AppState;
use crate::users::Role;

/// How often the hub sends what changed.
pub const FLUSH_EVERY: Duration = Duration::from_millis(200);

/// At most this many topics per socket.
const MAX_TOPICS: usize = 100;

/// One message to the browser (JSON, tagged by `type`).
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveMessage {
    /// A queue's counts changed; read after the queue's newest event of the window, whose
    /// time is `at` (epoch ms).
    Counts { queue: String, counts: Counts, at: i64 },
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
    Domain {
        queue: String,
        kind: String,
        job_id: String,
        owner: Option<String>,
        fields: BTreeMap<String, String>,
        at: i64,
    },
}

impl LiveMessage {
    fn owner(&self) -> Option<&str> {
        match self {
            LiveMessage::Counts { .. } => None,
            LiveMessage::Job { owner, .. } | LiveMessage::Domain { owner, .. } => owner.as_deref(),
        }
    }

    /// The job it is about, if any.
    fn job(&self) -> Option<(&str, &str)> {
        match self {
            LiveMessage::Counts { .. } => None,
            LiveMessage::Job { queue, id, .. } => Some((queue, id)),
            LiveMessage::Domain { queue, job_id, .. } => {
                Some((queue.as_str(), job_id.as_str())).filter(|(_, id)| !id.is_empty())
            }
        }
    }
}

/// What one socket asked for with `?topics=` (comma-separated):
/// `counts` (every queue's counts), `mine` (the caller's own jobs), `queue:NAME` (every
/// job of a queue), `job:QUEUE/ID` (one job), `jobs` (every job). Without `topics`:
/// `counts,mine` for staff, `mine` for end users, who may ask for nothing but their own
/// jobs (`mine`, or `job:` of a job of theirs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subscription {
    pub counts: bool,
    pub every_job: bool,
    /// The caller's user id, when they want their own jobs.
    pub owner: Option<String>,
    pub queues: HashSet<String>,
    pub jobs: HashSet<(String, String)>,
    /// End users: whatever the topics, only messages about their own jobs.
    only_owner: Option<String>,
}

impl Subscription {
    pub fn parse(topics: Option<&str>, principal: &Principal) -> Result<Self, ApiError> {
        crate::policy::authorize(principal, crate::policy::Action::ReadJobs)?;
        let staff = crate::policy::may(principal, crate::policy::Action::WatchQueues);
        let me = principal.user_id.to_string();
        let mut subscription = Subscription { only_owner: (!staff).then(|| me.clone()), ..Default::default() };
        let topics = topics.unwrap_or(if staff { "counts,mine" } else { "mine" });
        let topics: Vec<&str> = topics.split(',').map(str::trim).filter(|t| !t.is_empty()).collect();
        if topics.len() > MAX_TOPICS {
            return Err(ApiError::invalid("topics", format!("at most {MAX_TOPICS} topics")));
        }
        let staff_only = |topic: &str| {
            if staff {
                Ok(())
            } else {
                Err(ApiError::Forbidden(format!("topic `{topic}` is for staff; end users may follow `mine`")))
            }
        };
        for topic in topics {
            match topic.split_once(':') {
                None if topic == "counts" => {
                    staff_only(topic)?;
                    subscription.counts = true;
                }
                None if topic == "jobs" => {
                    staff_only(topic)?;
                    subscription.every_job = true;
                }
                None if topic == "mine" => subscription.owner = Some(me.clone()),
                Some(("queue", name)) if !name.is_empty() => {
                    staff_only(topic)?;
                    subscription.queues.insert(name.to_string());
                }
                Some(("job", path)) => match path.split_once('/') {
                    Some((queue, id)) if !queue.is_empty() && !id.is_empty() => {
                        subscription.jobs.insert((queue.to_string(), id.to_string()));
                    }
                    _ => return Err(ApiError::invalid("topics", format!("`{topic}`: expected job:QUEUE/ID"))),
                },
                _ => {
                    return Err(ApiError::invalid(
                        "topics",
                        format!("unknown topic `{topic}`; expected counts, mine, jobs, queue:NAME or job:QUEUE/ID"),
                    ));
                }
            }
        }
        Ok(subscription)
    }

    /// The indexes of `batch`'s messages this socket receives, in order.
    fn select(&self, batch: &Batch) -> Vec<usize> {
        let mut picked: Vec<usize> = vec![];
        if self.counts {
            picked.extend(&batch.counts);
        }
        if self.every_job {
            picked.extend(&batch.jobs);
        } else {
            if let Some(owner) = &self.owner {
                picked.extend(batch.by_owner.get(owner).into_iter().flatten());
            }
            for queue in &self.queues {
                picked.extend(batch.by_queue.get(queue).into_iter().flatten());
            }
            for job in &self.jobs {
                picked.extend(batch.by_job.get(job).into_iter().flatten());
            }
        }
        picked.sort_unstable();
        picked.dedup();
        if let Some(me) = &self.only_owner {
            picked.retain(|&i| batch.items[i].0.owner() == Some(me.as_str()));
        }
        picked
    }
}

/// One window's messages, each serialized once, with the indexes sockets select by.
#[derive(Debug, Default)]
pub struct Batch {
    /// Each message with its JSON.
    items: Vec<(LiveMessage, String)>,
    counts: Vec<usize>,
    /// Job and domain messages.
    jobs: Vec<usize>,
    by_owner: HashMap<String, Vec<usize>>,
    by_queue: HashMap<String, Vec<usize>>,
    by_job: HashMap<(String, String), Vec<usize>>,
}

impl Batch {
    pub fn new(messages: Vec<LiveMessage>) -> Self {
        let mut batch = Batch::default();
        for (i, message) in messages.into_iter().enumerate() {
            if let Some((queue, id)) = message.job() {
                batch.jobs.push(i);
                batch.by_queue.entry(queue.to_string()).or_default().push(i);
                batch.by_job.entry((queue.to_string(), id.to_string())).or_default().push(i);
                if let Some(owner) = message.owner() {
                    batch.by_owner.entry(owner.to_string()).or_default().push(i);
                }
            } else if let LiveMessage::Domain { queue, .. } = &message {
                // A domain event of no job: whoever follows the queue or every job.
                batch.jobs.push(i);
                batch.by_queue.entry(queue.clone()).or_default().push(i);
            } else {
                batch.counts.push(i);
            }
            let json = serde_json::to_string(&message).unwrap_or_default();
            batch.items.push((message, json));
        }
        batch
    }

    /// The frame for `subscription`: a JSON array of its messages, or None if it has none.
    pub fn frame_for(&self, subscription: &Subscription) -> Option<String> {
        let picked = subscription.select(self);
        if picked.is_empty() {
            return None;
        }
        let mut frame = String::with_capacity(2 + picked.iter().map(|&i| self.items[i].1.len() + 1).sum::<usize>());
        frame.push('[');
        for (n, &i) in picked.iter().enumerate() {
            if n > 0 {
                frame.push(',');
            }
            frame.push_str(&self.items[i].1);
        }
        frame.push(']');
        Some(frame)
    }
}

/// The process's hub: started with the first socket, then shared by all.
#[derive(Clone, Default)]
pub struct LiveHub {
    sender: Arc<Mutex<Option<broadcast::Sender<Arc<Batch>>>>>,
    /// Open sockets per user.
    pub sockets: SocketCounts,
}

impl LiveHub {
    /// A receiver of batches of messages; starts the hub on first use.
    pub fn subscribe(&self, engine: &RedisConnection) -> broadcast::Receiver<Arc<Batch>> {
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

/// A job's events within one window.
struct PendingJob {
    latest: Event,
    progress: Option<Event>,
    /// From whichever event named it (the `added` one does), so a job added and finished
    /// within one window needs no lookup.
    owner: Option<String>,
}

/// What one flush window collected.
#[derive(Default)]
struct Pending {
    /// Queues with events, and the time of each one's newest.
    dirty_queues: HashMap<String, i64>,
    jobs: HashMap<(String, String), PendingJob>,
    domain: Vec<Event>,
}

async fn run_hub(engine: RedisConnection, sender: broadcast::Sender<Arc<Batch>>) {
    let pending = Arc::new(Mutex::new(Pending::default()));
    let mut watched: HashSet<String> = HashSet::new();
    let mut owners: HashMap<(String, String), Option<String>> = HashMap::new();
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    let mut rescan = tokio::time::interval(Duration::from_secs(2));
    let mut rescans = 0u64;
    loop {
        tokio::select! {
            _ = rescan.tick() => {
                // New queues appear as jobs are enqueued to them.
                if let Ok(names) = Queue::list_all(&engine).await {
                    for name in names {
                        if watched.insert(name.clone()) {
                            tokio::spawn(watch_queue(engine.clone(), name, pending.clone()));
                        }
                    }
                }
                // Every 30 s, the backlog sample of each queue (the first in a minute
                // counts): queues without a worker, the ones falling behind, get one too.
                rescans += 1;
                if rescans % 15 == 1 {
                    for name in &watched {
                        if let Ok(queue) = Queue::new(&engine, name) {
                            let _ = queue.sample_backlog().await;
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
                let window = std::mem::take(&mut *pending.lock().expect("pending"));
                let messages = flush(&engine, window, &mut owners).await;
                if !messages.is_empty() {
                    let _ = sender.send(Arc::new(Batch::new(messages)));
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
        let newest = pending.dirty_queues.entry(name.clone()).or_insert(event.at);
        *newest = (*newest).max(event.at);
        if event.job_id.is_empty() {
            continue;
        }
        let owner = event.fields.get("owner").cloned();
        let progress = (event.kind == "progress").then(|| event.clone());
        match pending.jobs.get_mut(&(name.clone(), event.job_id.clone())) {
            Some(job) => {
                if progress.is_some() {
                    job.progress = progress;
                }
                if owner.is_some() {
                    job.owner = owner;
                }
                job.latest = event;
            }
            None => {
                pending
                    .jobs
                    .insert((name.clone(), event.job_id.clone()), PendingJob { latest: event, progress, owner });
            }
        }
    }
}

async fn flush(
    engine: &RedisConnection,
    window: Pending,
    owners: &mut HashMap<(String, String), Option<String>>,
) -> Vec<LiveMessage> {
    let mut messages = vec![];
    for (name, at) in window.dirty_queues {
        let Ok(queue) = Queue::new(engine, &name) else { continue };
        if let Ok(counts) = queue.counts().await {
            messages.push(LiveMessage::Counts { queue: name, counts, at });
        }
    }
    // Owners: from the job's events when one named it, else looked up once per job.
    let mut unknown: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for ((queue, id), job) in &window.jobs {
        if let Some(owner) = &job.owner {
            owners.insert((queue.clone(), id.clone()), Some(owner.clone()).filter(|o| !o.is_empty()));
        } else if !owners.contains_key(&(queue.clone(), id.clone())) {
            unknown.entry(queue.clone()).or_default().push(id.clone());
        }
    }
    for event in &window.domain {
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
    for ((queue, id), job) in window.jobs {
        let owner = owners.get(&(queue.clone(), id.clone())).cloned().flatten();
        let progress = job.progress.and_then(|p| p.fields.get("progress").and_then(|p| serde_json::from_str(p).ok()));
        let (event, at) = (job.latest.kind, job.latest.at);
        messages.push(LiveMessage::Job { queue, id, owner, event, progress, at });
    }
    for event in window.domain {
        let owner = owners.get(&(event.queue.clone(), event.job_id.clone())).cloned().flatten();
        messages.push(LiveMessage::Domain {
            queue: event.queue,
            kind: event.kind,
            job_id: event.job_id,
            owner,
            fields: event.fields,
            at: event.at,
        });
    }
    messages
}

#[derive(Debug, Deserialize)]
pub struct LiveQuery {
    topics: Option<String>,
}

/// Close codes of a socket whose credentials stopped holding (4000-4999 are the
/// application's): the session or token ended (sign in again) ...
pub const CLOSE_SESSION_ENDED: u16 = 4001;
/// ... or the user may no longer watch (disabled, or their role changed).
pub const CLOSE_NOT_ALLOWED: u16 = 4003;

/// `GET /api/v1/live?topics=...`: the WebSocket (authenticated like every API route).
///
/// Checked in this order, each refusal with the API's JSON error body: the `Origin`
/// (a browser opens WebSockets cross-site with the user's cookie and no CORS check, so a
/// page elsewhere could read the feed: 403; no `Origin` at all is a non-browser client,
/// allowed), the credentials (401), the upgrade request itself (400), the topics
/// (400/403), and the caller's open sockets on this process (429).
pub async fn socket(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    match admit(&state, request).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn admit(state: &AppState, request: axum::extract::Request) -> Result<Response, ApiError> {
    use axum::extract::FromRequestParts;

    let (mut parts, _body) = request.into_parts();
    crate::origin::check_same_origin(&parts.headers, &state.allowed_origins, false)?;
    let principal = Principal::from_request_parts(&mut parts, state).await?;
    let credential = Credential::of(&parts, &principal)?;
    let upgrade = WebSocketUpgrade::from_request_parts(&mut parts, state)
        .await
        .map_err(|rejection| ApiError::invalid("upgrade", rejection.body_text()))?;
    let query: LiveQuery = axum::extract::Query::try_from_uri(&parts.uri)
        .map_err(|rejection| ApiError::invalid("topics", rejection.body_text()))?
        .0;
    let subscription = Subscription::parse(query.topics.as_deref(), &principal)?;
    let slot = state
        .live
        .sockets
        .admit(principal.user_id, state.max_sockets_per_user)
        .ok_or_else(|| ApiError::RateLimited { retry_after: Duration::from_secs(5) })?;
    // A socket of the host application's user is checked against the host's sign-in too.
    let host_head = match &state.host_auth {
        Some(hook) => {
            let head = crate::auth::host::copy_head(&parts);
            let named = hook.identify(&head).await.is_some_and(|user| user.username == principal.username);
            named.then(|| Arc::new(head))
        }
        None => None,
    };
    let receiver = state.live.subscribe(&state.engine);
    let watch = Watch { state: state.clone(), credential, host_head, principal, subscription, slot };
    Ok(upgrade
        // Browsers send nothing but control frames: small read buffers (the default is 128
        // KiB per socket) and a small limit. Each frame is sent whole, so no write buffering.
        .read_buffer_size(4 * 1024)
        .max_message_size(64 * 1024)
        .write_buffer_size(0)
        .on_upgrade(move |socket| serve_socket(socket, watch, receiver)))
}

/// What a socket was opened with, to check again while it is open.
#[derive(Clone, Debug)]
enum Credential {
    Session {
        id: tower_sessions::session::Id,
    },
    /// The token's hash.
    Token {
        hash: String,
    },
}

impl Credential {
    fn of(parts: &axum::http::request::Parts, principal: &Principal) -> Result<Self, ApiError> {
        match &principal.via {
            AuthVia::Token { .. } => {
                let secret = parts
                    .headers
                    .get(axum::http::header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(crate::auth::principal::bearer_secret)
                    .ok_or(ApiError::Unauthenticated)?;
                Ok(Credential::Token { hash: crate::auth::token_hash(secret.trim()) })
            }
            AuthVia::Session => {
                let session = parts.extensions.get::<tower_sessions::Session>().ok_or(ApiError::Unauthenticated)?;
                Ok(Credential::Session { id: session.id().ok_or(ApiError::Unauthenticated)? })
            }
        }
    }
}

/// Why an open socket is closed: its close code and reason.
#[derive(Debug, PartialEq, Eq)]
struct Ended {
    code: u16,
    reason: String,
}

impl Ended {
    fn session(why: &str) -> Self {
        let reason = if why.is_empty() { "session ended".to_string() } else { format!("session ended: {why}") };
        Ended { code: CLOSE_SESSION_ENDED, reason }
    }

    fn not_allowed(why: &str) -> Self {
        Ended { code: CLOSE_NOT_ALLOWED, reason: format!("no longer allowed: {why}") }
    }
}

/// One open socket: its caller, what it follows, and its place under the per-user cap.
struct Watch {
    state: AppState,
    credential: Credential,
    /// The opening request's head, when the host application's sign-in named the user.
    host_head: Option<Arc<axum::http::request::Parts>>,
    principal: Principal,
    subscription: Subscription,
    #[allow(dead_code)] // held for its Drop
    slot: SocketSlot,
}

impl Watch {
    /// Ok while the credentials still stand for the same user with the same role.
    async fn still_holds(&self) -> Result<(), Ended> {
        use crate::auth::principal::{SESSION_SIGNED_IN_AT, SESSION_USER, SessionEnded, load_user};
        use tower_sessions::SessionStore;

        let state = &self.state;
        if let (Some(hook), Some(head)) = (&state.host_auth, &self.host_head) {
            match hook.identify(head).await {
                // 4003: the page reloads and shows what the host's sign-in allows now (4001
                // would send the user to Hoist's own sign-in page).
                Some(user) if user.username != self.principal.username => {
                    return Err(Ended::not_allowed("signed out of the application"));
                }
                Some(user) if user.role != self.principal.role => {
                    return Err(Ended::not_allowed(&format!("role changed to {}", user.role.as_str())));
                }
                Some(_) => {}
                None => return Err(Ended::not_allowed("signed out of the application")),
            }
        }
        let (role, disabled) = match &self.credential {
            Credential::Session { id } => {
                // Sign-out deletes the record, and an expired one no longer loads.
                let record = match state.sessions.load(id).await {
                    Ok(Some(record)) => record,
                    Ok(None) => return Err(Ended::session("")),
                    Err(error) => {
                        // The store being unreachable for a moment ends nobody's socket.
                        tracing::warn!(%error, "live feed: re-checking a session failed");
                        return Ok(());
                    }
                };
                let user_id = record.data.get(SESSION_USER).and_then(|v| v.as_i64());
                if user_id != Some(self.principal.user_id) {
                    return Err(Ended::session(""));
                }
                let signed_in_at = record.data.get(SESSION_SIGNED_IN_AT).and_then(|v| v.as_i64()).unwrap_or(0);
                let user = match load_user(&state.db, self.principal.user_id).await {
                    Ok(Some(user)) => user,
                    Ok(None) => return Err(Ended::session("user deleted")),
                    Err(_) => return Ok(()),
                };
                match user.session_holds(signed_in_at) {
                    Err(SessionEnded::PasswordChanged) => return Err(Ended::session("password changed")),
                    Err(SessionEnded::SignedOut) => return Err(Ended::session("")),
                    _ => {}
                }
                (user.role, user.disabled)
            }
            Credential::Token { hash } => {
                let row: Option<(String, i64, Option<i64>, Option<i64>)> = match sqlx::query_as(
                    "SELECT u.role, u.disabled, t.revoked_at, t.expires_at
                     FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
                )
                .bind(hash)
                .fetch_optional(&state.db.pool)
                .await
                {
                    Ok(row) => row,
                    Err(error) => {
                        tracing::warn!(%error, "live feed: re-checking a token failed");
                        return Ok(());
                    }
                };
                let Some((role, disabled, revoked_at, expires_at)) = row else {
                    return Err(Ended::session("token deleted"));
                };
                if revoked_at.is_some() {
                    return Err(Ended::session("token revoked"));
                }
                if expires_at.is_some_and(|at| at <= crate::db::now_ms()) {
                    return Err(Ended::session("token expired"));
                }
                (Role::parse(&role).ok_or_else(|| Ended::not_allowed("unknown role"))?, disabled != 0)
            }
        };
        if disabled {
            return Err(Ended::not_allowed("user disabled"));
        }
        if role != self.principal.role {
            return Err(Ended::not_allowed(&format!("role changed to {}", role.as_str())));
        }
        Ok(())
    }
}

async fn serve_socket(mut socket: WebSocket, watch: Watch, mut receiver: broadcast::Receiver<Arc<Batch>>) {
    metrics::gauge!("hoist_websocket_clients").increment(1.0);
    let hello = serde_json::json!({ "type": "hello", "user": watch.principal.username, "role": watch.principal.role });
    let mut open = socket.send(Message::Text(hello.to_string().into())).await.is_ok();
    let every = watch.state.live_recheck;
    let mut recheck = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while open {
        tokio::select! {
            batch = receiver.recv() => match batch {
                Ok(batch) => {
                    if let Some(frame) = batch.frame_for(&watch.subscription) {
                        open = socket.send(Message::Text(frame.into())).await.is_ok();
                    }
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
            _ = recheck.tick() => {
                if let Err(ended) = watch.still_holds().await {
                    tracing::info!(user = %watch.principal.username, reason = %ended.reason, "live feed closed");
                    let frame = CloseFrame { code: ended.code, reason: ended.reason.into() };
                    let _ = socket.send(Message::Close(Some(frame))).await;
                    open = false;
                }
            }
        }
    }
    metrics::gauge!("hoist_websocket_clients").decrement(1.0);
}

/// Open sockets per user on this process, for `HOIST_MAX_SOCKETS_PER_USER`.
#[derive(Clone, Default)]
pub struct SocketCounts {
    open: Arc<Mutex<HashMap<i64, usize>>>,
}

impl SocketCounts {
    /// A slot for one more socket of `user`, or None when they hold `max` already.
    fn admit(&self, user: i64, max: usize) -> Option<SocketSlot> {
        let mut open = self.open.lock().expect("socket counts");
        let count = open.entry(user).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(SocketSlot { counts: self.clone(), user })
    }

    /// Sockets `user` holds open now.
    pub fn open(&self, user: i64) -> usize {
        self.open.lock().expect("socket counts").get(&user).copied().unwrap_or(0)
    }
}

/// One socket's place under the cap, given back when dropped (the socket closed, or its
/// upgrade never completed).
struct SocketSlot {
    counts: SocketCounts,
    user: i64,
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut open = self.counts.open.lock().expect("socket counts");
        if let Some(count) = open.get_mut(&self.user) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthVia;

    fn principal(role: Role) -> Principal {
        Principal { user_id: 7, username: "u".into(), role, via: AuthVia::Session }
    }

    fn job(queue: &str, id: &str, owner: Option<&str>) -> LiveMessage {
        LiveMessage::Job {
            queue: queue.into(),
            id: id.into(),
            owner: owner.map(Into::into),
            event: "completed".into(),
            progress: None,
            at: 1,
        }
    }

    fn sample() -> Batch {
        Batch::new(vec![
            LiveMessage::Counts { queue: "q".into(), counts: Counts::default(), at: 1 },
            job("q", "a", Some("7")),
            job("q", "b", Some("8")),
            job("r", "c", None),
        ])
    }

    fn frame(topics: Option<&str>, role: Role) -> Vec<serde_json::Value> {
        let subscription = Subscription::parse(topics, &principal(role)).unwrap();
        sample().frame_for(&subscription).map(|f| serde_json::from_str(&f).unwrap()).unwrap_or_default()
    }

    fn ids(messages: &[serde_json::Value]) -> Vec<String> {
        messages.iter().map(|m| m["id"].as_str().unwrap_or(m["type"].as_str().unwrap()).to_string()).collect()
    }

    #[test]
    fn each_topic_selects_its_messages() {
        assert_eq!(ids(&frame(None, Role::Viewer)), ["counts", "a"]);
        assert_eq!(ids(&frame(Some("counts"), Role::Admin)), ["counts"]);
        assert_eq!(ids(&frame(Some("jobs"), Role::Admin)), ["a", "b", "c"]);
        assert_eq!(ids(&frame(Some("queue:r"), Role::Operator)), ["c"]);
        assert_eq!(ids(&frame(Some("job:q/b,job:r/c,queue:r"), Role::Admin)), ["b", "c"]);
        assert!(frame(Some("job:q/zzz"), Role::Admin).is_empty());
    }

    #[test]
    fn end_users_get_only_their_own_jobs() {
        assert_eq!(ids(&frame(None, Role::User)), ["a"]);
        assert_eq!(ids(&frame(Some("job:q/b,job:q/a"), Role::User)), ["a"]);
        for topic in ["counts", "jobs", "queue:q"] {
            let error = Subscription::parse(Some(topic), &principal(Role::User)).unwrap_err();
            assert!(matches!(error, ApiError::Forbidden(_)), "{topic}: {error:?}");
        }
    }

    #[test]
    fn sockets_are_capped_per_user_and_slots_come_back() {
        let counts = SocketCounts::default();
        let a = counts.admit(1, 2).unwrap();
        let b = counts.admit(1, 2).unwrap();
        assert!(counts.admit(1, 2).is_none(), "a third socket of user 1");
        let other = counts.admit(2, 2).unwrap();
        assert_eq!((counts.open(1), counts.open(2)), (2, 1));
        drop(a);
        let c = counts.admit(1, 2).expect("a freed place");
        drop((b, c, other));
        assert_eq!((counts.open(1), counts.open(2)), (0, 0));
        assert!(counts.open.lock().unwrap().is_empty(), "no entries left for users without sockets");
    }

    #[test]
    fn close_reasons_name_why() {
        assert_eq!(Ended::session(""), Ended { code: 4001, reason: "session ended".into() });
        assert_eq!(Ended::session("token revoked").reason, "session ended: token revoked");
        assert_eq!(
            Ended::not_allowed("user disabled"),
            Ended { code: 4003, reason: "no longer allowed: user disabled".into() }
        );
    }

    #[test]
    fn bad_topics_name_the_field() {
        for topics in ["count", "job:q", "job:/a", "queue:", "jobs:x"] {
            match Subscription::parse(Some(topics), &principal(Role::Admin)) {
                Err(ApiError::Invalid { field, .. }) => assert_eq!(field, "topics"),
                other => panic!("{topics}: {other:?}"),
            }
        }
        let many = vec!["mine"; MAX_TOPICS + 1].join(",");
        assert!(Subscription::parse(Some(&many), &principal(Role::Admin)).is_err());
    }
}
