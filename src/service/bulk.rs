//! Bulk actions on selected contacts or on everything a list filter matches
//! (issue 9): set status, assign, spread evenly over agents, add or remove a
//! label, delete into the trash. Team leads and admins only.
//!
//! Each action is one transaction and one entry in the activity log. The
//! work is done a chunk of IDs per statement (`INSERT … SELECT` for the
//! status history), so 100,000 contacts take a few hundred statements, not
//! 100,000 round trips.

use std::collections::HashMap;

use chrono::Utc;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Integer, Nullable, Text, Timestamp};

use super::activity::{self, Action};
use super::contacts::Contact;
use super::listing::{self, ContactQuery, OwnerFilter};
use super::status::LeadStatus;
use super::users::{Actor, Role};
use super::{trash, webhooks};
use crate::db::schema::{contact_labels, contacts, labels, status_history, users};
use crate::db::{write_transaction, AnyConnection};
use crate::error::AppError;

/// IDs per statement, well under both backends' parameter limits.
const CHUNK: usize = 5_000;
/// The most contacts one selection of IDs may name (a page's checkboxes are
/// 50; "everything matching" has no such limit).
pub const MAX_IDS: usize = 10_000;

/// Which contacts an action applies to.
#[derive(Debug, Clone)]
pub enum Selection {
    Ids(Vec<i32>),
    /// Everything the list's query matches, whatever page it shows.
    Matching(Box<ContactQuery>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum BulkAction {
    Status(LeadStatus),
    /// `None` takes the contacts from whoever holds them.
    Assign(Option<i32>),
    /// Evenly over `agents`; with `balance`, counting what each already holds.
    Spread {
        agents: Vec<i32>,
        balance: bool,
    },
    LabelAdd(String),
    LabelRemove(String),
    Delete,
}

impl BulkAction {
    /// Reads the form's `action`, `value`, `agents` and `balance` fields
    /// (interface.md).
    pub fn parse(action: &str, value: &str, agents: &[String], balance: bool) -> Result<Self, AppError> {
        let value = value.trim();
        match action {
            "status" => LeadStatus::parse(value)
                .map(Self::Status)
                .map_err(|e| AppError::field("value", e)),
            "assign" => match value {
                "none" | "" => Ok(Self::Assign(None)),
                id => id
                    .parse()
                    .map(|id| Self::Assign(Some(id)))
                    .map_err(|_| AppError::field("value", "must be a user ID or none")),
            },
            "spread" => {
                let mut ids = Vec::new();
                for agent in agents {
                    let id: i32 = agent
                        .trim()
                        .parse()
                        .map_err(|_| AppError::field("agents", "must be user IDs"))?;
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
                if ids.is_empty() {
                    return Err(AppError::field("agents", "choose at least one agent to spread over"));
                }
                Ok(Self::Spread { agents: ids, balance })
            }
            "label_add" | "label_remove" => {
                let name = super::labels::parse_name(value).map_err(|e| AppError::field("value", e))?;
                Ok(if action == "label_add" {
                    Self::LabelAdd(name)
                } else {
                    Self::LabelRemove(name)
                })
            }
            "delete" => Ok(Self::Delete),
            other => Err(AppError::field(
                "action",
                format!(
                    "\"{}\" is not a bulk action (status, assign, spread, label_add, label_remove, delete)",
                    other.chars().take(40).collect::<String>()
                ),
            )),
        }
    }

    /// The sentence the confirmation and the result use, e.g. "set the status to Won".
    pub fn describe(&self, names: &HashMap<i32, String>) -> String {
        let name = |id: &i32| names.get(id).cloned().unwrap_or_else(|| format!("user #{id}"));
        match self {
            Self::Status(s) => format!("set the status to {}", s.name()),
            Self::Assign(Some(id)) => format!("assign to {}", name(id)),
            Self::Assign(None) => "take from their owners (unassigned)".into(),
            Self::Spread { agents, balance } => format!(
                "spread evenly over {}{}",
                agents.iter().map(name).collect::<Vec<_>>().join(", "),
                if *balance {
                    ", counting what each already holds"
                } else {
                    ""
                }
            ),
            Self::LabelAdd(l) => format!("add the label {l}"),
            Self::LabelRemove(l) => format!("remove the label {l}"),
            Self::Delete => "delete into the trash".into(),
        }
    }

    fn log_action(&self) -> Action {
        match self {
            Self::Status(_) => Action::BulkStatus,
            Self::Assign(_) => Action::BulkAssign,
            Self::Spread { .. } => Action::BulkSpread,
            Self::LabelAdd(_) => Action::BulkLabelAdd,
            Self::LabelRemove(_) => Action::BulkLabelRemove,
            Self::Delete => Action::Delete,
        }
    }
}

/// What an action did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Contacts the selection held.
    pub matched: usize,
    /// Those the action changed (a contact that already had the status is
    /// matched but not changed).
    pub changed: usize,
    /// For a spread: how many each agent got, in the order asked.
    pub spread: Vec<(i32, usize)>,
}

/// Refuses anyone below team lead (docs/decisions.md, "Roles").
pub fn require(actor: &Actor) -> Result<(), AppError> {
    actor.require(actor.role.can_assign(), "run bulk actions")
}

/// The live contacts of a selection, in ID order. A list query without an
/// owner filter takes the list's default for the actor's role.
pub fn selected_ids(
    conn: &mut AnyConnection,
    actor: &Actor,
    selection: &Selection,
    calling_code: u16,
) -> Result<Vec<i32>, AppError> {
    match selection {
        Selection::Ids(ids) => {
            if ids.len() > MAX_IDS {
                return Err(AppError::bad_request(format!(
                    "at most {MAX_IDS} contacts can be selected one by one; use \"all matching\" for more"
                )));
            }
            let mut found = Vec::with_capacity(ids.len());
            for chunk in ids.chunks(CHUNK) {
                let mut some: Vec<i32> = contacts::table
                    .filter(contacts::id.eq_any(chunk))
                    .filter(contacts::deleted_at.is_null())
                    .select(contacts::id)
                    .load(conn)?;
                found.append(&mut some);
            }
            found.sort_unstable();
            found.dedup();
            Ok(found)
        }
        Selection::Matching(query) => {
            let mut query = query.clone();
            query.cursor = None;
            if query.owner.is_none() {
                query.owner = Some(if actor.role == Role::Agent {
                    OwnerFilter::Me
                } else {
                    OwnerFilter::All
                });
            }
            listing::matching_ids(conn, &query, actor.id, calling_code)
        }
    }
}

/// Runs `action` on the selection, in one transaction.
pub fn run(
    conn: &mut AnyConnection,
    actor: &Actor,
    action: &BulkAction,
    selection: &Selection,
    calling_code: u16,
) -> Result<Outcome, AppError> {
    require(actor)?;
    write_transaction(conn, |conn| {
        let ids = selected_ids(conn, actor, selection, calling_code)?;
        let mut outcome = Outcome {
            matched: ids.len(),
            changed: 0,
            spread: Vec::new(),
        };
        match action {
            BulkAction::Status(status) => outcome.changed = set_status(conn, actor, &ids, *status)?,
            BulkAction::Assign(owner) => {
                if let Some(owner) = owner {
                    check_members(conn, &[*owner])?;
                }
                outcome.changed = assign(conn, &ids, *owner)?;
            }
            BulkAction::Spread { agents, balance } => {
                check_members(conn, agents)?;
                outcome.spread = spread(conn, &ids, agents, *balance)?;
                outcome.changed = outcome.spread.iter().map(|(_, n)| n).sum();
            }
            BulkAction::LabelAdd(name) => {
                let label = label_id(conn, name)?;
                outcome.changed = add_label(conn, &ids, label)?;
            }
            BulkAction::LabelRemove(name) => {
                let label = label_id(conn, name)?;
                outcome.changed = remove_label(conn, &ids, label)?;
            }
            BulkAction::Delete => outcome.changed = trash::move_to_trash(conn, actor, &ids)?,
        }
        let names = user_names(conn)?;
        let summary = format!(
            "{} on {} contacts ({} changed)",
            action.describe(&names),
            outcome.matched,
            outcome.changed
        );
        let single = (ids.len() == 1).then(|| ids[0]);
        activity::record(
            conn,
            Some(actor),
            action.log_action(),
            single,
            outcome.changed,
            &summary,
        )?;
        Ok(outcome)
    })
}

/// Team members' names by ID, for the sentences.
pub fn user_names(conn: &mut AnyConnection) -> Result<HashMap<i32, String>, AppError> {
    Ok(users::table
        .select((users::id, users::name))
        .load::<(i32, String)>(conn)?
        .into_iter()
        .collect())
}

fn check_members(conn: &mut AnyConnection, ids: &[i32]) -> Result<(), AppError> {
    let enabled: i64 = users::table
        .filter(users::id.eq_any(ids))
        .filter(users::disabled_at.is_null())
        .count()
        .get_result(conn)?;
    if enabled as usize != ids.len() {
        return Err(AppError::field(
            "value",
            "names someone who is not an enabled member of the team",
        ));
    }
    Ok(())
}

fn label_id(conn: &mut AnyConnection, name: &str) -> Result<i32, AppError> {
    labels::table
        .filter(labels::name.eq(name))
        .select(labels::id)
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::field("value", format!("there is no label named {name}")))
}

/// Each changed contact gets its history entry (source `manual`, the user),
/// written from the rows themselves before they change.
fn set_status(conn: &mut AnyConnection, actor: &Actor, ids: &[i32], to: LeadStatus) -> Result<usize, AppError> {
    let now = Utc::now().naive_utc();
    let announce = webhooks::wanted(conn, "contact.status_changed")?;
    let mut changed = 0;
    for chunk in ids.chunks(CHUNK) {
        let moving = contacts::table
            .filter(contacts::id.eq_any(chunk))
            .filter(contacts::status_id.ne(to.id()));
        let before: Vec<(i32, i32)> = if announce {
            moving.clone().select((contacts::id, contacts::status_id)).load(conn)?
        } else {
            Vec::new()
        };
        diesel::insert_into(status_history::table)
            .values(moving.clone().select((
                contacts::id,
                contacts::status_id.nullable(),
                sql::<Integer>("").bind::<Integer, _>(to.id()),
                sql::<Text>("").bind::<Text, _>("manual"),
                sql::<Nullable<Integer>>("").bind::<Nullable<Integer>, _>(Some(actor.id)),
                sql::<Timestamp>("").bind::<Timestamp, _>(now),
            )))
            .into_columns((
                status_history::contact_id,
                status_history::from_id,
                status_history::to_id,
                status_history::source,
                status_history::user_id,
                status_history::at,
            ))
            .execute(conn)?;
        changed += diesel::update(moving)
            .set((contacts::status_id.eq(to.id()), contacts::updated_at.eq(now)))
            .execute(conn)?;
        for (id, from) in before {
            let contact: Contact = contacts::table.find(id).select(Contact::as_select()).first(conn)?;
            webhooks::emit(
                conn,
                "contact.status_changed",
                &contact,
                serde_json::json!({"status_id": from}),
                None,
            )?;
        }
    }
    Ok(changed)
}

fn assign(conn: &mut AnyConnection, ids: &[i32], owner: Option<i32>) -> Result<usize, AppError> {
    let now = Utc::now().naive_utc();
    let mut changed = 0;
    for chunk in ids.chunks(CHUNK) {
        let others = contacts::table.filter(contacts::id.eq_any(chunk));
        changed += match owner {
            Some(owner) => diesel::update(others.filter(contacts::owner_id.ne(owner).or(contacts::owner_id.is_null())))
                .set((contacts::owner_id.eq(owner), contacts::updated_at.eq(now)))
                .execute(conn)?,
            None => diesel::update(others.filter(contacts::owner_id.is_not_null()))
                .set((contacts::owner_id.eq(None::<i32>), contacts::updated_at.eq(now)))
                .execute(conn)?,
        };
    }
    Ok(changed)
}

/// How many of `n` contacts each agent gets. Without `balance`, `n` split as
/// evenly as it goes, the first agents taking one more (61 over 3: 21, 20,
/// 20). With `balance`, each new contact goes to whoever then holds the
/// fewest (`held`, in the agents' order), so the totals end as even as the
/// numbers allow; an agent already above that level gets none.
pub fn shares(n: usize, held: &[usize], balance: bool) -> Vec<usize> {
    let k = held.len();
    if k == 0 {
        return Vec::new();
    }
    if !balance {
        return (0..k).map(|i| n / k + usize::from(i < n % k)).collect();
    }
    // Water filling: raise the lowest totals to a common level.
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by_key(|&i| (held[i], i));
    let mut given = vec![0; k];
    let mut left = n;
    let mut level = held[order[0]];
    let mut width = 1;
    while left > 0 {
        // Agents at the current level: the `width` lowest.
        while width < k && held[order[width]] <= level {
            width += 1;
        }
        let next = if width < k { held[order[width]] } else { usize::MAX };
        let room = (next - level).saturating_mul(width);
        if room >= left {
            let each = left / width;
            let extra = left % width;
            for (j, &i) in order[..width].iter().enumerate() {
                given[i] = level + each + usize::from(j < extra) - held[i];
            }
            left = 0;
        } else {
            left -= room;
            level = next;
            for &i in &order[..width] {
                given[i] = level - held[i];
            }
        }
    }
    given
}

fn spread(conn: &mut AnyConnection, ids: &[i32], agents: &[i32], balance: bool) -> Result<Vec<(i32, usize)>, AppError> {
    let held: Vec<usize> = if balance {
        // What each holds besides the contacts being spread.
        let mut held = Vec::with_capacity(agents.len());
        for &agent in agents {
            let all: i64 = contacts::table
                .filter(contacts::owner_id.eq(agent))
                .filter(contacts::deleted_at.is_null())
                .count()
                .get_result(conn)?;
            let mut among = 0i64;
            for chunk in ids.chunks(CHUNK) {
                among += contacts::table
                    .filter(contacts::id.eq_any(chunk))
                    .filter(contacts::owner_id.eq(agent))
                    .count()
                    .get_result::<i64>(conn)?;
            }
            held.push((all - among) as usize);
        }
        held
    } else {
        vec![0; agents.len()]
    };
    let shares = shares(ids.len(), &held, balance);
    // Dealt in turn, so each agent gets a mix of old and new contacts.
    let mut piles: Vec<Vec<i32>> = shares.iter().map(|&n| Vec::with_capacity(n)).collect();
    let mut remaining = shares.clone();
    let mut turn = 0;
    for &id in ids {
        while remaining[turn] == 0 {
            turn = (turn + 1) % agents.len();
        }
        piles[turn].push(id);
        remaining[turn] -= 1;
        turn = (turn + 1) % agents.len();
    }
    for (agent, pile) in agents.iter().zip(&piles) {
        assign(conn, pile, Some(*agent))?;
    }
    Ok(agents.iter().copied().zip(shares).collect())
}

fn add_label(conn: &mut AnyConnection, ids: &[i32], label: i32) -> Result<usize, AppError> {
    let mut added = 0;
    for chunk in ids.chunks(CHUNK) {
        let rows = contacts::table
            .filter(contacts::id.eq_any(chunk))
            .filter(diesel::dsl::not(diesel::dsl::exists(
                contact_labels::table
                    .filter(contact_labels::contact_id.eq(contacts::id))
                    .filter(contact_labels::label_id.eq(label)),
            )))
            .select((contacts::id, sql::<Integer>("").bind::<Integer, _>(label)));
        added += diesel::insert_into(contact_labels::table)
            .values(rows)
            .into_columns((contact_labels::contact_id, contact_labels::label_id))
            .execute(conn)?;
    }
    Ok(added)
}

fn remove_label(conn: &mut AnyConnection, ids: &[i32], label: i32) -> Result<usize, AppError> {
    let mut removed = 0;
    for chunk in ids.chunks(CHUNK) {
        removed += diesel::delete(
            contact_labels::table
                .filter(contact_labels::label_id.eq(label))
                .filter(contact_labels::contact_id.eq_any(chunk)),
        )
        .execute(conn)?;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_even_spread_gives_the_first_agents_the_extra_ones() {
        assert_eq!(shares(61, &[0, 0, 0], false), vec![21, 20, 20]);
        assert_eq!(shares(60, &[5, 0, 9], false), vec![20, 20, 20]);
        assert_eq!(shares(2, &[0, 0, 0], false), vec![1, 1, 0]);
        assert_eq!(shares(5, &[], false), Vec::<usize>::new());
    }

    #[test]
    fn a_balanced_spread_evens_out_the_totals() {
        // 30 new over agents holding 10, 0 and 5: totals 15, 15, 15.
        assert_eq!(shares(30, &[10, 0, 5], true), vec![5, 15, 10]);
        // Someone far ahead gets nothing.
        assert_eq!(shares(10, &[100, 0, 0], true), vec![0, 5, 5]);
        // Uneven remainders go to the lowest first.
        let given = shares(7, &[1, 0, 0], true);
        assert_eq!(given.iter().sum::<usize>(), 7);
        let totals: Vec<usize> = given.iter().zip([1, 0, 0]).map(|(g, h)| g + h).collect();
        assert!(
            totals.iter().max().unwrap() - totals.iter().min().unwrap() <= 1,
            "{totals:?}"
        );
        assert_eq!(shares(0, &[3, 1], true), vec![0, 0]);
    }
}
