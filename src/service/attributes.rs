//! Custom attributes: the typed definitions admins make (plan, budget,
//! renewal date…), the values contacts hold, and the list's filters on them.
//!
//! Values live in `contact_attribute_values`, one row per contact and
//! attribute, in a canonical text form plus an indexed lower-case key and, for
//! numbers, the number itself — so both backends filter them from an index.

use std::collections::{BTreeMap, HashMap};

use chrono::{NaiveDate, Utc};
use diesel::prelude::*;

use super::contact_fields::check_plain;
use super::users::Actor;
use crate::db::schema::{contact_attribute_values as values, custom_attributes as defs};
use crate::db::{write_transaction, AnyConnection};
use crate::error::{AppError, FieldErrors};

/// Names that contacts, imports and exports already use (docs/decisions.md, "Custom attributes, labels and notes").
pub const RESERVED_KEYS: &[&str] = &[
    "id",
    "name",
    "email",
    "phone",
    "phone_number",
    "identifier",
    "company",
    "city",
    "country",
    "status",
    "status_id",
    "owner",
    "owner_id",
    "labels",
    "opted_out",
    "created_at",
    "updated_at",
    "last_activity_at",
    "lead_score",
];

/// Filter operators end a query key (`attr.plan.contains`), so no key may end with one.
const OPERATORS: &[&str] = &["contains", "set", "from", "to"];

/// The longest text value: long enough for a pasted paragraph, bounded so a
/// form or API body cannot store megabytes per contact.
pub const MAX_TEXT_VALUE: usize = 20_000;
const MAX_LINK: usize = 2048;
const MAX_OPTIONS: usize = 100;
const MAX_OPTION_LEN: usize = 100;
/// `value_key` keeps this many characters: small enough for a B-tree entry
/// on PostgreSQL (whose limit is about 2,700 bytes), long enough to be exact
/// for every list, date, number and boolean and for most text.
const KEY_CHARS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Number,
    Date,
    Link,
    Boolean,
    List,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Text,
        Kind::Number,
        Kind::Date,
        Kind::Link,
        Kind::Boolean,
        Kind::List,
    ];

    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim().to_lowercase())
            .ok_or_else(|| "must be one of text, number, date, link, boolean or list".into())
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Number => "number",
            Self::Date => "date",
            Self::Link => "link",
            Self::Boolean => "boolean",
            Self::List => "list",
        }
    }

    /// Whether `from`/`to` ranges apply.
    pub fn is_ordered(self) -> bool {
        matches!(self, Self::Number | Self::Date)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A custom attribute's definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub id: i32,
    pub key: String,
    pub display_name: String,
    pub description: String,
    pub kind: Kind,
    pub options: Vec<String>,
    pub position: i32,
}

#[derive(Queryable)]
struct DefinitionRow {
    id: i32,
    key: String,
    display_name: String,
    description: String,
    kind: String,
    options: String,
    position: i32,
}

impl DefinitionRow {
    fn into_definition(self) -> Definition {
        Definition {
            id: self.id,
            kind: Kind::parse(&self.kind).unwrap_or(Kind::Text),
            options: serde_json::from_str(&self.options).unwrap_or_default(),
            key: self.key,
            display_name: self.display_name,
            description: self.description,
            position: self.position,
        }
    }
}

/// A valid value of some attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    Number(f64),
    Date(NaiveDate),
    Link(String),
    Boolean(bool),
    /// One of the list's options, spelt as the option is.
    List(String),
}

fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

impl Value {
    /// The canonical text, as stored and shown.
    pub fn text(&self) -> String {
        match self {
            Self::Text(s) | Self::Link(s) | Self::List(s) => s.clone(),
            Self::Number(n) => format_number(*n),
            Self::Date(d) => d.format("%Y-%m-%d").to_string(),
            Self::Boolean(b) => b.to_string(),
        }
    }

    /// The indexed form: lower-case, at most `KEY_CHARS` characters.
    fn key(&self) -> String {
        index_key(&self.text())
    }

    fn number(&self) -> Option<f64> {
        match self {
            Self::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The value as the API shows it: numbers and booleans typed, the rest text.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Self::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => serde_json::json!(*n as i64),
            Self::Number(n) => serde_json::json!(n),
            Self::Boolean(b) => serde_json::Value::Bool(*b),
            other => serde_json::Value::String(other.text()),
        }
    }

