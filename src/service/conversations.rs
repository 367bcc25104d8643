//! Conversations and incoming messages: how the contact list fills up by
//! itself when customers write in (docs/decisions.md, "Inboxes, conversations and messages").

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use phonenumber::country::Id as CountryId;

use super::contact_fields::{check_plain, ContactName, Email, Phone};
use super::inboxes::{self, Channel, Inbox};
use super::status::{LeadStatus, StatusSource};
use crate::db::schema::{contact_identities, contacts, conversations, messages, status_history};
use crate::db::{write_transaction, AnyConnection};
use crate::error::{AppError, FieldErrors};

/// WhatsApp's longest text message, and a sane bound for every channel.
pub const MAX_BODY: usize = 4096;

/// An incoming message as the channel bridge sends it.
#[derive(Debug, Clone, Default)]
pub struct IncomingInput {
    pub source_id: String,
    pub name: Option<String>,
    pub body: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub external_id: Option<String>,
}

/// A checked incoming message for one inbox.
#[derive(Debug, Clone)]
struct Incoming {
    source_id: String,
    name: Option<String>,
    body: String,
    email: Option<String>,
    phone: Option<String>,
    external_id: Option<String>,
}

/// What receiving a message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub contact_id: i32,
    pub contact_created: bool,
    pub conversation_id: i32,
    pub message_id: i32,
    /// The same `external_id` was received before: nothing was stored.
    pub repeated: bool,
}

fn check(inbox: &Inbox, input: &IncomingInput, country: CountryId) -> Result<Incoming, AppError> {
    let mut errors = FieldErrors::new();
    let mut fail = |f: &str, m: String| errors.entry(f.to_string()).or_default().push(m);
    let raw_source = input.source_id.trim();
    // The sender ID's shape depends on the channel: a phone number on
    // WhatsApp and SMS (stored in E.164), an address for e-mail.
    let source_id = if raw_source.is_empty() {
        fail("source_id", "is required".into());
        String::new()
    } else if inbox.channel.is_phone() {
        Phone::parse(raw_source, country)
            .map(Phone::into_inner)
            .unwrap_or_else(|_| {
                fail(
                    "source_id",
                    format!("must be a phone number on {}", inbox.channel.label()),
                );
                String::new()
            })
    } else if inbox.channel == Channel::Email {
        Email::parse(raw_source).map(Email::into_inner).unwrap_or_else(|e| {
            fail("source_id", format!("{e} (an e-mail inbox's sender is an address)"));
            String::new()
        })
    } else if raw_source.chars().count() > 255 || check_plain(raw_source).is_err() {
        fail("source_id", "must be one line of at most 255 characters".into());
        String::new()
    } else {
        raw_source.to_string()
    };
    let name = match input.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => ContactName::parse(n).map(|n| Some(n.into_inner())).unwrap_or_else(|e| {
            fail("name", e);
            None
        }),
        None => None,
    };
    let body = input.body.trim().to_string();
    let len = body.chars().count();
    if body.is_empty() {
        fail("body", "is required".into());
    } else if len > MAX_BODY {
        fail("body", format!("is too long ({len} characters; at most {MAX_BODY})"));
    } else if body.contains(|c: char| c.is_control() && !"\n\r\t".contains(c)) {
        fail("body", "contains characters that are not allowed".into());
    }
    let email = match input.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        Some(e) => Email::parse(e).map(|e| Some(e.into_inner())).unwrap_or_else(|m| {
            fail("email", m);
            None
        }),
        None => None,
    };
    let phone = match input.phone.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => Phone::parse(p, country)
            .map(|p| Some(p.into_inner()))
            .unwrap_or_else(|m| {
                fail("phone", m);
                None
            }),
        None => None,
    };
    let external_id = match input.external_id.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        Some(e) if e.chars().count() > 255 || check_plain(e).is_err() => {
            fail("external_id", "must be one line of at most 255 characters".into());
            None
        }
        other => other.map(str::to_string),
    };
    if !errors.is_empty() {
        return Err(AppError::invalid(errors));
    }
    Ok(Incoming {
        source_id,
        name,
        body: body.replace("\r\n", "\n"),
        email,
        phone,
        external_id,
    })
}

