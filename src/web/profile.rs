//! The signed-in user's profile with their own API tokens, and the admins'
//! page of every token.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::auth::{CsrfForm, CurrentUser, Empty};
use super::pages::{self, local_time, Layout};
use super::AppState;
use crate::error::AppError;
use crate::service::tokens::{self, ApiToken};
use crate::service::users::{self, Role, UserSummary};

/// A token as the pages list it (never its secret).
pub struct TokenView {
    pub id: i32,
    pub name: String,
    pub owner: String,
    pub created: String,
    pub last_used: String,
    pub revoked: bool,
}

fn views(list: &[ApiToken], tz: chrono_tz::Tz) -> Vec<TokenView> {
    list.iter()
        .map(|t| TokenView {
            id: t.id,
            name: t.name.clone(),
            owner: t.user_name.clone(),
            created: local_time(t.created_at, tz),
            last_used: t
                .last_used_at
                .map(|at| local_time(at, tz))
                .unwrap_or_else(|| "never".into()),
            revoked: t.revoked_at.is_some(),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "profile/show.html")]
struct ProfilePage {
    layout: Layout,
    email: String,
    role: &'static str,
    tokens: Vec<TokenView>,
    /// A token just created: shown this once.
    new_token: Option<String>,
}

async fn profile_page(
    state: &AppState,
    user: &CurrentUser,
    session: &Session,
    new_token: Option<String>,
) -> Result<HttpResponse, AppError> {
    let me = user.actor.id;
    let list = state.db(move |c| tokens::list_for_user(c, me)).await?;
    let page = ProfilePage {
        layout: Layout::new(user, session, "Profile", "profile"),
        email: user.actor.email.clone(),
        role: user.actor.role.as_str(),
        tokens: views(&list, state.settings.time_zone),
        new_token,
    };
    let status = if page.new_token.is_some() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(pages::render_with(status, &page))
}

pub async fn show(state: web::Data<AppState>, user: CurrentUser, session: Session) -> Result<HttpResponse, AppError> {
    profile_page(&state, &user, &session, None).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NewToken {
    name: String,
    user_id: String,
}

/// Creates one of your own tokens and shows it once (the answer is the page
/// itself, so the secret is never stored, not even in the session).
pub async fn create_own(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    form: CsrfForm<NewToken>,
) -> Result<HttpResponse, AppError> {
    let (actor, name) = (user.actor.clone(), form.0.name);
    let (_, secret) = state.db(move |c| tokens::create(c, &actor, actor.id, &name)).await?;
    profile_page(&state, &user, &session, Some(secret)).await
}

/// Revokes a token: your own from the profile, anyone's for admins.
pub async fn revoke(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
    _form: CsrfForm<Empty>,
) -> Result<HttpResponse, AppError> {
    let (actor, id) = (user.actor.clone(), path.into_inner());
    let owner_is_me = state
        .db(move |c| {
            tokens::revoke(c, &actor, id)?;
            Ok(tokens::list_for_user(c, actor.id)?.iter().any(|t| t.id == id))
        })
        .await?;
    pages::flash(&session, "Token revoked. It no longer works.");
    Ok(pages::see_other(if owner_is_me {
        "/profile"
    } else {
        "/settings/tokens"
    }))
}

#[derive(Template)]
#[template(path = "settings/tokens.html")]
struct TokensPage {
    layout: Layout,
    tokens: Vec<TokenView>,
    team: Vec<UserSummary>,
    new_token: Option<(String, String)>,
}

async fn tokens_page(
    state: &AppState,
    user: &CurrentUser,
    session: &Session,
    new_token: Option<(String, String)>,
) -> Result<HttpResponse, AppError> {
    user.actor
        .require(user.actor.role == Role::Admin, "see everyone's API tokens")?;
    let actor = user.actor.clone();
    let (list, team) = state
        .db(move |c| Ok((tokens::list_all(c, &actor)?, users::team(c)?)))
        .await?;
    let page = TokensPage {
        layout: Layout::new(user, session, "API tokens", "settings"),
        tokens: views(&list, state.settings.time_zone),
        team,
        new_token,
    };
    let status = if page.new_token.is_some() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(pages::render_with(status, &page))
}

pub async fn all(state: web::Data<AppState>, user: CurrentUser, session: Session) -> Result<HttpResponse, AppError> {
    tokens_page(&state, &user, &session, None).await
}

/// An admin creates a token for anyone.
pub async fn create_for(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    form: CsrfForm<NewToken>,
) -> Result<HttpResponse, AppError> {
    // Who may, before what they sent: a refusal does not depend on the form.
    crate::service::users::require_admin(&user.actor, "create tokens for others")?;
    let owner_id: i32 = form
        .0
        .user_id
        .trim()
        .parse()
        .map_err(|_| AppError::field("user_id", "is not a user"))?;
    let (actor, name) = (user.actor.clone(), form.0.name);
    let (token, secret) = state.db(move |c| tokens::create(c, &actor, owner_id, &name)).await?;
    tokens_page(&state, &user, &session, Some((token.user_name, secret))).await
}
