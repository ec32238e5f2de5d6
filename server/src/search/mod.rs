//! One search over every job, live or finished, without scanning Redis.
//!
//! **Where the index lives.** In SQL, in the history table: besides the record of each
//! finished job, it holds a row per live job (status `live`). The engine lists every job
//! added, retried or failed in its `unindexed` list (only while a history store is on);
//! the history copier reads those jobs and upserts their rows, and its copy of a finished
//! job replaces the live row. Timestamps from Redis decide which of two writes of one job
//! is newer (see `migrations/*/0006_search_index.sql`).
//!
//! **How a query runs.** A page walks live rows first (newest id first), then finished
//! ones (newest ending first). Conditions on what does not change while a job lives
//! (queue, name, owner, id, payload, creation time) and on its errors are SQL filters on
//! both; a live row's state changes on every claim and is not indexed, so each live
//! candidate is then read from Redis by id (one pipelined read per queue and chunk) and
//! the whole query checked against the job as it is now ([`matching`]). A live row whose
//! job is gone is dropped. Reading at most [`LIVE_CANDIDATES_PER_PAGE`] live rows per page
//! keeps a request short: a page may then hold fewer hits than asked, with `next` set.
//!
//! **Freshness.** A job is searchable live once the copier has indexed it: a second after
//! it was added (`history::INDEX_MIN_AGE`, so most jobs end before and cost the index
//! nothing), then within a pass (a few hundred milliseconds when idle). A finished job is
//! searchable once it is copied.

pub mod matching;
pub mod query;
pub mod saved;
pub mod sql;
pub mod suggest;

use std::collections::HashMap;

use hoist_queue::{Job, Queue, RedisConnection};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::db::Db;
pub use query::{MAX_QUERY_BYTES, Query, QueryError, Term, parse};
use sql::{Bind, Rows, conditions};

/// Live rows one page reads at most (each checked against Redis).
pub const LIVE_CANDIDATES_PER_PAGE: usize = 2_000;
/// Live rows read from SQL (and jobs from Redis) at a time.
const LIVE_CHUNK: usize = 250;
/// Most hits per page.
pub const MAX_LIMIT: u32 = 200;
/// Hits per page unless asked.
pub const DEFAULT_LIMIT: u32 = 50;

/// A search request.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// The query (see the search language in the README); empty matches every job. At
    /// most 1,000 bytes.
    #[serde(default)]
    pub q: String,
    /// `next` of the previous page.
    pub cursor: Option<String>,
    /// Hits per page, 1 to 200 (default 50).
    pub limit: Option<u32>,
}

/// One job found: live jobs as Redis holds them now, finished ones as recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SearchHit {
    pub queue: String,
    pub job_id: String,
    pub name: String,
    pub owner: Option<String>,
    /// The job's state: `waiting`, `delayed`, `retrying`, `active`, `completed`, `dead`
    /// or `cancelled`.
    pub state: String,
    pub payload: serde_json::Value,
    pub result: Option<serde_json::Value>,
    /// The last error, if an attempt failed.
    pub error: Option<serde_json::Value>,
    pub attempts: u32,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

impl SearchHit {
    fn of_job(job: Job) -> Self {
        SearchHit {
            state: job.state.as_str().to_string(),
            error: job.last_error.as_ref().and_then(|e| serde_json::to_value(e).ok()),
            queue: job.queue,
            job_id: job.id,
            name: job.name,
            owner: job.owner,
            payload: job.payload,
            result: job.result,
            attempts: job.attempts,
            created_at: job.created_at,
            finished_at: job.finished_at,
        }
    }
}

/// A page of hits and where the next one starts. A page may hold fewer hits than asked
/// while `next` is set (it read its share of live jobs); `next` is absent at the end.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SearchPage {
    pub hits: Vec<SearchHit>,
    pub next: Option<String>,
}

/// Why a search was refused: which field, and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {message}")]
pub struct BadSearch {
    pub field: &'static str,
    pub message: String,
}

/// Where a page starts: after a live row (id, queue) or a finished one (finish time, id,
/// queue), in a search started at `snapshot` (Redis's time at its first page).
#[derive(Clone, Debug, PartialEq)]
enum Cursor {
    Live { snapshot: i64, id: String, queue: String },
    Finished { snapshot: i64, at: i64, id: String, queue: String },
}

impl Cursor {
    fn text(&self) -> String {
        match self {
            Cursor::Live { snapshot, id, queue } => format!("live:{snapshot}:{id}:{queue}"),
            Cursor::Finished { snapshot, at, id, queue } => format!("done:{snapshot}:{at}:{id}:{queue}"),
        }
    }

