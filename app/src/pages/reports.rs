//! Reports (admins): the stored usage, performance and audit reports with their
//! downloads, a form to run them now, and one report's page with its figures, charts and
//! tables.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::components::bar_chart::{Bar, BarChart};
use crate::components::data_table::DataTable;
use crate::components::sign_in_guard::SignInGuard;
use crate::components::when::When;
use crate::error::AppError;
use crate::i18n::{I18n, use_i18n};
use crate::reports::{
    AuditLine, AuditReport, JobCounts, Percentiles, PerformanceReport, Report, ReportFigures, ReportKind, ReportList,
    ReportSummary, UsageReport,
};
use crate::session::{error_text, use_viewer};
use crate::t;

#[server(input = GetUrl, endpoint = "get_reports")]
pub async fn get_reports(before: Option<i64>) -> Result<ReportList, AppError> {
    crate::backend::backend()?.reports(before).await
}

#[server(input = GetUrl, endpoint = "get_report")]
pub async fn get_report(id: i64) -> Result<Report, AppError> {
    crate::backend::backend()?.report(id).await
}

#[server(endpoint = "run_reports")]
pub async fn run_reports(
    #[server(default)] kind: String,
    #[server(default)] from: String,
    #[server(default)] to: String,
    #[server(default)] email: Option<String>,
    csrf: String,
) -> Result<(String, String), AppError> {
    crate::backend::backend()?.run_reports(kind, from, to, email.is_some(), csrf).await
}

fn kind_name(i18n: I18n, kind: ReportKind) -> String {
    match kind {
        ReportKind::Usage => t!(i18n, "reports-kind-usage"),
        ReportKind::Performance => t!(i18n, "reports-kind-performance"),
        ReportKind::Audit => t!(i18n, "reports-kind-audit"),
    }
}

/// `2026-11-01 – 2026-11-30` (UTC days; `to` is exclusive).
fn period(summary: &ReportSummary) -> String {
    let day = |ms: i64| crate::format::iso(ms).chars().take(10).collect::<String>();
    let (first, last) = (day(summary.from), day(summary.to - 1));
    if first == last { first } else { format!("{first} – {last}") }
}

fn download(id: i64, query: &str) -> String {
    crate::mount_path::href(&format!("/api/v1/reports/{id}/download?{query}"))
}

fn job_href(queue: &str, id: &str) -> String {
    crate::mount_path::href(&format!("/queues/{queue}/jobs/{id}"))
}

/// The list and the run-now form.
#[component]
pub fn ReportsPage() -> impl IntoView {
    let i18n = use_i18n();
    let query = use_query_map();
    let before = move || query.read().get("before").and_then(|b| b.parse::<i64>().ok());
    let run = ServerAction::<RunReports>::new();
    let list = Resource::new(move || (before(), run.version().get()), |(before, _)| get_reports(before));
    let viewer = use_viewer();
    let outcome = move || {
        run.value().get().map(|result| match result {
            Ok((queue, job)) => view! {
                <p class="notice" role="status" data-report-job=job.clone()>
                    {t!(i18n, "reports-run-started")} " "
                    <a href=job_href(&queue, &job)>{job.clone()}</a>
                </p>
            }
            .into_any(),
            Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
        })
    };
    view! {
        <SignInGuard staff_only=true/>
        <section class="page">
            <h1>{t!(i18n, "reports-title")}</h1>
            <p class="muted">{t!(i18n, "reports-intro")}</p>
            <Suspense fallback=move || view! { <p>{t!(i18n, "common-loading")}</p> }>
                {move || {
                    let csrf = viewer.get().and_then(|v| v.ok().flatten()).map(|v| v.csrf).unwrap_or_default();
                    view! {
                        <details class="confirm">
                            <summary>{t!(i18n, "reports-run")}</summary>
                            <ActionForm action=run attr:class="form report-form">
                                <input type="hidden" name="csrf" value=csrf/>
                                <label for="report-kind">{t!(i18n, "reports-run-kind")}</label>
                                <select id="report-kind" name="kind">
                                    <option value="">{t!(i18n, "reports-run-all")}</option>
                                    {ReportKind::ALL
                                        .into_iter()
                                        .map(|k| view! { <option value=k.as_str()>{kind_name(i18n, k)}</option> })
                                        .collect_view()}
                                </select>
                                <label for="report-from">{t!(i18n, "reports-run-from")}</label>
                                <input id="report-from" name="from" type="date"/>
                                <label for="report-to">{t!(i18n, "reports-run-to")}</label>
                                <input id="report-to" name="to" type="date"/>
                                <label class="check"><input name="email" type="checkbox" value="on"/> {t!(i18n, "reports-run-email")}</label>
                                <p class="muted">{t!(i18n, "reports-run-hint")}</p>
                                <button type="submit">{t!(i18n, "reports-run-submit")}</button>
                            </ActionForm>
                        </details>
                    }
                }}
                {outcome}
                {move || {
                    list.get()
                        .map(|result| match result {
                            Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                            Ok(list) if list.reports.is_empty() => {
                                view! { <p class="empty">{t!(i18n, "reports-empty")}</p> }.into_any()
                            }
                            Ok(list) => view! { <ReportTable list/> }.into_any(),
                        })
                }}
            </Suspense>
        </section>
    }
}

