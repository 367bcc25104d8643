//! The contacts pages: list, new, details, edit, status, owner, delete.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::auth::{CsrfForm, CurrentUser};
use super::pages::{self, local_time, relative_time, Layout};
use super::AppState;
use crate::error::{AppError, FieldErrors};
use crate::service::contacts::{self, Contact, ContactDraft, ContactInput, OwnerChoice};
use crate::service::listing::{self, ContactQuery, Order, OwnerFilter, SortKey, PAGE_SIZE};
use crate::service::status::{LeadStatus, StatusSource};
use crate::service::users::{self, UserSummary};

/// A contact as the pages show it: every value ready to print.
pub struct ContactView {
    pub id: i32,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub identifier: String,
    pub company: String,
    pub city: String,
    pub country: String,
    pub status: LeadStatus,
    pub owner_name: String,
    pub opted_out: bool,
    pub created: String,
    pub updated: String,
    pub activity: String,
    pub activity_exact: String,
}

impl ContactView {
    fn new(c: &Contact, owner_name: Option<&str>, tz: chrono_tz::Tz) -> Self {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        Self {
            id: c.id,
            name: c.name.clone(),
            email: text(&c.email),
            phone: text(&c.phone),
            identifier: text(&c.identifier),
            company: text(&c.company),
            city: text(&c.city),
            country: text(&c.country),
            status: c.status(),
            owner_name: owner_name.unwrap_or("").to_string(),
            opted_out: c.opted_out_at.is_some(),
            created: local_time(c.created_at, tz),
            updated: local_time(c.updated_at, tz),
            activity: c.last_activity_at.map(relative_time).unwrap_or_default(),
            activity_exact: c.last_activity_at.map(|t| local_time(t, tz)).unwrap_or_default(),
        }
    }
}

/// One status in the counts bar, with the link that filters on it.
pub struct StatusCount {
    pub status: LeadStatus,
    pub count: i64,
    pub selected: bool,
    pub href: String,
}

/// A column header that sorts the list.
pub struct SortLink {
    pub label: &'static str,
    pub href: String,
    /// `▲` or `▼` on the current sort.
    pub arrow: &'static str,
    pub aria: &'static str,
}

#[derive(Template)]
#[template(path = "contacts/list.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<ContactView>,
    counts: Vec<StatusCount>,
    total: i64,
    q: String,
    statuses: Vec<LeadStatus>,
    owner: String,
    team: Vec<UserSummary>,
    sort: &'static str,
    order: &'static str,
    sort_links: Vec<SortLink>,
    next_href: Option<String>,
    prev_href: Option<String>,
    /// True when the team has no contacts at all (not just none matching).
    no_contacts: bool,
}

impl ListPage {
    fn status_selected(&self, status: &LeadStatus) -> bool {
        self.statuses.contains(status)
    }
}

/// The list's URL for a query, with `change` applied.
fn list_href(query: &ContactQuery, change: impl FnOnce(&mut ContactQuery)) -> String {
    let mut query = query.clone();
    change(&mut query);
    let mut url = url::form_urlencoded::Serializer::new(String::new());
    if !query.q.is_empty() {
        url.append_pair("q", &query.q);
    }
    for status in &query.statuses {
        url.append_pair("status", &status.id().to_string());
    }
    if let Some(owner) = query.owner {
        url.append_pair("owner", &owner.as_param());
    }
    url.append_pair("sort", query.sort.as_str());
    url.append_pair("order", query.order.as_str());
    if let Some(cursor) = &query.cursor {
        url.append_pair("cursor", &cursor.encode());
    }
    format!("/contacts?{}", url.finish())
}

