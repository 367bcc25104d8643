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
use crate::service::attributes::{self, Definition, Kind, Value};
use crate::service::contacts::{self, Contact, ContactDraft, ContactInput, OwnerChoice};
use crate::service::labels::Label;
use crate::service::listing::{self, ContactQuery, ListTotal, Order, OwnerFilter, SortKey, PAGE_SIZE};
use crate::service::notes::NoteKind;
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
    /// The lead score as a percentage (`73%`), or empty when there is none.
    pub score: String,
    pub labels: Vec<Label>,
    /// The values of the columns the list was asked to show.
    pub columns: Vec<String>,
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
            score: c
                .lead_score
                .map(|s| format!("{:.0}%", f64::from(s) / 10.0))
                .unwrap_or_default(),
            labels: Vec::new(),
            columns: Vec::new(),
        }
    }
}

/// One status in the counts bar, with the link that filters on it.
pub struct StatusCount {
    pub status: LeadStatus,
    /// The count as shown: `12,345`.
    pub count: String,
    pub selected: bool,
    pub href: String,
}

/// A column header that sorts the list.
pub struct SortLink {
    pub label: String,
    pub href: String,
    /// `▲` or `▼` on the current sort.
    pub arrow: &'static str,
    pub aria: &'static str,
    /// The header cell's class (`created` is folded away on a phone).
    pub class: &'static str,
}

/// A choice of the phone's sort control (`sort_by=name:asc`).
pub struct SortOption {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// A tab of whose contacts the list shows.
pub struct ScopeLink {
    pub label: &'static str,
    pub href: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "contacts/list.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<ContactView>,
    counts: Vec<StatusCount>,
    /// The contacts in the scope (all statuses), and the scope's name.
    scope_total: String,
    scope_name: &'static str,
    scopes: Vec<ScopeLink>,
    all_statuses_href: String,
    /// "1–50 of 12,345"; and the whole filter's size for "all N matching".
    count_text: String,
    all_label: String,
    q: String,
    statuses: Vec<LeadStatus>,
    owner: String,
    team: Vec<UserSummary>,
    sort: String,
    order: &'static str,
    sort_links: Vec<SortLink>,
    sort_options: Vec<SortOption>,
    /// The query without its sort, for the sort control's hidden fields.
    sort_hidden: Vec<(String, String)>,
    sort_caption: String,
    first_href: Option<String>,
    next_href: Option<String>,
    prev_href: Option<String>,
    /// How many filters narrow the list (the phone's "Filters (2)").
    active_filters: usize,
    clear_href: String,
    everyone_href: String,
    /// True when the team has no contacts at all (not just none matching).
    no_contacts: bool,
    all_labels: Vec<Label>,
    selected_labels: Vec<String>,
    definitions: Vec<Definition>,
    /// The custom attribute columns shown, as (key, display name).
    columns: Vec<(String, String)>,
    /// The custom attribute filters, each with the link that removes it.
    filter_chips: Vec<(String, String)>,
    /// The attribute filters as hidden fields, so "Apply" keeps them.
    attr_params: Vec<(String, String)>,
    /// The whole query as hidden fields, for the "add a filter" form.
    query_params: Vec<(String, String)>,
    /// The current filter as a CSV download.
    export_href: String,
}

impl ListPage {
    fn status_selected(&self, status: &LeadStatus) -> bool {
        self.statuses.contains(status)
    }
    fn label_selected(&self, name: &str) -> bool {
        self.selected_labels.iter().any(|l| l == name)
    }
    fn column_shown(&self, key: &str) -> bool {
        self.columns.iter().any(|(k, _)| k == key)
    }
}

/// The list's URL for a query, with `change` applied.
fn list_href(query: &ContactQuery, change: impl FnOnce(&mut ContactQuery)) -> String {
    let mut query = query.clone();
    change(&mut query);
    let mut url = url::form_urlencoded::Serializer::new(String::new());
    url.extend_pairs(query.to_pairs());
    format!("/contacts?{}", url.finish())
}

/// The "add a filter" form (`fattr`, `fop`, `fval`) turned into the
/// filter's own parameter, so the list's URLs stay those of interface.md.
fn added_filter(pairs: &[(String, String)]) -> Option<Result<(String, String), AppError>> {
    let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_string());
    let key = get("fattr").filter(|k| !k.is_empty())?;
    let value = get("fval").unwrap_or_default();
    let (suffix, value) = match get("fop").unwrap_or_default().as_str() {
        "" | "is" => ("", value),
        "contains" => (".contains", value),
        "set" => (".set", "1".to_string()),
        "unset" => (".set", "0".to_string()),
        "from" => (".from", value),
        "to" => (".to", value),
        _ => return Some(Err(AppError::bad_request("Unknown filter operator."))),
    };
    Some(Ok((format!("attr.{key}{suffix}"), value)))
}

