//! Merging duplicates (docs/decisions.md, "Merging duplicates"): contact B collapses into contact A in
//! one transaction, and the merge log keeps what undo needs to give B back.
//!
//! The order inside a merge matters: B's rows move to A *before* B is
//! deleted (everything attached to a contact cascades on delete), and A's
//! fields are written *after* B is gone, so A can take B's email or phone
//! without tripping the unique indexes.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Duration, NaiveDateTime, SubsecRound, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::attributes::{self, Definition, Value};
use super::contacts::{self as contact_service, Contact};
use super::status::{LeadStatus, StatusSource};
use super::users::Actor;
use super::webhooks;
use crate::db::schema::{
    contact_identities, contact_labels, contact_opt_outs, contact_scores, contacts, conversations, inboxes, labels,
    merges, messages, notes, status_history, users,
};
use crate::db::{write_transaction, AnyConnection};
use crate::error::AppError;

/// How long a merge can be undone.
pub const UNDO_DAYS: i64 = 30;

/// The standard attributes a merge decides, by their contact JSON names
/// (what `take_from_other` names), with the label a page shows.
pub const STANDARD_FIELDS: [(&str, &str); 10] = [
    ("name", "Name"),
    ("email", "Email"),
    ("phone", "Phone"),
    ("identifier", "Identifier"),
    ("company", "Company"),
    ("city", "City"),
    ("country", "Country"),
    ("status_id", "Status"),
    ("owner_id", "Owner"),
    ("opted_out", "Opted out"),
];

/// The attributes of a contact that a merge decides, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AsChangeset)]
#[diesel(table_name = contacts, treat_none_as_null = true)]
pub struct MergedFields {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub identifier: Option<String>,
    pub company: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub status_id: i32,
    pub owner_id: Option<i32>,
    pub opted_out_at: Option<NaiveDateTime>,
}

impl MergedFields {
    fn of(c: &Contact) -> Self {
        Self {
            name: c.name.clone(),
            email: c.email.clone(),
            phone: c.phone.clone(),
            identifier: c.identifier.clone(),
            company: c.company.clone(),
            city: c.city.clone(),
            country: c.country.clone(),
            status_id: c.status_id,
            owner_id: c.owner_id,
            opted_out_at: c.opted_out_at,
        }
    }

    /// A's value where it has one, else B's; B's where the user chose it.
    fn merge(kept: &Self, other: &Self, take: &BTreeSet<String>) -> Self {
        fn pick<T: Clone>(kept: Option<&T>, other: Option<&T>, take_other: bool) -> Option<T> {
            match (kept, other) {
                (Some(k), Some(o)) => Some(if take_other { o } else { k }.clone()),
                (k, o) => k.or(o).cloned(),
            }
        }
        let t = |name: &str| take.contains(name);
        Self {
            name: if t("name") {
                other.name.clone()
            } else {
                kept.name.clone()
            },
            email: pick(kept.email.as_ref(), other.email.as_ref(), t("email")),
            phone: pick(kept.phone.as_ref(), other.phone.as_ref(), t("phone")),
            identifier: pick(kept.identifier.as_ref(), other.identifier.as_ref(), t("identifier")),
            company: pick(kept.company.as_ref(), other.company.as_ref(), t("company")),
            city: pick(kept.city.as_ref(), other.city.as_ref(), t("city")),
            country: pick(kept.country.as_ref(), other.country.as_ref(), t("country")),
            status_id: if t("status_id") {
                other.status_id
            } else {
                kept.status_id
            },
            owner_id: pick(kept.owner_id.as_ref(), other.owner_id.as_ref(), t("owner_id")),
            opted_out_at: pick(kept.opted_out_at.as_ref(), other.opted_out_at.as_ref(), t("opted_out")),
        }
    }

    /// Each field's value as a page shows it, by JSON name.
    fn shown(&self, owner_names: &HashMap<i32, String>) -> [(&'static str, String); 10] {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let status = LeadStatus::from_id(self.status_id).map_or_else(String::new, |s| s.name().to_string());
        let owner = self
            .owner_id
            .map(|id| owner_names.get(&id).cloned().unwrap_or_else(|| format!("user #{id}")))
            .unwrap_or_default();
        [
            ("name", self.name.clone()),
            ("email", text(&self.email)),
            ("phone", text(&self.phone)),
            ("identifier", text(&self.identifier)),
            ("company", text(&self.company)),
            ("city", text(&self.city)),
            ("country", text(&self.country)),
            ("status_id", status),
            ("owner_id", owner),
            (
                "opted_out",
                if self.opted_out_at.is_some() {
                    "Yes".into()
                } else {
                    String::new()
                },
            ),
        ]
    }
}

/// One line of the merge preview: A's value, B's, and what A will hold.
#[derive(Debug, Clone)]
pub struct PlanRow {
    /// The name `take_from_other` uses: a JSON name or `custom.<key>`.
    pub field: String,
    pub label: String,
    pub kept: String,
    pub other: String,
    pub result: String,
    /// The result is B's value (chosen, or filling a blank in A).
    pub from_other: bool,
    /// Both have a value and they differ: the user may choose.
    pub choosable: bool,
}

/// What moves from B to A.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Moving {
    pub conversations: i64,
    pub messages: i64,
    pub identities: i64,
    pub notes: i64,
    pub history: i64,
    pub labels: i64,
}

