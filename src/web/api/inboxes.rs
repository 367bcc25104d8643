//! `/api/v1/inboxes…` (connected channels and their incoming messages),
//! a contact's conversations and a conversation's messages.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::body::{read_object, Given, JsonObject};
use super::{authorized, ApiError, ApiUser, Bearer, ErrorBody};
use crate::error::AppError;
use crate::service::contacts;
use crate::service::conversations::{self, ConversationRow, IncomingInput, Message};
use crate::service::inboxes::{self, Delivery, Inbox, InboxInput};
use crate::web::AppState;

type ApiResult = Result<HttpResponse, ApiError>;

/// How an inbox delivers outgoing messages.
#[derive(Serialize, ToSchema)]
pub struct DeliveryJson {
    /// `webhook` or `sandbox`.
    pub kind: String,
    /// The bridge's address, for `webhook`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// An inbox: a connected channel.
#[derive(Serialize, ToSchema)]
pub struct InboxJson {
    pub id: i32,
    #[schema(example = "Sales WhatsApp")]
    pub name: String,
    /// whatsapp, messenger, instagram, email, webchat or sms.
    pub channel: String,
    pub delivery: DeliveryJson,
}

impl From<&Inbox> for InboxJson {
    fn from(i: &Inbox) -> Self {
        Self {
            id: i.id,
            name: i.name.clone(),
            channel: i.channel.as_str().into(),
            delivery: match &i.delivery {
                Delivery::Webhook { url } => DeliveryJson {
                    kind: "webhook".into(),
                    url: Some(url.clone()),
                },
                Delivery::Sandbox => DeliveryJson {
                    kind: "sandbox".into(),
                    url: None,
                },
            },
        }
    }
}

/// An inbox to connect or change.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct InboxWrite {
    name: String,
    channel: String,
    /// `{"kind": "webhook", "url": "http://…"}` or `{"kind": "sandbox"}`.
    #[schema(value_type = Object)]
    delivery: Option<serde_json::Value>,
}

/// An incoming message from a channel bridge.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct IncomingWrite {
    /// The sender's ID in this inbox: its phone on WhatsApp and SMS, its address on e-mail.
    #[schema(example = "+60123456789")]
    source_id: String,
    name: Option<String>,
    body: String,
    email: Option<String>,
    phone: Option<String>,
    /// The bridge's own message ID: the same one again stores nothing.
    external_id: Option<String>,
}

/// What receiving an incoming message did.
#[derive(Serialize, ToSchema)]
pub struct ReceivedJson {
    pub contact_id: i32,
    pub contact_created: bool,
    pub conversation_id: i32,
    pub message_id: i32,
}

/// A conversation.
#[derive(Serialize, ToSchema)]
pub struct ConversationJson {
    pub id: i32,
    pub inbox_id: i32,
    /// open or resolved.
    pub status: String,
    pub unread: i32,
    pub last_message_at: Option<DateTime<Utc>>,
}

impl From<&ConversationRow> for ConversationJson {
    fn from(c: &ConversationRow) -> Self {
        Self {
            id: c.id,
            inbox_id: c.inbox_id,
            status: c.status.clone(),
            unread: c.unread,
            last_message_at: c.last_message_at.map(|t| t.and_utc()),
        }
    }
}

