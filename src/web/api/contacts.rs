//! `/api/v1/statuses` and `/api/v1/contacts…`.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::body::{read_object, Given, JsonObject};
use super::{authorized, ApiError, ApiUser, Bearer, ErrorBody};
use crate::error::AppError;
use crate::service::attributes::{self, Definition};
use crate::service::contact_fields::{check_plain, Email, Phone};
pub use crate::service::contact_json::{contact_json, contacts_json, ContactJson};
use crate::service::contacts::{self, Contact, ContactDraft, ContactInput, HistoryEntry};
use crate::service::listing::{self, ContactQuery, Cursor, Order, OwnerFilter, SortKey};
use crate::service::status::{LeadStatus, StatusSource};
use crate::web::AppState;

type ApiResult = Result<HttpResponse, ApiError>;

/// A lead status.
#[derive(Serialize, ToSchema)]
pub struct StatusJson {
    #[schema(example = 3)]
    pub id: i32,
    #[schema(example = "Qualified")]
    pub name: String,
    pub description: String,
}

/// A page of contacts.
#[derive(Serialize, ToSchema)]
pub struct ContactPage {
    pub data: Vec<ContactJson>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// One status change.
#[derive(Serialize, ToSchema)]
pub struct HistoryJson {
    pub from_id: Option<i32>,
    pub to_id: i32,
    /// manual, automation, chatbot, api, import or merge.
    pub source: String,
    pub user_id: Option<i32>,
    pub at: DateTime<Utc>,
}

fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

impl From<&HistoryEntry> for HistoryJson {
    fn from(h: &HistoryEntry) -> Self {
        Self {
            from_id: h.from_id,
            to_id: h.to_id,
            source: h.source.clone(),
            user_id: h.user_id,
            at: utc(h.at),
        }
    }
}

/// The attributes a client may send to create or change a contact. On
/// PATCH, `null` clears an attribute and a missing one stays as it is.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ContactWrite {
    /// Required on create; 1–255 characters.
    name: Option<String>,
    email: Option<String>,
    /// Any common format; stored as E.164 (`DEFAULT_COUNTRY` for numbers without `+`).
    phone: Option<String>,
    identifier: Option<String>,
    company: Option<String>,
    city: Option<String>,
    country: Option<String>,
    /// 1–7; or give `status` as a name.
    #[schema(minimum = 1, maximum = 7)]
    status_id: Option<i32>,
    /// A status name or alias (`qualified`, `Disqualified`).
    status: Option<String>,
    /// A user ID; null for nobody. Contacts an agent creates are theirs unless given.
    owner_id: Option<i32>,
    opted_out: Option<bool>,
    /// Values by custom attribute key, typed as defined. On PATCH, keys
    /// merge one by one and `null` removes a key.
    #[schema(value_type = Option<Object>)]
    custom_attributes: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A status change.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct StatusChange {
    #[schema(minimum = 1, maximum = 7)]
    status_id: Option<i32>,
    /// Name or alias, instead of `status_id`.
    status: Option<String>,
    /// `api` (default), `chatbot` or `automation`.
    source: Option<String>,
}

/// The list's query parameters.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ListParams {
    /// Substring search over name, email, phone and identifier.
    q: Option<String>,
    /// Exact email.
    email: Option<String>,
    /// Exact phone, in any format.
    phone: Option<String>,
    /// Exact identifier.
    identifier: Option<String>,
    /// Status IDs (repeatable).
    status_id: Option<Vec<i32>>,
    /// A user ID, `me` or `none`.
    owner_id: Option<String>,
    /// Label names (repeatable; all must match).
    label: Option<Vec<String>>,
    /// Custom attribute filters are also accepted, as on the list page:
    /// `attr.<key>=<value>`, `attr.<key>.contains=<text>`, `attr.<key>.set=1|0`,
    /// `attr.<key>.from=<value>`, `attr.<key>.to=<value>`.
    #[param(rename = "attr.<key>")]
    attr: Option<String>,
    /// `activity` (default), `status` (in pipeline order: New, Reach,
    /// Qualified, Negotiating, Won, then Unqualified, Lost), `name`,
    /// `created`, `score` (the lead score) or `owner` (the owner's name,
    /// unassigned last ascending, first descending). Contacts without
    /// activity, or without a score, come last in either order.
    #[param(inline)]
    sort: Option<crate::service::listing::SortKey>,
    /// `asc` or `desc` (default).
    order: Option<String>,
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// From `next_cursor`.
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/statuses", tag = "statuses",
    responses((status = 200, body = [StatusJson]), (status = 401, body = ErrorBody)))]
