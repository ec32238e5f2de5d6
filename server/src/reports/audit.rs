//! The audit report: operator actions by user and kind, failed actions, sign-in failures
//! and lockouts, and what each API token did.

use app::reports::{
    ActorActions, AuditLine, AuditReport, MAX_REPORT_LINES, MAX_REPORT_OWNERS, MAX_REPORT_ROWS, SignInFailures,
    TokenUse,
};

use super::Period;
use crate::audit::{LOCKED_OUT, SIGN_IN_FAILED};
use crate::db::Db;

/// An action succeeded when its recorded result starts `ok` (`ok`, `ok: 3 jobs`).
const FAILED: &str = "result NOT LIKE 'ok%'";

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

async fn lines(db: &Db, period: Period, condition: &str) -> Result<Vec<AuditLine>, sqlx::Error> {
    let sql = format!(
        "SELECT at, actor_name, action, target, result, client_addr FROM audit_log
         WHERE at >= $1 AND at < $2 AND {condition} ORDER BY at DESC, id DESC LIMIT {MAX_REPORT_LINES}"
    );
    let rows: Vec<(i64, String, String, String, String, Option<String>)> =
        sqlx::query_as(&sql).bind(period.from).bind(period.to).fetch_all(&db.pool).await?;
    Ok(rows
        .into_iter()
        .map(|(at, actor, action, target, result, client_addr)| AuditLine {
            at,
            actor,
            action,
            target,
            result,
            client_addr,
        })
        .collect())
}

/// How many entries of `action` the period has.
async fn entries_of(db: &Db, period: Period, action: &str) -> Result<i64, sqlx::Error> {
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE at >= $1 AND at < $2 AND action = $3")
        .bind(period.from)
        .bind(period.to)
        .bind(action)
        .fetch_one(&db.pool)
        .await?;
    Ok(count)
}

pub async fn audit(db: &Db, period: Period) -> Result<AuditReport, sqlx::Error> {
    let actions_only = format!("action NOT IN ('{SIGN_IN_FAILED}', '{LOCKED_OUT}')");
    let (actions, failed_actions): (i64, Option<i64>) = sqlx::query_as(&format!(
        "SELECT COUNT(*), SUM(CASE WHEN {FAILED} THEN 1 ELSE 0 END) FROM audit_log
         WHERE at >= $1 AND at < $2 AND {actions_only}"
    ))
    .bind(period.from)
    .bind(period.to)
    .fetch_one(&db.pool)
    .await?;
    let by_actor: Vec<(String, String, String, i64, i64)> = sqlx::query_as(&format!(
        "SELECT actor_name, actor_role, action, COUNT(*), SUM(CASE WHEN {FAILED} THEN 1 ELSE 0 END)
         FROM audit_log WHERE at >= $1 AND at < $2 AND {actions_only}
         GROUP BY actor_name, actor_role, action
         ORDER BY COUNT(*) DESC, actor_name, action LIMIT {MAX_REPORT_ROWS}"
    ))
    .bind(period.from)
    .bind(period.to)
    .fetch_all(&db.pool)
    .await?;
    let failures = lines(db, period, &format!("{actions_only} AND {FAILED}")).await?;

    let sign_in_failures = entries_of(db, period, SIGN_IN_FAILED).await?;
    let by_user: Vec<(String, i64, i64, i64)> = sqlx::query_as(&format!(
        "SELECT actor_name, COUNT(*), COUNT(DISTINCT client_addr), MAX(at) FROM audit_log
         WHERE at >= $1 AND at < $2 AND action = $3
         GROUP BY actor_name ORDER BY COUNT(*) DESC, actor_name LIMIT {MAX_REPORT_OWNERS}"
    ))
    .bind(period.from)
    .bind(period.to)
    .bind(SIGN_IN_FAILED)
    .fetch_all(&db.pool)
    .await?;
    let lockouts = entries_of(db, period, LOCKED_OUT).await?;
    let lockout_lines = lines(db, period, &format!("action = '{LOCKED_OUT}'")).await?;

    // Tokens that acted, were made, were revoked or were last used in the period.
    // id, name, owner, actions, created, last used, revoked.
    type TokenRow = (i64, String, String, i64, i64, Option<i64>, Option<i64>);
    let tokens: Vec<TokenRow> = sqlx::query_as(&format!(
        "SELECT t.id, t.name, u.username, COALESCE(a.actions, 0), t.created_at, t.last_used_at, t.revoked_at
         FROM api_tokens t JOIN users u ON u.id = t.user_id
         LEFT JOIN (SELECT token_id, COUNT(*) AS actions FROM audit_log
                    WHERE at >= $1 AND at < $2 AND token_id IS NOT NULL GROUP BY token_id) a ON a.token_id = t.id
         WHERE a.actions > 0 OR (t.created_at >= $1 AND t.created_at < $2)
            OR (t.revoked_at >= $1 AND t.revoked_at < $2) OR (t.last_used_at >= $1 AND t.last_used_at < $2)
         ORDER BY COALESCE(a.actions, 0) DESC, t.id LIMIT {MAX_REPORT_ROWS}"
    ))
    .bind(period.from)
    .bind(period.to)
    .fetch_all(&db.pool)
    .await?;

    Ok(AuditReport {
        actions: count(actions),
        failed_actions: count(failed_actions.unwrap_or(0)),
        by_actor: by_actor
            .into_iter()
            .map(|(actor, role, action, n, failed)| ActorActions {
                actor,
                role,
                action,
                count: count(n),
                failed: count(failed),
            })
            .collect(),
        failures,
        sign_in_failures: count(sign_in_failures),
        sign_in_failures_by_user: by_user
            .into_iter()
            .map(|(username, failures, addresses, last_at)| SignInFailures {
                username,
                failures: count(failures),
                addresses: count(addresses),
                last_at,
            })
            .collect(),
        lockouts: count(lockouts),
        lockout_lines,
        tokens: tokens
            .into_iter()
            .map(|(id, name, owner, actions, created_at, last_used_at, revoked_at)| TokenUse {
                id,
                name,
                owner,
                actions: count(actions),
                created_at,
                last_used_at,
                revoked_at,
            })
            .collect(),
    })
}
