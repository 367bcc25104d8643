//! The workload grid (issue 9): team members × statuses, the count of
//! contacts in each cell — the team lead's tool for rebalancing.
//!
//! The cells come from `owner_status_counts`, which triggers keep as
//! contacts are added, assigned, moved between statuses, trashed (a trashed
//! contact has no owner) and purged: the grid reads a few rows per member
//! whatever the number of contacts (a `GROUP BY` over a million contacts took
//! ~100 ms). The unassigned row is what the status counts hold beyond the
//! owned ones, so it costs nothing either.

use diesel::prelude::*;

use super::listing;
use super::status::LeadStatus;
use super::users::Actor;
use crate::db::schema::{owner_status_counts, users};
use crate::db::AnyConnection;
use crate::error::AppError;

/// One row of the grid.
#[derive(Debug, Clone)]
pub struct Row {
    /// `None` for the unassigned row.
    pub user_id: Option<i32>,
    pub name: String,
    pub role: String,
    pub disabled: bool,
    /// Per status, in `LeadStatus::ALL` order.
    pub counts: [i64; 7],
    pub total: i64,
}

#[derive(Debug, Clone)]
pub struct Grid {
    pub rows: Vec<Row>,
    /// The team's totals per status, in `LeadStatus::ALL` order.
    pub totals: [i64; 7],
}

fn slot(status_id: i32) -> Option<usize> {
    LeadStatus::ALL.iter().position(|s| s.id() == status_id)
}

/// The grid: every enabled member, plus disabled ones who still hold
/// contacts (to be given away), then the unassigned row. Team leads and admins.
pub fn grid(conn: &mut AnyConnection, actor: &Actor) -> Result<Grid, AppError> {
    actor.require(actor.role.can_assign(), "see the workload grid")?;
    let cells: Vec<(i32, i32, i32)> = owner_status_counts::table
        .filter(owner_status_counts::total.ne(0))
        .select((
            owner_status_counts::owner_id,
            owner_status_counts::status_id,
            owner_status_counts::total,
        ))
        .load(conn)?;
    let members: Vec<(i32, String, String, bool)> = users::table
        .order((users::name.asc(), users::id.asc()))
        .select((users::id, users::name, users::role, users::disabled_at.is_not_null()))
        .load(conn)?;
    let mut rows: Vec<Row> = members
        .into_iter()
        .map(|(id, name, role, disabled)| Row {
            user_id: Some(id),
            name,
            role,
            disabled,
            counts: [0; 7],
            total: 0,
        })
        .collect();
    let mut owned = [0i64; 7];
    for (owner, status_id, n) in cells {
        let Some(i) = slot(status_id) else {
            continue;
        };
        let n = i64::from(n);
        if let Some(row) = rows.iter_mut().find(|r| r.user_id == Some(owner)) {
            row.counts[i] += n;
            row.total += n;
        }
        owned[i] += n;
    }
    rows.retain(|r| !r.disabled || r.total > 0);
    let mut totals = [0i64; 7];
    for (status, total) in listing::status_counts(conn)? {
        if let Some(i) = slot(status.id()) {
            totals[i] = total;
        }
    }
    let mut unassigned = [0i64; 7];
    for i in 0..7 {
        unassigned[i] = (totals[i] - owned[i]).max(0);
    }
    rows.push(Row {
        user_id: None,
        name: "Unassigned".into(),
        role: String::new(),
        disabled: false,
        counts: unassigned,
        total: unassigned.iter().sum(),
    });
    Ok(Grid { rows, totals })
}
