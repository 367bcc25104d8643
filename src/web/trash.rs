//! The trash (`/trash`): contacts deleted in the last 30 days, and restore.
//! Team leads and admins; the service checks the role again.

use actix_session::Session;
use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::Utc;

use super::auth::{CsrfForm, CurrentUser, Empty};
use super::pages::{self, local_time, Layout};
use super::AppState;
use crate::error::AppError;
use crate::service::trash::{self, KEEP_DAYS};

/// How many the page lists (the most recently deleted).
const SHOWN: i64 = 200;

pub struct TrashedView {
    pub id: i32,
    pub name: String,
    pub reach: String,
    pub deleted: String,
    pub deleted_by: String,
    pub purged: String,
}

#[derive(Template)]
#[template(path = "contacts/trash.html")]
struct TrashPage {
    layout: Layout,
    rows: Vec<TrashedView>,
    total: i64,
    keep_days: i64,
}

pub async fn list(state: web::Data<AppState>, user: CurrentUser, session: Session) -> Result<HttpResponse, AppError> {
    user.actor.require(user.actor.role.can_delete(), "see the trash")?;
    let actor = user.actor.clone();
    let tz = state.settings.time_zone;
    let (rows, total) = state
        .db(move |c| {
            // Whatever is past its 30 days goes before the page shows it.
            trash::purge(c, Utc::now().naive_utc())?;
            Ok((trash::list(c, &actor, SHOWN)?, trash::count(c)?))
        })
        .await?;
    let rows = rows
        .into_iter()
        .map(|t| TrashedView {
            id: t.id,
            name: t.name.clone(),
            reach: [t.email.clone(), t.phone.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" · "),
            deleted: local_time(t.deleted_at, tz),
            deleted_by: t.deleted_by.clone().unwrap_or_default(),
            purged: local_time(t.purged_at(), tz),
        })
        .collect();
    let page = TrashPage {
        layout: Layout::new(&user, &session, "Trash", "contacts"),
        rows,
        total,
        keep_days: KEEP_DAYS,
    };
    Ok(pages::render(&page))
}

pub async fn restore(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
    _form: CsrfForm<Empty>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let actor = user.actor.clone();
    let contact = state.db(move |c| trash::restore(c, &actor, id)).await?;
    pages::flash(&session, &format!("{} restored from the trash", contact.name));
    Ok(pages::see_other(&format!("/contacts/{id}")))
}