/// Inside `receive`'s transaction: a unique index refused a row that a
/// concurrent delivery wrote first, so the whole receipt runs again and
/// finds that row.
enum Attempt {
    Race,
    Failed(AppError),
}

impl From<DieselError> for Attempt {
    fn from(e: DieselError) -> Self {
        match e {
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => Self::Race,
            // A merge moved the sender's identity and deleted the contact it
            // pointed to after this receipt read it (PostgreSQL reads
            // committed rows): run again, and find the kept contact.
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => Self::Race,
            other => match AppError::from(other) {
                // A deadlock with a merge of the same contact: run again.
                AppError::Contended(_) => Self::Race,
                e => Self::Failed(e),
            },
        }
    }
}

impl From<AppError> for Attempt {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Contended(_) => Self::Race,
            e => Self::Failed(e),
        }
    }
}

/// Receives one incoming message in `inbox_id`: finds or creates its sender,
/// finds or opens the conversation, stores the message, and moves the
/// contact's `last_activity_at`. All in one transaction; a repeated
/// `external_id` stores nothing and answers the first receipt's IDs.
pub fn receive(
    conn: &mut AnyConnection,
    inbox_id: i32,
    input: &IncomingInput,
    country: CountryId,
) -> Result<Received, AppError> {
    let inbox = inboxes::get(conn, inbox_id)?;
    let incoming = check(&inbox, input, country)?;
    // Concurrent first messages from one new sender race for the same
    // unique keys (identity, phone, open conversation); the loser retries.
    for _ in 0..5 {
        match write_transaction(conn, |conn| receive_once(conn, &inbox, &incoming)) {
            Ok(received) => return Ok(received),
            Err(Attempt::Race) => continue,
            Err(Attempt::Failed(e)) => return Err(e),
        }
    }
    Err(AppError::Conflict(
        "Too many deliveries of this sender at the same moment; send the message again.".into(),
    ))
}

fn receive_once(conn: &mut AnyConnection, inbox: &Inbox, m: &Incoming) -> Result<Received, Attempt> {
    let now = Utc::now().naive_utc();
    if let Some(external_id) = &m.external_id {
        let earlier: Option<(i32, i32, i32)> = messages::table
            .inner_join(conversations::table)
            .filter(messages::inbox_id.eq(inbox.id))
            .filter(messages::external_id.eq(external_id))
            .select((messages::id, messages::conversation_id, conversations::contact_id))
            .first(conn)
            .optional()?;
        if let Some((message_id, conversation_id, contact_id)) = earlier {
            return Ok(Received {
                contact_id,
                contact_created: false,
                conversation_id,
                message_id,
                repeated: true,
            });
        }
    }
    let (contact_id, contact_created) = match sender(conn, inbox, m)? {
        Some(id) => (id, false),
        None => (create_contact(conn, inbox, m, now)?, true),
    };
    let open: Option<i32> = conversations::table
        .filter(conversations::contact_id.eq(contact_id))
        .filter(conversations::inbox_id.eq(inbox.id))
        .filter(conversations::status.eq("open"))
        .select(conversations::id)
        .first(conn)
        .optional()?;
    let conversation_id = match open {
        Some(id) => id,
        None => diesel::insert_into(conversations::table)
            .values((
                conversations::contact_id.eq(contact_id),
                conversations::inbox_id.eq(inbox.id),
                conversations::status.eq("open"),
                conversations::unread.eq(0),
                conversations::created_at.eq(now),
                conversations::updated_at.eq(now),
            ))
            .returning(conversations::id)
            .get_result(conn)?,
    };
    let message_id: i32 = diesel::insert_into(messages::table)
        .values((
            messages::conversation_id.eq(conversation_id),
            messages::inbox_id.eq(inbox.id),
            messages::direction.eq("in"),
            messages::body.eq(&m.body),
            messages::external_id.eq(&m.external_id),
            messages::attempts.eq(0),
            messages::created_at.eq(now),
        ))
        .returning(messages::id)
        .get_result(conn)?;
    diesel::update(conversations::table.find(conversation_id))
        .set((
            conversations::unread.eq(conversations::unread + 1),
            conversations::last_message_at.eq(now),
            conversations::last_incoming_at.eq(now),
            conversations::updated_at.eq(now),
        ))
        .execute(conn)?;
    diesel::update(contacts::table.find(contact_id))
        .set(contacts::last_activity_at.eq(now))
        .execute(conn)?;
    Ok(Received {
        contact_id,
        contact_created,
        conversation_id,
        message_id,
        repeated: false,
    })
}

