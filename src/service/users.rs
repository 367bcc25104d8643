//! Team members: roles, passwords, first-run setup and sign-in.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use super::contact_fields::{ContactName, Email};
use crate::db::schema::{app_settings, users};
use crate::db::{write_transaction, AnyConnection};
use crate::error::{AppError, FieldErrors};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Agent,
    Lead,
    Admin,
}

impl Role {
    pub fn parse(input: &str) -> Result<Self, String> {
        match input.trim().to_lowercase().as_str() {
            "agent" => Ok(Self::Agent),
            "lead" => Ok(Self::Lead),
            "admin" => Ok(Self::Admin),
            other => Err(format!("\"{other}\" is not a role (use agent, lead or admin)")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Lead => "lead",
            Self::Admin => "admin",
        }
    }

    /// Team leads and admins assign contacts and run bulk actions (product.md §8).
    pub fn can_assign(self) -> bool {
        self >= Self::Lead
    }

    /// Team leads and admins delete, merge and restore contacts.
    pub fn can_delete(self) -> bool {
        self >= Self::Lead
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: i32,
    pub email: String,
    pub name: String,
    pub role: String,
    pub password_hash: String,
    pub disabled_at: Option<NaiveDateTime>,
}

/// A signed-in, enabled user: who is acting, and with which role.
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: i32,
    pub email: String,
    pub name: String,
    pub role: Role,
}

impl Actor {
    pub fn from_row(row: UserRow) -> Result<Self, AppError> {
        let role = Role::parse(&row.role).map_err(AppError::internal)?;
        Ok(Self {
            id: row.id,
            email: row.email,
            name: row.name,
            role,
        })
    }

    /// Fails with 403 unless the actor's role may `action`.
    pub fn require(&self, allowed: bool, action: &str) -> Result<(), AppError> {
        if allowed {
            Ok(())
        } else {
            Err(AppError::forbidden(action))
        }
    }
}

/// A user in a picker (owner select, history).
#[derive(Debug, Clone, Queryable)]
pub struct UserSummary {
    pub id: i32,
    pub name: String,
    pub role: String,
}

/// What it takes to add a user.
pub struct NewUser<'a> {
    pub name: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    pub role: Role,
}

pub const MIN_PASSWORD: usize = 10;

fn validate(new: &NewUser<'_>) -> Result<(String, String), AppError> {
    let mut fields = FieldErrors::new();
    let name = ContactName::parse(new.name).map_err(|e| fields.entry("name".into()).or_default().push(e));
    let email = Email::parse(new.email).map_err(|e| fields.entry("email".into()).or_default().push(e));
    let pw_len = new.password.chars().count();
    if pw_len < MIN_PASSWORD {
        fields
            .entry("password".into())
            .or_default()
            .push(format!("must be at least {MIN_PASSWORD} characters"));
    } else if pw_len > 1024 {
        fields.entry("password".into()).or_default().push("is too long".into());
    }
    match (name, email) {
        (Ok(name), Ok(email)) if fields.is_empty() => Ok((name.into_inner(), email.into_inner())),
        _ => Err(AppError::Validation {
            message: "Please correct the highlighted fields.".into(),
            fields,
        }),
    }
}

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(AppError::internal)
}

fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

/// Adds a user; a taken e-mail is a field error.
pub fn add_user(conn: &mut AnyConnection, new: &NewUser<'_>) -> Result<Actor, AppError> {
    let (name, email) = validate(new)?;
    let hash = hash_password(new.password)?;
    write_transaction(conn, |conn| insert_user(conn, &name, &email, &hash, new.role))
}