    /// Job ids hold no colon; queue names may, so the queue goes last.
    fn parse(text: &str) -> Option<Cursor> {
        let (phase, rest) = text.split_once(':')?;
        let (snapshot, rest) = rest.split_once(':')?;
        let snapshot = snapshot.parse().ok()?;
        match phase {
            "live" => {
                let (id, queue) = rest.split_once(':')?;
                Some(Cursor::Live { snapshot, id: id.into(), queue: queue.into() })
            }
            "done" => {
                let (at, rest) = rest.split_once(':')?;
                let (id, queue) = rest.split_once(':')?;
                Some(Cursor::Finished { snapshot, at: at.parse().ok()?, id: id.into(), queue: queue.into() })
            }
            _ => None,
        }
    }

    fn snapshot(&self) -> i64 {
        match self {
            Cursor::Live { snapshot, .. } | Cursor::Finished { snapshot, .. } => *snapshot,
        }
    }
}

/// Runs a parsed query (with any owner restriction already in it) from `cursor`.
///
/// Pages show each job once, as of the search's first page (its snapshot): the live
/// phase shows jobs live now or ended since the snapshot (their records are read with
/// the live rows), the finished phase records of endings up to it. A job that ended
/// before the snapshot but is not copied yet when the live phase reads it is left to
/// the finished phase, where its record arrives a moment later.
pub async fn search(
    db: &Db,
    engine: &RedisConnection,
    query: &Query,
    cursor: Option<&str>,
    limit: u32,
) -> anyhow::Result<Result<SearchPage, BadSearch>> {
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Ok(Err(BadSearch { field: "limit", message: format!("must be 1 to {MAX_LIMIT}") }));
    }
    let cursor = match cursor {
        None => None,
        Some(text) => match Cursor::parse(text) {
            Some(cursor) => Some(cursor),
            None => return Ok(Err(BadSearch { field: "cursor", message: "not a cursor this API returned".into() })),
        },
    };
    let snapshot = match &cursor {
        Some(cursor) => cursor.snapshot(),
        None => engine.redis_time().await?,
    };
    let limit = limit as usize;
    let mut hits = vec![];
    let (live, finished) = phases(query);
    let mut finished_from = None;
    match cursor {
        Some(Cursor::Finished { at, id, queue, .. }) => finished_from = Some((at, id, queue)),
        live_from => {
            if live {
                let after = match live_from {
                    Some(Cursor::Live { id, queue, .. }) => Some((id, queue)),
                    _ => None,
                };
                if let Some((id, queue)) = live_page(db, engine, query, Some(snapshot), after, limit, &mut hits).await?
                {
                    return Ok(Ok(SearchPage { hits, next: Some(Cursor::Live { snapshot, id, queue }.text()) }));
                }
            }
        }
    }
    if finished && hits.len() < limit {
        let next = finished_page(db, query, snapshot, finished_from, limit - hits.len(), &mut hits).await?;
        let next = next.map(|(at, id, queue)| Cursor::Finished { snapshot, at, id, queue }.text());
        return Ok(Ok(SearchPage { hits, next }));
    }
    Ok(Ok(SearchPage { hits, next: None }))
}

/// Whether a query can match live jobs, and finished ones, by the states it asks for.
fn phases(query: &Query) -> (bool, bool) {
    let (mut live, mut finished) = (true, true);
    for term in &query.terms {
        if let Term::State(states) = term {
            live &= states.iter().any(|s| !s.is_finished());
            finished &= states.iter().any(|s| s.is_finished());
        }
    }
    (live, finished)
}

