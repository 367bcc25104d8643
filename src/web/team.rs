//! The workload grid (`/team`): team members × statuses, each cell linking
//! to the list it counts. Team leads and admins.

use actix_session::Session;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::auth::CurrentUser;
use super::pages::{self, Layout};
use super::AppState;
use crate::error::AppError;
use crate::service::status::LeadStatus;
use crate::service::workload;

pub struct Cell {
    pub count: i64,
    pub href: String,
}

pub struct RowView {
    pub name: String,
    pub role: String,
    pub disabled: bool,
    pub cells: Vec<Cell>,
    pub total: Cell,
}

#[derive(Template)]
#[template(path = "team.html")]
struct TeamPage {
    layout: Layout,
    statuses: Vec<LeadStatus>,
    rows: Vec<RowView>,
    totals: Vec<i64>,
    grand_total: i64,
}

pub async fn grid(state: web::Data<AppState>, user: CurrentUser, session: Session) -> Result<HttpResponse, AppError> {
    let actor = user.actor.clone();
    let grid = state.db(move |c| workload::grid(c, &actor)).await?;
    let rows = grid
        .rows
        .iter()
        .map(|r| {
            let owner = r.user_id.map(|id| id.to_string()).unwrap_or_else(|| "none".into());
            RowView {
                name: r.name.clone(),
                role: r.role.clone(),
                disabled: r.disabled,
                cells: LeadStatus::ALL
                    .iter()
                    .zip(r.counts)
                    .map(|(s, count)| Cell {
                        count,
                        href: format!("/contacts?owner={owner}&status={}", s.id()),
                    })
                    .collect(),
                total: Cell {
                    count: r.total,
                    href: format!("/contacts?owner={owner}"),
                },
            }
        })
        .collect();
    let page = TeamPage {
        layout: Layout::new(&user, &session, "Workload", "team"),
        statuses: LeadStatus::ALL.to_vec(),
        rows,
        totals: grid.totals.to_vec(),
        grand_total: grid.totals.iter().sum(),
    };
    Ok(pages::render(&page))
}
