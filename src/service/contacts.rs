//! Contacts: create, edit, delete, change status and assign, with every
//! status change written to the history in the same transaction.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use phonenumber::country::Id as CountryId;

use std::collections::{BTreeMap, HashMap};

use super::attributes::{self, ContactValues, Definition, Value, ValueChanges};
use super::contact_fields::{optional_text, ContactName, Country, Email, Phone};
use super::labels::{self, Label};
use super::notes::{self, Note};
use super::status::{LeadStatus, StatusSource};
use super::users::Actor;
use super::webhooks;
use crate::db::schema::{contacts, status_history, users};
use crate::db::{write_transaction, AnyConnection};
use crate::error::{AppError, FieldErrors};

/// The score of the contact in the row at hand (see `Contact::lead_score`).
const SCORE_OF_CONTACT: &str =
    "(SELECT contact_scores.score FROM contact_scores WHERE contact_scores.contact_id = contacts.id)";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = contacts)]
pub struct Contact {
    pub id: i32,
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
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub last_activity_at: Option<NaiveDateTime>,
    /// When the owner means to follow up (docs/decisions.md, "Pipeline insight").
    pub follow_up_at: Option<NaiveDateTime>,
    /// The lead score per mille, from the latest training; `None` when no
    /// model could be trained. Kept in `contact_scores` (migration 000015:
    /// a training rewrites every score, which on `contacts` itself meant a
    /// new version of each row in all its indexes); read here by primary
    /// key, so every query that loads a contact has its score.
    #[diesel(
        select_expression = diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Integer>>(SCORE_OF_CONTACT),
        select_expression_type = diesel::expression::SqlLiteral<diesel::sql_types::Nullable<diesel::sql_types::Integer>>
    )]
    pub lead_score: Option<i32>,
}

impl Contact {
    pub fn status(&self) -> LeadStatus {
        LeadStatus::from_id(self.status_id).unwrap_or(LeadStatus::New)
    }
}

/// A contact's attributes as typed by a person or sent by an integration:
/// raw text, checked by [`ContactDraft::parse`].
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct ContactInput {
    pub name: String,
    pub email: String,
    pub phone: String,
    pub identifier: String,
    pub company: String,
    pub city: String,
    pub country: String,
    pub status: String,
    /// Absent: the default owner; empty or `none`: nobody; else a user ID.
    pub owner: Option<String>,
    pub opted_out: String,
    /// Custom attribute values as typed, by key (form fields `custom.<key>`);
    /// a blank value removes the attribute's value.
    #[serde(skip)]
    pub custom: BTreeMap<String, String>,
}

impl ContactInput {
    /// Reads a contact form's fields, `custom.<key>` included.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut input = Self::default();
        for (key, value) in pairs {
            match key.as_str() {
                "name" => input.name = value,
                "email" => input.email = value,
                "phone" => input.phone = value,
                "identifier" => input.identifier = value,
                "company" => input.company = value,
                "city" => input.city = value,
                "country" => input.country = value,
                "status" => input.status = value,
                "owner" => input.owner = Some(value),
                "opted_out" => input.opted_out = value,
                other => {
                    if let Some(attr) = other.strip_prefix("custom.") {
                        input.custom.insert(attr.to_string(), value);
                    }
                }
            }
        }
        input
    }
}

/// The owner a form or request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerChoice {
    /// Nothing said: the service applies its default (the agent who creates it).
    Unspecified,
    Nobody,
    User(i32),
}

/// A valid set of standard attributes, ready to be written.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactDraft {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub identifier: Option<String>,
    pub company: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub status: Option<LeadStatus>,
    pub owner: OwnerChoice,
    pub opted_out: bool,
    /// Custom attribute values to set or remove; attributes not named stay.
    pub custom: ValueChanges,
}