/// Adds matching live jobs after `after` (id, queue) to `hits` until it holds `limit` or
/// the live rows' share is read. With a `snapshot`, also reads the records of endings
/// after it, and leaves out jobs that ended up to it (the finished phase's). Returns
/// where to go on, or `None` when the live rows are done.
async fn live_page(
    db: &Db,
    engine: &RedisConnection,
    query: &Query,
    snapshot: Option<i64>,
    mut after: Option<(String, String)>,
    limit: usize,
    hits: &mut Vec<SearchHit>,
) -> anyhow::Result<Option<(String, String)>> {
    let mut read = 0;
    loop {
        let mut c = conditions(db.kind, query, Rows::Live);
        if let Some((id, queue)) = &after {
            let i = c.bind(Bind::Text(id.clone()));
            let q = c.bind(Bind::Text(queue.clone()));
            c.clauses.push(format!("(job_id < {i} OR (job_id = {i} AND queue < {q}))"));
        }
        let chunk = |where_sql: String| {
            format!(
                "SELECT queue, job_id FROM job_history {where_sql} ORDER BY job_id DESC, queue DESC LIMIT {LIVE_CHUNK}"
            )
        };
        let live_rows = chunk(c.where_sql());
        let sql = match snapshot {
            None => live_rows,
            Some(at) => {
                // The same conditions on records of endings since the snapshot (the first
                // clause is the phase's); each part keeps to its index's order.
                let p = c.bind(Bind::Int(at));
                c.clauses[0] = format!("finished_at > {p}");
                let ended = chunk(c.where_sql());
                format!(
                    "SELECT queue, job_id FROM (SELECT * FROM ({live_rows}) AS l UNION ALL SELECT * FROM ({ended}) AS e) \
                     AS rows ORDER BY job_id DESC, queue DESC LIMIT {LIVE_CHUNK}"
                )
            }
        };
        let rows = c.query(&sql).fetch_all(&db.pool).await?;
        let candidates: Vec<(String, String)> = rows
            .iter()
            .map(|row| Ok((row.try_get::<String, _>("queue")?, row.try_get::<String, _>("job_id")?)))
            .collect::<Result<_, sqlx::Error>>()?;
        let jobs = read_jobs(engine, &candidates).await?;
        let mut gone = vec![];
        for (queue, id) in &candidates {
            read += 1;
            after = Some((id.clone(), queue.clone()));
            match jobs.get(&(queue.clone(), id.clone())) {
                Some(job) if matching::matches(query, job) && shown_live(job, snapshot) => {
                    hits.push(SearchHit::of_job(job.clone()))
                }
                Some(_) => {}
                None => gone.push((queue, id)),
            }
            if hits.len() == limit {
                drop_gone(db, &gone).await;
                return Ok(after);
            }
        }
        drop_gone(db, &gone).await;
        if candidates.len() < LIVE_CHUNK {
            return Ok(None);
        }
        if read >= LIVE_CANDIDATES_PER_PAGE {
            return Ok(after);
        }
    }
}

/// Whether the live phase shows a job as Redis holds it: live, or ended after the
/// snapshot (an ending up to it is the finished phase's).
fn shown_live(job: &Job, snapshot: Option<i64>) -> bool {
    match (snapshot, job.finished_at) {
        (Some(snapshot), Some(at)) if job.state.is_finished() => at > snapshot,
        _ => true,
    }
}

/// The candidates' jobs as Redis holds them now, with their errors, by (queue, id).
async fn read_jobs(
    engine: &RedisConnection,
    candidates: &[(String, String)],
) -> anyhow::Result<HashMap<(String, String), Job>> {
    let mut by_queue: HashMap<&str, Vec<String>> = HashMap::new();
    for (queue, id) in candidates {
        by_queue.entry(queue).or_default().push(id.clone());
    }
    let mut jobs = HashMap::with_capacity(candidates.len());
    for (name, ids) in by_queue {
        // A row of a queue name the engine refuses cannot have a job.
        let Ok(queue) = Queue::new(engine, name) else { continue };
        for job in queue.load_jobs_with_errors(&ids).await? {
            jobs.insert((job.queue.clone(), job.id.clone()), job);
        }
    }
    Ok(jobs)
}

/// Deletes live rows whose job is gone from Redis (removed, or the queue obliterated);
/// a record of an ending stays. Best effort: a row left is dropped by a later search.
async fn drop_gone(db: &Db, gone: &[(&String, &String)]) {
    let mut by_queue: HashMap<&str, Vec<String>> = HashMap::new();
    for (queue, id) in gone {
        by_queue.entry(queue.as_str()).or_default().push(id.to_string());
    }
    for (queue, ids) in by_queue {
        if let Err(e) = crate::history::forget_live(db, queue, &ids).await {
            tracing::debug!(error = %e, "search: cannot drop the rows of jobs that are gone");
        }
    }
}

