//! Labels: short coloured tags (`vip`, `ramadan-promo`) that admins define
//! and anyone puts on contacts.

use std::collections::HashMap;

use chrono::Utc;
use diesel::prelude::*;

use super::contact_fields::check_plain;
use super::users::{Actor, Role};
use crate::db::schema::{contact_labels, contacts, labels};
use crate::db::{write_transaction, AnyConnection};
use crate::error::{AppError, FieldErrors};

const MAX_NAME: usize = 50;
/// The colour a label gets when none is given.
pub const DEFAULT_COLOR: &str = "#6b7280";

#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct Label {
    pub id: i32,
    pub name: String,
    pub color: String,
}

/// A label's name: trimmed, lower-case, 1–50 characters, no commas (exports
/// and imports list labels comma-separated).
pub fn parse_name(input: &str) -> Result<String, String> {
    let name = input.trim().to_lowercase();
    if name.is_empty() {
        return Err("is required".into());
    }
    check_plain(&name)?;
    if name.contains(',') {
        return Err("may not contain commas".into());
    }
    if name.chars().count() > MAX_NAME {
        return Err(format!("is too long (at most {MAX_NAME} characters)"));
    }
    Ok(name)
}

/// A colour written `#rrggbb`, stored lower-case.
pub fn parse_color(input: &str) -> Result<String, String> {
    let color = input.trim().to_lowercase();
    if color.is_empty() {
        return Ok(DEFAULT_COLOR.into());
    }
    let hex = color.strip_prefix('#').unwrap_or("");
    if hex.len() == 6 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(color)
    } else {
        Err("must be a colour written #rrggbb, such as #d4a017".into())
    }
}

fn check(name: &str, color: &str) -> Result<(String, String), AppError> {
    let mut errors = FieldErrors::new();
    let name = parse_name(name).map_err(|e| errors.insert("name".into(), vec![e])).ok();
    let color = parse_color(color)
        .map_err(|e| errors.insert("color".into(), vec![e]))
        .ok();
    match (name, color) {
        (Some(n), Some(c)) => Ok((n, c)),
        _ => Err(AppError::invalid(errors)),
    }
}

fn taken() -> AppError {
    AppError::field("name", "is already a label")
}

fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

/// Every label, by name.
pub fn all(conn: &mut AnyConnection) -> Result<Vec<Label>, AppError> {
    Ok(labels::table
        .order(labels::name.asc())
        .select((labels::id, labels::name, labels::color))
        .load(conn)?)
}

pub fn get(conn: &mut AnyConnection, id: i32) -> Result<Label, AppError> {
    labels::table
        .find(id)
        .select((labels::id, labels::name, labels::color))
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("This label"))
}

/// Defines a label. Admins only.
pub fn create(conn: &mut AnyConnection, actor: &Actor, name: &str, color: &str) -> Result<Label, AppError> {
    actor.require(actor.role == Role::Admin, "define labels")?;
    let (name, color) = check(name, color)?;
    write_transaction(conn, |conn| {
        let inserted = conn.transaction(|conn| {
            diesel::insert_into(labels::table)
                .values((
                    labels::name.eq(&name),
                    labels::color.eq(&color),
                    labels::created_at.eq(Utc::now().naive_utc()),
                ))
                .returning(labels::id)
                .get_result::<i32>(conn)
        });
        match inserted {
            Ok(id) => get(conn, id),
            Err(e) if is_unique_violation(&e) => Err(taken()),
            Err(e) => Err(e.into()),
        }
    })
}

/// Renames or recolours a label. Admins only.
pub fn update(conn: &mut AnyConnection, actor: &Actor, id: i32, name: &str, color: &str) -> Result<Label, AppError> {
    actor.require(actor.role == Role::Admin, "change labels")?;
    let (name, color) = check(name, color)?;
    write_transaction(conn, |conn| {
        get(conn, id)?;
        let updated = conn.transaction(|conn| {
            diesel::update(labels::table.find(id))
                .set((labels::name.eq(&name), labels::color.eq(&color)))
                .execute(conn)
        });
        match updated {
            Ok(_) => get(conn, id),
            Err(e) if is_unique_violation(&e) => Err(taken()),
            Err(e) => Err(e.into()),
        }
    })
}

