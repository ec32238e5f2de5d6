//! Property test of the engine's bookkeeping: random sequences of enqueues (with hostile
//! names, options and dedup keys), control operations on real and bogus ids, a real
//! worker and a crashing one, on two queues of one Redis. After every case Redis is read
//! directly: every job is in exactly one state set, and no key is left orphaned.
//!
//! A case fails on a broken invariant, on a panic, and on an error that is not a clean
//! refusal (`QueueError::Redis`, `Json` or `Protocol` from any input). `PROPTEST_CASES`
//! overrides the number of cases (default 64). When written it found three bugs: a dedup key `#ID` that overwrote job ID's entry in the
//! dedup index, statistics over extreme minutes that overflowed, and event positions and
//! counts that reached Redis unchecked; the generators keep producing each of them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use hoist_queue::{
    Backoff, CancellationToken, DedupScope, JobContext, JobError, JobOptions, JobState, KeyRateLimit,
    MAX_OPTION_DURATION, NewJob, Progress, Queue, QueueConfig, QueueError, QueueLimits, RateLimit, RedisConnection,
    Retention, Worker, WorkerOptions, handler_fn,
};
use hoist_testkit::RedisServer;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use redis::aio::MultiplexedConnection;
use serde_json::json;

const COMMON_LUA: &str = include_str!("../lua/includes/common.lua");

/// The active set's non-job member, as `includes/common.lua` defines it.
fn active_anchor() -> &'static str {
    static ANCHOR: OnceLock<String> = OnceLock::new();
    ANCHOR.get_or_init(|| {
        let line = COMMON_LUA.lines().find(|l| l.starts_with("local ACTIVE_ANCHOR = '")).expect("ACTIVE_ANCHOR");
        line.trim_start_matches("local ACTIVE_ANCHOR = '").trim_end().trim_end_matches('\'').to_string()
    })
}

const STATE_KEYS: [(JobState, &str); 8] = [
    (JobState::Waiting, "wait"),
    (JobState::Delayed, "delayed"),
    (JobState::Retrying, "retry"),
    (JobState::Active, "active"),
    (JobState::Completed, "completed"),
    (JobState::Dead, "dead"),
    (JobState::Cancelled, "cancelled"),
    (JobState::Expired, "expired"),
];

/// The other per-queue keys: name and Redis type.
const FIXED_KEYS: [(&str, &str); 14] = [
    ("meta", "hash"),
    ("totals", "hash"),
    ("events", "stream"),
    ("marker", "list"),
    ("dedup", "hash"),
    ("seq", "string"),
    ("limiter", "zset"),
    ("archive", "zset"),
    // Live jobs for the search index; an entry of a job deleted since is dropped when
    // the index reads it.
    ("unindexed", "list"),
    ("owners", "hash"),
    ("workers", "zset"),
    // Start-by deadlines; an entry outlives its job's start and is dropped when due.
    ("expiring", "zset"),
    // A grouped queue's turn order and active jobs per group.
    ("groups", "zset"),
    ("group_active", "hash"),
];

/// What `id.rs` makes: 26 characters of Crockford's base 32.
fn is_job_id(id: &str) -> bool {
    id.len() == 26
        && id
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'H' | b'J' | b'K' | b'M' | b'N' | b'P'..=b'T' | b'V'..=b'Z'))
}

/// `key_segment` of keys.rs: the owner's index key segment.
fn key_segment(owner: &str) -> String {
    owner
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'@') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Generated inputs

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Q {
    Main,
    Other,
}

/// An id given to an operation.
#[derive(Clone, Debug)]
enum Id {
    /// One returned by an enqueue of this case (of either queue).
    Known(Index),
    /// A known id made into something that is not one.
    Twisted(Index, Twist),
    Bogus(Bogus),
}

#[derive(Clone, Copy, Debug)]
enum Twist {
    Errors,
    Logs,
    Lower,
    TrailingSpace,
    Short,
}

#[derive(Clone, Copy, Debug)]
enum Bogus {
    Empty,
    XErrors,
    DotDot,
    Star,
    /// A well-formed id no job has.
    UnknownUlid,
    Long,
    Nul,
    Unicode,
}

#[derive(Clone, Debug)]
enum Action {
    Complete,
    Fail,
    Permanent,
    Defer(u64),
    Panic,
    /// Waits for cancellation (shutdown, cancel, timeout).
    Hang,
    /// Writes progress and log lines, then completes.
    Log,
}

#[derive(Clone, Debug)]
enum Dedup {
    Key(String),
    /// `#` and a known id: the form of the dedup hash's reverse entries.
    HashOfKnown(Index),
}

#[derive(Clone, Debug)]
struct GenJob {
    name: String,
    action: Action,
    options: JobOptions,
    dedup: Option<Dedup>,
}

#[derive(Clone, Debug)]
enum Op {
    Enqueue(Q, Vec<GenJob>),
    Cancel(Q, Id),
    Promote(Q, Id),
    Remove(Q, Id),
    GetJob(Q, Id),
    RetryJob(Q, Id),
    RemoveMany(Q, Vec<Id>),
    RemoveInState(Q, Vec<Id>, JobState),
    Retry(Q, JobState, Vec<Id>),
    RequeueDead(Q, Vec<Id>),
    RetryAll(Q, JobState),
    PromoteAll(Q),
    Clean(Q, JobState, Duration),
    Drain(Q, bool),
    Pause(Q),
    Resume(Q),
    Obliterate(Q, bool),
    SetLimits(Q, QueueLimits),
    SetArchiving(Q, bool),
    AckArchived(Q, usize),
    MarkArchived(Q, Vec<(Id, i64)>),
    RecoverStalled(Q),
    ListJobs(Q, JobState, u64, u64),
    ListOwned(Q, String, Vec<JobState>, u64, u64),
    TakeKeySlot(Q, String, u32, Duration, Id),
    Publish(Q, String, Id),
    Stats(Q, i64, i64),
    ReadEvents(Q, Option<String>, usize),
    /// A worker that claims jobs and dies: its leases lapse (`lapsed`) or stay held.
    Crash {
        on: Q,
        lapsed: bool,
    },
    /// A real worker runs for `ms`, cancelling what runs half-way when `cancel_midway`.
    Work {
        on: Q,
        ms: u64,
        cancel_midway: bool,
    },
}

#[derive(Clone, Debug)]
struct Case {
    queue: String,
    keep_completed: Option<u64>,
    keep_dead: Option<u64>,
    max_age: Option<Duration>,
    ops: Vec<Op>,
}

fn q() -> impl Strategy<Value = Q> {
    prop_oneof![4 => Just(Q::Main), 1 => Just(Q::Other)]
}

fn state() -> impl Strategy<Value = JobState> {
    prop::sample::select(JobState::ALL.to_vec())
}

fn id() -> impl Strategy<Value = Id> {
    prop_oneof![
        6 => any::<Index>().prop_map(Id::Known),
        1 => (any::<Index>(), prop::sample::select(vec![Twist::Errors, Twist::Logs, Twist::Lower, Twist::TrailingSpace, Twist::Short]))
            .prop_map(|(i, t)| Id::Twisted(i, t)),
        1 => prop::sample::select(vec![
            Bogus::Empty, Bogus::XErrors, Bogus::DotDot, Bogus::Star, Bogus::UnknownUlid, Bogus::Long, Bogus::Nul,
            Bogus::Unicode,
        ])
        .prop_map(Id::Bogus),
    ]
}

fn ids() -> impl Strategy<Value = Vec<Id>> {
    prop::collection::vec(id(), 0..4)
}

/// Durations around every edge: zero, small, the longest accepted, just past it, and
/// ones whose milliseconds overflow 64 bits.
fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        4 => (1u64..1500).prop_map(Duration::from_millis),
        1 => Just(Duration::ZERO),
        1 => Just(MAX_OPTION_DURATION),
        1 => Just(MAX_OPTION_DURATION + Duration::from_millis(1)),
        1 => Just(Duration::from_millis(1 << 53)),
        1 => Just(Duration::from_secs(u64::MAX)),
        1 => Just(Duration::MAX),
    ]
}