/// The sender's contact: by its identity in this inbox; failing that, by a
/// phone or e-mail the message carries, which then gains the identity.
fn sender(conn: &mut AnyConnection, inbox: &Inbox, m: &Incoming) -> Result<Option<i32>, Attempt> {
    let known: Option<i32> = contact_identities::table
        .filter(contact_identities::inbox_id.eq(inbox.id))
        .filter(contact_identities::source_id.eq(&m.source_id))
        .select(contact_identities::contact_id)
        .first(conn)
        .optional()?;
    if known.is_some() {
        return Ok(known);
    }
    let mut phones: Vec<&str> = m.phone.iter().map(String::as_str).collect();
    let mut emails: Vec<&str> = m.email.iter().map(String::as_str).collect();
    match inbox.channel {
        c if c.is_phone() => phones.push(&m.source_id),
        Channel::Email => emails.push(&m.source_id),
        _ => {}
    }
    // One indexed lookup per key: `phone IN … OR email IN …` would scan.
    let mut by_key: Option<i32> = None;
    if !phones.is_empty() {
        by_key = contacts::table
            .filter(contacts::phone.eq_any(phones.iter().map(|p| p.to_string()).collect::<Vec<_>>()))
            .order(contacts::id.asc())
            .select(contacts::id)
            .first(conn)
            .optional()?;
    }
    if by_key.is_none() && !emails.is_empty() {
        by_key = contacts::table
            .filter(contacts::email.eq_any(emails.iter().map(|e| e.to_string()).collect::<Vec<_>>()))
            .order(contacts::id.asc())
            .select(contacts::id)
            .first(conn)
            .optional()?;
    }
    if let Some(contact_id) = by_key {
        add_identity(conn, contact_id, inbox.id, &m.source_id)?;
    }
    Ok(by_key)
}

