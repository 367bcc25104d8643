//! `AppError`: the one error type of the request path.
//!
//! Conventions: services return `AppError` with a sentence a user can read;
//! `diesel::NotFound` becomes 404; anything unexpected becomes `Internal`, whose
//! cause goes to the log and never to the page. `anyhow` is for the CLI only.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

/// Per-field messages, keyed by the form field / JSON attribute name.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    BadRequest(String),
    /// The form's CSRF token is missing or does not belong to this session.
    #[error("This form has expired or was not sent from leadbook. Reload the page and try again.")]
    Csrf,
    #[error("Please sign in.")]
    SignInRequired,
    /// No valid API token.
    #[error("A valid API token is required.")]
    Unauthorized,
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{message}")]
    Validation { message: String, fields: FieldErrors },
    /// A unique attribute (email, phone, identifier) already belongs to another contact.
    #[error("This {field} already belongs to another contact.")]
    Duplicate { field: &'static str, existing_id: i32 },
    #[error("{0}")]
    Conflict(String),
    /// Two transactions deadlocked or could not be serialised (PostgreSQL
    /// aborts one): 409 like a conflict, and safe to run again.
    #[error("Another change to the same records happened at the same moment. Please try again.")]
    Contended(String),
    /// The contact does not want messages (API code `opted_out`).
    #[error("{0}")]
    OptedOut(String),
    /// WhatsApp's 24-hour window for free-form replies is closed (API code `reply_window_closed`).
    #[error("{0}")]
    ReplyWindowClosed(String),
    /// Too many sign-in attempts or API requests (429); the sentence says
    /// how long to wait.
    #[error("{0}")]
    RateLimited(String),
    #[error("The database is not available right now. Please try again in a moment.")]
    Unavailable(String),
    /// The database cannot grow (SQLite: disk full or its page limit).
    #[error("The database is full: nothing was saved. Free disk space, then try again.")]
    StorageFull(String),
    #[error("Something went wrong on our side. The problem has been logged.")]
    Internal(String),
}

impl AppError {
    pub fn not_found(what: &str) -> Self {
        Self::NotFound(format!("{what} was not found. It may have been deleted."))
    }

    pub fn forbidden(action: &str) -> Self {
        Self::Forbidden(format!("Your role does not allow you to {action}."))
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest(message.into())
    }

    /// One invalid field, as a validation error.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut fields = FieldErrors::new();
        fields.insert(field.to_string(), vec![message.clone()]);
        Self::Validation {
            message: format!("{field} {message}"),
            fields,
        }
    }

    /// Several invalid fields, as one validation error whose message names each.
    pub fn invalid(fields: FieldErrors) -> Self {
        let message = fields
            .iter()
            .flat_map(|(k, v)| v.iter().map(move |m| format!("{k} {m}")))
            .collect::<Vec<_>>()
            .join("; ");
        Self::Validation { message, fields }
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => Self::not_found("The record"),
            // A unique value taken by a request running at the same moment
            // (services check first; this is the race they cannot see).
            diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _) => {
                Self::Conflict(
                    "Another change took the same email, phone or identifier at the same moment. \
                     Reload and try again."
                        .into(),
                )
            }
            diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::SerializationFailure, info) => {
                Self::Contended(info.message().to_string())
            }
            diesel::result::Error::DatabaseError(_, info) if info.message().contains("deadlock detected") => {
                Self::Contended(info.message().to_string())
            }
            // The database went away under a request (PostgreSQL stopped or
            // restarted, the network cut): the pool drops the broken
            // connection and the next request connects again.
            diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::ClosedConnection, info) => {
                Self::Unavailable(info.message().to_string())
            }
            diesel::result::Error::DatabaseError(_, info) if connection_lost(info.message()) => {
                Self::Unavailable(info.message().to_string())
            }
            // SQLite's file cannot grow (disk full, or a page limit): the
            // transaction is rolled back whole, so nothing half-written stays.
            diesel::result::Error::DatabaseError(_, info) if info.message().contains("database or disk is full") => {
                Self::StorageFull(info.message().to_string())
            }
            other => Self::Internal(format!("database error: {other}")),
        }
    }
}

/// Whether a database error says the connection to the server is gone.
fn connection_lost(message: &str) -> bool {
    const SIGNS: [&str; 5] = [
        "server closed the connection",
        "terminating connection",
        "no connection to the server",
        "connection to server",
        "the database system is shutting down",
    ];
    SIGNS.iter().any(|s| message.contains(s))
}

impl From<diesel::r2d2::PoolError> for AppError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Forbidden(_) | Self::Csrf => StatusCode::FORBIDDEN,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::SignInRequired => StatusCode::SEE_OTHER,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Duplicate { .. }
            | Self::Conflict(_)
            | Self::Contended(_)
            | Self::OptedOut(_)
            | Self::ReplyWindowClosed(_) => StatusCode::CONFLICT,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::StorageFull(_) => StatusCode::INSUFFICIENT_STORAGE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::SignInRequired => return HttpResponse::SeeOther().insert_header(("Location", "/login")).finish(),
            Self::Internal(cause) | Self::Unavailable(cause) | Self::StorageFull(cause) => {
                tracing::error!(%cause, "request failed");
            }
            _ => {}
        }
        crate::web::pages::error_page(self.status_code(), &self.to_string())
    }
}