fn text_pool(pool: &[&str]) -> BoxedStrategy<String> {
    prop::sample::select(pool.iter().map(|s| s.to_string()).collect::<Vec<_>>()).boxed()
}

/// Mostly accepted values, with a hostile one now and then: cases must get far enough to
/// build up jobs in every state.
fn job_name() -> impl Strategy<Value = String> {
    prop_oneof![
        24 => text_pool(&["send", "ünï-雨", "x:errors", "../", "*", "job:1", "#", "a b{c}"]),
        2 => "\\PC{1,12}",
        1 => text_pool(&["", "   ", "a\nb", "\0", "zero\u{200B}width", "bidi\u{202E}", "\u{FEFF}bom"]),
        1 => text_pool(&[&"n".repeat(200), &"n".repeat(201), &"é".repeat(100), &"é".repeat(101)]),
    ]
}

fn owner() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => text_pool(&["42", "a b{c}", "ü%", "x:errors", "../", "%41", "A", "*", &"o".repeat(200), &"é".repeat(100)]),
        1 => text_pool(&["", "\n", "a\tb", &"o".repeat(201)]),
    ]
}

fn dedup() -> impl Strategy<Value = Dedup> {
    prop_oneof![
        12 => text_pool(&["d1", "d2", "ü-key", "x:errors", "#d1", "#", &"k".repeat(512)]).prop_map(Dedup::Key),
        1 => text_pool(&["", "a\nb", "\u{1}lead", &"k".repeat(513)]).prop_map(Dedup::Key),
        2 => any::<Index>().prop_map(Dedup::HashOfKnown),
    ]
}

fn small_duration() -> impl Strategy<Value = Duration> {
    (1u64..1500).prop_map(Duration::from_millis)
}

fn backoff() -> impl Strategy<Value = Backoff> {
    let jitter = prop::sample::select(vec![0.0, 0.2, 1.0, -0.1, 1.5, f64::NAN, f64::INFINITY]);
    prop_oneof![
        Just(Backoff::None),
        duration().prop_map(|delay| Backoff::Fixed { delay }),
        (duration(), duration(), jitter).prop_map(|(base, cap, jitter)| Backoff::Exponential { base, cap, jitter }),
    ]
}

fn valid_backoff() -> impl Strategy<Value = Backoff> {
    let long = prop_oneof![4 => small_duration(), 1 => Just(MAX_OPTION_DURATION)];
    prop_oneof![
        Just(Backoff::None),
        prop_oneof![Just(Duration::ZERO), small_duration()].prop_map(|delay| Backoff::Fixed { delay }),
        (long.clone(), long, 0.0..=1.0f64).prop_map(|(base, cap, jitter)| Backoff::Exponential { base, cap, jitter }),
    ]
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => Just(Action::Complete),
        2 => Just(Action::Fail),
        1 => Just(Action::Permanent),
        1 => (0u64..300).prop_map(Action::Defer),
        1 => Just(Action::Panic),
        1 => Just(Action::Hang),
        1 => Just(Action::Log),
    ]
}

fn rate_limit() -> impl Strategy<Value = KeyRateLimit> {
    (
        text_pool(&["k", "x:errors", "}{", "", "ü", &"k".repeat(201)]),
        prop::sample::select(vec![0u32, 1, 2, 1_000_000, 1_000_001, u32::MAX]),
        duration(),
    )
        .prop_map(|(key, max, per)| KeyRateLimit { key, max, per })
}

fn valid_rate_limit() -> impl Strategy<Value = KeyRateLimit> {
    (text_pool(&["k", "x:errors", "}{", "ü"]), 1u32..=3, prop_oneof![small_duration(), Just(MAX_OPTION_DURATION)])
        .prop_map(|(key, max, per)| KeyRateLimit { key, max, per })
}

fn options() -> impl Strategy<Value = JobOptions> {
    prop_oneof![6 => valid_options(), 1 => hostile_options()]
}

fn valid_options() -> impl Strategy<Value = JobOptions> {
    let priority = prop_oneof![4 => 0u16..=1000, 1 => Just(1000u16)];
    let attempts = prop_oneof![4 => 1u32..=4, 1 => Just(1000u32)];
    let delay =
        prop_oneof![6 => Just(None), 2 => small_duration().prop_map(Some), 1 => Just(Some(MAX_OPTION_DURATION))];
    let timeout = prop_oneof![4 => Just(None), 1 => small_duration().prop_map(Some)];
    let owner = prop_oneof![2 => Just(None), 1 => owner().prop_map(Some)];
    let stalls = prop_oneof![3 => 0u32..3, 1 => Just(u32::MAX)];
    let rate = prop_oneof![6 => Just(None), 1 => valid_rate_limit().prop_map(Some)];
    (((priority, attempts, delay, timeout, valid_backoff()), (owner, stalls, rate)), scope()).prop_map(build_options)
}

fn hostile_options() -> impl Strategy<Value = JobOptions> {
    let priority = prop_oneof![4 => 0u16..=1000, 1 => Just(1001u16), 1 => Just(u16::MAX)];
    let attempts = prop_oneof![4 => 1u32..=4, 1 => Just(0u32), 1 => Just(1001u32), 1 => Just(u32::MAX)];
    let delay = prop_oneof![3 => Just(None), 2 => duration().prop_map(Some)];
    let timeout = prop_oneof![3 => Just(None), 1 => duration().prop_map(Some)];
    let owner = prop_oneof![2 => Just(None), 1 => owner().prop_map(Some)];
    let stalls = prop_oneof![3 => 0u32..3, 1 => Just(u32::MAX)];
    let rate = prop_oneof![4 => Just(None), 1 => rate_limit().prop_map(Some)];
    (((priority, attempts, delay, timeout, backoff()), (owner, stalls, rate)), scope()).prop_map(build_options)
}

type OptionParts =
    ((u16, u32, Option<Duration>, Option<Duration>, Backoff), (Option<String>, u32, Option<KeyRateLimit>));

fn build_options(
    (((priority, max_attempts, delay, timeout, backoff), (owner, max_stalls, rate_limit)), dedup_scope): (
        OptionParts,
        DedupScope,
    ),
) -> JobOptions {
    JobOptions {
        priority,
        delay,
        max_attempts,
        backoff,
        timeout,
        dedup_key: None,
        dedup_scope,
        owner,
        max_stalls,
        rate_limit,
        // A fifth of the jobs carry a group (one of a few, one needing escapes), so a queue
        // turns grouped part-way through a run, with jobs of no group waiting already.
        group: (priority % 5 == 1).then(|| ["acme", "globex", "a b{c}"][(max_attempts % 3) as usize].to_string()),
        // A third of the jobs must start within a short window after their delay (derived
        // from the other drawn values, so a failing case still shrinks): some expire while
        // the run goes on, through the claim and the sweep.
        expires_in: (priority % 3 == 0 && delay.is_none_or(|d| d < Duration::from_secs(3600))).then(|| {
            delay.unwrap_or_default().saturating_add(Duration::from_millis(50 + u64::from(max_attempts) * 37 % 400))
        }),
    }
}

fn scope() -> impl Strategy<Value = DedupScope> {
    prop_oneof![Just(DedupScope::Retained), Just(DedupScope::Unfinished)]
}

fn gen_job() -> impl Strategy<Value = GenJob> {
    (job_name(), action(), options(), prop_oneof![2 => Just(None), 1 => dedup().prop_map(Some)])
        .prop_map(|(name, action, options, dedup)| GenJob { name, action, options, dedup })
}

fn limits() -> impl Strategy<Value = QueueLimits> {
    let concurrency = prop::option::of(prop::sample::select(vec![0u32, 1, 2, u32::MAX]));
    let rate = prop::option::of(
        (prop::sample::select(vec![0u32, 1, 3, u32::MAX]), duration()).prop_map(|(max, per)| RateLimit { max, per }),
    );
    let group = prop::option::of(prop::sample::select(vec![0u32, 1, 2]));
    (concurrency, rate, group).prop_map(|(concurrency, rate, group_concurrency)| QueueLimits {
        concurrency,
        rate,
        process_concurrency: None,
        group_concurrency,
    })
}

fn big_u64() -> impl Strategy<Value = u64> {
    prop_oneof![4 => 0u64..5, 1 => Just(1000u64), 1 => Just(i64::MAX as u64), 1 => Just(u64::MAX)]
}

