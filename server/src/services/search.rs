//! One search over every job, live or finished, with each role's view of it.

use std::collections::BTreeMap;

use hoist_queue::{JobOptions, JobState, NewJob, Queue};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::api_error::ApiError;
use crate::audit::{self, AuditEntry};
use crate::auth::Principal;
use crate::db::now_ms;
use crate::policy::{self, Action, authorize};
use crate::search::saved::{self, SaveError, SavedSearch};
use crate::search::suggest::{self, Context, SuggestRequest, Suggestions};
use crate::search::{self, DEFAULT_LIMIT, MatchCount, SearchHit, SearchPage, SearchRequest, Term};
use crate::state::AppState;

/// Jobs matching the query: live ones first (newest first), then finished ones (newest
/// ending first). End users search only their own jobs, whatever the query says.
pub async fn search(state: &AppState, principal: &Principal, request: SearchRequest) -> Result<SearchPage, ApiError> {
    authorize(principal, Action::ReadJobs)?;
    let query = parse_for(principal, &request.q)?;
    require_history(state)?;
    let limit = request.limit.unwrap_or(DEFAULT_LIMIT);
    search::search(&state.db, &state.engine, &query, request.cursor.as_deref(), limit)
        .await?
        .map_err(|bad| ApiError::invalid(bad.field, bad.message))
}

/// The query as `principal` may run it: an end user's is limited to their own jobs.
pub fn parse_for(principal: &Principal, text: &str) -> Result<search::Query, ApiError> {
    let mut query = search::parse(text, now_ms()).map_err(|e| ApiError::invalid("q", e.to_string()))?;
    if let Some(owner) = policy::listing_owner(principal, None) {
        query.terms.push(Term::Owner(vec![owner]));
    }
    Ok(query)
}

/// What the last word of a query could become (see [`suggest`]).
pub async fn suggestions(
    state: &AppState,
    principal: &Principal,
    request: SuggestRequest,
) -> Result<Suggestions, ApiError> {
    authorize(principal, Action::ReadJobs)?;
    let owner = policy::listing_owner(principal, None);
    // End users learn no queue names from here: their own jobs' are in their results.
    let queues = match owner {
        Some(_) => vec![],
        None => hoist_queue::Queue::list_all(&state.engine).await?,
    };
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let context = Context { queues: &queues, owner: owner.as_deref(), today: &today };
    suggest::suggest(&state.db, &request.q, &context)
        .await?
        .ok_or_else(|| ApiError::invalid("q", format!("a query is at most {} bytes", search::MAX_QUERY_BYTES)))
}

/// How many jobs a query matches, as `principal` may see them.
pub async fn count(state: &AppState, principal: &Principal, q: &str) -> Result<MatchCount, ApiError> {
    authorize(principal, Action::ReadJobs)?;
    let query = parse_for(principal, q)?;
    require_history(state)?;
    Ok(search::count(&state.db, &state.engine, &query, search::MAX_STATE_CHECKS).await?)
}

fn require_history(state: &AppState) -> Result<(), ApiError> {
    if state.history.enabled() {
        return Ok(());
    }
    Err(ApiError::Conflict {
        message: "search reads the job history's index, and history is off (HOIST_HISTORY_DAYS=0)".into(),
        existing_id: None,
    })
}

/// Matches one action request goes through at most; the caller passes `next` back to
/// go on, so no request runs long whatever the query matches.
pub const MATCHES_PER_REQUEST: u64 = 5_000;
/// Pages one action request reads at most (each reads at most 2,000 live rows).
const MAX_PAGES_PER_REQUEST: u32 = 25;
/// Hits read (and acted on) at a time.
const ACTION_PAGE: u32 = 200;

/// What to do to every job a query matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BulkAction {
    /// Run again, in place: dead, cancelled and retrying jobs still in Redis.
    Retry,
    /// Cancel live jobs (running ones are asked to stop).
    Cancel,
    /// Enqueue a new job with the same queue, name, payload and owner, in any state
    /// (also finished jobs only the history still holds).
    Requeue,
    /// Delete from Redis and from the history.
    Delete,
}