#[component]
fn ReportTable(list: ReportList) -> impl IntoView {
    let i18n = use_i18n();
    let columns = vec![
        t!(i18n, "reports-col-report"),
        t!(i18n, "reports-col-period"),
        t!(i18n, "reports-col-made"),
        t!(i18n, "reports-col-by"),
        t!(i18n, "reports-col-download"),
    ];
    view! {
        <DataTable caption=t!(i18n, "reports-title") class="jobs reports" columns>
            {list
                .reports
                .into_iter()
                .map(|r| {
                    let by = if r.requested_by == "schedule" { t!(i18n, "reports-by-schedule") } else { r.requested_by.clone() };
                    view! {
                        <tr data-report=r.id.to_string() data-kind=r.kind.as_str()>
                            <td><a href=crate::mount_path::href(&format!("/reports/{}", r.id))>{kind_name(i18n, r.kind)}</a></td>
                            <td>{period(&r)}</td>
                            <td><When at=r.created_at/></td>
                            <td>{by}</td>
                            <td>
                                <a href=download(r.id, "format=json")>"JSON"</a> " · "
                                <a href=download(r.id, "format=csv")>"CSV"</a>
                            </td>
                        </tr>
                    }
                })
                .collect_view()}
        </DataTable>
        {list.next.map(|id| view! { <p><a href=crate::mount_path::href(&format!("/reports?before={id}"))>{t!(i18n, "reports-older")}</a></p> })}
    }
}

/// One report.
#[component]
pub fn ReportPage() -> impl IntoView {
    let i18n = use_i18n();
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|id| id.parse::<i64>().ok()).unwrap_or(0);
    let report = Resource::new(id, get_report);
    view! {
        <SignInGuard staff_only=true/>
        <section class="page report">
            <p><a href=crate::mount_path::href("/reports")>{t!(i18n, "reports-back")}</a></p>
            <Suspense fallback=move || view! { <p>{t!(i18n, "common-loading")}</p> }>
                {move || {
                    report
                        .get()
                        .map(|result| match result {
                            Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                            Ok(report) => view! { <ReportView report/> }.into_any(),
                        })
                }}
            </Suspense>
        </section>
    }
}

#[component]
fn ReportView(report: Report) -> impl IntoView {
    let i18n = use_i18n();
    let summary = report.summary.clone();
    let title = format!("{} · {}", kind_name(i18n, summary.kind), period(&summary));
    let figures = match report.figures {
        ReportFigures::Usage(usage) => view! { <UsageView usage/> }.into_any(),
        ReportFigures::Performance(performance) => view! { <PerformanceView performance/> }.into_any(),
        ReportFigures::Audit(audit) => view! { <AuditView audit/> }.into_any(),
    };
    view! {
        <h1>{title}</h1>
        <p class="muted">
            {t!(i18n, "reports-made")} " " <When at=summary.created_at/> " · "
            <a href=download(summary.id, "format=json")>{t!(i18n, "reports-download-json")}</a> " · "
            <a href=download(summary.id, "format=csv")>{t!(i18n, "reports-download-csv")}</a>
        </p>
        {figures}
    }
}

/// Headline figures as a definition list.
#[component]
fn Figures(items: Vec<(String, String)>) -> impl IntoView {
    view! {
        <dl class="figures">
            {items.into_iter().map(|(name, value)| view! { <div><dt>{name}</dt><dd>{value}</dd></div> }).collect_view()}
        </dl>
    }
}

