//! Outgoing messages: "Send message" and replies are queued in the database
//! (so any instance can deliver them and none is lost on restart); the
//! delivery worker (`crate::delivery`) claims due ones, hands them to the
//! inbox's adapter and records sent or failed, retrying with back-off.

use chrono::{Duration, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::contacts;
use super::inboxes::{self, Channel, Delivery};
use super::status::{LeadStatus, StatusSource};
use super::users::Actor;
use crate::db::schema::{contact_identities, contact_opt_outs, contacts as contacts_table, conversations, messages};
use crate::db::{write_transaction, AnyConnection};
use crate::error::AppError;

use super::conversations::MAX_BODY;

/// WhatsApp allows free-form messages this long after the customer's last one.
pub const WHATSAPP_WINDOW_HOURS: i64 = 24;

/// What sending did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub conversation_id: i32,
    pub message_id: i32,
    pub conversation_created: bool,
}

fn check_body(body: &str) -> Result<String, AppError> {
    let text = body.trim();
    let len = text.chars().count();
    if text.is_empty() {
        return Err(AppError::field("body", "is required"));
    }
    if len > MAX_BODY {
        return Err(AppError::field(
            "body",
            format!("is too long ({len} characters; at most {MAX_BODY})"),
        ));
    }
    if text.contains(|c: char| c.is_control() && !"\n\r\t".contains(c)) {
        return Err(AppError::field("body", "contains characters that are not allowed"));
    }
    Ok(text.replace("\r\n", "\n"))
}

/// Whether a WhatsApp conversation's reply window is open at `now`.
pub fn window_open(last_incoming_at: Option<NaiveDateTime>, now: NaiveDateTime) -> bool {
    last_incoming_at.is_some_and(|t| now - t < Duration::hours(WHATSAPP_WINDOW_HOURS))
}

/// Queues a message to a contact in an inbox: into its open conversation
/// there, or a new one. Refused when the contact opted out, when the
/// channel has no address for it, or outside WhatsApp's reply window.
pub fn send(
    conn: &mut AnyConnection,
    actor: &Actor,
    contact_id: i32,
    inbox_id: i32,
    body: &str,
) -> Result<Sent, AppError> {
    let body = check_body(body)?;
    write_transaction(conn, |conn| {
        let contact = contacts::get(conn, contact_id)?;
        let inbox = inboxes::get(conn, inbox_id).map_err(|_| AppError::field("inbox_id", "is not an inbox"))?;
        if contact.opted_out_at.is_some() {
            return Err(AppError::OptedOut(format!(
                "{} does not want messages (opted out), so nothing was sent.",
                contact.name
            )));
        }
        if opted_out_inboxes(conn, contact_id)?.contains(&inbox_id) {
            return Err(AppError::OptedOut(format!(
                "{} does not want messages from {}, so nothing was sent.",
                contact.name, inbox.name
            )));
        }
        let now = Utc::now().naive_utc();
        let open: Option<(i32, Option<NaiveDateTime>)> = conversations::table
            .filter(conversations::contact_id.eq(contact_id))
            .filter(conversations::inbox_id.eq(inbox_id))
            .filter(conversations::status.eq("open"))
            .select((conversations::id, conversations::last_incoming_at))
            .first(conn)
            .optional()?;
        let last_incoming = match open {
            Some((_, at)) => at,
            None => None,
        };
        if inbox.channel == Channel::WhatsApp && !window_open(last_incoming, now) {
            return Err(AppError::ReplyWindowClosed(format!(
                "WhatsApp allows free-form messages only within {WHATSAPP_WINDOW_HOURS} hours of the customer's \
                 last message, and that window is closed for {}. Wait for them to write again.",
                contact.name
            )));
        }
        address(conn, contact_id, &inbox.channel, inbox_id, contact.phone.as_deref())?;
        let (conversation_id, conversation_created) = match open {
            Some((id, _)) => (id, false),
            None => {
                let id = diesel::insert_into(conversations::table)
                    .values((
                        conversations::contact_id.eq(contact_id),
                        conversations::inbox_id.eq(inbox_id),
                        conversations::status.eq("open"),
                        conversations::unread.eq(0),
                        conversations::created_at.eq(now),
                        conversations::updated_at.eq(now),
                    ))
                    .returning(conversations::id)
                    .get_result(conn)?;
                (id, true)
            }
        };
        let message_id: i32 = diesel::insert_into(messages::table)
            .values((
                messages::conversation_id.eq(conversation_id),
                messages::inbox_id.eq(inbox_id),
                messages::direction.eq("out"),
                messages::body.eq(&body),
                messages::delivery.eq("queued"),
                messages::attempts.eq(0),
                messages::next_attempt_at.eq(now),
                messages::author_id.eq(actor.id),
                messages::created_at.eq(now),
            ))
            .returning(messages::id)
            .get_result(conn)?;
        diesel::update(conversations::table.find(conversation_id))
            .set((
                conversations::last_message_at.eq(now),
                conversations::last_outbound_at.eq(now),
                conversations::updated_at.eq(now),
            ))
            .execute(conn)?;
        diesel::update(contacts_table::table.find(contact_id))
            .set(contacts_table::last_activity_at.eq(now))
            .execute(conn)?;
        Ok(Sent {
            conversation_id,
            message_id,
            conversation_created,
        })
    })
}