/// `12345` as `12,345`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// The position of the page's first row (`at`, 1-based), carried in the
/// pager's links: the list pages by cursor, so only the links know it.
fn position(pairs: &[(String, String)]) -> usize {
    pairs
        .iter()
        .find(|(k, _)| k == "at")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .filter(|&n| n >= 1)
        .unwrap_or(1)
}

/// What each sortable column sorts by, with its header and class.
fn sortable_columns(columns: &[(String, String)]) -> Vec<(SortKey, String, &'static str)> {
    let mut all = vec![
        (SortKey::Name, "Name".to_string(), ""),
        (SortKey::Status, "Status".to_string(), ""),
        (SortKey::Owner, "Owner".to_string(), ""),
        (SortKey::Activity, "Last activity".to_string(), ""),
        (SortKey::Created, "Created".to_string(), "created"),
        (SortKey::Score, "Lead score".to_string(), ""),
    ];
    all.extend(
        columns
            .iter()
            .map(|(key, name)| (SortKey::Attr(key.clone()), name.clone(), "")),
    );
    all
}

/// The column headers: a sort starts ascending (A–Z, oldest first, lowest
/// score first, status in pipeline order); a second click turns it round.
fn sort_links(query: &ContactQuery, columns: &[(String, String)]) -> Vec<SortLink> {
    sortable_columns(columns)
        .into_iter()
        .map(|(key, label, class)| {
            let current = query.sort == key;
            let next_order = if current && query.order == Order::Asc {
                Order::Desc
            } else {
                Order::Asc
            };
            SortLink {
                label,
                href: list_href(query, |q| {
                    q.sort = key;
                    q.order = next_order;
                    q.cursor = None;
                }),
                arrow: match (current, query.order) {
                    (false, _) => "",
                    (true, Order::Asc) => " ▲",
                    (true, Order::Desc) => " ▼",
                },
                aria: match (current, query.order) {
                    (false, _) => "none",
                    (true, Order::Asc) => "ascending",
                    (true, Order::Desc) => "descending",
                },
                class,
            }
        })
        .collect()
}

/// The phone's sort control: each sortable column in both directions.
fn sort_options(query: &ContactQuery, columns: &[(String, String)]) -> Vec<SortOption> {
    let mut options = Vec::new();
    for (key, label, _) in sortable_columns(columns) {
        let (up, down) = match key {
            SortKey::Name | SortKey::Owner => ("A–Z", "Z–A"),
            SortKey::Status => ("pipeline order", "pipeline order, reversed"),
            SortKey::Activity | SortKey::Created => ("oldest first", "newest first"),
            SortKey::Score => ("lowest first", "highest first"),
            SortKey::Attr(_) => ("ascending", "descending"),
        };
        for (order, words) in [(Order::Asc, up), (Order::Desc, down)] {
            options.push(SortOption {
                value: format!("{}:{}", key.as_param(), order.as_str()),
                label: format!("{label}, {words}"),
                selected: query.sort == key && query.order == order,
            });
        }
    }
    options
}

/// The phone's sort control sends `sort_by=KEY:ORDER`; it becomes the
/// list's own `sort` and `order`, so the list's URLs stay the documented ones.
fn chosen_sort(pairs: &[(String, String)]) -> Option<(String, String)> {
    let value = pairs.iter().find(|(k, _)| k == "sort_by")?.1.clone();
    let (sort, order) = value.rsplit_once(':')?;
    Some((sort.to_string(), order.to_string()))
}