fn count_cells(i18n: I18n, c: &JobCounts) -> impl IntoView + use<> {
    [c.enqueued, c.completed, c.failed, c.retried, c.dead, c.cancelled, c.expired]
        .into_iter()
        .map(|n| view! { <td class="num">{i18n.number(n)}</td> })
        .collect_view()
}

fn count_columns(i18n: I18n, first: Vec<String>) -> Vec<String> {
    first
        .into_iter()
        .chain([
            t!(i18n, "reports-col-enqueued"),
            t!(i18n, "reports-col-completed"),
            t!(i18n, "reports-col-failed"),
            t!(i18n, "reports-col-retried"),
            t!(i18n, "reports-col-dead"),
            t!(i18n, "reports-col-cancelled"),
            t!(i18n, "reports-col-expired"),
        ])
        .collect()
}

#[component]
fn UsageView(usage: UsageReport) -> impl IntoView {
    let i18n = use_i18n();
    let totals = usage.totals;
    let rate = crate::format::decimal(i18n.language(), totals.failure_rate() * 100.0, 2);
    let items = vec![
        (t!(i18n, "reports-col-enqueued"), i18n.number(totals.enqueued)),
        (t!(i18n, "reports-col-completed"), i18n.number(totals.completed)),
        (t!(i18n, "reports-col-failed"), i18n.number(totals.failed)),
        (t!(i18n, "reports-col-retried"), i18n.number(totals.retried)),
        (t!(i18n, "reports-col-dead"), i18n.number(totals.dead)),
        (t!(i18n, "reports-col-cancelled"), i18n.number(totals.cancelled)),
        (t!(i18n, "reports-failure-rate"), format!("{rate} %")),
        (t!(i18n, "reports-owners"), i18n.number(usage.owners)),
    ];
    let hours: Vec<Bar> = usage
        .by_hour_of_day
        .iter()
        .enumerate()
        .map(|(hour, ended)| Bar { label: format!("{hour:02}:00"), first: *ended, second: 0 })
        .collect();
    let ended: u64 = usage.by_hour_of_day.iter().sum();
    let busiest = usage.busiest_hours.first().map(|h| (i18n.date_time(h.hour), h.ended));
    let chart_summary = match busiest {
        Some((at, n)) => t!(i18n, "reports-hours-summary", ended = ended, busiest = at, count = n),
        None => t!(i18n, "reports-hours-none"),
    };
    let job_columns = count_columns(i18n, vec![t!(i18n, "reports-col-queue"), t!(i18n, "reports-col-name")]);
    let owner_columns = count_columns(i18n, vec![t!(i18n, "reports-col-owner")]);
    view! {
        <Figures items/>
        <h2>{t!(i18n, "reports-hours-title")}</h2>
        <BarChart bars=hours summary=chart_summary first_name=t!(i18n, "reports-ended") second_name="" start="00:00" end="23:00" class="hours"/>
        <h2>{t!(i18n, "reports-busiest-title")}</h2>
        <ol class="busiest-hours">
            {usage.busiest_hours.iter().map(|h| view! { <li>{i18n.date_time(h.hour)} " · " {i18n.number(h.ended)}</li> }).collect_view()}
        </ol>
        <DataTable caption=t!(i18n, "reports-jobs-title") class="jobs report-jobs" columns=job_columns>
            {usage
                .by_job
                .iter()
                .map(|row| view! { <tr><td class="mono">{row.queue.clone()}</td><td class="mono">{row.name.clone()}</td>{count_cells(i18n, &row.counts)}</tr> })
                .collect_view()}
            {usage.other_jobs.map(|other| view! { <tr><td colspan="2">{t!(i18n, "reports-other")}</td>{count_cells(i18n, &other)}</tr> })}
        </DataTable>
        <DataTable caption=t!(i18n, "reports-owners-title") class="jobs report-owners" columns=owner_columns>
            {usage
                .by_owner
                .iter()
                .map(|row| view! { <tr><td class="mono">{row.owner.clone()}</td>{count_cells(i18n, &row.counts)}</tr> })
                .collect_view()}
        </DataTable>
    }
}

fn ms(i18n: I18n, value: Option<u64>) -> String {
    value.map(|v| i18n.duration(v)).unwrap_or_else(|| "–".into())
}

fn percentile_cells(i18n: I18n, p: &Percentiles) -> impl IntoView + use<> {
    [p.p50, p.p95, p.p99].into_iter().map(|v| view! { <td class="num">{ms(i18n, v)}</td> }).collect_view()
}

