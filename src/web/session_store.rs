//! actix-session's storage, backed by the `sessions` table.

use std::collections::HashMap;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration;
use chrono::{NaiveDateTime, Utc};

use crate::db::Pool;
use crate::error::AppError;
use crate::service::sessions;

/// Session state lives in the database, so any instance can serve any
/// request and deleting the row ends the session everywhere.
#[derive(Clone)]
pub struct DbSessionStore {
    pool: Pool,
}

impl DbSessionStore {
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut crate::db::AnyConnection) -> Result<T, AppError> + Send + 'static,
    ) -> anyhow::Result<T> {
        let pool = self.pool.clone();
        let result = actix_web::web::block(move || {
            let mut conn = pool.get()?;
            work(&mut conn)
        })
        .await?;
        result.map_err(|e| anyhow::anyhow!("{e:?}"))
    }
}

fn expiry(ttl: &Duration) -> NaiveDateTime {
    Utc::now().naive_utc() + chrono::Duration::seconds(ttl.whole_seconds())
}

/// The signed-in user of a session state, so the row can be found when the
/// user is disabled.
fn user_of(state: &HashMap<String, String>) -> Option<i32> {
    state.get(super::auth::USER_KEY).and_then(|v| v.parse().ok())
}

impl SessionStore for DbSessionStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<HashMap<String, String>>, LoadError> {
        let key = key.as_ref().to_owned();
        let state = self
            .run(move |c| sessions::load(c, &key))
            .await
            .map_err(LoadError::Other)?;
        state
            .map(|s| serde_json::from_str(&s).map_err(|e| LoadError::Deserialization(e.into())))
            .transpose()
    }

    async fn save(&self, state: HashMap<String, String>, ttl: &Duration) -> Result<SessionKey, SaveError> {
        let text = serde_json::to_string(&state).map_err(|e| SaveError::Serialization(e.into()))?;
        let key = crate::service::secret::random_token(64);
        let (stored, user, expires) = (key.clone(), user_of(&state), expiry(ttl));
        self.run(move |c| sessions::insert(c, &stored, &text, user, expires))
            .await
            .map_err(SaveError::Other)?;
        SessionKey::try_from(key).map_err(|e| SaveError::Other(e.into()))
    }

    async fn update(
        &self,
        key: SessionKey,
        mut state: HashMap<String, String>,
        ttl: &Duration,
    ) -> Result<SessionKey, UpdateError> {
        let text = serde_json::to_string(&state).map_err(|e| UpdateError::Serialization(e.into()))?;
        let (stored, user, expires) = (key.as_ref().to_owned(), user_of(&state), expiry(ttl));
        let alive = self
            .run(move |c| sessions::update(c, &stored, &text, user, expires))
            .await
            .map_err(UpdateError::Other)?;
        if alive {
            return Ok(key);
        }
        // The session ended while this request ran: start an anonymous one.
        state.remove(super::auth::USER_KEY);
        self.save(state, ttl)
            .await
            .map_err(|e| UpdateError::Other(anyhow::anyhow!("{e}")))
    }

    async fn update_ttl(&self, key: &SessionKey, ttl: &Duration) -> anyhow::Result<()> {
        let (stored, expires) = (key.as_ref().to_owned(), expiry(ttl));
        self.run(move |c| sessions::touch(c, &stored, expires)).await
    }

    async fn delete(&self, key: &SessionKey) -> anyhow::Result<()> {
        let stored = key.as_ref().to_owned();
        self.run(move |c| sessions::delete(c, &stored)).await
    }
}
