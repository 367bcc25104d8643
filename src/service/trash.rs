//! The trash (docs/decisions.md, "Roles"): deleting a contact marks it `deleted_at` and
//! keeps everything it had for [`KEEP_DAYS`] days, restorable by a team lead
//! or an admin; then it is purged for good.
//!
//! A trashed contact gives up its email, phone, identifier, channel
//! identities and owner (kept in `contact_trash`): new contacts and incoming
//! messages may take them meanwhile, and the workload grid and the list's
//! counts leave it out. A restore puts them back, or is refused when one was
//! taken, naming the contact that holds it so the two can be merged.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::activity::{self, Action};
use super::contacts::{self, Contact};
use super::users::Actor;
use super::{duplicates, webhooks};
use crate::db::schema::{
    contact_identities, contact_match_keys, contact_trash, contacts as contacts_table, duplicate_backlog,
    duplicate_pairs, users,
};
use crate::db::{write_transaction, AnyConnection};
use crate::error::AppError;

/// How long a deleted contact stays restorable.
pub const KEEP_DAYS: i64 = 30;
/// IDs per statement: well under SQLite's and PostgreSQL's parameter limits.
const CHUNK: usize = 5_000;

/// Deletes one contact into the trash (team leads and admins).
pub fn delete(conn: &mut AnyConnection, actor: &Actor, id: i32) -> Result<(), AppError> {
    actor.require(actor.role.can_delete(), "delete contacts")?;
    write_transaction(conn, |conn| {
        let contact = contacts::get(conn, id)?;
        move_to_trash(conn, actor, &[contact.id])?;
        activity::record(
            conn,
            Some(actor),
            Action::Delete,
            Some(id),
            1,
            &format!("deleted {} into the trash", contact.name),
        )
    })
}

/// Moves the live contacts among `ids` into the trash, inside the caller's
/// transaction. Returns how many it moved.
pub fn move_to_trash(conn: &mut AnyConnection, actor: &Actor, ids: &[i32]) -> Result<usize, AppError> {
    let now = Utc::now().naive_utc();
    let announce = webhooks::wanted(conn, "contact.deleted")?;
    let mut moved = 0;
    for chunk in ids.chunks(CHUNK) {
        let live: Vec<Contact> = contacts_table::table
            .filter(contacts_table::id.eq_any(chunk))
            .filter(contacts_table::deleted_at.is_null())
            .select(Contact::as_select())
            .load(conn)?;
        if live.is_empty() {
            continue;
        }
        let live_ids: Vec<i32> = live.iter().map(|c| c.id).collect();
        let mut identities: BTreeMap<i32, Vec<(i32, String)>> = BTreeMap::new();
        for (contact_id, inbox_id, source_id) in contact_identities::table
            .filter(contact_identities::contact_id.eq_any(&live_ids))
            .select((
                contact_identities::contact_id,
                contact_identities::inbox_id,
                contact_identities::source_id,
            ))
            .load::<(i32, i32, String)>(conn)?
        {
            identities.entry(contact_id).or_default().push((inbox_id, source_id));
        }
        if announce {
            // Sent as they were, before they give anything up.
            for contact in &live {
                webhooks::emit(conn, "contact.deleted", contact, serde_json::json!({}), None)?;
            }
        }
        let rows: Vec<TrashRow> = live
            .iter()
            .map(|c| {
                let held = identities.get(&c.id).map(Vec::as_slice).unwrap_or_default();
                TrashRow {
                    contact_id: c.id,
                    deleted_by: Some(actor.id),
                    email: c.email.clone(),
                    phone: c.phone.clone(),
                    identifier: c.identifier.clone(),
                    identities: serde_json::to_string(held).unwrap_or_else(|_| "[]".into()),
                    owner_id: c.owner_id,
                }
            })
            .collect();
        // Batch inserts are per backend (diesel's MultiBackend has none).
        match conn {
            AnyConnection::Sqlite(c) => diesel::insert_into(contact_trash::table).values(&rows).execute(c)?,
            AnyConnection::Postgresql(c) => diesel::insert_into(contact_trash::table).values(&rows).execute(c)?,
        };
        diesel::delete(contact_identities::table.filter(contact_identities::contact_id.eq_any(&live_ids)))
            .execute(conn)?;
        // The duplicate finder forgets them until they come back.
        diesel::delete(contact_match_keys::table.filter(contact_match_keys::contact_id.eq_any(&live_ids)))
            .execute(conn)?;
        diesel::delete(
            duplicate_pairs::table.filter(
                duplicate_pairs::contact_id
                    .eq_any(&live_ids)
                    .or(duplicate_pairs::other_id.eq_any(&live_ids)),
            ),
        )
        .execute(conn)?;
        diesel::delete(duplicate_backlog::table.filter(duplicate_backlog::contact_id.eq_any(&live_ids)))
            .execute(conn)?;
        diesel::update(contacts_table::table.filter(contacts_table::id.eq_any(&live_ids)))
            .set((
                contacts_table::email.eq(None::<String>),
                contacts_table::phone.eq(None::<String>),
                contacts_table::identifier.eq(None::<String>),
                contacts_table::owner_id.eq(None::<i32>),
                contacts_table::deleted_at.eq(Some(now)),
            ))
            .execute(conn)?;
        moved += live_ids.len();
    }
    Ok(moved)
}