    /// The value as a page shows it.
    pub fn display(&self) -> String {
        match self {
            Self::Boolean(true) => "Yes".into(),
            Self::Boolean(false) => "No".into(),
            // The pages' date format (`8 Dec 2026`), which the forms read back.
            Self::Date(d) => d.format("%-d %b %Y").to_string(),
            other => other.text(),
        }
    }
}

fn index_key(text: &str) -> String {
    text.to_lowercase().chars().take(KEY_CHARS).collect()
}

/// Whether `text`'s key lost characters (then equality also compares the full text).
fn key_is_cut(text: &str) -> bool {
    text.to_lowercase().chars().count() > KEY_CHARS
}

impl Definition {
    /// Checks a value written as text (a form field, a CSV cell, a query).
    pub fn parse_text(&self, raw: &str) -> Result<Value, String> {
        let text = raw.trim();
        match self.kind {
            Kind::Text => {
                check_plain(text)?;
                let len = text.chars().count();
                if len > MAX_TEXT_VALUE {
                    return Err(format!("is too long ({len} characters; at most {MAX_TEXT_VALUE})"));
                }
                Ok(Value::Text(text.to_string()))
            }
            Kind::Number => text
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite() && !text.contains(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E'))
                .map(Value::Number)
                .ok_or_else(|| "must be a number, such as 5000 or 12.5".into()),
            Kind::Date => parse_day(text)
                .map(Value::Date)
                .ok_or_else(|| "must be a date such as 31 Dec 2026 (or 2026-12-31)".into()),
            Kind::Link => {
                check_plain(text)?;
                let ok = text.len() <= MAX_LINK
                    && url::Url::parse(text).is_ok_and(|u| {
                        matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
                    });
                if ok {
                    Ok(Value::Link(text.to_string()))
                } else {
                    Err("must be a web address starting with http:// or https://".into())
                }
            }
            Kind::Boolean => match text.to_lowercase().as_str() {
                "true" | "yes" | "1" | "on" => Ok(Value::Boolean(true)),
                "false" | "no" | "0" | "off" => Ok(Value::Boolean(false)),
                _ => Err("must be true or false".into()),
            },
            Kind::List => self
                .options
                .iter()
                .find(|o| o.to_lowercase() == text.to_lowercase())
                .map(|o| Value::List(o.clone()))
                .ok_or_else(|| {
                    let shown: String = text.chars().take(40).collect();
                    format!("must be one of: {} (not \"{shown}\")", self.options.join(", "))
                }),
        }
    }

    /// Checks a value sent as JSON: numbers and booleans may come typed or as text.
    pub fn parse_json(&self, raw: &serde_json::Value) -> Result<Value, String> {
        use serde_json::Value as J;
        match (self.kind, raw) {
            (Kind::Number, J::Number(n)) => n
                .as_f64()
                .filter(|n| n.is_finite())
                .map(Value::Number)
                .ok_or_else(|| "must be a number".into()),
            (Kind::Boolean, J::Bool(b)) => Ok(Value::Boolean(*b)),
            (_, J::String(s)) => self.parse_text(s),
            (Kind::Text, J::Number(n)) => Ok(Value::Text(n.to_string())),
            (kind, _) => Err(match kind {
                Kind::Number => "must be a number".into(),
                Kind::Boolean => "must be true or false".into(),
                _ => "must be a string".into(),
            }),
        }
    }

    /// A stored value, read back.
    fn stored(&self, text: &str, number: Option<f64>) -> Value {
        match (self.kind, number) {
            (Kind::Number, Some(n)) => Value::Number(n),
            _ => self.parse_text(text).unwrap_or_else(|_| Value::Text(text.to_string())),
        }
    }
}

/// A definition as typed by an admin or sent to the API.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct DefinitionInput {
    pub key: String,
    pub display_name: String,
    pub description: String,
    pub kind: String,
    pub options: Vec<String>,
    /// Blank: after the last one.
    pub position: Option<i32>,
}

/// A checked definition, ready to be written.
struct DefinitionDraft {
    key: String,
    display_name: String,
    description: String,
    kind: Kind,
    options: Vec<String>,
    position: Option<i32>,
}

fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("is required".into());
    }
    if key.chars().count() > 64 {
        return Err("is too long (at most 64 characters)".into());
    }
    if !key.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
        return Err("may hold only letters, digits, _ . and -".into());
    }
    if RESERVED_KEYS.contains(&key.to_lowercase().as_str()) {
        return Err(format!("\"{key}\" is a standard attribute's name; choose another key"));
    }
    if let Some((_, last)) = key.rsplit_once('.') {
        if OPERATORS.contains(&last) {
            return Err(format!("may not end with .{last} (the list's filters use it)"));
        }
    }
    Ok(())
}

impl DefinitionInput {
    fn check(&self) -> Result<DefinitionDraft, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut fail = |field: &str, e: String| errors.entry(field.to_string()).or_default().push(e);
        let key = self.key.trim().to_string();
        if let Err(e) = check_key(&key) {
            fail("key", e);
        }
        let display_name = self.display_name.trim().to_string();
        if display_name.is_empty() {
            fail("display_name", "is required".into());
        } else if display_name.chars().count() > 255 {
            fail("display_name", "is too long (at most 255 characters)".into());
        } else if let Err(e) = check_plain(&display_name) {
            fail("display_name", e);
        }
        let description = self.description.trim().to_string();
        if description.chars().count() > 1000 {
            fail("description", "is too long (at most 1000 characters)".into());
        }
        let kind = match Kind::parse(&self.kind) {
            Ok(k) => k,
            Err(e) => {
                fail("type", e);
                Kind::Text
            }
        };
        let mut options: Vec<String> = Vec::new();
        for option in self.options.iter().map(|o| o.trim()).filter(|o| !o.is_empty()) {
            if option.chars().count() > MAX_OPTION_LEN || check_plain(option).is_err() {
                fail(
                    "options",
                    format!("\"{option}\" is not a valid option (one line, at most {MAX_OPTION_LEN} characters)"),
                );
            } else if options.iter().any(|o| o.to_lowercase() == option.to_lowercase()) {
                fail("options", format!("\"{option}\" is listed twice"));
            } else {
                options.push(option.to_string());
            }
        }
        match kind {
            Kind::List if options.is_empty() => fail("options", "a list needs at least one option".into()),
            Kind::List if options.len() > MAX_OPTIONS => fail("options", format!("at most {MAX_OPTIONS} options")),
            Kind::List => {}
            _ if !options.is_empty() => fail("options", "only list attributes have options".into()),
            _ => {}
        }
        if errors.is_empty() {
            Ok(DefinitionDraft {
                key,
                display_name,
                description,
                kind,
                options,
                position: self.position,
            })
        } else {
            Err(errors)
        }
    }
}

type DefColumns = (
    defs::id,
    defs::key,
    defs::display_name,
    defs::description,
    defs::kind,
    defs::options,
    defs::position,
);
const DEF_COLUMNS: DefColumns = (
    defs::id,
    defs::key,
    defs::display_name,
    defs::description,
    defs::kind,
    defs::options,
    defs::position,
);

/// Every definition, in display order.
pub fn definitions(conn: &mut AnyConnection) -> Result<Vec<Definition>, AppError> {
    let rows: Vec<DefinitionRow> = defs::table
        .order((defs::position.asc(), defs::id.asc()))
        .select(DEF_COLUMNS)
        .load(conn)?;
    Ok(rows.into_iter().map(DefinitionRow::into_definition).collect())
}

/// One definition by key, or 404.
pub fn by_key(conn: &mut AnyConnection, key: &str) -> Result<Definition, AppError> {
    defs::table
        .filter(defs::key.eq(key))
        .select(DEF_COLUMNS)
        .first::<DefinitionRow>(conn)
        .optional()?
        .map(DefinitionRow::into_definition)
        .ok_or_else(|| AppError::not_found(&format!("The custom attribute \"{key}\"")))
}

/// One definition by ID, or 404.
pub fn by_id(conn: &mut AnyConnection, id: i32) -> Result<Definition, AppError> {
    defs::table
        .find(id)
        .select(DEF_COLUMNS)
        .first::<DefinitionRow>(conn)
        .optional()?
        .map(DefinitionRow::into_definition)
        .ok_or_else(|| AppError::not_found("This custom attribute"))
}