/// A message.
#[derive(Serialize, ToSchema)]
pub struct MessageJson {
    pub id: i32,
    pub conversation_id: i32,
    /// `in` (from the customer) or `out`.
    pub direction: String,
    pub body: String,
    /// Outgoing messages: queued, sent or failed; null for incoming ones.
    pub delivery: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<&Message> for MessageJson {
    fn from(m: &Message) -> Self {
        Self {
            id: m.id,
            conversation_id: m.conversation_id,
            direction: m.direction.clone(),
            body: m.body.clone(),
            delivery: m.delivery.clone(),
            created_at: m.created_at.and_utc(),
        }
    }
}

/// A page of messages, oldest first.
#[derive(Serialize, ToSchema)]
pub struct MessagePage {
    pub data: Vec<MessageJson>,
    pub next_cursor: Option<String>,
}

/// Paging of a conversation's messages.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct MessageParams {
    /// From `next_cursor`.
    cursor: Option<String>,
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

fn text_of(body: &mut JsonObject, key: &str) -> Option<String> {
    match body.text(key) {
        Given::Value(v) => Some(v),
        _ => None,
    }
}

/// Reads an inbox body onto `input` (absent attributes stay).
fn apply_inbox(body: &mut JsonObject, input: &mut InboxInput) {
    if let Some(name) = text_of(body, "name") {
        input.name = name;
    }
    if let Some(channel) = text_of(body, "channel") {
        input.channel = channel;
    }
    match body.object("delivery") {
        Given::Value(map) => {
            input.delivery_kind = map.get("kind").and_then(|v| v.as_str()).unwrap_or("").to_string();
            input.delivery_url = map.get("url").and_then(|v| v.as_str()).unwrap_or("").to_string();
            if map.get("kind").is_some_and(|v| !v.is_string())
                || map.get("url").is_some_and(|v| !v.is_string() && !v.is_null())
            {
                body.errors
                    .entry("delivery".into())
                    .or_default()
                    .push("must be {\"kind\": \"webhook\", \"url\": \"…\"} or {\"kind\": \"sandbox\"}".into());
            }
        }
        Given::Null => {
            input.delivery_kind = "sandbox".into();
            input.delivery_url.clear();
        }
        Given::Absent => {}
    }
}

fn input_of(inbox: &Inbox) -> InboxInput {
    let (kind, url) = match &inbox.delivery {
        Delivery::Webhook { url } => ("webhook", url.clone()),
        Delivery::Sandbox => ("sandbox", String::new()),
    };
    InboxInput {
        name: inbox.name.clone(),
        channel: inbox.channel.as_str().into(),
        delivery_kind: kind.into(),
        delivery_url: url,
    }
}

#[utoipa::path(get, path = "/api/v1/inboxes", tag = "inboxes", operation_id = "list_inboxes",
    responses((status = 200, body = [InboxJson]), (status = 401, body = ErrorBody)))]
pub async fn list(state: web::Data<AppState>, bearer: Bearer) -> ApiResult {
    let all = authorized(&state, bearer, |c, _| inboxes::all(c)).await?;
    Ok(HttpResponse::Ok().json(all.iter().map(InboxJson::from).collect::<Vec<_>>()))
}