/// Deletes a label, taking it off every contact. Admins only.
pub fn delete(conn: &mut AnyConnection, actor: &Actor, id: i32) -> Result<usize, AppError> {
    actor.require(actor.role == Role::Admin, "delete labels")?;
    write_transaction(conn, |conn| {
        get(conn, id)?;
        let removed = diesel::delete(contact_labels::table.filter(contact_labels::label_id.eq(id))).execute(conn)?;
        diesel::delete(labels::table.find(id)).execute(conn)?;
        Ok(removed)
    })
}

/// The labels of some contacts, in one query.
pub fn of_contacts(conn: &mut AnyConnection, contact_ids: &[i32]) -> Result<HashMap<i32, Vec<Label>>, AppError> {
    let mut out: HashMap<i32, Vec<Label>> = HashMap::new();
    if contact_ids.is_empty() {
        return Ok(out);
    }
    let rows: Vec<(i32, Label)> = contact_labels::table
        .inner_join(labels::table)
        .filter(contact_labels::contact_id.eq_any(contact_ids))
        .order(labels::name.asc())
        .select((contact_labels::contact_id, (labels::id, labels::name, labels::color)))
        .load(conn)?;
    for (contact_id, label) in rows {
        out.entry(contact_id).or_default().push(label);
    }
    Ok(out)
}

/// Finds labels by name; names that are not labels are returned apart.
pub fn resolve(conn: &mut AnyConnection, names: &[String]) -> Result<(Vec<Label>, Vec<String>), AppError> {
    let wanted: Vec<String> = names.iter().map(|n| n.trim().to_lowercase()).collect();
    let found: Vec<Label> = if wanted.is_empty() {
        Vec::new()
    } else {
        labels::table
            .filter(labels::name.eq_any(&wanted))
            .select((labels::id, labels::name, labels::color))
            .load(conn)?
    };
    let missing = wanted
        .into_iter()
        .filter(|w| !found.iter().any(|l| &l.name == w))
        .collect();
    Ok((found, missing))
}

/// Gives a contact exactly these labels (by name). Anyone may; a name that
/// is not a label is refused, since admins define labels.
pub fn set_for_contact(conn: &mut AnyConnection, contact_id: i32, names: &[String]) -> Result<Vec<Label>, AppError> {
    write_transaction(conn, |conn| {
        let exists: i64 = contacts::table
            .filter(contacts::id.eq(contact_id))
            .count()
            .get_result(conn)?;
        if exists == 0 {
            return Err(AppError::not_found(&format!("Contact #{contact_id}")));
        }
        let (found, missing) = resolve(conn, names)?;
        if !missing.is_empty() {
            return Err(AppError::field(
                "labels",
                format!(
                    "{} {} not a label (an admin defines labels in Settings)",
                    missing.join(", "),
                    if missing.len() == 1 { "is" } else { "are" }
                ),
            ));
        }
        diesel::delete(contact_labels::table.filter(contact_labels::contact_id.eq(contact_id))).execute(conn)?;
        let mut ids: Vec<i32> = found.iter().map(|l| l.id).collect();
        ids.sort_unstable();
        ids.dedup();
        // One row at a time: a contact has a handful of labels, and
        // MultiBackend has no multi-row VALUES.
        for label_id in ids {
            diesel::insert_into(contact_labels::table)
                .values((
                    contact_labels::contact_id.eq(contact_id),
                    contact_labels::label_id.eq(label_id),
                ))
                .execute(conn)?;
        }
        // Labels change what the contact is; its `updated_at` says so.
        diesel::update(contacts::table.find(contact_id))
            .set(contacts::updated_at.eq(Utc::now().naive_utc()))
            .execute(conn)?;
        Ok(of_contacts(conn, &[contact_id])?
            .remove(&contact_id)
            .unwrap_or_default())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_colours_are_checked() {
        assert_eq!(parse_name(" VIP "), Ok("vip".into()));
        assert!(parse_name("a,b").is_err());
        assert!(parse_name("").is_err());
        assert_eq!(parse_color("#D4A017"), Ok("#d4a017".into()));
        assert_eq!(parse_color(""), Ok(DEFAULT_COLOR.into()));
        assert!(parse_color("red").is_err());
        assert!(parse_color("#12345g").is_err());
    }
}
