//! Follow-up reminders and the follow-up queue (docs/decisions.md, "Pipeline insight"): whom each
//! agent should talk to next, and why.
//!
//! The queue holds an agent's open contacts (New, Reach, Qualified,
//! Negotiating; not trashed), ordered by points that add up what matters, so
//! every row can say where its place comes from (docs/decisions.md,
//! "The follow-up queue"):
//!
//! | what | points |
//! |---|---|
//! | a follow-up reminder that is due | 1,000, plus 5 per hour overdue (up to 72 h) |
//! | the customer wrote last and waits for a reply | 400, plus 5 per hour waiting (up to 48 h) |
//! | the stage | Negotiating 300, Qualified 200, Reach 100, New 50 |
//! | time since the last contact | 5 per day (up to 30 days) |
//!
//! A due reminder always comes first; among the rest, a customer waiting for
//! an answer outranks any stage. Ties go to the older contact (lower ID).

use std::collections::HashMap;

use chrono::{Duration, NaiveDateTime};
use diesel::dsl::max;
use diesel::prelude::*;

use super::status::LeadStatus;
use super::users::Actor;
use crate::db::schema::{contacts, conversations};
use crate::db::AnyConnection;
use crate::error::AppError;

/// The stages a queue holds: those where a conversation can still move on.
pub const OPEN: [LeadStatus; 4] = [
    LeadStatus::New,
    LeadStatus::Reach,
    LeadStatus::Qualified,
    LeadStatus::Negotiating,
];

/// How many rows the queue shows.
pub const QUEUE_SIZE: usize = 50;

/// Sets (`Some`) or clears (`None`) a contact's follow-up reminder. Every
/// role may: it is part of editing a contact (docs/decisions.md, "Roles"). A personal
/// reminder, so it is not in the team's activity log.
pub fn set(conn: &mut AnyConnection, contact_id: i32, at: Option<NaiveDateTime>) -> Result<(), AppError> {
    let changed = diesel::update(contacts::table.find(contact_id).filter(contacts::deleted_at.is_null()))
        .set(contacts::follow_up_at.eq(at))
        .execute(conn)?;
    if changed == 0 {
        return Err(AppError::not_found("contact"));
    }
    Ok(())
}

/// What the queue knows of one contact.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: i32,
    pub name: String,
    pub status: LeadStatus,
    pub follow_up_at: Option<NaiveDateTime>,
    /// The last activity (message either way, or edit), else its creation.
    pub last_contact_at: NaiveDateTime,
    /// The latest message from the customer, and ours, over all conversations.
    pub last_inbound_at: Option<NaiveDateTime>,
    pub last_outbound_at: Option<NaiveDateTime>,
}

/// One row of the queue: the contact, its points and the reasons for them.
#[derive(Debug, Clone)]
pub struct Entry {
    pub candidate: Candidate,
    pub points: i64,
    pub reasons: Vec<String>,
}

fn hours(d: Duration) -> i64 {
    d.num_hours().max(0)
}

fn spoken(d: Duration) -> String {
    let mins = d.num_minutes().max(0);
    match mins {
        m if m < 60 => format!("{m} min"),
        m if m < 48 * 60 => format!("{} h", m / 60),
        m => format!("{} days", m / (24 * 60)),
    }
}

/// The stage's weight in the queue.
pub fn stage_points(status: LeadStatus) -> i64 {
    match status {
        LeadStatus::Negotiating => 300,
        LeadStatus::Qualified => 200,
        LeadStatus::Reach => 100,
        LeadStatus::New => 50,
        _ => 0,
    }
}

/// Ranks one contact at `now`: the points and, in order of weight, why.
pub fn rank(candidate: Candidate, now: NaiveDateTime) -> Entry {
    let mut points = 0;
    let mut reasons = Vec::new();
    match candidate.follow_up_at {
        Some(at) if at <= now => {
            points += 1000 + 5 * hours(now - at).min(72);
            reasons.push(if now - at < Duration::minutes(1) {
                "Follow-up due now".to_string()
            } else {
                format!("Follow-up was due {} ago", spoken(now - at))
            });
        }
        Some(at) => reasons.push(format!("Follow-up due in {}", spoken(at - now))),
        None => {}
    }
    let waiting = match (candidate.last_inbound_at, candidate.last_outbound_at) {
        (Some(i), Some(o)) if i > o => Some(i),
        (Some(i), None) => Some(i),
        _ => None,
    };
    if let Some(since) = waiting {
        points += 400 + 5 * hours(now - since).min(48);
        reasons.push(format!("Waiting for a reply for {}", spoken(now - since)));
    }
    points += stage_points(candidate.status);
    reasons.push(candidate.status.name().to_string());
    let quiet = now - candidate.last_contact_at;
    points += 5 * quiet.num_days().clamp(0, 30);
    if quiet >= Duration::days(1) {
        reasons.push(format!("No contact for {}", spoken(quiet)));
    }
    Entry {
        candidate,
        points,
        reasons,
    }
}

