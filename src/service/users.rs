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

    /// Team leads and admins assign contacts and run bulk actions (docs/decisions.md, "Roles").
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

/// A user as the admins' users page shows it.
#[derive(Debug, Clone, Queryable)]
pub struct Member {
    pub id: i32,
    pub email: String,
    pub name: String,
    pub role: String,
    pub disabled_at: Option<NaiveDateTime>,
}

/// Every user, enabled ones first (admins only).
pub fn members(conn: &mut AnyConnection, actor: &Actor) -> Result<Vec<Member>, AppError> {
    require_admin(actor, "manage users")?;
    Ok(users::table
        .order((users::disabled_at.is_not_null(), users::name.asc(), users::id.asc()))
        .select((users::id, users::email, users::name, users::role, users::disabled_at))
        .load(conn)?)
}

/// Refuses (403) anyone but an admin.
pub fn require_admin(actor: &Actor, action: &str) -> Result<(), AppError> {
    actor.require(actor.role == Role::Admin, action)
}

fn member(conn: &mut AnyConnection, id: i32) -> Result<Member, AppError> {
    users::table
        .find(id)
        .select((users::id, users::email, users::name, users::role, users::disabled_at))
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found(&format!("User #{id}")))
}

/// Refuses a change that would leave no enabled admin: someone must be able
/// to manage the team. Runs inside the change's transaction.
fn keep_an_admin(conn: &mut AnyConnection, losing: &Member) -> Result<(), AppError> {
    if losing.role != Role::Admin.as_str() || losing.disabled_at.is_some() {
        return Ok(());
    }
    let admins: i64 = users::table
        .filter(users::role.eq(Role::Admin.as_str()))
        .filter(users::disabled_at.is_null())
        .count()
        .get_result(conn)?;
    if admins <= 1 {
        return Err(AppError::Conflict(format!(
            "{} is the last admin: make someone else an admin first.",
            losing.name
        )));
    }
    Ok(())
}

/// Adds a user (admins only); they sign in with the password given here and
/// may change it on their profile.
pub fn invite(conn: &mut AnyConnection, actor: &Actor, new: &NewUser<'_>) -> Result<Actor, AppError> {
    require_admin(actor, "add users")?;
    let (name, email) = validate(new)?;
    let hash = hash_password(new.password)?;
    write_transaction(conn, |conn| {
        let user = insert_user(conn, &name, &email, &hash, new.role)?;
        super::activity::record(
            conn,
            Some(actor),
            super::activity::Action::UserAdd,
            None,
            1,
            &format!("added {} ({}) as {}", user.name, user.email, user.role.as_str()),
        )?;
        Ok(user)
    })
}

/// Changes a user's role (admins only); the last admin keeps theirs.
pub fn set_role(conn: &mut AnyConnection, actor: &Actor, id: i32, role: Role) -> Result<(), AppError> {
    require_admin(actor, "change roles")?;
    write_transaction(conn, |conn| {
        let target = member(conn, id)?;
        if target.role == role.as_str() {
            return Ok(());
        }
        if role != Role::Admin {
            keep_an_admin(conn, &target)?;
        }
        diesel::update(users::table.find(id))
            .set((
                users::role.eq(role.as_str()),
                users::updated_at.eq(Utc::now().naive_utc()),
            ))
            .execute(conn)?;
        super::activity::record(
            conn,
            Some(actor),
            super::activity::Action::RoleChange,
            None,
            1,
            &format!(
                "changed {}'s role from {} to {}",
                target.name,
                target.role,
                role.as_str()
            ),
        )
    })
}

