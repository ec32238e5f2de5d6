//! One search over every job, live or finished, without scanning Redis.
//!
//! **Where the index lives.** In SQL, in the history table: besides the record of each
//! finished job, it holds a row per live job (status `live`). The engine lists every job
//! added, retried or failed in its `unindexed` set (only while a history store is on);
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
//! **Freshness.** A new job is searchable once the copier has indexed it (each pass, a few
//! hundred milliseconds when idle); a finished one once it is copied.

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
/// queue).
#[derive(Clone, Debug, PartialEq)]
enum Cursor {
    Live { id: String, queue: String },
    Finished { at: i64, id: String, queue: String },
}

impl Cursor {
    fn text(&self) -> String {
        match self {
            Cursor::Live { id, queue } => format!("live:{id}:{queue}"),
            Cursor::Finished { at, id, queue } => format!("done:{at}:{id}:{queue}"),
        }
    }

    /// Job ids hold no colon; queue names may, so the queue goes last.
    fn parse(text: &str) -> Option<Cursor> {
        let (phase, rest) = text.split_once(':')?;
        match phase {
            "live" => {
                let (id, queue) = rest.split_once(':')?;
                Some(Cursor::Live { id: id.into(), queue: queue.into() })
            }
            "done" => {
                let (at, rest) = rest.split_once(':')?;
                let (id, queue) = rest.split_once(':')?;
                Some(Cursor::Finished { at: at.parse().ok()?, id: id.into(), queue: queue.into() })
            }
            _ => None,
        }
    }
}

/// Runs a parsed query (with any owner restriction already in it) from `cursor`.
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
    let limit = limit as usize;
    let mut hits = vec![];
    let (live, finished) = phases(query);
    let mut finished_from = None;
    match cursor {
        Some(Cursor::Finished { at, id, queue }) => finished_from = Some((at, id, queue)),
        live_from => {
            if live {
                let after = match live_from {
                    Some(Cursor::Live { id, queue }) => Some((id, queue)),
                    _ => None,
                };
                if let Some(next) = live_page(db, engine, query, after, limit, &mut hits).await? {
                    return Ok(Ok(SearchPage { hits, next: Some(next.text()) }));
                }
            }
        }
    }
    if finished && hits.len() < limit {
        let next = finished_page(db, query, finished_from, limit - hits.len(), &mut hits).await?;
        return Ok(Ok(SearchPage { hits, next: next.map(|c| c.text()) }));
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

/// Adds matching live jobs after `after` to `hits` until it holds `limit` or the live
/// rows' share is read. Returns where to go on, or `None` when the live rows are done.
async fn live_page(
    db: &Db,
    engine: &RedisConnection,
    query: &Query,
    mut after: Option<(String, String)>,
    limit: usize,
    hits: &mut Vec<SearchHit>,
) -> anyhow::Result<Option<Cursor>> {
    let mut read = 0;
    loop {
        let mut c = conditions(db.kind, query, Rows::Live);
        if let Some((id, queue)) = &after {
            let i = c.bind(Bind::Text(id.clone()));
            let q = c.bind(Bind::Text(queue.clone()));
            c.clauses.push(format!("(job_id < {i} OR (job_id = {i} AND queue < {q}))"));
        }
        let sql = format!(
            "SELECT queue, job_id FROM job_history {} ORDER BY job_id DESC, queue DESC LIMIT {LIVE_CHUNK}",
            c.where_sql()
        );
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
                Some(job) if matching::matches(query, job) => hits.push(SearchHit::of_job(job.clone())),
                Some(_) => {}
                None => gone.push((queue, id)),
            }
            if hits.len() == limit {
                drop_gone(db, &gone).await;
                let (id, queue) = after.expect("a candidate was read");
                return Ok(Some(Cursor::Live { id, queue }));
            }
        }
        drop_gone(db, &gone).await;
        if candidates.len() < LIVE_CHUNK {
            return Ok(None);
        }
        if read >= LIVE_CANDIDATES_PER_PAGE {
            let (id, queue) = after.expect("a candidate was read");
            return Ok(Some(Cursor::Live { id, queue }));
        }
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

/// Deletes live rows whose job is gone from Redis (removed, or the queue obliterated).
/// Best effort: a row left is dropped by a later search.
async fn drop_gone(db: &Db, gone: &[(&String, &String)]) {
    for (queue, id) in gone {
        let deleted = sqlx::query("DELETE FROM job_history WHERE queue = $1 AND job_id = $2 AND finished_at IS NULL")
            .bind(queue.as_str())
            .bind(id.as_str())
            .execute(&db.pool)
            .await;
        if let Err(e) = deleted {
            tracing::debug!(error = %e, "search: cannot drop the row of a job that is gone");
        }
    }
}

/// Adds up to `limit` matching finished records after `after` to `hits`. Returns where
/// to go on, or `None` at the end.
async fn finished_page(
    db: &Db,
    query: &Query,
    after: Option<(i64, String, String)>,
    limit: usize,
    hits: &mut Vec<SearchHit>,
) -> anyhow::Result<Option<Cursor>> {
    let mut c = conditions(db.kind, query, Rows::Finished);
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
        Cursor::Finished {
            at: last.finished_at.unwrap_or_default(),
            id: last.job_id.clone(),
            queue: last.queue.clone(),
        }
    }))
}

/// How many jobs a query matches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MatchCount {
    pub count: u64,
    /// The count stopped at [`MAX_STATE_CHECKS`] live jobs read: there are at least this
    /// many.
    pub at_least: bool,
}

/// Live jobs a count reads from Redis at most when the query names a state.
pub const MAX_STATE_CHECKS: usize = 20_000;

/// Counts the jobs a query matches: finished ones in SQL; live ones in SQL too unless
/// the query names a state, which only Redis knows (then read, up to
/// [`MAX_STATE_CHECKS`]).
pub async fn count(db: &Db, engine: &RedisConnection, query: &Query) -> anyhow::Result<MatchCount> {
    let (live, finished) = phases(query);
    let mut total = 0u64;
    let mut at_least = false;
    if finished {
        total += count_rows(db, query, Rows::Finished).await?;
    }
    let names_state = query.terms.iter().any(|t| matches!(t, Term::State(_)));
    if live && !names_state {
        total += count_rows(db, query, Rows::Live).await?;
    } else if live {
        let mut after = None;
        let mut read = 0;
        loop {
            let mut hits = vec![];
            let next = live_page(db, engine, query, after, usize::MAX, &mut hits).await?;
            total += hits.len() as u64;
            read += LIVE_CANDIDATES_PER_PAGE;
            match next {
                Some(Cursor::Live { id, queue }) if read < MAX_STATE_CHECKS => after = Some((id, queue)),
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
            Cursor::Live { id: "01J".into(), queue: "a:b".into() },
            Cursor::Finished { at: 17, id: "01J".into(), queue: "a:b".into() },
        ] {
            assert_eq!(Cursor::parse(&cursor.text()), Some(cursor));
        }
        assert_eq!(Cursor::parse("done:x:1:q"), None);
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
