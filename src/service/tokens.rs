//! API tokens: a token belongs to a user and acts with that user's role.
//! It is shown once; the database keeps only its SHA-256.

use chrono::{Duration, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::secret::{random_token, sha256_hex};
use super::users::{self, Actor};
use crate::db::schema::{api_tokens, users as users_table};
use crate::db::AnyConnection;
use crate::error::AppError;

/// Prefix of every token, so a leaked one is easy to recognise in logs and scanners.
const PREFIX: &str = "lb_";
/// `last_used_at` is refreshed at most this often, so reading through the API
/// does not turn every request into a write.
const LAST_USED_RESOLUTION: i64 = 60;

#[derive(Debug, Clone, Queryable)]
pub struct ApiToken {
    pub id: i32,
    pub user_id: i32,
    pub name: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
    pub user_name: String,
}

fn columns() -> (
    api_tokens::id,
    api_tokens::user_id,
    api_tokens::name,
    api_tokens::created_at,
    api_tokens::last_used_at,
    api_tokens::revoked_at,
    users_table::name,
) {
    (
        api_tokens::id,
        api_tokens::user_id,
        api_tokens::name,
        api_tokens::created_at,
        api_tokens::last_used_at,
        api_tokens::revoked_at,
        users_table::name,
    )
}

/// Creates a token for `owner` (yourself, or anyone when you are an admin).
/// Returns the token row and the secret, which is never shown again.
pub fn create(
    conn: &mut AnyConnection,
    actor: &Actor,
    owner_id: i32,
    name: &str,
) -> Result<(ApiToken, String), AppError> {
    actor.require(
        owner_id == actor.id || actor.role == users::Role::Admin,
        "create tokens for other users",
    )?;
    let name = name.trim();
    let name = if name.is_empty() { "API token" } else { name };
    if name.chars().count() > 100 {
        return Err(AppError::field("name", "is too long (at most 100 characters)"));
    }
    if users::active_user(conn, owner_id)?.is_none() {
        return Err(AppError::not_found(&format!("User #{owner_id}")));
    }
    let secret = format!("{PREFIX}{}", random_token(40));
    let id: i32 = diesel::insert_into(api_tokens::table)
        .values((
            api_tokens::user_id.eq(owner_id),
            api_tokens::name.eq(name),
            api_tokens::token_hash.eq(sha256_hex(&secret)),
            api_tokens::created_at.eq(Utc::now().naive_utc()),
        ))
        .returning(api_tokens::id)
        .get_result(conn)?;
    let token = api_tokens::table
        .inner_join(users_table::table)
        .filter(api_tokens::id.eq(id))
        .select(columns())
        .first(conn)?;
    Ok((token, secret))
}

/// The user a bearer token acts for, or `None` when the token is unknown,
/// revoked or its user disabled. Notes when it was last used.
pub fn authenticate(conn: &mut AnyConnection, secret: &str) -> Result<Option<Actor>, AppError> {
    if !secret.starts_with(PREFIX) || secret.len() > 200 {
        return Ok(None);
    }
    let found: Option<(i32, Option<NaiveDateTime>, users::UserRow)> = api_tokens::table
        .inner_join(users_table::table)
        .filter(api_tokens::token_hash.eq(sha256_hex(secret)))
        .filter(api_tokens::revoked_at.is_null())
        .filter(users_table::disabled_at.is_null())
        .select((api_tokens::id, api_tokens::last_used_at, users::UserRow::as_select()))
        .first(conn)
        .optional()?;
    let Some((token_id, last_used, user)) = found else {
        return Ok(None);
    };
    let now = Utc::now().naive_utc();
    if last_used.is_none_or(|at| now - at > Duration::seconds(LAST_USED_RESOLUTION)) {
        // Bookkeeping, not the request's work: a read must not fail because
        // this write cannot be made (a full disk, a read-only replica).
        if let Err(e) = diesel::update(api_tokens::table.find(token_id))
            .set(api_tokens::last_used_at.eq(now))
            .execute(conn)
        {
            tracing::warn!(error = %e, token_id, "could not note when the API token was last used");
        }
    }
    Actor::from_row(user).map(Some)
}

/// A user's own tokens, newest first (revoked ones included, marked).
pub fn list_for_user(conn: &mut AnyConnection, user_id: i32) -> Result<Vec<ApiToken>, AppError> {
    Ok(api_tokens::table
        .inner_join(users_table::table)
        .filter(api_tokens::user_id.eq(user_id))
        .order(api_tokens::id.desc())
        .select(columns())
        .load(conn)?)
}

/// Every token of the team, for admins.
pub fn list_all(conn: &mut AnyConnection, actor: &Actor) -> Result<Vec<ApiToken>, AppError> {
    actor.require(actor.role == users::Role::Admin, "see everyone's API tokens")?;
    Ok(api_tokens::table
        .inner_join(users_table::table)
        .order(api_tokens::id.desc())
        .select(columns())
        .load(conn)?)
}

/// Revokes a token: your own, or anyone's when you are an admin. It stops
/// working at once.
pub fn revoke(conn: &mut AnyConnection, actor: &Actor, token_id: i32) -> Result<(), AppError> {
    let owner: Option<i32> = api_tokens::table
        .find(token_id)
        .select(api_tokens::user_id)
        .first(conn)
        .optional()?;
    match owner {
        // Someone else's token is "not found" to a non-admin, not "forbidden":
        // it does not reveal which token IDs exist.
        Some(owner) if owner == actor.id || actor.role == users::Role::Admin => {
            diesel::update(
                api_tokens::table
                    .find(token_id)
                    .filter(api_tokens::revoked_at.is_null()),
            )
            .set(api_tokens::revoked_at.eq(Utc::now().naive_utc()))
            .execute(conn)?;
            Ok(())
        }
        _ => Err(AppError::not_found(&format!("API token #{token_id}"))),
    }
}