/// Adds up to `limit` matching records of endings up to `snapshot` after `after` (finish
/// time, id, queue) to `hits`. Returns where to go on, or `None` at the end.
async fn finished_page(
    db: &Db,
    query: &Query,
    snapshot: i64,
    after: Option<(i64, String, String)>,
    limit: usize,
    hits: &mut Vec<SearchHit>,
) -> anyhow::Result<Option<(i64, String, String)>> {
    let mut c = conditions(db.kind, query, Rows::Finished(Some(snapshot)));
    if let Some((at, id, queue)) = after {
        let a = c.bind(Bind::Int(at));
        let i = c.bind(Bind::Text(id));
        let q = c.bind(Bind::Text(queue));
        c.clauses.push(format!(
            "(finished_at < {a} OR (finished_at = {a} AND (job_id < {i} OR (job_id = {i} AND queue < {q}))))"
        ));
    }
    let sql = format!(
        "SELECT queue, job_id, name, owner, status, payload, result, error, attempts, created_at, finished_at \
         FROM job_history {} ORDER BY finished_at DESC, job_id DESC, queue DESC LIMIT {}",
        c.where_sql(),
        limit + 1
    );
    let rows = c.query(&sql).fetch_all(&db.pool).await?;
    let json = |text: Option<String>| text.and_then(|t| serde_json::from_str(&t).ok());
    let more = rows.len() > limit;
    for row in rows.into_iter().take(limit) {
        hits.push(SearchHit {
            queue: row.try_get("queue")?,
            job_id: row.try_get("job_id")?,
            name: row.try_get("name")?,
            owner: row.try_get("owner")?,
            state: row.try_get("status")?,
            payload: json(row.try_get("payload")?).unwrap_or_default(),
            result: json(row.try_get("result")?),
            error: json(row.try_get("error")?),
            attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or_default(),
            created_at: row.try_get("created_at")?,
            finished_at: row.try_get("finished_at")?,
        });
    }
    Ok(more.then(|| {
        let last = hits.last().expect("a page before more");
        (last.finished_at.unwrap_or_default(), last.job_id.clone(), last.queue.clone())
    }))
}

/// How many jobs a query matches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MatchCount {
    pub count: u64,
    /// The count stopped at its bound of live jobs read from Redis ([`MAX_STATE_CHECKS`],
    /// or [`SAVED_STATE_CHECKS`] for saved searches): there are at least this many.
    pub at_least: bool,
}

/// Live jobs a count reads from Redis at most when the query names a state.
pub const MAX_STATE_CHECKS: usize = 20_000;
/// The same bound for each count of a user's saved searches (up to 20 shown at once).
pub const SAVED_STATE_CHECKS: usize = LIVE_CANDIDATES_PER_PAGE;

/// Counts the jobs a query matches: finished ones in SQL; live ones in SQL too unless
/// the query names a state, which only Redis knows (then read, up to `max_checks`, in
/// steps of [`LIVE_CANDIDATES_PER_PAGE`]).
pub async fn count(db: &Db, engine: &RedisConnection, query: &Query, max_checks: usize) -> anyhow::Result<MatchCount> {
    let (live, finished) = phases(query);
    let mut total = 0u64;
    let mut at_least = false;
    if finished {
        total += count_rows(db, query, Rows::Finished(None)).await?;
    }
    let names_state = query.terms.iter().any(|t| matches!(t, Term::State(_)));
    if live && !names_state {
        total += count_rows(db, query, Rows::Live).await?;
    } else if live {
        let mut after = None;
        let mut read = 0;
        loop {
            let mut hits = vec![];
            let next = live_page(db, engine, query, None, after, usize::MAX, &mut hits).await?;
            total += hits.len() as u64;
            read += LIVE_CANDIDATES_PER_PAGE;
            match next {
                Some(next) if read < max_checks => after = Some(next),
                Some(_) => {
                    at_least = true;
                    break;
                }
                None => break,
            }
        }
    }
    Ok(MatchCount { count: total, at_least })
}

async fn count_rows(db: &Db, query: &Query, rows: Rows) -> anyhow::Result<u64> {
    let c = conditions(db.kind, query, rows);
    let sql = format!("SELECT COUNT(*) AS n FROM job_history {}", c.where_sql());
    let n: i64 = c.query(&sql).fetch_one(&db.pool).await?.try_get("n")?;
    Ok(u64::try_from(n).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_with_colons_in_queue_names() {
        for cursor in [
            Cursor::Live { snapshot: 5, id: "01J".into(), queue: "a:b".into() },
            Cursor::Finished { snapshot: 5, at: 17, id: "01J".into(), queue: "a:b".into() },
        ] {
            assert_eq!(Cursor::parse(&cursor.text()), Some(cursor));
        }
        assert_eq!(Cursor::parse("done:5:x:1:q"), None);
        assert_eq!(Cursor::parse("live:01J:q"), None);
        assert_eq!(Cursor::parse("later:1:q"), None);
    }

    #[test]
    fn states_choose_the_phases() {
        let q = |text: &str| parse(text, 0).unwrap();
        assert_eq!(phases(&q("")), (true, true));
        assert_eq!(phases(&q("state:waiting")), (true, false));
        assert_eq!(phases(&q("state:dead")), (false, true));
        assert_eq!(phases(&q("state:dead,active")), (true, true));
    }
}
