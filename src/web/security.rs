//! What every response and every state-changing request go through before
//! a handler sees them (issue 11): the security headers, and the Origin
//! check that stands beside the CSRF token.
//!
//! The CSRF token (`auth::CsrfForm`) already refuses a forged form; the
//! Origin check refuses it a second way, from what the browser itself says
//! of where the request came from, so one mistake in a handler cannot open
//! the door alone.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::{DefaultHeaders, Next};
use actix_web::{web, Error, HttpResponse};

use super::AppState;
use crate::error::AppError;

/// No inline script or style anywhere: every script and stylesheet is a
/// file under `/static`, so the policy can be strict. `data:` images are the
/// browser's own (form controls); `form-action 'self'` keeps an injected form
/// from posting elsewhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// The headers every response carries.
pub fn headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "same-origin"))
}

/// Whether a request may change something (and so must come from our own
/// pages).
fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// `scheme://host[:port]` of a URL, lower-cased; `None` when it has none
/// (`null`, a relative reference, garbage).
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    if scheme.is_empty() || host.is_empty() {
        return None;
    }
    Some(format!("{scheme}://{host}").to_ascii_lowercase())
}

/// The origin our own pages are served from: `PUBLIC_URL` when set (behind
/// a proxy the request's Host may be the proxy's), otherwise the request's
/// own scheme and Host.
fn own_origin(req: &ServiceRequest, public_url: Option<&str>) -> Option<String> {
    match public_url {
        Some(url) => origin_of(url),
        None => {
            let info = req.connection_info();
            Some(format!("{}://{}", info.scheme(), info.host()).to_ascii_lowercase())
        }
    }
}

/// Why a state-changing request is refused, or `None` when it may go on.
///
/// - The JSON API is exempt: it authenticates by bearer token, which a
///   browser never attaches on its own, so another site cannot forge it.
/// - `Origin`, which browsers send on every POST, must be ours; `null`
///   (a sandboxed frame, a privacy redirect) is refused.
/// - Without `Origin`, a `Referer` must be ours when there is one.
/// - With neither (curl, an old client, a privacy proxy that strips both)
///   the request goes on and the CSRF token alone decides.
fn refusal(req: &ServiceRequest, public_url: Option<&str>) -> Option<String> {
    if !changes_state(req.method()) || req.path().starts_with("/api/") {
        return None;
    }
    let sent = |name: header::HeaderName| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (claimed, what) = match (sent(header::ORIGIN), sent(header::REFERER)) {
        (Some(origin), _) => (origin, "Origin"),
        (None, Some(referer)) => (referer, "Referer"),
        (None, None) => return None,
    };
    let ours = own_origin(req, public_url);
    match origin_of(&claimed) {
        Some(theirs) if Some(&theirs) == ours.as_ref() => None,
        _ => Some(format!(
            "This request came from another site ({what}: {}) and was refused. Submit the form from leadbook's own page.",
            claimed.chars().take(100).collect::<String>()
        )),
    }
}

/// The Origin check, as middleware over every route.
pub async fn check_origin(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let public_url = req
        .app_data::<web::Data<AppState>>()
        .and_then(|s| s.settings.public_url.as_deref());
    if let Some(why) = refusal(&req, public_url) {
        tracing::warn!(path = req.path(), "{why}");
        let response: HttpResponse = actix_web::ResponseError::error_response(&AppError::Forbidden(why));
        return Ok(req.into_response(response).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn check(method: Method, path: &str, headers: &[(&str, &str)], public_url: Option<&str>) -> Option<String> {
        let mut req = TestRequest::default()
            .method(method)
            .uri(path)
            .insert_header((header::HOST, "crm.example.com:8080"));
        for (name, value) in headers {
            req = req.insert_header((*name, *value));
        }
        refusal(&req.to_srv_request(), public_url)
    }

    #[test]
    fn origins_are_scheme_and_host() {
        assert_eq!(
            origin_of("https://Crm.Example.com/contacts?x=1").as_deref(),
            Some("https://crm.example.com")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:8080").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(origin_of("null"), None);
        assert_eq!(origin_of("/contacts"), None);
        assert_eq!(origin_of("://x"), None);
    }

    #[test]
    fn our_own_origin_passes_and_another_is_refused() {
        let ours = [("Origin", "http://crm.example.com:8080")];
        assert_eq!(check(Method::POST, "/contacts", &ours, None), None);
        let theirs = [("Origin", "https://evil.example")];
        let why = check(Method::POST, "/contacts", &theirs, None).expect("refused");
        assert!(why.contains("evil.example"), "{why}");
        // Another port is another origin.
        assert!(check(
            Method::POST,
            "/contacts",
            &[("Origin", "http://crm.example.com:9090")],
            None
        )
        .is_some());
        assert!(check(Method::POST, "/contacts", &[("Origin", "null")], None).is_some());
    }

    #[test]
    fn the_referer_stands_in_for_a_missing_origin() {
        let ours = [("Referer", "http://crm.example.com:8080/contacts/7")];
        assert_eq!(check(Method::POST, "/contacts/7", &ours, None), None);
        let theirs = [("Referer", "http://evil.example/page")];
        assert!(check(Method::POST, "/contacts/7", &theirs, None).is_some());
        // Neither header: the CSRF token alone decides.
        assert_eq!(check(Method::POST, "/contacts", &[], None), None);
    }

    #[test]
    fn reads_and_the_api_are_not_checked() {
        let theirs = [("Origin", "https://evil.example")];
        assert_eq!(check(Method::GET, "/contacts", &theirs, None), None);
        assert_eq!(check(Method::POST, "/api/v1/contacts", &theirs, None), None);
        assert!(check(Method::DELETE, "/contacts/1", &theirs, None).is_some());
    }

    #[test]
    fn behind_a_proxy_the_public_url_is_ours() {
        let public = Some("https://crm.example.com");
        let proxied = [("Origin", "https://crm.example.com")];
        assert_eq!(check(Method::POST, "/contacts", &proxied, public), None);
        let direct = [("Origin", "http://crm.example.com:8080")];
        assert!(check(Method::POST, "/contacts", &direct, public).is_some());
    }
}
