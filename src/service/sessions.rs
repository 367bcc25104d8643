//! Server-side sessions, kept in the database so that every app instance sees
//! them and signing out (or disabling a user) ends them at once.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::{app_settings, sessions};
use crate::db::{write_transaction, AnyConnection};
use crate::error::AppError;

/// The stored ID of a session: the SHA-256 of the key in the cookie.
pub fn stored_id(cookie_key: &str) -> String {
    super::secret::sha256_hex(cookie_key)
}

/// The state of a live session, or `None` when it is unknown or expired.
pub fn load(conn: &mut AnyConnection, cookie_key: &str) -> Result<Option<String>, AppError> {
    let now = Utc::now().naive_utc();
    Ok(sessions::table
        .find(stored_id(cookie_key))
        .filter(sessions::expires_at.gt(now))
        .select(sessions::state)
        .first(conn)
        .optional()?)
}

/// Stores a new session, noting its user so that disabling the user can end it.
pub fn insert(
    conn: &mut AnyConnection,
    cookie_key: &str,
    state: &str,
    user_id: Option<i32>,
    expires_at: NaiveDateTime,
) -> Result<(), AppError> {
    diesel::insert_into(sessions::table)
        .values((
            sessions::id.eq(stored_id(cookie_key)),
            sessions::state.eq(state),
            sessions::user_id.eq(user_id),
            sessions::created_at.eq(Utc::now().naive_utc()),
            sessions::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Replaces a live session's state. False when the session has ended (signed
/// out, or its user disabled) meanwhile: it is never brought back.
pub fn update(
    conn: &mut AnyConnection,
    cookie_key: &str,
    state: &str,
    user_id: Option<i32>,
    expires_at: NaiveDateTime,
) -> Result<bool, AppError> {
    let updated = diesel::update(sessions::table.find(stored_id(cookie_key)))
        .set((
            sessions::state.eq(state),
            sessions::user_id.eq(user_id),
            sessions::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(updated > 0)
}

/// Extends a session's life.
pub fn touch(conn: &mut AnyConnection, cookie_key: &str, expires_at: NaiveDateTime) -> Result<(), AppError> {
    diesel::update(sessions::table.find(stored_id(cookie_key)))
        .set(sessions::expires_at.eq(expires_at))
        .execute(conn)?;
    Ok(())
}

/// Ends one session.
pub fn delete(conn: &mut AnyConnection, cookie_key: &str) -> Result<(), AppError> {
    diesel::delete(sessions::table.find(stored_id(cookie_key))).execute(conn)?;
    Ok(())
}

/// Removes expired sessions.
pub fn purge_expired(conn: &mut AnyConnection) -> Result<usize, AppError> {
    let now = Utc::now().naive_utc();
    Ok(diesel::delete(sessions::table.filter(sessions::expires_at.le(now))).execute(conn)?)
}

/// The key that signs session cookies: from the configuration, or generated
/// once and kept in the database so that every instance uses the same one.
pub fn signing_key(conn: &mut AnyConnection, configured: Option<&str>) -> Result<Vec<u8>, AppError> {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    if let Some(text) = configured {
        let key = STANDARD
            .decode(text.trim())
            .map_err(|_| AppError::bad_request("SESSION_KEY must be base64"))?;
        if key.len() < 64 {
            return Err(AppError::bad_request("SESSION_KEY must hold at least 64 bytes"));
        }
        return Ok(key);
    }
    write_transaction(conn, |conn| {
        let stored: Option<String> = app_settings::table
            .find("session_key")
            .select(app_settings::value)
            .first(conn)
            .optional()?;
        let text = match stored {
            Some(text) => text,
            None => {
                let key: [u8; 64] = std::array::from_fn(|_| rand::random::<u8>());
                let text = STANDARD.encode(key);
                diesel::insert_into(app_settings::table)
                    .values((app_settings::key.eq("session_key"), app_settings::value.eq(&text)))
                    .execute(conn)?;
                text
            }
        };
        STANDARD.decode(text).map_err(AppError::internal)
    })
}