impl ContactDraft {
    /// Checks every field, custom ones against their definitions, and
    /// collects all problems at once, keyed by field.
    pub fn parse(input: &ContactInput, default_country: CountryId, defs: &[Definition]) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let custom = attributes::parse_form_values(defs, &input.custom).unwrap_or_else(|e| {
            errors.extend(e);
            Vec::new()
        });
        let mut note = |field: &str, r: Result<Option<String>, String>| match r {
            Ok(v) => v,
            Err(e) => {
                errors.entry(field.to_string()).or_default().push(e);
                None
            }
        };
        let blank_or = |s: &str, f: &dyn Fn(&str) -> Result<String, String>| {
            if s.trim().is_empty() {
                Ok(None)
            } else {
                f(s).map(Some)
            }
        };
        let name = note("name", ContactName::parse(&input.name).map(|n| Some(n.into_inner())));
        let email = note(
            "email",
            blank_or(&input.email, &|s| Email::parse(s).map(Email::into_inner)),
        );
        let phone = note(
            "phone",
            blank_or(&input.phone, &|s| {
                Phone::parse(s, default_country).map(Phone::into_inner)
            }),
        );
        let identifier = note("identifier", optional_text(&input.identifier));
        let company = note("company", optional_text(&input.company));
        let city = note("city", optional_text(&input.city));
        let country = note(
            "country",
            blank_or(&input.country, &|s| Country::parse(s).map(Country::into_inner)),
        );
        let status = note(
            "status",
            blank_or(&input.status, &|s| LeadStatus::parse(s).map(|st| st.id().to_string())),
        )
        .and_then(|id| id.parse().ok().and_then(LeadStatus::from_id));
        let owner = match input.owner.as_deref().map(str::trim) {
            None => OwnerChoice::Unspecified,
            Some("" | "none") => OwnerChoice::Nobody,
            Some(text) => match text.parse::<i32>() {
                Ok(id) => OwnerChoice::User(id),
                Err(_) => {
                    errors.entry("owner".into()).or_default().push("is not a user".into());
                    OwnerChoice::Nobody
                }
            },
        };
        let opted_out = matches!(input.opted_out.trim(), "1" | "on" | "true" | "yes");
        match name {
            Some(name) if errors.is_empty() => Ok(Self {
                name,
                email,
                phone,
                identifier,
                company,
                city,
                country,
                status,
                owner,
                opted_out,
                custom,
            }),
            _ => Err(errors),
        }
    }
}

/// The raw attributes of an existing contact, as a form or a PATCH starts from.
pub fn input_of(c: &Contact) -> ContactInput {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    ContactInput {
        name: c.name.clone(),
        email: text(&c.email),
        phone: text(&c.phone),
        identifier: text(&c.identifier),
        company: text(&c.company),
        city: text(&c.city),
        country: text(&c.country),
        status: c.status_id.to_string(),
        owner: Some(c.owner_id.map(|id| id.to_string()).unwrap_or_default()),
        opted_out: if c.opted_out_at.is_some() {
            "1".into()
        } else {
            String::new()
        },
        custom: BTreeMap::new(),
    }
}

/// The form's text for each custom attribute a contact holds.
pub fn custom_input(defs: &[Definition], held: Option<&BTreeMap<i32, Value>>) -> BTreeMap<String, String> {
    defs.iter()
        .filter_map(|d| held.and_then(|h| h.get(&d.id)).map(|v| (d.key.clone(), v.text())))
        .collect()
}

/// The columns that creating and editing a contact both write.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = contacts, treat_none_as_null = true)]
struct ContactWrite<'a> {
    name: &'a str,
    email: Option<&'a str>,
    phone: Option<&'a str>,
    identifier: Option<&'a str>,
    company: Option<&'a str>,
    city: Option<&'a str>,
    country: Option<&'a str>,
    status_id: i32,
    owner_id: Option<i32>,
    opted_out_at: Option<NaiveDateTime>,
    updated_at: NaiveDateTime,
}