pub async fn list(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect();
    let mut query =
        ContactQuery::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).map_err(AppError::bad_request)?;
    // Agents open on their own contacts; leads and admins on everyone's.
    if query.owner.is_none() {
        query.owner = Some(if user.actor.role.can_assign() {
            OwnerFilter::All
        } else {
            OwnerFilter::Me
        });
    }
    let (me, calling_code, tz) = (user.actor.id, state.settings.calling_code, state.settings.time_zone);
    let q = query.clone();
    let (page, counts, team) = state
        .db(move |c| {
            let page = listing::page(c, &q, me, calling_code, PAGE_SIZE)?;
            Ok((page, listing::status_counts(c)?, users::team(c)?))
        })
        .await?;
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    let counts = counts
        .into_iter()
        .map(|(status, count)| StatusCount {
            status,
            count,
            selected: query.statuses.contains(&status),
            href: list_href(&query, |q| {
                q.statuses = vec![status];
                q.cursor = None;
            }),
        })
        .collect();
    let sort_links = [
        (SortKey::Name, "Name"),
        (SortKey::Status, "Status"),
        (SortKey::Activity, "Last activity"),
        (SortKey::Created, "Created"),
    ]
    .into_iter()
    .map(|(key, label)| {
        let current = query.sort == key;
        let next_order = if current && query.order == Order::Asc {
            Order::Desc
        } else if current {
            Order::Asc
        } else {
            Order::Desc
        };
        SortLink {
            label,
            href: list_href(&query, |q| {
                q.sort = key;
                q.order = next_order;
                q.cursor = None;
            }),
            arrow: match (current, query.order) {
                (false, _) => "",
                (true, Order::Asc) => "▲",
                (true, Order::Desc) => "▼",
            },
            aria: match (current, query.order) {
                (false, _) => "none",
                (true, Order::Asc) => "ascending",
                (true, Order::Desc) => "descending",
            },
        }
    })
    .collect();
    let cursor_href = |token: &str| {
        listing::Cursor::decode(token)
            .ok()
            .map(|c| list_href(&query, |q| q.cursor = Some(c)))
    };
    let rows = page
        .rows
        .iter()
        .map(|r| ContactView::new(&r.contact, r.owner_name.as_deref(), tz))
        .collect();
    let page_view = ListPage {
        layout: Layout::new(&user, &session, "Contacts", "contacts"),
        rows,
        counts,
        total,
        q: query.q.clone(),
        statuses: query.statuses.clone(),
        owner: query.owner.map(|o| o.as_param()).unwrap_or_default(),
        team,
        sort: query.sort.as_str(),
        order: query.order.as_str(),
        sort_links,
        next_href: page.next.as_deref().and_then(cursor_href),
        prev_href: page.prev.as_deref().and_then(cursor_href),
        no_contacts: total == 0,
    };
    Ok(pages::render(&page_view))
}

#[derive(Template)]
#[template(path = "contacts/form.html")]
struct FormPage {
    layout: Layout,
    heading: String,
    action: String,
    cancel: String,
    values: ContactInput,
    errors: pages::FormErrors,
    /// The field and contact that already hold a submitted email or phone.
    duplicate: Option<(String, i32)>,
    team: Vec<UserSummary>,
    can_assign: bool,
    editing: bool,
}

impl FormPage {
    fn status_options(&self) -> [LeadStatus; 7] {
        LeadStatus::ALL
    }
    fn is_status(&self, status: &LeadStatus) -> bool {
        LeadStatus::parse(&self.values.status).ok() == Some(*status)
    }
    fn is_owner(&self, id: &i32) -> bool {
        self.values.owner.as_deref().map(str::trim) == Some(id.to_string().as_str())
    }
}

pub async fn new_form(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
) -> Result<HttpResponse, AppError> {
    let team = state.db(users::team).await?;
    // Agents own what they add unless they pick someone else.
    let owner = if user.actor.role.can_assign() {
        String::new()
    } else {
        user.actor.id.to_string()
    };
    let values = ContactInput {
        status: LeadStatus::New.id().to_string(),
        owner: Some(owner),
        ..ContactInput::default()
    };
    let page = FormPage {
        layout: Layout::new(&user, &session, "New contact", "contacts"),
        heading: "New contact".into(),
        action: "/contacts".into(),
        cancel: "/contacts".into(),
        values,
        errors: pages::FormErrors::default(),
        duplicate: None,
        team,
        can_assign: true,
        editing: false,
    };
    Ok(pages::render(&page))
}