pub async fn list(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect();
    if let Some(added) = added_filter(&pairs) {
        let added = added?;
        pairs.retain(|(k, _)| !matches!(k.as_str(), "fattr" | "fop" | "fval" | "cursor"));
        pairs.push(added);
        let query =
            ContactQuery::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).map_err(AppError::bad_request)?;
        return Ok(pages::see_other(&list_href(&query, |_| {})));
    }
    if let Some((sort, order)) = chosen_sort(&pairs) {
        pairs.retain(|(k, _)| !matches!(k.as_str(), "sort_by" | "sort" | "order" | "cursor" | "at"));
        pairs.push(("sort".into(), sort));
        pairs.push(("order".into(), order));
        let query =
            ContactQuery::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).map_err(AppError::bad_request)?;
        return Ok(pages::see_other(&list_href(&query, |_| {})));
    }
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
    let scope = query.owner.unwrap_or(OwnerFilter::All);
    let (page, total, counts, team_empty, team, extras, all_labels) = state
        .db(move |c| {
            let page = listing::page(c, &q, me, calling_code, PAGE_SIZE)?;
            let ids: Vec<i32> = page.rows.iter().map(|r| r.contact.id).collect();
            let extras = contacts::extras(c, &ids)?;
            // "No contacts yet" is about the whole team, whatever the scope.
            let team_empty = listing::status_counts(c)?.iter().all(|(_, n)| *n == 0);
            Ok((
                page,
                listing::total(c, &q, me, calling_code)?,
                listing::status_counts_in(c, scope, me)?,
                team_empty,
                users::team(c)?,
                extras,
                crate::service::labels::all(c)?,
            ))
        })
        .await?;
    let columns: Vec<(String, String)> = query
        .cols
        .iter()
        .filter_map(|key| extras.definitions.iter().find(|d| &d.key == key))
        .map(|d| (d.key.clone(), d.display_name.clone()))
        .collect();
    let mut filter_chips: Vec<(String, String)> = query
        .attrs
        .iter()
        .map(|f| {
            (
                f.describe(&extras.definitions),
                list_href(&query, |q| {
                    q.attrs.retain(|other| other != f);
                    q.cursor = None;
                }),
            )
        })
        .collect();
    if let Some(days) = query.quiet_days {
        filter_chips.push((
            format!("no message sent for {days} days"),
            list_href(&query, |q| {
                q.quiet_days = None;
                q.cursor = None;
            }),
        ));
    }
    let scope_total = thousands(counts.iter().map(|(_, n)| n).sum::<i64>().max(0) as usize);
    let counts = counts
        .into_iter()
        .map(|(status, count)| StatusCount {
            status,
            count: thousands(count.max(0) as usize),
            selected: query.statuses.contains(&status),
            href: list_href(&query, |q| {
                q.statuses = vec![status];
                q.cursor = None;
            }),
        })
        .collect();
    let scopes = [
        ("My contacts", OwnerFilter::Me),
        ("Everyone", OwnerFilter::All),
        ("Unassigned", OwnerFilter::Nobody),
    ]
    .into_iter()
    .map(|(label, owner)| ScopeLink {
        label,
        href: list_href(&query, |q| {
            q.owner = Some(owner);
            q.cursor = None;
        }),
        current: scope == owner,
    })
    .collect();
    let scope_name = match scope {
        OwnerFilter::All => "everyone's",
        OwnerFilter::Me => "yours",
        OwnerFilter::Nobody => "unassigned",
        OwnerFilter::User(_) => "one owner's",
    };
    let sort_links = sort_links(&query, &columns);
    let sort_options = sort_options(&query, &columns);
    let sort_caption = sort_options
        .iter()
        .find(|o| o.selected)
        .map(|o| o.label.clone())
        .unwrap_or_default();
    let at = position(&pairs);
    let shown = page.rows.len();
    let count_text = match (shown, total) {
        (0, _) => "No contacts match".to_string(),
        (n, ListTotal::Exact(all)) => format!(
            "{}–{} of {}",
            thousands(at),
            thousands(at + n - 1),
            thousands(all as usize)
        ),
        (n, ListTotal::AtLeast(cap)) => format!(
            "{}–{} of more than {}",
            thousands(at),
            thousands(at + n - 1),
            thousands(cap as usize)
        ),
    };
    let all_label = match total {
        ListTotal::Exact(all) => thousands(all as usize),
        // "Apply to all 1,000+ matching": the count stopped at the cap.
        ListTotal::AtLeast(cap) => format!("{}+", thousands(cap as usize)),
    };
    let cursor_href = |token: &str, at: usize| {
        listing::Cursor::decode(token).ok().map(|c| {
            let href = list_href(&query, |q| q.cursor = Some(c));
            format!("{href}&at={at}")
        })
    };
    let next_href = page.next.as_deref().and_then(|t| cursor_href(t, at + shown));
    let prev_href = page
        .prev
        .as_deref()
        .and_then(|t| cursor_href(t, at.saturating_sub(PAGE_SIZE).max(1)));
    let first_href = (query.cursor.is_some() && page.prev.is_some()).then(|| list_href(&query, |q| q.cursor = None));
    let rows = page
        .rows
        .iter()
        .map(|r| {
            let mut view = ContactView::new(&r.contact, r.owner_name.as_deref(), tz);
            view.labels = extras.labels_of(r.contact.id).to_vec();
            let held = extras.values.get(&r.contact.id);
            view.columns = columns
                .iter()
                .map(|(key, _)| {
                    extras
                        .definitions
                        .iter()
                        .find(|d| &d.key == key)
                        .and_then(|d| held.and_then(|h| h.get(&d.id)))
                        .map(Value::display)
                        .unwrap_or_default()
                })
                .collect();
            view
        })
        .collect();
    let mut query_params = query.to_pairs();
    query_params.retain(|(k, _)| k != "cursor");
    let sort_hidden = query_params
        .iter()
        .filter(|(k, _)| k != "sort" && k != "order")
        .cloned()
        .collect();
    let attr_params = query.attrs.iter().map(|f| f.to_param()).collect();
    let export_href = format!(
        "/contacts/export.csv?{}",
        serde_urlencoded::to_string(&query_params).unwrap_or_default()
    );
    let active_filters = usize::from(!query.q.is_empty())
        + query.statuses.len()
        + query.labels.len()
        + query.attrs.len()
        + usize::from(query.quiet_days.is_some());
    let clear_href = list_href(&query, |q| {
        q.q.clear();
        q.statuses.clear();
        q.labels.clear();
        q.attrs.clear();
        q.quiet_days = None;
        q.cursor = None;
    });
    let everyone_href = list_href(&query, |q| {
        q.owner = Some(OwnerFilter::All);
        q.cursor = None;
    });
    let all_statuses_href = list_href(&query, |q| {
        q.statuses.clear();
        q.cursor = None;
    });
    let page_view = ListPage {
        layout: Layout::new(&user, &session, "Contacts", "contacts"),
        rows,
        counts,
        scope_total,
        scope_name,
        scopes,
        all_statuses_href,
        count_text,
        all_label,
        q: query.q.clone(),
        statuses: query.statuses.clone(),
        owner: scope.as_param(),
        team,
        sort: query.sort.as_param(),
        order: query.order.as_str(),
        sort_links,
        sort_options,
        sort_hidden,
        sort_caption,
        first_href,
        next_href,
        prev_href,
        active_filters,
        clear_href,
        everyone_href,
        no_contacts: team_empty,
        all_labels,
        selected_labels: query.labels.clone(),
        definitions: extras.definitions,
        columns,
        filter_chips,
        attr_params,
        query_params,
        export_href,
    };
    Ok(pages::render(&page_view))
}