pub async fn statuses(state: web::Data<AppState>, bearer: Bearer) -> ApiResult {
    authorized(&state, bearer, |_, _| Ok(())).await?;
    let all: Vec<StatusJson> = LeadStatus::ALL
        .into_iter()
        .map(|s| StatusJson {
            id: s.id(),
            name: s.name().into(),
            description: s.description().into(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(all))
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError(AppError::field(field, message))
}

/// Parses the list's query string into the shared `ContactQuery`.
fn list_query(raw: &str, state: &AppState) -> Result<(ContactQuery, usize), ApiError> {
    let mut query = ContactQuery::parse(std::iter::empty()).map_err(|e| invalid("query", e))?;
    query.owner = Some(OwnerFilter::All);
    let mut limit = 50usize;
    for (key, value) in url::form_urlencoded::parse(raw.as_bytes()) {
        let value = value.trim().to_string();
        if key != "cols" && query.parse_shared(&key, &value).map_err(|e| invalid(&key, e))? {
            continue;
        }
        match key.as_ref() {
            "q" => {
                if value.chars().count() > 200 {
                    return Err(invalid("q", "is too long (at most 200 characters)"));
                }
                check_plain(&value).map_err(|e| invalid("q", e))?;
                query.q = value;
            }
            "email" => query.email = Some(Email::parse(&value).map_err(|e| invalid("email", e))?.into_inner()),
            "phone" => {
                query.phone = Some(
                    Phone::parse(&value, state.settings.default_country)
                        .map_err(|e| invalid("phone", e))?
                        .into_inner(),
                )
            }
            "identifier" => {
                check_plain(&value).map_err(|e| invalid("identifier", e))?;
                query.identifier = Some(value)
            }
            "status_id" => {
                let status = value
                    .parse::<i32>()
                    .ok()
                    .and_then(LeadStatus::from_id)
                    .ok_or_else(|| invalid("status_id", "must be a status ID from 1 to 7"))?;
                if !query.statuses.contains(&status) {
                    query.statuses.push(status);
                }
            }
            "owner_id" => {
                query.owner = Some(match value.as_str() {
                    "me" => OwnerFilter::Me,
                    "none" => OwnerFilter::Nobody,
                    id => OwnerFilter::User(
                        id.parse()
                            .map_err(|_| invalid("owner_id", "must be a user ID, me or none"))?,
                    ),
                })
            }
            "sort" => query.sort = SortKey::parse_api(&value).map_err(|e| invalid("sort", e))?,
            "order" => query.order = Order::parse(&value).map_err(|e| invalid("order", e))?,
            "limit" => {
                limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=200).contains(n))
                    .ok_or_else(|| invalid("limit", "must be a whole number from 1 to 200"))?
            }
            "cursor" => query.cursor = Some(Cursor::decode(&value).map_err(|e| invalid("cursor", e))?),
            _ => {}
        }
    }
    if query.cursor.as_ref().is_some_and(|c| !c.fits(&query.sort)) {
        return Err(invalid(
            "cursor",
            "belongs to another sort order; start again without it",
        ));
    }
    query.statuses.sort();
    Ok((query, limit))
}

