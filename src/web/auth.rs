//! Signing in and out, first-run setup, the signed-in user as an extractor,
//! and CSRF-checked forms.

use actix_session::{Session, SessionExt};
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use askama::Template;
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::pages::{self, Layout};
use super::AppState;
use crate::error::AppError;
use crate::service::users::{self, Actor};

/// Session key of the signed-in user's ID.
pub const USER_KEY: &str = "uid";
const CSRF_KEY: &str = "csrf";
/// When the session signed in, and when it was last seen (Unix seconds), for
/// the absolute and idle timeouts.
const SINCE_KEY: &str = "since";
const SEEN_KEY: &str = "seen";
/// "Last seen" is written again only after this long, so a busy agent's
/// every click is not also a write to the session table.
const SEEN_RESOLUTION_SECS: i64 = 60;

/// Why a signed-in session has ended, if it has: signed in longer ago than
/// the absolute limit, or idle for longer than the idle limit. A session
/// without the times (from before they were kept) has ended too.
pub fn session_ended(
    since: Option<i64>,
    seen: Option<i64>,
    now: i64,
    idle_secs: i64,
    max_secs: i64,
) -> Option<&'static str> {
    match (since, seen) {
        (Some(since), _) if now - since >= max_secs => Some("Your session has ended; please sign in again."),
        (Some(_), Some(seen)) if now - seen >= idle_secs => {
            Some("You were signed out after a time without activity; please sign in again.")
        }
        (Some(_), Some(_)) => None,
        _ => Some("Please sign in."),
    }
}

/// This session's CSRF token, created on first use.
pub fn csrf_token(session: &Session) -> String {
    if let Ok(Some(token)) = session.get::<String>(CSRF_KEY) {
        return token;
    }
    let token = crate::service::secret::random_token(43);
    let _ = session.insert(CSRF_KEY, &token);
    token
}

/// The signed-in, enabled user. A handler that takes it can only be reached
/// signed in; anyone else is sent to the sign-in page. The user is read from
/// the database on each request, so disabling them takes effect at once.
pub struct CurrentUser {
    pub actor: Actor,
    pub csrf_token: String,
    /// Unread incoming messages across open conversations, for the menu.
    pub unread: i64,
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let session = req.get_session();
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let state = state.ok_or_else(|| AppError::internal("application state missing"))?;
            let Some(id) = session.get::<i32>(USER_KEY).ok().flatten() else {
                return Err(AppError::SignInRequired);
            };
            let now = chrono::Utc::now().timestamp();
            let time = |key| session.get::<i64>(key).ok().flatten();
            let (since, seen) = (time(SINCE_KEY), time(SEEN_KEY));
            let settings = &state.settings;
            if let Some(why) = session_ended(
                since,
                seen,
                now,
                settings.session_idle_minutes * 60,
                settings.session_max_hours * 3600,
            ) {
                // A new, empty session that carries only the reason.
                session.clear();
                session.renew();
                pages::flash(&session, why);
                return Err(AppError::SignInRequired);
            }
            if seen.is_some_and(|seen| now - seen >= SEEN_RESOLUTION_SECS) {
                let _ = session.insert(SEEN_KEY, now);
            }
            let found = state
                .db(move |c| match users::active_user(c, id)? {
                    Some(actor) => Ok(Some((actor, crate::service::conversations::unread_total(c)?))),
                    None => Ok(None),
                })
                .await?;
            match found {
                Some((actor, unread)) => Ok(Self {
                    actor,
                    csrf_token: csrf_token(&session),
                    unread,
                }),
                None => {
                    session.purge();
                    Err(AppError::SignInRequired)
                }
            }
        })
    }
}

/// A form whose CSRF token has been checked against the session; anything
/// else is refused with 403 before the handler runs.
pub struct CsrfForm<T>(pub T);

#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf_token: String,
}

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let session = req.get_session();
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let body = body
                .await
                .map_err(|_| AppError::bad_request("The form could not be read (is it too large?)."))?;
            let sent: CsrfField = serde_urlencoded::from_bytes(&body).map_err(|_| AppError::Csrf)?;
            let expected = session.get::<String>(CSRF_KEY).ok().flatten().unwrap_or_default();
            let valid = !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(sent.csrf_token.as_bytes()));
            if !valid {
                return Err(AppError::Csrf);
            }
            serde_urlencoded::from_bytes(&body)
                .map(CsrfForm)
                .map_err(|e| AppError::bad_request(format!("The form could not be read: {e}")))
        })
    }
}