/// A merge worked out but not yet done: the preview the dialog shows, and
/// exactly what `merge` writes.
pub struct MergePlan {
    pub kept: Contact,
    pub other: Contact,
    pub result: MergedFields,
    pub result_values: BTreeMap<i32, Value>,
    pub kept_values: BTreeMap<i32, Value>,
    pub other_values: BTreeMap<i32, Value>,
    pub rows: Vec<PlanRow>,
    pub moving: Moving,
}

/// Checks the names in `take_from_other`: standard JSON names and
/// `custom.<key>` of defined attributes.
fn check_fields(take: &[String], defs: &[Definition]) -> Result<BTreeSet<String>, AppError> {
    let mut chosen = BTreeSet::new();
    for raw in take {
        let name = raw.trim();
        let known = STANDARD_FIELDS.iter().any(|(f, _)| *f == name)
            || name
                .strip_prefix("custom.")
                .is_some_and(|k| defs.iter().any(|d| d.key == k));
        if !known {
            return Err(AppError::field(
                "take_from_other",
                format!("names `{name}`, which is not an attribute of a contact"),
            ));
        }
        chosen.insert(name.to_string());
    }
    Ok(chosen)
}

fn check_pair(kept_id: i32, other_id: i32) -> Result<(), AppError> {
    if kept_id == other_id {
        return Err(AppError::field(
            "other",
            "is this same contact: a contact cannot be merged into itself",
        ));
    }
    Ok(())
}

/// Loads B for a merge: a missing B is a 404 that says so.
fn other_contact(conn: &mut AnyConnection, other_id: i32) -> Result<Contact, AppError> {
    contact_service::get(conn, other_id).map_err(|e| match e {
        AppError::NotFound(_) => AppError::NotFound(format!(
            "Contact #{other_id} does not exist (it may have been deleted or merged already)."
        )),
        e => e,
    })
}

fn owner_names(conn: &mut AnyConnection, ids: &[Option<i32>]) -> Result<HashMap<i32, String>, AppError> {
    let ids: Vec<i32> = ids.iter().flatten().copied().collect();
    Ok(users::table
        .filter(users::id.eq_any(ids))
        .select((users::id, users::name))
        .load::<(i32, String)>(conn)?
        .into_iter()
        .collect())
}

/// Works out merging `other_id` (B) into `kept_id` (A), with B's values
/// for the fields named in `take_from_other`.
pub fn plan(
    conn: &mut AnyConnection,
    kept_id: i32,
    other_id: i32,
    take_from_other: &[String],
) -> Result<MergePlan, AppError> {
    check_pair(kept_id, other_id)?;
    let kept = contact_service::get(conn, kept_id)?;
    let other = other_contact(conn, other_id)?;
    let definitions = attributes::definitions(conn)?;
    let take = check_fields(take_from_other, &definitions)?;
    let mut values = attributes::values_of(conn, &definitions, &[kept_id, other_id])?;
    let kept_values = values.remove(&kept_id).unwrap_or_default();
    let other_values = values.remove(&other_id).unwrap_or_default();

    let (kept_fields, other_fields) = (MergedFields::of(&kept), MergedFields::of(&other));
    let result = MergedFields::merge(&kept_fields, &other_fields, &take);
    let names = owner_names(conn, &[kept.owner_id, other.owner_id])?;
    let mut rows: Vec<PlanRow> = kept_fields
        .shown(&names)
        .into_iter()
        .zip(other_fields.shown(&names))
        .zip(result.shown(&names))
        .zip(STANDARD_FIELDS)
        .map(|((((field, k), (_, o)), (_, r)), (_, label))| PlanRow {
            from_other: !o.is_empty() && r == o && r != k,
            choosable: !k.is_empty() && !o.is_empty() && k != o,
            field: field.to_string(),
            label: label.to_string(),
            kept: k,
            other: o,
            result: r,
        })
        .collect();

    let mut result_values = BTreeMap::new();
    for def in &definitions {
        let (k, o) = (kept_values.get(&def.id), other_values.get(&def.id));
        let field = format!("custom.{}", def.key);
        let chosen = match (k, o) {
            (Some(k), Some(o)) => Some(if take.contains(&field) { o } else { k }),
            (k, o) => k.or(o),
        };
        if let Some(v) = chosen {
            result_values.insert(def.id, v.clone());
        }
        let shown = |v: Option<&Value>| v.map(Value::display).unwrap_or_default();
        let (k, o, r) = (shown(k), shown(o), shown(chosen));
        rows.push(PlanRow {
            from_other: !o.is_empty() && r == o && r != k,
            choosable: !k.is_empty() && !o.is_empty() && k != o,
            label: def.display_name.clone(),
            field,
            kept: k,
            other: o,
            result: r,
        });
    }
    let moving = moving(conn, other_id)?;
    Ok(MergePlan {
        kept,
        other,
        result,
        result_values,
        kept_values,
        other_values,
        rows,
        moving,
    })
}