impl BulkAction {
    fn as_str(self) -> &'static str {
        match self {
            BulkAction::Retry => "retry",
            BulkAction::Cancel => "cancel",
            BulkAction::Requeue => "requeue",
            BulkAction::Delete => "delete",
        }
    }
}

/// `POST /api/v1/search/actions`: act on the jobs a query matches.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    /// The query (the search language).
    #[serde(default)]
    pub q: String,
    pub action: BulkAction,
    /// Must be `true`: the caller saw the count and confirmed.
    pub confirm: bool,
    /// `next` of the previous answer, to go on.
    pub cursor: Option<String>,
}

/// What one action request did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BulkOutcome {
    /// Matches gone through.
    pub matched: u64,
    /// Jobs the action changed (a dead job retried, a job deleted...).
    pub changed: u64,
    /// Pass back as `cursor` to go on; absent when every match was gone through.
    pub next: Option<String>,
}

/// Acts on up to [`MATCHES_PER_REQUEST`] matches of a query, in pages of 200, each page
/// in one engine call per queue and state; audited once per request.
pub async fn act(
    state: &AppState,
    principal: &Principal,
    addr: Option<String>,
    request: BulkRequest,
) -> Result<BulkOutcome, ApiError> {
    authorize(principal, Action::ControlQueue)?;
    let query = parse_for(principal, &request.q)?;
    if !request.confirm {
        return Err(ApiError::invalid("confirm", "must be true: count the matches first, then confirm"));
    }
    require_history(state)?;
    let mut cursor = request.cursor.clone();
    let (mut matched, mut changed, mut pages) = (0u64, 0u64, 0u32);
    let mut failure = None;
    loop {
        let page = match search::search(&state.db, &state.engine, &query, cursor.as_deref(), ACTION_PAGE).await {
            Ok(Ok(page)) => page,
            Ok(Err(bad)) => {
                failure = Some(ApiError::invalid(bad.field, bad.message));
                break;
            }
            Err(e) => {
                failure = Some(e.into());
                break;
            }
        };
        matched += page.hits.len() as u64;
        if let Err(e) = apply(state, request.action, page.hits, &mut changed).await {
            failure = Some(e);
            break;
        }
        cursor = page.next;
        pages += 1;
        // Pages of a query Redis must check can come back empty: bound the pages too.
        if cursor.is_none() || matched >= MATCHES_PER_REQUEST || pages >= MAX_PAGES_PER_REQUEST {
            break;
        }
    }
    // A request that failed part way is audited with what it had done by then.
    let result = match &failure {
        None => format!("ok: {changed} of {matched} jobs"),
        Some(e) => format!("failed after changing {changed} of {matched} jobs: {e}"),
    };
    let params = json!({ "q": request.q, "cursor": request.cursor, "matched": matched, "more": cursor.is_some() });
    let action = format!("search.{}", request.action.as_str());
    let entry = AuditEntry { action: &action, target: "search".into(), params, result: &result, client_addr: addr };
    audit::record(&state.db, principal, entry).await?;
    match failure {
        Some(e) => Err(e),
        None => Ok(BulkOutcome { matched, changed, next: cursor }),
    }
}