fn minute() -> impl Strategy<Value = i64> {
    prop_oneof![
        3 => Just(29_000_000i64),
        1 => Just(i64::MIN),
        1 => Just(-1i64),
        1 => Just(0i64),
        1 => Just(i64::MAX),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let control = prop_oneof![
        (q(), id()).prop_map(|(q, id)| Op::Cancel(q, id)),
        (q(), id()).prop_map(|(q, id)| Op::Promote(q, id)),
        (q(), id()).prop_map(|(q, id)| Op::Remove(q, id)),
        (q(), id()).prop_map(|(q, id)| Op::GetJob(q, id)),
        (q(), id()).prop_map(|(q, id)| Op::RetryJob(q, id)),
        (q(), ids()).prop_map(|(q, ids)| Op::RemoveMany(q, ids)),
        (q(), ids(), state()).prop_map(|(q, ids, s)| Op::RemoveInState(q, ids, s)),
        (q(), state(), ids()).prop_map(|(q, s, ids)| Op::Retry(q, s, ids)),
        (q(), ids()).prop_map(|(q, ids)| Op::RequeueDead(q, ids)),
        (q(), state()).prop_map(|(q, s)| Op::RetryAll(q, s)),
    ];
    let bulk = prop_oneof![
        q().prop_map(Op::PromoteAll),
        (q(), state(), prop_oneof![2 => Just(Duration::ZERO), 1 => duration()])
            .prop_map(|(q, s, d)| Op::Clean(q, s, d)),
        (q(), any::<bool>()).prop_map(|(q, d)| Op::Drain(q, d)),
        q().prop_map(Op::Pause),
        q().prop_map(Op::Resume),
        (q(), any::<bool>()).prop_map(|(q, f)| Op::Obliterate(q, f)),
        (q(), limits()).prop_map(|(q, l)| Op::SetLimits(q, l)),
        (q(), any::<bool>()).prop_map(|(q, on)| Op::SetArchiving(q, on)),
        (q(), prop::sample::select(vec![0usize, 1, 3, usize::MAX])).prop_map(|(q, n)| Op::AckArchived(q, n)),
        (q(), prop::collection::vec((id(), prop::sample::select(vec![0i64, -1, i64::MIN, i64::MAX])), 0..3))
            .prop_map(|(q, pairs)| Op::MarkArchived(q, pairs)),
        q().prop_map(Op::RecoverStalled),
    ];
    let reads = prop_oneof![
        (q(), state(), big_u64(), big_u64()).prop_map(|(q, s, o, l)| Op::ListJobs(q, s, o, l)),
        (q(), owner(), prop::collection::vec(state(), 0..3), big_u64(), big_u64())
            .prop_map(|(q, o, s, c, l)| Op::ListOwned(q, o, s, c, l)),
        (
            q(),
            text_pool(&["k", "", "x:errors", "}{"]),
            prop::sample::select(vec![0u32, 1, 2, u32::MAX]),
            duration(),
            id()
        )
            .prop_map(|(q, key, max, per, member)| Op::TakeKeySlot(q, key, max, per, member)),
        (q(), text_pool(&["sync.completed", "added", "a.b", "", "x.y\n"]), id())
            .prop_map(|(q, k, id)| Op::Publish(q, k, id)),
        (q(), minute(), minute()).prop_map(|(q, from, to)| Op::Stats(q, from, to)),
        (
            q(),
            prop::option::of(text_pool(&[
                "",
                "0-0",
                "abc",
                "0-0.0",
                "0-0.18446744073709551615",
                "99999999999999999999-0",
                "(0-0",
                "0-0.x",
            ])),
            prop::sample::select(vec![0usize, 1, 100, usize::MAX])
        )
            .prop_map(|(q, after, count)| Op::ReadEvents(q, after, count)),
    ];
    let workers = prop_oneof![
        1 => (q(), any::<bool>()).prop_map(|(on, lapsed)| Op::Crash { on, lapsed }),
        2 => (q(), 20u64..200, any::<bool>()).prop_map(|(on, ms, cancel_midway)| Op::Work { on, ms, cancel_midway }),
    ];
    prop_oneof![
        8 => (q(), prop::collection::vec(gen_job(), 1..4)).prop_map(|(q, jobs)| Op::Enqueue(q, jobs)),
        6 => control,
        3 => bulk,
        2 => reads,
        3 => workers,
    ]
}

fn case() -> impl Strategy<Value = Case> {
    let retention = prop::sample::select(vec![None, Some(0u64), Some(1), Some(3), Some(1000)]);
    let max_age = prop::sample::select(vec![None, Some(Duration::from_millis(1)), Some(Duration::from_secs(86_400))]);
    (
        text_pool(&[
            "q",
            "ünïcødé-雨",
            "a*b?[c]\\d",
            "x:job:01ARZ3NDEKTSV4RRFFQ69G5FAV",
            "../..",
            "#dedup",
            &"q".repeat(100),
        ]),
        retention.clone(),
        retention,
        max_age,
        prop::collection::vec(op(), 1..30),
    )
        .prop_map(|(queue, keep_completed, keep_dead, max_age, ops)| Case {
            queue,
            keep_completed,
            keep_dead,
            max_age,
            ops,
        })
}

// ---------------------------------------------------------------------------------------
// Running a case

struct World {
    url: String,
    conn: MultiplexedConnection,
    main: Queue,
    other: Queue,
    /// Every id an enqueue returned, with its queue.
    known: Vec<(Q, String)>,
}

impl World {
    fn queue(&self, q: Q) -> &Queue {
        match q {
            Q::Main => &self.main,
            Q::Other => &self.other,
        }
    }

    /// The id as text, and the queue it names a job of (None: it names no job anywhere).
    fn resolve(&self, id: &Id) -> (String, Option<Q>) {
        let pick = |index: &Index| (!self.known.is_empty()).then(|| self.known[index.index(self.known.len())].clone());
        match id {
            Id::Known(index) => match pick(index) {
                Some((q, id)) => (id, Some(q)),
                None => (bogus(Bogus::UnknownUlid), None),
            },
            Id::Twisted(index, twist) => {
                let base = pick(index).map(|(_, id)| id).unwrap_or_else(|| bogus(Bogus::UnknownUlid));
                let twisted = match twist {
                    Twist::Errors => format!("{base}:errors"),
                    Twist::Logs => format!("{base}:logs"),
                    Twist::Lower => base.to_lowercase(),
                    Twist::TrailingSpace => format!("{base} "),
                    Twist::Short => base[..25].to_string(),
                };
                (twisted, None)
            }
            Id::Bogus(b) => (bogus(*b), None),
        }
    }

    fn resolve_all(&self, ids: &[Id]) -> Vec<String> {
        ids.iter().map(|id| self.resolve(id).0).collect()
    }
}

fn bogus(b: Bogus) -> String {
    match b {
        Bogus::Empty => String::new(),
        Bogus::XErrors => "x:errors".into(),
        Bogus::DotDot => "../".into(),
        Bogus::Star => "*".into(),
        Bogus::UnknownUlid => "01ARZ3NDEKTSV4RRFFQ69G5FAV".into(),
        Bogus::Long => "A".repeat(5000),
        Bogus::Nul => "\0".into(),
        Bogus::Unicode => "ü雨".into(),
    }
}

/// Tallies of what the operations did, printed at the end to show the cases reach deep.
#[derive(Default)]
struct Tally(BTreeMap<String, u64>);

impl Tally {
    fn add(&mut self, what: impl Into<String>) {
        *self.0.entry(what.into()).or_default() += 1;
    }
}

/// Ok(Some) on success, Ok(None) on a clean refusal, Err on an error no input may cause.
fn clean<T>(tally: &mut Tally, what: &str, result: Result<T, QueueError>) -> Result<Option<T>, String> {
    match result {
        Ok(value) => {
            tally.add(format!("{what}: ok"));
            Ok(Some(value))
        }
        Err(e @ (QueueError::Redis(_) | QueueError::Json(_) | QueueError::Protocol(_))) => {
            Err(format!("{what} failed with an error no input may cause: {e:?}"))
        }
        Err(e) => {
            tally.add(format!("{what}: {}", refusal_name(&e)));
            Ok(None)
        }
    }
}

fn refusal_name(e: &QueueError) -> String {
    match e {
        QueueError::InvalidOption { field, .. } => format!("invalid {field}"),
        other => format!("{other:?}").split([' ', '{', '(']).next().unwrap_or_default().to_string(),
    }
}

/// A call on an id that names no job of the queue must say NotFound.
fn expect_not_found<T: std::fmt::Debug>(what: &str, id: &str, result: &Result<T, QueueError>) -> Result<(), String> {
    match result {
        Err(QueueError::NotFound { .. }) => Ok(()),
        other => Err(format!("{what}({id:?}) names no job of this queue but returned {other:?}")),
    }
}

fn payload(action: &Action) -> serde_json::Value {
    match action {
        Action::Complete => json!({ "do": "complete", "text": "ünï\u{0}雨" }),
        Action::Fail => json!({ "do": "fail" }),
        Action::Permanent => json!({ "do": "permanent" }),
        Action::Defer(ms) => json!({ "do": "defer", "ms": ms }),
        Action::Panic => json!({ "do": "panic" }),
        Action::Hang => json!({ "do": "hang" }),
        Action::Log => json!({ "do": "log" }),
    }
}

async fn handle(ctx: JobContext) -> Result<serde_json::Value, JobError> {
    let payload = ctx.job().payload.clone();
    match payload["do"].as_str().unwrap_or_default() {
        "fail" => Err(JobError::retryable("planned failure")),
        "permanent" => Err(JobError::permanent("planned permanent failure")),
        "defer" => Err(JobError::defer(Duration::from_millis(payload["ms"].as_u64().unwrap_or(0)))),
        "panic" => panic!("planned panic"),
        "hang" => {
            ctx.cancellation().cancelled().await;
            Err(JobError::retryable("stopped"))
        }
        "log" => {
            ctx.progress(Progress::stage("half").percent(50.0)).await.map_err(JobError::retryable)?;
            ctx.log("a line\nwith ünï").await.map_err(JobError::retryable)?;
            Ok(json!({ "logged": true }))
        }
        _ => Ok(json!({ "done": true })),
    }
}

fn worker_options(lease: Duration) -> WorkerOptions {
    WorkerOptions {
        concurrency: 4,
        lease,
        stall_check_interval: Duration::from_millis(50),
        shutdown_grace: Duration::from_millis(50),
        cancel_grace: Duration::from_millis(50),
        claim_loops: 2,
        ..WorkerOptions::default()
    }
}

/// Runs a real worker on `queue` for `ms`, then shuts it down and waits for it.
async fn work(queue: &Queue, ms: u64, cancel_midway: bool, tally: &mut Tally) -> Result<(), String> {
    let shutdown = CancellationToken::new();
    let worker = Worker::new(queue.clone(), handler_fn(handle), worker_options(Duration::from_secs(10)));
    let running = tokio::spawn(worker.run(shutdown.clone()));
    tokio::time::sleep(Duration::from_millis(ms / 2)).await;
    if cancel_midway {
        let active = queue.list_jobs(JobState::Active, 0, 100).await;
        if let Some(page) = clean(tally, "list active", active)? {
            for job in page.jobs {
                clean(tally, "cancel active", queue.cancel(&job.id).await)?;
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(ms / 2)).await;
    shutdown.cancel();
    match tokio::time::timeout(Duration::from_secs(20), running).await {
        Err(_) => return Err("worker did not stop within 20 s of shutdown".into()),
        Ok(Err(join)) => return Err(format!("worker task failed: {join}")),
        Ok(Ok(Err(e))) => return Err(format!("worker returned an error: {e:?}")),
        Ok(Ok(Ok(()))) => {}
    }
    worker_errors()
}

/// A worker process that dies with jobs claimed: its own runtime and connection, dropped
/// mid-run. With `lapsed`, its leases are short and have run out when this returns.
async fn crash(world: &World, q: Q, lapsed: bool) -> Result<(), String> {
    let url = world.url.clone();
    let name = world.queue(q).name().to_string();
    let config = world.queue(q).config().clone();
    let lease = if lapsed { Duration::from_millis(300) } else { Duration::from_secs(60) };
    let outcome = tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let result = runtime.block_on(async move {
            let redis = RedisConnection::connect(&url).await.map_err(|e| format!("crash worker connect: {e}"))?;
            let queue = Queue::with_config(&redis, &name, config).map_err(|e| format!("crash worker queue: {e}"))?;
            let hang = handler_fn(|ctx: JobContext| async move {
                ctx.cancellation().cancelled().await;
                Err::<serde_json::Value, _>(JobError::retryable("stopped"))
            });
            let worker = Worker::new(queue, hang, worker_options(lease));
            let token = CancellationToken::new();
            let run = tokio::spawn(worker.run(token));
            tokio::time::sleep(Duration::from_millis(150)).await;
            if run.is_finished() {
                return Err(format!("crash worker ended by itself: {:?}", run.await));
            }
            Ok(())
        });
        // Everything of that "process" stops here: no release, no renewal, no goodbye.
        runtime.shutdown_background();
        result
    })
    .await
    .map_err(|e| format!("crash thread: {e}"))?;
    outcome?;
    if lapsed {
        tokio::time::sleep(lease + Duration::from_millis(50)).await;
    }
    worker_errors()
}

async fn apply(world: &mut World, op: &Op, tally: &mut Tally) -> Result<(), String> {
    match op {
        Op::Enqueue(q, jobs) => {
            let queue = world.queue(*q).clone();
            let new_jobs: Vec<NewJob> = jobs
                .iter()
                .map(|job| {
                    let dedup_key = job.dedup.as_ref().map(|d| match d {
                        Dedup::Key(key) => key.clone(),
                        Dedup::HashOfKnown(index) => format!("#{}", world.resolve(&Id::Known(*index)).0),
                    });
                    NewJob::new(job.name.clone(), payload(&job.action))
                        .with_options(JobOptions { dedup_key, ..job.options.clone() })
                })
                .collect();
            let jobs_before = job_keys(&mut world.conn, &queue).await?;
            let what = if new_jobs.len() == 1 { "enqueue" } else { "enqueue_bulk" };
            let result = if new_jobs.len() == 1 {
                queue.enqueue(new_jobs[0].clone()).await.map(|e| vec![e])
            } else {
                queue.enqueue_bulk(new_jobs.clone()).await
            };
            match clean(tally, what, result)? {
                Some(enqueued) => {
                    if enqueued.len() != new_jobs.len() {
                        return Err(format!("{what} of {} jobs answered {enqueued:?}", new_jobs.len()));
                    }
                    for e in &enqueued {
                        if !is_job_id(&e.id) {
                            return Err(format!("{what} returned {e:?}, not a job id"));
                        }
                        let state: Option<String> = hget(&mut world.conn, &queue, &e.id, "state").await?;
                        if state.is_none() {
                            return Err(format!("{what} returned {e:?} but the queue holds no such job"));
                        }
                        world.known.push((*q, e.id.clone()));
                    }
                }
                None => {
                    let jobs_after = job_keys(&mut world.conn, &queue).await?;
                    if jobs_after != jobs_before {
                        return Err(format!(
                            "refused {what} still changed the jobs: {jobs_before:?} -> {jobs_after:?}"
                        ));
                    }
                }
            }
        }
        Op::Cancel(q, id) => {
            let (text, owner) = world.resolve(id);
            let result = world.queue(*q).cancel(&text).await;
            if owner != Some(*q) {
                expect_not_found("cancel", &text, &result)?;
            }
            clean(tally, "cancel", result)?;
        }
        Op::Promote(q, id) => {
            let (text, owner) = world.resolve(id);
            let result = world.queue(*q).promote(&text).await;
            if owner != Some(*q) {
                expect_not_found("promote", &text, &result)?;
            }
            clean(tally, "promote", result)?;
        }
        Op::Remove(q, id) => {
            let (text, owner) = world.resolve(id);
            let result = world.queue(*q).remove(&text).await;
            if owner != Some(*q) {
                expect_not_found("remove", &text, &result)?;
            }
            clean(tally, "remove", result)?;
        }
        Op::RetryJob(q, id) => {
            let (text, owner) = world.resolve(id);
            let result = world.queue(*q).retry_job(&text).await;
            if owner != Some(*q) {
                expect_not_found("retry_job", &text, &result)?;
            }
            clean(tally, "retry_job", result)?;
        }
        Op::GetJob(q, id) => {
            let (text, owner) = world.resolve(id);
            let queue = world.queue(*q).clone();
            let got = clean(tally, "get_job", queue.get_job(&text).await)?.flatten();
            if owner != Some(*q) && got.is_some() {
                return Err(format!("get_job({text:?}) names no job of this queue but returned {got:?}"));
            }
            if let Some(job) = got {
                let stored: Option<String> = hget(&mut world.conn, &queue, &text, "state").await?;
                if stored.as_deref() != Some(job.state.as_str()) {
                    return Err(format!("get_job({text:?}) says {} but the hash says {stored:?}", job.state));
                }
            }
        }
        Op::RemoveMany(q, ids) => {
            let ids = world.resolve_all(ids);
            clean(tally, "remove_many", world.queue(*q).remove_many(&ids).await)?;
        }
        Op::RemoveInState(q, ids, state) => {
            let ids = world.resolve_all(ids);
            clean(tally, "remove_in_state", world.queue(*q).remove_in_state(&ids, *state).await)?;
        }
        Op::Retry(q, from, ids) => {
            let ids = world.resolve_all(ids);
            clean(tally, &format!("retry from {from}"), world.queue(*q).retry(*from, &ids).await)?;
        }
        Op::RequeueDead(q, ids) => {
            let ids = world.resolve_all(ids);
            clean(tally, "requeue_dead", world.queue(*q).requeue_dead(&ids).await)?;
        }
        Op::RetryAll(q, from) => {
            clean(tally, &format!("retry_all {from}"), world.queue(*q).retry_all(*from).await)?;
        }
        Op::PromoteAll(q) => {
            clean(tally, "promote_all", world.queue(*q).promote_all().await)?;
        }
        Op::Clean(q, state, age) => {
            clean(tally, &format!("clean {state}"), world.queue(*q).clean(*state, *age).await)?;
        }
        Op::Drain(q, delayed) => {
            clean(tally, "drain", world.queue(*q).drain(*delayed).await)?;
        }
        Op::Pause(q) => {
            clean(tally, "pause", world.queue(*q).pause().await)?;
        }
        Op::Resume(q) => {
            clean(tally, "resume", world.queue(*q).resume().await)?;
        }
        Op::Obliterate(q, force) => {
            let queue = world.queue(*q).clone();
            if clean(tally, "obliterate", queue.obliterate(*force).await)?.is_some() {
                let prefix = key_prefix(&queue);
                let left: Vec<String> = all_keys(&mut world.conn)
                    .await?
                    .into_iter()
                    .filter_map(|key| key.strip_prefix(&prefix).map(str::to_string))
                    .filter(|rest| !(rest.starts_with("stats:") || rest.starts_with("rate:") || rest == "workers"))
                    .collect();
                if !left.is_empty() {
                    return Err(format!("obliterate({force}) succeeded but left {left:?}"));
                }
            }
        }
        Op::SetLimits(q, limits) => {
            clean(tally, "set_limits", world.queue(*q).set_limits(limits).await)?;
        }
        Op::SetArchiving(q, on) => {
            clean(tally, "set_archiving", world.queue(*q).set_archiving(*on).await)?;
        }
        Op::AckArchived(q, limit) => {
            let queue = world.queue(*q).clone();
            if let Some(listed) = clean(tally, "unarchived", queue.unarchived(*limit).await)? {
                let pairs: Vec<(String, i64)> = listed.into_iter().map(|p| (p.id, p.finished_at)).collect();
                clean(tally, "mark_archived", queue.mark_archived(&pairs).await)?;
            }
        }
        Op::MarkArchived(q, pairs) => {
            let pairs: Vec<(String, i64)> = pairs.iter().map(|(id, at)| (world.resolve(id).0, *at)).collect();
            clean(tally, "mark_archived (any ids)", world.queue(*q).mark_archived(&pairs).await)?;
        }
        Op::RecoverStalled(q) => {
            clean(tally, "recover_stalled", world.queue(*q).recover_stalled().await)?;
        }
        Op::ListJobs(q, state, offset, limit) => {
            clean(tally, "list_jobs", world.queue(*q).list_jobs(*state, *offset, *limit).await)?;
        }
        Op::ListOwned(q, owner, states, cursor, limit) => {
            clean(tally, "list_owned", world.queue(*q).list_owned(owner, states, *cursor, *limit).await)?;
        }
        Op::TakeKeySlot(q, key, max, per, member) => {
            let member = world.resolve(member).0;
            clean(tally, "take_key_slot", world.queue(*q).take_key_slot(key, *max, *per, &member).await)?;
        }
        Op::Publish(q, kind, id) => {
            let job = world.resolve(id).0;
            let fields = [("note", "ünï\n".to_string())];
            clean(tally, "publish", world.queue(*q).publish(kind, &job, &fields).await)?;
        }
        Op::Stats(q, from, to) => {
            clean(tally, "stats", world.queue(*q).stats(*from, *to).await)?;
        }
        Op::ReadEvents(q, after, count) => {
            clean(tally, "read_events", world.queue(*q).read_events(after.as_deref(), *count).await)?;
        }
        Op::Crash { on, lapsed } => {
            crash(world, *on, *lapsed).await?;
            tally.add("crash");
        }
        Op::Work { on, ms, cancel_midway } => {
            let queue = world.queue(*on).clone();
            work(&queue, *ms, *cancel_midway, tally).await?;
            tally.add("work");
        }
    }
    Ok(())
}

async fn run_case(url: &str, redis: &RedisConnection, case: &Case, tally: &mut Tally) -> Result<(), String> {
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    let mut conn = client.get_multiplexed_async_connection().await.map_err(|e| e.to_string())?;
    let _: () = redis::cmd("FLUSHALL").query_async(&mut conn).await.map_err(|e| e.to_string())?;
    let config = QueueConfig {
        completed: Retention { max_count: case.keep_completed, max_age: case.max_age },
        dead: Retention { max_count: case.keep_dead, max_age: case.max_age },
        ..QueueConfig::default()
    };
    let main = Queue::with_config(redis, &case.queue, config).map_err(|e| format!("queue name refused: {e}"))?;
    let other = Queue::new(redis, "other").expect("queue");
    let mut world = World { url: url.to_string(), conn, main, other, known: vec![] };
    for (step, op) in case.ops.iter().enumerate() {
        Box::pin(apply(&mut world, op, tally)).await.map_err(|e| format!("step {step} {op:?}: {e}"))?;
    }
    let queues = [world.main.clone(), world.other.clone()];
    let broken = violations(&mut world.conn, &queues).await?;
    if let Ok(counts) = world.main.counts().await {
        for state in JobState::ALL.into_iter().filter(|s| counts.get(*s) > 0) {
            tally.add(format!("~ cases ending with {state} jobs"));
        }
    }
    if !broken.is_empty() {
        return Err(format!("after {} steps:\n  {}", case.ops.len(), broken.join("\n  ")));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Reading Redis directly

fn key_prefix(queue: &Queue) -> String {
    format!("hoist:{{{}}}:", queue.name())
}

fn redis_err(e: redis::RedisError) -> String {
    format!("reading redis: {e}")
}

async fn all_keys(conn: &mut MultiplexedConnection) -> Result<Vec<String>, String> {
    let mut keys = vec![];
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<Vec<u8>>) =
            redis::cmd("SCAN").arg(cursor).arg("COUNT").arg(1000).query_async(conn).await.map_err(redis_err)?;
        for key in batch {
            keys.push(String::from_utf8(key).map_err(|e| format!("a key that is not UTF-8: {:?}", e.as_bytes()))?);
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
    keys.sort();
    keys.dedup();
    Ok(keys)
}

/// The job hashes of `queue` (ids), for "a refused enqueue adds nothing".
async fn job_keys(conn: &mut MultiplexedConnection, queue: &Queue) -> Result<BTreeSet<String>, String> {
    let prefix = format!("{}job:", key_prefix(queue));
    Ok(all_keys(conn)
        .await?
        .into_iter()
        .filter_map(|k| k.strip_prefix(&prefix).map(str::to_string))
        .filter(|id| !id.contains(':'))
        .collect())
}

async fn hget(
    conn: &mut MultiplexedConnection,
    queue: &Queue,
    id: &str,
    field: &str,
) -> Result<Option<String>, String> {
    redis::cmd("HGET")
        .arg(format!("{}job:{id}", key_prefix(queue)))
        .arg(field)
        .query_async(conn)
        .await
        .map_err(redis_err)
}

#[derive(serde::Deserialize)]
struct Spec {
    name: String,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    dedup: Option<String>,
    #[serde(default)]
    group: Option<String>,
}

/// Fair groups: on a grouped queue every waiting job is in its group's set at its wait
/// score, each group's active count is its active jobs, and every group with a waiting
/// job and room under the cap is in the turn order (else its jobs would never run). An
/// ungrouped queue has none of these keys.
async fn check_groups(
    conn: &mut MultiplexedConnection,
    q: &str,
    prefix: &str,
    jobs: &BTreeMap<String, HashMap<String, String>>,
    specs: &BTreeMap<String, Spec>,
    group_sets: &[String],
    broken: &mut Vec<String>,
) -> Result<(), String> {
    let (grouped, cap): (Option<String>, Option<u64>) = redis::cmd("HMGET")
        .arg(format!("{prefix}meta"))
        .arg("grouped")
        .arg("group_concurrency")
        .query_async(conn)
        .await
        .map_err(redis_err)?;
    let turns: Vec<String> = redis::cmd("ZRANGE")
        .arg(format!("{prefix}groups"))
        .arg(0)
        .arg(-1)
        .query_async(conn)
        .await
        .map_err(redis_err)?;
    let active: HashMap<String, i64> =
        redis::cmd("HGETALL").arg(format!("{prefix}group_active")).query_async(conn).await.map_err(redis_err)?;
    for (id, spec) in specs {
        let stored = jobs.get(id).and_then(|f| f.get("group"));
        if spec.group.as_deref().map(key_segment).as_ref() != stored {
            broken.push(format!("[{q}] job {id} of group {:?} has the group field {stored:?}", spec.group));
        }
    }
    if grouped.is_none() {
        if !group_sets.is_empty() || !turns.is_empty() || !active.is_empty() {
            broken.push(format!("[{q}] ungrouped, yet groups {group_sets:?}, turns {turns:?}, active {active:?}"));
        }
        return Ok(());
    }
    let mut sets: HashMap<String, HashMap<String, f64>> = HashMap::new();
    for tag in group_sets {
        let members: Vec<(String, f64)> = redis::cmd("ZRANGE")
            .arg(format!("{prefix}group:{tag}"))
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES")
            .query_async(conn)
            .await
            .map_err(redis_err)?;
        sets.insert(tag.clone(), members.into_iter().collect());
    }
    // Every job leaving the wait set leaves its group's set too (claim, cancel, remove,
    // drain, expiry): no entry is stale.
    for (tag, members) in &sets {
        for id in members.keys() {
            let job = jobs.get(id);
            let state = job.and_then(|f| f.get("state")).map(String::as_str);
            let group = job.and_then(|f| f.get("group")).cloned().unwrap_or_default();
            if state != Some("waiting") || &group != tag {
                broken.push(format!("[{q}] group {tag:?} lists {id}, which is {state:?} in group {group:?}"));
            }
        }
    }
    let mut running: HashMap<String, i64> = HashMap::new();
    let mut waiting_groups: BTreeSet<String> = BTreeSet::new();
    for (id, fields) in jobs {
        let tag = fields.get("group").cloned().unwrap_or_default();
        match fields.get("state").map(String::as_str) {
            Some("waiting") => {
                let score = fields.get("score").and_then(|v| v.parse::<f64>().ok());
                let filed = sets.get(&tag).and_then(|set| set.get(id)).copied();
                if filed.is_none() || filed != score {
                    broken.push(format!("[{q}] waiting job {id} of group {tag:?} is at {filed:?} in its group's set"));
                }
                waiting_groups.insert(tag);
            }
            Some("active") if !tag.is_empty() => *running.entry(tag).or_default() += 1,
            _ => {}
        }
    }
    for (tag, n) in &active {
        if running.get(tag).copied().unwrap_or(0) != *n {
            broken.push(format!("[{q}] group {tag:?} counts {n} active, runs {:?}", running.get(tag)));
        }
    }
    for (tag, n) in &running {
        if !active.contains_key(tag) {
            broken.push(format!("[{q}] group {tag:?} runs {n} jobs but counts none"));
        }
    }
    for tag in &waiting_groups {
        let has_room = tag.is_empty() || cap.is_none_or(|cap| (active.get(tag).copied().unwrap_or(0) as u64) < cap);
        if has_room && !turns.contains(tag) {
            broken.push(format!("[{q}] group {tag:?} has waiting jobs and room, but no turn"));
        }
    }
    Ok(())
}

/// Every broken invariant of the queues' keys, as readable lines.
async fn violations(conn: &mut MultiplexedConnection, queues: &[Queue]) -> Result<Vec<String>, String> {
    let mut broken = vec![];
    let keys = all_keys(conn).await?;
    let prefixes: Vec<String> = queues.iter().map(key_prefix).collect();
    for key in &keys {
        if key != "hoist:queues" && !prefixes.iter().any(|p| key.starts_with(p)) {
            broken.push(format!("key {key:?} belongs to no queue"));
        }
    }
    for (queue, prefix) in queues.iter().zip(&prefixes) {
        let mine: Vec<&str> = keys.iter().filter_map(|k| k.strip_prefix(prefix.as_str())).collect();
        check_queue(conn, queue, prefix, &mine, &mut broken).await?;
    }
    Ok(broken)
}

async fn check_queue(
    conn: &mut MultiplexedConnection,
    queue: &Queue,
    prefix: &str,
    suffixes: &[&str],
    broken: &mut Vec<String>,
) -> Result<(), String> {
    let q = queue.name();
    let mut pipe = redis::pipe();
    for suffix in suffixes {
        pipe.cmd("TYPE").arg(format!("{prefix}{suffix}")).cmd("PTTL").arg(format!("{prefix}{suffix}"));
    }
    let typed: Vec<(String, i64)> = if suffixes.is_empty() {
        vec![]
    } else {
        let flat: Vec<redis::Value> = pipe.query_async(conn).await.map_err(redis_err)?;
        flat.chunks(2)
            .map(|pair| {
                let kind: String = redis::from_redis_value(pair[0].clone()).unwrap_or_default();
                let ttl: i64 = redis::from_redis_value(pair[1].clone()).unwrap_or(-3);
                (kind, ttl)
            })
            .collect()
    };

    let mut job_ids: BTreeSet<String> = BTreeSet::new();
    let mut lists: Vec<(String, &str)> = vec![];
    let mut key_segments: Vec<String> = vec![];
    let mut group_sets: Vec<String> = vec![];
    for (suffix, (kind, ttl)) in suffixes.iter().zip(&typed) {
        // Expired (a rate window's key) between the listing and this read: gone, not wrong.
        if kind == "none" {
            continue;
        }
        let want = |expected: &str, broken: &mut Vec<String>| {
            if kind != expected {
                broken.push(format!("[{q}] {suffix:?} is a {kind}, expected a {expected}"));
            }
        };
        if STATE_KEYS.iter().any(|(_, name)| name == suffix) {
            want("zset", broken);
        } else if let Some((_, expected)) = FIXED_KEYS.iter().find(|(name, _)| name == suffix) {
            want(expected, broken);
            if *suffix == "limiter" && *ttl < 0 {
                broken.push(format!("[{q}] limiter has no expiry"));
            }
        } else if let Some(rest) = suffix.strip_prefix("job:") {
            let (id, list) = match rest.split_once(':') {
                Some((id, "errors")) => (id, Some("errors")),
                Some((id, "logs")) => (id, Some("logs")),
                Some(_) => {
                    broken.push(format!("[{q}] unknown job key {suffix:?}"));
                    continue;
                }
                None => (rest, None),
            };
            if !is_job_id(id) {
                broken.push(format!("[{q}] key {suffix:?} is of an id no job can have"));
            }
            match list {
                Some(which) => {
                    want("list", broken);
                    lists.push((id.to_string(), which));
                }
                None => {
                    want("hash", broken);
                    job_ids.insert(id.to_string());
                }
            }
        } else if let Some(tag) = suffix.strip_prefix("group:") {
            want("zset", broken);
            group_sets.push(tag.to_string());
        } else if let Some(tag) = suffix.strip_prefix("owner:") {
            want("zset", broken);
            key_segments.push(tag.to_string());
        } else if let Some(minute) = suffix.strip_prefix("stats:") {
            want("hash", broken);
            if minute.parse::<i64>().is_err() {
                broken.push(format!("[{q}] statistics key {suffix:?} names no minute"));
            }
            if *ttl < 0 {
                broken.push(format!("[{q}] {suffix:?} never expires"));
            }
        } else if let Some(key) = suffix.strip_prefix("rate:") {
            want("zset", broken);
            if key.is_empty() {
                broken.push(format!("[{q}] a rate key with an empty name"));
            }
            if *ttl < 0 {
                broken.push(format!("[{q}] {suffix:?} never expires"));
            }
        } else {
            broken.push(format!("[{q}] unknown key {suffix:?} ({kind})"));
        }
    }

    // The state sets, and which sets each id is in.
    let mut membership: BTreeMap<String, Vec<JobState>> = BTreeMap::new();
    let mut scores: HashMap<(String, JobState), f64> = HashMap::new();
    let mut sizes: HashMap<JobState, u64> = HashMap::new();
    for (state, name) in STATE_KEYS {
        let members: Vec<(String, f64)> = redis::cmd("ZRANGE")
            .arg(format!("{prefix}{name}"))
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES")
            .query_async(conn)
            .await
            .map_err(redis_err)?;
        let mut size = 0;
        for (member, score) in members {
            if member == active_anchor() {
                if state != JobState::Active || score != f64::INFINITY {
                    broken.push(format!("[{q}] the active anchor is in {state} at {score}"));
                }
                continue;
            }
            size += 1;
            scores.insert((member.clone(), state), score);
            membership.entry(member).or_default().push(state);
        }
        sizes.insert(state, size);
    }

    // Every job hash: readable, in its state's set and no other.
    let ids: Vec<&String> = job_ids.iter().collect();
    let mut jobs: BTreeMap<String, HashMap<String, String>> = BTreeMap::new();
    if !ids.is_empty() {
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.hgetall(format!("{prefix}job:{id}"));
        }
        let hashes: Vec<HashMap<String, String>> = pipe.query_async(conn).await.map_err(redis_err)?;
        for (id, fields) in ids.into_iter().zip(hashes) {
            jobs.insert(id.clone(), fields);
        }
    }
    let mut specs: BTreeMap<String, Spec> = BTreeMap::new();
    for (id, fields) in &jobs {
        let sets = membership.get(id).cloned().unwrap_or_default();
        let state = fields.get("state").map(String::as_str);
        match state.and_then(JobState::parse) {
            None => broken.push(format!("[{q}] job {id} has state {state:?}; fields {:?}", field_names(fields))),
            Some(state) => {
                if sets != [state] {
                    broken.push(format!("[{q}] job {id} is {state} but in the sets {sets:?}"));
                }
                if state == JobState::Active && fields.get("lease").is_none_or(|l| l.is_empty()) {
                    broken.push(format!("[{q}] active job {id} holds no lease"));
                }
                // The set's order agrees with the job: waiting by its own score, delayed
                // and retrying by its run-at time, finished sets by its finish time.
                let field = match state {
                    JobState::Waiting => Some("score"),
                    JobState::Delayed | JobState::Retrying => Some("run_at"),
                    JobState::Active => None,
                    _ => Some("finished_at"),
                };
                if let (Some(field), Some(score)) = (field, scores.get(&(id.clone(), state))) {
                    let stored = fields.get(field).and_then(|v| v.parse::<f64>().ok());
                    if stored != Some(*score) {
                        broken.push(format!(
                            "[{q}] {state} job {id} is at {score} in its set but its {field} is {:?}",
                            fields.get(field)
                        ));
                    }
                }
            }
        }
        match fields.get("spec").map(|s| serde_json::from_str::<Spec>(s)) {
            Some(Ok(spec)) => {
                if spec.name.is_empty() {
                    broken.push(format!("[{q}] job {id} has an empty name"));
                }
                specs.insert(id.clone(), spec);
            }
            Some(Err(e)) => broken.push(format!("[{q}] job {id} has an unreadable spec: {e}")),
            None => broken.push(format!("[{q}] job {id} has no spec; fields {:?}", field_names(fields))),
        }
    }
    for (id, sets) in &membership {
        if !jobs.contains_key(id) {
            broken.push(format!("[{q}] {id:?} is in {sets:?} but has no job hash"));
        }
    }
    for (id, which) in &lists {
        if !jobs.contains_key(id) {
            broken.push(format!("[{q}] job:{id}:{which} outlived its job"));
        }
    }

    // Dedup: forward entries point at jobs whose reverse entry names the key; reverse
    // entries belong to live jobs holding that key; every keyed job has its reverse entry.
    // A field `#ID` is read as a reverse entry when job ID exists (a dedup key may itself
    // start with `#`; one that names a live job collides, and shows up here).
    let dedup: HashMap<String, String> =
        redis::cmd("HGETALL").arg(format!("{prefix}dedup")).query_async(conn).await.map_err(redis_err)?;
    for (field, value) in &dedup {
        match field.strip_prefix('#').filter(|id| jobs.contains_key(*id)) {
            Some(id) => match specs.get(id) {
                None => broken.push(format!("[{q}] dedup reverse entry {field:?} -> {value:?} of a missing job")),
                Some(spec) if spec.dedup.as_deref() != Some(value.as_str()) => broken.push(format!(
                    "[{q}] dedup reverse entry {field:?} -> {value:?} but the job's key is {:?}",
                    spec.dedup
                )),
                Some(_) => {}
            },
            None => {
                if !jobs.contains_key(value) {
                    broken.push(format!("[{q}] dedup key {field:?} -> {value:?}, no such job"));
                } else if dedup.get(&format!("#{value}")) != Some(field) {
                    broken.push(format!(
                        "[{q}] dedup key {field:?} -> {value:?} whose reverse entry is {:?}",
                        dedup.get(&format!("#{value}"))
                    ));
                }
            }
        }
    }
    for (id, spec) in &specs {
        if let Some(key) = &spec.dedup
            && dedup.get(&format!("#{id}")) != Some(key)
        {
            broken.push(format!(
                "[{q}] job {id} has dedup key {key:?} but its reverse entry is {:?}",
                dedup.get(&format!("#{id}"))
            ));
        }
    }

    // Owners: the hash and the per-owner indexes agree with each other and with the jobs.
    let owners: HashMap<String, String> =
        redis::cmd("HGETALL").arg(format!("{prefix}owners")).query_async(conn).await.map_err(redis_err)?;
    let mut indexed: HashMap<String, Vec<String>> = HashMap::new();
    for tag in &key_segments {
        let members: Vec<String> = redis::cmd("ZRANGE")
            .arg(format!("{prefix}owner:{tag}"))
            .arg(0)
            .arg(-1)
            .query_async(conn)
            .await
            .map_err(redis_err)?;
        for id in &members {
            if !jobs.contains_key(id) {
                broken.push(format!("[{q}] owner index {tag:?} lists {id:?}, no such job"));
            }
            if owners.get(id) != Some(tag) {
                broken.push(format!(
                    "[{q}] owner index {tag:?} lists {id} but the owners hash says {:?}",
                    owners.get(id)
                ));
            }
        }
        indexed.insert(tag.clone(), members);
    }
    for (id, tag) in &owners {
        if !jobs.contains_key(id) {
            broken.push(format!("[{q}] owners hash names {id:?} ({tag:?}), no such job"));
        }
        if !indexed.get(tag).is_some_and(|ids| ids.contains(id)) {
            broken.push(format!("[{q}] owners hash names {id} under {tag:?}, which its index lacks"));
        }
    }
    for (id, spec) in &specs {
        if let Some(owner) = &spec.owner
            && owners.get(id) != Some(&key_segment(owner))
        {
            broken.push(format!("[{q}] job {id} of owner {owner:?} is filed under {:?}", owners.get(id)));
        }
    }

    check_groups(conn, q, prefix, &jobs, &specs, &group_sets, broken).await?;

    // Archive: only jobs, and only while archiving is on.
    let archive: Vec<String> = redis::cmd("ZRANGE")
        .arg(format!("{prefix}archive"))
        .arg(0)
        .arg(-1)
        .query_async(conn)
        .await
        .map_err(redis_err)?;
    for id in &archive {
        if !jobs.contains_key(id) {
            broken.push(format!("[{q}] archive lists {id:?}, no such job"));
        }
    }
    let archiving: bool =
        redis::cmd("HEXISTS").arg(format!("{prefix}meta")).arg("archive").query_async(conn).await.map_err(redis_err)?;
    if !archive.is_empty() && !archiving {
        broken.push(format!("[{q}] archive holds {} jobs while archiving is off", archive.len()));
    }
    let unindexed: u64 =
        redis::cmd("LLEN").arg(format!("{prefix}unindexed")).query_async(conn).await.map_err(redis_err)?;
    if unindexed > 0 && !archiving {
        broken.push(format!("[{q}] {unindexed} jobs listed for the search index while history is off"));
    }
    let markers: u64 = redis::cmd("LLEN").arg(format!("{prefix}marker")).query_async(conn).await.map_err(redis_err)?;
    if markers > 8 {
        broken.push(format!("[{q}] {markers} wake-up tokens (at most 8)"));
    }

    // The public reads see the same: every state lists and counts what its set holds.
    let counts = queue.counts().await.map_err(|e| format!("[{q}] counts: {e:?}"))?;
    for state in JobState::ALL {
        let want = sizes[&state];
        if counts.get(state) != want {
            broken.push(format!("[{q}] counts says {} {state}, the set holds {want}", counts.get(state)));
        }
        match queue.list_jobs(state, 0, 1000).await {
            Err(e) => broken.push(format!("[{q}] list_jobs({state}) failed: {e:?}")),
            Ok(page) => {
                if page.total != want || page.jobs.len() as u64 != want {
                    broken.push(format!(
                        "[{q}] list_jobs({state}) has total {} and {} jobs, the set holds {want}",
                        page.total,
                        page.jobs.len()
                    ));
                }
                if let Some(job) = page.jobs.iter().find(|j| j.state != state) {
                    broken.push(format!("[{q}] list_jobs({state}) lists {} which is {}", job.id, job.state));
                }
            }
        }
    }
    let mut owned: BTreeMap<&str, u64> = BTreeMap::new();
    for spec in specs.values() {
        if let Some(owner) = &spec.owner {
            *owned.entry(owner.as_str()).or_default() += 1;
        }
    }
    for (owner, want) in owned {
        match queue.count_owned(owner).await {
            Ok(n) if n == want => {}
            other => broken.push(format!("[{q}] count_owned({owner:?}) = {other:?}, {want} jobs have that owner")),
        }
    }
    Ok(())
}

fn field_names(fields: &HashMap<String, String>) -> Vec<&str> {
    let mut names: Vec<&str> = fields.keys().map(String::as_str).collect();
    names.sort();
    names
}

// ---------------------------------------------------------------------------------------
// Worker errors are logged, not returned: collect the engine's log lines.

static LOG: Mutex<Vec<String>> = Mutex::new(vec![]);

struct Capture;

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if !event.metadata().target().starts_with("hoist_queue") {
            return;
        }
        let mut line = format!("{} ", event.metadata().level());
        event.record(&mut Fields(&mut line));
        LOG.lock().expect("log").push(line);
    }
}