/// Starts a signed-in session with a new session ID (no fixation).
fn sign_in(session: &Session, actor: &Actor) -> Result<(), AppError> {
    session.renew();
    session.insert(USER_KEY, actor.id).map_err(AppError::internal)?;
    let now = chrono::Utc::now().timestamp();
    session.insert(SINCE_KEY, now).map_err(AppError::internal)?;
    session.insert(SEEN_KEY, now).map_err(AppError::internal)?;
    // A fresh CSRF token for the signed-in session.
    let _ = session.remove(CSRF_KEY);
    csrf_token(session);
    Ok(())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SetupInput {
    name: String,
    email: String,
    password: String,
    password_confirm: String,
}

#[derive(Template)]
#[template(path = "auth/setup.html")]
struct SetupPage {
    layout: Layout,
    name: String,
    email: String,
    errors: pages::FormErrors,
}

pub async fn setup_form(state: web::Data<AppState>, session: Session) -> Result<HttpResponse, AppError> {
    if !state.db(users::needs_setup).await? {
        return Ok(pages::see_other("/login"));
    }
    let layout = Layout::anonymous("Set up leadbook", csrf_token(&session));
    Ok(pages::render(&SetupPage {
        layout,
        name: String::new(),
        email: String::new(),
        errors: pages::FormErrors::default(),
    }))
}

pub async fn setup(
    state: web::Data<AppState>,
    session: Session,
    form: CsrfForm<SetupInput>,
) -> Result<HttpResponse, AppError> {
    // Setup is over once an admin exists, whatever the form holds (the
    // service refuses a second first admin too, in its transaction).
    if !state.db(users::needs_setup).await? {
        return Ok(pages::see_other("/login"));
    }
    let input = form.0;
    let (name, email, password) = (input.name.clone(), input.email.clone(), input.password.clone());
    let result = if input.password != input.password_confirm {
        Err(AppError::field("password_confirm", "does not match the password"))
    } else {
        state
            .db(move |c| users::setup_first_admin(c, &name, &email, &password))
            .await
    };
    match result {
        Ok(actor) => {
            sign_in(&session, &actor)?;
            pages::flash(&session, "Welcome to leadbook. You are the first admin.");
            Ok(pages::see_other("/contacts"))
        }
        Err(AppError::Validation { fields, .. }) => {
            let layout = Layout::anonymous("Set up leadbook", csrf_token(&session));
            let page = SetupPage {
                layout,
                name: input.name,
                email: input.email,
                errors: pages::FormErrors(fields),
            };
            Ok(pages::render_with(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(other) => Err(other),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginInput {
    email: String,
    password: String,
}

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    layout: Layout,
    email: String,
    error: Option<String>,
}

pub async fn login_form(state: web::Data<AppState>, session: Session) -> Result<HttpResponse, AppError> {
    if state.db(users::needs_setup).await? {
        return Ok(pages::see_other("/setup"));
    }
    if session.get::<i32>(USER_KEY).ok().flatten().is_some() {
        return Ok(pages::see_other("/contacts"));
    }
    let mut layout = Layout::anonymous("Sign in", csrf_token(&session));
    // Why the last session ended (timed out), when it did.
    layout.flash = pages::take_flash(&session);
    Ok(pages::render(&LoginPage {
        layout,
        email: String::new(),
        error: None,
    }))
}

/// The client's address for the per-address sign-in limit: the connecting
/// peer, or, behind a proxy (`PUBLIC_URL` set), the address the proxy says
/// it forwarded for.
fn client_address(req: &HttpRequest, behind_proxy: bool) -> String {
    let info = req.connection_info();
    let address = if behind_proxy {
        info.realip_remote_addr()
    } else {
        info.peer_addr()
    };
    address.unwrap_or("unknown").to_string()
}

/// Refuses a sign-in over either limit, before the password is checked:
/// a blocked account cannot be used to test passwords.
fn login_limited(state: &AppState, address: &str, account: &str) -> Option<String> {
    let limits = &state.limits;
    let now = std::time::Instant::now();
    if let Some(wait) = limits.login_account.blocked(account, now) {
        return Some(format!(
            "Too many failed sign-ins for this account. Try again in {}.",
            super::rate_limit::wait_in_words(wait)
        ));
    }
    if let Err(wait) = limits.login_address.check_and_hit(address, now) {
        return Some(format!(
            "Too many sign-in attempts from your address. Try again in {}.",
            super::rate_limit::wait_in_words(wait)
        ));
    }
    None
}

pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    form: CsrfForm<LoginInput>,
) -> Result<HttpResponse, AppError> {
    let input = form.0;
    let account = input.email.trim().to_lowercase();
    let address = client_address(&req, state.settings.public_url.is_some());
    let refused = |status: StatusCode, error: Option<String>| {
        let layout = Layout::anonymous("Sign in", csrf_token(&session));
        pages::render_with(
            status,
            &LoginPage {
                layout,
                email: input.email.clone(),
                error,
            },
        )
    };
    if let Some(why) = login_limited(&state, &address, &account) {
        tracing::warn!(%address, "sign-in refused: {why}");
        return Ok(refused(StatusCode::TOO_MANY_REQUESTS, Some(why)));
    }
    let (email, password) = (input.email.clone(), input.password.clone());
    match state.db(move |c| users::authenticate(c, &email, &password)).await {
        Ok(actor) => {
            state.limits.login_account.clear(&account);
            sign_in(&session, &actor)?;
            Ok(pages::see_other("/contacts"))
        }
        Err(AppError::Validation { fields, .. }) => {
            state.limits.login_account.hit(&account, std::time::Instant::now());
            Ok(refused(
                StatusCode::UNPROCESSABLE_ENTITY,
                fields.into_values().flatten().next(),
            ))
        }
        Err(other) => Err(other),
    }
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn logout(session: Session, _form: CsrfForm<Empty>) -> HttpResponse {
    session.purge();
    pages::see_other("/login")
}

#[cfg(test)]
mod tests {
    use super::session_ended;

    const IDLE: i64 = 4 * 3600;
    const MAX: i64 = 168 * 3600;

    #[test]
    fn a_session_ends_when_idle_or_old() {
        let now = 1_000_000_000;
        assert_eq!(session_ended(Some(now - 60), Some(now - 60), now, IDLE, MAX), None);
        assert_eq!(session_ended(Some(now - MAX + 1), Some(now - 1), now, IDLE, MAX), None);
        let idle = session_ended(Some(now - 3600 * 5), Some(now - IDLE), now, IDLE, MAX).unwrap();
        assert!(idle.contains("without activity"), "{idle}");
        // Active all along, but signed in a week ago.
        let old = session_ended(Some(now - MAX), Some(now - 1), now, IDLE, MAX).unwrap();
        assert!(old.contains("ended"), "{old}");
        assert!(session_ended(None, None, now, IDLE, MAX).is_some());
        assert!(session_ended(Some(now), None, now, IDLE, MAX).is_some());
    }
}
