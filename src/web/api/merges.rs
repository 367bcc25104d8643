//! `/api/v1/contacts/{id}/merge` and `/api/v1/merges/{id}/undo`.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::body::{read_object, Given};
use super::contacts::{contact_json, ContactJson};
use super::{ApiError, ApiUser, ErrorBody};
use crate::error::AppError;
use crate::service::merge;
use crate::web::AppState;

type ApiResult = Result<HttpResponse, ApiError>;

/// Which contact to merge into this one, and whose values win.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct MergeWrite {
    /// The contact to merge into this one (B): it is deleted, and what it
    /// had moves to this contact (A).
    other_id: i32,
    /// Fields where B's value should win over A's, by contact JSON name:
    /// `name`, `email`, `phone`, `identifier`, `company`, `city`, `country`,
    /// `status_id`, `owner_id`, `opted_out`, or `custom.<key>`.
    take_from_other: Option<Vec<String>>,
}

/// The merged contact and the merge log's ID (for undo).
#[derive(Serialize, ToSchema)]
pub struct MergedJson {
    pub contact: ContactJson,
    pub merge_id: i32,
}

/// Both contacts after an undo.
#[derive(Serialize, ToSchema)]
pub struct UndoneJson {
    /// The contact that was kept, with its fields given back.
    pub kept: ContactJson,
    /// The merged contact, restored with its original ID.
    pub restored: ContactJson,
}

#[utoipa::path(operation_id = "merge_contacts", post, path = "/api/v1/contacts/{id}/merge", tag = "contacts", params(("id" = i32, Path)), request_body = MergeWrite,
    responses((status = 200, body = MergedJson), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn merge(
    state: web::Data<AppState>,
    user: ApiUser,
    path: web::Path<i32>,
    payload: web::Payload,
) -> ApiResult {
    let id = path.into_inner();
    let actor = user.0;
    // The role is checked before the body is read.
    actor.require(actor.role.can_delete(), "merge contacts")?;
    let mut body = read_object(payload, state.settings.max_json_kb).await?;
    let other = match body.integer("other_id") {
        Given::Value(v) => i32::try_from(v).ok(),
        _ => None,
    };
    let take = match body.strings("take_from_other") {
        Given::Value(v) => v,
        _ => Vec::new(),
    };
    body.check()?;
    let other = other.ok_or_else(|| AppError::field("other_id", "must be the ID of the contact to merge"))?;
    let (contact, merge_id) = state
        .db(move |c| {
            let (merged, merge_id) = merge::merge(c, &actor, id, other, &take)?;
            Ok((contact_json(c, &merged)?, merge_id))
        })
        .await?;
    Ok(HttpResponse::Ok().json(MergedJson { contact, merge_id }))
}

#[utoipa::path(operation_id = "undo_merge", post, path = "/api/v1/merges/{id}/undo", tag = "contacts", params(("id" = i32, Path)),
    responses((status = 200, body = UndoneJson), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn undo(state: web::Data<AppState>, user: ApiUser, path: web::Path<i32>) -> ApiResult {
    let id = path.into_inner();
    let actor = user.0;
    let undone = state
        .db(move |c| {
            let (kept, restored) = merge::undo(c, &actor, id)?;
            Ok(UndoneJson {
                kept: contact_json(c, &kept)?,
                restored: contact_json(c, &restored)?,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(undone))
}