fn moving(conn: &mut AnyConnection, other_id: i32) -> Result<Moving, AppError> {
    Ok(Moving {
        conversations: conversations::table
            .filter(conversations::contact_id.eq(other_id))
            .count()
            .get_result(conn)?,
        messages: messages::table
            .inner_join(conversations::table)
            .filter(conversations::contact_id.eq(other_id))
            .count()
            .get_result(conn)?,
        identities: contact_identities::table
            .filter(contact_identities::contact_id.eq(other_id))
            .count()
            .get_result(conn)?,
        notes: notes::table
            .filter(notes::contact_id.eq(other_id))
            .count()
            .get_result(conn)?,
        history: status_history::table
            .filter(status_history::contact_id.eq(other_id))
            .count()
            .get_result(conn)?,
        labels: contact_labels::table
            .filter(contact_labels::contact_id.eq(other_id))
            .count()
            .get_result(conn)?,
    })
}

/// B exactly as it was, so undo can insert it again with its own ID.
#[derive(Debug, Clone, Serialize, Deserialize, Insertable)]
#[diesel(table_name = contacts)]
struct ContactRow {
    id: i32,
    name: String,
    email: Option<String>,
    phone: Option<String>,
    identifier: Option<String>,
    company: Option<String>,
    city: Option<String>,
    country: Option<String>,
    status_id: i32,
    owner_id: Option<i32>,
    opted_out_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    last_activity_at: Option<NaiveDateTime>,
    // Merge records written before these fields existed read them as unset.
    #[serde(default)]
    follow_up_at: Option<NaiveDateTime>,
    // Kept in `contact_scores`, not in `contacts`: undo writes it back there.
    #[serde(default)]
    #[diesel(skip_insertion)]
    lead_score: Option<i32>,
}

impl From<&Contact> for ContactRow {
    fn from(c: &Contact) -> Self {
        Self {
            id: c.id,
            name: c.name.clone(),
            email: c.email.clone(),
            phone: c.phone.clone(),
            identifier: c.identifier.clone(),
            company: c.company.clone(),
            city: c.city.clone(),
            country: c.country.clone(),
            status_id: c.status_id,
            owner_id: c.owner_id,
            opted_out_at: c.opted_out_at,
            created_at: c.created_at,
            updated_at: c.updated_at,
            last_activity_at: c.last_activity_at,
            follow_up_at: c.follow_up_at,
            lead_score: c.lead_score,
        }
    }
}

/// What the merge log keeps of one merge (the `record` column, as JSON):
/// enough to undo it exactly.
#[derive(Debug, Serialize, Deserialize)]
struct MergeRecord {
    other: ContactRow,
    /// B's custom values: attribute ID and canonical text.
    other_values: Vec<(i32, String)>,
    other_labels: Vec<i32>,
    other_opt_outs: Vec<(i32, NaiveDateTime)>,
    kept_before: MergedFields,
    kept_after: MergedFields,
    /// A's `last_activity_at` and `updated_at`, before and after.
    kept_activity: (Option<NaiveDateTime>, Option<NaiveDateTime>),
    kept_updated: (NaiveDateTime, NaiveDateTime),
    /// A's custom values that the merge changed: (attribute, before, after).
    kept_values: Vec<(i32, Option<String>, Option<String>)>,
    conversations: Vec<i32>,
    identities: Vec<i32>,
    history: Vec<i32>,
    notes: Vec<i32>,
    /// Labels and per-inbox opt-outs A gained from B.
    labels_added: Vec<i32>,
    opt_outs_added: Vec<i32>,
    /// Open conversations the merge resolved (one open per inbox).
    resolved: Vec<i32>,
    /// The status-history entry the merge added, if it changed A's status.
    history_added: Option<i32>,
}

/// Takes the row locks of the contacts a merge or undo touches, in ID
/// order so two merges of the same pair cannot deadlock. SQLite needs none:
/// `write_transaction` is `BEGIN IMMEDIATE`, one writer at a time.
///
/// `FOR UPDATE` (not a no-op UPDATE) so that a message arriving for B waits
/// at its foreign-key check instead of landing on a row about to be deleted.
fn lock_contacts(conn: &mut AnyConnection, ids: &[i32]) -> Result<(), AppError> {
    if let AnyConnection::Postgresql(pg) = conn {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        // Their conversations first: an incoming message updates its
        // conversation and then its contact, so taking the contacts first
        // could deadlock with it.
        diesel::sql_query("SELECT id FROM conversations WHERE contact_id = ANY($1) ORDER BY id FOR UPDATE")
            .bind::<diesel::sql_types::Array<diesel::sql_types::Integer>, _>(&ids)
            .execute(pg)?;
        diesel::sql_query("SELECT id FROM contacts WHERE id = ANY($1) ORDER BY id FOR UPDATE")
            .bind::<diesel::sql_types::Array<diesel::sql_types::Integer>, _>(ids)
            .execute(pg)?;
    }
    Ok(())
}

