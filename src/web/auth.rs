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
    let layout = Layout::anonymous("Sign in", csrf_token(&session));
    Ok(pages::render(&LoginPage {
        layout,
        email: String::new(),
        error: None,
    }))
}

pub async fn login(
    state: web::Data<AppState>,
    session: Session,
    form: CsrfForm<LoginInput>,
) -> Result<HttpResponse, AppError> {
    let input = form.0;
    let (email, password) = (input.email.clone(), input.password.clone());
    match state.db(move |c| users::authenticate(c, &email, &password)).await {
        Ok(actor) => {
            sign_in(&session, &actor)?;
            Ok(pages::see_other("/contacts"))
        }
        Err(AppError::Validation { fields, .. }) => {
            let error = fields.into_values().flatten().next();
            let layout = Layout::anonymous("Sign in", csrf_token(&session));
            Ok(pages::render_with(
                StatusCode::UNPROCESSABLE_ENTITY,
                &LoginPage {
                    layout,
                    email: input.email,
                    error,
                },
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