#[utoipa::path(get, path = "/api/v1/contacts", tag = "contacts", params(ListParams),
    responses((status = 200, body = ContactPage), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list(state: web::Data<AppState>, bearer: Bearer, req: HttpRequest) -> ApiResult {
    // Parsed here, reported after the token check: a stranger learns nothing.
    let parsed = list_query(req.query_string(), &state);
    let calling_code = state.settings.calling_code;
    let (data, next_cursor) = authorized(&state, bearer, move |c, actor| {
        let (query, limit) = parsed.map_err(|e| e.0)?;
        let page = listing::page(c, &query, actor.id, calling_code, limit)?;
        let rows: Vec<Contact> = page.rows.into_iter().map(|r| r.contact).collect();
        Ok((contacts_json(c, &rows)?, page.next))
    })
    .await?;
    Ok(HttpResponse::Ok().json(ContactPage { data, next_cursor }))
}

/// Where a text attribute of the body goes in the input.
type TextSlot = fn(&mut ContactInput) -> &mut String;

/// Fills `input` from the body: absent attributes stay as they are, `null`
/// clears. Returns the `custom_attributes` object, checked later against
/// the definitions.
fn apply_body(body: &mut JsonObject, input: &mut ContactInput) -> serde_json::Map<String, serde_json::Value> {
    let text_fields: [(&str, TextSlot); 7] = [
        ("name", |i| &mut i.name),
        ("email", |i| &mut i.email),
        ("phone", |i| &mut i.phone),
        ("identifier", |i| &mut i.identifier),
        ("company", |i| &mut i.company),
        ("city", |i| &mut i.city),
        ("country", |i| &mut i.country),
    ];
    for (key, slot) in text_fields {
        match body.text(key) {
            Given::Absent => {}
            Given::Null => slot(input).clear(),
            Given::Value(v) => *slot(input) = v,
        }
    }
    let refuse = |body: &mut JsonObject, key: &str, message: &str| {
        body.errors
            .entry(key.to_string())
            .or_default()
            .push(message.to_string());
    };
    match body.integer("status_id") {
        Given::Value(id) => input.status = id.to_string(),
        Given::Null => refuse(body, "status_id", "cannot be null (every contact has a status)"),
        Given::Absent => match body.text("status") {
            Given::Value(name) if name.trim().is_empty() => refuse(body, "status", "cannot be empty"),
            Given::Value(name) => input.status = name,
            Given::Null => refuse(body, "status", "cannot be null (every contact has a status)"),
            Given::Absent => {}
        },
    }
    match body.integer("owner_id") {
        Given::Value(id) => input.owner = Some(id.to_string()),
        Given::Null => input.owner = Some(String::new()),
        Given::Absent => {}
    }
    match body.boolean("opted_out") {
        Given::Value(true) => input.opted_out = "1".into(),
        Given::Value(false) | Given::Null => input.opted_out.clear(),
        Given::Absent => {}
    }
    match body.object("custom_attributes") {
        Given::Value(map) => map,
        Given::Null | Given::Absent => serde_json::Map::new(),
    }
}

/// Names fields as the client sent them: the forms' `status` and `owner`
/// are the API's `status_id` (unless a `status` name was sent) and `owner_id`.
fn json_names(error: AppError, sent_status_name: bool) -> ApiError {
    let AppError::Validation { fields, .. } = error else {
        return ApiError(error);
    };
    let fields: crate::error::FieldErrors = fields
        .into_iter()
        .map(|(key, msgs)| match key.as_str() {
            "status" if !sent_status_name => ("status_id".to_string(), msgs),
            "owner" => ("owner_id".to_string(), msgs),
            _ => (key, msgs),
        })
        .collect();
    ApiError(AppError::invalid(fields))
}

/// Checks the standard attributes and the custom ones together, so one
/// answer names every bad field.
fn draft(
    country: phonenumber::country::Id,
    input: &ContactInput,
    defs: &[Definition],
    custom: &serde_json::Map<String, serde_json::Value>,
) -> Result<ContactDraft, AppError> {
    let custom = attributes::parse_json_values(defs, custom);
    let parsed = ContactDraft::parse(input, country, defs);
    let fields = match (parsed, custom) {
        (Ok(mut draft), Ok(custom)) => {
            draft.custom = custom;
            return Ok(draft);
        }
        (Ok(_), Err(e)) | (Err(e), Ok(_)) => e,
        (Err(mut a), Err(b)) => {
            a.extend(b);
            a
        }
    };
    Err(AppError::invalid(fields))
}

#[utoipa::path(post, path = "/api/v1/contacts", tag = "contacts", request_body = ContactWrite,
    responses((status = 201, body = ContactJson), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn create(state: web::Data<AppState>, user: ApiUser, payload: web::Payload) -> ApiResult {
    let mut body = read_object(payload, state.settings.max_json_kb).await?;
    let sent_status_name = !body.has("status_id") && body.has("status");
    let mut input = ContactInput::default();
    let custom = apply_body(&mut body, &mut input);
    body.check()?;
    let actor = user.0;
    let country = state.settings.default_country;
    let contact = state
        .db(move |c| {
            let defs = attributes::definitions(c)?;
            let draft = draft(country, &input, &defs, &custom)?;
            let contact = contacts::create(c, &actor, &draft, StatusSource::Api)?;
            contact_json(c, &contact)
        })
        .await
        .map_err(|e| json_names(e, sent_status_name))?;
    Ok(HttpResponse::Created().json(contact))
}

#[utoipa::path(get, path = "/api/v1/contacts/{id}", tag = "contacts", params(("id" = i32, Path)),
    responses((status = 200, body = ContactJson), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn show(state: web::Data<AppState>, bearer: Bearer, path: web::Path<i32>) -> ApiResult {
    let id = path.into_inner();
    let contact = authorized(&state, bearer, move |c, _| {
        let contact = contacts::get(c, id)?;
        contact_json(c, &contact)
    })
    .await?;
    Ok(HttpResponse::Ok().json(contact))
}

#[utoipa::path(patch, path = "/api/v1/contacts/{id}", tag = "contacts", params(("id" = i32, Path)), request_body = ContactWrite,
    responses((status = 200, body = ContactJson), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    state: web::Data<AppState>,
    user: ApiUser,
    path: web::Path<i32>,
    payload: web::Payload,
) -> ApiResult {
    let id = path.into_inner();
    let mut body = read_object(payload, state.settings.max_json_kb).await?;
    let sent_status_name = !body.has("status_id") && body.has("status");
    let actor = user.0;
    let country = state.settings.default_country;
    let contact = state
        .db(move |c| {
            let defs = attributes::definitions(c)?;
            let contact = contacts::patch(c, &actor, id, StatusSource::Api, |mut input| {
                let custom = apply_body(&mut body, &mut input);
                body.check().map_err(|e| e.0)?;
                draft(country, &input, &defs, &custom)
            })?;
            contact_json(c, &contact)
        })
        .await
        .map_err(|e| json_names(e, sent_status_name))?;
    Ok(HttpResponse::Ok().json(contact))
}

#[utoipa::path(delete, path = "/api/v1/contacts/{id}", tag = "contacts", params(("id" = i32, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(state: web::Data<AppState>, user: ApiUser, path: web::Path<i32>) -> ApiResult {
    let id = path.into_inner();
    let actor = user.0;
    state.db(move |c| contacts::delete(c, &actor, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/api/v1/contacts/{id}/status", tag = "contacts", params(("id" = i32, Path)), request_body = StatusChange,
    responses((status = 200, body = ContactJson), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_status(
    state: web::Data<AppState>,
    user: ApiUser,
    path: web::Path<i32>,
    payload: web::Payload,
) -> ApiResult {
    let id = path.into_inner();
    let mut body = read_object(payload, state.settings.max_json_kb).await?;
    let status = match (body.integer("status_id"), body.text("status")) {
        (Given::Value(n), _) => i32::try_from(n)
            .ok()
            .and_then(LeadStatus::from_id)
            .ok_or_else(|| invalid("status_id", "must be a status ID from 1 to 7")),
        (_, Given::Value(name)) => LeadStatus::parse(&name).map_err(|e| invalid("status", e)),
        _ => Err(invalid("status_id", "is required (or give status as a name)")),
    };
    let source = match body.text("source") {
        Given::Absent | Given::Null => Ok(StatusSource::Api),
        Given::Value(s) => match s.as_str() {
            "api" => Ok(StatusSource::Api),
            "chatbot" => Ok(StatusSource::Chatbot),
            "automation" => Ok(StatusSource::Automation),
            _ => Err(invalid("source", "must be api, chatbot or automation")),
        },
    };
    body.check()?;
    let (status, source) = (status?, source?);
    let actor = user.0;
    let contact = state
        .db(move |c| {
            let contact = contacts::set_status(c, Some(&actor), id, status, source)?;
            contact_json(c, &contact)
        })
        .await?;
    Ok(HttpResponse::Ok().json(contact))
}

#[utoipa::path(get, path = "/api/v1/contacts/{id}/status_history", tag = "contacts", params(("id" = i32, Path)),
    responses((status = 200, body = [HistoryJson]), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn status_history(state: web::Data<AppState>, bearer: Bearer, path: web::Path<i32>) -> ApiResult {
    let id = path.into_inner();
    let history = authorized(&state, bearer, move |c, _| {
        contacts::get(c, id)?;
        contacts::history(c, id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(history.iter().map(HistoryJson::from).collect::<Vec<_>>()))
}
