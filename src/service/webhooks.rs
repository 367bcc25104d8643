//! Event webhooks: admins register URLs; every contact change queues a
//! signed event for each webhook that wants it, in the same transaction as
//! the change, and the delivery worker POSTs them with retries.

use chrono::{Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::contact_json::contact_json;
use super::contacts::Contact;
use super::messaging::RetryPolicy;
use super::users::{Actor, Role};
use crate::db::schema::{webhook_deliveries as deliveries, webhooks};
use crate::db::{write_transaction, AnyConnection};
use crate::error::{AppError, FieldErrors};

/// The contact events a webhook can follow.
pub const EVENTS: [&str; 5] = [
    "contact.created",
    "contact.updated",
    "contact.status_changed",
    "contact.merged",
    "contact.deleted",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: i32,
    pub url: String,
    pub events: Vec<String>,
}

type Row = (i32, String, String);

fn from_row((id, url, events): Row) -> Webhook {
    Webhook {
        id,
        url,
        events: serde_json::from_str(&events).unwrap_or_default(),
    }
}

/// Every webhook (without secrets). Admins only.
pub fn all(conn: &mut AnyConnection, actor: &Actor) -> Result<Vec<Webhook>, AppError> {
    actor.require(actor.role == Role::Admin, "see event webhooks")?;
    let rows: Vec<Row> = webhooks::table
        .order(webhooks::id.asc())
        .select((webhooks::id, webhooks::url, webhooks::events))
        .load(conn)?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// Registers a webhook. Returns it with its secret, which is shown this once.
pub fn create(
    conn: &mut AnyConnection,
    actor: &Actor,
    url: &str,
    events: &[String],
) -> Result<(Webhook, String), AppError> {
    actor.require(actor.role == Role::Admin, "register event webhooks")?;
    let mut errors = FieldErrors::new();
    let url = url.trim();
    let url_ok = url.len() <= 2048
        && url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
    if !url_ok {
        errors.insert("url".into(), vec!["must be an http(s) address".into()]);
    }
    let mut wanted: Vec<String> = Vec::new();
    for event in events {
        if !EVENTS.contains(&event.as_str()) {
            errors
                .entry("events".into())
                .or_default()
                .push(format!("\"{event}\" is not an event (use {})", EVENTS.join(", ")));
        } else if !wanted.contains(event) {
            wanted.push(event.clone());
        }
    }
    if wanted.is_empty() && !errors.contains_key("events") {
        errors.insert("events".into(), vec!["needs at least one event".into()]);
    }
    if !errors.is_empty() {
        return Err(AppError::invalid(errors));
    }
    let secret = super::secret::random_token(40);
    let id: i32 = diesel::insert_into(webhooks::table)
        .values((
            webhooks::url.eq(url),
            webhooks::events.eq(serde_json::to_string(&wanted).unwrap_or_else(|_| "[]".into())),
            webhooks::secret.eq(&secret),
            webhooks::created_at.eq(Utc::now().naive_utc()),
        ))
        .returning(webhooks::id)
        .get_result(conn)?;
    Ok((
        Webhook {
            id,
            url: url.to_string(),
            events: wanted,
        },
        secret,
    ))
}

pub fn delete(conn: &mut AnyConnection, actor: &Actor, id: i32) -> Result<(), AppError> {
    actor.require(actor.role == Role::Admin, "delete event webhooks")?;
    let deleted = diesel::delete(webhooks::table.find(id)).execute(conn)?;
    if deleted == 0 {
        return Err(AppError::not_found(&format!("Webhook #{id}")));
    }
    Ok(())
}

/// Whether any webhook follows `event`: lets a bulk change skip building
/// each contact's event when nobody listens.
pub fn wanted(conn: &mut AnyConnection, event: &str) -> Result<bool, AppError> {
    let subscribed: Vec<String> = webhooks::table.select(webhooks::events).load(conn)?;
    Ok(subscribed
        .iter()
        .any(|events| serde_json::from_str::<Vec<String>>(events).is_ok_and(|e| e.iter().any(|name| name == event))))
}

/// Queues `event` about `contact` for every webhook that follows it (in the
/// caller's transaction). `previous` holds the changed fields' old values;
/// `extra` adds fields such as `merged_id`.
pub fn emit(
    conn: &mut AnyConnection,
    event: &str,
    contact: &Contact,
    previous: Value,
    extra: Option<(&str, Value)>,
) -> Result<(), AppError> {
    let subscribers: Vec<(i32, String)> = webhooks::table.select((webhooks::id, webhooks::events)).load(conn)?;
    let targets: Vec<i32> = subscribers
        .into_iter()
        .filter(|(_, events)| {
            serde_json::from_str::<Vec<String>>(events).is_ok_and(|e| e.iter().any(|name| name == event))
        })
        .map(|(id, _)| id)
        .collect();
    if targets.is_empty() {
        return Ok(());
    }
    let now = Utc::now().naive_utc();
    let mut payload = json!({
        "id": format!("evt_{}", super::secret::random_token(24)),
        "event": event,
        "at": now.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "contact": contact_json(conn, contact)?,
        "previous": previous,
    });
    if let Some((key, value)) = extra {
        payload[key] = value;
    }
    let payload = payload.to_string();
    for webhook_id in targets {
        diesel::insert_into(deliveries::table)
            .values((
                deliveries::webhook_id.eq(webhook_id),
                deliveries::payload.eq(&payload),
                deliveries::state.eq("queued"),
                deliveries::attempts.eq(0),
                deliveries::next_attempt_at.eq(now),
                deliveries::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// `sha256=<hex HMAC-SHA256 of the body with the secret>`.
pub fn signature(secret: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body.as_bytes());
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// A queued event delivery, claimed.
#[derive(Debug, Clone)]
pub struct EventJob {
    pub id: i32,
    pub url: String,
    pub secret: String,
    pub payload: String,
    pub attempts: i32,
}

/// Claims due event deliveries, like `messaging::claim_due`.
pub fn claim_due(conn: &mut AnyConnection, limit: i64, lease: Duration) -> Result<Vec<EventJob>, AppError> {
    let now = Utc::now().naive_utc();
    let due: Vec<(i32, Option<NaiveDateTime>)> = deliveries::table
        .filter(deliveries::state.eq("queued"))
        .filter(deliveries::next_attempt_at.le(now))
        .order(deliveries::next_attempt_at.asc())
        .limit(limit)
        .select((deliveries::id, deliveries::next_attempt_at))
        .load(conn)?;
    let mut jobs = Vec::new();
    for (id, due_at) in due {
        let claimed = diesel::update(
            deliveries::table
                .find(id)
                .filter(deliveries::state.eq("queued"))
                .filter(deliveries::next_attempt_at.eq(due_at)),
        )
        .set(deliveries::next_attempt_at.eq(now + lease))
        .execute(conn)?;
        if claimed == 1 {
            let (url, secret, payload, attempts): (String, String, String, i32) = deliveries::table
                .inner_join(webhooks::table)
                .filter(deliveries::id.eq(id))
                .select((
                    webhooks::url,
                    webhooks::secret,
                    deliveries::payload,
                    deliveries::attempts,
                ))
                .first(conn)?;
            jobs.push(EventJob {
                id,
                url,
                secret,
                payload,
                attempts,
            });
        }
    }
    Ok(jobs)
}

/// Records an event delivery's outcome: sent, retried after back-off, or failed.
pub fn record(conn: &mut AnyConnection, job: &EventJob, ok: bool, retry: RetryPolicy) -> Result<(), AppError> {
    let attempts = job.attempts + 1;
    let (state, next) = match (ok, retry.next_attempt(attempts)) {
        (true, _) => ("sent", None),
        (false, None) => ("failed", None),
        (false, Some(at)) => ("queued", Some(at)),
    };
    write_transaction(conn, |conn| {
        diesel::update(deliveries::table.find(job.id))
            .set((
                deliveries::state.eq(state),
                deliveries::attempts.eq(attempts),
                deliveries::next_attempt_at.eq(next),
            ))
            .execute(conn)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn signatures_are_hex_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            super::signature("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