/// Applies an action to one page of hits, adding the jobs it changed to `changed` as it
/// goes (so a failure part way leaves what was done counted).
async fn apply(state: &AppState, action: BulkAction, hits: Vec<SearchHit>, changed: &mut u64) -> Result<(), ApiError> {
    let mut groups: BTreeMap<(String, String), Vec<SearchHit>> = BTreeMap::new();
    for hit in hits {
        groups.entry((hit.queue.clone(), hit.state.clone())).or_default().push(hit);
    }
    for ((queue_name, job_state), hits) in groups {
        let Ok(queue) = Queue::new(&state.engine, &queue_name) else { continue };
        let job_state = JobState::parse(&job_state);
        let ids: Vec<String> = hits.iter().map(|h| h.job_id.clone()).collect();
        *changed += match action {
            BulkAction::Retry => match job_state {
                Some(from @ (JobState::Dead | JobState::Cancelled | JobState::Expired | JobState::Retrying)) => {
                    queue.retry(from, &ids).await?
                }
                _ => 0,
            },
            BulkAction::Cancel => {
                if job_state.is_some_and(|s| !s.is_finished()) {
                    for id in &ids {
                        match queue.cancel(id).await {
                            Ok(_) => *changed += 1,
                            // Finished or removed meanwhile.
                            Err(
                                hoist_queue::QueueError::NotFound { .. } | hoist_queue::QueueError::WrongState { .. },
                            ) => {}
                            Err(e) => return Err(e.into()),
                        }
                    }
                }
                0
            }
            BulkAction::Requeue => {
                let jobs = hits
                    .into_iter()
                    .map(|h| {
                        // An owned job goes back into its owner's fair group.
                        let group = h.owner.as_deref().map(crate::policy::user_group);
                        let options = JobOptions { owner: h.owner, group, ..Default::default() };
                        NewJob::new(h.name, h.payload).with_options(options)
                    })
                    .collect();
                queue.enqueue_bulk(jobs).await?.len() as u64
            }
            BulkAction::Delete => {
                // Only jobs still in the state they were found in: one retried since its
                // record was written is not deleted by that record.
                let removed = match job_state {
                    Some(s) if s != JobState::Active => queue.remove_in_state(&ids, s).await?,
                    _ => 0,
                };
                let present: std::collections::HashSet<String> =
                    queue.load_jobs(&ids).await?.into_iter().map(|j| j.id).collect();
                let gone: Vec<String> = ids.into_iter().filter(|id| !present.contains(id)).collect();
                let deleted =
                    crate::history::forget(&state.db, &queue_name, &gone).await.map_err(anyhow::Error::from)?;
                removed.max(deleted)
            }
        };
    }
    Ok(())
}

/// Most jobs one export writes.
pub const MAX_EXPORT: u64 = 1_000_000;

/// An export's file format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// One JSON object per line, as the search API's hits.
    #[default]
    Jsonl,
    /// A header row, then one row per job; payload, result and error as JSON text.
    Csv,
}

impl ExportFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Jsonl => "application/x-ndjson",
            ExportFormat::Csv => "text/csv; charset=utf-8",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Jsonl => "jsonl",
            ExportFormat::Csv => "csv",
        }
    }
}

/// `GET /api/v1/search/export?q=&format=`
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// The query (the search language).
    #[serde(default)]
    pub q: String,
    /// `jsonl` (default) or `csv`.
    pub format: Option<ExportFormat>,
}

const CSV_COLUMNS: [&str; 11] = [
    "queue",
    "job_id",
    "name",
    "owner",
    "state",
    "attempts",
    "created_at",
    "finished_at",
    "error",
    "payload",
    "result",
];

/// Every match of a query (up to [`MAX_EXPORT`]) as a stream of file chunks, a page at a
/// time: the file is never held whole. A failure after the first chunk ends the stream
/// with an error, so the download is cut short rather than silently incomplete.
pub fn export(
    state: &AppState,
    principal: &Principal,
    request: &ExportRequest,
) -> Result<impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static, ApiError> {
    authorize(principal, Action::ReadJobs)?;
    let query = parse_for(principal, &request.q)?;
    require_history(state)?;
    let format = request.format.unwrap_or_default();
    struct Progress {
        state: AppState,
        query: search::Query,
        cursor: Option<String>,
        written: u64,
        started: bool,
        done: bool,
    }
    let start = Progress { state: state.clone(), query, cursor: None, written: 0, started: false, done: false };
    Ok(futures::stream::try_unfold(start, move |mut p| async move {
        if p.done {
            return Ok(None);
        }
        let mut out = vec![];
        if !p.started && format == ExportFormat::Csv {
            out.extend(csv_line(&CSV_COLUMNS.map(String::from))?);
        }
        p.started = true;
        let page = search::search(&p.state.db, &p.state.engine, &p.query, p.cursor.as_deref(), search::MAX_LIMIT)
            .await
            .map_err(std::io::Error::other)?
            .map_err(std::io::Error::other)?;
        for hit in page.hits {
            if p.written == MAX_EXPORT {
                break;
            }
            p.written += 1;
            match format {
                ExportFormat::Jsonl => {
                    serde_json::to_writer(&mut out, &hit)?;
                    out.push(b'\n');
                }
                ExportFormat::Csv => out.extend(csv_line(&csv_row(hit))?),
            }
        }
        p.cursor = page.next;
        p.done = p.cursor.is_none() || p.written == MAX_EXPORT;
        Ok(Some((out, p)))
    }))
}