/// Moves every row of `$table` from contact `$from` to `$to`; the IDs it moved.
macro_rules! move_rows {
    ($conn:expr, $table:ident, $from:expr, $to:expr) => {{
        let ids: Vec<i32> = $table::table
            .filter($table::contact_id.eq($from))
            .select($table::id)
            .load($conn)?;
        diesel::update($table::table.filter($table::contact_id.eq($from)))
            .set($table::contact_id.eq($to))
            .execute($conn)?;
        ids
    }};
}

/// Moves the rows `$ids` of `$table` back from `$from` to `$to`, those made
/// (`$made` column) no later than `$before`.
macro_rules! move_back {
    ($conn:expr, $table:ident, $ids:expr, $from:expr, $to:expr, $made:ident, $before:expr) => {
        diesel::update(
            $table::table
                .filter($table::id.eq_any($ids))
                .filter($table::contact_id.eq($from))
                .filter($table::$made.le($before)),
        )
        .set($table::contact_id.eq($to))
        .execute($conn)?
    };
}

fn insert_history(
    conn: &mut AnyConnection,
    contact_id: i32,
    from: i32,
    to: i32,
    actor: &Actor,
    at: NaiveDateTime,
) -> Result<i32, AppError> {
    Ok(diesel::insert_into(status_history::table)
        .values((
            status_history::contact_id.eq(contact_id),
            status_history::from_id.eq(Some(from)),
            status_history::to_id.eq(to),
            status_history::source.eq(StatusSource::Merge.as_str()),
            status_history::user_id.eq(Some(actor.id)),
            status_history::at.eq(at),
        ))
        .returning(status_history::id)
        .get_result(conn)?)
}

/// Where A and B both have an open conversation in an inbox, resolves the
/// one with the older last message (B's on a tie), so A keeps one open
/// conversation per inbox. Returns the IDs it resolved.
fn resolve_overlaps(conn: &mut AnyConnection, kept_id: i32, other_id: i32) -> Result<Vec<i32>, AppError> {
    let open: Vec<(i32, i32, i32, Option<NaiveDateTime>)> = conversations::table
        .filter(conversations::contact_id.eq_any([kept_id, other_id]))
        .filter(conversations::status.eq("open"))
        .select((
            conversations::id,
            conversations::contact_id,
            conversations::inbox_id,
            conversations::last_message_at,
        ))
        .load(conn)?;
    let mut resolved = Vec::new();
    for a in open.iter().filter(|c| c.1 == kept_id) {
        if let Some(b) = open.iter().find(|c| c.1 == other_id && c.2 == a.2) {
            // `None` (no message yet) sorts first: the older one.
            let older = if a.3 < b.3 { a.0 } else { b.0 };
            resolved.push(older);
        }
    }
    if !resolved.is_empty() {
        diesel::update(conversations::table.filter(conversations::id.eq_any(&resolved)))
            .set(conversations::status.eq("resolved"))
            .execute(conn)?;
    }
    Ok(resolved)
}

/// One entry of the merge log, as the log page and the API show it.
#[derive(Debug, Clone, Queryable)]
pub struct MergeEntry {
    pub id: i32,
    pub kept_id: i32,
    pub merged_id: i32,
    pub kept_name: String,
    pub merged_name: String,
    pub user_name: Option<String>,
    pub created_at: NaiveDateTime,
    pub undone_at: Option<NaiveDateTime>,
    pub undone_by_name: Option<String>,
}

impl MergeEntry {
    /// Whether the undo window is still open (other reasons to refuse are
    /// checked when undo is asked for).
    pub fn undoable(&self, now: NaiveDateTime) -> bool {
        self.undone_at.is_none() && now - self.created_at <= Duration::days(UNDO_DAYS)
    }
}

/// Merges contact `other_id` (B) into `kept_id` (A): A keeps its ID and takes
/// B's values where it has none (or where `take_from_other` says), B's
/// conversations, identities, history, notes, labels and opt-outs move to A,
/// and B is deleted. Returns A as merged and the merge log's ID. Leads and
/// admins only.
pub fn merge(
    conn: &mut AnyConnection,
    actor: &Actor,
    kept_id: i32,
    other_id: i32,
    take_from_other: &[String],
) -> Result<(Contact, i32), AppError> {
    actor.require(actor.role.can_delete(), "merge contacts")?;
    check_pair(kept_id, other_id)?;
    retrying(|| merge_once(conn, actor, kept_id, other_id, take_from_other))
}

/// Runs a transaction again when PostgreSQL aborted it for a deadlock (a
/// merge locks two contacts and writes rows that point at others, so two
/// merges of neighbouring contacts can wait on each other); its second run
/// sees what the winner did.
fn retrying<T>(mut work: impl FnMut() -> Result<T, AppError>) -> Result<T, AppError> {
    let mut attempt = 0;
    loop {
        match work() {
            Err(AppError::Contended(_)) if attempt < 4 => attempt += 1,
            other => return other,
        }
    }
}

