//! Reports: the list, one report, its downloads (JSON, or one of its tables as CSV), and
//! running them now (audited as `report.run`). Admins only: reports hold the audit log
//! and every owner's figures.

use app::reports::{Report, ReportKind, ReportList};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::api_error::ApiError;
use crate::audit::{self, AuditEntry};
use crate::auth::Principal;
use crate::policy::{Action, authorize};
use crate::processors::reports::{REPORT, ReportJob, job_options};
use crate::reports::{self, Period, tables};
use crate::state::AppState;

/// `GET /api/v1/reports?limit=&before=`
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListRequest {
    /// How many (1 to 100, default 50).
    pub limit: Option<u32>,
    /// Only reports with a smaller id (the previous answer's `next`).
    pub before: Option<i64>,
}

/// Reports to run now.
#[derive(Clone, Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// Which reports (default: all three).
    #[serde(default)]
    pub kinds: Vec<ReportKind>,
    /// First day (UTC, `2026-11-01`); with `to`, or neither (the previous month).
    #[schema(value_type = Option<String>, format = Date)]
    pub from: Option<NaiveDate>,
    /// Last day, included (at most 366 days after `from`).
    #[schema(value_type = Option<String>, format = Date)]
    pub to: Option<NaiveDate>,
    /// Also email them to every admin with an address.
    #[serde(default)]
    pub email: bool,
}

/// The job that makes the reports; they appear in the list once it completes.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ReportRun {
    pub queue: String,
    pub job_id: String,
}

/// A download's format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    /// The whole report, as `GET /api/v1/reports/{id}` answers.
    #[default]
    Json,
    /// One of its tables (`table`; default the first).
    Csv,
}

/// `GET /api/v1/reports/{id}/download?format=&table=`
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DownloadRequest {
    /// `json` (default) or `csv`.
    pub format: Option<ReportFormat>,
    /// For CSV, which table: usage `jobs`, `owners`, `busiest_hours`, `hours_of_day`;
    /// performance `jobs`, `slowest`, `throughput`; audit `actions`, `failures`,
    /// `sign_in_failures`, `lockouts`, `tokens`. Default: the first.
    pub table: Option<String>,
}

/// A file to send.
pub struct Download {
    pub content_type: &'static str,
    pub file_name: String,
    pub body: Vec<u8>,
}

pub async fn list(state: &AppState, principal: &Principal, request: ListRequest) -> Result<ReportList, ApiError> {
    authorize(principal, Action::Reports)?;
    let limit = request.limit.unwrap_or(50);
    if !(1..=reports::MAX_LIST).contains(&limit) {
        return Err(ApiError::invalid("limit", format!("must be 1 to {}", reports::MAX_LIST)));
    }
    if request.before.is_some_and(|b| b < 1) {
        return Err(ApiError::invalid("before", "must be a report id (1 or more)"));
    }
    let reports = reports::list(&state.db, limit, request.before).await?;
    let next = (reports.len() == limit as usize).then(|| reports.last().map(|r| r.id)).flatten();
    Ok(ReportList { reports, next })
}

pub async fn get(state: &AppState, principal: &Principal, id: i64) -> Result<Report, ApiError> {
    authorize(principal, Action::Reports)?;
    reports::get(&state.db, id).await?.ok_or_else(|| ApiError::NotFound(format!("report {id}")))
}

pub async fn download(
    state: &AppState,
    principal: &Principal,
    id: i64,
    request: DownloadRequest,
) -> Result<Download, ApiError> {
    let report = get(state, principal, id).await?;
    let period = Period { from: report.summary.from, to: report.summary.to };
    let stem = format!("hoist-{}-{}-{}", report.summary.kind.as_str(), period.first_day(), period.last_day());
    match request.format.unwrap_or_default() {
        ReportFormat::Json => {
            if request.table.is_some() {
                return Err(ApiError::invalid("table", "tables are for format=csv; JSON holds them all"));
            }
            let body = serde_json::to_vec_pretty(&report).map_err(anyhow::Error::from)?;
            Ok(Download { content_type: "application/json", file_name: format!("{stem}.json"), body })
        }
        ReportFormat::Csv => {
            let all = tables::tables(&report);
            let table = match request.table.as_deref() {
                None => all.into_iter().next().expect("every report has a table"),
                Some(name) => all.into_iter().find(|t| t.name == name).ok_or_else(|| {
                    let known = tables::table_names(&report).join(", ");
                    ApiError::invalid(
                        "table",
                        format!("a {} report's tables are {known}", report.summary.kind.as_str()),
                    )
                })?,
            };
            let body = tables::csv(&table).map_err(anyhow::Error::from)?;
            Ok(Download {
                content_type: "text/csv; charset=utf-8",
                file_name: format!("{stem}-{}.csv", table.name),
                body,
            })
        }
    }
}

/// Enqueues a `report` job on the reports queue; a process running the `reports`
/// processor makes them.
pub async fn run(
    state: &AppState,
    principal: &Principal,
    client_addr: Option<String>,
    request: RunRequest,
) -> Result<ReportRun, ApiError> {
    authorize(principal, Action::Reports)?;
    let (from, to) = match (request.from, request.to) {
        (None, None) => (None, None),
        (Some(first), Some(last)) => {
            let today = chrono::Utc::now().date_naive();
            let period = Period::days(first, last, today).map_err(|e| ApiError::invalid(e.field, e.reason.clone()))?;
            (Some(period.from), Some(period.to))
        }
        (Some(_), None) => return Err(ApiError::invalid("to", "give both from and to, or neither (last month)")),
        (None, Some(_)) => return Err(ApiError::invalid("from", "give both from and to, or neither (last month)")),
    };
    let mut kinds = request.kinds.clone();
    kinds.sort();
    kinds.dedup();
    let payload = ReportJob { kinds, from, to, requested_by: Some(principal.username.clone()), email: request.email };
    let queue = crate::services::jobs::queue_to_enqueue(state, &state.queue_names.reports).await?;
    let job = hoist_queue::NewJob::new(REPORT, serde_json::to_value(&payload).map_err(anyhow::Error::from)?)
        .with_options(job_options(&state.settings.queue(&state.queue_names.reports)));
    let outcome = queue.enqueue(job).await;
    let result = if outcome.is_ok() { "ok" } else { "failed" };
    let params = json!({ "kinds": payload.kinds, "from": request.from, "to": request.to, "email": request.email });
    let entry = AuditEntry { action: "report.run", target: "reports".into(), params, result, client_addr };
    audit::record(&state.db, principal, entry).await?;
    let enqueued = outcome?;
    Ok(ReportRun { queue: queue.name().to_string(), job_id: enqueued.id })
}