fn taken(conn: &mut AnyConnection, key: &str) -> Result<bool, AppError> {
    // Keys differing only in case would be confusing in filters and CSV columns.
    Ok(definitions(conn)?
        .iter()
        .any(|d| d.key.to_lowercase() == key.to_lowercase()))
}

/// Adds a definition. Admins only.
pub fn create(conn: &mut AnyConnection, actor: &Actor, input: &DefinitionInput) -> Result<Definition, AppError> {
    actor.require(actor.role == super::users::Role::Admin, "define custom attributes")?;
    let draft = input.check().map_err(AppError::invalid)?;
    write_transaction(conn, |conn| {
        if taken(conn, &draft.key)? {
            return Err(AppError::field("key", "is already used by another custom attribute"));
        }
        let position = match draft.position {
            Some(p) => p,
            None => defs::table
                .select(diesel::dsl::max(defs::position))
                .first::<Option<i32>>(conn)?
                .map_or(1, |p| p.saturating_add(1)),
        };
        let now = Utc::now().naive_utc();
        let inserted = conn.transaction(|conn| {
            diesel::insert_into(defs::table)
                .values((
                    defs::key.eq(&draft.key),
                    defs::display_name.eq(&draft.display_name),
                    defs::description.eq(&draft.description),
                    defs::kind.eq(draft.kind.as_str()),
                    defs::options.eq(serde_json::to_string(&draft.options).unwrap_or_else(|_| "[]".into())),
                    defs::position.eq(position),
                    defs::created_at.eq(now),
                    defs::updated_at.eq(now),
                ))
                .returning(defs::id)
                .get_result::<i32>(conn)
        });
        match inserted {
            Ok(id) => by_id(conn, id),
            Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => {
                Err(AppError::field("key", "is already used by another custom attribute"))
            }
            Err(e) => Err(e.into()),
        }
    })
}

/// The definition with `key`, made with these settings when missing. For
/// the command line (`seed --attributes`), which acts for no user.
pub fn ensure(
    conn: &mut AnyConnection,
    key: &str,
    display_name: &str,
    kind: Kind,
    options: &[&str],
) -> Result<Definition, AppError> {
    if let Ok(def) = by_key(conn, key) {
        return Ok(def);
    }
    let system = Actor {
        id: 0,
        email: String::new(),
        name: "leadbook".into(),
        role: super::users::Role::Admin,
    };
    let input = DefinitionInput {
        key: key.into(),
        display_name: display_name.into(),
        description: String::new(),
        kind: kind.as_str().into(),
        options: options.iter().map(|o| o.to_string()).collect(),
        position: None,
    };
    create(conn, &system, &input)
}

/// What changing a definition did to the values contacts hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Conversion {
    /// Contacts whose stored value was rewritten for the new type.
    pub converted: usize,
}

/// Changes a definition. The key stays (integrations and CSV columns name
/// it). A new type or new options must fit every value contacts already
/// hold: those are converted and counted, or, when any does not fit, the
/// change is refused with how many contacts and an example, and nothing
/// changes.
pub fn update(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: i32,
    input: &DefinitionInput,
) -> Result<(Definition, Conversion), AppError> {
    actor.require(actor.role == super::users::Role::Admin, "change custom attributes")?;
    write_transaction(conn, |conn| {
        let before = by_id(conn, id)?;
        let mut input = input.clone();
        if input.key.trim().is_empty() {
            input.key = before.key.clone();
        }
        if input.key.trim() != before.key {
            return Err(AppError::field(
                "key",
                "cannot be changed (integrations and filters use it)",
            ));
        }
        let draft = input.check().map_err(AppError::invalid)?;
        let after = Definition {
            id,
            key: before.key.clone(),
            display_name: draft.display_name.clone(),
            description: draft.description.clone(),
            kind: draft.kind,
            options: draft.options.clone(),
            position: draft.position.unwrap_or(before.position),
        };
        let conversion = if after.kind != before.kind || after.options != before.options {
            convert_values(conn, &before, &after)?
        } else {
            Conversion::default()
        };
        diesel::update(defs::table.find(id))
            .set((
                defs::display_name.eq(&after.display_name),
                defs::description.eq(&after.description),
                defs::kind.eq(after.kind.as_str()),
                defs::options.eq(serde_json::to_string(&after.options).unwrap_or_else(|_| "[]".into())),
                defs::position.eq(after.position),
                defs::updated_at.eq(Utc::now().naive_utc()),
            ))
            .execute(conn)?;
        Ok((after, conversion))
    })
}