impl<'a> ContactWrite<'a> {
    fn new(
        draft: &'a ContactDraft,
        status: LeadStatus,
        owner_id: Option<i32>,
        opted_out_at: Option<NaiveDateTime>,
        now: NaiveDateTime,
    ) -> Self {
        Self {
            name: &draft.name,
            email: draft.email.as_deref(),
            phone: draft.phone.as_deref(),
            identifier: draft.identifier.as_deref(),
            company: draft.company.as_deref(),
            city: draft.city.as_deref(),
            country: draft.country.as_deref(),
            status_id: status.id(),
            owner_id,
            opted_out_at,
            updated_at: now,
        }
    }
}

/// One entry of a contact's status history, with the name of who made it.
#[derive(Debug, Clone, Queryable)]
pub struct HistoryEntry {
    pub from_id: Option<i32>,
    pub to_id: i32,
    pub source: String,
    pub user_id: Option<i32>,
    pub at: NaiveDateTime,
    pub user_name: Option<String>,
}

impl HistoryEntry {
    pub fn from_status(&self) -> Option<LeadStatus> {
        self.from_id.and_then(LeadStatus::from_id)
    }
    pub fn to_status(&self) -> LeadStatus {
        LeadStatus::from_id(self.to_id).unwrap_or(LeadStatus::New)
    }
}

/// A contact with what its details page shows.
pub struct ContactDetails {
    pub contact: Contact,
    pub owner_name: Option<String>,
    pub history: Vec<HistoryEntry>,
    pub definitions: Vec<Definition>,
    pub values: BTreeMap<i32, Value>,
    pub labels: Vec<Label>,
    pub notes: Vec<Note>,
}

/// What the contact JSON and the list add to the contacts' own row: custom
/// attribute values and labels, each read in one query for many contacts.
pub struct Extras {
    pub definitions: Vec<Definition>,
    pub values: ContactValues,
    pub labels: HashMap<i32, Vec<Label>>,
}

impl Extras {
    pub fn labels_of(&self, id: i32) -> &[Label] {
        self.labels.get(&id).map_or(&[], Vec::as_slice)
    }
}

pub fn extras(conn: &mut AnyConnection, ids: &[i32]) -> Result<Extras, AppError> {
    let definitions = attributes::definitions(conn)?;
    Ok(Extras {
        values: attributes::values_of(conn, &definitions, ids)?,
        labels: labels::of_contacts(conn, ids)?,
        definitions,
    })
}

/// Loads one contact or fails with 404.
pub fn get(conn: &mut AnyConnection, id: i32) -> Result<Contact, AppError> {
    contacts::table
        .find(id)
        .filter(contacts::deleted_at.is_null())
        .select(Contact::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found(&format!("Contact #{id}")))
}

/// Who holds an e-mail, phone or identifier that another contact asked
/// for: the name, and whether that contact is in the trash (a refusal names
/// the person, not an ID).
pub fn holder(conn: &mut AnyConnection, id: i32) -> Result<Option<(String, bool)>, AppError> {
    let row: Option<(String, Option<chrono::NaiveDateTime>)> = contacts::table
        .find(id)
        .select((contacts::name, contacts::deleted_at))
        .first(conn)
        .optional()?;
    Ok(row.map(|(name, deleted)| (name, deleted.is_some())))
}

/// A contact with its owner's name and status history, newest first.
pub fn details(conn: &mut AnyConnection, id: i32) -> Result<ContactDetails, AppError> {
    let contact = get(conn, id)?;
    let owner_name = match contact.owner_id {
        Some(owner) => users::table.find(owner).select(users::name).first(conn).optional()?,
        None => None,
    };
    let mut extras = extras(conn, &[id])?;
    Ok(ContactDetails {
        history: history(conn, id)?,
        values: extras.values.remove(&id).unwrap_or_default(),
        labels: extras.labels.remove(&id).unwrap_or_default(),
        definitions: extras.definitions,
        notes: notes::of_contact(conn, id)?,
        contact,
        owner_name,
    })
}