/// Re-renders the form with the typed values and what is wrong with them.
async fn form_with_errors(
    state: &AppState,
    user: &CurrentUser,
    session: &Session,
    editing: Option<i32>,
    values: ContactInput,
    error: AppError,
) -> Result<HttpResponse, AppError> {
    let (errors, duplicate, status) = match error {
        AppError::Validation { fields, .. } => (fields, None, StatusCode::UNPROCESSABLE_ENTITY),
        AppError::Duplicate { field, existing_id } => {
            let mut fields = FieldErrors::new();
            fields.insert(field.into(), vec!["already belongs to another contact".into()]);
            (fields, Some((field.to_string(), existing_id)), StatusCode::CONFLICT)
        }
        other => return Err(other),
    };
    let team = state.db(users::team).await?;
    let (heading, action, cancel) = match editing {
        Some(id) => (
            "Edit contact".to_string(),
            format!("/contacts/{id}"),
            format!("/contacts/{id}"),
        ),
        None => (
            "New contact".to_string(),
            "/contacts".to_string(),
            "/contacts".to_string(),
        ),
    };
    let page = FormPage {
        layout: Layout::new(user, session, heading.clone(), "contacts"),
        heading,
        action,
        cancel,
        values,
        errors: pages::FormErrors(errors),
        duplicate,
        team,
        can_assign: editing.is_none() || user.actor.role.can_assign(),
        editing: editing.is_some(),
    };
    Ok(pages::render_with(status, &page))
}

fn parse_draft(state: &AppState, input: &ContactInput) -> Result<ContactDraft, AppError> {
    ContactDraft::parse(input, state.settings.default_country).map_err(|fields| AppError::Validation {
        message: "Please correct the highlighted fields.".into(),
        fields,
    })
}

