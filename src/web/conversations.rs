//! Conversations: the list (unread first), the conversation window with its
//! reply box and contact panel, and "Send message" from a contact's page.

use actix_session::Session;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::auth::{CsrfForm, CurrentUser, Empty};
use super::pages::{self, local_time, relative_time, Layout};
use super::AppState;
use crate::error::AppError;
use crate::service::conversations::{self, ConversationListed};
use crate::service::inboxes::{self, Channel, Inbox};
use crate::service::{contacts, messaging};

/// A conversation row as pages show it.
pub struct ConversationView {
    pub id: i32,
    pub contact_id: i32,
    pub contact_name: String,
    pub inbox_name: String,
    pub channel: String,
    pub open: bool,
    pub unread: i32,
    pub last: String,
    pub last_exact: String,
    /// For WhatsApp: whether a free-form reply is allowed now.
    pub window: Option<bool>,
}

impl ConversationView {
    pub fn new(c: &ConversationListed, tz: chrono_tz::Tz) -> Self {
        let channel = Channel::parse(&c.channel).unwrap_or(Channel::WebChat);
        Self {
            id: c.id,
            contact_id: c.contact_id,
            contact_name: c.contact_name.clone(),
            inbox_name: c.inbox_name.clone(),
            channel: channel.label().into(),
            open: c.status == "open",
            unread: c.unread,
            last: c.last_message_at.map(relative_time).unwrap_or_default(),
            last_exact: c.last_message_at.map(|t| local_time(t, tz)).unwrap_or_default(),
            window: (channel == Channel::WhatsApp)
                .then(|| messaging::window_open(c.last_incoming_at, chrono::Utc::now().naive_utc())),
        }
    }
}

#[derive(Template)]
#[template(path = "conversations/list.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<ConversationView>,
}

pub async fn list(state: web::Data<AppState>, user: CurrentUser, session: Session) -> Result<HttpResponse, AppError> {
    let tz = state.settings.time_zone;
    let rows = state.db(|c| conversations::open_list(c, 200)).await?;
    Ok(pages::render(&ListPage {
        layout: Layout::new(&user, &session, "Conversations", "conversations"),
        rows: rows.iter().map(|r| ConversationView::new(r, tz)).collect(),
    }))
}

/// A message in the window.
pub struct MessageView {
    pub incoming: bool,
    pub body: String,
    pub delivery: String,
    pub when: String,
    pub when_exact: String,
}

#[derive(Template)]
#[template(path = "conversations/show.html")]
struct WindowPage {
    layout: Layout,
    c: ConversationView,
    messages: Vec<MessageView>,
    phone: String,
    email: String,
    status: crate::service::status::LeadStatus,
}

/// How many of a conversation's latest messages the window shows.
const WINDOW_MESSAGES: usize = 200;