/// A contact's status history, newest first.
pub fn history(conn: &mut AnyConnection, contact_id: i32) -> Result<Vec<HistoryEntry>, AppError> {
    Ok(status_history::table
        .left_join(users::table)
        .filter(status_history::contact_id.eq(contact_id))
        .order(status_history::id.desc())
        .select((
            status_history::from_id,
            status_history::to_id,
            status_history::source,
            status_history::user_id,
            status_history::at,
            users::name.nullable(),
        ))
        .load(conn)?)
}

/// Refuses an email, phone or identifier that another contact holds, naming it.
fn check_unique(conn: &mut AnyConnection, draft: &ContactDraft, except: Option<i32>) -> Result<(), AppError> {
    let except: Vec<i32> = except.into_iter().collect();
    for (field, value) in [
        ("email", &draft.email),
        ("phone", &draft.phone),
        ("identifier", &draft.identifier),
    ] {
        if let Some(existing_id) = holder_of(conn, field, value, &except)? {
            return Err(AppError::Duplicate { field, existing_id });
        }
    }
    Ok(())
}

/// The contact, other than those in `except`, that holds a unique value
/// (`email`, `phone` or `identifier`), if any.
pub(crate) fn holder_of(
    conn: &mut AnyConnection,
    field: &str,
    value: &Option<String>,
    except: &[i32],
) -> Result<Option<i32>, AppError> {
    let Some(value) = value else { return Ok(None) };
    let mut query = contacts::table.select(contacts::id).into_boxed();
    query = match field {
        "email" => query.filter(contacts::email.eq(value)),
        "phone" => query.filter(contacts::phone.eq(value)),
        _ => query.filter(contacts::identifier.eq(value)),
    };
    if !except.is_empty() {
        query = query.filter(contacts::id.ne_all(except.to_vec()));
    }
    Ok(query.first(conn).optional()?)
}

/// The standard attributes that differ, by JSON name, with their old values.
pub(crate) fn changed_fields(before: &Contact, after: &Contact) -> serde_json::Map<String, serde_json::Value> {
    let mut previous = serde_json::Map::new();
    let mut compare = |name: &str, old: serde_json::Value, new: serde_json::Value| {
        if old != new {
            previous.insert(name.to_string(), old);
        }
    };
    compare("name", before.name.clone().into(), after.name.clone().into());
    compare("email", before.email.clone().into(), after.email.clone().into());
    compare("phone", before.phone.clone().into(), after.phone.clone().into());
    compare(
        "identifier",
        before.identifier.clone().into(),
        after.identifier.clone().into(),
    );
    compare("company", before.company.clone().into(), after.company.clone().into());
    compare("city", before.city.clone().into(), after.city.clone().into());
    compare("country", before.country.clone().into(), after.country.clone().into());
    compare("owner_id", before.owner_id.into(), after.owner_id.into());
    compare(
        "opted_out",
        before.opted_out_at.is_some().into(),
        after.opted_out_at.is_some().into(),
    );
    previous
}

/// Checks that an owner is an enabled user.
fn resolve_owner(conn: &mut AnyConnection, owner: OwnerChoice, default: Option<i32>) -> Result<Option<i32>, AppError> {
    match owner {
        OwnerChoice::Unspecified => Ok(default),
        OwnerChoice::Nobody => Ok(None),
        OwnerChoice::User(id) => {
            let exists: i64 = users::table
                .filter(users::id.eq(id))
                .filter(users::disabled_at.is_null())
                .count()
                .get_result(conn)?;
            if exists == 0 {
                return Err(AppError::field("owner", "is not a member of the team"));
            }
            Ok(Some(id))
        }
    }
}

