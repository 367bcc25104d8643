//! The admins' users page (`/settings/users`: add, role, disable, reset a
//! password) and activity log (`/settings/activity`), and every user's own
//! name and password (on `/profile`).

use actix_session::Session;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::auth::{CsrfForm, CurrentUser, Empty};
use super::pages::{self, local_time, FormErrors, Layout};
use super::AppState;
use crate::error::AppError;
use crate::service::activity;
use crate::service::users::{self, Member, NewUser, Role};

#[derive(Template)]
#[template(path = "settings/users.html")]
struct UsersPage {
    layout: Layout,
    members: Vec<Member>,
    me: i32,
    errors: FormErrors,
    name: String,
    email: String,
    role: String,
}

async fn users_page(
    state: &AppState,
    user: &CurrentUser,
    session: &Session,
    failed: Option<(AppError, AddUser)>,
) -> Result<HttpResponse, AppError> {
    let actor = user.actor.clone();
    let members = state.db(move |c| users::members(c, &actor)).await?;
    let (errors, form, status) = match failed {
        Some((AppError::Validation { fields, .. }, form)) => (
            FormErrors(fields),
            form,
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Some((other, _)) => return Err(other),
        None => (
            FormErrors::default(),
            AddUser::default(),
            actix_web::http::StatusCode::OK,
        ),
    };
    let page = UsersPage {
        layout: Layout::new(user, session, "Users", "settings"),
        members,
        me: user.actor.id,
        errors,
        name: form.name,
        email: form.email,
        role: if form.role.is_empty() {
            "agent".into()
        } else {
            form.role
        },
    };
    Ok(pages::render_with(status, &page))
}

pub async fn list(state: web::Data<AppState>, user: CurrentUser, session: Session) -> Result<HttpResponse, AppError> {
    users_page(&state, &user, &session, None).await
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct AddUser {
    name: String,
    email: String,
    role: String,
    password: String,
}

pub async fn add(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    form: CsrfForm<AddUser>,
) -> Result<HttpResponse, AppError> {
    // Who may, before what they sent: a refusal does not depend on the form.
    users::require_admin(&user.actor, "add users")?;
    let input = form.0;
    let role = Role::parse(&input.role).map_err(|e| AppError::field("role", e))?;
    let (actor, kept) = (user.actor.clone(), input.clone());
    let added = state
        .db(move |c| {
            let new = NewUser {
                name: &input.name,
                email: &input.email,
                password: &input.password,
                role,
            };
            users::invite(c, &actor, &new)
        })
        .await;
    match added {
        Ok(added) => {
            pages::flash(
                &session,
                &format!(
                    "{} added as {}. They sign in with the password you set.",
                    added.name,
                    role.as_str()
                ),
            );
            Ok(pages::see_other("/settings/users"))
        }
        Err(e @ AppError::Validation { .. }) => users_page(&state, &user, &session, Some((e, kept))).await,
        Err(e) => Err(e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RoleForm {
    role: String,
}

pub async fn set_role(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
    form: CsrfForm<RoleForm>,
) -> Result<HttpResponse, AppError> {
    users::require_admin(&user.actor, "change roles")?;
    let role = Role::parse(&form.0.role).map_err(|e| AppError::field("role", e))?;
    let (actor, id) = (user.actor.clone(), path.into_inner());
    state.db(move |c| users::set_role(c, &actor, id, role)).await?;
    pages::flash(&session, &format!("Role changed to {}", role.as_str()));
    Ok(pages::see_other("/settings/users"))
}

pub async fn disable(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
    _form: CsrfForm<Empty>,
) -> Result<HttpResponse, AppError> {
    switch(&state, &user, &session, path.into_inner(), true).await
}

pub async fn enable(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
    _form: CsrfForm<Empty>,
) -> Result<HttpResponse, AppError> {
    switch(&state, &user, &session, path.into_inner(), false).await
}

async fn switch(
    state: &AppState,
    user: &CurrentUser,
    session: &Session,
    id: i32,
    disabled: bool,
) -> Result<HttpResponse, AppError> {
    let actor = user.actor.clone();
    state.db(move |c| users::set_disabled(c, &actor, id, disabled)).await?;
    pages::flash(
        session,
        if disabled {
            "User disabled: their sessions and API tokens stopped working."
        } else {
            "User enabled: they can sign in again."
        },
    );
    Ok(pages::see_other("/settings/users"))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PasswordForm {
    password: String,
}

pub async fn reset_password(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
    form: CsrfForm<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let (actor, id, password) = (user.actor.clone(), path.into_inner(), form.0.password);
    state
        .db(move |c| users::reset_password(c, &actor, id, &password))
        .await?;
    pages::flash(
        &session,
        "Password reset. Their sessions ended; they sign in with the new one.",
    );
    Ok(pages::see_other("/settings/users"))
}

pub struct EntryView {
    pub at: String,
    pub who: String,
    pub action: String,
    pub contact_id: Option<i32>,
    pub count: i32,
    pub summary: String,
}

pub fn entry_views(entries: &[activity::Entry], tz: chrono_tz::Tz) -> Vec<EntryView> {
    entries
        .iter()
        .map(|e| EntryView {
            at: local_time(e.at, tz),
            who: e.user_name.clone().unwrap_or_else(|| "leadbook".into()),
            action: e.action.replace('_', " "),
            contact_id: e.contact_id,
            count: e.count,
            summary: e.summary.clone(),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "settings/activity.html")]
struct ActivityPage {
    layout: Layout,
    entries: Vec<EntryView>,
    older: Option<String>,
}

const ACTIVITY_PAGE: i64 = 100;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ActivityQuery {
    before: Option<i32>,
}

pub async fn activity_log(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    query: web::Query<ActivityQuery>,
) -> Result<HttpResponse, AppError> {
    activity::require_reader(&user.actor)?;
    let before = query.before;
    let entries = state
        .db(move |c| activity::recent(c, None, before, ACTIVITY_PAGE))
        .await?;
    let older = (entries.len() as i64 == ACTIVITY_PAGE)
        .then(|| entries.last().map(|e| format!("/settings/activity?before={}", e.id)))
        .flatten();
    let page = ActivityPage {
        layout: Layout::new(&user, &session, "Activity log", "settings"),
        entries: entry_views(&entries, state.settings.time_zone),
        older,
    };
    Ok(pages::render(&page))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RenameForm {
    name: String,
}

pub async fn rename_self(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    form: CsrfForm<RenameForm>,
) -> Result<HttpResponse, AppError> {
    let (actor, name) = (user.actor.clone(), form.0.name);
    state.db(move |c| users::rename_self(c, &actor, &name)).await?;
    pages::flash(&session, "Name changed");
    Ok(pages::see_other("/profile"))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct OwnPasswordForm {
    current_password: String,
    password: String,
    password_confirm: String,
}

/// Changes your own password. Every session of yours ends, this one too:
/// you sign in again with the new password.
pub async fn change_own_password(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    form: CsrfForm<OwnPasswordForm>,
) -> Result<HttpResponse, AppError> {
    let input = form.0;
    if input.password != input.password_confirm {
        return Err(AppError::field("password_confirm", "does not match the new password"));
    }
    let actor = user.actor.clone();
    state
        .db(move |c| users::change_own_password(c, &actor, &input.current_password, &input.password, None))
        .await?;
    session.purge();
    Ok(pages::see_other("/login"))
}