pub async fn show(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let tz = state.settings.time_zone;
    let (listed, messages, contact, unread) = state
        .db(move |c| {
            let listed = conversations::read(c, id)?;
            let messages = conversations::latest_messages(c, id, WINDOW_MESSAGES)?;
            let contact = contacts::get(c, listed.contact_id)?;
            // Counted again after `read`: the menu must not show as unread
            // the conversation this very page opens.
            let unread = if listed.unread > 0 {
                Some(conversations::unread_total(c)?)
            } else {
                None
            };
            Ok((listed, messages, contact, unread))
        })
        .await?;
    let messages = messages
        .iter()
        .map(|m| MessageView {
            incoming: m.direction == "in",
            body: m.body.clone(),
            delivery: m.delivery.clone().unwrap_or_default(),
            when: relative_time(m.created_at),
            when_exact: local_time(m.created_at, tz),
        })
        .collect();
    let mut layout = Layout::new(
        &user,
        &session,
        format!("{} · {}", contact.name, listed.inbox_name),
        "conversations",
    );
    if let Some(unread) = unread {
        layout.unread = unread;
    }
    let page = WindowPage {
        layout,
        c: ConversationView::new(&listed, tz),
        messages,
        phone: contact.phone.clone().unwrap_or_default(),
        email: contact.email.clone().unwrap_or_default(),
        status: contact.status(),
    };
    Ok(pages::render(&page))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ReplyInput {
    body: String,
}

/// `POST /conversations/{id}/messages`: a reply, queued for delivery.
pub async fn reply(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
    form: CsrfForm<ReplyInput>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let actor = user.actor.clone();
    let body = form.0.body;
    let sent = state
        .db(move |c| {
            let conversation = conversations::get(c, id)?;
            messaging::send(c, &actor, conversation.contact_id, conversation.inbox_id, &body)
        })
        .await?;
    state.delivery.notify_one();
    pages::flash(&session, "Message queued for delivery");
    Ok(pages::see_other(&format!("/conversations/{}", sent.conversation_id)))
}

pub async fn resolve(
    state: web::Data<AppState>,
    _user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
    _form: CsrfForm<Empty>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    state.db(move |c| conversations::resolve(c, id)).await?;
    pages::flash(&session, "Conversation resolved");
    Ok(pages::see_other(&format!("/conversations/{id}")))
}

#[derive(Template)]
#[template(path = "conversations/new.html")]
struct NewMessagePage {
    layout: Layout,
    contact_id: i32,
    contact_name: String,
    inboxes: Vec<Inbox>,
    inbox: i32,
    body: String,
    error: Option<String>,
}

pub async fn new_message(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let (contact, inboxes) = state.db(move |c| Ok((contacts::get(c, id)?, inboxes::all(c)?))).await?;
    Ok(pages::render(&NewMessagePage {
        layout: Layout::new(&user, &session, format!("Message {}", contact.name), "contacts"),
        contact_id: id,
        contact_name: contact.name,
        inbox: inboxes.first().map_or(0, |i| i.id),
        inboxes,
        body: String::new(),
        error: None,
    }))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SendInput {
    inbox: String,
    body: String,
}

/// `POST /contacts/{id}/messages`: into the open conversation in that inbox,
/// or a new one; then to the conversation window.
pub async fn send(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
    form: CsrfForm<SendInput>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let SendInput { inbox, body } = form.0;
    let inbox_id: i32 = inbox.trim().parse().unwrap_or(-1);
    let actor = user.actor.clone();
    let text = body.clone();
    match state.db(move |c| messaging::send(c, &actor, id, inbox_id, &text)).await {
        Ok(sent) => {
            state.delivery.notify_one();
            pages::flash(&session, "Message queued for delivery");
            Ok(pages::see_other(&format!("/conversations/{}", sent.conversation_id)))
        }
        Err(e @ (AppError::Validation { .. } | AppError::OptedOut(_) | AppError::ReplyWindowClosed(_))) => {
            let status = actix_web::ResponseError::status_code(&e);
            let (contact, inboxes) = state.db(move |c| Ok((contacts::get(c, id)?, inboxes::all(c)?))).await?;
            let page = NewMessagePage {
                layout: Layout::new(&user, &session, format!("Message {}", contact.name), "contacts"),
                contact_id: id,
                contact_name: contact.name,
                inboxes,
                inbox: inbox_id,
                body,
                error: Some(e.to_string()),
            };
            Ok(pages::render_with(status, &page))
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct OptOutInput {
    inbox: String,
    out: String,
}

/// `POST /contacts/{id}/opt-outs`: the contact does not want messages from
/// one inbox (`out=1`), or wants them again (`out=0`).
pub async fn opt_out(
    state: web::Data<AppState>,
    _user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
    form: CsrfForm<OptOutInput>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let inbox: i32 = form
        .0
        .inbox
        .trim()
        .parse()
        .map_err(|_| AppError::field("inbox", "is not an inbox"))?;
    let out = form.0.out.trim() == "1";
    state
        .db(move |c| messaging::set_inbox_opt_out(c, id, inbox, out))
        .await?;
    pages::flash(
        &session,
        if out {
            "Opted out of that inbox"
        } else {
            "Messages from that inbox allowed again"
        },
    );
    Ok(pages::see_other(&format!("/contacts/{id}#conversations")))
}