fn merge_once(
    conn: &mut AnyConnection,
    actor: &Actor,
    kept_id: i32,
    other_id: i32,
    take_from_other: &[String],
) -> Result<(Contact, i32), AppError> {
    write_transaction(conn, |conn| {
        lock_contacts(conn, &[kept_id, other_id])?;
        let plan = plan(conn, kept_id, other_id, take_from_other)?;
        let (kept, other) = (&plan.kept, &plan.other);
        // Microseconds, as PostgreSQL stores them: undo compares A's
        // `updated_at` with this value.
        let now = Utc::now().naive_utc().trunc_subsecs(6);

        let resolved = resolve_overlaps(conn, kept_id, other_id)?;
        let conversation_ids = move_rows!(conn, conversations, other_id, kept_id);
        let identity_ids = move_rows!(conn, contact_identities, other_id, kept_id);
        let history_ids = move_rows!(conn, status_history, other_id, kept_id);
        let note_ids = move_rows!(conn, notes, other_id, kept_id);

        // Labels and opt-outs are sets: A gains those it lacks.
        let label_sets = contact_labels::table
            .filter(contact_labels::contact_id.eq_any([kept_id, other_id]))
            .select((contact_labels::contact_id, contact_labels::label_id))
            .load::<(i32, i32)>(conn)?;
        let other_labels: Vec<i32> = label_sets.iter().filter(|r| r.0 == other_id).map(|r| r.1).collect();
        let labels_added: Vec<i32> = other_labels
            .iter()
            .copied()
            .filter(|l| !label_sets.contains(&(kept_id, *l)))
            .collect();
        for label_id in &labels_added {
            diesel::insert_into(contact_labels::table)
                .values((
                    contact_labels::contact_id.eq(kept_id),
                    contact_labels::label_id.eq(label_id),
                ))
                .execute(conn)?;
        }
        let opt_outs = contact_opt_outs::table
            .filter(contact_opt_outs::contact_id.eq_any([kept_id, other_id]))
            .select((
                contact_opt_outs::contact_id,
                contact_opt_outs::inbox_id,
                contact_opt_outs::created_at,
            ))
            .load::<(i32, i32, NaiveDateTime)>(conn)?;
        let other_opt_outs: Vec<(i32, NaiveDateTime)> = opt_outs
            .iter()
            .filter(|r| r.0 == other_id)
            .map(|r| (r.1, r.2))
            .collect();
        let opt_outs_added: Vec<(i32, NaiveDateTime)> = other_opt_outs
            .iter()
            .copied()
            .filter(|(inbox, _)| !opt_outs.iter().any(|r| r.0 == kept_id && r.1 == *inbox))
            .collect();
        for (inbox_id, at) in &opt_outs_added {
            diesel::insert_into(contact_opt_outs::table)
                .values((
                    contact_opt_outs::contact_id.eq(kept_id),
                    contact_opt_outs::inbox_id.eq(inbox_id),
                    contact_opt_outs::created_at.eq(at),
                ))
                .execute(conn)?;
        }

        // B goes (its values, labels and opt-outs with it); then A can take
        // B's unique values.
        diesel::delete(contacts::table.find(other_id)).execute(conn)?;
        let activity = kept.last_activity_at.max(other.last_activity_at);
        diesel::update(contacts::table.find(kept_id))
            .set((
                &plan.result,
                contacts::last_activity_at.eq(activity),
                contacts::updated_at.eq(now),
            ))
            .execute(conn)?;
        let mut value_changes = Vec::new();
        let mut kept_values = Vec::new();
        for (attr, value) in &plan.result_values {
            let before = plan.kept_values.get(attr);
            if before != Some(value) {
                value_changes.push((*attr, Some(value.clone())));
                kept_values.push((*attr, before.map(Value::text), Some(value.text())));
            }
        }
        attributes::write_values(conn, kept_id, &value_changes)?;

        let history_added = if plan.result.status_id != kept.status_id {
            Some(insert_history(
                conn,
                kept_id,
                kept.status_id,
                plan.result.status_id,
                actor,
                now,
            )?)
        } else {
            None
        };
        let record = MergeRecord {
            other: ContactRow::from(other),
            other_values: plan.other_values.iter().map(|(a, v)| (*a, v.text())).collect(),
            other_labels,
            other_opt_outs,
            kept_before: MergedFields::of(kept),
            kept_after: plan.result.clone(),
            kept_activity: (kept.last_activity_at, activity),
            kept_updated: (kept.updated_at, now),
            kept_values,
            conversations: conversation_ids,
            identities: identity_ids,
            history: history_ids,
            notes: note_ids,
            labels_added,
            opt_outs_added: opt_outs_added.iter().map(|(inbox, _)| *inbox).collect(),
            resolved,
            history_added,
        };
        let record = serde_json::to_string(&record).map_err(AppError::internal)?;
        let merge_id: i32 = diesel::insert_into(merges::table)
            .values((
                merges::kept_id.eq(kept_id),
                merges::merged_id.eq(other_id),
                merges::kept_name.eq(&kept.name),
                merges::merged_name.eq(&other.name),
                merges::user_id.eq(Some(actor.id)),
                merges::record.eq(record),
                merges::created_at.eq(now),
            ))
            .returning(merges::id)
            .get_result(conn)?;

        super::activity::record(
            conn,
            Some(actor),
            super::activity::Action::Merge,
            Some(kept_id),
            2,
            &format!(
                "merged #{other_id} {} into #{kept_id} {} (merge #{merge_id})",
                other.name, kept.name
            ),
        )?;
        // A's pairs change with its new fields; B's went with it.
        super::duplicates::refresh(conn, kept_id)?;
        let merged = contact_service::get(conn, kept_id)?;
        let mut previous = contact_service::changed_fields(kept, &merged);
        if merged.status_id != kept.status_id {
            previous.insert("status_id".into(), kept.status_id.into());
        }
        webhooks::emit(
            conn,
            "contact.merged",
            &merged,
            previous.into(),
            Some(("merged_id", serde_json::json!(other_id))),
        )?;
        Ok((merged, merge_id))
    })
}

