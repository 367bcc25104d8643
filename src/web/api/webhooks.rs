//! `/api/v1/webhooks`: event webhooks, for admins.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::body::{read_object, Given};
use super::{ApiError, ApiUser, ErrorBody};
use crate::service::webhooks::{self, Webhook};
use crate::web::AppState;

type ApiResult = Result<HttpResponse, ApiError>;

/// An event webhook.
#[derive(Serialize, ToSchema)]
pub struct WebhookJson {
    pub id: i32,
    pub url: String,
    /// contact.created, contact.updated, contact.status_changed, contact.merged, contact.deleted.
    pub events: Vec<String>,
    /// Signs each delivery (`X-Leadbook-Signature: sha256=<hex HMAC-SHA256 of the body>`); only in the answer that creates it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl WebhookJson {
    fn new(w: &Webhook, secret: Option<String>) -> Self {
        Self {
            id: w.id,
            url: w.url.clone(),
            events: w.events.clone(),
            secret,
        }
    }
}

/// A webhook to register.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct WebhookWrite {
    url: String,
    events: Vec<String>,
}

#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", operation_id = "list_webhooks",
    responses((status = 200, body = [WebhookJson]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(state: web::Data<AppState>, user: ApiUser) -> ApiResult {
    let actor = user.0;
    let all = state.db(move |c| webhooks::all(c, &actor)).await?;
    Ok(HttpResponse::Ok().json(all.iter().map(|w| WebhookJson::new(w, None)).collect::<Vec<_>>()))
}

#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", operation_id = "create_webhook", request_body = WebhookWrite,
    responses((status = 201, body = WebhookJson), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(state: web::Data<AppState>, user: ApiUser, payload: web::Payload) -> ApiResult {
    let mut body = read_object(payload, state.settings.max_json_kb).await?;
    let url = match body.text("url") {
        Given::Value(u) => u,
        _ => String::new(),
    };
    let events = match body.strings("events") {
        Given::Value(e) => e,
        _ => Vec::new(),
    };
    body.check()?;
    let actor = user.0;
    let (webhook, secret) = state.db(move |c| webhooks::create(c, &actor, &url, &events)).await?;
    Ok(HttpResponse::Created().json(WebhookJson::new(&webhook, Some(secret))))
}

#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", operation_id = "delete_webhook",
    params(("id" = i32, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(state: web::Data<AppState>, user: ApiUser, path: web::Path<i32>) -> ApiResult {
    let id = path.into_inner();
    let actor = user.0;
    state.db(move |c| webhooks::delete(c, &actor, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