fn add_identity(conn: &mut AnyConnection, contact_id: i32, inbox_id: i32, source_id: &str) -> Result<(), Attempt> {
    diesel::insert_into(contact_identities::table)
        .values((
            contact_identities::contact_id.eq(contact_id),
            contact_identities::inbox_id.eq(inbox_id),
            contact_identities::source_id.eq(source_id),
            contact_identities::created_at.eq(Utc::now().naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

/// A new sender: an unassigned contact in status New, with the identity and
/// the phone or e-mail the channel gives. Its name is the one the channel
/// sends, else its phone, address or sender ID.
fn create_contact(conn: &mut AnyConnection, inbox: &Inbox, m: &Incoming, now: NaiveDateTime) -> Result<i32, Attempt> {
    let phone = m
        .phone
        .clone()
        .or_else(|| inbox.channel.is_phone().then(|| m.source_id.clone()));
    let email = m
        .email
        .clone()
        .or_else(|| (inbox.channel == Channel::Email).then(|| m.source_id.clone()));
    let name = m
        .name
        .clone()
        .or_else(|| phone.clone())
        .or_else(|| email.clone())
        .unwrap_or_else(|| m.source_id.chars().take(255).collect());
    let id: i32 = diesel::insert_into(contacts::table)
        .values((
            contacts::name.eq(&name),
            contacts::email.eq(&email),
            contacts::phone.eq(&phone),
            contacts::status_id.eq(LeadStatus::New.id()),
            contacts::created_at.eq(now),
            contacts::updated_at.eq(now),
            contacts::last_activity_at.eq(now),
        ))
        .returning(contacts::id)
        .get_result(conn)?;
    diesel::insert_into(status_history::table)
        .values((
            status_history::contact_id.eq(id),
            status_history::to_id.eq(LeadStatus::New.id()),
            status_history::source.eq(StatusSource::Automation.as_str()),
            status_history::at.eq(now),
        ))
        .execute(conn)?;
    add_identity(conn, id, inbox.id, &m.source_id)?;
    // The same customer writing from a second channel is the commonest
    // duplicate: the finder looks at every contact a message makes.
    super::duplicates::refresh(conn, id)?;
    let contact = super::contacts::get(conn, id)?;
    super::webhooks::emit(conn, "contact.created", &contact, serde_json::json!({}), None)?;
    Ok(id)
}

/// A conversation as lists show it.
#[derive(Debug, Clone, Queryable)]
pub struct ConversationRow {
    pub id: i32,
    pub contact_id: i32,
    pub inbox_id: i32,
    pub status: String,
    pub unread: i32,
    pub last_message_at: Option<NaiveDateTime>,
    pub last_incoming_at: Option<NaiveDateTime>,
}

type ConversationColumns = (
    conversations::id,
    conversations::contact_id,
    conversations::inbox_id,
    conversations::status,
    conversations::unread,
    conversations::last_message_at,
    conversations::last_incoming_at,
);
const CONVERSATION_COLUMNS: ConversationColumns = (
    conversations::id,
    conversations::contact_id,
    conversations::inbox_id,
    conversations::status,
    conversations::unread,
    conversations::last_message_at,
    conversations::last_incoming_at,
);

/// A contact's conversations, open ones first, then the most recent.
pub fn of_contact(conn: &mut AnyConnection, contact_id: i32) -> Result<Vec<ConversationRow>, AppError> {
    Ok(conversations::table
        .filter(conversations::contact_id.eq(contact_id))
        .order((conversations::status.asc(), conversations::id.desc()))
        .select(CONVERSATION_COLUMNS)
        .load(conn)?)
}

pub fn get(conn: &mut AnyConnection, id: i32) -> Result<ConversationRow, AppError> {
    conversations::table
        .find(id)
        .select(CONVERSATION_COLUMNS)
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found(&format!("Conversation #{id}")))
}

/// One message.
#[derive(Debug, Clone, Queryable)]
pub struct Message {
    pub id: i32,
    pub conversation_id: i32,
    pub direction: String,
    pub body: String,
    pub delivery: Option<String>,
    pub author_id: Option<i32>,
    pub created_at: NaiveDateTime,
}

type MessageColumns = (
    messages::id,
    messages::conversation_id,
    messages::direction,
    messages::body,
    messages::delivery,
    messages::author_id,
    messages::created_at,
);
const MESSAGE_COLUMNS: MessageColumns = (
    messages::id,
    messages::conversation_id,
    messages::direction,
    messages::body,
    messages::delivery,
    messages::author_id,
    messages::created_at,
);

/// Up to `limit` messages of a conversation after message `after`, oldest
/// first (keyset paging on the message ID).
pub fn messages_of(
    conn: &mut AnyConnection,
    conversation_id: i32,
    after: Option<i32>,
    limit: usize,
) -> Result<Vec<Message>, AppError> {
    get(conn, conversation_id)?;
    let mut q = messages::table
        .filter(messages::conversation_id.eq(conversation_id))
        .into_boxed();
    if let Some(after) = after {
        q = q.filter(messages::id.gt(after));
    }
    Ok(q.order(messages::id.asc())
        .limit(limit as i64)
        .select(MESSAGE_COLUMNS)
        .load(conn)?)
}

pub fn message(conn: &mut AnyConnection, id: i32) -> Result<Message, AppError> {
    messages::table
        .find(id)
        .select(MESSAGE_COLUMNS)
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found(&format!("Message #{id}")))
}

/// A conversation in the inbox list and window: its contact and inbox named.
#[derive(Debug, Clone, Queryable)]
pub struct ConversationListed {
    pub id: i32,
    pub contact_id: i32,
    pub contact_name: String,
    pub inbox_id: i32,
    pub inbox_name: String,
    pub channel: String,
    pub status: String,
    pub unread: i32,
    pub last_message_at: Option<NaiveDateTime>,
    pub last_incoming_at: Option<NaiveDateTime>,
}

type ListedColumns = (
    conversations::id,
    conversations::contact_id,
    contacts::name,
    conversations::inbox_id,
    crate::db::schema::inboxes::name,
    crate::db::schema::inboxes::channel,
    conversations::status,
    conversations::unread,
    conversations::last_message_at,
    conversations::last_incoming_at,
);
const LISTED_COLUMNS: ListedColumns = (
    conversations::id,
    conversations::contact_id,
    contacts::name,
    conversations::inbox_id,
    crate::db::schema::inboxes::name,
    crate::db::schema::inboxes::channel,
    conversations::status,
    conversations::unread,
    conversations::last_message_at,
    conversations::last_incoming_at,
);

/// Open conversations, unread ones first, then the latest; at most `limit`.
pub fn open_list(conn: &mut AnyConnection, limit: i64) -> Result<Vec<ConversationListed>, AppError> {
    use crate::db::schema::inboxes;
    Ok(conversations::table
        .inner_join(contacts::table)
        .inner_join(inboxes::table)
        .filter(conversations::status.eq("open"))
        .filter(contacts::deleted_at.is_null())
        .order((
            conversations::unread.desc(),
            conversations::last_message_at.desc(),
            conversations::id.desc(),
        ))
        .limit(limit)
        .select(LISTED_COLUMNS)
        .load(conn)?)
}

/// A contact's conversations with their inboxes named, open ones first.
pub fn listed_of_contact(conn: &mut AnyConnection, contact_id: i32) -> Result<Vec<ConversationListed>, AppError> {
    use crate::db::schema::inboxes;
    Ok(conversations::table
        .inner_join(contacts::table)
        .inner_join(inboxes::table)
        .filter(conversations::contact_id.eq(contact_id))
        .order((conversations::status.asc(), conversations::id.desc()))
        .select(LISTED_COLUMNS)
        .load(conn)?)
}

/// Opens a conversation for reading: its unread count goes back to zero.
pub fn read(conn: &mut AnyConnection, id: i32) -> Result<ConversationListed, AppError> {
    use crate::db::schema::inboxes;
    let listed: ConversationListed = conversations::table
        .inner_join(contacts::table)
        .inner_join(inboxes::table)
        .filter(conversations::id.eq(id))
        .filter(contacts::deleted_at.is_null())
        .select(LISTED_COLUMNS)
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found(&format!("Conversation #{id}")))?;
    if listed.unread > 0 {
        // Only when there is something to clear: reading is not a write.
        diesel::update(conversations::table.find(id))
            .set(conversations::unread.eq(0))
            .execute(conn)?;
    }
    Ok(listed)
}

/// Marks a conversation resolved; the next message opens a new one.
pub fn resolve(conn: &mut AnyConnection, id: i32) -> Result<ConversationRow, AppError> {
    let conversation = get(conn, id)?;
    diesel::update(conversations::table.find(id))
        .set((
            conversations::status.eq("resolved"),
            conversations::unread.eq(0),
            conversations::updated_at.eq(Utc::now().naive_utc()),
        ))
        .execute(conn)?;
    Ok(conversation)
}

/// Unread incoming messages across open conversations (the menu's badge).
pub fn unread_total(conn: &mut AnyConnection) -> Result<i64, AppError> {
    let total: Option<i64> = conversations::table
        .filter(conversations::unread.gt(0))
        .select(diesel::dsl::sum(conversations::unread))
        .first(conn)?;
    Ok(total.unwrap_or(0))
}

/// The latest `limit` messages of a conversation, oldest first.
pub fn latest_messages(conn: &mut AnyConnection, conversation_id: i32, limit: usize) -> Result<Vec<Message>, AppError> {
    let mut latest: Vec<Message> = messages::table
        .filter(messages::conversation_id.eq(conversation_id))
        .order(messages::id.desc())
        .limit(limit as i64)
        .select(MESSAGE_COLUMNS)
        .load(conn)?;
    latest.reverse();
    Ok(latest)
}