#[utoipa::path(post, path = "/api/v1/inboxes", tag = "inboxes", operation_id = "create_inbox", request_body = InboxWrite,
    responses((status = 201, body = InboxJson), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(state: web::Data<AppState>, user: ApiUser, payload: web::Payload) -> ApiResult {
    let mut body = read_object(payload, state.settings.max_json_kb).await?;
    let mut input = InboxInput::default();
    apply_inbox(&mut body, &mut input);
    body.check()?;
    let actor = user.0;
    let inbox = state.db(move |c| inboxes::create(c, &actor, &input)).await?;
    Ok(HttpResponse::Created().json(InboxJson::from(&inbox)))
}

#[utoipa::path(patch, path = "/api/v1/inboxes/{id}", tag = "inboxes", operation_id = "update_inbox",
    params(("id" = i32, Path)), request_body = InboxWrite,
    responses((status = 200, body = InboxJson), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn update(
    state: web::Data<AppState>,
    user: ApiUser,
    path: web::Path<i32>,
    payload: web::Payload,
) -> ApiResult {
    let id = path.into_inner();
    let mut body = read_object(payload, state.settings.max_json_kb).await?;
    let actor = user.0;
    let inbox = state
        .db(move |c| {
            actor.require(actor.role == crate::service::users::Role::Admin, "change inboxes")?;
            let mut input = input_of(&inboxes::get(c, id)?);
            apply_inbox(&mut body, &mut input);
            body.check().map_err(|e| e.0)?;
            inboxes::update(c, &actor, id, &input)
        })
        .await?;
    Ok(HttpResponse::Ok().json(InboxJson::from(&inbox)))
}

#[utoipa::path(delete, path = "/api/v1/inboxes/{id}", tag = "inboxes", operation_id = "delete_inbox",
    params(("id" = i32, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(state: web::Data<AppState>, user: ApiUser, path: web::Path<i32>) -> ApiResult {
    let id = path.into_inner();
    let actor = user.0;
    state.db(move |c| inboxes::delete(c, &actor, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/api/v1/inboxes/{id}/messages", tag = "inboxes", operation_id = "receive_message",
    params(("id" = i32, Path)), request_body = IncomingWrite,
    responses((status = 201, body = ReceivedJson, description = "Stored"),
              (status = 200, body = ReceivedJson, description = "This external_id was received before; nothing stored"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn receive(
    state: web::Data<AppState>,
    _user: ApiUser,
    path: web::Path<i32>,
    payload: web::Payload,
) -> ApiResult {
    let inbox_id = path.into_inner();
    let mut body = read_object(payload, state.settings.max_json_kb).await?;
    let input = IncomingInput {
        source_id: text_of(&mut body, "source_id").unwrap_or_default(),
        name: text_of(&mut body, "name"),
        body: text_of(&mut body, "body").unwrap_or_default(),
        email: text_of(&mut body, "email"),
        phone: text_of(&mut body, "phone"),
        external_id: text_of(&mut body, "external_id"),
    };
    body.check()?;
    let country = state.settings.default_country;
    let received = state
        .db(move |c| conversations::receive(c, inbox_id, &input, country))
        .await?;
    let json = ReceivedJson {
        contact_id: received.contact_id,
        contact_created: received.contact_created,
        conversation_id: received.conversation_id,
        message_id: received.message_id,
    };
    Ok(if received.repeated {
        HttpResponse::Ok().json(json)
    } else {
        HttpResponse::Created().json(json)
    })
}

#[utoipa::path(get, path = "/api/v1/contacts/{id}/conversations", tag = "conversations", params(("id" = i32, Path)),
    responses((status = 200, body = [ConversationJson]), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn of_contact(state: web::Data<AppState>, bearer: Bearer, path: web::Path<i32>) -> ApiResult {
    let id = path.into_inner();
    let all = authorized(&state, bearer, move |c, _| {
        contacts::get(c, id)?;
        conversations::of_contact(c, id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(all.iter().map(ConversationJson::from).collect::<Vec<_>>()))
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}/messages", tag = "conversations",
    params(("id" = i32, Path), MessageParams),
    responses((status = 200, body = MessagePage), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn messages(state: web::Data<AppState>, bearer: Bearer, path: web::Path<i32>, req: HttpRequest) -> ApiResult {
    let id = path.into_inner();
    let mut limit = 50usize;
    let mut after = None;
    let mut problem = None;
    for (key, value) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        match key.as_ref() {
            "limit" => match value.trim().parse::<usize>() {
                Ok(n) if (1..=200).contains(&n) => limit = n,
                _ => problem = Some(AppError::field("limit", "must be a whole number from 1 to 200")),
            },
            "cursor" => match value.trim().parse::<i32>() {
                Ok(n) if n >= 0 => after = Some(n),
                _ => problem = Some(AppError::field("cursor", "is not a cursor this API gave")),
            },
            _ => {}
        }
    }
    let page = authorized(&state, bearer, move |c, _| {
        if let Some(problem) = problem {
            return Err(problem);
        }
        conversations::messages_of(c, id, after, limit + 1)
    })
    .await?;
    let more = page.len() > limit;
    let data: Vec<MessageJson> = page.iter().take(limit).map(MessageJson::from).collect();
    let next_cursor = if more {
        data.last().map(|m| m.id.to_string())
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(MessagePage { data, next_cursor }))
}

#[utoipa::path(get, path = "/api/v1/messages/{id}", tag = "conversations", params(("id" = i32, Path)),
    responses((status = 200, body = MessageJson), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn message(state: web::Data<AppState>, bearer: Bearer, path: web::Path<i32>) -> ApiResult {
    let id = path.into_inner();
    let m = authorized(&state, bearer, move |c, _| conversations::message(c, id)).await?;
    Ok(HttpResponse::Ok().json(MessageJson::from(&m)))
}

/// A message to send.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SendWrite {
    inbox_id: i32,
    body: String,
}

/// A queued outgoing message.
#[derive(Serialize, ToSchema)]
pub struct SentJson {
    pub conversation_id: i32,
    pub message_id: i32,
    pub conversation_created: bool,
    /// Always `queued`: delivery happens in the background (see `GET /messages/{id}`).
    pub delivery: String,
}

#[utoipa::path(post, path = "/api/v1/contacts/{id}/messages", tag = "conversations", operation_id = "send_message",
    params(("id" = i32, Path)), request_body = SendWrite,
    responses((status = 201, body = SentJson), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "opted_out or reply_window_closed"),
              (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn send(state: web::Data<AppState>, user: ApiUser, path: web::Path<i32>, payload: web::Payload) -> ApiResult {
    let contact_id = path.into_inner();
    let mut body = read_object(payload, state.settings.max_json_kb).await?;
    let inbox_id = match body.integer("inbox_id") {
        Given::Value(id) => i32::try_from(id).unwrap_or(-1),
        _ => {
            body.errors
                .entry("inbox_id".into())
                .or_default()
                .push("is required".into());
            -1
        }
    };
    let text = text_of(&mut body, "body").unwrap_or_default();
    body.check()?;
    let actor = user.0;
    let sent = state
        .db(move |c| crate::service::messaging::send(c, &actor, contact_id, inbox_id, &text))
        .await?;
    state.delivery.notify_one();
    Ok(HttpResponse::Created().json(SentJson {
        conversation_id: sent.conversation_id,
        message_id: sent.message_id,
        conversation_created: sent.conversation_created,
        delivery: "queued".into(),
    }))
}
