//! Inboxes: the team's connected channels (a WhatsApp number, a Messenger
//! page…), each with the adapter that delivers its outgoing messages.

use chrono::Utc;
use diesel::prelude::*;

use super::contact_fields::check_plain;
use super::users::{Actor, Role};
use crate::db::schema::inboxes;
use crate::db::{write_transaction, AnyConnection};
use crate::error::{AppError, FieldErrors};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    WhatsApp,
    Messenger,
    Instagram,
    Email,
    WebChat,
    Sms,
}

impl Channel {
    pub const ALL: [Channel; 6] = [
        Channel::WhatsApp,
        Channel::Messenger,
        Channel::Instagram,
        Channel::Email,
        Channel::WebChat,
        Channel::Sms,
    ];

    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s.trim().to_lowercase())
            .ok_or_else(|| "must be whatsapp, messenger, instagram, email, webchat or sms".into())
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::WhatsApp => "whatsapp",
            Self::Messenger => "messenger",
            Self::Instagram => "instagram",
            Self::Email => "email",
            Self::WebChat => "webchat",
            Self::Sms => "sms",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::WhatsApp => "WhatsApp",
            Self::Messenger => "Messenger",
            Self::Instagram => "Instagram",
            Self::Email => "E-mail",
            Self::WebChat => "Web chat",
            Self::Sms => "SMS",
        }
    }

    /// Channels whose sender ID is the customer's phone number.
    pub fn is_phone(self) -> bool {
        matches!(self, Self::WhatsApp | Self::Sms)
    }
}

/// How an inbox's outgoing messages leave leadbook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// POSTs each message as JSON to a bridge to the real channel.
    Webhook { url: String },
    /// Delivers locally: for trying leadbook out and for tests.
    Sandbox,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbox {
    pub id: i32,
    pub name: String,
    pub channel: Channel,
    pub delivery: Delivery,
}

type Row = (i32, String, String, String, Option<String>);

fn from_row((id, name, channel, kind, url): Row) -> Inbox {
    Inbox {
        id,
        name,
        channel: Channel::parse(&channel).unwrap_or(Channel::WebChat),
        delivery: match (kind.as_str(), url) {
            ("webhook", Some(url)) => Delivery::Webhook { url },
            _ => Delivery::Sandbox,
        },
    }
}

const COLUMNS: (
    inboxes::id,
    inboxes::name,
    inboxes::channel,
    inboxes::delivery_kind,
    inboxes::delivery_url,
) = (
    inboxes::id,
    inboxes::name,
    inboxes::channel,
    inboxes::delivery_kind,
    inboxes::delivery_url,
);

/// An inbox as typed by an admin or sent to the API.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct InboxInput {
    // The settings form names the URL field `delivery.url`, as the API's errors do.
    pub name: String,
    pub channel: String,
    /// `webhook` or `sandbox`.
    pub delivery_kind: String,
    #[serde(rename = "delivery.url")]
    pub delivery_url: String,
}

fn check(input: &InboxInput) -> Result<(String, Channel, Delivery), AppError> {
    let mut errors = FieldErrors::new();
    let mut fail = |f: &str, m: String| errors.entry(f.to_string()).or_default().push(m);
    let name = input.name.trim().to_string();
    if name.is_empty() {
        fail("name", "is required".into());
    } else if name.chars().count() > 100 {
        fail("name", "is too long (at most 100 characters)".into());
    } else if let Err(e) = check_plain(&name) {
        fail("name", e);
    }
    let channel = Channel::parse(&input.channel).map_err(|e| fail("channel", e)).ok();
    let url = input.delivery_url.trim();
    let delivery = match input.delivery_kind.trim() {
        "sandbox" | "" if url.is_empty() => Some(Delivery::Sandbox),
        "webhook" | "" => {
            let ok = url.len() <= 2048
                && url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
            if ok {
                Some(Delivery::Webhook { url: url.to_string() })
            } else {
                fail(
                    "delivery.url",
                    "must be an http(s) address for the webhook adapter".into(),
                );
                None
            }
        }
        "sandbox" => {
            fail("delivery.url", "is only for the webhook adapter".into());
            None
        }
        _ => {
            fail("delivery.kind", "must be webhook or sandbox".into());
            None
        }
    };
    match (channel, delivery) {
        (Some(c), Some(d)) if errors.is_empty() => Ok((name, c, d)),
        _ => Err(AppError::invalid(errors)),
    }
}