/// The contact that already holds a value the form asked for.
pub struct DuplicateView {
    pub field: String,
    pub id: i32,
    pub name: String,
    pub trashed: bool,
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
    duplicate: Option<DuplicateView>,
    /// Where a lead or admin editing a contact can merge the holder into it.
    merge_href: Option<String>,
    team: Vec<UserSummary>,
    can_assign: bool,
    editing: bool,
    definitions: Vec<Definition>,
}

impl FormPage {
    /// The typed or stored text of a custom attribute.
    fn custom_value(&self, key: &str) -> &str {
        self.values.custom.get(key).map_or("", String::as_str)
    }
    /// A date value in the team's format (`8 Dec 2026`); what the user
    /// typed, as typed, when it is not a date.
    fn custom_date(&self, key: &str) -> String {
        let text = self.custom_value(key);
        attributes::parse_day(text).map_or_else(|| text.to_string(), |d| d.format("%-d %b %Y").to_string())
    }
    fn custom_is(&self, key: &str, option: &str) -> bool {
        self.custom_value(key).eq_ignore_ascii_case(option)
    }
    fn custom_field(&self, key: &str) -> String {
        format!("custom.{key}")
    }
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
    let (team, definitions) = state.db(|c| Ok((users::team(c)?, attributes::definitions(c)?))).await?;
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
        merge_href: None,
        team,
        can_assign: true,
        editing: false,
        definitions,
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
            let holder = state.db(move |c| contacts::holder(c, existing_id)).await?;
            let (name, trashed) = holder.unwrap_or_else(|| (format!("contact #{existing_id}"), false));
            let mut fields = FieldErrors::new();
            let whose = if trashed {
                format!("already belongs to {name}, who is in the trash")
            } else {
                format!("already belongs to {name}")
            };
            fields.insert(field.into(), vec![whose]);
            let held = DuplicateView {
                field: field.replace('_', " "),
                id: existing_id,
                name,
                trashed,
            };
            (fields, Some(held), StatusCode::CONFLICT)
        }
        other => return Err(other),
    };
    let (team, definitions) = state.db(|c| Ok((users::team(c)?, attributes::definitions(c)?))).await?;
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
        merge_href: match (editing, &duplicate) {
            (Some(id), Some(held)) if user.actor.role.can_delete() && !held.trashed => {
                Some(format!("/contacts/{id}/merge?other={}", held.id))
            }
            _ => None,
        },
        duplicate,
        team,
        can_assign: editing.is_none() || user.actor.role.can_assign(),
        editing: editing.is_some(),
        definitions,
    };
    Ok(pages::render_with(status, &page))
}

