//! Notes: what the team writes about a contact — a note, a logged call or a
//! meeting. Calls and meetings are contact made, so they move the contact's
//! `last_activity_at`.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use super::users::Actor;
use crate::db::schema::{contacts, notes, users};
use crate::db::{write_transaction, AnyConnection};
use crate::error::{AppError, FieldErrors};

pub const MAX_BODY: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteKind {
    Note,
    Call,
    Meeting,
}

impl NoteKind {
    pub const ALL: [NoteKind; 3] = [NoteKind::Note, NoteKind::Call, NoteKind::Meeting];

    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_lowercase().as_str() {
            "" | "note" => Ok(Self::Note),
            "call" => Ok(Self::Call),
            "meeting" => Ok(Self::Meeting),
            _ => Err("must be note, call or meeting".into()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Note => "note",
            Self::Call => "call",
            Self::Meeting => "meeting",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Note => "Note",
            Self::Call => "Call",
            Self::Meeting => "Meeting",
        }
    }

    /// Calls and meetings are contact made with the customer.
    fn is_activity(self) -> bool {
        !matches!(self, Self::Note)
    }
}

#[derive(Debug, Clone, Queryable)]
pub struct Note {
    pub id: i32,
    pub contact_id: i32,
    pub author_id: Option<i32>,
    pub kind: String,
    pub body: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub author_name: Option<String>,
}

impl Note {
    pub fn kind(&self) -> NoteKind {
        NoteKind::parse(&self.kind).unwrap_or(NoteKind::Note)
    }

    /// Its author, a lead or an admin may change or delete it.
    pub fn editable_by(&self, actor: &Actor) -> bool {
        self.author_id == Some(actor.id) || actor.role.can_assign()
    }
}

/// Checks a note's kind and body together, naming each bad field.
pub fn parse(kind: &str, body: &str) -> Result<(NoteKind, String), AppError> {
    let mut errors = FieldErrors::new();
    let kind = NoteKind::parse(kind)
        .map_err(|e| errors.insert("kind".into(), vec![e]))
        .ok();
    let text = body.trim();
    let len = text.chars().count();
    if text.is_empty() {
        errors.insert("body".into(), vec!["is required".into()]);
    } else if len > MAX_BODY {
        errors.insert(
            "body".into(),
            vec![format!("is too long ({len} characters; at most {MAX_BODY})")],
        );
    } else if text.contains(|c: char| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        errors.insert("body".into(), vec!["contains characters that are not allowed".into()]);
    }
    match kind {
        Some(kind) if errors.is_empty() => Ok((kind, text.replace("\r\n", "\n"))),
        _ => Err(AppError::invalid(errors)),
    }
}

type NoteColumns = (
    notes::id,
    notes::contact_id,
    notes::author_id,
    notes::kind,
    notes::body,
    notes::created_at,
    notes::updated_at,
    diesel::dsl::Nullable<users::name>,
);

fn columns() -> NoteColumns {
    (
        notes::id,
        notes::contact_id,
        notes::author_id,
        notes::kind,
        notes::body,
        notes::created_at,
        notes::updated_at,
        users::name.nullable(),
    )
}

/// A contact's notes, newest first.
pub fn of_contact(conn: &mut AnyConnection, contact_id: i32) -> Result<Vec<Note>, AppError> {
    Ok(notes::table
        .left_join(users::table)
        .filter(notes::contact_id.eq(contact_id))
        .order((notes::created_at.desc(), notes::id.desc()))
        .select(columns())
        .load(conn)?)
}

pub fn get(conn: &mut AnyConnection, id: i32) -> Result<Note, AppError> {
    notes::table
        .left_join(users::table)
        .filter(notes::id.eq(id))
        .select(columns())
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("This note"))
}