/// Lines the engine logs only when Redis refused a call (the worker retries them forever).
fn worker_errors() -> Result<(), String> {
    let lines = std::mem::take(&mut *LOG.lock().expect("log"));
    let bad: Vec<&String> = lines
        .iter()
        .filter(|l| {
            ["cannot reach redis", "could not renew leases", "stall check failed", "heartbeat"]
                .iter()
                .any(|needle| l.contains(needle))
        })
        .collect();
    if bad.is_empty() { Ok(()) } else { Err(format!("the worker logged Redis failures: {bad:?}")) }
}

#[test]
fn every_job_is_in_exactly_one_state_and_no_key_is_orphaned() {
    // The strategy tree and the operations' futures are deep in a debug build: more stack
    // than a test thread's default 2 MiB.
    std::thread::Builder::new()
        .name("invariants".into())
        .stack_size(64 << 20)
        .spawn(run_property)
        .expect("spawn")
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
}

fn run_property() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let _ = tracing_subscriber::registry().with(Capture).try_init();
    // The handler's planned panics are expected; any other panic still prints.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !info.payload().downcast_ref::<&str>().is_some_and(|m| m.contains("planned panic")) {
            default_hook(info);
        }
    }));

    let server = RedisServer::start();
    let url = server.url();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let redis = runtime.block_on(RedisConnection::connect(&url)).expect("connect");
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64);
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_time: 120_000,
        max_shrink_iters: 400,
        ..Config::default()
    };
    let tally = Mutex::new(Tally::default());
    let started = std::time::Instant::now();
    let mut runner = TestRunner::new(config);
    let result = runner.run(&case(), |case| {
        let mut tally = tally.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        runtime.block_on(run_case(&url, &redis, &case, &mut tally)).map_err(TestCaseError::fail)
    });
    let tally = tally.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let summary: Vec<String> = tally.0.iter().map(|(what, n)| format!("{what}: {n}")).collect();
    eprintln!("{cases} cases in {:?}; outcomes:\n  {}", started.elapsed(), summary.join("\n  "));
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