// Who undid a merge: a second join of `users`.
diesel::alias!(users as undoer: Undoer);

/// The merge log, newest first, `limit` entries before `before` (an ID).
pub fn log(conn: &mut AnyConnection, before: Option<i32>, limit: i64) -> Result<Vec<MergeEntry>, AppError> {
    let mut query = merges::table
        .left_join(users::table.on(users::id.nullable().eq(merges::user_id)))
        .left_join(undoer.on(undoer.field(users::id).nullable().eq(merges::undone_by)))
        .select((
            merges::id,
            merges::kept_id,
            merges::merged_id,
            merges::kept_name,
            merges::merged_name,
            users::name.nullable(),
            merges::created_at,
            merges::undone_at,
            undoer.field(users::name).nullable(),
        ))
        .order(merges::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(merges::id.lt(before));
    }
    Ok(query.load(conn)?)
}

fn refused(message: String) -> AppError {
    AppError::Conflict(message)
}

/// Undoes a merge: B comes back with its ID, attributes and the rows that
/// moved; A's fields go back where they still hold what the merge gave them;
/// what the merge resolved is reopened. Returns (A, B). Leads and admins
/// only; refused (409) once undone, after 30 days, or when a later merge of
/// either contact is still in place.
pub fn undo(conn: &mut AnyConnection, actor: &Actor, merge_id: i32) -> Result<(Contact, Contact), AppError> {
    actor.require(actor.role.can_delete(), "undo merges")?;
    retrying(|| undo_once(conn, actor, merge_id))
}

fn undo_once(conn: &mut AnyConnection, actor: &Actor, merge_id: i32) -> Result<(Contact, Contact), AppError> {
    write_transaction(conn, |conn| {
        let (kept_id, merged_id, created_at, undone_at, record): (
            i32,
            i32,
            NaiveDateTime,
            Option<NaiveDateTime>,
            String,
        ) = merges::table
            .find(merge_id)
            .select((
                merges::kept_id,
                merges::merged_id,
                merges::created_at,
                merges::undone_at,
                merges::record,
            ))
            .first(conn)
            .optional()?
            .ok_or_else(|| AppError::not_found(&format!("Merge #{merge_id}")))?;
        lock_contacts(conn, &[kept_id, merged_id])?;
        // Re-read under the lock: a racing undo of the same merge waits above.
        let undone_at: Option<NaiveDateTime> = if undone_at.is_none() {
            merges::table.find(merge_id).select(merges::undone_at).first(conn)?
        } else {
            undone_at
        };
        let now = Utc::now().naive_utc();
        if let Some(at) = undone_at {
            return Err(refused(format!(
                "Merge #{merge_id} was already undone on {}.",
                at.format("%Y-%m-%d %H:%M UTC")
            )));
        }
        if now - created_at > Duration::days(UNDO_DAYS) {
            return Err(refused(format!(
                "Merge #{merge_id} was made on {}; merges can be undone for {UNDO_DAYS} days only.",
                created_at.format("%Y-%m-%d")
            )));
        }
        let later: Option<i32> = merges::table
            .filter(merges::id.gt(merge_id))
            .filter(merges::undone_at.is_null())
            .filter(
                merges::kept_id
                    .eq_any([kept_id, merged_id])
                    .or(merges::merged_id.eq_any([kept_id, merged_id])),
            )
            .select(merges::id)
            .order(merges::id.desc())
            .first(conn)
            .optional()?;
        if let Some(later) = later {
            return Err(refused(format!(
                "A later merge (#{later}) involves the same contacts; undo merge #{later} first."
            )));
        }
        let kept = contact_service::get(conn, kept_id).map_err(|e| match e {
            AppError::NotFound(_) => refused(format!(
                "Contact #{kept_id}, which this merge kept, no longer exists, so the merge cannot be undone."
            )),
            e => e,
        })?;
        let record: MergeRecord =
            serde_json::from_str(&record).map_err(|e| AppError::internal(format!("merge record: {e}")))?;
        // When it happened, by the record (the log's `created_at` only
        // decides the 30 days).
        let merged_at = record.kept_updated.1;
        restore(conn, actor, merge_id, &kept, &record, merged_at, now)
    })
}