#[component]
fn PerformanceView(performance: PerformanceReport) -> impl IntoView {
    let i18n = use_i18n();
    let items = vec![
        (t!(i18n, "reports-wait-p50"), ms(i18n, performance.wait_ms.p50)),
        (t!(i18n, "reports-wait-p95"), ms(i18n, performance.wait_ms.p95)),
        (t!(i18n, "reports-wait-p99"), ms(i18n, performance.wait_ms.p99)),
        (t!(i18n, "reports-run-p50"), ms(i18n, performance.run_ms.p50)),
        (t!(i18n, "reports-run-p95"), ms(i18n, performance.run_ms.p95)),
        (t!(i18n, "reports-run-p99"), ms(i18n, performance.run_ms.p99)),
        (t!(i18n, "reports-stalls"), i18n.number(performance.stalls)),
        (t!(i18n, "reports-lost-to-stalls"), i18n.number(performance.lost_to_stalls)),
    ];
    let hourly = performance.slot_ms < 86_400_000;
    let label = |at: i64| if hourly { i18n.date_time(at) } else { crate::format::iso(at).chars().take(10).collect() };
    let (completed, dead): (u64, u64) =
        performance.throughput.iter().fold((0, 0), |(c, d), slot| (c + slot.completed, d + slot.dead));
    let peak = performance.throughput.iter().map(|s| s.completed + s.dead).max().unwrap_or(0);
    let summary = if hourly {
        t!(i18n, "reports-throughput-summary-hour", completed = completed, dead = dead, peak = peak)
    } else {
        t!(i18n, "reports-throughput-summary-day", completed = completed, dead = dead, peak = peak)
    };
    let start = performance.throughput.first().map(|s| label(s.at)).unwrap_or_default();
    let end = performance.throughput.last().map(|s| label(s.at)).unwrap_or_default();
    let bars: Vec<Bar> = performance
        .throughput
        .iter()
        .map(|slot| Bar { label: label(slot.at), first: slot.completed, second: slot.dead })
        .collect();
    let columns = vec![
        t!(i18n, "reports-col-queue"),
        t!(i18n, "reports-col-name"),
        t!(i18n, "reports-col-runs"),
        t!(i18n, "reports-wait-p50"),
        t!(i18n, "reports-wait-p95"),
        t!(i18n, "reports-wait-p99"),
        t!(i18n, "reports-run-p50"),
        t!(i18n, "reports-run-p95"),
        t!(i18n, "reports-run-p99"),
        t!(i18n, "reports-stalls"),
        t!(i18n, "reports-lost-to-stalls"),
    ];
    let slow_columns = vec![
        t!(i18n, "reports-col-job"),
        t!(i18n, "reports-col-name"),
        t!(i18n, "reports-col-status"),
        t!(i18n, "reports-col-duration"),
        t!(i18n, "reports-col-finished"),
    ];
    view! {
        <Figures items/>
        <h2>{t!(i18n, "reports-throughput-title")}</h2>
        <BarChart bars summary first_name=t!(i18n, "reports-col-completed") second_name=t!(i18n, "reports-col-dead") start end class="report-throughput"/>
        <DataTable caption=t!(i18n, "reports-timings-title") class="jobs report-timings" columns>
            {performance
                .by_job
                .iter()
                .map(|row| view! {
                    <tr>
                        <td class="mono">{row.queue.clone()}</td>
                        <td class="mono">{row.name.clone()}</td>
                        <td class="num">{i18n.number(row.runs)}</td>
                        {percentile_cells(i18n, &row.wait_ms)}
                        {percentile_cells(i18n, &row.run_ms)}
                        <td class="num">{i18n.number(row.stalls)}</td>
                        <td class="num">{i18n.number(row.lost_to_stalls)}</td>
                    </tr>
                })
                .collect_view()}
        </DataTable>
        <DataTable caption=t!(i18n, "reports-slowest-title") class="jobs report-slowest" columns=slow_columns>
            {performance
                .slowest
                .iter()
                .map(|job| view! {
                    <tr>
                        <td class="mono"><a href=job_href(&job.queue, &job.id)>{format!("{} / {}", job.queue, job.id)}</a></td>
                        <td class="mono">{job.name.clone()}</td>
                        <td>{i18n.job_state(&job.status)}</td>
                        <td class="num">{i18n.duration(job.duration_ms)}</td>
                        <td><When at=job.finished_at/></td>
                    </tr>
                })
                .collect_view()}
        </DataTable>
    }
}

