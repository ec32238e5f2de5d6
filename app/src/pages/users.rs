use crate::components::data_table::DataTable;
use crate::components::sign_in_guard::SignInGuard;
use crate::components::when::When;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::i18n::{I18n, use_i18n};
use crate::session::{error_text, use_viewer};
use crate::t;
use crate::types::{ROLES, UserRow};

#[server(input = GetUrl, endpoint = "get_users")]
pub async fn get_users() -> Result<Vec<UserRow>, AppError> {
    crate::backend::backend()?.users().await
}

#[server(endpoint = "add_user")]
pub async fn add_user(username: String, password: String, role: String, csrf: String) -> Result<(), AppError> {
    crate::backend::backend()?.add_user(username, password, role, csrf).await
}

/// `role` set changes the role; `disabled` set ("true"/"false") disables or enables;
/// `allowed_jobs` set (`queue/job-name, …`) says what an end user may enqueue.
#[server(endpoint = "change_user")]
pub async fn change_user(
    username: String,
    role: Option<String>,
    disabled: Option<bool>,
    allowed_jobs: Option<String>,
    csrf: String,
) -> Result<(), AppError> {
    crate::backend::backend()?.change_user(username, role, disabled, allowed_jobs, csrf).await
}

/// The roles to choose from: each shown in the page's language, its value as stored.
fn role_options(i18n: I18n, selected: &str) -> impl IntoView + use<> {
    let selected = selected.to_string();
    ROLES
        .map(|role| view! { <option value=role selected=role == selected>{i18n.role(role)}</option> })
        .into_iter()
        .collect_view()
}

/// User accounts (admins only): add, disable or enable, change role.
#[component]
pub fn UsersPage() -> impl IntoView {
    let add = ServerAction::<AddUser>::new();
    let change = ServerAction::<ChangeUser>::new();
    let users = Resource::new(move || (add.version().get(), change.version().get()), |_| get_users());
    let viewer = use_viewer();
    let i18n = use_i18n();
    let failure = move || {
        add.value()
            .get()
            .and_then(|r| r.err())
            .or_else(|| change.value().get().and_then(|r| r.err()))
            .map(|e| view! { <p class="error" role="alert">{error_text(&e)}</p> })
    };
    view! {
        <SignInGuard staff_only=true/>
        <section class="page">
            <h1>{t!(i18n, "users-title")}</h1>
            {failure}
            <Suspense fallback=move || view! { <p>{t!(i18n, "common-loading")}</p> }>
                {move || {
                    let csrf = viewer.get().and_then(|v| v.ok().flatten()).map(|v| v.csrf).unwrap_or_default();
                    users
                        .get()
                        .map(|result| match result {
                            Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                            Ok(users) => view! { <UserTable users csrf add change/> }.into_any(),
                        })
                }}
            </Suspense>
        </section>
    }
}

#[component]
fn UserTable(
    users: Vec<UserRow>,
    csrf: String,
    add: ServerAction<AddUser>,
    change: ServerAction<ChangeUser>,
) -> impl IntoView {
    let i18n = use_i18n();
    let rows = users.into_iter().map(|user| view! { <UserRowView user csrf=csrf.clone() change/> }).collect_view();
    let columns = vec![
        t!(i18n, "users-col-user"),
        t!(i18n, "users-col-role"),
        t!(i18n, "users-col-status"),
        t!(i18n, "users-col-may-enqueue"),
        t!(i18n, "users-col-created"),
        String::new(),
    ];
    view! {
        <DataTable caption=t!(i18n, "users-table") class="jobs users" columns>{rows}</DataTable>
        <h2>{t!(i18n, "users-add-title")}</h2>
        <ActionForm action=add attr:class="form narrow">
            <input type="hidden" name="csrf" value=csrf/>
            <label for="new-username">{t!(i18n, "users-username")}</label>
            <input id="new-username" name="username" required autocomplete="off"/>
            <label for="new-password">{t!(i18n, "users-password")}</label>
            <input id="new-password" name="password" type="password" required minlength="8" autocomplete="new-password"/>
            <label for="new-role">{t!(i18n, "users-role")}</label>
            <select id="new-role" name="role">
                {role_options(i18n, "viewer")}
            </select>
            <button type="submit">{t!(i18n, "users-add")}</button>
        </ActionForm>
    }
}

#[component]
fn UserRowView(user: UserRow, csrf: String, change: ServerAction<ChangeUser>) -> impl IntoView {
    let i18n = use_i18n();
    let name = user.username;
    let status = if user.disabled { t!(i18n, "users-status-disabled") } else { t!(i18n, "users-status-active") };
    let (flip, flip_label, flip_aria) = if user.disabled {
        ("false", t!(i18n, "users-enable"), t!(i18n, "users-enable-label", name = name.as_str()))
    } else {
        ("true", t!(i18n, "users-disable"), t!(i18n, "users-disable-label", name = name.as_str()))
    };
    let (role_user, role_csrf) = (name.clone(), csrf.clone());
    let role_label = t!(i18n, "users-role-label", name = name.as_str());
    let flip_user = name.clone();
    let options = role_options(i18n, &user.role);
    let row_key = name.clone();
    // Only end users are limited to allowed jobs; staff enqueue by role.
    let allowed = (user.role == "user").then(|| {
        let (allowed_user, allowed_csrf) = (name.clone(), csrf.clone());
        let label = t!(i18n, "users-allowed-label", name = name.as_str());
        view! {
            <ActionForm action=change attr:class="inline">
                <input type="hidden" name="username" value=allowed_user/>
                <input type="hidden" name="csrf" value=allowed_csrf/>
                <input name="allowed_jobs" value=user.allowed_jobs.clone() aria-label=label placeholder="sync/sync-connection"/>
                <button type="submit">{t!(i18n, "users-save")}</button>
            </ActionForm>
        }
    });
    view! {
        <tr data-user=row_key>
            <td translate="no">{name}</td>
            <td>
                <ActionForm action=change attr:class="inline">
                    <input type="hidden" name="username" value=role_user/>
                    <input type="hidden" name="csrf" value=role_csrf/>
                    <select name="role" aria-label=role_label>
                        {options}
                    </select>
                    <button type="submit">{t!(i18n, "users-change-role")}</button>
                </ActionForm>
            </td>
            <td>{status}</td>
            <td>{allowed}</td>
            <td><When at=user.created_at/></td>
            <td>
                <ActionForm action=change attr:class="inline">
                    <input type="hidden" name="username" value=flip_user/>
                    <input type="hidden" name="disabled" value=flip/>
                    <input type="hidden" name="csrf" value=csrf/>
                    <button type="submit" aria-label=flip_aria>{flip_label}</button>
                </ActionForm>
            </td>
        </tr>
    }
}
