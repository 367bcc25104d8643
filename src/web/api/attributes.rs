//! `/api/v1/custom_attributes…`, `/api/v1/labels` and a contact's labels.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::body::{read_object, Given, JsonObject};
use super::contacts::{contact_json, ContactJson};
use super::{authorized, ApiError, ApiUser, Bearer, ErrorBody};
use crate::service::attributes::{self, Definition, DefinitionInput};
use crate::service::labels::{self, Label};
use crate::web::AppState;

type ApiResult = Result<HttpResponse, ApiError>;

/// A custom attribute's definition.
#[derive(Serialize, ToSchema)]
pub struct AttributeJson {
    /// Letters, digits, `_ . -`; never a standard attribute's name.
    #[schema(example = "plan")]
    pub key: String,
    #[schema(example = "Plan")]
    pub display_name: String,
    pub description: String,
    /// text, number, date, link, boolean or list.
    #[serde(rename = "type")]
    #[schema(example = "list")]
    pub kind: String,
    /// The choices of a list attribute; empty for other types.
    pub options: Vec<String>,
    /// Display order, smallest first.
    pub position: i32,
}

impl From<&Definition> for AttributeJson {
    fn from(d: &Definition) -> Self {
        Self {
            key: d.key.clone(),
            display_name: d.display_name.clone(),
            description: d.description.clone(),
            kind: d.kind.as_str().into(),
            options: d.options.clone(),
            position: d.position,
        }
    }
}

/// A changed definition, with how many contacts' values were converted to
/// a new type.
#[derive(Serialize, ToSchema)]
pub struct AttributeChanged {
    #[serde(flatten)]
    pub attribute: AttributeJson,
    pub converted_values: usize,
}

/// What a client sends to define or change a custom attribute.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AttributeWrite {
    /// Required on create; cannot change afterwards.
    key: Option<String>,
    display_name: Option<String>,
    description: Option<String>,
    /// text, number, date, link, boolean or list.
    #[schema(rename = "type")]
    kind: Option<String>,
    options: Option<Vec<String>>,
    position: Option<i32>,
}

/// A label.
#[derive(Serialize, ToSchema)]
pub struct LabelJson {
    pub id: i32,
    #[schema(example = "vip")]
    pub name: String,
    #[schema(example = "#d4a017")]
    pub color: String,
}

impl From<&Label> for LabelJson {
    fn from(l: &Label) -> Self {
        Self {
            id: l.id,
            name: l.name.clone(),
            color: l.color.clone(),
        }
    }
}

/// A label to define.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LabelWrite {
    name: String,
    /// `#rrggbb`; grey when left out.
    color: Option<String>,
}

/// A contact's full set of labels.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LabelSet {
    labels: Vec<String>,
}

/// Fills a definition input from a body; absent attributes keep `input`'s values.
fn apply_definition(body: &mut JsonObject, input: &mut DefinitionInput) {
    for (key, slot) in [
        ("key", &mut input.key),
        ("display_name", &mut input.display_name),
        ("description", &mut input.description),
        ("type", &mut input.kind),
    ] {
        match body.text(key) {
            Given::Value(v) => *slot = v,
            Given::Null => slot.clear(),
            Given::Absent => {}
        }
    }
    match body.strings("options") {
        Given::Value(v) => input.options = v,
        Given::Null => input.options.clear(),
        Given::Absent => {}
    }
    match body.integer("position") {
        Given::Value(p) => match i32::try_from(p) {
            Ok(p) => input.position = Some(p),
            Err(_) => {
                body.errors
                    .entry("position".into())
                    .or_default()
                    .push("is out of range".into());
            }
        },
        Given::Null => input.position = None,
        Given::Absent => {}
    }
}

#[utoipa::path(operation_id = "list_custom_attributes", get, path = "/api/v1/custom_attributes", tag = "custom attributes",
    responses((status = 200, body = [AttributeJson]), (status = 401, body = ErrorBody)))]
pub async fn list(state: web::Data<AppState>, bearer: Bearer) -> ApiResult {
    let all = authorized(&state, bearer, |c, _| attributes::definitions(c)).await?;
    Ok(HttpResponse::Ok().json(all.iter().map(AttributeJson::from).collect::<Vec<_>>()))
}