fn line_rows(lines: Vec<AuditLine>) -> impl IntoView {
    lines
        .into_iter()
        .map(|l| {
            view! {
                <tr>
                    <td><When at=l.at/></td>
                    <td>{l.actor}</td>
                    <td class="mono">{l.action}</td>
                    <td class="mono">{l.target}</td>
                    <td>{l.result}</td>
                    <td>{l.client_addr.unwrap_or_default()}</td>
                </tr>
            }
        })
        .collect_view()
}

#[component]
fn AuditView(audit: AuditReport) -> impl IntoView {
    let i18n = use_i18n();
    let items = vec![
        (t!(i18n, "reports-actions"), i18n.number(audit.actions)),
        (t!(i18n, "reports-failed-actions"), i18n.number(audit.failed_actions)),
        (t!(i18n, "reports-sign-in-failures"), i18n.number(audit.sign_in_failures)),
        (t!(i18n, "reports-lockouts"), i18n.number(audit.lockouts)),
        (t!(i18n, "reports-tokens"), i18n.number(audit.tokens.len() as u64)),
    ];
    let line_columns = || {
        vec![
            t!(i18n, "audit-col-when"),
            t!(i18n, "audit-col-who"),
            t!(i18n, "audit-col-action"),
            t!(i18n, "audit-col-target"),
            t!(i18n, "audit-col-result"),
            t!(i18n, "audit-col-from"),
        ]
    };
    let actor_columns = vec![
        t!(i18n, "audit-col-who"),
        t!(i18n, "audit-col-action"),
        t!(i18n, "reports-col-count"),
        t!(i18n, "reports-col-failed-actions"),
    ];
    let sign_in_columns = vec![
        t!(i18n, "reports-col-username"),
        t!(i18n, "reports-col-failures"),
        t!(i18n, "reports-col-addresses"),
        t!(i18n, "reports-col-last"),
    ];
    let token_columns = vec![
        t!(i18n, "reports-col-token"),
        t!(i18n, "reports-col-owner"),
        t!(i18n, "reports-col-token-actions"),
        t!(i18n, "reports-col-created"),
        t!(i18n, "reports-col-last-used"),
        t!(i18n, "reports-col-revoked"),
    ];
    let maybe_when = |at: Option<i64>| at.map(|at| view! { <When at/> });
    view! {
        <Figures items/>
        <DataTable caption=t!(i18n, "reports-actions-title") class="jobs report-actions" columns=actor_columns>
            {audit
                .by_actor
                .iter()
                .map(|a| view! {
                    <tr>
                        <td>{format!("{} ({})", a.actor, i18n.role(&a.role))}</td>
                        <td class="mono">{a.action.clone()}</td>
                        <td class="num">{i18n.number(a.count)}</td>
                        <td class="num">{i18n.number(a.failed)}</td>
                    </tr>
                })
                .collect_view()}
        </DataTable>
        <DataTable caption=t!(i18n, "reports-failures-title") class="jobs report-failures" columns=line_columns()>
            {line_rows(audit.failures)}
        </DataTable>
        <DataTable caption=t!(i18n, "reports-sign-ins-title") class="jobs report-sign-ins" columns=sign_in_columns>
            {audit
                .sign_in_failures_by_user
                .iter()
                .map(|s| view! {
                    <tr>
                        <td>{s.username.clone()}</td>
                        <td class="num">{i18n.number(s.failures)}</td>
                        <td class="num">{i18n.number(s.addresses)}</td>
                        <td><When at=s.last_at/></td>
                    </tr>
                })
                .collect_view()}
        </DataTable>
        <DataTable caption=t!(i18n, "reports-lockouts-title") class="jobs report-lockouts" columns=line_columns()>
            {line_rows(audit.lockout_lines)}
        </DataTable>
        <DataTable caption=t!(i18n, "reports-tokens-title") class="jobs report-tokens" columns=token_columns>
            {audit
                .tokens
                .iter()
                .map(|token| view! {
                    <tr>
                        <td>{format!("{} (#{})", token.name, token.id)}</td>
                        <td>{token.owner.clone()}</td>
                        <td class="num">{i18n.number(token.actions)}</td>
                        <td><When at=token.created_at/></td>
                        <td>{maybe_when(token.last_used_at)}</td>
                        <td>{maybe_when(token.revoked_at)}</td>
                    </tr>
                })
                .collect_view()}
        </DataTable>
    }
}