/// What a trashed contact gave up. Every column is written (no DEFAULT), so
/// a batch is one statement on SQLite too.
#[derive(Insertable)]
#[diesel(table_name = contact_trash, treat_none_as_default_value = false)]
struct TrashRow {
    contact_id: i32,
    deleted_by: Option<i32>,
    email: Option<String>,
    phone: Option<String>,
    identifier: Option<String>,
    identities: String,
    owner_id: Option<i32>,
}

/// A contact in the trash, as the trash page lists it.
#[derive(Debug, Clone, Queryable)]
pub struct Trashed {
    pub id: i32,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub deleted_at: NaiveDateTime,
    pub deleted_by: Option<String>,
}

impl Trashed {
    /// When the purge takes it.
    pub fn purged_at(&self) -> NaiveDateTime {
        self.deleted_at + Duration::days(KEEP_DAYS)
    }
}

/// The trash, most recently deleted first, `limit` at a time after `before`
/// (a contact ID of the previous page's last row).
pub fn list(conn: &mut AnyConnection, actor: &Actor, limit: i64) -> Result<Vec<Trashed>, AppError> {
    actor.require(actor.role.can_delete(), "see the trash")?;
    Ok(contact_trash::table
        .inner_join(contacts_table::table)
        .left_join(users::table.on(users::id.nullable().eq(contact_trash::deleted_by)))
        .filter(contacts_table::deleted_at.is_not_null())
        .order((contacts_table::deleted_at.desc(), contacts_table::id.desc()))
        .limit(limit)
        .select((
            contacts_table::id,
            contacts_table::name,
            contact_trash::email,
            contact_trash::phone,
            contacts_table::deleted_at.assume_not_null(),
            users::name.nullable(),
        ))
        .load(conn)?)
}

/// How many contacts the trash holds.
pub fn count(conn: &mut AnyConnection) -> Result<i64, AppError> {
    Ok(contact_trash::table.count().get_result(conn)?)
}

type Kept = (Option<String>, Option<String>, Option<String>, String, Option<i32>);