#[utoipa::path(operation_id = "create_custom_attribute", post, path = "/api/v1/custom_attributes", tag = "custom attributes", request_body = AttributeWrite,
    responses((status = 201, body = AttributeJson), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(state: web::Data<AppState>, user: ApiUser, payload: web::Payload) -> ApiResult {
    let mut body = read_object(payload, state.settings.max_json_kb).await?;
    let mut input = DefinitionInput::default();
    apply_definition(&mut body, &mut input);
    body.check()?;
    let actor = user.0;
    let def = state.db(move |c| attributes::create(c, &actor, &input)).await?;
    Ok(HttpResponse::Created().json(AttributeJson::from(&def)))
}

#[utoipa::path(operation_id = "update_custom_attribute", patch, path = "/api/v1/custom_attributes/{key}", tag = "custom attributes",
    params(("key" = String, Path)), request_body = AttributeWrite,
    responses((status = 200, body = AttributeChanged), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    state: web::Data<AppState>,
    user: ApiUser,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult {
    let key = path.into_inner();
    let mut body = read_object(payload, state.settings.max_json_kb).await?;
    let actor = user.0;
    let (def, conversion) = state
        .db(move |c| {
            actor.require(
                actor.role == crate::service::users::Role::Admin,
                "change custom attributes",
            )?;
            let before = attributes::by_key(c, &key)?;
            let mut input = DefinitionInput {
                key: before.key.clone(),
                display_name: before.display_name.clone(),
                description: before.description.clone(),
                kind: before.kind.as_str().into(),
                options: before.options.clone(),
                position: Some(before.position),
            };
            apply_definition(&mut body, &mut input);
            body.check().map_err(|e| e.0)?;
            attributes::update(c, &actor, before.id, &input)
        })
        .await?;
    Ok(HttpResponse::Ok().json(AttributeChanged {
        attribute: AttributeJson::from(&def),
        converted_values: conversion.converted,
    }))
}

#[utoipa::path(operation_id = "delete_custom_attribute", delete, path = "/api/v1/custom_attributes/{key}", tag = "custom attributes",
    params(("key" = String, Path)),
    responses((status = 204, description = "Deleted, with every value contacts held"), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(state: web::Data<AppState>, user: ApiUser, path: web::Path<String>) -> ApiResult {
    let key = path.into_inner();
    let actor = user.0;
    state
        .db(move |c| {
            actor.require(
                actor.role == crate::service::users::Role::Admin,
                "delete custom attributes",
            )?;
            let def = attributes::by_key(c, &key)?;
            attributes::delete(c, &actor, def.id)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/api/v1/labels", tag = "labels",
    responses((status = 200, body = [LabelJson]), (status = 401, body = ErrorBody)))]
pub async fn labels(state: web::Data<AppState>, bearer: Bearer) -> ApiResult {
    let all = authorized(&state, bearer, |c, _| labels::all(c)).await?;
    Ok(HttpResponse::Ok().json(all.iter().map(LabelJson::from).collect::<Vec<_>>()))
}

#[utoipa::path(post, path = "/api/v1/labels", tag = "labels", request_body = LabelWrite,
    responses((status = 201, body = LabelJson), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_label(state: web::Data<AppState>, user: ApiUser, payload: web::Payload) -> ApiResult {
    let mut body = read_object(payload, state.settings.max_json_kb).await?;
    let name = match body.text("name") {
        Given::Value(n) => n,
        _ => String::new(),
    };
    let color = match body.text("color") {
        Given::Value(c) => c,
        _ => String::new(),
    };
    body.check()?;
    let actor = user.0;
    let label = state.db(move |c| labels::create(c, &actor, &name, &color)).await?;
    Ok(HttpResponse::Created().json(LabelJson::from(&label)))
}

#[utoipa::path(post, path = "/api/v1/contacts/{id}/labels", tag = "labels", params(("id" = i32, Path)),
    request_body = LabelSet,
    responses((status = 200, body = ContactJson), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_contact_labels(
    state: web::Data<AppState>,
    _user: ApiUser,
    path: web::Path<i32>,
    payload: web::Payload,
) -> ApiResult {
    let id = path.into_inner();
    let mut body = read_object(payload, state.settings.max_json_kb).await?;
    let names = match body.strings("labels") {
        Given::Value(v) => v,
        Given::Null => Vec::new(),
        Given::Absent => {
            body.errors
                .entry("labels".into())
                .or_default()
                .push("is required (the full set of label names)".into());
            Vec::new()
        }
    };
    body.check()?;
    let contact = state
        .db(move |c| {
            labels::set_for_contact(c, id, &names)?;
            let contact = crate::service::contacts::get(c, id)?;
            contact_json(c, &contact)
        })
        .await?;
    Ok(HttpResponse::Ok().json(contact))
}