/// The checker itself: damage planted by hand is reported, one line per kind.
#[test]
fn the_checker_reports_planted_damage() {
    let server = RedisServer::start();
    let url = server.url();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let redis = RedisConnection::connect(&url).await.expect("connect");
        let queue = Queue::new(&redis, "planted").expect("queue");
        let client = redis::Client::open(url.as_str()).expect("client");
        let mut conn = client.get_multiplexed_async_connection().await.expect("conn");
        let owned = JobOptions { owner: Some("42".into()), dedup_key: Some("k".into()), ..JobOptions::default() };
        let job = queue.enqueue(NewJob::new("a", json!({})).with_options(owned)).await.expect("enqueue").id;
        let healthy = violations(&mut conn, std::slice::from_ref(&queue)).await.expect("read");
        assert!(healthy.is_empty(), "a healthy queue: {healthy:?}");

        let p = key_prefix(&queue);
        let missing = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
        let _: () = redis::pipe()
            .zrem(format!("{p}wait"), &job)
            .zadd(format!("{p}dedup_victim_never_read"), "x", 1)
            .zadd(format!("{p}delayed"), missing, 1)
            .hset(format!("{p}job:01BX5ZZKBKACTAV9WEVGEMMVRY"), "state", "waiting")
            .rpush(format!("{p}job:01BX5ZZKBKACTAV9WEVGEMMVS0:errors"), "x")
            .hset(format!("{p}dedup"), "other", missing)
            .hset(format!("{p}owners"), missing, "7")
            .hset(format!("{p}stats:1"), "completed", 1)
            .set("elsewhere", 1)
            .query_async(&mut conn)
            .await
            .expect("plant");
        let found = violations(&mut conn, std::slice::from_ref(&queue)).await.expect("read");
        let text = found.join("\n");
        for expected in [
            "belongs to no queue",
            "unknown key \"dedup_victim_never_read\"",
            &format!("job {job} is waiting but in the sets []"),
            &format!("{missing:?} is in [Delayed] but has no job hash"),
            "job 01BX5ZZKBKACTAV9WEVGEMMVRY has no spec",
            "job:01BX5ZZKBKACTAV9WEVGEMMVS0:errors outlived its job",
            &format!("dedup key \"other\" -> {missing:?}, no such job"),
            &format!("owners hash names {missing:?}"),
            "\"stats:1\" never expires",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
        }
    });
}
