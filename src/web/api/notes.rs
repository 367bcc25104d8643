//! `/api/v1/contacts/{id}/notes` and `/api/v1/notes/{id}`.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::body::{read_object, Given};
use super::{authorized, ApiError, ApiUser, Bearer, ErrorBody};
use crate::service::contacts;
use crate::service::notes::{self, Note};
use crate::web::AppState;

type ApiResult = Result<HttpResponse, ApiError>;

/// A note, logged call or meeting.
#[derive(Serialize, ToSchema)]
pub struct NoteJson {
    pub id: i32,
    pub contact_id: i32,
    /// note, call or meeting.
    #[schema(example = "call")]
    pub kind: String,
    pub body: String,
    /// Null when the author's account was removed.
    pub author_id: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Note> for NoteJson {
    fn from(n: &Note) -> Self {
        Self {
            id: n.id,
            contact_id: n.contact_id,
            kind: n.kind().as_str().into(),
            body: n.body.clone(),
            author_id: n.author_id,
            created_at: n.created_at.and_utc(),
            updated_at: n.updated_at.and_utc(),
        }
    }
}

/// A note to write.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct NoteWrite {
    /// note (default), call or meeting. A call or meeting moves the
    /// contact's `last_activity_at`.
    kind: Option<String>,
    body: String,
}

/// Reads `kind` and `body`; on PATCH, what is absent stays as `current`.
async fn read_note(
    state: &AppState,
    payload: web::Payload,
    current: Option<(String, String)>,
) -> Result<(String, String), ApiError> {
    let mut body = read_object(payload, state.settings.max_json_kb).await?;
    let (mut kind, mut text) = current.unwrap_or_default();
    match body.text("kind") {
        Given::Value(k) => kind = k,
        Given::Null => kind.clear(),
        Given::Absent => {}
    }
    match body.text("body") {
        Given::Value(b) => text = b,
        Given::Null => text.clear(),
        Given::Absent => {}
    }
    body.check()?;
    Ok((kind, text))
}

#[utoipa::path(operation_id = "list_notes", get, path = "/api/v1/contacts/{id}/notes", tag = "notes", params(("id" = i32, Path)),
    responses((status = 200, body = [NoteJson], description = "Newest first"), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn list(state: web::Data<AppState>, bearer: Bearer, path: web::Path<i32>) -> ApiResult {
    let id = path.into_inner();
    let all = authorized(&state, bearer, move |c, _| {
        contacts::get(c, id)?;
        notes::of_contact(c, id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(all.iter().map(NoteJson::from).collect::<Vec<_>>()))
}

#[utoipa::path(operation_id = "create_note", post, path = "/api/v1/contacts/{id}/notes", tag = "notes", params(("id" = i32, Path)), request_body = NoteWrite,
    responses((status = 201, body = NoteJson), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    user: ApiUser,
    path: web::Path<i32>,
    payload: web::Payload,
) -> ApiResult {
    let id = path.into_inner();
    let (kind, body) = read_note(&state, payload, None).await?;
    let actor = user.0;
    let note = state.db(move |c| notes::add(c, &actor, id, &kind, &body)).await?;
    Ok(HttpResponse::Created().json(NoteJson::from(&note)))
}

#[utoipa::path(operation_id = "update_note", patch, path = "/api/v1/notes/{id}", tag = "notes", params(("id" = i32, Path)), request_body = NoteWrite,
    responses((status = 200, body = NoteJson), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn update(
    state: web::Data<AppState>,
    user: ApiUser,
    path: web::Path<i32>,
    payload: web::Payload,
) -> ApiResult {
    let id = path.into_inner();
    let actor = user.0;
    // Who may change it is checked before the body is read.
    let current = state
        .db({
            let actor = actor.clone();
            move |c| {
                let note = notes::get(c, id)?;
                actor.require(note.editable_by(&actor), "change another person's note")?;
                Ok((note.kind, note.body))
            }
        })
        .await?;
    let (kind, body) = read_note(&state, payload, Some(current)).await?;
    let note = state.db(move |c| notes::update(c, &actor, id, &kind, &body)).await?;
    Ok(HttpResponse::Ok().json(NoteJson::from(&note)))
}

#[utoipa::path(operation_id = "delete_note", delete, path = "/api/v1/notes/{id}", tag = "notes", params(("id" = i32, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(state: web::Data<AppState>, user: ApiUser, path: web::Path<i32>) -> ApiResult {
    let id = path.into_inner();
    let actor = user.0;
    state.db(move |c| notes::delete(c, &actor, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
