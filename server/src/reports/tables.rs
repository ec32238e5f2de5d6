//! A report's tables as rows of text: what the CSV download holds (one table per file)
//! and what the email shows the first rows of.

use app::reports::{JobCounts, Percentiles, Report, ReportFigures};
use serde::Serialize;

/// One table: its name (the download's `table` parameter), column keys and rows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Table {
    pub name: &'static str,
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

/// Epoch ms as `2026-11-03 14:00` (UTC).
pub fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()
}

fn opt_time(ms: Option<i64>) -> String {
    ms.map(time).unwrap_or_default()
}

fn opt(value: Option<u64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

const COUNT_COLUMNS: [&str; 7] = ["enqueued", "completed", "failed", "retried", "dead", "cancelled", "expired"];

fn counts(c: &JobCounts) -> impl Iterator<Item = String> {
    [c.enqueued, c.completed, c.failed, c.retried, c.dead, c.cancelled, c.expired].into_iter().map(|n| n.to_string())
}

fn percentiles(p: &Percentiles) -> impl Iterator<Item = String> {
    [p.p50, p.p95, p.p99, p.max].into_iter().map(opt)
}

/// Every table of `report`, the main one first.
pub fn tables(report: &Report) -> Vec<Table> {
    match &report.figures {
        ReportFigures::Usage(usage) => {
            let mut jobs: Vec<Vec<String>> = usage
                .by_job
                .iter()
                .map(|row| [row.queue.clone(), row.name.clone()].into_iter().chain(counts(&row.counts)).collect())
                .collect();
            if let Some(other) = &usage.other_jobs {
                jobs.push(["(other)".to_string(), String::new()].into_iter().chain(counts(other)).collect());
            }
            jobs.push(["(all)".to_string(), String::new()].into_iter().chain(counts(&usage.totals)).collect());
            vec![
                Table { name: "jobs", columns: [&["queue", "name"][..], &COUNT_COLUMNS].concat(), rows: jobs },
                Table {
                    name: "owners",
                    columns: [&["owner"][..], &COUNT_COLUMNS].concat(),
                    rows: usage
                        .by_owner
                        .iter()
                        .map(|row| std::iter::once(row.owner.clone()).chain(counts(&row.counts)).collect())
                        .collect(),
                },
                Table {
                    name: "busiest_hours",
                    columns: vec!["hour", "ended"],
                    rows: usage.busiest_hours.iter().map(|h| vec![time(h.hour), h.ended.to_string()]).collect(),
                },
                Table {
                    name: "hours_of_day",
                    columns: vec!["hour_of_day", "ended"],
                    rows: usage
                        .by_hour_of_day
                        .iter()
                        .enumerate()
                        .map(|(hour, ended)| vec![format!("{hour:02}:00"), ended.to_string()])
                        .collect(),
                },
            ]
        }
        ReportFigures::Performance(performance) => vec![
            Table {
                name: "jobs",
                columns: vec![
                    "queue",
                    "name",
                    "runs",
                    "wait_p50_ms",
                    "wait_p95_ms",
                    "wait_p99_ms",
                    "wait_max_ms",
                    "run_p50_ms",
                    "run_p95_ms",
                    "run_p99_ms",
                    "run_max_ms",
                    "stalls",
                    "lost_to_stalls",
                ],
                rows: performance
                    .by_job
                    .iter()
                    .map(|row| {
                        [row.queue.clone(), row.name.clone(), row.runs.to_string()]
                            .into_iter()
                            .chain(percentiles(&row.wait_ms))
                            .chain(percentiles(&row.run_ms))
                            .chain([row.stalls.to_string(), row.lost_to_stalls.to_string()])
                            .collect()
                    })
                    .collect(),
            },
            Table {
                name: "slowest",
                columns: vec!["queue", "id", "name", "status", "duration_ms", "finished_at"],
                rows: performance
                    .slowest
                    .iter()
                    .map(|job| {
                        vec![
                            job.queue.clone(),
                            job.id.clone(),
                            job.name.clone(),
                            job.status.clone(),
                            job.duration_ms.to_string(),
                            time(job.finished_at),
                        ]
                    })
                    .collect(),
            },
            Table {
                name: "throughput",
                columns: vec!["from", "completed", "dead"],
                rows: performance
                    .throughput
                    .iter()
                    .map(|slot| vec![time(slot.at), slot.completed.to_string(), slot.dead.to_string()])
                    .collect(),
            },
        ],
        ReportFigures::Audit(audit) => {
            let line = |l: &app::reports::AuditLine| {
                vec![
                    time(l.at),
                    l.actor.clone(),
                    l.action.clone(),
                    l.target.clone(),
                    l.result.clone(),
                    l.client_addr.clone().unwrap_or_default(),
                ]
            };
            let line_columns = vec!["at", "actor", "action", "target", "result", "client_addr"];
            vec![
                Table {
                    name: "actions",
                    columns: vec!["actor", "role", "action", "count", "failed"],
                    rows: audit
                        .by_actor
                        .iter()
                        .map(|a| {
                            vec![
                                a.actor.clone(),
                                a.role.clone(),
                                a.action.clone(),
                                a.count.to_string(),
                                a.failed.to_string(),
                            ]
                        })
                        .collect(),
                },
                Table {
                    name: "failures",
                    columns: line_columns.clone(),
                    rows: audit.failures.iter().map(line).collect(),
                },
                Table {
                    name: "sign_in_failures",
                    columns: vec!["username", "failures", "addresses", "last_at"],
                    rows: audit
                        .sign_in_failures_by_user
                        .iter()
                        .map(|s| {
                            vec![s.username.clone(), s.failures.to_string(), s.addresses.to_string(), time(s.last_at)]
                        })
                        .collect(),
                },
                Table { name: "lockouts", columns: line_columns, rows: audit.lockout_lines.iter().map(line).collect() },
                Table {
                    name: "tokens",
                    columns: vec!["id", "name", "owner", "actions", "created_at", "last_used_at", "revoked_at"],
                    rows: audit
                        .tokens
                        .iter()
                        .map(|t| {
                            vec![
                                t.id.to_string(),
                                t.name.clone(),
                                t.owner.clone(),
                                t.actions.to_string(),
                                time(t.created_at),
                                opt_time(t.last_used_at),
                                opt_time(t.revoked_at),
                            ]
                        })
                        .collect(),
                },
            ]
        }
    }
}

/// The names of `report`'s tables, for the download's error message.
pub fn table_names(report: &Report) -> Vec<&'static str> {
    tables(report).into_iter().map(|t| t.name).collect()
}

/// One table as CSV (a header row, then its rows); cells a spreadsheet would run as a
/// formula are defused as in the search export.
pub fn csv(table: &Table) -> Result<Vec<u8>, std::io::Error> {
    let mut out = crate::services::search::csv_line(&table.columns.iter().map(|c| c.to_string()).collect::<Vec<_>>())?;
    for row in &table.rows {
        out.extend(crate::services::search::csv_line(row)?);
    }
    Ok(out)
}
