//! What every page shares: the layout (menu, signed-in user, flash), error
//! pages, redirects and how times are shown.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use askama::Template;
use chrono::{NaiveDateTime, Utc};
use chrono_tz::Tz;

use super::auth::CurrentUser;

const FLASH_KEY: &str = "flash";
/// Beside the flash: `error` when it reports a refusal (shown as an alert).
const FLASH_TONE_KEY: &str = "flash_tone";
/// Beside the flash: the undo it offers, as (button label, POST action).
const FLASH_UNDO_KEY: &str = "flash_undo";

/// A form's per-field errors, as templates read them.
#[derive(Debug, Default)]
pub struct FormErrors(pub crate::error::FieldErrors);

impl FormErrors {
    pub fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    /// The field's messages as one sentence, prefixed with its label.
    pub fn text(&self, field: &str, label: &str) -> String {
        self.0
            .get(field)
            .map(|msgs| {
                msgs.iter()
                    .map(|m| format!("{label} {m}."))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default()
    }

    pub fn any(&self) -> bool {
        !self.0.is_empty()
    }
}

/// The frame around every page.
pub struct Layout {
    pub title: String,
    /// The signed-in user's name; `None` on sign-in, setup and error pages.
    pub user_name: Option<String>,
    pub role: &'static str,
    pub csrf_token: String,
    pub flash: Option<String>,
    /// The flash is a refusal, not a confirmation.
    pub flash_error: bool,
    /// The undo the flash offers: (button label, POST action).
    pub flash_undo: Option<(String, String)>,
    /// Which menu entry is current.
    pub section: &'static str,
    /// Unread incoming messages, shown on the Conversations menu entry.
    pub unread: i64,
}

impl Layout {
    /// The layout of a signed-in page; takes the pending flash message.
    pub fn new(user: &CurrentUser, session: &Session, title: impl Into<String>, section: &'static str) -> Self {
        let flash = take_flash(session);
        let (flash_error, flash_undo) = match flash {
            Some(_) => take_flash_extras(session),
            None => (false, None),
        };
        Self {
            title: title.into(),
            user_name: Some(user.actor.name.clone()),
            role: user.actor.role.as_str(),
            csrf_token: user.csrf_token.clone(),
            flash,
            flash_error,
            flash_undo,
            section,
            unread: user.unread,
        }
    }

    /// The layout of a page shown to someone not signed in.
    pub fn anonymous(title: impl Into<String>, csrf_token: String) -> Self {
        Self {
            title: title.into(),
            user_name: None,
            role: "",
            csrf_token,
            flash: None,
            flash_error: false,
            flash_undo: None,
            section: "",
            unread: 0,
        }
    }
}

/// The pending flash message, taken. Only touches the session when one is
/// pending: any `remove` marks the session changed, which would rewrite its
/// row on every page.
pub fn take_flash(session: &Session) -> Option<String> {
    match session.get::<String>(FLASH_KEY) {
        Ok(Some(message)) => {
            session.remove(FLASH_KEY);
            Some(message)
        }
        _ => None,
    }
}

/// The flash's tone and undo, taken with it.
fn take_flash_extras(session: &Session) -> (bool, Option<(String, String)>) {
    let error = matches!(session.get::<String>(FLASH_TONE_KEY), Ok(Some(t)) if t == "error");
    let undo = session.get::<(String, String)>(FLASH_UNDO_KEY).ok().flatten();
    session.remove(FLASH_TONE_KEY);
    session.remove(FLASH_UNDO_KEY);
    (error, undo)
}

/// Shows `message` once, on the next page.
pub fn flash(session: &Session, message: &str) {
    let _ = session.insert(FLASH_KEY, message);
}

/// Shows a refusal once, on the next page, as an alert.
pub fn flash_error(session: &Session, message: &str) {
    let _ = session.insert(FLASH_KEY, message);
    let _ = session.insert(FLASH_TONE_KEY, "error");
}

/// Shows `message` once with an undo button: `label` posts to `action`
/// (a route that puts back what was just removed, with the page's CSRF token).
pub fn flash_with_undo(session: &Session, message: &str, label: &str, action: &str) {
    let _ = session.insert(FLASH_KEY, message);
    let _ = session.insert(FLASH_UNDO_KEY, (label, action));
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    code: u16,
    message: String,
}

/// An error page in the layout.
pub fn error_page(status: StatusCode, message: &str) -> HttpResponse {
    let title = status.canonical_reason().unwrap_or("Error").to_string();
    let page = ErrorPage {
        layout: Layout::anonymous(title, String::new()),
        code: status.as_u16(),
        message: message.to_string(),
    };
    render_with(status, &page)
}

/// Renders a page with 200.
pub fn render(page: &impl Template) -> HttpResponse {
    render_with(StatusCode::OK, page)
}

/// Renders a page with the given status (422 for a form with errors).
pub fn render_with(status: StatusCode, page: &impl Template) -> HttpResponse {
    match page.render() {
        Ok(html) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(html),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            HttpResponse::InternalServerError()
                .content_type("text/plain")
                .body("Something went wrong on our side.")
        }
    }
}

/// A 303 redirect, as after a successful form.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header(("Location", location)).finish()
}

/// A time in the team's time zone: `25 Nov 2026, 14:05`.
pub fn local_time(at: NaiveDateTime, tz: Tz) -> String {
    at.and_utc().with_timezone(&tz).format("%-d %b %Y, %H:%M").to_string()
}

/// A time as people say it: `just now`, `5 minutes ago`, `3 days ago`.
pub fn relative_time(at: NaiveDateTime) -> String {
    let secs = (Utc::now().naive_utc() - at).num_seconds();
    let (n, unit) = match secs {
        s if s < 60 => return "just now".into(),
        s if s < 3600 => (s / 60, "minute"),
        s if s < 86_400 => (s / 3600, "hour"),
        s if s < 30 * 86_400 => (s / 86_400, "day"),
        s if s < 365 * 86_400 => (s / (30 * 86_400), "month"),
        s => (s / (365 * 86_400), "year"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_naturally() {
        let now = Utc::now().naive_utc();
        assert_eq!(relative_time(now), "just now");
        assert_eq!(relative_time(now - chrono::Duration::minutes(1)), "1 minute ago");
        assert_eq!(relative_time(now - chrono::Duration::days(3)), "3 days ago");
        let at = chrono::NaiveDate::from_ymd_opt(2026, 11, 25)
            .unwrap()
            .and_hms_opt(2, 5, 0)
            .unwrap();
        assert_eq!(local_time(at, chrono_tz::Asia::Kuala_Lumpur), "25 Nov 2026, 10:05");
    }
}
