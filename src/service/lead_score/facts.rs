//! What the data holds about each contact that the lead score learns from:
//! the channel it first wrote on, how fast we first replied, the messages
//! each way, the time it spent in each stage, and its custom attributes of
//! number, boolean and list type.
//!
//! For a closed contact (Won, Lost, or Unqualified when that counts as
//! lost) only what happened up to the close counts: the thank-you messages
//! after a win would otherwise teach the model that talkative customers
//! win, which is hindsight, not a signal.
//!
//! Each query reads the whole table once and is grouped in the database or
//! folded here; `only` narrows them to one contact for its details page.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::deserialize::QueryableByName;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Integer, Nullable, Text, Timestamp};
use diesel::sqlite::Sqlite;

use crate::db::AnyConnection;
use crate::error::AppError;
use crate::service::status::LeadStatus;

/// The open stages whose time the model weighs.
pub const TIMED_STAGES: [LeadStatus; 4] = [
    LeadStatus::New,
    LeadStatus::Reach,
    LeadStatus::Qualified,
    LeadStatus::Negotiating,
];

#[derive(Debug, Clone, PartialEq)]
pub enum AttrFact {
    Number(f64),
    Boolean(bool),
    Choice(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub contact_id: i32,
    pub status_id: i32,
    /// The score it holds now (per mille), so a training writes only changes.
    pub lead_score: Option<i32>,
    /// The channel of its first conversation.
    pub channel: Option<String>,
    /// Hours from its first message to our first reply; None when we have
    /// not replied (or it never wrote).
    pub first_reply_hours: Option<f64>,
    pub messages_in: i64,
    pub messages_out: i64,
    /// Days in each of `TIMED_STAGES`, up to its close or to now.
    pub stage_days: [f64; 4],
    pub attributes: HashMap<i32, AttrFact>,
}

/// A custom attribute the model can use.
#[derive(Debug, Clone)]
pub struct Attribute {
    pub id: i32,
    pub name: String,
    pub kind: String,
}

#[derive(QueryableByName)]
struct ContactRow {
    #[diesel(sql_type = Integer)]
    id: i32,
    #[diesel(sql_type = Integer)]
    status_id: i32,
    #[diesel(sql_type = Nullable<Integer>)]
    lead_score: Option<i32>,
}

#[derive(QueryableByName)]
struct Closed {
    #[diesel(sql_type = Integer)]
    contact_id: i32,
    #[diesel(sql_type = Timestamp)]
    at: NaiveDateTime,
}

#[derive(QueryableByName)]
struct Counts {
    #[diesel(sql_type = Integer)]
    contact_id: i32,
    #[diesel(sql_type = BigInt)]
    inbound: i64,
    #[diesel(sql_type = BigInt)]
    outbound: i64,
    #[diesel(sql_type = Nullable<Timestamp>)]
    first_in: Option<NaiveDateTime>,
}

#[derive(QueryableByName)]
struct Reply {
    #[diesel(sql_type = Integer)]
    contact_id: i32,
    #[diesel(sql_type = Timestamp)]
    at: NaiveDateTime,
}

#[derive(QueryableByName)]
struct Channel {
    #[diesel(sql_type = Integer)]
    contact_id: i32,
    #[diesel(sql_type = Text)]
    channel: String,
}

#[derive(QueryableByName)]
struct Change {
    #[diesel(sql_type = Integer)]
    contact_id: i32,
    #[diesel(sql_type = Integer)]
    to_id: i32,
    #[diesel(sql_type = Timestamp)]
    at: NaiveDateTime,
}

#[derive(QueryableByName)]
struct AttrValue {
    #[diesel(sql_type = Integer)]
    contact_id: i32,
    #[diesel(sql_type = Integer)]
    attribute_id: i32,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    value_text: String,
    #[diesel(sql_type = Nullable<Double>)]
    value_number: Option<f64>,
}

#[derive(QueryableByName)]
struct AttrRow {
    #[diesel(sql_type = Integer)]
    id: i32,
    #[diesel(sql_type = Text)]
    display_name: String,
    #[diesel(sql_type = Text)]
    kind: String,
}

/// Runs a query without parameters on either backend. Every query here is
/// built from constants and integers (status IDs, a contact ID), never from
/// text a user typed.
fn load<T>(conn: &mut AnyConnection, sql: &str) -> Result<Vec<T>, AppError>
where
    T: QueryableByName<Sqlite> + QueryableByName<Pg> + 'static,
{
    Ok(match conn {
        AnyConnection::Sqlite(c) => diesel::sql_query(sql).load(c)?,
        AnyConnection::Postgresql(c) => diesel::sql_query(sql).load(c)?,
    })
}

/// The custom attributes of number, boolean and list type.
pub fn attributes(conn: &mut AnyConnection) -> Result<Vec<Attribute>, AppError> {
    let rows: Vec<AttrRow> = load(
        conn,
        "SELECT id, display_name, kind FROM custom_attributes \
         WHERE kind IN ('number', 'boolean', 'list') ORDER BY position, id",
    )?;
    Ok(rows
        .into_iter()
        .map(|r| Attribute {
            id: r.id,
            name: r.display_name,
            kind: r.kind,
        })
        .collect())
}

/// The facts of every live contact (or of `only`), in ID order. `closes`
/// are the statuses that end a contact's story.
pub fn load_all(
    conn: &mut AnyConnection,
    only: Option<i32>,
    closes: &[LeadStatus],
    now: NaiveDateTime,
) -> Result<Vec<Facts>, AppError> {
    let closes = closes.iter().map(|s| s.id().to_string()).collect::<Vec<_>>().join(", ");
    let one = |column: &str| only.map_or_else(String::new, |id| format!(" AND {column} = {id}"));

    let contacts: Vec<ContactRow> = load(
        conn,
        &format!(
            "SELECT c.id AS id, c.status_id AS status_id, s.score AS lead_score FROM contacts c \
             LEFT JOIN contact_scores s ON s.contact_id = c.id WHERE c.deleted_at IS NULL{} ORDER BY c.id",
            one("c.id")
        ),
    )?;
    // When each closed contact closed: its last change into its status.
    let closed_sql = format!(
        "SELECT h.contact_id AS contact_id, MAX(h.at) AS at FROM status_history h \
         JOIN contacts c ON c.id = h.contact_id AND h.to_id = c.status_id \
         WHERE c.deleted_at IS NULL AND c.status_id IN ({closes}){} GROUP BY h.contact_id",
        one("c.id")
    );
    let closed_at: HashMap<i32, NaiveDateTime> = load::<Closed>(conn, &closed_sql)?
        .into_iter()
        .map(|c| (c.contact_id, c.at))
        .collect();
    let counts: Vec<Counts> = load(
        conn,
        &format!(
            "SELECT v.contact_id AS contact_id, \
             SUM(CASE WHEN m.direction = 'in' THEN 1 ELSE 0 END) AS inbound, \
             SUM(CASE WHEN m.direction = 'out' THEN 1 ELSE 0 END) AS outbound, \
             MIN(CASE WHEN m.direction = 'in' THEN m.created_at END) AS first_in \
             FROM messages m JOIN conversations v ON v.id = m.conversation_id \
             LEFT JOIN ({closed_sql}) k ON k.contact_id = v.contact_id \
             WHERE (k.at IS NULL OR m.created_at <= k.at){} GROUP BY v.contact_id",
            one("v.contact_id")
        ),
    )?;
    // Our first message at or after the customer's first one.
    let replies: HashMap<i32, NaiveDateTime> = load::<Reply>(
        conn,
        &format!(
            "SELECT v.contact_id AS contact_id, MIN(m.created_at) AS at \
             FROM messages m JOIN conversations v ON v.id = m.conversation_id \
             JOIN (SELECT v2.contact_id AS contact_id, MIN(m2.created_at) AS first_in \
                   FROM messages m2 JOIN conversations v2 ON v2.id = m2.conversation_id \
                   WHERE m2.direction = 'in'{} GROUP BY v2.contact_id) f ON f.contact_id = v.contact_id \
             WHERE m.direction = 'out' AND m.created_at >= f.first_in GROUP BY v.contact_id",
            one("v2.contact_id")
        ),
    )?
    .into_iter()
    .map(|r| (r.contact_id, r.at))
    .collect();
    let mut channels: HashMap<i32, String> = HashMap::new();
    for c in load::<Channel>(
        conn,
        &format!(
            "SELECT v.contact_id AS contact_id, i.channel AS channel FROM conversations v \
             JOIN inboxes i ON i.id = v.inbox_id WHERE 1 = 1{} ORDER BY v.contact_id, v.id",
            one("v.contact_id")
        ),
    )? {
        channels.entry(c.contact_id).or_insert(c.channel);
    }
    let changes: Vec<Change> = load(
        conn,
        &format!(
            "SELECT contact_id, to_id, at FROM status_history WHERE 1 = 1{} ORDER BY contact_id, at, id",
            one("contact_id")
        ),
    )?;
    let mut attrs: HashMap<i32, HashMap<i32, AttrFact>> = HashMap::new();
    for v in load::<AttrValue>(
        conn,
        &format!(
            "SELECT v.contact_id AS contact_id, v.attribute_id AS attribute_id, a.kind AS kind, \
             v.value_text AS value_text, v.value_number AS value_number \
             FROM contact_attribute_values v JOIN custom_attributes a ON a.id = v.attribute_id \
             WHERE a.kind IN ('number', 'boolean', 'list'){}",
            one("v.contact_id")
        ),
    )? {
        let fact = match (v.kind.as_str(), v.value_number) {
            ("number", Some(n)) => AttrFact::Number(n),
            ("boolean", _) => AttrFact::Boolean(v.value_text.eq_ignore_ascii_case("true")),
            ("list", _) => AttrFact::Choice(v.value_text),
            _ => continue,
        };
        attrs.entry(v.contact_id).or_default().insert(v.attribute_id, fact);
    }

    let mut by_id: HashMap<i32, Counts> = counts.into_iter().map(|c| (c.contact_id, c)).collect();
    let mut facts: Vec<Facts> = contacts
        .into_iter()
        .map(|c| {
            let counted = by_id.remove(&c.id);
            let closed = closed_at.get(&c.id).copied();
            let first_in = counted.as_ref().and_then(|n| n.first_in);
            let first_reply_hours = match (first_in, replies.get(&c.id)) {
                (Some(asked), Some(&answered)) if closed.is_none_or(|k| answered <= k) => {
                    Some((answered - asked).num_seconds().max(0) as f64 / 3600.0)
                }
                _ => None,
            };
            Facts {
                contact_id: c.id,
                status_id: c.status_id,
                lead_score: c.lead_score,
                channel: channels.remove(&c.id),
                first_reply_hours,
                messages_in: counted.as_ref().map_or(0, |n| n.inbound),
                messages_out: counted.as_ref().map_or(0, |n| n.outbound),
                stage_days: [0.0; 4],
                attributes: attrs.remove(&c.id).unwrap_or_default(),
            }
        })
        .collect();
    add_stage_days(&mut facts, &changes, &closed_at, now);
    Ok(facts)
}

/// Folds the history (in contact, time order) into days per stage: each
/// change's stage lasts until the next change; the last one, if the contact
/// is still open, until now.
fn add_stage_days(
    facts: &mut [Facts],
    changes: &[Change],
    closed_at: &HashMap<i32, NaiveDateTime>,
    now: NaiveDateTime,
) {
    let index: HashMap<i32, usize> = facts.iter().enumerate().map(|(i, f)| (f.contact_id, i)).collect();
    let stage = |status: i32| TIMED_STAGES.iter().position(|s| s.id() == status);
    for (i, change) in changes.iter().enumerate() {
        let Some(&at) = index.get(&change.contact_id) else {
            continue;
        };
        let Some(slot) = stage(change.to_id) else { continue };
        let end = match changes.get(i + 1) {
            Some(next) if next.contact_id == change.contact_id => next.at,
            _ if closed_at.contains_key(&change.contact_id) => continue,
            _ => now,
        };
        facts[at].stage_days[slot] += (end - change.at).num_seconds().max(0) as f64 / 86_400.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_700_000_000 + day * 86_400, 0)
            .unwrap()
            .naive_utc()
    }

    fn facts(id: i32) -> Facts {
        Facts {
            contact_id: id,
            status_id: 1,
            lead_score: None,
            channel: None,
            first_reply_hours: None,
            messages_in: 0,
            messages_out: 0,
            stage_days: [0.0; 4],
            attributes: HashMap::new(),
        }
    }

    #[test]
    fn stage_days_run_to_the_next_change_then_to_now_unless_closed() {
        let change = |contact_id, to: LeadStatus, day| Change {
            contact_id,
            to_id: to.id(),
            at: at(day),
        };
        let changes = vec![
            change(1, LeadStatus::New, 0),
            change(1, LeadStatus::Reach, 2),
            change(1, LeadStatus::Won, 7),
            change(2, LeadStatus::New, 1),
            change(2, LeadStatus::Negotiating, 4),
        ];
        let mut all = vec![facts(1), facts(2)];
        let closed = HashMap::from([(1, at(7))]);
        add_stage_days(&mut all, &changes, &closed, at(10));
        assert_eq!(all[0].stage_days, [2.0, 5.0, 0.0, 0.0]);
        assert_eq!(all[1].stage_days, [3.0, 0.0, 0.0, 6.0]);
    }
}