fn insert_user(conn: &mut AnyConnection, name: &str, email: &str, hash: &str, role: Role) -> Result<Actor, AppError> {
    let taken: i64 = users::table.filter(users::email.eq(email)).count().get_result(conn)?;
    if taken > 0 {
        return Err(AppError::field("email", "already belongs to a user"));
    }
    let now = Utc::now().naive_utc();
    let id: i32 = diesel::insert_into(users::table)
        .values((
            users::email.eq(email),
            users::name.eq(name),
            users::role.eq(role.as_str()),
            users::password_hash.eq(hash),
            users::created_at.eq(now),
            users::updated_at.eq(now),
        ))
        .returning(users::id)
        .get_result(conn)?;
    let row: UserRow = users::table.find(id).select(UserRow::as_select()).first(conn)?;
    Actor::from_row(row)
}

/// True while no user exists: the app then offers first-run setup.
pub fn needs_setup(conn: &mut AnyConnection) -> Result<bool, AppError> {
    let count: i64 = users::table.count().get_result(conn)?;
    Ok(count == 0)
}

/// Creates the first admin, only while no user exists. The `setup_done`
/// settings row makes two racing setups collide on its primary key.
pub fn setup_first_admin(conn: &mut AnyConnection, name: &str, email: &str, password: &str) -> Result<Actor, AppError> {
    let new = NewUser {
        name,
        email,
        password,
        role: Role::Admin,
    };
    let (name, email) = validate(&new)?;
    let hash = hash_password(password)?;
    write_transaction(conn, |conn| {
        if !needs_setup(conn)? {
            return Err(AppError::forbidden("run setup: leadbook already has users"));
        }
        diesel::insert_into(app_settings::table)
            .values((app_settings::key.eq("setup_done"), app_settings::value.eq("1")))
            .execute(conn)
            .map_err(|_| AppError::Conflict("Setup has already been completed.".into()))?;
        insert_user(conn, &name, &email, &hash, Role::Admin)
    })
}

/// Checks an e-mail and password. The same message for an unknown user and a
/// wrong password, so sign-in does not reveal who has an account.
pub fn authenticate(conn: &mut AnyConnection, email: &str, password: &str) -> Result<Actor, AppError> {
    let email = email.trim().to_lowercase();
    if super::contact_fields::check_plain(&email).is_err() {
        return Err(AppError::field("password", "E-mail or password is not correct."));
    }
    let row: Option<UserRow> = users::table
        .filter(users::email.eq(&email))
        .select(UserRow::as_select())
        .first(conn)
        .optional()?;
    let refused = || AppError::field("password", "E-mail or password is not correct.");
    match row {
        Some(row) if verify_password(&row.password_hash, password) => {
            if row.disabled_at.is_some() {
                return Err(AppError::field("email", "This account has been disabled."));
            }
            Actor::from_row(row)
        }
        Some(_) => Err(refused()),
        None => {
            // Spend the same time as a real check.
            let _ = hash_password(password);
            Err(refused())
        }
    }
}

/// The enabled user with this ID, if any.
pub fn active_user(conn: &mut AnyConnection, id: i32) -> Result<Option<Actor>, AppError> {
    let row: Option<UserRow> = users::table
        .find(id)
        .filter(users::disabled_at.is_null())
        .select(UserRow::as_select())
        .first(conn)
        .optional()?;
    row.map(Actor::from_row).transpose()
}

/// The enabled user with this e-mail (for the command line).
pub fn find_by_email(conn: &mut AnyConnection, email: &str) -> Result<Actor, AppError> {
    let row: Option<UserRow> = users::table
        .filter(users::email.eq(email.trim().to_lowercase()))
        .filter(users::disabled_at.is_null())
        .select(UserRow::as_select())
        .first(conn)
        .optional()?;
    row.map(Actor::from_row)
        .transpose()?
        .ok_or_else(|| AppError::not_found(&format!("A user with e-mail {email}")))
}

/// Every enabled user, for owner pickers.
pub fn team(conn: &mut AnyConnection) -> Result<Vec<UserSummary>, AppError> {
    Ok(users::table
        .filter(users::disabled_at.is_null())
        .order((users::name.asc(), users::id.asc()))
        .select((users::id, users::name, users::role))
        .load(conn)?)
}