fn csv_row(hit: SearchHit) -> [String; 11] {
    let json = |v: Option<serde_json::Value>| v.map(|v| v.to_string()).unwrap_or_default();
    [
        hit.queue,
        hit.job_id,
        hit.name,
        hit.owner.unwrap_or_default(),
        hit.state,
        hit.attempts.to_string(),
        hit.created_at.to_string(),
        hit.finished_at.map(|t| t.to_string()).unwrap_or_default(),
        json(hit.error),
        hit.payload.to_string(),
        json(hit.result),
    ]
}

/// One CSV line of `fields`; reports' downloads use it too.
pub(crate) fn csv_line(fields: &[String]) -> Result<Vec<u8>, std::io::Error> {
    // A cell a spreadsheet would run as a formula (end users write names and payloads)
    // is led by an apostrophe.
    let safe: Vec<String> = fields
        .iter()
        .map(|f| if f.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{f}") } else { f.clone() })
        .collect();
    let mut writer = csv::Writer::from_writer(vec![]);
    writer.write_record(&safe).map_err(std::io::Error::other)?;
    writer.into_inner().map_err(|e| std::io::Error::other(e.to_string()))
}

/// The caller's saved searches, each with how many jobs it matches now.
pub async fn saved(state: &AppState, principal: &Principal) -> Result<Vec<SavedWithCount>, ApiError> {
    authorize(principal, Action::ReadJobs)?;
    let mut out = vec![];
    for search in saved::list(&state.db, principal.user_id).await.map_err(anyhow::Error::from)? {
        // A saved query the language no longer reads, or history off: shown without a count.
        // Up to 20 counts per view: each reads fewer live jobs than a count asked for.
        let count = match parse_for(principal, &search.q) {
            Ok(query) if state.history.enabled() => {
                Some(search::count(&state.db, &state.engine, &query, search::SAVED_STATE_CHECKS).await?)
            }
            _ => None,
        };
        out.push(SavedWithCount { search, count });
    }
    Ok(out)
}

/// A saved search and its count now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SavedWithCount {
    #[serde(flatten)]
    pub search: SavedSearch,
    pub count: Option<MatchCount>,
}

/// `POST /api/v1/search/saved` `{name, q}`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveRequest {
    /// 1 to 100 characters; saving a name again replaces its query.
    pub name: String,
    /// The query, which must read.
    pub q: String,
}

/// Saves a search for the caller (at most 20 each).
pub async fn save(state: &AppState, principal: &Principal, request: SaveRequest) -> Result<SavedSearch, ApiError> {
    authorize(principal, Action::ReadJobs)?;
    crate::names::check("name", request.name.trim(), saved::MAX_NAME)?;
    parse_for(principal, &request.q)?;
    saved::save(&state.db, principal.user_id, request.name.trim(), request.q.trim()).await.map_err(|e| match e {
        SaveError::Full => ApiError::Conflict { message: e.to_string(), existing_id: None },
        SaveError::Sql(e) => ApiError::Internal(e.into()),
    })
}

/// Deletes one of the caller's saved searches.
pub async fn delete_saved(state: &AppState, principal: &Principal, id: i64) -> Result<(), ApiError> {
    authorize(principal, Action::ReadJobs)?;
    match saved::delete(&state.db, principal.user_id, id).await.map_err(anyhow::Error::from)? {
        true => Ok(()),
        false => Err(ApiError::NotFound(format!("saved search {id}"))),
    }
}
