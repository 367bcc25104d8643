//! The activity log: who did what, when, to how many contacts (issue 9).
//!
//! Services write an entry inside the transaction of the change it records,
//! so the log never speaks of a change that was rolled back. An entry that
//! concerns one contact names it, and shows on that contact's page; every
//! entry shows on the admins' settings page.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use super::users::Actor;
use crate::db::schema::{activity_log, users};
use crate::db::AnyConnection;
use crate::error::AppError;

/// What happened, as stored in `activity_log.action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Assign,
    BulkStatus,
    BulkAssign,
    BulkSpread,
    BulkLabelAdd,
    BulkLabelRemove,
    Delete,
    Restore,
    Purge,
    Merge,
    UndoMerge,
    Import,
    Export,
    UserAdd,
    RoleChange,
    UserDisable,
    UserEnable,
    PasswordReset,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Assign => "assign",
            Self::BulkStatus => "bulk_status",
            Self::BulkAssign => "bulk_assign",
            Self::BulkSpread => "bulk_spread",
            Self::BulkLabelAdd => "bulk_label_add",
            Self::BulkLabelRemove => "bulk_label_remove",
            Self::Delete => "delete",
            Self::Restore => "restore",
            Self::Purge => "purge",
            Self::Merge => "merge",
            Self::UndoMerge => "undo_merge",
            Self::Import => "import",
            Self::Export => "export",
            Self::UserAdd => "user_add",
            Self::RoleChange => "role_change",
            Self::UserDisable => "user_disable",
            Self::UserEnable => "user_enable",
            Self::PasswordReset => "password_reset",
        }
    }
}

/// One entry as the pages show it.
#[derive(Debug, Clone, Queryable)]
pub struct Entry {
    pub id: i32,
    pub at: NaiveDateTime,
    pub user_name: Option<String>,
    pub action: String,
    pub contact_id: Option<i32>,
    pub count: i32,
    pub summary: String,
}

/// Records an entry; `contact_id` when it concerns one contact. `actor` is
/// `None` for what the system did by itself (the trash's purge).
pub fn record(
    conn: &mut AnyConnection,
    actor: Option<&Actor>,
    action: Action,
    contact_id: Option<i32>,
    count: usize,
    summary: &str,
) -> Result<(), AppError> {
    diesel::insert_into(activity_log::table)
        .values((
            activity_log::at.eq(Utc::now().naive_utc()),
            activity_log::user_id.eq(actor.map(|a| a.id)),
            activity_log::action.eq(action.as_str()),
            activity_log::contact_id.eq(contact_id),
            activity_log::count.eq(i32::try_from(count).unwrap_or(i32::MAX)),
            activity_log::summary.eq(summary),
        ))
        .execute(conn)?;
    Ok(())
}

/// Newest first, `limit` entries before `before` (an entry ID) if given;
/// only those of one contact when `contact_id` is given.
pub fn recent(
    conn: &mut AnyConnection,
    contact_id: Option<i32>,
    before: Option<i32>,
    limit: i64,
) -> Result<Vec<Entry>, AppError> {
    let mut q = activity_log::table
        .left_join(users::table)
        .select((
            activity_log::id,
            activity_log::at,
            users::name.nullable(),
            activity_log::action,
            activity_log::contact_id,
            activity_log::count,
            activity_log::summary,
        ))
        .order(activity_log::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(id) = contact_id {
        q = q.filter(activity_log::contact_id.eq(id));
    }
    if let Some(before) = before {
        q = q.filter(activity_log::id.lt(before));
    }
    Ok(q.load(conn)?)
}

/// The log as an admin reads it.
pub fn require_reader(actor: &Actor) -> Result<(), AppError> {
    actor.require(actor.role == super::users::Role::Admin, "read the activity log")
}