/// Re-reads every distinct stored value under the new definition.
fn convert_values(conn: &mut AnyConnection, before: &Definition, after: &Definition) -> Result<Conversion, AppError> {
    let held: Vec<(String, Option<f64>, i64)> = values::table
        .filter(values::attribute_id.eq(before.id))
        .group_by((values::value_text, values::value_number))
        .select((values::value_text, values::value_number, diesel::dsl::count_star()))
        .load(conn)?;
    let mut misfits = 0i64;
    let mut example = None;
    let mut rewrites = Vec::new();
    for (text, number, contacts) in held {
        let old = before.stored(&text, number);
        match after.parse_text(&old.text()) {
            Ok(new) if new.text() == text && new.number() == number => {}
            Ok(new) => rewrites.push((text, new, contacts)),
            Err(_) => {
                misfits += contacts;
                example.get_or_insert(text);
            }
        }
    }
    if misfits > 0 {
        let example: String = example.unwrap_or_default().chars().take(60).collect();
        let what = if after.kind != before.kind {
            format!("a {}", after.kind)
        } else {
            "one of the new options".to_string()
        };
        return Err(AppError::Conflict(format!(
            "{misfits} contact(s) hold a value of \"{}\" that is not {what} (for example \"{example}\"). \
             Change or clear those values first; nothing was changed.",
            before.key
        )));
    }
    let mut converted = 0;
    for (text, new, contacts) in rewrites {
        diesel::update(
            values::table
                .filter(values::attribute_id.eq(before.id))
                .filter(values::value_text.eq(&text)),
        )
        .set((
            values::value_text.eq(new.text()),
            values::value_key.eq(new.key()),
            values::value_number.eq(new.number()),
        ))
        .execute(conn)?;
        converted += contacts as usize;
    }
    Ok(Conversion { converted })
}

/// How many contacts hold a value of the attribute (said before deleting it).
pub fn holders(conn: &mut AnyConnection, id: i32) -> Result<i64, AppError> {
    Ok(values::table
        .filter(values::attribute_id.eq(id))
        .count()
        .get_result(conn)?)
}

/// Deletes a definition and every value of it. Admins only. Returns how
/// many contacts lost a value.
pub fn delete(conn: &mut AnyConnection, actor: &Actor, id: i32) -> Result<usize, AppError> {
    actor.require(actor.role == super::users::Role::Admin, "delete custom attributes")?;
    write_transaction(conn, |conn| {
        by_id(conn, id)?;
        let removed = diesel::delete(values::table.filter(values::attribute_id.eq(id))).execute(conn)?;
        diesel::delete(defs::table.find(id)).execute(conn)?;
        Ok(removed)
    })
}

/// Changes to a contact's values: `None` removes the attribute's value.
pub type ValueChanges = Vec<(i32, Option<Value>)>;

fn field_of(key: &str) -> String {
    format!("custom.{key}")
}

/// Checks raw values by attribute key with `parse` (`Ok(None)`: remove the
/// value); an unknown key is an error, as is a value that does not parse.
fn parse_values<'a, V: 'a>(
    defs: &[Definition],
    raw: impl IntoIterator<Item = (&'a String, V)>,
    parse: impl Fn(&Definition, V) -> Result<Option<Value>, String>,
) -> Result<ValueChanges, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut changes = Vec::new();
    for (key, value) in raw {
        let result = match defs.iter().find(|d| &d.key == key) {
            Some(def) => parse(def, value).map(|v| changes.push((def.id, v))),
            None => Err("is not a custom attribute".into()),
        };
        if let Err(e) = result {
            errors.entry(field_of(key)).or_default().push(e);
        }
    }
    if errors.is_empty() {
        Ok(changes)
    } else {
        Err(errors)
    }
}

/// Checks values written as text (form fields `custom.<key>`); a blank value
/// removes it.
pub fn parse_form_values(defs: &[Definition], raw: &BTreeMap<String, String>) -> Result<ValueChanges, FieldErrors> {
    parse_values(defs, raw, |def, text| {
        if text.trim().is_empty() {
            Ok(None)
        } else {
            def.parse_text(text).map(Some)
        }
    })
}