pub async fn create(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    form: CsrfForm<ContactInput>,
) -> Result<HttpResponse, AppError> {
    let input = form.0;
    let result = match parse_draft(&state, &input) {
        Ok(draft) => {
            let actor = user.actor.clone();
            state
                .db(move |c| contacts::create(c, &actor, &draft, StatusSource::Manual))
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(contact) => {
            pages::flash(&session, "Contact created");
            Ok(pages::see_other(&format!("/contacts/{}", contact.id)))
        }
        Err(e) => form_with_errors(&state, &user, &session, None, input, e).await,
    }
}

pub struct HistoryView {
    pub from: Option<LeadStatus>,
    pub to: LeadStatus,
    pub source: String,
    pub who: String,
    pub when: String,
    pub when_relative: String,
}

#[derive(Template)]
#[template(path = "contacts/show.html")]
struct ShowPage {
    layout: Layout,
    c: ContactView,
    owner_id: Option<i32>,
    history: Vec<HistoryView>,
    team: Vec<UserSummary>,
    can_assign: bool,
    can_delete: bool,
}

impl ShowPage {
    fn status_options(&self) -> [LeadStatus; 7] {
        LeadStatus::ALL
    }
    fn is_owner(&self, id: &i32) -> bool {
        self.owner_id == Some(*id)
    }
}

pub async fn show(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let tz = state.settings.time_zone;
    let can_assign = user.actor.role.can_assign();
    let (details, team) = state
        .db(move |c| {
            let details = contacts::details(c, id)?;
            let team = if can_assign { users::team(c)? } else { Vec::new() };
            Ok((details, team))
        })
        .await?;
    let history = details
        .history
        .iter()
        .map(|h| HistoryView {
            from: h.from_status(),
            to: h.to_status(),
            source: h.source.clone(),
            who: h.user_name.clone().unwrap_or_else(|| {
                if h.user_id.is_some() {
                    "a former user".into()
                } else {
                    "leadbook".into()
                }
            }),
            when: local_time(h.at, tz),
            when_relative: relative_time(h.at),
        })
        .collect();
    let page = ShowPage {
        layout: Layout::new(&user, &session, details.contact.name.clone(), "contacts"),
        c: ContactView::new(&details.contact, details.owner_name.as_deref(), tz),
        owner_id: details.contact.owner_id,
        history,
        team,
        can_assign,
        can_delete: user.actor.role.can_delete(),
    };
    Ok(pages::render(&page))
}

pub async fn edit_form(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let (contact, team) = state.db(move |c| Ok((contacts::get(c, id)?, users::team(c)?))).await?;
    let page = FormPage {
        layout: Layout::new(&user, &session, format!("Edit {}", contact.name), "contacts"),
        heading: "Edit contact".into(),
        action: format!("/contacts/{id}"),
        cancel: format!("/contacts/{id}"),
        values: contacts::input_of(&contact),
        errors: pages::FormErrors::default(),
        duplicate: None,
        team,
        can_assign: user.actor.role.can_assign(),
        editing: true,
    };
    Ok(pages::render(&page))
}

pub async fn update(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
    form: CsrfForm<ContactInput>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let mut input = form.0;
    let result = match parse_draft(&state, &input) {
        Ok(draft) => {
            let actor = user.actor.clone();
            state
                .db(move |c| contacts::update(c, &actor, id, &draft, StatusSource::Manual))
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => {
            pages::flash(&session, "Contact saved");
            Ok(pages::see_other(&format!("/contacts/{id}")))
        }
        Err(e @ (AppError::Validation { .. } | AppError::Duplicate { .. })) => {
            if input.status.trim().is_empty() {
                input.status = LeadStatus::New.id().to_string();
            }
            form_with_errors(&state, &user, &session, Some(id), input, e).await
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct StatusInput {
    status: String,
}

pub async fn set_status(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
    form: CsrfForm<StatusInput>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let status = LeadStatus::parse(&form.0.status).map_err(|e| AppError::field("status", e))?;
    let actor = user.actor.clone();
    state
        .db(move |c| contacts::set_status(c, Some(&actor), id, status, StatusSource::Manual))
        .await?;
    pages::flash(&session, &format!("Status set to {status}"));
    Ok(pages::see_other(&format!("/contacts/{id}")))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct OwnerInput {
    owner: String,
}

pub async fn assign(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
    form: CsrfForm<OwnerInput>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let owner = match form.0.owner.trim() {
        "" | "none" => OwnerChoice::Nobody,
        text => OwnerChoice::User(text.parse().map_err(|_| AppError::field("owner", "is not a user"))?),
    };
    let actor = user.actor.clone();
    state.db(move |c| contacts::assign(c, &actor, id, owner)).await?;
    pages::flash(&session, "Owner changed");
    Ok(pages::see_other(&format!("/contacts/{id}")))
}

#[derive(Template)]
#[template(path = "contacts/delete.html")]
struct DeletePage {
    layout: Layout,
    c: ContactView,
}

pub async fn delete_form(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    user.actor.require(user.actor.role.can_delete(), "delete contacts")?;
    let id = path.into_inner();
    let contact = state.db(move |c| contacts::get(c, id)).await?;
    let page = DeletePage {
        layout: Layout::new(&user, &session, format!("Delete {}", contact.name), "contacts"),
        c: ContactView::new(&contact, None, state.settings.time_zone),
    };
    Ok(pages::render(&page))
}

pub async fn delete(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
    _form: CsrfForm<super::auth::Empty>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let actor = user.actor.clone();
    state.db(move |c| contacts::delete(c, &actor, id)).await?;
    pages::flash(&session, "Contact deleted");
    Ok(pages::see_other("/contacts"))
}