/// Checks the form against the current custom attribute definitions.
async fn parse_draft(state: &AppState, input: &ContactInput) -> Result<ContactDraft, AppError> {
    let definitions = state.db(attributes::definitions).await?;
    ContactDraft::parse(input, state.settings.default_country, &definitions).map_err(|fields| AppError::Validation {
        message: "Please correct the highlighted fields.".into(),
        fields,
    })
}

pub async fn create(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let input = ContactInput::from_pairs(form.0);
    let result = match parse_draft(&state, &input).await {
        Ok(draft) => {
            let actor = user.actor.clone();
            state
                .db(move |c| {
                    let contact = contacts::create(c, &actor, &draft, StatusSource::Manual)?;
                    let looks_like = !crate::service::duplicates::of_contact(c, contact.id)?.is_empty();
                    Ok((contact, looks_like))
                })
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok((contact, looks_like)) => {
            pages::flash(
                &session,
                if looks_like {
                    "Contact created. It looks like a contact you already have: see Possible duplicates."
                } else {
                    "Contact created"
                },
            );
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

/// One custom attribute on the details page.
pub struct CustomView {
    pub name: String,
    pub description: String,
    /// Empty when the contact holds no value.
    pub value: String,
    /// Links are shown as links.
    pub href: Option<String>,
}

impl CustomView {
    fn new(def: &Definition, value: Option<&Value>) -> Self {
        Self {
            name: def.display_name.clone(),
            description: def.description.clone(),
            value: value.map(Value::display).unwrap_or_default(),
            href: match value {
                Some(Value::Link(url)) if def.kind == Kind::Link => Some(url.clone()),
                _ => None,
            },
        }
    }
}

/// A note on the details page.
pub struct NoteView {
    pub id: i32,
    pub kind: NoteKind,
    pub body: String,
    pub author: String,
    pub when: String,
    pub when_relative: String,
    pub edited: bool,
    pub editable: bool,
}

/// A label in the details page's picker.
pub struct LabelChoice {
    pub label: Label,
    pub on: bool,
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
    custom: Vec<CustomView>,
    labels: Vec<Label>,
    label_choices: Vec<LabelChoice>,
    notes: Vec<NoteView>,
    conversations: Vec<super::conversations::ConversationView>,
    /// Every inbox, with whether the contact opted out of it.
    inbox_opt_outs: Vec<(crate::service::inboxes::Inbox, bool)>,
    /// Contacts the duplicate finder pairs with this one: (ID, name, reason).
    look_alikes: Vec<(i32, String, String)>,
    /// The activity log's entries about this contact, newest first.
    entries: Vec<super::users::EntryView>,
    /// The follow-up reminder, as shown and as the form's value.
    follow_up: Option<String>,
    follow_up_value: String,
    score: super::pipeline::ScoreView,
}

impl ShowPage {
    fn status_options(&self) -> [LeadStatus; 7] {
        LeadStatus::ALL
    }
    fn is_owner(&self, id: &i32) -> bool {
        self.owner_id == Some(*id)
    }
    fn note_kinds(&self) -> [NoteKind; 3] {
        NoteKind::ALL
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
    let outcomes = state.settings.score_outcomes;
    let (details, team, all_labels, (conversations, inbox_opt_outs, look_alikes, entries), score) = state
        .db(move |c| {
            let details = contacts::details(c, id)?;
            let look_alikes = crate::service::duplicates::of_contact(c, id)?
                .into_iter()
                .map(|(_, other, reason)| (other.id, other.name, reason))
                .collect::<Vec<_>>();
            let team = if can_assign { users::team(c)? } else { Vec::new() };
            let conversations = crate::service::conversations::listed_of_contact(c, id)?;
            let opted = crate::service::messaging::opted_out_inboxes(c, id)?;
            let inbox_opt_outs = crate::service::inboxes::all(c)?
                .into_iter()
                .map(|i| {
                    let out = opted.contains(&i.id);
                    (i, out)
                })
                .collect::<Vec<_>>();
            Ok((
                details,
                team,
                crate::service::labels::all(c)?,
                (
                    conversations,
                    inbox_opt_outs,
                    look_alikes,
                    crate::service::activity::recent(c, Some(id), None, 20)?,
                ),
                super::pipeline::score_view(c, id, outcomes)?,
            ))
        })
        .await?;
    let custom = details
        .definitions
        .iter()
        .map(|d| CustomView::new(d, details.values.get(&d.id)))
        .collect();
    let label_choices = all_labels
        .into_iter()
        .map(|label| LabelChoice {
            on: details.labels.iter().any(|l| l.id == label.id),
            label,
        })
        .collect();
    let notes = details
        .notes
        .iter()
        .map(|n| NoteView {
            id: n.id,
            kind: n.kind(),
            body: n.body.clone(),
            author: n.author_name.clone().unwrap_or_else(|| "a former user".into()),
            when: local_time(n.created_at, tz),
            when_relative: relative_time(n.created_at),
            edited: n.updated_at > n.created_at,
            editable: n.editable_by(&user.actor),
        })
        .collect();
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
        custom,
        labels: details.labels.clone(),
        label_choices,
        notes,
        conversations: conversations
            .iter()
            .map(|c| super::conversations::ConversationView::new(c, tz))
            .collect(),
        inbox_opt_outs,
        look_alikes,
        entries: super::users::entry_views(&entries, tz),
        follow_up: details.contact.follow_up_at.map(|t| local_time(t, tz)),
        follow_up_value: details
            .contact
            .follow_up_at
            .map(|t| local_time(t, tz))
            .unwrap_or_default(),
        score,
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
    let (contact, team, definitions, mut held) = state
        .db(move |c| {
            let contact = contacts::get(c, id)?;
            let definitions = attributes::definitions(c)?;
            let held = attributes::values_of(c, &definitions, &[id])?;
            Ok((contact, users::team(c)?, definitions, held))
        })
        .await?;
    let mut values = contacts::input_of(&contact);
    values.custom = contacts::custom_input(&definitions, held.remove(&id).as_ref());
    let page = FormPage {
        layout: Layout::new(&user, &session, format!("Edit {}", contact.name), "contacts"),
        heading: "Edit contact".into(),
        action: format!("/contacts/{id}"),
        cancel: format!("/contacts/{id}"),
        values,
        errors: pages::FormErrors::default(),
        duplicate: None,
        merge_href: None,
        team,
        can_assign: user.actor.role.can_assign(),
        editing: true,
        definitions,
    };
    Ok(pages::render(&page))
}

pub async fn update(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let mut input = ContactInput::from_pairs(form.0);
    let result = match parse_draft(&state, &input).await {
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
    // The contact waits in the trash: the notice offers to put it back.
    pages::flash_with_undo(
        &session,
        "Contact deleted (moved to the trash)",
        "Undo",
        &format!("/trash/{id}/restore"),
    );
    Ok(pages::see_other("/contacts"))
}