/// Brings a contact back from the trash with everything it had. Refused
/// (409) when another contact took its email, phone, identifier or a channel
/// identity meanwhile; the message names that contact.
pub fn restore(conn: &mut AnyConnection, actor: &Actor, id: i32) -> Result<Contact, AppError> {
    actor.require(actor.role.can_delete(), "restore contacts")?;
    write_transaction(conn, |conn| {
        let kept: Option<Kept> = contact_trash::table
            .find(id)
            .select((
                contact_trash::email,
                contact_trash::phone,
                contact_trash::identifier,
                contact_trash::identities,
                contact_trash::owner_id,
            ))
            .first(conn)
            .optional()?;
        let (email, phone, identifier, identities, owner_id) =
            kept.ok_or_else(|| AppError::not_found(&format!("Contact #{id} in the trash")))?;
        let identities: Vec<(i32, String)> = serde_json::from_str(&identities).map_err(AppError::internal)?;
        for (field, value) in [("email", &email), ("phone", &phone), ("identifier", &identifier)] {
            let Some(value) = value.clone() else { continue };
            let q = contacts_table::table.select(contacts_table::id).into_boxed();
            let q = match field {
                "email" => q.filter(contacts_table::email.eq(value)),
                "phone" => q.filter(contacts_table::phone.eq(value)),
                _ => q.filter(contacts_table::identifier.eq(value)),
            };
            if let Some(holder) = q.first::<i32>(conn).optional()? {
                return Err(taken(id, field, holder));
            }
        }
        for (inbox_id, source_id) in &identities {
            let holder: Option<i32> = contact_identities::table
                .filter(contact_identities::inbox_id.eq(inbox_id))
                .filter(contact_identities::source_id.eq(source_id))
                .select(contact_identities::contact_id)
                .first(conn)
                .optional()?;
            if let Some(holder) = holder {
                return Err(taken(id, "channel identity", holder));
            }
        }
        // An owner disabled meanwhile gets nothing new.
        let owner_id = match owner_id {
            Some(owner) => super::users::active_user(conn, owner)?.map(|u| u.id),
            None => None,
        };
        let now = Utc::now().naive_utc();
        diesel::update(contacts_table::table.find(id))
            .set((
                contacts_table::email.eq(&email),
                contacts_table::phone.eq(&phone),
                contacts_table::identifier.eq(&identifier),
                contacts_table::owner_id.eq(owner_id),
                contacts_table::deleted_at.eq(None::<NaiveDateTime>),
                contacts_table::updated_at.eq(now),
            ))
            .execute(conn)?;
        for (inbox_id, source_id) in &identities {
            diesel::insert_into(contact_identities::table)
                .values((
                    contact_identities::contact_id.eq(id),
                    contact_identities::inbox_id.eq(inbox_id),
                    contact_identities::source_id.eq(source_id),
                    contact_identities::created_at.eq(now),
                ))
                .execute(conn)?;
        }
        diesel::delete(contact_trash::table.find(id)).execute(conn)?;
        duplicates::enqueue(conn, &[id])?;
        let contact = contacts::get(conn, id)?;
        activity::record(
            conn,
            Some(actor),
            Action::Restore,
            Some(id),
            1,
            &format!("restored {} from the trash", contact.name),
        )?;
        Ok(contact)
    })
}

fn taken(id: i32, field: &str, holder: i32) -> AppError {
    AppError::Conflict(format!(
        "Contact #{id} cannot be restored: its {field} now belongs to contact #{holder}. \
         Restore is possible after merging them: open /contacts/{holder}/merge?other={id}."
    ))
}

/// Deletes for good the contacts trashed more than [`KEEP_DAYS`] days before
/// `now`, a chunk per transaction. Returns how many went.
pub fn purge(conn: &mut AnyConnection, now: NaiveDateTime) -> Result<usize, AppError> {
    let cutoff = now - Duration::days(KEEP_DAYS);
    let mut purged = 0;
    loop {
        let gone = write_transaction(conn, |conn| -> Result<usize, AppError> {
            let due: Vec<i32> = contacts_table::table
                .filter(contacts_table::deleted_at.lt(cutoff))
                .select(contacts_table::id)
                .limit(CHUNK as i64)
                .load(conn)?;
            if due.is_empty() {
                return Ok(0);
            }
            let gone = diesel::delete(contacts_table::table.filter(contacts_table::id.eq_any(&due))).execute(conn)?;
            activity::record(
                conn,
                None,
                Action::Purge,
                None,
                gone,
                &format!("purged {gone} contacts deleted more than {KEEP_DAYS} days ago"),
            )?;
            Ok(gone)
        })?;
        if gone == 0 {
            return Ok(purged);
        }
        purged += gone;
    }
}
