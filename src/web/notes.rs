//! What anyone does on a contact's page besides editing it: notes, logged
//! calls and meetings, and its labels.

use actix_session::Session;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::auth::{CsrfForm, CurrentUser, Empty};
use super::pages::{self, Layout};
use super::AppState;
use crate::error::AppError;
use crate::service::labels;
use crate::service::notes::{self, NoteKind};

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NoteInput {
    kind: String,
    body: String,
}

pub async fn add(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
    form: CsrfForm<NoteInput>,
) -> Result<HttpResponse, AppError> {
    let contact_id = path.into_inner();
    let NoteInput { kind, body } = form.0;
    let actor = user.actor.clone();
    let note = state
        .db(move |c| notes::add(c, &actor, contact_id, &kind, &body))
        .await?;
    pages::flash(&session, &format!("{} added", note.kind().label()));
    Ok(pages::see_other(&format!("/contacts/{contact_id}#notes")))
}

#[derive(Template)]
#[template(path = "notes/edit.html")]
struct EditPage {
    layout: Layout,
    id: i32,
    contact_id: i32,
    kind: NoteKind,
    body: String,
    errors: pages::FormErrors,
}

impl EditPage {
    fn kinds(&self) -> [NoteKind; 3] {
        NoteKind::ALL
    }
}

pub async fn edit_form(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let note = state.db(move |c| notes::get(c, id)).await?;
    user.actor
        .require(note.editable_by(&user.actor), "change another person's note")?;
    Ok(pages::render(&EditPage {
        layout: Layout::new(&user, &session, "Edit note", "contacts"),
        id,
        contact_id: note.contact_id,
        kind: note.kind(),
        body: note.body,
        errors: pages::FormErrors::default(),
    }))
}

pub async fn update(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
    form: CsrfForm<NoteInput>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let NoteInput { kind, body } = form.0;
    let actor = user.actor.clone();
    let (kind_in, body_in) = (kind.clone(), body.clone());
    match state
        .db(move |c| notes::update(c, &actor, id, &kind_in, &body_in))
        .await
    {
        Ok(note) => {
            pages::flash(&session, "Note saved");
            Ok(pages::see_other(&format!("/contacts/{}#notes", note.contact_id)))
        }
        Err(AppError::Validation { fields, .. }) => {
            let note = state.db(move |c| notes::get(c, id)).await?;
            let page = EditPage {
                layout: Layout::new(&user, &session, "Edit note", "contacts"),
                id,
                contact_id: note.contact_id,
                kind: NoteKind::parse(&kind).unwrap_or(NoteKind::Note),
                body,
                errors: pages::FormErrors(fields),
            };
            Ok(pages::render_with(
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                &page,
            ))
        }
        Err(e) => Err(e),
    }
}

pub async fn delete(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
    _form: CsrfForm<Empty>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let actor = user.actor.clone();
    let deleted = state.db(move |c| notes::delete(c, &actor, id)).await?;
    let contact_id = deleted.contact_id;
    // The note is kept whole in this user's session (stored server-side,
    // never in the cookie), so the notice can offer to put it back.
    let _ = session.insert(UNDO_NOTE_KEY, &deleted);
    pages::flash_with_undo(&session, "Note deleted", "Undo", "/notes/undo");
    // The page's top, not `#notes`: the notice with its Undo is up there.
    Ok(pages::see_other(&format!("/contacts/{contact_id}")))
}

/// Where the last deleted note waits for its undo.
const UNDO_NOTE_KEY: &str = "undo_note";

/// `POST /notes/undo`: writes back the note this user deleted last.
pub async fn undo_delete(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    _form: CsrfForm<Empty>,
) -> Result<HttpResponse, AppError> {
    let Some(deleted) = session.get::<notes::DeletedNote>(UNDO_NOTE_KEY).ok().flatten() else {
        pages::flash_error(&session, "There is no deleted note to put back.");
        return Ok(pages::see_other("/contacts"));
    };
    let actor = user.actor.clone();
    let contact_id = state.db(move |c| notes::restore(c, &actor, &deleted)).await?;
    session.remove(UNDO_NOTE_KEY);
    pages::flash(&session, "Note restored");
    Ok(pages::see_other(&format!("/contacts/{contact_id}#notes")))
}

/// `POST /contacts/{id}/labels`: the form's checked `label` fields are the
/// contact's new set.
pub async fn set_labels(
    state: web::Data<AppState>,
    _user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let contact_id = path.into_inner();
    let names: Vec<String> = form
        .0
        .into_iter()
        .filter(|(k, v)| k == "label" && !v.trim().is_empty())
        .map(|(_, v)| v)
        .collect();
    state
        .db(move |c| labels::set_for_contact(c, contact_id, &names))
        .await?;
    pages::flash(&session, "Labels saved");
    Ok(pages::see_other(&format!("/contacts/{contact_id}")))
}