fn record_status(
    conn: &mut AnyConnection,
    contact_id: i32,
    from: Option<LeadStatus>,
    to: LeadStatus,
    source: StatusSource,
    user_id: Option<i32>,
    at: NaiveDateTime,
) -> Result<(), AppError> {
    diesel::insert_into(status_history::table)
        .values((
            status_history::contact_id.eq(contact_id),
            status_history::from_id.eq(from.map(LeadStatus::id)),
            status_history::to_id.eq(to.id()),
            status_history::source.eq(source.as_str()),
            status_history::user_id.eq(user_id),
            status_history::at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

fn changed_meanwhile() -> AppError {
    AppError::Conflict("Someone changed this contact's status at the same moment. Reload it and try again.".into())
}

/// Maps a unique-index violation that slipped past `check_unique` (two
/// requests racing) to the same duplicate error.
fn unique_violation(
    conn: &mut AnyConnection,
    draft: &ContactDraft,
    except: Option<i32>,
    e: diesel::result::Error,
) -> AppError {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => match check_unique(conn, draft, except) {
            Err(dup) => dup,
            Ok(()) => AppError::Conflict("Another change to this contact happened at the same time; try again.".into()),
        },
        other => other.into(),
    }
}

/// Creates a contact. Agents own what they create unless they name another
/// owner; leads' and admins' contacts start unassigned. Its first status is
/// recorded as a history entry from nothing.
pub fn create(
    conn: &mut AnyConnection,
    actor: &Actor,
    draft: &ContactDraft,
    source: StatusSource,
) -> Result<Contact, AppError> {
    write_transaction(conn, |conn| {
        let default_owner = (!actor.role.can_assign()).then_some(actor.id);
        let owner_id = resolve_owner(conn, draft.owner, default_owner)?;
        check_unique(conn, draft, None)?;
        let status = draft.status.unwrap_or(LeadStatus::New);
        let now = Utc::now().naive_utc();
        // In a savepoint, so that on PostgreSQL a unique violation leaves the
        // transaction usable for looking up the contact that holds the value.
        let inserted: Result<i32, diesel::result::Error> = conn.transaction(|conn| {
            diesel::insert_into(contacts::table)
                .values((
                    ContactWrite::new(draft, status, owner_id, draft.opted_out.then_some(now), now),
                    contacts::created_at.eq(now),
                ))
                .returning(contacts::id)
                .get_result(conn)
        });
        let id = inserted.map_err(|e| unique_violation(conn, draft, None, e))?;
        attributes::write_values(conn, id, &draft.custom)?;
        let contact = get(conn, id)?;
        record_status(conn, contact.id, None, status, source, Some(actor.id), now)?;
        webhooks::emit(conn, "contact.created", &contact, serde_json::json!({}), None)?;
        super::duplicates::refresh(conn, contact.id)?;
        Ok(contact)
    })
}

/// Saves the edit form. Changing the owner is an assignment (leads and
/// admins); a status change is recorded like any other.
pub fn update(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: i32,
    draft: &ContactDraft,
    source: StatusSource,
) -> Result<Contact, AppError> {
    write_transaction(conn, |conn| {
        let before = get(conn, id)?;
        let owner_id = resolve_owner(conn, draft.owner, before.owner_id)?;
        if owner_id != before.owner_id {
            actor.require(actor.role.can_assign(), "assign contacts")?;
        }
        check_unique(conn, draft, Some(id))?;
        let now = Utc::now().naive_utc();
        let opted_out_at = match (draft.opted_out, before.opted_out_at) {
            (true, Some(at)) => Some(at),
            (true, None) => Some(now),
            (false, _) => None,
        };
        let status = draft.status.unwrap_or(before.status());
        // Only if the status is still the one read above, so that two
        // racing changes cannot both record the same "from" in the history.
        let updated: Result<usize, diesel::result::Error> = conn.transaction(|conn| {
            diesel::update(
                contacts::table
                    .find(id)
                    .filter(contacts::status_id.eq(before.status_id)),
            )
            .set(ContactWrite::new(draft, status, owner_id, opted_out_at, now))
            .execute(conn)
        });
        if updated.map_err(|e| unique_violation(conn, draft, Some(id), e))? == 0 {
            return Err(changed_meanwhile());
        }
        attributes::write_values(conn, id, &draft.custom)?;
        let contact = get(conn, id)?;
        if status != before.status() {
            record_status(conn, id, Some(before.status()), status, source, Some(actor.id), now)?;
            let previous = serde_json::json!({"status_id": before.status_id});
            webhooks::emit(conn, "contact.status_changed", &contact, previous, None)?;
        }
        let previous = changed_fields(&before, &contact);
        if !previous.is_empty() || !draft.custom.is_empty() {
            webhooks::emit(conn, "contact.updated", &contact, previous.into(), None)?;
        }
        if contact.owner_id != before.owner_id {
            super::activity::record(
                conn,
                Some(actor),
                super::activity::Action::Assign,
                Some(id),
                1,
                &format!("changed the owner of {} (edit)", contact.name),
            )?;
        }
        super::duplicates::refresh(conn, contact.id)?;
        Ok(contact)
    })
}

/// Changes some attributes: `edit` turns the contact's current attributes
/// into the new draft (a PATCH: what is not mentioned stays). Read and write
/// happen in one transaction.
pub fn patch(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: i32,
    source: StatusSource,
    edit: impl FnOnce(ContactInput) -> Result<ContactDraft, AppError>,
) -> Result<Contact, AppError> {
    write_transaction(conn, |conn| {
        let draft = edit(input_of(&get(conn, id)?))?;
        update(conn, actor, id, &draft, source)
    })
}

/// Moves a contact to `status`. Setting the status it already has changes nothing.
pub fn set_status(
    conn: &mut AnyConnection,
    actor: Option<&Actor>,
    id: i32,
    status: LeadStatus,
    source: StatusSource,
) -> Result<Contact, AppError> {
    write_transaction(conn, |conn| {
        let before = get(conn, id)?;
        if before.status() == status {
            return Ok(before);
        }
        let now = Utc::now().naive_utc();
        diesel::update(contacts::table.find(id))
            .set((contacts::status_id.eq(status.id()), contacts::updated_at.eq(now)))
            .execute(conn)?;
        let contact = get(conn, id)?;
        record_status(
            conn,
            id,
            Some(before.status()),
            status,
            source,
            actor.map(|a| a.id),
            now,
        )?;
        let previous = serde_json::json!({"status_id": before.status_id});
        webhooks::emit(conn, "contact.status_changed", &contact, previous, None)?;
        Ok(contact)
    })
}

/// Gives a contact to a team member, or to nobody. Leads and admins only.
pub fn assign(conn: &mut AnyConnection, actor: &Actor, id: i32, owner: OwnerChoice) -> Result<Contact, AppError> {
    actor.require(actor.role.can_assign(), "assign contacts")?;
    write_transaction(conn, |conn| {
        let before = get(conn, id)?;
        let owner_id = resolve_owner(conn, owner, before.owner_id)?;
        diesel::update(contacts::table.find(id))
            .set((
                contacts::owner_id.eq(owner_id),
                contacts::updated_at.eq(Utc::now().naive_utc()),
            ))
            .execute(conn)?;
        let contact = get(conn, id)?;
        if contact.owner_id != before.owner_id {
            let previous = serde_json::json!({"owner_id": before.owner_id});
            webhooks::emit(conn, "contact.updated", &contact, previous, None)?;
            let to = match contact.owner_id {
                Some(owner) => users::table
                    .find(owner)
                    .select(users::name)
                    .first::<String>(conn)
                    .map(|name| format!("assigned {} to {name}", contact.name))?,
                None => format!("took {} from its owner (unassigned)", contact.name),
            };
            super::activity::record(conn, Some(actor), super::activity::Action::Assign, Some(id), 1, &to)?;
        }
        Ok(contact)
    })
}

/// Deletes a contact into the trash (restorable for 30 days). Leads and admins only.
pub fn delete(conn: &mut AnyConnection, actor: &Actor, id: i32) -> Result<(), AppError> {
    super::trash::delete(conn, actor, id)
}