/// Adds a note; anyone may. A call or meeting moves `last_activity_at`.
pub fn add(conn: &mut AnyConnection, actor: &Actor, contact_id: i32, kind: &str, body: &str) -> Result<Note, AppError> {
    let (kind, body) = parse(kind, body)?;
    write_transaction(conn, |conn| {
        let last: Option<Option<NaiveDateTime>> = contacts::table
            .find(contact_id)
            .select(contacts::last_activity_at)
            .first(conn)
            .optional()?;
        let Some(last) = last else {
            return Err(AppError::not_found(&format!("Contact #{contact_id}")));
        };
        let now = Utc::now().naive_utc();
        let id: i32 = diesel::insert_into(notes::table)
            .values((
                notes::contact_id.eq(contact_id),
                notes::author_id.eq(actor.id),
                notes::kind.eq(kind.as_str()),
                notes::body.eq(&body),
                notes::created_at.eq(now),
                notes::updated_at.eq(now),
            ))
            .returning(notes::id)
            .get_result(conn)?;
        if kind.is_activity() && last.is_none_or(|t| t < now) {
            diesel::update(contacts::table.find(contact_id))
                .set(contacts::last_activity_at.eq(now))
                .execute(conn)?;
        }
        get(conn, id)
    })
}

/// Changes a note: its author, a lead or an admin.
pub fn update(conn: &mut AnyConnection, actor: &Actor, id: i32, kind: &str, body: &str) -> Result<Note, AppError> {
    write_transaction(conn, |conn| {
        let note = get(conn, id)?;
        actor.require(note.editable_by(actor), "change another person's note")?;
        let (kind, body) = parse(kind, body)?;
        diesel::update(notes::table.find(id))
            .set((
                notes::kind.eq(kind.as_str()),
                notes::body.eq(&body),
                notes::updated_at.eq(Utc::now().naive_utc()),
            ))
            .execute(conn)?;
        get(conn, id)
    })
}

/// A deleted note, whole: what its undo writes back.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DeletedNote {
    pub id: i32,
    pub contact_id: i32,
    pub author_id: Option<i32>,
    pub kind: String,
    pub body: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Deletes a note: its author, a lead or an admin. Returns it whole, so the
/// page can offer to undo.
pub fn delete(conn: &mut AnyConnection, actor: &Actor, id: i32) -> Result<DeletedNote, AppError> {
    write_transaction(conn, |conn| {
        let note = get(conn, id)?;
        actor.require(note.editable_by(actor), "delete another person's note")?;
        diesel::delete(notes::table.find(id)).execute(conn)?;
        Ok(DeletedNote {
            id: note.id,
            contact_id: note.contact_id,
            author_id: note.author_id,
            kind: note.kind,
            body: note.body,
            created_at: note.created_at,
            updated_at: note.updated_at,
        })
    })
}

/// Undoes [`delete`]: writes the note back as it was, same ID, author and
/// times. Only who could delete it may, and only while its contact is live
/// (not merged away or in the trash).
pub fn restore(conn: &mut AnyConnection, actor: &Actor, note: &DeletedNote) -> Result<i32, AppError> {
    actor.require(
        note.author_id == Some(actor.id) || actor.role.can_assign(),
        "restore another person's note",
    )?;
    write_transaction(conn, |conn| {
        let live: Option<i32> = contacts::table
            .find(note.contact_id)
            .filter(contacts::deleted_at.is_null())
            .select(contacts::id)
            .first(conn)
            .optional()?;
        if live.is_none() {
            return Err(AppError::not_found("The note's contact"));
        }
        let exists: Option<i32> = notes::table.find(note.id).select(notes::id).first(conn).optional()?;
        if exists.is_none() {
            diesel::insert_into(notes::table)
                .values((
                    notes::id.eq(note.id),
                    notes::contact_id.eq(note.contact_id),
                    notes::author_id.eq(note.author_id),
                    notes::kind.eq(&note.kind),
                    notes::body.eq(&note.body),
                    notes::created_at.eq(note.created_at),
                    notes::updated_at.eq(note.updated_at),
                ))
                .execute(conn)?;
        }
        Ok(note.contact_id)
    })
}