/// The inboxes a contact does not want messages from (besides opting out of
/// every channel, `contacts.opted_out_at`).
pub fn opted_out_inboxes(conn: &mut AnyConnection, contact_id: i32) -> Result<Vec<i32>, AppError> {
    Ok(contact_opt_outs::table
        .filter(contact_opt_outs::contact_id.eq(contact_id))
        .select(contact_opt_outs::inbox_id)
        .load(conn)?)
}

/// Opts a contact out of one inbox, or back in. Anyone may: it is what the
/// customer asked for.
pub fn set_inbox_opt_out(conn: &mut AnyConnection, contact_id: i32, inbox_id: i32, out: bool) -> Result<(), AppError> {
    write_transaction(conn, |conn| {
        contacts::get(conn, contact_id)?;
        inboxes::get(conn, inbox_id)?;
        diesel::delete(
            contact_opt_outs::table
                .filter(contact_opt_outs::contact_id.eq(contact_id))
                .filter(contact_opt_outs::inbox_id.eq(inbox_id)),
        )
        .execute(conn)?;
        if out {
            diesel::insert_into(contact_opt_outs::table)
                .values((
                    contact_opt_outs::contact_id.eq(contact_id),
                    contact_opt_outs::inbox_id.eq(inbox_id),
                    contact_opt_outs::created_at.eq(Utc::now().naive_utc()),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// The contact's address in an inbox: its identity there, or for WhatsApp and
/// SMS its phone number.
fn address(
    conn: &mut AnyConnection,
    contact_id: i32,
    channel: &Channel,
    inbox_id: i32,
    phone: Option<&str>,
) -> Result<String, AppError> {
    let identity: Option<String> = contact_identities::table
        .filter(contact_identities::contact_id.eq(contact_id))
        .filter(contact_identities::inbox_id.eq(inbox_id))
        .order(contact_identities::id.asc())
        .select(contact_identities::source_id)
        .first(conn)
        .optional()?;
    match (identity, phone) {
        (Some(id), _) => Ok(id),
        (None, Some(phone)) if channel.is_phone() => Ok(phone.to_string()),
        _ => Err(AppError::field(
            "inbox_id",
            format!(
                "this contact has no address on {}: it has not written there{}",
                channel.label(),
                if channel.is_phone() {
                    " and has no phone number"
                } else {
                    ""
                }
            ),
        )),
    }
}

/// A queued message claimed for delivery, with what the adapter needs.
#[derive(Debug, Clone)]
pub struct Job {
    pub message_id: i32,
    pub inbox_id: i32,
    pub conversation_id: i32,
    pub contact_id: i32,
    pub to: String,
    pub body: String,
    pub attempts: i32,
    pub delivery: Delivery,
}

/// Claims up to `limit` due messages for `lease`: each claim moves the
/// message's `next_attempt_at` past the lease only if nobody moved it first,
/// so two instances never deliver the same message at once, and a message
/// whose deliverer died is retried when the lease ends.
pub fn claim_due(conn: &mut AnyConnection, limit: i64, lease: Duration) -> Result<Vec<Job>, AppError> {
    let now = Utc::now().naive_utc();
    let due: Vec<(i32, Option<NaiveDateTime>)> = messages::table
        .filter(messages::delivery.eq("queued"))
        .filter(messages::next_attempt_at.le(now))
        .order(messages::next_attempt_at.asc())
        .limit(limit)
        .select((messages::id, messages::next_attempt_at))
        .load(conn)?;
    let mut jobs = Vec::new();
    for (id, due_at) in due {
        let claimed = diesel::update(
            messages::table
                .find(id)
                .filter(messages::delivery.eq("queued"))
                .filter(messages::next_attempt_at.eq(due_at)),
        )
        .set(messages::next_attempt_at.eq(now + lease))
        .execute(conn)?;
        if claimed == 1 {
            jobs.push(job(conn, id)?);
        }
    }
    Ok(jobs)
}

fn job(conn: &mut AnyConnection, message_id: i32) -> Result<Job, AppError> {
    let (inbox_id, conversation_id, contact_id, body, attempts): (i32, i32, i32, String, i32) = messages::table
        .inner_join(conversations::table)
        .filter(messages::id.eq(message_id))
        .select((
            messages::inbox_id,
            messages::conversation_id,
            conversations::contact_id,
            messages::body,
            messages::attempts,
        ))
        .first(conn)?;
    let inbox = inboxes::get(conn, inbox_id)?;
    let phone: Option<String> = contacts_table::table
        .find(contact_id)
        .select(contacts_table::phone)
        .first(conn)?;
    let to = address(conn, contact_id, &inbox.channel, inbox_id, phone.as_deref()).unwrap_or_default();
    Ok(Job {
        message_id,
        inbox_id,
        conversation_id,
        contact_id,
        to,
        body,
        attempts,
        delivery: inbox.delivery,
    })
}

/// Records a delivered message. A contact still in New has now been reached:
/// it moves to Reach, recorded with source `automation`.
pub fn delivered(conn: &mut AnyConnection, job: &Job) -> Result<(), AppError> {
    write_transaction(conn, |conn| {
        diesel::update(messages::table.find(job.message_id))
            .set((
                messages::delivery.eq("sent"),
                messages::attempts.eq(job.attempts + 1),
                messages::next_attempt_at.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?;
        let status: i32 = contacts_table::table
            .find(job.contact_id)
            .select(contacts_table::status_id)
            .first(conn)?;
        if status == LeadStatus::New.id() {
            contacts::set_status(conn, None, job.contact_id, LeadStatus::Reach, StatusSource::Automation)?;
        }
        Ok(())
    })
}

/// When failed deliveries (messages and events alike) are tried again.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// The wait before the first retry; it doubles with each attempt.
    pub first: Duration,
    /// Attempts in all before giving up.
    pub attempts: i32,
}

impl RetryPolicy {
    /// After `made` failed attempts: when to try again, or `None` to give up.
    pub fn next_attempt(&self, made: i32) -> Option<NaiveDateTime> {
        (made < self.attempts)
            .then(|| Utc::now().naive_utc() + self.first * 2i32.saturating_pow((made - 1).clamp(0, 20) as u32))
    }
}

/// Records a failed attempt: retried after back-off, or marked failed.
pub fn attempt_failed(conn: &mut AnyConnection, job: &Job, retry: RetryPolicy) -> Result<(), AppError> {
    let attempts = job.attempts + 1;
    let next = retry.next_attempt(attempts);
    diesel::update(messages::table.find(job.message_id))
        .set((
            messages::delivery.eq(if next.is_some() { "queued" } else { "failed" }),
            messages::attempts.eq(attempts),
            messages::next_attempt_at.eq(next),
        ))
        .execute(conn)?;
    Ok(())
}
