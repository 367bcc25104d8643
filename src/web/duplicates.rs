//! The duplicates page: likely duplicate pairs, strongest first, each with
//! the reason and a link to the merge dialog. Leads and admins only, as
//! merging is theirs.

use actix_session::Session;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::auth::CurrentUser;
use super::pages::{self, Layout};
use super::AppState;
use crate::error::AppError;
use crate::service::duplicates::{self, DuplicatePair, PairContact};

/// Pairs per page.
const PAGE_SIZE: i64 = 50;

/// One side of a pair, ready to print.
pub struct SideView {
    pub id: i32,
    pub name: String,
    /// E-mail and phone, as far as known.
    pub reach: String,
    /// Company and city, as far as known.
    pub place: String,
}

impl SideView {
    fn new(c: &PairContact) -> Self {
        let join = |parts: [&Option<String>; 2]| {
            parts
                .iter()
                .filter_map(|p| p.as_deref())
                .collect::<Vec<_>>()
                .join(" · ")
        };
        Self {
            id: c.id,
            name: c.name.clone(),
            reach: join([&c.email, &c.phone]),
            place: join([&c.company, &c.city]),
        }
    }
}

pub struct PairView {
    pub score: i32,
    pub reason: String,
    pub contact: SideView,
    pub other: SideView,
}

#[derive(Template)]
#[template(path = "contacts/duplicates.html")]
struct DuplicatesPage {
    layout: Layout,
    pairs: Vec<PairView>,
    next_href: Option<String>,
    /// True on a page after the first.
    later: bool,
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    /// Where the page starts: `score.contact.other` of the last pair shown.
    after: Option<String>,
}

/// Reads `score.contact.other`.
fn parse_cursor(text: &str) -> Result<(i32, i32, i32), AppError> {
    let parts: Vec<Option<i32>> = text.split('.').map(|p| p.parse().ok()).collect();
    match parts.as_slice() {
        [Some(score), Some(contact), Some(other)] => Ok((*score, *contact, *other)),
        _ => Err(AppError::bad_request("This page link is not valid.".to_string())),
    }
}

pub async fn list(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    user.actor
        .require(user.actor.role.can_delete(), "see duplicate contacts")?;
    let after = query.after.as_deref().map(parse_cursor).transpose()?;
    let mut found: Vec<DuplicatePair> = state.db(move |c| duplicates::page(c, after, PAGE_SIZE + 1)).await?;
    let more = found.len() as i64 > PAGE_SIZE;
    found.truncate(PAGE_SIZE as usize);
    let next_href = match found.last() {
        Some(last) if more => {
            let (score, contact, other) = last.cursor();
            Some(format!("/contacts/duplicates?after={score}.{contact}.{other}"))
        }
        _ => None,
    };
    let page = DuplicatesPage {
        layout: Layout::new(&user, &session, "Duplicates", "contacts"),
        pairs: found
            .iter()
            .map(|p| PairView {
                score: p.score,
                reason: p.reason.clone(),
                contact: SideView::new(&p.contact),
                other: SideView::new(&p.other),
            })
            .collect(),
        next_href,
        later: after.is_some(),
    };
    Ok(pages::render(&page))
}