/// Checks the API's `custom_attributes` object: `null` (or `""`) removes a key.
pub fn parse_json_values(
    defs: &[Definition],
    raw: &serde_json::Map<String, serde_json::Value>,
) -> Result<ValueChanges, FieldErrors> {
    parse_values(defs, raw, |def, value| match value {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::String(s) if s.trim().is_empty() => Ok(None),
        v => def.parse_json(v).map(Some),
    })
}

/// Writes a contact's value changes (inside the caller's transaction).
pub fn write_values(conn: &mut AnyConnection, contact_id: i32, changes: &ValueChanges) -> Result<(), AppError> {
    for (attribute_id, value) in changes {
        diesel::delete(
            values::table
                .filter(values::contact_id.eq(contact_id))
                .filter(values::attribute_id.eq(attribute_id)),
        )
        .execute(conn)?;
        if let Some(value) = value {
            diesel::insert_into(values::table)
                .values((
                    values::contact_id.eq(contact_id),
                    values::attribute_id.eq(attribute_id),
                    values::value_text.eq(value.text()),
                    values::value_key.eq(value.key()),
                    values::value_number.eq(value.number()),
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}

// NULL rather than DEFAULT for no number: diesel then inserts a batch as one
// statement on SQLite, not row by row.
#[derive(Insertable)]
#[diesel(table_name = values, treat_none_as_default_value = false)]
struct NewValue {
    contact_id: i32,
    attribute_id: i32,
    value_text: String,
    value_key: String,
    value_number: Option<f64>,
}

/// Writes the values of contacts that have none yet (an import's new
/// contacts), many rows per statement: (contact ID, attribute ID, value).
pub fn insert_new_values(conn: &mut AnyConnection, rows: &[(i32, i32, &Value)]) -> Result<(), AppError> {
    let rows: Vec<NewValue> = rows
        .iter()
        .map(|(contact_id, attribute_id, value)| NewValue {
            contact_id: *contact_id,
            attribute_id: *attribute_id,
            value_text: value.text(),
            value_key: value.key(),
            value_number: value.number(),
        })
        .collect();
    // SQLite allows 32,766 bound parameters per statement: 5 per row.
    for chunk in rows.chunks(5_000) {
        match conn {
            AnyConnection::Sqlite(c) => diesel::insert_into(values::table).values(chunk).execute(c)?,
            AnyConnection::Postgresql(c) => diesel::insert_into(values::table).values(chunk).execute(c)?,
        };
    }
    Ok(())
}

/// Values per contact, keyed by attribute ID.
pub type ContactValues = HashMap<i32, BTreeMap<i32, Value>>;

/// The values of some contacts (a page of the list, one contact), in one query.
pub fn values_of(
    conn: &mut AnyConnection,
    defs: &[Definition],
    contact_ids: &[i32],
) -> Result<ContactValues, AppError> {
    let mut out = ContactValues::new();
    if contact_ids.is_empty() || defs.is_empty() {
        return Ok(out);
    }
    let rows: Vec<(i32, i32, String, Option<f64>)> = values::table
        .filter(values::contact_id.eq_any(contact_ids))
        .select((
            values::contact_id,
            values::attribute_id,
            values::value_text,
            values::value_number,
        ))
        .load(conn)?;
    for (contact_id, attribute_id, text, number) in rows {
        if let Some(def) = defs.iter().find(|d| d.id == attribute_id) {
            out.entry(contact_id)
                .or_default()
                .insert(attribute_id, def.stored(&text, number));
        }
    }
    Ok(out)
}

/// The API's `custom_attributes` object for one contact's values.
pub fn to_json(defs: &[Definition], held: Option<&BTreeMap<i32, Value>>) -> serde_json::Map<String, serde_json::Value> {
    let mut map = serde_json::Map::new();
    if let Some(held) = held {
        for def in defs {
            if let Some(v) = held.get(&def.id) {
                map.insert(def.key.clone(), v.to_json());
            }
        }
    }
    map
}

/// One filter of the list on a custom attribute, as the query string says it.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrFilter {
    pub key: String,
    pub op: AttrOp,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AttrOp {
    Equals(String),
    Contains(String),
    Set(bool),
    From(String),
    To(String),
}

impl AttrFilter {
    /// Parses `attr.<key>[.<op>]=<value>`; `None` for other parameters.
    pub fn parse(param: &str, value: &str) -> Option<Result<Self, String>> {
        let rest = param.strip_prefix("attr.")?;
        let value = value.trim().to_string();
        let (key, op) = match rest.rsplit_once('.') {
            Some((key, op)) if OPERATORS.contains(&op) && !key.is_empty() => (key, op),
            _ => (rest, ""),
        };
        let op = match op {
            "" => AttrOp::Equals(value),
            "contains" => AttrOp::Contains(value),
            "set" => match value.as_str() {
                "1" | "true" => AttrOp::Set(true),
                "0" | "false" => AttrOp::Set(false),
                _ => return Some(Err(format!("{param} must be 1 (is set) or 0 (is not set)"))),
            },
            "from" => AttrOp::From(value),
            _ => AttrOp::To(value),
        };
        if key.is_empty() || key.chars().count() > 64 {
            return Some(Err(format!("{param} does not name a custom attribute")));
        }
        Some(Ok(Self {
            key: key.to_string(),
            op,
        }))
    }

    /// The query-string parameter and value that say this filter.
    pub fn to_param(&self) -> (String, String) {
        let (suffix, value) = match &self.op {
            AttrOp::Equals(v) => ("", v.clone()),
            AttrOp::Contains(v) => (".contains", v.clone()),
            AttrOp::Set(b) => (".set", if *b { "1" } else { "0" }.to_string()),
            AttrOp::From(v) => (".from", v.clone()),
            AttrOp::To(v) => (".to", v.clone()),
        };
        (format!("attr.{}{suffix}", self.key), value)
    }

    /// A short sentence for the filter chip: "Plan is gold".
    pub fn describe(&self, defs: &[Definition]) -> String {
        let name = defs
            .iter()
            .find(|d| d.key == self.key)
            .map_or(self.key.as_str(), |d| d.display_name.as_str());
        match &self.op {
            AttrOp::Equals(v) => format!("{name} is {v}"),
            AttrOp::Contains(v) => format!("{name} contains {v}"),
            AttrOp::Set(true) => format!("{name} is set"),
            AttrOp::Set(false) => format!("{name} is not set"),
            AttrOp::From(v) => format!("{name} from {v}"),
            AttrOp::To(v) => format!("{name} up to {v}"),
        }
    }
}

/// A filter checked against its definition, ready for SQL.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `value_key` equals; and the full text too, when the key was cut.
    KeyEquals {
        attribute_id: i32,
        key: String,
        full: Option<String>,
    },
    NumberEquals {
        attribute_id: i32,
        number: f64,
    },
    /// Lower-case substring of the text.
    Contains {
        attribute_id: i32,
        needle: String,
    },
    Set {
        attribute_id: i32,
        set: bool,
    },
    KeyRange {
        attribute_id: i32,
        key: String,
        from: bool,
    },
    NumberRange {
        attribute_id: i32,
        number: f64,
        from: bool,
    },
}

impl AttrFilter {
    /// Checks the filter against the definitions: the key must exist and the
    /// value fit its type.
    pub fn resolve(&self, defs: &[Definition]) -> Result<Condition, AppError> {
        let (param, _) = self.to_param();
        let Some(def) = defs.iter().find(|d| d.key == self.key) else {
            return Err(AppError::field(&param, "does not name a custom attribute"));
        };
        let attribute_id = def.id;
        let typed = |v: &str| def.parse_text(v).map_err(|e| AppError::field(&param, e));
        Ok(match &self.op {
            AttrOp::Equals(v) => match typed(v)? {
                Value::Number(number) => Condition::NumberEquals { attribute_id, number },
                value => {
                    let text = value.text();
                    Condition::KeyEquals {
                        attribute_id,
                        key: value.key(),
                        full: key_is_cut(&text).then_some(text),
                    }
                }
            },
            AttrOp::Contains(v) => {
                if v.is_empty() {
                    return Err(AppError::field(&param, "needs some text to look for"));
                }
                Condition::Contains {
                    attribute_id,
                    needle: v.to_lowercase(),
                }
            }
            AttrOp::Set(set) => Condition::Set {
                attribute_id,
                set: *set,
            },
            AttrOp::From(v) | AttrOp::To(v) => {
                let from = matches!(self.op, AttrOp::From(_));
                if !def.kind.is_ordered() {
                    return Err(AppError::field(
                        &param,
                        "ranges (from, to) are for number and date attributes",
                    ));
                }
                match typed(v)? {
                    Value::Number(number) => Condition::NumberRange {
                        attribute_id,
                        number,
                        from,
                    },
                    value => Condition::KeyRange {
                        attribute_id,
                        key: value.key(),
                        from,
                    },
                }
            }
        })
    }
}

/// A day as the pages write it (`8 Dec 2026`, `8 December 2026`) or as
/// files and the API do (`2026-12-08`).
pub fn parse_day(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    if text.len() == 10 && text.as_bytes().get(4) == Some(&b'-') {
        return NaiveDate::parse_from_str(text, "%Y-%m-%d").ok();
    }
    ["%d %b %Y", "%d %B %Y"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(text, f).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(kind: Kind, options: &[&str]) -> Definition {
        Definition {
            id: 1,
            key: "k".into(),
            display_name: "K".into(),
            description: String::new(),
            kind,
            options: options.iter().map(|s| s.to_string()).collect(),
            position: 1,
        }
    }

    #[test]
    fn values_are_checked_against_their_type() {
        assert_eq!(def(Kind::Number, &[]).parse_text(" 5000 "), Ok(Value::Number(5000.0)));
        assert!(def(Kind::Number, &[]).parse_text("lots").is_err());
        assert!(def(Kind::Number, &[]).parse_text("inf").is_err());
        assert!(def(Kind::Number, &[]).parse_text("NaN").is_err());
        assert!(def(Kind::Date, &[]).parse_text("2026-02-30").is_err());
        assert!(def(Kind::Date, &[]).parse_text("2026-2-3").is_err());
        assert!(def(Kind::Date, &[]).parse_text("2026-12-31").is_ok());
        let team_format = def(Kind::Date, &[]).parse_text("8 Dec 2026").unwrap();
        assert_eq!(team_format, Value::Date(NaiveDate::from_ymd_opt(2026, 12, 8).unwrap()));
        assert!(def(Kind::Date, &[]).parse_text("8 December 2026").is_ok());
        assert!(def(Kind::Date, &[]).parse_text("31 Feb 2026").is_err());
        assert!(def(Kind::Link, &[]).parse_text("javascript:alert(1)").is_err());
        assert!(def(Kind::Link, &[]).parse_text("https://example.com/x").is_ok());
        assert_eq!(def(Kind::Boolean, &[]).parse_text("Yes"), Ok(Value::Boolean(true)));
        assert_eq!(
            def(Kind::List, &["gold", "silver"]).parse_text("GOLD"),
            Ok(Value::List("gold".into()))
        );
        assert!(def(Kind::List, &["gold"]).parse_text("platinum").is_err());
    }

    #[test]
    fn numbers_print_without_needless_decimals() {
        assert_eq!(Value::Number(5000.0).text(), "5000");
        assert_eq!(Value::Number(12.5).text(), "12.5");
        assert_eq!(Value::Number(5000.0).to_json(), serde_json::json!(5000));
    }

    #[test]
    fn keys_are_checked() {
        assert!(check_key("plan").is_ok());
        assert!(check_key("renewal.date-2").is_ok());
        assert!(check_key("Email").is_err());
        assert!(check_key("lead_score").is_err());
        assert!(check_key("has space").is_err());
        assert!(check_key("budget.from").is_err());
    }

    #[test]
    fn filters_parse_from_the_query_string() {
        let f = AttrFilter::parse("attr.renewal.date.from", "2026-01-01")
            .unwrap()
            .unwrap();
        assert_eq!(f.key, "renewal.date");
        assert_eq!(f.op, AttrOp::From("2026-01-01".into()));
        assert_eq!(f.to_param(), ("attr.renewal.date.from".into(), "2026-01-01".into()));
        assert_eq!(
            AttrFilter::parse("attr.plan", "gold").unwrap().unwrap().op,
            AttrOp::Equals("gold".into())
        );
        assert!(AttrFilter::parse("attr.plan.set", "maybe").unwrap().is_err());
        assert!(AttrFilter::parse("status", "1").is_none());
    }
}