/// Disables a user (admins only): their sessions end and their API tokens
/// stop working at once; what they own stays theirs until reassigned.
/// Enabling gives them their sign-in back (tokens stay revoked).
pub fn set_disabled(conn: &mut AnyConnection, actor: &Actor, id: i32, disabled: bool) -> Result<(), AppError> {
    use crate::db::schema::{api_tokens, sessions};
    require_admin(actor, "disable users")?;
    write_transaction(conn, |conn| {
        let target = member(conn, id)?;
        if target.disabled_at.is_some() == disabled {
            return Ok(());
        }
        let now = Utc::now().naive_utc();
        if disabled {
            keep_an_admin(conn, &target)?;
            diesel::delete(sessions::table.filter(sessions::user_id.eq(id))).execute(conn)?;
            diesel::update(
                api_tokens::table
                    .filter(api_tokens::user_id.eq(id))
                    .filter(api_tokens::revoked_at.is_null()),
            )
            .set(api_tokens::revoked_at.eq(now))
            .execute(conn)?;
        }
        diesel::update(users::table.find(id))
            .set((
                users::disabled_at.eq(disabled.then_some(now)),
                users::updated_at.eq(now),
            ))
            .execute(conn)?;
        let (action, verb) = if disabled {
            (super::activity::Action::UserDisable, "disabled")
        } else {
            (super::activity::Action::UserEnable, "enabled")
        };
        super::activity::record(conn, Some(actor), action, None, 1, &format!("{verb} {}", target.name))
    })
}

fn check_password(password: &str) -> Result<(), AppError> {
    let len = password.chars().count();
    if len < MIN_PASSWORD {
        return Err(AppError::field(
            "password",
            format!("must be at least {MIN_PASSWORD} characters"),
        ));
    }
    if len > 1024 {
        return Err(AppError::field("password", "is too long"));
    }
    Ok(())
}

/// Sets a new password for a user (admins only); their sessions end.
pub fn reset_password(conn: &mut AnyConnection, actor: &Actor, id: i32, password: &str) -> Result<(), AppError> {
    use crate::db::schema::sessions;
    require_admin(actor, "reset passwords")?;
    check_password(password)?;
    let hash = hash_password(password)?;
    write_transaction(conn, |conn| {
        let target = member(conn, id)?;
        diesel::update(users::table.find(id))
            .set((
                users::password_hash.eq(&hash),
                users::updated_at.eq(Utc::now().naive_utc()),
            ))
            .execute(conn)?;
        diesel::delete(sessions::table.filter(sessions::user_id.eq(id))).execute(conn)?;
        super::activity::record(
            conn,
            Some(actor),
            super::activity::Action::PasswordReset,
            None,
            1,
            &format!("reset {}'s password", target.name),
        )
    })
}

/// Every user changes their own name.
pub fn rename_self(conn: &mut AnyConnection, actor: &Actor, name: &str) -> Result<(), AppError> {
    let name = ContactName::parse(name).map_err(|e| AppError::field("name", e))?;
    diesel::update(users::table.find(actor.id))
        .set((
            users::name.eq(name.into_inner()),
            users::updated_at.eq(Utc::now().naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Every user changes their own password, proving the current one. Their
/// other sessions end; `keep_session` (the one asking) stays signed in.
pub fn change_own_password(
    conn: &mut AnyConnection,
    actor: &Actor,
    current: &str,
    new: &str,
    keep_session: Option<&str>,
) -> Result<(), AppError> {
    use crate::db::schema::sessions;
    let hash: String = users::table.find(actor.id).select(users::password_hash).first(conn)?;
    if !verify_password(&hash, current) {
        return Err(AppError::field("current_password", "is not correct"));
    }
    check_password(new)?;
    let new_hash = hash_password(new)?;
    write_transaction(conn, |conn| {
        diesel::update(users::table.find(actor.id))
            .set((
                users::password_hash.eq(&new_hash),
                users::updated_at.eq(Utc::now().naive_utc()),
            ))
            .execute(conn)?;
        let mut others = diesel::delete(sessions::table.filter(sessions::user_id.eq(actor.id))).into_boxed();
        if let Some(keep) = keep_session {
            others = others.filter(sessions::id.ne(keep.to_string()));
        }
        others.execute(conn)?;
        Ok(())
    })
}