/// The queue of `agent_id`: the first `QUEUE_SIZE` entries and how many
/// open contacts the agent holds. Agents see only their own queue; team
/// leads and admins may open anyone's.
pub fn queue(
    conn: &mut AnyConnection,
    actor: &Actor,
    agent_id: i32,
    now: NaiveDateTime,
) -> Result<(Vec<Entry>, usize), AppError> {
    if agent_id != actor.id {
        actor.require(actor.role.can_assign(), "see another member's follow-up queue")?;
    }
    let open: Vec<i32> = OPEN.iter().map(|s| s.id()).collect();
    let mine = contacts::table
        .filter(contacts::owner_id.eq(agent_id))
        .filter(contacts::deleted_at.is_null())
        .filter(contacts::status_id.eq_any(open.clone()));
    type Row = (
        i32,
        String,
        i32,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        NaiveDateTime,
    );
    let rows: Vec<Row> = mine
        .select((
            contacts::id,
            contacts::name,
            contacts::status_id,
            contacts::follow_up_at,
            contacts::last_activity_at,
            contacts::created_at,
        ))
        .load(conn)?;
    // The latest message each way, per contact, in one grouped read.
    let latest: Vec<(i32, Option<NaiveDateTime>, Option<NaiveDateTime>)> = conversations::table
        .inner_join(contacts::table)
        .filter(contacts::owner_id.eq(agent_id))
        .filter(contacts::deleted_at.is_null())
        .filter(contacts::status_id.eq_any(open))
        .group_by(conversations::contact_id)
        .select((
            conversations::contact_id,
            max(conversations::last_incoming_at),
            max(conversations::last_outbound_at),
        ))
        .load(conn)?;
    let latest: HashMap<i32, (Option<NaiveDateTime>, Option<NaiveDateTime>)> =
        latest.into_iter().map(|(id, i, o)| (id, (i, o))).collect();
    let total = rows.len();
    let mut entries: Vec<Entry> = rows
        .into_iter()
        .map(|(id, name, status_id, follow_up_at, last_activity_at, created_at)| {
            let (last_inbound_at, last_outbound_at) = latest.get(&id).copied().unwrap_or((None, None));
            rank(
                Candidate {
                    id,
                    name,
                    status: LeadStatus::from_id(status_id).unwrap_or(LeadStatus::New),
                    follow_up_at,
                    last_contact_at: last_activity_at.unwrap_or(created_at),
                    last_inbound_at,
                    last_outbound_at,
                },
                now,
            )
        })
        .collect();
    entries.sort_by(|a, b| b.points.cmp(&a.points).then(a.candidate.id.cmp(&b.candidate.id)));
    entries.truncate(QUEUE_SIZE);
    Ok((entries, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000 + h * 3600, 0)
            .unwrap()
            .naive_utc()
    }

    fn candidate(status: LeadStatus) -> Candidate {
        Candidate {
            id: 1,
            name: "x".into(),
            status,
            follow_up_at: None,
            last_contact_at: at(0),
            last_inbound_at: None,
            last_outbound_at: None,
        }
    }

    #[test]
    fn a_due_reminder_outranks_a_waiting_customer_who_outranks_any_stage() {
        let now = at(10);
        let due = rank(
            Candidate {
                follow_up_at: Some(at(9)),
                ..candidate(LeadStatus::New)
            },
            now,
        );
        let waiting = rank(
            Candidate {
                last_inbound_at: Some(at(9)),
                last_outbound_at: Some(at(8)),
                ..candidate(LeadStatus::Negotiating)
            },
            now,
        );
        let negotiating = rank(candidate(LeadStatus::Negotiating), now);
        assert_eq!(due.points, 1000 + 5 + 50);
        assert_eq!(due.reasons, ["Follow-up was due 1 h ago", "New"]);
        assert_eq!(waiting.points, 400 + 5 + 300);
        assert_eq!(waiting.reasons, ["Waiting for a reply for 1 h", "Negotiating"]);
        assert_eq!(negotiating.points, 300);
        assert!(due.points > waiting.points && waiting.points > negotiating.points);
    }

    #[test]
    fn answered_customers_and_future_reminders_add_nothing_but_are_said() {
        let now = at(0) + Duration::days(3);
        let e = rank(
            Candidate {
                follow_up_at: Some(now + Duration::hours(5)),
                last_inbound_at: Some(at(0)),
                last_outbound_at: Some(at(1)),
                ..candidate(LeadStatus::Qualified)
            },
            now,
        );
        assert_eq!(e.points, 200 + 3 * 5);
        assert_eq!(
            e.reasons,
            ["Follow-up due in 5 h", "Qualified", "No contact for 3 days"]
        );
    }

    #[test]
    fn overdue_and_waiting_points_stop_growing() {
        let now = at(1000);
        let e = rank(
            Candidate {
                follow_up_at: Some(at(0)),
                last_inbound_at: Some(at(0)),
                last_contact_at: at(0),
                ..candidate(LeadStatus::Reach)
            },
            now,
        );
        assert_eq!(e.points, (1000 + 5 * 72) + (400 + 5 * 48) + 100 + 5 * 30);
    }
}
