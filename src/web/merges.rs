//! The merge dialog (`/contacts/{id}/merge`), the merge log (`/merges`) and
//! undo. Leads and admins only; the service checks the role again.

use actix_session::Session;
use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::Utc;
use serde::Deserialize;

use super::auth::{CsrfForm, CurrentUser};
use super::pages::{self, local_time, Layout};
use super::AppState;
use crate::error::AppError;
use crate::service::contacts::{self, Contact};
use crate::service::merge::{self, MergeEntry, MergePlan, Moving, PlanRow};

/// A contact found by the dialog's search.
pub struct Found {
    pub id: i32,
    pub name: String,
    pub detail: String,
}

impl Found {
    fn new(c: &Contact) -> Self {
        let detail = [&c.email, &c.phone, &c.company, &c.city]
            .into_iter()
            .flatten()
            .cloned()
            .collect::<Vec<_>>()
            .join(" · ");
        Self {
            id: c.id,
            name: c.name.clone(),
            detail,
        }
    }
}

/// The preview: both contacts, the result field by field, what moves.
pub struct Preview {
    pub other_id: i32,
    pub other_name: String,
    pub rows: Vec<PlanRow>,
    pub moving: Moving,
    /// The fields where B's value was chosen, carried to the confirm form.
    pub chosen: Vec<String>,
}

#[derive(Template)]
#[template(path = "merges/dialog.html")]
struct DialogPage {
    layout: Layout,
    kept_id: i32,
    kept_name: String,
    q: String,
    searched: bool,
    found: Vec<Found>,
    preview: Option<Preview>,
}

/// Reads `q`, `other` and the repeatable `take_from_other`.
fn dialog_query(pairs: &[(String, String)]) -> Result<(String, Option<i32>, Vec<String>), AppError> {
    let mut q = String::new();
    let mut other = None;
    let mut take = Vec::new();
    for (key, value) in pairs {
        match key.as_str() {
            "q" => q = value.clone(),
            "other" if !value.trim().is_empty() => {
                other = Some(
                    value
                        .trim()
                        .parse()
                        .map_err(|_| AppError::field("other", "must be a contact's ID"))?,
                )
            }
            "take_from_other" => take.push(value.clone()),
            _ => {}
        }
    }
    Ok((q, other, take))
}

pub async fn dialog(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    user.actor.require(user.actor.role.can_delete(), "merge contacts")?;
    let kept_id = path.into_inner();
    let (q, other, take) = dialog_query(&query.into_inner())?;
    let me = user.actor.id;
    let calling_code = state.settings.calling_code;
    let search = q.clone();
    let (kept, found, plan) = state
        .db(move |c| {
            let kept = contacts::get(c, kept_id)?;
            let found = merge::candidates(c, kept_id, &search, me, calling_code)?;
            let plan = match other {
                Some(other) => Some(merge::plan(c, kept_id, other, &take)?),
                None => None,
            };
            Ok((kept, found, plan))
        })
        .await?;
    let preview = plan.map(|p: MergePlan| Preview {
        other_id: p.other.id,
        other_name: p.other.name.clone(),
        chosen: p
            .rows
            .iter()
            .filter(|r| r.choosable && r.from_other)
            .map(|r| r.field.clone())
            .collect(),
        rows: p.rows,
        moving: p.moving,
    });
    let page = DialogPage {
        layout: Layout::new(&user, &session, format!("Merge into {}", kept.name), "contacts"),
        kept_id,
        kept_name: kept.name,
        searched: !q.trim().is_empty(),
        q,
        found: found.iter().map(Found::new).collect(),
        preview,
    };
    Ok(pages::render(&page))
}

pub async fn merge(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    // Who may, before what they sent (as the API does).
    user.actor.require(user.actor.role.can_delete(), "merge contacts")?;
    let kept_id = path.into_inner();
    let (_, other, take) = dialog_query(&form.0)?;
    let other = other.ok_or_else(|| AppError::field("other", "is missing: choose the contact to merge"))?;
    let actor = user.actor.clone();
    let (merged, merge_id) = state
        .db(move |c| merge::merge(c, &actor, kept_id, other, &take))
        .await?;
    pages::flash(
        &session,
        &format!(
            "Merged contact #{other} into {}. Undo it from the merge log (merge #{merge_id}).",
            merged.name
        ),
    );
    Ok(pages::see_other(&format!("/contacts/{kept_id}")))
}

/// A merge log line, ready to print.
pub struct LogLine {
    pub entry: MergeEntry,
    pub when: String,
    pub undone: String,
    pub undoable: bool,
}

#[derive(Template)]
#[template(path = "merges/log.html")]
struct LogPage {
    layout: Layout,
    lines: Vec<LogLine>,
    next_href: Option<String>,
    undo_days: i64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LogQuery {
    before: Option<i32>,
}

const LOG_PAGE: i64 = 50;

pub async fn log(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    query: web::Query<LogQuery>,
) -> Result<HttpResponse, AppError> {
    user.actor.require(user.actor.role.can_delete(), "see the merge log")?;
    let before = query.into_inner().before;
    let entries = state.db(move |c| merge::log(c, before, LOG_PAGE + 1)).await?;
    let tz = state.settings.time_zone;
    let now = Utc::now().naive_utc();
    let more = entries.len() as i64 > LOG_PAGE;
    let lines: Vec<LogLine> = entries
        .into_iter()
        .take(LOG_PAGE as usize)
        .map(|entry| LogLine {
            when: local_time(entry.created_at, tz),
            undone: entry.undone_at.map(|t| local_time(t, tz)).unwrap_or_default(),
            undoable: entry.undoable(now),
            entry,
        })
        .collect();
    let next_href = more
        .then(|| lines.last().map(|l| format!("/merges?before={}", l.entry.id)))
        .flatten();
    let page = LogPage {
        layout: Layout::new(&user, &session, "Merge log", "contacts"),
        lines,
        next_href,
        undo_days: merge::UNDO_DAYS,
    };
    Ok(pages::render(&page))
}

pub async fn undo(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
    _form: CsrfForm<super::auth::Empty>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let actor = user.actor.clone();
    let (kept, restored) = state.db(move |c| merge::undo(c, &actor, id)).await?;
    pages::flash(
        &session,
        &format!(
            "Merge #{id} undone: {} (#{}) is back, and {} has its own values again.",
            restored.name, restored.id, kept.name
        ),
    );
    Ok(pages::see_other("/merges"))
}