fn delivery_columns(d: &Delivery) -> (&'static str, Option<String>) {
    match d {
        Delivery::Webhook { url } => ("webhook", Some(url.clone())),
        Delivery::Sandbox => ("sandbox", None),
    }
}

/// Every inbox, by name.
pub fn all(conn: &mut AnyConnection) -> Result<Vec<Inbox>, AppError> {
    let rows: Vec<Row> = inboxes::table
        .order((inboxes::name.asc(), inboxes::id.asc()))
        .select(COLUMNS)
        .load(conn)?;
    Ok(rows.into_iter().map(from_row).collect())
}

pub fn get(conn: &mut AnyConnection, id: i32) -> Result<Inbox, AppError> {
    inboxes::table
        .find(id)
        .select(COLUMNS)
        .first::<Row>(conn)
        .optional()?
        .map(from_row)
        .ok_or_else(|| AppError::not_found(&format!("Inbox #{id}")))
}

/// Connects an inbox. Admins only.
pub fn create(conn: &mut AnyConnection, actor: &Actor, input: &InboxInput) -> Result<Inbox, AppError> {
    actor.require(actor.role == Role::Admin, "connect inboxes")?;
    let (name, channel, delivery) = check(input)?;
    let (kind, url) = delivery_columns(&delivery);
    let now = Utc::now().naive_utc();
    let id: i32 = diesel::insert_into(inboxes::table)
        .values((
            inboxes::name.eq(&name),
            inboxes::channel.eq(channel.as_str()),
            inboxes::delivery_kind.eq(kind),
            inboxes::delivery_url.eq(url),
            inboxes::created_at.eq(now),
            inboxes::updated_at.eq(now),
        ))
        .returning(inboxes::id)
        .get_result(conn)?;
    get(conn, id)
}

/// Changes an inbox. Admins only.
pub fn update(conn: &mut AnyConnection, actor: &Actor, id: i32, input: &InboxInput) -> Result<Inbox, AppError> {
    actor.require(actor.role == Role::Admin, "change inboxes")?;
    let (name, channel, delivery) = check(input)?;
    let (kind, url) = delivery_columns(&delivery);
    write_transaction(conn, |conn| {
        get(conn, id)?;
        diesel::update(inboxes::table.find(id))
            .set((
                inboxes::name.eq(&name),
                inboxes::channel.eq(channel.as_str()),
                inboxes::delivery_kind.eq(kind),
                inboxes::delivery_url.eq(url),
                inboxes::updated_at.eq(Utc::now().naive_utc()),
            ))
            .execute(conn)?;
        get(conn, id)
    })
}

/// Disconnects an inbox, with its conversations and identities. Admins only.
pub fn delete(conn: &mut AnyConnection, actor: &Actor, id: i32) -> Result<(), AppError> {
    actor.require(actor.role == Role::Admin, "delete inboxes")?;
    write_transaction(conn, |conn| {
        get(conn, id)?;
        diesel::delete(inboxes::table.find(id)).execute(conn)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(channel: &str, kind: &str, url: &str) -> InboxInput {
        InboxInput {
            name: "Sales".into(),
            channel: channel.into(),
            delivery_kind: kind.into(),
            delivery_url: url.into(),
        }
    }

    #[test]
    fn inboxes_are_checked() {
        assert!(check(&input("whatsapp", "sandbox", "")).is_ok());
        assert!(check(&input("whatsapp", "webhook", "https://bridge.example.com/out")).is_ok());
        assert!(check(&input("whatsapp", "webhook", "")).is_err());
        assert!(check(&input("whatsapp", "webhook", "ftp://x")).is_err());
        assert!(check(&input("telegram", "sandbox", "")).is_err());
        assert!(check(&input("sms", "pigeon", "")).is_err());
    }
}