fn restore(
    conn: &mut AnyConnection,
    actor: &Actor,
    merge_id: i32,
    kept: &Contact,
    record: &MergeRecord,
    merged_at: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<(Contact, Contact), AppError> {
    let (kept_id, other_id) = (kept.id, record.other.id);
    if contacts::table.find(other_id).count().get_result::<i64>(conn)? > 0 {
        return Err(refused(format!(
            "Contact #{other_id} exists again, so the merge cannot be undone."
        )));
    }
    // A's fields go back only where they still hold what the merge gave.
    let (before, after) = (&record.kept_before, &record.kept_after);
    let now_fields = MergedFields::of(kept);
    fn back<T: Clone + PartialEq>(current: &T, before: &T, after: &T) -> T {
        if current == after { before } else { current }.clone()
    }
    let restored = MergedFields {
        name: back(&now_fields.name, &before.name, &after.name),
        email: back(&now_fields.email, &before.email, &after.email),
        phone: back(&now_fields.phone, &before.phone, &after.phone),
        identifier: back(&now_fields.identifier, &before.identifier, &after.identifier),
        company: back(&now_fields.company, &before.company, &after.company),
        city: back(&now_fields.city, &before.city, &after.city),
        country: back(&now_fields.country, &before.country, &after.country),
        status_id: back(&now_fields.status_id, &before.status_id, &after.status_id),
        owner_id: back(&now_fields.owner_id, &before.owner_id, &after.owner_id),
        opted_out_at: back(&now_fields.opted_out_at, &before.opted_out_at, &after.opted_out_at),
    };
    // A's own email, phone or identifier, freed when the merge gave A B's,
    // may have been taken since.
    for (field, value) in [
        ("email", &restored.email),
        ("phone", &restored.phone),
        ("identifier", &restored.identifier),
    ] {
        if let Some(holder) = contact_service::holder_of(conn, field, value, &[kept_id, other_id])? {
            return Err(refused(format!(
                "Contact #{kept_id}'s former {field} now belongs to contact #{holder}; \
                 change or merge that contact first."
            )));
        }
    }
    let activity = back(&kept.last_activity_at, &record.kept_activity.0, &record.kept_activity.1);
    let updated = back(&kept.updated_at, &record.kept_updated.0, &record.kept_updated.1);
    diesel::update(contacts::table.find(kept_id))
        .set((
            &restored,
            contacts::last_activity_at.eq(activity),
            contacts::updated_at.eq(updated),
        ))
        .execute(conn)?;
    let definitions = attributes::definitions(conn)?;
    let held = attributes::values_of(conn, &definitions, &[kept_id])?
        .remove(&kept_id)
        .unwrap_or_default();
    let mut kept_changes = Vec::new();
    for (attr, before, after) in &record.kept_values {
        if held.get(attr).map(Value::text) == *after {
            let value = match (before, definitions.iter().find(|d| d.id == *attr)) {
                (Some(text), Some(def)) => Some(def.parse_text(text).map_err(|e| stale_value(def, e))?),
                _ => None,
            };
            kept_changes.push((*attr, value));
        }
    }
    attributes::write_values(conn, kept_id, &kept_changes)?;

    // B's unique values must be free (A gave back those it took above).
    let other = &record.other;
    for (field, value) in [
        ("email", &other.email),
        ("phone", &other.phone),
        ("identifier", &other.identifier),
    ] {
        if let Some(holder) = contact_service::holder_of(conn, field, value, &[])? {
            return Err(refused(format!(
                "The {field} {} of contact #{other_id} now belongs to contact #{holder}; \
                 change or merge that contact first.",
                value.as_deref().unwrap_or_default()
            )));
        }
    }
    diesel::insert_into(contacts::table).values(other).execute(conn)?;
    if let Some(score) = other.lead_score {
        diesel::insert_into(contact_scores::table)
            .values((contact_scores::contact_id.eq(other_id), contact_scores::score.eq(score)))
            .execute(conn)?;
    }
    let mut other_changes = Vec::new();
    for (attr, text) in &record.other_values {
        // An attribute deleted since the merge has nothing to restore.
        if let Some(def) = definitions.iter().find(|d| d.id == *attr) {
            other_changes.push((*attr, Some(def.parse_text(text).map_err(|e| stale_value(def, e))?)));
        }
    }
    attributes::write_values(conn, other_id, &other_changes)?;
    let existing_labels: Vec<i32> = labels::table
        .filter(labels::id.eq_any(&record.other_labels))
        .select(labels::id)
        .load(conn)?;
    for label_id in &existing_labels {
        diesel::insert_into(contact_labels::table)
            .values((
                contact_labels::contact_id.eq(other_id),
                contact_labels::label_id.eq(label_id),
            ))
            .execute(conn)?;
    }
    diesel::delete(
        contact_labels::table
            .filter(contact_labels::contact_id.eq(kept_id))
            .filter(contact_labels::label_id.eq_any(&record.labels_added)),
    )
    .execute(conn)?;
    let inbox_ids: Vec<i32> = record.other_opt_outs.iter().map(|(i, _)| *i).collect();
    let existing_inboxes: Vec<i32> = inboxes::table
        .filter(inboxes::id.eq_any(&inbox_ids))
        .select(inboxes::id)
        .load(conn)?;
    for (inbox_id, at) in record
        .other_opt_outs
        .iter()
        .filter(|(i, _)| existing_inboxes.contains(i))
    {
        diesel::insert_into(contact_opt_outs::table)
            .values((
                contact_opt_outs::contact_id.eq(other_id),
                contact_opt_outs::inbox_id.eq(inbox_id),
                contact_opt_outs::created_at.eq(at),
            ))
            .execute(conn)?;
    }
    diesel::delete(
        contact_opt_outs::table
            .filter(contact_opt_outs::contact_id.eq(kept_id))
            .filter(contact_opt_outs::inbox_id.eq_any(&record.opt_outs_added)),
    )
    .execute(conn)?;

    // The rows that moved go back (those still on A; deleted ones are gone;
    // an ID deleted and handed out again after the merge is A's own row).
    move_back!(
        conn,
        conversations,
        &record.conversations,
        kept_id,
        other_id,
        created_at,
        merged_at
    );
    move_back!(
        conn,
        contact_identities,
        &record.identities,
        kept_id,
        other_id,
        created_at,
        merged_at
    );
    move_back!(conn, status_history, &record.history, kept_id, other_id, at, merged_at);
    move_back!(conn, notes, &record.notes, kept_id, other_id, created_at, merged_at);
    // The merge's status change goes with the status it set; when A's
    // status has changed since, the entry stays, so the history still reads
    // as a chain.
    if let Some(entry) = record.history_added.filter(|_| restored.status_id == before.status_id) {
        diesel::delete(status_history::table.find(entry)).execute(conn)?;
    }
    reopen(conn, &record.resolved)?;

    diesel::update(merges::table.find(merge_id))
        .set((merges::undone_at.eq(Some(now)), merges::undone_by.eq(Some(actor.id))))
        .execute(conn)?;
    super::duplicates::refresh(conn, kept_id)?;
    super::duplicates::refresh(conn, other_id)?;
    let kept_now = contact_service::get(conn, kept_id)?;
    let other_now = contact_service::get(conn, other_id)?;
    for (contact_id, name) in [(kept_id, &kept_now.name), (other_id, &other_now.name)] {
        super::activity::record(
            conn,
            Some(actor),
            super::activity::Action::UndoMerge,
            Some(contact_id),
            2,
            &format!(
                "undid merge #{merge_id}: #{other_id} {} is apart from #{kept_id} again ({name})",
                other_now.name
            ),
        )?;
    }
    let previous = contact_service::changed_fields(kept, &kept_now);
    if !previous.is_empty() || kept.status_id != kept_now.status_id {
        webhooks::emit(conn, "contact.updated", &kept_now, previous.into(), None)?;
    }
    webhooks::emit(conn, "contact.created", &other_now, serde_json::json!({}), None)?;
    Ok((kept_now, other_now))
}

/// Reopens what a merge resolved, unless its contact has opened another
/// conversation in that inbox since (one open per contact and inbox).
fn reopen(conn: &mut AnyConnection, resolved: &[i32]) -> Result<(), AppError> {
    let rows: Vec<(i32, i32, i32, String)> = conversations::table
        .filter(conversations::id.eq_any(resolved))
        .select((
            conversations::id,
            conversations::contact_id,
            conversations::inbox_id,
            conversations::status,
        ))
        .load(conn)?;
    for (id, contact_id, inbox_id, status) in rows {
        let open: i64 = conversations::table
            .filter(conversations::contact_id.eq(contact_id))
            .filter(conversations::inbox_id.eq(inbox_id))
            .filter(conversations::status.eq("open"))
            .count()
            .get_result(conn)?;
        if status == "resolved" && open == 0 {
            diesel::update(conversations::table.find(id))
                .set(conversations::status.eq("open"))
                .execute(conn)?;
        }
    }
    Ok(())
}

fn stale_value(def: &Definition, problem: String) -> AppError {
    refused(format!(
        "The merged contact's {} value no longer fits the attribute ({problem}) since its definition changed; \
         the merge cannot be undone.",
        def.display_name
    ))
}

/// Contacts the merge dialog offers as B: a search by name, email or phone.
pub fn candidates(
    conn: &mut AnyConnection,
    kept_id: i32,
    q: &str,
    me: i32,
    calling_code: u16,
) -> Result<Vec<Contact>, AppError> {
    let q = q.trim();
    if q.is_empty() {
        return Ok(Vec::new());
    }
    let query =
        super::listing::ContactQuery::parse([("q", q), ("owner", "all")]).map_err(|e| AppError::field("q", e))?;
    let page = super::listing::page(conn, &query, me, calling_code, 21)?;
    Ok(page
        .rows
        .into_iter()
        .map(|r| r.contact)
        .filter(|c| c.id != kept_id)
        .take(20)
        .collect())
}
